/* Small statistics for experiment reports: mean, standard deviation, median, and the paired
 * t-test with its two-sided p-value from Student's t distribution (through the regularised
 * incomplete beta function). NaN inputs are skipped by the descriptive functions. */
#ifndef ADVINST_STATS_H
#define ADVINST_STATS_H
#include <stddef.h>

/* Mean of the finite values (NaN if there are none). */
double adv_stat_mean(const double *x, size_t n);
/* Sample standard deviation (divisor count - 1) of the finite values; 0 for one value, NaN for none. */
double adv_stat_std(const double *x, size_t n);
/* Median of the finite values (mean of the middle two for an even count; NaN for none). x is not changed. */
double adv_stat_median(const double *x, size_t n);

/* Regularised incomplete beta function I_x(a, b) for a, b > 0, 0 <= x <= 1 (NaN otherwise). */
double adv_stat_betai(double a, double b, double x);
/* Two-sided p-value P(|T| >= |t|) of Student's t with df degrees of freedom (df > 0). */
double adv_stat_t_pvalue(double t, double df);
/* The two-sided critical value: |t| beyond it has p < level (e.g. df 4, level 0.05: 2.776). */
double adv_stat_t_critical(double df, double level);

typedef struct {
    int n;              /* pairs used (both values finite) */
    int df;             /* n - 1 */
    double mean_diff;   /* mean of a - b */
    double sd_diff;     /* sample standard deviation of a - b */
    double t;           /* mean_diff / (sd_diff / sqrt(n)); +-inf when every difference is equal and non-zero */
    double p;           /* two-sided; 1 when every difference is zero, NaN when n < 2 */
} adv_ttest;

/* Paired t-test of a[i] against b[i] (pairs with a NaN are dropped). Returns 0, or -1 when fewer
 * than two pairs remain (t and p NaN). */
int adv_stat_paired_ttest(const double *a, const double *b, size_t n, adv_ttest *out);
#endif
