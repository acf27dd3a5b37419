/* The classifier worker's events (no JACK; this test plays the audio thread): PROBS carry the
 * "silent" flag exactly when the window's RMS is below ADV_SILENCE_RMS, and SPECTRUM events carry
 * the newest mel columns of each stream, in time order without repeats, one STFT hop apart, in dB,
 * with the energy of a 1 kHz tone in the band that holds 1 kHz. */
#include "testutil.h"
#include "advinst/error.h"
#include "advinst/frontend.h"
#include "advinst/live.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RATE 16000
#define TONE_HZ 1000.0

/* The band (of ADV_LIVE_SPECTRUM_BANDS, pairs of the 100 HTK mel bands 40 Hz - 8 kHz) whose
 * centre is nearest to f. */
static int band_of(double f)
{
    const double lo = 2595 * log10(1 + ADV_F_MIN / 700), hi = 2595 * log10(1 + ADV_F_MAX / 700);
    const double mel = 2595 * log10(1 + f / 700);
    const double m = (mel - lo) / (hi - lo) * (ADV_N_MELS + 1) - 1;   /* mel band index, centres at 0..99 */
    return (int)lround(m) / (ADV_N_MELS / ADV_LIVE_SPECTRUM_BANDS);
}

typedef struct {
    long probs[2], spectra[2], columns[2], silent_right[2], silent_wrong[2], tone_bands_right, tone_bands_wrong;
    int64_t last_column[2];
    int bad_spacing, bad_values;
    uint64_t last_probs_frame[2];
} tally;

static void take(adv_live *e, tally *t, long tone_end, long W, long L, double per_column)
{
    adv_live_event ev;
    while (adv_live_poll_event(e, &ev)) {
        const int s = ev.stream;
        if (ev.type == ADV_LIVE_EV_PROBS) {
            t->probs[s]++;
            t->last_probs_frame[s] = ev.frame;
            /* stream time of the window: [frame - W, frame); the output is the input delayed by L */
            const long shift = s ? L : 0, a = (long)ev.frame - W - shift, b = (long)ev.frame - shift;
            const int all_silent = a >= tone_end || b <= 0, some_tone = a < tone_end && b > 0 && b - (a > 0 ? a : 0) > W / 4;
            if (all_silent || some_tone) {
                if (ev.silent == all_silent) t->silent_right[s]++;
                else t->silent_wrong[s]++;
            }
        } else if (ev.type == ADV_LIVE_EV_SPECTRUM) {
            t->spectra[s]++;
            if (ev.n_columns < 1 || ev.n_columns > ADV_LIVE_SPECTRUM_COLUMNS) { t->bad_values++; continue; }
            for (int c = 0; c < ev.n_columns; c++) {
                const int64_t when = (int64_t)ev.column_frame[c];
                if (t->last_column[s] >= 0 && t->columns[s] > 0 &&
                    (when <= t->last_column[s] || (c > 0 && fabs((double)(when - t->last_column[s]) - per_column) > 1)))
                    t->bad_spacing++;
                if (when > (int64_t)ev.frame) t->bad_spacing++;
                t->last_column[s] = when;
                t->columns[s]++;
                int best = 0;
                for (int b = 0; b < ADV_LIVE_SPECTRUM_BANDS; b++) {
                    if (!isfinite(ev.column_db[c][b]) || ev.column_db[c][b] > 200 || ev.column_db[c][b] < -200) t->bad_values++;
                    if (ev.column_db[c][b] > ev.column_db[c][best]) best = b;
                }
                /* a column well inside the input's tone: its loudest band holds 1 kHz */
                if (s == 0 && when > 4096 && when < tone_end - 4096) {
                    if (abs(best - band_of(TONE_HZ)) <= 1) t->tone_bands_right++;
                    else t->tone_bands_wrong++;
                }
            }
        }
    }
}

int main(void)
{
    adv_model *m = adv_live_random_model(3);
    CHECK(m != NULL, "model: %s", adv_error());
    if (!m) return tu_finish("test_live_events");
    adv_live_config cfg;
    adv_live_config_default(&cfg, RATE, 1);
    cfg.latency_seconds = 1;
    cfg.window_seconds = 1.2;
    cfg.classify_hz = 10;
    cfg.attack_threads = 1;
    cfg.workers_keep_priority = 1;
    cfg.spectrum = 1;
    adv_live_settings s;
    adv_live_settings_default(&s);   /* target none: nothing attacked */
    adv_live *e = adv_live_create(m, &cfg, &s);
    CHECK(e != NULL, "engine: %s", adv_error());
    if (!e) { adv_model_free(m); return tu_finish("test_live_events"); }
    const long W = adv_live_window_frames(e), L = adv_live_latency(e), hop = RATE / 10;
    const long tone_end = 3 * RATE, n = 6 * RATE;
    const double per_column = (double)ADV_HOP * RATE / ADV_SAMPLE_RATE;
    float *x = calloc((size_t)n, sizeof(float)), *y = calloc((size_t)hop, sizeof(float));
    for (long i = 0; i < tone_end; i++) x[i] = 0.3f * (float)sin(2 * M_PI * TONE_HZ * i / RATE);
    tally t;
    memset(&t, 0, sizeof t);
    t.last_column[0] = t.last_column[1] = -1;
    /* one hop at a time, each time waiting for its classification, so every window is classified */
    for (long done = 0; done + hop <= n; done += hop) {
        const float *in = x + done;
        float *out = y;
        adv_live_process(e, &in, &out, (uint32_t)hop);
        for (int wait = 0; wait < 5000 && t.last_probs_frame[1] < (uint64_t)(done + hop); wait++) {
            take(e, &t, tone_end, W, L, per_column);
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
    take(e, &t, tone_end, W, L, per_column);
    const long windows = n / hop;
    for (int k = 0; k < 2; k++) {
        CHECK(t.probs[k] >= windows - 1, "stream %d: %ld probability events for %ld windows", k, t.probs[k], windows);
        CHECK(t.spectra[k] >= windows - 1, "stream %d: %ld spectrum events", k, t.spectra[k]);
        /* every hop of 1600 frames brings 3 or 4 new columns of 512 */
        CHECK(t.columns[k] >= (long)((n - W) / per_column) - 2, "stream %d: %ld columns", k, t.columns[k]);
        CHECK(t.silent_wrong[k] == 0 && t.silent_right[k] > 20, "stream %d: silent flag right %ld, wrong %ld", k,
              t.silent_right[k], t.silent_wrong[k]);
    }
    CHECK(t.bad_spacing == 0, "%d columns out of order or not one hop apart", t.bad_spacing);
    CHECK(t.bad_values == 0, "%d bad values", t.bad_values);
    CHECK(t.tone_bands_right > 50 && t.tone_bands_wrong == 0, "1 kHz in band %d: %ld columns right, %ld wrong",
          band_of(TONE_HZ), t.tone_bands_right, t.tone_bands_wrong);
    if (getenv("TEST_VERBOSE"))
        fprintf(stderr, "probs %ld/%ld spectra %ld/%ld columns %ld/%ld silent right %ld/%ld tone bands %ld (band %d)\n",
                t.probs[0], t.probs[1], t.spectra[0], t.spectra[1], t.columns[0], t.columns[1], t.silent_right[0],
                t.silent_right[1], t.tone_bands_right, band_of(TONE_HZ));
    adv_live_stats st;
    adv_live_get_stats(e, &st);
    CHECK(st.ring_overflows == 0, "%ld ring overflows", st.ring_overflows);
    adv_live_free(e);
    adv_model_free(m);
    free(x);
    free(y);
    return tu_finish("test_live_events");
}
