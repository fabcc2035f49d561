"""What the designs whose swap entry is the physical slot share: the verb table, errors, swapoff.

:class:`~vswap.DirectSwap` (the baseline) and :class:`~vswap.SwapTableP4`
differ in where a slot's count and cache state live, not in the shape of
their verbs. Each publishes the work of its verbs after validation as a
``slot_cores`` table (``_slotswap.pxd``); this module writes once, on top
of that table, the C verb table of the compiled replay, the exceptions of
their C checks and swapoff's validate-then-mutate walk of the page tables.
"""

from cpython.number cimport PyNumber_Index
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free

from vswap._common cimport to_u64
from vswap._mem cimport checked_calloc
from vswap._xarray cimport xa_entry, xa_init, xa_load, xa_to_value
from vswap._swapentry cimport (
    SWP_TYPE_SHIFT, SWP_OFFSET_MASK, MAX_SWAPFILES, NR_CPUS, MEMCG_MAX, VSWAP_ZERO, VSWAP_ZSWAP, VSWAP_SWAPFILE,
    VSWAP_FOLIO, swp_entry, swap_cache_folio, swap_cache_is_folio, swap_cache_folio_id,
    swap_cache_order,
)
from vswap._swapfile cimport (
    SwapDevice, swap_device_t, swap_alloc_set, swap_reclaim_full_clusters, swap_table_get,
    SWP_WRITEOK,
)
from vswap._swapops cimport swap_ops_table, OPS_FREE, OPS_NO_SHADOW

import numpy as np

from vswap.errors import EntryExists, NoEntry, NoSpace, SwapError
from vswap.protocol import check_uint64_array as as_entries

__all__ = []


cdef object slot_error(int err, int t, uint64_t off, str what=""):
    """Raise the exception of a DS_* code for the entry (t, off)."""
    e = swp_entry(t, off)
    if err == DS_ENOENT:
        raise NoEntry(f"swap entry {e:#x} {what or 'is not allocated'}")
    if err == DS_EEXIST:
        raise EntryExists(f"swap entry {e:#x} {what or 'is already in the swap cache'}")
    if err == DS_ENOTPREP:
        raise ValueError(f"swap entry {e:#x} was not prepared by swapcache_prepare")
    if err == DS_EOVERFLOW:
        raise NoSpace(f"swap count of {e:#x} would pass SWAP_COUNT_LIMIT")
    raise ValueError(f"swap entry {e:#x}: {what}")


cdef int slot_check_range(SwapDesign ds, uint64_t e, uint64_t nr, bint aligned,
                          const swap_device_t* si, uint64_t max) except -1:
    """ValueError unless ``e .. e+nr-1`` is a run on device ``si`` (NULL: the type names no
    device of the design) of ``max`` slots; with ``aligned``, a folio's: within a cluster and
    aligned to ``nr``. RuntimeError on a closed or uninitialised design."""
    cdef uint64_t off = e & SWP_OFFSET_MASK
    ds._check_open()
    if si == NULL:
        raise ValueError(f"swap entry {e:#x}: type {e >> SWP_TYPE_SHIFT} names no device of "
                         "this design")
    if nr == 0:
        raise ValueError("nr must be at least 1")
    if off >= max or nr > max - off:
        raise ValueError(f"swap entry {e:#x}: {nr} entries pass the device end {max}")
    if aligned:
        if nr > si.cluster_size:
            raise ValueError(f"order {nr.bit_length() - 1} is larger than a cluster")
        if off & (nr - 1):
            raise ValueError(f"swap entry {e:#x} is not aligned to {nr} entries")
    return 0


# --- the walks: the verbs' work after validation, on the designs' hooks -------------
# The slot_cores every slot design publishes (slot_cores_of_hooks): each runs on
# the common heads (slot_state_t, slot_dev_t) and asks the design's slot_hooks
# what differs. Counters: slot_stats's, the same in each design.

cdef inline slot_dev_t* dev_of(void* d, uint64_t e) noexcept nogil:
    return slot_state(d).h.dev(d, e >> SWP_TYPE_SHIFT)


cdef void slot_free_run(void* d, slot_dev_t* dv, uint64_t off, uint64_t nr) noexcept nogil:
    """swap_entries_free: ``nr`` slots of one cluster, count 0, uncached; zswap copies dropped."""
    cdef slot_state_t* s = slot_state(d)
    cdef uint64_t i, h
    s.h.clear_slots(d, dv, off, nr)
    for i in range(off, off + nr):
        zswap_tree_find(&dv.zswap, &s.st.zswap_walks, i, &h, True)
    s.st.slots_freed += nr
    slot_entries_free(dv.si, off, nr)


cdef bint slot_put_range(void* d, slot_dev_t* dv, uint64_t cur, uint64_t end) noexcept nogil:
    """swap_entry_put_locked on each slot of one cluster chunk; the frees batched.

    True if a slot became cache-only.
    """
    cdef const slot_hooks* h = slot_state(d).h
    cdef uint64_t i, run = 0, nrun = 0
    cdef bint only_cache = False
    cdef uint64_t put
    for i in range(cur, end):
        put = h.put_one(d, dv, i)
        if put == SLOT_PUT_FREE:
            if nrun == 0:
                run = i
            nrun += 1
            continue
        if nrun:
            slot_free_run(d, dv, run, nrun)
            nrun = 0
        if put == SLOT_PUT_CACHE:
            only_cache = True
    if nrun:
        slot_free_run(d, dv, run, nrun)
    return only_cache


cdef int slot_try_to_reclaim_swap(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil:
    """__try_to_reclaim_swap: free the cached folio at ``off`` if all its counts are 0.

    Returns the folio's pages when freed, minus them when kept, 0 with no folio.
    """
    cdef slot_state_t* s = slot_state(d)
    cdef uint64_t w, n, base, i
    s.st.cluster_locks += 1
    w = slot_read(d, dv, off) & s.h.payload
    if not swap_cache_is_folio(w):
        return 0
    n = <uint64_t>1 << swap_cache_order(w)
    if n > dv.si.cluster_size:             # not a word this design wrote (set_table)
        return 0
    base = off & ~(n - 1)
    for i in range(base, base + n):
        if not s.h.only_in_cache(d, dv, i):
            return -<int>n
    for i in range(base, base + n):        # folio_free_swap: delete, no shadow
        slot_write(d, dv, i, 0)
    slot_free_run(d, dv, base, n)          # put_swap_folio: all cache-only
    s.st.folios_reclaimed += 1
    return <int>n


cdef int slot_reclaim(void* ctx, swap_device_t* si, uint64_t offset) noexcept nogil:
    """The allocator's reclaim hook (TTRS_ANYWAY), for a design whose state is ``ctx``."""
    cdef slot_dev_t* dv
    if si.type < 0 or si.type >= MAX_SWAPFILES:
        return 0
    dv = slot_state(ctx).h.dev(ctx, si.type)
    if dv.si != si or offset >= dv.max or not slot_state(ctx).h.in_use(ctx, dv, offset):
        return 0
    return slot_try_to_reclaim_swap(ctx, dv, offset)


cdef int slot_check_used(void* d, slot_dev_t* dv, uint64_t off, uint64_t nr, bint need_count,
                         uint64_t* bad) noexcept nogil:
    """0, or DS_ENOENT with ``*bad`` the first free (or count-0 when need_count) slot."""
    cdef const slot_hooks* h = slot_state(d).h
    cdef uint64_t i
    for i in range(off, off + nr):
        if not h.in_use(d, dv, i) or (need_count and h.count(d, dv, i) == 0):
            bad[0] = i
            return DS_ENOENT
    return 0


cdef int core_free_swap_and_cache_nr(void* d, uint64_t e, uint64_t nr) except -1 nogil:
    """free_swap_and_cache_nr after validation: the zap, then reclaim of what became cache-only."""
    cdef slot_state_t* s = slot_state(d)
    cdef slot_dev_t* dv = dev_of(d, e)
    cdef uint64_t off = e & SWP_OFFSET_MASK
    cdef uint64_t cur = off, end = off + nr, ce, step
    cdef bint any_only_cache = False
    cdef int r
    while cur < end:
        ce = slot_chunk_end(dv, cur, end)
        s.st.cluster_locks += 1
        r = s.h.fast_chunk(d, dv, cur, ce)
        if r >= 0:
            s.st.fast_frees += 1
            if r:
                s.h.mark_cache_only(d, dv, cur, ce)
                any_only_cache = True
            else:
                slot_free_run(d, dv, cur, ce - cur)
        elif slot_put_range(d, dv, cur, ce):
            any_only_cache = True
        cur = ce
    if not any_only_cache:
        return 0
    cur = off
    while cur < end:
        s.st.scans += 1
        step = 1
        if s.h.only_in_cache(d, dv, cur):
            r = slot_try_to_reclaim_swap(d, dv, cur)
            if r < 0:
                r = -r
            if r > 0:
                step = ((cur + <uint64_t>r) & ~(<uint64_t>r - 1)) - cur
        cur += step
    return 0


cdef int core_swap_duplicate(void* d, uint64_t e, uint64_t nr) except -1 nogil:
    """swap_duplicate after the limit check: what the counts need first (MemoryError, no change)."""
    cdef slot_state_t* s = slot_state(d)
    cdef slot_dev_t* dv = dev_of(d, e)
    cdef uint64_t off = e & SWP_OFFSET_MASK, i, cur = off, ce, end = off + nr
    for i in range(off, end):
        s.h.count_room(d, dv, i, s.h.count(d, dv, i) + 1)
    while cur < end:
        ce = slot_chunk_end(dv, cur, end)
        s.st.cluster_locks += 1
        for i in range(cur, ce):
            s.h.dup_one(d, dv, i)
        cur = ce
    return 0


cdef int core_swap_free_nr(void* d, uint64_t e, uint64_t n) except -1 nogil:
    """swap_free_nr: one count off each slot, a cluster-locked section per cluster."""
    cdef slot_state_t* s = slot_state(d)
    cdef slot_dev_t* dv = dev_of(d, e)
    cdef uint64_t cur = e & SWP_OFFSET_MASK, ce, end = cur + n
    while cur < end:
        ce = slot_chunk_end(dv, cur, end)
        s.st.cluster_locks += 1
        slot_put_range(d, dv, cur, ce)
        cur = ce
    return 0


cdef int core_swapcache_prepare(void* d, uint64_t e, uint64_t n) except -1 nogil:
    """The swap cache takes each slot, a locked section per cluster."""
    cdef slot_state_t* s = slot_state(d)
    cdef slot_dev_t* dv = dev_of(d, e)
    cdef uint64_t i, cur = e & SWP_OFFSET_MASK, ce, end = cur + n
    while cur < end:
        ce = slot_chunk_end(dv, cur, end)
        s.st.cluster_locks += 1
        for i in range(cur, ce):
            s.h.pin(d, dv, i)
        cur = ce
    return 0


cdef uint64_t core_swap_cache_add_folio(void* d, uint64_t e, uint64_t nr,
                                        uint64_t word) noexcept nogil:
    """Store the folio ``word`` on prepared slots; the first slot's old swap-cache word."""
    cdef slot_state_t* s = slot_state(d)
    cdef slot_dev_t* dv = dev_of(d, e)
    cdef uint64_t off = e & SWP_OFFSET_MASK, i, w, first = 0
    s.st.cluster_locks += 1
    for i in range(off, off + nr):
        w = slot_read(d, dv, i)
        if i == off:
            first = w & s.h.payload
        slot_write(d, dv, i, (w & ~s.h.payload) | word)
    return first


cdef uint64_t core_swap_cache_del_folio(void* d, uint64_t e, uint64_t nr,
                                        uint64_t shadow_word) noexcept nogil:
    cdef slot_state_t* s = slot_state(d)
    cdef slot_dev_t* dv = dev_of(d, e)
    cdef uint64_t i
    s.st.cluster_locks += 1
    for i in range(e & SWP_OFFSET_MASK, (e & SWP_OFFSET_MASK) + nr):
        slot_write(d, dv, i, (slot_read(d, dv, i) & ~s.h.payload) | shadow_word)
    return 0


cdef int core_put_swap_folio(void* d, uint64_t e, uint64_t nr) except -1 nogil:
    """put_swap_folio: uncache; slots left with count 0 are freed (one batch when all are)."""
    cdef slot_state_t* s = slot_state(d)
    cdef slot_dev_t* dv = dev_of(d, e)
    cdef uint64_t off = e & SWP_OFFSET_MASK, i
    cdef bint all_only = True
    for i in range(off, off + nr):
        if s.h.count(d, dv, i):
            all_only = False
    s.st.cluster_locks += 1
    if all_only:
        slot_free_run(d, dv, off, nr)
        return 0
    for i in range(off, off + nr):
        s.h.unpin(d, dv, i)
    return 0


cdef int core_lookup(void* d, uint64_t e, uint64_t* handle) noexcept nogil:
    """Where swap-in finds an allocated slot's data (a LOOKUP_KINDS code)."""
    cdef slot_state_t* s = slot_state(d)
    cdef slot_dev_t* dv = dev_of(d, e)
    cdef uint64_t off = e & SWP_OFFSET_MASK
    cdef uint64_t w = slot_read(d, dv, off)
    if swap_cache_is_folio(w & s.h.payload):
        handle[0] = swap_cache_folio_id(w & s.h.payload)
        return VSWAP_FOLIO
    if s.h.is_zero(d, dv, off):
        handle[0] = 0
        return VSWAP_ZERO
    if zswap_tree_find(&dv.zswap, &s.st.zswap_walks, off, handle, False):
        return VSWAP_ZSWAP
    handle[0] = e
    return VSWAP_SWAPFILE


cdef int core_zswap_store(void* d, uint64_t e, uint64_t h) except -1 nogil:
    cdef slot_dev_t* dv = dev_of(d, e)
    zswap_tree_store(&dv.zswap, &slot_state(d).st.zswap_walks, e & SWP_OFFSET_MASK, h)
    slot_state(d).h.zero_clear(d, dv, e & SWP_OFFSET_MASK)
    return 0


cdef int core_zero_store(void* d, uint64_t e, uint64_t n) except -1 nogil:
    cdef slot_state_t* s = slot_state(d)
    cdef slot_dev_t* dv = dev_of(d, e)
    cdef uint64_t i, h
    for i in range(e & SWP_OFFSET_MASK, (e & SWP_OFFSET_MASK) + n):
        s.h.zero_set(d, dv, i)
        zswap_tree_find(&dv.zswap, &s.st.zswap_walks, i, &h, True)
    return 0


cdef int core_writeback(void* d, uint64_t e, uint64_t n) except -1 nogil:
    cdef slot_state_t* s = slot_state(d)
    cdef slot_dev_t* dv = dev_of(d, e)
    cdef uint64_t i, h
    for i in range(e & SWP_OFFSET_MASK, (e & SWP_OFFSET_MASK) + n):
        s.h.zero_clear(d, dv, i)
        zswap_tree_find(&dv.zswap, &s.st.zswap_walks, i, &h, True)
    return 0


cdef uint64_t core_in_use(void* d, uint64_t e) noexcept nogil:
    cdef slot_dev_t* dv = dev_of(d, e)
    return (dv.si != NULL and (e & SWP_OFFSET_MASK) < dv.max
            and slot_state(d).h.in_use(d, dv, e & SWP_OFFSET_MASK) != 0)


cdef uint64_t core_swap_count(void* d, uint64_t e) noexcept nogil:
    return slot_state(d).h.count(d, dev_of(d, e), e & SWP_OFFSET_MASK)


cdef int core_swapoff_slot(void* d, uint64_t e, uint64_t unused) except -1 nogil:
    """try_to_unuse's last pass: a slot still in use is held by the swap cache alone; drop it."""
    cdef slot_state_t* s = slot_state(d)
    cdef slot_dev_t* dv = dev_of(d, e)
    cdef uint64_t off = e & SWP_OFFSET_MASK
    s.st.scans += 1
    if not s.h.in_use(d, dv, off):
        return 0
    s.st.cluster_locks += 1
    if slot_read(d, dv, off) & s.h.payload:
        slot_write(d, dv, off, 0)
    slot_free_run(d, dv, off, 1)
    return 0


cdef slot_cores CORES = slot_cores_table(
    core_swap_duplicate, core_swap_free_nr, core_free_swap_and_cache_nr, core_zero_store,
    core_zswap_store, core_writeback, core_swapcache_prepare, core_swap_cache_add_folio,
    core_swap_cache_del_folio, core_put_swap_folio, core_in_use, core_swap_count, core_lookup,
    core_swapoff_slot)


cdef const slot_cores* slot_cores_of_hooks() noexcept:
    """The slot_cores of every design whose state starts with a slot_state_t."""
    return &CORES


# --- the C protocol of the compiled replay (vswap/_swapops.pxd) ---------------------
# Each function does what the design's method of the same name does after its
# checks, through the design's slot_cores.

cdef inline const slot_cores* cores(void* space) noexcept:
    return <const slot_cores*>(<SwapDesign>space)._cores


cdef inline void* state(void* space) noexcept:
    return (<SwapDesign>space)._ctx


cdef int sops_alloc(void* space, uint64_t folio, int order, uint16_t memcg, int cpu,
                    uint64_t* entry) except -1:
    cdef SwapDesign ds = <SwapDesign>space
    cdef uint64_t e
    ds._check_open()
    if ds._cluster_size and (<uint64_t>1 << order) > ds._cluster_size:
        return 1
    e = ds._alloc_entry(folio, <uint64_t>1 << order, memcg, cpu)
    if e == 0:
        return 1
    entry[0] = e
    return 0


cdef int sops_dup(void* space, uint64_t e, uint64_t nr, int cpu) except -1:
    return cores(space).swap_duplicate(state(space), e, nr)


cdef int sops_free(void* space, uint64_t e, uint64_t nr, int cpu) except -1:
    return cores(space).swap_free_nr(state(space), e, nr)


cdef int sops_fsc(void* space, uint64_t e, uint64_t nr, int cpu) except -1:
    return cores(space).free_swap_and_cache_nr(state(space), e, nr)


cdef int sops_zero(void* space, uint64_t e, uint64_t nr, int cpu) except -1:
    return cores(space).zero_store(state(space), e, nr)


cdef int sops_zswap(void* space, uint64_t e, uint64_t handle, int cpu) except -1:
    return cores(space).zswap_store(state(space), e, handle)


cdef int sops_writeback(void* space, uint64_t e, int order, uint64_t arg, int cpu) except -1:
    return cores(space).writeback(state(space), e, <uint64_t>1 << order)


cdef int sops_swapin(void* space, uint64_t e, int order, uint64_t folio, int cpu) except -1:
    cdef const slot_cores* c = cores(space)
    c.swapcache_prepare(state(space), e, <uint64_t>1 << order)
    c.swap_cache_add_folio(state(space), e, <uint64_t>1 << order, swap_cache_folio(folio, order))
    return 0


cdef int sops_reclaim(void* space, uint64_t e, int order, uint64_t shadow, int cpu) except -1:
    cdef const slot_cores* c = cores(space)
    c.swap_cache_del_folio(state(space), e, <uint64_t>1 << order,
                           0 if shadow == OPS_NO_SHADOW else (shadow << 1) | 1)
    return c.put_swap_folio(state(space), e, <uint64_t>1 << order)


cdef int sops_lookup(void* space, uint64_t e, int cpu, uint64_t* handle) except -1:
    cdef const slot_cores* c = cores(space)
    if not c.in_use(state(space), e):
        return OPS_FREE
    return c.lookup(state(space), e, handle)


cdef swap_ops slot_ops_table() noexcept:
    """The verb table of a design with slot_cores (its __vswap_ops__)."""
    return swap_ops_table(sops_alloc, sops_dup, sops_free, sops_fsc, sops_zero, sops_zswap,
                          sops_writeback, sops_swapin, sops_reclaim, sops_lookup)


# --- the array verbs ------------------------------------------------------------------

cdef tuple slot_lookup_many(SwapDesign ds, object entries):
    """``lookup_many``: every entry validated first, then one C loop; ``(kinds, handles)``."""
    arr = ds._check_batch(entries, False, False)
    cdef const slot_cores* c = <const slot_cores*>ds._cores
    cdef const uint64_t[:] v = arr
    cdef Py_ssize_t i, n = v.shape[0]
    kinds = np.empty(n, dtype=np.uint8)
    handles = np.empty(n, dtype=np.uint64)
    cdef uint8_t[::1] kv = kinds
    cdef uint64_t[::1] hv = handles
    for i in range(n):
        kv[i] = <uint8_t>c.lookup(ds._ctx, v[i], &hv[i])
    return kinds, handles


# --- swapoff: validate every PTE, then unuse ------------------------------------------

cdef Py_ssize_t slot_swapoff(SwapDesign ds, int t, uint64_t max, object page_tables,
                             uint64_t* pte_walked) except -1:
    """``swapoff`` + ``try_to_unuse`` of device ``t`` (``max`` slots) for a design with no
    reverse map: the contract of :meth:`vswap.DirectSwap.swapoff`. Returns the PTEs rewritten.
    """
    cdef const slot_cores* c = <const slot_cores*>ds._cores
    cdef void* d = ds._ctx
    cdef uint64_t off, e, cnt
    cdef Py_ssize_t k, n, nhits = 0
    cdef bint is_array = isinstance(page_tables, np.ndarray)
    cdef uint32_t* refs = NULL
    cdef uint64_t[:] av
    if is_array:
        as_entries(page_tables, "page_tables")
        if not page_tables.flags.writeable:
            raise ValueError("page_tables array is read-only")
        av = page_tables
        n = av.shape[0]
    else:
        if not hasattr(page_tables, "items") or not hasattr(page_tables, "__delitem__"):
            raise TypeError("page_tables must be a mapping {vpn: entry} or a uint64 array")
        items = list(page_tables.items())
        n = len(items)
    hits = []
    refs = <uint32_t*>checked_calloc(max, sizeof(uint32_t))
    try:
        # Validation walk: count the references each slot gets from the PTEs.
        for k in range(n):
            if is_array:
                e = av[k]
                if e == 0:
                    continue
            else:
                vpn, pe = items[k]
                if type(pe) is not int:
                    pe = PyNumber_Index(pe)
                if pe <= 0 or pe >= (1 << 63):
                    continue
                e = pe
            if (e >> SWP_TYPE_SHIFT) != <uint64_t>t:
                continue
            off = e & SWP_OFFSET_MASK
            if off >= max or not c.in_use(d, e):
                slot_error(DS_ENOENT, t, off if off < max else 0,
                           "in the page tables is not allocated")
            if refs[off] < 0xFFFFFFFF:                # saturates: never wraps
                refs[off] += 1
            if not is_array:
                hits.append((vpn, e))
            nhits += 1
        for off in range(max):
            e = swp_entry(t, off)
            if not c.in_use(d, e):
                continue
            cnt = c.swap_count(d, e)
            if refs[off] > cnt:
                slot_error(DS_ENOENT, t, off, f"has {refs[off]} PTEs but a count of {cnt}")
            if refs[off] < cnt:
                raise SwapError(f"swapoff: swap entry {e:#x} has {cnt - refs[off]} "
                                "references the page tables do not hold")
    finally:
        free(refs)
    # Mutation: stop allocation, unuse every PTE (unuse_pte: one count off),
    # then drop what the swap cache holds.
    pte_walked[0] += n
    dev = ds._swaps[t]
    if (<SwapDevice>dev).si.flags & SWP_WRITEOK:
        ds._swaps.swapoff(dev)
    if is_array:
        for k in range(n):
            e = av[k]
            if e != 0 and (e >> SWP_TYPE_SHIFT) == <uint64_t>t:
                av[k] = 0
                c.swap_free_nr(d, e, 1)
    else:
        for vpn, e in hits:                           # the validated entries, not a re-read
            del page_tables[vpn]
            c.swap_free_nr(d, e, 1)
    for off in range(max):
        c.swapoff_slot(d, swp_entry(t, off), 1)
    return nhits


# --- the designs' class ------------------------------------------------------------------

cdef class SlotSwap(SwapDesign):
    """What the designs whose entry is the physical slot do alike (DirectSwap, SwapTableP4).

    Argument checks, validation against the design's hooks, the per-entry
    work of the ``*_many`` verbs, the zswap tree and the check epilogue;
    the design keeps only where a slot's state lives. Not a design itself.
    Runtime complexity: as the subclasses' methods say.

    >>> from vswap import DirectSwap, SwapTableP4, SwapDevices
    >>> from vswap._slotswap import SlotSwap
    >>> isinstance(DirectSwap(SwapDevices()), SlotSwap), issubclass(SwapTableP4, SlotSwap)
    (True, True)
    """

    def __init__(self, swaps):
        if self._ctx == NULL:
            raise TypeError(f"{type(self).__name__} is not a design: DirectSwap or SwapTableP4 is")
        self._claim(swaps)               # ValueError if another design holds the set
        self._sync_devices()

    cdef slot_dev_t* _sdev(self, uint64_t t) noexcept:
        return slot_state(self._ctx).h.dev(self._ctx, t)

    cdef slot_dev_t* _srange(self, uint64_t e, uint64_t nr, bint aligned) except NULL:
        """The device of entries ``e .. e+nr-1``; ValueError if they are not a valid run."""
        cdef uint64_t t = e >> SWP_TYPE_SHIFT
        cdef slot_dev_t* dv
        if self._ctx == NULL:            # never initialised: no hooks
            self._check_open()
        dv = self._sdev(t if t < MAX_SWAPFILES else 0)
        slot_check_range(self, e, nr, aligned, dv.si if t < MAX_SWAPFILES else NULL, dv.max)
        return dv

    cdef slot_dev_t* _sused(self, object entry, object nr, int mode, bint need_count,
                            uint64_t* pe, uint64_t* pn) except NULL:
        """Validate a request on allocated entries; the device, ``*pe`` entry, ``*pn`` count.

        ``mode`` 0: ``nr`` entries; 1: ``nr`` is an order (an aligned run);
        2: one entry. NoEntry if one is free (or has count 0 when
        ``need_count``).
        """
        cdef uint64_t e = self._entry(entry), n = 1, bad
        cdef slot_dev_t* dv
        if mode == 0:
            n = self._nr(nr)
        elif mode == 1:
            n = self._order(nr)
        dv = self._srange(e, n, mode == 1)
        if slot_check_used(self._ctx, dv, e & SWP_OFFSET_MASK, n, need_count, &bad):
            slot_error(DS_ENOENT, <int>(e >> SWP_TYPE_SHIFT), bad,
                       "is free or has a swap count of 0" if need_count else "")
        pe[0] = e
        pn[0] = n
        return dv

    cdef slot_dev_t* _sdevice(self, object device) except NULL:
        cdef uint64_t t = to_u64(device, MAX_SWAPFILES, "device type")
        self._check_open()
        if self._sdev(t).si == NULL:
            raise ValueError(f"device type {t} is not attached to this design")
        return self._sdev(t)

    cdef uint64_t _entry(self, object entry) except? 0xFFFFFFFFFFFFFFFF:
        return to_u64(entry, <uint64_t>1 << 63, "swap entry")

    cdef uint64_t _nr(self, object nr) except? 0xFFFFFFFFFFFFFFFF:
        return to_u64(nr, <uint64_t>1 << SWP_TYPE_SHIFT, "nr")

    cdef uint64_t _order(self, object order) except? 0xFFFFFFFFFFFFFFFF:
        return <uint64_t>1 << to_u64(order, 10, "order")

    cdef void _drop_devices(self) noexcept:
        cdef int t
        cdef slot_dev_t* dv
        if self._ctx == NULL:
            return
        for t in range(MAX_SWAPFILES):
            dv = self._sdev(t)
            if dv.si != NULL:
                slot_state(self._ctx).h.release(dv)

    cdef int _attach_dev(self, int t, SwapDevice dev) except -1:
        """The design's per-device metadata of ``dev`` (its struct's head is set)."""
        return 0

    cdef int _attach(self, int t, SwapDevice dev) except -1:
        """The device's metadata (``_attach_dev``), then its hooks; all undone on error."""
        cdef slot_dev_t* dv = self._sdev(t)
        xa_init(&dv.zswap.xa)
        dv.si = &dev.si
        dv.max = dev.si.max
        try:
            self._attach_dev(t, dev)
            if not self._hosted:
                SwapDesign._attach(self, t, dev)
            else:
                self._cluster_size = dev.si.cluster_size
        except BaseException:
            slot_state(self._ctx).h.release(dv)
            raise
        return 0

    cdef int _alloc_prepare(self, object order, object memcg, object cpu,
                            uint64_t* nr, uint64_t* m, uint64_t* c) except -1:
        nr[0] = self._order(order)
        m[0] = to_u64(memcg, MEMCG_MAX, "memcg")
        c[0] = to_u64(cpu, NR_CPUS, "cpu")
        self._sync_devices()
        if self._cluster_size and nr[0] > self._cluster_size:
            raise ValueError(f"order {nr[0].bit_length() - 1} is larger than a cluster")
        return 0

    cdef int _alloc_run(self, uint64_t nr, int cpu, slot_dev_t** dv, uint64_t* off) except -1:
        """folio_alloc_swap's slots: ``*off`` 0 when none is free, else ``*dv`` its device.

        Returns the order of the run.
        """
        cdef swap_device_t* si = NULL
        cdef int order = 0
        while (<uint64_t>1 << order) < nr:
            order += 1
        off[0] = 0
        swap_alloc_set(&self._swaps.g, order, cpu, &si, off)
        if off[0]:
            dv[0] = self._sdev(si.type)
            slot_state(self._ctx).st.cluster_locks += 1
        return order

    cdef uint64_t _alloc_one(self, uint64_t folio, uint64_t nr, uint16_t memcg,
                             int cpu) except? 0xFFFFFFFFFFFFFFFF:
        return 0

    cdef uint64_t _alloc_entry(self, uint64_t folio, uint64_t nr, uint64_t m,
                               uint64_t c) except? 0xFFFFFFFFFFFFFFFF:
        return self._alloc_one(folio, nr, <uint16_t>m, <int>c)

    cdef int _dup_entry(self, uint64_t e) except -1:
        return CORES.swap_duplicate(self._ctx, e, 1)

    cdef int _free_entry(self, uint64_t e) except -1:
        slot_state(self._ctx).st.cluster_locks += 1
        slot_put_range(self._ctx, self._sdev(e >> SWP_TYPE_SHIFT), e & SWP_OFFSET_MASK,
                       (e & SWP_OFFSET_MASK) + 1)
        return 0

    cdef int _zswap_entry(self, uint64_t e, uint64_t handle) except -1:
        return CORES.zswap_store(self._ctx, e, handle)

    cdef int _batch_entry(self, uint64_t e, void** cache) except -1:
        cdef uint64_t t = e >> SWP_TYPE_SHIFT, off = e & SWP_OFFSET_MASK
        cdef slot_dev_t* dv
        if e >> 63:
            raise ValueError(f"swap entry {e:#x} is outside 0 .. 2**63-1")
        dv = self._srange(e, 1, False)   # ValueError past the devices
        if not slot_state(self._ctx).h.in_use(self._ctx, dv, off):
            slot_error(DS_ENOENT, <int>t, off)
        return 0

    cdef int _batch_count(self, uint64_t e, uint64_t k, bint need_count, bint dup,
                          void** cache) except -1:
        cdef uint64_t c = CORES.swap_count(self._ctx, e)
        if dup and c + k > self._count_limit:
            slot_error(DS_EOVERFLOW, <int>(e >> SWP_TYPE_SHIFT), e & SWP_OFFSET_MASK)
        if need_count and c < k:
            slot_error(DS_ENOENT, <int>(e >> SWP_TYPE_SHIFT), e & SWP_OFFSET_MASK,
                       "has a swap count of 0")
        return 0

    cdef int _check_dup(self, uint64_t e, uint64_t n) except -1:
        """NoSpace if one more count on ``e .. e+n-1`` passes the design's limit."""
        cdef uint64_t i
        for i in range(e, e + n):
            if CORES.swap_count(self._ctx, i) >= self._count_limit:
                slot_error(DS_EOVERFLOW, <int>(e >> SWP_TYPE_SHIFT), i & SWP_OFFSET_MASK)
        return 0

    cdef object _zswap_find(self, object entry, bint erase):
        """The zswap handle of ``entry`` or None; dropped with ``erase`` (zswap_invalidate)."""
        cdef uint64_t e, n, h = 0
        cdef slot_dev_t* dv = self._sused(entry, None, 2, False, &e, &n)
        if zswap_tree_find(&dv.zswap, &slot_state(self._ctx).st.zswap_walks,
                           e & SWP_OFFSET_MASK, &h, erase):
            return h
        return None

    cdef bint _run_may_grow(self, uint64_t e, uint64_t k) noexcept:
        return (e & SWP_OFFSET_MASK) + k < self._sdev(e >> SWP_TYPE_SHIFT).max

    cdef int _fsc_entries(self, uint64_t e, uint64_t nr) except -1:
        return CORES.free_swap_and_cache_nr(self._ctx, e, nr)

    def reclaim_cache_only(self, device):
        """The work of the designs' ``reclaim_cache_only`` (see :meth:`vswap.DirectSwap.reclaim_cache_only`).

        Runtime complexity: O(full clusters * cluster_size).

        >>> from vswap import SwapTableP4, SwapDevice, SwapDevices
        >>> SwapTableP4(SwapDevices([SwapDevice(16, cluster_size=16)])).reclaim_cache_only(0)
        0
        """
        return swap_reclaim_full_clusters(self._sdevice(device).si, True)

    def swapoff(self, device, page_tables):
        """The work of the designs' ``swapoff`` (see :meth:`vswap.DirectSwap.swapoff`).

        Runtime complexity: O(PTEs + device slots).

        >>> from vswap import DirectSwap, SwapDevice, SwapDevices
        >>> DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)])).swapoff(0, {})
        0
        """
        cdef slot_dev_t* dv = self._sdevice(device)
        return slot_swapoff(self, dv.si.type, dv.max, page_tables,
                            &slot_state(self._ctx).st.pte_walked)

    cdef list _types(self):
        """The device types attached to the design, in order."""
        if self._ctx == NULL:
            return []
        return [t for t in range(MAX_SWAPFILES) if self._sdev(t).si != NULL]

    cdef list _check_begin(self, void* reclaim):
        """check()'s start: the errors so far (each device carries the design's hook)."""
        self._check_open()
        errors = []
        for t in self._types():
            si = self._sdev(t).si
            if not self._hosted and (<void*>si.reclaim != reclaim or si.reclaim_ctx != self._ctx):
                errors.append(f"type {t}: reclaim hook is not this design's")
        return errors

    cdef object _check_end(self, list errors):
        """check()'s end: folio runs and zswap entries of the used slots, then raise or
        check the allocator."""
        cdef const slot_hooks* h = slot_state(self._ctx).h
        cdef slot_dev_t* dv
        cdef uint64_t off, w, n, base, i, nz = 0, total = 0, in_trees = 0
        for t in self._types():
            dv = self._sdev(t)
            total += dv.zswap.nr
            in_trees += dv.zswap.xa.nr_entries
            for off in range(dv.max):
                if not h.in_use(self._ctx, dv, off):
                    continue
                if dv.zswap.nr and xa_load(&dv.zswap.xa, off) != 0:
                    nz += 1
                w = swap_table_get(dv.si, off) & h.payload
                if not swap_cache_is_folio(w):
                    continue
                n = <uint64_t>1 << swap_cache_order(w)
                if n > dv.si.cluster_size:
                    errors.append(f"{t}:{off}: folio order {swap_cache_order(w)} > cluster")
                    continue
                base = off & ~(n - 1)
                for i in range(base, base + n):
                    if swap_table_get(dv.si, i) & h.payload != w:
                        errors.append(f"{t}:{off}: folio run at {base} broken at {i}")
                        break
        if nz != total or total != in_trees:
            errors.append(f"zswap: {nz} found on used slots, {total} counted, "
                          f"{in_trees} in the trees")
        if errors:
            raise AssertionError(f"{type(self).__name__} invariant violated:\n  "
                                 + "\n  ".join(errors[:20]))
        if not self._hosted:           # a host checks its allocator itself
            self._swaps.check()

    cdef dict _footprint_end(self, dict out):
        """memory_footprint's end: ``zswap_tree`` (8 B per stored entry) and ``total``."""
        for t in self._types():
            out["zswap_tree"] += 8 * self._sdev(t).zswap.nr
        out["total"] = sum(out.values())
        return out

    cdef object _snap_slot(self, int t, uint64_t off, object z):
        """snapshot()'s values of a used slot (``z``: its zswap handle or None)."""
        return z

    cdef dict _snap_dev(self, int t):
        """snapshot()'s per-device figures besides the slots and ``nr_zswap``."""
        return {}

    cdef dict _snapshot(self):
        """The whole state as plain values: per attached device its used slots."""
        cdef slot_dev_t* dv
        cdef uint64_t off
        cdef xa_entry z
        self._check_open()
        devices = {}
        for t in self._types():
            dv = self._sdev(t)
            slots = {}
            for off in range(dv.max):
                if slot_state(self._ctx).h.in_use(self._ctx, dv, off):
                    z = xa_load(&dv.zswap.xa, off) if dv.zswap.nr else 0
                    slots[off] = self._snap_slot(t, off, None if z == 0 else xa_to_value(z))
            devices[t] = {"slots": slots, **self._snap_dev(t), "nr_zswap": dv.zswap.nr}
        return {"devices": devices, "stats": self.stats, "swaps": self._swaps._state()}

    def __repr__(self):
        n = sum(1 for t in range(MAX_SWAPFILES) if self._ctx != NULL and self._sdev(t).si != NULL)
        z = sum(self._sdev(t).zswap.nr for t in range(MAX_SWAPFILES)) if self._ctx != NULL else 0
        return f"{type(self).__name__}(devices={n}, zswap={z})"
