"""Lockstep fuzzing of mainline 7.1 (Mainline71) on the public SwapSpaceMachine.

Every call is judged against the protocol model; the pure-Python reference
of the same design runs as an exact twin (results, counters, snapshots,
footprint). Phase IV (SwapTableP4) runs beside them as the second twin: 7.1
has phase IV's table word and walks with 6.19's static swap_cgroup and
zeromap, so every verb must return the same results and leave the allocator
in the same state, and every count and cached folio must be the same word
but for the zero flag, which phase IV keeps in the word and 7.1 in its
zeromap. The device configurations are those of tests/test_direct_machine.py.
"""

from hypothesis import HealthCheck, settings

import vswap
from vswap import reference
from vswap.reference.swaptable import SWP_TB_ZERO
from vswap.testing.invariants import assert_consistent

from _lockstep import STEPS, assert_processes_reached, coverage_of
from test_swaptable_machine import SwapTableLockstep, _allocator, _build


def _words(design):
    """Per device, every used slot's (table word without the zero flag, count, memcg)."""
    return {t: {off: (s[0] & ~SWP_TB_ZERO, s[1], s[2]) for off, s in d["slots"].items()}
            for t, d in design.snapshot()["devices"].items()}


class Mainline71Lockstep(SwapTableLockstep):
    NAME = "Mainline71"
    factory = staticmethod(lambda setup: _build(vswap, "Mainline71", setup))
    reference_factory = staticmethod(lambda setup: _build(reference, "Mainline71", setup))
    twin_factories = {"swaptable_p4": lambda setup: _build(vswap, "SwapTableP4", setup)}

    def compare_twin(self, name, twin, fresh):
        assert_consistent(twin, live=(), freed=fresh)
        assert _allocator(self.space) == _allocator(twin), \
            "the allocator's state differs from phase IV's"
        assert _words(self.space) == _words(twin), "a table word differs from phase IV's"


def test_mainline71_lockstep():
    Mainline71Lockstep.TestCase.settings = settings(
        settings(), stateful_step_count=5 * settings().stateful_step_count // 2,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    Mainline71Lockstep.coverage.clear()
    before = STEPS.get("Mainline71", 0)
    Mainline71Lockstep.TestCase().runTest()
    steps = STEPS.get("Mainline71", 0) - before
    seen = coverage_of([Mainline71Lockstep])
    print(f"\nMainline71Lockstep: {steps} steps checked; seen: {seen}")
    assert steps > 0
    if settings().max_examples >= 100 and settings().stateful_step_count >= 60:
        assert steps >= 5000, steps
        for verb in ("folio_alloc_swap", "swap_duplicate", "swap_free_nr",
                     "free_swap_and_cache_nr", "swapcache_prepare", "swap_cache_add_folio",
                     "swap_cache_del_folio", "put_swap_folio", "lookup", "zero_store",
                     "zswap_store", "writeback", "swapoff"):
            assert seen.get("ok:" + verb), f"{verb} never succeeded: {seen}"
        assert_processes_reached(seen, "extend_table")
