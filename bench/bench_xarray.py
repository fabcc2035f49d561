"""Microbenchmarks of vswap.XArray beside dict and the pure-Python reference.

Groups are ``<op>-<mode>-<keys>-<order>``:

- op: ``load``, ``store`` (into an empty structure), ``erase`` (every key
  of a full structure);
- mode: ``single`` is a Python loop (``for k in keys: xa[k]``, the same loop
  for ``dict``); ``batch`` is one ``load_many``/``store_many``/``erase_many``
  call on a numpy uint64 array;
- keys: ``dense`` (0 .. 2**20-1) or ``clustered`` (runs of 512 at random
  512-aligned bases below 2**40), see conftest.py;
- order: ``seq`` (ascending) or ``rnd`` (shuffled).

``xarray`` and ``dict`` run on 2**20 keys, ``reference`` on 10,000 (it is
pure Python). ``floor`` is the empty loop ``for k in keys: pass``: the cost
no per-key Python API can go below. Every case records ns/key.

Run: ``python -m pytest bench/ --benchmark-only`` (see bench/README.md).
"""

from __future__ import annotations

import pytest

import vswap
from vswap import reference
from conftest import keyset

IMPLS = {"xarray": vswap.XArray, "reference": reference.XArray, "dict": dict}
KINDS = ["dense", "clustered"]
ORDERS = ["seq", "rnd"]


def size_of(impl: str) -> str:
    return "small" if impl == "reference" else "large"


def empty(impl: str):
    return IMPLS[impl]()


def filled(impl: str, kind: str):
    """A structure holding every key of ``kind`` (value = key), filled in ascending order.

    The fill order is always ascending, whatever order the benchmark then
    uses, and the dict's keys are fresh int objects: the timed loop's keys
    are equal to the stored ones but never the same objects, as when keys
    are computed at run time.
    """
    ks = keyset(kind, "seq", size_of(impl))
    if impl == "dict":
        fresh = ks.arr.tolist()
        return dict(zip(fresh, fresh))
    xa = IMPLS[impl]()
    xa.store_many(ks.arr, ks.arr)
    return xa


# -- the timed bodies: the same Python loop for every implementation ----------

def load_loop(c, keys):
    for k in keys:
        c[k]


def store_loop(c, keys):
    for k in keys:
        c[k] = k
    return c


def erase_loop(c, keys):
    for k in keys:
        del c[k]
    return c


def floor_loop(keys):
    for k in keys:
        pass


# -- single-key operations from a Python loop ---------------------------------

@pytest.mark.parametrize("impl", ["xarray", "dict", "reference"])
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("kind", KINDS)
def test_load_single(per_key, benchmark, kind, order, impl):
    benchmark.group = f"load-single-{kind}-{order}"
    ks = keyset(kind, order, size_of(impl))
    c = filled(impl, kind)
    per_key(lambda: load_loop(c, ks.list), ks.n, impl=impl)


@pytest.mark.parametrize("order", ORDERS)
def test_load_single_floor(per_key, benchmark, order):
    benchmark.group = f"load-single-dense-{order}"
    ks = keyset("dense", order, "large")
    per_key(lambda: floor_loop(ks.list), ks.n, impl="floor")


@pytest.mark.parametrize("impl", ["xarray", "dict"])
@pytest.mark.parametrize("order", ORDERS)
def test_load_single_objects(per_key, benchmark, order, impl):
    """As test_load_single on dense keys, but every value is one shared object.

    An integer value entry is boxed into a new int on every ``xa[k]``; an
    object entry is returned as stored, as a dict does. The difference
    between this case and ``xarray`` in the same group is the boxing.
    """
    benchmark.group = f"load-single-dense-{order}"
    ks = keyset("dense", order, "large")
    value = object()
    fresh = keyset("dense", "seq", "large").arr.tolist()
    c = IMPLS[impl]() if impl == "xarray" else {}
    for k in fresh:
        c[k] = value
    per_key(lambda: load_loop(c, ks.list), ks.n, impl=f"{impl}-objects")


@pytest.mark.parametrize("impl", ["xarray", "dict", "reference"])
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("kind", KINDS)
def test_store_single(per_key, benchmark, kind, order, impl):
    benchmark.group = f"store-single-{kind}-{order}"
    ks = keyset(kind, order, size_of(impl))
    c = per_key(store_loop, ks.n, setup=lambda: ((empty(impl), ks.list), {}), impl=impl)
    assert len(c) == ks.n


@pytest.mark.parametrize("impl", ["xarray", "dict", "reference"])
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("kind", KINDS)
def test_erase_single(per_key, benchmark, kind, order, impl):
    benchmark.group = f"erase-single-{kind}-{order}"
    ks = keyset(kind, order, size_of(impl))
    c = per_key(erase_loop, ks.n, setup=lambda: ((filled(impl, kind), ks.list), {}), impl=impl)
    assert len(c) == 0


# -- batches on numpy uint64 arrays (XArray and the reference only) -----------

@pytest.mark.parametrize("impl", ["xarray", "reference"])
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("kind", KINDS)
def test_load_batch(per_key, benchmark, kind, order, impl):
    benchmark.group = f"load-batch-{kind}-{order}"
    ks = keyset(kind, order, size_of(impl))
    xa = filled(impl, kind)
    out = per_key(lambda: xa.load_many(ks.arr), ks.n, impl=impl)
    assert (out == ks.arr.astype(out.dtype)).all()


@pytest.mark.parametrize("impl", ["xarray", "reference"])
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("kind", KINDS)
def test_store_batch(per_key, benchmark, kind, order, impl):
    benchmark.group = f"store-batch-{kind}-{order}"
    ks = keyset(kind, order, size_of(impl))

    def store(xa):
        xa.store_many(ks.arr, ks.arr)
        return xa

    xa = per_key(store, ks.n, setup=lambda: ((empty(impl),), {}), impl=impl)
    assert len(xa) == ks.n


@pytest.mark.parametrize("impl", ["xarray", "reference"])
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("kind", KINDS)
def test_erase_batch(per_key, benchmark, kind, order, impl):
    benchmark.group = f"erase-batch-{kind}-{order}"
    ks = keyset(kind, order, size_of(impl))
    n = per_key(lambda xa: xa.erase_many(ks.arr), ks.n,
                setup=lambda: ((filled(impl, kind),), {}), impl=impl)
    assert n == ks.n
