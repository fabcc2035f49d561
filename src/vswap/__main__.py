"""Command line: ``python -m vswap`` (or ``vswap``).

For now it prints the version and runs a short self-check: the compiled
core and the reference model driven in lockstep through random xarray
operations, every invariant checked, then a timed batch on a million keys.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import vswap
from vswap import reference


def selfcheck(seed: int = 0, ops: int = 20_000, keys: int = 1_000_000, out=sys.stdout) -> bool:
    """Lockstep check of compiled vs reference, then a timed batch; True if all agree.

    Runtime complexity: O(ops * height + keys * height).

    >>> import io
    >>> selfcheck(ops=500, keys=1000, out=io.StringIO())
    True
    """
    rng = np.random.default_rng(seed)
    fast, ref = vswap.XArray(), reference.XArray()
    universe = (rng.integers(0, 4096, 64).tolist() + rng.integers(0, 1 << 40, 64).tolist()
                + [0, 63, 64, (1 << 64) - 1])
    for _ in range(ops):
        op = rng.integers(0, 5)
        index = universe[rng.integers(0, len(universe))]
        if op <= 1:
            value = int(rng.integers(0, 1 << 40)) if op == 0 else f"v{index}"
            assert fast.store(index, value) == ref.store(index, value)
        elif op == 2:
            assert fast.erase(index) == ref.erase(index)
        elif op == 3:
            mark = int(rng.integers(0, 3))
            fast.set_mark(index, mark)
            ref.set_mark(index, mark)
            assert fast.find(mark=mark) == ref.find(mark=mark)
        else:
            assert fast.find(index) == ref.find(index)
    fast.check()
    ref.check()
    agree = list(fast.items()) == list(ref.items()) and fast.stats == ref.stats
    print(f"lockstep: {ops:,} random operations, compiled and reference "
          f"{'agree' if agree else 'DIFFER'} (stats {fast.stats})", file=out)

    # A million clustered keys: runs of 512 at random 512-aligned bases below 2**40.
    bases = rng.choice(1 << 31, size=max(1, keys // 512), replace=False).astype(np.uint64) << 9
    idx = (bases[:, None] + np.arange(512, dtype=np.uint64)).ravel()[:keys]
    xa = vswap.XArray()
    t0 = time.perf_counter()
    xa.store_many(idx, idx)
    t1 = time.perf_counter()
    loaded = xa.load_many(idx)
    t2 = time.perf_counter()
    xa.check()
    ok = agree and bool(np.array_equal(loaded, idx.astype(np.int64)))
    n = len(idx)
    print(f"batch: {n:,} clustered keys, store {1e9 * (t1 - t0) / n:.1f} ns/key, "
          f"load {1e9 * (t2 - t1) / n:.1f} ns/key, {xa.nbytes / n:.1f} bytes/key "
          f"(height {xa.height}, {xa.nr_nodes:,} nodes)", file=out)
    print("self-check " + ("passed" if ok else "FAILED"), file=out)
    return ok


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m vswap``; returns the exit status.

    Runtime complexity: that of :func:`selfcheck`.
    """
    parser = argparse.ArgumentParser(prog="vswap", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"vswap {vswap.__version__}")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the self-check")
    args = parser.parse_args(argv)
    print(f"vswap {vswap.__version__} (compiled core: {vswap.XArray.__module__})")
    return 0 if selfcheck(seed=args.seed) else 1


if __name__ == "__main__":
    sys.exit(main())
