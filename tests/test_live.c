/* The live engine without JACK: this test plays the audio thread, calling adv_live_process at
 * 48 kHz with period sizes from 32 to 5000 frames.
 *   - method off, bypass and no target: the output is the input delayed by L, bit for bit (mono and
 *     stereo), except the samples the engine sanitises (NaN, +-Inf, denormals and -0 -> 0, out of
 *     range -> clamped to [-1, 1]); nothing is reported;
 *   - settings published under a concurrent writer are never torn;
 *   - synchronous mode (the attack inside adv_live_process, deterministic): a second run gives the
 *     same output bit for bit; a listener (adv_listen) hears the target in most windows of an
 *     attacked tone; the output is finite and within [-1, 1], sanitised input carries only the
 *     perturbation, which stays within eps; segments join seamlessly (no step across a segment
 *     boundary larger than within segments); the perturbation fades out (the linear bypass gain)
 *     when bypass goes on, fades in (raised cosine) where it starts again, fades out within 10 ms
 *     of the segment where the target became none, and is exactly 0 wherever nothing is added;
 *     the attack runs sync_iterations per second of audio, on attack_threads OpenMP threads;
 *   - external worker mode with adv_live_work called late: every segment committed after its start
 *     has begun to play is reported miss (nothing else is) and plays clean, the segment before it
 *     fades out and the next perturbed one fades in; a successor committed while its predecessor
 *     is already fading out does not undo the fade (no click).
 * TEST_LIVE_VERBOSE=1 prints every segment report. */
#include "testutil.h"
#include "advinst/blas.h"
#include "advinst/classifier.h"
#include "advinst/error.h"
#include "advinst/listen.h"
#include "advinst/live.h"
#include <float.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RATE 48000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* What the engine makes of an input sample (include/advinst/live.h). */
static float sanitised(float v)
{
    if (!isfinite(v) || fabsf(v) < FLT_MIN) return 0.0f;
    return v > 1.0f ? 1.0f : (v < -1.0f ? -1.0f : v);
}

/* A tone as tests/test_stream.c attacks: two partials (one amplitude-modulated) and a little noise;
 * the second channel at 0.7 of the first. */
static void tone(float *x, long n, int C, uint64_t seed, float amp)
{
    uint64_t r = seed;
    for (long i = 0; i < n; i++) {
        double t = (double)i / RATE;
        float v = amp * (float)(0.6 * sin(2 * M_PI * 330 * t) + 0.3 * sin(2 * M_PI * 1210 * t) * (1 + 0.5 * sin(2 * M_PI * 3 * t))) +
                  0.01f * amp * adv_rng_normal(&r);
        for (int c = 0; c < C; c++) x[(size_t)i * C + c] = c ? 0.7f * v : v;
    }
}

/* The engine's raised-cosine fade weight k samples into a fade of `ramp` samples. */
static double fade_w(long k, long ramp) { return k < ramp ? 0.5 - 0.5 * cos(M_PI * (k + 0.5) / ramp) : 1.0; }

/* ---- events ---- */

typedef struct {
    long n;                  /* segments tracked */
    signed char *status;     /* per segment number, -1 until reported */
    long count[ADV_LIVE_SEG_ERROR + 1];
    long probs, bad, dup;    /* probability events; malformed events; segments reported twice */
    double snr_sum;
    long snr_n;
} seg_log;

static void log_init(seg_log *l, long n)
{
    memset(l, 0, sizeof *l);
    l->n = n;
    l->status = malloc((size_t)n);
    memset(l->status, -1, (size_t)n);
}

static void drain(adv_live *e, seg_log *log)
{
    const long S = adv_live_segment_frames(e);
    adv_live_event ev;
    while (adv_live_poll_event(e, &ev)) {
        if (!log) continue;
        if (ev.type == ADV_LIVE_EV_PROBS) {
            double sum = 0;
            int ok = ev.stream == 0 || ev.stream == 1;
            for (int k = 0; k < ADV_N_CLASSES; k++) {
                ok &= isfinite(ev.probs[k]) && ev.probs[k] >= 0;
                sum += ev.probs[k];
            }
            log->probs++;
            if (!ok || fabs(sum - 1) > 1e-4) log->bad++;
            continue;
        }
        const int st = (int)ev.status;
        if (getenv("TEST_LIVE_VERBOSE"))
            fprintf(stderr, "segment %ld (%.2f s): %s, target %d, %d/%d windows, heard %d %.2f, SNR %.1f dB, %ld iterations\n",
                    ev.segment, (double)ev.frame / RATE, adv_live_segment_status_name(ev.status), ev.target, ev.hits,
                    ev.windows, ev.after_class, ev.after_confidence, ev.snr_db, ev.iterations);
        if (st < 0 || st > ADV_LIVE_SEG_ERROR || ev.frames != S || ev.frame != (uint64_t)ev.segment * (uint64_t)S ||
            ev.hits < 0 || ev.hits > ev.windows || !isfinite(ev.after_confidence) || isnan(ev.snr_db) ||
            (st == ADV_LIVE_SEG_MISS && ev.snr_db != INFINITY)) {
            log->bad++;
            continue;
        }
        if (st == ADV_LIVE_SEG_ERROR) fprintf(stderr, "segment %ld: error %s\n", ev.segment, ev.message);
        if (isfinite(ev.snr_db)) log->snr_sum += ev.snr_db, log->snr_n++;
        log->count[st]++;
        if (ev.segment >= 0 && ev.segment < log->n) {
            if (log->status[ev.segment] >= 0) log->dup++;
            log->status[ev.segment] = (signed char)st;
        }
    }
}

/* ---- the audio thread ---- */

/* Called before each period with the frames processed so far and the period's size: may publish
 * settings or run attack work, and returns the frames to process now (1..nf), so that an action
 * can fall on an exact frame. */
typedef uint32_t (*before_fn)(adv_live *e, long done, uint32_t nf, void *ctx);

/* Runs interleaved x[n][C] through the engine into y in periods of varying size. */
static void run(adv_live *e, const float *x, float *y, long n, int C, before_fn before, void *ctx, seg_log *log)
{
    static const uint32_t sizes[] = {256, 32, 2048, 100, 64, 1000, 5000, 128, 512, 33};
    float *in[2], *out[2];
    for (int c = 0; c < C; c++) {
        in[c] = malloc(sizeof(float) * 5000);
        out[c] = malloc(sizeof(float) * 5000);
    }
    long done = 0;
    for (int k = 0; done < n; k++) {
        uint32_t nf = sizes[k % 10];
        if ((long)nf > n - done) nf = (uint32_t)(n - done);
        if (before) nf = before(e, done, nf, ctx);
        for (uint32_t i = 0; i < nf; i++)
            for (int c = 0; c < C; c++) in[c][i] = x[(size_t)(done + i) * C + c];
        adv_live_process(e, (const float *const *)in, out, nf);
        for (uint32_t i = 0; i < nf; i++)
            for (int c = 0; c < C; c++) y[(size_t)(done + i) * C + c] = out[c][i];
        done += nf;
        drain(e, log);
    }
    for (int c = 0; c < C; c++) {
        free(in[c]);
        free(out[c]);
    }
}

/* Output frames [u0, u1) that differ from the sanitised input L frames earlier (0 before L). */
static long differ_from_delayed(const float *x, const float *y, long u0, long u1, int C, long L)
{
    long differ = 0;
    for (long u = u0; u < u1; u++)
        for (int c = 0; c < C; c++) {
            float want = u >= L ? sanitised(x[(size_t)(u - L) * C + c]) : 0.0f;
            if (memcmp(&want, &y[(size_t)u * C + c], sizeof want) != 0) {
                differ++;
                break;
            }
        }
    return differ;
}

/* The perturbation heard at each output frame u: output minus the sanitised input L frames earlier,
 * from an unclamped channel (all channels share it); NAN where unknown (before L, all clamped). */
static float *heard_perturbation(const float *x, const float *y, long n, int C, long L)
{
    float *q = malloc(sizeof(float) * (size_t)n);
    for (long u = 0; u < n; u++) {
        q[u] = NAN;
        for (int c = 0; u >= L && c < C; c++) {
            float v = y[(size_t)u * C + c];
            if (fabsf(v) < 1.0f) {
                q[u] = v - sanitised(x[(size_t)(u - L) * C + c]);
                break;
            }
        }
    }
    return q;
}

/* Largest |q| over [u0, u1) (NAN ignored). */
static double max_abs(const float *q, long u0, long u1)
{
    double m = 0;
    for (long u = u0; u < u1; u++)
        if (fabsf(q[u]) > m) m = fabsf(q[u]);
    return m;
}

/* Frames of [u, u + ramp) where |q| exceeds eps times the fade-in weight (k = 0 at u), or of
 * (u - ramp, u] where it exceeds the fade-out weight (k = 0 at u), dir -1. */
static long outside_fade(const float *q, long u, long ramp, float eps, int dir)
{
    long bad = 0;
    for (long k = 0; k < ramp; k++)
        if (fabsf(q[u + dir * k]) > eps * fade_w(k, ramp) * 1.001 + 1e-6) bad++;
    return bad;
}

/* ---- pass-through: method off, bypass, no target ---- */

static void test_passthrough(adv_model *m)
{
    static const char *const modes[3] = {"method off", "bypass", "no target"};
    static const float special[] = {1.5f, -2.0f, NAN, INFINITY, -INFINITY, 1e-40f, -1e-39f, -0.0f,
                                    FLT_MIN, -FLT_MIN, 1.0f, -1.0f, 3e38f};
    const int n_special = (int)(sizeof special / sizeof special[0]);
    for (int C = 1; C <= 2; C++)
        for (int mode = 0; mode < 3; mode++) {
            adv_live_config cfg;
            adv_live_config_default(&cfg, RATE, C);   /* the defaults: latency 2 s, both workers running */
            cfg.attack_threads = 1;
            adv_live_settings s;
            adv_live_settings_default(&s);
            s.target = 3;
            if (mode == 0) s.method = ADV_LIVE_OFF;
            else if (mode == 1) s.bypass = 1;
            else s.target = ADV_LIVE_TARGET_NONE;
            adv_live *e = adv_live_create(m, &cfg, &s);
            CHECK(e != NULL, "create: %s", adv_error());
            if (!e) continue;
            const long L = adv_live_latency(e), S = adv_live_segment_frames(e), n = 5 * RATE;
            CHECK(L == 2 * RATE && S == RATE / 5, "latency %ld, segments %ld frames", L, S);
            float *x = malloc(sizeof(float) * (size_t)n * C), *y = malloc(sizeof(float) * (size_t)n * C);
            tone(x, n, C, 7 + C, 0.5f);
            for (int i = 0; i < n_special; i++) x[(size_t)(1000 + 37 * i) * C + i % C] = special[i];
            for (long i = RATE; i < RATE + 500; i++) x[(size_t)i * C] = i % 2 ? 1e-42f : -2e-39f;   /* a run of denormals */
            seg_log log;
            log_init(&log, n / S + 1);
            run(e, x, y, n, C, NULL, NULL, &log);
            long differ = differ_from_delayed(x, y, 0, n, C, L);
            CHECK(differ == 0, "%s, %d channel(s): %ld frames are not the sanitised input delayed by %ld", modes[mode], C,
                  differ, L);
            long reported = 0;
            for (int k = 0; k <= ADV_LIVE_SEG_ERROR; k++) reported += log.count[k];
            CHECK(reported == 0 && log.bad == 0, "%s: %ld segments reported (nothing is attacked), %ld bad events", modes[mode],
                  reported, log.bad);
            adv_live_stats st;
            adv_live_get_stats(e, &st);
            CHECK(st.frames == (uint64_t)n && st.iterations == 0, "%s: frames %lu, iterations %ld", modes[mode],
                  (unsigned long)st.frames, st.iterations);
            adv_live_free(e);
            free(x);
            free(y);
            free(log.status);
        }
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
    s->confidence = (float)(5 * k);
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
    adv_live_config cfg;
    adv_live_config_default(&cfg, RATE, 1);
    cfg.classify = 0;
    cfg.attack_threads = 1;
    adv_live_settings s;
    fill_settings(&s, 1);
    adv_live *e = adv_live_create(m, &cfg, &s);
    CHECK(e != NULL, "create: %s", adv_error());
    if (!e) return;
    atomic_int stop = 0;
    reader_arg ra[2] = {{e, ADV_LIVE_READER_USER0, &stop, 0, 0, 0}, {e, ADV_LIVE_READER_USER1, &stop, 0, 0, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, reader_main, &ra[i]);
    /* the audio thread and the attack worker read too, in bypass or not, while the writer publishes */
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

/* ---- the attack ---- */

/* Small and quick: latency 1 s, 1.2 s windows, no classifier worker, one attack thread. */
static adv_live_config attack_config(int C)
{
    adv_live_config cfg;
    adv_live_config_default(&cfg, RATE, C);
    cfg.latency_seconds = 1.0;
    cfg.window_seconds = 1.2;
    cfg.classify = 0;
    cfg.attack_threads = 1;
    return cfg;
}

/* The clean tone's class and its runner-up (a target this random model can reach). */
static int runner_up(adv_model *m, const float *x, long n, int C, int *orig)
{
    float logits[ADV_N_CLASSES];
    adv_audio a = {(float *)x, n, C, RATE, 0};
    adv_classify_audio(m, &a, logits);
    int o = 0, t = -1;
    for (int k = 1; k < ADV_N_CLASSES; k++)
        if (logits[k] > logits[o]) o = k;
    for (int k = 0; k < ADV_N_CLASSES; k++)
        if (k != o && (t < 0 || logits[k] > logits[t])) t = k;
    *orig = o;
    return t;
}

/* Windows (adv_listen, window W every 0.1 s) of the mono mix of interleaved z[n][C] heard as `cls`,
 * out of *count. */
static long heard_as(adv_model *m, const float *z, long n, int C, long W, int cls, long *count)
{
    float *mono = malloc(sizeof(float) * (size_t)n);
    for (long i = 0; i < n; i++) {
        float acc = 0;
        for (int c = 0; c < C; c++) acc += sanitised(z[(size_t)i * C + c]);
        mono[i] = acc / C;
    }
    const long hop = RATE / 10;
    *count = adv_listen_count(n, W, hop);
    adv_listen_window *lw = malloc(sizeof *lw * (size_t)*count);
    long hits = 0;
    CHECK(adv_listen(m, mono, n, RATE, W, hop, lw) == 0, "listen: %s", adv_error());
    for (long k = 0; k < *count; k++) hits += lw[k].cls == cls;
    free(lw);
    free(mono);
    return hits;
}

/* Settings changes at fixed frames: bypass on, bypass off, target none. */
enum { AT_BYPASS_ON, AT_BYPASS_OFF, AT_TARGET_NONE, N_AT };
typedef struct {
    adv_live_settings s;
    long at[N_AT];
    int next;
} schedule;

static uint32_t scheduled(adv_live *e, long done, uint32_t nf, void *ctx)
{
    schedule *sc = ctx;
    for (; sc->next < N_AT && done >= sc->at[sc->next]; sc->next++) {
        if (sc->next == AT_BYPASS_ON) sc->s.bypass = 1;
        else if (sc->next == AT_BYPASS_OFF) sc->s.bypass = 0;
        else sc->s.target = ADV_LIVE_TARGET_NONE;
        adv_live_publish(e, &sc->s);
    }
    if (sc->next < N_AT && done + (long)nf > sc->at[sc->next]) nf = (uint32_t)(sc->at[sc->next] - done);
    return nf;
}

static const double SYNC_IPS = 40;

/* One synchronous run of x[n] (the first `n` frames of the schedule) into y; stats into st. */
static void sync_run(adv_model *m, const float *x, float *y, long n, int C, const adv_live_settings *s0,
                     const long *at, seg_log *log, adv_live_stats *st)
{
    adv_live_config cfg = attack_config(C);
    cfg.synchronous = 1;
    cfg.sync_iterations = SYNC_IPS;
    adv_live *e = adv_live_create(m, &cfg, s0);
    CHECK(e != NULL, "create: %s", adv_error());
    if (!e) return;
    schedule sc;
    sc.s = *s0;
    memcpy(sc.at, at, sizeof sc.at);
    sc.next = 0;
    run(e, x, y, n, C, scheduled, &sc, log);
    adv_live_get_stats(e, st);
    adv_live_free(e);
}

/* The attack on a stereo tone in synchronous mode, then bypass on and off, then no target. */
static void test_synchronous(adv_model *m)
{
    const int C = 2;
    const long n = (long)(7.5 * RATE);
    float *x = malloc(sizeof(float) * (size_t)n * C), *y = malloc(sizeof(float) * (size_t)n * C);
    tone(x, n, C, 3, 0.25f);
    int orig, target = runner_up(m, x, 4 * RATE, C, &orig);
    /* a loud burst (clamping) and non-finite, denormal and out-of-range samples inside the attack */
    const long burst = (long)(2.5 * RATE);
    for (long i = burst; i < burst + 400; i++)
        for (int c = 0; c < C; c++) x[(size_t)i * C + c] = i % 2 ? 0.999f : -0.999f;
    const long odd[] = {burst + 1000, burst + 1001, burst + 1002, burst + 1003, burst + 1004};
    x[(size_t)odd[0] * C] = NAN;
    x[(size_t)odd[1] * C + 1] = INFINITY;
    x[(size_t)odd[2] * C] = -INFINITY;
    x[(size_t)odd[3] * C] = 1e-40f;
    x[(size_t)odd[4] * C + 1] = 3.0f;
    adv_live_settings s0;
    adv_live_settings_default(&s0);
    s0.target = target;
    s0.bound_db = 0;   /* eps alone bounds it: the checks below look for perturbations of eps / 4 */
    const float eps = s0.eps;
    const long at[N_AT] = {(long)(4.5 * RATE), (long)(5.3 * RATE), (long)(6.5 * RATE)};
    const adv_live_config cfg = attack_config(C);
    const long L = lround(cfg.latency_seconds * RATE), S = lround(cfg.segment_seconds * RATE),
               W = lround(cfg.window_seconds * RATE), ramp = lround(cfg.ramp_ms * RATE / 1000.0), fade100 = RATE / 100;
    seg_log log;
    log_init(&log, n / S + 1);
    adv_live_stats st;
    double t0 = now();
    sync_run(m, x, y, n, C, &s0, at, &log, &st);
    printf("synchronous run: %.1f s for %.1f s of audio (process CPU time so far %.1f s)\n", now() - t0, (double)n / RATE,
           (double)clock() / CLOCKS_PER_SEC);

    long bad = 0;
    for (long i = 0; i < n * C; i++) bad += !(fabsf(y[i]) <= 1.0f);
    CHECK(bad == 0, "%ld output samples non-finite or outside [-1, 1]", bad);
    CHECK(differ_from_delayed(x, y, 0, L, C, L) == 0, "the output is not silent before the latency");
    float *q = heard_perturbation(x, y, n, C, L);
    CHECK(max_abs(q, 0, n) <= eps + 1e-6, "the perturbation exceeds eps: %g", max_abs(q, 0, n));
    for (int i = 0; i < 4; i++) {   /* sanitised to 0, then perturbed: only the perturbation remains */
        const float v = y[(size_t)(odd[i] + L) * C + (i == 1)];
        CHECK(fabsf(v) <= eps + 1e-6f, "sanitised sample %d: output %g", i, v);
    }
    CHECK(y[(size_t)(odd[4] + L) * C + 1] >= 1.0f - eps - 1e-6f, "over-range sample: output %g",
          y[(size_t)(odd[4] + L) * C + 1]);

    /* seamless: across segment boundaries no larger step than within segments */
    double edge = 0, within = 0;
    for (long u = L + 1; u < n; u++) {
        if (isnan(q[u]) || isnan(q[u - 1])) continue;
        double step = fabs((double)q[u] - q[u - 1]);
        if ((u - L) % S == 0) edge = fmax(edge, step);
        else within = fmax(within, step);
    }
    CHECK(within > 0 && edge <= within, "steps: largest across a segment boundary %g, within segments %g", edge, within);

    /* bypass on: the linear gain takes the perturbation out over the ramp, then nothing */
    const long tb = at[AT_BYPASS_ON], ton = at[AT_BYPASS_OFF], tn = at[AT_TARGET_NONE];
    CHECK(max_abs(q, tb - S, tb) > eps / 4, "no perturbation before bypass (%g)", max_abs(q, tb - S, tb));
    long over = 0;
    for (long k = 0; k < ramp; k++)
        if (fabsf(q[tb + k]) > eps * fmax(0.0, 1.0 - (k + 1.0) / ramp) + 1e-6) over++;
    CHECK(over == 0, "bypass on: %ld frames of the ramp above the gain", over);
    /* bypass off: clean until the first perturbed segment, which fades in (from its first frame:
     * the ramp's first gains are so small that the first frames' change may round away in one
     * channel and not in the other, so the output is bit-exact up to that segment's start) */
    long u1 = ton;
    while (u1 < n && q[u1] == 0) u1++;
    const long c1 = (u1 - L) / S * S;
    CHECK(differ_from_delayed(x, y, tb + ramp, c1 + L, C, L) == 0, "bypass: the output is not the delayed input");
    CHECK(u1 > ton && u1 <= ton + L && u1 - L - c1 < ramp, "bypass off: the perturbation starts at %.4f s (bypass off at %.2f s)",
          (double)u1 / RATE, (double)ton / RATE);
    CHECK(outside_fade(q, c1 + L, ramp, eps, 1) == 0, "bypass off: the perturbation does not fade in");
    /* no target: within 10 ms of a segment start committed after the change, the perturbation fades
     * from where it was to 0 (the stream attack's fade), then nothing */
    long z = n - 1;
    while (z > tn && q[z] == 0) z--;
    CHECK(differ_from_delayed(x, y, z + 1, n, C, L) == 0, "no target: the output is not the delayed input");
    const long c2 = (z - L) / S * S;
    CHECK(z - L - c2 < fade100 && c2 >= tn - L && c2 <= tn, "no target (at %.2f s input time): the perturbation ends at %.4f s",
          (double)(tn - L) / RATE, (double)(z - L) / RATE);
    over = 0;
    const double from = fabsf(q[c2 + L - 1]);
    for (long i = 0; i <= z - L - c2; i++)
        if (fabsf(q[c2 + L + i]) > from * (0.5 + 0.5 * cos(M_PI * (i + 1) / fade100)) * 1.001 + 1e-6) over++;
    CHECK(from > 0 && over == 0, "no target: %ld frames above the fade from %g", over, from);

    /* the listener: windows of the attacked output (up to the bypass), against the clean input's */
    const long span = tb - L;
    long count, clean_count;
    const long hits = heard_as(m, y + (size_t)L * C, span, C, W, target, &count);
    const long clean_hits = heard_as(m, x, span, C, W, target, &clean_count);
    CHECK(count >= 20 && hits * 10 >= count * 8, "the listener heard the target in %ld of %ld windows", hits, count);
    CHECK(clean_hits * 5 <= clean_count, "the clean tone is heard as the target in %ld of %ld windows", clean_hits, clean_count);

    /* reports: every segment attacked, none missed (the attack runs in the audio thread) */
    const double attacked = (double)(tb + tn - ton) / RATE;
    CHECK(log.count[ADV_LIVE_SEG_MISS] == 0 && log.count[ADV_LIVE_SEG_ERROR] == 0 && log.bad == 0 && log.dup == 0,
          "misses %ld, errors %ld, bad events %ld, duplicates %ld", log.count[ADV_LIVE_SEG_MISS],
          log.count[ADV_LIVE_SEG_ERROR], log.bad, log.dup);
    CHECK(log.count[ADV_LIVE_SEG_OK] + log.count[ADV_LIVE_SEG_FAILED] >= (long)(attacked * RATE / S) - 8 &&
              st.segments_ok == log.count[ADV_LIVE_SEG_OK] && st.segments_failed == log.count[ADV_LIVE_SEG_FAILED],
          "segments ok %ld (stats %ld), failed %ld (stats %ld)", log.count[ADV_LIVE_SEG_OK], st.segments_ok,
          log.count[ADV_LIVE_SEG_FAILED], st.segments_failed);
    CHECK(st.iterations <= lround(SYNC_IPS * attacked) + 1 && st.iterations >= lround(SYNC_IPS * (attacked - 1.5)),
          "%ld iterations for %.1f s attacked at %g per second", st.iterations, attacked, SYNC_IPS);
    printf("synchronous attack: %ld of %ld windows heard as the target (clean: %ld), segments ok %ld, failed %ld, "
           "mean SNR %.1f dB, %ld iterations\n", hits, count, clean_hits, log.count[ADV_LIVE_SEG_OK],
           log.count[ADV_LIVE_SEG_FAILED], log.snr_n ? log.snr_sum / log.snr_n : NAN, st.iterations);

    /* deterministic: the same input and settings again (the first 3 s) give the same output */
    const long n2 = 3 * RATE;
    float *y2 = malloc(sizeof(float) * (size_t)n2 * C);
    adv_live_stats st2;
    sync_run(m, x, y2, n2, C, &s0, at, NULL, &st2);
    CHECK(memcmp(y, y2, sizeof(float) * (size_t)n2 * C) == 0, "synchronous mode: a second run differs");
    free(y2);
    free(q);
    free(x);
    free(y);
    free(log.status);
}

/* Synchronous mode runs the attack on the calling thread with attack_threads OpenMP threads. */
static void *sync_threads_main(void *arg)
{
    adv_model *m = arg;
    adv_live_config cfg = attack_config(1);
    cfg.synchronous = 1;
    cfg.attack_threads = adv_blas_threads() + 1;   /* not this thread's default */
    adv_live_settings s;
    adv_live_settings_default(&s);
    s.target = 1;
    adv_live *e = adv_live_create(m, &cfg, &s);
    CHECK(e != NULL, "create: %s", adv_error());
    if (!e) return NULL;
    float zin[256] = {0}, zout[256];
    const float *in[1] = {zin};
    float *out[1] = {zout};
    adv_live_process(e, in, out, 256);
    CHECK(adv_blas_threads() == cfg.attack_threads, "synchronous mode: %d OpenMP threads, attack_threads %d",
          adv_blas_threads(), cfg.attack_threads);
    adv_live_free(e);
    return NULL;
}

static void test_sync_threads(adv_model *m)
{
    pthread_t th;
    pthread_create(&th, NULL, sync_threads_main, m);
    pthread_join(th, NULL);
}

/* ---- misses: adv_live_work called late ---- */

typedef struct {
    long L, S, ramp, grid;
    long stall1, resume1;          /* no work in (stall1, resume1) */
    long stall2, fade2, resume2;   /* no work in (stall2, resume2): resume2 falls inside a fade-out */
    long c1, c2;                   /* commit points when the stalls began */
    long next_work, calls;
} workplan;

static uint32_t work_hook(adv_live *e, long done, uint32_t nf, void *ctx)
{
    workplan *w = ctx;
    const int stalled = (done > w->stall1 && done < w->resume1) || (done > w->stall2 && done < w->resume2);
    const int edge = done == w->stall1 || done == w->resume1 || done == w->stall2 || done == w->resume2;
    if (!stalled && (done >= w->next_work || edge)) {
        adv_live_work(e, 0.0);   /* takes the input, commits what must be, one iteration */
        w->calls++;
        w->next_work = (done / w->grid + 1) * w->grid;
        adv_live_stats st;
        adv_live_get_stats(e, &st);
        if (done == w->stall1) w->c1 = st.segments_done * w->S;
        if (done == w->stall2) {
            /* resume when the audio thread is half way through the fade-out of the last committed
             * segment (the next one is not there yet): the next one comes in time, but late for that */
            w->c2 = st.segments_done * w->S;
            w->fade2 = w->c2 + w->L - w->ramp;
            w->resume2 = w->fade2 + w->ramp / 2;
        }
    }
    const long cuts[] = {w->stall1, w->resume1, w->stall2, w->fade2, w->resume2};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
        if (cuts[i] > done && done + (long)nf > cuts[i]) nf = (uint32_t)(cuts[i] - done);
    return nf;
}

static void test_misses(adv_model *m)
{
    const int C = 1;
    adv_live_config cfg = attack_config(C);
    cfg.external_worker = 1;
    const long n = 8 * RATE;
    float *x = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
    tone(x, n, C, 5, 0.25f);
    int orig;
    adv_live_settings s;
    adv_live_settings_default(&s);
    s.target = runner_up(m, x, 4 * RATE, C, &orig);
    s.max_iter = ADV_LIVE_MAX_ITER;   /* one iteration per adv_live_work(e, 0), whatever the clock says */
    s.bound_db = 0;   /* eps alone bounds it: the checks below look for perturbations of eps / 4 */
    const float eps = s.eps;
    adv_live *e = adv_live_create(m, &cfg, &s);
    CHECK(e != NULL, "create: %s", adv_error());
    if (!e) return;
    workplan w = {0};
    w.L = adv_live_latency(e);
    w.S = adv_live_segment_frames(e);
    w.ramp = lround(cfg.ramp_ms * RATE / 1000.0);
    w.grid = RATE / 20;
    w.stall1 = 3 * RATE;
    w.resume1 = w.stall1 + (long)(1.6 * RATE);   /* longer than the latency */
    w.stall2 = 6 * RATE;
    w.fade2 = w.resume2 = LONG_MAX;
    const long L = w.L, S = w.S, ramp = w.ramp;
    seg_log log;
    log_init(&log, n / S + 1);
    run(e, x, y, n, C, work_hook, &w, &log);
    adv_live_stats st;
    adv_live_get_stats(e, &st);
    adv_live_free(e);

    long bad = 0;
    for (long i = 0; i < n * C; i++) bad += !(fabsf(y[i]) <= 1.0f);
    CHECK(bad == 0, "%ld output samples non-finite or outside [-1, 1]", bad);
    float *q = heard_perturbation(x, y, n, C, L);
    CHECK(max_abs(q, 0, n) <= eps + 1e-6, "the perturbation exceeds eps: %g", max_abs(q, 0, n));

    /* stall 1: the segments that started playing before the late adv_live_work are misses */
    const long m0 = w.c1 / S, m1 = (w.resume1 - L + S - 1) / S;   /* segments [m0, m1) */
    const long played = (n - L) / S;                              /* segments that started playing */
    CHECK(w.c1 > 0 && m1 - m0 >= 5, "stall 1: commit point %ld, misses expected for segments %ld to %ld", w.c1, m0, m1 - 1);
    long wrong = 0, unreported = 0;
    for (long k = 0; k < played; k++) {
        const int want_miss = k >= m0 && k < m1;
        unreported += log.status[k] < 0;
        if (log.status[k] >= 0 && (log.status[k] == ADV_LIVE_SEG_MISS) != want_miss) {
            wrong++;
            fprintf(stderr, "segment %ld: %s\n", k, adv_live_segment_status_name(log.status[k]));
        }
    }
    CHECK(wrong == 0 && unreported == 0 && log.dup == 0 && log.bad == 0,
          "misses are exactly segments %ld to %ld: %ld reported otherwise, %ld not reported, %ld twice, %ld bad events", m0,
          m1 - 1, wrong, unreported, log.dup, log.bad);
    CHECK(log.count[ADV_LIVE_SEG_MISS] == m1 - m0 && st.segments_miss == m1 - m0,
          "misses: %ld events, %ld counted, %ld expected", log.count[ADV_LIVE_SEG_MISS], st.segments_miss, m1 - m0);
    CHECK(differ_from_delayed(x, y, m0 * S + L, m1 * S + L, C, L) == 0, "missed segments did not play clean");
    CHECK(max_abs(q, m0 * S + L - S, m0 * S + L - ramp) > eps / 4, "the segment before the misses carries no perturbation");
    CHECK(outside_fade(q, m0 * S + L - 1, ramp, eps, -1) == 0, "the segment before the misses does not fade out");
    long u1 = m1 * S + L;
    while (u1 < n && q[u1] == 0) u1++;
    const long c1 = (u1 - L) / S * S;
    CHECK(u1 < w.stall2 && u1 - L - c1 < ramp, "after the misses, the perturbation starts again at %.4f s", (double)u1 / RATE);
    CHECK(outside_fade(q, c1 + L, ramp, eps, 1) == 0, "after the misses, the perturbation does not fade in");

    /* stall 2: the successor came in time for its own start, not for its predecessor's fade-out */
    CHECK(w.fade2 > w.stall2 && w.resume2 < n, "stall 2: fade-out at %ld, resume at %ld", w.fade2, w.resume2);
    const long b = w.c2 + L;   /* output frame where the successor starts */
    CHECK(max_abs(q, b - S, b - ramp) > eps / 4 && max_abs(q, b + ramp, b + S) > eps / 4,
          "stall 2: both segments carry a perturbation (%g, %g)", max_abs(q, b - S, b - ramp), max_abs(q, b + ramp, b + S));
    CHECK(outside_fade(q, b - 1, ramp, eps, -1) == 0 && outside_fade(q, b, ramp, eps, 1) == 0,
          "stall 2: the predecessor's fade-out was undone (largest |p| in its last 10 ms %g, eps %g)", max_abs(q, b - ramp, b),
          eps);
    CHECK(st.ring_overflows == 0, "%ld ring overflows", st.ring_overflows);
    printf("late work: %ld misses (segments %ld to %ld), %ld adv_live_work calls, %ld iterations\n", log.count[ADV_LIVE_SEG_MISS],
           m0, m1 - 1, w.calls, st.iterations);
    free(q);
    free(x);
    free(y);
    free(log.status);
}

int main(void)
{
    adv_blas_set_threads(1);   /* one OpenMP thread here: steady on a machine busy with other tests */
    adv_model *m = adv_live_random_model(5);
    CHECK(m != NULL, "model: %s", adv_error());
    if (!m) return tu_finish("test_live");
    double t = now();
    test_passthrough(m);
    printf("pass-through: %.1f s\n", now() - t);
    t = now();
    test_settings_swap(m);
    printf("settings: %.1f s\n", now() - t);
    t = now();
    test_sync_threads(m);
    test_misses(m);
    printf("misses: %.1f s\n", now() - t);
    t = now();
    test_synchronous(m);
    printf("synchronous: %.1f s\n", now() - t);
    adv_model_free(m);
    return tu_finish("test_live");
}
