/* Internal to the data-set renderer: note-sampled real instruments (sampler.c). Not a public
 * header. */
#ifndef ADVINST_SAMPLER_H
#define ADVINST_SAMPLER_H
#include "synth_dsp.h"

typedef struct { float *x; long n; int rate; int midi; } note_sample;   /* mono, native rate */
typedef struct { note_sample *s; int n; int cls; const char *name; } sampled_inst;   /* sorted by midi */
typedef struct { sampled_inst inst[8]; int n; } sampler_set;

/* Loads the training (not held-out) npm instruments found under samples_dir (NULL: none). */
int sampler_load(sampler_set *ss, const char *samples_dir);
void sampler_free(sampler_set *ss);
/* The recorded instrument of class cls, or NULL. */
const sampled_inst *sampler_for_class(const sampler_set *ss, int cls);
/* Plays the note-on/off events of q (bends and controllers ignored) for `seconds` into out
 * (16 kHz): each note from the nearest recorded note, resampled to pitch, gain (velocity/127)^1.6,
 * faded out over `release` seconds after its note-off. */
int sampler_play(const sampled_inst *in, seq *q, double seconds, double release, buf *out);
#endif
