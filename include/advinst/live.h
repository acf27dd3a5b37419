/* The live engine behind `advinst live`: classifies a stream and, when given a target, adds
 * per-clip targeted C&W / Multi-Scale C&W perturbations to it, with a fixed look-ahead latency.
 *
 * The engine knows nothing about JACK: an audio backend calls adv_live_process() once per period
 * from its real-time thread (src/jack_backend.c does; tests call it in a loop). That call only
 * copies, adds and counts: no allocation, no locks, no blocking, no printing. Worker threads talk
 * to it through lock-free single-producer / single-consumer ring buffers (jack_ringbuffer):
 *
 *   audio  -> attack worker     input frames (the worker cuts them into clips)
 *   attack -> audio             ready perturbations (slot index + clip position + result)
 *   audio  -> attack worker     perturbation slots handed back after playout
 *   audio  -> classify worker   mono mixes of input and output (sliding windows)
 *   audio, classify -> caller   events (adv_live_poll_event): probabilities, clip results
 *
 * Timeline, in frames of input time t: clip k covers [s, s + n); its perturbation is computed once
 * the clip is complete and plays out from output time s + L, L = clip length + compute budget
 * (adv_live_latency; output(t) = input(t - L) + perturbation). A perturbation that reaches the
 * audio thread after s + L is dropped (the clip plays clean) and counted as a miss; the audio
 * thread also raises the attack's cancel flag once the deadline is reached. Perturbations are
 * faded in and out over a short raised-cosine ramp at both ends of their clip and the perturbed
 * output is clamped to [-1, 1]. Input samples are sanitised on arrival: NaN, +-Inf and denormals
 * become 0, the rest is clamped to [-1, 1]; so no output sample is ever NaN or outside [-1, 1].
 * Frames with no perturbation (method off, no target, bypass, miss, silent clip) are the delayed
 * sanitised input, bit for bit (the input itself when it is finite, normal and within [-1, 1]).
 * The worker threads run with denormals flushed to zero (FTZ/DAZ), so no signal slows them down.
 *
 * Settings are published as whole versioned structs swapped by pointer (hazard-pointer RCU):
 * readers always get a consistent copy, and the attack worker takes one per clip. */
#ifndef ADVINST_LIVE_H
#define ADVINST_LIVE_H
#include "advinst/attack.h"
#include "advinst/model.h"
#include "advinst/preset.h"
#include "advinst/rt.h"
#include <stdint.h>

#define ADV_LIVE_MAX_CHANNELS 2

/* The attacks the live engine runs (targeted ones), or off. */
typedef enum { ADV_LIVE_OFF = 0, ADV_LIVE_CW, ADV_LIVE_MSCW, ADV_LIVE_N_METHODS } adv_live_method;
/* "off", "cw", "mscw". */
const char *adv_live_method_name(adv_live_method m);
/* From a name (case-insensitive), or -1. */
int adv_live_method_parse(const char *name);

#define ADV_LIVE_TARGET_NONE (-1)    /* no target: the stream passes clean */
#define ADV_LIVE_TARGET_RANDOM (-2)  /* per clip, a seeded class other than the clip's prediction */

typedef struct {
    uint64_t version;      /* set by adv_live_publish: 1, 2, ... */
    adv_live_method method;
    int target;            /* class index, ADV_LIVE_TARGET_NONE or ADV_LIVE_TARGET_RANDOM */
    float eps, alpha, lr;  /* the attack's L-inf bound, cross-entropy weight, Adam step */
    long max_iter;
    float confidence;      /* beyond the paper: success also needs the target's probability >= this (0 = off) */
    int bypass;            /* 1: output = delayed input (perturbations faded out) */
    char preset[ADV_PRESET_NAME_MAX];   /* last preset loaded, "" if none */
} adv_live_settings;

/* Ranges every way of setting them (options, presets, OSC) keeps to: eps and lr in (0, 1], alpha in
 * [0, ADV_LIVE_MAX_ALPHA], max_iter in 1..ADV_LIVE_MAX_ITER, confidence in [0, 1]. */
#define ADV_LIVE_MAX_ALPHA 1e6
#define ADV_LIVE_MAX_ITER 1000000

/* Method cw, no target, the paper's C&W values (eps 0.01, alpha 0.01, lr 1e-5), 1000 iterations
 * (the deadline usually stops it first), confidence off, bypass off. */
void adv_live_settings_default(adv_live_settings *s);
/* Applies a preset's method (cw or mscw only), parameters (within the ranges above) and target
 * (checked against the model's classes). Fails (adv_error) and leaves s unchanged on a problem. */
int adv_live_settings_apply_preset(adv_live_settings *s, const adv_model *m, const char *name_or_path);
/* Same with a preset already parsed. */
int adv_live_settings_from_preset(adv_live_settings *s, const adv_model *m, const adv_preset *p);
/* Class name of a target for messages: the class, "none" or "random". */
const char *adv_live_target_name(const adv_model *m, int target);

typedef struct {
    int rate, channels;      /* the server's rate; 1 or 2 channels sharing one perturbation */
    double clip_seconds;     /* clip length (fixed clips), the longest clip (onset clips) */
    double budget_seconds;   /* compute time per clip; latency = clip + budget */
    int onset_clips;         /* cut clips at onsets (between half and one clip length) */
    double window_seconds;   /* classifier window (3.7 s = 116 frames at 16 kHz) */
    double classify_hz;      /* re-classifications per second of input and output */
    double ramp_ms;          /* raised-cosine fade of each perturbation at its clip's ends */
    int classify;            /* run the classifier worker (probability events) */
    int attack_threads;      /* OpenMP threads of the attack worker (the classifier uses 1) */
    int workers_keep_priority;   /* 1: the workers keep the creating thread's priority instead of
                                    yielding to the audio threads (nice 19 and 10); for tests that
                                    wait for them on a busy machine */
} adv_live_config;

/* clip 3.7 s, budget 3 s, fixed clips, window 3.7 s, 10 Hz, 10 ms ramps, classifier on,
 * attack threads = processors - 1 (at least 1). */
void adv_live_config_default(adv_live_config *c, int rate, int channels);

typedef struct adv_live adv_live;

/* Plans everything (rings, delay line, attack workspace, classifier) and starts the worker
 * threads. The model is shared read-only and must outlive the engine. NULL + adv_error on
 * failure. */
adv_live *adv_live_create(adv_model *m, const adv_live_config *cfg, const adv_live_settings *initial);
/* Stops the workers (cancelling a running attack) and frees everything. */
void adv_live_free(adv_live *e);

const adv_live_config *adv_live_get_config(const adv_live *e);
long adv_live_latency(const adv_live *e);        /* L, frames */
long adv_live_clip_frames(const adv_live *e);    /* clip length, frames (onset: the longest) */
long adv_live_window_frames(const adv_live *e);  /* classifier window, frames */

/* The audio thread: in[c][nframes] -> out[c][nframes], any nframes (in and out may alias).
 * Real-time safe. */
void adv_live_process(adv_live *e, const float *const *in, float *const *out, uint32_t nframes);
/* Called from the backend's xrun notification (counted only). */
void adv_live_count_xrun(adv_live *e);


/* ---- settings ---- */

enum {
    ADV_LIVE_READER_AUDIO = 0,  /* used by adv_live_process */
    ADV_LIVE_READER_ATTACK,     /* used by the attack worker */
    ADV_LIVE_READER_CLASSIFY,   /* used by the classifier worker */
    ADV_LIVE_READER_CONTROL,    /* used by the OSC server (src/osc.c) */
    ADV_LIVE_READER_USER0,      /* free for callers (one thread each) */
    ADV_LIVE_READER_USER1,
    ADV_LIVE_N_READERS
};
/* Publishes a copy of s as the new settings (its version is set to the next number, returned).
 * Never blocks readers; writers are serialised among themselves. Applies from the next clip
 * (bypass: from the next period, faded). */
uint64_t adv_live_publish(adv_live *e, const adv_live_settings *s);
/* A consistent copy of the current settings for reader slot `reader` (one thread per slot). */
void adv_live_read_settings(adv_live *e, int reader, adv_live_settings *out);

/* ---- events ---- */

typedef enum { ADV_LIVE_EV_PROBS = 0, ADV_LIVE_EV_CLIP } adv_live_event_type;

typedef enum {
    ADV_LIVE_CLIP_OK = 0,    /* attack succeeded; perturbation played */
    ADV_LIVE_CLIP_FAILED,    /* max_iter without success; the last perturbation played */
    ADV_LIVE_CLIP_MISS,      /* not ready by the deadline: clip played clean */
    ADV_LIVE_CLIP_ALREADY,   /* the clip already classifies as the target: played clean */
    ADV_LIVE_CLIP_SILENT,    /* silent clip: played clean */
    ADV_LIVE_CLIP_ERROR      /* the attack refused its parameters (message in `message`) */
} adv_live_clip_status;
/* "ok", "failed", "miss", "already", "silent", "error". */
const char *adv_live_clip_status_name(adv_live_clip_status s);

typedef struct {
    adv_live_event_type type;
    uint64_t frame;          /* input time: PROBS: end of the window; CLIP: clip start */
    /* PROBS */
    int stream;              /* 0 = input, 1 = output */
    float probs[ADV_N_CLASSES];
    /* CLIP */
    long clip;               /* 0-based clip number */
    long frames;             /* clip length */
    adv_live_clip_status status;
    int target;              /* class aimed at */
    int before_class, after_class;
    float before_confidence, after_confidence;
    float snr_db;            /* +inf when nothing was added */
    long iterations;
    float seconds;           /* attack compute time */
    char message[96];        /* ERROR: why */
} adv_live_event;

/* Takes the next event (1) or returns 0 when there is none. One consumer thread. */
int adv_live_poll_event(adv_live *e, adv_live_event *ev);

typedef struct {
    uint64_t frames;         /* processed by the audio thread */
    long periods;
    long clips_ok, clips_failed, clips_miss, clips_clean;   /* clean: already, silent, error */
    long clips_done;         /* clips the attack worker has finished with (any status), in clip order;
                                their results reach the audio thread at its next period */
    long ring_overflows;     /* frames or events a full ring could not take (should stay 0) */
    long xruns;
} adv_live_stats;
void adv_live_get_stats(const adv_live *e, adv_live_stats *s);

/* An untrained model whose predictions depend on the input, for trying the plumbing and for tests
 * when no trained model exists: PyTorch-style initialisation (seeded), fixed front-end statistics,
 * BatchNorm running statistics estimated on synthetic tones, the last convolution scaled up for
 * O(1) logits. */
adv_model *adv_live_random_model(uint64_t seed);

/* ---- the JACK backend (src/jack_backend.c) ---- */

typedef struct adv_jack adv_jack;

typedef struct {
    const char *client_name;     /* "advinst" if NULL */
    const char *server_name;     /* NULL: $JACK_DEFAULT_SERVER or the default server */
    int channels;                /* 1: in/out, 2: in_1, in_2, out_1, out_2 */
    const char *connect_in;      /* optional comma-separated ports to connect to our inputs */
    const char *connect_out;     /* optional comma-separated ports to connect our outputs to */
    int no_start_server;         /* never auto-start a server */
} adv_jack_options;

/* Opens the client and registers its ports (not yet active). NULL + adv_error if the server is
 * not there. */
adv_jack *adv_jack_open(const adv_jack_options *o);
int adv_jack_rate(const adv_jack *j);
uint32_t adv_jack_buffer_size(const adv_jack *j);

/* Optional sources and sinks, set before adv_jack_activate: an input file (interleaved, at the
 * server's rate, `channels` channels; looped or followed by silence) fed to the engine instead of
 * the input ports, and recording of the output into a ring the caller drains. */
int adv_jack_set_input(adv_jack *j, const float *interleaved, long frames, int loop);
int adv_jack_enable_record(adv_jack *j, double seconds_of_buffer);
/* Up to max_frames recorded frames (interleaved) into buf; returns how many. */
long adv_jack_read_record(adv_jack *j, float *buf, long max_frames);

/* Installs the callbacks (process, latency, xrun, buffer size, shutdown), activates, connects. */
int adv_jack_activate(adv_jack *j, adv_live *engine);
/* 1 once the server has shut the client down. */
int adv_jack_lost(const adv_jack *j);
/* Frames processed since activation (JACK's clock). */
uint64_t adv_jack_frames(const adv_jack *j);
/* 1 once a non-looped input file has been played completely. */
int adv_jack_input_done(const adv_jack *j);
long adv_jack_xruns(const adv_jack *j);
/* Deactivates (if the server is still there) and closes. */
void adv_jack_close(adv_jack *j);
#endif
