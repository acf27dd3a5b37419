/* Convolutions of channel-major batches x[cin][n][h][w], forward and backward.
 *
 * 3x3 stride-1 pad-1 layers: Winograd F(2x2,3x3). The output is cut into 2x2 tiles (the input
 * into the overlapping 4x4 tiles around them); per block of tile rows the input tiles are
 * transformed (V = B^T d B, stored V[cin][xi][tiles] so each channel's 16 values are close),
 * multiplied by the transformed weights (U = G g G^T) as 16 sgemm
 * M_xi[cout][tiles] = U_xi[cout][cin] V_xi[cin][tiles], and transformed back (Y = A^T M A) with the
 * epilogue applied while the values are in cache. The input gradient is the same convolution of
 * the output gradient with the flipped, transposed kernels, whose transform is U with xi's rows and
 * columns 0 and 3 swapped, transposed: the same code with sgemm's TransA. The weight gradient is
 * G^T (sum over tiles of (A gY A^T) V^T) G.
 *
 * Other layers (the 5x5/2 first layer, the 1x1 layers): im2col + sgemm over column blocks of the
 * whole batch, the input gradient as W^T gY followed by a gather (each input pixel sums its own
 * taps, so threads never write the same value).
 *
 * Work is split over blocks of columns/tiles when there are enough of them, else over output
 * channels; sgemm runs single-threaded inside (see blas.h). */
#include "advinst/nn.h"
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define VEC_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VEC_CLONES
#endif

static int use_winograd = 1;
void adv_conv_set_winograd(int enabled) { use_winograd = enabled; }
static int wino_shape(const adv_conv *c) { return c->k == 3 && c->stride == 1 && c->pad == 1; }
static int is_winograd(const adv_conv *c) { return use_winograd && wino_shape(c); }
static int is_pointwise(const adv_conv *c) { return c->k == 1 && c->stride == 1 && c->pad == 0; }
static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

/* ------------------------------------------------------------------------------------------ */
/* Epilogue on one run of len values of channel c, in place; off = index of y[0] in the tensor. */
VEC_CLONES static void ep_row(const adv_epilogue *ep, int c, float *restrict y, size_t off, int len)
{
    if (!ep) return;
    if (ep->bias || ep->relu) {
        const float b = ep->bias ? ep->bias[c] : 0.0f;
        if (ep->relu)
            for (int i = 0; i < len; i++) { float v = y[i] + b; y[i] = v > 0 ? v : 0.0f; }
        else
            for (int i = 0; i < len; i++) y[i] += b;
    }
    if (ep->act) memcpy(ep->act + off, y, sizeof(float) * (size_t)len);
    if (ep->mul) {
        const float *restrict m = ep->mul + off;
        for (int i = 0; i < len; i++) y[i] *= m[i];
    }
    if (ep->scale || ep->shift) {
        const float s = ep->scale ? ep->scale[c] : 1.0f, t = ep->shift ? ep->shift[c] : 0.0f;
        for (int i = 0; i < len; i++) y[i] = y[i] * s + t;
    }
    if (ep->gate) {
        const float *restrict g = ep->gate + off;
        for (int i = 0; i < len; i++) y[i] = g[i] > 0 ? y[i] : 0.0f;
    }
}

/* Epilogue over rows [c0, c1) x columns [j0, j1) of a [C][ld] tensor. */
static void ep_block(const adv_epilogue *ep, float *y, size_t ld, int c0, int c1, int j0, int j1)
{
    for (int c = c0; c < c1; c++) ep_row(ep, c, y + c * ld + j0, c * ld + j0, j1 - j0);
}

/* Splits [0, total) into `parts` near-equal ranges; range k is [*a, *b). */
static void split(int total, int parts, int k, int *a, int *b)
{
    *a = (int)((long)total * k / parts);
    *b = (int)((long)total * (k + 1) / parts);
}

/* ------------------------------------------------------------------------------------------ */
/* im2col + sgemm */

/* Columns [p0, p1) of one image's im2col matrix into col[r][p - p0] (row stride ld), rows
 * r = (ci*k + ky)*k + kx holding x[ci][oy*s + ky - pad][ox*s + kx - pad] (0 outside);
 * xi is the image's channel 0 plane, channels cstride floats apart. */
static void im2col_range(const adv_conv *c, int h, int w, const float *xi, size_t cstride, int p0, int p1,
                         float *col, int ld)
{
    const int k = c->k, s = c->stride, pad = c->pad;
    const int wo = adv_conv_out(w, k, s, pad);
    for (int ci = 0; ci < c->cin; ci++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float *dst = col + (size_t)((ci * k + ky) * k + kx) * ld - p0;
                for (int p = p0; p < p1;) {
                    int oy = p / wo, ox0 = p % wo;
                    int ox1 = imin(wo, ox0 + (p1 - p));
                    int iy = oy * s + ky - pad;
                    float *row = dst + (size_t)oy * wo;
                    if (iy < 0 || iy >= h) {
                        memset(row + ox0, 0, sizeof(float) * (size_t)(ox1 - ox0));
                    } else {
                        const float *src = xi + ci * cstride + (size_t)iy * w;
                        for (int ox = ox0; ox < ox1; ox++) {
                            int ix = ox * s + kx - pad;
                            row[ox] = (ix >= 0 && ix < w) ? src[ix] : 0.0f;
                        }
                    }
                    p += ox1 - ox0;
                }
            }
}

/* Columns [j0, j1) of the batch's im2col matrix (column j = image * P + position). */
static void im2col_cols(const adv_conv *c, int n, int h, int w, const float *x, int j0, int j1, float *col, int ld)
{
    const int P = adv_conv_out(h, c->k, c->stride, c->pad) * adv_conv_out(w, c->k, c->stride, c->pad);
    for (int j = j0; j < j1;) {
        int i = j / P, p0 = j % P, p1 = imin(P, p0 + (j1 - j));
        im2col_range(c, h, w, x + (size_t)i * h * w, (size_t)n * h * w, p0, p1, col + (j - j0), ld);
        j += p1 - p0;
    }
}

/* Column blocks: about 512 columns, a multiple of the thread count when there are several. */
static int col_blocks(int cols, int threads)
{
    int blocks = (cols + 511) / 512;
    return (blocks + threads - 1) / threads * threads;
}

static void direct_forward(const adv_conv *c, int n, int h, int w, const float *x, float *y,
                           const adv_epilogue *ep, float *scratch, int nt)
{
    const int P = adv_conv_out(h, c->k, c->stride, c->pad) * adv_conv_out(w, c->k, c->stride, c->pad);
    const int NP = n * P, K = c->cin * c->k * c->k, pw = is_pointwise(c);
    if (NP >= 128 * nt || nt == 1) {
        const int blocks = col_blocks(NP, nt), cb = (NP + blocks - 1) / blocks;
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int b = 0; b < blocks; b++) {
            int j0 = b * cb, j1 = imin(NP, j0 + cb);
            if (j1 <= j0) continue;
            float *col = scratch + (size_t)omp_get_thread_num() * K * cb;
            const float *B = x + j0;
            int ldb = NP;
            if (!pw) { im2col_cols(c, n, h, w, x, j0, j1, col, j1 - j0); B = col; ldb = j1 - j0; }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->cout, j1 - j0, K, 1.0f, c->w, K, B, ldb,
                        0.0f, y + j0, NP);
            ep_block(ep, y, NP, 0, c->cout, j0, j1);
        }
        return;
    }
    /* few columns: the whole im2col matrix once, output channels split over the threads */
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), a, b;
        const float *B = x;
        if (!pw) {
            split(NP, nt, t, &a, &b);
            if (b > a) im2col_cols(c, n, h, w, x, a, b, scratch + a, NP);
            B = scratch;
#pragma omp barrier
        }
        split(c->cout, nt, t, &a, &b);
        if (b > a) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b - a, NP, K, 1.0f, c->w + (size_t)a * K, K, B, NP,
                        0.0f, y + (size_t)a * NP, NP);
            ep_block(ep, y, NP, a, b, 0, NP);
        }
    }
}

/* gx row (channel ci, image i, row iy) = sum of the im2col-gradient entries of its taps. */
static void col2im_gather_row(const adv_conv *c, int n, int h, int w, const float *col, int ci, int i, int iy,
                              float *out)
{
    const int k = c->k, s = c->stride, pad = c->pad;
    const int ho = adv_conv_out(h, k, s, pad), wo = adv_conv_out(w, k, s, pad);
    const size_t NP = (size_t)n * ho * wo;
    memset(out, 0, sizeof(float) * (size_t)w);
    for (int ky = 0; ky < k; ky++) {
        int ty = iy + pad - ky;
        if (ty < 0 || ty % s || ty / s >= ho) continue;
        for (int kx = 0; kx < k; kx++) {
            const float *src = col + (size_t)((ci * k + ky) * k + kx) * NP + (size_t)i * ho * wo + (size_t)(ty / s) * wo;
            for (int ix = 0; ix < w; ix++) {
                int tx = ix + pad - kx;
                if (tx >= 0 && tx % s == 0 && tx / s < wo) out[ix] += src[tx / s];
            }
        }
    }
}

static void direct_backward_input(const adv_conv *c, int n, int h, int w, const float *gy, float *gx,
                                  const adv_epilogue *ep, float *scratch, int nt)
{
    const int P = adv_conv_out(h, c->k, c->stride, c->pad) * adv_conv_out(w, c->k, c->stride, c->pad);
    const int NP = n * P, K = c->cin * c->k * c->k;
    if (is_pointwise(c)) {
        /* gx[cin][NP] = W^T gy, split over columns (or rows when there are few columns) */
        const int by_cols = NP >= 128 * nt || nt == 1;
        const int blocks = by_cols ? col_blocks(NP, nt) : nt;
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int b = 0; b < blocks; b++) {
            int j0 = 0, j1 = NP, r0 = 0, r1 = c->cin;
            if (by_cols) split(NP, blocks, b, &j0, &j1);
            else split(c->cin, blocks, b, &r0, &r1);
            if (j1 <= j0 || r1 <= r0) continue;
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1 - r0, j1 - j0, c->cout, 1.0f, c->w + r0, c->cin,
                        gy + j0, NP, 0.0f, gx + (size_t)r0 * NP + j0, NP);
            ep_block(ep, gx, NP, r0, r1, j0, j1);
        }
        return;
    }
    /* col[K][NP] = W^T gy (column blocks), then each input row gathers its taps */
    const int blocks = col_blocks(NP, nt);
    const size_t HW = (size_t)h * w;
#pragma omp parallel num_threads(nt)
    {
#pragma omp for schedule(static)
        for (int b = 0; b < blocks; b++) {
            int j0, j1;
            split(NP, blocks, b, &j0, &j1);
            if (j1 > j0)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, j1 - j0, c->cout, 1.0f, c->w, K, gy + j0, NP,
                            0.0f, scratch + j0, NP);
        }
#pragma omp for schedule(static)
        for (int r = 0; r < c->cin * n * h; r++) {
            int ci = r / (n * h), i = (r / h) % n, iy = r % h;
            float *out = gx + ((size_t)ci * n + i) * HW + (size_t)iy * w;
            col2im_gather_row(c, n, h, w, scratch, ci, i, iy, out);
            ep_row(ep, ci, out, (size_t)(out - gx), w);
        }
    }
}

/* Per-thread partial weight/bias gradients acc[t][cout*K + cout], summed in thread order. */
static void reduce_param_grads(const adv_conv *c, const float *acc, size_t stride, int nt)
{
    const size_t wsize = (size_t)c->cout * c->cin * c->k * c->k;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (size_t j = 0; j < wsize + (size_t)c->cout; j++) {
        float s = 0;
        for (int t = 0; t < nt; t++) s += acc[t * stride + j];
        if (j < wsize) c->gw[j] += s;
        else c->gb[j - wsize] += s;
    }
}

/* Row sums of gy's channels over columns [j0, j1) added to gb[cout]. */
static void bias_grad_cols(int cout, const float *gy, size_t ld, int j0, int j1, float *gb)
{
    for (int co = 0; co < cout; co++) {
        const float *row = gy + co * ld;
        float s = 0;
        for (int j = j0; j < j1; j++) s += row[j];
        gb[co] += s;
    }
}

static void direct_backward_params(const adv_conv *c, int n, int h, int w, const float *x, const float *gy,
                                   float *scratch, int nt)
{
    const int P = adv_conv_out(h, c->k, c->stride, c->pad) * adv_conv_out(w, c->k, c->stride, c->pad);
    const int NP = n * P, K = c->cin * c->k * c->k, pw = is_pointwise(c);
    const int blocks = col_blocks(NP, nt), cb = (NP + blocks - 1) / blocks;
    const size_t wsize = (size_t)c->cout * K, per = wsize + (size_t)c->cout + (size_t)K * cb;
#pragma omp parallel num_threads(nt)
    {
        float *acc = scratch + (size_t)omp_get_thread_num() * per, *col = acc + wsize + c->cout;
        memset(acc, 0, sizeof(float) * (wsize + (size_t)c->cout));
#pragma omp for schedule(static)
        for (int b = 0; b < blocks; b++) {
            int j0 = b * cb, j1 = imin(NP, j0 + cb);
            if (j1 <= j0) continue;
            const float *B = x + j0;
            int ldb = NP;
            if (!pw) { im2col_cols(c, n, h, w, x, j0, j1, col, j1 - j0); B = col; ldb = j1 - j0; }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->cout, K, j1 - j0, 1.0f, gy + j0, NP, B, ldb, 1.0f,
                        acc, K);
            bias_grad_cols(c->cout, gy, NP, j0, j1, acc + wsize);
        }
    }
    reduce_param_grads(c, scratch, per, nt);
}

static size_t direct_scratch(const adv_conv *c, int n, int h, int w, int nt)
{
    const int P = adv_conv_out(h, c->k, c->stride, c->pad) * adv_conv_out(w, c->k, c->stride, c->pad);
    const size_t NP = (size_t)n * P, K = (size_t)c->cin * c->k * c->k;
    const int blocks = col_blocks((int)NP, nt);
    const size_t cb = (NP + blocks - 1) / blocks;
    size_t fwd = (size_t)nt * K * cb, whole = K * NP;
    size_t params = (size_t)nt * ((size_t)c->cout * K + c->cout + K * cb);
    size_t s = fwd > whole ? fwd : whole;
    return s > params ? s : params;
}

/* ------------------------------------------------------------------------------------------ */
/* Winograd F(2x2, 3x3) */

#define WT 16   /* transformed tile size 4 x 4 */

/* U[xi][f] for the cout*cin kernels f = co*cin + ci: U = G g G^T, 8 kernels at a time. */
VEC_CLONES static void wino_weights_range(const float *restrict w, float *restrict U, size_t F, size_t f0, size_t f1)
{
    for (size_t f = f0; f < f1; f += 8) {
        const int m = f1 - f < 8 ? (int)(f1 - f) : 8;
        float g[9][8] = {{0}}, t[4][3][8], u[WT][8];
        for (int l = 0; l < m; l++)
            for (int e = 0; e < 9; e++) g[e][l] = w[(f + l) * 9 + e];
        for (int c = 0; c < 3; c++)
            for (int l = 0; l < 8; l++) {
                float g0 = g[c][l], g1 = g[3 + c][l], g2 = g[6 + c][l];
                t[0][c][l] = g0;
                t[1][c][l] = 0.5f * (g0 + g1 + g2);
                t[2][c][l] = 0.5f * (g0 - g1 + g2);
                t[3][c][l] = g2;
            }
        for (int r = 0; r < 4; r++)
            for (int l = 0; l < 8; l++) {
                float g0 = t[r][0][l], g1 = t[r][1][l], g2 = t[r][2][l];
                u[4 * r + 0][l] = g0;
                u[4 * r + 1][l] = 0.5f * (g0 + g1 + g2);
                u[4 * r + 2][l] = 0.5f * (g0 - g1 + g2);
                u[4 * r + 3][l] = g2;
            }
        for (int xi = 0; xi < WT; xi++)
            for (int l = 0; l < m; l++) U[xi * F + f + l] = u[xi][l];
    }
}

size_t adv_conv_winograd_size(const adv_conv *c) { return wino_shape(c) ? (size_t)WT * c->cout * c->cin : 0; }

void adv_conv_winograd_weights(const adv_conv *c, float *U, int nt)
{
    const size_t F = (size_t)c->cout * c->cin, blocks = (F + 255) / 256;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (size_t b = 0; b < blocks; b++) {
        size_t f1 = (b + 1) * 256 < F ? (b + 1) * 256 : F;
        wino_weights_range(c->w, U, F, b * 256, f1);
    }
}

/* One convolution problem in the Winograd domain: cin -> cout channels (for the input gradient,
 * the layer's cout -> cin with transposed, permuted U). */
typedef struct {
    int cin, cout, n, h, w, th, tw;
    const float *U;
    int transposed;   /* U stored [16][cin][cout] of this problem (the layer's), used as U^T */
} wino_job;

static const int wino_flip[WT] = {15, 13, 14, 12, 7, 5, 6, 4, 11, 9, 10, 8, 3, 1, 2, 0};

/* Four input rows around tile row ty of one plane, zero-padded: buf[k][1 + x] = x[2ty - 1 + k][x]. */
static void stage_rows(const float *plane, int h, int w, int ty, float *buf, int ldb)
{
    for (int k = 0; k < 4; k++) {
        float *b = buf + k * ldb;
        int iy = 2 * ty - 1 + k;
        if (iy < 0 || iy >= h) { memset(b, 0, sizeof(float) * (size_t)ldb); continue; }
        b[0] = 0;
        memcpy(b + 1, plane + (size_t)iy * w, sizeof(float) * (size_t)w);
        for (int x = w + 1; x < ldb; x++) b[x] = 0;
    }
}

/* V[xi][ci][j] for channels [c0, c1) and tile rows [r0, r1) (j = (r - r0) * tw + tx). */
VEC_CLONES static void wino_input(const wino_job *jb, const float *x, int r0, int r1, int c0, int c1, float *restrict V,
                                  float *buf)
{
    const int tw = jb->tw, ldb = 2 * tw + 2, nt = (r1 - r0) * tw;
    const size_t xs = (size_t)nt;
    for (int ci = c0; ci < c1; ci++)
        for (int r = r0; r < r1; r++) {
            int i = r / jb->th, ty = r % jb->th;
            stage_rows(x + ((size_t)ci * jb->n + i) * jb->h * jb->w, jb->h, jb->w, ty, buf, ldb);
            const float *restrict b0 = buf, *restrict b1 = buf + ldb, *restrict b2 = buf + 2 * ldb, *restrict b3 = buf + 3 * ldb;
            float *restrict v = V + (size_t)ci * WT * nt + (size_t)(r - r0) * tw;
            for (int tx = 0; tx < tw; tx++) {
                float d[4][4];
                for (int c = 0; c < 4; c++) {
                    /* rows: B^T d */
                    float x0 = b0[2 * tx + c], x1 = b1[2 * tx + c], x2 = b2[2 * tx + c], x3 = b3[2 * tx + c];
                    d[0][c] = x0 - x2;
                    d[1][c] = x1 + x2;
                    d[2][c] = x2 - x1;
                    d[3][c] = x1 - x3;
                }
                for (int r4 = 0; r4 < 4; r4++) {
                    /* columns: (B^T d) B */
                    v[(4 * r4 + 0) * xs + tx] = d[r4][0] - d[r4][2];
                    v[(4 * r4 + 1) * xs + tx] = d[r4][1] + d[r4][2];
                    v[(4 * r4 + 2) * xs + tx] = d[r4][2] - d[r4][1];
                    v[(4 * r4 + 3) * xs + tx] = d[r4][1] - d[r4][3];
                }
            }
        }
}

/* Y = A^T M A for channels [o0, o1), tile rows [r0, r1), with the epilogue. */
VEC_CLONES static void wino_output(const wino_job *jb, const float *restrict M, int r0, int r1, int o0, int o1,
                                   float *y, const adv_epilogue *ep, float *buf)
{
    const int tw = jb->tw, nt = (r1 - r0) * tw, w = jb->w, h = jb->h, ldb = 2 * tw;
    const size_t ms = (size_t)nt;
    float *restrict y0 = buf, *restrict y1 = buf + ldb;
    for (int co = o0; co < o1; co++)
        for (int r = r0; r < r1; r++) {
            int i = r / jb->th, ty = r % jb->th;
            const float *restrict m = M + (size_t)co * WT * nt + (size_t)(r - r0) * tw;
            for (int tx = 0; tx < tw; tx++) {
                float t[2][4];
                for (int c = 0; c < 4; c++) {
                    float m0 = m[(0 + c) * ms + tx], m1 = m[(4 + c) * ms + tx], m2 = m[(8 + c) * ms + tx],
                          m3 = m[(12 + c) * ms + tx];
                    t[0][c] = m0 + m1 + m2;
                    t[1][c] = m1 - m2 - m3;
                }
                y0[2 * tx] = t[0][0] + t[0][1] + t[0][2];
                y0[2 * tx + 1] = t[0][1] - t[0][2] - t[0][3];
                y1[2 * tx] = t[1][0] + t[1][1] + t[1][2];
                y1[2 * tx + 1] = t[1][1] - t[1][2] - t[1][3];
            }
            size_t off = (((size_t)co * jb->n + i) * h + 2 * ty) * w;
            ep_row(ep, co, y0, off, w);
            memcpy(y + off, y0, sizeof(float) * (size_t)w);
            if (2 * ty + 1 < h) {
                ep_row(ep, co, y1, off + w, w);
                memcpy(y + off + w, y1, sizeof(float) * (size_t)w);
            }
        }
}

/* M_xi rows [o0, o1) = U_xi V_xi for one block of nt tiles. */
static void wino_gemms(const wino_job *jb, const float *V, float *M, int nt, int o0, int o1)
{
    const size_t F = (size_t)jb->cin * jb->cout;
    const int ld = WT * nt;
    for (int xi = 0; xi < WT; xi++) {
        const float *Vx = V + (size_t)xi * nt;
        float *Mx = M + (size_t)xi * nt + (size_t)o0 * ld;
        if (!jb->transposed)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, o1 - o0, nt, jb->cin, 1.0f,
                        jb->U + xi * F + (size_t)o0 * jb->cin, jb->cin, Vx, ld, 0.0f, Mx, ld);
        else
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, o1 - o0, nt, jb->cin, 1.0f,
                        jb->U + wino_flip[xi] * F + o0, jb->cout, Vx, ld, 0.0f, Mx, ld);
    }
}

/* Tile rows per block: about 64K / max(cin, cout) tiles (V and M of a block stay in L2/L3),
 * the number of blocks a multiple of the thread count. */
static int wino_block_rows(const wino_job *jb, int threads)
{
    const int R = jb->n * jb->th, per = imax(64, 65536 / imax(jb->cin, jb->cout));
    int blocks = (R * jb->tw + per - 1) / per;
    blocks = (blocks + threads - 1) / threads * threads;
    return imax(1, (R + blocks - 1) / blocks);
}

static size_t wino_block_floats(const wino_job *jb, int rows)
{
    return (size_t)WT * (jb->cin + jb->cout) * rows * jb->tw + 4 * (size_t)(2 * jb->tw + 2);
}

/* Few tiles (deep layers of one clip) if fewer than 48 per thread: one block, all threads on it. */
static int wino_cooperative(const wino_job *jb, int threads)
{
    return threads > 1 && jb->n * jb->th * jb->tw < 48 * threads;
}

static void wino_run(const wino_job *jb, const float *x, float *y, const adv_epilogue *ep, float *scratch, int nt)
{
    const int R = jb->n * jb->th;
    if (!wino_cooperative(jb, nt)) {
        const int rows = wino_block_rows(jb, nt), blocks = (R + rows - 1) / rows;
        const size_t per = wino_block_floats(jb, rows);
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int b = 0; b < blocks; b++) {
            int r0 = b * rows, r1 = imin(R, r0 + rows), tiles = (r1 - r0) * jb->tw;
            float *V = scratch + (size_t)omp_get_thread_num() * per, *M = V + (size_t)WT * jb->cin * tiles;
            float *buf = M + (size_t)WT * jb->cout * tiles;
            wino_input(jb, x, r0, r1, 0, jb->cin, V, buf);
            wino_gemms(jb, V, M, tiles, 0, jb->cout);
            wino_output(jb, M, r0, r1, 0, jb->cout, y, ep, buf);
        }
        return;
    }
    const int tiles = R * jb->tw;
    float *V = scratch, *M = V + (size_t)WT * jb->cin * tiles, *bufs = M + (size_t)WT * jb->cout * tiles;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), a, b;
        float *buf = bufs + (size_t)t * 4 * (2 * jb->tw + 2);
        split(jb->cin, nt, t, &a, &b);
        wino_input(jb, x, 0, R, a, b, V, buf);
#pragma omp barrier
        split(jb->cout, nt, t, &a, &b);
        if (b > a) {
            wino_gemms(jb, V, M, tiles, a, b);
            wino_output(jb, M, 0, R, a, b, y, ep, buf);
        }
    }
}

static size_t wino_scratch(const adv_conv *c, int n, int h, int w, int nt)
{
    wino_job jb = {c->cin, c->cout, n, h, w, (h + 1) / 2, (w + 1) / 2, NULL, 0};
    size_t per = wino_block_floats(&jb, wino_block_rows(&jb, nt)) * (size_t)nt;
    size_t coop = wino_block_floats(&jb, n * jb.th) + (size_t)nt * 4 * (2 * jb.tw + 2);
    /* weight gradient: per thread V, gM of a block and a 16 x cout x cin accumulator */
    size_t params = (size_t)nt * (wino_block_floats(&jb, wino_block_rows(&jb, nt)) + (size_t)WT * c->cin * c->cout);
    size_t s = per > coop ? per : coop;
    return s > params ? s : params;
}

/* gM = A gY A^T of tile rows [r0, r1) for every output channel (zero beyond the image). */
VEC_CLONES static void wino_output_adjoint(const wino_job *jb, const float *gy, int r0, int r1, float *restrict gM)
{
    const int tw = jb->tw, nt = (r1 - r0) * tw, w = jb->w, h = jb->h;
    const size_t ms = (size_t)nt;
    for (int co = 0; co < jb->cout; co++)
        for (int r = r0; r < r1; r++) {
            int i = r / jb->th, ty = r % jb->th;
            const float *g0 = gy + (((size_t)co * jb->n + i) * h + 2 * ty) * w;
            const float *g1 = 2 * ty + 1 < h ? g0 + w : NULL;
            float *restrict m = gM + (size_t)co * WT * nt + (size_t)(r - r0) * tw;
            for (int tx = 0; tx < tw; tx++) {
                int x1 = 2 * tx + 1 < w;
                float y00 = g0[2 * tx], y01 = x1 ? g0[2 * tx + 1] : 0.0f;
                float y10 = g1 ? g1[2 * tx] : 0.0f, y11 = g1 && x1 ? g1[2 * tx + 1] : 0.0f;
                /* rows of A gY: (y0, y0 + y1, y0 - y1, -y1), then the same on columns */
                float a[4][2] = {{y00, y01}, {y00 + y10, y01 + y11}, {y00 - y10, y01 - y11}, {-y10, -y11}};
                for (int r4 = 0; r4 < 4; r4++) {
                    m[(4 * r4 + 0) * ms + tx] = a[r4][0];
                    m[(4 * r4 + 1) * ms + tx] = a[r4][0] + a[r4][1];
                    m[(4 * r4 + 2) * ms + tx] = a[r4][0] - a[r4][1];
                    m[(4 * r4 + 3) * ms + tx] = -a[r4][1];
                }
            }
        }
}

/* gw[f] += G^T gU_f G for kernels [f0, f1) (gU[xi][f]). */
static void wino_weights_adjoint(const float *gU, size_t F, size_t f0, size_t f1, float *gw)
{
    for (size_t f = f0; f < f1; f++) {
        float u[4][4], t[3][4];
        for (int xi = 0; xi < WT; xi++) u[xi / 4][xi % 4] = gU[xi * F + f];
        for (int c = 0; c < 4; c++) {
            t[0][c] = u[0][c] + 0.5f * (u[1][c] + u[2][c]);
            t[1][c] = 0.5f * (u[1][c] - u[2][c]);
            t[2][c] = u[3][c] + 0.5f * (u[1][c] + u[2][c]);
        }
        for (int r = 0; r < 3; r++) {
            gw[f * 9 + r * 3 + 0] += t[r][0] + 0.5f * (t[r][1] + t[r][2]);
            gw[f * 9 + r * 3 + 1] += 0.5f * (t[r][1] - t[r][2]);
            gw[f * 9 + r * 3 + 2] += t[r][3] + 0.5f * (t[r][1] + t[r][2]);
        }
    }
}

static void wino_backward_params(const adv_conv *c, int n, int h, int w, const float *x, const float *gy,
                                 float *scratch, int nt)
{
    const wino_job jb = {c->cin, c->cout, n, h, w, (h + 1) / 2, (w + 1) / 2, NULL, 0};
    const int R = n * jb.th, rows = wino_block_rows(&jb, nt), blocks = (R + rows - 1) / rows;
    const size_t F = (size_t)c->cin * c->cout, blk = wino_block_floats(&jb, rows), per = blk + WT * F;
    const size_t NP = (size_t)n * h * w;
#pragma omp parallel num_threads(nt)
    {
        float *V = scratch + (size_t)omp_get_thread_num() * per, *acc = V + blk;
        memset(acc, 0, sizeof(float) * WT * F);
#pragma omp for schedule(static)
        for (int b = 0; b < blocks; b++) {
            int r0 = b * rows, r1 = imin(R, r0 + rows), tiles = (r1 - r0) * jb.tw;
            float *gM = V + (size_t)WT * c->cin * tiles, *buf = gM + (size_t)WT * c->cout * tiles;
            wino_input(&jb, x, r0, r1, 0, c->cin, V, buf);
            wino_output_adjoint(&jb, gy, r0, r1, gM);
            for (int xi = 0; xi < WT; xi++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->cout, c->cin, tiles, 1.0f,
                            gM + (size_t)xi * tiles, WT * tiles, V + (size_t)xi * tiles, WT * tiles, 1.0f,
                            acc + xi * F, c->cin);
        }
        /* sum the threads' accumulators in thread order into thread 0's, by slices */
#pragma omp barrier
#pragma omp for schedule(static)
        for (size_t e = 0; e < WT * F; e++) {
            float s = scratch[blk + e];
            for (int t = 1; t < nt; t++) s += scratch[t * per + blk + e];
            scratch[blk + e] = s;
        }
#pragma omp for schedule(static)
        for (size_t f0 = 0; f0 < F; f0 += 64) wino_weights_adjoint(scratch + blk, F, f0, f0 + 64 < F ? f0 + 64 : F, c->gw);
#pragma omp for schedule(static)
        for (int co = 0; co < c->cout; co++) {
            float s = 0;
            const float *g = gy + co * NP;
            for (size_t j = 0; j < NP; j++) s += g[j];
            c->gb[co] += s;
        }
    }
}

/* ------------------------------------------------------------------------------------------ */

size_t adv_conv_scratch(const adv_conv *c, int n, int h, int w, int threads)
{
    if (threads < 1) threads = 1;
    size_t s = direct_scratch(c, n, h, w, threads);
    if (wino_shape(c)) {
        size_t ws = wino_scratch(c, n, h, w, threads) + (size_t)WT * c->cin * c->cout;
        if (ws > s) s = ws;
    }
    return s;
}

/* Without prepared weights: transform them into the end of the scratch. */
static const float *prepare(const adv_conv *c, int n, int h, int w, float *scratch, int threads)
{
    if (!is_winograd(c)) return NULL;
    float *U = scratch + wino_scratch(c, n, h, w, threads);
    adv_conv_winograd_weights(c, U, threads);
    return U;
}

void adv_conv_forward_prepared(const adv_conv *c, const float *U, int n, int h, int w, const float *x, float *y,
                               const adv_epilogue *ep, float *scratch, int threads)
{
    adv_epilogue bias_only = {0};
    if (!ep) { bias_only.bias = c->b; ep = &bias_only; }
    if (!is_winograd(c)) { direct_forward(c, n, h, w, x, y, ep, scratch, threads); return; }
    if (!U) U = prepare(c, n, h, w, scratch, threads);
    wino_job jb = {c->cin, c->cout, n, h, w, (h + 1) / 2, (w + 1) / 2, U, 0};
    wino_run(&jb, x, y, ep, scratch, threads);
}

void adv_conv_backward_input_prepared(const adv_conv *c, const float *U, int n, int h, int w, const float *gy,
                                      float *gx, const adv_epilogue *ep, float *scratch, int threads)
{
    adv_epilogue e = ep ? *ep : (adv_epilogue){0};
    e.bias = NULL;
    e.relu = 0;
    e.act = NULL;
    if (!is_winograd(c)) { direct_backward_input(c, n, h, w, gy, gx, &e, scratch, threads); return; }
    if (!U) U = prepare(c, n, h, w, scratch, threads);
    wino_job jb = {c->cout, c->cin, n, h, w, (h + 1) / 2, (w + 1) / 2, U, 1};
    wino_run(&jb, gy, gx, &e, scratch, threads);
}

void adv_conv_forward(const adv_conv *c, int n, int h, int w, const float *x, float *y, const adv_epilogue *ep,
                      float *scratch, int threads)
{
    adv_conv_forward_prepared(c, NULL, n, h, w, x, y, ep, scratch, threads);
}

void adv_conv_backward_input(const adv_conv *c, int n, int h, int w, const float *gy, float *gx,
                             const adv_epilogue *ep, float *scratch, int threads)
{
    adv_conv_backward_input_prepared(c, NULL, n, h, w, gy, gx, ep, scratch, threads);
}

void adv_conv_backward_params(const adv_conv *c, int n, int h, int w, const float *x, const float *gy,
                              float *scratch, int threads)
{
    if (is_winograd(c)) wino_backward_params(c, n, h, w, x, gy, scratch, threads);
    else direct_backward_params(c, n, h, w, x, gy, scratch, threads);
}

void adv_conv_backward(const adv_conv *c, int n, int h, int w, const float *x, const float *gy, float *gx,
                       int want_param_grads, float *scratch, int threads)
{
    if (want_param_grads) adv_conv_backward_params(c, n, h, w, x, gy, scratch, threads);
    if (gx) adv_conv_backward_input(c, n, h, w, gy, gx, NULL, scratch, threads);
}
