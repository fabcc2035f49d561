"""Mainline 7.1 (swap table phases II and III on the 6.19 baseline): :class:`Mainline71`.

What Linux 7.1 (released 2026-06-14) does with a swap entry: the entry is
the physical slot, as in 6.19 (:class:`vswap.DirectSwap`), but phase II
(7.0) removed ``SWAP_HAS_CACHE`` (the swap cache in the table word is the
only synchronisation layer) and phase III (7.1) removed ``swap_map``: the
count lives in the slot's swap table word, and a per-cluster overflow
array (the extend table) holds counts that do not fit its 4 bits. What it
keeps from 6.19: ``swap_cgroup`` (2 B per slot) and the ``zeromap`` (1 bit
per slot), both static from swapon; zswap's own tree keyed by the physical
slot; swapoff by page-table walk.

The table word and every verb are phase IV's (:class:`vswap.SwapTableP4`,
whose walks are those of ``_slotswap``); this design replaces only where a
slot's memcg id and zero flag live, so it shares the rest. On the swap-in
side (the memory model), 7.1 never bypasses the swap cache on a
``SWP_SYNCHRONOUS_IO`` device (:attr:`swapin_bypasses_swap_cache` is
False). The pure-Python model is :mod:`vswap.reference.mainline71`.
"""

cimport cython
from libc.stdint cimport uint16_t, uint64_t
from libc.string cimport memset

from vswap._mem cimport checked_calloc
from vswap._swapentry cimport SWP_OFFSET_MASK, swp_entry, swap_cache_folio, SWAP_CLUSTER_INFO_BYTES
from vswap._slotswap cimport slot_hooks, slot_dev_t, slot_write
from vswap._swapfile cimport SwapDevice, swap_device_t
from vswap._swaptable cimport SwapTableP4, p4_dev_t, p4_hooks, p4_word, count_of, SWP_TB_PIN

from vswap.protocol import SwapSpace

__all__ = ["Mainline71"]


# --- the hooks where 7.1 differs from phase IV: the static arrays ---------------------

cdef inline p4_dev_t* pdv(slot_dev_t* dv) noexcept nogil:
    return <p4_dev_t*>dv


cdef uint64_t h_is_zero(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil:
    return (pdv(dv).zeromap[off >> 6] >> (off & 63)) & 1


cdef uint64_t h_zero_set(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil:
    pdv(dv).zeromap[off >> 6] |= <uint64_t>1 << (off & 63)
    return 0


cdef uint64_t h_zero_clear(void* d, slot_dev_t* dv, uint64_t off) noexcept nogil:
    pdv(dv).zeromap[off >> 6] &= ~(<uint64_t>1 << (off & 63))
    return 0


cdef int h_clear_slots(void* d, slot_dev_t* dv, uint64_t off, uint64_t nr) noexcept nogil:
    """swap_range_free's static metadata of ``nr`` freed slots (swap_cgroup, zeromap)."""
    cdef uint64_t i
    for i in range(off, off + nr):
        pdv(dv).swap_cgroup[i] = 0
        h_zero_clear(d, dv, i)
    return 0


cdef slot_hooks M71_HOOKS = p4_hooks()[0]
M71_HOOKS.is_zero = h_is_zero
M71_HOOKS.zero_set = h_zero_set
M71_HOOKS.zero_clear = h_zero_clear
M71_HOOKS.clear_slots = h_clear_slots


@cython.no_gc_clear
cdef class Mainline71(SwapTableP4):
    """Mainline 7.1: an entry is its physical slot; the count in the table word; swap_cgroup and zeromap static.

    ``swaps`` is the :class:`~vswap.SwapDevices` set, as for
    :class:`vswap.SwapTableP4`, whose verbs, results and counters it has
    but for where the memcg id and the zero flag live.

    Memory (kernel-equivalent, see :meth:`memory_footprint`): static from
    swapon, 2 B of ``swap_cgroup`` and 1 bit of ``zeromap`` per slot and a
    32-byte cluster descriptor per cluster; 8 B of swap table per slot of
    every in-use cluster; a 2 KiB extend table per cluster with a count of
    15 or more; 8 B per stored zswap entry.

    Runtime complexity: construction O(slots).

    >>> from vswap import Mainline71, SwapDevice, SwapDevices
    >>> m = Mainline71(SwapDevices([SwapDevice(256, cluster_size=16)]))
    >>> e = m.folio_alloc_swap(folio=7, memcg=3)
    >>> m.swap_duplicate(e); m.swap_count(e), m.memcg_id(e), m.lookup(e)
    (1, 3, Lookup(kind='folio', handle=7))
    """

    #: An entry names a device slot (vswap.protocol.SwapSpace.entry_is_slot).
    entry_is_slot = True
    #: 7.0's phase II: every swap-in goes through the swap cache, zram's too
    #: (vswap.protocol.SwapSpace.swapin_bypasses_swap_cache).
    swapin_bypasses_swap_cache = False

    def __cinit__(self):
        self.d.h = &M71_HOOKS

    cdef int _attach_dev(self, int t, SwapDevice dev) except -1:
        """Phase IV's per-cluster indexes, then 6.19's static swap_cgroup and zeromap."""
        cdef p4_dev_t* nd = &self.d.devs[t]
        SwapTableP4._attach_dev(self, t, dev)
        nd.swap_cgroup = <uint16_t*>checked_calloc(dev.si.max, sizeof(uint16_t))
        nd.zeromap = <uint64_t*>checked_calloc((dev.si.max + 63) // 64, sizeof(uint64_t))
        return 0

    cdef uint64_t _alloc_one(self, uint64_t folio, uint64_t nr, uint16_t memcg,
                             int cpu) except? 0xFFFFFFFFFFFFFFFF:
        cdef uint64_t off, i, w
        cdef slot_dev_t* sd = NULL
        cdef int order = self._alloc_run(nr, cpu, &sd, &off)
        if off == 0:
            return 0
        w = SWP_TB_PIN | swap_cache_folio(folio, order)
        for i in range(off, off + nr):
            (<p4_dev_t*>sd).swap_cgroup[i] = memcg
            slot_write(&self.d, sd, i, w)
        return swp_entry(sd.si.type, off)

    def memcg_id(self, entry):
        """The memcg id of an allocated entry, from ``swap_cgroup``. Runtime complexity: O(1).

        >>> from vswap import Mainline71, SwapDevice, SwapDevices
        >>> m = Mainline71(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> m.memcg_id(m.folio_alloc_swap(1, memcg=12))
        12
        """
        cdef uint64_t e, n
        cdef p4_dev_t* dv = self._used(entry, None, 2, False, &e, &n)
        return dv.swap_cgroup[e & SWP_OFFSET_MASK]

    def memory_footprint(self):
        """Kernel-equivalent metadata bytes by component, and ``"total"``.

        ``swap_cgroup`` 2 B and ``zeromap`` 1 bit per slot, ``cluster_info``
        32 B per cluster (all static); ``swap_table`` 8 B per slot of every
        cluster with a table; ``extend_table`` 4 B per slot of every cluster
        with a count of 15 or more; ``zswap_tree`` 8 B per stored zswap
        entry. Runtime complexity: O(devices).

        >>> from vswap import Mainline71, SwapDevice, SwapDevices
        >>> m = Mainline71(SwapDevices([SwapDevice(1024, cluster_size=512)]))
        >>> _ = m.folio_alloc_swap(1); fp = m.memory_footprint()
        >>> fp["swap_cgroup"], fp["zeromap"], fp["cluster_info"], fp["swap_table"]
        (2048, 128, 64, 4096)
        """
        cdef int t
        cdef p4_dev_t* dv
        out = dict.fromkeys(("swap_cgroup", "zeromap", "cluster_info", "swap_table",
                             "extend_table", "zswap_tree"), 0)
        for t in self._types():
            dv = &self.d.devs[t]
            out["swap_cgroup"] += 2 * dv.max
            out["zeromap"] += 8 * ((dv.max + 63) // 64)
            out["cluster_info"] += SWAP_CLUSTER_INFO_BYTES * dv.nr_clusters
            out["swap_table"] += 8 * dv.si.nr_tables * dv.si.cluster_size
            out["extend_table"] += 4 * dv.nr_ext_tables * dv.si.cluster_size
        return self._footprint_end(out)

    @property
    def stats(self):
        """Deterministic work counters, identical in the reference model.

        Those of :attr:`vswap.SwapTableP4.stats` (``memcg_tables_allocated``
        stays 0: swap_cgroup is static). Setting or clearing a zero flag is
        a zeromap bit, no table word. Runtime complexity: O(1).

        >>> from vswap import Mainline71, SwapDevice, SwapDevices
        >>> m = Mainline71(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> e = m.folio_alloc_swap(1); m.zero_store(e); m.stats["table_writes"]
        1
        """
        return self.d.st

    def check(self):
        """Assert the design's invariants, then the allocator's; AssertionError with a dump.

        Those of :meth:`vswap.SwapTableP4.check` with the static arrays in
        place of the memcg_tables: a free slot keeps no swap_cgroup id, no
        zeromap bit and no extend count. Runtime complexity: O(slots).

        >>> from vswap import Mainline71, SwapDevice, SwapDevices
        >>> m = Mainline71(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> _ = m.folio_alloc_swap(3, order=2); m.check()
        """
        SwapTableP4.check(self)

    def snapshot(self):
        """The whole state as plain values; equal between compiled and reference.

        ``devices``: per attached type, every used slot as ``offset: (table
        word, count, memcg, zero bit, zswap handle or None)``, and the extend
        table count; ``stats``; ``swaps``: the allocator's state. Runtime
        complexity: O(slots).

        >>> from vswap import Mainline71, SwapDevice, SwapDevices
        >>> m = Mainline71(SwapDevices([SwapDevice(64, cluster_size=16)]))
        >>> _ = m.folio_alloc_swap(3, memcg=2); m.snapshot()["devices"][0]["slots"]
        {1: (144115188075856066, 0, 2, 0, None)}
        """
        return self._snapshot()

    cdef int _check_cluster(self, int t, p4_dev_t* dv, uint64_t cl, uint64_t used,
                            list errors) except -1:
        return 0                         # no per-cluster memcg_table

    cdef int _check_tables(self, int t, p4_dev_t* dv, list errors) except -1:
        if dv.nr_memcg_tables:
            errors.append(f"{t}: {dv.nr_memcg_tables} memcg_tables (swap_cgroup is static)")
        return 0

    cdef bint _slot_meta(self, p4_dev_t* dv, uint64_t off) noexcept:
        return dv.swap_cgroup[off] != 0 or (dv.zeromap[off >> 6] >> (off & 63)) & 1

    cdef object _snap_slot(self, int t, uint64_t off, object z):
        cdef p4_dev_t* dv = &self.d.devs[t]
        cdef uint64_t w = p4_word(dv.si, off)
        return (w, count_of(dv, off, w), dv.swap_cgroup[off],
                <int>((dv.zeromap[off >> 6] >> (off & 63)) & 1), z)

    cdef dict _snap_dev(self, int t):
        return {"extend_tables": self.d.devs[t].nr_ext_tables}


SwapSpace.register(Mainline71)
