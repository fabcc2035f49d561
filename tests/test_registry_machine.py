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
