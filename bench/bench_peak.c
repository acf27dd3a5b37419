/* How close the convolutions come to the machine's limit.
 *
 *   bench_peak [--threads N] [--repeat R] [--json]
 *
 * 1. FMA peak: a tight loop of independent vector FMAs (12 accumulators), AVX2+FMA and, where the
 *    CPU has it, AVX-512 (chosen at run time), on N threads at once; GFLOP/s (FMA = 2 FLOPs).
 * 2. sgemm peak: OpenBLAS sgemm (one thread each, N threads at once) at the im2col shape of each
 *    convolution of a 3.7 s clip (cout x positions x cin*k*k).
 * 3. Each layer of the network on one 116-frame clip (batch 1, evaluation epilogue: bias, ReLU,
 *    BatchNorm): forward and input gradient, GFLOP/s counted as direct convolution FLOPs
 *    (2 * cout * cin * k * k * positions, also for the Winograd layers, which do fewer) and as a
 *    fraction of the FMA peak of N threads. Medians over R repeats. */
#include "advinst/blas.h"
#include "advinst/model.h"
#include "advinst/progress.h"
#include "advinst/stats.h"
#include <cblas.h>
#include <getopt.h>
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FMA12(op, T)                                                                                              \
    T a0 = op##_set1_ps(0.f), a1 = op##_set1_ps(1.f), a2 = op##_set1_ps(2.f), a3 = op##_set1_ps(3.f);            \
    T a4 = op##_set1_ps(4.f), a5 = op##_set1_ps(5.f), a6 = op##_set1_ps(6.f), a7 = op##_set1_ps(7.f);            \
    T a8 = op##_set1_ps(8.f), a9 = op##_set1_ps(9.f), a10 = op##_set1_ps(10.f), a11 = op##_set1_ps(11.f);        \
    const T m = op##_set1_ps(0.999999f), c = op##_set1_ps(1e-6f);                                                 \
    for (long i = 0; i < iters; i++) {                                                                            \
        a0 = op##_fmadd_ps(a0, m, c); a1 = op##_fmadd_ps(a1, m, c); a2 = op##_fmadd_ps(a2, m, c);                \
        a3 = op##_fmadd_ps(a3, m, c); a4 = op##_fmadd_ps(a4, m, c); a5 = op##_fmadd_ps(a5, m, c);                \
        a6 = op##_fmadd_ps(a6, m, c); a7 = op##_fmadd_ps(a7, m, c); a8 = op##_fmadd_ps(a8, m, c);                \
        a9 = op##_fmadd_ps(a9, m, c); a10 = op##_fmadd_ps(a10, m, c); a11 = op##_fmadd_ps(a11, m, c);            \
        __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7),     \
                         "+x"(a8), "+x"(a9), "+x"(a10), "+x"(a11));                                             \
    }                                                                                                             \
    T s = op##_add_ps(op##_add_ps(op##_add_ps(a0, a1), op##_add_ps(a2, a3)),                                     \
                      op##_add_ps(op##_add_ps(a4, a5), op##_add_ps(a6, a7)));                                    \
    s = op##_add_ps(s, op##_add_ps(op##_add_ps(a8, a9), op##_add_ps(a10, a11)));                                 \
    float out[sizeof(T) / 4];                                                                                     \
    op##_storeu_ps(out, s);                                                                                       \
    return out[0];

__attribute__((target("avx2,fma"))) static float fma_avx2(long iters) { FMA12(_mm256, __m256) }
__attribute__((target("avx512f"))) static float fma_avx512(long iters) { FMA12(_mm512, __m512) }

/* GFLOP/s of the FMA loop on `threads` threads at once (sum), median of `repeat`. */
static double fma_peak(int avx512, int threads, int repeat, const char **isa)
{
    const long iters = 20000000;
    const double flops_per_iter = 12.0 * 2 * (avx512 ? 16 : 8);
    *isa = avx512 ? "avx512" : "avx2+fma";
    double *g = malloc(sizeof(double) * repeat);
    volatile float sink = 0;
    for (int r = 0; r < repeat; r++) {
        double t0 = adv_now();
#pragma omp parallel num_threads(threads)
        {
            float v = avx512 ? fma_avx512(iters) : fma_avx2(iters);
#pragma omp atomic
            sink += v;
        }
        g[r] = threads * iters * flops_per_iter / (adv_now() - t0) * 1e-9;
    }
    double med = adv_stat_median(g, repeat);
    free(g);
    return med;
}

/* sgemm GFLOP/s at M x N x K, `threads` independent single-threaded calls at once. */
static double sgemm_rate(int M, int N, int K, int threads, int repeat)
{
    double *g = malloc(sizeof(double) * repeat);
    const int reps = (int)(4e8 / (2.0 * M * N * K)) + 1;
    float *mem = malloc(sizeof(float) * (size_t)threads * ((size_t)M * K + (size_t)K * N + (size_t)M * N));
    for (size_t i = 0; i < (size_t)threads * ((size_t)M * K + (size_t)K * N + (size_t)M * N); i++) mem[i] = 1e-3f * (float)(i % 17);
    for (int r = -1; r < repeat; r++) {
        double t0 = adv_now();
#pragma omp parallel num_threads(threads)
        {
            float *A = mem + (size_t)omp_get_thread_num() * ((size_t)M * K + (size_t)K * N + (size_t)M * N);
            float *B = A + (size_t)M * K, *C = B + (size_t)K * N;
            for (int q = 0; q < reps; q++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
        }
        if (r >= 0) g[r] = threads * reps * 2.0 * M * N * K / (adv_now() - t0) * 1e-9;
    }
    double med = adv_stat_median(g, repeat);
    free(g);
    free(mem);
    return med;
}

int main(int argc, char **argv)
{
    adv_blas_prefer_fast_kernels(argv);
    int threads = 1, repeat = 9, json = 0, opt;
    static const struct option options[] = {{"threads", required_argument, 0, 't'}, {"repeat", required_argument, 0, 'r'},
                                            {"json", no_argument, 0, 'j'}, {0, 0, 0, 0}};
    while ((opt = getopt_long(argc, argv, "t:r:j", options, NULL)) != -1) {
        if (opt == 't') threads = atoi(optarg);
        else if (opt == 'r') repeat = atoi(optarg);
        else if (opt == 'j') json = 1;
        else { fprintf(stderr, "usage: bench_peak [--threads N] [--repeat R] [--json]\n"); return 2; }
    }
    if (repeat < 1) repeat = 1;
    if (threads < 1) threads = 1;
    adv_blas_set_threads(threads);
    __builtin_cpu_init();
    const int has512 = __builtin_cpu_supports("avx512f");
    const char *isa;
    const double peak = fma_peak(has512, threads, repeat, &isa);
    const double peak_avx2 = has512 ? fma_peak(0, threads, repeat, &(const char *){0}) : peak;

    const int T = 116;
    adv_model *m = adv_model_create(1);
    adv_net *warm = adv_net_create(m, 1, T, 0, 0);   /* sets OpenBLAS to one thread */
    adv_net_free(warm);
    if (json)
        printf("{\"impl\":\"advinst\",\"bench\":\"peak\",\"threads\":%d,\"blas_core\":\"%s\",\"isa\":\"%s\","
               "\"fma_peak_gflops\":%.1f,\"fma_avx2_gflops\":%.1f,\"layers\":[",
               threads, adv_blas_core_name(), isa, peak, peak_avx2);
    else
        printf("bench_peak, %d thread(s), OpenBLAS %s\n  FMA loop (%s): %.1f GFLOP/s%s\n", threads,
               adv_blas_core_name(), isa, peak, has512 ? "" : " (no AVX-512 on this CPU)");
    if (!json && has512) printf("  FMA loop (avx2+fma): %.1f GFLOP/s\n", peak_avx2);

    int h = ADV_N_MELS, w = T;
    for (int i = 0; i < ADV_N_CONV; i++) {
        const adv_layer *l = &adv_layers[i];
        adv_conv *c = &m->conv[i];
        int ho, wo;
        const double flops = adv_net_layer_flops(i, T, &ho, &wo);
        const int K = l->cin * l->k * l->k, P = ho * wo;
        const double sg = sgemm_rate(l->cout, P, K, threads, repeat);
        const size_t nx = (size_t)l->cin * h * w, ny = (size_t)l->cout * P;
        float *x = malloc(sizeof(float) * nx), *y = malloc(sizeof(float) * ny), *act = malloc(sizeof(float) * ny);
        float *gx = malloc(sizeof(float) * nx), *scale = malloc(sizeof(float) * l->cout), *u = NULL;
        float *scratch = malloc(sizeof(float) * adv_conv_scratch(c, 1, h, w, threads));
        uint64_t rng = 3;
        for (size_t j = 0; j < nx; j++) x[j] = adv_rng_normal(&rng);
        for (int j = 0; j < l->cout; j++) scale[j] = 1.0f;
        if (adv_conv_winograd_size(c)) {
            u = malloc(sizeof(float) * adv_conv_winograd_size(c));
            adv_conv_winograd_weights(c, u, threads);
        }
        adv_epilogue ep = {.bias = c->b, .relu = l->bn, .act = act, .scale = l->bn ? scale : NULL, .shift = l->bn ? c->b : NULL};
        adv_epilogue back = {.scale = scale, .gate = x};
        double *tf = malloc(sizeof(double) * repeat), *tb = malloc(sizeof(double) * repeat);
        const int inner = (int)(2e7 / flops) + 1;
        for (int r = -1; r < repeat; r++) {
            double t0 = adv_now();
            for (int q = 0; q < inner; q++) adv_conv_forward_prepared(c, u, 1, h, w, x, y, &ep, scratch, threads);
            double t1 = adv_now();
            for (int q = 0; q < inner; q++) adv_conv_backward_input_prepared(c, u, 1, h, w, y, gx, &back, scratch, threads);
            double t2 = adv_now();
            if (r >= 0) { tf[r] = (t1 - t0) / inner; tb[r] = (t2 - t1) / inner; }
        }
        const double f = flops / adv_stat_median(tf, repeat) * 1e-9, b = flops / adv_stat_median(tb, repeat) * 1e-9;
        const char *algo = adv_conv_winograd_size(c) ? "winograd" : (l->k == 1 ? "sgemm" : "im2col");
        if (json)
            printf("%s{\"layer\":\"conv%d\",\"algo\":\"%s\",\"gemm\":[%d,%d,%d],\"mflop\":%.1f,\"sgemm_gflops\":%.1f,"
                   "\"fwd_ms\":%.4f,\"fwd_gflops\":%.1f,\"bwd_ms\":%.4f,\"bwd_gflops\":%.1f}",
                   i ? "," : "", i + 1, algo, l->cout, P, K, flops * 1e-6, sg, flops / f * 1e-6, f, flops / b * 1e-6, b);
        else
            printf("  conv%d %-8s %4d x %4d x %4d  %6.1f MFLOP  sgemm %6.1f GFLOP/s (%3.0f%%)  forward %7.3f ms %6.1f GFLOP/s "
                   "(%3.0f%%)  input grad %7.3f ms %6.1f GFLOP/s (%3.0f%%)\n",
                   i + 1, algo, l->cout, P, K, flops * 1e-6, sg, 100 * sg / peak, flops / f * 1e-6, f, 100 * f / peak,
                   flops / b * 1e-6, b, 100 * b / peak);
        free(x); free(y); free(act); free(gx); free(scale); free(u); free(scratch); free(tf); free(tb);
        h = l->pool_h ? ho / l->pool_h : ho;
        w = l->pool_h ? wo / l->pool_w : wo;
    }
    if (json) printf("]}\n");
    adv_model_free(m);
    return 0;
}
