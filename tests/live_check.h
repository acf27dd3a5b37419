/* Checks of what a live host (advinst live, or jalv running the LV2 plugin) recorded from its
 * output, against the input it was fed: out[k] = in[k - L] + perturbation, perturbations faded to
 * zero at the boundaries of the engine's clips. */
#ifndef ADVINST_TEST_LIVE_CHECK_H
#define ADVINST_TEST_LIVE_CHECK_H
#include "advinst/classifier.h"

/* The recording rec[n] of the looped input sig[sig_len] through a host of latency L. */
typedef struct {
    const float *rec, *sig;
    long n, sig_len, L;
} live_recording;

/* The first frame where the output is not the delayed input, or -1. */
long live_first_perturbed(const live_recording *r);
/* 1 if the output from frame `from` on is the delayed input bit for bit. */
int live_exact_from(const live_recording *r, long from);
/* The offset in [0, N) of the engine's clip grid in the recording: the boundaries where the
 * perturbation energy is least (the fades bring it to zero there), windows of +-rate/400 frames. */
long live_clip_grid(const live_recording *r, long N, int rate);
/* An audio file as a mono mix at `rate` (the shared resampler); NULL with adv_error. */
float *live_load_clip(const char *path, int rate, long *frames);
/* The classifier's prediction for x (its window length) and its confidence. */
int live_classify(adv_classifier *c, const float *x, float *confidence);
#endif
