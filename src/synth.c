/* Data set rendering: fluidsynth driven by our own sequencing (no real-time driver, no fluidsynth
 * reverb/chorus, so it is deterministic), Hydrogen drum samples, espeak-ng syllables, and our own
 * synthesis (singing voice, gong, kick, hi-hat), then seeded augmentation (EQ, room, noise, level).
 * See docs/dataset.md for what each class is made of.
 * This file: the sources (soundfonts, drum kits, recorded samples), the workers, the clips and the
 * data set; the sound of each class is in synth_tonal.c, synth_perc.c and synth_voice.c. */
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

#include "synth_internal.h"

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
int synth_pick_gm(const adv_synth *s, rng *r) { return s->gm[rint_in(r, 0, s->n_gm - 1)]; }

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
    case C_BASS_DRUM: case C_HIHAT: rc = synth_render_drum(s, w, &r, cls, dur, &b); break;
    case C_GONG: rc = synth_render_gong(s, w, &r, dur, &b); break;
    case C_FEMALE: case C_MALE: rc = synth_render_voice(s, w, &r, cls == C_FEMALE, dur, &b); break;
    default: rc = synth_render_tonal(s, w, &r, cls, dur, &b); break;
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
