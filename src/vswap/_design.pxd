# C interface of a swap design's relation to its devices: the SwapDesign base
# class every design derives from, and device ownership (who holds a
# SwapDevices set and each device's hooks). The allocator is _swapfile.pxd.

from libc.stdint cimport uint64_t

from vswap._swapfile cimport SwapDevice, SwapDevices, swap_reclaim_fn, swap_cache_only_fn


# --- ownership: a set and its devices belong to at most one design ----------
# The one implementation both designs use (and the reference mirrors): claim
# the set (ValueError if another design holds it or any of its devices), then
# attach each device, which saves its hooks and plugs the design's in; on
# close or collection, detach each device (the saved hooks come back) and
# release the set. ``owner`` is the design's C state, unique while it lives.

cdef class SwapDesign:
    # What both designs (DirectSwap, VirtualSwap) do alike with their devices:
    # claim the set, attach each device (its hooks: reclaim, cache_only, ctx),
    # release them all on close or collection, and publish the C verb table.
    # A design sets the fields below in its __cinit__ and overrides _attach
    # (per-device state; it calls SwapDesign._attach) and _drop_devices.
    cdef SwapDevices _swaps
    cdef tuple _devobjs           # a tuple: the collector cannot clear it (the si pointers stay valid)
    cdef Py_ssize_t _nr_seen
    cdef uint64_t _cluster_size   # the set's cluster size (0 before a device is attached)
    cdef bint _closed             # close() ran: the set and devices are released
    cdef void* _ctx               # the design's C state: owner token and hooks' context
    cdef str _kind                # the design's name, in messages
    cdef swap_reclaim_fn _reclaim
    cdef swap_cache_only_fn _cache_only
    cdef void* _ops               # the C verb table (a swap_ops of _swapops.pxd)
    cdef const void* _cores       # a slot_cores of _slotswap.pxd when entries are slots, or NULL
    cdef object __weakref__
    cdef int _claim(self, object swaps) except -1
    cdef int _check_open(self) except -1
    cdef int _sync_devices(self) except -1
    cdef int _attach(self, int t, SwapDevice dev) except -1
    cdef void _drop_devices(self) noexcept
    cdef void _release_devices(self) noexcept
    cdef object _check_batch(self, object entries, bint need_count, bint dup)
    cdef int _batch_entry(self, uint64_t e, void** cache) except -1
    cdef int _batch_count(self, uint64_t e, uint64_t k, bint need_count, bint dup,
                          void** cache) except -1
    # The per-entry work of the *_many verbs (C calls, no Python per entry).
    cdef int _alloc_prepare(self, object order, object memcg, object cpu,
                            uint64_t* o, uint64_t* m, uint64_t* c) except -1
    cdef uint64_t _alloc_entry(self, uint64_t folio, uint64_t o, uint64_t m,
                               uint64_t c) except? 0xFFFFFFFFFFFFFFFF
    cdef int _dup_entry(self, uint64_t e) except -1
    cdef int _free_entry(self, uint64_t e) except -1
    cdef int _zswap_entry(self, uint64_t e, uint64_t handle) except -1
    cdef bint _run_may_grow(self, uint64_t e, uint64_t k) noexcept
    cdef int _fsc_entries(self, uint64_t e, uint64_t nr) except -1


cdef int swap_devices_claim(SwapDevices swaps, void* owner, str name) except -1
cdef void swap_devices_release(SwapDevices swaps, void* owner) noexcept
cdef int swap_device_attach(SwapDevice dev, void* owner, str name, swap_reclaim_fn reclaim,
                            swap_cache_only_fn cache_only) except -1
cdef void swap_device_detach(SwapDevice dev, void* owner) noexcept
