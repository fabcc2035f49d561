"""The physical swap slot allocator: mainline Linux 6.19 swap clusters.

This is the compiled model of the cluster allocator of ``mm/swapfile.c``
(Chris Li's per-order cluster lists, Kairui Song's lock rework, global
per-CPU cluster cache and swap table). The C functions below (declared in
``_swapfile.pxd``) work on a bare ``swap_device_t`` (the kernel's
``swap_info_struct``) and a ``swap_globals_t`` (``percpu_swap_cluster``,
``nr_swap_pages``, ``total_swap_pages`` and ``swap_avail_head``);
:class:`SwapDevice` and :class:`SwapDevices` are the thin Python wrappers.
The pure-Python model with the same algorithm and counters is
:mod:`vswap.reference.swapfile`.

The model is single-threaded: every lock of the kernel is uncontended, so
``isolate_lock_cluster`` always takes the head of its list, and the
background works (discard, full-cluster reclaim) run when called.
"""

cimport cython
from cpython.long cimport PyLong_AsLongAndOverflow, PyLong_AsLongLongAndOverflow
from cpython.number cimport PyNumber_Index
from cpython.pycapsule cimport PyCapsule_New
from libc.stdint cimport uint8_t, uint16_t, int32_t, uint32_t, int64_t, uint64_t
from libc.stdlib cimport free
from libc.string cimport memset

from vswap._mem cimport checked_calloc

import numpy as np

from vswap.errors import NoEntry, NoSpace
from vswap.protocol import check_uint64_array

__all__ = ["SwapDevice", "SwapDevices", "SwapDesign", "SWAP_TABLE_CACHE_ONLY", "NR_CPUS",
           "DEF_SWAP_PRIO", "MAX_SWAPFILES"]

#: Bit 63 of a table word: the slot is held only by the swap cache, so the
#: allocator may ask the reclaim hook to release it (vswap v6's
#: ``SWP_RMAP_CACHE_ONLY``; the 6.18 ``swap_map == SWAP_HAS_CACHE`` test).
globals().update(SWAP_TABLE_CACHE_ONLY=SWAP_TABLE_CACHE_ONLY)
# NR_CPUS: CPUs modelled by the per-CPU cluster cache (``cpu`` is 0 .. NR_CPUS-1).
# DEF_SWAP_PRIO: priority swapon gives a device with none (6.19: the same for all).
# MAX_SWAPFILES: devices (swap types) per SwapDevices. All three are C enums
# (_swapfile.pxd), published here as Python ints.
globals().update(NR_CPUS=NR_CPUS, DEF_SWAP_PRIO=DEF_SWAP_PRIO, MAX_SWAPFILES=MAX_SWAPFILES)

_FLAG_NAMES = ("none", "free", "nonfull", "frag", "full", "discard")
_SLOT_NAMES = ("free", "used", "bad")


# --- index-linked cluster lists ------------------------------------------------

cdef inline void clist_init(cluster_list* l) noexcept nogil:
    l.head = -1
    l.tail = -1
    l.nr = 0


cdef inline void clist_add_tail(swap_device_t* si, cluster_list* l, int32_t idx) noexcept nogil:
    cdef swap_cluster_info* ci = &si.cluster_info[idx]
    ci.next = -1
    ci.prev = l.tail
    if l.tail >= 0:
        si.cluster_info[l.tail].next = idx
    else:
        l.head = idx
    l.tail = idx
    l.nr += 1


cdef inline void clist_del(swap_device_t* si, cluster_list* l, int32_t idx) noexcept nogil:
    cdef swap_cluster_info* ci = &si.cluster_info[idx]
    if ci.prev >= 0:
        si.cluster_info[ci.prev].next = ci.next
    else:
        l.head = ci.next
    if ci.next >= 0:
        si.cluster_info[ci.next].prev = ci.prev
    else:
        l.tail = ci.prev
    ci.prev = -1
    ci.next = -1
    l.nr -= 1


cdef inline cluster_list* list_of(swap_device_t* si, swap_cluster_info* ci) noexcept nogil:
    """The list a cluster is on, read from its flag (and order)."""
    if ci.flags == CLUSTER_FLAG_FREE:
        return &si.free_clusters
    if ci.flags == CLUSTER_FLAG_NONFULL:
        return &si.nonfull_clusters[ci.order]
    if ci.flags == CLUSTER_FLAG_FRAG:
        return &si.frag_clusters[ci.order]
    if ci.flags == CLUSTER_FLAG_FULL:
        return &si.full_clusters
    if ci.flags == CLUSTER_FLAG_DISCARD:
        return &si.discard_clusters
    return NULL


cdef inline void move_cluster(swap_device_t* si, int32_t idx, cluster_list* l,
                              uint8_t new_flags) noexcept nogil:
    cdef swap_cluster_info* ci = &si.cluster_info[idx]
    if ci.flags != CLUSTER_FLAG_NONE:
        clist_del(si, list_of(si, ci), idx)
    clist_add_tail(si, l, idx)
    ci.flags = new_flags
    si.stats.list_moves += 1


# --- the priority list of devices (swap_avail_head, a plist) ---------------------

cdef void add_to_avail_list(swap_device_t* si) noexcept nogil:
    """plist_add: behind every device of higher or equal priority."""
    cdef swap_globals_t* g = si.g
    cdef int i, pos
    if si.on_avail or not (si.flags & SWP_WRITEOK):
        return
    pos = g.nr_avail
    for i in range(g.nr_avail):
        if g.avail[i].prio < si.prio:
            pos = i
            break
    i = g.nr_avail
    while i > pos:
        g.avail[i] = g.avail[i - 1]
        i -= 1
    g.avail[pos] = si
    g.nr_avail += 1
    si.on_avail = True


cdef void del_from_avail_list(swap_device_t* si) noexcept nogil:
    cdef swap_globals_t* g = si.g
    cdef int i, j = 0
    if not si.on_avail:
        return
    for i in range(g.nr_avail):
        if g.avail[i] != si:
            g.avail[j] = g.avail[i]
            j += 1
    g.nr_avail = j
    si.on_avail = False


cdef inline void plist_requeue(swap_device_t* si) noexcept nogil:
    """Move a device behind its equal-priority peers (round robin)."""
    del_from_avail_list(si)
    add_to_avail_list(si)
    si.g.stats.requeues += 1


cdef bint vm_swap_full(const swap_device_t* si) noexcept nogil:
    """More than half of the swap space of the set is in use."""
    return si.g.nr_swap_pages * 2 < si.g.total_swap_pages


cdef inline void swap_range_alloc(swap_device_t* si, uint64_t nr) noexcept nogil:
    si.inuse_pages += nr
    if si.inuse_pages == si.pages:     # swap_usage_add reached si->pages
        del_from_avail_list(si)
        if vm_swap_full(si):
            si.reclaim_scheduled = True   # schedule_work(&si->reclaim_work)
    si.g.nr_swap_pages -= nr


cdef inline void swap_range_free(swap_device_t* si, uint64_t nr) noexcept nogil:
    si.g.nr_swap_pages += nr
    si.inuse_pages -= nr
    if not si.on_avail:                # swap_usage_sub with the off-list bit
        add_to_avail_list(si)


# --- cluster state machine ---------------------------------------------------------

cdef inline bint cluster_is_usable(swap_cluster_info* ci, int order) noexcept nogil:
    if ci.flags > CLUSTER_FLAG_USABLE:
        return False
    if ci.table == NULL:
        return False
    if order == 0:
        return True
    return ci.count == 0 or ci.order == order


cdef inline void swap_cluster_free_table(swap_device_t* si, swap_cluster_info* ci) noexcept nogil:
    if ci.table != NULL:
        # Every word is zero here (free slots have zero words), so the table
        # can be reused as it is, as a kmem cache would.
        if si.nr_table_cache < SWAP_TABLE_CACHE_MAX:
            si.table_cache[si.nr_table_cache] = ci.table
            si.nr_table_cache += 1
        else:
            free(ci.table)
        ci.table = NULL
        si.nr_tables -= 1
        si.stats.tables_freed += 1


cdef inline void __free_cluster(swap_device_t* si, int32_t idx) noexcept nogil:
    cdef swap_cluster_info* ci = &si.cluster_info[idx]
    swap_cluster_free_table(si, ci)
    move_cluster(si, idx, &si.free_clusters, CLUSTER_FLAG_FREE)
    ci.order = 0


cdef inline void free_cluster(swap_device_t* si, int32_t idx) noexcept nogil:
    if (si.flags & (SWP_WRITEOK | SWP_PAGE_DISCARD)) == (SWP_WRITEOK | SWP_PAGE_DISCARD):
        # swap_cluster_schedule_discard: the discard work runs later
        move_cluster(si, idx, &si.discard_clusters, CLUSTER_FLAG_DISCARD)
        return
    __free_cluster(si, idx)


cdef inline void partial_free_cluster(swap_device_t* si, int32_t idx) noexcept nogil:
    cdef swap_cluster_info* ci = &si.cluster_info[idx]
    if ci.flags != CLUSTER_FLAG_NONFULL:
        move_cluster(si, idx, &si.nonfull_clusters[ci.order], CLUSTER_FLAG_NONFULL)


cdef inline void relocate_cluster(swap_device_t* si, int32_t idx) noexcept nogil:
    cdef swap_cluster_info* ci = &si.cluster_info[idx]
    if ci.flags == CLUSTER_FLAG_DISCARD:
        return
    if ci.count == 0:
        if ci.flags != CLUSTER_FLAG_FREE:
            free_cluster(si, idx)
    elif ci.count != si.cluster_size:
        if ci.flags != CLUSTER_FLAG_FRAG:
            move_cluster(si, idx, &si.frag_clusters[ci.order], CLUSTER_FLAG_FRAG)
    elif ci.flags != CLUSTER_FLAG_FULL:
        move_cluster(si, idx, &si.full_clusters, CLUSTER_FLAG_FULL)


cdef int32_t isolate_lock_cluster(swap_device_t* si, cluster_list* l) except -2 nogil:
    """Take the head cluster off ``l`` (flag NONE), giving it a table if it has none.

    The table is allocated before the cluster is unlinked, so a MemoryError
    leaves the device unchanged.
    """
    cdef int32_t idx = l.head
    cdef swap_cluster_info* ci
    if idx < 0:
        return -1
    ci = &si.cluster_info[idx]
    if ci.table == NULL:
        if si.nr_table_cache:
            si.nr_table_cache -= 1
            ci.table = si.table_cache[si.nr_table_cache]
        else:
            ci.table = <uint64_t*>checked_calloc(si.cluster_size, sizeof(uint64_t))
        si.nr_tables += 1
        si.stats.tables_allocated += 1
    clist_del(si, l, idx)
    ci.flags = CLUSTER_FLAG_NONE
    si.stats.isolations += 1
    return idx


cdef inline int call_reclaim(swap_device_t* si, uint64_t offset) noexcept nogil:
    cdef int ret
    if si.reclaim == NULL:
        return 0
    si.stats.reclaim_calls += 1
    ret = si.reclaim(si.reclaim_ctx, si, offset)
    if ret > 0:
        si.stats.reclaimed += ret
    return ret


cdef inline bint is_cache_only(const swap_device_t* si, uint64_t offset) noexcept nogil:
    if si.map[offset] != SLOT_USED:
        return False
    if si.cache_only != NULL:       # the layer above answers (vswap v5: no rmap bit)
        return si.cache_only(si.reclaim_ctx, <swap_device_t*>si, offset)
    return (swap_table_get(si, offset) & SWAP_TABLE_CACHE_ONLY) != 0


cdef inline bint cluster_scan_range(swap_device_t* si, swap_cluster_info* ci, uint64_t offset,
                                    uint64_t nr, bint* need_reclaim) noexcept nogil:
    cdef uint64_t end = offset + nr
    cdef uint8_t m
    if ci.count == 0:
        return True
    while offset < end:
        m = si.map[offset]
        if m != SLOT_FREE:
            if not is_cache_only(si, offset):
                return False
            if not vm_swap_full(si):
                return False
            need_reclaim[0] = True
        offset += 1
    return True


cdef bint cluster_reclaim_range(swap_device_t* si, uint64_t start, uint64_t end) noexcept nogil:
    cdef uint64_t offset = start
    cdef int nr
    while True:
        if si.map[offset] == SLOT_FREE:
            offset += 1
        elif is_cache_only(si, offset):
            nr = call_reclaim(si, offset)
            if nr <= 0:
                break
            offset += nr
        else:
            break
        if offset >= end:
            break
    # Re-check: the hook may have freed or failed to free anything.
    for offset in range(start, end):
        if si.map[offset] != SLOT_FREE:
            return False
    return True


cdef inline bint cluster_alloc_range(swap_device_t* si, swap_cluster_info* ci,
                                     uint64_t offset, int order) noexcept nogil:
    cdef uint64_t nr = <uint64_t>1 << order
    if not (si.flags & SWP_WRITEOK):
        return False
    if ci.count == 0:
        ci.order = order
    if nr == 1:
        si.map[offset] = SLOT_USED
    else:
        memset(&si.map[offset], SLOT_USED, nr)
    ci.count += nr
    swap_range_alloc(si, nr)
    return True


cdef inline uint64_t alloc_swap_scan_cluster(swap_device_t* si, int32_t idx, uint64_t offset,
                                             int order, int cpu) noexcept nogil:
    """Allocate 2**order aligned slots in cluster ``idx`` from ``offset`` on; 0 if none."""
    cdef swap_cluster_info* ci = &si.cluster_info[idx]
    cdef uint64_t nr = <uint64_t>1 << order
    cdef uint64_t start = <uint64_t>idx << si.cluster_shift
    cdef uint64_t end = start + si.cluster_size
    cdef uint64_t next_off = 0, found = 0
    cdef bint need_reclaim, ret
    si.stats.clusters_scanned += 1
    if end > si.max:
        end = si.max
    if end >= nr and ci.count + nr <= si.cluster_size:
        end -= nr
        while offset <= end:
            si.stats.slots_scanned += 1
            need_reclaim = False
            if not cluster_scan_range(si, ci, offset, nr, &need_reclaim):
                offset += nr
                continue
            if need_reclaim:
                ret = cluster_reclaim_range(si, offset, offset + nr)
                if not cluster_is_usable(ci, order):
                    break
                if ci.count == 0:
                    offset = start
                if not ret:
                    offset += nr
                    continue
            if not cluster_alloc_range(si, ci, offset, order):
                break
            found = offset
            offset += nr
            if ci.count < si.cluster_size and offset <= end:
                next_off = offset
            break
    relocate_cluster(si, idx)
    if si.flags & SWP_SOLIDSTATE:
        si.g.pcp[cpu].offset[order] = next_off
        si.g.pcp[cpu].si[order] = si
    else:
        si.global_next[order] = next_off
    return found


cdef inline int try_list(swap_device_t* si, cluster_list* l, int order, int cpu,
                         bint every, uint64_t* found) except -1 nogil:
    """Isolate the head of ``l`` and scan it from its start; with ``every``, go on
    until the list is empty. Returns 1 when ``*found`` holds an allocation."""
    cdef int32_t idx
    while True:
        idx = isolate_lock_cluster(si, l)
        if idx < 0:
            return 0
        found[0] = alloc_swap_scan_cluster(si, idx, <uint64_t>idx << si.cluster_shift, order, cpu)
        if found[0]:
            return 1
        if not every:
            return 0


cdef uint64_t swap_reclaim_full_clusters(swap_device_t* si, bint force) noexcept nogil:
    """Reclaim cache-only slots of full clusters; returns the slots freed.

    One cluster from the allocation slow path; ``inuse / cluster_size``
    clusters from the reclaim work (``force``).
    """
    cdef int64_t to_scan = 1
    cdef uint64_t offset, end, before = si.stats.reclaimed
    cdef int32_t idx
    cdef int nr
    if force:
        to_scan = <int64_t>(si.inuse_pages >> si.cluster_shift)
        si.reclaim_scheduled = False
    while True:
        idx = si.full_clusters.head   # full clusters have a table: no allocation
        if idx < 0:
            break
        isolate_lock_cluster(si, &si.full_clusters)
        si.stats.full_scans += 1
        offset = <uint64_t>idx << si.cluster_shift
        end = offset + si.cluster_size
        if end > si.max:
            end = si.max
        to_scan -= 1
        while offset < end:
            if is_cache_only(si, offset):
                nr = call_reclaim(si, offset)
                if nr:
                    offset += nr if nr > 0 else -nr
                    continue
            offset += 1
        if si.cluster_info[idx].flags == CLUSTER_FLAG_NONE:
            relocate_cluster(si, idx)
        if to_scan <= 0:
            break
    return si.stats.reclaimed - before


cdef uint64_t swap_do_scheduled_discard(swap_device_t* si) noexcept nogil:
    """The discard work: every DISCARD cluster is discarded and freed."""
    cdef int32_t idx
    cdef uint64_t n = 0
    while si.discard_clusters.head >= 0:
        idx = si.discard_clusters.head
        clist_del(si, &si.discard_clusters, idx)
        # (blkdev_issue_discard of the whole cluster happens here)
        si.cluster_info[idx].flags = CLUSTER_FLAG_NONE
        __free_cluster(si, idx)
        si.stats.discards += 1
        n += 1
    return n


cdef int cluster_alloc_swap_entry(swap_device_t* si, int order, int cpu,
                                  uint64_t* found) except -1 nogil:
    """The per-device slow path, in the kernel's order; ``*found`` is 0 on failure."""
    cdef uint64_t offset
    cdef int o
    cdef int pmd_order = si.nr_orders - 1
    cdef swap_cluster_info* ci
    found[0] = 0
    si.stats.slow_path += 1
    if order and not (si.flags & SWP_BLKDEV):
        # A swapfile on a filesystem gets no large entries: its folios split.
        si.stats.failures += 1
        return 0
    if not (si.flags & SWP_SOLIDSTATE):
        # Rotating device: one shared next offset per order.
        offset = si.global_next[order]
        if offset != 0:
            ci = &si.cluster_info[offset >> si.cluster_shift]
            if cluster_is_usable(ci, order):
                if ci.count == 0:
                    offset = offset >> si.cluster_shift << si.cluster_shift
                found[0] = alloc_swap_scan_cluster(si, offset >> si.cluster_shift, offset,
                                                   order, cpu)
                if found[0]:
                    return 1
    while True:   # new_cluster:
        # A discard device prefers a new cluster over a nonfull one (spreads writes).
        if si.flags & SWP_PAGE_DISCARD and try_list(si, &si.free_clusters, order, cpu, False, found):
            return 1
        if order < pmd_order and try_list(si, &si.nonfull_clusters[order], order, cpu, True, found):
            return 1
        if not (si.flags & SWP_PAGE_DISCARD) and try_list(si, &si.free_clusters, order, cpu,
                                                          False, found):
            return 1
        if vm_swap_full(si):
            swap_reclaim_full_clusters(si, False)
        # One fragment cluster only: it keeps the list rotating.
        if order < pmd_order and try_list(si, &si.frag_clusters[order], order, cpu, False, found):
            return 1
        if (si.flags & SWP_PAGE_DISCARD) and si.discard_clusters.head >= 0:
            si.stats.sync_discards += 1
            swap_do_scheduled_discard(si)
            continue
        break
    if order == 0:
        # Order 0 steals from the clusters of the larger orders.
        for o in range(1, si.nr_orders):
            if try_list(si, &si.frag_clusters[o], 0, cpu, True, found):
                return 1
            if try_list(si, &si.nonfull_clusters[o], 0, cpu, True, found):
                return 1
    si.stats.failures += 1
    return 0


cdef inline uint64_t swap_alloc_fast(swap_globals_t* g, swap_device_t* only, int order, int cpu,
                                     swap_device_t** out) noexcept nogil:
    """The per-CPU cached cluster; ``only`` restricts it to one device."""
    cdef swap_device_t* si = g.pcp[cpu].si[order]
    cdef uint64_t offset = g.pcp[cpu].offset[order]
    cdef uint64_t found
    cdef swap_cluster_info* ci
    if si == NULL or offset == 0:
        return 0
    if only != NULL and si != only:
        return 0
    if not (si.flags & SWP_WRITEOK):      # get_swap_device_info failed
        return 0
    ci = &si.cluster_info[offset >> si.cluster_shift]
    if not cluster_is_usable(ci, order):
        return 0
    if ci.count == 0:
        offset = offset >> si.cluster_shift << si.cluster_shift
    found = alloc_swap_scan_cluster(si, offset >> si.cluster_shift, offset, order, cpu)
    if found:
        si.stats.fast_hits += 1
        out[0] = si
    return found


cdef int swap_device_alloc(swap_device_t* si, int order, int cpu, uint64_t* offset) except -1 nogil:
    """Allocate 2**order slots on this device: its per-CPU cluster, then its slow path.

    Returns 1 and sets ``*offset``, or 0 when nothing can be allocated.
    """
    cdef swap_device_t* hit
    if not (si.flags & SWP_WRITEOK):     # swapped off: get_swap_device_info fails
        offset[0] = 0
        return 0
    offset[0] = swap_alloc_fast(si.g, si, order, cpu, &hit)
    if offset[0]:
        return 1
    return cluster_alloc_swap_entry(si, order, cpu, offset)


cdef Py_ssize_t alloc_run(swap_device_t* si, int order, int cpu, uint64_t* out,
                          Py_ssize_t n) noexcept nogil:
    """Batch form of up to ``n`` successive fast-path allocations on ``si``.

    Continues in the CPU's cached cluster while each allocation is found by
    a plain scan from the cached offset (the common case of a batch); the
    state and every counter end up exactly as after the same calls of
    :func:`swap_device_alloc`. Before it changes anything for an allocation
    it checks that the scan needs no reclaim (no cache-only slot in the way
    while the swap space is over half full) and finds a range; otherwise it
    stops and leaves that allocation, and the rest, to
    :func:`swap_device_alloc`. Returns the number of allocations made.
    """
    cdef percpu_swap_cluster* pcp = &si.g.pcp[cpu]
    cdef uint64_t offset, cand, last, end, nr = <uint64_t>1 << order, start, next_off
    cdef uint64_t j, scanned, total_scanned = 0
    cdef int32_t idx
    cdef swap_cluster_info* ci
    cdef uint8_t* m
    cdef Py_ssize_t k = 0
    cdef bint found
    if not (si.flags & SWP_SOLIDSTATE) or not (si.flags & SWP_WRITEOK):
        return 0
    offset = pcp.offset[order]
    if pcp.si[order] != si or offset == 0:
        return 0
    idx = <int32_t>(offset >> si.cluster_shift)
    ci = &si.cluster_info[idx]
    if not cluster_is_usable(ci, order) or ci.count == 0:
        return 0
    start = <uint64_t>idx << si.cluster_shift
    end = start + si.cluster_size
    if end > si.max:
        end = si.max
    if end < nr:
        return 0
    last = end - nr
    m = si.map
    while k < n and offset <= last and ci.count + nr <= si.cluster_size:
        # The scan of alloc_swap_scan_cluster, without side effects.
        cand = offset
        scanned = 0
        found = False
        while cand <= last:
            scanned += 1
            for j in range(cand, cand + nr):
                if m[j] != SLOT_FREE:
                    if vm_swap_full(si) and is_cache_only(si, j):
                        cand = last + 1   # would reclaim: leave it to the generic path
                        scanned = 0
                    break
            else:
                found = True
                break
            if scanned == 0:
                break
            cand += nr
        if not found:
            break
        if nr == 1:
            m[cand] = SLOT_USED
        else:
            memset(&m[cand], SLOT_USED, nr)
        ci.count += nr
        swap_range_alloc(si, nr)
        out[k] = cand
        k += 1
        total_scanned += scanned
        offset = cand + nr
        if k == 1:
            relocate_cluster(si, idx)   # the first call's move (to FRAG); later ones are no-ops
    if k == 0:
        return 0
    si.stats.clusters_scanned += k
    si.stats.slots_scanned += total_scanned
    si.stats.fast_hits += k
    relocate_cluster(si, idx)           # the last call's move (to FULL when it filled up)
    next_off = offset if ci.count < si.cluster_size and offset <= last else 0
    pcp.offset[order] = next_off
    pcp.si[order] = si
    return k


cdef int swap_alloc_set(swap_globals_t* g, int order, int cpu,
                        swap_device_t** si, uint64_t* offset) except -1 nogil:
    """folio_alloc_swap over a set: fast path, then the devices by priority.

    Each device on the avail list is visited at most once, in plist order;
    it is requeued behind its equal-priority peers before it is tried.
    """
    cdef swap_device_t* order_snapshot[MAX_SWAPFILES]
    cdef int n = g.nr_avail, i
    cdef swap_device_t* dev
    offset[0] = swap_alloc_fast(g, NULL, order, cpu, si)
    if offset[0]:
        g.stats.fast_hits += 1
        return 1
    g.stats.slow_path += 1
    for i in range(n):
        order_snapshot[i] = g.avail[i]
    for i in range(n):
        dev = order_snapshot[i]
        if not dev.on_avail:
            continue
        plist_requeue(dev)
        cluster_alloc_swap_entry(dev, order, cpu, offset)
        if offset[0]:
            si[0] = dev
            return 1
        if order:
            break
        g.stats.fallthroughs += 1
    g.stats.failures += 1
    return 0


cdef int swap_check_range(const swap_device_t* si, uint64_t offset, int order) noexcept nogil:
    """0 if the 2**order slots at ``offset`` are allocated; SWAP_EINVAL / SWAP_ENOENT."""
    return check_range(si, offset, order)


cdef inline int check_range(const swap_device_t* si, uint64_t offset, int order) noexcept nogil:
    cdef uint64_t nr, i
    if order == 0:
        if offset >= si.max:
            return SWAP_EINVAL
        return 0 if si.map[offset] == SLOT_USED else SWAP_ENOENT
    if order < 0 or <uint32_t>order >= si.nr_orders:
        return SWAP_EINVAL
    nr = <uint64_t>1 << order
    if offset >= si.max or offset & (nr - 1) or offset + nr > si.max:
        return SWAP_EINVAL
    for i in range(offset, offset + nr):
        if si.map[i] != SLOT_USED:
            return SWAP_ENOENT
    return 0


cdef void swap_entries_free(swap_device_t* si, uint64_t offset, uint64_t nr) noexcept nogil:
    """Free ``nr`` allocated slots of one cluster (no checks); clears their table words."""
    entries_free(si, offset, nr)


cdef inline void entries_free(swap_device_t* si, uint64_t offset, uint64_t nr) noexcept nogil:
    cdef int32_t idx = <int32_t>(offset >> si.cluster_shift)
    cdef swap_cluster_info* ci = &si.cluster_info[idx]
    cdef uint64_t i
    ci.count -= nr
    if nr == 1:
        si.map[offset] = SLOT_FREE
    else:
        memset(&si.map[offset], SLOT_FREE, nr)
    if ci.table != NULL:
        i = offset & (si.cluster_size - 1)
        if nr == 1:
            ci.table[i] = 0
        else:
            memset(&ci.table[i], 0, nr * sizeof(uint64_t))
    swap_range_free(si, nr)
    if ci.count == 0:
        free_cluster(si, idx)
    else:
        partial_free_cluster(si, idx)


cdef int swap_free(swap_device_t* si, uint64_t offset, int order) noexcept nogil:
    """Checked free of 2**order slots; 0, SWAP_EINVAL or SWAP_ENOENT (nothing changed)."""
    cdef int err = check_range(si, offset, order)
    if err == 0:
        swap_entries_free(si, offset, <uint64_t>1 << order)
    return err


cdef int swap_default_reclaim(void* ctx, swap_device_t* si, uint64_t offset) noexcept nogil:
    """Built-in hook: a slot whose table word has SWAP_TABLE_CACHE_ONLY is freed."""
    if offset < si.max and is_cache_only(si, offset):
        swap_entries_free(si, offset, 1)
        return 1
    return 0


cdef void flush_percpu_swap_cluster(swap_device_t* si) noexcept nogil:
    cdef int cpu, o
    for cpu in range(NR_CPUS):
        for o in range(SWAP_NR_ORDERS):
            if si.g.pcp[cpu].si[o] == si:
                si.g.pcp[cpu].si[o] = NULL


cdef void swap_globals_init(swap_globals_t* g) noexcept nogil:
    memset(g, 0, sizeof(swap_globals_t))


cdef int swap_device_init(swap_device_t* si, uint64_t nr_slots, uint32_t cluster_size,
                          int flags, const uint64_t* bad, Py_ssize_t nr_bad,
                          swap_globals_t* g) except -1 nogil:
    """swapon: set up the map, clusters and lists (setup_clusters). Arguments are valid."""
    cdef uint32_t shift = 0, i
    cdef uint64_t nr_clusters, s, padded, nbad = 0
    cdef Py_ssize_t k
    cdef swap_cluster_info* ci
    while (<uint32_t>1 << shift) < cluster_size:
        shift += 1
    nr_clusters = (nr_slots + cluster_size - 1) >> shift
    padded = nr_clusters << shift
    si.max = nr_slots
    si.cluster_size = cluster_size
    si.cluster_shift = shift
    si.nr_clusters = <uint32_t>nr_clusters
    si.nr_orders = shift + 1
    si.flags = flags | SWP_WRITEOK
    si.type = -1
    si.g = g
    clist_init(&si.free_clusters)
    clist_init(&si.full_clusters)
    clist_init(&si.discard_clusters)
    for i in range(SWAP_NR_ORDERS):
        clist_init(&si.nonfull_clusters[i])
        clist_init(&si.frag_clusters[i])
    si.map = <uint8_t*>checked_calloc(padded, 1)
    si.cluster_info = <swap_cluster_info*>checked_calloc(nr_clusters, sizeof(swap_cluster_info))
    # The header, the bad slots and the tail past max count into their cluster.
    si.map[0] = SLOT_BAD
    for k in range(nr_bad):
        if si.map[bad[k]] == SLOT_FREE:
            si.map[bad[k]] = SLOT_BAD
            nbad += 1
    for s in range(nr_slots, padded):
        si.map[s] = SLOT_BAD
    for s in range(padded):
        if si.map[s] == SLOT_BAD:
            si.cluster_info[s >> shift].count += 1
    si.pages = nr_slots - 1 - nbad
    for i in range(si.nr_clusters):
        ci = &si.cluster_info[i]
        ci.prev = -1
        ci.next = -1
        if ci.count:
            # swap_cluster_setup_bad_slot allocates the table at swapon.
            ci.table = <uint64_t*>checked_calloc(cluster_size, sizeof(uint64_t))
            si.nr_tables += 1
            si.stats.tables_allocated += 1
            ci.flags = CLUSTER_FLAG_NONFULL
            clist_add_tail(si, &si.nonfull_clusters[0], i)
        else:
            ci.flags = CLUSTER_FLAG_FREE
            clist_add_tail(si, &si.free_clusters, i)
    g.total_swap_pages += si.pages
    g.nr_swap_pages += si.pages
    add_to_avail_list(si)
    return 0


cdef void swap_device_destroy(swap_device_t* si) noexcept nogil:
    """Free the map, the tables and the cluster array (touches nothing else)."""
    cdef uint32_t i
    while si.nr_table_cache:
        si.nr_table_cache -= 1
        free(si.table_cache[si.nr_table_cache])
    if si.cluster_info != NULL:
        for i in range(si.nr_clusters):
            if si.cluster_info[i].table != NULL:
                free(si.cluster_info[i].table)
        free(si.cluster_info)
        si.cluster_info = NULL
    if si.map != NULL:
        free(si.map)
        si.map = NULL
    si.nr_clusters = 0


# --- Python wrapper ---------------------------------------------------------------

cdef list walk_list(swap_device_t* si, cluster_list* l):
    """Cluster indices of a list, head to tail (bounded against cycles)."""
    cdef list out = []
    cdef int32_t idx = l.head
    while idx >= 0 and len(out) <= si.nr_clusters:
        out.append(idx)
        idx = si.cluster_info[idx].next
    return out


cdef list _check_device(SwapDevice dev):
    cdef swap_device_t* si = &dev.si
    cdef list errors = []
    cdef uint32_t i, cs = si.cluster_size
    cdef uint64_t s, base, used = 0, nonfree, tables = 0
    cdef swap_cluster_info* ci
    cdef uint8_t m
    cdef int cpu, o
    cdef cluster_list* l
    # I1, I2, I3
    for i in range(si.nr_clusters):
        ci = &si.cluster_info[i]
        base = <uint64_t>i << si.cluster_shift
        nonfree = 0
        for s in range(base, base + cs):
            m = si.map[s]
            if m > SLOT_BAD:
                errors.append(f"I1: slot {s} has state {m}")
            if m != SLOT_FREE:
                nonfree += 1
            if m == SLOT_USED:
                used += 1
            if (m == SLOT_FREE or m == SLOT_BAD) and ci.table != NULL and ci.table[s - base]:
                errors.append(f"I1: {_SLOT_NAMES[m] if m < 3 else m} slot {s} has table word "
                              f"{ci.table[s - base]:#x}")
            if s >= si.max and m != SLOT_BAD:
                errors.append(f"I2: tail slot {s} is not counted bad")
        if nonfree != ci.count:
            errors.append(f"I2: cluster {i} count {ci.count} but {nonfree} non-free slots")
        if ci.table != NULL:
            tables += 1
    if si.map[0] != SLOT_BAD:
        errors.append("I1: the header slot 0 is not bad")
    if used != si.inuse_pages:
        errors.append(f"I3: inuse_pages {si.inuse_pages} but {used} used slots")
    if si.inuse_pages > si.pages:
        errors.append(f"I3: inuse_pages {si.inuse_pages} > pages {si.pages}")
    if tables != si.nr_tables:
        errors.append(f"I8: nr_tables {si.nr_tables} but {tables} tables")
    for k in range(si.nr_table_cache):
        for s in range(cs):
            if si.table_cache[k][s]:
                errors.append(f"I8: cached table {k} has a non-zero word at {s}")
                break
    if si.g == &dev.own_g:
        if (si.flags & SWP_WRITEOK) and si.g.nr_swap_pages != <int64_t>(si.pages - si.inuse_pages):
            errors.append(f"I3: nr_swap_pages {si.g.nr_swap_pages} != pages - inuse")
        if si.g.total_swap_pages != <int64_t>si.pages:
            errors.append(f"I3: total_swap_pages {si.g.total_swap_pages} != pages")
    # I4: lists
    seen = [0] * si.nr_clusters
    lists = [("free", <size_t>&si.free_clusters, CLUSTER_FLAG_FREE, -1),
             ("full", <size_t>&si.full_clusters, CLUSTER_FLAG_FULL, -1),
             ("discard", <size_t>&si.discard_clusters, CLUSTER_FLAG_DISCARD, -1)]
    for o in range(SWAP_NR_ORDERS):
        if <uint32_t>o >= si.nr_orders:
            if si.nonfull_clusters[o].nr or si.frag_clusters[o].nr:
                errors.append(f"I4: list of order {o} > max order is not empty")
            continue
        lists.append((f"nonfull[{o}]", <size_t>&si.nonfull_clusters[o], CLUSTER_FLAG_NONFULL, o))
        lists.append((f"frag[{o}]", <size_t>&si.frag_clusters[o], CLUSTER_FLAG_FRAG, o))
    for name, lp, flag, order in lists:
        l = <cluster_list*><size_t>lp
        members = walk_list(si, l)
        if len(members) != l.nr:
            errors.append(f"I4: list {name} has nr {l.nr} but {len(members)} members")
        prev = -1
        for idx in members:
            ci = &si.cluster_info[<int32_t>idx]
            seen[idx] += 1
            if ci.prev != prev:
                errors.append(f"I4: cluster {idx} on {name} has prev {ci.prev}, expected {prev}")
            if ci.flags != flag:
                errors.append(f"I4: cluster {idx} on {name} has flag {_FLAG_NAMES[ci.flags]}")
            if order >= 0 and ci.order != order:
                errors.append(f"I4: cluster {idx} on {name} has order {ci.order}")
            prev = idx
        if l.tail != prev:
            errors.append(f"I4: list {name} tail {l.tail}, expected {prev}")
    for i in range(si.nr_clusters):
        ci = &si.cluster_info[i]
        if seen[i] != 1:
            errors.append(f"I4: cluster {i} ({_FLAG_NAMES[ci.flags]}) is on {seen[i]} lists")
        if ci.flags == CLUSTER_FLAG_FREE and (ci.count or ci.order or ci.table != NULL):
            errors.append(f"I4/I8: free cluster {i} has count {ci.count}, order {ci.order}, "
                          f"table {ci.table != NULL}")
        if ci.flags != CLUSTER_FLAG_FREE and ci.table == NULL:
            errors.append(f"I8: cluster {i} ({_FLAG_NAMES[ci.flags]}) has no table")
        if ci.flags == CLUSTER_FLAG_FULL and ci.count != cs:
            errors.append(f"I4: full cluster {i} has count {ci.count}")
        if ci.flags == CLUSTER_FLAG_DISCARD and ci.count:
            errors.append(f"I4: discard cluster {i} has count {ci.count}")
        if ci.flags == CLUSTER_FLAG_NONFULL and ci.count == 0:
            errors.append(f"I4: nonfull cluster {i} is empty")
        if ci.flags == CLUSTER_FLAG_FRAG and not 0 < ci.count < cs:
            errors.append(f"I4: frag cluster {i} has count {ci.count}")
        if ci.order >= si.nr_orders:
            errors.append(f"I5: cluster {i} has order {ci.order}")
    # I9
    want = bool(si.flags & SWP_WRITEOK) and si.inuse_pages < si.pages
    if bool(si.on_avail) != want:
        errors.append(f"I9: on_avail {bool(si.on_avail)} but writeok/not-full is {want}")
    present = sum(1 for k in range(si.g.nr_avail) if si.g.avail[k] == si)
    if present != (1 if si.on_avail else 0):
        errors.append(f"I9: device appears {present} times on the avail list")
    # I10
    for cpu in range(NR_CPUS):
        for o in range(SWAP_NR_ORDERS):
            if si.g.pcp[cpu].si[o] != si:
                continue
            if not (si.flags & SWP_WRITEOK):
                errors.append(f"I10: cpu {cpu} order {o} hint names a swapped-off device")
            s = si.g.pcp[cpu].offset[o]
            if s >= si.max or <uint32_t>o >= si.nr_orders or s & ((<uint64_t>1 << o) - 1):
                errors.append(f"I10: cpu {cpu} order {o} hint offset {s} invalid")
    for o in range(si.nr_orders):
        s = si.global_next[o]
        if s >= si.max or s & ((<uint64_t>1 << o) - 1):
            errors.append(f"I10: global_cluster next[{o}] = {s} invalid")
    return errors


cdef int python_reclaim(void* ctx, swap_device_t* si, uint64_t offset) noexcept nogil:
    """Trampoline to a Python hook ``hook(device, offset) -> int``."""
    cdef int ret = 0
    with gil:
        dev = <SwapDevice>ctx
        dev._in_hook = True
        try:
            r = dev._py_hook(dev, offset)
            if type(r) is not int:
                r = PyNumber_Index(r)
            if r > dev.si.cluster_size:
                r = dev.si.cluster_size
            elif r < -<int>dev.si.cluster_size:
                r = -<int>dev.si.cluster_size
            ret = r
        except BaseException as exc:
            import sys
            sys.unraisablehook(_Unraisable(exc, dev._py_hook))
            ret = 0
        finally:
            dev._in_hook = False
    return ret


class _Unraisable:
    def __init__(self, exc, obj):
        self.exc_type = type(exc)
        self.exc_value = exc
        self.exc_traceback = exc.__traceback__
        self.err_msg = "Exception ignored in a SwapDevice reclaim hook"
        self.object = obj


cdef int to_int_slow(object v, long lo, long hi, str what) except? -1:
    cdef int overflow = 0
    cdef long x
    if type(v) is not int:
        v = PyNumber_Index(v)
    x = PyLong_AsLongAndOverflow(v, &overflow)   # no exception on overflow
    if overflow or x < lo or x > hi:
        raise ValueError(f"{what} {v} is outside {lo} .. {hi}")
    return <int>x


cdef inline int to_int(object v, long lo, long hi, str what) except? -1:
    """``v`` as a C int in ``lo .. hi``; TypeError / ValueError otherwise."""
    cdef int overflow = 0
    cdef long x
    if type(v) is int:
        x = PyLong_AsLongAndOverflow(v, &overflow)
        if not overflow and lo <= x <= hi:
            return <int>x
    return to_int_slow(v, lo, hi, what)


cdef uint64_t to_offset_slow(object v, const swap_device_t* si) except? 0xFFFFFFFFFFFFFFFF:
    cdef int overflow = 0
    cdef long long x
    if type(v) is not int:
        v = PyNumber_Index(v)
    x = PyLong_AsLongLongAndOverflow(v, &overflow)
    if overflow or x < 0 or <uint64_t>x >= si.max:
        raise ValueError(f"offset {v} is outside 0 .. {si.max - 1}")
    return <uint64_t>x


cdef inline uint64_t to_offset(object v, const swap_device_t* si) except? 0xFFFFFFFFFFFFFFFF:
    """``v`` as a slot offset below ``si.max``; TypeError / ValueError otherwise."""
    cdef int overflow = 0
    cdef long long x
    if type(v) is int:
        x = PyLong_AsLongLongAndOverflow(v, &overflow)
        if not overflow and x >= 0 and <uint64_t>x < si.max:
            return <uint64_t>x
    return to_offset_slow(v, si)


cdef object raise_free_error(int err, uint64_t offset, int order):
    if err == SWAP_EINVAL:
        raise ValueError(f"offset {offset} is misaligned or out of range for order {order}")
    raise NoEntry(f"slot range at {offset} (order {order}) is not allocated")


cdef class SwapDevice:
    """One swap device (``swap_info_struct``) with the 6.19 cluster allocator.

    ``nr_slots`` slots including the header slot 0, which is always bad.
    Slots are grouped in clusters of ``cluster_size`` (a power of two, at
    most 512); ``bad_slots`` and the tail past ``nr_slots`` count into
    their cluster as used. Allocation orders are ``0 .. log2(cluster_size)``.
    ``solid_state=False`` models a rotating device (one shared next offset
    per order instead of the per-CPU clusters); ``discard=True`` models
    ``SWP_PAGE_DISCARD`` (freed clusters wait on the discard list).
    ``blockdev=False`` models a swapfile on a filesystem (no ``SWP_BLKDEV``):
    it gives no large entries, every order above 0 fails (the kernel's
    ``cluster_alloc_swap_entry`` since 6.12; zram and a partition are block devices).
    ``priority`` is used when the device joins a :class:`SwapDevices`
    (None gives ``DEF_SWAP_PRIO``).

    Memory: one state byte per slot, plus 8 bytes per slot of every cluster
    in use (the swap table), plus ``sizeof(swap_cluster_info)`` per cluster;
    see :meth:`memory_footprint`.

    Runtime complexity: construction O(nr_slots).
    >>> dev = SwapDevice(4096, cluster_size=64)
    >>> dev.alloc(), dev.alloc(), dev.alloc(order=3)
    (1, 2, 64)
    >>> dev.nr_used, dev.nr_free
    (10, 4085)
    """

    def __cinit__(self):
        memset(&self.si, 0, sizeof(swap_device_t))
        swap_globals_init(&self.own_g)
        self.si.g = &self.own_g
        self.si.type = -1

    def __init__(self, nr_slots, *, priority=None, cluster_size=512, solid_state=True,
                 discard=False, bad_slots=(), name=None, blockdev=True):
        cdef uint64_t n
        cdef int cs, flags = 0
        if self.si.map != NULL:
            raise RuntimeError("SwapDevice is already initialised")
        if type(nr_slots) is not int:
            nr_slots = PyNumber_Index(nr_slots)
        if not 2 <= nr_slots <= 0xFFFFFFFF:
            raise ValueError(f"nr_slots {nr_slots} is outside 2 .. 2**32-1")
        n = nr_slots
        cs = to_int(cluster_size, 1, SWAPFILE_CLUSTER, "cluster_size")
        if cs & (cs - 1):
            raise ValueError(f"cluster_size {cs} is not a power of two")
        if priority is not None:
            to_int(priority, -32768, 32767, "priority")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str or None, not {type(name).__name__}")
        bad = sorted({int(PyNumber_Index(b)) for b in bad_slots})
        if bad and (min(bad) < 0 or max(bad) >= nr_slots):
            raise ValueError(f"bad slots must lie in 0 .. {nr_slots - 1}")
        bad = [b for b in bad if b != 0]
        bad_arr = np.array(bad, dtype=np.uint64)
        cdef const uint64_t[:] bv = bad_arr
        if nr_slots - 1 - len(bad) <= 0:
            raise ValueError("the device has no usable slot")
        if solid_state:
            flags |= SWP_SOLIDSTATE
        if discard:
            flags |= SWP_PAGE_DISCARD
        if blockdev:
            flags |= SWP_BLKDEV
        self._name = name
        self._requested_prio = priority
        self.si.prio = DEF_SWAP_PRIO if priority is None else priority
        self.si.reclaim = swap_default_reclaim
        self.si.reclaim_ctx = NULL
        try:
            swap_device_init(&self.si, n, cs, flags, &bv[0] if len(bad) else NULL,
                             len(bad), &self.own_g)
        except MemoryError:
            swap_device_destroy(&self.si)
            memset(&self.si, 0, sizeof(swap_device_t))
            swap_globals_init(&self.own_g)
            self.si.g = &self.own_g
            raise

    def __dealloc__(self):
        swap_device_destroy(&self.si)

    cdef int _check_usable(self, bint mutating) except -1:
        if self.si.map == NULL:
            raise RuntimeError("SwapDevice is not initialised")
        if mutating and self._in_hook:
            raise RuntimeError("only free, free_many, get_table and set_table may be "
                               "called from a reclaim hook")
        return 0

    # -- allocation -------------------------------------------------------------

    def alloc(self, order=0, cpu=0):
        """Allocate ``2**order`` slots; return the first (aligned) offset.

        The per-CPU cached cluster of ``cpu`` first (if it is on this
        device), then ``cluster_alloc_swap_entry`` (the slow path of the
        kernel's §3c order). NoSpace when nothing can be allocated; a large
        order fails fast. A failed allocation keeps the side effects it has
        in the kernel (lists rotated by the scans, a synchronous discard, a
        full-cluster reclaim, the counters of the attempt); a ValueError or
        TypeError for bad arguments changes nothing. Runtime complexity: O(1) amortised on the fast
        path, O(clusters scanned * cluster_size) in the slow path.
        >>> dev = SwapDevice(1024, cluster_size=16)
        >>> dev.alloc(order=2), dev.alloc(order=2), dev.alloc()
        (16, 20, 1)
        """
        cdef int o, c
        cdef uint64_t off
        if self.si.map == NULL or self._in_hook:
            self._check_usable(True)
        o = to_int(order, 0, self.si.nr_orders - 1, "order")
        c = to_int(cpu, 0, NR_CPUS - 1, "cpu")
        swap_device_alloc(&self.si, o, c, &off)
        if off == 0:
            raise NoSpace(f"no free order-{o} range on the swap device")
        return off

    def alloc_many(self, n, order=0, cpu=0):
        """Allocate up to ``n`` ranges of ``2**order`` slots; a uint64 array.

        The array is shorter than ``n`` when the device fills. The loop runs
        in C. Runtime complexity: O(n) amortised.
        >>> dev = SwapDevice(10, cluster_size=4)   # clusters 0 and 2 hold bad slots
        >>> dev.alloc_many(100)                    # nonfull[0] before the free list
        array([1, 2, 3, 8, 9, 4, 5, 6, 7], dtype=uint64)
        """
        cdef int o, c
        cdef Py_ssize_t count, i
        cdef uint64_t off
        self._check_usable(True)
        if type(n) is not int:
            n = PyNumber_Index(n)
        if n < 0:
            raise ValueError(f"n {n} is negative")
        o = to_int(order, 0, self.si.nr_orders - 1, "order")
        c = to_int(cpu, 0, NR_CPUS - 1, "cpu")
        count = min(n, (self.si.pages - self.si.inuse_pages) >> o)
        out = np.empty(count, dtype=np.uint64)
        cdef uint64_t[::1] res = out
        i = 0
        while i < count:
            i += alloc_run(&self.si, o, c, &res[i], count - i)
            if i >= count:
                break
            swap_device_alloc(&self.si, o, c, &off)
            if off == 0:
                break
            res[i] = off
            i += 1
        return out[:i] if i < count else out

    # -- free ---------------------------------------------------------------------

    def free(self, offset, order=0):
        """Free the ``2**order`` slots at ``offset`` (``swap_entries_free``).

        ValueError for a misaligned or out-of-range offset, NoEntry if a
        slot is not allocated; nothing changes on error. Their table words
        are cleared. Runtime complexity: O(2**order).
        >>> dev = SwapDevice(64, cluster_size=16)
        >>> off = dev.alloc(order=1); dev.free(off, order=1); dev.nr_used
        0
        """
        cdef int o, err
        cdef uint64_t off
        if self.si.map == NULL:
            self._check_usable(False)
        o = to_int(order, 0, self.si.nr_orders - 1, "order")
        off = to_offset(offset, &self.si)
        err = swap_free(&self.si, off, o)
        if err:
            raise_free_error(err, off, o)

    def free_many(self, offsets, order=0):
        """Free every ``2**order`` range in ``offsets`` (a uint64 array).

        The whole batch is validated first (range, alignment, allocation,
        no duplicate); on error nothing is freed. Runtime complexity:
        O(len(offsets) * 2**order) in C.

        >>> import numpy as np
        >>> dev = SwapDevice(64, cluster_size=16)
        >>> dev.free_many(dev.alloc_many(5)); dev.nr_used
        0
        """
        cdef int o, err = 0
        cdef Py_ssize_t i, j, k, bad_i = -1
        cdef uint64_t off, nr
        self._check_usable(False)
        arr = check_uint64_array(offsets, "offsets")
        o = to_int(order, 0, self.si.nr_orders - 1, "order")
        cdef const uint64_t[:] v = arr
        nr = <uint64_t>1 << o
        # Pass 1 marks every range FREEING (so a duplicate fails the check);
        # on error the marks are undone and nothing has changed.
        for i in range(v.shape[0]):
            err = check_range(&self.si, v[i], o)
            if err:
                bad_i = i
                break
            if nr == 1:
                self.si.map[v[i]] = SLOT_FREEING
            else:
                memset(&self.si.map[v[i]], SLOT_FREEING, nr)
        if bad_i >= 0:
            for j in range(bad_i):
                memset(&self.si.map[v[j]], SLOT_USED, nr)
            raise_free_error(err, v[bad_i], o)
        # Pass 2 frees (swap_entries_free overwrites the marks with SLOT_FREE).
        for i in range(v.shape[0]):
            entries_free(&self.si, v[i], nr)

    # -- the table word and the reclaim hook -----------------------------------

    def get_table(self, offset):
        """The 64-bit table word of a slot (0 for a free or bad slot).

        The word belongs to the design above (counts and cache, or the
        reverse map); bit 63 (``SWAP_TABLE_CACHE_ONLY``) tells the
        allocator the slot is held only by the swap cache. Runtime
        complexity: O(1).
        >>> dev = SwapDevice(64, cluster_size=16)
        >>> off = dev.alloc(); dev.set_table(off, 0xabc); hex(dev.get_table(off))
        '0xabc'
        """
        self._check_usable(False)
        return swap_table_get(&self.si, to_offset(offset, &self.si))

    def set_table(self, offset, word):
        """Set the table word of an allocated slot; NoEntry if it is not allocated.

        Runtime complexity: O(1).
        >>> dev = SwapDevice(64, cluster_size=16)
        >>> try: dev.set_table(5, 1)
        ... except NoEntry: print("not allocated")
        not allocated
        """
        cdef uint64_t off, w
        self._check_usable(False)
        off = to_offset(offset, &self.si)
        if type(word) is not int:
            word = PyNumber_Index(word)
        if not 0 <= word < (1 << 64):
            raise ValueError(f"table word {word} is outside 0 .. 2**64-1")
        w = word
        if self.si.map[off] != SLOT_USED:
            raise NoEntry(f"slot {off} is not allocated")
        swap_table_set(&self.si, off, w)

    def set_reclaim_hook(self, hook):
        """Plug a Python reclaim hook ``hook(device, offset) -> int``; None restores the default.

        The allocator calls the hook for a slot whose table word carries
        ``SWAP_TABLE_CACHE_ONLY`` when it wants the slot back: in a scan
        while the swap space is over half full, and in
        :meth:`reclaim_full_clusters`. The hook releases the slot (and its
        folio) with :meth:`free` and returns the number of slots freed (> 0),
        minus the number found but kept (< 0), or 0. It may call only
        free, free_many, get_table and set_table; an exception it raises is
        reported through ``sys.unraisablehook`` and counts as 0. A Python
        hook costs a Python call per candidate slot; compiled designs set
        ``swap_device_t.reclaim``/``reclaim_ctx`` from Cython instead. The
        default frees the one slot. Runtime complexity: O(1).
        >>> dev = SwapDevice(64, cluster_size=16)
        >>> dev.set_reclaim_hook(lambda d, off: 0); dev.set_reclaim_hook(None)
        """
        self._check_usable(True)
        if self._owner != NULL:
            raise ValueError(f"the device belongs to a live {self._owner_name}, "
                             "whose hook it carries; close it first")
        if hook is None:
            self._py_hook = None
            self.si.reclaim = swap_default_reclaim
            self.si.reclaim_ctx = NULL
            return
        if not callable(hook):
            raise TypeError(f"hook must be callable or None, not {type(hook).__name__}")
        self._py_hook = hook
        self.si.reclaim = python_reclaim
        self.si.reclaim_ctx = <void*>self

    def reclaim_full_clusters(self, force=True):
        """Run ``swap_reclaim_full_clusters``: the reclaim work when ``force``.

        Scans ``nr_used // cluster_size`` full clusters (one if not
        ``force``) and asks the hook to release every cache-only slot.
        Returns the slots reclaimed. Runtime complexity: O(clusters scanned
        * cluster_size).
        >>> dev = SwapDevice(17, cluster_size=16)
        >>> offs = dev.alloc_many(16); dev.set_table(int(offs[3]), SWAP_TABLE_CACHE_ONLY)
        >>> dev.reclaim_full_clusters(), dev.nr_used
        (1, 15)
        """
        self._check_usable(True)
        return swap_reclaim_full_clusters(&self.si, bool(force))

    def run_discard(self):
        """Run the discard work: discard and free every DISCARD cluster; return how many.

        Runtime complexity: O(clusters on the discard list).
        >>> dev = SwapDevice(64, cluster_size=16, discard=True)
        >>> dev.free(dev.alloc()); dev.free(dev.alloc(order=4), order=4)
        >>> dev.clusters()["discard"], dev.run_discard(), dev.clusters()["discard"]
        ([1, 2], 2, [])
        """
        self._check_usable(True)
        return swap_do_scheduled_discard(&self.si)

    # -- queries -------------------------------------------------------------------

    @property
    def name(self):
        """The device's name (for reports), or None. Runtime complexity: O(1).

        >>> SwapDevice(100, name="zram0").name
        'zram0'
        """
        return self._name

    @property
    def owner(self):
        """The class name of the design the device belongs to, or None. Runtime complexity: O(1).

        A device carries one design's hooks at a time; it is free again when
        that design is closed or collected.

        >>> from vswap import DirectSwap, SwapDevices
        >>> dev = SwapDevice(64, cluster_size=16); dev.owner is None
        True
        >>> with DirectSwap(SwapDevices([dev])): dev.owner
        'DirectSwap'
        >>> dev.owner is None
        True
        """
        return self._owner_name

    @property
    def nr_slots(self):
        """Slots of the device, header included (``si->max``). Runtime complexity: O(1).

        >>> SwapDevice(100, cluster_size=8).nr_slots
        100
        """
        return self.si.max

    @property
    def pages(self):
        """Usable slots: ``nr_slots - 1 - bad`` (``si->pages``). Runtime complexity: O(1).

        >>> SwapDevice(100, cluster_size=8, bad_slots=[5]).pages
        98
        """
        return self.si.pages

    @property
    def nr_used(self):
        """Allocated slots (``si->inuse_pages``). Runtime complexity: O(1).
        >>> dev = SwapDevice(100, cluster_size=8); _ = dev.alloc(order=2); dev.nr_used
        4
        """
        return self.si.inuse_pages

    @property
    def nr_free(self):
        """Free usable slots: ``pages - nr_used``. Runtime complexity: O(1).

        >>> dev = SwapDevice(100, cluster_size=8); _ = dev.alloc(); dev.nr_free
        98
        """
        return self.si.pages - self.si.inuse_pages

    @property
    def cluster_size(self):
        """Slots per cluster (``SWAPFILE_CLUSTER``). Runtime complexity: O(1).

        >>> SwapDevice(100).cluster_size
        512
        """
        return self.si.cluster_size

    @property
    def nr_clusters(self):
        """Clusters of the device, the tail one included. Runtime complexity: O(1).

        >>> SwapDevice(100, cluster_size=8).nr_clusters
        13
        """
        return self.si.nr_clusters

    @property
    def max_order(self):
        """Largest allocation order: ``log2(cluster_size)``. Runtime complexity: O(1).

        >>> SwapDevice(100, cluster_size=16).max_order
        4
        """
        return self.si.nr_orders - 1

    @property
    def priority(self):
        """Swap priority (``DEF_SWAP_PRIO``, -1, when none was given). Runtime complexity: O(1).

        >>> SwapDevice(100).priority, SwapDevice(100, priority=7).priority
        (-1, 7)
        """
        return self.si.prio

    @property
    def solid_state(self):
        """False for a rotating device (``!SWP_SOLIDSTATE``). Runtime complexity: O(1).

        >>> SwapDevice(100, solid_state=False).solid_state
        False
        """
        return bool(self.si.flags & SWP_SOLIDSTATE)

    @property
    def blockdev(self):
        """False for a swapfile on a filesystem (``!SWP_BLKDEV``: no large entries). Runtime complexity: O(1).

        >>> dev = SwapDevice(1024, cluster_size=16, blockdev=False)
        >>> dev.blockdev, dev.alloc(), dev.alloc_many(2, order=2).size
        (False, 1, 0)
        """
        return bool(self.si.flags & SWP_BLKDEV)

    @property
    def discard(self):
        """True if freed clusters are discarded first (``SWP_PAGE_DISCARD``). Runtime complexity: O(1).

        >>> SwapDevice(100, discard=True).discard
        True
        """
        return bool(self.si.flags & SWP_PAGE_DISCARD)

    @property
    def writeok(self):
        """False once the device is swapped off (``SWP_WRITEOK``). Runtime complexity: O(1).

        >>> dev = SwapDevice(100); swaps = SwapDevices([dev]); swaps.swapoff(dev); dev.writeok
        False
        """
        return bool(self.si.flags & SWP_WRITEOK)

    @property
    def swap_full(self):
        """``vm_swap_full()``: more than half of the swap space (of the set) is used.

        Runtime complexity: O(1).
        >>> dev = SwapDevice(9, cluster_size=8); _ = dev.alloc_many(5); dev.swap_full
        True
        """
        return vm_swap_full(&self.si)

    @property
    def reclaim_scheduled(self):
        """True once the device filled up while the swap space was over half full.

        The kernel then queues its reclaim work; here
        :meth:`reclaim_full_clusters` runs it and clears the flag. Runtime
        complexity: O(1).

        >>> dev = SwapDevice(9, cluster_size=8); _ = dev.alloc_many(8); dev.reclaim_scheduled
        True
        """
        return bool(self.si.reclaim_scheduled)

    @property
    def type(self):
        """Index of the device in its :class:`SwapDevices` (its swap type), or None.

        Runtime complexity: O(1).

        >>> dev = SwapDevice(100); t0 = dev.type; _ = SwapDevices([dev]); t0, dev.type
        (None, 0)
        """
        return None if self.si.type < 0 else self.si.type

    def slot_state(self, offset):
        """``"free"``, ``"used"`` or ``"bad"``. Runtime complexity: O(1).
        >>> dev = SwapDevice(32, cluster_size=8, bad_slots=[3])
        >>> dev.slot_state(0), dev.slot_state(3), dev.slot_state(dev.alloc())
        ('bad', 'bad', 'used')
        """
        self._check_usable(False)
        if type(offset) is not int:
            offset = PyNumber_Index(offset)
        if not 0 <= offset < self.si.max:
            raise ValueError(f"offset {offset} is outside 0 .. {self.si.max - 1}")
        return _SLOT_NAMES[self.si.map[<uint64_t>offset]]

    def cluster_info(self, index):
        """``(count, order, list name, has_table)`` of cluster ``index``. Runtime complexity: O(1).
        >>> dev = SwapDevice(64, cluster_size=16); _ = dev.alloc(order=2)
        >>> dev.cluster_info(0), dev.cluster_info(1), dev.cluster_info(2)
        ((1, 0, 'nonfull', True), (4, 2, 'frag', True), (0, 0, 'free', False))
        """
        self._check_usable(False)
        cdef int i = to_int(index, 0, self.si.nr_clusters - 1, "cluster index")
        cdef swap_cluster_info* ci = &self.si.cluster_info[i]
        return (ci.count, ci.order, _FLAG_NAMES[ci.flags], ci.table != NULL)

    def clusters(self):
        """Cluster indices by list, in list order: free, nonfull[o], frag[o], full, discard.

        Runtime complexity: O(nr_clusters).
        >>> dev = SwapDevice(64, cluster_size=16)
        >>> c = dev.clusters(); c["free"], c["nonfull"][0]
        ([1, 2, 3], [0])
        """
        self._check_usable(False)
        cdef int o
        return {
            "free": walk_list(&self.si, &self.si.free_clusters),
            "nonfull": [walk_list(&self.si, &self.si.nonfull_clusters[o])
                        for o in range(self.si.nr_orders)],
            "frag": [walk_list(&self.si, &self.si.frag_clusters[o])
                     for o in range(self.si.nr_orders)],
            "full": walk_list(&self.si, &self.si.full_clusters),
            "discard": walk_list(&self.si, &self.si.discard_clusters),
        }

    def percpu_cluster(self, cpu=0):
        """This CPU's cached next offset per order, for orders cached on this device.

        A rotating device reports its shared ``global_cluster`` offsets
        instead (``cpu`` is then ignored). Runtime complexity: O(orders).
        >>> dev = SwapDevice(64, cluster_size=16); _ = dev.alloc(cpu=1)
        >>> dev.percpu_cluster(1), dev.percpu_cluster(0)
        ({0: 2}, {})
        """
        self._check_usable(False)
        cdef int c = to_int(cpu, 0, NR_CPUS - 1, "cpu"), o
        out = {}
        for o in range(self.si.nr_orders):
            if not (self.si.flags & SWP_SOLIDSTATE):
                if self.si.global_next[o]:
                    out[o] = self.si.global_next[o]
            elif self.si.g.pcp[c].si[o] == &self.si and self.si.g.pcp[c].offset[o]:
                out[o] = self.si.g.pcp[c].offset[o]
        return out

    @property
    def stats(self):
        """Deterministic work counters, identical in the reference model.

        ``fast_hits``, ``slow_path``, ``failures``, ``clusters_scanned``,
        ``slots_scanned`` (candidate offsets), ``isolations``,
        ``list_moves``, ``discards``, ``sync_discards``, ``reclaim_calls``,
        ``reclaimed``, ``full_scans``, ``tables_allocated``,
        ``tables_freed``. Runtime complexity: O(1).
        >>> dev = SwapDevice(64, cluster_size=16); _ = dev.alloc(); _ = dev.alloc()
        >>> dev.stats["slow_path"], dev.stats["fast_hits"]
        (1, 1)
        """
        return self.si.stats   # the C struct as a dict, in field order (see XArray.stats)

    def reset_stats(self):
        """Zero every counter of :attr:`stats`. Runtime complexity: O(1).
        >>> dev = SwapDevice(64, cluster_size=16); _ = dev.alloc(); dev.reset_stats()
        >>> dev.stats["slow_path"]
        0
        """
        memset(&self.si.stats, 0, sizeof(swap_stats))

    def memory_footprint(self):
        """Bytes held, by part: ``map``, ``clusters``, ``tables`` and ``total``.

        ``map`` is one byte per slot (the allocator's slot state, static),
        ``clusters`` ``sizeof(swap_cluster_info)`` per cluster (static),
        ``tables`` 8 bytes per slot of every cluster that has a table
        (dynamic, like the kernel's swap table), ``table_cache`` the freed
        tables kept for reuse (at most 16). Runtime complexity: O(1).
        >>> dev = SwapDevice(1024, cluster_size=512); _ = dev.alloc()
        >>> dev.memory_footprint()["tables"]
        4096
        """
        m = <uint64_t>self.si.nr_clusters * self.si.cluster_size
        c = <uint64_t>self.si.nr_clusters * sizeof(swap_cluster_info)
        t = self.si.nr_tables * self.si.cluster_size * sizeof(uint64_t)
        k = <uint64_t>self.si.nr_table_cache * self.si.cluster_size * sizeof(uint64_t)
        return {"map": m, "clusters": c, "tables": t, "table_cache": k, "total": m + c + t + k}

    @property
    def nbytes(self):
        """Total bytes held (``memory_footprint()["total"]``). Runtime complexity: O(1).

        >>> dev = SwapDevice(1024, cluster_size=512); dev.nbytes == dev.memory_footprint()["total"]
        True
        """
        return self.memory_footprint()["total"]

    def __repr__(self):
        kind = "ssd" if self.si.flags & SWP_SOLIDSTATE else "hdd"
        if not self.si.flags & SWP_BLKDEV:
            kind += ", file"
        return (f"SwapDevice(name={self._name!r}, nr_slots={self.si.max}, used={self.si.inuse_pages}, "
                f"cluster_size={self.si.cluster_size}, prio={self.si.prio}, {kind})")

    def check(self):
        """Assert the invariants I1-I4, I8-I10 of one device; AssertionError with a dump.

        I1 every slot is free, used or bad, and a free slot has a zero table
        word; I2 each cluster's count is its non-free slots; I3
        ``nr_used`` is the used slots and, standalone, the free-slot
        counter matches; I4 every cluster is on exactly the list its flag
        names (no NONE cluster between calls), FREE => count 0, order 0,
        FULL => count == cluster_size, DISCARD => count 0, nonfull/frag
        lists indexed by the cluster's order; I8 a cluster has a table iff
        it is not FREE; I9 on the avail list iff writeok and not full;
        I10 the per-CPU hints naming this device point inside it and
        only while it is writeok. I5-I7 are checked per operation by the
        tests (alignment, order ownership); I11 (lock order) does not apply
        to this single-threaded model. Runtime complexity: O(nr_slots).
        >>> dev = SwapDevice(1000, cluster_size=32, bad_slots=[40]); _ = dev.alloc(order=5)
        >>> dev.check()
        """
        self._check_usable(False)
        errors = _check_device(self)
        if errors:
            raise AssertionError("SwapDevice invariant violated:\n  " + "\n  ".join(errors[:20])
                                 + "\n" + self._dump())

    def _dump(self):
        lines = [repr(self), f"inuse={self.si.inuse_pages} pages={self.si.pages} "
                 f"on_avail={self.si.on_avail} flags={self.si.flags:#x}"]
        for name, members in self.clusters().items():
            lines.append(f"  {name}: {members}")
        for i in range(min(self.si.nr_clusters, 32)):
            lines.append(f"  cluster {i}: {self.cluster_info(i)}")
        return "\n".join(lines)

    def _state(self):
        """Full observable state, for lockstep comparison with the reference."""
        self._check_usable(False)
        cdef uint64_t padded = <uint64_t>self.si.nr_clusters << self.si.cluster_shift
        cdef uint32_t i
        tables = {}
        for i in range(self.si.nr_clusters):
            if self.si.cluster_info[i].table != NULL:
                words = [(j, self.si.cluster_info[i].table[j]) for j in range(self.si.cluster_size)
                         if self.si.cluster_info[i].table[j]]
                tables[i] = words
        return {
            "map": (<char*>self.si.map)[:padded],
            "clusters": [self.cluster_info(i) for i in range(self.si.nr_clusters)],
            "lists": self.clusters(),
            "tables": tables,
            "inuse": self.si.inuse_pages,
            "table_cache": self.si.nr_table_cache,
            "pages": self.si.pages,
            "on_avail": bool(self.si.on_avail),
            "writeok": self.writeok,
            "reclaim_scheduled": bool(self.si.reclaim_scheduled),
            "pcp": [self.percpu_cluster(c) for c in range(4)],
            "stats": self.stats,
        }


cdef class SwapDevices:
    """A set of swap devices (the kernel's ``swap_info[]`` and ``swap_avail_head``).

    :meth:`swapon` adds a :class:`SwapDevice`; :meth:`alloc` is
    ``folio_alloc_swap``: the CPU's cached cluster first (whatever device it
    is on), then the devices on the avail list in priority order, each
    requeued behind its equal-priority peers before it is tried
    (``plist_requeue``: round robin). Order 0 falls through to the next
    device; a large order fails fast. All devices share one per-CPU cluster
    cache, ``nr_swap_pages`` and ``total_swap_pages`` (so ``vm_swap_full``
    is global). Every device needs the same ``cluster_size``.

    Runtime complexity: as :meth:`SwapDevice.alloc`, plus O(devices) for
    the priority list in the slow path.
    >>> fast, slow = SwapDevice(64, cluster_size=16, priority=10), SwapDevice(64, cluster_size=16)
    >>> swaps = SwapDevices([slow, fast])
    >>> swaps.alloc(), fast.type, slow.type, slow.priority
    ((1, 1), 1, 0, -1)
    """

    def __cinit__(self):
        swap_globals_init(&self.g)
        self._devices = []

    def __init__(self, devices=()):
        for dev in devices:
            self.swapon(dev)

    def swapon(self, SwapDevice dev not None):
        """Add a device (``swapon``); return its type (index in the set).

        The device leaves its own per-CPU cache and counts into this set;
        ValueError if it is in a set already, swapped off, or has another
        cluster size. Runtime complexity: O(devices).
        >>> swaps = SwapDevices(); swaps.swapon(SwapDevice(32, cluster_size=8))
        0
        """
        cdef int t
        dev._check_usable(True)
        if dev._set is not None:
            raise ValueError("the device is already in a SwapDevices set")
        if not dev.si.flags & SWP_WRITEOK:
            raise ValueError("the device is swapped off")
        for other in self._devices:
            if other is not None and (<SwapDevice>other).si.cluster_size != dev.si.cluster_size:
                raise ValueError("every device of a set needs the same cluster_size")
        if None in self._devices:
            t = self._devices.index(None)
        elif len(self._devices) < MAX_SWAPFILES:
            t = len(self._devices)
            self._devices.append(None)
        else:
            raise ValueError(f"a set holds at most {MAX_SWAPFILES} devices")
        del_from_avail_list(&dev.si)
        swap_globals_init(&dev.own_g)
        self._devices[t] = dev
        dev._set = self
        dev.si.type = t
        dev.si.g = &self.g
        self.g.total_swap_pages += dev.si.pages
        self.g.nr_swap_pages += dev.si.pages - dev.si.inuse_pages
        if dev.si.inuse_pages < dev.si.pages:
            add_to_avail_list(&dev.si)
        return t

    def swapoff(self, SwapDevice dev not None):
        """Take a device out of allocation (the first step of ``swapoff``).

        Clears ``SWP_WRITEOK``, removes it from the avail list, subtracts its
        pages from the totals and drops every per-CPU hint naming it. Its
        allocated slots stay readable and freeable (the designs above move
        the data and free them); it is never allocated from again. Runtime
        complexity: O(NR_CPUS * orders).
        >>> a, b = SwapDevice(32, cluster_size=8), SwapDevice(32, cluster_size=8)
        >>> swaps = SwapDevices([a, b]); swaps.swapoff(a); swaps.alloc()
        (1, 1)
        """
        dev._check_usable(True)
        if dev._set is not self:
            raise ValueError("the device is not in this set")
        if not dev.si.flags & SWP_WRITEOK:
            raise ValueError("the device is swapped off")
        del_from_avail_list(&dev.si)
        dev.si.flags &= ~SWP_WRITEOK
        self.g.nr_swap_pages -= dev.si.pages
        self.g.total_swap_pages -= dev.si.pages
        flush_percpu_swap_cluster(&dev.si)

    @property
    def owner(self):
        """The class name of the design that took the set, or None. Runtime complexity: O(1).

        >>> from vswap import VirtualSwap
        >>> swaps = SwapDevices(); vs = VirtualSwap(swaps); swaps.owner
        'VirtualSwap'
        >>> vs.close(); swaps.owner is None
        True
        """
        return self._owner_name

    def alloc(self, order=0, cpu=0):
        """Allocate ``2**order`` slots on some device; return ``(type, offset)``.

        NoSpace when no device can satisfy it. Runtime complexity: O(1)
        amortised on the fast path.
        >>> swaps = SwapDevices([SwapDevice(32, cluster_size=8), SwapDevice(32, cluster_size=8)])
        >>> swaps.alloc(order=3), swaps.alloc(order=3)
        ((0, 8), (1, 8))
        """
        cdef int o, c, max_order = SWAP_NR_ORDERS - 1
        cdef uint64_t off
        cdef swap_device_t* si = NULL
        for dev in self._devices:
            if dev is not None:
                (<SwapDevice>dev)._check_usable(True)
                max_order = (<SwapDevice>dev).si.nr_orders - 1
        o = to_int(order, 0, max_order, "order")
        c = to_int(cpu, 0, NR_CPUS - 1, "cpu")
        swap_alloc_set(&self.g, o, c, &si, &off)
        if off == 0:
            raise NoSpace(f"no free order-{o} range on any swap device")
        return (si.type, off)

    def __len__(self):
        """Devices in the set, swapped-off ones included. Runtime complexity: O(devices).

        >>> len(SwapDevices([SwapDevice(32, cluster_size=8), SwapDevice(32, cluster_size=8)]))
        2
        """
        return sum(1 for d in self._devices if d is not None)

    def __getitem__(self, t):
        """The device of type ``t``; KeyError if none. Runtime complexity: O(1).
        >>> dev = SwapDevice(32, cluster_size=8); swaps = SwapDevices([dev]); swaps[0] is dev
        True
        """
        if type(t) is not int:
            t = PyNumber_Index(t)
        if not 0 <= t < len(self._devices) or self._devices[t] is None:
            raise KeyError(t)
        return self._devices[t]

    def __iter__(self):
        """The devices by type. Runtime complexity: O(devices).

        >>> [d.name for d in SwapDevices([SwapDevice(32, name="a"), SwapDevice(32, name="b")])]
        ['a', 'b']
        """
        return iter([d for d in self._devices if d is not None])

    @property
    def avail(self):
        """Types on the avail list, in the order the slow path tries them.

        Runtime complexity: O(devices).
        >>> swaps = SwapDevices([SwapDevice(32, cluster_size=8) for _ in range(3)])
        >>> swaps.avail, swaps.alloc(), swaps.avail
        ([0, 1, 2], (0, 1), [1, 2, 0])
        """
        return [self.g.avail[i].type for i in range(self.g.nr_avail)]

    @property
    def nr_swap_pages(self):
        """Free slots of the set (``nr_swap_pages``). Runtime complexity: O(1).

        >>> swaps = SwapDevices([SwapDevice(32), SwapDevice(32)]); _ = swaps.alloc(); swaps.nr_swap_pages
        61
        """
        return self.g.nr_swap_pages

    @property
    def total_swap_pages(self):
        """Usable slots of the writable devices (``total_swap_pages``). Runtime complexity: O(1).

        >>> SwapDevices([SwapDevice(32), SwapDevice(32)]).total_swap_pages
        62
        """
        return self.g.total_swap_pages

    @property
    def swap_full(self):
        """``vm_swap_full()``: ``nr_swap_pages * 2 < total_swap_pages``. Runtime complexity: O(1).

        >>> swaps = SwapDevices([SwapDevice(32), SwapDevice(32)])
        >>> _ = swaps[0].alloc_many(31); s1 = swaps.swap_full; _ = swaps.alloc(); s1, swaps.swap_full
        (False, True)
        """
        return self.g.nr_swap_pages * 2 < self.g.total_swap_pages

    @property
    def stats(self):
        """Set-level counters (``fast_hits``, ``slow_path``, ``requeues``,
        ``fallthroughs``, ``failures``); per-device work is in each device's
        :attr:`SwapDevice.stats`. Runtime complexity: O(1).
        >>> swaps = SwapDevices([SwapDevice(32, cluster_size=8)]); _ = swaps.alloc(); _ = swaps.alloc()
        >>> swaps.stats["fast_hits"], swaps.stats["slow_path"]
        (1, 1)
        """
        return self.g.stats   # the C struct as a dict, in field order (see XArray.stats)

    def reset_stats(self):
        """Zero the set counters and every device's counters. Runtime complexity: O(devices).

        >>> swaps = SwapDevices([SwapDevice(32)]); _ = swaps.alloc(); swaps.reset_stats()
        >>> swaps.stats["slow_path"], swaps[0].stats["slow_path"]
        (0, 0)
        """
        memset(&self.g.stats, 0, sizeof(swap_set_stats))
        for dev in self:
            dev.reset_stats()

    def check(self):
        """Assert I3, I9, I10 for the set and every device's :meth:`SwapDevice.check`.

        ``nr_swap_pages`` = Σ over writable devices (pages - used) minus the
        used slots of swapped-off ones; ``total_swap_pages`` = Σ pages of
        writable devices; the avail list is sorted by priority and holds
        exactly the writable, non-full devices; every per-CPU hint names a
        writable device of the set. Runtime complexity: O(total slots).
        >>> swaps = SwapDevices([SwapDevice(32, cluster_size=8)]); _ = swaps.alloc(); swaps.check()
        """
        cdef int i, cpu, o
        cdef int64_t nr = 0, total = 0
        cdef SwapDevice d
        errors = []
        for dev in self:
            dev.check()
            d = dev
            if d.si.g != &self.g:
                errors.append(f"device {d.si.type} does not use the set's globals")
            if d.si.flags & SWP_WRITEOK:
                nr += d.si.pages - d.si.inuse_pages
                total += d.si.pages
            else:
                nr -= d.si.inuse_pages
        if nr != self.g.nr_swap_pages:
            errors.append(f"I3: nr_swap_pages {self.g.nr_swap_pages}, devices say {nr}")
        if total != self.g.total_swap_pages:
            errors.append(f"I3: total_swap_pages {self.g.total_swap_pages}, devices say {total}")
        for i in range(1, self.g.nr_avail):
            if self.g.avail[i - 1].prio < self.g.avail[i].prio:
                errors.append(f"I9: avail list not sorted by priority: {self.avail}")
        members = {<size_t>&(<SwapDevice>dd).si for dd in self}
        for cpu in range(NR_CPUS):
            for o in range(SWAP_NR_ORDERS):
                if self.g.pcp[cpu].si[o] != NULL and <size_t>self.g.pcp[cpu].si[o] not in members:
                    errors.append(f"I10: cpu {cpu} order {o} hint names a device not in the set")
        if errors:
            raise AssertionError("SwapDevices invariant violated:\n  " + "\n  ".join(errors))

    def _state(self):
        cdef int cpu, o
        hints = []
        for cpu in range(4):
            hints.append([(self.g.pcp[cpu].si[o].type if self.g.pcp[cpu].si[o] != NULL else None,
                           self.g.pcp[cpu].offset[o]) for o in range(SWAP_NR_ORDERS)])
        return {"avail": self.avail, "nr_swap_pages": self.g.nr_swap_pages,
                "total_swap_pages": self.g.total_swap_pages, "stats": self.stats,
                "hints": hints, "devices": [d._state() for d in self]}

    def __repr__(self):
        return f"SwapDevices({list(self)!r})"


def __getattr__(name):
    # SwapDesign and device ownership have their own module, vswap._design;
    # the old name stays importable from here (PEP 562).
    if name == "SwapDesign":
        from vswap._design import SwapDesign
        return SwapDesign
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
