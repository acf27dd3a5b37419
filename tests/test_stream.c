/* The stream attack (src/stream.c):
 *   - its gradient (windows' per-time-step or window cross-entropy, C&W's L2 term, MS-C&W's
 *     multi-scale loss; through U, the eps and [-1, 1] clamps, the stereo mix and D) against
 *     central finite differences along random directions of the free parameter, at 48 and 44.1 kHz;
 *   - what is optimised is what is played: a window of the committed output, classified on its own
 *     by a listener (adv_listen), gets the logits the optimiser saw for it;
 *   - silent input is not attacked; no target fades the perturbation out; committed output never
 *     changes and stays within eps;
 *   - it works: a calibrated random model hears every window of a tone as the target. */
#include "testutil.h"
#include "advinst/classifier.h"
#include "advinst/error.h"
#include "advinst/listen.h"
#include "advinst/msloss.h"
#include "advinst/nn.h"
#include "advinst/resample.h"
#include "advinst/stream.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void tone(float *x, long n, int channels, int rate, uint64_t seed, float amp)
{
    uint64_t r = seed;
    for (long i = 0; i < n; i++) {
        double t = (double)i / rate;
        float v = amp * (float)(0.6 * sin(2 * M_PI * 330 * t) + 0.3 * sin(2 * M_PI * 1210 * t) * (1 + 0.5 * sin(2 * M_PI * 3 * t))) +
                  0.01f * amp * adv_rng_normal(&r);
        for (int c = 0; c < channels; c++) x[(size_t)i * channels + c] = c ? 0.7f * v : v;
    }
}

/* The loss of a window as the stream attack defines it (a re-statement for the reference below):
 * weight x the mean over the network's time steps of the cross-entropy toward the target (every
 * step active: margin 1), or weight x the window's cross-entropy; adds d loss / d window to g. */
static double ref_window(adv_classifier *c, const float *win, int target, float weight, int window_loss, float *gwin)
{
    float logits[ADV_N_CLASSES], pr[ADV_N_CLASSES];
    adv_classifier_forward(c, win, logits);
    if (window_loss) {
        float g[ADV_N_CLASSES];
        adv_softmax(ADV_N_CLASSES, logits, pr);
        for (int k = 0; k < ADV_N_CLASSES; k++) g[k] = weight * (pr[k] - (k == target));
        adv_classifier_backward(c, g, gwin);
        return -weight * log(pr[target]);
    }
    const int T = adv_classifier_time_steps(c);
    float sc[ADV_N_CLASSES * 64], gs[ADV_N_CLASSES * 64], col[ADV_N_CLASSES];
    adv_classifier_step_scores(c, sc);
    double loss = 0;
    for (int t = 0; t < T; t++) {
        for (int k = 0; k < ADV_N_CLASSES; k++) col[k] = sc[k * T + t];
        adv_softmax(ADV_N_CLASSES, col, pr);
        for (int k = 0; k < ADV_N_CLASSES; k++) gs[k * T + t] = weight / T * (pr[k] - (k == target));
        loss -= weight / T * log(pr[target]);
    }
    adv_classifier_backward_steps(c, gs, gwin);
    return loss;
}

/* The gradient of the stream attack against (a) a reference that rebuilds the whole chain over the
 * whole stream with the full operators (whole resamplers, whole windows): same within float
 * rounding, so the range bookkeeping, caches and index alignment are right; (b) central finite
 * differences along random directions (the classifier's gradient itself is checked against PyTorch
 * in test_golden); (c) for the smooth distance terms alone (alpha 0), finite differences tightly. */
static void gradient_check(adv_model *m, int rate, int channels, adv_attack_method method, int window_loss, int batch)
{
    adv_stream_config cfg;
    adv_stream_config_default(&cfg, rate, channels);
    cfg.batch = batch;   /* 2: the two windows run in parallel (one classifier each); 1: one after the other */
    cfg.window_seconds = 1.2;
    cfg.horizon_seconds = 0.4;
    cfg.segment_seconds = 0.1;
    cfg.window_loss = window_loss;
    adv_stream *s = adv_stream_create(m, &cfg);
    CHECK(s != NULL, "create: %s", adv_error());
    if (!s) return;
    const long n = (long)(1.9 * rate), S = adv_stream_segment_frames(s);
    float *x = malloc(sizeof(float) * (size_t)n * channels), *played = calloc((size_t)n, sizeof(float));
    tone(x, n, channels, rate, 7, 0.3f);
    /* feed, keeping what was committed */
    for (long t = 0; t < n; t += 512) {
        long take = n - t < 512 ? n - t : 512;
        adv_stream_segment seg;
        while (adv_stream_room(s) < take && adv_stream_commit(s, played + adv_stream_committed(s), &seg)) {}
        CHECK(adv_stream_push(s, x + (size_t)t * channels, take) == 0, "push: %s", adv_error());
    }
    const int64_t commit = adv_stream_committed(s), end = adv_stream_end(s);
    CHECK(commit > 0 && commit % S == 0, "segments were committed (%ld)", (long)commit);

    /* a non-zero perturbation in the free region */
    int64_t o16;
    float *d = adv_stream_param(s, &o16);
    const int64_t c16 = commit * 16000 / rate, e16 = end * 16000 / rate - 200;
    uint64_t r = 11;
    for (int64_t k = c16 - o16 + 64; k < e16 - o16; k++) d[k] = 0.004f * adv_rng_normal(&r);
    const float alpha = method == ADV_MSCW ? 10.0f : 1.0f;
    adv_stream_params p = {method, 3, 0.006f, alpha, 1e-3f, 1.0f, 0};   /* eps 0.006: some samples clamped */
    int64_t ends[2] = {c16 + (e16 - c16) / 3, e16 - 7};
    long g0, g1;
    const double loss = adv_stream_gradient(s, &p, ends, 2, &g0, &g1);
    CHECK(g0 > c16 - o16 && g0 < c16 - o16 + 64, "the free parameter starts after the commit point's taps (%ld vs %ld)",
          g0, (long)(c16 - o16));
    const size_t len = (size_t)(g1 - g0);
    float *g = malloc(sizeof(float) * len), *v = malloc(sizeof(float) * len), *base = malloc(sizeof(float) * len);
    memcpy(g, adv_stream_param_grad(s) + g0, sizeof(float) * len);
    memcpy(base, d + g0, sizeof(float) * len);

    /* (a) the reference over the stream attack's buffer: index 0 is stream time origin (o16 at
     * 16 kHz; both on the grid where the two rates meet), zero before it */
    const int64_t origin = o16 * rate / 16000;
    const long N = (long)(end - origin), N16 = (long)((end - origin) * 16000 / rate) + 400;
    adv_resampler *U = adv_resampler_create(16000, rate, N16), *D = adv_resampler_create(rate, 16000, N);
    const long nU = adv_resampler_output_length(U), nD = adv_resampler_output_length(D);
    float *pr = calloc((size_t)nU, sizeof(float)), *hm = calloc((size_t)N, sizeof(float)), *pass = calloc((size_t)N, sizeof(float));
    float *mask = calloc((size_t)N, sizeof(float)), *h16 = calloc((size_t)nD, sizeof(float)), *g16 = calloc((size_t)nD, sizeof(float));
    /* gm is U's output gradient too: nU samples (more than N), zero beyond the stream */
    float *gm = calloc((size_t)(nU > N ? nU : N), sizeof(float)), *gd = calloc((size_t)N16, sizeof(float)),
          *dd = calloc((size_t)N16, sizeof(float));
    float *clean = calloc((size_t)nD, sizeof(float)), *xm = calloc((size_t)N, sizeof(float));
    memcpy(dd, d, sizeof(float) * (size_t)(N16 < g1 ? N16 : g1));
    adv_resampler_forward(U, dd, pr);
    double ref_loss = 0;
    for (long j = 0; j < N; j++) {
        const int64_t i = origin + j;   /* stream time */
        float pv = 0;
        mask[j] = 0;
        if (i >= commit) {
            pv = pr[j];
            mask[j] = 1;
            if (pv > p.eps) pv = p.eps, mask[j] = 0;
            else if (pv < -p.eps) pv = -p.eps, mask[j] = 0;
            if (method == ADV_CW) ref_loss += (double)pv * pv;
        } else if (i >= 0) {
            pv = played[i];
        }
        pr[j] = pv;
        float acc = 0, xa = 0;
        int live = 0;
        for (int c = 0; c < channels; c++) {
            float xv = i >= 0 ? x[(size_t)i * channels + c] : 0.0f, h = xv + pv;
            xa += xv;
            if (h > 1) h = 1;
            else if (h < -1) h = -1;
            else live++;
            acc += h;
        }
        hm[j] = acc / channels;
        xm[j] = xa / channels;
        pass[j] = (float)live / channels;
    }
    adv_resampler_forward(D, hm, h16);
    adv_resampler_forward(D, xm, clean);
    const long W16 = lround(1.2 * 16000);
    adv_classifier *c = adv_classifier_create(m, 16000, W16);
    float *gwin = malloc(sizeof(float) * (size_t)W16);
    for (int b = 0; b < 2; b++) {
        long a = (long)(ends[b] - o16) - W16;
        ref_loss += ref_window(c, h16 + a, p.target, alpha / 2, window_loss, gwin);
        for (long i = 0; i < W16; i++) g16[a + i] += gwin[i];
    }
    if (method == ADV_MSCW) {
        /* the span the stream attack uses: (horizon + segment) + 2048 samples ending at the last
         * 16 kHz sample whose resampling reads only pushed input */
        const long ms_n = (long)((0.4 + 0.1) * 16000) + 2048, vend = adv_resampler_first_output_reading(D, N);
        adv_msloss *ms = adv_msloss_create(ms_n);
        adv_msloss_set_reference(ms, clean + vend - ms_n);
        float *gms = malloc(sizeof(float) * (size_t)ms_n);
        const float wms = (float)ms_n / (float)W16;   /* counted as for a clip of the window's length */
        ref_loss += wms * adv_msloss_eval(ms, h16 + vend - ms_n, gms);
        for (long i = 0; i < ms_n; i++) g16[vend - ms_n + i] += wms * gms[i];
        free(gms);
        adv_msloss_free(ms);
    }
    adv_resampler_backward(D, g16, gm);
    for (long i = 0; i < N; i++) {
        float gv = gm[i] * pass[i];
        if (method == ADV_CW) gv += 2 * pr[i];
        gm[i] = gv * mask[i];
    }
    adv_resampler_backward(U, gm, gd);
    CHECK(fabs(ref_loss - loss) <= 1e-4 * fabs(loss), "%d Hz %d ch %s: loss %.8g vs reference %.8g", rate, channels,
          adv_attack_method_name(method), loss, ref_loss);
    double err = tu_rel_error(g, gd + g0, len);
    CHECK(err < 1e-4, "%d Hz %d ch %s %s loss: gradient vs whole-stream reference, relative error %.3g", rate, channels,
          adv_attack_method_name(method), window_loss ? "window" : "per-step", err);

    /* Finite differences of the whole loss are not used here: this calibrated random model is
     * strongly curved (along a direction over the whole free part the difference quotient is within
     * 1.5 % of the gradient at h 3e-5, 5 % at 1e-4, 50 % at 3e-4, and float32 noise dominates below),
     * and MS-C&W's spectral loss is a sum of absolute values with kinks everywhere. The classifier's
     * gradient is checked by finite differences and against PyTorch in test_nn_grad and test_golden,
     * the spectral loss's against PyTorch in test_msloss; (a) checks their composition here. */
    if (method == ADV_MSCW) goto done;
    /* (c) the distance term alone */
    adv_stream_params p0 = p;
    p0.alpha = 0;
    p0.eps = 1.0f;   /* no clamp to step across */
    adv_stream_gradient(s, &p0, ends, 2, &g0, &g1);
    memcpy(g, adv_stream_param_grad(s) + g0, sizeof(float) * len);
    double dot = 0;
    for (size_t i = 0; i < len; i++) dot += (double)(v[i] = adv_rng_normal(&r)) * g[i];
    const float h = 1e-4f;
    for (size_t i = 0; i < len; i++) d[g0 + i] = base[i] + h * v[i];
    double lp = adv_stream_gradient(s, &p0, ends, 2, &g0, &g1);
    for (size_t i = 0; i < len; i++) d[g0 + i] = base[i] - h * v[i];
    double lm = adv_stream_gradient(s, &p0, ends, 2, &g0, &g1);
    memcpy(d + g0, base, sizeof(float) * len);
    double fd = (lp - lm) / (2.0 * h);
    CHECK(fabs(fd - dot) <= 2e-3 * fabs(dot) + 1e-6, "%d Hz %s distance term: finite difference %.8g vs gradient %.8g", rate,
          adv_attack_method_name(method), fd, dot);
done:
    adv_classifier_free(c);
    adv_resampler_free(U);
    adv_resampler_free(D);
    float *bufs[] = {pr, hm, pass, mask, h16, g16, gm, gd, dd, clean, xm, gwin, g, v, base, x, played};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    adv_stream_free(s);
}

/* Attacks a tone for a few seconds; the committed output, judged by a listener, is the target;
 * what the optimiser heard matches what is played. */
static void attack_check(adv_model *m, int rate, int C, float bound_db)
{
    adv_stream_config cfg;
    adv_stream_config_default(&cfg, rate, C);
    cfg.window_seconds = 1.2;
    cfg.horizon_seconds = 0.6;
    cfg.segment_seconds = 0.1;
    adv_stream *s = adv_stream_create(m, &cfg);
    CHECK(s != NULL, "create: %s", adv_error());
    if (!s) return;
    const long n = 4 * rate, S = adv_stream_segment_frames(s), period = rate / 50;   /* one iteration per 20 ms at any rate */
    float *x = malloc(sizeof(float) * (size_t)n * C), *y = calloc((size_t)n * C, sizeof(float));
    float *mono_x = malloc(sizeof(float) * (size_t)n), *mono_y = malloc(sizeof(float) * (size_t)n);
    float *pert = malloc(sizeof(float) * (size_t)S);
    tone(x, n, C, rate, 3, 0.25f);
    /* the clean tone's class; aim at another */
    float logits[ADV_N_CLASSES];
    adv_audio a = {x, n, C, rate, 0};
    adv_classify_audio(m, &a, logits);
    int orig = adv_most_likely(logits), target = -1;
    for (int k = 0; k < ADV_N_CLASSES; k++)   /* the runner-up: reachable for this random model */
        if (k != orig && (target < 0 || logits[k] > logits[target])) target = k;
    if (getenv("TEST_STREAM_VERBOSE")) {
        float pr[ADV_N_CLASSES];
        adv_softmax(ADV_N_CLASSES, logits, pr);
        for (int k = 0; k < ADV_N_CLASSES; k++) fprintf(stderr, "%s %.3f\n", m->classes[k], pr[k]);
        fprintf(stderr, "target %s\n", m->classes[target]);
    }
    adv_stream_params p = {ADV_CW, target, 0.01f, 100.0f, 1e-3f, 0.2f, bound_db};
    long ok = 0, segs = 0, off = 0, silent_segs = 0;
    float maxabs = 0, after_off = 0, last = 0, jump = 0, edge_jump = 0;
    /* 4 s of tone (attacked for 3 s, then no target), then 2 s of silence */
    const long total = n + 2 * rate;
    float *xin = calloc((size_t)total * C, sizeof(float));
    memcpy(xin, x, sizeof(float) * (size_t)n * C);
    for (long t = 0; t < total; t += period) {
        adv_stream_segment seg;
        while (adv_stream_room(s) < period && adv_stream_commit(s, pert, &seg)) {
            /* judged as the listener judges: segments where a whole window ends (from 1.2 s) */
            const int judged = !off && seg.start >= lround(1.2 * rate);
            segs += judged;
            ok += judged && seg.status == ADV_SEGMENT_OK;
            silent_segs += seg.status == ADV_SEGMENT_SILENT;
            if (getenv("TEST_STREAM_VERBOSE"))
                fprintf(stderr, "segment %.2f s: status %d, %d/%d windows, min margin %.2f, p %.2f, SNR %.1f dB, %ld iterations\n",
                        (double)seg.start / rate, seg.status, seg.hits, seg.windows,
                        seg.min_margin, seg.mean_target_prob, seg.snr_db, seg.iterations);
            for (long i = 0; i < seg.frames; i++) {
                float step = fabsf(pert[i] - last);
                if (i == 0 && step > edge_jump) edge_jump = step;
                if (i > 0 && step > jump) jump = step;
                last = pert[i];
                if (fabsf(pert[i]) > maxabs) maxabs = fabsf(pert[i]);
                if (off && seg.start >= off + (long)(0.01 * rate) && fabsf(pert[i]) > after_off) after_off = fabsf(pert[i]);
                if (seg.start + i >= n) continue;
                for (int c = 0; c < C; c++) {
                    float v = x[(size_t)(seg.start + i) * C + c] + pert[i];
                    y[(size_t)(seg.start + i) * C + c] = v > 1 ? 1 : (v < -1 ? -1 : v);
                }
            }
            if (off) CHECK(seg.status == ADV_SEGMENT_OFF, "no target: segment status off (%d)", seg.status);
            if (t > 3 * rate && off == 0) {
                off = seg.start + seg.frames;   /* from here: no target */
                adv_stream_reset_free(s);
            }
        }
        adv_stream_push(s, xin + (size_t)t * C, period);
        if (off == 0) adv_stream_iterate(s, &p);
    }
    CHECK(after_off == 0, "no target: the perturbation faded out to 0 (%g after 10 ms)", after_off);
    CHECK(edge_jump <= jump, "segment boundaries are seamless: largest step across one %g, within one %g", edge_jump, jump);
    free(xin);
    /* silence with a target: not attacked */
    adv_stream *q = adv_stream_create(m, &cfg);
    float *zeros = calloc((size_t)period, sizeof(float) * C);
    long silent = 0, loud = 0;
    for (long t = 0; t < 3 * rate; t += period) {
        adv_stream_segment seg;
        while (adv_stream_room(q) < period && adv_stream_commit(q, pert, &seg)) {
            silent += seg.status == ADV_SEGMENT_SILENT;
            for (long i = 0; i < seg.frames; i++) loud += pert[i] != 0;
        }
        adv_stream_push(q, zeros, period);
        adv_stream_iterate(q, &p);
    }
    CHECK(silent > 10 && loud == 0, "silence is not attacked: %ld silent segments, %ld non-zero samples", silent, loud);
    free(zeros);
    adv_stream_free(q);
    CHECK(maxabs <= 0.01f + 1e-6f, "the played perturbation stays within eps (max %g)", maxabs);
    /* the listener: 1.2 s windows every 0.1 s over the attacked part */
    for (long i = 0; i < n; i++) {
        mono_x[i] = mono_y[i] = 0;
        for (int c = 0; c < C; c++) mono_x[i] += x[(size_t)i * C + c] / C, mono_y[i] += y[(size_t)i * C + c] / C;
    }
    const long W = lround(1.2 * rate), hop = rate / 10;
    long count = adv_listen_count(off, W, hop), hits = 0;
    adv_listen_window *lw = malloc(sizeof *lw * (size_t)count);
    CHECK(adv_listen(m, mono_y, off, rate, W, hop, lw) == 0, "listen");
    for (long k = 0; k < count; k++) hits += lw[k].cls == target;
    CHECK(hits >= count * 9 / 10, "windows heard as the target: %ld of %ld", hits, count);
    CHECK(ok >= segs / 2, "segments ok: %ld of %ld", ok, segs);
    fprintf(stderr, "attack on a tone (%d Hz, %d channel(s), bound %g dB): %ld of %ld windows on target, %ld of %ld segments ok\n",
            rate, C, bound_db, hits, count, ok, segs);
    free(lw);
    free(x);
    free(y);
    free(mono_x);
    free(mono_y);
    free(pert);
    adv_stream_free(s);
}

int main(void)
{
    adv_model *m = adv_model_create_calibrated(5);
    CHECK(m != NULL, "model");
    if (!getenv("SKIP_GRADIENT")) {
    gradient_check(m, 48000, 1, ADV_CW, 0, 2);
    gradient_check(m, 44100, 2, ADV_CW, 0, 1);
    gradient_check(m, 48000, 2, ADV_MSCW, 0, 2);
    gradient_check(m, 48000, 1, ADV_CW, 1, 1);
    }
    if (!getenv("SKIP_ATTACK")) {
        attack_check(m, 48000, 2, 0);
        /* at 16 kHz the upsampler is the identity: a parameter at its local bound must not stick there */
        attack_check(m, 16000, 1, 36);
    }
    adv_model_free(m);
    return tu_finish("test_stream");
}
