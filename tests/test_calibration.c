/* Calibrated confidence: the model's temperature (metadata, default 1), softmax at a temperature,
 * temperature fitting, ECE, the evaluation tallies' calibration figures, and the training recipe's
 * soft-target loss (value against a direct sum, gradient against finite differences) and batch
 * augmentation (targets stay distributions, seeded). */
#include "advinst/calibration.h"
#include "advinst/train.h"
#include "../src/train_recipe.h"
#include "testutil.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* n clips whose true logits are scaled by `sharp` (over-confident when sharp > 1): the best
 * temperature is about `sharp`. */
static void make_logits(long n, double sharp, float *logits, int *labels, uint64_t *rng)
{
    for (long i = 0; i < n; i++) {
        labels[i] = (int)(adv_rng_next(rng) % ADV_N_CLASSES);
        /* a calibrated classifier: the label is drawn from softmax(z) */
        float z[ADV_N_CLASSES], p[ADV_N_CLASSES];
        for (int k = 0; k < ADV_N_CLASSES; k++) z[k] = 2.5f * adv_rng_normal(rng);
        adv_softmax_temperature(1.0, z, p);
        double u = tu_rand_uniform(rng, 0, 1), c = 0;
        labels[i] = ADV_N_CLASSES - 1;
        for (int k = 0; k < ADV_N_CLASSES; k++) {
            c += p[k];
            if (u < c) { labels[i] = k; break; }
        }
        for (int k = 0; k < ADV_N_CLASSES; k++) logits[i * ADV_N_CLASSES + k] = (float)(sharp * z[k]);
    }
}

int main(void)
{
    /* temperature from metadata */
    adv_model *m = adv_model_create(1);
    CHECK(adv_model_temperature(m) == 1.0, "no key: temperature 1");
    adv_model_set_meta(m, ADV_META_TEMPERATURE, "1.75");
    CHECK_NEAR(adv_model_temperature(m), 1.75, 1e-12, "temperature from metadata");
    adv_model_set_meta(m, ADV_META_TEMPERATURE, "nan");
    CHECK(adv_model_temperature(m) == 1.0, "invalid value: 1");
    adv_model_set_meta(m, ADV_META_TEMPERATURE, "2");
    float logits[ADV_N_CLASSES], p[ADV_N_CLASSES], q[ADV_N_CLASSES], half[ADV_N_CLASSES];
    for (int k = 0; k < ADV_N_CLASSES; k++) logits[k] = (float)(k % 5) - 1.5f, half[k] = logits[k] / 2;
    adv_model_probs(m, logits, p);
    adv_softmax(ADV_N_CLASSES, half, q);
    double sum = 0;
    for (int k = 0; k < ADV_N_CLASSES; k++) { CHECK_NEAR(p[k], q[k], 1e-6, "softmax(logits / 2)"); sum += p[k]; }
    CHECK_NEAR(sum, 1.0, 1e-6, "probabilities sum to 1");

    /* fitting recovers the over-confidence factor; ECE falls */
    enum { N = 4000 };
    float *L = malloc(sizeof(float) * N * ADV_N_CLASSES);
    int *y = malloc(sizeof(int) * N);
    uint64_t rng = 7;
    make_logits(N, 3.0, L, y, &rng);
    double T = adv_fit_temperature(L, y, N);
    CHECK(fabs(T - 3.0) < 0.3, "fitted temperature %.3f (expected about 3)", T);
    double e1 = adv_ece(L, y, N, 1.0), eT = adv_ece(L, y, N, T), ex = adv_ece_crossfit(L, y, N);
    printf("  T %.3f, ECE %.4f at T=1, %.4f fitted, %.4f cross-fitted\n", T, e1, eT, ex);
    CHECK(e1 > 0.1 && eT < 0.03 && ex < 0.04, "ECE %.4f -> %.4f (cross-fitted %.4f)", e1, eT, ex);

    /* the tallies: ECE and confidence when wrong, by hand. Two clips: right at p = 0.9, wrong at
     * p = 0.6 (softmax of [log 0.9, log 0.1/11 ...] and so on). */
    adv_eval ev;
    memset(&ev, 0, sizeof ev);
    float a[ADV_N_CLASSES], b[ADV_N_CLASSES];
    for (int k = 0; k < ADV_N_CLASSES; k++) a[k] = (float)log(0.1 / 11), b[k] = (float)log(0.4 / 11);
    a[0] = (float)log(0.9);
    b[3] = (float)log(0.6);
    adv_eval_add(&ev, 0, a);
    adv_eval_add(&ev, 5, b);
    adv_eval_finish(&ev);
    CHECK_NEAR(ev.wrong_confidence, 0.6, 1e-5, "mean confidence when wrong");
    CHECK(ev.wrong == 1, "one wrong");
    CHECK_NEAR(ev.ece, 0.5 * 0.1 + 0.5 * 0.6, 1e-5, "ECE by hand");
    CHECK(adv_ece(NULL, NULL, 0, 1.0) == 0, "ECE of no clips is 0");

    /* soft cross-entropy: one-hot targets give the hard loss; gradient by finite differences */
    enum { B = 3 };
    float lg[B * ADV_N_CLASSES], tg[B * ADV_N_CLASSES], g[B * ADV_N_CLASSES], gh[B * ADV_N_CLASSES];
    int lab[B] = {2, 7, 11};
    for (int i = 0; i < B * ADV_N_CLASSES; i++) lg[i] = adv_rng_normal(&rng);
    for (int i = 0; i < B * ADV_N_CLASSES; i++) tg[i] = (i % ADV_N_CLASSES) == lab[i / ADV_N_CLASSES];
    float hard = adv_cross_entropy(B, ADV_N_CLASSES, lg, lab, gh), soft = recipe_soft_cross_entropy(B, lg, tg, g);
    CHECK_NEAR(soft, hard, 1e-5, "one-hot soft loss = cross-entropy");
    CHECK(tu_rel_error(g, gh, B * ADV_N_CLASSES) < 1e-5, "one-hot gradient = cross-entropy's");
    for (int i = 0; i < B * ADV_N_CLASSES; i++) tg[i] = 0.3f * tg[i] + 0.7f / ADV_N_CLASSES;
    recipe_soft_cross_entropy(B, lg, tg, g);
    double worst = 0;
    for (int i = 0; i < B * ADV_N_CLASSES; i++) {
        float keep = lg[i], h = 1e-2f;
        lg[i] = keep + h;
        double up = recipe_soft_cross_entropy(B, lg, tg, NULL);
        lg[i] = keep - h;
        double dn = recipe_soft_cross_entropy(B, lg, tg, NULL);
        lg[i] = keep;
        worst = fmax(worst, fabs((up - dn) / (2 * h) - g[i]));
    }
    CHECK(worst < 2e-4, "soft-target gradient vs finite differences: max error %.2g", worst);

    /* batch augmentation: targets are distributions with the window's own label the largest part */
    adv_train_options o;
    adv_train_options_default(&o);
    o.label_smoothing = 0.1f;
    o.mixup_alpha = 0.4f;
    o.freq_mask = 8;
    size_t win = (size_t)ADV_N_MELS * ADV_TRAIN_WINDOW;
    float *x = malloc(sizeof(float) * win * 4), *x2 = malloc(sizeof(float) * win * 4);
    for (size_t i = 0; i < win * 4; i++) x[i] = adv_rng_normal(&rng);
    memcpy(x2, x, sizeof(float) * win * 4);
    int lb[4] = {0, 1, 2, 3};
    float t1[4 * ADV_N_CLASSES], t2[4 * ADV_N_CLASSES];
    recipe_batch(x, 4, lb, t1, 99, &o);
    recipe_batch(x2, 4, lb, t2, 99, &o);
    CHECK(memcmp(x, x2, sizeof(float) * win * 4) == 0 && memcmp(t1, t2, sizeof t1) == 0, "seeded: same batch twice");
    for (int i = 0; i < 4; i++) {
        double s = 0;
        int best = 0;
        for (int k = 0; k < ADV_N_CLASSES; k++) {
            s += t1[i * ADV_N_CLASSES + k];
            if (t1[i * ADV_N_CLASSES + k] > t1[i * ADV_N_CLASSES + best]) best = k;
        }
        CHECK_NEAR(s, 1.0, 1e-5, "target sums to 1");
        CHECK(best == lb[i] || t1[i * ADV_N_CLASSES + best] == t1[i * ADV_N_CLASSES + lb[i]], "own label largest");
    }
    free(x);
    free(x2);
    free(L);
    free(y);
    adv_model_free(m);
    return tu_finish("test_calibration");
}
