/* Training and evaluation of the paper's network on a data set (DIR/labels.csv + DIR/audio).
 *
 * Exactly the paper: mel dB spectrograms of every clip computed once; per-band normalisation
 * statistics (mean, population std) over all frames of the training split; each clip cut into
 * half-overlapping 116-frame windows (circularly padded to fill the last), one drawn at random per
 * visit; cross-entropy, Adam (lr 1e-3, betas 0.9/0.999), batch 16, learning rate x0.1 from the
 * decay epoch on; validation on whole clips in evaluation mode.
 *
 * Determinism: every random choice derives from (seed, epoch, batch), so a run is reproducible for
 * a given seed and thread count, and a resumed run continues exactly where a checkpoint left off. */
#ifndef ADVINST_TRAIN_H
#define ADVINST_TRAIN_H
#include "advinst/dataset.h"
#include "advinst/calibration.h"
#include "advinst/model.h"
#include <signal.h>
#include <stdint.h>

#define ADV_TRAIN_WINDOW 116
#define ADV_TRAIN_HOP 58

/* Spectrograms of a data set, ready for training and validation. */
typedef struct {
    int count;
    int *label;
    int *split;          /* ADV_SPLIT_TRAIN / ADV_SPLIT_VALID */
    int *frames;         /* T of each clip */
    float **db;          /* [100 x T] mel dB (after the top-80 floor), band-major */
    char **name;         /* file names, for messages */
    float mean[ADV_N_MELS], std[ADV_N_MELS];   /* over the training split */
} adv_spectra;

/* Reads every clip of ds (resampled to 16 kHz, mono) and computes its mel dB spectrogram and the
 * normalisation statistics of the training split. progress: draw a bar on a TTY. */
int adv_spectra_compute(const adv_dataset *ds, adv_spectra *sp, int progress);
void adv_spectra_free(adv_spectra *sp);

/* Number of 116-frame windows of a clip of T frames: ceil((T - 116) / 58) + 1, at least 1. */
int adv_train_windows(int frames);

typedef struct {
    int epochs;           /* 150 */
    int batch;            /* 16 */
    float lr;             /* 1e-3 */
    int decay_epoch;      /* 90: epochs >= this (0-based) use lr * 0.1 */
    uint64_t seed;
    int progress;         /* progress bar on a TTY */
    const char *checkpoint_path;   /* written after every epoch and on interruption (NULL: none) */
    const char *log_path;          /* per-epoch CSV (NULL: none) */
    const char *resume_path;       /* checkpoint to continue from (NULL: fresh start) */
    const char *data_name;         /* recorded in the model's metadata */
    /* Beyond the paper (all 0 by default, which is exactly the paper's recipe); see
     * docs/dataset.md "Training for calibrated confidence". */
    float label_smoothing;         /* target = (1 - s) one-hot + s / 12 */
    float mixup_alpha;             /* mixup of normalised windows, lambda ~ Beta(a, a), folded to >= 0.5 */
    int freq_mask;                 /* SpecAugment-style: up to this many mel bands zeroed per window */
    int calibrate;                 /* fit the softmax temperature on the validation split at the end */
    volatile sig_atomic_t *stop;   /* set asynchronously (Ctrl-C): stop after the current batch */
} adv_train_options;

void adv_train_options_default(adv_train_options *o);

/* Trains *model (replaced by the checkpoint's model when resuming; the caller owns it).
 * Returns 0 when all epochs are done, 1 when stopped early (a checkpoint was written), -1 on error. */
int adv_train(adv_model **model, const adv_spectra *sp, const adv_train_options *o);

/* ---- evaluation ---- */
typedef struct {
    double temperature;          /* applied to the logits (0: 1); adv_evaluate_spectra takes the model's */
    long clips;
    long correct;
    double accuracy;
    double mean_confidence;      /* mean probability of the predicted class */
    double loss;                 /* mean cross-entropy */
    long confusion[ADV_N_CLASSES][ADV_N_CLASSES];   /* [predicted][true] counts */
    long per_class_total[ADV_N_CLASSES];
    long per_class_correct[ADV_N_CLASSES];
    /* calibration (adv_eval_finish): ADV_CALIBRATION_BINS (15) equal-width confidence bins */
    long bin_count[ADV_CALIBRATION_BINS];
    double bin_confidence[ADV_CALIBRATION_BINS], bin_correct[ADV_CALIBRATION_BINS];   /* sums; means after adv_eval_finish */
    double ece;                  /* expected calibration error */
    long wrong;
    double wrong_confidence;     /* mean confidence of the wrong predictions (0 if none) */
} adv_eval;

/* Evaluates whole clips of one split (split < 0: all) in evaluation mode, at the model's
 * temperature. */
int adv_evaluate_spectra(adv_model *m, const adv_spectra *sp, int split, adv_eval *ev);
/* The same, also storing each evaluated clip's logits (logits_out: count x 12, in clip order of
 * the split) and spectrogram index (index_out); either may be NULL. */
int adv_evaluate_spectra_logits(adv_model *m, const adv_spectra *sp, int split, adv_eval *ev, float *logits_out,
                                int *index_out);

/* Adds one clip's prediction to the tallies (used by the evaluators and by tests). */
void adv_eval_add(adv_eval *ev, int truth, const float *logits);
/* Finishes the means. */
void adv_eval_finish(adv_eval *ev);

/* Column-normalised confusion matrix (columns true, rows predicted; an empty column stays 0). */
void adv_eval_confusion_normalised(const adv_eval *ev, double out[ADV_N_CLASSES][ADV_N_CLASSES]);
/* Writes the normalised matrix as CSV / as a PNG picture (cairo), atomically. */
int adv_eval_write_confusion_csv(const adv_eval *ev, const adv_model *m, const char *path);
int adv_eval_write_confusion_png(const adv_eval *ev, const adv_model *m, const char *title, const char *path);
/* Reliability diagram (accuracy against confidence per bin, with the diagonal, bin counts, ECE). */
int adv_eval_write_reliability_png(const adv_eval *ev, const char *title, const char *path);
/* Plots a training log CSV (losses and accuracies per epoch) as a PNG, atomically. */
int adv_plot_training_log(const char *csv_path, const char *title, const char *png_path);
#endif
