"""A swap design and its devices: :class:`SwapDesign` and device ownership.

Every design (DirectSwap, SwapTableP4, VirtualSwap, SwapTableEdition, and
designs of users') derives from :class:`SwapDesign`: it claims a
:class:`~vswap.SwapDevices` set, attaches each device (the design's
reclaim and cache-only hooks in place of the device's own), releases them
on close or collection, runs the ``*_many`` verbs on the design's
per-entry work and publishes the C verb table. Ownership (a set and its
devices belong to at most one live design) is written once, here; the
allocator itself is :mod:`vswap._swapfile` (which still answers
``from vswap._swapfile import SwapDesign``). The pure-Python twin is
:mod:`vswap.reference.design`.
"""

cimport cython
from cpython.pycapsule cimport PyCapsule_New
from libc.stdint cimport uint64_t

from vswap._swapentry cimport FOLIO_MAX, HANDLE_MAX
from vswap._swapfile cimport SwapDevice, SwapDevices, swap_reclaim_fn, swap_cache_only_fn

import numpy as np

from vswap.protocol import check_uint64_array

__all__ = ["SwapDesign"]

# The allocator's classes as Python names too (the docstrings' examples use them).
globals().update(SwapDevice=SwapDevice, SwapDevices=SwapDevices)


# --- ownership (declared in _design.pxd) -------------------------------------

cdef int swap_devices_claim(SwapDevices swaps, void* owner, str name) except -1:
    """Take ``swaps`` for the design ``owner``: ValueError if another design holds it.

    Checks the set and every device before it changes anything. O(devices)."""
    if swaps._owner != NULL and swaps._owner != owner:
        raise ValueError(f"the SwapDevices set belongs to a live {swaps._owner_name}; "
                         "close it first")
    for dev in swaps._devices:
        if dev is not None and (<SwapDevice>dev)._owner not in (NULL, owner):
            raise ValueError(f"a device of the set belongs to a live "
                             f"{(<SwapDevice>dev)._owner_name}; close it first")
    swaps._owner = owner
    swaps._owner_name = name
    return 0


cdef void swap_devices_release(SwapDevices swaps, void* owner) noexcept:
    if swaps is not None and swaps._owner == owner:
        swaps._owner = NULL
        swaps._owner_name = None


cdef int swap_device_attach(SwapDevice dev, void* owner, str name, swap_reclaim_fn reclaim,
                            swap_cache_only_fn cache_only) except -1:
    """Plug ``owner``'s hooks into ``dev`` (``reclaim_ctx`` = ``owner``), saving its own. O(1)."""
    if dev._owner == owner:
        return 0
    if dev._owner != NULL:
        raise ValueError(f"the device belongs to a live {dev._owner_name}; close it first")
    dev._saved_reclaim = dev.si.reclaim
    dev._saved_ctx = dev.si.reclaim_ctx
    dev._saved_cache_only = dev.si.cache_only
    dev._owner = owner
    dev._owner_name = name
    dev.si.reclaim = reclaim
    dev.si.reclaim_ctx = owner
    dev.si.cache_only = cache_only
    return 0


cdef void swap_device_detach(SwapDevice dev, void* owner) noexcept:
    """Give ``dev`` back the hooks it had before :func:`swap_device_attach`. O(1)."""
    if dev is None or dev._owner != owner or owner == NULL:
        return
    dev.si.reclaim = dev._saved_reclaim
    dev.si.reclaim_ctx = dev._saved_ctx
    dev.si.cache_only = dev._saved_cache_only
    dev._owner = NULL
    dev._owner_name = None


# no_gc_clear: releasing restores each device's hooks, so the references to
# the devices must survive a garbage-collector pass.
@cython.no_gc_clear
cdef class SwapDesign:
    """What the swap designs do alike with their devices (base of DirectSwap, VirtualSwap).

    A design takes a :class:`SwapDevices` set: the set and each of its
    devices belong to at most one live design, which plugs its hooks into
    them (``swap_devices_claim``, ``swap_device_attach``); :meth:`close`, the
    end of a ``with`` block or collection gives the devices their own hooks
    back. Not instantiated by itself. Runtime complexity: O(1).

    >>> from vswap import DirectSwap, SwapDevice, SwapDevices
    >>> isinstance(DirectSwap(SwapDevices()), SwapDesign)
    True
    """

    def __cinit__(self):
        self._devobjs = ()
        self._kind = type(self).__name__

    cdef int _claim(self, object swaps) except -1:
        """Take ``swaps``: TypeError, RuntimeError if initialised, ValueError if another's."""
        if not isinstance(swaps, SwapDevices):
            raise TypeError(f"swaps must be a vswap.SwapDevices, not {type(swaps).__name__}")
        if self._swaps is not None or self._closed:
            raise RuntimeError(f"{self._kind} is already initialised")
        if self._ctx == NULL:
            raise TypeError(f"{self._kind} is not a swap design")
        swap_devices_claim(swaps, self._ctx, self._kind)
        self._swaps = swaps
        return 0

    cdef int _check_open(self) except -1:
        if self._swaps is None:
            raise RuntimeError(f"{self._kind} is closed" if self._closed
                               else f"{self._kind} is not initialised")
        return 0

    cdef int _attach(self, int t, SwapDevice dev) except -1:
        swap_device_attach(dev, self._ctx, self._kind, self._reclaim, self._cache_only)
        self._cluster_size = dev.si.cluster_size
        return 0

    cdef int _sync_devices(self) except -1:
        """Attach every device of the set not attached yet. O(devices) when the set grew."""
        cdef list devs
        cdef int t
        self._check_open()
        devs = self._swaps._devices
        if len(devs) == self._nr_seen:
            return 0
        for t in range(len(devs)):
            if devs[t] is not None and (<SwapDevice>devs[t])._owner != self._ctx:
                self._attach(t, <SwapDevice>devs[t])
                self._devobjs += (devs[t],)
        self._nr_seen = len(devs)
        return 0

    cdef void _drop_devices(self) noexcept:
        pass

    cdef void _release_devices(self) noexcept:
        """Drop the per-device state, give each device its hooks back, release the set."""
        self._drop_devices()
        for dev in self._devobjs:
            swap_device_detach(<SwapDevice>dev, self._ctx)
        swap_devices_release(self._swaps, self._ctx)
        self._devobjs = ()
        self._swaps = None
        self._nr_seen = 0
        self._cluster_size = 0

    cdef int _batch_entry(self, uint64_t e, void** cache) except -1:
        """ValueError or NoEntry unless ``e`` is an allocated entry (the design's own test)."""
        raise TypeError(f"{self._kind} has no batch verbs")

    cdef int _batch_count(self, uint64_t e, uint64_t k, bint need_count, bint dup,
                          void** cache) except -1:
        """NoSpace if ``k`` more counts pass the limit (``dup``), NoEntry if ``e`` has fewer."""
        return 0

    cdef object _check_batch(self, object entries, bint need_count, bint dup):
        """Validate a batch of single entries for a ``*_many`` verb; the array.

        Every entry first (``_batch_entry``), then the counts, repeats adding
        up (``_batch_count``): a strictly increasing batch (the usual one: a
        run of PTEs) has no repeats and needs no sort. ``cache`` is the
        design's lookup cache, kept across the batch.
        """
        self._check_open()
        arr = check_uint64_array(entries)
        cdef const uint64_t[:] v = arr
        cdef Py_ssize_t i, j, n = v.shape[0]
        cdef void* cache = NULL
        cdef bint increasing = True
        for i in range(n):
            self._batch_entry(v[i], &cache)
            if i and v[i] <= v[i - 1]:
                increasing = False
        if n == 0 or not (need_count or dup):
            return arr
        if increasing:
            for i in range(n):
                self._batch_count(v[i], 1, need_count, dup, &cache)
            return arr
        srt = np.sort(arr)
        cdef const uint64_t[:] s = srt
        i = 0
        while i < n:
            j = i + 1
            while j < n and s[j] == s[i]:
                j += 1
            self._batch_count(s[i], <uint64_t>(j - i), need_count, dup, &cache)
            i = j
        return arr

    cdef int _alloc_prepare(self, object order, object memcg, object cpu,
                            uint64_t* o, uint64_t* m, uint64_t* c) except -1:
        raise TypeError(f"{self._kind} has no batch verbs")

    cdef uint64_t _alloc_entry(self, uint64_t folio, uint64_t o, uint64_t m,
                               uint64_t c) except? 0xFFFFFFFFFFFFFFFF:
        return 0

    cdef int _dup_entry(self, uint64_t e) except -1:
        return 0

    cdef int _free_entry(self, uint64_t e) except -1:
        return 0

    cdef int _zswap_entry(self, uint64_t e, uint64_t handle) except -1:
        return 0

    def folio_alloc_swap_many(self, folios, order=0, memcg=0, cpu=0):
        """:meth:`folio_alloc_swap` for each folio id of a uint64 array; the entries.

        The ids are validated first. The result is shorter than ``folios``
        when swap fills up (no NoSpace). Runtime complexity: O(n * 2**order)
        in C.

        >>> import numpy as np
        >>> from vswap import DirectSwap, VirtualSwap, SwapDevice
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> ds.folio_alloc_swap_many(np.arange(3, dtype=np.uint64))
        array([1, 2, 3], dtype=uint64)
        >>> VirtualSwap().folio_alloc_swap_many(np.arange(2, dtype=np.uint64), order=1)
        array([2, 4], dtype=uint64)
        """
        arr = check_uint64_array(folios, "folios")
        cdef const uint64_t[:] v = arr
        cdef uint64_t o, m, c, e
        cdef Py_ssize_t i, n = v.shape[0]
        self._alloc_prepare(order, memcg, cpu, &o, &m, &c)
        for i in range(n):
            if v[i] >= FOLIO_MAX:
                raise ValueError(f"folio {v[i]} is outside 0 .. {FOLIO_MAX - 1}")
        out = np.empty(n, dtype=np.uint64)
        cdef uint64_t[::1] res = out
        for i in range(n):
            e = self._alloc_entry(v[i], o, m, c)
            if e == 0:
                return out[:i].copy()
            res[i] = e
        return out

    def swap_duplicate_many(self, entries):
        """:meth:`swap_duplicate` (nr=1) of each entry of a uint64 array (repeats add up).

        The whole batch is validated first. Runtime complexity: O(n) in C
        for a strictly increasing batch, O(n log n) otherwise.

        >>> import numpy as np
        >>> from vswap import DirectSwap, SwapDevice
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(1)
        >>> ds.swap_duplicate_many(np.array([e, e], dtype=np.uint64)); ds.swap_count(e)
        2
        """
        arr = self._check_batch(entries, False, True)
        cdef const uint64_t[:] v = arr
        cdef Py_ssize_t i
        for i in range(v.shape[0]):
            self._dup_entry(v[i])

    def swap_free_many(self, entries):
        """:meth:`swap_free_nr` (nr=1) of each entry of a uint64 array.

        The whole batch is validated first (repeats count). Runtime
        complexity: O(n) in C for a strictly increasing batch, O(n log n)
        otherwise.

        >>> import numpy as np
        >>> from vswap import VirtualSwap
        >>> vs = VirtualSwap(); e = vs.folio_alloc_swap(1); vs.swap_duplicate(e)
        >>> vs.swap_free_many(np.array([e], dtype=np.uint64)); vs.swap_count(e)
        0
        """
        arr = self._check_batch(entries, True, False)
        cdef const uint64_t[:] v = arr
        cdef Py_ssize_t i
        for i in range(v.shape[0]):
            self._free_entry(v[i])

    cdef bint _run_may_grow(self, uint64_t e, uint64_t k) noexcept:
        """Whether entry ``e + k`` may join the run at ``e`` (the same device)."""
        return True

    cdef int _fsc_entries(self, uint64_t e, uint64_t nr) except -1:
        return 0

    def free_swap_and_cache_many(self, entries):
        """Zap the swap PTEs of a uint64 array: :meth:`free_swap_and_cache_nr` per run.

        Consecutive entries (``e, e+1, ...``, on one device) form one run, as
        the kernel's ``swap_pte_batch`` makes them. The whole batch is
        validated first. Runtime complexity: O(n) in C for a strictly
        increasing batch, O(n log n) otherwise.

        >>> import numpy as np
        >>> from vswap import DirectSwap, SwapDevice
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> es = ds.folio_alloc_swap_many(np.arange(4, dtype=np.uint64))
        >>> ds.swap_duplicate_many(es); ds.free_swap_and_cache_many(es); ds.swaps[0].nr_used
        0
        """
        arr = self._check_batch(entries, True, False)
        cdef const uint64_t[:] v = arr
        cdef Py_ssize_t i = 0, j, n = v.shape[0]
        cdef uint64_t e
        while i < n:
            e = v[i]
            j = i + 1
            while j < n and v[j] == e + <uint64_t>(j - i) and self._run_may_grow(e, <uint64_t>(j - i)):
                j += 1
            self._fsc_entries(e, <uint64_t>(j - i))
            i = j

    def zswap_store_many(self, entries, handles):
        """:meth:`zswap_store` of two uint64 arrays of the same length.

        Both arrays are validated first. Runtime complexity: O(n) in C (DirectSwap:
        times the zswap tree's height).

        >>> import numpy as np
        >>> from vswap import DirectSwap, SwapDevice
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> es = ds.folio_alloc_swap_many(np.arange(2, dtype=np.uint64))
        >>> ds.zswap_store_many(es, np.array([7, 8], dtype=np.uint64)); ds.zswap_load(es[1])
        8
        """
        arr = self._check_batch(entries, False, False)
        harr = check_uint64_array(handles, "handles")
        if harr.shape[0] != arr.shape[0]:
            raise ValueError(f"{arr.shape[0]} entries but {harr.shape[0]} handles")
        cdef const uint64_t[:] v = arr
        cdef const uint64_t[:] hv = harr
        cdef Py_ssize_t i, n = v.shape[0]
        for i in range(n):
            if hv[i] >= HANDLE_MAX:
                raise ValueError(f"zswap handle {hv[i]} is outside 0 .. {HANDLE_MAX - 1}")
        for i in range(n):
            self._zswap_entry(v[i], hv[i])

    @property
    def swaps(self):
        """The :class:`SwapDevices` set the design took (None once closed). Runtime complexity: O(1).

        >>> from vswap import DirectSwap, SwapDevice
        >>> swaps = SwapDevices([SwapDevice(64, cluster_size=16)])
        >>> DirectSwap(swaps).swaps is swaps
        True
        """
        return self._swaps

    def swapon(self, device):
        """Add a :class:`SwapDevice` to the set and attach to it; return its type.

        Runtime complexity: O(slots of the device).

        >>> from vswap import DirectSwap, SwapDevice
        >>> ds = DirectSwap(SwapDevices())
        >>> ds.swapon(SwapDevice(64, cluster_size=16)), ds.swapon(SwapDevice(64, cluster_size=16))
        (0, 1)
        """
        self._check_open()
        t = self._swaps.swapon(device)
        self._sync_devices()
        return t

    def close(self):
        """Release the devices: their own hooks come back and they may join another design.

        Every later call that needs the devices raises RuntimeError (the
        slots stay allocated on the devices). Collection closes too, and
        ``with design:`` closes on exit. Closing twice does nothing. Runtime
        complexity: O(devices).

        >>> from vswap import DirectSwap, VirtualSwap, SwapDevice
        >>> swaps = SwapDevices([SwapDevice(64, cluster_size=16)])
        >>> with VirtualSwap(swaps) as vs: _ = vs.folio_alloc_swap(1)
        >>> ds = DirectSwap(swaps); ds.close(); ds.swaps is None
        True
        """
        if self._swaps is not None:
            self._release_devices()
            self._closed = True

    def __enter__(self):
        """The design itself; :meth:`close` on exit. Runtime complexity: O(1)."""
        self._check_open()
        return self

    def __exit__(self, *exc):
        """:meth:`close`. Runtime complexity: O(devices)."""
        self.close()
        return False

    def __vswap_ops__(self):
        """The C verb table the compiled replay calls (see ``vswap/_swapops.pxd``).

        A PyCapsule named ``"vswap.swap_ops"``; the functions take this
        object as their first argument. Every device of the set is attached
        first. Runtime complexity: O(1).

        >>> from vswap import DirectSwap, SwapDevice
        >>> DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)])).__vswap_ops__()  # doctest: +ELLIPSIS
        <capsule object "vswap.swap_ops" at ...>
        """
        self._sync_devices()
        if self._ops == NULL:
            raise TypeError(f"{self._kind} has no C verb table")
        return PyCapsule_New(self._ops, "vswap.swap_ops", NULL)
