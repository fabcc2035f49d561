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
from libc.math cimport sqrt
from libc.string cimport memcpy, memset
from posix.mman cimport madvise, MADV_HUGEPAGE
from posix.stdlib cimport posix_memalign
from posix.time cimport clock_gettime, timespec, CLOCK_THREAD_CPUTIME_ID

from vswap._direct cimport DirectSwap, direct_stats
from vswap._mem cimport checked_calloc, checked_realloc
from vswap._virtual cimport VirtualSwap, vswap_stats
from vswap._swapops cimport (
    swap_ops, SWAP_OPS_VERSION, OPS_ZERO, OPS_ZSWAP, OPS_SWAPFILE, OPS_FOLIO, OPS_FREE,
    OPS_NO_SHADOW,
)

import numpy as np

from vswap.errors import NoSpace, TraceError

__all__ = ["replay_trace", "COUNTER_NAMES", "KERNEL_COUNTERS", "MTHP_STATS", "BACKENDS",
           "ACCOUNTING"]

# The counter and backend names have one home below both engines, vswap.counters;
# ``mm_counters`` holds the kernel's and the model's own counters by name, and
# ``mm_t.mthp``'s columns are in MTHP_STATS's order (the ST_* codes).
from vswap.workloads import OPS
from vswap.counters import (
    ACCOUNTING, BACKENDS, COUNTER_NAMES, KERNEL_COUNTERS,
    MTHP_STATS, mthp_counter as _mthp_counter, phase_snapshot as _phase_snapshot,
)

_MTHP_NAMES = tuple((k, j, _mthp_counter(k, s)) for k in range(1, 10)
                    for j, s in enumerate(MTHP_STATS))

# A machine-wide LRU entry's top bit: the folio was scanned once and found young (its
# fault's access): folio_check_references set PG_referenced and kept it. vpns stay far below.
cdef uint64_t LRU_REFERENCED = <uint64_t>1 << 63
#: A write in flight whose folio will miss folio_rotate_reclaimable.
cdef uint64_t WB_MISSED = <uint64_t>1 << 63
cdef uint64_t STALL_OPEN = 0xFFFFFFFFFFFFFFFF   # a direct reclaim stall not yet ended (mm_t.d1)
cdef uint64_t PMD_PAGES = 512          # a zap or a read-ahead window never crosses a PMD
cdef uint64_t PROGRESS_STEP = 1 << 20  # pages between progress callbacks
cdef uint64_t ZAP_AHEAD = 8             # a zap prefetches the design's memory this many PTEs ahead


# --- FIFO rings ---------------------------------------------------------------------------

cdef size_t HUGE_BYTES = 2 << 20         # a PMD: rings this large ask for transparent huge pages


cdef int ring_grow(ring_t* r) except -1:
    """Double the ring. A large one moves to 2 MiB-aligned memory advised MADV_HUGEPAGE
    (unrolled from the head: the order is the same): the LRU of a large trace is tens of
    MB, which in 4 KiB pages costs a fault each (THP is "madvise" here)."""
    cdef uint64_t i, old = r.cap
    cdef size_t nbytes = old * 2 * sizeof(uint64_t)
    cdef void* q = NULL
    if nbytes < HUGE_BYTES:
        checked_realloc(<void**>&r.a, old * 2, sizeof(uint64_t))
        for i in range(r.head):
            r.a[old + i] = r.a[i]
        r.cap = old * 2
        return 0
    if posix_memalign(&q, HUGE_BYTES, nbytes) != 0:
        raise MemoryError(f"could not allocate {nbytes} bytes")
    madvise(q, nbytes, MADV_HUGEPAGE)               # advice only: its failure changes nothing
    memcpy(q, r.a + r.head, (old - r.head) * sizeof(uint64_t))
    memcpy(<uint64_t*>q + (old - r.head), r.a, r.head * sizeof(uint64_t))
    free(r.a)
    r.a = <uint64_t*>q
    r.head = 0
    r.cap = old * 2
    return 0


cdef inline int ring_push(ring_t* r, uint64_t x) except -1:
    if r.len == r.cap:                   # rare: out of line
        ring_grow(r)
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


cdef const uint64_t* design_stats(object space, uint64_t* n) except? NULL:
    """The design's work counters as uint64 fields (``space.stats``'s order), or NULL."""
    if isinstance(space, DirectSwap):
        n[0] = sizeof(direct_stats) // sizeof(uint64_t)
        return <const uint64_t*>&(<DirectSwap>space).d.st
    if isinstance(space, VirtualSwap):
        n[0] = sizeof(vswap_stats) // sizeof(uint64_t)
        return <const uint64_t*>&(<VirtualSwap>space).v.st
    n[0] = 0
    return NULL


# --- page state -----------------------------------------------------------------------------

cdef inline int pg_state(uint8_t s) noexcept:
    return s & 3


cdef inline int pg_content(uint8_t s) noexcept:
    return (s >> 2) & 3


cdef inline uint8_t pg_make(int state, int content, int high) noexcept:
    return <uint8_t>(state | (content << 2) | (high << 4))


# --- memory accounting ----------------------------------------------------------------------------

cdef inline uint64_t pages_of(uint64_t nbytes) noexcept:
    return (nbytes + PAGE_BYTES - 1) >> PAGE_SHIFT


cdef inline uint64_t used(mm_t* m) noexcept:
    """Pages charged against the limit: resident, plus the compressed pages the accounting counts."""
    cdef uint64_t b
    if m.cfg.accounting == AC_V1:
        return m.resident + m.pgtables
    b = m.zswap_bytes
    if m.cfg.accounting == AC_NONE:
        b += m.zram_bytes
    return m.resident + m.pgtables + pages_of(b)


cdef inline void drop_backing(mm_t* m, uint8_t s) noexcept:
    """An entry of page state ``s`` is freed: zswap and zram drop its compressed copy."""
    cdef int ct = pg_content(s)
    if s & ZSWAP_BIT:
        m.pool -= 1
        m.zswap_bytes -= m.cfg.csize[ct]
    if m.cfg.backend == BK_ZRAM and ct == C_DATA:
        m.zram_bytes -= m.cfg.csize[C_DATA]


# --- reclaim and swap-out -----------------------------------------------------------------------

cdef inline void count_split(mm_t* m, int order) noexcept:
    if order == PMD_ORDER:
        m.c.thp_swpout_fallback += 1
    m.mthp[order][ST_SWPOUT_FALLBACK] += 1


cdef inline int device_write(mm_t* m, uint64_t e, uint64_t vpn, int order, int cpu) except -1:
    """swap_writepage to the device (zram or the swapfile); a large folio without a run splits."""
    cdef uint64_t nr = <uint64_t>1 << order, i
    cdef bint whole = True
    if m.ops.writeback(m.space, e, order, 0, cpu):
        if order == 0:
            raise NoSpace("the swap device is full: give the machine more swap")
        count_split(m, order)
        whole = False
        for i in range(nr):
            if m.ops.writeback(m.space, e + i, 0, 0, cpu):
                raise NoSpace("the swap device is full: give the machine more swap")
    m.c.pswpout += nr
    if whole and order:
        m.mthp[order][ST_SWPOUT] += 1
        if order == PMD_ORDER:
            m.c.thp_swpout += 1
    if m.cfg.backend == BK_ZRAM:
        for i in range(nr):
            if pg_content(m.pstate[vpn + i]) == C_DATA:
                m.c.zram_comp += 1
                m.zram_bytes += m.cfg.csize[C_DATA]
            else:
                m.c.zram_same += 1
    return 0


cdef bint zswap_full(mm_t* m) noexcept:
    """zswap_check_limits: full at the pool limit, accepting again at the accept threshold."""
    cdef uint64_t pages = pages_of(m.zswap_bytes)
    if pages >= m.cfg.zswap_max:
        m.reached_full = True
    elif m.reached_full and pages <= m.cfg.zswap_accept:
        m.reached_full = False
    return m.reached_full


cdef bint zswap_try_store(mm_t* m, uint64_t e, uint64_t vpn, int order, int cpu) except -1:
    cdef uint64_t nr = <uint64_t>1 << order, i
    for i in range(nr):
        if m.cfg.csize[pg_content(m.pstate[vpn + i])] >= PAGE_BYTES:
            m.c.zswap_rejected += nr                 # compresses to no gain
            return False
    if zswap_full(m):
        m.c.zswap_rejected += nr
        return False
    for i in range(nr):
        m.handle += 1
        m.ops.zswap_store(m.space, e + i, m.handle, cpu)
        ring_push(&m.zq, vpn + i)
        ring_push(&m.zq, e + i)
        ring_push(&m.zq, m.handle)
        m.zgen[vpn + i] = <uint32_t>m.handle
        m.zswap_bytes += m.cfg.csize[pg_content(m.pstate[vpn + i])]
    m.pool += nr
    m.c.zswpout += nr
    if order:
        m.mthp[order][ST_ZSWPOUT] += 1
    return True


cdef int zswap_shrink(mm_t* m, int cpu) except -1:
    """The shrink worker after a rejection: write the oldest back to the accept threshold.

    A record is the page's LRU position only if it is its last store's: a page faulted in
    and stored again, even at the same entry, is at the LRU's head (zswap_lru_add of a new
    zswap_entry), and its older record is stale."""
    cdef uint64_t vpn, e, h
    cdef uint8_t s
    while pages_of(m.zswap_bytes) > m.cfg.zswap_accept and m.zq.len:
        vpn = ring_pop(&m.zq)
        e = ring_pop(&m.zq)
        h = ring_pop(&m.zq)
        s = m.pstate[vpn]
        if (m.pte[vpn] != e or not (s & ZSWAP_BIT) or pg_state(s) < PG_SWAPPED
                or m.zgen[vpn] != <uint32_t>h):
            continue                                 # freed, faulted in, or stored again
        if m.ops.writeback(m.space, e, 0, 0, cpu):
            raise NoSpace("the swap device is full: give the machine more swap")
        m.pstate[vpn] = s & ~ZSWAP_BIT
        set_swap_bits(m, vpn, s & ~ZSWAP_BIT)
        m.pool -= 1
        m.zswap_bytes -= m.cfg.csize[pg_content(s)]
        m.c.zswpwb += 1
        m.c.pswpout += 1
    return 0


cdef inline int writeout(mm_t* m, uint64_t e, uint64_t vpn, int order, int cpu) except -1:
    """swap_writeout of a folio whose entries e.. are allocated: the zeromap, zswap or the device.

    Returns the page-state bits of the backing (ZSWAP_BIT or 0)."""
    cdef uint64_t nr = <uint64_t>1 << order, i
    cdef bint zero = m.cfg.zero_detection
    if zero:
        for i in range(nr):
            if pg_content(m.pstate[vpn + i]) != C_ZERO:
                zero = False
                break
    if zero:
        m.ops.zero_store(m.space, e, nr, cpu)
        m.c.zero_pages += nr
        return 0
    if m.cfg.backend == BK_ZSWAP:
        if zswap_try_store(m, e, vpn, order, cpu):
            return ZSWAP_BIT
        device_write(m, e, vpn, order, cpu)
        if m.reached_full:
            zswap_shrink(m, cpu)
        return 0
    device_write(m, e, vpn, order, cpu)
    return 0


# --- pages shared by FORK: a ring of the vpns that map one page ---------------------------------

cdef inline bint shared(mm_t* m, uint64_t p) noexcept:
    return m.nxt != NULL and m.nxt[p] != 0


cdef inline uint64_t ring_next(mm_t* m, uint64_t p) noexcept:
    return m.nxt[p] - 1


cdef inline void ring_add(mm_t* m, uint64_t p, uint64_t d) noexcept:
    if m.nxt[p] == 0:
        m.nxt[p] = p + 1
    m.nxt[d] = m.nxt[p]
    m.nxt[p] = d + 1


cdef uint64_t ring_del(mm_t* m, uint64_t p, bint* swp) noexcept:
    """``p`` leaves its ring: a remaining member; ``swp``: whether any member keeps a swap PTE."""
    cdef uint64_t q = p, r
    while ring_next(m, q) != p:
        q = ring_next(m, q)
    m.nxt[q] = m.nxt[p]
    m.nxt[p] = 0
    swp[0] = False
    r = q
    while True:
        if pg_state(m.pstate[r]) >= PG_SWAPPED:
            swp[0] = True
        if m.nxt[r] == 0:
            break
        r = ring_next(m, r)
        if r == q:
            break
    if ring_next(m, q) == q:
        m.nxt[q] = 0
    return q


cdef void set_swap_bits(mm_t* m, uint64_t p, uint8_t bits) noexcept:
    """Every other member of ``p``'s ring with a swap PTE gets ``bits`` (state included)."""
    cdef uint64_t q
    if not shared(m, p):
        return
    q = ring_next(m, p)
    while q != p:
        if pg_state(m.pstate[q]) >= PG_SWAPPED:
            m.pstate[q] = (m.pstate[q] & 0x0C) | (bits & ~0x0C)
        q = ring_next(m, q)


cdef bint any_swap_pte(mm_t* m, uint64_t p) noexcept:
    """Whether a member of ``p``'s ring (``p`` included) holds a swap PTE."""
    cdef uint64_t q = p
    while True:
        if pg_state(m.pstate[q]) >= PG_SWAPPED:
            return True
        if m.nxt == NULL or m.nxt[q] == 0:
            return False
        q = ring_next(m, q)
        if q == p:
            return False


cdef bint store_folio(mm_t* m, uint64_t e, uint64_t vpn, int order, int cpu,
                      bint may_wait) except -1:
    """A folio holding entries e.. goes to its backend; then its PTEs become swap PTEs.

    True when the folio stays: an order-0 folio written to a swapfile under
    machine-wide reclaim is under writeback for ``write_ns`` and cannot be
    freed before (``may_wait``: not a page of a split folio); every
    ``1000 / missed_permille``-th such write misses the rotation (end_writeback)."""
    cdef uint64_t nr = <uint64_t>1 << order, i, out = m.c.pswpout, q
    cdef int high
    cdef bint sh = shared(m, vpn)                    # a shared page is order 0
    m.ops.swap_duplicate(m.space, e, nr, cpu)        # try_to_unmap: a count per PTE
    if sh:
        q = ring_next(m, vpn)
        while q != vpn:
            m.ops.swap_duplicate(m.space, e, nr, cpu)
            q = ring_next(m, q)
    high = writeout(m, e, vpn, order, cpu)
    m.c.swapped_out += nr
    if (may_wait and m.cfg.write_ns and order == 0 and m.cfg.kswapd
            and m.cfg.backend == BK_SWAPFILE and m.c.pswpout != out):
        m.pte[vpn] = e                               # in the swap cache, under writeback
        m.pstate[vpn] = pg_make(PG_SWAPCACHE, pg_content(m.pstate[vpn]), 0) | WB_BIT
        if sh:
            q = ring_next(m, vpn)
            while q != vpn:
                m.pte[q] = e
                m.pstate[q] = pg_make(PG_SWAPCACHE, pg_content(m.pstate[q]), 0) | WB_BIT
                q = ring_next(m, q)
        m.missed_acc += m.cfg.missed_permille        # its write completes before putback?
        if m.missed_acc >= 1000:
            m.missed_acc -= 1000
            ring_push(&m.wb, vpn | WB_MISSED)
            ring_push(&m.missdue, m.lru_pops + m.lru.len)   # put back at the LRU's head
        else:
            ring_push(&m.wb, vpn)
        ring_push(&m.wb, e)
        ring_push(&m.wb, (m.t_kswapd if m.reclaimer else m.t_task) + m.cfg.write_ns)
        return True
    m.ops.reclaim_folio(m.space, e, order, m.c.pgsteal, cpu)   # __remove_mapping, with a shadow
    if sh:
        q = ring_next(m, vpn)
        while q != vpn:
            m.pte[q] = e
            m.pstate[q] = pg_make(PG_SWAPPED, pg_content(m.pstate[q]), high >> 4)
            q = ring_next(m, q)
    for i in range(nr):
        m.pte[vpn + i] = e + i
        m.pstate[vpn + i] = pg_make(PG_SWAPPED, pg_content(m.pstate[vpn + i]), high >> 4)
    return False


cdef inline uint16_t page_memcg(mm_t* m, uint64_t vpn) noexcept:
    return m.memcg[vpn] if m.memcg != NULL else m.cfg.memcg


cdef bint swap_out(mm_t* m, uint64_t vpn, int order, int cpu, bint may_wait=True) except -1:
    """shrink_folio_list for one folio: allocate, store, unmap; split when no run is free.

    True when the folio is left under writeback (see store_folio)."""
    cdef uint64_t e = 0, i
    if m.ops.folio_alloc_swap(m.space, vpn, order, page_memcg(m, vpn), cpu, &e) == 0:
        return store_folio(m, e, vpn, order, cpu, may_wait)
    elif order:
        count_split(m, order)
        for i in range(vpn, vpn + (<uint64_t>1 << order)):
            if m.ops.folio_alloc_swap(m.space, i, 0, page_memcg(m, i), cpu, &e):
                raise NoSpace("swap space is exhausted: give the machine more swap")
            store_folio(m, e, i, 0, cpu, False)
    else:
        raise NoSpace("swap space is exhausted: give the machine more swap")
    return False


cdef inline bint drop_clean(mm_t* m, uint64_t vpn, uint8_t s, int cpu) except -1:
    """A read-ahead or written-back folio in the swap cache: free it (its PTE stays a swap PTE)."""
    cdef uint64_t e = m.pte[vpn], q
    cdef int high = (s >> 4) & 1
    cdef bint sh = shared(m, vpn)
    if sh:                                           # try_to_unmap of the members that map it
        q = vpn
        while True:
            if pg_state(m.pstate[q]) == PG_RESIDENT:
                m.ops.swap_duplicate(m.space, e, 1, cpu)
                m.pte[q] = e
            q = ring_next(m, q)
            if q == vpn:
                break
    if s & DIRTY_BIT:                                # zswap dropped its copy at the load
        high = writeout(m, e, vpn, 0, cpu) >> 4
    m.ops.reclaim_folio(m.space, e, 0, m.c.pgsteal, cpu)
    m.pstate[vpn] = pg_make(PG_SWAPPED, pg_content(s), high)
    if sh:
        q = ring_next(m, vpn)
        while q != vpn:
            m.pstate[q] = pg_make(PG_SWAPPED, pg_content(s), high)
            q = ring_next(m, q)
    m.resident -= 1
    m.c.pgsteal += 1
    return True


cdef uint64_t evict_one(mm_t* m, int cpu, uint64_t* scanned) except? 0xFFFFFFFFFFFFFFFF:
    """Reclaim the oldest folio: the pages freed; ``scanned`` += the pages looked at.

    Written-back folios come first (folio_end_writeback rotates them to the
    LRU's tail); 0 freed and 0 scanned when there is nothing left. Machine-wide,
    the LRU is the kernel's inactive anon list, where every folio starts: its
    first scan finds it young from its fault and keeps it (PG_referenced, at the
    list's head), its second frees it, unless the referenced share finds it young
    again (the kernel activates those; the model keeps them on its one list)."""
    cdef uint64_t vpn, nr, e, ent
    cdef uint8_t s
    cdef int order
    while m.clean.len:
        vpn = ring_pop(&m.clean)
        e = ring_pop(&m.clean)
        s = m.pstate[vpn]
        if m.pte[vpn] == e and pg_state(s) == PG_SWAPCACHE and s & WB_BIT:
            scanned[0] += 1
            m.wbfree += 1
            return drop_clean(m, vpn, s, cpu)
    while m.late.len and m.late.a[(m.late.head + 2) & (m.late.cap - 1)] <= m.lru_pops:
        if drop_late(m, cpu):                        # the scans have reached it at last
            scanned[0] += 1
            return 1
    while m.lru.len:
        ent = ring_pop(&m.lru)
        m.lru_pops += 1
        vpn = ent & ~LRU_REFERENCED
        s = m.pstate[vpn]
        if pg_state(s) == PG_SWAPCACHE:              # a read-ahead folio: drop it
            scanned[0] += 1
            return drop_clean(m, vpn, s, cpu)
        if pg_state(s) != PG_RESIDENT:
            continue                                 # left behind by a free
        if shared(m, vpn):                           # its page may be a swap-cache folio
            e = ring_next(m, vpn)
            while e != vpn:
                if pg_state(m.pstate[e]) == PG_SWAPCACHE:
                    scanned[0] += 1
                    return drop_clean(m, e, m.pstate[e], cpu)
                e = ring_next(m, e)
        order = s >> 4
        nr = <uint64_t>1 << order
        if vpn & (nr - 1):
            continue                                 # left behind: the page is now in a large folio
        scanned[0] += nr
        if m.cfg.kswapd:
            if not ent & LRU_REFERENCED:             # young from its fault: kept
                ring_push(&m.lru, vpn | LRU_REFERENCED)
                m.light += nr
                return 0
            if m.cfg.ref_permille:                   # young again: kept
                m.ref_acc += m.cfg.ref_permille
                if m.ref_acc >= 1000:
                    m.ref_acc -= 1000
                    ring_push(&m.lru, ent)
                    m.light += nr
                    return 0
        if swap_out(m, vpn, order, cpu):
            m.pageouts += nr                         # under writeback: scanned, not freed
            return 0
        if pg_content(s) != C_DATA:
            m.same += nr                             # no compression: priced apart
        m.resident -= nr
        m.c.pgsteal += nr
        return nr
    while m.late.len:                                # nothing else left: the LRU's head
        if drop_late(m, cpu):
            scanned[0] += 1
            return 1
    return 0


cdef bint drop_late(mm_t* m, int cpu) except -1:
    """Free the late ring's first folio, when it is still the written-back swap-cache folio."""
    cdef uint64_t vpn = ring_pop(&m.late), e = ring_pop(&m.late)
    cdef uint8_t s = m.pstate[vpn]
    ring_pop(&m.late)
    if m.pte[vpn] == e and pg_state(s) == PG_SWAPCACHE and s & WB_BIT:
        m.wbfree += 1
        return drop_clean(m, vpn, s, cpu)
    return False


cdef inline int make_room(mm_t* m, uint64_t need, int cpu) except -1:
    """Direct reclaim before a fault that needs ``need`` pages (inline: the common case is none)."""
    if m.cfg.kswapd:
        return global_alloc(m, need, cpu)
    if used(m) + need <= m.cfg.ram:
        return 0
    return reclaim(m, need, cpu)


cdef int reclaim(mm_t* m, uint64_t need, int cpu) except -1:
    if need + m.cfg.watermark > m.cfg.ram:
        raise ValueError(f"a {need}-page folio does not fit in {m.cfg.ram} pages of RAM "
                         f"(watermark {m.cfg.watermark})")
    if not try_reclaim(m, need, cpu):
        raise ValueError("reclaim found nothing to evict: RAM is too small for this trace")
    return 0


cdef bint try_reclaim(mm_t* m, uint64_t need, int cpu) except -1:
    """try_charge's reclaim for ``need`` pages (at most ``ram - watermark``): whether they fit now.

    What reclaim freed stays freed when they do not (a large folio's charge
    then falls back to a smaller order; an order-0 one is an OOM)."""
    cdef uint64_t target, got = 0, n, scanned = 0
    target = m.cfg.ram - m.cfg.watermark - need
    m.c.reclaim_calls += 1
    while used(m) > target or got < m.cfg.batch:
        n = evict_one(m, cpu, &scanned)
        if n == 0:
            break
        got += n
    if m.cfg.accounting == AC_NONE:                  # a cgroup's own reclaim is no allocstall
        m.c.allocstall += 1
        m.c.pgscan_direct += scanned
        m.c.pgsteal_direct += got
    return used(m) <= target


# --- machine-wide reclaim: watermarks, kswapd and direct reclaim, in time order ------------------
#
# Two actors on their own CPUs and clocks (ns): the task, whose every page
# allocation costs ``alloc_ns``, and kswapd. Before each allocation kswapd's
# chunks up to the task's time run (and the swapfile writes completed by
# then), so a slower reclaim shows as kswapd falling behind and the task
# reclaiming directly below the min watermark.

cdef inline uint64_t free_pages(mm_t* m) noexcept:
    """NR_FREE_PAGES: RAM less the anonymous pages (and compressed ones) and the page cache."""
    cdef uint64_t u = used(m) + m.file
    return m.cfg.ram - u if u < m.cfg.ram else 0


cdef inline void design_snap(mm_t* m) noexcept:
    cdef uint64_t i
    for i in range(m.dstat_n):
        m.dprev[i] = m.dstat[i]


cdef inline uint64_t design_ns(mm_t* m) noexcept:
    """The design's work since design_snap, priced per counter (in ps; rounded to ns)."""
    cdef uint64_t i, ps = 0
    for i in range(m.dstat_n):
        ps += m.dweight[i] * (m.dstat[i] - m.dprev[i])
    return (ps + 500) // 1000


cdef extern from *:
    """
    /* vswap.contention.chunk_wait: the same integers, the same floor divisions; the
       products in 128 bits, as Python's ints never overflow. */
    static uint64_t vswap_contention_wait(uint64_t acq, uint64_t walks, uint64_t span,
                                          uint64_t ov, uint64_t oacq, uint64_t ohold,
                                          uint64_t oglob, uint64_t odur, uint64_t x)
    {
        unsigned __int128 wait = 0, g;
        if (ov == 0 || span == 0 || odur == 0 || x == 0)
            return 0;
        if (ov > span)
            ov = span;
        if (acq && oacq) {
            wait += (unsigned __int128)acq * oacq * span * x
                    / ((unsigned __int128)oacq * span + (unsigned __int128)acq * odur);
            wait += (unsigned __int128)acq * ohold * ohold
                    / ((unsigned __int128)2 * odur * oacq);
        }
        if (walks && oglob) {
            g = (unsigned __int128)oglob * span / odur;
            wait += (walks < g ? (unsigned __int128)walks : g) * x;
        }
        return (uint64_t)(wait * ov / span);
    }
    """
    uint64_t contention_wait "vswap_contention_wait" (
        uint64_t acq, uint64_t walks, uint64_t span, uint64_t ov, uint64_t oacq,
        uint64_t ohold, uint64_t oglob, uint64_t odur, uint64_t x) noexcept nogil


cdef uint64_t contention_ns(mm_t* m, uint64_t span) noexcept:
    """The chunk's wait on the other reclaimer, from the design's shared acquisitions since
    design_snap; records the chunk in its actor's window. kswapd's chunk (on its clock from
    t_kswapd) overlaps the task's last direct-reclaim call by the time they share; the task's
    direct reclaim overlaps kswapd while kswapd is awake and reclaiming."""
    cdef uint64_t i, d, acq = 0, hold = 0, glob = 0, walks = 0, ov = 0, lo, hi
    if not m.contended:
        return 0
    for i in range(m.dstat_n):
        d = m.dstat[i] - m.dprev[i]
        acq += m.cacq[i] * d
        hold += m.chold[i] * d
        glob += m.cglob[i] * d
        walks += m.cwalk[i] * d
    if m.reclaimer:
        lo = m.t_kswapd if m.t_kswapd > m.d0 else m.d0
        hi = m.t_kswapd + span if m.t_kswapd + span < m.d1 else m.d1
        if hi > lo:
            ov = hi - lo
        m.k_acq = acq
        m.k_hold = hold
        m.k_glob = glob
        m.k_dur = span
        return contention_wait(acq, walks, span, ov, m.w_acq, m.w_hold, m.w_glob, m.w_dur,
                               m.cfg.transfer_ns)
    m.w_acq += acq
    m.w_hold += hold
    m.w_glob += glob
    m.w_dur += span
    if m.kstate == KS_RUN:
        ov = span
    return contention_wait(acq, walks, span, ov, m.k_acq, m.k_hold, m.k_glob, m.k_dur,
                           m.cfg.transfer_ns)


cdef inline uint64_t wb_head_time(mm_t* m) noexcept:
    return m.wb.a[(m.wb.head + 2) & (m.wb.cap - 1)]


cdef inline int writeback_done(mm_t* m, uint64_t t) except -1:
    """folio_end_writeback for the writes completed by ``t``: their folios become reclaimable."""
    if m.wb.len and wb_head_time(m) <= t:            # inline: mostly none (always on zram)
        end_writeback(m, t)
    return 0


cdef int end_writeback(mm_t* m, uint64_t t) except -1:
    """folio_rotate_reclaimable: a written-back folio goes to the LRU's tail, where the next scan
    frees it; one whose write completed while its batch was still isolated missed the rotation:
    put back at the head as its write started, it waits until the scans have taken what was
    ahead of it then."""
    cdef uint64_t vpn, e
    while m.wb.len and wb_head_time(m) <= t:
        vpn = ring_pop(&m.wb)
        e = ring_pop(&m.wb)
        ring_pop(&m.wb)
        if vpn & WB_MISSED:
            ring_push(&m.late, vpn & ~WB_MISSED)
            ring_push(&m.late, e)
            ring_push(&m.late, ring_pop(&m.missdue))
        else:
            ring_push(&m.clean, vpn)
            ring_push(&m.clean, e)
    return 0


cdef inline void scan_fractions(mm_t* m, int prio, uint64_t* ap, uint64_t* fp) noexcept nogil:
    """get_scan_count's pressure on the anon and file LRUs at ``prio``, per page of each.

    At priority 0 both alike (SCAN_EQUAL). Else SCAN_FRACT by the lists' costs
    (lru_note_cost: rotations, and 32 per page written): the model's page cache
    is dropped clean, never rotated nor refaulted, so its cost stays 0 while
    anon's is positive, and get_scan_count's smoothing (each cost plus their
    sum) gives anon ``swappiness x 3/2`` to file's ``(200 - swappiness) x 3``.
    Not modelled: SCAN_ANON when the page cache and free pages are below the
    high watermarks (file_is_tiny; the free pages lowmem_reserve holds in the
    lower zones nearly fill them on this machine) and cache_trim_mode."""
    if prio == 0:
        ap[0] = 1
        fp[0] = 1
    else:
        ap[0] = m.cfg.swappiness
        fp[0] = 2 * (200 - m.cfg.swappiness)


cdef uint64_t reclaim_chunk(mm_t* m, uint64_t nr, int cpu, uint64_t* scanned,
                            uint64_t* cost, uint64_t anon_ns, uint64_t same_ns,
                            uint64_t pageout_ns, uint64_t wb_free_ns,
                            int prio) except? 0xFFFFFFFFFFFFFFFF:
    """One SWAP_CLUSTER_MAX chunk of shrink_lruvec at ``prio``: ``nr`` pages to scan, split
    between the file and anon LRUs by scan_fractions, in proportion to the pages each would
    scan; the pages freed. ``cost`` += its time: per page scanned (a DATA page freed at
    ``anon_ns``, a same-filled or zero one at ``same_ns``, one kept at ``scan_ns``, one
    whose swapfile write it started at ``pageout_ns``, a written-back one freed at
    ``wb_free_ns``), and the design's work priced."""
    cdef uint64_t ap, fp, aw, fw
    scan_fractions(m, prio, &ap, &fp)
    aw = ap * m.resident
    fw = fp * m.file
    cdef uint64_t nf = 0, sc = 0, before, got = 0, light = m.light, same = m.same, work, wait
    cdef uint64_t po = m.pageouts, wf = m.wbfree
    if m.file and aw + fw:
        m.file_acc += nr * fw
        nf = m.file_acc // (aw + fw)
        m.file_acc -= nf * (aw + fw)
        if nf > m.file:
            nf = m.file
    m.file -= nf
    design_snap(m)
    while sc < nr - nf:
        before = sc
        got += evict_one(m, cpu, &sc)
        if sc == before:
            break
    if sc == 0 and nf < nr and m.file:               # no anonymous pages left: file only
        before = nr - nf if nr - nf < m.file else m.file
        m.file -= before
        nf += before
    m.c.pgsteal += nf
    scanned[0] += sc + nf
    light = m.light - light
    same = m.same - same
    po = m.pageouts - po
    wf = m.wbfree - wf
    work = ((sc - light - same - po - wf) * anon_ns + same * same_ns + light * m.cfg.scan_ns
            + po * pageout_ns + wf * wb_free_ns + nf * m.cfg.file_ns
            + design_ns(m))
    wait = contention_ns(m, work)
    m.c.lock_wait_ns += wait
    cost[0] += work + wait
    return got + nf


cdef inline int kswapd_catch_up(mm_t* m, uint64_t until) except -1:
    """kswapd_advance, inline for the common case of an allocation before kswapd's next step."""
    if (m.kstate == KS_SLEEP or (m.kstate == KS_RUN and m.t_kswapd > until)
            or (m.kstate == KS_NAP and m.nap_end > until)):
        return writeback_done(m, until)
    return kswapd_advance(m, until)


cdef int kswapd_advance(mm_t* m, uint64_t until) except -1:
    """kswapd's chunks up to the task's time ``until``: balance_pgdat to the high watermark,
    then kswapd_try_to_sleep (a short sleep first: kswapd_*_wmark_hit_quickly)."""
    cdef uint64_t got, sc, cost
    while m.kstate != KS_SLEEP:
        if m.kstate == KS_NAP:
            if m.nap_end > until:
                break
            m.t_kswapd = m.nap_end
            writeback_done(m, m.t_kswapd)
            if free_pages(m) >= m.cfg.wmark_high:
                m.kstate = KS_SLEEP
                break
            m.c.kswapd_high_wmark_hit_quickly += 1
            m.kstate = KS_RUN
        if m.t_kswapd > until:
            break
        writeback_done(m, m.t_kswapd)
        if free_pages(m) >= m.cfg.wmark_high:        # balanced
            m.kstate = KS_NAP
            m.nap_end = m.t_kswapd + m.cfg.nap_ns
            continue
        sc = 0
        cost = 0
        m.reclaimer = 1
        got = reclaim_chunk(m, m.cfg.batch, KSWAPD_CPU, &sc, &cost, m.cfg.kswapd_anon_ns,
                            m.cfg.kswapd_same_ns, m.cfg.kswapd_pageout_ns,
                            m.cfg.kswapd_wb_free_ns, DEF_PRIORITY)
        m.reclaimer = 0
        m.c.pgscan_kswapd += sc
        m.c.pgsteal_kswapd += got
        m.t_kswapd += cost + got * m.cfg.kswapd_io_wait_ns
        m.c.kswapd_ns += cost
        m.c.kswapd_io_wait_ns += got * m.cfg.kswapd_io_wait_ns
        if m.cfg.unmap_ns:                           # the task pays for the pages taken from it
            m.t_task += got * m.cfg.unmap_ns
            m.c.interference_ns += got * m.cfg.unmap_ns
        if got == 0:
            if m.wb.len:                             # all under writeback: wait for a write
                if wb_head_time(m) > m.t_kswapd:
                    m.t_kswapd = wb_head_time(m)
            elif sc == 0:
                m.kstate = KS_SLEEP                  # nothing left to reclaim
    writeback_done(m, until)
    return 0


cdef inline void wake_kswapd(mm_t* m) noexcept:
    if m.kstate == KS_RUN:
        return
    if m.kstate == KS_NAP:                           # woken during the short sleep
        m.c.kswapd_low_wmark_hit_quickly += 1
    m.kstate = KS_RUN
    if m.t_kswapd < m.t_task:
        m.t_kswapd = m.t_task


cdef inline uint64_t inactive_share(uint64_t pages) noexcept nogil:
    """The inactive part of an LRU of ``pages``: inactive_is_low keeps inactive x ratio >=
    active, ratio int_sqrt(10 x GiB) (1 below a GiB)."""
    cdef uint64_t gb = pages >> (30 - 12), ratio = 1, r
    if gb:
        r = 10 * gb
        ratio = <uint64_t>sqrt(<double>r)
        while ratio * ratio > r:            # the double's root rounded up: int_sqrt floors
            ratio -= 1
        while (ratio + 1) * (ratio + 1) <= r:
            ratio += 1
    return pages // (1 + ratio)


cdef int direct_reclaim(mm_t* m, int cpu) except -1:
    """__alloc_pages_direct_reclaim: one allocstall; do_try_to_free_pages' priority loop. At
    DEF_PRIORITY the whole first share of the inactive LRUs (``inactive >> 12`` of each, at
    scan_fractions' pressure: global direct reclaim scans it all), then each lower priority
    scans twice as deep until that pass frees SWAP_CLUSTER_MAX pages (a priority whose share
    rounds to nothing scans nothing), until the stall has freed SWAP_CLUSTER_MAX (MGLRU:
    chunk by chunk until then), at most the LRUs once over. The inactive anon list is the
    whole anon LRU: every folio starts there and the model activates none (evict_one). The
    task stalls meanwhile; kswapd goes on beside it (its chunks up to the stall's time run
    before each of the stall's), and the swapfile writes that complete during the stall are
    freed by the next scan of either (folio_end_writeback rotates them to the tail)."""
    cdef uint64_t got = 0, sc = 0, cost = 0, before, want, done, local, nr, n, ap, fp
    cdef uint64_t budget = m.resident + m.file
    cdef int prio = DEF_PRIORITY
    if budget < m.cfg.batch:
        budget = m.cfg.batch
    m.w_acq = m.w_hold = m.w_glob = m.w_dur = 0
    m.d0 = m.t_task
    m.d1 = STALL_OPEN                               # kswapd's chunks meanwhile overlap it
    m.c.allocstall += 1
    m.c.reclaim_calls += 1
    while got < m.cfg.batch and sc < budget:
        if m.cfg.lru_gen:
            want = budget
        else:
            scan_fractions(m, prio, &ap, &fp)
            want = ((m.resident >> prio) * ap + (inactive_share(m.file) >> prio) * fp) // (ap + fp)
            if want == 0 and prio == 0:
                want = 1                            # the last look: what is left, if anything
        done = local = 0
        while done < want and sc < budget:
            before = sc
            # kswapd reclaims beside the stall, on its own CPU: its chunks up to the stall's
            # time go first (the writes completed meanwhile become reclaimable too)
            kswapd_catch_up(m, m.t_task + cost)
            nr = want - done
            if nr > m.cfg.batch:
                nr = m.cfg.batch
            n = reclaim_chunk(m, nr, cpu, &sc, &cost, m.cfg.anon_ns, m.cfg.anon_same_ns,
                              m.cfg.direct_pageout_ns, m.cfg.direct_wb_free_ns, prio)
            got += n
            local += n
            done += sc - before
            if sc == before:
                budget = 0
            elif local >= m.cfg.batch and (prio < DEF_PRIORITY or m.cfg.lru_gen):
                break
        if prio:
            prio -= 1
    m.c.pgscan_direct += sc
    m.c.pgsteal_direct += got
    m.t_task += cost
    m.d1 = m.t_task
    m.c.stall_ns += cost + got * m.cfg.direct_io_wait_ns
    m.c.stall_io_wait_ns += got * m.cfg.direct_io_wait_ns
    m.t_task += got * m.cfg.direct_io_wait_ns        # asleep, not reclaiming: after the window
    if got == 0:
        if not m.wb.len:
            raise ValueError("reclaim found nothing to evict: RAM is too small for this trace")
        if wb_head_time(m) > m.t_task:              # reclaim_throttle: wait for a write
            m.c.stall_ns += wb_head_time(m) - m.t_task
            m.t_task = wb_head_time(m)
    kswapd_catch_up(m, m.t_task)
    return 0


cdef inline int global_alloc(mm_t* m, uint64_t need, int cpu) except -1:
    """The page allocator for ``need`` pages: below low wake kswapd, below min reclaim directly.

    Inline, once per page a fault allocates: the slow paths are calls."""
    cdef uint64_t f
    if need + m.cfg.wmark_min > m.cfg.ram:
        return folio_too_big(m, need)
    m.t_task += need * m.cfg.alloc_ns
    kswapd_catch_up(m, m.t_task)
    f = free_pages(m)                                # waking kswapd frees nothing
    if f < m.cfg.wmark_low + need:
        wake_kswapd(m)
    if f < m.cfg.wmark_min + need:
        return direct_until(m, need, cpu)
    return 0


cdef uint64_t quiet_allocs(mm_t* m, uint64_t limit) noexcept:
    """How many of the next ``limit`` single-page allocations global_alloc would make with
    nothing else happening: no direct reclaim (free pages stay above min), no wake-up of
    kswapd (above low, or kswapd running), no step of kswapd's before the task's clock
    passes (its next chunk, or the end of its short sleep). Writes completed meanwhile only
    join the clean list, in order, which the caller's one writeback_done at the end does
    the same. Allocation ``j`` (from 1) sees ``free - (j - 1)`` free pages at
    ``t_task + j * alloc_ns``."""
    cdef uint64_t f = free_pages(m), k = limit, t, a = m.cfg.alloc_ns
    if 1 + m.cfg.wmark_min > m.cfg.ram or f <= m.cfg.wmark_min:
        return 0
    if k > f - m.cfg.wmark_min:
        k = f - m.cfg.wmark_min
    if m.kstate != KS_RUN:
        if f <= m.cfg.wmark_low:
            return 0
        if k > f - m.cfg.wmark_low:
            k = f - m.cfg.wmark_low
    if m.kstate != KS_SLEEP:
        t = m.t_kswapd if m.kstate == KS_RUN else m.nap_end
        if t <= m.t_task + a:                        # the first allocation reaches it
            return 0
        if a and k > (t - m.t_task - 1) // a:        # t_task + j * a < t
            k = (t - m.t_task - 1) // a
    return k


cdef int direct_until(mm_t* m, uint64_t need, int cpu) except -1:
    while free_pages(m) < m.cfg.wmark_min + need:
        direct_reclaim(m, cpu)
    return 0


cdef int folio_too_big(mm_t* m, uint64_t need) except -1:
    raise ValueError(f"a {need}-page folio does not fit in {m.cfg.ram} pages of RAM "
                     f"(min watermark {m.cfg.wmark_min})")


cdef bint charge_large(mm_t* m, int order, int cpu, int alloc, int fallback,
                       int charge) except -1:
    """Allocate and charge a folio of ``order`` (> 0) for a fault or a swap-in; or count why not."""
    cdef uint64_t nr = <uint64_t>1 << order
    cdef bint ok
    if nr + m.cfg.watermark <= m.cfg.ram:
        if (m.cfg.reclaim_mask >> order) & 1:
            if m.cfg.kswapd:
                make_room(m, nr, cpu)
                ok = True
            else:
                # mem_cgroup_charge reclaims; when what reclaim cannot free (zswap's pool,
                # page tables) leaves no room, the fault tries the next order instead
                # (alloc_anon_folio, alloc_swap_folio): *_fallback_charge
                ok = used(m) + nr <= m.cfg.ram or try_reclaim(m, nr, cpu)
            if ok:
                if alloc >= 0:
                    m.mthp[order][alloc] += 1
                return True
        elif m.cfg.kswapd:                           # no reclaim: a free block above low, or none
            if free_pages(m) >= m.cfg.wmark_low + nr:
                global_alloc(m, nr, cpu)
                if alloc >= 0:
                    m.mthp[order][alloc] += 1
                return True
        elif used(m) + nr <= m.cfg.ram:
            if alloc >= 0:
                m.mthp[order][alloc] += 1
            return True
    if m.cfg.accounting != AC_NONE:
        m.mthp[order][charge] += 1
    m.mthp[order][fallback] += 1
    return False


# --- faults ------------------------------------------------------------------------------------

cdef int pte_alloc(mm_t* m, uint64_t p, int cpu) except -1:
    """__pte_alloc for page ``p``'s 2 MiB region (and __pmd_alloc for a new 1 GiB one).

    A user page-table page is charged to the memcg (GFP_PGTABLE_USER has
    __GFP_ACCOUNT), so it may reclaim like any charge; a PMD-size THP
    deposits one too. Never freed here: MADV_DONTNEED keeps page tables.
    """
    cdef uint64_t r = p >> PMD_ORDER, top = (r >> PMD_ORDER) << PMD_ORDER, need
    if m.pgtab[r] & 1:
        return 0
    need = 1 + ((m.pgtab[top] & 2) == 0)
    make_room(m, need, cpu)
    m.pgtab[top] |= 2
    m.pgtab[r] |= 1
    m.pgtables += need
    return 0


cdef uint64_t ra_window(mm_t* m, uint64_t p, int cpu) noexcept:
    """The VMA read-ahead window for a fault at ``p`` (swap_vma_ra_win); resets the hits."""
    cdef uint64_t pfn = m.ra_pfn[cpu], hits = m.ra_hits[cpu], win = hits + 2, r
    if hits == 0:
        if p != pfn + 1 and p + 1 != pfn:            # no hits and not adjacent: no read-ahead
            win = 1
    else:
        r = 4
        while r < win:
            r <<= 1
        win = r
    if win > m.cfg.ra_max:
        win = m.cfg.ra_max
    if win < m.ra_win[cpu] // 2:                     # shrink at most by half per fault
        win = m.ra_win[cpu] // 2
    m.ra_pfn[cpu] = p
    m.ra_win[cpu] = win
    m.ra_hits[cpu] = 0
    return win


cdef int swapin_lookup(mm_t* m, uint64_t p, uint64_t e, int cpu, uint64_t* h) except -1:
    """The backing of swapped page ``p``'s entry ``e``, counted as the swap-in's kind."""
    cdef int kind = m.ops.lookup(m.space, e, cpu, h)
    if kind == OPS_ZERO:
        m.c.swapin_zero += 1
    elif kind == OPS_ZSWAP:
        m.c.swapin_zswap += 1
    elif kind == OPS_SWAPFILE:
        m.c.swapin_swapfile += 1
    else:
        raise AssertionError(f"swapped page {p:#x}: entry {e:#x} looks up as kind {kind}")
    return kind


cdef int read_page(mm_t* m, uint64_t q, int kind, bint ahead, int cpu) except -1:
    """Read page ``q``'s entry into a folio (swap_read_folio); ``ahead`` for read-ahead."""
    cdef uint8_t s = m.pstate[q]
    m.ops.swapin_folio(m.space, m.pte[q], 0, q, cpu)
    if kind == OPS_SWAPFILE:
        m.c.pswpin += 1
    elif kind == OPS_ZSWAP:
        m.c.zswpin += 1
        if s & ZSWAP_BIT:                            # loaded into the swap cache: zswap drops it
            m.pool -= 1
            m.zswap_bytes -= m.cfg.csize[pg_content(s)]
            s = (s & ~ZSWAP_BIT) | DIRTY_BIT
    m.resident += 1
    ring_push(&m.lru, q)
    if ahead:
        m.pstate[q] = (s & ~3) | PG_SWAPCACHE | RA_BIT
        m.c.swap_ra += 1
    else:
        m.pstate[q] = s
    set_swap_bits(m, q, (s & ~3) | PG_SWAPCACHE | (RA_BIT if ahead else 0))
    return 0


cdef int swapin_order(mm_t* m, uint64_t p, int kind, uint64_t handle, int cpu) except -1:
    """alloc_swap_folio: the largest enabled order whose aligned PTEs can come in whole."""
    cdef int order = PMD_ORDER - 1, k
    cdef uint64_t nr, a, e0, i, h0, h
    cdef bint ok
    while order > 0:
        if (m.cfg.swapin_mask >> order) & 1:
            nr = <uint64_t>1 << order
            a = p & ~(nr - 1)
            e0 = m.pte[a]
            ok = a + nr <= m.span and (e0 & (nr - 1)) == 0
            i = 0
            while ok and i < nr:
                ok = (pg_state(m.pstate[a + i]) == PG_SWAPPED and m.pte[a + i] == e0 + i
                      and not shared(m, a + i))
                i += 1
            if ok:                                   # one backing, and contiguous slots
                h0 = handle - (p - a)
                for i in range(nr):
                    k = m.ops.lookup(m.space, e0 + i, cpu, &h)
                    if k != kind or (kind == OPS_SWAPFILE and h != h0 + i):
                        ok = False
                        break
            if ok:
                break
        order -= 1
    while order > 0:
        if (m.cfg.swapin_mask >> order) & 1:
            if charge_large(m, order, cpu, -1, ST_SWPIN_FALLBACK, ST_SWPIN_FALLBACK_CHARGE):
                return order
        order -= 1
    return 0


cdef int read_ahead(mm_t* m, uint64_t p, uint64_t lo, uint64_t hi, int cpu) except -1:
    """Read the swapped pages of [lo, hi) but ``p`` into the swap cache."""
    cdef uint64_t q, h = 0
    cdef int k
    for q in range(lo, hi):
        if q == p or pg_state(m.pstate[q]) != PG_SWAPPED:
            continue
        make_room(m, 1, cpu)
        if pg_state(m.pstate[q]) != PG_SWAPPED:
            continue
        k = m.ops.lookup(m.space, m.pte[q], cpu, &h)
        read_page(m, q, k, True, cpu)
    return 0


cdef bint ra_range(mm_t* m, uint64_t p, int cpu, uint64_t* lo_, uint64_t* hi_) noexcept:
    """swap_vma_readahead's window around a fault at ``p``: [lo, hi); False for none."""
    cdef uint64_t prev, win, left, pmd, lo, hi
    if m.cfg.ra_max <= 1:
        return False
    prev = m.ra_pfn[cpu]
    win = ra_window(m, p, cpu)
    if win <= 1:
        return False
    if p == prev + 1:
        lo = p
        hi = p + win
    elif p + 1 == prev:
        lo = p + 1 - win if p + 1 >= win else 0
        hi = p + 1
    else:
        left = (win - 1) // 2
        lo = p - left if p >= left else 0
        hi = p + win - left
    pmd = p & ~(PMD_PAGES - 1)
    if lo < pmd:
        lo = pmd
    if hi > pmd + PMD_PAGES:
        hi = pmd + PMD_PAGES
    if hi > m.span:
        hi = m.span
    lo_[0] = lo
    hi_[0] = hi
    return True


cdef int shared_fault(mm_t* m, uint64_t p, int content, bint write, int cpu) except -1:
    """A fault on a page FORK shared: a swap-in maps the swap-cache folio; a write copies (COW).

    The swap count is above one, so a swap-in takes the swap cache and
    read-ahead (do_swap_page); the first member reads (pgmajfault), the
    others find the folio (a minor fault). A WRITE then copies the page
    (wp_page_copy) within the same fault; a write to a mapped shared page is
    a fault of its own. The last swap PTE's fault frees the entry."""
    cdef uint8_t s
    cdef int st, kind
    cdef uint64_t e, h = 0, q, need, lo = p, hi = p + 1
    cdef bint ahead = False, swp
    while True:                                      # room first: the read and the copy
        s = m.pstate[p]
        st = pg_state(s)
        need = (st == PG_SWAPPED) + write
        if st == PG_RESIDENT and not write:
            return 0                                 # mapped already: no fault
        make_room(m, need, cpu)
        if m.pstate[p] == s:
            break
    if st != PG_RESIDENT:
        m.c.pgfault += 1
        e = m.pte[p]
        if st == PG_SWAPPED:
            m.c.pgmajfault += 1
            kind = swapin_lookup(m, p, e, cpu, &h)
            ahead = ra_range(m, p, cpu, &lo, &hi)
            read_page(m, p, kind, False, cpu)
        elif s & RA_BIT:                             # the first hit of a read-ahead folio
            m.c.swap_ra_hit += 1
            m.ra_pfn[cpu] = p
            if m.ra_hits[cpu] < RA_HITS_MAX:
                m.ra_hits[cpu] += 1
            set_swap_bits(m, p, s & ~RA_BIT)
        s = m.pstate[p]
        m.ops.swap_free_nr(m.space, e, 1, cpu)
        m.pte[p] = 0
        m.pstate[p] = pg_make(PG_RESIDENT, pg_content(s), 0)
        if not any_swap_pte(m, p):
            drop_backing(m, s)                       # the last swap PTE: folio_free_swap
            m.ops.reclaim_folio(m.space, e, 0, OPS_NO_SHADOW, cpu)
    if write:
        if st == PG_RESIDENT:
            m.c.pgfault += 1
        m.c.cow_faults += 1
        q = ring_del(m, p, &swp)
        ring_push(&m.lru, q)
        m.pstate[p] = pg_make(PG_RESIDENT, content, 0)
        m.resident += 1
        ring_push(&m.lru, p)
    if ahead:
        read_ahead(m, p, lo, hi, cpu)
    return 0


cdef int fork_range(mm_t* m, uint64_t i, uint64_t dst, uint64_t src, uint64_t nr,
                    int cpu) except -1:
    """copy_page_range: ``dst`` maps what ``src`` maps; resident pages shared, entries duplicated."""
    cdef uint64_t k, p, d
    cdef uint8_t s
    if src < dst + nr and dst < src + nr:
        raise TraceError(f"event {i}: FORK of [{src:#x}, +{nr}) onto itself")
    for k in range(nr):
        p = src + k
        d = dst + k
        if m.pstate[d]:
            raise TraceError(f"event {i}: FORK onto page {d:#x}, which was touched before")
        if pg_state(m.pstate[p]) == PG_NONE:
            continue
        if m.pgtab != NULL:
            pte_alloc(m, d, cpu)
        s = m.pstate[p]
        if pg_state(s) == PG_RESIDENT and s >> 4:
            raise TraceError(f"event {i}: FORK of page {p:#x} of a large folio (the model "
                             f"shares base pages only)")
        if pg_state(s) != PG_RESIDENT:
            m.ops.swap_duplicate(m.space, m.pte[p], 1, cpu)
            m.pte[d] = m.pte[p]
        m.pstate[d] = s
        ring_add(m, p, d)
        m.c.fork_pages += 1
    return 0


cdef int pageout(mm_t* m, uint64_t vpn, uint64_t nr, int cpu) except -1:
    """MADV_PAGEOUT: reclaim the range's exclusive resident folios now; a partial one is split."""
    cdef uint64_t p = vpn, end = vpn + nr, fnr, head, q
    cdef uint8_t s
    cdef int order
    while p < end:
        s = m.pstate[p]
        if pg_state(s) != PG_RESIDENT or shared(m, p):
            p += 1
            continue
        order = s >> 4
        fnr = <uint64_t>1 << order
        head = p & ~(fnr - 1)
        if head < vpn or head + fnr > end:           # split_folio: the pages become base folios
            for q in range(head, head + fnr):
                m.pstate[q] = m.pstate[q] & 0x0F
                if q != head:
                    ring_push(&m.lru, q)
            order = 0
            fnr = 1
            head = p
        swap_out(m, head, order, cpu, False)
        m.resident -= fnr
        p = head + fnr
    return 0


cdef int swap_in(mm_t* m, uint64_t p, int content, int cpu) except -1:
    """A write fault on a swap PTE: swap the page (or its folio) in, map it, free the entries."""
    cdef uint64_t e = m.pte[p], h = 0, nr, a, ea, q
    cdef uint64_t lo = p, hi = p + 1
    cdef uint8_t s = m.pstate[p]
    cdef int kind, order = 0
    cdef bint ahead = False
    if shared(m, p):
        return shared_fault(m, p, content, True, cpu)
    m.c.pgfault += 1
    if pg_state(s) == PG_SWAPCACHE:
        kind = m.ops.lookup(m.space, e, cpu, &h)
        if kind != OPS_FOLIO:
            raise AssertionError(f"read-ahead page {p:#x}: entry {e:#x} has no folio (kind {kind})")
        if s & WB_BIT:                               # reclaim's folio, still in the swap cache
            ring_push(&m.lru, p)
        elif s & RA_BIT:                             # not another sharer's read: a read-ahead
            m.c.swap_ra_hit += 1
            m.ra_pfn[cpu] = p
            if m.ra_hits[cpu] < RA_HITS_MAX:
                m.ra_hits[cpu] += 1
    else:
        m.c.pgmajfault += 1
        make_room(m, 1, cpu)                         # before the lookup: reclaim may write zswap back
        kind = swapin_lookup(m, p, e, cpu, &h)
        if m.cfg.backend == BK_ZRAM and (kind == OPS_SWAPFILE
                                         or (m.cfg.direct and kind == OPS_ZERO)):
            m.c.swapin_sync += 1                     # SWP_SYNCHRONOUS_IO: no read-ahead
            if m.cfg.bypass:
                m.c.swapin_bypass += 1               # 6.19, count 1: nor the swap cache
            if m.cfg.swapin_mask:
                order = swapin_order(m, p, kind, h, cpu)
            if order == 0:
                read_page(m, p, kind, False, cpu)
            else:
                nr = <uint64_t>1 << order
                a = p & ~(nr - 1)
                m.ops.swapin_folio(m.space, m.pte[a], order, a, cpu)
                if kind == OPS_SWAPFILE:
                    m.c.pswpin += nr
                m.mthp[order][ST_SWPIN] += 1
                m.resident += nr
                ring_push(&m.lru, a)
        else:
            ahead = ra_range(m, p, cpu, &lo, &hi)
            read_page(m, p, kind, False, cpu)
    nr = <uint64_t>1 << order
    a = p & ~(nr - 1)
    ea = m.pte[a]
    for q in range(a, a + nr):
        drop_backing(m, m.pstate[q])
    m.ops.swap_free_nr(m.space, ea, nr, cpu)         # the PTEs' counts
    m.ops.reclaim_folio(m.space, ea, order, OPS_NO_SHADOW, cpu)   # folio_free_swap: exclusive, dirty
    for q in range(a, a + nr):
        m.pte[q] = 0
        m.pstate[q] = pg_make(PG_RESIDENT, content if q == p else pg_content(m.pstate[q]), order)
    if ahead:
        read_ahead(m, p, lo, hi, cpu)
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


cdef inline void zap_prefetch(mm_t* m, uint64_t p) noexcept:
    """The design's prefetch for page ``p``'s entry, if it is out of order: reclaim's LRU
    rotation scatters the entries, and a zap of scattered ones misses on each (consecutive
    entries the hardware prefetcher streams)."""
    cdef uint64_t e = m.pte[p]
    cdef int st = pg_state(m.pstate[p])
    if (st == PG_SWAPPED or st == PG_SWAPCACHE) and e != m.pte[p - 1] + 1:
        m.prefetch(m.space, e)


cdef int free_range(mm_t* m, uint64_t i, uint64_t vpn, uint64_t nr, int cpu,
                    int op=EV_FREE) except -1:
    """munmap / exit: zap every PTE; swap PTEs in runs of consecutive entries within a PMD.

    FREE zaps every page (all mapped), EXIT the mapped ones, DONTNEED those
    too, leaving them to be faulted anew."""
    cdef uint64_t p, run_e = 0, run_n = 0, run_pmd = 0, e, q
    cdef uint16_t run_mg = 0
    cdef uint8_t s
    cdef uint8_t after = 0 if op == EV_DONTNEED else pg_make(PG_NONE, PG_FREED, 0)
    cdef bint keep, swp
    for p in range(vpn, vpn + nr):
        if m.prefetch != NULL and p + ZAP_AHEAD < vpn + nr:
            zap_prefetch(m, p + ZAP_AHEAD)
        s = m.pstate[p]
        if pg_state(s) == PG_NONE:
            if op == EV_FREE:
                raise TraceError(f"event {i}: FREE of page {p:#x}, which is not mapped")
            continue
        keep = False                                 # the page stays with the other members
        swp = False
        if shared(m, p):
            q = ring_del(m, p, &swp)
            keep = True
            if pg_state(s) != PG_SWAPPED:            # the page in RAM stays reachable by reclaim
                ring_push(&m.lru, q)
        if pg_state(s) == PG_RESIDENT:
            if not keep:
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
            if pg_state(s) == PG_SWAPCACHE and not keep:
                m.resident -= 1                      # the zap reclaims the read-ahead folio
            if not swp:                              # the entry's last count
                drop_backing(m, s)
            m.pte[p] = 0
        m.pstate[p] = after
    flush_zap(m, run_e, run_n, cpu)
    return 0


cdef int touch(mm_t* m, uint64_t i, uint64_t vpn, uint64_t nr, int order, int content,
               int cpu) except -1:
    """First-touch faults: alloc_anon_folio from ``order`` down the enabled orders to 0."""
    cdef uint64_t f, p, q, n, fnr = <uint64_t>1 << order
    cdef int k
    cdef uint8_t s
    for p in range(vpn, vpn + nr):
        if m.pstate[p] != 0:
            if m.nxt == NULL:
                raise TraceError(f"event {i}: TOUCH of page {p:#x}, which was touched before")
            for q in range(vpn, vpn + nr):           # with FORKs: a read of mapped pages
                s = m.pstate[q]
                if pg_state(s) == PG_NONE:
                    raise TraceError(f"event {i}: TOUCH of page {q:#x}, not mapped, in a read "
                                     f"of mapped pages")
                if shared(m, q):
                    shared_fault(m, q, 0, False, cpu)
                elif pg_state(s) != PG_RESIDENT:
                    swap_in(m, q, pg_content(s), cpu)
            m.c.pages_touched += nr
            m.c.pages_written += nr
            return 0
    if order == 0:                                   # the common case, without the fallback walk
        p = vpn
        while p < vpn + nr:
            if m.cfg.kswapd and m.pgtab == NULL:
                n = quiet_allocs(m, vpn + nr - p)
                if n:                                # no watermark or kswapd event: at once
                    for q in range(p, p + n):
                        m.pstate[q] = pg_make(PG_RESIDENT, content, 0)
                        ring_push(&m.lru, q)
                    m.resident += n
                    m.t_task += n * m.cfg.alloc_ns
                    writeback_done(m, m.t_task)
                    p += n
                    continue
            if m.pgtab != NULL:
                pte_alloc(m, p, cpu)
            make_room(m, 1, cpu)
            m.pstate[p] = pg_make(PG_RESIDENT, content, 0)
            ring_push(&m.lru, p)
            m.resident += 1
            p += 1
        m.c.pgfault += nr
        m.c.pages_touched += nr
        m.c.pages_written += nr                      # a first touch writes: as Trace.pages_written
        return 0
    f = vpn
    while f < vpn + nr:                              # (C loops: range() with a variable step is not)
        p = f
        while p < f + fnr:
            if m.pgtab != NULL:
                pte_alloc(m, p, cpu)
            k = order if p == f else order - 1
            while k > 0:
                if (k == order or ((m.cfg.mthp_mask >> k) & 1
                                   and (p & ((<uint64_t>1 << k) - 1)) == 0)):
                    if charge_large(m, k, cpu, ST_FAULT_ALLOC, ST_FAULT_FALLBACK,
                                    ST_FAULT_FALLBACK_CHARGE):
                        break
                k -= 1
            if k == 0:
                make_room(m, 1, cpu)
            n = <uint64_t>1 << k
            for q in range(p, p + n):
                m.pstate[q] = pg_make(PG_RESIDENT, content, k)
            ring_push(&m.lru, p)
            m.resident += n
            m.c.pgfault += 1
            p += n
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
        if pg_state(s) == PG_RESIDENT and not shared(m, p):
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
                 str accounting="v2", uint64_t zswap_max=0, uint64_t zswap_accept=0,
                 csize=(2048, 32, 32), uint64_t ra_max=8, uint32_t mthp_mask=0,
                 uint32_t swapin_mask=0, uint32_t reclaim_mask=1 << 9, bint direct=True,
                 bint bypass=True,
                 bint zero_detection=True, bint page_tables=False, memcg=1, progress=None,
                 bint kswapd=False, uint64_t wmark_min=0, uint64_t wmark_low=0,
                 uint64_t wmark_high=0, uint64_t file_pages=0, uint64_t swappiness=60,
                 uint64_t alloc_ns=0, uint64_t anon_ns=0, uint64_t file_ns=0,
                 uint64_t write_ns=0, uint64_t nap_ns=100_000_000, design_ns=None,
                 uint64_t scan_ns=0, uint64_t ref_permille=0, kswapd_anon_ns=None,
                 anon_same_ns=None, kswapd_same_ns=None, uint64_t unmap_ns=0,
                 uint64_t direct_io_wait_ns=0, uint64_t kswapd_io_wait_ns=0,
                 direct_pageout_ns=None, kswapd_pageout_ns=None, direct_wb_free_ns=None,
                 kswapd_wb_free_ns=None, uint64_t missed_permille=0, bint lru_gen=False,
                 src=None, contention=None, uint64_t transfer_ns=0):
    """Replay trace arrays through ``space``; the model's counters and state.

    ``op`` .. ``cpu`` are the columns of a :class:`vswap.workloads.Trace`,
    ``src`` its FORK source column (None: all 0);
    ``span`` the pages of its virtual span; ``memcg`` the memcg id of every
    page, or a uint16 array of one per page of the span. Returns a dict: ``counters``
    (:data:`COUNTER_NAMES`), ``times`` (``total_s``, ``free_s``),
    ``kswapd`` .. ``design_ns``: machine-wide reclaim (with ``accounting="none"``):
    the zone watermarks in pages, the page cache, swappiness, the per-page
    costs in ns and the design's work counters' prices (a dict of ns per
    unit, fractions kept to the ps, applied to :class:`vswap.DirectSwap`
    and :class:`vswap.VirtualSwap`); see :mod:`vswap.kswapd`.
    ``contention`` (a dict of design counter: (acquisitions, hold ns,
    global-lock sections, walks) per unit, :func:`vswap.contention.weights`)
    and ``transfer_ns``: the two reclaimers' waits on the lines they share
    (:mod:`vswap.contention`); None or 0: none.
    ``footprint`` (``space.memory_footprint()`` just before the first
    FREE, the peak for usemem and memhog), ``at_free``
    (:func:`vswap.reference.replay.phase_snapshot` at the first FREE, None
    without one), ``pte`` (uint64 per page, the
    page tables) and ``pstate`` (uint8 per page). TraceError for a trace
    that breaks its rules, NoSpace when swap runs out, TypeError for a
    design without a C verb table. The machine's settings are those of
    :func:`vswap.replay.machine_config`. Runtime complexity: O(pages touched,
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
    cdef const uint64_t[::1] s_ = np.zeros(n, dtype=np.uint64) if src is None else src
    cdef mm_t m
    cdef uint64_t lo, hi
    cdef uint64_t done = 0, next_report = PROGRESS_STEP, end
    cdef double t0, t_free = 0.0, t1
    cdef bint freeing = False
    if not PyCapsule_IsValid(getattr(space, "__vswap_ops__", lambda: None)(), "vswap.swap_ops"):
        raise TypeError(f"{type(space).__name__} has no C verb table (__vswap_ops__); "
                        "replay it with engine='reference'")
    caps = space.__vswap_ops__()
    if not 1 <= (<const swap_ops*>PyCapsule_GetPointer(caps, "vswap.swap_ops")).version \
            <= SWAP_OPS_VERSION:
        raise TypeError("the design's C verb table has another version")
    if not (v_.shape[0] == n_.shape[0] == k_.shape[0] == c_.shape[0] == u_.shape[0]
            == s_.shape[0] == n):
        raise ValueError("the trace columns differ in length")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
    if accounting not in ACCOUNTING:
        raise ValueError(f"accounting must be one of {ACCOUNTING}, not {accounting!r}")
    if ram == 0:
        raise ValueError("ram must be at least one page")
    sizes = tuple(csize)
    if len(sizes) != 3 or not all(1 <= int(x) <= PAGE_BYTES for x in sizes):
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
    prices = dict(design_ns or {})
    shared = dict(contention or {})
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
    at_free = None
    memset(&m, 0, sizeof(mm_t))
    m.ops = <const swap_ops*>PyCapsule_GetPointer(caps, "vswap.swap_ops")
    m.prefetch = m.ops.prefetch if m.ops.version >= 2 else NULL
    m.space = <void*>space
    m.pte = &pte_v[0] if span else NULL
    m.pstate = &ps_v[0] if span else NULL
    m.span = span
    m.cfg.ram = ram
    m.cfg.watermark = watermark
    m.cfg.batch = batch
    m.cfg.zswap_max = zswap_max
    m.cfg.zswap_accept = zswap_accept
    for i in range(3):
        m.cfg.csize[i] = int(sizes[i])
    m.cfg.ra_max = ra_max if ra_max > 1 else 1
    m.cfg.mthp_mask = mthp_mask & 0x3FE
    m.cfg.swapin_mask = swapin_mask & 0x1FE if backend != "zswap" else 0   # zswap_never_enabled
    m.cfg.reclaim_mask = reclaim_mask & 0x3FE
    m.cfg.backend = BACKENDS.index(backend)
    m.cfg.accounting = ACCOUNTING.index(accounting)
    m.cfg.direct = direct
    m.cfg.bypass = bypass
    m.cfg.zero_detection = zero_detection
    m.cfg.page_tables = page_tables
    m.cfg.memcg = 1 if memcgs is not None else memcg
    m.memcg = &mg_[0] if memcgs is not None and span else NULL
    m.cfg.kswapd = kswapd
    m.cfg.wmark_min = wmark_min
    m.cfg.wmark_low = wmark_low
    m.cfg.wmark_high = wmark_high
    m.cfg.file_pages = file_pages if kswapd else 0
    m.cfg.swappiness = swappiness
    m.cfg.alloc_ns = alloc_ns
    m.cfg.anon_ns = anon_ns
    m.cfg.file_ns = file_ns
    m.cfg.write_ns = write_ns
    m.cfg.nap_ns = nap_ns
    m.cfg.scan_ns = scan_ns
    m.cfg.lru_gen = lru_gen
    m.cfg.kswapd_anon_ns = anon_ns if kswapd_anon_ns is None else kswapd_anon_ns
    m.cfg.anon_same_ns = anon_ns if anon_same_ns is None else anon_same_ns
    m.cfg.kswapd_same_ns = m.cfg.kswapd_anon_ns if kswapd_same_ns is None else kswapd_same_ns
    # a write's cost where its folio is freed, unless the start of the write is priced
    m.cfg.direct_pageout_ns = scan_ns if direct_pageout_ns is None else direct_pageout_ns
    m.cfg.kswapd_pageout_ns = scan_ns if kswapd_pageout_ns is None else kswapd_pageout_ns
    m.cfg.direct_wb_free_ns = m.cfg.anon_ns if direct_wb_free_ns is None else direct_wb_free_ns
    m.cfg.kswapd_wb_free_ns = (m.cfg.kswapd_anon_ns if kswapd_wb_free_ns is None
                               else kswapd_wb_free_ns)
    if missed_permille > 1000:
        raise ValueError("missed_permille must be 0 .. 1000")
    m.cfg.missed_permille = missed_permille
    m.cfg.unmap_ns = unmap_ns
    m.cfg.direct_io_wait_ns = direct_io_wait_ns
    m.cfg.kswapd_io_wait_ns = kswapd_io_wait_ns
    if ref_permille >= 1000:
        raise ValueError("ref_permille must be below 1000: some scanned pages must be freed")
    m.cfg.ref_permille = ref_permille if kswapd else 0
    m.file = m.cfg.file_pages
    if kswapd and (prices or (shared and transfer_ns)):
        m.dstat = design_stats(space, &m.dstat_n)
        names = list(space.stats) if m.dstat != NULL else []
        if len(names) != m.dstat_n:
            raise AssertionError(f"{type(space).__name__}.stats has {len(names)} counters, "
                                 f"its C struct {m.dstat_n}")
        for i in range(m.dstat_n):
            m.dweight[i] = round(float(prices.get(names[i], 0)) * 1000)
            m.dprev[i] = m.dstat[i]
            if transfer_ns and names[i] in shared:
                m.cacq[i], m.chold[i], m.cglob[i], m.cwalk[i] = (
                    int(v) for v in shared[names[i]])
                m.contended = True
    m.cfg.transfer_ns = transfer_ns
    try:
        if page_tables:
            m.pgtab = <uint8_t*>checked_calloc((span >> PMD_ORDER) + 1, 1)
        for i in range(n):
            if o_[i] == EV_FORK:
                m.nxt = <uint64_t*>checked_calloc(span + 1, sizeof(uint64_t))
                break
        if m.cfg.zswap_max:
            m.zgen = <uint32_t*>checked_calloc(span + 1, sizeof(uint32_t))
        ring_init(&m.lru)
        ring_init(&m.zq)
        ring_init(&m.wb)
        ring_init(&m.clean)
        ring_init(&m.late)
        ring_init(&m.missdue)
        t0 = now()
        for i in range(n):
            end = v_[i] + n_[i]
            if n_[i] == 0 or end > span or end < v_[i]:
                raise TraceError(f"event {i}: range [{v_[i]:#x}, +{n_[i]}) is empty or "
                                 f"leaves the span of {span} pages")
            if u_[i] >= 64 or c_[i] > C_SAME or k_[i] > 9:
                raise TraceError(f"event {i}: cpu, content or order out of range")
            if o_[i] > EV_DONTNEED:
                raise TraceError(f"event {i}: unknown op {o_[i]}")
            if o_[i] == EV_FORK and (s_[i] + n_[i] > span or s_[i] + n_[i] < s_[i]):
                raise TraceError(f"event {i}: FORK source [{s_[i]:#x}, +{n_[i]}) leaves the span "
                                 f"of {span} pages")
            if (o_[i] == EV_FREE or o_[i] == EV_EXIT) != freeing:   # the free phase's clock
                if freeing:
                    t_free += now() - t1
                elif footprint is None:
                    footprint = space.memory_footprint()
                    at_free = _phase_snapshot(space, <dict>m.c)
                t1 = now()
                freeing = not freeing
            if o_[i] == EV_TOUCH and (v_[i] | n_[i]) & ((<uint64_t>1 << k_[i]) - 1):
                raise TraceError(f"event {i}: TOUCH of [{v_[i]:#x}, +{n_[i]}) is not aligned "
                                 f"to order-{k_[i]} folios")
            if ((o_[i] == EV_FREE or o_[i] == EV_EXIT or o_[i] == EV_DONTNEED)
                    and (splits_folio(m.pstate[v_[i]], v_[i])
                         or splits_folio(m.pstate[end - 1], end))):
                raise TraceError(f"event {i}: {OPS[o_[i]]} of [{v_[i]:#x}, {end:#x}) "
                                 f"splits a large folio")
            lo = v_[i]
            while lo < end:                          # slices at 2**20-page boundaries, for progress
                hi = ((lo >> 20) + 1) << 20
                if hi > end:
                    hi = end
                if o_[i] == EV_TOUCH:
                    touch(&m, i, lo, hi - lo, k_[i], c_[i], u_[i])
                elif o_[i] == EV_WRITE:
                    write(&m, i, lo, hi - lo, c_[i], u_[i])
                elif o_[i] == EV_FORK:
                    fork_range(&m, i, lo, s_[i] + (lo - v_[i]), hi - lo, u_[i])
                elif o_[i] == EV_PAGEOUT:
                    pageout(&m, lo, hi - lo, u_[i])
                else:
                    free_range(&m, i, lo, hi - lo, u_[i], o_[i])
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
        free(m.zgen)
        free(m.wb.a)
        free(m.clean.a)
        free(m.late.a)
        free(m.missdue.a)
        free(m.pgtab)
        free(m.nxt)
    if footprint is None:
        footprint = space.memory_footprint()
    m.c.resident = m.resident
    m.c.zswap_pool = m.pool
    m.c.page_tables = m.pgtables
    m.c.task_ns = m.t_task
    m.c.file_resident = m.file
    # mm_counters as a dict, in field order (KERNEL_COUNTERS + MODEL_COUNTERS, tested)
    cdef dict counters = m.c
    cdef int k, j
    for k, j, name in _MTHP_NAMES:
        counters[name] = m.mthp[k][j]
    return {"counters": counters, "times": {"total_s": t1, "free_s": t_free},
            "footprint": footprint, "pte": pte, "pstate": pstate, "at_free": at_free}
