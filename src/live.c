/* The live engine (see include/advinst/live.h): delay line, clip scheduler, perturbation playout
 * with ramps, and the attack and classifier workers, joined by lock-free ring buffers. */
#include "advinst/live.h"
#include "advinst/blas.h"
#include "advinst/classifier.h"
#include "advinst/frontend.h"
#include "advinst/error.h"
#include "advinst/nn.h"
#include <jack/ringbuffer.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <strings.h>
#include <time.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#define CHUNK 4096            /* the audio thread works in chunks of at most this many frames */
#define N_SETTINGS (ADV_LIVE_N_READERS + 2)
#define JOB_IDLE UINT64_MAX
#define JOB_CANCEL_BIT (1ULL << 62)
#define JOB_DEADLINE_MASK ((1ULL << 62) - 1)
#define ONSET_HOP 256         /* onset clips: energy measured per block of this many frames */

static const char *const live_method_names[ADV_LIVE_N_METHODS] = {"off", "cw", "mscw"};

const char *adv_live_method_name(adv_live_method m)
{
    return (unsigned)m < ADV_LIVE_N_METHODS ? live_method_names[m] : "unknown";
}

int adv_live_method_parse(const char *name)
{
    if (!name) return -1;
    for (int i = 0; i < ADV_LIVE_N_METHODS; i++)
        if (!strcasecmp(name, live_method_names[i])) return i;
    return -1;
}

const char *adv_live_clip_status_name(adv_live_clip_status s)
{
    switch (s) {
    case ADV_LIVE_CLIP_OK: return "ok";
    case ADV_LIVE_CLIP_FAILED: return "failed";
    case ADV_LIVE_CLIP_MISS: return "miss";
    case ADV_LIVE_CLIP_ALREADY: return "already";
    case ADV_LIVE_CLIP_SILENT: return "silent";
    case ADV_LIVE_CLIP_ERROR: return "error";
    }
    return "unknown";
}

const char *adv_live_target_name(const adv_model *m, int target)
{
    if (target == ADV_LIVE_TARGET_NONE) return "none";
    if (target == ADV_LIVE_TARGET_RANDOM) return "random";
    if (target < 0 || target >= ADV_N_CLASSES) return "?";
    return m ? m->classes[target] : adv_class_names[target];
}

void adv_live_settings_default(adv_live_settings *s)
{
    adv_attack_params p;
    adv_attack_defaults(ADV_CW, &p);
    memset(s, 0, sizeof *s);
    s->method = ADV_LIVE_CW;
    s->target = ADV_LIVE_TARGET_NONE;
    s->eps = p.eps;
    s->alpha = p.alpha;
    s->lr = p.lr;
    s->max_iter = 1000;
}

/* A preset value within the range the live engine (and OSC) accepts, else an error. */
static int live_range(const adv_preset *p, const char *key, double v, double lo, int lo_open, double hi)
{
    if (strcmp(key, "max_iter")) v = (float)v;   /* the settings hold floats: 1e-50 is 0 there */
    if (v > hi || (lo_open ? v <= lo : v < lo))
        return adv_fail("preset %s: %s = %g is outside the live range %s%g, %g]", p->name, key, v, lo_open ? "(" : "[",
                        lo, hi);
    return 0;
}

int adv_live_settings_from_preset(adv_live_settings *s, const adv_model *m, const adv_preset *p)
{
    adv_live_settings n = *s;
    if (p->has & ADV_PRESET_HAS_METHOD) {
        if (p->method == ADV_CW) n.method = ADV_LIVE_CW;
        else if (p->method == ADV_MSCW) n.method = ADV_LIVE_MSCW;
        else return adv_fail("preset %s: method %s is not a live method (cw, mscw)", p->name,
                             adv_attack_method_name(p->method));
    }
    if ((p->has & ADV_PRESET_HAS_EPS) && live_range(p, "eps", p->eps, 0, 1, 1) != 0) return -1;
    if ((p->has & ADV_PRESET_HAS_ALPHA) && live_range(p, "alpha", p->alpha, 0, 0, ADV_LIVE_MAX_ALPHA) != 0) return -1;
    if ((p->has & ADV_PRESET_HAS_LR) && live_range(p, "lr", p->lr, 0, 1, 1) != 0) return -1;
    if ((p->has & ADV_PRESET_HAS_MAX_ITER) && live_range(p, "max_iter", (double)p->max_iter, 1, 0, ADV_LIVE_MAX_ITER) != 0)
        return -1;
    if ((p->has & ADV_PRESET_HAS_CONFIDENCE) && live_range(p, "confidence", p->confidence, 0, 0, 1) != 0) return -1;
    if (p->has & ADV_PRESET_HAS_EPS) n.eps = (float)p->eps;
    if (p->has & ADV_PRESET_HAS_ALPHA) n.alpha = (float)p->alpha;
    if (p->has & ADV_PRESET_HAS_LR) n.lr = (float)p->lr;
    if (p->has & ADV_PRESET_HAS_MAX_ITER) n.max_iter = p->max_iter;
    if (p->has & ADV_PRESET_HAS_CONFIDENCE) n.confidence = (float)p->confidence;
    if ((p->has & ADV_PRESET_HAS_TARGET) && p->target[0]) {
        if (!strcasecmp(p->target, "random")) n.target = ADV_LIVE_TARGET_RANDOM;
        else if (!strcasecmp(p->target, "none")) n.target = ADV_LIVE_TARGET_NONE;
        else {
            int k = adv_model_class_index(m, p->target);
            if (k < 0) return adv_fail("preset %s: unknown target class \"%s\"", p->name, p->target);
            n.target = k;
        }
    }
    snprintf(n.preset, sizeof n.preset, "%s", p->name);
    *s = n;
    return 0;
}

int adv_live_settings_apply_preset(adv_live_settings *s, const adv_model *m, const char *name)
{
    adv_preset p;
    if (adv_preset_load(name, &p) != 0) return -1;
    return adv_live_settings_from_preset(s, m, &p);
}

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

/* A perturbation (or a clip result without one) on its way to the audio thread. */
typedef struct {
    long clip;
    uint64_t start;          /* input time of the clip's first frame */
    long n;                  /* clip length */
    int slot;                /* perturbation buffer, -1 if none */
    int started;             /* audio thread: event emitted */
    adv_live_clip_status status;
    int target, before_class, after_class;
    float before_confidence, after_confidence, snr_db, seconds;
    long iterations;
    char message[96];
} pert_msg;

/* Header of one block of input frames in the attack ring. */
typedef struct {
    uint64_t t0;
    uint32_t n;
} block_hdr;

struct adv_live {
    adv_model *model;
    adv_live_config cfg;
    int C;
    long N, B, L, W, hop, ramp;
    float *ramp_tbl;

    /* settings: slots, the current pointer and one hazard pointer per reader */
    adv_live_settings settings[N_SETTINGS];
    _Atomic(adv_live_settings *) current;
    _Atomic(adv_live_settings *) hazard[ADV_LIVE_N_READERS];
    pthread_mutex_t writer_lock;
    uint64_t next_version;

    /* audio thread state */
    float *delay[ADV_LIVE_MAX_CHANNELS];
    uint64_t dmask;
    uint64_t t;
    float gain;              /* perturbation gain, ramps to 0 in bypass */
    pert_msg *active;        /* [n_slots] perturbations queued or playing */
    int n_active;
    float *scratch_in;       /* CHUNK x C interleaved input (to the attack ring) */
    float *scratch_mon;      /* CHUNK x 2 (input mono, output mono) */
    float *scratch_gain;     /* CHUNK */

    jack_ringbuffer_t *in_ring, *mon_ring, *pert_ring, *free_ring, *ev_audio, *ev_clf;
    int n_slots;             /* perturbation buffers (see slots_needed) */
    float **slot_buf;

    _Atomic uint64_t t_pub;  /* frames processed, published by the audio thread */
    _Atomic uint64_t job;    /* deadline of the running attack | JOB_CANCEL_BIT, or JOB_IDLE */
    atomic_int cancel;       /* the running attack's cancel flag */
    atomic_int stop;

    atomic_long periods, clips_ok, clips_failed, clips_miss, clips_clean, clips_done, overflows, xruns;

    /* attack worker */
    adv_attack_ws *ws;
    float *clip_buf, *adv_buf, *block_buf;
    int *free_slots, n_free;
    /* classifier worker */
    adv_classifier *clf;
    float *win[2], *lin, *pairs;

    pthread_t attack_thread, classify_thread;
    int attack_started, classify_started;
};

const adv_live_config *adv_live_get_config(const adv_live *e) { return &e->cfg; }
long adv_live_latency(const adv_live *e) { return e->L; }
long adv_live_clip_frames(const adv_live *e) { return e->N; }
long adv_live_window_frames(const adv_live *e) { return e->W; }
void adv_live_count_xrun(adv_live *e) { atomic_fetch_add_explicit(&e->xruns, 1, memory_order_relaxed); }

/* ---- settings (hazard-pointer RCU; one writer at a time) ---- */

uint64_t adv_live_publish(adv_live *e, const adv_live_settings *s)
{
    pthread_mutex_lock(&e->writer_lock);
    adv_live_settings *cur = atomic_load(&e->current), *slot = NULL;
    for (int i = 0; i < N_SETTINGS && !slot; i++) {
        adv_live_settings *cand = &e->settings[i];
        if (cand == cur) continue;
        int used = 0;
        for (int r = 0; r < ADV_LIVE_N_READERS; r++)
            if (atomic_load(&e->hazard[r]) == cand) used = 1;
        if (!used) slot = cand;
    }
    /* N_SETTINGS = readers + 2: at most readers slots are held, one is current */
    *slot = *s;
    slot->version = ++e->next_version;
    atomic_store(&e->current, slot);
    uint64_t v = slot->version;
    pthread_mutex_unlock(&e->writer_lock);
    return v;
}

void adv_live_read_settings(adv_live *e, int reader, adv_live_settings *out)
{
    adv_live_settings *p;
    for (;;) {
        p = atomic_load(&e->current);
        atomic_store(&e->hazard[reader], p);
        if (atomic_load(&e->current) == p) break;
    }
    *out = *p;
    atomic_store(&e->hazard[reader], NULL);
}

/* ---- ring helpers ---- */

/* Writes a and b as one unit (the reader never sees a without b), or nothing. */
static int ring_write2(jack_ringbuffer_t *rb, const void *a, size_t na, const void *b, size_t nb)
{
    if (jack_ringbuffer_write_space(rb) < na + nb) return -1;
    jack_ringbuffer_data_t v[2];
    jack_ringbuffer_get_write_vector(rb, v);
    const char *src[2] = {a, b};
    size_t len[2] = {na, nb};
    int seg = 0;
    size_t off = 0;
    for (int k = 0; k < 2; k++) {
        size_t left = len[k];
        const char *p = src[k];
        while (left) {
            size_t room = v[seg].len - off, take = left < room ? left : room;
            memcpy(v[seg].buf + off, p, take);
            p += take;
            left -= take;
            off += take;
            if (off == v[seg].len) { seg++; off = 0; }
        }
    }
    jack_ringbuffer_write_advance(rb, na + nb);
    return 0;
}

static int ring_write(jack_ringbuffer_t *rb, const void *a, size_t n) { return ring_write2(rb, a, n, NULL, 0); }

static int ring_read(jack_ringbuffer_t *rb, void *dst, size_t n)
{
    if (jack_ringbuffer_read_space(rb) < n) return -1;
    jack_ringbuffer_read(rb, dst, n);
    return 0;
}

static void emit_audio_event(adv_live *e, const adv_live_event *ev)
{
    if (ring_write(e->ev_audio, ev, sizeof *ev) != 0)
        atomic_fetch_add_explicit(&e->overflows, 1, memory_order_relaxed);
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
    if (ring_write(e->free_ring, &slot, sizeof slot) != 0)
        atomic_fetch_add_explicit(&e->overflows, 1, memory_order_relaxed);
}

/* Takes the ready perturbations; those whose clip has started playing out are late: misses. */
static void take_perturbations(adv_live *e, int64_t u0)
{
    pert_msg m;
    while (ring_read(e->pert_ring, &m, sizeof m) == 0) {
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
    if (ring_write2(e->in_ring, &h, sizeof h, e->scratch_in, sizeof(float) * nf * C) != 0)
        atomic_fetch_add_explicit(&e->overflows, 1, memory_order_relaxed);

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
        if (ring_write(e->mon_ring, e->scratch_mon, sizeof(float) * 2 * nf) != 0)
            atomic_fetch_add_explicit(&e->overflows, 1, memory_order_relaxed);
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

/* ---- the attack worker ---- */

static void nap(void)
{
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
}

static int stop_callback(const adv_attack_progress *p, void *user)
{
    (void)p;
    return atomic_load(&((adv_live *)user)->stop);
}

static void push_result(adv_live *e, pert_msg *m)
{
    while (ring_write(e->pert_ring, m, sizeof *m) != 0) {
        if (atomic_load(&e->stop)) return;
        nap();
    }
    atomic_fetch_add_explicit(&e->clips_done, 1, memory_order_release);
}

static int take_free_slot(adv_live *e)
{
    int slot;
    while (ring_read(e->free_ring, &slot, sizeof slot) == 0) e->free_slots[e->n_free++] = slot;
    return e->n_free ? e->free_slots[--e->n_free] : -1;
}

/* Attacks the collected clip [start, start + n) (clip_buf, zero-padded to N) and sends the result. */
static void attack_clip(adv_live *e, long clip, uint64_t start, long n)
{
    adv_live_settings s;
    adv_live_read_settings(e, ADV_LIVE_READER_ATTACK, &s);
    if (s.method == ADV_LIVE_OFF || s.target == ADV_LIVE_TARGET_NONE || s.bypass) return;
    pert_msg m;
    memset(&m, 0, sizeof m);
    m.clip = clip;
    m.start = start;
    m.n = n;
    m.slot = -1;
    m.snr_db = INFINITY;
    m.target = s.target;
    const uint64_t deadline = start + (uint64_t)e->L;
    if (atomic_load_explicit(&e->t_pub, memory_order_acquire) >= deadline) {
        m.status = ADV_LIVE_CLIP_MISS;
        push_result(e, &m);
        return;
    }
    const int C = e->C;
    if (n < e->N) memset(e->clip_buf + (size_t)n * C, 0, sizeof(float) * (size_t)(e->N - n) * C);

    adv_attack_params p;
    adv_attack_defaults(s.method == ADV_LIVE_MSCW ? ADV_MSCW : ADV_CW, &p);
    p.eps = s.eps;
    p.alpha = s.alpha;
    p.lr = s.lr;
    p.max_iter = s.max_iter;
    p.confidence = s.confidence;
    p.target = s.target == ADV_LIVE_TARGET_RANDOM ? ADV_TARGET_RANDOM : s.target;
    p.seed = (uint64_t)clip;
    p.cancel = &e->cancel;
    p.callback = stop_callback;
    p.user = e;

    atomic_store(&e->cancel, 0);
    atomic_store(&e->job, deadline);
    adv_attack_result r;
    int rc = adv_attack_run(e->ws, &p, e->clip_buf, 0, e->adv_buf, &r);
    uint64_t job = atomic_exchange(&e->job, JOB_IDLE);
    if (job & JOB_CANCEL_BIT)   /* the audio thread's store to cancel follows its CAS: wait for it */
        while (!atomic_load(&e->cancel)) sched_yield();
    if (atomic_load(&e->stop)) return;

    m.seconds = (float)r.seconds;
    if (rc != 0) {
        m.status = ADV_LIVE_CLIP_ERROR;
        snprintf(m.message, sizeof m.message, "%s", adv_error());
        push_result(e, &m);
        return;
    }
    m.target = r.target;
    m.before_class = r.before_class;
    m.before_confidence = r.before_confidence;
    m.after_class = r.after_class;
    m.after_confidence = r.after_confidence;
    m.iterations = r.iterations;
    switch (r.status) {
    case ADV_ATTACK_OK: m.status = ADV_LIVE_CLIP_OK; break;
    case ADV_ATTACK_FAILED: m.status = ADV_LIVE_CLIP_FAILED; break;
    case ADV_ATTACK_SILENT: m.status = ADV_LIVE_CLIP_SILENT; break;
    case ADV_ATTACK_ALREADY: m.status = ADV_LIVE_CLIP_ALREADY; break;
    case ADV_ATTACK_CANCELLED: m.status = ADV_LIVE_CLIP_MISS; break;
    }
    if (m.status == ADV_LIVE_CLIP_OK || m.status == ADV_LIVE_CLIP_FAILED) {
        int slot = take_free_slot(e);
        if (slot < 0) {
            m.status = ADV_LIVE_CLIP_MISS;
        } else {
            float *d = e->slot_buf[slot];
            const size_t total = (size_t)n * C;
            for (size_t i = 0; i < total; i++) d[i] = e->adv_buf[i] - e->clip_buf[i];
            m.slot = slot;
            m.snr_db = (float)r.snr_db;
        }
    }
    if (m.status == ADV_LIVE_CLIP_MISS) {
        m.after_class = m.before_class;
        m.after_confidence = m.before_confidence;
    }
    push_result(e, &m);
}

/* Cuts the input stream into clips: fixed ones at multiples of N, or onset ones of N/2 to N
 * frames ending before a block whose energy jumps. Gaps (a full ring) abandon the clip. */
typedef struct {
    uint64_t start;          /* input time of clip_buf[0] */
    long filled;
    int valid;               /* a clip is being collected */
    long clip;               /* number of the clip being collected */
    long next_clip;          /* onset mode: numbering */
    double energy_avg;       /* onset mode: running block energy */
    long onset_fill;         /* onset mode: frames in the current energy block */
    double onset_acc;
} collector;

static void collect(adv_live *e, collector *k, uint64_t t0, const float *x, long n)
{
    const int C = e->C;
    const long N = e->N;
    long i = 0;
    while (i < n) {
        const uint64_t t = t0 + (uint64_t)i;
        if (k->valid && t != k->start + (uint64_t)k->filled) k->valid = 0;   /* gap */
        if (!e->cfg.onset_clips) {
            if (!k->valid) {
                uint64_t next = (t + (uint64_t)N - 1) / (uint64_t)N * (uint64_t)N;
                if (next >= t0 + (uint64_t)n) return;
                i = (long)(next - t0);
                k->valid = 1;
                k->start = next;
                k->filled = 0;
                k->clip = (long)(next / (uint64_t)N);
                continue;
            }
            long take = N - k->filled < n - i ? N - k->filled : n - i;
            memcpy(e->clip_buf + (size_t)k->filled * C, x + (size_t)i * C, sizeof(float) * (size_t)take * C);
            k->filled += take;
            i += take;
            if (k->filled == N) {
                attack_clip(e, k->clip, k->start, N);
                k->valid = 0;
            }
            continue;
        }
        /* onset clips: energy per block of ONSET_HOP frames from the clip start; a block much louder
         * than the recent ones, once the clip has N/2 frames, starts the next clip */
        if (!k->valid) {
            k->valid = 1;
            k->start = t;
            k->filled = 0;
            k->clip = k->next_clip++;
            k->onset_fill = 0;
            k->onset_acc = 0;
        }
        for (int c = 0; c < C; c++) {
            float v = x[(size_t)i * C + c];
            e->clip_buf[(size_t)k->filled * C + c] = v;
            k->onset_acc += (double)v * v;
        }
        k->filled++;
        i++;
        if (++k->onset_fill == ONSET_HOP) {
            double en = k->onset_acc / (ONSET_HOP * C);
            int onset = en > 1e-6 && en > 4.0 * k->energy_avg && k->filled - ONSET_HOP >= N / 2;
            k->energy_avg = 0.8 * k->energy_avg + 0.2 * en;
            k->onset_fill = 0;
            k->onset_acc = 0;
            if (onset) {
                float tail[ONSET_HOP * ADV_LIVE_MAX_CHANNELS];
                const long keep = k->filled - ONSET_HOP;
                memcpy(tail, e->clip_buf + (size_t)keep * C, sizeof(float) * ONSET_HOP * C);
                attack_clip(e, k->clip, k->start, keep);
                k->start += (uint64_t)keep;
                k->filled = ONSET_HOP;
                k->clip = k->next_clip++;
                memcpy(e->clip_buf, tail, sizeof(float) * ONSET_HOP * C);
                continue;
            }
        }
        if (k->filled == N) {
            attack_clip(e, k->clip, k->start, N);
            k->valid = 0;
        }
    }
}

/* Workers yield to the audio threads: without real-time scheduling (common in containers and
 * with the dummy backend) a busy worker at the same priority delays JACK's cycle into xruns. */
static void lower_thread_priority(int nice_value)
{
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice_value);
}

/* Flush-to-zero and denormals-are-zero for the calling thread (and the OpenMP team it starts
 * later, which inherits the mode): the workers must keep their deadlines whatever the signal, and
 * values below 1.2e-38 matter to no decision they make. Only the live workers run this way; offline
 * attacks keep IEEE gradual underflow (exact gradients). */
static void flush_denormals(void)
{
#if defined(__SSE__)
    _mm_setcsr(_mm_getcsr() | 0x8040);   /* FTZ (bit 15) | DAZ (bit 6) */
#elif defined(__aarch64__)
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    __asm__ volatile("msr fpcr, %0" : : "r"(fpcr | (1ULL << 24)));   /* FZ */
#endif
}

static void *attack_main(void *arg)
{
    adv_live *e = arg;
    if (!e->cfg.workers_keep_priority) lower_thread_priority(19);
    flush_denormals();
    adv_blas_set_threads(e->cfg.attack_threads);
    collector k;
    memset(&k, 0, sizeof k);
    while (!atomic_load(&e->stop)) {
        block_hdr h;
        if (jack_ringbuffer_peek(e->in_ring, (char *)&h, sizeof h) < sizeof h) { nap(); continue; }
        size_t bytes = sizeof(float) * h.n * e->C;
        if (jack_ringbuffer_read_space(e->in_ring) < sizeof h + bytes) { nap(); continue; }
        jack_ringbuffer_read_advance(e->in_ring, sizeof h);
        jack_ringbuffer_read(e->in_ring, (char *)e->block_buf, bytes);
        collect(e, &k, h.t0, e->block_buf, h.n);
    }
    return NULL;
}

/* ---- the classifier worker ---- */

static void classify_window(adv_live *e, int stream, long pos, uint64_t frame)
{
    const long W = e->W;
    memcpy(e->lin, e->win[stream] + pos, sizeof(float) * (size_t)(W - pos));
    memcpy(e->lin + (W - pos), e->win[stream], sizeof(float) * (size_t)pos);
    float logits[ADV_N_CLASSES];
    adv_live_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = ADV_LIVE_EV_PROBS;
    ev.stream = stream;
    ev.frame = frame;
    adv_classifier_forward(e->clf, e->lin, logits);
    adv_softmax(ADV_N_CLASSES, logits, ev.probs);
    if (ring_write(e->ev_clf, &ev, sizeof ev) != 0) atomic_fetch_add_explicit(&e->overflows, 1, memory_order_relaxed);
}

static void *classify_main(void *arg)
{
    adv_live *e = arg;
    if (!e->cfg.workers_keep_priority) lower_thread_priority(10);
    flush_denormals();
    adv_blas_set_threads(1);
    long pos = 0, since = 0;
    uint64_t frames = 0;
    while (!atomic_load(&e->stop)) {
        size_t avail = jack_ringbuffer_read_space(e->mon_ring) / (2 * sizeof(float));
        if (avail == 0) { nap(); continue; }
        if (avail > CHUNK) avail = CHUNK;
        jack_ringbuffer_read(e->mon_ring, (char *)e->pairs, avail * 2 * sizeof(float));
        for (size_t i = 0; i < avail; i++) {
            e->win[0][pos] = e->pairs[2 * i];
            e->win[1][pos] = e->pairs[2 * i + 1];
            if (++pos == e->W) pos = 0;
        }
        since += (long)avail;
        frames += avail;
        /* classify once caught up: a slow classifier lowers the rate instead of falling behind */
        if (since >= e->hop && jack_ringbuffer_read_space(e->mon_ring) < (size_t)e->hop * 2 * sizeof(float)) {
            since = 0;
            classify_window(e, 0, pos, frames);
            classify_window(e, 1, pos, frames);
        }
    }
    return NULL;
}

int adv_live_poll_event(adv_live *e, adv_live_event *ev)
{
    if (ring_read(e->ev_audio, ev, sizeof *ev) == 0) return 1;
    if (ring_read(e->ev_clf, ev, sizeof *ev) == 0) return 1;
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

static jack_ringbuffer_t *ring(size_t bytes)
{
    jack_ringbuffer_t *r = jack_ringbuffer_create(bytes);
    if (r) {
        memset(r->buf, 0, r->size);
        jack_ringbuffer_mlock(r);
    }
    return r;
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
    jack_ringbuffer_t *rings[] = {e->in_ring, e->mon_ring, e->pert_ring, e->free_ring, e->ev_audio, e->ev_clf};
    for (size_t i = 0; i < sizeof rings / sizeof rings[0]; i++)
        if (rings[i]) jack_ringbuffer_free(rings[i]);
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
    ok = ok && (e->in_ring = ring(in_bytes)) && (e->pert_ring = ring(32 * sizeof(pert_msg))) &&
         (e->free_ring = ring(4 * (size_t)e->n_slots * sizeof(int))) && (e->ev_audio = ring(64 * sizeof(adv_live_event))) &&
         (e->ev_clf = ring(64 * sizeof(adv_live_event)));
    if (cfg->classify)
        ok = ok && (e->mon_ring = ring((size_t)(2 * R + e->hop + CHUNK) * 2 * sizeof(float))) &&
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

    if (pthread_create(&e->attack_thread, NULL, attack_main, e) != 0) {
        adv_fail("live: cannot start the attack thread");
        adv_live_free(e);
        return NULL;
    }
    e->attack_started = 1;
    if (cfg->classify) {
        if (pthread_create(&e->classify_thread, NULL, classify_main, e) != 0) {
            adv_fail("live: cannot start the classifier thread");
            adv_live_free(e);
            return NULL;
        }
        e->classify_started = 1;
    }
    return e;
}
