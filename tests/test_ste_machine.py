"""Lockstep fuzzing of Virtual Swap Space, Swap Table Edition (SwapTableEdition), per switch setting.

One machine per setting of ``shared_cluster_cache`` (it moves where entries
are allocated, so the two settings are separate machines), each
:class:`vswap.testing.SwapSpaceMachine` judged against the protocol model
with the pure-Python reference of the same setting as an exact twin
(results or exception types, counters, snapshots, footprint). The same
design with ``lookup_cache`` on runs as a second twin: it must return the
same results and reach the same state, and only the lookup counters may
differ. The drawn setup has 0-2 small devices and sometimes a small
cluster-id cap, as in tests/test_virtual_machine.py, and sometimes memcgs
whose entries are direct-mapped physical slots (``direct_memcgs``): then
ghost and phase IV entries share the devices, and swapoff gets page tables
holding every direct-mapped reference (the classic walk they still need).
"""

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

import vswap
from vswap import reference
from vswap.testing.strategies import Step

from _lockstep import (
    MACHINE_VERBS, STEPS, VswapLockstep, assert_processes_reached, coverage_of,
)
from test_virtual_machine import VirtualLockstep

LOOKUP_COUNTERS = {"lookups", "node_visits", "lookup_hits", "lookup_misses"}

SETUPS = st.fixed_dictionaries({
    "nclusters": st.integers(2, 4), "ndev": st.integers(0, 2), "tail": st.integers(0, 5),
    "max_clusters": st.sampled_from([2, 3, 8388607, 8388607]),
    "direct": st.sampled_from([(), (), (1,), (0, 2)]),
}).map(lambda d: {**d, "cs": 16, "nr_slots": 16 * d["nclusters"] - d["tail"]})


def _ste(impl, shared, lookup_cache, rfc=2):
    def make(setup):
        devices = impl.SwapDevices([impl.SwapDevice(setup["nr_slots"], cluster_size=16)
                                    for _ in range(setup["ndev"])])
        return impl.SwapTableEdition(devices, shared_cluster_cache=shared,
                                     lookup_cache=lookup_cache,
                                     max_clusters=setup["max_clusters"],
                                     direct_memcgs=setup["direct"], rfc=rfc)
    return make


class SteLockstep(VswapLockstep):
    setups = SETUPS
    config = VirtualLockstep.config
    stats_moved: set = set()

    def configure(self, setup):
        # direct-mapped entries need page tables at swapoff
        return replace(VirtualLockstep.configure(self, setup), page_tables=bool(setup["direct"]))
    set_cpu = VirtualLockstep.set_cpu

    def compare_twin(self, name, twin, fresh):
        if name == "reference":
            return super().compare_twin(name, twin, fresh)
        twin.check()
        a, other = self.space.snapshot(), twin.snapshot()
        drop = ("stats", "lookup_cache")
        assert ({k: v for k, v in other.items() if k not in drop}
                == {k: v for k, v in a.items() if k not in drop}), f"{name} differs"
        diff = {k for k in a["stats"] if a["stats"][k] != other["stats"][k]}
        assert diff <= LOOKUP_COUNTERS, f"{name}: counters {diff - LOOKUP_COUNTERS} differ"
        SteLockstep.stats_moved.update(k for k, v in other["stats"].items() if v)
        SteLockstep.stats_moved.update(k for k, v in a["stats"].items() if v)

    @precondition(lambda self: hasattr(self, "space"))
    @rule(order=st.sampled_from([4, 9]), memcg=st.integers(0, 1))
    def big_folio_cycle(self, order, memcg):
        """A large folio mapped, written back and zapped: its clusters may empty and be freed."""
        e = self.run_step(Step("folio_alloc_swap", (self.next_folio, order, memcg, 0)))
        if self.last_exc is None:
            self.run_step(Step("swap_duplicate", (e, 1 << order)))
            if order == 4 and self.config.devices:
                self.run_step(Step("writeback", (e, order)))
            self.run_step(Step("free_swap_and_cache_nr", (e, 1 << order)))


def _machine(shared, rfc=2):
    tag = ("shared" if shared else "separate") + ("" if rfc == 2 else f", rfc {rfc}")
    return type(f"SteLockstep_{tag}", (SteLockstep,), {
        "NAME": f"SwapTableEdition[{tag}]",
        "factory": staticmethod(_ste(vswap, shared, False, rfc)),
        "reference_factory": staticmethod(_ste(reference, shared, False, rfc)),
        "twin_factories": {"lookup_cache": _ste(vswap, shared, True, rfc)},
    })


# RFC v2 (the default) with separate and shared per-CPU caches; RFC v1 (vswap_ste_v1).
MACHINES = [_machine(False), _machine(True), _machine(False, rfc=1)]


@pytest.mark.parametrize("machine", MACHINES, ids=["separate", "shared", "v1"])
def test_ste_lockstep(machine):
    machine.TestCase.settings = settings(
        settings(), stateful_step_count=5 * settings().stateful_step_count // 4,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    machine.coverage.clear()
    before = STEPS.get(machine.NAME, 0)
    machine.TestCase().runTest()
    steps = STEPS.get(machine.NAME, 0) - before
    print(f"\n{machine.NAME}: {steps} steps checked")
    assert steps >= machine.coverage["steps"] > 0


def test_ste_machines_exercised_every_verb_and_counter():
    """Runs after the machines (file order): every verb succeeded and every counter moved."""
    seen = coverage_of(MACHINES)
    if not seen:
        pytest.skip("the machines did not run (selected alone)")
    print(f"\nSteLockstep: {seen}")
    if not (settings().max_examples >= 100 and settings().stateful_step_count >= 60):
        return  # short dev runs may not reach every path
    never = {v for v in MACHINE_VERBS if not seen.get("ok:" + v)}
    assert not never, f"never succeeded: {never}"
    assert_processes_reached(seen, "extend_table")
    stats = set(vswap.SwapTableEdition().stats)
    assert stats <= SteLockstep.stats_moved, \
        f"counters never moved: {stats - SteLockstep.stats_moved}"
