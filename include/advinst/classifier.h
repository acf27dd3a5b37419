/* The whole differentiable path for one clip or a batch of clips of the same length and rate:
 * mono waveform at its own rate -> resample to 16 kHz -> front end -> network -> logits, and the
 * exact gradient back to the native-rate samples. A batch of B clips runs its front ends in
 * parallel and the network once with batch B (one sgemm per layer for all clips). Every buffer is
 * sized at creation for one clip length and batch, so attack loops allocate nothing. */
#ifndef ADVINST_CLASSIFIER_H
#define ADVINST_CLASSIFIER_H
#include "advinst/model.h"
#include "advinst/resample.h"
#include "advinst/audio.h"

typedef struct adv_classifier adv_classifier;

/* Minimum clip length in samples at `rate` (one STFT frame at 16 kHz after resampling). */
long adv_classifier_min_samples(int rate);

/* Plans for one clip of n_samples mono samples at `rate`. Fails (NULL, adv_error) if too short.
 * The same as adv_classifier_create_batch(m, rate, n_samples, 1). */
adv_classifier *adv_classifier_create(adv_model *m, int rate, long n_samples);
/* Plans for batches of `batch` clips of n_samples each at `rate`. */
adv_classifier *adv_classifier_create_batch(adv_model *m, int rate, long n_samples, int batch);
void adv_classifier_free(adv_classifier *c);
long adv_classifier_samples(const adv_classifier *c);
/* Samples at 16 kHz: ceil(n_samples * 16000 / rate). */
long adv_classifier_samples16k(const adv_classifier *c);
int adv_classifier_rate(const adv_classifier *c);
int adv_classifier_batch(const adv_classifier *c);

/* logits[12] of wave[n_samples] (evaluation mode). Keeps what backward needs. The samples must
 * pass adv_audio_check_samples (callers check once per clip; NaN in would give NaN out). */
void adv_classifier_forward(adv_classifier *c, const float *wave, float *logits);
/* probs[12] from logits at the model's temperature (adv_model_probs, calibration.h). */
void adv_classifier_probs(const adv_classifier *c, const float *logits, float *probs);
/* gwave[n_samples] = d loss / d wave given glogits[12] = d loss / d logits, for the last forward. */
void adv_classifier_backward(adv_classifier *c, const float *glogits, float *gwave);
/* The two halves of adv_classifier_backward (batch-1 classifiers), so that a loss on the 16 kHz signal can join in:
 * g16[samples16k] = d loss / d (the 16 kHz signal of the last forward), and gwave[n_samples] =
 * the resampler's exact adjoint of g16 (a copy at 16 kHz; in place allowed at 16 kHz). */
void adv_classifier_backward16k(adv_classifier *c, const float *glogits, float *g16);
void adv_classifier_resample_adjoint(const adv_classifier *c, const float *g16, float *gwave);
/* A batch: logits[batch][12] of waves[b][n_samples]; the clips' results are those of separate
 * single-clip calls (within float32 rounding). A batch-1 classifier may use the single-clip calls. */
void adv_classifier_forward_batch(adv_classifier *c, const float *const *waves, float *logits);
/* gwaves[b][n_samples] from glogits[batch][12], for the last forward_batch (overwrites). */
void adv_classifier_backward_batch(adv_classifier *c, const float *glogits, float *const *gwaves);

/* The network's per-time-step class scores of the last forward (before the max over time):
 * scores[batch][12][steps], and the gradient from d loss / d scores back to the samples
 * (backward_steps: batch-1 classifiers). */
int adv_classifier_time_steps(const adv_classifier *c);
void adv_classifier_step_scores(const adv_classifier *c, float *scores);
void adv_classifier_backward_steps(adv_classifier *c, const float *gscores, float *gwave);

/* Convenience for programs: classifies a whole file's audio (mono mix). Fails on too-short audio
 * and on samples adv_audio_check_samples refuses (NaN, Inf, beyond ADV_AUDIO_MAX_ABS). */
int adv_classify_audio(adv_model *m, const adv_audio *a, float *logits);

/* Access for tests: the front end, 16 kHz signal and network input of the last forward (of the
 * batch's first clip; the others follow at strides of n16 and 100 x frames). */
adv_frontend *adv_classifier_frontend(adv_classifier *c);
const float *adv_classifier_wave16k(const adv_classifier *c);
const float *adv_classifier_net_input(const adv_classifier *c);
#endif
