/* Shift-robust targeted attacks on a stream: the live engine's optimiser, with no threads and no
 * audio host (the live engine and offline drivers call it).
 *
 * A listener classifies the output with a sliding window (3.7 s) at any offset. The stream
 * attack keeps a perturbation of the recent, not yet played input (the free region, as long as
 * the look-ahead allows) and optimises it so that every window that ends in the free region is
 * heard as the target, given the output already played before it (committed and fixed). Each
 * iteration takes a batch of windows ending at offsets in the free region (newest-biased, more
 * often those not yet on target), and minimises, as the paper's attacks do, a distance (C&W: the
 * squared L2 norm of the perturbation; Multi-Scale C&W: the multi-scale spectral loss at 16 kHz
 * against the clean stream) plus alpha times the cross-entropy of the target on each time step of
 * the network's head (before its max over time) that is still short of the margin (the target's
 * probability ahead of the runner-up); `window_loss` uses the window's logits instead. Steps and
 * windows already on target at the margin add nothing, so the distance term keeps shrinking the
 * perturbation while the attack holds: iterations continue until the perturbation must be played.
 * Updates: momentum on the gradient normalised to an RMS step of lr over the free part (the
 * default: steepest descent in the L2 geometry the SNR lives in), or the paper's sign of the
 * gradient with Adam, or Adam on the gradient; an element's step decays with its age; the
 * perturbation is clipped to [-eps, eps] and, with bound_db, to the input's local envelope minus
 * bound_db (docs/live.md: how these were chosen).
 *
 * The perturbation is parametrised at the classifier's rate (16 kHz), where all the classifier
 * can hear lives, and brought to the stream's rate by the band-limited resampler (16 kHz -> R)
 * with its exact adjoint; what is played is clamp(U d16, -eps, eps), per channel clamped to
 * [-1, 1], and that is what the loss sees: the heard mono mix is resampled to 16 kHz once for the
 * whole stream, windows are slices of it. An iteration therefore costs about the same at 48 kHz
 * as at 16 kHz.
 *
 * Time is in frames of the stream (input time, 0 = the first pushed frame). The caller pushes
 * input, runs iterations as time allows and commits segments (fixed-length units of the free
 * region's oldest part) before they must be played. No allocation after creation. */
#ifndef ADVINST_STREAM_H
#define ADVINST_STREAM_H
#include "advinst/attack.h"
#include "advinst/model.h"
#include <stdint.h>

typedef struct {
    int rate, channels;          /* the stream's rate; channels share one perturbation */
    double window_seconds;       /* the listener's window (3.7) */
    double horizon_seconds;      /* the longest free region (input not yet committed) */
    double segment_seconds;      /* commit and report unit */
    double probe_seconds;        /* spacing of the tracked window ends (window offsets) */
    int batch;                   /* windows per iteration */
    uint64_t seed;               /* window offsets */
    int window_loss;             /* 0: per-time-step loss (default); 1: the window's logits (as the paper) */
    int update;                  /* ADV_STREAM_UPDATE_L2 (default): momentum on the gradient, the step's
                                    RMS over the free part lr (steepest descent in the L2 geometry the
                                    SNR lives in); _SIGN: the paper's sign of the gradient and Adam;
                                    _ADAM: Adam on the gradient */
    double lr_decay;             /* > 0: an element's step is lr * d / (d + its age in iterations) */
} adv_stream_config;

enum { ADV_STREAM_UPDATE_SIGN = 0, ADV_STREAM_UPDATE_L2, ADV_STREAM_UPDATE_ADAM };


/* window 3.7 s, horizon 1.6 s, segments 0.2 s, probes every 0.05 s, batch 1, seed 1, per-step
 * loss, L2 updates with a step decay of 15 iterations (docs/live.md: how these were chosen). */
void adv_stream_config_default(adv_stream_config *c, int rate, int channels);

typedef struct {
    adv_attack_method method;    /* ADV_CW or ADV_MSCW */
    int target;                  /* class index; ADV_TARGET_NONE: no attack (the perturbation fades) */
    float eps, alpha, lr;        /* the paper's parameters */
    float margin;                /* wanted probability of the target ahead of the runner-up, [0, 1) */
    float bound_db;              /* > 0: |perturbation| stays this many dB below the input's local
                                    envelope (and below eps): quiet passages get quiet perturbations */
} adv_stream_params;

typedef enum {
    ADV_SEGMENT_OK = 0,          /* every tracked window ending in it was on target when last checked */
    ADV_SEGMENT_FAILED,          /* some were not */
    ADV_SEGMENT_SILENT,          /* its windows are silent: nothing added */
    ADV_SEGMENT_OFF              /* no target: nothing added */
} adv_segment_status;

typedef struct {
    int64_t start;               /* stream time of the segment's first frame */
    long frames;
    adv_segment_status status;
    int target;
    int windows, hits;           /* tracked windows ending in it, and those on target */
    float min_margin;            /* lowest target-minus-runner-up probability among them */
    float mean_target_prob;
    int heard_class;             /* the class most of them were heard as (-1: none checked) */
    float heard_confidence;      /* its mean probability over those windows */
    double snr_db;               /* of the heard mono mix against the clean one, over the segment */
    long iterations;             /* iterations that updated it */
} adv_stream_segment;

typedef struct adv_stream adv_stream;

adv_stream *adv_stream_create(adv_model *m, const adv_stream_config *cfg);
void adv_stream_free(adv_stream *s);
const adv_stream_config *adv_stream_get_config(const adv_stream *s);
long adv_stream_segment_frames(const adv_stream *s);

/* Appends n frames of input (interleaved channels, finite, within [-1, 1]). Fails (-1) if the free
 * region would exceed the horizon: commit first. */
int adv_stream_push(adv_stream *s, const float *x, long n);
/* Input frames pushed so far (the stream's end), and the commit point (start of the free region). */
int64_t adv_stream_end(const adv_stream *s);
int64_t adv_stream_committed(const adv_stream *s);
/* Free frames that may be pushed before a commit is needed. */
long adv_stream_room(const adv_stream *s);

/* One optimisation step toward p (settings may change between calls). Returns 1 if it ran, 0 if
 * there was nothing to optimise (no target, or no window ends in the free region yet). */
int adv_stream_iterate(adv_stream *s, const adv_stream_params *p);

/* Commits the oldest segment of the free region if the stream holds all of it: pert[frames]
 * receives the perturbation to add to every channel (the output is clamp(x + pert, -1, 1)), seg
 * the report. Returns 1, or 0 when fewer frames than a segment are free. */
int adv_stream_commit(adv_stream *s, float *pert, adv_stream_segment *seg);

/* For tests: the loss and its gradient with respect to the parameter for windows ending at the
 * given 16 kHz stream times (in the free region), without updating anything; the gradient is
 * valid on parameter indices [*k0, *k1). adv_stream_param gives the parameter (index 0 is 16 kHz
 * stream time *origin16), adv_stream_param_grad the gradient. */
double adv_stream_gradient(adv_stream *s, const adv_stream_params *p, const int64_t *ends16, int n, long *k0,
                           long *k1);
float *adv_stream_param(adv_stream *s, int64_t *origin16);
const float *adv_stream_param_grad(const adv_stream *s);

/* The class of the newest full window of the clean input, or -1 (not enough input, or silent). */
int adv_stream_input_class(adv_stream *s);

/* Forgets the free region's perturbation (after a target change to none, or a gap in the input). */
void adv_stream_reset_free(adv_stream *s);
#endif
