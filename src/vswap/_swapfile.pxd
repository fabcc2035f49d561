# C interface of the physical swap slot allocator (the kernel's mm/swapfile.c
# cluster allocator, Linux 6.19).
#
# A design layered on top (the baseline DirectSwap, VirtualSwap) cimports these
# declarations: it allocates and frees slots with swap_device_alloc /
# swap_entries_free at C speed, owns the per-slot 64-bit table word
# (swap_table_get / swap_table_set) and plugs its reclaim policy in as a C
# function pointer + context (swap_device_t.reclaim / reclaim_ctx), so the
# allocator's hot path never calls into Python.
#
# Layout (one swap_device_t per swap_info_struct):
#   map[max rounded up to a cluster]   one byte per slot: SLOT_FREE/USED/BAD
#   cluster_info[nr_clusters]          count, flags (which list), order, links
#   cluster_info[i].table              cluster_size words, allocated while the
#                                      cluster is in use (NULL when FREE)
#   lists                              index-linked lists through the cluster
#                                      array (prev/next = cluster index, -1 ends)

from libc.stdint cimport uint8_t, uint16_t, int32_t, uint32_t, int64_t, uint64_t

# The limits (orders, cluster size, CPUs, devices) live in _swapentry.pxd.
from vswap._swapentry cimport (
    SWAP_NR_ORDERS, SWAPFILE_CLUSTER, NR_CPUS, MAX_SWAPFILES, SWAP_TABLE_CACHE_ONLY, FOLIO_MAX,
    HANDLE_MAX,
)


cdef enum:
    SWAP_TABLE_CACHE_MAX = 16     # freed (all-zero) tables kept for reuse per device
    DEF_SWAP_PRIO = -1            # 6.19: every device without a priority

    # enum swap_cluster_flags (mm/swap.h since 6.14)
    CLUSTER_FLAG_NONE = 0         # isolated (off list), transient
    CLUSTER_FLAG_FREE = 1
    CLUSTER_FLAG_NONFULL = 2
    CLUSTER_FLAG_FRAG = 3
    CLUSTER_FLAG_USABLE = 3       # flags <= USABLE may be allocated from
    CLUSTER_FLAG_FULL = 4
    CLUSTER_FLAG_DISCARD = 5

    # per-slot allocator state (the role of the swap_map byte)
    SLOT_FREE = 0
    SLOT_USED = 1
    SLOT_BAD = 2
    SLOT_FREEING = 3              # transient mark while validating a batch

    # swap_info_struct.flags
    SWP_WRITEOK = 1
    SWP_SOLIDSTATE = 2
    SWP_PAGE_DISCARD = 4
    SWP_BLKDEV = 8              # a block device (zram, a partition); a file on a filesystem is not

    # return codes of the C entry points (0 = success)
    SWAP_EINVAL = -22
    SWAP_ENOENT = -2


cdef struct swap_device_t
cdef struct swap_globals_t

# The reclaim hook (__try_to_reclaim_swap): try to release the slot at
# ``offset`` (held only by the swap cache). Returns the number of slots freed
# (> 0), minus the number found but not freed (< 0), or 0 when nothing was
# there. It may free slots with swap_entries_free; it must not allocate.
ctypedef int (*swap_reclaim_fn)(void* ctx, swap_device_t* si, uint64_t offset) noexcept nogil

# The cache-only test (virtual branch addition): NULL = test bit 63 of the
# table word (vswap v6's SWP_RMAP_CACHE_ONLY); a design without that bit
# (vswap v5) plugs in a function that asks its own layer. Called with the
# reclaim context, only for allocated slots.
ctypedef bint (*swap_cache_only_fn)(void* ctx, swap_device_t* si, uint64_t offset) noexcept nogil


cdef struct swap_cluster_info:
    uint16_t count        # non-free slots (bad, header and tail included)
    uint8_t flags         # CLUSTER_FLAG_*: the list the cluster is on
    uint8_t order         # order owning the cluster; 0 when free
    int32_t prev          # list links: cluster indices, -1 = none
    int32_t next
    uint64_t* table       # the swap table: cluster_size words, or NULL


cdef struct cluster_list:
    int32_t head
    int32_t tail
    uint32_t nr


cdef struct swap_stats:
    uint64_t fast_hits         # allocations served by the per-CPU cached cluster
    uint64_t slow_path         # cluster_alloc_swap_entry calls
    uint64_t failures          # cluster_alloc_swap_entry calls that found nothing
    uint64_t clusters_scanned  # alloc_swap_scan_cluster calls
    uint64_t slots_scanned     # candidate offsets tried by those scans
    uint64_t isolations        # clusters taken off a list (isolate_lock_cluster)
    uint64_t list_moves        # move_cluster calls
    uint64_t discards          # clusters discarded (worker or synchronous)
    uint64_t sync_discards     # synchronous discard passes from allocation
    uint64_t reclaim_calls     # calls of the reclaim hook
    uint64_t reclaimed         # slots the hook reported freed
    uint64_t full_scans        # full clusters isolated by swap_reclaim_full_clusters
    uint64_t tables_allocated
    uint64_t tables_freed


cdef struct percpu_swap_cluster:
    swap_device_t* si[SWAP_NR_ORDERS]
    uint64_t offset[SWAP_NR_ORDERS]


cdef struct swap_set_stats:
    uint64_t fast_hits         # folio_alloc_swap served by swap_alloc_fast
    uint64_t slow_path         # swap_alloc_slow entries
    uint64_t requeues          # plist_requeue calls (round robin)
    uint64_t fallthroughs      # order-0 attempts moving on to the next device
    uint64_t failures          # allocations that found nothing on any device


cdef struct swap_globals_t:
    percpu_swap_cluster pcp[NR_CPUS]
    swap_set_stats stats
    int64_t nr_swap_pages          # free slots of the set (atomic_long in the kernel)
    int64_t total_swap_pages
    swap_device_t* avail[MAX_SWAPFILES]   # swap_avail_head, priority order
    int nr_avail


cdef struct swap_device_t:
    uint64_t max                  # slots, header included (si->max)
    uint64_t pages                # usable slots: max - 1 - bad
    uint64_t inuse_pages
    uint32_t cluster_size
    uint32_t cluster_shift
    uint32_t nr_clusters
    uint32_t nr_orders            # log2(cluster_size) + 1
    int flags                     # SWP_*
    int prio
    int type                      # index in its set, -1 when standalone
    bint on_avail                 # on g.avail (the off-list bit clear)
    bint reclaim_scheduled        # reclaim_work queued (device became full)
    uint8_t* map
    swap_cluster_info* cluster_info
    cluster_list free_clusters
    cluster_list full_clusters
    cluster_list discard_clusters
    cluster_list nonfull_clusters[SWAP_NR_ORDERS]
    cluster_list frag_clusters[SWAP_NR_ORDERS]
    uint64_t global_next[SWAP_NR_ORDERS]   # HDD: global_cluster->next[order]
    swap_globals_t* g
    swap_reclaim_fn reclaim
    void* reclaim_ctx
    uint64_t nr_tables
    uint64_t* table_cache[SWAP_TABLE_CACHE_MAX]   # freed tables, all zero (like a kmem cache)
    int nr_table_cache
    swap_stats stats
    swap_cache_only_fn cache_only  # NULL: test SWAP_TABLE_CACHE_ONLY (see above)


# --- the allocator ----------------------------------------------------------

cdef int swap_device_init(swap_device_t* si, uint64_t nr_slots, uint32_t cluster_size,
                          int flags, const uint64_t* bad, Py_ssize_t nr_bad,
                          swap_globals_t* g) except -1 nogil
cdef void swap_device_destroy(swap_device_t* si) noexcept nogil
cdef void swap_globals_init(swap_globals_t* g) noexcept nogil

cdef bint vm_swap_full(const swap_device_t* si) noexcept nogil
cdef int swap_device_alloc(swap_device_t* si, int order, int cpu,
                           uint64_t* offset) except -1 nogil
cdef int swap_alloc_set(swap_globals_t* g, int order, int cpu,
                        swap_device_t** si, uint64_t* offset) except -1 nogil
cdef int cluster_alloc_swap_entry(swap_device_t* si, int order, int cpu,
                                  uint64_t* found) except -1 nogil
cdef int swap_check_range(const swap_device_t* si, uint64_t offset, int order) noexcept nogil
cdef void swap_entries_free(swap_device_t* si, uint64_t offset, uint64_t nr) noexcept nogil
cdef int swap_free(swap_device_t* si, uint64_t offset, int order) noexcept nogil
cdef uint64_t swap_reclaim_full_clusters(swap_device_t* si, bint force) noexcept nogil
cdef uint64_t swap_do_scheduled_discard(swap_device_t* si) noexcept nogil
cdef int swap_default_reclaim(void* ctx, swap_device_t* si, uint64_t offset) noexcept nogil
cdef void flush_percpu_swap_cluster(swap_device_t* si) noexcept nogil
cdef void add_to_avail_list(swap_device_t* si) noexcept nogil
cdef void del_from_avail_list(swap_device_t* si) noexcept nogil


cdef inline uint64_t swap_table_get(const swap_device_t* si, uint64_t offset) noexcept nogil:
    """Table word of a slot (0 when its cluster has no table); no bounds check."""
    cdef const uint64_t* t = si.cluster_info[offset >> si.cluster_shift].table
    if t == NULL:
        return 0
    return t[offset & (si.cluster_size - 1)]


cdef inline void swap_table_set(swap_device_t* si, uint64_t offset, uint64_t word) noexcept nogil:
    """Set the table word of an allocated slot (its cluster has a table)."""
    si.cluster_info[offset >> si.cluster_shift].table[offset & (si.cluster_size - 1)] = word


cdef class SwapDevice:
    cdef swap_device_t si
    cdef swap_globals_t own_g
    cdef object _set
    cdef object _py_hook
    cdef bint _in_hook
    cdef object _name
    cdef object _requested_prio
    # Ownership (swap_device_attach): the C state of the design whose hooks the
    # device carries, its class name, and the hooks to put back on detach.
    cdef void* _owner
    cdef str _owner_name
    cdef swap_reclaim_fn _saved_reclaim
    cdef void* _saved_ctx
    cdef swap_cache_only_fn _saved_cache_only
    cdef object __weakref__
    cdef int _check_usable(self, bint mutating) except -1


cdef class SwapDevices:
    cdef swap_globals_t g
    cdef list _devices
    cdef void* _owner             # the design that took the set (swap_devices_claim), or NULL
    cdef str _owner_name
    cdef object __weakref__


# --- SwapDesign and device ownership: _design.pxd --------------------------------


# --- freeing in runs: consecutive slots of one cluster, one swap_entries_free --
# A layer above that frees physical slots one at a time (the virtual designs'
# backing release) batches them here; the twin is reference.swapfile.SwapFreeBatch.

cdef struct swap_free_batch:
    swap_device_t* si
    uint64_t off
    uint64_t n
    uint64_t runs                 # swap_entries_free calls made, since swap_batch_done
    uint64_t slots                # slots they freed


cdef inline void swap_batch_init(swap_free_batch* b) noexcept nogil:
    b.si = NULL
    b.off = b.n = b.runs = b.slots = 0


cdef inline uint64_t swap_batch_flush(swap_free_batch* b) noexcept nogil:
    """Free the queued run; the slots freed (0 when none was queued)."""
    cdef uint64_t n = b.n
    if n:
        swap_entries_free(b.si, b.off, n)
        b.n = 0
        b.runs += 1
        b.slots += n
    return n


cdef inline void swap_batch_done(swap_free_batch* b, uint64_t* runs, uint64_t* slots,
                                 uint64_t* nr_held) noexcept nogil:
    """Flush, then count what the batch freed: ``runs`` and ``slots`` up, ``nr_held`` down.

    The layer above's physical frees (its ``phys_frees``, ``rmap_writes``:
    swap_entries_free clears each slot's reverse-map word, and ``nr_phys``).
    """
    swap_batch_flush(b)
    runs[0] += b.runs
    slots[0] += b.slots
    nr_held[0] -= b.slots
    b.runs = b.slots = 0


cdef inline uint64_t swap_batch_add(swap_free_batch* b, swap_device_t* si,
                                    uint64_t off) noexcept nogil:
    """Queue slot ``off`` of ``si``; the slots freed first when it does not extend the run."""
    cdef uint64_t flushed
    if (b.n and b.si == si and off == b.off + b.n
            and (off >> si.cluster_shift) == (b.off >> si.cluster_shift)):
        b.n += 1
        return 0
    flushed = swap_batch_flush(b)
    b.si = si
    b.off = off
    b.n = 1
    return flushed


# SwapDesign moved to _design.pxd; cimported here too so that
# ``from vswap._swapfile cimport SwapDesign`` keeps working.
from vswap._design cimport SwapDesign
