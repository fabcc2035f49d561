"""Benchmarks of the swap slot allocator: ns per slot, compiled vs reference vs baselines.

Operations: alloc + free of order-0, order-4 and order-9 ranges, batched
(``alloc_many`` + ``free_many``) and one call at a time, on a fresh device
and on a fragmented one (filled, then every other 64-slot run freed, so
allocation has to scan). Beside the compiled ``SwapDevice``:

- the pure-Python reference model (on a smaller device);
- the free-slot structure a user would write: a Python list used as a
  free stack of aligned ranges (``pop`` / ``append``);
- ``pyroaring.BitMap`` of free slots, when pyroaring is importable;
- ``dict`` item assignment, the yardstick of the single-call target.

Run with ``python -m pytest bench/bench_swapfile.py`` (pytest-benchmark;
bench/ is outside the default test paths), or ``python
bench/bench_swapfile.py`` for a quick ns-per-slot table (median of 7).
On a shared machine, ``--benchmark-timer=time.process_time`` (pytest) or
``VSWAP_BENCH_CPU_TIME=1`` (the quick table) measure on-CPU time instead of
wall time, so other processes do not inflate the figures.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

import numpy as np
import pytest

import vswap
from vswap import reference

N = 1 << 20                # slots per batch round (compiled and baselines)
N_REF = 1 << 14            # the reference model is ~1000x slower
N_SINGLE = 1 << 15         # single calls per round
ROUNDS = int(os.environ.get("VSWAP_BENCH_ROUNDS", "7"))

try:  # optional competitor
    from pyroaring import BitMap
except ImportError:  # pragma: no cover - depends on the environment
    BitMap = None


# --- fixtures: devices in a known state ------------------------------------------

def fresh(impl, n, order):
    """A device with room for ``n`` slots of ``order`` (plus the header cluster)."""
    return impl.SwapDevice(n + 1024, cluster_size=512)


def fragmented(impl, n, order):
    """A device of 2n slots, filled with ``order`` ranges, then every other 64-slot run freed.

    Half the space is free, in holes of 64 slots spread over every cluster,
    which sit on nonfull[order] (order ownership: an order-4 cluster only
    takes order-4 ranges). Order 9 frees every other whole cluster instead.
    """
    dev = impl.SwapDevice(2 * n + 1024, cluster_size=512)
    offs = dev.alloc_many(dev.pages >> order, order)
    offs.sort()
    run = 512 if order == 9 else 64
    holes = offs[(offs // run) % 2 == 1]
    dev.free_many(np.ascontiguousarray(holes), order)
    return dev


def capacity(dev, n, order):
    """Ranges of ``order`` one round allocates (at most n >> order); state unchanged."""
    offs = dev.alloc_many(n >> order, order)
    dev.free_many(offs, order)
    return len(offs)


class ListStack:
    """The baseline a user would write: a free stack of aligned ranges per order."""

    def __init__(self, nr_slots, order):
        step = 1 << order
        self.free = list(range(nr_slots - step, 0, -step))

    def alloc(self):
        return self.free.pop()

    def release(self, off):
        self.free.append(off)

    def round(self, k):
        """Take k ranges, then give them back."""
        offs = [self.alloc() for _ in range(k)]
        for off in offs:
            self.release(off)


class RoaringFree:
    """Free slots in a pyroaring BitMap (order 0 only): take the n lowest, give them back."""

    def __init__(self, nr_slots):
        self.bm = BitMap(range(1, nr_slots))

    def alloc_many(self, n):
        taken = self.bm[:n]
        self.bm -= taken
        return taken

    def free_many(self, taken):
        self.bm |= taken


# --- batch: alloc_many + free_many ---------------------------------------------------

CASES = [(order, state) for order in (0, 4, 9) for state in ("fresh", "fragmented")]


def _batch_round(dev, k, order):
    offs = dev.alloc_many(k, order)
    assert len(offs) == k
    dev.free_many(offs, order)


@pytest.mark.parametrize("order, state", CASES)
@pytest.mark.parametrize("impl", ["compiled", "reference"])
def test_batch_alloc_free(benchmark, impl, order, state):
    mod = vswap if impl == "compiled" else reference
    n = N if impl == "compiled" else N_REF
    dev = (fresh if state == "fresh" else fragmented)(mod, n, order)
    k = capacity(dev, n, order)
    benchmark.group = f"swapfile batch order-{order} {state}"
    benchmark.pedantic(_batch_round, args=(dev, k, order), rounds=ROUNDS, iterations=1,
                       warmup_rounds=1)
    _record(benchmark, k << order)
    dev.check()


@pytest.mark.parametrize("order", [0, 4, 9])
def test_batch_list_stack_baseline(benchmark, order):
    stack = ListStack(N + 1024, order)
    benchmark.group = f"swapfile batch order-{order} fresh"
    benchmark.pedantic(stack.round, args=(N >> order,), rounds=ROUNDS, iterations=1,
                       warmup_rounds=1)
    _record(benchmark, N)


@pytest.mark.skipif(BitMap is None, reason="pyroaring is not installed")
def test_batch_roaring_baseline(benchmark):
    free = RoaringFree(N + 1024)

    def run():
        free.free_many(free.alloc_many(N))

    benchmark.group = "swapfile batch order-0 fresh"
    benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    _record(benchmark, N)


# --- single calls -----------------------------------------------------------------

def _single_round(dev, n, order):
    alloc, free = dev.alloc, dev.free
    offs = [alloc(order) for _ in range(n)]
    for off in offs:
        free(off, order)


@pytest.mark.parametrize("order", [0, 4, 9])
@pytest.mark.parametrize("impl", ["compiled", "reference"])
def test_single_alloc_free(benchmark, impl, order):
    mod = vswap if impl == "compiled" else reference
    n = N_SINGLE if impl == "compiled" else N_SINGLE // 16
    n = min(n, (1 << 21) >> order)
    dev = mod.SwapDevice((n << order) + 1024, cluster_size=512)
    benchmark.group = f"swapfile single order-{order}"
    benchmark.pedantic(_single_round, args=(dev, n, order), rounds=ROUNDS, iterations=1,
                       warmup_rounds=1)
    _record(benchmark, n, per="call pair")


@pytest.mark.parametrize("order", [0, 4, 9])
def test_single_list_stack_baseline(benchmark, order):
    stack = ListStack((N_SINGLE << order) + 1024, order)
    benchmark.group = f"swapfile single order-{order}"
    benchmark.pedantic(stack.round, args=(N_SINGLE,), rounds=ROUNDS, iterations=1,
                       warmup_rounds=1)
    _record(benchmark, N_SINGLE, per="call pair")


def test_single_dict_set_yardstick(benchmark):
    keys = list(range(N_SINGLE))

    def run():
        d = {}
        for k in keys:
            d[k] = k

    benchmark.group = "swapfile single order-0"
    benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    _record(benchmark, N_SINGLE, per="set")


_RESULTS: list[tuple[str, str, float, str]] = []


def _record(benchmark, n, per="slot"):
    benchmark.extra_info["units"] = n
    if benchmark.stats is not None:   # None under --benchmark-disable
        ns = benchmark.stats.stats.median / n * 1e9
        benchmark.extra_info[f"ns_per_{per.replace(' ', '_')}"] = round(ns, 2)
        _RESULTS.append((benchmark.group, benchmark.name, ns, per))


@pytest.fixture(scope="module", autouse=True)
def _ns_table(request):
    """Print the ns-per-unit figures of this module when it is done."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or not _RESULTS:
        return
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        reporter.write_sep("=", "swap allocator: ns per unit (median round / units per round)")
        for group, name, ns, per in sorted(_RESULTS):
            reporter.write_line(f"{group:<34} {name:<46} {ns:>10.2f} ns/{per}")


# --- quick table without pytest ---------------------------------------------------

_CLOCK = time.process_time if os.environ.get("VSWAP_BENCH_CPU_TIME") else time.perf_counter


def _median_ns(fn, units, rounds=ROUNDS):
    fn()
    times = []
    for _ in range(rounds):
        t0 = _CLOCK()
        fn()
        times.append(_CLOCK() - t0)
    return statistics.median(times) / units * 1e9


def main():
    rows = []
    for order, state in CASES:
        for name, mod, n in (("compiled", vswap, N), ("reference", reference, N_REF)):
            dev = (fresh if state == "fresh" else fragmented)(mod, n, order)
            k = capacity(dev, n, order)
            rows.append((f"batch order-{order} {state}", name,
                         _median_ns(lambda: _batch_round(dev, k, order), k << order), "ns/slot"))
        if state == "fresh":
            stack = ListStack(N + 1024, order)
            rows.append((f"batch order-{order} fresh", "list free-stack",
                         _median_ns(lambda: stack.round(N >> order), N), "ns/slot"))
    for order in (0, 4, 9):
        dev = vswap.SwapDevice((N_SINGLE << order) + 1024)
        rows.append((f"single order-{order}", "compiled",
                     _median_ns(lambda: _single_round(dev, N_SINGLE, order), N_SINGLE),
                     "ns/alloc+free"))
        stack = ListStack((N_SINGLE << order) + 1024, order)
        rows.append((f"single order-{order}", "list free-stack",
                     _median_ns(lambda: stack.round(N_SINGLE), N_SINGLE), "ns/alloc+free"))
    keys = list(range(N_SINGLE))

    def dict_set():
        d = {}
        for k in keys:
            d[k] = k

    dev = vswap.SwapDevice(N_SINGLE + 1024)
    offs = []

    def allocs():
        alloc = dev.alloc
        offs[:] = [alloc() for _ in keys]
        dev.free_many(np.array(offs, dtype=np.uint64))

    def frees():
        free = dev.free
        for off in dev.alloc_many(N_SINGLE).tolist():
            free(off)

    def listcomp():
        return [k for k in keys]

    rows.append(("single order-0", "dict set (yardstick)", _median_ns(dict_set, N_SINGLE), "ns/set"))
    loop = _median_ns(listcomp, N_SINGLE)
    rows.append(("single order-0", "compiled alloc() in a loop",
                 _median_ns(allocs, N_SINGLE) - loop, "ns/call (+batch free)"))
    rows.append(("single order-0", "compiled free() in a loop",
                 _median_ns(frees, N_SINGLE), "ns/call (+batch alloc)"))
    for group, name, ns, unit in rows:
        print(f"{group:<28} {name:<26} {ns:>10.2f} {unit}")


if __name__ == "__main__":
    sys.exit(main())
