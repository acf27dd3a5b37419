/* Data set rendering: the note events fluidsynth plays (one fresh synthesizer per clip, no
 * real-time driver), keys, scales and rhythms, and the music of the soundfont instruments
 * (accordion, guitars, bass, glockenspiel, harmonica, marimba). */
#include <math.h>
#include <stdlib.h>

#include "synth_internal.h"

/* ---- event sequences for fluidsynth ------------------------------------------------------ */

void synth_seq_add(seq *q, double t, int type, int chan, int a, int b)
{
    if (q->n == q->cap) {
        int cap = q->cap ? 2 * q->cap : 256;
        event *e = realloc(q->e, (size_t)cap * sizeof *e);
        if (!e) return;
        q->e = e;
        q->cap = cap;
    }
    q->e[q->n] = (event){t < 0 ? 0 : t, type, chan, a, b, q->n};
    q->n++;
}

void synth_seq_note(seq *q, double t, double dur, int chan, int key, int vel)
{
    if (key < 0 || key > 127) return;
    vel = vel < 1 ? 1 : vel > 127 ? 127 : vel;
    synth_seq_add(q, t, EV_ON, chan, key, vel);
    synth_seq_add(q, t + (dur > 0.01 ? dur : 0.01), EV_OFF, chan, key, 0);
}

#ifdef ADVINST_HAVE_FLUIDSYNTH
static int event_cmp(const void *pa, const void *pb)
{
    const event *a = pa, *b = pb;
    if (a->t != b->t) return a->t < b->t ? -1 : 1;
    if (a->type != b->type) return a->type - b->type;   /* note-offs first at equal times */
    return a->order - b->order;
}
#endif

double synth_seq_end(const seq *q)
{
    double t = 0;
    for (int i = 0; i < q->n; i++) t = fmax(t, q->e[i].t);
    return t;
}

/* Plays q with program (bank, prog) of soundfont k on a freshly reset synth, for `seconds`,
 * and returns the mono mix resampled to 16 kHz. Drum kits (bank 128) play on channel 9. */
int synth_fluid_render(adv_synth *s, worker *w, int k, int bank, int prog, seq *q, double seconds, buf *out)
{
#ifdef ADVINST_HAVE_FLUIDSYNTH
    /* A reset synth still remembers earlier clips, so every clip gets a new synthesizer that
     * borrows the soundfont the worker's holder synth has loaded. */
    fluid_synth_t *fs = new_fluid_synth(w->settings);
    if (!fs) return adv_fail("fluidsynth: cannot create a synthesizer");
    fluid_sfont_t *sf = w->sfont[k];
    int id = sf ? fluid_synth_add_sfont(fs, sf) : FLUID_FAILED;
    int rc = 0;
    if (id == FLUID_FAILED) { delete_fluid_synth(fs); return adv_fail("fluidsynth: cannot share %s", s->sf_name[k]); }
    fluid_synth_set_interp_method(fs, -1, FLUID_INTERP_7THORDER);
    int drum = bank == 128 || s->sf_drum[k];
    if (s->sf_drum[k]) bank = prog = 0;
    for (int c = 0; c < 16 && rc == 0; c++) {
        if (drum && c != 9) continue;
        if (!drum && c == 9) continue;
        if (fluid_synth_program_select(fs, c, id, bank, prog) != FLUID_OK &&
            fluid_synth_program_select(fs, c, id, bank, 0) != FLUID_OK)
            rc = adv_fail("fluidsynth: %s has no program %d:%d", s->sf_name[k], bank, prog);
        fluid_synth_pitch_wheel_sens(fs, c, 2);
    }
    /* fluidsynth renders 64-frame blocks and keeps what a call did not take for the next call; a
     * multiple of 64 leaves nothing over, so every clip starts block-aligned on a clean synth. */
    long n = ((long)(seconds * FLUID_SR) / 64 + 1) * 64;
    if (n > w->cap) {
        free(w->l);
        free(w->r);
        w->l = malloc((size_t)n * sizeof(float));
        w->r = malloc((size_t)n * sizeof(float));
        w->cap = n;
        if (!w->l || !w->r) { w->cap = 0; rc = adv_fail("out of memory"); }
    }
    if (rc < 0) {
        fluid_synth_remove_sfont(fs, sf);
        delete_fluid_synth(fs);
        return rc;
    }
    qsort(q->e, (size_t)q->n, sizeof *q->e, event_cmp);
    long pos = 0;
    for (int i = 0; i <= q->n; i++) {
        long target = i < q->n ? (long)(q->e[i].t * FLUID_SR) : n;
        if (target > n) target = n;
        while (pos < target) {
            int chunk = (int)(target - pos < 4096 ? target - pos : 4096);
            fluid_synth_write_float(fs, chunk, w->l, (int)pos, 1, w->r, (int)pos, 1);
            pos += chunk;
        }
        if (i == q->n) break;
        const event *e = &q->e[i];
        int c = drum ? 9 : (e->chan == 9 ? 10 : e->chan);
        switch (e->type) {
        case EV_ON: fluid_synth_noteon(fs, c, e->a, e->b); break;
        case EV_OFF: fluid_synth_noteoff(fs, c, e->a); break;
        case EV_BEND: fluid_synth_pitch_bend(fs, c, e->a); break;
        default: fluid_synth_cc(fs, c, e->a, e->b); break;
        }
    }
    fluid_synth_remove_sfont(fs, sf);
    delete_fluid_synth(fs);
    for (long i = 0; i < n; i++) w->l[i] = 0.5f * (w->l[i] + w->r[i]);
    double speed = w->speed > 0 ? w->speed : 1.0;
    w->speed = 1.0;
    return to_16k(w->l, n, FLUID_SR * speed, out);
#else
    (void)s; (void)w; (void)k; (void)bank; (void)prog; (void)q; (void)seconds;
    *out = (buf){0};
    return adv_fail("no fluidsynth");
#endif
}

/* ---- music for the soundfont instruments ------------------------------------------------ */

static const int scale_major[] = {0, 2, 4, 5, 7, 9, 11}, scale_minor[] = {0, 2, 3, 5, 7, 8, 10},
                 scale_penta[] = {0, 2, 4, 7, 9}, scale_blues[] = {0, 3, 5, 6, 7, 10},
                 scale_dorian[] = {0, 2, 3, 5, 7, 9, 10}, scale_mixo[] = {0, 2, 4, 5, 7, 9, 10};
static const int *const scales[] = {scale_major, scale_minor, scale_penta, scale_blues, scale_dorian, scale_mixo};
static const int scale_len[] = {7, 7, 5, 6, 7, 7};

static const int chord_tab[][4] = {{0, 4, 7, -1}, {0, 3, 7, -1}, {0, 4, 7, 10}, {0, 3, 7, 10},
                                   {0, 5, 7, -1}, {0, 4, 7, 11}, {0, 7, 12, -1}};

key_ctx synth_random_key(rng *r, double bpm_lo, double bpm_hi)
{
    key_ctx k = {rint_in(r, 0, 11), rint_in(r, 0, 5), 60.0 / rrange(r, bpm_lo, bpm_hi)};
    return k;
}

/* The scale note nearest to m (at or above). */
int synth_snap(const key_ctx *k, int m)
{
    for (int up = 0; up < 12; up++) {
        int pc = ((m + up - k->root) % 12 + 12) % 12;
        for (int i = 0; i < scale_len[k->scale]; i++)
            if (scales[k->scale][i] == pc) return m + up;
    }
    return m;
}

/* Moves m by `steps` scale degrees. */
int synth_step_scale(const key_ctx *k, int m, int steps)
{
    m = synth_snap(k, m);
    while (steps > 0) { m = synth_snap(k, m + 1); steps--; }
    while (steps < 0) {
        int d = 1;
        while (synth_snap(k, m - d) != m - d) d++;
        m -= d;
        steps++;
    }
    return m;
}

double synth_rhythm(rng *r, const key_ctx *k)
{
    static const double w[] = {2, 4, 3, 1.5, 0.7, 0.5};
    static const double len[] = {0.25, 0.5, 1, 1.5, 2, 3};
    return len[rpick(r, w, 6)] * k->beat;
}

/* A random-walk melody in [lo, hi] filling `dur` seconds from t0; returns the end time. */
static double add_melody(seq *q, rng *r, const key_ctx *k, int lo, int hi, double t0, double dur,
                         int vel, double gate, int chan)
{
    int m = synth_snap(k, rint_in(r, lo + (hi - lo) / 4, hi - (hi - lo) / 4));
    double t = t0;
    while (t < t0 + dur) {
        double d = synth_rhythm(r, k);
        synth_seq_note(q, t, d * gate * rrange(r, 0.85, 1.0), chan, m, vel + rint_in(r, -12, 12));
        t += d;
        static const double sw[] = {1, 4, 4, 2, 2, 1, 1, 0.5, 0.5};
        static const int st[] = {0, 1, -1, 2, -2, 3, -3, 4, -5};
        m = synth_step_scale(k, m, st[rpick(r, sw, 9)]);
        if (m > hi) m = synth_step_scale(k, m, -3);
        if (m < lo) m = synth_step_scale(k, m, 3);
        if (rchance(r, 0.06)) t += k->beat * 0.5;   /* a rest */
    }
    return t;
}

/* Chord tones from root upward: n notes, each chord tone in turn, octaves repeating. */
static int voicing(int root, int quality, int n, int *out)
{
    int ct = chord_tab[quality][3] < 0 ? 3 : 4, c = 0;
    for (int i = 0; c < n; i++) out[c++] = root + chord_tab[quality][i % ct] + 12 * (i / ct);
    return n;
}

static int random_quality(rng *r)
{
    static const double w[] = {4, 3, 1.5, 1, 0.7, 0.5, 0};
    return rpick(r, w, 7);
}

typedef struct { int lo, hi; const int *progs; int nprogs; int plucked; } tonal_spec;

static const int P_ACC[] = {21, 23}, P_AG[] = {24, 25}, P_BASS[] = {32, 33, 34, 35, 36, 37, 38, 39},
                 P_EG[] = {26, 27, 28, 29, 30, 31}, P_GLOCK[] = {9}, P_HARM[] = {22}, P_MAR[] = {12, 13};

static tonal_spec tonal(int cls)
{
    switch (cls) {
    case C_ACCORDION: return (tonal_spec){48, 84, P_ACC, 2, 0};
    case C_AC_GUITAR: return (tonal_spec){40, 79, P_AG, 2, 1};
    case C_BASS_GUITAR: return (tonal_spec){28, 55, P_BASS, 8, 1};
    case C_EL_GUITAR: return (tonal_spec){40, 84, P_EG, 6, 1};
    case C_GLOCK: return (tonal_spec){72, 103, P_GLOCK, 1, 1};
    case C_HARMONICA: return (tonal_spec){60, 86, P_HARM, 1, 0};
    default: return (tonal_spec){45, 96, P_MAR, 2, 1};
    }
}

/* Pitch-bend gestures: a bend into the note (harmonica, guitar) or a vibrato. */
static void add_bend_in(seq *q, double t, double len, int from, int chan)
{
    for (int i = 0; i <= 10; i++) {
        double a = (double)i / 10;
        synth_seq_add(q, t + a * len, EV_BEND, chan, 8192 + (int)(from * (1 - a) * (1 - a)), 0);
    }
}

static void add_vibrato(seq *q, double t, double len, double rate, int depth, int chan)
{
    for (double u = 0; u < len; u += 0.01)
        synth_seq_add(q, t + u, EV_BEND, chan, 8192 + (int)(depth * sin(2 * M_PI * rate * u)), 0);
    synth_seq_add(q, t + len, EV_BEND, chan, 8192, 0);
}

/* Soundfont instruments: single notes, melodies, arpeggios, chords, sustained tones, rolls. */
int synth_render_tonal(adv_synth *s, worker *w, rng *r, int cls, double dur, buf *out)
{
    tonal_spec sp = tonal(cls);
    int k = synth_pick_gm(s, r);
    int prog = sp.progs[rint_in(r, 0, sp.nprogs - 1)];
    if (cls == C_MARIMBA && prog == 13) { sp.lo = 65; sp.hi = 100; }
    key_ctx key = synth_random_key(r, 60, 170);
    int vel = rint_in(r, 45, 120);
    double gate = rrange(r, 0.35, 1.0);
    seq q = {0};
    enum { SINGLE, MELODY, ARP, CHORDS, SUSTAIN, ROLL };
    double wt[6] = {2, 3, 1.5, 0, 0, 0};
    if (cls == C_ACCORDION) { wt[CHORDS] = 2; wt[SUSTAIN] = 1.5; }
    if (cls == C_AC_GUITAR || cls == C_EL_GUITAR) wt[CHORDS] = 2.5;
    if (cls == C_HARMONICA) { wt[CHORDS] = 0.8; wt[SUSTAIN] = 1.5; }
    if (cls == C_MARIMBA) wt[ROLL] = 1;
    if (cls == C_BASS_GUITAR) wt[ARP] = 1;
    int style = rpick(r, wt, 6);
    double t0 = rrange(r, 0.0, 0.15), end = t0 + dur;
    switch (style) {
    case SINGLE: {
        int n = synth_snap(&key, rint_in(r, sp.lo, sp.hi - 5));
        int reps = rchance(r, 0.3) ? rint_in(r, 2, 4) : 1;
        double each = dur / reps;
        for (int i = 0; i < reps; i++) {
            double t = t0 + i * each;
            synth_seq_note(&q, t, each * (sp.plucked ? gate : 0.9), 0, n, vel + rint_in(r, -10, 10));
            if ((cls == C_HARMONICA || cls == C_EL_GUITAR) && rchance(r, 0.3))
                add_bend_in(&q, t, rrange(r, 0.08, 0.3), -rint_in(r, 1500, 4000), 0);
            if ((cls == C_HARMONICA || cls == C_EL_GUITAR || cls == C_ACCORDION) && rchance(r, 0.35))
                add_vibrato(&q, t + 0.2, each * 0.8, rrange(r, 4, 7), rint_in(r, 150, 600), 0);
        }
        break;
    }
    case MELODY:
        add_melody(&q, r, &key, sp.lo, sp.hi - 3, t0, dur, vel, gate, 0);
        if (cls == C_ACCORDION && rchance(r, 0.5)) {
            /* left hand: bass note and chord on the beats */
            for (double t = t0; t < end; t += 2 * key.beat) {
                int root = 36 + key.root, v[4];
                synth_seq_note(&q, t, key.beat * 0.8, 1, root, vel - 15);
                voicing(48 + key.root, rchance(r, 0.7) ? 0 : 1, 3, v);
                for (int j = 0; j < 3; j++) synth_seq_note(&q, t + key.beat, key.beat * 0.7, 1, v[j], vel - 20);
            }
        }
        if ((cls == C_EL_GUITAR || cls == C_HARMONICA) && rchance(r, 0.4))
            add_vibrato(&q, t0 + rrange(r, 0, dur / 2), rrange(r, 0.4, 1.2), rrange(r, 4, 7),
                        rint_in(r, 200, 900), 0);
        break;
    case ARP: {
        int base = synth_snap(&key, rint_in(r, sp.lo, sp.lo + 12)), v[8];
        int qual = random_quality(r), n = rint_in(r, 3, 6);
        voicing(base, qual, n, v);
        double step = key.beat * (rchance(r, 0.5) ? 0.5 : 0.25);
        int i = 0, dir = 1;
        for (double t = t0; t < end; t += step) {
            int m = v[i];
            if (m <= sp.hi) synth_seq_note(&q, t, step * (sp.plucked ? 4 : 1) * gate, 0, m, vel + rint_in(r, -8, 8));
            i += dir;
            if (i >= n || i < 0) { dir = rchance(r, 0.5) ? -dir : dir; i = dir > 0 ? 0 : n - 1; }
            if (rchance(r, 0.1)) { base = synth_snap(&key, base + rint_in(r, -5, 5)); voicing(base, qual, n, v); }
        }
        break;
    }
    case CHORDS: {
        double t = t0;
        int down = 1;
        while (t < end) {
            int root = synth_snap(&key, rint_in(r, sp.lo, sp.lo + 12)), v[8];
            int qual = cls == C_EL_GUITAR && rchance(r, 0.4) ? 6 : random_quality(r);
            int n = cls == C_HARMONICA ? 3 : rint_in(r, 3, 6);
            if (cls == C_HARMONICA) root = synth_snap(&key, rint_in(r, 60, 72));
            voicing(root, qual, n, v);
            double len = key.beat * (rchance(r, 0.5) ? 1 : rchance(r, 0.5) ? 2 : 4);
            double spread = sp.plucked ? rrange(r, 0.008, 0.035) : 0;
            for (int j = 0; j < n; j++) {
                int idx = down ? j : n - 1 - j;
                synth_seq_note(&q, t + j * spread, len * (sp.plucked ? 1.0 : gate), 0, v[idx],
                               vel + rint_in(r, -10, 6));
            }
            if (cls == C_ACCORDION) synth_seq_note(&q, t, len * 0.9, 1, 36 + key.root, vel - 10);
            down = sp.plucked && rchance(r, 0.5) ? !down : 1;
            t += len;
        }
        break;
    }
    case SUSTAIN: {
        int n = synth_snap(&key, rint_in(r, sp.lo, sp.hi - 7)), v[4];
        int chord = cls == C_ACCORDION ? rchance(r, 0.6) : rchance(r, 0.3);
        voicing(n, random_quality(r), chord ? 3 : 1, v);
        for (int j = 0; j < (chord ? 3 : 1); j++) synth_seq_note(&q, t0, dur, 0, v[j], vel);
        /* bellows / breath: expression swells */
        double rate = rrange(r, 0.2, 1.2);
        for (double u = 0; u < dur; u += 0.02)
            synth_seq_add(&q, t0 + u, EV_CC, 0, 11, 80 + (int)(47 * fabs(sin(M_PI * rate * u))));
        break;
    }
    default: { /* ROLL: tremolo between one or two bars */
        int a = synth_snap(&key, rint_in(r, sp.lo, sp.hi - 7)), b = rchance(r, 0.5) ? a : synth_step_scale(&key, a, 2);
        double rate = rrange(r, 10, 18);
        int i = 0;
        for (double t = t0; t < end; t += 1.0 / rate, i++) {
            double swell = 0.7 + 0.3 * sin(M_PI * (t - t0) / dur);
            synth_seq_note(&q, t, 0.2, 0, i % 2 ? b : a, (int)(vel * swell) + rint_in(r, -8, 8));
            if (rchance(r, 0.02)) {
                a = synth_step_scale(&key, a, rint_in(r, -2, 2));
                b = synth_step_scale(&key, a, 2);
            }
        }
    }
    }
    /* Notes must not run past the clip: cut off everything at the end, keep a short release. */
    for (int i = 0; i < q.n; i++)
        if (q.e[i].t > end) q.e[i].t = end;
    double tail = sp.plucked ? rrange(r, 0.3, 1.5) : rrange(r, 0.15, 0.5);
    if (cls == C_GLOCK || cls == C_MARIMBA) tail += 0.5;
    /* a real recorded instrument plays the same notes in 25-45 % of the clips where there is one */
    const sampled_inst *real = sampler_for_class(&s->sampler, cls);
    int rc;
    if (real && rchance(r, cls == C_ACCORDION ? 0.25 : 0.45))
        rc = sampler_play(real, &q, fmax(synth_seq_end(&q), end) + tail,
                          sp.plucked ? rrange(r, 0.15, 0.6) : rrange(r, 0.05, 0.2), out);
    else
        rc = synth_fluid_render(s, w, k, 0, prog, &q, fmax(synth_seq_end(&q), end) + tail, out);
    free(q.e);
    return rc;
}
