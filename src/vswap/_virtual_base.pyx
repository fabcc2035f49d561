"""The virtual designs' common base class: :class:`VirtualCommon`.

:class:`~vswap.VirtualSwap` and :class:`~vswap.SwapTableEdition` both put a
virtual swap space (clusters in an allocating xarray) above the physical
slot allocator, and their C state starts with the same head
(``vcommon_t`` of ``_virtual_common.pxd``). What reads only that head is
written here once: the CPU of the verbs without a ``cpu`` argument, the
attached-device checks of the device-level verbs, the allocator's
cache-only reclaim, swapoff's scan of a device's allocated slots, the batch
lookup's arrays, the physical side of the metadata footprint and the
cluster list of check and snapshot. A design fills in hooks for what
depends on its entry layout. The pure-Python twin is
:class:`vswap.reference.virtual_common.VirtualCommon`.

>>> from vswap import VirtualSwap, SwapTableEdition
>>> from vswap._virtual_base import VirtualCommon
>>> issubclass(VirtualSwap, VirtualCommon), issubclass(SwapTableEdition, VirtualCommon)
(True, True)
"""

from libc.stdint cimport uint8_t, uint64_t

from vswap._common cimport to_u64
from vswap._clustermap cimport cluster_map_items
from vswap._swapentry cimport MAX_SWAPFILES, NR_CPUS
from vswap._swapfile cimport (
    swap_device_t, swap_free_batch, swap_batch_init, swap_reclaim_full_clusters, SWP_WRITEOK,
)
from vswap._virtual_common cimport vcommon_t, vc_device, vc_slot_used, vc_types, vc_footprint_phys

import numpy as np

__all__ = ["VirtualCommon"]


cdef class VirtualCommon(SwapDesign):
    """What the virtual designs do alike over their common state head.

    Not instantiated itself (TypeError on use): a design derives from it,
    points ``_vc`` at its state in ``__cinit__`` and overrides the hooks
    (``_lookup_into``, ``_unuse_slot``, ``_batch_flush``,
    ``_footprint_virtual``, ``_footprint_dev``). Runtime complexity: as
    each method says.

    >>> from vswap import VirtualSwap
    >>> from vswap._virtual_base import VirtualCommon
    >>> isinstance(VirtualSwap(), VirtualCommon)
    True
    >>> VirtualCommon().cpu
    Traceback (most recent call last):
    ...
    TypeError: VirtualCommon is the virtual designs' base, not a design
    """

    def __cinit__(self):
        self._ghost = MAX_SWAPFILES

    cdef vcommon_t* _head(self) except NULL:
        if self._vc == NULL:
            raise TypeError(f"{type(self).__name__} is the virtual designs' base, not a design")
        return self._vc

    @property
    def cpu(self):
        """The CPU the verbs without a ``cpu`` argument run on (lookup cache, writeback).

        Runtime complexity: O(1).

        >>> from vswap import VirtualSwap
        >>> vs = VirtualSwap(); vs.cpu = 3; vs.cpu
        3
        """
        return self._head().cpu

    @cpu.setter
    def cpu(self, value):
        self._head().cpu = <int>to_u64(value, NR_CPUS, "cpu")

    def lookup_many(self, entries):
        """:meth:`lookup` of each entry of a uint64 array: ``(kinds, handles)`` arrays.

        ``kinds`` is uint8 coded by :data:`~vswap.protocol.LOOKUP_KINDS`.
        Validated first. Runtime complexity: O(n) in C.

        >>> import numpy as np
        >>> from vswap import VirtualSwap
        >>> vs = VirtualSwap(); e = vs.folio_alloc_swap(4); vs.lookup_many(np.array([e], dtype=np.uint64))
        (array([3], dtype=uint8), array([4], dtype=uint64))
        """
        self._head()
        arr = self._check_batch(entries, False, False)
        n = arr.shape[0]
        kinds = np.empty(n, dtype=np.uint8)
        handles = np.empty(n, dtype=np.uint64)
        self._lookup_into(arr, kinds, handles)
        return kinds, handles

    cdef int _lookup_into(self, const uint64_t[:] ev, uint8_t[::1] kv, uint64_t[::1] hv) except -1:
        """lookup_many's work: each entry's kind and handle, counted (the design's)."""
        raise TypeError(f"{type(self).__name__} has no entry layout")

    cdef swap_device_t* _device(self, object device) except NULL:
        """The attached physical device of type ``device`` (ValueError otherwise, or the ghost)."""
        cdef uint64_t t = to_u64(device, MAX_SWAPFILES, "device type")
        cdef vcommon_t* v = self._head()
        self._sync_devices()
        return vc_device(v, t, self._ghost)

    def reclaim_cache_only(self, device):
        """The physical allocator's full-cluster reclaim on device ``device``; slots freed.

        ``swap_reclaim_full_clusters(force)``: the allocator finds the
        cache-only slots (by the reverse-map word's bit, or by asking the
        design), and the design's reclaim hook maps each slot to its
        virtual entry and frees the folio's swap. Runtime complexity:
        O(full clusters * cluster size).

        >>> from vswap import VirtualSwap, SwapDevice, SwapDevices
        >>> vs = VirtualSwap(SwapDevices([SwapDevice(17, cluster_size=16)]))
        >>> es = [vs.folio_alloc_swap(f) for f in range(15)]    # fills cluster 0 (15 slots)
        >>> for e in es: vs.swap_duplicate(e); _ = vs.writeback(e); vs.swap_free_nr(e)
        >>> vs.reclaim_cache_only(0), vs.swaps[0].nr_used
        (15, 0)
        """
        return swap_reclaim_full_clusters(self._device(device), True)

    cdef int _unuse_slots(self, swap_device_t* si) except -1:
        """swapoff's scan: allocation stopped, ``_unuse_slot`` per allocated slot, one flush."""
        cdef swap_free_batch b
        cdef uint64_t off
        if si.flags & SWP_WRITEOK:          # allocation stops first
            self._swaps.swapoff(self._swaps[si.type])
        swap_batch_init(&b)
        for off in range(si.max):
            if vc_slot_used(si, off, self._scans):
                self._unuse_slot(si, off, &b)
        self._batch_flush(&b)
        return 0

    cdef void _unuse_slot(self, swap_device_t* si, uint64_t off, swap_free_batch* b) noexcept:
        pass

    cdef void _batch_flush(self, swap_free_batch* b) noexcept:
        pass

    def memory_footprint(self):
        """Kernel-equivalent metadata bytes by component, and ``"total"``.

        The design's virtual side (its own keys), then per physical device
        ``cluster_info`` (the allocator's cluster) and ``rmap`` (8 B per
        slot of every in-use cluster), then the design's per-device extras.
        Runtime complexity: O(devices).

        >>> from vswap import VirtualSwap, SwapDevice, SwapDevices
        >>> vs = VirtualSwap(SwapDevices([SwapDevice(1024, cluster_size=512)]))
        >>> _ = vs.folio_alloc_swap(1, order=3); fp = vs.memory_footprint()
        >>> fp["descriptors"], fp["cluster_bitmaps"], fp["phys_bitmaps"], fp["rmap"]
        (192, 64, 256, 4096)
        """
        cdef vcommon_t* v = self._head()
        out = self._footprint_virtual()
        vc_footprint_phys(v, out, self._cluster_info_bytes)
        for t in vc_types(v):
            self._footprint_dev(out, t, v.devs[t])
        out["total"] = sum(out.values())
        return out

    cdef dict _footprint_virtual(self):
        return {}

    cdef int _footprint_dev(self, dict out, int t, swap_device_t* si) except -1:
        return 0

    def _clusters(self):
        """[(id, cluster pointer as int)] in id order (for check and snapshot). O(clusters)."""
        return cluster_map_items(&self._head().map)
