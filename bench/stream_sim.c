/* The stream attack offline, on a simulated clock: a file is fed in periods as a live host would,
 * the optimiser gets a fixed number of iterations per second of audio (what a machine of a given
 * speed does in real time), segments are committed when the free region is full, and the output
 * is judged as a listener hears it (3.7 s windows every 0.1 s, adv_listen). Prints one JSON line.
 *
 *   stream_sim [options] IN.wav [OUT.wav]
 *     --model M --target CLASS --method cw|mscw --eps F --alpha F --lr F --margin F
 *     --horizon S --segment S --batch N --ips N (iterations per second) --loops N --seed N */
#include "advinst/audio.h"
#include "advinst/blas.h"
#include "advinst/error.h"
#include "advinst/listen.h"
#include "advinst/resample.h"
#include "advinst/stream.h"
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int die(const char *what)
{
    fprintf(stderr, "stream_sim: %s: %s\n", what, adv_error());
    return 1;
}

int main(int argc, char **argv)
{
    adv_blas_prefer_fast_kernels(argv);
    const char *model_path = NULL, *target_name = "accordion", *method = "cw";
    double eps = 0.01, alpha = 1, lr = 3e-4, margin = 0.2, ips = 30, rate_out = 48000, bound = 0;
    int loops = 2, threads = 2;
    adv_stream_config cfg;
    adv_stream_config_default(&cfg, 48000, 1);
    static const struct option opts[] = {{"model", 1, 0, 'm'},   {"target", 1, 0, 't'},  {"method", 1, 0, 'M'},
                                         {"eps", 1, 0, 'e'},     {"alpha", 1, 0, 'a'},   {"lr", 1, 0, 'l'},
                                         {"margin", 1, 0, 'g'},  {"horizon", 1, 0, 'H'}, {"segment", 1, 0, 'S'},
                                         {"batch", 1, 0, 'b'},   {"ips", 1, 0, 'i'},     {"loops", 1, 0, 'L'},
                                         {"seed", 1, 0, 's'},    {"rate", 1, 0, 'r'},    {"threads", 1, 0, 'T'},
                                         {"probe", 1, 0, 'P'},   {"window-loss", 0, 0, 'W'},
                                         {"lr-decay", 1, 0, 'D'},
                                         
                                         {"bound", 1, 0, 'B'}, {"update", 1, 0, 'U'},
                                         {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'm': model_path = optarg; break;
        case 't': target_name = optarg; break;
        case 'M': method = optarg; break;
        case 'e': eps = atof(optarg); break;
        case 'a': alpha = atof(optarg); break;
        case 'l': lr = atof(optarg); break;
        case 'g': margin = atof(optarg); break;
        case 'H': cfg.horizon_seconds = atof(optarg); break;
        case 'S': cfg.segment_seconds = atof(optarg); break;
        case 'b': cfg.batch = atoi(optarg); break;
        case 'i': ips = atof(optarg); break;
        case 'L': loops = atoi(optarg); break;
        case 's': cfg.seed = strtoull(optarg, NULL, 10); break;
        case 'r': rate_out = atof(optarg); break;
        case 'T': threads = atoi(optarg); break;
        case 'P': cfg.probe_seconds = atof(optarg); break;
        case 'W': cfg.window_loss = 1; break;
        case 'D': cfg.lr_decay = atof(optarg); break;
        case 'B': bound = atof(optarg); break;
        case 'U': cfg.update = atoi(optarg); break;
        default: return 2;
        }
    }
    if (optind >= argc) { fprintf(stderr, "usage: stream_sim [options] IN.wav [OUT.wav]\n"); return 2; }
    adv_blas_set_threads(threads);
    if (!model_path) model_path = adv_default_model_path();
    adv_model *m = adv_model_load(model_path);
    if (!m) return die("model");
    int target = adv_model_class_index(m, target_name);
    if (target < 0) { fprintf(stderr, "stream_sim: unknown class %s\n", target_name); return 2; }

    /* the input: mono mix at the stream rate, looped */
    adv_audio a;
    if (adv_audio_read(argv[optind], &a) != 0) return die("input");
    const int R = (int)rate_out;
    float *mono = malloc(sizeof(float) * (size_t)a.frames);
    adv_audio_mix_mono(&a, mono);
    adv_resampler *rs = adv_resampler_create(a.rate, R, a.frames);
    long n1 = adv_resampler_output_length(rs);
    float *one = malloc(sizeof(float) * (size_t)n1);
    adv_resampler_forward(rs, mono, one);
    const long n = n1 * loops;
    float *x = malloc(sizeof(float) * (size_t)n), *y = calloc((size_t)n, sizeof(float));
    for (int l = 0; l < loops; l++) memcpy(x + (size_t)l * n1, one, sizeof(float) * (size_t)n1);
    for (long i = 0; i < n; i++) x[i] = x[i] > 1 ? 1 : (x[i] < -1 ? -1 : x[i]);

    cfg.rate = R;
    adv_stream *s = adv_stream_create(m, &cfg);
    if (!s) return die("stream");
    adv_stream_params p = {!strcmp(method, "mscw") ? ADV_MSCW : ADV_CW, target, (float)eps, (float)alpha, (float)lr,
                           (float)margin, (float)bound};
    const long period = 256, S = adv_stream_segment_frames(s);
    float *pert = malloc(sizeof(float) * (size_t)S);
    double credit = 0, t0 = now(), cpu0 = (double)clock() / CLOCKS_PER_SEC;
    long iters = 0, segs = 0, seg_ok = 0, windows = 0, hits = 0;
    int64_t written = 0;
    for (long t = 0; t < n || written < n;) {
        long take = t < n ? (n - t < period ? n - t : period) : 0;
        while (take > 0 && adv_stream_room(s) < take) {
            adv_stream_segment seg;
            if (!adv_stream_commit(s, pert, &seg)) break;
            for (long i = 0; i < seg.frames && seg.start + i < n; i++) {
                float v = x[seg.start + i] + pert[i];
                y[seg.start + i] = v > 1 ? 1 : (v < -1 ? -1 : v);
            }
            written = seg.start + seg.frames;
            segs++;
            seg_ok += seg.status == ADV_SEGMENT_OK;
            windows += seg.windows;
            hits += seg.hits;
            if (getenv("SIM_VERBOSE"))
                fprintf(stderr, "seg %6.2f s: %d/%d on target, min margin %+.2f, p %.2f, SNR %.1f dB, %ld it\n",
                        (double)seg.start / R, seg.hits, seg.windows, seg.min_margin, seg.mean_target_prob, seg.snr_db,
                        seg.iterations);
        }
        if (take > 0) {
            adv_stream_push(s, x + t, take);
            t += take;
            credit += ips * (double)take / R;
            while (credit >= 1) {
                credit -= 1;
                iters += adv_stream_iterate(s, &p);
            }
        } else {
            /* the end: flush what is left (pad with silence to whole segments) */
            float zero[256] = {0};
            if (adv_stream_room(s) >= period) adv_stream_push(s, zero, period);
            adv_stream_segment seg;
            while (adv_stream_commit(s, pert, &seg)) {
                for (long i = 0; i < seg.frames && seg.start + i < n; i++) {
                    float v = x[seg.start + i] + pert[i];
                    y[seg.start + i] = v > 1 ? 1 : (v < -1 ? -1 : v);
                }
                written = seg.start + seg.frames;
            }
        }
    }
    double secs = now() - t0, cpu = (double)clock() / CLOCKS_PER_SEC - cpu0;

    /* the listener */
    const long W = lround(3.7 * R), hop = R / 10;
    long count = adv_listen_count(n, W, hop);
    adv_listen_window *lw = malloc(sizeof *lw * (size_t)count), *lx = malloc(sizeof *lx * (size_t)count);
    adv_listen(m, y, n, R, W, hop, lw);
    adv_listen(m, x, n, R, W, hop, lx);
    long on = 0, judged = 0, in_orig = 0;
    double sx = 0, sd = 0;
    for (long k = 0; k < count; k++) {
        if (lw[k].silent) continue;
        judged++;
        on += lw[k].cls == target;
        in_orig += lx[k].cls != target;
    }
    for (long i = 0; i < n; i++) {
        double d = (double)y[i] - x[i];
        sx += (double)x[i] * x[i];
        sd += d * d;
    }
    if (getenv("SIM_WINDOWS"))
        for (long k = 0; k < count; k++)
            fprintf(stderr, "win %5.1f s: in %s %.2f, out %s %.2f (target %.2f)\n", (double)lw[k].end / R,
                    lx[k].cls >= 0 ? m->classes[lx[k].cls] : "silent", lx[k].cls >= 0 ? lx[k].probs[lx[k].cls] : 0,
                    lw[k].cls >= 0 ? m->classes[lw[k].cls] : "silent", lw[k].cls >= 0 ? lw[k].probs[lw[k].cls] : 0,
                    lw[k].probs[target]);
    printf("{\"input\": \"%s\", \"method\": \"%s\", \"target\": \"%s\", \"rate\": %d, \"eps\": %g, \"alpha\": %g, "
           "\"lr\": %g, \"lr_decay\": %g, \"update\": %d, \"window_loss\": %d, \"margin\": %g, \"bound_db\": %g, \"horizon\": %g, \"segment\": %g, \"batch\": %d, \"ips\": %g, "
           "\"windows\": %ld, \"hit_rate\": %.4f, \"input_not_target\": %.4f, \"snr_db\": %.2f, \"iterations\": %ld, "
           "\"segments\": %ld, \"segments_ok\": %ld, \"engine_window_hits\": %.4f, \"seconds\": %.1f, \"cpu_seconds\": %.1f, \"cpu_ms_per_iteration\": %.1f, "
           "\"audio_seconds\": %.1f}\n",
           argv[optind], method, target_name, R, eps, alpha, lr, cfg.lr_decay, cfg.update, cfg.window_loss, margin, bound, cfg.horizon_seconds, cfg.segment_seconds,
           cfg.batch, ips, judged, judged ? (double)on / judged : 0, judged ? (double)in_orig / judged : 0,
           10 * log10(sx / (sd > 0 ? sd : 1e-30)), iters, segs, seg_ok, windows ? (double)hits / windows : 0, secs, cpu, iters ? 1000 * cpu / iters : 0,
           (double)n / R);
    if (optind + 1 < argc) {
        adv_audio out = {y, n, 1, R, 0};
        if (adv_audio_write(argv[optind + 1], &out) != 0) return die("output");
    }
    return 0;
}
