"""What ``vswap kernel run`` measured: :class:`KernelResult`, its tables, JSON, and :func:`report`.

A result holds, per repeat, the /proc/vmstat and mTHP deltas, the cgroup's
``memory.stat``, the tasks' times and rusage; and, once, the machine
(kernel, CPU, RAM), the Machine and the plan, every setting written and
what it was before, and optionally the model's replay of the same trace.
The tables follow the seed report's layout: times as mean +/- sd over the
repeats (real, vs base, sys, tput, free_ms), then the reclaim counters, and
with a model the kernel's counter beside the model's.

>>> r = KernelResult.from_dict(_example())
>>> print(r.table().splitlines()[2])
label   real (s)  trimmed  vs base  p  user (s)  sys (s)  tput (KB/s)  free_ms
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import statistics
from typing import IO, Any

import vswap
from vswap import stats
from vswap.kernel.counters import GLOBAL_RECLAIM, RECLAIM_COUNTERS, kernel_view
from vswap.tables import mean_sd as _mean_sd
from vswap.tables import pm as _pm_of
from vswap.tables import render as _render
from vswap.workload_registry import workload_record, workload_records
from vswap.workloads import PAGE_SIZE

__all__ = ["KernelResult", "report", "load", "tolerance", "FORMAT"]

#: The ``format`` field of a result file.
FORMAT = "vswap-kernel-result/1"


def tolerance(name: str, real: float) -> float:
    """How far the model may be from the kernel on ``name``: 2 %, or 256 pages (3,000 for pgfault).

    Runtime complexity: O(1).

    >>> tolerance("pswpout", 100_000), tolerance("pgfault", 10)
    (2000.0, 3000.0)
    """
    return max(0.02 * abs(real), 3000.0 if name == "pgfault" else 256.0)


def _pm(values: list[float], decimals: int) -> str:
    return _pm_of(*_mean_sd(values), decimals)


def _example() -> dict:
    """A small result dict for the doctests."""
    rep = {"vmstat": {"pswpout": 100, "pswpin": 0, "allocstall_normal": 0}, "mthp": {},
           "memcg": {"pgfault": 300, "pgmajfault": 0}, "tasks": [], "wall_s": 0.5,
           "write_s": 0.4, "free_s": 0.01, "user_s": 0.1, "sys_s": 0.3, "pages_written": 256}
    return {"format": FORMAT, "label": "6.18", "workload": "usemem",
            "params": {"size": "1M"}, "trace_summary": {"bytes_written": 1 << 20},
            "machine": {"ram": "512K", "backend": "zram"}, "plan": {}, "setup": {},
            "settings": {}, "saved": {}, "system": {"kernel": "6.18"}, "cgroup_version": "v1",
            "repeats": [rep, rep], "date": "2026-12-01T00:00:00+00:00", "model": None}


@dataclasses.dataclass
class KernelResult:
    """One build's real runs of one workload (see the module's doc). Runtime complexity: O(1).
    """

    label: str
    workload: str
    params: dict[str, Any]
    trace_summary: dict[str, Any]
    machine: dict[str, Any]
    plan: dict[str, Any]
    setup: dict[str, Any]
    settings: dict[str, str]
    saved: dict[str, str]
    system: dict[str, Any]
    cgroup_version: str
    repeats: list[dict[str, Any]]
    date: str
    model: dict[str, Any] | None = None
    version: str = vswap.__version__
    metric: dict[str, str] | None = None    # a command's metric: {"regex": ...} or {"json": KEY}

    def __post_init__(self) -> None:
        # Held as JSON holds it (str keys, lists), so a result and its file are equal.
        for f in dataclasses.fields(self):
            setattr(self, f.name, json.loads(json.dumps(getattr(self, f.name))))

    # ------------------------------------------------------------------ figures

    def tput_kbs(self, rep: dict[str, Any]) -> float:
        """usemem's KB/s of one repeat: (credited) bytes written / write-phase time. Runtime complexity: O(1).

        >>> r = KernelResult.from_dict(_example()); round(r.tput_kbs(r.repeats[0]))
        2880
        """
        credit = (workload_record(self.workload).tput_credit
                  if self.workload in workload_records() else 1.0)
        nbytes = rep["pages_written"] * PAGE_SIZE * credit
        return nbytes / 1024 / rep["write_s"] if rep["write_s"] > 0 else 0.0

    def counters(self) -> dict[str, float]:
        """The mean over repeats of each counter, under the model's names (:func:`~vswap.kernel.counters.kernel_view`).

        Runtime complexity: O(repeats * counters).

        >>> KernelResult.from_dict(_example()).counters()["pgfault"]
        300.0
        """
        views = [kernel_view(r) for r in self.repeats]
        names = set().union(*views) if views else set()
        return {n: statistics.fmean(v.get(n, 0) for v in views) for n in sorted(names)}

    def folios(self) -> dict[str, dict[str, float]]:
        """The large folios the kernel gave per size, mean per repeat: what the trace's orders became.

        ``{"64kB": {"anon_fault_alloc": ..., "anon_fault_fallback": ...,
        "anon_fault_fallback_charge": ...}}`` for every size with a fault or
        a fallback. Runtime complexity: O(repeats * counters).

        >>> r = KernelResult.from_dict(_example())
        >>> r.repeats[0]["mthp"] = {"hugepages-64kB/anon_fault_alloc": 8}
        >>> r.folios()
        {'64kB': {'anon_fault_alloc': 4.0, 'anon_fault_fallback': 0.0, 'anon_fault_fallback_charge': 0.0}}
        """
        c = self.counters()
        out = {}
        for key in c:
            name, _, stat = key.partition("/")
            if stat == "anon_fault_alloc" and name.startswith("hugepages-"):
                size = name[len("hugepages-"):]
                got = {s: c.get(f"{name}/{s}", 0.0) for s in
                       ("anon_fault_alloc", "anon_fault_fallback", "anon_fault_fallback_charge")}
                if any(got.values()):
                    out[size] = got
        return out

    def _series(self, name: str) -> list[float]:
        return [kernel_view(r).get(name, 0) for r in self.repeats]

    def add_model(self, design: str, *, trace=None) -> None:
        """Replay the same trace on the same Machine through ``design``; kept in :attr:`model`.

        The trace is regenerated from ``workload`` and ``params`` when not
        given. Runtime complexity: that of :func:`vswap.replay.replay`.
        """
        from vswap.replay import Machine, replay
        from vswap.workloads import make_workload
        if self.workload == "command":
            raise ValueError("the model replays a trace; a command's run has none")
        if trace is None:
            trace = make_workload(self.workload, **self.params)
        fields = {f.name for f in dataclasses.fields(Machine)}
        given = {k: v for k, v in self.machine.items() if k in fields}
        # The same Machine, completed with what the kernel ran under: its
        # cgroup version, its RAM (zswap's pool is a share of it), whether
        # zswap was ever on (zram's large swap-in then stays off); and the
        # page tables the faults allocate are charged to the cgroup, as there.
        given.update(accounting="none" if self.is_global else self.cgroup_version,
                     total_ram=None if self.is_global else (self.system.get("mem_total") or None),
                     zswap_ever_enabled=bool(self.setup.get("zswap_ever_enabled")),
                     page_tables=True)
        if self.is_global:
            # Machine-wide (kswapd and direct reclaim), on the memory the repeats measured as
            # they began (free pages and page cache, their mean), with the whole machine's
            # watermarks and the run's zram compressor: what the kernel had, not --ram.
            from vswap.global_matrix import measured_machine
            starts = [rep.get("machine") or {} for rep in self.repeats]
            start = {k: sum(int(st.get(k) or 0) for st in starts) // max(1, len(starts))
                     for k in ("mem_available", "mem_free", "protected", "file_lru",
                               "min_free_kbytes", "pcp")}
            # zram's memory per page at the repeats' peaks: the median repeat's
            from vswap.kernel.zram_stat import data_bytes_per_page
            peaks = sorted((p for p in (rep.get("zram") for rep in self.repeats)
                            if data_bytes_per_page(p) is not None), key=data_bytes_per_page)
            for k in ("ram", "total_ram", "accounting", "kswapd", "file_cache", "compressed", "backend",
                      "min_free_kbytes", "watermark_scale_factor"):
                given.pop(k, None)
            machine = measured_machine(start, self.plan.get("backend", "zram"),
                                       facts=self.system,
                                       zram_algorithm=self.setup.get("zram_algorithm"),
                                       zram=peaks[len(peaks) // 2] if peaks else None, **given)
        else:
            machine = Machine(**given)
        r = replay(trace, design, machine)
        from vswap.clock import model_fields
        self.model = json.loads(json.dumps({"design": design, "counters": dict(r.counters),
                                            "times": dict(r.times), **model_fields(r)}))

    def plot_reclaim(self, path: str | os.PathLike | None = None):
        """kswapd's and direct reclaim's pgsteal (and pswpout) against time, one panel per repeat.

        Needs the samples of ``run(..., sample_ms=N)`` (ValueError
        without) and matplotlib (ImportError; the ``plot`` extra). Saves to
        ``path`` when given; returns the Figure. Runtime complexity:
        O(samples) plus matplotlib's drawing.

        >>> KernelResult.from_dict(_example()).plot_reclaim()
        Traceback (most recent call last):
        ...
        ValueError: no samples: run with sample_ms (--sample-ms) to plot reclaim against time
        """
        reps = [r for r in self.repeats if r.get("samples")]
        if not reps:
            raise ValueError("no samples: run with sample_ms (--sample-ms) to plot reclaim "
                             "against time")
        try:
            from matplotlib.figure import Figure
        except ImportError:
            raise ImportError("plot_reclaim needs matplotlib: pip install 'vswap[plot]'") from None
        fig = Figure(figsize=(7, 2.4 * len(reps)), layout="constrained")
        import textwrap
        fig.suptitle(textwrap.fill(self.header(), 120), fontsize="x-small")
        axes = fig.subplots(len(reps), 1, squeeze=False)[:, 0]
        for i, (ax, rep) in enumerate(zip(axes, reps)):
            s = rep["samples"]
            for name in ("pgsteal_kswapd", "pgsteal_direct", "pswpout"):
                ax.plot(s["t_s"], s[name], label=name)
            ax.set_title(f"repeat {i + 1}", fontsize="small")
            ax.set_xlabel("time (s)")
            ax.set_ylabel("pages")
            ax.legend(fontsize="x-small")
        if path is not None:
            fig.savefig(path)
        return fig

    # ------------------------------------------------------------------ tables

    def header(self) -> str:
        """The first line of the tables: workload, parameters, machine, kernel. Runtime complexity: O(params).

        >>> KernelResult.from_dict(_example()).header().split(":")[0]
        'vswap kernel'
        """
        if self.workload == "command":
            import shlex
            what = shlex.join(self.params.get("argv", []))
        else:
            what = " ".join([self.workload] + [f"{k}={v}" for k, v in self.params.items()])
        m = self.machine
        where = (f"the whole machine shrunk to ram={m.get('ram')} (hugetlb)" if self.is_global
                 else f"ram={m.get('ram')}")
        return (f"vswap kernel: {what} on {where} {m.get('backend')} "
                f"(cgroup {self.cgroup_version}), kernel {self.system.get('kernel')}, "
                f"vswap {self.version}")

    @property
    def is_global(self) -> bool:
        """Whether the run was global (``--global``: the whole machine). Runtime complexity: O(1).

        >>> KernelResult.from_dict(_example()).is_global
        False
        """
        return self.plan.get("scope") == "global"

    def metric_name(self) -> str | None:
        """The metric column's name (the JSON key, or ``metric``), None without one. Runtime complexity: O(1).

        >>> KernelResult.from_dict(_example()).metric_name() is None
        True
        """
        if not self.metric:
            return None
        return self.metric.get("json") or "metric"

    def reclaim_table(self) -> str:
        """The report's reclaim table of a global run: per repeat, then mean +/- sd.

        allocstall (all zones), pgscan and pgsteal of kswapd and direct
        reclaim, their efficiency (steal / scan, %), swap_ra,
        pgmigrate_success, compact_stall. Runtime complexity: O(repeats).

        >>> r = KernelResult.from_dict(_example())
        >>> r.repeats[0]["vmstat"].update(pgscan_kswapd=200, pgsteal_kswapd=150)
        >>> print(r.reclaim_table().splitlines()[3])
        1        0  0              200             150   75.0%  ...
        """
        views = [kernel_view(r) for r in self.repeats]
        header = ["repeat", "avail (MiB)", "allocstall", "pgscan_kswapd", "pgsteal_kswapd", "kswapd eff",
                  "pgscan_direct", "pgsteal_direct", "direct eff", "swap_ra",
                  "pgmigrate_success", "compact_stall"]

        def eff(steal: float, scan: float) -> str:
            return f"{steal / scan * 100:.1f}%" if scan else "-"

        def row(first: str, v: dict, num, avail: str) -> list[str]:
            return [first, avail, num("allocstall"), num("pgscan_kswapd"), num("pgsteal_kswapd"),
                    eff(v.get("pgsteal_kswapd", 0), v.get("pgscan_kswapd", 0)),
                    num("pgscan_direct"), num("pgsteal_direct"),
                    eff(v.get("pgsteal_direct", 0), v.get("pgscan_direct", 0)), num("swap_ra"),
                    num("pgmigrate_success"), num("compact_stall")]

        avail = [(r.get("machine") or {}).get("mem_available", 0) >> 20 for r in self.repeats]
        rows = [row(str(i + 1), v, lambda n, v=v: f"{v.get(n, 0):,}", f"{a:,}")
                for i, (v, a) in enumerate(zip(views, avail))]
        mean = {n: statistics.fmean(v.get(n, 0) for v in views) for n in GLOBAL_RECLAIM}
        rows.append(row("mean +/- sd", mean, lambda n: _pm([v.get(n, 0) for v in views], 0),
                        _pm(avail, 0)))
        return _render(f"Reclaim ({self.label}, the whole machine: /proc/vmstat deltas per "
                       "repeat; avail: MemAvailable as the repeat began; eff: steal / scan)",
                       header, rows)

    def stall_table(self) -> str:
        """The workload's direct reclaim stalls, from the kernel's tracepoints (``trace_stalls``).

        Per repeat, then mean +/- sd: stalls, pages they freed and scanned,
        pages freed per stall, time per stall (wall; on a CPU), the task's
        time on a CPU per page it freed directly, its uninterruptible sleep
        (on its writes) per page it freed directly, kswapd0's per page it
        reclaimed (``pgsteal_kswapd``; ``-`` where not traced), and the
        stalls that went below the first priorities (a pass at priority 10
        or lower). Empty when no repeat was traced. Runtime complexity:
        O(repeats).

        >>> r = KernelResult.from_dict(_example())
        >>> r.stall_table()
        ''
        >>> r.repeats[0]["stalls"] = {"stalls": 2, "reclaimed": 70, "scanned": 104,
        ...     "wall_ns": 1_000_000, "cpu_ns": 900_000, "deepest": {"11": 1, "12": 1}, "lost": 0}
        >>> print(r.stall_table().splitlines()[3])
        1             2      70      104           35.0  500 / 450          12,857               -                        -            0
        """
        reps = [r.get("stalls") for r in self.repeats]
        if not any(reps):
            return ""
        header = ["repeat", "stalls", "freed", "scanned", "freed / stall",
                  "us / stall (wall / CPU)", "CPU ns / page", "asleep ns / page",
                  "kswapd asleep ns / page", "below 10"]

        def figs(st: dict, rep: dict) -> dict[str, float]:
            n, got = st.get("stalls", 0), st.get("reclaimed", 0)
            stolen = kernel_view(rep).get("pgsteal_kswapd", 0)
            ks = (st.get("kswapd") or {}).get("wait_ns")
            deep = sum(v for k, v in (st.get("deepest") or {}).items() if int(k) < 10)
            return {"stalls": n, "freed": got, "scanned": st.get("scanned", 0),
                    "per": got / n if n else 0.0, "wall": st.get("wall_ns", 0) / n / 1e3 if n else 0,
                    "cpu": st.get("cpu_ns", 0) / n / 1e3 if n else 0,
                    "page": st.get("cpu_ns", 0) / got if got else 0.0,
                    "sleep": st["wait_ns"] / got if got and "wait_ns" in st else None,
                    "ksleep": ks / stolen if stolen and ks is not None else None, "deep": deep}

        def num(v: float | None) -> str:
            return "-" if v is None else f"{v:,.0f}"

        def pm(vs: list) -> str:
            return "-" if None in vs else _pm(vs, 0)

        rows, all_ = [], []
        for i, (st, rep) in enumerate(zip(reps, self.repeats)):
            if not st:
                continue
            f = figs(st, rep)
            all_.append(f)
            rows.append([str(i + 1), f"{f['stalls']:,}", f"{f['freed']:,}", f"{f['scanned']:,}",
                         f"{f['per']:.1f}", f"{f['wall']:,.0f} / {f['cpu']:,.0f}",
                         f"{f['page']:,.0f}", num(f["sleep"]), num(f["ksleep"]),
                         f"{f['deep']:,}"])
        col = {k: [f[k] for f in all_] for k in all_[0]}
        rows.append(["mean +/- sd", _pm(col["stalls"], 0), _pm(col["freed"], 0),
                     _pm(col["scanned"], 0), _pm(col["per"], 1),
                     f"{_pm(col['wall'], 0)} / {_pm(col['cpu'], 0)}", _pm(col["page"], 0),
                     pm(col["sleep"]), pm(col["ksleep"]), _pm(col["deep"], 0)])
        lost = sum((st or {}).get("lost", 0) for st in reps)
        return _render(f"Direct reclaim stalls ({self.label}, the workload's: vmscan "
                       "tracepoints; CPU: less the time switched out inside a stall"
                       + (f"; {lost:,} events lost" if lost else "") + ")", header, rows)

    def table(self, *, header: bool = True) -> str:
        """The report's tables from the real runs (and the model beside them, if added).

        Runtime complexity: O(repeats * counters).
        """
        return report([self], header=header)

    def model_table(self) -> str:
        """Each counter the model shares with the kernel: real mean +/- sd, model, difference in %.

        ``ok`` marks a counter within :func:`tolerance`. Runtime complexity:
        O(counters).

        >>> r = KernelResult.from_dict(_example())
        >>> r.model = {"design": "baseline", "counters": {"pswpout": 101, "pgfault": 256}}
        >>> print(r.model_table().splitlines()[3])
        pgfault  300 +/- 0    256  -14.7%      ok
        """
        if not self.model:
            return ""
        from vswap.replay import COUNTER_NAMES
        mc = self.model["counters"]
        real = self.counters()
        names = [n for n in (*COUNTER_NAMES, *sorted(mc)) if n in mc and n in real]
        names = list(dict.fromkeys(names))
        rows = []
        for n in names:
            series = self._series(n)
            r, m = real[n], mc[n]
            if n.startswith("hugepages-") and m == 0 and not any(series):
                continue           # a folio size neither used: dozens of empty rows
            diff = "-" if r == 0 and m == 0 else ("n/a" if r == 0 else f"{(m - r) / r * 100:+.1f}%")
            ok = "ok" if abs(m - r) <= tolerance(n, r) else "DIFFERS"
            rows.append([n, _pm(series, 0), f"{m:,}", diff, ok])
        return _render(f"The model ({self.model['design']}, same trace and Machine) beside "
                       f"the kernel ({self.label}); ok: within 2 % or 256 pages (pgfault 3,000)",
                       ["counter", "real", "model", "diff", "within"], rows)

    # ------------------------------------------------------------------ files

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-able. Runtime complexity: O(size).

        >>> KernelResult.from_dict(_example()).to_dict()["format"]
        'vswap-kernel-result/1'
        """
        return {"format": FORMAT, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> KernelResult:
        """The result of :meth:`to_dict`. ValueError for another format. Runtime complexity: O(size).

        >>> KernelResult.from_dict({"format": "x"})
        Traceback (most recent call last):
        ...
        ValueError: not a vswap kernel result (format 'x')
        """
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            fmt = d.get("format") if isinstance(d, dict) else type(d).__name__
            raise ValueError(f"not a vswap kernel result (format {fmt!r})")
        fields = {f.name for f in dataclasses.fields(cls)}
        missing = sorted(f.name for f in dataclasses.fields(cls)
                         if f.name not in d and f.default is dataclasses.MISSING)
        if missing:
            raise ValueError(f"kernel result lacks {', '.join(missing)}")
        return cls(**{k: v for k, v in d.items() if k in fields})

    def to_json(self, path_or_file: str | os.PathLike | IO[str] | None = None) -> str | None:
        """Write the result as JSON to a path or file; the text itself when given none.

        Runtime complexity: O(size).

        >>> r = KernelResult.from_dict(_example())
        >>> KernelResult.from_json(r.to_json()) == r
        True
        """
        text = json.dumps(self.to_dict(), indent=1) + "\n"
        if path_or_file is None:
            return text
        if hasattr(path_or_file, "write"):
            path_or_file.write(text)
        else:
            with open(path_or_file, "w") as f:
                f.write(text)
        return None

    @classmethod
    def from_json(cls, text: str) -> KernelResult:
        """The result in a JSON text. ValueError for anything else. Runtime complexity: O(size).

        >>> KernelResult.from_json("[]")
        Traceback (most recent call last):
        ...
        ValueError: not a vswap kernel result (format 'list')
        """
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON: {exc}") from None
        return cls.from_dict(d)

    def to_dataframe(self):
        """One row per repeat: times, tput, free_ms and every counter (needs pandas). Runtime complexity: O(repeats * counters).
        """
        import pandas as pd
        return pd.DataFrame(self.rows())

    def rows(self) -> list[dict[str, Any]]:
        """One flat dict per repeat (what :meth:`to_dataframe` holds). Runtime complexity: O(repeats * counters).

        >>> KernelResult.from_dict(_example()).rows()[0]["free_ms"]
        10.0
        """
        out = []
        for i, rep in enumerate(self.repeats):
            row = {"label": self.label, "workload": self.workload, "repeat": i,
                   "real_s": rep["wall_s"], "user_s": rep["user_s"], "sys_s": rep["sys_s"],
                   "write_s": rep["write_s"], "free_ms": rep["free_s"] * 1000,
                   "tput_kbs": self.tput_kbs(rep)}
            row.update(kernel_view(rep))
            out.append(row)
        return out


def load(path: str | os.PathLike) -> KernelResult:
    """A result file written by ``vswap kernel run --json``. OSError, ValueError. Runtime complexity: O(size).
    """
    with open(path) as f:
        return KernelResult.from_json(f.read())


def _sig(base: list[float], other: list[float]) -> tuple[str, float | None]:
    """Welch's p of ``other`` against ``base`` and its mark ('' with fewer than two repeats a side)."""
    if len(base) < 2 or len(other) < 2:
        return "", None
    p = stats.welch(base, other).p
    return stats.mark(p), p


def report(results: list[KernelResult], *, header: bool = True,
           names: list[str] | None = None) -> str:
    """Several builds' results side by side, vs the first, in the seed report's layout.

    Per column: real time as mean +/- sd and trimmed mean (best and worst
    dropped, from three repeats), the change against the first column with
    ``*`` where Welch's t-test finds it significant (two-sided, p <
    :data:`vswap.stats.ALPHA`), user and sys time, usemem's throughput and
    free time, or a command's metric; then how many runs per side would
    resolve the difference seen, a flag on a first repeat that stands out
    (a warm-up), the reclaim counters (with the same mark) and, for global
    runs, the reclaim table. ``names`` (the files' names) label columns
    whose labels repeat, and name the file in a refusal. Results of
    different workloads or Machines are refused (ValueError): only the same
    run compares. Runtime complexity: O(results * repeats * counters).

    >>> r = KernelResult.from_dict(_example())
    >>> print(report([r, r]).splitlines()[5])
    6.18   0.500 +/- 0.000    0.500    +0.0%  1.000  0.100 +/- 0.000  0.300 +/- 0.000  2,880 +/- 0  10.0 +/- 0.0
    """
    if not results:
        raise ValueError("no results to report")
    if names is not None and len(names) != len(results):
        raise ValueError("names must name every result")
    first = results[0]
    labels = [r.label for r in results]
    if names is not None and len(set(labels)) < len(labels):
        labels = [f"{r.label} ({os.path.basename(n)})" for r, n in zip(results, names)]
    who = names or labels
    for r, w in zip(results[1:], who[1:]):
        if (r.workload, r.params, r.machine) != (first.workload, first.params, first.machine):
            raise ValueError(f"{w}: another workload or Machine than {who[0]}'s; "
                             "only the same run compares")
    command = first.workload == "command"
    metric = first.metric_name()
    base_real = [x["wall_s"] for x in first.repeats]
    base = statistics.fmean(base_real)
    rows = []
    notes = []
    for i, (r, label) in enumerate(zip(results, labels)):
        real = [x["wall_s"] for x in r.repeats]
        if i == 0:
            vs, p = "base", None
        else:
            sign, p = _sig(base_real, real)
            vs = f"{(statistics.fmean(real) - base) / base * 100:+.1f}%" + (f" {sign}" if sign
                                                                             else "")
        row = [label, _pm(real, 3), f"{stats.trimmed_mean(real):.3f}", vs,
               "-" if p is None else f"{p:.3f}", _pm([x["user_s"] for x in r.repeats], 3),
               _pm([x["sys_s"] for x in r.repeats], 3)]
        if command:
            if metric:
                row.append(_pm([x.get("metric") or 0.0 for x in r.repeats], 2))
        else:
            row += [_pm([r.tput_kbs(x) for x in r.repeats], 0),
                    _pm([x["free_s"] * 1000 for x in r.repeats], 1)]
        rows.append(row)
        if r.model and r.model.get("real_s") is not None and not command:
            m = r.model                     # the clock's prediction beside the measured row
            rows.append([f"  predicted ({m['design']}, {m.get('profile', '?')})",
                         f"{m['real_s']:,.3f}", "-", f"{(m['real_s'] - base) / base * 100:+.1f}%",
                         "-", "-", f"{m['sys_s']:,.3f}",
                         "-" if m["tput_kbs"] is None else f"{m['tput_kbs']:,.0f}",
                         f"{m['free_ms']:,.1f}"])
        if stats.warmup_outlier(real):
            rest = stats.mean_sd(real[1:])
            notes.append(f"warm-up: {label}'s first repeat stands out ({real[0]:.3f} s against "
                         f"{rest[0]:.3f} +/- {rest[1]:.3f} s of the others); the trimmed mean "
                         "drops it")
        if i > 0 and len(real) > 1 and len(base_real) > 1 and statistics.fmean(real) != base:
            sd = max(stats.mean_sd(real)[1], stats.mean_sd(base_real)[1])
            diff = statistics.fmean(real) - base
            need = stats.runs_needed(sd, diff)
            notes.append(f"{label}: resolving its {diff / base * 100:+.1f}% at sd {sd:.3f} s "
                         f"takes {need:,} repeats a side (alpha {stats.ALPHA}, power "
                         f"{stats.POWER}); this run had {len(real)} and {len(base_real)}")
    if len(base_real) > 1 and base:
        sd = stats.mean_sd(base_real)[1]
        notes.append(f"{labels[0]}: a 1% change in real time at its sd {sd:.3f} s takes "
                     f"{stats.runs_needed(sd, 0.01 * base):,} repeats a side to resolve")
    n = len(first.repeats)
    out = []
    if header:
        out.append(first.header())
    cols = ["label", "real (s)", "trimmed", "vs base", "p", "user (s)", "sys (s)"]
    cols += ([metric] if metric else []) if command else ["tput (KB/s)", "free_ms"]
    out.append(_render(f"Results: {first.workload if not command else 'command'}, mean +/- sd "
                       f"over {n} repeat{'s' if n != 1 else ''}; trimmed: without the best and "
                       f"worst; vs base: % change vs {labels[0]}, * where Welch's t-test finds "
                       f"it significant (p < {stats.ALPHA}, two-sided)", cols, rows))
    out += notes
    crows = []
    names_ = list(RECLAIM_COUNTERS)
    if first.is_global:
        names_ += [n for n in GLOBAL_RECLAIM if n not in names_]
    for name in names_:
        cells = [name]
        base_s = first._series(name)
        for i, r in enumerate(results):
            s_ = r._series(name)
            sign = _sig(base_s, s_)[0] if i and s_ != base_s else ""
            cells.append(_pm(s_, 0) + (f" {sign}" if sign else ""))
        crows.append(cells)
    for key in sorted({k for r in results for rep in r.repeats for k in rep["mthp"]
                       if any(rep2["mthp"].get(k) for rep2 in r.repeats)}):
        crows.append([key] + [_pm(r._series(key), 0) for r in results])
    out.append("")
    out.append(_render("Reclaim and swap counters (vmstat deltas; faults from the cgroup's "
                       "memory.stat), mean +/- sd, * significant vs the first", ["counter"]
                       + labels, crows))
    for r in results:
        if r.is_global:
            out.append("")
            out.append(r.reclaim_table())
            if r.stall_table():
                out.append("")
                out.append(r.stall_table())
    for r in results:
        if r.folios():
            out.append("")
            out.append(f"Large folios the kernel gave ({r.label}, mean per repeat): " + "; ".join(
                f"{size} {f['anon_fault_alloc']:,.0f} (fallback {f['anon_fault_fallback']:,.0f}, "
                f"charge {f['anon_fault_fallback_charge']:,.0f})"
                for size, f in r.folios().items()))
    for r in results:
        if r.model:
            out.append("")
            out.append(r.model_table())
    return "\n".join(out) + "\n"
