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

import re
from typing import Any, Callable

from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from vswap.errors import NoEntry, NoSpace
from vswap.testing.invariants import assert_consistent
from vswap.testing.model import SwapModel, normalise_lookup
from vswap.testing.strategies import Step, StepConfig, allocator_steps, swap_steps

__all__ = ["SwapSpaceMachine", "SwapDeviceMachine"]


def _call(obj: Any, step: Step) -> tuple[Any, BaseException | None]:
    try:
        return getattr(obj, step.verb)(*step.args), None
    except Exception as exc:  # noqa: BLE001 - compared with what the model expects
        return None, exc


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


class SwapSpaceMachine(RuleBasedStateMachine):
    """Lockstep fuzzing of a :class:`~vswap.protocol.SwapSpace` against the protocol model.

    Set ``factory`` (a zero-argument callable returning a fresh design) in a
    subclass; optionally ``reference_factory`` for an exact twin and
    ``config`` (a :class:`~vswap.testing.strategies.StepConfig`: folio
    orders, CPUs, memcgs, devices, invalid calls). Every step is one
    protocol call, noted as Python code, so a shrunk failure reads as a
    test to paste. Runtime complexity: O(live entries) queries per step.

    >>> from vswap import DirectSwap, SwapDevices, SwapDevice
    >>> from vswap.testing import SwapSpaceMachine
    >>> class DirectFuzz(SwapSpaceMachine):
    ...     factory = lambda: DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
    >>> from hypothesis import settings
    >>> DirectFuzz.TestCase.settings = settings(max_examples=3, stateful_step_count=10)
    >>> DirectFuzz.TestCase("runTest").runTest()
    """

    factory: Callable[[], Any] | None = None
    reference_factory: Callable[[], Any] | None = None
    config: StepConfig = StepConfig()
    _last_failure: list[Step] | None = None

    def __init__(self) -> None:
        super().__init__()
        make = _factory(type(self), "factory")
        if make is None:
            raise TypeError(f"{type(self).__name__} must set factory = <callable returning a design>")
        self.space = make()
        twin = _factory(type(self), "reference_factory")
        self.twin = twin() if twin is not None else None
        self.model = SwapModel()
        self.next_folio = 1
        self.log: list[Step] = []
        self.freed: set[int] = set()
        self.checked_freed: set[int] = set()
        self.prepared: set[int] = set()

    # -- the one rule: a protocol call drawn against the model ---------------------------

    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        """Draw one protocol call valid in the current state (or an invalid one) and check it."""
        s = data.draw(swap_steps(self.model, self.config, self.next_folio,
                                 tuple(sorted(self.freed)[:64])), label="call")
        self.log.append(s)
        try:
            self.execute(s)
        except AssertionError:
            type(self)._last_failure = list(self.log)
            raise

    # -- a failing sequence, made minimal and printed as a test --------------------------

    @classmethod
    def replay(cls, steps: list[Step]) -> AssertionError | None:
        """Run ``steps`` on a fresh design; return the AssertionError they cause, or None.

        Runtime complexity: O(len(steps) * live entries).
        """
        machine = cls()
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
        first = cls.replay(steps)
        if first is None:
            return steps
        want = _signature(first)
        i = len(steps) - 1
        while i >= 0:
            trial = steps[:i] + steps[i + 1:]
            exc = cls.replay(trial)
            if exc is not None and _signature(exc) == want:  # the same failure, not another
                steps = trial
            i -= 1
        return steps

    @classmethod
    def find_bug(cls) -> str | None:
        """Fuzz the design; return a minimal failing sequence as Python code, or None.

        Runs the hypothesis machine with its settings; on a failure, replays
        the shrunk sequence, minimises it and renders it as a test body.
        """
        cls._last_failure = None
        try:
            cls.TestCase("runTest").runTest()
        except AssertionError:
            pass
        if not cls._last_failure:
            return None
        steps = cls.minimize(cls._last_failure)
        exc = cls.replay(steps)
        lines = ["space = factory()"] + [repr(s) for s in steps]
        lines.append(f"# AssertionError: {exc}")
        return "\n".join(lines)

    def execute(self, step: Step) -> Any:
        """Run ``step`` on the design (and the twin) and judge it against the model."""
        if step.verb == "folio_alloc_swap":
            self.next_folio += 1
        before = self._snapshot(self.space)
        got, exc = _call(self.space, step)
        if self.twin is not None:
            tgot, texc = _call(self.twin, step)
            assert type(exc) is type(texc), f"{step}: design raised {exc!r}, twin {texc!r}"
            assert got == tgot, f"{step}: design returned {got!r}, twin {tgot!r}"
        if exc is not None and not isinstance(exc, NoSpace) and before is not None:
            assert self._snapshot(self.space) == before, f"{step} raised {exc!r} but changed state"
        judge = getattr(self, "_judge_" + step.verb, None)
        if judge is not None:
            judge(step, got, exc)
        else:
            self._judge_plain(step, got, exc)
        self._sync_reclaims()
        return got

    # -- judging -----------------------------------------------------------------------

    def _judge_plain(self, step: Step, got: Any, exc: BaseException | None) -> None:
        trial = self.model.copy()
        expect = getattr(trial, "expect_" + step.verb)
        try:
            want = expect(*step.args)
            want_exc = None
        except Exception as e:  # noqa: BLE001
            want, want_exc = None, e
        if step.error is not None:
            assert want_exc is not None and isinstance(want_exc, step.error), (
                f"{step}: the step expects {step.error.__name__}, the model says {want_exc!r}")
        if want_exc is not None:
            assert exc is not None and type(exc) is type(want_exc) or (
                isinstance(want_exc, ValueError) and isinstance(exc, ValueError)), (
                f"{step}: expected {type(want_exc).__name__} ({want_exc}), got "
                f"{'result ' + repr(got) if exc is None else repr(exc)}")
            return
        assert exc is None, f"{step}: expected {want!r}, raised {exc!r}"
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

    def _judge_reclaim_cache_only(self, step: Step, got: Any, exc: BaseException | None) -> None:
        assert exc is None, f"{step} raised {exc!r}"
        n = self._sync_reclaims()
        assert got == n, f"{step} returned {got}, but {n} entries were reclaimed"

    def _judge_swapoff(self, step: Step, got: Any, exc: BaseException | None) -> None:
        # Where swapoff moves each page is the design's choice: re-read the
        # state of every entry and keep checking the invariants from there.
        assert exc is None, f"{step} raised {exc!r}"
        for e in list(self.model.entries):
            try:
                seen = self.model.observe(self.space, e)
            except NoEntry:
                del self.model.entries[e]
                self.freed.add(e)
                continue
            st_ = self.model.entries[e]
            st_.count, st_.folio, st_.shadow, st_.zswap = (
                seen["count"], seen["folio"], seen["shadow"], seen["zswap"])
            st_.zero = seen["lookup"][0] == "zero"

    def _forget(self, base: int, order: int) -> None:
        self.model.forget(base, order)
        self.freed.update(range(base, base + (1 << order)))
        self.prepared.difference_update(range(base, base + (1 << order)))

    def _sync_reclaims(self) -> int:
        """Find which reclaimable folios the design reclaimed; return their entries."""
        n = 0
        for base, order in self.model.reclaimable_folios():
            gone = []
            for i in range(1 << order):
                try:
                    self.space.swap_count(base + i)
                    if self.twin is not None:
                        self.twin.swap_count(base + i)
                    gone.append(False)
                except NoEntry:
                    if self.twin is not None:
                        try:
                            self.twin.swap_count(base + i)
                        except NoEntry:
                            pass
                    gone.append(True)
            if any(gone):
                assert all(gone), f"folio at {base:#x} (order {order}) was only partly reclaimed"
                self._forget(base, order)
                n += 1 << order
        return n

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
            type(self)._last_failure = list(self.log)
            raise

    def _observe_all(self) -> None:
        for e in sorted(self.model.entries):
            seen = self.model.observe(self.space, e)
            want = self.model.expected(e)
            assert seen == want, f"entry {e:#x}: design shows {seen}, model expects {want}"
            if self.twin is not None:
                self.model.observe(self.twin, e)
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
        if self.twin is not None:
            assert_consistent(self.twin, live=(), freed=fresh)
            assert self.space.stats == self.twin.stats, "counters differ from the twin"
            assert self._snapshot(self.space) == self._snapshot(self.twin), \
                "snapshot differs from the twin"


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
