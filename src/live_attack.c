/* The live engine's attack worker: feeds the input to the stream attack (src/stream.c), runs
 * optimisation iterations while time allows, and commits the perturbation in segments, which go to
 * the audio thread in preallocated slots. Runs on its own thread, on a host's worker thread
 * (adv_live_work), or inside adv_live_process in synchronous mode (live_attack_sync). */
#include "live_internal.h"
#include "advinst/blas.h"
#include "advinst/error.h"
#include "advinst/nn.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The free region stops this far before the latency: an iteration under way and the trip to the
 * audio thread must fit in it. */
#define SAFETY_SECONDS 0.3

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double live_horizon_seconds(const adv_live_config *c)
{
    return floor((c->latency_seconds - SAFETY_SECONDS) / c->segment_seconds + 1e-9) * c->segment_seconds;
}

int live_attack_init(adv_live *e)
{
    adv_stream_config sc;
    adv_stream_config_default(&sc, e->cfg.rate, e->C);
    sc.window_seconds = e->cfg.window_seconds;
    sc.segment_seconds = e->cfg.segment_seconds;
    sc.horizon_seconds = live_horizon_seconds(&e->cfg);
    sc.batch = e->cfg.batch;
    if (!(e->stream = adv_stream_create(e->model, &sc))) return -1;
    e->seg_buf = calloc((size_t)adv_stream_segment_frames(e->stream), sizeof(float));
    e->block_buf = calloc((size_t)CHUNK * e->C, sizeof(float));
    if (!e->seg_buf || !e->block_buf) return adv_fail("live: out of memory");
    e->rng = 0x6c697665ULL;
    return 0;
}

void live_attack_free(adv_live *e)
{
    adv_stream_free(e->stream);
    free(e->seg_buf);
    free(e->block_buf);
}

static int take_free_slot(adv_live *e)
{
    int slot;
    while (adv_ring_read(e->free_ring, &slot, sizeof slot) == 0) e->free_slots[e->n_free++] = slot;
    return e->n_free ? e->free_slots[--e->n_free] : -1;
}

static void send(adv_live *e, seg_msg *m)
{
    /* the ring holds more messages than slots exist; a full one means the audio thread stopped */
    if (adv_ring_write(e->pert_ring, m, sizeof *m) != 0) {
        live_overflow(e);
        if (m->slot >= 0) e->free_slots[e->n_free++] = m->slot;
    }
}

/* Commits the oldest segment of the free region and sends it to the audio thread. */
static int commit(adv_live *e)
{
    adv_stream_segment seg;
    if (!adv_stream_commit(e->stream, e->seg_buf, &seg)) return 0;
    atomic_fetch_add_explicit(&e->seg_done, 1, memory_order_relaxed);
    seg_msg m;
    memset(&m, 0, sizeof m);
    m.segment = (long)(seg.start / seg.frames);
    m.start = (uint64_t)seg.start;
    m.n = seg.frames;
    m.slot = -1;
    m.target = seg.target;
    m.windows = seg.windows;
    m.hits = seg.hits;
    m.after_class = seg.heard_class;
    m.after_confidence = seg.heard_confidence;
    m.snr_db = (float)seg.snr_db;
    m.iterations = seg.iterations;
    int any = 0;
    for (long i = 0; i < seg.frames && !any; i++) any = e->seg_buf[i] != 0;
    switch (seg.status) {
    case ADV_SEGMENT_OFF: m.report = 0; break;   /* no attack: only the fade-out, if any, plays */
    case ADV_SEGMENT_SILENT: m.report = 1; m.status = ADV_LIVE_SEG_SILENT; break;
    case ADV_SEGMENT_OK: m.report = 1; m.status = ADV_LIVE_SEG_OK; break;
    case ADV_SEGMENT_FAILED: m.report = 1; m.status = ADV_LIVE_SEG_FAILED; break;
    }
    if (any) {
        m.slot = take_free_slot(e);
        if (m.slot < 0) {
            m.status = ADV_LIVE_SEG_MISS;   /* cannot happen: slots cover what is in flight */
            m.snr_db = INFINITY;
        } else {
            memcpy(e->slot_buf[m.slot], e->seg_buf, sizeof(float) * (size_t)seg.frames);
        }
    }
    if (m.report || m.slot >= 0) send(e, &m);
    return 1;
}

/* Pushes what the audio thread has sent into the stream, committing segments to make room. A gap
 * (a block the full ring could not take) is filled with silence so the timeline stays exact. */
static int feed(adv_live *e)
{
    int fed = 0;
    block_hdr h;
    while (adv_ring_peek(e->in_ring, &h, sizeof h) == 0) {
        const size_t bytes = sizeof(float) * h.n * e->C;
        if (adv_ring_read_space(e->in_ring) < sizeof h + bytes) break;
        adv_ring_skip(e->in_ring, sizeof h);
        adv_ring_read(e->in_ring, e->block_buf, bytes);
        static const float zeros[CHUNK * ADV_LIVE_MAX_CHANNELS];
        while (e->fed < h.t0) {   /* a gap: silence */
            long n = h.t0 - e->fed < CHUNK ? (long)(h.t0 - e->fed) : CHUNK;
            while (adv_stream_room(e->stream) < n && commit(e)) {}
            if (adv_stream_push(e->stream, zeros, n) != 0) return fed;
            e->fed += (uint64_t)n;
        }
        long done = 0;
        while (done < (long)h.n) {
            while (adv_stream_room(e->stream) < 1 && commit(e)) {}
            long room = adv_stream_room(e->stream), n = (long)h.n - done;
            if (n > room) n = room;
            if (adv_stream_push(e->stream, e->block_buf + (size_t)done * e->C, n) != 0) return fed;
            done += n;
        }
        e->fed = h.t0 + h.n;
        fed = 1;
    }
    return fed;
}

/* The attack as the settings want it now, and the iteration cap per second; 0 when there is none. */
static int params(adv_live *e, adv_stream_params *p, long *cap)
{
    adv_live_settings s;
    adv_live_read_settings(e, ADV_LIVE_READER_ATTACK, &s);
    const int on = s.method != ADV_LIVE_OFF && s.target != ADV_LIVE_TARGET_NONE && !s.bypass;
    if (!on) {
        if (e->attacking) adv_stream_reset_free(e->stream);   /* fades out at the next commit */
        e->attacking = 0;
        return 0;
    }
    if (!e->attacking || s.version != e->settings_version) {
        e->target = s.target;
        if (s.target == ADV_LIVE_TARGET_RANDOM) {
            /* a class other than the input's, drawn now */
            int heard = adv_stream_input_class(e->stream), k;
            do k = (int)(adv_rng_next(&e->rng) % ADV_N_CLASSES);
            while (k == heard);
            e->target = k;
        }
        e->settings_version = s.version;
    }
    e->attacking = 1;
    p->method = s.method == ADV_LIVE_MSCW ? ADV_MSCW : ADV_CW;
    p->target = e->target;
    p->eps = s.eps;
    p->alpha = s.alpha;
    p->lr = s.lr;
    p->margin = s.confidence;
    p->bound_db = s.bound_db;
    *cap = s.max_iter;
    return 1;
}

/* One iteration if the attack is on and the per-second cap allows. */
static int iterate(adv_live *e, const adv_stream_params *p, long cap, double t)
{
    if (t - e->budget_start >= 1.0) {
        e->budget_start = t;
        e->budget_count = 0;
    }
    if (e->budget_count >= cap) return 0;
    if (!adv_stream_iterate(e->stream, p)) return 0;
    e->budget_count++;
    atomic_fetch_add_explicit(&e->iterations, 1, memory_order_relaxed);
    return 1;
}

int adv_live_work(adv_live *e, double max_seconds)
{
    const double t0 = now();
    int busy = 0;
    do {
        feed(e);
        adv_stream_params p;
        long cap;
        if (!params(e, &p, &cap)) return 0;
        busy = iterate(e, &p, cap, now());
    } while (busy && now() - t0 < max_seconds && !atomic_load(&e->stop));
    return busy;
}

void live_attack_sync(adv_live *e, uint32_t frames)
{
    if (!e->sync_thread_set || !pthread_equal(e->sync_thread, pthread_self())) {
        adv_blas_set_threads(e->cfg.attack_threads);   /* the host's thread runs the attack */
        e->sync_thread = pthread_self();
        e->sync_thread_set = 1;
    }
    feed(e);
    adv_stream_params p;
    long cap;
    if (!params(e, &p, &cap)) return;
    const double ips = e->cfg.sync_iterations < (double)cap ? e->cfg.sync_iterations : (double)cap;
    e->credit += ips * frames / e->cfg.rate;
    while (e->credit >= 1) {
        e->credit -= 1;
        if (adv_stream_iterate(e->stream, &p)) atomic_fetch_add_explicit(&e->iterations, 1, memory_order_relaxed);
    }
}

void *live_attack_main(void *arg)
{
    adv_live *e = arg;
    if (!e->cfg.workers_keep_priority) adv_rt_lower_priority(19);
    adv_rt_flush_denormals();
    adv_blas_set_threads(e->cfg.attack_threads);
    while (!atomic_load(&e->stop))
        if (!adv_live_work(e, 0.05)) adv_rt_nap();
    return NULL;
}
