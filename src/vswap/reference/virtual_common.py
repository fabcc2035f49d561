"""What the virtual designs share (mirrors ``_virtual_common.pxd``): :class:`VirtualCommon`.

:class:`~vswap.reference.VirtualSwap` and
:class:`~vswap.reference.SwapTableEdition` both put a virtual swap space
(clusters in an xarray) above the physical slot allocator. Beside their
own per-entry layout they keep the same things: the cluster map and its
per-CPU lookup cache, the memcg charge of the entries that hold a
physical slot, the batch of physical slots they release
(:class:`BackingFrees`), swapoff's scan of the
reverse map, and the physical side of the metadata footprint. Those live
here, written once.

>>> from vswap.reference import VirtualSwap, SwapTableEdition
>>> from vswap.reference.virtual_common import VirtualCommon
>>> issubclass(VirtualSwap, VirtualCommon), issubclass(SwapTableEdition, VirtualCommon)
(True, True)
"""

from vswap.errors import NoSpace
import numpy as np

from vswap.reference.clustermap import cluster_map_items
from vswap.reference.common import to_u64
from vswap.reference.design import SwapDesign
from vswap.reference.swapfile import NR_CPUS, SLOT_USED, SWP_WRITEOK, SwapFreeBatch
from vswap.reference.xarray import XArray
from vswap.swapentry import (SWP_OFFSET_MASK, SWP_TYPE_SHIFT, MAX_SWAPFILES, MEMCG_MAX, SWAP_CLUSTER_INFO_BYTES, SWAP_NR_ORDERS,
                             SWAPFILE_CLUSTER)

__all__ = ["VirtualCommon", "BackingFrees", "ClusterHead", "SHIFT", "SIZE"]

#: A virtual cluster's slots (VCLUSTER_SHIFT / VCLUSTER_SIZE: a physical cluster's).
SHIFT = 9
SIZE = SWAPFILE_CLUSTER


class BackingFrees:
    """What the virtual designs count of the physical slots they release in batches.

    A :class:`SwapFreeBatch` per operation; at its end ``_pb_flush`` frees
    the last run and counts ``phys_frees`` (one per run), ``rmap_writes``
    (swap_entries_free clears each slot's reverse-map word) and
    ``_nr_phys``, as ``swap_batch_done`` does for the compiled designs.
    Runtime complexity: O(1) per slot.

    >>> from vswap.reference import VirtualSwap, SwapDevice, SwapDevices
    >>> vs = VirtualSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
    >>> e = vs.folio_alloc_swap(1); vs.swap_duplicate(e); _ = vs.writeback(e); vs.swap_free_nr(e)
    >>> vs.swap_cache_del_folio(e); vs.put_swap_folio(e); vs.stats["phys_frees"]
    1
    """

    def _pb_flush(self, b):
        runs, slots = b.done()
        self._st["phys_frees"] += runs
        self._st["rmap_writes"] += slots
        self._nr_phys -= slots

    def _pb_add(self, b, slot):
        b.add(self._devs[slot >> SWP_TYPE_SHIFT], slot & SWP_OFFSET_MASK)



def chunk_end(cur, end):
    """The end of ``cur``'s virtual cluster, or ``end`` if that comes first. O(1).

    >>> chunk_end(3, 2000), chunk_end(3, 10)
    (512, 10)
    """
    e = (cur | (SIZE - 1)) + 1
    return e if e < end else end


class ClusterHead:
    """What a virtual cluster starts with: its id, order and count of slots in use.

    >>> c = ClusterHead(3, 2); (c.id, c.order, c.count)
    (3, 2, 0)
    """

    def __init__(self, cid, order):
        self.id = cid
        self.order = order
        self.count = 0


class VirtualCommon(BackingFrees, SwapDesign):
    """The state and walks both virtual designs keep alike (see the module).

    It mirrors the compiled :class:`vswap._virtual_base.VirtualCommon`. A
    design calls :meth:`_virtual_init` from its ``__init__`` and provides
    ``_cluster``, ``_lookup_into`` (lookup_many's work), its per-design
    check and snapshot, ``_footprint_virtual`` and ``_footprint_dev`` (its
    virtual and per-device physical metadata).
    Runtime complexity: as the methods say.

    >>> from vswap.reference import VirtualSwap
    >>> vs = VirtualSwap(); vs.cpu = 3; vs.cpu
    3
    """

    #: The type of the design's own (ghost) device, which swapoff refuses; None: none.
    _ghost_type = None
    #: Bytes of the allocator's swap_cluster_info per physical cluster.
    _cluster_info_bytes = SWAP_CLUSTER_INFO_BYTES

    def _virtual_init(self, max_clusters):
        """The state both designs start with: an empty cluster map, nothing charged."""
        self._map = XArray(track_free=True)
        self._mru = [None] * NR_CPUS
        self._devs = [None] * MAX_SWAPFILES
        self._charge = {}
        self._max_clusters = max_clusters
        self._nr_clusters = 0
        self._nr_used = 0
        self._alloc_reject = 0
        self._nr_zswap = 0
        self._nr_phys = 0
        self._locked_lo = self._locked_hi = 0
        self._cpu = 0

    # -- the memcg charge of physically backed entries ------------------------------

    def _charge_add(self, memcg):
        self._charge[memcg] = self._charge.get(memcg, 0) + 1

    def _charge_sub(self, memcg):
        self._charge[memcg] -= 1
        if not self._charge[memcg]:
            del self._charge[memcg]

    # -- clusters -------------------------------------------------------------------

    def _cluster_insert(self, c, order):
        """Give new cluster ``c`` an id in the map (order-9 runs skip id 0); False when full.

        A full map is an allocation rejected (``alloc_reject``).
        """
        lo = 1 if order == SWAP_NR_ORDERS - 1 else 0
        try:
            c.id = self._map.alloc(c, lo, self._max_clusters - 1)
        except NoSpace:
            self._alloc_reject += 1
            return False
        self._nr_clusters += 1
        self._st["clusters_allocated"] += 1
        return True

    def _cluster_forget(self, c):
        """Take ``c`` out of the map and the per-CPU lookup cache."""
        self._map._erase(c.id)
        for i in range(NR_CPUS):
            if self._mru[i] is c:
                self._mru[i] = None
        self._nr_clusters -= 1
        self._st["clusters_freed"] += 1

    def _locked_chunks(self, cur, end):
        """``(cluster, first, end)`` per virtual cluster of ``cur .. end-1``, each locked."""
        while cur < end:
            ce = chunk_end(cur, end)
            c = self._cluster(cur >> SHIFT)
            self._st["cluster_locks"] += 1
            yield c, cur, ce
            cur = ce

    # -- the verbs' common checks ----------------------------------------------------

    @property
    def cpu(self):
        """The CPU of the verbs that take none (writeback's physical allocation). O(1)."""
        return self._cpu

    @cpu.setter
    def cpu(self, value):
        self._cpu = to_u64(value, NR_CPUS, "cpu")

    def _alloc_prepare(self, order, memcg, cpu):
        o = to_u64(order, SWAP_NR_ORDERS, "order")
        m = to_u64(memcg, MEMCG_MAX, "memcg")
        c = to_u64(cpu, NR_CPUS, "cpu")
        self._sync_devices()
        return o, m, c

    # -- the physical side -------------------------------------------------------------

    def _phys_alloc(self, lo, hi, o, cpu):
        """A physical order-``o`` run for entries ``lo .. hi-1``: ``(type, offset, device)``."""
        self._locked_lo, self._locked_hi = lo, hi
        try:
            t, off = self._swaps.alloc(o, cpu)
        except NoSpace:
            raise NoSpace(f"no free order-{o} physical run on any device") from None
        finally:
            self._locked_lo = self._locked_hi = 0
        self._st["phys_allocs"] += 1
        return t, off, self._devs[t]

    def _phys_written(self, b, nr):
        """After writeback's rmap words: the released backings freed, ``nr`` slots held."""
        self._pb_flush(b)
        self._nr_phys += nr
        self._st["rmap_writes"] += nr

    def _device(self, device):
        t = to_u64(device, MAX_SWAPFILES, "device type")
        self._sync_devices()
        if t == self._ghost_type:
            raise ValueError("vswap's ghost device is not swapped off (CONFIG_VSWAP only)")
        if self._devs[t] is None:
            raise ValueError(f"device type {t} is not attached to this design")
        return self._devs[t]

    def reclaim_cache_only(self, device):
        """Free the cache-only slots of device ``device``'s full clusters; the slots freed."""
        return self._device(device)._swap_reclaim_full_clusters(True)

    def _unuse_slots(self, si):
        """swapoff's scan: allocation stopped, ``(offset, batch)`` per used slot of ``si``.

        The batch of released backings is flushed when the scan ends.
        """
        if si._flags & SWP_WRITEOK:
            self._swaps.swapoff(self._swaps[si._type])
        b = SwapFreeBatch()
        for off in range(si._max):
            self._st["scans"] += 1
            if si._map[off] == SLOT_USED:
                yield off, b
        self._pb_flush(b)

    def lookup_many(self, entries):
        """See :meth:`vswap._virtual_base.VirtualCommon.lookup_many`."""
        kinds, handles = self._lookup_into(self._check_batch(entries, False, False))
        return np.array(kinds, dtype=np.uint8), np.array(handles, dtype=np.uint64)

    def _clusters(self):
        """[(id, cluster)] in id order (for check and snapshot)."""
        return cluster_map_items(self._map)

    def memory_footprint(self):
        """See :meth:`vswap._virtual_base.VirtualCommon.memory_footprint`."""
        return self._footprint_phys(self._footprint_virtual())

    def _footprint_phys(self, out):
        """The physical devices' metadata: cluster_info, the rmap, then the design's own."""
        for t, si in enumerate(self._devs):
            if si is None:
                continue
            out["cluster_info"] += self._cluster_info_bytes * len(si._cluster_info)
            out["rmap"] += 8 * si._nr_tables * si._cluster_size
            self._footprint_dev(out, t, si)
        out["total"] = sum(out.values())
        return out

    # -- check and snapshot's common part -------------------------------------------------

    def _check_totals(self, errors, used, nz, nphys, charges):
        """The counted totals and charges against the ones found; each device's hooks."""
        if used != self._nr_used or nz != self._nr_zswap or nphys != self._nr_phys:
            errors.append(f"totals: used {used}/{self._nr_used} zswap {nz}/{self._nr_zswap} "
                          f"phys {nphys}/{self._nr_phys}")
        if charges != self._charge:
            errors.append(f"memcg charges {self._charge} but slots {charges}")
        for t, si in enumerate(self._devs):
            if si is None:
                continue
            if si._owner is None or si._owner() is not self:
                errors.append(f"type {t}: reclaim hook is not this design's")
        if errors:
            raise AssertionError(f"{type(self).__name__} invariant violated:\n  "
                                 + "\n  ".join(errors[:20]))

    def _snapshot_common(self):
        return {"nr_used": self._nr_used, "nr_zswap": self._nr_zswap, "nr_phys": self._nr_phys,
                "alloc_reject": self._alloc_reject, "cpu": self._cpu,
                "stats": self.stats, "swaps": self._swaps._state()}

    def _mru_ids(self):
        return {k: c.id for k, c in enumerate(self._mru) if c is not None}

    def __repr__(self):
        return (f"{type(self).__name__}(clusters={self._nr_clusters}, used={self._nr_used}, "
                f"switches={self.switches})")
