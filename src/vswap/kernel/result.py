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
label   real (s)  vs base  sys (s)  tput (KB/s)  free_ms
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import statistics
from typing import IO, Any

import vswap
from vswap.tables import mean_sd as _mean_sd
from vswap.tables import pm as _pm_of
from vswap.tables import render as _render
from vswap.workload_registry import workload_record, workload_records
from vswap.kernel.counters import RECLAIM_COUNTERS, kernel_view
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
        if trace is None:
            trace = make_workload(self.workload, **self.params)
        fields = {f.name for f in dataclasses.fields(Machine)}
        given = {k: v for k, v in self.machine.items() if k in fields}
        # The same Machine, completed with what the kernel ran under: its
        # cgroup version, its RAM (zswap's pool is a share of it), whether
        # zswap was ever on (zram's large swap-in then stays off); and the
        # page tables the faults allocate are charged to the cgroup, as there.
        given.update(accounting=self.cgroup_version,
                     total_ram=self.system.get("mem_total") or None,
                     zswap_ever_enabled=bool(self.setup.get("zswap_ever_enabled")),
                     page_tables=True)
        machine = Machine(**given)
        r = replay(trace, design, machine)
        self.model = json.loads(json.dumps({"design": design, "counters": dict(r.counters),
                                            "times": dict(r.times)}))

    # ------------------------------------------------------------------ tables

    def header(self) -> str:
        """The first line of the tables: workload, parameters, machine, kernel. Runtime complexity: O(params).

        >>> KernelResult.from_dict(_example()).header().split(":")[0]
        'vswap kernel'
        """
        params = " ".join(f"{k}={v}" for k, v in self.params.items())
        m = self.machine
        return (f"vswap kernel: {self.workload} {params} on ram={m.get('ram')} "
                f"{m.get('backend')} (cgroup {self.cgroup_version}), "
                f"kernel {self.system.get('kernel')}, vswap {self.version}")

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


def report(results: list[KernelResult], *, header: bool = True) -> str:
    """Several builds' results side by side, vs the first, in the seed report's layout.

    Results of different workloads or Machines are refused (ValueError):
    only the same run on each kernel compares. Runtime complexity:
    O(results * repeats * counters).

    >>> r = KernelResult.from_dict(_example())
    >>> print(report([r, r]).splitlines()[5])
    6.18   0.500 +/- 0.000    +0.0%  0.300 +/- 0.000  2,880 +/- 0  10.0 +/- 0.0
    """
    if not results:
        raise ValueError("no results to report")
    first = results[0]
    for r in results[1:]:
        if (r.workload, r.params, r.machine) != (first.workload, first.params, first.machine):
            raise ValueError(f"{r.label}: another workload or Machine than {first.label}'s; "
                             "only the same run compares")
    base = statistics.fmean(x["wall_s"] for x in first.repeats)
    rows = []
    for i, r in enumerate(results):
        real = [x["wall_s"] for x in r.repeats]
        vs = "base" if i == 0 else f"{(statistics.fmean(real) - base) / base * 100:+.1f}%"
        rows.append([r.label, _pm(real, 3), vs, _pm([x["sys_s"] for x in r.repeats], 3),
                     _pm([r.tput_kbs(x) for x in r.repeats], 0),
                     _pm([x["free_s"] * 1000 for x in r.repeats], 1)])
    n = len(first.repeats)
    out = []
    if header:
        out.append(first.header())
    out.append(_render(f"Results: {first.workload}, mean +/- sd over {n} repeat"
                       f"{'s' if n != 1 else ''}, vs base: % change vs {first.label}",
                       ["label", "real (s)", "vs base", "sys (s)", "tput (KB/s)", "free_ms"],
                       rows))
    crows = []
    for name in RECLAIM_COUNTERS:
        crows.append([name] + [_pm(r._series(name), 0) for r in results])
    for key in sorted({k for r in results for rep in r.repeats for k in rep["mthp"]
                       if any(rep2["mthp"].get(k) for rep2 in r.repeats)}):
        crows.append([key] + [_pm(r._series(key), 0) for r in results])
    out.append("")
    out.append(_render("Reclaim and swap counters (vmstat deltas; faults from the cgroup's "
                       "memory.stat), mean +/- sd", ["counter"] + [r.label for r in results],
                       crows))
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
