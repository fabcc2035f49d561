# The virtual layer's cluster map: clusters of a virtual swap space kept in
# an allocating xarray keyed by cluster id (vswap v6's vswap_cluster_map,
# STE's ghost device), found by a counted walk or through a per-CPU
# most-recently-used cluster (v6's MRU cache). A cluster struct stored in
# the map must begin with its ``uint64_t id``. Its Python twin is
# vswap/reference/clustermap.py.

from libc.stdint cimport uint64_t

from vswap._xarray cimport xarray_t, xa_node, xa_load, xa_find


cdef struct cluster_head:
    uint64_t id                   # the first field of every cluster stored in a map


cdef inline void* cluster_map_walk(xarray_t* xa, uint64_t cid, uint64_t* walks,
                                   uint64_t* node_visits) noexcept nogil:
    """xa_load of cluster ``cid`` (or NULL): one counted walk and the nodes it entered."""
    cdef uint64_t before = xa.stats.node_visits
    cdef void* c
    walks[0] += 1
    c = <void*>xa_load(xa, cid)
    node_visits[0] += xa.stats.node_visits - before
    return c


cdef inline void* cluster_map_get(xarray_t* xa, uint64_t cid, void** mru, uint64_t* walks,
                                  uint64_t* node_visits, uint64_t* hits,
                                  uint64_t* misses) noexcept nogil:
    """Cluster ``cid`` (or NULL); with ``mru`` (the CPU's MRU slot, or NULL) a hit skips the walk."""
    cdef void* c
    if mru == NULL:
        return cluster_map_walk(xa, cid, walks, node_visits)
    c = mru[0]
    if c != NULL and (<cluster_head*>c).id == cid:
        hits[0] += 1
        return c
    misses[0] += 1
    c = cluster_map_walk(xa, cid, walks, node_visits)
    mru[0] = c
    return c


cdef inline void* cluster_map_next(xarray_t* xa, uint64_t* pos, uint64_t* cid) noexcept nogil:
    """The cluster with the lowest id >= ``*pos`` (``*cid`` its id), or NULL; ``*pos`` moves past it.

    Not counted: it serves check, snapshot and teardown, not the verbs."""
    cdef xa_node* leaf
    cdef uint64_t idx = pos[0], last = ~(<uint64_t>0)
    if idx == last and cid[0] == last:       # the last index was returned already
        return NULL
    if not xa_find(xa, &idx, last, -1, &leaf):
        return NULL
    cid[0] = idx
    pos[0] = idx + 1 if idx != last else idx
    return <void*>xa_load(xa, idx)


cdef inline list cluster_map_items(xarray_t* xa):
    """[(id, cluster pointer as int)] in id order (check and snapshot); reference twin of
    the same name. Not counted."""
    cdef uint64_t pos = 0, cid = 0
    cdef void* c = cluster_map_next(xa, &pos, &cid)
    out = []
    while c != NULL:
        out.append((cid, <uint64_t>c))
        c = cluster_map_next(xa, &pos, &cid)
    return out
