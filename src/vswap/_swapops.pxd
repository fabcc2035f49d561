# The swap protocol at C level: the table of verbs the compiled replay
# (vswap._replay) calls once per page event, with no Python call in between.
#
# A compiled design publishes one static ``swap_ops`` table through
# ``design.__vswap_ops__()``: a PyCapsule named "vswap.swap_ops" holding a
# pointer to the table. Every function takes the design object itself as
# ``space`` (a borrowed PyObject*; the replay holds a reference for the whole
# run). ``__vswap_ops__()`` attaches the design to every device of its set;
# the set must not change while the table is in use. Arguments are trusted: the replay's page tables only ever hand a
# design entries it allocated, so no verb re-validates its range. Each verb
# does exactly the work (and counts exactly the counters) of the Python
# method named beside it, so the pure-Python replay, which calls those
# methods, gets identical counters.
#
# Return values: 0 on success, 1 when no space is left (``NoSpace`` of the
# method), -1 with a Python exception set (MemoryError and the like).

from libc.stdint cimport uint16_t, uint64_t

from vswap._swapentry cimport VSWAP_ZERO, VSWAP_ZSWAP, VSWAP_SWAPFILE, VSWAP_FOLIO

cdef enum:
    SWAP_OPS_VERSION = 2   # 2: the prefetch field (a version-1 table is still accepted)
    # lookup() results: the backing codes of _swapentry.pxd (those of
    # vswap.protocol.LOOKUP_KINDS), and one more for an entry that is not
    # allocated (the method raises NoEntry)
    OPS_ZERO = VSWAP_ZERO
    OPS_ZSWAP = VSWAP_ZSWAP
    OPS_SWAPFILE = VSWAP_SWAPFILE
    OPS_FOLIO = VSWAP_FOLIO
    OPS_FREE = VSWAP_FOLIO + 1

# The "no shadow" argument of reclaim_folio (swap_cache_del_folio(shadow=None)).
cdef extern from *:
    """
    #define VSWAP_OPS_NO_SHADOW (~(unsigned long long)0)
    """
    const uint64_t OPS_NO_SHADOW "VSWAP_OPS_NO_SHADOW"

# folio_alloc_swap(folio, order, memcg, cpu): *entry = the first entry
ctypedef int (*ops_alloc_fn)(void* space, uint64_t folio, int order, uint16_t memcg, int cpu,
                             uint64_t* entry) except -1
# swap_duplicate / swap_free_nr / free_swap_and_cache_nr / zero_store (entry, nr)
ctypedef int (*ops_range_fn)(void* space, uint64_t entry, uint64_t nr, int cpu) except -1
# zswap_store(entry, handle)
ctypedef int (*ops_zswap_fn)(void* space, uint64_t entry, uint64_t handle, int cpu) except -1
# writeback(entry, order) (arg unused); swapin_folio: swapcache_prepare(entry,
# 2**order) + swap_cache_add_folio(entry, arg, order); reclaim_folio:
# swap_cache_del_folio(entry, order, shadow=arg) + put_swap_folio(entry, order)
ctypedef int (*ops_folio_fn)(void* space, uint64_t entry, int order, uint64_t arg,
                             int cpu) except -1
# lookup(entry): an OPS_* code, *handle as Lookup.handle
ctypedef int (*ops_lookup_fn)(void* space, uint64_t entry, int cpu, uint64_t* handle) except -1
# prefetch(entry): advice, and no verb: start loading the memory a verb on ``entry`` will
# read first. It changes no state, result or counter, and must be safe for any value of
# ``entry`` (allocated or not). The replay calls it a few pages ahead of a zap whose entries
# are out of order (a miss per entry otherwise); NULL when the design has none.
ctypedef void (*ops_prefetch_fn)(void* space, uint64_t entry) noexcept


cdef struct swap_ops:
    uint64_t version
    ops_alloc_fn folio_alloc_swap
    ops_range_fn swap_duplicate
    ops_range_fn swap_free_nr
    ops_range_fn free_swap_and_cache_nr
    ops_range_fn zero_store
    ops_zswap_fn zswap_store
    ops_folio_fn writeback
    ops_folio_fn swapin_folio
    ops_folio_fn reclaim_folio
    ops_lookup_fn lookup
    ops_prefetch_fn prefetch    # version 2; may be NULL


cdef inline swap_ops swap_ops_table(ops_alloc_fn folio_alloc_swap, ops_range_fn swap_duplicate,
                                    ops_range_fn swap_free_nr, ops_range_fn free_swap_and_cache_nr,
                                    ops_range_fn zero_store, ops_zswap_fn zswap_store,
                                    ops_folio_fn writeback, ops_folio_fn swapin_folio,
                                    ops_folio_fn reclaim_folio, ops_lookup_fn lookup) noexcept:
    """A design's verb table, in the struct's field order, at this SWAP_OPS_VERSION."""
    cdef swap_ops ops
    ops.version = SWAP_OPS_VERSION
    ops.folio_alloc_swap = folio_alloc_swap
    ops.swap_duplicate = swap_duplicate
    ops.swap_free_nr = swap_free_nr
    ops.free_swap_and_cache_nr = free_swap_and_cache_nr
    ops.zero_store = zero_store
    ops.zswap_store = zswap_store
    ops.writeback = writeback
    ops.swapin_folio = swapin_folio
    ops.reclaim_folio = reclaim_folio
    ops.lookup = lookup
    ops.prefetch = NULL            # a design with a prefetch sets it on its table
    return ops
