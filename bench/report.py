"""Print the ns/key table of docs/performance.rst from a pytest-benchmark JSON file.

Usage::

    python -m pytest bench/ --benchmark-only --benchmark-json=bench1.json
    python bench/report.py bench1.json [bench2.json ...]

One row per (operation, mode, keys, order); columns are the ns/key of
XArray, dict and the reference model (``extra_info.ns_per_key``: median
round time / keys per round), and the target where the issue set one. With
several JSON files (several runs), each figure is the median over the runs,
and a second table gives the per-run range of the target rows.
"""

from __future__ import annotations

import json
import re
import statistics
import sys

# (group, comparison) -> target text and a test of the row's figures.
TARGETS = {
    "load-batch-dense-seq": ("<= 10 ns/key", lambda x, d: x <= 10),
    "load-batch-dense-rnd": ("<= 40 ns/key", lambda x, d: x <= 40),
    "load-single-dense-seq": ("<= 1.2 x dict", lambda x, d: x <= 1.2 * d),
    "load-single-dense-rnd": ("<= 1.2 x dict", lambda x, d: x <= 1.2 * d),
    "load-single-clustered-seq": ("<= 1.2 x dict", lambda x, d: x <= 1.2 * d),
    "load-single-clustered-rnd": ("<= 1.2 x dict", lambda x, d: x <= 1.2 * d),
}
OPS = ["load", "store", "erase"]
MODES = ["single", "batch"]
KINDS = ["dense", "clustered"]
ORDERS = ["seq", "rnd"]


def load(paths: list[str]) -> dict[str, dict[str, list[float]]]:
    """group -> impl -> ns/key of each run."""
    table: dict[str, dict[str, list[float]]] = {}
    for path in paths:
        with open(path) as f:
            for b in json.load(f)["benchmarks"]:
                impl = b["extra_info"].get("impl") or re.search(r"-(\w+)\]$", b["name"]).group(1)
                table.setdefault(b["group"], {}).setdefault(impl, []).append(
                    b["extra_info"]["ns_per_key"])
    return table


def fmt(v: float | None) -> str:
    if v is None:
        return "--"
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    rule = "  ".join("=" * w for w in widths)
    print(rule)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    print(rule)
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    print(rule)


def main(paths: list[str]) -> None:
    runs = load(paths)
    table = {g: {i: statistics.median(v) for i, v in r.items()} for g, r in runs.items()}
    header = ["operation", "keys", "order", "XArray", "dict", "reference", "target", "met"]
    rows = []
    for op in OPS:
        for mode in MODES:
            for kind in KINDS:
                for order in ORDERS:
                    g = f"{op}-{mode}-{kind}-{order}"
                    r = table.get(g)
                    if not r:
                        continue
                    x, d, ref = r.get("xarray"), r.get("dict"), r.get("reference")
                    target, met = "", ""
                    if g in TARGETS:
                        target = TARGETS[g][0]
                        met = "yes" if TARGETS[g][1](x, d) else "**no**"
                        if d is not None and "dict" in target:
                            target += f" ({x / d:.2f} x)"
                    rows.append([f"{op} {mode}", kind, order, fmt(x), fmt(d), fmt(ref),
                                 target or "--", met or "--"])
    print_table(header, rows)
    if len(paths) < 2:
        return
    print()
    spread = []
    for g in TARGETS:
        r = runs.get(g, {})
        xs = r.get("xarray", [])
        ds = r.get("dict")
        if not xs:
            continue
        vals = [x / d for x, d in zip(xs, ds)] if ds else xs
        unit = "x dict" if ds else "ns/key"
        spread.append([g, unit, ", ".join(f"{v:.2f}" for v in vals),
                       f"{sum(TARGETS[g][1](x, d) for x, d in zip(xs, ds or xs))}/{len(xs)}"])
        xo, do = r.get("xarray-objects"), r.get("dict-objects")
        if xo and do:
            vals = [x / d for x, d in zip(xo, do)]
            spread.append([g + " (objects)", "x dict", ", ".join(f"{v:.2f}" for v in vals),
                           f"{sum(v <= 1.2 for v in vals)}/{len(vals)}"])
    print_table(["target group", "figure", "per run", "runs met"], spread)


if __name__ == "__main__":
    main(sys.argv[1:] or ["bench.json"])
