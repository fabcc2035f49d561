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
from cpython.number cimport PyNumber_Index
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int64_t, uint64_t
from libc.stdlib cimport free
from libc.string cimport memset

from vswap._common cimport to_u64
from vswap._mem cimport checked_calloc
from vswap._swapfile cimport (
    SwapDesign, SwapDevice, SwapDevices, swap_device_t, swap_table_get, swap_table_set,
    swap_entries_free, swap_alloc_set, swap_reclaim_full_clusters, SWAP_TABLE_CACHE_ONLY,
    SLOT_USED, SWP_WRITEOK,
)
from vswap._slotswap cimport (
    DS_ENOENT, DS_EEXIST, DS_ENOTPREP, DS_EOVERFLOW, slot_cores, slot_cores_table, slot_error,
    slot_ops_table, slot_lookup_many, slot_swapoff, slot_check_range, slot_table_read,
    slot_table_write, slot_entries_free, zswap_tree_find, zswap_tree_store,
)
from vswap._swapops cimport swap_ops
from vswap._xarray cimport (
    xa_entry, xa_init, xa_destroy, xa_load, xa_store, xa_erase, xa_mk_value, xa_to_value,
)

import numpy as np

from vswap.errors import EntryExists, NoEntry, NoSpace, SwapError
from vswap.protocol import LOOKUP_KINDS, Lookup, SwapSpace
from vswap.protocol import check_uint64_array as as_entries

__all__ = ["DirectSwap", "SWAP_COUNT_LIMIT"]

cdef uint64_t TB_VALUE = ~SWAP_TABLE_CACHE_ONLY
#: Largest swap count: the byte's 63 values times three continuation digits.
cdef uint64_t COUNT_LIMIT = 63 * 128 * 128 * 128 - 1
#: Largest swap count an entry can reach (three continuation levels).
SWAP_COUNT_LIMIT = COUNT_LIMIT

_STAT_NAMES = ("table_reads", "table_writes", "cluster_locks", "zswap_walks", "scans",
               "pte_walked", "fast_frees", "slots_freed", "folios_reclaimed",
               "cont_pages_allocated")


# --- per-slot helpers (no checks) -------------------------------------------------

cdef inline uint64_t tb_read(direct_t* d, direct_dev_t* dv, uint64_t off) noexcept nogil:
    return slot_table_read(&d.st.table_reads, dv.si, off)


cdef inline void tb_write(direct_t* d, direct_dev_t* dv, uint64_t off, uint64_t w) noexcept nogil:
    slot_table_write(&d.st.table_writes, dv.si, off, w)


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


cdef void free_run(direct_t* d, int t, direct_dev_t* dv, uint64_t off, uint64_t nr) noexcept nogil:
    """swap_entries_free + swap_range_free: ``nr`` slots of one cluster, count 0, uncached."""
    cdef uint64_t i, h
    for i in range(off, off + nr):
        dv.swap_map[i] = 0
        dv.swap_cgroup[i] = 0
        zero_clear(dv, i)
        zswap_tree_find(&dv.zswap, &d.st.zswap_walks, i, &h, True)
    d.st.slots_freed += nr
    slot_entries_free(dv.si, off, nr)


cdef inline uint64_t chunk_end(const direct_dev_t* dv, uint64_t cur, uint64_t end) noexcept nogil:
    cdef uint64_t e = (cur | (dv.si.cluster_size - 1)) + 1
    return e if e < end else end


cdef bint put_range(direct_t* d, int t, direct_dev_t* dv, uint64_t cur, uint64_t end) noexcept nogil:
    """swap_entry_put_locked on each slot of one cluster chunk; batch the frees.

    Returns True if a slot became cache-only (its table word gets the bit).
    """
    cdef uint64_t i, run = 0, nrun = 0
    cdef bint only_cache = False
    for i in range(cur, end):
        count_dec(dv, i)
        if dv.swap_map[i] == 0:
            if nrun == 0:
                run = i
            nrun += 1
            continue
        if nrun:
            free_run(d, t, dv, run, nrun)
            nrun = 0
        if dv.swap_map[i] == SWAP_HAS_CACHE:
            tb_write(d, dv, i, tb_read(d, dv, i) | SWAP_TABLE_CACHE_ONLY)
            only_cache = True
    if nrun:
        free_run(d, t, dv, run, nrun)
    return only_cache


cdef int direct_try_to_reclaim_swap(direct_t* d, int t, direct_dev_t* dv,
                                    uint64_t off) noexcept nogil:
    """__try_to_reclaim_swap: free the cached folio at ``off`` if all its counts are 0.

    Returns the folio's pages when freed, minus them when kept, 0 with no folio.
    """
    cdef uint64_t w, n, base, i
    d.st.cluster_locks += 1
    w = tb_read(d, dv, off)
    if not swap_cache_is_folio(w):
        return 0
    n = <uint64_t>1 << swap_cache_order(w)
    if n > dv.si.cluster_size:             # not a word this design wrote (set_table)
        return 0
    base = off & ~(n - 1)
    for i in range(base, base + n):
        if dv.swap_map[i] != SWAP_HAS_CACHE:
            return -<int>n
    for i in range(base, base + n):        # folio_free_swap: delete, no shadow
        tb_write(d, dv, i, 0)
    free_run(d, t, dv, base, n)            # put_swap_folio: all cache-only
    d.st.folios_reclaimed += 1
    return <int>n


cdef int direct_reclaim(void* ctx, swap_device_t* si, uint64_t offset) noexcept nogil:
    """The allocator's reclaim hook (TTRS_ANYWAY)."""
    cdef direct_t* d = <direct_t*>ctx
    cdef direct_dev_t* dv
    if si.type < 0 or si.type >= MAX_SWAPFILES:
        return 0
    dv = &d.devs[si.type]
    if dv.si != si or offset >= dv.max or dv.swap_map[offset] == 0:
        return 0
    return direct_try_to_reclaim_swap(d, si.type, dv, offset)


cdef int direct_free_swap_and_cache_nr(void* ctx, uint64_t e, uint64_t nr) except -1 nogil:
    """free_swap_and_cache_nr after validation: the zap, then reclaim of what became cache-only."""
    cdef direct_t* d = <direct_t*>ctx
    cdef direct_dev_t* dv = &d.devs[e >> SWP_TYPE_SHIFT]
    cdef int t = <int>(e >> SWP_TYPE_SHIFT)
    cdef uint64_t off = e & SWP_OFFSET_MASK
    cdef uint64_t cur = off, end = off + nr, ce, i, n, step
    cdef uint8_t first
    cdef bint fast, any_only_cache = False
    cdef int r
    while cur < end:
        ce = chunk_end(dv, cur, end)
        d.st.cluster_locks += 1
        n = ce - cur
        first = dv.swap_map[cur]
        fast = False
        if n > 1 and (first & ~SWAP_HAS_CACHE) == 1:
            fast = True
            for i in range(cur + 1, ce):
                if dv.swap_map[i] != first:
                    fast = False
                    break
        if fast:
            d.st.fast_frees += 1
            if first & SWAP_HAS_CACHE:
                for i in range(cur, ce):
                    dv.swap_map[i] = SWAP_HAS_CACHE
                    tb_write(d, dv, i, tb_read(d, dv, i) | SWAP_TABLE_CACHE_ONLY)
                any_only_cache = True
            else:
                free_run(d, t, dv, cur, n)
        elif put_range(d, t, dv, cur, ce):
            any_only_cache = True
        cur = ce
    if not any_only_cache:
        return 0
    cur = off
    while cur < end:
        d.st.scans += 1
        step = 1
        if dv.swap_map[cur] == SWAP_HAS_CACHE:
            r = direct_try_to_reclaim_swap(d, t, dv, cur)
            if r < 0:
                r = -r
            if r > 0:
                step = ((cur + 1 + <uint64_t>r - 1) & ~(<uint64_t>r - 1)) - cur
        cur += step
    return 0


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


# --- checks (no mutation) ------------------------------------------------------------

cdef int check_used(const direct_dev_t* dv, uint64_t off, uint64_t nr, bint need_count,
                    uint64_t* bad) noexcept nogil:
    """0, or DS_ENOENT with ``*bad`` the first free (or count-0 when need_count) slot."""
    cdef uint64_t i
    for i in range(off, off + nr):
        if dv.swap_map[i] == 0 or (need_count and direct_count(dv, i) == 0):
            bad[0] = i
            return DS_ENOENT
    return 0


# --- verb cores: the work after validation, shared by the methods and the replay ---
# The slot_cores of _slotswap.pxd: (state, entry, ...) on validated entries.

cdef inline direct_dev_t* dev_of(direct_t* d, uint64_t e) noexcept nogil:
    return &d.devs[e >> SWP_TYPE_SHIFT]


cdef int direct_swap_duplicate(void* ctx, uint64_t e, uint64_t nr) except -1 nogil:
    """swap_duplicate after the limit check; continuation pages first (MemoryError, no change)."""
    cdef direct_t* d = <direct_t*>ctx
    cdef direct_dev_t* dv = dev_of(d, e)
    cdef uint64_t off = e & SWP_OFFSET_MASK, i, cur = off, ce, end = off + nr
    for i in range(off, end):
        ensure_cont(d, dv, i, direct_count(dv, i) + 1)
    while cur < end:
        ce = chunk_end(dv, cur, end)
        d.st.cluster_locks += 1
        for i in range(cur, ce):
            if dv.swap_map[i] == SWAP_HAS_CACHE:      # 0 -> 1: no longer cache-only
                tb_write(d, dv, i, tb_read(d, dv, i) & TB_VALUE)
            count_inc(dv, i)
        cur = ce
    return 0


cdef int direct_swap_free_nr(void* ctx, uint64_t e, uint64_t n) except -1 nogil:
    """swap_free_nr: one count off each slot, a cluster-locked section per cluster."""
    cdef direct_t* d = <direct_t*>ctx
    cdef direct_dev_t* dv = dev_of(d, e)
    cdef uint64_t cur = e & SWP_OFFSET_MASK, ce, end = cur + n
    while cur < end:
        ce = chunk_end(dv, cur, end)
        d.st.cluster_locks += 1
        put_range(d, <int>(e >> SWP_TYPE_SHIFT), dv, cur, ce)
        cur = ce
    return 0


cdef int direct_lookup(void* ctx, uint64_t e, uint64_t* handle) noexcept nogil:
    """Where swap-in finds an allocated slot's data (a LOOKUP_KINDS code)."""
    cdef direct_t* d = <direct_t*>ctx
    cdef direct_dev_t* dv = dev_of(d, e)
    cdef uint64_t off = e & SWP_OFFSET_MASK
    cdef uint64_t w = tb_read(d, dv, off) & TB_VALUE
    if swap_cache_is_folio(w):
        handle[0] = swap_cache_folio_id(w)
        return VSWAP_FOLIO
    if zero_test(dv, off):
        handle[0] = 0
        return VSWAP_ZERO
    if zswap_tree_find(&dv.zswap, &d.st.zswap_walks, off, handle, False):
        return VSWAP_ZSWAP
    handle[0] = e
    return VSWAP_SWAPFILE


cdef int direct_zswap_store(void* ctx, uint64_t e, uint64_t h) except -1 nogil:
    cdef direct_t* d = <direct_t*>ctx
    cdef direct_dev_t* dv = dev_of(d, e)
    zswap_tree_store(&dv.zswap, &d.st.zswap_walks, e & SWP_OFFSET_MASK, h)
    zero_clear(dv, e & SWP_OFFSET_MASK)
    return 0


cdef int direct_zero_store(void* ctx, uint64_t e, uint64_t n) except -1 nogil:
    cdef direct_t* d = <direct_t*>ctx
    cdef direct_dev_t* dv = dev_of(d, e)
    cdef uint64_t i, h
    for i in range(e & SWP_OFFSET_MASK, (e & SWP_OFFSET_MASK) + n):
        dv.zeromap[i >> 6] |= <uint64_t>1 << (i & 63)
        zswap_tree_find(&dv.zswap, &d.st.zswap_walks, i, &h, True)
    return 0


cdef int direct_writeback(void* ctx, uint64_t e, uint64_t n) except -1 nogil:
    cdef direct_t* d = <direct_t*>ctx
    cdef direct_dev_t* dv = dev_of(d, e)
    cdef uint64_t i, h
    for i in range(e & SWP_OFFSET_MASK, (e & SWP_OFFSET_MASK) + n):
        zero_clear(dv, i)
        zswap_tree_find(&dv.zswap, &d.st.zswap_walks, i, &h, True)
    return 0


cdef int direct_swapcache_prepare(void* ctx, uint64_t e, uint64_t n) except -1 nogil:
    cdef direct_t* d = <direct_t*>ctx
    cdef direct_dev_t* dv = dev_of(d, e)
    cdef uint64_t i, cur = e & SWP_OFFSET_MASK, ce, end = cur + n
    while cur < end:
        ce = chunk_end(dv, cur, end)
        d.st.cluster_locks += 1
        for i in range(cur, ce):
            dv.swap_map[i] |= SWAP_HAS_CACHE
        cur = ce
    return 0


cdef uint64_t direct_swap_cache_add_folio(void* ctx, uint64_t e, uint64_t nr,
                                          uint64_t word) noexcept nogil:
    """Store the folio ``word`` on prepared slots; the first slot's old table word (its shadow)."""
    cdef direct_t* d = <direct_t*>ctx
    cdef direct_dev_t* dv = dev_of(d, e)
    cdef uint64_t off = e & SWP_OFFSET_MASK, i, w, first = 0
    d.st.cluster_locks += 1
    for i in range(off, off + nr):
        w = tb_read(d, dv, i)
        if i == off:
            first = w
        tb_write(d, dv, i, word | (w & SWAP_TABLE_CACHE_ONLY))
    return first & TB_VALUE


cdef uint64_t direct_swap_cache_del_folio(void* ctx, uint64_t e, uint64_t nr,
                                          uint64_t shadow_word) noexcept nogil:
    cdef direct_t* d = <direct_t*>ctx
    cdef direct_dev_t* dv = dev_of(d, e)
    cdef uint64_t i
    d.st.cluster_locks += 1
    for i in range(e & SWP_OFFSET_MASK, (e & SWP_OFFSET_MASK) + nr):
        tb_write(d, dv, i, shadow_word | (tb_read(d, dv, i) & SWAP_TABLE_CACHE_ONLY))
    return 0


cdef int direct_put_swap_folio(void* ctx, uint64_t e, uint64_t nr) except -1 nogil:
    """put_swap_folio: uncache; slots left with count 0 are freed (one batch when all are)."""
    cdef direct_t* d = <direct_t*>ctx
    cdef direct_dev_t* dv = dev_of(d, e)
    cdef uint64_t off = e & SWP_OFFSET_MASK, i
    cdef int t = <int>(e >> SWP_TYPE_SHIFT)
    cdef bint all_only = True
    for i in range(off, off + nr):
        if dv.swap_map[i] != SWAP_HAS_CACHE:
            all_only = False
    d.st.cluster_locks += 1
    if all_only:
        free_run(d, t, dv, off, nr)
        return 0
    for i in range(off, off + nr):
        dv.swap_map[i] &= ~SWAP_HAS_CACHE
        if dv.swap_map[i] == 0:
            free_run(d, t, dv, i, 1)
    return 0


cdef uint64_t direct_in_use(void* ctx, uint64_t e) noexcept nogil:
    cdef direct_dev_t* dv = dev_of(<direct_t*>ctx, e)
    return (dv.si != NULL and (e & SWP_OFFSET_MASK) < dv.max
            and dv.swap_map[e & SWP_OFFSET_MASK] != 0)


cdef uint64_t direct_swap_count(void* ctx, uint64_t e) noexcept nogil:
    return direct_count(dev_of(<direct_t*>ctx, e), e & SWP_OFFSET_MASK)


cdef int direct_swapoff_slot(void* ctx, uint64_t e, uint64_t unused) except -1 nogil:
    """try_to_unuse's last pass: a slot still in use holds only the swap cache; drop it."""
    cdef direct_t* d = <direct_t*>ctx
    cdef direct_dev_t* dv = dev_of(d, e)
    cdef uint64_t off = e & SWP_OFFSET_MASK
    d.st.scans += 1
    if dv.swap_map[off] == 0:
        return 0
    d.st.cluster_locks += 1
    if tb_read(d, dv, off) & TB_VALUE:
        tb_write(d, dv, off, 0)
    free_run(d, <int>(e >> SWP_TYPE_SHIFT), dv, off, 1)
    return 0


cdef slot_cores DIRECT_CORES = slot_cores_table(
    direct_swap_duplicate, direct_swap_free_nr, direct_free_swap_and_cache_nr, direct_zero_store,
    direct_zswap_store, direct_writeback, direct_swapcache_prepare, direct_swap_cache_add_folio,
    direct_swap_cache_del_folio, direct_put_swap_folio, direct_in_use, direct_swap_count,
    direct_lookup, direct_swapoff_slot)
cdef swap_ops DIRECT_OPS = slot_ops_table()


# no_gc_clear: __dealloc__ restores each device's reclaim hook, so the
# references to the devices must survive a garbage-collector pass.
@cython.no_gc_clear
cdef class DirectSwap(SwapDesign):
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

    def __cinit__(self):
        memset(&self.d, 0, sizeof(direct_t))
        self._ctx = <void*>&self.d
        self._reclaim = direct_reclaim
        self._cache_only = NULL          # the allocator tests SWAP_TABLE_CACHE_ONLY itself
        self._ops = <void*>&DIRECT_OPS
        self._cores = &DIRECT_CORES

    def __init__(self, swaps):
        self._claim(swaps)               # ValueError if another design holds the set
        self._sync_devices()

    def __dealloc__(self):
        self._release_devices()

    cdef void _drop_devices(self) noexcept:
        cdef int t
        for t in range(MAX_SWAPFILES):
            if self.d.devs[t].si != NULL:
                dev_release(&self.d.devs[t])

    cdef int _attach(self, int t, SwapDevice dev) except -1:
        """Allocate the device's swap_map, swap_cgroup, zeromap and continuation index."""
        cdef swap_device_t* si = &dev.si
        cdef direct_dev_t nd
        memset(&nd, 0, sizeof(direct_dev_t))
        xa_init(&nd.zswap.xa)
        nd.si = si
        nd.max = si.max
        nd.nr_map_pages = (si.max + (1 << SWAP_MAP_PAGE_SHIFT) - 1) >> SWAP_MAP_PAGE_SHIFT
        try:
            nd.swap_map = <uint8_t*>checked_calloc(si.max, 1)
            nd.swap_cgroup = <uint16_t*>checked_calloc(si.max, sizeof(uint16_t))
            nd.zeromap = <uint64_t*>checked_calloc((si.max + 63) >> 6, sizeof(uint64_t))
            nd.cont = <uint8_t**>checked_calloc(nd.nr_map_pages * SWAP_CONT_LEVELS,
                                                 sizeof(uint8_t*))
            SwapDesign._attach(self, t, dev)
        except BaseException:
            dev_release(&nd)
            raise
        self.d.devs[t] = nd
        return 0

    cdef direct_dev_t* _range(self, uint64_t e, uint64_t nr, bint aligned) except NULL:
        """The device of entries ``e .. e+nr-1``; ValueError if they are not a valid run."""
        cdef uint64_t t = e >> SWP_TYPE_SHIFT
        cdef direct_dev_t* dv = &self.d.devs[t if t < MAX_SWAPFILES else 0]
        slot_check_range(self, e, nr, aligned, dv.si if t < MAX_SWAPFILES else NULL, dv.max)
        return dv

    cdef direct_dev_t* _used(self, object entry, object nr, int mode, bint need_count,
                             uint64_t* pe, uint64_t* pn) except NULL:
        """Validate a request on allocated entries; the device, ``*pe`` entry, ``*pn`` count.

        ``mode`` 0: ``nr`` entries; 1: ``nr`` is an order (an aligned run);
        2: one entry. NoEntry if one is free (or has count 0 when
        ``need_count``).
        """
        cdef uint64_t e = self._entry(entry), n = 1, bad
        cdef direct_dev_t* dv
        if mode == 0:
            n = self._nr(nr)
        elif mode == 1:
            n = self._order(nr)
        dv = self._range(e, n, mode == 1)
        if check_used(dv, e & SWP_OFFSET_MASK, n, need_count, &bad):
            slot_error(DS_ENOENT, <int>(e >> SWP_TYPE_SHIFT), bad,
                      "is free or has a swap count of 0" if need_count else "")
        pe[0] = e
        pn[0] = n
        return dv

    cdef uint64_t _entry(self, object entry) except? 0xFFFFFFFFFFFFFFFF:
        return to_u64(entry, <uint64_t>1 << 63, "swap entry")

    cdef uint64_t _nr(self, object nr) except? 0xFFFFFFFFFFFFFFFF:
        return to_u64(nr, <uint64_t>1 << SWP_TYPE_SHIFT, "nr")

    cdef uint64_t _order(self, object order) except? 0xFFFFFFFFFFFFFFFF:
        return <uint64_t>1 << to_u64(order, 10, "order")

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

    cdef int _alloc_prepare(self, object order, object memcg, object cpu,
                            uint64_t* nr, uint64_t* m, uint64_t* c) except -1:
        nr[0] = self._order(order)
        m[0] = to_u64(memcg, 65536, "memcg")
        c[0] = to_u64(cpu, NR_CPUS, "cpu")
        self._sync_devices()
        if self._cluster_size and nr[0] > self._cluster_size:
            raise ValueError(f"order {nr[0].bit_length() - 1} is larger than a cluster")
        return 0

    cdef uint64_t _alloc_one(self, uint64_t folio, uint64_t nr, uint16_t memcg, int cpu) except? 0xFFFFFFFFFFFFFFFF:
        cdef swap_device_t* si = NULL
        cdef uint64_t off = 0, i, w
        cdef direct_dev_t* dv
        cdef int order = 0
        while (<uint64_t>1 << order) < nr:
            order += 1
        swap_alloc_set(&self._swaps.g, order, cpu, &si, &off)
        if off == 0:
            return 0
        dv = &self.d.devs[si.type]
        self.d.st.cluster_locks += 1
        w = swap_cache_folio(folio, order)
        for i in range(off, off + nr):
            dv.swap_map[i] = SWAP_HAS_CACHE
            dv.swap_cgroup[i] = memcg
            tb_write(&self.d, dv, i, w)
        return swp_entry(si.type, off)

    cdef uint64_t _alloc_entry(self, uint64_t folio, uint64_t nr, uint64_t m,
                               uint64_t c) except? 0xFFFFFFFFFFFFFFFF:
        return self._alloc_one(folio, nr, <uint16_t>m, <int>c)

    cdef int _dup_entry(self, uint64_t e) except -1:
        return direct_swap_duplicate(&self.d, e, 1)

    cdef int _free_entry(self, uint64_t e) except -1:
        self.d.st.cluster_locks += 1
        put_range(&self.d, <int>(e >> SWP_TYPE_SHIFT), &self.d.devs[e >> SWP_TYPE_SHIFT],
                  e & SWP_OFFSET_MASK, (e & SWP_OFFSET_MASK) + 1)
        return 0

    cdef int _zswap_entry(self, uint64_t e, uint64_t handle) except -1:
        return direct_zswap_store(&self.d, e, handle)

    cdef bint _run_may_grow(self, uint64_t e, uint64_t k) noexcept:
        return (e & SWP_OFFSET_MASK) + k < self.d.devs[e >> SWP_TYPE_SHIFT].max

    cdef int _fsc_entries(self, uint64_t e, uint64_t nr) except -1:
        return direct_free_swap_and_cache_nr(&self.d, e, nr)

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
        cdef uint64_t off = e & SWP_OFFSET_MASK
        cdef int t = <int>(e >> SWP_TYPE_SHIFT)
        for i in range(off, off + n):
            if direct_count(dv, i) >= COUNT_LIMIT:
                slot_error(DS_EOVERFLOW, t, i)
        direct_swap_duplicate(&self.d, e, n)

    cdef int _batch_entry(self, uint64_t e, void** cache) except -1:
        cdef uint64_t t = e >> SWP_TYPE_SHIFT, off = e & SWP_OFFSET_MASK
        if e >> 63:
            raise ValueError(f"swap entry {e:#x} is outside 0 .. 2**63-1")
        if t >= MAX_SWAPFILES or self.d.devs[t].si == NULL or off >= self.d.devs[t].max:
            self._range(e, 1, False)          # raises the ValueError
        if self.d.devs[t].swap_map[off] == 0:
            slot_error(DS_ENOENT, <int>t, off)
        return 0

    cdef int _batch_count(self, uint64_t e, uint64_t k, bint need_count, bint dup,
                          void** cache) except -1:
        cdef uint64_t c = direct_count(&self.d.devs[e >> SWP_TYPE_SHIFT], e & SWP_OFFSET_MASK)
        if dup and c + k > COUNT_LIMIT:
            slot_error(DS_EOVERFLOW, <int>(e >> SWP_TYPE_SHIFT), e & SWP_OFFSET_MASK)
        if need_count and c < k:
            slot_error(DS_ENOENT, <int>(e >> SWP_TYPE_SHIFT), e & SWP_OFFSET_MASK,
                      "has a swap count of 0")
        return 0

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
        direct_swap_free_nr(&self.d, e, n)

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
        direct_free_swap_and_cache_nr(&self.d, e, n)

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
        direct_swapcache_prepare(&self.d, e, n)

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
        first = direct_swap_cache_add_folio(&self.d, e, nr, swap_cache_folio(f, o))
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
        direct_swap_cache_del_folio(&self.d, e, nr, sw)

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
        w = tb_read(&self.d, dv, e & SWP_OFFSET_MASK) & TB_VALUE
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
        w = tb_read(&self.d, dv, e & SWP_OFFSET_MASK) & TB_VALUE
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
        direct_put_swap_folio(&self.d, e, nr)

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
        k = direct_lookup(&self.d, e, &h)
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
        direct_zero_store(&self.d, e, n)

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
        direct_zswap_store(&self.d, e, h)

    def zswap_load(self, entry):
        """The zswap handle of ``entry``, or None (``zswap_load``; the copy stays).

        Runtime complexity: O(tree height).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> ds.zswap_load(ds.folio_alloc_swap(1)) is None
        True
        """
        cdef uint64_t e, n
        cdef direct_dev_t* dv = self._used(entry, None, 2, False, &e, &n)
        cdef uint64_t h
        if zswap_tree_find(&dv.zswap, &self.d.st.zswap_walks, e & SWP_OFFSET_MASK, &h, False):
            return h
        return None

    def zswap_invalidate(self, entry):
        """Drop the zswap copy of ``entry``; its handle or None (``zswap_invalidate``).

        Runtime complexity: O(tree height).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = ds.folio_alloc_swap(1); ds.zswap_store(e, 3); ds.zswap_invalidate(e), ds.zswap_load(e)
        (3, None)
        """
        cdef uint64_t e, n, h = 0
        cdef direct_dev_t* dv = self._used(entry, None, 2, False, &e, &n)
        if zswap_tree_find(&dv.zswap, &self.d.st.zswap_walks, e & SWP_OFFSET_MASK, &h, True):
            return h
        return None

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
        direct_writeback(&self.d, e, nr)
        return e

    # -- device-level verbs ----------------------------------------------------------------

    cdef direct_dev_t* _device(self, object device) except NULL:
        cdef uint64_t t = to_u64(device, MAX_SWAPFILES, "device type")
        self._check_open()
        if self.d.devs[t].si == NULL:
            raise ValueError(f"device type {t} is not attached to this design")
        return &self.d.devs[t]

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
        cdef direct_dev_t* dv = self._device(device)
        return swap_reclaim_full_clusters(dv.si, True)

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
        cdef direct_dev_t* dv = self._device(device)
        return slot_swapoff(self, <int>(dv - &self.d.devs[0]), dv.max, page_tables,
                            &self.d.st.pte_walked)

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
        for t in range(MAX_SWAPFILES):
            dv = &self.d.devs[t]
            if dv.si == NULL:
                continue
            out["swap_map"] += dv.max
            out["swap_cgroup"] += 2 * dv.max
            out["zeromap"] += 8 * ((dv.max + 63) // 64)
            out["cluster_info"] += 32 * dv.si.nr_clusters
            out["swap_table"] += 8 * dv.si.nr_tables * dv.si.cluster_size
            out["continuation"] += 4096 * dv.nr_cont_pages
            out["zswap_tree"] += 8 * dv.zswap.nr
        out["total"] = sum(out.values())
        return out

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
        self._check_open()
        errors = []
        cdef int t
        cdef direct_dev_t* dv
        cdef uint64_t off, w, n, base, i, nz = 0, c
        cdef uint8_t m
        for t in range(MAX_SWAPFILES):
            dv = &self.d.devs[t]
            if dv.si == NULL:
                continue
            if dv.si.reclaim != direct_reclaim or dv.si.reclaim_ctx != <void*>&self.d:
                errors.append(f"type {t}: reclaim hook is not this design's")
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
                w &= TB_VALUE
                if swap_cache_is_folio(w):
                    if not (m & SWAP_HAS_CACHE):
                        errors.append(f"{t}:{off}: folio cached without SWAP_HAS_CACHE")
                    n = <uint64_t>1 << swap_cache_order(w)
                    if n > dv.si.cluster_size:
                        errors.append(f"{t}:{off}: folio order {swap_cache_order(w)} > cluster")
                        continue
                    base = off & ~(n - 1)
                    for i in range(base, base + n):
                        if swap_table_get(dv.si, i) & TB_VALUE != w:
                            errors.append(f"{t}:{off}: folio run at {base} broken at {i}")
                            break
                if dv.zswap.nr and xa_load(&dv.zswap.xa, off) != 0:
                    nz += 1
        total = sum(self.d.devs[t].zswap.nr for t in range(MAX_SWAPFILES))
        in_trees = sum(self.d.devs[t].zswap.xa.nr_entries for t in range(MAX_SWAPFILES))
        if nz != total or total != in_trees:
            errors.append(f"zswap: {nz} found on used slots, {total} counted, "
                          f"{in_trees} in the trees")
        if errors:
            raise AssertionError("DirectSwap invariant violated:\n  " + "\n  ".join(errors[:20]))
        self._swaps.check()

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
        cdef int t
        cdef direct_dev_t* dv
        cdef uint64_t off
        cdef xa_entry z
        self._check_open()
        devices = {}
        for t in range(MAX_SWAPFILES):
            dv = &self.d.devs[t]
            if dv.si == NULL:
                continue
            slots = {}
            for off in range(dv.max):
                if dv.swap_map[off] == 0:
                    continue
                z = xa_load(&dv.zswap.xa, off) if dv.zswap.nr else 0
                slots[off] = (dv.swap_map[off], direct_count(dv, off), swap_table_get(dv.si, off),
                              dv.swap_cgroup[off], int(zero_test(dv, off)),
                              None if z == 0 else xa_to_value(z))
            devices[t] = {"slots": slots, "cont_pages": dv.nr_cont_pages, "nr_zswap": dv.zswap.nr}
        return {"devices": devices, "stats": self.stats, "swaps": self._swaps._state()}

    def __repr__(self):
        return (f"DirectSwap(devices={sum(1 for t in range(MAX_SWAPFILES) if self.d.devs[t].si != NULL)}, "
                f"zswap={sum(self.d.devs[t].zswap.nr for t in range(MAX_SWAPFILES))})")


SwapSpace.register(DirectSwap)
