"""Pure-Python reference model of swap table phase IV (mirrors ``_swaptable.pyx``).

Kairui Song's swap table phases III and IV on the baseline's verbs: the entry
is still the physical slot, and the verbs' control flow (batching per
cluster, the zap path's fast path, ``__try_to_reclaim_swap``, swapoff by
page-table walk) is the baseline's, so this model extends
:class:`vswap.reference.DirectSwap` and replaces only where the state
lives. There is no ``swap_map``, no static ``swap_cgroup`` and no
``zeromap``; everything per slot is in the allocator's swap table word:

====================  ===========================================================
bit 63                ``SWAP_TABLE_CACHE_ONLY`` (the allocator's reclaim hint)
bits 59..62           the swap count, 4 bits (``SWP_TB_COUNT_MAX`` = 15: see the
                      cluster's extend table, one ``unsigned int`` per slot)
bit 58                ``SWP_TB_ZERO``: a zero-filled page (the merged zeromap)
bit 57                ``SWP_TB_PIN``: the swap cache holds the slot (the state
                      ``swapcache_prepare`` starts; phase II's swap cache)
bits 0..56            the swap-cache word (folio or shadow) of ``vswap.swapentry``
====================  ===========================================================

The memcg id lives in a per-cluster ``memcg_table`` (2 B per slot),
allocated with the first entry the design puts in a cluster and freed with
the last. The payload's width bounds folio ids (``P4_FOLIO_MAX``) and
shadows (``P4_SHADOW_MAX``), as the PFN bits bound them in the kernel.

>>> from vswap.reference import SwapTableP4, SwapDevice, SwapDevices
>>> p4 = SwapTableP4(SwapDevices([SwapDevice(256, cluster_size=16)]))
>>> e = p4.folio_alloc_swap(folio=7, memcg=3)
>>> p4.swap_duplicate(e); p4.swap_count(e), p4.memcg_id(e), p4.lookup(e)
(1, 3, Lookup(kind='folio', handle=7))
"""

import numpy as np

from vswap.errors import SwapError
from vswap.protocol import check_uint64_array as _as_entries
from vswap.reference import direct as _d
from vswap.reference.direct import DirectSwap, _mkentry, _raise, _u64
from vswap.reference.swapfile import SWAP_TABLE_CACHE_ONLY, SWP_WRITEOK, SwapDesign
from vswap.swapentry import (MAX_SWAPFILES, SWP_OFFSET_MASK, SWP_TYPE_SHIFT, VSWAP_FOLIO,
                             VSWAP_SWAPFILE, VSWAP_ZERO, VSWAP_ZSWAP, swap_cache_folio, swap_cache_folio_id,
                             swap_cache_is_folio, swap_cache_order)

__all__ = ["SwapTableP4", "SWAP_COUNT_LIMIT", "SWP_TB_COUNT_SHIFT", "SWP_TB_COUNT_MAX",
           "SWP_TB_ZERO", "SWP_TB_PIN", "SWP_TB_PAYLOAD", "P4_FOLIO_MAX", "P4_SHADOW_MAX",
           "P4_CLUSTER_INFO_BYTES", "SWP_TB_RMAP"]

SWP_TB_COUNT_SHIFT = 59
SWP_TB_COUNT_MAX = 15
SWP_TB_ZERO = 1 << (SWP_TB_COUNT_SHIFT - 1)
SWP_TB_PIN = 1 << (SWP_TB_COUNT_SHIFT - 2)
SWP_TB_PAYLOAD = SWP_TB_PIN - 1
P4_FOLIO_MAX = 1 << 51
P4_SHADOW_MAX = 1 << 56
#: The extend table holds ``unsigned int`` counts.
SWAP_COUNT_LIMIT = (1 << 32) - 1
#: Phase IV's ``swap_cluster_info``: the only static metadata [P4v5].
P4_CLUSTER_INFO_BYTES = 48
#: Low 3 bits of a reverse-map word: a host's (SwapTableEdition's) slot, never
#: a phase IV word (a payload's low bits are 00 only when it is 0).
SWP_TB_RMAP = 0b100
_COUNT_MASK = SWP_TB_COUNT_MAX << SWP_TB_COUNT_SHIFT
_STAT_NAMES = ("table_reads", "table_writes", "cluster_locks", "zswap_walks", "scans",
               "pte_walked", "fast_frees", "slots_freed", "folios_reclaimed",
               "extend_tables_allocated", "memcg_tables_allocated")


def _field(w):
    return (w >> SWP_TB_COUNT_SHIFT) & SWP_TB_COUNT_MAX


class _Dev:
    """``p4_dev_t``: per device, the per-cluster memcg and extend tables."""

    def __init__(self, si):
        self.si = si
        self.max = si._max
        n = len(si._cluster_info)
        self.memcg = [None] * n          # memcg_table per cluster, or None
        self.ext = [None] * n            # extend_table per cluster, or None
        self.used = [0] * n              # this design's entries per cluster
        self.nr_memcg_tables = 0
        self.nr_ext_tables = 0
        self.nr_zswap = 0


class SwapTableP4(DirectSwap):
    """Swap table phase IV; see :class:`vswap.SwapTableP4`.

    Runtime complexity: construction O(clusters).

    >>> from vswap.reference import SwapTableP4, SwapDevice, SwapDevices
    >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
    >>> p4.memory_footprint()["cluster_info"]
    192
    """

    _hosted = False                  # on a host's devices (SwapTableEdition's direct entries)

    def __init__(self, swaps):
        super().__init__(swaps)
        self._st = dict.fromkeys(_STAT_NAMES, 0)

    def _hosted_by(self, host):
        # The compiled _hosted_by: on host's devices, whose hooks stay the host's.
        if getattr(self, "_swaps", None) is not None or getattr(self, "_closed", False):
            raise RuntimeError(f"{type(host).__name__} is already initialised")
        self._hosted = True
        self._swaps = host._swaps
        self._devobjs, self._nr_seen, self._cluster_size = [], 0, 0
        self._devs = [None] * MAX_SWAPFILES
        self._zswap = {}
        self._st = dict.fromkeys(_STAT_NAMES, 0)

    def _sync_devices(self):
        if self._hosted:                 # the host attaches its devices to both
            return self._check_open()
        return SwapDesign._sync_devices(self)

    def _release_devices(self):
        if not self._hosted:
            return SwapDesign._release_devices(self)
        self._drop_devices()
        self._hosted = False
        self._swaps = None
        self._closed = True

    def _attach(self, t, si):
        if not self._hosted:
            SwapDesign._attach(self, t, si)
        else:
            self._cluster_size = si._cluster_size
        self._devs[t] = _Dev(si)

    # -- the table word ----------------------------------------------------------------

    @staticmethod
    def _raw(dv, off):
        # p4_word: a host's reverse-map slot reads as free
        w = dv.si._table_get(off)
        return 0 if w & 7 == SWP_TB_RMAP else w

    def _count_of(self, dv, off, w):
        c = _field(w)
        if c == SWP_TB_COUNT_MAX:
            return dv.ext[off >> dv.si._cluster_shift][off & (dv.si._cluster_size - 1)]
        return c

    def _count(self, dv, off):
        return self._count_of(dv, off, self._raw(dv, off))

    def _ext_need(self, dv, off, c):
        """The extend table a count ``c`` needs (allocated before any change)."""
        cl = off >> dv.si._cluster_shift
        if c >= SWP_TB_COUNT_MAX and dv.ext[cl] is None:
            dv.ext[cl] = [0] * dv.si._cluster_size
            dv.nr_ext_tables += 1
            self._st["extend_tables_allocated"] += 1

    def _with_count(self, dv, off, w, c):
        """``w`` carrying count ``c``; the extend table is updated (and freed when empty)."""
        cl, idx = off >> dv.si._cluster_shift, off & (dv.si._cluster_size - 1)
        if c >= SWP_TB_COUNT_MAX:
            dv.ext[cl][idx] = c
            c = SWP_TB_COUNT_MAX
        elif _field(w) == SWP_TB_COUNT_MAX:
            dv.ext[cl][idx] = 0
            if not any(dv.ext[cl]):
                dv.ext[cl] = None
                dv.nr_ext_tables -= 1
        return (w & ~_COUNT_MASK) | (c << SWP_TB_COUNT_SHIFT)

    @staticmethod
    def _cache_only_word(w, c):
        return c == 0 and w & SWP_TB_PIN

    def _memcg_set(self, dv, off, nr, memcg):
        cl = off >> dv.si._cluster_shift
        if dv.memcg[cl] is None:
            dv.memcg[cl] = [0] * dv.si._cluster_size
            dv.nr_memcg_tables += 1
            self._st["memcg_tables_allocated"] += 1
        for i in range(off, off + nr):
            dv.memcg[cl][i & (dv.si._cluster_size - 1)] = memcg
        dv.used[cl] += nr

    # -- the baseline's helpers, on the table word --------------------------------------

    def _free_run(self, t, dv, off, nr):
        cl = off >> dv.si._cluster_shift
        for i in range(off, off + nr):
            dv.memcg[cl][i & (dv.si._cluster_size - 1)] = 0
            if dv.nr_zswap:
                self._st["zswap_walks"] += 1
                if self._zswap.pop(_mkentry(t, i), None) is not None:
                    dv.nr_zswap -= 1
        dv.used[cl] -= nr
        if dv.used[cl] == 0:
            dv.memcg[cl] = None
            dv.nr_memcg_tables -= 1
        self._st["slots_freed"] += nr
        if all(dv.si._map[i] == 1 for i in range(off, off + nr)):     # SLOT_USED
            dv.si._swap_entries_free(off, nr)
            return
        for i in range(off, off + nr):
            if dv.si._map[i] == 1:
                dv.si._swap_entries_free(i, 1)

    def _put_range(self, t, dv, cur, end):
        run = nrun = 0
        only_cache = False
        for i in range(cur, end):
            w = self._tb_read(dv, i)
            c = self._count_of(dv, i, w) - 1
            w = self._with_count(dv, i, w, c)
            if c == 0 and not w & SWP_TB_PIN:
                if nrun == 0:
                    run = i
                nrun += 1
                continue
            if nrun:
                self._free_run(t, dv, run, nrun)
                nrun = 0
            if c == 0:
                w |= SWAP_TABLE_CACHE_ONLY
                only_cache = True
            self._tb_write(dv, i, w)
        if nrun:
            self._free_run(t, dv, run, nrun)
        return only_cache

    def _try_to_reclaim(self, t, dv, off):
        self._st["cluster_locks"] += 1
        w = self._tb_read(dv, off) & SWP_TB_PAYLOAD
        if not swap_cache_is_folio(w):
            return 0
        n = 1 << swap_cache_order(w)
        if n > dv.si._cluster_size:
            return 0
        base = off & ~(n - 1)
        for i in range(base, base + n):
            x = self._tb_read(dv, i)
            if not self._cache_only_word(x, self._count_of(dv, i, x)):
                return -n
        for i in range(base, base + n):
            self._tb_write(dv, i, 0)
        self._free_run(t, dv, base, n)
        self._st["folios_reclaimed"] += 1
        return n

    def _reclaim_hook(self, si, offset):
        t = si._type
        if t < 0 or t >= len(self._devs):
            return 0
        dv = self._devs[t]
        if dv is None or dv.si is not si or offset >= dv.max or self._raw(dv, offset) == 0:
            return 0
        return self._try_to_reclaim(t, dv, offset)

    def _fsc_core(self, t, dv, off, nr):
        cur, end = off, off + nr
        any_only_cache = False
        while cur < end:
            ce = self._chunk_end(dv, cur, end)
            self._st["cluster_locks"] += 1
            n = ce - cur
            fast = n > 1
            if fast:
                first = self._tb_read(dv, cur)
                fast = _field(first) == 1
                i = cur + 1
                while fast and i < ce:
                    w = self._tb_read(dv, i)
                    fast = _field(w) == 1 and (w & SWP_TB_PIN) == (first & SWP_TB_PIN)
                    i += 1
            if fast:
                self._st["fast_frees"] += 1
                if first & SWP_TB_PIN:
                    for i in range(cur, ce):
                        self._tb_write(dv, i, (self._raw(dv, i) & ~_COUNT_MASK)
                                       | SWAP_TABLE_CACHE_ONLY)
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
            w = self._tb_read(dv, cur)
            if w and self._cache_only_word(w, self._count_of(dv, cur, w)):
                r = abs(self._try_to_reclaim(t, dv, cur))
                if r > 0:
                    step = ((cur + r) & ~(r - 1)) - cur
            cur += step

    def _used(self, entry, nr, mode, need_count):
        """Validate a request on allocated entries (see ``_swaptable.pyx``); (e, n, t, dv, off)."""
        e = self._entry(entry)
        n = self._nr(nr) if mode == 0 else self._order(nr) if mode == 1 else 1
        dv = self._range(e, n, mode == 1)
        t, off = e >> SWP_TYPE_SHIFT, e & SWP_OFFSET_MASK
        for i in range(off, off + n):
            if self._raw(dv, i) == 0 or (need_count and self._count(dv, i) == 0):
                _raise("noent", t, i, "is free or has a swap count of 0" if need_count else "")
        return e, n, t, dv, off

    # -- allocation and counts ------------------------------------------------------------

    def folio_alloc_swap(self, folio, order=0, memcg=0, cpu=0):
        """See :meth:`vswap.SwapTableP4.folio_alloc_swap`. O(2**order) amortised."""
        _u64(folio, P4_FOLIO_MAX, "folio")
        return super().folio_alloc_swap(folio, order, memcg, cpu)

    def folio_alloc_swap_many(self, folios, order=0, memcg=0, cpu=0):
        """See :meth:`vswap.SwapTableP4.folio_alloc_swap_many`. O(n * 2**order)."""
        arr = _as_entries(folios, "folios")
        for f in arr:
            if int(f) >= P4_FOLIO_MAX:
                raise ValueError(f"folio {int(f)} is outside 0 .. {P4_FOLIO_MAX - 1}")
        return super().folio_alloc_swap_many(arr, order, memcg, cpu)

    def _alloc_one(self, folio, nr, memcg, cpu):
        order = nr.bit_length() - 1
        try:
            t, off = self._swaps.alloc(order, cpu)
        except _d.NoSpace:
            return 0
        dv = self._devs[t]
        self._st["cluster_locks"] += 1
        w = SWP_TB_PIN | swap_cache_folio(folio, order)
        self._memcg_set(dv, off, nr, memcg)
        for i in range(off, off + nr):
            self._tb_write(dv, i, w)
        return _mkentry(t, off)

    def _dup(self, t, dv, off, nr):
        for i in range(off, off + nr):
            self._ext_need(dv, i, self._count(dv, i) + 1)
        cur, end = off, off + nr
        while cur < end:
            ce = self._chunk_end(dv, cur, end)
            self._st["cluster_locks"] += 1
            for i in range(cur, ce):
                w = self._tb_read(dv, i)
                c = self._count_of(dv, i, w)
                self._tb_write(dv, i, self._with_count(dv, i, w & ~SWAP_TABLE_CACHE_ONLY, c + 1))
            cur = ce

    def swap_duplicate(self, entry, nr=1):
        """See :meth:`vswap.SwapTableP4.swap_duplicate`. O(nr)."""
        e, n, t, dv, off = self._used(entry, nr, 0, False)
        for i in range(off, off + n):
            if self._count(dv, i) >= SWAP_COUNT_LIMIT:
                _raise("overflow", t, i)
        self._dup(t, dv, off, n)

    def _batch_entry(self, e):
        if e >> 63:
            raise ValueError(f"swap entry {e:#x} is outside 0 .. 2**63-1")
        dv = self._range(e, 1, False)
        if self._raw(dv, e & SWP_OFFSET_MASK) == 0:
            _raise("noent", e >> SWP_TYPE_SHIFT, e & SWP_OFFSET_MASK)

    def _batch_count(self, e, k, need_count, dup):
        c = self._count(self._devs[e >> SWP_TYPE_SHIFT], e & SWP_OFFSET_MASK)
        if dup and c + k > SWAP_COUNT_LIMIT:
            _raise("overflow", e >> SWP_TYPE_SHIFT, e & SWP_OFFSET_MASK)
        if need_count and c < k:
            _raise("noent", e >> SWP_TYPE_SHIFT, e & SWP_OFFSET_MASK, "has a swap count of 0")

    def _check_batch(self, entries, need_count, dup):
        self._check_open()
        arr = _as_entries(entries)
        vals = [int(x) for x in arr]
        for e in vals:
            self._batch_entry(e)
        srt = sorted(vals)
        i, n = 0, len(srt)
        while i < n:
            j = i + 1
            while j < n and srt[j] == srt[i]:
                j += 1
            self._batch_count(srt[i], j - i, need_count, dup)
            i = j
        return vals

    def memcg_id(self, entry):
        """See :meth:`vswap.SwapTableP4.memcg_id`. O(1)."""
        *_, dv, off = self._used(entry, None, 2, False)
        return dv.memcg[off >> dv.si._cluster_shift][off & (dv.si._cluster_size - 1)]

    # -- swap cache --------------------------------------------------------------------------

    def swapcache_prepare(self, entry, nr=1):
        """See :meth:`vswap.SwapTableP4.swapcache_prepare`. O(nr)."""
        e, n = self._entry(entry), self._nr(nr)
        dv = self._range(e, n, False)
        t, off = e >> SWP_TYPE_SHIFT, e & SWP_OFFSET_MASK
        for i in range(off, off + n):
            w = self._raw(dv, i)
            if w == 0:
                _raise("noent", t, i)
            if w & SWP_TB_PIN:
                _raise("exist", t, i)
        cur, end = off, off + n
        while cur < end:
            ce = self._chunk_end(dv, cur, end)
            self._st["cluster_locks"] += 1
            for i in range(cur, ce):
                self._tb_write(dv, i, self._tb_read(dv, i) | SWP_TB_PIN)
            cur = ce

    def swap_cache_add_folio(self, entry, folio, order=0):
        """See :meth:`vswap.SwapTableP4.swap_cache_add_folio`. O(2**order)."""
        e = self._entry(entry)
        f = _u64(folio, P4_FOLIO_MAX, "folio")
        nr = self._order(order)
        dv = self._range(e, nr, True)
        t, off = e >> SWP_TYPE_SHIFT, e & SWP_OFFSET_MASK
        o = nr.bit_length() - 1
        for i in range(off, off + nr):
            w = self._raw(dv, i)
            if w == 0:
                _raise("noent", t, i)
            if not w & SWP_TB_PIN:
                _raise("notprep", t, i)
            if swap_cache_is_folio(w & SWP_TB_PAYLOAD):
                _raise("exist", t, i, "already holds a folio")
        self._st["cluster_locks"] += 1
        first = 0
        for i in range(off, off + nr):
            w = self._tb_read(dv, i)
            if i == off:
                first = w & SWP_TB_PAYLOAD
            self._tb_write(dv, i, (w & ~SWP_TB_PAYLOAD) | swap_cache_folio(f, o))
        return (first >> 1) if first & 1 else None

    def swap_cache_del_folio(self, entry, order=0, shadow=None):
        """See :meth:`vswap.SwapTableP4.swap_cache_del_folio`. O(2**order)."""
        e = self._entry(entry)
        nr = self._order(order)
        dv = self._range(e, nr, True)
        t, off = e >> SWP_TYPE_SHIFT, e & SWP_OFFSET_MASK
        sw = 0
        if shadow is not None:
            sw = (_u64(shadow, P4_SHADOW_MAX, "shadow") << 1) | 1
        if self._raw(dv, off) == 0:
            _raise("noent", t, off)
        w0 = self._raw(dv, off) & SWP_TB_PAYLOAD
        if not swap_cache_is_folio(w0) or (1 << swap_cache_order(w0)) != nr:
            _raise("noent", t, off, f"holds no folio of {nr} pages")
        for i in range(off, off + nr):
            if self._raw(dv, i) & SWP_TB_PAYLOAD != w0:
                _raise("noent", t, off, f"holds no folio of {nr} pages")
        self._st["cluster_locks"] += 1
        for i in range(off, off + nr):
            self._tb_write(dv, i, (self._tb_read(dv, i) & ~SWP_TB_PAYLOAD) | sw)

    def swap_cache_get_folio(self, entry):
        """See :meth:`vswap.SwapTableP4.swap_cache_get_folio`. O(1)."""
        *_, dv, off = self._used(entry, None, 2, False)
        w = self._tb_read(dv, off) & SWP_TB_PAYLOAD
        return swap_cache_folio_id(w) if swap_cache_is_folio(w) else None

    def swap_cache_get_shadow(self, entry):
        """See :meth:`vswap.SwapTableP4.swap_cache_get_shadow`. O(1)."""
        *_, dv, off = self._used(entry, None, 2, False)
        w = self._tb_read(dv, off) & SWP_TB_PAYLOAD
        return (w >> 1) if w & 1 else None

    def put_swap_folio(self, entry, order=0):
        """See :meth:`vswap.SwapTableP4.put_swap_folio`. O(2**order)."""
        e = self._entry(entry)
        nr = self._order(order)
        dv = self._range(e, nr, True)
        t, off = e >> SWP_TYPE_SHIFT, e & SWP_OFFSET_MASK
        all_only = True
        for i in range(off, off + nr):
            w = self._raw(dv, i)
            if not w & SWP_TB_PIN:
                _raise("noent", t, i, "is not in the swap cache")
            if swap_cache_is_folio(w & SWP_TB_PAYLOAD):
                _raise("exist", t, i, "still holds a folio")
            if self._count_of(dv, i, w):
                all_only = False
        self._st["cluster_locks"] += 1
        if all_only:
            self._free_run(t, dv, off, nr)
            return
        for i in range(off, off + nr):
            w = self._tb_read(dv, i)
            if self._count_of(dv, i, w) == 0:
                self._free_run(t, dv, i, 1)
            else:
                self._tb_write(dv, i, w & ~(SWP_TB_PIN | SWAP_TABLE_CACHE_ONLY))

    # -- backends ------------------------------------------------------------------------------

    def _kind(self, t, dv, off):
        w = self._tb_read(dv, off)
        if swap_cache_is_folio(w & SWP_TB_PAYLOAD):
            return VSWAP_FOLIO, swap_cache_folio_id(w & SWP_TB_PAYLOAD)
        if w & SWP_TB_ZERO:
            return VSWAP_ZERO, 0
        if dv.nr_zswap:
            self._st["zswap_walks"] += 1
            h = self._zswap.get(_mkentry(t, off))
            if h is not None:
                return VSWAP_ZSWAP, h
        return VSWAP_SWAPFILE, _mkentry(t, off)

    def _zero_clear(self, dv, off):
        w = self._tb_read(dv, off)
        if w & SWP_TB_ZERO:
            self._tb_write(dv, off, w & ~SWP_TB_ZERO)

    def zero_store(self, entry, nr=1):
        """See :meth:`vswap.SwapTableP4.zero_store`. O(nr)."""
        e, n, t, dv, off = self._used(entry, nr, 0, False)
        for i in range(off, off + n):
            self._tb_write(dv, i, self._tb_read(dv, i) | SWP_TB_ZERO)
            self._zswap_drop(t, dv, i)

    def _zswap_put(self, t, dv, off, h):
        self._st["zswap_walks"] += 1
        key = _mkentry(t, off)
        if key not in self._zswap:
            dv.nr_zswap += 1
        self._zswap[key] = h
        self._zero_clear(dv, off)

    def writeback(self, entry, order=0):
        """See :meth:`vswap.SwapTableP4.writeback`. O(2**order)."""
        e, nr, t, dv, off = self._used(entry, order, 1, False)
        for i in range(off, off + nr):
            self._zero_clear(dv, i)
            self._zswap_drop(t, dv, i)
        return e

    # -- device-level verbs --------------------------------------------------------------------

    def swapoff(self, device, page_tables):
        """See :meth:`vswap.SwapTableP4.swapoff`. O(PTEs + device slots)."""
        t, dv = self._device(device)
        items, is_array = self._swapoff_items(page_tables)
        refs = {}
        hits = []
        for vpn, pe in items:
            pe = _d.operator.index(pe)
            if pe <= 0 or pe >= (1 << 63) or pe >> SWP_TYPE_SHIFT != t:
                continue
            off = pe & SWP_OFFSET_MASK
            if off >= dv.max or self._raw(dv, off) == 0:
                _raise("noent", t, off if off < dv.max else 0, "in the page tables is not allocated")
            refs[off] = refs.get(off, 0) + 1
            hits.append((vpn, pe))
        for off in range(dv.max):
            if self._raw(dv, off) == 0:
                continue
            c = self._count(dv, off)
            r = refs.get(off, 0)
            if r > c:
                _raise("noent", t, off, f"has {r} PTEs but a count of {c}")
            if r < c:
                raise SwapError(f"swapoff: swap entry {_mkentry(t, off):#x} has {c - r} "
                                "references the page tables do not hold")
        self._st["pte_walked"] += len(items)
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
            if self._raw(dv, off) == 0:
                continue
            self._st["cluster_locks"] += 1
            w = self._tb_read(dv, off)
            if w & SWP_TB_PAYLOAD:
                self._tb_write(dv, off, 0)
            self._free_run(t, dv, off, 1)
        return len(hits)

    @staticmethod
    def _swapoff_items(page_tables):
        if isinstance(page_tables, np.ndarray):
            _as_entries(page_tables, "page_tables")
            if not page_tables.flags.writeable:
                raise ValueError("page_tables array is read-only")
            return [(k, int(v)) for k, v in enumerate(page_tables)], True
        if not hasattr(page_tables, "items") or not hasattr(page_tables, "__delitem__"):
            raise TypeError("page_tables must be a mapping {vpn: entry} or a uint64 array")
        return list(page_tables.items()), False

    # -- accounting -------------------------------------------------------------------------------

    def memory_footprint(self):
        """See :meth:`vswap.SwapTableP4.memory_footprint`. O(devices)."""
        out = dict.fromkeys(("cluster_info", "swap_table", "memcg_table", "extend_table",
                             "zswap_tree"), 0)
        for dv in self._devs:
            if dv is None:
                continue
            out["cluster_info"] += P4_CLUSTER_INFO_BYTES * len(dv.si._cluster_info)
            out["swap_table"] += 8 * dv.si._nr_tables * dv.si._cluster_size
            out["memcg_table"] += 2 * dv.nr_memcg_tables * dv.si._cluster_size
            out["extend_table"] += 4 * dv.nr_ext_tables * dv.si._cluster_size
            out["zswap_tree"] += 8 * dv.nr_zswap
        out["total"] = sum(out.values())
        return out

    def reset_stats(self):
        """Zero every counter of :attr:`stats`. O(1)."""
        self._st = dict.fromkeys(_STAT_NAMES, 0)

    def check(self):
        """See :meth:`vswap.SwapTableP4.check`. O(slots)."""
        self._check_open()
        errors = []
        nz = 0
        for t, dv in enumerate(self._devs):
            if dv is None:
                continue
            if not self._hosted and (dv.si._owner is None or dv.si._owner() is not self):
                errors.append(f"type {t}: reclaim hook is not this design's")
            cs = dv.si._cluster_size
            for cl in range(len(dv.si._cluster_info)):
                lo, hi = cl * cs, min((cl + 1) * cs, dv.max)
                used = sum(1 for o in range(lo, hi) if self._raw(dv, o))
                if used != dv.used[cl]:
                    errors.append(f"{t}: cluster {cl}: {used} entries, {dv.used[cl]} counted")
                if (dv.memcg[cl] is not None) != (used > 0):
                    errors.append(f"{t}: cluster {cl}: memcg_table with {used} entries")
                if dv.ext[cl] is not None and not any(dv.ext[cl]):
                    errors.append(f"{t}: cluster {cl}: empty extend table kept")
            if sum(m is not None for m in dv.memcg) != dv.nr_memcg_tables or \
                    sum(x is not None for x in dv.ext) != dv.nr_ext_tables:
                errors.append(f"{t}: table counts differ")
            for off in range(dv.max):
                w = self._raw(dv, off)
                cl, idx = off >> dv.si._cluster_shift, off & (cs - 1)
                if dv.si._table_get(off) & 7 == SWP_TB_RMAP:
                    if not self._hosted:
                        errors.append(f"{t}:{off}: a reverse-map word, and no host")
                    continue
                if (w != 0) != (dv.si._map[off] == 1):
                    errors.append(f"{t}:{off}: table word {w:#x} but allocator map "
                                  f"{dv.si._map[off]}")
                    continue
                ext = dv.ext[cl][idx] if dv.ext[cl] is not None else 0
                if w == 0:
                    if ext or (dv.memcg[cl] is not None and dv.memcg[cl][idx]):
                        errors.append(f"{t}:{off}: free slot keeps metadata")
                    continue
                if (_field(w) == SWP_TB_COUNT_MAX) != (ext >= SWP_TB_COUNT_MAX):
                    errors.append(f"{t}:{off}: count field {_field(w)}, extend {ext}")
                c = self._count_of(dv, off, w)
                if c == 0 and not w & SWP_TB_PIN:
                    errors.append(f"{t}:{off}: count 0 and not in the swap cache")
                if bool(w & SWAP_TABLE_CACHE_ONLY) and not self._cache_only_word(w, c):
                    errors.append(f"{t}:{off}: cache-only bit with count {c}")
                p = w & SWP_TB_PAYLOAD
                if swap_cache_is_folio(p):
                    if not w & SWP_TB_PIN:
                        errors.append(f"{t}:{off}: folio cached without the pin")
                    n = 1 << swap_cache_order(p)
                    if n > cs:
                        errors.append(f"{t}:{off}: folio order {(p >> 2) & 15} > cluster")
                        continue
                    base = off & ~(n - 1)
                    for i in range(base, base + n):
                        if self._raw(dv, i) & SWP_TB_PAYLOAD != p:
                            errors.append(f"{t}:{off}: folio run at {base} broken at {i}")
                            break
                if _mkentry(t, off) in self._zswap:
                    nz += 1
        total = sum(dv.nr_zswap for dv in self._devs if dv is not None)
        if nz != total or total != len(self._zswap):
            errors.append(f"zswap: {nz} found on used slots, {total} counted, "
                          f"{len(self._zswap)} in the tree")
        if errors:
            raise AssertionError("SwapTableP4 invariant violated:\n  " + "\n  ".join(errors[:20]))
        if not self._hosted:           # a host checks its allocator itself
            self._swaps.check()

    def snapshot(self):
        """See :meth:`vswap.SwapTableP4.snapshot`. O(slots)."""
        self._check_open()
        devices = {}
        for t, dv in enumerate(self._devs):
            if dv is None:
                continue
            slots = {}
            for off in range(dv.max):
                w = self._raw(dv, off)
                if w == 0:
                    continue
                z = self._zswap.get(_mkentry(t, off)) if dv.nr_zswap else None
                slots[off] = (w, self._count_of(dv, off, w),
                              dv.memcg[off >> dv.si._cluster_shift][off & (dv.si._cluster_size - 1)], z)
            devices[t] = {"slots": slots, "memcg_tables": dv.nr_memcg_tables,
                          "extend_tables": dv.nr_ext_tables, "nr_zswap": dv.nr_zswap}
        return {"devices": devices, "stats": self.stats, "swaps": self._swaps._state()}

    def __repr__(self):
        return (f"SwapTableP4(devices={sum(1 for d in self._devs if d is not None)}, "
                f"zswap={len(self._zswap)})")
