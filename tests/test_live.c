/* The live engine without JACK: this test plays the audio thread, calling adv_live_process with
 * varying period sizes (at real time for the deadline test, waiting for the attack worker where
 * perturbations must play).
 *   - bypass and method off: output = input delayed by L, bit for bit (mono and stereo), except
 *     out-of-range samples, clamped to [-1, 1]
 *   - perturbations: faded in and out at clip boundaries (continuity), output clamped to [-1, 1],
 *     non-finite input -> 0, never NaN
 *   - an impossible deadline: every attacked clip is a miss and plays clean
 *   - settings published under a concurrent writer are never torn */
#include "testutil.h"
#include "advinst/classifier.h"
#include "advinst/error.h"
#include "advinst/live.h"
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RATE 16000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* A test signal: two partials and a little noise, amplitude about 0.5. */
static void make_signal(float *x, long n, int channels, uint64_t seed)
{
    uint64_t rng = seed;
    for (long i = 0; i < n; i++) {
        float v = 0.3f * sinf(2 * (float)M_PI * 440.0f * i / RATE) + 0.15f * sinf(2 * (float)M_PI * 1250.0f * i / RATE) +
                  0.02f * tu_rand_uniform(&rng, -1, 1);
        for (int c = 0; c < channels; c++) x[(size_t)i * channels + c] = c ? 0.8f * v : v;
    }
}

typedef struct {
    int ok, failed, miss, clean, errors;
} clip_counts;

static void drain_events(adv_live *e, clip_counts *cc)
{
    adv_live_event ev;
    while (adv_live_poll_event(e, &ev)) {
        if (ev.type != ADV_LIVE_EV_CLIP) continue;
        if (getenv("TEST_LIVE_VERBOSE"))
            fprintf(stderr, "clip %ld: %s, target %d, %d -> %d (%.2f), snr %.1f, %ld iterations, %.2f s\n", ev.clip,
                    adv_live_clip_status_name(ev.status), ev.target, ev.before_class, ev.after_class,
                    ev.after_confidence, ev.snr_db, ev.iterations, ev.seconds);
        switch (ev.status) {
        case ADV_LIVE_CLIP_OK: cc->ok++; break;
        case ADV_LIVE_CLIP_FAILED: cc->failed++; break;
        case ADV_LIVE_CLIP_MISS: cc->miss++; break;
        case ADV_LIVE_CLIP_ERROR: cc->errors++; fprintf(stderr, "clip error: %s\n", ev.message); break;
        default: cc->clean++; break;
        }
    }
}

/* How run() paces the audio thread: as fast as it can, at real time (deadlines as in a real
 * stream), or patiently: before a period that reaches a clip's deadline it waits for the attack
 * worker to be done with that clip, so that what is checked does not depend on the machine's load
 * (the worker runs at low priority). */
enum { FAST = 0, REAL_TIME, PATIENT };

/* Waits (up to 60 s) until the attack worker is done with `clips` clips. */
static int wait_for_clips(adv_live *e, long clips, clip_counts *cc)
{
    const double give_up = now() + 60;
    adv_live_stats st;
    for (adv_live_get_stats(e, &st); st.clips_done < clips; adv_live_get_stats(e, &st)) {
        if (now() > give_up) return -1;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        if (cc) drain_events(e, cc);
    }
    return 0;
}

/* Runs interleaved x[n][C] through the engine in periods of varying size (256 when paced). */
static void run(adv_live *e, const float *x, float *y, long n, int C, int paced, clip_counts *cc)
{
    const long N = adv_live_clip_frames(e), L = adv_live_latency(e);
    long decided = 0;
    static const uint32_t sizes[] = {256, 32, 2048, 100, 64, 1000, 5000, 128, 512, 33};
    float *in[2], *out[2];
    for (int c = 0; c < C; c++) {
        in[c] = malloc(sizeof(float) * 5000);
        out[c] = malloc(sizeof(float) * 5000);
    }
    double t0 = now();
    long done = 0;
    for (int k = 0; done < n; k++) {
        uint32_t nf = paced ? 256 : sizes[k % 10];
        if ((long)nf > n - done) nf = (uint32_t)(n - done);
        for (; paced == PATIENT && done + nf >= decided * N + L; decided++)
            CHECK(wait_for_clips(e, decided + 1, cc) == 0, "the attack worker made no progress for 60 s");
        for (uint32_t i = 0; i < nf; i++)
            for (int c = 0; c < C; c++) in[c][i] = x[(size_t)(done + i) * C + c];
        adv_live_process(e, (const float *const *)in, out, nf);
        for (uint32_t i = 0; i < nf; i++)
            for (int c = 0; c < C; c++) y[(size_t)(done + i) * C + c] = out[c][i];
        done += nf;
        if (cc) drain_events(e, cc);
        if (paced == REAL_TIME) {
            double ahead = (double)done / RATE - (now() - t0);
            if (ahead > 0) {
                struct timespec ts = {(time_t)ahead, (long)((ahead - (time_t)ahead) * 1e9)};
                nanosleep(&ts, NULL);
            }
        }
    }
    for (int c = 0; c < C; c++) {
        free(in[c]);
        free(out[c]);
    }
}

static adv_live_config small_config(int channels)
{
    adv_live_config cfg;
    adv_live_config_default(&cfg, RATE, channels);
    cfg.clip_seconds = 1.0;
    cfg.budget_seconds = 1.0;
    cfg.classify = 0;
    cfg.attack_threads = 1;
    return cfg;
}

/* out[t] == in[t - L] exactly (0 before L). */
static int delayed_exact(const float *x, const float *y, long n, int C, long L)
{
    for (long t = 0; t < n; t++)
        for (int c = 0; c < C; c++) {
            float want = t >= L ? x[(size_t)(t - L) * C + c] : 0.0f;
            if (memcmp(&want, &y[(size_t)t * C + c], sizeof want) != 0) return 0;
        }
    return 1;
}

static void test_bypass(adv_model *m)
{
    for (int C = 1; C <= 2; C++) {
        adv_live_config cfg = small_config(C);
        cfg.classify = 1;   /* the classifier worker runs alongside; it must not disturb the output */
        for (int mode = 0; mode < 2; mode++) {
            adv_live_settings s;
            adv_live_settings_default(&s);
            s.target = 3;
            if (mode == 0) s.method = ADV_LIVE_OFF;
            else s.bypass = 1;
            adv_live *e = adv_live_create(m, &cfg, &s);
            CHECK(e != NULL, "create: %s", adv_error());
            if (!e) continue;
            const long L = adv_live_latency(e), n = 5 * RATE;
            CHECK(L == 2 * RATE, "latency %ld", L);
            float *x = malloc(sizeof(float) * n * C), *y = malloc(sizeof(float) * n * C);
            make_signal(x, n, C, 7 + C);
            x[(size_t)100 * C] = 1.5f;    /* out of range: clamped to [-1, 1], the rest bit for bit */
            x[(size_t)200 * C] = -2.0f;
            run(e, x, y, n, C, FAST, NULL);
            x[(size_t)100 * C] = 1.0f;
            x[(size_t)200 * C] = -1.0f;
            CHECK(delayed_exact(x, y, n, C, L), "%s, %d channel(s): output is not the input delayed by %ld",
                  mode ? "bypass" : "method off", C, L);
            adv_live_stats st;
            adv_live_get_stats(e, &st);
            CHECK(st.frames == (uint64_t)n, "frames %lu", (unsigned long)st.frames);
            adv_live_free(e);
            free(x);
            free(y);
        }
    }
}

static void test_perturbation(adv_model *m)
{
    const int C = 2;
    adv_live_config cfg = small_config(C);
    cfg.workers_keep_priority = 1;   /* run() waits for the worker: no need to starve it */
    adv_live_settings s;
    adv_live_settings_default(&s);
    s.target = ADV_LIVE_TARGET_RANDOM;
    s.eps = 0.05f;
    s.lr = 2e-3f;
    s.alpha = 10.0f;
    s.max_iter = 60;   /* ok or failed well before the deadline: either way a perturbation plays */
    adv_live *e = adv_live_create(m, &cfg, &s);
    CHECK(e != NULL, "create: %s", adv_error());
    if (!e) return;
    const long L = adv_live_latency(e), N = adv_live_clip_frames(e), n = 4 * N + L;
    const long ramp = lround(cfg.ramp_ms * RATE / 1000.0);
    float *x = malloc(sizeof(float) * n * C), *y = malloc(sizeof(float) * n * C);
    make_signal(x, n, C, 11);
    /* loud passages (clamping) and non-finite samples inside clip 1 */
    for (long i = N + 3000; i < N + 3400; i++) x[(size_t)i * C] = i % 2 ? 0.999f : -0.999f;
    x[(size_t)(N + 5000) * C] = NAN;
    x[(size_t)(N + 5001) * C + 1] = INFINITY;
    x[(size_t)(N + 5002) * C] = -INFINITY;
    clip_counts cc = {0};
    run(e, x, y, n, C, PATIENT, &cc);
    drain_events(e, &cc);

    int finite = 1, in_range = 1, envelope = 1, nan_zero = 1, perturbed_clips = 0;
    for (long t = 0; t < n * C; t++) finite &= isfinite(y[t]) != 0;
    for (long k = 0; k < 4; k++) {
        double energy = 0;
        for (long i = 0; i < N; i++) {
            long t = k * N + L + i;
            if (t >= n) break;
            for (int c = 0; c < C; c++) {
                float xin = x[(size_t)(k * N + i) * C + c];
                if (!isfinite(xin)) {
                    /* sanitised to 0, then perturbed: only the (small) perturbation remains */
                    nan_zero &= fabsf(y[(size_t)t * C + c]) <= s.eps * 1.0001f;
                    continue;
                }
                float p = y[(size_t)t * C + c] - xin;
                energy += (double)p * p;
                in_range &= fabsf(y[(size_t)t * C + c]) <= 1.0f;
                /* within the ramps, the perturbation is bounded by eps times the raised cosine */
                long edge = i < N - 1 - i ? i : N - 1 - i;
                if (edge < ramp) {
                    float w = 0.5f - 0.5f * cosf((float)M_PI * (edge + 0.5f) / ramp);
                    if (fabsf(p) > s.eps * w * 1.001f + 1e-6f) envelope = 0;
                }
            }
        }
        if (energy > 0) perturbed_clips++;
    }
    CHECK(finite, "the output has non-finite samples");
    CHECK(in_range, "perturbed output outside [-1, 1]");
    CHECK(nan_zero, "non-finite input not replaced by 0");
    CHECK(envelope, "perturbation not faded at clip boundaries");
    CHECK(perturbed_clips >= 2 && cc.ok + cc.failed >= 2, "perturbations played in %d clips (ok %d, failed %d, miss %d)",
          perturbed_clips, cc.ok, cc.failed, cc.miss);
    /* continuity across each boundary: both sides are near zero */
    for (long k = 1; k < 4; k++) {
        long t = k * N + L;
        for (int c = 0; c < C; c++) {
            float before = y[(size_t)(t - 1) * C + c] - x[(size_t)(k * N - 1) * C + c];
            float after = y[(size_t)t * C + c] - x[(size_t)(k * N) * C + c];
            CHECK(fabsf(before) < s.eps * 0.01f && fabsf(after) < s.eps * 0.01f, "jump at boundary %ld: %g, %g", k,
                  before, after);
        }
    }
    printf("perturbation: clips ok %d, failed %d, miss %d, clean %d\n", cc.ok, cc.failed, cc.miss, cc.clean);
    adv_live_free(e);
    free(x);
    free(y);
}

static void test_miss(adv_model *m)
{
    adv_live_config cfg = small_config(1);
    cfg.clip_seconds = 0.5;
    cfg.budget_seconds = 0.05;   /* far too little for the attack below */
    adv_live_settings s;
    adv_live_settings_default(&s);
    s.target = ADV_LIVE_TARGET_RANDOM;
    s.lr = 1e-9f;                /* never succeeds */
    s.max_iter = 1000000;
    adv_live *e = adv_live_create(m, &cfg, &s);
    CHECK(e != NULL, "create: %s", adv_error());
    if (!e) return;
    const long L = adv_live_latency(e), N = adv_live_clip_frames(e), n = 5 * N + L;
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    make_signal(x, n, 1, 3);
    clip_counts cc = {0};
    run(e, x, y, n, 1, REAL_TIME, &cc);
    drain_events(e, &cc);
    adv_live_stats st;
    adv_live_get_stats(e, &st);
    CHECK(cc.miss >= 4 && cc.ok == 0 && cc.failed == 0, "misses %d, ok %d, failed %d", cc.miss, cc.ok, cc.failed);
    CHECK(st.clips_miss == cc.miss, "stats count %ld misses, events %d", st.clips_miss, cc.miss);
    CHECK(delayed_exact(x, y, n, 1, L), "missed clips did not play clean");
    printf("impossible deadline: %d misses\n", cc.miss);
    adv_live_free(e);
    free(x);
    free(y);
}

/* ---- settings under a concurrent writer ---- */

typedef struct {
    adv_live *e;
    int reader;
    atomic_int *stop;
    long reads, torn, backwards;
} reader_arg;

static void fill_settings(adv_live_settings *s, uint64_t k)
{
    memset(s, 0, sizeof *s);
    s->method = ADV_LIVE_OFF;   /* keeps the attack worker idle */
    s->target = (int)(k % 12);
    s->eps = (float)k;
    s->alpha = (float)(2 * k);
    s->lr = (float)(3 * k);
    s->max_iter = (long)k;
    s->bypass = (int)(k & 1);
    snprintf(s->preset, sizeof s->preset, "preset-%lu", (unsigned long)k);
}

static void *reader_main(void *p)
{
    reader_arg *a = p;
    uint64_t last = 0;
    while (!atomic_load(a->stop)) {
        adv_live_settings s, want;
        adv_live_read_settings(a->e, a->reader, &s);
        a->reads++;
        uint64_t k = (uint64_t)s.max_iter;   /* the writer's counter, every field derives from it */
        fill_settings(&want, k);
        want.version = s.version;
        if (memcmp(&s, &want, sizeof s) != 0) a->torn++;
        if (s.version < last) a->backwards++;
        last = s.version;
    }
    return NULL;
}

static void test_settings_swap(adv_model *m)
{
    adv_live_config cfg = small_config(1);
    adv_live_settings s;
    fill_settings(&s, 1);
    adv_live *e = adv_live_create(m, &cfg, &s);
    CHECK(e != NULL, "create: %s", adv_error());
    if (!e) return;
    atomic_int stop = 0;
    reader_arg ra[2] = {{e, ADV_LIVE_READER_USER0, &stop, 0, 0, 0}, {e, ADV_LIVE_READER_USER1, &stop, 0, 0, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, reader_main, &ra[i]);
    /* the audio thread reads too, in bypass or not, while the writer publishes */
    float zin[64] = {0}, zout[64];
    const float *in[1] = {zin};
    float *out[1] = {zout};
    uint64_t last_version = 0;
    for (uint64_t k = 2; k < 200000; k++) {
        fill_settings(&s, k);
        uint64_t v = adv_live_publish(e, &s);
        CHECK(v > last_version, "versions not increasing");
        last_version = v;
        if (k % 64 == 0) adv_live_process(e, in, out, 64);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        CHECK(ra[i].reads > 1000 && ra[i].torn == 0 && ra[i].backwards == 0, "reader %d: %ld reads, %ld torn, %ld backwards",
              i, ra[i].reads, ra[i].torn, ra[i].backwards);
        printf("settings reader %d: %ld reads, %ld torn\n", i, ra[i].reads, ra[i].torn);
    }
    adv_live_free(e);
}

int main(void)
{
    adv_model *m = adv_model_create(1);
    CHECK(m != NULL, "model: %s", adv_error());
    if (!m) return tu_finish("test_live");
    double t = now();
    test_bypass(m);
    printf("bypass: %.1f s\n", now() - t);
    t = now();
    test_settings_swap(m);
    printf("settings: %.1f s\n", now() - t);
    t = now();
    test_miss(m);
    printf("miss: %.1f s\n", now() - t);
    t = now();
    test_perturbation(m);
    printf("perturbation: %.1f s\n", now() - t);
    adv_model_free(m);
    return tu_finish("test_live");
}
