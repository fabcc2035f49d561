"""Replay a workload trace through a swap design: :func:`replay`.

The memory model between a workload (:mod:`vswap.workloads`) and a design
(:class:`vswap.protocol.SwapSpace`), the same for every design, with the
kernel's (6.18) behaviour and counter names (:data:`KERNEL_COUNTERS`
mean what /proc/vmstat's and the mTHP sysfs stats mean):

- **Page tables**: per virtual page its state (not mapped, resident, swapped,
  swapped with a read-ahead copy in the swap cache) and its swap entry.
- **Accounting and reclaim**: resident folios sit on one FIFO LRU
  (write-once pages make the LRU a FIFO). A fault that would pass
  :attr:`Machine.ram` first reclaims from the LRU's head until the charged
  pages fit below ``ram - watermark``, at least ``reclaim_batch`` pages per
  call (``SWAP_CLUSTER_MAX``; ``reclaim_calls``, and ``allocstall`` when
  there is no cgroup). What is charged is :attr:`Machine.accounting`'s:
  resident pages, plus zswap's compressed pages under cgroup v2, plus zram's
  too for the whole machine.
- **Faults** (``pgfault`` each; ``alloc_anon_folio``): a first touch of an
  order-k folio tries order k, then the enabled smaller orders, down to 0,
  when the folio cannot be charged (``anon_fault_fallback``, ``_charge``).
- **Swap-out** of a folio (``shrink_folio_list``): ``folio_alloc_swap`` (a
  large folio whose aligned run is not free is split and its pages swapped
  one by one: ``swpout_fallback``, and ``thp_swpout_fallback`` for PMD
  size), ``swap_duplicate`` for the PTEs, then ``swap_writeout``: a zero
  page goes to the zeromap (``zero_store``) when
  :attr:`Machine.zero_detection` is on; else zswap (``zswap_store``,
  ``zswpout``) unless its pool is full (``zswap_check_limits``: the limit
  is ``max_pool_percent`` of the machine's RAM; a full pool accepts again
  below ``accept_threshold_percent``, and each refusal wakes the shrink
  worker, which writes the oldest pages back down to that threshold:
  ``zswpwb``), or the device itself (``writeback``: zram or a swapfile;
  ``pswpout``, ``thp_swpout``); finally the folio leaves the swap cache
  (``swap_cache_del_folio`` with a shadow, ``put_swap_folio``).
- **Swap-in**, on a write to a swapped page (``do_swap_page``;
  ``pgmajfault`` unless a read-ahead folio serves it, ``swap_ra_hit``):
  ``lookup``; on a ``SWP_SYNCHRONOUS_IO`` device (zram) no read-ahead
  (``swapin_sync``), and no swap cache either for a design that keeps 6.19's
  bypass (:attr:`vswap.protocol.SwapSpace.swapin_bypasses_swap_cache`:
  ``swapin_bypass``; 7.0's phase II adds the folio with ``swapin_folio``,
  so mainline_7_1, swaptable_p4 and vswap_ste do not), and a large folio comes in whole
  when its PTEs allow (``alloc_swap_folio``: contiguous entries of one
  backing, none cached; ``swpin``, ``swpin_fallback``, ``_charge``; never
  once zswap was enabled). The baseline's entries are device slots, so its zero
  pages on zram take that path; under virtual swap an entry no such device
  backs (zero, zswap) takes the read-ahead path. That path reads the page
  and its swapped neighbours in the VMA read-ahead window (``swap_ra``;
  the window of ``swap_vma_ra_win``: it grows with hits up to
  ``2**page_cluster`` pages, shrinks by at most half per fault without
  them, stays inside the PMD). Every page read from a device is a
  ``pswpin``, every page loaded from zswap a ``zswpin`` (zswap then drops
  its copy: an unhit read-ahead folio is written out again). The faulting
  page is mapped and, being written, its entry freed (``swap_free_nr``,
  then ``folio_free_swap``).
- **Free** at munmap or exit: the PTEs are zapped in ascending order, swap
  PTEs through ``free_swap_and_cache_nr`` in runs of consecutive entries
  within one PMD (``swap_pte_batch``), which also reclaims read-ahead folios.

- **Machine-wide reclaim** (``Machine(kswapd=True)``): the zone
  watermarks, kswapd on its own CPU beside the task, direct reclaim below
  min, a page cache, writeback in flight, in time order at per-page costs:
  :mod:`vswap.kswapd`. Without it all reclaim is direct.

Not modelled: concurrency and locks (the counters count lock sections
instead), the LRU's active list and
refaults, the memory-pressure zswap shrinker (``shrinker_enabled``), page
tables and the program's own pages in the charge, I/O time. See
:doc:`model-vs-kernel` for the measured differences.

>>> import vswap
>>> from vswap.workloads import usemem
>>> r = replay(usemem("4M"), "cc_v2", Machine(ram="2M", reclaim_batch=1))
>>> r.counters["pswpout"], r.counters["pswpin"]
(512, 0)
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Callable

import numpy as np

from vswap import _replay, designs
from vswap.reference import replay as ref_replay
from vswap.contention import SHARED, weights
from vswap.kswapd import (ReclaimCosts, default_costs, Watermarks, default_min_free_kbytes,
                          watermarks)
from vswap.workloads import PAGE_SIZE, Trace, parse_size

#: The memory model's counters (the same in both engines): first those named
#: and meant as the kernel's, then the model's own, then the per-size mTHP
#: stats under their sysfs names (``"hugepages-64kB/swpout"``).
COUNTER_NAMES: tuple[str, ...] = tuple(_replay.COUNTER_NAMES)
#: The counters that carry a kernel counter's name and meaning.
KERNEL_COUNTERS: tuple[str, ...] = tuple(_replay.KERNEL_COUNTERS)

__all__ = ["Machine", "ReplayResult", "replay", "make_design", "machine_config", "DESIGNS",
           "default_machine", "global_defaults", "GLOBAL_MIN_BYTES", "memory_needed",
           "memory_available", "check_memory", "BYTES_PER_SPAN_PAGE", "BYTES_PER_SWAP_SLOT",
           "python_overrides", "REFERENCE_PAGES_PER_S",
           "BACKENDS", "ACCOUNTING", "COUNTER_NAMES", "KERNEL_COUNTERS", "DEFAULT_COMPRESSED"]

#: The report's builds: ``baseline`` and the three virtual swap presets
#: (the default of compare; every registered design: :mod:`vswap.designs`).
DESIGNS = designs.DESIGN_SETS["report"]
#: Swap backends: zram (one device with same-filled detection), zswap in
#: front of a swapfile, or a swapfile alone.
BACKENDS: tuple[str, ...] = tuple(_replay.BACKENDS)


def _pages(size: int | str, what: str, *, at_least_a_page: bool = False) -> int:
    try:
        nbytes = parse_size(size)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{what}: {exc}") from None
    if at_least_a_page and nbytes < PAGE_SIZE:
        # "ram=64" meant 64G far more often than a machine of one page
        raise ValueError(f"{what} of {nbytes} bytes is less than one {PAGE_SIZE}-byte page "
                         f"(sizes are bytes, or take a k/m/g/t suffix: 64G)")
    return -(-nbytes // PAGE_SIZE)


#: Compressed bytes of a page per content class (DATA, ZERO, SAME): lz4 packs
#: usemem's ascending words 2:1; a same-filled page takes zsmalloc's smallest
#: class. zram stores same-filled pages in no memory at all.
DEFAULT_COMPRESSED = {"DATA": 2048, "ZERO": 32, "SAME": 32}
#: Machine.accounting values: what the RAM limit counts.
ACCOUNTING: tuple[str, ...] = tuple(_replay.ACCOUNTING)
_LARGE_RECLAIM = ("pmd", "all", "none")
#: The page cache a machine-wide Machine starts with by default (32 MiB), at most 1/16 of its RAM.
DEFAULT_FILE_CACHE_PAGES = 8192


@dataclasses.dataclass(frozen=True)
class Machine:
    """The machine a trace runs on: RAM, swap, backend, accounting and reclaim policy.

    Sizes take the kernel's notation (``"32G"``) or a number of bytes.

    - ``ram``: the limit the workload's memory is charged against: the
      memory cgroup's ``memory.max`` (v2) or ``memory.limit_in_bytes`` (v1),
      or with ``accounting="none"`` the machine's RAM.
    - ``accounting``: ``"v2"`` (a cgroup v2 limit: zswap's compressed
      pages are charged to it), ``"v1"`` (a v1 limit: only resident pages
      are), ``"none"`` (the whole machine, no cgroup: zswap's and zram's
      compressed pages take RAM, so more pages must be swapped out).
    - ``total_ram``: the machine's RAM (default ``ram``); zswap's pool
      limit is ``zswap_max_pool_percent`` of it, not of the cgroup.
    - ``swap``: size of the swap device (default: the trace's whole span,
      so only a deliberate setting runs out).
    - ``backend``: one of :data:`BACKENDS`. zram is ``SWP_SYNCHRONOUS_IO``
      and a block device; the swapfile (behind zswap too) is not, so it
      gets no large swap entries (:attr:`swap_blockdev`).
    - ``zswap_pool``: zswap's pool limit in bytes, overriding
      ``zswap_max_pool_percent``; ``zswap_accept_threshold_percent`` of it
      is where a full pool accepts stores again (the shrink worker writes
      the oldest pages back to that level).
    - ``compressed``: compressed bytes of a page per content class, a dict
      over ``"DATA"``, ``"ZERO"``, ``"SAME"`` (:data:`DEFAULT_COMPRESSED` for
      those not given); zswap rejects a page of 4096.
    - ``zero_detection``: zero pages go to the zeromap (since Linux 6.12).
    - ``page_cluster``: ``vm.page-cluster`` (default None: the kernel's 3);
      VMA read-ahead's window adapts between 1 and ``2**page_cluster``
      pages (at most 32). Or ``readahead``: that maximum in pages.
    - ``mthp``: the enabled large folio orders a fault or a zram swap-in
      falls back through (default: the orders the trace touches).
    - ``large_reclaim``: which large folio charges may reclaim: ``"all"``
      (the trace's large folios are in MADV_HUGEPAGE regions, as ``vswap
      kernel`` runs them, and ``defrag=madvise`` lets them reclaim),
      ``"pmd"`` (only PMD-size THP is madvised; mTHP sizes enabled
      ``always`` fall back at the limit instead) or ``"none"``.
    - ``zswap_ever_enabled``: zswap was enabled since boot, which turns
      zram's large swap-in off for good (``zswap_never_enabled()``);
      implied by the zswap backend.
    - ``page_tables``: charge the user page tables the faults allocate
      to the limit, as the kernel does (a PTE page per 2 MiB region
      touched, a PMD page per 1 GiB; GFP_PGTABLE_USER has __GFP_ACCOUNT).
      Off by default, so that a trace of S pages on R swaps out exactly
      S - R; ``vswap kernel --model`` turns it on to stand beside the
      kernel (with THP it decides whether the last 2M folio fits).
    - ``reclaim_batch``: pages reclaimed at least per reclaim call.
    - ``watermark``: reclaim this far below ``ram``.
    - ``kswapd``: machine-wide reclaim (:mod:`vswap.kswapd`): the zone
      watermarks, kswapd on its own CPU and the task's direct reclaim
      below min, in time order at :attr:`costs`' per-page costs, a page
      cache beside the anonymous pages, writeback in flight on a swapfile.
      Needs ``accounting="none"``: a cgroup under global pressure is
      refused, not modelled. ``ram`` is then the RAM the workload and the
      page cache share, ``total_ram`` the machine's (the watermarks' base).
    - ``min_free_kbytes``: ``vm.min_free_kbytes`` (default None: the
      kernel's for ``total_ram``, :func:`vswap.kswapd.default_min_free_kbytes`);
      ``watermark_scale_factor``: ``vm.watermark_scale_factor`` (10).
    - ``file_cache``: the page cache at the start (kswapd only; default
      None: 32M, at most 1/16 of ``ram``), clean pages both reclaimers take
      from in the proportion of ``swappiness`` (``vm.swappiness``, 60).
    - ``costs``: a :class:`vswap.kswapd.ReclaimCosts` (default:
      :func:`vswap.kswapd.default_costs` of the backend, this machine's
      measured costs, set when the Machine is made).
    - ``lru_gen``: the multi-gen LRU (MGLRU, the report's kernels): direct
      reclaim stops once it freed ``SWAP_CLUSTER_MAX`` pages; without it
      (this machine's kernel) it runs the priority loop: first all of the
      inactive lists' share at ``DEF_PRIORITY`` (``inactive >> 12`` at
      get_scan_count's pressure; the anon LRU is all inactive, as this
      kernel's was in global runs: every folio starts there and, used once,
      none is activated), then twice as deep a priority until one pass frees
      ``SWAP_CLUSTER_MAX``.
    - ``referenced_share``: machine-wide, every folio's first scan finds it
      young from its fault and keeps it (folio_check_references: one
      reference sets PG_referenced), its second frees it; this is the share
      of second scans that find it young again and keep it once more (a
      workload that touches its pages again between the scans; 0: usemem
      and memhog write each page once, and this kernel activated 0.2 % of
      the folios it scanned in their global runs).

    Runtime complexity: O(1).

    >>> Machine(ram="32G").ram_pages
    8388608
    >>> Machine(ram="256M", total_ram="24G", backend="zswap").zswap_pool_pages
    1258291
    >>> Machine(ram="1G", page_cluster=2).readahead_pages
    4
    """

    ram: int | str
    swap: int | str | None = None
    backend: str = "zram"
    zswap_pool: int | str | None = None
    zero_detection: bool = True
    readahead: int | None = None
    reclaim_batch: int = 32
    watermark: int | str = 0
    accounting: str = "v2"
    total_ram: int | str | None = None
    page_cluster: int | None = None
    zswap_max_pool_percent: int = 20
    zswap_accept_threshold_percent: int = 90
    compressed: Any = None
    mthp: Any = None
    large_reclaim: str = "all"
    zswap_ever_enabled: bool = False
    page_tables: bool = False
    kswapd: bool = False
    min_free_kbytes: int | None = None
    watermark_scale_factor: int = 10
    file_cache: int | str | None = None
    swappiness: int = 60
    costs: Any = None
    referenced_share: float = 0.0
    lru_gen: bool = False

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {self.backend!r}")
        if self.accounting not in ACCOUNTING:
            raise ValueError(f"accounting must be one of {ACCOUNTING}, not {self.accounting!r}")
        if self.large_reclaim not in _LARGE_RECLAIM:
            raise ValueError(f"large_reclaim must be one of {_LARGE_RECLAIM}, "
                             f"not {self.large_reclaim!r}")
        if self.ram_pages < 1:
            raise ValueError("ram must be at least one page")
        for name in ("reclaim_batch", "readahead", "page_cluster", "zswap_max_pool_percent",
                     "zswap_accept_threshold_percent"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
                raise TypeError(f"{name} must be an int, not {type(v).__name__}")
        if self.reclaim_batch < 1:
            raise ValueError("reclaim_batch must be at least 1")
        if self.readahead is not None and not 1 <= self.readahead <= 512:
            raise ValueError("readahead must be 1 .. 512 pages (one PMD)")
        if self.page_cluster is not None:
            if self.readahead is not None:
                raise ValueError("give page_cluster or readahead, not both")
            if not 0 <= self.page_cluster <= 31:
                raise ValueError("page_cluster must be 0 .. 31")
        for name in ("zswap_max_pool_percent", "zswap_accept_threshold_percent"):
            if not 0 <= getattr(self, name) <= 100:
                raise ValueError(f"{name} must be 0 .. 100")
        for name in ("zero_detection", "zswap_ever_enabled", "page_tables", "kswapd", "lru_gen"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool")
        if self.watermark_pages >= self.ram_pages:
            raise ValueError("watermark must be below ram")
        if self.total_ram is not None and self.total_ram_pages < self.ram_pages:
            raise ValueError("total_ram must be at least ram")
        self._check_kswapd()
        object.__setattr__(self, "compressed", self._check_compressed(self.compressed))
        object.__setattr__(self, "mthp", self._check_mthp(self.mthp))
        self.swap_pages_for(0)
        self.zswap_pool_pages  # noqa: B018 - validates

    def _check_kswapd(self) -> None:
        for name in ("watermark_scale_factor", "swappiness", "min_free_kbytes"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
                raise TypeError(f"{name} must be an int, not {type(v).__name__}")
        if not 0 <= self.swappiness <= 200:
            raise ValueError("swappiness must be 0 .. 200")
        if isinstance(self.referenced_share, bool) or not isinstance(self.referenced_share,
                                                                      (int, float)):
            raise TypeError("referenced_share must be a number 0 .. 0.99")
        if not 0 <= self.referenced_share <= 0.99:
            raise ValueError("referenced_share must be 0 .. 0.99")
        if self.costs is None:
            object.__setattr__(self, "costs", default_costs(self.backend))
        if isinstance(self.costs, dict):
            object.__setattr__(self, "costs", ReclaimCosts(**self.costs))
        if not isinstance(self.costs, ReclaimCosts):
            raise TypeError(f"costs must be a vswap.kswapd.ReclaimCosts, "
                            f"not {type(self.costs).__name__}")
        wm = self.zone_watermarks                    # validates the two knobs
        file = self.file_cache_pages
        if self.kswapd:
            if self.accounting != "none":
                raise ValueError("kswapd=True is machine-wide reclaim: give accounting='none' "
                                 "(a cgroup limit on a machine under global pressure is not "
                                 "modelled)")
            if file + wm.high >= self.ram_pages:
                raise ValueError(f"the page cache ({file:,} pages) and the high watermark "
                                 f"({wm.high:,} pages) leave no room in ram "
                                 f"({self.ram_pages:,} pages)")

    @property
    def zone_watermarks(self) -> Watermarks:
        """The zone's min, low and high watermarks in pages, from ``total_ram``. Runtime complexity: O(1).

        >>> Machine(ram="1G", total_ram="24G").zone_watermarks
        Watermarks(min=16896, low=23187, high=29478)
        """
        total = self.total_ram_pages * PAGE_SIZE
        kb = self.min_free_kbytes
        if kb is None:
            kb = default_min_free_kbytes(total)
        return watermarks(total, kb, self.watermark_scale_factor)

    @property
    def file_cache_pages(self) -> int:
        """The page cache at the start, in pages (kswapd only). Runtime complexity: O(1).

        >>> Machine(ram="1G").file_cache_pages, Machine(ram="64M").file_cache_pages
        (8192, 1024)
        """
        if self.file_cache is None:
            return min(DEFAULT_FILE_CACHE_PAGES, self.ram_pages // 16)
        return _pages(self.file_cache, "file_cache") if self.file_cache else 0

    @staticmethod
    def _check_compressed(value: Any) -> tuple[tuple[str, int], ...]:
        if value is None:
            value = {}
        if isinstance(value, tuple):
            value = dict(value)
        if not isinstance(value, dict):
            raise TypeError(f"compressed must be a dict of content: bytes, "
                            f"not {type(value).__name__}")
        out = dict(DEFAULT_COMPRESSED)
        for k, v in value.items():
            if k not in out:
                raise ValueError(f"compressed takes {', '.join(out)}, not {k!r}")
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"compressed[{k!r}] must be an int, not {type(v).__name__}")
            if not 1 <= v <= PAGE_SIZE:
                raise ValueError(f"compressed[{k!r}] must be 1 .. {PAGE_SIZE} bytes")
            out[k] = v
        return tuple(out.items())

    @staticmethod
    def _check_mthp(value: Any) -> tuple[int, ...] | None:
        if value is None:
            return None
        try:
            orders = tuple(value)
        except TypeError:
            raise TypeError(f"mthp must be folio orders, not {type(value).__name__}") from None
        for k in orders:
            if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 9:
                raise ValueError(f"mthp orders must be ints 1 .. 9, not {k!r}")
        return tuple(sorted(set(orders)))

    @property
    def ram_pages(self) -> int:
        """RAM (the limit) in pages. Runtime complexity: O(1).

        >>> Machine(ram="8M").ram_pages
        2048
        """
        return _pages(self.ram, "ram", at_least_a_page=True)

    @property
    def total_ram_pages(self) -> int:
        """The machine's RAM in pages. Runtime complexity: O(1).

        >>> Machine(ram="8M", total_ram="1G").total_ram_pages
        262144
        """
        return self.ram_pages if self.total_ram is None else _pages(self.total_ram, "total_ram", at_least_a_page=True)

    @property
    def watermark_pages(self) -> int:
        """The watermark in pages. Runtime complexity: O(1).

        >>> Machine(ram="8M", watermark="1M").watermark_pages
        256
        """
        return _pages(self.watermark, "watermark") if self.watermark else 0

    @property
    def zswap_pool_pages(self) -> int:
        """zswap's pool limit in pages of compressed data. Runtime complexity: O(1).

        >>> Machine(ram="10M").zswap_pool_pages
        512
        """
        if self.zswap_pool is None:
            return self.total_ram_pages * self.zswap_max_pool_percent // 100
        return _pages(self.zswap_pool, "zswap_pool")

    @property
    def zswap_accept_pages(self) -> int:
        """Pool pages below which a full zswap accepts stores again. Runtime complexity: O(1).

        >>> Machine(ram="10M").zswap_accept_pages
        460
        """
        return self.zswap_pool_pages * self.zswap_accept_threshold_percent // 100

    @property
    def readahead_pages(self) -> int:
        """The largest VMA read-ahead window in pages. Runtime complexity: O(1).

        >>> Machine(ram="8M").readahead_pages
        8
        """
        if self.readahead is not None:
            return self.readahead
        return 1 << min(3 if self.page_cluster is None else self.page_cluster, 5)

    @property
    def compressed_bytes(self) -> tuple[int, int, int]:
        """Compressed bytes of a DATA, ZERO and SAME page. Runtime complexity: O(1).

        >>> Machine(ram="8M", compressed={"DATA": 1024}).compressed_bytes
        (1024, 32, 32)
        """
        d = dict(self.compressed)
        return d["DATA"], d["ZERO"], d["SAME"]

    @property
    def swap_blockdev(self) -> bool:
        """Whether the swap device is a block device (``SWP_BLKDEV``). Runtime complexity: O(1).

        zram is; the ``swapfile`` backend, and the swapfile behind zswap, are
        files on a filesystem, which the kernel gives no large swap entries
        (``cluster_alloc_swap_entry`` fails every order above 0): a large
        folio reclaimed to one splits (``swpout_fallback``).

        >>> Machine(ram="8M").swap_blockdev, Machine(ram="8M", backend="swapfile").swap_blockdev
        (True, False)
        """
        return self.backend == "zram"

    def swap_pages_for(self, span: int) -> int:
        """Pages of the swap device for a trace of ``span`` pages. Runtime complexity: O(1).

        >>> Machine(ram="8M").swap_pages_for(1000), Machine(ram="8M", swap="4M").swap_pages_for(1000)
        (1536, 1024)
        """
        if self.swap is not None:
            pages = _pages(self.swap, "swap")
            if pages < 2:
                raise ValueError("swap must be at least two pages (one is the header)")
            return pages
        return (span // 512 + 2) * 512     # the span, the header slot, a partial cluster

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain values. Runtime complexity: O(1).

        >>> Machine(ram="8M").to_dict()["ram_pages"]
        2048
        """
        d = dataclasses.asdict(self)
        d["compressed"] = dict(self.compressed)
        d["mthp"] = None if self.mthp is None else list(self.mthp)
        d["costs"] = self.costs.to_dict()
        if self.kswapd:
            d["zone_watermarks"] = self.zone_watermarks._asdict()
        return {**d, "ram_pages": self.ram_pages, "total_ram_pages": self.total_ram_pages,
                "zswap_pool_pages": self.zswap_pool_pages,
                "readahead_pages": self.readahead_pages, "watermark_pages": self.watermark_pages}


def make_design(name: str, machine: Machine, span: int, *, reference: bool = False) -> Any:
    """A fresh design by name, from the registry :mod:`vswap.designs`, for ``span`` pages.

    ``baseline`` is :class:`vswap.DirectSwap`; the report's builds are
    :meth:`vswap.VirtualSwap.preset`; any registered name, ``virtual+SWITCH``
    or ``module:factory`` works. ``reference=True`` builds a built-in's
    pure-Python twin. Runtime complexity: O(swap pages).

    >>> make_design("cc_v2", Machine(ram="8M"), 4096).switches["mru_cluster_cache"]
    True
    """
    return designs.make_design(name, machine, span, reference=reference)


@dataclasses.dataclass
class ReplayResult:
    """What one replay measured.

    ``counters`` are the memory model's (:data:`COUNTER_NAMES`), ``stats``
    the design's own work counters and ``swap_stats`` its allocator's (all
    deterministic: the same on every run and in both engines), ``times``
    the replay thread's CPU seconds (``total_s``, ``free_s`` for the FREE
    events, ``write_s`` for the rest; comparable only within one engine), ``footprint`` the design's kernel-equivalent
    metadata bytes just before the first free (its peak for usemem and
    memhog), ``at_free`` the counters, stats and swap_stats at that moment
    (the write phase's; None when the trace frees nothing), which
    :mod:`vswap.clock` splits the prediction by. ``pte`` and ``pstate`` are
    the final page tables and page states when asked for. Runtime
    complexity: O(1).

    >>> from vswap.workloads import usemem
    >>> r = replay(usemem("1M"), "baseline", Machine(ram="512K"))
    >>> r.per_swapped_page()["cluster_locks"] > 0
    True
    """

    design: str
    workload: str
    machine: dict[str, Any]
    counters: dict[str, int]
    stats: dict[str, int]
    swap_stats: dict[str, int]
    times: dict[str, float]
    footprint: dict[str, int]
    pte: np.ndarray | None = None
    pstate: np.ndarray | None = None
    at_free: dict[str, dict[str, int]] | None = None

    def per_swapped_page(self) -> dict[str, float]:
        """The design's counters divided by the pages swapped out to any backing.

        The divisor is ``swapped_out`` (zero pages, zswap and the device),
        not ``pswpout``. Runtime complexity: O(counters).

        >>> from vswap.workloads import usemem
        >>> r = replay(usemem("1M"), "vss_v5", Machine(ram="512K"))
        >>> round(r.per_swapped_page()["cgroup_checks"], 2)
        1.0
        """
        n = max(1, self.counters["swapped_out"])
        return {k: v / n for k, v in {**self.stats, **self.swap_stats}.items()}

    def to_dict(self) -> dict[str, Any]:
        """Plain values (no arrays). Runtime complexity: O(counters).

        >>> from vswap.workloads import usemem
        >>> sorted(replay(usemem("1M"), "baseline", Machine(ram="512K")).to_dict())[:3]
        ['counters', 'design', 'footprint']
        """
        d = dataclasses.asdict(self)
        d.pop("pte")
        d.pop("pstate")
        return d


# -- the default machine of a trace, and whether a replay fits ------------------------

def default_machine(trace: Trace, **overrides: Any) -> Machine:
    """The machine a trace runs on by default, with ``overrides`` of any :class:`~vswap.replay.Machine` field.

    Backend zram (the report's) and RAM the record's ``ram_share``
    (:mod:`vswap.workload_registry`) of the pages
    the trace touches (at least one page): ``usemem 56G`` gets the report's
    32 GB, ``memhog 48G`` its 16 GB. Runtime complexity: O(trace events).

    >>> from vswap.workloads import usemem
    >>> default_machine(usemem("56G")).ram_pages * 4096 == 32 << 30
    True
    >>> default_machine(usemem("56G"), backend="zswap", ram="8G").backend
    'zswap'

    usemem and memhog (their records' ``global_by_default``) of at least
    :data:`GLOBAL_MIN_BYTES` on the report's
    RAM share run machine-wide (the report's runs had no cgroup:
    ``kswapd=True, accounting="none"``) unless the overrides give a cgroup
    accounting or ``kswapd=False``; with another ``ram`` only when they
    give ``accounting="none"`` (a machine-wide usemem on half its size
    would run out of memory: zram's compressed pages take the RAM):

    >>> default_machine(usemem("56G")).kswapd, default_machine(usemem("56G"), accounting="v1").kswapd
    (True, False)
    """
    from vswap.workload_registry import workload_records
    record = workload_records().get(trace.name)
    num, den = record.ram_share if record is not None else (1, 2)
    fields = {"ram": max(1, trace.pages_touched * num // den) * PAGE_SIZE, "backend": "zram"}
    if trace.pages_touched * PAGE_SIZE >= GLOBAL_MIN_BYTES:
        fields.update(global_defaults(trace.name, overrides))
    fields.update(overrides)
    return Machine(**fields)


#: The smallest usemem or memhog whose default machine is global: below it the
#: watermarks and the compressed pages would take most of a machine of the
#: report's RAM share (usemem 1M on 146 pages of RAM runs out of memory).
GLOBAL_MIN_BYTES = 1 << 30


def global_defaults(workload: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The Machine fields that make the report's benchmarks global, unless ``overrides`` say otherwise.

    Runtime complexity: O(1).

    >>> global_defaults("usemem", {"ram": "1G"}), global_defaults("usemem", {"ram": "1G", "accounting": "none"})["kswapd"]
    ({}, True)
    >>> global_defaults("usemem", {}), global_defaults("random", {})
    ({'kswapd': True, 'accounting': 'none', 'lru_gen': True}, {})

    The report's kernels ran the multi-gen LRU, so ``lru_gen`` is on too.
    """
    from vswap.workload_registry import workload_records
    record = workload_records().get(workload)
    if (record is None or not record.global_by_default or overrides.get("kswapd") is False
            or overrides.get("accounting", "none") != "none"
            or ("ram" in overrides and overrides.get("accounting") != "none")):
        return {}
    return {"kswapd": True, "accounting": "none", "lru_gen": True}


#: The bytes the replay needs per page of the trace's span (page table entry
#: and page state) and, at most, per swap slot of one design (descriptor,
#: reverse map, swap table and count), for :func:`memory_needed`.
BYTES_PER_SPAN_PAGE = 9
BYTES_PER_SWAP_SLOT = 48


def memory_needed(span: int, swap_pages: int, designs: int = 1) -> int:
    """Bytes a replay of a ``span``-page trace on ``swap_pages`` of swap needs, about: an upper estimate.

    The page tables (:data:`BYTES_PER_SPAN_PAGE` per page) and one design's
    metadata (:data:`BYTES_PER_SWAP_SLOT` per slot; one design lives at a
    time). ``designs`` is accepted for symmetry and does not multiply: the
    comparison keeps only each replay's counters. Runtime complexity: O(1).

    >>> memory_needed(1 << 20, 1 << 20) // (1 << 20)
    57
    """
    return span * BYTES_PER_SPAN_PAGE + swap_pages * BYTES_PER_SWAP_SLOT


def memory_available() -> int | None:
    """Bytes the machine can give a new allocation now (``MemAvailable``), None if unknown.

    Runtime complexity: O(1).

    >>> memory_available() is None or memory_available() > 0
    True
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(span: int, swap_pages: int) -> None:
    """MemoryError ("needs about N GiB") when a replay would not fit in the machine's memory now.

    Checked by :func:`compare` before it starts, so a huge trace fails at
    once instead of after minutes (or in the OOM killer).
    Runtime complexity: O(1).

    >>> check_memory(1 << 20, 1 << 20)
    >>> check_memory(1 << 40, 1 << 40)
    Traceback (most recent call last):
    ...
    MemoryError: the replay needs about 58,368 GiB of memory; the machine has ... GiB available
    """
    need, have = memory_needed(span, swap_pages), memory_available()
    if have is not None and need > have:
        raise MemoryError(f"the replay needs about {math.ceil(need / (1 << 30)):,} GiB of memory; "
                          f"the machine has {have / (1 << 30):,.1f} GiB available")


def machine_config(machine: Machine, trace: Trace, space: Any) -> dict[str, Any]:
    """The replay engines' settings for ``machine``, ``trace`` and the design ``space``.

    The enabled large folio orders default to those the trace touches; a
    design is taken as the baseline (an entry is a device slot, so a zero page
    on zram is on a ``SWP_SYNCHRONOUS_IO`` device) when its class says so
    (:attr:`vswap.protocol.SwapSpace.entry_is_slot`: the baseline and phase IV
    on both engines), else as virtual (an entry no device backs takes the
    read-ahead path); ``bypass`` is its
    :attr:`~vswap.protocol.SwapSpace.swapin_bypasses_swap_cache`. Runtime
    complexity: O(trace events).

    >>> from vswap.workloads import usemem
    >>> t = usemem("1M", mthp={4: 0.5})
    >>> machine_config(Machine(ram="1M"), t, None)["mthp_mask"] == 1 << 4
    True
    """
    if machine.mthp is None:
        touched = np.unique(trace.order[trace.op == 0])
        mask = sum(1 << int(k) for k in touched if k)
    else:
        mask = sum(1 << k for k in machine.mthp)
    reclaim = {"pmd": 1 << 9, "all": 0x3FE, "none": 0}[machine.large_reclaim]
    return dict(
        ram=machine.ram_pages, watermark=machine.watermark_pages, batch=machine.reclaim_batch,
        backend=machine.backend, accounting=machine.accounting,
        zswap_max=machine.zswap_pool_pages, zswap_accept=machine.zswap_accept_pages,
        csize=machine.compressed_bytes, ra_max=machine.readahead_pages, mthp_mask=mask,
        swapin_mask=0 if machine.zswap_ever_enabled else mask & 0x1FE, reclaim_mask=reclaim,
        direct=bool(getattr(space, "entry_is_slot", False)),
        bypass=bool(getattr(space, "swapin_bypasses_swap_cache", True)),
        zero_detection=machine.zero_detection, page_tables=machine.page_tables,
        **_kswapd_config(machine))


def _kswapd_config(machine: Machine) -> dict[str, Any]:
    if not machine.kswapd:
        return {}
    wm, c = machine.zone_watermarks, machine.costs
    return dict(kswapd=True, wmark_min=wm.min, wmark_low=wm.low, wmark_high=wm.high,
                file_pages=machine.file_cache_pages, swappiness=machine.swappiness,
                alloc_ns=c.alloc_ns, anon_ns=c.anon_ns, file_ns=c.file_ns,
                write_ns=c.write_ns, nap_ns=c.nap_ns, design_ns=dict(c.design_ns),
                scan_ns=c.scan_ns, ref_permille=round(machine.referenced_share * 1000),
                kswapd_anon_ns=c.kswapd_ns, anon_same_ns=c.direct_same_ns,
                kswapd_same_ns=c.kswapd_same, unmap_ns=c.unmap_ns, lru_gen=machine.lru_gen,
                direct_io_wait_ns=c.direct_io_wait_ns, kswapd_io_wait_ns=c.kswapd_io_wait_ns,
                direct_pageout_ns=c.pageout_ns, kswapd_pageout_ns=c.kswapd_pageout_ns,
                direct_wb_free_ns=c.wb_free_ns, kswapd_wb_free_ns=c.kswapd_wb_free_ns,
                missed_permille=c.missed_rotation_permille,
                transfer_ns=c.transfer_ns,
                contention=weights(tuple(SHARED), c.transfer_ns,
                                   dict(c.design_ns).get("cluster_locks", 0)))


_TPFLAGS_HEAPTYPE = 1 << 9     # CPython's Py_TPFLAGS_HEAPTYPE

#: About how many trace pages a second the reference engine replays (20 to 60 us a
#: page, by design, measured on this project's 2-vCPU machine); what the estimate
#: that long reference runs print is made of.
REFERENCE_PAGES_PER_S = 25_000


def python_overrides(space: Any) -> list[str]:
    """The protocol verbs a Python subclass of a compiled design overrides; [] for any other design.

    The compiled engine calls a compiled design's C verb table, which a
    Python subclass inherits: an override would be skipped there, and its
    parent's behaviour shown under its name. :func:`replay` runs such a
    design on the reference engine, which calls its methods. Runtime
    complexity: O(verbs).

    >>> import vswap
    >>> class Mine(vswap.VirtualSwap):
    ...     def folio_alloc_swap(self, folio, order=0, memcg=0, cpu=0):
    ...         return super().folio_alloc_swap(folio, order, memcg, cpu)
    >>> python_overrides(Mine()), python_overrides(vswap.VirtualSwap())
    (['folio_alloc_swap'], [])
    """
    from vswap.protocol import SwapSpace

    cls = type(space)
    if not hasattr(cls, "__vswap_ops__"):
        return []
    # The first compiled class: a static type, where a class statement makes a heap type.
    base = next(c for c in cls.__mro__ if not c.__flags__ & _TPFLAGS_HEAPTYPE)
    if base is cls:
        return []
    verbs = sorted(set(SwapSpace.__abstractmethods__) | {"swapon", "swapoff"})
    return [v for v in verbs if getattr(cls, v, None) is not getattr(base, v, None)]


def replay(trace: Trace, design: Any = "baseline", machine: Machine | None = None, *,
           engine: str | None = None, progress: Callable[[int], Any] | None = None,
           keep_state: bool = False) -> ReplayResult:
    """Replay ``trace`` on ``machine`` through ``design``; a :class:`ReplayResult`.

    ``design`` is a name of :data:`DESIGNS` (a fresh design is built) or
    any :class:`vswap.protocol.SwapSpace` object (yours: it is used as
    given). ``engine``: ``"compiled"`` (the C loop; needs a design with a C
    verb table, ``__vswap_ops__``), ``"reference"`` (pure Python; any
    design) or None (compiled when the design has the table). A Python
    subclass of a compiled design that overrides a verb
    (:func:`python_overrides`) runs on the reference engine, through its
    methods; ``"compiled"`` refuses it (ValueError). The default
    machine has RAM for half the trace's span. ``progress`` is called with
    the pages done, about every 2**20 pages. ``keep_state`` keeps the final
    page tables. TraceError for a trace that breaks its rules, NoSpace
    when the swap device fills. Runtime complexity: O(pages touched,
    written and freed).

    >>> from vswap.workloads import usemem
    >>> r = replay(usemem("2M"), "vss_v5", Machine(ram="1M", reclaim_batch=1), engine="reference")
    >>> r.counters["pswpout"], r.counters["free_entries"]
    (256, 256)
    """
    if not isinstance(trace, Trace):
        raise TypeError(f"trace must be a vswap.workloads.Trace, not {type(trace).__name__}")
    if machine is None:
        machine = Machine(ram=max(1, trace.nr_pages // 2) * PAGE_SIZE)
    if not isinstance(machine, Machine):
        raise TypeError(f"machine must be a vswap.replay.Machine, not {type(machine).__name__}")
    if engine not in (None, "compiled", "reference"):
        raise ValueError(f"engine must be 'compiled' or 'reference', not {engine!r}")
    span = trace.nr_pages
    if isinstance(design, str):
        name = design
        space = make_design(name, machine, span, reference=engine == "reference")
    else:
        name, space = type(design).__name__, design
    overrides = python_overrides(space)
    if engine is None:
        engine = ("compiled" if hasattr(space, "__vswap_ops__") and not overrides
                  else "reference")
    elif engine == "compiled" and overrides:
        raise ValueError(f"{type(space).__name__} overrides {', '.join(overrides)} of its compiled "
                         f"parent in Python; the compiled engine would call the parent's C "
                         f"verbs instead: use engine='reference' (or leave engine unset)")
    run = _replay.replay_trace if engine == "compiled" else ref_replay.replay_trace
    out = run(space, trace.op, trace.vpn, trace.nr, trace.order, trace.content, trace.cpu,
              span=span, progress=progress, **machine_config(machine, trace, space),
              memcg=1 if trace.memcgs is None else trace.page_memcgs(), src=trace.src)
    times = dict(out["times"])
    times["write_s"] = times["total_s"] - times["free_s"]
    swaps = getattr(space, "swaps", None)
    return ReplayResult(
        design=name, workload=trace.name, machine=machine.to_dict(),
        counters=out["counters"], stats=dict(space.stats),
        swap_stats=dict(swaps.stats) if swaps is not None else {},
        times=times, footprint=dict(out["footprint"]),
        pte=out["pte"] if keep_state else None, pstate=out["pstate"] if keep_state else None,
        at_free=out.get("at_free"))
