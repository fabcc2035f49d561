"""A large folio the memory cgroup cannot charge falls back to the next enabled order.

mm/memory.c ``alloc_anon_folio`` (and ``alloc_swap_folio`` for a swap-in)
tries the enabled orders from the largest: a folio whose
``mem_cgroup_charge`` fails after reclaim counts ``anon_fault_fallback_charge``
(``swpin_fallback_charge``) and ``anon_fault_fallback`` for its size, and
the next order is tried, finally order 0. Under zswap on a cgroup v2 limit
the compressed pool is charged and reclaim cannot free it, so a 2M fault in
a 2M cgroup finds no room once the pool holds some: before this rule both
engines stopped with "RAM is too small".
"""

import pytest

from vswap.replay import Machine, replay
from vswap.workloads import usemem

ENGINES = ("compiled", "reference")
THP = "hugepages-2048kB"


def both(trace, design, machine):
    rs = [replay(trace, design, machine, engine=e) for e in ENGINES]
    assert rs[0].counters == rs[1].counters and rs[0].stats == rs[1].stats
    return rs[0].counters


@pytest.mark.parametrize("design", ["baseline", "vss_v5", "vswap_ste", "mainline_7_1"])
def test_a_thp_fault_the_cgroup_cannot_charge_falls_back_to_order_0(design):
    t = usemem("16M", mthp={9: 1.0})
    c = both(t, design, Machine(ram="2M", backend="zswap"))
    alloc, fb = c[f"{THP}/anon_fault_alloc"], c[f"{THP}/anon_fault_fallback"]
    assert alloc >= 1 and fb >= 1 and alloc + fb == 8          # every 2M region tried once
    assert c[f"{THP}/anon_fault_fallback_charge"] == fb         # all for the charge
    assert c["pgfault"] == alloc + fb * 512                      # the rest page by page
    assert c["pages_touched"] == 16 << 8


def test_the_next_enabled_order_is_tried_before_order_0():
    t = usemem("16M", mthp={9: 1.0})
    c = both(t, "baseline", Machine(ram="2M", backend="zswap", mthp=(4, 9)))
    fb = c[f"{THP}/anon_fault_fallback_charge"]
    assert fb >= 1
    got = c["hugepages-64kB/anon_fault_alloc"]
    small = c["pgfault"] - c[f"{THP}/anon_fault_alloc"] - got
    assert got > 0 and got * 16 + small == fb * 512              # 64K folios, then 4K


def test_without_zswap_the_same_faults_charge_whole():
    # Reclaim to zram frees the charge (zram's memory is not the cgroup's under v2).
    c = both(usemem("16M", mthp={9: 1.0}), "baseline", Machine(ram="2M", backend="zram"))
    assert c[f"{THP}/anon_fault_alloc"] == 8
    assert c[f"{THP}/anon_fault_fallback_charge"] == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_an_order_0_fault_that_cannot_be_charged_still_stops_the_replay(engine):
    # the kernel's OOM: nothing smaller to fall back to (the pool holds the whole limit)
    with pytest.raises(ValueError, match="RAM is too small"):
        replay(usemem("4M"), "baseline", Machine(ram="64K", total_ram="1G", backend="zswap"),
               engine=engine)
