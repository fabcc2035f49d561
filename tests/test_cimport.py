"""The C-level interface in the .pxd files is usable from other Cython code.

Builds a small extension that cimports the tree from ``vswap._core`` and
drives it with no Python call per operation, as later core modules do.
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
    from vswap._core cimport (XArray, xarray_t, xa_entry, xa_init, xa_destroy, xa_load,
                              xa_store, xa_erase, xa_find, xa_node, xa_mk_value, xa_to_value,
                              xa_set_mark)

    def through_class(XArray xa, uint64_t n):
        cdef uint64_t i
        cdef xa_entry old
        for i in range(n):
            xa_store(&xa.xa, i * 512, xa_mk_value(i), &old)
        return xa_to_value(xa_load(&xa.xa, (n - 1) * 512))

    def bare_tree(uint64_t n):
        cdef xarray_t t
        cdef xa_entry old
        cdef uint64_t i, idx = 1, found = 0
        cdef xa_node* leaf
        xa_init(&t)
        for i in range(1, n + 1):
            xa_store(&t, i << 20, xa_mk_value(i), &old)
        xa_set_mark(&t, 7 << 20, 1)
        if xa_find(&t, &idx, <uint64_t>-1, 1, &leaf):
            found = idx
        erased = xa_to_value(xa_erase(&t, 3 << 20))
        result = (t.nr_entries, found, erased, t.stats.nodes_allocated)
        xa_destroy(&t)
        return result
    """
)


def test_cimport_from_core(tmp_path: Path):
    probe = build_probe(tmp_path, "probe", PYX)

    xa = vswap.XArray()
    assert probe.through_class(xa, 1000) == 999
    assert len(xa) == 1000 and xa[512 * 10] == 10
    xa.check()
    entries, found, erased, allocated = probe.bare_tree(100)
    assert (entries, found, erased) == (99, 7 << 20, 3)
    assert allocated > 0
