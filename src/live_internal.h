/* The live engine's internals, shared by its parts (not a public header):
 *   live.c           life cycle, configuration, statistics, events
 *   live_settings.c  the settings (names, presets, hazard-pointer RCU publication)
 *   live_rt.c        the audio thread: everything adv_live_process runs (real-time safe)
 *   live_attack.c    the attack worker (the stream attack, src/stream.c)
 *   live_classify.c  the classifier worker
 * Rings between them are single-producer / single-consumer (include/advinst/ring.h). */
#ifndef ADVINST_LIVE_INTERNAL_H
#define ADVINST_LIVE_INTERNAL_H
#include "advinst/attack.h"
#include "advinst/classifier.h"
#include "advinst/live.h"
#include "advinst/ring.h"
#include "advinst/stream.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define CHUNK 4096            /* the audio thread works in chunks of at most this many frames */
#define N_SETTINGS (ADV_LIVE_N_READERS + 2)

/* A committed segment (or a report without a perturbation) on its way to the audio thread. */
#define LIVE_CPU_BINS 16

typedef struct {
    long segment;
    uint64_t start;          /* input time of the segment's first frame */
    long n;                  /* segment length */
    int slot;                /* perturbation buffer, -1 if none (nothing to add) */
    int report;              /* emit an event when it starts (attack segments; not the fade-out ones) */
    int started;             /* audio thread: event emitted */
    int fade_in;             /* audio thread: does not continue the previous segment */
    int fading;              /* audio thread: its fade-out has begun */
    adv_live_segment_status status;
    int target, windows, hits, after_class;
    float after_confidence, snr_db;
    long iterations;
    char message[96];
} seg_msg;

/* Header of one block of input frames in the attack ring. */
typedef struct {
    uint64_t t0;
    uint32_t n;
} block_hdr;

struct adv_live {
    adv_model *model;
    adv_live_config cfg;
    int C;
    long L, S, W, hop, ramp;
    float *ramp_tbl;

    /* settings: slots, the current pointer and one hazard pointer per reader */
    adv_live_settings settings[N_SETTINGS];
    _Atomic(adv_live_settings *) current;
    _Atomic(adv_live_settings *) hazard[ADV_LIVE_N_READERS];
    pthread_mutex_t writer_lock;
    uint64_t next_version;

    /* audio thread state */
    float *delay[ADV_LIVE_MAX_CHANNELS];
    uint64_t dmask;
    uint64_t t;
    float gain;              /* perturbation gain, ramps to 0 in bypass */
    seg_msg *active;         /* [n_slots] segments queued or playing */
    int n_active;
    uint64_t next_start;     /* where the last segment taken ends: the next one continues it */
    float *scratch_in;       /* CHUNK x C interleaved input (to the attack ring) */
    float *scratch_mon;      /* CHUNK x 2 (input mono, output mono) */
    float *scratch_gain;     /* CHUNK */

    adv_ring *in_ring, *mon_ring, *pert_ring, *free_ring, *ev_audio, *ev_clf;
    int n_slots;             /* perturbation buffers (see slots_needed) */
    float **slot_buf;

    _Atomic uint64_t t_pub;  /* frames processed, published by the audio thread */
    atomic_int stop;

    atomic_long periods, seg_ok, seg_failed, seg_miss, seg_clean, seg_done, iterations, overflows, xruns;
    /* CPU time of adv_live_process calls: the longest, the sum, and how many took under 2 us,
     * 2-4 us, 4-8 us, ... (LIVE_CPU_BINS powers of two; the last bin takes the rest) */
    atomic_long process_cpu_max_ns, process_cpu_sum_ns, process_cpu_hist[LIVE_CPU_BINS];

    /* attack worker */
    adv_stream *stream;
    float *block_buf, *seg_buf;
    int *free_slots, n_free;
    uint64_t fed;            /* input time the stream has been fed up to */
    int attacking;           /* the stream attack is on (a target, a method, no bypass) */
    uint64_t settings_version;
    int target;              /* the class aimed at (a drawn one for random) */
    uint64_t rng;
    double credit;           /* synchronous mode: iterations owed */
    pthread_t sync_thread;   /* synchronous mode: the thread whose OpenMP threads were set */
    int sync_thread_set;
    double budget_start;     /* this second's iteration cap: start time and count */
    long budget_count;
    /* classifier worker */
    adv_classifier *clf;
    float *win[2], *lin, *pairs;

    pthread_t attack_thread, classify_thread;
    int attack_started, classify_started;
};

/* Counts a frame or event that a full ring could not take (should stay 0). */
static inline void live_overflow(adv_live *e) { atomic_fetch_add_explicit(&e->overflows, 1, memory_order_relaxed); }

/* The workers' thread functions (live_attack.c, live_classify.c). */
void *live_attack_main(void *arg);
void *live_classify_main(void *arg);
/* Synchronous mode: the attack work owed for `frames` more frames of audio (live_attack.c). */
void live_attack_sync(adv_live *e, uint32_t frames);
/* Creates the attack worker's state (live_attack.c), and frees it. */
int live_attack_init(adv_live *e);
void live_attack_free(adv_live *e);
#endif
