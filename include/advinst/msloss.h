/* The multi-scale spectral loss of the Multi-Scale C&W attack, forward and exact backward:
 *
 *   L_ms(x, y) = sum over n in {2048, 1024, 512, 256, 128, 64} of
 *                mean |S_n(x) - S_n(y)| + mean |log(S_n(x) + 1e-7) - log(S_n(y) + 1e-7)|
 *
 * S_n is the STFT magnitude (power 1, no normalisation) with a periodic Hann window of length n,
 * hop n/4, centred frames (reflect padding of n/2 on each side, the edge sample not repeated),
 * n/2 + 1 one-sided bins; each mean runs over all bins x frames of that scale.
 * Gradients follow PyTorch's autograd: d|u|/du = sign(u) with sign(0) = 0, and the magnitude's
 * gradient X/|X| is 0 where |X| = 0.
 * A scale whose n/2 is not shorter than the signal is skipped (reflect padding is undefined there;
 * only signals under 1025 samples are affected).
 * The reference spectra S_n(x) are computed once per clip (adv_msloss_set_reference); every buffer
 * and FFTW plan is made at creation for one signal length, so evaluations allocate nothing. */
#ifndef ADVINST_MSLOSS_H
#define ADVINST_MSLOSS_H
#include <stddef.h>

#define ADV_MSLOSS_MAX_SCALES 6
#define ADV_MSLOSS_EPS 1e-7f

typedef struct adv_msloss adv_msloss;

/* Plans for signals of n samples (n >= 2). Fails (NULL, adv_error) on bad sizes or no memory. */
adv_msloss *adv_msloss_create(long n);
void adv_msloss_free(adv_msloss *ms);
long adv_msloss_samples(const adv_msloss *ms);
/* Number of scales in use (6 unless the signal is shorter than 1025 samples). */
int adv_msloss_scales(const adv_msloss *ms);

/* Stores S_n(x) (and its log) of the clean signal x[n]. */
void adv_msloss_set_reference(adv_msloss *ms, const float *x);

/* L_ms(x_reference, y); if grad is not NULL, grad[n] = d L_ms / d y (overwritten). */
double adv_msloss_eval(adv_msloss *ms, const float *y, float *grad);

/* Bytes held by a plan for n samples (for memory budgets). */
size_t adv_msloss_bytes(long n);
#endif
