/* The STFT and its transpose (see include/advinst/stft.h). */
#include "advinst/stft.h"
#include "advinst/error.h"
#include "advinst/frontend.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct adv_stft {
    long n;
    int nfft, hop, bins, frames;
    float *window;
    fftwf_plan forward_plan, backward_plan;
};

long adv_stft_frames_for(long n, int hop) { return 1 + n / hop; }
int adv_stft_nfft(const adv_stft *s) { return s->nfft; }
int adv_stft_bins(const adv_stft *s) { return s->bins; }
int adv_stft_frames(const adv_stft *s) { return s->frames; }
const float *adv_stft_window(const adv_stft *s) { return s->window; }
long adv_stft_pad_len(const adv_stft *s) { return s->n + s->nfft; }
long adv_stft_frames_len(const adv_stft *s) { return (long)s->frames * s->nfft; }
long adv_stft_spec_len(const adv_stft *s) { return (long)s->frames * s->bins; }

void adv_stft_free(adv_stft *s)
{
    if (!s) return;
    adv_fftw_planner_lock();
    if (s->forward_plan) fftwf_destroy_plan(s->forward_plan);
    if (s->backward_plan) fftwf_destroy_plan(s->backward_plan);
    adv_fftw_planner_unlock();
    free(s->window);
    free(s);
}

adv_stft *adv_stft_create(long n, int nfft, int hop, float *frames_buf, fftwf_complex *spec)
{
    if (nfft < 2 || hop < 1 || nfft / 2 >= n) {
        adv_fail("STFT: a signal of %ld samples is too short for n_fft %d (reflect padding needs more than %d)", n, nfft,
                 nfft / 2);
        return NULL;
    }
    adv_stft *s = calloc(1, sizeof *s);
    if (!s || !(s->window = malloc(sizeof(float) * (size_t)nfft))) {
        free(s);
        adv_fail("out of memory");
        return NULL;
    }
    s->n = n;
    s->nfft = nfft;
    s->hop = hop;
    s->bins = nfft / 2 + 1;
    s->frames = (int)adv_stft_frames_for(n, hop);
    for (int i = 0; i < nfft; i++) s->window[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * i / nfft));
    int size = nfft;
    adv_fftw_planner_lock();
    s->forward_plan = fftwf_plan_many_dft_r2c(1, &size, s->frames, frames_buf, NULL, 1, nfft, spec, NULL, 1, s->bins,
                                              FFTW_ESTIMATE);
    s->backward_plan = fftwf_plan_many_dft_c2r(1, &size, s->frames, spec, NULL, 1, s->bins, frames_buf, NULL, 1, nfft,
                                               FFTW_ESTIMATE);
    adv_fftw_planner_unlock();
    if (!s->forward_plan || !s->backward_plan) {
        adv_stft_free(s);
        adv_fail("FFTW could not plan a %d-point transform", nfft);
        return NULL;
    }
    return s;
}

/* Index into x[n] of padded position i (pad samples before x): mirror without the edge. */
static inline long reflect_index(long i, long pad, long n)
{
    long j = i - pad;
    if (j < 0) j = -j;
    if (j >= n) j = 2 * (n - 1) - j;
    return j;
}

void adv_stft_forward(const adv_stft *s, const float *x, float *pad, float *frames_buf, fftwf_complex *spec)
{
    const long n = s->n, half = s->nfft / 2, npad = n + s->nfft;
    for (long i = 0; i < half; i++) pad[i] = x[reflect_index(i, half, n)];
    memcpy(pad + half, x, sizeof(float) * (size_t)n);
    for (long i = half + n; i < npad; i++) pad[i] = x[reflect_index(i, half, n)];
    for (int t = 0; t < s->frames; t++) {
        const float *src = pad + (size_t)t * s->hop;
        float *dst = frames_buf + (size_t)t * s->nfft;
        for (int i = 0; i < s->nfft; i++) dst[i] = s->window[i] * src[i];
    }
    fftwf_execute_dft_r2c(s->forward_plan, frames_buf, spec);
}

void adv_stft_backward(const adv_stft *s, fftwf_complex *g, float *frames_buf, float *pad, float *gx, int accumulate)
{
    const long n = s->n, half = s->nfft / 2, npad = n + s->nfft;
    /* the transposed one-sided DFT: an inverse real FFT (g in its convention) */
    fftwf_execute_dft_c2r(s->backward_plan, g, frames_buf);
    /* windowed framing, transposed: overlap-add */
    memset(pad, 0, sizeof(float) * (size_t)npad);
    for (int t = 0; t < s->frames; t++) {
        const float *gf = frames_buf + (size_t)t * s->nfft;
        float *dst = pad + (size_t)t * s->hop;
        for (int i = 0; i < s->nfft; i++) dst[i] += s->window[i] * gf[i];
    }
    /* reflect padding, transposed */
    if (accumulate)
        for (long i = 0; i < n; i++) gx[i] += pad[half + i];
    else
        memcpy(gx, pad + half, sizeof(float) * (size_t)n);
    for (long i = 0; i < half; i++) gx[reflect_index(i, half, n)] += pad[i];
    for (long i = half + n; i < npad; i++) gx[reflect_index(i, half, n)] += pad[i];
}
