/* The attacks on a small random model and short synthetic clips (0.5 s at 16 kHz mono and at
 * 44.1 kHz stereo): success paths, the iteration cap, the eps bound on what is written, determinism,
 * SNR, silence, already-target clips, cancellation, the minimum SNR, and the output quantiser
 * against libsndfile itself (write, read back, compare bit for bit; a success reported for a
 * 16-bit or 24-bit FLAC output must survive the round trip through the file).
 * ATTACK_VERBOSE=1 prints each case's status, iterations, time and SNR. */
#include "testutil.h"
#include "advinst/attack.h"
#include "advinst/audio.h"
#include "advinst/classifier.h"
#include "advinst/error.h"
#include "advinst/optim.h"
#include <math.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>

static const char *dir;
static uint64_t rng = 4242;

/* A random model whose predictions depend on the input (see adv_model_create_calibrated). */
static adv_model *make_model(uint64_t seed) { return adv_model_create_calibrated(seed); }

/* Interleaved clip: a few harmonics and noise, a different mix per channel. */
static float *make_clip(long frames, int channels, int rate, double f0)
{
    float *x = malloc(sizeof(float) * frames * channels);
    for (long f = 0; f < frames; f++)
        for (int c = 0; c < channels; c++) {
            double t = (double)f / rate;
            double v = 0.3 * sin(2 * M_PI * f0 * t) + 0.15 * sin(2 * M_PI * 2.01 * f0 * t + c) +
                       0.08 * sin(2 * M_PI * 3.7 * f0 * t) + 0.02 * adv_rng_normal(&rng);
            x[f * channels + c] = (float)(v * (1.0 - 0.3 * c));
        }
    return x;
}

static int classify(adv_model *m, const float *x, long frames, int channels, int rate, float *conf)
{
    adv_audio a = {(float *)x, frames, channels, rate, 0};
    float logits[ADV_N_CLASSES], probs[ADV_N_CLASSES];
    if (adv_classify_audio(m, &a, logits) != 0) return -1;
    adv_softmax(ADV_N_CLASSES, logits, probs);
    int best = adv_most_likely(probs);
    if (conf) *conf = probs[best];
    return best;
}

/* ---- SNR and sign ---- */
static void test_snr_and_sign(void)
{
    const long n = 10000;
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    for (long i = 0; i < n; i++) { x[i] = 1.0f; y[i] = 1.1f; }
    CHECK_NEAR(adv_snr_db(x, y, n), 20.0, 1e-4, "SNR of x = 1, x_adv = 1.1");
    /* only [2048, n - 2049) counts: a change outside it is invisible */
    y[0] = 5; y[n - 1] = 5; y[n - 2049] = 5;
    CHECK_NEAR(adv_snr_db(x, y, n), 20.0, 1e-4, "SNR ignores the first and last 2048 samples");
    y[2048] = 5;
    CHECK(adv_snr_db(x, y, n) < 19.9, "SNR counts sample 2048: %g", adv_snr_db(x, y, n));
    /* short clips: the whole clip */
    for (long i = 0; i < 100; i++) y[i] = 1.1f;
    CHECK_NEAR(adv_snr_db(x, y, 100), 20.0, 1e-4, "SNR over a clip shorter than 4097 samples");
    free(x); free(y);

    float g[5] = {NAN, 2.5f, -1e-30f, 0.0f, -0.0f}, s[5];
    adv_sign(5, g, s);
    CHECK(s[0] == 0 && s[1] == 1 && s[2] == -1 && s[3] == 0 && s[4] == 0, "sign: NaN and zeros give 0: %g %g %g %g %g",
          s[0], s[1], s[2], s[3], s[4]);
}

/* ---- quantiser against libsndfile ---- */
static void test_quantizer(void)
{
    static const struct { int format; const char *name; double step; } formats[] = {
        {SF_FORMAT_WAV | SF_FORMAT_PCM_16, "wav16", 1.0 / 32768}, {SF_FORMAT_WAV | SF_FORMAT_PCM_24, "wav24", 1.0 / 8388608},
        {SF_FORMAT_WAV | SF_FORMAT_PCM_32, "wav32", 0}, {SF_FORMAT_WAV | SF_FORMAT_PCM_U8, "wavu8", 1.0 / 128},
        {SF_FORMAT_AIFF | SF_FORMAT_PCM_S8, "aiff8", 1.0 / 128}, {SF_FORMAT_FLAC | SF_FORMAT_PCM_16, "flac16", 1.0 / 32768},
        {SF_FORMAT_FLAC | SF_FORMAT_PCM_24, "flac24", 1.0 / 8388608}, {SF_FORMAT_FLAC | SF_FORMAT_PCM_S8, "flac8", 1.0 / 128},
        {SF_FORMAT_WAV | SF_FORMAT_FLOAT, "wavfloat", 0}, {SF_FORMAT_W64 | SF_FORMAT_PCM_24, "w64_24", 1.0 / 8388608},
    };
    const long n = 40000;
    adv_audio a;
    adv_audio_alloc(&a, n, 1, 16000, 0);
    for (long i = 0; i < n; i++) {
        float v = tu_rand_uniform(&rng, -1.2f, 1.2f);
        if (i % 5 == 0) v *= 1e-3f;
        if (i % 7 == 0) v = (float)((floor(v * 32768.0) + 0.5) / 32768);   /* half-way cases */
        if (i % 11 == 0) v = nextafterf((float)(round(v * 8388608.0) / 8388608), i % 2 ? 2.0f : -2.0f);
        a.samples[i] = v;
    }
    a.samples[0] = 1.0f; a.samples[1] = -1.0f; a.samples[2] = 0.99999994f; a.samples[3] = -0.99999994f;
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/q-%s.%s", dir, formats[f].name,
                 (formats[f].format & SF_FORMAT_TYPEMASK) == SF_FORMAT_FLAC ? "flac" : "snd");
        a.format = formats[f].format;
        /* the attack clamps to [-1, 1] before quantising; float files keep anything */
        adv_audio in = a;
        float *clamped = malloc(sizeof(float) * n);
        for (long i = 0; i < n; i++) clamped[i] = fminf(1.0f, fmaxf(-1.0f, a.samples[i]));
        in.samples = clamped;
        if (adv_audio_write(path, &in) != 0) { CHECK(0, "%s: write: %s", formats[f].name, adv_error()); free(clamped); continue; }
        adv_audio back;
        if (adv_audio_read(path, &back) != 0) { CHECK(0, "%s: read: %s", formats[f].name, adv_error()); free(clamped); continue; }
        long bad = 0, first = -1;
        for (long i = 0; i < n; i++)
            if (adv_quantize_sample(clamped[i], formats[f].format) != back.samples[i]) { if (first < 0) first = i; bad++; }
        CHECK(bad == 0, "%s: quantiser differs from libsndfile's write + read on %ld of %ld samples (first: %.9g -> %.9g, predicted %.9g)",
              formats[f].name, bad, n, first >= 0 ? clamped[first] : 0, first >= 0 ? back.samples[first] : 0,
              first >= 0 ? adv_quantize_sample(clamped[first], formats[f].format) : 0);
        double worst = 0;
        for (long i = 0; i < n; i++) worst = fmax(worst, fabs((double)back.samples[i] - clamped[i]));
        CHECK(worst <= formats[f].step + 1e-7, "%s: quantisation error %g exceeds one step %g", formats[f].name, worst,
              formats[f].step);
        adv_audio_free(&back);
        free(clamped);
    }
    adv_audio_free(&a);
}

/* ---- attacks ---- */
typedef struct {
    const char *name;
    adv_attack_method method;
    float eps, alpha, lr;
    long max_iter;
} attack_case;

static void check_bounds(const char *what, const adv_attack_params *p, const float *x, const float *out, size_t n,
                         double step)
{
    double worst = 0, range = 0;
    int finite = 1;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(out[i])) finite = 0;
        range = fmax(range, fabs(out[i]));
        /* the clamp to [-1, 1] only moves samples towards the input */
        worst = fmax(worst, fabs((double)out[i] - x[i]));
    }
    CHECK(finite && range <= 1.0, "%s: output finite and within [-1, 1] (max |v| %g)", what, range);
    CHECK(worst <= p->eps + step + 1e-7, "%s: max |out - x| = %.9g > eps %g + one step %g", what, worst, p->eps, step);
}

static void run_case(adv_model *m, const attack_case *ac, int rate, int channels, int format, double step)
{
    const long frames = rate / 2;
    float *x = make_clip(frames, channels, rate, 220 + 30 * ac->method);
    /* the input as it would be read from a file of this format */
    for (long i = 0; i < frames * channels; i++) x[i] = adv_quantize_sample(x[i], format);
    adv_attack_ws *ws = adv_attack_ws_create(m, rate, frames, channels, ac->method == ADV_MSCW);
    CHECK(ws != NULL, "workspace: %s", adv_error());
    if (!ws) { free(x); return; }
    float *out = malloc(sizeof(float) * frames * channels), *out2 = malloc(sizeof(float) * frames * channels);
    adv_attack_params p;
    adv_attack_defaults(ac->method, &p);
    p.eps = ac->eps;
    p.alpha = ac->alpha;
    p.lr = ac->lr;
    p.max_iter = ac->max_iter;
    p.seed = 99;
    char what[160];
    snprintf(what, sizeof what, "%s at %d Hz x %d, format 0x%x", ac->name, rate, channels, format);

    adv_attack_result r, r2;
    int rc = adv_attack_run(ws, &p, x, format, out, &r);
    CHECK(rc == 0, "%s: run: %s", what, adv_error());
    if (getenv("ATTACK_VERBOSE")) printf("%s: %s, %ld iterations, %.3f s, SNR %.1f dB\n", what, adv_attack_status_name(r.status), r.iterations, r.seconds, r.snr_db);
    CHECK(r.status == ADV_ATTACK_OK && r.success, "%s: status %s after %ld iterations (%d -> %d, target %d)", what,
          adv_attack_status_name(r.status), r.iterations, r.before_class, r.after_class, r.target);
    if (ac->method == ADV_FGSM) CHECK(r.iterations == 1, "%s: FGSM iterations %ld", what, r.iterations);
    else CHECK(r.iterations >= 1 && r.iterations <= ac->max_iter, "%s: iterations %ld", what, r.iterations);
    if (adv_attack_method_targeted(ac->method))
        CHECK(r.after_class == r.target && r.target != r.before_class, "%s: target %d, before %d, after %d", what,
              r.target, r.before_class, r.after_class);
    else
        CHECK(r.after_class != r.before_class && r.target == ADV_TARGET_NONE, "%s: before %d, after %d", what,
              r.before_class, r.after_class);
    check_bounds(what, &p, x, out, (size_t)frames * channels, step);

    /* the output is on the grid and classifies as reported; SNR as reported */
    int on_grid = 1;
    for (long i = 0; i < frames * channels; i++) on_grid &= adv_quantize_sample(out[i], format) == out[i];
    CHECK(on_grid, "%s: output is on the format's grid", what);
    float conf = 0;
    int again = classify(m, out, frames, channels, rate, &conf);
    CHECK(again == r.after_class && fabsf(conf - r.after_confidence) < 1e-5f, "%s: reclassified %d (%g), reported %d (%g)",
          what, again, conf, r.after_class, r.after_confidence);
    float *mx = malloc(sizeof(float) * frames), *mo = malloc(sizeof(float) * frames);
    adv_audio ax = {x, frames, channels, rate, 0}, ao = {out, frames, channels, rate, 0};
    adv_audio_mix_mono(&ax, mx);
    adv_audio_mix_mono(&ao, mo);
    CHECK_NEAR(adv_snr_db(mx, mo, frames), r.snr_db, 1e-9, "reported SNR");
    free(mx); free(mo);

    /* a written file reads back as exactly the output, and still fools the model */
    if (format != 0) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s-%d-%d.%s", dir, ac->name, rate, channels,
                 (format & SF_FORMAT_TYPEMASK) == SF_FORMAT_FLAC ? "flac" : "wav");
        adv_audio w = {out, frames, channels, rate, format}, back;
        CHECK(adv_audio_write(path, &w) == 0, "%s: write: %s", what, adv_error());
        if (adv_audio_read(path, &back) == 0) {
            CHECK(memcmp(back.samples, out, sizeof(float) * frames * channels) == 0, "%s: file reads back bit-identical", what);
            int k = classify(m, back.samples, frames, channels, rate, NULL);
            CHECK(k == r.after_class, "%s: the written file classifies as %d, reported %d", what, k, r.after_class);
            adv_audio_free(&back);
        } else CHECK(0, "%s: read back: %s", what, adv_error());
    }

    /* determinism: bit-identical for the seed */
    rc = adv_attack_run(ws, &p, x, format, out2, &r2);
    CHECK(rc == 0 && memcmp(out, out2, sizeof(float) * frames * channels) == 0 && r2.iterations == r.iterations &&
          r2.target == r.target, "%s: second run with the same seed is bit-identical", what);

    /* the iteration cap */
    if (ac->method != ADV_FGSM) {
        p.max_iter = 3;
        p.lr = 1e-9f;
        rc = adv_attack_run(ws, &p, x, format, out2, &r2);
        CHECK(rc == 0 && r2.status == ADV_ATTACK_FAILED && !r2.success && r2.iterations == 3,
              "%s: max_iter 3 with a tiny lr: status %s, iterations %ld", what, adv_attack_status_name(r2.status),
              r2.iterations);
        check_bounds(what, &p, x, out2, (size_t)frames * channels, step);
    }
    adv_attack_ws_free(ws);
    free(x); free(out); free(out2);
}

/* Silence, already-target, cancellation, callbacks, minimum SNR, invalid parameters. */
static int stop_at_two(const adv_attack_progress *pr, void *user)
{
    (*(int *)user)++;
    return pr->iteration >= 2;
}

static void test_special_cases(adv_model *m)
{
    const int rate = 16000;
    const long frames = 8000;
    adv_attack_ws *ws = adv_attack_ws_create(m, rate, frames, 1, 0);
    float *x = calloc(frames, sizeof(float)), *out = malloc(sizeof(float) * frames);
    adv_attack_params p;
    adv_attack_result r;
    adv_attack_defaults(ADV_CW, &p);
    CHECK(adv_attack_run(ws, &p, x, 0, out, &r) == 0 && r.status == ADV_ATTACK_SILENT && r.iterations == 0,
          "all-zero clip: status %s", adv_attack_status_name(r.status));
    for (long i = 0; i < frames; i++) x[i] = 1e-7f * (float)sin(i * 0.1);
    CHECK(adv_attack_run(ws, &p, x, 0, out, &r) == 0 && r.status == ADV_ATTACK_SILENT, "RMS < 1e-6: status %s",
          adv_attack_status_name(r.status));
    CHECK(memcmp(x, out, sizeof(float) * frames) == 0, "silent clip: output = input");
    free(x);

    x = make_clip(frames, 1, rate, 330);
    int before = classify(m, x, frames, 1, rate, NULL);
    p.target = before;
    CHECK(adv_attack_run(ws, &p, x, 0, out, &r) == 0 && r.status == ADV_ATTACK_ALREADY && r.iterations == 0 &&
          memcmp(x, out, sizeof(float) * frames) == 0, "already the target: status %s", adv_attack_status_name(r.status));

    /* random targets are never the original prediction, and depend on the seed */
    int seen[ADV_N_CLASSES] = {0};
    p.max_iter = 1;
    p.lr = 1e-9f;
    p.target = ADV_TARGET_RANDOM;
    for (int s = 0; s < 20; s++) {
        p.seed = (uint64_t)s;
        adv_attack_run(ws, &p, x, 0, out, &r);
        CHECK(r.target >= 0 && r.target != before, "random target %d (original %d)", r.target, before);
        if (r.target >= 0) seen[r.target] = 1;
    }
    int distinct = 0;
    for (int k = 0; k < ADV_N_CLASSES; k++) distinct += seen[k];
    CHECK(distinct >= 5, "random targets vary with the seed: %d distinct classes in 20 seeds", distinct);

    /* cancellation before the first update: input unchanged, 0 iterations */
    atomic_int cancel = 1;
    adv_attack_defaults(ADV_CW, &p);
    p.cancel = &cancel;
    CHECK(adv_attack_run(ws, &p, x, 0, out, &r) == 0 && r.status == ADV_ATTACK_CANCELLED && r.iterations == 0 &&
          memcmp(x, out, sizeof(float) * frames) == 0, "cancelled: status %s, %ld iterations",
          adv_attack_status_name(r.status), r.iterations);
    /* a callback that stops after two iterations */
    int calls = 0;
    p.cancel = NULL;
    p.lr = 1e-9f;
    p.callback = stop_at_two;
    p.user = &calls;
    CHECK(adv_attack_run(ws, &p, x, 0, out, &r) == 0 && r.status == ADV_ATTACK_CANCELLED && r.iterations == 2 && calls == 2,
          "callback stop: status %s, %ld iterations, %d calls", adv_attack_status_name(r.status), r.iterations, calls);

    /* minimum SNR: a success never goes below it; FGSM at eps 0.1 would be far below 30 dB */
    adv_attack_defaults(ADV_FGSM, &p);
    p.eps = 0.1f;
    p.min_snr_db = 30;
    CHECK(adv_attack_run(ws, &p, x, 0, out, &r) == 0, "fgsm with min SNR: %s", adv_error());
    float *mx = x;
    double snr = adv_snr_db(mx, out, frames);
    CHECK(snr >= 30 - 1e-3 || memcmp(x, out, sizeof(float) * frames) == 0, "min SNR 30: output SNR %g", snr);
    if (r.success) CHECK(r.snr_db >= 30, "min SNR 30: success at %g dB", r.snr_db);
    adv_attack_defaults(ADV_CW, &p);
    p.lr = 1e-3f;
    p.eps = 0.01f;
    p.alpha = 1;
    p.min_snr_db = 35;
    CHECK(adv_attack_run(ws, &p, x, 0, out, &r) == 0, "cw with min SNR: %s", adv_error());
    snr = adv_snr_db(x, out, frames);
    CHECK(snr >= 35 - 1e-3 || memcmp(x, out, sizeof(float) * frames) == 0, "cw, min SNR 35: output SNR %g (status %s)", snr,
          adv_attack_status_name(r.status));

    /* invalid parameters fail with a message */
    adv_attack_defaults(ADV_PGDN, &p);
    p.eps = -1;
    CHECK(adv_attack_run(ws, &p, x, 0, out, &r) != 0 && strstr(adv_error(), "eps"), "negative eps: '%s'", adv_error());
    adv_attack_defaults(ADV_MSCW, &p);
    CHECK(adv_attack_run(ws, &p, x, 0, out, &r) != 0 && strstr(adv_error(), "multi-scale"),
          "mscw without the loss planned: '%s'", adv_error());
    adv_attack_defaults(ADV_CW, &p);
    p.target = 12;
    CHECK(adv_attack_run(ws, &p, x, 0, out, &r) != 0 && strstr(adv_error(), "target"), "target 12: '%s'", adv_error());
    x[5] = NAN;
    adv_attack_defaults(ADV_CW, &p);
    CHECK(adv_attack_run(ws, &p, x, 0, out, &r) != 0 && strstr(adv_error(), "NaN"), "NaN input: '%s'", adv_error());

    CHECK(adv_attack_method_parse("MSCW") == ADV_MSCW && adv_attack_method_parse("bim") == -1, "method names");
    adv_attack_ws_free(ws);
    free(x); free(out);
}

int main(void)
{
    dir = tu_scratch_dir("attack");
    if (!dir) { fprintf(stderr, "no scratch directory\n"); return 1; }
    test_snr_and_sign();
    test_quantizer();
    adv_model *m = make_model(7);
    static const attack_case cases[] = {
        {"fgsm", ADV_FGSM, 0.05f, 0, 0, 1},
        {"pgdn", ADV_PGDN, 0.01f, 0, 1e-3f, 100},
        {"cw", ADV_CW, 0.01f, 1.0f, 1e-3f, 100},
        {"mscw", ADV_MSCW, 0.01f, 10.0f, 1e-3f, 100},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_case(m, &cases[i], 16000, 1, 0, 0);
        run_case(m, &cases[i], 44100, 2, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1.0 / 32768);
    }
    /* FLAC 24-bit (rounding quantiser) once */
    run_case(m, &cases[2], 44100, 2, SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 1.0 / 8388608);
    test_special_cases(m);
    adv_model_free(m);
    return tu_finish("test_attack");
}
