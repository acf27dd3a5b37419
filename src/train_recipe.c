/* Label smoothing, mixup, frequency masking and temperature calibration for training. See
 * train_recipe.h and docs/dataset.md ("Training for calibrated confidence"). */
#include "train_recipe.h"
#include "advinst/calibration.h"
#include "advinst/error.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WIN ((size_t)ADV_N_MELS * ADV_TRAIN_WINDOW)

int recipe_active(const adv_train_options *o)
{
    return o->label_smoothing > 0 || o->mixup_alpha > 0 || o->freq_mask > 0;
}

/* Gamma(a, 1) by Marsaglia and Tsang (a < 1 through Gamma(a + 1) * U^(1/a)). */
static double gamma_draw(double a, uint64_t *rng)
{
    if (a < 1) {
        double u = adv_rng_uniform(rng);
        return gamma_draw(a + 1, rng) * pow(u > 0 ? u : 1e-12, 1.0 / a);
    }
    double d = a - 1.0 / 3, c = 1.0 / sqrt(9 * d);
    for (;;) {
        double x = adv_rng_normal(rng), v = 1 + c * x;
        if (v <= 0) continue;
        v = v * v * v;
        double u = adv_rng_uniform(rng);
        if (u < 1 - 0.0331 * x * x * x * x || log(u > 0 ? u : 1e-300) < 0.5 * x * x + d * (1 - v + log(v))) return d * v;
    }
}

static double beta_draw(double a, uint64_t *rng)
{
    double x = gamma_draw(a, rng), y = gamma_draw(a, rng);
    return x + y > 0 ? x / (x + y) : 0.5;
}

void recipe_batch(float *xb, int nb, const int *labels, float *targets, uint64_t seed, const adv_train_options *o)
{
    uint64_t rng = seed;
    const float off = o->label_smoothing / ADV_N_CLASSES, on = 1 - o->label_smoothing + off;
    for (int b = 0; b < nb; b++)
        for (int k = 0; k < ADV_N_CLASSES; k++) targets[b * ADV_N_CLASSES + k] = k == labels[b] ? on : off;
    if (o->mixup_alpha > 0 && nb > 1) {
        /* each window mixed with another of the batch (a seeded permutation of the originals) */
        int perm[4096];
        for (int b = 0; b < nb; b++) perm[b] = b;
        for (int b = nb - 1; b > 0; b--) {
            int j = (int)(adv_rng_next(&rng) % (uint64_t)(b + 1)), t = perm[b];
            perm[b] = perm[j];
            perm[j] = t;
        }
        float *orig = malloc(sizeof(float) * WIN * (size_t)nb), *tg = malloc(sizeof(float) * ADV_N_CLASSES * (size_t)nb);
        if (orig && tg) {
            memcpy(orig, xb, sizeof(float) * WIN * (size_t)nb);
            memcpy(tg, targets, sizeof(float) * ADV_N_CLASSES * (size_t)nb);
            for (int b = 0; b < nb; b++) {
                double lam = beta_draw(o->mixup_alpha, &rng);
                if (lam < 0.5) lam = 1 - lam;   /* the window's own label stays the larger part */
                const float *other = orig + (size_t)perm[b] * WIN;
                float *x = xb + (size_t)b * WIN;
                for (size_t i = 0; i < WIN; i++) x[i] = (float)(lam * x[i] + (1 - lam) * other[i]);
                for (int k = 0; k < ADV_N_CLASSES; k++)
                    targets[b * ADV_N_CLASSES + k] =
                        (float)(lam * tg[b * ADV_N_CLASSES + k] + (1 - lam) * tg[perm[b] * ADV_N_CLASSES + k]);
            }
        }
        free(orig);
        free(tg);
    }
    if (o->freq_mask > 0)
        for (int b = 0; b < nb; b++) {
            if (adv_rng_uniform(&rng) >= 0.5f) continue;
            int w = 1 + (int)(adv_rng_next(&rng) % (uint64_t)o->freq_mask);
            int f0 = (int)(adv_rng_next(&rng) % (uint64_t)(ADV_N_MELS - w + 1));
            memset(xb + (size_t)b * WIN + (size_t)f0 * ADV_TRAIN_WINDOW, 0, sizeof(float) * ADV_TRAIN_WINDOW * (size_t)w);
        }
}

float recipe_soft_cross_entropy(int nb, const float *logits, const float *targets, float *grad)
{
    double loss = 0;
    for (int b = 0; b < nb; b++) {
        const float *l = logits + (size_t)b * ADV_N_CLASSES;
        const float *t = targets + (size_t)b * ADV_N_CLASSES;
        float p[ADV_N_CLASSES];
        adv_softmax_temperature(1.0, l, p);
        double mx = l[0], lse = 0;
        for (int k = 1; k < ADV_N_CLASSES; k++) mx = l[k] > mx ? l[k] : mx;
        for (int k = 0; k < ADV_N_CLASSES; k++) lse += exp(l[k] - mx);
        lse = log(lse) + mx;
        for (int k = 0; k < ADV_N_CLASSES; k++) {
            loss += t[k] * (lse - l[k]);
            if (grad) grad[(size_t)b * ADV_N_CLASSES + k] = (p[k] - t[k]) / (float)nb;
        }
    }
    return (float)(loss / nb);
}

int recipe_calibrate(adv_model *m, const adv_spectra *sp)
{
    float *logits = malloc(sizeof(float) * ADV_N_CLASSES * (size_t)(sp->count > 0 ? sp->count : 1));
    int *index = malloc(sizeof(int) * (size_t)(sp->count > 0 ? sp->count : 1)), *labels = malloc(sizeof(int) * (size_t)(sp->count > 0 ? sp->count : 1));
    int rc = -1;
    adv_eval ev;
    if (!logits || !index || !labels) { adv_fail("out of memory"); goto done; }
    if (adv_evaluate_spectra_logits(m, sp, ADV_SPLIT_VALID, &ev, logits, index) != 0) goto done;
    rc = 0;
    if (ev.clips == 0) goto done;
    for (long i = 0; i < ev.clips; i++) labels[i] = sp->label[index[i]];
    double before = adv_ece(logits, labels, ev.clips, 1.0), T = adv_fit_temperature(logits, labels, ev.clips);
    double after = adv_ece(logits, labels, ev.clips, T), cross = adv_ece_crossfit(logits, labels, ev.clips);
    char buf[64];
    snprintf(buf, sizeof buf, "%.6g", T);
    adv_model_set_meta(m, ADV_META_TEMPERATURE, buf);
    snprintf(buf, sizeof buf, "%.4f", before);
    adv_model_set_meta(m, "calibration.valid_ece_t1", buf);
    snprintf(buf, sizeof buf, "%.4f", after);
    adv_model_set_meta(m, "calibration.valid_ece", buf);
    snprintf(buf, sizeof buf, "%.4f", cross);
    adv_model_set_meta(m, "calibration.valid_ece_crossfit", buf);
    snprintf(buf, sizeof buf, "%ld", ev.clips);
    adv_model_set_meta(m, "calibration.valid_clips", buf);
done:
    free(logits);
    free(index);
    free(labels);
    return rc;
}

void recipe_metadata(adv_model *m, const adv_train_options *o)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%g", (double)o->label_smoothing);
    adv_model_set_meta(m, "training.label_smoothing", buf);
    snprintf(buf, sizeof buf, "%g", (double)o->mixup_alpha);
    adv_model_set_meta(m, "training.mixup_alpha", buf);
    snprintf(buf, sizeof buf, "%d", o->freq_mask);
    adv_model_set_meta(m, "training.freq_mask", buf);
}
