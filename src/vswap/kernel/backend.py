"""The Machine's swap backend on the real kernel: zram, a swapfile, or zswap in front of a swapfile.

Each ``setup_*`` changes the machine through the run's :class:`Journal`
only, so that everything is put back: a zram device this run initialised
is swapped off and reset (and hot-removed if the run hot-added it), with
its ``comp_algorithm`` restored; a swapfile is swapped off and deleted;
zswap's parameters are written back. A device the run did not set up is
never swapped off or reset.
"""

from __future__ import annotations

import glob
import os
import shutil

from vswap.errors import KernelError
from vswap.kernel import system
from vswap.kernel.sysfs import Journal, read, read_choice, run_tool, undo_kind, write

__all__ = ["free_zram", "setup_zram", "setup_swapfile", "setup_zswap", "swapon", "need_tools",
           "ZRAM_DATA_BYTES"]

_TOOLS = ("mkswap", "swapon", "swapoff")

#: zram's memory per stored DATA page (the executor's and usemem's ascending
#: words), bytes, per compressor: ``mem_used_total / (orig_data_size / 4096)``
#: of zram's ``mm_stat`` with 64 MiB written into a 32 MiB cgroup (about
#: 11,470 pages stored), Linux 6.18 here; ``compr_data_size`` per page was
#: 1,553 (lzo-rle) and 1,954 (lz4), zsmalloc's classes make up the rest. A
#: global run's compressed pages take the machine's RAM, so the model beside
#: it is given the figure of the compressor the run used.
ZRAM_DATA_BYTES = {"lzo-rle": 1767, "lz4": 2241}


def need_tools() -> None:
    """KernelError unless mkswap, swapon and swapoff are on PATH. Runtime complexity: O(1).

    >>> need_tools() is None or True
    True
    """
    missing = [t for t in _TOOLS if shutil.which(t) is None]
    if missing:
        raise KernelError(f"{', '.join(missing)} not found on PATH (util-linux)")


def swapon(journal: Journal, device: str) -> None:
    """mkswap and swapon ``device``; its swapoff is journalled first. Runtime complexity: O(1).
    """
    run_tool("mkswap", "-q", device)
    entry = journal.intend("swapoff", f"swapoff {device}", device=device)
    try:
        run_tool("swapon", device)
    except KernelError:
        journal.cancel(entry)
        raise
    journal.made()


@undo_kind("swapoff")
def _undo_swapon(entry: dict) -> None:
    # only a device this run swapped on is in a journal; gone already: nothing to do
    if entry["device"] in system.swaps_on():
        run_tool("swapoff", entry["device"])


@undo_kind("zram-reset")
def _undo_zram_init(entry: dict) -> None:
    dev = entry["dev"]
    if os.path.exists(dev) and read(os.path.join(dev, "disksize")) != "0":
        write(os.path.join(dev, "reset"), "1")


@undo_kind("zram-hot-remove")
def _undo_hot_add(entry: dict) -> None:
    # The device number is learnt from hot_add itself; a run killed in between left only the
    # devices there were before: remove a new one that nobody initialised.
    nums = [entry["num"]] if entry.get("num") is not None else [
        os.path.basename(d)[len("zram"):] for d in glob.glob("/sys/block/zram*")
        if os.path.basename(d) not in entry["before"]]
    for num in nums:
        dev = f"/sys/block/zram{num}"
        if os.path.exists(dev) and (entry.get("num") is not None
                                    or read(os.path.join(dev, "disksize")) == "0"):
            write(os.path.join(system.ZRAM_CONTROL, "hot_remove"), str(num))


@undo_kind("unlink")
def _undo_create(entry: dict) -> None:
    try:
        os.unlink(entry["path"])
    except FileNotFoundError:
        pass


def free_zram() -> str | None:
    """A zram device this run may use: initialised by no one and not swap (``/sys/block/zramN``), or None.

    Runtime complexity: O(devices).

    >>> free_zram() is None or free_zram().startswith("/sys/block/zram")
    True
    """
    on = set(system.swaps_on())
    for dev in sorted(glob.glob("/sys/block/zram*")):
        try:
            if read(os.path.join(dev, "disksize")) == "0" and \
                    f"/dev/{os.path.basename(dev)}" not in on:
                return dev
        except OSError:
            continue
    return None


def zram_available() -> bool:
    """Whether a zram device can be had: a free one, or zram-control's hot_add. Runtime complexity: O(devices).

    >>> isinstance(zram_available(), bool)
    True
    """
    return free_zram() is not None or os.path.exists(os.path.join(system.ZRAM_CONTROL, "hot_add"))


def setup_zram(journal: Journal, disksize: int, algorithm: str | None) -> str:
    """Initialise a free zram device of ``disksize`` bytes and swap on it; its /dev path.

    Runtime complexity: O(1).
    """
    dev = free_zram()
    if dev is None:
        hot_add = os.path.join(system.ZRAM_CONTROL, "hot_add")
        before = sorted(os.path.basename(d) for d in glob.glob("/sys/block/zram*"))
        entry = journal.intend("zram-hot-remove", "hot_remove a zram device", before=before,
                               num=None)
        try:
            num = read(hot_add)
        except OSError as exc:
            journal.cancel(entry)
            raise KernelError(f"no free zram device and no hot_add: {exc.strerror}") from None
        journal.update(entry, num=num, what=f"hot_remove zram{num}")
        journal.made()
        dev = f"/sys/block/zram{num}"
    name = os.path.basename(dev)
    if algorithm is not None:
        algos = read(os.path.join(dev, "comp_algorithm")).replace("[", "").replace("]", "").split()
        if algorithm not in algos:
            raise KernelError(f"zram has no algorithm {algorithm!r}; it has {', '.join(algos)}")
        journal.write(os.path.join(dev, "comp_algorithm"), algorithm, choice=True)
    journal.intend("zram-reset", f"reset {name}", dev=dev)
    write(os.path.join(dev, "disksize"), str(disksize))
    journal.made()
    swapon(journal, f"/dev/{name}")
    return f"/dev/{name}"


def setup_swapfile(journal: Journal, size: int, directory: str) -> str:
    """Create a swapfile of ``size`` bytes in ``directory`` and swap on it; its path.

    The file is new (never an existing one), preallocated, mode 0600, and
    deleted afterwards. Runtime complexity: O(size) for the allocation.
    """
    path = os.path.join(directory, f"vswap-{os.getpid()}.swap")
    entry = journal.intend("unlink", f"delete {path}", path=path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        journal.cancel(entry)       # not ours: never delete a file this run did not make
        raise KernelError(f"cannot create the swapfile {path}: {exc.strerror}") from None
    journal.made()
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        raise KernelError(f"cannot allocate {size} bytes for {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    swapon(journal, path)
    return path


def setup_zswap(journal: Journal, *, compressor: str | None, max_pool_percent: int | None,
                accept_threshold_percent: int | None, shrinker_enabled: bool | None) -> None:
    """Turn zswap on with the given parameters (None: leave one as it is). Runtime complexity: O(1).
    """
    p = system.ZSWAP
    for name, value in (("compressor", compressor), ("max_pool_percent", max_pool_percent),
                        ("accept_threshold_percent", accept_threshold_percent),
                        ("shrinker_enabled", None if shrinker_enabled is None
                         else "Y" if shrinker_enabled else "N")):
        if value is not None:
            try:
                journal.write(os.path.join(p, name), str(value))
            except OSError as exc:
                raise KernelError(f"zswap refused {name}={value}: {exc.strerror}") from None
    journal.write(os.path.join(p, "enabled"), "Y")


def thp_enabled_file(name: str) -> str:
    """The ``enabled`` file of a THP size directory. Runtime complexity: O(1).

    >>> thp_enabled_file("hugepages-64kB")
    '/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled'
    """
    return os.path.join(system.THP, name, "enabled")


def setup_thp(journal: Journal, orders: set[int]) -> dict[int, str]:
    """Enable exactly the folio sizes of ``orders`` (as ``madvise``; the executor advises their ranges).

    Every other size is set to ``never``, so a range the trace gives order 0
    gets base pages. Returns ``{order: size name}`` enabled. Runtime
    complexity: O(sizes).
    """
    sizes = system.mthp_sizes()
    missing = sorted(o for o in orders if o not in sizes)
    if missing:
        raise KernelError(f"this kernel has no THP size for folio order(s) "
                          f"{', '.join(map(str, missing))}")
    for order, name in sizes.items():
        journal.write(thp_enabled_file(name), "madvise" if order in orders else "never",
                      choice=True)
    return {o: sizes[o] for o in sorted(orders)}


def current_thp() -> dict[str, str]:
    """Every THP size's ``enabled`` choice now. Runtime complexity: O(sizes).

    >>> all(v in ("always", "inherit", "madvise", "never") for v in current_thp().values())
    True
    """
    return {name: read_choice(thp_enabled_file(name)) for name in system.mthp_sizes().values()}
