/* The objective the attacks follow (adv_attack_objective) and what it implies for a run:
 *  - C&W and MS-C&W with alpha 0: only the distance acts, its minimum is the clean clip, so the
 *    clip comes out unchanged (a distance measured from anything else moves it);
 *  - the MS-C&W distance is 0 with a zero gradient at delta = 0;
 *  - at a non-zero delta the distance and its gradient match the paper's loss re-stated in float64
 *    torch (tests/reference/msloss_ref.py -> golden/msloss.safetensors): loss within 1e-4
 *    relative, gradient within 2e-2 relative L2 error (the float32 limit explained in
 *    tests/test_msloss.c) and cosine > 0.999;
 *  - at 44.1 kHz stereo and 48 kHz mono (a 16 kHz delta brought to the rate, clamped to eps, the
 *    loss at 16 kHz; include/advinst/perturb.h): the MS-C&W objective and gradient against their
 *    float64 torch re-statement (golden/mscw_441, mscw_48), within 1e-4 and 2e-2;
 *  - the gradient of the whole C&W objective (distance + alpha CE through U, the eps clamp, the
 *    mix, the resampler and the classifier) against central finite differences of the objective
 *    itself (within 1 %) at 16, 44.1 and 48 kHz;
 *  - U (16 kHz -> R) and its adjoint, passband, the clamp's mask, at 8 ... 48 kHz. */
#include "testutil.h"
#include "advinst/attack.h"
#include "advinst/error.h"
#include "advinst/perturb.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 1111;

static adv_model *model;

/* C&W and MS-C&W with alpha 0 leave the clip as it was, bit for bit, whatever the iterations. */
static void test_alpha_zero(const float *x, long n)
{
    for (int m = ADV_CW; m <= ADV_MSCW; m++) {
        adv_attack_ws *ws = adv_attack_ws_create(model, 16000, n, 1, m == ADV_MSCW);
        float *out = malloc(sizeof(float) * n);
        adv_attack_params p;
        adv_attack_defaults(m, &p);
        p.alpha = 0;
        p.lr = 1e-3f;
        p.max_iter = 30;
        p.target = 4;
        adv_attack_result r;
        int rc = adv_attack_run(ws, &p, x, 0, out, &r);
        CHECK(rc == 0 && r.iterations == 30, "%s alpha 0: run %d, %ld iterations (%s)", adv_attack_method_name(m), rc,
              r.iterations, adv_error());
        CHECK(memcmp(out, x, sizeof(float) * n) == 0, "%s alpha 0: the output differs from the input (SNR %.1f dB)",
              adv_attack_method_name(m), adv_snr_db(x, out, n));
        adv_attack_ws_free(ws);
        free(out);
    }
}

/* The distance at delta = 0 and at the golden delta. */
static void test_distance_golden(void)
{
    adv_st st;
    if (adv_st_read("golden/msloss.safetensors", &st) != 0) { CHECK(0, "%s", adv_error()); return; }
    size_t n = 0, nd = 0, ng = 0;
    const float *x = tu_st_f32(&st, "clean", &n), *delta = tu_st_f32(&st, "delta", &nd), *gref = tu_st_f32(&st, "grad_delta", &ng);
    const adv_tensor *lt = adv_st_find(&st, "loss");
    CHECK(x && delta && gref && lt && lt->dtype == ADV_DTYPE_F64 && nd == n && ng == n, "golden msloss layout");
    if (!(x && delta && gref && lt && nd == n && ng == n)) { adv_st_free(&st); return; }
    const double lref = *(const double *)lt->data;

    adv_attack_ws *ws = adv_attack_ws_create(model, 16000, (long)n, 1, 1);
    float *g = malloc(sizeof(float) * n), *zero = calloc(n, sizeof(float));
    adv_attack_params p;
    adv_attack_defaults(ADV_MSCW, &p);
    p.alpha = 0;
    p.target = 3;
    double value, dist;
    CHECK(adv_attack_objective(ws, &p, x, 0, zero, &value, &dist, g) == 0, "objective: %s", adv_error());
    double gmax = 0;
    for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(g[i]));
    CHECK(value == 0 && dist == 0 && gmax == 0, "MS-C&W at delta = 0: objective %g, distance %g, max |gradient| %g", value,
          dist, gmax);

    CHECK(adv_attack_objective(ws, &p, x, 0, delta, &value, &dist, g) == 0, "objective: %s", adv_error());
    double rel = tu_rel_error(g, gref, n), cs = tu_cosine(g, gref, n);
    printf("  MS-C&W distance %.8g (float64 torch %.8g), gradient rel. error %.2e, cosine %.7f\n", dist, lref, rel, cs);
    CHECK(fabs(dist - lref) <= 1e-4 * lref, "distance %.8g vs the paper's loss in float64 %.8g", dist, lref);
    CHECK(value == dist, "alpha 0: objective %g = distance %g", value, dist);
    CHECK(rel <= 2e-2 && cs > 0.999, "gradient vs float64 torch: relative error %.3g, cosine %.6f", rel, cs);
    adv_attack_ws_free(ws);
    free(g);
    free(zero);
    adv_st_free(&st);
}

/* Central differences of the objective along two directions v with |v|_inf = h, the gradient's
 * and its sign's (the attacks' step), against <grad, v>. (Not for the multi-scale distance: its log term
 * weighs each bin by 1 / |X|, and bins of the real-valued DC and Nyquist rows pass arbitrarily close
 * to |X| = 0, where |X| is a cone: central differences at any step a float forward resolves see it
 * as symmetric and lose that share. Its gradient is checked against the float64 reference, which
 * is itself checked by finite differences in float64.) */
static void check_fd(const char *what, adv_attack_ws *ws, const adv_attack_params *p, const float *x, long nd,
                     const float *delta, double h, double tol)
{
    float *g = malloc(sizeof(float) * nd), *d = malloc(sizeof(float) * nd), *v = malloc(sizeof(float) * nd);
    double f0;
    adv_attack_objective(ws, p, x, 0, delta, &f0, NULL, g);
    double gmax = 0;
    for (long i = 0; i < nd; i++) gmax = fmax(gmax, fabs(g[i]));
    for (int k = 0; k < 2; k++) {
        double an = 0, fp, fm;
        for (long i = 0; i < nd; i++) v[i] = (float)(k == 0 ? h * g[i] / gmax : h * ((g[i] > 0) - (g[i] < 0)));
        for (long i = 0; i < nd; i++) d[i] = delta[i] + v[i];
        adv_attack_objective(ws, p, x, 0, d, &fp, NULL, NULL);
        for (long i = 0; i < nd; i++) d[i] = delta[i] - v[i];
        adv_attack_objective(ws, p, x, 0, d, &fm, NULL, NULL);
        /* the steps actually taken, after rounding delta +- v to float */
        for (long i = 0; i < nd; i++) an += (double)g[i] * (((double)delta[i] + v[i]) - ((double)delta[i] - v[i])) / 2;
        double fd = (fp - fm) / 2;
        printf("  %s, along the %s: finite difference %.6g, gradient %.6g\n", what, k ? "gradient's sign" : "gradient", fd, an);
        CHECK(fabs(fd - an) <= tol * fabs(an), "%s, along the %s: finite difference %.6g vs gradient %.6g", what,
              k ? "gradient's sign" : "gradient", fd, an);
    }
    free(g); free(d); free(v);
}

/* The MS-C&W objective at another rate (a 16 kHz delta upsampled, clamped to eps, the loss at
 * 16 kHz) against its float64 torch re-statement (golden/mscw_<name>.safetensors). */
static void test_rate_golden(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "golden/mscw_%s.safetensors", name);
    adv_st st;
    if (adv_st_read(path, &st) != 0) { CHECK(0, "%s", adv_error()); return; }
    const adv_tensor *wt = adv_st_find(&st, "wave"), *tt = adv_st_find(&st, "target"), *lt = adv_st_find(&st, "loss"),
                     *dt = adv_st_find(&st, "distance");
    size_t nd = 0, ng = 0;
    const float *delta = tu_st_f32(&st, "delta16", &nd), *gref = tu_st_f32(&st, "grad_delta16", &ng);
    const float *eps = tu_st_f32(&st, "eps", NULL), *alpha = tu_st_f32(&st, "alpha", NULL);
    const char *rate_s = adv_st_meta(&st, "rate");
    int ok = wt && wt->ndim == 2 && tt && lt && dt && delta && gref && eps && alpha && rate_s && nd == ng;
    CHECK(ok, "%s: golden layout", path);
    if (!ok) { adv_st_free(&st); return; }
    const int C = (int)wt->shape[0], rate = atoi(rate_s);
    const long n = (long)wt->shape[1];
    float *x = malloc(sizeof(float) * n * C), *g = malloc(sizeof(float) * nd);
    for (long i = 0; i < n; i++)
        for (int c = 0; c < C; c++) x[i * C + c] = ((const float *)wt->data)[(size_t)c * n + i];
    adv_attack_ws *ws = adv_attack_ws_create(model, rate, n, C, 1);
    CHECK(ws && adv_attack_ws_samples16k(ws) == (long)nd, "%s: workspace with %zu samples at 16 kHz", path, nd);
    if (ws && adv_attack_ws_samples16k(ws) == (long)nd) {
        adv_attack_params p;
        adv_attack_defaults(ADV_MSCW, &p);
        p.eps = *eps;
        p.alpha = *alpha;
        p.target = (int)*(const int64_t *)tt->data;
        double value, dist, lref = *(const double *)lt->data, dref = *(const double *)dt->data;
        CHECK(adv_attack_objective(ws, &p, x, 0, delta, &value, &dist, g) == 0, "objective: %s", adv_error());
        double rel = tu_rel_error(g, gref, nd), cs = tu_cosine(g, gref, nd);
        printf("  MS-C&W at %d Hz x %d: objective %.8g (float64 torch %.8g), distance %.8g (%.8g), gradient rel. error "
               "%.2e, cosine %.7f\n", rate, C, value, lref, dist, dref, rel, cs);
        CHECK(fabs(value - lref) <= 1e-4 * lref && fabs(dist - dref) <= 1e-4 * dref,
              "%d Hz: objective %.8g vs %.8g, distance %.8g vs %.8g", rate, value, lref, dist, dref);
        CHECK(rel <= 2e-2 && cs > 0.999, "%d Hz: gradient vs float64 torch: relative error %.3g, cosine %.6f", rate, rel, cs);
    }
    adv_attack_ws_free(ws);
    free(x);
    free(g);
    adv_st_free(&st);
}

/* U and its adjoint: <U d, g> = <d, U^T g>; the clamp's mask; backward = U^T (pass .* g). */
static void test_perturb(int rate, long frames)
{
    adv_perturb *pt = adv_perturb_create(rate, frames);
    CHECK(pt != NULL, "perturb %d Hz: %s", rate, adv_error());
    if (!pt) return;
    const long n16 = adv_perturb_samples16k(pt);
    CHECK(n16 == (long)ceil((double)frames * 16000 / rate - 1e-9), "%d Hz: %ld samples at 16 kHz for %ld frames", rate, n16, frames);
    float *d = malloc(sizeof(float) * n16), *u = malloc(sizeof(float) * frames), *g = malloc(sizeof(float) * frames);
    float *gt = malloc(sizeof(float) * n16), *pass = malloc(sizeof(float) * frames), *gb = malloc(sizeof(float) * n16);
    for (long i = 0; i < n16; i++) d[i] = adv_rng_normal(&rng);
    for (long i = 0; i < frames; i++) g[i] = adv_rng_normal(&rng);
    adv_perturb_upsample(pt, d, u);
    adv_perturb_upsample_adjoint(pt, g, gt);
    double lhs = 0, rhs = 0, norm = 0;
    for (long i = 0; i < frames; i++) lhs += (double)u[i] * g[i];
    for (long i = 0; i < n16; i++) { rhs += (double)d[i] * gt[i]; norm += fabs((double)d[i] * gt[i]); }
    CHECK(fabs(lhs - rhs) <= 1e-5 * norm, "%d Hz: <U d, g> %.9g vs <d, U^T g> %.9g", rate, lhs, rhs);
    /* a pure tone in the passband comes through at the same amplitude */
    for (long i = 0; i < n16; i++) d[i] = (float)(0.5 * sin(2 * M_PI * 1000.0 * i / 16000));
    adv_perturb_upsample(pt, d, u);
    double peak = 0;
    for (long i = frames / 4; i < 3 * frames / 4; i++) peak = fmax(peak, fabs(u[i] - 0.5 * sin(2 * M_PI * 1000.0 * i / rate)));
    CHECK(peak < 1e-3, "%d Hz: a 1 kHz tone at 16 kHz comes out at %d Hz within %.2g", rate, rate, peak);
    /* clamp and mask, and the backward through them */
    adv_perturb_forward(pt, d, 0.3f, u, pass);
    int ok = 1, clamped = 0;
    float *uu = malloc(sizeof(float) * frames);
    adv_perturb_upsample(pt, d, uu);
    for (long i = 0; i < frames; i++) {
        int in = fabsf(uu[i]) <= 0.3f;
        clamped += !in;
        ok &= in ? (u[i] == uu[i] && pass[i] == 1) : (fabsf(u[i]) == 0.3f && pass[i] == 0 && u[i] * uu[i] > 0);
    }
    CHECK(ok && clamped > frames / 4, "%d Hz: clamp to eps and its mask (%d clamped)", rate, clamped);
    adv_perturb_backward(pt, g, pass, gb);
    for (long i = 0; i < frames; i++) g[i] *= pass[i];
    adv_perturb_upsample_adjoint(pt, g, gt);
    int same = 1;
    for (long i = 0; i < n16; i++) same &= gb[i] == gt[i];
    CHECK(same, "%d Hz: backward = U^T (pass .* g)", rate);
    free(d); free(u); free(g); free(gt); free(pass); free(gb); free(uu);
    adv_perturb_free(pt);
}

int main(void)
{
    model = adv_model_load("golden/model.safetensors");
    CHECK(model != NULL, "golden model: %s", adv_error());
    if (!model) return tu_finish("test_objective");
    const long n = 12000;
    float *x = malloc(sizeof(float) * n), *delta = malloc(sizeof(float) * n);
    for (long i = 0; i < n; i++) {
        x[i] = (float)(0.3 * sin(2 * M_PI * 330 * i / 16000.0) + 0.1 * sin(2 * M_PI * 1250 * i / 16000.0) +
                       0.02 * adv_rng_normal(&rng));
        delta[i] = (float)(0.004 * adv_rng_normal(&rng));
    }
    test_alpha_zero(x, n);
    test_distance_golden();

    /* the whole C&W objective at 16 kHz */
    adv_attack_ws *ws = adv_attack_ws_create(model, 16000, n, 1, 0);
    adv_attack_params p;
    adv_attack_defaults(ADV_CW, &p);
    p.alpha = 10;
    p.eps = 1;
    p.target = 4;
    check_fd("C&W objective, 16 kHz", ws, &p, x, n, delta, 4e-5, 1e-2);
    adv_attack_ws_free(ws);

    /* at other rates: the 16 kHz delta, U, the eps clamp, the mix of two channels, the resampler
     * to 16 kHz, the classifier (C&W, finite differences) and the 16 kHz multi-scale loss (golden) */
    static const struct { int rate, channels; } rates[] = {{44100, 2}, {48000, 1}};
    for (size_t k = 0; k < 2; k++) {
        const int R = rates[k].rate, C = rates[k].channels;
        const long frames = (long)n * R / 16000;
        float *xr = malloc(sizeof(float) * frames * C);
        for (long i = 0; i < frames; i++)
            for (int c = 0; c < C; c++)
                xr[i * C + c] = (float)((0.3 - 0.1 * c) * sin(2 * M_PI * 330 * i / R) + 0.1 * sin(2 * M_PI * 1250 * i / R + c) +
                                        0.02 * adv_rng_normal(&rng));
        ws = adv_attack_ws_create(model, R, frames, C, 0);
        const long nd = adv_attack_ws_samples16k(ws);
        float *dr = malloc(sizeof(float) * nd);
        for (long i = 0; i < nd; i++) dr[i] = (float)(0.004 * adv_rng_normal(&rng));
        p.eps = 0.008f;   /* the clamp active on a few per cent of the samples */
        char what[64];
        snprintf(what, sizeof what, "C&W objective, %d Hz x %d", R, C);
        check_fd(what, ws, &p, xr, nd, dr, 4e-5, 1e-2);
        adv_attack_ws_free(ws);
        free(xr);
        free(dr);
    }
    test_rate_golden("441");
    test_rate_golden("48");
    test_perturb(16000, 5000);
    test_perturb(44100, 30001);
    test_perturb(48000, 24000);
    test_perturb(22050, 9999);
    test_perturb(8000, 4000);
    free(x);
    free(delta);
    adv_model_free(model);
    return tu_finish("test_objective");
}
