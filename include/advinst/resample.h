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
/* Greatest common divisor of two rates (positive): the pair's phases are rate_out / gcd. */
long adv_rate_gcd(long a, long b);
/* Taps in the table adv_resampler_create designs for the pair (0 for equal rates): what it costs
 * to design (linear in this) and to hold. */
double adv_resampler_table_taps(int rate_in, int rate_out);

/* Output length: ceil(n_in * rate_out / rate_in). */
long adv_resampler_output_length(const adv_resampler *r);
long adv_resampler_input_length(const adv_resampler *r);

/* y[n_out] = A x[n_in]. */
void adv_resampler_forward(const adv_resampler *r, const float *x, float *y);

/* gx[n_in] = A^T gy[n_out] (overwrites gx). */
void adv_resampler_backward(const adv_resampler *r, const float *gy, float *gx);

/* The same on part of the output, for streams held in one long buffer: y[j] = (A x)[j] for j in
 * [j0, j1) only (y and x indexed as in the whole operator). */
void adv_resampler_forward_range(const adv_resampler *r, const float *x, float *y, long j0, long j1);
/* gx += A^T gy restricted to the outputs [j0, j1) (accumulates: clear gx first where needed). */
void adv_resampler_backward_range_add(const adv_resampler *r, const float *gy, float *gx, long j0, long j1);
/* The inputs [*lo, *hi) that the outputs [j0, j1) read (clipped to [0, n_in)). */
void adv_resampler_input_span(const adv_resampler *r, long j0, long j1, long *lo, long *hi);
/* The first output that reads input i or a later one (outputs before it read only inputs < i). */
long adv_resampler_first_output_reading(const adv_resampler *r, long i);

/* Filter design facts for documentation: passband edge and stopband start in Hz at the
 * lower of the two rates, and the designed stopband attenuation in dB. */
void adv_resampler_design(const adv_resampler *r, double *passband_hz, double *stopband_hz,
                          double *attenuation_db, int *taps_per_phase);
#endif
