/* The live engine's internals, shared by its parts (not a public header):
 *   live.c           life cycle, configuration, statistics, events
 *   live_settings.c  the settings (names, presets, hazard-pointer RCU publication)
 *   live_rt.c        the audio thread: everything adv_live_process runs (real-time safe)
 *   live_attack.c    the attack worker
 *   live_classify.c  the classifier worker
 * Rings between them are single-producer / single-consumer (include/advinst/ring.h). */
#ifndef ADVINST_LIVE_INTERNAL_H
#define ADVINST_LIVE_INTERNAL_H
#include "advinst/attack.h"
#include "advinst/classifier.h"
#include "advinst/live.h"
#include "advinst/ring.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define CHUNK 4096            /* the audio thread works in chunks of at most this many frames */
#define N_SETTINGS (ADV_LIVE_N_READERS + 2)
#define JOB_IDLE UINT64_MAX
#define JOB_CANCEL_BIT (1ULL << 62)
#define JOB_DEADLINE_MASK ((1ULL << 62) - 1)

/* A perturbation (or a clip result without one) on its way to the audio thread. */
typedef struct {
    long clip;
    uint64_t start;          /* input time of the clip's first frame */
    long n;                  /* clip length */
    int slot;                /* perturbation buffer, -1 if none */
    int started;             /* audio thread: event emitted */
    adv_live_clip_status status;
    int target, before_class, after_class;
    float before_confidence, after_confidence, snr_db, seconds;
    long iterations;
    char message[96];
} pert_msg;

/* Header of one block of input frames in the attack ring. */
typedef struct {
    uint64_t t0;
    uint32_t n;
} block_hdr;

struct adv_live {
    adv_model *model;
    adv_live_config cfg;
    int C;
    long N, B, L, W, hop, ramp;
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
    pert_msg *active;        /* [n_slots] perturbations queued or playing */
    int n_active;
    float *scratch_in;       /* CHUNK x C interleaved input (to the attack ring) */
    float *scratch_mon;      /* CHUNK x 2 (input mono, output mono) */
    float *scratch_gain;     /* CHUNK */

    adv_ring *in_ring, *mon_ring, *pert_ring, *free_ring, *ev_audio, *ev_clf;
    int n_slots;             /* perturbation buffers (see slots_needed) */
    float **slot_buf;

    _Atomic uint64_t t_pub;  /* frames processed, published by the audio thread */
    _Atomic uint64_t job;    /* deadline of the running attack | JOB_CANCEL_BIT, or JOB_IDLE */
    atomic_int cancel;       /* the running attack's cancel flag */
    atomic_int stop;

    atomic_long periods, clips_ok, clips_failed, clips_miss, clips_clean, clips_done, overflows, xruns;

    /* attack worker */
    adv_attack_ws *ws;
    float *clip_buf, *adv_buf, *block_buf;
    int *free_slots, n_free;
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
#endif
