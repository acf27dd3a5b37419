/* Multi-scale spectral loss (see include/advinst/msloss.h), forward and backward.
 *
 * Per scale n (hop h = n/4, T = 1 + N/h frames, K = n/2 + 1 bins), for the perturbed signal y:
 *   X     = STFT_n(y) (src/stft.c, the front end's transform),  B = |X|,  A = S_n(x) (stored)
 *   L    += sum |A - B| / (T K) + sum |log(A + eps) - log(B + eps)| / (T K)
 * Backward: gB = -(sign(A - B) + sign(logA - logB) / (B + eps)) / (T K); gX = gB X / B, handed
 * to the STFT's transpose in its convention (bins 1..n/2-1 halved). */
#include "advinst/msloss.h"
#include "advinst/error.h"
#include "advinst/stft.h"
#include <fftw3.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Natural logarithm of a positive normal float, written so loops over it vectorise (libm's logf
 * does not without -ffast-math): x = m 2^e with m in [sqrt(1/2), sqrt(2)), log(m) by the classic
 * degree-9 minimax polynomial in m - 1 (Cephes' coefficients), about 1 ulp. Used for the reference
 * and the perturbed spectra alike, so the loss is exactly 0 at x' = x. */
static inline float ms_log(float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    float e = (float)((int32_t)((bits >> 23) & 0xff) - 126);
    bits = (bits & 0x007fffffu) | 0x3f000000u;      /* mantissa in [0.5, 1) */
    float m;
    memcpy(&m, &bits, sizeof m);
    float small = m < 0.70710678f ? 1.0f : 0.0f;
    e -= small;
    float f = m + small * m - 1.0f;
    float z = f * f;
    float y = 7.0376836292e-2f;
    y = y * f - 1.1514610310e-1f;
    y = y * f + 1.1676998740e-1f;
    y = y * f - 1.2420140846e-1f;
    y = y * f + 1.4249322787e-1f;
    y = y * f - 1.6668057665e-1f;
    y = y * f + 2.0000714765e-1f;
    y = y * f - 2.4999993993e-1f;
    y = y * f + 3.3333331174e-1f;
    y = y * f * z;
    y += -2.12194440e-4f * e;
    y += -0.5f * z;
    return f + y + 0.693359375f * e;
}

#define ADV_MSLOSS_MAX_BINS (2048 / 2 + 1)

static const int scale_sizes[ADV_MSLOSS_MAX_SCALES] = {2048, 1024, 512, 256, 128, 64};

typedef struct {
    int nfft, bins, frames;
    adv_stft *stft;
    float *ref_mag;      /* frames x bins: S_n(x) */
    float *ref_log;      /* frames x bins: log(S_n(x) + eps) */
} ms_scale;

struct adv_msloss {
    long n;
    int n_scales;
    ms_scale scale[ADV_MSLOSS_MAX_SCALES];
    float *pad;              /* n + 2048: padded signal, then padded gradient (shared by the scales) */
    float *frames_buf;       /* the largest frames x nfft over the scales */
    fftwf_complex *spec;     /* the largest frames x bins */
    float *frame_sums;       /* 2 x the most frames of a scale: each frame's two L1 sums */
};

static int scale_frames(long n, int nfft) { return (int)(1 + n / (nfft / 4)); }

size_t adv_msloss_bytes(long n)
{
    size_t total = sizeof(float) * 2 * ((size_t)n + 2048), frames_max = 0, spec_max = 0;
    for (int s = 0; s < ADV_MSLOSS_MAX_SCALES; s++) {
        int nfft = scale_sizes[s];
        if (nfft / 2 >= n) continue;
        size_t t = (size_t)scale_frames(n, nfft), k = (size_t)nfft / 2 + 1;
        total += sizeof(float) * (nfft + 2 * t * k);
        if (t * nfft > frames_max) frames_max = t * nfft;
        if (t * k > spec_max) spec_max = t * k;
    }
    return total + sizeof(float) * frames_max + sizeof(fftwf_complex) * spec_max +
           sizeof(float) * 2 * (size_t)scale_frames(n, 64);   /* the smallest scale has the most frames */
}

long adv_msloss_samples(const adv_msloss *ms) { return ms->n; }
int adv_msloss_scales(const adv_msloss *ms) { return ms->n_scales; }

void adv_msloss_free(adv_msloss *ms)
{
    if (!ms) return;
    for (int s = 0; s < ms->n_scales; s++) {
        adv_stft_free(ms->scale[s].stft);
        free(ms->scale[s].ref_mag);
        free(ms->scale[s].ref_log);
    }
    fftwf_free(ms->pad);
    fftwf_free(ms->frames_buf);
    fftwf_free(ms->spec);
    free(ms->frame_sums);
    free(ms);
}

adv_msloss *adv_msloss_create(long n)
{
    if (n < 2) { adv_fail("multi-scale loss: signal of %ld samples is too short", n); return NULL; }
    adv_msloss *ms = calloc(1, sizeof *ms);
    if (!ms) { adv_fail("out of memory"); return NULL; }
    ms->n = n;
    size_t frames_max = 0, spec_max = 0;
    for (int i = 0; i < ADV_MSLOSS_MAX_SCALES; i++) {
        int nfft = scale_sizes[i];
        if (nfft / 2 >= n) continue;
        ms_scale *sc = &ms->scale[ms->n_scales++];
        sc->nfft = nfft;
        sc->bins = nfft / 2 + 1;
        sc->frames = scale_frames(n, nfft);
        size_t tk = (size_t)sc->frames * sc->bins;
        sc->ref_mag = calloc(tk, sizeof(float));
        sc->ref_log = malloc(sizeof(float) * tk);
        if (!sc->ref_mag || !sc->ref_log) goto oom;
        const float log_eps = ms_log(ADV_MSLOSS_EPS);
        for (size_t j = 0; j < tk; j++) sc->ref_log[j] = log_eps;
        if ((size_t)sc->frames * nfft > frames_max) frames_max = (size_t)sc->frames * nfft;
        if (tk > spec_max) spec_max = tk;
    }
    ms->pad = fftwf_malloc(sizeof(float) * ((size_t)n + 2048));
    ms->frames_buf = fftwf_malloc(sizeof(float) * frames_max);
    ms->spec = fftwf_malloc(sizeof(fftwf_complex) * spec_max);
    ms->frame_sums = malloc(sizeof(float) * 2 * (size_t)scale_frames(n, 64));
    if (!ms->pad || !ms->frames_buf || !ms->spec || !ms->frame_sums) goto oom;

    for (int s = 0; s < ms->n_scales; s++) {
        ms_scale *sc = &ms->scale[s];
        if (!(sc->stft = adv_stft_create(n, sc->nfft, sc->nfft / 4, ms->frames_buf, ms->spec))) {
            adv_msloss_free(ms);
            return NULL;
        }
    }
    return ms;
oom:
    adv_msloss_free(ms);
    adv_fail("out of memory planning the multi-scale loss for %ld samples", n);
    return NULL;
}

/* The spectra of scale sc of y into ms->spec. */
static void stft(adv_msloss *ms, const ms_scale *sc, const float *y)
{
    adv_stft_forward(sc->stft, y, ms->pad, ms->frames_buf, ms->spec);
}

void adv_msloss_set_reference(adv_msloss *ms, const float *x)
{
    for (int s = 0; s < ms->n_scales; s++) {
        ms_scale *sc = &ms->scale[s];
        stft(ms, sc, x);
        const long tk = (long)sc->frames * sc->bins;
#pragma omp parallel for schedule(static) if (tk >= 65536)
        for (long i = 0; i < tk; i++) {
            float re = ms->spec[i][0], im = ms->spec[i][1];
            float a = sqrtf(re * re + im * im);
            sc->ref_mag[i] = a;
            sc->ref_log[i] = ms_log(a + ADV_MSLOSS_EPS);
        }
    }
}


/* d loss / d |X| of one bin, divided by |X| (0 at |X| = 0): the factor of X's gradient. */
static inline float grad_scale(float a, float loga, float b, float lb, float inv_count)
{
    float d_lin = a - b, d_log = loga - lb;
    float s_lin = (d_lin > 0 ? 1.0f : 0.0f) - (d_lin < 0 ? 1.0f : 0.0f);
    float s_log = (d_log > 0 ? 1.0f : 0.0f) - (d_log < 0 ? 1.0f : 0.0f);
    float gb = -(s_lin + s_log / (b + ADV_MSLOSS_EPS)) * inv_count;
    float q = gb / (b > 0 ? b : 1.0f);   /* divided unconditionally: the loop vectorises */
    return b > 0 ? q : 0.0f;
}

/* One frame of one scale: the two L1 terms' sums (returned in sl, sg) and, if want_grad, X
 * (interleaved re, im) overwritten by d loss / d X for the transposed DFT (bins 1..K-2 halved).
 * |.| has gradient sign(.) (0 at 0); |X| has gradient X / |X| (0 at |X| = 0), as PyTorch. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static void frame_loss(const float *restrict A, const float *restrict logA, float *restrict X, int K, float inv_count,
                       int want_grad, float *sl, float *sg)
{
    float b[ADV_MSLOSS_MAX_BINS], lb[ADV_MSLOSS_MAX_BINS];
    float sum_lin = 0, sum_log = 0;
#pragma omp simd reduction(+ : sum_lin, sum_log)
    for (int k = 0; k < K; k++) {
        float re = X[2 * k], im = X[2 * k + 1];
        b[k] = sqrtf(re * re + im * im);
        lb[k] = ms_log(b[k] + ADV_MSLOSS_EPS);
        sum_lin += fabsf(A[k] - b[k]);
        sum_log += fabsf(logA[k] - lb[k]);
    }
    *sl = sum_lin;
    *sg = sum_log;
    if (!want_grad) return;
    /* bins 1 .. K-2 carry the transpose's factor 0.5 (adv_stft_onesided_weight), bins 0 and K-1
     * factor 1: the ends outside the loop keep it free of branches, so it vectorises */
    X[0] *= grad_scale(A[0], logA[0], b[0], lb[0], inv_count);
    X[1] *= grad_scale(A[0], logA[0], b[0], lb[0], inv_count);
#pragma omp simd
    for (int k = 1; k < K - 1; k++) {
        float scale = 0.5f * grad_scale(A[k], logA[k], b[k], lb[k], inv_count);
        X[2 * k] *= scale;
        X[2 * k + 1] *= scale;
    }
    if (K > 1) {
        float scale = grad_scale(A[K - 1], logA[K - 1], b[K - 1], lb[K - 1], inv_count);
        X[2 * K - 2] *= scale;
        X[2 * K - 1] *= scale;
    }
}

double adv_msloss_eval(adv_msloss *ms, const float *y, float *grad)
{
    const long n = ms->n;
    double total = 0;
    if (grad) memset(grad, 0, sizeof(float) * (size_t)n);
    for (int s = 0; s < ms->n_scales; s++) {
        const ms_scale *sc = &ms->scale[s];
        stft(ms, sc, y);
        const int K = sc->bins;
        const float inv_count = 1.0f / ((float)sc->frames * (float)K);
        /* frames in parallel; their sums added afterwards in frame order, whatever the threads */
        float *sums = ms->frame_sums;
#pragma omp parallel for schedule(static) if (sc->frames >= 64)
        for (int t = 0; t < sc->frames; t++)
            frame_loss(sc->ref_mag + (size_t)t * K, sc->ref_log + (size_t)t * K, (float *)(ms->spec + (size_t)t * K), K,
                       inv_count, grad != NULL, &sums[2 * t], &sums[2 * t + 1]);
        double sum_lin = 0, sum_log = 0;
        for (int t = 0; t < sc->frames; t++) {
            sum_lin += sums[2 * t];
            sum_log += sums[2 * t + 1];
        }
        total += (sum_lin + sum_log) / ((double)sc->frames * K);
        if (!grad) continue;

        adv_stft_backward(sc->stft, ms->spec, ms->frames_buf, ms->pad, grad, 1);
    }
    return total;
}
