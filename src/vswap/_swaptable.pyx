"""Swap table phase IV on the slot allocator: :class:`SwapTableP4`.

Kairui Song's swap table phases III ("remove swap_map") and IV ("unify
allocation and reduce static metadata", in mm-new since 2026-05-18) on the
baseline's verbs. A swap entry is the physical slot, and every verb takes
the baseline's path (per-cluster batches, the zap path's all-count-1 fast path,
``__try_to_reclaim_swap``, swapoff by page-table walk); what changes is
where the state lives (see ``_swaptable.pxd``): the count, the zero flag
and the swap cache share the slot's table word, counts of 15 and more go
on in a per-cluster extend table, and the memcg id sits in a per-cluster
``memcg_table`` that exists only while the cluster holds an entry. The
only static metadata is the 48-byte cluster descriptor. zswap is still
indexed by the physical slot.

Every verb validates its whole request first and then mutates, so an
exception leaves the state unchanged. The pure-Python model with the same
algorithm and counters is :mod:`vswap.reference.swaptable`.
"""

cimport cython
from libc.stdint cimport uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free
from libc.string cimport memset

from vswap._common cimport to_u64
from vswap._mem cimport checked_calloc
from vswap._swapentry cimport (
    SWP_TYPE_SHIFT, SWP_OFFSET_MASK, SWAPFILE_CLUSTER, HANDLE_MAX, MEMCG_MAX, swp_entry,
    swap_cache_folio, swap_cache_is_folio, swap_cache_folio_id, swap_cache_order,
)
from vswap._slotswap cimport (
    SlotSwap, DS_ENOENT, DS_EEXIST, DS_ENOTPREP, SLOT_PUT_KEPT, SLOT_PUT_CACHE, SLOT_PUT_FREE,
    slot_cores, slot_hooks, slot_dev_t, slot_cores_of_hooks, slot_error, slot_ops_table,
    slot_lookup_many, slot_read, slot_write, slot_free_run, slot_reclaim,
)
from vswap._swapops cimport swap_ops
from vswap._design cimport SwapDesign
from vswap._swapfile cimport swap_table_get, SWAP_TABLE_CACHE_ONLY, SLOT_USED
from vswap._xarray cimport xa_entry, xa_destroy, xa_load, xa_to_value

import numpy as np

from vswap.errors import EntryExists, NoEntry, NoSpace
from vswap.protocol import LOOKUP_KINDS, Lookup, SwapSpace
from vswap.protocol import check_uint64_array as as_entries

__all__ = ["SwapTableP4", "SWAP_COUNT_LIMIT", "WORD_LAYOUT"]

#: Largest swap count an entry can reach (the extend table's unsigned int).
SWAP_COUNT_LIMIT = P4_COUNT_LIMIT
#: The table word's layout and limits (``_swaptable.pxd``), for the parity test
#: against the reference model's constants.
WORD_LAYOUT = {"SWP_TB_COUNT_SHIFT": SWP_TB_COUNT_SHIFT, "SWP_TB_COUNT_MAX": SWP_TB_COUNT_MAX,
               "SWP_TB_ZERO": SWP_TB_ZERO, "SWP_TB_PIN": SWP_TB_PIN,
               "SWP_TB_PAYLOAD": SWP_TB_PAYLOAD, "P4_FOLIO_MAX": P4_FOLIO_MAX,
               "P4_SHADOW_MAX": P4_SHADOW_MAX, "SWAP_COUNT_LIMIT": P4_COUNT_LIMIT,
               "P4_CLUSTER_INFO_BYTES": P4_CLUSTER_INFO_BYTES, "SWP_TB_RMAP": SWP_TB_RMAP}

# --- the table word (no checks) -------------------------------------------------------

cdef inline uint64_t p4_count(const p4_dev_t* dv, uint64_t off) noexcept nogil:
    return count_of(dv, off, p4_word(dv.si, off))


cdef int ext_need(p4_t* d, p4_dev_t* dv, uint64_t off, uint64_t c) except -1 nogil:
    """The extend table a count ``c`` needs (MemoryError before any change)."""
    cdef uint64_t cl = off >> dv.si.cluster_shift
    if c >= SWP_TB_COUNT_MAX and dv.ext[cl] == NULL:
        dv.ext[cl] = <uint32_t*>checked_calloc(dv.si.cluster_size, sizeof(uint32_t))
        dv.nr_ext_tables += 1
        d.st.extend_tables_allocated += 1
    return 0


cdef uint64_t with_count(p4_dev_t* dv, uint64_t off, uint64_t w, uint64_t c) noexcept nogil:
    """``w`` carrying count ``c``; the extend table is updated (and freed when empty)."""
    cdef uint64_t cl = off >> dv.si.cluster_shift, idx = off & (dv.si.cluster_size - 1), i
    cdef uint32_t* x
    if c >= SWP_TB_COUNT_MAX:
        dv.ext[cl][idx] = <uint32_t>c
        c = SWP_TB_COUNT_MAX
    elif tb_field(w) == SWP_TB_COUNT_MAX:
        x = dv.ext[cl]
        x[idx] = 0
        for i in range(dv.si.cluster_size):
            if x[i]:
                break
        else:
            free(x)
            dv.ext[cl] = NULL
            dv.nr_ext_tables -= 1
    return (w & ~SWP_TB_COUNT_MASK) | (c << SWP_TB_COUNT_SHIFT)


cdef void dev_release(p4_dev_t* dv) noexcept nogil:
    cdef uint64_t i
    if dv.memcg != NULL:
        for i in range(dv.nr_clusters):
            free(dv.memcg[i])
        free(dv.memcg)
    if dv.ext != NULL:
        for i in range(dv.nr_clusters):
            free(dv.ext[i])
        free(dv.ext)
    free(dv.used)
    free(dv.swap_cgroup)
    free(dv.zeromap)
    xa_destroy(&dv.zswap.xa)
    memset(dv, 0, sizeof(p4_dev_t))


# --- the design's hooks: the baseline's walks (_slotswap) on the table word ------------

cdef inline p4_dev_t* pdv(slot_dev_t* dv) noexcept nogil:
    return <p4_dev_t*>dv


cdef slot_dev_t* h_dev(void* d, uint64_t t) noexcept nogil:
    return <slot_dev_t*>&(<p4_t*>d).devs[t]


cdef uint64_t h_in_use(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil:
    return p4_word(dv.si, off) != 0


cdef uint64_t h_count(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil:
    return p4_count(pdv(dv), off)


cdef uint64_t h_only_in_cache(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil:
    cdef uint64_t w = slot_read(d, dv, off)
    return w != 0 and cache_only(w, count_of(pdv(dv), off, w))


cdef uint64_t h_put_one(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil:
    cdef uint64_t w = slot_read(d, dv, off)
    cdef uint64_t c = count_of(pdv(dv), off, w) - 1
    w = with_count(pdv(dv), off, w, c)
    if c == 0 and not (w & SWP_TB_PIN):
        return SLOT_PUT_FREE
    if c == 0:
        w |= SWAP_TABLE_CACHE_ONLY
    slot_write(d, dv, off, w)
    return SLOT_PUT_CACHE if c == 0 else SLOT_PUT_KEPT


cdef int h_fast_chunk(void* d, slot_dev_t* dv, uint64_t cur, uint64_t end) noexcept nogil:
    """Every count of the chunk 1, all pinned or none: 1 if pinned, else 0; -1 otherwise."""
    cdef uint64_t first, w, i
    if end - cur <= 1:
        return -1
    first = slot_read(d, dv, cur)
    if tb_field(first) != 1:
        return -1
    for i in range(cur + 1, end):
        w = slot_read(d, dv, i)
        if tb_field(w) != 1 or (w & SWP_TB_PIN) != (first & SWP_TB_PIN):
            return -1
    return 1 if first & SWP_TB_PIN else 0


cdef int h_mark_cache_only(void* d, slot_dev_t* dv, uint64_t cur, uint64_t end) noexcept nogil:
    cdef uint64_t i
    for i in range(cur, end):
        slot_write(d, dv, i, (p4_word(dv.si, i) & ~SWP_TB_COUNT_MASK) | SWAP_TABLE_CACHE_ONLY)
    return 0


cdef int h_clear_slots(void* d, slot_dev_t* dv, uint64_t off, uint64_t nr) noexcept nogil:
    """The memcg ids of ``nr`` freed slots of one cluster; its memcg_table with its last entry."""
    cdef p4_dev_t* x = pdv(dv)
    cdef uint64_t i, cl = off >> dv.si.cluster_shift
    for i in range(off, off + nr):
        x.memcg[cl][i & (dv.si.cluster_size - 1)] = 0
    x.used[cl] -= <uint32_t>nr
    if x.used[cl] == 0:
        if (<p4_t*>d).spare == NULL:
            (<p4_t*>d).spare = x.memcg[cl]
        else:
            free(x.memcg[cl])
        x.memcg[cl] = NULL
        x.nr_memcg_tables -= 1
    return 0


cdef int h_count_room(void* d, slot_dev_t* dv, uint64_t off, uint64_t c) except -1 nogil:
    return ext_need(<p4_t*>d, pdv(dv), off, c)


cdef uint64_t h_dup_one(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil:
    cdef uint64_t w = slot_read(d, dv, off)
    slot_write(d, dv, off, with_count(pdv(dv), off, w & ~SWAP_TABLE_CACHE_ONLY,
                                      count_of(pdv(dv), off, w) + 1))
    return 0


cdef uint64_t h_pin(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil:
    slot_write(d, dv, off, slot_read(d, dv, off) | SWP_TB_PIN)
    return 0


cdef uint64_t h_unpin(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil:
    cdef uint64_t w = slot_read(d, dv, off)
    if count_of(pdv(dv), off, w) == 0:
        slot_free_run(d, dv, off, 1)
    else:
        slot_write(d, dv, off, w & ~(SWP_TB_PIN | SWAP_TABLE_CACHE_ONLY))
    return 0


cdef uint64_t h_is_zero(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil:
    return (p4_word(dv.si, off) & SWP_TB_ZERO) != 0


cdef uint64_t h_zero_set(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil:
    slot_write(d, dv, off, slot_read(d, dv, off) | SWP_TB_ZERO)
    return 0


cdef uint64_t h_zero_clear(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil:
    cdef uint64_t w = slot_read(d, dv, off)
    if w & SWP_TB_ZERO:
        slot_write(d, dv, off, w & ~SWP_TB_ZERO)
    return 0


cdef void h_release(slot_dev_t* dv) noexcept nogil:
    dev_release(pdv(dv))


cdef slot_hooks P4_HOOKS
P4_HOOKS.dev = h_dev
P4_HOOKS.in_use = h_in_use
P4_HOOKS.count = h_count
P4_HOOKS.only_in_cache = h_only_in_cache
P4_HOOKS.put_one = h_put_one
P4_HOOKS.fast_chunk = h_fast_chunk
P4_HOOKS.mark_cache_only = h_mark_cache_only
P4_HOOKS.clear_slots = h_clear_slots
P4_HOOKS.count_room = h_count_room
P4_HOOKS.dup_one = h_dup_one
P4_HOOKS.pin = h_pin
P4_HOOKS.unpin = h_unpin
P4_HOOKS.is_zero = h_is_zero
P4_HOOKS.zero_set = h_zero_set
P4_HOOKS.zero_clear = h_zero_clear
P4_HOOKS.release = h_release
P4_HOOKS.payload = SWP_TB_PAYLOAD


cdef const slot_hooks* p4_hooks() noexcept:
    return &P4_HOOKS


# The verb cores: the baseline's walks (_slotswap) on these hooks.
cdef const slot_cores* C = slot_cores_of_hooks()


cdef int p4_reclaim(void* ctx, swap_device_t* si, uint64_t offset) noexcept nogil:
    """The allocator's reclaim hook (TTRS_ANYWAY)."""
    return slot_reclaim(ctx, si, offset)


cdef swap_ops P4_OPS = slot_ops_table()


@cython.no_gc_clear
cdef class SwapTableP4(SlotSwap):
    """Swap table phase IV: an entry is its physical slot; all per-slot state in the table word.

    ``swaps`` is the :class:`~vswap.SwapDevices` set; the design attaches to
    each device (its reclaim hook) and to devices added with
    :meth:`swapon`. Implements :class:`vswap.protocol.SwapSpace` with the
    results of :class:`vswap.DirectSwap` (folio ids below ``2**51`` and
    shadows below ``2**56``: the word's payload is narrower).

    Memory (kernel-equivalent, see :meth:`memory_footprint`): 48 B per
    cluster static; 8 B of swap table per slot of every in-use cluster;
    a 1 KiB ``memcg_table`` (2 B per slot) per cluster holding an entry;
    a 2 KiB extend table per cluster with a count of 15 or more; 8 B per
    stored zswap entry.

    Runtime complexity: construction O(clusters).

    >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
    >>> p4 = SwapTableP4(SwapDevices([SwapDevice(256, cluster_size=16)]))
    >>> e = p4.folio_alloc_swap(folio=7, memcg=3)
    >>> p4.swap_duplicate(e); p4.swap_count(e), p4.memcg_id(e), p4.lookup(e)
    (1, 3, Lookup(kind='folio', handle=7))
    """

    #: The trait the memory model reads (vswap.protocol.SwapSpace.entry_is_slot):
    #: an entry names a device slot, so a zero page on zram is on a
    #: SWP_SYNCHRONOUS_IO device and swaps in without the swap cache.
    entry_is_slot = True
    #: The memory model's other trait (SwapSpace.swapin_bypasses_swap_cache): phase IV sits on 7.0's phase II: no bypass.
    swapin_bypasses_swap_cache = False

    def __cinit__(self):
        memset(&self.d, 0, sizeof(p4_t))
        self.d.h = &P4_HOOKS
        self._ctx = <void*>&self.d
        self._reclaim = p4_reclaim
        self._cache_only = NULL          # the allocator tests SWAP_TABLE_CACHE_ONLY itself
        self._ops = <void*>&P4_OPS
        self._cores = C
        self._count_limit = P4_COUNT_LIMIT
        self.d.spare = <uint16_t*>checked_calloc(SWAPFILE_CLUSTER, sizeof(uint16_t))

    def __dealloc__(self):
        self._release_devices()
        free(self.d.spare)
        self.d.spare = NULL

    cdef int _hosted_by(self, SwapDesign host) except -1:
        """Run on ``host``'s devices (their hooks stay the host's; the host attaches each).

        The host's direct-mapped entries: SwapTableEdition's. No reference
        to the host is kept (it owns this design: no cycle), so the host
        syncs its devices before it calls in. Only on a bare instance.
        """
        if self._swaps is not None or self._closed:
            raise RuntimeError(f"{self._kind} is already initialised")
        self._hosted = True
        self._swaps = host._swaps
        self._kind = host._kind
        return 0

    cdef int _sync_devices(self) except -1:
        if self._hosted:                 # the host attaches its devices to both
            return self._check_open()
        return SwapDesign._sync_devices(self)

    cdef void _release_devices(self) noexcept:
        if not self._hosted:
            SwapDesign._release_devices(self)
            return
        self._drop_devices()
        self._hosted = False
        self._swaps = None
        self._closed = True

    cdef int _attach_dev(self, int t, SwapDevice dev) except -1:
        """Allocate the device's per-cluster table indexes (the tables come with entries)."""
        cdef p4_dev_t* nd = &self.d.devs[t]
        cdef uint32_t n = dev.si.nr_clusters
        if dev.si.cluster_size > SWAPFILE_CLUSTER:
            raise ValueError(f"cluster size {dev.si.cluster_size} > {SWAPFILE_CLUSTER}")
        nd.nr_clusters = n
        nd.memcg = <uint16_t**>checked_calloc(n, sizeof(uint16_t*))
        nd.ext = <uint32_t**>checked_calloc(n, sizeof(uint32_t*))
        nd.used = <uint32_t*>checked_calloc(n, sizeof(uint32_t))
        return 0

    cdef p4_dev_t* _range(self, uint64_t e, uint64_t nr, bint aligned) except NULL:
        return <p4_dev_t*>self._srange(e, nr, aligned)

    cdef p4_dev_t* _used(self, object entry, object nr, int mode, bint need_count,
                         uint64_t* pe, uint64_t* pn) except NULL:
        return <p4_dev_t*>self._sused(entry, nr, mode, need_count, pe, pn)

    # -- swapon / allocation ------------------------------------------------------------

    def folio_alloc_swap(self, folio, order=0, memcg=0, cpu=0):
        """Allocate ``2**order`` aligned entries cached with ``folio``; return the first.

        Each slot's word: the folio, the pin, count 0; the cluster's
        ``memcg_table`` (allocated with its first entry) gets ``memcg``.
        NoSpace if nothing is free; ValueError for a folio id outside
        ``0 .. 2**51-1``, a memcg outside ``0 .. 65535`` or an order larger
        than a cluster. Runtime complexity: O(2**order) amortised.

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(5, order=2, memcg=3)
        >>> e, p4.swap_cache_get_folio(e + 3), p4.memcg_id(e + 1), p4.swap_count(e)
        (16, 5, 3, 0)
        """
        cdef uint64_t f = to_u64(folio, P4_FOLIO_MAX, "folio")
        cdef uint64_t nr, m, c, e
        self._alloc_prepare(order, memcg, cpu, &nr, &m, &c)
        e = self._alloc_one(f, nr, <uint16_t>m, <int>c)
        if e == 0:
            raise NoSpace(f"no free order-{nr.bit_length() - 1} range on any swap device")
        return e

    cdef uint64_t _alloc_one(self, uint64_t folio, uint64_t nr, uint16_t memcg,
                             int cpu) except? 0xFFFFFFFFFFFFFFFF:
        cdef uint64_t off, i, w, cl
        cdef slot_dev_t* sd = NULL
        cdef p4_dev_t* dv
        cdef int order
        cdef swap_device_t* si
        if self.d.spare == NULL:           # the memcg_table is taken before the slots
            self.d.spare = <uint16_t*>checked_calloc(SWAPFILE_CLUSTER, sizeof(uint16_t))
        order = self._alloc_run(nr, cpu, &sd, &off)
        if off == 0:
            return 0
        dv = <p4_dev_t*>sd
        si = sd.si
        cl = off >> si.cluster_shift
        if dv.memcg[cl] == NULL:
            memset(self.d.spare, 0, SWAPFILE_CLUSTER * sizeof(uint16_t))
            dv.memcg[cl] = self.d.spare
            self.d.spare = NULL
            dv.nr_memcg_tables += 1
            self.d.st.memcg_tables_allocated += 1
        dv.used[cl] += <uint32_t>nr
        w = SWP_TB_PIN | swap_cache_folio(folio, order)
        for i in range(off, off + nr):
            dv.memcg[cl][i & (si.cluster_size - 1)] = memcg
            slot_write(&self.d, <slot_dev_t*>dv, i, w)
        return swp_entry(si.type, off)

    def folio_alloc_swap_many(self, folios, order=0, memcg=0, cpu=0):
        """:meth:`folio_alloc_swap` for each folio id of a uint64 array; the entries.

        The ids are validated first; the result is shorter than ``folios``
        when swap fills up. Runtime complexity: O(n * 2**order) in C.

        >>> import numpy as np
        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> p4.folio_alloc_swap_many(np.arange(3, dtype=np.uint64))
        array([1, 2, 3], dtype=uint64)
        """
        arr = as_entries(folios, "folios")
        cdef const uint64_t[:] v = arr
        cdef Py_ssize_t i
        for i in range(v.shape[0]):         # the narrower payload first, as the reference
            if v[i] >= P4_FOLIO_MAX:
                raise ValueError(f"folio {v[i]} is outside 0 .. {P4_FOLIO_MAX - 1}")
        return SwapDesign.folio_alloc_swap_many(self, arr, order, memcg, cpu)

    # -- counts ---------------------------------------------------------------------------

    def swap_duplicate(self, entry, nr=1):
        """Add one count to each of ``nr`` entries (``folio_dup_swap``).

        Counts of 15 and more go on in the cluster's extend table. NoEntry
        if any is free; NoSpace past :data:`SWAP_COUNT_LIMIT`; nothing
        changes on error. Runtime complexity: O(nr).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1)
        >>> for _ in range(100): p4.swap_duplicate(e)
        >>> p4.swap_count(e), p4.memory_footprint()["extend_table"]
        (100, 64)
        """
        cdef uint64_t e, n, i
        cdef p4_dev_t* dv = self._used(entry, nr, 0, False, &e, &n)
        self._check_dup(e, n)
        C.swap_duplicate(&self.d, e, n)

    def swap_free_nr(self, entry, nr=1):
        """Drop one count from each of ``nr`` entries (``swap_free_nr``).

        Count 0 and unpinned: freed (runs in one batch per cluster, whatever
        their memcgs); count 0 and pinned: cache-only. NoEntry if an entry
        is free or has count 0. Runtime complexity: O(nr).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1); p4.swap_duplicate(e)
        >>> p4.swap_free_nr(e); p4.swap_count(e)
        0
        """
        cdef uint64_t e, n
        cdef p4_dev_t* dv = self._used(entry, nr, 0, True, &e, &n)
        C.swap_free_nr(&self.d, e, n)

    def free_swap_and_cache_nr(self, entry, nr=1):
        """The zap path: one count off each of ``nr`` entries, then reclaim.

        Per cluster, a run whose words all hold count 1 and the same pin is
        freed at once (or made cache-only when pinned), one batch across
        memcgs; otherwise slot by slot. Then each cache-only slot's folio
        is offered to ``__try_to_reclaim_swap``. NoEntry as for
        :meth:`swap_free_nr`. Runtime complexity: O(nr).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(9, order=2); p4.swap_duplicate(e, 4)
        >>> p4.free_swap_and_cache_nr(e, 4); p4.swaps[0].nr_used
        0
        """
        cdef uint64_t e, n
        cdef p4_dev_t* dv = self._used(entry, nr, 0, True, &e, &n)
        C.free_swap_and_cache_nr(&self.d, e, n)

    def free_swap_and_cache_many(self, entries):
        """Zap the swap PTEs of a uint64 array: :meth:`free_swap_and_cache_nr` per run.

        Consecutive entries form one run (``swap_pte_batch``). Validated
        first. Runtime complexity: O(n) in C for an increasing batch.

        >>> import numpy as np
        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> es = p4.folio_alloc_swap_many(np.arange(4, dtype=np.uint64))
        >>> p4.swap_duplicate_many(es); p4.free_swap_and_cache_many(es); p4.swaps[0].nr_used
        0
        """
        return SwapDesign.free_swap_and_cache_many(self, entries)

    def swap_count(self, entry):
        """The exact swap count (table field, or the extend table); NoEntry if free.

        Runtime complexity: O(1).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1); p4.swap_duplicate(e); p4.swap_count(e)
        1
        """
        cdef uint64_t e, n
        cdef p4_dev_t* dv = self._used(entry, None, 2, False, &e, &n)
        return p4_count(dv, e & SWP_OFFSET_MASK)

    def memcg_id(self, entry):
        """The memcg id of an allocated entry, from its cluster's ``memcg_table``.

        Runtime complexity: O(1).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> p4.memcg_id(p4.folio_alloc_swap(1, memcg=12))
        12
        """
        cdef uint64_t e, n, off
        cdef p4_dev_t* dv = self._used(entry, None, 2, False, &e, &n)
        off = e & SWP_OFFSET_MASK
        return dv.memcg[off >> dv.si.cluster_shift][off & (dv.si.cluster_size - 1)]

    # -- swap cache -------------------------------------------------------------------------

    def swapcache_prepare(self, entry, nr=1):
        """Pin ``nr`` entries for a swap-in (set ``SWP_TB_PIN``).

        NoEntry if one is free; EntryExists if one is pinned already.
        Runtime complexity: O(nr).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1); p4.swap_duplicate(e)
        >>> p4.swap_cache_del_folio(e); p4.put_swap_folio(e)
        >>> p4.swapcache_prepare(e); p4.swap_cache_add_folio(e, 2) is None
        True
        """
        cdef uint64_t e = to_u64(entry, <uint64_t>1 << 63, "swap entry")
        cdef uint64_t n = to_u64(nr, <uint64_t>1 << SWP_TYPE_SHIFT, "nr"), i, w, off
        cdef p4_dev_t* dv = self._range(e, n, False)
        cdef int t = <int>(e >> SWP_TYPE_SHIFT)
        off = e & SWP_OFFSET_MASK
        for i in range(off, off + n):
            w = p4_word(dv.si, i)
            if w == 0:
                slot_error(DS_ENOENT, t, i)
            if w & SWP_TB_PIN:
                slot_error(DS_EEXIST, t, i)
        C.swapcache_prepare(&self.d, e, n)

    def swap_cache_add_folio(self, entry, folio, order=0):
        """Put ``folio`` in the swap cache at pinned entries; return the shadow replaced, or None.

        NoEntry if one is free, ValueError if not pinned, EntryExists if one
        already holds a folio. Runtime complexity: O(2**order).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1); p4.swap_duplicate(e)
        >>> p4.swap_cache_del_folio(e, shadow=8); p4.put_swap_folio(e)
        >>> p4.swapcache_prepare(e); p4.swap_cache_add_folio(e, 3)
        8
        """
        cdef uint64_t e = to_u64(entry, <uint64_t>1 << 63, "swap entry")
        cdef uint64_t f = to_u64(folio, P4_FOLIO_MAX, "folio")
        cdef uint64_t nr = <uint64_t>1 << to_u64(order, 10, "order"), i, w, off, first
        cdef int o = 0
        cdef p4_dev_t* dv = self._range(e, nr, True)
        cdef int t = <int>(e >> SWP_TYPE_SHIFT)
        off = e & SWP_OFFSET_MASK
        for i in range(off, off + nr):
            w = p4_word(dv.si, i)
            if w == 0:
                slot_error(DS_ENOENT, t, i)
            if not (w & SWP_TB_PIN):
                slot_error(DS_ENOTPREP, t, i)
            if swap_cache_is_folio(w & SWP_TB_PAYLOAD):
                slot_error(DS_EEXIST, t, i, "already holds a folio")
        while (<uint64_t>1 << o) < nr:
            o += 1
        first = C.swap_cache_add_folio(&self.d, e, nr, swap_cache_folio(f, o))
        return (first >> 1) if first & 1 else None

    def swap_cache_del_folio(self, entry, order=0, shadow=None):
        """Remove the folio cached at ``2**order`` entries, leaving ``shadow`` (or nothing).

        The pin stays until :meth:`put_swap_folio`. NoEntry if the entries
        do not hold one folio of that order. Runtime complexity: O(2**order).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1)
        >>> p4.swap_cache_del_folio(e, shadow=6); p4.swap_cache_get_shadow(e)
        6
        """
        cdef uint64_t e = to_u64(entry, <uint64_t>1 << 63, "swap entry")
        cdef uint64_t nr = <uint64_t>1 << to_u64(order, 10, "order"), sw = 0, w0, i, off
        cdef p4_dev_t* dv = self._range(e, nr, True)
        cdef int t = <int>(e >> SWP_TYPE_SHIFT)
        off = e & SWP_OFFSET_MASK
        if shadow is not None:
            sw = (to_u64(shadow, P4_SHADOW_MAX, "shadow") << 1) | 1
        if p4_word(dv.si, off) == 0:
            slot_error(DS_ENOENT, t, off)
        w0 = p4_word(dv.si, off) & SWP_TB_PAYLOAD
        if not swap_cache_is_folio(w0) or (<uint64_t>1 << swap_cache_order(w0)) != nr:
            slot_error(DS_ENOENT, t, off, f"holds no folio of {nr} pages")
        for i in range(off, off + nr):
            if p4_word(dv.si, i) & SWP_TB_PAYLOAD != w0:
                slot_error(DS_ENOENT, t, off, f"holds no folio of {nr} pages")
        C.swap_cache_del_folio(&self.d, e, nr, sw)

    def swap_cache_get_folio(self, entry):
        """The folio id cached at ``entry``, or None. Runtime complexity: O(1).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> p4.swap_cache_get_folio(p4.folio_alloc_swap(42))
        42
        """
        cdef uint64_t e, n, w
        cdef p4_dev_t* dv = self._used(entry, None, 2, False, &e, &n)
        w = slot_read(&self.d, <slot_dev_t*>dv, e & SWP_OFFSET_MASK) & SWP_TB_PAYLOAD
        return swap_cache_folio_id(w) if swap_cache_is_folio(w) else None

    def swap_cache_get_shadow(self, entry):
        """The workingset shadow left at ``entry``, or None. Runtime complexity: O(1).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> p4.swap_cache_get_shadow(p4.folio_alloc_swap(42)) is None
        True
        """
        cdef uint64_t e, n, w
        cdef p4_dev_t* dv = self._used(entry, None, 2, False, &e, &n)
        w = slot_read(&self.d, <slot_dev_t*>dv, e & SWP_OFFSET_MASK) & SWP_TB_PAYLOAD
        return (w >> 1) if w & 1 else None

    def put_swap_folio(self, entry, order=0):
        """Unpin ``2**order`` entries after their folio left the cache (``put_swap_folio``).

        Those with count 0 are freed (one batch when all are). NoEntry if
        one is not pinned; EntryExists if one still holds a folio. Runtime
        complexity: O(2**order).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1); p4.swap_cache_del_folio(e); p4.put_swap_folio(e)
        >>> p4.swaps[0].nr_used
        0
        """
        cdef uint64_t e = to_u64(entry, <uint64_t>1 << 63, "swap entry")
        cdef uint64_t nr = <uint64_t>1 << to_u64(order, 10, "order"), i, w, off
        cdef p4_dev_t* dv = self._range(e, nr, True)
        cdef int t = <int>(e >> SWP_TYPE_SHIFT)
        off = e & SWP_OFFSET_MASK
        for i in range(off, off + nr):
            w = p4_word(dv.si, i)
            if not (w & SWP_TB_PIN):
                slot_error(DS_ENOENT, t, i, "is not in the swap cache")
            if swap_cache_is_folio(w & SWP_TB_PAYLOAD):
                slot_error(DS_EEXIST, t, i, "still holds a folio")
        C.put_swap_folio(&self.d, e, nr)

    # -- backends --------------------------------------------------------------------------

    def lookup(self, entry):
        """Where swap-in finds the data: a :class:`~vswap.protocol.Lookup`.

        The swap cache, the zero flag, zswap, else the device; one word
        read answers the first two. Runtime complexity: O(1) plus a zswap
        tree walk when the device has zswap entries.

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1); p4.zero_store(e); p4.swap_cache_del_folio(e)
        >>> p4.lookup(e)
        Lookup(kind='zero', handle=0)
        """
        cdef uint64_t e, n, h = 0
        cdef p4_dev_t* dv = self._used(entry, None, 2, False, &e, &n)
        k = C.lookup(&self.d, e, &h)
        return Lookup(LOOKUP_KINDS[k], h)

    def lookup_many(self, entries):
        """:meth:`lookup` of a uint64 array: ``(kinds, handles)`` arrays (kinds uint8).

        Validated first. Runtime complexity: O(n) in C.

        >>> import numpy as np
        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> p4.lookup_many(np.array([p4.folio_alloc_swap(4)], dtype=np.uint64))
        (array([3], dtype=uint8), array([4], dtype=uint64))
        """
        return slot_lookup_many(self, entries)

    def zero_store(self, entry, nr=1):
        """Mark ``nr`` entries zero-filled (``SWP_TB_ZERO``); drop their zswap copies.

        NoEntry if one is free. Runtime complexity: O(nr).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1); p4.zero_store(e); p4.swap_cache_del_folio(e)
        >>> p4.lookup(e).kind
        'zero'
        """
        cdef uint64_t e, n
        cdef p4_dev_t* dv = self._used(entry, nr, 0, False, &e, &n)
        C.zero_store(&self.d, e, n)

    def zswap_store(self, entry, handle):
        """Store the compressed copy ``handle`` (``0 .. 2**62-1``) of ``entry``; clears the zero flag.

        NoEntry if the entry is free. Runtime complexity: O(tree height).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1); p4.zswap_store(e, 5); p4.zswap_load(e)
        5
        """
        cdef uint64_t e, n
        cdef p4_dev_t* dv = self._used(entry, None, 2, False, &e, &n)
        cdef uint64_t h = to_u64(handle, HANDLE_MAX, "zswap handle")
        C.zswap_store(&self.d, e, h)

    def zswap_load(self, entry):
        """The zswap handle of ``entry``, or None (the copy stays). Runtime complexity: O(tree height).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> p4.zswap_load(p4.folio_alloc_swap(1)) is None
        True
        """
        return self._zswap_find(entry, False)

    def zswap_invalidate(self, entry):
        """Drop the zswap copy of ``entry``; its handle or None. Runtime complexity: O(tree height).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1); p4.zswap_store(e, 3)
        >>> p4.zswap_invalidate(e), p4.zswap_load(e)
        (3, None)
        """
        return self._zswap_find(entry, True)

    def writeback(self, entry, order=0):
        """Write ``2**order`` entries to their slots; return the physical slot (the entry).

        Zero flags and zswap copies are dropped. NoEntry if one is free.
        Runtime complexity: O(2**order).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1); p4.zswap_store(e, 3); p4.writeback(e) == e
        True
        """
        cdef uint64_t e, nr
        cdef p4_dev_t* dv = self._used(entry, order, 1, False, &e, &nr)
        C.writeback(&self.d, e, nr)
        return e

    # -- device-level verbs (their work: SlotSwap) ------------------------------------------

    def reclaim_cache_only(self, device):
        """Free the cache-only folios of device ``device``'s full clusters; the slots freed.

        Runtime complexity: O(full clusters * cluster_size).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(16, cluster_size=16)]))
        >>> es = [p4.folio_alloc_swap(i) for i in range(15)]
        >>> for e in es: p4.swap_duplicate(e); p4.swap_free_nr(e)
        >>> p4.reclaim_cache_only(0), p4.swaps[0].nr_used
        (15, 0)
        """
        return SlotSwap.reclaim_cache_only(self, device)

    def swapoff(self, device, page_tables):
        """Bring every entry of device ``device`` back into memory and free its slots.

        As the baseline: no reverse map, so every entry of ``page_tables`` (a
        mapping ``{vpn: entry}`` or a uint64 array indexed by vpn) is
        walked; each swap PTE of this device is rewritten and its count
        dropped, then the device is scanned and the swap cache dropped.
        Validated first (NoEntry, SwapError as :meth:`vswap.DirectSwap.swapoff`).
        Returns the PTEs rewritten. Runtime complexity: O(PTEs + device slots).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices, PageTable
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1); p4.swap_duplicate(e)
        >>> pt = PageTable({7: e}); p4.swapoff(0, pt), pt, p4.swaps[0].nr_used
        (1, {}, 0)
        """
        return SlotSwap.swapoff(self, device, page_tables)

    # -- accounting --------------------------------------------------------------------------

    def memory_footprint(self):
        """Kernel-equivalent metadata bytes by component, and ``"total"``.

        ``cluster_info`` 48 B per cluster (the only static part);
        ``swap_table`` 8 B per slot of every cluster with a table;
        ``memcg_table`` 2 B per slot of every cluster holding an entry;
        ``extend_table`` 4 B per slot of every cluster with a count of 15
        or more; ``zswap_tree`` 8 B per stored zswap entry. Runtime
        complexity: O(devices).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(1024, cluster_size=512)]))
        >>> _ = p4.folio_alloc_swap(1); fp = p4.memory_footprint()
        >>> fp["cluster_info"], fp["swap_table"], fp["memcg_table"]
        (96, 4096, 1024)
        """
        cdef int t
        cdef p4_dev_t* dv
        out = dict.fromkeys(("cluster_info", "swap_table", "memcg_table", "extend_table",
                             "zswap_tree"), 0)
        for t in self._types():
            dv = &self.d.devs[t]
            out["cluster_info"] += P4_CLUSTER_INFO_BYTES * dv.nr_clusters
            out["swap_table"] += 8 * dv.si.nr_tables * dv.si.cluster_size
            out["memcg_table"] += 2 * dv.nr_memcg_tables * dv.si.cluster_size
            out["extend_table"] += 4 * dv.nr_ext_tables * dv.si.cluster_size
        return self._footprint_end(out)

    @property
    def stats(self):
        """Deterministic work counters, identical in the reference model.

        As :attr:`vswap.DirectSwap.stats` (every count change is a table
        read and write here: the count lives in the word), with
        ``extend_tables_allocated`` and ``memcg_tables_allocated`` in place
        of continuation pages. Runtime complexity: O(1).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = p4.folio_alloc_swap(1, order=2); p4.swap_duplicate(e, 4)
        >>> p4.stats["table_writes"], p4.stats["table_reads"]
        (8, 4)
        """
        return self.d.st   # the C struct as a dict, in field order (see XArray.stats)

    def reset_stats(self):
        """Zero every counter of :attr:`stats`. Runtime complexity: O(1).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> _ = p4.folio_alloc_swap(1); p4.reset_stats(); p4.stats["table_writes"]
        0
        """
        memset(&self.d.st, 0, sizeof(p4_stats))

    def check(self):
        """Assert the design's invariants, then the allocator's; AssertionError with a dump.

        Per cluster: its entries counted, a memcg_table iff it holds one, no
        empty extend table. Per slot: a word iff allocated below; a free
        slot keeps no memcg id or extend count; the count field is 15 iff
        the extend table holds the count; count 0 only when pinned; the
        cache-only bit only on count 0 and pinned; a folio word only when
        pinned, the same over its aligned run. zswap: entries on used slots
        only. Runtime complexity: O(slots).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> _ = p4.folio_alloc_swap(3, order=2); p4.check()
        """
        cdef p4_dev_t* dv
        cdef uint64_t off, w, c, cl, idx, ext, used, lo, hi, cs, i
        errors = self._check_begin(<void*>p4_reclaim)
        for t in self._types():
            dv = &self.d.devs[t]
            cs = dv.si.cluster_size
            nx = 0
            for cl in range(dv.nr_clusters):
                lo = cl * cs
                hi = min(lo + cs, dv.max)
                used = 0
                for off in range(lo, hi):
                    if p4_word(dv.si, off):
                        used += 1
                self._check_cluster(t, dv, cl, used, errors)
                if dv.ext[cl] != NULL:
                    nx += 1
                    if not any(dv.ext[cl][i] for i in range(cs)):
                        errors.append(f"{t}: cluster {cl}: empty extend table kept")
            if nx != dv.nr_ext_tables:
                errors.append(f"{t}: extend table count differs")
            self._check_tables(t, dv, errors)
            for off in range(dv.max):
                w = p4_word(dv.si, off)
                cl = off >> dv.si.cluster_shift
                idx = off & (cs - 1)
                if swp_tb_is_rmap(swap_table_get(dv.si, off)):
                    if not self._hosted:
                        errors.append(f"{t}:{off}: a reverse-map word, and no host")
                    continue
                if (w != 0) != (dv.si.map[off] == SLOT_USED):
                    errors.append(f"{t}:{off}: table word {w:#x} but allocator map "
                                  f"{dv.si.map[off]}")
                    continue
                ext = dv.ext[cl][idx] if dv.ext[cl] != NULL else 0
                if w == 0:
                    if ext or self._slot_meta(dv, off):
                        errors.append(f"{t}:{off}: free slot keeps metadata")
                    continue
                if (tb_field(w) == SWP_TB_COUNT_MAX) != (ext >= SWP_TB_COUNT_MAX):
                    errors.append(f"{t}:{off}: count field {tb_field(w)}, extend {ext}")
                c = count_of(dv, off, w)
                if c == 0 and not (w & SWP_TB_PIN):
                    errors.append(f"{t}:{off}: count 0 and not in the swap cache")
                if (w & SWAP_TABLE_CACHE_ONLY) and not cache_only(w, c):
                    errors.append(f"{t}:{off}: cache-only bit with count {c}")
                if swap_cache_is_folio(w & SWP_TB_PAYLOAD) and not (w & SWP_TB_PIN):
                    errors.append(f"{t}:{off}: folio cached without the pin")
        self._check_end(errors)

    def snapshot(self):
        """The whole state as plain values; equal between compiled and reference.

        ``devices``: per attached type, every used slot as ``offset: (table
        word, count, memcg, zswap handle or None)``, and the memcg and
        extend table counts; ``stats``; ``swaps``: the allocator's state.
        Runtime complexity: O(slots).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> _ = p4.folio_alloc_swap(3); p4.snapshot()["devices"][0]["slots"]
        {1: (144115188075856066, 0, 0, None)}
        """
        return self._snapshot()

    cdef int _check_cluster(self, int t, p4_dev_t* dv, uint64_t cl, uint64_t used,
                            list errors) except -1:
        """A cluster's own metadata against its ``used`` entries (its memcg_table)."""
        if used != dv.used[cl]:
            errors.append(f"{t}: cluster {cl}: {used} entries, {dv.used[cl]} counted")
        if (dv.memcg[cl] != NULL) != (used > 0):
            errors.append(f"{t}: cluster {cl}: memcg_table with {used} entries")
        return 0

    cdef int _check_tables(self, int t, p4_dev_t* dv, list errors) except -1:
        cdef uint64_t cl, nm = 0
        for cl in range(dv.nr_clusters):
            nm += dv.memcg[cl] != NULL
        if nm != dv.nr_memcg_tables:
            errors.append(f"{t}: memcg table count differs")
        return 0

    cdef bint _slot_meta(self, p4_dev_t* dv, uint64_t off) noexcept:
        """The slot's metadata outside its word is set (a memcg id)."""
        cdef uint64_t cl = off >> dv.si.cluster_shift
        return dv.memcg[cl] != NULL and dv.memcg[cl][off & (dv.si.cluster_size - 1)] != 0

    cdef object _snap_slot(self, int t, uint64_t off, object z):
        cdef p4_dev_t* dv = &self.d.devs[t]
        cdef uint64_t w = p4_word(dv.si, off)
        return (w, count_of(dv, off, w),
                dv.memcg[off >> dv.si.cluster_shift][off & (dv.si.cluster_size - 1)], z)

    cdef dict _snap_dev(self, int t):
        return {"memcg_tables": self.d.devs[t].nr_memcg_tables,
                "extend_tables": self.d.devs[t].nr_ext_tables}


SwapSpace.register(SwapTableP4)
