/* Optimisers: Adam (PyTorch's formulation, bias-corrected) for training and for perturbations,
 * and the sign of a gradient as the attacks use it. */
#ifndef ADVINST_OPTIM_H
#define ADVINST_OPTIM_H
#include <stddef.h>

typedef struct {
    size_t n;
    float lr, beta1, beta2, eps;
    long step;
    float *m, *v;     /* first and second moments [n] */
} adv_adam;

/* betas 0.9 / 0.999, eps 1e-8. */
int adv_adam_init(adv_adam *a, size_t n, float lr);
void adv_adam_free(adv_adam *a);
/* Forgets the moments and the step count (a new perturbation). */
void adv_adam_reset(adv_adam *a);
/* params -= lr * mhat / (sqrt(vhat) + eps), after updating the moments with grads. */
void adv_adam_step(adv_adam *a, float *params, const float *grads);

/* out[i] = sign(g[i]) in {-1, 0, 1}; NaN gives 0. In place allowed. */
void adv_sign(size_t n, const float *g, float *out);
#endif
