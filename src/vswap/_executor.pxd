# C interface of the trace executor: a workload trace run on real anonymous
# memory by one forked process per task (vswap/kernel runs it in a memory
# cgroup on the machine's kernel).
#
# A task's events are offsets into its own mapping (one mmap of its region,
# PMD-aligned so that every folio order of the trace is naturally aligned).
# The child writes its figures into a MAP_SHARED page that the parent reads
# after wait4(); nothing in the child touches a Python object.

from libc.stdint cimport uint8_t, uint32_t, int32_t, uint64_t, int64_t
from posix.types cimport pid_t

cdef enum:
    EX_PAGE_SHIFT = 12
    EX_PMD_PAGES = 512
    EX_FREE_MUNMAP = 0       # FREE zaps with munmap (usemem's timing_free)
    EX_FREE_DONTNEED = 1     # FREE zaps with madvise(MADV_DONTNEED)
    # what a child reports in task_out_t.err (besides an errno)
    EX_ERR_NONE = 0
    EX_ERR_NO_GO = -1        # the parent went away before GO
    EX_ERR_ABORTED = -2      # another process of the run failed: this one stopped
    EX_ERR_ORPHAN = -3       # a forked process found its parent gone before it started
    # ops of a program (a trace with FORK): the trace's codes, and a read
    EX_OP_TOUCH = 0
    EX_OP_WRITE = 1
    EX_OP_FREE = 2
    EX_OP_FORK = 3
    EX_OP_EXIT = 4
    EX_OP_PAGEOUT = 5
    EX_OP_DONTNEED = 6
    EX_OP_READ = 7           # a TOUCH of mapped pages: read each page (a fork's copy)
    EX_POLL_MS = 20          # a waiting process looks at its children this often

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

cdef extern from *:
    """
    #include <errno.h>
    #include <time.h>
    #include <sys/mman.h>
    #ifndef MADV_PAGEOUT
    #define MADV_PAGEOUT 21
    #endif
    #define EX_MADV_PAGEOUT MADV_PAGEOUT
    /* The turn of a program's rows: one shared counter (the next row), one futex word per
       process (bumped when its row comes up or the run aborts). Shared futexes: the words
       live in MAP_SHARED memory. */
    static inline uint32_t ex_load(const uint32_t* p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
    static inline void ex_store(uint32_t* p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
    static inline void ex_kick(uint32_t* w, int all) {
        __atomic_add_fetch(w, 1, __ATOMIC_SEQ_CST);
        syscall(SYS_futex, w, FUTEX_WAKE, all ? INT_MAX : 1, NULL, NULL, 0);
    }
    /* 0 when woken (or the word moved), ETIMEDOUT after ms milliseconds. */
    static inline int ex_wait(uint32_t* w, uint32_t seen, int ms) {
        struct timespec ts;
        ts.tv_sec = ms / 1000;
        ts.tv_nsec = (long)(ms % 1000) * 1000000L;
        if (syscall(SYS_futex, w, FUTEX_WAIT, seen, &ts, NULL, 0) != 0 && errno == ETIMEDOUT)
            return ETIMEDOUT;
        return 0;
    }
    /* A read of each page that the compiler keeps: the fault is the point. */
    static inline uint64_t ex_read_pages(const char* p, uint64_t n, uint64_t page) {
        uint64_t acc = 0, k;
        for (k = 0; k < n; k++)
            acc += *(volatile const uint64_t*)(p + k * page);
        return acc;
    }
    """
    const int EX_MADV_PAGEOUT
    uint32_t ex_load(const uint32_t* p) noexcept nogil
    void ex_store(uint32_t* p, uint32_t v) noexcept nogil
    void ex_kick(uint32_t* w, int all) noexcept nogil
    int ex_wait(uint32_t* w, uint32_t seen, int ms) noexcept nogil
    uint64_t ex_read_pages(const char* p, uint64_t n, uint64_t page) noexcept nogil

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
    int err_event            # the event that failed (in a program: the trace's row)
    int pid                  # a program's process: its pid, written by itself
    int status               # a forked process: its exit code or -signal, written by its parent
    int reaped               # a forked process: 1 once its parent has reaped it

# A trace with FORK as a tree of processes (vswap.process_tree.split_processes): every process
# runs its rows in the trace's order, each waiting for its turn on the shared counter.
cdef struct program_t:
    int nprocs
    uint64_t nrows
    const int32_t* row_owner
    const int32_t* proc_parent
    const int64_t* proc_first    # nprocs + 1
    const uint64_t* ev_row
    const uint8_t* ev_op
    const int32_t* ev_region
    const uint64_t* ev_off
    const uint64_t* ev_nr
    const uint8_t* ev_content
    const int32_t* ev_child
    int nregions
    const uint64_t* reg_first
    const uint64_t* reg_npages
    const int32_t* reg_owner
    const int32_t* reg_src
    const uint64_t* reg_src_off
    uint64_t nhp
    const int32_t* hp_region
    const uint64_t* hp_off
    const uint64_t* hp_nr
    # private to each process (a forked one works on its copy)
    char** reg_base
    char** reg_raw
    uint64_t* reg_rawlen
    pid_t* proc_pid
    # MAP_SHARED
    uint32_t* seq                # the next row to run
    uint32_t* abort_flag
    uint32_t* wake               # nprocs futex words
    task_out_t* out              # nprocs results
    int free_mode

cdef int run_task(const task_events_t* t, task_out_t* out, int free_mode, int* arrivals,
                  int ntasks) noexcept nogil
cdef int run_proc(program_t* g, int p) noexcept nogil
