"""Bad input raises ValueError/TypeError and leaves the tree exactly as it was."""

import numpy as np
import pytest

import vswap
from vswap import reference


def snapshot(xa):
    """Everything observable, read so that the counters read first are not disturbed."""
    stats = xa.stats
    marks = [[k for k in xa if xa.get_mark(k, m)] for m in range(3)]
    state = (list(xa.items()), marks, len(xa), xa.nr_nodes, xa.height, xa.nbytes)
    layout = xa._dump(10**6) if hasattr(xa, "_dump") else None
    return stats, state, layout, xa.stats


def assert_unchanged(xa, op, exc, counters=True):
    before = snapshot(xa)
    with pytest.raises(exc):
        op(xa)
    after = snapshot(xa)
    if counters:
        assert after[0] == before[3], "counters moved on a rejected call"
    assert after[1:3] == before[1:3], "contents changed on a rejected call"
    xa.check()


@pytest.fixture(params=["compiled", "reference"])
def xa(request):
    cls = vswap.XArray if request.param == "compiled" else reference.XArray
    xa = cls()
    for k in (0, 5, 64, 1 << 33, (1 << 64) - 1):
        xa[k] = k % 1000
    xa[7] = "object"
    xa.set_mark(5, 1)
    return xa


U64 = np.uint64
BAD_INDEX = [
    (-1, ValueError),
    (1 << 64, ValueError),
    (-(1 << 70), ValueError),
    (1.0, TypeError),
    ("3", TypeError),
    (None, TypeError),
    ([1], TypeError),
]


@pytest.mark.parametrize("index, exc", BAD_INDEX)
@pytest.mark.parametrize(
    "op",
    [
        lambda xa, i: xa.load(i),
        lambda xa, i: xa.store(i, 1),
        lambda xa, i: xa.store(i, None),
        lambda xa, i: xa.erase(i),
        lambda xa, i: xa[i],
        lambda xa, i: xa.__setitem__(i, "v"),
        lambda xa, i: xa.__delitem__(i),
        lambda xa, i: i in xa,
        lambda xa, i: xa.set_mark(i, 0),
        lambda xa, i: xa.clear_mark(i, 0),
        lambda xa, i: xa.get_mark(i, 0),
        lambda xa, i: xa.find(i),
        lambda xa, i: xa.items(i),
    ],
    ids=["load", "store", "store-none", "erase", "getitem", "setitem", "delitem", "contains",
         "set_mark", "clear_mark", "get_mark", "find", "items"],
)
def test_bad_index(xa, op, index, exc):
    assert_unchanged(xa, lambda x: op(x, index), exc)


@pytest.mark.parametrize("mark, exc", [(-1, ValueError), (3, ValueError), (1.5, TypeError),
                                       ("0", TypeError)])
@pytest.mark.parametrize("method", ["set_mark", "clear_mark", "get_mark"])
def test_bad_mark(xa, method, mark, exc):
    assert_unchanged(xa, lambda x: getattr(x, method)(5, mark), exc)


@pytest.mark.parametrize("mark, exc", [(3, ValueError), (-1, ValueError), (0.0, TypeError)])
def test_bad_mark_in_find(xa, mark, exc):
    assert_unchanged(xa, lambda x: x.find(0, None, mark), exc)
    assert_unchanged(xa, lambda x: x.find(10, 5, mark), exc)  # even for an empty range


def test_find_stop_beyond_range(xa):
    assert_unchanged(xa, lambda x: x.find(0, (1 << 64) + 1), ValueError)
    assert_unchanged(xa, lambda x: x.find(0, -1), ValueError)


BAD_ARRAYS = [
    ([1, 2], TypeError),                                  # not an array
    (np.array([1, 2], dtype=np.int64), TypeError),        # wrong dtype
    (np.array([1.0], dtype=np.float64), TypeError),
    (np.array([[1]], dtype=np.uint64), ValueError),       # not one-dimensional
    (np.array(["a"]), TypeError),
    (None, TypeError),
]


@pytest.mark.parametrize("arr, exc", BAD_ARRAYS)
@pytest.mark.parametrize("method", ["load_many", "erase_many"])
def test_bad_batch_indices(xa, method, arr, exc):
    assert_unchanged(xa, lambda x: getattr(x, method)(arr), exc)


@pytest.mark.parametrize("arr, exc", BAD_ARRAYS)
def test_bad_store_many_indices(xa, arr, exc):
    assert_unchanged(xa, lambda x: x.store_many(arr, np.zeros(1, dtype=np.uint64)), exc)


@pytest.mark.parametrize(
    "values, exc",
    [
        ([1, 2], TypeError),
        (np.array([1.0, 2.0]), TypeError),
        (np.array([1, 2], dtype=np.int32), TypeError),
        (np.array([1, -2], dtype=np.int64), ValueError),
        (np.array([1, 1 << 62], dtype=np.uint64), ValueError),
        (np.array([1], dtype=np.uint64), ValueError),           # length mismatch
        (np.array([[1, 2]], dtype=np.uint64), ValueError),
    ],
)
def test_bad_store_many_values(xa, values, exc):
    idx = np.array([5, 99], dtype=np.uint64)
    assert_unchanged(xa, lambda x: x.store_many(idx, values), exc)


def test_object_value_in_batch_load(xa):
    # Index 7 holds an object: the batch raises before returning anything,
    # and the walks it had made are not counted.
    idx = np.array([0, 5, 7, 64], dtype=np.uint64)
    assert_unchanged(xa, lambda x: x.load_many(idx), TypeError)


def test_erase_of_absent_entry_changes_nothing(xa):
    # A well-formed lookup of an absent entry is real work: its walk counts.
    assert_unchanged(xa, lambda x: x.__delitem__(6), KeyError, counters=False)
    assert_unchanged(xa, lambda x: x[1 << 40], KeyError, counters=False)


def test_new_without_init_is_safe():
    xa = vswap.XArray.__new__(vswap.XArray)
    assert len(xa) == 0 and xa.find() is None and list(xa) == []
    xa[3] = 3
    xa.check()
