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

from vswap.errors import EntryExists, NoEntry, SwapError
from vswap.protocol import SWAP_CONT_MAX, SWAP_MAP_MAX, PageTable, swp_entry, swp_type
from vswap.reference.swaptable import SWP_TB_COUNT_MAX
from vswap.testing.model import SwapModel

__all__ = [
    "Step", "StepConfig", "orders", "cpus", "memcgs", "folio_ids", "zswap_handles", "shadows",
    "swap_steps", "malformed_steps", "allocator_steps", "fork_traces", "sharers", "SHARERS",
    "SHARERS_DEEP",
]


def _arg_repr(a: object) -> str:
    if hasattr(a, "dtype") and hasattr(a, "tolist"):  # a numpy array: pasteable
        return f"np.array({a.tolist()!r}, dtype=np.{a.dtype})"
    if isinstance(a, PageTable):
        return f"PageTable({dict(a)!r})"
    return repr(a)


def _arg_key(a: object) -> object:
    if hasattr(a, "dtype") and hasattr(a, "tolist"):
        return ("array", str(a.dtype), tuple(a.tolist()))
    if isinstance(a, PageTable):
        return ("pagetable", tuple(sorted(a.items())))
    return a


class Step:
    """One protocol call: ``getattr(space, verb)(*args)``, and the error it must raise.

    ``error`` is None for a valid call, an exception class for an invalid
    call the model judges (a double free: the model says NoEntry too), or a
    tuple of classes for a *malformed* call (a wrong type, an order out of
    range): the model is not consulted, the design must raise one of them
    and change nothing. ``repr`` is the call as Python code (numpy arrays
    and page tables included), so a shrunk failing sequence can be pasted
    into a test. Runtime complexity: O(len(args)) to compare or print.

    >>> Step("swap_duplicate", (64, 2))
    space.swap_duplicate(64, 2)
    >>> Step("swap_duplicate", ("x",), (TypeError, ValueError))
    with pytest.raises((TypeError, ValueError)): space.swap_duplicate('x')
    """

    __slots__ = ("verb", "args", "error")

    def __init__(self, verb: str, args: tuple = (), error: type[Exception] | None = None) -> None:
        self.verb, self.args, self.error = verb, tuple(args), error

    def _key(self) -> tuple:
        return (self.verb, tuple(_arg_key(a) for a in self.args), self.error)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Step) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def malformed(self) -> bool:
        """True for a call the protocol rejects by its arguments alone (``error`` is a tuple)."""
        return isinstance(self.error, tuple)

    def __repr__(self) -> str:
        call = f"space.{self.verb}({', '.join(_arg_repr(a) for a in self.args)})"
        if self.malformed:
            names = ", ".join(e.__name__ for e in self.error)
            return f"with pytest.raises(({names})): {call}"
        if self.error is not None:
            return f"with pytest.raises({self.error.__name__}): {call}"
        return call


@dataclass(frozen=True)
class StepConfig:
    """Knobs of :func:`swap_steps`: folio orders, CPUs, memcgs, devices, invalid calls.

    Every field, with its default:

    - ``max_order`` (2): the largest folio order drawn (mTHP folios of
      ``2**1 .. 2**max_order`` pages).
    - ``mthp_share`` (0.25): the share of allocations with an order above 0.
    - ``nr_cpus`` (2): CPUs the calls are spread over (``cpu`` arguments
      ``0 .. nr_cpus - 1``).
    - ``nr_memcgs`` (3): memcg ids drawn for allocations (``0 .. nr_memcgs - 1``).
    - ``devices`` ((0,)): device types that ``reclaim_cache_only`` and
      ``swapoff`` are called on.
    - ``swapoff`` (True): draw swapoff calls, checked by the machine: after
      a swapoff no live entry may still read from the device
      (``lookup`` kind ``"swapfile"`` with a handle on it), so a swapoff
      that does nothing is caught.
    - ``invalid_share`` (0.0): the share of steps that are invalid calls
      (double frees, misaligned orders, stale entries), each with the error
      it must raise.
    - ``weights`` ({}): per-verb weights, ``{verb: n}`` (1 for a verb not
      named; 0 never draws it).
    - ``batch`` (False): also draw the numpy batch verbs of the designs
      (``folio_alloc_swap_many``, ``swap_duplicate_many``, ``swap_free_many``,
      ``free_swap_and_cache_many``, ``zswap_store_many``, ``lookup_many``).
    - ``page_tables`` (False): swapoff carries a page table (a
      :class:`~vswap.protocol.PageTable` or a uint64 array) holding every
      reference of the device's entries, sometimes one too few or too many
      (the error is then part of the step), for designs whose entries are
      device slots; without it swapoff gets ``None``.
    - ``scenarios`` (False): the multi-call rules of
      :class:`~vswap.testing.SwapSpaceMachine` (swap-out, swap-in cycle,
      device fill, count continuations, and processes: fork past the
      inline count, COW fault on a shared swapped page, one mapping of a
      shared page zapped, MADV_PAGEOUT with large folios, MADV_DONTNEED).
    - ``malformed_share`` (0.0): the share of steps that are malformed calls
      every design rejects by their arguments alone (:func:`malformed_steps`).

    Runtime complexity: O(1).

    >>> StepConfig(max_order=4).max_order
    4
    >>> StepConfig(batch=True).batch, StepConfig().swapoff
    (True, True)
    """

    max_order: int = 2           # largest folio order (mTHP up to it)
    mthp_share: float = 0.25     # share of allocations with order > 0
    nr_cpus: int = 2
    nr_memcgs: int = 3
    devices: tuple[int, ...] = (0,)  # device types for reclaim_cache_only / swapoff
    swapoff: bool = True         # draw swapoff calls too (checked: see the docstring)
    invalid_share: float = 0.0   # share of steps that are invalid calls
    weights: dict[str, int] = field(default_factory=dict)  # per-verb weights
    batch: bool = False          # draw the numpy batch forms (*_many) too
    page_tables: bool = False    # swapoff gets page tables holding every reference
    scenarios: bool = False      # the machine's multi-call rules (swap-out, fill, ...)
    malformed_share: float = 0.0  # share of steps that are malformed calls (malformed_steps)


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


#: Processes sharing a page, around the inline counts of vswap's designs: swap table
#: phase IV and STE keep 4 bits (15 means "see the extend table"), the 6.19 swap_map a
#: byte up to SWAP_MAP_MAX (62, then continuation pages, 128 per digit: the second
#: continuation page from 63 * 128 on).
SHARERS = (1, 2, 3, SWP_TB_COUNT_MAX - 1, SWP_TB_COUNT_MAX, SWP_TB_COUNT_MAX + 1,
           SWAP_MAP_MAX, SWAP_MAP_MAX + 1, SWAP_MAP_MAX + 2, 200)
SHARERS_DEEP = (SWAP_MAP_MAX + 1) * (SWAP_CONT_MAX + 1) + 1


@functools.lru_cache(maxsize=None)
def sharers(deep: bool = False) -> st.SearchStrategy[int]:
    """How many processes share a page: a few, or about as many as a count's inline bits hold.

    :data:`SHARERS`: both sides of swap table phase IV's and STE's 4-bit
    count (15) and of the 6.19 swap_map byte's SWAP_MAP_MAX (62); ``deep``
    adds :data:`SHARERS_DEEP` (8,065: a second continuation page), for
    machines that fork through the batch verbs. Runtime complexity: O(1).

    >>> from hypothesis import find
    >>> from vswap.testing import strategies as vst
    >>> find(vst.sharers(), lambda n: n > 62)
    63
    """
    return st.sampled_from(SHARERS + ((SHARERS_DEEP,) if deep else ()))


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


# Verbs in the order shrinking prefers (towards the first): allocation and
# the basic count changes first, then the cache, backends and queries.
VERBS = (
    "folio_alloc_swap", "swap_duplicate", "swap_free_nr", "free_swap_and_cache_nr",
    "swap_cache_del_folio", "put_swap_folio", "swapcache_prepare", "swap_cache_add_folio",
    "zero_store", "zswap_store", "zswap_invalidate", "writeback", "reclaim_cache_only",
    "swap_count", "memcg_id", "lookup", "swap_cache_get_folio", "swap_cache_get_shadow",
    "zswap_load", "swapoff",
    "folio_alloc_swap_many", "swap_duplicate_many", "swap_free_many",
    "free_swap_and_cache_many", "zswap_store_many", "lookup_many",
)
BATCH_VERBS = VERBS[-6:]
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
    if cfg.malformed_share > 0 and model.entries:  # on a live entry: only the argument is wrong
        w = max(1, round(100 * cfg.malformed_share))
        if draw(_ints(0, 99), label="malformed?") >= 100 - w:
            entry = _pick(draw, sorted(model.entries), "entry")
            return draw(malformed_steps(entry, cfg.batch), label="malformed call")
    if cfg.invalid_share > 0:
        w = max(1, round(100 * cfg.invalid_share))
        if draw(_ints(0, 99), label="invalid?") >= 100 - w:
            bad = _invalid_step(draw, model, cfg, [e for e in freed if e not in model.entries])
            if bad is not None:
                return bad
    live = sorted(model.entries)
    any_live = model.runs(lambda s: True)
    counted = model.runs(lambda s: s.count > 0)
    uncached = model.runs(lambda s: not s.cached)
    stored = model.folio_runs(lambda s: s.folio is not None)
    empty = model.folio_runs(lambda s: s.cached and s.folio is None)
    possible = {
        "folio_alloc_swap": True, "reclaim_cache_only": True,
        "swap_duplicate": bool(live), "zero_store": bool(live), "zswap_store": bool(live),
        "zswap_invalidate": bool(live), "swap_free_nr": bool(counted),
        "free_swap_and_cache_nr": bool(counted), "swapcache_prepare": bool(uncached),
        "swap_cache_del_folio": bool(stored), "writeback": bool(stored),
        "swap_cache_add_folio": bool(empty), "put_swap_folio": bool(empty),
        "swapoff": cfg.swapoff and bool(live) and bool(cfg.devices),
    }
    possible["reclaim_cache_only"] = bool(cfg.devices)
    for q in _QUERY_VERBS:
        possible[q] = bool(live)
    if cfg.batch:
        possible.update({"folio_alloc_swap_many": True, "swap_duplicate_many": bool(live),
                         "swap_free_many": bool(counted), "free_swap_and_cache_many": bool(counted),
                         "zswap_store_many": bool(live), "lookup_many": bool(live)})
    verbs = []
    for v in VERBS:
        if possible.get(v):
            verbs += [v] * cfg.weights.get(v, 1)
    verb = _pick(draw, verbs, "verb")
    if verb == "folio_alloc_swap":
        return Step(verb, (next_folio, draw(orders(cfg.max_order, cfg.mthp_share), label="order"),
                           draw(memcgs(cfg.nr_memcgs), label="memcg"),
                           draw(cpus(cfg.nr_cpus), label="cpu")))
    if verb == "reclaim_cache_only":
        return Step(verb, (_pick(draw, list(cfg.devices), "device"),))
    if verb == "swapoff":
        return _swapoff_step(draw, model, cfg)
    if verb in BATCH_VERBS:
        return _batch_step(draw, verb, model, cfg, next_folio, live, counted)
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


def _entries_array(draw, pool: list[int], max_len: int = 6):
    import numpy as np

    n = draw(_ints(0, max_len), label="batch length")
    return np.array([_pick(draw, pool, "entry") for _ in range(n)], dtype=np.uint64)


def _batch_step(draw, verb: str, model: SwapModel, cfg: StepConfig, next_folio: int,
                live: list[int], counted: list[tuple[int, int]]) -> Step:
    """A batch call: entries drawn from the live ones (repeats allowed: each counts)."""
    import numpy as np

    if verb == "folio_alloc_swap_many":
        n = draw(_ints(0, 8), label="folios")
        return Step(verb, (np.arange(next_folio, next_folio + n, dtype=np.uint64),
                           draw(orders(min(cfg.max_order, 2), cfg.mthp_share), label="order"),
                           draw(memcgs(cfg.nr_memcgs), label="memcg"),
                           draw(cpus(cfg.nr_cpus), label="cpu")))
    if verb in ("swap_free_many", "free_swap_and_cache_many"):
        pool = [s + i for s, n in counted for i in range(n)]
        if verb == "free_swap_and_cache_many" and draw(_ints(0, 1), label="a run?"):
            start, n = _pick(draw, counted, "run")  # a run of entries: the zap path
            return Step(verb, (np.arange(start, start + draw(_ints(1, n), label="nr"),
                                         dtype=np.uint64),))
        return Step(verb, (_entries_array(draw, pool),))
    arr = _entries_array(draw, live)
    if verb == "zswap_store_many":
        return Step(verb, (arr, np.arange(len(arr), dtype=np.uint64) + 100))
    return Step(verb, (arr,))  # swap_duplicate_many, lookup_many


def _swapoff_step(draw, model: SwapModel, cfg: StepConfig) -> Step:
    """swapoff of a device; with cfg.page_tables, a page table of every reference on it."""
    import numpy as np

    device = _pick(draw, list(cfg.devices), "device")
    if not cfg.page_tables:
        return Step("swapoff", (device, None))
    ptes = []
    for e in sorted(model.entries):
        if swp_type(e) == device:
            ptes += [e] * model.entries[e].count
    error: type[Exception] | None = None
    mode = draw(_ints(0, 3), label="page table: 0-1 whole, 2 one short, 3 one too many")
    if mode == 2 and ptes:
        ptes.pop()
        error = SwapError        # a reference the page tables do not hold
    elif mode == 3 and ptes:
        ptes.append(ptes[-1])
        error = NoEntry          # more PTEs than the count
    ptes.append(swp_entry((device + 1) % 32, 1))  # another device's PTE is left alone
    if draw(_ints(0, 1), label="as array"):
        return Step("swapoff", (device, np.array([0] + ptes, dtype=np.uint64)), error)
    return Step("swapoff", (device, PageTable({100 + i: e for i, e in enumerate(ptes)})), error)


_MALFORMED = (TypeError, ValueError)


def malformed_steps(entry: int = 1, batch: bool = False) -> st.SearchStrategy[Step]:
    """A call every design rejects by its arguments alone (TypeError or ValueError).

    Entries outside 0 .. 2**63 - 1, a zero count, folios, orders, memcgs,
    CPUs, handles and shadows out of range, a misaligned folio, a device
    type out of range, and (``batch``) arrays of the wrong dtype, type or
    shape. ``entry`` is a live entry of the design, so only the malformed
    argument decides. The step's ``error`` is a tuple: the model is not
    consulted, and the design must change nothing.
    Runtime complexity: O(1).

    >>> from hypothesis import find
    >>> from vswap.testing import strategies as vst
    >>> find(vst.malformed_steps(8), lambda s: s.verb == "swap_free_nr")
    with pytest.raises((TypeError, ValueError)): space.swap_free_nr(8, 0)
    """
    calls = [
        ("swap_duplicate", (1 << 63, 1)), ("swap_duplicate", (-1, 1)), ("swap_duplicate", ("x", 1)),
        ("swap_free_nr", (entry, 0)), ("folio_alloc_swap", (1 << 57, 0, 0, 0)),
        ("folio_alloc_swap", (1, 12, 0, 0)), ("folio_alloc_swap", (1, 0, 70000, 0)),
        ("folio_alloc_swap", (1, 0, 0, 9999)), ("put_swap_folio", (entry | 1, 1)),
        ("writeback", (entry | 1, 1)), ("zswap_store", (entry, 1 << 62)),
        ("swap_cache_del_folio", (entry, 0, 1 << 62)), ("free_swap_and_cache_nr", (entry, 1 << 58)),
        ("reclaim_cache_only", (40,)), ("swapoff", (40, None)),
    ]
    if batch:
        import numpy as np

        calls += [
            ("swap_duplicate_many", (np.array([entry], dtype=np.int64),)),
            ("swap_free_many", ([entry],)),
            ("lookup_many", (np.zeros((1, 1), dtype=np.uint64),)),
            ("zswap_store_many", (np.array([entry], dtype=np.uint64), np.array([], dtype=np.uint64))),
        ]
    return st.sampled_from([Step(v, a, _MALFORMED) for v, a in calls])


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


@st.composite
def fork_traces(draw, max_pages: int = 32, max_events: int = 24, max_children: int = 3,
                max_order: int = 2, bursts: bool = True):
    """A valid trace of processes that fork: FORK, COW writes, reads, PAGEOUT, DONTNEED, EXIT.

    The parent TOUCHes a heap of up to ``max_pages`` base pages and, with
    ``max_order`` above 0, a region of up to four large folios of order
    ``max_order`` beside it; then each event is drawn among those valid in
    the pages' states: a FORK of a live process's heap into a fresh region
    (at most ``max_children``; a child forks too), a WRITE of a mapped page
    of any process (a COW fault while shared), a read (TOUCH of mapped
    pages), a PAGEOUT of a range (of the large folios too: whole ones are
    written whole, a part splits the folio) or a DONTNEED-and-TOUCH of a
    range (whole large folios, touched anew at their order), a child's
    EXIT; with ``bursts``, a burst of forks of the first page or two
    of the parent's heap by as many children as :func:`sharers` draws (a
    count past every design's inline bits), who exit later or at the end.
    Everything left exits at the end. For fuzzing the replay of a design
    (the state machines drive its verbs; this drives the memory model's
    shared-page paths through them). Runtime complexity: O(events * pages).

    >>> from hypothesis import given, settings
    >>> from vswap.testing.strategies import fork_traces
    >>> @settings(max_examples=5)
    ... @given(fork_traces())
    ... def test(t):
    ...     t.validate()
    >>> test()
    """
    from vswap.workloads import (
        DONTNEED, EXIT, FORK, PAGEOUT, TOUCH, WRITE, Trace,
    )
    pages = draw(_ints(1, max_pages))
    region = 512 * (1 + (max_pages - 1) // 512) + 512
    big = 1 << max_order if max_order > 0 else 0
    folios = draw(_ints(1, 4)) if big else 0
    mthp = region // 2                       # the parent's large folios, never forked
    if big:
        mthp = -(-max(mthp, pages) // big) * big
        assert mthp + folios * big <= region, "max_pages leaves no room for the large folios"
    rows = [(TOUCH, 0, pages, 0, draw(_ints(0, 2)), 0, 0)]
    if folios:
        rows.append((TOUCH, mthp, folios * big, max_order, draw(_ints(0, 2)), 0, 0))
    live = [0]                       # the regions of processes alive: the parent's first
    children = 0
    burst_base = (max_children + 1) * region
    burst_live: list[tuple[int, int]] = []   # (first child's vpn, children) of each burst
    burst_used = 0
    kinds = ("fork", "write", "read", "pageout", "dontneed", "exit", "burst", "burst_exit")
    for _ in range(draw(_ints(0, max_events))):
        kind = draw(st.sampled_from(kinds))
        base = draw(st.sampled_from(live))
        cpu = min(base // region, 63)
        lo = draw(_ints(0, pages - 1))
        n = draw(_ints(1, pages - lo))
        in_mthp = folios and base == 0 and draw(st.booleans())
        if kind == "fork" and children < max_children:
            children += 1
            child = children * region
            rows.append((FORK, child, pages, 0, 0, min(children, 63), base))
            live.append(child)
        elif kind == "write":
            if in_mthp:
                rows.append((WRITE, mthp + draw(_ints(0, folios * big - 1)), 1, 0,
                             draw(_ints(0, 2)), 0, 0))
            else:
                rows.append((WRITE, base + lo, 1, 0, draw(_ints(0, 2)), cpu, 0))
        elif kind == "read" and children:     # a read of mapped pages needs a FORK
            rows.append((TOUCH, base + lo, n, 0, 0, cpu, 0))
        elif kind == "pageout":
            if in_mthp:
                a = draw(_ints(0, folios * big - 1))
                rows.append((PAGEOUT, mthp + a, draw(_ints(1, folios * big - a)), 0, 0, 0, 0))
            else:
                rows.append((PAGEOUT, base + lo, n, 0, 0, cpu, 0))
        elif kind == "dontneed":
            if in_mthp:
                f = draw(_ints(0, folios - 1))
                k = draw(_ints(1, folios - f))
                rows.append((DONTNEED, mthp + f * big, k * big, 0, 0, 0, 0))
                rows.append((TOUCH, mthp + f * big, k * big, max_order, draw(_ints(0, 2)), 0, 0))
            else:
                rows.append((DONTNEED, base + lo, n, 0, 0, cpu, 0))
                rows.append((TOUCH, base + lo, n, 0, draw(_ints(0, 2)), cpu, 0))
        elif kind == "exit" and base:
            rows.append((EXIT, base, pages, 0, 0, cpu, 0))
            live.remove(base)
        elif kind == "burst" and bursts and burst_used < 300:
            k = min(draw(sharers()), 300 - burst_used)
            nb = min(pages, 2)
            first = burst_base + 2 * burst_used
            rows += [(FORK, first + 2 * j, nb, 0, 0, j % 64, 0) for j in range(k)]
            burst_live.append((first, k))
            burst_used += k
        elif kind == "burst_exit" and burst_live:
            first, k = burst_live.pop(draw(_ints(0, len(burst_live) - 1)))
            rows += [(EXIT, first + 2 * j, min(pages, 2), 0, 0, j % 64, 0) for j in range(k)]
    for first, k in burst_live:
        rows += [(EXIT, first + 2 * j, min(pages, 2), 0, 0, j % 64, 0) for j in range(k)]
    for base in reversed(live):
        rows.append((EXIT, base, region if base == 0 else pages, 0, 0,
                     min(base // region, 63), 0))
    return Trace.from_rows(rows, name="fork_traces")
