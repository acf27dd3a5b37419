/* The live engine's attack worker: cuts the input stream into clips, attacks each toward the
 * current target before its deadline, and hands the perturbations to the audio thread. */
#include "live_internal.h"
#include "advinst/blas.h"
#include "advinst/error.h"
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#define ONSET_HOP 256         /* onset clips: energy measured per block of this many frames */

/* ---- the attack worker ---- */

static int stop_callback(const adv_attack_progress *p, void *user)
{
    (void)p;
    return atomic_load(&((adv_live *)user)->stop);
}

static void push_result(adv_live *e, pert_msg *m)
{
    while (adv_ring_write(e->pert_ring, m, sizeof *m) != 0) {
        if (atomic_load(&e->stop)) return;
        adv_rt_nap();
    }
    atomic_fetch_add_explicit(&e->clips_done, 1, memory_order_release);
}

static int take_free_slot(adv_live *e)
{
    int slot;
    while (adv_ring_read(e->free_ring, &slot, sizeof slot) == 0) e->free_slots[e->n_free++] = slot;
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

void *live_attack_main(void *arg)
{
    adv_live *e = arg;
    if (!e->cfg.workers_keep_priority) adv_rt_lower_priority(19);
    adv_rt_flush_denormals();
    adv_blas_set_threads(e->cfg.attack_threads);
    collector k;
    memset(&k, 0, sizeof k);
    while (!atomic_load(&e->stop)) {
        block_hdr h;
        if (adv_ring_peek(e->in_ring, &h, sizeof h) != 0) { adv_rt_nap(); continue; }
        size_t bytes = sizeof(float) * h.n * e->C;
        if (adv_ring_read_space(e->in_ring) < sizeof h + bytes) { adv_rt_nap(); continue; }
        adv_ring_skip(e->in_ring, sizeof h);
        adv_ring_read(e->in_ring, e->block_buf, bytes);
        collect(e, &k, h.t0, e->block_buf, h.n);
    }
    return NULL;
}
