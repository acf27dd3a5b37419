/* Time per iteration of C&W and Multi-Scale C&W on a 3.7 s clip at 16 kHz (59200 samples, the
 * paper's median clip) with a random model: one iteration = one forward, one backward, one
 * update (MS-C&W adds the multi-scale spectral loss and its backward).
 * usage: bench_attack [ITERATIONS] [THREADS]   (defaults 20, OpenBLAS's choice) */
#include "advinst/attack.h"
#include "advinst/blas.h"
#include "advinst/error.h"
#include "advinst/msloss.h"
#include "advinst/progress.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static void bench(adv_model *m, adv_attack_method method, const float *x, long n, long iters)
{
    adv_attack_ws *ws = adv_attack_ws_create(m, 16000, n, 1, method == ADV_MSCW);
    if (!ws) { fprintf(stderr, "%s\n", adv_error()); exit(1); }
    float *out = malloc(sizeof(float) * n);
    adv_attack_params p;
    adv_attack_defaults(method, &p);
    p.lr = 1e-12f;               /* never succeeds: every run does exactly max_iter iterations */
    p.max_iter = 1;
    adv_attack_result r;
    adv_attack_run(ws, &p, x, 0, out, &r);   /* warm-up; also the fixed cost (setup + 2 forwards) */
    double fixed = r.seconds;
    p.max_iter = iters;
    adv_attack_run(ws, &p, x, 0, out, &r);
    double per = (r.seconds - fixed) / (double)(iters - 1);
    printf("%-5s %ld iterations in %.2f s: %.1f ms per iteration (status %s, target %d)\n", adv_attack_method_name(method),
           r.iterations, r.seconds, 1e3 * per, adv_attack_status_name(r.status), r.target);
    free(out);
    adv_attack_ws_free(ws);
}

int main(int argc, char **argv)
{
    adv_blas_prefer_fast_kernels(argv);
    long iters = argc > 1 ? atol(argv[1]) : 20;
    if (iters < 2) iters = 2;
    if (argc > 2) adv_blas_set_threads(atoi(argv[2]));
    const long n = 59200;
    adv_model *m = adv_model_create(1);
    for (int i = 0; i < ADV_N_MELS; i++) { m->fe_mean[i] = -45; m->fe_std[i] = 15; }
    float *x = malloc(sizeof(float) * n);
    for (long i = 0; i < n; i++) x[i] = (float)(0.3 * sin(2 * M_PI * 440 * i / 16000.0) + 0.1 * sin(i * 0.013));
    printf("clip: %ld samples at 16 kHz; BLAS %s, %d threads\n", n, adv_blas_core_name(), adv_blas_threads());

    adv_msloss *ms = adv_msloss_create(n);
    float *g = malloc(sizeof(float) * n);
    adv_msloss_set_reference(ms, x);
    double t0 = adv_now();
    for (int i = 0; i < 20; i++) adv_msloss_eval(ms, x, g);
    printf("msloss forward + backward alone: %.2f ms (%.1f MB of buffers)\n", 1e3 * (adv_now() - t0) / 20,
           adv_msloss_bytes(n) / 1e6);
    adv_msloss_free(ms);
    free(g);

    bench(m, ADV_CW, x, n, iters);
    bench(m, ADV_MSCW, x, n, iters);
    adv_model_free(m);
    free(x);
    return 0;
}
