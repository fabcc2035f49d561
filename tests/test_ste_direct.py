"""SwapTableEdition's direct-mapped entries: physical slots in the page table, beside the
ghost entries on the same devices, that work exactly as in phase IV (the same results and
counters as a SwapTableP4 given the same calls), with the reverse-map slots invisible to
them, the allocator's reclaim reaching both kinds, swapoff walking page tables for them
alone, and their charge and metadata (about 10 B per slot, as in phase IV)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import vswap
from vswap import NoEntry, NoSpace, PageTable, SwapError, reference
from vswap.protocol import swp_entry, swp_type
from vswap.replay import Machine, replay
from vswap.workloads import usemem

from _lockstep import STEPS, VswapLockstep
from test_direct_machine import DEVICES, DirectLockstep
from test_direct_machine import devices as drawn_devices

IMPLS = [vswap, reference]
IDS = ["compiled", "reference"]
GHOST = swp_entry(31, 0)


def devices(impl, slots=64, cs=16, ndev=1):
    return impl.SwapDevices([impl.SwapDevice(slots, cluster_size=cs) for _ in range(ndev)])


def script(sp):
    """The same calls on any design: allocation, counts, cache, zswap, zero, zap."""
    es = [sp.folio_alloc_swap(f, order=o, memcg=m) for f, o, m in
          ((1, 0, 2), (2, 2, 2), (3, 0, 4), (4, 1, 2))]
    for e, nr in zip(es, (1, 4, 1, 2)):
        sp.swap_duplicate(e, nr)
    sp.swap_duplicate(es[0], 1)
    for _ in range(20):                          # past the table word's count field
        sp.swap_duplicate(es[2])
    sp.swap_cache_del_folio(es[0], shadow=11)
    sp.put_swap_folio(es[0])
    sp.zswap_store(es[0], 99)
    sp.zero_store(es[2])
    sp.swap_cache_del_folio(es[2])
    sp.put_swap_folio(es[2])
    sp.writeback(es[3], 1)
    out = [(e, sp.swap_count(e), sp.memcg_id(e), tuple(sp.lookup(e)),
            sp.swap_cache_get_folio(e), sp.swap_cache_get_shadow(e)) for e in es]
    out.append(sp.lookup_many(np.array(es, dtype=np.uint64))[0].tolist())
    sp.free_swap_and_cache_many(np.array([es[1], es[1] + 1, es[1] + 2, es[1] + 3],
                                         dtype=np.uint64))
    sp.swap_free_nr(es[0])
    out.append(sp.zswap_load(es[0]))
    sp.swap_free_nr(es[0])
    return out


@pytest.mark.parametrize("impl", IMPLS, ids=IDS)
def test_direct_entries_work_exactly_as_in_phase_iv(impl):
    ste = impl.SwapTableEdition(devices(impl), direct_memcgs=range(65536))
    p4 = impl.SwapTableP4(devices(impl))
    assert script(ste) == script(p4)
    ste.check()
    p4s, stes = p4.stats, ste.stats
    assert {k: stes[k] for k in p4s} == p4s              # phase IV's counters, unchanged
    assert stes["direct_allocs"] == 4 and stes["lookups"] == stes["vtable_reads"] == 0
    assert ste.snapshot()["direct"] == p4.snapshot()["devices"]
    assert ste.swaps._state() == p4.swaps._state()


@pytest.mark.parametrize("impl", IMPLS, ids=IDS)
def test_ghost_and_direct_entries_share_a_cluster_and_stay_apart(impl):
    ste = impl.SwapTableEdition(devices(impl), direct_memcgs={2})
    g = ste.folio_alloc_swap(1, memcg=1)
    d = ste.folio_alloc_swap(2, memcg=2)
    assert swp_type(g) == 31 and swp_type(d) == 0 and ste.memcg_id(d) == 2
    ste.swap_duplicate(g)
    slot = ste.writeback(g)                     # the next physical slot: the same cluster
    assert swp_type(slot) == 0 and slot == d + 1
    ste.check()
    before = ste.snapshot()
    for call in (lambda: ste.swap_count(slot), lambda: ste.swap_duplicate(slot),
                 lambda: ste.lookup(slot), lambda: ste.swapcache_prepare(slot),
                 lambda: ste.swap_duplicate_many(np.array([d, slot], dtype=np.uint64))):
        with pytest.raises(NoEntry):            # a reverse-map slot is not a page-table entry
            call()
        assert ste.snapshot() == before
    ste.swap_duplicate_many(np.array([g, d], dtype=np.uint64))
    assert (ste.swap_count(g), ste.swap_count(d)) == (2, 1)
    assert ste.lookup_many(np.array([d, g], dtype=np.uint64))[0].tolist() == [3, 3]
    ste.check()


@pytest.mark.parametrize("impl", IMPLS, ids=IDS)
def test_the_allocators_reclaim_hook_reaches_both_kinds(impl):
    ste = impl.SwapTableEdition(devices(impl, slots=32, cs=16), direct_memcgs={2})
    ghosts, directs = [], []
    for f in range(31):                        # fill the device: half rmap, half direct
        if f % 2:
            directs.append(ste.folio_alloc_swap(f, memcg=2))
        else:
            g = ste.folio_alloc_swap(f)
            ste.swap_duplicate(g)
            ste.writeback(g)
            ghosts.append(g)
    for e in ghosts + directs:                 # every slot cache-only: count 0, still cached
        ste.swap_duplicate(e) if e in directs else None
        ste.swap_free_nr(e)
    assert ste.swaps[0].nr_used == 31
    ste.reset_stats()
    # the reclaim hook on both kinds: one full cluster per 16 slots in use, as the kernel
    assert (ste.reclaim_cache_only(0), ste.reclaim_cache_only(0)) == (15, 16)
    st = ste.stats
    assert st["folios_reclaimed"] == 31 and st["rmap_reads"] == len(ghosts)
    assert ste.swaps[0].nr_used == 0
    for e in ghosts + directs:                 # cache-only: reclaiming the folio frees it
        with pytest.raises(NoEntry):
            ste.swap_count(e)
    ste.check()


@pytest.mark.parametrize("impl", IMPLS, ids=IDS)
def test_swapoff_walks_page_tables_for_direct_entries_only(impl):
    ste = impl.SwapTableEdition(devices(impl), direct_memcgs={2})
    g = ste.folio_alloc_swap(1)
    ste.swap_duplicate(g)
    ste.writeback(g)
    ste.swap_cache_del_folio(g)
    ste.put_swap_folio(g)
    d = ste.folio_alloc_swap(2, memcg=2)
    ste.swap_duplicate(d, 1)
    ste.swap_duplicate(d, 1)
    ste.swap_cache_del_folio(d)
    ste.put_swap_folio(d)
    before = ste.snapshot()
    with pytest.raises(SwapError):             # two references, the page tables hold none
        ste.swapoff(0)
    with pytest.raises(SwapError):
        ste.swapoff(0, PageTable({7: d}))
    with pytest.raises(NoEntry):
        ste.swapoff(0, PageTable({7: d, 8: d, 9: d}))
    assert ste.snapshot() == before            # validated before any change
    pt = PageTable({7: d, 8: d, 9: g})
    assert ste.swapoff(0, pt) == 2             # the two direct PTEs rewritten, not the ghost's
    assert pt == {9: g} and ste.swaps[0].nr_used == 0
    assert ste.lookup(g) == ("folio", 1)       # read into the ghost swap cache
    ste.check()


@pytest.mark.parametrize("impl", IMPLS, ids=IDS)
def test_without_direct_entries_swapoff_needs_no_page_tables(impl):
    ste = impl.SwapTableEdition(devices(impl), direct_memcgs={2})
    g = ste.folio_alloc_swap(1)
    ste.swap_duplicate(g)
    ste.writeback(g)
    assert ste.swapoff(0) == 0 and ste.stats["pte_walked"] == 0


@pytest.mark.parametrize("impl", IMPLS, ids=IDS)
def test_charge_physical_backing_and_direct_slots_not_unbacked_ghosts(impl):
    ste = impl.SwapTableEdition(devices(impl), direct_memcgs={2})
    g1, g2 = ste.folio_alloc_swap(1, memcg=1), ste.folio_alloc_swap(2, memcg=1)
    ste.folio_alloc_swap(3, order=1, memcg=2)
    ste.swap_duplicate(g1)
    ste.writeback(g1)
    assert ste.snapshot()["charge"] == {1: 1, 2: 2}  # g2 has no physical backing
    assert g2 in ste.snapshot()["entries"]


@pytest.mark.parametrize("impl", IMPLS, ids=IDS)
def test_a_direct_mapped_slot_costs_about_ten_bytes(impl):
    slots = 8 * 512
    ste = impl.SwapTableEdition(devices(impl, slots=slots, cs=512), direct_memcgs={0})
    es = ste.folio_alloc_swap_many(np.arange(slots - 1, dtype=np.uint64))
    fp = ste.memory_footprint()
    ghost = ("vcluster_info", "cluster_map", "swap_table", "virtual_table")
    assert all(fp[k] == 0 for k in ghost) and len(es) == slots - 1
    per_slot = fp["total"] / slots             # 8 B table + 2 B memcg_table + 48 B / 512
    assert per_slot == pytest.approx(8 + 2 + 48 / 512)


@pytest.mark.parametrize("impl", IMPLS, ids=IDS)
def test_a_shared_cluster_cache_is_taken_by_direct_allocations_too(impl):
    ste = impl.SwapTableEdition(devices(impl), direct_memcgs={2}, shared_cluster_cache=True)
    for f in range(4):
        ste.folio_alloc_swap(f, memcg=1 + f % 2)   # ghost, direct, ghost, direct
    assert ste.stats["pcp_invalidations"] == 3 and ste.stats["direct_allocs"] == 2
    sep = impl.SwapTableEdition(devices(impl), direct_memcgs={2})
    for f in range(4):
        sep.folio_alloc_swap(f, memcg=1 + f % 2)
    assert sep.stats["pcp_invalidations"] == 0 and sep.stats["vcache_hits"] == 1


@pytest.mark.parametrize("impl", IMPLS, ids=IDS)
def test_a_direct_folio_larger_than_a_cluster_falls_back(impl):
    ste = impl.SwapTableEdition(devices(impl), direct_memcgs={2})
    before = ste.snapshot()
    with pytest.raises(NoSpace):               # the caller splits it, as any failed mTHP
        ste.folio_alloc_swap(1, order=5, memcg=2)
    assert ste.snapshot() == before
    assert swp_type(ste.folio_alloc_swap(1, order=5, memcg=1)) == 31


@pytest.mark.parametrize("impl", IMPLS, ids=IDS)
@pytest.mark.parametrize("bad, exc", [(5, TypeError), ("12", TypeError), ([1.5], TypeError),
                                      ([True], TypeError), ([70000], ValueError),
                                      ([-1], ValueError)])
def test_bad_direct_memcgs_are_rejected(impl, bad, exc):
    with pytest.raises(exc):
        impl.SwapTableEdition(direct_memcgs=bad)


@pytest.mark.parametrize("impl", IMPLS, ids=IDS)
def test_direct_memcgs_is_reported(impl):
    ste = impl.SwapTableEdition(direct_memcgs=[9, 3, 3])
    assert ste.direct_memcgs == (3, 9) == ste.snapshot()["direct_memcgs"]


@pytest.mark.parametrize("machine", [Machine(ram="600K", reclaim_batch=8),
                                     Machine(ram="600K", backend="zswap", zswap_pool="200K")],
                         ids=["zram", "zswap"])
def test_replays_with_direct_memcgs_agree_on_both_engines(machine):
    t = usemem("1M", tasks=2, memcgs=2, mthp={2: 0.5}, seed=1)
    fast = replay(t, "vswap_ste_direct", machine, engine="compiled", keep_state=True)
    slow = replay(t, "vswap_ste_direct", machine, engine="reference", keep_state=True)
    assert fast.counters == slow.counters and fast.stats == slow.stats
    assert fast.footprint == slow.footprint and np.array_equal(fast.pte, slow.pte)
    assert fast.stats["direct_allocs"] > 0 and fast.stats["vcache_misses"] > 0
    base = replay(t, "baseline", machine)
    if machine.swap_blockdev:
        assert {k: v for k, v in fast.counters.items() if k != "free_batches"} == \
            {k: v for k, v in base.counters.items() if k != "free_batches"}
    else:
        # zswap's swapfile is no block device: the direct-mapped memcg's large folios split
        # before zswap stores them, as mainline's; the virtual memcg's stay whole, as v6's
        v6, k = replay(t, "cc_v2", machine), "hugepages-16kB/swpout_fallback"
        assert v6.counters[k] < fast.counters[k] < base.counters[k]
        assert fast.counters["pgfault"] == base.counters["pgfault"]


# -- every memcg direct-mapped: the design is phase IV, step for step ---------------------------

def _all_direct(impl, setup):
    return impl.SwapTableEdition(drawn_devices(impl, setup), direct_memcgs=range(65536))


class AllDirectLockstep(VswapLockstep):
    """STE with every entry direct-mapped, its reference twin, and a SwapTableP4 as a twin that
    must return the same results and reach the same phase IV state, allocator and counters."""

    NAME = "SwapTableEdition[all direct]"
    setups = DEVICES
    factory = staticmethod(lambda setup: _all_direct(vswap, setup))
    reference_factory = staticmethod(lambda setup: _all_direct(reference, setup))
    twin_factories = {"phase_iv": lambda setup: vswap.SwapTableP4(drawn_devices(vswap, setup))}
    config = DirectLockstep.config
    configure = DirectLockstep.configure

    def compare_twin(self, name, twin, fresh):
        if name != "phase_iv":
            return super().compare_twin(name, twin, fresh)
        twin.check()
        mine, p4 = self.space.snapshot(), twin.snapshot()
        assert mine["direct"] == p4["devices"] and mine["swaps"] == p4["swaps"]
        assert not mine["entries"] and not mine["clusters"]          # no ghost entry, ever
        # swapoff's reverse-map pass examines the slots again: ``scans`` may differ
        st = self.space.stats
        assert {k: st[k] for k in p4["stats"] if k != "scans"} == \
            {k: v for k, v in p4["stats"].items() if k != "scans"}


def test_all_direct_is_phase_iv_step_for_step():
    AllDirectLockstep.TestCase.settings = settings(
        settings(), suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    before = STEPS.get(AllDirectLockstep.NAME, 0)
    AllDirectLockstep.TestCase().runTest()
    steps = STEPS.get(AllDirectLockstep.NAME, 0) - before
    print(f"\n{AllDirectLockstep.NAME}: {steps} steps checked")
    assert steps > 0
