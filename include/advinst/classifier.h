/* The whole differentiable path for one clip: mono waveform at its own rate -> resample to 16 kHz
 * -> front end -> network -> logits, and the exact gradient back to the native-rate samples.
 * Every buffer is sized at creation for one clip length, so attack loops allocate nothing. */
#ifndef ADVINST_CLASSIFIER_H
#define ADVINST_CLASSIFIER_H
#include "advinst/model.h"
#include "advinst/resample.h"
#include "advinst/audio.h"

typedef struct adv_classifier adv_classifier;

/* Minimum clip length in samples at `rate` (one STFT frame at 16 kHz after resampling). */
long adv_classifier_min_samples(int rate);

/* Plans for clips of n_samples mono samples at `rate`. Fails (NULL, adv_error) if too short. */
adv_classifier *adv_classifier_create(adv_model *m, int rate, long n_samples);
void adv_classifier_free(adv_classifier *c);
long adv_classifier_samples(const adv_classifier *c);
/* Samples at 16 kHz: ceil(n_samples * 16000 / rate). */
long adv_classifier_samples16k(const adv_classifier *c);
int adv_classifier_rate(const adv_classifier *c);

/* logits[12] of wave[n_samples] (evaluation mode). Keeps what backward needs. The samples must
 * pass adv_audio_check_samples (callers check once per clip; NaN in would give NaN out). */
void adv_classifier_forward(adv_classifier *c, const float *wave, float *logits);
/* gwave[n_samples] = d loss / d wave given glogits[12] = d loss / d logits, for the last forward. */
void adv_classifier_backward(adv_classifier *c, const float *glogits, float *gwave);
/* The two halves of adv_classifier_backward, so that a loss on the 16 kHz signal can join in:
 * g16[samples16k] = d loss / d (the 16 kHz signal of the last forward), and gwave[n_samples] =
 * the resampler's exact adjoint of g16 (a copy at 16 kHz; in place allowed at 16 kHz). */
void adv_classifier_backward16k(adv_classifier *c, const float *glogits, float *g16);
void adv_classifier_resample_adjoint(const adv_classifier *c, const float *g16, float *gwave);

/* Convenience for programs: classifies a whole file's audio (mono mix). Fails on too-short audio
 * and on samples adv_audio_check_samples refuses (NaN, Inf, beyond ADV_AUDIO_MAX_ABS). */
int adv_classify_audio(adv_model *m, const adv_audio *a, float *logits);

/* Access for tests: the front end and 16 kHz signal of the last forward. */
adv_frontend *adv_classifier_frontend(adv_classifier *c);
const float *adv_classifier_wave16k(const adv_classifier *c);
const float *adv_classifier_net_input(const adv_classifier *c);
#endif
