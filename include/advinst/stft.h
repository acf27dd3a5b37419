/* The one short-time Fourier transform of the project, and its transpose, serving the paper's
 * front end (n_fft 2048, hop 512) and the multi-scale loss of MS-C&W (n_fft 2048 ... 64, hop
 * n_fft / 4): torch.stft's semantics with center=True, pad_mode="reflect", a periodic Hann
 * window of n_fft samples, one-sided (n_fft / 2 + 1 bins), no normalisation.
 *
 *   xpad  = reflect-pad(x, n_fft / 2 each side)         (mirror without repeating the edge)
 *   F[t]  = w * xpad[t hop : t hop + n_fft]             t = 0 .. frames - 1, frames = 1 + n / hop
 *   X[t]  = rFFT(F[t])
 *
 * The transpose takes G = d loss / d X in the convention of the inverse real FFT: the gradient
 * with respect to (Re X[k], Im X[k]), with bins 1 .. n_fft/2 - 1 halved (c2r's Hermitian extension
 * counts them twice; adv_stft_onesided_weight gives the factor), and returns d loss / d x.
 *
 * A plan holds the window and the FFTW plans; the caller owns the buffers (sizes below), so that
 * several plans can share them (the multi-scale loss runs its six scales through one set). The
 * plans are made on the buffers given at creation and executed on buffers of the same alignment
 * (fftwf_malloc). Executing needs no lock; creation takes the FFTW planner lock. */
#ifndef ADVINST_STFT_H
#define ADVINST_STFT_H
#include <fftw3.h>

typedef struct adv_stft adv_stft;

/* Frames of a signal of n samples: 1 + n / hop. */
long adv_stft_frames_for(long n, int hop);

/* Plans for signals of n samples (n_fft / 2 < n, so that reflect padding is defined), with
 * frames_buf and spec as the buffers the FFTW plans are made on (their contents are destroyed).
 * NULL with adv_error on bad sizes or an FFTW failure. */
adv_stft *adv_stft_create(long n, int n_fft, int hop, float *frames_buf, fftwf_complex *spec);
void adv_stft_free(adv_stft *s);

int adv_stft_nfft(const adv_stft *s);
int adv_stft_bins(const adv_stft *s);          /* n_fft / 2 + 1 */
int adv_stft_frames(const adv_stft *s);
const float *adv_stft_window(const adv_stft *s);
/* Buffer sizes: pad n + n_fft floats, frames frames x n_fft floats, spectrum frames x bins. */
long adv_stft_pad_len(const adv_stft *s);
long adv_stft_frames_len(const adv_stft *s);
long adv_stft_spec_len(const adv_stft *s);

/* 0.5 for bins 1 .. bins - 2, 1 for the real-valued bins 0 and bins - 1 (see the convention). */
static inline float adv_stft_onesided_weight(int k, int bins) { return (k != 0 && k != bins - 1) ? 0.5f : 1.0f; }

/* spec[frames][bins] = the STFT of x[n]; pad and frames_buf are scratch. */
void adv_stft_forward(const adv_stft *s, const float *x, float *pad, float *frames_buf, fftwf_complex *spec);

/* gx[n] = (accumulate ? gx + : ) the transposed STFT of g[frames][bins] (destroyed); frames_buf
 * and pad are scratch. */
void adv_stft_backward(const adv_stft *s, fftwf_complex *g, float *frames_buf, float *pad, float *gx, int accumulate);
#endif
