/* The multi-scale spectral loss: L_ms(x, x) = 0 with a zero gradient, the backward against an
 * independent double-precision implementation (direct DFT sums, no FFT, no transposition tricks)
 * which is itself checked by finite differences, and the skipped scales of short signals.
 *
 * Why not finite differences on the float implementation directly: the log term has gradient
 * 1/|X| and |X| of ~10^5 bins comes arbitrarily close to 0 (Rayleigh-distributed), so the loss is
 * far from linear at any step a float forward can resolve. In double, e = 1e-7 is linear enough:
 * the reference is checked there to 1e-4 relative. The float backward must match the reference
 * gradient to 2 % relative L2 error: float32 FFTs carry an absolute error of ~1e-6 of a frame's
 * norm, and the rare bins with |X| ~ 1e-4 (whose 1/|X| gradient dominates the sum) inherit a few
 * per cent of it; PyTorch's float32 backward has the same limit. Mistakes in the backward
 * (halving, window, padding, sign conventions) give errors of order 1. */
#include "testutil.h"
#include "advinst/blas.h"
#include "advinst/msloss.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 777;

/* ---- double-precision reference: direct sums ---- */
static const int sizes[6] = {2048, 1024, 512, 256, 128, 64};

static long ref_reflect(long i, long pad, long n)
{
    long j = i - pad;
    if (j < 0) j = -j;
    if (j >= n) j = 2 * (n - 1) - j;
    return j;
}

static double sgn(double v) { return v > 0 ? 1 : (v < 0 ? -1 : 0); }

/* Magnitudes of one scale, [frames][bins]; complex parts too when re/im are not NULL. */
static void ref_stft(const double *y, long n, int nfft, double *mag, double *re_out, double *im_out)
{
    int hop = nfft / 4, K = nfft / 2 + 1, T = (int)(1 + n / hop);
    for (int t = 0; t < T; t++)
        for (int k = 0; k < K; k++) {
            double re = 0, im = 0;
            for (int i = 0; i < nfft; i++) {
                double w = 0.5 - 0.5 * cos(2 * M_PI * i / nfft);
                double v = w * y[ref_reflect((long)t * hop + i, nfft / 2, n)];
                double th = 2 * M_PI * (double)k * i / nfft;
                re += v * cos(th);
                im -= v * sin(th);
            }
            mag[t * K + k] = sqrt(re * re + im * im);
            if (re_out) { re_out[t * K + k] = re; im_out[t * K + k] = im; }
        }
}

/* L_ms(x, y) in double; grad (may be NULL) = dL/dy. */
static double ref_loss(const double *x, const double *y, long n, double *grad)
{
    double total = 0;
    if (grad) memset(grad, 0, sizeof(double) * n);
    for (int s = 0; s < 6; s++) {
        int nfft = sizes[s], hop = nfft / 4, K = nfft / 2 + 1, T = (int)(1 + n / hop);
        if (nfft / 2 >= n) continue;
        double *A = malloc(sizeof(double) * T * K), *B = malloc(sizeof(double) * T * K);
        double *re = malloc(sizeof(double) * T * K), *im = malloc(sizeof(double) * T * K);
        ref_stft(x, n, nfft, A, NULL, NULL);
        ref_stft(y, n, nfft, B, re, im);
        double sum = 0, inv = 1.0 / ((double)T * K), eps = 1e-7;
        for (int j = 0; j < T * K; j++) sum += fabs(A[j] - B[j]) + fabs(log(A[j] + eps) - log(B[j] + eps));
        total += sum * inv;
        if (grad)
            for (int t = 0; t < T; t++)
                for (int i = 0; i < nfft; i++) {
                    double w = 0.5 - 0.5 * cos(2 * M_PI * i / nfft), g = 0;
                    for (int k = 0; k < K; k++) {
                        int j = t * K + k;
                        if (B[j] == 0) continue;
                        double gb = -(sgn(A[j] - B[j]) + sgn(log(A[j] + eps) - log(B[j] + eps)) / (B[j] + eps)) * inv;
                        double th = 2 * M_PI * (double)k * i / nfft;
                        g += gb * (re[j] * cos(th) - im[j] * sin(th)) / B[j];
                    }
                    grad[ref_reflect((long)t * hop + i, nfft / 2, n)] += w * g;
                }
        free(A); free(B); free(re); free(im);
    }
    return total;
}

static void make_pair(float *x, float *y, long n)
{
    for (long i = 0; i < n; i++) {
        double t = (double)i / 16000;
        x[i] = (float)(0.3 * sin(2 * M_PI * 440 * t) + 0.1 * sin(2 * M_PI * 1234.5 * t + 0.3) +
                       0.05 * adv_rng_normal(&rng));
        /* the DC and Nyquist offsets keep the real-valued bins 0 and n/2 away from |X| = 0, where
         * 1/|X| would make float and double disagree (both correctly, to their precision) */
        y[i] = 0.7f * x[i] + 0.2f * adv_rng_normal(&rng) + 0.3f + ((i & 1) ? -0.2f : 0.2f);
    }
}

static void check_against_reference(long n, const char *what)
{
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n), *g = malloc(sizeof(float) * n);
    double *xd = malloc(sizeof(double) * n), *yd = malloc(sizeof(double) * n), *gd = malloc(sizeof(double) * n);
    double *v = malloc(sizeof(double) * n), *yp = malloc(sizeof(double) * n);
    make_pair(x, y, n);
    for (long i = 0; i < n; i++) { xd[i] = x[i]; yd[i] = y[i]; }
    adv_msloss *ms = adv_msloss_create(n);
    CHECK(ms != NULL, "%s: create failed", what);
    if (!ms) return;
    adv_msloss_set_reference(ms, x);

    /* L(x, x) = 0 and the gradient there is zero (sign(0) = 0) */
    double l0 = adv_msloss_eval(ms, x, g), gmax = 0;
    for (long i = 0; i < n; i++) gmax = fmax(gmax, fabs(g[i]));
    CHECK(l0 == 0.0, "%s: L_ms(x, x) = %g, expected 0", what, l0);
    CHECK(gmax == 0.0, "%s: gradient at y = x has max %g, expected 0", what, gmax);

    double l = adv_msloss_eval(ms, y, g);
    double lref = ref_loss(xd, yd, n, gd);
    CHECK(fabs(l - lref) <= 1e-4 * lref, "%s: L_ms %.8g vs double reference %.8g", what, l, lref);
    CHECK(adv_msloss_eval(ms, y, NULL) == l, "%s: value with and without gradient differ", what);

    /* the reference gradient is right: central differences in double, e = 1e-7 */
    double gn = 0;
    for (long i = 0; i < n; i++) gn += gd[i] * gd[i];
    gn = sqrt(gn);
    for (int d = 0; d < 2; d++) {
        double an = 0, vn = 0, e = 1e-7;
        for (long i = 0; i < n; i++) { v[i] = adv_rng_normal(&rng); an += gd[i] * v[i]; vn += v[i] * v[i]; }
        for (long i = 0; i < n; i++) yp[i] = yd[i] + e * v[i];
        double lp = ref_loss(xd, yp, n, NULL);
        for (long i = 0; i < n; i++) yp[i] = yd[i] - e * v[i];
        double lm = ref_loss(xd, yp, n, NULL);
        double fd = (lp - lm) / (2 * e);
        CHECK(fabs(fd - an) <= 1e-4 * fabs(an) + 1e-6 * gn * sqrt(vn),
              "%s: reference gradient, direction %d: finite difference %.9g vs analytic %.9g", what, d, fd, an);
    }

    /* the float backward matches the reference gradient */
    double num = 0, den = 0;
    for (long i = 0; i < n; i++) { num += (g[i] - gd[i]) * (g[i] - gd[i]); den += gd[i] * gd[i]; }
    double rel = sqrt(num / den);
    CHECK(rel <= 2e-2, "%s: backward vs double reference: relative L2 error %.3g (tolerance 2e-2)", what, rel);
    adv_msloss_free(ms);
    free(x); free(y); free(g); free(xd); free(yd); free(gd); free(v); free(yp);
}

/* Short signals skip the scales whose half window is not shorter than the signal. */
static void check_short(void)
{
    adv_msloss *ms = adv_msloss_create(600);
    CHECK(ms && adv_msloss_scales(ms) == 5, "600 samples: %d scales, expected 5 (1024 .. 64)",
          ms ? adv_msloss_scales(ms) : -1);
    adv_msloss_free(ms);
    ms = adv_msloss_create(1025);
    CHECK(ms && adv_msloss_scales(ms) == 6, "1025 samples: %d scales, expected 6", ms ? adv_msloss_scales(ms) : -1);
    adv_msloss_free(ms);
}

/* Frames and STFT chunks run in parallel: one thread and two give the same loss and gradient, bit
 * for bit, on 3.7 s at 48 kHz (every scale split into 8 chunks). */
static void check_thread_invariance(void)
{
    const long n = 177600;
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    float *g[2] = {malloc(sizeof(float) * n), malloc(sizeof(float) * n)};
    make_pair(x, y, n);
    adv_msloss *ms = adv_msloss_create(n);
    CHECK(ms != NULL, "create failed");
    if (!ms) return;
    double l[2];
    const int before = adv_blas_threads();
    for (int k = 0; k < 2; k++) {
        adv_blas_set_threads(k + 1);
        adv_msloss_set_reference(ms, x);
        l[k] = adv_msloss_eval(ms, y, g[k]);
    }
    adv_blas_set_threads(before);
    CHECK(l[0] == l[1], "loss %.17g with 1 thread, %.17g with 2", l[0], l[1]);
    CHECK(memcmp(g[0], g[1], sizeof(float) * n) == 0, "gradient differs between 1 and 2 threads");
    adv_msloss_free(ms);
    free(x); free(y); free(g[0]); free(g[1]);
}

int main(void)
{
    check_against_reference(1100, "1100 samples (6 scales)");
    check_against_reference(777, "777 samples (odd, 5 scales)");
    check_against_reference(300, "300 samples (4 scales)");
    check_short();
    check_thread_invariance();   /* last: the cases above depend on the random stream's order */
    return tu_finish("test_msloss");
}
