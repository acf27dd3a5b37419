/* The resampler's representation, shared by src/resample.c (design, the general polyphase loops,
 * the whole-signal transforms) and src/resample_fir.c (integer ratios, outputs vectorised). */
#ifndef ADVINST_RESAMPLE_INTERNAL_H
#define ADVINST_RESAMPLE_INTERNAL_H
#include "advinst/resample.h"

/* Block width of the general inner loops: a fixed-count inner loop the compiler turns into SIMD at
 * -O2 without -ffast-math (separate accumulators make the reordering explicit). */
#define BLOCK 8

struct adv_resampler {
    int rate_in, rate_out;
    long long L, M;      /* up and down factors, rate_out/g and rate_in/g */
    long long step_base, step_phase;   /* M / L and M % L: how output j + 1 moves from output j */
    long n_in, n_out;
    int K;               /* taps cover k in [-K, K] around base */
    int ntaps;           /* 2K + 1 */
    int stride;          /* row length of taps, ntaps rounded up to BLOCK */
    double cutoff;       /* c, relative to the input Nyquist */
    double half_width;   /* W, in input samples */
    float *taps;         /* L rows: taps[p * stride + k + K] = h(p/L - k) */
};

/* The hot loops are compiled for AVX-512, AVX2 and baseline x86-64, picked at run time. The
 * results do not depend on the pick: every lane is its own accumulator in the source and ISO C
 * mode leaves multiply-adds uncontracted, so the vector width changes nothing but speed. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define ADV_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ADV_CLONES   /* clang 14 leaves exported clones unresolved; sanitizer builds need no speed */
#endif

/* Integer ratios (L = 1 or M = 1, e.g. 48 kHz <-> 16 kHz), outputs vectorised (src/resample_fir.c):
 * the range transforms of resample.c when they apply; 0 when not (another ratio, or no memory
 * for the scratch), and the caller runs the general loops. */
int adv_resampler_int_forward(const adv_resampler *r, const float *x, float *y, long j0, long j1);
int adv_resampler_int_backward_add(const adv_resampler *r, const float *gy, float *gx, long j0, long j1);
#endif
