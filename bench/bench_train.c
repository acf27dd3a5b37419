/* Benchmark of one training step (batch 16 of 1 x 100 x 116 inputs, training mode: forward,
 * cross-entropy, backward with parameter gradients, Adam step), as bench/pytorch_bench.py does.
 *
 *   bench_train [--threads N] [--repeat R] [--batch B] [--json]
 */
#include "advinst/blas.h"
#include "advinst/model.h"
#include "advinst/optim.h"
#include "advinst/progress.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    adv_blas_prefer_fast_kernels(argv);
    int threads = 1, repeat = 10, batch = 16, json = 0, opt;
    static const struct option options[] = {{"threads", required_argument, 0, 't'}, {"repeat", required_argument, 0, 'r'},
                                            {"batch", required_argument, 0, 'b'}, {"json", no_argument, 0, 'j'}, {0, 0, 0, 0}};
    while ((opt = getopt_long(argc, argv, "t:r:b:j", options, NULL)) != -1) {
        if (opt == 't') threads = atoi(optarg);
        else if (opt == 'r') repeat = atoi(optarg);
        else if (opt == 'b') batch = atoi(optarg);
        else if (opt == 'j') json = 1;
        else { fprintf(stderr, "usage: bench_train [--threads N] [--repeat R] [--batch B] [--json]\n"); return 2; }
    }
    if (repeat < 1) repeat = 1;
    adv_blas_set_threads(threads);
    adv_model *m = adv_model_create(1);
    const int T = 116;
    adv_net *net = adv_net_create(m, batch, T, 1, 7);
    size_t nx = (size_t)batch * ADV_N_MELS * T;
    float *x = malloc(sizeof(float) * nx), *logits = malloc(sizeof(float) * batch * ADV_N_CLASSES);
    float *gl = malloc(sizeof(float) * batch * ADV_N_CLASSES);
    int *labels = malloc(sizeof(int) * batch);
    uint64_t rng = 3;
    for (size_t i = 0; i < nx; i++) x[i] = adv_rng_normal(&rng);
    for (int b = 0; b < batch; b++) labels[b] = b % ADV_N_CLASSES;
    adv_adam adam;
    adv_adam_init(&adam, m->n_params, 1e-3f);
    double *t = malloc(sizeof(double) * repeat), *tc = malloc(sizeof(double) * repeat);
    for (int r = -2; r < repeat; r++) {
        double t0 = adv_now(), c0 = adv_cpu_now();
        adv_model_zero_grad(m);
        adv_net_forward(net, x, logits);
        adv_cross_entropy(batch, ADV_N_CLASSES, logits, labels, gl);
        adv_net_backward(net, gl, NULL);
        adv_adam_step(&adam, m->param_block, m->grad_block);
        if (r >= 0) { t[r] = 1e3 * (adv_now() - t0); tc[r] = 1e3 * (adv_cpu_now() - c0); }
    }
    qsort(tc, (size_t)repeat, sizeof(double), cmp_double);
    double cpu_med = repeat % 2 ? tc[repeat / 2] : 0.5 * (tc[repeat / 2 - 1] + tc[repeat / 2]);
    qsort(t, (size_t)repeat, sizeof(double), cmp_double);
    double med = repeat % 2 ? t[repeat / 2] : 0.5 * (t[repeat / 2 - 1] + t[repeat / 2]);
    /* forward + input-gradient + weight-gradient convolutions: about 3x the forward FLOPs */
    double gflop = 3.0 * batch * adv_net_conv_flops(T) * 1e-9;
    if (json)
        printf("{\"impl\":\"advinst\",\"threads\":%d,\"blas_core\":\"%s\",\"batch\":%d,\"train_step_ms\":%.2f,"
               "\"train_step_min_ms\":%.2f,\"conv_gflop\":%.2f,\"gflops\":%.1f,\"train_step_cpu_ms\":%.2f}\n",
               threads, adv_blas_core_name(), batch, med, t[0], gflop, gflop / (med * 1e-3), cpu_med);
    else
        printf("advinst training step, batch %d x 116 frames, %d thread(s), OpenBLAS %s: median %.1f ms, min %.1f ms "
               "(%.1f GFLOP of convolutions -> %.1f GFLOP/s)\n",
               batch, threads, adv_blas_core_name(), med, t[0], gflop, gflop / (med * 1e-3));
    adv_adam_free(&adam);
    adv_net_free(net);
    adv_model_free(m);
    free(x); free(logits); free(gl); free(labels); free(t); free(tc);
    return 0;
}
