/* A small single-precision GEMM for the Winograd products (src/gemm_kernel.c): C = A B with A
 * packed once in panels of ADV_GEMM_MR rows ([panel][k][MR], zero rows past m) and B (row-major,
 * k x n, any row stride) copied 16 columns at a time into an L1-resident panel; no clearing pass. Register-blocked micro-kernels
 * for AVX-512, AVX2+FMA and plain C, chosen at run time. */
#ifndef ADVINST_GEMM_KERNEL_H
#define ADVINST_GEMM_KERNEL_H
#include <stddef.h>

#define ADV_GEMM_MR 6    /* rows per A panel */
#define ADV_GEMM_NR 16   /* columns per micro-tile: n is processed in multiples of 16 */

static inline int adv_gemm_panels(int m) { return (m + ADV_GEMM_MR - 1) / ADV_GEMM_MR; }
static inline int adv_gemm_cols(int n) { return (n + ADV_GEMM_NR - 1) / ADV_GEMM_NR * ADV_GEMM_NR; }

/* Rows [MR * p0, MR * p1) of C = A B (C row stride ldc) for the first adv_gemm_cols(n) columns:
 * B and C must have that many readable / writable columns per row (the extra ones are junk in,
 * junk out), and C MR * p1 rows. ap = the packed A (all panels), k = inner dimension (the B panel,
 * k x 16 floats, lives on the stack: k up to a few thousand). */
void adv_gemm_packed(int p0, int p1, int n, int k, const float *ap, const float *b, size_t ldb, float *c,
                     size_t ldc);

/* The micro-kernel in use: "avx512", "avx2+fma" or "generic". */
const char *adv_gemm_kernel_name(void);
#endif
