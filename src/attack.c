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
#include "advinst/codec.h"
#include "advinst/error.h"
#include "advinst/msloss.h"
#include "advinst/nn.h"
#include "advinst/optim.h"
#include "advinst/perturb.h"
#include "advinst/progress.h"
#include <math.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SNR_MARGIN 2048

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

int adv_attack_target_parse(const adv_model *m, const char *text, int allow_none)
{
    if (!text) return ADV_TARGET_INVALID;
    if (!strcasecmp(text, "random")) return ADV_TARGET_RANDOM;
    if (allow_none && !strcasecmp(text, "none")) return ADV_TARGET_NONE;
    int k = adv_model_class_index(m, text);
    return k >= 0 ? k : ADV_TARGET_INVALID;
}

int adv_is_silent(const float *x, long n)
{
    double energy = 0;
    for (long i = 0; i < n; i++) energy += (double)x[i] * x[i];
    return n <= 0 || sqrt(energy / (double)n) < ADV_SILENCE_RMS;
}

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
    long frames;             /* at `rate` */
    long n16;                /* samples of the optimised perturbation (16 kHz) */
    adv_classifier *clf;
    adv_perturb *pt;         /* delta (16 kHz) -> the perturbation played at `rate` */
    adv_msloss *ms;          /* at 16 kHz; NULL unless planned */
    adv_adam adam;
    float *delta;            /* n16: the optimised perturbation */
    float *up;               /* frames: U delta, before the eps clamp */
    float *applied;          /* frames: the perturbation as added, clamp(U delta, -eps, eps) */
    float *emask;            /* frames: 1 where that clamp is inactive */
    float *grad;             /* frames: d loss / d applied */
    float *grad16;           /* n16: d loss / d delta, then its sign */
    float *g16;              /* n16: d loss / d (the 16 kHz signal the classifier hears) */
    float *gms;              /* n16: d L_ms / d (that signal) */
    float *gmono;            /* frames: d loss / d mono */
    float *pass;             /* frames: d mono / d applied: share of channels not clamped to [-1, 1] */
    float *mono_clean, *mono_heard;
    float *heard;            /* frames x channels, what would be written */
    /* lossy output formats, made on first use: */
    adv_codec *codec;        /* the format's encode / decode round trip */
    float *decoded;          /* frames x channels: heard as a reader decodes it */
    float *mono_pre;         /* frames: the mono mix of heard before encoding */
    adv_resampler *down;     /* rate -> 16 kHz for mono_pre (MS-C&W at another rate) */
    float *pre16;            /* n16: mono_pre at 16 kHz */
};

int adv_attack_ws_rate(const adv_attack_ws *ws) { return ws->rate; }
long adv_attack_ws_frames(const adv_attack_ws *ws) { return ws->frames; }
int adv_attack_ws_channels(const adv_attack_ws *ws) { return ws->channels; }
long adv_attack_ws_samples16k(const adv_attack_ws *ws) { return ws->n16; }

void adv_attack_ws_free(adv_attack_ws *ws)
{
    if (!ws) return;
    adv_classifier_free(ws->clf);
    adv_perturb_free(ws->pt);
    adv_msloss_free(ws->ms);
    adv_adam_free(&ws->adam);
    adv_codec_free(ws->codec);
    adv_resampler_free(ws->down);
    float *bufs[] = {ws->delta, ws->up, ws->applied, ws->emask, ws->grad, ws->grad16, ws->g16, ws->gms, ws->gmono,
                     ws->pass, ws->mono_clean, ws->mono_heard, ws->heard, ws->decoded, ws->mono_pre, ws->pre16};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
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
    if (!(ws->clf = adv_classifier_create(m, rate, frames)) || !(ws->pt = adv_perturb_create(rate, frames))) {
        adv_attack_ws_free(ws);
        return NULL;
    }
    ws->n16 = adv_perturb_samples16k(ws->pt);
    if (with_msloss && !(ws->ms = adv_msloss_create(ws->n16))) { adv_attack_ws_free(ws); return NULL; }
    if (adv_adam_init(&ws->adam, (size_t)ws->n16, 1e-5f) != 0) { adv_attack_ws_free(ws); return NULL; }
    const size_t n = (size_t)frames, n16 = (size_t)ws->n16;
    ws->delta = malloc(sizeof(float) * n16);
    ws->grad16 = malloc(sizeof(float) * n16);
    ws->g16 = malloc(sizeof(float) * n16);
    ws->gms = malloc(sizeof(float) * n16);
    ws->up = malloc(sizeof(float) * n);
    ws->applied = malloc(sizeof(float) * n);
    ws->emask = malloc(sizeof(float) * n);
    ws->grad = malloc(sizeof(float) * n);
    ws->gmono = malloc(sizeof(float) * n);
    ws->pass = malloc(sizeof(float) * n);
    ws->mono_clean = malloc(sizeof(float) * n);
    ws->mono_heard = malloc(sizeof(float) * n);
    ws->heard = malloc(sizeof(float) * n * (size_t)channels);
    if (!ws->delta || !ws->grad16 || !ws->g16 || !ws->gms || !ws->up || !ws->applied || !ws->emask || !ws->grad ||
        !ws->gmono || !ws->pass || !ws->mono_clean || !ws->mono_heard || !ws->heard) {
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
    adv_codec *codec;        /* lossy output formats: the round trip, else NULL */
    const float *pre;        /* the mono mix before encoding (without a codec: mono_heard) */
    int targeted, label;     /* label: target (targeted) or original prediction */
    float logits[ADV_N_CLASSES], probs[ADV_N_CLASSES];
    int pred;
    double snr;
    int snr_on;
    double snr_radius;       /* max ||delta|| over the SNR window */
} run_state;

/* heard, mono_heard and pass from ws->applied. With a codec, mono_heard (what the classifier
 * hears) is the mix of heard encoded and decoded, the gradient passing straight through the
 * codec, and s->pre the mix before encoding (what the SNR and MS-C&W's distance measure: the
 * attack's own part, not the codec's loss, which a few samples more or less reshuffle). -1 if the
 * codec fails. */
static int apply(run_state *s)
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
    if (!s->codec) {
        adv_audio_mix_mono(&a, ws->mono_heard);   /* exactly the mix a reader of the file computes */
        return 0;
    }
    adv_audio_mix_mono(&a, ws->mono_pre);
    if (s->p->method == ADV_MSCW) {
        if (ws->down) adv_resampler_forward(ws->down, ws->mono_pre, ws->pre16);
        else memcpy(ws->pre16, ws->mono_pre, sizeof(float) * (size_t)ws->n16);
    }
    if (adv_codec_round_trip(s->codec, ws->heard, ws->decoded) != 0) return -1;
    a.samples = ws->decoded;
    adv_audio_mix_mono(&a, ws->mono_heard);
    return 0;
}

/* Forward of what would be written: logits, prediction, SNR. */
static void check(run_state *s)
{
    adv_attack_ws *ws = s->ws;
    adv_classifier_forward(ws->clf, ws->mono_heard, s->logits);
    adv_classifier_probs(ws->clf, s->logits, s->probs);
    s->pred = adv_most_likely(s->probs);
    s->snr = adv_snr_db(ws->mono_clean, s->pre, ws->frames);
}

static int succeeded(const run_state *s)
{
    int moved = s->targeted ? s->pred == s->label : s->pred != s->label;
    if (!moved) return 0;
    if (s->p->confidence > 0 && s->probs[s->pred] < s->p->confidence) return 0;
    if (s->snr_on && !(s->snr >= s->p->min_snr_db)) return 0;
    return 1;
}

/* ws->grad16 = d objective / d delta for the last forward (whose input was mono_heard); returns
 * the objective (see adv_attack_objective) and its distance term in *distance. The cross-entropy's
 * gradient and MS-C&W's spectral loss meet at 16 kHz (the classifier's resampled heard signal),
 * go back through the resampler's adjoint to the mono mix at the clip's rate, through the mix and
 * the [-1, 1] clamp to the perturbation played, and through the eps clamp and U's adjoint to
 * delta (src/perturb.c). C&W's distance is ||delta||^2 on delta itself. */
static double gradient(run_state *s, double *distance)
{
    adv_attack_ws *ws = s->ws;
    const adv_attack_params *p = s->p;
    const long n = ws->frames, n16 = ws->n16;
    float glogits[ADV_N_CLASSES];
    double ce = adv_cross_entropy(1, ADV_N_CLASSES, s->logits, &s->label, glogits), dist = 0;
    /* FGSM ascends CE directly; PGDn minimises -CE; C&W and MS-C&W minimise alpha CE + distance */
    float coef = p->method == ADV_PGDN ? -1.0f : (p->method == ADV_FGSM ? 1.0f : p->alpha);
    for (int k = 0; k < ADV_N_CLASSES; k++) glogits[k] *= coef;
    adv_classifier_backward16k(ws->clf, glogits, ws->g16);
    if (p->method == ADV_MSCW) {
        dist = adv_msloss_eval(ws->ms, s->codec ? ws->pre16 : adv_classifier_wave16k(ws->clf), ws->gms);
        for (long i = 0; i < n16; i++) ws->g16[i] += ws->gms[i];
    }
    adv_classifier_resample_adjoint(ws->clf, ws->g16, ws->gmono);
    for (long i = 0; i < n; i++) ws->grad[i] = ws->gmono[i] * ws->pass[i];
    adv_perturb_backward(ws->pt, ws->grad, ws->emask, ws->grad16);
    if (p->method == ADV_CW) {
        for (long i = 0; i < n16; i++) {
            ws->grad16[i] += 2.0f * ws->delta[i];
            dist += (double)ws->delta[i] * ws->delta[i];
        }
    }
    if (distance) *distance = dist;
    return coef * ce + dist;
}

/* ws->up = U delta, then (if the minimum SNR is on) delta scaled so that U delta lies in the L2
 * ball of the minimum SNR over the SNR window at the clip's rate; then ws->applied and ws->emask:
 * U delta clamped to [-eps, eps] (which only shrinks it) and where that clamp is inactive. */
static void set_applied(run_state *s)
{
    adv_attack_ws *ws = s->ws;
    adv_perturb_upsample(ws->pt, ws->delta, ws->up);
    if (s->snr_on) {
        long lo, hi;
        adv_snr_window(ws->frames, &lo, &hi);
        double ss = 0;
        for (long i = lo; i < hi; i++) ss += (double)ws->up[i] * ws->up[i];
        double norm = sqrt(ss);
        if (norm > s->snr_radius) {
            float scale = (float)(s->snr_radius / norm);
            for (long i = 0; i < ws->n16; i++) ws->delta[i] *= scale;
            adv_perturb_upsample(ws->pt, ws->delta, ws->up);
        }
    }
    adv_perturb_clamp(ws->frames, ws->up, s->p->eps, ws->applied, ws->emask);
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

/* The output format's codec for a run: NULL for formats a quantiser models; for lossy ones the
 * workspace's round trip, made (or remade for another format) here. -1 if it cannot be made. */
static int prepare_codec(adv_attack_ws *ws, int format, adv_codec **codec)
{
    *codec = NULL;
    if (!adv_codec_is_lossy(format)) return 0;
    if (!ws->codec || adv_codec_format(ws->codec) != format) {
        adv_codec_free(ws->codec);
        if (!(ws->codec = adv_codec_create(format, ws->rate, ws->channels, ws->frames))) return -1;
    }
    if (!ws->decoded) {
        ws->decoded = malloc(sizeof(float) * (size_t)ws->frames * ws->channels);
        ws->mono_pre = malloc(sizeof(float) * (size_t)ws->frames);
        ws->pre16 = malloc(sizeof(float) * (size_t)ws->n16);
        if (!ws->decoded || !ws->mono_pre || !ws->pre16)
            return adv_fail("out of memory for an attack on %ld frames x %d channels", ws->frames, ws->channels);
        if (ws->rate != ADV_SAMPLE_RATE && !(ws->down = adv_resampler_create(ws->rate, ADV_SAMPLE_RATE, ws->frames)))
            return -1;
    }
    *codec = ws->codec;
    return 0;
}

/* The start of a clip: the clean mono mix and its original prediction, the distance's reference,
 * the label to move toward or away from, the unperturbed output (delta = 0). Returns 1 if the mono
 * mix is silent, -1 on a codec failure. */
static int start_clip(run_state *s, const adv_attack_params *p, const float *x, int format)
{
    adv_attack_ws *ws = s->ws;
    const long n = ws->frames;
    s->p = p;
    s->x = x;
    s->q = quantizer_for(format);
    s->targeted = adv_attack_method_targeted(p->method);
    s->snr_on = isfinite(p->min_snr_db);
    if (prepare_codec(ws, format, &s->codec) != 0) return -1;
    s->pre = s->codec ? ws->mono_pre : ws->mono_heard;

    adv_audio clean = {(float *)x, n, ws->channels, ws->rate, 0};
    adv_audio_mix_mono(&clean, ws->mono_clean);
    memset(ws->delta, 0, sizeof(float) * (size_t)ws->n16);
    set_applied(s);
    if (apply(s) != 0) return -1;   /* the unperturbed output, and the clamp masks at delta = 0 */

    /* the original prediction, on the input as given */
    adv_classifier_forward(ws->clf, ws->mono_clean, s->logits);
    adv_classifier_probs(ws->clf, s->logits, s->probs);
    s->pred = adv_most_likely(s->probs);
    /* MS-C&W measures its distance from the clean clip, at 16 kHz as the classifier hears it */
    if (p->method == ADV_MSCW) adv_msloss_set_reference(ws->ms, adv_classifier_wave16k(ws->clf));

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
    return sqrt(energy / (double)n) < ADV_SILENCE_RMS;
}

int adv_attack_objective(adv_attack_ws *ws, const adv_attack_params *p, const float *x, int format,
                         const float *delta, double *value, double *distance, float *grad)
{
    if (validate(ws, p, x) != 0) return -1;
    if (p->target == ADV_TARGET_RANDOM) return adv_fail("attack objective: the target must be a class index");
    run_state s = {0};
    s.ws = ws;
    if (start_clip(&s, p, x, format) < 0) return -1;
    memcpy(ws->delta, delta, sizeof(float) * (size_t)ws->n16);
    set_applied(&s);
    if (apply(&s) != 0) return -1;
    check(&s);
    double v = gradient(&s, distance);
    if (value) *value = v;
    if (grad) memcpy(grad, ws->grad16, sizeof(float) * (size_t)ws->n16);
    return 0;
}

/* The optimisation loop of adv_attack_run from delta = 0 (PGDn: its random start); returns its
 * status and the iterations done in *iterations, or -1 on a codec failure. */
static int optimise(run_state *s, long *iterations)
{
    adv_attack_ws *ws = s->ws;
    const adv_attack_params *p = s->p;
    const long n16 = ws->n16;
    adv_adam_reset(&ws->adam);
    ws->adam.lr = p->lr;
    if (p->method == ADV_PGDN) {
        /* random start; its forward only feeds the first update */
        uint64_t rng = p->seed;
        for (long i = 0; i < n16; i++) ws->delta[i] = p->eps * (2.0f * adv_rng_uniform(&rng) - 1.0f);
        set_applied(s);
        if (apply(s) != 0) return -1;
        check(s);
    }
    const long max_iter = p->method == ADV_FGSM ? 1 : p->max_iter;
    adv_attack_status status = ADV_ATTACK_FAILED;
    long it = 0;
    while (it < max_iter) {
        if (p->cancel && atomic_load(p->cancel)) { status = ADV_ATTACK_CANCELLED; break; }
        gradient(s, NULL);
        adv_sign((size_t)n16, ws->grad16, ws->grad16);
        if (p->method == ADV_FGSM) {
            for (long i = 0; i < n16; i++) ws->delta[i] = p->eps * ws->grad16[i];
        } else {
            adv_adam_step(&ws->adam, ws->delta, ws->grad16);
            if (s->targeted) adv_perturb_clamp(n16, ws->delta, p->eps, ws->delta, NULL);
        }
        set_applied(s);
        if (apply(s) != 0) return -1;
        check(s);
        it++;
        int ok = succeeded(s);
        if (p->callback) {
            adv_attack_progress pr = {it, s->pred, s->probs[s->pred], s->snr};
            if (p->callback(&pr, p->user) != 0 && !ok) { status = ADV_ATTACK_CANCELLED; break; }
        }
        if (ok) { status = ADV_ATTACK_OK; break; }
    }
    *iterations = it;
    return (int)status;
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
    if (silent < 0) return -1;
    r->codec = s.codec != NULL;
    r->before_class = r->after_class = s.pred;
    r->before_confidence = r->after_confidence = s.probs[s.pred];
    r->snr_db = INFINITY;
    if (s.targeted) r->target = s.label;
    if (silent || (s.targeted && s.pred == s.label)) {
        r->status = silent ? ADV_ATTACK_SILENT : ADV_ATTACK_ALREADY;
        memcpy(out, ws->heard, sizeof(float) * (size_t)n * ws->channels);
        r->seconds = adv_now() - t0;
        return 0;
    }
    if (s.snr_on) {
        long lo, hi;
        adv_snr_window(n, &lo, &hi);
        double sx = 0;
        for (long i = lo; i < hi; i++) sx += (double)ws->mono_clean[i] * ws->mono_clean[i];
        s.snr_radius = sqrt(sx) * pow(10.0, -p->min_snr_db / 20.0);
    }

    long it = 0;
    int status = optimise(&s, &it);
    if (status < 0) return -1;
    r->status = (adv_attack_status)status;
    r->success = status == ADV_ATTACK_OK;
    r->iterations = it;
    if (it == 0 || (s.snr_on && !(s.snr >= p->min_snr_db))) {
        /* cancelled before any update, or below the minimum SNR (never handed out): the input */
        memset(ws->applied, 0, sizeof(float) * (size_t)n);
        if (apply(&s) != 0) return -1;
    } else {
        r->after_class = s.pred;
        r->after_confidence = s.probs[s.pred];
        r->snr_db = s.snr;
    }
    memcpy(out, ws->heard, sizeof(float) * (size_t)n * ws->channels);
    r->seconds = adv_now() - t0;
    return 0;
}
