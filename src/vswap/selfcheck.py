"""``vswap selfcheck``: every compiled structure against its reference twin, in lockstep.

:func:`selfcheck` drives the :class:`~vswap.XArray`, a :class:`~vswap.SwapDevice`
set, every registered design that has a twin (:func:`vswap.designs.registered_designs`,
each built by its ``on_devices`` trait) and the trace replay of every registered
design through the same random calls on the compiled core and on the
pure-Python reference (:mod:`vswap.reference`) for a few seconds, and compares
every result (or exception type), the whole observable state and both models'
``check()``. Nothing is done inside ``assert`` statements, so it checks the same
under ``python -O``. The last line says ``self-check passed`` or
``self-check FAILED``; each difference is printed before it.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable

import numpy as np

import vswap
from vswap import reference
from vswap.designs import registered_designs
from vswap.errors import SwapError

__all__ = ["selfcheck"]

#: Exceptions a call may raise on both models alike (bad input, a full device).
_EXPECTED = (SwapError, ValueError, TypeError, KeyError, RuntimeError)


def _plain(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return ("array", str(x.dtype), x.tolist())
    if isinstance(x, tuple):
        return tuple(_plain(v) for v in x)
    return x


class _Lockstep:
    """One compiled object and its twin, the differences found, the calls compared."""

    def __init__(self, label: str, fast: Any, ref: Any, out: Any):
        self.label, self.fast, self.ref, self.out = label, fast, ref, out
        self.calls = 0
        self.differences: list[str] = []

    def _differ(self, what: str) -> None:
        if len(self.differences) < 5:
            print(f"  DIFFERENCE {self.label}: {what}", file=self.out)
        self.differences.append(what)

    def call(self, what: str, fn: Callable[[Any], Any]) -> Any:
        """``fn`` on both; the compiled result (None if both raised the same)."""
        self.calls += 1
        results = []
        for obj in (self.fast, self.ref):
            try:
                results.append(("ok", _plain(fn(obj))))
            except _EXPECTED as exc:
                results.append(("raised", type(exc).__name__))
        if results[0] != results[1]:
            self._differ(f"{what}: compiled {results[0]!r}, reference {results[1]!r}")
            return None
        return results[0][1] if results[0][0] == "ok" else None

    def compare(self, state: Callable[[Any], Any]) -> None:
        """The observable state ``state(obj)`` must agree, and ``check()`` pass on both."""
        for obj, name in ((self.fast, "compiled"), (self.ref, "reference")):
            try:
                obj.check()
            except AssertionError as exc:
                self._differ(f"{name} check(): {str(exc)[:200]}")
        a, b = state(self.fast), state(self.ref)
        if a != b:
            keys = [k for k in a if a.get(k) != b.get(k)] if isinstance(a, dict) else []
            self._differ(f"state differs{' in ' + ', '.join(map(str, keys)) if keys else ''}")


def _xarray(rng: np.random.Generator, deadline: float, out: Any) -> _Lockstep:
    ls = _Lockstep("XArray", vswap.XArray(), reference.XArray(), out)
    universe = (rng.integers(0, 4096, 64).tolist() + rng.integers(0, 1 << 40, 64).tolist()
                + [0, 63, 64, (1 << 64) - 1])
    while time.perf_counter() < deadline:
        op = int(rng.integers(0, 6))
        index = universe[int(rng.integers(0, len(universe)))]
        if op <= 1:
            value = int(rng.integers(0, 1 << 40)) if op == 0 else f"v{index}"
            ls.call(f"store({index}, {value!r})", lambda x: x.store(index, value))
        elif op == 2:
            ls.call(f"erase({index})", lambda x: x.erase(index))
        elif op == 3:
            mark = int(rng.integers(0, 3))
            ls.call(f"set_mark({index}, {mark})", lambda x: x.set_mark(index, mark))
            ls.call(f"find(mark={mark})", lambda x: x.find(mark=mark))
        elif op == 4:
            ls.call(f"find({index})", lambda x: x.find(index))
        else:
            ls.call(f"load({index})", lambda x: x.load(index))
    ls.compare(lambda x: {"items": list(x.items()), "stats": x.stats})
    return ls


def _devices(impl: Any, rng: np.random.Generator) -> Any:
    n, cs = int(rng.integers(40, 300)), int(rng.choice([4, 8, 16]))
    return impl.SwapDevices([impl.SwapDevice(n, cluster_size=cs, priority=p,
                                             discard=bool(rng.integers(0, 2)))
                             for p in (None, None, 1)[:int(rng.integers(1, 4))]])


def _swap_devices(rng: np.random.Generator, deadline: float, out: Any) -> _Lockstep:
    seed = int(rng.integers(0, 1 << 30))
    ls = _Lockstep("SwapDevice", _devices(vswap, np.random.default_rng(seed)),
                   _devices(reference, np.random.default_rng(seed)), out)
    held: list[tuple[int, int, int]] = []
    while time.perf_counter() < deadline:
        op = int(rng.integers(0, 8))
        if op <= 2 or not held:
            order, cpu = int(rng.integers(0, 3)), int(rng.integers(0, 4))
            got = ls.call(f"alloc({order}, {cpu})", lambda s: s.alloc(order, cpu))
            if got is not None:
                held.append((got[0], got[1], order))
        elif op <= 4:
            t, off, order = held.pop(int(rng.integers(0, len(held))))
            ls.call(f"[{t}].free({off}, {order})", lambda s: s[t].free(off, order))
        elif op == 5:
            t, off, _ = held[int(rng.integers(0, len(held)))]
            ls.call(f"[{t}].set_table({off})",
                    lambda s: s[t].set_table(off, vswap.SWAP_TABLE_CACHE_ONLY | off))
        elif op == 6:
            t = held[int(rng.integers(0, len(held)))][0]
            ls.call(f"[{t}].reclaim_full_clusters()", lambda s: s[t].reclaim_full_clusters())
            held = [h for h in held if ls.fast[h[0]].slot_state(h[1]) != "free"]
        else:
            bad = [-1, 1 << 64, "x", None][int(rng.integers(0, 4))]
            ls.call(f"alloc({bad!r})", lambda s: s.alloc(bad))
    ls.compare(lambda s: (s._state(), [d._state() for d in s]))
    return ls


def _design(name: str, make: Callable[[Any, Any], Any], rng: np.random.Generator,
            deadline: float, out: Any) -> _Lockstep:
    seed = int(rng.integers(0, 1 << 30))
    ls = _Lockstep(name, make(vswap, _devices(vswap, np.random.default_rng(seed))),
                   make(reference, _devices(reference, np.random.default_rng(seed))), out)
    live: list[int] = []
    folio = 0
    steps = 0
    while time.perf_counter() < deadline:
        steps += 1
        op = int(rng.integers(0, 14))
        e = live[int(rng.integers(0, len(live)))] if live else int(rng.integers(0, 64))
        if op <= 2 or not live:
            folio += 1
            order, memcg, cpu = int(rng.integers(0, 3)), int(rng.integers(0, 4)), int(rng.integers(0, 3))
            got = ls.call(f"folio_alloc_swap({folio}, {order})",
                          lambda d: d.folio_alloc_swap(folio, order, memcg, cpu))
            if got is not None:
                live.extend(range(got, got + (1 << order)))
        elif op == 3:
            ls.call(f"swap_duplicate({e})", lambda d: d.swap_duplicate(e))
        elif op == 4:
            ls.call(f"swap_free_nr({e})", lambda d: d.swap_free_nr(e))
        elif op == 5:
            ls.call(f"free_swap_and_cache_nr({e})", lambda d: d.free_swap_and_cache_nr(e))
        elif op == 6:
            # a shadow and a handle every design takes (a ghost entry's value is past them)
            ls.call(f"swap_cache_del_folio({e})",
                    lambda d: d.swap_cache_del_folio(e, 0, e & 0xFFFFFF))
            ls.call(f"put_swap_folio({e})", lambda d: d.put_swap_folio(e))
        elif op == 7:
            ls.call(f"zswap_store({e})", lambda d: d.zswap_store(e, (e & 0xFFFFFF) + 7))
        elif op == 8:
            ls.call(f"zero_store({e})", lambda d: d.zero_store(e))
        elif op == 9:
            ls.call(f"writeback({e})", lambda d: d.writeback(e))
        elif op == 10:
            batch = np.array(sorted(set(live[:8])), dtype=np.uint64)
            ls.call("lookup_many", lambda d: d.lookup_many(batch))
            ls.call("swap_duplicate_many", lambda d: d.swap_duplicate_many(batch))
        elif op == 11:
            ls.call(f"swapcache_prepare({e})", lambda d: d.swapcache_prepare(e))
            ls.call(f"swap_cache_add_folio({e})", lambda d: d.swap_cache_add_folio(e, folio))
        elif op == 12:
            t = int(rng.integers(0, 2))
            ls.call(f"reclaim_cache_only({t})", lambda d: d.reclaim_cache_only(t))
        else:
            ls.call(f"lookup({e})", lambda d: d.lookup(e))
            ls.call(f"swap_count({e})", lambda d: d.swap_count(e))
        if live and op in (4, 5, 6, 12):        # both models: the lookups count
            live = [x for x in live if ls.call(f"swap_count({x})", lambda d: _allocated(d, x))]
        if steps % 256 == 0:
            ls.compare(lambda d: d.snapshot())
    ls.compare(lambda d: d.snapshot())
    return ls


def _allocated(design: Any, e: int) -> bool:
    try:
        design.swap_count(e)
    except _EXPECTED:
        return False
    return True


def _replays(rng: np.random.Generator, deadline: float, out: Any) -> tuple[int, list[str]]:
    from vswap.designs import registered_designs
    from vswap.replay import Machine, replay
    from vswap.workloads import memhog, mixed, usemem

    machine = Machine(ram="300K", reclaim_batch=4, watermark="8K")
    traces = [lambda s: usemem("1M", mthp={2: 0.5}, zero_share=0.2, seed=s),
              lambda s: memhog("512K", passes=2), lambda s: mixed("1M", seed=s)]
    designs = [n for n, d in registered_designs().items() if d.reference is not None]
    done, differences = 0, []
    while time.perf_counter() < deadline or done == 0:
        trace = traces[done % len(traces)](int(rng.integers(0, 1 << 16)))
        design = designs[done % len(designs)]
        a = replay(trace, design, machine, engine="compiled", keep_state=True)
        b = replay(trace, design, machine, engine="reference", keep_state=True)
        for field in ("counters", "stats", "swap_stats", "footprint"):
            if getattr(a, field) != getattr(b, field):
                differences.append(f"{trace.name} on {design}: {field} differ")
        for field in ("pstate", "pte"):
            if not np.array_equal(getattr(a, field), getattr(b, field)):
                differences.append(f"{trace.name} on {design}: {field} differ")
        done += 1
    for d in differences[:5]:
        print(f"  DIFFERENCE replay: {d}", file=out)
    return done, differences


def selfcheck(seed: int = 0, seconds: float = 4.0, out: Any = None) -> bool:
    """Lockstep of every compiled structure against its reference; True if all agree.

    About ``seconds`` in all, shared between the structures (each runs at
    least one round). Prints a line per structure, each difference, and
    ``self-check passed`` or ``self-check FAILED`` to ``out`` (default:
    sys.stdout at the time of the call). Runtime complexity: O(seconds).

    >>> import io
    >>> buf = io.StringIO(); selfcheck(seconds=0.5, out=buf)
    True
    >>> [line.split(":")[0] for line in buf.getvalue().splitlines()][:6]
    ['XArray', 'SwapDevice', 'baseline', 'vss_v5', 'new_opt_v2', 'cc_v2']
    """
    if out is None:
        out = sys.stdout
    rng = np.random.default_rng(seed)
    ok = True
    runs: list[tuple[str, Callable[[float], _Lockstep]]] = [
        ("XArray", lambda dl: _xarray(rng, dl, out)),
        ("SwapDevice", lambda dl: _swap_devices(rng, dl, out)),
    ]
    # Every registered design with a twin, on its own small devices; switches on
    # ("virtual+..."): the builds differ only by the switches drawn in the machines.
    for name, d in registered_designs().items():
        if d.on_devices is not None:
            runs.append((name, lambda dl, n=name, build=d.on_devices: _design(
                n, build, rng, dl, out)))
    share = seconds / (len(runs) + 1)       # and the replays
    for label, run in runs:
        ls = run(time.perf_counter() + share)
        ok = ok and not ls.differences
        print(f"{label}: {ls.calls:,} calls compared, state and check() after them: "
              f"{'agree' if not ls.differences else f'{len(ls.differences)} DIFFERENCES'}",
              file=out)
    done, differences = _replays(rng, time.perf_counter() + share, out)
    ok = ok and not differences
    print(f"replay: {done} traces, compiled and reference engines: "
          f"{'agree' if not differences else f'{len(differences)} DIFFERENCES'}", file=out)
    print("self-check " + ("passed" if ok else "FAILED"), file=out)
    return ok
