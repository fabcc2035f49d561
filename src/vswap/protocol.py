"""The swap protocol every design implements: :class:`SwapSpace`.

A *design* is the layer above the physical slot allocator
(:class:`vswap.SwapDevices`) that hands out swap entries, counts the page
table references to them, holds the swap cache and says where each page's
data lives. The verbs are the kernel's own (``folio_alloc_swap``,
``swap_duplicate``, ``swap_free_nr``, ``free_swap_and_cache_nr``,
``swapcache_prepare``, ...), so one workload runs unchanged through the
baseline (:class:`vswap.DirectSwap`, where an entry *is* a physical
slot) and the virtual design (where an entry is a virtual slot and the
physical slot is only one of its possible backings).

This module is pure Python and shared by the compiled core and the
reference model. It holds the abstract base class, whose docstrings are the
specification, the entry encoding, the :class:`Lookup` result and the
minimal page-table interface swapoff walks.

Rules common to every verb:

- An entry is an ``int`` in ``0 .. 2**63 - 1`` (``swp_entry_t.val``); a
  non-integer raises TypeError. An entry whose type names no device of the
  design, whose offset is past the device's end, or a run of ``nr`` /
  ``2**order`` entries that is misaligned (``order``) or leaves the device,
  raises ValueError.
- An entry that is not allocated (free, bad or the header slot) raises
  :class:`~vswap.errors.NoEntry`, queries included.
- The whole request is validated before anything changes: after an
  exception the design's :meth:`SwapSpace.snapshot` is unchanged.
- Batch forms (``*_many``) take one-dimensional numpy ``uint64`` arrays
  (TypeError for another type or dtype, ValueError for another shape) and
  validate the whole batch first.

>>> from vswap.protocol import swp_entry, swp_type, swp_offset
>>> e = swp_entry(3, 4096)
>>> hex(e), swp_type(e), swp_offset(e)
('0xc00000000001000', 3, 4096)
"""

from __future__ import annotations

import abc
from collections.abc import MutableMapping
from typing import Any, NamedTuple

# The entry encoding and the swap_map byte are re-exported from their one
# Python home, vswap.swapentry (the twin of _swapentry.pxd).
from vswap.swapentry import (
    COUNT_CONTINUED, LOOKUP_KINDS, MAX_SWAPFILES_SHIFT, SWAP_CONT_MAX, SWAP_HAS_CACHE,
    SWAP_MAP_MAX, SWP_OFFSET_MASK, SWP_TYPE_SHIFT, swp_entry, swp_offset, swp_type,
)

__all__ = [
    "SwapSpace", "Lookup", "PageTable", "swp_entry", "swp_type", "swp_offset",
    "SWP_TYPE_SHIFT", "SWP_OFFSET_MASK", "MAX_SWAPFILES_SHIFT", "LOOKUP_KINDS",
    "SWAP_MAP_MAX", "SWAP_HAS_CACHE", "COUNT_CONTINUED", "SWAP_CONT_MAX", "check_uint64_array",
    "check_memcg_ids",
]

def check_uint64_array(arr: Any, what: str = "entries") -> Any:
    """Return ``arr`` if it is a one-dimensional numpy uint64 array; else raise.

    The argument check every batch verb makes (TypeError for another type
    or dtype, ValueError for another shape), shared by the compiled and the
    reference designs. Runtime complexity: O(1).

    >>> import numpy as np
    >>> from vswap.protocol import check_uint64_array
    >>> check_uint64_array(np.zeros(2, dtype=np.uint64))
    array([0, 0], dtype=uint64)
    >>> check_uint64_array([1])
    Traceback (most recent call last):
    ...
    TypeError: entries must be a numpy array, not list
    """
    import numpy as np

    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{what} must be a numpy array, not {type(arr).__name__}")
    if arr.dtype != np.uint64:
        raise TypeError(f"{what} must have dtype uint64, not {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional, not {arr.ndim}-D")
    return arr


def check_memcg_ids(ids: Any, what: str = "direct_memcgs") -> tuple[int, ...]:
    """The memcg ids of an iterable as a sorted tuple of ints in 0 .. 65535; else raise.

    TypeError for a non-iterable or a non-integer id, ValueError for one out
    of range; shared by the compiled and the reference designs that take a
    set of memcgs. Runtime complexity: O(n log n).

    >>> from vswap.protocol import check_memcg_ids
    >>> check_memcg_ids({3, 1})
    (1, 3)
    >>> check_memcg_ids([70000])
    Traceback (most recent call last):
    ...
    ValueError: direct_memcgs: memcg 70000 is outside 0 .. 65535
    """
    import operator

    if isinstance(ids, (str, bytes)) or not hasattr(ids, "__iter__"):
        raise TypeError(f"{what} must be an iterable of memcg ids, not {type(ids).__name__}")
    out = set()
    for m in ids:
        if isinstance(m, bool):
            raise TypeError(f"{what}: a memcg id must be an int, not bool")
        try:
            m = operator.index(m)
        except TypeError:
            raise TypeError(f"{what}: a memcg id must be an int, not "
                            f"{type(m).__name__}") from None
        if not 0 <= m <= 0xFFFF:
            raise ValueError(f"{what}: memcg {m} is outside 0 .. 65535")
        out.add(m)
    return tuple(sorted(out))


class Lookup(NamedTuple):
    """Where the data of a swap entry is found, in swap-in order.

    ``kind`` is one of :data:`LOOKUP_KINDS`:

    - ``"folio"``: a folio is in the swap cache; ``handle`` is its id.
    - ``"zero"``: the page is zero-filled (zeromap); ``handle`` is 0.
    - ``"zswap"``: compressed in zswap; ``handle`` is the zswap handle.
    - ``"swapfile"``: on a swap device; ``handle`` is the physical
      slot as a swap entry value (in the baseline, the entry itself).

    >>> from vswap.protocol import Lookup
    >>> Lookup("zswap", 42).kind
    'zswap'
    """

    kind: str
    handle: int


Lookup.kind.__doc__ = "The backing kind: one of LOOKUP_KINDS. Runtime complexity: O(1).\n\n" \
    ">>> from vswap.protocol import Lookup\n>>> Lookup('zero', 0).kind\n'zero'\n"
Lookup.handle.__doc__ = "The folio id, zswap handle, physical slot entry, or 0. Runtime " \
    "complexity: O(1).\n\n>>> from vswap.protocol import Lookup\n>>> Lookup('zswap', 9).handle\n9\n"


class PageTable(MutableMapping):
    """The minimal page table swapoff walks: ``{vpn: swap entry}``.

    A mapping from virtual page number to the swap entry of a swapped-out
    page; a page that is present (or unmapped) has no key. The owner (a test
    or the replay engine) stores an entry when it unmaps a page and calls the
    design's ``swap_duplicate`` for it. :meth:`SwapSpace.swapoff` visits
    every item (the kernel's walk of all page tables) and *deletes* the keys
    whose entry lies on the device being removed: the page is present again.

    Any object with ``items()`` and ``__delitem__`` works in its place, and
    so does a one-dimensional numpy ``uint64`` array indexed by vpn, with 0
    for "no swap PTE" (swapoff writes 0 over the entries it brings back).

    Runtime complexity: as :class:`dict`, which holds the items.

    >>> from vswap.protocol import PageTable
    >>> pt = PageTable({0x1000: (1 << 58) | 3})
    >>> pt.swap_entries_of(1)
    [(4096, 288230376151711747)]
    """

    def __init__(self, items: Any = ()) -> None:
        self._ptes: dict[Any, int] = dict(items)

    def __getitem__(self, vpn: Any) -> int:
        """The entry at ``vpn``; KeyError if none. Runtime complexity: O(1).

        >>> from vswap.protocol import PageTable
        >>> PageTable({1: 5})[1]
        5
        """
        return self._ptes[vpn]

    def __setitem__(self, vpn: Any, entry: int) -> None:
        """Store the swap entry of ``vpn``. Runtime complexity: O(1).

        >>> from vswap.protocol import PageTable
        >>> pt = PageTable(); pt[3] = 9; pt
        {3: 9}
        """
        self._ptes[vpn] = entry

    def __delitem__(self, vpn: Any) -> None:
        """Drop the PTE of ``vpn`` (the page is present). Runtime complexity: O(1).

        >>> from vswap.protocol import PageTable
        >>> pt = PageTable({3: 9}); del pt[3]; len(pt)
        0
        """
        del self._ptes[vpn]

    def __iter__(self) -> Any:
        """The vpns, in insertion order. Runtime complexity: O(1) per item.

        >>> from vswap.protocol import PageTable
        >>> list(PageTable({3: 9, 1: 2}))
        [3, 1]
        """
        return iter(self._ptes)

    def __len__(self) -> int:
        """The swap PTEs held. Runtime complexity: O(1).

        >>> from vswap.protocol import PageTable
        >>> len(PageTable({3: 9}))
        1
        """
        return len(self._ptes)

    def __repr__(self) -> str:
        return repr(self._ptes)

    def swap_entries_of(self, type: int) -> list[tuple[int, int]]:  # noqa: A002
        """The ``(vpn, entry)`` items whose entry is on device ``type``, by vpn.

        Runtime complexity: O(len(self) log len(self)).

        >>> from vswap.protocol import PageTable
        >>> PageTable({1: 5, 2: (1 << 58) | 5}).swap_entries_of(0)
        [(1, 5)]
        """
        return sorted((v, e) for v, e in self._ptes.items() if swp_type(e) == type)


class SwapSpace(abc.ABC):
    """The verbs every swap design implements (compiled and reference forms).

    Terms: an entry's *count* is its ``swap_count`` (page-table and shmem
    references); an entry is *cached* while the swap cache holds it
    (``SWAP_HAS_CACHE`` in the baseline, ``in_swapcache`` in the virtual design),
    with or without a folio stored yet. An entry stays allocated while its
    count is above 0 or it is cached; the verb that makes both false frees
    it, and freeing clears its shadow, zeromap bit, zswap entry and memcg id.

    See the module docstring for argument validation; the exceptions listed
    per verb are those of the swap state itself.

    >>> from vswap import DirectSwap, SwapDevices, SwapDevice
    >>> from vswap.protocol import SwapSpace
    >>> isinstance(DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)])), SwapSpace)
    True
    """

    #: A design's trait, read by the memory model (:func:`vswap.replay.machine_config`):
    #: True when an entry names a device slot (the baseline, phase IV), so a page
    #: whose entry says "zero" still sits on the device and, on zram
    #: (``SWP_SYNCHRONOUS_IO``) with a count of 1, swaps in without the swap cache
    #: or read-ahead; False (the default) when the entry is virtual and what backs
    #: it is not a device slot, so such a swap-in takes the read-ahead path. Set it
    #: on the class; every built-in design of both engines does.
    entry_is_slot: bool = False

    # -- allocation and counts ---------------------------------------------------

    @abc.abstractmethod
    def folio_alloc_swap(self, folio: int, order: int = 0, memcg: int = 0, cpu: int = 0) -> int:
        """Allocate an aligned run of ``2**order`` entries for ``folio``; return the first.

        Each entry gets count 0, is cached with ``folio`` (an int id) in the
        swap cache and records ``memcg`` (its swap_cgroup id, 0 .. 65535).
        Kernel: ``folio_alloc_swap`` + ``swap_cache_add_folio``. Raises
        NoSpace when nothing can be allocated. A fresh entry is not a
        reclaim candidate until a count drops to 0 while it is cached (the
        folio is locked under reclaim in the kernel).

        Runtime complexity: O(2**order) amortised (DirectSwap).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(7, order=1); ds.swap_cache_get_folio(e + 1), ds.swap_count(e)
        (7, 0)
        """

    @abc.abstractmethod
    def swap_duplicate(self, entry: int, nr: int = 1) -> None:
        """Add one count to each of ``nr`` entries (``swap_duplicate`` / ``folio_dup_swap``).

        NoEntry, with nothing changed, if any entry is free.

        Runtime complexity: O(nr) (DirectSwap).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(7); ds.swap_duplicate(e); ds.swap_count(e)
        1
        """

    @abc.abstractmethod
    def swap_free_nr(self, entry: int, nr: int = 1) -> None:
        """Drop one count from each of ``nr`` entries (``swap_free_nr``).

        An entry left with count 0 that is not cached is freed. NoEntry,
        nothing changed, if any entry is free or has count 0 (underflow).

        Runtime complexity: O(nr) (DirectSwap).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(7); ds.swap_duplicate(e); ds.swap_free_nr(e); ds.swap_count(e)
        0
        """

    @abc.abstractmethod
    def free_swap_and_cache_nr(self, entry: int, nr: int = 1) -> None:
        """The zap path (``free_swap_and_cache_nr``): drop one count on each of ``nr`` entries.

        Entries reaching count 0 uncached are freed in batches; afterwards a
        folio whose entries are all left with count 0 and held only by the
        swap cache is removed from the cache and its entries freed
        (``__try_to_reclaim_swap`` with ``TTRS_UNMAPPED``: the model's folios
        are never mapped). NoEntry, nothing changed, as for swap_free_nr.

        Runtime complexity: O(nr) (DirectSwap).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(7); ds.swap_duplicate(e); ds.free_swap_and_cache_nr(e)
        >>> ds.swaps[0].nr_used
        0
        """

    @abc.abstractmethod
    def swap_count(self, entry: int) -> int:
        """The exact swap count of an allocated entry (``swp_swapcount``).

        Runtime complexity: O(1) (DirectSwap).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(7); ds.swap_duplicate(e, 1); ds.swap_count(e)
        1
        """

    @abc.abstractmethod
    def memcg_id(self, entry: int) -> int:
        """The memcg id recorded for an allocated entry (``lookup_swap_cgroup_id``).

        Runtime complexity: O(1) (DirectSwap).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> ds.memcg_id(ds.folio_alloc_swap(7, memcg=4))
        4
        """

    # -- the swap cache ------------------------------------------------------------

    @abc.abstractmethod
    def swapcache_prepare(self, entry: int, nr: int = 1) -> None:
        """Mark ``nr`` entries cached for a swap-in (``swapcache_prepare``).

        EntryExists if one is cached already, NoEntry if one is free (the
        first offending entry decides); nothing changes on error.

        Runtime complexity: O(nr) (DirectSwap).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(7); ds.swap_duplicate(e)
        >>> ds.swap_cache_del_folio(e); ds.put_swap_folio(e); ds.swapcache_prepare(e)
        """

    @abc.abstractmethod
    def swap_cache_add_folio(self, entry: int, folio: int, order: int = 0) -> int | None:
        """Store ``folio`` for the ``2**order`` prepared entries at ``entry`` (``swap_cache_add_folio``).

        Returns the shadow the first entry held, or None. The entries must
        have been prepared by swapcache_prepare (ValueError otherwise);
        EntryExists if a folio is already stored on one.

        Runtime complexity: O(2**order) (DirectSwap).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(7); ds.swap_duplicate(e)
        >>> ds.swap_cache_del_folio(e, shadow=3); ds.put_swap_folio(e); ds.swapcache_prepare(e)
        >>> ds.swap_cache_add_folio(e, 8)
        3
        """

    @abc.abstractmethod
    def swap_cache_del_folio(self, entry: int, order: int = 0, shadow: int | None = None) -> None:
        """Remove the folio stored at ``entry`` (its first entry) from the swap cache.

        ``__swap_cache_del_folio``: each of the ``2**order`` entries gets
        ``shadow`` (or no shadow); they stay cached until put_swap_folio.
        NoEntry if no folio of that order starts at ``entry``.

        Runtime complexity: O(2**order) (DirectSwap).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(7); ds.swap_cache_del_folio(e, shadow=3); ds.swap_cache_get_shadow(e)
        3
        """

    @abc.abstractmethod
    def swap_cache_get_folio(self, entry: int) -> int | None:
        """The folio id stored for ``entry`` in the swap cache, or None (``swap_cache_get_folio``).

        Runtime complexity: O(1) (DirectSwap).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> ds.swap_cache_get_folio(ds.folio_alloc_swap(7))
        7
        """

    @abc.abstractmethod
    def swap_cache_get_shadow(self, entry: int) -> int | None:
        """The workingset shadow of ``entry``, or None (``swap_cache_get_shadow``).

        Runtime complexity: O(1) (DirectSwap).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> ds.swap_cache_get_shadow(ds.folio_alloc_swap(7)) is None
        True
        """

    @abc.abstractmethod
    def put_swap_folio(self, entry: int, order: int = 0) -> None:
        """Uncache ``2**order`` entries after their folio left the cache (``put_swap_folio``).

        Entries with count 0 are freed (as one batch when all are). Also
        the failure path of a swap-in (``swapcache_clear``). NoEntry if an
        entry is not cached; EntryExists if a folio is still stored on one.

        Runtime complexity: O(2**order) (DirectSwap).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(7); ds.swap_cache_del_folio(e); ds.put_swap_folio(e)
        >>> ds.swaps[0].nr_used
        0
        """

    # -- backends --------------------------------------------------------------------

    @abc.abstractmethod
    def lookup(self, entry: int) -> Lookup:
        """Where swap-in finds the data of ``entry``: a :class:`Lookup`.

        Order: a folio in the swap cache, then zero, zswap, the swap device.

        Runtime complexity: O(1) (plus a zswap tree walk) (DirectSwap).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> ds.lookup(ds.folio_alloc_swap(7))
        Lookup(kind='folio', handle=7)
        """

    @abc.abstractmethod
    def zero_store(self, entry: int, nr: int = 1) -> None:
        """Record ``nr`` entries as zero-filled (``swap_zeromap_folio_set``); drops their zswap copies.

        Runtime complexity: O(nr) (DirectSwap).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(7); ds.zero_store(e); ds.swap_cache_del_folio(e); ds.lookup(e).kind
        'zero'
        """

    @abc.abstractmethod
    def zswap_store(self, entry: int, handle: int) -> None:
        """Store a compressed copy of ``entry`` under ``handle`` (``zswap_store``).

        ``handle`` is an int in ``0 .. 2**62 - 1``; it replaces any earlier
        copy and clears the entry's zeromap bit.

        Runtime complexity: O(tree height) (DirectSwap).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(7); ds.zswap_store(e, 42); ds.zswap_load(e)
        42
        """

    @abc.abstractmethod
    def zswap_load(self, entry: int) -> int | None:
        """The zswap handle of ``entry``, or None (``zswap_load``; the copy stays).

        Runtime complexity: O(tree height) (DirectSwap).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> ds.zswap_load(ds.folio_alloc_swap(7)) is None
        True
        """

    @abc.abstractmethod
    def zswap_invalidate(self, entry: int) -> int | None:
        """Drop the zswap copy of ``entry``; return its handle or None (``zswap_invalidate``).

        Runtime complexity: O(tree height) (DirectSwap).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(7); ds.zswap_store(e, 42); ds.zswap_invalidate(e)
        42
        """

    @abc.abstractmethod
    def writeback(self, entry: int, order: int = 0) -> int:
        """Write ``2**order`` entries to a swap device; return the physical slot (entry value).

        Their zeromap bits and zswap copies are dropped: afterwards lookup
        says ``"swapfile"`` unless a folio is cached (``swap_writeout`` /
        ``zswap_writeback_entry``). The baseline: the slot is the entry itself.

        Runtime complexity: O(2**order) (DirectSwap).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(7); ds.writeback(e) == e
        True
        """

    # -- device-level verbs ------------------------------------------------------------

    @abc.abstractmethod
    def reclaim_cache_only(self, device: int) -> int:
        """Run the full-cluster reclaim work on device ``device`` (a type); return slots freed.

        Every cache-only entry of a full cluster whose folio has only
        count-0 entries is removed from the swap cache and freed; the same
        policy the allocator calls as its reclaim hook.

        Runtime complexity: O(full clusters * cluster size) (DirectSwap).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> ds.reclaim_cache_only(0)
        0
        """

    @abc.abstractmethod
    def swapoff(self, device: int, page_tables: Any) -> int:
        """Bring every entry of device ``device`` back into memory and free its slots.

        Returns the page-table entries rewritten. See the design for how it
        finds the references.

        Runtime complexity: O(page-table entries + device slots) (DirectSwap).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> from vswap.protocol import PageTable
        >>> ds.swapoff(0, PageTable())
        0
        """

    # -- accounting ----------------------------------------------------------------------

    @abc.abstractmethod
    def memory_footprint(self) -> dict[str, int]:
        """Kernel-equivalent metadata bytes, by component, with ``"total"``.

        Runtime complexity: O(devices) (DirectSwap).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> ds.memory_footprint()["swap_map"]
        64
        """

    @property
    @abc.abstractmethod
    def stats(self) -> dict[str, int]:
        """Deterministic work counters (identical in compiled and reference forms).

        Runtime complexity: O(1) (DirectSwap).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> ds.stats["slots_freed"]
        0
        """

    @abc.abstractmethod
    def reset_stats(self) -> None:
        """Zero every counter of :attr:`stats`.

        Runtime complexity: O(1) (DirectSwap).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> ds.reset_stats(); ds.stats["table_writes"]
        0
        """

    @abc.abstractmethod
    def check(self) -> None:
        """Assert every invariant; AssertionError with a description otherwise.

        Runtime complexity: O(slots) (DirectSwap).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> ds.check()
        """

    @abc.abstractmethod
    def snapshot(self) -> dict[str, Any]:
        """The whole state as plain Python values, equal between compiled and reference.

        Runtime complexity: O(slots) (DirectSwap).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> ds.snapshot()["devices"][0]["slots"]
        {}
        """
