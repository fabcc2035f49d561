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
from libc.errno cimport errno, EINTR, EPIPE
from libc.stdint cimport uint8_t, uint64_t, int64_t, uintptr_t
from libc.stdlib cimport free
from libc.string cimport memset
from posix.mman cimport (mmap, munmap, madvise, PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_SHARED,
                         MAP_ANONYMOUS, MAP_FAILED, MADV_DONTNEED, MADV_HUGEPAGE)
from posix.resource cimport rusage
from posix.signal cimport kill as c_kill
from posix.time cimport clock_gettime, nanosleep, timespec, CLOCK_MONOTONIC
from posix.types cimport pid_t
from posix.unistd cimport fork, _exit, read, write, close, pipe
from vswap._mem cimport checked_calloc
from posix.wait cimport wait4, WIFEXITED, WEXITSTATUS, WIFSIGNALED, WTERMSIG, WNOHANG

import numpy as np

from vswap.workloads import FREE, TOUCH, Trace

__all__ = ["TaskGroup", "split_tasks", "FREE_MODES"]

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
    touch = np.flatnonzero(trace.op == TOUCH)
    if touch.size == 0:
        return []
    start = trace.vpn[touch]
    end = start + trace.nr[touch]
    order = np.argsort(start, kind="stable")
    start, end = start[order], end[order]
    reach = np.maximum.accumulate(end)
    # A region starts where a TOUCH begins past everything touched before it.
    new = np.ones(start.size, bool)
    new[1:] = start[1:] > reach[:-1]
    first = start[new]
    last = np.append(reach[np.flatnonzero(new)[1:] - 1], reach[-1])
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

    def __cinit__(self):
        self._ev = NULL
        self._out = NULL
        self._arrivals = NULL
        self._pids = NULL
        self._n = 0
        self._go_fd = -1
        self._state = 0
        self._keep = ()

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

    def __dealloc__(self):
        self._reap_all(1)
        if self._out != NULL:
            munmap(self._out, self._shared_bytes())
        if self._go_fd >= 0:
            close(self._go_fd)
        free(self._ev)
        free(self._pids)

    cdef size_t _shared_bytes(self) noexcept:
        return max(1, self._n) * sizeof(task_out_t) + sizeof(int64_t)

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
                    self._out[i].err = EX_ERR_NO_GO
                    _exit(3)
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
        self._state = 2
        return results

    cdef int _pids_left(self) noexcept:
        cdef int i, k = 0
        for i in range(self._n):
            if self._pids[i] > 0:
                k += 1
        return k

    cdef dict _result(self, int i, pid_t r, int status, rusage* ru):
        o = &self._out[i]
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


