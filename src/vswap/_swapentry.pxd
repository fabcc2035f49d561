# The swap-entry vocabulary: the one home of every number the compiled core
# and the reference model share. Its Python twin is vswap/swapentry.py (the
# reference imports that one); tests/test_docs_and_parity.py checks that the
# two agree, name by name.
#
# A swap entry (swp_entry_t.val):
#   bits 58..62  type: the device's index in its set (MAX_SWAPFILES_SHIFT bits)
#   bits 0..57   offset: the slot on that device (VirtualSwap: the virtual slot)
# A swap-cache word (DirectSwap's swap table, VirtualSwap's swp_desc.cache):
#   0                                   nothing
#   folio << 6 | order << 2 | 0b10      a folio in the swap cache
#   shadow << 1 | 1                     a workingset shadow
#   bit 63                              SWAP_TABLE_CACHE_ONLY (in the table only)

from libc.stdint cimport uint64_t


cdef enum:
    MAX_SWAPFILES_SHIFT = 5
    MAX_SWAPFILES = 32            # 1 << MAX_SWAPFILES_SHIFT devices per set
    SWP_TYPE_SHIFT = 58           # BITS_PER_XA_VALUE - MAX_SWAPFILES_SHIFT
    NR_CPUS = 64                  # per-CPU caches modelled (cpu 0 .. 63)
    SWAP_NR_ORDERS = 10           # orders 0 .. 9 (PMD_ORDER + 1)
    SWAPFILE_CLUSTER = 512        # largest cluster: slots of a PMD folio
    MEMCG_MAX = 65536             # memcg ids 0 .. 65535 (swap_cgroup's unsigned short)

    # A swap table (or STE virtual_table) word may carry a pointer tag in its low
    # bits: SwapTableP4's reverse-map words, STE's VT_* tags.
    SWP_TB_TAG_BITS = 3
    SWP_TB_TAG_MASK = 7           # (1 << SWP_TB_TAG_BITS) - 1

    # Kernel-equivalent metadata sizes.
    XA_NODE_KERNEL_BYTES = 576    # struct xa_node (64 slots, marks, links)
    SWAP_CLUSTER_INFO_BYTES = 32  # swap_cluster_info (6.18, with the table pointer)
    P4_CLUSTER_INFO_BYTES = 48    # phase IV's swap_cluster_info [P4v5]

    # The backing of an entry: one numbering for descriptors (VirtualSwap's
    # swp_desc type, the kernel's enum swap_type by name), lookup results and
    # the C verb table; the codes of vswap.protocol.LOOKUP_KINDS.
    VSWAP_ZERO = 0
    VSWAP_ZSWAP = 1
    VSWAP_SWAPFILE = 2
    VSWAP_FOLIO = 3

    # The swap-cache word's fields.
    SWAP_CACHE_FOLIO_SHIFT = 6
    SWAP_CACHE_ORDER_SHIFT = 2

    # DirectSwap's swap_map byte.
    SWAP_MAP_MAX = 0x3e           # largest count in the first byte
    SWAP_HAS_CACHE = 0x40
    COUNT_CONTINUED = 0x80
    SWAP_CONT_MAX = 0x7f          # largest digit of a continuation byte


# Limits above the range of a C enum.
cdef extern from *:
    """
    #define VSWAP_SWP_OFFSET_MASK ((((unsigned long long)1) << 58) - 1)
    #define VSWAP_FOLIO_MAX (((unsigned long long)1) << 57)
    #define VSWAP_SHADOW_MAX (((unsigned long long)1) << 62)
    #define VSWAP_SWAP_TABLE_CACHE_ONLY (((unsigned long long)1) << 63)
    """
    const uint64_t SWP_OFFSET_MASK "VSWAP_SWP_OFFSET_MASK"
    const uint64_t FOLIO_MAX "VSWAP_FOLIO_MAX"      # folio ids 0 .. 2**57-1
    const uint64_t SHADOW_MAX "VSWAP_SHADOW_MAX"    # shadows and zswap handles 0 .. 2**62-1
    const uint64_t HANDLE_MAX "VSWAP_SHADOW_MAX"
    # Bit 63 of a table word: the slot is held only by the swap cache. The
    # layer above sets it (as vswap v6 does with SWP_RMAP_CACHE_ONLY); the
    # allocator reads it to find reclaim candidates, then asks the hook.
    const uint64_t SWAP_TABLE_CACHE_ONLY "VSWAP_SWAP_TABLE_CACHE_ONLY"


cdef inline uint64_t swp_entry(uint64_t type, uint64_t offset) noexcept nogil:
    return (type << SWP_TYPE_SHIFT) | offset


cdef inline uint64_t swp_type(uint64_t entry) noexcept nogil:
    return entry >> SWP_TYPE_SHIFT


cdef inline uint64_t swp_offset(uint64_t entry) noexcept nogil:
    return entry & SWP_OFFSET_MASK


cdef inline uint64_t swap_cache_folio(uint64_t folio, int order) noexcept nogil:
    """The word of a cached order-``order`` folio."""
    return (folio << SWAP_CACHE_FOLIO_SHIFT) | (<uint64_t>order << SWAP_CACHE_ORDER_SHIFT) | 2


cdef inline bint swap_cache_is_folio(uint64_t word) noexcept nogil:
    return (word & 3) == 2


cdef inline bint swap_cache_is_shadow(uint64_t word) noexcept nogil:
    return (word & 1) == 1


cdef inline uint64_t swap_cache_folio_id(uint64_t word) noexcept nogil:
    return word >> SWAP_CACHE_FOLIO_SHIFT


cdef inline int swap_cache_order(uint64_t word) noexcept nogil:
    return <int>((word >> SWAP_CACHE_ORDER_SHIFT) & 15)
