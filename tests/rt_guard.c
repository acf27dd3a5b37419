/* rt_guard: an LD_PRELOAD library that catches what an audio thread must never do. While the
 * calling thread is marked as audio thread, every call to an interposed function (allocation,
 * locks and waits, sleeps, file and socket I/O, printing, memory mapping, thread management) is
 * recorded, then carried out as usual. At exit it writes a report to $RT_GUARD_REPORT (else
 * stderr):
 *
 *   rt_guard: periods P, violations V
 *   violation malloc from advinst+0x1234 (adv_live_process)      (up to 32 distinct ones)
 *
 * Marking the audio thread:
 *   - JACK: jack_set_process_callback is interposed; the callback JACK calls is wrapped so that
 *     the thread is marked while the application's callback runs (JACK's own code around it is
 *     not ours to judge);
 *   - any other host (tests/lv2_host.c around the plugin's run()): rt_guard_enter() and
 *     rt_guard_leave(), looked up with dlsym(RTLD_DEFAULT, ...).
 * Each marked section counts as a period, so a report of 0 periods shows that nothing was guarded
 * (the test then fails instead of passing vacuously).
 *
 * The recording itself allocates, locks and prints nothing: fixed arrays and atomics. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define MAX_SITES 32

static _Thread_local int in_audio;
static atomic_long periods, violations;
static struct {
    const char *what;
    void *caller;
    char where[192];   /* "object+offset (symbol)", filled outside the audio thread */
} sites[MAX_SITES];
static atomic_int n_sites;

/* Records a call made in the audio thread (each distinct function and caller once). */
static void record(const char *what, void *caller)
{
    atomic_fetch_add(&violations, 1);
    int n = atomic_load(&n_sites);
    for (int i = 0; i < n && i < MAX_SITES; i++)
        if (sites[i].what == what && sites[i].caller == caller) return;
    int slot = atomic_fetch_add(&n_sites, 1);
    if (slot < MAX_SITES) {
        sites[slot].what = what;
        sites[slot].caller = caller;
    }
}

#define CHECK_RT(name) do { if (in_audio) record(name, __builtin_return_address(0)); } while (0)

EXPORT void rt_guard_enter(void)
{
    in_audio = 1;
    atomic_fetch_add(&periods, 1);
}
EXPORT void rt_guard_leave(void) { in_audio = 0; }

/* The next definition of a function (libc, libjack, ...), looked up once. */
#define REAL(name) static __typeof__(&name) real_##name; \
    if (!real_##name) real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

/* ---- allocation (glibc's own entry points: no dlsym while malloc is being resolved) ---- */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

EXPORT void *malloc(size_t n) { CHECK_RT("malloc"); return __libc_malloc(n); }
EXPORT void *calloc(size_t a, size_t b) { CHECK_RT("calloc"); return __libc_calloc(a, b); }
EXPORT void *realloc(void *p, size_t n) { CHECK_RT("realloc"); return __libc_realloc(p, n); }
EXPORT void free(void *p) { CHECK_RT("free"); __libc_free(p); }
EXPORT void *memalign(size_t a, size_t n) { CHECK_RT("memalign"); return __libc_memalign(a, n); }
EXPORT void *aligned_alloc(size_t a, size_t n) { CHECK_RT("aligned_alloc"); return __libc_memalign(a, n); }
EXPORT int posix_memalign(void **out, size_t a, size_t n)
{
    CHECK_RT("posix_memalign");
    if (a < sizeof(void *) || (a & (a - 1))) return EINVAL;
    void *p = __libc_memalign(a, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

/* ---- locks, waits, threads ---- */
EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
    CHECK_RT("pthread_mutex_lock");
    REAL(pthread_mutex_lock);
    return real_pthread_mutex_lock(m);
}
EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *t)
{
    CHECK_RT("pthread_mutex_timedlock");
    REAL(pthread_mutex_timedlock);
    return real_pthread_mutex_timedlock(m, t);
}
EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
    CHECK_RT("pthread_rwlock_rdlock");
    REAL(pthread_rwlock_rdlock);
    return real_pthread_rwlock_rdlock(l);
}
EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
    CHECK_RT("pthread_rwlock_wrlock");
    REAL(pthread_rwlock_wrlock);
    return real_pthread_rwlock_wrlock(l);
}
EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    CHECK_RT("pthread_cond_wait");
    REAL(pthread_cond_wait);
    return real_pthread_cond_wait(c, m);
}
EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *t)
{
    CHECK_RT("pthread_cond_timedwait");
    REAL(pthread_cond_timedwait);
    return real_pthread_cond_timedwait(c, m, t);
}
EXPORT int sem_wait(sem_t *s)
{
    CHECK_RT("sem_wait");
    REAL(sem_wait);
    return real_sem_wait(s);
}
EXPORT int sem_timedwait(sem_t *s, const struct timespec *t)
{
    CHECK_RT("sem_timedwait");
    REAL(sem_timedwait);
    return real_sem_timedwait(s, t);
}
EXPORT int pthread_join(pthread_t t, void **r)
{
    CHECK_RT("pthread_join");
    REAL(pthread_join);
    return real_pthread_join(t, r);
}
EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*f)(void *), void *arg)
{
    CHECK_RT("pthread_create");
    REAL(pthread_create);
    return real_pthread_create(t, a, f, arg);
}

/* ---- sleeping ---- */
EXPORT int nanosleep(const struct timespec *a, struct timespec *b)
{
    CHECK_RT("nanosleep");
    REAL(nanosleep);
    return real_nanosleep(a, b);
}
EXPORT int clock_nanosleep(clockid_t c, int f, const struct timespec *a, struct timespec *b)
{
    CHECK_RT("clock_nanosleep");
    REAL(clock_nanosleep);
    return real_clock_nanosleep(c, f, a, b);
}
EXPORT int usleep(useconds_t u)
{
    CHECK_RT("usleep");
    REAL(usleep);
    return real_usleep(u);
}
EXPORT unsigned sleep(unsigned s)
{
    CHECK_RT("sleep");
    REAL(sleep);
    return real_sleep(s);
}
EXPORT int poll(struct pollfd *f, nfds_t n, int t)
{
    CHECK_RT("poll");
    REAL(poll);
    return real_poll(f, n, t);
}
EXPORT int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t)
{
    CHECK_RT("select");
    REAL(select);
    return real_select(n, r, w, e, t);
}

/* ---- file and socket I/O ---- */
EXPORT ssize_t read(int fd, void *b, size_t n)
{
    CHECK_RT("read");
    REAL(read);
    return real_read(fd, b, n);
}
EXPORT ssize_t write(int fd, const void *b, size_t n)
{
    CHECK_RT("write");
    REAL(write);
    return real_write(fd, b, n);
}
/* open and open64 (the same on 64-bit systems): the mode argument only with O_CREAT or O_TMPFILE */
#define OPEN_LIKE(name)                                                                  \
    EXPORT int name(const char *path, int flags, ...)                                    \
    {                                                                                    \
        CHECK_RT(#name);                                                                 \
        mode_t mode = 0;                                                                 \
        if (flags & (O_CREAT | O_TMPFILE)) {                                             \
            va_list ap;                                                                  \
            va_start(ap, flags);                                                         \
            mode = va_arg(ap, mode_t);                                                   \
            va_end(ap);                                                                  \
        }                                                                                \
        REAL(name);                                                                      \
        return real_##name(path, flags, mode);                                           \
    }
OPEN_LIKE(open)
OPEN_LIKE(open64)
EXPORT int close(int fd)
{
    CHECK_RT("close");
    REAL(close);
    return real_close(fd);
}
EXPORT ssize_t sendto(int fd, const void *b, size_t n, int f, const struct sockaddr *a, socklen_t l)
{
    CHECK_RT("sendto");
    REAL(sendto);
    return real_sendto(fd, b, n, f, a, l);
}
EXPORT ssize_t send(int fd, const void *b, size_t n, int f)
{
    CHECK_RT("send");
    REAL(send);
    return real_send(fd, b, n, f);
}
EXPORT ssize_t recvfrom(int fd, void *b, size_t n, int f, struct sockaddr *a, socklen_t *l)
{
    CHECK_RT("recvfrom");
    REAL(recvfrom);
    return real_recvfrom(fd, b, n, f, a, l);
}
EXPORT ssize_t recv(int fd, void *b, size_t n, int f)
{
    CHECK_RT("recv");
    REAL(recv);
    return real_recv(fd, b, n, f);
}
EXPORT void *mmap(void *a, size_t n, int prot, int flags, int fd, off_t off)
{
    CHECK_RT("mmap");
    REAL(mmap);
    return real_mmap(a, n, prot, flags, fd, off);
}
EXPORT int munmap(void *a, size_t n)
{
    CHECK_RT("munmap");
    REAL(munmap);
    return real_munmap(a, n);
}

/* ---- stdio ---- */
EXPORT FILE *fopen(const char *path, const char *mode)
{
    CHECK_RT("fopen");
    REAL(fopen);
    return real_fopen(path, mode);
}
EXPORT int fclose(FILE *f)
{
    CHECK_RT("fclose");
    REAL(fclose);
    return real_fclose(f);
}
EXPORT size_t fwrite(const void *b, size_t s, size_t n, FILE *f)
{
    CHECK_RT("fwrite");
    REAL(fwrite);
    return real_fwrite(b, s, n, f);
}
EXPORT size_t fread(void *b, size_t s, size_t n, FILE *f)
{
    CHECK_RT("fread");
    REAL(fread);
    return real_fread(b, s, n, f);
}
EXPORT int fflush(FILE *f)
{
    CHECK_RT("fflush");
    REAL(fflush);
    return real_fflush(f);
}
EXPORT int fputs(const char *s, FILE *f)
{
    CHECK_RT("fputs");
    REAL(fputs);
    return real_fputs(s, f);
}
EXPORT int puts(const char *s)
{
    CHECK_RT("puts");
    REAL(puts);
    return real_puts(s);
}
EXPORT int fputc(int c, FILE *f)
{
    CHECK_RT("fputc");
    REAL(fputc);
    return real_fputc(c, f);
}
EXPORT int putchar(int c)
{
    CHECK_RT("putchar");
    REAL(putchar);
    return real_putchar(c);
}
EXPORT int vfprintf(FILE *f, const char *fmt, va_list ap)
{
    CHECK_RT("vfprintf");
    REAL(vfprintf);
    return real_vfprintf(f, fmt, ap);
}
EXPORT int vprintf(const char *fmt, va_list ap)
{
    CHECK_RT("vprintf");
    REAL(vfprintf);
    return real_vfprintf(stdout, fmt, ap);
}
EXPORT int fprintf(FILE *f, const char *fmt, ...)
{
    CHECK_RT("fprintf");
    REAL(vfprintf);
    va_list ap;
    va_start(ap, fmt);
    int r = real_vfprintf(f, fmt, ap);
    va_end(ap);
    return r;
}
EXPORT int printf(const char *fmt, ...)
{
    CHECK_RT("printf");
    REAL(vfprintf);
    va_list ap;
    va_start(ap, fmt);
    int r = real_vfprintf(stdout, fmt, ap);
    va_end(ap);
    return r;
}
/* glibc's fortified printf family (-D_FORTIFY_SOURCE) */
EXPORT int __printf_chk(int flag, const char *fmt, ...)
{
    (void)flag;
    CHECK_RT("printf");
    REAL(vfprintf);
    va_list ap;
    va_start(ap, fmt);
    int r = real_vfprintf(stdout, fmt, ap);
    va_end(ap);
    return r;
}
EXPORT int __fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
    (void)flag;
    CHECK_RT("fprintf");
    REAL(vfprintf);
    va_list ap;
    va_start(ap, fmt);
    int r = real_vfprintf(f, fmt, ap);
    va_end(ap);
    return r;
}

/* ---- JACK: mark the process callback's thread while the application's callback runs ---- */
typedef int (*process_fn)(uint32_t nframes, void *arg);
#define MAX_CLIENTS 16
static struct { process_fn fn; void *arg; } clients[MAX_CLIENTS];
static atomic_int n_clients;

static int guarded_process(uint32_t nframes, void *slot)
{
    const int i = (int)(intptr_t)slot;
    rt_guard_enter();
    int r = clients[i].fn(nframes, clients[i].arg);
    rt_guard_leave();
    return r;
}

EXPORT int jack_set_process_callback(void *client, process_fn fn, void *arg)
{
    REAL(jack_set_process_callback);
    int i = atomic_fetch_add(&n_clients, 1);
    if (i >= MAX_CLIENTS || !fn) return real_jack_set_process_callback(client, fn, arg);
    clients[i].fn = fn;
    clients[i].arg = arg;
    return real_jack_set_process_callback(client, guarded_process, (void *)(intptr_t)i);
}

/* ---- the report ---- */

/* Names the callers recorded so far (never from the audio thread: dladdr takes the loader's lock). */
static void resolve_sites(void)
{
    int n = atomic_load(&n_sites);
    for (int i = 0; i < n && i < MAX_SITES; i++) {
        if (sites[i].where[0] || !sites[i].what) continue;
        Dl_info info;
        memset(&info, 0, sizeof info);
        dladdr(sites[i].caller, &info);
        const char *obj = info.dli_fname ? strrchr(info.dli_fname, '/') : NULL;
        snprintf(sites[i].where, sizeof sites[i].where, "%s+%#lx (%s)", obj ? obj + 1 : "?",
                 (unsigned long)((char *)sites[i].caller - (char *)info.dli_fbase), info.dli_sname ? info.dli_sname : "?");
    }
}

/* A plugin unloaded before the exit report: its callers are named first. */
EXPORT int dlclose(void *handle)
{
    if (!in_audio) resolve_sites();
    REAL(dlclose);
    return real_dlclose(handle);
}

__attribute__((destructor)) static void report(void)
{
    in_audio = 0;
    resolve_sites();
    const char *path = getenv("RT_GUARD_REPORT");
    FILE *f = path && *path ? fopen(path, "w") : NULL;
    FILE *out = f ? f : stderr;
    fprintf(out, "rt_guard: periods %ld, violations %ld\n", atomic_load(&periods), atomic_load(&violations));
    int n = atomic_load(&n_sites);
    for (int i = 0; i < n && i < MAX_SITES; i++) fprintf(out, "violation %s from %s\n", sites[i].what, sites[i].where);
    if (f) fclose(f);
}
