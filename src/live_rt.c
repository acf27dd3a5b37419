/* The live engine's audio thread: everything adv_live_process runs. Real-time safe: it only
 * copies, adds and counts, on memory allocated, zeroed and locked at creation; it talks to the
 * workers through single-producer / single-consumer rings and never waits for them. */
#include "live_internal.h"
#include <float.h>
#include <math.h>
#include <string.h>

static void emit_audio_event(adv_live *e, const adv_live_event *ev)
{
    if (adv_ring_write(e->ev_audio, ev, sizeof *ev) != 0)
        live_overflow(e);
}

/* ---- the audio thread ---- */

static void emit_clip(adv_live *e, const pert_msg *m)
{
    adv_live_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = ADV_LIVE_EV_CLIP;
    ev.frame = m->start;
    ev.clip = m->clip;
    ev.frames = m->n;
    ev.status = m->status;
    ev.target = m->target;
    ev.before_class = m->before_class;
    ev.after_class = m->after_class;
    ev.before_confidence = m->before_confidence;
    ev.after_confidence = m->after_confidence;
    ev.snr_db = m->snr_db;
    ev.iterations = m->iterations;
    ev.seconds = m->seconds;
    memcpy(ev.message, m->message, sizeof ev.message);
    emit_audio_event(e, &ev);
    atomic_long *counter = m->status == ADV_LIVE_CLIP_OK       ? &e->clips_ok
                           : m->status == ADV_LIVE_CLIP_FAILED ? &e->clips_failed
                           : m->status == ADV_LIVE_CLIP_MISS   ? &e->clips_miss
                                                               : &e->clips_clean;
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

static void release_slot(adv_live *e, int slot)
{
    if (adv_ring_write(e->free_ring, &slot, sizeof slot) != 0)
        live_overflow(e);
}

/* Takes the ready perturbations; those whose clip has started playing out are late: misses. */
static void take_perturbations(adv_live *e, int64_t u0)
{
    pert_msg m;
    while (adv_ring_read(e->pert_ring, &m, sizeof m) == 0) {
        if (m.slot < 0) { emit_clip(e, &m); continue; }
        if ((int64_t)m.start < u0 || e->n_active == e->n_slots) {
            m.status = ADV_LIVE_CLIP_MISS;
            m.snr_db = INFINITY;
            m.after_class = m.before_class;
            m.after_confidence = m.before_confidence;
            release_slot(e, m.slot);
            emit_clip(e, &m);
            continue;
        }
        m.started = 0;
        e->active[e->n_active++] = m;
    }
}

static inline float ramp_weight(const adv_live *e, long k, long n)
{
    long r = e->ramp < n / 2 ? e->ramp : n / 2;
    if (k < r) return e->ramp_tbl[k * e->ramp / (r ? r : 1)];
    if (n - 1 - k < r) return e->ramp_tbl[(n - 1 - k) * e->ramp / (r ? r : 1)];
    return 1.0f;
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

static void process_chunk(adv_live *e, const float *const *in, float *const *out, uint32_t off, uint32_t nf,
                          int bypass)
{
    const int C = e->C;
    const uint64_t t0 = e->t;
    const int64_t u0 = (int64_t)t0 - e->L;   /* input time of this chunk's first output frame */

    /* input: sanitise, into the delay line and the attack ring; mono mix for the classifier */
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
    if (adv_ring_write2(e->in_ring, &h, sizeof h, e->scratch_in, sizeof(float) * nf * C) != 0)
        live_overflow(e);

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

    for (int a = 0; a < e->n_active; a++) {
        pert_msg *m = &e->active[a];
        int64_t s = (int64_t)m->start, lo = s - u0, hi = s + m->n - u0;
        if (lo < 0) lo = 0;
        if (hi > (int64_t)nf) hi = nf;
        if (lo >= hi) continue;
        if (!m->started) { emit_clip(e, m); m->started = 1; }
        if (!any_gain) continue;
        const float *p = e->slot_buf[m->slot];
        for (int64_t i = lo; i < hi; i++) {
            long k = (long)(u0 + i - s);
            float w = ramp_weight(e, k, m->n) * e->scratch_gain[i];
            for (int c = 0; c < C; c++) {
                float v = out[c][off + i] + w * p[(size_t)k * C + c];
                out[c][off + i] = v > 1.0f ? 1.0f : (v < -1.0f ? -1.0f : v);
            }
        }
    }
    /* retire the perturbations that have played out */
    for (int a = 0; a < e->n_active;) {
        pert_msg *m = &e->active[a];
        if ((int64_t)(m->start + m->n) <= u0 + (int64_t)nf) {
            if (!m->started) emit_clip(e, m);
            release_slot(e, m->slot);
            e->active[a] = e->active[--e->n_active];
        } else {
            a++;
        }
    }

    if (e->cfg.classify) {
        for (uint32_t i = 0; i < nf; i++) {
            float mono = 0;
            for (int c = 0; c < C; c++) mono += out[c][off + i];
            e->scratch_mon[2 * i + 1] = C == 1 ? mono : mono * 0.5f;
        }
        if (adv_ring_write(e->mon_ring, e->scratch_mon, sizeof(float) * 2 * nf) != 0)
            live_overflow(e);
    }
    e->t = t0 + nf;
}

void adv_live_process(adv_live *e, const float *const *in, float *const *out, uint32_t nframes)
{
    adv_live_settings s;
    adv_live_read_settings(e, ADV_LIVE_READER_AUDIO, &s);
    for (uint32_t off = 0; off < nframes;) {
        uint32_t nf = nframes - off < CHUNK ? nframes - off : CHUNK;
        take_perturbations(e, (int64_t)e->t - e->L);
        /* cancel the running attack once its clip would have to start playing */
        uint64_t job = atomic_load(&e->job);
        if (job != JOB_IDLE && !(job & JOB_CANCEL_BIT) && e->t + nf > (job & JOB_DEADLINE_MASK) &&
            atomic_compare_exchange_strong(&e->job, &job, job | JOB_CANCEL_BIT))
            atomic_store(&e->cancel, 1);
        process_chunk(e, in, out, off, nf, s.bypass);
        off += nf;
    }
    atomic_store_explicit(&e->t_pub, e->t, memory_order_release);
    atomic_fetch_add_explicit(&e->periods, 1, memory_order_relaxed);
}
