"""The baseline, mainline's (Linux 6.19) swap design, on the slot allocator: :class:`DirectSwap`.

A swap entry is the physical slot itself (``swp_entry_t``: device type in
bits 58..62, offset in bits 0..57). Per slot the design keeps what the
kernel keeps: the ``swap_map`` count byte (``SWAP_MAP_MAX`` = 62 in the
byte, ``COUNT_CONTINUED`` continuation pages beyond), ``SWAP_HAS_CACHE``, a
``swap_cgroup`` id, a ``zeromap`` bit, and in the allocator's per-slot
swap table word the cached folio or the workingset shadow. zswap copies
live in one xarray per device keyed by offset (the kernel's
``zswap_trees[type]``; a zswap page still holds its physical slot: that is
what the virtual design removes).

Every verb validates its whole request in C first and then mutates, so
an exception leaves the state unchanged. The reclaim policy
(``__try_to_reclaim_swap``) is a C function plugged into each device's
reclaim hook. The pure-Python model with the same algorithm and counters
is :mod:`vswap.reference.direct`.
"""

cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint64_t
from libc.stdlib cimport free
from libc.string cimport memset

from vswap._common cimport to_u64
from vswap._mem cimport checked_calloc
from vswap._swapentry cimport MEMCG_MAX, SWAP_CLUSTER_INFO_BYTES
from vswap._swapfile cimport (
    SwapDevice, SwapDevices, swap_device_t, swap_table_get, SWAP_TABLE_CACHE_ONLY, SLOT_USED,
)
from vswap._slotswap cimport (
    SlotSwap, DS_ENOENT, DS_EEXIST, DS_ENOTPREP, SLOT_PUT_KEPT, SLOT_PUT_CACHE, SLOT_PUT_FREE,
    slot_cores, slot_hooks, slot_dev_t, slot_cores_of_hooks, slot_error, slot_ops_table,
    slot_lookup_many, slot_read, slot_write, slot_free_run, slot_reclaim,
)
from vswap._swapops cimport swap_ops
from vswap._xarray cimport xa_entry, xa_destroy, xa_load, xa_to_value

import numpy as np

from vswap.errors import EntryExists, NoEntry, NoSpace
from vswap.protocol import LOOKUP_KINDS, Lookup, SwapSpace

__all__ = ["DirectSwap", "SWAP_COUNT_LIMIT"]

cdef uint64_t TB_VALUE = ~SWAP_TABLE_CACHE_ONLY
#: Largest swap count: the byte's 63 values times three continuation digits.
cdef uint64_t COUNT_LIMIT = 63 * 128 * 128 * 128 - 1
#: Largest swap count an entry can reach (three continuation levels).
SWAP_COUNT_LIMIT = COUNT_LIMIT

_STAT_NAMES = ("table_reads", "table_writes", "cluster_locks", "zswap_walks", "scans",
               "pte_walked", "fast_frees", "slots_freed", "folios_reclaimed",
               "cont_pages_allocated")


# --- the count machinery (no checks) ---------------------------------------------

cdef inline bint zero_test(const direct_dev_t* dv, uint64_t off) noexcept nogil:
    return (dv.zeromap[off >> 6] >> (off & 63)) & 1


cdef inline void zero_clear(direct_dev_t* dv, uint64_t off) noexcept nogil:
    dv.zeromap[off >> 6] &= ~(<uint64_t>1 << (off & 63))


cdef inline uint8_t* cont_digit(const direct_dev_t* dv, uint64_t off, int level) noexcept nogil:
    """The continuation byte of ``off`` at ``level`` (0-based), or NULL without a page."""
    cdef uint8_t* p = dv.cont[(off >> SWAP_MAP_PAGE_SHIFT) * SWAP_CONT_LEVELS + level]
    if p == NULL:
        return NULL
    return p + (off & ((1 << SWAP_MAP_PAGE_SHIFT) - 1))


cdef uint64_t direct_count(const direct_dev_t* dv, uint64_t off) noexcept nogil:
    """swp_swapcount: low digit + continuation digits (63, then x128 per level)."""
    cdef uint8_t m = dv.swap_map[off]
    cdef uint64_t c = m & 0x3f
    cdef uint64_t mult = SWAP_MAP_MAX + 1
    cdef uint8_t* p
    cdef uint8_t b
    cdef int k
    if not (m & COUNT_CONTINUED):
        return c
    for k in range(SWAP_CONT_LEVELS):
        p = cont_digit(dv, off, k)
        if p == NULL:
            break
        b = p[0]
        c += (b & SWAP_CONT_MAX) * mult
        if not (b & COUNT_CONTINUED):
            break
        mult <<= 7
    return c


cdef inline int cont_levels(uint64_t c) noexcept nogil:
    cdef uint64_t rest = c // (SWAP_MAP_MAX + 1)
    cdef int n = 0
    while rest:
        n += 1
        rest >>= 7
    return n


cdef int ensure_cont(direct_t* d, direct_dev_t* dv, uint64_t off, uint64_t c) except -1 nogil:
    """add_swap_count_continuation: the pages count ``c`` needs (MemoryError before any change)."""
    cdef int k, n = cont_levels(c)
    cdef uint64_t base = (off >> SWAP_MAP_PAGE_SHIFT) * SWAP_CONT_LEVELS
    for k in range(n):
        if dv.cont[base + k] == NULL:
            dv.cont[base + k] = <uint8_t*>checked_calloc(<size_t>1 << SWAP_MAP_PAGE_SHIFT, 1)
            dv.nr_cont_pages += 1
            d.st.cont_pages_allocated += 1
    return 0


cdef void set_count(direct_dev_t* dv, uint64_t off, uint64_t c) noexcept nogil:
    """Write count ``c`` (canonical digits), keeping SWAP_HAS_CACHE; pages exist."""
    cdef uint8_t m = dv.swap_map[off]
    cdef uint8_t cache = m & SWAP_HAS_CACHE
    cdef uint64_t rest
    cdef uint8_t* p
    cdef int k
    if c <= SWAP_MAP_MAX and not (m & COUNT_CONTINUED):
        dv.swap_map[off] = cache | <uint8_t>c
        return
    rest = c // (SWAP_MAP_MAX + 1)
    dv.swap_map[off] = cache | <uint8_t>(c % (SWAP_MAP_MAX + 1)) | (COUNT_CONTINUED if rest else 0)
    for k in range(SWAP_CONT_LEVELS):
        p = cont_digit(dv, off, k)
        if p == NULL:
            break
        p[0] = <uint8_t>(rest & SWAP_CONT_MAX)
        rest >>= 7
        if rest:
            p[0] |= COUNT_CONTINUED


cdef inline void count_inc(direct_dev_t* dv, uint64_t off) noexcept nogil:
    cdef uint8_t m = dv.swap_map[off]
    if not (m & COUNT_CONTINUED) and (m & 0x3f) < SWAP_MAP_MAX:
        dv.swap_map[off] = m + 1
    else:
        set_count(dv, off, direct_count(dv, off) + 1)


cdef inline void count_dec(direct_dev_t* dv, uint64_t off) noexcept nogil:
    cdef uint8_t m = dv.swap_map[off]
    if not (m & COUNT_CONTINUED):
        dv.swap_map[off] = m - 1
    else:
        set_count(dv, off, direct_count(dv, off) - 1)


cdef void dev_release(direct_dev_t* dv) noexcept nogil:
    cdef uint64_t i
    if dv.cont != NULL:
        for i in range(dv.nr_map_pages * SWAP_CONT_LEVELS):
            if dv.cont[i] != NULL:
                free(dv.cont[i])
        free(dv.cont)
    if dv.swap_map != NULL:
        free(dv.swap_map)
    if dv.swap_cgroup != NULL:
        free(dv.swap_cgroup)
    if dv.zeromap != NULL:
        free(dv.zeromap)
    xa_destroy(&dv.zswap.xa)
    memset(dv, 0, sizeof(direct_dev_t))


# --- the design's hooks: where a slot's state lives (the walks: _slotswap) ------------
# The swap_map byte holds the count and SWAP_HAS_CACHE; the table word the
# swap-cache word and the cache-only bit.

cdef inline direct_dev_t* ddv(slot_dev_t* dv) noexcept nogil:
    return <direct_dev_t*>dv


cdef slot_dev_t* h_dev(void* d, uint64_t t) noexcept nogil:
    return <slot_dev_t*>&(<direct_t*>d).devs[t]


cdef uint64_t h_in_use(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil:
    return ddv(dv).swap_map[off] != 0


cdef uint64_t h_count(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil:
    return direct_count(ddv(dv), off)


cdef uint64_t h_only_in_cache(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil:
    return ddv(dv).swap_map[off] == SWAP_HAS_CACHE


cdef uint64_t h_put_one(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil:
    count_dec(ddv(dv), off)
    if ddv(dv).swap_map[off] == 0:
        return SLOT_PUT_FREE
    if ddv(dv).swap_map[off] == SWAP_HAS_CACHE:
        slot_write(d, dv, off, slot_read(d, dv, off) | SWAP_TABLE_CACHE_ONLY)
        return SLOT_PUT_CACHE
    return SLOT_PUT_KEPT


cdef int h_fast_chunk(void* d, slot_dev_t* dv, uint64_t cur, uint64_t end) noexcept nogil:
    """Every map byte of the chunk the same, count 1: 1 if cached, else 0; -1 otherwise."""
    cdef uint8_t first = ddv(dv).swap_map[cur]
    cdef uint64_t i
    if end - cur <= 1 or (first & ~SWAP_HAS_CACHE) != 1:
        return -1
    for i in range(cur + 1, end):
        if ddv(dv).swap_map[i] != first:
            return -1
    return 1 if first & SWAP_HAS_CACHE else 0


cdef int h_mark_cache_only(void* d, slot_dev_t* dv, uint64_t cur, uint64_t end) noexcept nogil:
    cdef uint64_t i
    for i in range(cur, end):
        ddv(dv).swap_map[i] = SWAP_HAS_CACHE
        slot_write(d, dv, i, slot_read(d, dv, i) | SWAP_TABLE_CACHE_ONLY)
    return 0


cdef int h_clear_slots(void* d, slot_dev_t* dv, uint64_t off, uint64_t nr) noexcept nogil:
    """swap_range_free's metadata of ``nr`` slots from ``off``."""
    cdef uint64_t i
    for i in range(off, off + nr):
        ddv(dv).swap_map[i] = 0
        ddv(dv).swap_cgroup[i] = 0
        zero_clear(ddv(dv), i)
    return 0


cdef int h_count_room(void* d, slot_dev_t* dv, uint64_t off, uint64_t c) except -1 nogil:
    return ensure_cont(<direct_t*>d, ddv(dv), off, c)


cdef uint64_t h_dup_one(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil:
    if ddv(dv).swap_map[off] == SWAP_HAS_CACHE:      # 0 -> 1: no longer cache-only
        slot_write(d, dv, off, slot_read(d, dv, off) & TB_VALUE)
    count_inc(ddv(dv), off)
    return 0


cdef uint64_t h_pin(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil:
    ddv(dv).swap_map[off] |= SWAP_HAS_CACHE
    return 0


cdef uint64_t h_unpin(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil:
    ddv(dv).swap_map[off] &= ~SWAP_HAS_CACHE
    if ddv(dv).swap_map[off] == 0:
        slot_free_run(d, dv, off, 1)
    return 0


cdef uint64_t h_is_zero(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil:
    return zero_test(ddv(dv), off)


cdef uint64_t h_zero_set(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil:
    ddv(dv).zeromap[off >> 6] |= <uint64_t>1 << (off & 63)
    return 0


cdef uint64_t h_zero_clear(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil:
    zero_clear(ddv(dv), off)
    return 0


cdef void h_release(slot_dev_t* dv) noexcept nogil:
    dev_release(ddv(dv))


cdef slot_hooks DIRECT_HOOKS
DIRECT_HOOKS.dev = h_dev
DIRECT_HOOKS.in_use = h_in_use
DIRECT_HOOKS.count = h_count
DIRECT_HOOKS.only_in_cache = h_only_in_cache
DIRECT_HOOKS.put_one = h_put_one
DIRECT_HOOKS.fast_chunk = h_fast_chunk
DIRECT_HOOKS.mark_cache_only = h_mark_cache_only
DIRECT_HOOKS.clear_slots = h_clear_slots
DIRECT_HOOKS.count_room = h_count_room
DIRECT_HOOKS.dup_one = h_dup_one
DIRECT_HOOKS.pin = h_pin
DIRECT_HOOKS.unpin = h_unpin
DIRECT_HOOKS.is_zero = h_is_zero
DIRECT_HOOKS.zero_set = h_zero_set
DIRECT_HOOKS.zero_clear = h_zero_clear
DIRECT_HOOKS.release = h_release
DIRECT_HOOKS.payload = TB_VALUE

# The verb cores: the walks of _slotswap on these hooks.
cdef const slot_cores* C = slot_cores_of_hooks()


cdef int direct_reclaim(void* ctx, swap_device_t* si, uint64_t offset) noexcept nogil:
    """The allocator's reclaim hook (TTRS_ANYWAY)."""
    return slot_reclaim(ctx, si, offset)


cdef swap_ops DIRECT_OPS = slot_ops_table()


# no_gc_clear: __dealloc__ restores each device's reclaim hook, so the
# references to the devices must survive a garbage-collector pass.
@cython.no_gc_clear
cdef class DirectSwap(SlotSwap):
    """The baseline: mainline's design (Linux 6.19); an entry is its physical slot.

    ``swaps`` is the :class:`~vswap.SwapDevices` set whose devices hold the
    slots; the design attaches to each device (its per-slot metadata and
    its reclaim hook) and to devices added later with :meth:`swapon`.
    Implements :class:`vswap.protocol.SwapSpace`.

    Memory per slot (kernel-equivalent, see :meth:`memory_footprint`):
    ``swap_map`` 1 B, ``swap_cgroup`` 2 B and ``zeromap`` 1 bit, static at
    swapon; 8 B of swap table per slot of every in-use cluster; 4 KiB per
    continuation page; 8 B per stored zswap entry.

    Runtime complexity: construction O(total slots).

    >>> from vswap import DirectSwap, SwapDevice, SwapDevices
    >>> ds = DirectSwap(SwapDevices([SwapDevice(256, cluster_size=16)]))
    >>> e = ds.folio_alloc_swap(folio=7)
    >>> ds.swap_duplicate(e); ds.swap_count(e), ds.lookup(e)
    (1, Lookup(kind='folio', handle=7))
    """

    #: The trait the memory model reads (vswap.protocol.SwapSpace.entry_is_slot):
    #: an entry names a device slot, so a zero page on zram is on a
    #: SWP_SYNCHRONOUS_IO device and swaps in without the swap cache.
    entry_is_slot = True
    #: The memory model's other trait (SwapSpace.swapin_bypasses_swap_cache): 6.19: zram's swap-in with a count of 1 skips the swap cache.
    swapin_bypasses_swap_cache = True

    def __cinit__(self):
        memset(&self.d, 0, sizeof(direct_t))
        self.d.h = &DIRECT_HOOKS
        self._ctx = <void*>&self.d
        self._reclaim = direct_reclaim
        self._cache_only = NULL          # the allocator tests SWAP_TABLE_CACHE_ONLY itself
        self._ops = <void*>&DIRECT_OPS
        self._cores = C
        self._count_limit = COUNT_LIMIT

    def __dealloc__(self):
        self._release_devices()

    cdef int _attach_dev(self, int t, SwapDevice dev) except -1:
        """Allocate the device's swap_map, swap_cgroup, zeromap and continuation index."""
        cdef direct_dev_t* nd = &self.d.devs[t]
        cdef uint64_t m = dev.si.max
        nd.nr_map_pages = (m + (1 << SWAP_MAP_PAGE_SHIFT) - 1) >> SWAP_MAP_PAGE_SHIFT
        nd.swap_map = <uint8_t*>checked_calloc(m, 1)
        nd.swap_cgroup = <uint16_t*>checked_calloc(m, sizeof(uint16_t))
        nd.zeromap = <uint64_t*>checked_calloc((m + 63) >> 6, sizeof(uint64_t))
        nd.cont = <uint8_t**>checked_calloc(nd.nr_map_pages * SWAP_CONT_LEVELS, sizeof(uint8_t*))
        return 0

    cdef direct_dev_t* _range(self, uint64_t e, uint64_t nr, bint aligned) except NULL:
        """The device of entries ``e .. e+nr-1`` (SlotSwap._srange)."""
        return <direct_dev_t*>self._srange(e, nr, aligned)

    cdef direct_dev_t* _used(self, object entry, object nr, int mode, bint need_count,
                             uint64_t* pe, uint64_t* pn) except NULL:
        """Validate a request on allocated entries (SlotSwap._sused); the device."""
        return <direct_dev_t*>self._sused(entry, nr, mode, need_count, pe, pn)

    # -- swapon / allocation ------------------------------------------------------------

    def folio_alloc_swap(self, folio, order=0, memcg=0, cpu=0):
        """Allocate ``2**order`` aligned entries cached with ``folio``; return the first.

        ``folio_alloc_swap`` + ``swap_cache_add_folio``: the allocator's
        per-CPU cluster of ``cpu`` first, then the devices by priority. Each
        entry: count 0, ``SWAP_HAS_CACHE``, the folio in its table word,
        swap_cgroup ``memcg``. NoSpace if nothing is free; ValueError for
        a folio id outside ``0 .. 2**57-1``, a memcg outside ``0 .. 65535``
        or an order larger than a cluster. Runtime complexity: O(2**order)
        amortised (the allocator's fast path).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(5, order=2, memcg=3)
        >>> e, ds.swap_cache_get_folio(e + 3), ds.memcg_id(e + 1), ds.swap_count(e)
        (16, 5, 3, 0)
        """
        cdef uint64_t f = to_u64(folio, FOLIO_MAX, "folio")
        cdef uint64_t nr, m, c, off
        self._alloc_prepare(order, memcg, cpu, &nr, &m, &c)
        off = self._alloc_one(f, nr, <uint16_t>m, <int>c)
        if off == 0:
            raise NoSpace(f"no free order-{nr.bit_length() - 1} range on any swap device")
        return off

    cdef uint64_t _alloc_one(self, uint64_t folio, uint64_t nr, uint16_t memcg, int cpu) except? 0xFFFFFFFFFFFFFFFF:
        cdef uint64_t off, i, w
        cdef slot_dev_t* sd = NULL
        cdef int order = self._alloc_run(nr, cpu, &sd, &off)
        if off == 0:
            return 0
        w = swap_cache_folio(folio, order)
        for i in range(off, off + nr):
            (<direct_dev_t*>sd).swap_map[i] = SWAP_HAS_CACHE
            (<direct_dev_t*>sd).swap_cgroup[i] = memcg
            slot_write(&self.d, sd, i, w)
        return swp_entry(sd.si.type, off)

    # -- counts ---------------------------------------------------------------------------

    def swap_duplicate(self, entry, nr=1):
        """Add one count to each of ``nr`` entries (``swap_duplicate``, ``folio_dup_swap``).

        NoEntry if any is free; NoSpace past :data:`SWAP_COUNT_LIMIT`;
        nothing changes on error. Counts above ``SWAP_MAP_MAX`` (62) go on in
        continuation pages. Runtime complexity: O(nr).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(1)
        >>> for _ in range(100): ds.swap_duplicate(e)
        >>> ds.swap_count(e)
        100
        """
        cdef uint64_t e, n, i
        cdef direct_dev_t* dv = self._used(entry, nr, 0, False, &e, &n)
        self._check_dup(e, n)
        C.swap_duplicate(&self.d, e, n)

    def swap_free_nr(self, entry, nr=1):
        """Drop one count from each of ``nr`` entries (``swap_free_nr``).

        An entry left with count 0 that is not cached is freed (runs of
        them in one batch per cluster); one left cached becomes
        cache-only, a reclaim candidate. NoEntry if an entry is free or
        has count 0; nothing changes on error. Runtime complexity: O(nr).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices, NoEntry
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(1); ds.swap_duplicate(e)
        >>> ds.swap_free_nr(e); ds.swap_count(e)
        0
        >>> try: ds.swap_free_nr(e)
        ... except NoEntry: print("underflow")
        underflow
        """
        cdef uint64_t e, n
        cdef direct_dev_t* dv = self._used(entry, nr, 0, True, &e, &n)
        C.swap_free_nr(&self.d, e, n)

    def free_swap_and_cache_nr(self, entry, nr=1):
        """The zap path: drop one count on each of ``nr`` entries, then reclaim.

        Per cluster: when ``nr > 1`` and every slot's map byte is the same
        with count 1, the fast path frees the run at once (or makes it
        cache-only when cached); otherwise slot by slot. Then every
        cache-only slot of the range is offered to ``__try_to_reclaim_swap``
        (``TTRS_UNMAPPED``): a folio whose entries all have count 0 leaves
        the swap cache and its entries are freed. NoEntry as for
        :meth:`swap_free_nr`. Runtime complexity: O(nr).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(9, order=2); ds.swap_duplicate(e, 4)
        >>> ds.free_swap_and_cache_nr(e, 4); ds.swaps[0].nr_used
        0
        """
        cdef uint64_t e, n
        cdef direct_dev_t* dv = self._used(entry, nr, 0, True, &e, &n)
        C.free_swap_and_cache_nr(&self.d, e, n)

    def swap_count(self, entry):
        """The exact swap count of an allocated entry (``swp_swapcount``); NoEntry if free.

        Runtime complexity: O(1).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(1); ds.swap_duplicate(e); ds.swap_count(e)
        1
        """
        cdef uint64_t e, n
        cdef direct_dev_t* dv = self._used(entry, None, 2, False, &e, &n)
        return direct_count(dv, e & SWP_OFFSET_MASK)

    def memcg_id(self, entry):
        """The swap_cgroup id of an allocated entry (``lookup_swap_cgroup_id``).

        Runtime complexity: O(1).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> ds.memcg_id(ds.folio_alloc_swap(1, memcg=12))
        12
        """
        cdef uint64_t e, n
        cdef direct_dev_t* dv = self._used(entry, None, 2, False, &e, &n)
        return dv.swap_cgroup[e & SWP_OFFSET_MASK]

    # -- swap cache -------------------------------------------------------------------------

    def swapcache_prepare(self, entry, nr=1):
        """Set ``SWAP_HAS_CACHE`` on ``nr`` entries for a swap-in (``swapcache_prepare``).

        EntryExists if one is cached, NoEntry if one is free (the first
        offending entry decides); nothing changes on error. Runtime
        complexity: O(nr).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices, EntryExists
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(1)
        >>> try: ds.swapcache_prepare(e)
        ... except EntryExists: print("cached")
        cached
        """
        cdef uint64_t e = self._entry(entry), n = self._nr(nr), i
        cdef direct_dev_t* dv = self._range(e, n, False)
        cdef uint64_t off = e & SWP_OFFSET_MASK
        cdef int t = <int>(e >> SWP_TYPE_SHIFT)
        for i in range(off, off + n):
            if dv.swap_map[i] == 0:
                slot_error(DS_ENOENT, t, i)
            if dv.swap_map[i] & SWAP_HAS_CACHE:
                slot_error(DS_EEXIST, t, i)
        C.swapcache_prepare(&self.d, e, n)

    def swap_cache_add_folio(self, entry, folio, order=0):
        """Store ``folio`` on the ``2**order`` prepared entries at ``entry``; return the old shadow.

        ``swap_cache_add_folio``: the entries must be prepared
        (ValueError otherwise) and hold no folio (EntryExists). Returns
        the shadow of the first entry, or None. Runtime complexity: O(2**order).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(1); ds.swap_duplicate(e)
        >>> ds.swap_cache_del_folio(e, shadow=77); ds.put_swap_folio(e)
        >>> ds.swapcache_prepare(e); ds.swap_cache_add_folio(e, folio=2)
        77
        """
        cdef uint64_t e = self._entry(entry)
        cdef uint64_t f = to_u64(folio, FOLIO_MAX, "folio")
        cdef uint64_t nr = self._order(order), i, first
        cdef direct_dev_t* dv = self._range(e, nr, True)
        cdef uint64_t off = e & SWP_OFFSET_MASK
        cdef int t = <int>(e >> SWP_TYPE_SHIFT), o = 0
        while (<uint64_t>1 << o) < nr:
            o += 1
        for i in range(off, off + nr):
            if dv.swap_map[i] == 0:
                slot_error(DS_ENOENT, t, i)
            if not (dv.swap_map[i] & SWAP_HAS_CACHE):
                slot_error(DS_ENOTPREP, t, i)
            if swap_cache_is_folio(swap_table_get(dv.si, i)):
                slot_error(DS_EEXIST, t, i, "already holds a folio")
        first = C.swap_cache_add_folio(&self.d, e, nr, swap_cache_folio(f, o))
        return (first >> 1) if swap_cache_is_shadow(first) else None

    def swap_cache_del_folio(self, entry, order=0, shadow=None):
        """Remove the order-``order`` folio starting at ``entry`` from the swap cache.

        ``__swap_cache_del_folio``: each entry gets ``shadow`` (an int in
        ``0 .. 2**62-1``) or none, and stays cached (``SWAP_HAS_CACHE``)
        until :meth:`put_swap_folio`. NoEntry if no folio of that order
        starts there. Runtime complexity: O(2**order).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(1, order=1); ds.swap_duplicate(e, 2)
        >>> ds.swap_cache_del_folio(e, order=1, shadow=5); ds.swap_cache_get_shadow(e + 1)
        5
        """
        cdef uint64_t e = self._entry(entry)
        cdef uint64_t nr = self._order(order), i, w0, sw = 0
        cdef direct_dev_t* dv = self._range(e, nr, True)
        cdef uint64_t off = e & SWP_OFFSET_MASK
        cdef int t = <int>(e >> SWP_TYPE_SHIFT)
        if shadow is not None:
            sw = (to_u64(shadow, SHADOW_MAX, "shadow") << 1) | 1
        if dv.swap_map[off] == 0:
            slot_error(DS_ENOENT, t, off)
        w0 = swap_table_get(dv.si, off) & TB_VALUE
        if not swap_cache_is_folio(w0) or (<uint64_t>1 << swap_cache_order(w0)) != nr:
            slot_error(DS_ENOENT, t, off, f"holds no folio of {nr} pages")
        for i in range(off, off + nr):
            if swap_table_get(dv.si, i) & TB_VALUE != w0:
                slot_error(DS_ENOENT, t, off, f"holds no folio of {nr} pages")
        C.swap_cache_del_folio(&self.d, e, nr, sw)

    def swap_cache_get_folio(self, entry):
        """The folio cached for ``entry``, or None (``swap_cache_get_folio``).

        NoEntry if the entry is free. Runtime complexity: O(1).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> ds.swap_cache_get_folio(ds.folio_alloc_swap(42))
        42
        """
        cdef uint64_t e, n, w
        cdef direct_dev_t* dv = self._used(entry, None, 2, False, &e, &n)
        w = slot_read(&self.d, <slot_dev_t*>dv, e & SWP_OFFSET_MASK) & TB_VALUE
        return swap_cache_folio_id(w) if swap_cache_is_folio(w) else None

    def swap_cache_get_shadow(self, entry):
        """The workingset shadow of ``entry``, or None (``swap_cache_get_shadow``).

        NoEntry if the entry is free. Runtime complexity: O(1).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> ds.swap_cache_get_shadow(ds.folio_alloc_swap(42)) is None
        True
        """
        cdef uint64_t e, n, w
        cdef direct_dev_t* dv = self._used(entry, None, 2, False, &e, &n)
        w = slot_read(&self.d, <slot_dev_t*>dv, e & SWP_OFFSET_MASK) & TB_VALUE
        return (w >> 1) if swap_cache_is_shadow(w) else None

    def put_swap_folio(self, entry, order=0):
        """Clear ``SWAP_HAS_CACHE`` on ``2**order`` entries; free those with count 0.

        ``put_swap_folio`` (and ``swapcache_clear``): all cache-only entries
        are freed as one batch. NoEntry if an entry is not cached;
        EntryExists if a folio is still stored (delete it first). Runtime
        complexity: O(2**order).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(1, order=1)
        >>> ds.swap_cache_del_folio(e, order=1); ds.put_swap_folio(e, order=1)
        >>> ds.swaps[0].nr_used
        0
        """
        cdef uint64_t e = self._entry(entry)
        cdef uint64_t nr = self._order(order), i
        cdef direct_dev_t* dv = self._range(e, nr, True)
        cdef uint64_t off = e & SWP_OFFSET_MASK
        cdef int t = <int>(e >> SWP_TYPE_SHIFT)
        for i in range(off, off + nr):
            if not (dv.swap_map[i] & SWAP_HAS_CACHE):
                slot_error(DS_ENOENT, t, i, "is not in the swap cache")
            if swap_cache_is_folio(swap_table_get(dv.si, i)):
                slot_error(DS_EEXIST, t, i, "still holds a folio")
        C.put_swap_folio(&self.d, e, nr)

    # -- backends -------------------------------------------------------------------------------

    def lookup(self, entry):
        """Where swap-in finds the data: a :class:`~vswap.protocol.Lookup`.

        The swap cache first (``"folio"``), then the zeromap (``"zero"``,
        handle 0), zswap (``"zswap"``, the handle), else the device
        (``"swapfile"``, the entry itself). Runtime complexity: O(1) plus a
        zswap tree walk when the device has zswap entries.

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(1); ds.swap_duplicate(e)
        >>> ds.zswap_store(e, 99); ds.swap_cache_del_folio(e); ds.lookup(e)
        Lookup(kind='zswap', handle=99)
        """
        cdef uint64_t e, n, h = 0
        cdef direct_dev_t* dv = self._used(entry, None, 2, False, &e, &n)
        k = C.lookup(&self.d, e, &h)
        return Lookup(LOOKUP_KINDS[k], h)

    def lookup_many(self, entries):
        """:meth:`lookup` of a uint64 array: ``(kinds, handles)`` arrays.

        ``kinds`` is uint8, coded by :data:`~vswap.protocol.LOOKUP_KINDS`
        (0 zero, 1 zswap, 2 swapfile, 3 folio). Every entry is validated
        first. Runtime complexity: O(n) in C.

        >>> import numpy as np
        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(4); ds.lookup_many(np.array([e], dtype=np.uint64))
        (array([3], dtype=uint8), array([4], dtype=uint64))
        """
        return slot_lookup_many(self, entries)

    def zero_store(self, entry, nr=1):
        """Mark ``nr`` entries zero-filled (``swap_zeromap_folio_set``); drop their zswap copies.

        NoEntry if one is free. Runtime complexity: O(nr).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(1); ds.zero_store(e); ds.swap_cache_del_folio(e)
        >>> ds.lookup(e)
        Lookup(kind='zero', handle=0)
        """
        cdef uint64_t e, n
        cdef direct_dev_t* dv = self._used(entry, nr, 0, False, &e, &n)
        C.zero_store(&self.d, e, n)

    def zswap_store(self, entry, handle):
        """Store the compressed copy ``handle`` (``0 .. 2**62-1``) of ``entry`` (``zswap_store``).

        Replaces an earlier copy and clears the zeromap bit. NoEntry if the
        entry is free. Runtime complexity: O(tree height).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(1); ds.zswap_store(e, 5); ds.zswap_load(e)
        5
        """
        cdef uint64_t e, n
        cdef direct_dev_t* dv = self._used(entry, None, 2, False, &e, &n)
        cdef uint64_t h = to_u64(handle, HANDLE_MAX, "zswap handle")
        C.zswap_store(&self.d, e, h)

    def zswap_load(self, entry):
        """The zswap handle of ``entry``, or None (``zswap_load``; the copy stays).

        Runtime complexity: O(tree height).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> ds.zswap_load(ds.folio_alloc_swap(1)) is None
        True
        """
        return self._zswap_find(entry, False)

    def zswap_invalidate(self, entry):
        """Drop the zswap copy of ``entry``; its handle or None (``zswap_invalidate``).

        Runtime complexity: O(tree height).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(1); ds.zswap_store(e, 3); ds.zswap_invalidate(e), ds.zswap_load(e)
        (3, None)
        """
        return self._zswap_find(entry, True)

    def writeback(self, entry, order=0):
        """Write ``2**order`` entries to their slots; return the physical slot (the entry).

        ``swap_writeout`` / ``zswap_writeback_entry``: zeromap bits and
        zswap copies are dropped, so lookup says ``"swapfile"`` once no
        folio is cached. NoEntry if one is free. Runtime complexity: O(2**order).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(1); ds.zswap_store(e, 3); ds.writeback(e) == e
        True
        >>> ds.swap_cache_del_folio(e); ds.lookup(e).kind
        'swapfile'
        """
        cdef uint64_t e, nr
        cdef direct_dev_t* dv = self._used(entry, order, 1, False, &e, &nr)
        C.writeback(&self.d, e, nr)
        return e

    # -- device-level verbs (their work: SlotSwap) ------------------------------------------

    def reclaim_cache_only(self, device):
        """The reclaim work on device type ``device``: free cache-only folios of full clusters.

        ``swap_reclaim_full_clusters(force)`` with this design's hook
        (``__try_to_reclaim_swap``); returns the slots freed. The allocator
        also calls the hook itself while swap is over half full. Runtime
        complexity: O(full clusters * cluster_size).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(16, cluster_size=16)]))
        >>> es = [ds.folio_alloc_swap(f) for f in range(15)]
        >>> for e in es: ds.swap_duplicate(e); ds.swap_free_nr(e)
        >>> ds.reclaim_cache_only(0), ds.swaps[0].nr_used
        (15, 0)
        """
        return SlotSwap.reclaim_cache_only(self, device)

    def swapoff(self, device, page_tables):
        """Bring every entry of device ``device`` back into memory and free its slots.

        ``swapoff`` + ``try_to_unuse``: the design has no reverse map, so it
        walks every entry of ``page_tables`` (a
        :class:`~vswap.protocol.PageTable`, any mapping ``{vpn: entry}`` with
        ``items()`` and ``__delitem__``, or a uint64 numpy array indexed by
        vpn with 0 for none) and for each swap PTE of this device rewrites
        it (the key is deleted, the array element set to 0) and drops its
        count (``unuse_pte``); then it scans the device
        (``find_next_to_unuse``) and drops the swap cache of what is left.
        The device leaves allocation (``SWP_WRITEOK`` cleared) first.
        Validated before any change: NoEntry if a PTE names a free slot or
        more PTEs than its count; SwapError if a slot has references the
        page tables do not hold (the kernel would retry forever). Returns
        the PTEs rewritten. Runtime complexity: O(PTEs + device slots).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> from vswap.protocol import PageTable
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(1); ds.swap_duplicate(e); ds.swap_cache_del_folio(e)
        >>> pt = PageTable({100: e}); ds.swapoff(0, pt), pt, ds.swaps[0].nr_used
        (1, {}, 0)
        """
        return SlotSwap.swapoff(self, device, page_tables)

    # -- accounting --------------------------------------------------------------------------

    def memory_footprint(self):
        """Kernel-equivalent metadata bytes by component, and ``"total"``.

        ``swap_map`` 1 B/slot, ``swap_cgroup`` 2 B/slot and ``zeromap`` 1
        bit/slot (rounded to 8-byte words), static at swapon;
        ``cluster_info`` 32 B per cluster (6.18, with the table pointer);
        ``swap_table`` 8 B per slot of every cluster with a table (dynamic);
        ``continuation`` 4 KiB per continuation page; ``zswap_tree`` 8 B per
        stored zswap entry. Runtime complexity: O(devices).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(1024, cluster_size=512)]))
        >>> fp = ds.memory_footprint(); fp["swap_map"], fp["swap_cgroup"], fp["swap_table"]
        (1024, 2048, 4096)
        """
        cdef int t
        cdef direct_dev_t* dv
        out = dict.fromkeys(("swap_map", "swap_cgroup", "zeromap", "cluster_info",
                             "swap_table", "continuation", "zswap_tree"), 0)
        for t in self._types():
            dv = &self.d.devs[t]
            out["swap_map"] += dv.max
            out["swap_cgroup"] += 2 * dv.max
            out["zeromap"] += 8 * ((dv.max + 63) // 64)
            out["cluster_info"] += SWAP_CLUSTER_INFO_BYTES * dv.si.nr_clusters
            out["swap_table"] += 8 * dv.si.nr_tables * dv.si.cluster_size
            out["continuation"] += 4096 * dv.nr_cont_pages
        return self._footprint_end(out)

    @property
    def stats(self):
        """Deterministic work counters, identical in the reference model.

        ``table_reads``/``table_writes`` (swap table words),
        ``cluster_locks`` (cluster-locked sections), ``zswap_walks``,
        ``scans`` (slots examined by reclaim loops and swapoff),
        ``pte_walked`` (swapoff's page-table walk), ``fast_frees``,
        ``slots_freed``, ``folios_reclaimed``, ``cont_pages_allocated``.
        The allocator's own counters are in ``swaps.stats`` and each
        device's ``stats``. Runtime complexity: O(1).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> _ = ds.folio_alloc_swap(1, order=2); ds.stats["table_writes"]
        4
        """
        return self.d.st   # the C struct as a dict, in field order (see XArray.stats)

    def reset_stats(self):
        """Zero every counter of :attr:`stats` (not the allocator's). Runtime complexity: O(1).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> _ = ds.folio_alloc_swap(1); ds.reset_stats(); ds.stats["table_writes"]
        0
        """
        memset(&self.d.st, 0, sizeof(direct_stats))

    def check(self):
        """Assert the design's invariants, then the allocator's; AssertionError with a dump.

        Per slot: in use here iff allocated below; free => zero table word,
        cgroup, zeromap bit; count digits canonical (continuation pages
        present, low digit <= SWAP_MAP_MAX); a folio word => SWAP_HAS_CACHE
        and the folio's aligned run holds the same word; the cache-only
        bit => count 0 and cached. zswap: entries only on used slots, and
        the counts agree with the tree. Runtime complexity: O(slots).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> _ = ds.folio_alloc_swap(1, order=3); ds.check()
        """
        cdef direct_dev_t* dv
        cdef uint64_t off, w, c
        cdef uint8_t m
        errors = self._check_begin(<void*>direct_reclaim)
        for t in self._types():
            dv = &self.d.devs[t]
            for off in range(dv.max):
                m = dv.swap_map[off]
                w = swap_table_get(dv.si, off)
                used = dv.si.map[off] == SLOT_USED
                if (m != 0) != used:
                    errors.append(f"{t}:{off}: swap_map {m:#x} but allocator used={used}")
                    continue
                if m == 0:
                    if w or dv.swap_cgroup[off] or zero_test(dv, off):
                        errors.append(f"{t}:{off}: free slot keeps metadata")
                    continue
                if (m & 0x3f) > SWAP_MAP_MAX:
                    errors.append(f"{t}:{off}: low digit {m & 0x3f} > SWAP_MAP_MAX")
                if m & COUNT_CONTINUED and dv.cont[(off >> SWAP_MAP_PAGE_SHIFT) * SWAP_CONT_LEVELS] == NULL:
                    errors.append(f"{t}:{off}: COUNT_CONTINUED without a continuation page")
                c = direct_count(dv, off)
                if (m & COUNT_CONTINUED) and c <= SWAP_MAP_MAX:
                    errors.append(f"{t}:{off}: continued count {c} not canonical")
                if w & SWAP_TABLE_CACHE_ONLY and m != SWAP_HAS_CACHE:
                    errors.append(f"{t}:{off}: cache-only bit with map {m:#x}")
                if swap_cache_is_folio(w & TB_VALUE) and not (m & SWAP_HAS_CACHE):
                    errors.append(f"{t}:{off}: folio cached without SWAP_HAS_CACHE")
        self._check_end(errors)

    def snapshot(self):
        """The whole state as plain values; equal between compiled and reference.

        ``devices``: per attached type, every used slot as ``offset: (map
        byte, count, table word, memcg, zero bit, zswap handle or None)``
        and the continuation page count; ``stats``; ``swaps``: the
        allocator's state. Runtime complexity: O(slots).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(3); ds.snapshot()["devices"][0]["slots"]
        {1: (64, 0, 194, 0, 0, None)}
        """
        return self._snapshot()

    cdef object _snap_slot(self, int t, uint64_t off, object z):
        cdef direct_dev_t* dv = &self.d.devs[t]
        return (dv.swap_map[off], direct_count(dv, off), swap_table_get(dv.si, off),
                dv.swap_cgroup[off], int(zero_test(dv, off)), z)

    cdef dict _snap_dev(self, int t):
        return {"cont_pages": self.d.devs[t].nr_cont_pages}


SwapSpace.register(DirectSwap)
