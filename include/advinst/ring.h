/* A lock-free single-producer / single-consumer byte ring for the live engine's threads (the
 * audio thread on one side, a worker on the other). Writes and reads are all-or-nothing, so a
 * record of several parts (ring_write2) is never seen half-written. Wait-free on both sides: no
 * locks, no allocation after creation, no system calls. The storage is page-aligned, zeroed and
 * locked in RAM (adv_rt_alloc), so the audio thread never page-faults on it. */
#ifndef ADVINST_RING_H
#define ADVINST_RING_H
#include <stddef.h>

typedef struct adv_ring adv_ring;

/* A ring holding at least `bytes` bytes (rounded up to a power of two). NULL if out of memory. */
adv_ring *adv_ring_create(size_t bytes);
void adv_ring_free(adv_ring *r);

size_t adv_ring_read_space(const adv_ring *r);
size_t adv_ring_write_space(const adv_ring *r);

/* Writes a[na] then b[nb] as one record (b may be NULL with nb 0), or nothing: 0 or -1 (no room). */
int adv_ring_write2(adv_ring *r, const void *a, size_t na, const void *b, size_t nb);
static inline int adv_ring_write(adv_ring *r, const void *a, size_t n) { return adv_ring_write2(r, a, n, NULL, 0); }
/* Reads exactly n bytes, or nothing: 0 or -1 (fewer available). */
int adv_ring_read(adv_ring *r, void *dst, size_t n);
/* Copies exactly n bytes without consuming them: 0 or -1. */
int adv_ring_peek(const adv_ring *r, void *dst, size_t n);
/* Drops n bytes (n <= read space). */
void adv_ring_skip(adv_ring *r, size_t n);
#endif
