/* Integer-ratio resampling (48 kHz <-> 16 kHz and the like), outputs vectorised.
 *
 * The general loops (src/resample.c) compute one output at a time as a dot product: two loads per
 * multiply-add and a horizontal sum per output. When L = 1 (down by M) or M = 1 (up by L) the
 * operator splits into a few plain FIR filters over contiguous, zero-padded arrays:
 *
 *   down, y = A x:     y[j]  = sum_k h[k] xs_{k mod M}[j + k div M],   xs_s[t] = x[M t + s - K]
 *   down, gx = A^T gy: gx[M t + s - K] += sum_q h[M q + s] gy[t - q]
 *   up,   y = A x:     y[L m + p] = sum_k h_p[k] x[m - K + k]
 *   up,   gx = A^T gy: gx[i] += sum_p sum_k h_p[k] gy[L (i + K - k) + p]
 *
 * and each is computed FB outputs at a time: one broadcast tap, FB/8 contiguous loads and as many
 * multiply-adds per term (fir_block). Padding the arrays with zeros replaces the edge cases of the
 * general loops. Each output's terms are summed in a fixed order, lane by lane, so the vector width
 * picked at run time changes nothing but speed. */
#include "resample_internal.h"

#include <stdlib.h>
#include <string.h>

/* Eight lanes, loaded from any float address: each lane is one output's own accumulator (GCC's
 * vector extension, so the loop below is vectorised whatever the optimiser decides; two SSE
 * halves in the baseline build). */
typedef float lanes __attribute__((vector_size(32), aligned(4), may_alias));
#define FB 16   /* outputs per block: two lanes vectors per partial sum, 8 AVX2 registers of accumulators */
/* everything below is inlined into the two entry points, compiled once per instruction set */
#define INLINE static inline __attribute__((always_inline))

/* out[i] = sum_{t < T} c[t] * src[t][i], i in [0, n), each sum as four partial sums (the terms
 * t = r mod 4 in ascending order, for r = 0..3) added as (s0 + s1) + (s2 + s3) at the end: a long
 * sum of a windowed sinc's terms cancels to small values in the stopband, and four shorter sums
 * keep its rounding near the general loop's (eight lane sums). */
INLINE void fir(const float *c, const float *const *src, int T, long n, float *restrict out)
{
    long i = 0;
    for (; i + FB <= n; i += FB) {
        lanes a[4][2] = {{{0}}};
        int t = 0;
        for (; t + 4 <= T; t += 4)
            for (int r = 0; r < 4; r++) {
                const float ct = c[t + r], *u = src[t + r] + i;
                a[r][0] += ct * *(const lanes *)u;
                a[r][1] += ct * *(const lanes *)(u + 8);
            }
        for (int r = 0; t < T; t++, r++) {
            const float ct = c[t], *u = src[t] + i;
            a[r][0] += ct * *(const lanes *)u;
            a[r][1] += ct * *(const lanes *)(u + 8);
        }
        *(lanes *)(out + i) = (a[0][0] + a[1][0]) + (a[2][0] + a[3][0]);
        *(lanes *)(out + i + 8) = (a[0][1] + a[1][1]) + (a[2][1] + a[3][1]);
    }
    for (; i < n; i++) {
        float a4[4] = {0};
        int t = 0;
        for (; t + 4 <= T; t += 4)
            for (int r = 0; r < 4; r++) a4[r] += c[t + r] * src[t + r][i];
        for (int r = 0; t < T; t++, r++) a4[r] += c[t] * src[t][i];
        out[i] = (a4[0] + a4[1]) + (a4[2] + a4[3]);
    }
}

/* Scratch for one call: `floats` floats and `ptrs` pointers, or NULL. */
INLINE void *scratch(size_t floats, size_t ptrs, float **f, const float ***p)
{
    char *mem = malloc(floats * sizeof(float) + ptrs * sizeof(float *));
    if (!mem) return NULL;
    *p = (const float **)mem;
    *f = (float *)(mem + ptrs * sizeof(float *));
    return mem;
}

/* x[i] for any i: zero outside [0, n). */
INLINE float at(const float *x, long long i, long n) { return i >= 0 && i < n ? x[i] : 0.0f; }

/* Down by M, outputs [j0, j1): n outputs read xs_s[0, n + Q) for each of the M phases s. */
INLINE int down_forward(const adv_resampler *r, const float *x, float *y, long j0, long j1)
{
    const long n = j1 - j0, M = (long)r->M, Q = (r->ntaps + M - 1) / M, len = n + Q;
    float *xs;
    const float **src;
    void *mem = scratch((size_t)(M * len + n), (size_t)r->ntaps, &xs, &src);
    if (!mem) return 0;
    for (long s = 0; s < M; s++)
        for (long t = 0; t < len; t++) xs[s * len + t] = at(x, M * (j0 + t) + s - r->K, r->n_in);
    for (int k = 0; k < r->ntaps; k++) src[k] = xs + (k % M) * len + k / M;
    float *out = xs + M * len;
    fir(r->taps, src, r->ntaps, n, out);
    memcpy(y + j0, out, (size_t)n * sizeof *y);
    free(mem);
    return 1;
}

/* Down by M, adjoint of outputs [j0, j1): phase s of gx gets n + Q - 1 sums over gy padded by
 * Q - 1 zeros on each side. */
INLINE int down_backward(const adv_resampler *r, const float *gy, float *gx, long j0, long j1)
{
    const long n = j1 - j0, M = (long)r->M, Q = (r->ntaps + M - 1) / M, len = n + 2 * (Q - 1), nt = n + Q - 1;
    float *g;
    const float **src;
    void *mem = scratch((size_t)(len + nt + Q), (size_t)Q, &g, &src);
    if (!mem) return 0;
    memset(g, 0, (size_t)len * sizeof *g);
    memcpy(g + Q - 1, gy + j0, (size_t)n * sizeof *g);
    float *out = g + len, *c = out + nt;
    for (long s = 0; s < M; s++) {
        int T = 0;
        for (long q = 0; M * q + s < r->ntaps; q++, T++) {
            c[T] = r->taps[M * q + s];
            src[T] = g + Q - 1 - q;
        }
        fir(c, src, T, nt, out);
        for (long t = 0; t < nt; t++) {
            const long long i = (long long)M * (j0 + t) + s - r->K;
            if (i >= 0 && i < r->n_in) gx[i] += out[t];
        }
    }
    free(mem);
    return 1;
}

/* Up by L, outputs [j0, j1): the inputs m in [m0, m1) behind them, each phase p filtered over
 * x[m0 - K, m1 + K). */
INLINE int up_forward(const adv_resampler *r, const float *x, float *y, long j0, long j1)
{
    const long L = (long)r->L, m0 = j0 / L, m1 = (j1 - 1) / L + 1, nm = m1 - m0, len = nm + r->ntaps - 1;
    float *xp;
    const float **src;
    void *mem = scratch((size_t)(len + nm), (size_t)r->ntaps, &xp, &src);
    if (!mem) return 0;
    for (long u = 0; u < len; u++) xp[u] = at(x, (long long)m0 - r->K + u, r->n_in);
    for (int k = 0; k < r->ntaps; k++) src[k] = xp + k;
    float *out = xp + len;
    for (long p = 0; p < L; p++) {
        fir(r->taps + p * r->stride, src, r->ntaps, nm, out);
        for (long m = m0; m < m1; m++) {
            const long j = L * m + p;
            if (j >= j0 && j < j1) y[j] = out[m - m0];
        }
    }
    free(mem);
    return 1;
}

/* Up by L, adjoint of outputs [j0, j1): gx over [m0 - K, m1 + K) sums all L x ntaps terms, from the
 * phases of gy padded by ntaps - 1 zeros on each side. */
INLINE int up_backward(const adv_resampler *r, const float *gy, float *gx, long j0, long j1)
{
    const long L = (long)r->L, m0 = j0 / L, m1 = (j1 - 1) / L + 1, nm = m1 - m0, N = r->ntaps;
    const long len = nm + 2 * (N - 1), ni = nm + N - 1, T = L * N;
    float *g;
    const float **src;
    void *mem = scratch((size_t)(L * len + ni + T), (size_t)T, &g, &src);
    if (!mem) return 0;
    float *out = g + L * len, *c = out + ni;
    for (long p = 0; p < L; p++) {
        float *gp = g + p * len;
        for (long u = 0; u < len; u++) {
            const long long j = (long long)L * (m0 + u - (N - 1)) + p;
            gp[u] = j >= j0 && j < j1 ? gy[j] : 0.0f;
        }
        for (long k = 0; k < N; k++) {
            c[p * N + k] = r->taps[p * r->stride + k];
            src[p * N + k] = gp + (N - 1 - k);
        }
    }
    fir(c, src, (int)T, ni, out);
    for (long v = 0; v < ni; v++) {
        const long long i = (long long)m0 - r->K + v;
        if (i >= 0 && i < r->n_in) gx[i] += out[v];
    }
    free(mem);
    return 1;
}

ADV_CLONES
int adv_resampler_int_forward(const adv_resampler *r, const float *x, float *y, long j0, long j1)
{
    if (r->L == 1 && r->M > 1) return down_forward(r, x, y, j0, j1);
    if (r->M == 1 && r->L > 1) return up_forward(r, x, y, j0, j1);
    return 0;
}

ADV_CLONES
int adv_resampler_int_backward_add(const adv_resampler *r, const float *gy, float *gx, long j0, long j1)
{
    if (r->L == 1 && r->M > 1) return down_backward(r, gy, gx, j0, j1);
    if (r->M == 1 && r->L > 1) return up_backward(r, gy, gx, j0, j1);
    return 0;
}
