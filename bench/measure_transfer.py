"""Measure what a cache line two CPUs share costs here: the input of vswap.contention.

Compiles ``cacheline_transfer.c`` with the system's C compiler, runs it
(``--runs`` runs of ``--ops`` round trips, one thread pinned to each of
CPUs 0 and 1) and prints each run, then the median and the scaled MAD over
the runs of ``rmw_ns`` (a lock-prefixed compare-and-swap on a line the
other CPU wrote: what :data:`vswap.contention.TRANSFER_NS` holds) and of
``ping_ns`` (a plain store), and the uncontended atomic and lock beside them.

    python bench/measure_transfer.py --runs 41 --ops 100000

Not a pytest benchmark: it needs two CPUs and a C compiler, and its figure
is a constant of the model, recorded with its spread where it is used.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def mad(xs: list[float]) -> float:
    """The median absolute deviation, scaled to a normal sd (x 1.4826)."""
    m = statistics.median(xs)
    return 1.4826 * statistics.median(abs(x - m) for x in xs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=41)
    ap.add_argument("--ops", type=int, default=100_000)
    ap.add_argument("--pause", type=float, default=0.5, help="seconds between runs")
    a = ap.parse_args(argv)
    if (os.cpu_count() or 1) < 2:
        print("needs two CPUs", file=sys.stderr)
        return 2
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cacheline_transfer.c")
    with tempfile.TemporaryDirectory() as d:
        exe = os.path.join(d, "clt")
        subprocess.run(["cc", "-O2", "-pthread", "-o", exe, src], check=True)
        rows = []
        for _ in range(a.runs):
            out = subprocess.run([exe, "1", str(a.ops)], check=True, capture_output=True,
                                 text=True).stdout
            rows.append(json.loads(out))
            print(out.strip(), flush=True)
            time.sleep(a.pause)
    for k in ("rmw_ns", "ping_ns", "solo_ns", "solo_lock_ns"):
        xs = [r[k] for r in rows]
        print(f"{k}: median {statistics.median(xs):.1f} ns, MAD {mad(xs):.1f} ns, "
              f"range {min(xs):.1f} .. {max(xs):.1f}, {len(xs)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
