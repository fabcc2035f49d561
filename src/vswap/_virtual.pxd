# C interface of the virtual swap design (linux-mm "Virtual Swap Space", v6).
#
# A swap entry is a virtual slot: cluster id * 512 + index. The clusters live
# in one allocating xarray (vswap_cluster_map, ids from xa_alloc, lowest free
# first); each holds an allocation bitmap and 512 descriptors (swp_desc, the
# kernel's 24-byte struct). The physical side is the slot allocator of
# _swapfile: a physical slot's table word is the reverse map (the owning
# virtual entry, bit 63 = SWP_RMAP_CACHE_ONLY when the cache_only_bit switch
# is on).
#
# swp_desc (24 bytes, as the kernel's pahole):
#   backing      SWAPFILE: the physical slot (swp_entry value type<<58|off);
#                ZSWAP: the zswap handle; FOLIO: the backing folio id; ZERO: 0
#   cache        swap cache word: 0, folio << 6 | order << 2 | 0b10, or
#                shadow << 1 | 1 (the same encoding as DirectSwap's table)
#   swap_count   32-bit count of PTE / shmem references
#   memcgid      16-bit owning memcg id
#   flags        bit 0 in_swapcache, bits 1..2 the backing type

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

from vswap._virtual_base cimport VirtualCommon
from vswap._swapfile cimport swap_device_t, SwapDevice, SwapDevices
from vswap._xarray cimport xarray_t


# The entry encoding, the backing codes (swp_desc's type) and the limits: _swapentry.pxd.
from vswap._swapentry cimport (
    SWP_TYPE_SHIFT, SWP_OFFSET_MASK, MAX_SWAPFILES, NR_CPUS, SWAP_NR_ORDERS, SWAPFILE_CLUSTER,
    FOLIO_MAX, SHADOW_MAX, HANDLE_MAX, VSWAP_ZERO, VSWAP_ZSWAP, VSWAP_SWAPFILE, VSWAP_FOLIO,
    swp_entry, swap_cache_folio, swap_cache_is_folio, swap_cache_is_shadow,
    swap_cache_folio_id, swap_cache_order,
)


cdef enum:
    VCLUSTER_SHIFT = 9
    VCLUSTER_SIZE = SWAPFILE_CLUSTER  # a virtual cluster has the slots of a PMD folio

    DESC_IN_SWAPCACHE = 1


cdef struct swp_desc:
    uint64_t backing
    uint64_t cache
    uint32_t swap_count
    uint16_t memcgid
    uint8_t flags
    uint8_t pad


cdef struct vcluster:          # begins with _virtual_common.pxd's vnode: id, list links
    uint64_t id
    vcluster* prev            # partial_clusters_lists[order] links
    vcluster* next
    uint32_t count            # allocated slots (the reserved run of cluster 0 included)
    uint32_t refcnt           # count + 1 while a CPU's allocation cache holds it
    uint8_t order             # fixed for the cluster's life
    uint8_t cached            # held by a per-CPU allocation cache
    uint8_t full
    uint8_t on_partial
    uint64_t bitmap[8]        # 512 allocation bits
    swp_desc* desc            # 512 descriptors (v6: a separate array)


cdef struct vlist:
    vcluster* head
    vcluster* tail
    uint64_t nr


cdef struct vswap_stats:
    uint64_t lookups           # virtual-layer lookups that walked the xarray
    uint64_t node_visits       # xarray nodes entered by those walks
    uint64_t mru_hits          # lookups served by the CPU's MRU cluster
    uint64_t mru_misses
    uint64_t desc_reads        # descriptors read
    uint64_t desc_writes       # descriptors written
    uint64_t cluster_locks     # virtual cluster locked sections
    uint64_t rmap_reads        # reverse-map words read
    uint64_t rmap_writes       # reverse-map words written
    uint64_t alloc_scans       # virtual clusters searched by the allocator
    uint64_t cgroup_checks     # memcg comparisons of the batched free path
    uint64_t cache_only_checks # physical-allocator cache-only tests through the virtual layer
    uint64_t slots_freed       # virtual slots freed
    uint64_t folios_reclaimed  # folios removed from the swap cache by reclaim
    uint64_t phys_allocs       # physical runs allocated (writeback)
    uint64_t phys_frees        # physical free batches (swap_entries_free calls)
    uint64_t scans             # physical slots examined by swapoff
    uint64_t clusters_allocated
    uint64_t clusters_freed
    uint64_t global_locks      # sections under the global allocator lock (xa_lock, partial lists)
    uint64_t used_updates      # updates of the global vswap_used atomic (an allocation, a release)


cdef enum:
    PF_CACHE_SIZE = 64              # a power of two


cdef struct vswap_t:
    # the head: _virtual_common.pxd's vcommon_t
    xarray_t map                              # vswap_cluster_map (XA_FLAGS_ALLOC)
    vcluster* mru[NR_CPUS]                  # per-CPU MRU lookup cache (mru_cluster_cache)
    swap_device_t* devs[MAX_SWAPFILES]      # attached physical devices by type
    uint64_t* charge                          # memcg swap charge, MEMCG_MAX counters
    uint64_t max_clusters
    uint64_t nr_clusters
    uint64_t nr_used                          # allocated virtual slots (vswap/used)
    uint64_t alloc_reject
    uint64_t nr_zswap
    uint64_t nr_phys                          # physical slots backing entries
    uint64_t locked_lo                        # a folio being written out: reclaim skips it
    uint64_t locked_hi
    int cpu                                   # the CPU the verbs without a cpu argument run on
    # VirtualSwap's own
    vlist partial[SWAP_NR_ORDERS]           # partial_clusters_lists[order]
    vcluster* pcp[NR_CPUS * SWAP_NR_ORDERS] # per-CPU allocation cache [cpu * orders + order]
    bint opt_cache_only_bit
    bint opt_batched_cgroup
    bint opt_mru
    bint free_batching              # v4's batched vswap_free_nr (off: v3)
    vswap_stats st
    # the prefetch's own cluster cache (by id, direct-mapped; no model state, never counted):
    # a zap's scattered entries come in a few streams, each through one cluster at a time
    vcluster* pf_cache[PF_CACHE_SIZE]


cdef int vswap_reclaim(void* ctx, swap_device_t* si, uint64_t offset) noexcept nogil
cdef bint vswap_cache_only(void* ctx, swap_device_t* si, uint64_t offset) noexcept nogil
cdef swp_desc* vswap_desc(vswap_t* v, uint64_t entry) noexcept nogil


cdef class VirtualSwap(VirtualCommon):
    cdef vswap_t v
    cdef void _drop_devices(self) noexcept
    cdef int _attach(self, int t, SwapDevice dev) except -1
    cdef uint64_t _range(self, object entry, uint64_t nr, bint aligned) except? 0xFFFFFFFFFFFFFFFF
    cdef swp_desc* _live(self, uint64_t e) except NULL
    cdef int _batch_entry(self, uint64_t e, void** cache) except -1
    cdef int _batch_count(self, uint64_t e, uint64_t k, bint need_count, bint dup,
                          void** cache) except -1
    cdef int _check_counted(self, uint64_t e, uint64_t n) except -1
    cdef int _zswap_put(self, uint64_t e, uint64_t h) noexcept
    cdef int _alloc_prepare(self, object order, object memcg, object cpu,
                            uint64_t* o, uint64_t* m, uint64_t* c) except -1
    cdef uint64_t _alloc_entry(self, uint64_t folio, uint64_t o, uint64_t m,
                               uint64_t c) except? 0xFFFFFFFFFFFFFFFF
    cdef int _dup_entry(self, uint64_t e) except -1
    cdef int _free_entry(self, uint64_t e) except -1
    cdef int _zswap_entry(self, uint64_t e, uint64_t handle) except -1
    cdef int _fsc_entries(self, uint64_t e, uint64_t nr) except -1
