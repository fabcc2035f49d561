"""Machine-wide reclaim: the zone watermarks, and the per-page costs kswapd and the task run at.

With ``Machine(kswapd=True)`` (the whole machine, ``accounting="none"``) the
replay (:mod:`vswap.replay`, both engines) runs two actors on their own CPUs
and clocks: the workload's task, whose every page allocation costs
:attr:`ReclaimCosts.alloc_ns`, and kswapd. The page allocator compares the
free pages with the zone watermarks (:func:`watermarks`): below ``low`` it
wakes kswapd, which reclaims in ``SWAP_CLUSTER_MAX`` chunks until the free
pages reach ``high``, then takes a short sleep (``HZ/10``): woken during it
counts ``kswapd_low_wmark_hit_quickly``, still below ``high`` after it
``kswapd_high_wmark_hit_quickly``. An allocation that would leave fewer
than ``min`` free pages reclaims directly (``allocstall``,
``pgscan_direct``, ``pgsteal_direct``) and the task stalls for that time
(``stall_ns``), while kswapd goes on reclaiming beside it. Every chunk, of
either reclaimer, takes from the file LRU (the page cache,
:attr:`Machine.file_cache`) and the anonymous one in the
proportion of ``swappiness`` (``get_scan_count`` without the refault
costs), and costs :attr:`ReclaimCosts.anon_ns` per anonymous page scanned
(a same-filled or zero one, which zram stores without compressing it, at
:attr:`ReclaimCosts.anon_same_ns`),
:attr:`ReclaimCosts.file_ns` per file page, plus the design's own work
during the chunk priced per counter (:attr:`ReclaimCosts.design_ns`, for
:class:`vswap.DirectSwap` and :class:`vswap.VirtualSwap`): a design with
more work per swap-out makes kswapd fall behind, and the task reclaim more
itself. While both reclaim, each also waits on the lines of the design's
that both take (:mod:`vswap.contention`, ``lock_wait_ns``). On a swapfile
a written folio stays in the swap cache under writeback for
:attr:`ReclaimCosts.write_ns` and is freed by a later scan, of either
reclaimer (a direct reclaimer's own writes complete during its stall), except
the share whose write completed while its batch was still isolated
(:attr:`ReclaimCosts.missed_rotation_permille`): those wait at the LRU's
head, in the swap cache, until the scans reach them. What reclaim wrote and
never needed to free is the write-ahead (``pswpout`` above ``pgsteal``). On a
swapfile the page's cost is paid where the kernel's trace puts it: most where
its write starts, by the reclaimer that writes it, and a little where the
written-back folio is freed (:data:`MEASURED_PAGEOUT_NS`); a zram page's where
it is freed, in the same pass. A swapfile's writers also sleep: on the bio
pool and the device's request tags, which below the min watermark only a
completed write refills. The model can sleep each reclaimer
:attr:`ReclaimCosts.kswapd_io_wait_ns` or :attr:`ReclaimCosts.direct_io_wait_ns`
per page it frees, as the kernel's D-state switches measured it
(:data:`MEASURED_IO_WAIT_NS`): kswapd asleep frees nothing, so more of the
reclaim falls to the task. The measured costs leave the sleeps out since the
write is priced where it starts (:func:`default_costs`).

Not modelled: watermark boosting (it follows external fragmentation, which
the model has no page allocator for), compaction and ``pgmigrate``,
per-zone balancing (one zone holds the machine's RAM), the active lists and
refaults, kswapd's priority loop (it reclaims chunk by chunk), when the
writers sleep (the model spreads the measured sleep over every page freed,
where the kernel's fall where free memory is below min).

The costs are this machine's, measured with ``vswap kernel run`` (Linux
6.18, 2 vCPUs, zram lzo-rle, a usemem writer): see :data:`DEFAULT_COSTS`.
The kernel clock (a per-event cost profile) replaces them when present.

>>> wm = watermarks(24 << 30, 67_584, 10)
>>> wm.min, wm.low, wm.high
(16896, 23187, 29478)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

from vswap.contention import TRANSFER_NS

__all__ = ["Watermarks", "watermarks", "default_min_free_kbytes", "ReclaimCosts",
           "DEFAULT_COSTS", "default_costs", "MEASURED_RECLAIM_NS", "MEASURED_ALLOC_NS",
           "MEASURED_UNMAP_NS", "DEFAULT_DESIGN_NS", "design_prices", "SWAP_WRITE_NS",
           "KSWAPD_NAP_NS", "KSWAPD_ANON_NS", "MEASURED_IO_WAIT_NS", "MEASURED_SCAN_NS",
           "COST_GROUPS", "scale_costs", "MEASURED_MISSED_ROTATION", "MEASURED_PAGEOUT_NS"]

_PAGE = 4096
#: kswapd's short sleep after balancing (``HZ/10`` in kswapd_try_to_sleep), ns.
KSWAPD_NAP_NS = 100_000_000
#: A swapfile write's latency as reclaim meets it on this machine (virtio disk, ext4), ns:
#: from the reclaimer's ``mm_vmscan_write_folio`` to the end of the request that carried
#: its bio (:func:`vswap.kernel.reclaim_trace.write_latency`: the block layer holds a
#: pass's bios in its plug and merges neighbours, so a write waits on its pass and its
#: queue as well as on the disk). The median over the 16 swapfile repeats of
#: :func:`vswap.calibrate.measure_reclaim` of December 8 at 01:53 (usemem and memhog,
#: 1 GiB x1.5 and x1.75, 4 each) of each repeat's median: 1.35 ms, scaled MAD 0.36 ms
#: (kswapd's writes 1.5 to 2.1 ms, the task's 0.5 to 0.9 ms: kswapd's passes are longer).
#: The disk alone is faster: 4 KiB ``dd oflag=direct`` writes took 173 us, the figure
#: shipped before, with which the model's swapfile reclaim left too little to the task.
SWAP_WRITE_NS = 1_350_000

#: Machine-wide reclaim's CPU per page reclaimed, ns, per backend and content
#: class: ``(direct reclaim's, kswapd's)``. Measured with ``vswap
#: calibrate``'s global runs (:func:`vswap.calibrate.measure_reclaim`: the
#: machine shrunk to 1 GiB, :data:`vswap.calibrate.RECLAIM_SET`, 4 repeats
#: per case, each writer also at 1.15x, run twice, the second also at 0.7x;
#: 104 repeats) on this machine's kernel, 6.18.44-fc-v1300, after the boot of December 7
#: 10:22. kswapd's is the median of kswapd0's CPU time over
#: ``pgsteal_kswapd`` (scaled MAD 1.6 to 2.1 us); direct reclaim's is the
#: median over the repeats of the task's time on a CPU inside its stalls
#: over the pages they freed, from the kernel's own tracepoints
#: (:class:`vswap.kernel.reclaim_trace.StallTrace`: each stall's begin and
#: end, less the time the task was switched out in it; scaled MAD 2.1 to
#: 4.1 us). zram compresses a DATA page in the reclaimer and stores a
#: same-filled or zero one as its fill word: DATA (usemem) 17.2 us direct,
#: 21.3 us kswapd; SAME (memhog) 12.5 and 16.1 us. A swapfile: 17.8 us
#: direct (a stall scans deep, priority 0 to 9 in most, to free what it
#: needs), 11.3 us kswapd. zswap compresses in the reclaimer as zram does and
#: takes zram's (not measured machine-wide). The profile keeps the runs
#: (``provenance.updates``). Earlier figures, now replaced: this kernel's
#: before the reboot (14.6 and 23.2 us DATA, 6.1 and 19.4 us SAME, 4.3 and
#: 8.1 us swapfile; the direct ones from a regression of the task's CPU time
#: on the pages each reclaimer freed, which a host that slows the task
#: confounds: the slowed task leaves more of the reclaim to kswapd, and its
#: lost time lands on kswapd's pages), and v1272's (direct 21.5 us, kswapd
#: 22.7 us on zram, against a run without reclaim).
MEASURED_RECLAIM_NS: dict[str, dict[str, tuple[int, int]]] = {
    "zram": {"DATA": (17_237, 21_277), "SAME": (12_522, 16_118)},
    "swapfile": {"DATA": (17_815, 11_258), "SAME": (17_815, 11_258)},
}
MEASURED_RECLAIM_NS["zswap"] = MEASURED_RECLAIM_NS["zram"]
#: The task's CPU per page it allocates, ns: the median over the writers' runs at 0.7x,
#: which reclaim nothing (16 repeats: 1.9 to 4.9 us, scaled MAD 0.4 us).
MEASURED_ALLOC_NS = 2_301
#: The task's CPU per page kswapd takes from it, ns: the median over the runs under pressure
#: of the task's time outside its stalls, less its allocations, per page kswapd reclaimed
#: (6.3 us, scaled MAD 5.1 us: the least certain of the costs). kswapd's unmaps send TLB
#: shootdowns to the task's CPU, and both take the zone's and the LRU's locks. It slows the
#: task while kswapd keeps up, so less of the reclaim falls to the task than the two
#: reclaimers' own costs alone would give.
MEASURED_UNMAP_NS = 6_340
#: The reclaimers' time asleep per page they free, ns, per backend: ``(direct reclaim's,
#: kswapd's)``. A swapfile write takes a bio from a mempool and a request tag from the
#: device's queue; below the min watermark the bio's slab cannot grow (``mempool_alloc`` sets
#: ``__GFP_NOMEMALLOC``), so a writer sleeps until another write completes. The kernel's
#: tracepoints give it: each reclaimer's uninterruptible sleeps (``sched_switch`` with
#: ``prev_state=D``; kswapd0's, and the task's inside its stalls) over the pages it freed,
#: the median over the 24 swapfile repeats of a run of :func:`vswap.calibrate.measure_reclaim`
#: on December 7 at 13:49 (scaled MAD 2.3 and 0.7 us; the per-page CPU costs stay those of
#: :data:`MEASURED_RECLAIM_NS`). zram stores synchronously on the reclaimer's CPU: kswapd0 slept
#: so for 0 ns in every one of the run's 28 zram repeats, the task's stalls in all but one.
MEASURED_IO_WAIT_NS: dict[str, tuple[int, int]] = {
    "zram": (0, 0), "zswap": (0, 0), "swapfile": (5_659, 2_241),
}
#: Of a backend's writes, those whose folio misses folio_rotate_reclaimable, per mille. The
#: rotation moves a written-back folio to the LRU's tail for the next scan to free, but only
#: once its reclaimer has put its batch back: a write that completes while the batch is still
#: isolated leaves its folio at the LRU's head, in the swap cache, until the scans reach it a
#: whole pass later (what the multi-gen LRU retries, and the classic LRU this kernel runs does
#: not). The kernel counts the rotations (``pgrotated``): the share is ``1 - pgrotated /
#: pswpout``, the median over the 16 swapfile repeats of :func:`vswap.calibrate.measure_reclaim`
#: of December 7 at 23:05 (usemem and memhog, 1 GiB x1.5 and x1.75, 4 each: 6.0 %, scaled MAD
#: 1.0 %; the global matrices' swapfile runs gave 3.8 to 9.5 %). zram's writes complete in the
#: reclaimer's pass: none is missed.
MEASURED_MISSED_ROTATION: dict[str, int] = {"zram": 0, "zswap": 0, "swapfile": 60}
#: Where a swapfile page's reclaim costs its reclaimer, ns, per backend whose writes complete
#: after the pass (:data:`vswap.calibrate.ASYNC_WRITES`): ``{reclaimer: (per write started,
#: per written-back folio freed)}``. The kernel's trace says it: a fit of each anon pass's
#: time on the reclaimer's CPU on its pages kept, written, otherwise left and freed
#: (:func:`vswap.kernel.reclaim_trace.pass_costs`), :func:`vswap.calibrate.robust` over the
#: 16 swapfile repeats of :func:`vswap.calibrate.measure_reclaim` of December 8 at 01:53:
#: the task's 6.3 us a write (scaled MAD 0.4) and 2.4 us a folio freed (0.8); kswapd's
#: 11.1 us (0.7) and 0.6 us (0.04). The write is the work (unmap, swap entry, bio); the
#: free of a clean folio is cheap. The same run measured the per page freed of
#: :data:`MEASURED_RECLAIM_NS` again (kswapd 11.3 us, the task 18.6 us): the two
#: placements agree on a page's cost, and differ on who pays it, the writer or whoever
#: frees the folio after its write (docs/kswapd.rst, "Where a write's cost falls").
MEASURED_PAGEOUT_NS: dict[str, dict[str, tuple[int, int]]] = {
    "swapfile": {"direct": (6_252, 2_365), "kswapd": (11_143, 628)},
}

#: A reclaimer's CPU per anonymous page it scans and keeps (young from its
#: fault: folio_check_references' one reference), ns. Measured from this
#: kernel's own tracepoints (``perf record -a`` of
#: ``vmscan:mm_vmscan_lru_shrink_inactive`` over five global runs of usemem
#: and memhog on zram and a swapfile, 1 and 2 GiB): the time from a
#: reclaimer's previous shrink event to a 32-page anon chunk that kept all 32,
#: per page; median 406 ns, scaled MAD 46 ns over 48,305 such chunks
#: (kswapd0 406 ns over 37,917; the task in its stalls 438 ns over 10,388).
#: A chunk that freed all 32 zram pages took 15 to 20 us a page, the
#: per-page costs above. Those were measured per page freed, with the
#: repeats' keeps in them (0.6 to 1.4 a page freed on zram, about 3 on a
#: swapfile), so charging the keeps apart counts them twice by 1 to 3 % of a
#: zram page's cost and about 10 % of kswapd's on a swapfile. ``vswap
#: calibrate``'s traced global runs measure it the same way
#: (:class:`vswap.kernel.reclaim_trace.StallTrace` records kswapd0's passes
#: too; :func:`vswap.calibrate.fit_reclaim`'s ``scan_ns``), and
#: ``tests/test_global_vs_kernel.py`` checks it on every run.
MEASURED_SCAN_NS = 406

#: kswapd's CPU per DATA page it reclaims on zram, ns (:data:`MEASURED_RECLAIM_NS`); the
#: shipped cost profile's ``kswapd_page``, pooled over both content classes, lies between
#: the two classes' (``tests/test_kswapd.py`` checks).
KSWAPD_ANON_NS = MEASURED_RECLAIM_NS["zram"]["DATA"][1]


def design_prices(profile: Any = None) -> dict[str, float]:
    """The design work counters' prices, ns per unit: the kernel clock's design events.

    Each counter a design event of :data:`vswap.clock.EVENTS` counts gets that
    event's cost in ``profile`` (default: the shipped one,
    :func:`vswap.clock.default_profile`): the same prices the clock gives a
    design's work in the task's system time. A counter no design event
    counts is not priced. Runtime complexity: O(events).

    >>> p = design_prices()
    >>> p["desc_reads"] == p["desc_writes"] > 0, p["zswap_walks"] == p["lookups"]
    (True, True)
    """
    from vswap.clock import EVENTS, default_profile
    if profile is None:
        profile = default_profile()
    out: dict[str, float] = {}
    for ev in EVENTS.values():
        if ev.kind == "design":
            for c in ev.counters:
                out[c] = round(profile.ns(ev.name), 3)
    return out


#: The prices of a design's work counters during reclaim, ns per unit
#: (:func:`design_prices` of the shipped cost profile, kept to the ps by the
#: replay): what ``vswap calibrate`` measured with microbenchmarks of the
#: compiled structures (a node visit 2.8 ns, a descriptor 3.2 ns, a table or
#: reverse-map word 5.3 ns, an MRU check 1.2 ns, an xarray walk's fixed part
#: 0: an NNLS fit over 6 benchmarks, median of 8; metadata in the LLC), and
#: the profile's estimates where it has no measurement, each marked so in its
#: source (a cluster lock section 15.4 ns, a check 0.8 ns, a call into the
#: physical allocator 5 ns; an uncontended spin_lock / spin_unlock pair
#: measured 2.4 ns here, ``bench/measure_transfer.py``). zswap's tree
#: walks (``zswap_walks``) are priced as an xarray walk. What two reclaimers wait
#: on the lines they share is a term apart: :mod:`vswap.contention`.
DEFAULT_DESIGN_NS: dict[str, float] = design_prices()


class Watermarks(NamedTuple):
    """A zone's watermarks in pages: ``min``, ``low``, ``high``. Runtime complexity: O(1).

    >>> Watermarks(1, 2, 3).high
    3
    """

    min: int
    low: int
    high: int


def default_min_free_kbytes(total_bytes: int, thp: bool = True, zones: int = 3) -> int:
    """The kernel's ``vm.min_free_kbytes`` for a machine of ``total_bytes``.

    ``init_per_zone_wmark_min``: ``int_sqrt(lowmem_kbytes * 16)``, clamped to
    128 .. 262,144; with THP, khugepaged raises it to its recommendation
    (``set_recommended_min_free_kbytes``): 2 + 3 * 3 pageblocks (2 MiB) per
    populated zone, at most 5 % of RAM. On this 24 GiB machine (3 zones)
    that is the 67,584 /proc/sys/vm/min_free_kbytes shows. Runtime
    complexity: O(1).

    >>> default_min_free_kbytes(24 << 30), default_min_free_kbytes(24 << 30, thp=False)
    (67584, 20066)
    """
    kb = total_bytes // 1024
    base = min(max(math.isqrt(kb * 16), 128), 262_144)
    if not thp:
        return base
    recommended = min(11 * zones * 2048, kb // 20)
    return max(base, recommended)


def watermarks(total_bytes: int, min_free_kbytes: int, watermark_scale_factor: int) -> Watermarks:
    """``__setup_per_zone_wmarks`` for one zone holding ``total_bytes`` of RAM.

    min is ``min_free_kbytes`` in pages; low and high each add
    ``max(min / 4, managed * watermark_scale_factor / 10000)``. The managed
    pages are the machine's RAM: memory reserved as hugetlb pages still
    counts, so a machine shrunk that way keeps its watermarks. Runtime
    complexity: O(1).

    >>> watermarks(32 << 30, 67_584, 10)
    Watermarks(min=16896, low=25284, high=33672)
    """
    if not isinstance(min_free_kbytes, int) or isinstance(min_free_kbytes, bool):
        raise TypeError("min_free_kbytes must be an int")
    if not isinstance(watermark_scale_factor, int) or isinstance(watermark_scale_factor, bool):
        raise TypeError("watermark_scale_factor must be an int")
    if min_free_kbytes < 1:
        raise ValueError("min_free_kbytes must be at least 1")
    if not 1 <= watermark_scale_factor <= 3000:
        raise ValueError("watermark_scale_factor must be 1 .. 3000 (the sysctl's range)")
    managed = total_bytes // _PAGE
    lo = min_free_kbytes // 4
    gap = max(lo >> 2, managed * watermark_scale_factor // 10_000)
    return Watermarks(lo, lo + gap, lo + 2 * gap)


@dataclasses.dataclass(frozen=True)
class ReclaimCosts:
    """Per-event costs, in ns, of the two actors of machine-wide reclaim.

    - ``alloc_ns``: the task, per page it allocates (the fault, zeroing, and
      its own writes to the page);
    - ``anon_ns``: direct reclaim, per anonymous page it frees (unmap,
      compress or submit the write, free; the scans of the pages it keeps
      included; default zram's, :data:`MEASURED_RECLAIM_NS`);
    - ``kswapd_anon_ns``: kswapd, the same (default :data:`KSWAPD_ANON_NS`,
      measured: kswapd0's CPU time per page it reclaimed in global runs
      here; None: ``anon_ns``);
    - ``anon_same_ns`` and ``kswapd_same_ns``: the two, per same-filled or
      zero page (zram stores one as its fill word, without compressing it;
      None: the DATA page's cost);
    - ``unmap_ns``: the task's time per page kswapd reclaims (kswapd's
      unmaps flush the task's TLB with an IPI to its CPU, and both take the
      zone's and the LRU's locks; default :data:`MEASURED_UNMAP_NS`);
    - ``file_ns``: per clean page-cache page it drops;
    - ``write_ns``: a swapfile write's latency until the folio can be freed
      (default :data:`SWAP_WRITE_NS`; zram's writes are synchronous: their
      cost is in ``anon_ns``);
    - ``nap_ns``: kswapd's short sleep after balancing;
    - ``design_ns``: the design's work counters' prices (ns per unit), for
      the work done during reclaim;
    - ``scan_ns``: per anonymous page scanned and kept (young, or under
      writeback; default :data:`MEASURED_SCAN_NS`, from the kernel's
      tracepoints);
    - ``transfer_ns``: a cache line one reclaimer takes from the other's
      CPU (default :data:`vswap.contention.TRANSFER_NS`, measured here), what
      the lines both take cost each while both reclaim (0: no contention);
    - ``direct_io_wait_ns`` and ``kswapd_io_wait_ns``: each reclaimer's
      time asleep per page it frees, on its writes' bios and request tags
      (:data:`MEASURED_IO_WAIT_NS`; 0 by default, zram's): it moves the
      reclaimer's clock, not its CPU time (the counters
      ``stall_io_wait_ns``, within ``stall_ns``, and ``kswapd_io_wait_ns``,
      beside ``kswapd_ns``);
    - ``pageout_ns`` and ``kswapd_pageout_ns``: on a swapfile, each
      reclaimer's cost per page whose write it starts (pageout: the kernel's
      reclaimer does a page's work there, unmap, swap entry, bio), and
      ``wb_free_ns`` and ``kswapd_wb_free_ns``, per written-back folio it
      frees later: :func:`vswap.kernel.reclaim_trace.pass_costs` measures
      them from the kernel's trace (:data:`MEASURED_PAGEOUT_NS`, which
      :func:`default_costs` gives a swapfile). None (the default here, and
      zram's): the write starts at ``scan_ns`` and the folio's free costs the
      reclaimer's per-page cost, the page's cost paid where it is freed;
    - ``missed_rotation_permille``: of a swapfile's writes, those whose folio
      misses folio_rotate_reclaimable (its write completed before its
      reclaimer put its batch back), per mille: such a folio stays in the swap
      cache until the scans have taken what was ahead of it on the LRU
      (:data:`MEASURED_MISSED_ROTATION`; 0 by default, zram's).

    Runtime complexity: O(1).

    >>> ReclaimCosts().alloc_ns == MEASURED_ALLOC_NS, ReclaimCosts(anon_ns=1).anon_ns
    (True, 1)
    """

    alloc_ns: int = MEASURED_ALLOC_NS
    anon_ns: int = MEASURED_RECLAIM_NS["zram"]["DATA"][0]
    file_ns: int = 500
    write_ns: int = SWAP_WRITE_NS
    nap_ns: int = KSWAPD_NAP_NS
    design_ns: Any = None
    scan_ns: int = MEASURED_SCAN_NS
    kswapd_anon_ns: int | None = KSWAPD_ANON_NS
    transfer_ns: int = TRANSFER_NS
    anon_same_ns: int | None = None
    kswapd_same_ns: int | None = None
    unmap_ns: int = MEASURED_UNMAP_NS
    direct_io_wait_ns: int = 0
    kswapd_io_wait_ns: int = 0
    pageout_ns: int | None = None
    kswapd_pageout_ns: int | None = None
    wb_free_ns: int | None = None
    kswapd_wb_free_ns: int | None = None
    missed_rotation_permille: int = 0

    def __post_init__(self) -> None:
        for f in ("alloc_ns", "anon_ns", "file_ns", "write_ns", "nap_ns", "scan_ns",
                  "kswapd_anon_ns", "transfer_ns", "anon_same_ns", "kswapd_same_ns",
                  "unmap_ns", "direct_io_wait_ns", "kswapd_io_wait_ns", "pageout_ns",
                  "kswapd_pageout_ns", "wb_free_ns", "kswapd_wb_free_ns"):
            v = getattr(self, f)
            if v is None and f in ("kswapd_anon_ns", "anon_same_ns", "kswapd_same_ns",
                                   "pageout_ns", "kswapd_pageout_ns", "wb_free_ns",
                                   "kswapd_wb_free_ns"):
                continue
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"{f} must be an int of ns, not {type(v).__name__}")
            if not 0 <= v < 1 << 40:
                raise ValueError(f"{f} must be 0 .. 2**40 ns")
        m = self.missed_rotation_permille
        if not isinstance(m, int) or isinstance(m, bool):
            raise TypeError(f"missed_rotation_permille must be an int, not {type(m).__name__}")
        if not 0 <= m <= 1000:
            raise ValueError("missed_rotation_permille must be 0 .. 1000")
        prices = DEFAULT_DESIGN_NS if self.design_ns is None else self.design_ns
        if isinstance(prices, tuple):
            prices = dict(prices)
        if not isinstance(prices, dict):
            raise TypeError("design_ns must be a dict of counter name: ns")
        for k, v in prices.items():
            if (not isinstance(k, str) or not isinstance(v, (int, float)) or isinstance(v, bool)
                    or not 0 <= v < 1 << 40):
                raise ValueError(f"design_ns[{k!r}] must be a non-negative number of ns")
        object.__setattr__(self, "design_ns", tuple(sorted(prices.items())))

    @property
    def kswapd_ns(self) -> int:
        """kswapd's cost per anonymous page freed: ``kswapd_anon_ns``, else ``anon_ns``. Runtime complexity: O(1).

        >>> ReclaimCosts(anon_ns=7, kswapd_anon_ns=None).kswapd_ns, ReclaimCosts(kswapd_anon_ns=9).kswapd_ns
        (7, 9)
        """
        return self.anon_ns if self.kswapd_anon_ns is None else self.kswapd_anon_ns

    @property
    def direct_same_ns(self) -> int:
        """Direct reclaim's cost per same-filled or zero page: ``anon_same_ns``, else ``anon_ns``. Runtime complexity: O(1).

        >>> ReclaimCosts(anon_ns=7).direct_same_ns, ReclaimCosts(anon_same_ns=3).direct_same_ns
        (7, 3)
        """
        return self.anon_ns if self.anon_same_ns is None else self.anon_same_ns

    @property
    def kswapd_same(self) -> int:
        """kswapd's cost per same-filled or zero page: ``kswapd_same_ns``, else :attr:`kswapd_ns`. Runtime complexity: O(1).

        >>> ReclaimCosts(kswapd_anon_ns=9).kswapd_same, ReclaimCosts(kswapd_same_ns=4).kswapd_same
        (9, 4)
        """
        return self.kswapd_ns if self.kswapd_same_ns is None else self.kswapd_same_ns

    def to_dict(self) -> dict[str, Any]:
        """The costs as plain values. Runtime complexity: O(counters).

        >>> ReclaimCosts(design_ns={"lookups": 1}).to_dict()["design_ns"]
        {'lookups': 1}
        """
        d = dataclasses.asdict(self)
        d["design_ns"] = dict(self.design_ns)
        return d


#: The costs measured on this machine, zram's DATA pages' (see the module's doc and
#: :data:`MEASURED_RECLAIM_NS`); the task's :data:`MEASURED_ALLOC_NS` and
#: :data:`MEASURED_UNMAP_NS`.
DEFAULT_COSTS = ReclaimCosts()


def default_costs(backend: str) -> ReclaimCosts:
    """The measured costs of machine-wide reclaim on ``backend`` (a Machine's default).

    :data:`DEFAULT_COSTS` with the two reclaimers' per-page costs of
    :data:`MEASURED_RECLAIM_NS` for the backend, DATA pages' and same-filled
    ones' (zram's for one not measured), their sleeps on the writes of
    :data:`MEASURED_IO_WAIT_NS`, the share of the writes whose folio
    misses the rotation (:data:`MEASURED_MISSED_ROTATION`), and on a backend
    whose writes complete after the pass, a write's cost where it starts and
    a written-back folio's where it is freed (:data:`MEASURED_PAGEOUT_NS`),
    without the sleeps: spread over the pages each reclaimer freed, they
    moved the split further from the kernel's than leaving them out (the
    kernel's fall in bursts, below min, on a bio pool both writers share).
    Runtime complexity: O(1).

    >>> default_costs("swapfile").kswapd_ns < default_costs("zram").kswapd_ns
    True
    >>> default_costs("swapfile").kswapd_io_wait_ns, MEASURED_IO_WAIT_NS["swapfile"][1] > 0
    (0, True)
    >>> z = default_costs("zram")
    >>> z.kswapd_same < z.kswapd_ns, z.anon_ns == DEFAULT_COSTS.anon_ns
    (True, True)
    >>> default_costs("swapfile").missed_rotation_permille, z.missed_rotation_permille
    (60, 0)
    >>> s = default_costs("swapfile")
    >>> s.kswapd_pageout_ns > s.pageout_ns > s.wb_free_ns > s.kswapd_wb_free_ns, z.pageout_ns
    (True, None)
    """
    byc = MEASURED_RECLAIM_NS.get(backend, MEASURED_RECLAIM_NS["zram"])
    (direct, kswapd), (d_same, k_same) = byc["DATA"], byc["SAME"]
    po = MEASURED_PAGEOUT_NS.get(backend)
    # with the write priced where it starts, the sleeps spread over the pages freed moved the
    # split away from the kernel's (docs/kswapd.rst, "The matrix of December 8")
    d_wait, k_wait = (0, 0) if po is not None else MEASURED_IO_WAIT_NS.get(
        backend, MEASURED_IO_WAIT_NS["zram"])
    where = {} if po is None else {
        "pageout_ns": po["direct"][0], "wb_free_ns": po["direct"][1],
        "kswapd_pageout_ns": po["kswapd"][0], "kswapd_wb_free_ns": po["kswapd"][1]}
    return dataclasses.replace(
        DEFAULT_COSTS, anon_ns=direct, kswapd_anon_ns=kswapd, anon_same_ns=d_same,
        kswapd_same_ns=k_same, direct_io_wait_ns=d_wait, kswapd_io_wait_ns=k_wait,
        missed_rotation_permille=MEASURED_MISSED_ROTATION.get(backend, 0), **where)


#: The measured reclaim costs by who pays them, as :func:`scale_costs` scales them: a
#: reclaimer's DATA and same-filled pages are one measurement's two classes, so they move
#: together. ``alloc``: the task's allocations; ``unmap``: the task's time per page kswapd
#: takes (the least certain: see :data:`MEASURED_UNMAP_NS`); ``direct`` and ``kswapd``: the
#: two reclaimers' per page freed; ``keep``: per page scanned and kept.
COST_GROUPS: dict[str, tuple[str, ...]] = {
    "alloc": ("alloc_ns",), "unmap": ("unmap_ns",),
    "direct": ("anon_ns", "anon_same_ns", "pageout_ns", "wb_free_ns"),
    "kswapd": ("kswapd_anon_ns", "kswapd_same_ns", "kswapd_pageout_ns", "kswapd_wb_free_ns"),
    "keep": ("scan_ns",),
}


def scale_costs(costs: ReclaimCosts, scale: dict[str, float]) -> ReclaimCosts:
    """``costs`` with each group of :data:`COST_GROUPS` named in ``scale`` times its factor.

    A field left to follow another (None: kswapd's DATA page at direct
    reclaim's, a same-filled page at its DATA page's) is scaled from the
    value it stands for, so scaling one group never moves another.
    ValueError for an unknown group or a factor that is not positive and
    finite. Runtime complexity: O(groups).

    >>> c = scale_costs(ReclaimCosts(anon_ns=1000, kswapd_anon_ns=None), {"direct": 1.5})
    >>> c.anon_ns, c.kswapd_ns, c.direct_same_ns, c.kswapd_same
    (1500, 1000, 1500, 1000)
    >>> scale_costs(ReclaimCosts(), {"tlb": 2.0})
    Traceback (most recent call last):
    ...
    ValueError: unknown cost group 'tlb' (alloc, unmap, direct, kswapd, keep)
    """
    for name, f in scale.items():
        if name not in COST_GROUPS:
            raise ValueError(f"unknown cost group {name!r} ({', '.join(COST_GROUPS)})")
        if (not isinstance(f, (int, float)) or isinstance(f, bool) or not math.isfinite(f)
                or f <= 0):
            raise ValueError(f"the factor for {name!r} must be a positive number, not {f!r}")
    # each field's own value first (a None resolved), so a follower keeps its value
    own = {"alloc_ns": costs.alloc_ns, "unmap_ns": costs.unmap_ns, "anon_ns": costs.anon_ns,
           "anon_same_ns": costs.direct_same_ns, "kswapd_anon_ns": costs.kswapd_ns,
           "kswapd_same_ns": costs.kswapd_same, "scan_ns": costs.scan_ns}
    new = {}
    for name, f in scale.items():
        for field in COST_GROUPS[name]:
            v = own.get(field, getattr(costs, field))
            if v is not None:            # a write left unpriced stays so: its folio's free pays
                new[field] = round(v * f)
    for field in ("kswapd_anon_ns", "anon_same_ns", "kswapd_same_ns"):
        if field not in new and getattr(costs, field) is None:
            new[field] = own[field]      # pin what it followed before its leader moved
    return dataclasses.replace(costs, **new)
