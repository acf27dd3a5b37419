#include "testutil.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tu_failures = 0;
int tu_checks = 0;

int tu_finish(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, tu_checks, tu_failures);
    return tu_failures ? 1 : 0;
}

uint64_t tu_rand_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

float tu_rand_uniform(uint64_t *s, float lo, float hi)
{
    return lo + (hi - lo) * (float)((tu_rand_u64(s) >> 40) / (double)(1ULL << 24));
}

float tu_rand_normal(uint64_t *s)
{
    double u1 = ((tu_rand_u64(s) >> 11) + 1.0) / 9007199254740993.0;
    double u2 = (tu_rand_u64(s) >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

double tu_rel_error(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return sqrt(num) / fmax(sqrt(den), 1e-30);
}

double tu_cosine(const float *a, const float *b, size_t n)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return ab / fmax(sqrt(aa * bb), 1e-300);
}

const char *tu_scratch_dir(const char *test_name)
{
    static char path[1024];
    snprintf(path, sizeof path, "/tmp/advinst-test-%s-%d", test_name, (int)getpid());
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0 || mkdir(path, 0755) != 0) return NULL;
    return path;
}
