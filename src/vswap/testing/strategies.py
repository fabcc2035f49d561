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

import functools
from dataclasses import dataclass, field

from hypothesis import strategies as st

from vswap.errors import EntryExists, NoEntry
from vswap.testing.model import SwapModel

__all__ = [
    "Step", "StepConfig", "orders", "cpus", "memcgs", "folio_ids", "zswap_handles", "shadows",
    "swap_steps", "allocator_steps",
]


class Step:
    """One protocol call: ``getattr(space, verb)(*args)``, and the error it must raise.

    ``error`` is None for a valid call. ``repr`` is the call as Python code,
    so a shrunk failing sequence can be pasted into a test.

    >>> Step("swap_duplicate", (64, 2))
    space.swap_duplicate(64, 2)
    """

    __slots__ = ("verb", "args", "error")

    def __init__(self, verb: str, args: tuple = (), error: type[Exception] | None = None) -> None:
        self.verb, self.args, self.error = verb, tuple(args), error

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Step) and (self.verb, self.args, self.error) == (
            other.verb, other.args, other.error)

    def __hash__(self) -> int:
        return hash((self.verb, self.args, self.error))

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


@functools.lru_cache(maxsize=None)
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
    # Large orders sit at the top of the draw, so shrinking goes to order 0.
    w = max(1, round(100 * mthp_share))
    return st.integers(0, 99).flatmap(lambda r: large if r >= 100 - w else st.just(0))


@functools.lru_cache(maxsize=None)
def cpus(nr_cpus: int = 2) -> st.SearchStrategy[int]:
    """CPU numbers 0 .. nr_cpus - 1 (per-CPU caches).

    >>> from hypothesis import find
    >>> from vswap.testing import strategies as vst
    >>> find(vst.cpus(4), lambda c: c > 2)
    3
    """
    return st.integers(0, max(0, nr_cpus - 1))


@functools.lru_cache(maxsize=None)
def memcgs(nr_memcgs: int = 3) -> st.SearchStrategy[int]:
    """memcg ids 0 .. nr_memcgs - 1.

    >>> from hypothesis import find
    >>> from vswap.testing import strategies as vst
    >>> find(vst.memcgs(1), lambda m: True)
    0
    """
    return st.integers(0, max(0, nr_memcgs - 1))


@functools.lru_cache(maxsize=None)
def folio_ids() -> st.SearchStrategy[int]:
    """Folio ids (any int the design stores in its swap cache).

    >>> from hypothesis import find
    >>> from vswap.testing import strategies as vst
    >>> find(vst.folio_ids(), lambda f: True)
    1
    """
    return st.integers(1, 1 << 20)


@functools.lru_cache(maxsize=None)
def zswap_handles() -> st.SearchStrategy[int]:
    """zswap handles: ints in 0 .. 2**40 (small enough for every design's encoding).

    >>> from hypothesis import find
    >>> from vswap.testing import strategies as vst
    >>> find(vst.zswap_handles(), lambda h: h > 10)
    11
    """
    return st.integers(0, 1 << 40)


@functools.lru_cache(maxsize=None)
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
    out: list[tuple[int, int]] = []
    for e in sorted(model.entries):
        st_ = model.entries[e]
        if not pred(st_):
            continue
        if out and out[-1][0] + out[-1][1] == e and model.entries[out[-1][0]].base == st_.base:
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((e, 1))
    return out


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


# Verbs in the order shrinking prefers (towards the first): allocation and
# the basic count changes first, then the cache, backends and queries.
VERBS = (
    "folio_alloc_swap", "swap_duplicate", "swap_free_nr", "free_swap_and_cache_nr",
    "swap_cache_del_folio", "put_swap_folio", "swapcache_prepare", "swap_cache_add_folio",
    "zero_store", "zswap_store", "zswap_invalidate", "writeback", "reclaim_cache_only",
    "swap_count", "memcg_id", "lookup", "swap_cache_get_folio", "swap_cache_get_shadow",
    "zswap_load", "swapoff",
)
_QUERY_VERBS = ("swap_count", "memcg_id", "lookup", "swap_cache_get_folio",
                "swap_cache_get_shadow", "zswap_load")


@functools.lru_cache(maxsize=4096)
def _ints(lo: int, hi: int) -> st.SearchStrategy[int]:
    # Built once per range: a step is drawn thousands of times while shrinking.
    return st.integers(lo, hi)


def _pick(draw, items: list, label: str):
    # An index drawn as an integer shrinks towards the first candidate.
    return items[draw(_ints(0, len(items) - 1), label=label)]


def _sub_run(draw, runs: list[tuple[int, int]]) -> tuple[int, int]:
    start, n = _pick(draw, runs, "run")
    i = draw(_ints(0, n - 1), label="offset in run")
    return start + i, draw(_ints(1, n - i), label="nr")


@st.composite
def swap_steps(draw, model: SwapModel, cfg: StepConfig = StepConfig(), next_folio: int = 1,
               freed: tuple[int, ...] = ()) -> Step:
    """One protocol call valid in ``model``'s state (or, with cfg.invalid_share, an invalid one).

    Swap-outs to each backing (zero, zswap, writeback to a swapfile),
    duplicates, frees, batched range frees (the zap path), swap-cache add,
    delete and put, queries, cache-only reclaim and (cfg.swapoff) swapoff.
    Invalid calls use ``freed`` (entries the design handed out and freed
    since, so they are well-formed for it) for double frees and stale
    queries. Every choice is drawn as a small integer index, so hypothesis
    shrinks towards allocations and plain frees of the first entries.
    Runtime complexity: O(live entries) per draw.

    >>> from hypothesis import find
    >>> from vswap.testing import SwapModel, strategies as vst
    >>> find(vst.swap_steps(SwapModel()), lambda s: s.verb == "folio_alloc_swap")
    space.folio_alloc_swap(1, 0, 0, 0)
    """
    if cfg.invalid_share > 0:
        w = max(1, round(100 * cfg.invalid_share))
        if draw(_ints(0, 99), label="invalid?") >= 100 - w:
            bad = _invalid_step(draw, model, cfg, [e for e in freed if e not in model.entries])
            if bad is not None:
                return bad
    live = sorted(model.entries)
    any_live = _runs(model, lambda s: True)
    counted = _runs(model, lambda s: s.count > 0)
    uncached = _runs(model, lambda s: not s.cached)
    stored = _folio_runs(model, lambda s: s.folio is not None)
    empty = _folio_runs(model, lambda s: s.cached and s.folio is None)
    possible = {
        "folio_alloc_swap": True, "reclaim_cache_only": True,
        "swap_duplicate": bool(live), "zero_store": bool(live), "zswap_store": bool(live),
        "zswap_invalidate": bool(live), "swap_free_nr": bool(counted),
        "free_swap_and_cache_nr": bool(counted), "swapcache_prepare": bool(uncached),
        "swap_cache_del_folio": bool(stored), "writeback": bool(stored),
        "swap_cache_add_folio": bool(empty), "put_swap_folio": bool(empty),
        "swapoff": cfg.swapoff and bool(live),
    }
    for q in _QUERY_VERBS:
        possible[q] = bool(live)
    verbs = []
    for v in VERBS:
        if possible.get(v):
            verbs += [v] * cfg.weights.get(v, 1)
    verb = _pick(draw, verbs, "verb")
    if verb == "folio_alloc_swap":
        return Step(verb, (next_folio, draw(orders(cfg.max_order, cfg.mthp_share), label="order"),
                           draw(memcgs(cfg.nr_memcgs), label="memcg"),
                           draw(cpus(cfg.nr_cpus), label="cpu")))
    if verb in ("reclaim_cache_only", "swapoff"):
        return Step(verb, (_pick(draw, list(cfg.devices), "device"),))
    if verb in _QUERY_VERBS or verb == "zswap_invalidate":
        return Step(verb, (_pick(draw, live, "entry"),))
    if verb == "zswap_store":
        return Step(verb, (_pick(draw, live, "entry"), draw(zswap_handles(), label="handle")))
    if verb in ("swap_duplicate", "zero_store"):
        return Step(verb, _sub_run(draw, any_live))
    if verb in ("swap_free_nr", "free_swap_and_cache_nr"):
        return Step(verb, _sub_run(draw, counted))
    if verb == "swapcache_prepare":
        return Step(verb, _sub_run(draw, uncached))
    if verb == "swap_cache_del_folio":
        base, order = _pick(draw, stored, "folio")
        return Step(verb, (base, order, draw(shadows(), label="shadow")))
    if verb == "writeback":
        return Step(verb, _pick(draw, stored, "folio"))
    base, order = _pick(draw, empty, "prepared run")
    if verb == "swap_cache_add_folio":
        return Step(verb, (base, next_folio, order))
    return Step(verb, (base, order))  # put_swap_folio


def _invalid_step(draw, model: SwapModel, cfg: StepConfig, freed: list[int]) -> Step | None:
    """An invalid call, with the error a correct design raises (None if none fits)."""
    kinds = []
    if freed:
        kinds += ["double free", "zap of freed", "duplicate of freed", "stale lookup",
                  "prepare of freed"]
    cached = [e for e, s in model.entries.items() if s.cached]
    odd = [e for e in model.entries if e % 2]
    uncounted = [e for e, s in model.entries.items() if s.count == 0]
    if cached:
        kinds.append("prepare of cached")
    if odd and cfg.max_order >= 1:
        kinds.append("misaligned")
    if uncounted:
        kinds.append("underflow")
    if not kinds:
        return None
    kind = _pick(draw, kinds, "invalid call")
    if kind == "prepare of cached":
        return Step("swapcache_prepare", (_pick(draw, sorted(cached), "entry"), 1), EntryExists)
    if kind == "misaligned":
        return Step("put_swap_folio", (_pick(draw, sorted(odd), "entry"), 1), ValueError)
    if kind == "underflow":
        return Step("swap_free_nr", (_pick(draw, sorted(uncounted), "entry"), 1), NoEntry)
    e = _pick(draw, sorted(freed), "freed entry")
    verb = {"double free": "swap_free_nr", "zap of freed": "free_swap_and_cache_nr",
            "duplicate of freed": "swap_duplicate", "stale lookup": "swap_count",
            "prepare of freed": "swapcache_prepare"}[kind]
    return Step(verb, (e,) if verb == "swap_count" else (e, 1), NoEntry)


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
