"""The allocator's C interface (``_swapfile.pxd``) works from other Cython code.

Builds a small extension that cimports ``vswap._swapfile``, plugs a C
reclaim hook (function pointer + context in ``swap_device_t``), allocates
with ``swap_device_alloc`` and writes table words with ``swap_table_set``:
no Python call per slot, as the swap designs built on the allocator do.
"""

import textwrap
from pathlib import Path

import pytest

import vswap
from _cython_probe import build_probe

pytest.importorskip("Cython")

PYX = textwrap.dedent(
    """
    from libc.stdint cimport uint64_t
    from vswap._swapfile cimport (SwapDevice, swap_device_t, swap_device_alloc,
                                  swap_entries_free, swap_table_get, swap_table_set,
                                  swap_reclaim_full_clusters, SWAP_TABLE_CACHE_ONLY)

    cdef struct counter:
        int calls

    cdef counter COUNTER

    cdef int cache_only_reclaim(void* ctx, swap_device_t* si, uint64_t offset) noexcept nogil:
        cdef counter* c = <counter*>ctx
        c.calls += 1
        if swap_table_get(si, offset) & SWAP_TABLE_CACHE_ONLY:
            swap_entries_free(si, offset, 1)
            return 1
        return 0

    def fill_mark_reclaim(SwapDevice dev, int n):
        cdef uint64_t off
        cdef int i, got = 0
        COUNTER.calls = 0
        dev.si.reclaim = cache_only_reclaim
        dev.si.reclaim_ctx = &COUNTER
        for i in range(n):
            if swap_device_alloc(&dev.si, 0, 0, &off) == 0:
                break
            got += 1
        for off in range(1, dev.si.max, 2):
            swap_table_set(&dev.si, off, SWAP_TABLE_CACHE_ONLY | off)
        freed = swap_reclaim_full_clusters(&dev.si, True)
        return got, freed, COUNTER.calls
    """
)


def test_c_reclaim_hook_and_table_from_cython(tmp_path: Path):
    swprobe = build_probe(tmp_path, "swprobe", PYX)

    dev = vswap.SwapDevice(1025)                   # clusters 0, 1 and the tail cluster 2
    got, freed, calls = swprobe.fill_mark_reclaim(dev, 1024)   # exactly full, no failed call
    # Filled in the order cluster 0 (nonfull[0]: the header), 2 (nonfull[0]: the
    # tail), 1 (free), so the full list is [0, 2, 1]; the reclaim work scans
    # inuse / 512 = 2 of them: the 256 odd slots of cluster 0 are reclaimed.
    assert got == 1024 and dev.nr_free == 256
    assert (freed, calls) == (256, 256)
    assert dev.stats["reclaim_calls"] == 256 and dev.stats["reclaimed"] == 256
    assert dev.clusters()["full"] == [1, 2] and dev.clusters()["nonfull"][0] == [0]
    assert dev.get_table(3) == 0 and dev.slot_state(3) == "free" and dev.slot_state(4) == "used"
    dev.set_reclaim_hook(None)
    dev.check()


def test_swapdesign_cimports_from_its_old_module_and_its_own(tmp_path: Path):
    # SwapDesign lives in _design.pxd; Cython code written against _swapfile.pxd
    # still cimports it from there, and both names are the one class.
    probe = build_probe(tmp_path, "designprobe", textwrap.dedent(
        """
        from vswap._swapfile cimport SwapDesign as Old
        from vswap._design cimport SwapDesign as New

        def kinds(obj):
            return isinstance(obj, Old), isinstance(obj, New), Old is New
        """))
    ds = vswap.DirectSwap(vswap.SwapDevices())
    assert probe.kinds(ds) == (True, True, True)
    assert probe.kinds(vswap.SwapDevice(64)) == (False, False, True)
    from vswap._swapfile import SwapDesign
    assert SwapDesign is vswap.SwapDesign is vswap._design.SwapDesign
