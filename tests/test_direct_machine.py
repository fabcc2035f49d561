"""Lockstep state machine: compiled DirectSwap vs the reference model, whole protocol.

Every rule runs the same call on both designs and requires the same result
or the same exception type; after a call that raised, both snapshots must
be what they were before (validate first, then mutate). After every step
both ``check()`` and the snapshots (per-slot state, counters, the
allocator's state) must agree. Small devices (2-4 clusters of 16 or 32
slots) make fills, cache-only reclaim and cluster moves frequent.
"""

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import vswap
from vswap import reference
from vswap.errors import NoSpace
from vswap.protocol import PageTable, swp_entry

from hypothesis import HealthCheck, settings

STEPS = {"n": 0}
SEEN = {}      # counters and verbs that were non-zero / succeeded at least once


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
    assert a == b, f"compiled {a!r} != reference {b!r}"


class DirectMachine(RuleBasedStateMachine):
    @initialize(cs=st.sampled_from([16, 32]), nclusters=st.integers(2, 4),
                ndev=st.integers(1, 2), tail=st.integers(0, 5), hdd=st.booleans(),
                discard=st.booleans(), prios=st.sampled_from([(None, None), (5, None), (1, 2)]))
    def setup(self, cs, nclusters, ndev, tail, hdd, discard, prios):
        n = cs * nclusters - tail
        kw = dict(cluster_size=cs, solid_state=not hdd, discard=discard)
        self.fast = vswap.DirectSwap(vswap.SwapDevices(
            [vswap.SwapDevice(n, priority=prios[i], **kw) for i in range(ndev)]))
        self.ref = reference.DirectSwap(reference.SwapDevices(
            [reference.SwapDevice(n, priority=prios[i], **kw) for i in range(ndev)]))
        self.n, self.cs, self.ndev = n, cs, ndev
        self.known = []
        self.folio = 1

    # -- plumbing ------------------------------------------------------------------------

    def both(self, name, *args, may_change_on=(), ref_args=None):
        ref_args = args if ref_args is None else ref_args
        before = self.fast.snapshot()
        ref_before = self.ref.snapshot()
        try:
            a = getattr(self.fast, name)(*args)
        except Exception as exc:  # noqa: BLE001
            try:
                getattr(self.ref, name)(*ref_args)
            except Exception as rexc:  # noqa: BLE001
                assert type(exc) is type(rexc), f"{name}{args}: compiled {exc!r}, reference {rexc!r}"
                if not isinstance(exc, may_change_on):
                    assert self.fast.snapshot() == before, f"{name}{args} raised {exc!r} but changed state"
                    assert self.ref.snapshot() == ref_before
                return exc
            raise AssertionError(f"{name}{args}: compiled raised {exc!r}, reference did not") from exc
        b = getattr(self.ref, name)(*ref_args)
        _same(a, b)
        SEEN["ok:" + name] = SEEN.get("ok:" + name, 0) + 1
        return a

    def live(self, want=None):
        """Used entries of the compiled design: all, those with a count, or those cached."""
        out = []
        for t, dev in self.fast.snapshot()["devices"].items():
            for off, (m, count, word, *_rest) in dev["slots"].items():
                if want == "count" and count == 0:
                    continue
                if want == "folio" and (word & 3) != 2:
                    continue
                out.append(swp_entry(t, off))
        return sorted(out)

    def pick(self, data, want=None):
        how = data.draw(st.integers(0, 9))
        if how < 7:
            live = self.live(want) or self.live()
            if live:
                return data.draw(st.sampled_from(live))
        if how < 9 and self.known:
            return data.draw(st.sampled_from(self.known)) + data.draw(st.sampled_from([0, 1, 2]))
        return swp_entry(data.draw(st.integers(0, self.ndev)), data.draw(st.integers(0, self.n + 2)))

    def remember(self, e, nr=1):
        for i in range(nr):
            if e + i not in self.known:
                self.known.append(e + i)
        if len(self.known) > 64:
            del self.known[:16]

    def arr(self, data, n_max=6, want=None):
        return np.array([self.pick(data, want) for _ in range(data.draw(st.integers(0, n_max)))],
                        dtype=np.uint64)

    # -- allocation and counts ---------------------------------------------------------------

    @rule(order=st.sampled_from([0, 0, 0, 1, 2, 3, 4, 6]), memcg=st.integers(0, 3),
          cpu=st.integers(0, 2))
    def alloc(self, order, memcg, cpu):
        self.folio += 1
        r = self.both("folio_alloc_swap", self.folio, order, memcg, cpu, may_change_on=(NoSpace,))
        if isinstance(r, int):
            self.remember(r, 1 << order)

    @rule(n=st.integers(0, 8), order=st.sampled_from([0, 1, 2]))
    def alloc_many(self, n, order):
        folios = np.arange(self.folio, self.folio + n, dtype=np.uint64)
        self.folio += n
        r = self.both("folio_alloc_swap_many", folios, order)
        if isinstance(r, np.ndarray):
            for e in r:
                self.remember(int(e), 1 << order)

    @rule(data=st.data(), nr=st.integers(1, 4))
    def duplicate(self, data, nr):
        self.both("swap_duplicate", self.pick(data), nr)

    @rule(data=st.data(), k=st.integers(60, 140))
    def duplicate_lots(self, data, k):
        e = self.pick(data)
        for _ in range(k):
            if isinstance(self.both("swap_duplicate", e), Exception):
                break

    @rule(data=st.data(), k=st.integers(1, 140))
    def free_lots(self, data, k):
        e = self.pick(data, "count")
        for _ in range(k):
            if isinstance(self.both("swap_free_nr", e), Exception):
                break

    @rule(data=st.data(), nr=st.integers(1, 4))
    def free_nr(self, data, nr):
        self.both("swap_free_nr", self.pick(data, "count"), nr)

    @rule(data=st.data(), nr=st.integers(1, 40))
    def free_swap_and_cache(self, data, nr):
        self.both("free_swap_and_cache_nr", self.pick(data, "count"), nr)

    @rule(data=st.data())
    def dup_then_zap_run(self, data):
        """The fast path: a run of count-1 entries zapped at once."""
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

    # -- swap cache -----------------------------------------------------------------------------

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
        """Reclaim then swap-in: del (shadow), put, prepare, add (returns the shadow)."""
        e = self.pick(data, "folio")
        if isinstance(self.both("swap_cache_del_folio", e, order, 9), Exception):
            return
        self.both("put_swap_folio", e, order)
        self.both("swapcache_prepare", e, 1 << order)
        self.folio += 1
        self.both("swap_cache_add_folio", e, self.folio, order)

    # -- backends ---------------------------------------------------------------------------------

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

    @rule(data=st.data(), order=st.sampled_from([0, 0, 1, 2]))
    def writeback(self, data, order):
        self.both("writeback", self.pick(data), order)

    # -- device-level ---------------------------------------------------------------------------------

    @rule(device=st.integers(0, 2))
    def reclaim_device(self, device):
        self.both("reclaim_cache_only", device)

    @rule(device=st.integers(0, 1))
    def discard_work(self, device):
        """The allocator's discard work (discard devices park freed clusters)."""
        if device < len(self.fast.swaps):
            _same(self.fast.swaps[device].run_discard(), self.ref.swaps[device].run_discard())

    @rule(data=st.data(), device=st.sampled_from([0, 0, 1, 2]), mode=st.sampled_from(["ok", "ok", "missing", "extra"]),
          as_array=st.booleans())
    def swapoff(self, data, device, mode, as_array):
        """A model page table holding every reference of the device (or one too few / many).

        Rare (1 in 4 draws); a device that went away is replaced by a fresh
        one through ``DirectSwap.swapon`` so the run goes on.
        """
        if data.draw(st.integers(0, 3)):
            return
        snap = self.fast.snapshot()["devices"].get(device, {"slots": {}})["slots"]
        ptes = []
        for off, (m, count, *_rest) in sorted(snap.items()):
            ptes += [swp_entry(device, off)] * count
        if mode == "missing" and ptes:
            ptes.pop()
        elif mode == "extra":
            ptes.append(swp_entry(device, self.n - 1) if device < 32 else 0)
        ptes.append(swp_entry((device + 1) % 3, 1))   # another device's PTE stays
        if as_array:
            pa, pb = (np.array([0] + ptes, dtype=np.uint64) for _ in range(2))
        else:
            pa, pb = (PageTable({100 + i: e for i, e in enumerate(ptes)}) for _ in range(2))
        r = self.both("swapoff", device, pa, ref_args=(device, pb))
        # both designs rewrote their page tables the same way
        _same(pa if as_array else dict(pa), pb if as_array else dict(pb))
        if not isinstance(r, Exception) and len(self.fast.swaps) < 4:
            t = self.both("swapon", vswap.SwapDevice(self.n, cluster_size=self.cs),
                          ref_args=(reference.SwapDevice(self.n, cluster_size=self.cs),))
            self.ndev = max(self.ndev, t + 1)

    @rule(data=st.data(), order=st.sampled_from([0, 0, 1, 2, 3]), refs=st.integers(1, 3),
          memcg=st.integers(0, 2))
    def swap_out(self, data, order, refs, memcg):
        """The common life: allocate, map ``refs`` PTEs, maybe store elsewhere, reclaim the folio."""
        self.folio += 1
        e = self.both("folio_alloc_swap", self.folio, order, memcg, 0, may_change_on=(NoSpace,))
        if isinstance(e, Exception):
            return
        self.remember(e, 1 << order)
        for _ in range(refs):
            self.both("swap_duplicate", e, 1 << order)
        how = data.draw(st.sampled_from(["disk", "zswap", "zero", "keep"]))
        if how == "zswap":
            for i in range(1 << order):
                self.both("zswap_store", e + i, 1000 + i)
        elif how == "zero":
            self.both("zero_store", e, 1 << order)
        elif how == "disk":
            self.both("writeback", e, order)
        if how != "keep":
            self.both("swap_cache_del_folio", e, order, data.draw(st.integers(0, 50)))
            self.both("put_swap_folio", e, order)
        if data.draw(st.booleans()):
            self.both("reset_stats")

    # -- bad inputs ---------------------------------------------------------------------------------------

    @rule(data=st.data())
    def bad_inputs(self, data):
        e = self.pick(data)
        bad = data.draw(st.sampled_from([
            ("swap_duplicate", (1 << 63,)), ("swap_duplicate", (-1,)), ("swap_duplicate", ("x",)),
            ("swap_free_nr", (e, 0)), ("swap_free_nr", (swp_entry(31, 1),)),
            ("folio_alloc_swap", (1 << 57,)), ("folio_alloc_swap", (1, 12)),
            ("folio_alloc_swap", (1, 0, 70000)), ("folio_alloc_swap", (1, 0, 0, 9999)),
            ("swap_cache_add_folio", (e, 1, 1)), ("put_swap_folio", (e | 1, 1)),
            ("swap_duplicate_many", (np.array([e], dtype=np.int64),)),
            ("swap_free_many", ([e],)), ("lookup_many", (np.zeros((1, 1), dtype=np.uint64),)),
            ("zswap_store", (e, 1 << 62)), ("swap_cache_del_folio", (e, 0, 1 << 62)),
            ("swapoff", (0, [e])), ("swapoff", (7, PageTable())),
            ("free_swap_and_cache_nr", (e, 1 << 58)),
        ]))
        self.both(bad[0], *bad[1])

    @invariant()
    def agree(self):
        if not hasattr(self, "fast"):
            return
        STEPS["n"] += 1
        self.fast.check()
        self.ref.check()
        a, b = self.fast.snapshot(), self.ref.snapshot()
        assert a["stats"] == b["stats"]
        for k, v in a["stats"].items():
            if v:
                SEEN[k] = SEEN.get(k, 0) + 1
        if any(d["stats"]["reclaim_calls"] for d in a["swaps"]["devices"]):
            SEEN["allocator_hook_calls"] = SEEN.get("allocator_hook_calls", 0) + 1
        assert a["devices"] == b["devices"]
        assert a["swaps"] == b["swaps"]
        assert self.fast.memory_footprint() == self.ref.memory_footprint()


def test_direct_lockstep():
    # Twice the profile's steps per run (hypothesis ends many runs early).
    DirectMachine.TestCase.settings = settings(
        settings(), stateful_step_count=2 * settings().stateful_step_count,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    SEEN.clear()
    before = STEPS["n"]
    DirectMachine.TestCase().runTest()
    steps = STEPS["n"] - before
    print(f"\nDirectMachine: {steps} steps checked; seen: {SEEN}")
    if settings().max_examples >= 100 and settings().stateful_step_count >= 60:
        assert steps >= 5000, steps
        # every verb succeeded at least once and every counter moved
        for verb in ("folio_alloc_swap", "folio_alloc_swap_many", "swap_duplicate",
                     "swap_duplicate_many", "swap_free_nr", "swap_free_many",
                     "free_swap_and_cache_nr", "free_swap_and_cache_many", "swapcache_prepare",
                     "swap_cache_add_folio", "swap_cache_del_folio", "put_swap_folio",
                     "lookup", "lookup_many", "zero_store", "zswap_store", "zswap_store_many",
                     "zswap_invalidate", "writeback", "reclaim_cache_only", "swapoff", "swapon"):
            assert SEEN.get("ok:" + verb), f"{verb} never succeeded: {SEEN}"
        for key in ("fast_frees", "folios_reclaimed", "cont_pages_allocated", "pte_walked",
                    "zswap_walks", "scans", "allocator_hook_calls"):
            assert SEEN.get(key), f"no run exercised {key}: {SEEN}"
