"""Lockstep fuzzing of swap table phase IV (SwapTableP4) on the public SwapSpaceMachine.

Every call is judged against the protocol model; the pure-Python reference
of the same design runs as an exact twin (results, counters, snapshots,
footprint), and the baseline design runs beside them as a second twin that
must return the same results and leave the allocator in the same state:
phase IV moves where the metadata lives, not what any verb does. The
device configurations, swapoff, swapon and batch verbs are those of
tests/test_direct_machine.py.
"""

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

import vswap
from vswap import reference
from vswap.testing.invariants import assert_consistent

from _lockstep import STEPS, VswapLockstep, assert_processes_reached, coverage_of
from test_direct_machine import DEVICES, DirectLockstep, devices


def _build(impl, cls, setup):
    return getattr(impl, cls)(devices(impl, setup))


def _allocator(design):
    """The allocator's state, with which clusters have a table but not the words in it."""
    snap = design.snapshot()["swaps"]
    for dev in snap["devices"]:
        dev["tables"] = sorted(dev["tables"])
    return snap


class SwapTableLockstep(VswapLockstep):
    NAME = "SwapTableP4"
    setups = DEVICES
    factory = staticmethod(lambda setup: _build(vswap, "SwapTableP4", setup))
    reference_factory = staticmethod(lambda setup: _build(reference, "SwapTableP4", setup))
    twin_factories = {"baseline": lambda setup: _build(vswap, "DirectSwap", setup)}
    config = DirectLockstep.config
    configure = DirectLockstep.configure

    @precondition(lambda self: hasattr(self, "space"))
    @rule(device=st.integers(0, 1))
    def discard_work(self, device):
        """The allocator's discard work, on every design."""
        if device in self.config.devices:
            a = self.space.swaps[device].run_discard()
            for name, twin in self.twins.items():
                assert a == twin.swaps[device].run_discard(), f"run_discard differs ({name})"

    def compare_twin(self, name, twin, fresh):
        if name != "baseline":
            return super().compare_twin(name, twin, fresh)
        assert_consistent(twin, live=(), freed=fresh)
        assert _allocator(self.space) == _allocator(twin), \
            "the allocator's state differs from the baseline's"


def test_swaptable_lockstep():
    SwapTableLockstep.TestCase.settings = settings(
        settings(), stateful_step_count=5 * settings().stateful_step_count // 2,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    SwapTableLockstep.coverage.clear()
    before = STEPS.get("SwapTableP4", 0)
    SwapTableLockstep.TestCase().runTest()
    steps = STEPS.get("SwapTableP4", 0) - before
    seen = coverage_of([SwapTableLockstep])
    print(f"\nSwapTableLockstep: {steps} steps checked; seen: {seen}")
    if settings().max_examples >= 100 and settings().stateful_step_count >= 60:
        assert steps >= 5000, steps
        for verb in ("folio_alloc_swap", "swap_duplicate", "swap_free_nr",
                     "free_swap_and_cache_nr", "free_swap_and_cache_many", "swapcache_prepare",
                     "swap_cache_add_folio", "swap_cache_del_folio", "put_swap_folio",
                     "lookup", "zero_store", "zswap_store", "writeback", "swapoff"):
            assert seen.get("ok:" + verb), f"{verb} never succeeded: {seen}"
        for key in ("fast_frees", "folios_reclaimed", "extend_tables_allocated",
                    "memcg_tables_allocated", "pte_walked", "zswap_walks", "scans"):
            assert seen.get("stat:" + key), f"no run exercised {key}: {seen}"
        assert_processes_reached(seen, "extend_table")
