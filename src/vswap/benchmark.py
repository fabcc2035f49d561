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
import time
from typing import IO, Any, Callable

import numpy as np

from vswap._version import __version__
from vswap import stats
from vswap.designs import resolve_designs
from vswap.reclaim_table import reclaim_table
from vswap.workload_registry import workload_record, workload_records
from vswap.tables import decimals as _decimals
from vswap.tables import fmt_bytes as _fmt_bytes
from vswap.tables import mean_sd as _mean_sd
from vswap.tables import plural as _plural
from vswap.tables import pm as _pm
from vswap.tables import ratio_interval
from vswap.tables import render as _render
from vswap.replay import (BYTES_PER_SPAN_PAGE, BYTES_PER_SWAP_SLOT, COUNTER_NAMES, DESIGNS,
                          GLOBAL_MIN_BYTES, REFERENCE_PAGES_PER_S, Machine, ReplayResult,
                          check_memory, default_machine, global_defaults, memory_available,
                          memory_needed, python_overrides, replay)
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


def _check_repeat(repeat: Any) -> int:
    if not isinstance(repeat, int) or isinstance(repeat, bool):
        raise TypeError(f"repeat must be an int, not {type(repeat).__name__}")
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, not {repeat}")
    return repeat


class _Bar:
    """A one-line text progress bar with an ETA, redrawn in place with ``\\r``.

    ``replays`` is how many replays the run makes in all (the ETA is the
    time so far scaled by the pages left over the pages done).
    """

    def __init__(self, stream: IO[str], repeat: int, name_width: int, replays: int = 0) -> None:
        self.stream, self.repeat, self.name_width, self.width = stream, repeat, name_width, 0
        self.replays, self.finished, self.started = replays, 0, time.monotonic()
        self.last: tuple[str, int] | None = None

    def __call__(self, design: str, rep: int, done: int, total: int) -> None:
        if self.last is not None and self.last != (design, rep):
            self.finished += 1
        self.last = (design, rep)
        fill = 24 * done // total if total else 24
        which = "warm-up" if rep == 0 else f"repeat {rep}/{max(rep, self.repeat)}"
        eta = ""
        if self.replays and total:
            work = self.finished * total + done
            spent = time.monotonic() - self.started
            if work and spent > 0:
                left = max(0.0, spent * (self.replays * total - work) / work)
                eta = f"  ETA {left:.0f} s"
        text = (f"{design:<{self.name_width}}  {which}  "
                f"[{'#' * fill}{'.' * (24 - fill)}]  {done:,}/{total:,} pages{eta}")
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)

    def close(self) -> None:
        if self.width:      # leave the line clean for whatever prints next
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()


def _reporter(progress: Any, repeat: int, names: tuple[str, ...], replays: int = 0):
    if progress is None:
        isatty = getattr(sys.stderr, "isatty", None)
        progress = bool(isatty and isatty())
    if progress is True:
        return _Bar(sys.stderr, repeat, max(map(len, names)), replays)
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


#: A design whose timed replays add up to less than this (CPU seconds) gets a
#: warning: its times are mostly noise.
SHORT_REPLAY_S = 0.1
#: Rounds :func:`compare` stops at even when ``min_time`` is not reached.
MAX_ROUNDS = 1000
#: Page events per replay below which :func:`compare` replays the designs one
#: at a time by default: a worker process costs more than such a replay.
PARALLEL_MIN_PAGES = 1 << 22

# What the forked workers of a parallel compare() replay: set before the pool forks.
_JOB: dict[str, Any] = {}


def _run_job(index: int, rep: int) -> ReplayResult:
    """A worker's replay of design ``index`` of the running compare(), round ``rep``."""
    return _JOB["one"](index, rep, False)


def _check_jobs(jobs: Any) -> int | None:
    if jobs is None:
        return None
    if not isinstance(jobs, int) or isinstance(jobs, bool):
        raise TypeError(f"jobs must be a positive int or None, not {type(jobs).__name__}")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, not {jobs}")
    return jobs


def _idle_cpus(interval: float = 0.05) -> float:
    """CPUs idle now: /proc/stat's idle share over ``interval`` seconds times the CPUs (Linux);
    else the CPUs less the 1-minute load average; else the CPUs."""
    cpus = os.cpu_count() or 1

    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        return fields[3] + fields[4], sum(fields)          # idle + iowait, all
    try:
        idle0, all0 = sample()
        time.sleep(interval)
        idle1, all1 = sample()
        return cpus * (idle1 - idle0) / max(all1 - all0, 1)
    except (OSError, ValueError, IndexError):
        pass
    try:
        return max(0.0, cpus - os.getloadavg()[0])
    except (OSError, AttributeError):
        return float(cpus)


def _can_fork() -> bool:
    """Whether worker processes can be forked here (Linux; not inside a daemonic process)."""
    import multiprocessing
    return ("fork" in multiprocessing.get_all_start_methods()
            and not multiprocessing.current_process().daemon)


def _choose_jobs(jobs: int | None, *, designs: int, timed_rounds: int, pages: int,
                 need: int) -> int:
    """How many replays :func:`compare` runs at once (see its ``jobs``)."""
    have = memory_available()
    fit = max(1, have // max(need, 1)) if have is not None else designs
    if jobs is not None:
        if jobs > 1 and not _can_fork():
            raise ValueError("jobs above 1 need forked worker processes (Linux, not inside a "
                             "daemonic process)")
        if jobs > fit:
            raise MemoryError(f"{jobs} replays at once need about "
                              f"{math.ceil(jobs * need / (1 << 30)):,} GiB of memory; the machine "
                              f"has {have / (1 << 30):,.1f} GiB available (give fewer jobs)")
        return jobs
    if timed_rounds > 1 or pages < PARALLEL_MIN_PAGES or designs < 2 or not _can_fork():
        return 1
    # One per idle CPU: on a busy machine workers that fault fresh memory side by side
    # cost more than they save (measured on this 2-vCPU VM), so none then.
    return max(1, min(round(_idle_cpus()), designs, fit))


def compare(workload: str = "usemem", *, designs: Any = DESIGNS, repeat: int = 1,
            machine: Machine | dict | None = None, trace: Trace | str | os.PathLike | None = None,
            engine: str | None = None, progress: bool | Callable | None = None,
            min_time: float | None = None, warmup: bool | None = None,
            profile: Any = None, on_header: Callable[[str], Any] | None = None,
            jobs: int | None = None, **workload_params: Any) -> CompareResult:
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
    - ``profile``: the :class:`~vswap.clock.CostProfile` (or the path of
      one) the predicted kernel times use; None: the shipped
      :func:`~vswap.clock.default_profile`. The prediction is deterministic,
      so one replay per design gives it.
    - ``repeat``: timed replays per design for the *model speed* (the
      replay's own CPU time), round robin over the designs within each
      round, after one untimed ``warmup`` round (caches, allocator, page
      faults of the first run; default: only when ``repeat`` > 1).
      ``min_time``: go on with more rounds until every design has this
      many CPU seconds of timed replays (at most :data:`MAX_ROUNDS`). The
      trace is generated once.
    - ``jobs``: replays run at once, each in a worker process of its own
      (forked: Linux), the designs of one round side by side. None
      (default): one per idle CPU (at most one per design, and as many as
      fit in the available memory) for a run of a single timed round of
      traces of at least :data:`PARALLEL_MIN_PAGES` page events, else 1:
      with ``repeat`` above 1 or ``min_time`` the model-speed statistics
      are wanted, and replays one at a time do not share the memory bus;
      on a busy machine, workers that fault fresh memory side by side cost
      more system time than they save. The counters and the predicted
      times are the same either way; each replay's time is its own
      thread's CPU time.
    - ``on_header``: called with :meth:`CompareResult.header`'s text (no
      warnings yet) before the first replay, so a long run says at once
      what it runs.
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
    from vswap.clock import resolve_profile
    entries = resolve_designs(designs)
    names = tuple(n for n, _, _ in entries)
    repeat = _check_repeat(repeat)
    min_time = _check_min_time(min_time)
    jobs = _check_jobs(jobs)
    if warmup is None:
        warmup = repeat > 1
    if engine not in _ENGINES:
        raise ValueError(f"engine must be 'compiled' or 'reference', not {engine!r}")
    profile = resolve_profile(profile)
    reporter = _reporter(progress, repeat, names, (repeat + bool(warmup)) * len(names))
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
    total = int(trace.nr.sum(dtype=np.uint64))
    jobs = _choose_jobs(jobs, designs=len(entries),
                        timed_rounds=repeat if min_time is None else 2, pages=total,
                        need=memory_needed(span, machine.swap_pages_for(span)))
    engine, engine_note = _choose_engine(engine, entries, machine, span)
    reference = engine == "reference"
    if on_header is not None:
        on_header(CompareResult(workload=trace.name, params=dict(trace.params), machine=machine,
                                engine=engine, repeat=repeat, designs=names,
                                trace_summary=trace.summary(), runs={}, engine_note=engine_note,
                                warmup=bool(warmup), min_time=min_time,
                                profile=profile, jobs=jobs).header(warnings=False))
    if reference:
        rounds = repeat + (1 if warmup else 0)
        pages = int(trace.nr.sum(dtype=np.uint64)) * rounds * len(entries)
        if pages > 30 * REFERENCE_PAGES_PER_S:
            print(f"vswap: the reference engine ({engine_note}) replays about "
                  f"{REFERENCE_PAGES_PER_S:,} pages/s: this run of {pages:,} pages will take "
                  f"about {_duration(pages / REFERENCE_PAGES_PER_S)}", file=sys.stderr)

    runs: dict[str, list[ReplayResult]] = {n: [] for n in names}
    spent = dict.fromkeys(names, 0.0)

    def one(index: int, rep: int, report: bool = True) -> ReplayResult:
        name, design, switches = entries[index]
        callback = None
        if report and reporter is not None:
            reporter(name, rep, 0, total)
            callback = (lambda done: reporter(name, rep, done, total))   # noqa: E731
        space = design.build(machine, span, reference=reference, switches=switches)
        result = replay(trace, space, machine, engine=engine, progress=callback)
        result.design = name
        if report and reporter is not None:
            reporter(name, rep, total, total)
        return result

    pool = None

    def round_of(rep: int) -> list[ReplayResult]:
        """Every design's replay of round ``rep``, in the designs' order."""
        if pool is None:
            return [one(i, rep) for i in range(len(entries))]
        import concurrent.futures
        futures = {pool.submit(_run_job, i, rep): i for i in range(len(entries))}
        done: dict[int, ReplayResult] = {}
        failed: dict[int, BaseException] = {}
        for future in concurrent.futures.as_completed(futures):
            i = futures[future]
            if future.exception() is not None:
                failed[i] = future.exception()
                continue
            done[i] = future.result()
            if reporter is not None:
                reporter(names[i], rep, total, total)
        if failed:          # the first design's error, as one replay at a time would raise it
            raise failed[min(failed)]
        return [done[i] for i in range(len(entries))]

    try:
        if jobs > 1:
            import concurrent.futures
            import multiprocessing
            _JOB["one"] = one
            pool = concurrent.futures.ProcessPoolExecutor(
                jobs, mp_context=multiprocessing.get_context("fork"))
        first: dict[str, ReplayResult] = {}
        if warmup:
            for name, result in zip(names, round_of(0)):
                first[name] = result
        rep = 0
        while rep < repeat or (min_time is not None and rep < MAX_ROUNDS
                               and min(spent.values()) < min_time):
            rep += 1
            for name, result in zip(names, round_of(rep)):
                ref = first.setdefault(name, result)
                if ref is not result:
                    _check_same(ref, result, rep)
                runs[name].append(result)
                spent[name] += result.times["total_s"]
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
            _JOB.clear()
        if isinstance(reporter, _Bar):
            reporter.close()
    return CompareResult(workload=trace.name, params=dict(trace.params), machine=machine,
                         engine=engine, repeat=rep, designs=names,
                         trace_summary=trace.summary(), runs=runs, engine_note=engine_note,
                         warmup=bool(warmup), min_time=min_time, profile=profile, jobs=jobs)


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
    jobs: int = 1
    version: str = __version__
    profile: Any = None

    def predictions(self) -> dict[str, Any]:
        """Per design the :class:`~vswap.clock.Prediction` of its replay on :attr:`profile`.

        Deterministic: from the counters, which every repeat shares.
        Runtime complexity: O(designs * counters).

        >>> r = compare("memhog", size="1M", designs="cc_v2", repeat=1, progress=False)
        >>> r.predictions()["cc_v2"].sys_s > 0
        True
        """
        from vswap.clock import predict, resolve_profile
        if self.profile is None:
            self.profile = resolve_profile(None)
        cache = self.__dict__.setdefault("_predictions", {})
        for name, runs in self.runs.items():
            if name not in cache:
                cache[name] = predict(runs[0], self.profile)
        return {n: cache[n] for n in self.designs if n in cache}

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

        Keys: ``design``, ``repeat``, ``engine``; ``predicted``, the
        predicted kernel time (:mod:`vswap.clock`, deterministic) as a dict:
        ``sys_s``, ``user_s``, ``real_s``, ``tput_kbs``, ``free_ms``,
        ``profile`` (its name), ``vs_base_pct`` (real), ``sys_vs_base_pct``
        and ``free_vs_base_pct`` (None for the base); ``total_s_mean``,
        ``total_s_sd`` (the replay's CPU seconds), ``write_s_mean``/``_sd``
        (all but the FREE events), ``free_ms_mean``/``_sd`` (the FREE events,
        in ms), ``tput_kbs_mean``/``_sd`` (usemem's formula for usemem:
        ``1.125 * bytes_written / 1024 / write_s``; ``bytes_written / 1024 /
        write_s`` for the others; per repeat; None when the write phase took
        no measurable time), ``vs_base_pct`` (the mean over the rounds of
        ``100 * (time / base time - 1)``, None for the base), ``vs_base_ci_pct``
        (its 95 % half-width, None for one round), ``vs_base_noise`` (True
        when the interval includes 0), ``total_s_trimmed`` (the mean with the
        best and worst repeat dropped, :func:`vswap.stats.trimmed_mean`),
        ``vs_base_p`` (Welch's t-test of the times against the base's, None
        under two repeats a side) and ``runs_to_resolve`` (repeats a side that
        would resolve the observed difference at the observed spread,
        :func:`vswap.stats.runs_needed`; None where it cannot be said); every model counter of
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
        preds = self.predictions()
        base_pred = preds[self.base]
        rows = []
        for name in self.designs:
            runs = self.runs[name]
            first = runs[0]
            row: dict[str, Any] = {"design": name, "repeat": len(runs), "engine": self.engine}
            p = preds[name]
            row["predicted"] = {
                "sys_s": p.sys_s, "user_s": p.user_s, "real_s": p.real_s, "tput_kbs": p.tput_kbs,
                "free_ms": p.free_ms, "kswapd_s": p.kswapd_s, "profile": p.profile,
                "vs_base_pct": (None if name == self.base or not base_pred.real_s
                                else 100.0 * (p.real_s / base_pred.real_s - 1.0)),
                "sys_vs_base_pct": (None if name == self.base or not base_pred.sys_s
                                    else 100.0 * (p.sys_s / base_pred.sys_s - 1.0)),
                "free_vs_base_pct": (None if name == self.base or not base_pred.free_ms
                                     else 100.0 * (p.free_ms / base_pred.free_ms - 1.0))}
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
            times = [r.times["total_s"] for r in runs]
            row["total_s_trimmed"] = stats.trimmed_mean(times)
            row["vs_base_p"] = row["runs_to_resolve"] = None
            if name != self.base and len(times) > 1 and len(base_times) > 1:
                row["vs_base_p"] = stats.welch(times, base_times).p
                sd = max(stats.mean_sd(times)[1], stats.mean_sd(base_times)[1])
                diff = statistics.fmean(times) - statistics.fmean(base_times)
                if sd > 0 and diff:
                    row["runs_to_resolve"] = stats.runs_needed(sd, diff)
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
        ``min_time``, ``jobs``, ``time_unit`` (``"thread CPU seconds"``), ``designs``,
        ``base``, ``warnings``, ``rows`` (:attr:`rows`), ``times`` (per
        design, per time, the list of seconds of each repeat) and ``results``
        (per design its counters, stats, swap_stats, per_swapped_page and
        footprint), ``profile`` (the cost profile's name, host and
        provenance) and ``predicted`` (per design the whole
        :meth:`Prediction.to_dict <vswap.clock.Prediction.to_dict>`: phases,
        breakdown, unpriced). Runtime complexity: O(designs * (repeat +
        counters)).

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
            "jobs": self.jobs,
            "time_unit": "thread CPU seconds",
            "designs": list(self.designs),
            "base": self.base,
            "warnings": self.warnings,
            "rows": self.rows,
            "profile": {"name": self.profile.name, "host": dataclasses.asdict(self.profile.host),
                        "command": self.profile.provenance.get("command"),
                        "date": self.profile.provenance.get("date"),
                        "kernel": self.profile.provenance.get("kernel")},
            "predicted": {n: p.to_dict() for n, p in self.predictions().items()},
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

        The ``predicted`` dict is flattened into ``predicted_sys_s``,
        ``predicted_user_s``, ... columns (as in :meth:`to_dataframe`).

        A column a design does not have (e.g. ``per_page_lookups`` for the
        ``baseline``, which has no virtual layer) is empty, as is an
        sd of one repeat. Runtime complexity: O(designs * columns).

        >>> import csv, io
        >>> text = compare("memhog", size="1M", repeat=1, progress=False).to_csv()
        >>> [row["design"] for row in csv.DictReader(io.StringIO(text))]
        ['baseline', 'vss_v5', 'new_opt_v2', 'cc_v2']
        """
        rows = _flat_rows(self.rows)
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
        return pd.DataFrame(_flat_rows(self.rows)).set_index("design")

    def plot(self, path: str | os.PathLike | None = None):
        """Bar charts of the predicted kernel time (sys and user), the replay time (mean, sd as error bars) and xarray lookups per swapped page.

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
        ...     print(len(fig.axes) == 3)
        True
        """
        try:
            from matplotlib.figure import Figure
        except ImportError:
            raise ImportError("CompareResult.plot needs matplotlib: pip install 'vswap[plot]' "
                              "(or pip install matplotlib)") from None
        rows = self.rows
        names = [row["design"] for row in rows]
        fig = Figure(figsize=(7 + 2.4 * len(names), 4.6), layout="constrained")
        fig.suptitle(self.context(), fontsize="small")
        clock, left, right = fig.subplots(1, 3)
        sys_s = [row["predicted"]["sys_s"] for row in rows]
        user_s = [row["predicted"]["user_s"] for row in rows]
        clock.bar(names, sys_s, color="tab:red", label="sys")
        bars = clock.bar(names, user_s, bottom=sys_s, color="tab:gray", label="user")
        clock.bar_label(bars, labels=[f"{row['predicted']['real_s']:.3g}" for row in rows],
                        padding=2, fontsize="small")
        clock.set_ylabel("predicted kernel time (s)")
        clock.set_title(f"the clock (profile {self.profile.name})", fontsize="medium")
        clock.legend(fontsize="small")
        times = [row["total_s_mean"] for row in rows]
        bars = left.bar(names, times, yerr=[row["total_s_sd"] or 0.0 for row in rows], capsize=4,
                        color="tab:blue")
        left.bar_label(bars, labels=[f"{t:.3g}" for t in times], padding=2, fontsize="small")
        left.set_ylabel("replay CPU time (s)")
        left.set_title(f"model speed: mean +/- sd of {_plural(self.repeat, 'repeat')}",
                       fontsize="medium")
        lookups = [row.get("per_page_lookups") for row in rows]
        bars = right.bar(names, [v or 0.0 for v in lookups], color="tab:orange")
        right.bar_label(bars, labels=["n/a" if v is None else f"{v:.3g}" for v in lookups],
                        padding=2, fontsize="small")
        right.set_ylabel("xarray lookups per swapped page")
        right.set_title("virtual-layer lookups (n/a: no such counter)", fontsize="medium")
        for ax in (clock, left, right):
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

    def _profile_line(self) -> str:
        from vswap.clock import resolve_profile
        if self.profile is None:
            self.profile = resolve_profile(None)
        p = self.profile
        prov = p.provenance
        return (f"{p.name} ({p.host.name}, kernel {prov.get('kernel', '?')}, "
                f"{prov.get('date', '?')[:10]}; effective cache {p.host.llc_bytes / 2**20:.0f} MiB)")

    def _params_line(self) -> str:
        params = " ".join(f"{k}={'none' if v in (None, '') else v}" for k, v in self.params.items())
        return f"{self.workload} {params}".rstrip()

    def header(self, *, warnings: bool = True) -> str:
        """Lines naming the vswap version, workload and parameters, trace, machine, designs, engine, cost profile and timing, then any :attr:`warnings`.

        ``warnings=False`` leaves the warnings out (compare prints the
        header before the run, when there are none yet).
        Runtime complexity: O(params + designs).

        >>> r = compare("memhog", size="1M", designs="cc_v2", repeat=1, progress=False)
        >>> print(r.header())
        vswap ...: memhog size=1M passes=1 mthp=none nr_cpus=1 seed=0
        trace: 2 events; 256 pages touched, 256 written, 256 freed; 1 CPUs
        machine: ram 340K (85 pages), swap 4M (1,024 pages), backend zram, zero detection on, readahead 8, reclaim batch 32, watermark 0 pages
        designs: cc_v2 (vs base: cc_v2); compiled engine for all (every design has a C verb table)
        clock: predicted kernel time on cost profile reference (...)
        model speed: replay thread CPU seconds, 1 repeat round robin
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
        if self.jobs > 1:
            timing += f"; {self.jobs} replays at once, each in its own process"
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
            f"clock: predicted kernel time on cost profile {self._profile_line()}",
            f"model speed: replay thread CPU seconds, {timing}",
        ]
        if warnings:
            lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def table(self, *, header: bool = True) -> str:
        """The report's tables as aligned text, separated by blank lines.

        Every table's title is followed by :meth:`context` in brackets.

        0. *Predicted kernel time*, the headline: per design what the
           kernel would spend, from the replay's counters and the cost
           profile (:mod:`vswap.clock`; deterministic), in the report's
           columns: real (s), vs base, sys (s), tput (KB/s), free_ms. Then
           *where the time goes*: the events that dominate each phase.
        1. *Model speed*: per design the replay's own CPU time (mean +/- sd
           over the repeats), ``vs base`` (mean % change per round with its
           95 % confidence interval, "within noise" when it includes 0),
           throughput in KB/s (usemem's formula for usemem) and the free
           phase in ms: how fast the model runs, not the kernel.
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
        >>> [line for line in text.splitlines() if line.startswith(("Predicted", "Where", "Model", "Cost", "Metadata"))]
        ['Predicted kernel time (cost profile reference; deterministic), vs base: % change of real vs baseline',
         'Where the time goes (predicted kernel seconds, top events per phase)',
         'Model speed: replay CPU time mean +/- sd over 2 repeats, trimmed mean (best and worst dropped), vs base: % change vs baseline (95% CI; Welch t-test p, * below 0.05)',
         'Model counters (deterministic: the same in every repeat and on both engines)',
         'Cost per swapped page (design counters / pages swapped out to any backing)',
         'Metadata (kernel-equivalent bytes, just before the first free)']
        >>> print(text[text.index("Model counters"):text.index("\\n\\nCost")])
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
        parts.append(self._predicted_table(rows))
        parts.append(self._breakdown_table())
        parts.append(self._results_table(rows))
        if self.machine.kswapd:
            parts.append(reclaim_table(rows, self.base, self.context(), self.machine))
        parts.append(self._counters_table(rows))
        parts.append(self._cost_table(rows))
        parts.append(self._footprint_table(rows))
        return "\n\n".join(parts) + "\n"

    def _title(self, title: str) -> str:
        return f"{title}\n[{self.context()}]"

    def _results_table(self, rows: list[dict[str, Any]]) -> str:
        t = _decimals([r["total_s_mean"] for r in rows], least=1)
        f = _decimals([r["free_ms_mean"] for r in rows], least=1)
        body, notes = [], []
        for r in rows:
            if stats.warmup_outlier([x.times["total_s"] for x in self.runs[r["design"]]]):
                notes.append(f"{r['design']}: the first timed repeat stands out (a warm-up); "
                             f"the trimmed mean drops it")
            if r["runs_to_resolve"] is not None:
                notes.append(f"{r['design']}: {r['runs_to_resolve']:,} repeats a side would "
                             f"resolve its difference at this spread (alpha {stats.ALPHA}, power "
                             f"{stats.POWER}); this run had {r['repeat']}")
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
            if r["vs_base_p"] is not None:
                vs += f" p={r['vs_base_p']:.3f}{stats.mark(r['vs_base_p'])}"
            tput = "-" if r["tput_kbs_mean"] is None else _pm(r["tput_kbs_mean"], r["tput_kbs_sd"], 0)
            body.append([r["design"], _pm(r["total_s_mean"], r["total_s_sd"], t),
                         f"{r['total_s_trimmed']:,.{t}f}", vs, tput,
                         _pm(r["free_ms_mean"], r["free_ms_sd"], f)])
        title = (f"Model speed: replay CPU time mean +/- sd over {_plural(self.repeat, 'repeat')}, "
                 f"trimmed mean (best and worst dropped), vs base: % change vs {self.base} "
                 f"(95% CI; Welch t-test p, * below {stats.ALPHA})")
        table = _render(self._title(title), ["design", "time (s)", "trimmed (s)", "vs base",
                                             "tput (KB/s)", "free_ms"], body)
        return table + ("\n\n" + "\n".join(notes) if notes else "")

    def _predicted_table(self, rows: list[dict[str, Any]]) -> str:
        t = _decimals([r["predicted"]["real_s"] for r in rows], least=1)
        f = _decimals([r["predicted"]["free_ms"] for r in rows], least=1)
        body = []
        for r in rows:
            p = r["predicted"]
            vs = "base" if r["design"] == self.base else (
                "n/a" if p["vs_base_pct"] is None else f"{p['vs_base_pct']:+.1f}%")
            svs = "" if p["sys_vs_base_pct"] is None else f" ({p['sys_vs_base_pct']:+.1f}%)"
            fvs = "" if p["free_vs_base_pct"] is None else f" ({p['free_vs_base_pct']:+.1f}%)"
            body.append([r["design"], f"{p['real_s']:,.{t}f}", vs, f"{p['sys_s']:,.{t}f}{svs}",
                         "-" if p["tput_kbs"] is None else f"{p['tput_kbs']:,.0f}",
                         f"{p['free_ms']:,.{f}f}{fvs}"])
        title = (f"Predicted kernel time (cost profile {self.profile.name}; deterministic), "
                 f"vs base: % change of real vs {self.base}")
        return _render(self._title(title), ["design", "real (s)", "vs base", "sys (s)",
                                            "tput (KB/s)", "free_ms"], body)

    def _breakdown_table(self) -> str:
        from vswap.clock import EVENTS
        body = []
        for name, p in self.predictions().items():
            for ph, items in p.items.items():
                # the task's events as shares of the task's time; kswapd's pages run on its own
                # CPU (not in real), so they get a column of their own instead of a share
                task = [it for it in items if EVENTS[it[0]].clock != "kswapd"]
                total = sum(it[3] for it in task) or 1.0
                top = ", ".join(f"{e} {100 * sec / total:.0f}%" for e, _, _, sec in task[:4]
                                if sec > 0)
                kswapd = p.phases[ph].get("kswapd_s", 0.0)
                body.append([name, ph, f"{p.phases[ph]['real_s']:,.4g}",
                             f"{kswapd:,.4g}" if kswapd else "-", top or "-"])
            if p.unpriced:
                body.append([name, "unpriced", "-", "-", ", ".join(p.unpriced)])
        return _render(self._title("Where the time goes (predicted kernel seconds, top events "
                                   "per phase)"), ["design", "phase", "real (s)", "kswapd (s)",
                                                   "top events (the task's)"], body)

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


def _flat_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with the ``predicted`` dict as ``predicted_<key>`` columns (CSV, pandas)."""
    out = []
    for row in rows:
        flat = {k: v for k, v in row.items() if k != "predicted"}
        flat.update({f"predicted_{k}": v for k, v in row.get("predicted", {}).items()})
        out.append(flat)
    return out


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
