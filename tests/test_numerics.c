/* Bad numerics through every path that turns audio into numbers or audio. Pathological signals --
 * NaN (one sample, all), +-Inf, denormals (everywhere, mixed into a tone), full-scale squares
 * (+-1.0 exactly: Nyquist alternation, periods 8 and 37, 100 Hz), digital silence, near silence
 * (+-1e-9), DC at +1 and -1, over-range float signals (peaks at 2.5 and 5e4) and an absurd one
 * (1e30, beyond ADV_AUDIO_MAX_ABS) --
 * go through:
 *   (a) the classifier (adv_classify_audio): finite probabilities summing to 1, or a clear error
 *       for invalid input (non-finite or beyond ADV_AUDIO_MAX_ABS); never NaN;
 *   (b) the four attacks (adv_attack_run, as `advinst render` calls it) with float, 16-bit WAV
 *       and 16-bit FLAC output quantisation: every output sample finite, in [-1, 1] and on the
 *       format's grid; silent clips "silent", not attacked, output = input (on the grid); invalid
 *       input refused. Float WAV files holding each signal (written with libsndfile, which lets NaN
 *       through) are read (invalid ones refused with one message), attacked and written; full-scale
 *       squares round-trip through 16-bit PCM bit for bit;
 *   (c) the live engine (adv_live_process in a loop, no JACK, in synchronous mode: the attack runs
 *       inside it, so the machine's load does not matter) with C&W / MS-C&W and a target, each
 *       signal in turn, mono and stereo, and in bypass: every output sample finite and in
 *       [-1, 1], segments whose windows hear only silence reported ADV_LIVE_SEG_SILENT and played
 *       as the (sanitised) delayed input, segments whose windows all hear sound attacked (ok or
 *       failed, none missed), every event (probabilities, segment reports) finite.
 * NUMERICS_VERBOSE=1 prints every live segment's status. */
#include "testutil.h"
#include "advinst/attack.h"
#include "advinst/audio.h"
#include "advinst/blas.h"
#include "advinst/classifier.h"
#include "advinst/error.h"
#include "advinst/live.h"
#include <float.h>
#include <math.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    S_NAN_ONE, S_NAN_ALL, S_POS_INF, S_NEG_INF, S_INF_ALL, S_DENORMAL, S_DENORMAL_MIXED, S_SQUARE_NYQUIST,
    S_SQUARE_8, S_SQUARE_37, S_SQUARE_100HZ, S_SILENCE, S_NEAR_SILENCE, S_DC_POS, S_DC_NEG, S_OVER_RANGE, S_LOUD, S_HUGE,
    N_SIGNALS
};

typedef struct {
    const char *name;
    int finite;     /* every sample finite */
    int valid;      /* accepted as audio: finite and within ADV_AUDIO_MAX_ABS */
    int silent;     /* mono mix below the attack's silence threshold */
} signal_info;

static const signal_info signals[N_SIGNALS] = {
    [S_NAN_ONE] = {"one NaN", 0, 0, 0},
    [S_NAN_ALL] = {"all NaN", 0, 0, 0},
    [S_POS_INF] = {"one +Inf", 0, 0, 0},
    [S_NEG_INF] = {"one -Inf", 0, 0, 0},
    [S_INF_ALL] = {"all +Inf", 0, 0, 0},
    [S_DENORMAL] = {"denormals 1e-40", 1, 1, 1},
    [S_DENORMAL_MIXED] = {"tone with denormals", 1, 1, 0},
    [S_SQUARE_NYQUIST] = {"square +-1 at Nyquist", 1, 1, 0},
    [S_SQUARE_8] = {"square +-1 period 8", 1, 1, 0},
    [S_SQUARE_37] = {"square +-1 period 37", 1, 1, 0},
    [S_SQUARE_100HZ] = {"square +-1 100 Hz", 1, 1, 0},
    [S_SILENCE] = {"digital silence", 1, 1, 1},
    [S_NEAR_SILENCE] = {"near silence 1e-9", 1, 1, 1},
    [S_DC_POS] = {"DC +1", 1, 1, 0},
    [S_DC_NEG] = {"DC -1", 1, 1, 0},
    [S_OVER_RANGE] = {"over-range tone, peak 2.5", 1, 1, 0},
    [S_LOUD] = {"tone of amplitude 1e5", 1, 1, 0},
    [S_HUGE] = {"sine of amplitude 1e30", 1, 0, 0},
};

static const char *dir;

/* Signal s into x[frames * channels] at `rate` (every channel the same, so the mono mix is too). */
static void make_signal(int s, float *x, long frames, int channels, int rate)
{
    for (long i = 0; i < frames; i++) {
        const double t = (double)i / rate;
        const float tone = (float)(0.4 * sin(2 * M_PI * 440 * t) + 0.1 * sin(2 * M_PI * 1234 * t));
        float v = tone;
        switch (s) {
        case S_NAN_ONE: if (i == frames / 3) v = NAN; break;
        case S_NAN_ALL: v = NAN; break;
        case S_POS_INF: if (i == frames / 2) v = INFINITY; break;
        case S_NEG_INF: if (i == frames / 2) v = -INFINITY; break;
        case S_INF_ALL: v = INFINITY; break;
        case S_DENORMAL: v = 1e-40f; break;
        case S_DENORMAL_MIXED: if (i % 2) v = i % 4 == 1 ? 1e-40f : -3e-42f; break;
        case S_SQUARE_NYQUIST: v = i % 2 ? -1.0f : 1.0f; break;
        case S_SQUARE_8: v = (i / 4) % 2 ? -1.0f : 1.0f; break;
        case S_SQUARE_37: v = i % 37 < 18 ? 1.0f : -1.0f; break;
        case S_SQUARE_100HZ: v = (i / (rate / 200)) % 2 ? -1.0f : 1.0f; break;
        case S_SILENCE: v = 0.0f; break;
        case S_NEAR_SILENCE: v = (i * 7919) % 3 ? 1e-9f : -1e-9f; break;
        case S_DC_POS: v = 1.0f; break;
        case S_DC_NEG: v = -1.0f; break;
        case S_OVER_RANGE: v = 5.0f * tone; break;
        case S_LOUD: v = 1e5f * tone; break;
        case S_HUGE: v = 1e30f * tone; break;
        }
        for (int c = 0; c < channels; c++) x[(size_t)i * channels + c] = v;
    }
}

static float clampf(float v) { return v > 1.0f ? 1.0f : (v < -1.0f ? -1.0f : v); }

/* The error message of a refused signal names the problem. */
static int names_problem(int s, const char *msg)
{
    return signals[s].finite ? strstr(msg, "magnitude") != NULL : strstr(msg, "NaN or infinite") != NULL;
}

/* ---- (a) the classifier ---- */

static void test_classifier(adv_model *m)
{
    static const struct { int rate, channels; long frames; } cfgs[] = {{16000, 1, 8000}, {44100, 2, 22050}};
    for (size_t k = 0; k < sizeof cfgs / sizeof cfgs[0]; k++) {
        adv_audio a;
        adv_audio_alloc(&a, cfgs[k].frames, cfgs[k].channels, cfgs[k].rate, 0);
        for (int s = 0; s < N_SIGNALS; s++) {
            make_signal(s, a.samples, a.frames, a.channels, a.rate);
            float logits[ADV_N_CLASSES], probs[ADV_N_CLASSES];
            adv_fail("%s", "");
            int rc = adv_classify_audio(m, &a, logits);
            if (!signals[s].valid) {
                CHECK(rc != 0, "classify %s at %d Hz: accepted", signals[s].name, a.rate);
                CHECK(names_problem(s, adv_error()), "classify %s: message \"%s\"", signals[s].name, adv_error());
                continue;
            }
            CHECK(rc == 0, "classify %s at %d Hz: %s", signals[s].name, a.rate, adv_error());
            if (rc != 0) continue;
            adv_softmax(ADV_N_CLASSES, logits, probs);
            int finite = 1;
            double sum = 0;
            for (int c = 0; c < ADV_N_CLASSES; c++) {
                finite &= isfinite(logits[c]) && isfinite(probs[c]) && probs[c] >= 0;
                sum += probs[c];
            }
            CHECK(finite && fabs(sum - 1) < 1e-5, "classify %s at %d Hz: non-finite or unnormalised (sum %g)",
                  signals[s].name, a.rate, sum);
        }
        adv_audio_free(&a);
    }
}

/* ---- (b) the attacks ---- */

static const struct { int format; const char *name; } out_formats[] = {
    {0, "float"},
    {SF_FORMAT_WAV | SF_FORMAT_PCM_16, "wav16"},
    {SF_FORMAT_FLAC | SF_FORMAT_PCM_16, "flac16"},
};
#define N_OUT_FORMATS (int)(sizeof out_formats / sizeof out_formats[0])

static void attack_params(adv_attack_method method, adv_attack_params *p)
{
    adv_attack_defaults(method, p);
    p->max_iter = 2;
    p->lr = 1e-3f;
    p->seed = 5;
}

/* Checks one attack's output: finite, in [-1, 1], on the grid; silent: input unchanged. */
static void check_attack_output(const char *what, int s, int format, const float *x, const float *out, size_t n,
                                const adv_attack_result *r)
{
    long bad_range = 0, bad_grid = 0, bad_copy = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(fabsf(out[i]) <= 1.0f)) bad_range++;   /* NaN counts */
        if (adv_quantize_sample(out[i], format) != out[i]) bad_grid++;
        if (r->status == ADV_ATTACK_SILENT && out[i] != adv_quantize_sample(clampf(x[i]), format)) bad_copy++;
    }
    CHECK(bad_range == 0, "%s: %ld samples non-finite or outside [-1, 1]", what, bad_range);
    CHECK(bad_grid == 0, "%s: %ld samples off the output format's grid", what, bad_grid);
    if (signals[s].silent)
        CHECK(r->status == ADV_ATTACK_SILENT && r->iterations == 0 && bad_copy == 0,
              "%s: silent clip: status %s, %ld iterations, %ld samples changed", what, adv_attack_status_name(r->status),
              r->iterations, bad_copy);
    else
        CHECK(r->status != ADV_ATTACK_SILENT, "%s: reported silent", what);
    CHECK(isfinite(r->before_confidence) && isfinite(r->after_confidence) && !isnan(r->snr_db),
          "%s: non-finite result (confidence %g -> %g, SNR %g)", what, r->before_confidence, r->after_confidence, r->snr_db);
}

static void test_attacks(adv_model *m)
{
    static const struct { int rate, channels; long frames; int n_formats; } cfgs[] = {{16000, 1, 8000, N_OUT_FORMATS},
                                                                                       {44100, 2, 11025, 1}};
    for (size_t k = 0; k < sizeof cfgs / sizeof cfgs[0]; k++) {
        const long frames = cfgs[k].frames;
        const int C = cfgs[k].channels;
        const size_t n = (size_t)frames * C;
        adv_attack_ws *ws = adv_attack_ws_create(m, cfgs[k].rate, frames, C, 1);
        CHECK(ws != NULL, "workspace: %s", adv_error());
        if (!ws) continue;
        float *x = malloc(sizeof(float) * n), *out = malloc(sizeof(float) * n);
        for (int s = 0; s < N_SIGNALS; s++) {
            make_signal(s, x, frames, C, cfgs[k].rate);
            for (int method = 0; method < ADV_N_METHODS; method++)
                for (int f = 0; f < cfgs[k].n_formats; f++) {
                    char what[256];
                    snprintf(what, sizeof what, "%s on %s, %d Hz x %d, %s output", adv_attack_method_name(method),
                             signals[s].name, cfgs[k].rate, C, out_formats[f].name);
                    adv_attack_params p;
                    attack_params((adv_attack_method)method, &p);
                    adv_attack_result r;
                    adv_fail("%s", "");
                    int rc = adv_attack_run(ws, &p, x, out_formats[f].format, out, &r);
                    if (!signals[s].valid) {
                        CHECK(rc != 0, "%s: accepted", what);
                        CHECK(names_problem(s, adv_error()), "%s: message \"%s\"", what, adv_error());
                        continue;
                    }
                    CHECK(rc == 0, "%s: %s", what, adv_error());
                    if (rc == 0) check_attack_output(what, s, out_formats[f].format, x, out, n, &r);
                }
        }
        free(x);
        free(out);
        adv_attack_ws_free(ws);
    }
}

/* Writes x as a float WAV with libsndfile directly (the library's writer refuses NaN). */
static int write_float_wav(const char *path, const float *x, long frames, int channels, int rate)
{
    SF_INFO info = {0};
    info.samplerate = rate;
    info.channels = channels;
    info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf) return -1;
    sf_count_t w = sf_writef_float(sf, x, frames);
    return sf_close(sf) == 0 && w == frames ? 0 : -1;
}

/* Float WAV files holding each signal: read (or refused), attacked, written, read back. */
static void test_files(adv_model *m)
{
    const long frames = 8000;
    const int rate = 16000, C = 1;
    float *x = malloc(sizeof(float) * frames), *out = malloc(sizeof(float) * frames);
    adv_attack_ws *ws = adv_attack_ws_create(m, rate, frames, C, 0);
    CHECK(ws != NULL, "workspace: %s", adv_error());
    for (int s = 0; s < N_SIGNALS && ws; s++) {
        char in_path[1200], out_path[1200];
        snprintf(in_path, sizeof in_path, "%s/in-%d.wav", dir, s);
        snprintf(out_path, sizeof out_path, "%s/out-%d.wav", dir, s);
        make_signal(s, x, frames, C, rate);
        CHECK(write_float_wav(in_path, x, frames, C, rate) == 0, "write %s", in_path);
        adv_audio a;
        adv_fail("%s", "");
        int rc = adv_audio_read(in_path, &a);
        if (!signals[s].valid) {
            CHECK(rc != 0, "file with %s: accepted", signals[s].name);
            CHECK(names_problem(s, adv_error()) && strstr(adv_error(), in_path) && !strchr(adv_error(), '\n'),
                  "file with %s: message \"%s\"", signals[s].name, adv_error());
            continue;
        }
        CHECK(rc == 0, "file with %s: %s", signals[s].name, adv_error());
        if (rc != 0) continue;
        CHECK(a.frames == frames && memcmp(a.samples, x, sizeof(float) * frames) == 0, "file with %s: not read back as written",
              signals[s].name);
        adv_attack_params p;
        attack_params(ADV_CW, &p);
        adv_attack_result r;
        rc = adv_attack_run(ws, &p, a.samples, a.format, out, &r);
        CHECK(rc == 0, "attack on the file with %s: %s", signals[s].name, adv_error());
        if (rc == 0) {
            check_attack_output(signals[s].name, s, a.format, a.samples, out, (size_t)frames, &r);
            adv_audio w = {out, frames, C, rate, a.format};
            CHECK(adv_audio_write(out_path, &w) == 0, "write %s: %s", out_path, adv_error());
            adv_audio back;
            if (adv_audio_read(out_path, &back) == 0) {
                CHECK(memcmp(back.samples, out, sizeof(float) * frames) == 0, "%s: written file differs", signals[s].name);
                adv_audio_free(&back);
            } else {
                CHECK(0, "read back %s: %s", out_path, adv_error());
            }
        }
        adv_audio_free(&a);
    }
    adv_attack_ws_free(ws);

    /* full-scale squares and DC through 16-bit PCM: the writer clips +1.0 to 32767; the attack
     * output, clamped and on the 16-bit grid, survives the file bit for bit */
    const int pcm16 = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    const int full_scale[] = {S_SQUARE_NYQUIST, S_SQUARE_8, S_SQUARE_100HZ, S_DC_POS, S_DC_NEG};
    ws = adv_attack_ws_create(m, 44100, 11025, 2, 1);
    float *x2 = malloc(sizeof(float) * 22050), *o2 = malloc(sizeof(float) * 22050);
    for (size_t k = 0; k < sizeof full_scale / sizeof full_scale[0] && ws; k++) {
        const int s = full_scale[k];
        char in_path[1200], out_path[1200];
        snprintf(in_path, sizeof in_path, "%s/pcm16-in-%d.wav", dir, s);
        snprintf(out_path, sizeof out_path, "%s/pcm16-out-%d.wav", dir, s);
        make_signal(s, x2, 11025, 2, 44100);
        adv_audio w = {x2, 11025, 2, 44100, pcm16}, a, back;
        CHECK(adv_audio_write(in_path, &w) == 0, "write %s: %s", in_path, adv_error());
        if (adv_audio_read(in_path, &a) != 0) { CHECK(0, "read %s: %s", in_path, adv_error()); continue; }
        int clipped = 1;
        for (long i = 0; i < 22050; i++) clipped &= a.samples[i] == adv_quantize_sample(x2[i], pcm16);
        CHECK(clipped, "%s: 16-bit file not as the quantiser predicts", signals[s].name);
        for (int method = 0; method < ADV_N_METHODS; method++) {
            adv_attack_params p;
            attack_params((adv_attack_method)method, &p);
            adv_attack_result r;
            char what[256];
            snprintf(what, sizeof what, "%s on a 16-bit file of %s", adv_attack_method_name(method), signals[s].name);
            if (adv_attack_run(ws, &p, a.samples, a.format, o2, &r) != 0) { CHECK(0, "%s: %s", what, adv_error()); continue; }
            check_attack_output(what, s, pcm16, a.samples, o2, 22050, &r);
            adv_audio wo = {o2, 11025, 2, 44100, pcm16};
            CHECK(adv_audio_write(out_path, &wo) == 0, "%s: write: %s", what, adv_error());
            if (adv_audio_read(out_path, &back) != 0) { CHECK(0, "%s: read back: %s", what, adv_error()); continue; }
            CHECK(memcmp(back.samples, o2, sizeof(float) * 22050) == 0, "%s: the 16-bit file differs from the attack's output",
                  what);
            adv_audio_free(&back);
        }
        adv_audio_free(&a);
    }
    adv_attack_ws_free(ws);
    free(x2);
    free(o2);
    free(x);
    free(out);
}

/* ---- (c) the live engine ---- */

#define LIVE_RATE 16000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* What the engine plays for an input sample when nothing is added: non-finite and denormal -> 0,
 * clamped to [-1, 1]. */
static float live_sanitised(float v) { return isfinite(v) && fabsf(v) >= FLT_MIN ? clampf(v) : 0.0f; }

/* Signals the live engine finds silent: the silent signals, and all-NaN / all-Inf, sanitised to 0. */
static int live_silent(int s) { return signals[s].silent || s == S_NAN_ALL || s == S_INF_ALL; }

typedef struct {
    signed char status[256];   /* per segment, -1 until reported */
    long probs_events, bad_events, dup;
    uint64_t last_probs_frame[2];   /* end of the latest classified window, input and output */
} live_log;

static void drain(adv_live *e, live_log *log)
{
    const long S = adv_live_segment_frames(e);
    adv_live_event ev;
    while (adv_live_poll_event(e, &ev)) {
        if (ev.type == ADV_LIVE_EV_PROBS) {
            double sum = 0;
            int finite = 1;
            for (int c = 0; c < ADV_N_CLASSES; c++) {
                finite &= isfinite(ev.probs[c]) && ev.probs[c] >= 0;
                sum += ev.probs[c];
            }
            log->probs_events++;
            if ((ev.stream == 0 || ev.stream == 1) && ev.frame > log->last_probs_frame[ev.stream])
                log->last_probs_frame[ev.stream] = ev.frame;
            else if (ev.stream != 0 && ev.stream != 1)
                finite = 0;
            if (!finite || fabs(sum - 1) > 1e-4) log->bad_events++;
            continue;
        }
        if (getenv("NUMERICS_VERBOSE"))
            fprintf(stderr, "segment %ld (%.2f s): %s, %d/%d windows, SNR %.1f dB, %ld iterations\n", ev.segment,
                    (double)ev.frame / LIVE_RATE, adv_live_segment_status_name(ev.status), ev.hits, ev.windows, ev.snr_db,
                    ev.iterations);
        if (ev.status == ADV_LIVE_SEG_ERROR) fprintf(stderr, "segment %ld: error %s\n", ev.segment, ev.message);
        if (ev.segment >= 0 && ev.segment < 256) {
            if (log->status[ev.segment] >= 0) log->dup++;
            log->status[ev.segment] = (signed char)ev.status;
        }
        if (!isfinite(ev.after_confidence) || isnan(ev.snr_db) || ev.frame != (uint64_t)(ev.segment * S) ||
            ev.hits > ev.windows)
            log->bad_events++;
    }
}

/* Streams x[n][C] through the engine in 256-frame periods into y. The attack runs inside
 * adv_live_process (synchronous mode): nothing depends on the machine's load. After each span
 * boundary in `marks` it waits (up to 60 s) for the classifier worker to classify windows of both
 * streams ending within a hop of it, so that every span's windows are classified (the worker classifies once it
 * has caught up). Returns 0, or -1 after waiting 60 s in vain. */
static int stream(adv_live *e, const float *x, float *y, long n, int C, const long *marks, int n_marks, live_log *log)
{
    const long hop = lround(LIVE_RATE / adv_live_get_config(e)->classify_hz);
    float in[2][256], out[2][256];
    const float *ip[2] = {in[0], in[1]};
    float *op[2] = {out[0], out[1]};
    int mark = 0;
    for (long done = 0; done < n;) {
        uint32_t nf = n - done < 256 ? (uint32_t)(n - done) : 256;
        for (uint32_t i = 0; i < nf; i++)
            for (int c = 0; c < C; c++) in[c][i] = x[(size_t)(done + i) * C + c];
        adv_live_process(e, ip, op, nf);
        for (uint32_t i = 0; i < nf; i++)
            for (int c = 0; c < C; c++) y[(size_t)(done + i) * C + c] = out[c][i];
        done += nf;
        drain(e, log);
        for (; mark < n_marks && done >= marks[mark]; mark++) {
            const double give_up = now() + 60;
            while (log->last_probs_frame[0] + (uint64_t)hop <= (uint64_t)marks[mark] ||
                   log->last_probs_frame[1] + (uint64_t)hop <= (uint64_t)marks[mark]) {
                if (now() > give_up) return -1;
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, NULL);
                drain(e, log);
            }
        }
    }
    return 0;
}

/* Largest |sanitised mono| of x over frames [a, b). */
static float peak_mono(const float *x, long a, long b, int C)
{
    float pk = 0;
    for (long i = a < 0 ? 0 : a; i < b; i++) {
        float acc = 0;
        for (int c = 0; c < C; c++) acc += live_sanitised(x[(size_t)i * C + c]);
        pk = fmaxf(pk, fabsf(acc / C));
    }
    return pk;
}

/* Every signal in turn (2 segments each; the silent ones a window longer, so that the windows
 * ending in their last two segments hear only them), then a plain tone and silence for the
 * latency; attacked (bypass = 0) or in bypass, in synchronous mode. */
static void test_live_run(adv_model *m, int C, adv_live_method method, int bypass)
{
    adv_live_config cfg;
    adv_live_config_default(&cfg, LIVE_RATE, C);
    cfg.latency_seconds = 1.0;
    cfg.window_seconds = 1.2;
    cfg.classify_hz = 20;
    cfg.attack_threads = 1;
    cfg.workers_keep_priority = 1;   /* stream() waits for the classifier: no need to starve it */
    cfg.synchronous = 1;
    cfg.sync_iterations = 10;
    adv_live_settings st;
    adv_live_settings_default(&st);
    st.method = method;
    st.target = ADV_LIVE_TARGET_RANDOM;
    st.eps = 0.05f;
    st.lr = 1e-2f;
    st.bypass = bypass;
    adv_live *e = adv_live_create(m, &cfg, &st);
    CHECK(e != NULL, "live: %s", adv_error());
    if (!e) return;
    const long S = adv_live_segment_frames(e), L = adv_live_latency(e), W = adv_live_window_frames(e);
    long start[N_SIGNALS + 2], n = 0;
    for (int k = 0; k <= N_SIGNALS; k++) {   /* N_SIGNALS: the plain tone, 4 segments */
        start[k] = n;
        n += k == N_SIGNALS ? 4 * S : k < N_SIGNALS && live_silent(k) ? W + 2 * S : 2 * S;
    }
    start[N_SIGNALS + 1] = n;
    n += L + S;   /* silence while the rest plays out */
    float *x = calloc((size_t)n * C, sizeof(float)), *y = malloc(sizeof(float) * (size_t)n * C);
    for (int k = 0; k <= N_SIGNALS; k++)
        make_signal(k, x + (size_t)start[k] * C, start[k + 1] - start[k], C, LIVE_RATE);
    live_log log;
    memset(&log, 0, sizeof log);
    memset(log.status, -1, sizeof log.status);
    CHECK(stream(e, x, y, n, C, start + 1, N_SIGNALS + 1, &log) == 0, "live: the classifier made no progress for 60 s");

    char what[128];
    snprintf(what, sizeof what, "live %s, %d channel(s)%s", adv_live_method_name(method), C, bypass ? ", bypass" : "");
    long bad = 0;
    for (long i = 0; i < n * C; i++)
        if (!(fabsf(y[i]) <= 1.0f)) bad++;
    CHECK(bad == 0, "%s: %ld output samples non-finite or outside [-1, 1]", what, bad);
    /* each segment: silent (every window ending in it hears only silence: reported silent and played
     * as the sanitised delayed input), or attacked (every window ending in it hears sound: ok or
     * failed, never missed); in bypass, everything is the sanitised delayed input */
    long silent_segs = 0, attacked_segs = 0;
    for (long a = 0; a + S <= n - L; a += S) {
        const int k = (int)(a / S);
        int sig = 0;
        while (sig < N_SIGNALS && start[sig + 1] <= a) sig++;
        const char *name = sig < N_SIGNALS ? signals[sig].name : "plain tone";
        long differ = 0;
        for (long i = a; i < a + S; i++)
            for (int c = 0; c < C; c++) {
                float want = live_sanitised(x[(size_t)i * C + c]), got = y[(size_t)(i + L) * C + c];
                if (memcmp(&want, &got, sizeof want) != 0) differ++;
            }
        const int all_silent = peak_mono(x, a - W, a + S, C) < 1e-6f, all_heard = peak_mono(x, a + S - W, a + 1, C) > 1e-3f;
        if (bypass || all_silent)
            CHECK(differ == 0, "%s, segment %d (%s): %ld samples differ from the sanitised delayed input", what, k, name, differ);
        if (bypass) {
            CHECK(log.status[k] < 0, "%s, segment %d (%s): reported %s in bypass", what, k, name,
                  adv_live_segment_status_name(log.status[k]));
        } else if (all_silent) {
            silent_segs++;
            CHECK(log.status[k] == ADV_LIVE_SEG_SILENT, "%s, segment %d (%s): status %s, expected silent", what, k, name,
                  log.status[k] < 0 ? "none" : adv_live_segment_status_name(log.status[k]));
        } else if (all_heard) {
            attacked_segs++;
            CHECK(log.status[k] == ADV_LIVE_SEG_OK || log.status[k] == ADV_LIVE_SEG_FAILED,
                  "%s, segment %d (%s): status %s, expected an attack", what, k, name,
                  log.status[k] < 0 ? "none" : adv_live_segment_status_name(log.status[k]));
        }
    }
    if (!bypass)
        CHECK(silent_segs >= 10 && attacked_segs >= 2 * (N_SIGNALS - 5), "%s: %ld silent and %ld attacked segments checked", what,
              silent_segs, attacked_segs);
    CHECK(log.bad_events == 0 && log.dup == 0, "%s: %ld events with non-finite or inconsistent numbers, %ld reported twice", what,
          log.bad_events, log.dup);
    CHECK(log.probs_events >= 2 * (N_SIGNALS + 1), "%s: only %ld probability events", what, log.probs_events);
    adv_live_stats stats;
    adv_live_get_stats(e, &stats);
    CHECK(stats.segments_miss == 0, "%s: %ld segments missed in synchronous mode", what, stats.segments_miss);
    printf("%s: segments ok %ld, failed %ld, miss %ld, clean %ld; %ld iterations; %ld probability events\n", what,
           stats.segments_ok, stats.segments_failed, stats.segments_miss, stats.segments_clean, stats.iterations,
           log.probs_events);
    adv_live_free(e);
    free(x);
    free(y);
}

int main(void)
{
    dir = tu_scratch_dir("test_numerics");
    adv_blas_set_threads(1);   /* one thread: steady on a machine busy with other tests */
    adv_model *m = adv_model_create_calibrated(3);
    CHECK(m != NULL, "model: %s", adv_error());
    if (!m) return tu_finish("test_numerics");
    double t = now();
    test_classifier(m);
    printf("classifier: %.1f s\n", now() - t);
    t = now();
    test_attacks(m);
    printf("attacks: %.1f s\n", now() - t);
    t = now();
    test_files(m);
    printf("files: %.1f s\n", now() - t);
    t = now();
    test_live_run(m, 1, ADV_LIVE_CW, 0);
    test_live_run(m, 2, ADV_LIVE_MSCW, 0);
    test_live_run(m, 2, ADV_LIVE_CW, 1);
    printf("live: %.1f s\n", now() - t);
    adv_model_free(m);
    return tu_finish("test_numerics");
}
