#include "advinst/optim.h"
#include "advinst/error.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

int adv_adam_init(adv_adam *a, size_t n, float lr)
{
    memset(a, 0, sizeof *a);
    a->n = n;
    a->lr = lr;
    a->beta1 = 0.9f;
    a->beta2 = 0.999f;
    a->eps = 1e-8f;
    a->m = calloc(n ? n : 1, sizeof(float));
    a->v = calloc(n ? n : 1, sizeof(float));
    if (!a->m || !a->v) { adv_adam_free(a); return adv_fail("out of memory for Adam (%zu values)", n); }
    return 0;
}

void adv_adam_free(adv_adam *a)
{
    free(a->m);
    free(a->v);
    a->m = a->v = NULL;
}

void adv_adam_reset(adv_adam *a)
{
    a->step = 0;
    memset(a->m, 0, sizeof(float) * a->n);
    memset(a->v, 0, sizeof(float) * a->n);
}

void adv_adam_step(adv_adam *a, float *p, const float *g)
{
    a->step++;
    const float b1 = a->beta1, b2 = a->beta2;
    const double bc1 = 1.0 - pow(b1, (double)a->step), bc2 = 1.0 - pow(b2, (double)a->step);
    const float step_size = (float)(a->lr / bc1), inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2)), eps = a->eps;
    float *restrict m = a->m, *restrict v = a->v;
    const long n = (long)a->n;
    /* a model's parameters (training) in parallel; an attack's samples stay on the caller's thread */
#pragma omp parallel for schedule(static) if (n >= (1L << 18))
    for (long i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        p[i] -= step_size * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + eps);
    }
}

void adv_sign(size_t n, const float *g, float *out)
{
    for (size_t i = 0; i < n; i++) out[i] = g[i] > 0 ? 1.0f : (g[i] < 0 ? -1.0f : 0.0f);
}
