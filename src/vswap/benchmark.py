"""Compare swap designs on one workload: :func:`compare` (also ``vswap.compare``), the library's main job.

One trace (:mod:`vswap.workloads`) is generated, or loaded, once and replayed
(:func:`vswap.replay.replay`) through every design (any of
:mod:`vswap.designs`: the built-ins, ``virtual+SWITCH`` ablations, yours),
all on one engine: an untimed warm-up round, then ``repeat`` rounds, round
robin over the designs within each, so that drift of the machine hits all
of them alike. The result, a :class:`CompareResult`, holds

- the replay thread's CPU times of each repeat (replay total, write phase,
  free phase) and their mean and sample standard deviation; ``vs base``, the
  mean per-round change against the base design with its 95 % confidence
  interval (:func:`ratio_interval`), and a warning when the replays are too
  short to time (:data:`SHORT_REPLAY_S`; ``min_time`` repeats until a
  budget is met);
- throughput, as usemem prints it: ``1.125 * bytes_written / 1024 / write_s``
  KB/s for usemem (its 1/8 allocation credit), ``bytes_written / 1024 /
  write_s`` for the other workloads;
- the deterministic counters, which must be the same in every repeat (a
  RuntimeError says which one differed otherwise): the memory model's
  (:data:`vswap.replay.COUNTER_NAMES`: ``pswpout``, ``swap_ra``,
  ``allocstall``...), each design's work per swapped page (xarray lookups,
  node visits, MRU hits, cgroup checks, cluster locks...) and its
  kernel-equivalent metadata bytes;

and prints them as the seed report's tables (:meth:`CompareResult.table`) or
writes them as JSON, CSV, a pandas DataFrame or a plot.

The defaults reproduce the report's setups on a zram backend:
``usemem 56G`` on a 32 GB machine and ``memhog 48G`` on a 16 GB one
(:data:`DEFAULT_SIZES`, :data:`RAM_SHARE`).

>>> from vswap.benchmark import compare
>>> from vswap.replay import Machine
>>> r = compare("usemem", size="2M", machine=Machine(ram="1M"), repeat=2, progress=False)
>>> [row["design"] for row in r.rows], r.rows[0]["pswpout"]
(['baseline', 'vss_v5', 'new_opt_v2', 'cc_v2'], 256)
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import statistics
import sys
from typing import IO, Any, Callable

import numpy as np

from vswap._version import __version__
from vswap.designs import resolve_designs
from vswap.reclaim_table import GLOBAL_WORKLOADS, reclaim_table
from vswap.workload_registry import workload_record, workload_records
from vswap.tables import decimals as _decimals
from vswap.tables import fmt_bytes as _fmt_bytes
from vswap.tables import mean_sd as _mean_sd
from vswap.tables import plural as _plural
from vswap.tables import pm as _pm
from vswap.tables import ratio_interval
from vswap.tables import render as _render
from vswap.replay import (COUNTER_NAMES, DESIGNS, REFERENCE_PAGES_PER_S, Machine, ReplayResult,
                          python_overrides, replay)
from vswap.workloads import PAGE_SIZE, WORKLOADS, Trace, make_workload

__all__ = ["compare", "CompareResult", "default_machine", "global_defaults", "GLOBAL_MIN_BYTES",
           "DEFAULT_SIZES",
           "RAM_SHARE",
           "USEMEM_CREDIT", "ratio_interval", "memory_needed", "memory_available", "check_memory",
           "check_plot_path", "plot_formats", "BYTES_PER_SPAN_PAGE", "BYTES_PER_SWAP_SLOT",
           "SHORT_REPLAY_S", "MAX_ROUNDS"]

#: The size each workload runs at when none is given: the report's for
#: usemem and memhog; for random and mixed, sizes that replay in seconds.
DEFAULT_SIZES = {n: r.default_size for n, r in workload_records().items()}
#: RAM of the default machine as a fraction (numerator, denominator) of the
#: pages a trace touches: the report's 32 GB for usemem's 56G (4/7) and 16 GB
#: for memhog's 48G (1/3), half for the others (and for traces of other names).
RAM_SHARE = {n: r.ram_share for n, r in workload_records().items()}
#: usemem counts ``size / 8`` more bytes than it writes in its KB/s line
#: (an "allocation credit" added in ``do_unit``), so its throughput is
#: ``1.125 * bytes_written / 1024 / seconds``.
USEMEM_CREDIT = workload_record("usemem").tput_credit

_ENGINES = (None, "compiled", "reference")
# Cost counters in the order that explains the virtual layer's overhead
# first (the report's finding 3: xarray lookups); the others follow as met.
_COST_ORDER = ("lookups", "node_visits", "mru_hits", "mru_misses", "cgroup_checks",
               "cache_only_checks", "cluster_locks", "desc_reads", "desc_writes", "table_reads",
               "table_writes", "rmap_reads", "rmap_writes", "scans", "alloc_scans")
_TIMES = ("total_s", "write_s", "free_s")


def default_machine(trace: Trace, **overrides: Any) -> Machine:
    """The machine a trace runs on by default, with ``overrides`` of any :class:`~vswap.replay.Machine` field.

    Backend zram (the report's) and RAM the :data:`RAM_SHARE` of the pages
    the trace touches (at least one page): ``usemem 56G`` gets the report's
    32 GB, ``memhog 48G`` its 16 GB. Runtime complexity: O(trace events).

    >>> from vswap.workloads import usemem
    >>> default_machine(usemem("56G")).ram_pages * 4096 == 32 << 30
    True
    >>> default_machine(usemem("56G"), backend="zswap", ram="8G").backend
    'zswap'

    usemem and memhog of at least :data:`GLOBAL_MIN_BYTES` run machine-wide
    (the report's runs had no cgroup: ``kswapd=True, accounting="none"``)
    unless the overrides give a cgroup accounting or ``kswapd=False``:

    >>> default_machine(usemem("56G")).kswapd, default_machine(usemem("56G"), accounting="v1").kswapd
    (True, False)
    """
    num, den = (workload_record(trace.name).ram_share if trace.name in workload_records()
                else (1, 2))
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

    >>> global_defaults("usemem", {}), global_defaults("random", {})
    ({'kswapd': True, 'accounting': 'none'}, {})
    """
    if (workload not in GLOBAL_WORKLOADS or overrides.get("kswapd") is False
            or overrides.get("accounting", "none") != "none"):
        return {}
    return {"kswapd": True, "accounting": "none"}


def _check_repeat(repeat: Any) -> int:
    if not isinstance(repeat, int) or isinstance(repeat, bool):
        raise TypeError(f"repeat must be an int, not {type(repeat).__name__}")
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, not {repeat}")
    return repeat


class _Bar:
    """A one-line text progress bar, redrawn in place with ``\\r``."""

    def __init__(self, stream: IO[str], repeat: int, name_width: int) -> None:
        self.stream, self.repeat, self.name_width, self.width = stream, repeat, name_width, 0

    def __call__(self, design: str, rep: int, done: int, total: int) -> None:
        fill = 24 * done // total if total else 24
        which = "warm-up" if rep == 0 else f"repeat {rep}/{max(rep, self.repeat)}"
        text = (f"{design:<{self.name_width}}  {which}  "
                f"[{'#' * fill}{'.' * (24 - fill)}]  {done:,}/{total:,} pages")
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)

    def close(self) -> None:
        if self.width:      # leave the line clean for whatever prints next
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()


def _reporter(progress: Any, repeat: int, names: tuple[str, ...]):
    if progress is None:
        isatty = getattr(sys.stderr, "isatty", None)
        progress = bool(isatty and isatty())
    if progress is True:
        return _Bar(sys.stderr, repeat, max(map(len, names)))
    if progress is False:
        return None
    if callable(progress):
        return progress
    raise TypeError(f"progress must be None, a bool or a callable, not {type(progress).__name__}")


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _check_same(first: ReplayResult, again: ReplayResult, rep: int) -> None:
    for part in ("counters", "stats", "swap_stats", "footprint"):
        a, b = getattr(first, part), getattr(again, part)
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                raise RuntimeError(
                    f"{first.design}: {part}[{key!r}] was {a.get(key)} in the first replay but "
                    f"{b.get(key)} in repeat {rep}; deterministic counters must not change "
                    f"between repeats (a bug in the design or in vswap)")


def _check_min_time(min_time: Any) -> float | None:
    if min_time is None:
        return None
    if not isinstance(min_time, (int, float)) or isinstance(min_time, bool):
        raise TypeError(f"min_time must be a number of seconds, not {type(min_time).__name__}")
    if not 0 <= min_time < math.inf:
        raise ValueError(f"min_time must be a finite number of seconds >= 0, not {min_time}")
    return float(min_time)


def _choose_engine(engine: str | None, entries, machine: Machine, span: int) -> tuple[str, str]:
    """The one engine every design runs on, and why: (engine, note)."""
    python = []
    for name, design, switches in entries:
        try:
            space = design.build(machine, span, switches=switches)
        except Exception as exc:    # noqa: BLE001 - a factory of yours may raise anything
            raise TypeError(f"design {name}: its factory(machine, span) failed: "
                            f"{type(exc).__name__}: {exc}") from exc
        if not hasattr(space, "folio_alloc_swap"):
            raise TypeError(f"design {name}: its factory returned a {type(space).__name__}, "
                            f"not a SwapSpace")
        overrides = python_overrides(space)
        if overrides:
            python.append(f"{name} (overrides {', '.join(overrides)} in Python)")
        elif not hasattr(space, "__vswap_ops__"):
            python.append(name)
        del space
    if engine == "reference":
        return "reference", "asked for"
    if not python:
        return "compiled", "every design has a C verb table"
    if engine == "compiled":
        raise ValueError(f"design {python[0]} has no C verb table of its own (__vswap_ops__), "
                         f"so it runs only "
                         f"on the reference engine: use engine='reference' (or leave engine "
                         f"unset), or write it in Cython (docs: Measure your own design)")
    return "reference", (f"{', '.join(python)} {'has' if len(python) == 1 else 'have'} no C "
                         f"verb table of its own: its Python methods run")


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


#: A design whose timed replays add up to less than this (CPU seconds) gets a
#: warning: its times are mostly noise.
SHORT_REPLAY_S = 0.1
#: Rounds :func:`compare` stops at even when ``min_time`` is not reached.
MAX_ROUNDS = 1000


def compare(workload: str = "usemem", *, designs: Any = DESIGNS, repeat: int = 3,
            machine: Machine | dict | None = None, trace: Trace | str | os.PathLike | None = None,
            engine: str | None = None, progress: bool | Callable | None = None,
            min_time: float | None = None, warmup: bool = True,
            **workload_params: Any) -> CompareResult:
    """Replay one workload through several designs, ``repeat`` times each; a :class:`CompareResult`.

    - ``workload``: a name of :data:`vswap.workloads.WORKLOADS`;
      ``workload_params`` go to :func:`vswap.workloads.make_workload`
      (ValueError naming the parameters it takes for one it does not);
      ``size`` defaults to :data:`DEFAULT_SIZES`.
    - ``trace``: a :class:`~vswap.workloads.Trace`, or the path of one saved
      with :meth:`Trace.save <vswap.workloads.Trace.save>`, to replay instead;
      the workload's name and parameters are then the trace's (``workload``
      is ignored, ``workload_params`` are refused).
    - ``machine``: a :class:`~vswap.replay.Machine`; a dict of Machine fields
      that override the default; or None: :func:`default_machine` (zram,
      the report's RAM share).
    - ``designs``: what :func:`vswap.designs.resolve_designs` takes:
      registered names (:func:`vswap.register_design`; default the report's
      four, :data:`vswap.replay.DESIGNS`), ``virtual+SWITCH``,
      ``module:factory``, SwapSpace classes or objects, ``{name: factory}``,
      or one comma-separated string; replayed in this order. ``vs base``
      is relative to ``baseline`` when it is among them, else to the first.
    - ``engine``: every design runs on the same engine, so that the times
      compare like with like. None (default): ``"compiled"`` when every
      design has a C verb table (``__vswap_ops__``), else ``"reference"``
      (pure Python, about 100x slower) for all of them; ``"compiled"``
      refuses a design without the table; ``"reference"`` forces Python.
    - ``repeat``: timed replays per design, round robin over the designs
      within each round, after one untimed ``warmup`` round (caches,
      allocator, page faults of the first run). ``min_time``: go on with
      more rounds until every design has this many CPU seconds of timed
      replays (at most :data:`MAX_ROUNDS`). The trace is generated once.
    - ``progress``: a text bar on stderr showing design, repeat and pages
      done; None draws it only when stderr is a tty, True or False force it;
      a callable is called as ``progress(design, repeat, pages_done,
      pages_total)`` (``repeat`` from 1; 0 for the warm-up) about every
      2**20 pages and at the end of each replay.

    Times are the replay thread's CPU seconds (other load on the machine
    does not count). The deterministic counters (``counters``, ``stats``,
    ``swap_stats``, ``footprint`` of each replay) are checked to be equal
    across repeats (RuntimeError naming the counter otherwise); they, not
    the times, are what compares across engines. MemoryError before the
    run when it would not fit in memory (:func:`check_memory`).
    Runtime complexity: O((repeat + 1) * len(designs) * pages touched, written and
    freed).

    >>> from vswap.replay import Machine
    >>> r = compare("memhog", size="4M", repeat=2, machine={"ram": "2M"},
    ...             designs="vss_v5,cc_v2", progress=False)
    >>> r.base, r.rows[1]["vs_base_pct"] is not None, r.rows[0]["vs_base_pct"]
    ('vss_v5', True, None)
    >>> r.rows[0]["per_page_lookups"] > r.rows[1]["per_page_lookups"]
    True
    >>> compare("memhog", size="1M", tasks=2)
    Traceback (most recent call last):
    ...
    ValueError: memhog does not take tasks; it takes: size, passes, mthp, nr_cpus, seed
    """
    entries = resolve_designs(designs)
    names = tuple(n for n, _, _ in entries)
    repeat = _check_repeat(repeat)
    min_time = _check_min_time(min_time)
    if engine not in _ENGINES:
        raise ValueError(f"engine must be 'compiled' or 'reference', not {engine!r}")
    reporter = _reporter(progress, repeat, names)
    if machine is not None and not isinstance(machine, (Machine, dict)):
        raise TypeError(f"machine must be a Machine, a dict of its fields or None, "
                        f"not {type(machine).__name__}")
    if trace is not None:
        if workload_params:
            raise ValueError(f"workload parameters ({', '.join(workload_params)}) cannot be "
                             f"combined with a trace: the trace fixes them")
        if isinstance(trace, (str, os.PathLike)):
            trace = Trace.load(trace)
        elif isinstance(trace, Trace):
            trace.validate()
        else:
            raise TypeError(f"trace must be a Trace or the path of a saved one, "
                            f"not {type(trace).__name__}")
    else:
        if workload not in WORKLOADS:
            raise ValueError(f"unknown workload {workload!r}; known: {', '.join(WORKLOADS)}")
        trace = make_workload(workload, **{"size": workload_record(workload).default_size,
                                           **workload_params})
    if not isinstance(machine, Machine):
        machine = default_machine(trace, **(machine or {}))
    span = trace.nr_pages
    check_memory(span, machine.swap_pages_for(span))
    engine, engine_note = _choose_engine(engine, entries, machine, span)
    reference = engine == "reference"
    if reference:
        rounds = repeat + (1 if warmup else 0)
        pages = int(trace.nr.sum(dtype=np.uint64)) * rounds * len(entries)
        if pages > 30 * REFERENCE_PAGES_PER_S:
            print(f"vswap: the reference engine ({engine_note}) replays about "
                  f"{REFERENCE_PAGES_PER_S:,} pages/s: this run of {pages:,} pages will take "
                  f"about {_duration(pages / REFERENCE_PAGES_PER_S)}", file=sys.stderr)

    total = int(trace.nr.sum(dtype=np.uint64))
    runs: dict[str, list[ReplayResult]] = {n: [] for n in names}
    spent = dict.fromkeys(names, 0.0)

    def one(name: str, design, switches, rep: int) -> ReplayResult:
        callback = None
        if reporter is not None:
            reporter(name, rep, 0, total)
            callback = (lambda done: reporter(name, rep, done, total))   # noqa: E731
        space = design.build(machine, span, reference=reference, switches=switches)
        result = replay(trace, space, machine, engine=engine, progress=callback)
        result.design = name
        if reporter is not None:
            reporter(name, rep, total, total)
        return result

    try:
        first: dict[str, ReplayResult] = {}
        if warmup:
            for name, design, switches in entries:
                first[name] = one(name, design, switches, 0)
        rep = 0
        while rep < repeat or (min_time is not None and rep < MAX_ROUNDS
                               and min(spent.values()) < min_time):
            rep += 1
            for name, design, switches in entries:
                result = one(name, design, switches, rep)
                ref = first.setdefault(name, result)
                if ref is not result:
                    _check_same(ref, result, rep)
                runs[name].append(result)
                spent[name] += result.times["total_s"]
    finally:
        if isinstance(reporter, _Bar):
            reporter.close()
    return CompareResult(workload=trace.name, params=dict(trace.params), machine=machine,
                         engine=engine, repeat=rep, designs=names,
                         trace_summary=trace.summary(), runs=runs, engine_note=engine_note,
                         warmup=warmup, min_time=min_time)


# --------------------------------------------------------------------------- result

@dataclasses.dataclass
class CompareResult:
    """What :func:`compare` measured: every replay, and the report's summaries of them.

    Attributes: ``workload`` (name) and ``params`` (the generator's
    arguments), ``machine`` (the :class:`~vswap.replay.Machine`), ``engine``
    (the one every design ran on) and ``engine_note`` (why), ``repeat``
    (timed rounds), ``designs`` (in replay order), ``trace_summary``
    (:meth:`Trace.summary <vswap.workloads.Trace.summary>`), ``runs`` (per
    design, its :class:`~vswap.replay.ReplayResult` of each timed round),
    ``warmup`` (an untimed round ran first), ``min_time`` and ``version``
    (of vswap). The summaries are :attr:`rows` (one flat dict per design),
    :attr:`warnings` and :meth:`table`. Runtime complexity: O(1) to build.

    >>> from vswap.replay import Machine
    >>> r = compare("usemem", size="2M", machine=Machine(ram="1M"), repeat=2, progress=False)
    >>> r
    CompareResult('usemem', designs baseline, vss_v5, new_opt_v2, cc_v2; 2 repeats; base baseline; compiled engine)
    >>> len(r.runs["cc_v2"]), r.runs["cc_v2"][0].counters == r.runs["cc_v2"][1].counters
    (2, True)
    """

    workload: str
    params: dict[str, Any]
    machine: Machine
    engine: str
    repeat: int
    designs: tuple[str, ...]
    trace_summary: dict[str, Any]
    runs: dict[str, list[ReplayResult]]
    engine_note: str = ""
    warmup: bool = True
    min_time: float | None = None
    version: str = __version__

    def __repr__(self) -> str:
        """Workload, designs, repeats, base and engine. Runtime complexity: O(designs).

        >>> compare("memhog", size="1M", designs=["cc_v2"], repeat=1, progress=False)
        CompareResult('memhog', designs cc_v2; 1 repeat; base cc_v2; compiled engine)
        """
        return (f"CompareResult({self.workload!r}, designs {', '.join(self.designs)}; "
                f"{_plural(self.repeat, 'repeat')}; base {self.base}; {self.engine} engine)")

    def __str__(self) -> str:
        """The tables: :meth:`table`. Runtime complexity: that of :meth:`table`.

        >>> r = compare("memhog", size="1M", designs=["cc_v2"], repeat=1, progress=False)
        >>> str(r) == r.table()
        True
        """
        return self.table()

    @property
    def base(self) -> str:
        """The design ``vs base`` refers to: ``baseline`` if compared, else the first design.

        Runtime complexity: O(designs).

        >>> compare("memhog", size="1M", designs="cc_v2,baseline", repeat=1, progress=False).base
        'baseline'
        """
        return "baseline" if "baseline" in self.designs else self.designs[0]

    def _tput_factor(self) -> float:
        return (workload_record(self.workload).tput_credit
                if self.workload in workload_records() else 1.0)

    @property
    def warnings(self) -> list[str]:
        """Why the times may mislead, one line each: a design with under :data:`SHORT_REPLAY_S` of timed replays.

        Runtime complexity: O(designs * repeat).

        >>> compare("memhog", size="1M", designs="cc_v2", repeat=1, progress=False).warnings
        ['replays of about ... s (under 0.1 s in all): the times are mostly noise; compare a larger size or give min_time (--min-time SECONDS)']
        """
        spent = min(sum(r.times["total_s"] for r in runs) for runs in self.runs.values())
        if spent >= SHORT_REPLAY_S:
            return []
        shortest = min(statistics.fmean(r.times["total_s"] for r in runs)
                       for runs in self.runs.values())
        return [f"replays of about {shortest:.2g} s (under {SHORT_REPLAY_S} s in all): the times "
                f"are mostly noise; compare a larger size or give min_time (--min-time SECONDS)"]

    @property
    def rows(self) -> list[dict[str, Any]]:
        """One flat dict per design, in replay order: what :meth:`to_csv` and :meth:`to_dataframe` hold.

        Keys: ``design``, ``repeat``, ``engine``; ``total_s_mean``,
        ``total_s_sd`` (the replay's CPU seconds), ``write_s_mean``/``_sd``
        (all but the FREE events), ``free_ms_mean``/``_sd`` (the FREE events,
        in ms), ``tput_kbs_mean``/``_sd`` (usemem's formula for usemem:
        ``1.125 * bytes_written / 1024 / write_s``; ``bytes_written / 1024 /
        write_s`` for the others; per repeat; None when the write phase took
        no measurable time), ``vs_base_pct`` (the mean over the rounds of
        ``100 * (time / base time - 1)``, None for the base), ``vs_base_ci_pct``
        (its 95 % half-width, None for one round), ``vs_base_noise`` (True
        when the interval includes 0); every model counter of
        :data:`vswap.replay.COUNTER_NAMES`; ``per_page_<name>`` for each of
        the design's own counters divided by ``swapped_out``, the pages
        swapped out to any backing (None when nothing was swapped out); ``footprint_bytes`` (metadata bytes,
        kernel-equivalent, just before the first free),
        ``footprint_bytes_per_page`` (per ``swapped_out``, None for none) and
        ``footprint_<component>``. An sd is None for one repeat.
        Runtime complexity: O(designs * (repeat + counters)).

        >>> r = compare("usemem", size="2M", machine={"ram": "1M"}, repeat=2, progress=False)
        >>> row = r.rows[1]
        >>> row["design"], row["pswpout"], row["per_page_cgroup_checks"], row["footprint_bytes"] > 0
        ('vss_v5', 256, 1.0, True)
        """
        bytes_written = self.trace_summary["pages_written"] * PAGE_SIZE
        factor = self._tput_factor()
        base_times = [r.times["total_s"] for r in self.runs[self.base]]
        rows = []
        for name in self.designs:
            runs = self.runs[name]
            first = runs[0]
            row: dict[str, Any] = {"design": name, "repeat": len(runs), "engine": self.engine}
            for key in _TIMES:
                scale, out = (1000.0, "free_ms") if key == "free_s" else (1.0, key)
                row[f"{out}_mean"], row[f"{out}_sd"] = _mean_sd([r.times[key] * scale for r in runs])
            if all(r.times["write_s"] > 0 for r in runs):
                row["tput_kbs_mean"], row["tput_kbs_sd"] = _mean_sd(
                    [factor * bytes_written / 1024 / r.times["write_s"] for r in runs])
            else:
                row["tput_kbs_mean"] = row["tput_kbs_sd"] = None
            vs = None if name == self.base else ratio_interval(
                [r.times["total_s"] for r in runs], base_times)
            row["vs_base_pct"], row["vs_base_ci_pct"] = vs if vs is not None else (None, None)
            row["vs_base_noise"] = (None if row["vs_base_ci_pct"] is None
                                    else abs(row["vs_base_pct"]) <= row["vs_base_ci_pct"])
            row.update(first.counters)
            swapped = first.counters["swapped_out"]
            row.update({f"per_page_{k}": v if swapped else None
                        for k, v in first.per_swapped_page().items()})
            row["footprint_bytes"] = first.footprint["total"]
            row["footprint_bytes_per_page"] = first.footprint["total"] / swapped if swapped else None
            row.update({f"footprint_{k}": v for k, v in first.footprint.items() if k != "total"})
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON-able values: settings, summaries and every repeat's times.

        Keys: ``vswap_version``, ``workload``, ``params``, ``trace``
        (its summary), ``machine`` (the Machine's fields, ``ram_pages`` and
        ``swap_pages``), ``engine``, ``engine_note``, ``repeat``, ``warmup``,
        ``min_time``, ``time_unit`` (``"thread CPU seconds"``), ``designs``,
        ``base``, ``warnings``, ``rows`` (:attr:`rows`), ``times`` (per
        design, per time, the list of seconds of each repeat) and ``results``
        (per design its counters, stats, swap_stats, per_swapped_page and
        footprint). Runtime complexity: O(designs * (repeat + counters)).

        >>> import json
        >>> d = compare("memhog", size="1M", repeat=2, progress=False).to_dict()
        >>> json.loads(json.dumps(d)) == d, len(d["times"]["vss_v5"]["total_s"])
        (True, 2)
        """
        machine = {**self.machine.to_dict(),
                   "swap_pages": self.machine.swap_pages_for(self.trace_summary["nr_pages"])}
        return {
            "vswap_version": self.version,
            "workload": self.workload,
            "params": dict(self.params),
            "trace": dict(self.trace_summary),
            "machine": machine,
            "engine": self.engine,
            "engine_note": self.engine_note,
            "repeat": self.repeat,
            "warmup": self.warmup,
            "min_time": self.min_time,
            "time_unit": "thread CPU seconds",
            "designs": list(self.designs),
            "base": self.base,
            "warnings": self.warnings,
            "rows": self.rows,
            "times": {name: {key: [r.times[key] for r in runs] for key in _TIMES}
                      for name, runs in self.runs.items()},
            "results": {name: {"counters": dict(runs[0].counters), "stats": dict(runs[0].stats),
                               "swap_stats": dict(runs[0].swap_stats),
                               "per_swapped_page": runs[0].per_swapped_page(),
                               "footprint": dict(runs[0].footprint)}
                        for name, runs in self.runs.items()},
        }

    def to_json(self, path_or_file: str | os.PathLike | IO[str] | None = None) -> str | None:
        """:meth:`to_dict` as indented JSON: returned as a string without an argument, else written to a path or open text file.

        Runtime complexity: that of :meth:`to_dict`.

        >>> import json
        >>> r = compare("memhog", size="1M", repeat=1, progress=False)
        >>> json.loads(r.to_json())["workload"]
        'memhog'
        """
        text = json.dumps(self.to_dict(), indent=2) + "\n"
        return _write_text(text, path_or_file)

    def to_csv(self, path_or_file: str | os.PathLike | IO[str] | None = None) -> str | None:
        """:attr:`rows` as CSV (a header, then one line per design): returned as a string without an argument, else written.

        A column a design does not have (e.g. ``per_page_lookups`` for the
        ``baseline``, which has no virtual layer) is empty, as is an
        sd of one repeat. Runtime complexity: O(designs * columns).

        >>> import csv, io
        >>> text = compare("memhog", size="1M", repeat=1, progress=False).to_csv()
        >>> [row["design"] for row in csv.DictReader(io.StringIO(text))]
        ['baseline', 'vss_v5', 'new_opt_v2', 'cc_v2']
        """
        rows = self.rows
        columns = list(dict.fromkeys(k for row in rows for k in row))
        out = io.StringIO()
        w = csv.DictWriter(out, fieldnames=columns, restval="", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return _write_text(out.getvalue(), path_or_file)

    def to_dataframe(self):
        """:attr:`rows` as a pandas DataFrame indexed by design; ImportError without pandas.

        pandas is not a dependency of vswap: install it to use this.
        Runtime complexity: O(designs * columns).

        >>> r = compare("memhog", size="1M", repeat=1, progress=False)
        >>> try:
        ...     df = r.to_dataframe()
        ... except ImportError as exc:
        ...     print("pandas" in str(exc))
        ... else:
        ...     print(int(df.loc["cc_v2", "pswpout"]) == r.rows[3]["pswpout"])
        True
        """
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("CompareResult.to_dataframe needs pandas, which vswap does not "
                              "depend on: pip install pandas") from None
        return pd.DataFrame(self.rows).set_index("design")

    def plot(self, path: str | os.PathLike | None = None):
        """Bar charts of the replay time (mean, sd as error bars) and of xarray lookups per swapped page.

        Each bar carries its value; a design without the counter (the
        ``baseline`` has no virtual layer) or that swapped nothing
        out is marked "n/a". The title names the workload, its parameters,
        the machine, the engine and the vswap version. Saves to ``path``
        (format from its extension, :func:`check_plot_path`) when given;
        returns the matplotlib Figure. ImportError without matplotlib (the
        ``plot`` extra: ``pip install 'vswap[plot]'``). Runtime complexity:
        O(designs) plus matplotlib's drawing.

        >>> r = compare("memhog", size="1M", repeat=2, progress=False)
        >>> try:
        ...     fig = r.plot()
        ... except ImportError as exc:
        ...     print("matplotlib" in str(exc))
        ... else:
        ...     print(len(fig.axes) == 2)
        True
        """
        try:
            from matplotlib.figure import Figure
        except ImportError:
            raise ImportError("CompareResult.plot needs matplotlib: pip install 'vswap[plot]' "
                              "(or pip install matplotlib)") from None
        rows = self.rows
        names = [row["design"] for row in rows]
        fig = Figure(figsize=(5 + 1.6 * len(names), 4.6), layout="constrained")
        fig.suptitle(self.context(), fontsize="small")
        left, right = fig.subplots(1, 2)
        times = [row["total_s_mean"] for row in rows]
        bars = left.bar(names, times, yerr=[row["total_s_sd"] or 0.0 for row in rows], capsize=4,
                        color="tab:blue")
        left.bar_label(bars, labels=[f"{t:.3g}" for t in times], padding=2, fontsize="small")
        left.set_ylabel("replay CPU time (s)")
        left.set_title(f"mean +/- sd of {_plural(self.repeat, 'repeat')}", fontsize="medium")
        lookups = [row.get("per_page_lookups") for row in rows]
        bars = right.bar(names, [v or 0.0 for v in lookups], color="tab:orange")
        right.bar_label(bars, labels=["n/a" if v is None else f"{v:.3g}" for v in lookups],
                        padding=2, fontsize="small")
        right.set_ylabel("xarray lookups per swapped page")
        right.set_title("virtual-layer lookups (n/a: no such counter)", fontsize="medium")
        for ax in (left, right):
            ax.tick_params(axis="x", labelrotation=20)
            ax.margins(y=0.15)
        if path is not None:
            check_plot_path(path)
            fig.savefig(path)
        return fig

    # ---------------------------------------------------------------- text

    def context(self) -> str:
        """One line for every table's title: workload and parameters, machine, engine, version.

        Runtime complexity: O(params).

        >>> r = compare("memhog", size="1M", designs="cc_v2", repeat=1, progress=False)
        >>> r.context()
        'memhog size=1M passes=1 mthp=none nr_cpus=1 seed=0; ram 340K, swap 4M, zram; compiled engine; vswap ...'
        """
        m = self.machine
        swap = m.swap_pages_for(self.trace_summary["nr_pages"])
        return (f"{self._params_line()}; ram {_fmt_bytes(m.ram_pages * PAGE_SIZE)}, "
                f"swap {_fmt_bytes(swap * PAGE_SIZE)}, {m.backend}; {self.engine} engine; "
                f"vswap {self.version}")

    def _params_line(self) -> str:
        params = " ".join(f"{k}={'none' if v in (None, '') else v}" for k, v in self.params.items())
        return f"{self.workload} {params}".rstrip()

    def header(self) -> str:
        """Lines naming the vswap version, workload and parameters, trace, machine, designs, engine and timing, then any :attr:`warnings`.

        Runtime complexity: O(params + designs).

        >>> r = compare("memhog", size="1M", designs="cc_v2", repeat=1, progress=False)
        >>> print(r.header())
        vswap ...: memhog size=1M passes=1 mthp=none nr_cpus=1 seed=0
        trace: 2 events; 256 pages touched, 256 written, 256 freed; 1 CPUs
        machine: ram 340K (85 pages), swap 4M (1,024 pages), backend zram, zero detection on, readahead 8, reclaim batch 32, watermark 0 pages
        designs: cc_v2 (vs base: cc_v2); compiled engine for all (every design has a C verb table)
        times: replay thread CPU seconds, 1 repeat round robin after an untimed warm-up round
        warning: replays of about ... s (under 0.1 s in all): the times are mostly noise; ...
        """
        m, s = self.machine, self.trace_summary
        swap = m.swap_pages_for(s["nr_pages"])
        backend = m.backend + (f" (pool {m.zswap_pool_pages:,} pages)" if m.backend == "zswap" else "")
        timing = f"{_plural(self.repeat, 'repeat')} round robin"
        if self.warmup:
            timing += " after an untimed warm-up round"
        if self.min_time is not None:
            timing += f", until each design had {self.min_time:g} s"
        lines = [
            f"vswap {self.version}: {self._params_line()}",
            f"trace: {s['events']:,} events; {s['pages_touched']:,} pages touched, "
            f"{s['pages_written']:,} written, {s['pages_freed']:,} freed; {s['nr_cpus']} CPUs"
            + (f", {s['memcgs']} memcgs" if s.get("memcgs", 1) > 1 else ""),
            f"machine: ram {_fmt_bytes(m.ram_pages * PAGE_SIZE)} ({m.ram_pages:,} pages), "
            f"swap {_fmt_bytes(swap * PAGE_SIZE)} ({swap:,} pages), backend {backend}, "
            f"zero detection {'on' if m.zero_detection else 'off'}, "
            f"readahead {m.readahead_pages}, reclaim batch {m.reclaim_batch}, "
            f"watermark {m.watermark_pages:,} pages",
            f"designs: {', '.join(self.designs)} (vs base: {self.base}); {self.engine} engine "
            f"for all ({self.engine_note})",
            f"times: replay thread CPU seconds, {timing}",
        ]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def table(self, *, header: bool = True) -> str:
        """The report's tables as aligned text, separated by blank lines.

        Every table's title is followed by :meth:`context` in brackets.

        1. *Results*: per design the replay's CPU time (mean +/- sd over the
           repeats), ``vs base`` (mean % change per round with its 95 %
           confidence interval, "within noise" when it includes 0),
           throughput in KB/s (usemem's formula for usemem) and the free
           phase in ms.
        2. *Model counters*: the memory model's counters (non-zero for some
           design), the report's "reclaim / compaction counters"; the same
           in every repeat, so without sd, and the same on both engines.
        3. *Cost per swapped page*: each design's own work counters divided
           by ``swapped_out``, the pages swapped out to any backing (zero
           pages, zswap, the device; not ``pswpout``, the device's writes
           alone), those non-zero for some design (``-`` where a
           design has no such counter or swapped nothing out): where the time goes.
        4. *Metadata*: kernel-equivalent bytes, total and per swapped page,
           and their components.

        ``header=True`` puts :meth:`header` first. Runtime complexity:
        O(designs * (repeat + counters)).

        >>> r = compare("usemem", size="2M", machine={"ram": "1M"}, repeat=2, progress=False)
        >>> text = r.table()
        >>> [line for line in text.splitlines() if line.startswith(("Results", "Model", "Cost", "Metadata"))]
        ['Results: replay CPU time mean +/- sd over 2 repeats, vs base: % change vs baseline (95% CI)',
         'Model counters (deterministic: the same in every repeat and on both engines)',
         'Cost per swapped page (design counters / pages swapped out to any backing)',
         'Metadata (kernel-equivalent bytes, just before the first free)']
        >>> print(text[text.index("Model"):text.index("\\n\\nCost")])
        Model counters (deterministic: the same in every repeat and on both engines)
        [usemem size=2M tasks=1 mthp=none zero_share=0.0 nr_cpus=1 interleave=512 seed=0; ram 1M, swap 6M, zram; compiled engine; vswap ...]
        metric         baseline  vss_v5  new_opt_v2  cc_v2
        -------------  --------  ------  ----------  -----
        pgfault             512     512         512    512
        pswpout             256     256         256    256
        pgsteal             256     256         256    256
        swapped_out         256     256         256    256
        reclaim_calls         8       8           8      8
        pages_touched       512     512         512    512
        pages_written       512     512         512    512
        zram_comp           256     256         256    256
        free_batches          1       1           1      1
        free_entries        256     256         256    256
        free_resident       256     256         256    256
        """
        rows = self.rows
        parts = [self.header()] if header else []
        parts.append(self._results_table(rows))
        if self.machine.kswapd:
            parts.append(reclaim_table(rows, self.base, self.context()))
        parts.append(self._counters_table(rows))
        parts.append(self._cost_table(rows))
        parts.append(self._footprint_table(rows))
        return "\n\n".join(parts) + "\n"

    def _title(self, title: str) -> str:
        return f"{title}\n[{self.context()}]"

    def _results_table(self, rows: list[dict[str, Any]]) -> str:
        t = _decimals([r["total_s_mean"] for r in rows], least=1)
        f = _decimals([r["free_ms_mean"] for r in rows], least=1)
        body = []
        for r in rows:
            if r["design"] == self.base:
                vs = "base"
            elif r["vs_base_pct"] is None:
                vs = "n/a"
            elif r["vs_base_ci_pct"] is None:
                vs = f"{r['vs_base_pct']:+.1f}% (1 round: no CI)"
            else:
                vs = f"{r['vs_base_pct']:+.1f}% +/- {r['vs_base_ci_pct']:.1f}%"
                if r["vs_base_noise"]:
                    vs += " within noise"
            tput = "-" if r["tput_kbs_mean"] is None else _pm(r["tput_kbs_mean"], r["tput_kbs_sd"], 0)
            body.append([r["design"], _pm(r["total_s_mean"], r["total_s_sd"], t), vs, tput,
                         _pm(r["free_ms_mean"], r["free_ms_sd"], f)])
        title = (f"Results: replay CPU time mean +/- sd over {_plural(self.repeat, 'repeat')}, "
                 f"vs base: % change vs {self.base} (95% CI)")
        return _render(self._title(title),
                       ["design", "time (s)", "vs base", "tput (KB/s)", "free_ms"], body)

    def _counters_table(self, rows: list[dict[str, Any]]) -> str:
        names = [c for c in COUNTER_NAMES if any(r.get(c) for r in rows)] or ["pswpout"]
        body = [[c] + [f"{r[c]:,}" for r in rows] for c in names]
        return _render(self._title("Model counters (deterministic: the same in every repeat "
                                   "and on both engines)"),
                       ["metric"] + [r["design"] for r in rows], body)

    def _cost_table(self, rows: list[dict[str, Any]]) -> str:
        have = dict.fromkeys(k[len("per_page_"):] for r in rows for k in r
                             if k.startswith("per_page_"))
        seen = [k for k in have if any(r.get(f"per_page_{k}") for r in rows)]
        if not any(r["pswpout"] for r in rows):
            seen = [k for k in _COST_ORDER if k in have]    # nothing swapped out: all "-"
        names = [k for k in _COST_ORDER if k in seen] + [k for k in seen if k not in _COST_ORDER]
        body = []
        for c in names:
            cells = [r.get(f"per_page_{c}") for r in rows]
            d = _decimals([v for v in cells if v is not None], least=2, most=4)
            body.append([c] + ["-" if v is None else f"{v:,.{d}f}" for v in cells])
        title = "Cost per swapped page (design counters / pages swapped out to any backing)"
        if not any(r["swapped_out"] for r in rows):
            title += "; nothing was swapped out"
        return _render(self._title(title), ["counter"] + [r["design"] for r in rows], body)

    def _footprint_table(self, rows: list[dict[str, Any]]) -> str:
        comps = list(dict.fromkeys(k for r in rows for k in r if k.startswith("footprint_")
                                   and k not in ("footprint_bytes", "footprint_bytes_per_page")))
        per_page = [r["footprint_bytes_per_page"] for r in rows]
        body = [["total"] + [f"{r['footprint_bytes']:,}" for r in rows],
                ["per swapped page"] + ["-" if v is None else f"{v:,.1f}" for v in per_page]]
        for c in comps:
            body.append([c[len("footprint_"):]]
                        + ["-" if c not in r else f"{r[c]:,}" for r in rows])
        return _render(self._title("Metadata (kernel-equivalent bytes, just before the first free)"),
                       ["bytes"] + [r["design"] for r in rows], body)


def _write_text(text: str, path_or_file: str | os.PathLike | IO[str] | None) -> str | None:
    if path_or_file is None:
        return text
    if hasattr(path_or_file, "write"):
        path_or_file.write(text)
    else:
        with open(path_or_file, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    return None


def plot_formats() -> dict[str, str]:
    """The file extensions :meth:`CompareResult.plot` can save, with their names; ImportError without matplotlib.

    Runtime complexity: O(formats).

    >>> try:
    ...     print("png" in plot_formats())
    ... except ImportError:
    ...     print(True)
    True
    """
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install 'vswap[plot]'") from None
    return dict(FigureCanvasBase.get_supported_filetypes())


def check_plot_path(path: str | os.PathLike) -> None:
    """ValueError unless ``path``'s extension is a format matplotlib saves (checked before a long run).

    ImportError (naming the extra) without matplotlib, whatever the path.
    Runtime complexity: O(formats).

    >>> import importlib.util
    >>> try:
    ...     check_plot_path("out.docx")
    ... except ValueError:
    ...     print("unknown format")
    ... except ImportError:
    ...     print("unknown format" if importlib.util.find_spec("matplotlib") is None else "?")
    unknown format
    """
    ext = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    formats = plot_formats()
    if ext not in formats:
        raise ValueError(f"{os.fspath(path)}: unknown plot format {'.' + ext if ext else '(no extension)'}; "
                         f"use one of {', '.join('.' + f for f in sorted(formats))}")
