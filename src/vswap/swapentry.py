"""The swap-entry vocabulary for Python: the twin of ``vswap/_swapentry.pxd``.

Every number the compiled core and the reference model share (the entry
encoding, the swap-cache word, the backing codes, the limits) is defined in
``_swapentry.pxd`` for the core and here for the reference and the Python
API; a test checks the two agree name by name.

>>> from vswap.swapentry import swp_entry, swp_type, swp_offset, SWP_TYPE_SHIFT
>>> e = swp_entry(3, 1000); (e >> SWP_TYPE_SHIFT, swp_type(e), swp_offset(e))
(3, 3, 1000)
>>> swap_cache_folio(7, 2), swap_cache_is_folio(swap_cache_folio(7, 2))
(458, True)
"""

from __future__ import annotations

import operator

__all__ = [
    "MAX_SWAPFILES_SHIFT", "MAX_SWAPFILES", "SWP_TYPE_SHIFT", "SWP_OFFSET_MASK", "NR_CPUS",
    "SWAP_NR_ORDERS", "SWAPFILE_CLUSTER", "MEMCG_MAX", "SWP_TB_TAG_BITS", "SWP_TB_TAG_MASK",
    "XA_NODE_KERNEL_BYTES", "SWAP_CLUSTER_INFO_BYTES", "P4_CLUSTER_INFO_BYTES", "VSWAP_ZERO", "VSWAP_ZSWAP", "VSWAP_SWAPFILE",
    "VSWAP_FOLIO", "LOOKUP_KINDS", "SWAP_CACHE_FOLIO_SHIFT", "SWAP_CACHE_ORDER_SHIFT",
    "SWAP_MAP_MAX", "SWAP_HAS_CACHE", "COUNT_CONTINUED", "SWAP_CONT_MAX", "FOLIO_MAX",
    "SHADOW_MAX", "HANDLE_MAX", "SWAP_TABLE_CACHE_ONLY", "swp_entry", "swp_type", "swp_offset", "swap_cache_folio",
    "swap_cache_is_folio", "swap_cache_is_shadow", "swap_cache_folio_id", "swap_cache_order",
]

#: Bits of the swap type: up to 32 devices per set.
MAX_SWAPFILES_SHIFT = 5
#: Devices per set (``MAX_SWAPFILES``).
MAX_SWAPFILES = 1 << MAX_SWAPFILES_SHIFT
#: The type sits in bits 58..62 (``BITS_PER_XA_VALUE - MAX_SWAPFILES_SHIFT``).
SWP_TYPE_SHIFT = 58
#: The offset is bits 0..57.
SWP_OFFSET_MASK = (1 << SWP_TYPE_SHIFT) - 1
#: CPUs modelled (per-CPU caches of cpu 0 .. 63).
NR_CPUS = 64
#: Allocation orders 0 .. 9 (``SWAP_NR_ORDERS``, ``PMD_ORDER + 1``).
SWAP_NR_ORDERS = 10
#: The largest cluster (``SWAPFILE_CLUSTER``): the slots of a PMD folio.
SWAPFILE_CLUSTER = 512
#: memcg ids are ``0 .. MEMCG_MAX - 1`` (``swap_cgroup`` keeps an unsigned short).
MEMCG_MAX = 1 << 16
#: A swap table (or STE ``virtual_table``) word's pointer tag: its low 3 bits.
SWP_TB_TAG_BITS = 3
SWP_TB_TAG_MASK = (1 << SWP_TB_TAG_BITS) - 1
#: ``struct xa_node`` in the kernel (64 slots, marks, links), bytes.
XA_NODE_KERNEL_BYTES = 576
#: ``swap_cluster_info`` (6.18, with the table pointer), bytes.
SWAP_CLUSTER_INFO_BYTES = 32
#: Phase IV's ``swap_cluster_info``, the only static metadata [P4v5], bytes.
P4_CLUSTER_INFO_BYTES = 48

#: Backing codes: VirtualSwap's descriptor types (the kernel's ``enum
#: swap_type`` by name), the codes ``lookup_many`` returns and the C verb
#: table's; one numbering, in the order of :data:`LOOKUP_KINDS`.
VSWAP_ZERO, VSWAP_ZSWAP, VSWAP_SWAPFILE, VSWAP_FOLIO = range(4)
#: Backing kinds of :class:`vswap.protocol.Lookup`, by code.
LOOKUP_KINDS = ("zero", "zswap", "swapfile", "folio")

#: Swap-cache word: ``folio << 6 | order << 2 | 0b10``, or ``shadow << 1 | 1``.
SWAP_CACHE_FOLIO_SHIFT = 6
SWAP_CACHE_ORDER_SHIFT = 2

#: swap_map byte: largest count held in the first byte.
SWAP_MAP_MAX = 0x3E
#: swap_map byte: the slot is (being) held by the swap cache.
SWAP_HAS_CACHE = 0x40
#: swap_map byte: the count goes on in continuation pages.
COUNT_CONTINUED = 0x80
#: Largest digit of a continuation byte.
SWAP_CONT_MAX = 0x7F

#: Folio ids are ``0 .. FOLIO_MAX - 1`` (they fit a swap-cache word).
FOLIO_MAX = 1 << 57
#: Shadows are ``0 .. SHADOW_MAX - 1``.
SHADOW_MAX = 1 << 62
#: zswap handles are ``0 .. HANDLE_MAX - 1``.
HANDLE_MAX = 1 << 62
#: Bit 63 of a swap-table word: the slot is held only by the swap cache
#: (VirtualSwap v6's ``SWP_RMAP_CACHE_ONLY``); the allocator's reclaim looks for it.
SWAP_TABLE_CACHE_ONLY = 1 << 63


def swp_entry(type: int, offset: int) -> int:  # noqa: A002 - the kernel's name
    """Encode a swap entry: ``type`` in bits 58..62, ``offset`` in bits 0..57.

    ValueError outside ``0 .. 31`` / ``0 .. 2**58-1``. Runtime complexity: O(1).

    >>> swp_entry(1, 5) == (1 << 58) | 5
    True
    """
    type, offset = operator.index(type), operator.index(offset)
    if not 0 <= type < MAX_SWAPFILES:
        raise ValueError(f"swap type {type} is outside 0 .. {MAX_SWAPFILES - 1}")
    if not 0 <= offset <= SWP_OFFSET_MASK:
        raise ValueError(f"swap offset {offset} is outside 0 .. 2**{SWP_TYPE_SHIFT}-1")
    return (type << SWP_TYPE_SHIFT) | offset


def swp_type(entry: int) -> int:
    """The type (device index) of a swap entry, bits 58..62. Runtime complexity: O(1).

    >>> swp_type(swp_entry(2, 9))
    2
    """
    return (operator.index(entry) >> SWP_TYPE_SHIFT) & (MAX_SWAPFILES - 1)


def swp_offset(entry: int) -> int:
    """The offset of a swap entry. Runtime complexity: O(1).

    >>> swp_offset(swp_entry(2, 9))
    9
    """
    return operator.index(entry) & SWP_OFFSET_MASK


def swap_cache_folio(folio: int, order: int) -> int:
    """The swap-cache word of a cached order-``order`` folio. Runtime complexity: O(1).

    >>> swap_cache_folio(1, 0)
    66
    """
    return (folio << SWAP_CACHE_FOLIO_SHIFT) | (order << SWAP_CACHE_ORDER_SHIFT) | 2


def swap_cache_is_folio(word: int) -> bool:
    """Whether a swap-cache word holds a folio. Runtime complexity: O(1).

    >>> swap_cache_is_folio(66), swap_cache_is_folio(5)
    (True, False)
    """
    return (word & 3) == 2


def swap_cache_is_shadow(word: int) -> bool:
    """Whether a swap-cache word holds a shadow. Runtime complexity: O(1).

    >>> swap_cache_is_shadow(5), swap_cache_is_shadow(66)
    (True, False)
    """
    return (word & 1) == 1


def swap_cache_folio_id(word: int) -> int:
    """The folio id of a folio word. Runtime complexity: O(1).

    >>> swap_cache_folio_id(swap_cache_folio(9, 3))
    9
    """
    return word >> SWAP_CACHE_FOLIO_SHIFT


def swap_cache_order(word: int) -> int:
    """The folio order of a folio word. Runtime complexity: O(1).

    >>> swap_cache_order(swap_cache_folio(9, 3))
    3
    """
    return (word >> SWAP_CACHE_ORDER_SHIFT) & 15
