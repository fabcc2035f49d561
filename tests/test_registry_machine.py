"""Every registered design in lockstep with its twin, from the registry alone.

A design registered with ``on_devices`` (:func:`vswap.designs.register_builtin`)
is driven here on the public :class:`vswap.testing.SwapSpaceMachine`, against
the protocol model, with its reference twin as an exact twin, on the drawn
device configurations of the baseline's machine: a new design is fuzzed in
lockstep without a test file of its own (its own machine, with its own
scenarios and twins, can come later). The deeper per-design machines are
tests/test_*_machine.py.
"""

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, settings

import vswap
from vswap import reference
from vswap.designs import registered_designs
from vswap.testing import StepConfig

from _lockstep import STEPS, VswapLockstep
from test_direct_machine import DEVICES, devices

DESIGNS = [n for n, d in registered_designs().items() if d.on_devices is not None]


def machine_for(name):
    build = registered_designs()[name].on_devices
    probe = build(vswap, vswap.SwapDevices([vswap.SwapDevice(64, cluster_size=16)]))
    # swapoff walks the page tables where an entry is a slot (and for STE's
    # direct-mapped entries): there the model holds it to every reference
    walks = type(probe).entry_is_slot or bool(getattr(probe, "direct_memcgs", ()))
    probe.close()

    class RegistryLockstep(VswapLockstep):
        NAME = f"registry:{name}"
        setups = DEVICES
        factory = staticmethod(lambda setup: build(vswap, devices(vswap, setup)))
        reference_factory = staticmethod(lambda setup: build(reference, devices(reference, setup)))
        config = StepConfig(max_order=4, mthp_share=0.4, nr_cpus=3, nr_memcgs=4, swapoff=True,
                            page_tables=walks, batch=True, scenarios=True, invalid_share=0.1,
                            malformed_share=0.05)

        def configure(self, setup):
            return replace(self.config, devices=tuple(range(setup["ndev"])),
                           max_order=min(4, setup["cs"].bit_length() - 1))

    return RegistryLockstep


@pytest.mark.parametrize("name", DESIGNS)
def test_registered_design_in_lockstep_with_its_twin(name):
    machine = machine_for(name)
    # A tenth of a dedicated machine's budget each: the registry's designs are many.
    base = settings()
    machine.TestCase.settings = settings(
        base, max_examples=max(3, base.max_examples // 10),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    before = STEPS.get(machine.NAME, 0)
    machine.TestCase().runTest()
    assert STEPS.get(machine.NAME, 0) > before


SETUP = {"cs": 16, "nclusters": 2, "ndev": 1, "tail": 0, "hdd": False, "discard": False,
         "prios": (None, None), "nr_slots": 32}
# the metadata each design builds for a count past its inline bits (none: a wide count)
OVERFLOW = {"DirectSwap": "continuation", "SwapTableP4": "extend_table",
            "Mainline71": "extend_table", "SwapTableEdition": "extend_table"}


def count(m, e):
    """swap_count on the design and its twin (a query moves counters: both or neither)."""
    got = m.space.swap_count(e)
    assert m.twin.swap_count(e) == got
    return got


@pytest.mark.parametrize("name", DESIGNS)
def test_a_page_shared_past_the_inline_count_is_checked_in_lockstep(name):
    """The machine's fork and exit paths, at counts past every design's inline bits.

    A page mapped once, forked to 8,065 children (a second continuation page
    in the baseline, an extend table in phase IV, 7.1 and STE), one COW
    fault's reference dropped, then every child exits: each step judged
    against the model and the twin, the overflow structure in use while the
    count is above the inline bits and gone after.
    """
    from vswap.testing.strategies import SHARERS_DEEP, SWP_TB_COUNT_MAX, Step

    m = machine_for(name)()
    m._build(SETUP)
    e = m.run_step(Step("folio_alloc_swap", (m.next_folio, 1, 0, 0)))
    m.run_step(Step("swap_duplicate", (e, 2)))
    m.run_step(Step("writeback", (e, 1)))
    m.run_step(Step("swap_cache_del_folio", (e, 1, 7)))
    m.run_step(Step("put_swap_folio", (e, 1)))
    m.observable_state_matches_the_model()
    key = OVERFLOW.get(type(m.space).__name__)
    before = m.space.memory_footprint()
    assert key is None or before[key] == 0
    for children in (SWP_TB_COUNT_MAX, SHARERS_DEEP - SWP_TB_COUNT_MAX):
        assert m.fork_range(e, 2, children) == children
        m.observable_state_matches_the_model()
    assert count(m, e) == count(m, e + 1) == 1 + SHARERS_DEEP
    if key is not None:
        assert m.space.memory_footprint()[key] > 0, m.space.memory_footprint()
    if key == "continuation":
        assert m.space.stats["cont_pages_allocated"] >= 2       # a second digit's page
    # a COW fault of one sharer: read into the swap cache once, its reference dropped
    m.run_step(Step("swapcache_prepare", (e, 1)))
    m.run_step(Step("swap_cache_add_folio", (e, m.next_folio, 0)))
    m.run_step(Step("swap_free_nr", (e, 1)))
    assert m.last_exc is None and count(m, e) == SHARERS_DEEP
    m.exit_range(e, 2, SHARERS_DEEP - 1)
    m.observable_state_matches_the_model()
    assert count(m, e) == 1 and count(m, e + 1) == 2
    if key == "extend_table":          # freed once none of its counts is above the inline bits
        assert m.space.memory_footprint()[key] == 0, m.space.memory_footprint()
    m.exit_range(e, 1, 1)              # the last sharer: the cached folio goes with the entry
    m.exit_range(e + 1, 1, 2)
    m.observable_state_matches_the_model()
    assert m.last_exc is None and m.model.entries == {}
    if key == "continuation":          # the kernel frees continuation pages at swapoff only
        assert m.space.memory_footprint()[key] > 0
    elif key is not None:
        assert m.space.memory_footprint()[key] == 0
