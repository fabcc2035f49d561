"""The replay in pure Python: the reference twin of ``vswap._replay``.

The same memory model, step for step, calling the design's Python methods
(the :class:`vswap.protocol.SwapSpace` verbs) instead of its C verb table,
so it replays any design, compiled or not, and must give the compiled
replay's counters exactly (tested on small traces). It is slow: one Python
call per swap operation. See :func:`vswap.replay.replay` for the model.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from vswap.errors import NoEntry, NoSpace, TraceError
from vswap.protocol import LOOKUP_KINDS

__all__ = ["replay_trace", "COUNTER_NAMES", "BACKENDS"]

COUNTER_NAMES = (
    "pgfault", "pages_touched", "pages_written", "pswpout", "pswpin", "thp_swpout",
    "thp_swpout_fallback", "swap_ra", "swap_ra_hit", "pgsteal", "allocstall", "zero_pages",
    "zswpout", "zswpwb", "zram_same", "zram_comp", "dev_writes", "swapin_zero", "swapin_zswap",
    "swapin_swapfile", "free_batches", "free_entries", "free_resident", "resident", "zswap_pool",
)
BACKENDS = ("zram", "zswap", "swapfile")

PG_NONE, PG_RESIDENT, PG_SWAPPED, PG_SWAPCACHE = 0, 1, 2, 3
PG_FREED = 3
EV_TOUCH, EV_WRITE, EV_FREE = 0, 1, 2
C_DATA, C_ZERO, C_SAME = 0, 1, 2
BK_ZRAM, BK_ZSWAP, BK_SWAPFILE = 0, 1, 2
ZSWAP_BIT = 0x10
PMD_PAGES = 512
PROGRESS_STEP = 1 << 20


def _make(state: int, content: int, high: int) -> int:
    return state | (content << 2) | (high << 4)


def _splits_folio(s: int, edge: int) -> bool:
    return (s & 3) == PG_RESIDENT and (edge & ((1 << (s >> 4)) - 1)) != 0


class _Model:
    """The memory model's state: page tables, page states, LRU, zswap store order."""

    def __init__(self, space: Any, span: int, cfg: dict[str, Any]) -> None:
        self.space = space
        self.pte = np.zeros(span, dtype=np.uint64)
        self.pstate = np.zeros(span, dtype=np.uint8)
        self.span = span
        self.lru: list[int] = []       # a FIFO: appended at the end, taken from lru_head
        self.lru_head = 0
        self.zq: list[tuple[int, int]] = []
        self.zq_head = 0
        self.resident = 0
        self.pool = 0
        self.handle = 0
        self.cfg = cfg
        self.c = dict.fromkeys(COUNTER_NAMES, 0)
        self.has_cpu = hasattr(space, "cpu")

    # -- the verbs, on a CPU ----------------------------------------------------------------

    def page_memcg(self, vpn: int) -> int:
        memcg = self.cfg["memcg"]
        return int(memcg[vpn]) if isinstance(memcg, np.ndarray) else memcg

    def on(self, cpu: int) -> Any:
        if self.has_cpu:
            self.space.cpu = cpu
        return self.space

    def lookup(self, e: int, cpu: int) -> int:
        try:
            return LOOKUP_KINDS.index(self.on(cpu).lookup(e).kind)
        except NoEntry:
            return 4

    def reclaim_folio(self, e: int, order: int, shadow: int | None, cpu: int) -> None:
        sp = self.on(cpu)
        sp.swap_cache_del_folio(e, order, shadow)
        sp.put_swap_folio(e, order)

    def writeback(self, e: int, order: int, cpu: int) -> bool:
        try:
            self.on(cpu).writeback(e, order)
        except NoSpace:
            return True
        return False

    # -- reclaim and swap-out ------------------------------------------------------------------

    def store_folio(self, e: int, vpn: int, order: int, cpu: int) -> None:
        nr = 1 << order
        c, cfg, ps = self.c, self.cfg, self.pstate
        self.on(cpu).swap_duplicate(e, nr)
        zero = bool(cfg["zero_detection"]) and all(
            (int(ps[vpn + i]) >> 2) & 3 == C_ZERO for i in range(nr))
        if zero:
            self.on(cpu).zero_store(e, nr)
            c["zero_pages"] += nr
        elif cfg["backend"] == BK_ZSWAP:
            for i in range(nr):
                self.handle += 1
                self.on(cpu).zswap_store(e + i, self.handle)
                self.zq.append((vpn + i, e + i))
            c["zswpout"] += nr
            self.pool += nr
        else:
            if self.writeback(e, order, cpu):
                if order == 0:
                    raise NoSpace("the swap device is full: give the machine more swap")
                c["thp_swpout_fallback"] += 1
                for i in range(nr):
                    if self.writeback(e + i, 0, cpu):
                        raise NoSpace("the swap device is full: give the machine more swap")
            c["dev_writes"] += nr
            if cfg["backend"] == BK_ZRAM:
                for i in range(nr):
                    if (int(ps[vpn + i]) >> 2) & 3 == C_DATA:
                        c["zram_comp"] += 1
                    else:
                        c["zram_same"] += 1
        self.reclaim_folio(e, order, c["pgsteal"], cpu)
        high = 1 if cfg["backend"] == BK_ZSWAP and not zero else 0
        for i in range(nr):
            self.pte[vpn + i] = e + i
            ps[vpn + i] = _make(PG_SWAPPED, (int(ps[vpn + i]) >> 2) & 3, high)
        c["pswpout"] += nr

    def zswap_shrink(self, cpu: int) -> None:
        while self.pool > self.cfg["zswap_pool"] and self.zq_head < len(self.zq):
            vpn, e = self.zq[self.zq_head]
            self.zq_head += 1
            s = int(self.pstate[vpn])
            if int(self.pte[vpn]) != e or not s & ZSWAP_BIT or (s & 3) < PG_SWAPPED:
                continue
            if self.writeback(e, 0, cpu):
                raise NoSpace("the swap device is full: give the machine more swap")
            self.pstate[vpn] = s & ~ZSWAP_BIT
            self.pool -= 1
            self.c["zswpwb"] += 1
            self.c["dev_writes"] += 1

    def alloc(self, folio: int, order: int, cpu: int) -> int | None:
        try:
            return self.on(cpu).folio_alloc_swap(folio, order, self.page_memcg(folio), cpu)
        except NoSpace:
            return None

    def swap_out(self, vpn: int, order: int, cpu: int) -> None:
        e = self.alloc(vpn, order, cpu)
        if e is not None:
            self.store_folio(e, vpn, order, cpu)
            if order:
                self.c["thp_swpout"] += 1
        elif order:
            self.c["thp_swpout_fallback"] += 1
            for i in range(vpn, vpn + (1 << order)):
                e = self.alloc(i, 0, cpu)
                if e is None:
                    raise NoSpace("swap space is exhausted: give the machine more swap")
                self.store_folio(e, i, 0, cpu)
        else:
            raise NoSpace("swap space is exhausted: give the machine more swap")
        if self.cfg["backend"] == BK_ZSWAP:
            self.zswap_shrink(cpu)

    def evict_one(self, cpu: int) -> int:
        while self.lru_head < len(self.lru):
            vpn = self.lru[self.lru_head]
            self.lru_head += 1
            s = int(self.pstate[vpn])
            if s & 3 == PG_SWAPCACHE:
                self.reclaim_folio(int(self.pte[vpn]), 0, self.c["pgsteal"], cpu)
                self.pstate[vpn] = _make(PG_SWAPPED, (s >> 2) & 3, (s >> 4) & 1)
                self.resident -= 1
                self.c["pgsteal"] += 1
                return 1
            if s & 3 != PG_RESIDENT:
                continue
            order = s >> 4
            self.swap_out(vpn, order, cpu)
            self.resident -= 1 << order
            self.c["pgsteal"] += 1 << order
            return 1 << order
        return 0

    def make_room(self, need: int, cpu: int) -> None:
        cfg = self.cfg
        if self.resident + need <= cfg["ram"]:
            return
        if need + cfg["watermark"] > cfg["ram"]:
            raise ValueError(f"a {need}-page folio does not fit in {cfg['ram']} pages of RAM "
                             f"(watermark {cfg['watermark']})")
        target = cfg["ram"] - cfg["watermark"] - need
        self.c["allocstall"] += 1
        got = 0
        while self.resident > target or got < cfg["batch"]:
            n = self.evict_one(cpu)
            if n == 0:
                break
            got += n
        if self.resident > target:
            raise ValueError("reclaim found nothing to evict: RAM is too small for this trace")

    # -- faults -------------------------------------------------------------------------------

    def swap_in(self, p: int, content: int, cpu: int) -> None:
        c, ps = self.c, self.pstate
        e = int(self.pte[p])
        s = int(ps[p])
        if s & 3 == PG_SWAPCACHE:
            kind = self.lookup(e, cpu)
            if kind != 3:
                raise AssertionError(f"read-ahead page {p:#x}: entry {e:#x} has no folio")
            c["swap_ra_hit"] += 1
        else:
            self.make_room(1, cpu)
            s = int(ps[p])
            kind = self.lookup(e, cpu)
            if kind > 2:
                raise AssertionError(f"swapped page {p:#x}: entry {e:#x} looks up as kind {kind}")
            c[("swapin_zero", "swapin_zswap", "swapin_swapfile")[kind]] += 1
            sp = self.on(cpu)
            sp.swapcache_prepare(e, 1)
            sp.swap_cache_add_folio(e, p, 0)
            c["pswpin"] += 1
            self.resident += 1
            self.lru.append(p)
        if s & ZSWAP_BIT:
            self.pool -= 1
        self.on(cpu).swap_free_nr(e, 1)
        self.reclaim_folio(e, 0, None, cpu)
        self.pte[p] = 0
        ps[p] = _make(PG_RESIDENT, content, 0)
        if s & 3 == PG_SWAPCACHE or self.cfg["readahead"] <= 1:
            return
        end = min(p + self.cfg["readahead"], (p | (PMD_PAGES - 1)) + 1, self.span)
        for q in range(p + 1, end):
            if int(ps[q]) & 3 != PG_SWAPPED:
                continue
            self.make_room(1, cpu)
            if int(ps[q]) & 3 != PG_SWAPPED:
                continue
            eq = int(self.pte[q])
            self.lookup(eq, cpu)
            sp = self.on(cpu)
            sp.swapcache_prepare(eq, 1)
            sp.swap_cache_add_folio(eq, q, 0)
            ps[q] = (int(ps[q]) & ~3) | PG_SWAPCACHE
            self.resident += 1
            self.lru.append(q)
            c["swap_ra"] += 1

    def flush_zap(self, e: int, n: int, cpu: int) -> None:
        if n:
            self.on(cpu).free_swap_and_cache_nr(e, n)
            self.c["free_batches"] += 1
            self.c["free_entries"] += n

    def free_range(self, i: int, vpn: int, nr: int, cpu: int) -> None:
        ps = self.pstate
        run_e = run_n = run_pmd = run_mg = 0
        for p in range(vpn, vpn + nr):
            s = int(ps[p])
            if s & 3 == PG_NONE:
                raise TraceError(f"event {i}: FREE of page {p:#x}, which is not mapped")
            if s & 3 == PG_RESIDENT:
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
                if s & 3 == PG_SWAPCACHE:
                    self.resident -= 1
                if s & ZSWAP_BIT:
                    self.pool -= 1
                self.pte[p] = 0
            ps[p] = _make(PG_NONE, PG_FREED, 0)
        self.flush_zap(run_e, run_n, cpu)

    def touch(self, i: int, vpn: int, nr: int, order: int, content: int, cpu: int) -> None:
        fnr = 1 << order
        if self.pstate[vpn:vpn + nr].any():
            p = vpn + int(np.flatnonzero(self.pstate[vpn:vpn + nr])[0])
            raise TraceError(f"event {i}: TOUCH of page {p:#x}, which was touched before")
        for f in range(vpn, vpn + nr, fnr):
            self.make_room(fnr, cpu)
            self.pstate[f:f + fnr] = _make(PG_RESIDENT, content, order)
            self.lru.append(f)
            self.resident += fnr
            self.c["pgfault"] += 1
        self.c["pages_touched"] += nr
        self.c["pages_written"] += nr         # a first touch writes: as Trace.pages_written

    def write(self, i: int, vpn: int, nr: int, content: int, cpu: int) -> None:
        ps = self.pstate
        for p in range(vpn, vpn + nr):
            s = int(ps[p])
            if s & 3 == PG_NONE:
                raise TraceError(f"event {i}: WRITE to page {p:#x}, which is not mapped")
            if s & 3 == PG_RESIDENT:
                ps[p] = (s & ~0x0C) | (content << 2)
            else:
                self.swap_in(p, content, cpu)
        self.c["pages_written"] += nr


def replay_trace(space: Any, op: Any, vpn: Any, nr: Any, order: Any, content: Any, cpu: Any, *,
                 span: int, ram: int, watermark: int = 0, batch: int = 32,
                 backend: str = "zram", zswap_pool: int = 0, readahead: int = 1,
                 zero_detection: bool = True, memcg: int | np.ndarray = 1,
                 progress: Callable[[int], Any] | None = None) -> dict[str, Any]:
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
    if ram == 0:
        raise ValueError("ram must be at least one page")
    if isinstance(memcg, np.ndarray) and (memcg.dtype != np.uint16 or memcg.shape != (span,)):
        raise ValueError(f"memcg must be an int or a uint16 array of {span} pages")
    cols = [np.asarray(a) for a in (op, vpn, nr, order, content, cpu)]
    if len({len(a) for a in cols}) != 1:
        raise ValueError("the trace columns differ in length")
    cfg = {"ram": ram, "watermark": watermark, "batch": batch, "zswap_pool": zswap_pool,
           "readahead": readahead, "backend": BACKENDS.index(backend),
           "zero_detection": zero_detection, "memcg": memcg}
    m = _Model(space, span, cfg)
    footprint = None
    freeing = False
    t_free = 0.0
    done, next_report = 0, PROGRESS_STEP
    t0 = t1 = time.thread_time()
    for i, (o, v, n, k, ct, u) in enumerate(zip(*(a.tolist() for a in cols))):
        end = v + n
        if n == 0 or end > span:
            raise TraceError(f"event {i}: range [{v:#x}, +{n}) is empty or leaves the span "
                             f"of {span} pages")
        if u >= 64 or ct > C_SAME or k > 9:
            raise TraceError(f"event {i}: cpu, content or order out of range")
        if o > EV_FREE:
            raise TraceError(f"event {i}: unknown op {o}")
        if (o == EV_FREE) != freeing:
            if freeing:
                t_free += time.thread_time() - t1
            elif footprint is None:
                footprint = space.memory_footprint()
            t1 = time.thread_time()
            freeing = not freeing
        if o == EV_TOUCH and (v | n) & ((1 << k) - 1):
            raise TraceError(f"event {i}: TOUCH of [{v:#x}, +{n}) is not aligned to "
                             f"order-{k} folios")
        if o == EV_FREE and (_splits_folio(int(m.pstate[v]), v)
                             or _splits_folio(int(m.pstate[end - 1]), end)):
            raise TraceError(f"event {i}: FREE of [{v:#x}, {end:#x}) splits a large folio")
        if o == EV_TOUCH:
            m.touch(i, v, n, k, ct, u)
        elif o == EV_WRITE:
            m.write(i, v, n, ct, u)
        else:
            m.free_range(i, v, n, u)
        done += n
        if progress is not None and done >= next_report:
            progress(done)
            next_report = done + PROGRESS_STEP
    if freeing:
        t_free += time.thread_time() - t1
    total = time.thread_time() - t0
    if footprint is None:
        footprint = space.memory_footprint()
    m.c["resident"] = m.resident
    m.c["zswap_pool"] = m.pool
    return {"counters": dict(m.c), "times": {"total_s": total, "free_s": t_free},
            "footprint": footprint, "pte": m.pte, "pstate": m.pstate}
