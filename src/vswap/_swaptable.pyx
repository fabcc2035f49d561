"""Swap table phase IV on the slot allocator: :class:`SwapTableP4`.

Kairui Song's swap table phases III ("remove swap_map") and IV ("unify
allocation and reduce static metadata", in mm-new since 2026-05-18) on the
baseline's verbs. A swap entry is the physical slot, and every verb takes
the baseline's path (per-cluster batches, the zap path's all-count-1 fast path,
``__try_to_reclaim_swap``, swapoff by page-table walk); what changes is
where the state lives (see ``_swaptable.pxd``): the count, the zero flag
and the swap cache share the slot's table word, counts of 15 and more go
on in a per-cluster extend table, and the memcg id sits in a per-cluster
``memcg_table`` that exists only while the cluster holds an entry. The
only static metadata is the 48-byte cluster descriptor. zswap is still
indexed by the physical slot.

Every verb validates its whole request first and then mutates, so an
exception leaves the state unchanged. The pure-Python model with the same
algorithm and counters is :mod:`vswap.reference.swaptable`.
"""

cimport cython
from cpython.number cimport PyNumber_Index
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free
from libc.string cimport memset

from vswap._common cimport to_u64
from vswap._mem cimport checked_calloc
from vswap._swapentry cimport (
    SWP_TYPE_SHIFT, SWP_OFFSET_MASK, NR_CPUS, SWAPFILE_CLUSTER, HANDLE_MAX, VSWAP_ZERO, VSWAP_ZSWAP,
    VSWAP_SWAPFILE, VSWAP_FOLIO, swp_entry, swap_cache_folio, swap_cache_is_folio,
    swap_cache_folio_id, swap_cache_order,
)
from vswap._slotswap cimport (
    DS_ENOENT, DS_EEXIST, DS_ENOTPREP, DS_EOVERFLOW, slot_cores, slot_cores_table, slot_error,
    slot_ops_table, slot_lookup_many, slot_swapoff, slot_check_range, slot_table_read,
    slot_table_write, slot_entries_free, zswap_tree_find, zswap_tree_store,
)
from vswap._swapops cimport swap_ops
from vswap._swapfile cimport (
    swap_table_get, swap_table_set, swap_entries_free, swap_alloc_set,
    swap_reclaim_full_clusters, SwapDesign, SWAP_TABLE_CACHE_ONLY, SLOT_USED, SWP_WRITEOK,
)
from vswap._xarray cimport (
    xa_entry, xa_init, xa_destroy, xa_load, xa_store, xa_erase, xa_mk_value, xa_to_value,
)

import numpy as np

from vswap.errors import EntryExists, NoEntry, NoSpace, SwapError
from vswap.protocol import LOOKUP_KINDS, Lookup, SwapSpace
from vswap.protocol import check_uint64_array as as_entries

__all__ = ["SwapTableP4", "SWAP_COUNT_LIMIT", "WORD_LAYOUT"]

#: Largest swap count an entry can reach (the extend table's unsigned int).
SWAP_COUNT_LIMIT = P4_COUNT_LIMIT
#: The table word's layout and limits (``_swaptable.pxd``), for the parity test
#: against the reference model's constants.
WORD_LAYOUT = {"SWP_TB_COUNT_SHIFT": SWP_TB_COUNT_SHIFT, "SWP_TB_COUNT_MAX": SWP_TB_COUNT_MAX,
               "SWP_TB_ZERO": SWP_TB_ZERO, "SWP_TB_PIN": SWP_TB_PIN,
               "SWP_TB_PAYLOAD": SWP_TB_PAYLOAD, "P4_FOLIO_MAX": P4_FOLIO_MAX,
               "P4_SHADOW_MAX": P4_SHADOW_MAX, "SWAP_COUNT_LIMIT": P4_COUNT_LIMIT,
               "P4_CLUSTER_INFO_BYTES": P4_CLUSTER_INFO_BYTES, "SWP_TB_RMAP": SWP_TB_RMAP}

# --- the table word (no checks) -------------------------------------------------------

cdef inline uint64_t p4_word(const swap_device_t* si, uint64_t off) noexcept nogil:
    """The slot's phase IV word: 0 for a free slot and for a host's reverse-map slot."""
    cdef uint64_t w = swap_table_get(si, off)
    return 0 if swp_tb_is_rmap(w) else w


cdef inline uint64_t tb_read(p4_t* d, p4_dev_t* dv, uint64_t off) noexcept nogil:
    return slot_table_read(&d.st.table_reads, dv.si, off)


cdef inline void tb_write(p4_t* d, p4_dev_t* dv, uint64_t off, uint64_t w) noexcept nogil:
    slot_table_write(&d.st.table_writes, dv.si, off, w)


cdef inline uint64_t tb_field(uint64_t w) noexcept nogil:
    return (w >> SWP_TB_COUNT_SHIFT) & SWP_TB_COUNT_MAX


cdef inline uint64_t count_of(const p4_dev_t* dv, uint64_t off, uint64_t w) noexcept nogil:
    cdef uint64_t c = tb_field(w)
    if c == SWP_TB_COUNT_MAX:
        return dv.ext[off >> dv.si.cluster_shift][off & (dv.si.cluster_size - 1)]
    return c


cdef inline uint64_t p4_count(const p4_dev_t* dv, uint64_t off) noexcept nogil:
    return count_of(dv, off, p4_word(dv.si, off))


cdef inline bint cache_only(uint64_t w, uint64_t c) noexcept nogil:
    return c == 0 and (w & SWP_TB_PIN) != 0


cdef int ext_need(p4_t* d, p4_dev_t* dv, uint64_t off, uint64_t c) except -1 nogil:
    """The extend table a count ``c`` needs (MemoryError before any change)."""
    cdef uint64_t cl = off >> dv.si.cluster_shift
    if c >= SWP_TB_COUNT_MAX and dv.ext[cl] == NULL:
        dv.ext[cl] = <uint32_t*>checked_calloc(dv.si.cluster_size, sizeof(uint32_t))
        dv.nr_ext_tables += 1
        d.st.extend_tables_allocated += 1
    return 0


cdef uint64_t with_count(p4_dev_t* dv, uint64_t off, uint64_t w, uint64_t c) noexcept nogil:
    """``w`` carrying count ``c``; the extend table is updated (and freed when empty)."""
    cdef uint64_t cl = off >> dv.si.cluster_shift, idx = off & (dv.si.cluster_size - 1), i
    cdef uint32_t* x
    if c >= SWP_TB_COUNT_MAX:
        dv.ext[cl][idx] = <uint32_t>c
        c = SWP_TB_COUNT_MAX
    elif tb_field(w) == SWP_TB_COUNT_MAX:
        x = dv.ext[cl]
        x[idx] = 0
        for i in range(dv.si.cluster_size):
            if x[i]:
                break
        else:
            free(x)
            dv.ext[cl] = NULL
            dv.nr_ext_tables -= 1
    return (w & ~SWP_TB_COUNT_MASK) | (c << SWP_TB_COUNT_SHIFT)


cdef inline uint64_t chunk_end(const p4_dev_t* dv, uint64_t cur, uint64_t end) noexcept nogil:
    cdef uint64_t e = (cur | (dv.si.cluster_size - 1)) + 1
    return e if e < end else end


# --- the baseline's helpers, on the table word -----------------------------------------

cdef void free_run(p4_t* d, int t, p4_dev_t* dv, uint64_t off, uint64_t nr) noexcept nogil:
    """swap_entries_free: ``nr`` slots of one cluster, count 0, uncached."""
    cdef uint64_t i, h, cl = off >> dv.si.cluster_shift
    for i in range(off, off + nr):
        dv.memcg[cl][i & (dv.si.cluster_size - 1)] = 0
        zswap_tree_find(&dv.zswap, &d.st.zswap_walks, i, &h, True)
    dv.used[cl] -= <uint32_t>nr
    if dv.used[cl] == 0:
        if d.spare == NULL:
            d.spare = dv.memcg[cl]
        else:
            free(dv.memcg[cl])
        dv.memcg[cl] = NULL
        dv.nr_memcg_tables -= 1
    d.st.slots_freed += nr
    slot_entries_free(dv.si, off, nr)


cdef bint put_range(p4_t* d, int t, p4_dev_t* dv, uint64_t cur, uint64_t end) noexcept nogil:
    """One count off each slot of one cluster chunk; frees batched. True if one became cache-only."""
    cdef uint64_t i, w, c, run = 0, nrun = 0
    cdef bint only_cache = False
    for i in range(cur, end):
        w = tb_read(d, dv, i)
        c = count_of(dv, i, w) - 1
        w = with_count(dv, i, w, c)
        if c == 0 and not (w & SWP_TB_PIN):
            if nrun == 0:
                run = i
            nrun += 1
            continue
        if nrun:
            free_run(d, t, dv, run, nrun)
            nrun = 0
        if c == 0:
            w |= SWAP_TABLE_CACHE_ONLY
            only_cache = True
        tb_write(d, dv, i, w)
    if nrun:
        free_run(d, t, dv, run, nrun)
    return only_cache


cdef int p4_try_to_reclaim_swap(p4_t* d, int t, p4_dev_t* dv,
                                uint64_t off) noexcept nogil:
    """__try_to_reclaim_swap: pages freed, minus the pages kept, 0 with no folio."""
    cdef uint64_t w, x, n, base, i
    d.st.cluster_locks += 1
    w = tb_read(d, dv, off) & SWP_TB_PAYLOAD
    if not swap_cache_is_folio(w):
        return 0
    n = <uint64_t>1 << swap_cache_order(w)
    if n > dv.si.cluster_size:
        return 0
    base = off & ~(n - 1)
    for i in range(base, base + n):
        x = tb_read(d, dv, i)
        if not cache_only(x, count_of(dv, i, x)):
            return -<int>n
    for i in range(base, base + n):
        tb_write(d, dv, i, 0)
    free_run(d, t, dv, base, n)
    d.st.folios_reclaimed += 1
    return <int>n


cdef int p4_reclaim(void* ctx, swap_device_t* si, uint64_t offset) noexcept nogil:
    """The allocator's reclaim hook (TTRS_ANYWAY)."""
    cdef p4_t* d = <p4_t*>ctx
    cdef p4_dev_t* dv
    if si.type < 0 or si.type >= MAX_SWAPFILES:
        return 0
    dv = &d.devs[si.type]
    if dv.si != si or offset >= dv.max or p4_word(si, offset) == 0:
        return 0
    return p4_try_to_reclaim_swap(d, si.type, dv, offset)


cdef int p4_free_swap_and_cache_nr(void* ctx, uint64_t e, uint64_t nr) except -1 nogil:
    """free_swap_and_cache_nr after validation: the zap, then reclaim of what became cache-only."""
    cdef p4_t* d = <p4_t*>ctx
    cdef p4_dev_t* dv = &d.devs[e >> SWP_TYPE_SHIFT]
    cdef int t = <int>(e >> SWP_TYPE_SHIFT)
    cdef uint64_t off = e & SWP_OFFSET_MASK
    cdef uint64_t cur = off, end = off + nr, ce, i, n, step, first = 0, w
    cdef bint fast, any_only_cache = False
    cdef int r
    while cur < end:
        ce = chunk_end(dv, cur, end)
        d.st.cluster_locks += 1
        n = ce - cur
        fast = n > 1
        if fast:
            first = tb_read(d, dv, cur)
            fast = tb_field(first) == 1
            i = cur + 1
            while fast and i < ce:
                w = tb_read(d, dv, i)
                fast = tb_field(w) == 1 and (w & SWP_TB_PIN) == (first & SWP_TB_PIN)
                i += 1
        if fast:
            d.st.fast_frees += 1
            if first & SWP_TB_PIN:
                for i in range(cur, ce):
                    tb_write(d, dv, i, (p4_word(dv.si, i) & ~SWP_TB_COUNT_MASK)
                             | SWAP_TABLE_CACHE_ONLY)
                any_only_cache = True
            else:
                free_run(d, t, dv, cur, n)
        elif put_range(d, t, dv, cur, ce):
            any_only_cache = True
        cur = ce
    if not any_only_cache:
        return 0
    cur = off
    while cur < end:
        d.st.scans += 1
        step = 1
        w = tb_read(d, dv, cur)
        if w and cache_only(w, count_of(dv, cur, w)):
            r = p4_try_to_reclaim_swap(d, t, dv, cur)
            if r < 0:
                r = -r
            if r > 0:
                step = ((cur + <uint64_t>r) & ~(<uint64_t>r - 1)) - cur
        cur += step
    return 0


cdef void dev_release(p4_dev_t* dv) noexcept nogil:
    cdef uint64_t i
    if dv.memcg != NULL:
        for i in range(dv.nr_clusters):
            free(dv.memcg[i])
        free(dv.memcg)
    if dv.ext != NULL:
        for i in range(dv.nr_clusters):
            free(dv.ext[i])
        free(dv.ext)
    free(dv.used)
    xa_destroy(&dv.zswap.xa)
    memset(dv, 0, sizeof(p4_dev_t))


cdef int check_used(const p4_dev_t* dv, uint64_t off, uint64_t nr, bint need_count,
                    uint64_t* bad) noexcept nogil:
    cdef uint64_t i
    for i in range(off, off + nr):
        if p4_word(dv.si, i) == 0 or (need_count and p4_count(dv, i) == 0):
            bad[0] = i
            return DS_ENOENT
    return 0


# --- verb cores: shared by the methods and the replay ------------------------------------
# The slot_cores of _slotswap.pxd: (state, entry, ...) on validated entries.

cdef inline p4_dev_t* dev_of(p4_t* d, uint64_t e) noexcept nogil:
    return &d.devs[e >> SWP_TYPE_SHIFT]


cdef int p4_swap_duplicate(void* ctx, uint64_t e, uint64_t nr) except -1 nogil:
    """folio_dup_swap after the limit check: extend tables first (MemoryError before any change)."""
    cdef p4_t* d = <p4_t*>ctx
    cdef p4_dev_t* dv = dev_of(d, e)
    cdef uint64_t off = e & SWP_OFFSET_MASK, i, w, cur = off, ce, end = off + nr
    for i in range(off, end):
        ext_need(d, dv, i, p4_count(dv, i) + 1)
    while cur < end:
        ce = chunk_end(dv, cur, end)
        d.st.cluster_locks += 1
        for i in range(cur, ce):
            w = tb_read(d, dv, i)
            tb_write(d, dv, i, with_count(dv, i, w & ~SWAP_TABLE_CACHE_ONLY,
                                          count_of(dv, i, w) + 1))
        cur = ce
    return 0


cdef int p4_swap_free_nr(void* ctx, uint64_t e, uint64_t n) except -1 nogil:
    """swap_put_entries_direct: one count off each slot, a cluster-locked section per cluster."""
    cdef p4_t* d = <p4_t*>ctx
    cdef p4_dev_t* dv = dev_of(d, e)
    cdef uint64_t cur = e & SWP_OFFSET_MASK, ce, end = cur + n
    while cur < end:
        ce = chunk_end(dv, cur, end)
        d.st.cluster_locks += 1
        put_range(d, <int>(e >> SWP_TYPE_SHIFT), dv, cur, ce)
        cur = ce
    return 0


cdef int p4_lookup(void* ctx, uint64_t e, uint64_t* handle) noexcept nogil:
    """Where swap-in finds an allocated slot's data (a LOOKUP_KINDS code)."""
    cdef p4_t* d = <p4_t*>ctx
    cdef p4_dev_t* dv = dev_of(d, e)
    cdef uint64_t off = e & SWP_OFFSET_MASK
    cdef uint64_t w = tb_read(d, dv, off)
    if swap_cache_is_folio(w & SWP_TB_PAYLOAD):
        handle[0] = swap_cache_folio_id(w & SWP_TB_PAYLOAD)
        return VSWAP_FOLIO
    if w & SWP_TB_ZERO:
        handle[0] = 0
        return VSWAP_ZERO
    if zswap_tree_find(&dv.zswap, &d.st.zswap_walks, off, handle, False):
        return VSWAP_ZSWAP
    handle[0] = e
    return VSWAP_SWAPFILE


cdef inline void zero_clear(p4_t* d, p4_dev_t* dv, uint64_t off) noexcept nogil:
    cdef uint64_t w = tb_read(d, dv, off)
    if w & SWP_TB_ZERO:
        tb_write(d, dv, off, w & ~SWP_TB_ZERO)


cdef int p4_zswap_store(void* ctx, uint64_t e, uint64_t h) except -1 nogil:
    cdef p4_t* d = <p4_t*>ctx
    zswap_tree_store(&dev_of(d, e).zswap, &d.st.zswap_walks, e & SWP_OFFSET_MASK, h)
    zero_clear(d, dev_of(d, e), e & SWP_OFFSET_MASK)
    return 0


cdef int p4_zero_store(void* ctx, uint64_t e, uint64_t n) except -1 nogil:
    """The zero bit of the table word on each slot (the zeromap merged in)."""
    cdef p4_t* d = <p4_t*>ctx
    cdef p4_dev_t* dv = dev_of(d, e)
    cdef uint64_t i, h
    for i in range(e & SWP_OFFSET_MASK, (e & SWP_OFFSET_MASK) + n):
        tb_write(d, dv, i, tb_read(d, dv, i) | SWP_TB_ZERO)
        zswap_tree_find(&dv.zswap, &d.st.zswap_walks, i, &h, True)
    return 0


cdef int p4_writeback(void* ctx, uint64_t e, uint64_t n) except -1 nogil:
    cdef p4_t* d = <p4_t*>ctx
    cdef uint64_t i, h
    for i in range(e & SWP_OFFSET_MASK, (e & SWP_OFFSET_MASK) + n):
        zero_clear(d, dev_of(d, e), i)
        zswap_tree_find(&dev_of(d, e).zswap, &d.st.zswap_walks, i, &h, True)
    return 0


cdef int p4_swapcache_prepare(void* ctx, uint64_t e, uint64_t n) except -1 nogil:
    """Pin each slot for the swap cache (SWP_TB_PIN), a locked section per cluster."""
    cdef p4_t* d = <p4_t*>ctx
    cdef p4_dev_t* dv = dev_of(d, e)
    cdef uint64_t i, cur = e & SWP_OFFSET_MASK, ce, end = cur + n
    while cur < end:
        ce = chunk_end(dv, cur, end)
        d.st.cluster_locks += 1
        for i in range(cur, ce):
            tb_write(d, dv, i, tb_read(d, dv, i) | SWP_TB_PIN)
        cur = ce
    return 0


cdef uint64_t p4_swap_cache_add_folio(void* ctx, uint64_t e, uint64_t nr,
                                      uint64_t word) noexcept nogil:
    """Store the folio ``word`` on pinned slots; the first slot's old payload (its shadow)."""
    cdef p4_t* d = <p4_t*>ctx
    cdef p4_dev_t* dv = dev_of(d, e)
    cdef uint64_t off = e & SWP_OFFSET_MASK, i, w, first = 0
    d.st.cluster_locks += 1
    for i in range(off, off + nr):
        w = tb_read(d, dv, i)
        if i == off:
            first = w & SWP_TB_PAYLOAD
        tb_write(d, dv, i, (w & ~SWP_TB_PAYLOAD) | word)
    return first


cdef uint64_t p4_swap_cache_del_folio(void* ctx, uint64_t e, uint64_t nr,
                                      uint64_t shadow_word) noexcept nogil:
    cdef p4_t* d = <p4_t*>ctx
    cdef uint64_t i
    d.st.cluster_locks += 1
    for i in range(e & SWP_OFFSET_MASK, (e & SWP_OFFSET_MASK) + nr):
        tb_write(d, dev_of(d, e), i, (tb_read(d, dev_of(d, e), i) & ~SWP_TB_PAYLOAD) | shadow_word)
    return 0


cdef int p4_put_swap_folio(void* ctx, uint64_t e, uint64_t nr) except -1 nogil:
    """put_swap_folio: unpin; slots left with count 0 are freed (one batch when all are)."""
    cdef p4_t* d = <p4_t*>ctx
    cdef p4_dev_t* dv = dev_of(d, e)
    cdef uint64_t off = e & SWP_OFFSET_MASK, i, w
    cdef bint all_only = True
    for i in range(off, off + nr):
        if p4_count(dv, i):
            all_only = False
    d.st.cluster_locks += 1
    if all_only:
        free_run(d, <int>(e >> SWP_TYPE_SHIFT), dv, off, nr)
        return 0
    for i in range(off, off + nr):
        w = tb_read(d, dv, i)
        if count_of(dv, i, w) == 0:
            free_run(d, <int>(e >> SWP_TYPE_SHIFT), dv, i, 1)
        else:
            tb_write(d, dv, i, w & ~(SWP_TB_PIN | SWAP_TABLE_CACHE_ONLY))
    return 0


cdef uint64_t p4_in_use(void* ctx, uint64_t e) noexcept nogil:
    cdef p4_dev_t* dv = dev_of(<p4_t*>ctx, e)
    return (dv.si != NULL and (e & SWP_OFFSET_MASK) < dv.max
            and p4_word(dv.si, e & SWP_OFFSET_MASK) != 0)


cdef uint64_t p4_swap_count(void* ctx, uint64_t e) noexcept nogil:
    return p4_count(dev_of(<p4_t*>ctx, e), e & SWP_OFFSET_MASK)


cdef int p4_swapoff_slot(void* ctx, uint64_t e, uint64_t unused) except -1 nogil:
    """try_to_unuse's last pass: a slot still in use is held by the swap cache alone; drop it."""
    cdef p4_t* d = <p4_t*>ctx
    cdef uint64_t off = e & SWP_OFFSET_MASK
    d.st.scans += 1
    if p4_word(dev_of(d, e).si, off) == 0:
        return 0
    d.st.cluster_locks += 1
    if tb_read(d, dev_of(d, e), off) & SWP_TB_PAYLOAD:
        tb_write(d, dev_of(d, e), off, 0)
    free_run(d, <int>(e >> SWP_TYPE_SHIFT), dev_of(d, e), off, 1)
    return 0


cdef slot_cores P4_CORES = slot_cores_table(
    p4_swap_duplicate, p4_swap_free_nr, p4_free_swap_and_cache_nr, p4_zero_store, p4_zswap_store,
    p4_writeback, p4_swapcache_prepare, p4_swap_cache_add_folio, p4_swap_cache_del_folio,
    p4_put_swap_folio, p4_in_use, p4_swap_count, p4_lookup, p4_swapoff_slot)
cdef swap_ops P4_OPS = slot_ops_table()


@cython.no_gc_clear
cdef class SwapTableP4(SwapDesign):
    """Swap table phase IV: an entry is its physical slot; all per-slot state in the table word.

    ``swaps`` is the :class:`~vswap.SwapDevices` set; the design attaches to
    each device (its reclaim hook) and to devices added with
    :meth:`swapon`. Implements :class:`vswap.protocol.SwapSpace` with the
    results of :class:`vswap.DirectSwap` (folio ids below ``2**51`` and
    shadows below ``2**56``: the word's payload is narrower).

    Memory (kernel-equivalent, see :meth:`memory_footprint`): 48 B per
    cluster static; 8 B of swap table per slot of every in-use cluster;
    a 1 KiB ``memcg_table`` (2 B per slot) per cluster holding an entry;
    a 2 KiB extend table per cluster with a count of 15 or more; 8 B per
    stored zswap entry.

    Runtime complexity: construction O(clusters).

    >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
    >>> p4 = SwapTableP4(SwapDevices([SwapDevice(256, cluster_size=16)]))
    >>> e = p4.folio_alloc_swap(folio=7, memcg=3)
    >>> p4.swap_duplicate(e); p4.swap_count(e), p4.memcg_id(e), p4.lookup(e)
    (1, 3, Lookup(kind='folio', handle=7))
    """

    #: The trait the memory model reads (vswap.protocol.SwapSpace.entry_is_slot):
    #: an entry names a device slot, so a zero page on zram is on a
    #: SWP_SYNCHRONOUS_IO device and swaps in without the swap cache.
    entry_is_slot = True

    def __cinit__(self):
        memset(&self.d, 0, sizeof(p4_t))
        self._ctx = <void*>&self.d
        self._reclaim = p4_reclaim
        self._cache_only = NULL          # the allocator tests SWAP_TABLE_CACHE_ONLY itself
        self._ops = <void*>&P4_OPS
        self._cores = &P4_CORES
        self.d.spare = <uint16_t*>checked_calloc(SWAPFILE_CLUSTER, sizeof(uint16_t))

    def __init__(self, swaps):
        self._claim(swaps)               # ValueError if another design holds the set
        self._sync_devices()

    def __dealloc__(self):
        self._release_devices()
        free(self.d.spare)
        self.d.spare = NULL

    cdef void _drop_devices(self) noexcept:
        cdef int t
        for t in range(MAX_SWAPFILES):
            if self.d.devs[t].si != NULL:
                dev_release(&self.d.devs[t])

    cdef int _hosted_by(self, SwapDesign host) except -1:
        """Run on ``host``'s devices (their hooks stay the host's; the host attaches each).

        The host's direct-mapped entries: SwapTableEdition's. No reference
        to the host is kept (it owns this design: no cycle), so the host
        syncs its devices before it calls in. Only on a bare instance.
        """
        if self._swaps is not None or self._closed:
            raise RuntimeError(f"{self._kind} is already initialised")
        self._hosted = True
        self._swaps = host._swaps
        self._kind = host._kind
        return 0

    cdef int _sync_devices(self) except -1:
        if self._hosted:                 # the host attaches its devices to both
            return self._check_open()
        return SwapDesign._sync_devices(self)

    cdef void _release_devices(self) noexcept:
        if not self._hosted:
            SwapDesign._release_devices(self)
            return
        self._drop_devices()
        self._hosted = False
        self._swaps = None
        self._closed = True

    cdef int _attach(self, int t, SwapDevice dev) except -1:
        """Allocate the device's per-cluster table indexes (the tables come with entries)."""
        cdef swap_device_t* si = &dev.si
        cdef p4_dev_t nd
        if si.cluster_size > SWAPFILE_CLUSTER:
            raise ValueError(f"cluster size {si.cluster_size} > {SWAPFILE_CLUSTER}")
        memset(&nd, 0, sizeof(p4_dev_t))
        xa_init(&nd.zswap.xa)
        nd.si = si
        nd.max = si.max
        nd.nr_clusters = si.nr_clusters
        try:
            nd.memcg = <uint16_t**>checked_calloc(si.nr_clusters, sizeof(uint16_t*))
            nd.ext = <uint32_t**>checked_calloc(si.nr_clusters, sizeof(uint32_t*))
            nd.used = <uint32_t*>checked_calloc(si.nr_clusters, sizeof(uint32_t))
            if not self._hosted:
                SwapDesign._attach(self, t, dev)
            else:
                self._cluster_size = si.cluster_size
        except BaseException:
            dev_release(&nd)
            raise
        self.d.devs[t] = nd
        return 0

    cdef p4_dev_t* _range(self, uint64_t e, uint64_t nr, bint aligned) except NULL:
        """The device of entries ``e .. e+nr-1``; ValueError if they are not a valid run."""
        cdef uint64_t t = e >> SWP_TYPE_SHIFT
        cdef p4_dev_t* dv = &self.d.devs[t if t < MAX_SWAPFILES else 0]
        slot_check_range(self, e, nr, aligned, dv.si if t < MAX_SWAPFILES else NULL, dv.max)
        return dv

    cdef p4_dev_t* _used(self, object entry, object nr, int mode, bint need_count,
                         uint64_t* pe, uint64_t* pn) except NULL:
        """Validate a request on allocated entries (mode 0: nr, 1: order, 2: one)."""
        cdef uint64_t e = to_u64(entry, <uint64_t>1 << 63, "swap entry"), n = 1, bad
        cdef p4_dev_t* dv
        if mode == 0:
            n = to_u64(nr, <uint64_t>1 << SWP_TYPE_SHIFT, "nr")
        elif mode == 1:
            n = <uint64_t>1 << to_u64(nr, 10, "order")
        dv = self._range(e, n, mode == 1)
        if check_used(dv, e & SWP_OFFSET_MASK, n, need_count, &bad):
            slot_error(DS_ENOENT, <int>(e >> SWP_TYPE_SHIFT), bad,
                      "is free or has a swap count of 0" if need_count else "")
        pe[0] = e
        pn[0] = n
        return dv

    # -- swapon / allocation ------------------------------------------------------------

    def folio_alloc_swap(self, folio, order=0, memcg=0, cpu=0):
        """Allocate ``2**order`` aligned entries cached with ``folio``; return the first.

        Each slot's word: the folio, the pin, count 0; the cluster's
        ``memcg_table`` (allocated with its first entry) gets ``memcg``.
        NoSpace if nothing is free; ValueError for a folio id outside
        ``0 .. 2**51-1``, a memcg outside ``0 .. 65535`` or an order larger
        than a cluster. Runtime complexity: O(2**order) amortised.

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(5, order=2, memcg=3)
        >>> e, p4.swap_cache_get_folio(e + 3), p4.memcg_id(e + 1), p4.swap_count(e)
        (16, 5, 3, 0)
        """
        cdef uint64_t f = to_u64(folio, P4_FOLIO_MAX, "folio")
        cdef uint64_t nr, m, c, e
        self._alloc_prepare(order, memcg, cpu, &nr, &m, &c)
        e = self._alloc_one(f, nr, <uint16_t>m, <int>c)
        if e == 0:
            raise NoSpace(f"no free order-{nr.bit_length() - 1} range on any swap device")
        return e

    cdef int _alloc_prepare(self, object order, object memcg, object cpu,
                            uint64_t* nr, uint64_t* m, uint64_t* c) except -1:
        nr[0] = <uint64_t>1 << to_u64(order, 10, "order")
        m[0] = to_u64(memcg, 65536, "memcg")
        c[0] = to_u64(cpu, NR_CPUS, "cpu")
        self._sync_devices()
        if self._cluster_size and nr[0] > self._cluster_size:
            raise ValueError(f"order {nr[0].bit_length() - 1} is larger than a cluster")
        return 0

    cdef uint64_t _alloc_one(self, uint64_t folio, uint64_t nr, uint16_t memcg,
                             int cpu) except? 0xFFFFFFFFFFFFFFFF:
        cdef swap_device_t* si = NULL
        cdef uint64_t off = 0, i, w, cl
        cdef p4_dev_t* dv
        cdef int order = 0
        while (<uint64_t>1 << order) < nr:
            order += 1
        if self.d.spare == NULL:           # the memcg_table is taken before the slots
            self.d.spare = <uint16_t*>checked_calloc(SWAPFILE_CLUSTER, sizeof(uint16_t))
        swap_alloc_set(&self._swaps.g, order, cpu, &si, &off)
        if off == 0:
            return 0
        dv = &self.d.devs[si.type]
        self.d.st.cluster_locks += 1
        cl = off >> si.cluster_shift
        if dv.memcg[cl] == NULL:
            memset(self.d.spare, 0, SWAPFILE_CLUSTER * sizeof(uint16_t))
            dv.memcg[cl] = self.d.spare
            self.d.spare = NULL
            dv.nr_memcg_tables += 1
            self.d.st.memcg_tables_allocated += 1
        dv.used[cl] += <uint32_t>nr
        w = SWP_TB_PIN | swap_cache_folio(folio, order)
        for i in range(off, off + nr):
            dv.memcg[cl][i & (si.cluster_size - 1)] = memcg
            tb_write(&self.d, dv, i, w)
        return swp_entry(si.type, off)

    def folio_alloc_swap_many(self, folios, order=0, memcg=0, cpu=0):
        """:meth:`folio_alloc_swap` for each folio id of a uint64 array; the entries.

        The ids are validated first; the result is shorter than ``folios``
        when swap fills up. Runtime complexity: O(n * 2**order) in C.

        >>> import numpy as np
        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> p4.folio_alloc_swap_many(np.arange(3, dtype=np.uint64))
        array([1, 2, 3], dtype=uint64)
        """
        arr = as_entries(folios, "folios")
        cdef const uint64_t[:] v = arr
        cdef uint64_t nr, m, c, e
        cdef Py_ssize_t i, n = v.shape[0]
        for i in range(n):
            if v[i] >= P4_FOLIO_MAX:
                raise ValueError(f"folio {v[i]} is outside 0 .. {P4_FOLIO_MAX - 1}")
        self._alloc_prepare(order, memcg, cpu, &nr, &m, &c)
        out = np.empty(n, dtype=np.uint64)
        cdef uint64_t[::1] res = out
        for i in range(n):
            e = self._alloc_one(v[i], nr, <uint16_t>m, <int>c)
            if e == 0:
                return out[:i].copy()
            res[i] = e
        return out

    # -- counts ---------------------------------------------------------------------------

    def swap_duplicate(self, entry, nr=1):
        """Add one count to each of ``nr`` entries (``folio_dup_swap``).

        Counts of 15 and more go on in the cluster's extend table. NoEntry
        if any is free; NoSpace past :data:`SWAP_COUNT_LIMIT`; nothing
        changes on error. Runtime complexity: O(nr).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1)
        >>> for _ in range(100): p4.swap_duplicate(e)
        >>> p4.swap_count(e), p4.memory_footprint()["extend_table"]
        (100, 64)
        """
        cdef uint64_t e, n, i
        cdef p4_dev_t* dv = self._used(entry, nr, 0, False, &e, &n)
        cdef uint64_t off = e & SWP_OFFSET_MASK
        cdef int t = <int>(e >> SWP_TYPE_SHIFT)
        for i in range(off, off + n):
            if p4_count(dv, i) >= P4_COUNT_LIMIT:
                slot_error(DS_EOVERFLOW, t, i)
        p4_swap_duplicate(&self.d, e, n)

    cdef uint64_t _alloc_entry(self, uint64_t folio, uint64_t nr, uint64_t m,
                               uint64_t c) except? 0xFFFFFFFFFFFFFFFF:
        return self._alloc_one(folio, nr, <uint16_t>m, <int>c)

    cdef int _dup_entry(self, uint64_t e) except -1:
        return p4_swap_duplicate(&self.d, e, 1)

    cdef int _free_entry(self, uint64_t e) except -1:
        self.d.st.cluster_locks += 1
        put_range(&self.d, <int>(e >> SWP_TYPE_SHIFT), &self.d.devs[e >> SWP_TYPE_SHIFT],
                  e & SWP_OFFSET_MASK, (e & SWP_OFFSET_MASK) + 1)
        return 0

    cdef int _zswap_entry(self, uint64_t e, uint64_t handle) except -1:
        return p4_zswap_store(&self.d, e, handle)

    cdef int _batch_entry(self, uint64_t e, void** cache) except -1:
        cdef uint64_t t = e >> SWP_TYPE_SHIFT, off = e & SWP_OFFSET_MASK
        if e >> 63:
            raise ValueError(f"swap entry {e:#x} is outside 0 .. 2**63-1")
        if t >= MAX_SWAPFILES or self.d.devs[t].si == NULL or off >= self.d.devs[t].max:
            self._range(e, 1, False)          # raises the ValueError
        if p4_word(self.d.devs[t].si, off) == 0:
            slot_error(DS_ENOENT, <int>t, off)
        return 0

    cdef int _batch_count(self, uint64_t e, uint64_t k, bint need_count, bint dup,
                          void** cache) except -1:
        cdef uint64_t c = p4_count(&self.d.devs[e >> SWP_TYPE_SHIFT], e & SWP_OFFSET_MASK)
        if dup and c + k > P4_COUNT_LIMIT:
            slot_error(DS_EOVERFLOW, <int>(e >> SWP_TYPE_SHIFT), e & SWP_OFFSET_MASK)
        if need_count and c < k:
            slot_error(DS_ENOENT, <int>(e >> SWP_TYPE_SHIFT), e & SWP_OFFSET_MASK,
                      "has a swap count of 0")
        return 0

    def swap_free_nr(self, entry, nr=1):
        """Drop one count from each of ``nr`` entries (``swap_free_nr``).

        Count 0 and unpinned: freed (runs in one batch per cluster, whatever
        their memcgs); count 0 and pinned: cache-only. NoEntry if an entry
        is free or has count 0. Runtime complexity: O(nr).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1); p4.swap_duplicate(e)
        >>> p4.swap_free_nr(e); p4.swap_count(e)
        0
        """
        cdef uint64_t e, n
        cdef p4_dev_t* dv = self._used(entry, nr, 0, True, &e, &n)
        p4_swap_free_nr(&self.d, e, n)

    def free_swap_and_cache_nr(self, entry, nr=1):
        """The zap path: one count off each of ``nr`` entries, then reclaim.

        Per cluster, a run whose words all hold count 1 and the same pin is
        freed at once (or made cache-only when pinned), one batch across
        memcgs; otherwise slot by slot. Then each cache-only slot's folio
        is offered to ``__try_to_reclaim_swap``. NoEntry as for
        :meth:`swap_free_nr`. Runtime complexity: O(nr).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(9, order=2); p4.swap_duplicate(e, 4)
        >>> p4.free_swap_and_cache_nr(e, 4); p4.swaps[0].nr_used
        0
        """
        cdef uint64_t e, n
        cdef p4_dev_t* dv = self._used(entry, nr, 0, True, &e, &n)
        p4_free_swap_and_cache_nr(&self.d, e, n)

    def free_swap_and_cache_many(self, entries):
        """Zap the swap PTEs of a uint64 array: :meth:`free_swap_and_cache_nr` per run.

        Consecutive entries form one run (``swap_pte_batch``). Validated
        first. Runtime complexity: O(n) in C for an increasing batch.

        >>> import numpy as np
        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> es = p4.folio_alloc_swap_many(np.arange(4, dtype=np.uint64))
        >>> p4.swap_duplicate_many(es); p4.free_swap_and_cache_many(es); p4.swaps[0].nr_used
        0
        """
        arr = self._check_batch(entries, True, False)
        cdef const uint64_t[:] v = arr
        cdef Py_ssize_t i = 0, j, n = v.shape[0]
        cdef uint64_t e
        while i < n:
            e = v[i]
            j = i + 1
            while j < n and v[j] == e + <uint64_t>(j - i) and \
                    ((e & SWP_OFFSET_MASK) + <uint64_t>(j - i)) < self.d.devs[e >> SWP_TYPE_SHIFT].max:
                j += 1
            p4_free_swap_and_cache_nr(&self.d, e, <uint64_t>(j - i))
            i = j

    def swap_count(self, entry):
        """The exact swap count (table field, or the extend table); NoEntry if free.

        Runtime complexity: O(1).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1); p4.swap_duplicate(e); p4.swap_count(e)
        1
        """
        cdef uint64_t e, n
        cdef p4_dev_t* dv = self._used(entry, None, 2, False, &e, &n)
        return p4_count(dv, e & SWP_OFFSET_MASK)

    def memcg_id(self, entry):
        """The memcg id of an allocated entry, from its cluster's ``memcg_table``.

        Runtime complexity: O(1).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> p4.memcg_id(p4.folio_alloc_swap(1, memcg=12))
        12
        """
        cdef uint64_t e, n, off
        cdef p4_dev_t* dv = self._used(entry, None, 2, False, &e, &n)
        off = e & SWP_OFFSET_MASK
        return dv.memcg[off >> dv.si.cluster_shift][off & (dv.si.cluster_size - 1)]

    # -- swap cache -------------------------------------------------------------------------

    def swapcache_prepare(self, entry, nr=1):
        """Pin ``nr`` entries for a swap-in (set ``SWP_TB_PIN``).

        NoEntry if one is free; EntryExists if one is pinned already.
        Runtime complexity: O(nr).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1); p4.swap_duplicate(e)
        >>> p4.swap_cache_del_folio(e); p4.put_swap_folio(e)
        >>> p4.swapcache_prepare(e); p4.swap_cache_add_folio(e, 2) is None
        True
        """
        cdef uint64_t e = to_u64(entry, <uint64_t>1 << 63, "swap entry")
        cdef uint64_t n = to_u64(nr, <uint64_t>1 << SWP_TYPE_SHIFT, "nr"), i, w, off
        cdef p4_dev_t* dv = self._range(e, n, False)
        cdef int t = <int>(e >> SWP_TYPE_SHIFT)
        off = e & SWP_OFFSET_MASK
        for i in range(off, off + n):
            w = p4_word(dv.si, i)
            if w == 0:
                slot_error(DS_ENOENT, t, i)
            if w & SWP_TB_PIN:
                slot_error(DS_EEXIST, t, i)
        p4_swapcache_prepare(&self.d, e, n)

    def swap_cache_add_folio(self, entry, folio, order=0):
        """Put ``folio`` in the swap cache at pinned entries; return the shadow replaced, or None.

        NoEntry if one is free, ValueError if not pinned, EntryExists if one
        already holds a folio. Runtime complexity: O(2**order).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1); p4.swap_duplicate(e)
        >>> p4.swap_cache_del_folio(e, shadow=8); p4.put_swap_folio(e)
        >>> p4.swapcache_prepare(e); p4.swap_cache_add_folio(e, 3)
        8
        """
        cdef uint64_t e = to_u64(entry, <uint64_t>1 << 63, "swap entry")
        cdef uint64_t f = to_u64(folio, P4_FOLIO_MAX, "folio")
        cdef uint64_t nr = <uint64_t>1 << to_u64(order, 10, "order"), i, w, off, first
        cdef int o = 0
        cdef p4_dev_t* dv = self._range(e, nr, True)
        cdef int t = <int>(e >> SWP_TYPE_SHIFT)
        off = e & SWP_OFFSET_MASK
        for i in range(off, off + nr):
            w = p4_word(dv.si, i)
            if w == 0:
                slot_error(DS_ENOENT, t, i)
            if not (w & SWP_TB_PIN):
                slot_error(DS_ENOTPREP, t, i)
            if swap_cache_is_folio(w & SWP_TB_PAYLOAD):
                slot_error(DS_EEXIST, t, i, "already holds a folio")
        while (<uint64_t>1 << o) < nr:
            o += 1
        first = p4_swap_cache_add_folio(&self.d, e, nr, swap_cache_folio(f, o))
        return (first >> 1) if first & 1 else None

    def swap_cache_del_folio(self, entry, order=0, shadow=None):
        """Remove the folio cached at ``2**order`` entries, leaving ``shadow`` (or nothing).

        The pin stays until :meth:`put_swap_folio`. NoEntry if the entries
        do not hold one folio of that order. Runtime complexity: O(2**order).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1)
        >>> p4.swap_cache_del_folio(e, shadow=6); p4.swap_cache_get_shadow(e)
        6
        """
        cdef uint64_t e = to_u64(entry, <uint64_t>1 << 63, "swap entry")
        cdef uint64_t nr = <uint64_t>1 << to_u64(order, 10, "order"), sw = 0, w0, i, off
        cdef p4_dev_t* dv = self._range(e, nr, True)
        cdef int t = <int>(e >> SWP_TYPE_SHIFT)
        off = e & SWP_OFFSET_MASK
        if shadow is not None:
            sw = (to_u64(shadow, P4_SHADOW_MAX, "shadow") << 1) | 1
        if p4_word(dv.si, off) == 0:
            slot_error(DS_ENOENT, t, off)
        w0 = p4_word(dv.si, off) & SWP_TB_PAYLOAD
        if not swap_cache_is_folio(w0) or (<uint64_t>1 << swap_cache_order(w0)) != nr:
            slot_error(DS_ENOENT, t, off, f"holds no folio of {nr} pages")
        for i in range(off, off + nr):
            if p4_word(dv.si, i) & SWP_TB_PAYLOAD != w0:
                slot_error(DS_ENOENT, t, off, f"holds no folio of {nr} pages")
        p4_swap_cache_del_folio(&self.d, e, nr, sw)

    def swap_cache_get_folio(self, entry):
        """The folio id cached at ``entry``, or None. Runtime complexity: O(1).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> p4.swap_cache_get_folio(p4.folio_alloc_swap(42))
        42
        """
        cdef uint64_t e, n, w
        cdef p4_dev_t* dv = self._used(entry, None, 2, False, &e, &n)
        w = tb_read(&self.d, dv, e & SWP_OFFSET_MASK) & SWP_TB_PAYLOAD
        return swap_cache_folio_id(w) if swap_cache_is_folio(w) else None

    def swap_cache_get_shadow(self, entry):
        """The workingset shadow left at ``entry``, or None. Runtime complexity: O(1).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> p4.swap_cache_get_shadow(p4.folio_alloc_swap(42)) is None
        True
        """
        cdef uint64_t e, n, w
        cdef p4_dev_t* dv = self._used(entry, None, 2, False, &e, &n)
        w = tb_read(&self.d, dv, e & SWP_OFFSET_MASK) & SWP_TB_PAYLOAD
        return (w >> 1) if w & 1 else None

    def put_swap_folio(self, entry, order=0):
        """Unpin ``2**order`` entries after their folio left the cache (``put_swap_folio``).

        Those with count 0 are freed (one batch when all are). NoEntry if
        one is not pinned; EntryExists if one still holds a folio. Runtime
        complexity: O(2**order).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1); p4.swap_cache_del_folio(e); p4.put_swap_folio(e)
        >>> p4.swaps[0].nr_used
        0
        """
        cdef uint64_t e = to_u64(entry, <uint64_t>1 << 63, "swap entry")
        cdef uint64_t nr = <uint64_t>1 << to_u64(order, 10, "order"), i, w, off
        cdef p4_dev_t* dv = self._range(e, nr, True)
        cdef int t = <int>(e >> SWP_TYPE_SHIFT)
        off = e & SWP_OFFSET_MASK
        for i in range(off, off + nr):
            w = p4_word(dv.si, i)
            if not (w & SWP_TB_PIN):
                slot_error(DS_ENOENT, t, i, "is not in the swap cache")
            if swap_cache_is_folio(w & SWP_TB_PAYLOAD):
                slot_error(DS_EEXIST, t, i, "still holds a folio")
        p4_put_swap_folio(&self.d, e, nr)

    # -- backends --------------------------------------------------------------------------

    def lookup(self, entry):
        """Where swap-in finds the data: a :class:`~vswap.protocol.Lookup`.

        The swap cache, the zero flag, zswap, else the device; one word
        read answers the first two. Runtime complexity: O(1) plus a zswap
        tree walk when the device has zswap entries.

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1); p4.zero_store(e); p4.swap_cache_del_folio(e)
        >>> p4.lookup(e)
        Lookup(kind='zero', handle=0)
        """
        cdef uint64_t e, n, h = 0
        cdef p4_dev_t* dv = self._used(entry, None, 2, False, &e, &n)
        k = p4_lookup(&self.d, e, &h)
        return Lookup(LOOKUP_KINDS[k], h)

    def lookup_many(self, entries):
        """:meth:`lookup` of a uint64 array: ``(kinds, handles)`` arrays (kinds uint8).

        Validated first. Runtime complexity: O(n) in C.

        >>> import numpy as np
        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> p4.lookup_many(np.array([p4.folio_alloc_swap(4)], dtype=np.uint64))
        (array([3], dtype=uint8), array([4], dtype=uint64))
        """
        return slot_lookup_many(self, entries)

    def zero_store(self, entry, nr=1):
        """Mark ``nr`` entries zero-filled (``SWP_TB_ZERO``); drop their zswap copies.

        NoEntry if one is free. Runtime complexity: O(nr).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1); p4.zero_store(e); p4.swap_cache_del_folio(e)
        >>> p4.lookup(e).kind
        'zero'
        """
        cdef uint64_t e, n
        cdef p4_dev_t* dv = self._used(entry, nr, 0, False, &e, &n)
        p4_zero_store(&self.d, e, n)

    def zswap_store(self, entry, handle):
        """Store the compressed copy ``handle`` (``0 .. 2**62-1``) of ``entry``; clears the zero flag.

        NoEntry if the entry is free. Runtime complexity: O(tree height).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1); p4.zswap_store(e, 5); p4.zswap_load(e)
        5
        """
        cdef uint64_t e, n
        cdef p4_dev_t* dv = self._used(entry, None, 2, False, &e, &n)
        cdef uint64_t h = to_u64(handle, HANDLE_MAX, "zswap handle")
        p4_zswap_store(&self.d, e, h)

    def zswap_load(self, entry):
        """The zswap handle of ``entry``, or None (the copy stays). Runtime complexity: O(tree height).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> p4.zswap_load(p4.folio_alloc_swap(1)) is None
        True
        """
        cdef uint64_t e, n
        cdef p4_dev_t* dv = self._used(entry, None, 2, False, &e, &n)
        cdef uint64_t h
        if zswap_tree_find(&dv.zswap, &self.d.st.zswap_walks, e & SWP_OFFSET_MASK, &h, False):
            return h
        return None

    def zswap_invalidate(self, entry):
        """Drop the zswap copy of ``entry``; its handle or None. Runtime complexity: O(tree height).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1); p4.zswap_store(e, 3)
        >>> p4.zswap_invalidate(e), p4.zswap_load(e)
        (3, None)
        """
        cdef uint64_t e, n, h = 0
        cdef p4_dev_t* dv = self._used(entry, None, 2, False, &e, &n)
        if zswap_tree_find(&dv.zswap, &self.d.st.zswap_walks, e & SWP_OFFSET_MASK, &h, True):
            return h
        return None

    def writeback(self, entry, order=0):
        """Write ``2**order`` entries to their slots; return the physical slot (the entry).

        Zero flags and zswap copies are dropped. NoEntry if one is free.
        Runtime complexity: O(2**order).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1); p4.zswap_store(e, 3); p4.writeback(e) == e
        True
        """
        cdef uint64_t e, nr
        cdef p4_dev_t* dv = self._used(entry, order, 1, False, &e, &nr)
        p4_writeback(&self.d, e, nr)
        return e

    # -- device-level verbs ----------------------------------------------------------------

    cdef p4_dev_t* _device(self, object device) except NULL:
        cdef uint64_t t = to_u64(device, MAX_SWAPFILES, "device type")
        self._check_open()
        if self.d.devs[t].si == NULL:
            raise ValueError(f"device type {t} is not attached to this design")
        return &self.d.devs[t]

    def reclaim_cache_only(self, device):
        """Free the cache-only folios of device ``device``'s full clusters; the slots freed.

        Runtime complexity: O(full clusters * cluster_size).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(16, cluster_size=16)]))
        >>> es = [p4.folio_alloc_swap(i) for i in range(15)]
        >>> for e in es: p4.swap_duplicate(e); p4.swap_free_nr(e)
        >>> p4.reclaim_cache_only(0), p4.swaps[0].nr_used
        (15, 0)
        """
        cdef p4_dev_t* dv = self._device(device)
        return swap_reclaim_full_clusters(dv.si, True)

    def swapoff(self, device, page_tables):
        """Bring every entry of device ``device`` back into memory and free its slots.

        As the baseline: no reverse map, so every entry of ``page_tables`` (a
        mapping ``{vpn: entry}`` or a uint64 array indexed by vpn) is
        walked; each swap PTE of this device is rewritten and its count
        dropped, then the device is scanned and the swap cache dropped.
        Validated first (NoEntry, SwapError as :meth:`vswap.DirectSwap.swapoff`).
        Returns the PTEs rewritten. Runtime complexity: O(PTEs + device slots).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices, PageTable
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1); p4.swap_duplicate(e)
        >>> pt = PageTable({7: e}); p4.swapoff(0, pt), pt, p4.swaps[0].nr_used
        (1, {}, 0)
        """
        cdef p4_dev_t* dv = self._device(device)
        return slot_swapoff(self, <int>(dv - &self.d.devs[0]), dv.max, page_tables,
                            &self.d.st.pte_walked)

    # -- accounting --------------------------------------------------------------------------

    def memory_footprint(self):
        """Kernel-equivalent metadata bytes by component, and ``"total"``.

        ``cluster_info`` 48 B per cluster (the only static part);
        ``swap_table`` 8 B per slot of every cluster with a table;
        ``memcg_table`` 2 B per slot of every cluster holding an entry;
        ``extend_table`` 4 B per slot of every cluster with a count of 15
        or more; ``zswap_tree`` 8 B per stored zswap entry. Runtime
        complexity: O(devices).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(1024, cluster_size=512)]))
        >>> _ = p4.folio_alloc_swap(1); fp = p4.memory_footprint()
        >>> fp["cluster_info"], fp["swap_table"], fp["memcg_table"]
        (96, 4096, 1024)
        """
        cdef int t
        cdef p4_dev_t* dv
        out = dict.fromkeys(("cluster_info", "swap_table", "memcg_table", "extend_table",
                             "zswap_tree"), 0)
        for t in range(MAX_SWAPFILES):
            dv = &self.d.devs[t]
            if dv.si == NULL:
                continue
            out["cluster_info"] += P4_CLUSTER_INFO_BYTES * dv.nr_clusters
            out["swap_table"] += 8 * dv.si.nr_tables * dv.si.cluster_size
            out["memcg_table"] += 2 * dv.nr_memcg_tables * dv.si.cluster_size
            out["extend_table"] += 4 * dv.nr_ext_tables * dv.si.cluster_size
            out["zswap_tree"] += 8 * dv.zswap.nr
        out["total"] = sum(out.values())
        return out

    @property
    def stats(self):
        """Deterministic work counters, identical in the reference model.

        As :attr:`vswap.DirectSwap.stats` (every count change is a table
        read and write here: the count lives in the word), with
        ``extend_tables_allocated`` and ``memcg_tables_allocated`` in place
        of continuation pages. Runtime complexity: O(1).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1, order=2); p4.swap_duplicate(e, 4)
        >>> p4.stats["table_writes"], p4.stats["table_reads"]
        (8, 4)
        """
        return self.d.st   # the C struct as a dict, in field order (see XArray.stats)

    def reset_stats(self):
        """Zero every counter of :attr:`stats`. Runtime complexity: O(1).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> _ = p4.folio_alloc_swap(1); p4.reset_stats(); p4.stats["table_writes"]
        0
        """
        memset(&self.d.st, 0, sizeof(p4_stats))

    def check(self):
        """Assert the design's invariants, then the allocator's; AssertionError with a dump.

        Per cluster: its entries counted, a memcg_table iff it holds one, no
        empty extend table. Per slot: a word iff allocated below; a free
        slot keeps no memcg id or extend count; the count field is 15 iff
        the extend table holds the count; count 0 only when pinned; the
        cache-only bit only on count 0 and pinned; a folio word only when
        pinned, the same over its aligned run. zswap: entries on used slots
        only. Runtime complexity: O(slots).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> _ = p4.folio_alloc_swap(3, order=2); p4.check()
        """
        self._check_open()
        errors = []
        cdef int t
        cdef p4_dev_t* dv
        cdef uint64_t off, w, n, base, i, nz = 0, c, cl, idx, ext, used, lo, hi, cs
        for t in range(MAX_SWAPFILES):
            dv = &self.d.devs[t]
            if dv.si == NULL:
                continue
            if not self._hosted and (dv.si.reclaim != p4_reclaim
                                       or dv.si.reclaim_ctx != <void*>&self.d):
                errors.append(f"type {t}: reclaim hook is not this design's")
            cs = dv.si.cluster_size
            nm = nx = 0
            for cl in range(dv.nr_clusters):
                lo = cl * cs
                hi = min(lo + cs, dv.max)
                used = 0
                for off in range(lo, hi):
                    if p4_word(dv.si, off):
                        used += 1
                if used != dv.used[cl]:
                    errors.append(f"{t}: cluster {cl}: {used} entries, {dv.used[cl]} counted")
                if (dv.memcg[cl] != NULL) != (used > 0):
                    errors.append(f"{t}: cluster {cl}: memcg_table with {used} entries")
                nm += dv.memcg[cl] != NULL
                if dv.ext[cl] != NULL:
                    nx += 1
                    if not any(dv.ext[cl][i] for i in range(cs)):
                        errors.append(f"{t}: cluster {cl}: empty extend table kept")
            if nm != dv.nr_memcg_tables or nx != dv.nr_ext_tables:
                errors.append(f"{t}: table counts differ")
            for off in range(dv.max):
                w = p4_word(dv.si, off)
                cl = off >> dv.si.cluster_shift
                idx = off & (cs - 1)
                if swp_tb_is_rmap(swap_table_get(dv.si, off)):
                    if not self._hosted:
                        errors.append(f"{t}:{off}: a reverse-map word, and no host")
                    continue
                if (w != 0) != (dv.si.map[off] == SLOT_USED):
                    errors.append(f"{t}:{off}: table word {w:#x} but allocator map "
                                  f"{dv.si.map[off]}")
                    continue
                ext = dv.ext[cl][idx] if dv.ext[cl] != NULL else 0
                if w == 0:
                    if ext or (dv.memcg[cl] != NULL and dv.memcg[cl][idx]):
                        errors.append(f"{t}:{off}: free slot keeps metadata")
                    continue
                if (tb_field(w) == SWP_TB_COUNT_MAX) != (ext >= SWP_TB_COUNT_MAX):
                    errors.append(f"{t}:{off}: count field {tb_field(w)}, extend {ext}")
                c = count_of(dv, off, w)
                if c == 0 and not (w & SWP_TB_PIN):
                    errors.append(f"{t}:{off}: count 0 and not in the swap cache")
                if (w & SWAP_TABLE_CACHE_ONLY) and not cache_only(w, c):
                    errors.append(f"{t}:{off}: cache-only bit with count {c}")
                if swap_cache_is_folio(w & SWP_TB_PAYLOAD):
                    if not (w & SWP_TB_PIN):
                        errors.append(f"{t}:{off}: folio cached without the pin")
                    n = <uint64_t>1 << swap_cache_order(w & SWP_TB_PAYLOAD)
                    if n > cs:
                        errors.append(f"{t}:{off}: folio order "
                                      f"{swap_cache_order(w & SWP_TB_PAYLOAD)} > cluster")
                        continue
                    base = off & ~(n - 1)
                    for i in range(base, base + n):
                        if p4_word(dv.si, i) & SWP_TB_PAYLOAD != w & SWP_TB_PAYLOAD:
                            errors.append(f"{t}:{off}: folio run at {base} broken at {i}")
                            break
                if dv.zswap.nr and xa_load(&dv.zswap.xa, off) != 0:
                    nz += 1
        total = sum(self.d.devs[t].zswap.nr for t in range(MAX_SWAPFILES))
        in_trees = sum(self.d.devs[t].zswap.xa.nr_entries for t in range(MAX_SWAPFILES))
        if nz != total or total != in_trees:
            errors.append(f"zswap: {nz} found on used slots, {total} counted, "
                          f"{in_trees} in the tree")
        if errors:
            raise AssertionError("SwapTableP4 invariant violated:\n  " + "\n  ".join(errors[:20]))
        if not self._hosted:           # a host checks its allocator itself
            self._swaps.check()

    def snapshot(self):
        """The whole state as plain values; equal between compiled and reference.

        ``devices``: per attached type, every used slot as ``offset: (table
        word, count, memcg, zswap handle or None)``, and the memcg and
        extend table counts; ``stats``; ``swaps``: the allocator's state.
        Runtime complexity: O(slots).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> _ = p4.folio_alloc_swap(3); p4.snapshot()["devices"][0]["slots"]
        {1: (144115188075856066, 0, 0, None)}
        """
        cdef int t
        cdef p4_dev_t* dv
        cdef uint64_t off, w
        cdef xa_entry z
        self._check_open()
        devices = {}
        for t in range(MAX_SWAPFILES):
            dv = &self.d.devs[t]
            if dv.si == NULL:
                continue
            slots = {}
            for off in range(dv.max):
                w = p4_word(dv.si, off)
                if w == 0:
                    continue
                z = xa_load(&dv.zswap.xa, off) if dv.zswap.nr else 0
                slots[off] = (w, count_of(dv, off, w),
                              dv.memcg[off >> dv.si.cluster_shift][off & (dv.si.cluster_size - 1)],
                              None if z == 0 else xa_to_value(z))
            devices[t] = {"slots": slots, "memcg_tables": dv.nr_memcg_tables,
                          "extend_tables": dv.nr_ext_tables, "nr_zswap": dv.zswap.nr}
        return {"devices": devices, "stats": self.stats, "swaps": self._swaps._state()}

    def __repr__(self):
        return (f"SwapTableP4(devices={sum(1 for t in range(MAX_SWAPFILES) if self.d.devs[t].si != NULL)}, "
                f"zswap={sum(self.d.devs[t].zswap.nr for t in range(MAX_SWAPFILES))})")


SwapSpace.register(SwapTableP4)
