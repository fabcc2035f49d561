"""Bytes per key of vswap.XArray (``xa.nbytes / len(xa)``) for three key shapes.

- dense: 0 .. 2**20-1;
- clustered-512: 2**20 keys in runs of 512 at random 512-aligned bases below 2**40;
- sparse-2**40: 100,000 distinct uniformly random keys below 2**40.

``nbytes`` counts the tree's nodes only (``nr_nodes * XA_NODE_BYTES``); the
entries themselves are unboxed value entries here, stored in the slots.
Deterministic (fixed seed). Run: ``python bench/memory_xarray.py``.
"""

from __future__ import annotations

import os
import sys

import numpy as np

import vswap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import N_LARGE, SEED, clustered_keys, dense_keys  # noqa: E402

N_SPARSE = 100_000


def sparse_keys(n: int, seed: int = SEED) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.unique(rng.integers(0, 1 << 40, size=n, dtype=np.uint64))


def measure(name: str, keys: np.ndarray) -> tuple[str, int, int, int, int, float]:
    xa = vswap.XArray()
    xa.store_many(keys, keys)
    xa.check()
    return name, len(xa), xa.height, xa.nr_nodes, xa.nbytes, xa.nbytes / len(xa)


def main() -> None:
    rows = [
        measure("dense", dense_keys(N_LARGE)),
        measure("clustered-512", clustered_keys(N_LARGE)),
        measure("sparse-2**40", sparse_keys(N_SPARSE)),
    ]
    print(f"XA_NODE_BYTES = {vswap.XA_NODE_BYTES}")
    print(f"{'keys':<14} {'n':>9} {'height':>6} {'nodes':>8} {'nbytes':>11} {'bytes/key':>9}")
    for name, n, h, nodes, nbytes, per in rows:
        print(f"{name:<14} {n:>9} {h:>6} {nodes:>8} {nbytes:>11} {per:>9.1f}")


if __name__ == "__main__":
    main()
