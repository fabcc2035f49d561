"""Example tests of the kernel xarray's documented behaviour, on both implementations."""

import pickle
import sys

import numpy as np
import pytest

import vswap
from vswap import reference

U64_MAX = (1 << 64) - 1


@pytest.fixture(params=["compiled", "reference"])
def XA(request):
    return vswap.XArray if request.param == "compiled" else reference.XArray


def test_index_zero_lives_in_the_head(XA):
    xa = XA()
    xa[0] = "root"
    assert (xa.height, xa.nr_nodes, xa.nbytes) == (0, 0, 0)
    xa.set_mark(0, 2)
    assert xa.get_mark(0, 2)
    xa[1] = "one"  # needs a leaf: the head entry moves into slot 0 with its mark
    assert (xa.height, xa.nr_nodes) == (1, 1)
    assert xa.get_mark(0, 2) and xa.find(mark=2) == 0
    del xa[1]  # the leaf holds only slot 0 again: back to a bare head
    assert (xa.height, xa.nr_nodes) == (0, 0)
    assert xa[0] == "root" and xa.get_mark(0, 2)
    xa.check()


@pytest.mark.parametrize(
    "index, height",
    [(1, 1), (63, 1), (64, 2), (4095, 2), (4096, 3), (1 << 40, 7), (1 << 60, 11), (U64_MAX, 11)],
)
def test_height_depends_only_on_the_largest_index(XA, index, height):
    xa = XA()
    xa[index] = "v"
    assert xa.height == height
    assert xa.nr_nodes == height  # one chain of nodes down to the leaf
    xa.check()


def test_grow_and_shrink(XA):
    xa = XA()
    xa[5] = 5
    xa[1 << 20] = 20
    assert xa.height == 4
    nodes = xa.nr_nodes
    del xa[1 << 20]
    # The path to 1 << 20 is freed and the root shrinks back to one leaf.
    assert xa.height == 1 and xa.nr_nodes == 1
    assert xa.stats["nodes_freed"] == nodes - 1
    del xa[5]
    assert (xa.height, xa.nr_nodes, len(xa)) == (0, 0, 0)
    xa.check()


def test_no_shrink_while_a_large_index_remains(XA):
    xa = XA()
    xa[3] = xa[1 << 30] = "v"
    del xa[3]
    assert xa.height == 6  # 1 << 30 still needs six levels
    xa.check()


def test_largest_index(XA):
    xa = XA()
    xa[U64_MAX] = "top"
    xa[0] = "bottom"
    assert list(xa) == [0, U64_MAX]
    assert xa.find(1) == U64_MAX
    assert xa.find(U64_MAX) == U64_MAX
    assert list(xa.items(U64_MAX)) == [(U64_MAX, "top")]
    assert list(xa.items(1, 1 << 64)) == [(U64_MAX, "top")]
    assert xa.erase(U64_MAX) == "top"
    assert xa.height == 0
    xa.check()


def test_find_across_node_boundaries(XA):
    xa = XA()
    keys = [63, 64, 4095, 4096, 262143, 262144, 1 << 40]
    for k in keys:
        xa[k] = k
    for k in keys:
        assert xa.find(k) == k
        assert xa.find(k - 1) == k or (k - 1) in keys
    assert xa.find(65) == 4095
    assert xa.find(4097) == 262143
    assert xa.find(262145) == 1 << 40
    assert xa.find((1 << 40) + 1) is None
    assert xa.find(0, 63) is None and xa.find(0, 64) == 63
    assert xa.find(100, 100) is None  # empty range


def test_marked_find_skips_unmarked_subtrees(XA):
    xa = XA()
    for k in range(0, 64 * 64 * 4, 7):  # many leaves, dense
        xa[k] = k
    xa.set_mark(16002, 1)
    xa.reset_stats()
    assert xa.find(mark=1) == 16002
    marked_visits = xa.stats["node_visits"]
    xa.reset_stats()
    assert xa.find(15990) == 15995  # an unmarked find just nearby
    # The marked find descends only through nodes on the marked path: the
    # root, one child, one leaf.
    assert marked_visits == xa.height
    xa.clear_mark(16002, 1)
    assert xa.find(mark=1) is None
    xa.check()


def test_marks_propagate_and_clear_upward(XA):
    xa = XA()
    xa[1 << 24] = xa[(1 << 24) + 1] = "v"
    xa.set_mark(1 << 24, 0)
    xa.set_mark((1 << 24) + 1, 0)
    xa.clear_mark(1 << 24, 0)
    assert xa.find(mark=0) == (1 << 24) + 1  # one marked entry still propagates
    xa.erase((1 << 24) + 1)  # erasing drops its marks
    assert xa.find(mark=0) is None
    xa.check()


def test_set_mark_on_absent_entry_is_ignored(XA):
    xa = XA()
    xa.set_mark(10, 0)
    xa[10] = "v"
    assert not xa.get_mark(10, 0)


def test_replacing_keeps_marks(XA):
    xa = XA()
    xa[70] = "a"
    xa.set_mark(70, 1)
    assert xa.store(70, "b") == "a"
    assert xa.get_mark(70, 1)


def test_value_entries_are_unboxed_and_objects_kept(XA):
    xa = XA()
    obj = object()
    xa[1] = vswap.XA_VALUE_MAX
    xa[2] = vswap.XA_VALUE_MAX + 1  # too large: stored as an object
    xa[3] = obj
    xa[4] = True  # a bool is an object, not the value 1
    assert xa[1] == vswap.XA_VALUE_MAX
    assert xa[2] == vswap.XA_VALUE_MAX + 1
    assert xa[3] is obj
    assert xa[4] is True
    with pytest.raises(TypeError):
        xa.load_many(np.array([3], dtype=np.uint64))
    assert list(xa.load_many(np.array([1, 9], dtype=np.uint64))) == [vswap.XA_VALUE_MAX, -1]


def test_storing_none_erases(XA):
    xa = XA()
    xa[100] = "x"
    xa[100] = None
    assert 100 not in xa and len(xa) == 0 and xa.nr_nodes == 0


def test_getitem_and_delitem_raise_keyerror(XA):
    xa = XA()
    with pytest.raises(KeyError):
        xa[5]
    with pytest.raises(KeyError):
        del xa[5]


def test_iteration_survives_erasing_everything(XA):
    xa = XA()
    for k in range(0, 10000, 3):
        xa[k] = k
    seen = []
    for k in xa:
        seen.append(k)
        xa.clear()  # the iterator finishes its current leaf, then finds nothing
    assert seen == list(range(0, 64, 3))
    assert len(xa) == 0


def test_iteration_costs_one_walk_per_leaf(XA):
    xa = XA()
    xa.store_many(np.arange(64 * 10, dtype=np.uint64), np.zeros(640, dtype=np.uint64))
    xa.reset_stats()
    assert len(list(xa)) == 640
    assert xa.stats["walks"] == 10 + 1  # one per leaf, and the find that ends it


def test_batch_calls_match_single_calls(XA):
    rng = np.random.default_rng(7)
    idx = rng.integers(0, 1 << 40, size=2000, dtype=np.uint64)
    vals = rng.integers(0, vswap.XA_VALUE_MAX, size=2000, dtype=np.int64)
    a, b = XA(), XA()
    a.store_many(idx, vals)
    for i, v in zip(idx.tolist(), vals.tolist()):
        b[i] = v
    assert list(a.items()) == list(b.items())
    assert np.array_equal(a.load_many(idx), b.load_many(idx))
    assert a.erase_many(idx[:1000]) == len(set(idx[:1000].tolist()))
    a.check()


def test_pickle_round_trip(XA):
    xa = XA()
    xa[3] = "c"
    xa[1 << 50] = 12
    xa.set_mark(3, 2)
    back = pickle.loads(pickle.dumps(xa))
    assert list(back.items()) == list(xa.items()) and back.get_mark(3, 2)
    back.check()


def test_clear_frees_every_node(XA):
    xa = XA()
    xa.store_many(np.arange(5000, dtype=np.uint64) << np.uint64(20), np.ones(5000, dtype=np.uint64))
    n = xa.nr_nodes
    xa.reset_stats()
    xa.clear()
    assert xa.stats["nodes_freed"] == n and xa.nbytes == 0 and len(xa) == 0


def test_references_are_held_and_released():
    xa = vswap.XArray()
    obj = object()
    before = sys.getrefcount(obj)
    xa[1] = obj
    xa[1 << 40] = obj
    assert sys.getrefcount(obj) == before + 2
    xa[1] = "other"
    assert sys.getrefcount(obj) == before + 1
    del xa
    assert sys.getrefcount(obj) == before


def test_node_size_matches_reference():
    assert vswap.XA_NODE_BYTES == reference.XA_NODE_BYTES == 552


# -- allocating arrays (XA_FLAGS_ALLOC) and xa_alloc ----------------------------


def test_alloc_hands_out_the_lowest_free_index(XA):
    xa = XA(track_free=True)
    assert [xa.alloc(f"c{i}") for i in range(130)] == list(range(130))
    for i in (7, 64, 100):
        del xa[i]
    assert [xa.alloc("r") for _ in range(4)] == [7, 64, 100, 130]
    assert xa.alloc("m", min=1000) == 1000
    assert xa.alloc("m", min=999) == 999
    xa.check()


def test_alloc_skips_full_subtrees_by_the_free_mark(XA):
    xa = XA(track_free=True)
    n = 64 * 64 * 3  # three full level-1 subtrees
    for _ in range(n):
        xa.alloc(1)
    del xa[n - 1]
    xa.reset_stats()
    assert xa.alloc(2) == n - 1
    # One search walk (root, one child, one leaf) and one store walk: full
    # leaves are never entered.
    assert xa.stats["walks"] == 2
    assert xa.stats["node_visits"] == 2 * xa.height


def test_alloc_grows_the_tree_past_its_span(XA):
    xa = XA(track_free=True)
    for _ in range(64):
        xa.alloc(0)
    assert xa.height == 1
    assert xa.alloc(0) == 64 and xa.height == 2
    xa.check()


def test_alloc_limits_and_nospace(XA):
    xa = XA(track_free=True)
    assert xa.alloc("a", min=5, max=6) == 5
    assert xa.alloc("b", min=5, max=6) == 6
    with pytest.raises(vswap.NoSpace):
        xa.alloc("c", min=5, max=6)
    with pytest.raises(vswap.NoSpace):
        xa.alloc("c", min=9, max=8)
    assert xa.alloc("top", min=U64_MAX, max=U64_MAX) == U64_MAX
    with pytest.raises(vswap.NoSpace):
        xa.alloc("again", min=U64_MAX, max=U64_MAX)
    assert len(xa) == 3
    xa.check()


def test_mark_zero_is_reserved_in_an_allocating_array(XA):
    xa = XA(track_free=True)
    xa.alloc("v")
    with pytest.raises(ValueError):
        xa.set_mark(0, 0)
    with pytest.raises(ValueError):
        xa.find(mark=0)
    xa.set_mark(0, 1)
    assert xa.find(mark=1) == 0


def test_alloc_needs_an_allocating_array(XA):
    with pytest.raises(TypeError):
        XA().alloc("v")
    with pytest.raises(ValueError):
        XA(track_free=True).alloc(None)


def test_allocating_array_pickles(XA):
    xa = XA(track_free=True)
    for _ in range(3):
        xa.alloc("v")
    del xa[1]
    back = pickle.loads(pickle.dumps(xa))
    assert back.track_free and back.alloc("w") == 1


def test_pickling_is_not_counted_as_work(XA):
    xa = XA()
    for k in (1, 70, 1 << 30):
        xa[k] = k
    xa.set_mark(70, 2)
    before = xa.stats
    pickle.dumps(xa)
    assert xa.stats == before
