"""Pure-Python reference model of the baseline design, DirectSwap (mirrors ``_direct.pyx``).

Same API, results, exceptions and counters as :class:`vswap.DirectSwap`,
and the same algorithm step by step, over the reference allocator
(:class:`vswap.reference.SwapDevices`). Slow and meant for testing and
reading; the compiled module is the one to use.

>>> from vswap.reference import DirectSwap, SwapDevice, SwapDevices
>>> ds = DirectSwap(SwapDevices([SwapDevice(256, cluster_size=16)]))
>>> e = ds.folio_alloc_swap(folio=7)
>>> ds.swap_duplicate(e); ds.swap_count(e), ds.lookup(e)
(1, Lookup(kind='folio', handle=7))
"""

import operator

import numpy as np

from vswap.errors import EntryExists, NoEntry, NoSpace, SwapError
from vswap.protocol import (COUNT_CONTINUED, LOOKUP_KINDS, SWAP_CONT_MAX, SWAP_HAS_CACHE,
                            SWAP_MAP_MAX, Lookup, SwapSpace)
from vswap.protocol import check_uint64_array as _as_entries
from vswap.reference.swapfile import NR_CPUS, SWAP_TABLE_CACHE_ONLY, SWP_WRITEOK, SwapDesign
from vswap.swapentry import (FOLIO_MAX, HANDLE_MAX, MAX_SWAPFILES, SHADOW_MAX, SWP_OFFSET_MASK,
                             SWP_TYPE_SHIFT, VSWAP_FOLIO, VSWAP_SWAPFILE, VSWAP_ZERO, VSWAP_ZSWAP,
                             swap_cache_folio, swap_cache_folio_id, swap_cache_is_folio,
                             swap_cache_is_shadow, swap_cache_order)

__all__ = ["DirectSwap", "SWAP_COUNT_LIMIT"]

TB_VALUE = ~SWAP_TABLE_CACHE_ONLY & ((1 << 64) - 1)
SWAP_COUNT_LIMIT = 63 * 128 ** 3 - 1
PAGE_SHIFT = 12
CONT_LEVELS = 3
_STAT_NAMES = ("table_reads", "table_writes", "cluster_locks", "zswap_walks", "scans",
               "pte_walked", "fast_frees", "slots_freed", "folios_reclaimed",
               "cont_pages_allocated")


def _mkentry(t, off):
    return (t << SWP_TYPE_SHIFT) | off


def _u64(v, limit, what):
    v = operator.index(v)
    if v < 0 or v >= limit:
        raise ValueError(f"{what} {v} is outside 0 .. {limit - 1}")
    return v


def _raise(kind, t, off, what=""):
    e = _mkentry(t, off)
    if kind == "noent":
        raise NoEntry(f"swap entry {e:#x} {what or 'is not allocated'}")
    if kind == "exist":
        raise EntryExists(f"swap entry {e:#x} {what or 'is already in the swap cache'}")
    if kind == "notprep":
        raise ValueError(f"swap entry {e:#x} was not prepared by swapcache_prepare")
    raise NoSpace(f"swap count of {e:#x} would pass SWAP_COUNT_LIMIT")


class _Dev:
    """``direct_dev_t``: the per-device metadata of the design."""

    def __init__(self, si):
        self.si = si
        self.max = si._max
        self.swap_map = bytearray(si._max)
        self.swap_cgroup = [0] * si._max
        self.zeromap = bytearray(si._max)        # one "bit" per slot
        self.nr_map_pages = (si._max + (1 << PAGE_SHIFT) - 1) >> PAGE_SHIFT
        self.cont = {}                           # (page, level) -> bytearray(4096)
        self.nr_zswap = 0


class DirectSwap(SwapDesign, SwapSpace):
    """The baseline; see :class:`vswap.DirectSwap`.

    Runtime complexity: construction O(total slots).

    >>> from vswap.reference import DirectSwap, SwapDevice, SwapDevices
    >>> ds = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
    >>> ds.swap_cache_get_folio(ds.folio_alloc_swap(5))
    5
    """

    entry_is_slot = True                 # SwapSpace.entry_is_slot: the entry is the slot

    def __init__(self, swaps):
        self._claim(swaps)
        self._devs = [None] * MAX_SWAPFILES
        self._zswap = {}
        self._st = dict.fromkeys(_STAT_NAMES, 0)
        self._sync_devices()

    # -- helpers (the compiled module's C functions) -----------------------------------

    def _attach(self, t, si):
        SwapDesign._attach(self, t, si)
        self._devs[t] = _Dev(si)

    def _drop_devices(self):
        self._devs = [None] * MAX_SWAPFILES

    def _tb_read(self, dv, off):
        self._st["table_reads"] += 1
        return dv.si._table_get(off)

    def _tb_write(self, dv, off, w):
        self._st["table_writes"] += 1
        si = dv.si
        if si._map[off] == 1:                # SLOT_USED; not if freed behind the design's back
            si._cluster_info[off >> si._cluster_shift].table[off & (si._cluster_size - 1)] = w

    @staticmethod
    def _count(dv, off):
        m = dv.swap_map[off]
        c = m & 0x3F
        if not m & COUNT_CONTINUED:
            return c
        idx = off & ((1 << PAGE_SHIFT) - 1)
        mult = SWAP_MAP_MAX + 1
        for k in range(CONT_LEVELS):
            p = dv.cont.get((off >> PAGE_SHIFT, k))     # the page of continuation digits
            if p is None:
                break
            b = p[idx]
            c += (b & SWAP_CONT_MAX) * mult
            if not b & COUNT_CONTINUED:
                break
            mult <<= 7
        return c

    def _ensure_cont(self, dv, off, c):
        rest = c // (SWAP_MAP_MAX + 1)
        n = 0
        while rest:
            n += 1
            rest >>= 7
        page = off >> PAGE_SHIFT
        for k in range(n):
            if (page, k) not in dv.cont:
                dv.cont[(page, k)] = bytearray(1 << PAGE_SHIFT)
                self._st["cont_pages_allocated"] += 1

    @staticmethod
    def _set_count(dv, off, c):
        m = dv.swap_map[off]
        cache = m & SWAP_HAS_CACHE
        if c <= SWAP_MAP_MAX and not m & COUNT_CONTINUED:
            dv.swap_map[off] = cache | c
            return
        rest = c // (SWAP_MAP_MAX + 1)
        dv.swap_map[off] = cache | (c % (SWAP_MAP_MAX + 1)) | (COUNT_CONTINUED if rest else 0)
        idx = off & ((1 << PAGE_SHIFT) - 1)
        for k in range(CONT_LEVELS):
            p = dv.cont.get((off >> PAGE_SHIFT, k))
            if p is None:
                break
            p[idx] = rest & SWAP_CONT_MAX
            rest >>= 7
            if rest:
                p[idx] |= COUNT_CONTINUED

    def _count_inc(self, dv, off):
        m = dv.swap_map[off]
        if not m & COUNT_CONTINUED and (m & 0x3F) < SWAP_MAP_MAX:
            dv.swap_map[off] = m + 1
        else:
            self._set_count(dv, off, self._count(dv, off) + 1)

    def _count_dec(self, dv, off):
        m = dv.swap_map[off]
        if not m & COUNT_CONTINUED:
            dv.swap_map[off] = m - 1
        else:
            self._set_count(dv, off, self._count(dv, off) - 1)

    def _free_run(self, t, dv, off, nr):
        for i in range(off, off + nr):
            dv.swap_map[i] = 0
            dv.swap_cgroup[i] = 0
            dv.zeromap[i] = 0
            if dv.nr_zswap:
                self._st["zswap_walks"] += 1
                if self._zswap.pop(_mkentry(t, i), None) is not None:
                    dv.nr_zswap -= 1
        self._st["slots_freed"] += nr
        if all(dv.si._map[i] == 1 for i in range(off, off + nr)):     # SLOT_USED
            dv.si._swap_entries_free(off, nr)
            return
        for i in range(off, off + nr):      # freed behind the design's back: never twice
            if dv.si._map[i] == 1:
                dv.si._swap_entries_free(i, 1)

    @staticmethod
    def _chunk_end(dv, cur, end):
        e = (cur | (dv.si._cluster_size - 1)) + 1
        return min(e, end)

    def _put_range(self, t, dv, cur, end):
        run = nrun = 0
        only_cache = False
        for i in range(cur, end):
            self._count_dec(dv, i)
            if dv.swap_map[i] == 0:
                if nrun == 0:
                    run = i
                nrun += 1
                continue
            if nrun:
                self._free_run(t, dv, run, nrun)
                nrun = 0
            if dv.swap_map[i] == SWAP_HAS_CACHE:
                self._tb_write(dv, i, self._tb_read(dv, i) | SWAP_TABLE_CACHE_ONLY)
                only_cache = True
        if nrun:
            self._free_run(t, dv, run, nrun)
        return only_cache

    def _try_to_reclaim(self, t, dv, off):
        self._st["cluster_locks"] += 1
        w = self._tb_read(dv, off)
        if not swap_cache_is_folio(w):
            return 0
        n = 1 << swap_cache_order(w)
        if n > dv.si._cluster_size:                    # not a word this design wrote (set_table)
            return 0
        base = off & ~(n - 1)
        for i in range(base, base + n):
            if dv.swap_map[i] != SWAP_HAS_CACHE:
                return -n
        for i in range(base, base + n):
            self._tb_write(dv, i, 0)
        self._free_run(t, dv, base, n)
        self._st["folios_reclaimed"] += 1
        return n

    def _reclaim_hook(self, si, offset):
        t = si._type
        if t < 0 or t >= MAX_SWAPFILES:
            return 0
        dv = self._devs[t]
        if dv is None or dv.si is not si or offset >= dv.max or dv.swap_map[offset] == 0:
            return 0
        return self._try_to_reclaim(t, dv, offset)

    def _fsc_core(self, t, dv, off, nr):
        cur, end = off, off + nr
        any_only_cache = False
        while cur < end:
            ce = self._chunk_end(dv, cur, end)
            self._st["cluster_locks"] += 1
            n = ce - cur
            first = dv.swap_map[cur]
            fast = n > 1 and (first & ~SWAP_HAS_CACHE) == 1 and \
                all(dv.swap_map[i] == first for i in range(cur + 1, ce))
            if fast:
                self._st["fast_frees"] += 1
                if first & SWAP_HAS_CACHE:
                    for i in range(cur, ce):
                        dv.swap_map[i] = SWAP_HAS_CACHE
                        self._tb_write(dv, i, self._tb_read(dv, i) | SWAP_TABLE_CACHE_ONLY)
                    any_only_cache = True
                else:
                    self._free_run(t, dv, cur, n)
            elif self._put_range(t, dv, cur, ce):
                any_only_cache = True
            cur = ce
        if not any_only_cache:
            return
        cur = off
        while cur < end:
            self._st["scans"] += 1
            step = 1
            if dv.swap_map[cur] == SWAP_HAS_CACHE:
                r = abs(self._try_to_reclaim(t, dv, cur))
                if r > 0:
                    step = ((cur + r) & ~(r - 1)) - cur
            cur += step

    def _used(self, entry, nr, mode, need_count):
        """Validate a request on allocated entries (see ``_direct.pyx``); (e, n, t, dv, off)."""
        e = self._entry(entry)
        n = self._nr(nr) if mode == 0 else self._order(nr) if mode == 1 else 1
        dv = self._range(e, n, mode == 1)
        t, off = e >> SWP_TYPE_SHIFT, e & SWP_OFFSET_MASK
        for i in range(off, off + n):
            if dv.swap_map[i] == 0 or (need_count and self._count(dv, i) == 0):
                _raise("noent", t, i, "is free or has a swap count of 0" if need_count else "")
        return e, n, t, dv, off

    def _range(self, e, nr, aligned):
        t, off = e >> SWP_TYPE_SHIFT, e & SWP_OFFSET_MASK
        self._check_open()
        if t >= MAX_SWAPFILES or self._devs[t] is None:
            raise ValueError(f"swap entry {e:#x}: type {t} names no device of this design")
        dv = self._devs[t]
        if nr == 0:
            raise ValueError("nr must be at least 1")
        if off >= dv.max or nr > dv.max - off:
            raise ValueError(f"swap entry {e:#x}: {nr} entries pass the device end {dv.max}")
        if aligned:
            if nr > dv.si._cluster_size:
                raise ValueError(f"order {nr.bit_length() - 1} is larger than a cluster")
            if off & (nr - 1):
                raise ValueError(f"swap entry {e:#x} is not aligned to {nr} entries")
        return dv

    @staticmethod
    def _entry(entry):
        return _u64(entry, 1 << 63, "swap entry")

    @staticmethod
    def _nr(nr):
        return _u64(nr, 1 << SWP_TYPE_SHIFT, "nr")

    @staticmethod
    def _order(order):
        return 1 << _u64(order, 10, "order")



    # -- allocation ---------------------------------------------------------------------

    def folio_alloc_swap(self, folio, order=0, memcg=0, cpu=0):
        """See :meth:`vswap.DirectSwap.folio_alloc_swap`. O(2**order) amortised."""
        f = _u64(folio, FOLIO_MAX, "folio")
        nr, m, c = self._alloc_prepare(order, memcg, cpu)
        e = self._alloc_one(f, nr, m, c)
        if e == 0:
            raise NoSpace(f"no free order-{nr.bit_length() - 1} range on any swap device")
        return e

    def _alloc_prepare(self, order, memcg, cpu):
        nr = self._order(order)
        m = _u64(memcg, 65536, "memcg")
        c = _u64(cpu, NR_CPUS, "cpu")
        self._sync_devices()
        if self._swaps._devices and nr > next(iter(self._swaps))._cluster_size:
            raise ValueError(f"order {nr.bit_length() - 1} is larger than a cluster")
        return nr, m, c

    def _alloc_one(self, folio, nr, memcg, cpu):
        order = nr.bit_length() - 1
        try:
            t, off = self._swaps.alloc(order, cpu)
        except NoSpace:
            return 0
        dv = self._devs[t]
        self._st["cluster_locks"] += 1
        w = swap_cache_folio(folio, order)
        for i in range(off, off + nr):
            dv.swap_map[i] = SWAP_HAS_CACHE
            dv.swap_cgroup[i] = memcg
            self._tb_write(dv, i, w)
        return _mkentry(t, off)

    def _alloc_entry(self, f, nr, m, c):
        return self._alloc_one(f, nr, m, c)

    def _dup_entry(self, e):
        self._dup(e >> SWP_TYPE_SHIFT, self._devs[e >> SWP_TYPE_SHIFT], e & SWP_OFFSET_MASK, 1)

    def _free_entry(self, e):
        self._st["cluster_locks"] += 1
        off = e & SWP_OFFSET_MASK
        self._put_range(e >> SWP_TYPE_SHIFT, self._devs[e >> SWP_TYPE_SHIFT], off, off + 1)

    def _run_may_grow(self, e, k):
        return (e & SWP_OFFSET_MASK) + k < self._devs[e >> SWP_TYPE_SHIFT].max

    def _fsc_entries(self, e, nr):
        self._fsc_core(e >> SWP_TYPE_SHIFT, self._devs[e >> SWP_TYPE_SHIFT], e & SWP_OFFSET_MASK, nr)

    def _zswap_entry(self, e, h):
        self._zswap_put(e >> SWP_TYPE_SHIFT, self._devs[e >> SWP_TYPE_SHIFT], e & SWP_OFFSET_MASK, h)

    # -- counts -------------------------------------------------------------------------------

    def _dup(self, t, dv, off, nr):
        for i in range(off, off + nr):
            self._ensure_cont(dv, i, self._count(dv, i) + 1)
        cur, end = off, off + nr
        while cur < end:
            ce = self._chunk_end(dv, cur, end)
            self._st["cluster_locks"] += 1
            for i in range(cur, ce):
                if dv.swap_map[i] == SWAP_HAS_CACHE:
                    self._tb_write(dv, i, self._tb_read(dv, i) & TB_VALUE)
                self._count_inc(dv, i)
            cur = ce

    def swap_duplicate(self, entry, nr=1):
        """See :meth:`vswap.DirectSwap.swap_duplicate`. O(nr)."""
        e, n, t, dv, off = self._used(entry, nr, 0, False)
        for i in range(off, off + n):
            if self._count(dv, i) >= SWAP_COUNT_LIMIT:
                _raise("overflow", t, i)
        self._dup(t, dv, off, n)

    def _check_batch(self, entries, need_count, dup):
        self._check_open()
        arr = _as_entries(entries)
        vals = [int(x) for x in arr]
        for e in vals:
            if e >> 63:
                raise ValueError(f"swap entry {e:#x} is outside 0 .. 2**63-1")
            dv = self._range(e, 1, False)
            if dv.swap_map[e & SWP_OFFSET_MASK] == 0:
                _raise("noent", e >> SWP_TYPE_SHIFT, e & SWP_OFFSET_MASK)
        srt = sorted(vals)
        i, n = 0, len(srt)
        while i < n:
            j = i + 1
            while j < n and srt[j] == srt[i]:
                j += 1
            k, e = j - i, srt[i]
            c = self._count(self._devs[e >> SWP_TYPE_SHIFT], e & SWP_OFFSET_MASK)
            if dup and c + k > SWAP_COUNT_LIMIT:
                _raise("overflow", e >> SWP_TYPE_SHIFT, e & SWP_OFFSET_MASK)
            if need_count and c < k:
                _raise("noent", e >> SWP_TYPE_SHIFT, e & SWP_OFFSET_MASK, "has a swap count of 0")
            i = j
        return vals

    def swap_free_nr(self, entry, nr=1):
        """See :meth:`vswap.DirectSwap.swap_free_nr`. O(nr)."""
        e, n, t, dv, off = self._used(entry, nr, 0, True)
        cur, end = off, off + n
        while cur < end:
            ce = self._chunk_end(dv, cur, end)
            self._st["cluster_locks"] += 1
            self._put_range(t, dv, cur, ce)
            cur = ce

    def free_swap_and_cache_nr(self, entry, nr=1):
        """See :meth:`vswap.DirectSwap.free_swap_and_cache_nr`. O(nr)."""
        e, n, t, dv, off = self._used(entry, nr, 0, True)
        self._fsc_core(t, dv, off, n)

    def swap_count(self, entry):
        """See :meth:`vswap.DirectSwap.swap_count`. O(1)."""
        *_, dv, off = self._used(entry, None, 2, False)
        return self._count(dv, off)

    def memcg_id(self, entry):
        """See :meth:`vswap.DirectSwap.memcg_id`. O(1)."""
        *_, dv, off = self._used(entry, None, 2, False)
        return dv.swap_cgroup[off]

    # -- swap cache -----------------------------------------------------------------------------

    def swapcache_prepare(self, entry, nr=1):
        """See :meth:`vswap.DirectSwap.swapcache_prepare`. O(nr)."""
        e, n = self._entry(entry), self._nr(nr)
        dv = self._range(e, n, False)
        t, off = e >> SWP_TYPE_SHIFT, e & SWP_OFFSET_MASK
        for i in range(off, off + n):
            if dv.swap_map[i] == 0:
                _raise("noent", t, i)
            if dv.swap_map[i] & SWAP_HAS_CACHE:
                _raise("exist", t, i)
        cur, end = off, off + n
        while cur < end:
            ce = self._chunk_end(dv, cur, end)
            self._st["cluster_locks"] += 1
            for i in range(cur, ce):
                dv.swap_map[i] |= SWAP_HAS_CACHE
            cur = ce

    def swap_cache_add_folio(self, entry, folio, order=0):
        """See :meth:`vswap.DirectSwap.swap_cache_add_folio`. O(2**order)."""
        e = self._entry(entry)
        f = _u64(folio, FOLIO_MAX, "folio")
        nr = self._order(order)
        dv = self._range(e, nr, True)
        t, off = e >> SWP_TYPE_SHIFT, e & SWP_OFFSET_MASK
        o = nr.bit_length() - 1
        for i in range(off, off + nr):
            if dv.swap_map[i] == 0:
                _raise("noent", t, i)
            if not dv.swap_map[i] & SWAP_HAS_CACHE:
                _raise("notprep", t, i)
            if swap_cache_is_folio(dv.si._table_get(i)):
                _raise("exist", t, i, "already holds a folio")
        self._st["cluster_locks"] += 1
        first = 0
        for i in range(off, off + nr):
            w = self._tb_read(dv, i)
            if i == off:
                first = w
            self._tb_write(dv, i, swap_cache_folio(f, o) | (w & SWAP_TABLE_CACHE_ONLY))
        first &= TB_VALUE
        return (first >> 1) if swap_cache_is_shadow(first) else None

    def swap_cache_del_folio(self, entry, order=0, shadow=None):
        """See :meth:`vswap.DirectSwap.swap_cache_del_folio`. O(2**order)."""
        e = self._entry(entry)
        nr = self._order(order)
        dv = self._range(e, nr, True)
        t, off = e >> SWP_TYPE_SHIFT, e & SWP_OFFSET_MASK
        sw = 0
        if shadow is not None:
            sw = (_u64(shadow, SHADOW_MAX, "shadow") << 1) | 1
        if dv.swap_map[off] == 0:
            _raise("noent", t, off)
        w0 = dv.si._table_get(off) & TB_VALUE
        if not swap_cache_is_folio(w0) or (1 << swap_cache_order(w0)) != nr:
            _raise("noent", t, off, f"holds no folio of {nr} pages")
        for i in range(off, off + nr):
            if dv.si._table_get(i) & TB_VALUE != w0:
                _raise("noent", t, off, f"holds no folio of {nr} pages")
        self._st["cluster_locks"] += 1
        for i in range(off, off + nr):
            self._tb_write(dv, i, sw | (self._tb_read(dv, i) & SWAP_TABLE_CACHE_ONLY))

    def swap_cache_get_folio(self, entry):
        """See :meth:`vswap.DirectSwap.swap_cache_get_folio`. O(1)."""
        *_, dv, off = self._used(entry, None, 2, False)
        w = self._tb_read(dv, off) & TB_VALUE
        return swap_cache_folio_id(w) if swap_cache_is_folio(w) else None

    def swap_cache_get_shadow(self, entry):
        """See :meth:`vswap.DirectSwap.swap_cache_get_shadow`. O(1)."""
        *_, dv, off = self._used(entry, None, 2, False)
        w = self._tb_read(dv, off) & TB_VALUE
        return (w >> 1) if swap_cache_is_shadow(w) else None

    def put_swap_folio(self, entry, order=0):
        """See :meth:`vswap.DirectSwap.put_swap_folio`. O(2**order)."""
        e = self._entry(entry)
        nr = self._order(order)
        dv = self._range(e, nr, True)
        t, off = e >> SWP_TYPE_SHIFT, e & SWP_OFFSET_MASK
        all_only = True
        for i in range(off, off + nr):
            if not dv.swap_map[i] & SWAP_HAS_CACHE:
                _raise("noent", t, i, "is not in the swap cache")
            if swap_cache_is_folio(dv.si._table_get(i)):
                _raise("exist", t, i, "still holds a folio")
            if dv.swap_map[i] != SWAP_HAS_CACHE:
                all_only = False
        self._st["cluster_locks"] += 1
        if all_only:
            self._free_run(t, dv, off, nr)
            return
        for i in range(off, off + nr):
            dv.swap_map[i] &= ~SWAP_HAS_CACHE
            if dv.swap_map[i] == 0:
                self._free_run(t, dv, i, 1)

    # -- backends --------------------------------------------------------------------------------

    def _kind(self, t, dv, off):
        w = self._tb_read(dv, off) & TB_VALUE
        if swap_cache_is_folio(w):
            return VSWAP_FOLIO, swap_cache_folio_id(w)
        if dv.zeromap[off]:
            return VSWAP_ZERO, 0
        if dv.nr_zswap:
            self._st["zswap_walks"] += 1
            h = self._zswap.get(_mkentry(t, off))
            if h is not None:
                return VSWAP_ZSWAP, h
        return VSWAP_SWAPFILE, _mkentry(t, off)

    def lookup(self, entry):
        """See :meth:`vswap.DirectSwap.lookup`. O(1)."""
        _, _, t, dv, off = self._used(entry, None, 2, False)
        k, h = self._kind(t, dv, off)
        return Lookup(LOOKUP_KINDS[k], h)

    def lookup_many(self, entries):
        """See :meth:`vswap.DirectSwap.lookup_many`. O(n)."""
        vals = self._check_batch(entries, False, False)
        res = [self._kind(e >> SWP_TYPE_SHIFT, self._devs[e >> SWP_TYPE_SHIFT], e & SWP_OFFSET_MASK) for e in vals]
        return (np.array([k for k, _ in res], dtype=np.uint8),
                np.array([h for _, h in res], dtype=np.uint64))

    def _zswap_drop(self, t, dv, off):
        if not dv.nr_zswap:
            return None
        self._st["zswap_walks"] += 1
        h = self._zswap.pop(_mkentry(t, off), None)
        if h is not None:
            dv.nr_zswap -= 1
        return h

    def zero_store(self, entry, nr=1):
        """See :meth:`vswap.DirectSwap.zero_store`. O(nr)."""
        e, n, t, dv, off = self._used(entry, nr, 0, False)
        for i in range(off, off + n):
            dv.zeromap[i] = 1
            self._zswap_drop(t, dv, i)

    def _zswap_put(self, t, dv, off, h):
        self._st["zswap_walks"] += 1
        key = _mkentry(t, off)
        if key not in self._zswap:
            dv.nr_zswap += 1
        self._zswap[key] = h
        dv.zeromap[off] = 0

    def zswap_store(self, entry, handle):
        """See :meth:`vswap.DirectSwap.zswap_store`. O(1)."""
        _, _, t, dv, off = self._used(entry, None, 2, False)
        h = _u64(handle, HANDLE_MAX, "zswap handle")
        self._zswap_put(t, dv, off, h)

    def zswap_load(self, entry):
        """See :meth:`vswap.DirectSwap.zswap_load`. O(1)."""
        e, _, t, dv, off = self._used(entry, None, 2, False)
        if not dv.nr_zswap:
            return None
        self._st["zswap_walks"] += 1
        return self._zswap.get(e)

    def zswap_invalidate(self, entry):
        """See :meth:`vswap.DirectSwap.zswap_invalidate`. O(1)."""
        _, _, t, dv, off = self._used(entry, None, 2, False)
        return self._zswap_drop(t, dv, off)

    def writeback(self, entry, order=0):
        """See :meth:`vswap.DirectSwap.writeback`. O(2**order)."""
        e, nr, t, dv, off = self._used(entry, order, 1, False)
        for i in range(off, off + nr):
            dv.zeromap[i] = 0
            self._zswap_drop(t, dv, i)
        return e

    # -- device-level verbs ---------------------------------------------------------------------

    def _device(self, device):
        t = _u64(device, MAX_SWAPFILES, "device type")
        self._check_open()
        if self._devs[t] is None:
            raise ValueError(f"device type {t} is not attached to this design")
        return t, self._devs[t]

    def reclaim_cache_only(self, device):
        """See :meth:`vswap.DirectSwap.reclaim_cache_only`."""
        _, dv = self._device(device)
        return dv.si._swap_reclaim_full_clusters(True)

    def swapoff(self, device, page_tables):
        """See :meth:`vswap.DirectSwap.swapoff`. O(PTEs + device slots)."""
        t, dv = self._device(device)
        is_array = isinstance(page_tables, np.ndarray)
        if is_array:
            _as_entries(page_tables, "page_tables")
            if not page_tables.flags.writeable:
                raise ValueError("page_tables array is read-only")
            items = [(k, int(v)) for k, v in enumerate(page_tables)]
        else:
            if not hasattr(page_tables, "items") or not hasattr(page_tables, "__delitem__"):
                raise TypeError("page_tables must be a mapping {vpn: entry} or a uint64 array")
            items = list(page_tables.items())
        n = len(items)
        refs = {}
        hits = []
        for vpn, pe in items:
            pe = operator.index(pe)
            if pe <= 0 or pe >= (1 << 63):
                continue
            if pe >> SWP_TYPE_SHIFT != t:
                continue
            off = pe & SWP_OFFSET_MASK
            if off >= dv.max or dv.swap_map[off] == 0:
                _raise("noent", t, off if off < dv.max else 0, "in the page tables is not allocated")
            refs[off] = refs.get(off, 0) + 1
            hits.append((vpn, pe))
        for off in range(dv.max):
            if dv.swap_map[off] == 0:
                continue
            c = self._count(dv, off)
            r = refs.get(off, 0)
            if r > c:
                _raise("noent", t, off, f"has {r} PTEs but a count of {c}")
            if r < c:
                raise SwapError(f"swapoff: swap entry {_mkentry(t, off):#x} has {c - r} "
                                "references the page tables do not hold")
        self._st["pte_walked"] += n
        if dv.si._flags & SWP_WRITEOK:
            self._swaps.swapoff(self._swaps[t])
        for vpn, pe in hits:
            if is_array:
                page_tables[vpn] = 0
            else:
                del page_tables[vpn]
            self._st["cluster_locks"] += 1
            off = pe & SWP_OFFSET_MASK
            self._put_range(t, dv, off, off + 1)
        for off in range(dv.max):
            self._st["scans"] += 1
            if dv.swap_map[off] == 0:
                continue
            self._st["cluster_locks"] += 1
            w = self._tb_read(dv, off)
            if w & TB_VALUE:
                self._tb_write(dv, off, 0)
            self._free_run(t, dv, off, 1)
        return len(hits)

    # -- accounting -------------------------------------------------------------------------------

    def memory_footprint(self):
        """See :meth:`vswap.DirectSwap.memory_footprint`. O(devices)."""
        out = dict.fromkeys(("swap_map", "swap_cgroup", "zeromap", "cluster_info",
                             "swap_table", "continuation", "zswap_tree"), 0)
        for dv in self._devs:
            if dv is None:
                continue
            out["swap_map"] += dv.max
            out["swap_cgroup"] += 2 * dv.max
            out["zeromap"] += 8 * ((dv.max + 63) // 64)
            out["cluster_info"] += 32 * len(dv.si._cluster_info)
            out["swap_table"] += 8 * dv.si._nr_tables * dv.si._cluster_size
            out["continuation"] += 4096 * len(dv.cont)
            out["zswap_tree"] += 8 * dv.nr_zswap
        out["total"] = sum(out.values())
        return out

    @property
    def stats(self):
        """See :attr:`vswap.DirectSwap.stats`. O(1)."""
        return dict(self._st)

    def reset_stats(self):
        """Zero every counter of :attr:`stats`. O(1)."""
        self._st = dict.fromkeys(_STAT_NAMES, 0)

    def check(self):
        """See :meth:`vswap.DirectSwap.check`. O(slots)."""
        self._check_open()
        errors = []
        nz = 0
        for t, dv in enumerate(self._devs):
            if dv is None:
                continue
            if dv.si._owner is None or dv.si._owner() is not self:
                errors.append(f"type {t}: reclaim hook is not this design's")
            for off in range(dv.max):
                m = dv.swap_map[off]
                w = dv.si._table_get(off)
                used = dv.si._map[off] == 1
                if (m != 0) != used:
                    errors.append(f"{t}:{off}: swap_map {m:#x} but allocator used={used}")
                    continue
                if m == 0:
                    if w or dv.swap_cgroup[off] or dv.zeromap[off]:
                        errors.append(f"{t}:{off}: free slot keeps metadata")
                    continue
                if (m & 0x3F) > SWAP_MAP_MAX:
                    errors.append(f"{t}:{off}: low digit {m & 0x3F} > SWAP_MAP_MAX")
                if m & COUNT_CONTINUED and (off >> PAGE_SHIFT, 0) not in dv.cont:
                    errors.append(f"{t}:{off}: COUNT_CONTINUED without a continuation page")
                c = self._count(dv, off)
                if m & COUNT_CONTINUED and c <= SWAP_MAP_MAX:
                    errors.append(f"{t}:{off}: continued count {c} not canonical")
                if w & SWAP_TABLE_CACHE_ONLY and m != SWAP_HAS_CACHE:
                    errors.append(f"{t}:{off}: cache-only bit with map {m:#x}")
                w &= TB_VALUE
                if swap_cache_is_folio(w):
                    if not m & SWAP_HAS_CACHE:
                        errors.append(f"{t}:{off}: folio cached without SWAP_HAS_CACHE")
                    n = 1 << swap_cache_order(w)
                    if n > dv.si._cluster_size:
                        errors.append(f"{t}:{off}: folio order {(w >> 2) & 15} > cluster")
                        continue
                    base = off & ~(n - 1)
                    for i in range(base, base + n):
                        if dv.si._table_get(i) & TB_VALUE != w:
                            errors.append(f"{t}:{off}: folio run at {base} broken at {i}")
                            break
                if _mkentry(t, off) in self._zswap:
                    nz += 1
        total = sum(dv.nr_zswap for dv in self._devs if dv is not None)
        if nz != total or total != len(self._zswap):
            errors.append(f"zswap: {nz} found on used slots, {total} counted, "
                          f"{len(self._zswap)} in the tree")
        if errors:
            raise AssertionError("DirectSwap invariant violated:\n  " + "\n  ".join(errors[:20]))
        self._swaps.check()

    def snapshot(self):
        """See :meth:`vswap.DirectSwap.snapshot`. O(slots)."""
        self._check_open()
        devices = {}
        for t, dv in enumerate(self._devs):
            if dv is None:
                continue
            slots = {}
            for off in range(dv.max):
                if dv.swap_map[off] == 0:
                    continue
                z = self._zswap.get(_mkentry(t, off)) if dv.nr_zswap else None
                slots[off] = (dv.swap_map[off], self._count(dv, off), dv.si._table_get(off),
                              dv.swap_cgroup[off], int(dv.zeromap[off]), z)
            devices[t] = {"slots": slots, "cont_pages": len(dv.cont), "nr_zswap": dv.nr_zswap}
        return {"devices": devices, "stats": self.stats, "swaps": self._swaps._state()}

    def __repr__(self):
        return (f"DirectSwap(devices={sum(1 for d in self._devs if d is not None)}, "
                f"zswap={len(self._zswap)})")
