/* Data set rendering of the female and male singing: formant synthesis, a soundfont's choir or
 * voice, or espeak-ng syllables tuned to the notes. */
#include "advinst/audio.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "synth_internal.h"

/* ---- singing ------------------------------------------------------------------------------- */

typedef struct { double t, dur; int midi; int vowel; } sung;

/* Phrases of legato notes in the register [lo, hi] (MIDI), or one long held note. */
static int sing_notes(rng *r, int lo, int hi, double dur, sung *v, int max)
{
    key_ctx k = synth_random_key(r, 50, 130);
    int n = 0, m = synth_snap(&k, rint_in(r, lo + 3, hi - 5));
    double t = rrange(r, 0.02, 0.2);
    if (rchance(r, 0.2) || dur < 0.8) {
        v[n++] = (sung){t, dur - t, m, rint_in(r, 0, 4)};
        return n;
    }
    while (t < dur - 0.2 && n < max) {
        int phrase = rint_in(r, 3, 9);
        for (int i = 0; i < phrase && t < dur - 0.2 && n < max; i++) {
            double d = fmin(synth_rhythm(r, &k) * rrange(r, 1.0, 1.6), dur - t);
            v[n++] = (sung){t, d, m, rint_in(r, 0, 4)};
            t += d;
            static const double sw[] = {2, 4, 4, 2, 2, 1, 1};
            static const int st[] = {0, 1, -1, 2, -2, 3, -4};
            m = synth_step_scale(&k, m, st[rpick(r, sw, 7)]);
            if (m > hi) m = synth_step_scale(&k, m, -3);
            if (m < lo) m = synth_step_scale(&k, m, 3);
        }
        t += rrange(r, 0.15, 0.6);   /* breath */
    }
    return n;
}

/* Vowel formants (a, e, i, o, u): frequencies and bandwidths, after Peterson & Barney. */
static const double formant_m[5][3] = {{730, 1090, 2440}, {530, 1840, 2480}, {270, 2290, 3010},
                                       {570, 840, 2410}, {300, 870, 2240}};
static const double formant_f[5][3] = {{850, 1220, 2810}, {610, 2330, 2990}, {310, 2790, 3310},
                                       {590, 920, 2710}, {370, 950, 2670}};

/* Magnitude of a cascade of two-pole resonators (unity at DC) at frequency x. */
static double cascade_gain(const double *F, const double *B, int n, double x)
{
    double g = 1;
    for (int i = 0; i < n; i++) {
        double a = F[i] * F[i] - x * x, b = B[i] * x;
        g *= F[i] * F[i] / sqrt(a * a + b * b);
    }
    return g;
}

/* Source-filter singing voice: a harmonic glottal source (spectral slope from vocal effort) with
 * vibrato, jitter and portamento, shaped by five formants that glide between vowels (F1 tuned to
 * the pitch on high notes, as sopranos do), a male singer's formant near 3 kHz, breath noise,
 * and consonant onsets (nasal/liquid dips, "s"/"h" noise). */
static int sing_formant(rng *r, int female, const sung *v, int nv, double seconds, buf *out)
{
    if (buf_alloc(out, (long)(seconds * SR)) < 0) return -1;
    double tract = rrange(r, 0.9, 1.12), slope = rrange(r, 0.9, 1.7);
    double vib_rate = rrange(r, 4.5, 6.5), vib_depth = rrange(r, 0.1, 0.7), vib_delay = rrange(r, 0.1, 0.4);
    double breath = rrange(r, 0.003, 0.05), port = rrange(r, 0.02, 0.08);
    int singer_formant = !female && rchance(r, 0.5);
    double F[6], B[6], Ft[6];
    const double (*tab)[3] = female ? formant_f : formant_m;
    for (int i = 0; i < 3; i++) Ft[i] = F[i] = tab[v[0].vowel][i] * tract;
    Ft[3] = F[3] = (female ? 4000 : 3350) * tract;
    Ft[4] = F[4] = (female ? 4700 : 3850) * tract;
    enum { MAXH = 96 };
    double amp[MAXH] = {0};
    double logf = log(midi_hz(v[0].midi)), ph = 0, jit = 0, env = 0;
    biquad bn = bq_design(2, rrange(r, 1800, 3500), 0.8, 0), bs = bq_design(1, 4500, 0.7, 0);
    int cur = 0;
    double cons_end = -1, cons_noise = 0;
    for (long i = 0; i < out->n; i++) {
        double t = (double)i / SR;
        while (cur + 1 < nv && t >= v[cur + 1].t) cur++;
        const sung *nt = &v[cur];
        int on = t >= nt->t && t < nt->t + nt->dur;
        double target = on ? 1 : 0;
        if (i % 32 == 0) {
            if (on && t - nt->t < 32.0 / SR) {   /* note onset: new vowel, maybe a consonant */
                for (int j = 0; j < 3; j++) Ft[j] = tab[nt->vowel][j] * tract;
                int c = rint_in(r, 0, 5);
                cons_end = c < 3 ? t + rrange(r, 0.04, 0.09) : -1;
                cons_noise = c == 3 ? rrange(r, 0.05, 0.3) : 0;
            }
            double f0 = exp(logf);
            for (int j = 0; j < 5; j++) F[j] += (Ft[j] - F[j]) * 0.06;   /* ~30 ms glide */
            double F1 = F[0];
            if (F1 < f0 * 1.1) F1 = f0 * 1.1;   /* formant tuning on high notes */
            double FF[6] = {F1, F[1], F[2], F[3], F[4], 2900};
            if (t < cons_end) FF[0] = 250, FF[1] *= 0.8;   /* nasal/liquid: closed tract */
            for (int j = 0; j < 6; j++) B[j] = 50 + 0.06 * FF[j];
            int nh = (int)(7600 / f0);
            if (nh > MAXH) nh = MAXH;
            for (int k = 1; k <= MAXH; k++) {
                double x = k * f0;
                amp[k - 1] = k > nh ? 0 : pow(k, -slope) * cascade_gain(FF, B, 5, x) *
                                              (singer_formant ? 1 + 3 * exp(-pow((x - 2900) / 400, 2)) : 1);
            }
        }
        /* pitch: portamento to the note, vibrato after a delay, slow jitter */
        logf += (log(midi_hz(nt->midi)) - logf) * (1.0 / (port * SR));
        jit += (rnorm(r) * 0.02 - jit) * 0.002;
        double vib = t - nt->t > vib_delay ? vib_depth / 12 * M_LN2 * sin(2 * M_PI * vib_rate * t) : 0;
        double f0 = exp(logf + vib + jit * 0.05);
        env += (target * (t < cons_end ? 0.3 : 1) - env) * (target > env ? 1.0 / (0.04 * SR) : 1.0 / (0.07 * SR));
        ph += 2 * M_PI * f0 / SR;
        if (ph > 2 * M_PI) ph -= 2 * M_PI;
        double s1 = sin(ph), c2 = 2 * cos(ph), sk1 = 0, sk = s1, y = 0;
        for (int k = 0; k < MAXH && amp[k] > 0; k++) {   /* sin(k ph) by the Chebyshev recurrence */
            y += amp[k] * sk;
            double nx = c2 * sk - sk1;
            sk1 = sk;
            sk = nx;
        }
        double noise = rnorm(r);
        y = env * (0.05 * y + breath * bq_run(&bn, noise) * (0.6 + 0.4 * s1));
        if (on && t - nt->t < 0.08 && cons_noise > 0) y += cons_noise * 0.05 * bq_run(&bs, noise) * (1 - (t - nt->t) / 0.08);
        out->x[i] = (float)y;
    }
    return 0;
}

/* Choir aahs / voice oohs / synth voice / voice lead from a soundfont, transposed to the register,
 * with modulation-wheel vibrato, then a formant boost for the gender. */
static int sing_soundfont(adv_synth *s, worker *w, rng *r, int female, const sung *v, int nv, double seconds, buf *out)
{
    static const int progs[] = {52, 53, 54, 85};
    static const double pw[] = {3, 3, 1.5, 1};
    seq q = {0};
    int vel = rint_in(r, 60, 115);
    for (int i = 0; i < nv; i++)
        synth_seq_note(&q, v[i].t, v[i].dur * rrange(r, 0.95, 1.05), 0, v[i].midi, vel + rint_in(r, -8, 8));
    synth_seq_add(&q, 0, EV_CC, 0, 1, rint_in(r, 0, 80));
    int rc = synth_fluid_render(s, w, synth_pick_gm(s, r), 0, progs[rpick(r, pw, 4)], &q, seconds, out);
    free(q.e);
    if (rc < 0) return rc;
    const double (*tab)[3] = female ? formant_f : formant_m;
    int vw = rint_in(r, 0, 4);
    for (int j = 0; j < 2; j++) bq_apply(bq_design(3, tab[vw][j], 2.0, rrange(r, 3, 9)), out->x, out->n);
    return 0;
}

/* Median-free F0 estimate of the loudest 60 ms of x (autocorrelation peak, 60-900 Hz). */
static double estimate_f0(const float *x, long n, int rate)
{
    long win = rate * 60 / 1000, best_at = 0;
    double best = -1;
    for (long i = 0; i + win < n; i += win / 2) {
        double e = 0;
        for (long j = 0; j < win; j++) e += (double)x[i + j] * x[i + j];
        if (e > best) { best = e; best_at = i; }
    }
    if (best <= 0) return 0;
    const float *s = x + best_at;
    double r0 = 0, bestc = 0;
    int lag = 0;
    for (long j = 0; j < win; j++) r0 += (double)s[j] * s[j];
    for (int l = rate / 900; l < rate / 60 && l < win / 2; l++) {
        double c = 0;
        for (long j = 0; j + l < win; j++) c += (double)s[j] * s[j + l];
        c /= (double)(win - l) / win;
        if (c > bestc) { bestc = c; lag = l; }
    }
    return lag && bestc > 0.3 * r0 ? (double)rate / lag : 0;
}

/* espeak-ng syllables (a female f1-f5 or male m1-m7 variant), one per note: each is rendered at
 * an espeak pitch near the note, its F0 measured, and it is resampled onto the note's pitch. */
static int sing_espeak(worker *w, rng *r, int female, const sung *v, int nv, double seconds, buf *out)
{
    static const char *const syl[] = {"la", "laa", "na", "ma", "daa", "lo", "oh", "ah", "mee", "yaa",
                                      "hey", "love", "night", "sky", "my", "you", "so", "go", "day", "ooh"};
    char voice[16];
    snprintf(voice, sizeof voice, female ? "en+f%d" : "en+m%d", female ? rint_in(r, 1, 5) : rint_in(r, 1, 7));
    int speed = rint_in(r, 60, 110);
    if (buf_alloc(out, (long)(seconds * SR)) < 0) return -1;
    for (int i = 0; i < nv; i++) {
        double hz = midi_hz(v[i].midi);
        int pitch = female ? (int)fmin(99, fmax(0, (hz - 150) / 3)) : (int)fmin(99, fmax(0, (hz - 80) / 2));
        char cmd[256];
        snprintf(cmd, sizeof cmd, "espeak-ng -v %s -p %d -s %d -w %s '%s' >/dev/null 2>&1", voice, pitch, speed,
                 w->tmpwav, syl[rint_in(r, 0, 19)]);
        if (system(cmd) != 0) return adv_fail("espeak-ng failed: %s", cmd);
        adv_audio a;
        if (adv_audio_read(w->tmpwav, &a) < 0) return -1;
        double f0 = estimate_f0(a.samples, a.frames, a.rate);
        double ratio = f0 > 0 ? hz / f0 : 1;
        if (ratio > 2.0) ratio = 2.0;
        if (ratio < 0.5) ratio = 0.5;
        buf b;
        int rc = to_16k(a.samples, a.frames, a.rate * ratio, &b);
        adv_audio_free(&a);
        if (rc < 0) return -1;
        long start = 0, end = b.n;   /* trim silence around the syllable */
        float p = peak_of(b.x, b.n);
        while (start < end && fabsf(b.x[start]) < 0.01f * p) start++;
        while (end > start && fabsf(b.x[end - 1]) < 0.01f * p) end--;
        rc = buf_mix(out, (long)(v[i].t * SR), b.x + start, end - start, 1.0f);
        free(b.x);
        if (rc < 0) return -1;
    }
    return 0;
}

int synth_render_voice(adv_synth *s, worker *w, rng *r, int female, double dur, buf *out)
{
    sung v[256];
    int lo = female ? 55 : 41, hi = female ? 81 : 67;   /* G3-A5 (196-880 Hz), F2-G4 (87-392 Hz) */
    int nv = sing_notes(r, lo, hi, dur, v, 256);
    double seconds = dur + 0.5;
    double wt[3] = {0.45, 0.30, s->have_espeak ? 0.25 : 0};   /* formant synth, soundfont, espeak-ng */
    int src = rpick(r, wt, 3);
    int rc = src == 0 ? sing_formant(r, female, v, nv, seconds, out)
             : src == 1 ? sing_soundfont(s, w, r, female, v, nv, seconds, out)
                        : sing_espeak(w, r, female, v, nv, seconds, out);
    if (rc < 0 || src == 1 || !rchance(r, 0.25)) return rc;
    /* sometimes a quiet choir pad under the voice, same notes */
    buf pad;
    if (sing_soundfont(s, w, r, female, v, nv, seconds, &pad) < 0) return -1;
    float g = peak_of(out->x, out->n) / fmaxf(peak_of(pad.x, pad.n), 1e-6f) * (float)db(rrange(r, -18, -8));
    rc = buf_mix(out, 0, pad.x, pad.n, g);
    free(pad.x);
    return rc;
}
