/* Experiments that reproduce the paper's Table 1: attack every clip of a data set split with
 * one or more settings over several seeded runs, tally the paper's statistics, pick the setting
 * with the highest mean SNR that finds enough adversarial examples, compare with white noise at
 * the same SNR, test differences with paired t-tests, and write a report directory.
 *
 * Per setting and run: adversarial examples (successes); accuracy against the true label, on the
 * adversarial version where one was found, else on the original; mean and standard deviation of
 * the SNR, median iterations and mean confidence (of the adversarial class), all over successes.
 * Runs differ by seed only (PGDn's random start, random targets). The seed of clip c in run r
 * depends on (seed, r, file name), so run r of every setting uses the same targets and random
 * starts (the pairing of the t-tests). Settings without randomness (FGSM; C&W and MS-C&W with a
 * fixed target) run once.
 *
 * Attacks run on the clips as float samples (as the paper, no output quantisation), in worker
 * threads that each own one attack workspace per clip length; every clip is read once. Results
 * do not depend on the number of threads or on scheduling. */
#ifndef ADVINST_EXPERIMENT_H
#define ADVINST_EXPERIMENT_H
#include "advinst/attack.h"
#include "advinst/dataset.h"
#include <stdatomic.h>
#include <stdint.h>

#define ADV_EXP_LABEL_MAX 96
#define ADV_EXP_TABLE1_ROWS 10

typedef struct {
    char label[ADV_EXP_LABEL_MAX];   /* row name: a preset's name, or the grid point ("alpha=0.1 lr=1e-05") */
    adv_attack_params params;        /* method, eps, alpha, lr, max_iter, target; seed and cancel are set per clip */
} adv_exp_setting;

typedef enum { ADV_EXP_GRID = 0, ADV_EXP_NOISE, ADV_EXP_TABLE1 } adv_exp_mode;

typedef struct {
    adv_exp_mode mode;
    adv_model *model;                /* attacked (not owned; only read) */
    const char *model_path;          /* for the report */
    const char *data_dir;            /* DIR/labels.csv + DIR/audio */
    adv_split split;                 /* ADV_SPLIT_VALID */
    long max_clips;                  /* the first N clips of the split; 0 = all */
    const adv_exp_setting *settings; /* GRID: the grid points (TABLE1 loads the presets itself) */
    int n_settings;
    int runs;                        /* 5 */
    uint64_t seed;
    long require;                    /* GRID: adversarial examples needed; < 0 = round(150/200 * clips) */
    double noise_snr_db;             /* NOISE: SNR of the white noise */
    int threads;                     /* worker threads; <= 0 = online CPUs */
    int keep_audio;                  /* write the attacked clips to OUT/audio/<setting>/run<r>/ */
    int progress;                    /* progress bar on a TTY */
    int force;                       /* replace a non-empty out_dir */
    const char *out_dir;
    const char *command_line;        /* recorded in the report */
    atomic_int *cancel;              /* optional: set (e.g. on SIGINT) to stop; nothing is written */
} adv_exp_config;

typedef struct {
    long clips;
    long require;                    /* GRID: the requirement applied */
    int chosen;                      /* GRID: index of the chosen setting, -1 if none met the requirement */
    double noise_snr_db;             /* SNR of the noise baseline (NaN if not run) */
    double noise_accuracy;           /* mean over runs */
    double clean_accuracy;
    double seconds;                  /* wall time */
} adv_exp_outcome;

/* Runs the experiment and writes out_dir (staged beside it and renamed into place: it appears
 * whole or not at all; an existing non-empty out_dir is refused without force). Returns an exit
 * code (ADV_EXIT_OK; ADV_EXIT_USAGE for a bad configuration; ADV_EXIT_INPUT for a bad data set,
 * clip or preset; ADV_EXIT_OUTPUT when out_dir cannot be written; ADV_EXIT_INTERRUPTED when
 * cancelled) with adv_error set. outcome may be NULL. */
int adv_experiment_run(const adv_exp_config *cfg, adv_exp_outcome *outcome);

/* The grid "key=v1,v2;key=v3" (keys eps, alpha, lr, max_iter; ';' separates keys) over base:
 * the Cartesian product, the first key varying slowest, labelled "key=value ...". An empty or NULL
 * spec gives base alone, labelled by its parameters. *out is malloc'd. Returns 0 or -1 (adv_error). */
int adv_exp_parse_grid(const char *spec, const adv_attack_params *base, adv_exp_setting **out, int *n);

/* The paper's rows from the shipped presets, in Table 1's order: fgsm-150, pgdn-150, cw-150,
 * mscw-150, fgsm-180, pgdn-180, cw-180, mscw-180, cw-accordion, mscw-accordion. m resolves the
 * fixed target's class name. Returns 0 or -1 (adv_error). */
int adv_exp_table1_settings(const adv_model *m, adv_exp_setting out[ADV_EXP_TABLE1_ROWS]);

/* Index of the setting with the highest mean SNR among those whose mean number of adversarial
 * examples is at least require (the first on ties), or -1. NaN SNRs never win. */
int adv_exp_choose(const double *mean_snr_db, const double *mean_adv, int n, double require);

/* The seed of one clip in one run. */
uint64_t adv_exp_clip_seed(uint64_t seed, int run, const char *fname);

/* out[i] = x[i] + g * n[i] with n Gaussian white noise (seeded rng) and g chosen so that
 * adv_snr_db(x, out, len) is snr_db. Returns -1 if x is silent in the SNR window. */
int adv_exp_add_noise(const float *x, long len, double snr_db, uint64_t *rng, float *out);
#endif
