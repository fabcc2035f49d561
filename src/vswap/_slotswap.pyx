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

from vswap._mem cimport checked_calloc
from vswap._swapentry cimport SWP_TYPE_SHIFT, SWP_OFFSET_MASK, swp_entry, swap_cache_folio
from vswap._swapfile cimport SwapDevice, swap_device_t, SWP_WRITEOK
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
