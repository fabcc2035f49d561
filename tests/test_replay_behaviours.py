"""The replay's kernel behaviours, one by one, with the kernel's counter names and meanings.

Each test states what the kernel does (mm/memory.c, mm/swap_state.c,
mm/zswap.c, mm/vmscan.c) and checks the model's counters do the same, in
both engines.
"""

import pytest

from vswap.replay import DESIGNS, Machine, replay
from vswap.workloads import FREE, TOUCH, WRITE, ZERO, Trace, memhog, random_touch, usemem

S, R = 2048, 600            # pages of the workload, pages of RAM


def both(trace, design, machine):
    fast = replay(trace, design, machine, engine="compiled").counters
    slow = replay(trace, design, machine, engine="reference").counters
    assert fast == slow
    return fast


# -- faults ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["zram", "swapfile", "zswap"])
def test_pgfault_counts_every_fault_and_pgmajfault_those_that_read_swap(backend):
    c = both(memhog(S * 4096, passes=2), "baseline", Machine(ram=R * 4096, backend=backend))
    assert c["pgfault"] == 2 * S                    # first touch, then one fault per page
    assert c["pgmajfault"] + c["swap_ra_hit"] == S  # read from swap, or a read-ahead hit
    if backend == "zram":
        assert c["pswpin"] == c["pgmajfault"] == S and c["zswpin"] == 0
    elif backend == "swapfile":
        assert c["pswpin"] == c["pgmajfault"] + c["swap_ra"]   # read-ahead reads the device
    else:
        assert c["zswpin"] == c["pgmajfault"] + c["swap_ra"]   # and zswap, page by page
        assert c["pswpin"] == 0


def test_a_zswap_store_is_no_pswpout():
    c = both(usemem(S * 4096), "baseline", Machine(ram=R * 4096, total_ram="1G", backend="zswap",
                                                  accounting="v1", reclaim_batch=1))
    assert c["zswpout"] == c["swapped_out"] == S - R
    assert c["pswpout"] == c["zswpwb"] == c["zswap_rejected"] == 0


@pytest.mark.parametrize("accounting", ["v2", "v1", "none"])
def test_large_folio_faults_fall_back_to_order_0_when_not_charged(accounting):
    t = usemem(S * 4096, mthp={4: 1.0})
    m = Machine(ram=R * 4096, large_reclaim="pmd", accounting=accounting,
                compressed={"DATA": 256})
    c = both(t, "baseline", m)
    alloc, fallback = c["hugepages-64kB/anon_fault_alloc"], c["hugepages-64kB/anon_fault_fallback"]
    assert alloc + fallback == S // 16 and fallback > S // 64   # each 64K range tried once
    assert c["pgfault"] == alloc + 16 * fallback                # the rest one page at a time
    charge = c["hugepages-64kB/anon_fault_fallback_charge"]
    assert charge == (0 if accounting == "none" else fallback)  # no cgroup: the allocator failed
    roomy = both(t, "baseline", Machine(ram=R * 4096))          # madvised: reclaim first
    assert roomy["hugepages-64kB/anon_fault_fallback"] == 0
    assert roomy["hugepages-64kB/anon_fault_alloc"] == S // 16 == roomy["pgfault"]


def test_a_fault_falls_back_through_the_enabled_orders():
    t = usemem(S * 4096, mthp={4: 1.0})
    c = both(t, "baseline", Machine(ram=R * 4096, large_reclaim="pmd", mthp=(2, 4)))
    assert c["hugepages-64kB/anon_fault_fallback"] > 0
    assert c["hugepages-16kB/anon_fault_alloc"] > 0             # 64K failed, 16K next
    pages = 16 * c["hugepages-64kB/anon_fault_alloc"] + 4 * c["hugepages-16kB/anon_fault_alloc"]
    assert c["pgfault"] == (c["hugepages-64kB/anon_fault_alloc"]
                            + c["hugepages-16kB/anon_fault_alloc"] + S - pages)


def test_thp_swpout_counts_pmd_size_folios_only():
    thp = both(usemem("8M", mthp={9: 1.0}), "baseline", Machine(ram="3M"))
    mthp = both(usemem("8M", mthp={4: 1.0}), "baseline", Machine(ram="3M"))
    assert thp["thp_swpout"] == thp["hugepages-2048kB/swpout"] == thp["pswpout"] // 512 > 0
    assert mthp["thp_swpout"] == 0 and mthp["hugepages-64kB/swpout"] == mthp["pswpout"] // 16 > 0


# -- zram's large swap-in ----------------------------------------------------------------------------

def test_zram_swaps_a_large_folio_in_whole_unless_zswap_was_ever_enabled():
    t = memhog(S * 4096, passes=2, mthp={4: 1.0})
    c = both(t, "baseline", Machine(ram=R * 4096))
    swpin = c["hugepages-64kB/swpin"]
    assert swpin > 0 and c["pswpin"] == S
    assert c["pgmajfault"] == swpin + (S - 16 * swpin)         # one fault per folio
    off = both(t, "baseline", Machine(ram=R * 4096, zswap_ever_enabled=True))
    assert off["hugepages-64kB/swpin"] == 0 and off["pgmajfault"] == S
    for backend in ("swapfile", "zswap"):                       # not SWP_SYNCHRONOUS_IO
        assert both(t, "baseline", Machine(ram=R * 4096, backend=backend))[
            "hugepages-64kB/swpin"] == 0


def test_a_large_swap_in_that_cannot_be_charged_falls_back():
    t = memhog(S * 4096, passes=2, mthp={4: 1.0})
    c = both(t, "baseline", Machine(ram=R * 4096, large_reclaim="pmd"))
    assert c["hugepages-64kB/swpin_fallback_charge"] == c["hugepages-64kB/swpin_fallback"] > 0


# -- read-ahead --------------------------------------------------------------------------------------

def test_vma_readahead_window_grows_on_hits_and_shrinks_on_misses():
    m = Machine(ram=R * 4096, backend="swapfile")
    seq = both(memhog(S * 4096, passes=2), "baseline", m)
    rnd = both(random_touch(S * 4096, accesses=1500, dist="uniform", seed=3), "baseline", m)
    assert seq["swap_ra"] > 6 * seq["pgmajfault"]               # up to 2**page-cluster - 1
    assert rnd["swap_ra"] < rnd["pgmajfault"] // 4              # misses close the window
    small = both(memhog(S * 4096, passes=2), "baseline",
                 Machine(ram=R * 4096, backend="swapfile", page_cluster=1))
    assert small["swap_ra"] == small["swap_ra_hit"] <= small["pgmajfault"]
    none = both(memhog(S * 4096, passes=2), "baseline",
                Machine(ram=R * 4096, backend="swapfile", page_cluster=0))
    assert none["swap_ra"] == 0 and none["pgmajfault"] == S


@pytest.mark.parametrize("design", DESIGNS)
def test_zram_skips_the_swap_cache_and_readahead_for_what_it_holds(design):
    c = both(memhog(S * 4096, passes=2), design, Machine(ram=R * 4096))
    assert c["swap_ra"] == 0 and c["swapin_sync"] == c["pgmajfault"] == S   # 0xff pages


@pytest.mark.parametrize("design", DESIGNS)
def test_zero_pages_take_the_readahead_path_under_virtual_swap_on_zram(design):
    # memhog -r2 over zero pages: the baseline's zeromap entries are on the zram device
    # (SWP_SYNCHRONOUS_IO, count 1: no swap cache), a virtual ZERO entry is on none
    t = Trace.from_rows([(TOUCH, 0, S, 0, ZERO, 0), (WRITE, 0, S, 0, ZERO, 0),
                         (FREE, 0, S, 0, 0, 0)], name="memhog-zero")
    c = both(t, design, Machine(ram=R * 4096))
    if design == "baseline":
        assert c["swap_ra"] == 0 and c["swapin_sync"] == c["pgmajfault"] == S
    else:
        assert c["swapin_sync"] == 0 and c["swap_ra"] == c["swap_ra_hit"] > S * 3 // 4
    assert c["pswpin"] == 0                                    # zero pages read no device


# -- zswap -------------------------------------------------------------------------------------------

def test_zswap_pool_limit_is_a_share_of_the_machines_ram_not_the_cgroups():
    t = usemem(S * 4096)
    small = both(t, "baseline", Machine(ram=R * 4096, backend="zswap", accounting="v1"))
    big = both(t, "baseline", Machine(ram=R * 4096, total_ram="64M", backend="zswap",
                                      accounting="v1"))
    assert small["zswpwb"] + small["zswap_rejected"] > 0       # 20 % of 600 pages
    assert big["zswpwb"] == big["zswap_rejected"] == big["pswpout"] == 0


def test_zswap_accept_threshold_is_hysteresis():
    t = usemem(S * 4096)
    kw = {"ram": R * 4096, "backend": "zswap", "accounting": "v1", "zswap_pool": "200K"}
    tight = both(t, "baseline", Machine(**kw, zswap_accept_threshold_percent=100))
    wide = both(t, "baseline", Machine(**kw, zswap_accept_threshold_percent=50))
    # at 100 % a full pool stays full: every later store is refused and nothing written
    # back; at 50 % a refusal writes half the pool back, and the stores after it are accepted
    assert wide["zswap_rejected"] < tight["zswap_rejected"]
    assert wide["zswpwb"] > tight["zswpwb"] == 0
    # 50 pool pages of 2:1 data: full once 99 half pages round up to 50
    assert tight["zswpout"] == 99


def test_compressed_sizes_are_per_content_and_incompressible_pages_are_refused():
    t = usemem(S * 4096)
    kw = {"ram": R * 4096, "backend": "zswap", "accounting": "v1", "zswap_pool": "400K"}
    half = both(t, "baseline", Machine(**kw))
    quarter = both(t, "baseline", Machine(**kw, compressed={"DATA": 1024}))
    assert quarter["zswpwb"] + quarter["zswap_rejected"] < half["zswpwb"] + half["zswap_rejected"]
    raw = both(t, "baseline", Machine(**kw, compressed={"DATA": 4096}))
    assert raw["zswpout"] == 0 and raw["zswap_rejected"] == raw["pswpout"] == raw["swapped_out"]


# -- accounting --------------------------------------------------------------------------------------

def test_accounting_decides_what_the_limit_counts():
    t = usemem(S * 4096)
    small = {"compressed": {"DATA": 512}, "reclaim_batch": 1, "total_ram": "1G"}
    z = {a: both(t, "baseline", Machine(ram=R * 4096, backend="zswap", accounting=a, **small))
         for a in ("v2", "v1")}
    assert z["v1"]["swapped_out"] == S - R                     # v1: resident pages only
    # v2 charges zswap's pool (1/8 page per page), so more must go out
    assert z["v2"]["swapped_out"] == pytest.approx((S - R) / (1 - 1 / 8), abs=2)
    zr = {a: both(t, "baseline", Machine(ram=R * 4096, accounting=a, **small))
          for a in ("v2", "none")}
    assert zr["v2"]["swapped_out"] == S - R                    # zram is not charged
    assert zr["none"]["swapped_out"] == z["v2"]["swapped_out"]  # but takes the machine's RAM
    assert zr["none"]["allocstall"] > 0 == zr["v2"]["allocstall"]


@pytest.mark.parametrize("engine", ["compiled", "reference"])
def test_page_tables_are_charged_to_the_limit_a_pte_page_per_2m_a_pmd_page_per_1g(engine):
    # 8M of 4K pages: 4 PTE pages and one PMD page; with them the usemem arithmetic
    # S - R gains those 5 pages, and reclaim's last SWAP_CLUSTER_MAX batch leaves its slack
    plain = replay(usemem("8M"), "baseline", Machine(ram="4M"), engine=engine).counters
    c = replay(usemem("8M"), "baseline", Machine(ram="4M", page_tables=True),
               engine=engine).counters
    assert plain["page_tables"] == 0 and plain["pswpout"] == 1024
    assert c["page_tables"] == 5
    assert 1024 + 5 <= c["pswpout"] < 1024 + 5 + 32
    assert c["resident"] + c["page_tables"] <= 1024
    # a PMD-size THP deposits a page table too: 4M holds two 2M folios, not with 3 tables
    t = usemem("8M", mthp={9: 1.0})
    assert replay(t, "baseline", Machine(ram="4M"), engine=engine).counters["thp_swpout"] == 2
    c = replay(t, "baseline", Machine(ram="4M", page_tables=True), engine=engine).counters
    assert c["thp_swpout"] == 3 and c["page_tables"] == 5
