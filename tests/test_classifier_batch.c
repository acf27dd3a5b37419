/* The batched classifier: B clips through one network call give the logits and waveform gradients
 * of B separate single-clip calls (within float32 rounding), at 16 kHz and at 48 kHz, with one and
 * two threads; and the batch gradient of a loss mixing every clip matches finite differences. */
#include "testutil.h"
#include "advinst/blas.h"
#include "advinst/classifier.h"
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 7;

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* Clip b: partials at a clip-dependent pitch plus noise, so every clip has different logits. */
static float *make_clip(long n, int rate, int b)
{
    float *x = malloc(sizeof(float) * n);
    for (long i = 0; i < n; i++) {
        double t = (double)i / rate, s = 0;
        for (int h = 1; h <= 4; h++) s += sin(2 * M_PI * (150.0 + 110.0 * b) * h * t + h) / h;
        x[i] = (float)((0.05 + 0.1 * b) * s * exp(-1.0 * t) + 0.02 * adv_rng_normal(&rng));
    }
    return x;
}

/* Loss of the batch: sum over clips of CE toward target (b * 5 + 1) % 12. */
static double batch_loss(int B, const float *logits, float *glogits)
{
    double loss = 0;
    for (int b = 0; b < B; b++) {
        int target = (b * 5 + 1) % ADV_N_CLASSES;
        loss += adv_cross_entropy(1, ADV_N_CLASSES, logits + b * ADV_N_CLASSES, &target,
                                  glogits ? glogits + b * ADV_N_CLASSES : NULL);
    }
    return loss;
}

static void test_batch_vs_single(adv_model *m, int rate, long n, int B, int threads)
{
    adv_blas_set_threads(threads);
    adv_classifier *cb = adv_classifier_create_batch(m, rate, n, B), *c1 = adv_classifier_create(m, rate, n);
    CHECK(cb && c1, "create batch %d at %d Hz", B, rate);
    if (!cb || !c1) { adv_classifier_free(cb); adv_classifier_free(c1); return; }
    CHECK(adv_classifier_batch(cb) == B && adv_classifier_batch(c1) == 1, "batch sizes");
    float **x = malloc(sizeof(float *) * B), **g = malloc(sizeof(float *) * B);
    float *logits = malloc(sizeof(float) * B * ADV_N_CLASSES), *gl = malloc(sizeof(float) * B * ADV_N_CLASSES);
    float *g1 = malloc(sizeof(float) * n), l1[ADV_N_CLASSES];
    for (int b = 0; b < B; b++) { x[b] = make_clip(n, rate, b); g[b] = malloc(sizeof(float) * n); }
    adv_classifier_forward_batch(cb, (const float *const *)x, logits);
    batch_loss(B, logits, gl);
    adv_classifier_backward_batch(cb, gl, g);
    double worst_l = 0, worst_g = 0, spread = 0;
    for (int b = 0; b < B; b++) {
        adv_classifier_forward(c1, x[b], l1);
        for (int k = 0; k < ADV_N_CLASSES; k++) {
            worst_l = fmax(worst_l, fabs(l1[k] - logits[b * ADV_N_CLASSES + k]) / (1 + fabs(l1[k])));
            spread = fmax(spread, fabs(logits[b * ADV_N_CLASSES + k] - logits[k]));
        }
        adv_classifier_backward(c1, gl + b * ADV_N_CLASSES, g1);
        worst_g = fmax(worst_g, tu_rel_error(g[b], g1, (size_t)n));
    }
    CHECK(worst_l < 1e-5, "batch %d, %d Hz, %d thread(s): logits as single calls (worst rel. diff %.2e)", B, rate,
          threads, worst_l);
    CHECK(worst_g < 1e-4, "batch %d, %d Hz, %d thread(s): gradients as single calls (worst rel. L2 %.2e)", B, rate,
          threads, worst_g);
    CHECK(B == 1 || spread > 1e-3, "the clips have different logits (%.3g)", spread);
    printf("  batch %d at %d Hz, %d thread(s): logits %.1e, gradients %.1e\n", B, rate, threads, worst_l, worst_g);
    for (int b = 0; b < B; b++) { free(x[b]); free(g[b]); }
    free(x); free(g); free(logits); free(gl); free(g1);
    adv_classifier_free(cb);
    adv_classifier_free(c1);
}

/* Finite differences of the summed loss along a direction that moves every clip at once. */
static void test_batch_fd(adv_model *m, int rate, long n, int B)
{
    adv_classifier *c = adv_classifier_create_batch(m, rate, n, B);
    CHECK(c != NULL, "create");
    if (!c) return;
    float **x = malloc(sizeof(float *) * B), **g = malloc(sizeof(float *) * B), **xp = malloc(sizeof(float *) * B);
    float *logits = malloc(sizeof(float) * B * ADV_N_CLASSES), *gl = malloc(sizeof(float) * B * ADV_N_CLASSES);
    const size_t total = (size_t)B * n;
    float *v = malloc(sizeof(float) * total), *gall = malloc(sizeof(float) * total);
    for (int b = 0; b < B; b++) { x[b] = make_clip(n, rate, b); g[b] = gall + (size_t)b * n; xp[b] = malloc(sizeof(float) * n); }
    adv_classifier_forward_batch(c, (const float *const *)x, logits);
    batch_loss(B, logits, gl);
    adv_classifier_backward_batch(c, gl, g);
    /* direction: the gradient's plus a random part, RMS 1 per sample */
    double gg = dot(gall, gall, total), rr = 0, s2 = 0;
    for (size_t i = 0; i < total; i++) { v[i] = adv_rng_normal(&rng); rr += (double)v[i] * v[i]; }
    for (size_t i = 0; i < total; i++) { v[i] = (float)(gall[i] / sqrt(gg) + 0.5 * v[i] / sqrt(rr)); s2 += (double)v[i] * v[i]; }
    for (size_t i = 0; i < total; i++) v[i] = (float)(v[i] * sqrt(total / s2));
    /* a step that changes the loss by about 1e-3 of itself: the calibrated model's loss is steep */
    const double e = 1e-3 * fmax(fabs(batch_loss(B, logits, NULL)), 1.0) / fmax(fabs(dot(gall, v, total)), 1e-3);
    double l[2];
    for (int s = 0; s < 2; s++) {
        for (int b = 0; b < B; b++)
            for (long i = 0; i < n; i++) xp[b][i] = x[b][i] + (float)((s ? -e : e) * v[(size_t)b * n + i]);
        adv_classifier_forward_batch(c, (const float *const *)xp, logits);
        l[s] = batch_loss(B, logits, NULL);
    }
    double fd = (l[0] - l[1]) / (2 * e), an = dot(gall, v, total);
    double tol = 2e-2 * fmax(fabs(fd), fabs(an)) + 1e-6 * sqrt(gg * total);
    CHECK(fabs(fd - an) <= tol, "batch %d at %d Hz: finite difference %.7g vs analytic %.7g", B, rate, fd, an);
    printf("  batch %d at %d Hz: fd %+.6e analytic %+.6e\n", B, rate, fd, an);
    for (int b = 0; b < B; b++) { free(x[b]); free(xp[b]); }
    free(x); free(g); free(xp); free(logits); free(gl); free(v); free(gall);
    adv_classifier_free(c);
}

int main(void)
{
    adv_model *m = adv_model_create_calibrated(11);   /* input-dependent logits */
    for (int threads = 1; threads <= 2; threads++) {
        test_batch_vs_single(m, 16000, 20000, 3, threads);
        test_batch_vs_single(m, 48000, 40000, 4, threads);
    }
    test_batch_vs_single(m, 44100, 30000, 1, 2);
    adv_blas_set_threads(2);
    test_batch_fd(m, 48000, 36000, 3);
    test_batch_fd(m, 16000, 18000, 2);
    CHECK(adv_classifier_create_batch(m, 16000, 20000, 0) == NULL, "batch 0 is refused");
    adv_model_free(m);
    return tu_finish("test_classifier_batch");
}
