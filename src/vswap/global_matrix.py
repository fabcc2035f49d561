"""Machine-wide reclaim, the model against the real kernel: the global matrix, its comparison and table.

Each case runs on this machine's kernel with ``vswap kernel run --global``
(the whole machine shrunk to ``ram`` by a hugetlb reservation, no cgroup,
the page cache dropped before each repeat) and in the model on the machine
the kernel actually had: ``Machine(kswapd=True, accounting="none")`` with
``ram`` the MemAvailable each repeat began with (the kernel may not manage
to reserve down to the exact size asked for), ``total_ram`` the machine's
MemTotal (the watermarks are the whole machine's: hugetlb pages stay
managed), this kernel's ``min_free_kbytes`` and ``watermark_scale_factor``.
The reclaim counters are compared (:data:`RECLAIM_COUNTERS`): the model
agrees when it is within :data:`TOLERANCE` of the kernel's mean, or within
the kernel's own sd where that is larger.

``python -m vswap.global_matrix [--repeat N]`` (root) prints the docs table.

>>> sorted(CASES)[:2]
['memhog 1G x1.5 swapfile', 'memhog 1G x1.5 zram']
>>> within("allocstall", 1000.0, 100.0, 1200)
True
>>> within("pgsteal_kswapd", 1000.0, 10.0, 1200)
False
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from typing import Any, Callable

from vswap.kswapd import DEFAULT_COSTS
from vswap.replay import Machine, replay
from vswap.workloads import PAGE_SIZE, Trace, memhog, parse_size, usemem

__all__ = ["CASES", "RECLAIM_COUNTERS", "TOLERANCE", "SMALLEST", "within", "model_machine",
           "fit_model", "kswapd_cpu_ns", "run_case", "run_matrix", "rst_table"]

#: The counters compared, and how far the model may be from the kernel's mean.
TOLERANCE = {"pgsteal_kswapd": 0.15, "pgsteal_direct": 0.15, "allocstall": 0.25}
#: All the reclaim counters shown (those without a tolerance are shown, not asserted).
RECLAIM_COUNTERS = ("allocstall", "pgscan_kswapd", "pgsteal_kswapd", "pgscan_direct",
                    "pgsteal_direct", "pswpout", "kswapd_low_wmark_hit_quickly",
                    "kswapd_high_wmark_hit_quickly")


def _case(workload: str, ram: str, ratio: float, backend: str) -> tuple[Callable[[], Trace], str, str]:
    size = int(parse_size(ram) * ratio) // (2 << 20) * (2 << 20)
    make = (lambda: usemem(size)) if workload == "usemem" else (lambda: memhog(size))
    return make, ram, backend


#: case name -> (the trace, the RAM asked for, the backend): usemem and
#: memhog, zram and a swapfile, two RAM sizes, two overcommit ratios.
CASES: dict[str, tuple[Callable[[], Trace], str, str]] = {
    f"{w} {ram} x{ratio:g} {b}": _case(w, ram, ratio, b)
    for w in ("usemem", "memhog") for ram in ("1G", "2G") for ratio in (1.5, 1.75)
    for b in ("zram", "swapfile")
}
#: The smallest case that still wakes kswapd here (the tests' size).
SMALLEST = "memhog 1G x1.5 zram"


def within(name: str, mean: float, sd: float, model: float) -> bool:
    """Whether ``model`` agrees with the kernel's ``mean`` +/- ``sd`` for counter ``name``. Runtime complexity: O(1).

    Within :data:`TOLERANCE` of the mean (15 % for counters without one),
    or within the kernel's sd where that is larger.

    >>> within("pgsteal_direct", 100.0, 40.0, 135)
    True
    """
    tol = max(TOLERANCE.get(name, 0.15) * mean, sd)
    return abs(model - mean) <= tol


def _sysctl(name: str) -> int:
    with open(f"/proc/sys/vm/{name}") as f:
        return int(f.read())


def _mem_total() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


def model_machine(ram_bytes: int, backend: str, **kw: Any) -> Machine:
    """The model's Machine for a global run that had ``ram_bytes`` available on this machine.

    Runtime complexity: O(1) (reads /proc).

    >>> m = model_machine(1 << 30, "zram")
    >>> m.kswapd, m.accounting, m.ram_pages
    (True, 'none', 262144)
    """
    return Machine(ram=ram_bytes // PAGE_SIZE * PAGE_SIZE, total_ram=_mem_total(),
                   backend=backend, accounting="none", kswapd=True,
                   min_free_kbytes=_sysctl("min_free_kbytes"),
                   watermark_scale_factor=_sysctl("watermark_scale_factor"), **kw)


def fit_model(trace: Trace, design: str, backend: str, pgsteal_anon: int, pgsteal_file: int,
              *, lo: int | None = None, hi: int | None = None,
              kswapd_anon_ns: float | None = None) -> tuple[Machine, dict[str, int]]:
    """The model's Machine that reclaims what one kernel repeat reclaimed, and its counters.

    On a shared machine the memory a global run really has moves with the
    other processes (two identical repeats here reclaimed 19 k and 159 k
    pages), so MemAvailable is no fit for ``ram``. The page cache is what
    the kernel's reclaim found (``pgsteal_file``); ``ram`` is bisected until
    the model reclaims as many anonymous pages as the kernel did;
    ``kswapd_anon_ns``, kswapd's cost per page as measured in the run, is
    given to the model. What the model then predicts is who reclaimed them,
    and how often the task stalled: kswapd's and direct reclaim's shares,
    ``allocstall``. Runtime
    complexity: about 20 replays of ``trace``.
    """
    span = trace.pages_touched
    file = max(0, int(pgsteal_file))
    kw: dict[str, Any] = {"file_cache": file * PAGE_SIZE}
    if kswapd_anon_ns:
        kw["costs"] = dataclasses.replace(DEFAULT_COSTS, kswapd_anon_ns=round(kswapd_anon_ns))
    lo = lo if lo is not None else file + 40_000          # pages; above the high watermark
    hi = hi if hi is not None else span + file + 40_000
    best = None
    while lo < hi:
        mid = (lo + hi) // 2
        m = model_machine(mid * PAGE_SIZE, backend, **kw)
        try:
            c = replay(trace, design, m).counters
        except ValueError:                                  # too small: compressed pages fill it
            lo = mid + 1
            continue
        anon = c["pgsteal"] - (file - c["file_resident"])
        best = (m, c)
        if anon > pgsteal_anon:
            lo = mid + 1
        else:
            hi = mid
    if best is None:
        raise ValueError("no RAM size lets the model run this trace")
    m = model_machine(lo * PAGE_SIZE, backend, **kw)
    return m, replay(trace, design, m).counters


def kswapd_cpu_ns() -> int:
    """kswapd0's CPU time so far (utime + stime of /proc/PID/stat), ns; 0 when not found.

    Runtime complexity: O(processes).

    >>> kswapd_cpu_ns() >= 0
    True
    """
    import os
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)
            if not fields[0].endswith("(kswapd0"):
                continue
            ticks = sum(int(x) for x in fields[1].split()[11:13])
            return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            continue
    return 0


def run_case(name: str, *, repeat: int = 3, design: str = "baseline") -> dict[str, Any]:
    """One case on this kernel (``repeat`` times, needs root) and in the model, repeat by repeat.

    Each repeat's model is :func:`fit_model` to what that repeat
    reclaimed. A row: ``case``, ``ram_mib`` (mean MemAvailable as the
    repeats began), ``fit_mib`` (mean RAM of the fitted models),
    ``counters`` (name -> (kernel mean, kernel sd, model mean)). Runtime
    complexity: that of ``repeat`` kernel runs and about 20 replays each.
    """
    from vswap import kernel
    from vswap.kernel.counters import kernel_view

    make, ram, backend = CASES[name]
    trace = make()
    k0 = kswapd_cpu_ns()
    r = kernel.run(trace, machine=Machine(ram=ram, backend=backend, accounting="none"),
                   repeat=repeat, progress=False)
    k1 = kswapd_cpu_ns()
    avail = [(rep.get("machine") or {}).get("mem_available", 0) for rep in r.repeats]
    avail = [a for a in avail if a] or [parse_size(ram)]
    models, fits = [], []
    stolen = sum(kernel_view(rep).get("pgsteal_kswapd", 0) for rep in r.repeats)
    kswapd_ns = (k1 - k0) / stolen if stolen and k1 >= k0 > 0 else None
    for rep in r.repeats:
        v = kernel_view(rep)
        m, c = fit_model(trace, design, backend, v.get("pgsteal_anon", 0), v.get("pgsteal_file", 0),
                         kswapd_anon_ns=kswapd_ns)
        models.append(c)
        fits.append(m.ram_pages * PAGE_SIZE)
    rows = {}
    for n in RECLAIM_COUNTERS:
        s = r._series(n)
        rows[n] = (statistics.fmean(s), statistics.stdev(s) if len(s) > 1 else 0.0,
                   round(statistics.fmean(c[n] for c in models)))
    keep = ("pgsteal_anon", "pgsteal_file") + RECLAIM_COUNTERS
    return {"case": name, "ram_mib": statistics.fmean(avail) / (1 << 20),
            "kswapd_ns_per_page": kswapd_ns,
            "fit_mib": statistics.fmean(fits) / (1 << 20), "counters": rows,
            "kernel": [{n: kernel_view(rep).get(n, 0) for n in keep} for rep in r.repeats]}


def run_matrix(cases: list[str] | None = None, *, repeat: int = 3,
               progress: Callable[[str], Any] | None = None) -> list[dict[str, Any]]:
    """:func:`run_case` for each case (default all). Needs root. Runtime complexity: that of the runs."""
    rows = []
    for name in cases or CASES:
        if progress is not None:
            progress(name)
        rows.append(run_case(name, repeat=repeat))
    return rows


def rst_table(rows: list[dict[str, Any]]) -> str:
    """The rows as the docs page's list-table. Runtime complexity: O(rows * counters).

    >>> print(rst_table([{"case": "c", "ram_mib": 1000.0,
    ...                   "counters": {"allocstall": (100.0, 10.0, 110)}}]))
    .. list-table::
       :header-rows: 1
       :widths: 30 8 26 18 10 8 6
    <BLANKLINE>
       * - case
         - avail (MiB)
         - counter
         - kernel
         - model
         - diff
         - within
       * - c
         - 1,000
         - ``allocstall``
         - 100 +/- 10
         - 110
         - +10.0%
         - yes
    """
    out = [".. list-table::", "   :header-rows: 1", "   :widths: 30 8 26 18 10 8 6", "",
           "   * - case", "     - avail (MiB)", "     - counter", "     - kernel", "     - model",
           "     - diff", "     - within"]
    for row in rows:
        first = True
        for n, (mean, sd, model) in row["counters"].items():
            if not mean and not model:
                continue
            diff = f"{(model - mean) / mean * 100:+.1f}%" if mean else "-"
            ok = ("yes" if within(n, mean, sd, model) else "no") if n in TOLERANCE else "-"
            kern = f"{mean:,.0f}" + (f" +/- {sd:,.0f}" if sd else "")
            out += [f"   * - {row['case'] if first else ''}".rstrip(),
                    f"     - {row['ram_mib']:,.0f}" if first else "     -",
                    f"     - ``{n}``", f"     - {kern}", f"     - {model:,}", f"     - {diff}",
                    f"     - {ok}"]
            first = False
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """``python -m vswap.global_matrix``: run the matrix, print the docs table. Runtime complexity: the runs'."""
    p = argparse.ArgumentParser(prog="python -m vswap.global_matrix", description=__doc__)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("cases", nargs="*", help="case names (default: all)")
    args = p.parse_args(argv)
    rows = run_matrix(args.cases or None, repeat=args.repeat,
                      progress=lambda n: print(n, file=sys.stderr, flush=True))
    print(rst_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
