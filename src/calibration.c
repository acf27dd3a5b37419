/* Temperature of a model, calibrated probabilities, temperature fitting and expected calibration
 * error. See calibration.h. */
#include "advinst/calibration.h"
#include "advinst/classes.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

double adv_model_temperature(const adv_model *m)
{
    const char *s = m ? adv_model_get_meta(m, ADV_META_TEMPERATURE) : NULL;
    if (!s) return 1.0;
    char *end;
    double t = strtod(s, &end);
    return end != s && *end == 0 && isfinite(t) && t >= 0.01 && t <= 100 ? t : 1.0;
}

void adv_softmax_temperature(double T, const float *logits, float *probs)
{
    if (!(T > 0) || !isfinite(T)) T = 1;
    double mx = logits[0], sum = 0, e[ADV_N_CLASSES];
    for (int k = 1; k < ADV_N_CLASSES; k++) mx = logits[k] > mx ? logits[k] : mx;
    for (int k = 0; k < ADV_N_CLASSES; k++) sum += e[k] = exp((logits[k] - mx) / T);
    for (int k = 0; k < ADV_N_CLASSES; k++) probs[k] = (float)(e[k] / sum);
}

void adv_model_probs(const adv_model *m, const float *logits, float *probs)
{
    adv_softmax_temperature(adv_model_temperature(m), logits, probs);
}

/* Mean negative log-likelihood at temperature T over the clips i = first, first + step, ... */
static double nll(const float *logits, const int *labels, long n, long first, long step, double T)
{
    double s = 0;
    long c = 0;
    for (long i = first; i < n; i += step) {
        const float *l = logits + i * ADV_N_CLASSES;
        double mx = l[0], sum = 0;
        for (int k = 1; k < ADV_N_CLASSES; k++) mx = l[k] > mx ? l[k] : mx;
        for (int k = 0; k < ADV_N_CLASSES; k++) sum += exp((l[k] - mx) / T);
        s += log(sum) - (l[labels[i]] - mx) / T;
        c++;
    }
    return c ? s / c : 0;
}

/* Golden-section search of log T in [log 0.05, log 20] (the NLL is convex in 1/T). */
static double fit(const float *logits, const int *labels, long n, long first, long step)
{
    const double g = (sqrt(5.0) - 1) / 2;
    double a = log(0.05), b = log(20.0), c = b - g * (b - a), d = a + g * (b - a);
    double fc = nll(logits, labels, n, first, step, exp(c)), fd = nll(logits, labels, n, first, step, exp(d));
    for (int it = 0; it < 80; it++) {
        if (fc < fd) { b = d; d = c; fd = fc; c = b - g * (b - a); fc = nll(logits, labels, n, first, step, exp(c)); }
        else { a = c; c = d; fc = fd; d = a + g * (b - a); fd = nll(logits, labels, n, first, step, exp(d)); }
    }
    return exp((a + b) / 2);
}

double adv_fit_temperature(const float *logits, const int *labels, long n)
{
    return n > 0 ? fit(logits, labels, n, 0, 1) : 1.0;
}

static double ece_of(const float *logits, const int *labels, long n, long first, long step, double T, long *count)
{
    double conf[ADV_CALIBRATION_BINS] = {0}, acc[ADV_CALIBRATION_BINS] = {0};
    long cnt[ADV_CALIBRATION_BINS] = {0}, total = 0;
    for (long i = first; i < n; i += step) {
        float p[ADV_N_CLASSES];
        adv_softmax_temperature(T, logits + i * ADV_N_CLASSES, p);
        int best = adv_most_likely(p);
        int b = (int)(p[best] * ADV_CALIBRATION_BINS);
        if (b >= ADV_CALIBRATION_BINS) b = ADV_CALIBRATION_BINS - 1;
        conf[b] += p[best];
        acc[b] += best == labels[i];
        cnt[b]++;
        total++;
    }
    double e = 0;
    for (int b = 0; b < ADV_CALIBRATION_BINS; b++)
        if (cnt[b]) e += fabs(acc[b] - conf[b]) / (double)total;
    *count = total;
    return e;
}

double adv_ece(const float *logits, const int *labels, long n, double T)
{
    long c;
    return ece_of(logits, labels, n, 0, 1, T, &c);
}

double adv_ece_crossfit(const float *logits, const int *labels, long n)
{
    if (n < 2) return adv_ece(logits, labels, n, 1.0);
    double t_even = fit(logits, labels, n, 0, 2), t_odd = fit(logits, labels, n, 1, 2);
    long c_odd, c_even;
    double e_odd = ece_of(logits, labels, n, 1, 2, t_even, &c_odd), e_even = ece_of(logits, labels, n, 0, 2, t_odd, &c_even);
    return (e_odd * c_odd + e_even * c_even) / (double)(c_odd + c_even);
}
