/* Checks of live hosts' recordings (see live_check.h). */
#include "live_check.h"
#include "advinst/audio.h"
#include "advinst/listen.h"
#include "advinst/live.h"
#include "advinst/nn.h"
#include "advinst/resample.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* The latency at output frame k: L, or what live_track_lag found for k's period. */
static long lag_at(const live_recording *r, long k)
{
    return r->lag ? r->lag[k / r->period] : r->L;
}

/* 1 if frame k is in a period live_track_lag set aside (an xrun's glitch). */
static int skipped(const live_recording *r, long k)
{
    return r->skip && r->skip[k / r->period];
}

static double diff(const live_recording *r, long k)
{
    const long l = lag_at(r, k);
    return k >= l ? (double)r->rec[k] - r->sig[(k - l) % r->sig_len] : 0;
}

static double block_error(const live_recording *r, long k0, long k1, long lag)
{
    double e = 0;
    for (long k = k0 < lag ? lag : k0; k < k1; k++) {
        const double d = (double)r->rec[k] - r->sig[(k - lag) % r->sig_len];
        e += d * d;
    }
    return e;
}

/* Mean square error per frame above which a period is not the delayed input plus a perturbation:
 * an RMS of 0.02, twice the eps (0.01) of the live defaults and presets: |d| <= eps. */
#define GLITCH_MS (0.02 * 0.02)

int live_track_lag(live_recording *r, int period, int max_periods)
{
    const long blocks = (r->n + period - 1) / period;
    r->period = period;
    r->lag = malloc(sizeof(long) * (size_t)blocks);
    r->skip = calloc((size_t)blocks, 1);
    if (!r->lag || !r->skip) return -1;
    long cur = r->L;
    int changes = 0;
    r->glitches = 0;
    for (long b = 0; b < blocks; b++) {
        const long k0 = b * period, k1 = k0 + period < r->n ? k0 + period : r->n;
        double energy = 0;
        for (long k = k0; k < k1; k++) energy += (double)r->rec[k] * r->rec[k];
        const double e_cur = block_error(r, k0, k1, cur);
        /* the lag only moves when the current one is clearly wrong here (the error 20 dB or less
         * under the output: the perturbation is 30 dB under it) and another is 10 times better */
        if (e_cur > 0.01 * energy && energy > 0) {
            long best = cur;
            double e_best = e_cur;
            for (long j = -max_periods; j <= max_periods; j++) {
                const long l = r->L + j * period;
                const double e = l <= k0 ? block_error(r, k0, k1, l) : INFINITY;   /* a whole period of input */
                if (e < e_best) { e_best = e; best = l; }
            }
            if (best != cur && e_best < 0.1 * e_cur) {
                changes++;
                if (getenv("LIVE_CHECK_VERBOSE"))
                    fprintf(stderr, "lag %ld -> %ld at frame %ld (%.2f s): error %.3g -> %.3g of energy %.3g\n", cur, best,
                            k0, (double)k0 / 48000, e_cur, e_best, energy);
                cur = best;
                /* the periods around the change hold the glitch (a period lost, repeated or stale) */
                for (long c = b - 2; c <= b + 1; c++)
                    if (c >= 0 && c < blocks) r->skip[c] = 1;
            } else if (e_cur > GLITCH_MS * (double)(k1 - k0) && !r->skip[b]) {
                r->skip[b] = 1;   /* no lag fits, and no perturbation goes this far: a glitch */
                r->glitches++;
                if (getenv("LIVE_CHECK_VERBOSE"))
                    fprintf(stderr, "glitch at frame %ld (%.2f s): error %.3g of energy %.3g\n", k0, (double)k0 / 48000,
                            e_cur, energy);
            }
        }
        r->lag[b] = cur;
    }
    return changes;
}

void live_recording_free(live_recording *r)
{
    free(r->lag);
    free(r->skip);
    r->lag = NULL;
    r->skip = NULL;
}

long live_default_latency(int rate)
{
    adv_live_config c;
    adv_live_config_default(&c, rate, 1);
    return lround(c.latency_seconds * rate);
}

long live_first_perturbed(const live_recording *r)
{
    for (long k = r->L; k < r->n; k++)
        if (!skipped(r, k) && k >= lag_at(r, k) && diff(r, k) != 0) return k;
    return -1;
}

int live_exact_from(const live_recording *r, long from)
{
    for (long k = from > r->L ? from : r->L; k < r->n; k++)
        if (!skipped(r, k) && k >= lag_at(r, k) && r->rec[k] != r->sig[(k - lag_at(r, k)) % r->sig_len]) return 0;
    return 1;
}

float *live_load_clip(const char *path, int rate, long *frames)
{
    adv_audio a;
    if (adv_audio_read(path, &a) != 0) return NULL;
    float *mono = malloc(sizeof(float) * (size_t)a.frames);
    adv_audio_mix_mono(&a, mono);
    adv_resampler *rs = adv_resampler_create(a.rate, rate, a.frames);
    float *x = rs ? malloc(sizeof(float) * (size_t)adv_resampler_output_length(rs)) : NULL;
    if (x) {
        *frames = adv_resampler_output_length(rs);
        adv_resampler_forward(rs, mono, x);
    }
    adv_resampler_free(rs);
    free(mono);
    adv_audio_free(&a);
    return x;
}

double live_hit_rate(const live_recording *r, adv_model *m, int rate, long from, long to, int target, long *windows)
{
    const long W = lround(3.7 * rate), hop = rate / 10;
    if (from < 0) from = 0;
    if (to > r->n) to = r->n;
    const long count = to > from ? adv_listen_count(to - from, W, hop) : 0;
    *windows = 0;
    if (count == 0) return -1;
    adv_listen_window *w = malloc(sizeof *w * (size_t)count);
    if (!w || adv_listen(m, r->rec + from, to - from, rate, W, hop, w) != 0) {
        free(w);
        return -1;
    }
    long judged = 0, hits = 0;
    for (long k = 0; k < count; k++) {
        if (w[k].silent) continue;
        judged++;
        hits += w[k].cls == target;
    }
    free(w);
    *windows = judged;
    return judged ? (double)hits / judged : -1;
}

double live_snr_db(const live_recording *r, long from, long to)
{
    double sx = 0, sd = 0;
    for (long k = from > r->L ? from : r->L; k < to && k < r->n; k++) {
        if (skipped(r, k) || k < lag_at(r, k)) continue;
        const double x = r->sig[(k - lag_at(r, k)) % r->sig_len], d = diff(r, k);
        sx += x * x;
        sd += d * d;
    }
    return sd > 0 ? 10 * log10(sx / sd) : INFINITY;
}
