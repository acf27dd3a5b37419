/* Layers of the paper's CNN, forward and backward side by side (llm.c style): explicit buffers,
 * explicit shapes, NCHW float tensors (H = mel bands, W = frames). Parameter gradients are
 * accumulated (+=) so a caller can sum over micro-batches; input gradients are overwritten. */
#ifndef ADVINST_NN_H
#define ADVINST_NN_H
#include <stddef.h>
#include <stdint.h>
#include "advinst/rng.h"

/* ---- 2-D convolution (im2col + sgemm) ---- */
typedef struct {
    int cin, cout, k, stride, pad;
    float *w, *b;      /* [cout][cin][k][k], [cout] */
    float *gw, *gb;    /* gradients, same shapes (may be NULL when not training) */
} adv_conv;

static inline int adv_conv_out(int in, int k, int stride, int pad) { return (in + 2 * pad - k) / stride + 1; }
/* Scratch floats needed by forward/backward for an h x w input (the im2col matrix of one image). */
size_t adv_conv_scratch(const adv_conv *c, int h, int w);
void adv_conv_forward(const adv_conv *c, int n, int h, int w, const float *x, float *y, float *scratch);
/* gx may be NULL (first layer in training). Parameter gradients only if want_param_grads. */
void adv_conv_backward(const adv_conv *c, int n, int h, int w, const float *x, const float *gy,
                       float *gx, int want_param_grads, float *scratch);

/* ---- ReLU ---- */
void adv_relu_forward(size_t count, const float *x, float *y);
/* gx = gy where y > 0 (in place allowed). */
void adv_relu_backward(size_t count, const float *y, const float *gy, float *gx);

/* ---- BatchNorm2d (eps 1e-5, momentum 0.1, affine) ---- */
typedef struct {
    int c;
    float *gamma, *beta, *running_mean, *running_var;
    int64_t num_batches_tracked;
    float *ggamma, *gbeta;
    float *save_mean, *save_invstd;   /* [c], batch statistics of the last training forward */
} adv_bn;
/* training: batch statistics (biased variance for normalising, unbiased for the running update). */
void adv_bn_forward(adv_bn *bn, int n, int hw, const float *x, float *y, int training);
/* Needs x of the forward. In eval mode the statistics are constants. */
void adv_bn_backward(adv_bn *bn, int n, int hw, const float *x, const float *gy, float *gx,
                     int training, int want_param_grads);

/* ---- Average pooling, kernel = stride, floor ---- */
void adv_avgpool_forward(int nc, int h, int w, int kh, int kw, const float *x, float *y);
void adv_avgpool_backward(int nc, int h, int w, int kh, int kw, const float *gy, float *gx);

/* ---- Dropout (inverted: kept values scaled by 1/(1-p)) ---- */
/* mask[count] receives 0 or 1/(1-p); rng is a splitmix64 state advanced deterministically. */
void adv_dropout_forward(size_t count, float p, uint64_t *rng, const float *x, float *y, float *mask);
void adv_dropout_backward(size_t count, const float *mask, const float *gy, float *gx);

/* ---- Head: mean over H, max over W -> [n][c] ---- */
/* argmax[n*c] receives the time index of the maximum for the backward pass. */
void adv_head_forward(int n, int c, int h, int w, const float *x, float *y, int *argmax);
void adv_head_backward(int n, int c, int h, int w, const int *argmax, const float *gy, float *gx);

/* ---- Loss ---- */
/* Softmax probabilities of logits[k]. */
void adv_softmax(int k, const float *logits, float *probs);
/* Mean cross-entropy over n rows; glogits (may be NULL) = d mean-loss / d logits. */
float adv_cross_entropy(int n, int k, const float *logits, const int *labels, float *glogits);

#endif
