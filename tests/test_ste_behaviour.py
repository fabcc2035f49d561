"""SwapTableEdition beyond the state machine: the ghost device's entries and tables,
the virtual_table tags, lazy physical backing and its reverse map, the shared
per-CPU cache's ping-pong, the footprint against vswap.metadata, bare and
closed instances, and both replay engines agreeing per switch setting."""

import numpy as np
import pytest

import vswap
from vswap import NoEntry, NoSpace, SwapTableEdition, reference
from vswap import _ste
from vswap.metadata import metadata_bytes
from vswap.protocol import swp_entry, swp_offset, swp_type
from vswap.reference import ste as ref_ste
from vswap.replay import Machine, replay
from vswap.workloads import memhog, mixed, usemem

IMPLS = [vswap, reference]
GHOST = swp_entry(31, 0)


def make(impl, slots=64, cs=16, ndev=1, **kw):
    devs = impl.SwapDevices([impl.SwapDevice(slots, cluster_size=cs) for _ in range(ndev)])
    return impl.SwapTableEdition(devs, **kw)


def test_constants_have_one_meaning_in_both_models():
    for name in ("VSWAP_TYPE", "STE_HANDLE_MAX", "STE_MAX_CLUSTERS", "STE_CLUSTER_BYTES",
                 "STE_SWITCHES"):
        assert getattr(_ste, name) == getattr(ref_ste, name), name
    assert _ste.VTABLE_TAGS == {n: getattr(ref_ste, "VT_" + n) for n in _ste.VTABLE_TAGS}
    assert _ste.VTABLE_TAGS_V2 == {"NONE": ref_ste.VT_NONE, "PHYS": ref_ste.VT_PHYS,
                                   "ZSWAP": ref_ste.VT_ZSWAP_V2}
    assert sorted(_ste.VTABLE_TAGS_V2.values()) == [0, 1, 2]      # RFC v2: 000, 001, 010
    assert _ste.VSWAP_TYPE == 31 and _ste.STE_MAX_CLUSTERS * 512 == (2 ** 32 - 1) // 512 * 512
    assert _ste.STE_CLUSTER_BYTES == 80


@pytest.mark.parametrize("rfc", [1, 2])
@pytest.mark.parametrize("impl", IMPLS, ids=["compiled", "reference"])
def test_entries_are_ghost_slots_and_the_vtable_word_follows_the_backing(impl, rfc):
    ste = make(impl, rfc=rfc)
    e = ste.folio_alloc_swap(7, memcg=3)
    assert swp_type(e) == 31 and swp_offset(e) == 1          # offset 0 is the header slot
    ste.swap_duplicate(e)
    tag = lambda: ste.snapshot()["entries"][e][1] & 7          # noqa: E731
    # v1 tags the allocated folio FOLIO; v2's folio is the swap table's (the word stays NONE)
    assert tag() == (ref_ste.VT_FOLIO if rfc == 1 else ref_ste.VT_NONE) and ste.memcg_id(e) == 3
    ste.zswap_store(e, 42)
    zswap_tag = ref_ste.VT_ZSWAP if rfc == 1 else ref_ste.VT_ZSWAP_V2      # 011 in v1, 010 in v2
    assert tag() == zswap_tag and ste.swaps[0].nr_used == 0   # zswap needs no slot
    assert ste.lookup(e) == vswap.Lookup("folio", 7)           # the cached folio first
    ste.zero_store(e)
    zero_bit = ste.snapshot()["entries"][e][0] & ref_ste.SWP_TB_ZERO
    if rfc == 1:        # v1: a ZERO tag in the virtual_table word
        assert tag() == ref_ste.VT_ZERO and not zero_bit
    else:               # v2: the swap table word's zero bit, the virtual_table word NONE
        assert tag() == ref_ste.VT_NONE and zero_bit
    assert ste.zswap_load(e) is None and ste.lookup(e) == vswap.Lookup("folio", 7)
    slot = ste.writeback(e)
    assert tag() == ref_ste.VT_PHYS and ste.swaps[0].nr_used == 1
    assert not ste.snapshot()["entries"][e][0] & ref_ste.SWP_TB_ZERO     # backing replaces it
    assert ste.writeback(e) == slot                            # one physical run is reused
    ste.swap_cache_del_folio(e)
    assert ste.lookup(e) == vswap.Lookup("swapfile", slot)
    # the physical slot's table word is the reverse map: virtual offset << 3 | 0b100
    rmap = ste.snapshot()["swaps"]["devices"][0]["tables"]
    words = [w for _, ws in rmap.items() for _, w in ws]
    assert words == [(1 << 3) | 0b100]
    ste.put_swap_folio(e)
    ste.free_swap_and_cache_nr(e)
    assert ste.swaps[0].nr_used == 0 and ste.snapshot()["nr_used"] == 0
    ste.check()


@pytest.mark.parametrize("impl", IMPLS, ids=["compiled", "reference"])
def test_cache_only_bit_and_reclaim_through_the_reverse_map(impl):
    ste = make(impl, slots=32, cs=16)
    es = [ste.folio_alloc_swap(f) for f in range(31)]
    for e in es:
        ste.writeback(e)                                       # fills the device
    with pytest.raises(NoSpace):
        ste.writeback(ste.folio_alloc_swap(99))
    bits = [w >> 63 for ws in ste.snapshot()["swaps"]["devices"][0]["tables"].values()
            for _, w in ws]
    assert bits and all(bits)                                  # count 0, cached: cache-only
    freed = ste.reclaim_cache_only(0)
    assert freed > 0 and ste.stats["folios_reclaimed"] == freed
    ste.check()


@pytest.mark.parametrize("impl", IMPLS, ids=["compiled", "reference"])
def test_swapoff_reads_into_the_ghost_swap_cache_without_a_page_table_walk(impl):
    ste = make(impl)
    e = ste.folio_alloc_swap(5)
    ste.swap_duplicate(e)
    ste.writeback(e)
    ste.swap_cache_del_folio(e, shadow=9)
    ste.put_swap_folio(e)
    assert ste.swapoff(0, None) == 0
    assert ste.lookup(e) == vswap.Lookup("folio", 1) and ste.swaps[0].nr_used == 0
    assert ste.stats["scans"] == 64
    with pytest.raises(ValueError, match="ghost"):
        ste.swapoff(31)
    ste.check()


@pytest.mark.parametrize("impl", IMPLS, ids=["compiled", "reference"])
def test_extend_table_holds_counts_past_14(impl):
    ste = make(impl, ndev=0)
    e = ste.folio_alloc_swap(1)
    ste.swap_duplicate(e, 1)
    for _ in range(20):
        ste.swap_duplicate(e)
    assert ste.swap_count(e) == 21 and ste.stats["extend_tables_allocated"] == 1
    assert ste.memory_footprint()["extend_table"] == 4 * 512
    for _ in range(21):
        ste.swap_free_nr(e)
    ste.check()


def _alternate(impl, shared, n=64):
    """Virtual allocations and writebacks alternating on one CPU (zswap shrinker-like)."""
    ste = make(impl, slots=512, cs=16, shared_cluster_cache=shared)
    for f in range(n):
        ste.writeback(ste.folio_alloc_swap(f))
    return ste


@pytest.mark.parametrize("impl", IMPLS, ids=["compiled", "reference"])
def test_a_shared_per_cpu_cache_ping_pongs(impl):
    sep, shared = _alternate(impl, False), _alternate(impl, True)
    assert sep.stats["pcp_invalidations"] == 0
    assert sep.stats["vcache_misses"] == 1                      # one ghost cluster, kept cached
    # each allocation evicts the other side's cluster: the RFC's invalidation ping-pong
    assert shared.stats["pcp_invalidations"] == 2 * 64 - 1
    assert shared.stats["vcache_misses"] == 64
    assert shared.swaps.stats["slow_path"] > sep.swaps.stats["slow_path"]
    shared.check()


@pytest.mark.parametrize("impl", IMPLS, ids=["compiled", "reference"])
def test_lookup_cache_saves_walks_and_changes_nothing_else(impl):
    a, b = make(impl, ndev=0), make(impl, ndev=0, lookup_cache=True)
    for ste in (a, b):
        es = ste.folio_alloc_swap_many(np.arange(40, dtype=np.uint64))
        ste.swap_duplicate_many(es)
        ste.free_swap_and_cache_many(es)
    sa, sb = a.snapshot(), b.snapshot()
    assert {k: v for k, v in sa.items() if k not in ("stats", "lookup_cache")} == \
        {k: v for k, v in sb.items() if k not in ("stats", "lookup_cache")}
    assert sb["stats"]["lookups"] < sa["stats"]["lookups"]
    assert sb["stats"]["lookup_hits"] > 0 and sa["stats"]["lookup_hits"] == 0


@pytest.mark.parametrize("impl", IMPLS, ids=["compiled", "reference"])
def test_bad_input_is_rejected_and_changes_nothing(impl):
    ste = make(impl)
    e = ste.folio_alloc_swap(1)
    before = ste.snapshot()
    for call, exc in ((lambda: ste.swap_count(5), NoEntry),              # a free direct slot
                      (lambda: ste.swap_count(3 << 58 | 1), ValueError),  # no device 3
                      (lambda: ste.swap_count(GHOST | 40), NoEntry),
                      (lambda: ste.zswap_store(e, 1 << 61), ValueError),
                      (lambda: ste.folio_alloc_swap(1 << 51), ValueError),
                      (lambda: ste.swap_free_nr(e), NoEntry),
                      (lambda: ste.reclaim_cache_only(31), ValueError),
                      (lambda: ste.swapoff(3), ValueError)):
        with pytest.raises(exc):
            call()
        assert ste.snapshot() == before
    with pytest.raises(ValueError, match="at most 31"):
        impl.SwapTableEdition(impl.SwapDevices([impl.SwapDevice(16, cluster_size=16)
                                                for _ in range(32)]))
    with pytest.raises(ValueError):
        impl.SwapTableEdition(max_clusters=0)


def test_max_clusters_caps_the_ghost_device():
    for impl in IMPLS:
        ste = impl.SwapTableEdition(max_clusters=1)
        es = [ste.folio_alloc_swap(f) for f in range(511)]
        with pytest.raises(NoSpace):
            ste.folio_alloc_swap(999)
        assert len(set(es)) == 511 and ste.snapshot()["alloc_reject"] == 1


@pytest.mark.parametrize("impl", IMPLS, ids=["compiled", "reference"])
def test_v2_s_ghost_device_is_8_pb_and_v1_s_16_tib(impl):
    assert _ste.STE_V2_MAX_CLUSTERS == ref_ste.STE_V2_MAX_CLUSTERS == (1 << 41) // 512
    assert _ste.STE_V2_MAX_CLUSTERS * 512 * 4096 == 8 << 50              # 8 PiB of 4 KiB slots
    top = swp_entry(31, _ste.STE_V2_MAX_CLUSTERS * 512 - 1)
    v2 = impl.SwapTableEdition()
    with pytest.raises(NoEntry):                                   # in range, not allocated
        v2.swap_count(top)
    v1 = impl.SwapTableEdition(rfc=1)
    with pytest.raises(ValueError, match="end"):                   # past v1's 16 TiB
        v1.swap_count(top)
    impl.SwapTableEdition(max_clusters=_ste.STE_V2_MAX_CLUSTERS)
    for bad in (dict(max_clusters=_ste.STE_V2_MAX_CLUSTERS + 1),
                dict(max_clusters=_ste.STE_MAX_CLUSTERS + 1, rfc=1), dict(rfc=3), dict(rfc=True)):
        with pytest.raises(ValueError):
            impl.SwapTableEdition(**bad)


def test_closed_and_unbuilt_instances_raise():
    ste = make(vswap)
    ste.close()
    with pytest.raises(RuntimeError, match="closed"):
        ste.folio_alloc_swap(1)
    bare = SwapTableEdition.__new__(SwapTableEdition)
    for call in (lambda: bare.check(), lambda: bare.swap_count(GHOST | 1), lambda: bare.snapshot(),
                 lambda: bare.swapoff(0, {}), lambda: bare.__vswap_ops__(),
                 lambda: bare.folio_alloc_swap(1)):
        with pytest.raises(RuntimeError, match="not initialised"):
            call()
    assert bare.stats["lookups"] == 0 and bare.memory_footprint()["total"] == 0


@pytest.mark.parametrize("backing", ["zswap", "disk"])
@pytest.mark.parametrize("used", [1, 511, 512, 3000])
@pytest.mark.parametrize("name, rfc", [("vswap_ste_v1", 1), ("vswap_ste", 2)])
def test_layout_of_vswap_metadata_is_its_footprint(backing, used, name, rfc):
    slots = 4096
    # zswap-only: no physical device at all (vswap.metadata's zswap layout has none)
    devs = [vswap.SwapDevice(slots, cluster_size=512)] if backing == "disk" else []
    ste = SwapTableEdition(vswap.SwapDevices(devs), rfc=rfc)
    es = [ste.folio_alloc_swap(f) for f in range(used)]
    for i, e in enumerate(es):
        ste.swap_duplicate(e)
        if backing == "disk":
            ste.writeback(e)
        else:
            ste.zswap_store(e, i)
        ste.swap_cache_del_folio(e)
        ste.put_swap_folio(e)
    fp = ste.memory_footprint()
    want = metadata_bytes(name, slots * 4096, used / slots, backing)
    for key in want:
        assert fp[key] == want[key], key
    assert fp["extend_table"] == 0


DESIGNS = ["vswap_ste", "vswap_ste+shared_cluster_cache", "vswap_ste+lookup_cache"]
TRACES = {"usemem": lambda: usemem("1M", tasks=2, mthp={2: 0.5}, zero_share=0.2, seed=1),
          "memhog": lambda: memhog("1M", passes=2), "mixed": lambda: mixed("1M", seed=3)}
MACHINES = {"zram": Machine(ram="600K", reclaim_batch=8),
            "zswap": Machine(ram="600K", backend="zswap", zswap_pool="200K", page_cluster=2)}


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("machine", MACHINES, ids=str)
@pytest.mark.parametrize("trace", TRACES, ids=str)
def test_compiled_and_reference_replays_agree(trace, machine, design):
    t, m = TRACES[trace](), MACHINES[machine]
    fast = replay(t, design, m, engine="compiled", keep_state=True)
    slow = replay(t, design, m, engine="reference", keep_state=True)
    assert fast.counters == slow.counters and fast.stats == slow.stats
    assert fast.swap_stats == slow.swap_stats and fast.footprint == slow.footprint
    assert np.array_equal(fast.pte, slow.pte) and np.array_equal(fast.pstate, slow.pstate)
    assert fast.counters["swapped_out"] > 0
    # the same page events and swap traffic as mainline; the zap batches are the
    # virtual designs' (runs of consecutive virtual entries), as cc_v2's when
    # the allocation order is v6's
    base, v6 = replay(t, "baseline", m), replay(t, "cc_v2", m)
    # (but for swapin_bypass: STE sits on 7.0's phase II, with no swap-cache bypass).
    # zswap's swapfile is no block device: mainline's large folios split there before
    # zswap stores them, a virtual entry stays whole (as v6's)
    same = base if m.swap_blockdev else v6
    own = ("free_batches", "swapin_bypass")
    assert {k: v for k, v in fast.counters.items() if k not in own} == \
        {k: v for k, v in same.counters.items() if k not in own}
    if not m.swap_blockdev and t.order.max() > 0:     # where the rule shows: the large folios
        assert any(fast.counters[k] < base.counters[k] for k in fast.counters
                   if k.endswith("/swpout_fallback"))
    assert fast.counters["swapin_bypass"] == 0
    if "shared" not in design:       # a shared cache moves where entries land
        assert fast.counters["free_batches"] == v6.counters["free_batches"]


@pytest.mark.parametrize("impl", IMPLS, ids=["compiled", "reference"])
def test_v2_gives_a_physical_cluster_a_memcg_table_with_its_first_direct_slot(impl):
    ghost = 2 * 512                              # the ghost cluster's memcg_table
    seen = {}
    for rfc in (1, 2):
        ste = make(impl, slots=64, cs=16, rfc=rfc, direct_memcgs={7})
        e = ste.folio_alloc_swap(1)
        ste.swap_duplicate(e)
        ste.writeback(e)                         # a physical cluster backing a ghost entry
        before = ste.memory_footprint()["memcg_table"]
        d = ste.folio_alloc_swap(2, memcg=7)     # a direct-mapped slot
        after = ste.memory_footprint()["memcg_table"]
        ste.swap_cache_del_folio(d)
        ste.put_swap_folio(d)                    # the direct slot goes again
        seen[rfc] = (before, after, ste.memory_footprint()["memcg_table"])
        ste.check()
    assert seen[1][0] == ghost + 2 * 16          # v1: every in-use physical cluster has one
    assert seen[2] == (ghost, ghost + 2 * 16, ghost)


@pytest.mark.parametrize("impl", IMPLS, ids=["compiled", "reference"])
def test_v1_keeps_zswap_s_own_tree_and_v2_finds_entries_through_the_word(impl):
    walks, trees = {}, {}
    for rfc in (1, 2):
        ste = make(impl, rfc=rfc)
        e = ste.folio_alloc_swap(1)
        ste.swap_duplicate(e)
        ste.zswap_store(e, 5)                          # v1: an insert into zswap's tree
        trees[rfc] = ste.memory_footprint()["zswap_tree"]
        ste.swap_cache_del_folio(e)
        assert ste.lookup(e) == vswap.Lookup("zswap", 5)   # v1: a descent to find it
        assert ste.zswap_invalidate(e) == 5            # v1: the erase
        walks[rfc] = ste.stats["zswap_walks"]
        ste.check()
    assert trees == {1: 8, 2: 0} and walks == {1: 3, 2: 0}


@pytest.mark.parametrize("impl", IMPLS, ids=["compiled", "reference"])
def test_v2_has_three_tags_and_a_folio_without_one(impl):
    ste = make(impl, rfc=2)
    es = [ste.folio_alloc_swap(f) for f in range(1, 5)]
    for e in es:
        ste.swap_duplicate(e)
    ste.zswap_store(es[0], 9)
    ste.zero_store(es[1])
    ste.writeback(es[2])
    for e in es:
        ste.swap_cache_del_folio(e)
    tags = {ste.snapshot()["entries"][e][1] & 7 for e in es}
    assert tags <= set(_ste.VTABLE_TAGS_V2.values()) and tags == {0, 1, 2}
    assert [ste.lookup(e).kind for e in es] == ["zswap", "zero", "swapfile", "folio"]
    ste.swapoff(0)                       # the physical slot's data comes into a folio: NONE
    assert ste.snapshot()["entries"][es[2]][1] & 7 == ref_ste.VT_NONE
    assert ste.lookup(es[2]).kind == "folio"
    ste.check()
