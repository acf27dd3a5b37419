/* Internal to the data-set renderer (synth.c, synth_tonal.c, synth_perc.c, synth_voice.c): its
 * sources and workers, note sequences played by fluidsynth, keys and scales, and the sound of each
 * kind of class. Not a public header. */
#ifndef ADVINST_SYNTH_INTERNAL_H
#define ADVINST_SYNTH_INTERNAL_H
#include "advinst/synth.h"
#ifdef ADVINST_HAVE_FLUIDSYNTH
#include <fluidsynth.h>
#endif

#include "recchain.h"
#include "sampler.h"
#include "synth_dsp.h"

#define FLUID_SR 48000   /* fluidsynth renders here (no aliasing of pitched-up samples), then 3:1 */
#define MAX_SF 6

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
    double speed;      /* playback speed of the next synth_fluid_render (< 1 pitches down), reset after */
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

/* A General MIDI soundfont, uniformly (synth.c). */
int synth_pick_gm(const adv_synth *s, rng *r);

/* ---- event sequences for fluidsynth (synth_tonal.c) ------------------------------------- */

/* Appends an event (a time below 0 becomes 0). */
void synth_seq_add(seq *q, double t, int type, int chan, int a, int b);
/* A note-on and its note-off dur (at least 10 ms) later; velocity clamped to 1..127, keys outside
 * 0..127 skipped. */
void synth_seq_note(seq *q, double t, double dur, int chan, int key, int vel);
/* The time of the last event. */
double synth_seq_end(const seq *q);
/* Plays q with program (bank, prog) of soundfont k for `seconds` into out (16 kHz). */
int synth_fluid_render(adv_synth *s, worker *w, int k, int bank, int prog, seq *q, double seconds, buf *out);

/* ---- keys, scales and rhythms (synth_tonal.c) ------------------------------------------- */

typedef struct {
    int root;          /* pitch class 0..11 */
    int scale;
    double beat;       /* seconds per beat */
} key_ctx;

key_ctx synth_random_key(rng *r, double bpm_lo, double bpm_hi);
int synth_snap(const key_ctx *k, int m);
int synth_step_scale(const key_ctx *k, int m, int steps);
double synth_rhythm(rng *r, const key_ctx *k);

/* ---- the sound of one clip, before the recording chain ---------------------------------- */

/* Soundfont (or recorded) instruments: accordion, guitars, bass, glockenspiel, harmonica,
 * marimba (synth_tonal.c). */
int synth_render_tonal(adv_synth *s, worker *w, rng *r, int cls, double dur, buf *out);
/* Kick and hi-hat; gong (synth_perc.c). */
int synth_render_drum(adv_synth *s, worker *w, rng *r, int cls, double dur, buf *out);
int synth_render_gong(adv_synth *s, worker *w, rng *r, double dur, buf *out);
/* Female and male singing (synth_voice.c). */
int synth_render_voice(adv_synth *s, worker *w, rng *r, int female, double dur, buf *out);
#endif
