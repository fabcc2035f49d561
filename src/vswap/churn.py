"""The per-iteration mTHP swap-out counters of ``mthp_churn``: whole 64K folios and fallbacks.

The kernel's mTHP swap-out tests page a 64K-folio region out again and again
(MADV_PAGEOUT) between random 4K swap-ins and 64K MADV_DONTNEED rewrites, and
read ``hugepages-64kB/stats/swpout`` and ``swpout_fallback`` after each round:
as the swap device fragments (a 4K swap-in frees one slot of a 64K run), more
folios find no free aligned 64K run and are split. :func:`iteration_counters`
gives the same figures from the model, one row per page-out.

>>> from vswap.churn import iteration_counters
>>> from vswap.replay import Machine
>>> from vswap.workloads import mthp_churn
>>> rows = iteration_counters(mthp_churn("1M", iterations=2), "baseline",
...                           Machine(ram="2M", swap="2M", mthp=(4,)))
>>> [r["iteration"] for r in rows], rows[0]["swpout"] + rows[0]["swpout_fallback"]
([0, 1, 2], 16)
"""

from __future__ import annotations

from typing import Any

from vswap.workloads import Trace, iteration_ends

__all__ = ["iteration_counters", "iteration_table"]

_STATS = ("swpout", "swpout_fallback")


def iteration_counters(trace: Trace, design: Any = "baseline", machine: Any = None, *,
                       engine: str | None = None, size_kb: int = 64) -> list[dict[str, int]]:
    """Per page-out of ``trace`` (its PAGEOUT events), the ``hugepages-<size_kb>kB`` swpout and fallbacks.

    Each row: ``iteration`` (0 is the first page-out), ``swpout`` and
    ``swpout_fallback`` of that round (the difference between the replays
    of the trace up to this page-out and up to the one before). ``design``
    is a registered name (each prefix replays on a fresh instance).
    ValueError for a trace without a PAGEOUT. Runtime complexity:
    O(page-outs * trace events) replay work.

    >>> from vswap.replay import Machine
    >>> from vswap.workloads import mthp_churn
    >>> rows = iteration_counters(mthp_churn("512K", iterations=1), machine=Machine(ram="1M",
    ...                                                                          mthp=(4,)))
    >>> rows[0]
    {'iteration': 0, 'swpout': 8, 'swpout_fallback': 0}
    """
    from vswap.replay import replay
    ends = iteration_ends(trace)
    if not ends:
        raise ValueError(f"trace {trace.name!r} has no PAGEOUT event: no iteration to count")
    names = [f"hugepages-{size_kb}kB/{s}" for s in _STATS]
    rows, prev = [], [0, 0]
    for k, end in enumerate(ends):
        cols = [getattr(trace, c)[:end + 1].copy()
                for c in ("op", "vpn", "nr", "order", "content", "cpu")]
        sub = Trace(*cols, src=trace.src[:end + 1].copy(), name=trace.name,
                    nr_cpus=trace.nr_cpus)
        c = replay(sub, design, machine, engine=engine).counters
        cur = [int(c[n]) for n in names]
        rows.append({"iteration": k, "swpout": cur[0] - prev[0],
                     "swpout_fallback": cur[1] - prev[1]})
        prev = cur
    return rows


def iteration_table(rows: list[dict[str, int]]) -> str:
    """:func:`iteration_counters`'s rows as a text table. Runtime complexity: O(rows).

    >>> print(iteration_table([{"iteration": 0, "swpout": 3, "swpout_fallback": 1}]))
    iteration  swpout  swpout_fallback
    ---------  ------  ---------------
            0       3                1
    """
    header = ("iteration", *_STATS)
    body = [[str(r[h]) for h in header] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(header, *body)]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                       for i, (h, w) in enumerate(zip(header, widths))).rstrip()]
    lines[0] = "  ".join(h for h in header)
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(x.rjust(w) for x, w in zip(r, widths)) for r in body]
    return "\n".join(lines)
