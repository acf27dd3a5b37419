/* Data set rendering: fluidsynth driven by our own sequencing (no real-time driver, no fluidsynth
 * reverb/chorus, so it is deterministic), Hydrogen drum samples, espeak-ng syllables, and our own
 * synthesis (singing voice, gong, kick, hi-hat), then seeded augmentation (EQ, room, noise, level).
 * See docs/dataset.md for what each class is made of. */
#include "advinst/synth.h"
#include "advinst/audio.h"
#include "advinst/dataset.h"
#include "advinst/error.h"
#include "advinst/outfile.h"
#include "advinst/progress.h"
#include "advinst/resample.h"
#include "advinst/rng.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sndfile.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef ADVINST_HAVE_FLUIDSYNTH
#include <fluidsynth.h>
#endif

#include "recchain.h"
#include "sampler.h"
#include "synth_dsp.h"

#define FLUID_SR 48000   /* fluidsynth renders here (no aliasing of pitched-up samples), then 3:1 */
#define MAX_SF 6

/* Default clips per class: 799 in all, 49-75 per class, like the paper's FSDKaggle2019 subset. */
static const int default_counts[ADV_N_CLASSES] = {63, 75, 66, 71, 72, 64, 49, 68, 64, 66, 66, 75};

/* Independent stream per clip, a function of (seed, class, index) only. */
static rng clip_rng(uint64_t seed, int cls, long index)
{
    rng r = {seed};
    r.s = rnext(&r) ^ ((uint64_t)(cls + 1) * 0xD1B54A32D192ED03ull);
    r.s = rnext(&r) ^ ((uint64_t)(index + 1) * 0x8CB92BA72F3D8DD7ull);
    rnext(&r);
    return r;
}


typedef struct {
    float *x;     /* mono, native rate */
    long n;
    int rate;
    char *name;   /* "kit/file" for sources.txt */
} sample;

typedef struct { sample *s; int n, cap; } sample_set;

enum { SET_KICK, SET_HAT, SET_CYMBAL, N_SETS };

typedef struct {
#ifdef ADVINST_HAVE_FLUIDSYNTH
    fluid_settings_t *settings;
    fluid_synth_t *synth;
    fluid_sfont_t *sfont[MAX_SF];   /* loaded by the holder synth, lent to one synth per clip */
#endif
    char tmpwav[64];   /* espeak-ng output file of this worker */
    float *l, *r;      /* fluidsynth stereo scratch */
    double speed;      /* playback speed of the next fluid_render (< 1 pitches down), reset after */
    long cap;
} worker;

struct adv_synth {
    adv_render_options opt;
    int n_sf;
    char *sf_path[MAX_SF];
    const char *sf_name[MAX_SF];
    int sf_drum[MAX_SF];              /* 1: a drum-kit soundfont (its preset 0:0 is a GM-mapped kit) */
    int gm[MAX_SF], n_gm;             /* indices of the General MIDI soundfonts */
    int drumfont[MAX_SF], n_drumfont; /* indices of the drum-kit soundfonts */
    sampler_set sampler;              /* recorded instruments from npm */
    unsigned char codec_ok[REC_N_CODECS];
    sample_set sets[N_SETS];
    int n_kits;
    int have_espeak;
    int n_workers;
    worker *w;
    char *sources;
};

static const char *const sf_files[MAX_SF][4] = {
    /* name, file, subdirectory of the default location, kind */
    {"FluidR3_GM", "FluidR3_GM.sf2", "sf2", "gm"},
    {"MuseScore_General_Full", "MuseScore_General_Full.sf3", "sf3", "gm"},
    {"TimGM6mb", "TimGM6mb.sf2", "sf2", "gm"},
    {"Csound_sf_GMbank", "sf_GMbank.sf2", "sf2", "gm"},
    {"AVL_Black_Pearl_4", "Black_Pearl_4_LV2.sf2", "sf2", "drum"},
    {"AVL_Red_Zeppelin_4", "Red_Zeppelin_4_LV2.sf2", "sf2", "drum"},
};

/* A General MIDI soundfont, uniformly. */
static int pick_gm(const adv_synth *s, rng *r) { return s->gm[rint_in(r, 0, s->n_gm - 1)]; }

static char *find_soundfont(const char *dir, int k)
{
    const char *base = dir ? dir : "/usr/share/sounds";
    char *p = NULL;
    struct stat st;
    const char *cand[2][2] = {{base, ""}, {base, sf_files[k][2]}};
    for (int i = 0; i < 2; i++) {
        free(p);
        p = NULL;
        if (asprintf(&p, "%s/%s%s%s", cand[i][0], cand[i][1], *cand[i][1] ? "/" : "", sf_files[k][1]) < 0)
            return NULL;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) return p;
    }
    free(p);
    return NULL;
}

static int set_add(sample_set *set, sample s)
{
    if (set->n == set->cap) {
        int cap = set->cap ? 2 * set->cap : 64;
        sample *x = realloc(set->s, (size_t)cap * sizeof *x);
        if (!x) return adv_fail("out of memory");
        set->s = x;
        set->cap = cap;
    }
    set->s[set->n++] = s;
    return 0;
}

static int contains_ci(const char *hay, const char *needle)
{
    return strcasestr(hay, needle) != NULL;
}

/* Which set an instrument of a Hydrogen kit belongs to, from its name and file name; -1 none.
 * File names guard against mislabelled instruments (a "Kick" that is a tom sample, a shaker as
 * "Pedal HH"). */
static int classify_drum(const char *inst, const char *file)
{
    if (contains_ci(file, "tom") || contains_ci(file, "shake") || contains_ci(file, "snare")) return -1;
    if (contains_ci(inst, "kick") || contains_ci(inst, "bass drum") || contains_ci(inst, "bassdrum"))
        return SET_KICK;
    if (contains_ci(inst, "hat") || contains_ci(inst, "hh")) return SET_HAT;
    if (contains_ci(inst, "crash") || contains_ci(inst, "china") || contains_ci(inst, "ride") ||
        contains_ci(inst, "splash") || contains_ci(inst, "cymbal"))
        return SET_CYMBAL;
    return -1;
}

/* Text between <tag> and </tag> starting at p (copied into out), or NULL; returns the end. */
static const char *xml_tag(const char *p, const char *end, const char *tag, char *out, size_t size)
{
    char open[32], close[32];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *a = strstr(p, open);
    if (!a || a >= end) return NULL;
    a += strlen(open);
    const char *b = strstr(a, close);
    if (!b || b > end) return NULL;
    size_t n = (size_t)(b - a) < size - 1 ? (size_t)(b - a) : size - 1;
    memcpy(out, a, n);
    out[n] = 0;
    return b + strlen(close);
}

static int load_sample(const char *path, const char *label, sample *out)
{
    adv_audio a;
    if (adv_audio_read(path, &a) < 0) return -1;
    float *mono = malloc((size_t)a.frames * sizeof *mono);
    if (!mono) { adv_audio_free(&a); return adv_fail("out of memory"); }
    adv_audio_mix_mono(&a, mono);
    *out = (sample){mono, a.frames, a.rate, strdup(label)};
    adv_audio_free(&a);
    return 0;
}

static int compare_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Scans Hydrogen drum kits (each DIR/<kit>/drumkit.xml) for kick, hi-hat and cymbal samples. Kits
 * are visited in sorted order so the sample lists (and so the renders) do not depend on readdir. */
static void load_drumkits(adv_synth *s, const char *root)
{
    DIR *d = opendir(root);
    if (!d) return;
    char *kits[256];
    int nk = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nk < 256)
        if (e->d_name[0] != '.') kits[nk++] = strdup(e->d_name);
    closedir(d);
    qsort(kits, (size_t)nk, sizeof *kits, compare_str);
    for (int k = 0; k < nk; k++) {
        char *xml_path = NULL, *text = NULL;
        if (asprintf(&xml_path, "%s/%s/drumkit.xml", root, kits[k]) < 0) continue;
        FILE *f = fopen(xml_path, "rb");
        free(xml_path);
        if (!f) { free(kits[k]); continue; }
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        rewind(f);
        text = malloc((size_t)size + 1);
        if (text && fread(text, 1, (size_t)size, f) == (size_t)size) {
            text[size] = 0;
            int used = 0;
            const char *p = text;
            while ((p = strstr(p, "<instrument>"))) {
                const char *end = strstr(p, "</instrument>");
                if (!end) break;
                char inst[256] = "", file[512];
                xml_tag(p, end, "name", inst, sizeof inst);
                for (const char *q = p; (q = xml_tag(q, end, "filename", file, sizeof file));) {
                    int set = classify_drum(inst, file);
                    if (set < 0) continue;
                    char *path = NULL, *label = NULL;
                    int dup = 0;
                    if (asprintf(&label, "%s/%s", kits[k], file) < 0) continue;
                    for (int i = 0; i < s->sets[set].n && !dup; i++) dup = strcmp(s->sets[set].s[i].name, label) == 0;
                    sample smp = {0};
                    if (!dup && asprintf(&path, "%s/%s/%s", root, kits[k], file) >= 0 &&
                        load_sample(path, label, &smp) == 0) {
                        if (smp.n > 160 && set_add(&s->sets[set], smp) == 0) used = 1;
                        else { free(smp.x); free(smp.name); }
                    }
                    free(path);
                    free(label);
                }
                p = end;
            }
            s->n_kits += used;
        }
        free(text);
        fclose(f);
        free(kits[k]);
    }
}

static int have_program(const char *cmd)
{
    char *line = NULL;
    if (asprintf(&line, "%s >/dev/null 2>&1", cmd) < 0) return 0;
    int rc = system(line);
    free(line);
    return rc == 0;
}

static void worker_free(worker *w)
{
#ifdef ADVINST_HAVE_FLUIDSYNTH
    if (w->synth) delete_fluid_synth(w->synth);
    if (w->settings) delete_fluid_settings(w->settings);
#endif
    if (w->tmpwav[0]) unlink(w->tmpwav);
    free(w->l);
    free(w->r);
}

#ifdef ADVINST_HAVE_FLUIDSYNTH
static void fluid_log_quiet(int level, const char *message, void *data)
{
    (void)level; (void)message; (void)data;
}

static int worker_init(adv_synth *s, worker *w)
{
    w->settings = new_fluid_settings();
    if (!w->settings) return adv_fail("fluidsynth: cannot create settings");
    fluid_settings_setnum(w->settings, "synth.sample-rate", FLUID_SR);
    fluid_settings_setint(w->settings, "synth.reverb.active", 0);
    fluid_settings_setint(w->settings, "synth.chorus.active", 0);
    fluid_settings_setint(w->settings, "synth.polyphony", 256);
    fluid_settings_setint(w->settings, "synth.cpu-cores", 1);
    fluid_settings_setint(w->settings, "synth.dynamic-sample-loading", 0);
    fluid_settings_setnum(w->settings, "synth.gain", 0.4);
    w->synth = new_fluid_synth(w->settings);
    if (!w->synth) return adv_fail("fluidsynth: cannot create a synthesizer");
    for (int k = 0; k < s->n_sf; k++) {
        int id = fluid_synth_sfload(w->synth, s->sf_path[k], 0);
        if (id == FLUID_FAILED || !(w->sfont[k] = fluid_synth_get_sfont_by_id(w->synth, id)))
            return adv_fail("fluidsynth: cannot load %s", s->sf_path[k]);
    }
    fluid_synth_set_interp_method(w->synth, -1, FLUID_INTERP_7THORDER);
    strcpy(w->tmpwav, "/tmp/advinst-espeak-XXXXXX");
    int fd = mkstemp(w->tmpwav);
    if (fd < 0) { w->tmpwav[0] = 0; return adv_fail("cannot create a temporary file: %s", strerror(errno)); }
    close(fd);
    return 0;
}
#else
static int worker_init(adv_synth *s, worker *w)
{
    (void)s; (void)w;
    return adv_fail("this build has no fluidsynth (install libfluidsynth-dev and rebuild)");
}
#endif

void adv_render_options_default(adv_render_options *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->threads = 2;
}

adv_synth *adv_synth_create(const adv_render_options *o)
{
    adv_synth *s = calloc(1, sizeof *s);
    if (!s) { adv_fail("out of memory"); return NULL; }
    s->opt = *o;
    if (s->opt.threads <= 0) s->opt.threads = 2;
    if (s->opt.max_seconds <= 0) s->opt.max_seconds = 30;
    if (s->opt.min_seconds <= 0) s->opt.min_seconds = 0.3;
    for (int k = 0; k < MAX_SF; k++) {
        if (o->small && k != 2) continue;
        char *p = find_soundfont(o->soundfont_dir, k);
        if (p) {
            s->sf_drum[s->n_sf] = !strcmp(sf_files[k][3], "drum");
            if (s->sf_drum[s->n_sf]) s->drumfont[s->n_drumfont++] = s->n_sf;
            else s->gm[s->n_gm++] = s->n_sf;
            s->sf_path[s->n_sf] = p;
            s->sf_name[s->n_sf++] = sf_files[k][0];
        }
    }
    if (s->n_gm == 0) {
        adv_fail("no soundfont found in %s (install timgm6mb-soundfont, or fluid-soundfont-gm / "
                 "musescore-general-soundfont)", o->soundfont_dir ? o->soundfont_dir : "/usr/share/sounds/sf2, sf3");
        adv_synth_free(s);
        return NULL;
    }
#ifdef ADVINST_HAVE_FLUIDSYNTH
    fluid_set_log_function(FLUID_WARN, fluid_log_quiet, NULL);
    fluid_set_log_function(FLUID_INFO, fluid_log_quiet, NULL);
    fluid_set_log_function(FLUID_DBG, fluid_log_quiet, NULL);
#endif
    if (!o->small) {
        load_drumkits(s, o->drumkit_dir ? o->drumkit_dir : "/usr/share/hydrogen/data/drumkits");
        s->have_espeak = have_program("espeak-ng --version");
        if (sampler_load(&s->sampler, o->samples_dir) < 0) { adv_synth_free(s); return NULL; }
    }
    for (int k = 0; k < REC_N_CODECS; k++) s->codec_ok[k] = (unsigned char)rec_codec_supported(k);
    s->n_workers = s->opt.threads;
    s->w = calloc((size_t)s->n_workers, sizeof *s->w);
    if (!s->w) { adv_fail("out of memory"); adv_synth_free(s); return NULL; }
    for (int i = 0; i < s->n_workers; i++)
        if (worker_init(s, &s->w[i]) < 0) { adv_synth_free(s); return NULL; }
    /* sources.txt */
    size_t size = 0;
    FILE *f = open_memstream(&s->sources, &size);
    if (!f) { adv_fail("out of memory"); adv_synth_free(s); return NULL; }
    fprintf(f, "seed %llu\n", (unsigned long long)o->seed);
    for (int k = 0; k < s->n_sf; k++) fprintf(f, "soundfont %s %s\n", s->sf_name[k], s->sf_path[k]);
    fprintf(f, "drumkits %d kits: %d kick, %d hi-hat, %d cymbal samples\n", s->n_kits,
            s->sets[SET_KICK].n, s->sets[SET_HAT].n, s->sets[SET_CYMBAL].n);
    fprintf(f, "espeak-ng %s\n", s->have_espeak ? "yes" : "no");
    for (int i = 0; i < s->sampler.n; i++)
        fprintf(f, "recorded %s: %d notes (%s)\n", s->sampler.inst[i].name, s->sampler.inst[i].n,
                adv_class_names[s->sampler.inst[i].cls]);
    fprintf(f, "codecs");
    for (int k = 0; k < REC_N_CODECS; k++) fprintf(f, " %s %s", rec_codec_name(k), s->codec_ok[k] ? "yes" : "no");
    fputc('\n', f);
    fprintf(f, "synthesis singing-voice gong kick hi-hat (always)\n");
    fclose(f);
    return s;
}

void adv_synth_free(adv_synth *s)
{
    if (!s) return;
    for (int i = 0; s->w && i < s->n_workers; i++) worker_free(&s->w[i]);
    free(s->w);
    for (int k = 0; k < s->n_sf; k++) free(s->sf_path[k]);
    sampler_free(&s->sampler);
    for (int t = 0; t < N_SETS; t++) {
        for (int i = 0; i < s->sets[t].n; i++) { free(s->sets[t].s[i].x); free(s->sets[t].s[i].name); }
        free(s->sets[t].s);
    }
    free(s->sources);
    free(s);
}

const char *adv_synth_sources(const adv_synth *s) { return s->sources ? s->sources : ""; }

/* ---- event sequences for fluidsynth ------------------------------------------------------ */

static void seq_add(seq *q, double t, int type, int chan, int a, int b)
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

static void seq_note(seq *q, double t, double dur, int chan, int key, int vel)
{
    if (key < 0 || key > 127) return;
    vel = vel < 1 ? 1 : vel > 127 ? 127 : vel;
    seq_add(q, t, EV_ON, chan, key, vel);
    seq_add(q, t + (dur > 0.01 ? dur : 0.01), EV_OFF, chan, key, 0);
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

static double seq_end(const seq *q)
{
    double t = 0;
    for (int i = 0; i < q->n; i++) t = fmax(t, q->e[i].t);
    return t;
}

/* Plays q with program (bank, prog) of soundfont k on a freshly reset synth, for `seconds`,
 * and returns the mono mix resampled to 16 kHz. Drum kits (bank 128) play on channel 9. */
static int fluid_render(adv_synth *s, worker *w, int k, int bank, int prog, seq *q, double seconds, buf *out)
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

typedef struct {
    int root;          /* pitch class 0..11 */
    int scale;
    double beat;       /* seconds per beat */
} key_ctx;

static key_ctx random_key(rng *r, double bpm_lo, double bpm_hi)
{
    key_ctx k = {rint_in(r, 0, 11), rint_in(r, 0, 5), 60.0 / rrange(r, bpm_lo, bpm_hi)};
    return k;
}

/* The scale note nearest to m (at or above). */
static int snap(const key_ctx *k, int m)
{
    for (int up = 0; up < 12; up++) {
        int pc = ((m + up - k->root) % 12 + 12) % 12;
        for (int i = 0; i < scale_len[k->scale]; i++)
            if (scales[k->scale][i] == pc) return m + up;
    }
    return m;
}

/* Moves m by `steps` scale degrees. */
static int step_scale(const key_ctx *k, int m, int steps)
{
    m = snap(k, m);
    while (steps > 0) { m = snap(k, m + 1); steps--; }
    while (steps < 0) {
        int d = 1;
        while (snap(k, m - d) != m - d) d++;
        m -= d;
        steps++;
    }
    return m;
}

static double rhythm(rng *r, const key_ctx *k)
{
    static const double w[] = {2, 4, 3, 1.5, 0.7, 0.5};
    static const double len[] = {0.25, 0.5, 1, 1.5, 2, 3};
    return len[rpick(r, w, 6)] * k->beat;
}

/* A random-walk melody in [lo, hi] filling `dur` seconds from t0; returns the end time. */
static double add_melody(seq *q, rng *r, const key_ctx *k, int lo, int hi, double t0, double dur,
                         int vel, double gate, int chan)
{
    int m = snap(k, rint_in(r, lo + (hi - lo) / 4, hi - (hi - lo) / 4));
    double t = t0;
    while (t < t0 + dur) {
        double d = rhythm(r, k);
        seq_note(q, t, d * gate * rrange(r, 0.85, 1.0), chan, m, vel + rint_in(r, -12, 12));
        t += d;
        static const double sw[] = {1, 4, 4, 2, 2, 1, 1, 0.5, 0.5};
        static const int st[] = {0, 1, -1, 2, -2, 3, -3, 4, -5};
        m = step_scale(k, m, st[rpick(r, sw, 9)]);
        if (m > hi) m = step_scale(k, m, -3);
        if (m < lo) m = step_scale(k, m, 3);
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
        seq_add(q, t + a * len, EV_BEND, chan, 8192 + (int)(from * (1 - a) * (1 - a)), 0);
    }
}

static void add_vibrato(seq *q, double t, double len, double rate, int depth, int chan)
{
    for (double u = 0; u < len; u += 0.01)
        seq_add(q, t + u, EV_BEND, chan, 8192 + (int)(depth * sin(2 * M_PI * rate * u)), 0);
    seq_add(q, t + len, EV_BEND, chan, 8192, 0);
}

/* Soundfont instruments: single notes, melodies, arpeggios, chords, sustained tones, rolls. */
static int render_tonal(adv_synth *s, worker *w, rng *r, int cls, double dur, buf *out)
{
    tonal_spec sp = tonal(cls);
    int k = pick_gm(s, r);
    int prog = sp.progs[rint_in(r, 0, sp.nprogs - 1)];
    if (cls == C_MARIMBA && prog == 13) { sp.lo = 65; sp.hi = 100; }
    key_ctx key = random_key(r, 60, 170);
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
        int n = snap(&key, rint_in(r, sp.lo, sp.hi - 5));
        int reps = rchance(r, 0.3) ? rint_in(r, 2, 4) : 1;
        double each = dur / reps;
        for (int i = 0; i < reps; i++) {
            double t = t0 + i * each;
            seq_note(&q, t, each * (sp.plucked ? gate : 0.9), 0, n, vel + rint_in(r, -10, 10));
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
                seq_note(&q, t, key.beat * 0.8, 1, root, vel - 15);
                voicing(48 + key.root, rchance(r, 0.7) ? 0 : 1, 3, v);
                for (int j = 0; j < 3; j++) seq_note(&q, t + key.beat, key.beat * 0.7, 1, v[j], vel - 20);
            }
        }
        if ((cls == C_EL_GUITAR || cls == C_HARMONICA) && rchance(r, 0.4))
            add_vibrato(&q, t0 + rrange(r, 0, dur / 2), rrange(r, 0.4, 1.2), rrange(r, 4, 7),
                        rint_in(r, 200, 900), 0);
        break;
    case ARP: {
        int base = snap(&key, rint_in(r, sp.lo, sp.lo + 12)), v[8];
        int qual = random_quality(r), n = rint_in(r, 3, 6);
        voicing(base, qual, n, v);
        double step = key.beat * (rchance(r, 0.5) ? 0.5 : 0.25);
        int i = 0, dir = 1;
        for (double t = t0; t < end; t += step) {
            int m = v[i];
            if (m <= sp.hi) seq_note(&q, t, step * (sp.plucked ? 4 : 1) * gate, 0, m, vel + rint_in(r, -8, 8));
            i += dir;
            if (i >= n || i < 0) { dir = rchance(r, 0.5) ? -dir : dir; i = dir > 0 ? 0 : n - 1; }
            if (rchance(r, 0.1)) { base = snap(&key, base + rint_in(r, -5, 5)); voicing(base, qual, n, v); }
        }
        break;
    }
    case CHORDS: {
        double t = t0;
        int down = 1;
        while (t < end) {
            int root = snap(&key, rint_in(r, sp.lo, sp.lo + 12)), v[8];
            int qual = cls == C_EL_GUITAR && rchance(r, 0.4) ? 6 : random_quality(r);
            int n = cls == C_HARMONICA ? 3 : rint_in(r, 3, 6);
            if (cls == C_HARMONICA) root = snap(&key, rint_in(r, 60, 72));
            voicing(root, qual, n, v);
            double len = key.beat * (rchance(r, 0.5) ? 1 : rchance(r, 0.5) ? 2 : 4);
            double spread = sp.plucked ? rrange(r, 0.008, 0.035) : 0;
            for (int j = 0; j < n; j++) {
                int idx = down ? j : n - 1 - j;
                seq_note(&q, t + j * spread, len * (sp.plucked ? 1.0 : gate), 0, v[idx], vel + rint_in(r, -10, 6));
            }
            if (cls == C_ACCORDION) seq_note(&q, t, len * 0.9, 1, 36 + key.root, vel - 10);
            down = sp.plucked && rchance(r, 0.5) ? !down : 1;
            t += len;
        }
        break;
    }
    case SUSTAIN: {
        int n = snap(&key, rint_in(r, sp.lo, sp.hi - 7)), v[4];
        int chord = cls == C_ACCORDION ? rchance(r, 0.6) : rchance(r, 0.3);
        voicing(n, random_quality(r), chord ? 3 : 1, v);
        for (int j = 0; j < (chord ? 3 : 1); j++) seq_note(&q, t0, dur, 0, v[j], vel);
        /* bellows / breath: expression swells */
        double rate = rrange(r, 0.2, 1.2);
        for (double u = 0; u < dur; u += 0.02)
            seq_add(&q, t0 + u, EV_CC, 0, 11, 80 + (int)(47 * fabs(sin(M_PI * rate * u))));
        break;
    }
    default: { /* ROLL: tremolo between one or two bars */
        int a = snap(&key, rint_in(r, sp.lo, sp.hi - 7)), b = rchance(r, 0.5) ? a : step_scale(&key, a, 2);
        double rate = rrange(r, 10, 18);
        int i = 0;
        for (double t = t0; t < end; t += 1.0 / rate, i++) {
            double swell = 0.7 + 0.3 * sin(M_PI * (t - t0) / dur);
            seq_note(&q, t, 0.2, 0, i % 2 ? b : a, (int)(vel * swell) + rint_in(r, -8, 8));
            if (rchance(r, 0.02)) { a = step_scale(&key, a, rint_in(r, -2, 2)); b = step_scale(&key, a, 2); }
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
        rc = sampler_play(real, &q, fmax(seq_end(&q), end) + tail, sp.plucked ? rrange(r, 0.15, 0.6) : rrange(r, 0.05, 0.2), out);
    else
        rc = fluid_render(s, w, k, 0, prog, &q, fmax(seq_end(&q), end) + tail, out);
    free(q.e);
    return rc;
}

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

static int render_drum(adv_synth *s, worker *w, rng *r, int cls, double dur, buf *out)
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
        int k = s->n_drumfont && rchance(r, 0.5) ? s->drumfont[rint_in(r, 0, s->n_drumfont - 1)] : pick_gm(s, r);
        if (cls == C_BASS_DRUM) { key[0] = rchance(r, 0.5) ? 35 : 36; key[1] = 71 - key[0]; }
        else { key[0] = rchance(r, 0.8) ? 42 : 44; key[1] = 46; }
        if (cls == C_BASS_DRUM && s->sf_drum[k]) key[0] = key[1] = 36;   /* the AVL kits have no 35 */
        for (int i = 0; i < nh; i++)
            seq_note(&q, h[i].t, 0.2, 9, key[h[i].variant], (int)(20 + 107 * h[i].amp));
        rc = fluid_render(s, w, k, 128, kits[rint_in(r, 0, 7)], &q,
                          seq_end(&q) + rrange(r, 0.4, 1.5), out);
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
        seq_note(&q, h[j].t * speed, 2.0, 9, notes[rint_in(r, 0, 5)], (int)(30 + 97 * h[j].amp));
    w->speed = speed;
    int rc = fluid_render(s, w, pick_gm(s, r), 128, 0, &q, seconds * speed, out);
    free(q.e);
    return rc;
}

static int render_gong(adv_synth *s, worker *w, rng *r, double dur, buf *out)
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

/* ---- singing ------------------------------------------------------------------------------- */

typedef struct { double t, dur; int midi; int vowel; } sung;

/* Phrases of legato notes in the register [lo, hi] (MIDI), or one long held note. */
static int sing_notes(rng *r, int lo, int hi, double dur, sung *v, int max)
{
    key_ctx k = random_key(r, 50, 130);
    int n = 0, m = snap(&k, rint_in(r, lo + 3, hi - 5));
    double t = rrange(r, 0.02, 0.2);
    if (rchance(r, 0.2) || dur < 0.8) {
        v[n++] = (sung){t, dur - t, m, rint_in(r, 0, 4)};
        return n;
    }
    while (t < dur - 0.2 && n < max) {
        int phrase = rint_in(r, 3, 9);
        for (int i = 0; i < phrase && t < dur - 0.2 && n < max; i++) {
            double d = fmin(rhythm(r, &k) * rrange(r, 1.0, 1.6), dur - t);
            v[n++] = (sung){t, d, m, rint_in(r, 0, 4)};
            t += d;
            static const double sw[] = {2, 4, 4, 2, 2, 1, 1};
            static const int st[] = {0, 1, -1, 2, -2, 3, -4};
            m = step_scale(&k, m, st[rpick(r, sw, 7)]);
            if (m > hi) m = step_scale(&k, m, -3);
            if (m < lo) m = step_scale(&k, m, 3);
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
    for (int i = 0; i < nv; i++) seq_note(&q, v[i].t, v[i].dur * rrange(r, 0.95, 1.05), 0, v[i].midi, vel + rint_in(r, -8, 8));
    seq_add(&q, 0, EV_CC, 0, 1, rint_in(r, 0, 80));
    int rc = fluid_render(s, w, pick_gm(s, r), 0, progs[rpick(r, pw, 4)], &q, seconds, out);
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

static int render_voice(adv_synth *s, worker *w, rng *r, int female, double dur, buf *out)
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

/* ---- clips and data set -------------------------------------------------------------------- */

static double clip_duration(rng *r, int cls, double lo, double hi)
{
    double d;
    double p = runif(r);
    if (p < 0.12) d = rrange(r, 0.3, 1.2);                    /* short: single hits, blips */
    else if (p < 0.92) d = exp(log(3.2) + 0.6 * rnorm(r));   /* most: a few seconds */
    else d = rrange(r, 10, 30);                               /* some long takes */
    if (cls == C_GONG && d < 2.5) d = rrange(r, 2.5, 6);      /* gongs ring */
    if (d < lo) d = lo;
    if (d > hi) d = hi;
    return d;
}

int adv_synth_render_clip(adv_synth *s, int worker_index, int cls, long index, float **out, long *frames)
{
    *out = NULL;
    *frames = 0;
    if (cls < 0 || cls >= ADV_N_CLASSES || worker_index < 0 || worker_index >= s->n_workers)
        return adv_fail("render: bad class %d or worker %d", cls, worker_index);
    worker *w = &s->w[worker_index];
    w->speed = 1.0;
    rng r = clip_rng(s->opt.seed, cls, index);
    double dur = clip_duration(&r, cls, s->opt.min_seconds, s->opt.max_seconds);
    buf b = {0};
    int rc;
    switch (cls) {
    case C_BASS_DRUM: case C_HIHAT: rc = render_drum(s, w, &r, cls, dur, &b); break;
    case C_GONG: rc = render_gong(s, w, &r, dur, &b); break;
    case C_FEMALE: case C_MALE: rc = render_voice(s, w, &r, cls == C_FEMALE, dur, &b); break;
    default: rc = render_tonal(s, w, &r, cls, dur, &b); break;
    }
    if (rc == 0) rc = rec_chain(&r, &b, cls, s->opt.min_seconds, s->opt.max_seconds, s->codec_ok);
    if (rc < 0) {
        free(b.x);
        char msg[512];
        snprintf(msg, sizeof msg, "%s", adv_error());
        return adv_fail("rendering %s %ld: %s", adv_class_names[cls], index, msg);
    }
    *out = b.x;
    *frames = b.n;
    return 0;
}

long adv_render_class_count(const adv_render_options *o, int cls)
{
    if (o->class_mask && !(o->class_mask & (1u << cls))) return 0;
    return o->clips_per_class > 0 ? o->clips_per_class : default_counts[cls];
}

typedef struct {
    adv_synth *s;
    const char *stage;
    atomic_int *cancel;
    int *cls;
    long *idx;
    long n;
    atomic_long next, done;
    atomic_int failed;
    char error[1024];
    pthread_mutex_t lock;
} job;

typedef struct { job *j; int worker; } thread_arg;

static void *render_thread(void *p)
{
    thread_arg *a = p;
    job *j = a->j;
    for (;;) {
        long i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n || atomic_load(&j->failed) || (j->cancel && atomic_load(j->cancel))) break;
        float *x;
        long n;
        int rc = adv_synth_render_clip(j->s, a->worker, j->cls[i], j->idx[i], &x, &n);
        if (rc == 0) {
            char path[4096];
            snprintf(path, sizeof path, "%s/audio/%s_%03ld.wav", j->stage, adv_class_names[j->cls[i]], j->idx[i]);
            adv_audio au = {x, n, 1, SR, SF_FORMAT_WAV | SF_FORMAT_PCM_16};
            rc = adv_audio_write(path, &au);
            free(x);
        }
        if (rc < 0) {
            pthread_mutex_lock(&j->lock);
            if (!atomic_load(&j->failed)) snprintf(j->error, sizeof j->error, "%s", adv_error());
            atomic_store(&j->failed, 1);
            pthread_mutex_unlock(&j->lock);
            break;
        }
        atomic_fetch_add(&j->done, 1);
    }
    return NULL;
}

int adv_render_dataset(const char *out_dir, const adv_render_options *o, int force)
{
    char *stage = NULL;
    if (adv_dataset_stage_open(out_dir, force, &stage) < 0) return ADV_EXIT_OUTPUT;
    adv_synth *s = adv_synth_create(o);
    if (!s) { adv_dataset_stage_abort(stage); free(stage); return ADV_EXIT_INPUT; }
    int rc = ADV_EXIT_OUTPUT;
    job j = {.s = s, .stage = stage, .cancel = o->cancel};
    pthread_mutex_init(&j.lock, NULL);
    adv_dataset ds;
    adv_dataset_init(&ds);
    long total = 0;
    for (int c = 0; c < ADV_N_CLASSES; c++) total += adv_render_class_count(o, c);
    j.cls = malloc((size_t)(total + 1) * sizeof *j.cls);
    j.idx = malloc((size_t)(total + 1) * sizeof *j.idx);
    if (!j.cls || !j.idx) { adv_fail("out of memory"); goto done; }
    for (int c = 0; c < ADV_N_CLASSES; c++)
        for (long i = 0; i < adv_render_class_count(o, c); i++) {
            char name[64];
            snprintf(name, sizeof name, "%s_%03ld.wav", adv_class_names[c], i);
            if (adv_dataset_add(&ds, name, c, ADV_SPLIT_TRAIN) < 0) goto done;
            j.cls[j.n] = c;
            j.idx[j.n++] = i;
        }
    /* Longest-first would balance threads better, but the order does not change any output. */
    pthread_t th[64];
    thread_arg args[64];
    int nt = s->n_workers < 64 ? s->n_workers : 64, started = 0;
    for (int t = 0; t < nt; t++) {
        args[t] = (thread_arg){&j, t};
        if (pthread_create(&th[t], NULL, render_thread, &args[t]) == 0) started++;
        else break;
    }
    if (started == 0) { adv_fail("cannot start a thread"); goto done; }
    adv_progress bar;
    if (o->progress) adv_progress_start(&bar, "render", j.n);
    while (atomic_load(&j.done) < j.n && !atomic_load(&j.failed) && !(o->cancel && atomic_load(o->cancel))) {
        if (o->progress) adv_progress_update(&bar, atomic_load(&j.done), NULL);
        usleep(100000);
    }
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    if (o->progress) { adv_progress_update(&bar, atomic_load(&j.done), NULL); adv_progress_finish(&bar); }
    if (atomic_load(&j.failed)) { adv_fail("%s", j.error); goto done; }
    if (o->cancel && atomic_load(o->cancel)) { adv_fail("interrupted: nothing written"); rc = ADV_EXIT_INTERRUPTED; goto done; }
    adv_dataset_assign_split(&ds, o->seed, 1);
    char *path = NULL;
    if (asprintf(&path, "%s/labels.csv", stage) < 0) { adv_fail("out of memory"); goto done; }
    int wr = adv_dataset_write_labels(path, &ds);
    free(path);
    if (wr < 0) goto done;
    path = NULL;
    if (asprintf(&path, "%s/sources.txt", stage) < 0) { adv_fail("out of memory"); goto done; }
    adv_outfile *out = adv_outfile_open(path, 0);
    free(path);
    if (!out) goto done;
    const char *sources = adv_synth_sources(s);
    adv_outfile_write(out, sources, strlen(sources));
    if (adv_outfile_commit(out) != 0) goto done;
    if (adv_dataset_stage_commit(stage, out_dir) < 0) goto done;
    free(stage);
    stage = NULL;
    rc = 0;
done:
    if (stage) { adv_dataset_stage_abort(stage); free(stage); }
    pthread_mutex_destroy(&j.lock);
    free(j.cls);
    free(j.idx);
    adv_dataset_free(&ds);
    adv_synth_free(s);
    return rc;
}

const char *adv_default_samples_dir(void)
{
#ifdef ADVINST_SOURCE_DIR
    static const char dir[] = ADVINST_SOURCE_DIR "/data/samples";
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return dir;
#endif
    return NULL;
}
