/* Statistics for experiment reports: descriptive statistics, incomplete beta, t-test. */
#include "testutil.h"
#include "advinst/stats.h"
#include <math.h>

int main(void)
{
    /* descriptive */
    const double x[8] = {2, 4, 4, 4, 5, 5, 7, 9};
    CHECK_NEAR(adv_stat_mean(x, 8), 5.0, 1e-12, "mean");
    CHECK_NEAR(adv_stat_std(x, 8), sqrt(32.0 / 7.0), 1e-12, "sample std");
    CHECK_NEAR(adv_stat_median(x, 8), 4.5, 1e-12, "median, even count");
    const double y[5] = {3, NAN, 1, 2, 10};
    CHECK_NEAR(adv_stat_median(y, 5), 2.5, 1e-12, "median skips NaN");
    CHECK_NEAR(adv_stat_median(y, 3), 2.0, 1e-12, "median, odd count");
    CHECK_NEAR(adv_stat_mean(y, 5), 4.0, 1e-12, "mean skips NaN");
    CHECK(isnan(adv_stat_mean(y + 1, 1)), "mean of nothing is NaN");
    CHECK(adv_stat_std(x, 1) == 0, "std of one value");
    CHECK(y[0] == 3 && y[4] == 10, "median leaves its input alone");

    /* I_x(a, b): closed forms */
    CHECK_NEAR(adv_stat_betai(1, 1, 0.3), 0.3, 1e-12, "I_x(1,1) = x");
    CHECK_NEAR(adv_stat_betai(3, 1, 0.6), pow(0.6, 3), 1e-12, "I_x(a,1) = x^a");
    CHECK_NEAR(adv_stat_betai(1, 4, 0.2), 1 - pow(0.8, 4), 1e-12, "I_x(1,b) = 1-(1-x)^b");
    CHECK_NEAR(adv_stat_betai(2.5, 2.5, 0.5), 0.5, 1e-12, "I_0.5(a,a) = 1/2");
    CHECK_NEAR(adv_stat_betai(2, 3, 0.4) + adv_stat_betai(3, 2, 0.6), 1.0, 1e-12, "symmetry");

    /* t distribution: df 1 is Cauchy, df 2 has p = 1 - t / sqrt(2 + t^2) */
    CHECK_NEAR(adv_stat_t_pvalue(1.0, 1), 0.5, 1e-10, "df 1, t 1");
    CHECK_NEAR(adv_stat_t_pvalue(3.0, 1), 1 - 2 / M_PI * atan(3.0), 1e-10, "df 1, t 3");
    CHECK_NEAR(adv_stat_t_pvalue(2.0, 2), 1 - 2 / sqrt(6.0), 1e-10, "df 2, t 2");
    CHECK_NEAR(adv_stat_t_pvalue(-2.0, 2), 1 - 2 / sqrt(6.0), 1e-10, "two-sided");
    CHECK_NEAR(adv_stat_t_pvalue(0.0, 7), 1.0, 1e-12, "t 0");
    CHECK_NEAR(adv_stat_t_pvalue(2.776, 4), 0.05, 1e-3, "df 4 critical value 2.776");
    CHECK_NEAR(adv_stat_t_critical(4, 0.05), 2.776445, 1e-5, "critical value df 4");
    CHECK_NEAR(adv_stat_t_critical(9, 0.05), 2.262157, 1e-5, "critical value df 9");
    CHECK_NEAR(adv_stat_t_pvalue(1.959964, 1e6), 0.05, 1e-4, "large df tends to the normal");

    /* paired t-test: differences 1, 2, 3: t = 2 sqrt(3), df 2 */
    const double a3[3] = {1, 2, 3}, b3[3] = {0, 0, 0};
    adv_ttest t;
    CHECK(adv_stat_paired_ttest(a3, b3, 3, &t) == 0, "t-test runs");
    CHECK(t.n == 3 && t.df == 2, "n %d df %d", t.n, t.df);
    CHECK_NEAR(t.mean_diff, 2.0, 1e-12, "mean difference");
    CHECK_NEAR(t.sd_diff, 1.0, 1e-12, "sd of differences");
    CHECK_NEAR(t.t, 2 * sqrt(3.0), 1e-12, "t");
    CHECK_NEAR(t.p, 1 - 2 * sqrt(3.0) / sqrt(14.0), 1e-10, "p");

    /* Student's sleep data (Cushny & Peebles), the textbook paired case: t = -4.0621, df 9, p = 0.002833 */
    const double g1[10] = {0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0};
    const double g2[10] = {1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4};
    CHECK(adv_stat_paired_ttest(g1, g2, 10, &t) == 0, "sleep t-test runs");
    CHECK_NEAR(t.t, -4.062128, 1e-5, "sleep t");
    CHECK(t.df == 9, "sleep df");
    CHECK_NEAR(t.p, 0.002833, 1e-6, "sleep p");
    CHECK_NEAR(t.mean_diff, -1.58, 1e-12, "sleep mean difference");

    /* degenerate cases */
    const double c4[4] = {1, 2, 3, 4}, d4[4] = {0, 1, 2, 3};
    CHECK(adv_stat_paired_ttest(c4, d4, 4, &t) == 0 && isinf(t.t) && t.t > 0 && t.p == 0, "equal differences: t inf, p 0");
    CHECK(adv_stat_paired_ttest(c4, c4, 4, &t) == 0 && t.t == 0 && t.p == 1, "no differences: p 1");
    CHECK(adv_stat_paired_ttest(c4, d4, 1, &t) == -1 && isnan(t.p), "one pair: no test");
    const double e4[4] = {1, NAN, 3, 5};
    CHECK(adv_stat_paired_ttest(e4, b3, 3, &t) == 0 && t.n == 2, "NaN pairs dropped");
    return tu_finish("test_stats");
}
