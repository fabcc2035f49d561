"""The kernel's documented allocator behaviour, on the compiled model and the reference.

Each test names the mm/swapfile.c behaviour it pins down; every test runs
on both implementations (the ``impl`` fixture).
"""

import sys

import numpy as np
import pytest

import vswap
from vswap import SWAP_TABLE_CACHE_ONLY, NoEntry, NoSpace
from vswap import reference


@pytest.fixture(params=["compiled", "reference"])
def impl(request):
    return vswap if request.param == "compiled" else reference


def lists(dev):
    return dev.clusters()


# --- setup (swapon) -----------------------------------------------------------------

def test_header_bad_slots_and_tail_count_into_their_cluster(impl):
    dev = impl.SwapDevice(70, cluster_size=16, bad_slots=[17, 18, 40])
    assert dev.pages == 70 - 1 - 3
    assert [dev.cluster_info(i)[0] for i in range(5)] == [1, 2, 1, 0, 10]
    assert lists(dev)["nonfull"][0] == [0, 1, 2, 4]   # clusters with bad slots: nonfull[0]
    assert lists(dev)["free"] == [3]
    assert [dev.cluster_info(i)[3] for i in range(5)] == [True, True, True, False, True]
    got = dev.alloc_many(1000)
    assert len(got) == dev.pages and 0 not in got and not {17, 18, 40} & set(got.tolist())
    assert max(got) == 69
    with pytest.raises(NoSpace):
        dev.alloc()
    dev.check()


def test_cluster_size_and_orders(impl):
    dev = impl.SwapDevice(1 << 12)
    assert dev.cluster_size == 512 and dev.max_order == 9
    off = dev.alloc(order=9)
    assert off % 512 == 0 and dev.cluster_info(off // 512)[:3] == (512, 9, "full")
    with pytest.raises(ValueError):
        dev.alloc(order=10)
    for bad in (0, 3, 1024, -4):
        with pytest.raises(ValueError):
            impl.SwapDevice(64, cluster_size=bad)


# --- allocation -----------------------------------------------------------------------

def test_alignment_and_one_cluster(impl):
    dev = impl.SwapDevice(2000, cluster_size=64)
    rng = np.random.default_rng(1)
    for order in rng.integers(0, 7, size=300).tolist():
        try:
            off = dev.alloc(order=order)
        except NoSpace:
            continue
        nr = 1 << order
        assert off % nr == 0 and off // 64 == (off + nr - 1) // 64 and off + nr <= 2000
    dev.check()


def test_order_ownership(impl):
    dev = impl.SwapDevice(16 * 8, cluster_size=16)
    a = dev.alloc(order=2)
    assert dev.cluster_info(a // 16)[:3] == (4, 2, "frag")
    b = dev.alloc(order=3)                      # an order-2 cluster is not order 3's
    assert b // 16 != a // 16 and dev.cluster_info(b // 16)[1] == 3
    c = dev.alloc(order=2)                      # but order 2 goes on in its own cluster
    assert c == a + 4
    zero = dev.alloc()                          # order 0 first uses its own (header) cluster
    assert zero == 1


def test_fast_path_reuses_the_cpu_cluster(impl):
    dev = impl.SwapDevice(4096, cluster_size=64)
    first = dev.alloc(cpu=0)
    other = dev.alloc(cpu=1)
    assert other // 64 != first // 64            # each CPU takes its own cluster
    assert [dev.alloc(cpu=0) for _ in range(3)] == [first + 1, first + 2, first + 3]
    assert dev.percpu_cluster(0) == {0: first + 4}
    assert dev.stats["fast_hits"] == 3 and dev.stats["slow_path"] == 2


def test_fast_path_revalidates_the_cached_cluster(impl):
    dev = impl.SwapDevice(64, cluster_size=16)
    off = dev.alloc(order=2)                     # cpu 0 caches cluster 1 for order 2
    dev.free(off, order=2)                       # cluster 1 is freed: its table goes away
    assert dev.cluster_info(1) == (0, 0, "free", False) and dev.clusters()["free"] == [2, 3, 1]
    dev.reset_stats()
    assert dev.alloc(order=2) == 32              # the hint fails validation: slow path
    assert dev.stats["fast_hits"] == 0 and dev.stats["slow_path"] == 1


def test_slow_path_nonfull_before_free(impl):
    dev = impl.SwapDevice(64, cluster_size=16)
    offs = [dev.alloc(cpu=c) for c in range(3)]  # clusters 0, 1, 2 for cpus 0, 1, 2
    assert offs == [1, 16, 32]
    assert dev.alloc(cpu=1) == 17                # cpu 1 continues in cluster 1
    dev.free(17)                                 # cluster 1 partially freed -> nonfull[0]
    assert lists(dev)["nonfull"][0] == [1] and lists(dev)["free"] == [3]
    assert dev.alloc(cpu=3) == 17                # nonfull[0] is tried before the free list


def test_slow_path_discard_device_prefers_a_free_cluster(impl):
    dev = impl.SwapDevice(64, cluster_size=16, discard=True)
    assert lists(dev)["nonfull"][0] == [0]
    assert dev.alloc() == 16                     # a free cluster first, to spread writes
    plain = impl.SwapDevice(64, cluster_size=16)
    assert plain.alloc() == 1


def test_frag_list_is_scanned_one_cluster_at_a_time(impl):
    dev = impl.SwapDevice(16 * 4 + 1, cluster_size=16)
    dev.alloc_many(dev.pages)                    # everything full
    for c in (1, 2, 3):
        dev.free(c * 16 + 5)                     # full -> nonfull[0]
    dev.alloc(cpu=1)                             # isolates nonfull[0] head: cluster 1 -> full
    assert lists(dev)["nonfull"][0] == [2, 3]


def test_order0_steals_from_large_order_clusters(impl):
    dev = impl.SwapDevice(32, cluster_size=16)   # cluster 0 (header) and 1
    dev.alloc_many(15)                           # fills cluster 0
    big = dev.alloc(order=2)                     # cluster 1 becomes an order-2 cluster
    assert big == 16
    got = dev.alloc_many(12, cpu=2)
    assert got.tolist() == list(range(20, 32))   # order 0 took the order-2 cluster's slots
    assert dev.cluster_info(1)[:3] == (16, 2, "full")


def test_large_order_fails_fast_order0_does_not(impl):
    dev = impl.SwapDevice(32, cluster_size=16)   # clusters 0 (header) and 1
    dev.alloc(order=1)                           # cluster 1 owned by order 1
    with pytest.raises(NoSpace):
        dev.alloc(order=2)                       # no empty or order-2 cluster: fail
    assert dev.stats["failures"] == 1
    assert dev.alloc() == 1


def test_alloc_many_stops_when_full(impl):
    dev = impl.SwapDevice(50, cluster_size=8)
    got = dev.alloc_many(100)
    assert got.dtype == np.uint64 and len(got) == 49 and len(set(got.tolist())) == 49
    assert dev.alloc_many(5).tolist() == []
    assert dev.alloc_many(0).tolist() == []


def test_rotating_device_shares_one_next_offset(impl):
    dev = impl.SwapDevice(4096, cluster_size=64, solid_state=False)
    got = [dev.alloc(cpu=c) for c in (0, 1, 2, 3, 0)]
    assert got == [1, 2, 3, 4, 5]                # sequential whatever the CPU
    assert dev.percpu_cluster(3) == {0: 6}
    ssd = impl.SwapDevice(4096, cluster_size=64)
    assert [ssd.alloc(cpu=c) for c in (0, 1)] == [1, 64]


# --- free -----------------------------------------------------------------------

def test_free_paths_move_clusters(impl):
    dev = impl.SwapDevice(32, cluster_size=16)
    offs = dev.alloc_many(15)
    assert lists(dev)["full"] == [0]
    dev.free(int(offs[0]))
    assert lists(dev)["nonfull"][0] == [0]       # partial free: full -> nonfull[order]
    big = dev.alloc(order=4)
    assert dev.cluster_info(1) == (16, 4, "full", True)
    dev.free(big, order=4)
    assert dev.cluster_info(1) == (0, 0, "free", False)   # table freed, order reset


def test_free_errors_change_nothing(impl):
    dev = impl.SwapDevice(64, cluster_size=16)
    off = dev.alloc(order=2)
    before = dev._state()
    for args, exc in [((off + 1, 2), ValueError), ((off, 3), NoEntry), ((0,), NoEntry),
                      ((64,), ValueError), ((-1,), ValueError), ((off + 4,), NoEntry),
                      ((off, 10), ValueError), ((1.0,), TypeError), (("1",), TypeError)]:
        with pytest.raises(exc):
            dev.free(*args)
        assert dev._state() == before
    dev.free(off + 1)                            # a single slot of a large range may go
    assert dev.nr_used == 3
    with pytest.raises(NoEntry):
        dev.free(off, order=2)


def test_free_many_is_all_or_nothing(impl):
    dev = impl.SwapDevice(200, cluster_size=16)
    offs = dev.alloc_many(50)
    before = dev._state()
    bad_batches = [
        (np.append(offs[:5], np.uint64(0)), NoEntry),
        (np.append(offs[:5], offs[2]), NoEntry),                 # duplicate
        (np.append(offs[:5], np.uint64(1 << 40)), ValueError),
        (offs.astype(np.int64), TypeError),
        (offs.tolist(), TypeError),
        (offs.reshape(5, 10), ValueError),
    ]
    for batch, exc in bad_batches:
        with pytest.raises(exc):
            dev.free_many(batch)
        assert dev._state() == before
    dev.free_many(np.array([], dtype=np.uint64))
    dev.free_many(offs[:20])
    assert dev.nr_used == 30
    dev.check()


# --- discard ------------------------------------------------------------------------

def test_discard_list_worker_and_synchronous_fallback(impl):
    dev = impl.SwapDevice(49, cluster_size=16, discard=True)    # clusters 0, 1, 2 (+ tail)
    a = dev.alloc(order=4)
    b = dev.alloc(order=4)
    dev.free(a, order=4)
    assert lists(dev)["discard"] == [a // 16]
    assert dev.cluster_info(a // 16)[2:] == ("discard", True)   # keeps its table meanwhile
    assert dev.run_discard() == 1 and lists(dev)["free"] == [a // 16]
    dev.free(b, order=4)                          # b's cluster waits for discard again
    c = dev.alloc(order=4)                        # the free cluster a first
    assert c == a and dev.stats["sync_discards"] == 0
    d = dev.alloc(order=4)                        # nothing else: synchronous discard
    assert d == b and dev.stats["sync_discards"] == 1
    assert dev.stats["discards"] == 2
    dev.check()


# --- the table word and reclaim --------------------------------------------------------

def test_table_lifecycle_and_words(impl):
    dev = impl.SwapDevice(64, cluster_size=16)
    assert dev.memory_footprint()["tables"] == 16 * 8       # the header cluster only
    off = dev.alloc(order=4)
    assert dev.memory_footprint()["tables"] == 2 * 16 * 8
    dev.set_table(off + 3, 0xDEAD)
    assert dev.get_table(off + 3) == 0xDEAD and dev.get_table(off + 4) == 0
    dev.free(off + 3)
    assert dev.get_table(off + 3) == 0            # cleared on free
    with pytest.raises(NoEntry):
        dev.set_table(off + 3, 1)
    dev.free_many(np.arange(off, off + 16, dtype=np.uint64)[np.arange(16) != 3])
    assert dev.memory_footprint()["tables"] == 16 * 8
    assert dev.stats["tables_allocated"] == 2 and dev.stats["tables_freed"] == 1


def test_reclaim_happens_only_over_half_full(impl):
    dev = impl.SwapDevice(32, cluster_size=16)    # 31 usable slots
    calls = []

    def hook(d, offset):
        calls.append(offset)
        d.free(offset)
        return 1

    dev.set_reclaim_hook(hook)
    offs = dev.alloc_many(15)                     # cluster 0 full
    for o in offs[:4]:
        dev.set_table(int(o), SWAP_TABLE_CACHE_ONLY | 7)
    dev.alloc_many(16)                            # cluster 1 full: free slots only, no reclaim
    assert calls == [] and dev.swap_full and dev.nr_free == 0
    # Full: the slow path reclaims one full cluster (cluster 0, head of the
    # full list). The freed slots land on nonfull[0], which this pass has
    # already tried, so this allocation still fails, as in the kernel ...
    with pytest.raises(NoSpace):
        dev.alloc(cpu=1)
    assert calls == [1, 2, 3, 4] and dev.stats["reclaim_calls"] == 4
    assert dev.stats["full_scans"] == 1 and dev.clusters()["nonfull"][0] == [0]
    assert dev.alloc(cpu=1) == 1                  # ... and the next one finds them.


def test_no_reclaim_below_half_full(impl):
    dev = impl.SwapDevice(1024, cluster_size=16)
    offs = dev.alloc_many(100)
    for o in offs:
        dev.set_table(int(o), SWAP_TABLE_CACHE_ONLY)
    assert not dev.swap_full
    dev.alloc_many(300)
    assert dev.stats["reclaim_calls"] == 0


def test_scan_reclaims_cache_only_slots_in_place(impl):
    dev = impl.SwapDevice(17, cluster_size=16)
    offs = dev.alloc_many(16)
    dev.set_table(int(offs[5]), SWAP_TABLE_CACHE_ONLY)
    dev.free(int(offs[9]))
    dev.set_reclaim_hook(None)                   # built-in: frees a cache-only slot
    assert dev.swap_full
    # The scan of cluster 0 meets cache-only slot 6 before free slot 10 and
    # reclaims it in place (cluster_reclaim_range).
    assert dev.alloc() == 6
    assert dev.stats["reclaim_calls"] == 1 and dev.stats["reclaimed"] == 1
    assert dev.alloc() == 10


def test_reclaim_work_and_keep_result(impl):
    dev = impl.SwapDevice(33, cluster_size=16)
    dev.alloc_many(32)
    assert dev.reclaim_scheduled                  # filled up while over half full
    assert dev.clusters()["full"] == [0, 2, 1]
    dev.set_table(3, SWAP_TABLE_CACHE_ONLY)
    dev.set_table(5, SWAP_TABLE_CACHE_ONLY)
    dev.set_table(20, SWAP_TABLE_CACHE_ONLY)     # cluster 1: beyond the 2 clusters scanned
    dev.set_reclaim_hook(lambda d, off: -1)      # found but kept
    assert dev.reclaim_full_clusters() == 0 and dev.stats["reclaim_calls"] == 2
    assert dev.clusters()["full"] == [1, 0, 2]    # each scanned cluster goes back, rotated
    assert dev.reclaim_scheduled is False
    dev.set_reclaim_hook(None)
    # The second run scans clusters 1 then 0 (the rotated head): slots 20, 3 and 5.
    assert dev.reclaim_full_clusters() == 3 and dev.nr_used == 29
    assert dev.clusters()["nonfull"][0] == [1, 0] and dev.clusters()["full"] == [2]


def test_hook_contract_errors_and_reentrancy(impl, monkeypatch):
    dev = impl.SwapDevice(17, cluster_size=16)
    dev.alloc_many(16)
    dev.set_table(2, SWAP_TABLE_CACHE_ONLY)
    with pytest.raises(TypeError):
        dev.set_reclaim_hook(42)

    def reentrant(d, off):
        d.alloc()
        return 1

    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    dev.set_reclaim_hook(reentrant)
    assert dev.reclaim_full_clusters() == 0       # the RuntimeError counts as 0
    assert [type(r.exc_value) for r in reported] == [RuntimeError]
    assert dev.nr_used == 16 and dev.stats["reclaim_calls"] == 1
    dev.check()


# --- several devices ---------------------------------------------------------------

def test_priorities_default_and_order(impl):
    a, b = impl.SwapDevice(64, cluster_size=16), impl.SwapDevice(64, cluster_size=16)
    hi = impl.SwapDevice(64, cluster_size=16, priority=5)
    swaps = impl.SwapDevices([a, b, hi])
    assert (a.priority, b.priority, hi.priority) == (-1, -1, 5)   # 6.19: DEF_SWAP_PRIO for all
    assert swaps.avail == [2, 0, 1]
    assert swaps.alloc()[0] == 2
    swaps.check()


def test_round_robin_among_equal_priorities(impl):
    devs = [impl.SwapDevice(1 + 16 * 8, cluster_size=16) for _ in range(2)]
    swaps = impl.SwapDevices(devs)
    got = [swaps.alloc(order=4) for _ in range(4)]
    assert [t for t, _ in got] == [0, 1, 0, 1]    # each slow path requeues the device tried
    # Order 0: the CPU's cluster is used until exhausted (15 slots of the
    # header cluster), and only then does the slow path rotate devices.
    small = [swaps.alloc(cpu=1) for _ in range(20)]
    assert [t for t, _ in small] == [0] * 15 + [1] * 5
    assert swaps.stats["requeues"] == 6 and swaps.stats["fast_hits"] == 18
    swaps.check()


def test_large_order_fails_fast_across_devices(impl):
    first = impl.SwapDevice(32, cluster_size=16, priority=1)
    second = impl.SwapDevice(64, cluster_size=16)
    swaps = impl.SwapDevices([first, second])
    assert swaps.alloc(order=1) == (0, 16)        # first device's only free cluster -> order 1
    with pytest.raises(NoSpace):
        swaps.alloc(order=2, cpu=1)               # first device fails: no fall through
    assert second.nr_used == 0
    first.alloc_many(first.nr_free)               # order 0 falls to the next device when full
    assert swaps.alloc(cpu=2)[0] == 1


def test_swapoff(impl):
    a, b = impl.SwapDevice(64, cluster_size=16), impl.SwapDevice(64, cluster_size=16)
    swaps = impl.SwapDevices([a, b])
    t, off = swaps.alloc()
    assert t == 0 and swaps.total_swap_pages == 126
    swaps.swapoff(a)
    assert not a.writeok and a.percpu_cluster(0) == {} and swaps.avail == [1]
    assert swaps.total_swap_pages == 63 and swaps.nr_swap_pages == 63 - 1
    assert swaps.alloc()[0] == 1
    with pytest.raises(NoSpace):
        a.alloc()
    assert swaps.nr_swap_pages == 61
    a.free(off)                                   # the design above moves the data away
    assert swaps.nr_swap_pages == 62 and a.nr_used == 0
    swaps.check()
    with pytest.raises(ValueError):
        swaps.swapoff(a)
    with pytest.raises(ValueError):
        swaps.swapon(a)


def test_set_bad_input_changes_nothing(impl):
    a = impl.SwapDevice(64, cluster_size=16)
    swaps = impl.SwapDevices([a])
    other = impl.SwapDevices()
    before = swaps._state()
    for call, exc in [(lambda: swaps.swapon(a), ValueError),
                      (lambda: swaps.swapon(impl.SwapDevice(64, cluster_size=8)), ValueError),
                      (lambda: other.swapoff(a), ValueError),
                      (lambda: swaps.swapon("dev"), TypeError),
                      (lambda: swaps.alloc(order=5), ValueError),
                      (lambda: swaps.alloc(cpu=64), ValueError),
                      (lambda: swaps.alloc(cpu=-1), ValueError),
                      (lambda: swaps.alloc(order=1 << 70), ValueError),
                      (lambda: swaps.alloc(order=None), TypeError),
                      (lambda: swaps[3], KeyError)]:
        with pytest.raises(exc):
            call()
        assert swaps._state() == before
    with pytest.raises(NoSpace):
        impl.SwapDevices().alloc()


def test_device_bad_input_changes_nothing(impl):
    dev = impl.SwapDevice(100, cluster_size=16)
    dev.alloc_many(10)
    before = dev._state()
    for name, args, exc in [
        ("alloc", (-1,), ValueError), ("alloc", (0, 64), ValueError), ("alloc", (0, -1), ValueError),
        ("alloc", (1 << 64,), ValueError), ("alloc", ("0",), TypeError), ("alloc", (None,), TypeError),
        ("alloc_many", (-1,), ValueError), ("alloc_many", (1.5,), TypeError),
        ("alloc_many", (3, 5), ValueError), ("alloc_many", (3, 0, 99), ValueError),
        ("free", (1 << 64,), ValueError), ("free", (5, -1), ValueError),
        ("free_many", (np.zeros(3, dtype=np.float64),), TypeError),
        ("free_many", (np.array([1], dtype=np.uint64), 9), ValueError),
        ("get_table", (100,), ValueError), ("get_table", (-5,), ValueError),
        ("set_table", (1, -1), ValueError), ("set_table", (1, 1 << 64), ValueError),
        ("set_table", (1, "w"), TypeError), ("set_table", (200, 1), ValueError),
        ("set_reclaim_hook", (3,), TypeError),
        ("slot_state", (100,), ValueError), ("cluster_info", (7,), ValueError),
        ("percpu_cluster", (64,), ValueError),
    ]:
        with pytest.raises(exc):
            getattr(dev, name)(*args)
        assert dev._state() == before, name


@pytest.mark.parametrize("kwargs, exc", [
    (dict(nr_slots=1), ValueError), (dict(nr_slots=1 << 32), ValueError),
    (dict(nr_slots=-3), ValueError), (dict(nr_slots=2.0), TypeError),
    (dict(nr_slots=3, bad_slots=[1, 2]), ValueError), (dict(nr_slots=10, bad_slots=[10]), ValueError),
    (dict(nr_slots=10, bad_slots=[-1]), ValueError), (dict(nr_slots=10, priority=1 << 20), ValueError),
    (dict(nr_slots=10, cluster_size=12), ValueError), (dict(nr_slots=10, name=3), TypeError),
])
def test_constructor_rejects_bad_arguments(impl, kwargs, exc):
    kwargs = dict(kwargs)
    n = kwargs.pop("nr_slots")
    with pytest.raises(exc):
        impl.SwapDevice(n, **kwargs)


def test_uninitialised_compiled_device_does_not_crash():
    dev = vswap.SwapDevice.__new__(vswap.SwapDevice)
    for call in (dev.alloc, lambda: dev.free(1), lambda: dev.alloc_many(3), dev.check,
                 lambda: dev.get_table(1), dev.clusters, dev.run_discard):
        with pytest.raises(RuntimeError):
            call()
    with pytest.raises(RuntimeError):
        vswap.SwapDevices([dev])


def test_memory_footprint_per_slot():
    dev = vswap.SwapDevice(1 << 20)
    fp = dev.memory_footprint()
    assert fp["map"] == 1 << 20 and fp["clusters"] == 2048 * 24
    assert fp["tables"] == 512 * 8                 # only the header cluster has a table
    dev.alloc_many(1 << 19)                         # 511 + 1023 * 512 + 1 slots
    assert dev.memory_footprint()["tables"] == 1025 * 4096


@pytest.mark.parametrize("order, discard, kept", [
    (0, False, 0.6), (0, True, 0.6), (0, False, 0.7), (3, False, 0.6), (9, False, 0.6),
])
def test_alloc_many_equals_single_calls(order, discard, kept):
    """The compiled batch path (alloc_run) leaves exactly the state of single calls.

    4000 slots are allocated and a random ``1 - kept`` of them freed; every
    7th kept slot is marked cache-only. With ``kept`` = 0.7 the device is
    over half full from the start, so the scans reclaim those slots; with
    0.6 it crosses the half-full line during the batch.
    """
    devs = [vswap.SwapDevice(5000, discard=discard, bad_slots=[700, 701, 2000]) for _ in range(2)]
    keep = np.random.default_rng(order).random(4000) < kept
    for dev in devs:                               # the same fragmented start on both
        offs = dev.alloc_many(4000)
        dev.free_many(offs[~keep])
        for off in offs[keep][::7].tolist():
            dev.set_table(off, SWAP_TABLE_CACHE_ONLY)
    count = min(10_000, devs[0].nr_free >> order)
    batch = devs[0].alloc_many(10_000, order, cpu=2).tolist()
    single = [devs[1].alloc(order, cpu=2) for _ in batch]
    if len(batch) < count:                         # the batch ended on a failed allocation
        with pytest.raises(NoSpace):
            devs[1].alloc(order, cpu=2)
    assert batch == single and len(batch) > 0
    assert devs[0]._state() == devs[1]._state()    # slots, lists, tables, hints and counters
    if order == 0:
        assert devs[0].stats["reclaim_calls"] > 0   # the batch did meet cache-only slots
