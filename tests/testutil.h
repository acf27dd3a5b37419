/* Tiny test harness: CHECK macros that count failures, and helpers shared by tests. */
#ifndef ADVINST_TESTUTIL_H
#define ADVINST_TESTUTIL_H
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stddef.h>
#include "advinst/rng.h"
#include "advinst/safetensors.h"

extern int tu_failures;
extern int tu_checks;

#define CHECK(cond, ...) do { tu_checks++; if (!(cond)) { tu_failures++; \
  fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
  fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
#define CHECK_NEAR(a, b, tol, what) do { double _a = (a), _b = (b); \
  CHECK(fabs(_a - _b) <= (tol), "%s: %.9g vs %.9g (tol %.3g)", what, _a, _b, (double)(tol)); } while (0)

/* Prints the summary line and returns the process exit code. */
int tu_finish(const char *name);

/* Deterministic pseudo-random numbers: advinst/rng.h, and uniform in [lo, hi). */
float tu_rand_uniform(uint64_t *state, float lo, float hi);

/* Relative L2 error ||a-b|| / max(||b||, tiny) and cosine similarity. */
double tu_rel_error(const float *a, const float *b, size_t n);
double tu_cosine(const float *a, const float *b, size_t n);

/* "dir/name" in one of 8 rotating static buffers. */
const char *tu_path(const char *dir, const char *name);
/* The whole file, malloc'd with one spare byte (NULL if unreadable); *size its length. */
unsigned char *tu_read_file(const char *path, size_t *size);

/* The F32 tensor `name` of a parsed safetensors file (NULL if absent or not F32); *count its
 * number of values (count may be NULL). */
const float *tu_st_f32(const adv_st *st, const char *name, size_t *count);

/* Makes an empty scratch directory under the build tree for this test; returns its path. */
const char *tu_scratch_dir(const char *test_name);
#endif
