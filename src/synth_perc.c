/* Data set rendering of the percussion: kick and hi-hat patterns (Hydrogen kit samples, a
 * soundfont's drum kit or own synthesis) and the gong (modal synthesis, slowed-down cymbals). */
#include <math.h>
#include <stdlib.h>

#include "synth_internal.h"

/* ---- drums: kick and hi-hat ---------------------------------------------------------------- */

typedef struct { double t; float amp; int variant; } hit;

/* A hit pattern filling dur: a single hit, a groove on a 16th grid, or a few free hits. variant 1
 * marks an open hi-hat / second kick sample. */
static int drum_pattern(rng *r, int cls, double dur, hit *h, int max)
{
    int n = 0;
    double p = runif(r);
    if (p < 0.35 || dur < 0.6) {
        h[n++] = (hit){0.02, (float)rrange(r, 0.4, 1.0), cls == C_HIHAT && rchance(r, 0.4)};
        return n;
    }
    double six = 60.0 / rrange(r, 70, 150) / 4;
    if (p < 0.8) {
        int hat16 = rchance(r, 0.4);
        float accent = (float)rrange(r, 0.5, 0.9);
        for (int i = 0; n < max; i++) {
            double t = 0.02 + i * six + (rchance(r, 0.5) ? rnorm(r) * 0.004 : 0);
            if (t > dur) break;
            int step = i % 16;
            double prob;
            if (cls == C_BASS_DRUM) prob = step == 0 || step == 8 ? 0.95 : step % 4 == 0 ? 0.45 : step % 2 ? 0.1 : 0.2;
            else prob = hat16 ? 0.9 : (step % 2 ? 0.05 : 0.95);
            if (!rchance(r, prob)) continue;
            float a = (step % 4 == 0 ? 1.0f : accent) * (float)rrange(r, 0.8, 1.0);
            h[n++] = (hit){t, a, cls == C_HIHAT ? (step % 8 == 6 && rchance(r, 0.5)) : rchance(r, 0.1)};
        }
    } else {
        for (double t = 0.02; t < dur && n < max; t += rrange(r, 0.15, 1.2))
            h[n++] = (hit){t, (float)rrange(r, 0.3, 1.0), cls == C_HIHAT && rchance(r, 0.3)};
    }
    return n;
}

/* Hi-hat choke: an open hat rings until the next hit. */
static int mix_hits(buf *out, const hit *h, int nh, const buf *smp, int choke)
{
    for (int i = 0; i < nh; i++) {
        const buf *b = &smp[h[i].variant];
        long off = (long)(h[i].t * SR), len = b->n;
        if (choke && i + 1 < nh) {
            long until = (long)(h[i + 1].t * SR) - off + SR / 100;
            if (until < len) len = until > 0 ? until : 1;
        }
        if (buf_mix(out, off, b->x, len, h[i].amp) < 0) return -1;
        if (len < b->n) {   /* short fade instead of a click where the hat is choked */
            long f0 = off + len - SR / 100;
            for (long j = 0; j < SR / 100; j++)
                if (f0 + j >= off && f0 + j < out->n) out->x[f0 + j] *= (float)j / (SR / 100);
        }
    }
    return 0;
}

/* Synthesized kick (sine with a falling pitch, click, optional drive) and hi-hat (six square
 * waves at the TR-808 ratios plus noise, high-passed). */
static void synth_drum(rng *r, int cls, int open, buf *b)
{
    if (cls == C_BASS_DRUM) {
        double f1 = rrange(r, 110, 250), f2 = rrange(r, 38, 65), tau = rrange(r, 0.015, 0.06);
        double decay = rrange(r, 0.12, 0.6), drive = rrange(r, 1, 4), click = rrange(r, 0, 0.4), ph = 0;
        buf_alloc(b, (long)(SR * (decay * 3 + 0.05)));
        for (long i = 0; i < b->n; i++) {
            double t = (double)i / SR;
            ph += 2 * M_PI * (f2 + (f1 - f2) * exp(-t / tau)) / SR;
            double v = sin(ph) * exp(-t / decay) + click * rnorm(r) * exp(-t / 0.002);
            b->x[i] = (float)(tanh(drive * v) / tanh(drive));
        }
    } else {
        static const double ratio[6] = {205.3, 304.4, 369.6, 522.7, 540.0, 800.0};
        double scale = rrange(r, 0.9, 1.6), decay = open ? rrange(r, 0.2, 0.7) : rrange(r, 0.02, 0.09);
        double tone = rrange(r, 0.2, 0.8), ph[6] = {0};
        buf_alloc(b, (long)(SR * (decay * 4 + 0.02)));
        biquad hp = bq_design(1, rrange(r, 4500, 7000), 0.7, 0), hp2 = bq_design(1, 3000, 0.7, 0);
        for (long i = 0; i < b->n; i++) {
            double t = (double)i / SR, v = 0;
            for (int k = 0; k < 6; k++) {
                ph[k] += ratio[k] * scale * 8 / SR;
                v += ph[k] - floor(ph[k]) < 0.5 ? 1 : -1;
            }
            v = tone * v / 6 + (1 - tone) * rnorm(r) * 0.5;
            b->x[i] = (float)(bq_run(&hp2, bq_run(&hp, v)) * exp(-t / decay) * (1 - exp(-t / 0.0007)));
        }
    }
}

int synth_render_drum(adv_synth *s, worker *w, rng *r, int cls, double dur, buf *out)
{
    hit h[512];
    int nh = drum_pattern(r, cls, dur, h, 512);
    const sample_set *set = &s->sets[cls == C_BASS_DRUM ? SET_KICK : SET_HAT];
    double wt[3] = {set->n ? 0.45 : 0, s->n_drumfont ? 0.45 : 0.35, set->n ? 0.10 : 0.3};   /* samples, soundfont, synthesis */
    int src = rpick(r, wt, 3);
    int rc = 0;
    if (src == 1) {
        static const int kits[] = {0, 8, 16, 24, 25, 32, 40, 48};
        seq q = {0};
        int key[2];
        int k = s->n_drumfont && rchance(r, 0.5) ? s->drumfont[rint_in(r, 0, s->n_drumfont - 1)] : synth_pick_gm(s, r);
        if (cls == C_BASS_DRUM) { key[0] = rchance(r, 0.5) ? 35 : 36; key[1] = 71 - key[0]; }
        else { key[0] = rchance(r, 0.8) ? 42 : 44; key[1] = 46; }
        if (cls == C_BASS_DRUM && s->sf_drum[k]) key[0] = key[1] = 36;   /* the AVL kits have no 35 */
        for (int i = 0; i < nh; i++)
            synth_seq_note(&q, h[i].t, 0.2, 9, key[h[i].variant], (int)(20 + 107 * h[i].amp));
        rc = synth_fluid_render(s, w, k, 128, kits[rint_in(r, 0, 7)], &q,
                          synth_seq_end(&q) + rrange(r, 0.4, 1.5), out);
        free(q.e);
        return rc;
    }
    buf smp[2] = {{0}, {0}};
    if (src == 0) {
        /* Two samples of one kit (neighbours in the sorted list), one speed per clip. */
        int a = rint_in(r, 0, set->n - 1), b = a + 1 < set->n && rchance(r, 0.5) ? a + 1 : a;
        double speed = pow(2.0, rrange(r, -1.5, 1.5) / 12);
        if (to_16k(set->s[a].x, set->s[a].n, set->s[a].rate * speed, &smp[0]) < 0 ||
            to_16k(set->s[b].x, set->s[b].n, set->s[b].rate * speed, &smp[1]) < 0) {
            free(smp[0].x);
            return -1;
        }
    } else {
        synth_drum(r, cls, 0, &smp[0]);
        synth_drum(r, cls, cls == C_HIHAT, &smp[1]);
    }
    float p = fmaxf(peak_of(smp[0].x, smp[0].n), 1e-6f);
    for (int j = 0; j < 2; j++)
        for (long i = 0; i < smp[j].n; i++) smp[j].x[i] /= p;
    if (buf_alloc(out, (long)(SR * (dur + 0.1))) == 0) rc = mix_hits(out, h, nh, smp, cls == C_HIHAT);
    else rc = -1;
    free(smp[0].x);
    free(smp[1].x);
    return rc;
}

/* ---- gong ---------------------------------------------------------------------------------- */

/* Modal synthesis of a gong struck at the given times: inharmonic partials with slow, frequency
 * dependent decays; close pairs of split modes that beat (shimmer); a delayed "bloom" of the high
 * partials (tam-tam); an optional pitch glide after each strike (opera gong); a mallet thump. */
static int gong_modal(rng *r, const hit *h, int nh, double seconds, buf *out)
{
    enum { MAXP = 160 };
    double f[MAXP], amp[MAXP], t60[MAXP], att[MAXP];
    int np = 0;
    int tamtam = rchance(r, 0.5);
    double f0 = tamtam ? rrange(r, 45, 140) : exp(rrange(r, log(90), log(520)));
    double hard = rrange(r, 0.6, 3.0);    /* mallet hardness: brightness of the strike */
    double T0 = rrange(r, 3, 14);
    double glide = tamtam || rchance(r, 0.5) ? 0 : rrange(r, -0.12, 0.12), glide_tau = rrange(r, 0.2, 0.9);
    if (tamtam) {
        int n = rint_in(r, 70, 140);
        for (int i = 0; i < n && np < MAXP; i++) {
            double fi = f0 * (1 + rrange(r, 0, 1) * rrange(r, 0, 1) * (5500 / f0 - 1));
            f[np] = fi;
            amp[np] = rrange(r, 0.3, 1.0) / (1 + fi / (600 * hard));
            t60[np] = T0 * pow(f0 / fi, 0.45) * rrange(r, 0.7, 1.3);
            att[np] = fi > 700 ? rrange(r, 0.05, 0.9) : 0.004;
            np++;
        }
    } else {
        static const double lo[] = {1, 1.42, 1.95, 2.55, 3.3, 4.1, 4.9, 5.8}, hi[] = {1, 1.62, 2.2, 3.1, 4.2, 5.0, 6.0, 7.5};
        for (int i = 0; i < 8; i++) {
            double fi = f0 * rrange(r, lo[i], hi[i]);
            for (int sp = 0; sp < 2 && np < MAXP; sp++) {   /* split mode pair */
                f[np] = fi + (sp ? rrange(r, 0.3, 3.0) : 0);
                amp[np] = (i == 0 ? 1.0 : rrange(r, 0.15, 0.7)) / (1 + fi / (900 * hard)) * (sp ? rrange(r, 0.3, 0.9) : 1);
                t60[np] = T0 * pow(f0 / fi, 0.6) * rrange(r, 0.8, 1.2);
                att[np] = 0.003;
                np++;
            }
        }
        for (int i = 0; i < rint_in(r, 5, 25) && np < MAXP; i++) {   /* weaker inharmonic clutter */
            f[np] = f0 * rrange(r, 1.2, 14);
            amp[np] = rrange(r, 0.02, 0.15) / (1 + f[np] / (900 * hard));
            t60[np] = T0 * pow(f0 / f[np], 0.7);
            att[np] = 0.003;
            np++;
        }
    }
    if (buf_alloc(out, (long)(seconds * SR)) < 0) return -1;
    for (int k = 0; k < np; k++) {
        if (f[k] > 7600) continue;
        double d = exp(-6.9 / (t60[k] * SR)), da = exp(-1.0 / (att[k] * SR));
        double ph = rrange(r, 0, 2 * M_PI), a = 0, b = 0;
        int next = 0;
        double last = 0;
        for (long i = 0; i < out->n; i++) {
            double t = (double)i / SR;
            while (next < nh && h[next].t <= t) { a += h[next].amp * amp[k]; last = h[next].t; next++; }
            b = b * d + a * (1 - da);
            a *= da;
            if (next == nh && a < 1e-9 && b < 1e-6 * amp[k]) break;   /* died away */
            double fk = glide != 0 ? f[k] * (1 + glide * (1 - exp(-(t - last) / glide_tau))) : f[k];
            ph += 2 * M_PI * fk / SR;
            out->x[i] += (float)(b * sin(ph));
        }
    }
    biquad lp = bq_design(0, rrange(r, 150, 600), 0.7, 0);   /* felt mallet thump */
    for (int j = 0; j < nh; j++) {
        long off = (long)(h[j].t * SR);
        for (long i = 0; i < SR / 20 && off + i < out->n; i++)
            out->x[off + i] += (float)(0.3 * h[j].amp * bq_run(&lp, rnorm(r)) * exp(-(double)i / (0.012 * SR)));
    }
    return 0;
}

/* Large cymbals pitched down 1.3-2.3 octaves (slowed down, which also stretches their decay):
 * Hydrogen crash/ride/china samples or a soundfont's cymbal notes. */
static int gong_cymbal(adv_synth *s, worker *w, rng *r, const hit *h, int nh, double seconds, buf *out)
{
    double speed = 1.0 / rrange(r, 2.5, 5.0);
    const sample_set *set = &s->sets[SET_CYMBAL];
    if (set->n && rchance(r, 0.6)) {
        const sample *c = &set->s[rint_in(r, 0, set->n - 1)];
        buf b;
        if (to_16k(c->x, c->n, c->rate * speed, &b) < 0) return -1;
        float p = fmaxf(peak_of(b.x, b.n), 1e-6f);
        int rc = buf_alloc(out, (long)(seconds * SR));
        for (int j = 0; j < nh && rc == 0; j++) rc = buf_mix(out, (long)(h[j].t * SR), b.x, b.n, h[j].amp / p);
        free(b.x);
        return rc;
    }
    static const int notes[] = {49, 57, 52, 55, 51, 59};
    seq q = {0};
    for (int j = 0; j < nh; j++)   /* the times shrink by speed so that they land right after slowing */
        synth_seq_note(&q, h[j].t * speed, 2.0, 9, notes[rint_in(r, 0, 5)], (int)(30 + 97 * h[j].amp));
    w->speed = speed;
    int rc = synth_fluid_render(s, w, synth_pick_gm(s, r), 128, 0, &q, seconds * speed, out);
    free(q.e);
    return rc;
}

int synth_render_gong(adv_synth *s, worker *w, rng *r, double dur, buf *out)
{
    hit h[128];
    int nh = 0;
    double p = runif(r);
    if (p < 0.6) h[nh++] = (hit){0.02, 1.0f, 0};
    else if (p < 0.85) {
        for (double t = 0.02; t < dur * 0.7 && nh < 6; t += rrange(r, 0.8, 4))
            h[nh++] = (hit){t, (float)rrange(r, 0.5, 1.0), 0};
    } else {   /* roll: soft fast strokes in a crescendo, then ringing */
        double len = fmin(rrange(r, 1, 3), dur * 0.6), rate = rrange(r, 6, 12);
        for (double t = 0.02; t < len && nh < 128; t += 1 / rate)
            h[nh++] = (hit){t, (float)(0.15 + 0.6 * t / len), 0};
    }
    double seconds = dur + 1.0;
    int src = rpick(r, (double[]){0.45, 0.25, 0.30}, 3);   /* modal, cymbal, both */
    if (src == 0) return gong_modal(r, h, nh, seconds, out);
    if (src == 1) return gong_cymbal(s, w, r, h, nh, seconds, out);
    buf a, b;
    if (gong_modal(r, h, nh, seconds, &a) < 0) return -1;
    if (gong_cymbal(s, w, r, h, nh, seconds, &b) < 0) { free(a.x); return -1; }
    float pa = fmaxf(peak_of(a.x, a.n), 1e-6f), pb = fmaxf(peak_of(b.x, b.n), 1e-6f);
    double mix = rrange(r, 0.2, 0.8);
    *out = a;
    for (long i = 0; i < out->n; i++) out->x[i] = (float)(mix * out->x[i] / pa);
    int rc = buf_mix(out, 0, b.x, b.n, (float)((1 - mix) / pb));
    free(b.x);
    return rc;
}
