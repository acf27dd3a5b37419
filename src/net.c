/* The paper's network (adv_layers, model.h) run forward and backward on a workspace sized once
 * for a batch of n inputs of 100 x t frames. Activations are channel-major ([C][N][H][W], nn.h),
 * so every layer is one convolution call over the whole batch; ReLU and evaluation-mode
 * BatchNorm are applied in the convolution's epilogue, and in the backward pass the BatchNorm
 * scale and the ReLU mask of the layer below are applied in the input gradient's epilogue. */
#include "advinst/model.h"
#include "advinst/error.h"
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Buffers of one layer: conv -> [relu -> bn] -> [pool] -> [dropout]. */
typedef struct {
    int in_h, in_w, h, w, ph, pw;   /* input, conv output, output after pooling (= h, w without) */
    float *act;                     /* relu(conv + b) (bn layers), or the conv output (last layer) */
    float *out;                     /* bn output */
    float *pooled;                  /* after pooling (NULL: no pooling) */
    float *drop, *mask;             /* after dropout, training only */
    float *y;                       /* the layer's output: the next layer's input */
    float *u;                       /* Winograd weights (NULL: not used) */
    float *scale, *shift;           /* evaluation BatchNorm as an affine map */
} layer_buf;

struct adv_net {
    adv_model *m;
    int n, t, training, dropout_on, threads;
    uint64_t rng;
    const float *input;
    layer_buf L[ADV_N_CONV];
    int *argmax;
    float *scratch;
    float *g[3];                    /* gradient buffers of the largest activation */
};

int adv_net_batch(const adv_net *net) { return net->n; }
int adv_net_frames(const adv_net *net) { return net->t; }
void adv_net_set_dropout(adv_net *net, int enabled) { net->dropout_on = enabled && net->training; }
void adv_net_set_rng(adv_net *net, uint64_t seed) { net->rng = seed; }

/* Threads for this call: OpenMP's current setting, at most what the workspace was sized for; 1
 * inside a parallel region that cannot nest (the layers split their work by this count, so it
 * must be the team size they get: e.g. the stream attack's windows, one per thread). */
static int net_threads(const adv_net *net)
{
    if (omp_get_active_level() >= omp_get_max_active_levels()) return 1;
    int t = omp_get_max_threads();
    return t < net->threads ? t : net->threads;
}

void adv_net_free(adv_net *net)
{
    if (!net) return;
    for (int i = 0; i < ADV_N_CONV; i++) {
        layer_buf *b = &net->L[i];
        free(b->act); free(b->out); free(b->pooled); free(b->drop); free(b->mask); free(b->u);
        free(b->scale); free(b->shift);
    }
    free(net->argmax);
    free(net->scratch);
    for (int k = 0; k < 3; k++) free(net->g[k]);
    free(net);
}

static float *alloc_floats(size_t count, int *ok)
{
    float *p = malloc(sizeof(float) * (count ? count : 1));
    if (!p) *ok = 0;
    return p;
}

/* Shapes of layer i for an input of h x w; returns the output size after pooling. */
static void layer_shape(int i, int h, int w, layer_buf *b)
{
    const adv_layer *l = &adv_layers[i];
    b->in_h = h;
    b->in_w = w;
    b->h = adv_conv_out(h, l->k, l->stride, l->pad);
    b->w = adv_conv_out(w, l->k, l->stride, l->pad);
    b->ph = l->pool_h ? b->h / l->pool_h : b->h;
    b->pw = l->pool_h ? b->w / l->pool_w : b->w;
}

double adv_net_layer_flops(int i, int t, int *h, int *w)
{
    layer_buf b = {0};
    int hh = ADV_N_MELS, ww = t;
    for (int j = 0; j <= i; j++) {
        layer_shape(j, hh, ww, &b);
        hh = b.ph;
        ww = b.pw;
    }
    const adv_layer *l = &adv_layers[i];
    if (h) *h = b.h;
    if (w) *w = b.w;
    return 2.0 * l->cin * l->cout * l->k * l->k * b.h * b.w;
}

double adv_net_conv_flops(int t)
{
    double f = 0;
    for (int i = 0; i < ADV_N_CONV; i++) f += adv_net_layer_flops(i, t, NULL, NULL);
    return f;
}

void adv_net_refresh(adv_net *net)
{
    const int nt = net_threads(net);
    for (int i = 0; i < ADV_N_CONV; i++)
        if (net->L[i].u) adv_conv_winograd_weights(&net->m->conv[i], net->L[i].u, nt);
}

adv_net *adv_net_create(adv_model *m, int n, int t, int training, uint64_t dropout_seed)
{
    if (n < 1 || t < ADV_MIN_FRAMES) {
        adv_fail("network input must have at least %d frames (got %d) and a batch of at least 1", ADV_MIN_FRAMES, t);
        return NULL;
    }
    /* sgemm is called from the convolutions' own parallel loops: one OpenBLAS thread each */
    openblas_set_num_threads(1);
    adv_net *net = calloc(1, sizeof *net);
    if (!net) { adv_fail("out of memory"); return NULL; }
    net->m = m;
    net->n = n;
    net->t = t;
    net->training = training;
    net->dropout_on = training;
    net->rng = dropout_seed;
    net->threads = omp_get_max_threads();

    int ok = 1, h = ADV_N_MELS, w = t;
    size_t max_act = (size_t)n * h * w, max_scratch = 1;
    for (int i = 0; i < ADV_N_CONV; i++) {
        const adv_layer *l = &adv_layers[i];
        layer_buf *b = &net->L[i];
        layer_shape(i, h, w, b);
        size_t sc = adv_conv_scratch(&m->conv[i], n, h, w, net->threads);
        if (sc > max_scratch) max_scratch = sc;
        const size_t count = (size_t)n * l->cout * b->h * b->w, pc = (size_t)n * l->cout * b->ph * b->pw;
        if (count > max_act) max_act = count;
        b->act = alloc_floats(count, &ok);
        b->y = b->act;
        if (l->bn) {
            b->out = alloc_floats(count, &ok);
            b->scale = alloc_floats((size_t)l->cout, &ok);
            b->shift = alloc_floats((size_t)l->cout, &ok);
            b->y = b->out;
        }
        if (l->pool_h) b->y = b->pooled = alloc_floats(pc, &ok);
        if (training && l->dropout > 0) { b->drop = alloc_floats(pc, &ok); b->mask = alloc_floats(pc, &ok); }
        size_t us = adv_conv_winograd_size(&m->conv[i]);
        if (us) b->u = alloc_floats(us, &ok);
        h = b->ph;
        w = b->pw;
    }
    net->argmax = malloc(sizeof(int) * (size_t)n * ADV_N_CLASSES);
    if (!net->argmax) ok = 0;
    net->scratch = alloc_floats(max_scratch, &ok);
    for (int k = 0; k < 3; k++) net->g[k] = alloc_floats(max_act, &ok);
    if (!ok) {
        adv_net_free(net);
        adv_fail("out of memory for a network workspace (batch %d, %d frames)", n, t);
        return NULL;
    }
    if (!training) adv_net_refresh(net);
    return net;
}

/* conv -> [relu -> bn] -> [pool] -> [dropout] of layer i on x. */
static void layer_forward(adv_net *net, int i, const float *x, int nt)
{
    const adv_layer *l = &adv_layers[i];
    layer_buf *b = &net->L[i];
    adv_conv *c = &net->m->conv[i];
    const int n = net->n;
    const size_t count = (size_t)n * b->h * b->w;
    adv_epilogue ep = {.bias = c->b};
    float *conv_out = b->act;
    if (l->bn) {
        ep.relu = 1;
        if (!net->training) {
            adv_bn_eval_affine(&net->m->bn[i], b->scale, b->shift);
            ep.act = b->act;
            ep.scale = b->scale;
            ep.shift = b->shift;
            conv_out = b->out;
        }
    }
    adv_conv_forward_prepared(c, b->u, n, b->in_h, b->in_w, x, conv_out, &ep, net->scratch, nt);
    if (l->bn && net->training) adv_bn_forward(&net->m->bn[i], count, b->act, b->out, 1, nt);
    b->y = l->bn ? b->out : b->act;
    if (l->pool_h) {
        adv_avgpool_forward(l->cout * n, b->h, b->w, l->pool_h, l->pool_w, b->y, b->pooled, nt);
        b->y = b->pooled;
    }
    if (b->drop && net->dropout_on) {
        adv_dropout_forward(l->cout, n, b->ph * b->pw, l->dropout, &net->rng, b->y, b->drop, b->mask, nt);
        b->y = b->drop;
    }
}

void adv_net_forward(adv_net *net, const float *x, float *logits)
{
    const int nt = net_threads(net);
    net->input = x;
    if (net->training) adv_net_refresh(net);
    const float *in = x;
    for (int i = 0; i < ADV_N_CONV; i++) {
        layer_forward(net, i, in, nt);
        in = net->L[i].y;
    }
    const layer_buf *last = &net->L[ADV_N_CONV - 1];
    adv_head_forward(net->n, ADV_N_CLASSES, last->h, last->w, last->act, logits, net->argmax);
}

/* g = d loss / d (layer i's output y) -> d loss / d (layer i's conv output), into gout (may be g). */
static void layer_output_backward(adv_net *net, int i, float *g, float *gout, float *tmp, int nt)
{
    const adv_layer *l = &adv_layers[i];
    layer_buf *b = &net->L[i];
    const int n = net->n;
    const int dropped = b->drop && net->dropout_on;
    if (dropped) adv_dropout_backward((size_t)n * l->cout * b->ph * b->pw, b->mask, g, g);
    if (!net->training) {
        /* eval: pool^T, then the BatchNorm scale and the ReLU mask (one pass) */
        if (l->pool_h)
            adv_avgpool_backward(l->cout * n, b->h, b->w, l->pool_h, l->pool_w, g, gout, b->scale, n, b->act, nt);
        else
            adv_bn_backward(&net->m->bn[i], (size_t)n * b->h * b->w, b->act, g, gout, b->act, 0, 0, nt);
        return;
    }
    const float *gbn = g;
    if (l->pool_h) {
        adv_avgpool_backward(l->cout * n, b->h, b->w, l->pool_h, l->pool_w, g, tmp, NULL, 1, NULL, nt);
        gbn = tmp;
    }
    adv_bn_backward(&net->m->bn[i], (size_t)n * b->h * b->w, b->act, gbn, gout, b->act, 1, 1, nt);
}

/* Backward from g = d loss / d (last layer's output), in net->g[0], down to the input. */
static void backward_from_top(adv_net *net, float *gx)
{
    adv_model *m = net->m;
    const int n = net->n, tr = net->training, nt = net_threads(net);
    float *g = net->g[0], *g2 = net->g[1], *tmp = net->g[2];

    for (int i = ADV_N_CONV - 1; i >= 0; i--) {
        /* g = d loss / d (conv i output) */
        layer_buf *b = &net->L[i];
        adv_conv *c = &m->conv[i];
        const float *xin = i ? net->L[i - 1].y : net->input;
        if (tr) adv_conv_backward_params(c, n, b->in_h, b->in_w, xin, g, net->scratch, nt);
        if (i == 0) {
            if (gx) adv_conv_backward_input_prepared(c, b->u, n, b->in_h, b->in_w, g, gx, NULL, net->scratch, nt);
            break;
        }
        const adv_layer *p = &adv_layers[i - 1];
        layer_buf *pb = &net->L[i - 1];
        if (!tr && !p->pool_h) {
            /* the layer below's BatchNorm scale and ReLU mask in the input gradient's epilogue */
            adv_epilogue ep = {.scale = pb->scale, .gate = pb->act};
            adv_conv_backward_input_prepared(c, b->u, n, b->in_h, b->in_w, g, g2, &ep, net->scratch, nt);
        } else {
            adv_conv_backward_input_prepared(c, b->u, n, b->in_h, b->in_w, g, tmp, NULL, net->scratch, nt);
            layer_output_backward(net, i - 1, tmp, g2, g, nt);
        }
        float *sw = g; g = g2; g2 = sw;
    }
}

void adv_net_backward(adv_net *net, const float *glogits, float *gx)
{
    const layer_buf *last = &net->L[ADV_N_CONV - 1];
    adv_head_backward(net->n, ADV_N_CLASSES, last->h, last->w, net->argmax, glogits, net->g[0]);
    backward_from_top(net, gx);
}

int adv_net_time_steps(const adv_net *net) { return net->L[ADV_N_CONV - 1].w; }

/* The last layer's output is channel-major: class c of clip i is plane c * n + i. */
void adv_net_step_scores(const adv_net *net, float *scores)
{
    const layer_buf *last = &net->L[ADV_N_CONV - 1];
    const int h = last->h, w = last->w, n = net->n;
    for (int c = 0; c < ADV_N_CLASSES; c++)
        for (int i = 0; i < n; i++) {
            const float *x = last->act + ((size_t)c * n + i) * h * w;
            float *s = scores + ((size_t)i * ADV_N_CLASSES + c) * w;
            for (int t = 0; t < w; t++) {
                float acc = 0;
                for (int f = 0; f < h; f++) acc += x[f * w + t];
                s[t] = acc / (float)h;
            }
        }
}

void adv_net_backward_steps(adv_net *net, const float *gscores, float *gx)
{
    const layer_buf *last = &net->L[ADV_N_CONV - 1];
    const int h = last->h, w = last->w, n = net->n;
    for (int c = 0; c < ADV_N_CLASSES; c++)
        for (int i = 0; i < n; i++) {
            float *g = net->g[0] + ((size_t)c * n + i) * h * w;
            const float *gs = gscores + ((size_t)i * ADV_N_CLASSES + c) * w;
            for (int f = 0; f < h; f++)
                for (int t = 0; t < w; t++) g[f * w + t] = gs[t] / (float)h;
        }
    backward_from_top(net, gx);
}

adv_model *adv_model_create_calibrated(uint64_t seed)
{
    adv_model *m = adv_model_create(seed);
    if (!m) return NULL;
    for (int i = 0; i < ADV_N_MELS; i++) {
        m->fe_mean[i] = -45;
        m->fe_std[i] = 15;
    }
    for (int k = 0; k < m->conv[7].cout * m->conv[7].cin; k++) m->conv[7].w[k] *= 5;
    const int batch = 8;
    const long n = 16000;
    adv_frontend *fe = adv_frontend_create(n, m->fe_mean, m->fe_std);
    if (!fe) { adv_model_free(m); return NULL; }
    const int t = adv_frontend_padded_frames(fe);
    float *in = malloc(sizeof(float) * batch * ADV_N_MELS * t), *w = malloc(sizeof(float) * n);
    float logits[8 * ADV_N_CLASSES];
    adv_net *net = in && w ? adv_net_create(m, batch, t, 1, seed) : NULL;
    if (!net) {
        adv_frontend_free(fe);
        free(in);
        free(w);
        adv_model_free(m);
        adv_fail("out of memory");
        return NULL;
    }
    uint64_t r = seed ^ 0x5eedULL;
    for (int b = 0; b < batch; b++) {
        double f0 = 100 + 90 * b, amp = 0.05 + 0.1 * (b % 4), noise = 0.01 + 0.05 * (b % 3);
        for (long i = 0; i < n; i++) w[i] = (float)(amp * sin(2 * M_PI * f0 * i / 16000) + noise * adv_rng_normal(&r));
        adv_frontend_forward(fe, w, in + (size_t)b * ADV_N_MELS * t);
    }
    adv_net_set_dropout(net, 0);
    for (int it = 0; it < 40; it++) adv_net_forward(net, in, logits);   /* BatchNorm momentum 0.1: converged */
    adv_net_free(net);
    adv_frontend_free(fe);
    free(in);
    free(w);
    return m;
}
