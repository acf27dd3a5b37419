/* Internal to training (train.c): what the project adds to the paper's recipe for robustness and
 * calibrated confidence: label smoothing, mixup, frequency masking, and the temperature fitted on
 * the validation split. Not a public header. */
#ifndef ADVINST_TRAIN_RECIPE_H
#define ADVINST_TRAIN_RECIPE_H
#include "advinst/train.h"

/* 1 if any of label smoothing, mixup or frequency masking is on (soft targets are used). */
int recipe_active(const adv_train_options *o);

/* Augments a batch of nb normalised windows xb (nb x 100 x 116) in place and writes the soft
 * targets (nb x 12) for their labels; every random choice from `seed`. */
void recipe_batch(float *xb, int nb, const int *labels, float *targets, uint64_t seed, const adv_train_options *o);

/* Mean cross-entropy of soft targets; grad (nb x 12) = (softmax - target) / nb. */
float recipe_soft_cross_entropy(int nb, const float *logits, const float *targets, float *grad);

/* Fits the softmax temperature on the validation split and stores it with the calibration
 * figures in the model's metadata (calibration.*). No validation clips: nothing is stored. */
int recipe_calibrate(adv_model *m, const adv_spectra *sp);

/* Records the recipe's options in the model's metadata (training.*). */
void recipe_metadata(adv_model *m, const adv_train_options *o);
#endif
