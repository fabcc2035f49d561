"""DirectSwap behaviour and bad inputs, on both the compiled design and the reference.

Each test runs once per implementation (``impl`` is ``vswap`` or
``vswap.reference``): the kernel's rules (continuation counts, the zap fast
path, cache-only reclaim under pressure, swapoff's page-table walk,
multi-order folios) and the error contract: every bad input raises the
documented exception and leaves the snapshot unchanged.
"""

import numpy as np
import pytest

import vswap
from vswap import reference
from vswap.errors import EntryExists, NoEntry, NoSpace, SwapError
from vswap.protocol import (COUNT_CONTINUED, SWAP_HAS_CACHE, Lookup, PageTable, SwapSpace,
                            swp_entry, swp_offset, swp_type)


@pytest.fixture(params=["compiled", "reference"])
def impl(request):
    return vswap if request.param == "compiled" else reference


def make(impl, nr_slots=64, cs=16, ndev=1, **kw):
    return impl.DirectSwap(impl.SwapDevices(
        [impl.SwapDevice(nr_slots, cluster_size=cs, **kw) for _ in range(ndev)]))


def test_protocol_and_encoding(impl):
    ds = make(impl)
    assert isinstance(ds, SwapSpace)
    e = swp_entry(5, 123)
    assert (swp_type(e), swp_offset(e)) == (5, 123) and e >> 58 == 5
    with pytest.raises(ValueError):
        swp_entry(32, 0)
    with pytest.raises(ValueError):
        swp_entry(0, 1 << 58)


def test_counts_past_swap_map_max(impl):
    ds = make(impl)
    e = ds.folio_alloc_swap(1)
    for i in range(1, 8200):
        ds.swap_duplicate(e)
    assert ds.swap_count(e) == 8199                       # two continuation levels
    m = ds.snapshot()["devices"][0]["slots"][1][0]
    assert m & COUNT_CONTINUED and m & SWAP_HAS_CACHE
    fp = ds.memory_footprint()
    assert fp["continuation"] == 2 * 4096
    ds.check()
    ds.swap_free_nr(e)
    assert ds.swap_count(e) == 8198
    for _ in range(8198):
        ds.swap_free_nr(e)
    assert ds.swap_count(e) == 0
    assert ds.snapshot()["devices"][0]["slots"][1][0] == SWAP_HAS_CACHE
    # continuation pages stay until swapoff, as in the kernel
    assert ds.memory_footprint()["continuation"] == 2 * 4096
    ds.check()


def test_duplicate_many_and_range_duplicate(impl):
    ds = make(impl)
    e = ds.folio_alloc_swap(1, order=2)
    ds.swap_duplicate(e, 4)
    ds.swap_duplicate_many(np.array([e, e, e + 3] * 30, dtype=np.uint64))
    assert [ds.swap_count(e + i) for i in range(4)] == [61, 1, 1, 31]
    ds.check()


def test_zap_fast_path_frees_the_run_at_once(impl):
    ds = make(impl, 256, 64)
    es = ds.folio_alloc_swap_many(np.arange(8, dtype=np.uint64))
    assert list(es) == list(range(1, 9))
    ds.swap_duplicate(1, 8)
    for e in es:                               # reclaim wrote them out: no folio, uncached
        ds.swap_cache_del_folio(int(e))
        ds.put_swap_folio(int(e))
    ds.reset_stats()
    ds.free_swap_and_cache_nr(1, 8)
    assert ds.stats["fast_frees"] == 1 and ds.stats["slots_freed"] == 8
    assert ds.swaps[0].nr_used == 0
    ds.check()


def test_zap_reclaims_folios_held_only_by_the_cache(impl):
    ds = make(impl)
    e = ds.folio_alloc_swap(3, order=3)
    ds.swap_duplicate(e, 8)
    ds.free_swap_and_cache_nr(e, 4)            # half the folio: still held by its counts
    assert ds.swap_cache_get_folio(e) == 3 and ds.stats["folios_reclaimed"] == 0
    ds.free_swap_and_cache_nr(e + 4, 4)
    assert ds.stats["folios_reclaimed"] == 1 and ds.swaps[0].nr_used == 0
    ds.check()


def test_cache_only_reclaim_under_pressure(impl):
    # 2 clusters of 16, 31 usable slots. A full device leaves the avail list
    # (the reclaim work is reclaim_cache_only); once a slot is freed, the
    # allocator's slow path, with swap over half full, asks the design's hook
    # to release the cache-only folios of a full cluster.
    ds = make(impl, 32, 16)
    es = [ds.folio_alloc_swap(f) for f in range(31)]
    with pytest.raises(NoSpace):
        ds.folio_alloc_swap(99)
    for e in es[:15]:                          # swapped in, unmapped: count 0, cached
        ds.swap_duplicate(e)
        ds.swap_free_nr(e)
    for e in es[15:]:                          # written out: count 1, uncached
        ds.swap_duplicate(e)
        ds.swap_cache_del_folio(e)
        ds.put_swap_folio(e)
    ds.free_swap_and_cache_nr(es[20], 2)
    ds.folio_alloc_swap(100, cpu=0)            # cluster 1 goes to the frag list
    ds.reset_stats()
    got = [ds.folio_alloc_swap(101 + i, cpu=1) for i in range(5)]   # slow path
    assert len(set(got)) == 5
    assert ds.stats["folios_reclaimed"] == 15
    assert ds.swaps[0].stats["reclaim_calls"] >= 15
    ds.check()


def test_reclaim_cache_only_verb(impl):
    ds = make(impl, 16, 16)
    es = [ds.folio_alloc_swap(f) for f in range(15)]
    for e in es[:10]:
        ds.swap_duplicate(e)
        ds.swap_free_nr(e)
    assert ds.reclaim_cache_only(0) == 10
    assert ds.swaps[0].nr_used == 5
    ds.check()


def test_multi_order_folio_cache_cycle(impl):
    ds = make(impl, 128, 32)
    e = ds.folio_alloc_swap(7, order=4, memcg=9)
    assert swp_offset(e) % 16 == 0
    ds.swap_duplicate(e, 16)
    ds.swap_cache_del_folio(e, 4, shadow=1234)
    assert {ds.swap_cache_get_shadow(e + i) for i in range(16)} == {1234}
    ds.put_swap_folio(e, 4)
    assert ds.lookup(e + 5) == Lookup("swapfile", e + 5)
    ds.swapcache_prepare(e, 16)
    assert ds.swap_cache_add_folio(e, 8, 4) == 1234
    assert ds.lookup(e + 15) == Lookup("folio", 8)
    assert ds.memcg_id(e + 15) == 9
    with pytest.raises(NoEntry):
        ds.swap_cache_del_folio(e, 3)          # a folio of order 4 starts there
    ds.check()


def test_backends_and_lookup(impl):
    ds = make(impl)
    a, b, c = (ds.folio_alloc_swap(f) for f in range(3))
    for e in (a, b, c):
        ds.swap_duplicate(e)
    ds.zero_store(a)
    ds.zswap_store(b, 55)
    ds.writeback(c)
    for e in (a, b, c):
        ds.swap_cache_del_folio(e)
        ds.put_swap_folio(e)
    kinds, handles = ds.lookup_many(np.array([a, b, c], dtype=np.uint64))
    assert list(kinds) == [0, 1, 2] and list(handles) == [0, 55, c]
    assert ds.zswap_load(b) == 55 and ds.memory_footprint()["zswap_tree"] == 8
    ds.zswap_store(a, 5)                       # zswap replaces the zero page
    assert ds.lookup(a) == Lookup("zswap", 5)
    ds.writeback(b)
    assert ds.zswap_load(b) is None and ds.lookup(b).kind == "swapfile"
    ds.free_swap_and_cache_nr(a)               # freeing drops the zswap copy
    assert ds.memory_footprint()["zswap_tree"] == 0
    ds.check()


def test_swapoff_walks_dict_and_array_page_tables(impl):
    ds = make(impl, 64, 16, ndev=2)
    e0 = ds.folio_alloc_swap(1, order=1)
    e1 = ds.folio_alloc_swap(2)
    assert (swp_type(e0), swp_type(e1)) == (0, 1)   # equal priorities: round robin
    pt = PageTable()
    arr = np.zeros(16, dtype=np.uint64)
    for e in (e0, e0 + 1, e1):
        ds.swap_duplicate(e)
        pt[len(pt) + 10] = e
    ds.swap_duplicate(e0)
    arr[3] = e0
    t = swp_type(e0)
    # the array PTE is missing: the walk would never finish
    before = ds.snapshot()
    with pytest.raises(SwapError):
        ds.swapoff(t, pt)
    assert ds.snapshot() == before and len(pt) == 3
    both = {**pt, **{100 + i: int(v) for i, v in enumerate(arr) if v}}
    pt2 = PageTable(both)
    n = ds.swapoff(t, pt2)
    assert n == sum(1 for e in both.values() if swp_type(e) == t)
    assert all(swp_type(e) != t for e in pt2.values())
    assert ds.swaps[t].nr_used == 0 and not ds.swaps[t].writeok
    assert ds.stats["pte_walked"] == len(both)
    ds.check()
    # the array form on the other device
    u = swp_type(e1)
    arr = np.array([0] + [v for v in pt2.values() if swp_type(v) == u], dtype=np.uint64)
    assert len(arr) == 2
    assert ds.swapoff(u, arr) == 1 and not arr.any() and ds.swaps[u].nr_used == 0
    ds.check()


def test_swapoff_pte_to_a_free_slot(impl):
    ds = make(impl)
    before = ds.snapshot()
    with pytest.raises(NoEntry):
        ds.swapoff(0, PageTable({1: 5}))
    assert ds.snapshot() == before


def test_swapon_attaches_new_device(impl):
    ds = make(impl, 32, 16)
    t = ds.swapon(impl.SwapDevice(32, cluster_size=16, priority=5))
    assert t == 1
    e = ds.folio_alloc_swap(1)
    assert swp_type(e) == 1
    ds.check()


def test_one_design_per_set(impl):
    swaps = impl.SwapDevices([impl.SwapDevice(32, cluster_size=16)])
    ds = impl.DirectSwap(swaps)
    with pytest.raises(ValueError):
        impl.DirectSwap(swaps)
    with pytest.raises(TypeError):
        impl.DirectSwap([1, 2])
    del ds


# -- bad inputs: documented exception, nothing changed ---------------------------------------

def _state(impl):
    ds = make(impl, 64, 16, ndev=2)
    a = ds.folio_alloc_swap(1)                   # count 0, cached
    b = ds.folio_alloc_swap(2, order=2)          # order-2 folio
    ds.swap_duplicate(b, 4)
    c = ds.folio_alloc_swap(3)
    ds.swap_duplicate(c)
    ds.swap_cache_del_folio(c)
    ds.put_swap_folio(c)                         # count 1, uncached
    return ds, a, b, c


BAD = [
    ("free entry", lambda a, b, c: ("swap_duplicate", (a + 40,)), NoEntry),
    ("free entry count", lambda a, b, c: ("swap_count", (a + 40,)), NoEntry),
    ("free entry lookup", lambda a, b, c: ("lookup", (a + 40,)), NoEntry),
    ("header slot", lambda a, b, c: ("swap_free_nr", (0,)), NoEntry),
    ("wrong type bits", lambda a, b, c: ("swap_duplicate", (swp_entry(9, 1),)), ValueError),
    ("bit 63", lambda a, b, c: ("swap_duplicate", (1 << 63,)), ValueError),
    ("negative", lambda a, b, c: ("swap_free_nr", (-1,)), ValueError),
    ("not an int", lambda a, b, c: ("swap_free_nr", (1.5,)), TypeError),
    ("past the end", lambda a, b, c: ("swap_duplicate", (swp_entry(0, 64),)), ValueError),
    ("range past the end", lambda a, b, c: ("free_swap_and_cache_nr", (b, 100)), ValueError),
    ("nr 0", lambda a, b, c: ("swap_free_nr", (c, 0)), ValueError),
    ("misaligned order", lambda a, b, c: ("swap_cache_del_folio", (b + 1, 1)), ValueError),
    ("order too large", lambda a, b, c: ("folio_alloc_swap", (9, 5)), ValueError),
    ("order out of range", lambda a, b, c: ("folio_alloc_swap", (9, 10)), ValueError),
    ("memcg range", lambda a, b, c: ("folio_alloc_swap", (9, 0, 1 << 16)), ValueError),
    ("cpu range", lambda a, b, c: ("folio_alloc_swap", (9, 0, 0, 64)), ValueError),
    ("count underflow", lambda a, b, c: ("swap_free_nr", (a,)), NoEntry),
    ("underflow in a batch", lambda a, b, c: ("swap_free_many",
                                              (np.array([b, b], dtype=np.uint64),)), NoEntry),
    ("zap underflow", lambda a, b, c: ("free_swap_and_cache_nr", (a,)), NoEntry),
    ("double free", lambda a, b, c: ("free_swap_and_cache_many",
                                     (np.array([c, c], dtype=np.uint64),)), NoEntry),
    ("batch with one free", lambda a, b, c: ("swap_duplicate_many",
                                             (np.array([b, a + 40], dtype=np.uint64),)), NoEntry),
    ("wrong dtype", lambda a, b, c: ("swap_free_many", (np.array([c], dtype=np.int64),)), TypeError),
    ("not an array", lambda a, b, c: ("lookup_many", ([c],)), TypeError),
    ("2-D array", lambda a, b, c: ("swap_duplicate_many", (np.zeros((2, 2), np.uint64),)), ValueError),
    ("handles length", lambda a, b, c: ("zswap_store_many", (np.array([c], np.uint64),
                                                             np.array([], np.uint64))), ValueError),
    ("handle range", lambda a, b, c: ("zswap_store", (c, 1 << 62)), ValueError),
    ("prepare cached", lambda a, b, c: ("swapcache_prepare", (a,)), EntryExists),
    ("prepare free", lambda a, b, c: ("swapcache_prepare", (a + 40,)), NoEntry),
    ("add unprepared", lambda a, b, c: ("swap_cache_add_folio", (c, 5)), ValueError),
    ("add over a folio", lambda a, b, c: ("swap_cache_add_folio", (a, 5)), EntryExists),
    ("del without folio", lambda a, b, c: ("swap_cache_del_folio", (c,)), NoEntry),
    ("put with folio", lambda a, b, c: ("put_swap_folio", (a,)), EntryExists),
    ("put uncached", lambda a, b, c: ("put_swap_folio", (c,)), NoEntry),
    ("shadow range", lambda a, b, c: ("swap_cache_del_folio", (a, 0, 1 << 62)), ValueError),
    ("folio range", lambda a, b, c: ("folio_alloc_swap", (1 << 57,)), ValueError),
    ("device type", lambda a, b, c: ("reclaim_cache_only", (5,)), ValueError),
    ("page tables type", lambda a, b, c: ("swapoff", (0, [c])), TypeError),
    ("page tables dtype", lambda a, b, c: ("swapoff", (0, np.array([c], np.int64))), TypeError),
    ("swapoff with refs outside", lambda a, b, c: ("swapoff", (0, PageTable())), SwapError),
    ("writeback misaligned", lambda a, b, c: ("writeback", (b + 2, 2)), ValueError),
]


@pytest.mark.parametrize("name, make_call, exc", BAD, ids=[b[0] for b in BAD])
def test_bad_input_changes_nothing(impl, name, make_call, exc):
    ds, a, b, c = _state(impl)
    verb, args = make_call(a, b, c)
    before = ds.snapshot()
    with pytest.raises(exc or NoEntry):
        getattr(ds, verb)(*args)
    assert ds.snapshot() == before
    ds.check()


def test_compiled_bare_instance_raises_runtime_error():
    # (tests/test_robustness.py sweeps every method of every class.)
    ds = vswap.DirectSwap.__new__(vswap.DirectSwap)
    assert ds.memory_footprint()["total"] == 0
    for call in (lambda: ds.swap_count(1), lambda: ds.folio_alloc_swap(1),
                 lambda: ds.swapon(None), lambda: ds.folio_alloc_swap_many(np.zeros(1, np.uint64)),
                 ds.snapshot, ds.check):
        with pytest.raises(RuntimeError, match="DirectSwap is not initialised"):
            call()


def test_slot_freed_behind_the_design_is_not_freed_twice(impl):
    ds = make(impl)
    e = ds.folio_alloc_swap(1, order=1)
    ds.swap_duplicate(e, 2)
    dev = ds.swaps[0]
    dev.free(e + 1)                             # misuse: the allocator's own verb
    with pytest.raises(AssertionError):
        ds.check()
    ds.free_swap_and_cache_nr(e, 2)
    assert dev.nr_used == 0
    dev.check()
    ds.check()
    # a whole cluster freed behind the design's back: its table is gone
    es = [ds.folio_alloc_swap(f) for f in range(3)]
    cluster = [int(x) for x in es if x >= 16]
    for x in es:
        ds.swap_duplicate(x)
    for x in es:
        dev.free(x)
    for x in es:
        ds.free_swap_and_cache_nr(x)
    dev.check()


def test_foreign_table_words_do_not_crash(impl):
    # SwapDevice.set_table can write any word; the design must stay in bounds.
    ds = make(impl, 32, 16)
    es = [ds.folio_alloc_swap(f) for f in range(20)]
    dev = ds.swaps[0]
    for e in es:
        ds.swap_duplicate(e)
        ds.swap_free_nr(e)                       # cache-only
    dev.set_table(es[3], (1 << 63) | (15 << 2) | 2 | (5 << 6))   # an order-15 "folio"
    ds.reclaim_cache_only(0)
    with pytest.raises(AssertionError):
        ds.check()


def test_three_continuation_levels_compiled():
    # 63 * 128 * 128 = 1,032,192: the third continuation digit comes into use.
    ds = make(vswap)
    e = ds.folio_alloc_swap(1)
    n = 63 * 128 * 128 + 1000
    ds.swap_duplicate_many(np.full(n, e, dtype=np.uint64))
    assert ds.swap_count(e) == n
    assert ds.memory_footprint()["continuation"] == 3 * 4096
    ds.check()
    ds.swap_free_many(np.full(n - 5, e, dtype=np.uint64))
    assert ds.swap_count(e) == 5
    before = ds.snapshot()
    with pytest.raises(NoEntry):
        ds.swap_free_many(np.full(6, e, dtype=np.uint64))
    assert ds.snapshot() == before
    ds.check()
