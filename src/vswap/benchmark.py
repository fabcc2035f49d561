"""Compare swap designs on one workload: :func:`compare` (also ``vswap.compare``), the library's main job.

One trace (:mod:`vswap.workloads`) is generated, or loaded, once and replayed
(:func:`vswap.replay.replay`) through every design, ``repeat`` times, round
robin over the designs within each repeat so that drift of the machine hits
all of them alike. The result, a :class:`CompareResult`, holds

- the wall-clock times of each repeat (replay total, write phase, free phase)
  and their mean and sample standard deviation; ``% vs base`` compares the
  mean replay times;
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
import json
import math
import os
import statistics
import sys
from typing import IO, Any, Callable

import numpy as np

from vswap._version import __version__
from vswap.replay import COUNTER_NAMES, DESIGNS, EXTRA_DESIGNS, Machine, ReplayResult, replay
from vswap.workloads import PAGE_SIZE, WORKLOADS, Trace, make_workload

__all__ = ["compare", "CompareResult", "default_machine", "DEFAULT_SIZES", "RAM_SHARE",
           "USEMEM_CREDIT"]

#: The size each workload runs at when none is given: the report's for
#: usemem and memhog; for random and mixed, sizes that replay in seconds.
DEFAULT_SIZES = {"usemem": "56G", "memhog": "48G", "random": "1G", "mixed": "8G"}
#: RAM of the default machine as a fraction (numerator, denominator) of the
#: pages a trace touches: the report's 32 GB for usemem's 56G (4/7) and 16 GB
#: for memhog's 48G (1/3), half for the others (and for traces of other names).
RAM_SHARE = {"usemem": (4, 7), "memhog": (1, 3), "random": (1, 2), "mixed": (1, 2)}
#: usemem counts ``size / 8`` more bytes than it writes in its KB/s line
#: (an "allocation credit" added in ``do_unit``), so its throughput is
#: ``1.125 * bytes_written / 1024 / seconds``.
USEMEM_CREDIT = 1.125

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
    """
    num, den = RAM_SHARE.get(trace.name, (1, 2))
    fields = {"ram": max(1, trace.pages_touched * num // den) * PAGE_SIZE, "backend": "zram"}
    fields.update(overrides)
    return Machine(**fields)


def _check_designs(designs: Any) -> tuple[str, ...]:
    if isinstance(designs, str):
        designs = [d.strip() for d in designs.split(",")]
    try:
        names = tuple(designs)
    except TypeError:
        raise TypeError(f"designs must be names from {DESIGNS}, not {type(designs).__name__}") from None
    if not names:
        raise ValueError(f"designs is empty; choose from {', '.join(DESIGNS)}")
    for name in names:
        if name not in DESIGNS and name not in EXTRA_DESIGNS:    # issue 15 hook
            raise ValueError(f"unknown design {name!r}; choose from "
                             f"{', '.join((*DESIGNS, *EXTRA_DESIGNS))}")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"design {dup[0]!r} is given twice")
    return names


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
        text = (f"{design:<{self.name_width}}  repeat {rep}/{self.repeat}  "
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


def _check_same(first: ReplayResult, again: ReplayResult, rep: int) -> None:
    for part in ("counters", "stats", "swap_stats", "footprint"):
        a, b = getattr(first, part), getattr(again, part)
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                raise RuntimeError(
                    f"{first.design}: {part}[{key!r}] was {a.get(key)} in repeat 1 but "
                    f"{b.get(key)} in repeat {rep}; deterministic counters must not change "
                    f"between repeats (a bug in vswap)")


def compare(workload: str = "usemem", *, designs: Any = DESIGNS, repeat: int = 3,
            machine: Machine | dict | None = None, trace: Trace | str | os.PathLike | None = None,
            engine: str | None = None, progress: bool | Callable | None = None,
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
    - ``designs``: names of :data:`vswap.replay.DESIGNS` (or one
      comma-separated string), replayed in this order. ``% vs base`` is
      relative to ``baseline`` when it is among them, else to the first.
    - ``repeat``: replays per design, round robin over the designs within
      each repeat. The trace is generated once.
    - ``engine``: ``"compiled"`` (default) or ``"reference"`` (pure Python).
    - ``progress``: a text bar on stderr showing design, repeat and pages
      done; None draws it only when stderr is a tty, True or False force it;
      a callable is called as ``progress(design, repeat, pages_done,
      pages_total)`` (``repeat`` from 1) about every 2**20 pages and at the
      end of each replay.

    The deterministic counters (``counters``, ``stats``, ``swap_stats``,
    ``footprint`` of each replay) are checked to be equal across repeats:
    RuntimeError naming the counter otherwise. Runtime complexity:
    O(repeat * len(designs) * pages touched, written and freed).

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
    ValueError: memhog does not take tasks; it takes: size, repeat, mthp, nr_cpus, seed
    """
    names = _check_designs(designs)
    repeat = _check_repeat(repeat)
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
        trace = make_workload(workload, **{"size": DEFAULT_SIZES[workload], **workload_params})
    if not isinstance(machine, Machine):
        machine = default_machine(trace, **(machine or {}))

    total = int(trace.nr.sum(dtype=np.uint64))
    runs: dict[str, list[ReplayResult]] = {n: [] for n in names}
    try:
        for rep in range(1, repeat + 1):
            for name in names:
                callback = None
                if reporter is not None:
                    reporter(name, rep, 0, total)
                    callback = (lambda done, name=name, rep=rep:   # noqa: E731
                                reporter(name, rep, done, total))
                result = replay(trace, name, machine, engine=engine, progress=callback)
                if reporter is not None:
                    reporter(name, rep, total, total)
                if runs[name]:
                    _check_same(runs[name][0], result, rep)
                runs[name].append(result)
    finally:
        if isinstance(reporter, _Bar):
            reporter.close()
    return CompareResult(workload=trace.name, params=dict(trace.params), machine=machine,
                         engine=engine or "compiled", repeat=repeat, designs=names,
                         trace_summary=trace.summary(), runs=runs)


# --------------------------------------------------------------------------- result

def _mean_sd(values: list[float]) -> tuple[float, float | None]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None


def _decimals(values, digits: int = 3, least: int = 0, most: int = 6) -> int:
    """Decimals that show the smallest non-zero value with ``digits`` significant digits."""
    nonzero = [abs(v) for v in values if v]
    if not nonzero:
        return least
    return max(least, min(most, digits - 1 - math.floor(math.log10(min(nonzero)))))


def _pm(mean: float, sd: float | None, decimals: int) -> str:
    text = f"{mean:,.{decimals}f}"
    return text if sd is None else f"{text} +/- {sd:,.{decimals}f}"


def _render(title: str, header: list[str], rows: list[list[str]]) -> str:
    """An aligned text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]

    def line(cells):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([title, line(header), "  ".join("-" * w for w in widths)]
                     + [line(r) for r in rows])


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _fmt_bytes(nbytes: int) -> str:
    for shift, unit in ((40, "T"), (30, "G"), (20, "M"), (10, "K")):
        if nbytes >= 1 << shift:
            if nbytes % (1 << shift) == 0:
                return f"{nbytes >> shift}{unit}"
            return f"{nbytes / (1 << shift):.2f}{unit}"
    return f"{nbytes} B"


@dataclasses.dataclass
class CompareResult:
    """What :func:`compare` measured: every replay, and the report's summaries of them.

    Attributes: ``workload`` (name) and ``params`` (the generator's
    arguments), ``machine`` (the :class:`~vswap.replay.Machine`), ``engine``,
    ``repeat``, ``designs`` (in replay order), ``trace_summary``
    (:meth:`Trace.summary <vswap.workloads.Trace.summary>`), ``runs`` (per
    design, its :class:`~vswap.replay.ReplayResult` of each repeat) and
    ``version`` (of vswap). The summaries are :attr:`rows` (one flat dict per
    design) and :meth:`table`. Runtime complexity: O(1) to build.

    >>> from vswap.replay import Machine
    >>> r = compare("usemem", size="2M", machine=Machine(ram="1M"), repeat=2, progress=False)
    >>> r
    CompareResult('usemem', designs baseline, vss_v5, new_opt_v2, cc_v2; 2 repeats; base baseline)
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
    version: str = __version__

    def __repr__(self) -> str:
        """Workload, designs, repeats and base. Runtime complexity: O(designs).

        >>> from vswap.replay import Machine
        >>> compare("memhog", size="1M", designs=["cc_v2"], repeat=1, progress=False)
        CompareResult('memhog', designs cc_v2; 1 repeat; base cc_v2)
        """
        return (f"CompareResult({self.workload!r}, designs {', '.join(self.designs)}; "
                f"{_plural(self.repeat, 'repeat')}; base {self.base})")

    def __str__(self) -> str:
        """The tables: :meth:`table`. Runtime complexity: that of :meth:`table`.

        >>> r = compare("memhog", size="1M", designs=["cc_v2"], repeat=1, progress=False)
        >>> str(r) == r.table()
        True
        """
        return self.table()

    @property
    def base(self) -> str:
        """The design ``% vs base`` refers to: ``baseline`` if compared, else the first design.

        Runtime complexity: O(designs).

        >>> compare("memhog", size="1M", designs="cc_v2,baseline", repeat=1, progress=False).base
        'baseline'
        """
        return "baseline" if "baseline" in self.designs else self.designs[0]

    def _tput_factor(self) -> float:
        return USEMEM_CREDIT if self.workload == "usemem" else 1.0

    @property
    def rows(self) -> list[dict[str, Any]]:
        """One flat dict per design, in replay order: what :meth:`to_csv` and :meth:`to_dataframe` hold.

        Keys: ``design``, ``repeat``; ``total_s_mean``, ``total_s_sd`` (the
        replay), ``write_s_mean``/``_sd`` (all but the FREE events),
        ``free_ms_mean``/``_sd`` (the FREE events, in ms), ``tput_kbs_mean``/``_sd``
        (usemem's formula for usemem: ``1.125 * bytes_written / 1024 /
        write_s``; ``bytes_written / 1024 / write_s`` for the others; computed
        per repeat), ``vs_base_pct`` (``100 * (mean / base mean - 1)``, None
        for the base); every model counter of :data:`vswap.replay.COUNTER_NAMES`;
        ``per_page_<name>`` for each of the design's own counters divided by
        ``pswpout`` (:meth:`ReplayResult.per_swapped_page
        <vswap.replay.ReplayResult.per_swapped_page>`: raw totals when nothing
        was swapped); ``footprint_bytes`` (metadata bytes, kernel-equivalent,
        just before the first free), ``footprint_bytes_per_page`` (per
        ``pswpout``) and ``footprint_<component>``. An sd is None for one
        repeat. Runtime complexity: O(designs * (repeat + counters)).

        >>> r = compare("usemem", size="2M", machine={"ram": "1M"}, repeat=2, progress=False)
        >>> row = r.rows[1]
        >>> row["design"], row["pswpout"], row["per_page_cgroup_checks"], row["footprint_bytes"] > 0
        ('vss_v5', 256, 1.0, True)
        """
        bytes_written = self.trace_summary["pages_written"] * PAGE_SIZE
        factor = self._tput_factor()
        base_mean = statistics.fmean(r.times["total_s"] for r in self.runs[self.base])
        rows = []
        for name in self.designs:
            runs = self.runs[name]
            first = runs[0]
            row: dict[str, Any] = {"design": name, "repeat": len(runs)}
            for key in _TIMES:
                scale, out = (1000.0, "free_ms") if key == "free_s" else (1.0, key)
                row[f"{out}_mean"], row[f"{out}_sd"] = _mean_sd([r.times[key] * scale for r in runs])
            row["tput_kbs_mean"], row["tput_kbs_sd"] = _mean_sd(
                [factor * bytes_written / 1024 / max(r.times["write_s"], 1e-12) for r in runs])
            row["vs_base_pct"] = (None if name == self.base
                                  else 100.0 * (row["total_s_mean"] / base_mean - 1.0))
            row.update(first.counters)
            row.update({f"per_page_{k}": v for k, v in first.per_swapped_page().items()})
            swapped = max(1, first.counters["pswpout"])
            row["footprint_bytes"] = first.footprint["total"]
            row["footprint_bytes_per_page"] = first.footprint["total"] / swapped
            row.update({f"footprint_{k}": v for k, v in first.footprint.items() if k != "total"})
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON-able values: settings, summaries and every repeat's times.

        Keys: ``vswap_version``, ``workload``, ``params``, ``trace``
        (its summary), ``machine`` (the Machine's fields, ``ram_pages`` and
        ``swap_pages``), ``engine``, ``repeat``, ``designs``, ``base``,
        ``rows`` (:attr:`rows`), ``times`` (per design, per time, the list of
        seconds of each repeat) and ``results`` (per design its counters,
        stats, swap_stats, per_swapped_page and footprint).
        Runtime complexity: O(designs * (repeat + counters)).

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
            "repeat": self.repeat,
            "designs": list(self.designs),
            "base": self.base,
            "rows": self.rows,
            "times": {name: {key: [r.times[key] for r in runs] for key in _TIMES}
                      for name, runs in self.runs.items()},
            "results": {name: {"counters": dict(runs[0].counters), "stats": dict(runs[0].stats),
                               "swap_stats": dict(runs[0].swap_stats),
                               "per_swapped_page": runs[0].per_swapped_page(),
                               "footprint": dict(runs[0].footprint)}
                        for name, runs in self.runs.items()},
        }

    def to_json(self, path_or_file: str | os.PathLike | IO[str]) -> None:
        """Write :meth:`to_dict` as indented JSON to a path or an open text file.

        Runtime complexity: that of :meth:`to_dict`.

        >>> import io, json
        >>> out = io.StringIO()
        >>> compare("memhog", size="1M", repeat=1, progress=False).to_json(out)
        >>> json.loads(out.getvalue())["workload"]
        'memhog'
        """
        text = json.dumps(self.to_dict(), indent=2) + "\n"
        if hasattr(path_or_file, "write"):
            path_or_file.write(text)
        else:
            with open(path_or_file, "w", encoding="utf-8") as f:
                f.write(text)

    def to_csv(self, path_or_file: str | os.PathLike | IO[str]) -> None:
        """Write :attr:`rows` as CSV (a header, then one line per design) to a path or an open text file.

        A column a design does not have (e.g. ``per_page_lookups`` for the
        mainline ``baseline``, which has no virtual layer) is empty, as is an
        sd of one repeat. Runtime complexity: O(designs * columns).

        >>> import csv, io
        >>> out = io.StringIO()
        >>> compare("memhog", size="1M", repeat=1, progress=False).to_csv(out)
        >>> [row["design"] for row in csv.DictReader(io.StringIO(out.getvalue()))]
        ['baseline', 'vss_v5', 'new_opt_v2', 'cc_v2']
        """
        rows = self.rows
        columns = list(dict.fromkeys(k for row in rows for k in row))

        def write(f):
            w = csv.DictWriter(f, fieldnames=columns, restval="", lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
        if hasattr(path_or_file, "write"):
            write(path_or_file)
        else:
            with open(path_or_file, "w", encoding="utf-8", newline="") as f:
                write(f)

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

        Saves to ``path`` (format from its extension) when given; returns the
        matplotlib Figure. ImportError without matplotlib (the ``plot`` extra:
        ``pip install 'vswap[plot]'``). Runtime complexity: O(designs) plus
        matplotlib's drawing.

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
        fig = Figure(figsize=(4 + 1.6 * len(names), 4), layout="constrained")
        left, right = fig.subplots(1, 2)
        left.bar(names, [row["total_s_mean"] for row in rows],
                 yerr=[row["total_s_sd"] or 0.0 for row in rows], capsize=4, color="tab:blue")
        left.set_ylabel("replay time (s)")
        left.set_title(f"{self.workload}: mean +/- sd of {self.repeat} repeats")
        # The mainline design has no virtual layer, hence no xarray lookups: 0.
        right.bar(names, [row.get("per_page_lookups", 0.0) for row in rows], color="tab:orange")
        right.set_ylabel("xarray lookups per swapped page")
        right.set_title("virtual-layer lookups")
        for ax in (left, right):
            ax.tick_params(axis="x", labelrotation=20)
        if path is not None:
            fig.savefig(path)
        return fig

    # ---------------------------------------------------------------- text

    def header(self) -> str:
        """Lines naming the vswap version, workload and parameters, trace, machine, designs and repeats.

        Runtime complexity: O(params + designs).

        >>> r = compare("memhog", size="1M", designs="cc_v2", repeat=1, progress=False)
        >>> print(r.header())
        vswap ...: memhog size=1M repeat=1 mthp=none nr_cpus=1 seed=0
        trace: 2 events; 256 pages touched, 256 written, 256 freed; 1 CPUs
        machine: ram 340K (85 pages), swap 4M (1,024 pages), backend zram, zero detection on, readahead 1, reclaim batch 32, watermark 0 pages
        designs: cc_v2 (vs base: cc_v2); 1 repeat, round robin; compiled engine
        """
        m, s = self.machine, self.trace_summary
        params = " ".join(f"{k}={'none' if v in (None, '') else v}" for k, v in self.params.items())
        swap = m.swap_pages_for(s["nr_pages"])
        backend = m.backend + (f" (pool {m.zswap_pool_pages:,} pages)" if m.backend == "zswap" else "")
        return "\n".join([
            f"vswap {self.version}: {self.workload} {params}".rstrip(),
            f"trace: {s['events']:,} events; {s['pages_touched']:,} pages touched, "
            f"{s['pages_written']:,} written, {s['pages_freed']:,} freed; {s['nr_cpus']} CPUs",
            f"machine: ram {_fmt_bytes(m.ram_pages * PAGE_SIZE)} ({m.ram_pages:,} pages), "
            f"swap {_fmt_bytes(swap * PAGE_SIZE)} ({swap:,} pages), backend {backend}, "
            f"zero detection {'on' if m.zero_detection else 'off'}, "
            f"readahead {m.readahead_pages}, reclaim batch {m.reclaim_batch}, "
            f"watermark {m.watermark_pages:,} pages",
            f"designs: {', '.join(self.designs)} (vs base: {self.base}); {_plural(self.repeat, 'repeat')}, "
            f"round robin; {self.engine} engine",
        ])

    def table(self, *, header: bool = True) -> str:
        """The report's tables as aligned text, separated by blank lines.

        1. *Results*: per design the replay time (mean +/- sd over the
           repeats), ``vs base`` (% change of the mean), throughput in KB/s
           (usemem's formula for usemem) and the free phase in ms.
        2. *Model counters*: the memory model's counters (non-zero for some
           design), the report's "reclaim / compaction counters"; the same
           in every repeat, so without sd.
        3. *Cost per swapped page*: each design's own work counters divided
           by ``pswpout`` (those non-zero for some design; ``-`` where a
           design has no such counter): where the time goes.
        4. *Metadata*: kernel-equivalent bytes, total and per swapped page,
           and their components.

        ``header=True`` puts :meth:`header` first. Runtime complexity:
        O(designs * (repeat + counters)).

        >>> r = compare("usemem", size="2M", machine={"ram": "1M"}, repeat=2, progress=False)
        >>> text = r.table()
        >>> [line for line in text.splitlines() if line.startswith(("Results", "Model", "Cost", "Metadata"))]
        ['Results: usemem, replay time mean +/- sd over 2 repeats, vs base: % change vs baseline',
         'Model counters (deterministic: the same in every repeat)',
         'Cost per swapped page (design counters / pswpout)',
         'Metadata (kernel-equivalent bytes, just before the first free)']
        >>> print(text[text.index("Model"):text.index("\\n\\nCost")])
        Model counters (deterministic: the same in every repeat)
        metric         baseline  vss_v5  new_opt_v2  cc_v2
        -------------  --------  ------  ----------  -----
        pgfault             512     512         512    512
        pages_touched       512     512         512    512
        pswpout             256     256         256    256
        pgsteal             256     256         256    256
        allocstall            8       8           8      8
        zram_comp           256     256         256    256
        dev_writes          256     256         256    256
        free_batches          1       1           1      1
        free_entries        256     256         256    256
        free_resident       256     256         256    256
        """
        rows = self.rows
        parts = [self.header()] if header else []
        parts.append(self._results_table(rows))
        parts.append(self._counters_table(rows))
        parts.append(self._cost_table(rows))
        parts.append(self._footprint_table(rows))
        return "\n\n".join(parts) + "\n"

    def _results_table(self, rows: list[dict[str, Any]]) -> str:
        t = _decimals([r["total_s_mean"] for r in rows], least=1)
        f = _decimals([r["free_ms_mean"] for r in rows], least=1)
        body = []
        for r in rows:
            vs = "base" if r["vs_base_pct"] is None else f"{r['vs_base_pct']:+.1f}%"
            body.append([r["design"], _pm(r["total_s_mean"], r["total_s_sd"], t), vs,
                         _pm(r["tput_kbs_mean"], r["tput_kbs_sd"], 0),
                         _pm(r["free_ms_mean"], r["free_ms_sd"], f)])
        title = (f"Results: {self.workload}, replay time mean +/- sd over "
                 f"{_plural(self.repeat, 'repeat')}, "
                 f"vs base: % change vs {self.base}")
        return _render(title, ["design", "time (s)", "vs base", "tput (KB/s)", "free_ms"], body)

    def _counters_table(self, rows: list[dict[str, Any]]) -> str:
        names = [c for c in COUNTER_NAMES if any(r.get(c) for r in rows)]
        body = [[c] + [f"{r[c]:,}" for r in rows] for c in names]
        return _render("Model counters (deterministic: the same in every repeat)",
                       ["metric"] + [r["design"] for r in rows], body)

    def _cost_table(self, rows: list[dict[str, Any]]) -> str:
        seen = dict.fromkeys(k[len("per_page_"):] for r in rows for k in r
                             if k.startswith("per_page_") and r[k])
        names = [k for k in _COST_ORDER if k in seen] + [k for k in seen if k not in _COST_ORDER]
        body = []
        for c in names:
            cells = [r.get(f"per_page_{c}") for r in rows]
            d = _decimals([v for v in cells if v is not None], least=2, most=4)
            body.append([c] + ["-" if v is None else f"{v:,.{d}f}" for v in cells])
        title = "Cost per swapped page (design counters / pswpout)"
        if not any(r["pswpout"] for r in rows):
            title += "; nothing was swapped out: totals"
        return _render(title, ["counter"] + [r["design"] for r in rows], body)

    def _footprint_table(self, rows: list[dict[str, Any]]) -> str:
        comps = list(dict.fromkeys(k for r in rows for k in r if k.startswith("footprint_")
                                   and k not in ("footprint_bytes", "footprint_bytes_per_page")))
        body = [["total"] + [f"{r['footprint_bytes']:,}" for r in rows],
                ["per swapped page"] + [f"{r['footprint_bytes_per_page']:,.1f}" for r in rows]]
        for c in comps:
            body.append([c[len("footprint_"):]]
                        + ["-" if c not in r else f"{r[c]:,}" for r in rows])
        return _render("Metadata (kernel-equivalent bytes, just before the first free)",
                       ["bytes"] + [r["design"] for r in rows], body)
