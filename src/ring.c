/* Single-producer / single-consumer byte ring (see include/advinst/ring.h). The writer owns
 * `head`, the reader owns `tail`; each publishes its index with release semantics after copying,
 * and reads the other's with acquire semantics, so bytes are visible before their index. */
#include "advinst/ring.h"
#include "advinst/live.h"
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

struct adv_ring {
    _Atomic size_t head;     /* bytes written in all, owned by the writer */
    char pad1[64 - sizeof(size_t)];
    _Atomic size_t tail;     /* bytes read in all, owned by the reader */
    char pad2[64 - sizeof(size_t)];
    size_t size, mask;
    char *buf;
};

adv_ring *adv_ring_create(size_t bytes)
{
    size_t size = 64;
    while (size < bytes) size <<= 1;
    adv_ring *r = adv_rt_alloc(sizeof *r);
    if (!r) return NULL;
    r->buf = adv_rt_alloc(size);
    if (!r->buf) {
        adv_rt_free(r, sizeof *r);
        return NULL;
    }
    r->size = size;
    r->mask = size - 1;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return r;
}

void adv_ring_free(adv_ring *r)
{
    if (!r) return;
    adv_rt_free(r->buf, r->size);
    adv_rt_free(r, sizeof *r);
}

size_t adv_ring_read_space(const adv_ring *r)
{
    adv_ring *m = (adv_ring *)r;
    return atomic_load_explicit(&m->head, memory_order_acquire) - atomic_load_explicit(&m->tail, memory_order_relaxed);
}

size_t adv_ring_write_space(const adv_ring *r)
{
    adv_ring *m = (adv_ring *)r;
    return r->size - (atomic_load_explicit(&m->head, memory_order_relaxed) -
                      atomic_load_explicit(&m->tail, memory_order_acquire));
}

static void copy_in(adv_ring *r, size_t at, const void *src, size_t n)
{
    size_t off = at & r->mask, first = r->size - off < n ? r->size - off : n;
    memcpy(r->buf + off, src, first);
    if (n > first) memcpy(r->buf, (const char *)src + first, n - first);
}

static void copy_out(const adv_ring *r, size_t at, void *dst, size_t n)
{
    size_t off = at & r->mask, first = r->size - off < n ? r->size - off : n;
    memcpy(dst, r->buf + off, first);
    if (n > first) memcpy((char *)dst + first, r->buf, n - first);
}

int adv_ring_write2(adv_ring *r, const void *a, size_t na, const void *b, size_t nb)
{
    if (adv_ring_write_space(r) < na + nb) return -1;
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    copy_in(r, head, a, na);
    if (nb) copy_in(r, head + na, b, nb);
    atomic_store_explicit(&r->head, head + na + nb, memory_order_release);
    return 0;
}

int adv_ring_peek(const adv_ring *r, void *dst, size_t n)
{
    if (adv_ring_read_space(r) < n) return -1;
    copy_out(r, atomic_load_explicit(&((adv_ring *)r)->tail, memory_order_relaxed), dst, n);
    return 0;
}

void adv_ring_skip(adv_ring *r, size_t n)
{
    atomic_store_explicit(&r->tail, atomic_load_explicit(&r->tail, memory_order_relaxed) + n, memory_order_release);
}

int adv_ring_read(adv_ring *r, void *dst, size_t n)
{
    if (adv_ring_peek(r, dst, n) != 0) return -1;
    adv_ring_skip(r, n);
    return 0;
}
