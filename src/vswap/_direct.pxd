# C interface of the baseline, mainline's (6.19) swap design: a swap entry is the
# physical slot itself (swp_entry_t: type bits 58..62, offset bits 0..57).
#
# Per device (one direct_dev_t next to each swap_device_t of the set):
#   swap_map[max]        count byte: low 6 bits count (<= SWAP_MAP_MAX),
#                        SWAP_HAS_CACHE, COUNT_CONTINUED
#   cont[pages * LEVELS] continuation pages (4096 digit bytes each), one per
#                        4096-slot page of swap_map and level, or NULL
#   swap_cgroup[max]     memcg id per slot (unsigned short)
#   zeromap[max / 64]    one bit per slot
# Per slot, in the allocator's swap table word (swap_table_get/set):
#   0                    nothing
#   folio << 6 | order << 2 | 0b10     a folio in the swap cache
#   shadow << 1 | 1      a workingset shadow
#   bit 63               SWAP_TABLE_CACHE_ONLY (count 0, held only by the cache)
# Per device: the zswap tree (the kernel's zswap_trees[type]), an xarray keyed
# by offset (it holds the handle as a value entry).

from libc.stdint cimport uint8_t, uint16_t, uint64_t

from vswap._design cimport SwapDesign
from vswap._swapfile cimport swap_device_t, swap_globals_t, SwapDevice, SwapDevices
from vswap._slotswap cimport SlotSwap, zswap_tree, slot_hooks


# The entry encoding, the swap_map byte's bits and the limits: _swapentry.pxd.
from vswap._swapentry cimport (
    SWP_TYPE_SHIFT, SWP_OFFSET_MASK, MAX_SWAPFILES, NR_CPUS, SWAP_MAP_MAX, SWAP_HAS_CACHE,
    COUNT_CONTINUED, SWAP_CONT_MAX, FOLIO_MAX, SHADOW_MAX, HANDLE_MAX, VSWAP_ZERO,
    VSWAP_ZSWAP, VSWAP_SWAPFILE, VSWAP_FOLIO, swp_entry, swap_cache_folio,
    swap_cache_is_folio, swap_cache_is_shadow, swap_cache_folio_id, swap_cache_order,
)


cdef enum:
    SWAP_MAP_PAGE_SHIFT = 12       # swap_map bytes per vmalloc page (4096)
    SWAP_CONT_LEVELS = 3           # continuation pages per swap_map page
    # the error codes of the C checks: _slotswap.pxd


cdef struct direct_stats:
    uint64_t table_reads          # swap table words read
    uint64_t table_writes         # swap table words written
    uint64_t cluster_locks        # cluster-locked sections (one per cluster chunk of a verb)
    uint64_t zswap_walks          # zswap tree descents (load, store, erase)
    uint64_t scans                # slots examined by reclaim loops and swapoff
    uint64_t pte_walked           # page-table entries visited by swapoff
    uint64_t fast_frees           # free_swap_and_cache_nr chunks taking the all-count-1 path
    uint64_t slots_freed          # slots returned to the allocator
    uint64_t folios_reclaimed     # folios removed by __try_to_reclaim_swap
    uint64_t cont_pages_allocated # continuation pages added


cdef struct direct_dev_t:
    swap_device_t* si             # NULL: type not attached (the head: _slotswap's slot_dev_t)
    uint64_t max
    zswap_tree zswap              # zswap_trees[type]: keyed by offset
    uint8_t* swap_map
    uint16_t* swap_cgroup
    uint64_t* zeromap
    uint8_t** cont
    uint64_t nr_map_pages
    uint64_t nr_cont_pages


cdef struct direct_t:
    const slot_hooks* h           # the head: _slotswap's slot_state_t (hooks, counters)
    direct_stats st               # its first fields: slot_stats's
    direct_dev_t devs[MAX_SWAPFILES]


cdef int direct_reclaim(void* ctx, swap_device_t* si, uint64_t offset) noexcept nogil
cdef uint64_t direct_count(const direct_dev_t* dv, uint64_t off) noexcept nogil


cdef class DirectSwap(SlotSwap):
    cdef direct_t d
    cdef int _attach_dev(self, int t, SwapDevice dev) except -1
    cdef direct_dev_t* _range(self, uint64_t e, uint64_t nr, bint aligned) except NULL
    cdef direct_dev_t* _used(self, object entry, object nr, int mode, bint need_count,
                             uint64_t* pe, uint64_t* pn) except NULL
    cdef uint64_t _alloc_one(self, uint64_t folio, uint64_t nr, uint16_t memcg,
                             int cpu) except? 0xFFFFFFFFFFFFFFFF
    cdef object _snap_slot(self, int t, uint64_t off, object z)
    cdef dict _snap_dev(self, int t)
