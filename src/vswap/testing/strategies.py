"""Hypothesis strategies for swap operation sequences on the protocol.

Every strategy here is a building block for a user's own tests. The step
strategies look at a :class:`~vswap.testing.SwapModel` (the live entries a
design has handed out) and draw one protocol call that is valid in that
state: a duplicate of live entries, a free of entries with a count, a
swap-cache add of prepared entries, and so on. With ``invalid_share`` above
0 they also draw invalid calls (a double free, a misaligned order, a freed
entry), and the exception a correct design raises is part of the step.

>>> from hypothesis import given
>>> from vswap.testing import strategies as vst
>>> @given(vst.orders(max_order=4, mthp_share=0.5))
... def test(order):
...     assert 0 <= order <= 4
>>> test()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from vswap.errors import EntryExists, NoEntry
from vswap.testing.model import SwapModel

__all__ = [
    "Step", "StepConfig", "orders", "cpus", "memcgs", "folio_ids", "zswap_handles", "shadows",
    "swap_steps", "allocator_steps",
]


@dataclass(frozen=True)
class Step:
    """One protocol call: ``getattr(space, verb)(*args)``, and the error it must raise.

    ``error`` is None for a valid call. ``repr`` is the call as Python code,
    so a shrunk failing sequence can be pasted into a test.

    >>> Step("swap_duplicate", (64, 2))
    space.swap_duplicate(64, 2)
    """

    verb: str
    args: tuple = ()
    error: type[Exception] | None = None

    def __repr__(self) -> str:
        call = f"space.{self.verb}({', '.join(repr(a) for a in self.args)})"
        if self.error is not None:
            return f"with pytest.raises({self.error.__name__}): {call}"
        return call


@dataclass(frozen=True)
class StepConfig:
    """Knobs of :func:`swap_steps`: folio orders, CPUs, memcgs, devices, invalid calls.

    >>> StepConfig(max_order=4).max_order
    4
    """

    max_order: int = 2           # largest folio order (mTHP up to it)
    mthp_share: float = 0.25     # share of allocations with order > 0
    nr_cpus: int = 2
    nr_memcgs: int = 3
    devices: tuple[int, ...] = (0,)  # device types for reclaim_cache_only / swapoff
    swapoff: bool = False        # draw swapoff calls too
    invalid_share: float = 0.0   # share of steps that are invalid calls
    weights: dict[str, int] = field(default_factory=dict)  # per-verb weights


def orders(max_order: int = 2, mthp_share: float = 0.25) -> st.SearchStrategy[int]:
    """Folio orders: 0 with probability 1 - mthp_share, else 1 .. max_order.

    >>> from hypothesis import find
    >>> from vswap.testing import strategies as vst
    >>> find(vst.orders(4, mthp_share=0.5), lambda o: o > 0)
    1
    """
    if max_order <= 0 or mthp_share <= 0:
        return st.just(0)
    large = st.integers(1, max_order)
    # Weighted choice with integer weights keeps shrinking towards order 0.
    w = max(1, round(100 * mthp_share))
    return st.integers(0, 99).flatmap(lambda r: large if r < w else st.just(0))


def cpus(nr_cpus: int = 2) -> st.SearchStrategy[int]:
    """CPU numbers 0 .. nr_cpus - 1 (per-CPU caches).

    >>> from hypothesis import find
    >>> from vswap.testing import strategies as vst
    >>> find(vst.cpus(4), lambda c: c > 2)
    3
    """
    return st.integers(0, max(0, nr_cpus - 1))


def memcgs(nr_memcgs: int = 3) -> st.SearchStrategy[int]:
    """memcg ids 0 .. nr_memcgs - 1.

    >>> from hypothesis import find
    >>> from vswap.testing import strategies as vst
    >>> find(vst.memcgs(1), lambda m: True)
    0
    """
    return st.integers(0, max(0, nr_memcgs - 1))


def folio_ids() -> st.SearchStrategy[int]:
    """Folio ids (any int the design stores in its swap cache).

    >>> from hypothesis import find
    >>> from vswap.testing import strategies as vst
    >>> find(vst.folio_ids(), lambda f: True)
    1
    """
    return st.integers(1, 1 << 20)


def zswap_handles() -> st.SearchStrategy[int]:
    """zswap handles: ints in 0 .. 2**40 (small enough for every design's encoding).

    >>> from hypothesis import find
    >>> from vswap.testing import strategies as vst
    >>> find(vst.zswap_handles(), lambda h: h > 10)
    11
    """
    return st.integers(0, 1 << 40)


def shadows() -> st.SearchStrategy[int | None]:
    """Workingset shadows left by swap_cache_del_folio, or None.

    >>> from hypothesis import find
    >>> from vswap.testing import strategies as vst
    >>> find(vst.shadows(), lambda s: s is not None)
    0
    """
    return st.one_of(st.none(), st.integers(0, 1 << 30))


# -- steps drawn against the model's state -----------------------------------------------


def _runs(model: SwapModel, pred) -> list[tuple[int, int]]:
    """Maximal runs of consecutive live entries of one folio allocation satisfying pred."""
    out = []
    for e in sorted(model.entries):
        st_ = model.entries[e]
        if not pred(st_):
            continue
        if out and out[-1][0] + out[-1][1] == e and model.entries[out[-1][0]].base == st_.base:
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((e, 1))
    return out


def _sub_run(runs: list[tuple[int, int]]) -> st.SearchStrategy[tuple[int, int]]:
    return st.sampled_from(runs).flatmap(
        lambda r: st.integers(0, r[1] - 1).flatmap(
            lambda i: st.integers(1, r[1] - i).map(lambda n: (r[0] + i, n))))


def _folio_runs(model: SwapModel, pred) -> list[tuple[int, int]]:
    """(base, order) of aligned whole-folio runs whose entries all satisfy pred."""
    out = []
    for e, s in model.entries.items():
        if e != s.base:
            continue
        run = [model.entries.get(e + i) for i in range(1 << s.order)]
        if all(x is not None and pred(x) for x in run):
            out.append((e, s.order))
    return sorted(out)


def swap_steps(model: SwapModel, cfg: StepConfig = StepConfig(), next_folio: int = 1,
               freed: tuple[int, ...] = ()) -> st.SearchStrategy[Step]:
    """One protocol call valid in ``model``'s state (or, with cfg.invalid_share, an invalid one).

    Swap-outs to each backing (zero, zswap, writeback to a swapfile),
    duplicates, frees, batched range frees (the zap path), swap-cache add,
    delete and put, queries, cache-only reclaim and (cfg.swapoff) swapoff.
    Invalid calls use ``freed`` (entries the design handed out and freed
    since, so they are well-formed for it) for double frees and stale
    queries. Runtime complexity: O(live entries) to build.

    >>> from hypothesis import find
    >>> from vswap.testing import SwapModel, strategies as vst
    >>> find(vst.swap_steps(SwapModel()), lambda s: s.verb == "folio_alloc_swap")
    space.folio_alloc_swap(1, 0, 0, 0)
    """
    live = sorted(model.entries)
    choices: dict[str, st.SearchStrategy[Step]] = {}
    choices["folio_alloc_swap"] = st.builds(
        lambda o, m, c: Step("folio_alloc_swap", (next_folio, o, m, c)),
        orders(cfg.max_order, cfg.mthp_share), memcgs(cfg.nr_memcgs), cpus(cfg.nr_cpus))
    choices["reclaim_cache_only"] = st.sampled_from(cfg.devices).map(
        lambda d: Step("reclaim_cache_only", (d,)))
    if live:
        any_live = _runs(model, lambda s: True)
        counted = _runs(model, lambda s: s.count > 0)
        uncached = _runs(model, lambda s: not s.cached)
        one = st.sampled_from(live)
        choices["swap_duplicate"] = _sub_run(any_live).map(lambda r: Step("swap_duplicate", r))
        for verb in ("swap_count", "memcg_id", "lookup", "swap_cache_get_folio",
                     "swap_cache_get_shadow", "zswap_load"):
            choices[verb] = one.map(lambda e, v=verb: Step(v, (e,)))
        choices["zero_store"] = _sub_run(any_live).map(lambda r: Step("zero_store", r))
        choices["zswap_store"] = st.tuples(one, zswap_handles()).map(
            lambda a: Step("zswap_store", a))
        choices["zswap_invalidate"] = one.map(lambda e: Step("zswap_invalidate", (e,)))
        if counted:
            choices["swap_free_nr"] = _sub_run(counted).map(lambda r: Step("swap_free_nr", r))
            choices["free_swap_and_cache_nr"] = _sub_run(counted).map(
                lambda r: Step("free_swap_and_cache_nr", r))
        if uncached:
            choices["swapcache_prepare"] = _sub_run(uncached).map(
                lambda r: Step("swapcache_prepare", r))
        stored = _folio_runs(model, lambda s: s.folio is not None)
        if stored:
            choices["swap_cache_del_folio"] = st.tuples(st.sampled_from(stored), shadows()).map(
                lambda a: Step("swap_cache_del_folio", (a[0][0], a[0][1], a[1])))
            choices["writeback"] = st.sampled_from(stored).map(lambda f: Step("writeback", f))
        empty = _folio_runs(model, lambda s: s.cached and s.folio is None)
        if empty:
            choices["swap_cache_add_folio"] = st.sampled_from(empty).map(
                lambda f: Step("swap_cache_add_folio", (f[0], next_folio, f[1])))
            choices["put_swap_folio"] = st.sampled_from(empty).map(
                lambda f: Step("put_swap_folio", f))
        if cfg.swapoff:
            choices["swapoff"] = st.sampled_from(cfg.devices).map(lambda d: Step("swapoff", (d,)))
    weighted = []
    for verb, strat in sorted(choices.items()):
        weighted += [strat] * cfg.weights.get(verb, 3 if verb == "folio_alloc_swap" else 1)
    valid = st.one_of(weighted)
    if cfg.invalid_share <= 0:
        return valid
    invalid = _invalid_steps(model, cfg, tuple(e for e in freed if e not in model.entries))
    if invalid is None:
        return valid
    w = max(1, round(100 * cfg.invalid_share))
    return st.integers(0, 99).flatmap(lambda r: invalid if r < w else valid)


def _invalid_steps(model: SwapModel, cfg: StepConfig,
                   freed: tuple[int, ...]) -> st.SearchStrategy[Step] | None:
    """Invalid calls, each with the error a correct design raises (None if none fits)."""
    out = []
    if freed:
        dead = st.sampled_from(sorted(freed))
        out += [
            dead.map(lambda e: Step("swap_free_nr", (e, 1), NoEntry)),          # double free
            dead.map(lambda e: Step("free_swap_and_cache_nr", (e, 1), NoEntry)),
            dead.map(lambda e: Step("swap_duplicate", (e, 1), NoEntry)),
            dead.map(lambda e: Step("swap_count", (e,), NoEntry)),             # stale lookup
            dead.map(lambda e: Step("swapcache_prepare", (e, 1), NoEntry)),
        ]
    cached = [e for e, s in model.entries.items() if s.cached]
    if cached:
        out.append(st.sampled_from(cached).map(
            lambda e: Step("swapcache_prepare", (e, 1), EntryExists)))
    odd = [e for e in model.entries if e % 2]
    if odd and cfg.max_order >= 1:                                              # misaligned
        out.append(st.sampled_from(odd).map(lambda e: Step("put_swap_folio", (e, 1), ValueError)))
    uncounted = [e for e, s in model.entries.items() if s.count == 0]
    if uncounted:                                                               # underflow
        out.append(st.sampled_from(uncounted).map(lambda e: Step("swap_free_nr", (e, 1), NoEntry)))
    return st.one_of(out) if out else None


def allocator_steps(nr_slots: int, max_order: int = 2, nr_cpus: int = 2,
                    allocated: tuple[tuple[int, int], ...] = ()) -> st.SearchStrategy[Step]:
    """One call on a lone allocator (SwapDevice): alloc of a mixed order on a CPU, or a free.

    ``allocated`` lists the live ``(offset, order)`` runs; frees pick one of
    them. Fill and drain come from long runs of these steps.

    >>> from hypothesis import find
    >>> from vswap.testing import strategies as vst
    >>> find(vst.allocator_steps(64, allocated=((8, 0),)), lambda s: s.verb == "free")
    space.free(8, 0)
    """
    alloc = st.builds(lambda o, c: Step("alloc", (o, c)), orders(max_order, 0.3), cpus(nr_cpus))
    if not allocated:
        return alloc
    free = st.sampled_from(sorted(allocated)).map(lambda r: Step("free", r))
    return st.one_of(alloc, free)
