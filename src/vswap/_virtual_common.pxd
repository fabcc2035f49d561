# What the virtual designs (VirtualSwap, SwapTableEdition) share: the head of
# their C state and the walks over it that do not depend on how an entry is
# laid out. Its reference twin is vswap/reference/virtual_common.py.
#
# Each design's state struct (vswap_t, ste_t) starts with the fields of
# vcommon_t, in this order and of these types (its per-CPU lookup cache as
# pointers to its own cluster type, which begins with the cluster id, as
# _clustermap.pxd needs); the helpers below take the state as a vcommon_t*.
# The memcg charge and the physical free batch (swap_free_batch of
# _swapfile.pxd) are counted here for both.

from libc.stdint cimport uint64_t

from vswap._common cimport to_u64
from vswap._swapentry cimport MAX_SWAPFILES, NR_CPUS, SWAP_NR_ORDERS, MEMCG_MAX
from vswap._design cimport SwapDesign
from vswap._swapfile cimport swap_device_t, SLOT_USED
from vswap._xarray cimport xarray_t


cdef struct vcommon_t:
    xarray_t map                        # the virtual clusters by id (XA_FLAGS_ALLOC)
    void* mru[NR_CPUS]                  # per-CPU lookup cache: the design's cluster pointers
    swap_device_t* devs[MAX_SWAPFILES]  # attached physical devices by type
    uint64_t* charge                    # memcg swap charge (physical backing), MEMCG_MAX counters
    uint64_t max_clusters
    uint64_t nr_clusters
    uint64_t nr_used                    # allocated virtual slots
    uint64_t alloc_reject
    uint64_t nr_zswap
    uint64_t nr_phys                    # physical slots backing entries
    uint64_t locked_lo                  # a run under writeout: reclaim skips it
    uint64_t locked_hi
    int cpu                             # the CPU of the verbs without a cpu argument


cdef struct vnode:
    # the head of a virtual cluster (vcluster, ste_vcluster): its id (as _clustermap.pxd
    # needs), then the links of the list it is on (partial or nonfull[order])
    uint64_t id
    vnode* prev
    vnode* next


cdef inline void vc_list_add(void** head, void** tail, void* c) noexcept nogil:
    """Put cluster ``c`` at the tail of the list ``(head, tail)``."""
    cdef vnode* n = <vnode*>c
    n.prev = <vnode*>tail[0]
    n.next = NULL
    if tail[0] != NULL:
        (<vnode*>tail[0]).next = n
    else:
        head[0] = c
    tail[0] = c


cdef inline void vc_list_del(void** head, void** tail, void* c) noexcept nogil:
    """Take cluster ``c`` off the list ``(head, tail)``."""
    cdef vnode* n = <vnode*>c
    if n.prev != NULL:
        n.prev.next = n.next
    else:
        head[0] = n.next
    if n.next != NULL:
        n.next.prev = n.prev
    else:
        tail[0] = n.prev
    n.prev = n.next = NULL


cdef inline vcommon_t* vc(void* v) noexcept nogil:
    return <vcommon_t*>v


cdef inline void vc_mru_forget(void* v, void* c) noexcept nogil:
    """A freed cluster leaves every CPU's lookup cache."""
    cdef int i
    for i in range(NR_CPUS):
        if vc(v).mru[i] == c:
            vc(v).mru[i] = NULL


cdef inline uint64_t vc_reclaim_step(uint64_t cur, int r) noexcept nogil:
    """The zap's reclaim pass: past the folio of ``|r|`` pages at ``cur`` (1 when none)."""
    if r < 0:
        r = -r
    if r > 0:
        return ((cur + <uint64_t>r) & ~(<uint64_t>r - 1)) - cur
    return 1


cdef inline int vc_alloc_prepare(SwapDesign ds, object order, object memcg, object cpu,
                                 uint64_t* o, uint64_t* m, uint64_t* c) except -1:
    """folio_alloc_swap's order, memcg and CPU, range-checked; the design's devices synced."""
    o[0] = to_u64(order, SWAP_NR_ORDERS, "order")
    m[0] = to_u64(memcg, MEMCG_MAX, "memcg")
    c[0] = to_u64(cpu, NR_CPUS, "cpu")
    ds._sync_devices()
    return 0


cdef inline void vc_drop_devices(void* v) noexcept nogil:
    """The design lets go of every physical device (close, collection)."""
    cdef int t
    for t in range(MAX_SWAPFILES):
        vc(v).devs[t] = NULL


cdef inline swap_device_t* vc_device(void* v, uint64_t t, uint64_t ghost) except NULL:
    """The attached physical device of type ``t`` (``ghost``: the design's own, refused)."""
    if t == ghost:
        raise ValueError("vswap's ghost device is not swapped off (CONFIG_VSWAP only)")
    if vc(v).devs[t] == NULL:
        raise ValueError(f"device type {t} is not attached to this design")
    return vc(v).devs[t]


cdef inline bint vc_slot_used(const swap_device_t* si, uint64_t off, uint64_t* scans) noexcept nogil:
    """swapoff's scan of a physical slot (counted in ``*scans``): allocated?"""
    scans[0] += 1
    return si.map[off] == SLOT_USED


cdef inline list vc_types(void* v):
    """The attached physical device types, in order."""
    return [t for t in range(MAX_SWAPFILES) if vc(v).devs[t] != NULL]


cdef inline dict vc_footprint_phys(void* v, dict out, uint64_t cluster_info_bytes):
    """The physical side of memory_footprint: cluster_info and the reverse map, per device."""
    cdef swap_device_t* si
    for t in vc_types(v):
        si = vc(v).devs[t]
        out["cluster_info"] += cluster_info_bytes * si.nr_clusters
        out["rmap"] += 8 * si.nr_tables * si.cluster_size
    return out


cdef inline dict vc_charged(void* v):
    """The memcg charges, as ``{memcg: slots}`` of the charged ones."""
    return {k: vc(v).charge[k] for k in range(MEMCG_MAX) if vc(v).charge[k]}


cdef inline object vc_check_totals(void* v, list errors, uint64_t used, uint64_t nz,
                                   uint64_t nphys, void* reclaim):
    """check(): the counted totals against those found; each device carries the hook."""
    cdef swap_device_t* si
    if used != vc(v).nr_used or nz != vc(v).nr_zswap or nphys != vc(v).nr_phys:
        errors.append(f"totals: used {used}/{vc(v).nr_used} zswap {nz}/{vc(v).nr_zswap} "
                      f"phys {nphys}/{vc(v).nr_phys}")
    for t in vc_types(v):
        si = vc(v).devs[t]
        if <void*>si.reclaim != reclaim or si.reclaim_ctx != v:
            errors.append(f"type {t}: reclaim hook is not this design's")


cdef inline dict vc_snapshot(void* v):
    """snapshot()'s common part: the lookup cache, charges and totals."""
    return {"charge": vc_charged(v), "nr_used": vc(v).nr_used, "nr_zswap": vc(v).nr_zswap,
            "nr_phys": vc(v).nr_phys, "alloc_reject": vc(v).alloc_reject, "cpu": vc(v).cpu}


cdef inline dict vc_mru_ids(void* v):
    """The per-CPU lookup cache as ``{cpu: cluster id}``."""
    return {k: (<uint64_t*>vc(v).mru[k])[0] for k in range(NR_CPUS) if vc(v).mru[k] != NULL}


cdef inline list vc_list_ids(void* head):
    """The ids of the clusters on a list (partial or nonfull[order]), head first."""
    cdef vnode* n = <vnode*>head
    ids = []
    while n != NULL:
        ids.append(n.id)
        n = n.next
    return ids


cdef inline int vc_ops_entry(uint64_t e, uint64_t* entry) noexcept nogil:
    """The verb table's allocation result: 1 when none (``e`` 0), else 0 and ``*entry``."""
    if e == 0:
        return 1
    entry[0] = e
    return 0
