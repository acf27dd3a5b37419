/* splitmix64 (see include/advinst/rng.h). */
#include "advinst/rng.h"
#include <math.h>

#define GOLDEN 0x9e3779b97f4a7c15ULL

static inline uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t adv_rng_next(uint64_t *s) { return mix(*s += GOLDEN); }

uint64_t adv_rng_at(uint64_t s, uint64_t k) { return mix(s + k * GOLDEN); }

float adv_rng_uniform(uint64_t *s) { return (float)((adv_rng_next(s) >> 40) * (1.0 / 16777216.0)); }

float adv_rng_normal(uint64_t *s)
{
    double u1 = ((adv_rng_next(s) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (adv_rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}
