/* Band-limited rational resampler as a linear operator y = A x with its exact adjoint
 * x_grad = A^T y_grad, so gradients at 16 kHz reach the samples at the source rate.
 * Windowed-sinc (Kaiser) polyphase filter; the signal is zero outside [0, n_in). */
#ifndef ADVINST_RESAMPLE_H
#define ADVINST_RESAMPLE_H

typedef struct adv_resampler adv_resampler;

/* Plans resampling of n_in samples from rate_in to rate_out (any integer rates).
 * Equal rates give the identity. Returns NULL with adv_error on bad arguments. */
adv_resampler *adv_resampler_create(int rate_in, int rate_out, long n_in);
void adv_resampler_free(adv_resampler *r);

/* Output length: ceil(n_in * rate_out / rate_in). */
long adv_resampler_output_length(const adv_resampler *r);
long adv_resampler_input_length(const adv_resampler *r);

/* y[n_out] = A x[n_in]. */
void adv_resampler_forward(const adv_resampler *r, const float *x, float *y);

/* gx[n_in] = A^T gy[n_out] (overwrites gx). */
void adv_resampler_backward(const adv_resampler *r, const float *gy, float *gx);

/* Filter design facts for documentation: passband edge and stopband start in Hz at the
 * lower of the two rates, and the designed stopband attenuation in dB. */
void adv_resampler_design(const adv_resampler *r, double *passband_hz, double *stopband_hz,
                          double *attenuation_db, int *taps_per_phase);
#endif
