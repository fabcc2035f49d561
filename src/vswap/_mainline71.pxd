# C interface of mainline 7.1: the 6.19 baseline with swap table phases II and
# III. The entry is the physical slot; per slot, the allocator's swap table word
# holds what phase IV's holds (_swaptable.pxd) but the zero flag: the count in
# bits 59..62 (15: see the cluster's extend table, the "overflow array"), the
# swap cache's pin (phase II: no SWAP_HAS_CACHE, no swap_map) and the swap-cache
# word. What 7.1 keeps from 6.19, static from swapon: swap_cgroup (2 B per
# slot) and the zeromap (1 bit per slot), in p4_dev_t's swap_cgroup and
# zeromap; zswap's own tree keyed by the physical offset.

from libc.stdint cimport uint16_t, uint64_t

from vswap._swapfile cimport SwapDevice
from vswap._swaptable cimport SwapTableP4, p4_dev_t


cdef class Mainline71(SwapTableP4):
    cdef int _attach_dev(self, int t, SwapDevice dev) except -1
    cdef uint64_t _alloc_one(self, uint64_t folio, uint64_t nr, uint16_t memcg,
                             int cpu) except? 0xFFFFFFFFFFFFFFFF
    cdef int _check_cluster(self, int t, p4_dev_t* dv, uint64_t cl, uint64_t used,
                            list errors) except -1
    cdef int _check_tables(self, int t, p4_dev_t* dv, list errors) except -1
    cdef bint _slot_meta(self, p4_dev_t* dv, uint64_t off) noexcept
    cdef object _snap_slot(self, int t, uint64_t off, object z)
    cdef dict _snap_dev(self, int t)
