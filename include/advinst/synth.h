/* Rendering of the 12-class instrument data set from the soundfonts, drum samples and voice
 * synthesis available on the system (docs/dataset.md lists, per class, sources and transforms).
 * Every clip is seeded from (seed, class, index) alone, so output is bit-identical for a seed
 * whatever the thread count or order. */
#ifndef ADVINST_SYNTH_H
#define ADVINST_SYNTH_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t seed;
    int clips_per_class;        /* 0: the default table, 49-75 per class, 799 clips in all */
    const char *soundfont_dir;  /* NULL: /usr/share/sounds/sf2 and /usr/share/sounds/sf3 */
    const char *drumkit_dir;    /* NULL: /usr/share/hydrogen/data/drumkits */
    const char *samples_dir;    /* npm recordings (scripts/fetch-samples.sh); NULL: none */
    int small;                  /* only TimGM6mb + own synthesis (no big soundfonts, kits, espeak-ng) */
    double max_seconds;         /* longest clip; 0: 30 */
    double min_seconds;         /* shortest clip target; 0: 0.3 */
    int threads;                /* 0: 2 */
    int progress;               /* draw a progress bar (on a TTY) */
    unsigned class_mask;        /* bit c set: render class c; 0: all classes */
    atomic_int *cancel;         /* optional: set (e.g. on SIGINT) to stop; nothing is written */
} adv_render_options;

void adv_render_options_default(adv_render_options *o);

typedef struct adv_synth adv_synth;

/* Finds and loads the sources (soundfonts into one fluidsynth per worker thread, drum samples,
 * espeak-ng). Missing sources are skipped; fails (NULL, adv_error) only if no soundfont at all
 * can be found or fluidsynth is not compiled in. */
adv_synth *adv_synth_create(const adv_render_options *o);
void adv_synth_free(adv_synth *s);

/* Multi-line description of the sources in use (what DIR/sources.txt holds). */
const char *adv_synth_sources(const adv_synth *s);

/* Renders clip `index` of class `cls` with worker `worker` (0 .. threads-1; one thread per worker
 * at a time) into a malloc'd mono 16 kHz buffer (*out, *frames). Returns 0 or -1 (adv_error). */
int adv_synth_render_clip(adv_synth *s, int worker, int cls, long index, float **out, long *frames);

/* Number of clips of class c in a render with these options. */
long adv_render_class_count(const adv_render_options *o, int cls);

/* Renders the whole data set into out_dir (audio/<class>_<NNN>.wav as 16-bit WAV, labels.csv with
 * a stratified seeded 75/25 split, sources.txt), staged in a temporary sibling directory renamed
 * into place at the end. Returns 0 or an exit code (ADV_EXIT_INPUT: no sources;
 * ADV_EXIT_OUTPUT: out_dir exists without force, or a write failed; ADV_EXIT_INTERRUPTED:
 * o->cancel was set, the staging directory is removed) with adv_error set. */
int adv_render_dataset(const char *out_dir, const adv_render_options *o, int force);

/* Where scripts/fetch-samples.sh puts the npm recordings: <source tree>/data/samples, or NULL
 * when that directory does not exist. */
const char *adv_default_samples_dir(void);

/* The held-out real recordings (never rendered for training): Sonic Pi's recorded kicks, hi-hats
 * and electric guitar phrases and the held-out npm instrument under samples_dir, each as it was
 * recorded (mono, 16 kHz, at most 10 s) into out_dir (labels.csv, split "valid"), staged like a
 * render. summary (may be NULL) gets one line of counts. Returns 0 or an exit code. */
int adv_heldout_dataset(const char *out_dir, const char *samples_dir, int force, char *summary, size_t size);
#endif
