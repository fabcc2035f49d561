"""Virtual Swap Space, Swap Table Edition (STE, RFC of 2026-05-28): :class:`SwapTableEdition`.

Nhat Pham's rebuild of virtual swap on swap table phase IV. The virtual
layer is one *ghost* swap device (type :data:`VSWAP_TYPE`): a swap entry
is ``swp_entry(VSWAP_TYPE, offset)``, and the ghost device's clusters
(``swap_cluster_info_dynamic``) are allocated on demand in an allocating
xarray keyed by cluster id. Each ghost cluster has phase IV's swap table
(count, swap-cache pin, folio or shadow), a memcg_table and a
virtual_table of 8-byte words tagged NONE, PHYS, ZERO, ZSWAP or FOLIO.
Physical slots of the shared cluster allocator are allocated lazily at
writeback; each holds a reverse-map word back to its ghost slot, bit 63
the cache-only bit, so the allocator's reclaim scan and swapoff need no
page-table walk.

Direct-mapped entries (the ``direct_memcgs``' allocations) are physical
slots beside the reverse-map slots on the same devices, and work exactly
as in phase IV: a hosted :class:`vswap.SwapTableP4` runs their verbs.

Switches (every setting gives the same results, only the counted work
differs): ``shared_cluster_cache`` makes virtual and physical allocations
share one per-CPU cluster cache, so each evicts the other's cluster
(``pcp_invalidations`` counts the RFC's ping-pong); ``lookup_cache`` is
vswap v6's per-CPU MRU cluster cache, not yet ported in the RFC (off by
default). The pure-Python twin is :mod:`vswap.reference.ste`.
"""

cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free
from libc.string cimport memset

from vswap._swapops cimport swap_ops, swap_ops_table, OPS_FREE, OPS_NO_SHADOW
from vswap._mem cimport checked_calloc
from vswap._common cimport to_u64
from vswap._virtual_common cimport (
    vcommon_t, vc_list_add, vc_list_del, vc_mru_forget, vc_reclaim_step, vc_alloc_prepare,
    vc_drop_devices, vc_charged, vc_check_totals, vc_snapshot, vc_mru_ids, vc_list_ids,
    vc_ops_entry,
)
from vswap._design cimport SwapDesign, swap_device_detach
from vswap._virtual_base cimport VirtualCommon
from vswap._swapfile cimport (
    SwapDevice, SwapDevices, swap_device_t, swap_alloc_set, swap_table_get, swap_table_set,
    swap_free_batch, swap_batch_add, swap_batch_init, swap_batch_done,
    SWAP_TABLE_CACHE_ONLY, SLOT_USED,
)
from vswap._clustermap cimport cluster_map_get, cluster_map_next
from vswap._swaptable cimport (
    SWP_TB_COUNT_SHIFT, SWP_TB_COUNT_MAX, SWP_TB_PIN, SWP_TB_PAYLOAD, SWP_TB_COUNT_MASK, SWP_TB_ZERO,
    P4_FOLIO_MAX, P4_SHADOW_MAX, P4_CLUSTER_INFO_BYTES, SWP_TB_RMAP, swp_tb_is_rmap,
    SwapTableP4, p4_reclaim,
)
from vswap._slotswap cimport slot_cores
from vswap._swapentry cimport (
    SWP_TYPE_SHIFT, SWP_OFFSET_MASK, VSWAP_ZERO, VSWAP_ZSWAP, VSWAP_SWAPFILE, VSWAP_FOLIO,
    MEMCG_MAX, SWP_TB_TAG_MASK, XA_NODE_KERNEL_BYTES, swap_cache_folio, swap_cache_is_folio, swap_cache_folio_id, swap_cache_order,
)
from vswap._xarray cimport (
    xa_entry, xa_init_flags, xa_destroy, xa_load, xa_erase, xa_alloc, XA_FLAGS_ALLOC,
)

import numpy as np

from vswap.errors import EntryExists, NoEntry, NoSpace
from vswap.protocol import LOOKUP_KINDS, Lookup, SwapSpace, check_memcg_ids
from vswap.protocol import check_uint64_array as as_entries

__all__ = ["SwapTableEdition", "STE_SWITCHES", "STE_RFCS", "VSWAP_TYPE", "STE_HANDLE_MAX",
           "STE_MAX_CLUSTERS", "STE_V2_MAX_CLUSTERS", "STE_CLUSTER_BYTES", "VTABLE_TAGS", "VTABLE_TAGS_V2"]

cdef uint64_t RMAP_MASK = ~SWAP_TABLE_CACHE_ONLY
cdef uint64_t COUNT_LIMIT = 0xFFFFFFFF
# A ghost slot never handed out: offset 0, the device's header slot.
cdef uint64_t TB_HEADER = SWAP_TABLE_CACHE_ONLY
cdef uint64_t MAX_CLUSTERS = 0xFFFFFFFF // STE_VCLUSTER_SIZE
cdef uint64_t V2_MAX_CLUSTERS = (<uint64_t>1 << 41) // STE_VCLUSTER_SIZE
cdef uint64_t HANDLE_LIMIT = <uint64_t>1 << (64 - VT_TAG_BITS)

# VSWAP_TYPE: the ghost device's swap type (the last; the physical devices take 0 .. 30).
globals().update(VSWAP_TYPE=<int>VSWAP_TYPE)
#: Largest zswap handle + 1: the handle shares the virtual_table word with its tag.
STE_HANDLE_MAX = HANDLE_LIMIT
#: The ghost si->max cap of RFC v1, ALIGN_DOWN(UINT_MAX, 512) slots, in clusters [STE].
STE_MAX_CLUSTERS = MAX_CLUSTERS
#: RFC v2's cap: an unsigned long si->max, "about 8 PB" of virtual slots (2**41 slots of
#: 4 KiB), in clusters [since-2026-06, derived].
STE_V2_MAX_CLUSTERS = V2_MAX_CLUSTERS
#: ``swap_cluster_info_dynamic``: phase IV's 48 B cluster, the xarray index, an
#: rcu_head and the virtual_table pointer [derived from the STE cover's field list].
STE_CLUSTER_BYTES = P4_CLUSTER_INFO_BYTES + 8 + 16 + 8
#: The switches, in constructor order.
STE_SWITCHES = ("shared_cluster_cache", "lookup_cache")
#: The RFC versions modelled (the ``rfc`` argument): 1, posted 2026-05-28; 2, posted 2026-06-12.
STE_RFCS = (1, 2)
#: The virtual_table word's tags (its low 3 bits) in RFC v1 [STE].
VTABLE_TAGS = {"NONE": VT_NONE, "PHYS": VT_PHYS, "ZERO": VT_ZERO, "ZSWAP": VT_ZSWAP,
               "FOLIO": VT_FOLIO}
#: RFC v2's three tags [since-2026-06]: zero pages and swap-cached folios have none.
VTABLE_TAGS_V2 = {"NONE": VT_NONE, "PHYS": VT_PHYS, "ZSWAP": VT_ZSWAP_V2}



# --- words ------------------------------------------------------------------------------

cdef inline uint64_t vt_phys(uint64_t slot) noexcept nogil:
    return ((slot & SWP_OFFSET_MASK) << 8) | ((slot >> SWP_TYPE_SHIFT) << VT_TAG_BITS) | VT_PHYS


cdef inline uint64_t vt_phys_slot(uint64_t w) noexcept nogil:
    return (((w >> VT_TAG_BITS) & 31) << SWP_TYPE_SHIFT) | (w >> 8)


cdef inline uint64_t tb_field(uint64_t w) noexcept nogil:
    return (w >> SWP_TB_COUNT_SHIFT) & SWP_TB_COUNT_MAX


cdef inline bint live_word(uint64_t w) noexcept nogil:
    return w != 0 and w != TB_HEADER


cdef inline uint64_t ste_entry(uint64_t voff) noexcept nogil:
    return (<uint64_t>VSWAP_TYPE << SWP_TYPE_SHIFT) | voff


cdef inline uint64_t count_of(const ste_vcluster* c, uint64_t i) noexcept nogil:
    cdef uint64_t n = tb_field(c.table[i])
    return c.ext[i] if n == SWP_TB_COUNT_MAX else n


cdef inline void set_count(ste_vcluster* c, uint64_t i, uint64_t n) noexcept nogil:
    """The slot's count becomes ``n`` (its cluster has an extend table if n >= 15)."""
    cdef uint64_t w = c.table[i] & ~SWP_TB_COUNT_MASK
    if n >= SWP_TB_COUNT_MAX:
        c.ext[i] = <uint32_t>n
        n = SWP_TB_COUNT_MAX
    elif c.ext != NULL:
        c.ext[i] = 0
    c.table[i] = w | (n << SWP_TB_COUNT_SHIFT)


cdef void ext_release(ste_t* v, ste_vcluster* c) noexcept nogil:
    """The extend table goes once no count in it is past 14 (phase III's rule)."""
    cdef uint64_t i
    for i in range(STE_VCLUSTER_SIZE):
        if c.ext[i]:
            return
    free(c.ext)
    c.ext = NULL
    v.nr_ext -= 1


cdef inline bint cache_only(const ste_vcluster* c, uint64_t i) noexcept nogil:
    return (c.table[i] & SWP_TB_PIN) != 0 and tb_field(c.table[i]) == 0


cdef inline uint64_t chunk_end(uint64_t cur, uint64_t end) noexcept nogil:
    cdef uint64_t e = (cur | (STE_VCLUSTER_SIZE - 1)) + 1
    return e if e < end else end


# --- the cluster map and the lookup path ---------------------------------------------------

cdef inline ste_vcluster* ste_cluster(ste_t* v, uint64_t cid) noexcept nogil:
    """The ghost cluster ``cid`` (or NULL): the CPU's lookup cache first when enabled."""
    return <ste_vcluster*>cluster_map_get(
        &v.map, cid, <void**>&v.mru[v.cpu] if v.opt_lookup_cache else NULL, &v.st.lookups,
        &v.st.node_visits, &v.st.lookup_hits, &v.st.lookup_misses)


cdef inline ste_vcluster* ste_peek(ste_t* v, uint64_t voff) noexcept nogil:
    """The cluster of a live slot, or NULL; not counted (the validation pass)."""
    cdef ste_vcluster* c
    if voff >= (v.max_clusters << STE_VCLUSTER_SHIFT):
        return NULL
    c = <ste_vcluster*>xa_load(&v.map, voff >> STE_VCLUSTER_SHIFT)
    if c == NULL or not live_word(c.table[voff & (STE_VCLUSTER_SIZE - 1)]):
        return NULL
    return c


# --- nonfull lists and cluster lifetime ------------------------------------------------------

cdef inline void nonfull_add(ste_t* v, ste_vcluster* c) noexcept nogil:
    cdef ste_list* l = &v.nonfull[c.order]
    vc_list_add(<void**>&l.head, <void**>&l.tail, c)
    c.state = VC_NONFULL


cdef inline void nonfull_del(ste_t* v, ste_vcluster* c) noexcept nogil:
    cdef ste_list* l = &v.nonfull[c.order]
    vc_list_del(<void**>&l.head, <void**>&l.tail, c)
    c.state = VC_FULL


cdef void cluster_destroy(ste_t* v, ste_vcluster* c) noexcept nogil:
    cdef int i
    if c.state == VC_NONFULL:
        nonfull_del(v, c)
    xa_erase(&v.map, c.id)
    vc_mru_forget(v, c)
    if c.ext != NULL:
        v.nr_ext -= 1
        free(c.ext)
    free(c)
    v.nr_clusters -= 1
    v.st.clusters_freed += 1


cdef inline void after_free(ste_t* v, ste_vcluster* c) noexcept nogil:
    if c.count == 0 and c.state != VC_CACHED:
        cluster_destroy(v, c)
    elif c.state == VC_FULL:
        nonfull_add(v, c)


# --- backing release -------------------------------------------------------------------------

ctypedef swap_free_batch pbatch


cdef inline void pb_flush(ste_t* v, pbatch* b) noexcept nogil:
    swap_batch_done(b, &v.st.phys_frees, &v.st.rmap_writes, &v.nr_phys)


cdef inline void pb_add(ste_t* v, pbatch* b, uint64_t slot) noexcept nogil:
    swap_batch_add(b, v.devs[slot >> SWP_TYPE_SHIFT], slot & SWP_OFFSET_MASK)


cdef inline void release(ste_t* v, ste_vcluster* c, uint64_t i, pbatch* b) noexcept nogil:
    """Drop slot ``i``'s backing: its virtual_table word becomes NONE (v2: the zero bit goes)."""
    cdef uint64_t w = c.vtable[i]
    cdef uint64_t tag = w & SWP_TB_TAG_MASK
    c.table[i] &= ~SWP_TB_ZERO          # set only by v2
    if tag == VT_PHYS:
        pb_add(v, b, vt_phys_slot(w))
        v.charge[c.memcg[i]] -= 1
    elif tag == v.vt_zswap:
        v.nr_zswap -= 1
        if v.rfc < 2:                   # v1: zswap_invalidate erases it from zswap's tree
            v.st.zswap_walks += 1
    c.vtable[i] = VT_NONE


cdef void free_run(ste_t* v, ste_vcluster* c, uint64_t idx, uint64_t n) noexcept nogil:
    """swap_entries_free on the ghost device: ``n`` slots from ``idx`` become free."""
    cdef pbatch b
    cdef uint64_t i, run0 = idx & ~((<uint64_t>1 << c.order) - 1)
    swap_batch_init(&b)
    if run0 < c.hint:
        c.hint = <uint16_t>run0
    for i in range(idx, idx + n):
        release(v, c, i, &b)
        c.table[i] = 0
        c.memcg[i] = 0
        if c.ext != NULL:
            c.ext[i] = 0
    pb_flush(v, &b)
    v.st.table_writes += n
    v.st.vtable_writes += n
    v.st.memcg_writes += n
    c.count -= <uint32_t>n
    v.nr_used -= n
    v.st.slots_freed += n


cdef inline void rmap_mark(ste_t* v, ste_vcluster* c, uint64_t i, bint on) noexcept nogil:
    cdef uint64_t slot = vt_phys_slot(c.vtable[i])
    cdef swap_device_t* si = v.devs[slot >> SWP_TYPE_SHIFT]
    cdef uint64_t off = slot & SWP_OFFSET_MASK
    cdef uint64_t w = swap_table_get(si, off)
    swap_table_set(si, off, (w | SWAP_TABLE_CACHE_ONLY) if on else (w & RMAP_MASK))
    v.st.rmap_writes += 1


# --- allocation --------------------------------------------------------------------------------

cdef inline uint64_t find_run(ste_t* v, const ste_vcluster* c, uint64_t nr) noexcept nogil:
    """The first free aligned run of ``nr`` slots, or STE_VCLUSTER_SIZE.

    The scan starts at the cluster's hint (no run below it is free), so it
    finds the run a scan from 0 finds (the reference's), in amortised O(1)."""
    cdef uint64_t i, j
    cdef bint free_
    v.st.alloc_scans += 1
    i = c.hint
    while i < STE_VCLUSTER_SIZE:
        free_ = True
        for j in range(i, i + nr):
            if c.table[j]:
                free_ = False
                break
        if free_:
            return i
        i += nr
    return STE_VCLUSTER_SIZE


cdef inline void take(ste_t* v, ste_vcluster* c, uint64_t idx, uint64_t nr, uint64_t folio,
                      int order, uint16_t memcg) noexcept nogil:
    cdef uint64_t i, w = SWP_TB_PIN | swap_cache_folio(folio, order)
    c.hint = <uint16_t>(idx + nr)       # find_run found every run in [hint, idx) taken
    for i in range(idx, idx + nr):
        c.table[i] = w
        if v.rfc < 2:       # v1: the FOLIO tag; v2: the folio is the swap table's, the word stays NONE
            c.vtable[i] = (folio << VT_TAG_BITS) | VT_FOLIO
        c.memcg[i] = memcg
    v.st.table_writes += nr
    if v.rfc < 2:
        v.st.vtable_writes += nr
    v.st.memcg_writes += nr
    c.count += <uint32_t>nr
    v.nr_used += nr


cdef ste_vcluster* new_cluster(ste_t* v, int order) except? NULL:
    """A ghost cluster at the lowest free id: NULL when the ids ran out (alloc_reject)."""
    cdef ste_vcluster* c = <ste_vcluster*>checked_calloc(1, sizeof(ste_vcluster))
    cdef uint64_t cid = 0, i
    if xa_alloc(&v.map, &cid, <xa_entry>c, 1 if order == SWAP_NR_ORDERS - 1 else 0,
                v.max_clusters - 1):
        free(c)
        v.alloc_reject += 1
        return NULL
    c.id = cid
    c.order = <uint8_t>order
    c.state = VC_FULL
    if cid == 0:
        for i in range(<uint64_t>1 << order):
            c.table[i] = TB_HEADER
        c.count = <uint32_t>1 << order
    v.nr_clusters += 1
    v.st.clusters_allocated += 1
    return c


cdef inline void uncache(ste_t* v, int k) noexcept nogil:
    """Evict the virtual cluster of per-CPU cache slot ``k``."""
    cdef ste_vcluster* c = v.vpcp[k]
    v.vpcp[k] = NULL
    c.state = VC_FULL
    if c.count == 0:
        after_free(v, c)
    else:
        nonfull_add(v, c)


cdef inline void phys_cache_drop(ste_t* v, int cpu, int order) noexcept nogil:
    """Shared cache: a virtual allocation takes the CPU's slot from the physical cluster."""
    if v.g.pcp[cpu].si[order] != NULL and v.g.pcp[cpu].offset[order]:
        v.st.pcp_invalidations += 1
    v.g.pcp[cpu].si[order] = NULL
    v.g.pcp[cpu].offset[order] = 0


cdef uint64_t ste_alloc(ste_t* v, uint64_t folio, int order, uint16_t memcg,
                        int cpu) except? 0xFFFFFFFFFFFFFFFF:
    """folio_alloc_swap on the ghost device: the first entry, or 0 when no id is left."""
    cdef uint64_t nr = <uint64_t>1 << order, idx = STE_VCLUSTER_SIZE
    cdef int k = cpu * SWAP_NR_ORDERS + order
    cdef ste_vcluster* c
    if v.opt_shared:
        phys_cache_drop(v, cpu, order)
    c = v.vpcp[k]
    if c != NULL:
        v.st.cluster_locks += 1
        idx = find_run(v, c, nr)
        if idx < STE_VCLUSTER_SIZE:
            v.st.vcache_hits += 1
            take(v, c, idx, nr, folio, order, memcg)
            return ste_entry((c.id << STE_VCLUSTER_SHIFT) + idx)
        v.vpcp[k] = NULL
        c.state = VC_FULL
    v.st.vcache_misses += 1
    c = NULL
    while v.nonfull[order].head != NULL:
        c = v.nonfull[order].head
        nonfull_del(v, c)
        v.st.cluster_locks += 1
        idx = find_run(v, c, nr)
        if idx < STE_VCLUSTER_SIZE:
            break
        c = NULL
    if c == NULL:
        c = new_cluster(v, order)
        if c == NULL:                    # the ids ran out (counted in alloc_reject)
            return 0
        v.st.cluster_locks += 1
        idx = find_run(v, c, nr)
    take(v, c, idx, nr, folio, order, memcg)
    c.state = VC_CACHED
    v.vpcp[k] = c
    return ste_entry((c.id << STE_VCLUSTER_SHIFT) + idx)


# --- counts and the free paths -----------------------------------------------------------------

cdef int ext_prepare(ste_t* v, uint64_t voff, uint64_t n) except -1:
    """Allocate the extend tables a +1 on each slot needs, before anything changes."""
    cdef uint64_t cur = voff, end = voff + n, ce, k
    cdef ste_vcluster* c
    while cur < end:
        ce = chunk_end(cur, end)
        c = <ste_vcluster*>xa_load(&v.map, cur >> STE_VCLUSTER_SHIFT)
        if c.ext == NULL:
            for k in range(cur, ce):
                if count_of(c, k & (STE_VCLUSTER_SIZE - 1)) + 1 >= SWP_TB_COUNT_MAX:
                    c.ext = <uint32_t*>checked_calloc(STE_VCLUSTER_SIZE, sizeof(uint32_t))
                    v.nr_ext += 1
                    v.st.extend_tables_allocated += 1
                    break
        cur = ce
    return 0


cdef int dup_pass(ste_t* v, uint64_t voff, uint64_t n) except -1:
    cdef uint64_t cur = voff, end = voff + n, ce, k, i, cnt
    cdef ste_vcluster* c
    ext_prepare(v, voff, n)
    while cur < end:
        ce = chunk_end(cur, end)
        c = ste_cluster(v, cur >> STE_VCLUSTER_SHIFT)
        v.st.cluster_locks += 1
        for k in range(cur, ce):
            i = k & (STE_VCLUSTER_SIZE - 1)
            cnt = count_of(c, i)
            if cnt == 0 and (c.vtable[i] & SWP_TB_TAG_MASK) == VT_PHYS:
                rmap_mark(v, c, i, False)
            set_count(c, i, cnt + 1)
        v.st.table_reads += ce - cur
        v.st.table_writes += ce - cur
        cur = ce
    return 0


cdef bint put_pass(ste_t* v, uint64_t voff, uint64_t n) noexcept nogil:
    """Drop one count per slot, freeing uncached ones in runs; whether one is left cache-only."""
    cdef uint64_t cur = voff, end = voff + n, ce, k, i, cnt, run = 0, nrun
    cdef bint only = False
    cdef ste_vcluster* c
    while cur < end:
        ce = chunk_end(cur, end)
        c = ste_cluster(v, cur >> STE_VCLUSTER_SHIFT)
        v.st.cluster_locks += 1
        nrun = 0
        for k in range(cur, ce):
            i = k & (STE_VCLUSTER_SIZE - 1)
            cnt = count_of(c, i) - 1
            set_count(c, i, cnt)
            if cnt == SWP_TB_COUNT_MAX - 1:
                ext_release(v, c)
            if cnt == 0 and not (c.table[i] & SWP_TB_PIN):
                if nrun == 0:
                    run = i
                nrun += 1
                continue
            if cnt == 0:
                v.st.vtable_reads += 1
                if (c.vtable[i] & SWP_TB_TAG_MASK) == VT_PHYS:
                    rmap_mark(v, c, i, True)
                only = True
            if nrun:
                free_run(v, c, run, nrun)
                nrun = 0
        v.st.table_reads += ce - cur
        v.st.table_writes += ce - cur
        if nrun:
            free_run(v, c, run, nrun)
        after_free(v, c)
        cur = ce
    return only


cdef long long reclaim_folio(ste_t* v, ste_vcluster* c, uint64_t idx, uint64_t phys_at,
                             uint64_t* phys_run) noexcept nogil:
    """__try_to_reclaim_swap on a ghost slot: pages freed, minus pages kept, or 0.

    ``*phys_run`` counts the folio's slots backed by the physical run from ``phys_at``."""
    cdef uint64_t w = c.table[idx], n, base, i, ve, x, run = 0
    v.st.cluster_locks += 1
    v.st.table_reads += 1
    phys_run[0] = 0
    if not live_word(w) or not swap_cache_is_folio(w & SWP_TB_PAYLOAD):
        return 0
    n = <uint64_t>1 << swap_cache_order(w & SWP_TB_PAYLOAD)
    base = idx & ~(n - 1)
    ve = (c.id << STE_VCLUSTER_SHIFT) + base
    if ve < v.locked_hi and ve + n > v.locked_lo:
        return -<long long>n
    v.st.table_reads += n
    for i in range(base, base + n):
        if count_of(c, i):
            return -<long long>n
    v.st.vtable_reads += n
    for i in range(base, base + n):
        x = c.vtable[i]
        if phys_at and (x & SWP_TB_TAG_MASK) == VT_PHYS and vt_phys_slot(x) == phys_at + run:
            run += 1
    free_run(v, c, base, n)
    v.st.folios_reclaimed += 1
    after_free(v, c)
    phys_run[0] = run
    return <long long>n


cdef void fsc_core(ste_t* v, uint64_t voff, uint64_t n) noexcept nogil:
    """free_swap_and_cache_nr after validation."""
    cdef uint64_t cur, end = voff + n, step, i, run
    cdef long long r
    cdef ste_vcluster* c
    if not put_pass(v, voff, n):
        return
    cur = voff
    while cur < end:
        step = 1
        c = ste_cluster(v, cur >> STE_VCLUSTER_SHIFT)
        if c != NULL:
            i = cur & (STE_VCLUSTER_SIZE - 1)
            v.st.table_reads += 1
            if live_word(c.table[i]) and cache_only(c, i):
                r = reclaim_folio(v, c, i, 0, &run)
                step = vc_reclaim_step(cur, r)
        cur += step


# --- the physical allocator's reclaim hook ------------------------------------------------------

cdef ste_vcluster* rmap_target(ste_t* v, swap_device_t* si, uint64_t offset,
                               uint64_t* idx) noexcept nogil:
    """The ghost cluster (and ``*idx``) a physical slot's reverse-map word names, or NULL."""
    cdef uint64_t w, voff, i
    cdef ste_vcluster* c
    v.st.rmap_reads += 1
    w = swap_table_get(si, offset) & RMAP_MASK
    if (w & SWP_TB_TAG_MASK) != SWP_TB_RMAP:
        return NULL
    voff = w >> VT_TAG_BITS
    c = ste_cluster(v, voff >> STE_VCLUSTER_SHIFT)
    if c == NULL:
        return NULL
    i = voff & (STE_VCLUSTER_SIZE - 1)
    v.st.vtable_reads += 1
    if (not live_word(c.table[i])
            or c.vtable[i] != vt_phys((<uint64_t>si.type << SWP_TYPE_SHIFT) | offset)):
        return NULL
    idx[0] = i
    return c


cdef int ste_reclaim(void* ctx, swap_device_t* si, uint64_t offset) noexcept nogil:
    """The allocator's reclaim hook: reclaim the ghost folio a cache-only physical slot backs."""
    cdef ste_t* v = <ste_t*>ctx
    cdef int t = si.type
    cdef uint64_t i = 0, run = 0
    cdef long long r
    cdef ste_vcluster* c
    if t < 0 or t >= VSWAP_TYPE or v.devs[t] != si:
        return 0
    if offset < si.max and si.map[offset] == SLOT_USED \
            and not swp_tb_is_rmap(swap_table_get(si, offset)):
        return p4_reclaim(v.direct, si, offset)     # a direct-mapped slot: phase IV's
    c = rmap_target(v, si, offset, &i)
    if c == NULL:
        return 0
    r = reclaim_folio(v, c, i, (<uint64_t>t << SWP_TYPE_SHIFT) | offset, &run)
    if r > 0:
        return <int>run if run > 0 else 1
    return -1 if r < 0 else 0


cdef int kind_of(const ste_vcluster* c, uint64_t i, uint64_t ztag, uint64_t* handle) noexcept nogil:
    """lookup: a folio in the swap cache, else the zero bit (v2), else the virtual_table word's backing.

    ``ztag`` is the version's ZSWAP tag. NONE (and v1's FOLIO) read as a folio."""
    cdef uint64_t w = c.table[i] & SWP_TB_PAYLOAD
    cdef uint64_t x = c.vtable[i]
    cdef uint64_t tag = x & SWP_TB_TAG_MASK
    if swap_cache_is_folio(w):
        handle[0] = swap_cache_folio_id(w)
        return VSWAP_FOLIO
    if c.table[i] & SWP_TB_ZERO:        # v2: the zero state is in the swap table word
        handle[0] = 0
        return VSWAP_ZERO
    if tag == VT_PHYS:
        handle[0] = vt_phys_slot(x)
        return VSWAP_SWAPFILE
    handle[0] = x >> VT_TAG_BITS
    if tag == ztag:
        return VSWAP_ZSWAP
    if tag == VT_ZERO:                  # v1 (v2's ZSWAP has this value and was caught above)
        handle[0] = 0
        return VSWAP_ZERO
    return VSWAP_FOLIO                  # FOLIO, or NONE (0)


cdef inline int ste_kind(ste_t* v, const ste_vcluster* c, uint64_t i, uint64_t* handle) noexcept nogil:
    """kind_of, counted: v1's zswap_load finds a zswap entry in zswap's own tree."""
    cdef int k = kind_of(c, i, v.vt_zswap, handle)
    if k == VSWAP_ZSWAP and v.rfc < 2:
        v.st.zswap_walks += 1
    return k


cdef void zero_pass(ste_t* v, uint64_t voff, uint64_t n) noexcept nogil:
    cdef uint64_t cur = voff, end = voff + n, ce, k
    cdef ste_vcluster* c
    cdef pbatch b
    swap_batch_init(&b)
    while cur < end:
        ce = chunk_end(cur, end)
        c = ste_cluster(v, cur >> STE_VCLUSTER_SHIFT)
        v.st.cluster_locks += 1
        for k in range(cur, ce):
            release(v, c, k & (STE_VCLUSTER_SIZE - 1), &b)
            if v.rfc >= 2:          # v2: the table word's zero bit, the vtable word stays NONE
                c.table[k & (STE_VCLUSTER_SIZE - 1)] |= SWP_TB_ZERO
            else:                   # v1: the ZERO tag
                c.vtable[k & (STE_VCLUSTER_SIZE - 1)] = VT_ZERO
        if v.rfc >= 2:
            v.st.table_writes += ce - cur
        else:
            v.st.vtable_writes += ce - cur
        cur = ce
    pb_flush(v, &b)


cdef void zswap_put(ste_t* v, uint64_t voff, uint64_t h) noexcept nogil:
    cdef ste_vcluster* c = ste_cluster(v, voff >> STE_VCLUSTER_SHIFT)
    cdef uint64_t i = voff & (STE_VCLUSTER_SIZE - 1)
    cdef pbatch b
    swap_batch_init(&b)
    v.st.cluster_locks += 1
    v.st.vtable_writes += 1
    release(v, c, i, &b)
    pb_flush(v, &b)
    c.vtable[i] = (h << VT_TAG_BITS) | v.vt_zswap
    v.nr_zswap += 1
    if v.rfc < 2:                       # v1: zswap_store also inserts into zswap's tree
        v.st.zswap_walks += 1


cdef void cache_prepare(ste_t* v, uint64_t voff, uint64_t n) noexcept nogil:
    cdef uint64_t cur = voff, end = voff + n, ce, k
    cdef ste_vcluster* c
    while cur < end:
        ce = chunk_end(cur, end)
        c = ste_cluster(v, cur >> STE_VCLUSTER_SHIFT)
        v.st.cluster_locks += 1
        for k in range(cur, ce):
            c.table[k & (STE_VCLUSTER_SIZE - 1)] |= SWP_TB_PIN
        v.st.table_writes += ce - cur
        cur = ce


cdef uint64_t cache_add(ste_t* v, uint64_t voff, uint64_t nr, uint64_t folio,
                        int order) noexcept nogil:
    """swap_cache_add_folio after validation: the first slot's old payload."""
    cdef ste_vcluster* c = ste_cluster(v, voff >> STE_VCLUSTER_SHIFT)
    cdef uint64_t i, base = voff & (STE_VCLUSTER_SIZE - 1)
    cdef uint64_t first, fw = swap_cache_folio(folio, order)
    v.st.cluster_locks += 1
    first = c.table[base] & SWP_TB_PAYLOAD
    for i in range(base, base + nr):
        c.table[i] = (c.table[i] & ~SWP_TB_PAYLOAD) | fw
    v.st.table_reads += nr
    v.st.table_writes += nr
    return first


cdef void cache_del(ste_t* v, uint64_t voff, uint64_t nr, uint64_t shadow_word) noexcept nogil:
    cdef ste_vcluster* c = ste_cluster(v, voff >> STE_VCLUSTER_SHIFT)
    cdef uint64_t i, base = voff & (STE_VCLUSTER_SIZE - 1)
    v.st.cluster_locks += 1
    for i in range(base, base + nr):
        c.table[i] = (c.table[i] & ~SWP_TB_PAYLOAD) | shadow_word
    v.st.table_writes += nr


cdef void cache_put(ste_t* v, uint64_t voff, uint64_t nr) noexcept nogil:
    """put_swap_folio after validation."""
    cdef ste_vcluster* c = ste_cluster(v, voff >> STE_VCLUSTER_SHIFT)
    cdef uint64_t i, base = voff & (STE_VCLUSTER_SIZE - 1)
    cdef bint all_only = True
    for i in range(base, base + nr):
        if count_of(c, i):
            all_only = False
    v.st.cluster_locks += 1
    v.st.table_writes += nr
    for i in range(base, base + nr):
        c.table[i] &= ~SWP_TB_PIN
    if all_only:
        free_run(v, c, base, nr)
    else:
        for i in range(base, base + nr):
            if tb_field(c.table[i]) == 0:
                free_run(v, c, i, 1)
    after_free(v, c)


cdef uint64_t phys_run_of(const ste_vcluster* c, uint64_t base, uint64_t nr) noexcept nogil:
    """The first physical slot if the run's words are PHYS and contiguous, else all ones."""
    cdef uint64_t x = c.vtable[base], slot0, k
    if (x & SWP_TB_TAG_MASK) != VT_PHYS:
        return 0xFFFFFFFFFFFFFFFF
    slot0 = vt_phys_slot(x)
    for k in range(1, nr):
        if c.vtable[base + k] != vt_phys(slot0 + k):
            return 0xFFFFFFFFFFFFFFFF
    return slot0


cdef int write_run(SwapTableEdition self, uint64_t voff, int o, uint64_t* slot) except -1:
    """Physical backing for live slots (folio_realloc_swap): 0, 1 if no run is free, 2 if no device.

    The caller has attached the set's devices (``_sync_devices``)."""
    cdef ste_t* v = &self.v
    cdef uint64_t nr = <uint64_t>1 << o, base = voff & (STE_VCLUSTER_SIZE - 1), k, i, off = 0
    cdef uint64_t s, w
    cdef ste_vcluster* c = ste_peek(v, voff)
    cdef swap_device_t* si = NULL
    cdef int key = v.cpu * SWAP_NR_ORDERS + o
    cdef pbatch b
    s = phys_run_of(c, base, nr)
    if s != 0xFFFFFFFFFFFFFFFF:           # already one physical run: reuse it
        ste_cluster(v, voff >> STE_VCLUSTER_SHIFT)
        v.st.vtable_reads += nr
        slot[0] = s
        return 0
    if self._cluster_size == 0 or nr > self._cluster_size:
        return 2
    if v.opt_shared and v.vpcp[key] != NULL:
        v.st.pcp_invalidations += 1
        uncache(v, key)
    v.locked_lo = voff
    v.locked_hi = voff + nr
    try:
        swap_alloc_set(&self._swaps.g, o, v.cpu, &si, &off)
    finally:
        v.locked_lo = 0
        v.locked_hi = 0
    if off == 0:
        return 1
    v.st.phys_allocs += 1
    c = ste_cluster(v, voff >> STE_VCLUSTER_SHIFT)
    v.st.cluster_locks += 1
    swap_batch_init(&b)
    for k in range(nr):
        i = base + k
        release(v, c, i, &b)
        s = (<uint64_t>si.type << SWP_TYPE_SHIFT) | (off + k)
        c.vtable[i] = vt_phys(s)
        v.charge[c.memcg[i]] += 1
        w = ((voff + k) << VT_TAG_BITS) | SWP_TB_RMAP
        if cache_only(c, i):
            w |= SWAP_TABLE_CACHE_ONLY
        swap_table_set(si, off + k, w)
    pb_flush(v, &b)
    v.nr_phys += nr
    v.st.rmap_writes += nr
    v.st.vtable_writes += nr
    v.st.table_reads += nr
    slot[0] = (<uint64_t>si.type << SWP_TYPE_SHIFT) | off
    return 0


cdef object raise_noent(uint64_t voff, str what="is not allocated"):
    raise NoEntry(f"swap entry {ste_entry(voff):#x} {what}")


# no_gc_clear: __dealloc__ restores each device's hooks, so the device
# references must survive a garbage-collector pass.
@cython.no_gc_clear
cdef class SwapTableEdition(VirtualCommon):
    """Virtual Swap Space, Swap Table Edition, over a set of physical devices.

    ``swaps`` is the :class:`~vswap.SwapDevices` set of physical devices
    (types 0 .. 30; it may be empty: zswap and zero pages need no physical
    slot). A swap entry is a slot of the ghost device, type
    :data:`VSWAP_TYPE`. ``max_clusters`` caps the ghost cluster ids (at
    most, and by default, :data:`STE_V2_MAX_CLUSTERS`, RFC v2's 8 PB, or
    with ``rfc=1`` :data:`STE_MAX_CLUSTERS`, v1's 16 TiB). Implements
    :class:`vswap.protocol.SwapSpace`. The memcgs of ``direct_memcgs``
    get direct-mapped entries instead, which the RFC keeps beside the
    virtual ones: physical slots of the same devices, whose every verb is
    phase IV's (a hosted :class:`vswap.SwapTableP4`).

    Memory (kernel-equivalent, see :meth:`memory_footprint`): per ghost
    cluster in use an 80-byte cluster, a 4 KiB swap table, a 4 KiB
    virtual_table and a 1 KiB memcg_table (18 B per slot), the cluster
    map's xarray nodes; per physical device 48 B per cluster, and per
    physical cluster in use its table (reverse-map words and direct
    entries' words) and a memcg_table (10 B per slot, read only for the
    direct entries); a direct entry's extend table and zswap tree entry
    as in phase IV.

    Runtime complexity: construction O(physical slots).

    >>> from vswap import SwapTableEdition, SwapDevice, SwapDevices
    >>> ste = SwapTableEdition(SwapDevices([SwapDevice(256, cluster_size=16)]))
    >>> e = ste.folio_alloc_swap(folio=7)
    >>> ste.swap_duplicate(e); hex(e), ste.swap_count(e), ste.lookup(e)
    ('0x7c00000000000001', 1, Lookup(kind='folio', handle=7))
    """

    #: The trait the memory model reads (vswap.protocol.SwapSpace.entry_is_slot):
    #: an entry is virtual; what backs it is not a device slot.
    entry_is_slot = False
    #: The memory model's other trait (SwapSpace.swapin_bypasses_swap_cache): STE sits on phase IV, so on 7.0's phase II: no bypass.
    swapin_bypasses_swap_cache = False

    def __cinit__(self):
        memset(&self.v, 0, sizeof(ste_t))
        xa_init_flags(&self.v.map, XA_FLAGS_ALLOC)
        # Per-memcg charge: here, not in __init__, so a bare instance is safe.
        self.v.charge = <uint64_t*>checked_calloc(MEMCG_MAX, sizeof(uint64_t))
        self.v.direct_memcg = <uint8_t*>checked_calloc(MEMCG_MAX, sizeof(uint8_t))
        self._direct = SwapTableP4.__new__(SwapTableP4)
        self.v.direct = &self._direct.d
        self._ctx = <void*>&self.v
        self._reclaim = ste_reclaim
        self._ops = <void*>&STE_OPS
        self._vc = <vcommon_t*>&self.v
        self._scans = &self.v.st.scans
        self._ghost = VSWAP_TYPE
        self._cluster_info_bytes = P4_CLUSTER_INFO_BYTES
        self.v.rfc = 2                  # the default, so a bare instance is v2 too
        self.v.vt_zswap = self.v.vt_max = VT_ZSWAP_V2

    def __init__(self, swaps=None, *, shared_cluster_cache=False, lookup_cache=False,
                 max_clusters=None, direct_memcgs=(), rfc=2):
        if rfc not in STE_RFCS or isinstance(rfc, bool):
            raise ValueError(f"rfc must be one of {STE_RFCS}, not {rfc!r}")
        cdef uint64_t cap = MAX_CLUSTERS if rfc == 1 else V2_MAX_CLUSTERS
        cdef uint64_t mc = cap if max_clusters is None else to_u64(max_clusters, cap + 1,
                                                                   "max_clusters")
        if mc == 0:
            raise ValueError("max_clusters must be at least 1")
        direct = check_memcg_ids(direct_memcgs)
        swaps = SwapDevices() if swaps is None else swaps
        if isinstance(swaps, SwapDevices) and len((<SwapDevices>swaps)._devices) > VSWAP_TYPE:
            raise ValueError(f"at most {VSWAP_TYPE} physical devices: type {VSWAP_TYPE} is vswap's")
        self._claim(swaps)   # ValueError: another design's
        self._direct._hosted_by(self)
        for m in direct:
            self.v.direct_memcg[m] = 1
        self.v.g = &(<SwapDevices>swaps).g
        self.v.max_clusters = mc
        self.v.opt_shared = bool(shared_cluster_cache)
        self.v.opt_lookup_cache = bool(lookup_cache)
        self.v.rfc = <int>rfc
        self.v.vt_zswap = VT_ZSWAP if rfc == 1 else VT_ZSWAP_V2
        self.v.vt_max = VT_FOLIO if rfc == 1 else VT_ZSWAP_V2
        self._sync_devices()

    def __dealloc__(self):
        cdef uint64_t pos = 0, cid = 0
        cdef ste_vcluster* c
        self._release_devices()
        c = <ste_vcluster*>cluster_map_next(&self.v.map, &pos, &cid)
        while c != NULL:
            free(c.ext)
            free(c)
            c = <ste_vcluster*>cluster_map_next(&self.v.map, &pos, &cid)
        xa_destroy(&self.v.map)
        free(self.v.charge)
        self.v.charge = NULL
        free(self.v.direct_memcg)
        self.v.direct_memcg = NULL

    cdef void _drop_devices(self) noexcept:
        vc_drop_devices(&self.v)
        if self._direct is not None:
            self._direct._release_devices()

    cdef int _attach(self, int t, SwapDevice dev) except -1:
        """Hook the device, then give the hosted phase IV design its per-device state."""
        if t >= VSWAP_TYPE:
            raise ValueError(f"device type {t} is vswap's ghost device")
        SwapDesign._attach(self, t, dev)
        try:
            self._direct._attach(t, dev)
        except BaseException:
            swap_device_detach(dev, self._ctx)
            raise
        self.v.devs[t] = &dev.si
        return 0

    cdef bint _is_direct(self, object entry) except -1:
        """True for a direct-mapped (physical) entry, whose verbs phase IV's code runs."""
        cdef uint64_t e = to_u64(entry, <uint64_t>1 << 63, "swap entry")
        self._check_open()
        if (e >> SWP_TYPE_SHIFT) == VSWAP_TYPE:
            return False
        self._sync_devices()             # the hosted design keeps no reference to sync with
        return True

    cdef uint64_t _range(self, object entry, uint64_t nr, bint aligned) except? 0xFFFFFFFFFFFFFFFF:
        """The virtual offset of ``entry``, after checking a run of ``nr`` ghost entries."""
        cdef uint64_t e = to_u64(entry, <uint64_t>1 << 63, "swap entry")
        cdef uint64_t vmax = self.v.max_clusters << STE_VCLUSTER_SHIFT, voff
        self._check_open()
        if nr == 0:
            raise ValueError("nr must be at least 1")
        if e >> SWP_TYPE_SHIFT != VSWAP_TYPE:
            raise ValueError(f"swap entry {e:#x}: type {e >> SWP_TYPE_SHIFT} is not vswap's "
                             f"({VSWAP_TYPE})")
        voff = e & SWP_OFFSET_MASK
        if voff >= vmax or nr > vmax - voff:
            raise ValueError(f"swap entry {e:#x}: {nr} entries pass the ghost device's end {vmax}")
        if aligned and voff & (nr - 1):
            raise ValueError(f"swap entry {e:#x} is not aligned to {nr} entries")
        return voff

    cdef ste_vcluster* _live(self, uint64_t v) except NULL:
        cdef ste_vcluster* c = ste_peek(&self.v, v)
        if c == NULL:
            raise_noent(v)
        return c

    cdef int _check_counted(self, uint64_t v, uint64_t n) except -1:
        cdef uint64_t k
        cdef ste_vcluster* c
        for k in range(v, v + n):
            c = ste_peek(&self.v, k)
            if c == NULL or count_of(c, k & (STE_VCLUSTER_SIZE - 1)) == 0:
                raise_noent(k, "is free or has a swap count of 0")
        return 0

    cdef ste_vcluster* _read(self, object entry, uint64_t* idx) except NULL:
        """One counted read of a live slot's swap table word: its cluster and index."""
        cdef uint64_t v = self._range(entry, 1, False)
        self._live(v)
        idx[0] = v & (STE_VCLUSTER_SIZE - 1)
        self.v.st.table_reads += 1
        return ste_cluster(&self.v, v >> STE_VCLUSTER_SHIFT)

    # -- configuration ----------------------------------------------------------------------

    @property
    def switches(self):
        """The two switches as a dict. Runtime complexity: O(1).

        >>> from vswap import SwapTableEdition
        >>> SwapTableEdition(lookup_cache=True).switches
        {'shared_cluster_cache': False, 'lookup_cache': True}
        """
        return {"shared_cluster_cache": bool(self.v.opt_shared),
                "lookup_cache": bool(self.v.opt_lookup_cache)}

    @property
    def rfc(self):
        """The RFC version modelled: 2 (2026-06-12, the default) or 1 (2026-05-28).

        v2's virtual_table word has three tags (:data:`VTABLE_TAGS_V2`:
        NONE, PHYS, ZSWAP ``010``): a zero page's state is the swap table
        word's zero bit (phase IV's ``SWP_TB_ZERO``) and a folio is the
        swap table's business (no FOLIO tag: an entry whose data is only in
        its folio reads NONE); it finds a zswap entry through the word alone
        (v1 also keeps zswap's tree: ``zswap_walks``, ``zswap_tree``), and
        gives a physical cluster a memcg_table only while it holds a
        direct-mapped slot. Runtime complexity: O(1).

        >>> from vswap import SwapTableEdition
        >>> SwapTableEdition().rfc, SwapTableEdition(rfc=1).rfc
        (2, 1)
        """
        return self.v.rfc

    @property
    def direct_memcgs(self):
        """The memcgs whose entries are direct-mapped physical slots, as a sorted tuple.

        Their folio_alloc_swap takes a phase IV run on the physical devices
        (a memcg whose swap tiers leave vswap out); the entry is the slot.
        Runtime complexity: O(MEMCG_MAX), 65536.

        >>> from vswap import SwapTableEdition
        >>> SwapTableEdition(direct_memcgs={5, 2}).direct_memcgs
        (2, 5)
        """
        return tuple(m for m in range(MEMCG_MAX) if self.v.direct_memcg != NULL
                     and self.v.direct_memcg[m])

    # -- allocation and counts ----------------------------------------------------------------

    def folio_alloc_swap(self, folio, order=0, memcg=0, cpu=0):
        """Allocate ``2**order`` ghost entries for ``folio``, cached with it; the first.

        The CPU's cached ghost cluster first, then the nonfull list of the
        order, then a new cluster at the lowest free id. NoSpace when the ids
        run out. A memcg of :attr:`direct_memcgs` gets a direct-mapped run
        of physical slots instead, as phase IV allocates it (NoSpace when no
        device has a free run of that order). Runtime complexity: O(cluster
        size) amortised.

        >>> from vswap import SwapTableEdition, SwapDevice, SwapDevices
        >>> ste = SwapTableEdition(SwapDevices([SwapDevice(64, cluster_size=16)]),
        ...                        direct_memcgs={7})
        >>> hex(ste.folio_alloc_swap(3, order=2)), ste.folio_alloc_swap(4, memcg=7)
        ('0x7c00000000000004', 1)
        """
        cdef uint64_t f = to_u64(folio, P4_FOLIO_MAX, "folio"), o, m, c, e
        self._alloc_prepare(order, memcg, cpu, &o, &m, &c)
        e = self._alloc_any(f, <int>o, <uint16_t>m, <int>c)
        if e == 0:
            if self.v.direct_memcg[m]:
                raise NoSpace(f"no free order-{o} range on any swap device")
            raise NoSpace(f"no ghost cluster id left for an order-{o} run")
        return e

    def folio_alloc_swap_many(self, folios, order=0, memcg=0, cpu=0):
        """:meth:`folio_alloc_swap` for each folio id of a uint64 array; the entries.

        Folio ids are bounded by the table word's payload (``P4_FOLIO_MAX``).
        Runtime complexity: O(n * cluster size) in C.

        >>> import numpy as np
        >>> from vswap import SwapTableEdition
        >>> SwapTableEdition().folio_alloc_swap_many(np.arange(2, dtype=np.uint64)).tolist()
        [8935141660703064065, 8935141660703064066]
        """
        arr = as_entries(folios, "folios")
        if arr.shape[0] and int(arr.max()) >= P4_FOLIO_MAX:
            raise ValueError(f"folio {int(arr.max())} is outside 0 .. {P4_FOLIO_MAX - 1}")
        return SwapDesign.folio_alloc_swap_many(self, arr, order, memcg, cpu)

    cdef int _alloc_prepare(self, object order, object memcg, object cpu,
                            uint64_t* o, uint64_t* m, uint64_t* c) except -1:
        return vc_alloc_prepare(self, order, memcg, cpu, o, m, c)

    cdef uint64_t _alloc_any(self, uint64_t folio, int order, uint16_t memcg,
                             int cpu) except? 0xFFFFFFFFFFFFFFFF:
        """folio_alloc_swap's choice: ghost entries, or a direct-mapped physical run.

        A memcg of ``direct_memcgs`` gets phase IV's allocation on the
        physical devices (0 when none has a free run, or the folio is
        larger than their clusters: the caller splits it, as for any
        failed mTHP allocation), which takes the CPU's one cluster cache
        when it is shared.
        """
        cdef int k = cpu * SWAP_NR_ORDERS + order
        cdef uint64_t e
        if not self.v.direct_memcg[memcg]:
            return ste_alloc(&self.v, folio, order, memcg, cpu)
        if self._cluster_size and (<uint64_t>1 << order) > self._cluster_size:
            return 0
        if self.v.opt_shared and self.v.vpcp[k] != NULL:
            self.v.st.pcp_invalidations += 1
            uncache(&self.v, k)
        e = self._direct._alloc_one(folio, <uint64_t>1 << order, memcg, cpu)
        if e:
            self.v.st.direct_allocs += 1
        return e

    cdef uint64_t _alloc_entry(self, uint64_t folio, uint64_t o, uint64_t m,
                               uint64_t c) except? 0xFFFFFFFFFFFFFFFF:
        return self._alloc_any(folio, <int>o, <uint16_t>m, <int>c)

    cdef int _dup_entry(self, uint64_t e) except -1:
        if (e >> SWP_TYPE_SHIFT) != VSWAP_TYPE:
            return self._direct._dup_entry(e)
        dup_pass(&self.v, e & SWP_OFFSET_MASK, 1)
        return 0

    cdef int _free_entry(self, uint64_t e) except -1:
        if (e >> SWP_TYPE_SHIFT) != VSWAP_TYPE:
            return self._direct._free_entry(e)
        put_pass(&self.v, e & SWP_OFFSET_MASK, 1)
        return 0

    cdef int _zswap_entry(self, uint64_t e, uint64_t handle) except -1:
        if (e >> SWP_TYPE_SHIFT) != VSWAP_TYPE:
            return self._direct._zswap_entry(e, handle)
        zswap_put(&self.v, e & SWP_OFFSET_MASK, handle)
        return 0

    cdef int _fsc_entries(self, uint64_t e, uint64_t nr) except -1:
        if (e >> SWP_TYPE_SHIFT) != VSWAP_TYPE:
            return (<const slot_cores*>self._direct._cores).free_swap_and_cache_nr(
                self._direct._ctx, e, nr)
        fsc_core(&self.v, e & SWP_OFFSET_MASK, nr)
        return 0

    cdef int _batch_entry(self, uint64_t e, void** cache) except -1:
        if (e >> SWP_TYPE_SHIFT) != VSWAP_TYPE:
            return self._direct._batch_entry(e, cache)
        self._live(self._range(e, 1, False))
        return 0

    cdef int _batch_count(self, uint64_t e, uint64_t k, bint need_count, bint dup,
                          void** cache) except -1:
        if (e >> SWP_TYPE_SHIFT) != VSWAP_TYPE:
            return self._direct._batch_count(e, k, need_count, dup, cache)
        cdef uint64_t v = e & SWP_OFFSET_MASK
        cdef uint64_t cnt = count_of(ste_peek(&self.v, v), v & (STE_VCLUSTER_SIZE - 1))
        if dup and cnt + k > COUNT_LIMIT:
            raise NoSpace(f"swap count of {e:#x} would pass 2**32-1")
        if need_count and cnt < k:
            raise NoEntry(f"swap entry {e:#x} has a swap count of 0")
        return 0

    def swap_duplicate(self, entry, nr=1):
        """Add a count to each of ``nr`` entries (the extend table past 14).

        NoEntry if one is free, NoSpace past 2**32-1; nothing changes on
        error. Runtime complexity: O(nr).

        >>> from vswap import SwapTableEdition
        >>> ste = SwapTableEdition(); e = ste.folio_alloc_swap(1)
        >>> for _ in range(20): ste.swap_duplicate(e)
        >>> ste.swap_count(e), ste.memory_footprint()["extend_table"]
        (20, 2048)
        """
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.swap_duplicate(entry, nr)
        cdef uint64_t n = to_u64(nr, <uint64_t>1 << SWP_TYPE_SHIFT, "nr")
        cdef uint64_t v = self._range(entry, n, False), k
        cdef ste_vcluster* c
        for k in range(v, v + n):
            c = self._live(k)
            if count_of(c, k & (STE_VCLUSTER_SIZE - 1)) >= COUNT_LIMIT:
                raise NoSpace(f"swap count of {ste_entry(k):#x} would pass 2**32-1")
        dup_pass(&self.v, v, n)

    def swap_free_nr(self, entry, nr=1):
        """Drop a count from each of ``nr`` entries; uncached ones reaching 0 are freed.

        Runtime complexity: O(nr).

        >>> from vswap import SwapTableEdition
        >>> ste = SwapTableEdition(); e = ste.folio_alloc_swap(1); ste.swap_duplicate(e)
        >>> ste.swap_free_nr(e); ste.swap_count(e)
        0
        """
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.swap_free_nr(entry, nr)
        cdef uint64_t n = to_u64(nr, <uint64_t>1 << SWP_TYPE_SHIFT, "nr")
        cdef uint64_t v = self._range(entry, n, False)
        self._check_counted(v, n)
        put_pass(&self.v, v, n)

    def free_swap_and_cache_nr(self, entry, nr=1):
        """The zap path: drop a count on each entry, then reclaim cache-only folios.

        One batch per cluster, across memcgs (phase IV). Runtime
        complexity: O(nr).

        >>> from vswap import SwapTableEdition
        >>> ste = SwapTableEdition(); e = ste.folio_alloc_swap(1); ste.swap_duplicate(e)
        >>> ste.free_swap_and_cache_nr(e); ste.snapshot()["nr_used"]
        0
        """
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.free_swap_and_cache_nr(entry, nr)
        cdef uint64_t n = to_u64(nr, <uint64_t>1 << SWP_TYPE_SHIFT, "nr")
        cdef uint64_t v = self._range(entry, n, False)
        self._check_counted(v, n)
        fsc_core(&self.v, v, n)

    def swap_count(self, entry):
        """The entry's swap count (table word, extend table). Runtime complexity: O(1) plus a walk.

        >>> from vswap import SwapTableEdition
        >>> ste = SwapTableEdition(); ste.swap_count(ste.folio_alloc_swap(1))
        0
        """
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.swap_count(entry)
        cdef uint64_t i
        cdef ste_vcluster* c = self._read(entry, &i)
        return count_of(c, i)

    def memcg_id(self, entry):
        """The memcg id in the cluster's memcg_table. Runtime complexity: O(1) plus a walk.

        >>> from vswap import SwapTableEdition
        >>> ste = SwapTableEdition(); ste.memcg_id(ste.folio_alloc_swap(1, memcg=9))
        9
        """
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.memcg_id(entry)
        cdef uint64_t i
        cdef ste_vcluster* c = self._read(entry, &i)
        return c.memcg[i]

    # -- the swap cache -----------------------------------------------------------------------

    def swapcache_prepare(self, entry, nr=1):
        """Pin ``nr`` entries in the swap cache for a swap-in (SWP_TB_PIN).

        EntryExists if one is cached, NoEntry if one is free. Runtime
        complexity: O(nr).

        >>> from vswap import SwapTableEdition
        >>> ste = SwapTableEdition(); e = ste.folio_alloc_swap(1); ste.swap_duplicate(e)
        >>> ste.swap_cache_del_folio(e); ste.put_swap_folio(e); ste.swapcache_prepare(e)
        """
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.swapcache_prepare(entry, nr)
        cdef uint64_t n = to_u64(nr, <uint64_t>1 << SWP_TYPE_SHIFT, "nr")
        cdef uint64_t v = self._range(entry, n, False), k
        cdef ste_vcluster* c
        for k in range(v, v + n):
            c = self._live(k)
            if c.table[k & (STE_VCLUSTER_SIZE - 1)] & SWP_TB_PIN:
                raise EntryExists(f"swap entry {ste_entry(k):#x} is already in the swap cache")
        cache_prepare(&self.v, v, n)

    def swap_cache_add_folio(self, entry, folio, order=0):
        """Store ``folio`` in the prepared entries' table words; the old shadow or None.

        Runtime complexity: O(2**order).

        >>> from vswap import SwapTableEdition
        >>> ste = SwapTableEdition(); e = ste.folio_alloc_swap(1); ste.swap_duplicate(e)
        >>> ste.swap_cache_del_folio(e, shadow=4); ste.put_swap_folio(e); ste.swapcache_prepare(e)
        >>> ste.swap_cache_add_folio(e, 2)
        4
        """
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.swap_cache_add_folio(entry, folio, order)
        cdef uint64_t f = to_u64(folio, P4_FOLIO_MAX, "folio")
        cdef int o = <int>to_u64(order, SWAP_NR_ORDERS, "order")
        cdef uint64_t nr = <uint64_t>1 << o, k, w, first
        cdef uint64_t v = self._range(entry, nr, True)
        for k in range(v, v + nr):
            w = self._live(k).table[k & (STE_VCLUSTER_SIZE - 1)]
            if not (w & SWP_TB_PIN):
                raise ValueError(f"swap entry {ste_entry(k):#x} was not prepared by "
                                 "swapcache_prepare")
            if swap_cache_is_folio(w & SWP_TB_PAYLOAD):
                raise EntryExists(f"swap entry {ste_entry(k):#x} already holds a folio")
        first = cache_add(&self.v, v, nr, f, o)
        return (first >> 1) if first & 1 else None

    def swap_cache_del_folio(self, entry, order=0, shadow=None):
        """Remove the folio at ``entry`` from the swap cache, leaving ``shadow`` (or none).

        Runtime complexity: O(2**order).

        >>> from vswap import SwapTableEdition
        >>> ste = SwapTableEdition(); e = ste.folio_alloc_swap(1)
        >>> ste.swap_cache_del_folio(e, shadow=3); ste.swap_cache_get_shadow(e)
        3
        """
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.swap_cache_del_folio(entry, order, shadow)
        cdef int o = <int>to_u64(order, SWAP_NR_ORDERS, "order")
        cdef uint64_t nr = <uint64_t>1 << o, k, sw = 0, w0
        cdef uint64_t v = self._range(entry, nr, True)
        cdef ste_vcluster* c
        if shadow is not None:
            sw = (to_u64(shadow, P4_SHADOW_MAX, "shadow") << 1) | 1
        w0 = self._live(v).table[v & (STE_VCLUSTER_SIZE - 1)] & SWP_TB_PAYLOAD
        if not swap_cache_is_folio(w0) or (<uint64_t>1 << swap_cache_order(w0)) != nr:
            raise_noent(v, f"holds no folio of {nr} pages")
        for k in range(v, v + nr):
            c = ste_peek(&self.v, k)
            if c == NULL or (c.table[k & (STE_VCLUSTER_SIZE - 1)] & SWP_TB_PAYLOAD) != w0:
                raise_noent(v, f"holds no folio of {nr} pages")
        cache_del(&self.v, v, nr, sw)

    def swap_cache_get_folio(self, entry):
        """The folio in the swap cache for ``entry``, or None. Runtime complexity: O(1) plus a walk.

        >>> from vswap import SwapTableEdition
        >>> ste = SwapTableEdition(); ste.swap_cache_get_folio(ste.folio_alloc_swap(6))
        6
        """
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.swap_cache_get_folio(entry)
        cdef uint64_t i, w
        cdef ste_vcluster* c = self._read(entry, &i)
        w = c.table[i] & SWP_TB_PAYLOAD
        return swap_cache_folio_id(w) if swap_cache_is_folio(w) else None

    def swap_cache_get_shadow(self, entry):
        """The workingset shadow of ``entry``, or None. Runtime complexity: O(1) plus a walk.

        >>> from vswap import SwapTableEdition
        >>> ste = SwapTableEdition(); ste.swap_cache_get_shadow(ste.folio_alloc_swap(6)) is None
        True
        """
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.swap_cache_get_shadow(entry)
        cdef uint64_t i, w
        cdef ste_vcluster* c = self._read(entry, &i)
        w = c.table[i] & SWP_TB_PAYLOAD
        return (w >> 1) if w & 1 else None

    def put_swap_folio(self, entry, order=0):
        """Unpin ``2**order`` entries from the swap cache; count-0 ones are freed.

        Runtime complexity: O(2**order).

        >>> from vswap import SwapTableEdition
        >>> ste = SwapTableEdition(); e = ste.folio_alloc_swap(1)
        >>> ste.swap_cache_del_folio(e); ste.put_swap_folio(e); ste.snapshot()["nr_used"]
        0
        """
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.put_swap_folio(entry, order)
        cdef int o = <int>to_u64(order, SWAP_NR_ORDERS, "order")
        cdef uint64_t nr = <uint64_t>1 << o, k, w
        cdef uint64_t v = self._range(entry, nr, True)
        cdef ste_vcluster* c
        for k in range(v, v + nr):
            c = ste_peek(&self.v, k)
            w = c.table[k & (STE_VCLUSTER_SIZE - 1)] if c != NULL else 0
            if not (w & SWP_TB_PIN):
                raise_noent(k, "is not in the swap cache")
            if swap_cache_is_folio(w & SWP_TB_PAYLOAD):
                raise EntryExists(f"swap entry {ste_entry(k):#x} still holds a folio")
        cache_put(&self.v, v, nr)

    # -- backends -------------------------------------------------------------------------------

    def lookup(self, entry):
        """Where swap-in finds ``entry``'s data: the swap cache, then the virtual_table word.

        A PHYS word gives the physical slot (type 0 .. 30). Runtime
        complexity: O(1) plus a walk.

        >>> from vswap import SwapTableEdition
        >>> ste = SwapTableEdition(); e = ste.folio_alloc_swap(1); ste.zero_store(e)
        >>> ste.swap_cache_del_folio(e); ste.lookup(e)
        Lookup(kind='zero', handle=0)
        """
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.lookup(entry)
        cdef uint64_t i, h = 0
        cdef ste_vcluster* c = self._read(entry, &i)
        cdef int k
        self.v.st.vtable_reads += 1
        k = ste_kind(&self.v, c, i, &h)
        return Lookup(LOOKUP_KINDS[k], h)

    cdef int _lookup_into(self, const uint64_t[:] ev, uint8_t[::1] kv, uint64_t[::1] hv) except -1:
        """lookup_many's work: a direct-mapped entry by phase IV's lookup, a ghost one here."""
        cdef Py_ssize_t j
        cdef uint64_t voff, h, nv = 0
        cdef const slot_cores* pc = <const slot_cores*>self._direct._cores
        for j in range(ev.shape[0]):
            if (ev[j] >> SWP_TYPE_SHIFT) != VSWAP_TYPE:
                kv[j] = <uint8_t>pc.lookup(self._direct._ctx, ev[j], &h)
            else:
                voff = ev[j] & SWP_OFFSET_MASK
                kv[j] = <uint8_t>ste_kind(&self.v, ste_cluster(&self.v, voff >> STE_VCLUSTER_SHIFT),
                                          voff & (STE_VCLUSTER_SIZE - 1), &h)
                nv += 1
            hv[j] = h
        self.v.st.table_reads += nv
        self.v.st.vtable_reads += nv
        return 0

    def zero_store(self, entry, nr=1):
        """Mark ``nr`` entries zero-filled, releasing their backing.

        v2 sets each swap table word's zero bit (``SWP_TB_ZERO``, bit 58)
        and leaves the virtual_table word NONE; v1 tags the virtual_table
        word ZERO. Runtime complexity: O(nr).

        >>> from vswap import SwapTableEdition
        >>> ste = SwapTableEdition(); e = ste.folio_alloc_swap(1); ste.zero_store(e)
        >>> word, vword = ste.snapshot()["entries"][e][:2]; word >> 58 & 1, vword & 7
        (1, 0)
        >>> v1 = SwapTableEdition(rfc=1); e = v1.folio_alloc_swap(1); v1.zero_store(e)
        >>> v1.snapshot()["entries"][e][1] & 7
        2
        """
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.zero_store(entry, nr)
        cdef uint64_t n = to_u64(nr, <uint64_t>1 << SWP_TYPE_SHIFT, "nr")
        cdef uint64_t v = self._range(entry, n, False), k
        for k in range(v, v + n):
            self._live(k)
        zero_pass(&self.v, v, n)

    def zswap_store(self, entry, handle):
        """Tag the entry ZSWAP with ``handle`` (below :data:`STE_HANDLE_MAX`); no physical slot.

        Runtime complexity: O(1) plus a walk.

        >>> from vswap import SwapTableEdition
        >>> ste = SwapTableEdition(); e = ste.folio_alloc_swap(1); ste.zswap_store(e, 42)
        >>> ste.zswap_load(e)
        42
        """
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.zswap_store(entry, handle)
        cdef uint64_t h = to_u64(handle, HANDLE_LIMIT, "zswap handle")
        cdef uint64_t v = self._range(entry, 1, False)
        self._live(v)
        zswap_put(&self.v, v, h)

    def zswap_store_many(self, entries, handles):
        """:meth:`zswap_store` of two uint64 arrays of the same length.

        Runtime complexity: O(n) in C.

        >>> import numpy as np
        >>> from vswap import SwapTableEdition
        >>> ste = SwapTableEdition(); e = ste.folio_alloc_swap(1)
        >>> ste.zswap_store_many(np.array([e], dtype=np.uint64), np.array([5], dtype=np.uint64))
        >>> ste.zswap_load(e)
        5
        """
        harr = as_entries(handles, "handles")
        if harr.shape[0] and int(harr.max()) >= HANDLE_LIMIT:
            raise ValueError(f"zswap handle {int(harr.max())} is outside 0 .. {HANDLE_LIMIT - 1}")
        return SwapDesign.zswap_store_many(self, entries, harr)

    def zswap_load(self, entry):
        """The zswap handle of ``entry``, or None. Runtime complexity: O(1) plus a walk.

        >>> from vswap import SwapTableEdition
        >>> ste = SwapTableEdition(); ste.zswap_load(ste.folio_alloc_swap(1)) is None
        True
        """
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.zswap_load(entry)
        cdef uint64_t i, x
        cdef ste_vcluster* c = self._read(entry, &i)
        self.v.st.vtable_reads += 1
        if self.v.rfc < 2:                   # v1: zswap_load looks in zswap's tree
            self.v.st.zswap_walks += 1
        x = c.vtable[i]
        return (x >> VT_TAG_BITS) if (x & SWP_TB_TAG_MASK) == self.v.vt_zswap else None

    def zswap_invalidate(self, entry):
        """Drop the zswap copy; its handle or None. The word becomes FOLIO (cached folio) or NONE.

        Runtime complexity: O(1) plus a walk.

        >>> from vswap import SwapTableEdition
        >>> ste = SwapTableEdition(); e = ste.folio_alloc_swap(1); ste.zswap_store(e, 3)
        >>> ste.zswap_invalidate(e), ste.lookup(e)
        (3, Lookup(kind='folio', handle=1))
        """
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.zswap_invalidate(entry)
        cdef uint64_t i, x, w
        cdef ste_vcluster* c = self._read(entry, &i)
        self.v.st.vtable_reads += 1
        if self.v.rfc < 2:                   # v1: the erase from zswap's tree
            self.v.st.zswap_walks += 1
        x = c.vtable[i]
        if (x & SWP_TB_TAG_MASK) != self.v.vt_zswap:
            return None
        self.v.st.cluster_locks += 1
        self.v.st.vtable_writes += 1
        self.v.nr_zswap -= 1
        w = c.table[i] & SWP_TB_PAYLOAD
        c.vtable[i] = ((swap_cache_folio_id(w) << VT_TAG_BITS) | VT_FOLIO
                       if swap_cache_is_folio(w) and self.v.rfc < 2 else VT_NONE)
        return x >> VT_TAG_BITS

    def writeback(self, entry, order=0):
        """Give ``2**order`` entries a physical run (allocated now, lazily); its first slot.

        Each physical slot gets a reverse-map word to its ghost slot. With
        ``shared_cluster_cache`` the CPU's cached ghost cluster is evicted
        first. A run already on one physical run is reused. NoSpace if no
        device has a free run. Runtime complexity: O(2**order) plus the
        allocator.

        >>> from vswap import SwapTableEdition, SwapDevice, SwapDevices
        >>> ste = SwapTableEdition(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ste.folio_alloc_swap(1); ste.writeback(e), ste.lookup(e).kind
        (1, 'folio')
        """
        if self._is_direct(entry):           # phase IV's verb, as in P4
            return self._direct.writeback(entry, order)
        cdef int o = <int>to_u64(order, SWAP_NR_ORDERS, "order")
        cdef uint64_t nr = <uint64_t>1 << o, k, slot = 0
        cdef uint64_t v = self._range(entry, nr, True)
        cdef int r
        for k in range(v, v + nr):
            self._live(k)
        self._sync_devices()
        r = write_run(self, v, o, &slot)
        if r == 2:
            raise NoSpace(f"no physical device takes an order-{o} run")
        if r == 1:
            raise NoSpace(f"no free order-{o} physical run on any device")
        return slot

    # -- device-level verbs ----------------------------------------------------------------------

    def swapoff(self, device, page_tables=None):
        """Swap off physical device ``device``: the reverse map, and the walk for direct entries.

        Each ghost entry it backs becomes FOLIO-backed: by its cached
        folio, or by a new order-0 folio named by its virtual offset, read
        into the ghost swap cache; no page-table walk. Direct-mapped
        entries still need the classic walk: when the device holds any, or
        ``page_tables`` is given, phase IV's swapoff runs first over
        ``page_tables`` (``{vpn: entry}`` or a uint64 array; None is an
        empty one), validated before anything changes (SwapError when the
        page tables do not hold every reference). Returns the PTEs
        rewritten. The ghost device itself cannot be swapped off. Runtime
        complexity: O(PTEs + device slots).

        >>> from vswap import SwapTableEdition, SwapDevice, SwapDevices
        >>> ste = SwapTableEdition(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ste.folio_alloc_swap(1); ste.swap_duplicate(e); _ = ste.writeback(e)
        >>> ste.swap_cache_del_folio(e); ste.put_swap_folio(e)
        >>> ste.swapoff(0), ste.lookup(e), ste.swaps[0].nr_used
        (0, Lookup(kind='folio', handle=1), 0)
        """
        cdef swap_device_t* si = self._device(device)
        cdef int t = si.type
        cdef uint64_t cl
        cdef Py_ssize_t rewritten = 0
        cdef bint direct = page_tables is not None
        for cl in range(self._direct.d.devs[t].nr_clusters):
            direct = direct or self._direct.d.devs[t].used[cl] != 0
        if direct:      # validates every PTE before any change, then stops allocation
            rewritten = self._direct.swapoff(t, {} if page_tables is None else page_tables)
        self._unuse_slots(si)
        return rewritten

    cdef void _unuse_slot(self, swap_device_t* si, uint64_t off, swap_free_batch* b) noexcept:
        """swapoff of one allocated slot: the ghost entry it backs (by the rmap) becomes FOLIO."""
        cdef uint64_t i = 0, w, voff
        cdef ste_vcluster* c = rmap_target(&self.v, si, off, &i)
        if c == NULL:
            return
        self.v.st.cluster_locks += 1
        self.v.st.vtable_writes += 1
        self.v.st.table_reads += 1
        release(&self.v, c, i, b)
        w = c.table[i] & SWP_TB_PAYLOAD
        if swap_cache_is_folio(w):
            if self.v.rfc < 2:              # v2: the cached folio is the swap table's, NONE stays
                c.vtable[i] = (swap_cache_folio_id(w) << VT_TAG_BITS) | VT_FOLIO
        else:
            voff = (c.id << STE_VCLUSTER_SHIFT) + i
            if self.v.rfc < 2:
                c.vtable[i] = (voff << VT_TAG_BITS) | VT_FOLIO
            if not (c.table[i] & SWP_TB_PIN):
                c.table[i] = ((c.table[i] & ~SWP_TB_PAYLOAD) | SWP_TB_PIN
                              | swap_cache_folio(voff, 0))
                self.v.st.table_writes += 1

    cdef void _batch_flush(self, swap_free_batch* b) noexcept:
        pb_flush(&self.v, b)

    # -- accounting ------------------------------------------------------------------------------

    def memory_footprint(self):
        """Kernel-equivalent metadata bytes by component, with ``"total"``.

        The keys of ``vswap.metadata``'s vswap_ste layout, plus
        ``extend_table``. Ghost side: per cluster in use, the 80-byte
        ``swap_cluster_info_dynamic``, the swap table and virtual_table
        (8 B per slot each) and the memcg_table (2 B), and the cluster
        map's nodes at the kernel's 576 B; physical side: 48 B per cluster,
        and per cluster in use its swap table (``rmap``: 8 B per slot, the
        reverse-map words and the direct-mapped entries' words) and a
        memcg_table (2 B per slot); the direct-mapped entries' extend
        tables and zswap tree (8 B per stored entry, keyed by the physical
        slot as in phase IV). Runtime complexity: O(devices).

        >>> from vswap import SwapTableEdition
        >>> ste = SwapTableEdition(); _ = ste.folio_alloc_swap(1)
        >>> fp = ste.memory_footprint(); fp["swap_table"], fp["virtual_table"], fp["memcg_table"]
        (4096, 4096, 1024)
        """
        return VirtualCommon.memory_footprint(self)

    cdef dict _footprint_virtual(self):
        cdef uint64_t vcl = self.v.nr_clusters
        return {"vcluster_info": STE_CLUSTER_BYTES * vcl,
                "cluster_map": self.v.map.nr_nodes * XA_NODE_KERNEL_BYTES,
                "swap_table": 8 * STE_VCLUSTER_SIZE * vcl,
                "virtual_table": 8 * STE_VCLUSTER_SIZE * vcl,
                "memcg_table": 2 * STE_VCLUSTER_SIZE * vcl,
                "extend_table": 4 * STE_VCLUSTER_SIZE * self.v.nr_ext,
                "cluster_info": 0, "rmap": 0,
                # v1: zswap's own tree indexes the ghost entries too; v2 merged it into the clusters
                "zswap_tree": 8 * self.v.nr_zswap if self.v.rfc < 2 else 0}

    cdef int _footprint_dev(self, dict out, int t, swap_device_t* si) except -1:
        """A physical device's own: its memcg_tables, the direct entries' extend tables and tree.

        v1 gives every in-use cluster a memcg_table; v2 only the clusters
        holding a direct-mapped slot (allocated with the first one).
        """
        cdef uint64_t cl, n = 0
        if self.v.rfc >= 2:
            for cl in range(self._direct.d.devs[t].nr_clusters):
                n += self._direct.d.devs[t].used[cl] != 0
        else:
            n = si.nr_tables
        out["memcg_table"] += 2 * n * si.cluster_size
        out["extend_table"] += 4 * self._direct.d.devs[t].nr_ext_tables * si.cluster_size
        out["zswap_tree"] += 8 * self._direct.d.devs[t].zswap.nr
        return 0

    @property
    def stats(self):
        """The work counters as a dict: ``_ste.pxd``'s, plus the direct-mapped entries'.

        Those are phase IV's counters (``_swaptable.pxd``), added to the
        ones of the same name. Runtime complexity: O(1).

        >>> from vswap import SwapTableEdition
        >>> ste = SwapTableEdition(); _ = ste.folio_alloc_swap(1); ste.stats["vcache_misses"]
        1
        """
        out = dict(self.v.st)
        for k, n in (<dict>self._direct.stats).items():
            out[k] = out.get(k, 0) + n
        return out

    def reset_stats(self):
        """Zero every counter. Runtime complexity: O(1).

        >>> from vswap import SwapTableEdition
        >>> ste = SwapTableEdition(); _ = ste.folio_alloc_swap(1); ste.reset_stats()
        >>> ste.stats["table_writes"]
        0
        """
        memset(&self.v.st, 0, sizeof(ste_stats))
        self._direct.reset_stats()

    def check(self):
        """Assert the design's invariants, then the allocator's; AssertionError with a dump.

        Per ghost cluster: count = slots in use, exactly one place (a CPU's
        cache, its nonfull list, or neither), empty only while cached; per
        slot: a free slot keeps no state, a count of 0 only in the swap
        cache, the extend table holds counts past 14, a cached folio
        covers its aligned run, tags are known; PHYS words and the reverse
        map point at each other with the cache-only bit exactly on count-0
        cached slots; zswap, physical and memcg charge totals agree.
        Runtime complexity: O(slots).

        >>> from vswap import SwapTableEdition
        >>> ste = SwapTableEdition(); _ = ste.folio_alloc_swap(1, order=3); ste.check()
        """
        self._check_open()
        errors = []
        cdef ste_vcluster* c
        cdef swap_device_t* si
        cdef uint64_t i, j, n, b0, used = 0, nz = 0, nphys = 0, next_ = 0, live, w, x, p, slot
        cdef uint64_t off, r, ve, want_r
        cdef int t, k, ncached = 0, nnonfull = 0
        charges = {}
        seen = {}
        for cid, ptr in self._clusters():
            c = <ste_vcluster*><uint64_t>ptr
            seen[cid] = ptr
            if c.id != cid:
                errors.append(f"cluster {cid}: id {c.id}")
            live = 0
            for i in range(STE_VCLUSTER_SIZE):
                if c.table[i]:
                    live += 1
            if live != c.count:
                errors.append(f"cluster {cid}: count {c.count} but {live} slots in use")
            if c.count == 0 and c.state != VC_CACHED:
                errors.append(f"cluster {cid}: empty but still in the map")
            ncached += c.state == VC_CACHED
            nnonfull += c.state == VC_NONFULL
            if c.ext != NULL:
                next_ += 1
            for i in range(STE_VCLUSTER_SIZE):
                w = c.table[i]
                x = c.vtable[i]
                ve = ste_entry((cid << STE_VCLUSTER_SHIFT) + i)
                if w == TB_HEADER:
                    if cid != 0 or x or c.memcg[i]:
                        errors.append(f"{ve:#x}: header slot")
                    continue
                if not w:
                    if x or c.memcg[i] or (c.ext != NULL and c.ext[i]):
                        errors.append(f"{ve:#x}: free slot keeps state")
                    continue
                used += 1
                if tb_field(w) == 0 and not (w & SWP_TB_PIN):
                    errors.append(f"{ve:#x}: count 0 outside the swap cache")
                if tb_field(w) == SWP_TB_COUNT_MAX and (c.ext == NULL
                                                        or c.ext[i] < SWP_TB_COUNT_MAX):
                    errors.append(f"{ve:#x}: extend count missing")
                p = w & SWP_TB_PAYLOAD
                if swap_cache_is_folio(p):
                    if not (w & SWP_TB_PIN):
                        errors.append(f"{ve:#x}: folio stored outside the swap cache")
                    n = <uint64_t>1 << swap_cache_order(p)
                    b0 = i & ~(n - 1)
                    for j in range(b0, min(b0 + n, STE_VCLUSTER_SIZE)):
                        if (c.table[j] & SWP_TB_PAYLOAD) != p:
                            errors.append(f"{ve:#x}: folio run at {b0} broken")
                            break
                if (w & SWP_TB_ZERO) and (self.v.rfc < 2 or (x & SWP_TB_TAG_MASK) != VT_NONE):
                    errors.append(f"{ve:#x}: zero bit with virtual_table word {x:#x} (rfc {self.v.rfc})")
                if (x & SWP_TB_TAG_MASK) > self.v.vt_max:
                    errors.append(f"{ve:#x}: virtual_table tag {x & SWP_TB_TAG_MASK}")
                elif (x & SWP_TB_TAG_MASK) == self.v.vt_zswap:
                    nz += 1
                elif (x & SWP_TB_TAG_MASK) == VT_PHYS:
                    nphys += 1
                    charges[c.memcg[i]] = charges.get(c.memcg[i], 0) + 1
                    slot = vt_phys_slot(x)
                    t = <int>(slot >> SWP_TYPE_SHIFT)
                    off = slot & SWP_OFFSET_MASK
                    si = self.v.devs[t]
                    if si == NULL or off >= si.max or si.map[off] != SLOT_USED:
                        errors.append(f"{ve:#x}: physical slot {slot:#x} not allocated")
                        continue
                    r = swap_table_get(si, off)
                    want_r = ((((cid << STE_VCLUSTER_SHIFT) + i) << VT_TAG_BITS) | SWP_TB_RMAP)
                    if (r & RMAP_MASK) != want_r:
                        errors.append(f"{ve:#x}: rmap of {slot:#x} is {r:#x}")
                    if bool(r & SWAP_TABLE_CACHE_ONLY) != cache_only(c, i):
                        errors.append(f"{ve:#x}: cache-only bit, expected {cache_only(c, i)}")
        for k in range(SWAP_NR_ORDERS):
            c = self.v.nonfull[k].head
            while c != NULL:
                if c.state != VC_NONFULL or c.order != k or seen.get(c.id) != <uint64_t>c:
                    errors.append(f"nonfull[{k}]: cluster {c.id} misfiled")
                    break
                nnonfull -= 1
                c = c.next
        for k in range(NR_CPUS * SWAP_NR_ORDERS):
            c = self.v.vpcp[k]
            if c == NULL:
                continue
            ncached -= 1
            if (c.state != VC_CACHED or c.order != k % SWAP_NR_ORDERS
                    or seen.get(c.id) != <uint64_t>c):
                errors.append(f"vpcp[{k}]: cluster {c.id} misfiled")
        if ncached:
            errors.append("a cached cluster is not in any per-CPU cache")
        if nnonfull:
            errors.append("a nonfull cluster is not on its list")
        for k in range(NR_CPUS):
            c = self.v.mru[k]
            if c != NULL and seen.get(c.id) != <uint64_t>c:
                errors.append(f"lookup cache [{k}] names a freed cluster")
        if <uint64_t>len(seen) != self.v.nr_clusters or next_ != self.v.nr_ext:
            errors.append(f"{len(seen)} clusters, nr_clusters {self.v.nr_clusters}; "
                          f"{next_} extend tables, nr {self.v.nr_ext}")
        charged = vc_charged(&self.v)
        if charged != charges:
            errors.append(f"memcg charges {charged} but slots {charges}")
        vc_check_totals(&self.v, errors, used, nz, nphys, <void*>ste_reclaim)
        if errors:
            raise AssertionError("SwapTableEdition invariant violated:\n  "
                                 + "\n  ".join(errors[:20]))
        self._direct.check()     # the direct-mapped entries: every other used slot
        self._swaps.check()

    def snapshot(self):
        """The whole state as plain values; equal between compiled and reference.

        ``clusters``: ``id: (order, count, state, has extend table)``;
        ``entries``: every live ghost entry as ``(table word, virtual_table
        word, memcg, count)``; ``nonfull`` lists, ``vpcp`` caches and
        ``lookup_cache`` by cluster id; ``charge`` per memcg (physical
        backing and direct-mapped slots); totals; ``direct``: the
        direct-mapped entries as :meth:`vswap.SwapTableP4.snapshot`'s
        ``devices``, and ``direct_memcgs``; ``stats``; ``swaps``: the
        allocator's state (reverse-map words included). Runtime
        complexity: O(slots).

        >>> from vswap import SwapTableEdition
        >>> ste = SwapTableEdition(); e = ste.folio_alloc_swap(3); ste.snapshot()["vpcp"]
        {(0, 0): 0}
        """
        cdef ste_vcluster* c
        cdef uint64_t i, w
        cdef int k
        self._check_open()
        clusters = {}
        entries = {}
        for cid, ptr in self._clusters():
            c = <ste_vcluster*><uint64_t>ptr
            clusters[cid] = (c.order, c.count, c.state, int(c.ext != NULL))
            for i in range(STE_VCLUSTER_SIZE):
                w = c.table[i]
                if live_word(w):
                    entries[ste_entry((cid << STE_VCLUSTER_SHIFT) + i)] = (
                        w, c.vtable[i], c.memcg[i], count_of(c, i))
        nonfull = {k: vc_list_ids(self.v.nonfull[k].head) for k in range(SWAP_NR_ORDERS)
                   if self.v.nonfull[k].head != NULL}
        vpcp = {(k // SWAP_NR_ORDERS, k % SWAP_NR_ORDERS): self.v.vpcp[k].id
                for k in range(NR_CPUS * SWAP_NR_ORDERS) if self.v.vpcp[k] != NULL}
        common = vc_snapshot(&self.v)
        direct = self._direct.snapshot()["devices"]
        for dev in direct.values():
            for word, count, memcg, handle in dev["slots"].values():
                common["charge"][memcg] = common["charge"].get(memcg, 0) + 1
        return {"clusters": clusters, "entries": entries, "nonfull": nonfull, "vpcp": vpcp,
                "lookup_cache": vc_mru_ids(&self.v), "direct": direct,
                "direct_memcgs": self.direct_memcgs, **common,
                "stats": self.stats, "swaps": self._swaps._state()}

    def __repr__(self):
        return (f"SwapTableEdition(clusters={self.v.nr_clusters}, used={self.v.nr_used}, "
                f"switches={self.switches})")


SwapSpace.register(SwapTableEdition)


# --- the C protocol of the compiled replay (vswap/_swapops.pxd) ---------------------
# Each function does what the method of the same name does after its checks,
# on the CPU the replay names (the lookup cache and the allocators are per CPU).

cdef inline ste_t* ops_v(void* space, int cpu) noexcept:
    cdef ste_t* v = &(<SwapTableEdition>space).v
    v.cpu = cpu
    return v


cdef inline const swap_ops* direct_ops(void* space, uint64_t e, int cpu, void** p4) noexcept:
    """The hosted phase IV design's verb table when ``e`` is a direct-mapped entry, else NULL."""
    ops_v(space, cpu)
    if (e >> SWP_TYPE_SHIFT) == VSWAP_TYPE:
        return NULL
    p4[0] = <void*>(<SwapTableEdition>space)._direct
    return <const swap_ops*>(<SwapTableEdition>space)._direct._ops


cdef int sops_alloc(void* space, uint64_t folio, int order, uint16_t memcg, int cpu,
                    uint64_t* entry) except -1:
    ops_v(space, cpu)
    return vc_ops_entry((<SwapTableEdition>space)._alloc_any(folio, order, memcg, cpu), entry)


cdef int sops_dup(void* space, uint64_t e, uint64_t nr, int cpu) except -1:
    cdef void* p4 = NULL
    cdef const swap_ops* po = direct_ops(space, e, cpu, &p4)
    if po != NULL:
        return po.swap_duplicate(p4, e, nr, cpu)
    dup_pass(ops_v(space, cpu), e & SWP_OFFSET_MASK, nr)
    return 0


cdef int sops_free(void* space, uint64_t e, uint64_t nr, int cpu) except -1:
    cdef void* p4 = NULL
    cdef const swap_ops* po = direct_ops(space, e, cpu, &p4)
    if po != NULL:
        return po.swap_free_nr(p4, e, nr, cpu)
    put_pass(ops_v(space, cpu), e & SWP_OFFSET_MASK, nr)
    return 0


cdef int sops_fsc(void* space, uint64_t e, uint64_t nr, int cpu) except -1:
    cdef void* p4 = NULL
    cdef const swap_ops* po = direct_ops(space, e, cpu, &p4)
    if po != NULL:
        return po.free_swap_and_cache_nr(p4, e, nr, cpu)
    fsc_core(ops_v(space, cpu), e & SWP_OFFSET_MASK, nr)
    return 0


cdef int sops_zero(void* space, uint64_t e, uint64_t nr, int cpu) except -1:
    cdef void* p4 = NULL
    cdef const swap_ops* po = direct_ops(space, e, cpu, &p4)
    if po != NULL:
        return po.zero_store(p4, e, nr, cpu)
    zero_pass(ops_v(space, cpu), e & SWP_OFFSET_MASK, nr)
    return 0


cdef int sops_zswap(void* space, uint64_t e, uint64_t handle, int cpu) except -1:
    cdef void* p4 = NULL
    cdef const swap_ops* po = direct_ops(space, e, cpu, &p4)
    if po != NULL:
        return po.zswap_store(p4, e, handle, cpu)
    zswap_put(ops_v(space, cpu), e & SWP_OFFSET_MASK, handle)
    return 0


cdef int sops_writeback(void* space, uint64_t e, int order, uint64_t arg, int cpu) except -1:
    cdef void* p4 = NULL
    cdef const swap_ops* po = direct_ops(space, e, cpu, &p4)
    if po != NULL:
        return po.writeback(p4, e, order, arg, cpu)
    cdef uint64_t slot
    ops_v(space, cpu)
    return 1 if write_run(<SwapTableEdition>space, e & SWP_OFFSET_MASK, order, &slot) else 0


cdef int sops_swapin(void* space, uint64_t e, int order, uint64_t folio, int cpu) except -1:
    cdef void* p4 = NULL
    cdef const swap_ops* po = direct_ops(space, e, cpu, &p4)
    if po != NULL:
        return po.swapin_folio(p4, e, order, folio, cpu)
    cdef ste_t* v = ops_v(space, cpu)
    cache_prepare(v, e & SWP_OFFSET_MASK, <uint64_t>1 << order)
    cache_add(v, e & SWP_OFFSET_MASK, <uint64_t>1 << order, folio, order)
    return 0


cdef int sops_reclaim(void* space, uint64_t e, int order, uint64_t shadow, int cpu) except -1:
    cdef void* p4 = NULL
    cdef const swap_ops* po = direct_ops(space, e, cpu, &p4)
    if po != NULL:
        return po.reclaim_folio(p4, e, order, shadow, cpu)
    cdef ste_t* v = ops_v(space, cpu)
    cache_del(v, e & SWP_OFFSET_MASK, <uint64_t>1 << order,
              0 if shadow == OPS_NO_SHADOW else (shadow << 1) | 1)
    cache_put(v, e & SWP_OFFSET_MASK, <uint64_t>1 << order)
    return 0


cdef int sops_lookup(void* space, uint64_t e, int cpu, uint64_t* handle) except -1:
    cdef void* p4 = NULL
    cdef const swap_ops* po = direct_ops(space, e, cpu, &p4)
    if po != NULL:
        return po.lookup(p4, e, cpu, handle)
    cdef ste_t* v = ops_v(space, cpu)
    cdef uint64_t voff = e & SWP_OFFSET_MASK
    if (e >> SWP_TYPE_SHIFT) != VSWAP_TYPE or ste_peek(v, voff) == NULL:
        return OPS_FREE
    v.st.table_reads += 1
    v.st.vtable_reads += 1
    return ste_kind(v, ste_cluster(v, voff >> STE_VCLUSTER_SHIFT), voff & (STE_VCLUSTER_SIZE - 1),
                    handle)


cdef swap_ops STE_OPS = swap_ops_table(
    sops_alloc, sops_dup, sops_free, sops_fsc, sops_zero, sops_zswap, sops_writeback,
    sops_swapin, sops_reclaim, sops_lookup)
