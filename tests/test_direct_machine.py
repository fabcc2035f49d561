"""Lockstep fuzzing of the compiled DirectSwap: the public SwapSpaceMachine, with vswap's extras.

The machine is :class:`vswap.testing.SwapSpaceMachine`, as a user would
subclass it: every call is judged against the protocol model, and the
pure-Python reference design runs as an exact twin (same results or
exception types, same counters, snapshots, memory footprint and rewritten
page tables after every step; a call that raised leaves both snapshots
unchanged). What this file adds is DirectSwap's own: a drawn device
configuration (1-2 devices of 2-4 clusters of 16 or 32 slots, a short tail,
HDD or SSD, discard, priorities), swapoff with the page tables that hold
every reference (or one too few / too many), swapon after it, the
allocator's discard work, batch verbs, malformed calls, the multi-call
scenarios, and at CI length a check that every verb succeeded and every
counter moved.
"""

from dataclasses import replace

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

import vswap
from vswap import reference
from vswap.testing import StepConfig

from _lockstep import STEPS, VswapLockstep, assert_processes_reached, coverage_of

DEVICES = st.fixed_dictionaries({
    "cs": st.sampled_from([16, 32]), "nclusters": st.integers(2, 4), "ndev": st.integers(1, 2),
    "tail": st.integers(0, 5), "hdd": st.booleans(), "discard": st.booleans(),
    "prios": st.sampled_from([(None, None), (5, None), (1, 2)]),
}).map(lambda d: {**d, "nr_slots": d["cs"] * d["nclusters"] - d["tail"]})


def devices(impl, setup):
    """The drawn setup's device set, of ``impl``'s SwapDevice."""
    kw = dict(cluster_size=setup["cs"], solid_state=not setup["hdd"], discard=setup["discard"])
    return impl.SwapDevices([impl.SwapDevice(setup["nr_slots"], priority=setup["prios"][i], **kw)
                             for i in range(setup["ndev"])])


def _direct(impl, setup):
    return impl.DirectSwap(devices(impl, setup))


class DirectLockstep(VswapLockstep):
    NAME = "DirectSwap"
    setups = DEVICES
    factory = staticmethod(lambda setup: _direct(vswap, setup))
    reference_factory = staticmethod(lambda setup: _direct(reference, setup))
    config = StepConfig(max_order=6, mthp_share=0.4, nr_cpus=3, nr_memcgs=4, swapoff=True,
                        page_tables=True, batch=True, scenarios=True, invalid_share=0.1,
                        malformed_share=0.05)

    def configure(self, setup):
        return replace(self.config, devices=tuple(range(setup["ndev"])),
                       max_order=setup["cs"].bit_length() - 1)  # a folio fits in a cluster

    @precondition(lambda self: hasattr(self, "space"))
    @rule(device=st.integers(0, 1))
    def discard_work(self, device):
        """The allocator's discard work (discard devices park freed clusters)."""
        if device in self.config.devices:
            a = self.space.swaps[device].run_discard()
            assert a == self.twin.swaps[device].run_discard(), "run_discard differs"

    @invariant()
    def allocator_hook_was_called(self):
        if any(d["stats"]["reclaim_calls"] for d in self.space.snapshot()["swaps"]["devices"]):
            type(self).coverage["allocator_hook_calls"] += 1


def test_direct_lockstep():
    # 2.5 times the profile's steps per run: hypothesis ends some runs early, and the ci
    # profile must still check more steps than the private machine this replaced (11,605).
    DirectLockstep.TestCase.settings = settings(
        settings(), stateful_step_count=5 * settings().stateful_step_count // 2,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    DirectLockstep.coverage.clear()
    before = STEPS.get("DirectSwap", 0)
    DirectLockstep.TestCase().runTest()
    steps = STEPS.get("DirectSwap", 0) - before
    seen = coverage_of([DirectLockstep])
    print(f"\nDirectLockstep: {steps} steps checked; seen: {seen}")
    if settings().max_examples >= 100 and settings().stateful_step_count >= 60:
        assert steps >= 5000, steps
        # every verb succeeded at least once and every counter moved
        for verb in ("folio_alloc_swap", "folio_alloc_swap_many", "swap_duplicate",
                     "swap_duplicate_many", "swap_free_nr", "swap_free_many",
                     "free_swap_and_cache_nr", "free_swap_and_cache_many", "swapcache_prepare",
                     "swap_cache_add_folio", "swap_cache_del_folio", "put_swap_folio",
                     "lookup", "lookup_many", "zero_store", "zswap_store", "zswap_store_many",
                     "zswap_invalidate", "writeback", "reclaim_cache_only", "swapoff", "swapon",
                     "reset_stats"):
            assert seen.get("ok:" + verb), f"{verb} never succeeded: {seen}"
        for key in ("fast_frees", "folios_reclaimed", "cont_pages_allocated", "pte_walked",
                    "zswap_walks", "scans"):
            assert seen.get("stat:" + key), f"no run exercised {key}: {seen}"
        assert seen.get("allocator_hook_calls"), f"the allocator never called the hook: {seen}"
        assert_processes_reached(seen, "continuation")
