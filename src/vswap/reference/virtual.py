"""Pure-Python reference model of the virtual swap design (mirrors ``_virtual.pyx``).

Same API, results, exceptions and counters as :class:`vswap.VirtualSwap`,
and the same algorithm step by step, over the reference allocator
(:class:`vswap.reference.SwapDevices`) and the reference
:class:`~vswap.reference.XArray` as the cluster map. Slow and meant for
testing and reading; the compiled module is the one to use.

>>> from vswap.reference import VirtualSwap, SwapDevice, SwapDevices
>>> vs = VirtualSwap(SwapDevices([SwapDevice(256, cluster_size=16)]))
>>> e = vs.folio_alloc_swap(folio=7)
>>> vs.swap_duplicate(e); e, vs.swap_count(e), vs.lookup(e)
(1, 1, Lookup(kind='folio', handle=7))
"""

from vswap.errors import EntryExists, NoEntry, NoSpace
from vswap.protocol import LOOKUP_KINDS, Lookup, SwapSpace
from vswap.reference.common import to_u64
from vswap.reference.clustermap import cluster_map_get
from vswap.reference.swapfile import (SLOT_USED, SWAP_TABLE_CACHE_ONLY, SwapDesign, SwapDevices,
                                      SwapFreeBatch)
from vswap.reference.virtual_common import SHIFT, SIZE, ClusterHead, VirtualCommon
from vswap.swapentry import (FOLIO_MAX, XA_NODE_KERNEL_BYTES, HANDLE_MAX, MAX_SWAPFILES, SHADOW_MAX, SWAP_NR_ORDERS,
                             SWP_OFFSET_MASK, SWP_TYPE_SHIFT, VSWAP_FOLIO,
                             VSWAP_SWAPFILE, VSWAP_ZERO, VSWAP_ZSWAP, swap_cache_folio,
                             swap_cache_folio_id, swap_cache_is_folio, swap_cache_order)

__all__ = ["VirtualSwap", "VSWAP_PRESETS", "VSWAP_PRESET_OPTIONS", "SWP_DESC_BYTES"]

RMAP_MASK = SWAP_TABLE_CACHE_ONLY - 1
COUNT_LIMIT = 0xFFFFFFFF
SWP_DESC_BYTES = 24
VSWAP_PRESETS = {
    "vss_v5": (False, False, False),
    "new_opt_v2": (True, True, False),
    "cc_v2": (True, True, True),
    "vswap_v3": (False, False, False),
}
VSWAP_PRESET_OPTIONS = {"vswap_v3": {"free_batching": False}}
_STAT_NAMES = ("lookups", "node_visits", "mru_hits", "mru_misses", "desc_reads", "desc_writes",
               "cluster_locks", "rmap_reads", "rmap_writes", "alloc_scans", "cgroup_checks",
               "cache_only_checks", "slots_freed", "folios_reclaimed", "phys_allocs",
               "phys_frees", "scans", "clusters_allocated", "clusters_freed", "global_locks",
               "used_updates")
_MAP_STATS = ("lookups", "node_visits", "mru_hits", "mru_misses")


class _Desc:
    """``struct swp_desc``."""

    __slots__ = ("backing", "cache", "count", "memcg", "cached", "type")

    def __init__(self):
        self.clear()

    def clear(self):
        self.backing = 0
        self.cache = 0
        self.count = 0
        self.memcg = 0
        self.cached = False
        self.type = VSWAP_ZERO         # code 0: a free descriptor's flags are all zero

    @property
    def live(self):
        return self.count != 0 or self.cached


class _Cluster(ClusterHead):
    """``struct vswap_cluster``."""

    def __init__(self, cid, order):
        super().__init__(cid, order)
        self.refcnt = 0
        self.cached = False
        self.full = False
        self.on_partial = False
        self.bitmap = [False] * SIZE
        self.desc = [_Desc() for _ in range(SIZE)]

    def has_room(self):
        return self.count + (1 << self.order) <= SIZE


class VirtualSwap(VirtualCommon, SwapSpace):
    """The virtual swap design; see :class:`vswap.VirtualSwap`.

    Runtime complexity: construction O(physical slots).

    >>> from vswap.reference import VirtualSwap
    >>> vs = VirtualSwap(); vs.swap_cache_get_folio(vs.folio_alloc_swap(5))
    5
    """

    entry_is_slot = False                # SwapSpace.entry_is_slot: a virtual entry
    swapin_bypasses_swap_cache = True   # SwapSpace.swapin_bypasses_swap_cache: 6.19's bypass kept

    def __init__(self, swaps=None, *, cache_only_bit=True, batched_cgroup_check=True,
                 mru_cluster_cache=True, max_clusters=1 << 32, free_batching=True):
        mc = to_u64(max_clusters, (1 << 32) + 1, "max_clusters")
        if mc == 0:
            raise ValueError("max_clusters must be at least 1")
        self._claim(SwapDevices() if swaps is None else swaps)
        self._virtual_init(mc)
        self._partial = [[] for _ in range(SWAP_NR_ORDERS)]
        self._pcp = {}
        self._opt_cache_only_bit = bool(cache_only_bit)
        self._opt_batched_cgroup = bool(batched_cgroup_check)
        self._opt_mru = bool(mru_cluster_cache)
        self._free_batching = bool(free_batching)
        self._st = dict.fromkeys(_STAT_NAMES, 0)
        # Without the reverse-map bit (vss_v5) the allocator asks this layer.
        self._cache_only = None if self._opt_cache_only_bit else "_cache_only_hook"
        self._sync_devices()

    @classmethod
    def preset(cls, name, swaps=None, **kwargs):
        """See :meth:`vswap.VirtualSwap.preset`."""
        a, b, c = VSWAP_PRESETS[name]
        return cls(swaps, cache_only_bit=a, batched_cgroup_check=b, mru_cluster_cache=c,
                   **{**VSWAP_PRESET_OPTIONS.get(name, {}), **kwargs})

    # -- helpers (the compiled module's C functions) ---------------------------------------

    def _attach(self, t, si):
        SwapDesign._attach(self, t, si)
        self._devs[t] = si

    def _drop_devices(self):
        self._devs = [None] * MAX_SWAPFILES

    def _cluster(self, cid):
        return cluster_map_get(self._map, cid, self._st, _MAP_STATS,
                               self._mru if self._opt_mru else None, self._cpu)

    def _desc(self, e):
        c = self._cluster(e >> SHIFT)
        if c is None:
            return None
        d = c.desc[e & (SIZE - 1)]
        return d if d.live else None

    def _peek(self, e):
        c = self._map._load(e >> SHIFT)
        if c is None:
            return None
        d = c.desc[e & (SIZE - 1)]
        return d if d.live else None

    def _live(self, e):
        d = self._peek(e)
        if d is None:
            raise NoEntry(f"swap entry {e:#x} is not allocated")
        return d

    def _range(self, entry, nr, aligned):
        e = to_u64(entry, 1 << 63, "swap entry")
        vmax = self._max_clusters << SHIFT
        self._check_open()
        if nr == 0:
            raise ValueError("nr must be at least 1")
        if e >= vmax or nr > vmax - e:
            raise ValueError(f"swap entry {e:#x}: {nr} entries pass the virtual space end {vmax}")
        if aligned and e & (nr - 1):
            raise ValueError(f"swap entry {e:#x} is not aligned to {nr} entries")
        return e

    # partial lists and cluster lifetime

    def _partial_add(self, c):
        self._partial[c.order].append(c)
        c.on_partial = True

    def _partial_del(self, c):
        self._partial[c.order].remove(c)
        c.on_partial = False

    def _destroy(self, c):
        if c.on_partial:
            self._partial_del(c)
        self._cluster_forget(c)
        self._st["global_locks"] += 1

    def _after_free(self, c):
        if c.refcnt == 0:
            self._destroy(c)
            return
        if c.full and c.has_room():
            c.full = False
            if not c.cached:
                self._partial_add(c)
                self._st["global_locks"] += 1

    # backing release (BackingFrees: _pb_add, _pb_flush)

    def _release(self, d, b):
        if d.type == VSWAP_SWAPFILE:
            self._pb_add(b, d.backing)
            self._charge_sub(d.memcg)
        elif d.type == VSWAP_ZSWAP:
            self._nr_zswap -= 1
        d.backing = 0

    def _vswap_free_nr(self, c, idx, n):
        b = SwapFreeBatch()
        for i in range(idx, idx + n):
            self._release(c.desc[i], b)
            c.desc[i].clear()
            c.bitmap[i] = False
        self._pb_flush(b)
        self._st["desc_writes"] += n
        c.count -= n
        c.refcnt -= n
        self._nr_used -= n
        self._st["slots_freed"] += n
        self._st["used_updates"] += 1

    def _rmap_mark(self, d, on):
        if not self._opt_cache_only_bit:
            return
        si = self._devs[d.backing >> SWP_TYPE_SHIFT]
        off = d.backing & SWP_OFFSET_MASK
        tb = si._cluster_info[off >> si._cluster_shift].table
        i = off & (si._cluster_size - 1)
        tb[i] = (tb[i] | SWAP_TABLE_CACHE_ONLY) if on else (tb[i] & RMAP_MASK)
        self._st["rmap_writes"] += 1

    # allocation

    @staticmethod
    def _find_run(c, nr):
        for i in range(0, SIZE, nr):
            if not any(c.bitmap[i:i + nr]):
                return i
        return SIZE

    def _take(self, c, idx, nr, folio, order, memcg):
        w = swap_cache_folio(folio, order)
        for i in range(idx, idx + nr):
            c.bitmap[i] = True
            d = c.desc[i]
            d.backing, d.cache, d.count, d.memcg, d.cached, d.type = folio, w, 0, memcg, True, VSWAP_FOLIO
        self._st["desc_writes"] += nr
        c.count += nr
        c.refcnt += nr
        self._nr_used += nr
        self._st["used_updates"] += 1

    def _vswap_alloc_new_cluster(self, order):
        c = _Cluster(0, order)
        if not self._cluster_insert(c, order):
            return None
        if c.id == 0:
            for i in range(1 << order):
                c.bitmap[i] = True
            c.count = c.refcnt = 1 << order
        return c

    def _alloc(self, folio, order, memcg, cpu):
        nr = 1 << order
        key = (cpu, order)
        idx = SIZE
        c = self._pcp.get(key)
        if c is not None:
            self._st["cluster_locks"] += 1
            self._st["alloc_scans"] += 1
            if c.has_room():
                idx = self._find_run(c, nr)
            if idx < SIZE:
                self._take(c, idx, nr, folio, order, memcg)
                if not c.has_room():
                    c.cached = False
                    c.full = True
                    c.refcnt -= 1
                    del self._pcp[key]
                return (c.id << SHIFT) + idx
            c.cached = False
            c.full = True
            c.refcnt -= 1
            del self._pcp[key]
        c = None
        self._st["global_locks"] += 1
        while self._partial[order]:
            c = self._partial[order][0]
            self._partial_del(c)
            self._st["cluster_locks"] += 1
            self._st["alloc_scans"] += 1
            idx = self._find_run(c, nr)
            if idx < SIZE:
                break
            c.full = True
            c = None
        if c is None:
            c = self._vswap_alloc_new_cluster(order)
            if c is None:                # the ids ran out (counted in alloc_reject)
                return 0
            self._st["cluster_locks"] += 1
            self._st["alloc_scans"] += 1
            idx = self._find_run(c, nr)
        self._take(c, idx, nr, folio, order, memcg)
        if not c.has_room():
            c.full = True
        elif key not in self._pcp:
            c.cached = True
            c.refcnt += 1
            self._pcp[key] = c
        else:
            self._partial_add(c)
        return (c.id << SHIFT) + idx

    # counts and the free paths

    def _vswap_swap_duplicate_nr(self, e, n):
        for c, cur, ce in self._locked_chunks(e, e + n):
            for i in range(cur, ce):
                d = c.desc[i & (SIZE - 1)]
                if d.count == 0 and d.type == VSWAP_SWAPFILE:
                    self._rmap_mark(d, False)
                d.count += 1
            self._st["desc_reads"] += ce - cur
            self._st["desc_writes"] += ce - cur

    def _put_pass(self, e, n):
        only = False
        for c, cur, ce in self._locked_chunks(e, e + n):
            run = nrun = run_memcg = 0
            for i in range(cur, ce):
                idx = i & (SIZE - 1)
                d = c.desc[idx]
                d.count -= 1
                if d.count == 0:
                    if not d.cached and not self._free_batching:
                        self._vswap_free_nr(c, idx, 1)      # v3: a call and a lock per entry
                        self._st["cluster_locks"] += 1
                        continue
                    if not d.cached:
                        if nrun and d.memcg != run_memcg:
                            self._vswap_free_nr(c, run, nrun)
                            nrun = 0
                        if nrun == 0:
                            run, run_memcg = idx, d.memcg
                        nrun += 1
                        continue
                    if d.type == VSWAP_SWAPFILE:
                        self._rmap_mark(d, True)
                    only = True
                if nrun:
                    self._vswap_free_nr(c, run, nrun)
                    nrun = 0
            self._st["desc_reads"] += ce - cur
            self._st["desc_writes"] += ce - cur
            if nrun:
                self._vswap_free_nr(c, run, nrun)
            self._after_free(c)
        return only

    def _reclaim_folio(self, c, idx, phys_at=0):
        """Returns (pages freed / minus kept / 0, physical run from phys_at)."""
        d = c.desc[idx]
        self._st["cluster_locks"] += 1
        self._st["desc_reads"] += 1
        if not d.live or not swap_cache_is_folio(d.cache):
            return 0, 0
        n = 1 << swap_cache_order(d.cache)
        base = idx & ~(n - 1)
        ve = (c.id << SHIFT) + base
        lo, hi = self._locked_lo, self._locked_hi
        if ve < hi and ve + n > lo:
            return -n, 0
        self._st["desc_reads"] += n
        if any(c.desc[i].count for i in range(base, base + n)):
            return -n, 0
        run = 0
        for i in range(base, base + n):
            d = c.desc[i]
            if phys_at and d.type == VSWAP_SWAPFILE and d.backing == phys_at + run:
                run += 1
            d.cache = 0
            d.cached = False
        self._vswap_free_nr(c, base, n)
        self._st["folios_reclaimed"] += 1
        self._after_free(c)
        return n, run

    def _fsc(self, e, n):
        end = e + n
        if self._opt_batched_cgroup:
            self._cluster(e >> SHIFT)
            self._st["desc_reads"] += 1
            self._st["cgroup_checks"] += 1
        else:
            for i in range(e, end):
                self._cluster(i >> SHIFT)
            self._st["desc_reads"] += n
            self._st["cgroup_checks"] += n
        if not self._put_pass(e, n):
            return
        cur = e
        while cur < end:
            step = 1
            c = self._cluster(cur >> SHIFT)
            if c is not None:
                d = c.desc[cur & (SIZE - 1)]
                self._st["desc_reads"] += 1
                if d.count == 0 and d.cached:
                    r = abs(self._reclaim_folio(c, cur & (SIZE - 1))[0])
                    if r > 0:
                        step = ((cur + r) & ~(r - 1)) - cur
            cur += step

    # the physical allocator's hooks

    def _reclaim_hook(self, si, offset):
        t = si._type
        if t < 0 or t >= MAX_SWAPFILES or self._devs[t] is not si:
            return 0
        slot = (t << SWP_TYPE_SHIFT) | offset
        self._st["rmap_reads"] += 1
        w = si._table_get(offset) & RMAP_MASK
        if w == 0:
            return 0
        c = self._cluster(w >> SHIFT)
        if c is None:
            return 0
        d = c.desc[w & (SIZE - 1)]
        if not d.live or d.type != VSWAP_SWAPFILE or d.backing != slot:
            return 0
        r, run = self._reclaim_folio(c, w & (SIZE - 1), slot)
        if r > 0:
            return run if run > 0 else 1
        return -1 if r < 0 else 0

    def _cache_only_hook(self, si, offset):
        self._st["cache_only_checks"] += 1
        self._st["rmap_reads"] += 1
        w = si._table_get(offset) & RMAP_MASK
        if w == 0:
            return False
        d = self._desc(w)
        self._st["desc_reads"] += 1
        return d is not None and d.count == 0 and d.cached and d.type == VSWAP_SWAPFILE

    @staticmethod
    def _kind(d):
        if swap_cache_is_folio(d.cache):
            return VSWAP_FOLIO, swap_cache_folio_id(d.cache)
        return d.type, d.backing             # the descriptor types are the lookup codes

    # -- configuration ----------------------------------------------------------------------

    @property
    def switches(self):
        """See :attr:`vswap.VirtualSwap.switches`."""
        return {"cache_only_bit": self._opt_cache_only_bit, "batched_cgroup_check": self._opt_batched_cgroup,
                "mru_cluster_cache": self._opt_mru}

    @property
    def free_batching(self):
        """See :attr:`vswap.VirtualSwap.free_batching`."""
        return self._free_batching

    # -- allocation and counts ----------------------------------------------------------------

    def folio_alloc_swap(self, folio, order=0, memcg=0, cpu=0):
        """See :meth:`vswap.VirtualSwap.folio_alloc_swap`."""
        f = to_u64(folio, FOLIO_MAX, "folio")
        o, m, c = self._alloc_prepare(order, memcg, cpu)
        e = self._alloc(f, o, m, c)
        if e == 0:
            raise NoSpace(f"no virtual cluster id left for an order-{o} run")
        return e

    def _alloc_entry(self, f, o, m, c):
        return self._alloc(f, o, m, c)

    def _dup_entry(self, e):
        self._vswap_swap_duplicate_nr(e, 1)

    def _free_entry(self, e):
        self._put_pass(e, 1)

    def _fsc_entries(self, e, nr):
        self._fsc(e, nr)

    def _zswap_entry(self, e, h):
        self._zswap_put(e, h)

    def swap_duplicate(self, entry, nr=1):
        """See :meth:`vswap.VirtualSwap.swap_duplicate`."""
        n = to_u64(nr, 1 << SWP_TYPE_SHIFT, "nr")
        e = self._range(entry, n, False)
        for i in range(e, e + n):
            d = self._peek(i)
            if d is None:
                raise NoEntry(f"swap entry {i:#x} is not allocated")
            if d.count >= COUNT_LIMIT:
                raise NoSpace(f"swap count of {i:#x} would pass 2**32-1")
        self._vswap_swap_duplicate_nr(e, n)

    def _batch_entry(self, e):
        if e >= self._max_clusters << SHIFT:
            self._range(e, 1, False)
        if self._peek(e) is None:
            raise NoEntry(f"swap entry {e:#x} is not allocated")

    def _batch_count(self, e, k, need_count, dup):
        d = self._peek(e)
        if dup and d.count + k > COUNT_LIMIT:
            raise NoSpace(f"swap count of {e:#x} would pass 2**32-1")
        if need_count and d.count < k:
            raise NoEntry(f"swap entry {e:#x} has a swap count of 0")

    def _check_counted(self, e, n):
        for i in range(e, e + n):
            d = self._peek(i)
            if d is None or d.count == 0:
                raise NoEntry(f"swap entry {i:#x} is free or has a swap count of 0")

    def swap_free_nr(self, entry, nr=1):
        """See :meth:`vswap.VirtualSwap.swap_free_nr`."""
        n = to_u64(nr, 1 << SWP_TYPE_SHIFT, "nr")
        e = self._range(entry, n, False)
        self._check_counted(e, n)
        self._put_pass(e, n)

    def free_swap_and_cache_nr(self, entry, nr=1):
        """See :meth:`vswap.VirtualSwap.free_swap_and_cache_nr`."""
        n = to_u64(nr, 1 << SWP_TYPE_SHIFT, "nr")
        e = self._range(entry, n, False)
        self._check_counted(e, n)
        self._fsc(e, n)

    def swap_count(self, entry):
        """See :meth:`vswap.VirtualSwap.swap_count`."""
        e = self._range(entry, 1, False)
        self._live(e)
        self._st["desc_reads"] += 1
        return self._desc(e).count

    def memcg_id(self, entry):
        """See :meth:`vswap.VirtualSwap.memcg_id`."""
        e = self._range(entry, 1, False)
        self._live(e)
        self._st["desc_reads"] += 1
        return self._desc(e).memcg

    # -- the swap cache -----------------------------------------------------------------------

    def swapcache_prepare(self, entry, nr=1):
        """See :meth:`vswap.VirtualSwap.swapcache_prepare`."""
        n = to_u64(nr, 1 << SWP_TYPE_SHIFT, "nr")
        e = self._range(entry, n, False)
        end = e + n
        for i in range(e, end):
            d = self._peek(i)
            if d is None:
                raise NoEntry(f"swap entry {i:#x} is not allocated")
            if d.cached:
                raise EntryExists(f"swap entry {i:#x} is already in the swap cache")
        for c, cur, ce in self._locked_chunks(e, end):
            for i in range(cur, ce):
                c.desc[i & (SIZE - 1)].cached = True
            self._st["desc_writes"] += ce - cur

    def swap_cache_add_folio(self, entry, folio, order=0):
        """See :meth:`vswap.VirtualSwap.swap_cache_add_folio`."""
        f = to_u64(folio, FOLIO_MAX, "folio")
        o = to_u64(order, SWAP_NR_ORDERS, "order")
        nr = 1 << o
        e = self._range(entry, nr, True)
        for i in range(e, e + nr):
            d = self._peek(i)
            if d is None:
                raise NoEntry(f"swap entry {i:#x} is not allocated")
            if not d.cached:
                raise ValueError(f"swap entry {i:#x} was not prepared by swapcache_prepare")
            if swap_cache_is_folio(d.cache):
                raise EntryExists(f"swap entry {i:#x} already holds a folio")
        c = self._cluster(e >> SHIFT)
        self._st["cluster_locks"] += 1
        first = c.desc[e & (SIZE - 1)].cache
        for i in range(e, e + nr):
            c.desc[i & (SIZE - 1)].cache = swap_cache_folio(f, o)
        self._st["desc_reads"] += nr
        self._st["desc_writes"] += nr
        return (first >> 1) if first & 1 else None

    def swap_cache_del_folio(self, entry, order=0, shadow=None):
        """See :meth:`vswap.VirtualSwap.swap_cache_del_folio`."""
        o = to_u64(order, SWAP_NR_ORDERS, "order")
        nr = 1 << o
        e = self._range(entry, nr, True)
        sw = 0
        if shadow is not None:
            sw = (to_u64(shadow, SHADOW_MAX, "shadow") << 1) | 1
        w0 = self._live(e).cache
        if not swap_cache_is_folio(w0) or (1 << swap_cache_order(w0)) != nr:
            raise NoEntry(f"swap entry {e:#x} holds no folio of {nr} pages")
        for i in range(e, e + nr):
            d = self._peek(i)
            if d is None or d.cache != w0:
                raise NoEntry(f"swap entry {e:#x} holds no folio of {nr} pages")
        c = self._cluster(e >> SHIFT)
        self._st["cluster_locks"] += 1
        for i in range(e, e + nr):
            c.desc[i & (SIZE - 1)].cache = sw
        self._st["desc_writes"] += nr

    def swap_cache_get_folio(self, entry):
        """See :meth:`vswap.VirtualSwap.swap_cache_get_folio`."""
        e = self._range(entry, 1, False)
        self._live(e)
        self._st["desc_reads"] += 1
        w = self._desc(e).cache
        return swap_cache_folio_id(w) if swap_cache_is_folio(w) else None

    def swap_cache_get_shadow(self, entry):
        """See :meth:`vswap.VirtualSwap.swap_cache_get_shadow`."""
        e = self._range(entry, 1, False)
        self._live(e)
        self._st["desc_reads"] += 1
        w = self._desc(e).cache
        return (w >> 1) if w & 1 else None

    def put_swap_folio(self, entry, order=0):
        """See :meth:`vswap.VirtualSwap.put_swap_folio`."""
        o = to_u64(order, SWAP_NR_ORDERS, "order")
        nr = 1 << o
        e = self._range(entry, nr, True)
        all_only = True
        for i in range(e, e + nr):
            d = self._peek(i)
            if d is None or not d.cached:
                raise NoEntry(f"swap entry {i:#x} is not in the swap cache")
            if swap_cache_is_folio(d.cache):
                raise EntryExists(f"swap entry {i:#x} still holds a folio")
            if d.count:
                all_only = False
        c = self._cluster(e >> SHIFT)
        self._st["cluster_locks"] += 1
        base = e & (SIZE - 1)
        self._st["desc_writes"] += nr
        for idx in range(base, base + nr):
            c.desc[idx].cached = False
        if all_only:
            self._vswap_free_nr(c, base, nr)
        else:
            for idx in range(base, base + nr):
                if c.desc[idx].count == 0:
                    self._vswap_free_nr(c, idx, 1)
        self._after_free(c)

    # -- backends -------------------------------------------------------------------------------

    def lookup(self, entry):
        """See :meth:`vswap.VirtualSwap.lookup`."""
        e = self._range(entry, 1, False)
        self._live(e)
        self._st["desc_reads"] += 1
        k, h = self._kind(self._desc(e))
        return Lookup(LOOKUP_KINDS[k], h)

    def _lookup_into(self, es):
        kinds, handles = [], []
        for e in es:
            k, h = self._kind(self._desc(e))
            kinds.append(k)
            handles.append(h)
        self._st["desc_reads"] += len(es)
        return kinds, handles

    def zero_store(self, entry, nr=1):
        """See :meth:`vswap.VirtualSwap.zero_store`."""
        n = to_u64(nr, 1 << SWP_TYPE_SHIFT, "nr")
        e = self._range(entry, n, False)
        end = e + n
        for i in range(e, end):
            self._live(i)
        b = SwapFreeBatch()
        for c, cur, ce in self._locked_chunks(e, end):
            for i in range(cur, ce):
                d = c.desc[i & (SIZE - 1)]
                self._release(d, b)
                d.type = VSWAP_ZERO
            self._st["desc_writes"] += ce - cur
        self._pb_flush(b)

    def _zswap_put(self, e, h):
        d = self._desc(e)
        b = SwapFreeBatch()
        self._st["cluster_locks"] += 1
        self._st["desc_writes"] += 1
        self._release(d, b)
        self._pb_flush(b)
        d.type = VSWAP_ZSWAP
        d.backing = h
        self._nr_zswap += 1

    def zswap_store(self, entry, handle):
        """See :meth:`vswap.VirtualSwap.zswap_store`."""
        h = to_u64(handle, HANDLE_MAX, "zswap handle")
        e = self._range(entry, 1, False)
        self._live(e)
        self._zswap_put(e, h)

    def zswap_load(self, entry):
        """See :meth:`vswap.VirtualSwap.zswap_load`."""
        e = self._range(entry, 1, False)
        self._live(e)
        self._st["desc_reads"] += 1
        d = self._desc(e)
        return d.backing if d.type == VSWAP_ZSWAP else None

    def zswap_invalidate(self, entry):
        """See :meth:`vswap.VirtualSwap.zswap_invalidate`."""
        e = self._range(entry, 1, False)
        self._live(e)
        self._st["desc_reads"] += 1
        d = self._desc(e)
        if d.type != VSWAP_ZSWAP:
            return None
        self._st["cluster_locks"] += 1
        self._st["desc_writes"] += 1
        h = d.backing
        self._nr_zswap -= 1
        d.type = VSWAP_FOLIO
        d.backing = swap_cache_folio_id(d.cache) if swap_cache_is_folio(d.cache) else 0
        return h

    def writeback(self, entry, order=0):
        """See :meth:`vswap.VirtualSwap.writeback`."""
        o = to_u64(order, SWAP_NR_ORDERS, "order")
        nr = 1 << o
        e = self._range(entry, nr, True)
        for i in range(e, e + nr):
            self._live(i)
        slot0 = self._peek(e).backing
        contiguous = True
        for i in range(e, e + nr):
            d = self._peek(i)
            if d.type != VSWAP_SWAPFILE or d.backing != slot0 + (i - e):
                contiguous = False
                break
        self._sync_devices()
        if contiguous:
            self._cluster(e >> SHIFT)
            self._st["desc_reads"] += nr
            return slot0
        if not self._swaps._devices or nr > next(iter(self._swaps))._cluster_size:
            raise NoSpace(f"no physical device takes an order-{o} run")
        t, off, si = self._phys_alloc(e, e + nr, o, self._cpu)
        c = self._cluster(e >> SHIFT)
        self._st["cluster_locks"] += 1
        b = SwapFreeBatch()
        tb = si._cluster_info[off >> si._cluster_shift].table
        for i in range(nr):
            d = c.desc[(e + i) & (SIZE - 1)]
            self._release(d, b)
            d.type = VSWAP_SWAPFILE
            d.backing = (t << SWP_TYPE_SHIFT) | (off + i)
            self._charge_add(d.memcg)
            w = e + i
            if self._opt_cache_only_bit and d.count == 0 and d.cached:
                w |= SWAP_TABLE_CACHE_ONLY
            tb[(off + i) & (si._cluster_size - 1)] = w
        self._phys_written(b, nr)
        self._st["desc_writes"] += nr
        return (t << SWP_TYPE_SHIFT) | off

    # -- device-level verbs ----------------------------------------------------------------------

    def swapoff(self, device, page_tables=None):
        """See :meth:`vswap.VirtualSwap.swapoff`."""
        si = self._device(device)
        t = si._type
        for off, b in self._unuse_slots(si):
            self._st["rmap_reads"] += 1
            w = si._table_get(off) & RMAP_MASK
            slot = (t << SWP_TYPE_SHIFT) | off
            c = self._cluster(w >> SHIFT) if w else None
            if c is None:
                continue
            d = c.desc[w & (SIZE - 1)]
            self._st["desc_reads"] += 1
            if not d.live or d.type != VSWAP_SWAPFILE or d.backing != slot:
                continue
            self._st["cluster_locks"] += 1
            self._st["desc_writes"] += 1
            self._release(d, b)
            d.type = VSWAP_FOLIO
            if swap_cache_is_folio(d.cache):
                d.backing = swap_cache_folio_id(d.cache)
            else:
                d.backing = w
                if not d.cached:
                    d.cached = True
                    d.cache = swap_cache_folio(w, 0)
        return 0

    # -- accounting ------------------------------------------------------------------------------

    def _footprint_virtual(self):
        return {"descriptors": SWP_DESC_BYTES * self._nr_used,
                "cluster_bitmaps": 64 * self._nr_clusters,
                "cluster_map": self._map.nr_nodes * XA_NODE_KERNEL_BYTES,
                "phys_bitmaps": 0, "cluster_info": 0, "rmap": 0}

    @staticmethod
    def _footprint_dev(out, t, si):
        out["phys_bitmaps"] += 2 * 8 * ((si._max + 63) // 64)

    @property
    def stats(self):
        """See :attr:`vswap.VirtualSwap.stats`."""
        return dict(self._st)

    def reset_stats(self):
        """See :meth:`vswap.VirtualSwap.reset_stats`."""
        for k in self._st:
            self._st[k] = 0

    def check(self):
        """See :meth:`vswap.VirtualSwap.check`."""
        self._check_open()
        errors = []
        used = nz = nphys = 0
        charges = {}
        seen = set()
        clusters = self._clusters()
        for cid, c in clusters:
            seen.add(cid)
            if c.id != cid:
                errors.append(f"cluster {cid}: id {c.id}")
            if sum(c.bitmap) != c.count:
                errors.append(f"cluster {cid}: count {c.count} but {sum(c.bitmap)} bits")
            if c.refcnt != c.count + c.cached:
                errors.append(f"cluster {cid}: refcnt {c.refcnt}")
            if c.refcnt == 0:
                errors.append(f"cluster {cid}: refcount 0 but still in the map")
            if c.cached + c.on_partial + c.full != 1:
                errors.append(f"cluster {cid}: cached/partial/full")
            if not c.full and not c.has_room():
                errors.append(f"cluster {cid}: not full without room")
            runs_checked = set()   # (base, cache word): a run is checked once, not per entry
            for i in range(SIZE):
                d = c.desc[i]
                ve = (cid << SHIFT) + i
                if cid == 0 and i < (1 << c.order):
                    if not c.bitmap[i] or d.live:
                        errors.append(f"{ve:#x}: reserved slot")
                    continue
                if c.bitmap[i] != d.live:
                    errors.append(f"{ve:#x}: bitmap {c.bitmap[i]} but live {d.live}")
                    continue
                if not d.live:
                    if d.backing or d.cache or d.memcg or d.type != VSWAP_ZERO:
                        errors.append(f"{ve:#x}: free descriptor keeps state")
                    continue
                used += 1
                if swap_cache_is_folio(d.cache):
                    if not d.cached:
                        errors.append(f"{ve:#x}: folio stored without in_swapcache")
                    n = 1 << swap_cache_order(d.cache)
                    base = i & ~(n - 1)
                    if (base, d.cache) not in runs_checked:
                        runs_checked.add((base, d.cache))
                        if any(c.desc[j].cache != d.cache for j in range(base, base + n)):
                            errors.append(f"{ve:#x}: folio run at {base} broken")
                if d.type == VSWAP_ZSWAP:
                    nz += 1
                elif d.type == VSWAP_SWAPFILE:
                    nphys += 1
                    charges[d.memcg] = charges.get(d.memcg, 0) + 1
                    t, slot = d.backing >> SWP_TYPE_SHIFT, d.backing & SWP_OFFSET_MASK
                    si = self._devs[t] if t < MAX_SWAPFILES else None
                    if si is None or slot >= si._max or si._map[slot] != SLOT_USED:
                        errors.append(f"{ve:#x}: physical slot {d.backing:#x} not allocated")
                        continue
                    w = si._table_get(slot)
                    if w & RMAP_MASK != ve:
                        errors.append(f"{ve:#x}: rmap of {d.backing:#x} is {w:#x}")
                    want = self._opt_cache_only_bit and d.count == 0 and d.cached
                    if bool(w & SWAP_TABLE_CACHE_ONLY) != want:
                        errors.append(f"{ve:#x}: cache-only bit, expected {want}")
        for k in range(SWAP_NR_ORDERS):
            for c in self._partial[k]:
                if not c.on_partial or c.order != k or c.id not in seen:
                    errors.append(f"partial[{k}]: cluster {c.id} misfiled")
        for (cpu, o), c in self._pcp.items():
            if not c.cached or c.order != o or c.id not in seen:
                errors.append(f"pcp[{cpu},{o}]: cluster {c.id} misfiled")
        if len(self._pcp) != sum(1 for _, c in clusters if c.cached):
            errors.append("a cached cluster is not in any per-CPU cache")
        for k, c in enumerate(self._mru):
            if c is not None and c.id not in seen:
                errors.append(f"mru[{k}] names a freed cluster")
        if len(seen) != self._nr_clusters:
            errors.append(f"{len(seen)} clusters in the map, nr_clusters {self._nr_clusters}")
        for t, si in enumerate(self._devs):
            for slot in range(si._max if si is not None else 0):
                if si._map[slot] == SLOT_USED and not si._table_get(slot) & RMAP_MASK:
                    errors.append(f"{t}:{slot}: allocated slot without a reverse map")
        self._check_totals(errors, used, nz, nphys, charges)
        self._swaps.check()

    def snapshot(self):
        """See :meth:`vswap.VirtualSwap.snapshot`."""
        self._check_open()
        clusters, entries = {}, {}
        for cid, c in self._clusters():
            clusters[cid] = (c.order, c.count, c.refcnt, int(c.cached), int(c.full),
                             int(c.on_partial))
            for i, d in enumerate(c.desc):
                if d.live:
                    entries[(cid << SHIFT) + i] = (d.type, d.backing, d.cache, d.count,
                                                   d.memcg, int(d.cached))
        partial = {k: [c.id for c in lst] for k, lst in enumerate(self._partial) if lst}
        pcp = {k: c.id for k, c in sorted(self._pcp.items())}
        return {"clusters": clusters, "entries": entries, "partial": partial, "pcp": pcp,
                "mru": self._mru_ids(), "charge": dict(self._charge), **self._snapshot_common()}
