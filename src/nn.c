/* Layers of the paper's CNN: forward and backward of each side by side. NCHW float tensors. */
#include "advinst/nn.h"
#include <cblas.h>
#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* Convolution: y[co][p] = b[co] + sum_{ci,ky,kx} w[co][ci][ky][kx] * x[ci][oy*s+ky-pad][ox*s+kx-pad]
 * as one sgemm per image: W (cout x K) times the im2col matrix (K x HoWo), K = cin*k*k. */

static int conv_is_pointwise(const adv_conv *c) { return c->k == 1 && c->stride == 1 && c->pad == 0; }

size_t adv_conv_scratch(const adv_conv *c, int h, int w)
{
    if (conv_is_pointwise(c)) return 1;
    int ho = adv_conv_out(h, c->k, c->stride, c->pad), wo = adv_conv_out(w, c->k, c->stride, c->pad);
    return (size_t)c->cin * c->k * c->k * (size_t)ho * wo;
}

/* col[(ci*k + ky)*k + kx][oy*wo + ox] = x[ci][oy*s + ky - pad][ox*s + kx - pad] (0 outside). */
static void im2col(const adv_conv *c, int h, int w, const float *x, float *col)
{
    const int k = c->k, s = c->stride, pad = c->pad;
    const int ho = adv_conv_out(h, k, s, pad), wo = adv_conv_out(w, k, s, pad);
    for (int ci = 0; ci < c->cin; ci++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float *dst = col + ((size_t)(ci * k + ky) * k + kx) * ho * wo;
                for (int oy = 0; oy < ho; oy++) {
                    int iy = oy * s + ky - pad;
                    float *row = dst + (size_t)oy * wo;
                    if (iy < 0 || iy >= h) { memset(row, 0, sizeof(float) * (size_t)wo); continue; }
                    const float *src = x + ((size_t)ci * h + iy) * w;
                    if (s == 1) {
                        /* contiguous run: ox in [lo, hi) maps to ix = ox + kx - pad inside [0, w) */
                        int lo = pad - kx > 0 ? pad - kx : 0;
                        int hi = w + pad - kx < wo ? w + pad - kx : wo;
                        for (int ox = 0; ox < lo; ox++) row[ox] = 0;
                        if (hi > lo) memcpy(row + lo, src + lo + kx - pad, sizeof(float) * (size_t)(hi - lo));
                        for (int ox = hi > lo ? hi : lo; ox < wo; ox++) row[ox] = 0;
                    } else {
                        for (int ox = 0; ox < wo; ox++) {
                            int ix = ox * s + kx - pad;
                            row[ox] = (ix >= 0 && ix < w) ? src[ix] : 0.0f;
                        }
                    }
                }
            }
}

/* Adjoint of im2col: gx[ci][iy][ix] += col[...] (gx must be zeroed by the caller). */
static void col2im(const adv_conv *c, int h, int w, const float *col, float *gx)
{
    const int k = c->k, s = c->stride, pad = c->pad;
    const int ho = adv_conv_out(h, k, s, pad), wo = adv_conv_out(w, k, s, pad);
    for (int ci = 0; ci < c->cin; ci++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                const float *srcc = col + ((size_t)(ci * k + ky) * k + kx) * ho * wo;
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

void adv_conv_forward(const adv_conv *c, int n, int h, int w, const float *x, float *y, float *scratch)
{
    const int ho = adv_conv_out(h, c->k, c->stride, c->pad), wo = adv_conv_out(w, c->k, c->stride, c->pad);
    const int K = c->cin * c->k * c->k, P = ho * wo;
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * c->cin * h * w;
        float *yi = y + (size_t)i * c->cout * P;
        const float *col = xi;
        if (!conv_is_pointwise(c)) { im2col(c, h, w, xi, scratch); col = scratch; }
        for (int co = 0; co < c->cout; co++) {
            float *row = yi + (size_t)co * P;
            for (int p = 0; p < P; p++) row[p] = c->b[co];
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->cout, P, K, 1.0f, c->w, K, col, P, 1.0f, yi, P);
    }
}

void adv_conv_backward(const adv_conv *c, int n, int h, int w, const float *x, const float *gy,
                       float *gx, int want_param_grads, float *scratch)
{
    const int ho = adv_conv_out(h, c->k, c->stride, c->pad), wo = adv_conv_out(w, c->k, c->stride, c->pad);
    const int K = c->cin * c->k * c->k, P = ho * wo;
    const int pointwise = conv_is_pointwise(c);
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * c->cin * h * w;
        const float *gyi = gy + (size_t)i * c->cout * P;
        if (want_param_grads) {
            const float *col = xi;
            if (!pointwise) { im2col(c, h, w, xi, scratch); col = scratch; }
            /* gW (cout x K) += gY (cout x P) * col^T (P x K) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->cout, K, P, 1.0f, gyi, P, col, P, 1.0f, c->gw, K);
            for (int co = 0; co < c->cout; co++) {
                const float *row = gyi + (size_t)co * P;
                float s = 0;
                for (int p = 0; p < P; p++) s += row[p];
                c->gb[co] += s;
            }
        }
        if (gx) {
            float *gxi = gx + (size_t)i * c->cin * h * w;
            if (pointwise) {
                /* gX (cin x P) = W^T (cin x cout) * gY (cout x P) */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, P, c->cout, 1.0f, c->w, K, gyi, P, 0.0f, gxi, P);
            } else {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, P, c->cout, 1.0f, c->w, K, gyi, P, 0.0f, scratch, P);
                memset(gxi, 0, sizeof(float) * (size_t)c->cin * h * w);
                col2im(c, h, w, scratch, gxi);
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
    for (int c = 0; c < C; c++) {
        const float mean = training ? bn->save_mean[c] : bn->running_mean[c];
        const float invstd = training ? bn->save_invstd[c] : (float)(1.0 / sqrt(bn->running_var[c] + BN_EPS));
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
uint64_t adv_rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

float adv_rng_uniform(uint64_t *s) { return (float)((adv_rng_next(s) >> 40) * (1.0 / 16777216.0)); }

float adv_rng_normal(uint64_t *s)
{
    double u1 = ((adv_rng_next(s) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (adv_rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

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
