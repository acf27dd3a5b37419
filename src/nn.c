/* Layers of the paper's CNN: forward and backward of each side by side. NCHW float tensors. */
#include "advinst/nn.h"
#include <cblas.h>
#include <omp.h>
#include <math.h>
#include <string.h>
#include <stdlib.h>

/* ------------------------------------------------------------------------------------------ */
/* Convolution: y[co][p] = b[co] + sum_{ci,ky,kx} w[co][ci][ky][kx] * x[ci][oy*s+ky-pad][ox*s+kx-pad]
 * as one sgemm per image: W (cout x K) times the im2col matrix (K x HoWo), K = cin*k*k. */

static int conv_is_pointwise(const adv_conv *c) { return c->k == 1 && c->stride == 1 && c->pad == 0; }

/* Threads of the convolutions: OpenMP's; sgemm itself runs single-threaded inside (see blas.h). */
static int conv_threads(void) { return omp_get_max_threads(); }
static int conv_col_block = 1 << 30;
__attribute__((constructor)) static void read_block(void) { const char *e = getenv("CB"); if (e) conv_col_block = atoi(e); }

/* Per-thread scratch: the im2col matrix of one image (K x P) and a weight-gradient accumulator. */
static size_t conv_thread_scratch(const adv_conv *c, int h, int w)
{
    int ho = adv_conv_out(h, c->k, c->stride, c->pad), wo = adv_conv_out(w, c->k, c->stride, c->pad);
    size_t K = (size_t)c->cin * c->k * c->k, P = (size_t)ho * wo;
    return K * P + (size_t)c->cout * K + (size_t)c->cout;
}

size_t adv_conv_scratch(const adv_conv *c, int h, int w)
{
    return (size_t)conv_threads() * conv_thread_scratch(c, h, w);
}

/* Columns [p0, p1) of the im2col matrix: col[r][p - p0] (row stride ld) for r = (ci*k + ky)*k + kx,
 * p = oy*wo + ox, holding x[ci][oy*s + ky - pad][ox*s + kx - pad] (0 outside the image). */
static void im2col_range(const adv_conv *c, int h, int w, const float *x, int p0, int p1, float *col, int ld)
{
    const int k = c->k, s = c->stride, pad = c->pad;
    const int wo = adv_conv_out(w, k, s, pad);
    for (int ci = 0; ci < c->cin; ci++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float *dst = col + (size_t)((ci * k + ky) * k + kx) * ld - p0;
                for (int p = p0; p < p1;) {
                    int oy = p / wo, ox0 = p % wo;
                    int ox1 = wo < ox0 + (p1 - p) ? wo : ox0 + (p1 - p);
                    int iy = oy * s + ky - pad;
                    float *row = dst + (size_t)oy * wo;
                    if (iy < 0 || iy >= h) {
                        memset(row + ox0, 0, sizeof(float) * (size_t)(ox1 - ox0));
                    } else {
                        const float *src = x + ((size_t)ci * h + iy) * w;
                        if (s == 1) {
                            /* contiguous: ox in [lo, hi) reads ix = ox + kx - pad inside [0, w) */
                            int lo = pad - kx > ox0 ? pad - kx : ox0;
                            int hi = w + pad - kx < ox1 ? w + pad - kx : ox1;
                            if (hi < lo) hi = lo;
                            for (int ox = ox0; ox < lo; ox++) row[ox] = 0;
                            if (hi > lo) memcpy(row + lo, src + lo + kx - pad, sizeof(float) * (size_t)(hi - lo));
                            for (int ox = hi; ox < ox1; ox++) row[ox] = 0;
                        } else {
                            for (int ox = ox0; ox < ox1; ox++) {
                                int ix = ox * s + kx - pad;
                                row[ox] = (ix >= 0 && ix < w) ? src[ix] : 0.0f;
                            }
                        }
                    }
                    p += ox1 - ox0;
                }
            }
}

/* Adjoint of im2col for input channels [ci0, ci1): gx[ci] += col rows of ci (gx zeroed by the
 * caller); col holds rows (ci - ci0)*k*k ... with row stride P. */
static void col2im_channels(const adv_conv *c, int h, int w, const float *col, int ci0, int ci1, float *gx)
{
    const int k = c->k, s = c->stride, pad = c->pad;
    const int ho = adv_conv_out(h, k, s, pad), wo = adv_conv_out(w, k, s, pad);
    for (int ci = ci0; ci < ci1; ci++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                const float *srcc = col + ((size_t)((ci - ci0) * k + ky) * k + kx) * ho * wo;
                for (int oy = 0; oy < ho; oy++) {
                    int iy = oy * s + ky - pad;
                    if (iy < 0 || iy >= h) continue;
                    const float *row = srcc + (size_t)oy * wo;
                    float *dst = gx + ((size_t)ci * h + iy) * w;
                    if (s == 1) {
                        int lo = pad - kx > 0 ? pad - kx : 0;
                        int hi = w + pad - kx < wo ? w + pad - kx : wo;
                        float *d = dst + kx - pad;
                        for (int ox = lo; ox < hi; ox++) d[ox] += row[ox];
                    } else {
                        for (int ox = 0; ox < wo; ox++) {
                            int ix = ox * s + kx - pad;
                            if (ix >= 0 && ix < w) dst[ix] += row[ox];
                        }
                    }
                }
            }
}

/* y[:, p0:p1] = b + W col for columns [p0, p1) of one image. */
static void conv_forward_block(const adv_conv *c, int h, int w, const float *xi, float *yi, int p0, int p1, int P,
                               float *scratch)
{
    const int K = c->cin * c->k * c->k, wb = p1 - p0;
    if (wb <= 0) return;
    const float *col;
    int ldb;
    if (conv_is_pointwise(c)) { col = xi + p0; ldb = P; }
    else { im2col_range(c, h, w, xi, p0, p1, scratch, wb); col = scratch; ldb = wb; }
    for (int co = 0; co < c->cout; co++) {
        float *row = yi + (size_t)co * P + p0;
        for (int p = 0; p < wb; p++) row[p] = c->b[co];
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->cout, wb, K, 1.0f, c->w, K, col, ldb, 1.0f, yi + p0, P);
}

/* Parallel over images when there are enough of them, else over column blocks of each image. */
void adv_conv_forward(const adv_conv *c, int n, int h, int w, const float *x, float *y, float *scratch)
{
    const int ho = adv_conv_out(h, c->k, c->stride, c->pad), wo = adv_conv_out(w, c->k, c->stride, c->pad);
    const int P = ho * wo, nt = conv_threads();
    const size_t per_thread = conv_thread_scratch(c, h, w);
    const size_t xs = (size_t)c->cin * h * w, ys = (size_t)c->cout * P;
    if (n >= nt || nt == 1) {
#pragma omp parallel for schedule(static)
        for (int i = 0; i < n; i++)
            for (int p0 = 0; p0 < P; p0 += conv_col_block)
                conv_forward_block(c, h, w, x + i * xs, y + i * ys, p0, p0 + conv_col_block < P ? p0 + conv_col_block : P, P,
                                   scratch + (size_t)omp_get_thread_num() * per_thread);
    } else {
        for (int i = 0; i < n; i++) {
#pragma omp parallel for schedule(static)
            for (int b = 0; b < nt; b++) {
                int p0 = (int)((long)P * b / nt), p1 = (int)((long)P * (b + 1) / nt);
                conv_forward_block(c, h, w, x + i * xs, y + i * ys, p0, p1, P, scratch + (size_t)omp_get_thread_num() * per_thread);
            }
        }
    }
}

/* gx rows of input channels [ci0, ci1) of one image: W^T rows times gY, then col2im. */
static void conv_input_grad_block(const adv_conv *c, int h, int w, const float *gyi, float *gxi, int ci0, int ci1,
                                  int P, float *scratch)
{
    const int kk = c->k * c->k, K = c->cin * kk, rows = (ci1 - ci0) * kk;
    if (rows <= 0) return;
    if (conv_is_pointwise(c)) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, rows, P, c->cout, 1.0f, c->w + ci0, K, gyi, P, 0.0f,
                    gxi + (size_t)ci0 * P, P);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, rows, P, c->cout, 1.0f, c->w + (size_t)ci0 * kk, K, gyi, P, 0.0f,
                scratch, P);
    memset(gxi + (size_t)ci0 * h * w, 0, sizeof(float) * (size_t)(ci1 - ci0) * h * w);
    col2im_channels(c, h, w, scratch, ci0, ci1, gxi);
}

void adv_conv_backward(const adv_conv *c, int n, int h, int w, const float *x, const float *gy,
                       float *gx, int want_param_grads, float *scratch)
{
    const int ho = adv_conv_out(h, c->k, c->stride, c->pad), wo = adv_conv_out(w, c->k, c->stride, c->pad);
    const int K = c->cin * c->k * c->k, P = ho * wo, nt = conv_threads();
    const size_t per_thread = conv_thread_scratch(c, h, w), colsize = (size_t)K * P;
    const size_t xs = (size_t)c->cin * h * w, ys = (size_t)c->cout * P, wsize = (size_t)c->cout * K;
    const int pointwise = conv_is_pointwise(c);

    if (want_param_grads) {
        /* each thread accumulates its images' weight gradients privately; the partial sums are
         * then added in thread order, so results depend only on the thread count */
#pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num();
            float *col = scratch + (size_t)t * per_thread, *acc = col + colsize;
            memset(acc, 0, sizeof(float) * (wsize + (size_t)c->cout));
#pragma omp for schedule(static)
            for (int i = 0; i < n; i++) {
                const float *xi = x + i * xs, *gyi = gy + i * ys;
                const float *cm = xi;
                if (!pointwise) { im2col_range(c, h, w, xi, 0, P, col, P); cm = col; }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->cout, K, P, 1.0f, gyi, P, cm, P, 1.0f, acc, K);
                for (int co = 0; co < c->cout; co++) {
                    const float *row = gyi + (size_t)co * P;
                    float s = 0;
                    for (int p = 0; p < P; p++) s += row[p];
                    acc[wsize + co] += s;
                }
            }
        }
        for (int t = 0; t < nt; t++) {
            const float *acc = scratch + (size_t)t * per_thread + colsize;
            for (size_t j = 0; j < wsize; j++) c->gw[j] += acc[j];
            for (int co = 0; co < c->cout; co++) c->gb[co] += acc[wsize + co];
        }
    }
    if (!gx) return;
    if (n >= nt || nt == 1) {
#pragma omp parallel for schedule(static)
        for (int i = 0; i < n; i++)
            conv_input_grad_block(c, h, w, gy + i * ys, gx + i * xs, 0, c->cin, P, scratch + (size_t)omp_get_thread_num() * per_thread);
    } else {
        for (int i = 0; i < n; i++) {
            int blocks = nt < c->cin ? nt : c->cin;
#pragma omp parallel for schedule(static)
            for (int b = 0; b < blocks; b++) {
                int ci0 = c->cin * b / blocks, ci1 = c->cin * (b + 1) / blocks;
                conv_input_grad_block(c, h, w, gy + i * ys, gx + i * xs, ci0, ci1, P, scratch + (size_t)omp_get_thread_num() * per_thread);
            }
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
void adv_relu_forward(size_t count, const float *x, float *y)
{
    for (size_t i = 0; i < count; i++) y[i] = x[i] > 0 ? x[i] : 0.0f;
}

void adv_relu_backward(size_t count, const float *y, const float *gy, float *gx)
{
    for (size_t i = 0; i < count; i++) gx[i] = y[i] > 0 ? gy[i] : 0.0f;
}

/* ------------------------------------------------------------------------------------------ */
#define BN_EPS 1e-5
#define BN_MOMENTUM 0.1

void adv_bn_forward(adv_bn *bn, int n, int hw, const float *x, float *y, int training)
{
    const int C = bn->c;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        double mean, var;
        if (training) {
            double s = 0, ss = 0;
            for (int i = 0; i < n; i++) {
                const float *xc = x + ((size_t)i * C + c) * hw;
                for (int p = 0; p < hw; p++) s += xc[p];
            }
            const double count = (double)n * hw;
            mean = s / count;
            for (int i = 0; i < n; i++) {
                const float *xc = x + ((size_t)i * C + c) * hw;
                for (int p = 0; p < hw; p++) { double d = xc[p] - mean; ss += d * d; }
            }
            var = ss / count;
            bn->save_mean[c] = (float)mean;
            bn->save_invstd[c] = (float)(1.0 / sqrt(var + BN_EPS));
            double unbiased = count > 1 ? ss / (count - 1) : var;
            bn->running_mean[c] = (float)((1 - BN_MOMENTUM) * bn->running_mean[c] + BN_MOMENTUM * mean);
            bn->running_var[c] = (float)((1 - BN_MOMENTUM) * bn->running_var[c] + BN_MOMENTUM * unbiased);
        } else {
            mean = bn->running_mean[c];
            var = bn->running_var[c];
        }
        const float scale = (float)(bn->gamma[c] / sqrt(var + BN_EPS));
        const float shift = (float)(bn->beta[c] - mean * scale);
        for (int i = 0; i < n; i++) {
            const float *xc = x + ((size_t)i * C + c) * hw;
            float *yc = y + ((size_t)i * C + c) * hw;
            for (int p = 0; p < hw; p++) yc[p] = xc[p] * scale + shift;
        }
    }
    if (training) bn->num_batches_tracked++;
}

void adv_bn_backward(adv_bn *bn, int n, int hw, const float *x, const float *gy, float *gx,
                     int training, int want_param_grads)
{
    const int C = bn->c;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        const float mean = training ? bn->save_mean[c] : bn->running_mean[c];
        const float invstd = training ? bn->save_invstd[c] : (float)(1.0 / sqrt(bn->running_var[c] + BN_EPS));
        if (!training && !want_param_grads) {
            /* evaluation mode, input gradient only: a per-channel scale */
            if (!gx) continue;
            const float g = bn->gamma[c] * invstd;
            for (int i = 0; i < n; i++) {
                const float *gc = gy + ((size_t)i * C + c) * hw;
                float *dc = gx + ((size_t)i * C + c) * hw;
                for (int p = 0; p < hw; p++) dc[p] = g * gc[p];
            }
            continue;
        }
        double sum_gy = 0, sum_gy_xhat = 0;
        for (int i = 0; i < n; i++) {
            const float *xc = x + ((size_t)i * C + c) * hw;
            const float *gc = gy + ((size_t)i * C + c) * hw;
            for (int p = 0; p < hw; p++) {
                sum_gy += gc[p];
                sum_gy_xhat += gc[p] * (xc[p] - mean) * invstd;
            }
        }
        if (want_param_grads) {
            bn->gbeta[c] += (float)sum_gy;
            bn->ggamma[c] += (float)sum_gy_xhat;
        }
        if (!gx) continue;
        const float g = bn->gamma[c] * invstd;
        if (training) {
            /* gx = gamma * invstd * (gy - mean(gy) - xhat * mean(gy * xhat)) */
            const double count = (double)n * hw;
            const float mgy = (float)(sum_gy / count), mgx = (float)(sum_gy_xhat / count);
            for (int i = 0; i < n; i++) {
                const float *xc = x + ((size_t)i * C + c) * hw;
                const float *gc = gy + ((size_t)i * C + c) * hw;
                float *dc = gx + ((size_t)i * C + c) * hw;
                for (int p = 0; p < hw; p++) dc[p] = g * (gc[p] - mgy - (xc[p] - mean) * invstd * mgx);
            }
        } else {
            for (int i = 0; i < n; i++) {
                const float *gc = gy + ((size_t)i * C + c) * hw;
                float *dc = gx + ((size_t)i * C + c) * hw;
                for (int p = 0; p < hw; p++) dc[p] = g * gc[p];
            }
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
void adv_avgpool_forward(int nc, int h, int w, int kh, int kw, const float *x, float *y)
{
    const int ho = h / kh, wo = w / kw;
    const float inv = 1.0f / (float)(kh * kw);
    for (int c = 0; c < nc; c++) {
        const float *xc = x + (size_t)c * h * w;
        float *yc = y + (size_t)c * ho * wo;
        for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++) {
                float s = 0;
                for (int dy = 0; dy < kh; dy++)
                    for (int dx = 0; dx < kw; dx++) s += xc[(size_t)(oy * kh + dy) * w + ox * kw + dx];
                yc[oy * wo + ox] = s * inv;
            }
    }
}

void adv_avgpool_backward(int nc, int h, int w, int kh, int kw, const float *gy, float *gx)
{
    const int ho = h / kh, wo = w / kw;
    const float inv = 1.0f / (float)(kh * kw);
    memset(gx, 0, sizeof(float) * (size_t)nc * h * w);
    for (int c = 0; c < nc; c++) {
        const float *gc = gy + (size_t)c * ho * wo;
        float *dc = gx + (size_t)c * h * w;
        for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++) {
                float g = gc[oy * wo + ox] * inv;
                for (int dy = 0; dy < kh; dy++)
                    for (int dx = 0; dx < kw; dx++) dc[(size_t)(oy * kh + dy) * w + ox * kw + dx] = g;
            }
    }
}

/* ------------------------------------------------------------------------------------------ */
void adv_dropout_forward(size_t count, float p, uint64_t *rng, const float *x, float *y, float *mask)
{
    const float keep = 1.0f / (1.0f - p);
    for (size_t i = 0; i < count; i++) {
        mask[i] = adv_rng_uniform(rng) >= p ? keep : 0.0f;
        y[i] = x[i] * mask[i];
    }
}

void adv_dropout_backward(size_t count, const float *mask, const float *gy, float *gx)
{
    for (size_t i = 0; i < count; i++) gx[i] = gy[i] * mask[i];
}

/* ------------------------------------------------------------------------------------------ */
void adv_head_forward(int n, int c, int h, int w, const float *x, float *y, int *argmax)
{
    for (int i = 0; i < n * c; i++) {
        const float *xc = x + (size_t)i * h * w;
        float best = -INFINITY;
        int best_t = 0;
        for (int t = 0; t < w; t++) {
            float s = 0;
            for (int f = 0; f < h; f++) s += xc[f * w + t];
            s /= (float)h;
            if (s > best || t == 0) { best = s; best_t = t; }
        }
        y[i] = best;
        argmax[i] = best_t;
    }
}

void adv_head_backward(int n, int c, int h, int w, const int *argmax, const float *gy, float *gx)
{
    memset(gx, 0, sizeof(float) * (size_t)n * c * h * w);
    for (int i = 0; i < n * c; i++) {
        float *gc = gx + (size_t)i * h * w;
        float g = gy[i] / (float)h;
        for (int f = 0; f < h; f++) gc[f * w + argmax[i]] = g;
    }
}

/* ------------------------------------------------------------------------------------------ */
void adv_softmax(int k, const float *logits, float *probs)
{
    float mx = logits[0];
    for (int j = 1; j < k; j++) if (logits[j] > mx) mx = logits[j];
    double s = 0;
    for (int j = 0; j < k; j++) { probs[j] = expf(logits[j] - mx); s += probs[j]; }
    for (int j = 0; j < k; j++) probs[j] = (float)(probs[j] / s);
}

float adv_cross_entropy(int n, int k, const float *logits, const int *labels, float *glogits)
{
    double loss = 0;
    float probs[256];
    for (int i = 0; i < n; i++) {
        const float *l = logits + (size_t)i * k;
        adv_softmax(k, l, probs);
        float mx = l[0];
        for (int j = 1; j < k; j++) if (l[j] > mx) mx = l[j];
        double lse = 0;
        for (int j = 0; j < k; j++) lse += exp((double)l[j] - mx);
        loss += log(lse) + mx - l[labels[i]];
        if (glogits)
            for (int j = 0; j < k; j++)
                glogits[(size_t)i * k + j] = (probs[j] - (j == labels[i] ? 1.0f : 0.0f)) / (float)n;
    }
    return (float)(loss / n);
}
