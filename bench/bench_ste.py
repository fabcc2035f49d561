"""Benchmarks of Virtual Swap Space, Swap Table Edition (vswap.SwapTableEdition): ns per swap entry.

The cases of ``bench_direct.py`` (the alloc + duplicate + zap cycle one call
at a time and in batches, one zap over a 2**20-entry range) on mainline,
phase IV, vswap v6 (cc_v2) and STE, so the figures compare directly: STE
walks the ghost device's xarray where the others index an array (v6 has
its MRU cache), and writes two words (table and virtual_table) and a memcg
id per slot. Then STE's own verbs: lazy writeback (a physical allocation
and a reverse-map word per slot) with separate and with one shared per-CPU
cluster cache (the invalidation ping-pong), and lookup with and without
the lookup cache. ``SwapTableEdition:direct`` is STE with every memcg's
entries direct-mapped (the same cycles through phase IV's code on STE's
devices): beside ``SwapTableP4`` it prices the dispatch on the entry's type.

Run (not part of the default test run)::

    python -m pytest bench/bench_ste.py --benchmark-only -p no:cacheprovider
"""

from __future__ import annotations

import numpy as np
import pytest

import vswap
from vswap import reference

from bench_direct import N_CYCLE, N_REF, N_ZAP, ROUNDS, cycle_batch, cycle_single, record
from bench_direct import _summary  # noqa: F401 - the autouse summary table of ns per entry

DESIGNS = ["DirectSwap", "SwapTableP4", "VirtualSwap", "SwapTableEdition",
           "SwapTableEdition:direct"]
N_WRITE = 1 << 16


def design(impl, cls, nr_slots, cs=512, **kw):
    swaps = impl.SwapDevices([impl.SwapDevice(nr_slots, cluster_size=cs)])
    if cls == "VirtualSwap":
        return impl.VirtualSwap.preset("cc_v2", swaps)
    if cls == "SwapTableEdition:direct":
        return impl.SwapTableEdition(swaps, direct_memcgs=range(65536), **kw)
    return getattr(impl, cls)(swaps, **kw)


@pytest.mark.parametrize("cls", DESIGNS)
@pytest.mark.benchmark(group="cycle-single")
def test_cycle_single(benchmark, request, cls):
    benchmark.pedantic(cycle_single, setup=lambda: ((design(vswap, cls, 2 * N_CYCLE), N_CYCLE), {}),
                       rounds=ROUNDS, iterations=1)
    record(benchmark, request, N_CYCLE)


@pytest.mark.benchmark(group="cycle-single")
def test_cycle_single_reference(benchmark, request):
    benchmark.pedantic(cycle_single,
                       setup=lambda: ((design(reference, "SwapTableEdition", 4 * N_REF), N_REF), {}),
                       rounds=2, iterations=1)
    record(benchmark, request, N_REF)


@pytest.mark.parametrize("cls", DESIGNS)
@pytest.mark.benchmark(group="cycle-batch")
def test_cycle_batch(benchmark, request, cls):
    folios = np.arange(N_CYCLE, dtype=np.uint64)
    benchmark.pedantic(cycle_batch, setup=lambda: ((design(vswap, cls, 2 * N_CYCLE), folios), {}),
                       rounds=ROUNDS, iterations=1)
    record(benchmark, request, N_CYCLE)


def zap_setup(cls, cached):
    """2**20 entries in order-9 runs, each with count 1 (cached or not); the first entry."""
    ds = design(vswap, cls, N_ZAP + 1024)
    es = ds.folio_alloc_swap_many(np.arange(N_ZAP // 512, dtype=np.uint64), order=9)
    assert len(es) == N_ZAP // 512 and int(es[-1]) - int(es[0]) == N_ZAP - 512
    for e in es.tolist():
        ds.swap_duplicate(e, 512)
        if not cached:
            ds.swap_cache_del_folio(e, 9)
            ds.put_swap_folio(e, 9)
    return (ds, int(es[0])), {}


def zap(ds, first):
    ds.free_swap_and_cache_nr(first, N_ZAP)


@pytest.mark.parametrize("cls", DESIGNS)
@pytest.mark.parametrize("cached", [False, True], ids=["uncached", "cached"])
@pytest.mark.benchmark(group="zap-1M")
def test_zap_1m(benchmark, request, cls, cached):
    benchmark.pedantic(zap, setup=lambda: zap_setup(cls, cached), rounds=ROUNDS, iterations=1)
    record(benchmark, request, N_ZAP)


def alloc_writeback(ds, n):
    alloc, wb = ds.folio_alloc_swap, ds.writeback
    for f in range(n):
        wb(alloc(f))


@pytest.mark.parametrize("shared", [False, True], ids=["separate", "shared"])
@pytest.mark.benchmark(group="alloc-writeback")
def test_alloc_writeback(benchmark, request, shared):
    """A virtual allocation then its physical one, alternating on one CPU (zswap writeback)."""
    benchmark.pedantic(alloc_writeback, setup=lambda: (
        (design(vswap, "SwapTableEdition", 2 * N_WRITE, shared_cluster_cache=shared), N_WRITE),
        {}), rounds=ROUNDS, iterations=1)
    record(benchmark, request, N_WRITE)


def lookup_setup(lookup_cache):
    ds = design(vswap, "SwapTableEdition", 1024, lookup_cache=lookup_cache)
    es = ds.folio_alloc_swap_many(np.arange(N_CYCLE, dtype=np.uint64))
    return (ds, es), {}


@pytest.mark.parametrize("lookup_cache", [False, True], ids=["walk", "lookup-cache"])
@pytest.mark.benchmark(group="lookup-batch")
def test_lookup_many(benchmark, request, lookup_cache):
    benchmark.pedantic(lambda ds, es: ds.lookup_many(es), setup=lambda: lookup_setup(lookup_cache),
                       rounds=ROUNDS, iterations=1)
    record(benchmark, request, N_CYCLE)
