/* See sched_probe.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sched_probe.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#define MAX_CPUS 64
#define MAX_STALLS 4096
#define PERIOD_NS 1000000L

static pthread_t threads[MAX_CPUS];
static int n_threads;
static atomic_int running, n_stalls;
static double threshold;
static double stall_at[MAX_STALLS], stall_len[MAX_STALLS];
static _Atomic long max_ns;

static double seconds(const struct timespec *t) { return t->tv_sec + 1e-9 * t->tv_nsec; }

static void *probe(void *arg)
{
    (void)arg;
    struct timespec next, woke;
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (atomic_load(&running)) {
        next.tv_nsec += PERIOD_NS;
        if (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec++; }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
        clock_gettime(CLOCK_MONOTONIC, &woke);
        const long late = (woke.tv_sec - next.tv_sec) * 1000000000L + (woke.tv_nsec - next.tv_nsec);
        long m = atomic_load(&max_ns);
        while (late > m && !atomic_compare_exchange_weak(&max_ns, &m, late)) {}
        if (late > threshold * 1e9) {
            const int i = atomic_fetch_add(&n_stalls, 1);
            if (i < MAX_STALLS) { stall_at[i] = seconds(&woke); stall_len[i] = late * 1e-9; }
            next = woke;   /* no burst of catch-up wake-ups */
        }
    }
    return NULL;
}

int sched_probe_start(double min_stall_s)
{
    threshold = min_stall_s;
    atomic_store(&running, 1);
    atomic_store(&n_stalls, 0);
    atomic_store(&max_ns, 0);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus > MAX_CPUS) cpus = MAX_CPUS;
    n_threads = 0;
    int rt = 0;
    for (long c = 0; c < cpus; c++) {
        pthread_attr_t a;
        pthread_attr_init(&a);
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET((int)c, &set);
        pthread_attr_setaffinity_np(&a, sizeof set, &set);
        pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED);
        pthread_attr_setschedpolicy(&a, SCHED_FIFO);
        /* above JACK's threads (server 10, clients 5): a slow client's callback does not delay the
         * probe, only a stall of the CPU itself does; its own work is a few microseconds a millisecond */
        struct sched_param p = {.sched_priority = 80};
        pthread_attr_setschedparam(&a, &p);
        int ok = pthread_create(&threads[n_threads], &a, probe, NULL) == 0;
        if (ok) rt = 1;
        else ok = pthread_create(&threads[n_threads], NULL, probe, NULL) == 0;   /* not real-time: still a reading */
        pthread_attr_destroy(&a);
        if (ok) n_threads++;
    }
    return rt ? 0 : -1;
}

void sched_probe_stop(void)
{
    atomic_store(&running, 0);
    for (int i = 0; i < n_threads; i++) pthread_join(threads[i], NULL);
    n_threads = 0;
}

double sched_probe_max(void) { return atomic_load(&max_ns) * 1e-9; }

int sched_probe_stalls(void) { return atomic_load(&n_stalls); }

int sched_probe_explains(double t, double before, double after)
{
    int n = atomic_load(&n_stalls);
    if (n > MAX_STALLS) n = MAX_STALLS;
    for (int i = 0; i < n; i++)
        if (stall_at[i] >= t - before && stall_at[i] - stall_len[i] <= t + after) return 1;
    return 0;
}
