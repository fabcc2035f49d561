"""What the machine is and has: kernel, CPU, memory, swap, zram, zswap, THP and memory cgroups.

Read-only: nothing here changes the machine. The harness describes the
machine in every result file with :func:`describe`, and checks what a run
needs against these facts before it changes anything.

>>> facts = describe()
>>> facts["page_size"]
4096
"""

from __future__ import annotations

import contextlib
import os
import platform

from vswap.kernel.sysfs import read, read_choice

__all__ = ["describe", "meminfo", "free_memory", "tracefs_mounts", "lowmem_protected", "kswapd_pid", "kswapd_cpu_ns", "swaps_on", "is_root", "THP", "ZSWAP", "ZRAM_CONTROL",
           "mthp_sizes", "zswap_params", "PAGE_CLUSTER", "NR_HUGEPAGES", "knobs"]

#: Where THP and the mTHP sizes are set.
THP = "/sys/kernel/mm/transparent_hugepage"
#: zswap's module parameters.
ZSWAP = "/sys/module/zswap/parameters"
#: zram's hot_add / hot_remove.
ZRAM_CONTROL = "/sys/class/zram-control"
#: ``vm.page-cluster``: the swap read-ahead window is 2**page-cluster pages.
PAGE_CLUSTER = "/proc/sys/vm/page-cluster"
#: ``vm.nr_hugepages``: the hugetlb reservation (a global run shrinks the machine with it).
NR_HUGEPAGES = "/proc/sys/vm/nr_hugepages"


def is_root() -> bool:
    """Whether this process runs as root (the harness needs it). Runtime complexity: O(1).

    >>> isinstance(is_root(), bool)
    True
    """
    return os.geteuid() == 0


def meminfo() -> dict[str, int]:
    """/proc/meminfo in bytes (``MemTotal``, ``MemAvailable``, ...). Runtime complexity: O(file).

    >>> meminfo()["MemTotal"] > 0
    True
    """
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            name, _, rest = line.partition(":")
            parts = rest.split()
            if parts:
                out[name] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return out


def free_memory() -> dict[str, int]:
    """The memory a workload starting now has, in bytes: what a global run's model is given.

    ``mem_free`` (MemFree: the watermarks' reserve included, as in the
    model's RAM), ``file_lru`` (Active(file) + Inactive(file): the page
    cache reclaim can take from), ``protected`` (:func:`lowmem_protected`:
    free, but not for the workload), ``mem_available`` (the kernel's
    estimate, which the reservation aims at), ``min_free_kbytes`` (as it is
    now: the kernel recomputes it from the memory left outside a hugetlb
    reservation, 19,825 here with the machine shrunk to 1 GiB against
    67,584 before). Runtime complexity: O(file).

    >>> m = free_memory(); m["mem_free"] > 0 and m["mem_available"] > 0
    True
    """
    mi = meminfo()
    return {"mem_free": mi.get("MemFree", 0), "mem_available": mi.get("MemAvailable", 0),
            "file_lru": mi.get("Active(file)", 0) + mi.get("Inactive(file)", 0),
            "protected": lowmem_protected(), "min_free_kbytes": _sysctl_int("min_free_kbytes"),
            "pcp": pcp_free()}


def pcp_free(path: str = "/proc/zoneinfo") -> int:
    """Free bytes held on the per-CPU page lists (each pageset's ``count``), which MemFree leaves out.

    A process's exit frees its pages to its CPU's list, and since pcp->high
    is tuned up to ``high_max`` (337,141 pages, 1.3 GiB, on this machine's
    Normal zone) they can stay there for tens of seconds, decaying an eighth
    a second: neither MemFree nor MemAvailable counts them, a hugetlb
    reservation cannot take them, and the next workload allocates them
    first. A global run's reservation counts them as available, which makes
    the kernel drain them (``drain_all_pages`` when an allocation fails
    after reclaim) into the reservation. 0 without the file. Runtime
    complexity: O(file).

    >>> pcp_free() >= 0
    True
    """
    try:
        pages = sum(int(words[1]) for words in _zoneinfo(path) if words[:1] == ["count:"])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def _zoneinfo(path: str) -> list[list[str]]:
    """/proc/zoneinfo's lines as word lists (the file is read whole, then closed)."""
    with open(path) as f:
        return [line.split() for line in f]


def _sysctl_int(name: str) -> int | None:
    try:
        return int(read(f"/proc/sys/vm/{name}"))
    except (OSError, ValueError):
        return None


def lowmem_protected(path: str = "/proc/zoneinfo") -> int:
    """Free bytes a user allocation cannot take: each lower zone's free pages up to its ``lowmem_reserve``.

    A user page (``GFP_HIGHUSER_MOVABLE``) comes from the highest zone and
    falls back to a lower one (DMA32, DMA) only while that zone keeps its
    ``protection`` (``lowmem_reserve``) against the higher zone free: per
    zone, ``min(free, the largest protection)``. On this machine shrunk by a
    hugetlb reservation that is DMA's 15 MiB and 82 MiB of DMA32's. 0
    without the file. Runtime complexity: O(file).

    >>> lowmem_protected() >= 0
    True
    """
    total, free, prot = 0, 0, 0
    try:
        for words in _zoneinfo(path):
            if words[:1] == ["Node"]:
                total += min(free, prot)
                free, prot = 0, 0
            elif words[:2] == ["pages", "free"]:
                free = int(words[2])
            elif words[:1] == ["protection:"]:
                prot = max(int(w.strip("(),")) for w in words[1:])
    except (OSError, ValueError, IndexError):
        return 0
    return (total + min(free, prot)) * os.sysconf("SC_PAGE_SIZE")


def kswapd_pid() -> int | None:
    """kswapd0's pid, or None when there is none. Runtime complexity: O(processes).

    >>> p = kswapd_pid(); p is None or p > 0
    True
    """
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "kswapd0":
                    return int(pid)
        except OSError:
            continue
    return None


def kswapd_cpu_ns() -> int:
    """kswapd0's CPU time so far (utime + stime of /proc/PID/stat), ns; 0 when not found.

    Its own CPU, not the workload's: a global run records it per repeat.
    Runtime complexity: O(processes).

    >>> kswapd_cpu_ns() >= 0
    True
    """
    pid = kswapd_pid()
    if pid is None:
        return 0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)
        ticks = sum(int(x) for x in fields[1].split()[11:13])
    except (OSError, ValueError, IndexError):
        return 0
    return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def swaps_on() -> list[str]:
    """The swap areas that are on (/proc/swaps' first column). Runtime complexity: O(areas).

    >>> isinstance(swaps_on(), list)
    True
    """
    with open("/proc/swaps") as f:
        return [line.split()[0] for line in f.readlines()[1:] if line.strip()]


def mthp_sizes() -> dict[int, str]:
    """The anonymous folio orders this kernel can enable per size: ``{order: "hugepages-64kB"}``.

    A size directory counts when it has an ``enabled`` file (8kB, order 1,
    is shmem-only). Empty on a kernel without mTHP (before 6.8) or without
    THP. Runtime complexity: O(sizes).

    >>> all(name.startswith("hugepages-") for name in mthp_sizes().values())
    True
    """
    out = {}
    try:
        names = os.listdir(THP)
    except OSError:
        return out
    for name in names:
        if name.startswith("hugepages-") and name.endswith("kB"):
            kb = int(name[len("hugepages-"):-2])
            order = (kb // 4).bit_length() - 1
            if 4 << order == kb and os.path.exists(os.path.join(THP, name, "enabled")):
                out[order] = name
    return dict(sorted(out.items()))


def zswap_params() -> dict[str, str]:
    """zswap's parameters as they are now (empty without zswap). Runtime complexity: O(params).

    >>> isinstance(zswap_params(), dict)
    True
    """
    out = {}
    try:
        names = sorted(os.listdir(ZSWAP))
    except OSError:
        return out
    for name in names:
        try:
            out[name] = read(os.path.join(ZSWAP, name))
        except OSError:
            pass
    return out


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> dict:
    """The machine for a result file: kernel, CPU, RAM, THP, page-cluster, swappiness, the watermark knobs, zswap.

    Runtime complexity: O(sysfs files read).

    >>> sorted(describe())[:3]
    ['cpu', 'kernel', 'kernel_version']
    """
    mi = meminfo()
    facts = {
        "kernel": platform.release(), "kernel_version": platform.version(),
        "machine": platform.machine(), "cpu": _cpu_model(), "nr_cpus": os.cpu_count(),
        "mem_total": mi.get("MemTotal", 0), "mem_available": mi.get("MemAvailable", 0),
        "page_size": os.sysconf("SC_PAGE_SIZE"),
    }
    for key, path in (("page_cluster", PAGE_CLUSTER), ("swappiness", "/proc/sys/vm/swappiness"),
                      ("min_free_kbytes", "/proc/sys/vm/min_free_kbytes"),
                      ("watermark_scale_factor", "/proc/sys/vm/watermark_scale_factor")):
        try:
            facts[key] = int(read(path))
        except (OSError, ValueError):
            facts[key] = None
    try:
        facts["thp_enabled"] = read_choice(os.path.join(THP, "enabled"))
    except OSError:
        facts["thp_enabled"] = None
    facts["zswap"] = zswap_params()
    return facts


def tracefs_mounts() -> list[str]:
    """Where tracefs is mounted (/proc/mounts), sorted; empty when nowhere.

    Runtime complexity: O(mounts).

    >>> all(os.path.isdir(m) for m in tracefs_mounts())
    True
    """
    with contextlib.suppress(OSError), open("/proc/mounts") as f:
        return sorted(w[1] for w in (line.split() for line in f) if len(w) > 2
                      and w[2] == "tracefs")
    return []


def knobs() -> dict[str, object]:
    """Every setting ``vswap kernel`` may change, as it is now: the check that a run put all back.

    Swap areas on, each zram device's ``disksize`` and ``comp_algorithm``,
    zswap's parameters, THP's ``enabled`` (global and per size),
    ``vm.page-cluster``, ``vm.nr_hugepages``, the swapfiles a run makes in
    /var/tmp (``vswap-*.swap``), tracefs's mounts and the trace instances
    of a stall trace (``instances/vswap-*``), and the memory cgroups (v1
    and v2) with their subtree controllers. Runtime complexity: O(sysfs
    files).

    >>> k = knobs(); k == knobs()
    True
    """
    import glob

    from vswap.kernel import cgroup

    out: dict[str, object] = {"swaps": swaps_on(), "zswap": zswap_params()}
    for dev in sorted(glob.glob("/sys/block/zram*")):
        for name in ("disksize", "comp_algorithm"):
            try:
                out[f"{dev}/{name}"] = read(os.path.join(dev, name))
            except OSError:
                pass
    for path in [os.path.join(THP, "enabled")] + [os.path.join(THP, n, "enabled")
                                                   for n in mthp_sizes().values()]:
        try:
            out[path] = read(path)
        except OSError:
            pass
    for path in (PAGE_CLUSTER, NR_HUGEPAGES):
        try:
            out[path] = read(path)
        except OSError:
            pass
    out["swapfiles"] = sorted(glob.glob("/var/tmp/vswap-*.swap"))
    # tracefs: where it is mounted, and the trace instances a stall trace makes there
    mounts = tracefs_mounts()
    out["tracefs"] = mounts
    out["trace instances"] = sorted(i for m in mounts
                                    for i in glob.glob(os.path.join(m, "instances", "vswap-*")))
    for version in ("v1", "v2"):
        where = cgroup.find(version)
        if where is not None:
            root = where[1]
            out[f"cgroups {root}"] = sorted(e.name for e in os.scandir(root) if e.is_dir())
            ctl = os.path.join(root, "cgroup.subtree_control")
            if os.path.exists(ctl):
                out[ctl] = read(ctl)
    return out
