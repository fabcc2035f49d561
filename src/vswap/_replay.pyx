"""The compiled replay: a workload's page events through one swap design, in C.

The memory model (page tables, a FIFO LRU with a RAM limit, swap-out,
swap-in with VMA read-ahead, the zswap pool's writeback, and the batched
free at munmap) runs here with no Python call per event: every swap
operation is a call through the design's C verb table
(``design.__vswap_ops__()``, see ``vswap/_swapops.pxd``). The pure-Python
twin with the same algorithm and counters is :mod:`vswap.reference.replay`;
the public entry point is :func:`vswap.replay.replay`.
"""

cimport cython
from cpython.pycapsule cimport PyCapsule_GetPointer, PyCapsule_IsValid
from libc.stdint cimport uint8_t, uint16_t, uint64_t
from libc.stdlib cimport free
from libc.string cimport memset
from posix.time cimport clock_gettime, timespec, CLOCK_THREAD_CPUTIME_ID

from vswap._mem cimport checked_calloc, checked_realloc
from vswap._swapops cimport (
    swap_ops, SWAP_OPS_VERSION, OPS_ZERO, OPS_ZSWAP, OPS_SWAPFILE, OPS_FOLIO, OPS_FREE,
    OPS_NO_SHADOW,
)

import numpy as np

from vswap.errors import NoSpace, TraceError

__all__ = ["replay_trace", "COUNTER_NAMES", "BACKENDS"]

#: The model's counters, in the order of ``mm_counters``.
COUNTER_NAMES = (
    "pgfault", "pages_touched", "pages_written", "pswpout", "pswpin", "thp_swpout",
    "thp_swpout_fallback", "swap_ra", "swap_ra_hit", "pgsteal", "allocstall", "zero_pages",
    "zswpout", "zswpwb", "zram_same", "zram_comp", "dev_writes", "swapin_zero", "swapin_zswap",
    "swapin_swapfile", "free_batches", "free_entries", "free_resident", "resident", "zswap_pool",
)
#: Backend names, in the order of their codes.
BACKENDS = ("zram", "zswap", "swapfile")

cdef uint64_t PMD_PAGES = 512          # a zap or a read-ahead window never crosses a PMD
cdef uint64_t PROGRESS_STEP = 1 << 20  # pages between progress callbacks


# --- FIFO rings ---------------------------------------------------------------------------

cdef int ring_push(ring_t* r, uint64_t x) except -1:
    cdef uint64_t i, old
    if r.len == r.cap:                   # grow: unroll the wrapped part behind the old end
        old = r.cap
        checked_realloc(<void**>&r.a, old * 2, sizeof(uint64_t))
        for i in range(r.head):
            r.a[old + i] = r.a[i]
        r.cap = old * 2
    r.a[(r.head + r.len) & (r.cap - 1)] = x
    r.len += 1
    return 0


cdef inline uint64_t ring_pop(ring_t* r) noexcept:
    cdef uint64_t x = r.a[r.head]
    r.head = (r.head + 1) & (r.cap - 1)
    r.len -= 1
    return x


cdef int ring_init(ring_t* r) except -1:
    r.cap = 1024
    r.a = <uint64_t*>checked_calloc(r.cap, sizeof(uint64_t))
    r.head = 0
    r.len = 0
    return 0


# --- page state -----------------------------------------------------------------------------

cdef inline int pg_state(uint8_t s) noexcept:
    return s & 3


cdef inline int pg_content(uint8_t s) noexcept:
    return (s >> 2) & 3


cdef inline uint8_t pg_make(int state, int content, int high) noexcept:
    return <uint8_t>(state | (content << 2) | (high << 4))


# --- reclaim and swap-out -----------------------------------------------------------------------

cdef int store_folio(mm_t* m, uint64_t e, uint64_t vpn, int order, int cpu) except -1:
    """A folio holding entries e.. goes to its backend; then its PTEs become swap PTEs."""
    cdef uint64_t nr = <uint64_t>1 << order, i
    cdef const swap_ops* ops = m.ops
    cdef bint zero = m.cfg.zero_detection
    cdef int ct
    ops.swap_duplicate(m.space, e, nr, cpu)          # try_to_unmap: a count per PTE
    if zero:
        for i in range(nr):
            if pg_content(m.pstate[vpn + i]) != C_ZERO:
                zero = False
                break
    if zero:                                         # swap_writeout: the zeromap first
        ops.zero_store(m.space, e, nr, cpu)
        m.c.zero_pages += nr
    elif m.cfg.backend == BK_ZSWAP:
        for i in range(nr):
            m.handle += 1
            ops.zswap_store(m.space, e + i, m.handle, cpu)
            ring_push(&m.zq, vpn + i)
            ring_push(&m.zq, e + i)
        m.c.zswpout += nr
        m.pool += nr
    else:
        if ops.writeback(m.space, e, order, 0, cpu):
            if order == 0:
                raise NoSpace("the swap device is full: give the machine more swap")
            m.c.thp_swpout_fallback += 1             # no physical run: split, page by page
            for i in range(nr):
                if ops.writeback(m.space, e + i, 0, 0, cpu):
                    raise NoSpace("the swap device is full: give the machine more swap")
        m.c.dev_writes += nr
        if m.cfg.backend == BK_ZRAM:
            for i in range(nr):
                ct = pg_content(m.pstate[vpn + i])
                if ct == C_DATA:
                    m.c.zram_comp += 1
                else:
                    m.c.zram_same += 1
    ops.reclaim_folio(m.space, e, order, m.c.pgsteal, cpu)   # __remove_mapping, with a shadow
    for i in range(nr):
        m.pte[vpn + i] = e + i
        m.pstate[vpn + i] = pg_make(PG_SWAPPED, pg_content(m.pstate[vpn + i]),
                                    1 if m.cfg.backend == BK_ZSWAP and not zero else 0)
    m.c.pswpout += nr
    return 0


cdef int zswap_shrink(mm_t* m, int cpu) except -1:
    """Write the oldest zswap pages back to the device until the pool fits."""
    cdef uint64_t vpn, e
    while m.pool > m.cfg.zswap_pool and m.zq.len:
        vpn = ring_pop(&m.zq)
        e = ring_pop(&m.zq)
        if m.pte[vpn] != e or not (m.pstate[vpn] & 0x10) or pg_state(m.pstate[vpn]) < PG_SWAPPED:
            continue                                 # freed, faulted in, or stored again
        if m.ops.writeback(m.space, e, 0, 0, cpu):
            raise NoSpace("the swap device is full: give the machine more swap")
        m.pstate[vpn] &= ~0x10
        m.pool -= 1
        m.c.zswpwb += 1
        m.c.dev_writes += 1
    return 0


cdef inline uint16_t page_memcg(mm_t* m, uint64_t vpn) noexcept:
    return m.memcg[vpn] if m.memcg != NULL else m.cfg.memcg


cdef int swap_out(mm_t* m, uint64_t vpn, int order, int cpu) except -1:
    """shrink_folio_list for one folio: allocate, store, unmap; split when no run is free."""
    cdef uint64_t e = 0, i
    if m.ops.folio_alloc_swap(m.space, vpn, order, page_memcg(m, vpn), cpu, &e) == 0:
        store_folio(m, e, vpn, order, cpu)
        if order:
            m.c.thp_swpout += 1
    elif order:
        m.c.thp_swpout_fallback += 1
        for i in range(vpn, vpn + (<uint64_t>1 << order)):
            if m.ops.folio_alloc_swap(m.space, i, 0, page_memcg(m, i), cpu, &e):
                raise NoSpace("swap space is exhausted: give the machine more swap")
            store_folio(m, e, i, 0, cpu)
    else:
        raise NoSpace("swap space is exhausted: give the machine more swap")
    if m.cfg.backend == BK_ZSWAP:
        zswap_shrink(m, cpu)
    return 0


cdef uint64_t evict_one(mm_t* m, int cpu) except? 0xFFFFFFFFFFFFFFFF:
    """Reclaim the LRU's oldest folio; the pages freed (0 when the LRU is empty)."""
    cdef uint64_t vpn, nr
    cdef uint8_t s
    cdef int order
    while m.lru.len:
        vpn = ring_pop(&m.lru)
        s = m.pstate[vpn]
        if pg_state(s) == PG_SWAPCACHE:              # a clean read-ahead folio: just drop it
            m.ops.reclaim_folio(m.space, m.pte[vpn], 0, m.c.pgsteal, cpu)
            m.pstate[vpn] = pg_make(PG_SWAPPED, pg_content(s), (s >> 4) & 1)
            m.resident -= 1
            m.c.pgsteal += 1
            return 1
        if pg_state(s) != PG_RESIDENT:
            continue                                 # left behind by a free
        order = s >> 4
        nr = <uint64_t>1 << order
        swap_out(m, vpn, order, cpu)
        m.resident -= nr
        m.c.pgsteal += nr
        return nr
    return 0


cdef int make_room(mm_t* m, uint64_t need, int cpu) except -1:
    """Direct reclaim before a fault that needs ``need`` pages."""
    cdef uint64_t target, got = 0, n
    if m.resident + need <= m.cfg.ram:
        return 0
    if need + m.cfg.watermark > m.cfg.ram:
        raise ValueError(f"a {need}-page folio does not fit in {m.cfg.ram} pages of RAM "
                         f"(watermark {m.cfg.watermark})")
    target = m.cfg.ram - m.cfg.watermark - need
    m.c.allocstall += 1
    while m.resident > target or got < m.cfg.batch:
        n = evict_one(m, cpu)
        if n == 0:
            break
        got += n
    if m.resident > target:
        raise ValueError("reclaim found nothing to evict: RAM is too small for this trace")
    return 0


# --- faults ------------------------------------------------------------------------------------

cdef int swap_in(mm_t* m, uint64_t p, int content, int cpu) except -1:
    """A write fault on a swap PTE: read (or take the read-ahead folio), map, free the entry."""
    cdef uint64_t e = m.pte[p], h = 0, q, end
    cdef uint8_t s = m.pstate[p]
    cdef int kind
    if pg_state(s) == PG_SWAPCACHE:
        kind = m.ops.lookup(m.space, e, cpu, &h)
        if kind != OPS_FOLIO:
            raise AssertionError(f"read-ahead page {p:#x}: entry {e:#x} has no folio (kind {kind})")
        m.c.swap_ra_hit += 1
    else:
        make_room(m, 1, cpu)
        s = m.pstate[p]                              # reclaim may have written its zswap copy back
        kind = m.ops.lookup(m.space, e, cpu, &h)
        if kind == OPS_ZERO:
            m.c.swapin_zero += 1
        elif kind == OPS_ZSWAP:
            m.c.swapin_zswap += 1
        elif kind == OPS_SWAPFILE:
            m.c.swapin_swapfile += 1
        else:
            raise AssertionError(f"swapped page {p:#x}: entry {e:#x} looks up as kind {kind}")
        m.ops.swapin_folio(m.space, e, 0, p, cpu)
        m.c.pswpin += 1
        m.resident += 1
        ring_push(&m.lru, p)
    if s & 0x10:
        m.pool -= 1                                  # the entry's zswap copy goes with it
    m.ops.swap_free_nr(m.space, e, 1, cpu)           # the PTE's count
    m.ops.reclaim_folio(m.space, e, 0, OPS_NO_SHADOW, cpu)   # folio_free_swap: exclusive, dirty
    m.pte[p] = 0
    m.pstate[p] = pg_make(PG_RESIDENT, content, 0)
    if pg_state(s) == PG_SWAPCACHE or m.cfg.readahead <= 1:
        return 0
    end = p + m.cfg.readahead                        # swap_vma_readahead, within the PMD
    if end > (p | (PMD_PAGES - 1)) + 1:
        end = (p | (PMD_PAGES - 1)) + 1
    if end > m.span:
        end = m.span
    for q in range(p + 1, end):
        if pg_state(m.pstate[q]) != PG_SWAPPED:
            continue
        make_room(m, 1, cpu)
        if pg_state(m.pstate[q]) != PG_SWAPPED:
            continue
        kind = m.ops.lookup(m.space, m.pte[q], cpu, &h)
        m.ops.swapin_folio(m.space, m.pte[q], 0, q, cpu)
        m.pstate[q] = (m.pstate[q] & ~3) | PG_SWAPCACHE
        m.resident += 1
        ring_push(&m.lru, q)
        m.c.swap_ra += 1
    return 0


cdef inline bint splits_folio(uint8_t s, uint64_t edge) noexcept:
    """Whether a range edge at ``edge`` cuts the resident folio of page state ``s``."""
    return pg_state(s) == PG_RESIDENT and (edge & ((<uint64_t>1 << (s >> 4)) - 1)) != 0


cdef int flush_zap(mm_t* m, uint64_t e, uint64_t n, int cpu) except -1:
    if n:
        m.ops.free_swap_and_cache_nr(m.space, e, n, cpu)
        m.c.free_batches += 1
        m.c.free_entries += n
    return 0


cdef int free_range(mm_t* m, uint64_t i, uint64_t vpn, uint64_t nr, int cpu) except -1:
    """munmap / exit: zap every PTE; swap PTEs in runs of consecutive entries within a PMD."""
    cdef uint64_t p, run_e = 0, run_n = 0, run_pmd = 0, e
    cdef uint16_t run_mg = 0
    cdef uint8_t s
    for p in range(vpn, vpn + nr):
        s = m.pstate[p]
        if pg_state(s) == PG_NONE:
            raise TraceError(f"event {i}: FREE of page {p:#x}, which is not mapped")
        if pg_state(s) == PG_RESIDENT:
            m.resident -= 1
            m.c.free_resident += 1
        else:
            e = m.pte[p]
            # swap_pte_batch: consecutive entries, one PMD, one memcg
            if run_n and (e != run_e + run_n or (p >> 9) != run_pmd
                          or page_memcg(m, p) != run_mg):
                flush_zap(m, run_e, run_n, cpu)
                run_n = 0
            if run_n == 0:
                run_e = e
                run_pmd = p >> 9
                run_mg = page_memcg(m, p)
            run_n += 1
            if pg_state(s) == PG_SWAPCACHE:
                m.resident -= 1                      # the zap reclaims the read-ahead folio
            if s & 0x10:
                m.pool -= 1
            m.pte[p] = 0
        m.pstate[p] = pg_make(PG_NONE, PG_FREED, 0)
    flush_zap(m, run_e, run_n, cpu)
    return 0


cdef int touch(mm_t* m, uint64_t i, uint64_t vpn, uint64_t nr, int order, int content,
               int cpu) except -1:
    """First-touch faults of folios of ``2**order`` pages."""
    cdef uint64_t f, p, fnr = <uint64_t>1 << order
    for p in range(vpn, vpn + nr):
        if m.pstate[p] != 0:
            raise TraceError(f"event {i}: TOUCH of page {p:#x}, which was touched before")
    f = vpn
    while f < vpn + nr:                              # (a C loop: range() with a variable step is not)
        make_room(m, fnr, cpu)
        for p in range(f, f + fnr):
            m.pstate[p] = pg_make(PG_RESIDENT, content, order)
        ring_push(&m.lru, f)
        m.resident += fnr
        m.c.pgfault += 1
        f += fnr
    m.c.pages_touched += nr
    m.c.pages_written += nr                          # a first touch writes: as Trace.pages_written
    return 0


cdef int write(mm_t* m, uint64_t i, uint64_t vpn, uint64_t nr, int content, int cpu) except -1:
    cdef uint64_t p
    cdef uint8_t s
    for p in range(vpn, vpn + nr):
        s = m.pstate[p]
        if pg_state(s) == PG_NONE:
            raise TraceError(f"event {i}: WRITE to page {p:#x}, which is not mapped")
        if pg_state(s) == PG_RESIDENT:
            m.pstate[p] = (s & ~0x0C) | (content << 2)
        else:
            swap_in(m, p, content, cpu)
    m.c.pages_written += nr
    return 0


# --- the loop ------------------------------------------------------------------------------------

cdef inline double now() noexcept:
    cdef timespec ts
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)   # CPU time: other load on the machine does not count
    return ts.tv_sec + ts.tv_nsec * 1e-9


def replay_trace(space, op, vpn, nr, order, content, cpu, *, uint64_t span, uint64_t ram,
                 uint64_t watermark=0, uint64_t batch=32, str backend="zram",
                 uint64_t zswap_pool=0, uint64_t readahead=1, bint zero_detection=True,
                 memcg=1, progress=None):
    """Replay trace arrays through ``space``; the model's counters and state.

    ``op`` .. ``cpu`` are the columns of a :class:`vswap.workloads.Trace`;
    ``span`` the pages of its virtual span; ``memcg`` the memcg id of every
    page, or a uint16 array of one per page of the span. Returns a dict: ``counters``
    (:data:`COUNTER_NAMES`), ``times`` (``total_s``, ``free_s``),
    ``footprint`` (``space.memory_footprint()`` just before the first
    FREE, the peak for usemem and memhog), ``pte`` (uint64 per page, the
    page tables) and ``pstate`` (uint8 per page). TraceError for a trace
    that breaks its rules, NoSpace when swap runs out, TypeError for a
    design without a C verb table. Runtime complexity: O(pages touched,
    written and freed) calls through the verb table, no Python call per
    event.

    >>> import numpy as np, vswap
    >>> from vswap._replay import replay_trace
    >>> ds = vswap.DirectSwap(vswap.SwapDevices([vswap.SwapDevice(1024)]))
    >>> cols = [np.array(x, dtype=t) for x, t in (([0, 2], np.uint8), ([0, 0], np.uint64),
    ...     ([8, 8], np.uint64), ([0, 0], np.uint8), ([0, 0], np.uint8), ([0, 0], np.uint16))]
    >>> out = replay_trace(ds, *cols, span=8, ram=5, batch=1)
    >>> out["counters"]["pswpout"], out["counters"]["free_entries"]
    (3, 3)
    """
    cdef const uint8_t[::1] o_ = op
    cdef const uint64_t[::1] v_ = vpn
    cdef const uint64_t[::1] n_ = nr
    cdef const uint8_t[::1] k_ = order
    cdef const uint8_t[::1] c_ = content
    cdef const uint16_t[::1] u_ = cpu
    cdef Py_ssize_t i, n = o_.shape[0]
    cdef mm_t m
    cdef uint64_t lo, hi
    cdef uint64_t done = 0, next_report = PROGRESS_STEP, end
    cdef double t0, t_free = 0.0, t1
    cdef bint freeing = False
    if not PyCapsule_IsValid(getattr(space, "__vswap_ops__", lambda: None)(), "vswap.swap_ops"):
        raise TypeError(f"{type(space).__name__} has no C verb table (__vswap_ops__); "
                        "replay it with engine='reference'")
    caps = space.__vswap_ops__()
    if (<const swap_ops*>PyCapsule_GetPointer(caps, "vswap.swap_ops")).version != SWAP_OPS_VERSION:
        raise TypeError("the design's C verb table has another version")
    if not (v_.shape[0] == n_.shape[0] == k_.shape[0] == c_.shape[0] == u_.shape[0] == n):
        raise ValueError("the trace columns differ in length")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
    if ram == 0:
        raise ValueError("ram must be at least one page")
    pte = np.zeros(span, dtype=np.uint64)
    pstate = np.zeros(span, dtype=np.uint8)
    cdef uint64_t[::1] pte_v = pte
    cdef uint8_t[::1] ps_v = pstate
    cdef const uint16_t[::1] mg_
    memcgs = None
    if isinstance(memcg, np.ndarray):
        if memcg.dtype != np.uint16 or memcg.shape != (span,):
            raise ValueError(f"memcg must be an int or a uint16 array of {span} pages")
        memcgs = np.ascontiguousarray(memcg)
        mg_ = memcgs
    footprint = None
    memset(&m, 0, sizeof(mm_t))
    m.ops = <const swap_ops*>PyCapsule_GetPointer(caps, "vswap.swap_ops")
    m.space = <void*>space
    m.pte = &pte_v[0] if span else NULL
    m.pstate = &ps_v[0] if span else NULL
    m.span = span
    m.cfg.ram = ram
    m.cfg.watermark = watermark
    m.cfg.batch = batch
    m.cfg.zswap_pool = zswap_pool
    m.cfg.readahead = readahead
    m.cfg.backend = BACKENDS.index(backend)
    m.cfg.zero_detection = zero_detection
    m.cfg.memcg = 1 if memcgs is not None else memcg
    m.memcg = &mg_[0] if memcgs is not None and span else NULL
    try:
        ring_init(&m.lru)
        ring_init(&m.zq)
        t0 = now()
        for i in range(n):
            end = v_[i] + n_[i]
            if n_[i] == 0 or end > span or end < v_[i]:
                raise TraceError(f"event {i}: range [{v_[i]:#x}, +{n_[i]}) is empty or "
                                 f"leaves the span of {span} pages")
            if u_[i] >= 64 or c_[i] > C_SAME or k_[i] > 9:
                raise TraceError(f"event {i}: cpu, content or order out of range")
            if o_[i] > EV_FREE:
                raise TraceError(f"event {i}: unknown op {o_[i]}")
            if (o_[i] == EV_FREE) != freeing:        # the free phase's clock
                if freeing:
                    t_free += now() - t1
                elif footprint is None:
                    footprint = space.memory_footprint()
                t1 = now()
                freeing = not freeing
            if o_[i] == EV_TOUCH and (v_[i] | n_[i]) & ((<uint64_t>1 << k_[i]) - 1):
                raise TraceError(f"event {i}: TOUCH of [{v_[i]:#x}, +{n_[i]}) is not aligned "
                                 f"to order-{k_[i]} folios")
            if o_[i] == EV_FREE and (splits_folio(m.pstate[v_[i]], v_[i])
                                     or splits_folio(m.pstate[end - 1], end)):
                raise TraceError(f"event {i}: FREE of [{v_[i]:#x}, {end:#x}) splits a large folio")
            lo = v_[i]
            while lo < end:                          # slices at 2**20-page boundaries, for progress
                hi = ((lo >> 20) + 1) << 20
                if hi > end:
                    hi = end
                if o_[i] == EV_TOUCH:
                    touch(&m, i, lo, hi - lo, k_[i], c_[i], u_[i])
                elif o_[i] == EV_WRITE:
                    write(&m, i, lo, hi - lo, c_[i], u_[i])
                else:
                    free_range(&m, i, lo, hi - lo, u_[i])
                done += hi - lo
                lo = hi
                if progress is not None and done >= next_report:
                    progress(done)
                    next_report = done + PROGRESS_STEP
        if freeing:
            t_free += now() - t1
        t1 = now() - t0
    finally:
        free(m.lru.a)
        free(m.zq.a)
    if footprint is None:
        footprint = space.memory_footprint()
    m.c.resident = m.resident
    m.c.zswap_pool = m.pool
    cdef dict raw = m.c
    counters = {name: raw[name] for name in COUNTER_NAMES}
    return {"counters": counters, "times": {"total_s": t1, "free_s": t_free},
            "footprint": footprint, "pte": pte, "pstate": pstate}
