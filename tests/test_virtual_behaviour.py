"""VirtualSwap behaviour from the kernel facts (v6), on both implementations.

Each test runs on the compiled design and on the reference model.
"""

import numpy as np
import pytest

import vswap
from vswap import reference
from vswap.errors import EntryExists, NoEntry, NoSpace
from vswap.protocol import Lookup

CACHE_ONLY = 1 << 63


@pytest.fixture(params=["compiled", "reference"])
def impl(request):
    return vswap if request.param == "compiled" else reference


def design(impl, ndev=1, nr=256, cs=16, preset="cc_v2", **kw):
    return impl.VirtualSwap.preset(
        preset, impl.SwapDevices([impl.SwapDevice(nr, cluster_size=cs) for _ in range(ndev)]), **kw)


def table_word(vs, slot):
    return vs.swaps[slot >> 58].get_table(slot & ((1 << 58) - 1))


def test_entry_zero_is_never_handed_out(impl):
    vs = impl.VirtualSwap()
    assert vs.folio_alloc_swap(1) == 1            # cluster 0, first run reserved
    assert vs.folio_alloc_swap(2, order=2) == 512  # cluster 0 is order 0: a new cluster 1
    vs2 = impl.VirtualSwap()
    assert vs2.folio_alloc_swap(1, order=9) == 512    # a PMD run needs cluster id >= 1
    assert vs2.folio_alloc_swap(2, order=3) == 8      # then cluster 0, first run reserved
    with pytest.raises(NoEntry):
        vs2.swap_count(0)


def test_one_order_per_cluster_and_per_cpu_caches(impl):
    vs = impl.VirtualSwap()
    a = vs.folio_alloc_swap(1, order=0)
    b = vs.folio_alloc_swap(2, order=1)
    c = vs.folio_alloc_swap(3, order=0, cpu=1)
    assert (a >> 9, b >> 9, c >> 9) == (0, 1, 2)
    snap = vs.snapshot()
    assert snap["pcp"] == {(0, 0): 0, (0, 1): 1, (1, 0): 2}
    assert snap["clusters"][1][0] == 1                     # order fixed for its life


def test_cluster_freed_at_refcount_zero_and_id_reused(impl):
    vs = impl.VirtualSwap()
    e = vs.folio_alloc_swap(1, order=9)                    # fills cluster 1: full, not cached
    assert vs.snapshot()["clusters"][1][:5] == (9, 512, 512, 0, 1)
    vs.swap_cache_del_folio(e, order=9)
    vs.put_swap_folio(e, order=9)
    assert 1 not in vs.snapshot()["clusters"]
    assert vs.stats["clusters_freed"] == 1
    assert vs.folio_alloc_swap(2, order=9) == 512           # lowest free id again


def test_cached_cluster_is_pinned_by_the_cpu_cache(impl):
    vs = impl.VirtualSwap()
    e = vs.folio_alloc_swap(1, order=1)
    vs.swap_cache_del_folio(e, order=1)
    vs.put_swap_folio(e, order=1)
    order, count, refcnt, cached, full, partial = vs.snapshot()["clusters"][0]
    assert (e, count, refcnt, cached) == (2, 2, 3, 1)     # the reserved run + the CPU cache


def test_zswap_and_zero_need_no_physical_device(impl):
    vs = impl.VirtualSwap()
    es = vs.folio_alloc_swap_many(np.arange(4, dtype=np.uint64))
    vs.zswap_store(int(es[0]), 77)
    vs.zero_store(int(es[1]))
    for e in es.tolist():
        vs.swap_duplicate(e)
        vs.swap_cache_del_folio(e)
        vs.put_swap_folio(e)
    assert vs.lookup(int(es[0])) == Lookup("zswap", 77)
    assert vs.lookup(int(es[1])) == Lookup("zero", 0)
    assert vs.lookup(int(es[2])) == Lookup("folio", 2)
    with pytest.raises(NoSpace):
        vs.writeback(int(es[2]))
    fp = vs.memory_footprint()
    assert fp["descriptors"] == 4 * 24 and fp["rmap"] == fp["phys_bitmaps"] == 0


def test_writeback_sets_rmap_charges_memcg_and_reuses_a_contiguous_run(impl):
    vs = design(impl)
    e = vs.folio_alloc_swap(1, order=2, memcg=5)
    vs.zswap_store(e + 1, 9)
    vs.swap_duplicate(e, 4)
    slot = vs.writeback(e, order=2)
    assert [table_word(vs, slot + i) for i in range(4)] == [e, e + 1, e + 2, e + 3]
    assert vs.snapshot()["charge"] == {5: 4} and vs.snapshot()["nr_zswap"] == 0
    assert vs.writeback(e, order=2) == slot and vs.stats["phys_allocs"] == 1
    vs.zero_store(e, 4)                                     # releases and uncharges
    assert vs.snapshot()["charge"] == {} and vs.swaps[0].nr_used == 0


def test_cache_only_bit_set_at_count_zero_cleared_on_dup(impl):
    for preset, bit in (("cc_v2", True), ("vss_v5", False)):
        vs = design(impl, preset=preset)
        e = vs.folio_alloc_swap(1)
        vs.swap_duplicate(e)
        slot = vs.writeback(e)
        assert table_word(vs, slot) == e
        vs.swap_free_nr(e)                                  # count 1 -> 0, still cached
        assert table_word(vs, slot) == (e | CACHE_ONLY if bit else e)
        vs.swap_duplicate(e)                                # 0 -> 1
        assert table_word(vs, slot) == e


def test_free_swap_and_cache_reclaims_cache_only_folios(impl):
    vs = design(impl)
    e = vs.folio_alloc_swap(3, order=2)
    vs.swap_duplicate(e, 4)
    vs.writeback(e, order=2)
    vs.free_swap_and_cache_nr(e, 4)
    assert vs.snapshot()["nr_used"] == 0 and vs.swaps[0].nr_used == 0
    assert vs.stats["folios_reclaimed"] == 1 and vs.stats["phys_frees"] == 1


def test_batched_free_flushes_at_memcg_boundaries(impl):
    vs = impl.VirtualSwap()
    a = vs.folio_alloc_swap(1, order=1, memcg=1)
    b = vs.folio_alloc_swap(2, order=1, memcg=2)
    assert b == a + 2
    for e in (a, b):
        vs.swap_duplicate(e, 2)
        vs.swap_cache_del_folio(e, order=1)
        vs.put_swap_folio(e, order=1)
    vs.free_swap_and_cache_nr(a, 4)
    assert vs.stats["slots_freed"] == 4 and vs.snapshot()["nr_used"] == 0


def test_switches_change_only_the_counted_work(impl):
    counts = {}
    for preset in ("vss_v5", "new_opt_v2", "cc_v2"):
        vs = design(impl, preset=preset, nr=64)
        es = [vs.folio_alloc_swap(f) for f in range(40)]
        for e in es:
            vs.swap_duplicate(e)
            vs.writeback(e)
            vs.swap_free_nr(e)                              # cache-only, full physical clusters
        vs.folio_alloc_swap(99)
        vs.reset_stats()
        vs.reclaim_cache_only(0)
        e = vs.folio_alloc_swap(100, order=3)
        vs.swap_duplicate(e, 8)
        vs.free_swap_and_cache_nr(e, 8)
        counts[preset] = (vs.stats, vs.snapshot()["nr_used"])
    v5, v2, cc = (counts[p][0] for p in ("vss_v5", "new_opt_v2", "cc_v2"))
    assert counts["vss_v5"][1] == counts["new_opt_v2"][1] == counts["cc_v2"][1]
    assert v5["cache_only_checks"] > 0 and v2["cache_only_checks"] == 0
    assert v5["cgroup_checks"] == 8 and v2["cgroup_checks"] == 1
    assert v5["lookups"] > v2["lookups"] > cc["lookups"]
    assert cc["mru_hits"] > 0 and v2["mru_hits"] == 0


def test_swapoff_without_a_page_table_walk(impl):
    vs = design(impl)
    e = vs.folio_alloc_swap(1, order=1)
    vs.swap_duplicate(e, 2)
    vs.writeback(e, order=1)
    vs.swap_cache_del_folio(e, order=1)
    vs.put_swap_folio(e, order=1)
    assert vs.swapoff(0, {"ignored": 1}) == 0
    assert vs.swaps[0].nr_used == 0 and not vs.swaps[0].writeok
    assert vs.lookup(e) == Lookup("folio", e) and vs.swap_cache_get_folio(e + 1) == e + 1
    assert vs.swap_count(e) == 1 and vs.snapshot()["charge"] == {}
    vs.check()


def test_bad_inputs_raise_and_change_nothing(impl):
    vs = design(impl)
    e = vs.folio_alloc_swap(1)
    before = vs.snapshot()
    for call, exc in [
        (lambda: vs.swap_free_nr(e), NoEntry),               # count 0
        (lambda: vs.swap_duplicate(e, 2), NoEntry),          # e + 1 is free
        (lambda: vs.swapcache_prepare(e), EntryExists),
        (lambda: vs.put_swap_folio(e), EntryExists),
        (lambda: vs.swap_cache_add_folio(e, 3), EntryExists),
        (lambda: vs.swap_duplicate(-1), ValueError),
        (lambda: vs.swap_duplicate("x"), TypeError),
        (lambda: vs.swap_duplicate(1 << 60), ValueError),
        (lambda: vs.folio_alloc_swap(1, order=10), ValueError),
        (lambda: vs.writeback(e, order=1), ValueError),
        (lambda: vs.swap_free_many([e]), TypeError),
        (lambda: vs.zswap_store_many(np.array([e], dtype=np.uint64),
                                     np.array([1 << 62], dtype=np.uint64)), ValueError),
        (lambda: vs.swapoff(5), ValueError),
        (lambda: impl.VirtualSwap(max_clusters=0), ValueError),
    ]:
        with pytest.raises(exc):
            call()
        assert vs.snapshot() == before


def test_alloc_reject_when_cluster_ids_run_out(impl):
    vs = impl.VirtualSwap(max_clusters=1)
    with pytest.raises(NoSpace):
        vs.folio_alloc_swap(1, order=9)
    assert vs.snapshot()["alloc_reject"] == 1
    assert len(vs.folio_alloc_swap_many(np.arange(600, dtype=np.uint64))) == 511


def test_descriptor_is_24_bytes():
    from vswap._virtual import SWP_DESC_BYTES
    assert SWP_DESC_BYTES == 24
