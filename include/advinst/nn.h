/* Layers of the paper's CNN, forward and backward side by side (llm.c style): explicit buffers,
 * explicit shapes, float tensors in channel-major batch layout [C][N][H][W] ("CNHW": H = mel
 * bands, W = frames), so that one GEMM per layer covers the whole batch and every channel's values
 * are contiguous. For a batch of one (or one channel) this is the same as PyTorch's NCHW.
 * Parameter gradients are accumulated (+=) so a caller can sum over micro-batches; input gradients
 * are overwritten. Every function runs in parallel (OpenMP) with at most `threads` threads. */
#ifndef ADVINST_NN_H
#define ADVINST_NN_H
#include <stddef.h>
#include <stdint.h>
#include "advinst/rng.h"

/* ---- 2-D convolution ----
 * 3x3 stride-1 pad-1 layers run as Winograd F(2x2,3x3) (16 sgemm per block of tiles, transforms
 * vectorised and dispatched at run time); the others as im2col + sgemm (1x1: sgemm alone). */
typedef struct {
    int cin, cout, k, stride, pad;
    float *w, *b;      /* [cout][cin][k][k], [cout] */
    float *gw, *gb;    /* gradients, same shapes (may be NULL when not training) */
} adv_conv;

/* What is done to each output value of a convolution while it is still in cache, in this order:
 * v += bias[c]; v = max(v, 0) if relu; act[i] = v; v *= mul[i]; v = v * scale[c] + shift[c];
 * v = 0 where gate[i] <= 0. NULL / 0 fields are skipped. i indexes the output tensor. */
typedef struct {
    const float *bias;
    int relu;
    float *act;
    const float *mul;
    const float *scale, *shift;
    const float *gate;
} adv_epilogue;

static inline int adv_conv_out(int in, int k, int stride, int pad) { return (in + 2 * pad - k) / stride + 1; }
/* Scratch floats for forward/backward of n images of h x w with up to `threads` threads. */
size_t adv_conv_scratch(const adv_conv *c, int n, int h, int w, int threads);
/* y[cout][n][ho][wo] = epilogue(conv(x[cin][n][h][w])). ep may be NULL (bias only). */
void adv_conv_forward(const adv_conv *c, int n, int h, int w, const float *x, float *y, const adv_epilogue *ep,
                      float *scratch, int threads);
/* gx[cin][n][h][w] = epilogue(d loss / d x) given gy = d loss / d y (bias and relu of ep unused). */
void adv_conv_backward_input(const adv_conv *c, int n, int h, int w, const float *gy, float *gx,
                             const adv_epilogue *ep, float *scratch, int threads);
/* gw += d loss / d w, gb += d loss / d b (deterministic for a thread count). */
void adv_conv_backward_params(const adv_conv *c, int n, int h, int w, const float *x, const float *gy,
                              float *scratch, int threads);
/* Both of the above; gx may be NULL. */
void adv_conv_backward(const adv_conv *c, int n, int h, int w, const float *x, const float *gy, float *gx,
                       int want_param_grads, float *scratch, int threads);

/* Winograd-transformed weights (floats: 0 when the layer does not use Winograd), computed once and
 * passed to the _prepared variants, which otherwise equal the calls above. */
size_t adv_conv_winograd_size(const adv_conv *c);
void adv_conv_winograd_weights(const adv_conv *c, float *u, int threads);
void adv_conv_forward_prepared(const adv_conv *c, const float *u, int n, int h, int w, const float *x, float *y,
                               const adv_epilogue *ep, float *scratch, int threads);
void adv_conv_backward_input_prepared(const adv_conv *c, const float *u, int n, int h, int w, const float *gy,
                                      float *gx, const adv_epilogue *ep, float *scratch, int threads);

/* Algorithm choice, for tests and benchmarks: 1 (default) uses Winograd where it applies, 0 runs
 * every convolution as im2col + sgemm (the plain reference path). */
void adv_conv_set_winograd(int enabled);

/* ---- BatchNorm2d (eps 1e-5, momentum 0.1, affine), channel-major: x[c][count] ---- */
typedef struct {
    int c;
    float *gamma, *beta, *running_mean, *running_var;
    int64_t num_batches_tracked;
    float *ggamma, *gbeta;
    float *save_mean, *save_invstd;   /* [c], batch statistics of the last training forward */
} adv_bn;
/* Evaluation-mode y = x * scale + shift of each channel. */
void adv_bn_eval_affine(const adv_bn *bn, float *scale, float *shift);
/* training: batch statistics (biased variance for normalising, unbiased for the running update). */
void adv_bn_forward(adv_bn *bn, size_t count, const float *x, float *y, int training, int threads);
/* Needs x of the forward. In eval mode the statistics are constants. gx (may be NULL) is zeroed
 * where gate (may be NULL) is <= 0 (the ReLU before the BatchNorm). */
void adv_bn_backward(adv_bn *bn, size_t count, const float *x, const float *gy, float *gx, const float *gate,
                     int training, int want_param_grads, int threads);

/* ---- Average pooling, kernel = stride, floor; nc planes of h x w ---- */
void adv_avgpool_forward(int nc, int h, int w, int kh, int kw, const float *x, float *y, int threads);
/* gx = pool^T(gy) * scale[plane / per_scale] (scale may be NULL), zeroed where gate <= 0 (may be NULL). */
void adv_avgpool_backward(int nc, int h, int w, int kh, int kw, const float *gy, float *gx, const float *scale,
                          int per_scale, const float *gate, int threads);

/* ---- Dropout (inverted: kept values scaled by 1/(1-p)) on x[c][n][hw] ----
 * mask receives 0 or 1/(1-p). The random numbers are drawn in PyTorch's NCHW order (index
 * (i * c + ch) * hw + p) from the splitmix64 stream *rng, which advances by c * n * hw draws; each
 * draw is computed from its index, so the mask is the same for any thread count. */
void adv_dropout_forward(int c, int n, int hw, float p, uint64_t *rng, const float *x, float *y, float *mask,
                         int threads);
void adv_dropout_backward(size_t count, const float *mask, const float *gy, float *gx);

/* ---- Head: mean over H, max over W of x[c][n][h][w] -> y[n][c] ---- */
/* argmax[n*c] receives the time index of the maximum for the backward pass. */
void adv_head_forward(int n, int c, int h, int w, const float *x, float *y, int *argmax);
void adv_head_backward(int n, int c, int h, int w, const int *argmax, const float *gy, float *gx);

/* ---- Loss ---- */
/* Softmax probabilities of logits[k]. */
void adv_softmax(int k, const float *logits, float *probs);
/* Mean cross-entropy over n rows; glogits (may be NULL) = d mean-loss / d logits. */
float adv_cross_entropy(int n, int k, const float *logits, const int *labels, float *glogits);

#endif
