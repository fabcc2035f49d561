"""The virtual swap design (linux-mm "Virtual Swap Space", v6): :class:`VirtualSwap`.

A swap entry is a *virtual* slot, ``cluster id * 512 + index``. Virtual
clusters of 512 slots live in one allocating xarray keyed by cluster id
(``vswap_cluster_map``: ids from ``xa_alloc``, lowest free first); each has
an allocation bitmap, a count, an order fixed for its life, a refcount and
512 descriptors (``struct swp_desc``, 24 bytes: backing, swap-cache folio or
shadow, 32-bit swap count, 16-bit memcg id, ``in_swapcache``, type). Where
the data lives is the descriptor's backing: a folio, a zero page, a zswap
handle (indexed by the virtual slot, no physical slot needed) or a physical
slot of the allocator below, whose table word holds the reverse map
(physical slot -> virtual entry, bit 63 the swap-cache-only flag).

The three optimisations of the April 2026 report are switches, so one
workload shows the work each removes: ``cache_only_bit`` (the physical
allocator's reclaim scan tests the reverse-map bit instead of looking the
slot up in the virtual layer), ``batched_cgroup_check`` (the batched free
path compares memcgs once per range instead of once per PTE) and
``mru_cluster_cache`` (each CPU keeps its most recently looked-up cluster
and skips the xarray walk when the next entry falls in it). The pure-Python
model with the same algorithm and counters is :mod:`vswap.reference.virtual`.
"""

cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free
from libc.string cimport memset

from vswap._swapops cimport swap_ops, swap_ops_table, OPS_FREE, OPS_NO_SHADOW
from vswap._prefetch cimport prefetch
from vswap._mem cimport checked_calloc
from vswap._common cimport to_u64
from vswap._virtual_common cimport (
    vcommon_t, vc_list_add, vc_list_del, vc_mru_forget, vc_reclaim_step, vc_alloc_prepare,
    vc_drop_devices, vc_types, vc_check_totals, vc_snapshot, vc_mru_ids, vc_list_ids, vc_ops_entry,
)
from vswap._swapentry cimport MEMCG_MAX, SWAP_CLUSTER_INFO_BYTES, XA_NODE_KERNEL_BYTES
from vswap._design cimport SwapDesign
from vswap._virtual_base cimport VirtualCommon
from vswap._swapfile cimport SwapDevice, SwapDevices, swap_device_t, swap_alloc_set
from vswap._swapfile cimport swap_table_get, swap_table_set, swap_free_batch, swap_batch_add
from vswap._swapfile cimport swap_batch_init, swap_batch_done
from vswap._swapfile cimport SWAP_TABLE_CACHE_ONLY, SLOT_USED
from vswap._clustermap cimport cluster_map_get, cluster_map_next
from vswap._xarray cimport (
    xa_entry, xa_init_flags, xa_destroy, xa_load, xa_erase, xa_alloc, XA_FLAGS_ALLOC,
)

import numpy as np

from vswap.errors import EntryExists, NoEntry, NoSpace
from vswap.protocol import LOOKUP_KINDS, Lookup, SwapSpace

__all__ = ["VirtualSwap", "VSWAP_PRESETS", "VSWAP_PRESET_OPTIONS", "SWP_DESC_BYTES"]

cdef extern from *:
    """
    #define vswap_ctz64(x) ((unsigned)__builtin_ctzll(x))
    #define vswap_popcount64(x) ((unsigned)__builtin_popcountll(x))
    """
    unsigned vswap_ctz64(uint64_t x) nogil
    unsigned vswap_popcount64(uint64_t x) nogil

cdef uint64_t RMAP_MASK = ~SWAP_TABLE_CACHE_ONLY
cdef uint64_t COUNT_LIMIT = 0xFFFFFFFF

#: The kernel's ``struct xa_node`` (the model's node is smaller, see the XArray docs).
#: Bytes of one descriptor (``struct swp_desc`` since v3).
SWP_DESC_BYTES = sizeof(swp_desc)
#: The report's builds as switch settings (cache_only_bit, batched_cgroup_check, mru_cluster_cache).
VSWAP_PRESETS = {
    "vss_v5": (False, False, False),
    "new_opt_v2": (True, True, False),
    "cc_v2": (True, True, True),
    "vswap_v3": (False, False, False),
}
#: Constructor options of a preset beyond the switches: ``vswap_v3`` is the
#: series' v3, before v4's "vswap: batch contiguous vswap free calls" (each
#: dead entry freed by its own call, under its own cluster lock).
VSWAP_PRESET_OPTIONS = {"vswap_v3": {"free_batching": False}}

_STAT_NAMES = ("lookups", "node_visits", "mru_hits", "mru_misses", "desc_reads", "desc_writes",
               "cluster_locks", "rmap_reads", "rmap_writes", "alloc_scans", "cgroup_checks",
               "cache_only_checks", "slots_freed", "folios_reclaimed", "phys_allocs",
               "phys_frees", "scans", "clusters_allocated", "clusters_freed", "global_locks",
               "used_updates")


# --- descriptors ------------------------------------------------------------------------

cdef inline int d_type(const swp_desc* d) noexcept nogil:
    return (d.flags >> 1) & 3


cdef inline void d_set_type(swp_desc* d, int t) noexcept nogil:
    d.flags = <uint8_t>((d.flags & DESC_IN_SWAPCACHE) | (t << 1))


cdef inline bint d_live(const swp_desc* d) noexcept nogil:
    """The derived refcount: live while counted or in the swap cache."""
    return d.swap_count != 0 or (d.flags & DESC_IN_SWAPCACHE) != 0


cdef inline bint d_cached(const swp_desc* d) noexcept nogil:
    return (d.flags & DESC_IN_SWAPCACHE) != 0


cdef inline int order_of(uint64_t nr) noexcept nogil:
    return vswap_ctz64(nr)


# --- the cluster map and the lookup path ---------------------------------------------------

cdef inline vcluster* vs_cluster(vswap_t* v, uint64_t cid) noexcept nogil:
    """The virtual cluster of id ``cid`` (or NULL): the CPU's MRU cluster first when enabled."""
    return <vcluster*>cluster_map_get(
        &v.map, cid, <void**>&v.mru[v.cpu] if v.opt_mru else NULL, &v.st.lookups,
        &v.st.node_visits, &v.st.mru_hits, &v.st.mru_misses)


cdef swp_desc* vswap_desc(vswap_t* v, uint64_t entry) noexcept nogil:
    """The live descriptor of ``entry`` through a counted lookup, or NULL."""
    cdef vcluster* c = vs_cluster(v, entry >> VCLUSTER_SHIFT)
    cdef swp_desc* d
    if c == NULL:
        return NULL
    d = &c.desc[entry & (VCLUSTER_SIZE - 1)]
    return d if d_live(d) else NULL


cdef inline swp_desc* vs_peek(vswap_t* v, uint64_t entry, vcluster** last) noexcept nogil:
    """Uncounted lookup for validation (``last`` caches the previous cluster); NULL if not live."""
    cdef uint64_t cid = entry >> VCLUSTER_SHIFT
    cdef vcluster* c = last[0]
    cdef swp_desc* d
    if c == NULL or c.id != cid:
        c = <vcluster*>xa_load(&v.map, cid)
        last[0] = c
    if c == NULL:
        return NULL
    d = &c.desc[entry & (VCLUSTER_SIZE - 1)]
    return d if d_live(d) else NULL


# --- partial lists and cluster lifetime --------------------------------------------------------

cdef inline void partial_add(vswap_t* v, vcluster* c) noexcept nogil:
    cdef vlist* l = &v.partial[c.order]
    vc_list_add(<void**>&l.head, <void**>&l.tail, c)
    l.nr += 1
    c.on_partial = 1


cdef inline void partial_del(vswap_t* v, vcluster* c) noexcept nogil:
    cdef vlist* l = &v.partial[c.order]
    vc_list_del(<void**>&l.head, <void**>&l.tail, c)
    l.nr -= 1
    c.on_partial = 0


cdef void cluster_destroy(vswap_t* v, vcluster* c) noexcept nogil:
    """refcount 0: erase from the map, drop MRU pointers, free (call_rcu in the kernel)."""
    cdef int i
    if c.on_partial:
        partial_del(v, c)
    xa_erase(&v.map, c.id)
    vc_mru_forget(v, c)
    if v.pf_cache[c.id & (PF_CACHE_SIZE - 1)] == c:
        v.pf_cache[c.id & (PF_CACHE_SIZE - 1)] = NULL
    free(c.desc)
    free(c)
    v.nr_clusters -= 1
    v.st.clusters_freed += 1
    v.st.global_locks += 1


cdef inline bint has_room(const vcluster* c) noexcept nogil:
    return c.count + (<uint32_t>1 << c.order) <= VCLUSTER_SIZE


cdef void cluster_after_free(vswap_t* v, vcluster* c) noexcept nogil:
    """After slots were released: free at refcount 0, or back on the partial list."""
    if c.refcnt == 0:
        cluster_destroy(v, c)
        return
    if c.full and has_room(c):
        c.full = 0
        if not c.cached:
            partial_add(v, c)
            v.st.global_locks += 1


# --- backing release (batched physical frees) ---------------------------------------------------

ctypedef swap_free_batch pbatch


cdef inline void pb_flush(vswap_t* v, pbatch* b) noexcept nogil:
    swap_batch_done(b, &v.st.phys_frees, &v.st.rmap_writes, &v.nr_phys)


cdef inline void pb_add(vswap_t* v, pbatch* b, uint64_t slot) noexcept nogil:
    swap_batch_add(b, v.devs[slot >> SWP_TYPE_SHIFT], slot & SWP_OFFSET_MASK)


cdef inline void release_backing(vswap_t* v, swp_desc* d, pbatch* b) noexcept nogil:
    """Drop what backs ``d`` (zswap copy, physical slot + its memcg charge)."""
    cdef int t = d_type(d)
    if t == VSWAP_SWAPFILE:
        pb_add(v, b, d.backing)
        v.charge[d.memcgid] -= 1
    elif t == VSWAP_ZSWAP:
        v.nr_zswap -= 1
    d.backing = 0


cdef void vswap_free_nr(vswap_t* v, vcluster* c, uint64_t idx, uint64_t n) noexcept nogil:
    """``n`` dead slots of one cluster (count 0, uncached) from ``idx``.

    Releases their backing (physical slots in batches by run), clears the
    descriptors and bitmap bits and drops the cluster's count and refcount;
    the caller runs cluster_after_free.
    """
    cdef pbatch b
    cdef uint64_t i
    swap_batch_init(&b)
    for i in range(idx, idx + n):
        release_backing(v, &c.desc[i], &b)
        memset(&c.desc[i], 0, sizeof(swp_desc))
        c.bitmap[i >> 6] &= ~(<uint64_t>1 << (i & 63))
    pb_flush(v, &b)
    v.st.desc_writes += n
    c.count -= <uint32_t>n
    c.refcnt -= <uint32_t>n
    v.nr_used -= n
    v.st.slots_freed += n
    v.st.used_updates += 1              # atomic_sub(nr, &vswap_used)


cdef inline void rmap_mark(vswap_t* v, swp_desc* d, bint on) noexcept nogil:
    """Set / clear SWP_RMAP_CACHE_ONLY of a SWAPFILE entry's slot (cache_only_bit only)."""
    cdef swap_device_t* si
    cdef uint64_t off, w
    if not v.opt_cache_only_bit:
        return
    si = v.devs[d.backing >> SWP_TYPE_SHIFT]
    off = d.backing & SWP_OFFSET_MASK
    w = swap_table_get(si, off)
    swap_table_set(si, off, (w | SWAP_TABLE_CACHE_ONLY) if on else (w & RMAP_MASK))
    v.st.rmap_writes += 1


# --- allocation ------------------------------------------------------------------------------------

cdef inline uint64_t find_run(const vcluster* c, uint64_t nr) noexcept nogil:
    """First free aligned run of ``nr`` slots (bitmap_find_next_zero_area at alignment nr),
    or VCLUSTER_SIZE when there is none (entries of a run may be freed one by one)."""
    cdef uint64_t i, w, mask
    cdef int k
    if nr == 1:
        for k in range(8):
            w = ~c.bitmap[k]
            if w:
                return (<uint64_t>k << 6) + vswap_ctz64(w)
        return VCLUSTER_SIZE
    if nr < 64:
        mask = (<uint64_t>1 << nr) - 1
        i = 0
        while i < VCLUSTER_SIZE:
            if not (c.bitmap[i >> 6] >> (i & 63)) & mask:
                return i
            i += nr
        return VCLUSTER_SIZE
    i = 0
    while i < VCLUSTER_SIZE:
        k = <int>(i >> 6)
        while k < <int>((i + nr) >> 6) and c.bitmap[k] == 0:
            k += 1
        if k == <int>((i + nr) >> 6):
            return i
        i += nr
    return VCLUSTER_SIZE


cdef inline void take_run(vswap_t* v, vcluster* c, uint64_t idx, uint64_t nr, uint64_t folio,
                          int order, uint16_t memcg) noexcept nogil:
    cdef uint64_t i, w = swap_cache_folio(folio, order)
    cdef swp_desc* d
    for i in range(idx, idx + nr):
        c.bitmap[i >> 6] |= <uint64_t>1 << (i & 63)
        d = &c.desc[i]
        d.backing = folio
        d.cache = w
        d.swap_count = 0
        d.memcgid = memcg
        d.flags = DESC_IN_SWAPCACHE | (VSWAP_FOLIO << 1)
    v.st.desc_writes += nr
    c.count += <uint32_t>nr
    c.refcnt += <uint32_t>nr
    v.nr_used += nr
    v.st.used_updates += 1              # atomic_add(nr, &vswap_used)


cdef vcluster* vswap_alloc_new_cluster(vswap_t* v, int order) except? NULL:
    """A fresh virtual cluster; NULL when the ids ran out (alloc_reject)."""
    cdef vcluster* c = <vcluster*>checked_calloc(1, sizeof(vcluster))
    cdef uint64_t cid = 0, nr = <uint64_t>1 << order
    cdef uint64_t i
    try:
        c.desc = <swp_desc*>checked_calloc(VCLUSTER_SIZE, sizeof(swp_desc))
        if xa_alloc(&v.map, &cid, <xa_entry>c, 1 if order == SWAP_NR_ORDERS - 1 else 0,
                    v.max_clusters - 1):
            free(c.desc)
            free(c)
            v.alloc_reject += 1
            return NULL
    except MemoryError:
        free(c.desc)
        free(c)
        raise
    c.id = cid
    c.order = <uint8_t>order
    if cid == 0:            # entry 0 stays invalid: cluster 0 never hands out its first run
        for i in range(nr):
            c.bitmap[i >> 6] |= <uint64_t>1 << (i & 63)
        c.count = <uint32_t>nr
        c.refcnt = <uint32_t>nr
    v.nr_clusters += 1
    v.st.clusters_allocated += 1
    return c


cdef uint64_t vs_alloc(vswap_t* v, uint64_t folio, int order, uint16_t memcg,
                       int cpu) except? 0xFFFFFFFFFFFFFFFF:
    """folio_alloc_swap on the virtual layer: the first entry, or 0 when ids ran out."""
    cdef uint64_t nr = <uint64_t>1 << order, idx = VCLUSTER_SIZE
    cdef vcluster** slot = &v.pcp[cpu * SWAP_NR_ORDERS + order]
    cdef vcluster* c = slot[0]
    if c != NULL:                        # this CPU's cached cluster, its lock only
        v.st.cluster_locks += 1
        v.st.alloc_scans += 1
        if has_room(c):                  # cluster_is_alloc_candidate
            idx = find_run(c, nr)
        if idx < VCLUSTER_SIZE:
            take_run(v, c, idx, nr, folio, order, memcg)
            if not has_room(c):          # no longer a candidate: uncache, full
                c.cached = 0
                c.full = 1
                c.refcnt -= 1
                slot[0] = NULL
            return (c.id << VCLUSTER_SHIFT) + idx
        c.cached = 0                     # it failed: drop it from the cache, full
        c.full = 1
        c.refcnt -= 1
        slot[0] = NULL
    v.st.global_locks += 1               # one section: the partial list, xa_alloc, partial_add
    while True:                          # the global lock: the partial list ...
        c = v.partial[order].head
        if c == NULL:
            break
        partial_del(v, c)
        v.st.cluster_locks += 1
        v.st.alloc_scans += 1
        idx = find_run(c, nr)
        if idx < VCLUSTER_SIZE:
            break
        c.full = 1                       # fragmented: no aligned run left
    if c == NULL:                        # ... then a new cluster
        c = vswap_alloc_new_cluster(v, order)
        if c == NULL:                    # the ids ran out (counted in alloc_reject)
            return 0
        v.st.cluster_locks += 1
        v.st.alloc_scans += 1
        idx = find_run(c, nr)
    take_run(v, c, idx, nr, folio, order, memcg)
    if not has_room(c):
        c.full = 1
    elif slot[0] == NULL:
        c.cached = 1
        c.refcnt += 1
        slot[0] = c
    else:
        partial_add(v, c)
    return (c.id << VCLUSTER_SHIFT) + idx


# --- counts and the free paths ---------------------------------------------------------------------

cdef inline uint64_t chunk_end(uint64_t cur, uint64_t end) noexcept nogil:
    cdef uint64_t e = (cur | (VCLUSTER_SIZE - 1)) + 1
    return e if e < end else end


cdef void vswap_swap_duplicate_nr(vswap_t* v, uint64_t e, uint64_t n) noexcept nogil:
    """swap_duplicate_nr after validation: one lookup and lock per cluster."""
    cdef uint64_t cur = e, end = e + n, ce, i
    cdef vcluster* c
    cdef swp_desc* d
    while cur < end:
        ce = chunk_end(cur, end)
        c = vs_cluster(v, cur >> VCLUSTER_SHIFT)
        v.st.cluster_locks += 1
        for i in range(cur, ce):
            d = &c.desc[i & (VCLUSTER_SIZE - 1)]
            if d.swap_count == 0 and d_type(d) == VSWAP_SWAPFILE:
                rmap_mark(v, d, False)          # 0 -> 1: no longer cache-only
            d.swap_count += 1
        v.st.desc_reads += ce - cur
        v.st.desc_writes += ce - cur
        cur = ce


cdef bint put_pass(vswap_t* v, uint64_t e, uint64_t n) noexcept nogil:
    """The decrement pass: count - 1 on each entry; free dead runs, flushed at cluster
    and memcg boundaries; mark cache-only ones. True if one became cache-only."""
    cdef uint64_t cur = e, end = e + n, ce, i, idx, run = 0, nrun = 0
    cdef uint16_t run_memcg = 0
    cdef bint only = False
    cdef vcluster* c
    cdef swp_desc* d
    while cur < end:
        ce = chunk_end(cur, end)
        c = vs_cluster(v, cur >> VCLUSTER_SHIFT)
        v.st.cluster_locks += 1
        nrun = 0
        for i in range(cur, ce):
            idx = i & (VCLUSTER_SIZE - 1)
            d = &c.desc[idx]
            d.swap_count -= 1
            if d.swap_count == 0:
                if not d_cached(d) and not v.free_batching:
                    vswap_free_nr(v, c, idx, 1)     # v3: a call and a lock per entry
                    v.st.cluster_locks += 1
                    continue
                if not d_cached(d):
                    if nrun and d.memcgid != run_memcg:
                        vswap_free_nr(v, c, run, nrun)
                        nrun = 0
                    if nrun == 0:
                        run = idx
                        run_memcg = d.memcgid
                    nrun += 1
                    continue
                if d_type(d) == VSWAP_SWAPFILE:
                    rmap_mark(v, d, True)
                only = True
            if nrun:
                vswap_free_nr(v, c, run, nrun)
                nrun = 0
        v.st.desc_reads += ce - cur
        v.st.desc_writes += ce - cur
        if nrun:
            vswap_free_nr(v, c, run, nrun)
        cluster_after_free(v, c)
        cur = ce
    return only


cdef int reclaim_folio(vswap_t* v, vcluster* c, uint64_t idx, uint64_t* phys_run,
                       uint64_t phys_at) noexcept nogil:
    """folio_free_swap of the folio cached at slot ``idx`` if all its counts are 0.

    Returns its pages when freed, minus them when kept, 0 with no folio.
    With ``phys_at`` (a physical slot), ``*phys_run`` gets how many of the
    freed physical slots follow on from it.
    """
    cdef swp_desc* d = &c.desc[idx]
    cdef uint64_t n, base, i, ve, run = 0
    v.st.cluster_locks += 1
    v.st.desc_reads += 1
    if not d_live(d) or not swap_cache_is_folio(d.cache):
        return 0
    n = <uint64_t>1 << swap_cache_order(d.cache)
    base = idx & ~(n - 1)
    ve = (c.id << VCLUSTER_SHIFT) + base
    if ve < v.locked_hi and ve + n > v.locked_lo:      # folio locked (being written out)
        return -<int>n
    v.st.desc_reads += n
    for i in range(base, base + n):
        if c.desc[i].swap_count:
            return -<int>n
    for i in range(base, base + n):
        d = &c.desc[i]
        if phys_at and d_type(d) == VSWAP_SWAPFILE and d.backing == phys_at + run:
            run += 1
        d.cache = 0
        d.flags &= ~DESC_IN_SWAPCACHE
    if phys_run != NULL:
        phys_run[0] = run
    vswap_free_nr(v, c, base, n)
    v.st.folios_reclaimed += 1
    cluster_after_free(v, c)
    return <int>n


cdef void fsc_core(vswap_t* v, uint64_t e, uint64_t n) noexcept nogil:
    """free_swap_and_cache_nr after validation."""
    cdef uint64_t i, cur, end = e + n, step
    cdef vcluster* c
    cdef swp_desc* d
    cdef int r
    # swap_pte_batch: the PTEs of the range must belong to one memcg
    if v.opt_batched_cgroup:
        vs_cluster(v, e >> VCLUSTER_SHIFT)
        v.st.desc_reads += 1
        v.st.cgroup_checks += 1
    else:
        for i in range(e, end):
            vs_cluster(v, i >> VCLUSTER_SHIFT)
        v.st.desc_reads += n
        v.st.cgroup_checks += n
    if not put_pass(v, e, n):
        return
    cur = e
    while cur < end:                    # cache-only reclaim, folio by folio
        step = 1
        c = vs_cluster(v, cur >> VCLUSTER_SHIFT)
        if c != NULL:
            d = &c.desc[cur & (VCLUSTER_SIZE - 1)]
            v.st.desc_reads += 1
            if d.swap_count == 0 and d_cached(d):
                r = reclaim_folio(v, c, cur & (VCLUSTER_SIZE - 1), NULL, 0)
                step = vc_reclaim_step(cur, r)
        cur += step


# --- the physical allocator's hooks ------------------------------------------------------------------

cdef int vswap_reclaim(void* ctx, swap_device_t* si, uint64_t offset) noexcept nogil:
    """The allocator's reclaim hook: rmap -> virtual entry -> free its cache-only folio."""
    cdef vswap_t* v = <vswap_t*>ctx
    cdef uint64_t w, ve, run = 0, slot = (<uint64_t>si.type << SWP_TYPE_SHIFT) | offset
    cdef vcluster* c
    cdef swp_desc* d
    cdef int r
    if si.type < 0 or si.type >= MAX_SWAPFILES or v.devs[si.type] != si:
        return 0
    v.st.rmap_reads += 1
    w = swap_table_get(si, offset) & RMAP_MASK
    if w == 0:
        return 0
    c = vs_cluster(v, w >> VCLUSTER_SHIFT)
    if c == NULL:
        return 0
    d = &c.desc[w & (VCLUSTER_SIZE - 1)]
    if not d_live(d) or d_type(d) != VSWAP_SWAPFILE or d.backing != slot:
        return 0
    r = reclaim_folio(v, c, w & (VCLUSTER_SIZE - 1), &run, slot)
    if r > 0:
        return <int>run if run > 0 else 1
    return -1 if r < 0 else 0


cdef bint vswap_cache_only(void* ctx, swap_device_t* si, uint64_t offset) noexcept nogil:
    """vss_v5's cache-only test: rmap -> lookup in the virtual layer -> descriptor."""
    cdef vswap_t* v = <vswap_t*>ctx
    cdef uint64_t w
    cdef swp_desc* d
    v.st.cache_only_checks += 1
    v.st.rmap_reads += 1
    w = swap_table_get(si, offset) & RMAP_MASK
    if w == 0:
        return False
    d = vswap_desc(v, w)
    v.st.desc_reads += 1
    return (d != NULL and d.swap_count == 0 and d_cached(d)
            and d_type(d) == VSWAP_SWAPFILE)


cdef int lookup_kind(const swp_desc* d, uint64_t* handle) noexcept nogil:
    if swap_cache_is_folio(d.cache):
        handle[0] = swap_cache_folio_id(d.cache)
        return VSWAP_FOLIO
    handle[0] = d.backing
    return d_type(d)             # the descriptor types are the lookup codes


# --- verb cores: the work after validation, shared by the methods and the replay ---

cdef void zero_nr(vswap_t* v, uint64_t e, uint64_t n) noexcept nogil:
    cdef uint64_t i, cur = e, ce, end = e + n
    cdef vcluster* c
    cdef swp_desc* d
    cdef pbatch b
    swap_batch_init(&b)
    while cur < end:
        ce = chunk_end(cur, end)
        c = vs_cluster(v, cur >> VCLUSTER_SHIFT)
        v.st.cluster_locks += 1
        for i in range(cur, ce):
            d = &c.desc[i & (VCLUSTER_SIZE - 1)]
            release_backing(v, d, &b)
            d_set_type(d, VSWAP_ZERO)
        v.st.desc_writes += ce - cur
        cur = ce
    pb_flush(v, &b)


cdef void cache_prepare(vswap_t* v, uint64_t e, uint64_t n) noexcept nogil:
    cdef uint64_t i, cur = e, ce, end = e + n
    cdef vcluster* c
    while cur < end:
        ce = chunk_end(cur, end)
        c = vs_cluster(v, cur >> VCLUSTER_SHIFT)
        v.st.cluster_locks += 1
        for i in range(cur, ce):
            c.desc[i & (VCLUSTER_SIZE - 1)].flags |= DESC_IN_SWAPCACHE
        v.st.desc_writes += ce - cur
        cur = ce


cdef uint64_t cache_add(vswap_t* v, uint64_t e, uint64_t nr, uint64_t folio, int order) noexcept nogil:
    """Store ``folio`` on prepared entries; the first one's old cache word (its shadow)."""
    cdef vcluster* c = vs_cluster(v, e >> VCLUSTER_SHIFT)
    cdef uint64_t i, first
    v.st.cluster_locks += 1
    first = c.desc[e & (VCLUSTER_SIZE - 1)].cache
    for i in range(e, e + nr):
        c.desc[i & (VCLUSTER_SIZE - 1)].cache = swap_cache_folio(folio, order)
    v.st.desc_reads += nr
    v.st.desc_writes += nr
    return first


cdef void cache_del(vswap_t* v, uint64_t e, uint64_t nr, uint64_t shadow_word) noexcept nogil:
    cdef vcluster* c = vs_cluster(v, e >> VCLUSTER_SHIFT)
    cdef uint64_t i
    v.st.cluster_locks += 1
    for i in range(e, e + nr):
        c.desc[i & (VCLUSTER_SIZE - 1)].cache = shadow_word
    v.st.desc_writes += nr


cdef void cache_put(vswap_t* v, uint64_t e, uint64_t nr) noexcept nogil:
    """put_swap_folio: uncache; entries left with count 0 are freed (one batch when all are)."""
    cdef vcluster* c = vs_cluster(v, e >> VCLUSTER_SHIFT)
    cdef uint64_t idx, base = e & (VCLUSTER_SIZE - 1)
    cdef bint all_only = True
    for idx in range(base, base + nr):
        if c.desc[idx].swap_count:
            all_only = False
    v.st.cluster_locks += 1
    v.st.desc_writes += nr
    for idx in range(base, base + nr):
        c.desc[idx].flags &= ~DESC_IN_SWAPCACHE
    if all_only:
        vswap_free_nr(v, c, base, nr)
    else:
        for idx in range(base, base + nr):
            if c.desc[idx].swap_count == 0:
                vswap_free_nr(v, c, idx, 1)
    cluster_after_free(v, c)


cdef int lookup_core(vswap_t* v, uint64_t e, uint64_t* handle) noexcept nogil:
    v.st.desc_reads += 1
    return lookup_kind(vswap_desc(v, e), handle)


cdef int vswap_alloc_swap_slot(VirtualSwap self, uint64_t e, int o, uint64_t* slot) except -1:
    """For live entries: 0 and the run's first slot, 1 (or 2) if no space.

    The caller has attached the set's devices (``_sync_devices``)."""
    cdef uint64_t nr = <uint64_t>1 << o, i, off = 0, slot0, w
    cdef vcluster* last = NULL
    cdef vcluster* c
    cdef swp_desc* d
    cdef swap_device_t* si = NULL
    cdef bint contiguous = True
    cdef pbatch b
    self._check_open()
    slot0 = vs_peek(&self.v, e, &last).backing
    for i in range(e, e + nr):
        d = vs_peek(&self.v, i, &last)
        if d_type(d) != VSWAP_SWAPFILE or d.backing != slot0 + (i - e):
            contiguous = False
            break
    if contiguous:                       # already on a device as one run: reuse it
        vs_cluster(&self.v, e >> VCLUSTER_SHIFT)
        self.v.st.desc_reads += nr
        slot[0] = slot0
        return 0
    if self._cluster_size == 0 or nr > self._cluster_size:   # no device, or runs too long
        return 2
    self.v.locked_lo = e                 # the folio under writeout: reclaim must skip it
    self.v.locked_hi = e + nr
    try:
        swap_alloc_set(&self._swaps.g, o, self.v.cpu, &si, &off)
    finally:
        self.v.locked_lo = 0
        self.v.locked_hi = 0
    if off == 0:
        return 1
    self.v.st.phys_allocs += 1
    c = vs_cluster(&self.v, e >> VCLUSTER_SHIFT)
    self.v.st.cluster_locks += 1
    swap_batch_init(&b)
    for i in range(nr):
        d = &c.desc[(e + i) & (VCLUSTER_SIZE - 1)]
        release_backing(&self.v, d, &b)
        d_set_type(d, VSWAP_SWAPFILE)
        d.backing = (<uint64_t>si.type << SWP_TYPE_SHIFT) | (off + i)
        self.v.charge[d.memcgid] += 1
        w = e + i
        if self.v.opt_cache_only_bit and d.swap_count == 0 and d_cached(d):
            w |= SWAP_TABLE_CACHE_ONLY
        swap_table_set(si, off + i, w)
    pb_flush(&self.v, &b)
    self.v.nr_phys += nr
    self.v.st.rmap_writes += nr
    self.v.st.desc_writes += nr
    slot[0] = (<uint64_t>si.type << SWP_TYPE_SHIFT) | off
    return 0


cdef object raise_noent(uint64_t e, str what="is not allocated"):
    raise NoEntry(f"swap entry {e:#x} {what}")


# no_gc_clear: __dealloc__ restores each device's hooks, so the device
# references must survive a garbage-collector pass.
@cython.no_gc_clear
cdef class VirtualSwap(VirtualCommon):
    """The virtual swap design (v6 semantics) over a set of physical devices.

    ``swaps`` is the :class:`~vswap.SwapDevices` set of physical devices
    (it may be empty: zswap and zero pages need no physical slot). The
    switches are the report's optimisations (see the module docs and
    :meth:`preset`); every setting gives the same results, only the
    counted work differs. ``max_clusters`` caps the cluster ids (the
    kernel's 32-bit xa_alloc range). Implements
    :class:`vswap.protocol.SwapSpace`.

    Memory (kernel-equivalent, see :meth:`memory_footprint`): a 24-byte
    descriptor per allocated virtual slot, a 64-byte bitmap per virtual
    cluster, the cluster map's xarray nodes; on the physical side 2 bits per
    slot and an 8-byte reverse-map word per slot of every in-use cluster.

    Runtime complexity: construction O(physical slots).

    >>> from vswap import VirtualSwap, SwapDevice, SwapDevices
    >>> vs = VirtualSwap(SwapDevices([SwapDevice(256, cluster_size=16)]))
    >>> e = vs.folio_alloc_swap(folio=7)
    >>> vs.swap_duplicate(e); e, vs.swap_count(e), vs.lookup(e)
    (1, 1, Lookup(kind='folio', handle=7))
    """

    #: The trait the memory model reads (vswap.protocol.SwapSpace.entry_is_slot):
    #: an entry is virtual; what backs it is not a device slot.
    entry_is_slot = False
    #: The memory model's other trait (SwapSpace.swapin_bypasses_swap_cache): the series keeps 6.19's bypass for a zram-backed entry.
    swapin_bypasses_swap_cache = True

    def __cinit__(self):
        memset(&self.v, 0, sizeof(vswap_t))
        xa_init_flags(&self.v.map, XA_FLAGS_ALLOC)
        # Per-memcg charge: here, not in __init__, so a bare instance is safe.
        self.v.charge = <uint64_t*>checked_calloc(MEMCG_MAX, sizeof(uint64_t))
        self._ctx = <void*>&self.v
        self._reclaim = vswap_reclaim
        self._ops = <void*>&VIRTUAL_OPS
        self._vc = <vcommon_t*>&self.v
        self._scans = &self.v.st.scans
        self._cluster_info_bytes = SWAP_CLUSTER_INFO_BYTES

    def __init__(self, swaps=None, *, cache_only_bit=True, batched_cgroup_check=True,
                 mru_cluster_cache=True, max_clusters=1 << 32, free_batching=True):
        cdef uint64_t mc = to_u64(max_clusters, (<uint64_t>1 << 32) + 1, "max_clusters")
        if mc == 0:
            raise ValueError("max_clusters must be at least 1")
        self._claim(SwapDevices() if swaps is None else swaps)   # ValueError: another design's
        self.v.max_clusters = mc
        self.v.opt_cache_only_bit = bool(cache_only_bit)
        self.v.opt_batched_cgroup = bool(batched_cgroup_check)
        self.v.opt_mru = bool(mru_cluster_cache)
        self.v.free_batching = bool(free_batching)
        # Without the reverse-map bit (vss_v5) the allocator asks this layer.
        if not self.v.opt_cache_only_bit:
            self._cache_only = vswap_cache_only
        self._sync_devices()

    @classmethod
    def preset(cls, name, swaps=None, **kwargs):
        """A design with the switches of one of the report's builds.

        ``"vss_v5"`` (all off), ``"new_opt_v2"`` (cache-only bit and
        once-per-range cgroup check), ``"cc_v2"`` (those and the per-CPU MRU
        cluster cache); ``"vswap_v3"``: the series' v3, vss_v5's switches
        without v4's free batching (``free_batching=False``: each dead entry
        of a free is released by its own call under its own cluster lock).
        KeyError for another name. Runtime complexity: as the constructor.

        >>> from vswap import VirtualSwap
        >>> VirtualSwap.preset("new_opt_v2").switches
        {'cache_only_bit': True, 'batched_cgroup_check': True, 'mru_cluster_cache': False}
        """
        a, b, c = VSWAP_PRESETS[name]
        return cls(swaps, cache_only_bit=a, batched_cgroup_check=b, mru_cluster_cache=c,
                   **{**VSWAP_PRESET_OPTIONS.get(name, {}), **kwargs})

    def __dealloc__(self):
        cdef uint64_t pos = 0, cid = 0
        cdef vcluster* c
        self._release_devices()
        c = <vcluster*>cluster_map_next(&self.v.map, &pos, &cid)
        while c != NULL:
            free(c.desc)
            free(c)
            c = <vcluster*>cluster_map_next(&self.v.map, &pos, &cid)
        xa_destroy(&self.v.map)
        free(self.v.charge)
        self.v.charge = NULL

    cdef void _drop_devices(self) noexcept:
        vc_drop_devices(&self.v)

    cdef int _attach(self, int t, SwapDevice dev) except -1:
        SwapDesign._attach(self, t, dev)
        self.v.devs[t] = &dev.si
        return 0

    cdef uint64_t _range(self, object entry, uint64_t nr, bint aligned) except? 0xFFFFFFFFFFFFFFFF:
        """The entry value, after checking ``entry .. entry+nr-1`` is a valid virtual run."""
        cdef uint64_t e = to_u64(entry, <uint64_t>1 << 63, "swap entry")
        cdef uint64_t vmax = self.v.max_clusters << VCLUSTER_SHIFT
        if self._swaps is None:
            self._check_open()
        if nr == 0:
            raise ValueError("nr must be at least 1")
        if e >= vmax or nr > vmax - e:
            raise ValueError(f"swap entry {e:#x}: {nr} entries pass the virtual space end {vmax}")
        if aligned and e & (nr - 1):
            raise ValueError(f"swap entry {e:#x} is not aligned to {nr} entries")
        return e

    cdef swp_desc* _live(self, uint64_t e) except NULL:
        cdef vcluster* last = NULL
        cdef swp_desc* d = vs_peek(&self.v, e, &last)
        if d == NULL:
            raise_noent(e)
        return d

    # -- configuration ----------------------------------------------------------------------

    @property
    def switches(self):
        """The three optimisation switches as a dict. Runtime complexity: O(1).

        >>> from vswap import VirtualSwap
        >>> VirtualSwap.preset("vss_v5").switches["mru_cluster_cache"]
        False
        """
        return {"cache_only_bit": bool(self.v.opt_cache_only_bit),
                "batched_cgroup_check": bool(self.v.opt_batched_cgroup),
                "mru_cluster_cache": bool(self.v.opt_mru)}

    @property
    def free_batching(self):
        """Whether a free releases each run of dead entries in one call (v4 on), not one per entry (v3).

        Runtime complexity: O(1).

        >>> from vswap import VirtualSwap
        >>> VirtualSwap.preset("vswap_v3").free_batching, VirtualSwap().free_batching
        (False, True)
        """
        return bool(self.v.free_batching)

    # -- allocation and counts -------------------------------------------------------------------

    def folio_alloc_swap(self, folio, order=0, memcg=0, cpu=0):
        """Allocate ``2**order`` aligned virtual entries cached with ``folio``; the first.

        ``folio_alloc_swap`` of v6: the CPU's cached cluster of that order,
        then the order's partial list, then a new cluster from ``xa_alloc``.
        Each entry: FOLIO-backed by ``folio``, count 0, ``in_swapcache``,
        memcg id ``memcg``. No physical slot is taken. NoSpace when the
        cluster ids ran out (``alloc_reject``). Runtime complexity:
        O(2**order) amortised.

        >>> from vswap import VirtualSwap
        >>> vs = VirtualSwap()
        >>> e = vs.folio_alloc_swap(5, order=2, memcg=3)
        >>> e, vs.swap_cache_get_folio(e + 3), vs.memcg_id(e + 1), vs.swap_count(e)
        (4, 5, 3, 0)
        """
        cdef uint64_t f = to_u64(folio, FOLIO_MAX, "folio")
        cdef int order_ = <int>to_u64(order, SWAP_NR_ORDERS, "order")
        cdef uint64_t m = to_u64(memcg, MEMCG_MAX, "memcg")
        cdef int c = <int>to_u64(cpu, NR_CPUS, "cpu")
        cdef uint64_t e
        self._sync_devices()
        e = vs_alloc(&self.v, f, order_, <uint16_t>m, c)
        if e == 0:
            raise NoSpace(f"no virtual cluster id left for an order-{order_} run")
        return e

    cdef int _alloc_prepare(self, object order, object memcg, object cpu,
                            uint64_t* o, uint64_t* m, uint64_t* c) except -1:
        return vc_alloc_prepare(self, order, memcg, cpu, o, m, c)

    cdef uint64_t _alloc_entry(self, uint64_t folio, uint64_t o, uint64_t m,
                               uint64_t c) except? 0xFFFFFFFFFFFFFFFF:
        return vs_alloc(&self.v, folio, <int>o, <uint16_t>m, <int>c)

    cdef int _dup_entry(self, uint64_t e) except -1:
        vswap_swap_duplicate_nr(&self.v, e, 1)
        return 0

    cdef int _free_entry(self, uint64_t e) except -1:
        put_pass(&self.v, e, 1)
        return 0

    cdef int _zswap_entry(self, uint64_t e, uint64_t handle) except -1:
        return self._zswap_put(e, handle)

    cdef int _fsc_entries(self, uint64_t e, uint64_t nr) except -1:
        fsc_core(&self.v, e, nr)
        return 0

    def swap_duplicate(self, entry, nr=1):
        """Add one count to each of ``nr`` entries (``swap_duplicate_nr``).

        Going 0 -> 1 on a swapfile-backed entry clears its reverse-map
        cache-only bit. NoEntry if one is free, NoSpace past 2**32-1;
        nothing changes on error. Runtime complexity: O(nr).

        >>> from vswap import VirtualSwap
        >>> vs = VirtualSwap(); e = vs.folio_alloc_swap(1)
        >>> vs.swap_duplicate(e); vs.swap_duplicate(e); vs.swap_count(e)
        2
        """
        cdef uint64_t n = to_u64(nr, <uint64_t>1 << SWP_TYPE_SHIFT, "nr")
        cdef uint64_t e = self._range(entry, n, False), i
        cdef vcluster* last = NULL
        cdef swp_desc* d
        for i in range(e, e + n):
            d = vs_peek(&self.v, i, &last)
            if d == NULL:
                raise_noent(i)
            if d.swap_count >= COUNT_LIMIT:
                raise NoSpace(f"swap count of {i:#x} would pass 2**32-1")
        vswap_swap_duplicate_nr(&self.v, e, n)

    cdef int _batch_entry(self, uint64_t e, void** cache) except -1:
        if e >= self.v.max_clusters << VCLUSTER_SHIFT:
            self._range(e, 1, False)        # raises the ValueError
        if vs_peek(&self.v, e, <vcluster**>cache) == NULL:
            raise_noent(e)
        return 0

    cdef int _batch_count(self, uint64_t e, uint64_t k, bint need_count, bint dup,
                          void** cache) except -1:
        cdef swp_desc* d = vs_peek(&self.v, e, <vcluster**>cache)
        if dup and d.swap_count + k > COUNT_LIMIT:
            raise NoSpace(f"swap count of {e:#x} would pass 2**32-1")
        if need_count and d.swap_count < k:
            raise_noent(e, "has a swap count of 0")
        return 0

    cdef int _check_counted(self, uint64_t e, uint64_t n) except -1:
        cdef vcluster* last = NULL
        cdef swp_desc* d
        cdef uint64_t i
        for i in range(e, e + n):
            d = vs_peek(&self.v, i, &last)
            if d == NULL or d.swap_count == 0:
                raise_noent(i, "is free or has a swap count of 0")
        return 0

    def swap_free_nr(self, entry, nr=1):
        """Drop one count from each of ``nr`` entries (``swap_free_nr``).

        An entry left with count 0 that is not cached is freed (runs in
        one batch per cluster and memcg); a swapfile-backed one left cached
        gets the reverse-map cache-only bit. NoEntry if one is free or has
        count 0; nothing changes on error. Runtime complexity: O(nr).

        >>> from vswap import VirtualSwap
        >>> vs = VirtualSwap(); e = vs.folio_alloc_swap(1); vs.swap_duplicate(e)
        >>> vs.swap_free_nr(e); vs.swap_count(e)
        0
        """
        cdef uint64_t n = to_u64(nr, <uint64_t>1 << SWP_TYPE_SHIFT, "nr")
        cdef uint64_t e = self._range(entry, n, False)
        self._check_counted(e, n)
        put_pass(&self.v, e, n)

    def free_swap_and_cache_nr(self, entry, nr=1):
        """The zap path: drop one count on each of ``nr`` entries, then reclaim.

        First the memcg check of ``swap_pte_batch`` (once per range with
        ``batched_cgroup_check``, else a lookup per PTE); then one decrement
        pass freeing dead runs in batches, flushed at cluster and memcg
        boundaries (cache-only swapfile entries get the reverse-map bit);
        then each cache-only entry's folio is freed if all its counts are 0.
        NoEntry as for :meth:`swap_free_nr`. Runtime complexity: O(nr).

        >>> from vswap import VirtualSwap
        >>> vs = VirtualSwap(); e = vs.folio_alloc_swap(9, order=2); vs.swap_duplicate(e, 4)
        >>> vs.free_swap_and_cache_nr(e, 4); vs.snapshot()["nr_used"]
        0
        """
        cdef uint64_t n = to_u64(nr, <uint64_t>1 << SWP_TYPE_SHIFT, "nr")
        cdef uint64_t e = self._range(entry, n, False)
        self._check_counted(e, n)
        fsc_core(&self.v, e, n)

    def swap_count(self, entry):
        """The swap count of an allocated entry (``swp_swapcount``); NoEntry if free.

        Runtime complexity: O(1) plus one lookup.

        >>> from vswap import VirtualSwap
        >>> vs = VirtualSwap(); e = vs.folio_alloc_swap(1); vs.swap_duplicate(e); vs.swap_count(e)
        1
        """
        cdef uint64_t e = self._range(entry, 1, False)
        self._live(e)
        self.v.st.desc_reads += 1
        return vswap_desc(&self.v, e).swap_count

    def memcg_id(self, entry):
        """The memcg id recorded in the entry's descriptor (``lookup_swap_cgroup_id``).

        Runtime complexity: O(1) plus one lookup.

        >>> from vswap import VirtualSwap
        >>> vs = VirtualSwap(); vs.memcg_id(vs.folio_alloc_swap(1, memcg=12))
        12
        """
        cdef uint64_t e = self._range(entry, 1, False)
        self._live(e)
        self.v.st.desc_reads += 1
        return vswap_desc(&self.v, e).memcgid

    # -- the swap cache ---------------------------------------------------------------------------------

    def swapcache_prepare(self, entry, nr=1):
        """Set ``in_swapcache`` on ``nr`` entries for a swap-in (``swapcache_prepare``).

        EntryExists if one is cached, NoEntry if one is free (the first
        offending entry decides); nothing changes on error. Runtime
        complexity: O(nr).

        >>> from vswap import VirtualSwap, EntryExists
        >>> vs = VirtualSwap(); e = vs.folio_alloc_swap(1)
        >>> try: vs.swapcache_prepare(e)
        ... except EntryExists: print("cached")
        cached
        """
        cdef uint64_t n = to_u64(nr, <uint64_t>1 << SWP_TYPE_SHIFT, "nr")
        cdef uint64_t e = self._range(entry, n, False), i
        cdef vcluster* last = NULL
        cdef swp_desc* d
        for i in range(e, e + n):
            d = vs_peek(&self.v, i, &last)
            if d == NULL:
                raise_noent(i)
            if d_cached(d):
                raise EntryExists(f"swap entry {i:#x} is already in the swap cache")
        cache_prepare(&self.v, e, n)

    def swap_cache_add_folio(self, entry, folio, order=0):
        """Store ``folio`` on ``2**order`` prepared entries; return the first one's shadow.

        The entries must be prepared (ValueError otherwise) and hold no
        folio (EntryExists). Runtime complexity: O(2**order).

        >>> from vswap import VirtualSwap
        >>> vs = VirtualSwap(); e = vs.folio_alloc_swap(1); vs.swap_duplicate(e)
        >>> vs.swap_cache_del_folio(e, shadow=77); vs.put_swap_folio(e)
        >>> vs.swapcache_prepare(e); vs.swap_cache_add_folio(e, folio=2)
        77
        """
        cdef uint64_t f = to_u64(folio, FOLIO_MAX, "folio")
        cdef int o = <int>to_u64(order, SWAP_NR_ORDERS, "order")
        cdef uint64_t nr = <uint64_t>1 << o
        cdef uint64_t e = self._range(entry, nr, True), i, first
        cdef vcluster* last = NULL
        cdef swp_desc* d
        for i in range(e, e + nr):
            d = vs_peek(&self.v, i, &last)
            if d == NULL:
                raise_noent(i)
            if not d_cached(d):
                raise ValueError(f"swap entry {i:#x} was not prepared by swapcache_prepare")
            if swap_cache_is_folio(d.cache):
                raise EntryExists(f"swap entry {i:#x} already holds a folio")
        first = cache_add(&self.v, e, nr, f, o)
        return (first >> 1) if first & 1 else None

    def swap_cache_del_folio(self, entry, order=0, shadow=None):
        """Remove the order-``order`` folio starting at ``entry`` from the swap cache.

        Each entry gets ``shadow`` (``0 .. 2**62-1``) or none and stays
        ``in_swapcache`` until :meth:`put_swap_folio`. NoEntry if no folio
        of that order starts there. Runtime complexity: O(2**order).

        >>> from vswap import VirtualSwap
        >>> vs = VirtualSwap(); e = vs.folio_alloc_swap(1, order=1); vs.swap_duplicate(e, 2)
        >>> vs.swap_cache_del_folio(e, order=1, shadow=5); vs.swap_cache_get_shadow(e + 1)
        5
        """
        cdef int o = <int>to_u64(order, SWAP_NR_ORDERS, "order")
        cdef uint64_t nr = <uint64_t>1 << o
        cdef uint64_t e = self._range(entry, nr, True), i, w0, sw = 0
        cdef vcluster* last = NULL
        cdef swp_desc* d
        if shadow is not None:
            sw = (to_u64(shadow, SHADOW_MAX, "shadow") << 1) | 1
        d = self._live(e)
        w0 = d.cache
        if not swap_cache_is_folio(w0) or (<uint64_t>1 << swap_cache_order(w0)) != nr:
            raise_noent(e, f"holds no folio of {nr} pages")
        for i in range(e, e + nr):
            d = vs_peek(&self.v, i, &last)
            if d == NULL or d.cache != w0:
                raise_noent(e, f"holds no folio of {nr} pages")
        cache_del(&self.v, e, nr, sw)

    def swap_cache_get_folio(self, entry):
        """The folio cached for ``entry``, or None (``swap_cache_get_folio``).

        Runtime complexity: O(1) plus one lookup.

        >>> from vswap import VirtualSwap
        >>> vs = VirtualSwap(); vs.swap_cache_get_folio(vs.folio_alloc_swap(42))
        42
        """
        cdef uint64_t e = self._range(entry, 1, False), w
        self._live(e)
        self.v.st.desc_reads += 1
        w = vswap_desc(&self.v, e).cache
        return swap_cache_folio_id(w) if swap_cache_is_folio(w) else None

    def swap_cache_get_shadow(self, entry):
        """The workingset shadow of ``entry``, or None (``swap_cache_get_shadow``).

        Runtime complexity: O(1) plus one lookup.

        >>> from vswap import VirtualSwap
        >>> vs = VirtualSwap(); vs.swap_cache_get_shadow(vs.folio_alloc_swap(42)) is None
        True
        """
        cdef uint64_t e = self._range(entry, 1, False), w
        self._live(e)
        self.v.st.desc_reads += 1
        w = vswap_desc(&self.v, e).cache
        return (w >> 1) if w & 1 else None

    def put_swap_folio(self, entry, order=0):
        """Clear ``in_swapcache`` on ``2**order`` entries; free those with count 0.

        ``put_swap_folio`` / ``swapcache_clear``: when all have count 0 the
        run is freed as one batch. NoEntry if an entry is not cached;
        EntryExists if a folio is still stored. Runtime complexity: O(2**order).

        >>> from vswap import VirtualSwap
        >>> vs = VirtualSwap(); e = vs.folio_alloc_swap(1, order=1)
        >>> vs.swap_cache_del_folio(e, order=1); vs.put_swap_folio(e, order=1)
        >>> vs.snapshot()["nr_used"]
        0
        """
        cdef int o = <int>to_u64(order, SWAP_NR_ORDERS, "order")
        cdef uint64_t nr = <uint64_t>1 << o
        cdef uint64_t e = self._range(entry, nr, True), i
        cdef vcluster* last = NULL
        cdef swp_desc* d
        for i in range(e, e + nr):
            d = vs_peek(&self.v, i, &last)
            if d == NULL or not d_cached(d):
                raise_noent(i, "is not in the swap cache")
            if swap_cache_is_folio(d.cache):
                raise EntryExists(f"swap entry {i:#x} still holds a folio")
        cache_put(&self.v, e, nr)

    # -- backends -------------------------------------------------------------------------------------------

    def lookup(self, entry):
        """Where swap-in finds the data: a :class:`~vswap.protocol.Lookup`.

        A folio in the swap cache first, else the descriptor's backing:
        ``"zero"``, ``"zswap"`` (the handle), ``"swapfile"`` (the physical
        slot as an entry value) or ``"folio"`` (the backing folio). Runtime
        complexity: O(1) plus one lookup.

        >>> from vswap import VirtualSwap
        >>> vs = VirtualSwap(); e = vs.folio_alloc_swap(1); vs.swap_duplicate(e)
        >>> vs.zswap_store(e, 99); vs.swap_cache_del_folio(e); vs.lookup(e)
        Lookup(kind='zswap', handle=99)
        """
        cdef uint64_t e = self._range(entry, 1, False), h = 0
        cdef int k
        self._live(e)
        k = lookup_core(&self.v, e, &h)
        return Lookup(LOOKUP_KINDS[k], h)

    cdef int _lookup_into(self, const uint64_t[:] ev, uint8_t[::1] kv, uint64_t[::1] hv) except -1:
        cdef Py_ssize_t i, n = ev.shape[0]
        for i in range(n):
            kv[i] = <uint8_t>lookup_kind(vswap_desc(&self.v, ev[i]), &hv[i])
        self.v.st.desc_reads += <uint64_t>n
        return 0

    def zero_store(self, entry, nr=1):
        """Mark ``nr`` entries zero-filled: release their backing, type ZERO.

        ``swap_zeromap_folio_set``: no storage at all. NoEntry if one is
        free. Runtime complexity: O(nr).

        >>> from vswap import VirtualSwap
        >>> vs = VirtualSwap(); e = vs.folio_alloc_swap(1); vs.zero_store(e)
        >>> vs.swap_cache_del_folio(e); vs.lookup(e)
        Lookup(kind='zero', handle=0)
        """
        cdef uint64_t n = to_u64(nr, <uint64_t>1 << SWP_TYPE_SHIFT, "nr")
        cdef uint64_t e = self._range(entry, n, False), i
        cdef vcluster* last = NULL
        for i in range(e, e + n):
            if vs_peek(&self.v, i, &last) == NULL:
                raise_noent(i)
        zero_nr(&self.v, e, n)

    cdef int _zswap_put(self, uint64_t e, uint64_t h) noexcept:
        cdef swp_desc* d = vswap_desc(&self.v, e)
        cdef pbatch b
        swap_batch_init(&b)
        self.v.st.cluster_locks += 1
        self.v.st.desc_writes += 1
        release_backing(&self.v, d, &b)
        pb_flush(&self.v, &b)
        d_set_type(d, VSWAP_ZSWAP)
        d.backing = h
        self.v.nr_zswap += 1
        return 0

    def zswap_store(self, entry, handle):
        """Store the compressed copy ``handle`` (``0 .. 2**62-1``) of ``entry``.

        ``zswap_entry_store``: the old backing is released (a physical slot
        too), the type becomes ZSWAP; indexed by the virtual slot, no
        physical slot needed. NoEntry if free. Runtime complexity: O(1) plus one lookup.

        >>> from vswap import VirtualSwap
        >>> vs = VirtualSwap(); e = vs.folio_alloc_swap(1); vs.zswap_store(e, 5); vs.zswap_load(e)
        5
        """
        cdef uint64_t h = to_u64(handle, HANDLE_MAX, "zswap handle")
        cdef uint64_t e = self._range(entry, 1, False)
        self._live(e)
        self._zswap_put(e, h)

    def zswap_load(self, entry):
        """The zswap handle of ``entry``, or None (``zswap_entry_load``; the copy stays).

        Runtime complexity: O(1) plus one lookup.

        >>> from vswap import VirtualSwap
        >>> vs = VirtualSwap(); vs.zswap_load(vs.folio_alloc_swap(1)) is None
        True
        """
        cdef uint64_t e = self._range(entry, 1, False)
        cdef swp_desc* d
        self._live(e)
        self.v.st.desc_reads += 1
        d = vswap_desc(&self.v, e)
        return d.backing if d_type(d) == VSWAP_ZSWAP else None

    def zswap_invalidate(self, entry):
        """Drop the zswap copy of ``entry``; its handle or None.

        The entry becomes FOLIO-backed (``vswap_store_folio``) by the folio
        in the swap cache, or by folio 0 when none is cached. Runtime
        complexity: O(1) plus one lookup.

        >>> from vswap import VirtualSwap
        >>> vs = VirtualSwap(); e = vs.folio_alloc_swap(1); vs.zswap_store(e, 3)
        >>> vs.zswap_invalidate(e), vs.zswap_load(e), vs.lookup(e)
        (3, None, Lookup(kind='folio', handle=1))
        """
        cdef uint64_t e = self._range(entry, 1, False), h
        cdef swp_desc* d
        self._live(e)
        self.v.st.desc_reads += 1
        d = vswap_desc(&self.v, e)
        if d_type(d) != VSWAP_ZSWAP:
            return None
        self.v.st.cluster_locks += 1
        self.v.st.desc_writes += 1
        h = d.backing
        self.v.nr_zswap -= 1
        d_set_type(d, VSWAP_FOLIO)
        d.backing = swap_cache_folio_id(d.cache) if swap_cache_is_folio(d.cache) else 0
        return h

    def writeback(self, entry, order=0):
        """Give ``2**order`` entries a physical run; return its first slot (an entry value).

        ``vswap_alloc_swap_slot``: a run that is already contiguous on a
        device is reused; otherwise the allocator gives a run of the same
        order (on CPU :attr:`cpu`; it may reclaim cache-only slots, never
        these, whose folio is locked), the old backings are released, the
        reverse map is set and each entry's memcg is charged (only physical
        slots are). NoSpace if no run is free (the allocator's reclaim may
        have run); NoEntry if an entry is free. Runtime complexity: O(2**order).

        >>> from vswap import VirtualSwap, SwapDevice, SwapDevices
        >>> vs = VirtualSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = vs.folio_alloc_swap(1); vs.zswap_store(e, 3); slot = vs.writeback(e); slot
        1
        >>> vs.swap_cache_del_folio(e); vs.lookup(e), vs.writeback(e) == slot
        (Lookup(kind='swapfile', handle=1), True)
        """
        cdef int o = <int>to_u64(order, SWAP_NR_ORDERS, "order")
        cdef uint64_t nr = <uint64_t>1 << o
        cdef uint64_t e = self._range(entry, nr, True), i, slot = 0
        cdef vcluster* last = NULL
        for i in range(e, e + nr):
            if vs_peek(&self.v, i, &last) == NULL:
                raise_noent(i)
        self._sync_devices()
        err = vswap_alloc_swap_slot(self, e, o, &slot)
        if err == 2:
            raise NoSpace(f"no physical device takes an order-{o} run")
        if err:
            raise NoSpace(f"no free order-{o} physical run on any device")
        return slot

    # -- device-level verbs ----------------------------------------------------------------------------

    def swapoff(self, device, page_tables=None):
        """Bring every entry backed by device ``device`` into memory; free its slots.

        No page-table walk (``page_tables`` is accepted and not used): the
        device leaves allocation, then each allocated slot is mapped to its
        virtual entry through the reverse map and the entry becomes
        FOLIO-backed: by its cached folio, or by a new order-0 folio whose
        id is the entry value, added to the swap cache when the entry was
        not cached. The physical slots are freed and uncharged. Returns 0:
        no page-table entry is rewritten. Runtime complexity: O(device slots).

        >>> from vswap import VirtualSwap, SwapDevice, SwapDevices
        >>> vs = VirtualSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = vs.folio_alloc_swap(1); vs.swap_duplicate(e); _ = vs.writeback(e)
        >>> vs.swap_cache_del_folio(e); vs.put_swap_folio(e)
        >>> vs.swapoff(0, None), vs.lookup(e), vs.swaps[0].nr_used
        (0, Lookup(kind='folio', handle=1), 0)
        """
        self._unuse_slots(self._device(device))
        return 0

    cdef void _unuse_slot(self, swap_device_t* si, uint64_t off, swap_free_batch* b) noexcept:
        """swapoff of one allocated slot: its virtual entry (through the rmap) becomes FOLIO."""
        cdef uint64_t w, slot = (<uint64_t>si.type << SWP_TYPE_SHIFT) | off
        cdef vcluster* c
        cdef swp_desc* d
        self.v.st.rmap_reads += 1
        w = swap_table_get(si, off) & RMAP_MASK
        c = vs_cluster(&self.v, w >> VCLUSTER_SHIFT) if w else NULL
        if c == NULL:
            return
        d = &c.desc[w & (VCLUSTER_SIZE - 1)]
        self.v.st.desc_reads += 1
        if not d_live(d) or d_type(d) != VSWAP_SWAPFILE or d.backing != slot:
            return
        self.v.st.cluster_locks += 1
        self.v.st.desc_writes += 1
        release_backing(&self.v, d, b)
        d_set_type(d, VSWAP_FOLIO)
        if swap_cache_is_folio(d.cache):
            d.backing = swap_cache_folio_id(d.cache)
        else:
            d.backing = w
            if not d_cached(d):
                d.flags |= DESC_IN_SWAPCACHE
                d.cache = swap_cache_folio(w, 0)

    cdef void _batch_flush(self, swap_free_batch* b) noexcept:
        pb_flush(&self.v, b)

    # -- accounting --------------------------------------------------------------------------------------

    cdef dict _footprint_virtual(self):
        """memory_footprint's virtual side (see the class docs): descriptors, bitmaps, map."""
        return {"descriptors": sizeof(swp_desc) * self.v.nr_used,
                "cluster_bitmaps": 64 * self.v.nr_clusters,
                "cluster_map": self.v.map.nr_nodes * XA_NODE_KERNEL_BYTES,
                "phys_bitmaps": 0, "cluster_info": 0, "rmap": 0}

    cdef int _footprint_dev(self, dict out, int t, swap_device_t* si) except -1:
        out["phys_bitmaps"] += 2 * 8 * ((si.max + 63) // 64)     # static at swapon
        return 0

    @property
    def stats(self):
        """Deterministic work counters, identical in the reference model.

        ``lookups`` (virtual-layer xarray walks) and their ``node_visits``,
        ``mru_hits``/``mru_misses``, ``desc_reads``/``desc_writes``,
        ``cluster_locks``, ``rmap_reads``/``rmap_writes``, ``alloc_scans``,
        ``cgroup_checks``, ``cache_only_checks`` (the allocator's tests
        through the virtual layer), ``slots_freed``, ``folios_reclaimed``,
        ``phys_allocs``, ``phys_frees``, ``scans``, ``clusters_allocated``,
        ``clusters_freed``. Runtime complexity: O(1).

        >>> from vswap import VirtualSwap
        >>> vs = VirtualSwap(); _ = vs.folio_alloc_swap(1, order=2); vs.stats["desc_writes"]
        4
        """
        return self.v.st   # the C struct as a dict, in field order (see XArray.stats)

    def reset_stats(self):
        """Zero every counter of :attr:`stats` (not the allocator's). Runtime complexity: O(1).

        >>> from vswap import VirtualSwap
        >>> vs = VirtualSwap(); _ = vs.folio_alloc_swap(1); vs.reset_stats(); vs.stats["desc_writes"]
        0
        """
        memset(&self.v.st, 0, sizeof(vswap_stats))

    def check(self):
        """Assert the design's invariants, then the allocator's; AssertionError with a dump.

        Per cluster: count = set bits, refcount = count + cached, exactly
        one of cached / on a partial list / full (a cluster without room for
        a run of its order is full), the per-CPU caches and partial lists agree; per slot:
        live descriptor = allocation bit (bar cluster 0's reserved run), a
        cached folio covers its aligned run; SWAPFILE entries and the
        reverse map point at each other, the cache-only bit is set exactly
        on count-0 cached ones (when the switch is on); zswap, physical and
        memcg charge totals agree. Runtime complexity: O(slots).

        >>> from vswap import VirtualSwap
        >>> vs = VirtualSwap(); _ = vs.folio_alloc_swap(1, order=3); vs.check()
        """
        self._check_open()
        errors = []
        cdef vcluster* c
        cdef swp_desc* d
        cdef swap_device_t* si
        cdef uint64_t i, j, n, base, used = 0, nz = 0, nphys = 0, ve, w, slot
        cdef uint32_t bits
        cdef int t, k
        cdef bint bit, live
        charges = {}
        seen = set()
        for cid, ptr in self._clusters():
            c = <vcluster*><uint64_t>ptr
            seen.add(cid)
            if c.id != cid:
                errors.append(f"cluster {cid}: id {c.id}")
            bits = 0
            for k in range(8):
                bits += vswap_popcount64(c.bitmap[k])
            if bits != c.count:
                errors.append(f"cluster {cid}: count {c.count} but {bits} bits")
            if c.refcnt != c.count + c.cached:
                errors.append(f"cluster {cid}: refcnt {c.refcnt} != count {c.count} + cached {c.cached}")
            if c.refcnt == 0:
                errors.append(f"cluster {cid}: refcount 0 but still in the map")
            if c.cached + c.on_partial + c.full != 1:
                errors.append(f"cluster {cid}: cached {c.cached} partial {c.on_partial} full {c.full}")
            if not c.full and not has_room(c):
                errors.append(f"cluster {cid}: not full with count {c.count} order {c.order}")
            for i in range(VCLUSTER_SIZE):
                d = &c.desc[i]
                ve = (cid << VCLUSTER_SHIFT) + i
                bit = (c.bitmap[i >> 6] >> (i & 63)) & 1
                live = d_live(d)
                reserved = cid == 0 and i < (<uint64_t>1 << c.order)
                if reserved:
                    if not bit or live:
                        errors.append(f"{ve:#x}: reserved slot bit={bit} live={live}")
                    continue
                if bit != live:
                    errors.append(f"{ve:#x}: bitmap {bit} but live {live}")
                    continue
                if not live:
                    if d.backing or d.cache or d.flags or d.memcgid:
                        errors.append(f"{ve:#x}: free descriptor keeps state")
                    continue
                used += 1
                if swap_cache_is_folio(d.cache):
                    if not d_cached(d):
                        errors.append(f"{ve:#x}: folio stored without in_swapcache")
                    n = <uint64_t>1 << swap_cache_order(d.cache)
                    base = i & ~(n - 1)
                    for j in range(base, base + n):
                        if c.desc[j].cache != d.cache:
                            errors.append(f"{ve:#x}: folio run at {base} broken at {j}")
                            break
                if d_type(d) == VSWAP_ZSWAP:
                    nz += 1
                elif d_type(d) == VSWAP_SWAPFILE:
                    nphys += 1
                    charges[d.memcgid] = charges.get(d.memcgid, 0) + 1
                    t = <int>(d.backing >> SWP_TYPE_SHIFT)
                    slot = d.backing & SWP_OFFSET_MASK
                    si = self.v.devs[t] if t < MAX_SWAPFILES else NULL
                    if si == NULL or slot >= si.max or si.map[slot] != SLOT_USED:
                        errors.append(f"{ve:#x}: physical slot {d.backing:#x} not allocated")
                        continue
                    w = swap_table_get(si, slot)
                    if w & RMAP_MASK != ve:
                        errors.append(f"{ve:#x}: rmap of {d.backing:#x} is {w:#x}")
                    want = self.v.opt_cache_only_bit and d.swap_count == 0 and d_cached(d)
                    if bool(w & SWAP_TABLE_CACHE_ONLY) != want:
                        errors.append(f"{ve:#x}: cache-only bit {bool(w >> 63)}, expected {want}")
        for k in range(SWAP_NR_ORDERS):
            c = self.v.partial[k].head
            n = 0
            while c != NULL:
                n += 1
                if not c.on_partial or c.order != k or c.id not in seen:
                    errors.append(f"partial[{k}]: cluster {c.id} misfiled")
                c = c.next
                if n > self.v.nr_clusters:
                    errors.append(f"partial[{k}]: loop")
                    break
            if n != self.v.partial[k].nr:
                errors.append(f"partial[{k}]: {n} clusters, nr {self.v.partial[k].nr}")
        ncached = 0
        for k in range(NR_CPUS * SWAP_NR_ORDERS):
            c = self.v.pcp[k]
            if c != NULL:
                ncached += 1
                if not c.cached or c.order != k % SWAP_NR_ORDERS or c.id not in seen:
                    errors.append(f"pcp[{k}]: cluster {c.id} misfiled")
        if ncached != sum(1 for cid, ptr in self._clusters() if (<vcluster*><uint64_t>ptr).cached):
            errors.append("a cached cluster is not in any per-CPU cache")
        for k in range(NR_CPUS):
            if self.v.mru[k] != NULL and self.v.mru[k].id not in seen:
                errors.append(f"mru[{k}] names a freed cluster")
        if len(seen) != self.v.nr_clusters:
            errors.append(f"{len(seen)} clusters in the map, nr_clusters {self.v.nr_clusters}")
        vc_check_totals(&self.v, errors, used, nz, nphys, <void*>vswap_reclaim)
        for k in range(MEMCG_MAX):
            if self.v.charge[k] and self.v.charge[k] != charges.get(k, 0):
                errors.append(f"memcg {k}: charged {self.v.charge[k]}, {charges.get(k, 0)} slots")
        for m, n in charges.items():
            if self.v.charge[<int>m] != n:
                errors.append(f"memcg {m}: charged {self.v.charge[<int>m]}, {n} slots")
        for t in vc_types(&self.v):
            si = self.v.devs[t]
            n = 0
            for slot in range(si.max):
                if si.map[slot] == SLOT_USED:
                    n += 1
                    if not swap_table_get(si, slot) & RMAP_MASK:
                        errors.append(f"{t}:{slot}: allocated slot without a reverse map")
        if errors:
            raise AssertionError("VirtualSwap invariant violated:\n  " + "\n  ".join(errors[:20]))
        self._swaps.check()

    def snapshot(self):
        """The whole state as plain values; equal between compiled and reference.

        ``clusters``: ``id: (order, count, refcnt, cached, full, on_partial)``;
        ``entries``: every live entry as ``(type, backing, cache word,
        count, memcg, in_swapcache)``; ``partial`` lists, ``pcp`` caches and
        ``mru`` caches by cluster id; ``charge`` per memcg; totals;
        ``stats``; ``swaps``: the allocator's state (reverse-map words
        included). Runtime complexity: O(slots).

        >>> from vswap import VirtualSwap
        >>> vs = VirtualSwap(); e = vs.folio_alloc_swap(3); vs.snapshot()["entries"]
        {1: (3, 3, 194, 0, 0, 1)}
        """
        cdef vcluster* c
        cdef swp_desc* d
        cdef uint64_t i
        cdef int k
        self._check_open()
        clusters = {}
        entries = {}
        for cid, ptr in self._clusters():
            c = <vcluster*><uint64_t>ptr
            clusters[cid] = (c.order, c.count, c.refcnt, c.cached, c.full, c.on_partial)
            for i in range(VCLUSTER_SIZE):
                d = &c.desc[i]
                if d_live(d):
                    entries[(cid << VCLUSTER_SHIFT) + i] = (d_type(d), d.backing, d.cache,
                                                             d.swap_count, d.memcgid,
                                                             int(d_cached(d)))
        partial = {k: vc_list_ids(self.v.partial[k].head) for k in range(SWAP_NR_ORDERS)
                   if self.v.partial[k].head != NULL}
        pcp = {(k // SWAP_NR_ORDERS, k % SWAP_NR_ORDERS): self.v.pcp[k].id
               for k in range(NR_CPUS * SWAP_NR_ORDERS) if self.v.pcp[k] != NULL}
        return {"clusters": clusters, "entries": entries, "partial": partial, "pcp": pcp,
                "mru": vc_mru_ids(&self.v), **vc_snapshot(&self.v),
                "stats": self.stats, "swaps": self._swaps._state()}

    def __repr__(self):
        return (f"VirtualSwap(clusters={self.v.nr_clusters}, used={self.v.nr_used}, "
                f"switches={self.switches})")


SwapSpace.register(VirtualSwap)
# A classmethod of a cdef class shows the classmethod type's docstring; give it its own.
vars(VirtualSwap)["preset"].__doc__ = VirtualSwap.preset.__doc__


# --- the C protocol of the compiled replay (vswap/_swapops.pxd) ---------------------
# Each function does what the method of the same name does after its checks,
# on the CPU the replay names (the MRU cache and the allocator are per CPU).

cdef inline vswap_t* ops_v(void* space, int cpu) noexcept:
    cdef vswap_t* v = &(<VirtualSwap>space).v
    v.cpu = cpu
    return v


cdef int vops_alloc(void* space, uint64_t folio, int order, uint16_t memcg, int cpu,
                    uint64_t* entry) except -1:
    return vc_ops_entry(vs_alloc(ops_v(space, cpu), folio, order, memcg, cpu), entry)


cdef int vops_dup(void* space, uint64_t e, uint64_t nr, int cpu) except -1:
    vswap_swap_duplicate_nr(ops_v(space, cpu), e, nr)
    return 0


cdef int vops_free(void* space, uint64_t e, uint64_t nr, int cpu) except -1:
    put_pass(ops_v(space, cpu), e, nr)
    return 0


cdef int vops_fsc(void* space, uint64_t e, uint64_t nr, int cpu) except -1:
    fsc_core(ops_v(space, cpu), e, nr)
    return 0


cdef int vops_zero(void* space, uint64_t e, uint64_t nr, int cpu) except -1:
    zero_nr(ops_v(space, cpu), e, nr)
    return 0


cdef int vops_zswap(void* space, uint64_t e, uint64_t handle, int cpu) except -1:
    ops_v(space, cpu)
    (<VirtualSwap>space)._zswap_put(e, handle)
    return 0


cdef int vops_writeback(void* space, uint64_t e, int order, uint64_t arg, int cpu) except -1:
    cdef uint64_t slot
    ops_v(space, cpu)
    return 1 if vswap_alloc_swap_slot(<VirtualSwap>space, e, order, &slot) else 0


cdef int vops_swapin(void* space, uint64_t e, int order, uint64_t folio, int cpu) except -1:
    cdef vswap_t* v = ops_v(space, cpu)
    cache_prepare(v, e, <uint64_t>1 << order)
    cache_add(v, e, <uint64_t>1 << order, folio, order)
    return 0


cdef int vops_reclaim(void* space, uint64_t e, int order, uint64_t shadow, int cpu) except -1:
    cdef vswap_t* v = ops_v(space, cpu)
    cache_del(v, e, <uint64_t>1 << order, 0 if shadow == OPS_NO_SHADOW else (shadow << 1) | 1)
    cache_put(v, e, <uint64_t>1 << order)
    return 0


cdef int vops_lookup(void* space, uint64_t e, int cpu, uint64_t* handle) except -1:
    cdef vswap_t* v = ops_v(space, cpu)
    cdef vcluster* last = NULL
    if e >= (v.max_clusters << VCLUSTER_SHIFT) or vs_peek(v, e, &last) == NULL:
        return OPS_FREE
    return lookup_core(v, e, handle)



cdef void vops_prefetch(void* space, uint64_t e) noexcept:
    """The descriptor of ``e`` into the cache: the line a zap reads first (put_pass's
    count). An uncounted cluster lookup (vs_peek's) through the prefetch's own cache of
    clusters (cleared in cluster_destroy); no model state changes."""
    cdef vswap_t* v = &(<VirtualSwap>space).v
    cdef uint64_t cid = e >> VCLUSTER_SHIFT
    cdef vcluster** slot = &v.pf_cache[cid & (PF_CACHE_SIZE - 1)]
    cdef vcluster* c = slot[0]
    if c == NULL or c.id != cid:
        if cid >= v.max_clusters:
            return
        c = <vcluster*>xa_load(&v.map, cid)
        if c == NULL:
            return
        slot[0] = c
    prefetch(&c.desc[e & (VCLUSTER_SIZE - 1)])


cdef swap_ops VIRTUAL_OPS = swap_ops_table(
    vops_alloc, vops_dup, vops_free, vops_fsc, vops_zero, vops_zswap, vops_writeback,
    vops_swapin, vops_reclaim, vops_lookup)
VIRTUAL_OPS.prefetch = vops_prefetch
