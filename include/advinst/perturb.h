/* A perturbation optimised at the classifier's rate (16 kHz) and played at another rate R.
 *
 * The classifier hears nothing above 8 kHz (it resamples to 16 kHz first), so an attack at R
 * optimises delta16 at 16 kHz and plays
 *
 *     d = clamp(U delta16, -eps, eps)      U: the band-limited resampler 16 kHz -> R (src/resample.c),
 *                                          its first `frames` samples
 *
 * The L-inf bound is enforced on what is played: the resampler's ripple can take U delta16 a few
 * per cent beyond eps where delta16 sits at +-eps, and the clamp cuts that off. Gradients go back
 * exactly: the clamp passes nothing where it is active (as autograd's clamp), U's adjoint (the
 * resampler's exact transpose) carries the rest to delta16. At 16 kHz U is the identity and the
 * clamp is all there is.
 *
 * One plan per (rate, frames) holds its scratch: calls allocate nothing, and one plan serves one
 * thread at a time. Used by the offline attacks (src/attack.c) and meant for the live engine. */
#ifndef ADVINST_PERTURB_H
#define ADVINST_PERTURB_H

typedef struct adv_perturb adv_perturb;

/* Plans for `frames` samples at `rate` (any positive rate). NULL with adv_error on failure. */
adv_perturb *adv_perturb_create(int rate, long frames);
void adv_perturb_free(adv_perturb *pt);
int adv_perturb_rate(const adv_perturb *pt);
long adv_perturb_frames(const adv_perturb *pt);
/* Samples of delta16: ceil(frames * 16000 / rate), the length the classifier resamples to. */
long adv_perturb_samples16k(const adv_perturb *pt);

/* u[frames] = U delta16[samples16k]. */
void adv_perturb_upsample(adv_perturb *pt, const float *delta16, float *u);
/* g16[samples16k] = U^T gu[frames] (the exact adjoint of adv_perturb_upsample; overwrites). */
void adv_perturb_upsample_adjoint(adv_perturb *pt, const float *gu, float *g16);

/* d[i] = clamp(u[i], -eps, eps); pass[i] = 1 where the clamp is inactive (|u[i]| <= eps), else 0.
 * pass may be NULL; d may be u. */
void adv_perturb_clamp(long n, const float *u, float eps, float *d, float *pass);

/* d[frames] = clamp(U delta16, -eps, eps) and its pass mask (may be NULL). */
void adv_perturb_forward(adv_perturb *pt, const float *delta16, float eps, float *d, float *pass);
/* g16 = U^T (pass .* gd): the gradient in delta16 of a loss whose gradient in d is gd[frames]
 * (pass from the adv_perturb_forward of the same delta16; NULL: all ones). gd is not changed. */
void adv_perturb_backward(adv_perturb *pt, const float *gd, const float *pass, float *g16);
#endif
