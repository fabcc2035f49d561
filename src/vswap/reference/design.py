"""A swap design's devices: the design base class and who owns a device (reference twin).

:class:`SwapDesign` is what every design (DirectSwap, VirtualSwap, their
successors) does alike with the allocator's devices: claim the set,
attach each device's hooks, release them on close or collection, and the
``*_many`` verbs on the design's per-entry work. The ownership functions
(``swap_devices_claim`` and its kin) are the twins of ``_swapfile.pyx``'s;
the allocator itself is :mod:`vswap.reference.swapfile`, which re-exports
these names.

>>> from vswap.reference import DirectSwap, SwapDevice, SwapDevices
>>> dev = SwapDevice(64, cluster_size=16)
>>> with DirectSwap(SwapDevices([dev])): dev.owner
'DirectSwap'
"""

import weakref

import numpy as np

from vswap.protocol import check_uint64_array
from vswap.reference import swapfile as _sf
from vswap.swapentry import FOLIO_MAX, HANDLE_MAX

__all__ = ["SwapDesign", "swap_devices_claim", "swap_devices_release", "swap_device_attach",
           "swap_device_detach"]


# --- ownership: the twin of swap_devices_claim and its kin in _swapfile.pyx ---------
# The owner is held weakly (and the hooks are weak trampolines) so that, as
# in the compiled core, collecting a design releases its devices.

def _live_owner(obj):
    """The design that owns ``obj`` (a device or a set), or None."""
    owner = obj._owner() if obj._owner is not None else None
    if owner is None and obj._owner is not None:     # collected without close()
        if isinstance(obj, _sf.SwapDevice):
            swap_device_detach(obj, None)
        obj._owner = obj._owner_name = None
    return owner


def swap_devices_claim(swaps, owner):
    """Take ``swaps`` for ``owner``: ValueError if another live design holds it."""
    held = _live_owner(swaps)
    if held is not None and held is not owner:
        raise ValueError(f"the SwapDevices set belongs to a live {swaps._owner_name}; "
                         "close it first")
    for dev in swaps._devices:
        held = _live_owner(dev) if dev is not None else None
        if held is not None and held is not owner:
            raise ValueError(f"a device of the set belongs to a live {dev._owner_name}; "
                             "close it first")
    swaps._owner = weakref.ref(owner)
    swaps._owner_name = type(owner).__name__


def swap_devices_release(swaps, owner):
    if swaps is not None and _live_owner(swaps) is owner:
        swaps._owner = swaps._owner_name = None


def _weak_hook(owner, name):
    ref = weakref.ref(owner)

    def hook(si, offset):
        design = ref()
        return 0 if design is None else getattr(design, name)(si, offset)
    return hook


def swap_device_attach(dev, owner, reclaim, cache_only):
    """Plug ``owner``'s hooks (method names) into ``dev``, saving its own."""
    held = _live_owner(dev)
    if held is owner:
        return
    if held is not None:
        raise ValueError(f"the device belongs to a live {dev._owner_name}; close it first")
    dev._saved_reclaim, dev._saved_cache_only = dev._reclaim, dev._cache_only
    dev._owner = weakref.ref(owner)
    dev._owner_name = type(owner).__name__
    dev._reclaim = _weak_hook(owner, reclaim)
    dev._cache_only = None if cache_only is None else _weak_hook(owner, cache_only)


def swap_device_detach(dev, owner):
    """Give ``dev`` back the hooks it had before :func:`swap_device_attach`."""
    if dev._owner is None or (owner is not None and _live_owner(dev) is not owner):
        return
    dev._reclaim, dev._cache_only = dev._saved_reclaim, dev._saved_cache_only
    dev._saved_reclaim = dev._saved_cache_only = None
    dev._owner = dev._owner_name = None


class SwapDesign:
    """What the swap designs do alike with their devices; see :class:`vswap.SwapDesign`.

    A design sets ``_reclaim`` / ``_cache_only`` (method
    names, or None) and overrides ``_attach`` (calling this one) and
    ``_drop_devices``.

    >>> from vswap.reference import DirectSwap, SwapDevices
    >>> isinstance(DirectSwap(SwapDevices()), SwapDesign)
    True
    """

    _reclaim = "_reclaim_hook"
    _cache_only = None

    def _claim(self, swaps):
        if not isinstance(swaps, _sf.SwapDevices):
            raise TypeError(f"swaps must be a vswap.reference.SwapDevices, not {type(swaps).__name__}")
        if getattr(self, "_swaps", None) is not None or getattr(self, "_closed", False):
            raise RuntimeError(f"{type(self).__name__} is already initialised")
        swap_devices_claim(swaps, self)
        self._swaps = swaps
        self._devobjs = []
        self._nr_seen = 0
        self._cluster_size = 0

    def _check_open(self):
        if getattr(self, "_swaps", None) is None:
            raise RuntimeError(f"{type(self).__name__} is closed" if getattr(self, "_closed", False)
                               else f"{type(self).__name__} is not initialised")

    def _attach(self, t, dev):
        swap_device_attach(dev, self, self._reclaim, self._cache_only)
        self._cluster_size = dev._cluster_size

    def _sync_devices(self):
        self._check_open()
        devs = self._swaps._devices
        if len(devs) == self._nr_seen:
            return
        for t, dev in enumerate(devs):
            if dev is not None and _live_owner(dev) is not self:
                self._attach(t, dev)
                self._devobjs.append(dev)
        self._nr_seen = len(devs)

    def _drop_devices(self):
        pass

    def _release_devices(self):
        self._drop_devices()
        for dev in self._devobjs:
            swap_device_detach(dev, self)
        swap_devices_release(self._swaps, self)
        self._devobjs = []
        self._swaps = None
        self._nr_seen = 0
        self._cluster_size = 0

    def _batch_entry(self, e):
        """ValueError or NoEntry unless ``e`` is an allocated entry (the design's own test)."""
        raise TypeError(f"{type(self).__name__} has no batch verbs")

    def _batch_count(self, e, k, need_count, dup):
        """NoSpace if ``k`` more counts pass the limit (``dup``), NoEntry if ``e`` has fewer."""

    def _check_batch(self, entries, need_count, dup):
        """Validate a batch of single entries for a ``*_many`` verb; the entries as ints.

        Every entry first (``_batch_entry``), then the counts, repeats adding
        up (``_batch_count``), as the compiled ``SwapDesign._check_batch``.
        """
        self._check_open()
        es = check_uint64_array(entries).tolist()
        for e in es:
            self._batch_entry(e)
        if not es or not (need_count or dup):
            return es
        counts = {}
        for e in es:
            counts[e] = counts.get(e, 0) + 1
        for e in sorted(counts):
            self._batch_count(e, counts[e], need_count, dup)
        return es

    def folio_alloc_swap_many(self, folios, order=0, memcg=0, cpu=0):
        """See :meth:`vswap.SwapDesign.folio_alloc_swap_many`. O(n * 2**order)."""
        arr = check_uint64_array(folios, "folios")
        o, m, c = self._alloc_prepare(order, memcg, cpu)
        fs = arr.tolist()
        for f in fs:
            if f >= FOLIO_MAX:
                raise ValueError(f"folio {f} is outside 0 .. {FOLIO_MAX - 1}")
        out = []
        for f in fs:
            e = self._alloc_entry(f, o, m, c)
            if e == 0:
                break
            out.append(e)
        return np.array(out, dtype=np.uint64)

    def swap_duplicate_many(self, entries):
        """See :meth:`vswap.SwapDesign.swap_duplicate_many`. O(n log n)."""
        for e in self._check_batch(entries, False, True):
            self._dup_entry(e)

    def swap_free_many(self, entries):
        """See :meth:`vswap.SwapDesign.swap_free_many`. O(n log n)."""
        for e in self._check_batch(entries, True, False):
            self._free_entry(e)

    def _run_may_grow(self, e, k):
        return True

    def free_swap_and_cache_many(self, entries):
        """See :meth:`vswap.SwapDesign.free_swap_and_cache_many`. O(n log n)."""
        vals = self._check_batch(entries, True, False)
        i, n = 0, len(vals)
        while i < n:
            e = vals[i]
            j = i + 1
            while j < n and vals[j] == e + (j - i) and self._run_may_grow(e, j - i):
                j += 1
            self._fsc_entries(e, j - i)
            i = j

    def zswap_store_many(self, entries, handles):
        """See :meth:`vswap.SwapDesign.zswap_store_many`. O(n)."""
        es = self._check_batch(entries, False, False)
        harr = check_uint64_array(handles, "handles")
        if harr.shape[0] != len(es):
            raise ValueError(f"{len(es)} entries but {harr.shape[0]} handles")
        hs = harr.tolist()
        for h in hs:
            if h >= HANDLE_MAX:
                raise ValueError(f"zswap handle {h} is outside 0 .. {HANDLE_MAX - 1}")
        for e, h in zip(es, hs):
            self._zswap_entry(e, h)

    swaps = property(lambda self: getattr(self, "_swaps", None),
                     doc="The SwapDevices set (None once closed). O(1).")

    def swapon(self, device):
        """See :meth:`vswap.SwapDesign.swapon`. O(slots of the device)."""
        self._check_open()
        t = self._swaps.swapon(device)
        self._sync_devices()
        return t

    def close(self):
        """See :meth:`vswap.SwapDesign.close`. O(devices)."""
        if getattr(self, "_swaps", None) is not None:
            self._release_devices()
            self._closed = True

    def __del__(self):
        self.close()

    def __enter__(self):
        """See :meth:`vswap.SwapDesign.__enter__`. O(1)."""
        self._check_open()
        return self

    def __exit__(self, *exc):
        """See :meth:`vswap.SwapDesign.__exit__`. O(devices)."""
        self.close()
        return False
