/* Time per iteration of C&W and Multi-Scale C&W on a 3.7 s clip at 16 kHz (59200 samples) and at
 * 48 kHz (177600 samples; the perturbation lives at 16 kHz, see include/advinst/perturb.h) with a
 * random model: one iteration = one forward, one backward, one update (MS-C&W adds the
 * multi-scale spectral loss and its backward). The learning rate is tiny so no run succeeds:
 * a run of I iterations minus a run of 1 gives the cost of I - 1 iterations; median over R runs,
 * the two rates measured in alternation and their ratio the median of the per-pair ratios.
 *
 *   bench_attack [--threads N] [--repeat R] [--iterations I] [--json]
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

/* One method on a 3.7 s clip at one rate. */
typedef struct {
    adv_attack_ws *ws;
    adv_attack_params p;
    float *x, *out;
} setup;

static setup make_setup(adv_model *m, adv_attack_method method, int rate)
{
    setup s;
    const long n = (long)(3.7 * rate + 0.5);
    s.x = malloc(sizeof(float) * n);
    s.out = malloc(sizeof(float) * n);
    for (long i = 0; i < n; i++) s.x[i] = (float)(0.3 * sin(2 * M_PI * 440.0 * i / rate) + 0.1 * sin(i * 0.013 * 16000 / rate));
    s.ws = adv_attack_ws_create(m, rate, n, 1, method == ADV_MSCW);
    if (!s.ws) { fprintf(stderr, "bench_attack: %s\n", adv_error()); exit(1); }
    adv_attack_defaults(method, &s.p);
    s.p.lr = 1e-12f;
    s.p.target = 2;
    return s;
}

static void free_setup(setup *s)
{
    adv_attack_ws_free(s->ws);
    free(s->x);
    free(s->out);
}

/* Milliseconds per iteration: a run of I iterations minus a run of 1, over I - 1. */
static double per_iteration(setup *s, long iters)
{
    adv_attack_result r;
    s->p.max_iter = 1;
    adv_attack_run(s->ws, &s->p, s->x, 0, s->out, &r);
    double fixed = r.seconds;
    s->p.max_iter = iters;
    adv_attack_run(s->ws, &s->p, s->x, 0, s->out, &r);
    return 1e3 * (r.seconds - fixed) / (double)(iters - 1);
}

/* Medians of `method` at 16 and at 48 kHz, measured in alternation (a load change hits both),
 * and the median of the per-pair ratios 48 / 16 kHz. */
static void bench(adv_model *m, adv_attack_method method, long iters, int repeat, double *t16, double *t48, double *ratio)
{
    setup a = make_setup(m, method, 16000), b = make_setup(m, method, 48000);
    double *x16 = malloc(sizeof(double) * repeat), *x48 = malloc(sizeof(double) * repeat), *q = malloc(sizeof(double) * repeat);
    per_iteration(&a, 2);   /* warm-up */
    per_iteration(&b, 2);
    for (int k = 0; k < repeat; k++) {
        x16[k] = per_iteration(&a, iters);
        x48[k] = per_iteration(&b, iters);
        q[k] = x48[k] / x16[k];
    }
    *t16 = adv_stat_median(x16, (size_t)repeat);
    *t48 = adv_stat_median(x48, (size_t)repeat);
    *ratio = adv_stat_median(q, (size_t)repeat);
    free(x16);
    free(x48);
    free(q);
    free_setup(&a);
    free_setup(&b);
}

int main(int argc, char **argv)
{
    adv_blas_prefer_fast_kernels(argv);
    int threads = 1, repeat = 5, json = 0, opt;
    long iters = 20;
    static const struct option options[] = {{"threads", required_argument, 0, 't'}, {"repeat", required_argument, 0, 'r'},
                                            {"iterations", required_argument, 0, 'i'}, {"json", no_argument, 0, 'j'},
                                            {0, 0, 0, 0}};
    while ((opt = getopt_long(argc, argv, "t:r:i:j", options, NULL)) != -1) {
        if (opt == 't') threads = atoi(optarg);
        else if (opt == 'r') repeat = atoi(optarg);
        else if (opt == 'i') iters = atol(optarg);
        else if (opt == 'j') json = 1;
        else { fprintf(stderr, "usage: bench_attack [--threads N] [--repeat R] [--iterations I] [--json]\n"); return 2; }
    }
    if (iters < 2) iters = 2;
    if (repeat < 1) repeat = 1;
    adv_blas_set_threads(threads);
    const long n = 59200;
    adv_model *m = adv_model_create(1);
    for (int i = 0; i < ADV_N_MELS; i++) { m->fe_mean[i] = -45; m->fe_std[i] = 15; }
    float *x = malloc(sizeof(float) * n);
    for (long i = 0; i < n; i++) x[i] = (float)(0.3 * sin(2 * M_PI * 440 * i / 16000.0) + 0.1 * sin(i * 0.013));

    adv_msloss *ms = adv_msloss_create(n);
    float *g = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    for (long i = 0; i < n; i++) y[i] = x[i] + 1e-3f * (float)sin(i * 0.7);
    adv_msloss_set_reference(ms, x);
    double *t = malloc(sizeof(double) * 20);
    for (int k = 0; k < 20; k++) {
        double t0 = adv_now();
        adv_msloss_eval(ms, y, g);
        t[k] = 1e3 * (adv_now() - t0);
    }
    double ms_ms = adv_stat_median(t, (size_t)20);
    free(t);
    adv_msloss_free(ms);
    free(g);
    free(y);

    double cw, cw48, cw_ratio, mscw, mscw48, mscw_ratio;
    bench(m, ADV_CW, iters, repeat, &cw, &cw48, &cw_ratio);
    bench(m, ADV_MSCW, iters, repeat, &mscw, &mscw48, &mscw_ratio);
    if (json)
        printf("{\"impl\":\"advinst\",\"threads\":%d,\"blas_core\":\"%s\",\"cw_ms\":%.3f,\"mscw_ms\":%.3f,\"msloss_ms\":%.3f,"
               "\"cw48_ms\":%.3f,\"mscw48_ms\":%.3f,\"cw48_over_16\":%.3f,\"mscw48_over_16\":%.3f}\n",
               threads, adv_blas_core_name(), cw, mscw, ms_ms, cw48, mscw48, cw_ratio, mscw_ratio);
    else
        printf("advinst attacks, 3.7 s clip, %d thread(s), OpenBLAS %s: C&W %.2f ms/iteration, MS-C&W %.2f ms/iteration "
               "(multi-scale loss forward + backward alone %.2f ms); at 48 kHz: C&W %.2f ms (%.2fx), MS-C&W %.2f ms "
               "(%.2fx); medians of %d runs of %ld iterations, ratios the medians of alternating pairs\n",
               threads, adv_blas_core_name(), cw, mscw, ms_ms, cw48, cw_ratio, mscw48, mscw_ratio, repeat, iters);
    adv_model_free(m);
    free(x);
    return 0;
}
