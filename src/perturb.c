/* The 16 kHz perturbation brought to the output rate, and back (see include/advinst/perturb.h). */
#include "advinst/perturb.h"
#include "advinst/error.h"
#include "advinst/frontend.h"
#include "advinst/resample.h"
#include <stdlib.h>
#include <string.h>

struct adv_perturb {
    int rate;
    long frames, n16;
    adv_resampler *up;     /* 16 kHz -> rate over n16 samples; NULL at 16 kHz */
    long n_up;             /* its output length, >= frames */
    float *scratch;        /* n_up: U's full output, or the zero-extended gradient */
};

int adv_perturb_rate(const adv_perturb *pt) { return pt->rate; }
long adv_perturb_frames(const adv_perturb *pt) { return pt->frames; }
long adv_perturb_samples16k(const adv_perturb *pt) { return pt->n16; }

void adv_perturb_free(adv_perturb *pt)
{
    if (!pt) return;
    adv_resampler_free(pt->up);
    free(pt->scratch);
    free(pt);
}

adv_perturb *adv_perturb_create(int rate, long frames)
{
    if (rate <= 0 || frames <= 0) {
        adv_fail("perturbation: invalid clip (%ld frames at %d Hz)", frames, rate);
        return NULL;
    }
    adv_perturb *pt = calloc(1, sizeof *pt);
    if (!pt) { adv_fail("out of memory"); return NULL; }
    pt->rate = rate;
    pt->frames = pt->n16 = frames;
    if (rate == ADV_SAMPLE_RATE) return pt;
    adv_resampler *down = adv_resampler_create(rate, ADV_SAMPLE_RATE, frames);
    if (!down) { adv_perturb_free(pt); return NULL; }
    pt->n16 = adv_resampler_output_length(down);
    adv_resampler_free(down);
    pt->up = adv_resampler_create(ADV_SAMPLE_RATE, rate, pt->n16);
    if (!pt->up) { adv_perturb_free(pt); return NULL; }
    pt->n_up = adv_resampler_output_length(pt->up);   /* ceil(ceil(frames 16k / R) R / 16k) >= frames */
    pt->scratch = malloc(sizeof(float) * (size_t)pt->n_up);
    if (!pt->scratch) {
        adv_perturb_free(pt);
        adv_fail("out of memory for a perturbation of %ld frames", frames);
        return NULL;
    }
    return pt;
}

void adv_perturb_upsample(adv_perturb *pt, const float *delta16, float *u)
{
    if (!pt->up) {
        if (u != delta16) memcpy(u, delta16, sizeof(float) * (size_t)pt->frames);
        return;
    }
    adv_resampler_forward(pt->up, delta16, pt->scratch);
    memcpy(u, pt->scratch, sizeof(float) * (size_t)pt->frames);
}

void adv_perturb_upsample_adjoint(adv_perturb *pt, const float *gu, float *g16)
{
    if (!pt->up) {
        if (g16 != gu) memcpy(g16, gu, sizeof(float) * (size_t)pt->frames);
        return;
    }
    /* the truncation to `frames` samples, transposed: zeros beyond */
    memcpy(pt->scratch, gu, sizeof(float) * (size_t)pt->frames);
    memset(pt->scratch + pt->frames, 0, sizeof(float) * (size_t)(pt->n_up - pt->frames));
    adv_resampler_backward(pt->up, pt->scratch, g16);
}

void adv_perturb_clamp(long n, const float *u, float eps, float *d, float *pass)
{
    for (long i = 0; i < n; i++) {
        float v = u[i];
        if (pass) pass[i] = (v > eps || v < -eps) ? 0.0f : 1.0f;
        d[i] = v > eps ? eps : (v < -eps ? -eps : v);
    }
}

void adv_perturb_forward(adv_perturb *pt, const float *delta16, float eps, float *d, float *pass)
{
    adv_perturb_upsample(pt, delta16, d);
    adv_perturb_clamp(pt->frames, d, eps, d, pass);
}

void adv_perturb_backward(adv_perturb *pt, const float *gd, const float *pass, float *g16)
{
    if (!pass) {
        adv_perturb_upsample_adjoint(pt, gd, g16);
        return;
    }
    /* the masked gradient is formed in place of the output when U is the identity, else in the
     * scratch that the adjoint reads */
    float *gm = pt->up ? pt->scratch : g16;
    for (long i = 0; i < pt->frames; i++) gm[i] = pass[i] != 0.0f ? gd[i] : 0.0f;
    if (!pt->up) return;
    memset(pt->scratch + pt->frames, 0, sizeof(float) * (size_t)(pt->n_up - pt->frames));
    adv_resampler_backward(pt->up, pt->scratch, g16);
}
