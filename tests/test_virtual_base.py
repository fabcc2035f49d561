"""The virtual designs' compiled base class: shared by both, and safe when used bare."""

import numpy as np
import pytest

import vswap
from vswap import reference
from vswap._virtual_base import VirtualCommon
from vswap.reference.virtual_common import VirtualCommon as RefVirtualCommon


def test_both_virtual_designs_derive_from_it_in_both_engines():
    assert issubclass(vswap.VirtualSwap, VirtualCommon)
    assert issubclass(vswap.SwapTableEdition, VirtualCommon)
    assert issubclass(reference.VirtualSwap, RefVirtualCommon)
    assert issubclass(reference.SwapTableEdition, RefVirtualCommon)
    # the verbs it holds are not redefined by the designs (one copy)
    for name in ("cpu", "lookup_many", "reclaim_cache_only", "_clusters"):
        assert name not in vars(vswap.VirtualSwap) and name not in vars(vswap.SwapTableEdition)
        assert name in vars(VirtualCommon)


class _Sub(VirtualCommon):
    pass


@pytest.mark.parametrize("cls", [VirtualCommon, _Sub])
def test_a_bare_base_raises_instead_of_crashing(cls):
    for obj in (cls(), cls.__new__(cls)):
        with pytest.raises(TypeError, match="base"):
            obj.cpu
        with pytest.raises(TypeError, match="base"):
            obj.cpu = 1
        with pytest.raises(TypeError, match="base"):
            obj.lookup_many(np.zeros(1, dtype=np.uint64))
        with pytest.raises(TypeError, match="base"):
            obj.reclaim_cache_only(0)
        with pytest.raises(TypeError, match="base"):
            obj.memory_footprint()
        with pytest.raises(TypeError, match="base"):
            obj._clusters()


@pytest.mark.parametrize("cls", [vswap.VirtualSwap, vswap.SwapTableEdition])
def test_its_verbs_on_a_design_whose_init_never_ran(cls):
    bare = cls.__new__(cls)
    assert bare.cpu == 0 and bare._clusters() == []
    assert bare.memory_footprint()["total"] == 0
    with pytest.raises(RuntimeError, match="not initialised"):
        bare.reclaim_cache_only(0)
    with pytest.raises(RuntimeError, match="not initialised"):
        bare.swapoff(0)


@pytest.mark.parametrize("impl", [vswap, reference])
def test_the_ghost_device_is_refused_and_a_missing_one_named(impl):
    ste = impl.SwapTableEdition(impl.SwapDevices([impl.SwapDevice(64, cluster_size=16)]))
    with pytest.raises(ValueError, match="ghost"):
        ste.swapoff(31)
    with pytest.raises(ValueError, match="not attached"):
        ste.reclaim_cache_only(3)
    vs = impl.VirtualSwap()
    with pytest.raises(ValueError, match="not attached"):
        vs.swapoff(31)
