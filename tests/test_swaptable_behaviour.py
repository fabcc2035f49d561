"""SwapTableP4 beyond the state machine: its word layout, the extend and memcg
tables' lifetimes, its limits, and the same results as the baseline in a replay."""

import numpy as np
import pytest

import vswap
from vswap import NoEntry, SwapTableP4, reference
from vswap import _swaptable
from vswap.reference import swaptable as ref_swaptable
from vswap.replay import Machine, replay
from vswap.workloads import memhog, usemem

IMPLS = [vswap, reference]


def make(impl, slots=64, cs=16):
    return impl.SwapTableP4(impl.SwapDevices([impl.SwapDevice(slots, cluster_size=cs)]))


def test_word_layout_has_one_meaning_in_both_models():
    assert _swaptable.WORD_LAYOUT == {k: getattr(ref_swaptable, k) for k in _swaptable.WORD_LAYOUT}
    assert _swaptable.SWAP_COUNT_LIMIT == ref_swaptable.SWAP_COUNT_LIMIT == 2 ** 32 - 1
    w = _swaptable.WORD_LAYOUT
    fields = [w["SWP_TB_PAYLOAD"], w["SWP_TB_PIN"], w["SWP_TB_ZERO"],
              w["SWP_TB_COUNT_MAX"] << w["SWP_TB_COUNT_SHIFT"], vswap.SWAP_TABLE_CACHE_ONLY]
    assert sum(fields) == 2 ** 64 - 1                        # disjoint and covering the word
    assert all(a & b == 0 for i, a in enumerate(fields) for b in fields[i + 1:])


@pytest.mark.parametrize("impl", IMPLS, ids=["compiled", "reference"])
def test_extend_table_lives_while_a_count_is_15_or_more(impl):
    p4 = make(impl)
    e = p4.folio_alloc_swap(1)
    p4.swap_duplicate(e, 1)
    for _ in range(13):
        p4.swap_duplicate(e)
    assert p4.swap_count(e) == 14 and p4.memory_footprint()["extend_table"] == 0
    p4.swap_duplicate(e)
    assert p4.swap_count(e) == 15 and p4.memory_footprint()["extend_table"] == 4 * 16
    assert p4.stats["extend_tables_allocated"] == 1
    p4.swap_free_nr(e)
    assert p4.swap_count(e) == 14 and p4.memory_footprint()["extend_table"] == 0
    p4.check()


@pytest.mark.parametrize("impl", IMPLS, ids=["compiled", "reference"])
def test_memcg_table_lives_while_the_cluster_holds_an_entry(impl):
    p4 = make(impl)
    es = [p4.folio_alloc_swap(i, memcg=i) for i in range(1, 4)]
    assert [p4.memcg_id(e) for e in es] == [1, 2, 3]
    assert p4.memory_footprint()["memcg_table"] == 2 * 16
    for e in es:
        p4.swap_duplicate(e)
        p4.swap_cache_del_folio(e)
        p4.put_swap_folio(e)
    # one zap run over three memcgs: one batch, one fast free
    p4.free_swap_and_cache_nr(es[0], 3)
    assert p4.stats["fast_frees"] == 1 and p4.stats["slots_freed"] == 3
    fp = p4.memory_footprint()
    assert fp["memcg_table"] == 0 and fp["cluster_info"] == 4 * 48
    p4.check()


@pytest.mark.parametrize("impl", IMPLS, ids=["compiled", "reference"])
def test_payload_limits_are_checked_before_anything_changes(impl):
    p4 = make(impl)
    e = p4.folio_alloc_swap(1)
    before = p4.snapshot()
    with pytest.raises(ValueError, match="folio"):
        p4.folio_alloc_swap(1 << 51)
    with pytest.raises(ValueError, match="folio"):
        p4.folio_alloc_swap_many(np.array([2, 1 << 51], dtype=np.uint64))
    with pytest.raises(ValueError, match="shadow"):
        p4.swap_cache_del_folio(e, shadow=1 << 56)
    assert p4.snapshot() == before
    p4.swap_cache_del_folio(e, shadow=(1 << 56) - 1)
    assert p4.swap_cache_get_shadow(e) == (1 << 56) - 1


@pytest.mark.parametrize("impl", IMPLS, ids=["compiled", "reference"])
def test_zero_flag_lives_in_the_word(impl):
    p4 = make(impl)
    e = p4.folio_alloc_swap(1)
    p4.swap_duplicate(e)
    p4.zero_store(e)
    p4.swap_cache_del_folio(e)
    p4.put_swap_folio(e)
    assert p4.lookup(e) == vswap.Lookup("zero", 0)
    word = p4.snapshot()["devices"][0]["slots"][e][0]
    assert word & ref_swaptable.SWP_TB_ZERO and p4.memory_footprint()["total"] == 4 * 48 + 8 * 16 + 2 * 16
    p4.zswap_store(e, 9)
    assert p4.lookup(e) == vswap.Lookup("zswap", 9)
    assert not p4.snapshot()["devices"][0]["slots"][e][0] & ref_swaptable.SWP_TB_ZERO


def test_closed_and_unbuilt_instances_raise():
    p4 = make(vswap)
    p4.close()
    with pytest.raises(RuntimeError, match="closed"):
        p4.folio_alloc_swap(1)
    bare = SwapTableP4.__new__(SwapTableP4)
    for call in (lambda: bare.check(), lambda: bare.swap_count(1), lambda: bare.snapshot(),
                 lambda: bare.swapoff(0, {}), lambda: bare.__vswap_ops__()):
        with pytest.raises(RuntimeError, match="not initialised"):
            call()
    with pytest.raises(NoEntry):
        make(vswap).swap_count(5)


@pytest.mark.parametrize("trace", [usemem("2M"), memhog("2M", passes=2)], ids=["usemem", "memhog"])
def test_replay_results_equal_the_baseline_and_both_engines_agree(trace):
    machine = Machine(ram="1M")
    base = replay(trace, "baseline", machine)
    p4 = replay(trace, "swaptable_p4", machine)
    ref = replay(trace, "swaptable_p4", machine, engine="reference")
    # The same page events and swap traffic; phase IV sits on 7.0's phase II, so no
    # swap-in skips the swap cache (SwapSpace.swapin_bypasses_swap_cache).
    assert p4.counters == {**base.counters, "swapin_bypass": 0}
    assert base.counters["swapin_bypass"] == base.counters["swapin_sync"]
    assert p4.swap_stats == base.swap_stats      # and the same allocator work
    assert (p4.counters, p4.stats, p4.swap_stats) == (ref.counters, ref.stats, ref.swap_stats)
    assert p4.footprint["total"] < base.footprint["total"]
    # every count change is a table word here; mainline keeps them in swap_map
    assert p4.stats["table_writes"] > base.stats["table_writes"]
