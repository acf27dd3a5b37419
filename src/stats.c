/* Descriptive statistics and the paired t-test (see stats.h). */
#include "advinst/stats.h"
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

double adv_stat_mean(const double *x, size_t n)
{
    double s = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i])) { s += x[i]; k++; }
    return k ? s / (double)k : NAN;
}

double adv_stat_std(const double *x, size_t n)
{
    double m = adv_stat_mean(x, n), s = 0;
    size_t k = 0;
    if (isnan(m)) return NAN;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i])) { s += (x[i] - m) * (x[i] - m); k++; }
    return k > 1 ? sqrt(s / (double)(k - 1)) : 0.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double adv_stat_median(const double *x, size_t n)
{
    double *v = malloc(sizeof *v * (n ? n : 1));
    if (!v) return NAN;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i])) v[k++] = x[i];
    double med = NAN;
    if (k) {
        qsort(v, k, sizeof *v, cmp_double);
        med = k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]);
    }
    free(v);
    return med;
}

/* Continued fraction of the incomplete beta function (modified Lentz), valid for x < (a+1)/(a+b+2). */
static double betacf(double a, double b, double x)
{
    const double tiny = 1e-300, eps = 1e-15;
    double qab = a + b, qap = a + 1, qam = a - 1;
    double c = 1, d = 1 - qab * x / qap;
    if (fabs(d) < tiny) d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 1000; m++) {
        int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < eps) break;
    }
    return h;
}

double adv_stat_betai(double a, double b, double x)
{
    if (!(a > 0 && b > 0 && x >= 0 && x <= 1)) return NAN;
    if (x == 0 || x == 1) return x;
    double lfront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1) / (a + b + 2)) return exp(lfront) * betacf(a, b, x) / a;
    return 1 - exp(lfront) * betacf(b, a, 1 - x) / b;
}

double adv_stat_t_pvalue(double t, double df)
{
    if (!(df > 0) || isnan(t)) return NAN;
    if (isinf(t)) return 0;
    return adv_stat_betai(0.5 * df, 0.5, df / (df + t * t));
}

double adv_stat_t_critical(double df, double level)
{
    if (!(df > 0 && level > 0 && level < 1)) return NAN;
    double lo = 0, hi = 1;
    while (adv_stat_t_pvalue(hi, df) > level && hi < 1e12) hi *= 2;
    for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
        double mid = 0.5 * (lo + hi);
        if (adv_stat_t_pvalue(mid, df) > level) lo = mid;
        else hi = mid;
    }
    return 0.5 * (lo + hi);
}

int adv_stat_paired_ttest(const double *a, const double *b, size_t n, adv_ttest *out)
{
    memset(out, 0, sizeof *out);
    double s = 0, ss = 0;
    int k = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(a[i]) && !isnan(b[i])) { s += a[i] - b[i]; k++; }
    out->n = k;
    out->df = k > 0 ? k - 1 : 0;
    out->t = out->p = out->sd_diff = NAN;
    out->mean_diff = k ? s / k : NAN;
    if (k < 2) return -1;
    for (size_t i = 0; i < n; i++)
        if (!isnan(a[i]) && !isnan(b[i])) {
            double d = a[i] - b[i] - out->mean_diff;
            ss += d * d;
        }
    out->sd_diff = sqrt(ss / (k - 1));
    double se = out->sd_diff / sqrt((double)k);
    if (!(se > 1e-12 * fabs(out->mean_diff))) {
        /* every difference equal: no spread to judge against */
        if (out->mean_diff == 0) { out->t = 0; out->p = 1; }
        else { out->t = out->mean_diff > 0 ? INFINITY : -INFINITY; out->p = 0; }
        return 0;
    }
    out->t = out->mean_diff / se;
    out->p = adv_stat_t_pvalue(out->t, out->df);
    return 0;
}
