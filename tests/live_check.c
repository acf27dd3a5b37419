/* Checks of live hosts' recordings (see live_check.h). */
#include "live_check.h"
#include "advinst/audio.h"
#include "advinst/listen.h"
#include "advinst/live.h"
#include "advinst/nn.h"
#include "advinst/resample.h"
#include <math.h>
#include <stdlib.h>

static double diff(const live_recording *r, long k)
{
    return k >= r->L ? (double)r->rec[k] - r->sig[(k - r->L) % r->sig_len] : 0;
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
        if (diff(r, k) != 0) return k;
    return -1;
}

int live_exact_from(const live_recording *r, long from)
{
    for (long k = from > r->L ? from : r->L; k < r->n; k++)
        if (r->rec[k] != r->sig[(k - r->L) % r->sig_len]) return 0;
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
        const double x = r->sig[(k - r->L) % r->sig_len], d = diff(r, k);
        sx += x * x;
        sd += d * d;
    }
    return sd > 0 ? 10 * log10(sx / sd) : INFINITY;
}
