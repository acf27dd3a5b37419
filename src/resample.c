/* Polyphase Kaiser-windowed-sinc resampler and its exact adjoint (docs/resampler-spec.md). */
#include "resample_internal.h"
#include "advinst/error.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ROLLOFF 0.92
#define ZERO_CROSSINGS 32.0
#define KAISER_BETA 8.0
/* Refuse filters bigger than this many floats (256 MiB); only absurd rate pairs get there. */
#define MAX_TAP_FLOATS ((long long)1 << 26)

long adv_rate_gcd(long a, long b)
{
    while (b) {
        long t = a % b;
        a = b;
        b = t;
    }
    return a;
}

double adv_resampler_table_taps(int rate_in, int rate_out)
{
    if (rate_in <= 0 || rate_out <= 0 || rate_in == rate_out) return 0;
    const double rho = fmin(1.0, (double)rate_out / rate_in), W = ZERO_CROSSINGS / (ROLLOFF * rho);
    return (double)(rate_out / adv_rate_gcd(rate_in, rate_out)) * (2 * ceil(W) + 1);
}

/* Modified Bessel function of the first kind, order 0 (power series; converges for all x). */
static double bessel_i0(double x)
{
    double q = x * x / 4.0, term = 1.0, sum = 1.0;
    for (int k = 1; k < 500; k++) {
        term *= q / ((double)k * k);
        sum += term;
        if (term < sum * 1e-17) break;
    }
    return sum;
}

static double kernel(double tau, double c, double W, double i0_beta)
{
    if (fabs(tau) >= W) return 0.0;
    double x = c * tau;
    double sinc = x == 0.0 ? 1.0 : sin(M_PI * x) / (M_PI * x);
    double r = tau / W;
    return c * sinc * bessel_i0(KAISER_BETA * sqrt(1.0 - r * r)) / i0_beta;
}

adv_resampler *adv_resampler_create(int rate_in, int rate_out, long n_in)
{
    if (rate_in <= 0 || rate_out <= 0 || n_in < 0) {
        adv_fail("resampler: invalid arguments (%d Hz -> %d Hz, %ld samples)", rate_in, rate_out,
                 n_in);
        return NULL;
    }
    long long g = adv_rate_gcd(rate_in, rate_out);
    long long L = rate_out / g, M = rate_in / g;
    if ((long long)n_in > (LLONG_MAX - M) / L) {
        adv_fail("resampler: %ld samples is too long", n_in);
        return NULL;
    }
    long long n_out = ((long long)n_in * L + M - 1) / M;
    if (n_out > LONG_MAX) {
        adv_fail("resampler: output of %lld samples is too long", n_out);
        return NULL;
    }
    adv_resampler *r = calloc(1, sizeof *r);
    if (!r) {
        adv_fail("resampler: out of memory");
        return NULL;
    }
    r->rate_in = rate_in;
    r->rate_out = rate_out;
    r->L = L;
    r->M = M;
    r->step_base = M / L;
    r->step_phase = M % L;
    r->n_in = n_in;
    r->n_out = (long)n_out;
    if (rate_in == rate_out) return r; /* identity: no filter */

    double rho = fmin(1.0, (double)rate_out / rate_in);
    double c = ROLLOFF * rho;
    double W = ZERO_CROSSINGS / c;
    double Kd = ceil(W);
    r->cutoff = c;
    r->half_width = W;
    if (Kd > (double)(INT_MAX / 4) || (long long)(2 * Kd + 1 + BLOCK) * L > MAX_TAP_FLOATS) {
        adv_fail("resampler: %d Hz -> %d Hz needs too large a filter", rate_in, rate_out);
        free(r);
        return NULL;
    }
    r->K = (int)Kd;
    r->ntaps = 2 * r->K + 1;
    r->stride = (r->ntaps + BLOCK - 1) / BLOCK * BLOCK;
    size_t bytes = (size_t)L * r->stride * sizeof(float);
    r->taps = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!r->taps) {
        adv_fail("resampler: out of memory for %lld x %d taps", L, r->ntaps);
        free(r);
        return NULL;
    }
    memset(r->taps, 0, bytes);
    double i0_beta = bessel_i0(KAISER_BETA);
    for (long long p = 0; p < L; p++) {
        float *row = r->taps + p * r->stride;
        for (int k = -r->K; k <= r->K; k++)
            row[k + r->K] = (float)kernel((double)p / (double)L - k, c, W, i0_beta);
    }
    return r;
}

void adv_resampler_free(adv_resampler *r)
{
    if (!r) return;
    free(r->taps);
    free(r);
}

long adv_resampler_output_length(const adv_resampler *r) { return r->n_out; }
long adv_resampler_input_length(const adv_resampler *r) { return r->n_in; }

static inline float dot(const float *restrict t, const float *restrict x, int n)
{
    float acc[BLOCK] = {0};
    int i = 0;
    for (; i + BLOCK <= n; i += BLOCK)
        for (int l = 0; l < BLOCK; l++) acc[l] += t[i + l] * x[i + l];
    float s = 0.0f;
    for (int l = 0; l < BLOCK; l++) s += acc[l];
    for (; i < n; i++) s += t[i] * x[i];
    return s;
}

static inline void axpy(float a, const float *restrict t, float *restrict y, int n)
{
    int i = 0;
    for (; i + BLOCK <= n; i += BLOCK)
        for (int l = 0; l < BLOCK; l++) y[i + l] += a * t[i + l];
    for (; i < n; i++) y[i] += a * t[i];
}

/* Output j reads around input base = floor(j M / L) with phase p = j M mod L; walked output after
 * output without a division. */
typedef struct { long long base, p; } position;

static inline void next_position(const adv_resampler *r, position *q)
{
    q->base += r->step_base;
    q->p += r->step_phase;
    if (q->p >= r->L) {
        q->p -= r->L;
        q->base++;
    }
}

/* For an output at q: the first input index lo = base - K and the tap range [k0, k1) of the row
 * that falls inside [0, n_in). */
static inline const float *span(const adv_resampler *r, position q, long *lo, int *k0, int *k1)
{
    long long base = q.base, p = q.p;
    *lo = (long)(base - r->K);
    *k0 = *lo < 0 ? (int)-*lo : 0;
    long long end = base + r->K + 1; /* one past the last input index */
    *k1 = end > r->n_in ? r->ntaps - (int)(end - r->n_in) : r->ntaps;
    return r->taps + p * r->stride;
}

/* Where output j reads: position at j computed once (a division), then walked. */
static inline position position_at(const adv_resampler *r, long j)
{
    long long t = (long long)j * r->M;
    position q = {t / r->L, 0};
    q.p = t - q.base * r->L;
    return q;
}

ADV_CLONES
void adv_resampler_forward_range(const adv_resampler *r, const float *x, float *y, long j0, long j1)
{
    if (j0 < 0) j0 = 0;
    if (j1 > r->n_out) j1 = r->n_out;
    if (j1 <= j0) return;
    if (r->rate_in == r->rate_out) {
        memcpy(y + j0, x + j0, (size_t)(j1 - j0) * sizeof *y);
        return;
    }
    if (adv_resampler_int_forward(r, x, y, j0, j1)) return;
    position q = position_at(r, j0);
    for (long j = j0; j < j1; j++, next_position(r, &q)) {
        long lo;
        int k0, k1;
        const float *row = span(r, q, &lo, &k0, &k1);
        y[j] = k1 > k0 ? dot(row + k0, x + lo + k0, k1 - k0) : 0.0f;
    }
}

ADV_CLONES
void adv_resampler_backward_range_add(const adv_resampler *r, const float *gy, float *gx, long j0, long j1)
{
    if (j0 < 0) j0 = 0;
    if (j1 > r->n_out) j1 = r->n_out;
    if (r->rate_in == r->rate_out) {
        for (long j = j0; j < j1; j++) gx[j] += gy[j];
        return;
    }
    if (j1 <= j0) return;
    if (adv_resampler_int_backward_add(r, gy, gx, j0, j1)) return;
    position q = position_at(r, j0);
    for (long j = j0; j < j1; j++, next_position(r, &q)) {
        long lo;
        int k0, k1;
        const float *row = span(r, q, &lo, &k0, &k1);
        if (k1 > k0) axpy(gy[j], row + k0, gx + lo + k0, k1 - k0);
    }
}

/* The whole-signal transforms run in parts of RS_PART outputs, in parallel. The parts depend only
 * on the length, so results do not depend on the thread count. Forward parts are independent. In
 * the adjoint, neighbouring parts add into the same inputs near their border, so the even parts run
 * first, then the odd ones: parts two apart never touch the same input. */
#define RS_PART 8192L

static long parts_of(const adv_resampler *r) { return (r->n_out + RS_PART - 1) / RS_PART; }

void adv_resampler_forward(const adv_resampler *r, const float *x, float *y)
{
    const long parts = parts_of(r);
#pragma omp parallel for schedule(static) if (parts > 1)
    for (long p = 0; p < parts; p++) adv_resampler_forward_range(r, x, y, p * RS_PART, (p + 1) * RS_PART);
}

/* Whether parts two apart read disjoint inputs (true unless the kernel spans RS_PART outputs). */
static int parts_disjoint(const adv_resampler *r, long parts)
{
    for (long p = 0; p + 2 < parts; p++) {
        long lo_a, hi_a, lo_b, hi_b;
        adv_resampler_input_span(r, p * RS_PART, (p + 1) * RS_PART, &lo_a, &hi_a);
        adv_resampler_input_span(r, (p + 2) * RS_PART, (p + 3) * RS_PART, &lo_b, &hi_b);
        if (hi_a > lo_b) return 0;
    }
    return 1;
}

void adv_resampler_backward(const adv_resampler *r, const float *gy, float *gx)
{
    if (r->rate_in == r->rate_out) {   /* the identity: a copy (adding to 0 would turn -0 into +0) */
        if (r->n_in) memcpy(gx, gy, (size_t)r->n_in * sizeof *gx);
        return;
    }
    if (r->n_in) memset(gx, 0, (size_t)r->n_in * sizeof *gx);
    const long parts = parts_of(r);
    if (parts < 4 || !parts_disjoint(r, parts)) {
        adv_resampler_backward_range_add(r, gy, gx, 0, r->n_out);
        return;
    }
#pragma omp parallel
    for (int phase = 0; phase < 2; phase++) {
#pragma omp for schedule(static)
        for (long p = phase; p < parts; p += 2)
            adv_resampler_backward_range_add(r, gy, gx, p * RS_PART, (p + 1) * RS_PART);
    }
}

void adv_resampler_input_span(const adv_resampler *r, long j0, long j1, long *lo, long *hi)
{
    if (r->rate_in == r->rate_out) {
        *lo = j0 < 0 ? 0 : j0;
        *hi = j1 > r->n_in ? r->n_in : j1;
        return;
    }
    long long b0 = (long long)j0 * r->M / r->L, b1 = (long long)(j1 - 1) * r->M / r->L;
    long long a = b0 - r->K, b = b1 + r->K + 1;
    *lo = a < 0 ? 0 : (long)a;
    *hi = b > r->n_in ? r->n_in : (long)b;
}

long adv_resampler_first_output_reading(const adv_resampler *r, long i)
{
    if (r->rate_in == r->rate_out) return i;
    /* output j reads inputs up to base(j) + K, base(j) = floor(j M / L): the first j with
     * base(j) >= i - K */
    long long need = (long long)i - r->K;
    if (need <= 0) return 0;
    long long j = (need * r->L + r->M - 1) / r->M;   /* smallest j with j M >= need L */
    return j > r->n_out ? r->n_out : (long)j;
}

void adv_resampler_design(const adv_resampler *r, double *passband_hz, double *stopband_hz,
                          double *attenuation_db, int *taps_per_phase)
{
    double lower = fmin(r->rate_in, r->rate_out);
    if (r->rate_in == r->rate_out) {
        /* Identity: no filter, the whole band passes. */
        if (passband_hz) *passband_hz = lower / 2;
        if (stopband_hz) *stopband_hz = lower / 2;
        if (attenuation_db) *attenuation_db = 0.0;
        if (taps_per_phase) *taps_per_phase = 1;
        return;
    }
    /* Kaiser: beta = 0.1102 (A - 8.7) for A > 50; order N = (A - 7.95) / (2.285 dw), with the
     * kernel spanning N = 2W input samples. */
    double A = KAISER_BETA / 0.1102 + 8.7;
    double dw = (A - 7.95) / (2.285 * 2.0 * r->half_width);   /* rad per input sample */
    double transition = dw / (2.0 * M_PI) * r->rate_in;        /* Hz */
    double fc = r->cutoff * r->rate_in / 2.0;                  /* -6 dB point, Hz */
    if (passband_hz) *passband_hz = fc - transition / 2;
    if (stopband_hz) *stopband_hz = fc + transition / 2;
    if (attenuation_db) *attenuation_db = A;
    if (taps_per_phase) *taps_per_phase = r->ntaps;
}
