"""Benchmarks of the virtual design (vswap.VirtualSwap) per preset, beside DirectSwap.

The same cycles run on ``direct`` (mainline DirectSwap) and on VirtualSwap
with the switches of each build of the report (``vss_v5``, ``new_opt_v2``,
``cc_v2``); every case records ns per entry, and the lookup counters of the
virtual design per entry are printed with the timings.

Groups:

- ``vcycle-single``: per entry ``folio_alloc_swap`` + ``swap_duplicate`` +
  ``free_swap_and_cache_nr`` (the zap reclaims the cache-only folio): three
  Python calls per entry.
- ``vcycle-batch``: the same life on numpy arrays (``*_many``, C loops).
- ``vcycle-zswap``: the target cycle, ``folio_alloc_swap_many`` +
  ``swap_duplicate_many`` + ``zswap_store_many`` + ``free_swap_and_cache_many``
  (target: <= 60 ns per entry for VirtualSwap).
- ``vzap-1M``: one ``free_swap_and_cache_nr`` over 2**20 count-1 cached
  entries (order-9 folios): the decrement pass plus the cache-only reclaim.

Run (not part of the default test run)::

    python -m pytest bench/bench_virtual.py --benchmark-only -s

(``-s`` shows the table of lookups per entry printed at the end.)
"""

from __future__ import annotations

import numpy as np
import pytest

import vswap

N_CYCLE = 1 << 17
N_ZAP = 1 << 20
IMPLS = ["direct", "vss_v5", "new_opt_v2", "cc_v2"]
COUNTERS: list[tuple[str, str, float, float, float]] = []


def design(impl, nr_slots):
    swaps = vswap.SwapDevices([vswap.SwapDevice(nr_slots, cluster_size=512)])
    if impl == "direct":
        return vswap.DirectSwap(swaps)
    return vswap.VirtualSwap.preset(impl, swaps)


def note(group, impl, ds, n, benchmark=None):
    """Virtual-layer lookups, node visits and MRU hits per entry of the last round."""
    if impl != "direct":
        s = ds.stats
        COUNTERS.append((group, impl, s["lookups"] / n, s["node_visits"] / n, s["mru_hits"] / n))


def cycle_single(ds, n):
    alloc, dup, zap = ds.folio_alloc_swap, ds.swap_duplicate, ds.free_swap_and_cache_nr
    for f in range(n):
        e = alloc(f)
        dup(e)
        zap(e)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.benchmark(group="vcycle-single")
def test_cycle_single(per_key, impl):
    last = []

    def setup():
        last[:] = [design(impl, 2 * N_CYCLE)]
        return (last[0], N_CYCLE), {}

    per_key(cycle_single, N_CYCLE, setup=setup, impl=impl)
    note("vcycle-single", impl, last[0], N_CYCLE)


def cycle_batch(ds, folios):
    es = ds.folio_alloc_swap_many(folios)
    ds.swap_duplicate_many(es)
    ds.free_swap_and_cache_many(es)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.benchmark(group="vcycle-batch")
def test_cycle_batch(per_key, impl):
    folios = np.arange(N_CYCLE, dtype=np.uint64)
    last = []

    def setup():
        last[:] = [design(impl, 2 * N_CYCLE)]
        return (last[0], folios), {}

    per_key(cycle_batch, N_CYCLE, setup=setup, impl=impl)
    note("vcycle-batch", impl, last[0], N_CYCLE)


def cycle_zswap(ds, folios, handles):
    es = ds.folio_alloc_swap_many(folios)
    ds.swap_duplicate_many(es)
    ds.zswap_store_many(es, handles)
    ds.free_swap_and_cache_many(es)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.benchmark(group="vcycle-zswap")
def test_cycle_zswap(per_key, impl):
    folios = np.arange(N_CYCLE, dtype=np.uint64)
    handles = folios + 1000
    last = []

    def setup():
        last[:] = [design(impl, 2 * N_CYCLE)]
        return (last[0], folios, handles), {}

    per_key(cycle_zswap, N_CYCLE, setup=setup, impl=impl)
    note("vcycle-zswap", impl, last[0], N_CYCLE)


def zap_setup(impl, holder):
    ds = design(impl, N_ZAP + 1024)
    es = ds.folio_alloc_swap_many(np.arange(N_ZAP // 512, dtype=np.uint64), order=9)
    assert len(es) == N_ZAP // 512 and int(es[-1]) - int(es[0]) == N_ZAP - 512
    ds.swap_duplicate(int(es[0]), N_ZAP)
    ds.reset_stats()
    holder[:] = [ds]
    return (ds, int(es[0])), {}


def zap(ds, first):
    ds.free_swap_and_cache_nr(first, N_ZAP)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.benchmark(group="vzap-1M")
def test_zap_1m(per_key, impl):
    last = []
    per_key(zap, N_ZAP, setup=lambda: zap_setup(impl, last), rounds=3, impl=impl)
    note("vzap-1M", impl, last[0], N_ZAP)


@pytest.fixture(scope="session", autouse=True)
def _counters():
    yield
    if COUNTERS:
        print("\nvirtual-layer work per entry (last round): lookups, xarray node visits, MRU hits")
        for group, impl, lk, nv, mru in sorted(COUNTERS):
            print(f"  {group:<14} {impl:<11} {lk:8.3f} {nv:8.3f} {mru:8.3f}")
