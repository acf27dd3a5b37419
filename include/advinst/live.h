/* The live engine behind `advinst live` (and the LV2 plugin): classifies a stream and, when given
 * a target, adds a shift-robust targeted C&W / Multi-Scale C&W perturbation to it (the stream
 * attack, include/advinst/stream.h) with a fixed look-ahead latency L.
 *
 * The engine knows nothing about audio hosts: a backend calls adv_live_process() once per period
 * from its real-time thread (src/jack_backend.c, the LV2 plugin; tests call it in a loop). That
 * call only copies, adds and counts: no allocation, no locks, no blocking, no printing (unless
 * the engine is synchronous, for offline hosts). Workers talk to it through lock-free
 * single-producer / single-consumer rings (include/advinst/ring.h):
 *
 *   audio  -> attack worker     input frames (pushed into the stream attack)
 *   attack -> audio             committed perturbation segments (slot index + position + report)
 *   audio  -> attack worker     perturbation slots handed back after playout
 *   audio  -> classify worker   mono mixes of input and output (sliding windows)
 *   audio, classify -> caller   events (adv_live_poll_event): probabilities, segment reports
 *
 * Timeline, in frames of input time t: output(t) = input(t - L) + p(t - L). The attack worker keeps
 * the perturbation of the newest input (up to the horizon, L minus a safety margin) free and
 * optimises it so that every window a listener could take ending there is heard as the target,
 * then commits it in segments (0.2 s) before they must play. A segment that reaches the audio
 * thread after its start has begun to play is dropped and counted as a miss (the stream plays
 * clean there, the perturbation faded out and back in over a short ramp): a slower machine gives
 * misses, never glitches. Consecutive segments join seamlessly (one continuous perturbation); the
 * output is clamped to [-1, 1]. Input samples are sanitised on arrival: NaN, +-Inf and denormals
 * become 0, the rest is clamped to [-1, 1]; so no output sample is ever NaN or outside [-1, 1].
 * Frames with no perturbation (method off, no target, bypass, miss, silence) are the delayed
 * sanitised input, bit for bit (the input itself when it is finite, normal and within [-1, 1]).
 * The worker threads run with denormals flushed to zero (FTZ/DAZ), so no signal slows them down.
 *
 * Settings are published as whole versioned structs swapped by pointer (hazard-pointer RCU):
 * readers always get a consistent copy; the attack worker takes one per iteration. */
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
#define ADV_LIVE_TARGET_RANDOM (-2)  /* a seeded class other than the input's, drawn when the attack starts */

typedef struct {
    uint64_t version;      /* set by adv_live_publish: 1, 2, ... */
    adv_live_method method;
    int target;            /* class index, ADV_LIVE_TARGET_NONE or ADV_LIVE_TARGET_RANDOM */
    float eps, alpha, lr;  /* the attack's L-inf bound, cross-entropy weight, Adam step */
    long max_iter;         /* at most this many optimisation iterations per second of audio */
    float confidence;      /* the lead wanted: the target's probability ahead of the runner-up, per
                              time step of the network, before a window stops pushing (0: just ahead) */
    float bound_db;        /* > 0: the perturbation stays this many dB below the input's local envelope
                              (5 ms RMS, loudest over the last 100 ms and next 10 ms), and below eps */
    int bypass;            /* 1: output = delayed input (perturbations faded out) */
    char preset[ADV_PRESET_NAME_MAX];   /* last preset loaded, "" if none */
} adv_live_settings;

/* ---- the settings table: every live setting, its type, range, description and names, for every
 * way of setting it (command line, presets, OSC and OSCQuery, the web view, plugin ports) ---- */

#define ADV_LIVE_MAX_ALPHA 1e6
#define ADV_LIVE_MAX_ITER 1000000

typedef enum {
    ADV_LIVE_SET_TARGET = 0, /* text: class name or index, none, random; number: index into the values
                                (0..11 the classes, 12 none, 13 random) */
    ADV_LIVE_SET_METHOD,     /* text: off, cw, mscw; number: 0, 1, 2 (adv_live_method) */
    ADV_LIVE_SET_FLOAT,      /* a number within [min, max] ((min, max] if min_open) */
    ADV_LIVE_SET_INT,        /* a whole number within [min, max] */
    ADV_LIVE_SET_BOOL,       /* 0 or 1 (text: 0, 1, off, on, false, true) */
    ADV_LIVE_SET_PRESET      /* text: a preset name from the presets directory (never a path) */
} adv_live_setting_kind;

typedef struct {
    const char *name;        /* "step": option --step, OSC /advinst/step, OSCQuery node, plugin port symbol */
    adv_live_setting_kind kind;
    const char *osc_types;   /* OSC argument types accepted: "s|i", "s", "f", "i" */
    double min, max;         /* FLOAT, INT, BOOL: the range; TARGET, METHOD: value indexes */
    int min_open;            /* 1: min excluded */
    const char *preset_key;  /* key in a preset's [attack] section, NULL if presets do not set it */
    const char *metavar;     /* command line argument ("CLASS", "F"), NULL for a flag (BOOL: sets 1) */
    const char *description; /* one line, for --help, --list-osc, OSCQuery */
} adv_live_setting;

/* The table (in the order of --list-osc); *count receives its length. */
const adv_live_setting *adv_live_setting_table(int *count);
/* The entry of a name (exact), or NULL. */
const adv_live_setting *adv_live_setting_find(const char *name);

/* THE setter: sets setting `name` of s from text as a person or a controller writes it (a class
 * name, "mscw", "1e-5", "300", "1", a preset name). Checks type and range against the table; m
 * gives the class names (NULL: the default ones). Fails (adv_error: one line starting with the
 * name, e.g. "eps = 2 is outside the live range (0, 1]") and leaves s unchanged on a problem.
 * A preset loads that preset's values (adv_live_settings_from_preset) and records its name. Host-
 * agnostic: used by the command line, presets, OSC, the web view and plugin ports alike. */
int adv_live_settings_set(adv_live_settings *s, const adv_model *m, const char *name, const char *value);
/* The same from a number (FLOAT, INT, BOOL: the value; TARGET, METHOD: the value index, see
 * adv_live_setting_kind). A preset cannot be set from a number. */
int adv_live_settings_set_number(adv_live_settings *s, const adv_model *m, const char *name, double value);
/* The current value of `name` as text (as the setter takes it) into text[size] and, for every kind
 * but PRESET, as a number (*number, may be NULL). 0, or -1 for an unknown name. */
int adv_live_settings_get(const adv_live_settings *s, const adv_model *m, const char *name, char *text, size_t size,
                          double *number);
/* The named values of a TARGET or METHOD setting, in number order (target: the 12 classes, none,
 * random); returns how many (0 for other kinds). */
int adv_live_setting_values(const adv_live_setting *d, const adv_model *m, const char **names, int max);
/* The range of a FLOAT, INT or BOOL setting as text: "(0, 1]", "1..1000000". */
const char *adv_live_setting_range_text(const adv_live_setting *d, char *buf, size_t size);

/* Method cw, no target, eps 0.01 and the live C&W values measured in docs/live.md (alpha 10,
 * lr 1e-3, confidence 0.2), 1000 iterations per second (no cap), bypass off. */
void adv_live_settings_default(adv_live_settings *s);
/* Applies a preset's method (cw or mscw only), parameters (within the table's ranges) and target
 * (checked against the model's classes). Fails (adv_error) and leaves s unchanged on a problem.
 * name_or_path: as adv_preset_load (the command line may name a file; the setter takes names only). */
int adv_live_settings_apply_preset(adv_live_settings *s, const adv_model *m, const char *name_or_path);
/* Same with a preset already parsed. */
int adv_live_settings_from_preset(adv_live_settings *s, const adv_model *m, const adv_preset *p);
/* Class name of a target for messages: the class, "none" or "random". */
const char *adv_live_target_name(const adv_model *m, int target);

typedef struct {
    int rate, channels;      /* the server's rate; 1 or 2 channels sharing one perturbation */
    double latency_seconds;  /* added latency L: the look-ahead the attack optimises in */
    double segment_seconds;  /* commit and report unit of the perturbation */
    int batch;               /* listener windows per optimisation iteration */
    double window_seconds;   /* classifier window (3.7 s = 116 frames at 16 kHz), the attack's and the readout's */
    double classify_hz;      /* re-classifications per second of input and output */
    double ramp_ms;          /* raised-cosine fade where the perturbation starts or stops (bypass, misses) */
    int classify;            /* run the classifier worker (probability events) */
    int spectrum;            /* the classifier also emits SPECTRUM events (for the web view; default 0) */
    int attack_threads;      /* OpenMP threads of the attack worker (the classifier uses 1); in
                                synchronous mode, set on the thread calling adv_live_process */
    int workers_keep_priority;   /* 1: the workers keep the creating thread's priority instead of
                                    yielding to the audio threads (nice 19 and 10); for tests that
                                    wait for them on a busy machine */
    int external_worker;     /* 1: no attack thread: the host runs adv_live_work (LV2 Worker) */
    int synchronous;         /* 1: adv_live_process runs the attack itself, sync_iterations per second
                                of audio (offline hosts: deterministic, not real-time safe) */
    double sync_iterations;  /* iterations per second of audio in synchronous mode */
} adv_live_config;

/* latency 2 s, segments 0.2 s, batch 2, window 3.7 s, 10 Hz, 10 ms ramps, classifier on, attack
 * threads = processors (the audio thread's work is tiny), internal worker, 40 synchronous
 * iterations per second. */
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
long adv_live_segment_frames(const adv_live *e); /* segment length, frames */
long adv_live_window_frames(const adv_live *e);  /* classifier window, frames */

/* The audio thread: in[c][nframes] -> out[c][nframes], any nframes (in and out may alias).
 * Real-time safe. */
void adv_live_process(adv_live *e, const float *const *in, float *const *out, uint32_t nframes);
/* Runs pending attack work for up to max_seconds (ingests input, commits due segments, optimises):
 * for hosts that run the attack on their own worker thread (external_worker). Returns 1 if more
 * work is pending. Not real-time safe. */
int adv_live_work(adv_live *e, double max_seconds);
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

typedef enum { ADV_LIVE_EV_PROBS = 0, ADV_LIVE_EV_SEGMENT, ADV_LIVE_EV_SPECTRUM } adv_live_event_type;

/* SPECTRUM events: the columns of the classifier's mel spectrogram of a stream (the front end's
 * 100 bands in dB, averaged in pairs) that are new since the last classification of the window, up
 * to 0.5 s per event and a few events per classification (so a classifier running slow leaves no
 * gap until its windows are more than 1.5 s apart). */
#define ADV_LIVE_SPECTRUM_BANDS 50
#define ADV_LIVE_SPECTRUM_COLUMNS 16

typedef enum {
    ADV_LIVE_SEG_OK = 0,     /* every window ending in it was heard as the target when last checked */
    ADV_LIVE_SEG_FAILED,     /* some were not (the perturbation played all the same) */
    ADV_LIVE_SEG_MISS,       /* not ready when it had to play: played clean */
    ADV_LIVE_SEG_SILENT,     /* silent input: played clean */
    ADV_LIVE_SEG_ERROR       /* the attack refused its parameters (message in `message`) */
} adv_live_segment_status;
/* "ok", "failed", "miss", "silent", "error". */
const char *adv_live_segment_status_name(adv_live_segment_status s);

typedef struct {
    adv_live_event_type type;
    uint64_t frame;          /* PROBS, SPECTRUM: end of the window (the stream's time); SEGMENT: segment start
                                (input time) */
    /* PROBS and SPECTRUM */
    int stream;              /* 0 = input, 1 = output */
    float probs[ADV_N_CLASSES];
    int silent;              /* PROBS: the window's RMS is below ADV_SILENCE_RMS (attack.h): readouts say
                                "silent" instead of a class (the probabilities are still given) */
    /* SPECTRUM: columns oldest first, each new since the stream's previous SPECTRUM event */
    int n_columns;
    uint64_t column_frame[ADV_LIVE_SPECTRUM_COLUMNS];   /* the column's centre, in the stream's time (frames) */
    float column_db[ADV_LIVE_SPECTRUM_COLUMNS][ADV_LIVE_SPECTRUM_BANDS];   /* mel power in dB, low band first */
    /* SEGMENT (reported when it starts to play) */
    long segment;            /* 0-based segment number (its start / its length) */
    long frames;             /* segment length */
    adv_live_segment_status status;
    int target;              /* class aimed at */
    int windows, hits;       /* listener windows ending in it checked, and those heard as the target */
    int after_class;         /* the class most of those windows were heard as (-1: none checked) */
    float after_confidence;  /* its mean probability over them */
    float snr_db;            /* of the output against the input over the segment; +inf when nothing was added */
    long iterations;         /* optimisation iterations that updated it */
    char message[96];        /* ERROR: why */
} adv_live_event;

/* Takes the next event (1) or returns 0 when there is none. One consumer thread. */
int adv_live_poll_event(adv_live *e, adv_live_event *ev);

typedef struct {
    uint64_t frames;         /* processed by the audio thread */
    long periods;
    long segments_ok, segments_failed, segments_miss, segments_clean;   /* clean: silent, error */
    long segments_done;      /* segments the attack worker has committed (any status) */
    long iterations;         /* optimisation iterations run */
    long ring_overflows;     /* frames or events a full ring could not take (should stay 0) */
    long xruns;
    /* CPU time of one adv_live_process call (the audio thread's work, in microseconds; in
     * synchronous mode it includes the attack): the longest so far, the mean, and a bound 99 % of
     * the calls stayed under (a power of two). On a virtual machine the longest also holds time
     * the host took the CPU away; the 99 % bound hardly does. */
    double process_cpu_max_us, process_cpu_mean_us, process_cpu_p99_us;
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
