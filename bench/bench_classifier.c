/* Benchmark of the classifier core on a 3.7 s clip (59200 samples at 16 kHz, 116 frames):
 * classify (front end + forward), forward + input gradient to the waveform, and the parts
 * (front end, network forward, network backward), with the convolution FLOP rate.
 *
 *   bench_classifier [--threads N] [--repeat R] [--model FILE] [--json]
 *   bench_classifier --batch B [--rate HZ] [--threads N] [--repeat R] [--json]
 *
 * With --batch: forward + gradient to the waveform of B clips of 3.7 s at HZ (default 16000)
 * through one batched classifier call, and of one clip, with the cost per clip of each.
 *
 * Medians (and minima) over R repeats after a warm-up. Compare with bench/pytorch_bench.py, run
 * in the same session (bench/run.sh does both). */
#include "advinst/blas.h"
#include "advinst/classifier.h"
#include "advinst/error.h"
#include "advinst/progress.h"
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct { double median, min; } stat;

static stat summarise(double *t, int n)
{
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    stat s = {n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]), t[0]};
    return s;
}

/* Median ms of one forward + backward of a `batch`-clip classifier at `rate` on 3.7 s clips. */
static stat time_batch(adv_model *m, int rate, int batch, int repeat)
{
    const long n = (long)(3.7 * rate + 0.5);
    adv_classifier *c = adv_classifier_create_batch(m, rate, n, batch);
    if (!c) { fprintf(stderr, "bench_classifier: %s\n", adv_error()); exit(3); }
    float **x = malloc(sizeof(float *) * batch), **gx = malloc(sizeof(float *) * batch);
    float *logits = malloc(sizeof(float) * batch * ADV_N_CLASSES), *gl = malloc(sizeof(float) * batch * ADV_N_CLASSES);
    int *target = malloc(sizeof(int) * batch);
    uint64_t rng = 5;
    for (int b = 0; b < batch; b++) {
        x[b] = malloc(sizeof(float) * n);
        gx[b] = malloc(sizeof(float) * n);
        target[b] = b % ADV_N_CLASSES;
        for (long i = 0; i < n; i++)
            x[b][i] = (float)(0.3 * sin(2 * M_PI * (440.0 + 20 * b) * i / rate) + 0.01 * adv_rng_normal(&rng));
    }
    double *t = malloc(sizeof(double) * repeat);
    for (int r = -3; r < repeat; r++) {
        double t0 = adv_now();
        adv_classifier_forward_batch(c, (const float *const *)x, logits);
        adv_cross_entropy(batch, ADV_N_CLASSES, logits, target, gl);
        adv_classifier_backward_batch(c, gl, gx);
        if (r >= 0) t[r] = 1e3 * (adv_now() - t0);
    }
    stat s = summarise(t, repeat);
    for (int b = 0; b < batch; b++) { free(x[b]); free(gx[b]); }
    free(x); free(gx); free(logits); free(gl); free(target); free(t);
    adv_classifier_free(c);
    return s;
}

static int run_batch(adv_model *m, int rate, int batch, int threads, int repeat, int json)
{
    stat one = time_batch(m, rate, 1, repeat), many = time_batch(m, rate, batch, repeat);
    if (json)
        printf("{\"impl\":\"advinst\",\"threads\":%d,\"blas_core\":\"%s\",\"rate\":%d,\"batch\":%d,"
               "\"grad_one_ms\":%.3f,\"grad_batch_ms\":%.3f,\"grad_batch_per_clip_ms\":%.3f,\"per_clip_ratio\":%.3f}\n",
               threads, adv_blas_core_name(), rate, batch, one.median, many.median, many.median / batch,
               many.median / batch / one.median);
    else
        printf("forward + gradient, 3.7 s at %d Hz, %d thread(s), OpenBLAS %s: one clip %.2f ms; batch of %d %.2f ms "
               "= %.2f ms per clip (%.2f of one)\n", rate, threads, adv_blas_core_name(), one.median, batch,
               many.median, many.median / batch, many.median / batch / one.median);
    return 0;
}

int main(int argc, char **argv)
{
    adv_blas_prefer_fast_kernels(argv);
    int threads = 1, repeat = 30, json = 0, batch = 0, rate = 16000;
    const char *model_path = NULL;
    static const struct option options[] = {{"threads", required_argument, 0, 't'},
                                            {"repeat", required_argument, 0, 'r'},
                                            {"model", required_argument, 0, 'm'},
                                            {"json", no_argument, 0, 'j'},
                                            {"batch", required_argument, 0, 'b'},
                                            {"rate", required_argument, 0, 'R'},
                                            {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "t:r:m:jb:R:", options, NULL)) != -1) {
        if (opt == 't') threads = atoi(optarg);
        else if (opt == 'b') batch = atoi(optarg);
        else if (opt == 'R') rate = atoi(optarg);
        else if (opt == 'r') repeat = atoi(optarg);
        else if (opt == 'm') model_path = optarg;
        else if (opt == 'j') json = 1;
        else {
            fprintf(stderr, "usage: bench_classifier [--threads N] [--repeat R] [--model FILE] [--json] [--batch B [--rate HZ]]\n");
            return 2;
        }
    }
    if (repeat < 1) repeat = 1;
    adv_blas_set_threads(threads);
    adv_model *m = model_path ? adv_model_load(model_path) : adv_model_create(1);
    if (!m) { fprintf(stderr, "bench_classifier: %s\n", adv_error()); return 3; }
    if (batch > 0) {
        int rc = run_batch(m, rate, batch, threads, repeat, json);
        adv_model_free(m);
        return rc;
    }

    const long n = 59200;
    float *x = malloc(sizeof(float) * n), *gx = malloc(sizeof(float) * n);
    uint64_t rng = 5;
    for (long i = 0; i < n; i++)
        x[i] = (float)(0.3 * sin(2 * M_PI * 440.0 * i / 16000.0) + 0.01 * adv_rng_normal(&rng));
    adv_classifier *c = adv_classifier_create(m, 16000, n);
    if (!c) { fprintf(stderr, "bench_classifier: %s\n", adv_error()); return 3; }
    adv_frontend *fe = adv_classifier_frontend(c);
    const int tp = adv_frontend_padded_frames(fe);
    adv_net *net = adv_net_create(m, 1, tp, 0, 0);
    float *net_in = malloc(sizeof(float) * ADV_N_MELS * tp), *gnet = malloc(sizeof(float) * ADV_N_MELS * tp);

    double *t_cls = malloc(sizeof(double) * repeat), *t_grad = malloc(sizeof(double) * repeat);
    double *t_grad_cpu = malloc(sizeof(double) * repeat);
    double *t_fe = malloc(sizeof(double) * repeat), *t_fwd = malloc(sizeof(double) * repeat);
    double *t_bwd = malloc(sizeof(double) * repeat), *t_feb = malloc(sizeof(double) * repeat);
    float logits[ADV_N_CLASSES], gl[ADV_N_CLASSES];
    int target = 3;
    for (int w = 0; w < 3; w++) {   /* warm-up */
        adv_classifier_forward(c, x, logits);
        adv_cross_entropy(1, ADV_N_CLASSES, logits, &target, gl);
        adv_classifier_backward(c, gl, gx);
    }
    for (int r = 0; r < repeat; r++) {
        double c0 = adv_cpu_now(), t0 = adv_now();
        adv_classifier_forward(c, x, logits);
        double t1 = adv_now();
        adv_cross_entropy(1, ADV_N_CLASSES, logits, &target, gl);
        adv_classifier_backward(c, gl, gx);
        double t2 = adv_now();
        t_grad_cpu[r] = 1e3 * (adv_cpu_now() - c0);
        t_cls[r] = 1e3 * (t1 - t0);
        t_grad[r] = 1e3 * (t2 - t0);

        t0 = adv_now();
        adv_frontend_forward(fe, x, net_in);
        t1 = adv_now();
        adv_net_forward(net, net_in, logits);
        t2 = adv_now();
        adv_net_backward(net, gl, gnet);
        double t3 = adv_now();
        adv_frontend_backward(fe, gnet, gx);
        double t4 = adv_now();
        t_fe[r] = 1e3 * (t1 - t0);
        t_fwd[r] = 1e3 * (t2 - t1);
        t_bwd[r] = 1e3 * (t3 - t2);
        t_feb[r] = 1e3 * (t4 - t3);
    }
    stat cls = summarise(t_cls, repeat), grad = summarise(t_grad, repeat), fe_f = summarise(t_fe, repeat);
    stat fwd = summarise(t_fwd, repeat), bwd = summarise(t_bwd, repeat), fe_b = summarise(t_feb, repeat);
    stat grad_cpu = summarise(t_grad_cpu, repeat);
    const double flops = adv_net_conv_flops(tp);
    /* backward to the input: every conv's input gradient except conv1's own weights-free first layer
     * (conv1 gradient to a 1-channel input costs as much as its forward) */
    const double gflops_fwd = flops / (fwd.median * 1e6), gflops_bwd = flops / (bwd.median * 1e6);
    if (json) {
        printf("{\"impl\":\"advinst\",\"threads\":%d,\"blas_core\":\"%s\",\"frames\":%d,"
               "\"classify_ms\":%.3f,\"classify_min_ms\":%.3f,\"grad_ms\":%.3f,\"grad_min_ms\":%.3f,"
               "\"frontend_fwd_ms\":%.3f,\"net_fwd_ms\":%.3f,\"net_bwd_ms\":%.3f,\"frontend_bwd_ms\":%.3f,"
               "\"conv_gflop\":%.4f,\"net_fwd_gflops\":%.1f,\"net_bwd_gflops\":%.1f,\"grad_cpu_ms\":%.3f}\n",
               threads, adv_blas_core_name(), tp, cls.median, cls.min, grad.median, grad.min, fe_f.median,
               fwd.median, bwd.median, fe_b.median, flops * 1e-9, gflops_fwd, gflops_bwd, grad_cpu.median);
    } else {
        printf("advinst classifier, 3.7 s clip (%d frames), %d thread(s), OpenBLAS core %s, %d repeats\n",
               tp, threads, adv_blas_core_name(), repeat);
        printf("  classify (front end + forward)   median %7.3f ms  min %7.3f ms\n", cls.median, cls.min);
        printf("  forward + input gradient          median %7.3f ms  min %7.3f ms\n", grad.median, grad.min);
        printf("  front end forward / backward      %7.3f / %7.3f ms\n", fe_f.median, fe_b.median);
        printf("  network forward / input backward  %7.3f / %7.3f ms\n", fwd.median, bwd.median);
        printf("  convolutions: %.3f GFLOP per forward -> %.1f GFLOP/s forward, %.1f GFLOP/s backward\n",
               flops * 1e-9, gflops_fwd, gflops_bwd);
    }
    adv_net_free(net);
    adv_classifier_free(c);
    adv_model_free(m);
    free(x); free(gx); free(net_in); free(gnet);
    free(t_cls); free(t_grad); free(t_grad_cpu); free(t_fe); free(t_fwd); free(t_bwd); free(t_feb);
    return 0;
}
