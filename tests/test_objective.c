/* The objective the attacks follow (adv_attack_objective) and what it implies for a run:
 *  - C&W and MS-C&W with alpha 0: only the distance acts, its minimum is the clean clip, so the
 *    clip comes out unchanged (a distance measured from anything else moves it);
 *  - the MS-C&W distance is 0 with a zero gradient at delta = 0;
 *  - at a non-zero delta the distance and its gradient match the paper's loss re-stated in float64
 *    torch (tests/reference/msloss_ref.py -> golden/msloss.safetensors): loss within 1e-4
 *    relative, gradient within 2e-2 relative L2 error (the float32 limit explained in
 *    tests/test_msloss.c) and cosine > 0.999;
 *  - the gradient of the whole C&W objective (distance + alpha CE through the classifier) against
 *    central finite differences of the objective itself (within 1 %). */
#include "testutil.h"
#include "advinst/attack.h"
#include "advinst/error.h"
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
 * and the perturbation's own, against <grad, v>. (Not for the multi-scale distance: its log term
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
    double gmax = 0, dmax = 0;
    for (long i = 0; i < nd; i++) { gmax = fmax(gmax, fabs(g[i])); dmax = fmax(dmax, fabs(delta[i])); }
    for (int k = 0; k < 2; k++) {
        double an = 0, fp, fm;
        for (long i = 0; i < nd; i++) v[i] = (float)(k == 0 ? h * g[i] / gmax : h * delta[i] / dmax);
        for (long i = 0; i < nd; i++) d[i] = delta[i] + v[i];
        adv_attack_objective(ws, p, x, 0, d, &fp, NULL, NULL);
        for (long i = 0; i < nd; i++) d[i] = delta[i] - v[i];
        adv_attack_objective(ws, p, x, 0, d, &fm, NULL, NULL);
        /* the steps actually taken, after rounding delta +- v to float */
        for (long i = 0; i < nd; i++) an += (double)g[i] * (((double)delta[i] + v[i]) - ((double)delta[i] - v[i])) / 2;
        double fd = (fp - fm) / 2;
        printf("  %s, along the %s: finite difference %.6g, gradient %.6g\n", what, k ? "perturbation" : "gradient", fd, an);
        CHECK(fabs(fd - an) <= tol * fabs(an), "%s, along the %s: finite difference %.6g vs gradient %.6g", what,
              k ? "perturbation" : "gradient", fd, an);
    }
    free(g); free(d); free(v);
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
    free(x);
    free(delta);
    adv_model_free(model);
    return tu_finish("test_objective");
}
