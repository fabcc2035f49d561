"""Parameter grids: one replay per point, on every core of a machine or on a Dask cluster.

A comparison (:func:`vswap.compare`) is one point; the questions reviewers
ask are curves: metadata and lookups per page as usage grows, cost per design
as RAM shrinks, the same with ten seeds to see the spread. :func:`sweep`
runs a grid of them:

- **The grid** is a dict (or a JSON, TOML or YAML file) of axes, each a
  value or a list of values: ``design``, ``workload``, any parameter of the
  workloads (``size``, ``seed``, ``mthp``, ...), any field of
  :class:`vswap.replay.Machine` (``ram``, ``backend``, ``swap``, ...),
  ``ram_share`` (RAM as a share of the pages the trace touches) and
  ``replica`` (repeats of the same point, numbered). Plural names
  (``designs``, ``seeds``, ``sizes``, ...) are accepted. Every point of the
  product is checked before anything runs: an unknown axis, an empty one, a
  value a workload or a Machine refuses is a ValueError (or TypeError) then.
- **Each point** is one replay. The trace of each distinct workload is
  generated once and shared by every point that replays it (sent once to
  each worker process, or scattered once to the Dask workers).
- **Results** are a tidy table, one row per point: every axis, every
  counter, the design's and the allocator's work counters, the metadata
  bytes, the time; ``error`` holds the exception of a point that failed (the
  sweep goes on). With ``out``, rows are appended to a journal
  (``OUT.partial.jsonl``) as points finish, so an interrupted sweep resumes
  (``resume=True``) with the points not yet done; the table is written to
  ``out`` (``.csv`` or ``.parquet``) at the end and the journal removed.
- **Engines**: local processes (``jobs``, default every core; ``jobs=1``
  runs in this process), or Dask distributed (``client`` or a ``scheduler``
  address; ``pip install "vswap[sweep]"``).

Each row also carries the predicted kernel time of its replay on the shipped
cost profile (:mod:`vswap.clock`): ``predicted_sys_s``, ``predicted_user_s``,
``predicted_real_s``, ``predicted_tput_kbs``, ``predicted_free_ms`` and
``predicted_ns_per_page`` (predicted sys ns per page swapped out).

The counters, and so the predictions, are deterministic: every engine gives
the same table but for the time columns (``time_s``, ``write_s``, ``free_s``).

>>> r = sweep({"design": ["baseline", "cc_v2"], "workload": "usemem", "size": "2M",
...            "ram": ["512K", "1M"]}, jobs=1, progress=False)
>>> len(r), r.rows[0]["design"], r.rows[0]["ram"], r.rows[0]["pswpout"]
(4, 'baseline', '512K', 384)
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import inspect
import itertools
import json
import math
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import IO, Any, Iterable

from vswap.replay import Machine, replay
from vswap.designs import resolve_designs
from vswap.workloads import PAGE_SIZE, WORKLOADS, Trace, make_workload

__all__ = ["sweep", "SweepResult", "load_grid", "parse_axis_values", "expand_grid", "AXIS_ALIASES",
           "TIME_COLUMNS", "check_point"]

#: Plural or short axis names and the axis they mean.
AXIS_ALIASES = {"designs": "design", "workloads": "workload", "seeds": "seed", "sizes": "size",
                "backends": "backend", "rams": "ram", "replicas": "replica",
                "repeats": "replica"}
#: Columns that differ from run to run (everything else is deterministic).
TIME_COLUMNS = ("time_s", "write_s", "free_s")
_OWN_AXES = ("design", "workload", "ram_share", "replica")
_MACHINE_FIELDS = tuple(f.name for f in dataclasses.fields(Machine))


def _workload_params() -> dict[str, set[str]]:
    return {name: set(inspect.signature(gen).parameters) for name, gen in WORKLOADS.items()}


def known_axes() -> tuple[str, ...]:
    """Every axis a grid may have. Runtime complexity: O(workloads + Machine fields).

    >>> "ram" in known_axes() and "seed" in known_axes() and "design" in known_axes()
    True
    """
    params = sorted(set().union(*_workload_params().values()))
    return tuple(dict.fromkeys([*_OWN_AXES, *params, *_MACHINE_FIELDS]))


# --------------------------------------------------------------------------- the grid

def parse_axis_values(text: str) -> list[Any]:
    """A CLI axis: comma-separated values; ``a..b`` is the integers a to b; numbers and booleans typed.

    Runtime complexity: O(values).

    >>> parse_axis_values("0..3,7"), parse_axis_values("8G,16G"), parse_axis_values("true,0.5")
    ([0, 1, 2, 3, 7], ['8G', '16G'], [True, 0.5])
    """
    out: list[Any] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            raise ValueError(f"empty value in {text!r}")
        lo, sep, hi = part.partition("..")
        if sep:
            try:
                a, b = int(lo), int(hi)
            except ValueError:
                raise ValueError(f"range {part!r} must be two integers, like 0..9") from None
            if b < a:
                raise ValueError(f"range {part!r} is empty")
            out.extend(range(a, b + 1))
            continue
        low = part.lower()
        if low in ("true", "false"):
            out.append(low == "true")
            continue
        for conv in (int, float):
            try:
                out.append(conv(part))
                break
            except ValueError:
                pass
        else:
            out.append(part)
    return out


def load_grid(path: str | os.PathLike) -> dict[str, Any]:
    """A grid from a ``.json``, ``.toml`` or ``.yaml``/``.yml`` file (YAML needs PyYAML).

    OSError for a file that cannot be read, ValueError for one that does not
    parse or is not a table of axes. Runtime complexity: O(file).
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    with open(path, "rb") as f:
        data = f.read()
    try:
        if ext == ".json":
            grid = json.loads(data)
        elif ext == ".toml":
            import tomllib
            grid = tomllib.loads(data.decode())
        elif ext in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError:
                raise ValueError("a YAML grid needs PyYAML: pip install 'vswap[sweep]'") from None
            grid = yaml.safe_load(data)
        else:
            raise ValueError(f"{path}: a grid file is .json, .toml or .yaml, not {ext or 'none'}")
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    except Exception as exc:        # the parsers' own errors (yaml.YAMLError, ...)
        raise ValueError(f"{path}: {type(exc).__name__}: {exc}") from None
    if not isinstance(grid, dict):
        raise ValueError(f"{path}: a grid is a table of axes, not {type(grid).__name__}")
    return grid


def _normalise(grid: dict[str, Any]) -> dict[str, list[Any]]:
    if not isinstance(grid, dict):
        raise TypeError(f"grid must be a dict of axes (or a file), not {type(grid).__name__}")
    axes: dict[str, list[Any]] = {}
    known = known_axes()
    for key, values in grid.items():
        if not isinstance(key, str):
            raise TypeError(f"axis names are strings, not {type(key).__name__}")
        name = AXIS_ALIASES.get(key, key).replace("-", "_")
        if name not in known:
            raise ValueError(f"unknown axis {key!r}; axes: {', '.join(known)}")
        if name in axes:
            raise ValueError(f"axis {name!r} is given twice")
        if isinstance(values, (list, tuple)):
            values = list(values)
        elif isinstance(values, range):
            values = list(values)
        else:
            values = [values]
        if not values:
            raise ValueError(f"axis {name!r} is empty")
        for v in values:
            if not isinstance(v, (str, int, float, bool)) and v is not None:
                raise TypeError(f"axis {name!r}: values are strings, numbers or booleans, "
                                f"not {type(v).__name__}")
        if len(set(map(repr, values))) != len(values):
            raise ValueError(f"axis {name!r} repeats a value")
        axes[name] = values
    axes.setdefault("design", ["baseline"])
    axes.setdefault("workload", ["usemem"])
    return axes


def expand_grid(grid: dict[str, Any]) -> list[dict[str, Any]]:
    """Every point of the grid, in product order (the axes in the order given). Runtime complexity: O(points).

    >>> [p["seed"] for p in expand_grid({"seed": [0, 1], "size": "1M"})]
    [0, 1]
    """
    axes = _normalise(grid)
    names = list(axes)
    return [dict(zip(names, combo)) for combo in itertools.product(*axes.values())]


def _split(point: dict[str, Any]) -> tuple[str, str, dict, dict, float | None]:
    """(design, workload, workload params, Machine fields, ram_share) of a point."""
    accepted = _workload_params()[point["workload"]] if point["workload"] in WORKLOADS else set()
    wparams, mfields = {}, {}
    for k, v in point.items():
        if k in _OWN_AXES:
            continue
        if k in accepted:
            wparams[k] = v
        elif k in _MACHINE_FIELDS:
            mfields[k] = v
        else:
            raise ValueError(f"{point['workload']} does not take {k!r}; it takes "
                             f"{', '.join(sorted(accepted))}")
    return point["design"], point["workload"], wparams, mfields, point.get("ram_share")


def _workload_key(workload: str, wparams: dict) -> str:
    return json.dumps([workload, wparams], sort_keys=True, default=str)


def point_id(point: dict[str, Any]) -> str:
    """A stable id of a point (what ``resume`` matches). Runtime complexity: O(axes).

    >>> point_id({"design": "cc_v2", "seed": 1}) == point_id({"seed": 1, "design": "cc_v2"})
    True
    """
    text = json.dumps(point, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _machine(trace: Trace, mfields: dict, ram_share: float | None) -> Machine:
    from vswap.replay import default_machine
    fields = dict(mfields)
    if ram_share is not None:
        if "ram" in fields:
            raise ValueError("give ram or ram_share, not both")
        if isinstance(ram_share, bool) or not isinstance(ram_share, (int, float)) or \
                not 0 < ram_share <= 1:
            raise ValueError(f"ram_share must be a number in (0, 1], not {ram_share!r}")
        fields["ram"] = max(1, int(trace.pages_touched * ram_share)) * PAGE_SIZE
    return default_machine(trace, **fields)


def check_point(point: dict[str, Any], traces: dict[str, Trace]) -> tuple[str, str, dict]:
    """Check one point and make its trace if new: ``(design, trace key, Machine fields)``.

    ``traces`` is the cache of traces by workload key, filled here.
    ValueError or TypeError naming the point. Runtime complexity: that of
    the trace's generation, once per distinct workload.
    """
    try:
        design, workload, wparams, mfields, share = _split(point)
        if not isinstance(design, str):
            raise TypeError(f"a design is a name, not {type(design).__name__}")
        resolve_designs([design])           # registered, virtual+SWITCH or module:factory
        key = _workload_key(workload, wparams)
        if key not in traces:
            from vswap.workload_registry import workload_record
            size = workload_record(workload).default_size
            traces[key] = make_workload(workload, **{"size": size, **wparams})
        machine = _machine(traces[key], mfields, share)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"grid point {_describe(point)}: {exc}") from None
    return design, key, machine.to_dict()


def _describe(point: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in point.items())


# --------------------------------------------------------------------------- one point

_WORKER_TRACES: dict[str, Trace] = {}


def _init_worker(traces: dict[str, Trace]) -> None:
    _WORKER_TRACES.clear()
    _WORKER_TRACES.update(traces)


def _run_point(point: dict[str, Any], design: str, trace: Trace, machine: dict) -> dict[str, Any]:
    """The row of one point: the point, then its counters and times (or its error)."""
    row: dict[str, Any] = {"point_id": point_id(point), **point, "error": None}
    try:
        fields = {f: machine[f] for f in _MACHINE_FIELDS}
        cpu0 = time.thread_time()
        r = replay(trace, design, Machine(**fields))
        cpu = time.thread_time() - cpu0
    except Exception as exc:        # noqa: BLE001 - recorded; the sweep goes on
        row["error"] = f"{type(exc).__name__}: {exc}"
        return row
    row["ram_pages"] = machine["ram_pages"]
    row.update(r.counters)
    for table in (r.stats, r.swap_stats):
        for k, v in table.items():
            row[k if k not in row else f"swap_{k}"] = v
    row.update({f"footprint_{k}": v for k, v in r.footprint.items()})
    row.update(_predicted_columns(r))
    row.update(time_s=cpu, write_s=r.times["write_s"], free_s=r.times["free_s"])
    return row


def _predicted_columns(r: Any) -> dict[str, Any]:
    """The predicted kernel time of a replay on the default profile (:mod:`vswap.clock`):
    ``predicted_<key>`` for sys_s, user_s, real_s, tput_kbs, free_ms, and
    ``predicted_ns_per_page``, the predicted sys ns per page swapped out."""
    from vswap.clock import PREDICTED_KEYS, predict
    p = predict(r).to_dict()
    out = {f"predicted_{k}": p[k] for k in PREDICTED_KEYS}
    swapped = r.counters.get("swapped_out", 0)
    out["predicted_ns_per_page"] = p["sys_s"] * 1e9 / swapped if swapped else None
    return out


def _run_cached(point, design, key, machine):
    return _run_point(point, design, _WORKER_TRACES[key], machine)


# --------------------------------------------------------------------------- progress

class _Progress:
    def __init__(self, stream: IO[str], total: int, done: int) -> None:
        self.stream, self.total, self.done, self.start_done = stream, total, done, done
        self.failed = 0
        self.t0 = time.monotonic()

    def __call__(self, row: dict[str, Any]) -> None:
        self.done += 1
        self.failed += row.get("error") is not None
        ran = self.done - self.start_done
        rate = ran / max(1e-9, time.monotonic() - self.t0)
        left = (self.total - self.done) / rate if rate > 0 else math.inf
        eta = "?" if math.isinf(left) else f"{int(left) // 60}:{int(left) % 60:02d}"
        failed = f", {self.failed} failed" if self.failed else ""
        self.stream.write(f"\rvswap sweep: {self.done}/{self.total} points{failed}, "
                          f"{eta} left ")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


# --------------------------------------------------------------------------- results

@dataclasses.dataclass
class SweepResult:
    """A sweep's table: :attr:`rows` (one dict per point, in grid order), the grid, the engine.

    Runtime complexity: O(1).
    """

    rows: list[dict[str, Any]]
    axes: dict[str, list[Any]]
    engine: str
    workers: int
    elapsed_s: float

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def failed(self) -> list[dict[str, Any]]:
        """The rows of the points that failed. Runtime complexity: O(points).

        >>> SweepResult([{"error": "x"}, {"error": None}], {}, "local", 1, 0.0).failed
        [{'error': 'x'}]
        """
        return [r for r in self.rows if r.get("error")]

    @property
    def points_per_second(self) -> float:
        """Points run per second of wall time. Runtime complexity: O(1).

        >>> SweepResult([{}, {}], {}, "local", 1, 0.5).points_per_second
        4.0
        """
        return len(self.rows) / self.elapsed_s if self.elapsed_s > 0 else math.inf

    def columns(self) -> list[str]:
        """Every column of any row, the axes first. Runtime complexity: O(points * columns).

        >>> SweepResult([{"a": 1}, {"a": 2, "b": 3}], {}, "local", 1, 0.0).columns()
        ['a', 'b']
        """
        return list(dict.fromkeys(k for r in self.rows for k in r))

    def deterministic_rows(self) -> list[dict[str, Any]]:
        """The rows without the time columns: what every engine gives alike. Runtime complexity: O(points * columns).

        >>> SweepResult([{"a": 1, "time_s": 2.0}], {}, "local", 1, 0.0).deterministic_rows()
        [{'a': 1}]
        """
        return [{k: v for k, v in r.items() if k not in TIME_COLUMNS} for r in self.rows]

    def to_dataframe(self):
        """The table as a pandas DataFrame (``pip install "vswap[sweep]"``). Runtime complexity: O(points * columns).
        """
        import pandas as pd
        return pd.DataFrame(self.rows, columns=self.columns())

    def to_csv(self, path_or_file: str | os.PathLike | IO[str] | None = None) -> str | None:
        """Write the table as CSV (the text itself when given no path). Runtime complexity: O(points * columns).

        >>> print(SweepResult([{"a": 1, "b": None}], {}, "local", 1, 0.0).to_csv(), end="")
        a,b
        1,
        """
        import io
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=self.columns(), lineterminator="\n")
        w.writeheader()
        w.writerows(self.rows)
        text = buf.getvalue()
        if path_or_file is None:
            return text
        if hasattr(path_or_file, "write"):
            path_or_file.write(text)
        else:
            with open(path_or_file, "w", newline="") as f:
                f.write(text)
        return None

    def write(self, path: str | os.PathLike) -> None:
        """Write the table to ``.csv`` or ``.parquet`` (pandas and pyarrow) by the path's ending.

        Runtime complexity: O(points * columns).
        """
        path = os.fspath(path)
        if path.endswith(".parquet"):
            self.to_dataframe().to_parquet(path, index=False)
        else:
            self.to_csv(path)

    def summary(self, y: str, x: str, by: str = "design") -> dict[str, dict[Any, tuple]]:
        """``{by value: {x value: (mean, sd, n)}}`` of column ``y`` over the other axes (seeds, replicas).

        ``y`` may be a ratio of two columns, ``"lookups/pswpout"`` (a cost
        per swapped page). Failed points, and rows without the column, are
        left out. Runtime complexity: O(points).

        >>> rows = [{"design": "a", "size": 1, "seed": s, "t": s, "n": 2} for s in (1, 3)]
        >>> SweepResult(rows, {}, "local", 1, 0.0).summary("t", "size")
        {'a': {1: (2.0, 1.4142135623730951, 2)}}
        >>> SweepResult(rows, {}, "local", 1, 0.0).summary("t/n", "size")["a"][1][0]
        1.0
        """
        groups: dict[Any, dict[Any, list[float]]] = {}
        for r in self.rows:
            v = None if r.get("error") else _column(r, y)
            if v is None:
                continue
            groups.setdefault(r.get(by), {}).setdefault(r.get(x), []).append(v)
        return {b: {xv: (statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else 0.0, len(v))
                    for xv, v in xs.items()} for b, xs in groups.items()}

    def plot(self, path: str | os.PathLike | None = None, *, x: str | None = None,
             y: str = "time_s", by: str = "design"):
        """Draw ``y`` against axis ``x``, one line per ``by`` value, with the spread (sd) over the rest.

        ``x`` defaults to the first axis with several values other than
        ``by``, ``seed`` and ``replica``. Needs matplotlib. Returns the
        figure; with ``path``, saves it there too. Runtime complexity:
        O(points).
        """
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        if x is None:
            multi = [a for a, v in self.axes.items() if len(v) > 1 and a not in
                     (by, "seed", "replica")]
            if not multi:
                raise ValueError("no axis with several values to plot against; give x")
            x = multi[0]
        if x not in self.axes:
            raise ValueError(f"x must be an axis of the grid ({', '.join(self.axes)}), not {x!r}")
        if not any(_column(r, y) is not None for r in self.rows):
            raise ValueError(f"no column {y!r} in the table")
        order = {v: i for i, v in enumerate(self.axes[x])}
        fig, ax = plt.subplots(figsize=(7, 4.5))
        summary = self.summary(y, x, by)
        for b, xs in summary.items():
            pts = sorted(xs.items(), key=lambda kv: order.get(kv[0], 0))
            pos = [order.get(k, i) for i, (k, _) in enumerate(pts)]
            ax.errorbar(pos, [m for _, (m, _, _) in pts], yerr=[s for _, (_, s, _) in pts],
                        marker="o", capsize=3, label=str(b))
            for p, (m, _, _) in zip(pos, (v for _, v in pts)):
                ax.annotate(f"{m:,.3g}", (p, m), textcoords="offset points", xytext=(0, 5),
                            ha="center", fontsize=7)
        for b in self.axes.get(by, []):
            if b not in summary:          # a design without this counter
                ax.plot([], [], " ", label=f"{b}: n/a")
        ax.set_xticks(range(len(self.axes[x])), [str(v) for v in self.axes[x]])
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        fixed = " ".join(f"{a}={v[0]}" for a, v in self.axes.items() if len(v) == 1)
        import vswap
        ax.set_title(f"vswap sweep: {y} vs {x}\n{fixed} (vswap {vswap.__version__}, "
                     f"mean +/- sd)", fontsize=9)
        ax.legend(title=by)
        fig.tight_layout()
        if path is not None:
            fig.savefig(path)
        return fig


# --------------------------------------------------------------------------- journal

def _column(row: dict[str, Any], y: str) -> float | None:
    num, sep, den = y.partition("/")
    try:
        a = row.get(num)
        if a is None or a == "":
            return None
        if not sep:
            return float(a)
        b = row.get(den)
        return float(a) / float(b) if b not in (None, "") and float(b) else None
    except (TypeError, ValueError):
        return None


def _journal_path(out: str) -> str:
    return out + ".partial.jsonl"


def _read_done(out: str) -> list[dict[str, Any]]:
    """Rows already done: the journal if there is one, else the finished table."""
    rows: list[dict[str, Any]] = []
    jpath = _journal_path(out)
    if os.path.exists(jpath):
        with open(jpath) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    break               # a line cut by the kill: the rest is redone
        return rows
    if not os.path.exists(out):
        return rows
    if out.endswith(".parquet"):
        import pandas as pd
        df = pd.read_parquet(out)
        return [{k: (None if isinstance(v, float) and math.isnan(v) else v)
                 for k, v in r.items()} for r in df.to_dict("records")]
    with open(out, newline="") as f:
        return [{k: (v if v != "" else None) for k, v in r.items()} for r in csv.DictReader(f)]


# --------------------------------------------------------------------------- the sweep

def sweep(grid: dict[str, Any] | str | os.PathLike, *, jobs: int | None = None,
          scheduler: str | None = None, client: Any = None, out: str | os.PathLike | None = None,
          resume: bool = False, progress: bool | None = None) -> SweepResult:
    """Run every point of ``grid`` (see the module's doc); a :class:`SweepResult`.

    ``jobs``: local worker processes (default: every core; 1 runs in this
    process). ``client`` (a ``distributed.Client``) or ``scheduler`` (its
    address) runs the points as Dask tasks instead, the traces scattered
    once to every worker. ``out``: ``.csv`` or ``.parquet`` file for the
    table (rows journalled as they finish); ``resume`` skips the points
    already done there. ``progress``: points done and time left on stderr
    (default: when stderr is a terminal). ValueError/TypeError for a bad
    grid, before anything runs; ImportError naming the extra when Dask is
    asked for and missing. Runtime complexity: O(points) replays.
    """
    t0 = time.monotonic()
    if isinstance(grid, (str, os.PathLike)):
        grid = load_grid(grid)
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs must be a positive int, not {jobs!r}")
    if out is not None:
        out = os.fspath(out)
        if not out.endswith((".csv", ".parquet")):
            raise ValueError(f"out must be a .csv or .parquet file, not {out}")
        folder = os.path.dirname(os.path.abspath(out))
        if not os.path.isdir(folder):
            raise ValueError(f"out {out}: no directory {folder}")
        if out.endswith(".parquet"):
            _need("pandas", "writing Parquet")
            _need("pyarrow", "writing Parquet")
    if resume and out is None:
        raise ValueError("resume needs out: the file of the sweep to resume")
    if client is not None and scheduler is not None:
        raise ValueError("give a client or a scheduler address, not both")
    dask = client is not None or scheduler is not None
    if dask:
        _need("distributed", "a Dask scheduler")
    axes = _normalise(grid)
    points = expand_grid(axes)
    traces: dict[str, Trace] = {}
    plans = [check_point(p, traces) for p in points]      # every check before any run

    done: dict[str, dict[str, Any]] = {}
    if out is not None:
        if resume:
            for row in _read_done(out):
                if not row.get("error"):
                    done[row["point_id"]] = row
        elif os.path.exists(_journal_path(out)):
            raise ValueError(f"{_journal_path(out)} holds an interrupted sweep: resume it "
                             "(--resume) or delete it")
    ids = [point_id(p) for p in points]
    todo = [i for i, pid in enumerate(ids) if pid not in done]
    show = sys.stderr.isatty() if progress is None else bool(progress)
    bar = _Progress(sys.stderr, len(points), len(points) - len(todo)) if show else None

    journal = None
    if out is not None:
        had_journal = _journal_has_rows(out)
        journal = open(_journal_path(out), "a" if resume else "w")
        if resume and not had_journal:       # resumed from a table: journal its rows too
            for row in done.values():
                journal.write(json.dumps(row, default=str) + "\n")
            journal.flush()

    results: dict[int, dict[str, Any]] = {}

    def finished(i: int, row: dict[str, Any]) -> None:
        results[i] = row
        if journal is not None:
            journal.write(json.dumps(row, default=str) + "\n")
            journal.flush()
        if bar is not None:
            bar(row)

    needed = {plans[i][1] for i in todo}
    try:
        if dask:
            engine, workers = "dask", _run_dask(client, scheduler, points, plans, todo, traces,
                                                needed, finished)
        else:
            workers = jobs or os.cpu_count() or 1
            engine = "local"
            if workers == 1 or len(todo) <= 1:
                workers = 1
                for i in todo:
                    design, key, machine = plans[i]
                    finished(i, _run_point(points[i], design, traces[key], machine))
            else:
                with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                                         initargs=({k: traces[k] for k in needed},)) as pool:
                    futures = {pool.submit(_run_cached, points[i], *plans[i]): i for i in todo}
                    try:
                        for fut in as_completed(futures):
                            finished(futures[fut], fut.result())
                    except BaseException:
                        for fut in futures:
                            fut.cancel()
                        raise
    finally:
        if bar is not None:
            bar.close()
        if journal is not None:
            journal.close()

    rows = []
    for i, pid in enumerate(ids):
        rows.append(results[i] if i in results else done[pid])
    result = SweepResult(rows=rows, axes=axes, engine=engine, workers=workers,
                         elapsed_s=time.monotonic() - t0)
    if out is not None:
        result.write(out)
        os.unlink(_journal_path(out))
    return result


def _journal_has_rows(out: str) -> bool:
    p = _journal_path(out)
    return os.path.exists(p) and os.path.getsize(p) > 0


def _need(module: str, what: str) -> None:
    import importlib.util
    if importlib.util.find_spec(module) is None:
        raise ImportError(f"{what} needs {module}: pip install 'vswap[sweep]'")


def _run_dask(client, scheduler, points, plans, todo, traces, needed, finished) -> int:
    from distributed import Client, as_completed as dask_completed
    own = client is None
    if own:
        client = Client(scheduler)
    try:
        keys = sorted(needed)
        scattered = client.scatter([traces[k] for k in keys], broadcast=True)
        by_key = dict(zip(keys, scattered))
        futures = {}
        for i in todo:
            design, key, machine = plans[i]
            fut = client.submit(_run_point, points[i], design, by_key[key], machine, pure=False)
            futures[fut] = i
        for fut in dask_completed(list(futures)):
            finished(futures[fut], fut.result())
        return len(client.scheduler_info().get("workers", {})) or 1
    finally:
        if own:
            client.close()


def axes_from_options(options: Iterable[tuple[str, str]]) -> dict[str, list[Any]]:
    """A grid from CLI pairs ``(axis, "v1,v2,...")``. Runtime complexity: O(values).

    >>> axes_from_options([("designs", "baseline,cc_v2"), ("seeds", "0..2")])
    {'designs': ['baseline', 'cc_v2'], 'seeds': [0, 1, 2]}
    """
    return {axis: parse_axis_values(text) for axis, text in options}
