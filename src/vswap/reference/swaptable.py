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

from vswap.protocol import check_uint64_array as _as_entries
from vswap.reference.direct import DirectSwap
from vswap.reference.swapfile import SWAP_TABLE_CACHE_ONLY, SwapDesign
from vswap.swapentry import (MAX_SWAPFILES, P4_CLUSTER_INFO_BYTES, SWP_TB_TAG_MASK,
                             swap_cache_is_folio)

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

    The baseline's walks (:class:`vswap.reference.DirectSwap`) with this
    design's hooks: where the count, the pin, the zero flag and the memcg
    id of a slot live.

    Runtime complexity: construction O(clusters).

    >>> from vswap.reference import SwapTableP4, SwapDevice, SwapDevices
    >>> p4 = SwapTableP4(SwapDevices([SwapDevice(64, cluster_size=16)]))
    >>> p4.memory_footprint()["cluster_info"]
    192
    """

    _STAT_NAMES = _STAT_NAMES
    swapin_bypasses_swap_cache = False   # on 7.0's phase II (SwapSpace.swapin_bypasses_swap_cache)
    _count_limit = SWAP_COUNT_LIMIT
    _folio_max = P4_FOLIO_MAX
    _shadow_max = P4_SHADOW_MAX

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
        return 0 if w & SWP_TB_TAG_MASK == SWP_TB_RMAP else w

    def _count_of(self, dv, off, w):
        c = _field(w)
        if c == SWP_TB_COUNT_MAX:
            return dv.ext[off >> dv.si._cluster_shift][off & (dv.si._cluster_size - 1)]
        return c

    def _count(self, dv, off):
        return self._count_of(dv, off, self._raw(dv, off))

    def _count_room(self, dv, off, c):
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

    # -- the baseline's hooks, on the table word ----------------------------------------

    def _in_use(self, dv, off):
        return self._raw(dv, off) != 0

    @staticmethod
    def _payload(w):
        return w & SWP_TB_PAYLOAD

    @staticmethod
    def _with_payload(w, p):
        return (w & ~SWP_TB_PAYLOAD) | p

    def _pinned(self, dv, off):
        return self._raw(dv, off) & SWP_TB_PIN

    def _pin(self, dv, off):
        self._tb_write(dv, off, self._tb_read(dv, off) | SWP_TB_PIN)

    def _unpin(self, t, dv, off):
        w = self._tb_read(dv, off)
        if self._count_of(dv, off, w) == 0:
            self._free_run(t, dv, off, 1)
        else:
            self._tb_write(dv, off, w & ~(SWP_TB_PIN | SWAP_TABLE_CACHE_ONLY))

    def _only_in_cache(self, dv, off):
        w = self._tb_read(dv, off)
        return bool(w) and bool(self._cache_only_word(w, self._count_of(dv, off, w)))

    @staticmethod
    def _is_zero(dv, off, w):
        return w & SWP_TB_ZERO

    def _zero_set(self, dv, off):
        self._tb_write(dv, off, self._tb_read(dv, off) | SWP_TB_ZERO)

    def _zero_clear(self, dv, off):
        w = self._tb_read(dv, off)
        if w & SWP_TB_ZERO:
            self._tb_write(dv, off, w & ~SWP_TB_ZERO)

    @staticmethod
    def _memcg(dv, off):
        return dv.memcg[off >> dv.si._cluster_shift][off & (dv.si._cluster_size - 1)]

    def _alloc_slots(self, dv, off, nr, memcg, w):
        cl = off >> dv.si._cluster_shift
        if dv.memcg[cl] is None:
            dv.memcg[cl] = [0] * dv.si._cluster_size
            dv.nr_memcg_tables += 1
            self._st["memcg_tables_allocated"] += 1
        for i in range(off, off + nr):
            dv.memcg[cl][i & (dv.si._cluster_size - 1)] = memcg
        dv.used[cl] += nr
        for i in range(off, off + nr):
            self._tb_write(dv, i, SWP_TB_PIN | w)

    def _clear_slots(self, dv, off, nr):
        cl = off >> dv.si._cluster_shift
        for i in range(off, off + nr):
            dv.memcg[cl][i & (dv.si._cluster_size - 1)] = 0
        dv.used[cl] -= nr
        if dv.used[cl] == 0:
            dv.memcg[cl] = None
            dv.nr_memcg_tables -= 1

    def _put_one(self, dv, off):
        w = self._tb_read(dv, off)
        c = self._count_of(dv, off, w) - 1
        w = self._with_count(dv, off, w, c)
        if c == 0 and not w & SWP_TB_PIN:
            return "free"
        if c == 0:
            w |= SWAP_TABLE_CACHE_ONLY
        self._tb_write(dv, off, w)
        return "cache" if c == 0 else None

    def _fast_chunk(self, dv, cur, ce):
        if ce - cur <= 1:
            return None
        first = self._tb_read(dv, cur)
        if _field(first) != 1:
            return None
        for i in range(cur + 1, ce):
            w = self._tb_read(dv, i)
            if _field(w) != 1 or (w & SWP_TB_PIN) != (first & SWP_TB_PIN):
                return None
        return bool(first & SWP_TB_PIN)

    def _mark_cache_only(self, dv, cur, ce):
        for i in range(cur, ce):
            self._tb_write(dv, i, (self._raw(dv, i) & ~_COUNT_MASK) | SWAP_TABLE_CACHE_ONLY)

    def _dup_one(self, dv, off):
        w = self._tb_read(dv, off)
        c = self._count_of(dv, off, w)
        self._tb_write(dv, off, self._with_count(dv, off, w & ~SWAP_TABLE_CACHE_ONLY, c + 1))

    def folio_alloc_swap_many(self, folios, order=0, memcg=0, cpu=0):
        """See :meth:`vswap.SwapTableP4.folio_alloc_swap_many`. O(n * 2**order)."""
        arr = _as_entries(folios, "folios")
        for f in arr:
            if int(f) >= P4_FOLIO_MAX:
                raise ValueError(f"folio {int(f)} is outside 0 .. {P4_FOLIO_MAX - 1}")
        return super().folio_alloc_swap_many(arr, order, memcg, cpu)

    # -- accounting -------------------------------------------------------------------------------

    _FOOTPRINT = ("cluster_info", "swap_table", "memcg_table", "extend_table")

    def _footprint_dev(self, out, dv):
        out["cluster_info"] += P4_CLUSTER_INFO_BYTES * len(dv.si._cluster_info)
        out["swap_table"] += 8 * dv.si._nr_tables * dv.si._cluster_size
        out["memcg_table"] += 2 * dv.nr_memcg_tables * dv.si._cluster_size
        out["extend_table"] += 4 * dv.nr_ext_tables * dv.si._cluster_size

    def _check_dev(self, t, dv, errors):
        cs = dv.si._cluster_size
        for cl in range(len(dv.si._cluster_info)):
            lo, hi = cl * cs, min((cl + 1) * cs, dv.max)
            used = sum(1 for o in range(lo, hi) if self._raw(dv, o))
            self._check_cluster(t, dv, cl, used, errors)
            if dv.ext[cl] is not None and not any(dv.ext[cl]):
                errors.append(f"{t}: cluster {cl}: empty extend table kept")
        if sum(x is not None for x in dv.ext) != dv.nr_ext_tables:
            errors.append(f"{t}: extend table count differs")
        self._check_tables(t, dv, errors)

    def _check_cluster(self, t, dv, cl, used, errors):
        """A cluster's own metadata against its ``used`` entries (its memcg_table)."""
        if used != dv.used[cl]:
            errors.append(f"{t}: cluster {cl}: {used} entries, {dv.used[cl]} counted")
        if (dv.memcg[cl] is not None) != (used > 0):
            errors.append(f"{t}: cluster {cl}: memcg_table with {used} entries")

    def _check_tables(self, t, dv, errors):
        if sum(m is not None for m in dv.memcg) != dv.nr_memcg_tables:
            errors.append(f"{t}: memcg table count differs")

    def _slot_meta(self, dv, off):
        """The slot's metadata outside its word is set (a memcg id)."""
        m = dv.memcg[off >> dv.si._cluster_shift]
        return m is not None and m[off & (dv.si._cluster_size - 1)] != 0

    def _check_slot(self, t, dv, off, errors):
        w = self._raw(dv, off)
        cl, idx = off >> dv.si._cluster_shift, off & (dv.si._cluster_size - 1)
        if dv.si._table_get(off) & SWP_TB_TAG_MASK == SWP_TB_RMAP:
            if not self._hosted:
                errors.append(f"{t}:{off}: a reverse-map word, and no host")
            return
        if (w != 0) != (dv.si._map[off] == 1):
            errors.append(f"{t}:{off}: table word {w:#x} but allocator map {dv.si._map[off]}")
            return
        ext = dv.ext[cl][idx] if dv.ext[cl] is not None else 0
        if w == 0:
            if ext or self._slot_meta(dv, off):
                errors.append(f"{t}:{off}: free slot keeps metadata")
            return
        if (_field(w) == SWP_TB_COUNT_MAX) != (ext >= SWP_TB_COUNT_MAX):
            errors.append(f"{t}:{off}: count field {_field(w)}, extend {ext}")
        c = self._count_of(dv, off, w)
        if c == 0 and not w & SWP_TB_PIN:
            errors.append(f"{t}:{off}: count 0 and not in the swap cache")
        if bool(w & SWAP_TABLE_CACHE_ONLY) and not self._cache_only_word(w, c):
            errors.append(f"{t}:{off}: cache-only bit with count {c}")
        if swap_cache_is_folio(w & SWP_TB_PAYLOAD) and not w & SWP_TB_PIN:
            errors.append(f"{t}:{off}: folio cached without the pin")

    def _snap_slot(self, dv, off, z):
        w = self._raw(dv, off)
        return (w, self._count_of(dv, off, w), self._memcg(dv, off), z)

    def _snap_dev(self, dv):
        return {"memcg_tables": dv.nr_memcg_tables, "extend_tables": dv.nr_ext_tables}
