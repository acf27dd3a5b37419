/* The live engine's audio thread: everything adv_live_process runs. Real-time safe: it only
 * copies, adds and counts, on memory allocated, zeroed and locked at creation; it talks to the
 * workers through single-producer / single-consumer rings and never waits for them. (In
 * synchronous mode, for offline hosts only, it also runs the attack: live_attack_sync.) */
#include "live_internal.h"
#include <float.h>
#include <math.h>
#include <string.h>
#include <time.h>

static void emit_audio_event(adv_live *e, const adv_live_event *ev)
{
    if (adv_ring_write(e->ev_audio, ev, sizeof *ev) != 0) live_overflow(e);
}

/* The report of a segment that starts to play (or was missed), and its count. */
static void emit_segment(adv_live *e, const seg_msg *m)
{
    atomic_long *counter = m->status == ADV_LIVE_SEG_OK       ? &e->seg_ok
                           : m->status == ADV_LIVE_SEG_FAILED ? &e->seg_failed
                           : m->status == ADV_LIVE_SEG_MISS   ? &e->seg_miss
                                                              : &e->seg_clean;
    if (!m->report) return;
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
    adv_live_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = ADV_LIVE_EV_SEGMENT;
    ev.frame = m->start;
    ev.segment = m->segment;
    ev.frames = m->n;
    ev.status = m->status;
    ev.target = m->target;
    ev.windows = m->windows;
    ev.hits = m->hits;
    ev.after_class = m->after_class;
    ev.after_confidence = m->after_confidence;
    ev.snr_db = m->snr_db;
    ev.iterations = m->iterations;
    memcpy(ev.message, m->message, sizeof ev.message);
    emit_audio_event(e, &ev);
}

static void release_slot(adv_live *e, int slot)
{
    if (slot >= 0 && adv_ring_write(e->free_ring, &slot, sizeof slot) != 0) live_overflow(e);
}

/* Takes the committed segments; one whose start has already played out is late: a miss. */
static void take_segments(adv_live *e, int64_t u0)
{
    seg_msg m;
    while (adv_ring_read(e->pert_ring, &m, sizeof m) == 0) {
        if (m.slot < 0) {   /* nothing to add: report it when it plays (now if already late) */
            if ((int64_t)m.start < u0) {
                if (m.status == ADV_LIVE_SEG_OK || m.status == ADV_LIVE_SEG_FAILED) {   /* attacked, late: a miss */
                    m.status = ADV_LIVE_SEG_MISS;
                    m.snr_db = INFINITY;
                }
                emit_segment(e, &m);
                continue;
            }
        } else if ((int64_t)m.start < u0) {
            m.status = ADV_LIVE_SEG_MISS;
            m.snr_db = INFINITY;
            release_slot(e, m.slot);
            emit_segment(e, &m);
            continue;
        }
        if (e->n_active == 2 * e->n_slots) {   /* cannot happen: slots bound what is in flight */
            live_overflow(e);
            release_slot(e, m.slot);
            continue;
        }
        m.started = 0;
        m.fading = 0;
        m.fade_in = m.slot >= 0 && m.start != e->next_start;
        e->next_start = m.start + (uint64_t)m.n;
        if (m.slot < 0) e->next_start = 0;   /* nothing played: whatever follows starts afresh */
        e->active[e->n_active++] = m;
    }
}

/* Raised-cosine weight k samples into a fade of e->ramp samples. */
static inline float fade(const adv_live *e, long k) { return k < e->ramp ? e->ramp_tbl[k] : 1.0f; }

/* 1 if a segment continuing m is queued (then m's end needs no fade-out). */
static int continued(const adv_live *e, const seg_msg *m)
{
    for (int a = 0; a < e->n_active; a++)
        if (e->active[a].slot >= 0 && e->active[a].start == m->start + (uint64_t)m->n) return 1;
    return 0;
}

/* An input sample as the engine uses it: NaN and +-Inf -> 0 (a glitch must not become a full-scale
 * click), denormals -> 0 (inaudible, and slow to compute with on many CPUs), the rest clamped to
 * [-1, 1] (the output never leaves it). */
static inline float sanitise(float x)
{
    if (!isfinite(x) || fabsf(x) < FLT_MIN) return 0.0f;
    if (x > 1.0f) return 1.0f;
    if (x < -1.0f) return -1.0f;
    return x;
}

/* Input: sanitised, into the delay line and the attack ring; its mono mix for the classifier. */
static void take_input(adv_live *e, const float *const *in, uint32_t off, uint32_t nf)
{
    const int C = e->C;
    const uint64_t t0 = e->t;
    for (uint32_t i = 0; i < nf; i++) {
        float mono = 0;
        for (int c = 0; c < C; c++) {
            const float x = sanitise(in[c][off + i]);
            e->delay[c][(t0 + i) & e->dmask] = x;
            e->scratch_in[(size_t)i * C + c] = x;
            mono += x;
        }
        e->scratch_mon[2 * i] = C == 1 ? mono : mono * 0.5f;
    }
    block_hdr h = {t0, nf};
    if (adv_ring_write2(e->in_ring, &h, sizeof h, e->scratch_in, sizeof(float) * nf * C) != 0) live_overflow(e);
}

/* Adds the segments that play in this chunk to the delayed input in out. */
static void add_segments(adv_live *e, float *const *out, uint32_t off, uint32_t nf, int64_t u0, int any_gain)
{
    const int C = e->C;
    for (int a = 0; a < e->n_active; a++) {
        seg_msg *m = &e->active[a];
        int64_t s = (int64_t)m->start, lo = s - u0, hi = s + m->n - u0;
        if (lo < 0) lo = 0;
        if (hi > (int64_t)nf) hi = nf;
        if (lo >= hi) continue;
        if (!m->started) { emit_segment(e, m); m->started = 1; }
        if (!any_gain || m->slot < 0) continue;
        const float *p = e->slot_buf[m->slot];
        /* once begun, a fade-out goes on even if a successor arrives meanwhile (it fades in) */
        const int fade_out = m->fading || ((s + m->n - u0 - hi) < e->ramp && !continued(e, m));
        m->fading = fade_out;
        if (fade_out && e->next_start == m->start + (uint64_t)m->n) e->next_start = 0;   /* a late successor fades in */
        for (int64_t i = lo; i < hi; i++) {
            const long k = (long)(u0 + i - s);
            float w = e->scratch_gain[i];
            if (m->fade_in) w *= fade(e, k);
            if (fade_out) w *= fade(e, m->n - 1 - k);
            for (int c = 0; c < C; c++) {
                float v = out[c][off + i] + w * p[k];
                out[c][off + i] = v > 1.0f ? 1.0f : (v < -1.0f ? -1.0f : v);
            }
        }
    }
    /* retire the segments that have played out */
    for (int a = 0; a < e->n_active;) {
        seg_msg *m = &e->active[a];
        if ((int64_t)(m->start + m->n) <= u0 + (int64_t)nf) {
            if (!m->started) emit_segment(e, m);
            release_slot(e, m->slot);
            e->active[a] = e->active[--e->n_active];
        } else {
            a++;
        }
    }
}

static void process_chunk(adv_live *e, const float *const *in, float *const *out, uint32_t off, uint32_t nf,
                          int bypass)
{
    const int C = e->C;
    const uint64_t t0 = e->t;
    const int64_t u0 = (int64_t)t0 - e->L;   /* input time of this chunk's first output frame */

    take_input(e, in, off, nf);
    if (e->cfg.synchronous) live_attack_sync(e, nf);
    take_segments(e, u0);

    /* output: the delayed input */
    for (int c = 0; c < C; c++) {
        float *o = out[c] + off;
        for (uint32_t i = 0; i < nf; i++) {
            int64_t u = u0 + (int64_t)i;
            o[i] = u >= 0 ? e->delay[c][(uint64_t)u & e->dmask] : 0.0f;
        }
    }

    /* perturbation gain: 1, or fading to 0 in bypass */
    const float target_gain = bypass ? 0.0f : 1.0f, step = 1.0f / (float)(e->ramp > 0 ? e->ramp : 1);
    int any_gain = 0;
    for (uint32_t i = 0; i < nf; i++) {
        if (e->gain < target_gain) e->gain = fminf(target_gain, e->gain + step);
        else if (e->gain > target_gain) e->gain = fmaxf(target_gain, e->gain - step);
        e->scratch_gain[i] = e->gain;
        if (e->gain > 0) any_gain = 1;
    }
    add_segments(e, out, off, nf, u0, any_gain);

    if (e->cfg.classify) {
        for (uint32_t i = 0; i < nf; i++) {
            float mono = 0;
            for (int c = 0; c < C; c++) mono += out[c][off + i];
            e->scratch_mon[2 * i + 1] = C == 1 ? mono : mono * 0.5f;
        }
        if (adv_ring_write(e->mon_ring, e->scratch_mon, sizeof(float) * 2 * nf) != 0) live_overflow(e);
    }
    e->t = t0 + nf;
}

/* The calling thread's CPU time in ns: what the process call itself costs, not the time the
 * thread (or a virtual CPU under it) was not running. */
static long thread_cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (long)t.tv_sec * 1000000000L + t.tv_nsec;
}

void adv_live_process(adv_live *e, const float *const *in, float *const *out, uint32_t nframes)
{
    const long cpu0 = thread_cpu_ns();
    adv_live_settings s;
    adv_live_read_settings(e, ADV_LIVE_READER_AUDIO, &s);
    for (uint32_t off = 0; off < nframes;) {
        uint32_t nf = nframes - off < CHUNK ? nframes - off : CHUNK;
        process_chunk(e, in, out, off, nf, s.bypass);
        off += nf;
        atomic_store_explicit(&e->t_pub, e->t, memory_order_release);
    }
    atomic_fetch_add_explicit(&e->periods, 1, memory_order_relaxed);
    const long cpu = thread_cpu_ns() - cpu0;
    int bin = 0;
    for (long us = cpu / 2000; us > 0 && bin < LIVE_CPU_BINS - 1; us >>= 1) bin++;
    atomic_fetch_add_explicit(&e->process_cpu_hist[bin], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&e->process_cpu_sum_ns, cpu, memory_order_relaxed);
    if (cpu > atomic_load_explicit(&e->process_cpu_max_ns, memory_order_relaxed))   /* the only writer */
        atomic_store_explicit(&e->process_cpu_max_ns, cpu, memory_order_relaxed);
}
