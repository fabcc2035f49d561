"""The names both replay engines report and take: counters, backends, accounting.

One home, below the compiled replay (``_replay.pyx``) and its reference
twin (:mod:`vswap.reference.replay`), both of which import these (pure
data, no engine). ``mm_counters`` of ``_replay.pxd`` holds the kernel's and
the model's counters by these names; ``mm_t.mthp``'s columns are in
:data:`MTHP_STATS`'s order (the ``ST_*`` codes); :data:`BACKENDS` and
:data:`ACCOUNTING` are in the order of the ``BK_*`` and ``AC_*`` codes.

>>> from vswap.counters import BACKENDS, COUNTER_NAMES, KERNEL_COUNTERS
>>> BACKENDS, KERNEL_COUNTERS[:4], COUNTER_NAMES[-1]
(('zram', 'zswap', 'swapfile'), ('pgfault', 'pgmajfault', 'pswpin', 'pswpout'), 'hugepages-2048kB/zswpout')
"""

from typing import Any

__all__ = ["KERNEL_COUNTERS", "MODEL_COUNTERS", "MTHP_STATS", "mthp_counter", "COUNTER_NAMES",
           "BACKENDS", "ACCOUNTING", "phase_snapshot"]

#: Counters named and meant as the kernel's /proc/vmstat (and memory.stat) ones.
KERNEL_COUNTERS = (
    "pgfault", "pgmajfault", "pswpin", "pswpout", "swap_ra", "swap_ra_hit", "zswpin", "zswpout",
    "zswpwb", "thp_swpout", "thp_swpout_fallback", "pgsteal", "allocstall",
    "pgscan_kswapd", "pgscan_direct", "pgsteal_kswapd", "pgsteal_direct",
    "kswapd_low_wmark_hit_quickly", "kswapd_high_wmark_hit_quickly",
)
#: The model's own counters (no kernel counter has these names).
MODEL_COUNTERS = (
    "swapped_out", "reclaim_calls", "pages_touched", "pages_written", "zero_pages", "zram_same", "zram_comp",
    "zswap_rejected", "swapin_sync", "swapin_bypass", "swapin_zero", "swapin_zswap", "swapin_swapfile",
    "free_batches", "free_entries", "free_resident", "resident", "zswap_pool", "page_tables",
    "task_ns", "kswapd_ns", "stall_ns", "file_resident", "fork_pages", "cow_faults",
    "lock_wait_ns", "interference_ns", "stall_io_wait_ns", "kswapd_io_wait_ns",
)
#: The per-size mTHP stats (``/sys/kernel/mm/transparent_hugepage/hugepages-*/stats``).
MTHP_STATS = (
    "anon_fault_alloc", "anon_fault_fallback", "anon_fault_fallback_charge", "swpout",
    "swpout_fallback", "swpin", "swpin_fallback", "swpin_fallback_charge", "zswpout",
)


def mthp_counter(order: int, stat: str) -> str:
    """The counter name of an mTHP stat for folios of ``order``: its sysfs path. O(1).

    >>> mthp_counter(4, "swpout")
    'hugepages-64kB/swpout'
    """
    return f"hugepages-{4 << order}kB/{stat}"


#: Every counter a replay reports, in the order of its result.
COUNTER_NAMES = KERNEL_COUNTERS + MODEL_COUNTERS + tuple(
    mthp_counter(k, s) for k in range(1, 10) for s in MTHP_STATS)
#: Swap backends of a machine, by code (BK_ZRAM, BK_ZSWAP, BK_SWAPFILE).
BACKENDS = ("zram", "zswap", "swapfile")
#: Memory accounting: a cgroup v2 limit, a v1 limit, the whole machine (AC_V2, AC_V1, AC_NONE).
ACCOUNTING = ("v2", "v1", "none")


def phase_snapshot(space: Any, counters: Any) -> dict[str, dict[str, int]]:
    """The counters so far, as both engines take them at the first FREE (the write phase's).

    ``counters`` is the memory model's (a mapping); the design's ``stats``
    and its allocator's ``swap_stats`` are read from ``space``. What
    :mod:`vswap.clock` splits by phase. Runtime complexity: O(counters).

    >>> from vswap import reference
    >>> ds = reference.DirectSwap(reference.SwapDevices([reference.SwapDevice(64)]))
    >>> sorted(phase_snapshot(ds, {"pswpout": 3}))
    ['counters', 'stats', 'swap_stats']
    """
    swaps = getattr(space, "swaps", None)
    return {"counters": {k: int(v) for k, v in dict(counters).items()},
            "stats": dict(space.stats),
            "swap_stats": dict(swaps.stats) if swaps is not None else {}}
