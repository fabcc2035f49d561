"""Pure-Python reference model of Virtual Swap Space, Swap Table Edition (mirrors ``_ste.pyx``).

Same API, results, exceptions and counters as :class:`vswap.SwapTableEdition`
and the same algorithm step by step, over the reference allocator and the
reference :class:`~vswap.reference.XArray` as the ghost device's cluster
map. Internal state carries the compiled fields' names. Slow and meant for
testing and reading; the compiled module is the one to use.

>>> from vswap.reference import SwapTableEdition, SwapDevice, SwapDevices
>>> ste = SwapTableEdition(SwapDevices([SwapDevice(256, cluster_size=16)]))
>>> e = ste.folio_alloc_swap(folio=7)
>>> ste.swap_duplicate(e); hex(e), ste.swap_count(e), ste.lookup(e)
('0x7c00000000000001', 1, Lookup(kind='folio', handle=7))
"""

from vswap.errors import EntryExists, NoEntry, NoSpace
from vswap.protocol import LOOKUP_KINDS, Lookup, SwapSpace, check_memcg_ids
from vswap.protocol import check_uint64_array as _as_entries
from vswap.reference.common import to_u64
from vswap.reference.clustermap import cluster_map_get
from vswap.reference.swapfile import (SLOT_USED, SWAP_TABLE_CACHE_ONLY, SwapDesign,
                                      SwapDevices, SwapFreeBatch, swap_device_detach)
from vswap.reference.swaptable import (P4_CLUSTER_INFO_BYTES, P4_FOLIO_MAX, P4_SHADOW_MAX,
                                       SWP_TB_COUNT_MAX, SWP_TB_COUNT_SHIFT, SWP_TB_PAYLOAD,
                                       SWP_TB_PIN, SWP_TB_RMAP, SWP_TB_ZERO, SwapTableP4)
from vswap.reference.virtual_common import SHIFT, SIZE, ClusterHead, VirtualCommon
from vswap.swapentry import (SWP_TB_TAG_MASK, XA_NODE_KERNEL_BYTES, MAX_SWAPFILES, SWAP_NR_ORDERS, SWP_OFFSET_MASK,
                             SWP_TYPE_SHIFT, VSWAP_FOLIO, VSWAP_SWAPFILE, VSWAP_ZERO, VSWAP_ZSWAP,
                             swap_cache_folio, swap_cache_folio_id, swap_cache_is_folio,
                             swap_cache_order)

__all__ = ["SwapTableEdition", "STE_SWITCHES", "STE_RFCS", "VSWAP_TYPE", "VT_NONE", "VT_PHYS", "VT_ZERO",
           "VT_ZSWAP", "VT_FOLIO", "VT_ZSWAP_V2", "STE_HANDLE_MAX", "STE_MAX_CLUSTERS", "STE_V2_MAX_CLUSTERS",
           "STE_CLUSTER_BYTES"]

#: The ghost device's swap type: the last one (the physical devices take 0 .. 30).
VSWAP_TYPE = MAX_SWAPFILES - 1
#: The virtual_table word's tags (its low 3 bits) [STE].
VT_NONE, VT_PHYS, VT_ZERO, VT_ZSWAP, VT_FOLIO = 0, 1, 2, 3, 4
#: RFC v2's ZSWAP tag (its tags: NONE 000, PHYS 001, ZSWAP 010).
VT_ZSWAP_V2 = 2
VT_TAG_BITS = 3
#: A zswap handle (the zswap_entry pointer) shares the word with the tag.
STE_HANDLE_MAX = 1 << (64 - VT_TAG_BITS)
#: The ghost si->max cap, ALIGN_DOWN(UINT_MAX, 512) slots, in clusters [STE].
STE_MAX_CLUSTERS = 0xFFFFFFFF // SIZE
#: RFC v2's cap (see :data:`vswap._ste.STE_V2_MAX_CLUSTERS`).
STE_V2_MAX_CLUSTERS = (1 << 41) // SIZE
#: ``swap_cluster_info_dynamic``: the 48 B cluster, the xarray index, an rcu_head and
#: the virtual_table pointer [derived from the STE cover's field list].
STE_CLUSTER_BYTES = P4_CLUSTER_INFO_BYTES + 8 + 16 + 8
STE_SWITCHES = ("shared_cluster_cache", "lookup_cache")
#: The RFC versions modelled (see :attr:`vswap.SwapTableEdition.rfc`).
STE_RFCS = (1, 2)
COUNT_LIMIT = 0xFFFFFFFF
# A ghost slot that is never handed out (the device's header slot, offset 0).
TB_HEADER = SWAP_TABLE_CACHE_ONLY
RMAP_MASK = SWAP_TABLE_CACHE_ONLY - 1
_COUNT_MASK = SWP_TB_COUNT_MAX << SWP_TB_COUNT_SHIFT
# VC_CACHED: held by a per-CPU virtual cluster cache; VC_NONFULL: on nonfull[order];
# VC_FULL: neither (no aligned run of its order left when it was last searched).
VC_CACHED, VC_NONFULL, VC_FULL = 1, 2, 3
_MAP_STATS = ("lookups", "node_visits", "lookup_hits", "lookup_misses")
_STAT_NAMES = ("lookups", "node_visits", "lookup_hits", "lookup_misses", "table_reads",
               "table_writes", "vtable_reads", "vtable_writes", "memcg_writes", "cluster_locks",
               "rmap_reads", "rmap_writes", "alloc_scans", "vcache_hits", "vcache_misses",
               "pcp_invalidations", "slots_freed", "folios_reclaimed", "phys_allocs",
               "direct_allocs", "phys_frees", "scans", "clusters_allocated", "clusters_freed",
               "extend_tables_allocated", "zswap_walks")


def _vt_phys(slot):
    return ((slot & SWP_OFFSET_MASK) << 8) | ((slot >> SWP_TYPE_SHIFT) << VT_TAG_BITS) | VT_PHYS


def _vt_phys_slot(w):
    return (((w >> VT_TAG_BITS) & 31) << SWP_TYPE_SHIFT) | (w >> 8)


def _field(w):
    return (w >> SWP_TB_COUNT_SHIFT) & SWP_TB_COUNT_MAX


class _VCluster(ClusterHead):
    """``swap_cluster_info_dynamic``: a ghost cluster and its three tables."""

    def __init__(self, cid, order):
        super().__init__(cid, order)
        self.state = VC_FULL
        self.table = [0] * SIZE
        self.vtable = [0] * SIZE
        self.memcg = [0] * SIZE
        self.ext = None


class SwapTableEdition(VirtualCommon, SwapSpace):
    """Virtual Swap Space, Swap Table Edition; see :class:`vswap.SwapTableEdition`.

    Runtime complexity: construction O(physical slots).

    >>> from vswap.reference import SwapTableEdition
    >>> ste = SwapTableEdition(); ste.swap_cache_get_folio(ste.folio_alloc_swap(5))
    5
    """

    entry_is_slot = False                # SwapSpace.entry_is_slot: a ghost entry
    swapin_bypasses_swap_cache = False   # SwapSpace.swapin_bypasses_swap_cache: on phase II: no bypass
    _ghost_type = VSWAP_TYPE
    _cluster_info_bytes = P4_CLUSTER_INFO_BYTES

    def __init__(self, swaps=None, *, shared_cluster_cache=False, lookup_cache=False,
                 max_clusters=None, direct_memcgs=(), rfc=2):
        self._direct = SwapTableP4.__new__(SwapTableP4)
        if rfc not in STE_RFCS or isinstance(rfc, bool):
            raise ValueError(f"rfc must be one of {STE_RFCS}, not {rfc!r}")
        cap = STE_MAX_CLUSTERS if rfc == 1 else STE_V2_MAX_CLUSTERS
        mc = cap if max_clusters is None else to_u64(max_clusters, cap + 1, "max_clusters")
        if mc == 0:
            raise ValueError("max_clusters must be at least 1")
        direct = check_memcg_ids(direct_memcgs)
        swaps = SwapDevices() if swaps is None else swaps
        if isinstance(swaps, SwapDevices) and len(swaps._devices) > VSWAP_TYPE:
            raise ValueError(f"at most {VSWAP_TYPE} physical devices: type {VSWAP_TYPE} is vswap's")
        self._claim(swaps)
        self._direct._hosted_by(self)
        self._direct_memcg = frozenset(direct)
        self._virtual_init(mc)
        self._nonfull = [[] for _ in range(SWAP_NR_ORDERS)]
        self._vpcp = {}
        self._nr_ext = 0
        self._opt_shared = bool(shared_cluster_cache)
        self._opt_lookup_cache = bool(lookup_cache)
        self._rfc = int(rfc)
        self._vt_zswap = VT_ZSWAP if self._rfc == 1 else VT_ZSWAP_V2
        self._vt_max = VT_FOLIO if self._rfc == 1 else VT_ZSWAP_V2
        self._st = dict.fromkeys(_STAT_NAMES, 0)
        self._sync_devices()

    # -- helpers (the compiled module's C functions) ---------------------------------------

    def _attach(self, t, si):
        if t >= VSWAP_TYPE:
            raise ValueError(f"device type {t} is vswap's ghost device")
        SwapDesign._attach(self, t, si)
        try:
            self._direct._attach(t, si)
        except BaseException:
            swap_device_detach(si, self)
            raise
        self._devs[t] = si

    def _drop_devices(self):
        self._devs = [None] * MAX_SWAPFILES
        self._direct._release_devices()

    def _is_direct(self, entry):
        e = to_u64(entry, 1 << 63, "swap entry")
        self._check_open()
        if e >> SWP_TYPE_SHIFT == VSWAP_TYPE:
            return False
        self._sync_devices()
        return True

    def _cluster(self, cid):
        return cluster_map_get(self._map, cid, self._st, _MAP_STATS,
                               self._mru if self._opt_lookup_cache else None, self._cpu)

    @staticmethod
    def _live_word(w):
        return w != 0 and w != TB_HEADER

    def _peek(self, voff):
        """The cluster of a live slot, or None (no counters: the validation pass)."""
        c = self._map._load(voff >> SHIFT)
        if c is None or not self._live_word(c.table[voff & (SIZE - 1)]):
            return None
        return c

    def _live(self, voff):
        c = self._peek(voff)
        if c is None:
            raise NoEntry(f"swap entry {(VSWAP_TYPE << SWP_TYPE_SHIFT) | voff:#x} is not allocated")
        return c

    def _range(self, entry, nr, aligned):
        """The virtual offset of ``entry``: ValueError unless a run of vswap's device."""
        e = to_u64(entry, 1 << 63, "swap entry")
        self._check_open()
        if nr == 0:
            raise ValueError("nr must be at least 1")
        if e >> SWP_TYPE_SHIFT != VSWAP_TYPE:
            raise ValueError(f"swap entry {e:#x}: type {e >> SWP_TYPE_SHIFT} is not vswap's "
                             f"({VSWAP_TYPE})")
        v = e & SWP_OFFSET_MASK
        vmax = self._max_clusters << SHIFT
        if v >= vmax or nr > vmax - v:
            raise ValueError(f"swap entry {e:#x}: {nr} entries pass the ghost device's end {vmax}")
        if aligned and v & (nr - 1):
            raise ValueError(f"swap entry {e:#x} is not aligned to {nr} entries")
        return v

    @staticmethod
    def _entry(voff):
        return (VSWAP_TYPE << SWP_TYPE_SHIFT) | voff

    # the table word's count (4 bits, the extend table above 14)

    def _count(self, c, i):
        n = _field(c.table[i])
        return c.ext[i] if n == SWP_TB_COUNT_MAX else n

    def _ext_need(self, c, n):
        if n >= SWP_TB_COUNT_MAX and c.ext is None:
            c.ext = [0] * SIZE
            self._nr_ext += 1
            self._st["extend_tables_allocated"] += 1

    def _set_count(self, c, i, n):
        w = c.table[i] & ~_COUNT_MASK
        if n >= SWP_TB_COUNT_MAX:
            c.ext[i] = n
            n = SWP_TB_COUNT_MAX
        elif c.ext is not None:
            c.ext[i] = 0
        c.table[i] = w | (n << SWP_TB_COUNT_SHIFT)

    def _slot_cache_only(self, c, i):
        return c.table[i] & SWP_TB_PIN and _field(c.table[i]) == 0

    # nonfull lists and cluster lifetime

    def _nonfull_add(self, c):
        self._nonfull[c.order].append(c)
        c.state = VC_NONFULL

    def _destroy(self, c):
        if c.state == VC_NONFULL:
            self._nonfull[c.order].remove(c)
        if c.ext is not None:
            self._nr_ext -= 1
        self._cluster_forget(c)

    def _after_free(self, c):
        if c.count == 0 and c.state != VC_CACHED:
            self._destroy(c)
        elif c.state == VC_FULL:
            self._nonfull_add(c)

    # backing release (BackingFrees: _pb_add, _pb_flush)

    def _release(self, c, i, b):
        """Drop slot ``i``'s backing (its virtual_table word becomes NONE; v2: the zero bit goes)."""
        c.table[i] &= ~SWP_TB_ZERO
        w = c.vtable[i]
        tag = w & SWP_TB_TAG_MASK
        if tag == VT_PHYS:
            self._pb_add(b, _vt_phys_slot(w))
            self._charge_sub(c.memcg[i])
        elif tag == self._vt_zswap:
            self._nr_zswap -= 1
            if self._rfc < 2:           # v1: zswap_invalidate erases it from zswap's tree
                self._st["zswap_walks"] += 1
        c.vtable[i] = VT_NONE

    def _free_run(self, c, idx, n):
        b = SwapFreeBatch()
        for i in range(idx, idx + n):
            self._release(c, i, b)
            c.table[i] = 0
            c.memcg[i] = 0
            if c.ext is not None:
                c.ext[i] = 0
        self._pb_flush(b)
        self._st["table_writes"] += n
        self._st["vtable_writes"] += n
        self._st["memcg_writes"] += n
        c.count -= n
        self._nr_used -= n
        self._st["slots_freed"] += n

    def _rmap_mark(self, c, i, on):
        w = c.vtable[i]
        slot = _vt_phys_slot(w)
        si = self._devs[slot >> SWP_TYPE_SHIFT]
        off = slot & SWP_OFFSET_MASK
        tb = si._cluster_info[off >> si._cluster_shift].table
        k = off & (si._cluster_size - 1)
        tb[k] = (tb[k] | SWAP_TABLE_CACHE_ONLY) if on else (tb[k] & RMAP_MASK)
        self._st["rmap_writes"] += 1

    # allocation: the per-CPU virtual cluster cache, nonfull lists, new clusters

    def _find_run(self, c, nr):
        self._st["alloc_scans"] += 1
        for i in range(0, SIZE, nr):
            if not any(c.table[i:i + nr]):
                return i
        return SIZE

    def _take(self, c, idx, nr, folio, order, memcg):
        w = SWP_TB_PIN | swap_cache_folio(folio, order)
        for i in range(idx, idx + nr):
            c.table[i] = w
            if self._rfc < 2:       # v2: the folio is the swap table's, the word stays NONE
                c.vtable[i] = (folio << VT_TAG_BITS) | VT_FOLIO
            c.memcg[i] = memcg
        self._st["table_writes"] += nr
        if self._rfc < 2:
            self._st["vtable_writes"] += nr
        self._st["memcg_writes"] += nr
        c.count += nr
        self._nr_used += nr

    def _new_cluster(self, order):
        c = _VCluster(0, order)
        if not self._cluster_insert(c, order):
            return None
        if c.id == 0:
            for i in range(1 << order):
                c.table[i] = TB_HEADER
            c.count = 1 << order
        return c

    def _uncache(self, key):
        c = self._vpcp.pop(key)
        c.state = VC_FULL
        self._after_free(c) if c.count == 0 else self._nonfull_add(c)

    def _phys_cache_drop(self, cpu, order):
        """Shared cache: a virtual allocation takes the CPU's slot from the physical cluster."""
        g = self._swaps._g
        if g.pcp_si[cpu][order] is not None and g.pcp_offset[cpu][order]:
            self._st["pcp_invalidations"] += 1
        g.pcp_si[cpu][order] = None
        g.pcp_offset[cpu][order] = 0

    def _alloc(self, folio, order, memcg, cpu):
        nr = 1 << order
        key = (cpu, order)
        if self._opt_shared:
            self._phys_cache_drop(cpu, order)
        c = self._vpcp.get(key)
        if c is not None:
            self._st["cluster_locks"] += 1
            idx = self._find_run(c, nr)
            if idx < SIZE:
                self._st["vcache_hits"] += 1
                self._take(c, idx, nr, folio, order, memcg)
                return self._entry((c.id << SHIFT) + idx)
            del self._vpcp[key]
            c.state = VC_FULL
        self._st["vcache_misses"] += 1
        c = None
        idx = SIZE
        while self._nonfull[order]:
            c = self._nonfull[order].pop(0)
            c.state = VC_FULL
            self._st["cluster_locks"] += 1
            idx = self._find_run(c, nr)
            if idx < SIZE:
                break
            c = None
        if c is None:
            c = self._new_cluster(order)
            if c is None:                # the ids ran out (counted in alloc_reject)
                return 0
            self._st["cluster_locks"] += 1
            idx = self._find_run(c, nr)
        self._take(c, idx, nr, folio, order, memcg)
        c.state = VC_CACHED
        self._vpcp[key] = c
        return self._entry((c.id << SHIFT) + idx)

    # counts and the free paths

    def _dup_pass(self, v, n):
        for c, cur, ce in self._locked_chunks(v, v + n):
            for k in range(cur, ce):
                i = k & (SIZE - 1)
                cnt = self._count(c, i)
                self._ext_need(c, cnt + 1)
                if cnt == 0 and c.vtable[i] & SWP_TB_TAG_MASK == VT_PHYS:
                    self._rmap_mark(c, i, False)
                self._set_count(c, i, cnt + 1)
            self._st["table_reads"] += ce - cur
            self._st["table_writes"] += ce - cur

    def _put_pass(self, v, n):
        """Drop one count per slot; free the uncached ones in runs. True if one is cache-only."""
        only = False
        for c, cur, ce in self._locked_chunks(v, v + n):
            run = nrun = 0
            for k in range(cur, ce):
                i = k & (SIZE - 1)
                cnt = self._count(c, i) - 1
                self._set_count(c, i, cnt)
                if cnt == SWP_TB_COUNT_MAX - 1 and not any(c.ext):
                    c.ext = None          # no count past 14 left: phase III frees it
                    self._nr_ext -= 1
                if cnt == 0 and not c.table[i] & SWP_TB_PIN:
                    if nrun == 0:
                        run = i
                    nrun += 1
                    continue
                if cnt == 0:
                    self._st["vtable_reads"] += 1
                    if c.vtable[i] & SWP_TB_TAG_MASK == VT_PHYS:
                        self._rmap_mark(c, i, True)
                    only = True
                if nrun:
                    self._free_run(c, run, nrun)
                    nrun = 0
            self._st["table_reads"] += ce - cur
            self._st["table_writes"] += ce - cur
            if nrun:
                self._free_run(c, run, nrun)
            self._after_free(c)
        return only

    def _reclaim_folio(self, c, idx, phys_at=0):
        """(pages freed / minus kept / 0, physical run from phys_at)."""
        w = c.table[idx]
        self._st["cluster_locks"] += 1
        self._st["table_reads"] += 1
        if not self._live_word(w) or not swap_cache_is_folio(w & SWP_TB_PAYLOAD):
            return 0, 0
        n = 1 << swap_cache_order(w & SWP_TB_PAYLOAD)
        base = idx & ~(n - 1)
        ve = (c.id << SHIFT) + base
        if ve < self._locked_hi and ve + n > self._locked_lo:
            return -n, 0
        self._st["table_reads"] += n
        if any(self._count(c, i) for i in range(base, base + n)):
            return -n, 0
        run = 0
        self._st["vtable_reads"] += n
        for i in range(base, base + n):
            x = c.vtable[i]
            if phys_at and x & SWP_TB_TAG_MASK == VT_PHYS and _vt_phys_slot(x) == phys_at + run:
                run += 1
        self._free_run(c, base, n)
        self._st["folios_reclaimed"] += 1
        self._after_free(c)
        return n, run

    def _fsc(self, v, n):
        if not self._put_pass(v, n):
            return
        cur, end = v, v + n
        while cur < end:
            step = 1
            c = self._cluster(cur >> SHIFT)
            if c is not None:
                i = cur & (SIZE - 1)
                self._st["table_reads"] += 1
                if self._live_word(c.table[i]) and self._slot_cache_only(c, i):
                    r = abs(self._reclaim_folio(c, i)[0])
                    if r > 0:
                        step = ((cur + r) & ~(r - 1)) - cur
            cur += step

    # the physical allocator's reclaim hook

    def _rmap_target(self, si, offset):
        """(cluster, index) of the ghost slot a physical slot's rmap word names, or None."""
        self._st["rmap_reads"] += 1
        w = si._table_get(offset) & RMAP_MASK
        if w & SWP_TB_TAG_MASK != SWP_TB_RMAP:
            return None
        voff = w >> VT_TAG_BITS
        c = self._cluster(voff >> SHIFT)
        if c is None:
            return None
        i = voff & (SIZE - 1)
        self._st["vtable_reads"] += 1
        if (not self._live_word(c.table[i])
                or c.vtable[i] != _vt_phys((si._type << SWP_TYPE_SHIFT) | offset)):
            return None
        return c, i

    def _reclaim_hook(self, si, offset):
        t = si._type
        if t < 0 or t >= VSWAP_TYPE or self._devs[t] is not si:
            return 0
        if offset < si._max and si._map[offset] == SLOT_USED and \
                si._table_get(offset) & SWP_TB_TAG_MASK != SWP_TB_RMAP:
            return self._direct._reclaim_hook(si, offset)   # a direct-mapped slot: phase IV's
        hit = self._rmap_target(si, offset)
        if hit is None:
            return 0
        r, run = self._reclaim_folio(hit[0], hit[1], (t << SWP_TYPE_SHIFT) | offset)
        if r > 0:
            return run if run > 0 else 1
        return -1 if r < 0 else 0

    def _kind(self, c, i):
        w = c.table[i] & SWP_TB_PAYLOAD
        if swap_cache_is_folio(w):
            return VSWAP_FOLIO, swap_cache_folio_id(w)
        if c.table[i] & SWP_TB_ZERO:
            return VSWAP_ZERO, 0
        x = c.vtable[i]
        tag = x & SWP_TB_TAG_MASK
        if tag == VT_PHYS:
            return VSWAP_SWAPFILE, _vt_phys_slot(x)
        if tag == self._vt_zswap:
            if self._rfc < 2:       # v1: zswap_load finds it in zswap's own tree
                self._st["zswap_walks"] += 1
            return VSWAP_ZSWAP, x >> VT_TAG_BITS
        if tag == VT_ZERO:          # v1 (v2's ZSWAP has this value)
            return VSWAP_ZERO, 0
        return VSWAP_FOLIO, x >> VT_TAG_BITS          # FOLIO, or NONE (0)

    # -- configuration ----------------------------------------------------------------------

    @property
    def switches(self):
        """See :attr:`vswap.SwapTableEdition.switches`."""
        return {"shared_cluster_cache": self._opt_shared, "lookup_cache": self._opt_lookup_cache}

    @property
    def rfc(self):
        """See :attr:`vswap.SwapTableEdition.rfc`."""
        return self._rfc

    @property
    def direct_memcgs(self):
        """See :attr:`vswap.SwapTableEdition.direct_memcgs`."""
        return tuple(sorted(self._direct_memcg))

    # -- allocation and counts ----------------------------------------------------------------

    def folio_alloc_swap(self, folio, order=0, memcg=0, cpu=0):
        """See :meth:`vswap.SwapTableEdition.folio_alloc_swap`."""
        f = to_u64(folio, P4_FOLIO_MAX, "folio")
        o, m, c = self._alloc_prepare(order, memcg, cpu)
        e = self._alloc_any(f, o, m, c)
        if e == 0:
            if m in self._direct_memcg:
                raise NoSpace(f"no free order-{o} range on any swap device")
            raise NoSpace(f"no ghost cluster id left for an order-{o} run")
        return e

    def folio_alloc_swap_many(self, folios, order=0, memcg=0, cpu=0):
        """See :meth:`vswap.SwapTableEdition.folio_alloc_swap_many`."""
        arr = _as_entries(folios, "folios")
        for f in arr.tolist():
            if f >= P4_FOLIO_MAX:
                raise ValueError(f"folio {f} is outside 0 .. {P4_FOLIO_MAX - 1}")
        return SwapDesign.folio_alloc_swap_many(self, arr, order, memcg, cpu)

    def _alloc_any(self, f, o, m, c):
        # folio_alloc_swap's choice: ghost entries, or a direct-mapped physical run
        if m not in self._direct_memcg:
            return self._alloc(f, o, m, c)
        if self._cluster_size and (1 << o) > self._cluster_size:
            return 0
        k = (c, o)
        if self._opt_shared and k in self._vpcp:
            self._st["pcp_invalidations"] += 1
            self._uncache(k)
        e = self._direct._alloc_one(f, 1 << o, m, c)
        if e:
            self._st["direct_allocs"] += 1
        return e

    def _alloc_entry(self, f, o, m, c):
        return self._alloc_any(f, o, m, c)

    def _dup_entry(self, e):
        if e >> SWP_TYPE_SHIFT != VSWAP_TYPE:
            return self._direct._dup_entry(e)
        self._dup_pass(e & SWP_OFFSET_MASK, 1)

    def _free_entry(self, e):
        if e >> SWP_TYPE_SHIFT != VSWAP_TYPE:
            return self._direct._free_entry(e)
        self._put_pass(e & SWP_OFFSET_MASK, 1)

    def _fsc_entries(self, e, nr):
        if e >> SWP_TYPE_SHIFT != VSWAP_TYPE:
            return self._direct._fsc_entries(e, nr)
        self._fsc(e & SWP_OFFSET_MASK, nr)

    def _zswap_entry(self, e, h):
        if e >> SWP_TYPE_SHIFT != VSWAP_TYPE:
            return self._direct._zswap_entry(e, h)
        self._zswap_put(e & SWP_OFFSET_MASK, h)

    def swap_duplicate(self, entry, nr=1):
        """See :meth:`vswap.SwapTableEdition.swap_duplicate`."""
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.swap_duplicate(entry, nr)
        n = to_u64(nr, 1 << SWP_TYPE_SHIFT, "nr")
        v = self._range(entry, n, False)
        for k in range(v, v + n):
            c = self._live(k)
            if self._count(c, k & (SIZE - 1)) >= COUNT_LIMIT:
                raise NoSpace(f"swap count of {self._entry(k):#x} would pass 2**32-1")
        self._dup_pass(v, n)

    def _batch_entry(self, e):
        if e >> SWP_TYPE_SHIFT != VSWAP_TYPE:     # direct-mapped: phase IV's checks
            return self._direct._batch_entry(e)
        self._live(self._range(e, 1, False))

    def _batch_count(self, e, k, need_count, dup):
        if e >> SWP_TYPE_SHIFT != VSWAP_TYPE:
            return self._direct._batch_count(e, k, need_count, dup)
        v = e & SWP_OFFSET_MASK
        cnt = self._count(self._peek(v), v & (SIZE - 1))
        if dup and cnt + k > COUNT_LIMIT:
            raise NoSpace(f"swap count of {e:#x} would pass 2**32-1")
        if need_count and cnt < k:
            raise NoEntry(f"swap entry {e:#x} has a swap count of 0")

    def _check_counted(self, v, n):
        for k in range(v, v + n):
            c = self._peek(k)
            if c is None or self._count(c, k & (SIZE - 1)) == 0:
                raise NoEntry(f"swap entry {self._entry(k):#x} is free or has a swap count of 0")

    def swap_free_nr(self, entry, nr=1):
        """See :meth:`vswap.SwapTableEdition.swap_free_nr`."""
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.swap_free_nr(entry, nr)
        n = to_u64(nr, 1 << SWP_TYPE_SHIFT, "nr")
        v = self._range(entry, n, False)
        self._check_counted(v, n)
        self._put_pass(v, n)

    def free_swap_and_cache_nr(self, entry, nr=1):
        """See :meth:`vswap.SwapTableEdition.free_swap_and_cache_nr`."""
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.free_swap_and_cache_nr(entry, nr)
        n = to_u64(nr, 1 << SWP_TYPE_SHIFT, "nr")
        v = self._range(entry, n, False)
        self._check_counted(v, n)
        self._fsc(v, n)

    def _read(self, entry):
        v = self._range(entry, 1, False)
        self._live(v)
        c = self._cluster(v >> SHIFT)
        self._st["table_reads"] += 1
        return c, v & (SIZE - 1)

    def swap_count(self, entry):
        """See :meth:`vswap.SwapTableEdition.swap_count`."""
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.swap_count(entry)
        c, i = self._read(entry)
        return self._count(c, i)

    def memcg_id(self, entry):
        """See :meth:`vswap.SwapTableEdition.memcg_id`."""
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.memcg_id(entry)
        c, i = self._read(entry)
        return c.memcg[i]

    # -- the swap cache -----------------------------------------------------------------------

    def swapcache_prepare(self, entry, nr=1):
        """See :meth:`vswap.SwapTableEdition.swapcache_prepare`."""
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.swapcache_prepare(entry, nr)
        n = to_u64(nr, 1 << SWP_TYPE_SHIFT, "nr")
        v = self._range(entry, n, False)
        end = v + n
        for k in range(v, end):
            c = self._live(k)
            if c.table[k & (SIZE - 1)] & SWP_TB_PIN:
                raise EntryExists(f"swap entry {self._entry(k):#x} is already in the swap cache")
        for c, cur, ce in self._locked_chunks(v, end):
            for k in range(cur, ce):
                c.table[k & (SIZE - 1)] |= SWP_TB_PIN
            self._st["table_writes"] += ce - cur

    def swap_cache_add_folio(self, entry, folio, order=0):
        """See :meth:`vswap.SwapTableEdition.swap_cache_add_folio`."""
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.swap_cache_add_folio(entry, folio, order)
        f = to_u64(folio, P4_FOLIO_MAX, "folio")
        o = to_u64(order, SWAP_NR_ORDERS, "order")
        nr = 1 << o
        v = self._range(entry, nr, True)
        for k in range(v, v + nr):
            w = self._live(k).table[k & (SIZE - 1)]
            if not w & SWP_TB_PIN:
                raise ValueError(f"swap entry {self._entry(k):#x} was not prepared by "
                                 "swapcache_prepare")
            if swap_cache_is_folio(w & SWP_TB_PAYLOAD):
                raise EntryExists(f"swap entry {self._entry(k):#x} already holds a folio")
        c = self._cluster(v >> SHIFT)
        self._st["cluster_locks"] += 1
        base = v & (SIZE - 1)
        first = c.table[base] & SWP_TB_PAYLOAD
        fw = swap_cache_folio(f, o)
        for i in range(base, base + nr):
            c.table[i] = (c.table[i] & ~SWP_TB_PAYLOAD) | fw
        self._st["table_reads"] += nr
        self._st["table_writes"] += nr
        return (first >> 1) if first & 1 else None

    def swap_cache_del_folio(self, entry, order=0, shadow=None):
        """See :meth:`vswap.SwapTableEdition.swap_cache_del_folio`."""
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.swap_cache_del_folio(entry, order, shadow)
        o = to_u64(order, SWAP_NR_ORDERS, "order")
        nr = 1 << o
        v = self._range(entry, nr, True)
        sw = 0
        if shadow is not None:
            sw = (to_u64(shadow, P4_SHADOW_MAX, "shadow") << 1) | 1
        w0 = self._live(v).table[v & (SIZE - 1)] & SWP_TB_PAYLOAD
        if not swap_cache_is_folio(w0) or (1 << swap_cache_order(w0)) != nr:
            raise NoEntry(f"swap entry {self._entry(v):#x} holds no folio of {nr} pages")
        for k in range(v, v + nr):
            c = self._peek(k)
            if c is None or c.table[k & (SIZE - 1)] & SWP_TB_PAYLOAD != w0:
                raise NoEntry(f"swap entry {self._entry(v):#x} holds no folio of {nr} pages")
        c = self._cluster(v >> SHIFT)
        self._st["cluster_locks"] += 1
        base = v & (SIZE - 1)
        for i in range(base, base + nr):
            c.table[i] = (c.table[i] & ~SWP_TB_PAYLOAD) | sw
        self._st["table_writes"] += nr

    def swap_cache_get_folio(self, entry):
        """See :meth:`vswap.SwapTableEdition.swap_cache_get_folio`."""
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.swap_cache_get_folio(entry)
        c, i = self._read(entry)
        w = c.table[i] & SWP_TB_PAYLOAD
        return swap_cache_folio_id(w) if swap_cache_is_folio(w) else None

    def swap_cache_get_shadow(self, entry):
        """See :meth:`vswap.SwapTableEdition.swap_cache_get_shadow`."""
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.swap_cache_get_shadow(entry)
        c, i = self._read(entry)
        w = c.table[i] & SWP_TB_PAYLOAD
        return (w >> 1) if w & 1 else None

    def put_swap_folio(self, entry, order=0):
        """See :meth:`vswap.SwapTableEdition.put_swap_folio`."""
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.put_swap_folio(entry, order)
        o = to_u64(order, SWAP_NR_ORDERS, "order")
        nr = 1 << o
        v = self._range(entry, nr, True)
        all_only = True
        for k in range(v, v + nr):
            c = self._peek(k)
            w = c.table[k & (SIZE - 1)] if c is not None else 0
            if not w & SWP_TB_PIN:
                raise NoEntry(f"swap entry {self._entry(k):#x} is not in the swap cache")
            if swap_cache_is_folio(w & SWP_TB_PAYLOAD):
                raise EntryExists(f"swap entry {self._entry(k):#x} still holds a folio")
            if self._count(c, k & (SIZE - 1)):
                all_only = False
        c = self._cluster(v >> SHIFT)
        self._st["cluster_locks"] += 1
        base = v & (SIZE - 1)
        self._st["table_writes"] += nr
        for i in range(base, base + nr):
            c.table[i] &= ~SWP_TB_PIN
        if all_only:
            self._free_run(c, base, nr)
        else:
            for i in range(base, base + nr):
                if _field(c.table[i]) == 0:
                    self._free_run(c, i, 1)
        self._after_free(c)

    # -- backends -------------------------------------------------------------------------------

    def lookup(self, entry):
        """See :meth:`vswap.SwapTableEdition.lookup`."""
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.lookup(entry)
        c, i = self._read(entry)
        self._st["vtable_reads"] += 1
        k, h = self._kind(c, i)
        return Lookup(LOOKUP_KINDS[k], h)

    def _lookup_into(self, es):
        kinds, handles = [], []
        nv = 0
        for e in es:
            if e >> SWP_TYPE_SHIFT != VSWAP_TYPE:     # direct-mapped: phase IV's lookup
                t = e >> SWP_TYPE_SHIFT
                k, h = self._direct._kind(t, self._direct._devs[t], e & SWP_OFFSET_MASK)
            else:
                v = e & SWP_OFFSET_MASK
                k, h = self._kind(self._cluster(v >> SHIFT), v & (SIZE - 1))
                nv += 1
            kinds.append(k)
            handles.append(h)
        self._st["table_reads"] += nv
        self._st["vtable_reads"] += nv
        return kinds, handles

    def _zero_pass(self, v, n):
        end = v + n
        b = SwapFreeBatch()
        for c, cur, ce in self._locked_chunks(v, end):
            for k in range(cur, ce):
                i = k & (SIZE - 1)
                self._release(c, i, b)
                if self._rfc >= 2:
                    c.table[i] |= SWP_TB_ZERO
                else:
                    c.vtable[i] = VT_ZERO
            self._st["table_writes" if self._rfc >= 2 else "vtable_writes"] += ce - cur
        self._pb_flush(b)

    def zero_store(self, entry, nr=1):
        """See :meth:`vswap.SwapTableEdition.zero_store`."""
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.zero_store(entry, nr)
        n = to_u64(nr, 1 << SWP_TYPE_SHIFT, "nr")
        v = self._range(entry, n, False)
        for k in range(v, v + n):
            self._live(k)
        self._zero_pass(v, n)

    def _zswap_put(self, v, h):
        c = self._cluster(v >> SHIFT)
        i = v & (SIZE - 1)
        b = SwapFreeBatch()
        self._st["cluster_locks"] += 1
        self._st["vtable_writes"] += 1
        self._release(c, i, b)
        self._pb_flush(b)
        c.vtable[i] = (h << VT_TAG_BITS) | self._vt_zswap
        self._nr_zswap += 1
        if self._rfc < 2:           # v1: zswap_store also inserts into zswap's tree
            self._st["zswap_walks"] += 1

    def zswap_store(self, entry, handle):
        """See :meth:`vswap.SwapTableEdition.zswap_store`."""
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.zswap_store(entry, handle)
        h = to_u64(handle, STE_HANDLE_MAX, "zswap handle")
        v = self._range(entry, 1, False)
        self._live(v)
        self._zswap_put(v, h)

    def zswap_store_many(self, entries, handles):
        """See :meth:`vswap.SwapTableEdition.zswap_store_many`."""
        harr = _as_entries(handles, "handles")
        for h in harr.tolist():
            if h >= STE_HANDLE_MAX:
                raise ValueError(f"zswap handle {h} is outside 0 .. {STE_HANDLE_MAX - 1}")
        return SwapDesign.zswap_store_many(self, entries, harr)

    def zswap_load(self, entry):
        """See :meth:`vswap.SwapTableEdition.zswap_load`."""
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.zswap_load(entry)
        c, i = self._read(entry)
        self._st["vtable_reads"] += 1
        if self._rfc < 2:           # v1: zswap_load looks in zswap's tree
            self._st["zswap_walks"] += 1
        x = c.vtable[i]
        return x >> VT_TAG_BITS if x & SWP_TB_TAG_MASK == self._vt_zswap else None

    def zswap_invalidate(self, entry):
        """See :meth:`vswap.SwapTableEdition.zswap_invalidate`."""
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.zswap_invalidate(entry)
        c, i = self._read(entry)
        self._st["vtable_reads"] += 1
        if self._rfc < 2:           # v1: the erase from zswap's tree
            self._st["zswap_walks"] += 1
        x = c.vtable[i]
        if x & SWP_TB_TAG_MASK != self._vt_zswap:
            return None
        self._st["cluster_locks"] += 1
        self._st["vtable_writes"] += 1
        self._nr_zswap -= 1
        w = c.table[i] & SWP_TB_PAYLOAD
        c.vtable[i] = ((swap_cache_folio_id(w) << VT_TAG_BITS) | VT_FOLIO
                       if swap_cache_is_folio(w) and self._rfc < 2 else VT_NONE)
        return x >> VT_TAG_BITS

    def _phys_run_of(self, c, base, nr):
        """The first physical slot if the run's words are PHYS and contiguous, else None."""
        x = c.vtable[base]
        if x & SWP_TB_TAG_MASK != VT_PHYS:
            return None
        slot0 = _vt_phys_slot(x)
        for k in range(1, nr):
            if c.vtable[base + k] != _vt_phys(slot0 + k):
                return None
        return slot0

    def writeback(self, entry, order=0):
        """See :meth:`vswap.SwapTableEdition.writeback`."""
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.writeback(entry, order)
        o = to_u64(order, SWAP_NR_ORDERS, "order")
        nr = 1 << o
        v = self._range(entry, nr, True)
        for k in range(v, v + nr):
            self._live(k)
        self._sync_devices()
        c0 = self._peek(v)
        base = v & (SIZE - 1)
        slot0 = self._phys_run_of(c0, base, nr)
        if slot0 is not None:
            self._cluster(v >> SHIFT)
            self._st["vtable_reads"] += nr
            return slot0
        if not self._swaps._devices or nr > next(iter(self._swaps))._cluster_size:
            raise NoSpace(f"no physical device takes an order-{o} run")
        cpu = self._cpu
        if self._opt_shared and (cpu, o) in self._vpcp:
            self._st["pcp_invalidations"] += 1
            self._uncache((cpu, o))
        t, off, si = self._phys_alloc(v, v + nr, o, cpu)
        c = self._cluster(v >> SHIFT)
        self._st["cluster_locks"] += 1
        b = SwapFreeBatch()
        tb = si._cluster_info[off >> si._cluster_shift].table
        for k in range(nr):
            i = base + k
            self._release(c, i, b)
            slot = (t << SWP_TYPE_SHIFT) | (off + k)
            c.vtable[i] = _vt_phys(slot)
            self._charge_add(c.memcg[i])
            w = ((v + k) << VT_TAG_BITS) | SWP_TB_RMAP
            if self._slot_cache_only(c, i):
                w |= SWAP_TABLE_CACHE_ONLY
            tb[(off + k) & (si._cluster_size - 1)] = w
        self._phys_written(b, nr)
        self._st["vtable_writes"] += nr
        self._st["table_reads"] += nr
        return (t << SWP_TYPE_SHIFT) | off

    # -- device-level verbs ----------------------------------------------------------------------

    def swapoff(self, device, page_tables=None):
        """See :meth:`vswap.SwapTableEdition.swapoff`."""
        si = self._device(device)
        t = si._type
        rewritten = 0
        if page_tables is not None or any(self._direct._devs[t].used):
            # direct-mapped entries: the classic walk, validated before any change
            rewritten = self._direct.swapoff(t, {} if page_tables is None else page_tables)
        for off, b in self._unuse_slots(si):
            hit = self._rmap_target(si, off)
            if hit is None:
                continue
            c, i = hit
            self._st["cluster_locks"] += 1
            self._st["vtable_writes"] += 1
            self._st["table_reads"] += 1
            self._release(c, i, b)
            w = c.table[i] & SWP_TB_PAYLOAD
            if swap_cache_is_folio(w):
                if self._rfc < 2:   # v2: the cached folio is the swap table's, NONE stays
                    c.vtable[i] = (swap_cache_folio_id(w) << VT_TAG_BITS) | VT_FOLIO
            else:
                # read into the ghost swap cache: a new folio, named by the virtual offset
                voff = (c.id << SHIFT) + i
                if self._rfc < 2:
                    c.vtable[i] = (voff << VT_TAG_BITS) | VT_FOLIO
                if not c.table[i] & SWP_TB_PIN:
                    c.table[i] = ((c.table[i] & ~SWP_TB_PAYLOAD) | SWP_TB_PIN
                                  | swap_cache_folio(voff, 0))
                    self._st["table_writes"] += 1
        return rewritten

    # -- accounting ------------------------------------------------------------------------------

    def _footprint_virtual(self):
        vcl = self._nr_clusters
        return {"vcluster_info": STE_CLUSTER_BYTES * vcl,
                "cluster_map": self._map.nr_nodes * XA_NODE_KERNEL_BYTES,
                "swap_table": 8 * SIZE * vcl, "virtual_table": 8 * SIZE * vcl,
                "memcg_table": 2 * SIZE * vcl, "extend_table": 4 * SIZE * self._nr_ext,
                "cluster_info": 0, "rmap": 0,
                "zswap_tree": 8 * self._nr_zswap if self._rfc < 2 else 0}

    def _footprint_dev(self, out, t, si):
        n = (sum(1 for u in self._direct._devs[t].used if u) if self._rfc >= 2
             else si._nr_tables)
        out["memcg_table"] += 2 * n * si._cluster_size
        out["extend_table"] += 4 * self._direct._devs[t].nr_ext_tables * si._cluster_size
        out["zswap_tree"] += 8 * self._direct._devs[t].nr_zswap

    @property
    def stats(self):
        """See :attr:`vswap.SwapTableEdition.stats`."""
        out = dict(self._st)
        for k, n in self._direct.stats.items():
            out[k] = out.get(k, 0) + n
        return out

    def reset_stats(self):
        """See :meth:`vswap.SwapTableEdition.reset_stats`."""
        for k in self._st:
            self._st[k] = 0
        self._direct.reset_stats()

    def check(self):
        """See :meth:`vswap.SwapTableEdition.check`."""
        self._check_open()
        errors = []
        used = nz = nphys = next_ = 0
        charges = {}
        seen = {}
        for cid, c in self._clusters():
            seen[cid] = c
            if c.id != cid:
                errors.append(f"cluster {cid}: id {c.id}")
            live = sum(1 for w in c.table if w)
            if live != c.count:
                errors.append(f"cluster {cid}: count {c.count} but {live} slots in use")
            if c.count == 0 and c.state != VC_CACHED:
                errors.append(f"cluster {cid}: empty but still in the map")
            if c.ext is not None:
                next_ += 1
            for i in range(SIZE):
                w, x = c.table[i], c.vtable[i]
                ve = self._entry((cid << SHIFT) + i)
                if w == TB_HEADER:
                    if cid != 0 or x or c.memcg[i]:
                        errors.append(f"{ve:#x}: header slot")
                    continue
                if not w:
                    if x or c.memcg[i] or (c.ext is not None and c.ext[i]):
                        errors.append(f"{ve:#x}: free slot keeps state")
                    continue
                used += 1
                if _field(w) == 0 and not w & SWP_TB_PIN:
                    errors.append(f"{ve:#x}: count 0 outside the swap cache")
                if _field(w) == SWP_TB_COUNT_MAX and (c.ext is None or c.ext[i] < SWP_TB_COUNT_MAX):
                    errors.append(f"{ve:#x}: extend count missing")
                p = w & SWP_TB_PAYLOAD
                if swap_cache_is_folio(p):
                    if not w & SWP_TB_PIN:
                        errors.append(f"{ve:#x}: folio stored outside the swap cache")
                    n = 1 << swap_cache_order(p)
                    b0 = i & ~(n - 1)
                    if any(c.table[j] & SWP_TB_PAYLOAD != p for j in range(b0, b0 + n)):
                        errors.append(f"{ve:#x}: folio run at {b0} broken")
                tag = x & SWP_TB_TAG_MASK
                if w & SWP_TB_ZERO and (self._rfc < 2 or tag != VT_NONE):
                    errors.append(f"{ve:#x}: zero bit with virtual_table word {x:#x} (rfc {self._rfc})")
                if tag > self._vt_max:
                    errors.append(f"{ve:#x}: virtual_table tag {tag}")
                elif tag == self._vt_zswap:
                    nz += 1
                elif tag == VT_PHYS:
                    nphys += 1
                    charges[c.memcg[i]] = charges.get(c.memcg[i], 0) + 1
                    slot = _vt_phys_slot(x)
                    t, off = slot >> SWP_TYPE_SHIFT, slot & SWP_OFFSET_MASK
                    si = self._devs[t]
                    if si is None or off >= si._max or si._map[off] != SLOT_USED:
                        errors.append(f"{ve:#x}: physical slot {slot:#x} not allocated")
                        continue
                    r = si._table_get(off)
                    if r & RMAP_MASK != ((((cid << SHIFT) + i) << VT_TAG_BITS) | SWP_TB_RMAP):
                        errors.append(f"{ve:#x}: rmap of {slot:#x} is {r:#x}")
                    want = bool(self._slot_cache_only(c, i))
                    if bool(r & SWAP_TABLE_CACHE_ONLY) != want:
                        errors.append(f"{ve:#x}: cache-only bit, expected {want}")
        for k in range(SWAP_NR_ORDERS):
            for c in self._nonfull[k]:
                if c.state != VC_NONFULL or c.order != k or seen.get(c.id) is not c:
                    errors.append(f"nonfull[{k}]: cluster {c.id} misfiled")
        for (cpu, o), c in self._vpcp.items():
            if c.state != VC_CACHED or c.order != o or seen.get(c.id) is not c:
                errors.append(f"vpcp[{cpu},{o}]: cluster {c.id} misfiled")
        if len(self._vpcp) != sum(1 for c in seen.values() if c.state == VC_CACHED):
            errors.append("a cached cluster is not in any per-CPU cache")
        if sum(map(len, self._nonfull)) != sum(1 for c in seen.values() if c.state == VC_NONFULL):
            errors.append("a nonfull cluster is not on its list")
        for k, c in enumerate(self._mru):
            if c is not None and seen.get(c.id) is not c:
                errors.append(f"lookup cache [{k}] names a freed cluster")
        if len(seen) != self._nr_clusters or next_ != self._nr_ext:
            errors.append(f"{len(seen)} clusters, nr_clusters {self._nr_clusters}; "
                          f"{next_} extend tables, nr {self._nr_ext}")
        self._check_totals(errors, used, nz, nphys, charges)
        self._direct.check()     # the direct-mapped entries: every other used slot
        self._swaps.check()

    def snapshot(self):
        """See :meth:`vswap.SwapTableEdition.snapshot`."""
        self._check_open()
        clusters, entries = {}, {}
        for cid, c in self._clusters():
            clusters[cid] = (c.order, c.count, c.state, int(c.ext is not None))
            for i in range(SIZE):
                w = c.table[i]
                if self._live_word(w):
                    entries[self._entry((cid << SHIFT) + i)] = (w, c.vtable[i], c.memcg[i],
                                                                self._count(c, i))
        nonfull = {k: [c.id for c in lst] for k, lst in enumerate(self._nonfull) if lst}
        vpcp = {k: c.id for k, c in sorted(self._vpcp.items())}
        charge = dict(self._charge)
        direct = self._direct.snapshot()["devices"]
        for dev in direct.values():
            for _word, _count, memcg, _handle in dev["slots"].values():
                charge[memcg] = charge.get(memcg, 0) + 1
        return {"clusters": clusters, "entries": entries, "nonfull": nonfull, "vpcp": vpcp,
                "lookup_cache": self._mru_ids(), "charge": charge, "direct": direct,
                "direct_memcgs": self.direct_memcgs, **self._snapshot_common()}
