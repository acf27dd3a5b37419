/* Time per iteration of C&W and Multi-Scale C&W on a 3.7 s clip (59200 samples at 16 kHz; --rate
 * for another rate, e.g. 48000: 177600 samples) with a random model: one iteration = one forward, one backward, one update (MS-C&W adds the
 * multi-scale spectral loss and its backward). The learning rate is tiny so no run succeeds:
 * a run of I iterations minus a run of 1 gives the cost of I - 1 iterations; median over R runs.
 *
 *   bench_attack [--threads N] [--repeat R] [--iterations I] [--rate HZ] [--json]
 */
#include "advinst/attack.h"
#include "advinst/blas.h"
#include "advinst/error.h"
#include "advinst/msloss.h"
#include "advinst/progress.h"
#include "advinst/stats.h"
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Median milliseconds per iteration of `method` (wall time; *cpu_ms: process CPU time). */
static double bench(adv_model *m, adv_attack_method method, int rate, const float *x, long n, long iters, int repeat,
                    double *cpu_ms)
{
    adv_attack_ws *ws = adv_attack_ws_create(m, rate, n, 1, method == ADV_MSCW);
    if (!ws) { fprintf(stderr, "bench_attack: %s\n", adv_error()); exit(1); }
    float *out = malloc(sizeof(float) * n);
    double *per = malloc(sizeof(double) * repeat), *cpu = malloc(sizeof(double) * repeat);
    adv_attack_params p;
    adv_attack_defaults(method, &p);
    p.lr = 1e-12f;
    p.target = 2;
    adv_attack_result r;
    for (int k = -1; k < repeat; k++) {
        p.max_iter = 1;
        double c0 = adv_cpu_now();
        adv_attack_run(ws, &p, x, 0, out, &r);
        double fixed = r.seconds, c1 = adv_cpu_now();
        p.max_iter = iters;
        adv_attack_run(ws, &p, x, 0, out, &r);
        double c2 = adv_cpu_now();
        if (k >= 0) {
            per[k] = 1e3 * (r.seconds - fixed) / (double)(iters - 1);
            cpu[k] = 1e3 * ((c2 - c1) - (c1 - c0)) / (double)(iters - 1);
        }
    }
    double med = adv_stat_median(per, repeat);
    *cpu_ms = adv_stat_median(cpu, repeat);
    free(per);
    free(cpu);
    free(out);
    adv_attack_ws_free(ws);
    return med;
}

int main(int argc, char **argv)
{
    adv_blas_prefer_fast_kernels(argv);
    int threads = 1, repeat = 5, json = 0, rate = 16000, opt;
    long iters = 20;
    static const struct option options[] = {{"threads", required_argument, 0, 't'}, {"repeat", required_argument, 0, 'r'},
                                            {"iterations", required_argument, 0, 'i'}, {"json", no_argument, 0, 'j'},
                                            {"rate", required_argument, 0, 'R'},
                                            {0, 0, 0, 0}};
    while ((opt = getopt_long(argc, argv, "t:r:i:jR:", options, NULL)) != -1) {
        if (opt == 't') threads = atoi(optarg);
        else if (opt == 'R') rate = atoi(optarg);
        else if (opt == 'r') repeat = atoi(optarg);
        else if (opt == 'i') iters = atol(optarg);
        else if (opt == 'j') json = 1;
        else {
            fprintf(stderr, "usage: bench_attack [--threads N] [--repeat R] [--iterations I] [--rate HZ] [--json]\n");
            return 2;
        }
    }
    if (iters < 2) iters = 2;
    if (repeat < 1) repeat = 1;
    adv_blas_set_threads(threads);
    if (rate < 8000) { fprintf(stderr, "bench_attack: --rate must be at least 8000\n"); return 2; }
    const long n = 59200L * rate / 16000;
    adv_model *m = adv_model_create(1);
    for (int i = 0; i < ADV_N_MELS; i++) { m->fe_mean[i] = -45; m->fe_std[i] = 15; }
    float *x = malloc(sizeof(float) * n);
    for (long i = 0; i < n; i++) x[i] = (float)(0.3 * sin(2 * M_PI * 440.0 * i / rate) + 0.1 * sin(i * 0.013 * 16000 / rate));

    adv_msloss *ms = adv_msloss_create(n);
    float *g = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    for (long i = 0; i < n; i++) y[i] = x[i] + 1e-3f * (float)sin(i * 0.7 * 16000 / rate);
    adv_msloss_set_reference(ms, x);
    double *t = malloc(sizeof(double) * 20);
    for (int k = 0; k < 20; k++) {
        double t0 = adv_now();
        adv_msloss_eval(ms, y, g);
        t[k] = 1e3 * (adv_now() - t0);
    }
    double ms_ms = adv_stat_median(t, 20);
    free(t);
    adv_msloss_free(ms);
    free(g);
    free(y);

    double cw_cpu, mscw_cpu;
    double cw = bench(m, ADV_CW, rate, x, n, iters, repeat, &cw_cpu);
    double mscw = bench(m, ADV_MSCW, rate, x, n, iters, repeat, &mscw_cpu);
    if (json)
        printf("{\"impl\":\"advinst\",\"threads\":%d,\"blas_core\":\"%s\",\"rate\":%d,\"cw_ms\":%.3f,\"mscw_ms\":%.3f,"
               "\"msloss_ms\":%.3f,\"cw_cpu_ms\":%.3f,\"mscw_cpu_ms\":%.3f}\n",
               threads, adv_blas_core_name(), rate, cw, mscw, ms_ms, cw_cpu, mscw_cpu);
    else
        printf("advinst attacks, 3.7 s clip at %d Hz, %d thread(s), OpenBLAS %s: C&W %.2f ms/iteration, MS-C&W %.2f "
               "ms/iteration (multi-scale loss forward + backward alone %.2f ms); medians of %d runs of %ld iterations\n",
               rate, threads, adv_blas_core_name(), cw, mscw, ms_ms, repeat, iters);
    adv_model_free(m);
    free(x);
    return 0;
}
