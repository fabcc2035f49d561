"""The processes of a trace with FORK: who runs which event, for the kernel executor.

A trace names pages, not processes. The executor (:mod:`vswap._executor`)
runs a trace of format version 2 (FORK, EXIT, PAGEOUT, DONTNEED) as a tree
of real processes, and :func:`split_processes` derives that tree:

- a *region* is one mapping: a FORK's target range (the child's copy of the
  source range, at the source's addresses in the child), or a run of pages
  first touched by TOUCH outside every FORK target (merged as
  :func:`vswap._executor.split_tasks` merges them);
- a FORK is run by the process that owns its source region and creates a
  process that owns the target region;
- a region first touched outside FORK targets belongs to the latest forked
  process still alive (its copy not yet EXITed) whose FORK ran on the same
  ``cpu`` (kbuild's compiler touching its private heap), else to a new root
  process (the parent of a fork workload, each of usemem's tasks);
- every other event is run by the owner of its region, and a TOUCH of pages
  that are mapped (a FORK's copy) is a read, not a write.

The executor runs the events in the trace's order (a shared sequence: each
process waits for its rows), so the kernel sees the interleaving the model
replays. Returns the *program*: plain numpy arrays the executor's C code
reads. Runtime complexity: O(events log events + pages named) numpy work,
one Python step per event.

>>> from vswap.workloads import fork
>>> prog = split_processes(fork("1M"))
>>> prog["nprocs"], prog["proc_parent"].tolist(), prog["nregions"]
(2, [-1, 0], 2)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vswap.workloads import DONTNEED, EXIT, FORK, FREE, OPS, TOUCH, Trace

__all__ = ["split_processes", "union_of_ranges", "READ"]

#: The executor's op code for a TOUCH of mapped pages: a read of each page (no write, no COW).
READ = 7


def union_of_ranges(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The disjoint ranges ``[first, last)`` that the ranges ``[start, end)`` cover, in order.

    Ranges that overlap merge; ranges that merely touch (one's end the
    other's start) stay apart, as two mappings do. Runtime complexity:
    O(n log n) for n ranges (one stable sort, the rest vectorised).

    >>> union_of_ranges(np.array([8, 0, 2, 12]), np.array([10, 4, 6, 14]))
    (array([ 0,  8, 12]), array([ 6, 10, 14]))
    >>> union_of_ranges(np.array([], np.int64), np.array([], np.int64))
    (array([], dtype=int64), array([], dtype=int64))
    """
    start, end = np.asarray(start), np.asarray(end)
    if start.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.argsort(start, kind="stable")
    start, end = start[order], end[order]
    reach = np.maximum.accumulate(end)
    # a range starts a new region where it begins past everything before it
    new = np.ones(start.size, bool)
    new[1:] = start[1:] > reach[:-1]
    return start[new], np.append(reach[np.flatnonzero(new)[1:] - 1], reach[-1])


def _regions(trace: Trace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted region starts and ends, and the FORK row whose target each is (-1: fresh)."""
    op, vpn, nr = trace.op, trace.vpn.astype(np.int64), trace.nr.astype(np.int64)
    forks = np.flatnonzero(op == FORK)
    t_start, t_end = vpn[forks], vpn[forks] + nr[forks]
    o = np.argsort(t_start, kind="stable")
    t_start, t_end, forks = t_start[o], t_end[o], forks[o]
    if t_start.size > 1 and (t_start[1:] < t_end[:-1]).any():
        i = int(forks[1:][t_start[1:] < t_end[:-1]][0])
        raise ValueError(f"event {i}: a FORK's range overlaps another FORK's")
    touch = np.flatnonzero(op == TOUCH)
    s, e = vpn[touch], vpn[touch] + nr[touch]
    # a TOUCH inside a FORK target reads the copy (or refills it after DONTNEED)
    k = np.searchsorted(t_start, s, side="right") - 1
    inside = np.zeros(s.size, bool)
    if t_start.size:
        kk = np.maximum(k, 0)
        inside = (k >= 0) & (e <= t_end[kk]) & (s >= t_start[kk])
    s, e = s[~inside], e[~inside]
    f_start, f_end = union_of_ranges(s, e)
    start = np.concatenate([t_start, f_start])
    end = np.concatenate([t_end, f_end])
    kind = np.concatenate([forks, np.full(f_start.size, -1, np.int64)])
    o = np.argsort(start, kind="stable")
    start, end, kind = start[o], end[o], kind[o]
    if start.size > 1 and (start[1:] < end[:-1]).any():
        raise ValueError("a TOUCH outside a FORK's range overlaps it: a FORK's range must be a "
                         "mapping of its own")
    return start, end, kind


def _region_of(start: np.ndarray, end: np.ndarray, lo: np.ndarray, n: np.ndarray,
               what: str) -> np.ndarray:
    r = np.searchsorted(start, lo, side="right") - 1
    bad = (r < 0) | (lo + n > end[np.maximum(r, 0)])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"event {i}: its {what} [{int(lo[i])}, {int(lo[i] + n[i])}) lies "
                         "outside the mappings the trace makes (TOUCH or FORK)")
    return r


def split_processes(trace: Trace) -> dict[str, Any]:
    """The process tree and per-process events of ``trace`` (see the module's doc); a dict of arrays.

    Keys: ``nprocs``, ``nrows`` (the trace's events), ``row_owner`` (the
    process of each row), ``proc_parent`` (-1 for a root), ``proc_first``
    (each process's events are ``ev_*[proc_first[p]:proc_first[p + 1]]``),
    ``ev_row``, ``ev_op`` (the trace's op, :data:`READ` for a read),
    ``ev_region``, ``ev_off`` (pages from the region's first), ``ev_nr``,
    ``ev_content``, ``ev_child`` (a FORK's new process, else -1);
    ``nregions``, ``reg_first``, ``reg_npages``, ``reg_owner``, ``reg_src``
    (a FORK target's source region, -1 for a fresh one), ``reg_src_off``;
    ``hp_region``, ``hp_off``, ``hp_nr`` (the ranges advised MADV_HUGEPAGE:
    TOUCHed with large folios in fresh regions). ValueError for a trace the
    executor cannot map to processes (a FORK whose source was never touched,
    a FORK target that is not a mapping of its own, an event outside every
    mapping). Runtime complexity: see the module's doc.

    >>> from vswap.workloads import kbuild
    >>> p = split_processes(kbuild("2M", workers=2, procs=2))
    >>> p["nprocs"], p["proc_parent"].tolist()
    (5, [-1, 0, 0, 0, 0])
    """
    if not isinstance(trace, Trace):
        raise TypeError(f"trace must be a vswap.workloads.Trace, not {type(trace).__name__}")
    n = len(trace)
    op = trace.op
    vpn, nr = trace.vpn.astype(np.int64), trace.nr.astype(np.int64)
    start, end, kind = _regions(trace)
    region = _region_of(start, end, vpn, nr, "range")
    is_fork = op == FORK
    src_region = np.full(n, -1, np.int64)
    if is_fork.any():
        src = trace.src.astype(np.int64)
        src_region[is_fork] = _region_of(start, end, src[is_fork], nr[is_fork], "FORK's source")
    target_of = {int(row): g for g, row in enumerate(kind.tolist()) if row >= 0}
    nreg = start.size
    reg_owner = np.full(nreg, -1, np.int64)
    reg_src = np.full(nreg, -1, np.int64)
    reg_src_off = np.zeros(nreg, np.int64)
    parent: list[int] = []
    row_owner = np.zeros(n, np.int64)
    ev_op = op.astype(np.uint8).copy()
    ev_child = np.full(n, -1, np.int64)
    live: dict[int, list[int]] = {}          # cpu -> forked processes whose copy lives
    copy_of: dict[int, int] = {}             # process -> its FORK target region
    forks = bool(is_fork.any())
    span = int(max(end.max(initial=0), 0))
    mapped = np.zeros(span if forks else 0, bool)
    cpus = trace.cpu.tolist()
    for i, (o, v, k) in enumerate(zip(op.tolist(), vpn.tolist(), nr.tolist())):
        r = int(region[i])
        if o == FORK:
            s = int(src_region[i])
            p = int(reg_owner[s])
            if p < 0:
                raise ValueError(f"event {i}: a FORK of pages no process has touched")
            q = len(parent)
            parent.append(p)
            reg_owner[r] = q
            reg_src[r] = s
            reg_src_off[r] = int(trace.src[i]) - int(start[s])
            copy_of[q] = r
            live.setdefault(cpus[i], []).append(q)
            row_owner[i] = p
            ev_child[i] = q
            mapped[v:v + k] = mapped[int(trace.src[i]):int(trace.src[i]) + k]
            continue
        if reg_owner[r] < 0:
            if o != TOUCH:
                raise ValueError(f"event {i}: a {OPS[o]} of pages no process has touched")
            on = live.get(cpus[i])
            if on:
                reg_owner[r] = on[-1]
            else:
                reg_owner[r] = len(parent)
                parent.append(-1)
        row_owner[i] = reg_owner[r]
        if not forks:
            continue
        if o == TOUCH:
            if mapped[v:v + k].all():
                ev_op[i] = READ
            mapped[v:v + k] = True
        elif o in (EXIT, FREE, DONTNEED):
            mapped[v:v + k] = False
            if o == EXIT and v <= start[r] and v + k >= end[r]:
                q = int(reg_owner[r])
                if copy_of.get(q) == r:
                    for procs in live.values():
                        if q in procs:
                            procs.remove(q)
    nprocs = len(parent)
    order = np.argsort(row_owner, kind="stable")
    proc_first = np.searchsorted(row_owner[order], np.arange(nprocs + 1))
    ev = order
    touch = (op == TOUCH) & (trace.order > 0) & (kind[region] < 0)
    hp = _merge(region[touch], vpn[touch] - start[region[touch]], nr[touch])
    return {
        "nprocs": nprocs, "nrows": n,
        "row_owner": row_owner.astype(np.int32),
        "proc_parent": np.array(parent, np.int32),
        "proc_first": proc_first.astype(np.int64),
        "ev_row": ev.astype(np.uint64),
        "ev_op": ev_op[ev],
        "ev_region": region[ev].astype(np.int32),
        "ev_off": (vpn - start[region])[ev].astype(np.uint64),
        "ev_nr": trace.nr[ev].astype(np.uint64),
        "ev_content": trace.content[ev].astype(np.uint8),
        "ev_child": ev_child[ev].astype(np.int32),
        "nregions": int(nreg),
        "reg_first": start.astype(np.uint64),
        "reg_npages": (end - start).astype(np.uint64),
        "reg_owner": reg_owner.astype(np.int32),
        "reg_src": reg_src.astype(np.int32),
        "reg_src_off": reg_src_off.astype(np.uint64),
        "hp_region": hp[0].astype(np.int32), "hp_off": hp[1].astype(np.uint64),
        "hp_nr": hp[2].astype(np.uint64),
    }


def _merge(region: np.ndarray, off: np.ndarray, nr: np.ndarray) -> tuple[np.ndarray, ...]:
    """Overlapping or adjacent ranges of one region merged: (region, off, nr) arrays."""
    if region.size == 0:
        return (np.zeros(0, np.int64),) * 3
    o = np.lexsort((off, region))
    region, lo, hi = region[o], off[o], off[o] + nr[o]
    out_r, out_lo, out_hi = [int(region[0])], [int(lo[0])], [int(hi[0])]
    for r, a, b in zip(region[1:].tolist(), lo[1:].tolist(), hi[1:].tolist()):
        if r == out_r[-1] and a <= out_hi[-1]:
            out_hi[-1] = max(out_hi[-1], b)
        else:
            out_r.append(r)
            out_lo.append(a)
            out_hi.append(b)
    return (np.array(out_r, np.int64), np.array(out_lo, np.int64),
            np.array(out_hi, np.int64) - np.array(out_lo, np.int64))
