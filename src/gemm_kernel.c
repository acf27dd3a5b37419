/* Register-blocked GEMM micro-kernels for the Winograd products; see gemm_kernel.h.
 * Each kernel computes MR (or 2 MR) rows x 16 columns of C over the whole k: the accumulators stay
 * in registers, one row of 16 B values is loaded per k and every A value is broadcast. The B panel
 * (k x 16) stays in L1 while the A panels stream past it. */
#include "advinst/gemm_kernel.h"
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

typedef void (*kernel_fn)(int k, const float *a, const float *a2, const float *b, size_t ldb, float *c, size_t ldc);

/* Plain C: MR x 16. */
static void kern_generic(int k, const float *a, const float *a2, const float *b, size_t ldb, float *c, size_t ldc)
{
    (void)a2;
    float acc[ADV_GEMM_MR][ADV_GEMM_NR];
    memset(acc, 0, sizeof acc);
    for (int i = 0; i < k; i++) {
        const float *bi = b + (size_t)i * ldb;
        for (int r = 0; r < ADV_GEMM_MR; r++) {
            const float ar = a[i * ADV_GEMM_MR + r];
            for (int j = 0; j < ADV_GEMM_NR; j++) acc[r][j] += ar * bi[j];
        }
    }
    for (int r = 0; r < ADV_GEMM_MR; r++) memcpy(c + r * ldc, acc[r], sizeof acc[r]);
}

#if defined(__x86_64__) && defined(__GNUC__)
/* AVX2 + FMA: 6 rows x 2 vectors of 8 = 12 accumulators. */
__attribute__((target("avx2,fma"))) static void kern_avx2(int k, const float *a, const float *a2, const float *b,
                                                           size_t ldb, float *c, size_t ldc)
{
    (void)a2;
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int i = 0; i < k; i++, a += ADV_GEMM_MR, b += ldb) {
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        __m256 x = _mm256_broadcast_ss(a);
        c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01);
        x = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11);
        x = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21);
        x = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_fmadd_ps(x, b0, c30); c31 = _mm256_fmadd_ps(x, b1, c31);
        x = _mm256_broadcast_ss(a + 4);
        c40 = _mm256_fmadd_ps(x, b0, c40); c41 = _mm256_fmadd_ps(x, b1, c41);
        x = _mm256_broadcast_ss(a + 5);
        c50 = _mm256_fmadd_ps(x, b0, c50); c51 = _mm256_fmadd_ps(x, b1, c51);
    }
    _mm256_storeu_ps(c, c00); _mm256_storeu_ps(c + 8, c01); c += ldc;
    _mm256_storeu_ps(c, c10); _mm256_storeu_ps(c + 8, c11); c += ldc;
    _mm256_storeu_ps(c, c20); _mm256_storeu_ps(c + 8, c21); c += ldc;
    _mm256_storeu_ps(c, c30); _mm256_storeu_ps(c + 8, c31); c += ldc;
    _mm256_storeu_ps(c, c40); _mm256_storeu_ps(c + 8, c41); c += ldc;
    _mm256_storeu_ps(c, c50); _mm256_storeu_ps(c + 8, c51);
}

/* AVX-512: two panels (12 rows) x 16 = 12 accumulators; a2 = the second panel (NULL: one). */
__attribute__((target("avx512f"))) static void kern_avx512(int k, const float *a, const float *a2, const float *b,
                                                            size_t ldb, float *c, size_t ldc)
{
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    __m512 d0 = c0, d1 = c0, d2 = c0, d3 = c0, d4 = c0, d5 = c0;
    if (a2) {
        for (int i = 0; i < k; i++, a += ADV_GEMM_MR, a2 += ADV_GEMM_MR, b += ldb) {
            const __m512 bv = _mm512_loadu_ps(b);
            c0 = _mm512_fmadd_ps(_mm512_set1_ps(a[0]), bv, c0);
            c1 = _mm512_fmadd_ps(_mm512_set1_ps(a[1]), bv, c1);
            c2 = _mm512_fmadd_ps(_mm512_set1_ps(a[2]), bv, c2);
            c3 = _mm512_fmadd_ps(_mm512_set1_ps(a[3]), bv, c3);
            c4 = _mm512_fmadd_ps(_mm512_set1_ps(a[4]), bv, c4);
            c5 = _mm512_fmadd_ps(_mm512_set1_ps(a[5]), bv, c5);
            d0 = _mm512_fmadd_ps(_mm512_set1_ps(a2[0]), bv, d0);
            d1 = _mm512_fmadd_ps(_mm512_set1_ps(a2[1]), bv, d1);
            d2 = _mm512_fmadd_ps(_mm512_set1_ps(a2[2]), bv, d2);
            d3 = _mm512_fmadd_ps(_mm512_set1_ps(a2[3]), bv, d3);
            d4 = _mm512_fmadd_ps(_mm512_set1_ps(a2[4]), bv, d4);
            d5 = _mm512_fmadd_ps(_mm512_set1_ps(a2[5]), bv, d5);
        }
    } else {
        for (int i = 0; i < k; i++, a += ADV_GEMM_MR, b += ldb) {
            const __m512 bv = _mm512_loadu_ps(b);
            c0 = _mm512_fmadd_ps(_mm512_set1_ps(a[0]), bv, c0);
            c1 = _mm512_fmadd_ps(_mm512_set1_ps(a[1]), bv, c1);
            c2 = _mm512_fmadd_ps(_mm512_set1_ps(a[2]), bv, c2);
            c3 = _mm512_fmadd_ps(_mm512_set1_ps(a[3]), bv, c3);
            c4 = _mm512_fmadd_ps(_mm512_set1_ps(a[4]), bv, c4);
            c5 = _mm512_fmadd_ps(_mm512_set1_ps(a[5]), bv, c5);
        }
    }
    _mm512_storeu_ps(c, c0); _mm512_storeu_ps(c + ldc, c1); _mm512_storeu_ps(c + 2 * ldc, c2);
    _mm512_storeu_ps(c + 3 * ldc, c3); _mm512_storeu_ps(c + 4 * ldc, c4); _mm512_storeu_ps(c + 5 * ldc, c5);
    if (!a2) return;
    c += 6 * ldc;
    _mm512_storeu_ps(c, d0); _mm512_storeu_ps(c + ldc, d1); _mm512_storeu_ps(c + 2 * ldc, d2);
    _mm512_storeu_ps(c + 3 * ldc, d3); _mm512_storeu_ps(c + 4 * ldc, d4); _mm512_storeu_ps(c + 5 * ldc, d5);
}
#endif

typedef struct { kernel_fn fn; int pairs; const char *name; } kernel_choice;

static kernel_choice choose(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return (kernel_choice){kern_avx512, 1, "avx512"};
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return (kernel_choice){kern_avx2, 0, "avx2+fma"};
#endif
    return (kernel_choice){kern_generic, 0, "generic"};
}

static kernel_choice kernel(void)
{
    static kernel_choice k;   /* the same answer from every thread: a benign race */
    if (!k.fn) k = choose();
    return k;
}

const char *adv_gemm_kernel_name(void) { return kernel().name; }

void adv_gemm_packed(int p0, int p1, int n, int k, const float *ap, const float *b, size_t ldb, float *c,
                     size_t ldc)
{
    const kernel_choice kc = kernel();
    const size_t panel = (size_t)ADV_GEMM_MR * k;
    float bp[(size_t)k * ADV_GEMM_NR] __attribute__((aligned(64)));
    for (int j = 0; j < n; j += ADV_GEMM_NR) {
        /* the k x 16 panel of B, contiguous: it stays in L1 while the A panels stream past */
        for (int i = 0; i < k; i++) memcpy(bp + (size_t)i * ADV_GEMM_NR, b + (size_t)i * ldb + j, sizeof(float) * ADV_GEMM_NR);
        for (int p = p0; p < p1;) {
            const int two = kc.pairs && p + 1 < p1;
            kc.fn(k, ap + p * panel, two ? ap + (p + 1) * panel : NULL, bp, ADV_GEMM_NR,
                  c + (size_t)p * ADV_GEMM_MR * ldc + j, ldc);
            p += two ? 2 : 1;
        }
    }
}
