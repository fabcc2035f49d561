"""A Python subclass of a compiled design: its overrides run, or it is refused; never its parent's rows."""

import pytest

import vswap
from vswap.benchmark import compare
from vswap.designs import swap_devices
from vswap.errors import NoSpace
from vswap.replay import Machine, python_overrides, replay
from vswap.workloads import usemem


class Refusing(vswap.VirtualSwap):
    """A VirtualSwap whose folio_alloc_swap refuses: every swap-out fails."""

    def folio_alloc_swap(self, folio, order=0, memcg=0, cpu=0):
        raise NoSpace("refused by the subclass")


class Counting(vswap.VirtualSwap):
    """A VirtualSwap that counts its allocations in Python."""

    def __init__(self, swaps):
        super().__init__(swaps)
        self.allocs = 0

    def folio_alloc_swap(self, folio, order=0, memcg=0, cpu=0):
        self.allocs += 1
        return super().folio_alloc_swap(folio, order, memcg, cpu)


class Plain(vswap.VirtualSwap):
    """A subclass that overrides no verb: the C verb table is still its own."""


def make_refusing(machine, span):
    return Refusing(swap_devices(machine, span))


def test_an_override_is_found_and_a_plain_subclass_has_none():
    swaps = vswap.SwapDevices([vswap.SwapDevice(64, cluster_size=16)])
    assert python_overrides(Counting(swaps)) == ["folio_alloc_swap"]
    assert python_overrides(Plain(vswap.SwapDevices())) == []
    assert python_overrides(vswap.DirectSwap(vswap.SwapDevices())) == []


def test_the_overriding_subclass_runs_through_its_python_methods():
    trace, machine = usemem("1M"), Machine(ram="512K")
    mine = Counting(swap_devices(machine, trace.nr_pages))
    r = replay(trace, mine, machine)                 # engine unset: the reference engine
    assert mine.allocs == r.counters["pswpout"] > 0
    parent = replay(trace, "cc_v2", machine)
    assert r.counters == parent.counters             # the same work, done by its own method


def test_the_compiled_engine_refuses_it_with_the_reason():
    trace, machine = usemem("1M"), Machine(ram="512K")
    with pytest.raises(ValueError, match="overrides folio_alloc_swap"):
        replay(trace, Counting(swap_devices(machine, trace.nr_pages)), machine,
               engine="compiled")
    with pytest.raises(ValueError, match="overrides folio_alloc_swap"):
        compare("usemem", size="1M", designs={"mine": Counting}, engine="compiled",
                repeat=1, progress=False)


def test_compare_never_shows_the_parents_behaviour_under_the_users_name():
    # Tried as a new user would: a subclass whose folio_alloc_swap raises ran as cc_v2.
    with pytest.raises(NoSpace):                     # its refusal, where cc_v2 would swap
        compare("usemem", size="1M", designs={"cc_v2": "cc_v2", "mine": make_refusing},
                repeat=1, progress=False)
    r = compare("usemem", size="1M", designs={"mine": Counting}, repeat=1, progress=False)
    assert r.engine == "reference" and "overrides folio_alloc_swap" in r.engine_note
