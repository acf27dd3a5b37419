/* The live engine (see include/advinst/live.h): life cycle, configuration, statistics and events.
 * The parts: live_settings.c (settings), live_rt.c (the audio thread), live_attack.c and
 * live_classify.c (the workers); src/live_internal.h holds what they share. */
#include "live_internal.h"
#include "advinst/error.h"
#include "advinst/frontend.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void adv_live_config_default(adv_live_config *c, int rate, int channels)
{
    memset(c, 0, sizeof *c);
    c->rate = rate;
    c->channels = channels;
    c->latency_seconds = 2.0;
    c->segment_seconds = 0.2;
    c->batch = 2;
    c->window_seconds = 3.7;
    c->classify_hz = 10.0;
    c->ramp_ms = 10.0;
    c->classify = 1;
    long procs = sysconf(_SC_NPROCESSORS_ONLN);
    c->attack_threads = procs > 1 ? (int)procs : 1;
    c->sync_iterations = 40;
}

const adv_live_config *adv_live_get_config(const adv_live *e) { return &e->cfg; }
long adv_live_latency(const adv_live *e) { return e->L; }
long adv_live_segment_frames(const adv_live *e) { return e->S; }
long adv_live_window_frames(const adv_live *e) { return e->W; }
void adv_live_count_xrun(adv_live *e) { atomic_fetch_add_explicit(&e->xruns, 1, memory_order_relaxed); }

int adv_live_poll_event(adv_live *e, adv_live_event *ev)
{
    if (adv_ring_read(e->ev_audio, ev, sizeof *ev) == 0) return 1;
    if (adv_ring_read(e->ev_clf, ev, sizeof *ev) == 0) return 1;
    return 0;
}

void adv_live_get_stats(const adv_live *e, adv_live_stats *s)
{
    adv_live *m = (adv_live *)e;
    memset(s, 0, sizeof *s);
    s->frames = atomic_load(&m->t_pub);
    s->periods = atomic_load(&m->periods);
    s->segments_ok = atomic_load(&m->seg_ok);
    s->segments_failed = atomic_load(&m->seg_failed);
    s->segments_miss = atomic_load(&m->seg_miss);
    s->segments_clean = atomic_load(&m->seg_clean);
    s->segments_done = atomic_load(&m->seg_done);
    s->iterations = atomic_load(&m->iterations);
    s->ring_overflows = atomic_load(&m->overflows);
    s->xruns = atomic_load(&m->xruns);
    s->process_cpu_max_us = atomic_load(&m->process_cpu_max_ns) * 1e-3;
    s->process_cpu_mean_us = s->periods ? atomic_load(&m->process_cpu_sum_ns) * 1e-3 / s->periods : 0;
    long counts[LIVE_CPU_BINS], all = 0, below = 0;
    for (int b = 0; b < LIVE_CPU_BINS; b++) all += counts[b] = atomic_load(&m->process_cpu_hist[b]);
    s->process_cpu_p99_us = 0;
    for (int b = 0; b < LIVE_CPU_BINS && all > 0; b++) {
        below += counts[b];
        if (below >= 0.99 * all) {   /* the upper edge of the bin the 99th percentile falls in */
            s->process_cpu_p99_us = b < LIVE_CPU_BINS - 1 ? (double)(2L << b) : s->process_cpu_max_us;
            break;
        }
    }
}

/* ---- a usable random model ---- */

adv_model *adv_live_random_model(uint64_t seed)
{
    adv_model *m = adv_model_create_calibrated(seed);
    if (m) adv_model_set_meta(m, "description", "untrained (advinst live random model)");
    return m;
}

/* ---- life cycle ---- */

/* Worker buffers: zeroed (touched) now. */
static float *zalloc(size_t n)
{
    float *p = malloc(sizeof(float) * (n ? n : 1));
    if (p) memset(p, 0, sizeof(float) * (n ? n : 1));
    return p;
}

static float *rt_floats(size_t n) { return adv_rt_alloc(sizeof(float) * n); }

/* Perturbation buffers the engine needs: a segment's buffer is taken when it is committed (at
 * least the safety margin, at most the latency before it plays) and handed back when it has played
 * out, so the segments starting within any L + CHUNK frames hold one each; two more for the one
 * being committed and the one being handed back. */
static int slots_needed(const adv_live *e) { return (int)((e->L + CHUNK + e->S - 1) / e->S) + 3; }

void adv_live_free(adv_live *e)
{
    if (!e) return;
    atomic_store(&e->stop, 1);
    if (e->attack_started) pthread_join(e->attack_thread, NULL);
    if (e->classify_started) pthread_join(e->classify_thread, NULL);
    for (int c = 0; c < ADV_LIVE_MAX_CHANNELS; c++) adv_rt_free(e->delay[c], sizeof(float) * (e->dmask + 1));
    for (int s = 0; s < e->n_slots && e->slot_buf; s++) adv_rt_free(e->slot_buf[s], sizeof(float) * (size_t)e->S);
    adv_rt_free(e->slot_buf, sizeof *e->slot_buf * (size_t)e->n_slots);
    adv_rt_free(e->free_slots, sizeof *e->free_slots * (size_t)e->n_slots);
    adv_rt_free(e->active, sizeof *e->active * 2 * (size_t)e->n_slots);
    adv_ring *rings[] = {e->in_ring, e->mon_ring, e->pert_ring, e->free_ring, e->ev_audio, e->ev_clf};
    for (size_t i = 0; i < sizeof rings / sizeof rings[0]; i++) adv_ring_free(rings[i]);
    adv_rt_free(e->ramp_tbl, sizeof(float) * ((size_t)e->ramp + 1));
    adv_rt_free(e->scratch_in, sizeof(float) * CHUNK * e->C);
    adv_rt_free(e->scratch_mon, sizeof(float) * 2 * CHUNK);
    adv_rt_free(e->scratch_gain, sizeof(float) * CHUNK);
    live_attack_free(e);
    free(e->win[0]);
    free(e->win[1]);
    free(e->lin);
    free(e->pairs);
    adv_classifier_free(e->clf);
    pthread_mutex_destroy(&e->writer_lock);
    adv_rt_free(e, sizeof *e);
}

static int valid_config(const adv_live_config *c)
{
    if (c->rate < 8000 || c->rate > 384000) return adv_fail("live: unsupported sample rate %d", c->rate);
    if (c->channels < 1 || c->channels > ADV_LIVE_MAX_CHANNELS)
        return adv_fail("live: channels must be 1 or 2 (got %d)", c->channels);
    if (!(c->segment_seconds >= 0.02 && c->segment_seconds <= 5))
        return adv_fail("live: segments must be 0.02 to 5 s long (got %g)", c->segment_seconds);
    if (!(c->latency_seconds >= c->segment_seconds + 0.5 && c->latency_seconds <= 60))
        return adv_fail("live: the latency must be at least a segment + 0.5 s and at most 60 s (got %g)", c->latency_seconds);
    if (!(c->window_seconds >= 1.2 && c->window_seconds <= 60) || !(c->classify_hz > 0 && c->classify_hz <= 1000) ||
        !(c->ramp_ms >= 0 && c->ramp_ms <= 1000) || c->batch < 1 || c->batch > 16 ||
        !(c->sync_iterations >= 0 && c->sync_iterations <= 1e5))
        return adv_fail("live: window in [1.2, 60] s, classify rate in (0, 1000] Hz, ramp in [0, 1000] ms, batch 1..16");
    return 0;
}

adv_live *adv_live_create(adv_model *m, const adv_live_config *cfg, const adv_live_settings *initial)
{
    if (!m || !cfg) { adv_fail("live: no model or configuration"); return NULL; }
    if (valid_config(cfg) != 0) return NULL;
    adv_live *e = adv_rt_alloc(sizeof *e);   /* the audio thread's state lives here too */
    if (!e) { adv_fail("out of memory"); return NULL; }
    pthread_mutex_init(&e->writer_lock, NULL);
    e->model = m;
    e->cfg = *cfg;
    if (e->cfg.attack_threads < 1) e->cfg.attack_threads = 1;
    const int R = cfg->rate, C = cfg->channels;
    e->C = C;
    e->L = lround(cfg->latency_seconds * R);
    e->W = lround(cfg->window_seconds * R);
    e->hop = lround(R / cfg->classify_hz);
    if (e->hop < 1) e->hop = 1;
    e->ramp = lround(cfg->ramp_ms * R / 1000.0);
    e->gain = initial && initial->bypass ? 0.0f : 1.0f;
    if (live_attack_init(e) != 0) {
        adv_live_free(e);
        return NULL;
    }
    e->S = adv_stream_segment_frames(e->stream);
    if (e->ramp > e->S / 2) e->ramp = e->S / 2;
    e->ramp_tbl = rt_floats((size_t)e->ramp + 1);
    for (long k = 0; k < e->ramp; k++) e->ramp_tbl[k] = (float)(0.5 - 0.5 * cos(M_PI * (k + 0.5) / e->ramp));

    uint64_t d = 1;
    while (d < (uint64_t)e->L + CHUNK + 1) d <<= 1;
    e->dmask = d - 1;
    int ok = e->ramp_tbl != NULL;
    for (int c = 0; c < C; c++) ok = ok && (e->delay[c] = rt_floats(d));
    e->n_slots = slots_needed(e);
    e->slot_buf = adv_rt_alloc(sizeof *e->slot_buf * (size_t)e->n_slots);
    e->free_slots = adv_rt_alloc(sizeof *e->free_slots * (size_t)e->n_slots);
    e->active = adv_rt_alloc(sizeof *e->active * 2 * (size_t)e->n_slots);
    ok = ok && e->slot_buf && e->free_slots && e->active;
    for (int s = 0; ok && s < e->n_slots; s++) {
        ok = (e->slot_buf[s] = rt_floats((size_t)e->S)) != NULL;
        e->free_slots[e->n_free++] = s;
    }
    ok = ok && (e->scratch_in = rt_floats((size_t)CHUNK * C)) && (e->scratch_mon = rt_floats(2 * CHUNK)) &&
         (e->scratch_gain = rt_floats(CHUNK));
    /* the input ring holds what arrives while the worker is busy: a latency's worth and a second */
    size_t in_bytes = (size_t)(e->L + 2 * CHUNK + R) * (sizeof(float) * C + sizeof(block_hdr));
    ok = ok && (e->in_ring = adv_ring_create(in_bytes)) &&
         (e->pert_ring = adv_ring_create(4 * (size_t)e->n_slots * sizeof(seg_msg))) &&
         (e->free_ring = adv_ring_create(4 * (size_t)e->n_slots * sizeof(int))) &&
         (e->ev_audio = adv_ring_create(64 * sizeof(adv_live_event))) &&
         (e->ev_clf = adv_ring_create((cfg->spectrum ? 256 : 64) * sizeof(adv_live_event)));
    if (cfg->classify)
        ok = ok && (e->mon_ring = adv_ring_create((size_t)(2 * R + e->hop + CHUNK) * 2 * sizeof(float))) &&
             (e->win[0] = zalloc((size_t)e->W)) && (e->win[1] = zalloc((size_t)e->W)) && (e->lin = zalloc((size_t)e->W)) &&
             (e->pairs = zalloc(2 * CHUNK));
    if (!ok) {
        adv_fail("live: out of memory");
        adv_live_free(e);
        return NULL;
    }
    if (cfg->classify && !(e->clf = adv_classifier_create(m, R, e->W))) { adv_live_free(e); return NULL; }

    adv_live_settings s;
    if (initial) s = *initial;
    else adv_live_settings_default(&s);
    atomic_store(&e->current, &e->settings[0]);
    adv_live_publish(e, &s);

    if (!cfg->external_worker && !cfg->synchronous) {
        if (pthread_create(&e->attack_thread, NULL, live_attack_main, e) != 0) {
            adv_fail("live: cannot start the attack thread");
            adv_live_free(e);
            return NULL;
        }
        e->attack_started = 1;
    }
    if (cfg->classify) {
        if (pthread_create(&e->classify_thread, NULL, live_classify_main, e) != 0) {
            adv_fail("live: cannot start the classifier thread");
            adv_live_free(e);
            return NULL;
        }
        e->classify_started = 1;
    }
    return e;
}
