"""Lockstep state machine: compiled VirtualSwap vs the reference model, per preset.

One machine per preset of the report (``vss_v5``, ``new_opt_v2``,
``cc_v2``). Each runs the compiled design of its preset against the
reference model of the same preset, and beside them the compiled designs of
the two other presets. Every rule makes the same call on all four and
requires the same result or the same exception type; after a call that
raised, every snapshot is what it was before (validate first, then mutate).
After every step: ``check()`` on all; compiled and reference snapshots
(per-entry state, clusters, lists, caches, counters, the allocator's state)
equal; the other presets' snapshots equal too once the work counters, the
MRU caches and the reverse map's cache-only bit (what the switches change)
are set aside; and their counters differ only in the counters the switches
name. Small devices and a small cluster-id cap make fills, cache-only
reclaim, partial lists and alloc rejects frequent.
"""

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import vswap
from vswap import reference
from vswap.errors import NoSpace
from vswap.reference.virtual import VSWAP_PRESETS

from _lockstep import count_step

PRESETS = list(VSWAP_PRESETS)
# The counters each switch may change (between neighbouring presets).
SWITCH_COUNTERS = {
    ("vss_v5", "new_opt_v2"): {"lookups", "node_visits", "desc_reads", "cgroup_checks",
                                "cache_only_checks", "rmap_reads", "rmap_writes"},
    ("new_opt_v2", "cc_v2"): {"lookups", "node_visits", "mru_hits", "mru_misses"},
}
SWITCH_COUNTERS[("vss_v5", "cc_v2")] = (SWITCH_COUNTERS[("vss_v5", "new_opt_v2")]
                                       | SWITCH_COUNTERS[("new_opt_v2", "cc_v2")])
USED = {"verbs": set(), "stats": set()}


def _same(a, b):
    if isinstance(a, tuple) and a and isinstance(a[0], np.ndarray):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
        return
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray), (a, b)
        assert a.dtype == b.dtype and np.array_equal(a, b), (a, b)
        return
    assert a == b, f"{a!r} != {b!r}"


def normalised(snap):
    """A snapshot without what the switches may change."""
    out = {k: v for k, v in snap.items() if k not in ("stats", "mru")}
    swaps = dict(snap["swaps"])
    devs = []
    for d in swaps["devices"]:
        d = dict(d)
        d["tables"] = {i: [(j, w & ~(1 << 63)) for j, w in words] for i, words in d["tables"].items()}
        devs.append(d)
    swaps["devices"] = devs
    out["swaps"] = swaps
    return out


def switch_pair(a, b):
    key = tuple(sorted((a, b), key=PRESETS.index))
    return SWITCH_COUNTERS[key]


class VirtualMachine(RuleBasedStateMachine):
    PRESET = "cc_v2"

    @initialize(nclusters=st.integers(2, 4), ndev=st.integers(0, 2), tail=st.integers(0, 5),
                max_clusters=st.sampled_from([3, 4, 1 << 32, 1 << 32]))
    def setup(self, nclusters, ndev, tail, max_clusters):
        n = 16 * nclusters - tail
        self.n, self.ndev = n, ndev

        def make(impl, preset):
            return impl.VirtualSwap.preset(
                preset, impl.SwapDevices([impl.SwapDevice(n, cluster_size=16) for _ in range(ndev)]),
                max_clusters=max_clusters)

        self.fast = {p: make(vswap, p) for p in PRESETS}
        self.ref = make(reference, self.PRESET)
        self.known = []
        self.folio = 1

    # -- plumbing ------------------------------------------------------------------------------

    def designs(self):
        return [self.fast[self.PRESET]] + [self.fast[p] for p in PRESETS if p != self.PRESET] + [self.ref]

    def both(self, name, *args, may_change_on=(), ref_args=None, args_for=None):
        USED["verbs"].add(name)
        outs = []
        designs = self.designs()
        watched = (designs[0], designs[-1])      # the others are compared at each step
        befores = [d.snapshot() for d in watched]
        for k, d in enumerate(designs):
            a = args_for(k) if args_for else (ref_args if (ref_args is not None and d is self.ref) else args)
            try:
                outs.append(getattr(d, name)(*a))
            except Exception as exc:  # noqa: BLE001 - every design must raise the same
                outs.append(exc)
        first = outs[0]
        for k, o in enumerate(outs[1:], 1):
            if isinstance(first, Exception) or isinstance(o, Exception):
                assert type(first) is type(o), f"{name}{args}: {first!r} vs {o!r} (design {k})"
            else:
                _same(first, o)
        if isinstance(first, Exception) and not isinstance(first, may_change_on):
            for d, before in zip(watched, befores):
                assert d.snapshot() == before, f"{name}{args} raised {first!r} but changed state"
        return first

    def live(self, want=None):
        out = []
        for e, (typ, backing, cache, count, memcg, cached) in self.fast[self.PRESET].snapshot()["entries"].items():
            if want == "count" and count == 0:
                continue
            if want == "folio" and (cache & 3) != 2:
                continue
            out.append(e)
        return sorted(out)

    def pick(self, data, want=None):
        how = data.draw(st.integers(0, 9))
        if how < 7:
            live = self.live(want) or self.live()
            if live:
                return data.draw(st.sampled_from(live))
        if how < 9 and self.known:
            return data.draw(st.sampled_from(self.known)) + data.draw(st.sampled_from([0, 1, 2]))
        return data.draw(st.integers(0, 4 * 512 + 2))

    def remember(self, e, nr=1):
        for i in range(min(nr, 4)):
            if e + i not in self.known:
                self.known.append(e + i)
        if len(self.known) > 64:
            del self.known[:16]

    def arr(self, data, n_max=6, want=None):
        return np.array([self.pick(data, want) for _ in range(data.draw(st.integers(0, n_max)))],
                        dtype=np.uint64)

    # -- allocation and counts -------------------------------------------------------------------

    @rule(order=st.sampled_from([0, 0, 0, 0, 1, 2, 3, 4, 4, 9]), memcg=st.integers(0, 3),
          cpu=st.integers(0, 2))
    def alloc(self, order, memcg, cpu):
        self.folio += 1
        r = self.both("folio_alloc_swap", self.folio, order, memcg, cpu, may_change_on=(NoSpace,))
        if isinstance(r, int):
            self.remember(r, 1 << order)

    @rule(n=st.integers(0, 8), order=st.sampled_from([0, 1, 2]), cpu=st.integers(0, 1))
    def alloc_many(self, n, order, cpu):
        folios = np.arange(self.folio, self.folio + n, dtype=np.uint64)
        self.folio += n
        r = self.both("folio_alloc_swap_many", folios, order, 0, cpu)
        if isinstance(r, np.ndarray):
            for e in r:
                self.remember(int(e), 1 << order)

    @rule(data=st.data(), nr=st.integers(1, 4))
    def duplicate(self, data, nr):
        self.both("swap_duplicate", self.pick(data), nr)

    @rule(data=st.data(), nr=st.integers(1, 4))
    def free_nr(self, data, nr):
        self.both("swap_free_nr", self.pick(data, "count"), nr)

    @rule(data=st.data(), nr=st.integers(1, 40))
    def free_swap_and_cache(self, data, nr):
        self.both("free_swap_and_cache_nr", self.pick(data, "count"), nr)

    @rule(data=st.data())
    def dup_then_zap_run(self, data):
        e = self.pick(data)
        nr = data.draw(st.integers(2, 20))
        if not isinstance(self.both("swap_duplicate", e, nr), Exception):
            self.both("free_swap_and_cache_nr", e, nr)

    @rule(data=st.data())
    def duplicate_many(self, data):
        self.both("swap_duplicate_many", self.arr(data))

    @rule(data=st.data())
    def free_many(self, data):
        self.both("swap_free_many", self.arr(data, want="count"))

    @rule(data=st.data())
    def zap_many(self, data):
        if data.draw(st.booleans()) and self.known:
            e = data.draw(st.sampled_from(self.known))
            a = np.arange(e, e + data.draw(st.integers(1, 8)), dtype=np.uint64)
        else:
            a = self.arr(data, want="count")
        self.both("free_swap_and_cache_many", a)

    @rule(data=st.data())
    def queries(self, data):
        e = self.pick(data)
        for name in ("swap_count", "memcg_id", "lookup", "swap_cache_get_folio",
                     "swap_cache_get_shadow", "zswap_load"):
            self.both(name, e)
        self.both("lookup_many", self.arr(data))

    @rule(cpu=st.integers(0, 3))
    def set_cpu(self, cpu):
        for d in self.designs():
            d.cpu = cpu

    # -- swap cache --------------------------------------------------------------------------------

    @rule(data=st.data(), nr=st.integers(1, 4))
    def prepare(self, data, nr):
        self.both("swapcache_prepare", self.pick(data), nr)

    @rule(data=st.data(), order=st.sampled_from([0, 0, 1, 2]))
    def add_folio(self, data, order):
        self.folio += 1
        self.both("swap_cache_add_folio", self.pick(data), self.folio, order)

    @rule(data=st.data(), order=st.sampled_from([0, 0, 1, 2, 3]),
          shadow=st.one_of(st.none(), st.integers(0, 1000)))
    def del_folio(self, data, order, shadow):
        self.both("swap_cache_del_folio", self.pick(data, "folio"), order, shadow)

    @rule(data=st.data(), order=st.sampled_from([0, 0, 1, 2]))
    def put_folio(self, data, order):
        self.both("put_swap_folio", self.pick(data), order)

    @rule(data=st.data(), order=st.sampled_from([0, 1, 2]))
    def swapin_cycle(self, data, order):
        e = self.pick(data, "folio")
        if isinstance(self.both("swap_cache_del_folio", e, order, 9), Exception):
            return
        self.both("put_swap_folio", e, order)
        self.both("swapcache_prepare", e, 1 << order)
        self.folio += 1
        self.both("swap_cache_add_folio", e, self.folio, order)

    # -- backends ------------------------------------------------------------------------------------

    @rule(data=st.data(), nr=st.integers(1, 3))
    def zero(self, data, nr):
        self.both("zero_store", self.pick(data), nr)

    @rule(data=st.data(), h=st.integers(0, 2**40))
    def zswap_store(self, data, h):
        self.both("zswap_store", self.pick(data), h)

    @rule(data=st.data())
    def zswap_store_many(self, data):
        a = self.arr(data)
        self.both("zswap_store_many", a, np.arange(len(a), dtype=np.uint64) + 100)

    @rule(data=st.data())
    def zswap_invalidate(self, data):
        self.both("zswap_invalidate", self.pick(data))

    @rule(data=st.data(), order=st.sampled_from([0, 0, 1, 2, 4]))
    def writeback(self, data, order):
        self.both("writeback", self.pick(data), order, may_change_on=(NoSpace,))

    # -- device-level ----------------------------------------------------------------------------------

    @rule(device=st.integers(0, 2))
    def reclaim_device(self, device):
        self.both("reclaim_cache_only", device)

    @rule(data=st.data(), device=st.sampled_from([0, 0, 1, 2]))
    def swapoff(self, data, device):
        """Rare; a device that went away is replaced by a fresh one through swapon."""
        if data.draw(st.integers(0, 3)):
            return
        r = self.both("swapoff", device, None)
        if not isinstance(r, Exception) and len(self.fast[self.PRESET].swaps) < 4:
            self.both("swapon", None, args_for=lambda k: (
                (reference if k == 3 else vswap).SwapDevice(self.n, cluster_size=16),))

    @rule(data=st.data(), order=st.sampled_from([0, 0, 1, 2, 3]), refs=st.integers(1, 3),
          memcg=st.integers(0, 2))
    def swap_out(self, data, order, refs, memcg):
        """The common life: allocate, map PTEs, store somewhere, reclaim the folio."""
        self.folio += 1
        e = self.both("folio_alloc_swap", self.folio, order, memcg, 0, may_change_on=(NoSpace,))
        if isinstance(e, Exception):
            return
        self.remember(e, 1 << order)
        for _ in range(refs):
            self.both("swap_duplicate", e, 1 << order)
        how = data.draw(st.sampled_from(["disk", "zswap", "zero", "keep", "zswap-disk"]))
        if how.startswith("zswap"):
            for i in range(1 << order):
                self.both("zswap_store", e + i, 1000 + i)
        if how == "zero":
            self.both("zero_store", e, 1 << order)
        if how.endswith("disk"):
            self.both("writeback", e, order, may_change_on=(NoSpace,))
        if how != "keep":
            self.both("swap_cache_del_folio", e, order, data.draw(st.integers(0, 50)))
            self.both("put_swap_folio", e, order)
        if data.draw(st.booleans()):
            self.both("reset_stats")

    @rule(data=st.data())
    def fill_and_reclaim(self, data):
        """Fill a device with cache-only written-back entries, then allocate past it."""
        for _ in range(data.draw(st.integers(8, 40))):
            self.folio += 1
            e = self.both("folio_alloc_swap", self.folio, 0, 0, 0, may_change_on=(NoSpace,))
            if isinstance(e, Exception):
                return
            self.both("swap_duplicate", e)
            if isinstance(self.both("writeback", e, 0, may_change_on=(NoSpace,)), Exception):
                return
            self.both("swap_free_nr", e)

    @rule(order=st.sampled_from([4, 9]), memcg=st.integers(0, 1))
    def big_folio_cycle(self, order, memcg):
        """A large folio mapped and zapped: its cluster may empty and be freed."""
        self.folio += 1
        e = self.both("folio_alloc_swap", self.folio, order, memcg, 0, may_change_on=(NoSpace,))
        if isinstance(e, Exception):
            return
        self.both("swap_duplicate", e, 1 << order)
        self.both("free_swap_and_cache_nr", e, 1 << order)

    # -- bad inputs ---------------------------------------------------------------------------------------

    @rule(data=st.data())
    def bad_inputs(self, data):
        e = self.pick(data)
        bad = data.draw(st.sampled_from([
            ("swap_duplicate", (1 << 63,)), ("swap_duplicate", (-1,)), ("swap_duplicate", ("x",)),
            ("swap_free_nr", (e, 0)), ("swap_free_nr", ((1 << 62),)),
            ("folio_alloc_swap", (1 << 57,)), ("folio_alloc_swap", (1, 10)),
            ("folio_alloc_swap", (1, 0, 70000)), ("folio_alloc_swap", (1, 0, 0, 9999)),
            ("swap_cache_add_folio", (e, 1, 1)), ("put_swap_folio", (e | 1, 1)),
            ("swap_duplicate_many", (np.array([e], dtype=np.int64),)),
            ("swap_free_many", ([e],)), ("lookup_many", (np.zeros((1, 1), dtype=np.uint64),)),
            ("lookup_many", (np.array([e, 1 << 62], dtype=np.uint64),)),
            ("zswap_store", (e, 1 << 62)), ("swap_cache_del_folio", (e, 0, 1 << 62)),
            ("swapoff", (7, None)), ("reclaim_cache_only", (40,)),
            ("free_swap_and_cache_nr", (e, 1 << 58)), ("writeback", (e | 1, 1)),
            ("zswap_store_many", (np.array([e], dtype=np.uint64), np.array([], dtype=np.uint64))),
        ]))
        self.both(bad[0], *bad[1])

    @invariant()
    def agree(self):
        if not hasattr(self, "fast"):
            return
        count_step(f"VirtualMachine[{self.PRESET}]")
        main = self.fast[self.PRESET]
        for d in self.designs():
            d.check()
        a, b = main.snapshot(), self.ref.snapshot()
        for k in a:
            assert a[k] == b[k], f"compiled and reference differ in {k}: {a[k]!r} != {b[k]!r}"
        assert main.memory_footprint() == self.ref.memory_footprint()
        base = normalised(a)
        for p in PRESETS:
            if p == self.PRESET:
                continue
            other = self.fast[p].snapshot()
            assert normalised(other) == base, f"preset {p} differs from {self.PRESET}"
            allowed = switch_pair(p, self.PRESET)
            USED["stats"].update(k for k, v in other["stats"].items() if v)
            diff = {k for k in a["stats"] if a["stats"][k] != other["stats"][k]}
            assert diff <= allowed, f"{p} vs {self.PRESET}: counters {diff - allowed} differ"
        USED["stats"].update(k for k, v in a["stats"].items() if v)


def _machine(preset):
    cls = type(f"VirtualMachine_{preset}", (VirtualMachine,), {"PRESET": preset})
    return cls.TestCase


TestVirtualMachine_vss_v5 = _machine("vss_v5")
TestVirtualMachine_new_opt_v2 = _machine("new_opt_v2")
TestVirtualMachine_cc_v2 = _machine("cc_v2")


def test_machine_exercised_every_verb_and_counter():
    """Runs after the machines (file order): every verb was called and every counter moved."""
    if not USED["verbs"]:
        pytest.skip("the machines did not run (selected alone)")
    verbs = {"folio_alloc_swap", "folio_alloc_swap_many", "swap_duplicate", "swap_duplicate_many",
             "swap_free_nr", "swap_free_many", "free_swap_and_cache_nr",
             "free_swap_and_cache_many", "swap_count", "memcg_id", "swapcache_prepare",
             "swap_cache_add_folio", "swap_cache_del_folio", "swap_cache_get_folio",
             "swap_cache_get_shadow", "put_swap_folio", "lookup", "lookup_many", "zero_store",
             "zswap_store", "zswap_store_many", "zswap_load", "zswap_invalidate", "writeback",
             "reclaim_cache_only", "swapoff", "swapon", "reset_stats"}
    assert verbs <= USED["verbs"], verbs - USED["verbs"]
    stats = set(vswap.VirtualSwap().stats)
    assert stats <= USED["stats"], f"counters never moved: {stats - USED['stats']}"
