"""Robust by construction: unbuilt instances, copy and pickle, and device ownership."""

import copy
import gc
import itertools
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import vswap
from vswap import reference

HERE = Path(__file__).parent


def _sweep_classes():
    from _sweep import _design_classes
    return _design_classes()


def run_python(code, *flags):
    return subprocess.run([sys.executable, *flags, "-c", code], capture_output=True, text=True,
                          timeout=120)


# -- safe from the first byte ---------------------------------------------------------------


def test_every_public_method_survives_instances_that_were_never_built():
    # Bare (__new__ only), half-built (__init__ raised), a subclass that skips
    # super().__init__() and a closed design: every public method of every
    # compiled class works or raises a clear exception. In a child process, so
    # that a segfault fails this test and names the call (the last line).
    r = subprocess.run([sys.executable, str(HERE / "_sweep.py")], capture_output=True,
                       text=True, timeout=300)
    last = r.stderr.strip().splitlines()[-1:] or [""]
    assert r.returncode == 0, f"status {r.returncode}, last call {last[0]}\n{r.stdout}"
    assert last[0].startswith("sweep: ") and int(last[0].split()[1]) > 5000


@pytest.mark.parametrize("verb", ["check", "snapshot", "swapon", "__vswap_ops__"])
def test_bare_virtualswap_raises_instead_of_crashing(verb):
    # Regression: the per-memcg charge array was allocated in __init__, so a
    # bare instance's check() read through a NULL pointer (segfault).
    r = run_python("import vswap\nV = vswap.VirtualSwap\nv = V.__new__(V)\n"
                   f"try: getattr(v, {verb!r})(*([None] if {verb!r} == 'swapon' else []))\n"
                   "except RuntimeError as e: print('RuntimeError', e)\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "RuntimeError VirtualSwap is not initialised"


def _filled_xarray():
    xa = vswap.XArray(track_free=True)
    for i in (0, 5, 1 << 40):
        xa[i] = f"v{i}"
    xa.set_mark(5, 1)
    return xa


def _live(cls):
    swaps = vswap.SwapDevices([vswap.SwapDevice(64, cluster_size=16)])
    if cls is vswap.SwapDevices:
        return swaps
    if cls is vswap.SwapDevice:
        return vswap.SwapDevice(64, cluster_size=16)
    return cls(swaps)


@pytest.mark.parametrize("how", [pickle.dumps, copy.copy, copy.deepcopy],
                         ids=["pickle", "copy", "deepcopy"])
@pytest.mark.parametrize("cls", [vswap.SwapDevice, vswap.SwapDevices, *_sweep_classes()])
def test_stateful_classes_refuse_copy_and_pickle(cls, how):
    # Their C state holds pointers (devices, hooks): no copy can be exact.
    for obj in (_live(cls), cls.__new__(cls)):
        with pytest.raises(TypeError):
            how(obj)


@pytest.mark.parametrize("how", [lambda x: pickle.loads(pickle.dumps(x)), copy.copy,
                                 copy.deepcopy], ids=["pickle", "copy", "deepcopy"])
def test_xarray_copy_and_pickle_restore_the_state_exactly(how):
    for xa in (_filled_xarray(), vswap.XArray.__new__(vswap.XArray)):
        twin = how(xa)
        assert type(twin) is type(xa) and twin is not xa
        assert list(twin.items()) == list(xa.items()) and twin.track_free == xa.track_free
        assert [[twin.get_mark(i, m) for i in xa] for m in range(1, 3)] == \
            [[xa.get_mark(i, m) for i in xa] for m in range(1, 3)]
        twin.check()


# -- one owner per device ----------------------------------------------------------------------

# Every registered design's class (the registry's loop; _sweep.py reads it too).
DESIGNS = [cls.__name__ for cls in _sweep_classes()]


@pytest.fixture(params=["compiled", "reference"])
def impl(request):
    return vswap if request.param == "compiled" else reference


@pytest.mark.parametrize("first,second", list(itertools.product(DESIGNS, DESIGNS)))
def test_a_live_designs_devices_cannot_be_taken(impl, first, second):
    swaps = impl.SwapDevices([impl.SwapDevice(64, cluster_size=16)])
    a = getattr(impl, first)(swaps)
    e = a.folio_alloc_swap(1)
    with pytest.raises(ValueError, match=f"belongs to a live {first}"):
        getattr(impl, second)(swaps)
    assert swaps.owner == swaps[0].owner == first
    a.check()                                   # its reclaim hook is still its own
    assert a.swap_cache_get_folio(e) == 1


def test_directswap_does_not_take_a_virtualswaps_devices(impl):
    # Regression: DirectSwap's guard only looked for another DirectSwap, took the
    # devices of a live VirtualSwap and replaced their reclaim hook.
    vs = impl.VirtualSwap(impl.SwapDevices([impl.SwapDevice(64, cluster_size=16)]))
    e = vs.folio_alloc_swap(1)
    vs.writeback(e)
    with pytest.raises(ValueError):
        impl.DirectSwap(vs.swaps)
    vs.check()


def test_an_owned_device_keeps_its_designs_hook(impl):
    ds = impl.DirectSwap(impl.SwapDevices([impl.SwapDevice(64, cluster_size=16)]))
    with pytest.raises(ValueError, match="belongs to a live DirectSwap"):
        ds.swaps[0].set_reclaim_hook(lambda d, off: 0)
    ds.check()


def _hooked_device(impl, calls):
    dev = impl.SwapDevice(17, cluster_size=16)
    dev.set_reclaim_hook(lambda d, off: calls.append(off) or 0)
    return dev


def _hook_runs(impl, dev, calls):
    """Whether the device's own hook is back: a full cluster's cache-only slot reaches it."""
    dev.alloc_many(15)
    dev.set_table(3, impl.SWAP_TABLE_CACHE_ONLY)
    dev.reclaim_full_clusters()
    return calls == [3]


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("release", ["close", "with", "collect"])
def test_closing_or_collecting_a_design_releases_and_restores_hooks(impl, design, release):
    calls = []
    dev = _hooked_device(impl, calls)
    swaps = impl.SwapDevices([dev])
    cls = getattr(impl, design)
    if release == "with":
        with cls(swaps) as d:
            assert dev.owner == design
        assert d.swaps is None
    else:
        d = cls(swaps)
        assert dev.owner == design
        if release == "close":
            d.close()
            d.close()                       # twice: nothing
            with pytest.raises(RuntimeError, match="closed"):
                d.folio_alloc_swap(1)
            with pytest.raises(RuntimeError, match="closed"):
                d.check()
        else:
            del d
            gc.collect()
    assert dev.owner is None and swaps.owner is None
    assert _hook_runs(impl, dev, calls)
    other = impl.DirectSwap if design == "VirtualSwap" else impl.VirtualSwap
    assert other(swaps).swaps is swaps       # free for the next design


def test_closed_designs_agree_with_their_reference():
    for name in DESIGNS:
        for impl in (vswap, reference):
            d = getattr(impl, name)(impl.SwapDevices([impl.SwapDevice(64, cluster_size=16)]))
            d.close()
            for call in (lambda: d.swap_count(1), lambda: d.swapon(impl.SwapDevice(64)),
                         lambda: d.lookup_many(np.zeros(0, np.uint64)), d.snapshot,
                         lambda: d.reclaim_cache_only(0), d.__enter__):
                with pytest.raises(RuntimeError, match=f"{name} is closed"):
                    call()
