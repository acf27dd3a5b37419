/* The paper's four white-box attacks, end to end on the waveform at its own sample rate and
 * channel count: FGSM, PGDn, C&W and Multi-Scale C&W (docs/attacks.md; Prinz & Flexer, "End-to-end
 * adversarial white box attacks on music instrument classification", and its published PyTorch
 * code).
 *
 * One perturbation is added to every channel of the interleaved clip; the classifier hears the
 * mono mix. The perturbation is optimised at the classifier's rate, 16 kHz (delta, samples16k
 * samples; at 16 kHz the samples themselves) and played at the clip's rate R as
 * clamp(U delta, -eps, eps), U the band-limited resampler 16 kHz -> R (include/advinst/perturb.h):
 * the L-inf bound holds on what is written, and an iteration at 48 kHz costs about what it costs
 * at 16 kHz. The losses are the paper's 16 kHz losses: C&W's distance is ||delta||^2, MS-C&W's
 * multi-scale loss compares the clean and heard mono mixes resampled to 16 kHz (the paper's FFT
 * durations, 128 ms ... 4 ms, at every rate), measured from the clean clip.
 *
 * The attacks optimise with the output format in mind: every check classifies exactly what would
 * be written in the output sample format and read back (clamped to [-1, 1], rounded to the
 * format's grid as libsndfile does; lossy formats such as Vorbis, Opus, MP3, ADPCM and u-law
 * encoded and decoded in memory by libsndfile, include/advinst/codec.h; mixed to mono), and
 * gradients pass straight through the rounding and the codec (straight-through estimator; the
 * [-1, 1] and eps clamps pass no gradient where they are active, as autograd's clamp). A reported
 * success is therefore a success of the written file. With a codec, the SNR and MS-C&W's distance
 * measure the perturbation as added before encoding (the codec's own loss is not the attack's).
 *
 * Every update uses the sign of the gradient (NaN -> 0); PGDn, C&W and MS-C&W feed the signs to
 * Adam (lr = eta). An iteration is one update followed by one check; the check's forward pass is
 * also the next update's, so an iteration costs one forward and one backward.
 *
 * A workspace is made once per (model, rate, frames, channels) and holds every buffer: running an
 * attack allocates nothing (safe to call per clip from a worker thread). Results are
 * deterministic for a seed (with a fixed BLAS thread count). */
#ifndef ADVINST_ATTACK_H
#define ADVINST_ATTACK_H
#include "advinst/model.h"
#include <stdatomic.h>
#include <stdint.h>

typedef enum { ADV_FGSM = 0, ADV_PGDN, ADV_CW, ADV_MSCW, ADV_N_METHODS } adv_attack_method;

/* "fgsm", "pgdn", "cw", "mscw". */
const char *adv_attack_method_name(adv_attack_method m);
/* Method from its name (case-insensitive), or -1. */
int adv_attack_method_parse(const char *name);
/* C&W and MS-C&W aim at a target class; FGSM and PGDn only move away from the prediction. */
int adv_attack_method_targeted(adv_attack_method m);

/* A clip or window whose mono mix has an RMS below this is silent: not attacked, no class. */
#define ADV_SILENCE_RMS 1e-6

#define ADV_TARGET_NONE (-1)     /* untargeted methods */
#define ADV_TARGET_RANDOM (-2)   /* seeded draw among the classes other than the original prediction */
#define ADV_TARGET_INVALID (-3)  /* adv_attack_target_parse: not a target */

/* A target as people write it (options, presets, OSC, the web view): a class name or index
 * (adv_model_class_index), "random" (ADV_TARGET_RANDOM) or, when allow_none, "none"
 * (ADV_TARGET_NONE); case-insensitive. ADV_TARGET_INVALID for anything else. The only parser of
 * targets. */
int adv_attack_target_parse(const adv_model *m, const char *text, int allow_none);

/* 1 if the RMS of x[n] is below ADV_SILENCE_RMS (n > 0; the live readouts say "silent" then). */
int adv_is_silent(const float *x, long n);

typedef struct {
    long iteration;          /* 1-based: updates done so far */
    int prediction;          /* class of what would be written now */
    float confidence;        /* its probability */
    double snr_db;           /* of what would be written now */
} adv_attack_progress;

/* Called after every check; a non-zero return stops the attack (status "cancelled"). */
typedef int (*adv_attack_callback)(const adv_attack_progress *p, void *user);

typedef struct {
    adv_attack_method method;
    float eps;               /* L-inf bound (FGSM: the step) */
    float alpha;             /* weight of the cross-entropy (C&W, MS-C&W) */
    float lr;                /* the paper's eta: Adam's learning rate (PGDn, C&W, MS-C&W) */
    long max_iter;           /* at most this many iterations (FGSM: always 1) */
    int target;              /* class index, ADV_TARGET_RANDOM, or ADV_TARGET_NONE (untargeted) */
    uint64_t seed;           /* PGDn's random start, the random target */
    float confidence;        /* beyond the paper: success also needs the target's (untargeted: the
                                new class's) probability >= this; 0 = off */
    float min_snr_db;        /* beyond the paper: never below this SNR; NaN or -inf = off */
    atomic_int *cancel;      /* optional: checked every iteration; non-zero stops ("cancelled") */
    adv_attack_callback callback;   /* optional */
    void *user;
} adv_attack_params;

/* The paper's ">= 150" settings of a method (Table 1), max_iter 500, seed 0, no target chosen
 * (targeted methods get ADV_TARGET_RANDOM), confidence off, min_snr_db off. */
void adv_attack_defaults(adv_attack_method m, adv_attack_params *p);

typedef enum {
    ADV_ATTACK_OK = 0,       /* success */
    ADV_ATTACK_FAILED,       /* max_iter reached without success */
    ADV_ATTACK_SILENT,       /* mono mix silent (RMS < 1e-6): not attacked */
    ADV_ATTACK_ALREADY,      /* targeted and already predicted as the target: not attacked */
    ADV_ATTACK_CANCELLED     /* stopped by params.cancel or the callback */
} adv_attack_status;

/* "ok", "failed", "silent", "already", "cancelled". */
const char *adv_attack_status_name(adv_attack_status s);

typedef struct {
    adv_attack_status status;
    int success;
    long iterations;         /* updates done (the successful one included); 0 if not attacked */
    double snr_db;           /* of the output against the input (mono mixes); +inf if not attacked */
    int before_class;        /* prediction of the input */
    float before_confidence;
    int after_class;         /* prediction of the output as written */
    float after_confidence;
    int target;              /* the class aimed at (targeted), else ADV_TARGET_NONE */
    int codec;               /* 1: a lossy format's encode / decode round trip was in the loop */
    double seconds;
} adv_attack_result;

typedef struct adv_attack_ws adv_attack_ws;

/* Plans attacks on clips of `frames` x `channels` at `rate`. with_msloss: also plan the
 * multi-scale spectral loss (needed for MS-C&W; about 150 bytes per frame more). */
adv_attack_ws *adv_attack_ws_create(adv_model *m, int rate, long frames, int channels, int with_msloss);
void adv_attack_ws_free(adv_attack_ws *ws);
int adv_attack_ws_rate(const adv_attack_ws *ws);
long adv_attack_ws_frames(const adv_attack_ws *ws);
int adv_attack_ws_channels(const adv_attack_ws *ws);
/* Samples of the optimised perturbation: it lives at 16 kHz (see adv_attack_run), so
 * ceil(frames * 16000 / rate); frames at 16 kHz. */
long adv_attack_ws_samples16k(const adv_attack_ws *ws);

/* Attacks the interleaved clip x[frames * channels]; out[frames * channels] receives exactly what
 * is to be written in `format` (libsndfile SF_FORMAT_*; 0 = float): the adversarial clip, or the
 * input on the grid when not attacked, or (failed/cancelled) the last perturbation checked; for a
 * lossy format, the samples to encode (the file's writer encodes them as the loop did). Returns 0
 * (see r->status) or -1 on invalid parameters or input, or if the format's codec fails
 * (adv_error). out must not overlap x. With a lossy format, libsndfile allocates while encoding. */
int adv_attack_run(adv_attack_ws *ws, const adv_attack_params *p, const float *x, int format,
                   float *out, adv_attack_result *r);

/* The objective the attack follows, at the perturbation delta[samples16k] of the clip x (as in
 * adv_attack_run; targeted methods need p->target to be a class index): *value = CE of the
 * original prediction (FGSM, ascended), -CE (PGDn), ||delta||^2 + alpha CE(target) (C&W) or
 * L_ms(clean, heard) + alpha CE(target) (MS-C&W), where CE is the classifier's cross-entropy on
 * what would be written; *distance = its distance term (0 for FGSM and PGDn); grad[samples16k] =
 * the gradient with respect to delta that the attack takes the sign of. value, distance, grad may be
 * NULL. For tests and tools; returns -1 on invalid parameters (adv_error). */
int adv_attack_objective(adv_attack_ws *ws, const adv_attack_params *p, const float *x, int format,
                         const float *delta, double *value, double *distance, float *grad);

/* SNR in dB as the paper measures it: 20 log10(||x|| / (||x - x_adv|| + 1e-12)) over samples
 * [2048, n - 2048 - 1) (the whole clip if that is empty). */
double adv_snr_db(const float *x, const float *x_adv, long n);
/* The samples [*lo, *hi) adv_snr_db measures over a clip of n samples. */
void adv_snr_window(long n, long *lo, long *hi);

/* One sample as `format` writes and reads it back with libsndfile (clipping on, normalised
 * float): WAV/AIFF/... integer PCM: the top bits of lrint(v * 2^31) (so 8, 16, 24 bits floor
 * the scaled value, 32 bits rounds); FLAC: lrint(v * 2^(bits-1)) clamped; float, double and lossy
 * encodings: v unchanged. */
float adv_quantize_sample(float v, int format);
#endif
