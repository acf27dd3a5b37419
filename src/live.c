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
    c->clip_seconds = 3.7;
    c->budget_seconds = 3.0;
    c->window_seconds = 3.7;
    c->classify_hz = 10.0;
    c->ramp_ms = 10.0;
    c->classify = 1;
    long procs = sysconf(_SC_NPROCESSORS_ONLN);
    c->attack_threads = procs > 1 ? (int)procs - 1 : 1;
}

const adv_live_config *adv_live_get_config(const adv_live *e) { return &e->cfg; }
long adv_live_latency(const adv_live *e) { return e->L; }
long adv_live_clip_frames(const adv_live *e) { return e->N; }
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
    s->clips_ok = atomic_load(&m->clips_ok);
    s->clips_failed = atomic_load(&m->clips_failed);
    s->clips_miss = atomic_load(&m->clips_miss);
    s->clips_clean = atomic_load(&m->clips_clean);
    s->clips_done = atomic_load_explicit(&m->clips_done, memory_order_acquire);
    s->ring_overflows = atomic_load(&m->overflows);
    s->xruns = atomic_load(&m->xruns);
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

/* Perturbation buffers the engine needs: a clip's buffer is taken when its attack ends (after the
 * clip is complete) and handed back when the clip has played out, L frames after its end, so the
 * clips ending within any L + CHUNK frames hold one each; clips are at least N frames long (onset
 * clips N / 2). One more for the clip whose attack is finishing. */
static int slots_needed(const adv_live *e)
{
    const long shortest = e->cfg.onset_clips ? e->N / 2 : e->N;
    return (int)((e->L + CHUNK + shortest - 1) / shortest) + 2;
}

void adv_live_free(adv_live *e)
{
    if (!e) return;
    atomic_store(&e->stop, 1);
    atomic_store(&e->cancel, 1);
    if (e->attack_started) pthread_join(e->attack_thread, NULL);
    if (e->classify_started) pthread_join(e->classify_thread, NULL);
    for (int c = 0; c < ADV_LIVE_MAX_CHANNELS; c++) adv_rt_free(e->delay[c], sizeof(float) * (e->dmask + 1));
    for (int s = 0; s < e->n_slots && e->slot_buf; s++) adv_rt_free(e->slot_buf[s], sizeof(float) * (size_t)e->N * e->C);
    adv_rt_free(e->slot_buf, sizeof *e->slot_buf * (size_t)e->n_slots);
    adv_rt_free(e->free_slots, sizeof *e->free_slots * (size_t)e->n_slots);
    adv_rt_free(e->active, sizeof *e->active * (size_t)e->n_slots);
    adv_ring *rings[] = {e->in_ring, e->mon_ring, e->pert_ring, e->free_ring, e->ev_audio, e->ev_clf};
    for (size_t i = 0; i < sizeof rings / sizeof rings[0]; i++)
        adv_ring_free(rings[i]);
    adv_rt_free(e->ramp_tbl, sizeof(float) * ((size_t)e->ramp + 1));
    adv_rt_free(e->scratch_in, sizeof(float) * CHUNK * e->C);
    adv_rt_free(e->scratch_mon, sizeof(float) * 2 * CHUNK);
    adv_rt_free(e->scratch_gain, sizeof(float) * CHUNK);
    free(e->clip_buf);
    free(e->adv_buf);
    free(e->block_buf);
    free(e->win[0]);
    free(e->win[1]);
    free(e->lin);
    free(e->pairs);
    adv_attack_ws_free(e->ws);
    adv_classifier_free(e->clf);
    pthread_mutex_destroy(&e->writer_lock);
    adv_rt_free(e, sizeof *e);
}

adv_live *adv_live_create(adv_model *m, const adv_live_config *cfg, const adv_live_settings *initial)
{
    if (!m || !cfg) { adv_fail("live: no model or configuration"); return NULL; }
    if (cfg->rate < 8000 || cfg->rate > 384000) { adv_fail("live: unsupported sample rate %d", cfg->rate); return NULL; }
    if (cfg->channels < 1 || cfg->channels > ADV_LIVE_MAX_CHANNELS) {
        adv_fail("live: channels must be 1 or 2 (got %d)", cfg->channels);
        return NULL;
    }
    if (!(cfg->clip_seconds > 0 && cfg->clip_seconds <= 60) || !(cfg->budget_seconds >= 0.05 && cfg->budget_seconds <= 60) ||
        !(cfg->window_seconds > 0 && cfg->window_seconds <= 60) || !(cfg->classify_hz > 0 && cfg->classify_hz <= 1000) ||
        !(cfg->ramp_ms >= 0 && cfg->ramp_ms <= 1000)) {
        adv_fail("live: clip and window in (0, 60] s, budget in [0.05, 60] s, classify rate in (0, 1000] Hz, "
                 "ramp in [0, 1000] ms");
        return NULL;
    }
    adv_live *e = adv_rt_alloc(sizeof *e);   /* the audio thread's state lives here too */
    if (!e) { adv_fail("out of memory"); return NULL; }
    pthread_mutex_init(&e->writer_lock, NULL);
    e->model = m;
    e->cfg = *cfg;
    if (e->cfg.attack_threads < 1) e->cfg.attack_threads = 1;
    const int R = cfg->rate, C = cfg->channels;
    e->C = C;
    e->N = lround(cfg->clip_seconds * R);
    e->B = lround(cfg->budget_seconds * R);
    e->L = e->N + e->B;
    e->W = lround(cfg->window_seconds * R);
    e->hop = lround(R / cfg->classify_hz);
    if (e->hop < 1) e->hop = 1;
    e->ramp = lround(cfg->ramp_ms * R / 1000.0);
    long min_n = adv_classifier_min_samples(R);
    if (e->N < min_n || e->W < min_n) {
        adv_fail("live: clips and the classifier window need at least %ld frames (%.0f ms) at %d Hz", min_n,
                 1000.0 * min_n / R, R);
        adv_live_free(e);
        return NULL;
    }
    if (e->ramp > e->N / 4) e->ramp = e->N / 4;
    e->ramp_tbl = rt_floats((size_t)e->ramp + 1);
    for (long k = 0; k < e->ramp; k++) e->ramp_tbl[k] = (float)(0.5 - 0.5 * cos(M_PI * (k + 0.5) / e->ramp));
    e->gain = initial && initial->bypass ? 0.0f : 1.0f;

    uint64_t d = 1;
    while (d < (uint64_t)e->L + CHUNK + 1) d <<= 1;
    e->dmask = d - 1;
    int ok = e->ramp_tbl != NULL;
    for (int c = 0; c < C; c++) ok = ok && (e->delay[c] = rt_floats(d));
    e->n_slots = slots_needed(e);
    e->slot_buf = adv_rt_alloc(sizeof *e->slot_buf * (size_t)e->n_slots);
    e->free_slots = adv_rt_alloc(sizeof *e->free_slots * (size_t)e->n_slots);
    e->active = adv_rt_alloc(sizeof *e->active * (size_t)e->n_slots);
    ok = ok && e->slot_buf && e->free_slots && e->active;
    for (int s = 0; ok && s < e->n_slots; s++) {
        ok = (e->slot_buf[s] = rt_floats((size_t)e->N * C)) != NULL;
        e->free_slots[e->n_free++] = s;
    }
    ok = ok && (e->scratch_in = rt_floats((size_t)CHUNK * C)) && (e->scratch_mon = rt_floats(2 * CHUNK)) &&
         (e->scratch_gain = rt_floats(CHUNK));
    ok = ok && (e->clip_buf = zalloc((size_t)e->N * C)) && (e->adv_buf = zalloc((size_t)e->N * C)) &&
         (e->block_buf = zalloc((size_t)CHUNK * C));
    /* the attack ring holds what arrives while a clip is being attacked, plus a second of slack */
    size_t in_bytes = (size_t)(e->L + e->N + 2 * CHUNK + R) * (sizeof(float) * C + sizeof(block_hdr));
    ok = ok && (e->in_ring = adv_ring_create(in_bytes)) && (e->pert_ring = adv_ring_create(32 * sizeof(pert_msg))) &&
         (e->free_ring = adv_ring_create(4 * (size_t)e->n_slots * sizeof(int))) && (e->ev_audio = adv_ring_create(64 * sizeof(adv_live_event))) &&
         (e->ev_clf = adv_ring_create(64 * sizeof(adv_live_event)));
    if (cfg->classify)
        ok = ok && (e->mon_ring = adv_ring_create((size_t)(2 * R + e->hop + CHUNK) * 2 * sizeof(float))) &&
             (e->win[0] = zalloc((size_t)e->W)) && (e->win[1] = zalloc((size_t)e->W)) && (e->lin = zalloc((size_t)e->W)) &&
             (e->pairs = zalloc(2 * CHUNK));
    if (!ok) {
        adv_fail("live: out of memory");
        adv_live_free(e);
        return NULL;
    }
    e->ws = adv_attack_ws_create(m, R, e->N, C, 1);
    if (!e->ws) { adv_live_free(e); return NULL; }
    if (cfg->classify && !(e->clf = adv_classifier_create(m, R, e->W))) { adv_live_free(e); return NULL; }

    adv_live_settings s;
    if (initial) s = *initial;
    else adv_live_settings_default(&s);
    atomic_store(&e->current, &e->settings[0]);
    adv_live_publish(e, &s);
    atomic_store(&e->job, JOB_IDLE);

    if (pthread_create(&e->attack_thread, NULL, live_attack_main, e) != 0) {
        adv_fail("live: cannot start the attack thread");
        adv_live_free(e);
        return NULL;
    }
    e->attack_started = 1;
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
