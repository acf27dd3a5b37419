/* Time of the resampler's whole-signal forward and adjoint on 3.7 s, for the rate pairs an attack
 * meets (48 <-> 16 kHz: integer ratios, src/resample_fir.c; 44.1 -> 16 kHz: the general loop),
 * with the rate counted as 2 x outputs x taps per phase FLOP. Best and median of R runs.
 *
 *   bench_resample [--threads N] [--repeat R] [--json]
 */
#include "advinst/blas.h"
#include "advinst/progress.h"
#include "advinst/resample.h"
#include "advinst/stats.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static void run(int rate_in, int rate_out, int repeat, int threads, int json)
{
    const long n = 59200L * rate_in / 16000;
    adv_resampler *r = adv_resampler_create(rate_in, rate_out, n);
    if (!r) { fprintf(stderr, "bench_resample: cannot create %d -> %d\n", rate_in, rate_out); exit(1); }
    const long m = adv_resampler_output_length(r);
    int taps;
    adv_resampler_design(r, NULL, NULL, NULL, &taps);
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * m), *gx = malloc(sizeof(float) * n);
    double *tf = malloc(sizeof(double) * repeat), *tb = malloc(sizeof(double) * repeat);
    for (long i = 0; i < n; i++) x[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    adv_resampler_forward(r, x, y);   /* warm-up */
    for (int k = 0; k < repeat; k++) {
        double t0 = adv_now();
        adv_resampler_forward(r, x, y);
        double t1 = adv_now();
        adv_resampler_backward(r, y, gx);
        tf[k] = 1e3 * (t1 - t0);
        tb[k] = 1e3 * (adv_now() - t1);
    }
    double bf = tf[0], bb = tb[0];
    for (int k = 1; k < repeat; k++) { bf = tf[k] < bf ? tf[k] : bf; bb = tb[k] < bb ? tb[k] : bb; }
    const double mf = adv_stat_median(tf, repeat), mb = adv_stat_median(tb, repeat), mflop = 2e-6 * (double)m * taps;
    if (json)
        printf("{\"bench\":\"resample\",\"threads\":%d,\"rate_in\":%d,\"rate_out\":%d,\"taps\":%d,\"mflop\":%.2f,"
               "\"forward_best_ms\":%.4f,\"forward_median_ms\":%.4f,\"backward_best_ms\":%.4f,\"backward_median_ms\":%.4f}\n",
               threads, rate_in, rate_out, taps, mflop, bf, mf, bb, mb);
    else
        printf("%5d -> %5d Hz, %d taps/phase, %.1f MFLOP: forward %.3f ms (median %.3f, %.1f GFLOP/s), adjoint %.3f ms "
               "(median %.3f, %.1f GFLOP/s)\n",
               rate_in, rate_out, taps, mflop, bf, mf, mflop / bf, bb, mb, mflop / bb);
    free(x); free(y); free(gx); free(tf); free(tb);
    adv_resampler_free(r);
}

int main(int argc, char **argv)
{
    int threads = 1, repeat = 15, json = 0, opt;
    static const struct option options[] = {{"threads", required_argument, 0, 't'}, {"repeat", required_argument, 0, 'r'},
                                            {"json", no_argument, 0, 'j'}, {0, 0, 0, 0}};
    while ((opt = getopt_long(argc, argv, "t:r:j", options, NULL)) != -1) {
        if (opt == 't') threads = atoi(optarg);
        else if (opt == 'r') repeat = atoi(optarg);
        else if (opt == 'j') json = 1;
        else {
            fprintf(stderr, "usage: bench_resample [--threads N] [--repeat R] [--json]\n");
            return 2;
        }
    }
    if (repeat < 1) repeat = 1;
    adv_blas_set_threads(threads);
    if (!json) printf("resampler, 3.7 s, %d thread(s), best of %d runs\n", threads, repeat);
    run(48000, 16000, repeat, threads, json);
    run(16000, 48000, repeat, threads, json);
    run(44100, 16000, repeat, threads, json);
    return 0;
}
