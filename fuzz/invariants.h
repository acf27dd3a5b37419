/* Checks shared by the harnesses: a broken invariant prints what and aborts, which libFuzzer
 * reports as a crash with the input that caused it. */
#ifndef ADVINST_FUZZ_INVARIANTS_H
#define ADVINST_FUZZ_INVARIANTS_H
#include "advinst/error.h"
#include "advinst/live.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_REQUIRE(cond, ...) do { if (!(cond)) { \
  fprintf(stderr, "invariant broken at %s:%d: %s: ", __FILE__, __LINE__, #cond); \
  fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); abort(); } } while (0)

/* What docs/live.md promises of the live settings, whichever way they were set (OSC, preset). */
static inline void fuzz_check_live_settings(const adv_live_settings *s)
{
    FUZZ_REQUIRE(s->method >= ADV_LIVE_OFF && s->method < ADV_LIVE_N_METHODS, "method %d", (int)s->method);
    FUZZ_REQUIRE(s->target == ADV_LIVE_TARGET_NONE || s->target == ADV_LIVE_TARGET_RANDOM ||
                 (s->target >= 0 && s->target < ADV_N_CLASSES), "target %d", s->target);
    FUZZ_REQUIRE(isfinite(s->eps) && s->eps > 0 && s->eps <= 1, "eps %g", (double)s->eps);
    FUZZ_REQUIRE(isfinite(s->lr) && s->lr > 0 && s->lr <= 1, "lr %g", (double)s->lr);
    FUZZ_REQUIRE(isfinite(s->alpha) && s->alpha >= 0 && s->alpha <= 1e6, "alpha %g", (double)s->alpha);
    FUZZ_REQUIRE(s->max_iter >= 1 && s->max_iter <= 1000000, "max_iter %ld", s->max_iter);
    FUZZ_REQUIRE(isfinite(s->confidence) && s->confidence >= 0 && s->confidence <= 1, "confidence %g",
                 (double)s->confidence);
    FUZZ_REQUIRE(s->bypass == 0 || s->bypass == 1, "bypass %d", s->bypass);
    FUZZ_REQUIRE(memchr(s->preset, 0, sizeof s->preset) != NULL, "preset name not terminated");
}
#endif
