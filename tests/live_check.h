/* Checks of what a live host (advinst live, jalv or the test hosts running the plugins) recorded
 * from its output, against the input it was fed: out[k] = in[k - L] + perturbation. */
#ifndef ADVINST_TEST_LIVE_CHECK_H
#define ADVINST_TEST_LIVE_CHECK_H
#include "advinst/classifier.h"
#include "advinst/model.h"

/* The recording rec[n] of the looped input sig[sig_len] through a host of latency L. An xrun can
 * shift what was recorded against what was played by whole periods (JACK skips or repeats a
 * cycle of some clients); live_track_lag follows that, and the checks below then use its lag per
 * period and leave out the periods of the glitches. */
typedef struct {
    const float *rec, *sig;
    long n, sig_len, L;
    long *lag;            /* NULL: L everywhere; else the lag of each period (live_track_lag) */
    unsigned char *skip;  /* periods left out: a glitch where the lag changed, or where none fits */
    int period;
    int glitches;         /* periods left out where no lag fits (live_track_lag) */
} live_recording;

/* Follows the lag through xruns: starting at L, period by period (of `period` frames, counted
 * from the recording's start), moves to the lag L + j x period (|j| <= max_periods) that fits the
 * delayed input clearly better when L no longer does, and leaves out the periods around the
 * change. A period that no lag fits, further from the delayed input than any perturbation could
 * take it (RMS error over 0.02, twice the eps of the live defaults and presets), is left out too
 * and counted in r->glitches: an xrun's stale or partial period; callers allow a few per xrun and
 * none without one. Returns the number of changes, -1 if out of memory. live_recording_free frees
 * what it allocated. */
int live_track_lag(live_recording *r, int period, int max_periods);
/* Glitched periods the end-to-end tests allow per xrun: the stale period an xrun leaves, and the
 * one on either side of it. */
#define GLITCHES_PER_XRUN 3
void live_recording_free(live_recording *r);
/* The engine's default latency at `rate` (adv_live_config_default), frames: what the plugins report. */
long live_default_latency(int rate);
/* The first frame where the output is not the delayed input (glitches left out), or -1. */
long live_first_perturbed(const live_recording *r);
/* 1 if the output from frame `from` on is the delayed input bit for bit (glitches left out). */
int live_exact_from(const live_recording *r, long from);
/* What a listener hears in the output frames [from, to): 3.7 s windows every 0.1 s wholly inside,
 * each classified on its own (adv_listen); the share heard as `target` (silent windows not counted),
 * and the number of windows judged in *windows. -1 on failure. */
double live_hit_rate(const live_recording *r, adv_model *m, int rate, long from, long to, int target, long *windows);
/* SNR in dB of the output against the delayed input over the output frames [from, to) (glitches
 * left out). */
double live_snr_db(const live_recording *r, long from, long to);
/* An audio file as a mono mix at `rate` (the shared resampler); NULL with adv_error. */
float *live_load_clip(const char *path, int rate, long *frames);
#endif
