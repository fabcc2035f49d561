"""Benchmarks of swap table phase IV (vswap.SwapTableP4) beside mainline: ns per swap entry.

The cases of ``bench_direct.py`` (the alloc + duplicate + zap cycle one call
at a time and in batches, one zap over a 2**20-entry range) on both
designs, so the figures compare directly: phase IV does the same work in
the same C loops but reads and writes the table word for every count
change, where mainline changes a ``swap_map`` byte.

Run (not part of the default test run)::

    python -m pytest bench/bench_swaptable.py --benchmark-only -p no:cacheprovider
"""

from __future__ import annotations

import numpy as np
import pytest

import vswap
from vswap import reference
from vswap.protocol import swp_entry

from bench_direct import N_CYCLE, N_REF, N_ZAP, ROUNDS, cycle_batch, cycle_single, record, zap
from bench_direct import _summary  # noqa: F401 - the autouse summary table of ns per entry

DESIGNS = ["DirectSwap", "SwapTableP4"]


def design(impl, cls, nr_slots, cs=512):
    return getattr(impl, cls)(impl.SwapDevices([impl.SwapDevice(nr_slots, cluster_size=cs)]))


@pytest.mark.parametrize("cls", DESIGNS)
@pytest.mark.benchmark(group="cycle-single")
def test_cycle_single(benchmark, request, cls):
    benchmark.pedantic(cycle_single, setup=lambda: ((design(vswap, cls, 2 * N_CYCLE), N_CYCLE), {}),
                       rounds=ROUNDS, iterations=1)
    record(benchmark, request, N_CYCLE)


@pytest.mark.parametrize("cls", DESIGNS)
@pytest.mark.benchmark(group="cycle-single")
def test_cycle_single_reference(benchmark, request, cls):
    benchmark.pedantic(cycle_single, setup=lambda: ((design(reference, cls, 4 * N_REF), N_REF), {}),
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
    """A device whose slots 512 .. 512 + 2**20 - 1 have count 1 (cached or not)."""
    ds = design(vswap, cls, N_ZAP + 512)
    es = ds.folio_alloc_swap_many(np.arange(N_ZAP // 512, dtype=np.uint64), order=9)
    assert len(es) == N_ZAP // 512 and int(es[0]) == 512 == swp_entry(0, 512)
    for e in es.tolist():
        ds.swap_duplicate(e, 512)
        if not cached:
            ds.swap_cache_del_folio(e, 9)
            ds.put_swap_folio(e, 9)
    return (ds,), {}


@pytest.mark.parametrize("cls", DESIGNS)
@pytest.mark.parametrize("cached", [False, True], ids=["uncached", "cached"])
@pytest.mark.benchmark(group="zap-1M")
def test_zap_1m(benchmark, request, cls, cached):
    benchmark.pedantic(zap, setup=lambda: zap_setup(cls, cached), rounds=ROUNDS, iterations=1)
    record(benchmark, request, N_ZAP)
