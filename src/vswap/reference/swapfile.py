"""Pure-Python reference model of the swap slot allocator (mirrors ``_swapfile.pyx``).

Same API, results and counters as :class:`vswap.SwapDevice` and
:class:`vswap.SwapDevices`, and the same algorithm step by step (the
kernel's ``mm/swapfile.c`` cluster allocator, Linux 6.19), so a lockstep
test can compare every return value, exception and counter. It is slow
and meant for testing and reading; the compiled module is the one to use.
The function names follow the kernel and the compiled module.

>>> from vswap.reference import SwapDevice
>>> dev = SwapDevice(4096, cluster_size=64)
>>> dev.alloc(), dev.alloc(), dev.alloc(order=3)
(1, 2, 64)
"""

import operator
import sys

import numpy as np

from vswap.errors import NoEntry, NoSpace
from vswap.protocol import check_uint64_array
from vswap.swapentry import (MAX_SWAPFILES, NR_CPUS, SWAP_NR_ORDERS, SWAP_TABLE_CACHE_ONLY,
                             SWAPFILE_CLUSTER)

__all__ = ["SwapDevice", "SwapDevices", "SwapDesign", "SWAP_TABLE_CACHE_ONLY", "NR_CPUS",
           "DEF_SWAP_PRIO", "MAX_SWAPFILES", "swap_devices_claim", "swap_devices_release",
           "swap_device_attach", "swap_device_detach"]

DEF_SWAP_PRIO = -1
SWAP_TABLE_CACHE_MAX = 16

NONE, FREE, NONFULL, FRAG, FULL, DISCARD = range(6)
USABLE = FRAG
SLOT_FREE, SLOT_USED, SLOT_BAD, SLOT_FREEING = range(4)
SWP_WRITEOK, SWP_SOLIDSTATE, SWP_PAGE_DISCARD, SWP_BLKDEV = 1, 2, 4, 8
SWAP_EINVAL, SWAP_ENOENT = -22, -2

_FLAG_NAMES = ("none", "free", "nonfull", "frag", "full", "discard")
_SLOT_NAMES = ("free", "used", "bad")
_STATS = ("fast_hits", "slow_path", "failures", "clusters_scanned", "slots_scanned",
          "isolations", "list_moves", "discards", "sync_discards", "reclaim_calls",
          "reclaimed", "full_scans", "tables_allocated", "tables_freed")
_SET_STATS = ("fast_hits", "slow_path", "requeues", "fallthroughs", "failures")


class _Cluster:
    """``struct swap_cluster_info``; ``table`` is a list of words or None."""

    __slots__ = ("count", "flags", "order", "table")

    def __init__(self):
        self.count = 0
        self.flags = NONE
        self.order = 0
        self.table = None


class _Globals:
    """``percpu_swap_cluster``, ``nr_swap_pages``, ``total_swap_pages``, ``swap_avail_head``."""

    def __init__(self):
        self.pcp_si = [[None] * SWAP_NR_ORDERS for _ in range(NR_CPUS)]
        self.pcp_offset = [[0] * SWAP_NR_ORDERS for _ in range(NR_CPUS)]
        self.nr_swap_pages = 0
        self.total_swap_pages = 0
        self.avail = []
        self.stats = dict.fromkeys(_SET_STATS, 0)


def _to_int(v, lo, hi, what):
    v = operator.index(v)
    if v < lo or v > hi:
        raise ValueError(f"{what} {v} is outside {lo} .. {hi}")
    return v


def _raise_free_error(err, offset, order):
    if err == SWAP_EINVAL:
        raise ValueError(f"offset {offset} is misaligned or out of range for order {order}")
    raise NoEntry(f"slot range at {offset} (order {order}) is not allocated")


class SwapDevice:
    """One swap device (``swap_info_struct``) with the 6.19 cluster allocator.

    See :class:`vswap.SwapDevice`; this is the same model in pure Python.
    Lists are Python lists of cluster indices (head first). Runtime
    complexity: construction O(nr_slots).

    >>> from vswap.reference import SwapDevice
    >>> dev = SwapDevice(4096, cluster_size=64)
    >>> dev.alloc(), dev.alloc(), dev.alloc(order=3)
    (1, 2, 64)
    >>> dev.nr_used, dev.nr_free
    (10, 4085)
    """

    def __init__(self, nr_slots, *, priority=None, cluster_size=512, solid_state=True,
                 discard=False, bad_slots=(), name=None, blockdev=True):
        nr_slots = operator.index(nr_slots)
        if not 2 <= nr_slots <= 0xFFFFFFFF:
            raise ValueError(f"nr_slots {nr_slots} is outside 2 .. 2**32-1")
        cs = _to_int(cluster_size, 1, SWAPFILE_CLUSTER, "cluster_size")
        if cs & (cs - 1):
            raise ValueError(f"cluster_size {cs} is not a power of two")
        if priority is not None:
            _to_int(priority, -32768, 32767, "priority")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str or None, not {type(name).__name__}")
        bad = sorted({int(operator.index(b)) for b in bad_slots})
        if bad and (min(bad) < 0 or max(bad) >= nr_slots):
            raise ValueError(f"bad slots must lie in 0 .. {nr_slots - 1}")
        bad = [b for b in bad if b != 0]
        if nr_slots - 1 - len(bad) <= 0:
            raise ValueError("the device has no usable slot")
        self._name = name
        self._requested_prio = priority
        self._set = None
        self._py_hook = None
        self._in_hook = False
        self._cache_only = None   # virtual branch: the cache-only test of the layer above
        self._owner = None        # swap_device_attach: a weak reference to the owning design
        self._owner_name = None
        self._saved_reclaim = self._saved_cache_only = None
        self._own_g = _Globals()
        self._swap_device_init(nr_slots, cs, bad, solid_state, discard)
        if blockdev:
            self._flags |= SWP_BLKDEV

    # -- swapon (setup_clusters) -----------------------------------------------

    def _swap_device_init(self, nr_slots, cs, bad, solid_state, discard):
        shift = cs.bit_length() - 1
        nr_clusters = (nr_slots + cs - 1) >> shift
        padded = nr_clusters << shift
        self._max = nr_slots
        self._cluster_size = cs
        self._cluster_shift = shift
        self._nr_orders = shift + 1
        self._flags = SWP_WRITEOK | (SWP_SOLIDSTATE if solid_state else 0) | \
            (SWP_PAGE_DISCARD if discard else 0)
        self._prio = DEF_SWAP_PRIO if self._requested_prio is None else self._requested_prio
        self._type = -1
        self._on_avail = False
        self._reclaim_scheduled = False
        self._g = self._own_g
        self._reclaim = _default_reclaim
        self._inuse_pages = 0
        self._nr_tables = 0
        self._nr_table_cache = 0   # freed tables the compiled model keeps for reuse
        self._stats = dict.fromkeys(_STATS, 0)
        self._map = bytearray(padded)
        self._cluster_info = [_Cluster() for _ in range(nr_clusters)]
        self._free_clusters, self._full_clusters, self._discard_clusters = [], [], []
        self._nonfull_clusters = [[] for _ in range(SWAP_NR_ORDERS)]
        self._frag_clusters = [[] for _ in range(SWAP_NR_ORDERS)]
        self._global_next = [0] * SWAP_NR_ORDERS
        self._map[0] = SLOT_BAD
        for b in bad:
            self._map[b] = SLOT_BAD
        for s in range(nr_slots, padded):
            self._map[s] = SLOT_BAD
        for s in range(padded):
            if self._map[s] == SLOT_BAD:
                self._cluster_info[s >> shift].count += 1
        self.pages = nr_slots - 1 - len(bad)
        for i, ci in enumerate(self._cluster_info):
            if ci.count:
                ci.table = [0] * cs
                self._nr_tables += 1
                self._stats["tables_allocated"] += 1
                ci.flags = NONFULL
                self._nonfull_clusters[0].append(i)
            else:
                ci.flags = FREE
                self._free_clusters.append(i)
        self._g.total_swap_pages += self.pages
        self._g.nr_swap_pages += self.pages
        self._add_to_avail_list()

    # -- lists -----------------------------------------------------------------------

    def _list_of(self, ci):
        f = ci.flags
        if f == FREE:
            return self._free_clusters
        if f == NONFULL:
            return self._nonfull_clusters[ci.order]
        if f == FRAG:
            return self._frag_clusters[ci.order]
        if f == FULL:
            return self._full_clusters
        if f == DISCARD:
            return self._discard_clusters
        return None

    def _move_cluster(self, idx, lst, new_flags):
        ci = self._cluster_info[idx]
        if ci.flags != NONE:
            self._list_of(ci).remove(idx)
        lst.append(idx)
        ci.flags = new_flags
        self._stats["list_moves"] += 1

    def _add_to_avail_list(self):
        g = self._g
        if self._on_avail or not self._flags & SWP_WRITEOK:
            return
        pos = len(g.avail)
        for i, d in enumerate(g.avail):
            if d._prio < self._prio:
                pos = i
                break
        g.avail.insert(pos, self)
        self._on_avail = True

    def _del_from_avail_list(self):
        if not self._on_avail:
            return
        self._g.avail.remove(self)
        self._on_avail = False

    def _plist_requeue(self):
        self._del_from_avail_list()
        self._add_to_avail_list()
        self._g.stats["requeues"] += 1

    def _vm_swap_full(self):
        return self._g.nr_swap_pages * 2 < self._g.total_swap_pages

    def _swap_range_alloc(self, nr):
        self._inuse_pages += nr
        if self._inuse_pages == self.pages:
            self._del_from_avail_list()
            if self._vm_swap_full():
                self._reclaim_scheduled = True
        self._g.nr_swap_pages -= nr

    def _swap_range_free(self, nr):
        self._g.nr_swap_pages += nr
        self._inuse_pages -= nr
        if not self._on_avail:
            self._add_to_avail_list()

    # -- cluster state machine ---------------------------------------------------------

    @staticmethod
    def _cluster_is_usable(ci, order):
        if ci.flags > USABLE or ci.table is None:
            return False
        if order == 0:
            return True
        return ci.count == 0 or ci.order == order

    def _free_table(self, ci):
        if ci.table is not None:
            assert not any(ci.table), "I8: a freed table holds a non-zero word"
            self._nr_table_cache = min(self._nr_table_cache + 1, SWAP_TABLE_CACHE_MAX)
            ci.table = None
            self._nr_tables -= 1
            self._stats["tables_freed"] += 1

    def __free_cluster(self, idx):
        ci = self._cluster_info[idx]
        self._free_table(ci)
        self._move_cluster(idx, self._free_clusters, FREE)
        ci.order = 0

    def _free_cluster(self, idx):
        if self._flags & (SWP_WRITEOK | SWP_PAGE_DISCARD) == SWP_WRITEOK | SWP_PAGE_DISCARD:
            self._move_cluster(idx, self._discard_clusters, DISCARD)
            return
        self.__free_cluster(idx)

    def _partial_free_cluster(self, idx):
        ci = self._cluster_info[idx]
        if ci.flags != NONFULL:
            self._move_cluster(idx, self._nonfull_clusters[ci.order], NONFULL)

    def _relocate_cluster(self, idx):
        ci = self._cluster_info[idx]
        if ci.flags == DISCARD:
            return
        if ci.count == 0:
            if ci.flags != FREE:
                self._free_cluster(idx)
        elif ci.count != self._cluster_size:
            if ci.flags != FRAG:
                self._move_cluster(idx, self._frag_clusters[ci.order], FRAG)
        elif ci.flags != FULL:
            self._move_cluster(idx, self._full_clusters, FULL)

    def _isolate_lock_cluster(self, lst):
        if not lst:
            return -1
        idx = lst[0]
        ci = self._cluster_info[idx]
        if ci.table is None:
            ci.table = [0] * self._cluster_size
            self._nr_table_cache = max(self._nr_table_cache - 1, 0)
            self._nr_tables += 1
            self._stats["tables_allocated"] += 1
        del lst[0]
        ci.flags = NONE
        self._stats["isolations"] += 1
        return idx

    def _call_reclaim(self, offset):
        if self._reclaim is None:
            return 0
        self._stats["reclaim_calls"] += 1
        ret = self._reclaim(self, offset)
        if ret > 0:
            self._stats["reclaimed"] += ret
        return ret

    def _table_get(self, offset):
        t = self._cluster_info[offset >> self._cluster_shift].table
        return 0 if t is None else t[offset & (self._cluster_size - 1)]

    def _is_cache_only(self, offset):
        if self._map[offset] != SLOT_USED:
            return False
        if self._cache_only is not None:   # the layer above answers (vswap v5: no rmap bit)
            return self._cache_only(self, offset)
        return bool(self._table_get(offset) & SWAP_TABLE_CACHE_ONLY)

    def _cluster_scan_range(self, ci, offset, nr):
        """(ok, need_reclaim)"""
        need_reclaim = False
        if ci.count == 0:
            return True, False
        for o in range(offset, offset + nr):
            if self._map[o] != SLOT_FREE:
                if not self._is_cache_only(o) or not self._vm_swap_full():
                    return False, need_reclaim
                need_reclaim = True
        return True, need_reclaim

    def _cluster_reclaim_range(self, start, end):
        offset = start
        while True:
            if self._map[offset] == SLOT_FREE:
                offset += 1
            elif self._is_cache_only(offset):
                nr = self._call_reclaim(offset)
                if nr <= 0:
                    break
                offset += nr
            else:
                break
            if offset >= end:
                break
        return all(self._map[o] == SLOT_FREE for o in range(start, end))

    def _cluster_alloc_range(self, ci, offset, order):
        nr = 1 << order
        if not self._flags & SWP_WRITEOK:
            return False
        if ci.count == 0:
            ci.order = order
        self._map[offset:offset + nr] = bytes([SLOT_USED]) * nr
        ci.count += nr
        self._swap_range_alloc(nr)
        return True

    def _alloc_swap_scan_cluster(self, idx, offset, order, cpu):
        ci = self._cluster_info[idx]
        nr = 1 << order
        start = idx << self._cluster_shift
        end = min(start + self._cluster_size, self._max)
        next_off = found = 0
        self._stats["clusters_scanned"] += 1
        if end >= nr and ci.count + nr <= self._cluster_size:
            end -= nr
            while offset <= end:
                self._stats["slots_scanned"] += 1
                ok, need_reclaim = self._cluster_scan_range(ci, offset, nr)
                if not ok:
                    offset += nr
                    continue
                if need_reclaim:
                    ret = self._cluster_reclaim_range(offset, offset + nr)
                    if not self._cluster_is_usable(ci, order):
                        break
                    if ci.count == 0:
                        offset = start
                    if not ret:
                        offset += nr
                        continue
                if not self._cluster_alloc_range(ci, offset, order):
                    break
                found = offset
                offset += nr
                if ci.count < self._cluster_size and offset <= end:
                    next_off = offset
                break
        self._relocate_cluster(idx)
        if self._flags & SWP_SOLIDSTATE:
            self._g.pcp_offset[cpu][order] = next_off
            self._g.pcp_si[cpu][order] = self
        else:
            self._global_next[order] = next_off
        return found

    def _try_list(self, lst, order, cpu, every):
        """Isolate the head of ``lst`` and scan it; with ``every`` until the list is empty."""
        while (idx := self._isolate_lock_cluster(lst)) >= 0:
            found = self._alloc_swap_scan_cluster(idx, idx << self._cluster_shift, order, cpu)
            if found or not every:
                return found
        return 0

    def _swap_reclaim_full_clusters(self, force):
        to_scan = 1
        before = self._stats["reclaimed"]
        if force:
            to_scan = self._inuse_pages >> self._cluster_shift
            self._reclaim_scheduled = False
        while self._full_clusters:
            idx = self._isolate_lock_cluster(self._full_clusters)
            self._stats["full_scans"] += 1
            offset = idx << self._cluster_shift
            end = min(offset + self._cluster_size, self._max)
            to_scan -= 1
            while offset < end:
                if self._is_cache_only(offset):
                    nr = self._call_reclaim(offset)
                    if nr:
                        offset += abs(nr)
                        continue
                offset += 1
            if self._cluster_info[idx].flags == NONE:
                self._relocate_cluster(idx)
            if to_scan <= 0:
                break
        return self._stats["reclaimed"] - before

    def _swap_do_scheduled_discard(self):
        n = 0
        while self._discard_clusters:
            idx = self._discard_clusters.pop(0)
            self._cluster_info[idx].flags = NONE
            self.__free_cluster(idx)
            self._stats["discards"] += 1
            n += 1
        return n

    def _cluster_alloc_swap_entry(self, order, cpu):
        pmd_order = self._nr_orders - 1
        self._stats["slow_path"] += 1
        if order and not self._flags & SWP_BLKDEV:
            # A swapfile on a filesystem gets no large entries: its folios split.
            self._stats["failures"] += 1
            return 0
        if not self._flags & SWP_SOLIDSTATE:
            offset = self._global_next[order]
            if offset:
                ci = self._cluster_info[offset >> self._cluster_shift]
                if self._cluster_is_usable(ci, order):
                    if ci.count == 0:
                        offset = offset >> self._cluster_shift << self._cluster_shift
                    found = self._alloc_swap_scan_cluster(offset >> self._cluster_shift, offset, order, cpu)
                    if found:
                        return found
        discard = self._flags & SWP_PAGE_DISCARD
        while True:
            if discard and (found := self._try_list(self._free_clusters, order, cpu, False)):
                return found
            if order < pmd_order and (found := self._try_list(self._nonfull_clusters[order],
                                                              order, cpu, True)):
                return found
            if not discard and (found := self._try_list(self._free_clusters, order, cpu, False)):
                return found
            if self._vm_swap_full():
                self._swap_reclaim_full_clusters(False)
            if order < pmd_order and (found := self._try_list(self._frag_clusters[order],
                                                              order, cpu, False)):
                return found
            if discard and self._discard_clusters:
                self._stats["sync_discards"] += 1
                self._swap_do_scheduled_discard()
                continue
            break
        if order == 0:
            for o in range(1, self._nr_orders):
                for lst in (self._frag_clusters[o], self._nonfull_clusters[o]):
                    if found := self._try_list(lst, 0, cpu, True):
                        return found
        self._stats["failures"] += 1
        return 0

    @staticmethod
    def _swap_alloc_fast(g, only, order, cpu):
        """(device, offset) or (None, 0)."""
        si = g.pcp_si[cpu][order]
        offset = g.pcp_offset[cpu][order]
        if si is None or offset == 0:
            return None, 0
        if only is not None and si is not only:
            return None, 0
        if not si._flags & SWP_WRITEOK:
            return None, 0
        ci = si._cluster_info[offset >> si._cluster_shift]
        if not si._cluster_is_usable(ci, order):
            return None, 0
        if ci.count == 0:
            offset = offset >> si._cluster_shift << si._cluster_shift
        found = si._alloc_swap_scan_cluster(offset >> si._cluster_shift, offset, order, cpu)
        if found:
            si._stats["fast_hits"] += 1
            return si, found
        return None, 0

    def _swap_device_alloc(self, order, cpu):
        if not self._flags & SWP_WRITEOK:
            return 0
        _, found = self._swap_alloc_fast(self._g, self, order, cpu)
        if found:
            return found
        return self._cluster_alloc_swap_entry(order, cpu)

    def _swap_check_range(self, offset, order):
        if order < 0 or order >= self._nr_orders:
            return SWAP_EINVAL
        nr = 1 << order
        if offset >= self._max or offset & (nr - 1) or offset + nr > self._max:
            return SWAP_EINVAL
        if any(self._map[i] != SLOT_USED for i in range(offset, offset + nr)):
            return SWAP_ENOENT
        return 0

    def _swap_entries_free(self, offset, nr):
        idx = offset >> self._cluster_shift
        ci = self._cluster_info[idx]
        ci.count -= nr
        self._map[offset:offset + nr] = bytes(nr)
        if ci.table is not None:
            i = offset & (self._cluster_size - 1)
            ci.table[i:i + nr] = [0] * nr
        self._swap_range_free(nr)
        if ci.count == 0:
            self._free_cluster(idx)
        else:
            self._partial_free_cluster(idx)

    def _flush_percpu_swap_cluster(self):
        for cpu in range(NR_CPUS):
            row = self._g.pcp_si[cpu]
            for o in range(SWAP_NR_ORDERS):
                if row[o] is self:
                    row[o] = None

    def _check_usable(self, mutating):
        if mutating and self._in_hook:
            raise RuntimeError("only free, free_many, get_table and set_table may be "
                               "called from a reclaim hook")

    def _to_offset(self, v):
        v = operator.index(v)
        if v < 0 or v >= self._max:
            raise ValueError(f"offset {v} is outside 0 .. {self._max - 1}")
        return v

    # -- public API (see vswap.SwapDevice for the full documentation) ----------------

    def alloc(self, order=0, cpu=0):
        """Allocate ``2**order`` slots; return the first (aligned) offset. O(1) amortised.

        >>> from vswap.reference import SwapDevice
        >>> dev = SwapDevice(1024, cluster_size=16)
        >>> dev.alloc(order=2), dev.alloc(order=2), dev.alloc()
        (16, 20, 1)
        """
        self._check_usable(True)
        o = _to_int(order, 0, self._nr_orders - 1, "order")
        c = _to_int(cpu, 0, NR_CPUS - 1, "cpu")
        off = self._swap_device_alloc(o, c)
        if off == 0:
            raise NoSpace(f"no free order-{o} range on the swap device")
        return off

    def alloc_many(self, n, order=0, cpu=0):
        """Allocate up to ``n`` ranges of ``2**order`` slots; a uint64 array. O(n).

        >>> from vswap.reference import SwapDevice
        >>> SwapDevice(10, cluster_size=4).alloc_many(100)
        array([1, 2, 3, 8, 9, 4, 5, 6, 7], dtype=uint64)
        """
        self._check_usable(True)
        n = operator.index(n)
        if n < 0:
            raise ValueError(f"n {n} is negative")
        o = _to_int(order, 0, self._nr_orders - 1, "order")
        c = _to_int(cpu, 0, NR_CPUS - 1, "cpu")
        count = min(n, (self.pages - self._inuse_pages) >> o)
        out = []
        while len(out) < count:
            off = self._swap_device_alloc(o, c)
            if off == 0:
                break
            out.append(off)
        return np.array(out, dtype=np.uint64)

    def free(self, offset, order=0):
        """Free the ``2**order`` slots at ``offset``. O(2**order).

        >>> from vswap.reference import SwapDevice
        >>> dev = SwapDevice(64, cluster_size=16)
        >>> off = dev.alloc(order=1); dev.free(off, order=1); dev.nr_used
        0
        """
        self._check_usable(False)
        o = _to_int(order, 0, self._nr_orders - 1, "order")
        off = self._to_offset(offset)
        err = self._swap_check_range(off, o)
        if err:
            _raise_free_error(err, off, o)
        self._swap_entries_free(off, 1 << o)

    def free_many(self, offsets, order=0):
        """Free every ``2**order`` range in ``offsets`` (uint64 array), all or nothing.

        >>> from vswap.reference import SwapDevice
        >>> dev = SwapDevice(64, cluster_size=16)
        >>> dev.free_many(dev.alloc_many(5)); dev.nr_used
        0
        """
        self._check_usable(False)
        arr = check_uint64_array(offsets, "offsets")
        o = _to_int(order, 0, self._nr_orders - 1, "order")
        nr = 1 << o
        vals = [int(v) for v in arr]
        for i, v in enumerate(vals):
            err = self._swap_check_range(v, o)
            if err:
                for w in vals[:i]:
                    self._map[w:w + nr] = bytes([SLOT_USED]) * nr
                _raise_free_error(err, v, o)
            self._map[v:v + nr] = bytes([SLOT_FREEING]) * nr
        for v in vals:
            self._map[v:v + nr] = bytes([SLOT_USED]) * nr
            self._swap_entries_free(v, nr)

    def get_table(self, offset):
        """The 64-bit table word of a slot (0 for a free or bad slot). O(1).

        >>> from vswap.reference import SwapDevice
        >>> dev = SwapDevice(64, cluster_size=16)
        >>> off = dev.alloc(); dev.set_table(off, 0xabc); hex(dev.get_table(off))
        '0xabc'
        """
        return self._table_get(self._to_offset(offset))

    def set_table(self, offset, word):
        """Set the table word of an allocated slot; NoEntry if it is not allocated. O(1).

        >>> from vswap.reference import SwapDevice
        >>> from vswap import NoEntry
        >>> try: SwapDevice(64, cluster_size=16).set_table(5, 1)
        ... except NoEntry: print("not allocated")
        not allocated
        """
        off = self._to_offset(offset)
        word = operator.index(word)
        if not 0 <= word < (1 << 64):
            raise ValueError(f"table word {word} is outside 0 .. 2**64-1")
        if self._map[off] != SLOT_USED:
            raise NoEntry(f"slot {off} is not allocated")
        self._cluster_info[off >> self._cluster_shift].table[off & (self._cluster_size - 1)] = word

    def set_reclaim_hook(self, hook):
        """Plug a reclaim hook ``hook(device, offset) -> int``; None restores the default. O(1).

        >>> from vswap.reference import SwapDevice
        >>> SwapDevice(64, cluster_size=16).set_reclaim_hook(lambda d, off: 0)
        """
        self._check_usable(True)
        if live_owner(self) is not None:
            raise ValueError(f"the device belongs to a live {self._owner_name}, "
                             "whose hook it carries; close it first")
        if hook is None:
            self._py_hook = None
            self._reclaim = _default_reclaim
            return
        if not callable(hook):
            raise TypeError(f"hook must be callable or None, not {type(hook).__name__}")
        self._py_hook = hook
        self._reclaim = _python_reclaim

    def reclaim_full_clusters(self, force=True):
        """Run ``swap_reclaim_full_clusters``; return the slots reclaimed.

        >>> from vswap.reference import SwapDevice, SWAP_TABLE_CACHE_ONLY
        >>> dev = SwapDevice(17, cluster_size=16)
        >>> offs = dev.alloc_many(16); dev.set_table(int(offs[3]), SWAP_TABLE_CACHE_ONLY)
        >>> dev.reclaim_full_clusters(), dev.nr_used
        (1, 15)
        """
        self._check_usable(True)
        return self._swap_reclaim_full_clusters(bool(force))

    def run_discard(self):
        """Run the discard work; return the clusters discarded.

        >>> from vswap.reference import SwapDevice
        >>> dev = SwapDevice(64, cluster_size=16, discard=True)
        >>> dev.free(dev.alloc()); dev.run_discard()
        1
        """
        self._check_usable(True)
        return self._swap_do_scheduled_discard()

    name = property(lambda self: self._name, doc="The device's name, or None.")
    owner = property(lambda self: (live_owner(self), self._owner_name)[1],
                     doc="The class name of the design the device belongs to, or None.")
    nr_slots = property(lambda self: self._max, doc="Slots of the device, header included.")
    nr_used = property(lambda self: self._inuse_pages, doc="Allocated slots.")
    nr_free = property(lambda self: self._pages - self._inuse_pages, doc="Free usable slots.")
    cluster_size = property(lambda self: self._cluster_size, doc="Slots per cluster.")
    nr_clusters = property(lambda self: len(self._cluster_info), doc="Clusters of the device.")
    max_order = property(lambda self: self._nr_orders - 1, doc="Largest allocation order.")
    priority = property(lambda self: self._prio, doc="Swap priority.")
    solid_state = property(lambda self: bool(self._flags & SWP_SOLIDSTATE), doc="Not rotating.")
    discard = property(lambda self: bool(self._flags & SWP_PAGE_DISCARD), doc="SWP_PAGE_DISCARD.")
    blockdev = property(lambda self: bool(self._flags & SWP_BLKDEV),
                        doc="SWP_BLKDEV: False for a swapfile on a filesystem (no large entries).")
    writeok = property(lambda self: bool(self._flags & SWP_WRITEOK), doc="Not swapped off.")
    swap_full = property(lambda self: self._vm_swap_full(), doc="vm_swap_full().")
    reclaim_scheduled = property(lambda self: self._reclaim_scheduled, doc="Reclaim work queued.")
    type = property(lambda self: None if self._type < 0 else self._type, doc="Type in its set.")

    @property
    def pages(self):
        """Usable slots: ``nr_slots - 1 - bad``."""
        return self._pages

    @pages.setter
    def pages(self, value):
        self._pages = value

    def slot_state(self, offset):
        """``"free"``, ``"used"`` or ``"bad"``. O(1)."""
        offset = operator.index(offset)
        if not 0 <= offset < self._max:
            raise ValueError(f"offset {offset} is outside 0 .. {self._max - 1}")
        return _SLOT_NAMES[self._map[offset]]

    def cluster_info(self, index):
        """``(count, order, list name, has_table)`` of a cluster. O(1)."""
        i = _to_int(index, 0, len(self._cluster_info) - 1, "cluster index")
        ci = self._cluster_info[i]
        return (ci.count, ci.order, _FLAG_NAMES[ci.flags], ci.table is not None)

    def clusters(self):
        """Cluster indices by list, in list order. O(nr_clusters)."""
        return {
            "free": list(self._free_clusters),
            "nonfull": [list(self._nonfull_clusters[o]) for o in range(self._nr_orders)],
            "frag": [list(self._frag_clusters[o]) for o in range(self._nr_orders)],
            "full": list(self._full_clusters),
            "discard": list(self._discard_clusters),
        }

    def percpu_cluster(self, cpu=0):
        """This CPU's cached next offset per order on this device. O(orders)."""
        c = _to_int(cpu, 0, NR_CPUS - 1, "cpu")
        out = {}
        for o in range(self._nr_orders):
            if not self._flags & SWP_SOLIDSTATE:
                if self._global_next[o]:
                    out[o] = self._global_next[o]
            elif self._g.pcp_si[c][o] is self and self._g.pcp_offset[c][o]:
                out[o] = self._g.pcp_offset[c][o]
        return out

    @property
    def stats(self):
        """Deterministic work counters, identical to the compiled model's."""
        return dict(self._stats)

    def reset_stats(self):
        """Zero every counter."""
        self._stats = dict.fromkeys(_STATS, 0)

    def memory_footprint(self):
        """Bytes the compiled model would hold for this state (24-byte cluster_info)."""
        m = len(self._cluster_info) * self._cluster_size
        c = len(self._cluster_info) * 24
        t = self._nr_tables * self._cluster_size * 8
        k = self._nr_table_cache * self._cluster_size * 8
        return {"map": m, "clusters": c, "tables": t, "table_cache": k, "total": m + c + t + k}

    nbytes = property(lambda self: self.memory_footprint()["total"], doc="Total bytes.")

    def __repr__(self):
        kind = "ssd" if self._flags & SWP_SOLIDSTATE else "hdd"
        if not self._flags & SWP_BLKDEV:
            kind += ", file"
        return (f"SwapDevice(name={self._name!r}, nr_slots={self._max}, used={self._inuse_pages}, "
                f"cluster_size={self._cluster_size}, prio={self._prio}, {kind})")

    def check(self):
        """Assert the invariants I1-I4, I8-I10 (see :meth:`vswap.SwapDevice.check`)."""
        errors = _check_device(self)
        if errors:
            raise AssertionError("SwapDevice invariant violated:\n  " + "\n  ".join(errors[:20])
                                 + "\n" + repr(self.clusters()))

    def _state(self):
        tables = {i: [(j, w) for j, w in enumerate(ci.table) if w]
                  for i, ci in enumerate(self._cluster_info) if ci.table is not None}
        return {
            "map": bytes(self._map),
            "clusters": [self.cluster_info(i) for i in range(len(self._cluster_info))],
            "lists": self.clusters(),
            "tables": tables,
            "inuse": self._inuse_pages,
            "table_cache": self._nr_table_cache,
            "pages": self._pages,
            "on_avail": self._on_avail,
            "writeok": self.writeok,
            "reclaim_scheduled": self._reclaim_scheduled,
            "pcp": [self.percpu_cluster(c) for c in range(4)],
            "stats": self.stats,
        }


def _default_reclaim(si, offset):
    if offset < si._max and si._is_cache_only(offset):
        si._swap_entries_free(offset, 1)
        return 1
    return 0


def _python_reclaim(si, offset):
    si._in_hook = True
    try:
        r = operator.index(si._py_hook(si, offset))
        return max(-si._cluster_size, min(si._cluster_size, r))
    except BaseException as exc:  # reported like the compiled trampoline does
        sys.unraisablehook(_Unraisable(exc, si._py_hook))
        return 0
    finally:
        si._in_hook = False


class _Unraisable:
    def __init__(self, exc, obj):
        self.exc_type = type(exc)
        self.exc_value = exc
        self.exc_traceback = exc.__traceback__
        self.err_msg = "Exception ignored in a SwapDevice reclaim hook"
        self.object = obj


def _check_device(si):
    errors = []
    used = 0
    for i, ci in enumerate(si._cluster_info):
        base = i << si._cluster_shift
        nonfree = 0
        for s in range(base, base + si._cluster_size):
            m = si._map[s]
            if m > SLOT_BAD:
                errors.append(f"I1: slot {s} has state {m}")
            if m != SLOT_FREE:
                nonfree += 1
            if m == SLOT_USED:
                used += 1
            if m in (SLOT_FREE, SLOT_BAD) and ci.table is not None and ci.table[s - base]:
                errors.append(f"I1: slot {s} has table word {ci.table[s - base]:#x}")
            if s >= si._max and m != SLOT_BAD:
                errors.append(f"I2: tail slot {s} is not counted bad")
        if nonfree != ci.count:
            errors.append(f"I2: cluster {i} count {ci.count} but {nonfree} non-free slots")
    if si._map[0] != SLOT_BAD:
        errors.append("I1: the header slot 0 is not bad")
    if used != si._inuse_pages:
        errors.append(f"I3: inuse_pages {si._inuse_pages} but {used} used slots")
    if sum(ci.table is not None for ci in si._cluster_info) != si._nr_tables:
        errors.append("I8: nr_tables does not match")
    if si._g is si._own_g:
        if si._flags & SWP_WRITEOK and si._g.nr_swap_pages != si._pages - si._inuse_pages:
            errors.append("I3: nr_swap_pages != pages - inuse")
        if si._g.total_swap_pages != si._pages:
            errors.append("I3: total_swap_pages != pages")
    seen = [0] * len(si._cluster_info)
    lists = [("free", si._free_clusters, FREE, -1), ("full", si._full_clusters, FULL, -1),
             ("discard", si._discard_clusters, DISCARD, -1)]
    for o in range(si._nr_orders):
        lists.append((f"nonfull[{o}]", si._nonfull_clusters[o], NONFULL, o))
        lists.append((f"frag[{o}]", si._frag_clusters[o], FRAG, o))
    for name, members, flag, order in lists:
        for idx in members:
            ci = si._cluster_info[idx]
            seen[idx] += 1
            if ci.flags != flag:
                errors.append(f"I4: cluster {idx} on {name} has flag {_FLAG_NAMES[ci.flags]}")
            if order >= 0 and ci.order != order:
                errors.append(f"I4: cluster {idx} on {name} has order {ci.order}")
    for i, ci in enumerate(si._cluster_info):
        if seen[i] != 1:
            errors.append(f"I4: cluster {i} ({_FLAG_NAMES[ci.flags]}) is on {seen[i]} lists")
        if ci.flags == FREE and (ci.count or ci.order or ci.table is not None):
            errors.append(f"I4/I8: free cluster {i} is not empty/order 0/tableless")
        if ci.flags != FREE and ci.table is None:
            errors.append(f"I8: cluster {i} has no table")
        if ci.flags == FULL and ci.count != si._cluster_size:
            errors.append(f"I4: full cluster {i} has count {ci.count}")
        if ci.flags == DISCARD and ci.count:
            errors.append(f"I4: discard cluster {i} has count {ci.count}")
        if ci.flags == NONFULL and ci.count == 0:
            errors.append(f"I4: nonfull cluster {i} is empty")
        if ci.flags == FRAG and not 0 < ci.count < si._cluster_size:
            errors.append(f"I4: frag cluster {i} has count {ci.count}")
    want = bool(si._flags & SWP_WRITEOK) and si._inuse_pages < si._pages
    if si._on_avail != want:
        errors.append(f"I9: on_avail {si._on_avail} but writeok/not-full is {want}")
    if sum(d is si for d in si._g.avail) != (1 if si._on_avail else 0):
        errors.append("I9: device appears a wrong number of times on the avail list")
    for cpu in range(NR_CPUS):
        for o in range(SWAP_NR_ORDERS):
            if si._g.pcp_si[cpu][o] is not si:
                continue
            if not si._flags & SWP_WRITEOK:
                errors.append(f"I10: cpu {cpu} order {o} hint names a swapped-off device")
            s = si._g.pcp_offset[cpu][o]
            if s >= si._max or o >= si._nr_orders or s & ((1 << o) - 1):
                errors.append(f"I10: cpu {cpu} order {o} hint offset {s} invalid")
    for o in range(si._nr_orders):
        s = si._global_next[o]
        if s >= si._max or s & ((1 << o) - 1):
            errors.append(f"I10: global_cluster next[{o}] = {s} invalid")
    return errors


class SwapDevices:
    """A set of swap devices; see :class:`vswap.SwapDevices`.

    >>> from vswap.reference import SwapDevice, SwapDevices
    >>> fast, slow = SwapDevice(64, cluster_size=16, priority=10), SwapDevice(64, cluster_size=16)
    >>> swaps = SwapDevices([slow, fast])
    >>> swaps.alloc(), fast.type, slow.type, slow.priority
    ((1, 1), 1, 0, -1)
    """

    def __init__(self, devices=()):
        self._g = _Globals()
        self._devices = []
        self._owner = None         # swap_devices_claim: a weak reference to the owning design
        self._owner_name = None
        for dev in devices:
            self.swapon(dev)

    @staticmethod
    def _usable(dev, in_set, error):
        """TypeError/ValueError unless ``dev`` is a writable device whose set is ``in_set``."""
        if not isinstance(dev, SwapDevice):
            raise TypeError(f"expected a reference SwapDevice, not {type(dev).__name__}")
        dev._check_usable(True)
        if dev._set is not in_set:
            raise ValueError(error)
        if not dev._flags & SWP_WRITEOK:
            raise ValueError("the device is swapped off")

    def swapon(self, dev):
        """Add a device; return its type."""
        self._usable(dev, None, "the device is already in a SwapDevices set")
        for other in self._devices:
            if other is not None and other._cluster_size != dev._cluster_size:
                raise ValueError("every device of a set needs the same cluster_size")
        if None in self._devices:
            t = self._devices.index(None)
        elif len(self._devices) < MAX_SWAPFILES:
            t = len(self._devices)
            self._devices.append(None)
        else:
            raise ValueError(f"a set holds at most {MAX_SWAPFILES} devices")
        dev._del_from_avail_list()
        dev._own_g = _Globals()
        self._devices[t] = dev
        dev._set = self
        dev._type = t
        dev._g = self._g
        self._g.total_swap_pages += dev._pages
        self._g.nr_swap_pages += dev._pages - dev._inuse_pages
        if dev._inuse_pages < dev._pages:
            dev._add_to_avail_list()
        return t

    owner = property(lambda self: (live_owner(self), self._owner_name)[1],
                     doc="The class name of the design that took the set, or None.")

    def swapoff(self, dev):
        """Take a device out of allocation."""
        self._usable(dev, self, "the device is not in this set")
        dev._del_from_avail_list()
        dev._flags &= ~SWP_WRITEOK
        self._g.nr_swap_pages -= dev._pages
        self._g.total_swap_pages -= dev._pages
        dev._flush_percpu_swap_cluster()

    def alloc(self, order=0, cpu=0):
        """Allocate ``2**order`` slots on some device; return ``(type, offset)``."""
        max_order = SWAP_NR_ORDERS - 1
        for dev in self._devices:
            if dev is not None:
                dev._check_usable(True)
                max_order = dev._nr_orders - 1
        o = _to_int(order, 0, max_order, "order")
        c = _to_int(cpu, 0, NR_CPUS - 1, "cpu")
        g = self._g
        si, off = SwapDevice._swap_alloc_fast(g, None, o, c)
        if off:
            g.stats["fast_hits"] += 1
            return (si._type, off)
        g.stats["slow_path"] += 1
        for dev in list(g.avail):
            if not dev._on_avail:
                continue
            dev._plist_requeue()
            off = dev._cluster_alloc_swap_entry(o, c)
            if off:
                return (dev._type, off)
            if o:
                break
            g.stats["fallthroughs"] += 1
        g.stats["failures"] += 1
        raise NoSpace(f"no free order-{o} range on any swap device")

    def __len__(self):
        return sum(1 for d in self._devices if d is not None)

    def __getitem__(self, t):
        t = operator.index(t)
        if not 0 <= t < len(self._devices) or self._devices[t] is None:
            raise KeyError(t)
        return self._devices[t]

    def __iter__(self):
        return iter([d for d in self._devices if d is not None])

    avail = property(lambda self: [d._type for d in self._g.avail], doc="Types by priority.")
    nr_swap_pages = property(lambda self: self._g.nr_swap_pages, doc="Free slots of the set.")
    total_swap_pages = property(lambda self: self._g.total_swap_pages, doc="Usable slots.")
    swap_full = property(lambda self: self._g.nr_swap_pages * 2 < self._g.total_swap_pages,
                         doc="vm_swap_full().")

    @property
    def stats(self):
        """Set-level counters."""
        return dict(self._g.stats)

    def reset_stats(self):
        """Zero the set counters and every device's counters."""
        self._g.stats = dict.fromkeys(_SET_STATS, 0)
        for dev in self:
            dev.reset_stats()

    def check(self):
        """Assert I3, I9, I10 for the set and every device's check()."""
        errors = []
        nr = total = 0
        for d in self:
            d.check()
            if d._g is not self._g:
                errors.append(f"device {d._type} does not use the set's globals")
            if d._flags & SWP_WRITEOK:
                nr += d._pages - d._inuse_pages
                total += d._pages
            else:
                nr -= d._inuse_pages
        if nr != self._g.nr_swap_pages:
            errors.append(f"I3: nr_swap_pages {self._g.nr_swap_pages}, devices say {nr}")
        if total != self._g.total_swap_pages:
            errors.append(f"I3: total_swap_pages {self._g.total_swap_pages}, devices say {total}")
        prios = [d._prio for d in self._g.avail]
        if prios != sorted(prios, reverse=True):
            errors.append(f"I9: avail list not sorted by priority: {self.avail}")
        members = set(map(id, self))
        for cpu in range(NR_CPUS):
            for o in range(SWAP_NR_ORDERS):
                d = self._g.pcp_si[cpu][o]
                if d is not None and id(d) not in members:
                    errors.append(f"I10: cpu {cpu} order {o} hint names a device not in the set")
        if errors:
            raise AssertionError("SwapDevices invariant violated:\n  " + "\n  ".join(errors))

    def _state(self):
        hints = []
        for cpu in range(4):
            hints.append([(d._type if d is not None else None, self._g.pcp_offset[cpu][o])
                          for o, d in enumerate(self._g.pcp_si[cpu])])
        return {"avail": self.avail, "nr_swap_pages": self._g.nr_swap_pages,
                "total_swap_pages": self._g.total_swap_pages, "stats": self.stats,
                "hints": hints, "devices": [d._state() for d in self]}

    def __repr__(self):
        return f"SwapDevices({list(self)!r})"


class SwapFreeBatch:
    """Consecutive slots of one cluster freed by one ``_swap_entries_free`` (``_swapfile.pxd``'s
    ``swap_free_batch``). Runtime complexity: O(1) per slot.

    >>> from vswap.reference.swapfile import SwapDevice, SwapFreeBatch
    >>> si = SwapDevice(64, cluster_size=16); offs = [si.alloc() for _ in range(3)]
    >>> b = SwapFreeBatch(); [b.add(si, o) for o in offs], b.flush(), si.nr_used
    ([0, 0, 0], 3, 0)
    """

    def __init__(self):
        self.si = None
        self.off = 0
        self.n = 0
        self.runs = 0                # _swap_entries_free calls made, since done()
        self.slots = 0               # slots they freed

    def flush(self):
        """Free the queued run; the slots freed. Runtime complexity: O(run)."""
        n = self.n
        if n:
            self.si._swap_entries_free(self.off, n)
            self.n = 0
            self.runs += 1
            self.slots += n
        return n

    def done(self):
        """Flush; ``(runs, slots)`` freed since the last done() (``swap_batch_done``). O(run)."""
        self.flush()
        out = (self.runs, self.slots)
        self.runs = self.slots = 0
        return out

    def add(self, si, off):
        """Queue slot ``off`` of ``si``; the slots freed first. Runtime complexity: O(1) amortised."""
        if (self.n and self.si is si and off == self.off + self.n
                and (off >> si._cluster_shift) == (self.off >> si._cluster_shift)):
            self.n += 1
            return 0
        flushed = self.flush()
        self.si, self.off, self.n = si, off, 1
        return flushed


# SwapDesign and device ownership have their own module (the twin of _design.pyx's
# role); re-exported here, where they lived, for the old imports.
from vswap.reference.design import (SwapDesign, live_owner, swap_device_attach,  # noqa: E402
                                    swap_device_detach, swap_devices_claim, swap_devices_release)
