# C interface of the trace executor: a workload trace run on real anonymous
# memory by one forked process per task (vswap/kernel runs it in a memory
# cgroup on the machine's kernel).
#
# A task's events are offsets into its own mapping (one mmap of its region,
# PMD-aligned so that every folio order of the trace is naturally aligned).
# The child writes its figures into a MAP_SHARED page that the parent reads
# after wait4(); nothing in the child touches a Python object.

from libc.stdint cimport uint8_t, uint64_t, int64_t
from posix.types cimport pid_t

cdef enum:
    EX_PAGE_SHIFT = 12
    EX_PMD_PAGES = 512
    EX_FREE_MUNMAP = 0       # FREE zaps with munmap (usemem's timing_free)
    EX_FREE_DONTNEED = 1     # FREE zaps with madvise(MADV_DONTNEED)
    # what a child reports in task_out_t.err (besides an errno)
    EX_ERR_NONE = 0
    EX_ERR_NO_GO = -1        # the parent went away before GO

cdef extern from *:
    """
    #include <limits.h>
    #include <stdint.h>
    #include <linux/futex.h>
    #include <sys/syscall.h>
    #include <unistd.h>
    #define EX_NO_BARRIER UINT64_MAX
    /* Every task arrives once; the last one wakes the others. The counter lives in
       MAP_SHARED memory, so the futex is a shared (not private) one. */
    static inline void ex_barrier_wait(int* count, int n) {
        int seen = __atomic_add_fetch(count, 1, __ATOMIC_SEQ_CST);
        if (seen >= n) {
            syscall(SYS_futex, count, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
            return;
        }
        while ((seen = __atomic_load_n(count, __ATOMIC_SEQ_CST)) < n)
            syscall(SYS_futex, count, FUTEX_WAIT, seen, NULL, NULL, 0);
    }
    """
    const uint64_t EX_NO_BARRIER
    void ex_barrier_wait(int* count, int n) noexcept nogil

cdef struct task_events_t:
    const uint8_t* op
    const uint64_t* off      # first page, relative to the task's region
    const uint64_t* nr
    const uint8_t* order
    const uint8_t* content
    uint64_t nev
    uint64_t first_vpn       # the region's first page in the trace
    uint64_t npages          # the region's length
    uint64_t barrier         # the event before which the task waits for every task (EX_NO_BARRIER: none)

cdef struct task_out_t:
    int64_t start_ns         # CLOCK_MONOTONIC when the child saw GO
    int64_t write_end_ns     # end of the last TOUCH/WRITE event
    int64_t end_ns           # end of the last event
    int64_t free_ns          # time inside FREE events (the zaps)
    uint64_t pages_written
    uint64_t pages_freed
    int err                  # 0, an errno of a failed syscall, or EX_ERR_*
    int err_event            # the event that failed

cdef int run_task(const task_events_t* t, task_out_t* out, int free_mode, int* arrivals,
                  int ntasks) noexcept nogil
