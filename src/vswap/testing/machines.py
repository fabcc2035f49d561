"""Hypothesis state machines that fuzz a swap design against the protocol model.

Subclass :class:`SwapSpaceMachine`, name a factory for your design, and
hypothesis drives it through random valid sequences of protocol calls,
checking every result against :class:`~vswap.testing.SwapModel` and every
invariant after every step. With ``reference_factory`` the machine also runs
an exact twin (for example vswap's pure-Python reference of the same design)
and requires identical results, counters and snapshots.
:class:`SwapDeviceMachine` does the same for a lone slot allocator.
"""

from __future__ import annotations

import copy
import re
import sys
import time
from collections import Counter
from dataclasses import replace
from typing import Any, Callable

from hypothesis import Phase, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from vswap.errors import NoEntry, NoSpace
from vswap.protocol import LOOKUP_KINDS, swp_type
from vswap.testing.invariants import assert_consistent
from vswap.testing.model import SwapModel, normalise_lookup
from vswap.testing.strategies import (
    BATCH_VERBS, VERBS, Step, StepConfig, allocator_steps, orders, sharers, swap_steps,
)

__all__ = ["SwapSpaceMachine", "SwapDeviceMachine"]


def _call(obj: Any, step: Step, args: tuple | None = None) -> tuple[Any, BaseException | None]:
    try:
        return getattr(obj, step.verb)(*(step.args if args is None else args)), None
    except Exception as exc:  # noqa: BLE001 - compared with what the model expects
        return None, exc


def _mutable(a: Any) -> bool:
    return hasattr(a, "dtype") or hasattr(a, "items")


def _same(a: Any, b: Any, what: str) -> None:
    """Equality that also takes numpy arrays (same dtype and values) and tuples of them."""
    if isinstance(a, tuple) and a and hasattr(a[0], "dtype"):
        assert isinstance(b, tuple) and len(a) == len(b), f"{what}: {a!r} != {b!r}"
        for x, y in zip(a, b):
            _same(x, y, what)
        return
    if hasattr(a, "dtype") or hasattr(b, "dtype"):
        import numpy as np

        assert hasattr(a, "dtype") and hasattr(b, "dtype"), f"{what}: {a!r} != {b!r}"
        assert a.dtype == b.dtype and np.array_equal(a, b), f"{what}: {a!r} != {b!r}"
        return
    if hasattr(a, "items") and hasattr(b, "items") and not isinstance(a, dict):
        a, b = dict(a.items()), dict(b.items())
    assert a == b, f"{what}: {a!r} != {b!r}"


def _failed_as_expected(step: Step, got: Any, exc: BaseException | None,
                        want_exc: BaseException | None) -> bool:
    """True if the call failed as the model says (any ValueError for a ValueError);
    False if it succeeded as the model says; else AssertionError."""
    if want_exc is None:
        assert exc is None, f"{step}: the model expects success, the design raised {exc!r}"
        return False
    assert exc is not None and (type(exc) is type(want_exc) or (
        isinstance(want_exc, ValueError) and isinstance(exc, ValueError))), (
        f"{step}: expected {type(want_exc).__name__} ({want_exc}), got "
        f"{'result ' + repr(got) if exc is None else repr(exc)}")
    return True


def _signature(exc: BaseException) -> str:
    """A failure's kind: its message with numbers blanked (entries move when steps go)."""
    return re.sub(r"0x[0-9a-f]+|\d+", "#", str(exc).splitlines()[0] if str(exc) else "")


def _factory(cls: type, name: str) -> Callable[[], Any] | None:
    f = cls.__dict__.get(name)
    for base in cls.__mro__:
        if name in base.__dict__:
            f = base.__dict__[name]
            break
    if isinstance(f, staticmethod):
        f = f.__func__
    return f


# Calls that only query: they change nothing, reclaim nothing.
_QUERY_VERBS = frozenset(("swap_count", "memcg_id", "lookup", "swap_cache_get_folio",
                          "swap_cache_get_shadow", "zswap_load", "lookup_many"))

_SCENARIOS = ("swap_out", "swapin_cycle", "dup_then_zap_run", "many_references",
              "fill_with_cache_only", "fork", "cow_fault", "zap_one_mapping", "pageout",
              "dontneed")

# Batch verbs judged as their single calls: (single verb, its extra arguments).
_BATCH_JUDGES: dict[str, tuple[str, Callable[[Step, int], tuple]]] = {
    "folio_alloc_swap_many": ("folio_alloc_swap", lambda s, i: ()),
    "swap_duplicate_many": ("swap_duplicate", lambda s, i: (1,)),
    "swap_free_many": ("swap_free_nr", lambda s, i: (1,)),
    "free_swap_and_cache_many": ("free_swap_and_cache_nr", lambda s, i: (1,)),
    "zswap_store_many": ("zswap_store", lambda s, i: (int(s.args[1][i]),)),
    "lookup_many": ("lookup", lambda s, i: ()),
}


class _Progress:
    """find_bug's status line on stderr: runs, then the shortest failure while shrinking."""

    def __init__(self, name: str, out: Any) -> None:
        self.name, self.out = name, out
        self.t0 = self.last = time.monotonic()
        self.runs, self.shortest = 0, None

    def run(self) -> None:
        self.runs += 1
        self.tick()

    def failure(self, n: int) -> None:
        self.shortest = n if self.shortest is None else min(self.shortest, n)
        self.tick()

    def tick(self) -> None:
        if time.monotonic() - self.last >= 0.5:
            self.last = time.monotonic()
            what = (f"searching, {self.runs:,} runs" if self.shortest is None else
                    f"shrinking, shortest failing run {self.shortest} calls "
                    f"({self.runs:,} runs)")
            self.say(what)

    def say(self, what: str) -> None:
        self.out.write(f"vswap.testing: {self.name}: {what}, "
                       f"{time.monotonic() - self.t0:.1f} s\n")
        self.out.flush()

    def done(self, summary: str) -> None:
        self.out.write(f"vswap.testing: {summary}\n")
        self.out.flush()


class SwapSpaceMachine(RuleBasedStateMachine):
    """Lockstep fuzzing of a :class:`~vswap.protocol.SwapSpace` against the protocol model.

    Set ``factory`` (a zero-argument callable returning a fresh design) in a
    subclass; optionally ``reference_factory`` for an exact twin and
    ``config`` (a :class:`~vswap.testing.strategies.StepConfig`: folio
    orders, CPUs, memcgs, devices, invalid calls). Every step is one
    protocol call, noted as Python code, so a shrunk failure reads as a
    test to paste. Runtime complexity: O(live entries) queries per step.

    >>> from vswap import DirectSwap, SwapDevices, SwapDevice
    >>> from vswap.testing import StepConfig, SwapSpaceMachine
    >>> class DirectFuzz(SwapSpaceMachine):
    ...     factory = lambda: DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
    ...     config = StepConfig(page_tables=True)    # its swapoff rewrites the page tables
    >>> from hypothesis import settings
    >>> DirectFuzz.TestCase.settings = settings(max_examples=3, stateful_step_count=10)
    >>> DirectFuzz.TestCase("runTest").runTest()
    """

    factory: Callable[..., Any] | None = None
    reference_factory: Callable[..., Any] | None = None
    twin_factories: dict[str, Callable[..., Any]] = {}
    setups: st.SearchStrategy[Any] | None = None
    config: StepConfig = StepConfig()
    coverage: Counter = Counter()
    _last_failure: list[Step] | None = None
    _last_setup: Any = None
    _reporter: Any = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.coverage = Counter()  # each machine counts its own runs
        if cls.setups is not None and "setup" not in cls.__dict__:
            cls.setup = initialize(data=st.data())(SwapSpaceMachine.setup)

    def __init__(self) -> None:
        super().__init__()
        if _factory(type(self), "factory") is None:
            raise TypeError(f"{type(self).__name__} must set factory = <callable returning a design>")
        if type(self)._reporter is not None:
            type(self)._reporter.run()
        self.model = SwapModel()
        self.next_folio = 1
        self.log: list[Step] = []
        self.freed: set[int] = set()
        self.checked_freed: set[int] = set()
        self.prepared: set[int] = set()
        self.last_exc: BaseException | None = None
        self._expected: tuple[SwapModel, Any, BaseException | None] | None = None
        self.setup_value: Any = None
        if type(self).setups is None:
            self._build(None)

    def _build(self, setup: Any) -> None:
        args = () if type(self).setups is None else (setup,)
        self.setup_value = setup
        self.space = _factory(type(self), "factory")(*args)
        self.twins: dict[str, Any] = {}
        ref = _factory(type(self), "reference_factory")
        if ref is not None:
            self.twins["reference"] = ref(*args)
        for name, make in type(self).twin_factories.items():
            self.twins[name] = make(*args)
        self.twin = self.twins.get("reference")
        self.config = self.configure(setup)

    def setup(self, data: st.DataObject) -> None:
        """Draw a design configuration from ``setups`` and build the designs.

        The first step of a machine with ``setups`` (an initialize rule only
        there: a machine without one builds its design at once and shrinks
        as before). Runtime complexity: that of the factories.
        """
        self._build(data.draw(type(self).setups, label="setup"))

    def configure(self, setup: Any) -> StepConfig:
        """The :class:`StepConfig` for a drawn ``setup`` (default: ``config``).

        Override it when the setup changes what is valid, for example the
        device types that exist. Runtime complexity: O(1).

        >>> from vswap.testing import SwapSpaceMachine, StepConfig, ToySwap
        >>> class Fuzz(SwapSpaceMachine):
        ...     factory = lambda: ToySwap(16)
        ...     config = StepConfig(max_order=1)
        >>> Fuzz().configure(None).max_order
        1
        """
        return type(self).config

    def args_for(self, name: str | None, step: Step) -> tuple:
        """The arguments ``step`` passes to one design (None: the design, else a twin's name).

        Arguments a design may rewrite (numpy arrays, page tables) are copied
        for each design, and the copies must end up equal. Override it for a
        call whose arguments differ per design (a device object of the
        design's own implementation for ``swapon``). Runtime complexity:
        O(size of the mutable arguments).

        >>> from vswap.testing import SwapSpaceMachine, ToySwap, Step
        >>> class Fuzz(SwapSpaceMachine):
        ...     factory = lambda: ToySwap(16)
        >>> Fuzz().args_for(None, Step("swap_duplicate", (4, 1)))
        (4, 1)
        """
        if any(_mutable(a) for a in step.args):
            return copy.deepcopy(step.args)
        return step.args

    def compare_twin(self, name: str, twin: Any, fresh: list[int]) -> None:
        """After every step: check the twin ``name`` against the design.

        The default asserts :func:`assert_consistent` on the twin (``fresh``:
        entries freed by the last step), and identical counters, snapshot
        and memory footprint. Override it for a twin that may legitimately
        differ in some of them (another preset of the same design).
        Runtime complexity: O(snapshot size).

        >>> from vswap.testing import SwapSpaceMachine, ToySwap
        >>> class Fuzz(SwapSpaceMachine):
        ...     factory = lambda: ToySwap(16)
        ...     twin_factories = {"copy": lambda: ToySwap(16)}
        >>> m = Fuzz(); m.compare_twin("copy", m.twins["copy"], [])
        """
        assert_consistent(twin, live=(), freed=fresh)
        assert self.space.stats == twin.stats, f"counters differ from the twin {name}"
        assert self._snapshot(self.space) == self._snapshot(twin), \
            f"snapshot differs from the twin {name}"
        assert self.space.memory_footprint() == twin.memory_footprint(), \
            f"memory footprint differs from the twin {name}"

    # -- the one rule: a protocol call drawn against the model ---------------------------

    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        """Draw one protocol call valid in the current state (or an invalid one) and check it.

        With ``StepConfig(scenarios=True)`` one step in five is instead a
        multi-call scenario (a folio's swap-out, a swap-in cycle, a mapped
        run zapped at once, a hundred references to one entry, a fill with
        cache-only pages, and the paths of processes: a fork of a few or of
        more children than a count's inline bits hold, a COW fault on a
        shared swapped page, one mapping of a shared page zapped,
        MADV_PAGEOUT of a range with large folios, MADV_DONTNEED).
        """
        if self.config.scenarios and data.draw(st.integers(0, 9), label="scenario?") >= 8:
            name = data.draw(st.sampled_from(_SCENARIOS), label="scenario")
            type(self).coverage["scenario:" + name] += 1
            getattr(self, name)(data)
            return
        self.run_step(data.draw(swap_steps(self.model, self.config, self.next_folio,
                                           tuple(sorted(self.freed)[:64])), label="call"))

    def run_step(self, step: Step) -> Any:
        """Log ``step``, run it through :meth:`execute` and return the design's result.

        For rules of a subclass that build their own calls. Runtime
        complexity: that of :meth:`execute`.

        >>> from vswap.testing import SwapSpaceMachine, ToySwap, Step
        >>> class Fuzz(SwapSpaceMachine):
        ...     factory = lambda: ToySwap(16)
        >>> Fuzz().run_step(Step("folio_alloc_swap", (1, 0, 0, 0)))
        1
        """
        self.log.append(step)
        try:
            return self.execute(step)
        except AssertionError:
            self._failed()
            raise

    def _failed(self) -> None:
        type(self)._last_failure = list(self.log)
        type(self)._last_setup = self.setup_value
        if type(self)._reporter is not None:
            type(self)._reporter.failure(len(self.log))

    # -- multi-call scenarios (StepConfig(scenarios=True)) ---------------------------------

    def _ok(self, step: Step) -> tuple[bool, Any]:
        got = self.run_step(step)
        return self.last_exc is None, got

    def swap_out(self, data: st.DataObject) -> None:
        """The common life of a folio: allocate, map PTEs, store it somewhere, reclaim it."""
        order = data.draw(orders(self.config.max_order, self.config.mthp_share), label="order")
        memcg = data.draw(st.integers(0, max(0, self.config.nr_memcgs - 1)), label="memcg")
        ok, e = self._ok(Step("folio_alloc_swap", (self.next_folio, order, memcg, 0)))
        if not ok:
            return
        nr = 1 << order
        for _ in range(data.draw(st.integers(1, 3), label="PTEs")):
            self.run_step(Step("swap_duplicate", (e, nr)))
        how = data.draw(st.sampled_from(["disk", "zswap", "zero", "keep", "zswap-disk"]), label="to")
        if how.startswith("zswap"):
            for i in range(nr):
                self.run_step(Step("zswap_store", (e + i, 1000 + i)))
        if how == "zero":
            self.run_step(Step("zero_store", (e, nr)))
        if how.endswith("disk") and not self._ok(Step("writeback", (e, order)))[0]:
            return
        if how != "keep":
            self.run_step(Step("swap_cache_del_folio", (e, order, data.draw(
                st.integers(0, 50), label="shadow"))))
            self.run_step(Step("put_swap_folio", (e, order)))
        if data.draw(st.booleans(), label="reset counters?"):
            self.run_step(Step("reset_stats"))

    def swapin_cycle(self, data: st.DataObject) -> None:
        """Reclaim a mapped folio, then swap it in: del (shadow), put, prepare, add."""
        folios = self.model.folio_runs(lambda s: s.folio is not None and s.count > 0)
        if not folios:
            return
        base, order = data.draw(st.sampled_from(folios), label="folio")
        self.run_step(Step("swap_cache_del_folio", (base, order, 9)))
        self.run_step(Step("put_swap_folio", (base, order)))
        self.run_step(Step("swapcache_prepare", (base, 1 << order)))
        self.run_step(Step("swap_cache_add_folio", (base, self.next_folio, order)))

    def dup_then_zap_run(self, data: st.DataObject) -> None:
        """A run mapped again, then zapped at once: the batched zap path."""
        runs = self.model.runs(lambda s: True)
        if not runs:
            return
        start, n = data.draw(st.sampled_from(runs), label="run")
        nr = data.draw(st.integers(1, n), label="nr")
        if self._ok(Step("swap_duplicate", (start, nr)))[0]:
            self.run_step(Step("free_swap_and_cache_nr", (start, nr)))

    def many_references(self, data: st.DataObject) -> None:
        """Up to 140 references added to (or dropped from) one entry: count continuations."""
        k = data.draw(st.integers(1, 140), label="references")
        up = data.draw(st.booleans(), label="add?")
        pool = sorted(e for e, s in self.model.entries.items() if up or s.count)
        if not pool:
            return
        e = data.draw(st.sampled_from(pool), label="entry")
        for _ in range(k if up else min(k, self.model.entries[e].count)):
            self.run_step(Step("swap_duplicate" if up else "swap_free_nr", (e, 1)))
            if e not in self.model.entries:
                break

    def fill_with_cache_only(self, data: st.DataObject) -> None:
        """Fill the space with written-back, unmapped (cache-only) pages, then allocate past it."""
        n = data.draw(st.integers(8, 40), label="pages")
        for _ in range(n):
            ok, e = self._ok(Step("folio_alloc_swap", (self.next_folio, 0, 0, 0)))
            if not ok:
                return
            self.run_step(Step("swap_duplicate", (e, 1)))
            if not self._ok(Step("writeback", (e, 0)))[0]:
                return
            self.run_step(Step("swap_free_nr", (e, 1)))

    # -- processes: fork, COW, MADV_PAGEOUT, MADV_DONTNEED (scenarios too) ---------------

    def fork(self, data: st.DataObject) -> None:
        """A fork, or many: a mapped range's entries duplicated once per child, then some exit.

        The children may be more than a design's inline count holds
        (:func:`~vswap.testing.strategies.sharers`), so the count's overflow
        (continuation pages, an extend table) is built and, as they exit,
        torn down again.
        """
        runs = self.model.runs(lambda s: s.count > 0)
        if not runs:
            return
        start, nr = data.draw(st.sampled_from(runs), label="mapped run")
        nr = data.draw(st.integers(1, nr), label="nr")
        children = data.draw(sharers(self.config.batch), label="children")
        if children > 8:
            nr = min(nr, 2)
        forked = self.fork_range(start, nr, children)
        self.exit_range(start, nr, data.draw(st.integers(0, forked), label="children exiting"))

    def fork_range(self, start: int, nr: int, children: int) -> int:
        """``children`` forks of a process whose PTEs hold ``start .. start + nr - 1``.

        copy_pte_range's swap_duplicate, child by child, each entry of the
        range once per child (one batch call for many children where the
        config has the batch verbs). Returns the children forked (fewer if a
        count hit the design's limit: NoSpace). Runtime complexity:
        O(children * nr) protocol calls.

        >>> from vswap.testing import SwapSpaceMachine, ToySwap, Step
        >>> class Fuzz(SwapSpaceMachine):
        ...     factory = lambda: ToySwap(16)
        >>> m = Fuzz(); e = m.run_step(Step("folio_alloc_swap", (1, 0, 0, 0)))
        >>> m.run_step(Step("swap_duplicate", (e, 1))); m.fork_range(e, 1, 70)
        70
        >>> m.space.swap_count(e)
        71
        """
        if children > 8 and self.config.batch:
            import numpy as np

            run = np.arange(start, start + nr, dtype=np.uint64)
            ok, _ = self._ok(Step("swap_duplicate_many", (np.tile(run, children),)))
            return children if ok else 0
        for k in range(children):
            if not self._ok(Step("swap_duplicate", (start, nr)))[0]:
                return k
        return children

    def exit_range(self, start: int, nr: int, children: int) -> None:
        """``children`` processes holding ``start .. start + nr - 1`` exit (the zap path).

        zap_pte_range's free_swap_and_cache_nr, process by process (one batch
        call for many where the config has the batch verbs). Runtime
        complexity: O(children * nr) protocol calls.

        >>> from vswap.testing import SwapSpaceMachine, ToySwap, Step
        >>> class Fuzz(SwapSpaceMachine):
        ...     factory = lambda: ToySwap(16)
        >>> m = Fuzz(); e = m.run_step(Step("folio_alloc_swap", (1, 0, 0, 0)))
        >>> m.run_step(Step("swap_duplicate", (e, 1))); m.fork_range(e, 1, 3)
        3
        >>> m.exit_range(e, 1, 2); m.space.swap_count(e)
        2
        """
        if children > 8 and self.config.batch:
            import numpy as np

            run = np.arange(start, start + nr, dtype=np.uint64)
            self.run_step(Step("free_swap_and_cache_many", (np.tile(run, children),)))
            return
        for _ in range(children):
            if not self._ok(Step("free_swap_and_cache_nr", (start, nr)))[0]:
                return

    def cow_fault(self, data: st.DataObject) -> None:
        """A fault on a swapped page that several processes share (do_swap_page, then COW).

        The first faulting process reads the page into the swap cache
        (swapcache_prepare, swap_cache_add_folio) unless it is there, maps
        it and drops its reference (swap_free_nr); the folio stays in the
        swap cache for the other sharers, whose faults find it (minor) and
        drop theirs. The last one's write fault may free the swap
        (should_try_to_free_swap: the folio leaves the swap cache).
        """
        shared = sorted(e for e, s in self.model.entries.items() if s.count >= 2)
        if not shared:                     # fork one mapped page first
            mapped = sorted(e for e, s in self.model.entries.items() if s.count)
            if not mapped:
                return
            e = data.draw(st.sampled_from(mapped), label="mapped entry")
            if not self._ok(Step("swap_duplicate", (e, 1)))[0]:
                return
        else:
            e = data.draw(st.sampled_from(shared), label="shared entry")
        st_ = self.model.entries[e]
        if st_.folio is None:
            if st_.cached:                 # another fault is reading it in: it would wait
                return
            if not self._ok(Step("swapcache_prepare", (e, 1)))[0]:
                return
            self.run_step(Step("swap_cache_add_folio", (e, self.next_folio, 0)))
        self.run_step(Step("swap_free_nr", (e, 1)))
        if e not in self.model.entries:
            return
        for _ in range(data.draw(st.integers(0, self.model.entries[e].count),
                                 label="other sharers faulting")):
            self.run_step(Step("swap_free_nr", (e, 1)))
            if e not in self.model.entries:
                return
        where = self.model.folio_of(e)
        if where is None or not data.draw(st.booleans(), label="free the swap?"):
            return
        base, order = where
        if all(self.model.entries.get(base + i) is not None
               and self.model.entries[base + i].count == 0 for i in range(1 << order)):
            self.run_step(Step("swap_cache_del_folio", (base, order, None)))
            self.run_step(Step("put_swap_folio", (base, order)))

    def zap_one_mapping(self, data: st.DataObject) -> None:
        """One of several processes unmaps a shared swapped range: the entries live on."""
        shared = self.model.runs(lambda s: s.count >= 2)
        if not shared:
            return
        start, n = data.draw(st.sampled_from(shared), label="shared run")
        self.run_step(Step("free_swap_and_cache_nr", (start, data.draw(st.integers(1, n),
                                                                        label="nr"))))

    def pageout(self, data: st.DataObject) -> None:
        """MADV_PAGEOUT of a range of resident folios, large ones included (reclaim_pages).

        Each folio gets entries of its order or, where none are free, is
        split and its pages go one by one (the kernel's swpout_fallback); its
        PTE becomes the entry (swap_duplicate), its data goes to zswap, zero
        or the device (a writeback without room leaves it in the swap cache)
        and it leaves the swap cache with a shadow.
        """
        how = data.draw(st.sampled_from(["disk", "zswap", "zero"]), label="to")
        memcg = data.draw(st.integers(0, max(0, self.config.nr_memcgs - 1)), label="memcg")
        cpu = data.draw(st.integers(0, max(0, self.config.nr_cpus - 1)), label="cpu")
        for _ in range(data.draw(st.integers(1, 4), label="folios")):
            order = data.draw(st.integers(0, self.config.max_order), label="order")
            ok, e = self._ok(Step("folio_alloc_swap", (self.next_folio, order, memcg, cpu)))
            folios = [(e, order)] if ok else []
            if not ok and order:           # split: the pages one by one
                for _ in range(1 << order):
                    ok, e = self._ok(Step("folio_alloc_swap", (self.next_folio, 0, memcg, cpu)))
                    if not ok:
                        break
                    folios.append((e, 0))
            for base, o in folios:
                self.run_step(Step("swap_duplicate", (base, 1 << o)))
                if how == "zswap":
                    for i in range(1 << o):
                        self.run_step(Step("zswap_store", (base + i, 2000 + i)))
                elif how == "zero":
                    self.run_step(Step("zero_store", (base, 1 << o)))
                elif not self._ok(Step("writeback", (base, o)))[0]:
                    continue               # no room on a device: it stays in the swap cache
                self.run_step(Step("swap_cache_del_folio", (base, o, data.draw(
                    st.integers(0, 50), label="shadow"))))
                self.run_step(Step("put_swap_folio", (base, o)))
                if data.draw(st.booleans(), label="then DONTNEED?"):
                    self.run_step(Step("free_swap_and_cache_nr", (base, 1 << o)))

    def dontneed(self, data: st.DataObject) -> None:
        """MADV_DONTNEED of a range: its swap PTEs zapped in batches of consecutive entries.

        zap_pte_range's free_swap_and_cache_nr per batch: entries the
        process held alone are freed, shared ones live on with one reference
        less, folios left cache-only are reclaimed.
        """
        for _ in range(data.draw(st.integers(1, 3), label="batches")):
            runs = self.model.runs(lambda s: s.count > 0)
            if not runs:
                return
            start, n = data.draw(st.sampled_from(runs), label="mapped run")
            if data.draw(st.booleans(), label="the whole run?"):   # swap_pte_batch's batch
                self.run_step(Step("free_swap_and_cache_nr", (start, n)))
                continue
            i = data.draw(st.integers(0, n - 1), label="offset")
            self.run_step(Step("free_swap_and_cache_nr",
                               (start + i, data.draw(st.integers(1, n - i), label="nr"))))

    # -- a failing sequence, made minimal and printed as a test --------------------------

    @classmethod
    def replay(cls, steps: list[Step], setup: Any = None) -> AssertionError | None:
        """Run ``steps`` on a fresh design; return the AssertionError they cause, or None.

        ``setup`` is the drawn configuration, for a machine with ``setups``.
        Runtime complexity: O(len(steps) * live entries).
        """
        machine = cls()
        if cls.setups is not None:
            machine._build(setup)
        try:
            for s in steps:
                machine.execute(s)
                machine.observable_state_matches_the_model()
        except AssertionError as exc:
            return exc
        return None

    @classmethod
    def minimize(cls, steps: list[Step]) -> list[Step]:
        """Drop every step the failure does not need (greedy, by value, last first).

        Hypothesis shrinks by its choice sequence; this pass works on the
        calls themselves, so an allocation nobody refers to goes even when
        removing it renumbers nothing. Runtime complexity: O(n**2) replays.
        """
        steps = list(steps)
        first = cls.replay(steps, cls._last_setup)
        if first is None:
            return steps
        want = _signature(first)
        i = len(steps) - 1
        while i >= 0:
            trial = steps[:i] + steps[i + 1:]
            exc = cls.replay(trial, cls._last_setup)
            if exc is not None and _signature(exc) == want:  # the same failure, not another
                steps = trial
            i -= 1
        return steps

    @classmethod
    def find_bug(cls, *, max_seconds: float | None = None, progress: Any = True) -> str | None:
        """Fuzz the design; return a minimal failing sequence as Python code, or None.

        Runs the hypothesis machine with its settings (``max_seconds=None``:
        hypothesis shrinks a failure), or runs of a few random examples each
        until one fails or ``max_seconds`` have passed (without hypothesis's
        shrinking, which has no time bound). On a failure, replays the
        sequence, minimises it (:meth:`minimize`: every call the failure does
        not need is dropped) and renders it as a test body. ``progress``: True
        writes a status line to stderr about twice a second (runs so far,
        then the shortest failing sequence while shrinking) and the
        :meth:`coverage_summary` at the end; an open file writes there;
        False is silent. Runtime complexity: that of the hypothesis run plus
        O(steps**2) replays to minimise.

        >>> from vswap.testing import SwapSpaceMachine, ToySwap
        >>> class Fuzz(SwapSpaceMachine):
        ...     factory = lambda: ToySwap(16)
        >>> Fuzz.find_bug(max_seconds=0.5, progress=False) is None
        True
        """
        if max_seconds is not None and not (isinstance(max_seconds, (int, float))
                                            and 0 < max_seconds < float("inf")):
            raise ValueError(f"max_seconds must be a positive number, not {max_seconds!r}")
        out = sys.stderr if progress is True else (progress or None)
        cls._reporter = _Progress(cls.__name__, out) if out is not None else None
        cls._last_failure = None
        saved = cls.TestCase.settings
        try:
            if max_seconds is not None:     # a time budget: fresh random runs, none replayed
                # hypothesis's shrinker has no time bound: minimize() drops the calls instead
                cls.TestCase.settings = settings(saved, max_examples=20, database=None,
                                                 derandomize=False, phases=[Phase.generate])
            deadline = None if max_seconds is None else time.monotonic() + max_seconds
            while True:
                try:
                    cls.TestCase("runTest").runTest()
                except AssertionError:
                    pass
                if cls._last_failure or deadline is None or time.monotonic() >= deadline:
                    break
            if not cls._last_failure:
                return None
            if cls._reporter is not None:
                cls._reporter.say(f"minimising {len(cls._last_failure)} calls")
            steps = cls.minimize(cls._last_failure)
            exc = cls.replay(steps, cls._last_setup)
        finally:
            cls.TestCase.settings = saved
            if cls._reporter is not None:
                cls._reporter.done(cls.coverage_summary())
            cls._reporter = None
        setup = "" if cls.setups is None else repr(cls._last_setup)
        lines = [f"space = factory({setup})"] + [repr(s) for s in steps]
        lines.append(f"# AssertionError: {exc}")
        return "\n".join(lines)

    @classmethod
    def coverage_summary(cls) -> str:
        """One line: the steps this machine class ran and the verbs its config draws that never succeeded.

        Runtime complexity: O(verbs).

        >>> from vswap.testing import SwapSpaceMachine, ToySwap
        >>> class Fuzz(SwapSpaceMachine):
        ...     factory = lambda: ToySwap(16)
        >>> Fuzz.coverage_summary()
        'Fuzz: 0 steps; verbs never run successfully: folio_alloc_swap, ...'
        """
        cfg = cls.config
        drawable = [v for v in VERBS if cfg.weights.get(v, 1) > 0
                    and (cfg.batch or v not in BATCH_VERBS) and (cfg.swapoff or v != "swapoff")]
        never = [v for v in drawable if not cls.coverage.get("ok:" + v)]
        head = f"{cls.__name__}: {cls.coverage.get('steps', 0):,} steps; "
        return head + (f"verbs never run successfully: {', '.join(never)}" if never
                       else "every verb ran successfully")

    def execute(self, step: Step) -> Any:
        """Run ``step`` on the design (and every twin) and judge it against the model.

        Twins must return the same (arrays compared by dtype and value) or
        raise the same exception type, and rewrite mutable arguments (page
        tables) alike; a call that raised leaves the design's and the
        reference twin's snapshots unchanged (NoSpace excepted). Verbs the
        model has no ``expect_`` for (``reset_stats``, ``swapon``, ...) must
        succeed and leave every entry as the model has it. Runtime
        complexity: O(snapshot) plus the call.
        """
        if step.verb == "folio_alloc_swap":
            self.next_folio += 1
        elif step.verb == "folio_alloc_swap_many":
            self.next_folio += len(step.args[0])
        # The model says first whether the call must fail; only then are the
        # snapshots taken that show a failed call changed nothing.
        self._expected = None
        if step.malformed or step.error is not None:
            must_fail = True
        elif step.verb in _BATCH_JUDGES and step.verb != "folio_alloc_swap_many":
            self._expected = self._expect_batch(step)
            must_fail = self._expected[2] is not None
        elif step.verb != "folio_alloc_swap" and hasattr(self.model, "expect_" + step.verb):
            self._expected = self._expect(step)
            must_fail = self._expected[2] is not None
        else:
            must_fail = False
        watched = [self.space] + ([self.twin] if self.twin is not None else [])
        befores = [self._snapshot(d) for d in watched] if must_fail else []
        args = self.args_for(None, step)
        got, exc = _call(self.space, step, args)
        for name, twin in self.twins.items():
            targs = self.args_for(name, step)
            tgot, texc = _call(twin, step, targs)
            assert type(exc) is type(texc), f"{step}: design raised {exc!r}, twin {name} {texc!r}"
            _same(got, tgot, f"{step}: design vs twin {name}")
            for a, b in zip(args, targs):
                if _mutable(a) and _mutable(b):
                    _same(a, b, f"{step}: argument as rewritten by the design vs twin {name}")
        if exc is not None and not isinstance(exc, NoSpace):
            for d, before in zip(watched, befores):
                if before is not None:
                    assert self._snapshot(d) == before, f"{step} raised {exc!r} but changed state"
        else:
            type(self).coverage["ok:" + step.verb] += 1
        self.last_exc = exc
        if step.malformed:
            assert exc is not None and isinstance(exc, step.error), (
                f"{step}: a malformed call, but the design "
                f"{'returned ' + repr(got) if exc is None else 'raised ' + repr(exc)}")
        elif step.verb in _BATCH_JUDGES:
            self._judge_batch(step, got, exc)
        else:
            judge = getattr(self, "_judge_" + step.verb, None)
            if judge is not None:
                judge(step, got, exc)
            elif not hasattr(self.model, "expect_" + step.verb):
                assert exc is None, f"{step} raised {exc!r}"
            else:
                self._judge_plain(step, got, exc)
        if step.verb not in _QUERY_VERBS:
            self._sync_reclaims()
        return got

    # -- judging -----------------------------------------------------------------------

    def _expect(self, step: Step) -> tuple[SwapModel, Any, BaseException | None]:
        """The model's verdict on ``step``: (the model after it, the result, the error)."""
        trial = self.model if step.verb in _QUERY_VERBS else self.model.copy()
        try:
            return trial, getattr(trial, "expect_" + step.verb)(*step.args), None
        except Exception as e:  # noqa: BLE001
            return trial, None, e

    def _expect_batch(self, step: Step) -> tuple[SwapModel, Any, BaseException | None]:
        """A batch call is its single calls in array order, validated first: all or nothing."""
        single, extra = _BATCH_JUDGES[step.verb]
        trial = self.model if step.verb in _QUERY_VERBS else self.model.copy()
        try:
            return trial, [getattr(trial, "expect_" + single)(int(e), *extra(step, i))
                           for i, e in enumerate(step.args[0])], None
        except Exception as e:  # noqa: BLE001
            return trial, None, e

    def _judge_plain(self, step: Step, got: Any, exc: BaseException | None) -> None:
        trial, want, want_exc = self._expected or self._expect(step)
        if step.error is not None:
            assert want_exc is not None and isinstance(want_exc, step.error), (
                f"{step}: the step expects {step.error.__name__}, the model says {want_exc!r}")
        if _failed_as_expected(step, got, exc, want_exc):
            return
        if step.verb == "lookup":
            kind, handle = want
            seen = normalise_lookup(got, trial.entries[step.args[0]].folio)
            assert seen[0] == kind, f"{step}: backing {got[0]!r}, expected {kind!r}"
            if handle is not None:
                assert seen[1] == handle, f"{step}: handle {got[1]!r}, expected {handle!r}"
        else:
            assert got == want, f"{step}: returned {got!r}, expected {want!r}"
        self._commit(trial)
        if step.verb == "swapcache_prepare":
            self.prepared.update(range(step.args[0], step.args[0] + step.args[1]))
        elif step.verb in ("swap_cache_add_folio", "put_swap_folio"):
            self.prepared.difference_update(range(step.args[0], step.args[0] + (1 << step.args[2 if step.verb == "swap_cache_add_folio" else 1])))

    def _commit(self, trial: SwapModel) -> None:
        gone = set(self.model.entries) - set(trial.entries)
        self.freed |= gone
        self.prepared -= gone
        self.model = trial

    def _judge_folio_alloc_swap(self, step: Step, got: Any, exc: BaseException | None) -> None:
        if isinstance(exc, NoSpace):
            return
        assert exc is None, f"{step} raised {exc!r}"
        folio, order, memcg, _cpu = step.args
        # Folios the allocator reclaimed to make room may be where the run lands.
        for base, o in self.model.reclaimable_folios():
            if base < got + (1 << order) and got < base + (1 << o):
                self._forget(base, o)
        self.model.record_alloc(got, folio, order, memcg)
        self.freed.difference_update(range(got, got + (1 << order)))

    def _judge_writeback(self, step: Step, got: Any, exc: BaseException | None) -> None:
        if isinstance(exc, NoSpace):
            return
        self._judge_plain(step, None if exc is None else got, exc)

    def _judge_batch(self, step: Step, got: Any, exc: BaseException | None) -> None:
        """A batch call is its single calls in array order, validated first: all or nothing."""
        if step.verb == "folio_alloc_swap_many":
            assert exc is None, f"{step} raised {exc!r}"  # a full space returns fewer entries
            folios, order, memcg = step.args[0], step.args[1], step.args[2]
            assert len(got) <= len(folios), f"{step} returned {len(got)} entries"
            for f, e in zip(folios, got):
                self._judge_folio_alloc_swap(Step("folio_alloc_swap", (int(f), order, memcg, 0)),
                                             int(e), None)
            return
        trial, wants, want_exc = self._expected or self._expect_batch(step)
        entries = [int(e) for e in step.args[0]]
        if _failed_as_expected(step, got, exc, want_exc):
            return
        if step.verb == "lookup_many":
            kinds, handles = got
            assert len(kinds) == len(handles) == len(entries), f"{step} returned {got!r}"
            for e, want, k, h in zip(entries, wants, kinds, handles):
                seen = normalise_lookup((LOOKUP_KINDS[int(k)], int(h)), trial.entries[e].folio)
                assert seen[0] == want[0] and (want[1] is None or seen[1] == want[1]), (
                    f"{step}: entry {e:#x} reads {seen}, expected {want}")
        else:
            assert got is None, f"{step} returned {got!r}"
        self._commit(trial)

    def _judge_reclaim_cache_only(self, step: Step, got: Any, exc: BaseException | None) -> None:
        assert exc is None, f"{step} raised {exc!r}"
        n = self._sync_reclaims()
        assert got == n, f"{step} returned {got}, but {n} entries were reclaimed"

    def _judge_swapoff(self, step: Step, got: Any, exc: BaseException | None) -> None:
        # Where swapoff moves each page is the design's choice: re-read the
        # state of every entry and keep checking the invariants from there.
        if step.error is not None:
            assert isinstance(exc, step.error), f"{step}: expected {step.error.__name__}, got " \
                f"{'result ' + repr(got) if exc is None else repr(exc)}"
            return
        assert exc is None, f"{step} raised {exc!r}"
        device = step.args[0]
        for e in sorted(self.model.entries):       # try_to_unuse: nothing may read from it now
            for twin in self.twins.values():       # the same queries keep counters in step
                try:
                    twin.lookup(e)
                except NoEntry:
                    pass
            try:
                kind, handle = self.space.lookup(e)
            except NoEntry:
                continue
            assert not (kind == "swapfile" and swp_type(handle) == device), (
                f"{step}: entry {e:#x} still reads from device {device} (slot {handle:#x}) "
                f"after swapoff")
        # The device has gone: no further reclaim or swapoff of it.
        self.config = replace(self.config, devices=tuple(
            d for d in self.config.devices if d != step.args[0]))
        for e in list(self.model.entries):
            try:
                seen = self._observe(e)
            except NoEntry:
                del self.model.entries[e]
                self.freed.add(e)
                continue
            st_ = self.model.entries[e]
            if seen["folio"] is not None and seen["folio"] != st_.folio:
                # swapped in by swapoff: an order-0 folio in the swap cache
                st_.cached, st_.base, st_.order = True, e, 0
            st_.count, st_.folio, st_.shadow, st_.zswap = (
                seen["count"], seen["folio"], seen["shadow"], seen["zswap"])
            if seen["lookup"][0] != "folio":  # a cached folio hides the backing below it
                st_.zero = seen["lookup"][0] == "zero"

    def _judge_swapon(self, step: Step, got: Any, exc: BaseException | None) -> None:
        # Not a protocol call, but the designs that have it add a device: its type
        # is one more for reclaim and swapoff steps.
        assert exc is None, f"{step} raised {exc!r}"
        self.config = replace(self.config, devices=tuple(sorted({*self.config.devices, got})))

    def _forget(self, base: int, order: int) -> None:
        self.model.forget(base, order)
        self.freed.update(range(base, base + (1 << order)))
        self.prepared.difference_update(range(base, base + (1 << order)))

    def _sync_reclaims(self) -> int:
        """Find which reclaimable folios the design reclaimed; return their entries."""
        n = 0
        for base, order in self.model.reclaimable_folios():
            try:  # the common case, one probe: the folio is still there
                self.space.swap_count(base)
                for twin in self.twins.values():
                    twin.swap_count(base)
                continue       # (a partial reclaim shows in the next full read)
            except NoEntry:
                pass
            gone = []
            for i in range(1 << order):
                try:
                    self.space.swap_count(base + i)
                    gone.append(False)
                except NoEntry:
                    gone.append(True)
                for name, twin in self.twins.items():
                    try:
                        twin.swap_count(base + i)
                        assert not gone[-1], f"twin {name} still holds {base + i:#x}"
                    except NoEntry:
                        assert gone[-1], f"twin {name} reclaimed {base + i:#x}, the design did not"
            if any(gone):
                assert all(gone), f"folio at {base:#x} (order {order}) was only partly reclaimed"
                self._forget(base, order)
                n += 1 << order
        return n

    def _observe(self, e: int) -> dict[str, Any]:
        """Every query of ``e`` on the design, and the same on each twin (which must agree)."""
        try:
            seen = self.model.observe(self.space, e)
        except NoEntry:
            seen = None
        for name, twin in self.twins.items():  # the same queries keep counters in step
            try:
                tseen = self.model.observe(twin, e)
            except NoEntry:
                tseen = None
            assert tseen == seen, f"entry {e:#x}: design shows {seen}, twin {name} {tseen}"
        if seen is None:
            raise NoEntry(f"entry {e:#x} is not allocated")
        return seen

    @staticmethod
    def _snapshot(space: Any) -> Any:
        snap = getattr(space, "snapshot", None)
        return snap() if callable(snap) else None

    # -- after every step ----------------------------------------------------------------

    @invariant()
    def observable_state_matches_the_model(self) -> None:
        """Every live entry reads as the model says; freed ones are unknown; invariants hold."""
        try:
            self._observe_all()
        except AssertionError:
            self._failed()
            raise

    def _observe_all(self) -> None:
        cov = type(self).coverage
        cov["steps"] += 1
        for k, v in self.space.stats.items():
            if v:
                cov["stat:" + k] += 1
        top = max((s.count for s in self.model.entries.values()), default=0)
        if top:                            # the largest count, by power of two
            cov[f"count>={1 << (top.bit_length() - 1)}"] += 1
        footprint = getattr(self.space, "memory_footprint", None)
        if callable(footprint):            # which metadata structures are in use
            for k, v in footprint().items():
                if v and k != "total":
                    cov["footprint:" + k] += 1
        for e in sorted(self.model.entries):
            try:
                seen = self._observe(e)
            except NoEntry:
                raise AssertionError(f"entry {e:#x} is live by the model, "
                                     f"unknown to the design: {self.model.entries[e]}") from None
            want = self.model.expected(e)
            assert seen == want, f"entry {e:#x}: design shows {seen}, model expects {want}"
        # Entries freed by the last step must be unknown to every query; the
        # older ones are probed with one query each, which keeps a long
        # shrink cheap.
        fresh = sorted(self.freed - self.checked_freed)
        assert_consistent(self.space, live=(), freed=fresh, prepared=self.prepared)
        for e in sorted(self.checked_freed & self.freed)[:64]:
            try:
                got = self.space.swap_count(e)
            except NoEntry:
                continue
            raise AssertionError(f"freed entry {e:#x} is known again: swap_count returned {got}")
        self.checked_freed = set(self.freed)
        for name, twin in self.twins.items():
            self.compare_twin(name, twin, fresh)


class SwapDeviceMachine(RuleBasedStateMachine):
    """Lockstep fuzzing of a lone slot allocator (the :class:`vswap.SwapDevice` API).

    Set ``factory`` to build the allocator and ``nr_slots``, ``cluster_size``,
    ``max_order``, ``nr_cpus`` to match it. Checks: every allocation is
    aligned, inside one cluster, past the header slot and free before;
    frees of live runs succeed and of anything else raise NoEntry; NoSpace
    is accepted; ``nr_used`` equals the slots handed out; ``check()`` passes.
    With ``reference_factory`` an exact twin must agree on everything.
    Runtime complexity: O(1) per step plus the allocator's check().

    >>> from vswap import SwapDevice
    >>> from vswap.testing import SwapDeviceMachine
    >>> class AllocFuzz(SwapDeviceMachine):
    ...     factory = lambda: SwapDevice(128, cluster_size=32)
    ...     nr_slots, cluster_size = 128, 32
    >>> from hypothesis import settings
    >>> AllocFuzz.TestCase.settings = settings(max_examples=3, stateful_step_count=20)
    >>> AllocFuzz.TestCase("runTest").runTest()
    """

    factory: Callable[[], Any] | None = None
    reference_factory: Callable[[], Any] | None = None
    nr_slots: int = 256
    cluster_size: int = 64
    max_order: int = 2
    nr_cpus: int = 2

    def __init__(self) -> None:
        super().__init__()
        make = _factory(type(self), "factory")
        if make is None:
            raise TypeError(f"{type(self).__name__} must set factory = <callable returning a device>")
        self.dev = make()
        twin = _factory(type(self), "reference_factory")
        self.twin = twin() if twin is not None else None
        self.runs: dict[int, int] = {}
        self.base_used = self.dev.nr_used

    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        """One alloc or free, drawn against the live runs."""
        s = data.draw(allocator_steps(self.nr_slots, self.max_order, self.nr_cpus,
                                      tuple(self.runs.items())), label="call")
        note(repr(s))
        got, exc = _call(self.dev, s)
        if self.twin is not None:
            tgot, texc = _call(self.twin, s)
            assert type(exc) is type(texc) and got == tgot, f"{s}: {got!r}/{exc!r} vs twin {tgot!r}/{texc!r}"
        if s.verb == "alloc":
            if isinstance(exc, NoSpace):
                return
            assert exc is None, f"{s} raised {exc!r}"
            order = s.args[0]
            nr = 1 << order
            assert got % nr == 0, f"{s} returned {got}, not aligned to {nr}"
            assert got >= 1 and got + nr <= self.nr_slots, f"{s} returned {got}: out of range"
            assert got // self.cluster_size == (got + nr - 1) // self.cluster_size, \
                f"{s} returned {got}: the run crosses a cluster boundary"
            for off, o in self.runs.items():
                assert got + nr <= off or off + (1 << o) <= got, \
                    f"{s} returned {got}, which overlaps the live run at {off}"
            self.runs[got] = order
        else:
            assert exc is None, f"{s} raised {exc!r}"
            del self.runs[s.args[0]]

    @rule(data=st.data())
    def free_unallocated(self, data: st.DataObject) -> None:
        """Freeing a slot that is not allocated raises NoEntry and changes nothing."""
        live = {off + i for off, o in self.runs.items() for i in range(1 << o)}
        off = data.draw(st.integers(1, self.nr_slots - 1).filter(lambda x: x not in live),
                        label="free of")
        note(f"with pytest.raises(NoEntry): space.free({off}, 0)")
        used = self.dev.nr_used
        try:
            self.dev.free(off, 0)
        except NoEntry:
            pass
        else:
            raise AssertionError(f"free({off}) of an unallocated slot succeeded")
        assert self.dev.nr_used == used

    @invariant()
    def accounting(self) -> None:
        """nr_used counts exactly the slots handed out; check() passes."""
        want = self.base_used + sum(1 << o for o in self.runs.values())
        assert self.dev.nr_used == want, f"nr_used {self.dev.nr_used}, expected {want}"
        check = getattr(self.dev, "check", None)
        if callable(check):
            check()
        if self.twin is not None:
            assert self.dev.stats == self.twin.stats, "counters differ from the twin"
