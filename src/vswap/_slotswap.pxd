# C interface of what the designs whose swap entry is the physical slot
# (DirectSwap, SwapTableP4) share on top of SwapDesign: the zswap tree
# (the kernel's zswap_trees[type], one xarray of handles keyed by offset),
# the error codes of their C checks and the exceptions they become, the
# verb table of the compiled replay and swapoff's validation walk.
#
# Each design keeps its per-slot state its own way (the swap_map byte, or
# the swap table word) and publishes the work of each verb after
# validation as a static ``slot_cores`` table (SwapDesign._cores); the code
# here runs only through that table. Every core takes the design's C state
# (SwapDesign._ctx) and a validated swap entry.

from libc.stdint cimport uint16_t, uint64_t

from vswap._design cimport SwapDesign
from vswap._swapfile cimport (
    SwapDevice, swap_device_t, swap_table_get, swap_table_set, swap_entries_free, SLOT_USED,
)
from vswap._swapops cimport swap_ops
from vswap._xarray cimport (
    xarray_t, xa_entry, xa_load, xa_store, xa_erase, xa_mk_value, xa_to_value,
)


cdef enum:
    # error codes of the C checks (0 = success)
    DS_EINVAL = -22               # ValueError: bad type, range or alignment
    DS_ENOENT = -2                # NoEntry: free entry, count underflow, no folio
    DS_EEXIST = -17               # EntryExists: already cached / folio still cached
    DS_ENOTPREP = -100            # ValueError: not prepared by swapcache_prepare
    DS_EOVERFLOW = -75            # NoSpace: count past the design's count limit


cdef struct zswap_tree:
    xarray_t xa                   # offset -> xa_mk_value(handle)
    uint64_t nr                   # stored entries


# --- the common head of the designs' state, and the hooks where they differ ---------
# Each design's C state starts with a slot_state_t (its hooks, then its counters,
# whose first fields are slot_stats's) and each per-device struct with a
# slot_dev_t; the walks below run on those heads and ask the hooks for what
# lives where (the swap_map byte or the table word).

cdef struct slot_stats:
    uint64_t table_reads          # swap table words read
    uint64_t table_writes         # swap table words written
    uint64_t cluster_locks        # cluster-locked sections (one per cluster chunk of a verb)
    uint64_t zswap_walks          # zswap tree descents (load, store, erase)
    uint64_t scans                # slots examined by reclaim loops and swapoff
    uint64_t pte_walked           # page-table entries visited by swapoff
    uint64_t fast_frees           # zap chunks taking the all-count-1 path
    uint64_t slots_freed          # slots returned to the allocator
    uint64_t folios_reclaimed     # folios removed by __try_to_reclaim_swap


cdef struct slot_dev_t:
    swap_device_t* si             # NULL: type not attached
    uint64_t max
    zswap_tree zswap              # zswap_trees[type]: keyed by offset


cdef enum:
    SLOT_PUT_KEPT = 0             # put_one: the slot keeps a count
    SLOT_PUT_CACHE = 1            # count 0, held by the swap cache (cache-only now)
    SLOT_PUT_FREE = 2             # count 0, uncached: to be freed


ctypedef slot_dev_t* (*slot_dev_fn)(void* d, uint64_t t) noexcept nogil
ctypedef uint64_t (*slot_slot_fn)(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil
ctypedef int (*slot_grow_fn)(void* d, slot_dev_t* dv, uint64_t off, uint64_t c) except -1 nogil
ctypedef int (*slot_chunk_fn)(void* d, slot_dev_t* dv, uint64_t cur, uint64_t end) noexcept nogil
ctypedef void (*slot_release_fn)(slot_dev_t* dv) noexcept nogil


cdef struct slot_hooks:
    slot_dev_fn dev               # the per-device struct of type t (t < MAX_SWAPFILES)
    slot_slot_fn in_use           # nonzero: the slot holds an entry of this design (uncounted)
    slot_slot_fn count            # the swap count (uncounted)
    slot_slot_fn only_in_cache    # count 0 and held by the swap cache alone (reads counted)
    slot_slot_fn put_one          # one count off: a SLOT_PUT_* code
    slot_chunk_fn fast_chunk      # the zap's all-count-1 test of a chunk: -1, or 1 if cached
    slot_chunk_fn mark_cache_only # the fast path's cached chunk: counts 1 -> 0, cache-only
    slot_chunk_fn clear_slots     # the design's metadata of freed slots (one cluster)
    slot_grow_fn count_room       # what count c needs (MemoryError before any change)
    slot_slot_fn dup_one          # one count on
    slot_slot_fn pin              # the swap cache takes the slot (swapcache_prepare)
    slot_slot_fn unpin            # put_swap_folio on one slot (frees it at count 0)
    slot_slot_fn is_zero          # the slot's page is zero-filled (uncounted)
    slot_slot_fn zero_set
    slot_slot_fn zero_clear
    slot_release_fn release       # free a device's metadata, zero its struct
    uint64_t payload              # the bits of a table word that hold the swap-cache word


cdef struct slot_state_t:
    const slot_hooks* h
    slot_stats st


# (state, entry, nr): the verb on nr validated entries
ctypedef int (*slot_range_fn)(void* d, uint64_t e, uint64_t nr) except -1 nogil
# (state, entry, nr, word): a swap-cache word written on nr entries; the first one's old word
ctypedef uint64_t (*slot_word_fn)(void* d, uint64_t e, uint64_t nr, uint64_t word) noexcept nogil
# (state, entry): a per-slot figure
ctypedef uint64_t (*slot_value_fn)(void* d, uint64_t e) noexcept nogil
# (state, entry, *handle): where swap-in finds the data (a LOOKUP_KINDS code)
ctypedef int (*slot_kind_fn)(void* d, uint64_t e, uint64_t* handle) noexcept nogil


cdef struct slot_cores:
    slot_range_fn swap_duplicate          # counts already checked against the limit
    slot_range_fn swap_free_nr
    slot_range_fn free_swap_and_cache_nr
    slot_range_fn zero_store
    slot_range_fn zswap_store             # nr: the handle
    slot_range_fn writeback
    slot_range_fn swapcache_prepare
    slot_word_fn swap_cache_add_folio     # word: swap_cache_folio(folio, order)
    slot_word_fn swap_cache_del_folio     # word: 0 or the shadow's word
    slot_range_fn put_swap_folio
    slot_value_fn in_use                  # nonzero: the slot is allocated (0 past the device)
    slot_value_fn swap_count
    slot_kind_fn lookup                   # an allocated slot
    slot_range_fn swapoff_slot            # swapoff's last pass over one slot (nr unused)


cdef inline slot_cores slot_cores_table(
        slot_range_fn swap_duplicate, slot_range_fn swap_free_nr,
        slot_range_fn free_swap_and_cache_nr, slot_range_fn zero_store,
        slot_range_fn zswap_store, slot_range_fn writeback, slot_range_fn swapcache_prepare,
        slot_word_fn swap_cache_add_folio, slot_word_fn swap_cache_del_folio,
        slot_range_fn put_swap_folio, slot_value_fn in_use, slot_value_fn swap_count,
        slot_kind_fn lookup, slot_range_fn swapoff_slot) noexcept:
    """A design's slot_cores, in the struct's field order."""
    cdef slot_cores c
    c.swap_duplicate = swap_duplicate
    c.swap_free_nr = swap_free_nr
    c.free_swap_and_cache_nr = free_swap_and_cache_nr
    c.zero_store = zero_store
    c.zswap_store = zswap_store
    c.writeback = writeback
    c.swapcache_prepare = swapcache_prepare
    c.swap_cache_add_folio = swap_cache_add_folio
    c.swap_cache_del_folio = swap_cache_del_folio
    c.put_swap_folio = put_swap_folio
    c.in_use = in_use
    c.swap_count = swap_count
    c.lookup = lookup
    c.swapoff_slot = swapoff_slot
    return c


# --- per slot, in the allocator (no checks) -------------------------------------------------

cdef inline uint64_t slot_table_read(uint64_t* reads, swap_device_t* si,
                                     uint64_t off) noexcept nogil:
    """The slot's swap table word, counted in ``*reads``."""
    reads[0] += 1
    return swap_table_get(si, off)


cdef inline void slot_table_write(uint64_t* writes, swap_device_t* si, uint64_t off,
                                  uint64_t w) noexcept nogil:
    """Write the slot's swap table word (counted in ``*writes``); not if the slot was freed
    behind the design's back (SwapDevice.free)."""
    writes[0] += 1
    if si.map[off] == SLOT_USED:
        swap_table_set(si, off, w)


cdef inline void slot_entries_free(swap_device_t* si, uint64_t off, uint64_t nr) noexcept nogil:
    """swap_entries_free of ``nr`` slots of one cluster, one batch when all are still in use.

    A slot freed behind the design's back (SwapDevice.free) is never freed twice.
    """
    cdef uint64_t i
    for i in range(off, off + nr):
        if si.map[i] != SLOT_USED:
            break
    else:
        swap_entries_free(si, off, nr)
        return
    for i in range(off, off + nr):
        if si.map[i] == SLOT_USED:
            swap_entries_free(si, i, 1)


cdef inline int zswap_tree_find(zswap_tree* z, uint64_t* walks, uint64_t off, uint64_t* handle,
                                bint erase) noexcept nogil:
    """1 and ``*handle`` if ``off`` has a zswap copy (dropped when ``erase``: zswap_invalidate).

    The tree is descended only when it holds any entry; each descent counts in ``*walks``.
    """
    cdef xa_entry x
    if not z.nr:
        return 0
    walks[0] += 1
    x = xa_erase(&z.xa, off) if erase else xa_load(&z.xa, off)
    if x == 0:
        return 0
    if erase:
        z.nr -= 1
    handle[0] = xa_to_value(x)
    return 1


cdef inline int zswap_tree_store(zswap_tree* z, uint64_t* walks, uint64_t off,
                                 uint64_t handle) except -1 nogil:
    """zswap_store's insertion (MemoryError before any change); replaces an older copy."""
    cdef xa_entry old = 0
    walks[0] += 1
    xa_store(&z.xa, off, xa_mk_value(handle), &old)
    if old == 0:
        z.nr += 1
    return 0


cdef inline slot_state_t* slot_state(void* d) noexcept nogil:
    return <slot_state_t*>d


cdef inline uint64_t slot_read(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil:
    """The slot's table word, counted."""
    return slot_table_read(&slot_state(d).st.table_reads, dv.si, off)


cdef inline void slot_write(void* d, slot_dev_t* dv, uint64_t off, uint64_t w) noexcept nogil:
    slot_table_write(&slot_state(d).st.table_writes, dv.si, off, w)


cdef inline uint64_t slot_chunk_end(const slot_dev_t* dv, uint64_t cur, uint64_t end) noexcept nogil:
    """The end of ``cur``'s cluster, or ``end`` if that comes first."""
    cdef uint64_t e = (cur | (dv.si.cluster_size - 1)) + 1
    return e if e < end else end


cdef void slot_free_run(void* d, slot_dev_t* dv, uint64_t off, uint64_t nr) noexcept nogil
cdef bint slot_put_range(void* d, slot_dev_t* dv, uint64_t cur, uint64_t end) noexcept nogil
cdef int slot_try_to_reclaim_swap(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil
cdef int slot_reclaim(void* ctx, swap_device_t* si, uint64_t offset) noexcept nogil
cdef int slot_check_used(void* d, slot_dev_t* dv, uint64_t off, uint64_t nr, bint need_count,
                         uint64_t* bad) noexcept nogil
cdef const slot_cores* slot_cores_of_hooks() noexcept

cdef object slot_error(int err, int t, uint64_t off, str what=*)
cdef int slot_check_range(SwapDesign ds, uint64_t e, uint64_t nr, bint aligned,
                          const swap_device_t* si, uint64_t max) except -1
cdef swap_ops slot_ops_table() noexcept
cdef tuple slot_lookup_many(SwapDesign ds, object entries)
cdef Py_ssize_t slot_swapoff(SwapDesign ds, int t, uint64_t max, object page_tables,
                             uint64_t* pte_walked) except -1


# --- the designs' class: what DirectSwap and SwapTableP4 do alike above the C walks ---

cdef class SlotSwap(SwapDesign):
    # A design sets SwapDesign's fields and _count_limit in its __cinit__; its C
    # state (_ctx) starts with a slot_state_t whose hooks name its devices.
    cdef bint _hosted             # on a host's devices (SwapTableEdition's direct entries)
    cdef uint64_t _count_limit    # the largest swap count an entry reaches
    cdef slot_dev_t* _sdev(self, uint64_t t) noexcept
    cdef slot_dev_t* _srange(self, uint64_t e, uint64_t nr, bint aligned) except NULL
    cdef slot_dev_t* _sused(self, object entry, object nr, int mode, bint need_count,
                            uint64_t* pe, uint64_t* pn) except NULL
    cdef slot_dev_t* _sdevice(self, object device) except NULL
    cdef uint64_t _entry(self, object entry) except? 0xFFFFFFFFFFFFFFFF
    cdef uint64_t _nr(self, object nr) except? 0xFFFFFFFFFFFFFFFF
    cdef uint64_t _order(self, object order) except? 0xFFFFFFFFFFFFFFFF
    cdef void _drop_devices(self) noexcept
    cdef int _attach_dev(self, int t, SwapDevice dev) except -1
    cdef int _attach(self, int t, SwapDevice dev) except -1
    cdef int _alloc_prepare(self, object order, object memcg, object cpu,
                            uint64_t* nr, uint64_t* m, uint64_t* c) except -1
    cdef int _alloc_run(self, uint64_t nr, int cpu, slot_dev_t** dv, uint64_t* off) except -1
    cdef uint64_t _alloc_one(self, uint64_t folio, uint64_t nr, uint16_t memcg,
                             int cpu) except? 0xFFFFFFFFFFFFFFFF
    cdef uint64_t _alloc_entry(self, uint64_t folio, uint64_t nr, uint64_t m,
                               uint64_t c) except? 0xFFFFFFFFFFFFFFFF
    cdef int _dup_entry(self, uint64_t e) except -1
    cdef int _free_entry(self, uint64_t e) except -1
    cdef int _zswap_entry(self, uint64_t e, uint64_t handle) except -1
    cdef int _batch_entry(self, uint64_t e, void** cache) except -1
    cdef int _batch_count(self, uint64_t e, uint64_t k, bint need_count, bint dup,
                          void** cache) except -1
    cdef int _check_dup(self, uint64_t e, uint64_t n) except -1
    cdef bint _run_may_grow(self, uint64_t e, uint64_t k) noexcept
    cdef int _fsc_entries(self, uint64_t e, uint64_t nr) except -1
    cdef object _zswap_find(self, object entry, bint erase)
    cdef list _types(self)
    cdef list _check_begin(self, void* reclaim)
    cdef object _check_end(self, list errors)
    cdef dict _footprint_end(self, dict out)
    cdef object _snap_slot(self, int t, uint64_t off, object z)
    cdef dict _snap_dev(self, int t)
    cdef dict _snapshot(self)
