/* The paper's differentiable front end at 16 kHz, forward and backward:
 * waveform -> centred reflect-padded STFT (periodic Hann 2048, hop 512) -> |X|^2 -> 100 HTK mel
 * bands (40 Hz - 8 kHz, no area normalisation) -> 10 log10(max(S, 1e-10)), floored at max - 80 dB
 * -> per-band (x - mean) / std -> circular padding in time to at least 35 frames.
 * A plan owns its FFTW plans and every intermediate buffer for one input length, so repeated
 * forward/backward calls (attacks, training) allocate nothing. */
#ifndef ADVINST_FRONTEND_H
#define ADVINST_FRONTEND_H

#define ADV_SAMPLE_RATE 16000
#define ADV_N_FFT 2048
#define ADV_HOP 512
#define ADV_N_BINS 1025
#define ADV_N_MELS 100
#define ADV_F_MIN 40.0
#define ADV_F_MAX 8000.0
#define ADV_TOP_DB 80.0f
#define ADV_AMIN 1e-10f
#define ADV_MIN_FRAMES 35

typedef struct adv_frontend adv_frontend;

/* Frames of a signal of n samples: 1 + n / 512. */
int adv_frontend_frames_for(long n_samples);
/* Frames after circular padding: max(frames, 35). */
int adv_frontend_padded_frames_for(long n_samples);

/* Plans the front end for signals of exactly n_samples (>= 1025, so reflect padding is defined).
 * mean/std: per-band normalisation (100 each, copied); NULL gives mean 0, std 1. */
adv_frontend *adv_frontend_create(long n_samples, const float *mean, const float *std);
void adv_frontend_free(adv_frontend *fe);

long adv_frontend_samples(const adv_frontend *fe);
int adv_frontend_frames(const adv_frontend *fe);         /* T before padding */
int adv_frontend_padded_frames(const adv_frontend *fe);  /* T' >= 35 */

/* Forward: out[100 * T'] laid out band-major (out[m * T' + t]), the network's 1 x 100 x T' input.
 * Keeps what backward needs. */
void adv_frontend_forward(adv_frontend *fe, const float *wave, float *out);

/* Mel power in dB after the top-80 floor, before normalisation: 100 x T, band-major.
 * Valid after forward. */
const float *adv_frontend_db(const adv_frontend *fe);

/* Backward of the last forward: gwave[n] = d loss / d wave given gout = d loss / d out (overwrites). */
void adv_frontend_backward(adv_frontend *fe, const float *gout, float *gwave);

/* Circular padding used by the front end and by training windows, as the paper's code
 * (circular_pad): pre = (padded - frames) / 2 and post = the rest are fixed once; then, while
 * pre + post > 0, the current array is padded circularly with min(pre, T) of its last columns
 * before and min(post, T) of its first columns after (T = its current length), which are taken
 * off pre and post. Maps each of the `padded` output columns (src_index[padded]) to a source
 * column in [0, frames). */
void adv_circular_pad_index(int frames, int padded, int *src_index);

/* FFTW's planner is not thread-safe: every module that makes or destroys FFTW plans holds this
 * one process-wide lock while doing so (executing plans needs no lock). */
void adv_fftw_planner_lock(void);
void adv_fftw_planner_unlock(void);

/* The mel filter bank, 1025 x 100 (bin-major), for tests and the reference. */
void adv_mel_filterbank(float *fb);
#endif
