/* Finite-difference checks of every layer's backward and of the whole network.
 *
 * Method: a scalar loss L = <y, r> with fixed random r; for a random direction v the central
 * difference (L(x + e v) - L(x - e v)) / 2e is compared with <dL/dx, v>. Layers compute in float,
 * so e = 1e-2 (inputs are O(1)). Tolerance: 2 % of the directional derivative itself plus a float
 * noise floor of 1e-6 ||dL/dx|| ||v|| (far below the size of <g, v> for a random direction, so a
 * wrong gradient cannot hide under the floor). */
#include "testutil.h"
#include "advinst/model.h"
#include "advinst/nn.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 12345;

static float *rand_vec(size_t n, float scale)
{
    float *v = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) v[i] = scale * adv_rng_normal(&rng);
    return v;
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static double norm(const float *a, size_t n) { return sqrt(dot(a, a, n)); }

/* Compares a directional finite difference with the analytic gradient. */
static void check_direction(const char *what, double fd, const float *grad, const float *v, size_t n)
{
    double analytic = dot(grad, v, n);
    double scale = norm(grad, n) * norm(v, n);
    double tol = 2e-2 * fmax(fabs(fd), fabs(analytic)) + 1e-6 * scale + 1e-9;
    printf("  %-34s fd %+.6e analytic %+.6e rel.err %.1e\n", what, fd, analytic, fabs(fd - analytic) / fmax(fabs(analytic), 1e-30));
    CHECK(fabs(fd - analytic) <= tol && fabs(analytic) > 1e-5 * scale, "%s: finite difference %.7g vs analytic %.7g (scale %.3g)",
          what, fd, analytic, scale);
}

/* Probe direction for the whole network: the gradient's own direction plus a random part, RMS 1
 * per element, so the directional derivative stands far above float noise while a wrong gradient
 * still shows (the true derivative along g/|g| equals |g| only if g is right). */
static float *probe_direction(const float *g, size_t n)
{
    float *v = rand_vec(n, 1);
    double gg = dot(g, g, n), rr = dot(v, v, n), s2 = 0;
    double a = gg > 0 ? 1.0 / sqrt(gg) : 0, b = 0.5 / sqrt(rr);
    for (size_t i = 0; i < n; i++) { v[i] = (float)(a * g[i] + b * v[i]); s2 += (double)v[i] * v[i]; }
    double k = sqrt((double)n / s2);
    for (size_t i = 0; i < n; i++) v[i] = (float)(v[i] * k);
    return v;
}

/* ---- convolution ---- */
static int nthreads = 2;

static double conv_loss(adv_conv *c, int n, int h, int w, const float *x, const float *r, float *y, float *scratch)
{
    adv_conv_forward(c, n, h, w, x, y, NULL, scratch, nthreads);
    int ho = adv_conv_out(h, c->k, c->stride, c->pad), wo = adv_conv_out(w, c->k, c->stride, c->pad);
    return dot(y, r, (size_t)n * c->cout * ho * wo);
}

static void test_conv(int cin, int cout, int k, int stride, int pad, int n, int h, int w)
{
    adv_conv c = {cin, cout, k, stride, pad, 0, 0, 0, 0};
    size_t nw = (size_t)cout * cin * k * k;
    c.w = rand_vec(nw, 0.3f);
    c.b = rand_vec(cout, 0.3f);
    c.gw = calloc(nw, sizeof(float));
    c.gb = calloc(cout, sizeof(float));
    int ho = adv_conv_out(h, k, stride, pad), wo = adv_conv_out(w, k, stride, pad);
    size_t nx = (size_t)n * cin * h * w, ny = (size_t)n * cout * ho * wo;
    float *x = rand_vec(nx, 1), *r = rand_vec(ny, 1), *y = malloc(sizeof(float) * ny);
    float *gx = malloc(sizeof(float) * nx), *scratch = malloc(sizeof(float) * adv_conv_scratch(&c, n, h, w, nthreads));
    conv_loss(&c, n, h, w, x, r, y, scratch);
    adv_conv_backward(&c, n, h, w, x, r, gx, 1, scratch, nthreads);

    char what[128];
    const double e = 1e-2;
    float *v = rand_vec(nx, 1), *xp = malloc(sizeof(float) * nx);
    for (size_t i = 0; i < nx; i++) xp[i] = x[i] + (float)e * v[i];
    double lp = conv_loss(&c, n, h, w, xp, r, y, scratch);
    for (size_t i = 0; i < nx; i++) xp[i] = x[i] - (float)e * v[i];
    double lm = conv_loss(&c, n, h, w, xp, r, y, scratch);
    snprintf(what, sizeof what, "conv %dx%d/%d %d->%d input", k, k, stride, cin, cout);
    check_direction(what, (lp - lm) / (2 * e), gx, v, nx);

    float *vw = rand_vec(nw, 1), *w0 = malloc(sizeof(float) * nw);
    memcpy(w0, c.w, sizeof(float) * nw);
    for (size_t i = 0; i < nw; i++) c.w[i] = w0[i] + (float)e * vw[i];
    lp = conv_loss(&c, n, h, w, x, r, y, scratch);
    for (size_t i = 0; i < nw; i++) c.w[i] = w0[i] - (float)e * vw[i];
    lm = conv_loss(&c, n, h, w, x, r, y, scratch);
    memcpy(c.w, w0, sizeof(float) * nw);
    snprintf(what, sizeof what, "conv %dx%d/%d weight", k, k, stride);
    check_direction(what, (lp - lm) / (2 * e), c.gw, vw, nw);

    /* bias: dL/db[co] = sum of r over that channel, exactly */
    for (int co = 0; co < cout; co++) {
        double s = 0;
        for (int i = 0; i < n; i++)
            for (int p = 0; p < ho * wo; p++) s += r[((size_t)co * n + i) * ho * wo + p];
        CHECK(fabs(s - c.gb[co]) <= 1e-3 * (1 + fabs(s)), "conv bias grad %d: %g vs %g", co, s, c.gb[co]);
    }
    free(c.w); free(c.b); free(c.gw); free(c.gb); free(x); free(r); free(y); free(gx); free(scratch);
    free(v); free(xp); free(vw); free(w0);
}

/* Winograd F(2x2,3x3) against the plain im2col path: forward with an epilogue, input gradient,
 * parameter gradients, odd and even sizes, a batch, 1 and 2 threads; agreement to float32
 * rounding (relative L2 error below 1e-5). */
static void test_winograd_vs_plain(int cin, int cout, int n, int h, int w, int threads)
{
    adv_conv c = {cin, cout, 3, 1, 1, 0, 0, 0, 0};
    size_t nw = (size_t)cout * cin * 9, nx = (size_t)n * cin * h * w, ny = (size_t)n * cout * h * w;
    c.w = rand_vec(nw, 0.3f);
    c.b = rand_vec(cout, 0.3f);
    float *x = rand_vec(nx, 1), *gy = rand_vec(ny, 1), *scale = rand_vec(cout, 1), *gate = rand_vec(nx, 1);
    float *bscale = rand_vec(cin, 1);
    float *y[2], *act[2], *gx[2], *gw[2], *gb[2];
    float *scratch = malloc(sizeof(float) * adv_conv_scratch(&c, n, h, w, threads));
    for (int k = 0; k < 2; k++) {
        adv_conv_set_winograd(k);
        y[k] = malloc(sizeof(float) * ny);
        act[k] = malloc(sizeof(float) * ny);
        gx[k] = malloc(sizeof(float) * nx);
        gw[k] = c.gw = calloc(nw, sizeof(float));
        gb[k] = c.gb = calloc(cout, sizeof(float));
        adv_epilogue ep = {.bias = c.b, .relu = 1, .act = act[k], .scale = scale, .shift = c.b};
        adv_conv_forward(&c, n, h, w, x, y[k], &ep, scratch, threads);
        adv_epilogue back = {.scale = bscale, .gate = gate};   /* of the layer below: input-sized */
        adv_conv_backward_input(&c, n, h, w, gy, gx[k], &back, scratch, threads);
        adv_conv_backward_params(&c, n, h, w, x, gy, scratch, threads);
    }
    adv_conv_set_winograd(1);
    double e[5] = {tu_rel_error(y[1], y[0], ny), tu_rel_error(act[1], act[0], ny), tu_rel_error(gx[1], gx[0], nx),
                   tu_rel_error(gw[1], gw[0], nw), tu_rel_error(gb[1], gb[0], (size_t)cout)};
    printf("  winograd vs im2col %3d->%3d, %d x %2d x %2d, %d thread(s): y %.1e act %.1e gx %.1e gw %.1e gb %.1e\n", cin,
           cout, n, h, w, threads, e[0], e[1], e[2], e[3], e[4]);
    CHECK(e[0] < 1e-5 && e[1] < 1e-5 && e[2] < 1e-5 && e[3] < 1e-5 && e[4] < 1e-5,
          "winograd vs im2col %d->%d %dx%dx%d: errors %.2g %.2g %.2g %.2g %.2g", cin, cout, n, h, w, e[0], e[1], e[2],
          e[3], e[4]);
    for (int k = 0; k < 2; k++) { free(y[k]); free(act[k]); free(gx[k]); free(gw[k]); free(gb[k]); }
    free(c.w); free(c.b); free(x); free(gy); free(scale); free(bscale); free(gate); free(scratch);
}

/* ---- batch norm ---- */
static double bn_loss(adv_bn *bn, int n, int hw, const float *x, const float *r, float *y, int training)
{
    float rm[64], rv[64];
    memcpy(rm, bn->running_mean, sizeof(float) * bn->c);
    memcpy(rv, bn->running_var, sizeof(float) * bn->c);
    adv_bn_forward(bn, (size_t)n * hw, x, y, training, nthreads);
    memcpy(bn->running_mean, rm, sizeof(float) * bn->c);   /* keep the statistics fixed across probes */
    memcpy(bn->running_var, rv, sizeof(float) * bn->c);
    return dot(y, r, (size_t)n * bn->c * hw);
}

static void test_bn(int training)
{
    const int C = 5, n = 3, hw = 7;
    adv_bn bn = {0};
    bn.c = C;
    bn.gamma = rand_vec(C, 1);
    bn.beta = rand_vec(C, 1);
    bn.running_mean = rand_vec(C, 0.3f);
    bn.running_var = malloc(sizeof(float) * C);
    for (int c = 0; c < C; c++) bn.running_var[c] = 0.5f + tu_rand_uniform(&rng, 0, 1);
    bn.ggamma = calloc(C, sizeof(float));
    bn.gbeta = calloc(C, sizeof(float));
    bn.save_mean = calloc(C, sizeof(float));
    bn.save_invstd = calloc(C, sizeof(float));
    size_t nx = (size_t)n * C * hw;
    float *x = rand_vec(nx, 1), *r = rand_vec(nx, 1), *y = malloc(sizeof(float) * nx), *gx = malloc(sizeof(float) * nx);
    for (size_t i = 0; i < nx; i++) x[i] += 0.7f;   /* non-zero mean */
    bn_loss(&bn, n, hw, x, r, y, training);
    adv_bn_backward(&bn, (size_t)n * hw, x, r, gx, NULL, training, 1, nthreads);
    const double e = 1e-2;
    float *v = rand_vec(nx, 1), *xp = malloc(sizeof(float) * nx);
    for (size_t i = 0; i < nx; i++) xp[i] = x[i] + (float)e * v[i];
    double lp = bn_loss(&bn, n, hw, xp, r, y, training);
    for (size_t i = 0; i < nx; i++) xp[i] = x[i] - (float)e * v[i];
    double lm = bn_loss(&bn, n, hw, xp, r, y, training);
    check_direction(training ? "bn (train) input" : "bn (eval) input", (lp - lm) / (2 * e), gx, v, nx);

    float g0[8];
    memcpy(g0, bn.gamma, sizeof(float) * C);
    float *vg = rand_vec(C, 1);
    for (int c = 0; c < C; c++) bn.gamma[c] = g0[c] + (float)e * vg[c];
    lp = bn_loss(&bn, n, hw, x, r, y, training);
    for (int c = 0; c < C; c++) bn.gamma[c] = g0[c] - (float)e * vg[c];
    lm = bn_loss(&bn, n, hw, x, r, y, training);
    memcpy(bn.gamma, g0, sizeof(float) * C);
    check_direction("bn gamma", (lp - lm) / (2 * e), bn.ggamma, vg, C);

    if (training) {
        /* running statistics: momentum 0.1 update with the unbiased variance */
        float rm0 = bn.running_mean[0], rv0 = bn.running_var[0];
        adv_bn_forward(&bn, (size_t)n * hw, x, y, 1, nthreads);
        double s = 0, ss = 0;   /* channel 0: the first n * hw values (channel-major) */
        for (int i = 0; i < n * hw; i++) s += x[i];
        double mean = s / (n * hw);
        for (int i = 0; i < n * hw; i++) { double d = x[i] - mean; ss += d * d; }
        CHECK_NEAR(bn.running_mean[0], 0.9 * rm0 + 0.1 * mean, 1e-5, "bn running mean");
        CHECK_NEAR(bn.running_var[0], 0.9 * rv0 + 0.1 * ss / (n * hw - 1), 1e-5, "bn running var (unbiased)");
    }
    free(bn.gamma); free(bn.beta); free(bn.running_mean); free(bn.running_var); free(bn.ggamma);
    free(bn.gbeta); free(bn.save_mean); free(bn.save_invstd); free(x); free(r); free(y); free(gx);
    free(v); free(xp); free(vg);
}

/* ---- pooling, head, loss ---- */
static void test_pool_and_head(void)
{
    const int nc = 4, h = 7, w = 11, kh = 2, kw = 3, ho = h / kh, wo = w / kw;
    float *x = rand_vec((size_t)nc * h * w, 1), *r = rand_vec((size_t)nc * ho * wo, 1);
    float *y = malloc(sizeof(float) * nc * ho * wo), *gx = malloc(sizeof(float) * nc * h * w);
    adv_avgpool_forward(nc, h, w, kh, kw, x, y, nthreads);
    adv_avgpool_backward(nc, h, w, kh, kw, r, gx, NULL, 1, NULL, nthreads);
    /* linear: the adjoint identity holds exactly */
    double lhs = dot(y, r, (size_t)nc * ho * wo), rhs = dot(x, gx, (size_t)nc * h * w);
    CHECK(fabs(lhs - rhs) <= 1e-5 * (1 + fabs(lhs)), "avgpool adjoint: %g vs %g", lhs, rhs);
    /* floor: the last row and column that do not fill a window get no gradient */
    CHECK(gx[(h - 1) * w + 0] == 0.0f && gx[w - 1] == 0.0f, "avgpool floors the remainder");
    free(x); free(r); free(y); free(gx);

    const int n = 2, c = 3, hh = 4, ww = 5;
    float *hx = rand_vec((size_t)n * c * hh * ww, 1), *hg = malloc(sizeof(float) * n * c * hh * ww);
    float hy[6], hr[6] = {0.3f, -1.0f, 0.5f, 2.0f, -0.7f, 1.1f};
    int am[6];
    adv_head_forward(n, c, hh, ww, hx, hy, am);
    adv_head_backward(n, c, hh, ww, am, hr, hg);
    const double e = 1e-3;
    float *v = rand_vec((size_t)n * c * hh * ww, 1), *xp = malloc(sizeof(float) * n * c * hh * ww);
    float yp[6], ym[6];
    for (int i = 0; i < n * c * hh * ww; i++) xp[i] = hx[i] + (float)e * v[i];
    adv_head_forward(n, c, hh, ww, xp, yp, am);
    for (int i = 0; i < n * c * hh * ww; i++) xp[i] = hx[i] - (float)e * v[i];
    adv_head_forward(n, c, hh, ww, xp, ym, am);
    check_direction("head (mean freq, max time)", (dot(yp, hr, 6) - dot(ym, hr, 6)) / (2 * e), hg, v, (size_t)n * c * hh * ww);
    free(hx); free(hg); free(v); free(xp);

    float logits[24], gl[24], lp[24];
    int labels[2] = {3, 11};
    for (int i = 0; i < 24; i++) logits[i] = 2 * adv_rng_normal(&rng);
    adv_cross_entropy(2, 12, logits, labels, gl);
    float *vl = rand_vec(24, 1);
    for (int i = 0; i < 24; i++) lp[i] = logits[i] + (float)e * vl[i];
    double fp = adv_cross_entropy(2, 12, lp, labels, NULL);
    for (int i = 0; i < 24; i++) lp[i] = logits[i] - (float)e * vl[i];
    double fm = adv_cross_entropy(2, 12, lp, labels, NULL);
    check_direction("cross-entropy", (fp - fm) / (2 * e), gl, vl, 24);
    free(vl);
}

/* ---- the whole network ---- */
static double net_loss(adv_net *net, adv_model *m, const float *x, const float *r, int n)
{
    float logits[4 * ADV_N_CLASSES];
    /* fixed statistics for probing: restore running stats after a training-mode forward */
    float *saved[ADV_N_BN][2];
    for (int i = 0; i < ADV_N_BN; i++) {
        saved[i][0] = malloc(sizeof(float) * m->bn[i].c);
        saved[i][1] = malloc(sizeof(float) * m->bn[i].c);
        memcpy(saved[i][0], m->bn[i].running_mean, sizeof(float) * m->bn[i].c);
        memcpy(saved[i][1], m->bn[i].running_var, sizeof(float) * m->bn[i].c);
    }
    adv_net_forward(net, x, logits);
    for (int i = 0; i < ADV_N_BN; i++) {
        memcpy(m->bn[i].running_mean, saved[i][0], sizeof(float) * m->bn[i].c);
        memcpy(m->bn[i].running_var, saved[i][1], sizeof(float) * m->bn[i].c);
        free(saved[i][0]);
        free(saved[i][1]);
    }
    return dot(logits, r, (size_t)n * ADV_N_CLASSES);
}

static void test_network(int training)
{
    adv_model *m = adv_model_create(7);
    CHECK(m != NULL, "model create");
    if (!m) return;
    for (int i = 0; i < ADV_N_BN; i++)
        for (int c = 0; c < m->bn[i].c; c++) {
            m->bn[i].running_mean[c] = 0.1f * adv_rng_normal(&rng);
            m->bn[i].running_var[c] = 0.5f + tu_rand_uniform(&rng, 0, 1);
        }
    for (int k = 0; k < m->conv[7].cout * m->conv[7].cin; k++) m->conv[7].w[k] *= 10;   /* logits of O(1) */
    const int n = training ? 3 : 1, t = 40;
    adv_net *net = adv_net_create(m, n, t, training, 1);
    adv_net_set_dropout(net, 0);
    size_t nx = (size_t)n * ADV_N_MELS * t;
    float *x = rand_vec(nx, 1), *r = rand_vec((size_t)n * ADV_N_CLASSES, 1), *gx = malloc(sizeof(float) * nx);
    adv_model_zero_grad(m);
    net_loss(net, m, x, r, n);
    adv_net_backward(net, r, gx);
    float *v = probe_direction(gx, nx), *xp = malloc(sizeof(float) * nx);
    const double e = fmin(1e-2, 0.01 / fmax(fabs(dot(gx, v, nx)), 1e-30));
    for (size_t i = 0; i < nx; i++) xp[i] = x[i] + (float)e * v[i];
    double lp = net_loss(net, m, xp, r, n);
    for (size_t i = 0; i < nx; i++) xp[i] = x[i] - (float)e * v[i];
    double lm = net_loss(net, m, xp, r, n);
    check_direction(training ? "network (train) input" : "network (eval) input", (lp - lm) / (2 * e), gx, v, nx);

    if (training) {
        /* each parameter tensor separately, along its gradient (plus a random part) */
        for (int layer = 0; layer < ADV_N_CONV + ADV_N_BN; layer++)
            for (int part = 0; part < 2; part++) {
                float *p, *gp;
                size_t np;
                char what[64];
                if (layer < ADV_N_CONV) {
                    adv_conv *c = &m->conv[layer];
                    np = part ? (size_t)c->cout : (size_t)c->cout * c->cin * c->k * c->k;
                    p = part ? c->b : c->w;
                    gp = part ? c->gb : c->gw;
                    snprintf(what, sizeof what, "conv%d.%s", layer + 1, part ? "bias" : "weight");
                } else {
                    adv_bn *b = &m->bn[layer - ADV_N_CONV];
                    np = (size_t)b->c;
                    p = part ? b->beta : b->gamma;
                    gp = part ? b->gbeta : b->ggamma;
                    snprintf(what, sizeof what, "bn%d.%s", layer - ADV_N_CONV + 1, part ? "bias" : "weight");
                }
                float *p0 = malloc(sizeof(float) * np), *vp = probe_direction(gp, np);
                memcpy(p0, p, sizeof(float) * np);
                /* step so that the first-order change of the loss is about 0.01: linear regime */
                const double ep = fmin(1e-2, 0.01 / fmax(fabs(dot(gp, vp, np)), 1e-30));
                for (size_t i = 0; i < np; i++) p[i] = p0[i] + (float)ep * vp[i];
                lp = net_loss(net, m, x, r, n);
                for (size_t i = 0; i < np; i++) p[i] = p0[i] - (float)ep * vp[i];
                lm = net_loss(net, m, x, r, n);
                memcpy(p, p0, sizeof(float) * np);
                check_direction(what, (lp - lm) / (2 * ep), gp, vp, np);
                free(p0);
                free(vp);
            }
    }
    free(x); free(r); free(gx); free(v); free(xp);
    adv_net_free(net);
    adv_model_free(m);
}

int main(void)
{
    test_conv(1, 4, 5, 2, 2, 2, 12, 9);
    test_conv(3, 5, 3, 1, 1, 2, 6, 7);
    test_conv(6, 4, 1, 1, 0, 2, 3, 5);
    test_conv(7, 6, 3, 1, 1, 3, 9, 12);   /* odd height: Winograd tiles cut at the border */
    adv_conv_set_winograd(0);              /* the plain path too */
    test_conv(3, 5, 3, 1, 1, 2, 6, 7);
    test_conv(64, 32, 3, 1, 1, 2, 25, 29);
    adv_conv_set_winograd(1);
    test_conv(64, 32, 3, 1, 1, 2, 25, 29);
    test_winograd_vs_plain(5, 7, 3, 9, 11, 1);
    test_winograd_vs_plain(5, 7, 3, 9, 11, 2);
    test_winograd_vs_plain(64, 32, 2, 25, 29, 2);
    test_winograd_vs_plain(24, 40, 1, 12, 9, 2);
    test_winograd_vs_plain(16, 16, 40, 6, 7, 2);   /* many tiles: block-parallel path */
    test_bn(0);
    test_bn(1);
    test_pool_and_head();
    test_network(0);
    test_network(1);
    return tu_finish("test_nn_grad");
}
