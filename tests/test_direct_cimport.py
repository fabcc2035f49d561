"""DirectSwap's C interface (``_direct.pxd``, re-exported by ``_core.pxd``) is cimportable.

A small extension cimports the design from ``vswap._core`` and reads its
per-slot state and counts at C level, as a user's own design or a replay
engine would.
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
    from vswap._core cimport DirectSwap, direct_dev_t, direct_count

    def counts(DirectSwap ds, int t, uint64_t first, uint64_t n):
        cdef direct_dev_t* dv = &ds.d.devs[t]
        cdef uint64_t i
        return [direct_count(dv, i) for i in range(first, first + n)], dv.swap_map[first]

    def freed(DirectSwap ds):
        return ds.d.st.slots_freed
    """
)


def test_cimport_direct(tmp_path: Path):
    probe_direct = build_probe(tmp_path, "probe_direct", PYX)

    ds = vswap.DirectSwap(vswap.SwapDevices([vswap.SwapDevice(64, cluster_size=16)]))
    e = ds.folio_alloc_swap(1, order=1)
    for _ in range(70):
        ds.swap_duplicate(e)
    assert probe_direct.counts(ds, 0, e, 2) == ([70, 0], 0x40 | 0x80 | (70 % 63))
    assert probe_direct.freed(ds) == 0
