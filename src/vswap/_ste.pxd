# C interface of Virtual Swap Space, Swap Table Edition (Nhat Pham's RFC of
# 2026-05-28 on swap table phase IV): the virtual layer is one ghost swap
# device, type VSWAP_TYPE, whose clusters (swap_cluster_info_dynamic) are
# allocated on demand in an allocating xarray keyed by cluster id. Per slot
# of a ghost cluster:
#   table[i]    the phase IV swap table word (_swaptable.pxd's layout: count
#               in bits 59..62 with the extend table above 14, SWP_TB_PIN
#               for the swap cache, the cache word in bits 0..56)
#   vtable[i]   the virtual_table word: low 3 bits a tag, NONE / PHYS (type
#               in bits 3..7, offset from bit 8) / ZERO / ZSWAP (handle << 3)
#               / FOLIO (folio id << 3)
#   memcg[i]    the memcg_table id
# A physical slot backing a ghost slot holds a reverse-map word in its
# device's swap table: virtual offset << 3 | SWP_TB_RMAP (0b100), bit 63 the
# cache-only bit. Direct-mapped entries (a physical slot in the page table, the
# memcgs of direct_memcg) coexist on the same devices and work exactly as in
# phase IV: a hosted SwapTableP4 (_swaptable.pxd) holds them, its words
# beside the reverse-map words.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

from vswap._virtual_base cimport VirtualCommon
from vswap._swapfile cimport swap_device_t, swap_globals_t, SwapDevice
from vswap._swaptable cimport SwapTableP4, p4_t
from vswap._xarray cimport xarray_t
from vswap._swapentry cimport MAX_SWAPFILES, NR_CPUS, SWAP_NR_ORDERS, SWAPFILE_CLUSTER


cdef enum:
    STE_VCLUSTER_SHIFT = 9
    STE_VCLUSTER_SIZE = SWAPFILE_CLUSTER
    VSWAP_TYPE = MAX_SWAPFILES - 1        # the ghost device's type; physical devices 0 .. 30
    VT_NONE = 0
    VT_PHYS = 1
    VT_ZERO = 2
    VT_ZSWAP = 3
    VT_FOLIO = 4
    VT_ZSWAP_V2 = 2                       # RFC v2's tags: NONE 000, PHYS 001, ZSWAP 010
    VT_TAG_BITS = 3
    # where a ghost cluster is: a CPU's virtual cluster cache, nonfull[order], or neither
    VC_CACHED = 1
    VC_NONFULL = 2
    VC_FULL = 3


cdef struct ste_vcluster:          # begins with _virtual_common.pxd's vnode: id, list links
    uint64_t id
    ste_vcluster* prev             # nonfull[order] links
    ste_vcluster* next
    uint32_t count                 # slots in use (cluster 0's header run included)
    uint8_t order                  # fixed for the cluster's life
    uint8_t state                  # VC_*
    uint16_t hint                  # every aligned run below it is taken: find_run starts here
    uint32_t* ext                  # extend table (counts >= 15), or NULL
    uint64_t table[512]            # swap_table
    uint64_t vtable[512]           # virtual_table
    uint16_t memcg[512]            # memcg_table


cdef struct ste_list:
    ste_vcluster* head
    ste_vcluster* tail


cdef struct ste_stats:
    uint64_t lookups               # xarray walks of the ghost cluster map
    uint64_t node_visits           # xarray nodes entered by those walks
    uint64_t lookup_hits           # walks saved by the per-CPU lookup cache (v6's MRU)
    uint64_t lookup_misses
    uint64_t table_reads           # swap table words read
    uint64_t table_writes
    uint64_t vtable_reads          # virtual_table words read
    uint64_t vtable_writes
    uint64_t memcg_writes          # memcg_table ids written
    uint64_t cluster_locks         # ghost cluster locked sections
    uint64_t rmap_reads            # reverse-map words read (physical side)
    uint64_t rmap_writes
    uint64_t alloc_scans           # ghost clusters searched for a free run
    uint64_t vcache_hits           # allocations served by the CPU's cached ghost cluster
    uint64_t vcache_misses         # allocations taking the slow path
    uint64_t pcp_invalidations     # shared cache: a virtual or physical cluster evicted by the other
    uint64_t slots_freed
    uint64_t folios_reclaimed
    uint64_t phys_allocs           # physical runs allocated (writeback)
    uint64_t direct_allocs         # direct-mapped runs allocated (folio_alloc_swap)
    uint64_t phys_frees            # physical free batches
    uint64_t scans                 # physical slots examined by swapoff
    uint64_t clusters_allocated
    uint64_t clusters_freed
    uint64_t extend_tables_allocated
    uint64_t zswap_walks           # v1: zswap's own tree, one descent per store, load and erase


cdef struct ste_t:
    # the head: _virtual_common.pxd's vcommon_t
    xarray_t map                                   # the ghost device's clusters (XA_FLAGS_ALLOC)
    ste_vcluster* mru[NR_CPUS]                     # per-CPU lookup cache (the v6 MRU, a switch)
    swap_device_t* devs[MAX_SWAPFILES]
    uint64_t* charge                               # swap.current per memcg (physical backing), MEMCG_MAX
    uint64_t max_clusters
    uint64_t nr_clusters
    uint64_t nr_used
    uint64_t alloc_reject
    uint64_t nr_zswap
    uint64_t nr_phys
    uint64_t locked_lo                             # the run under writeout: reclaim skips it
    uint64_t locked_hi
    int cpu
    # the Swap Table Edition's own
    ste_list nonfull[SWAP_NR_ORDERS]
    ste_vcluster* vpcp[NR_CPUS * SWAP_NR_ORDERS]   # per-CPU virtual cluster cache [cpu * orders + order]
    swap_globals_t* g                              # the set's globals: the physical per-CPU cache
    uint8_t* direct_memcg                          # 1: the memcg's entries are direct-mapped, MEMCG_MAX
    p4_t* direct                                   # the hosted phase IV state of those entries
    uint64_t nr_ext
    bint opt_shared
    bint opt_lookup_cache
    int rfc                                        # the RFC modelled: 1 (2026-05-28) or 2 (2026-06-12)
    uint64_t vt_zswap                              # the ZSWAP tag: VT_ZSWAP (v1) or VT_ZSWAP_V2
    uint64_t vt_max                                # the largest tag: VT_FOLIO (v1) or VT_ZSWAP_V2
    ste_stats st


cdef int ste_reclaim(void* ctx, swap_device_t* si, uint64_t offset) noexcept nogil


cdef class SwapTableEdition(VirtualCommon):
    cdef ste_t v
    cdef SwapTableP4 _direct                       # direct-mapped entries (hosted, never None)
    cdef uint64_t _alloc_any(self, uint64_t folio, int order, uint16_t memcg,
                             int cpu) except? 0xFFFFFFFFFFFFFFFF
    cdef bint _is_direct(self, object entry) except -1
    cdef void _drop_devices(self) noexcept
    cdef int _attach(self, int t, SwapDevice dev) except -1
    cdef uint64_t _range(self, object entry, uint64_t nr, bint aligned) except? 0xFFFFFFFFFFFFFFFF
    cdef ste_vcluster* _live(self, uint64_t v) except NULL
    cdef int _check_counted(self, uint64_t v, uint64_t n) except -1
    cdef ste_vcluster* _read(self, object entry, uint64_t* idx) except NULL
    cdef int _batch_entry(self, uint64_t e, void** cache) except -1
    cdef int _batch_count(self, uint64_t e, uint64_t k, bint need_count, bint dup,
                          void** cache) except -1
    cdef int _alloc_prepare(self, object order, object memcg, object cpu,
                            uint64_t* o, uint64_t* m, uint64_t* c) except -1
    cdef uint64_t _alloc_entry(self, uint64_t folio, uint64_t o, uint64_t m,
                               uint64_t c) except? 0xFFFFFFFFFFFFFFFF
    cdef int _dup_entry(self, uint64_t e) except -1
    cdef int _free_entry(self, uint64_t e) except -1
    cdef int _zswap_entry(self, uint64_t e, uint64_t handle) except -1
    cdef int _fsc_entries(self, uint64_t e, uint64_t nr) except -1
