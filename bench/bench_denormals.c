/* Does denormal input slow the real-time paths? Times, for a normal signal and for signals full of
 * denormals (every other sample +-1e-40; a tone decaying into the denormal range):
 *   - adv_live_process per 256-frame period (48 kHz stereo, default latency, method off, classifier
 *     off: the audio thread's own work), median over 20000 periods;
 *   - one classifier forward on a 3.7 s window at 16 kHz (the live classifier worker's unit);
 *   - one C&W iteration on a 3.7 s clip at 16 kHz (the classifier's forward and backward pass, as
 *     the live attack worker's stream iterations run it), measured as bench_attack does (a run of I
 *     iterations minus a run of 1), with IEEE gradual underflow (as `advinst render` runs) and with
 *     FTZ/DAZ set (as the live workers run, x86 only).
 * Medians of R repeats.
 *
 *   bench_denormals [--repeat R] [--iterations I] [--json]
 */
#include "advinst/attack.h"
#include "advinst/blas.h"
#include "advinst/classifier.h"
#include "advinst/error.h"
#include "advinst/live.h"
#include "advinst/progress.h"
#include "advinst/stats.h"
#include <getopt.h>
#include <math.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif
#include <stdio.h>
#include <stdlib.h>

#define N_KINDS 3
static const char *const kind_names[N_KINDS] = {"normal", "denormal_mixed", "decay_to_denormal"};

/* x[n * channels] of one kind at `rate`. */
static void make_signal(int kind, float *x, long n, int channels, int rate)
{
    for (long i = 0; i < n; i++) {
        float v = (float)(0.3 * sin(2 * M_PI * 440.0 * i / rate) + 0.1 * sin(i * 0.013));
        if (kind == 1 && i % 2) v = i % 4 == 1 ? 1e-40f : -1e-40f;
        if (kind == 2) v *= (float)exp(-100.0 * i / n);   /* about -870 dB at the end: well into denormals */
        for (int c = 0; c < channels; c++) x[(size_t)i * channels + c] = v;
    }
}

/* Median microseconds of one adv_live_process call of 256 frames. */
static double bench_live(adv_model *m, int kind)
{
    const int rate = 48000, C = 2, period = 256, periods = 20000;
    adv_live_config cfg;
    adv_live_config_default(&cfg, rate, C);
    cfg.classify = 0;
    adv_live_settings s;
    adv_live_settings_default(&s);
    s.method = ADV_LIVE_OFF;
    adv_live *e = adv_live_create(m, &cfg, &s);
    if (!e) { fprintf(stderr, "bench_denormals: %s\n", adv_error()); exit(1); }
    float *x = malloc(sizeof(float) * period * 64 * C);
    make_signal(kind, x, (long)period * 64, C, rate);
    float in[2][256], out[2][256];
    const float *ip[2] = {in[0], in[1]};
    float *op[2] = {out[0], out[1]};
    double *t = malloc(sizeof(double) * periods);
    for (int k = 0; k < periods; k++) {
        const float *src = x + (size_t)(k % 64) * period * C;
        for (int i = 0; i < period; i++)
            for (int c = 0; c < C; c++) in[c][i] = src[i * C + c];
        double t0 = adv_now();
        adv_live_process(e, ip, op, period);
        t[k] = 1e6 * (adv_now() - t0);
    }
    double med = adv_stat_median(t, (size_t)periods);
    free(t);
    free(x);
    adv_live_free(e);
    return med;
}

/* Median milliseconds of one classifier forward on 3.7 s at 16 kHz. */
static double bench_classify(adv_model *m, int kind, int repeat)
{
    const long n = 59200;
    adv_classifier *c = adv_classifier_create(m, 16000, n);
    float *x = malloc(sizeof(float) * n), logits[ADV_N_CLASSES];
    make_signal(kind, x, n, 1, 16000);
    double *t = malloc(sizeof(double) * repeat);
    adv_classifier_forward(c, x, logits);
    for (int k = 0; k < repeat; k++) {
        double t0 = adv_now();
        adv_classifier_forward(c, x, logits);
        t[k] = 1e3 * (adv_now() - t0);
    }
    double med = adv_stat_median(t, (size_t)repeat);
    free(t);
    free(x);
    adv_classifier_free(c);
    return med;
}

/* Median milliseconds of one C&W iteration on 3.7 s at 16 kHz. */
static double bench_attack(adv_model *m, int kind, long iters, int repeat)
{
    const long n = 59200;
    adv_attack_ws *ws = adv_attack_ws_create(m, 16000, n, 1, 0);
    if (!ws) { fprintf(stderr, "bench_denormals: %s\n", adv_error()); exit(1); }
    float *x = malloc(sizeof(float) * n), *out = malloc(sizeof(float) * n);
    make_signal(kind, x, n, 1, 16000);
    adv_attack_params p;
    adv_attack_defaults(ADV_CW, &p);
    p.lr = 1e-12f;   /* never succeeds: every run does all its iterations */
    p.target = 2;
    adv_attack_result r;
    double *per = malloc(sizeof(double) * repeat);
    for (int k = -1; k < repeat; k++) {
        p.max_iter = 1;
        adv_attack_run(ws, &p, x, 0, out, &r);
        double fixed = r.seconds;
        p.max_iter = iters;
        adv_attack_run(ws, &p, x, 0, out, &r);
        if (r.status == ADV_ATTACK_SILENT) { fprintf(stderr, "bench_denormals: clip is silent\n"); exit(1); }
        if (k >= 0) per[k] = 1e3 * (r.seconds - fixed) / (double)(iters - 1);
    }
    double med = adv_stat_median(per, (size_t)repeat);
    free(per);
    free(x);
    free(out);
    adv_attack_ws_free(ws);
    return med;
}

int main(int argc, char **argv)
{
    adv_blas_prefer_fast_kernels(argv);
    int repeat = 5, json = 0, opt;
    long iters = 10;
    static const struct option options[] = {{"repeat", required_argument, 0, 'r'}, {"iterations", required_argument, 0, 'i'},
                                            {"json", no_argument, 0, 'j'}, {0, 0, 0, 0}};
    while ((opt = getopt_long(argc, argv, "r:i:j", options, NULL)) != -1) {
        if (opt == 'r') repeat = atoi(optarg);
        else if (opt == 'i') iters = atol(optarg);
        else if (opt == 'j') json = 1;
        else { fprintf(stderr, "usage: bench_denormals [--repeat R] [--iterations I] [--json]\n"); return 2; }
    }
    if (iters < 2) iters = 2;
    if (repeat < 1) repeat = 1;
    adv_blas_set_threads(1);
    adv_model *m = adv_model_create_calibrated(1);
    if (!m) { fprintf(stderr, "bench_denormals: %s\n", adv_error()); return 1; }
    for (int k = 0; k < N_KINDS; k++) {
        double live_us = bench_live(m, k), clf_ms = bench_classify(m, k, 5 * repeat),
               cw_ms = bench_attack(m, k, iters, repeat), cw_ftz_ms = NAN;
#if defined(__SSE__)
        const unsigned csr = _mm_getcsr();
        _mm_setcsr(csr | 0x8040);   /* FTZ | DAZ, as the live workers set them */
        cw_ftz_ms = bench_attack(m, k, iters, repeat);
        _mm_setcsr(csr);
#endif
        if (json)
            printf("{\"bench\":\"denormals\",\"signal\":\"%s\",\"live_process_us\":%.3f,\"classify_ms\":%.3f,"
                   "\"cw_iteration_ms\":%.3f,\"cw_iteration_ftz_ms\":%.3f}\n", kind_names[k], live_us, clf_ms, cw_ms,
                   cw_ftz_ms);
        else
            printf("%-18s adv_live_process (256 frames, 48 kHz stereo) %6.2f us | classifier forward %6.2f ms | "
                   "C&W iteration %6.2f ms, with FTZ/DAZ %6.2f ms\n", kind_names[k], live_us, clf_ms, cw_ms, cw_ftz_ms);
        fflush(stdout);
    }
    adv_model_free(m);
    return 0;
}
