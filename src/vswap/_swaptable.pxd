# C interface of swap table phase IV (Kairui Song's phases III and IV): the
# entry is the physical slot, as in the baseline, but there is no swap_map, no
# static swap_cgroup and no zeromap. Per slot, everything is in the
# allocator's swap table word (swap_table_get/set):
#   bit 63       SWAP_TABLE_CACHE_ONLY (count 0, held only by the swap cache)
#   bits 59..62  the swap count, 4 bits; SWP_TB_COUNT_MAX (15) means "see the
#                cluster's extend table" (one unsigned int per slot)
#   bit 58       SWP_TB_ZERO: a zero-filled page (the zeromap merged in)
#   bit 57       SWP_TB_PIN: the swap cache holds the slot (set by
#                folio_alloc_swap and swapcache_prepare, cleared by
#                put_swap_folio: the protocol's two-step form of phase II's
#                swap cache)
#   bits 0..56   the swap-cache word of _swapentry.pxd (folio or shadow); its
#                width bounds folio ids (P4_FOLIO_MAX) and shadows
#                (P4_SHADOW_MAX), as the PFN bits do in the kernel
# Per cluster: a memcg_table (2 B per slot) while the cluster holds an entry
# of this design, and an extend table while a count there is >= 15.
# Per device: the zswap tree, still keyed by the physical offset.
#
# Hosted (SwapTableEdition's direct-mapped entries): the design shares its
# host's devices, whose reclaim hook stays the host's. A slot of the host's
# own holds a pointer-tagged reverse-map word (low 3 bits SWP_TB_RMAP), which
# no phase IV word has (a payload's low bits are 00 only when it is 0); every
# phase IV read (p4_word) sees such a slot as free.

from libc.stdint cimport uint16_t, uint32_t, uint64_t

from vswap._design cimport SwapDesign
from vswap._swapfile cimport swap_device_t, swap_table_get, SwapDevice, SwapDevices
from vswap._slotswap cimport SlotSwap, zswap_tree, slot_hooks
from vswap._swapentry cimport MAX_SWAPFILES, P4_CLUSTER_INFO_BYTES, SWP_TB_TAG_MASK


cdef enum:
    SWP_TB_COUNT_SHIFT = 59
    SWP_TB_COUNT_MAX = 15
    SWP_TB_RMAP = 4                # low 3 bits of a reverse-map word (a host's slot)


cdef extern from *:
    """
    #define VSWAP_SWP_TB_ZERO (((unsigned long long)1) << 58)
    #define VSWAP_SWP_TB_PIN (((unsigned long long)1) << 57)
    #define VSWAP_SWP_TB_PAYLOAD ((((unsigned long long)1) << 57) - 1)
    #define VSWAP_SWP_TB_COUNT_MASK (((unsigned long long)15) << 59)
    #define VSWAP_P4_FOLIO_MAX (((unsigned long long)1) << 51)
    #define VSWAP_P4_SHADOW_MAX (((unsigned long long)1) << 56)
    #define VSWAP_P4_COUNT_LIMIT ((((unsigned long long)1) << 32) - 1)
    """
    const uint64_t SWP_TB_ZERO "VSWAP_SWP_TB_ZERO"
    const uint64_t SWP_TB_PIN "VSWAP_SWP_TB_PIN"
    const uint64_t SWP_TB_PAYLOAD "VSWAP_SWP_TB_PAYLOAD"
    const uint64_t SWP_TB_COUNT_MASK "VSWAP_SWP_TB_COUNT_MASK"
    const uint64_t P4_FOLIO_MAX "VSWAP_P4_FOLIO_MAX"
    const uint64_t P4_SHADOW_MAX "VSWAP_P4_SHADOW_MAX"
    const uint64_t P4_COUNT_LIMIT "VSWAP_P4_COUNT_LIMIT"   # the extend table's unsigned int


cdef inline bint swp_tb_is_rmap(uint64_t w) noexcept nogil:
    """A reverse-map word: the slot backs an upper layer's entry, not a phase IV one."""
    return (w & SWP_TB_TAG_MASK) == SWP_TB_RMAP


cdef struct p4_stats:
    uint64_t table_reads          # swap table words read
    uint64_t table_writes         # swap table words written
    uint64_t cluster_locks        # cluster-locked sections
    uint64_t zswap_walks          # zswap tree descents
    uint64_t scans                # slots examined by reclaim loops and swapoff
    uint64_t pte_walked           # page-table entries visited by swapoff
    uint64_t fast_frees           # zap chunks taking the all-count-1 path
    uint64_t slots_freed          # slots returned to the allocator
    uint64_t folios_reclaimed     # folios removed by __try_to_reclaim_swap
    uint64_t extend_tables_allocated
    uint64_t memcg_tables_allocated


cdef struct p4_dev_t:
    swap_device_t* si             # NULL: type not attached (the head: _slotswap's slot_dev_t)
    uint64_t max
    zswap_tree zswap              # zswap_trees[type]: keyed by offset
    uint32_t nr_clusters
    uint16_t** memcg              # memcg_table per cluster, or NULL
    uint32_t** ext                # extend table per cluster, or NULL
    uint32_t* used                # this design's entries per cluster
    uint64_t nr_memcg_tables
    uint64_t nr_ext_tables
    uint16_t* swap_cgroup         # phase III's static arrays (Mainline71: 2 B and 1 bit
    uint64_t* zeromap             # per slot from swapon); NULL in phase IV


cdef struct p4_t:
    const slot_hooks* h           # the head: _slotswap's slot_state_t (hooks, counters)
    p4_stats st                   # its first fields: slot_stats's
    p4_dev_t devs[MAX_SWAPFILES]
    uint16_t* spare               # a memcg_table taken before an allocation (never NULL after)


# --- the table word (no checks), shared with phase III (_mainline71) ------------------

cdef inline uint64_t p4_word(const swap_device_t* si, uint64_t off) noexcept nogil:
    """The slot's phase IV word: 0 for a free slot and for a host's reverse-map slot."""
    cdef uint64_t w = swap_table_get(si, off)
    return 0 if swp_tb_is_rmap(w) else w


cdef inline uint64_t tb_field(uint64_t w) noexcept nogil:
    return (w >> SWP_TB_COUNT_SHIFT) & SWP_TB_COUNT_MAX


cdef inline uint64_t count_of(const p4_dev_t* dv, uint64_t off, uint64_t w) noexcept nogil:
    cdef uint64_t c = tb_field(w)
    if c == SWP_TB_COUNT_MAX:
        return dv.ext[off >> dv.si.cluster_shift][off & (dv.si.cluster_size - 1)]
    return c


cdef inline bint cache_only(uint64_t w, uint64_t c) noexcept nogil:
    return c == 0 and (w & SWP_TB_PIN) != 0


# The design's hooks (P4_HOOKS), for a design that replaces some of them.
cdef const slot_hooks* p4_hooks() noexcept

# The allocator's reclaim hook (a host calls it for the slots that are not its own).
cdef int p4_reclaim(void* ctx, swap_device_t* si, uint64_t offset) noexcept nogil


cdef class SwapTableP4(SlotSwap):
    cdef p4_t d
    cdef int _hosted_by(self, SwapDesign host) except -1
    cdef int _sync_devices(self) except -1
    cdef void _release_devices(self) noexcept
    cdef int _attach_dev(self, int t, SwapDevice dev) except -1
    cdef p4_dev_t* _range(self, uint64_t e, uint64_t nr, bint aligned) except NULL
    cdef p4_dev_t* _used(self, object entry, object nr, int mode, bint need_count,
                         uint64_t* pe, uint64_t* pn) except NULL
    cdef uint64_t _alloc_one(self, uint64_t folio, uint64_t nr, uint16_t memcg,
                             int cpu) except? 0xFFFFFFFFFFFFFFFF
    cdef int _check_cluster(self, int t, p4_dev_t* dv, uint64_t cl, uint64_t used,
                            list errors) except -1
    cdef int _check_tables(self, int t, p4_dev_t* dv, list errors) except -1
    cdef bint _slot_meta(self, p4_dev_t* dv, uint64_t off) noexcept
    cdef object _snap_slot(self, int t, uint64_t off, object z)
    cdef dict _snap_dev(self, int t)
