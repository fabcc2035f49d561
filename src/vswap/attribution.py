"""A design's work split by what the kernel was doing: swapping out, swapping in, freeing.

:func:`verb_costs` replays a trace on the reference engine through the
design itself (compiled or not: any :class:`vswap.protocol.SwapSpace`), and
charges the change of the design's ``stats`` and its allocator's across
every verb call to the path of the memory model that made it
(:data:`PATHS`):

- ``swap_out``: reclaim (``evict_one``: allocate, store or write, drop from
  the swap cache; a clean read-ahead folio dropped too) and zswap's
  writeback, per page swapped out (``swapped_out``);
- ``swap_in``: the fault (lookup, the swap cache or the synchronous read,
  read-ahead, freeing the entry), per major fault (``pgmajfault``);
- ``free``: munmap's and exit's ``free_swap_and_cache_nr``, per entry
  freed (``free_entries``).

The counters are the design's own, measured, not derived: the replay and
the design are the same as ``vswap compare``'s (the engines agree counter
for counter), only slower, one Python call per verb. This is section 1.9's
"index walks per swap-out, swap-in and free" for every design, yours too.

>>> from vswap.replay import Machine
>>> from vswap.workloads import memhog
>>> c = verb_costs(memhog("4M", passes=2), "baseline", Machine(ram="2M"))
>>> sorted(c), c["swap_out"]["ops"], c["swap_in"]["ops"], c["free"]["ops"]
(['free', 'swap_in', 'swap_out'], 1536, 1024, 512)
>>> c["swap_out"]["table_writes"], c["swap_in"]["slots_freed"], c["free"]["slots_freed"]
(3.0, 1.0, 1.0)
"""

from __future__ import annotations

import sys
from typing import Any

from vswap.reference import replay as _ref_replay

__all__ = ["PATHS", "VERBS", "LOOKUP_ROWS", "verb_costs", "path_table"]

_REPLAY_FILE = _ref_replay.__file__

#: path -> (the reference replay's methods on it, the counter of its operations). A verb
#: call belongs to the innermost of those methods it is made from (a swap-in that must
#: reclaim first charges the reclaim to swap_out).
PATHS: dict[str, tuple[tuple[str, ...], str]] = {
    "swap_out": (("evict_one", "zswap_shrink"), "swapped_out"),
    "swap_in": (("swap_in",), "pgmajfault"),
    "free": (("free_range",), "free_entries"),
    # FORK's swap_duplicate of each swapped page; a fault on a shared page (its swap-in
    # through the swap cache, the count it drops, the entry freed by the last one), per COW
    "fork": (("fork",), "fork_pages"),
    "shared_fault": (("shared_fault",), "cow_faults"),
}
_PATH_OF = {method: path for path, (methods, _) in PATHS.items() for method in methods}
#: the verbs of vswap.protocol.SwapSpace the replay calls
VERBS = frozenset({"folio_alloc_swap", "swap_duplicate", "zero_store", "zswap_store",
                   "writeback", "swap_cache_del_folio", "put_swap_folio", "lookup",
                   "swapcache_prepare", "swap_cache_add_folio", "swap_free_nr",
                   "free_swap_and_cache_nr"})


def _caller_path() -> str | None:
    f = sys._getframe(2)
    while f is not None:
        path = _PATH_OF.get(f.f_code.co_name)
        if path is not None and f.f_code.co_filename == _REPLAY_FILE:
            return path
        f = f.f_back
    return None


class _Attributing:
    """The design, seen through its verbs: each call's stats change goes to its path."""

    def __init__(self, space: Any, totals: dict[str, dict[str, int]]) -> None:
        object.__setattr__(self, "_space", space)
        object.__setattr__(self, "_totals", totals)
        object.__setattr__(self, "_swaps", getattr(space, "swaps", None))

    def _snapshot(self) -> dict[str, int]:
        out = dict(self._space.stats)
        if self._swaps is not None:
            for k, v in self._swaps.stats.items():
                out.setdefault(k, v)
        return out

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._space, name)
        if name not in VERBS:
            return attr
        path = _caller_path()
        if path is None:
            return attr
        totals = self._totals[path]

        def verb(*args: Any, **kwargs: Any) -> Any:
            before = self._snapshot()
            try:
                return attr(*args, **kwargs)
            finally:
                for k, v in self._snapshot().items():
                    totals[k] = totals.get(k, 0) + v - before.get(k, 0)
        return verb

    def __setattr__(self, name: str, value: Any) -> None:   # ``cpu``: the design's own
        setattr(self._space, name, value)


def verb_costs(trace: Any, design: Any = "baseline", machine: Any = None,
               ) -> dict[str, dict[str, float]]:
    """The design's counters per operation of each path (:data:`PATHS`), and ``ops`` the count.

    ``design`` is a registered name or a SwapSpace; ``machine`` as for
    :func:`vswap.replay.replay` (default: RAM for half the span). Each
    path's dict has ``ops`` (its operations: pages swapped out, major
    faults, entries freed) and every counter of the design's ``stats`` and
    its allocator's, as a mean per operation (0 where ``ops`` is 0).
    Runtime complexity: O(pages touched, written and freed) Python calls,
    two stats reads per verb call.
    """
    from vswap.reference.replay import replay_trace
    from vswap.replay import Machine, machine_config, make_design
    from vswap.workloads import PAGE_SIZE

    span = trace.nr_pages
    if machine is None:
        machine = Machine(ram=max(1, span // 2) * PAGE_SIZE)
    space = make_design(design, machine, span) if isinstance(design, str) else design
    totals: dict[str, dict[str, int]] = {path: {} for path in PATHS}
    out = replay_trace(_Attributing(space, totals), trace.op, trace.vpn, trace.nr, trace.order,
                       trace.content, trace.cpu, span=span,
                       **machine_config(machine, trace, space),
                       memcg=1 if trace.memcgs is None else trace.page_memcgs(), src=trace.src)
    result: dict[str, dict[str, float]] = {}
    for path, (_, ops_name) in PATHS.items():
        ops = out["counters"][ops_name]
        row: dict[str, float] = {"ops": ops}
        for k, v in sorted(totals[path].items()):
            row[k] = v / ops if ops else 0.0
        result[path] = row
    return result


#: The rows of :func:`path_table`: (label, the counters summed into it, by design).
LOOKUP_ROWS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("xarray walks", ("lookups",)),
    ("lookup-cache hits", ("mru_hits", "lookup_hits")),
    ("table word reads", ("table_reads",)),
    ("table word writes", ("table_writes",)),
    ("descriptor reads", ("desc_reads",)),
    ("descriptor writes", ("desc_writes",)),
    ("virtual-table reads", ("vtable_reads",)),
    ("virtual-table writes", ("vtable_writes",)),
    ("memcg-table writes", ("memcg_writes",)),
    ("rmap writes", ("rmap_writes",)),
    ("cluster locks", ("cluster_locks",)),
    ("count overflow pages", ("cont_pages_allocated", "extend_tables_allocated")),
)


def path_table(costs: dict[str, dict[str, dict[str, float]]],
               rows: tuple[tuple[str, tuple[str, ...]], ...] = LOOKUP_ROWS) -> str:
    """``{design: verb_costs(...)}`` as a text table: a block of rows per path, a column per design.

    ``-`` where a design has none of a row's counters. Runtime complexity:
    O(paths * rows * designs).

    >>> from vswap.replay import Machine
    >>> from vswap.workloads import usemem
    >>> c = {d: verb_costs(usemem("2M"), d, Machine(ram="1M")) for d in ("baseline", "cc_v2")}
    >>> print(path_table(c, rows=LOOKUP_ROWS[:1] + LOOKUP_ROWS[-1:]))
    path      per           counter        baseline   cc_v2
    --------  ------------  -------------  --------  ------
    swap_out  swapped page  xarray walks          -  0.0039
                            cluster locks      4.00    5.00
    free      entry freed   xarray walks          -    0.00
                            cluster locks    0.0039  0.0039
    """
    designs = list(costs)
    per = {"swap_out": "swapped page", "swap_in": "major fault", "free": "entry freed",
           "fork": "page forked", "shared_fault": "COW fault"}
    header = ["path", "per", "counter", *designs]
    body = []
    for path in PATHS:
        if not any(c[path]["ops"] for c in costs.values()):
            continue
        first = True
        for label, names in rows:
            cells = []
            for d in designs:
                have = [n for n in names if any(n in costs[d][q] for q in PATHS)]
                v = sum(costs[d][path].get(n, 0.0) for n in have)
                cells.append("-" if not have else f"{v:.2f}" if v >= 0.1 or v == 0 else f"{v:.4f}")
            if all(c == "-" for c in cells):
                continue
            body.append([path if first else "", per[path] if first else "", label, *cells])
            first = False
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    def line(r):
        return "  ".join(c.ljust(w) if i < 3 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths))).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, body)])
