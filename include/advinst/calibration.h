/* Calibrated confidence. A model file may carry a softmax temperature T in its metadata
 * ("calibration.temperature", fitted on the validation split after training); every command turns
 * logits into probabilities through adv_model_probs, i.e. softmax(logits / T). A model without
 * the key (such as a converted checkpoint of the paper's model) has T = 1. T does not change
 * which class is predicted, nor the attacks' losses (they work on the logits, as the paper's). */
#ifndef ADVINST_CALIBRATION_H
#define ADVINST_CALIBRATION_H
#include "advinst/model.h"

#define ADV_META_TEMPERATURE "calibration.temperature"
#define ADV_CALIBRATION_BINS 15   /* equal-width confidence bins for ECE and the diagram */

/* The model's temperature: the metadata value if it is a finite number in [0.01, 100], else 1. */
double adv_model_temperature(const adv_model *m);
/* probs[12] = softmax(logits / T) (T <= 0 or not finite is taken as 1). The one place where a
 * temperature is applied. */
void adv_softmax_temperature(double T, const float *logits, float *probs);
/* probs[12] = softmax(logits / adv_model_temperature(m)). */
void adv_model_probs(const adv_model *m, const float *logits, float *probs);

/* The temperature minimising the mean negative log-likelihood of labels[i] under
 * softmax(logits[i] / T) over n clips (logits: n x 12), searched in [0.05, 20]. */
double adv_fit_temperature(const float *logits, const int *labels, long n);

/* Expected calibration error of n clips at temperature T: sum over ADV_CALIBRATION_BINS equal
 * confidence bins of (clips in bin / n) * |accuracy(bin) - mean confidence(bin)|. */
double adv_ece(const float *logits, const int *labels, long n, double T);

/* Two-fold cross-fitted ECE: T fitted on the even-numbered clips is scored on the odd ones and
 * vice versa; the n-weighted mean of both (an honest figure when T is fitted on the same split). */
double adv_ece_crossfit(const float *logits, const int *labels, long n);
#endif
