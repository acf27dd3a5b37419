/* Layers of the paper's CNN other than the convolution (src/conv.c): forward and backward of each
 * side by side, channel-major tensors [C][N][H][W]. Loops are written to vectorise. */
#include "advinst/nn.h"
#include <omp.h>
#include <math.h>
#include <string.h>
#include <stdlib.h>

/* ------------------------------------------------------------------------------------------ */
/* Sum of x[0..n) in double, by blocks of float partial sums (vectorisable). */
static double sum_floats(const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i += 256) {
        size_t m = n - i < 256 ? n - i : 256;
        float p = 0;
        for (size_t j = 0; j < m; j++) p += x[i + j];
        s += p;
    }
    return s;
}

/* ------------------------------------------------------------------------------------------ */
#define BN_EPS 1e-5
#define BN_MOMENTUM 0.1

void adv_bn_eval_affine(const adv_bn *bn, float *scale, float *shift)
{
    for (int c = 0; c < bn->c; c++) {
        scale[c] = (float)(bn->gamma[c] / sqrt((double)bn->running_var[c] + BN_EPS));
        shift[c] = (float)(bn->beta[c] - bn->running_mean[c] * (double)scale[c]);
    }
}

void adv_bn_forward(adv_bn *bn, size_t count, const float *x, float *y, int training, int threads)
{
    const int C = bn->c;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int c = 0; c < C; c++) {
        const float *xc = x + c * count;
        float *yc = y + c * count;
        double mean, var;
        if (training) {
            mean = sum_floats(xc, count) / (double)count;
            double ss = 0;
            const float m = (float)mean;
            for (size_t i = 0; i < count; i += 256) {
                size_t e = count - i < 256 ? count - i : 256;
                float p = 0;
                for (size_t j = 0; j < e; j++) { float d = xc[i + j] - m; p += d * d; }
                ss += p;
            }
            var = ss / (double)count;
            bn->save_mean[c] = (float)mean;
            bn->save_invstd[c] = (float)(1.0 / sqrt(var + BN_EPS));
            double unbiased = count > 1 ? ss / (double)(count - 1) : var;
            bn->running_mean[c] = (float)((1 - BN_MOMENTUM) * bn->running_mean[c] + BN_MOMENTUM * mean);
            bn->running_var[c] = (float)((1 - BN_MOMENTUM) * bn->running_var[c] + BN_MOMENTUM * unbiased);
        } else {
            mean = bn->running_mean[c];
            var = bn->running_var[c];
        }
        const float scale = (float)(bn->gamma[c] / sqrt(var + BN_EPS));
        const float shift = (float)(bn->beta[c] - mean * scale);
        for (size_t i = 0; i < count; i++) yc[i] = xc[i] * scale + shift;
    }
    if (training) bn->num_batches_tracked++;
}

void adv_bn_backward(adv_bn *bn, size_t count, const float *x, const float *gy, float *gx, const float *gate,
                     int training, int want_param_grads, int threads)
{
    const int C = bn->c;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int c = 0; c < C; c++) {
        const float mean = training ? bn->save_mean[c] : bn->running_mean[c];
        const float invstd = training ? bn->save_invstd[c] : (float)(1.0 / sqrt(bn->running_var[c] + BN_EPS));
        const float *xc = x + c * count, *gc = gy + c * count, *gt = gate ? gate + c * count : NULL;
        float *dc = gx ? gx + c * count : NULL;
        const float g = bn->gamma[c] * invstd;
        float mgy = 0, mgx = 0;
        if (training || want_param_grads) {
            double sum_gy = 0, sum_gy_xhat = 0;
            for (size_t i = 0; i < count; i += 256) {
                size_t e = count - i < 256 ? count - i : 256;
                float a = 0, b = 0;
                for (size_t j = 0; j < e; j++) { a += gc[i + j]; b += gc[i + j] * (xc[i + j] - mean); }
                sum_gy += a;
                sum_gy_xhat += b;
            }
            sum_gy_xhat *= invstd;
            if (want_param_grads) {
                bn->gbeta[c] += (float)sum_gy;
                bn->ggamma[c] += (float)sum_gy_xhat;
            }
            mgy = (float)(sum_gy / (double)count);
            mgx = (float)(sum_gy_xhat / (double)count);
        }
        if (!dc) continue;
        if (training) {
            /* gx = gamma * invstd * (gy - mean(gy) - xhat * mean(gy * xhat)) */
            const float k = invstd * mgx;
            for (size_t i = 0; i < count; i++) dc[i] = g * (gc[i] - mgy - (xc[i] - mean) * k);
        } else {
            for (size_t i = 0; i < count; i++) dc[i] = g * gc[i];
        }
        if (gt)
            for (size_t i = 0; i < count; i++) dc[i] = gt[i] > 0 ? dc[i] : 0.0f;
    }
}

/* ------------------------------------------------------------------------------------------ */
void adv_avgpool_forward(int nc, int h, int w, int kh, int kw, const float *x, float *y, int threads)
{
    const int ho = h / kh, wo = w / kw;
    const float inv = 1.0f / (float)(kh * kw);
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int c = 0; c < nc; c++) {
        const float *xc = x + (size_t)c * h * w;
        float *yc = y + (size_t)c * ho * wo;
        for (int oy = 0; oy < ho; oy++) {
            float *yr = yc + oy * wo;
            for (int ox = 0; ox < wo; ox++) yr[ox] = 0;
            for (int dy = 0; dy < kh; dy++) {
                const float *xr = xc + (size_t)(oy * kh + dy) * w;
                for (int ox = 0; ox < wo; ox++)
                    for (int dx = 0; dx < kw; dx++) yr[ox] += xr[ox * kw + dx];
            }
            for (int ox = 0; ox < wo; ox++) yr[ox] *= inv;
        }
    }
}

void adv_avgpool_backward(int nc, int h, int w, int kh, int kw, const float *gy, float *gx, const float *scale,
                          int per_scale, const float *gate, int threads)
{
    const int ho = h / kh, wo = w / kw;
    const float inv = 1.0f / (float)(kh * kw);
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int c = 0; c < nc; c++) {
        const float *gc = gy + (size_t)c * ho * wo;
        float *dc = gx + (size_t)c * h * w;
        const float s = inv * (scale ? scale[c / per_scale] : 1.0f);
        for (int iy = 0; iy < h; iy++) {
            float *dr = dc + (size_t)iy * w;
            if (iy >= ho * kh) { memset(dr, 0, sizeof(float) * (size_t)w); continue; }
            const float *gr = gc + (iy / kh) * wo;
            for (int ox = 0; ox < wo; ox++)
                for (int dx = 0; dx < kw; dx++) dr[ox * kw + dx] = gr[ox] * s;
            for (int ix = wo * kw; ix < w; ix++) dr[ix] = 0;
            if (gate) {
                const float *gt = gate + (size_t)c * h * w + (size_t)iy * w;
                for (int ix = 0; ix < w; ix++) dr[ix] = gt[ix] > 0 ? dr[ix] : 0.0f;
            }
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* splitmix64 output number k (1-based) after state s, as a uniform draw (advinst/rng.h). */
static inline float rng_uniform_at(uint64_t s, uint64_t k) { return (float)((adv_rng_at(s, k) >> 40) * (1.0 / 16777216.0)); }

void adv_dropout_forward(int c, int n, int hw, float p, uint64_t *rng, const float *x, float *y, float *mask,
                         int threads)
{
    const float keep = 1.0f / (1.0f - p);
    const uint64_t s0 = *rng;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < n; i++) {
            const size_t at = ((size_t)ch * n + i) * hw;
            const uint64_t k0 = ((uint64_t)i * c + ch) * hw + 1;
            for (int q = 0; q < hw; q++) {
                float m = rng_uniform_at(s0, k0 + q) >= p ? keep : 0.0f;
                mask[at + q] = m;
                y[at + q] = x[at + q] * m;
            }
        }
    *rng = s0 + (uint64_t)c * n * hw * 0x9e3779b97f4a7c15ULL;
}

void adv_dropout_backward(size_t count, const float *mask, const float *gy, float *gx)
{
    for (size_t i = 0; i < count; i++) gx[i] = gy[i] * mask[i];
}

/* ------------------------------------------------------------------------------------------ */
void adv_head_forward(int n, int c, int h, int w, const float *x, float *y, int *argmax)
{
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < n; i++) {
            const float *xc = x + ((size_t)ch * n + i) * h * w;
            float best = -INFINITY;
            int best_t = 0;
            for (int t = 0; t < w; t++) {
                float s = 0;
                for (int f = 0; f < h; f++) s += xc[f * w + t];
                s /= (float)h;
                if (s > best || t == 0) { best = s; best_t = t; }
            }
            y[i * c + ch] = best;
            argmax[i * c + ch] = best_t;
        }
}

void adv_head_backward(int n, int c, int h, int w, const int *argmax, const float *gy, float *gx)
{
    memset(gx, 0, sizeof(float) * (size_t)n * c * h * w);
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < n; i++) {
            float *gc = gx + ((size_t)ch * n + i) * h * w;
            float g = gy[i * c + ch] / (float)h;
            for (int f = 0; f < h; f++) gc[f * w + argmax[i * c + ch]] = g;
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
