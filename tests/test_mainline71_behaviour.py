"""Mainline 7.1 (Mainline71): where it differs from phase IV and from 6.19, on both engines.

Its metadata (static swap_cgroup and zeromap, the count in the table word
with the extend table) and the memory model's swap-in trait: 7.1 never
bypasses the swap cache on a SWP_SYNCHRONOUS_IO device (7.0's phase II,
``swapin_folio``), 6.19 does (``do_swap_page``'s skip of the swap cache).
"""

import pytest

import vswap
from vswap import reference
from vswap.designs import make_design
from vswap.replay import Machine, machine_config, replay
from vswap.workloads import random_touch, usemem

IMPLS = [vswap, reference]


def _m71(impl, slots=1024, cs=512):
    return impl.Mainline71(impl.SwapDevices([impl.SwapDevice(slots, cluster_size=cs)]))


@pytest.mark.parametrize("impl", IMPLS)
def test_the_zero_flag_is_a_zeromap_bit_not_a_table_word(impl):
    m = _m71(impl)
    e = m.folio_alloc_swap(1)
    word = m.snapshot()["devices"][0]["slots"][e][0]
    writes = m.stats["table_writes"]
    m.zero_store(e)
    assert m.stats["table_writes"] == writes          # phase IV writes SWP_TB_ZERO in the word
    assert m.snapshot()["devices"][0]["slots"][e][0] == word
    m.swap_cache_del_folio(e)
    assert m.lookup(e).kind == "zero"
    p4 = impl.SwapTableP4(impl.SwapDevices([impl.SwapDevice(1024, cluster_size=512)]))
    e4 = p4.folio_alloc_swap(1)
    w4 = p4.stats["table_writes"]
    p4.zero_store(e4)
    assert p4.stats["table_writes"] == w4 + 1


@pytest.mark.parametrize("impl", IMPLS)
def test_swap_cgroup_and_zeromap_are_static_and_counts_overflow_to_the_extend_table(impl):
    m = _m71(impl, slots=2048)
    fp = m.memory_footprint()
    assert (fp["swap_cgroup"], fp["zeromap"], fp["cluster_info"]) == (4096, 256, 128)
    assert "swap_map" not in fp and "memcg_table" not in fp
    e = m.folio_alloc_swap(5, memcg=9)
    assert m.memory_footprint()["swap_cgroup"] == 4096   # no per-cluster table comes with it
    m.swap_duplicate(e, 1)
    for _ in range(20):
        m.swap_duplicate(e)
    assert m.swap_count(e) == 21 and m.memcg_id(e) == 9
    assert m.memory_footprint()["extend_table"] == 4 * 512
    m.check()
    m.swap_cache_del_folio(e)
    for _ in range(21):
        m.swap_free_nr(e)
    m.put_swap_folio(e)
    assert m.memory_footprint()["extend_table"] == 0 and m.swaps[0].nr_used == 0
    m.check()


@pytest.mark.parametrize("spec", ["baseline", "vss_v5", "swaptable_p4", "mainline_7_1",
                                  "vswap_ste"])
def test_the_memory_model_reads_the_bypass_trait_from_the_design_on_both_engines(spec):
    m = Machine(ram="1M")
    trace = usemem("1M")
    fast = make_design(spec, m, trace.nr_pages)
    slow = make_design(spec, m, trace.nr_pages, reference=True)
    want = spec in ("baseline", "vss_v5")              # 6.19's do_swap_page; the rest on 7.0+
    assert type(fast).swapin_bypasses_swap_cache is type(slow).swapin_bypasses_swap_cache is want
    assert machine_config(m, trace, fast)["bypass"] is machine_config(m, trace, slow)["bypass"] \
        is want


@pytest.mark.parametrize("engine", ["compiled", "reference"])
def test_7_1s_zram_swap_in_goes_through_the_swap_cache_with_6_19s_vm_counters(engine):
    # One PTE per page, so every count is 1: 6.19 takes its bypass, 7.1 swapin_folio;
    # neither reads ahead on zram, both bring large folios in whole.
    trace = random_touch("4M", accesses=3000, zero_share=0.3, mthp="4:0.5", seed=3)
    machine = Machine(ram="1M", backend="zram")
    old = replay(trace, "baseline", machine, engine=engine).counters
    new = replay(trace, "mainline_7_1", machine, engine=engine).counters
    assert old["swapin_sync"] == old["swapin_bypass"] > 0
    assert new["swapin_sync"] == old["swapin_sync"] and new["swapin_bypass"] == 0
    for name in ("pgmajfault", "swap_ra", "swap_ra_hit", "pswpin", "pswpout",
                 "hugepages-64kB/swpin", "hugepages-64kB/swpin_fallback"):
        assert new[name] == old[name], name
    assert old["hugepages-64kB/swpin"] > 0 and old["swap_ra"] == 0
