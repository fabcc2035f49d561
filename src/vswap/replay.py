"""Replay a workload trace through a swap design: :func:`replay`.

The memory model between a workload (:mod:`vswap.workloads`) and a design
(:class:`vswap.protocol.SwapSpace`), the same for every design:

- **Page tables**: per virtual page its state (not mapped, resident, swapped,
  swapped with a read-ahead copy in the swap cache) and its swap entry.
- **Reclaim**: resident folios sit on one FIFO LRU (write-once pages make
  the LRU a FIFO). A fault that would pass :attr:`Machine.ram` first
  reclaims from the LRU's head until the resident pages fit below
  ``ram - watermark``, at least ``reclaim_batch`` pages per call
  (``SWAP_CLUSTER_MAX``; each call is one ``allocstall``).
- **Swap-out** of a folio (``shrink_folio_list``): ``folio_alloc_swap`` (a
  large folio whose aligned run is not free is split and its pages swapped
  one by one: ``thp_swpout_fallback``), ``swap_duplicate`` for the PTEs,
  then the backend: a zero page goes to the zeromap (``zero_store``) when
  :attr:`Machine.zero_detection` is on; else zswap (``zswap_store``, and
  the oldest zswap pages are written back to the device once the pool
  passes :attr:`Machine.zswap_pool`), or the device itself (``writeback``:
  zram or a swapfile); finally the folio leaves the swap cache
  (``swap_cache_del_folio`` with a shadow, ``put_swap_folio``).
- **Swap-in**, on a write to a swapped page: ``lookup``; the page is read
  (``swapcache_prepare`` + ``swap_cache_add_folio``), mapped, and, being
  written, its entry is freed (``swap_free_nr``, then ``folio_free_swap``:
  delete from the cache and put). VMA read-ahead brings the next swapped
  pages of the same PMD into the swap cache (``swap_ra``), up to
  :attr:`Machine.readahead` pages; a later fault on one is a ``swap_ra_hit``.
- **Free** at munmap or exit: the PTEs are zapped in ascending order, swap
  PTEs through ``free_swap_and_cache_nr`` in runs of consecutive entries
  within one PMD (``swap_pte_batch``), which also reclaims read-ahead folios.

Not modelled: concurrency and locks (the counters count lock sections
instead), kswapd (all reclaim is direct), the LRU's active list and
refaults, compression sizes (zswap's pool is counted in pages), I/O time.

>>> import vswap
>>> from vswap.workloads import usemem
>>> r = replay(usemem("4M"), "cc_v2", Machine(ram="2M", reclaim_batch=1))
>>> r.counters["pswpout"], r.counters["pswpin"]
(512, 0)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from vswap import _replay
from vswap.reference import replay as ref_replay
from vswap.workloads import PAGE_SIZE, Trace, parse_size

#: The memory model's counters (the same in both engines).
COUNTER_NAMES: tuple[str, ...] = tuple(_replay.COUNTER_NAMES)

__all__ = ["Machine", "ReplayResult", "replay", "make_design", "DESIGNS", "BACKENDS",
           "COUNTER_NAMES"]

#: The report's builds: mainline (``baseline``) and the three virtual swap presets.
DESIGNS = ("baseline", "vss_v5", "new_opt_v2", "cc_v2")
# --- issue 15 hook (to be redirected to vswap.designs.register_design) -------------
#: Designs proposed since the report, by name and class: accepted wherever a
#: design is named, but not in the default list.
EXTRA_DESIGNS = {"swaptable_p4": "SwapTableP4"}
# --- end of the issue 15 hook ---------------------------------------------------------
#: Swap backends: zram (one device with same-filled detection), zswap in
#: front of a swapfile, or a swapfile alone.
BACKENDS: tuple[str, ...] = tuple(_replay.BACKENDS)


def _pages(size: int | str, what: str) -> int:
    try:
        nbytes = parse_size(size)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{what}: {exc}") from None
    return -(-nbytes // PAGE_SIZE)


@dataclasses.dataclass(frozen=True)
class Machine:
    """The machine a trace runs on: RAM, swap, backend and reclaim policy.

    Sizes take the kernel's notation (``"32G"``) or a number of bytes.

    - ``ram``: memory the workload may keep resident.
    - ``swap``: size of the swap device (default: the trace's whole span,
      so only a deliberate setting runs out).
    - ``backend``: one of :data:`BACKENDS`.
    - ``zswap_pool``: pages zswap holds before writing the oldest back
      (default: 20% of RAM at a 3:1 compression ratio, i.e. 60% of RAM in
      pages; the kernel's ``max_pool_percent`` is 20).
    - ``zero_detection``: zero pages go to the zeromap (since Linux 6.12).
    - ``readahead``: the VMA read-ahead window in pages (default 1, none,
      for zram, whose ``SWP_SYNCHRONOUS_IO`` swap-in skips read-ahead;
      8 = ``page-cluster`` 3 for the others).
    - ``reclaim_batch``: pages reclaimed at least per reclaim call.
    - ``watermark``: reclaim this far below ``ram``.

    Runtime complexity: O(1).

    >>> Machine(ram="32G").ram_pages
    8388608
    >>> Machine(ram="1G", backend="zswap").readahead_pages
    8
    """

    ram: int | str
    swap: int | str | None = None
    backend: str = "zram"
    zswap_pool: int | str | None = None
    zero_detection: bool = True
    readahead: int | None = None
    reclaim_batch: int = 32
    watermark: int | str = 0

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {self.backend!r}")
        if self.ram_pages < 1:
            raise ValueError("ram must be at least one page")
        for name in ("reclaim_batch", "readahead"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
                raise TypeError(f"{name} must be an int, not {type(v).__name__}")
        if self.reclaim_batch < 1:
            raise ValueError("reclaim_batch must be at least 1")
        if self.readahead is not None and not 1 <= self.readahead <= 512:
            raise ValueError("readahead must be 1 .. 512 pages (one PMD)")
        if not isinstance(self.zero_detection, bool):
            raise TypeError("zero_detection must be a bool")
        if self.watermark_pages >= self.ram_pages:
            raise ValueError("watermark must be below ram")
        self.swap_pages_for(0)
        self.zswap_pool_pages  # noqa: B018 - validates

    @property
    def ram_pages(self) -> int:
        """RAM in pages. Runtime complexity: O(1).

        >>> Machine(ram="8M").ram_pages
        2048
        """
        return _pages(self.ram, "ram")

    @property
    def watermark_pages(self) -> int:
        """The watermark in pages. Runtime complexity: O(1).

        >>> Machine(ram="8M", watermark="1M").watermark_pages
        256
        """
        return _pages(self.watermark, "watermark") if self.watermark else 0

    @property
    def zswap_pool_pages(self) -> int:
        """zswap pages before writeback. Runtime complexity: O(1).

        >>> Machine(ram="10M").zswap_pool_pages
        1536
        """
        if self.zswap_pool is None:
            return self.ram_pages * 20 // 100 * 3
        return _pages(self.zswap_pool, "zswap_pool")

    @property
    def readahead_pages(self) -> int:
        """The read-ahead window in pages. Runtime complexity: O(1).

        >>> Machine(ram="8M").readahead_pages
        1
        """
        if self.readahead is not None:
            return self.readahead
        return 1 if self.backend == "zram" else 8

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
        return {**dataclasses.asdict(self), "ram_pages": self.ram_pages,
                "zswap_pool_pages": self.zswap_pool_pages,
                "readahead_pages": self.readahead_pages, "watermark_pages": self.watermark_pages}


def make_design(name: str, machine: Machine, span: int, *, reference: bool = False) -> Any:
    """A fresh design of :data:`DESIGNS` with one swap device sized for ``span`` pages.

    ``baseline`` is :class:`vswap.DirectSwap`; the others are
    :meth:`vswap.VirtualSwap.preset`. ``reference=True`` builds the
    pure-Python twin. Runtime complexity: O(swap pages).

    >>> make_design("cc_v2", Machine(ram="8M"), 4096).switches["mru_cluster_cache"]
    True
    """
    if reference:
        from vswap import reference as mod
    else:
        import vswap as mod
    if name not in DESIGNS and name not in EXTRA_DESIGNS:
        raise ValueError(f"unknown design {name!r}; choose from "
                         f"{', '.join((*DESIGNS, *EXTRA_DESIGNS))}")
    swaps = mod.SwapDevices([mod.SwapDevice(machine.swap_pages_for(span), name=machine.backend)])
    if name in EXTRA_DESIGNS:
        return getattr(mod, EXTRA_DESIGNS[name])(swaps)
    if name == "baseline":
        return mod.DirectSwap(swaps)
    return mod.VirtualSwap.preset(name, swaps)


@dataclasses.dataclass
class ReplayResult:
    """What one replay measured.

    ``counters`` are the memory model's (:data:`COUNTER_NAMES`), ``stats``
    the design's own work counters and ``swap_stats`` its allocator's (all
    deterministic: the same on every run and in both engines), ``times``
    the wall-clock seconds (``total_s``, ``free_s`` for the FREE events,
    ``write_s`` for the rest), ``footprint`` the design's kernel-equivalent
    metadata bytes just before the first free (its peak for usemem and
    memhog). ``pte`` and ``pstate`` are the final page tables and page
    states when asked for. Runtime complexity: O(1).

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

    def per_swapped_page(self) -> dict[str, float]:
        """The design's counters divided by the pages swapped out. Runtime complexity: O(counters).

        >>> from vswap.workloads import usemem
        >>> r = replay(usemem("1M"), "vss_v5", Machine(ram="512K"))
        >>> round(r.per_swapped_page()["cgroup_checks"], 2)
        1.0
        """
        n = max(1, self.counters["pswpout"])
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


def replay(trace: Trace, design: Any = "baseline", machine: Machine | None = None, *,
           engine: str | None = None, progress: Callable[[int], Any] | None = None,
           keep_state: bool = False) -> ReplayResult:
    """Replay ``trace`` on ``machine`` through ``design``; a :class:`ReplayResult`.

    ``design`` is a name of :data:`DESIGNS` (a fresh design is built) or
    any :class:`vswap.protocol.SwapSpace` object (yours: it is used as
    given). ``engine``: ``"compiled"`` (the C loop; needs a design with a C
    verb table, ``__vswap_ops__``), ``"reference"`` (pure Python; any
    design) or None (compiled when the design has the table). The default
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
    if engine is None:
        engine = "compiled" if hasattr(space, "__vswap_ops__") else "reference"
    run = _replay.replay_trace if engine == "compiled" else ref_replay.replay_trace
    out = run(space, trace.op, trace.vpn, trace.nr, trace.order, trace.content, trace.cpu,
              span=span, ram=machine.ram_pages, watermark=machine.watermark_pages,
              batch=machine.reclaim_batch, backend=machine.backend,
              zswap_pool=machine.zswap_pool_pages, readahead=machine.readahead_pages,
              zero_detection=machine.zero_detection, progress=progress)
    times = dict(out["times"])
    times["write_s"] = times["total_s"] - times["free_s"]
    swaps = getattr(space, "swaps", None)
    return ReplayResult(
        design=name, workload=trace.name, machine=machine.to_dict(),
        counters=out["counters"], stats=dict(space.stats),
        swap_stats=dict(swaps.stats) if swaps is not None else {},
        times=times, footprint=dict(out["footprint"]),
        pte=out["pte"] if keep_state else None, pstate=out["pstate"] if keep_state else None)
