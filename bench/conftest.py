"""Shared key sets and the ns-per-key harness of the vswap benchmarks.

Key sets (all numpy uint64, built once per session with a fixed seed):

- ``dense``: 0 .. N-1, N = 2**20 (the "1M" of the docs);
- ``clustered``: N keys in runs of 512 consecutive indices, each run at a
  random 512-aligned base below 2**40 (a swap device's clusters);
- both in ascending ("seq") and in random ("rnd") order;
- the ``small`` variants hold 10,000 keys (2**13 + a partial run for the
  clustered set), the size the pure-Python reference model is run at.

Every benchmark runs in pedantic mode with a known number of keys per round
and records ``ns_per_key`` (median round time / keys) in ``extra_info``;
the terminal summary prints them as one table, the figure docs/performance.rst
reports.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

N_LARGE = 1 << 20
N_SMALL = 10_000
RUN = 512
SPACE = 1 << 40
SEED = 20261126
ROUNDS = int(os.environ.get("VSWAP_BENCH_ROUNDS", "7"))

_RESULTS: list[dict] = []
_LINES: list[str] = []        # free-form result lines for the summary (the replay's speed ratios)


def dense_keys(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.uint64)


def clustered_keys(n: int, seed: int = SEED) -> np.ndarray:
    """``n`` keys in runs of 512 at distinct random 512-aligned bases below 2**40, ascending."""
    rng = np.random.default_rng(seed)
    runs = -(-n // RUN)
    bases = rng.choice(SPACE // RUN, size=runs, replace=False).astype(np.uint64) * RUN
    keys = (np.sort(bases)[:, None] + np.arange(RUN, dtype=np.uint64)[None, :]).ravel()
    return keys[:n]


def shuffled(keys: np.ndarray, seed: int = SEED + 1) -> np.ndarray:
    return np.random.default_rng(seed).permutation(keys)


class KeySet:
    """One key set in one order, as a uint64 array and as a list of Python ints."""

    def __init__(self, name: str, arr: np.ndarray) -> None:
        self.name = name
        self.arr = np.ascontiguousarray(arr, dtype=np.uint64)
        self.list = self.arr.tolist()
        self.n = len(self.list)

    def __repr__(self) -> str:
        return f"KeySet({self.name}, n={self.n})"


_CACHE: dict[str, KeySet] = {}


def keyset(kind: str, order: str, size: str) -> KeySet:
    """``kind`` dense|clustered, ``order`` seq|rnd, ``size`` large|small; cached."""
    name = f"{kind}-{order}-{size}"
    if name not in _CACHE:
        n = N_LARGE if size == "large" else N_SMALL
        arr = dense_keys(n) if kind == "dense" else clustered_keys(n)
        if order == "rnd":
            arr = shuffled(arr)
        _CACHE[name] = KeySet(name, arr)
    return _CACHE[name]


@pytest.fixture
def per_key(benchmark, request):
    """Run ``fn`` in pedantic mode over ``n`` keys per round and record ns/key.

    ``setup`` (optional) returns the ``(args, kwargs)`` of each round, so a
    fresh or refilled structure is built outside the timed region.
    """

    def run(fn, n, setup=None, rounds=ROUNDS, **info):
        if setup is None:
            result = benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)
        else:
            result = benchmark.pedantic(fn, setup=setup, rounds=rounds, iterations=1)
        benchmark.extra_info.update(info)
        benchmark.extra_info["keys"] = n
        if benchmark.stats is not None:  # None under --benchmark-disable
            median = benchmark.stats.stats.median
            benchmark.extra_info["ns_per_key"] = round(median / n * 1e9, 2)
            _RESULTS.append({"group": benchmark.group, "name": request.node.name, "keys": n,
                             "ns_per_key": median / n * 1e9, **info})
        return result

    return run


@pytest.fixture
def summary_line():
    """Add a line to the terminal summary's "measured ratios" section."""
    return _LINES.append


def pytest_terminal_summary(terminalreporter):
    tr = terminalreporter
    if _LINES:
        tr.write_sep("=", "measured ratios")
        for line in _LINES:
            tr.write_line(line)
    if not _RESULTS:
        return
    tr.write_sep("=", "ns per key (median round / keys per round)")
    for r in sorted(_RESULTS, key=lambda r: (r["group"], r["name"])):
        tr.write_line(f"{r['group']:<28} {r['name']:<58} {r['keys']:>8} {r['ns_per_key']:>10.1f}")
