"""The report's reclaim table (allocstall, pgsteal_kswapd, pgsteal_direct, swap_ra, pgmigrate) from replays.

``vswap compare`` prints it whenever the machine is global
(``Machine(kswapd=True)``, the default of the report's two benchmarks,
usemem and memhog: :data:`GLOBAL_WORKLOADS`): the model's counters per
design in the report's layout, each with its change against the base
design, and ``not modelled`` for what the model has no counter for
(``pgmigrate``: compaction). :data:`REPORT_RECLAIM` holds the report's own
figures, so the table can stand beside them.

>>> print(reclaim_table([{"design": "baseline", "allocstall": 100, "pgsteal_kswapd": 7,
...     "pgsteal_direct": 9, "swap_ra": 0}, {"design": "vss_v5", "allocstall": 102,
...     "pgsteal_kswapd": 7, "pgsteal_direct": 10, "swap_ra": 5}], "baseline", "ctx"))
Reclaim (the report's table; model counters, % change vs baseline)
[ctx]
metric          baseline       vss_v5
--------------  --------  -----------
allocstall           100  102 (+2.0%)
pgsteal_kswapd         7    7 (+0.0%)
pgsteal_direct         9  10 (+11.1%)
swap_ra                0            5
pgmigrate           n.m.         n.m.
(n.m.: not modelled; pgmigrate counts compaction's page migrations)
"""

from __future__ import annotations

from typing import Any

from vswap.workload_registry import workload_records

__all__ = ["RECLAIM_METRICS", "NOT_MODELLED", "GLOBAL_WORKLOADS", "REPORT_RECLAIM",
           "reclaim_table", "report_comparison", "machine_line"]

#: The report's reclaim table's rows, in its order.
RECLAIM_METRICS = ("allocstall", "pgsteal_kswapd", "pgsteal_direct", "swap_ra", "pgmigrate")
#: Its rows the model has no counter for, and why.
NOT_MODELLED = {"pgmigrate": "compaction's page migrations"}
#: The workloads whose default machine is global (the report ran them without a cgroup).
#: The workloads whose default machine is machine-wide (their records say so).
GLOBAL_WORKLOADS = tuple(n for n, r in workload_records().items() if r.global_by_default)
#: The report's reclaim figures (means over its runs) per workload and build.
REPORT_RECLAIM: dict[str, dict[str, dict[str, float]]] = {
    "usemem": {
        "baseline": {"allocstall": 167_787, "pgsteal_kswapd": 6_932_143,
                     "pgsteal_direct": 9_759_350, "swap_ra": 82.9, "pgmigrate": 1_029_901},
        "vss_v5": {"allocstall": 170_532, "pgsteal_kswapd": 6_965_962,
                   "pgsteal_direct": 9_978_721, "swap_ra": 5_994.8, "pgmigrate": 1_687_072},
        "new_opt_v2": {"allocstall": 169_782, "pgsteal_kswapd": 6_968_188,
                       "pgsteal_direct": 9_899_698, "swap_ra": 4_976.8, "pgmigrate": 1_260_451},
        "cc_v2": {"allocstall": 168_635, "pgsteal_kswapd": 7_038_513,
                  "pgsteal_direct": 9_845_668, "swap_ra": 4_718.2, "pgmigrate": 1_144_560},
    },
    "memhog": {
        "baseline": {"allocstall": 101_245, "pgsteal_kswapd": 8_817_264,
                     "pgsteal_direct": 5_408_046, "swap_ra": 66.5, "pgmigrate": 239_410},
        "vss_v5": {"allocstall": 109_320, "pgsteal_kswapd": 8_436_548,
                   "pgsteal_direct": 5_932_611, "swap_ra": 8_589.5, "pgmigrate": 277_193},
        "new_opt_v2": {"allocstall": 100_207, "pgsteal_kswapd": 8_728_944,
                       "pgsteal_direct": 5_419_891, "swap_ra": 8_954.5, "pgmigrate": 320_672},
        "cc_v2": {"allocstall": 99_223, "pgsteal_kswapd": 8_962_443,
                  "pgsteal_direct": 5_349_352, "swap_ra": 8_703.1, "pgmigrate": 243_989},
    },
}


def _change(value: float, base: float) -> str:
    return f" ({(value - base) / base * 100:+.1f}%)" if base else ""


def machine_line(machine: Any) -> str:
    """One line on a machine-wide Machine's reclaim settings. Runtime complexity: O(1).

    >>> from vswap.replay import Machine
    >>> machine_line(Machine(ram="1G", total_ram="24G", accounting="none", kswapd=True))
    'machine-wide: watermarks min 16,896, low 23,187, high 29,478 pages; page cache 8,192 pages; swappiness 60; referenced 0; classic LRU'
    """
    wm = machine.zone_watermarks
    return (f"machine-wide: watermarks min {wm.min:,}, low {wm.low:,}, high {wm.high:,} pages; "
            f"page cache {machine.file_cache_pages:,} pages; swappiness {machine.swappiness}; "
            f"referenced {machine.referenced_share:g}; "
            f"{'MGLRU' if machine.lru_gen else 'classic LRU'}")


def reclaim_table(rows: list[dict[str, Any]], base: str, context: str,
                  machine: Any = None) -> str:
    """The reclaim table of compare's ``rows`` (one dict of counters per design) against ``base``.

    Each cell is the counter (the same in every repeat), with its %
    change against the base design where the base's is not zero; ``n.m.``
    for a metric of :data:`NOT_MODELLED`. Runtime complexity: O(designs).

    >>> reclaim_table([{"design": "b", "allocstall": 3}], "b", "x").splitlines()[4]
    'allocstall         3'
    """
    from vswap.tables import render as _render

    bases = {m: next((r.get(m, 0) for r in rows if r["design"] == base), 0)
             for m in RECLAIM_METRICS}
    body = []
    for m in RECLAIM_METRICS:
        cells = [m]
        for r in rows:
            if m in NOT_MODELLED:
                cells.append("n.m.")
            elif r["design"] == base:
                cells.append(f"{r.get(m, 0):,}")
            else:
                cells.append(f"{r.get(m, 0):,}{_change(r.get(m, 0), bases[m])}")
        body.append(cells)
    title = f"Reclaim (the report's table; model counters, % change vs {base})\n[{context}]"
    if machine is not None:
        title += f"\n[{machine_line(machine)}]"
    notes = "; ".join(f"{k} counts {v}" for k, v in NOT_MODELLED.items())
    return _render(title, ["metric"] + [r["design"] for r in rows], body) + \
        f"\n(n.m.: not modelled; {notes})"


def report_comparison(rows: list[dict[str, Any]], workload: str, base: str = "baseline"
                      ) -> list[dict[str, Any]]:
    """Per design and modelled metric: the model's and the report's % change vs ``base``.

    Rows ``{"design", "metric", "model_pct", "report_pct"}`` for the
    designs both have (none for a workload the report did not run).
    Runtime complexity: O(designs).

    >>> rows = [{"design": "baseline", "allocstall": 100, "pgsteal_kswapd": 1,
    ...          "pgsteal_direct": 1, "swap_ra": 1},
    ...         {"design": "vss_v5", "allocstall": 102, "pgsteal_kswapd": 1,
    ...          "pgsteal_direct": 1, "swap_ra": 1}]
    >>> c = report_comparison(rows, "usemem")[0]
    >>> c["metric"], c["model_pct"], round(c["report_pct"], 1)
    ('allocstall', 2.0, 1.6)
    """
    report = REPORT_RECLAIM.get(workload, {})
    by = {r["design"]: r for r in rows}
    if base not in by or base not in report:
        return []
    out = []
    for d, r in by.items():
        if d == base or d not in report:
            continue
        for m in RECLAIM_METRICS:
            if m in NOT_MODELLED or not by[base].get(m):
                continue
            out.append({"design": d, "metric": m,
                        "model_pct": (r.get(m, 0) - by[base][m]) / by[base][m] * 100,
                        "report_pct": (report[d][m] - report[base][m]) / report[base][m] * 100})
    return out
