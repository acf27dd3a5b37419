/* Shift-robust targeted attacks on a stream (see include/advinst/stream.h).
 *
 * One buffer holds the recent stream at its rate R: buffer index i is stream time origin + i. The
 * origin stays on the grid where R and 16 kHz samples coincide (multiples of R / gcd(R, 16000)),
 * so the 16 kHz buffers (index k <-> 16 kHz time origin16 + k) line up with it exactly, and the
 * resamplers planned once for the whole buffer serve every position (range operations).
 *
 *   d16  (free part optimised) --U--> clamp eps --> p        committed part of p frozen
 *   heard_c = clamp(x_c + p, -1, 1);  hm = mean over channels
 *   h16 = D hm (one resampling of the whole stream); a window = a slice of h16
 *
 * The gradient walks back: windows (and the multi-scale loss) -> g16 -> D^T -> gm -> through the
 * clamps -> gp (+ the L2 term) -> U^T -> gd16 on the free part only. */
#include "advinst/stream.h"
#include "advinst/classes.h"
#include "advinst/classifier.h"
#include "advinst/error.h"
#include "advinst/msloss.h"
#include "advinst/nn.h"
#include "advinst/resample.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BATCH 16
#define MAX_STEPS 64         /* time steps of the network's head for one window */
#define MS_CONTEXT16 2048      /* committed samples the multi-scale loss sees before the free region */

typedef struct {
    int64_t end16;             /* window end, 16 kHz stream time (key); INT64_MIN: empty */
    float margin;              /* target minus runner-up probability at the last check */
    float ptarget;
    int cls;                   /* the class heard at the last check, and its probability */
    float pcls;
    int checked;               /* evaluated since the target was set */
    int silent;
} probe;

struct adv_stream {
    adv_model *model;
    adv_stream_config cfg;
    int R, C;
    long grid, grid16;         /* R / g and 16000 / g */
    long W, W16, S, S16, H, P16, guard;
    long cap, cap16;
    int64_t origin;            /* stream time of buffer index 0 (a multiple of grid) */
    int64_t end;               /* stream time after the last pushed frame */
    int64_t commit;            /* stream time of the free region's start (a multiple of grid) */
    long h16_valid;            /* h16 indices below this are up to date */
    int active, target;        /* attacking, toward target */
    float eps;                 /* the bound of the last iteration */
    long iterations;
    uint64_t rng;

    float *x;                  /* cap x C input */
    float *xm;                 /* cap, clean mono */
    float *p;                  /* cap, perturbation (committed part frozen) */
    float *pmask;              /* cap, 1 where |U d16| <= the bound */
    float *bnd, *env;          /* cap: the bound on |p| per frame; the input's short-term energy */
    long *dq;                  /* cap: sliding-maximum deque */
    float ratio;               /* the local bound of the last iteration (0: none) */
    float *hm, *pass;          /* cap, heard mono; share of channels not clamped */
    float *gm;                 /* cap */
    float *c16, *h16, *g16;    /* cap16: clean, heard, gradient at 16 kHz */
    float *d16, *gd16;         /* cap16: the parameter and its gradient */
    float *am, *av;            /* cap16: Adam moments */
    int32_t *age;              /* cap16: Adam steps per element */
    float *gwin;               /* W16 per window of a batch */
    float *pseg;               /* S: fade scratch */
    adv_resampler *down, *up;  /* R -> 16 kHz over cap, 16 kHz -> R over cap16 */
    adv_classifier *clf[MAX_BATCH];
    adv_msloss *ms;
    long ms_n;                 /* samples of the multi-scale span */
    int64_t ms_ref_end;        /* 16 kHz end of the span whose reference is set */
    probe *probes;
    int n_probes;
    probe *pick[MAX_BATCH];    /* the probes of the current iteration */
    long *seg_iter;            /* iterations counter when each segment slot started filling */
    int n_seg_slots;
};

void adv_stream_config_default(adv_stream_config *c, int rate, int channels)
{
    memset(c, 0, sizeof *c);
    c->rate = rate;
    c->channels = channels;
    c->window_seconds = 3.7;
    c->horizon_seconds = 1.6;
    c->segment_seconds = 0.2;
    c->probe_seconds = 0.05;
    c->batch = 1;
    c->seed = 1;
    c->update = ADV_STREAM_UPDATE_L2;
    c->lr_decay = 15;
}

const adv_stream_config *adv_stream_get_config(const adv_stream *s) { return &s->cfg; }
long adv_stream_segment_frames(const adv_stream *s) { return s->S; }
int64_t adv_stream_end(const adv_stream *s) { return s->end; }
int64_t adv_stream_committed(const adv_stream *s) { return s->commit; }
long adv_stream_room(const adv_stream *s) { return (long)(s->commit + s->H - s->end); }


static long round_up(long v, long m) { return (v + m - 1) / m * m; }

void adv_stream_free(adv_stream *s)
{
    if (!s) return;
    free(s->dq);
    float *bufs[] = {s->x, s->xm, s->p, s->pmask, s->bnd, s->env, s->hm, s->pass, s->gm, s->c16, s->h16, s->g16,
                     s->d16, s->gd16, s->am, s->av, s->gwin, s->pseg};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(s->age);
    free(s->probes);
    free(s->seg_iter);
    adv_resampler_free(s->down);
    adv_resampler_free(s->up);
    for (int b = 0; b < MAX_BATCH; b++) adv_classifier_free(s->clf[b]);
    adv_msloss_free(s->ms);
    free(s);
}

static float *floats(size_t n, int *ok)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) *ok = 0;
    return p;
}

adv_stream *adv_stream_create(adv_model *m, const adv_stream_config *cfg)
{
    if (!m || !cfg || cfg->rate < 8000 || cfg->rate > 384000 || cfg->channels < 1 || cfg->channels > 8 ||
        cfg->batch < 1 || cfg->batch > MAX_BATCH || !(cfg->window_seconds > 0.2 && cfg->window_seconds <= 60) ||
        !(cfg->horizon_seconds > 0 && cfg->horizon_seconds <= 60) || !(cfg->segment_seconds > 0) ||
        !(cfg->probe_seconds > 0)) {
        adv_fail("stream attack: invalid configuration");
        return NULL;
    }
    adv_stream *s = calloc(1, sizeof *s);
    if (!s) { adv_fail("out of memory"); return NULL; }
    s->model = m;
    s->cfg = *cfg;
    s->R = cfg->rate;
    s->C = cfg->channels;
    long g = adv_rate_gcd(s->R, ADV_SAMPLE_RATE);
    s->grid = s->R / g;
    s->grid16 = ADV_SAMPLE_RATE / g;
    s->W = lround(cfg->window_seconds * s->R);
    s->W16 = (long)(((int64_t)s->W * ADV_SAMPLE_RATE + s->R - 1) / s->R);
    s->S = round_up(lround(cfg->segment_seconds * s->R), s->grid);
    s->S16 = s->S / s->grid * s->grid16;
    s->H = round_up(lround(cfg->horizon_seconds * s->R), s->S);
    s->P16 = lround(cfg->probe_seconds * ADV_SAMPLE_RATE);
    if (s->P16 < 1) s->P16 = 1;
    s->guard = round_up(s->R / 20, s->grid);   /* 50 ms: resampler edges stay out of every window */
    s->cap = round_up(s->W + s->H + s->S + 2 * s->guard + s->R, s->grid);
    s->cap16 = s->cap / s->grid * s->grid16;
    s->origin = -round_up(s->W + s->guard, s->grid);
    s->rng = cfg->seed ^ 0x73747265616d3131ULL;

    int ok = 1;
    const size_t cap = (size_t)s->cap, cap16 = (size_t)s->cap16;
    s->x = floats(cap * s->C, &ok);
    s->xm = floats(cap, &ok);
    s->p = floats(cap, &ok);
    s->pmask = floats(cap, &ok);
    s->bnd = floats(cap, &ok);
    s->env = floats(cap, &ok);
    s->dq = calloc(cap, sizeof(long));
    s->hm = floats(cap, &ok);
    s->pass = floats(cap, &ok);
    s->gm = floats(cap, &ok);
    s->c16 = floats(cap16, &ok);
    s->h16 = floats(cap16, &ok);
    s->g16 = floats(cap16, &ok);
    s->d16 = floats(cap16, &ok);
    s->gd16 = floats(cap16, &ok);
    s->am = floats(cap16, &ok);
    s->av = floats(cap16, &ok);
    s->gwin = floats((size_t)s->W16 * (size_t)(cfg->batch > 0 ? cfg->batch : 1), &ok);
    s->pseg = floats((size_t)s->S, &ok);
    s->age = calloc(cap16, sizeof(int32_t));
    s->n_probes = (int)((s->H + 2 * s->S) * (int64_t)ADV_SAMPLE_RATE / s->R / s->P16) + 4;
    s->probes = calloc((size_t)s->n_probes, sizeof(probe));
    s->n_seg_slots = (int)(s->H / s->S) + 4;
    s->seg_iter = calloc((size_t)s->n_seg_slots, sizeof(long));
    if (!ok || !s->age || !s->dq || !s->probes || !s->seg_iter) {
        adv_stream_free(s);
        adv_fail("out of memory for a stream attack");
        return NULL;
    }
    for (int i = 0; i < s->n_probes; i++) s->probes[i].end16 = INT64_MIN;
    for (size_t i = 0; i < cap; i++) s->pass[i] = 1.0f, s->pmask[i] = 1.0f;
    s->down = adv_resampler_create(s->R, ADV_SAMPLE_RATE, s->cap);
    s->up = adv_resampler_create(ADV_SAMPLE_RATE, s->R, s->cap16);
    if (!s->down || !s->up) { adv_stream_free(s); return NULL; }
    for (int b = 0; b < cfg->batch; b++)
        if (!(s->clf[b] = adv_classifier_create(m, ADV_SAMPLE_RATE, s->W16))) { adv_stream_free(s); return NULL; }
    s->ms_n = (s->H + s->S) / s->grid * s->grid16 + MS_CONTEXT16;
    if (!(s->ms = adv_msloss_create(s->ms_n))) { adv_stream_free(s); return NULL; }
    s->ms_ref_end = INT64_MIN;
    return s;
}

/* ---- positions ---- */

static inline long idx(const adv_stream *s, int64_t t) { return (long)(t - s->origin); }
static inline int64_t to16(const adv_stream *s, int64_t t) { return t / s->grid * s->grid16; }   /* t on the grid */
static inline long idx16(const adv_stream *s, int64_t t16) { return (long)(t16 - to16(s, s->origin)); }
/* 16 kHz samples whose resampling reads only pushed input (later ones wait for more). */
static int64_t end16_valid(const adv_stream *s)
{
    /* output j reads inputs up to floor(j * grid / grid16) + K: find the last j reading < end */
    long n = idx(s, s->end);
    long j = adv_resampler_first_output_reading(s->down, n);   /* first j reading input n or later */
    return to16(s, s->origin) + j;
}

/* Moves the buffers so that the origin is as late as the windows of the free region allow. */
static void slide(adv_stream *s)
{
    int64_t keep_from = s->commit - s->W - s->guard;
    long shift = (long)(keep_from - s->origin);
    shift = shift > 0 ? shift / s->grid * s->grid : 0;
    if (shift <= 0) return;
    const long n = idx(s, s->end), keep = n - shift, shift16 = shift / s->grid * s->grid16;
    const long keep16 = s->cap16 - shift16;
    memmove(s->x, s->x + (size_t)shift * s->C, sizeof(float) * (size_t)keep * s->C);
    memset(s->x + (size_t)keep * s->C, 0, sizeof(float) * (size_t)(s->cap - keep) * s->C);
    float *r[] = {s->xm, s->p, s->hm};
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        memmove(r[i], r[i] + shift, sizeof(float) * (size_t)keep);
        memset(r[i] + keep, 0, sizeof(float) * (size_t)(s->cap - keep));
    }
    memmove(s->pmask, s->pmask + shift, sizeof(float) * (size_t)keep);
    memmove(s->pass, s->pass + shift, sizeof(float) * (size_t)keep);
    float *r16[] = {s->c16, s->h16, s->d16, s->am, s->av};
    for (size_t i = 0; i < sizeof r16 / sizeof r16[0]; i++) {
        memmove(r16[i], r16[i] + shift16, sizeof(float) * (size_t)keep16);
        memset(r16[i] + keep16, 0, sizeof(float) * (size_t)shift16);
    }
    memmove(s->age, s->age + shift16, sizeof(int32_t) * (size_t)keep16);
    memset(s->age + keep16, 0, sizeof(int32_t) * (size_t)shift16);
    s->origin += shift;
    s->h16_valid = s->h16_valid > shift16 ? s->h16_valid - shift16 : 0;
}

/* ---- input ---- */

int adv_stream_push(adv_stream *s, const float *x, long n)
{
    if (n <= 0) return 0;
    if (s->end + n > s->commit + s->H)
        return adv_fail("stream attack: %ld frames would exceed the horizon (commit first)", n);
    if (idx(s, s->end) + n > s->cap) slide(s);
    const long i0 = idx(s, s->end);
    const int C = s->C;
    memcpy(s->x + (size_t)i0 * C, x, sizeof(float) * (size_t)n * C);
    for (long i = i0; i < i0 + n; i++) {
        float acc = 0;
        for (int c = 0; c < C; c++) acc += s->x[(size_t)i * C + c];
        s->xm[i] = C == 1 ? acc : acc / (float)C;
        s->hm[i] = s->xm[i];
        s->p[i] = 0;
        s->pass[i] = 1.0f;
        s->pmask[i] = 1.0f;
    }
    /* clean 16 kHz: the outputs reading the new frames (those near the end are provisional) */
    long j0 = adv_resampler_first_output_reading(s->down, i0);
    long j1 = (long)(to16(s, s->origin + round_up(i0 + n, s->grid)) - to16(s, s->origin));
    adv_resampler_forward_range(s->down, s->xm, s->c16, j0, j1 > s->cap16 ? s->cap16 : j1);
    if (s->h16_valid > j0) s->h16_valid = j0;
    /* segment slots remember the iteration count when their first frame arrived */
    for (int64_t t = s->end; t < s->end + n; t++)
        if (t % s->S == 0) s->seg_iter[(t / s->S) % s->n_seg_slots] = s->iterations;
    s->end += n;
    return 0;
}

/* ---- the perturbation and what is heard ---- */

/* p, pmask, hm and pass over [i0, i1) from d16 (the free part). */
/* The local bound as a ratio of amplitudes (0: none). */
static float local_ratio(const adv_stream_params *p) { return p->bound_db > 0 ? powf(10.0f, -p->bound_db / 20.0f) : 0.0f; }

/* bnd[i] for i in [i0, i1): eps, or, with a local bound, the smaller of eps and `ratio` times the
 * input's envelope: the largest RMS over 5 ms of the clean mono mix within 100 ms before and 10 ms
 * after i (a loud sound masks what follows it for about 100 ms and what precedes it for a few ms). */
static void bounds(adv_stream *s, long i0, long i1, float eps, float ratio)
{
    if (!(ratio > 0)) {
        for (long i = i0; i < i1; i++) s->bnd[i] = eps;
        return;
    }
    const long blk = s->R / 200, back = s->R / 10, ahead = s->R / 100;
    long a = i0 - back - blk, b = i1 + ahead;
    if (a < 0) a = 0;
    if (b > s->cap) b = s->cap;
    /* e[j] = mean square over the 5 ms ending at j (running sum), then a sliding maximum */
    double acc = 0;
    for (long j = a; j < b; j++) {
        acc += (double)s->xm[j] * s->xm[j];
        if (j - blk >= a) acc -= (double)s->xm[j - blk] * s->xm[j - blk];
        s->env[j] = (float)(acc > 0 ? acc / blk : 0);
    }
    long head = 0, tail = 0, next = a;   /* deque of indices with decreasing env */
    for (long i = i0; i < i1; i++) {
        const long lo = i - back > a ? i - back : a, hi = i + ahead < b ? i + ahead : b - 1;
        for (; next <= hi; next++) {
            while (tail > head && s->env[s->dq[tail - 1]] <= s->env[next]) tail--;
            s->dq[tail++] = next;
        }
        while (s->dq[head] < lo) head++;
        const float bound = ratio * sqrtf(s->env[s->dq[head]]);
        s->bnd[i] = bound < eps ? bound : eps;
    }
}

static void perturb(adv_stream *s, long i0, long i1, float eps, float ratio)
{
    adv_resampler_forward_range(s->up, s->d16, s->p, i0, i1);
    bounds(s, i0, i1, eps, ratio);
    const int C = s->C;
    for (long i = i0; i < i1; i++) {
        float v = s->p[i];
        const float e = s->bnd[i];
        s->pmask[i] = 1.0f;
        if (v > e) v = e, s->pmask[i] = 0;
        else if (v < -e) v = -e, s->pmask[i] = 0;
        s->p[i] = v;
        float acc = 0;
        int live = 0;
        for (int c = 0; c < C; c++) {
            float h = s->x[(size_t)i * C + c] + v;
            if (h > 1.0f) h = 1.0f;
            else if (h < -1.0f) h = -1.0f;
            else live++;
            acc += h;
        }
        s->hm[i] = C == 1 ? acc : acc / (float)C;
        s->pass[i] = (float)live / (float)C;
    }
}

/* h16 from hm, for every output not up to date and every output reading [i_free, ...). */
static void hear(adv_stream *s, long i_free)
{
    long j0 = adv_resampler_first_output_reading(s->down, i_free);
    if (s->h16_valid < j0) j0 = s->h16_valid;
    long j1 = idx16(s, end16_valid(s));
    adv_resampler_forward_range(s->down, s->hm, s->h16, j0, j1);
    s->h16_valid = adv_resampler_first_output_reading(s->down, i_free);
}

/* ---- probes: the tracked window ends ---- */

static probe *probe_at(adv_stream *s, int64_t end16)
{
    int64_t k = end16 / s->P16;
    probe *pr = &s->probes[(size_t)(k % s->n_probes)];
    if (pr->end16 != end16) {
        memset(pr, 0, sizeof *pr);
        pr->end16 = end16;
        pr->margin = -1;
    }
    return pr;
}

static double rms16(const float *x, long n)
{
    double e = 0;
    for (long i = 0; i < n; i++) e += (double)x[i] * x[i];
    return sqrt(e / (double)(n > 0 ? n : 1));
}

/* 1 if the clean input's window ending at end16 is silent: the attack leaves it alone. */
static int window_silent(const adv_stream *s, int64_t end16)
{
    return rms16(s->c16 + idx16(s, end16) - s->W16, s->W16) < ADV_SILENCE_RMS;
}

/* How far class `target` leads the most likely other class, in probability. */
static float lead(const float *probs, int target)
{
    float other = 0;
    for (int k = 0; k < ADV_N_CLASSES; k++)
        if (k != target && probs[k] > other) other = probs[k];
    return probs[target] - other;
}

static uint64_t next_rand(adv_stream *s) { return adv_rng_next(&s->rng); }

/* Picks up to `want` probes among the window ends in (lo, hi] (16 kHz times, multiples of P16):
 * random, biased toward the newest (the later of two uniform draws), those not yet on target twice
 * as likely. A new window end has the most free samples in its window; an old one is nearly fixed
 * (docs/live.md compares this with uniform picks and with the oldest failing first). */
static int pick_probes(adv_stream *s, int64_t lo, int64_t hi, float margin, probe **out, int want)
{
    int64_t first = (lo / s->P16 + 1) * s->P16;
    if (first > hi) return 0;
    int count = (int)((hi - first) / s->P16) + 1, n = 0;
    for (int tries = 0; n < want && tries < 8 * want; tries++) {
        uint64_t r = next_rand(s) % (uint64_t)count, r2 = next_rand(s) % (uint64_t)count;
        probe *pr = probe_at(s, first + (int64_t)(r2 > r ? r2 : r) * s->P16);
        if (pr->silent) continue;
        if (pr->checked && pr->margin >= margin && (next_rand(s) & 1)) continue;
        int dup = 0;
        for (int k = 0; k < n; k++) dup |= out[k] == pr;
        if (!dup) out[n++] = pr;
    }
    return n;
}

/* One window ending at end16: forward, its record, and (unless it already leads by the margin)
 * the gradient of weight x cross-entropy toward the target added into g16. Per-time-step loss: the
 * cross-entropy of each of the network's time steps (its scores before the max over time) that
 * does not yet lead by the margin, averaged over the steps; a window whose every step leads is
 * heard as the target whatever the steps' alignment, which carries over to shifted windows.
 * Window loss: the paper's cross-entropy of the window's logits. Returns the loss added. */
/* One window: forward, the loss of its steps (or logits) still short of the margin, and their
 * gradient into gwin (W16 samples; returns 0 in *has when nothing was back-propagated). Touches
 * only clf, pr and gwin: the windows of a batch run in parallel. */
static double window_step(const adv_stream *s, adv_classifier *clf, probe *pr, int64_t end16, const adv_stream_params *p,
                          float weight, float *gwin, int *has)
{
    *has = 0;
    const long a = idx16(s, end16) - s->W16;
    if (window_silent(s, end16)) { pr->silent = 1; return 0; }
    float logits[ADV_N_CLASSES], probs[ADV_N_CLASSES];
    adv_classifier_forward(clf, s->h16 + a, logits);
    adv_softmax(ADV_N_CLASSES, logits, probs);
    pr->margin = lead(probs, p->target);
    pr->ptarget = probs[p->target];
    pr->cls = adv_most_likely(probs);
    pr->pcls = probs[pr->cls];
    pr->checked = 1;
    double loss = 0;
    if (s->cfg.window_loss) {
        if (pr->margin >= p->margin && pr->margin > 0) return 0;
        float g[ADV_N_CLASSES];
        for (int k = 0; k < ADV_N_CLASSES; k++) g[k] = weight * (probs[k] - (k == p->target ? 1.0f : 0.0f));
        loss = -weight * log(fmax(probs[p->target], 1e-30));
        adv_classifier_backward(clf, g, gwin);
    } else {
        const int T = adv_classifier_time_steps(clf);
        float sc[ADV_N_CLASSES * MAX_STEPS], gs[ADV_N_CLASSES * MAX_STEPS], col[ADV_N_CLASSES], pc[ADV_N_CLASSES];
        if (T > MAX_STEPS) return 0;
        adv_classifier_step_scores(clf, sc);
        int active = 0;
        for (int t = 0; t < T; t++) {
            for (int k = 0; k < ADV_N_CLASSES; k++) col[k] = sc[k * T + t];
            adv_softmax(ADV_N_CLASSES, col, pc);
            float l = lead(pc, p->target);
            int on = l < p->margin || l <= 0;
            active += on;
            for (int k = 0; k < ADV_N_CLASSES; k++)
                gs[k * T + t] = on ? weight / (float)T * (pc[k] - (k == p->target ? 1.0f : 0.0f)) : 0.0f;
            if (on) loss -= weight / T * log(fmax(pc[p->target], 1e-30));
        }
        if (!active) return 0;
        adv_classifier_backward_steps(clf, gs, gwin);
    }
    *has = 1;
    return loss;
}

/* Adam on sign gradients with a step count per element (elements join the free region at different
 * times; the step shrinks with that count when lr_decay is set), then the L-inf clip. */
static void update(adv_stream *s, long k0, long k1, float lr, float eps)
{
    const float b1 = 0.9f, b2 = 0.999f, tau = (float)s->cfg.lr_decay;
    if (s->cfg.update == ADV_STREAM_UPDATE_L2) {
        /* momentum on the raw gradient, the step scaled so that its RMS over the free part is lr:
         * steepest descent in the L2 geometry the SNR is measured in (sign updates are the L-inf one) */
        double ss = 0;
        for (long k = k0; k < k1; k++) {
            s->am[k] = b1 * s->am[k] + (1 - b1) * s->gd16[k];
            ss += (double)s->am[k] * s->am[k];
        }
        const float scale = ss > 0 ? (float)(lr / sqrt(ss / (double)(k1 - k0))) : 0.0f;
        for (long k = k0; k < k1; k++) {
            int32_t t = ++s->age[k];
            float step = tau > 0 ? scale * tau / (tau + (float)(t - 1)) : scale;
            float d = s->d16[k] - step * s->am[k];
            s->d16[k] = d > eps ? eps : (d < -eps ? -eps : d);
        }
        return;
    }
    const int raw = s->cfg.update == ADV_STREAM_UPDATE_ADAM;
    for (long k = k0; k < k1; k++) {
        float g = raw ? s->gd16[k] : (s->gd16[k] > 0 ? 1.0f : (s->gd16[k] < 0 ? -1.0f : 0.0f));
        int32_t t = ++s->age[k];
        s->am[k] = b1 * s->am[k] + (1 - b1) * g;
        s->av[k] = b2 * s->av[k] + (1 - b2) * g * g;
        float mhat = s->am[k] / (1.0f - powf(b1, (float)t)), vhat = s->av[k] / (1.0f - powf(b2, (float)t));
        float step = tau > 0 ? lr * tau / (tau + (float)(t - 1)) : lr;
        float d = s->d16[k] - step * mhat / (sqrtf(vhat) + 1e-8f);
        s->d16[k] = d > eps ? eps : (d < -eps ? -eps : d);
    }
}

/* The parameter below this index is frozen: the committed output read it (U's taps reach past the
 * commit point), so changing it now would make the played perturbation jump at the boundary. */
static long frozen_until(const adv_stream *s)
{
    long ic = idx(s, s->commit), lo, hi;
    if (ic <= 0) return (long)(to16(s, s->commit) - to16(s, s->origin));
    adv_resampler_input_span(s->up, ic - 1, ic, &lo, &hi);
    return hi;
}

double adv_stream_gradient(adv_stream *s, const adv_stream_params *p, const int64_t *ends16, int n, long *k0,
                           long *k1)
{
    const long ic = idx(s, s->commit), in = idx(s, s->end);
    const int64_t e16 = end16_valid(s);
    perturb(s, ic, in, p->eps, local_ratio(p));
    hear(s, ic);
    memset(s->g16, 0, sizeof(float) * (size_t)s->cap16);
    const float w = p->alpha / (float)n;
    double loss = 0;
    probe *prs[MAX_BATCH];
    int has[MAX_BATCH], distinct = n <= s->cfg.batch && n <= MAX_BATCH;
    double losses[MAX_BATCH];
    for (int b = 0; b < n && b < MAX_BATCH; b++) {
        prs[b] = probe_at(s, (ends16[b] + s->P16 / 2) / s->P16 * s->P16);   /* the probe it stands for */
        for (int c = 0; c < b; c++) distinct &= prs[c] != prs[b];
    }
    if (distinct) {
        /* the batch's windows in parallel: each its own classifier, probe and gradient buffer */
#pragma omp parallel for schedule(static, 1) if (n > 1)
        for (int b = 0; b < n; b++)
            losses[b] = window_step(s, s->clf[b], prs[b], ends16[b], p, w, s->gwin + (size_t)b * s->W16, &has[b]);
        for (int b = 0; b < n; b++) {
            loss += losses[b];
            const long a = idx16(s, ends16[b]) - s->W16;
            if (has[b])
                for (long i = 0; i < s->W16; i++) s->g16[a + i] += s->gwin[(size_t)b * s->W16 + i];
        }
    } else {
        /* more windows than classifiers (tests), or two on one probe: one after the other */
        for (int b = 0; b < n; b++) {
            probe *pr = b < MAX_BATCH ? prs[b] : probe_at(s, (ends16[b] + s->P16 / 2) / s->P16 * s->P16);
            int h;
            loss += window_step(s, s->clf[b % s->cfg.batch], pr, ends16[b], p, w, s->gwin, &h);
            const long a = idx16(s, ends16[b]) - s->W16;
            if (h)
                for (long i = 0; i < s->W16; i++) s->g16[a + i] += s->gwin[i];
        }
    }
    if (p->method == ADV_MSCW) {
        /* the multi-scale loss at 16 kHz (the paper's durations) over the free region and some context */
        const long a = idx16(s, e16 - s->ms_n);
        if (a >= 0) {
            if (s->ms_ref_end != e16) {
                adv_msloss_set_reference(s->ms, s->c16 + a);
                s->ms_ref_end = e16;
            }
            /* the loss is a mean over the span's frames: weighted by span / window, it counts as it
             * would for a clip of the window's length, so alpha keeps the paper's balance */
            const float wms = (float)s->ms_n / (float)s->W16;
            float *gms = s->gd16;   /* scratch: gd16 is rebuilt below */
            loss += wms * adv_msloss_eval(s->ms, s->h16 + a, gms);
            for (long i = 0; i < s->ms_n; i++) s->g16[a + i] += wms * gms[i];
        }
    }
    /* back to the perturbation at R, through the clamps, plus C&W's L2 term */
    long j0 = adv_resampler_first_output_reading(s->down, ic), j1 = idx16(s, e16), lo, hi;
    adv_resampler_input_span(s->down, j0, j1, &lo, &hi);
    memset(s->gm + lo, 0, sizeof(float) * (size_t)(hi - lo));
    adv_resampler_backward_range_add(s->down, s->g16, s->gm, j0, j1);
    for (long i = ic; i < in; i++) {
        float g = s->gm[i] * s->pass[i];
        if (p->method == ADV_CW) {
            g += 2.0f * s->p[i];
            loss += (double)s->p[i] * s->p[i];
        }
        s->gm[i] = g * s->pmask[i];
    }
    /* to the parameter: only its free part; U's outputs [ic, in) read [lo, hi) */
    adv_resampler_input_span(s->up, ic, in, &lo, &hi);
    memset(s->gd16 + lo, 0, sizeof(float) * (size_t)(hi - lo));
    adv_resampler_backward_range_add(s->up, s->gm, s->gd16, ic, in);
    *k0 = frozen_until(s);
    *k1 = hi;
    return loss;
}

float *adv_stream_param(adv_stream *s, int64_t *origin16)
{
    *origin16 = to16(s, s->origin);
    return s->d16;
}

const float *adv_stream_param_grad(const adv_stream *s) { return s->gd16; }

int adv_stream_iterate(adv_stream *s, const adv_stream_params *p)
{
    if (p->target < 0 || p->target >= ADV_N_CLASSES) return 0;
    if (!s->active || s->target != p->target) {
        for (int i = 0; i < s->n_probes; i++) s->probes[i].checked = 0;   /* margins were for another target */
        s->active = 1;
        s->target = p->target;
    }
    s->eps = p->eps;
    s->ratio = local_ratio(p);
    const int64_t c16 = to16(s, s->commit), e16 = end16_valid(s);
    const int B = pick_probes(s, c16, e16, p->margin, s->pick, s->cfg.batch);
    if (B == 0) return 0;
    int64_t ends[MAX_BATCH];
    for (int b = 0; b < B; b++) {
        /* anywhere within half a probe spacing of the probe: every offset gets its turn */
        int64_t end = s->pick[b]->end16 + (int64_t)(next_rand(s) % (uint64_t)s->P16) - s->P16 / 2;
        ends[b] = end <= c16 ? c16 + 1 : (end > e16 ? e16 : end);
    }
    long k0, k1;
    adv_stream_gradient(s, p, ends, B, &k0, &k1);
    update(s, k0, k1, p->lr, p->eps);
    if (s->R == ADV_SAMPLE_RATE) {
        /* U is the identity: a parameter beyond its bound would stay clamped with a zero gradient
         * for good (at other rates its neighbours' taps still move it); project it instead */
        const long i0 = k0 > idx(s, s->commit) ? k0 : idx(s, s->commit), i1 = k1 < idx(s, s->end) ? k1 : idx(s, s->end);
        for (long k = i0; k < i1; k++) {
            const float e = s->bnd[k];
            s->d16[k] = s->d16[k] > e ? e : (s->d16[k] < -e ? -e : s->d16[k]);
        }
    }
    s->iterations++;
    return 1;
}

int adv_stream_input_class(adv_stream *s)
{
    const int64_t e16 = end16_valid(s);
    const long a = idx16(s, e16) - s->W16;
    if (e16 < s->W16 || a < 0 || rms16(s->c16 + a, s->W16) < ADV_SILENCE_RMS) return -1;
    float logits[ADV_N_CLASSES], probs[ADV_N_CLASSES];
    adv_classifier_forward(s->clf[0], s->c16 + a, logits);
    adv_softmax(ADV_N_CLASSES, logits, probs);
    return adv_most_likely(probs);
}

/* ---- commits ---- */

void adv_stream_reset_free(adv_stream *s)
{
    /* the committed part of d16 only shapes the boundary of U's output: dropped too */
    memset(s->d16, 0, sizeof(float) * (size_t)s->cap16);
    memset(s->am, 0, sizeof(float) * (size_t)s->cap16);
    memset(s->av, 0, sizeof(float) * (size_t)s->cap16);
    memset(s->age, 0, sizeof(int32_t) * (size_t)s->cap16);
    for (int i = 0; i < s->n_probes; i++) s->probes[i].checked = 0;
    s->active = 0;
}

/* hm over [i0, i1) for the perturbation p as it stands (no clamp to eps: p is what plays). */
static void hear_as_set(adv_stream *s, long i0, long i1)
{
    const int C = s->C;
    for (long i = i0; i < i1; i++) {
        float acc = 0;
        for (int c = 0; c < C; c++) {
            float h = s->x[(size_t)i * C + c] + s->p[i];
            acc += h > 1.0f ? 1.0f : (h < -1.0f ? -1.0f : h);
        }
        s->hm[i] = C == 1 ? acc : acc / (float)C;
    }
}

int adv_stream_commit(adv_stream *s, float *pert, adv_stream_segment *seg)
{
    if (s->end - s->commit < s->S) return 0;
    const long i0 = idx(s, s->commit), n = s->S;
    memset(seg, 0, sizeof *seg);
    seg->start = s->commit;
    seg->frames = n;
    seg->target = s->active ? s->target : ADV_TARGET_NONE;
    seg->iterations = s->iterations - s->seg_iter[(s->commit / s->S) % s->n_seg_slots];
    if (s->active) {
        perturb(s, i0, i0 + n, s->eps, s->ratio);
    } else {
        /* no attack: what was being played fades out over the first 10 ms, then silence */
        long ramp = s->R / 100;
        float last = i0 > 0 ? s->p[i0 - 1] : 0;
        for (long i = 0; i < n; i++) {
            float v = i < ramp ? last * (float)(0.5 + 0.5 * cos(M_PI * (i + 1) / (double)ramp)) : 0.0f;
            s->p[i0 + i] = v;
        }
        hear_as_set(s, i0, i0 + n);
    }
    /* the windows ending in this segment are final: report them */
    const int64_t c16 = to16(s, s->commit), e16 = c16 + s->S16;
    int silent = 0, votes[ADV_N_CLASSES] = {0};
    float conf[ADV_N_CLASSES] = {0};
    seg->min_margin = 1;
    double psum = 0;
    for (int64_t e = (c16 / s->P16 + 1) * s->P16; e <= e16; e += s->P16) {
        probe *pr = probe_at(s, e);
        if (!pr->checked && !pr->silent) pr->silent = window_silent(s, e);   /* never picked: look now */
        if (pr->silent) { silent++; continue; }
        seg->windows++;
        if (pr->checked && pr->margin > 0) seg->hits++;
        if (pr->checked) {
            votes[pr->cls]++;
            conf[pr->cls] += pr->pcls;
        }
        float mg = pr->checked ? pr->margin : -1;
        if (mg < seg->min_margin) seg->min_margin = mg;
        psum += pr->ptarget;
    }
    if (s->active && seg->windows == 0 && silent > 0) {
        /* every window ending here hears only silence: nothing is added to it (later windows'
         * gradients may have reached it) */
        memset(s->p + i0, 0, sizeof(float) * (size_t)n);
        hear_as_set(s, i0, i0 + n);
    }
    memcpy(pert, s->p + i0, sizeof(float) * (size_t)n);
    seg->mean_target_prob = seg->windows ? (float)(psum / seg->windows) : 0;
    seg->heard_class = -1;
    for (int k = 0; k < ADV_N_CLASSES; k++)
        if (votes[k] && (seg->heard_class < 0 || votes[k] > votes[seg->heard_class])) seg->heard_class = k;
    if (seg->heard_class >= 0) seg->heard_confidence = conf[seg->heard_class] / (float)votes[seg->heard_class];
    double sx = 0, sd = 0;
    for (long i = i0; i < i0 + n; i++) {
        double d = (double)s->hm[i] - s->xm[i];
        sx += (double)s->xm[i] * s->xm[i];
        sd += d * d;
    }
    seg->snr_db = sd > 0 ? 10.0 * log10(sx / sd) : INFINITY;
    if (!s->active) seg->status = ADV_SEGMENT_OFF;
    else if (seg->windows == 0 && silent > 0) seg->status = ADV_SEGMENT_SILENT;
    else seg->status = seg->hits == seg->windows ? ADV_SEGMENT_OK : ADV_SEGMENT_FAILED;
    s->commit += n;
    if (s->h16_valid > adv_resampler_first_output_reading(s->down, i0))
        s->h16_valid = adv_resampler_first_output_reading(s->down, i0);
    return 1;
}
