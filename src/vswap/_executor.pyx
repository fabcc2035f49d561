"""Run a workload trace on real anonymous memory: one process per task, no Python per page.

The executor is the part of ``vswap kernel`` that touches memory. Each task
of a trace (a region of the trace's span, see :func:`split_tasks`) becomes
a forked child that maps its region once (PMD-aligned), advises
``MADV_HUGEPAGE`` on the ranges the trace touches with large folios, and,
released together with the other tasks (usemem ``-y``), writes every page of
each TOUCH and WRITE with its content class and zaps each FREE (munmap or
``MADV_DONTNEED``). The children run C only: they never touch a Python
object, and report their times through a shared page. The parent moves them
into the run's memory cgroup between :meth:`TaskGroup.spawn` and
:meth:`TaskGroup.go`, before their first fault.

>>> import numpy as np
>>> from vswap.workloads import usemem
>>> g = TaskGroup(split_tasks(usemem("64K")))
>>> pids = g.spawn()
>>> [t["pages_written"] for t in g.go()]
[16]
"""

cimport cython
from cpython.exc cimport PyErr_CheckSignals
from libc.errno cimport errno, EINTR, EPIPE, EINVAL
from libc.stdint cimport uint8_t, uint32_t, int32_t, uint64_t, int64_t, uintptr_t
from libc.stdlib cimport free
from libc.string cimport memset
from posix.mman cimport (mmap, munmap, madvise, PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_SHARED,
                         MAP_ANONYMOUS, MAP_FAILED, MADV_DONTNEED, MADV_HUGEPAGE)
from posix.resource cimport rusage
from posix.signal cimport kill as c_kill
from posix.time cimport clock_gettime, nanosleep, timespec, CLOCK_MONOTONIC
from posix.types cimport pid_t
from posix.unistd cimport fork, _exit, read, write, close, pipe, getpid, getppid
from vswap._mem cimport checked_calloc
from posix.wait cimport wait4, WIFEXITED, WEXITSTATUS, WIFSIGNALED, WTERMSIG, WNOHANG

import numpy as np

from vswap.workloads import FREE, TOUCH, Trace

__all__ = ["TaskGroup", "split_tasks", "split_processes", "FREE_MODES"]

cdef extern from "<sys/prctl.h>" nogil:
    int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4,
              unsigned long arg5)
    enum: PR_SET_PDEATHSIG

cdef extern from "<signal.h>" nogil:
    enum: SIGKILL

#: How a FREE event zaps its range, in the order of their codes.
FREE_MODES = ("munmap", "dontneed")

cdef uint64_t PAGE = 1 << EX_PAGE_SHIFT
cdef uint64_t PMD_BYTES = EX_PMD_PAGES << EX_PAGE_SHIFT


cdef inline int64_t now_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1000000000 + ts.tv_nsec


cdef inline void write_page(uint64_t* p, uint64_t vpn, uint8_t content) noexcept nogil:
    cdef uint64_t j, w
    if content == 1:            # ZERO: a zero-filled page (the zeromap's catch)
        memset(p, 0, PAGE)
    elif content == 2:          # SAME: memhog's 0xff, same-filled, not zero
        memset(p, 0xff, PAGE)
    else:                       # DATA: usemem's ascending words, compressible, never zero
        w = vpn << 9
        for j in range(512):
            p[j] = w + j + 1


cdef int run_task(const task_events_t* t, task_out_t* out, int free_mode, int* arrivals,
                  int ntasks) noexcept nogil:
    """The child's whole job; returns 0 or an errno (also left in ``out.err``).

    At event ``t.barrier`` (or at the end, when it is ``t.nev``) the task
    waits until every task has got that far: usemem -x's frees after all
    the writes."""
    cdef uint64_t i, k, n, off
    cdef size_t length = t.npages * PAGE
    cdef char* raw
    cdef char* base
    cdef int64_t s
    # One mapping of the region (two PMDs of slack), PMD-aligned at the region's own alignment so
    # an order-k folio of the trace sits at an order-k-aligned address.
    raw = <char*>mmap(NULL, length + 2 * PMD_BYTES, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    if raw == <char*>MAP_FAILED:
        out.err = errno
        return out.err
    base = <char*>((((<uintptr_t>raw) + PMD_BYTES - 1) & ~(<uintptr_t>(PMD_BYTES - 1)))
                   + (t.first_vpn % EX_PMD_PAGES) * PAGE)
    for i in range(t.nev):
        if t.op[i] == 0 and t.order[i] > 0:
            if madvise(base + t.off[i] * PAGE, t.nr[i] * PAGE, MADV_HUGEPAGE) != 0:
                out.err = errno
                out.err_event = <int>i
                return out.err
    out.start_ns = now_ns()
    out.write_end_ns = out.start_ns
    for i in range(t.nev):
        if i == t.barrier:
            ex_barrier_wait(arrivals, ntasks)
        off, n = t.off[i], t.nr[i]
        if t.op[i] == 2:
            s = now_ns()
            if free_mode == EX_FREE_DONTNEED:
                k = madvise(base + off * PAGE, n * PAGE, MADV_DONTNEED)
            else:
                k = munmap(base + off * PAGE, n * PAGE)
            if k != 0:
                out.err = errno
                out.err_event = <int>i
                return out.err
            out.free_ns += now_ns() - s
            out.pages_freed += n
        else:
            for k in range(n):
                write_page(<uint64_t*>(base + (off + k) * PAGE), t.first_vpn + off + k,
                           t.content[i])
            out.pages_written += n
            out.write_end_ns = now_ns()
    if t.barrier == t.nev:
        ex_barrier_wait(arrivals, ntasks)
    out.end_ns = now_ns()
    return 0


cdef void prog_abort(program_t* g) noexcept nogil:
    cdef int q
    ex_store(g.abort_flag, 1)
    for q in range(g.nprocs):
        ex_kick(&g.wake[q], 1)


cdef int reap_children(program_t* g, int p, int block) noexcept nogil:
    """Reap ``p``'s forked children (all of them when ``block``); 1 when one ended abnormally."""
    cdef int q, status, bad = 0
    cdef pid_t r
    for q in range(g.nprocs):
        if g.proc_parent[q] != p or g.proc_pid[q] <= 0:
            continue
        while True:
            r = wait4(g.proc_pid[q], &status, 0 if block else WNOHANG, NULL)
            if r >= 0 or errno != EINTR:
                break
        if r <= 0:
            continue
        g.proc_pid[q] = 0
        g.out[q].status = WEXITSTATUS(status) if WIFEXITED(status) else -WTERMSIG(status)
        g.out[q].reaped = 1
        if g.out[q].status != 0:
            bad = 1
    return bad


cdef int wait_turn(program_t* g, int p, uint64_t row) noexcept nogil:
    """Wait until ``row`` is next; 0, or EX_ERR_ABORTED when the run stops (or a child died)."""
    cdef uint32_t seen
    while True:
        seen = ex_load(&g.wake[p])
        if ex_load(g.seq) == <uint32_t>row:
            return 0
        if ex_load(g.abort_flag):
            return EX_ERR_ABORTED
        if ex_wait(&g.wake[p], seen, EX_POLL_MS) != 0 and reap_children(g, p, 0):
            # a child was killed (the OOM killer): nobody else would run its rows
            prog_abort(g)
            return EX_ERR_ABORTED


cdef void next_turn(program_t* g, int p, uint64_t row) noexcept nogil:
    cdef int q
    ex_store(g.seq, <uint32_t>(row + 1))
    if row + 1 < g.nrows:
        q = g.row_owner[row + 1]
        if q != p:
            ex_kick(&g.wake[q], 0)


cdef int map_regions(program_t* g, int p) noexcept nogil:
    """Map ``p``'s fresh regions (PMD-aligned, as run_task) and advise their large-folio ranges."""
    cdef int r
    cdef uint64_t h
    cdef size_t length
    cdef char* raw
    for r in range(g.nregions):
        if g.reg_owner[r] != p or g.reg_src[r] >= 0:
            continue
        length = g.reg_npages[r] * PAGE + 2 * PMD_BYTES
        raw = <char*>mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                          -1, 0)
        if raw == <char*>MAP_FAILED:
            return errno
        g.reg_raw[r] = raw
        g.reg_rawlen[r] = length
        g.reg_base[r] = <char*>((((<uintptr_t>raw) + PMD_BYTES - 1) & ~(<uintptr_t>(PMD_BYTES - 1)))
                                + (g.reg_first[r] % EX_PMD_PAGES) * PAGE)
    for h in range(g.nhp):
        r = g.hp_region[h]
        if g.reg_owner[r] == p and madvise(g.reg_base[r] + g.hp_off[h] * PAGE,
                                           g.hp_nr[h] * PAGE, MADV_HUGEPAGE) != 0:
            return errno
    return 0


cdef int adopt_copy(program_t* g, int p, int q) noexcept nogil:
    """In the child ``q`` just forked by ``p``: keep only the FORK's source range of ``p``'s mappings.

    The child of a real fork has its parent's whole address space; the trace's
    child has the copy of one range. Unmapping the rest drops the other
    references fork took (no fault, no I/O)."""
    cdef int r, t = -1
    cdef char* lo
    cdef char* hi
    for r in range(g.nregions):
        if g.reg_owner[r] == q and g.reg_src[r] >= 0:
            t = r
    if t < 0:
        return EINVAL
    for r in range(g.nregions):
        if g.reg_owner[r] != p or g.reg_raw[r] == NULL:
            continue
        if r != g.reg_src[t]:
            if munmap(g.reg_raw[r], g.reg_rawlen[r]) != 0:
                return errno
            continue
        lo = g.reg_base[r] + g.reg_src_off[t] * PAGE
        hi = lo + g.reg_npages[t] * PAGE
        if lo > g.reg_raw[r] and munmap(g.reg_raw[r], lo - g.reg_raw[r]) != 0:
            return errno
        if g.reg_raw[r] + g.reg_rawlen[r] > hi and \
                munmap(hi, g.reg_raw[r] + g.reg_rawlen[r] - hi) != 0:
            return errno
    g.reg_base[t] = g.reg_base[g.reg_src[t]] + g.reg_src_off[t] * PAGE
    g.reg_raw[t] = g.reg_base[t]
    g.reg_rawlen[t] = g.reg_npages[t] * PAGE
    return 0


cdef int run_event(program_t* g, int p, int64_t i, task_out_t* out) noexcept nogil:
    """Event ``i`` of ``p``'s program; 0 or an errno."""
    cdef int r = g.ev_region[i], q, rc
    cdef uint8_t op = g.ev_op[i]
    cdef uint64_t k, off = g.ev_off[i], n = g.ev_nr[i]
    cdef char* base = g.reg_base[r]
    cdef int64_t s
    cdef pid_t me, pid
    if base == NULL and op != EX_OP_FORK:
        return EINVAL
    if op == EX_OP_TOUCH or op == EX_OP_WRITE:
        for k in range(n):
            write_page(<uint64_t*>(base + (off + k) * PAGE), g.reg_first[r] + off + k,
                       g.ev_content[i])
        out.pages_written += n
        out.write_end_ns = now_ns()
    elif op == EX_OP_READ:
        ex_read_pages(base + off * PAGE, n, PAGE)
    elif op == EX_OP_FREE or op == EX_OP_EXIT or op == EX_OP_DONTNEED:
        s = now_ns()
        if op == EX_OP_DONTNEED or (op == EX_OP_FREE and g.free_mode == EX_FREE_DONTNEED):
            rc = madvise(base + off * PAGE, n * PAGE, MADV_DONTNEED)
        else:                   # an exit's zap, as the process's own exit would do it
            rc = munmap(base + off * PAGE, n * PAGE)
        if rc != 0:
            return errno
        out.free_ns += now_ns() - s
        out.pages_freed += n
    elif op == EX_OP_PAGEOUT:
        if madvise(base + off * PAGE, n * PAGE, EX_MADV_PAGEOUT) != 0:
            return errno
    elif op == EX_OP_FORK:
        q = g.ev_child[i]
        me = getpid()
        pid = fork()
        if pid == 0:
            # the child: C only, to _exit; it dies with its parent, as the roots do
            prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)
            g.out[q].pid = getpid()
            g.out[q].start_ns = now_ns()
            if getppid() != me:
                g.out[q].err = EX_ERR_ORPHAN
                _exit(3)
            rc = adopt_copy(g, p, q)
            if rc != 0:
                g.out[q].err = rc
                g.out[q].err_event = <int>g.ev_row[i]
                prog_abort(g)
                _exit(1)
            _exit(run_proc(g, q))
        if pid < 0:
            return errno
        g.proc_pid[q] = pid
    else:
        return EINVAL
    return 0


cdef int run_proc(program_t* g, int p) noexcept nogil:
    """Process ``p`` of a program, from its mappings to its children's end: its exit code.

    0, 1 (a syscall failed: ``err`` and ``err_event`` say which; or a child
    failed), 2 (stopped because another process failed)."""
    cdef task_out_t* out = &g.out[p]
    cdef int64_t i
    cdef int rc, code = 0
    cdef timespec nap
    out.pid = getpid()
    rc = map_regions(g, p)
    if rc != 0:
        out.err = rc
        out.err_event = -1
        prog_abort(g)
        code = 1
    if out.start_ns == 0:
        out.start_ns = now_ns()
    out.write_end_ns = out.start_ns
    if code == 0:
        for i in range(g.proc_first[p], g.proc_first[p + 1]):
            rc = wait_turn(g, p, g.ev_row[i])
            if rc != 0:
                code = 2
                break
            rc = run_event(g, p, i, out)
            if rc != 0:
                out.err = rc
                out.err_event = <int>g.ev_row[i]
                prog_abort(g)
                code = 1
                break
            next_turn(g, p, g.ev_row[i])
    # A parent outlives its children (they die with it: PR_SET_PDEATHSIG). It polls rather
    # than blocks: a child killed while a sibling waits for its rows must stop the run.
    nap.tv_sec = 0
    nap.tv_nsec = 1000000
    while True:
        if reap_children(g, p, 0):
            if code == 0:
                code = 1
            prog_abort(g)
        if not has_children(g, p):
            break
        nanosleep(&nap, NULL)
    out.end_ns = now_ns()
    return code


cdef int has_children(program_t* g, int p) noexcept nogil:
    cdef int q
    for q in range(g.nprocs):
        if g.proc_parent[q] == p and g.proc_pid[q] > 0:
            return 1
    return 0


def split_tasks(trace):
    """The tasks of a trace: one per region (a run of pages with no unmapped gap), with its events.

    The generators give each task (usemem ``-n``, each workload of
    :func:`vswap.workloads.mixed`) a region of its own, PMD-aligned, with a
    gap between regions; every event lies in one region. Returns a list of
    dicts ``first_vpn``, ``npages`` and the region's event columns ``op``,
    ``off`` (pages from ``first_vpn``), ``nr``, ``order``, ``content``
    (``rows``: their indexes in the trace), and ``barrier``: where the
    trace orders tasks against each other, the event before which the task
    waits for every other (its first FREE, or its event count when it
    frees nothing), else None. A trace of several tasks has such a barrier
    when every FREE comes after every TOUCH and WRITE of every task
    (usemem ``-x``: all unmap once all have written). ValueError for an
    event across regions. Runtime complexity: O(events log events),
    vectorised.

    >>> from vswap.workloads import usemem
    >>> [(t["first_vpn"], t["npages"], len(t["op"]), t["barrier"])
    ...  for t in split_tasks(usemem("4M", tasks=2))]
    [(0, 1024, 4, 2), (1536, 1024, 4, 2)]
    """
    if not isinstance(trace, Trace):
        raise TypeError(f"trace must be a vswap.workloads.Trace, not {type(trace).__name__}")
    if trace.op.size and int(trace.op.max()) > FREE:
        return split_processes(trace)
    from vswap.process_tree import union_of_ranges
    touch = np.flatnonzero(trace.op == TOUCH)
    if touch.size == 0:
        return []
    # A region starts where a TOUCH begins past everything touched before it.
    first, last = union_of_ranges(trace.vpn[touch], trace.vpn[touch] + trace.nr[touch])
    region = np.searchsorted(first, trace.vpn, side="right").astype(np.int64) - 1
    ends = trace.vpn + trace.nr
    bad = (region < 0) | (ends > last[np.maximum(region, 0)])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"event {i} ({int(trace.vpn[i])}, {int(trace.nr[i])} pages) lies "
                         "outside the regions the trace touches")
    tasks = []
    for r in range(first.size):
        rows = np.flatnonzero(region == r)
        f = int(first[r])
        tasks.append({"first_vpn": f, "npages": int(last[r]) - f, "rows": rows,
                      "op": np.ascontiguousarray(trace.op[rows]),
                      "off": np.ascontiguousarray(trace.vpn[rows] - np.uint64(f)),
                      "nr": np.ascontiguousarray(trace.nr[rows]),
                      "order": np.ascontiguousarray(trace.order[rows]),
                      "content": np.ascontiguousarray(trace.content[rows]),
                      "barrier": None})
    frees = np.flatnonzero(trace.op == FREE)
    writes = np.flatnonzero(trace.op != FREE)
    if len(tasks) > 1 and frees.size and writes.size and frees[0] > writes[-1]:
        for t in tasks:
            t["barrier"] = int(np.searchsorted(t["rows"], frees[0]))
    return tasks


_PROGRAM_ARRAYS = (
    ("row_owner", np.int32), ("proc_parent", np.int32), ("proc_first", np.int64),
    ("ev_row", np.uint64), ("ev_op", np.uint8), ("ev_region", np.int32), ("ev_off", np.uint64),
    ("ev_nr", np.uint64), ("ev_content", np.uint8), ("ev_child", np.int32),
    ("reg_first", np.uint64), ("reg_npages", np.uint64), ("reg_owner", np.int32),
    ("reg_src", np.int32), ("reg_src_off", np.uint64), ("hp_region", np.int32),
    ("hp_off", np.uint64), ("hp_nr", np.uint64))


def _checked_program(prog):
    """The program's arrays, contiguous and of their dtypes; ValueError for what the C code
    could not run safely (an index out of range, a range past its region, rows out of turn)."""
    if not isinstance(prog, dict):
        raise TypeError("a task's 'program' must be a dict from vswap.process_tree")
    try:
        a = {k: np.ascontiguousarray(prog[k], dtype=d) for k, d in _PROGRAM_ARRAYS}
        P, G, R = int(prog["nprocs"]), int(prog["nregions"]), int(prog["nrows"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"a task's 'program' is not a program: {exc}") from None
    def need(ok, why):
        if not ok:
            raise ValueError(f"program: {why}")
    need(all(v.ndim == 1 for v in a.values()), "every column must be one-dimensional")
    need(1 <= P <= 1 << 16 and 1 <= G and 0 <= R < (1 << 31) - 1, "bad nprocs, nregions or nrows")
    ev = a["ev_row"].shape[0]
    need(a["row_owner"].shape[0] == R and ev == R, "one event per row")
    need(all(a[k].shape[0] == ev for k in ("ev_op", "ev_region", "ev_off", "ev_nr", "ev_content",
                                           "ev_child")), "the event columns differ in length")
    need(all(a[k].shape[0] == G for k in ("reg_first", "reg_npages", "reg_owner", "reg_src",
                                          "reg_src_off")), "the region columns differ in length")
    need(a["hp_off"].shape[0] == a["hp_nr"].shape[0] == a["hp_region"].shape[0],
         "the hugepage columns differ in length")
    first = a["proc_first"]
    need(a["proc_parent"].shape[0] == P and first.shape[0] == P + 1 and first[0] == 0
         and first[-1] == ev and bool(np.all(np.diff(first) >= 0)), "bad proc_first")
    par = a["proc_parent"]
    need(bool(np.all((par >= -1) & (par < np.arange(P)))), "a parent must come before its child")
    owner = np.repeat(np.arange(P), np.diff(first))
    rows = a["ev_row"]
    need(bool(np.all(rows < R)) and np.unique(rows).shape[0] == R, "rows must be 0..nrows-1 once")
    need(bool(np.all(a["row_owner"][rows.astype(np.int64)] == owner)), "row_owner disagrees")
    for p in range(P):
        seg = rows[first[p]:first[p + 1]]
        need(seg.shape[0] < 2 or bool(np.all(seg[1:] > seg[:-1])), "rows out of order")
    reg, op = a["ev_region"], a["ev_op"]
    need(bool(np.all((reg >= 0) & (reg < G))) and bool(np.all(op <= EX_OP_READ)),
         "bad ev_region or ev_op")
    need(bool(np.all(a["reg_npages"] >= 1)) and bool(np.all(a["reg_npages"] < (1 << 36))),
         "bad reg_npages")
    need(bool(np.all(a["ev_nr"] >= 1))
         and bool(np.all(a["ev_off"] + a["ev_nr"] <= a["reg_npages"][reg])),
         "an event ends past its region")
    ro, rs = a["reg_owner"], a["reg_src"]
    need(bool(np.all((ro >= 0) & (ro < P))) and bool(np.all((rs >= -1) & (rs < G))),
         "bad reg_owner or reg_src")
    fork = op == EX_OP_FORK
    child = a["ev_child"]
    need(bool(np.all((child[fork] > 0) & (child[fork] < P))), "a FORK needs its child")
    for i in np.flatnonzero(fork).tolist():
        q, p = int(child[i]), int(owner[i])
        copies = np.flatnonzero((ro == q) & (rs >= 0))
        need(par[q] == p and copies.shape[0] == 1, "a FORK's child must be its owner's, with "
             "one copied region")
        t = int(copies[0])
        need(ro[rs[t]] == p and a["reg_src_off"][t] + a["reg_npages"][t] <=
             a["reg_npages"][rs[t]], "a copy must lie in its parent's region")
        seg = rows[first[q]:first[q + 1]]
        need(seg.shape[0] == 0 or int(seg[0]) > int(rows[i]), "a child runs after its FORK")
    need(int(np.count_nonzero(fork)) == int(np.count_nonzero(par >= 0)), "one FORK per child")
    hr = a["hp_region"]
    need(bool(np.all((hr >= 0) & (hr < G))) and bool(np.all(a["hp_off"] + a["hp_nr"] <=
                                                          a["reg_npages"][np.maximum(hr, 0)])),
         "a hugepage range past its region")
    return {**a, "nprocs": P, "nregions": G, "nrows": R}


cdef void _point(program_t* g, dict a):
    """Point the program's columns at the (kept) arrays."""
    cdef const int32_t[::1] i32
    cdef const int64_t[::1] i64
    cdef const uint64_t[::1] u64
    cdef const uint8_t[::1] u8
    i32 = a["row_owner"]; g.row_owner = &i32[0] if i32.shape[0] else NULL
    i32 = a["proc_parent"]; g.proc_parent = &i32[0]
    i64 = a["proc_first"]; g.proc_first = &i64[0]
    u64 = a["ev_row"]; g.ev_row = &u64[0] if u64.shape[0] else NULL
    u8 = a["ev_op"]; g.ev_op = &u8[0] if u8.shape[0] else NULL
    i32 = a["ev_region"]; g.ev_region = &i32[0] if i32.shape[0] else NULL
    u64 = a["ev_off"]; g.ev_off = &u64[0] if u64.shape[0] else NULL
    u64 = a["ev_nr"]; g.ev_nr = &u64[0] if u64.shape[0] else NULL
    u8 = a["ev_content"]; g.ev_content = &u8[0] if u8.shape[0] else NULL
    i32 = a["ev_child"]; g.ev_child = &i32[0] if i32.shape[0] else NULL
    u64 = a["reg_first"]; g.reg_first = &u64[0]
    u64 = a["reg_npages"]; g.reg_npages = &u64[0]
    i32 = a["reg_owner"]; g.reg_owner = &i32[0]
    i32 = a["reg_src"]; g.reg_src = &i32[0]
    u64 = a["reg_src_off"]; g.reg_src_off = &u64[0]
    i32 = a["hp_region"]; g.hp_region = &i32[0] if i32.shape[0] else NULL
    u64 = a["hp_off"]; g.hp_off = &u64[0] if u64.shape[0] else NULL
    u64 = a["hp_nr"]; g.hp_nr = &u64[0] if u64.shape[0] else NULL


def split_processes(trace):
    """The root tasks of a trace with FORK (ops of format 2): one per root process, sharing a program.

    Each dict has ``program`` (:func:`vswap.process_tree.split_processes`'
    process tree, the same object in every task), ``proc`` (its root
    process), and, as :func:`split_tasks`' dicts, ``first_vpn`` and
    ``npages`` (its first region), ``rows`` and the event columns of the
    root's own events, ``barrier`` None (the program runs the trace's rows
    in order). Runtime complexity: that of the process tree.

    >>> from vswap.workloads import fork
    >>> [(t["proc"], t["program"]["nprocs"]) for t in split_processes(fork("1M"))]
    [(0, 2)]
    """
    from vswap.process_tree import split_processes as tree
    prog = tree(trace)
    tasks = []
    for p in np.flatnonzero(prog["proc_parent"] < 0).tolist():
        lo, hi = int(prog["proc_first"][p]), int(prog["proc_first"][p + 1])
        rows = prog["ev_row"][lo:hi].astype(np.int64)
        r0 = int(np.flatnonzero(prog["reg_owner"] == p)[0])
        tasks.append({"first_vpn": int(prog["reg_first"][r0]),
                      "npages": int(prog["reg_npages"][r0]), "rows": rows,
                      "op": np.ascontiguousarray(trace.op[rows]),
                      "off": np.ascontiguousarray(prog["ev_off"][lo:hi]),
                      "nr": np.ascontiguousarray(trace.nr[rows]),
                      "order": np.ascontiguousarray(trace.order[rows]),
                      "content": np.ascontiguousarray(trace.content[rows]),
                      "barrier": None, "proc": p, "program": prog})
    return tasks


cdef int _read_byte(int fd) noexcept nogil:
    cdef char c
    cdef ssize_t r
    while True:
        r = read(fd, &c, 1)
        if r == 1:
            return 1
        if r == 0 or errno != EINTR:
            return 0


cdef class TaskGroup:
    """The forked processes of one run: :meth:`spawn`, then :meth:`go`; :meth:`kill` on any error.

    ``tasks`` is :func:`split_tasks`' list; ``free`` one of
    :data:`FREE_MODES`. A TaskGroup runs once. Collected or killed, it
    SIGKILLs and reaps the children it has not reaped, so no workload
    outlives a failed run. Runtime complexity: O(1) to construct.

    >>> TaskGroup([]).state
    'new'
    """

    cdef task_events_t* _ev
    cdef task_out_t* _out        # MAP_SHARED: the children write, the parent reads
    cdef int* _arrivals          # MAP_SHARED, after _out: the barrier's count
    cdef pid_t* _pids
    cdef int _n
    cdef int _free_mode
    cdef int _go_fd              # write end of the GO pipe (parent)
    cdef int _state              # 0 new, 1 spawned, 2 done, 3 killed
    cdef int64_t _go_ns
    cdef object _keep            # the tasks' arrays, alive while the children read them
    cdef program_t _prog         # a trace with FORK: the process tree (nprocs 0: none)
    cdef int* _root              # a program's root process of each task

    def __cinit__(self):
        self._ev = NULL
        self._out = NULL
        self._arrivals = NULL
        self._pids = NULL
        self._n = 0
        self._go_fd = -1
        self._state = 0
        self._keep = ()
        memset(&self._prog, 0, sizeof(program_t))
        self._root = NULL

    def __init__(self, tasks, *, free="munmap"):
        cdef int i
        cdef const uint8_t[::1] op, order, content
        cdef const uint64_t[::1] off, nr
        if self._state != 0 or self._ev != NULL:
            raise RuntimeError("TaskGroup is already initialised")
        if free not in FREE_MODES:
            raise ValueError(f"free must be one of {FREE_MODES}, not {free!r}")
        tasks = list(tasks)
        if len(tasks) > 4096:
            raise ValueError(f"{len(tasks)} tasks: at most 4096")
        if tasks and isinstance(tasks[0], dict) and "program" in tasks[0]:
            self._init_program(tasks)
            self._free_mode = FREE_MODES.index(free)
            return
        keep = []
        for i, t in enumerate(tasks):
            if not isinstance(t, dict):
                raise TypeError(f"task {i} must be a dict from split_tasks()")
            cols = [np.ascontiguousarray(t[k], dtype=d) for k, d in
                    (("op", np.uint8), ("off", np.uint64), ("nr", np.uint64),
                     ("order", np.uint8), ("content", np.uint8))]
            if len({c.shape for c in cols}) != 1 or cols[0].ndim != 1:
                raise ValueError(f"task {i}: the event columns differ in shape")
            npages, first = int(t["npages"]), int(t["first_vpn"])
            if npages < 1 or first < 0:
                raise ValueError(f"task {i}: npages must be at least 1 and first_vpn not negative")
            if cols[0].size and bool(np.any(cols[1] + cols[2] > np.uint64(npages))):
                raise ValueError(f"task {i}: an event ends past the region's {npages} pages")
            barrier = t.get("barrier")
            if barrier is not None and (isinstance(barrier, bool) or not isinstance(barrier, int)
                                        or not 0 <= barrier <= cols[0].size):
                raise ValueError(f"task {i}: barrier must be None or an event index 0..nev")
            keep.append((cols, npages, first, barrier))
        n = len(keep)
        self._ev = <task_events_t*>checked_calloc(n, sizeof(task_events_t))
        self._pids = <pid_t*>checked_calloc(n, sizeof(pid_t))
        for i, (cols, npages, first, barrier) in enumerate(keep):
            op, off, nr, order, content = cols
            self._ev[i].nev = op.shape[0]
            if op.shape[0]:
                self._ev[i].op = &op[0]
                self._ev[i].off = &off[0]
                self._ev[i].nr = &nr[0]
                self._ev[i].order = &order[0]
                self._ev[i].content = &content[0]
            self._ev[i].first_vpn = first
            self._ev[i].npages = npages
            self._ev[i].barrier = EX_NO_BARRIER if barrier is None else <uint64_t>barrier
        self._n = n
        self._free_mode = FREE_MODES.index(free)
        self._keep = tuple(keep)

    cdef _init_program(self, list tasks):
        cdef int i, P, G
        prog = tasks[0]["program"]
        for i, t in enumerate(tasks):
            if not isinstance(t, dict) or t.get("program") is not prog:
                raise ValueError(f"task {i}: every task of a program must share its 'program'")
        a = _checked_program(prog)
        P, G = a["nprocs"], a["nregions"]
        roots = [t.get("proc") for t in tasks]
        want = np.flatnonzero(a["proc_parent"] < 0).tolist()
        if sorted(r for r in roots if isinstance(r, int)) != want or len(roots) != len(want):
            raise ValueError(f"the tasks must be the program's root processes {want}, "
                             f"one each, not {roots}")
        self._pids = <pid_t*>checked_calloc(len(tasks), sizeof(pid_t))
        self._root = <int*>checked_calloc(len(tasks), sizeof(int))
        for i, r in enumerate(roots):
            self._root[i] = r
        g = &self._prog
        g.reg_base = <char**>checked_calloc(G, sizeof(char*))
        g.reg_raw = <char**>checked_calloc(G, sizeof(char*))
        g.reg_rawlen = <uint64_t*>checked_calloc(G, sizeof(uint64_t))
        g.proc_pid = <pid_t*>checked_calloc(P, sizeof(pid_t))
        _point(g, a)
        g.nprocs, g.nregions, g.nrows = P, G, a["nrows"]
        g.nhp = a["hp_region"].shape[0]
        self._n = len(tasks)
        self._keep = (a,)

    def __dealloc__(self):
        self._reap_all(1)
        if self._out != NULL:
            munmap(self._out, self._shared_bytes())
        if self._go_fd >= 0:
            close(self._go_fd)
        free(self._ev)
        free(self._pids)
        free(self._root)
        free(self._prog.reg_base)
        free(self._prog.reg_raw)
        free(self._prog.reg_rawlen)
        free(self._prog.proc_pid)

    cdef size_t _shared_bytes(self) noexcept:
        if self._prog.nprocs:
            return (self._prog.nprocs * sizeof(task_out_t)
                    + (2 + self._prog.nprocs) * sizeof(uint32_t))
        return max(1, self._n) * sizeof(task_out_t) + sizeof(int64_t)

    cdef inline int _slot(self, int i) noexcept:
        return self._root[i] if self._root != NULL else i

    @property
    def state(self):
        """``'new'``, ``'spawned'``, ``'done'`` or ``'killed'``. Runtime complexity: O(1).

        >>> TaskGroup([]).state
        'new'
        """
        return ("new", "spawned", "done", "killed")[self._state]

    @property
    def pids(self):
        """The children's pids, once spawned (0 for one reaped). Runtime complexity: O(tasks).

        >>> TaskGroup([]).pids
        ()
        """
        if self._pids == NULL:
            return ()
        return tuple(int(self._pids[i]) for i in range(self._n))

    def spawn(self):
        """Fork one child per task; each maps its region and waits for :meth:`go`. The pids.

        The children die with the parent (``PR_SET_PDEATHSIG``) and start
        nothing before GO. RuntimeError when called twice, OSError when a
        fork fails (the children already forked are killed). Runtime
        complexity: O(tasks) forks.

        >>> TaskGroup([]).spawn()
        ()
        """
        cdef int fds[2]
        cdef int i, rc
        cdef pid_t pid
        cdef void* mem
        if self._state != 0:
            raise RuntimeError(f"TaskGroup is {self.state}; it runs once")
        mem = mmap(NULL, self._shared_bytes(), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0)
        if mem == MAP_FAILED:
            raise OSError(errno, "mmap of the result page failed")
        self._out = <task_out_t*>mem
        memset(self._out, 0, self._shared_bytes())
        self._arrivals = <int*>(self._out + max(1, self._n))
        if self._prog.nprocs:
            self._prog.out = self._out
            self._prog.seq = <uint32_t*>(self._out + self._prog.nprocs)
            self._prog.abort_flag = self._prog.seq + 1
            self._prog.wake = self._prog.seq + 2
            self._prog.free_mode = self._free_mode
        if pipe(fds) != 0:
            raise OSError(errno, "pipe failed")
        self._state = 1
        for i in range(self._n):
            pid = fork()
            if pid == 0:
                # The child: C only from here to _exit.
                close(fds[1])
                prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)
                if not _read_byte(fds[0]):
                    self._out[self._slot(i)].err = EX_ERR_NO_GO
                    _exit(3)
                if self._prog.nprocs:
                    _exit(run_proc(&self._prog, self._root[i]))
                rc = run_task(&self._ev[i], &self._out[i], self._free_mode, self._arrivals,
                              self._n)
                _exit(1 if rc else 0)
            if pid < 0:
                rc = errno
                close(fds[0])
                close(fds[1])
                self.kill()
                raise OSError(rc, f"fork of task {i} failed")
            self._pids[i] = pid
        close(fds[0])
        self._go_fd = fds[1]
        return self.pids

    def go(self):
        """Release every child at once and wait for them: one dict per task.

        Each dict: ``pid``, ``status`` (exit code, or ``-signal``),
        ``start_ns``/``write_end_ns``/``end_ns`` (CLOCK_MONOTONIC),
        ``write_s`` (GO to the last TOUCH/WRITE), ``free_s`` (inside the
        zaps), ``wall_s`` (GO to the last event), ``pages_written``,
        ``pages_freed``, ``err`` (errno of a failed syscall), the child's
        rusage (``utime_s``, ``stime_s``, ``maxrss_kb``, ``minflt``,
        ``majflt``) and ``go_ns``. When a task ends abnormally (a signal, a
        failed syscall) the others are killed (they could be waiting for it
        at the barrier): their status is ``-9`` and their pid 0. A signal
        delivered meanwhile (Ctrl-C) raises here after the children are
        killed. Runtime complexity:
        the workload's.

        >>> g = TaskGroup([]); g.spawn(); g.go()
        ()
        []
        """
        cdef char buf[64]
        cdef int i, status
        cdef pid_t r
        cdef rusage ru
        cdef ssize_t left, w
        cdef int waiting = self._n, reaped
        cdef timespec nap
        if self._state != 1:
            raise RuntimeError(f"TaskGroup is {self.state}; go() follows spawn()")
        memset(buf, ord("g"), 64)
        self._go_ns = now_ns()
        left = self._n
        while left > 0:
            w = write(self._go_fd, buf, min(left, 64))
            if w < 0:
                if errno == EINTR:
                    continue
                if errno == EPIPE:      # every child is gone already: wait4 tells how
                    break
                self.kill()
                raise OSError(errno, "could not release the tasks")
            left -= w
        results = [None] * self._n
        nap.tv_sec = 0
        nap.tv_nsec = 1000000
        try:
            # Poll every child: a task that dies early (the OOM killer) would leave the others
            # waiting at the barrier for it; the rest are killed then, the run is void anyway.
            while waiting > 0:
                reaped = 0
                for i in range(self._n):
                    if self._pids[i] <= 0:
                        continue
                    with nogil:
                        r = wait4(self._pids[i], &status, WNOHANG, &ru)
                    if r < 0:
                        if errno == EINTR:
                            continue
                        raise OSError(errno, f"wait4 of task {i} failed")
                    if r == 0:
                        continue
                    self._pids[i] = 0
                    waiting -= 1
                    reaped += 1
                    results[i] = self._result(i, r, status, &ru)
                    if results[i]["status"] != 0:
                        self._reap_all(1)       # the others: killed and reaped
                if waiting > 0 and self._pids_left() == 0:
                    break
                if reaped == 0 and waiting > 0:
                    with nogil:
                        nanosleep(&nap, NULL)
                    PyErr_CheckSignals()
        except BaseException:
            self.kill()
            raise
        for i in range(self._n):
            if results[i] is None:              # killed by _reap_all after a sibling failed
                results[i] = {"pid": 0, "status": -SIGKILL, "go_ns": int(self._go_ns),
                              "start_ns": 0, "write_end_ns": 0, "end_ns": 0, "write_s": 0.0,
                              "free_s": 0.0, "wall_s": 0.0, "pages_written": 0,
                              "pages_freed": 0, "err": 0, "err_event": 0, "utime_s": 0.0,
                              "stime_s": 0.0, "maxrss_kb": 0, "minflt": 0, "majflt": 0}
        if self._prog.nprocs:
            results = [self._subtree(i, t) for i, t in enumerate(results)]
        self._state = 2
        return results

    cdef dict _subtree(self, int i, dict t):
        """Task ``i``'s result with its forked descendants' figures, and the first that failed."""
        cdef int q, p = self._root[i]
        cdef program_t* g = &self._prog
        procs = [p]
        k = 0
        while k < len(procs):
            procs += [q for q in range(g.nprocs) if g.proc_parent[q] == procs[k]]
            k += 1
        outs = [self._out[q] for q in procs]
        t["procs"] = len(procs)
        t["pages_written"] = sum(int(o["pages_written"]) for o in outs)
        t["pages_freed"] = sum(int(o["pages_freed"]) for o in outs)
        t["free_s"] = sum(int(o["free_ns"]) for o in outs) / 1e9
        end = max(int(o["end_ns"]) for o in outs)
        wend = max(int(o["write_end_ns"]) for o in outs)
        if t["status"] == 0 or end == 0:
            t["end_ns"] = max(t["end_ns"], end)
        t["write_end_ns"] = max(t["write_end_ns"], wend)
        if t["end_ns"]:
            t["wall_s"] = max(0, t["end_ns"] - self._go_ns) / 1e9
        t["write_s"] = max(0, t["write_end_ns"] - self._go_ns) / 1e9
        if t["status"] != 0:
            # the process that failed first: a syscall's errno, else one killed by a signal
            for q, o in zip(procs, outs):
                if o["err"] not in (0, EX_ERR_ABORTED) and q != p:
                    t.update(pid=int(o["pid"]), status=1, err=int(o["err"]),
                             err_event=int(o["err_event"]))
                    break
                if o["reaped"] and o["status"] < 0:
                    t.update(pid=int(o["pid"]), status=int(o["status"]))
                    break
        return t

    cdef int _pids_left(self) noexcept:
        cdef int i, k = 0
        for i in range(self._n):
            if self._pids[i] > 0:
                k += 1
        return k

    cdef dict _result(self, int i, pid_t r, int status, rusage* ru):
        o = &self._out[self._slot(i)]
        return {
            "pid": int(r),
            "status": WEXITSTATUS(status) if WIFEXITED(status) else -WTERMSIG(status),
            "go_ns": int(self._go_ns), "start_ns": int(o.start_ns),
            "write_end_ns": int(o.write_end_ns), "end_ns": int(o.end_ns),
            "write_s": max(0, o.write_end_ns - self._go_ns) / 1e9,
            "free_s": o.free_ns / 1e9,
            "wall_s": max(0, o.end_ns - self._go_ns) / 1e9 if o.end_ns else 0.0,
            "pages_written": int(o.pages_written), "pages_freed": int(o.pages_freed),
            "err": int(o.err), "err_event": int(o.err_event),
            "utime_s": ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
            "stime_s": ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
            "maxrss_kb": int(ru.ru_maxrss), "minflt": int(ru.ru_minflt),
            "majflt": int(ru.ru_majflt)}

    def kill(self):
        """SIGKILL and reap every child not yet reaped. Idempotent. Runtime complexity: O(tasks).

        >>> g = TaskGroup([]); g.kill(); g.state
        'killed'
        """
        self._reap_all(1)
        if self._state != 2:
            self._state = 3

    cdef void _reap_all(self, int sig) noexcept:
        cdef int i, status
        cdef pid_t r
        if self._pids == NULL:
            return
        for i in range(self._n):
            if self._pids[i] > 0:
                c_kill(self._pids[i], SIGKILL)
        for i in range(self._n):
            if self._pids[i] > 0:
                while True:
                    with nogil:
                        r = wait4(self._pids[i], &status, 0, NULL)
                    if r >= 0 or errno != EINTR:
                        break
                self._pids[i] = 0


