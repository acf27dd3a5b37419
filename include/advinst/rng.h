/* splitmix64: the one pseudo-random generator of the project (explicit 64-bit state, advanced
 * deterministically), and the uniform and normal draws every module derives from it. */
#ifndef ADVINST_RNG_H
#define ADVINST_RNG_H
#include <stdint.h>

/* The next 64 random bits; advances *state. */
uint64_t adv_rng_next(uint64_t *state);
/* The k-th value (k >= 1) that adv_rng_next would return from `state`, computed directly
 * (draws made in parallel, each from its index). */
uint64_t adv_rng_at(uint64_t state, uint64_t k);
/* Uniform in [0, 1) on a 2^-24 grid (exact in float). */
float adv_rng_uniform(uint64_t *state);
/* Standard normal (Box-Muller, two draws). */
float adv_rng_normal(uint64_t *state);
#endif
