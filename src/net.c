/* The paper's network as a fixed sequence of layers, run forward and backward on a workspace
 * sized once for a batch of n inputs of 100 x t frames.
 *
 *   x -> conv1(5x5/2) relu bn1 -> conv2 relu bn2 -> pool 2x2 -> drop .3
 *     -> conv3 relu bn3 -> conv4 relu bn4 -> pool 2x3 -> drop .3
 *     -> conv5 relu bn5 -> conv6 relu bn6 -> pool 2x3 -> drop .3
 *     -> conv7(1x1) relu bn7 -> drop .5 -> conv8(1x1) -> mean over freq, max over time */
#include "advinst/model.h"
#include "advinst/error.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One conv block: conv -> relu (in place) -> bn. in_h x in_w input, h x w output. */
typedef struct {
    int in_h, in_w, h, w;
    float *act;     /* relu(conv(x)), kept for the relu and bn backward */
    float *out;     /* bn output */
} conv_block;

/* A pool + dropout after a block. */
typedef struct {
    int kh, kw, h, w;   /* output size */
    float p;
    float *pooled, *out, *mask;   /* out == pooled when dropout is off */
} pool_stage;

struct adv_net {
    adv_model *m;
    int n, t, training, dropout_on;
    uint64_t rng;
    const float *input;
    conv_block blk[ADV_N_CONV - 1];   /* conv1..conv7 */
    pool_stage pool[3];
    float *drop7, *mask7;             /* dropout after bn7 */
    float *conv8_out;                 /* n x 12 x h x w */
    int *argmax;
    int h8, w8;
    float *scratch;                   /* im2col */
    float *grad_a, *grad_b;           /* two ping-pong gradient buffers of the largest activation */
};

static const float dropout_p[4] = {0.3f, 0.3f, 0.3f, 0.5f};

int adv_net_batch(const adv_net *net) { return net->n; }
int adv_net_frames(const adv_net *net) { return net->t; }
void adv_net_set_dropout(adv_net *net, int enabled) { net->dropout_on = enabled && net->training; }
void adv_net_set_rng(adv_net *net, uint64_t seed) { net->rng = seed; }

void adv_net_free(adv_net *net)
{
    if (!net) return;
    for (int i = 0; i < ADV_N_CONV - 1; i++) { free(net->blk[i].act); free(net->blk[i].out); }
    for (int i = 0; i < 3; i++) {
        free(net->pool[i].pooled);
        if (net->pool[i].out != net->pool[i].pooled) free(net->pool[i].out);
        free(net->pool[i].mask);
    }
    free(net->drop7);
    free(net->mask7);
    free(net->conv8_out);
    free(net->argmax);
    free(net->scratch);
    free(net->grad_a);
    free(net->grad_b);
    free(net);
}

static float *alloc_floats(size_t count, int *ok)
{
    float *p = malloc(sizeof(float) * (count ? count : 1));
    if (!p) *ok = 0;
    return p;
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

    int ok = 1;
    int h = ADV_N_MELS, w = t;
    size_t max_act = (size_t)h * w, max_scratch = 1;
    const int pool_after[ADV_N_CONV - 1] = {-1, 0, -1, 1, -1, 2, -1};
    const int pool_k[3][2] = {{2, 2}, {2, 3}, {2, 3}};
    for (int i = 0; i < ADV_N_CONV - 1; i++) {
        const adv_conv *c = &m->conv[i];
        conv_block *b = &net->blk[i];
        b->in_h = h;
        b->in_w = w;
        b->h = adv_conv_out(h, c->k, c->stride, c->pad);
        b->w = adv_conv_out(w, c->k, c->stride, c->pad);
        size_t sc = adv_conv_scratch(c, h, w);
        if (sc > max_scratch) max_scratch = sc;
        size_t count = (size_t)n * c->cout * b->h * b->w;
        if (count > max_act) max_act = count;
        b->act = alloc_floats(count, &ok);
        b->out = alloc_floats(count, &ok);
        h = b->h;
        w = b->w;
        int pi = pool_after[i];
        if (pi >= 0) {
            pool_stage *p = &net->pool[pi];
            p->kh = pool_k[pi][0];
            p->kw = pool_k[pi][1];
            p->h = h / p->kh;
            p->w = w / p->kw;
            p->p = dropout_p[pi];
            size_t pc = (size_t)n * c->cout * p->h * p->w;
            p->pooled = alloc_floats(pc, &ok);
            p->out = training ? alloc_floats(pc, &ok) : p->pooled;
            p->mask = training ? alloc_floats(pc, &ok) : NULL;
            h = p->h;
            w = p->w;
        }
    }
    size_t c7 = (size_t)n * m->conv[6].cout * h * w;
    if (training) { net->drop7 = alloc_floats(c7, &ok); net->mask7 = alloc_floats(c7, &ok); }
    net->h8 = h;
    net->w8 = w;
    net->conv8_out = alloc_floats((size_t)n * ADV_N_CLASSES * h * w, &ok);
    net->argmax = malloc(sizeof(int) * (size_t)n * ADV_N_CLASSES);
    if (!net->argmax) ok = 0;
    if ((size_t)n * ADV_N_CLASSES * h * w > max_act) max_act = (size_t)n * ADV_N_CLASSES * h * w;
    net->scratch = alloc_floats(max_scratch, &ok);
    net->grad_a = alloc_floats(max_act, &ok);
    net->grad_b = alloc_floats(max_act, &ok);
    if (!ok) {
        adv_net_free(net);
        adv_fail("out of memory for a network workspace (batch %d, %d frames)", n, t);
        return NULL;
    }
    return net;
}

void adv_net_forward(adv_net *net, const float *x, float *logits)
{
    adv_model *m = net->m;
    const int n = net->n;
    const float *in = x;
    net->input = x;
    int pi = 0;
    for (int i = 0; i < ADV_N_CONV - 1; i++) {
        conv_block *b = &net->blk[i];
        adv_conv *c = &m->conv[i];
        size_t count = (size_t)n * c->cout * b->h * b->w;
        adv_conv_forward(c, n, b->in_h, b->in_w, in, b->act, net->scratch);
        adv_relu_forward(count, b->act, b->act);
        adv_bn_forward(&m->bn[i], n, b->h * b->w, b->act, b->out, net->training);
        in = b->out;
        if (i == 1 || i == 3 || i == 5) {
            pool_stage *p = &net->pool[pi++];
            adv_avgpool_forward(n * c->cout, b->h, b->w, p->kh, p->kw, in, p->pooled);
            size_t pc = (size_t)n * c->cout * p->h * p->w;
            if (net->training) {
                if (net->dropout_on) adv_dropout_forward(pc, p->p, &net->rng, p->pooled, p->out, p->mask);
                else { memcpy(p->out, p->pooled, sizeof(float) * pc); for (size_t j = 0; j < pc; j++) p->mask[j] = 1.0f; }
            }
            in = p->out;
        }
    }
    if (net->training) {
        size_t c7 = (size_t)n * m->conv[6].cout * net->h8 * net->w8;
        if (net->dropout_on) adv_dropout_forward(c7, dropout_p[3], &net->rng, in, net->drop7, net->mask7);
        else { memcpy(net->drop7, in, sizeof(float) * c7); for (size_t j = 0; j < c7; j++) net->mask7[j] = 1.0f; }
        in = net->drop7;
    }
    adv_conv_forward(&m->conv[7], n, net->h8, net->w8, in, net->conv8_out, net->scratch);
    adv_head_forward(n, ADV_N_CLASSES, net->h8, net->w8, net->conv8_out, logits, net->argmax);
}

/* Backward from g = d loss / d conv8 output (in net->grad_a) down to the input. */
static void backward_from_conv8(adv_net *net, float *gx)
{
    adv_model *m = net->m;
    const int n = net->n, tr = net->training;
    float *g = net->grad_a, *g2 = net->grad_b, *tmp;
    const float *in7 = tr ? net->drop7 : net->blk[6].out;

    adv_conv_backward(&m->conv[7], n, net->h8, net->w8, in7, g, g2, tr, net->scratch);
    tmp = g; g = g2; g2 = tmp;
    if (tr) adv_dropout_backward((size_t)n * m->conv[6].cout * net->h8 * net->w8, net->mask7, g, g);

    int pi = 2;
    for (int i = ADV_N_CONV - 2; i >= 0; i--) {
        conv_block *b = &net->blk[i];
        adv_conv *c = &m->conv[i];
        size_t count = (size_t)n * c->cout * b->h * b->w;
        if (i == 1 || i == 3 || i == 5) {
            pool_stage *p = &net->pool[pi--];
            if (tr) adv_dropout_backward((size_t)n * c->cout * p->h * p->w, p->mask, g, g);
            adv_avgpool_backward(n * c->cout, b->h, b->w, p->kh, p->kw, g, g2);
            tmp = g; g = g2; g2 = tmp;
        }
        adv_bn_backward(&m->bn[i], n, b->h * b->w, b->act, g, g2, tr, tr);
        adv_relu_backward(count, b->act, g2, g2);
        const float *xin;
        if (i == 0) xin = net->input;
        else if (i == 2 || i == 4 || i == 6) xin = net->pool[(i - 2) / 2].out;
        else xin = net->blk[i - 1].out;
        float *gin = (i == 0) ? gx : g;
        if (i == 0 && !gx && !tr) break;
        adv_conv_backward(c, n, b->in_h, b->in_w, xin, g2, gin, tr, net->scratch);
    }
}

void adv_net_backward(adv_net *net, const float *glogits, float *gx)
{
    adv_head_backward(net->n, ADV_N_CLASSES, net->h8, net->w8, net->argmax, glogits, net->grad_a);
    backward_from_conv8(net, gx);
}

int adv_net_time_steps(const adv_net *net) { return net->w8; }

void adv_net_step_scores(const adv_net *net, float *scores)
{
    const int h = net->h8, w = net->w8;
    for (int i = 0; i < net->n * ADV_N_CLASSES; i++) {
        const float *x = net->conv8_out + (size_t)i * h * w;
        for (int t = 0; t < w; t++) {
            float acc = 0;
            for (int f = 0; f < h; f++) acc += x[f * w + t];
            scores[(size_t)i * w + t] = acc / (float)h;
        }
    }
}

void adv_net_backward_steps(adv_net *net, const float *gscores, float *gx)
{
    const int h = net->h8, w = net->w8;
    for (int i = 0; i < net->n * ADV_N_CLASSES; i++) {
        float *g = net->grad_a + (size_t)i * h * w;
        for (int f = 0; f < h; f++)
            for (int t = 0; t < w; t++) g[f * w + t] = gscores[(size_t)i * w + t] / (float)h;
    }
    backward_from_conv8(net, gx);
}

double adv_net_conv_flops(int t)
{
    static const int cin[ADV_N_CONV] = {1, 64, 64, 128, 128, 256, 256, 512};
    static const int cout[ADV_N_CONV] = {64, 64, 128, 128, 256, 256, 512, ADV_N_CLASSES};
    static const int k[ADV_N_CONV] = {5, 3, 3, 3, 3, 3, 1, 1};
    int h = ADV_N_MELS, w = t;
    double flops = 0;
    for (int i = 0; i < ADV_N_CONV; i++) {
        int stride = i == 0 ? 2 : 1, pad = k[i] / 2;
        h = adv_conv_out(h, k[i], stride, pad);
        w = adv_conv_out(w, k[i], stride, pad);
        flops += 2.0 * cin[i] * cout[i] * k[i] * k[i] * h * w;
        if (i == 1) { h /= 2; w /= 2; }
        if (i == 3 || i == 5) { h /= 2; w /= 3; }
    }
    return flops;
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
