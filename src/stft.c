/* The STFT and its transpose (see include/advinst/stft.h). */
#include "advinst/stft.h"
#include "advinst/error.h"
#include "advinst/frontend.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The frames are transformed in up to STFT_MAX_CHUNKS chunks of at least STFT_MIN_CHUNK frames,
 * one FFTW plan pair per chunk, run in parallel. The chunks depend only on the frame count, never
 * on the thread count, so results are the same whatever the threads; chunk starts are multiples of
 * 4 frames so that every chunk's spectrum keeps 32-byte alignment. */
#define STFT_MAX_CHUNKS 8
#define STFT_MIN_CHUNK 16

struct adv_stft {
    long n;
    int nfft, hop, bins, frames;
    float *window;
    int chunks;
    int start[STFT_MAX_CHUNKS + 1];          /* chunk c is frames start[c] .. start[c+1] - 1 */
    fftwf_plan forward_plan[STFT_MAX_CHUNKS], backward_plan[STFT_MAX_CHUNKS];
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
    for (int c = 0; c < s->chunks; c++) {
        if (s->forward_plan[c]) fftwf_destroy_plan(s->forward_plan[c]);
        if (s->backward_plan[c]) fftwf_destroy_plan(s->backward_plan[c]);
    }
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
    s->chunks = 1;
    while (s->chunks < STFT_MAX_CHUNKS && s->frames / (2 * s->chunks) >= STFT_MIN_CHUNK) s->chunks *= 2;
    for (int c = 0; c <= s->chunks; c++) s->start[c] = c == s->chunks ? s->frames : (int)((long)s->frames * c / s->chunks) & ~3;
    int size = nfft, ok = 1;
    adv_fftw_planner_lock();
    for (int c = 0; c < s->chunks; c++) {
        const int t0 = s->start[c], count = s->start[c + 1] - t0;
        float *f = frames_buf + (size_t)t0 * nfft;
        fftwf_complex *x = spec + (size_t)t0 * s->bins;
        s->forward_plan[c] = fftwf_plan_many_dft_r2c(1, &size, count, f, NULL, 1, nfft, x, NULL, 1, s->bins, FFTW_ESTIMATE);
        s->backward_plan[c] = fftwf_plan_many_dft_c2r(1, &size, count, x, NULL, 1, s->bins, f, NULL, 1, nfft, FFTW_ESTIMATE);
        ok = ok && s->forward_plan[c] && s->backward_plan[c];
    }
    adv_fftw_planner_unlock();
    if (!ok) {
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
#pragma omp parallel for schedule(static) if (s->chunks > 1)
    for (int c = 0; c < s->chunks; c++) {
        const int t0 = s->start[c];
        for (int t = t0; t < s->start[c + 1]; t++) {
            const float *src = pad + (size_t)t * s->hop;
            float *dst = frames_buf + (size_t)t * s->nfft;
            for (int i = 0; i < s->nfft; i++) dst[i] = s->window[i] * src[i];
        }
        fftwf_execute_dft_r2c(s->forward_plan[c], frames_buf + (size_t)t0 * s->nfft, spec + (size_t)t0 * s->bins);
    }
}

/* pad[b hop .. (b + 1) hop) of the overlap-add of the windowed frame gradients, summed over the
 * frames in ascending order (as a serial overlap-add would), so blocks can run in parallel. */
static void overlap_add_block(const adv_stft *s, const float *frames_buf, float *pad, long b, long npad)
{
    const long lo = b * s->hop, hi = lo + s->hop < npad ? lo + s->hop : npad;
    long t = b < s->frames - 1 ? b : s->frames - 1;
    while (t > 0 && (t - 1) * s->hop + s->nfft > lo) t--;   /* the first frame reaching the block */
    for (long i = lo; i < hi; i++) pad[i] = 0;
    for (; t < s->frames && t * s->hop < hi; t++) {
        const long f0 = t * s->hop, a = lo > f0 ? lo : f0, e = f0 + s->nfft < hi ? f0 + s->nfft : hi;
        const float *gf = frames_buf + (size_t)t * s->nfft - f0, *w = s->window - f0;
        for (long i = a; i < e; i++) pad[i] += w[i] * gf[i];
    }
}

void adv_stft_backward(const adv_stft *s, fftwf_complex *g, float *frames_buf, float *pad, float *gx, int accumulate)
{
    const long n = s->n, half = s->nfft / 2, npad = n + s->nfft;
    const long blocks = (npad + s->hop - 1) / s->hop;
#pragma omp parallel if (s->chunks > 1)
    {
        /* the transposed one-sided DFT: an inverse real FFT (g in its convention) */
#pragma omp for schedule(static)
        for (int c = 0; c < s->chunks; c++) {
            const int t0 = s->start[c];
            fftwf_execute_dft_c2r(s->backward_plan[c], g + (size_t)t0 * s->bins, frames_buf + (size_t)t0 * s->nfft);
        }
        /* windowed framing, transposed: overlap-add */
#pragma omp for schedule(static)
        for (long b = 0; b < blocks; b++) overlap_add_block(s, frames_buf, pad, b, npad);
    }
    /* reflect padding, transposed */
    if (accumulate)
        for (long i = 0; i < n; i++) gx[i] += pad[half + i];
    else
        memcpy(gx, pad + half, sizeof(float) * (size_t)n);
    for (long i = 0; i < half; i++) gx[reflect_index(i, half, n)] += pad[i];
    for (long i = half + n; i < npad; i++) gx[reflect_index(i, half, n)] += pad[i];
}
