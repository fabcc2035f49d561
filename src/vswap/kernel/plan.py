"""From a trace and a Machine to the kernel's settings, checked before anything is changed.

:func:`make_plan` maps each :class:`vswap.replay.Machine` field to the knob
that realises it on a real kernel (``ram`` -> the memory cgroup's limit,
``swap`` -> the device's size, ``backend`` -> zram / swapfile / zswap,
``readahead`` -> ``vm.page-cluster``, the trace's folio orders -> the THP
sizes) and refuses, with :class:`vswap.errors.KernelError`, what the kernel
cannot honour or this machine cannot afford: not root, swap already on
(unless ``use_existing_swap``), no zram, no room for the swapfile, no memory
cgroup, a RAM limit above the available memory, a workload whose zram
footprint could exhaust free memory, a Machine option the kernel has no
knob for.

>>> from vswap.replay import Machine
>>> from vswap.workloads import usemem
>>> p = make_plan(usemem("4M"), Machine(ram="2M", reclaim_batch=8), check_machine=False)
Traceback (most recent call last):
...
vswap.errors.KernelError: reclaim_batch=8: the kernel reclaims SWAP_CLUSTER_MAX (32) pages per pass; leave it at 32
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from typing import Any

import numpy as np

from vswap.errors import KernelError
from vswap.kernel import backend, cgroup, system
from vswap.kernel.system import NR_HUGEPAGES
from vswap.replay import Machine
from vswap.workload_registry import workload_records
from vswap.workloads import PAGE_SIZE, TOUCH, Trace

__all__ = ["KernelPlan", "make_plan", "command_plan", "DEFAULT_SIZES", "MEMORY_MARGIN",
           "FREE_MODES", "GLOBAL_MIN_RAM", "NR_HUGEPAGES", "COMMAND_SWAP_FACTOR"]

#: Default workload sizes of ``vswap kernel run``: small enough for a laptop
#: (the report's 56G and 48G are for ``vswap compare``, which only models).
DEFAULT_SIZES = {n: r.kernel_size for n, r in workload_records().items()}
#: Memory left free for everything else while a run holds RAM and zram.
MEMORY_MARGIN = 512 << 20
#: How a FREE event zaps its range.
FREE_MODES = ("munmap", "dontneed")
_SWAP_CLUSTER_MAX = 32
#: ``--global`` shrinks the machine to no less than this: what the system itself needs to go on.
GLOBAL_MIN_RAM = 192 << 20
#: A command's swap device, unless ``swap`` is given: this many times its RAM.
COMMAND_SWAP_FACTOR = 4


@dataclasses.dataclass(frozen=True)
class KernelPlan:
    """Everything one ``vswap kernel run`` will set, as plain values (also written to the result file).

    Runtime complexity: O(1).
    """

    backend: str
    ram: int                       # the cgroup's limit, bytes
    swap_size: int                 # the device's size, bytes
    orders: tuple[int, ...]        # large folio orders the trace touches
    page_cluster: int | None       # vm.page-cluster to set (None: leave it)
    use_existing_swap: bool
    swapfile_dir: str
    zram_algorithm: str | None
    zswap: dict[str, Any]
    cgroup: str | None             # "v1", "v2" or None (auto)
    free: str
    tasks: int
    pages_touched: int
    scope: str = "cgroup"          # "cgroup" (a memory cgroup of ram) or "global" (the machine)
    keep_cache: bool = False       # global: leave the page cache as it is before each repeat
    command: tuple[str, ...] = ()  # a command of the user's instead of a trace

    def to_dict(self) -> dict[str, Any]:
        """Plain values. Runtime complexity: O(1).

        >>> KernelPlan("zram", 1, 2, (), None, False, "/tmp", None, {}, None, "munmap", 1, 1).to_dict()["backend"]
        'zram'
        """
        return dataclasses.asdict(self)


def _readahead_to_page_cluster(machine: Machine) -> int | None:
    pc = getattr(machine, "page_cluster", None)
    if pc is not None:
        return int(pc)
    if machine.readahead is None:
        return 3          # the kernel's default, set so every run has the same window
    k = machine.readahead
    if k & (k - 1):
        raise KernelError(f"readahead={k}: the kernel's window is 2**page-cluster pages; "
                          "give a power of two")
    return k.bit_length() - 1


def _check_machine_fields(machine: Machine) -> None:
    if machine.reclaim_batch != _SWAP_CLUSTER_MAX:
        raise KernelError(f"reclaim_batch={machine.reclaim_batch}: the kernel reclaims "
                          f"SWAP_CLUSTER_MAX ({_SWAP_CLUSTER_MAX}) pages per pass; leave it at 32")
    if machine.watermark_pages:
        raise KernelError("watermark: the kernel's watermarks come from min_free_kbytes and "
                          "watermark_scale_factor; the harness sets neither")
    if not machine.zero_detection:
        raise KernelError("zero_detection=False: since Linux 6.12 the kernel always keeps zero "
                          "pages in the zeromap")
    if machine.zswap_pool is not None:
        raise KernelError("zswap_pool: the kernel's zswap pool is max_pool_percent of RAM; "
                          "give zswap_max_pool_percent instead")
    if machine.total_ram is not None:
        raise KernelError("total_ram: the kernel's is the machine's own (MemTotal); the model "
                          "beside it (--model) is given that")


def make_plan(trace: Trace, machine: Machine, *, use_existing_swap: bool = False,
              swapfile_dir: str = "/var/tmp", zram_algorithm: str | None = None,
              zswap_compressor: str | None = None, zswap_shrinker: bool | None = None,
              cgroup_version: str | None = None, free: str = "munmap",
              keep_cache: bool = False, check_machine: bool = True) -> KernelPlan:
    """The plan for ``trace`` on ``machine``; KernelError for what cannot or must not run.

    ``machine.accounting == "none"`` is a run on the whole machine
    (``--global``): its RAM shrunk to ``ram`` by a hugetlb reservation, the
    workload in a cgroup without a limit (only to kill it and count its
    faults), the page cache dropped before each repeat unless
    ``keep_cache``, and the swap device (unless ``machine.swap`` is given)
    ``ram`` larger than the trace's span: the whole machine's pages are
    swapped to it. ``check_machine=False`` checks the request only, not this machine (for
    planning elsewhere). Runtime complexity: O(trace events).
    """
    from vswap._executor import split_tasks

    if not isinstance(trace, Trace):
        raise TypeError(f"trace must be a vswap.workloads.Trace, not {type(trace).__name__}")
    if not isinstance(machine, Machine):
        raise TypeError(f"machine must be a vswap.replay.Machine, not {type(machine).__name__}")
    if free not in FREE_MODES:
        raise ValueError(f"free must be one of {FREE_MODES}, not {free!r}")
    _check_machine_fields(machine)
    page_cluster = _readahead_to_page_cluster(machine)
    if machine.backend != "zswap" and any(v is not None for v in (
            zswap_compressor, zswap_shrinker)):
        raise KernelError(f"zswap options given with backend {machine.backend}; "
                          "use backend zswap")
    if machine.backend != "zram" and zram_algorithm is not None:
        raise KernelError(f"zram_algorithm given with backend {machine.backend}")
    try:
        # a trace with FORK .. DONTNEED runs as a tree of processes (vswap.process_tree)
        tasks = split_tasks(trace)
    except ValueError as exc:
        raise KernelError(f"the kernel executor cannot run this trace: {exc}") from None
    if not tasks:
        raise KernelError("the trace touches no page: nothing to run")
    touch = trace.op == TOUCH
    orders = tuple(sorted({int(o) for o in np.unique(trace.order[touch]) if o > 0}))
    plan = KernelPlan(
        backend=machine.backend, ram=machine.ram_pages * PAGE_SIZE,
        swap_size=machine.swap_pages_for(trace.nr_pages) * PAGE_SIZE, orders=orders,
        page_cluster=page_cluster, use_existing_swap=bool(use_existing_swap),
        swapfile_dir=str(swapfile_dir), zram_algorithm=zram_algorithm,
        zswap={"compressor": zswap_compressor,
               "max_pool_percent": machine.zswap_max_pool_percent,
               "accept_threshold_percent": machine.zswap_accept_threshold_percent,
               "shrinker_enabled": zswap_shrinker},
        cgroup=cgroup_version, free=free, tasks=len(tasks), pages_touched=trace.pages_touched,
        scope="global" if machine.accounting == "none" else "cgroup", keep_cache=bool(keep_cache))
    if plan.scope == "global" and machine.swap is None:
        # Machine-wide, reclaim swaps every process's pages to the device, not the workload's
        # alone: sized to the trace's span only, it filled here (a compiler's pages beside
        # usemem 2G on 1G) and the OOM killer ended the run. Room for all of the RAM too.
        plan = dataclasses.replace(plan, swap_size=plan.swap_size + plan.ram)
    if check_machine:
        check_system(plan)
    return plan


def command_plan(argv: list[str] | tuple[str, ...], machine: Machine, *,
                 use_existing_swap: bool = False, swapfile_dir: str = "/var/tmp",
                 zram_algorithm: str | None = None, zswap_compressor: str | None = None,
                 zswap_shrinker: bool | None = None, cgroup_version: str | None = None,
                 keep_cache: bool = False, orders: tuple[int, ...] = (),
                 check_machine: bool = True) -> KernelPlan:
    """The plan to run a command of the user's (``argv``) on ``machine``; KernelError as :func:`make_plan`.

    The command must be found (on PATH, or a path to an executable file).
    Its swap device is ``machine.swap``, or :data:`COMMAND_SWAP_FACTOR`
    times its RAM; ``orders`` are the mTHP folio orders to enable (as
    ``madvise``: a program that advises MADV_HUGEPAGE gets them). Runtime
    complexity: O(1).

    >>> command_plan(["no-such-command-here"], Machine(ram="8M"), check_machine=False)
    Traceback (most recent call last):
    ...
    vswap.errors.KernelError: command not found: no-such-command-here
    """
    if isinstance(argv, str) or not argv or not all(isinstance(a, str) for a in argv):
        raise TypeError("the command must be a non-empty list of strings")
    if not isinstance(machine, Machine):
        raise TypeError(f"machine must be a vswap.replay.Machine, not {type(machine).__name__}")
    exe = argv[0]
    found = shutil.which(exe) if os.sep not in exe else (
        exe if os.path.isfile(exe) and os.access(exe, os.X_OK) else None)
    if found is None:
        raise KernelError(f"command not found: {exe}")
    _check_machine_fields(machine)
    ram = machine.ram_pages * PAGE_SIZE
    swap = (machine.swap_pages_for(0) * PAGE_SIZE if machine.swap is not None
            else COMMAND_SWAP_FACTOR * ram)
    plan = KernelPlan(
        backend=machine.backend, ram=ram, swap_size=swap, orders=tuple(sorted(orders)),
        page_cluster=_readahead_to_page_cluster(machine),
        use_existing_swap=bool(use_existing_swap), swapfile_dir=str(swapfile_dir),
        zram_algorithm=zram_algorithm,
        zswap={"compressor": zswap_compressor,
               "max_pool_percent": machine.zswap_max_pool_percent,
               "accept_threshold_percent": machine.zswap_accept_threshold_percent,
               "shrinker_enabled": zswap_shrinker},
        cgroup=cgroup_version, free="munmap", tasks=1, pages_touched=0,
        scope="global" if machine.accounting == "none" else "cgroup",
        keep_cache=bool(keep_cache), command=tuple([found, *argv[1:]]))
    if check_machine:
        check_system(plan)
    return plan


def hugepage_size() -> int:
    """The default hugetlb page size in bytes (``Hugepagesize`` of /proc/meminfo; 2 MiB here).

    Runtime complexity: O(file).

    >>> hugepage_size() in (0, 2 << 20, 1 << 30, 512 << 20) or hugepage_size() > 0
    True
    """
    return system.meminfo().get("Hugepagesize", 0)


def global_reservation(ram: int) -> tuple[int, int]:
    """``(hugetlb pages to add, their size)`` that leave ``ram`` of the machine's available memory.

    Available is MemAvailable and the per-CPU lists' free pages
    (:func:`vswap.kernel.system.pcp_free`), which a workload takes first.
    Negative when less than ``ram`` is available (pages to give back).

    >>> n, size = global_reservation(1 << 50); n <= 0
    True

    Runtime complexity: O(file).
    """
    hps = hugepage_size()
    avail = system.meminfo().get("MemAvailable", 0) + system.pcp_free()
    return ((avail - ram) // hps if hps else 0), hps


def _check_global(plan: KernelPlan) -> None:
    if not os.path.exists(NR_HUGEPAGES) or not hugepage_size():
        raise KernelError("--global needs hugetlb pages (vm.nr_hugepages) to shrink the machine")
    if plan.ram < GLOBAL_MIN_RAM:
        raise KernelError(f"--global with ram {_gib(plan.ram)} would leave the system less than "
                          f"the {_gib(GLOBAL_MIN_RAM)} it needs to go on; give more ram")
    avail = system.meminfo().get("MemAvailable", 0)
    n, hps = global_reservation(plan.ram)
    if n < 1:
        raise KernelError(f"--global with ram {_gib(plan.ram)}: the machine has only "
                          f"{_gib(avail)} available, nothing to shrink")
    footprint = plan.pages_touched * PAGE_SIZE
    if footprint > plan.ram + plan.swap_size:
        raise KernelError(f"--global: the workload's {_gib(footprint)} exceeds ram "
                          f"{_gib(plan.ram)} plus swap {_gib(plan.swap_size)}; the OOM killer "
                          "would pick among the machine's processes")


def _gib(n: int) -> str:
    return f"{n / (1 << 30):.2f} GiB" if n >= 1 << 30 else f"{n / (1 << 20):.0f} MiB"


def check_system(plan: KernelPlan) -> None:
    """KernelError unless this machine can run ``plan`` safely; changes nothing. Runtime complexity: O(sysfs reads).
    """
    if not system.is_root():
        raise KernelError("vswap kernel needs root (swapon, zram, cgroups and THP settings)")
    if cgroup.find(plan.cgroup) is None:
        which = f"cgroup {plan.cgroup}" if plan.cgroup else "cgroup v2 or v1"
        raise KernelError(f"no memory controller on {which}: mount the memory cgroup")
    on = system.swaps_on()
    if plan.use_existing_swap:
        if not on:
            raise KernelError("use_existing_swap: no swap is on")
    else:
        if on:
            raise KernelError(f"swap is already on ({', '.join(on)}); swap it off first, or use "
                              "the existing swap as it is (--use-existing-swap)")
        backend.need_tools()
        if plan.backend == "zram" and not backend.zram_available():
            raise KernelError("no zram device (modprobe zram) and no zram-control to add one")
        if plan.backend in ("swapfile", "zswap"):
            if not os.path.isdir(plan.swapfile_dir):
                raise KernelError(f"swapfile directory {plan.swapfile_dir} does not exist")
            room = shutil.disk_usage(plan.swapfile_dir).free
            if plan.swap_size + MEMORY_MARGIN > room:
                raise KernelError(f"no room for a {_gib(plan.swap_size)} swapfile in "
                                  f"{plan.swapfile_dir} ({_gib(room)} free)")
        if plan.backend == "zswap" and not system.zswap_params():
            raise KernelError("this kernel has no zswap (/sys/module/zswap)")
    if plan.orders:
        sizes = system.mthp_sizes()
        missing = [o for o in plan.orders if o not in sizes]
        if missing:
            raise KernelError(f"this kernel has no THP size for folio order(s) "
                              f"{', '.join(map(str, missing))}")
    if plan.scope == "global":
        _check_global(plan)
        return
    avail = system.meminfo().get("MemAvailable", 0)
    if plan.ram + MEMORY_MARGIN > avail:
        raise KernelError(f"ram {_gib(plan.ram)} is more than this machine can spare "
                          f"({_gib(avail)} available, {_gib(MEMORY_MARGIN)} kept free)")
    footprint = plan.pages_touched * PAGE_SIZE
    if plan.backend == "zram" and not plan.use_existing_swap and \
            footprint + MEMORY_MARGIN > avail:
        raise KernelError(f"the workload's {_gib(footprint)} could fill zram with more than "
                          f"this machine's {_gib(avail)} available memory; make it smaller")
