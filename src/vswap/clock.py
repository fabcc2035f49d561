"""The kernel clock: what a design's replay would cost in the kernel's seconds.

The replay's own CPU time (:attr:`vswap.replay.ReplayResult.times`) times the
swap layer alone, on metadata that sits in the CPU cache. The kernel spends
most of a swapped page elsewhere: the fault and the zeroing, reclaim (LRU,
unmap, TLB flush, swap cache), compression and zsmalloc, the free. The
clock prices each event a replay counts with a machine's measured cost and
adds them up, in the report's columns:

- :class:`CostProfile`: a machine's cost of each event in ns, with its
  uncertainty and where it came from (``vswap calibrate`` measured it, a
  microbenchmark, or an estimate that says so), its cache size (the
  :class:`Host`), saved as JSON (:data:`FORMAT`);
- :func:`predict`: a :class:`Prediction` from a
  :class:`~vswap.replay.ReplayResult` and a profile: ``sys_s``, ``user_s``,
  ``real_s``, ``tput_kbs``, ``free_ms``, split by phase (write, free), with
  where the time goes (:meth:`Prediction.breakdown`);
- :func:`per_page_costs`: the profile's cost of faulting a page in and of
  reclaiming one (what a kswapd model needs).

Three kinds of events (:data:`EVENTS`):

- *kernel* events, from the memory model's counters
  (:data:`vswap.replay.COUNTER_NAMES`): faults, zeroing, reclaim,
  compression per content class and backend, swap-in, read-ahead, frees;
  the same for every design that does the same memory work, and priced by
  fitting the baseline kernel's times (``vswap calibrate``);
- *design* events, from a design's own work counters (lookups, node visits,
  descriptor and table accesses, cluster locks, ...), priced by
  microbenchmarks of the compiled structures with their metadata in cache;
- *metadata misses*: the cache lines of a design's metadata first touched
  in a phase (``entries touched * bytes per entry / 64``) miss the cache
  with probability :func:`miss_ratio` of the metadata's footprint against
  the host's last-level cache, each at the profile's ``metadata_miss`` cost
  (measured by the same microbenchmarks on a footprint beyond the cache).
  At test sizes a design's metadata fits in the LLC and the ratio is 0; the
  report's 56 GB puts hundreds of MB of descriptors beyond it.

On a machine-wide replay (``Machine(kswapd=True)``) kswapd's pages are
priced at ``kswapd_page`` on a clock of their own (:attr:`Prediction.kswapd_s`:
kswapd0's CPU, measured by ``vswap calibrate``'s global runs), not in the
task's sys or real: the stores kswapd did are taken out of the task's store
events (their ``_task`` share). Direct reclaim and its stalls are the task's
sys and real, at the store events' costs. The design's own counters stay
with the task (the replay does not split them by actor).

Not in the clock: lock contention between reclaimers (kswapd beside the
faulting task; a cluster lock is priced uncontended; the machine-wide
replay's own clocks hold it, :mod:`vswap.contention`), the page allocator's
and compaction's work beyond a fault, the
zsmalloc pool's compaction, and device wait (a swapfile's I/O is
``io_page`` on the real clock only). A counter the profile does not price
is listed in :attr:`Prediction.unpriced`, never silently dropped.

>>> from vswap.replay import replay, Machine
>>> from vswap.workloads import usemem
>>> p = predict(replay(usemem("4M"), "baseline", Machine(ram="2M")), default_profile())
>>> p.sys_s > 0 and p.free_ms > 0 and p.real_s >= p.sys_s
True
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import IO, Any, Mapping

from vswap.workloads import PAGE_SIZE

__all__ = ["FORMAT", "CostProfile", "Cost", "Host", "Event", "EVENTS", "Prediction", "predict",
           "per_page_costs", "miss_ratio", "default_profile", "load_profile", "DEFAULT_PROFILE",
           "ProfileError", "PREDICTED_KEYS", "CACHE_LINE", "resolve_profile", "model_fields",
           "phase_counters"]

#: The ``format`` of a profile file; another is refused (:class:`ProfileError`).
#: Version 2 adds kswapd's own cost (``kswapd_page``, on the ``kswapd``
#: clock); a version-1 file still loads, with kswapd's pages unpriced.
FORMAT = "vswap-cost-profile/2"
#: The formats :meth:`CostProfile.from_dict` reads.
READ_FORMATS = ("vswap-cost-profile/1", FORMAT)
#: The keys of a prediction in compare's rows and the kernel result's ``model``.
PREDICTED_KEYS = ("sys_s", "user_s", "real_s", "tput_kbs", "free_ms")
#: Bytes of a cache line.
CACHE_LINE = 64
#: The profile shipped with vswap (measured by ``vswap calibrate`` on the
#: project's reference machine): package data.
DEFAULT_PROFILE = os.path.join(os.path.dirname(__file__), "profiles", "reference.json")
_USEMEM_CREDIT = 1.125      # usemem's KB/s counts size/8 more bytes than it writes


class ProfileError(ValueError):
    """A profile file or dict that is not a vswap cost profile, or is damaged."""


@dataclasses.dataclass(frozen=True)
class Event:
    """One priced event: ``name``, ``kind`` (kernel, design or miss), ``clock`` (sys, user or io) and ``doc``.

    ``counters`` are the counters whose sum counts it (a leading ``-``
    subtracts one); ``backends`` the swap backends it happens on (None:
    all). Runtime complexity: O(1).

    >>> EVENTS["reclaim_page"].counters
    ('pgsteal', '-pgsteal_kswapd')
    """

    name: str
    kind: str
    clock: str
    counters: tuple[str, ...]
    doc: str
    backends: tuple[str, ...] | None = None

    def count(self, counters: Mapping[str, int]) -> int:
        """The event's count in ``counters`` (never below 0). Runtime complexity: O(counters named).

        >>> EVENTS["fault_folio"].count({"pgfault": 10, "pgmajfault": 3, "swap_ra_hit": 2})
        5
        """
        n = 0
        for c in self.counters:
            n += -int(counters.get(c[1:], 0)) if c.startswith("-") else int(counters.get(c, 0))
        return max(0, n)


def _ev(name, kind, clock, counters, doc, backends=None):
    return name, Event(name, kind, clock, tuple(counters), doc, backends)


#: Every event the clock prices, by name: the memory model's (kernel), the
#: designs' (design) and the metadata misses (miss).
EVENTS: dict[str, Event] = dict([
    # -- the memory model's counters: what the kernel does for every design alike
    _ev("fault_folio", "kernel", "sys", ("pgfault", "-pgmajfault", "-swap_ra_hit"),
        "an anonymous first-touch fault, per folio (do_anonymous_page, the charge, the PTE)"),
    _ev("zero_page_fill", "kernel", "sys", ("pages_touched",),
        "clear_page of a newly faulted page, per 4 KiB"),
    _ev("user_write_page", "kernel", "user", ("pages_written",),
        "the program's own stores to a page (usemem's words, memhog's memset), user time"),
    _ev("reclaim_call", "kernel", "sys", ("reclaim_calls",),
        "one reclaim call (try_to_free_mem_cgroup_pages / shrink_node setup)"),
    _ev("reclaim_page", "kernel", "sys", ("pgsteal", "-pgsteal_kswapd"),
        "the task's reclaim of one page (direct, or a cgroup's): LRU isolation, rmap unmap, "
        "TLB flush, swap cache add and delete"),
    _ev("kswapd_page", "kernel", "kswapd", ("pgsteal_kswapd",),
        "kswapd's reclaim of one page on its own CPU, all in (its scans, unmap, the store or "
        "write, the free): the machine's time, not the task's sys"),
    _ev("zram_store_data", "kernel", "sys", ("zram_comp_task",),
        "zram: compress a DATA page and store it in zsmalloc (the task's reclaim)"),
    _ev("zram_store_same", "kernel", "sys", ("zram_same_task",),
        "zram: a same-filled page detected and stored as its fill word (the task's reclaim)"),
    _ev("zero_store", "kernel", "sys", ("zero_pages_task",),
        "a zero page detected at swap-out and kept in the zeromap (no I/O; the task's reclaim)"),
    _ev("zswap_store", "kernel", "sys", ("zswpout_task",),
        "zswap: compress and store a page (the task's reclaim)"),
    _ev("zswap_load", "kernel", "sys", ("zswpin",), "zswap: load and decompress a page"),
    _ev("zswap_writeback", "kernel", "sys", ("zswpwb",),
        "zswap: write a stored page back to the swapfile"),
    _ev("device_write_page", "kernel", "sys", ("pswpout_task", "-zram_comp_task",
                                                "-zram_same_task"),
        "a page written to a swapfile (bio setup; the device's time is io_page)",
        ("swapfile", "zswap")),
    _ev("swapin_sync_page", "kernel", "sys", ("swapin_sync",),
        "zram's synchronous swap-in of a page (no swap cache): decompress, map"),
    _ev("swapin_zero_page", "kernel", "sys", ("swapin_zero",), "swap-in of a zero page"),
    _ev("swapin_zswap_page", "kernel", "sys", ("swapin_zswap",), "swap-in from zswap"),
    _ev("swapin_swapfile_page", "kernel", "sys", ("swapin_swapfile",),
        "swap-in from a swapfile through the swap cache"),
    _ev("readahead_page", "kernel", "sys", ("swap_ra",),
        "a page read ahead into the swap cache (allocation, read, LRU)"),
    _ev("majfault", "kernel", "sys", ("pgmajfault",),
        "a major fault's own work beyond the page it reads (do_swap_page)"),
    _ev("free_swap_entry", "kernel", "sys", ("free_entries",),
        "munmap of a swapped-out page: zap the swap PTE, free the entry and its backing"),
    _ev("free_resident_page", "kernel", "sys", ("free_resident",),
        "munmap of a resident page: zap the PTE, uncharge, free to the buddy allocator"),
    _ev("free_compressed_entry", "kernel", "sys", ("free_entries_compressed",),
        "the compressed copy's release when a swap entry is freed at munmap (zs_free): "
        "free_entries times the write phase's share of compressed pages"),
    _ev("free_batch", "kernel", "sys", ("free_batches",),
        "one batch of the free path (swap_pte_batch, free_swap_and_cache_nr)"),
    _ev("io_page", "kernel", "io", ("pswpin", "pswpout_task", "-zram_comp_task",
                                     "-zram_same_task", "-swapin_sync"),
        "device wait per page read or written on a swapfile (real time, not sys)",
        ("swapfile", "zswap")),
    # -- the designs' own work counters
    # zswap's own tree (the slot designs, STE v1) is walked inside the measured zswap events
    # too: pricing its walks again overstates those designs by one walk per zswap event, which
    # is what STE v2 (no tree) saves, so the difference between the designs is right
    _ev("xa_walk", "design", "sys", ("lookups", "zswap_walks"),
        "one xarray walk's fixed part (root, call); zswap's tree too"),
    _ev("xa_node_visit", "design", "sys", ("node_visits",), "one xarray node entered in a walk"),
    _ev("mru_check", "design", "sys", ("mru_hits", "mru_misses", "vcache_hits", "vcache_misses"),
        "a per-CPU MRU (or cached ghost) cluster compared before a walk"),
    _ev("desc_access", "design", "sys", ("desc_reads", "desc_writes"),
        "a 24-byte swap descriptor read or written, in cache"),
    _ev("table_access", "design", "sys", ("table_reads", "table_writes", "rmap_reads",
                                           "rmap_writes", "vtable_reads", "vtable_writes",
                                           "memcg_writes"),
        "a swap-table (reverse-map, virtual-table or memcg-table) word read or written, in cache"),
    _ev("cluster_lock", "design", "sys", ("cluster_locks",),
        "an uncontended cluster spin_lock / spin_unlock pair (two atomic operations)"),
    _ev("check", "design", "sys", ("cgroup_checks", "cache_only_checks"),
        "a memcg or cache-only comparison (its lookup and reads are counted apart)"),
    _ev("alloc_scan", "design", "sys", ("scans", "alloc_scans", "clusters_allocated"),
        "one cluster examined by an allocator or a reclaim scan, or taken off the free list"),
    _ev("alloc_call", "design", "sys", ("phys_allocs", "phys_frees", "memcg_tables_allocated",
                                         "extend_tables_allocated"),
        "a call into the physical allocator from the virtual layer, or a cluster's side table "
        "allocated"),
    # -- the metadata's cache misses (see miss_ratio)
    _ev("metadata_miss", "miss", "sys", (),
        "a cache line of a design's metadata first touched in a phase that misses the LLC"),
])

#: Counters of the model or the designs that are state, not work, or are
#: counted by another event: never priced, never reported as unpriced.
_NOT_WORK = frozenset({
    "resident", "zswap_pool", "page_tables", "swapped_out", "pages_touched_", "pgfault",
    "pswpin", "pswpout", "zswap_rejected", "allocstall", "swap_ra_hit", "thp_swpout",
    "thp_swpout_fallback", "slots_freed", "folios_reclaimed", "pte_walked", "fast_frees",
    "cont_pages_allocated", "clusters_freed",
    # a path taken, not work: the bypassing swap-in's work is swapin_sync_page
    "swapin_bypass",
    # the virtual layer's shared-line acquisitions: their uncontended work is in the lock
    # sections and allocations counted apart; what two reclaimers wait on them is
    # vswap.contention's, on a machine-wide replay (lock_wait_ns)
    "global_locks", "used_updates",
    # the physical allocator's path counts: its work is in reclaim_page for every design
    "fast_hits", "slow_path", "requeues", "fallthroughs", "failures",
    # machine-wide reclaim: the replay's own clocks (Machine.costs orders the two actors'
    # events in time; the clock prices the events themselves), the scans of pages kept (in
    # the per-page costs, measured per page reclaimed), direct reclaim's steals (pgsteal less
    # kswapd's), kswapd's naps, the page cache left
    "kswapd_ns", "task_ns", "stall_ns", "lock_wait_ns", "interference_ns", "pgscan",
    "stall_io_wait_ns", "kswapd_io_wait_ns",
    "pgscan_kswapd", "pgscan_direct", "pgsteal_direct", "kswapd_low_wmark_hit_quickly",
    "kswapd_high_wmark_hit_quickly", "file_resident",
    # the per-actor shares of the store counters (derived): their totals are counted
    "zram_comp", "zram_same", "zero_pages", "zswpout",
})
#: Store counters whose share done by kswapd is kswapd's time (``kswapd_page``), not the
#: task's: each gets a ``_task`` twin, its count times the task's share of the steals.
_TASK_SHARED = ("zram_comp", "zram_same", "zero_pages", "zswpout", "pswpout")


@dataclasses.dataclass(frozen=True)
class Cost:
    """One event's cost: ``ns`` per event, ``sd`` its uncertainty (1 sigma), ``source`` where it came from.

    Runtime complexity: O(1).

    >>> Cost(12.5, 1.0, "estimate").ns
    12.5
    """

    ns: float
    sd: float
    source: str

    def __post_init__(self) -> None:
        for f in ("ns", "sd"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ProfileError(f"cost {f} must be a number, not {type(v).__name__}")
            if not math.isfinite(v) or v < 0:
                raise ProfileError(f"cost {f} must be finite and >= 0, not {v}")
        if not isinstance(self.source, str) or not self.source:
            raise ProfileError("every cost needs a source: where its number came from")


@dataclasses.dataclass(frozen=True)
class Host:
    """The facts of a machine a profile describes: ``name``, ``llc_bytes`` (last-level cache),
    ``mem_latency_ns`` (a cache miss to DRAM, measured or published), ``cpus``, ``ghz``.

    What :meth:`CostProfile.scaled` scales a profile by. Runtime complexity: O(1).

    >>> Host("laptop", llc_bytes=16 << 20, mem_latency_ns=90.0, cpus=8, ghz=3.0).cpus
    8
    """

    name: str
    llc_bytes: int
    mem_latency_ns: float
    cpus: int
    ghz: float

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise ProfileError("host name must be a str")
        for f, kind in (("llc_bytes", int), ("cpus", int)):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, kind) or v < 1:
                raise ProfileError(f"host {f} must be a positive int, not {v!r}")
        for f in ("mem_latency_ns", "ghz"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf:
                raise ProfileError(f"host {f} must be a positive number, not {v!r}")


@dataclasses.dataclass
class CostProfile:
    """A machine's cost per event (:data:`EVENTS`) in ns: ``name``, ``host``, ``costs``, ``provenance``.

    ``provenance`` says how the profile was made (command, date, kernel,
    the fit's residuals and runs); each :class:`Cost` says where its own
    number came from. An event without a cost is *unpriced*: a prediction
    lists it. :meth:`save` / :func:`load_profile` write and read JSON
    (:data:`FORMAT`); :class:`ProfileError` (a ValueError) for a file that
    is not a profile, of another format, or damaged. Runtime complexity:
    O(events).

    >>> p = default_profile()
    >>> CostProfile.from_dict(p.to_dict()) == p
    True
    """

    name: str
    host: Host
    costs: dict[str, Cost]
    provenance: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ProfileError("a profile needs a name")
        if not isinstance(self.host, Host):
            raise ProfileError("host must be a vswap.clock.Host")
        unknown = sorted(set(self.costs) - set(EVENTS))
        if unknown:
            raise ProfileError(f"profile {self.name}: unknown event {unknown[0]!r}; "
                               f"events: {', '.join(EVENTS)}")
        for k, c in self.costs.items():
            if not isinstance(c, Cost):
                raise ProfileError(f"profile {self.name}: cost of {k} must be a Cost")

    def ns(self, event: str) -> float:
        """The cost of ``event`` in ns (0.0 when unpriced). Runtime complexity: O(1).

        >>> default_profile().ns("zram_store_data") > 0, default_profile().ns("no such event")
        (True, 0.0)
        """
        c = self.costs.get(event)
        return c.ns if c is not None else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values, with :data:`FORMAT`. Runtime complexity: O(events).

        >>> default_profile().to_dict()["format"]
        'vswap-cost-profile/2'
        """
        return {"format": FORMAT, "name": self.name, "host": dataclasses.asdict(self.host),
                "costs": {k: dataclasses.asdict(v) for k, v in self.costs.items()},
                "provenance": self.provenance}

    @classmethod
    def from_dict(cls, d: Any) -> CostProfile:
        """The profile of :meth:`to_dict`; ProfileError for anything else. Runtime complexity: O(events).

        >>> CostProfile.from_dict({"format": "vswap-kernel-result/1"})
        Traceback (most recent call last):
        ...
        vswap.clock.ProfileError: not a vswap cost profile (format 'vswap-kernel-result/1'; expected 'vswap-cost-profile/2')
        """
        if not isinstance(d, dict):
            raise ProfileError(f"not a vswap cost profile (a {type(d).__name__}, not an object)")
        if d.get("format") not in READ_FORMATS:
            raise ProfileError(f"not a vswap cost profile (format {d.get('format')!r}; "
                               f"expected {FORMAT!r})")
        missing = [k for k in ("name", "host", "costs") if k not in d]
        if missing:
            raise ProfileError(f"cost profile lacks {', '.join(missing)}")
        host, costs = d["host"], d["costs"]
        if not isinstance(host, dict) or not isinstance(costs, dict):
            raise ProfileError("cost profile: host and costs must be objects")
        try:
            h = Host(**host)
            cs = {}
            for k, v in costs.items():
                if not isinstance(v, dict):
                    raise ProfileError(f"cost of {k} must be an object with ns, sd, source")
                cs[k] = Cost(**v)
        except TypeError as exc:
            raise ProfileError(f"cost profile: {exc}") from None
        prov = d.get("provenance", {})
        if not isinstance(prov, dict):
            raise ProfileError("cost profile: provenance must be an object")
        return cls(name=d["name"], host=h, costs=cs, provenance=prov)

    def to_json(self, path_or_file: str | os.PathLike | IO[str] | None = None) -> str | None:
        """As indented JSON: the text without an argument, else written. Runtime complexity: O(events).

        >>> CostProfile.from_json(default_profile().to_json()).name == default_profile().name
        True
        """
        text = json.dumps(self.to_dict(), indent=1, sort_keys=False) + "\n"
        if path_or_file is None:
            return text
        if hasattr(path_or_file, "write"):
            path_or_file.write(text)
        else:
            with open(path_or_file, "w", encoding="utf-8") as f:
                f.write(text)
        return None

    save = to_json

    @classmethod
    def from_json(cls, text: str) -> CostProfile:
        """The profile in a JSON text; ProfileError otherwise. Runtime complexity: O(size).

        >>> CostProfile.from_json("{")
        Traceback (most recent call last):
        ...
        vswap.clock.ProfileError: not a vswap cost profile: not JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))
        """
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProfileError(f"not a vswap cost profile: not JSON ({exc})") from None
        return cls.from_dict(d)

    def scaled(self, host: Host) -> CostProfile:
        """This profile moved to another ``host`` from public facts.

        Events that compute (kernel and design events) scale with the clock
        rate, ``self.host.ghz / host.ghz``; ``metadata_miss`` with the memory
        latency, ``host.mem_latency_ns / self.host.mem_latency_ns``; the
        cache size is the new host's (so :func:`miss_ratio` changes with
        it). Each cost's source says it was scaled. A first-order estimate:
        measure the host with ``vswap calibrate`` when you can. Runtime
        complexity: O(events).

        >>> p = default_profile()
        >>> slow = p.scaled(dataclasses.replace(p.host, name="half", ghz=p.host.ghz / 2))
        >>> round(slow.ns("zram_store_data") / p.ns("zram_store_data"), 6)
        2.0
        """
        cpu = self.host.ghz / host.ghz
        mem = host.mem_latency_ns / self.host.mem_latency_ns
        costs = {}
        for k, c in self.costs.items():
            f = mem if EVENTS[k].kind == "miss" else cpu
            costs[k] = Cost(c.ns * f, c.sd * f, f"{c.source}; scaled x{f:.3g} from "
                                                f"{self.host.name} to {host.name}")
        prov = {**self.provenance, "scaled_from": self.name,
                "scaling": {"cpu_factor": cpu, "memory_factor": mem}}
        return CostProfile(name=f"{self.name}@{host.name}", host=host, costs=costs,
                           provenance=prov)


def load_profile(path: str | os.PathLike) -> CostProfile:
    """A profile file (``vswap calibrate --out``); OSError or ProfileError. Runtime complexity: O(size).

    >>> load_profile(DEFAULT_PROFILE).name
    'reference'
    """
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return CostProfile.from_json(text)
    except ProfileError as exc:
        raise ProfileError(f"{os.fspath(path)}: {exc}") from None


_DEFAULT: list[CostProfile] = []


def default_profile() -> CostProfile:
    """The shipped profile (:data:`DEFAULT_PROFILE`), read once. Runtime complexity: O(1) after the first call.

    >>> default_profile().provenance["command"].startswith("vswap calibrate")
    True
    """
    if not _DEFAULT:
        _DEFAULT.append(load_profile(DEFAULT_PROFILE))
    return _DEFAULT[0]


def resolve_profile(profile: Any) -> CostProfile:
    """A CostProfile from what a caller gives: a profile, the path of a profile file, or None (the default).

    OSError, ProfileError (a ValueError) or TypeError otherwise. Runtime
    complexity: O(size of the file).

    >>> resolve_profile(None) is default_profile()
    True
    >>> resolve_profile(3)
    Traceback (most recent call last):
    ...
    TypeError: profile must be a CostProfile, the path of a profile file or None, not int
    """
    if profile is None:
        return default_profile()
    if isinstance(profile, CostProfile):
        return profile
    if isinstance(profile, (str, os.PathLike)):
        return load_profile(profile)
    raise TypeError(f"profile must be a CostProfile, the path of a profile file or None, "
                    f"not {type(profile).__name__}")


def miss_ratio(footprint_bytes: float, llc_bytes: float) -> float:
    """The share of a structure's cold cache lines that miss a cache of ``llc_bytes``.

    Cold lines are spread evenly over the structure, so a footprint ``F`` in
    a cache ``C`` keeps ``C / F`` of them: ``max(0, 1 - C / F)``. Never
    smaller for a larger footprint or a smaller cache. Runtime complexity:
    O(1).

    >>> miss_ratio(1 << 20, 32 << 20), round(miss_ratio(320 << 20, 32 << 20), 2)
    (0.0, 0.9)
    """
    if footprint_bytes <= llc_bytes or footprint_bytes <= 0:
        return 0.0
    return 1.0 - llc_bytes / footprint_bytes


# ------------------------------------------------------------------------- prediction

@dataclasses.dataclass
class Prediction:
    """What the kernel would spend on one replay, per the profile: the report's columns and phases.

    ``sys_s``, ``user_s``, ``real_s`` (seconds of the whole run),
    ``tput_kbs`` (usemem's formula for usemem: credited bytes written / KiB
    / the write phase's real time), ``free_ms`` (the free phase's real
    time); ``phases`` ``{"write": {...}, "free": {...}}`` with ``sys_s``,
    ``user_s``, ``real_s`` each; ``items`` per phase ``(event, count, ns,
    seconds)``; ``unpriced`` the work counters with a count and no price;
    ``kswapd_s`` kswapd's CPU on a machine-wide replay (its own CPU: the
    machine's time, in neither the task's ``sys_s`` nor its ``real_s``).
    Runtime complexity: O(1).
    """

    profile: str
    design: str
    sys_s: float
    user_s: float
    real_s: float
    tput_kbs: float | None
    free_ms: float
    phases: dict[str, dict[str, float]]
    items: dict[str, list[tuple[str, float, float, float]]]
    unpriced: list[str]
    kswapd_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The five columns at the top, then phases, breakdown and unpriced. Runtime complexity: O(events).

        >>> from vswap.replay import replay, Machine
        >>> from vswap.workloads import usemem
        >>> d = predict(replay(usemem("2M"), "cc_v2", Machine(ram="1M")), default_profile()).to_dict()
        >>> list(d)[:5]
        ['sys_s', 'user_s', 'real_s', 'tput_kbs', 'free_ms']
        """
        return {"sys_s": self.sys_s, "user_s": self.user_s, "real_s": self.real_s,
                "tput_kbs": self.tput_kbs, "free_ms": self.free_ms, "kswapd_s": self.kswapd_s,
                "profile": self.profile,
                "design": self.design, "phases": self.phases,
                "breakdown": {ph: [{"event": e, "count": n, "ns": ns, "seconds": s}
                                   for e, n, ns, s in items]
                              for ph, items in self.items.items()},
                "unpriced": list(self.unpriced)}

    def breakdown(self, top: int = 5) -> str:
        """Where the time goes: per phase, the ``top`` events by seconds with their share. Runtime complexity: O(events).

        >>> from vswap.replay import replay, Machine
        >>> from vswap.workloads import usemem
        >>> p = predict(replay(usemem("2M"), "baseline", Machine(ram="1M")), default_profile())
        >>> p.breakdown().splitlines()[0].startswith("write phase")
        True
        """
        lines = []
        for ph, items in self.items.items():
            total = sum(s for *_, s in items) or 1.0
            lines.append(f"{ph} phase ({self.phases[ph]['real_s']:.4g} s real): " + ", ".join(
                f"{e} {100 * s / total:.0f}%" for e, _, _, s in items[:top] if s > 0))
        return "\n".join(lines)


def phase_counters(result: Any) -> dict[str, dict[str, int]]:
    """Per phase (``write``, ``free``), every counter (model, design, allocator) of that phase alone.

    The free phase starts at the trace's first FREE (``ReplayResult.at_free``).
    Runtime complexity: O(counters).

    >>> from vswap.replay import Machine, replay
    >>> from vswap.workloads import usemem
    >>> ph = phase_counters(replay(usemem("1M"), "baseline", Machine(ram="512K")))
    >>> ph["write"]["pswpout"] > 0 == ph["free"]["pswpout"]
    True
    """
    total = {**result.counters, **result.stats, **result.swap_stats}
    snap = getattr(result, "at_free", None)
    if not snap:
        return _derived({"write": dict(total), "free": dict.fromkeys(total, 0)})
    write = {**snap["counters"], **snap["stats"], **snap["swap_stats"]}
    free = {k: max(0, int(v) - int(write.get(k, 0))) for k, v in total.items()}
    return _derived({"write": {k: int(write.get(k, 0)) for k in total}, "free": free})


def _derived(phases: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Counters the events need that the model does not count: freed entries with a compressed copy.

    The entries a free releases are those the write phase swapped out, so
    their share of compressed pages (zram's compressed, zswap's stored) is
    the write phase's.
    """
    w = phases["write"]
    out = w.get("swapped_out", 0)
    share = (w.get("zram_comp", 0) + w.get("zswpout", 0)) / out if out else 0.0
    for c in phases.values():
        c["free_entries_compressed"] = int(round(c.get("free_entries", 0) * min(1.0, share)))
        # the task's share of the stores: all of them, unless kswapd reclaimed some
        steal, kswapd = c.get("pgsteal", 0), c.get("pgsteal_kswapd", 0)
        task = 1.0 - min(1.0, kswapd / steal) if steal else 1.0
        for k in _TASK_SHARED:
            c[f"{k}_task"] = int(round(c.get(k, 0) * task))
    return phases


def _tput_factor(workload: str) -> float:
    return _USEMEM_CREDIT if workload == "usemem" else 1.0


def predict(result: Any, profile: CostProfile | None = None) -> Prediction:
    """The kernel time of ``result`` (a :class:`~vswap.replay.ReplayResult`) on ``profile``'s machine.

    Per phase (write: everything before the first free; free: from it on)
    each event's count (:data:`EVENTS`) times its cost; the metadata misses
    are the cold lines of the phase (``swapped_out`` entries in the write
    phase, ``free_entries`` in the free phase, times the design's metadata
    bytes per entry at its peak / 64) times :func:`miss_ratio` of its peak
    footprint against the profile's LLC. ``sys`` adds the sys events,
    ``user`` the user ones; ``real`` is sys + user + io (one task, no
    overlap: the report's single-process usemem and memhog); ``kswapd_s``
    the kswapd events (on a machine-wide replay: kswapd's pages at
    ``kswapd_page``, the stores it did taken out of the task's). Deterministic:
    the same counters give the same prediction, on either engine. Default
    profile: :func:`default_profile`. Runtime complexity: O(counters).

    >>> from vswap.replay import replay, Machine
    >>> from vswap.workloads import usemem
    >>> r = replay(usemem("4M"), "vss_v5", Machine(ram="2M"))
    >>> a, b = predict(r), predict(r)
    >>> a == b, a.phases["free"]["real_s"] * 1000 == a.free_ms
    (True, True)
    """
    if profile is None:
        profile = default_profile()
    if not isinstance(profile, CostProfile):
        raise TypeError(f"profile must be a CostProfile, not {type(profile).__name__}")
    for attr in ("counters", "stats", "swap_stats", "footprint"):
        if not isinstance(getattr(result, attr, None), dict):
            raise TypeError(f"result must be a vswap.replay.ReplayResult, not "
                            f"{type(result).__name__}")
    phases = phase_counters(result)
    footprint = float(result.footprint.get("total", 0))
    peak_entries = max(1, phases["write"].get("swapped_out", 0))
    bytes_per_entry = footprint / peak_entries
    ratio = miss_ratio(footprint, profile.host.llc_bytes)
    backend = result.machine.get("backend") if isinstance(result.machine, dict) else None
    counted = set()
    for ev in EVENTS.values():
        counted.update(c.lstrip("-") for c in ev.counters)
    out_phases: dict[str, dict[str, float]] = {}
    items: dict[str, list[tuple[str, float, float, float]]] = {}
    unpriced: set[str] = set()
    for ph, c in phases.items():
        clocks = {"sys": 0.0, "user": 0.0, "io": 0.0, "kswapd": 0.0}
        rows = []
        for ev in EVENTS.values():
            if ev.kind == "miss":
                entries = c.get("swapped_out" if ph == "write" else "free_entries", 0)
                n = entries * bytes_per_entry / CACHE_LINE * ratio
            elif ev.backends is not None and backend is not None and backend not in ev.backends:
                continue
            else:
                n = ev.count(c)
            if not n:
                continue
            if ev.name not in profile.costs:
                unpriced.add(ev.name)
                continue
            ns = profile.ns(ev.name)
            s = n * ns * 1e-9
            clocks[ev.clock] += s
            rows.append((ev.name, float(n), ns, s))
        for k, v in c.items():
            if v and k not in counted and k not in _NOT_WORK and not k.startswith("hugepages-"):
                unpriced.add(k)
        rows.sort(key=lambda r: (-r[3], r[0]))
        items[ph] = rows
        out_phases[ph] = {"sys_s": clocks["sys"], "user_s": clocks["user"],
                          "real_s": clocks["sys"] + clocks["user"] + clocks["io"],
                          "kswapd_s": clocks["kswapd"]}
    w = out_phases["write"]
    written = phases["write"].get("pages_written", 0) + phases["free"].get("pages_written", 0)
    tput = (_tput_factor(result.workload) * written * PAGE_SIZE / 1024 / w["real_s"]
            if w["real_s"] > 0 else None)
    return Prediction(
        profile=profile.name, design=result.design,
        sys_s=w["sys_s"] + out_phases["free"]["sys_s"],
        user_s=w["user_s"] + out_phases["free"]["user_s"],
        real_s=w["real_s"] + out_phases["free"]["real_s"],
        tput_kbs=tput, free_ms=out_phases["free"]["real_s"] * 1000.0,
        phases=out_phases, items=items, unpriced=sorted(unpriced),
        kswapd_s=w["kswapd_s"] + out_phases["free"]["kswapd_s"])


def model_fields(result: Any, profile: CostProfile | None = None) -> dict[str, Any]:
    """The prediction's keys a kernel result's ``model`` carries: :data:`PREDICTED_KEYS`, ``kswapd_s``, ``profile``, ``phases``.

    What ``vswap kernel run --model`` prints beside the measured times.
    Runtime complexity: O(counters).

    >>> from vswap.replay import replay, Machine
    >>> from vswap.workloads import usemem
    >>> sorted(model_fields(replay(usemem("2M"), "baseline", Machine(ram="1M"))))[:3]
    ['free_ms', 'kswapd_s', 'phases']
    """
    d = predict(result, profile).to_dict()
    return {**{k: d[k] for k in PREDICTED_KEYS}, "kswapd_s": d["kswapd_s"], "profile": d["profile"],
            "phases": d["phases"]}


def per_page_costs(profile: CostProfile | None = None, design_counters: Mapping[str, float] | None = None,
                   *, backend: str = "zram") -> dict[str, float]:
    """The profile's ns for faulting a page in and for reclaiming one: what a kswapd model charges.

    ``fault_page``: a first-touch fault of an order-0 page and its zeroing;
    ``reclaim_page``: reclaiming it to ``backend`` (zram: compressing a DATA
    page; zswap: a store; swapfile: a write and the device's wait), plus
    ``design_counters`` per swapped page (e.g. a replay's
    :meth:`~vswap.replay.ReplayResult.per_swapped_page`) priced as design
    events. Runtime complexity: O(events).

    >>> c = per_page_costs(default_profile(), {"node_visits": 2.0})
    >>> c["reclaim_page"] > c["reclaim_page_kernel"] > 0, c["fault_page"] > 0
    (True, True)
    """
    if profile is None:
        profile = default_profile()
    store = {"zram": ("zram_store_data",), "zswap": ("zswap_store",),
             "swapfile": ("device_write_page", "io_page")}
    if backend not in store:
        raise ValueError(f"backend must be one of {', '.join(store)}, not {backend!r}")
    fault = profile.ns("fault_folio") + profile.ns("zero_page_fill")
    kernel = profile.ns("reclaim_page") + sum(profile.ns(e) for e in store[backend])
    design = 0.0
    for ev in EVENTS.values():
        if ev.kind == "design" and design_counters:
            design += sum(float(design_counters.get(c, 0.0)) for c in ev.counters) * profile.ns(ev.name)
    return {"fault_page": fault, "reclaim_page_kernel": kernel, "reclaim_page_design": design,
            "reclaim_page": kernel + design}

