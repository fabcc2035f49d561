"""Benchmarks of the mainline design (vswap.DirectSwap): ns per swap entry.

Groups:

- ``cycle-single``: per entry, ``folio_alloc_swap`` + ``swap_duplicate`` +
  ``free_swap_and_cache_nr`` (the count reaches 0 while cached, so the zap
  reclaims the folio and frees the slot): three Python calls per entry.
- ``cycle-batch``: the same life on numpy arrays: ``folio_alloc_swap_many``,
  ``swap_duplicate_many``, ``free_swap_and_cache_many`` (C loops).
- ``zap-1M``: one ``free_swap_and_cache_nr`` over a 2**20-entry range of
  count-1 entries (``uncached``: the per-cluster fast path frees each
  cluster at once; ``cached``: they become cache-only and the reclaim scan
  frees 2048 order-9 folios).
- ``reference``: the single cycle on the pure-Python model, for scale.

Every case runs in pedantic mode with a fresh design per round (built
outside the timed region) and records ``ns_per_entry`` in ``extra_info``;
a summary table (median and fastest round) is printed at the end; on a
shared machine the fastest round is the steadier figure.

Run (not part of the default test run)::

    python -m pytest bench/bench_direct.py --benchmark-only -p no:cacheprovider
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import vswap
from vswap import reference
from vswap.protocol import swp_entry

ROUNDS = int(os.environ.get("VSWAP_BENCH_ROUNDS", "5"))
N_CYCLE = 1 << 17
N_REF = 5_000
N_ZAP = 1 << 20
RESULTS: list[tuple[str, str, int, float, float]] = []


def design(impl, nr_slots, cs=512):
    return impl.DirectSwap(impl.SwapDevices([impl.SwapDevice(nr_slots, cluster_size=cs)]))


def record(benchmark, request, n):
    benchmark.extra_info["entries"] = n
    if benchmark.stats is not None:
        ns = benchmark.stats.stats.median / n * 1e9
        best = benchmark.stats.stats.min / n * 1e9
        benchmark.extra_info["ns_per_entry"] = round(ns, 2)
        benchmark.extra_info["ns_per_entry_min"] = round(best, 2)
        RESULTS.append((benchmark.group, request.node.name, n, ns, best))


def cycle_single(ds, n):
    alloc, dup, zap = ds.folio_alloc_swap, ds.swap_duplicate, ds.free_swap_and_cache_nr
    for f in range(n):
        e = alloc(f)
        dup(e)
        zap(e)


@pytest.mark.benchmark(group="cycle-single")
def test_cycle_single(benchmark, request):
    benchmark.pedantic(cycle_single, setup=lambda: ((design(vswap, 2 * N_CYCLE), N_CYCLE), {}),
                       rounds=ROUNDS, iterations=1)
    record(benchmark, request, N_CYCLE)


@pytest.mark.benchmark(group="cycle-single")
def test_cycle_single_reference(benchmark, request):
    benchmark.pedantic(cycle_single, setup=lambda: ((design(reference, 4 * N_REF), N_REF), {}),
                       rounds=2, iterations=1)
    record(benchmark, request, N_REF)


def cycle_batch(ds, folios):
    es = ds.folio_alloc_swap_many(folios)
    ds.swap_duplicate_many(es)
    ds.free_swap_and_cache_many(es)


@pytest.mark.benchmark(group="cycle-batch")
def test_cycle_batch(benchmark, request):
    folios = np.arange(N_CYCLE, dtype=np.uint64)
    benchmark.pedantic(cycle_batch, setup=lambda: ((design(vswap, 2 * N_CYCLE), folios), {}),
                       rounds=ROUNDS, iterations=1)
    record(benchmark, request, N_CYCLE)


def zap_setup(cached):
    """A device whose slots 512 .. 512 + 2**20 - 1 have count 1 (cached or not)."""
    ds = design(vswap, N_ZAP + 512)
    es = ds.folio_alloc_swap_many(np.arange(N_ZAP // 512, dtype=np.uint64), order=9)
    assert len(es) == N_ZAP // 512 and int(es[0]) == 512
    for e in es.tolist():
        ds.swap_duplicate(e, 512)
        if not cached:
            ds.swap_cache_del_folio(e, 9)
            ds.put_swap_folio(e, 9)
    return (ds,), {}


def zap(ds):
    ds.free_swap_and_cache_nr(swp_entry(0, 512), N_ZAP)


@pytest.mark.parametrize("cached", [False, True], ids=["uncached", "cached"])
@pytest.mark.benchmark(group="zap-1M")
def test_zap_1m(benchmark, request, cached):
    benchmark.pedantic(zap, setup=lambda: zap_setup(cached), rounds=ROUNDS, iterations=1)
    record(benchmark, request, N_ZAP)


@pytest.fixture(scope="session", autouse=True)
def _summary():
    yield
    if RESULTS:
        print("\nns per entry (median and fastest round / entries):")
        for group, name, n, ns, best in sorted(RESULTS):
            print(f"  {group:<14} {name:<40} {n:>8} {ns:>10.1f} {best:>10.1f}")
