/* Real-time memory, denormal flushing and worker priorities (see include/advinst/rt.h). */
#include "advinst/rt.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

static size_t page_round(size_t bytes)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return bytes ? (bytes + page - 1) / page * page : page;
}

void *adv_rt_alloc(size_t bytes)
{
    const size_t size = page_round(bytes);
    void *p = NULL;
    if (posix_memalign(&p, (size_t)sysconf(_SC_PAGESIZE), size) != 0) return NULL;
    memset(p, 0, size);
    mlock(p, size);   /* fails beyond RLIMIT_MEMLOCK: the pages are resident all the same */
    return p;
}

void adv_rt_free(void *p, size_t bytes)
{
    if (!p) return;
    munlock(p, page_round(bytes));   /* whole pages of this block only */
    free(p);
}

/* Values below 1.2e-38 matter to no decision the workers make, and on many CPUs arithmetic on
 * them costs about 100 cycles (microcode): the workers must keep their deadlines whatever the
 * signal. */
void adv_rt_flush_denormals(void)
{
#if defined(__SSE__)
    _mm_setcsr(_mm_getcsr() | 0x8040);   /* FTZ (bit 15) | DAZ (bit 6) */
#elif defined(__aarch64__)
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    __asm__ volatile("msr fpcr, %0" : : "r"(fpcr | (1ULL << 24)));   /* FZ */
#endif
}

unsigned long adv_rt_fp_mode(void)
{
#if defined(__SSE__)
    return _mm_getcsr();
#elif defined(__aarch64__)
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    return (unsigned long)fpcr;
#else
    return 0;
#endif
}

void adv_rt_set_fp_mode(unsigned long mode)
{
#if defined(__SSE__)
    _mm_setcsr((unsigned)mode);
#elif defined(__aarch64__)
    __asm__ volatile("msr fpcr, %0" : : "r"((uint64_t)mode));
#else
    (void)mode;
#endif
}

/* Without real-time scheduling (common in containers and with the dummy backend) a busy worker
 * at the same priority delays JACK's cycle into xruns. */
void adv_rt_lower_priority(int nice_value)
{
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice_value);
}

void adv_rt_nap(void)
{
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
}
