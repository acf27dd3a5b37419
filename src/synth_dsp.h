/* Internal to the data-set renderer (synth*.c, recchain.c, sampler.c): seeded random numbers, a
 * growing 16 kHz mono buffer, RBJ biquads and the class indices. Not a public header. */
#ifndef ADVINST_SYNTH_DSP_H
#define ADVINST_SYNTH_DSP_H
#include "advinst/error.h"
#include "advinst/resample.h"
#include "advinst/rng.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SR 16000         /* output rate */

enum { C_ACCORDION, C_AC_GUITAR, C_BASS_DRUM, C_BASS_GUITAR, C_EL_GUITAR, C_FEMALE, C_GLOCK, C_GONG,
       C_HARMONICA, C_HIHAT, C_MALE, C_MARIMBA };


/* ---- random numbers ------------------------------------------------------------------------ */

typedef struct { uint64_t s; } rng;

static inline uint64_t rnext(rng *r) { return adv_rng_next(&r->s); }   /* splitmix64 (rng.h) */
static inline double runif(rng *r) { return (double)(rnext(r) >> 11) * (1.0 / 9007199254740992.0); }
static inline double rrange(rng *r, double a, double b) { return a + (b - a) * runif(r); }
static inline int rint_in(rng *r, int lo, int hi) { return lo + (int)(rnext(r) % (uint64_t)(hi - lo + 1)); }
static inline int rchance(rng *r, double p) { return runif(r) < p; }
static inline double rnorm(rng *r)
{
    double u = runif(r), v = runif(r);
    return sqrt(-2.0 * log(u + 1e-300)) * cos(2 * M_PI * v);
}
static inline int rpick(rng *r, const double *w, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++) sum += w[i];
    double x = runif(r) * sum;
    for (int i = 0; i < n; i++) {
        if (x < w[i]) return i;
        x -= w[i];
    }
    return n - 1;
}


static inline double midi_hz(double m) { return 440.0 * pow(2.0, (m - 69.0) / 12.0); }
static inline double db(double x) { return pow(10.0, x / 20.0); }

/* ---- growing mono buffer at 16 kHz --------------------------------------------------------- */

typedef struct { float *x; long n; } buf;

static inline int buf_alloc(buf *b, long n)
{
    b->x = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    b->n = n;
    return b->x ? 0 : adv_fail("out of memory");
}

/* Adds src (scaled) into dst at offset, growing dst if needed. */
static inline int buf_mix(buf *dst, long off, const float *src, long n, float gain)
{
    if (off < 0) off = 0;
    if (off + n > dst->n) {
        float *x = realloc(dst->x, (size_t)(off + n) * sizeof(float));
        if (!x) return adv_fail("out of memory");
        memset(x + dst->n, 0, (size_t)(off + n - dst->n) * sizeof(float));
        dst->x = x;
        dst->n = off + n;
    }
    for (long i = 0; i < n; i++) dst->x[off + i] += gain * src[i];
    return 0;
}

static inline float peak_of(const float *x, long n)
{
    float p = 0;
    for (long i = 0; i < n; i++) p = fmaxf(p, fabsf(x[i]));
    return p;
}

static inline double rms_of(const float *x, long n)
{
    double s = 0;
    for (long i = 0; i < n; i++) s += (double)x[i] * x[i];
    return n > 0 ? sqrt(s / (double)n) : 0;
}

/* Resamples x (n samples) from rate_in to 16 kHz; rate_in is rounded to a multiple of 400 Hz so the
 * polyphase filter stays small (this doubles as a pitch/speed change when rate_in is not the
 * true rate). Returns a malloc'd buffer. */
static inline int to_16k(const float *x, long n, double rate_in, buf *out)
{
    int r_in = (int)lround(rate_in / 400.0) * 400;
    if (r_in < 400) r_in = 400;
    adv_resampler *r = adv_resampler_create(r_in, SR, n);
    if (!r) return -1;
    if (buf_alloc(out, adv_resampler_output_length(r)) < 0) { adv_resampler_free(r); return -1; }
    adv_resampler_forward(r, x, out->x);
    adv_resampler_free(r);
    return 0;
}

/* ---- simple filters ------------------------------------------------------------------------ */

typedef struct { double b0, b1, b2, a1, a2, z1, z2; } biquad;

/* RBJ cookbook designs. type: 0 lowpass, 1 highpass, 2 bandpass (0 dB peak), 3 peaking (gain_db). */
static inline biquad bq_design(int type, double f, double q, double gain_db)
{
    biquad b = {0};
    if (f > 0.45 * SR) f = 0.45 * SR;
    double w = 2 * M_PI * f / SR, c = cos(w), s = sin(w), al = s / (2 * q);
    double A = pow(10.0, gain_db / 40.0), a0;
    switch (type) {
    case 0: b.b0 = (1 - c) / 2; b.b1 = 1 - c; b.b2 = (1 - c) / 2; a0 = 1 + al; b.a1 = -2 * c; b.a2 = 1 - al; break;
    case 1: b.b0 = (1 + c) / 2; b.b1 = -(1 + c); b.b2 = (1 + c) / 2; a0 = 1 + al; b.a1 = -2 * c; b.a2 = 1 - al; break;
    case 2: b.b0 = al; b.b1 = 0; b.b2 = -al; a0 = 1 + al; b.a1 = -2 * c; b.a2 = 1 - al; break;
    default:
        b.b0 = 1 + al * A; b.b1 = -2 * c; b.b2 = 1 - al * A;
        a0 = 1 + al / A; b.a1 = -2 * c; b.a2 = 1 - al / A;
        break;
    }
    b.b0 /= a0; b.b1 /= a0; b.b2 /= a0; b.a1 /= a0; b.a2 /= a0;
    return b;
}

static inline double bq_run(biquad *b, double x)
{
    double y = b->b0 * x + b->z1;
    b->z1 = b->b1 * x - b->a1 * y + b->z2;
    b->z2 = b->b2 * x - b->a2 * y;
    return y;
}

static inline void bq_apply(biquad b, float *x, long n)
{
    for (long i = 0; i < n; i++) x[i] = (float)bq_run(&b, x[i]);
}

/* ---- sources ------------------------------------------------------------------------------- */
/* ---- note events (what fluidsynth or the sampler plays) ---------------------------------- */

enum { EV_OFF, EV_ON, EV_BEND, EV_CC };
typedef struct { double t; int type, chan, a, b, order; } event;
typedef struct { event *e; int n, cap; } seq;

#endif
