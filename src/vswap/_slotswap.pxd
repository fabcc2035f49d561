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

from libc.stdint cimport uint64_t

from vswap._swapfile cimport (
    SwapDesign, swap_device_t, swap_table_get, swap_table_set, swap_entries_free, SLOT_USED,
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


cdef object slot_error(int err, int t, uint64_t off, str what=*)
cdef int slot_check_range(SwapDesign ds, uint64_t e, uint64_t nr, bint aligned,
                          const swap_device_t* si, uint64_t max) except -1
cdef swap_ops slot_ops_table() noexcept
cdef tuple slot_lookup_many(SwapDesign ds, object entries)
cdef Py_ssize_t slot_swapoff(SwapDesign ds, int t, uint64_t max, object page_tables,
                             uint64_t* pte_walked) except -1
