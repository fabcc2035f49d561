# C interface of the virtual designs' common base class (VirtualSwap, SwapTableEdition):
# the verbs and walks that read only the vcommon_t head of their state
# (_virtual_common.pxd) live in VirtualCommon; a design points _vc at its
# state in __cinit__ and fills in the hooks below. Its reference twin is
# vswap.reference.virtual_common.VirtualCommon.

from libc.stdint cimport uint8_t, uint64_t

from vswap._design cimport SwapDesign
from vswap._swapfile cimport swap_device_t, swap_free_batch
from vswap._virtual_common cimport vcommon_t


cdef class VirtualCommon(SwapDesign):
    cdef vcommon_t* _vc                 # the design's state head (set by its __cinit__)
    cdef uint64_t* _scans               # the design's counter of swapoff's slot scans
    cdef uint64_t _ghost                # the design's own device type (MAX_SWAPFILES: none)
    cdef uint64_t _cluster_info_bytes   # the allocator's swap_cluster_info per physical cluster
    cdef vcommon_t* _head(self) except NULL
    cdef swap_device_t* _device(self, object device) except NULL
    cdef int _unuse_slots(self, swap_device_t* si) except -1
    # hooks (a design overrides them)
    cdef int _lookup_into(self, const uint64_t[:] ev, uint8_t[::1] kv, uint64_t[::1] hv) except -1
    cdef void _unuse_slot(self, swap_device_t* si, uint64_t off, swap_free_batch* b) noexcept
    cdef void _batch_flush(self, swap_free_batch* b) noexcept
    cdef dict _footprint_virtual(self)
    cdef int _footprint_dev(self, dict out, int t, swap_device_t* si) except -1
