"""The virtual layer's cluster map, reference twin of ``_clustermap.pxd``.

Clusters of a virtual swap space in an allocating :class:`~vswap.reference.XArray`
keyed by cluster id, found by a counted walk or through a per-CPU
most-recently-used cluster. ``st`` is the design's counter dict; ``names``
the four counters (walks, node visits, MRU hits, MRU misses).

>>> from vswap.reference.xarray import XArray
>>> from vswap.reference.clustermap import cluster_map_get
>>> xa, st, mru = XArray(), dict.fromkeys("wvhm", 0), [None]
>>> class C: id = 3
>>> xa[3] = c = C()
>>> [cluster_map_get(xa, 3, st, "wvhm", mru, 0) is c for _ in range(2)], st["w"], st["h"]
([True, True], 1, 1)
"""

__all__ = ["cluster_map_walk", "cluster_map_get", "cluster_map_items"]


def cluster_map_walk(xa, cid, st, names):
    """The cluster ``cid`` or None: one counted walk. Runtime complexity: O(tree height).

    >>> from vswap.reference.xarray import XArray
    >>> from vswap.reference.clustermap import cluster_map_walk
    >>> st = dict.fromkeys("wvhm", 0); cluster_map_walk(XArray(), 5, st, "wvhm"), st["w"]
    (None, 1)
    """
    before = xa._stats["node_visits"]
    st[names[0]] += 1
    c = xa._load(cid)
    st[names[1]] += xa._stats["node_visits"] - before
    return c


def cluster_map_get(xa, cid, st, names, mru=None, cpu=0):
    """The cluster ``cid`` or None; ``mru`` (a list per CPU, or None) saves walks on a hit.

    Runtime complexity: O(1) on a hit, O(tree height) otherwise.

    >>> from vswap.reference.xarray import XArray
    >>> from vswap.reference.clustermap import cluster_map_get
    >>> st = dict.fromkeys("wvhm", 0); cluster_map_get(XArray(), 5, st, "wvhm", [None], 0), st["m"]
    (None, 1)
    """
    if mru is None:
        return cluster_map_walk(xa, cid, st, names)
    c = mru[cpu]
    if c is not None and c.id == cid:
        st[names[2]] += 1
        return c
    st[names[3]] += 1
    c = cluster_map_walk(xa, cid, st, names)
    mru[cpu] = c
    return c


def cluster_map_items(xa):
    """[(id, cluster)] in id order, not counted (``cluster_map_next``'s walk, for check,
    snapshot and teardown). Runtime complexity: O(clusters log clusters).

    >>> from vswap.reference.xarray import XArray
    >>> from vswap.reference.clustermap import cluster_map_items
    >>> xa = XArray(); xa[9], xa[2] = "b", "a"; cluster_map_items(xa)
    [(2, 'a'), (9, 'b')]
    """
    return sorted(xa.items())
