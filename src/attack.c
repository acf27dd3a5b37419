/* FGSM, PGDn, C&W and Multi-Scale C&W on the waveform (see include/advinst/attack.h).
 *
 * Per check, with x the interleaved clip and d the perturbation as applied:
 *   heard[f][c] = q(clamp(x[f][c] + d[f], -1, 1))     q: the output format's grid
 *   mono[f]     = mean over c of heard[f][c]           what the classifier hears
 * and the gradient of a loss L(mono) with respect to d is
 *   dL/dd[f]    = dL/dmono[f] * (channels where the clamp is inactive) / channels
 * (straight through q). The loss gradients are added in the mono domain (cross-entropy through the
 * classifier; MS-C&W's spectral loss against the clean mono mix), the L2 term of C&W directly on d. */
#include "advinst/attack.h"
#include "advinst/audio.h"
#include "advinst/classifier.h"
#include "advinst/error.h"
#include "advinst/msloss.h"
#include "advinst/nn.h"
#include "advinst/optim.h"
#include "advinst/progress.h"
#include <math.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SNR_MARGIN 2048
#define SILENCE_RMS 1e-6

static const char *const method_names[ADV_N_METHODS] = {"fgsm", "pgdn", "cw", "mscw"};

const char *adv_attack_method_name(adv_attack_method m)
{
    return (unsigned)m < ADV_N_METHODS ? method_names[m] : "unknown";
}

int adv_attack_method_parse(const char *name)
{
    if (!name) return -1;
    for (int i = 0; i < ADV_N_METHODS; i++)
        if (!strcasecmp(name, method_names[i])) return i;
    return -1;
}

int adv_attack_method_targeted(adv_attack_method m) { return m == ADV_CW || m == ADV_MSCW; }

const char *adv_attack_status_name(adv_attack_status s)
{
    switch (s) {
    case ADV_ATTACK_OK: return "ok";
    case ADV_ATTACK_FAILED: return "failed";
    case ADV_ATTACK_SILENT: return "silent";
    case ADV_ATTACK_ALREADY: return "already";
    case ADV_ATTACK_CANCELLED: return "cancelled";
    }
    return "unknown";
}

void adv_attack_defaults(adv_attack_method m, adv_attack_params *p)
{
    memset(p, 0, sizeof *p);
    p->method = m;
    p->max_iter = 500;
    p->target = adv_attack_method_targeted(m) ? ADV_TARGET_RANDOM : ADV_TARGET_NONE;
    p->min_snr_db = NAN;
    switch (m) {
    case ADV_FGSM: p->eps = 0.1f; p->max_iter = 1; break;
    case ADV_PGDN: p->eps = 0.0005f; p->lr = 1e-5f; break;
    case ADV_CW: p->eps = 0.01f; p->alpha = 0.01f; p->lr = 1e-5f; break;
    case ADV_MSCW: p->eps = 0.01f; p->alpha = 10.0f; p->lr = 1e-5f; break;
    default: break;
    }
}

/* ---- output quantisation ---- */

typedef enum { Q_NONE, Q_PCM, Q_FLAC } quant_kind;
typedef struct { quant_kind kind; int bits; } quantizer;

static quantizer quantizer_for(int format)
{
    quantizer q = {Q_NONE, 0};
    int bits = 0;
    switch (format & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_PCM_S8: case SF_FORMAT_PCM_U8: bits = 8; break;
    case SF_FORMAT_PCM_16: bits = 16; break;
    case SF_FORMAT_PCM_24: bits = 24; break;
    case SF_FORMAT_PCM_32: bits = 32; break;
    default: return q;   /* float, double, and encodings whose decoding is not a plain grid */
    }
    q.bits = bits;
    q.kind = (format & SF_FORMAT_TYPEMASK) == SF_FORMAT_FLAC ? Q_FLAC : Q_PCM;
    return q;
}

static inline float quantize(quantizer q, float v)
{
    if (q.kind == Q_PCM) {
        /* libsndfile's PCM writer (clipping on): a 32-bit value, then its top `bits` bits */
        double t = (double)v * 2147483648.0;
        int32_t s = t >= 2147483647.0 ? INT32_MAX : t <= -2147483648.0 ? INT32_MIN : (int32_t)llrint(t);
        s >>= 32 - q.bits;   /* arithmetic shift: floor */
        return (float)((double)s / (double)(1L << (q.bits - 1)));
    }
    if (q.kind == Q_FLAC) {
        /* libsndfile's FLAC writer: rounded at the sample size, clamped */
        double scale = (double)(1L << (q.bits - 1)), t = (double)v * scale, r;
        if (t >= scale - 1) r = scale - 1;
        else if (t <= -scale) r = -scale;
        else r = (double)lrint(t);
        return (float)(r / scale);
    }
    return v;
}

float adv_quantize_sample(float v, int format) { return quantize(quantizer_for(format), v); }

/* ---- SNR ---- */

void adv_snr_window(long n, long *lo, long *hi)
{
    *lo = SNR_MARGIN;
    *hi = n - SNR_MARGIN - 1;
    if (*hi <= *lo) { *lo = 0; *hi = n; }
}

double adv_snr_db(const float *x, const float *x_adv, long n)
{
    long lo, hi;
    adv_snr_window(n, &lo, &hi);
    double sx = 0, sd = 0;
    for (long i = lo; i < hi; i++) {
        double d = (double)x[i] - x_adv[i];
        sx += (double)x[i] * x[i];
        sd += d * d;
    }
    return 20.0 * log10(sqrt(sx) / (sqrt(sd) + 1e-12));
}

/* ---- workspace ---- */

struct adv_attack_ws {
    adv_model *model;
    int rate, channels;
    long frames;
    adv_classifier *clf;
    adv_msloss *ms;          /* NULL unless planned */
    adv_adam adam;
    float *delta;            /* the optimised perturbation */
    float *applied;          /* the perturbation as added (PGDn: clamped to eps) */
    float *grad;             /* d loss / d delta, then its sign */
    float *gmono;            /* d loss / d mono */
    float *gms;              /* d L_ms / d mono */
    float *pass;             /* d mono / d delta: share of channels not clamped */
    float *mono_clean, *mono_heard;
    float *heard;            /* frames x channels, what would be written */
};

int adv_attack_ws_rate(const adv_attack_ws *ws) { return ws->rate; }
long adv_attack_ws_frames(const adv_attack_ws *ws) { return ws->frames; }
int adv_attack_ws_channels(const adv_attack_ws *ws) { return ws->channels; }

void adv_attack_ws_free(adv_attack_ws *ws)
{
    if (!ws) return;
    adv_classifier_free(ws->clf);
    adv_msloss_free(ws->ms);
    adv_adam_free(&ws->adam);
    free(ws->delta);
    free(ws->applied);
    free(ws->grad);
    free(ws->gmono);
    free(ws->gms);
    free(ws->pass);
    free(ws->mono_clean);
    free(ws->mono_heard);
    free(ws->heard);
    free(ws);
}

adv_attack_ws *adv_attack_ws_create(adv_model *m, int rate, long frames, int channels, int with_msloss)
{
    if (!m || rate <= 0 || frames <= 0 || channels <= 0) {
        adv_fail("attack: invalid clip (%ld frames, %d channels, %d Hz)", frames, channels, rate);
        return NULL;
    }
    adv_attack_ws *ws = calloc(1, sizeof *ws);
    if (!ws) { adv_fail("out of memory"); return NULL; }
    ws->model = m;
    ws->rate = rate;
    ws->frames = frames;
    ws->channels = channels;
    ws->clf = adv_classifier_create(m, rate, frames);
    if (!ws->clf) { adv_attack_ws_free(ws); return NULL; }
    if (with_msloss && !(ws->ms = adv_msloss_create(frames))) { adv_attack_ws_free(ws); return NULL; }
    if (adv_adam_init(&ws->adam, (size_t)frames, 1e-5f) != 0) { adv_attack_ws_free(ws); return NULL; }
    const size_t n = (size_t)frames;
    ws->delta = malloc(sizeof(float) * n);
    ws->applied = malloc(sizeof(float) * n);
    ws->grad = malloc(sizeof(float) * n);
    ws->gmono = malloc(sizeof(float) * n);
    ws->gms = malloc(sizeof(float) * n);
    ws->pass = malloc(sizeof(float) * n);
    ws->mono_clean = malloc(sizeof(float) * n);
    ws->mono_heard = malloc(sizeof(float) * n);
    ws->heard = malloc(sizeof(float) * n * (size_t)channels);
    if (!ws->delta || !ws->applied || !ws->grad || !ws->gmono || !ws->gms || !ws->pass || !ws->mono_clean ||
        !ws->mono_heard || !ws->heard) {
        adv_attack_ws_free(ws);
        adv_fail("out of memory for an attack on %ld frames x %d channels", frames, channels);
        return NULL;
    }
    return ws;
}

/* ---- one attack ---- */

/* State of one run. */
typedef struct {
    adv_attack_ws *ws;
    const adv_attack_params *p;
    const float *x;
    quantizer q;
    int targeted, label;     /* label: target (targeted) or original prediction */
    float logits[ADV_N_CLASSES], probs[ADV_N_CLASSES];
    int pred;
    double snr;
    int snr_on;
    double snr_radius;       /* max ||delta|| over the SNR window */
} run_state;

/* heard, mono_heard and pass from ws->applied. */
static void apply(run_state *s)
{
    adv_attack_ws *ws = s->ws;
    const int C = ws->channels;
    const float inv = 1.0f / (float)C;
    for (long f = 0; f < ws->frames; f++) {
        const float d = ws->applied[f];
        const float *xf = s->x + (size_t)f * C;
        float *hf = ws->heard + (size_t)f * C;
        int live = 0;
        for (int c = 0; c < C; c++) {
            float v = xf[c] + d;
            if (v > 1.0f) v = 1.0f;
            else if (v < -1.0f) v = -1.0f;
            else live++;
            hf[c] = quantize(s->q, v);
        }
        ws->pass[f] = C == 1 ? (float)live : (float)live * inv;
    }
    adv_audio a = {ws->heard, ws->frames, C, ws->rate, 0};
    adv_audio_mix_mono(&a, ws->mono_heard);   /* exactly the mix a reader of the file computes */
}

/* Forward of what would be written: logits, prediction, SNR. */
static void check(run_state *s)
{
    adv_attack_ws *ws = s->ws;
    adv_classifier_forward(ws->clf, ws->mono_heard, s->logits);
    adv_softmax(ADV_N_CLASSES, s->logits, s->probs);
    s->pred = adv_most_likely(s->probs);
    s->snr = adv_snr_db(ws->mono_clean, ws->mono_heard, ws->frames);
}

static int succeeded(const run_state *s)
{
    int moved = s->targeted ? s->pred == s->label : s->pred != s->label;
    if (!moved) return 0;
    if (s->p->confidence > 0 && s->probs[s->pred] < s->p->confidence) return 0;
    if (s->snr_on && !(s->snr >= s->p->min_snr_db)) return 0;
    return 1;
}

/* ws->grad = d objective / d delta for the last forward (whose input was mono_heard); returns the
 * objective (see adv_attack_objective) and its distance term in *distance. */
static double gradient(run_state *s, double *distance)
{
    adv_attack_ws *ws = s->ws;
    const adv_attack_params *p = s->p;
    const long n = ws->frames;
    float glogits[ADV_N_CLASSES];
    double ce = adv_cross_entropy(1, ADV_N_CLASSES, s->logits, &s->label, glogits), dist = 0;
    /* FGSM ascends CE directly; PGDn minimises -CE; C&W and MS-C&W minimise alpha CE + distance */
    float coef = p->method == ADV_PGDN ? -1.0f : (p->method == ADV_FGSM ? 1.0f : p->alpha);
    for (int k = 0; k < ADV_N_CLASSES; k++) glogits[k] *= coef;
    adv_classifier_backward(ws->clf, glogits, ws->gmono);
    if (p->method == ADV_MSCW) {
        dist = adv_msloss_eval(ws->ms, ws->mono_heard, ws->gms);
        for (long i = 0; i < n; i++) ws->gmono[i] += ws->gms[i];
    }
    for (long i = 0; i < n; i++) ws->grad[i] = ws->gmono[i] * ws->pass[i];
    if (p->method == ADV_PGDN) {
        /* x + clamp(delta, -eps, eps): no gradient where the clamp is active */
        for (long i = 0; i < n; i++)
            if (ws->delta[i] > p->eps || ws->delta[i] < -p->eps) ws->grad[i] = 0;
    } else if (p->method == ADV_CW) {
        for (long i = 0; i < n; i++) {
            ws->grad[i] += 2.0f * ws->delta[i];
            dist += (double)ws->delta[i] * ws->delta[i];
        }
    }
    if (distance) *distance = dist;
    return coef * ce + dist;
}

/* Scales delta into the L2 ball of the minimum SNR (measured over the SNR window). */
static void project_snr(run_state *s)
{
    if (!s->snr_on) return;
    adv_attack_ws *ws = s->ws;
    long lo, hi;
    adv_snr_window(ws->frames, &lo, &hi);
    double ss = 0;
    for (long i = lo; i < hi; i++) ss += (double)ws->delta[i] * ws->delta[i];
    double norm = sqrt(ss);
    if (norm <= s->snr_radius) return;
    float scale = (float)(s->snr_radius / norm);
    for (long i = 0; i < ws->frames; i++) ws->delta[i] *= scale;
}

/* ws->applied from ws->delta. */
static void set_applied(run_state *s)
{
    adv_attack_ws *ws = s->ws;
    const float eps = s->p->eps;
    if (s->p->method == ADV_PGDN) {
        for (long i = 0; i < ws->frames; i++) {
            float d = ws->delta[i];
            ws->applied[i] = d > eps ? eps : (d < -eps ? -eps : d);
        }
    } else {
        memcpy(ws->applied, ws->delta, sizeof(float) * (size_t)ws->frames);
    }
}

static int validate(const adv_attack_ws *ws, const adv_attack_params *p, const float *x)
{
    if (!p || (unsigned)p->method >= ADV_N_METHODS) return adv_fail("attack: unknown method");
    const char *name = adv_attack_method_name(p->method);
    if (!(isfinite(p->eps) && p->eps >= 0)) return adv_fail("%s: eps must be finite and >= 0 (got %g)", name, p->eps);
    if (p->method != ADV_FGSM && !(isfinite(p->lr) && p->lr > 0))
        return adv_fail("%s: lr must be finite and > 0 (got %g)", name, p->lr);
    if (adv_attack_method_targeted(p->method) && !(isfinite(p->alpha) && p->alpha >= 0))
        return adv_fail("%s: alpha must be finite and >= 0 (got %g)", name, p->alpha);
    if (p->max_iter < 1) return adv_fail("%s: max_iter must be >= 1 (got %ld)", name, p->max_iter);
    if (!(p->confidence >= 0 && p->confidence <= 1))
        return adv_fail("%s: confidence must be in [0, 1] (got %g)", name, p->confidence);
    if (p->min_snr_db == INFINITY) return adv_fail("%s: min_snr_db must be finite (or off)", name);
    if (adv_attack_method_targeted(p->method) && p->target != ADV_TARGET_RANDOM &&
        (p->target < 0 || p->target >= ADV_N_CLASSES))
        return adv_fail("%s is a targeted attack: the target must be a class index 0..%d or random (got %d)", name,
                        ADV_N_CLASSES - 1, p->target);
    if (p->method == ADV_MSCW && !ws->ms)
        return adv_fail("mscw: the attack workspace was created without the multi-scale loss");
    return adv_audio_check_samples(x, ws->frames, ws->channels, "attack: the input");
}

/* The start of a clip: the clean mono mix and its original prediction, the distance's reference,
 * the label to move toward or away from, the unperturbed output (delta = 0). Returns 1 if the mono
 * mix is silent. */
static int start_clip(run_state *s, const adv_attack_params *p, const float *x, int format)
{
    adv_attack_ws *ws = s->ws;
    const long n = ws->frames;
    s->p = p;
    s->x = x;
    s->q = quantizer_for(format);
    s->targeted = adv_attack_method_targeted(p->method);
    s->snr_on = isfinite(p->min_snr_db);

    adv_audio clean = {(float *)x, n, ws->channels, ws->rate, 0};
    adv_audio_mix_mono(&clean, ws->mono_clean);
    memset(ws->delta, 0, sizeof(float) * (size_t)n);
    memset(ws->applied, 0, sizeof(float) * (size_t)n);
    apply(s);   /* the unperturbed output, and the clamp mask at delta = 0 */

    /* the original prediction, on the input as given */
    adv_classifier_forward(ws->clf, ws->mono_clean, s->logits);
    adv_softmax(ADV_N_CLASSES, s->logits, s->probs);
    s->pred = adv_most_likely(s->probs);
    /* MS-C&W measures its distance from the clean clip */
    if (p->method == ADV_MSCW) adv_msloss_set_reference(ws->ms, ws->mono_clean);

    s->label = s->pred;
    if (s->targeted) {
        int target = p->target;
        if (target == ADV_TARGET_RANDOM) {
            uint64_t rng = p->seed ^ 0x7461726765742121ULL;   /* independent of PGDn's stream */
            int k = (int)(adv_rng_next(&rng) % (ADV_N_CLASSES - 1));
            target = k < s->pred ? k : k + 1;
        }
        s->label = target;
    }
    double energy = 0;
    for (long i = 0; i < n; i++) energy += (double)ws->mono_clean[i] * ws->mono_clean[i];
    return sqrt(energy / (double)n) < SILENCE_RMS;
}

int adv_attack_objective(adv_attack_ws *ws, const adv_attack_params *p, const float *x, int format,
                         const float *delta, double *value, double *distance, float *grad)
{
    if (validate(ws, p, x) != 0) return -1;
    if (p->target == ADV_TARGET_RANDOM) return adv_fail("attack objective: the target must be a class index");
    run_state s = {0};
    s.ws = ws;
    start_clip(&s, p, x, format);
    memcpy(ws->delta, delta, sizeof(float) * (size_t)ws->frames);
    set_applied(&s);
    apply(&s);
    check(&s);
    double v = gradient(&s, distance);
    if (value) *value = v;
    if (grad) memcpy(grad, ws->grad, sizeof(float) * (size_t)ws->frames);
    return 0;
}

int adv_attack_run(adv_attack_ws *ws, const adv_attack_params *p, const float *x, int format, float *out,
                   adv_attack_result *r)
{
    const double t0 = adv_now();
    memset(r, 0, sizeof *r);
    r->target = ADV_TARGET_NONE;
    if (validate(ws, p, x) != 0) return -1;
    const long n = ws->frames;
    run_state s = {0};
    s.ws = ws;
    int silent = start_clip(&s, p, x, format);
    r->before_class = r->after_class = s.pred;
    r->before_confidence = r->after_confidence = s.probs[s.pred];
    r->snr_db = INFINITY;
    if (s.targeted) r->target = s.label;
    long lo, hi;
    if (silent || (s.targeted && s.pred == s.label)) {
        r->status = silent ? ADV_ATTACK_SILENT : ADV_ATTACK_ALREADY;
        memcpy(out, ws->heard, sizeof(float) * (size_t)n * ws->channels);
        r->seconds = adv_now() - t0;
        return 0;
    }

    if (s.snr_on) {
        adv_snr_window(n, &lo, &hi);
        double sx = 0;
        for (long i = lo; i < hi; i++) sx += (double)ws->mono_clean[i] * ws->mono_clean[i];
        s.snr_radius = sqrt(sx) * pow(10.0, -p->min_snr_db / 20.0);
    }

    adv_adam_reset(&ws->adam);
    ws->adam.lr = p->lr;
    if (p->method == ADV_PGDN) {
        /* random start; its forward only feeds the first update */
        uint64_t rng = p->seed;
        for (long i = 0; i < n; i++) ws->delta[i] = p->eps * (2.0f * adv_rng_uniform(&rng) - 1.0f);
        project_snr(&s);
        set_applied(&s);
        apply(&s);
        check(&s);
    }

    const long max_iter = p->method == ADV_FGSM ? 1 : p->max_iter;
    adv_attack_status status = ADV_ATTACK_FAILED;
    long it = 0;
    while (it < max_iter) {
        if (p->cancel && atomic_load(p->cancel)) { status = ADV_ATTACK_CANCELLED; break; }
        gradient(&s, NULL);
        adv_sign((size_t)n, ws->grad, ws->grad);
        if (p->method == ADV_FGSM) {
            for (long i = 0; i < n; i++) ws->delta[i] = p->eps * ws->grad[i];
        } else {
            adv_adam_step(&ws->adam, ws->delta, ws->grad);
            if (s.targeted)
                for (long i = 0; i < n; i++) {
                    float d = ws->delta[i];
                    ws->delta[i] = d > p->eps ? p->eps : (d < -p->eps ? -p->eps : d);
                }
        }
        project_snr(&s);
        set_applied(&s);
        apply(&s);
        check(&s);
        it++;
        int ok = succeeded(&s);
        if (p->callback) {
            adv_attack_progress pr = {it, s.pred, s.probs[s.pred], s.snr};
            if (p->callback(&pr, p->user) != 0 && !ok) { status = ADV_ATTACK_CANCELLED; break; }
        }
        if (ok) { status = ADV_ATTACK_OK; break; }
    }

    r->status = status;
    r->success = status == ADV_ATTACK_OK;
    r->iterations = it;
    if (it == 0) {
        /* cancelled before any update: the input unchanged */
        memset(ws->applied, 0, sizeof(float) * (size_t)n);
        apply(&s);
    } else if (s.snr_on && !(s.snr >= p->min_snr_db)) {
        /* never hand out a perturbation below the minimum SNR: fall back to the input */
        memset(ws->applied, 0, sizeof(float) * (size_t)n);
        apply(&s);
    } else {
        r->after_class = s.pred;
        r->after_confidence = s.probs[s.pred];
        r->snr_db = s.snr;
    }
    memcpy(out, ws->heard, sizeof(float) * (size_t)n * ws->channels);
    r->seconds = adv_now() - t0;
    return 0;
}
