"""The replay in pure Python: the reference twin of ``vswap._replay``, and the home of its names.

The same memory model, step for step, calling the design's Python methods
(the :class:`vswap.protocol.SwapSpace` verbs) instead of its C verb table,
so it replays any design, compiled or not, and must give the compiled
replay's counters exactly (tested on small traces). It is slow: one Python
call per swap operation. See :func:`vswap.replay.replay` for the model.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np

from vswap.errors import NoEntry, NoSpace, TraceError
from vswap.counters import (ACCOUNTING, BACKENDS, COUNTER_NAMES, KERNEL_COUNTERS, MODEL_COUNTERS,
                            MTHP_STATS, mthp_counter, phase_snapshot)
from vswap.contention import Window, chunk_wait, window_of
from vswap.protocol import LOOKUP_KINDS
from vswap.workloads import OPS
from vswap.swapentry import VSWAP_FOLIO, VSWAP_SWAPFILE, VSWAP_ZERO, VSWAP_ZSWAP

__all__ = ["replay_trace", "COUNTER_NAMES", "KERNEL_COUNTERS", "MODEL_COUNTERS", "MTHP_STATS",
           "BACKENDS", "ACCOUNTING", "mthp_counter", "phase_snapshot"]

ST_FAULT_ALLOC, ST_FAULT_FALLBACK, ST_FAULT_FALLBACK_CHARGE, ST_SWPOUT, ST_SWPOUT_FALLBACK, \
    ST_SWPIN, ST_SWPIN_FALLBACK, ST_SWPIN_FALLBACK_CHARGE, ST_ZSWPOUT = range(9)

PG_NONE, PG_RESIDENT, PG_SWAPPED, PG_SWAPCACHE = 0, 1, 2, 3
PG_FREED = 3
EV_TOUCH, EV_WRITE, EV_FREE, EV_FORK, EV_EXIT, EV_PAGEOUT, EV_DONTNEED = range(7)
EV_LAST = EV_DONTNEED
C_DATA, C_ZERO, C_SAME = 0, 1, 2
BK_ZRAM, BK_ZSWAP, BK_SWAPFILE = 0, 1, 2
AC_V2, AC_V1, AC_NONE = 0, 1, 2
OPS_FREE = VSWAP_FOLIO + 1   # _swapops.pxd: a free entry's lookup code
ZSWAP_BIT = 0x10     # a swapped page: its data is in zswap
DIRTY_BIT = 0x20     # a read-ahead folio loaded from zswap: zswap dropped its copy
WB_BIT = 0x40        # PG_SWAPCACHE: a folio reclaim wrote to a swapfile, not yet freed
WB_MISSED = 1 << 63  # a write in flight whose folio will miss folio_rotate_reclaimable
RA_BIT = 0x80        # PG_SWAPCACHE: read ahead and not yet hit (the folio's PG_readahead)
KS_SLEEP, KS_RUN, KS_NAP = 0, 1, 2
KSWAPD_CPU = 63
DEF_PRIORITY = 12
PAGE = 4096
PMD_PAGES = 512
PMD_ORDER = 9
RA_HITS_MAX = 63
PROGRESS_STEP = 1 << 20
# A machine-wide LRU entry's top bit: scanned once and found young, kept (PG_referenced).
LRU_REFERENCED = 1 << 63
STALL_OPEN = (1 << 64) - 1   # a direct reclaim stall not yet ended (d1)


def scan_fractions(swappiness: int, prio: int) -> tuple[int, int]:
    """get_scan_count's pressure on the anon and file LRUs at ``prio``, per page of each.

    SCAN_EQUAL at priority 0; else SCAN_FRACT with the page cache's cost 0
    (the model's is dropped clean, never rotated) and anon's positive: anon
    ``swappiness x 3/2`` to file ``(200 - swappiness) x 3``, as (anon, file).

    >>> scan_fractions(60, 12), scan_fractions(60, 0)
    ((60, 280), (1, 1))
    """
    return (1, 1) if prio == 0 else (swappiness, 2 * (200 - swappiness))


def inactive_share(pages: int) -> int:
    """The inactive part of an LRU of ``pages``: inactive_is_low keeps inactive x ratio >= active,
    ratio int_sqrt(10 x GiB) (1 below a GiB), so reclaim finds about pages / (1 + ratio) there."""
    gb = pages >> (30 - 12)
    return pages // (1 + (math.isqrt(10 * gb) if gb else 1))


def _make(state: int, content: int, high: int) -> int:
    return state | (content << 2) | (high << 4)


def _splits_folio(s: int, edge: int) -> bool:
    return (s & 3) == PG_RESIDENT and (edge & ((1 << (s >> 4)) - 1)) != 0


class _Model:
    """The memory model's state: page tables, page states, LRU, zswap LRU, read-ahead windows."""

    def __init__(self, space: Any, span: int, cfg: dict[str, Any]) -> None:
        self.space = space
        self.pte = np.zeros(span, dtype=np.uint64)
        self.pstate = np.zeros(span, dtype=np.uint8)
        self.span = span
        self.lru: list[int] = []       # a FIFO: appended at the end, taken from lru_head
        self.lru_head = 0
        self.zq: list[tuple[int, int, int]] = []    # vpn, entry, the store's handle
        self.zq_head = 0
        # per page, its last zswap store's handle (low 32 bits); None without zswap
        self.zgen = np.zeros(span + 1, dtype=np.uint32) if cfg["zswap_max"] else None
        self.resident = 0
        # per 2 MiB region: bit 0 its PTE page, bit 1 (first region of a 1 GiB one) its PMD page
        self.pgtab = bytearray((span >> PMD_ORDER) + 1) if cfg["page_tables"] else None
        self.pgtables = 0
        self.pool = 0                  # pages in zswap
        self.zswap_bytes = 0
        self.zram_bytes = 0
        self.reached_full = False
        self.handle = 0
        self.ra = [[0, 0, 0] for _ in range(64)]   # per CPU (task): pfn, window, hits
        self.cfg = cfg
        self.c = dict.fromkeys(KERNEL_COUNTERS + MODEL_COUNTERS, 0)
        self.mthp = [[0] * len(MTHP_STATS) for _ in range(10)]
        self.has_cpu = hasattr(space, "cpu")
        # pages FORK shared: a ring per shared page (next member's vpn + 1; 0 = not shared)
        self.nxt = np.zeros(span, dtype=np.uint64) if cfg["forks"] else None
        # machine-wide reclaim
        self.file = cfg["file_pages"]
        self.file_acc = 0
        self.t_task = self.t_kswapd = self.nap_end = 0
        self.kstate = KS_SLEEP
        self.reclaimer = 0
        self.ref_acc = self.light = self.same = self.pageouts = self.wbfree = 0
        self.wb: list[tuple[int, int, int]] = []     # vpn, entry, completion time
        self.wb_head = 0
        self.clean: list[tuple[int, int]] = []
        self.clean_head = 0
        self.late: list[tuple[int, int, int]] = []   # vpn, entry, LRU pops due
        self.late_head = 0
        self.missdue: list[int] = []     # the LRU pops due of each write that misses the rotation
        self.missdue_head = 0
        self.lru_pops = self.missed_acc = 0
        prices = cfg["design_ns"]
        shared = cfg["contention"] if cfg["transfer_ns"] else {}
        self.priced = bool(cfg["kswapd"] and (prices or shared) and _priced(space))
        self.dprev = dict(space.stats) if self.priced else {}
        # ps per unit of each design counter; the shared lines' weights (vswap.contention)
        self.dweight = {k: round(float(v) * 1000) for k, v in prices.items()}
        self.cweights = {k: tuple(int(x) for x in v) for k, v in shared.items()
                       if k in self.dprev}
        self.k_win = Window(0, 0, 0, 0)      # kswapd's last chunk
        self.w_win = Window(0, 0, 0, 0)      # the task's last direct-reclaim call
        self.d0 = self.d1 = 0                # ... and its interval

    # -- the verbs, on a CPU ----------------------------------------------------------------

    def page_memcg(self, vpn: int) -> int:
        memcg = self.cfg["memcg"]
        return int(memcg[vpn]) if isinstance(memcg, np.ndarray) else memcg

    def on(self, cpu: int) -> Any:
        if self.has_cpu:
            self.space.cpu = cpu
        return self.space

    # -- pages shared by FORK: one ring of the vpns that map a page -------------------------

    def shared(self, p: int) -> bool:
        return self.nxt is not None and int(self.nxt[p]) != 0

    def members(self, p: int) -> list[int]:
        """The vpns mapping ``p``'s page, ``p`` first."""
        out = [p]
        q = int(self.nxt[p]) - 1
        while q != p:
            out.append(q)
            q = int(self.nxt[q]) - 1
        return out

    def ring_add(self, p: int, d: int) -> None:
        nx = self.nxt
        if nx[p] == 0:
            nx[p] = p + 1
        nx[d] = nx[p]
        nx[p] = d + 1

    def ring_del(self, p: int) -> tuple[int, bool]:
        """``p`` leaves its ring: (a remaining member, whether any member keeps a swap PTE)."""
        nx, ps = self.nxt, self.pstate
        q = p
        while int(nx[q]) - 1 != p:
            q = int(nx[q]) - 1
        nx[q] = nx[p]
        nx[p] = 0
        swp = False
        r = q
        while True:
            swp = swp or (int(ps[r]) & 3) >= PG_SWAPPED
            r = int(nx[r]) - 1
            if r == q or r < 0:
                break
        if int(nx[q]) - 1 == q:
            nx[q] = 0
        return q, swp

    def set_swap_bits(self, p: int, bits: int) -> None:
        """Every other member of ``p``'s ring with a swap PTE gets ``bits`` (state included)."""
        if not self.shared(p):
            return
        ps = self.pstate
        q = int(self.nxt[p]) - 1
        while q != p:
            if (int(ps[q]) & 3) >= PG_SWAPPED:
                ps[q] = (int(ps[q]) & 0x0C) | (bits & ~0x0C)
            q = int(self.nxt[q]) - 1

    def lookup(self, e: int, cpu: int) -> tuple[int, int]:
        try:
            r = self.on(cpu).lookup(e)
        except NoEntry:
            return OPS_FREE, 0
        return LOOKUP_KINDS.index(r.kind), r.handle

    def reclaim_folio(self, e: int, order: int, shadow: int | None, cpu: int) -> None:
        sp = self.on(cpu)
        sp.swap_cache_del_folio(e, order, shadow)
        sp.put_swap_folio(e, order)

    def swapin_folio(self, e: int, order: int, folio: int, cpu: int) -> None:
        sp = self.on(cpu)
        sp.swapcache_prepare(e, 1 << order)
        sp.swap_cache_add_folio(e, folio, order)

    def writeback(self, e: int, order: int, cpu: int) -> bool:
        try:
            self.on(cpu).writeback(e, order)
        except NoSpace:
            return True
        return False

    # -- memory accounting ----------------------------------------------------------------------

    def used(self) -> int:
        a = self.cfg["accounting"]
        if a == AC_V1:
            return self.resident + self.pgtables
        extra = self.zswap_bytes if a == AC_V2 else self.zswap_bytes + self.zram_bytes
        return self.resident + self.pgtables + -(-extra // PAGE)

    def pte_alloc(self, p: int, cpu: int) -> None:
        """__pte_alloc for page ``p``'s 2 MiB region (and __pmd_alloc for a new 1 GiB one)."""
        r = p >> PMD_ORDER
        top = (r >> PMD_ORDER) << PMD_ORDER
        if self.pgtab[r] & 1:
            return
        need = 1 + ((self.pgtab[top] & 2) == 0)
        self.make_room(need, cpu)
        self.pgtab[top] |= 2
        self.pgtab[r] |= 1
        self.pgtables += need

    def drop_backing(self, s: int) -> None:
        """An entry of page state ``s`` is freed: zswap and zram drop its compressed copy."""
        ct = (s >> 2) & 3
        if s & ZSWAP_BIT:
            self.pool -= 1
            self.zswap_bytes -= self.cfg["csize"][ct]
        if self.cfg["backend"] == BK_ZRAM and ct == C_DATA:
            self.zram_bytes -= self.cfg["csize"][C_DATA]

    # -- reclaim and swap-out ------------------------------------------------------------------

    def count_split(self, order: int) -> None:
        if order == PMD_ORDER:
            self.c["thp_swpout_fallback"] += 1
        self.mthp[order][ST_SWPOUT_FALLBACK] += 1

    def device_write(self, e: int, vpn: int, order: int, cpu: int) -> None:
        nr = 1 << order
        c, cfg, ps = self.c, self.cfg, self.pstate
        whole = True
        if self.writeback(e, order, cpu):
            if order == 0:
                raise NoSpace("the swap device is full: give the machine more swap")
            self.count_split(order)
            whole = False
            for i in range(nr):
                if self.writeback(e + i, 0, cpu):
                    raise NoSpace("the swap device is full: give the machine more swap")
        c["pswpout"] += nr
        if whole and order:
            self.mthp[order][ST_SWPOUT] += 1
            if order == PMD_ORDER:
                c["thp_swpout"] += 1
        if cfg["backend"] == BK_ZRAM:
            for i in range(nr):
                if (int(ps[vpn + i]) >> 2) & 3 == C_DATA:
                    c["zram_comp"] += 1
                    self.zram_bytes += cfg["csize"][C_DATA]
                else:
                    c["zram_same"] += 1

    def zswap_full(self) -> bool:
        pages = -(-self.zswap_bytes // PAGE)
        if pages >= self.cfg["zswap_max"]:
            self.reached_full = True
        elif self.reached_full and pages <= self.cfg["zswap_accept"]:
            self.reached_full = False
        return self.reached_full

    def zswap_try_store(self, e: int, vpn: int, order: int, cpu: int) -> bool:
        nr = 1 << order
        csize, ps = self.cfg["csize"], self.pstate
        for i in range(nr):
            if csize[(int(ps[vpn + i]) >> 2) & 3] >= PAGE:
                self.c["zswap_rejected"] += nr
                return False
        if self.zswap_full():
            self.c["zswap_rejected"] += nr
            return False
        for i in range(nr):
            self.handle += 1
            self.on(cpu).zswap_store(e + i, self.handle)
            self.zq.append((vpn + i, e + i, self.handle))
            self.zgen[vpn + i] = self.handle & 0xFFFFFFFF
            self.zswap_bytes += csize[(int(ps[vpn + i]) >> 2) & 3]
        self.pool += nr
        self.c["zswpout"] += nr
        if order:
            self.mthp[order][ST_ZSWPOUT] += 1
        return True

    def zswap_shrink(self, cpu: int) -> None:
        """The shrink worker after a rejection: write the oldest back to the accept threshold.

        A record is the page's LRU position only if it is its last store's: a page faulted in
        and stored again, even at the same entry, is at the LRU's head, its older record stale."""
        csize = self.cfg["csize"]
        while (-(-self.zswap_bytes // PAGE) > self.cfg["zswap_accept"]
               and self.zq_head < len(self.zq)):
            vpn, e, h = self.zq[self.zq_head]
            self.zq_head += 1
            s = int(self.pstate[vpn])
            if (int(self.pte[vpn]) != e or not s & ZSWAP_BIT or (s & 3) < PG_SWAPPED
                    or int(self.zgen[vpn]) != h & 0xFFFFFFFF):
                continue
            if self.writeback(e, 0, cpu):
                raise NoSpace("the swap device is full: give the machine more swap")
            self.pstate[vpn] = s & ~ZSWAP_BIT
            self.set_swap_bits(vpn, s & ~ZSWAP_BIT)
            self.pool -= 1
            self.zswap_bytes -= csize[(s >> 2) & 3]
            self.c["zswpwb"] += 1
            self.c["pswpout"] += 1

    def writeout(self, e: int, vpn: int, order: int, cpu: int) -> int:
        """swap_writeout of a folio whose entries e.. are allocated: the zeromap, zswap or the device.

        Returns the page-state bits of the backing (ZSWAP_BIT or 0)."""
        nr = 1 << order
        cfg, ps = self.cfg, self.pstate
        if cfg["zero_detection"] and all((int(ps[vpn + i]) >> 2) & 3 == C_ZERO
                                         for i in range(nr)):
            self.on(cpu).zero_store(e, nr)
            self.c["zero_pages"] += nr
            return 0
        if cfg["backend"] == BK_ZSWAP:
            if self.zswap_try_store(e, vpn, order, cpu):
                return ZSWAP_BIT
            self.device_write(e, vpn, order, cpu)
            if self.reached_full:
                self.zswap_shrink(cpu)
            return 0
        self.device_write(e, vpn, order, cpu)
        return 0

    def store_folio(self, e: int, vpn: int, order: int, cpu: int, may_wait: bool) -> bool:
        nr = 1 << order
        ps, cfg = self.pstate, self.cfg
        out = self.c["pswpout"]
        # try_to_unmap: a count per mapping (a shared page is order 0)
        maps = self.members(vpn) if self.shared(vpn) else [vpn]
        for _ in maps:
            self.on(cpu).swap_duplicate(e, nr)
        high = self.writeout(e, vpn, order, cpu)
        self.c["swapped_out"] += nr
        if (may_wait and cfg["write_ns"] and order == 0 and cfg["kswapd"]
                and cfg["backend"] == BK_SWAPFILE and self.c["pswpout"] != out):
            for q in maps:
                self.pte[q] = e
                ps[q] = _make(PG_SWAPCACHE, (int(ps[q]) >> 2) & 3, 0) | WB_BIT
            now = self.t_kswapd if self.reclaimer else self.t_task
            self.missed_acc += cfg["missed_permille"]   # its write completes before putback?
            missed = self.missed_acc >= 1000
            if missed:
                self.missed_acc -= 1000
                # put back at the LRU's head as its write starts
                self.missdue.append(self.lru_pops + len(self.lru) - self.lru_head)
            self.wb.append((vpn | (WB_MISSED if missed else 0), e, now + cfg["write_ns"]))
            return True
        self.reclaim_folio(e, order, self.c["pgsteal"], cpu)
        for q in maps[1:]:
            self.pte[q] = e
            ps[q] = _make(PG_SWAPPED, (int(ps[q]) >> 2) & 3, high >> 4)
        for i in range(nr):
            self.pte[vpn + i] = e + i
            ps[vpn + i] = _make(PG_SWAPPED, (int(ps[vpn + i]) >> 2) & 3, high >> 4)
        return False

    def alloc(self, folio: int, order: int, cpu: int) -> int | None:
        try:
            return self.on(cpu).folio_alloc_swap(folio, order, self.page_memcg(folio), cpu)
        except NoSpace:
            return None

    def swap_out(self, vpn: int, order: int, cpu: int, may_wait: bool = True) -> bool:
        e = self.alloc(vpn, order, cpu)
        if e is not None:
            return self.store_folio(e, vpn, order, cpu, may_wait)
        if order:
            self.count_split(order)
            for i in range(vpn, vpn + (1 << order)):
                e = self.alloc(i, 0, cpu)
                if e is None:
                    raise NoSpace("swap space is exhausted: give the machine more swap")
                self.store_folio(e, i, 0, cpu, False)
            return False
        raise NoSpace("swap space is exhausted: give the machine more swap")

    def drop_clean(self, vpn: int, s: int, cpu: int) -> int:
        """A read-ahead or written-back folio in the swap cache: free it."""
        e = int(self.pte[vpn])
        high = (s >> 4) & 1
        maps = self.members(vpn) if self.shared(vpn) else [vpn]
        for q in maps:                          # try_to_unmap of the members that map it
            if int(self.pstate[q]) & 3 == PG_RESIDENT:
                self.on(cpu).swap_duplicate(e, 1)
                self.pte[q] = e
        if s & DIRTY_BIT:                       # zswap dropped its copy at the load
            high = self.writeout(e, vpn, 0, cpu) >> 4
        self.reclaim_folio(e, 0, self.c["pgsteal"], cpu)
        for q in maps:
            self.pstate[q] = _make(PG_SWAPPED, (s >> 2) & 3, high)
        self.resident -= 1
        self.c["pgsteal"] += 1
        return 1

    def evict_one(self, cpu: int) -> tuple[int, int]:
        """Reclaim the oldest folio: (pages freed, pages scanned); written-back folios first."""
        while self.clean_head < len(self.clean):
            vpn, e = self.clean[self.clean_head]
            self.clean_head += 1
            s = int(self.pstate[vpn])
            if int(self.pte[vpn]) == e and s & 3 == PG_SWAPCACHE and s & WB_BIT:
                self.wbfree += 1
                return self.drop_clean(vpn, s, cpu), 1
        while self.late_head < len(self.late) and self.late[self.late_head][2] <= self.lru_pops:
            if self.drop_late(cpu):             # the scans have reached it at last
                return 1, 1
        while self.lru_head < len(self.lru):
            ent = self.lru[self.lru_head]
            vpn = ent & ~LRU_REFERENCED
            self.lru_head += 1
            self.lru_pops += 1
            s = int(self.pstate[vpn])
            if s & 3 == PG_SWAPCACHE:
                return self.drop_clean(vpn, s, cpu), 1
            if s & 3 != PG_RESIDENT:
                continue
            if self.shared(vpn):                # its page may be a swap-cache folio
                for q in self.members(vpn):
                    if int(self.pstate[q]) & 3 == PG_SWAPCACHE:
                        return self.drop_clean(q, int(self.pstate[q]), cpu), 1
            order = s >> 4
            if vpn & ((1 << order) - 1):       # left behind: the page is now in a large folio
                continue
            if self.cfg["kswapd"]:
                if not ent & LRU_REFERENCED:   # young from its fault: kept
                    self.lru.append(vpn | LRU_REFERENCED)
                    self.light += 1 << order
                    return 0, 1 << order
                if self.cfg["ref_permille"]:   # young again: kept
                    self.ref_acc += self.cfg["ref_permille"]
                    if self.ref_acc >= 1000:
                        self.ref_acc -= 1000
                        self.lru.append(ent)
                        self.light += 1 << order
                        return 0, 1 << order
            if self.swap_out(vpn, order, cpu):  # under writeback: scanned, not freed
                self.pageouts += 1 << order
                return 0, 1 << order
            if (s >> 2) & 3 != C_DATA:
                self.same += 1 << order         # no compression: priced apart
            self.resident -= 1 << order
            self.c["pgsteal"] += 1 << order
            return 1 << order, 1 << order
        while self.late_head < len(self.late):  # nothing else left: the LRU's head
            if self.drop_late(cpu):
                return 1, 1
        return 0, 0

    def make_room(self, need: int, cpu: int) -> None:
        cfg = self.cfg
        if cfg["kswapd"]:
            self.global_alloc(need, cpu)
            return
        if self.used() + need <= cfg["ram"]:
            return
        if need + cfg["watermark"] > cfg["ram"]:
            raise ValueError(f"a {need}-page folio does not fit in {cfg['ram']} pages of RAM "
                             f"(watermark {cfg['watermark']})")
        if not self.try_reclaim(need, cpu):
            raise ValueError("reclaim found nothing to evict: RAM is too small for this trace")

    def try_reclaim(self, need: int, cpu: int) -> bool:
        """try_charge's reclaim for ``need`` pages (at most ``ram - watermark``): whether they fit now."""
        cfg = self.cfg
        target = cfg["ram"] - cfg["watermark"] - need
        self.c["reclaim_calls"] += 1
        got = scanned = 0
        while self.used() > target or got < cfg["batch"]:
            n, k = self.evict_one(cpu)
            scanned += k
            if n == 0:
                break
            got += n
        if cfg["accounting"] == AC_NONE:      # a cgroup's own reclaim is no allocstall
            self.c["allocstall"] += 1
            self.c["pgscan_direct"] += scanned
            self.c["pgsteal_direct"] += got
        return self.used() <= target

    # -- machine-wide reclaim: watermarks, kswapd and direct reclaim, in time order ------------

    def free_pages(self) -> int:
        return max(0, self.cfg["ram"] - self.used() - self.file)

    def design_ns(self) -> int:
        if not self.priced:
            return 0
        w = self.dweight
        ps = sum(w.get(k, 0) * (v - self.dprev[k]) for k, v in self.space.stats.items())
        return (ps + 500) // 1000

    def contention_ns(self, span: int) -> int:
        """The chunk's wait on the other reclaimer (vswap.contention.chunk_wait); records the
        chunk in its actor's window."""
        if not self.cweights:
            return 0
        st = self.space.stats
        win, walks = window_of({k: st[k] - self.dprev[k] for k in self.cweights}, self.cweights,
                               span)
        x = self.cfg["transfer_ns"]
        if self.reclaimer:
            ov = max(0, min(self.t_kswapd + span, self.d1) - max(self.t_kswapd, self.d0))
            self.k_win = win
            return chunk_wait(win.acq, walks, span, ov, self.w_win, x)
        w = self.w_win
        self.w_win = Window(w.acq + win.acq, w.hold + win.hold, w.glob + win.glob, w.dur + span)
        ov = span if self.kstate == KS_RUN else 0
        return chunk_wait(win.acq, walks, span, ov, self.k_win, x)

    def wb_head_time(self) -> int:
        return self.wb[self.wb_head][2]

    def writeback_done(self, t: int) -> None:
        """folio_rotate_reclaimable for the writes completed by ``t``; as end_writeback."""
        while self.wb_head < len(self.wb) and self.wb_head_time() <= t:
            vpn, e, _ = self.wb[self.wb_head]
            self.wb_head += 1
            if vpn & WB_MISSED:
                self.late.append((vpn & ~WB_MISSED, e, self.missdue[self.missdue_head]))
                self.missdue_head += 1
            else:
                self.clean.append((vpn, e))

    def drop_late(self, cpu: int) -> int:
        """Free the late list's first folio, when it is still the written-back swap-cache folio."""
        vpn, e, _ = self.late[self.late_head]
        self.late_head += 1
        s = int(self.pstate[vpn])
        if int(self.pte[vpn]) == e and s & 3 == PG_SWAPCACHE and s & WB_BIT:
            self.wbfree += 1
            return self.drop_clean(vpn, s, cpu)
        return 0

    def reclaim_chunk(self, nr: int, cpu: int, anon_ns: int, same_ns: int,
                      pageout_ns: int, wb_free_ns: int, prio: int) -> tuple[int, int, int]:
        """One chunk of shrink_lruvec split by scan_fractions: (pages freed, scanned, its ns)."""
        cfg = self.cfg
        ap, fp = scan_fractions(cfg["swappiness"], prio)
        aw = ap * self.resident
        fw = fp * self.file
        nf = 0
        if self.file and aw + fw:
            self.file_acc += nr * fw
            nf = self.file_acc // (aw + fw)
            self.file_acc -= nf * (aw + fw)
            nf = min(nf, self.file)
        self.file -= nf
        light, same, po, wf = self.light, self.same, self.pageouts, self.wbfree
        if self.priced:
            self.dprev = dict(self.space.stats)
        sc = got = 0
        while sc < nr - nf:
            n, k = self.evict_one(cpu)
            if k == 0:
                break
            got += n
            sc += k
        if sc == 0 and nf < nr and self.file:
            extra = min(nr - nf, self.file)
            self.file -= extra
            nf += extra
        self.c["pgsteal"] += nf
        light, same = self.light - light, self.same - same
        po, wf = self.pageouts - po, self.wbfree - wf
        work = ((sc - light - same - po - wf) * anon_ns + same * same_ns + light * cfg["scan_ns"]
                + po * pageout_ns + wf * wb_free_ns + nf * cfg["file_ns"]
                + self.design_ns())
        wait = self.contention_ns(work)
        self.c["lock_wait_ns"] += wait
        return got + nf, sc + nf, work + wait

    def kswapd_advance(self, until: int) -> None:
        cfg, c = self.cfg, self.c
        while self.kstate != KS_SLEEP:
            if self.kstate == KS_NAP:
                if self.nap_end > until:
                    break
                self.t_kswapd = self.nap_end
                self.writeback_done(self.t_kswapd)
                if self.free_pages() >= cfg["wmark_high"]:
                    self.kstate = KS_SLEEP
                    break
                c["kswapd_high_wmark_hit_quickly"] += 1
                self.kstate = KS_RUN
            if self.t_kswapd > until:
                break
            self.writeback_done(self.t_kswapd)
            if self.free_pages() >= cfg["wmark_high"]:
                self.kstate = KS_NAP
                self.nap_end = self.t_kswapd + cfg["nap_ns"]
                continue
            self.reclaimer = 1
            got, sc, cost = self.reclaim_chunk(cfg["batch"], KSWAPD_CPU, cfg["kswapd_anon_ns"],
                                               cfg["kswapd_same_ns"], cfg["kswapd_pageout_ns"],
                                               cfg["kswapd_wb_free_ns"], DEF_PRIORITY)
            self.reclaimer = 0
            c["pgscan_kswapd"] += sc
            c["pgsteal_kswapd"] += got
            self.t_kswapd += cost + got * cfg["kswapd_io_wait_ns"]
            c["kswapd_ns"] += cost
            c["kswapd_io_wait_ns"] += got * cfg["kswapd_io_wait_ns"]
            if cfg["unmap_ns"]:                 # the task pays for the pages taken from it
                self.t_task += got * cfg["unmap_ns"]
                c["interference_ns"] += got * cfg["unmap_ns"]
            if got == 0:
                if self.wb_head < len(self.wb):
                    self.t_kswapd = max(self.t_kswapd, self.wb_head_time())
                elif sc == 0:
                    self.kstate = KS_SLEEP
        self.writeback_done(until)

    def wake_kswapd(self) -> None:
        if self.kstate == KS_RUN:
            return
        if self.kstate == KS_NAP:
            self.c["kswapd_low_wmark_hit_quickly"] += 1
        self.kstate = KS_RUN
        self.t_kswapd = max(self.t_kswapd, self.t_task)

    def scan_target(self, prio: int) -> int:
        """The pages a pass at ``prio`` scans: each LRU's share (the anon list whole)."""
        ap, fp = scan_fractions(self.cfg["swappiness"], prio)
        want = ((self.resident >> prio) * ap + (inactive_share(self.file) >> prio) * fp) // (ap + fp)
        return want if want or prio else 1     # the last look: what is left, if anything

    def direct_reclaim(self, cpu: int) -> None:
        cfg, c = self.cfg, self.c
        budget = max(cfg["batch"], self.resident + self.file)
        self.w_win = Window(0, 0, 0, 0)
        self.d0 = self.t_task
        self.d1 = STALL_OPEN                  # kswapd's chunks meanwhile overlap it
        c["allocstall"] += 1
        c["reclaim_calls"] += 1
        got = sc = cost = 0
        prio = DEF_PRIORITY
        while got < cfg["batch"] and sc < budget:
            want = budget if cfg["lru_gen"] else self.scan_target(prio)
            local = done = 0
            while done < want and sc < budget:
                # kswapd reclaims beside the stall, on its own CPU: its chunks up to the
                # stall's time go first (the writes completed meanwhile become reclaimable too)
                self.kswapd_advance(self.t_task + cost)
                n, k, ns = self.reclaim_chunk(min(cfg["batch"], want - done), cpu, cfg["anon_ns"],
                                              cfg["anon_same_ns"], cfg["direct_pageout_ns"],
                                              cfg["direct_wb_free_ns"], prio)
                got += n
                local += n
                sc += k
                done += k
                cost += ns
                if k == 0:
                    budget = 0
                elif (local >= cfg["batch"]
                      and (prio < DEF_PRIORITY or cfg["lru_gen"])):
                    break
            prio = max(0, prio - 1)
        c["pgscan_direct"] += sc
        c["pgsteal_direct"] += got
        self.t_task += cost
        self.d1 = self.t_task
        c["stall_ns"] += cost + got * cfg["direct_io_wait_ns"]
        c["stall_io_wait_ns"] += got * cfg["direct_io_wait_ns"]
        self.t_task += got * cfg["direct_io_wait_ns"]   # asleep, not reclaiming: after the window
        if got == 0:
            if self.wb_head >= len(self.wb):
                raise ValueError("reclaim found nothing to evict: RAM is too small for this trace")
            if self.wb_head_time() > self.t_task:
                c["stall_ns"] += self.wb_head_time() - self.t_task
                self.t_task = self.wb_head_time()
        self.kswapd_advance(self.t_task)

    def global_alloc(self, need: int, cpu: int) -> None:
        cfg = self.cfg
        if need + cfg["wmark_min"] > cfg["ram"]:
            raise ValueError(f"a {need}-page folio does not fit in {cfg['ram']} pages of RAM "
                             f"(min watermark {cfg['wmark_min']})")
        self.t_task += need * cfg["alloc_ns"]
        self.kswapd_advance(self.t_task)
        if self.free_pages() < cfg["wmark_low"] + need:
            self.wake_kswapd()
        while self.free_pages() < cfg["wmark_min"] + need:
            self.direct_reclaim(cpu)

    def charge_large(self, order: int, cpu: int, alloc: int, fallback: int, charge: int) -> bool:
        """Allocate and charge a folio of ``order`` (> 0) for a fault or a swap-in; or count why not."""
        nr = 1 << order
        cfg = self.cfg
        if nr + cfg["watermark"] <= cfg["ram"]:
            if cfg["reclaim_mask"] >> order & 1:
                if cfg["kswapd"]:
                    self.make_room(nr, cpu)
                    ok = True
                else:
                    # the charge's reclaim leaves no room: the next order (*_fallback_charge)
                    ok = self.used() + nr <= cfg["ram"] or self.try_reclaim(nr, cpu)
                if ok:
                    if alloc >= 0:
                        self.mthp[order][alloc] += 1
                    return True
            elif cfg["kswapd"]:
                if self.free_pages() >= cfg["wmark_low"] + nr:
                    self.global_alloc(nr, cpu)
                    if alloc >= 0:
                        self.mthp[order][alloc] += 1
                    return True
            elif self.used() + nr <= cfg["ram"]:
                if alloc >= 0:
                    self.mthp[order][alloc] += 1
                return True
        if cfg["accounting"] != AC_NONE:
            self.mthp[order][charge] += 1
        self.mthp[order][fallback] += 1
        return False

    # -- faults -------------------------------------------------------------------------------

    def ra_window(self, p: int, cpu: int) -> int:
        """The VMA read-ahead window for a fault at ``p`` (swap_vma_ra_win); resets the hits."""
        ra = self.ra[cpu]
        pfn, prev_win, hits = ra
        win = hits + 2
        if hits == 0:
            if p != pfn + 1 and p + 1 != pfn:
                win = 1
        else:
            r = 4
            while r < win:
                r <<= 1
            win = r
        win = min(win, self.cfg["ra_max"])
        win = max(win, prev_win // 2)
        ra[0], ra[1], ra[2] = p, win, 0
        return win

    def read_page(self, q: int, kind: int, ahead: bool, cpu: int) -> None:
        """Read page ``q``'s entry into a folio (swap_read_folio); ``ahead`` for read-ahead."""
        ps = self.pstate
        s = int(ps[q])
        self.swapin_folio(int(self.pte[q]), 0, q, cpu)
        if kind == VSWAP_SWAPFILE:
            self.c["pswpin"] += 1
        elif kind == VSWAP_ZSWAP:
            self.c["zswpin"] += 1
            if s & ZSWAP_BIT:                   # loaded into the swap cache: zswap drops it
                self.pool -= 1
                self.zswap_bytes -= self.cfg["csize"][(s >> 2) & 3]
                s = (s & ~ZSWAP_BIT) | DIRTY_BIT
        self.resident += 1
        self.lru.append(q)
        if ahead:
            ps[q] = (s & ~3) | PG_SWAPCACHE | RA_BIT
            self.c["swap_ra"] += 1
        else:
            ps[q] = s
        self.set_swap_bits(q, (s & ~3) | PG_SWAPCACHE | (RA_BIT if ahead else 0))

    def swapin_order(self, p: int, kind: int, handle: int, cpu: int) -> int:
        """alloc_swap_folio: the largest enabled order whose aligned PTEs can come in whole."""
        cfg, ps, pte = self.cfg, self.pstate, self.pte
        mask = cfg["swapin_mask"]
        order = PMD_ORDER - 1
        while order > 0:
            if mask >> order & 1:
                nr = 1 << order
                a = p & ~(nr - 1)
                e0 = int(pte[a])
                ok = a + nr <= self.span and e0 & (nr - 1) == 0
                i = 0
                while ok and i < nr:
                    ok = ((int(ps[a + i]) & 3) == PG_SWAPPED and int(pte[a + i]) == e0 + i
                          and not self.shared(a + i))
                    i += 1
                if ok:
                    h0 = handle - (p - a)
                    for i in range(nr):
                        k, h = self.lookup(e0 + i, cpu)
                        if k != kind or (kind == VSWAP_SWAPFILE and h != h0 + i):
                            ok = False
                            break
                if ok:
                    break
            order -= 1
        while order > 0:
            if mask >> order & 1:
                if self.charge_large(order, cpu, -1, ST_SWPIN_FALLBACK, ST_SWPIN_FALLBACK_CHARGE):
                    return order
            order -= 1
        return 0

    def swap_in(self, p: int, content: int, cpu: int) -> None:
        """A write fault on a swap PTE: swap the page (or its folio) in, map it, free the entries."""
        c, ps, cfg = self.c, self.pstate, self.cfg
        if self.shared(p):
            self.shared_fault(p, content, True, cpu)
            return
        e = int(self.pte[p])
        s = int(ps[p])
        order = 0
        window = None
        c["pgfault"] += 1
        if s & 3 == PG_SWAPCACHE:
            kind, _ = self.lookup(e, cpu)
            if kind != VSWAP_FOLIO:
                raise AssertionError(f"read-ahead page {p:#x}: entry {e:#x} has no folio")
            if s & WB_BIT:                      # reclaim's folio, still in the swap cache
                self.lru.append(p)
            elif s & RA_BIT:                    # not another sharer's read: a read-ahead
                c["swap_ra_hit"] += 1
                ra = self.ra[cpu]
                ra[0], ra[2] = p, min(ra[2] + 1, RA_HITS_MAX)
        else:
            c["pgmajfault"] += 1
            self.make_room(1, cpu)              # before the lookup: reclaim may write zswap back
            kind, handle = self.lookup(e, cpu)
            if kind > VSWAP_SWAPFILE:
                raise AssertionError(f"swapped page {p:#x}: entry {e:#x} looks up as kind {kind}")
            c[("swapin_zero", "swapin_zswap", "swapin_swapfile")[kind]] += 1
            if cfg["backend"] == BK_ZRAM and (kind == VSWAP_SWAPFILE
                                              or (cfg["direct"] and kind == VSWAP_ZERO)):
                # SWP_SYNCHRONOUS_IO: no read-ahead (6.19, count 1: nor the swap cache)
                c["swapin_sync"] += 1
                if cfg["bypass"]:
                    c["swapin_bypass"] += 1
                if cfg["swapin_mask"]:
                    order = self.swapin_order(p, kind, handle, cpu)
                if order == 0:
                    self.read_page(p, kind, False, cpu)
                else:
                    nr = 1 << order
                    a = p & ~(nr - 1)
                    self.swapin_folio(int(self.pte[a]), order, a, cpu)
                    if kind == VSWAP_SWAPFILE:
                        c["pswpin"] += nr
                    self.mthp[order][ST_SWPIN] += 1
                    self.resident += nr
                    self.lru.append(a)
            else:
                window = self.readahead_window(p, cpu)
                self.read_page(p, kind, False, cpu)
        nr = 1 << order
        a = p & ~(nr - 1)
        ea = int(self.pte[a])
        for q in range(a, a + nr):
            self.drop_backing(int(ps[q]))
        self.on(cpu).swap_free_nr(ea, nr)
        self.reclaim_folio(ea, order, None, cpu)
        for q in range(a, a + nr):
            self.pte[q] = 0
            ps[q] = _make(PG_RESIDENT, content if q == p else (int(ps[q]) >> 2) & 3, order)
        if window is not None:
            self.read_ahead(p, window[0], window[1], cpu)

    def shared_fault(self, p: int, content: int, write: bool, cpu: int) -> None:
        """A fault on a page FORK shared: a swap-in maps the swap-cache folio; a write copies (COW).

        The swap count is above one, so a swap-in takes the swap cache and
        read-ahead (do_swap_page); the first member reads (pgmajfault), the
        others find the folio (a minor fault). A WRITE then copies the page
        (wp_page_copy) within the same fault; a write to a mapped shared page
        is a fault of its own. The last swap PTE's fault frees the entry.
        """
        c, ps = self.c, self.pstate
        while True:                             # room first: the read and the copy
            s = int(ps[p])
            st = s & 3
            need = (st == PG_SWAPPED) + write
            if st == PG_RESIDENT and not write:
                return                          # mapped already: no fault
            self.make_room(need, cpu)
            if int(ps[p]) == s:
                break
        window = None
        if st != PG_RESIDENT:
            c["pgfault"] += 1
            e = int(self.pte[p])
            if st == PG_SWAPPED:
                c["pgmajfault"] += 1
                kind, _ = self.lookup(e, cpu)
                if kind > VSWAP_SWAPFILE:
                    raise AssertionError(f"swapped page {p:#x}: entry {e:#x} looks up as {kind}")
                c[("swapin_zero", "swapin_zswap", "swapin_swapfile")[kind]] += 1
                window = self.readahead_window(p, cpu)
                self.read_page(p, kind, False, cpu)
            elif s & RA_BIT:                    # the first hit of a read-ahead folio
                c["swap_ra_hit"] += 1
                ra = self.ra[cpu]
                ra[0], ra[2] = p, min(ra[2] + 1, RA_HITS_MAX)
                self.set_swap_bits(p, s & ~RA_BIT)
            s = int(ps[p])
            self.on(cpu).swap_free_nr(e, 1)
            self.pte[p] = 0
            ps[p] = _make(PG_RESIDENT, (s >> 2) & 3, 0)
            if not any(int(ps[q]) & 3 >= PG_SWAPPED for q in self.members(p)):
                self.drop_backing(s)            # the last swap PTE: folio_free_swap
                self.reclaim_folio(e, 0, None, cpu)
        if write:
            if st == PG_RESIDENT:
                c["pgfault"] += 1
            c["cow_faults"] += 1
            q, _ = self.ring_del(p)
            self.lru.append(q)
            ps[p] = _make(PG_RESIDENT, content, 0)
            self.resident += 1
            self.lru.append(p)
        if window is not None:
            self.read_ahead(p, window[0], window[1], cpu)

    def fork(self, i: int, dst: int, src: int, nr: int, cpu: int) -> None:
        """copy_page_range: ``dst`` maps what ``src`` maps; resident pages shared, entries duplicated."""
        ps = self.pstate
        if src < dst + nr and dst < src + nr:
            raise TraceError(f"event {i}: FORK of [{src:#x}, +{nr}) onto itself")
        for k in range(nr):
            p, d = src + k, dst + k
            if int(ps[d]):
                raise TraceError(f"event {i}: FORK onto page {d:#x}, which was touched before")
            if int(ps[p]) & 3 == PG_NONE:
                continue
            if self.pgtab is not None:
                self.pte_alloc(d, cpu)
            s = int(ps[p])
            if s & 3 == PG_RESIDENT and s >> 4:
                raise TraceError(f"event {i}: FORK of page {p:#x} of a large folio (the model "
                                 f"shares base pages only)")
            if s & 3 != PG_RESIDENT:
                self.on(cpu).swap_duplicate(int(self.pte[p]), 1)
                self.pte[d] = self.pte[p]
            ps[d] = s
            self.ring_add(p, d)
            self.c["fork_pages"] += 1

    def pageout(self, vpn: int, nr: int, cpu: int) -> None:
        """MADV_PAGEOUT: reclaim the range's exclusive resident folios now; a partial one is split."""
        ps = self.pstate
        p, end = vpn, vpn + nr
        while p < end:
            s = int(ps[p])
            if s & 3 != PG_RESIDENT or self.shared(p):
                p += 1
                continue
            order = s >> 4
            fnr = 1 << order
            head = p & ~(fnr - 1)
            if head < vpn or head + fnr > end:  # split_folio: the pages become base folios
                for q in range(head, head + fnr):
                    ps[q] = int(ps[q]) & 0x0F
                    if q != head:
                        self.lru.append(q)
                order, fnr, head = 0, 1, p
            self.swap_out(head, order, cpu, False)
            self.resident -= fnr
            p = head + fnr

    def readahead_window(self, p: int, cpu: int) -> tuple[int, int]:
        """swap_vma_readahead's range of pages around a fault at ``p``: [lo, hi)."""
        if self.cfg["ra_max"] <= 1:
            return p, p + 1
        prev = self.ra[cpu][0]
        win = self.ra_window(p, cpu)
        if win == 1:
            return p, p + 1
        if p == prev + 1:
            lo, hi = p, p + win
        elif p + 1 == prev:
            lo, hi = p - win + 1, p + 1
        else:
            left = (win - 1) // 2
            lo, hi = p - left, p + win - left
        pmd = p & ~(PMD_PAGES - 1)
        return max(lo, pmd), min(hi, pmd + PMD_PAGES, self.span)

    def read_ahead(self, p: int, lo: int, hi: int, cpu: int) -> None:
        """Read the swapped pages of [lo, hi) but ``p`` into the swap cache."""
        ps = self.pstate
        for q in range(lo, hi):
            if q == p or int(ps[q]) & 3 != PG_SWAPPED:
                continue
            self.make_room(1, cpu)
            if int(ps[q]) & 3 != PG_SWAPPED:
                continue
            k, _ = self.lookup(int(self.pte[q]), cpu)
            self.read_page(q, k, True, cpu)

    def flush_zap(self, e: int, n: int, cpu: int) -> None:
        if n:
            self.on(cpu).free_swap_and_cache_nr(e, n)
            self.c["free_batches"] += 1
            self.c["free_entries"] += n

    def free_range(self, i: int, vpn: int, nr: int, cpu: int, op: int = EV_FREE) -> None:
        """Zap: FREE (every page mapped), EXIT (the mapped ones), DONTNEED (those, faulted anew)."""
        ps = self.pstate
        run_e = run_n = run_pmd = run_mg = 0
        after = 0 if op == EV_DONTNEED else _make(PG_NONE, PG_FREED, 0)
        for p in range(vpn, vpn + nr):
            s = int(ps[p])
            if s & 3 == PG_NONE:
                if op == EV_FREE:
                    raise TraceError(f"event {i}: FREE of page {p:#x}, which is not mapped")
                continue
            keep = swp = False                  # the page stays with the other members
            if self.shared(p):
                q, swp = self.ring_del(p)
                keep = True
                if s & 3 != PG_SWAPPED:         # the page in RAM stays reachable by reclaim
                    self.lru.append(q)
            if s & 3 == PG_RESIDENT:
                if not keep:
                    self.resident -= 1
                    self.c["free_resident"] += 1
            else:
                e = int(self.pte[p])
                # swap_pte_batch: consecutive entries, one PMD, one memcg
                if run_n and (e != run_e + run_n or (p >> 9) != run_pmd
                              or self.page_memcg(p) != run_mg):
                    self.flush_zap(run_e, run_n, cpu)
                    run_n = 0
                if run_n == 0:
                    run_e, run_pmd, run_mg = e, p >> 9, self.page_memcg(p)
                run_n += 1
                if s & 3 == PG_SWAPCACHE and not keep:
                    self.resident -= 1
                if not swp:
                    self.drop_backing(s)
                self.pte[p] = 0
            ps[p] = after
        self.flush_zap(run_e, run_n, cpu)

    def touch(self, i: int, vpn: int, nr: int, order: int, content: int, cpu: int) -> None:
        """First-touch faults: alloc_anon_folio from ``order`` down the enabled orders to 0."""
        fnr = 1 << order
        mask = self.cfg["mthp_mask"]
        if self.pstate[vpn:vpn + nr].any():
            p = vpn + int(np.flatnonzero(self.pstate[vpn:vpn + nr])[0])
            if self.nxt is None:
                raise TraceError(f"event {i}: TOUCH of page {p:#x}, which was touched before")
            for p in range(vpn, vpn + nr):      # with FORKs: a read of mapped pages
                s = int(self.pstate[p])
                if s & 3 == PG_NONE:
                    raise TraceError(f"event {i}: TOUCH of page {p:#x}, not mapped, in a read "
                                     f"of mapped pages")
                if self.shared(p):
                    self.shared_fault(p, 0, False, cpu)
                elif s & 3 != PG_RESIDENT:
                    self.swap_in(p, (s >> 2) & 3, cpu)
            self.c["pages_touched"] += nr
            self.c["pages_written"] += nr
            return
        for f in range(vpn, vpn + nr, fnr):
            p = f
            while p < f + fnr:
                if self.pgtab is not None:
                    self.pte_alloc(p, cpu)
                k = order if p == f else order - 1
                while k > 0:
                    if (k == order or (mask >> k & 1 and p & ((1 << k) - 1) == 0)) and \
                            self.charge_large(k, cpu, ST_FAULT_ALLOC, ST_FAULT_FALLBACK,
                                              ST_FAULT_FALLBACK_CHARGE):
                        break
                    k -= 1
                if k == 0:
                    self.make_room(1, cpu)
                n = 1 << k
                self.pstate[p:p + n] = _make(PG_RESIDENT, content, k)
                self.lru.append(p)
                self.resident += n
                self.c["pgfault"] += 1
                p += n
        self.c["pages_touched"] += nr
        self.c["pages_written"] += nr         # a first touch writes: as Trace.pages_written

    def write(self, i: int, vpn: int, nr: int, content: int, cpu: int) -> None:
        ps = self.pstate
        for p in range(vpn, vpn + nr):
            s = int(ps[p])
            if s & 3 == PG_NONE:
                raise TraceError(f"event {i}: WRITE to page {p:#x}, which is not mapped")
            if s & 3 == PG_RESIDENT and not self.shared(p):
                ps[p] = (s & ~0x0C) | (content << 2)
            else:
                self.swap_in(p, content, cpu)
        self.c["pages_written"] += nr

    def counters(self) -> dict[str, int]:
        out = dict(self.c)
        out["resident"] = self.resident
        out["zswap_pool"] = self.pool
        out["page_tables"] = self.pgtables
        out["task_ns"] = self.t_task
        out["file_resident"] = self.file
        for k in range(1, 10):
            for j, s in enumerate(MTHP_STATS):
                out[mthp_counter(k, s)] = self.mthp[k][j]
        return out


def _priced(space: Any) -> bool:
    """Whether the design's work counters are priced: DirectSwap and VirtualSwap, either engine."""
    from vswap import DirectSwap, VirtualSwap, reference
    # the twin of phase IV subclasses the reference DirectSwap; the compiled one is no DirectSwap
    return isinstance(space, (DirectSwap, VirtualSwap, reference.DirectSwap,
                              reference.VirtualSwap)) and not isinstance(space,
                                                                         reference.SwapTableP4)


def replay_trace(space: Any, op: Any, vpn: Any, nr: Any, order: Any, content: Any, cpu: Any, *,
                 span: int, ram: int, watermark: int = 0, batch: int = 32,
                 backend: str = "zram", accounting: str = "v2", zswap_max: int = 0,
                 zswap_accept: int = 0, csize: tuple[int, int, int] = (2048, 32, 32),
                 ra_max: int = 8, mthp_mask: int = 0, swapin_mask: int = 0,
                 reclaim_mask: int = 1 << PMD_ORDER, direct: bool = True,
                 bypass: bool = True,
                 zero_detection: bool = True, page_tables: bool = False,
                 memcg: int | np.ndarray = 1, progress: Callable[[int], Any] | None = None,
                 kswapd: bool = False, wmark_min: int = 0, wmark_low: int = 0,
                 wmark_high: int = 0, file_pages: int = 0, swappiness: int = 60,
                 alloc_ns: int = 0, anon_ns: int = 0, file_ns: int = 0, write_ns: int = 0,
                 nap_ns: int = 100_000_000,
                 design_ns: dict[str, float] | None = None, scan_ns: int = 0,
                 ref_permille: int = 0, kswapd_anon_ns: int | None = None,
                 anon_same_ns: int | None = None, kswapd_same_ns: int | None = None,
                 unmap_ns: int = 0, direct_io_wait_ns: int = 0, kswapd_io_wait_ns: int = 0,
                 direct_pageout_ns: int | None = None, kswapd_pageout_ns: int | None = None,
                 direct_wb_free_ns: int | None = None, kswapd_wb_free_ns: int | None = None,
                 missed_permille: int = 0, lru_gen: bool = False, src: Any = None,
                 contention: dict[str, tuple[int, int, int, int]] | None = None,
                 transfer_ns: int = 0) -> dict[str, Any]:
    """Replay trace arrays through any SwapSpace; as ``vswap._replay.replay_trace``.

    Runtime complexity: O(pages touched, written and freed) Python calls.

    >>> import numpy as np
    >>> from vswap import reference
    >>> from vswap.reference.replay import replay_trace
    >>> ds = reference.DirectSwap(reference.SwapDevices([reference.SwapDevice(1024)]))
    >>> cols = [np.array(x, dtype=t) for x, t in (([0, 2], np.uint8), ([0, 0], np.uint64),
    ...     ([8, 8], np.uint64), ([0, 0], np.uint8), ([0, 0], np.uint8), ([0, 0], np.uint16))]
    >>> out = replay_trace(ds, *cols, span=8, ram=5, batch=1)
    >>> out["counters"]["pswpout"], out["counters"]["free_entries"]
    (3, 3)
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
    if accounting not in ACCOUNTING:
        raise ValueError(f"accounting must be one of {ACCOUNTING}, not {accounting!r}")
    if ram == 0:
        raise ValueError("ram must be at least one page")
    if isinstance(memcg, np.ndarray) and (memcg.dtype != np.uint16 or memcg.shape != (span,)):
        raise ValueError(f"memcg must be an int or a uint16 array of {span} pages")
    if len(csize) != 3 or not all(1 <= int(x) <= PAGE for x in csize):
        raise ValueError("csize must be three compressed sizes of 1 .. 4096 bytes")
    if kswapd:
        if accounting != "none":
            raise ValueError("kswapd reclaims for the whole machine: accounting must be 'none'")
        if not wmark_min <= wmark_low <= wmark_high:
            raise ValueError("the watermarks must be min <= low <= high")
        if swappiness > 200:
            raise ValueError("swappiness must be 0 .. 200")
        if file_pages + wmark_high >= ram:
            raise ValueError(f"the page cache ({file_pages} pages) and the high watermark "
                             f"({wmark_high}) leave no room in {ram} pages of RAM")
    if ref_permille >= 1000:
        raise ValueError("ref_permille must be below 1000: some scanned pages must be freed")
    if not 0 <= missed_permille <= 1000:
        raise ValueError("missed_permille must be 0 .. 1000")
    cols = [np.asarray(a) for a in (op, vpn, nr, order, content, cpu)]
    cols.append(np.zeros(len(cols[0]), dtype=np.uint64) if src is None else np.asarray(src))
    if len({len(a) for a in cols}) != 1:
        raise ValueError("the trace columns differ in length")
    cfg = {"ram": ram, "watermark": watermark, "batch": batch, "backend": BACKENDS.index(backend),
           "accounting": ACCOUNTING.index(accounting), "zswap_max": zswap_max,
           "zswap_accept": zswap_accept, "csize": tuple(int(x) for x in csize),
           "ra_max": max(1, ra_max), "mthp_mask": mthp_mask & 0x3FE,
           "swapin_mask": (swapin_mask & 0x1FE) if backend != "zswap" else 0,
           "reclaim_mask": reclaim_mask & 0x3FE, "direct": bool(direct), "bypass": bool(bypass),
           "zero_detection": zero_detection, "page_tables": bool(page_tables), "memcg": memcg,
           "kswapd": bool(kswapd), "wmark_min": wmark_min, "wmark_low": wmark_low,
           "wmark_high": wmark_high, "file_pages": file_pages if kswapd else 0,
           "swappiness": swappiness, "alloc_ns": alloc_ns, "anon_ns": anon_ns,
           "file_ns": file_ns, "write_ns": write_ns, "nap_ns": nap_ns,
           "design_ns": dict(design_ns or {}), "scan_ns": scan_ns,
           "contention": dict(contention or {}), "transfer_ns": transfer_ns,
           "kswapd_anon_ns": anon_ns if kswapd_anon_ns is None else kswapd_anon_ns,
           "anon_same_ns": anon_ns if anon_same_ns is None else anon_same_ns,
           "kswapd_same_ns": ((anon_ns if kswapd_anon_ns is None else kswapd_anon_ns)
                              if kswapd_same_ns is None else kswapd_same_ns),
           "unmap_ns": unmap_ns, "direct_io_wait_ns": direct_io_wait_ns,
           "kswapd_io_wait_ns": kswapd_io_wait_ns,
           # a write's cost where its folio is freed, unless the start of the write is priced
           "direct_pageout_ns": scan_ns if direct_pageout_ns is None else direct_pageout_ns,
           "kswapd_pageout_ns": scan_ns if kswapd_pageout_ns is None else kswapd_pageout_ns,
           "direct_wb_free_ns": anon_ns if direct_wb_free_ns is None else direct_wb_free_ns,
           "kswapd_wb_free_ns": (kswapd_wb_free_ns if kswapd_wb_free_ns is not None
                                 else anon_ns if kswapd_anon_ns is None else kswapd_anon_ns),
           "missed_permille": missed_permille,
           "lru_gen": bool(lru_gen),
           "ref_permille": ref_permille if kswapd else 0,
           "forks": bool((cols[0] == EV_FORK).any())}
    m = _Model(space, span, cfg)
    footprint = None
    at_free = None
    freeing = False
    t_free = 0.0
    done, next_report = 0, PROGRESS_STEP
    t0 = t1 = time.thread_time()
    for i, (o, v, n, k, ct, u, sv) in enumerate(zip(*(a.tolist() for a in cols))):
        end = v + n
        if n == 0 or end > span:
            raise TraceError(f"event {i}: range [{v:#x}, +{n}) is empty or leaves the span "
                             f"of {span} pages")
        if u >= 64 or ct > C_SAME or k > 9:
            raise TraceError(f"event {i}: cpu, content or order out of range")
        if o > EV_LAST:
            raise TraceError(f"event {i}: unknown op {o}")
        if o == EV_FORK and sv + n > span:
            raise TraceError(f"event {i}: FORK source [{sv:#x}, +{n}) leaves the span "
                             f"of {span} pages")
        if (o == EV_FREE or o == EV_EXIT) != freeing:
            if freeing:
                t_free += time.thread_time() - t1
            elif footprint is None:
                footprint = space.memory_footprint()
                at_free = phase_snapshot(space, m.c)
            t1 = time.thread_time()
            freeing = not freeing
        if o == EV_TOUCH and (v | n) & ((1 << k) - 1):
            raise TraceError(f"event {i}: TOUCH of [{v:#x}, +{n}) is not aligned to "
                             f"order-{k} folios")
        if o in (EV_FREE, EV_EXIT, EV_DONTNEED) and (_splits_folio(int(m.pstate[v]), v)
                                                    or _splits_folio(int(m.pstate[end - 1]), end)):
            raise TraceError(f"event {i}: {OPS[o]} of [{v:#x}, {end:#x}) splits a large "
                             f"folio")
        if o == EV_TOUCH:
            m.touch(i, v, n, k, ct, u)
        elif o == EV_WRITE:
            m.write(i, v, n, ct, u)
        elif o == EV_FORK:
            m.fork(i, v, sv, n, u)
        elif o == EV_PAGEOUT:
            m.pageout(v, n, u)
        else:
            m.free_range(i, v, n, u, o)
        done += n
        if progress is not None and done >= next_report:
            progress(done)
            next_report = done + PROGRESS_STEP
    if freeing:
        t_free += time.thread_time() - t1
    total = time.thread_time() - t0
    if footprint is None:
        footprint = space.memory_footprint()
    return {"counters": m.counters(), "times": {"total_s": total, "free_s": t_free},
            "footprint": footprint, "pte": m.pte, "pstate": m.pstate, "at_free": at_free}
