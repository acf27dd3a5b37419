/* Internal to the experiment module (experiment.c: settings and the run; experiment_engine.c: the
 * clips and the worker threads; experiment_report.c: statistics and report.md; experiment_files.c:
 * the CSV files and figures). Not installed. */
#ifndef ADVINST_EXPERIMENT_INTERNAL_H
#define ADVINST_EXPERIMENT_INTERNAL_H
#include "advinst/experiment.h"
#include "advinst/audio.h"
#include "advinst/outfile.h"
#include "advinst/progress.h"
#include "advinst/train.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

/* The paper's figures (Table 1 and the section on a fixed target), per preset: one row per
 * shipped Table 1 preset, in the report's order (experiment.c). */
typedef struct {
    const char *preset, *row, *method;
    double adv, acc, snr, iter, conf;
} paper_row;
#define PAPER_CLEAN_ACC 0.835
#define PAPER_CLEAN_CONF 0.934
#define PAPER_NOISE_SNR 42.16
#define PAPER_NOISE_ACC 0.79

typedef struct {
    long count;
    char **name;
    int *label;
    adv_audio *audio;
    long *order;   /* longest first, so the workers finish together */
} clipset;

typedef struct {   /* one clip in one run of one setting (or of the noise) */
    adv_attack_status status;
    int success;
    long iterations;
    double snr_db;
    int target, before_class, after_class;
    float before_confidence, after_confidence;
    double seconds;
} clip_result;

typedef struct {
    const adv_exp_config *cfg;
    const clipset *cs;
    const adv_exp_setting *settings;
    int n_settings;
    const int *runs;
    int max_runs, need_ms;
    clip_result *res;            /* [(setting * max_runs + run) * clips + clip] */
    int *clean_pred;
    float *clean_conf;
    int phase;                   /* 0: clean pass and attacks; 1: white noise */
    double noise_snr;
    int noise_runs;
    clip_result *noise;          /* [run * clips + clip] */
    const char *audio_root;      /* keep-audio: stage/audio, else NULL */
    char (*slug)[ADV_EXP_LABEL_MAX];
    atomic_long next;
    atomic_int *cancel;
    pthread_mutex_t lock;
    adv_progress progress;
    long done;
    double work_done;            /* seconds of audio of the jobs done (the ETA's weight) */
    int failed;                  /* 0, or the exit code of the first failure */
    char error[1024];
} engine;

static inline clip_result *adv_exp_res_at(const engine *e, int s, int r, long c)
{
    return &e->res[((size_t)s * e->max_runs + r) * e->cs->count + c];
}

typedef struct {
    long clips, n_adv, n_failed, n_already, n_silent;
    double accuracy, snr_mean, snr_std, iter_median, confidence, seconds;
} run_stats;

typedef struct {   /* mean and std over runs */
    int runs;
    double adv[2], acc[2], snr[2], iter[2], conf[2], seconds;
    int meets;
} summary;

typedef struct {
    adv_outfile *out;
} afile;

typedef struct {
    const adv_exp_config *cfg;
    clipset cs;
    adv_exp_setting *settings;
    int n_settings;
    int *runs, max_runs;
    engine e;
    run_stats *stats;            /* [setting * max_runs + run] */
    summary *sum;
    run_stats *noise_stats;      /* [run] */
    summary noise_sum;
    double clean_acc, clean_conf;
    long require, require180;
    int chosen;
    double seconds;
    char (*slug)[ADV_EXP_LABEL_MAX];
} experiment;

extern const paper_row adv_exp_paper_rows[ADV_EXP_TABLE1_ROWS];

/* experiment_engine.c */
int adv_exp_clipset_load(const char *dir, adv_split split, long max_clips, clipset *cs);
void adv_exp_clipset_free(clipset *cs);
/* Runs the engine's current phase on `threads` workers (`total` jobs); 0, or -1 on failure
 * (adv_error) or cancellation. */
int adv_exp_engine_go(engine *e, int threads, const char *label, long total);
/* Stops all workers; the first failure's message and exit code (ADV_EXIT_*) are kept. */
void adv_exp_engine_fail(engine *e, int code, const char *msg);

/* experiment_report.c */
void adv_exp_run_stats(const clip_result *res, size_t stride, const clipset *cs, int noise, run_stats *st);
void adv_exp_summarise(const run_stats *st, int runs, double require, summary *s);
/* Starts DIR/NAME (in the staging directory); its stream, or NULL with adv_error. */
FILE *adv_exp_afile_open(afile *a, const char *dir, const char *name);
/* Completes the file; -1 with adv_error after any write error. */
int adv_exp_afile_close(afile *a);
void adv_exp_slugify(const char *label, char *out, size_t size);
const char *adv_exp_target_name(const adv_model *m, int target);
const char *adv_exp_method_title(adv_attack_method m);
int adv_exp_find_setting(const experiment *x, const char *label);
int adv_exp_write_report_grid(const experiment *x, const char *dir);
int adv_exp_write_report_table1(const experiment *x, const char *dir);

/* experiment_files.c */
int adv_exp_write_csvs(const experiment *x, const char *dir);
int adv_exp_write_figure_files(const experiment *x, const char *dir);
#endif
