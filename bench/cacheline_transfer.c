/* What a cache line shared by two CPUs costs on this machine: the price
 * vswap.contention gives a lock or an atomic that two reclaimers both take.
 *
 * One thread pinned to each of CPUs 0 and 1 passes a line back and forth:
 * each waits until it sees the other's write, then writes its own. Printed
 * one JSON object a run (argv[1] runs of argv[2] round trips):
 *   ping_ns     one CPU taking a line the other wrote, by a plain store:
 *               half a round trip;
 *   rmw_ns      the same by a lock-prefixed compare-and-swap (what
 *               spin_lock or an atomic_add on a shared counter does);
 *   solo_ns     a lock-prefixed fetch_add on a line this CPU owns;
 *   solo_lock_ns an uncontended spin_lock / spin_unlock pair.
 * The machine is shared: round trips are timed in batches of BATCH, and a
 * batch the scheduler interrupted (one thread off its CPU, the other
 * spinning) is an outlier; ping_ns and rmw_ns are the batches' 10th
 * percentile, *_p50_ns their median.
 * Build: cc -O2 -pthread cacheline_transfer.c (bench/measure_transfer.py does).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static _Alignas(128) _Atomic uint64_t line;
static _Alignas(128) _Atomic int lock;
static _Alignas(128) _Atomic int go;
static long ops;
/* round trips are timed in batches: a batch the scheduler interrupted (the
 * machine is shared) is an outlier the low quantile leaves out */
#define BATCH 64
#define MAXB 100000
static double batch[MAXB];
static long nbatch;

static int cmp(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double quantile(double q)
{
    qsort(batch, nbatch, sizeof batch[0], cmp);
    return nbatch ? batch[(long)(q * (nbatch - 1))] : 0;
}

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static void pin(int cpu)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}

static void spin_lock(void)
{
    for (;;) {
        if (!atomic_exchange_explicit(&lock, 1, memory_order_acquire))
            return;
        while (atomic_load_explicit(&lock, memory_order_relaxed))
            __builtin_ia32_pause();
    }
}

static void spin_unlock(void)
{
    atomic_store_explicit(&lock, 0, memory_order_release);
}

struct arg { int cpu; int mode; double ns; };

static void *worker(void *p)
{
    struct arg *a = p;
    long i;
    double t0;
    pin(a->cpu);
    atomic_fetch_add(&go, 1);
    while (atomic_load(&go) < 2)
        ;
    t0 = now_ns();
    if (a->mode == 0 || a->mode == 3) { /* ping-pong: cpu 0 writes odd, cpu 1 even */
        uint64_t mine = a->cpu == 0 ? 1 : 2, want;
        long b = 0;
        double tb = t0;
        for (i = 0; i < ops; i++, mine += 2) {
            while (atomic_load_explicit(&line, memory_order_acquire) != mine - 1)
                __builtin_ia32_pause();
            if (a->mode == 0) {
                atomic_store_explicit(&line, mine, memory_order_release);
            } else {                    /* a lock-prefixed RMW on the line the other wrote */
                want = mine - 1;
                atomic_compare_exchange_strong(&line, &want, mine);
            }
            if (a->cpu == 0 && (i + 1) % BATCH == 0 && b < MAXB) {
                double t = now_ns();
                batch[b++] = (t - tb) / BATCH;
                tb = t;
            }
        }
        if (a->cpu == 0)
            nbatch = b;
    }
    a->ns = now_ns() - t0;
    return NULL;
}

static double pair(int mode)
{
    pthread_t th[2];
    struct arg a[2] = {{0, mode, 0}, {1, mode, 0}};
    atomic_store(&line, 0);
    atomic_store(&lock, 0);
    atomic_store(&go, 0);
    for (int k = 0; k < 2; k++)
        pthread_create(&th[k], NULL, worker, &a[k]);
    for (int k = 0; k < 2; k++)
        pthread_join(th[k], NULL);
    return (a[0].ns > a[1].ns ? a[0].ns : a[1].ns) / ops;
}

static double solo(int mode)
{
    long i;
    double t0;
    pin(0);
    t0 = now_ns();
    if (mode == 1) {
        for (i = 0; i < ops; i++)
            atomic_fetch_add_explicit(&line, 1, memory_order_seq_cst);
    } else {
        for (i = 0; i < ops; i++) {
            spin_lock();
            spin_unlock();
        }
    }
    return (now_ns() - t0) / ops;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 21;
    ops = argc > 2 ? atol(argv[2]) : 200000;
    if (runs < 1 || ops < 1) {
        fprintf(stderr, "usage: %s RUNS OPS\n", argv[0]);
        return 2;
    }
    for (int r = 0; r < runs; r++) {
        /* a round trip is two transfers: one per thread's write */
        double ping, ping50, rmw, rmw50;
        pair(0);
        ping = quantile(0.1) / 2, ping50 = quantile(0.5) / 2;
        pair(3);
        rmw = quantile(0.1) / 2, rmw50 = quantile(0.5) / 2;
        double s_atom = solo(1), s_lk = solo(2);
        printf("{\"ping_ns\": %.2f, \"ping_p50_ns\": %.2f, \"rmw_ns\": %.2f, "
               "\"rmw_p50_ns\": %.2f, \"solo_ns\": %.2f, \"solo_lock_ns\": %.2f, "
               "\"batches\": %ld}\n", ping, ping50, rmw, rmw50, s_atom, s_lk, nbatch);
        fflush(stdout);
    }
    return 0;
}
