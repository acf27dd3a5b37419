#include "testutil.h"
#include "advinst/safetensors.h"
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

float tu_rand_uniform(uint64_t *s, float lo, float hi) { return lo + (hi - lo) * adv_rng_uniform(s); }

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

const char *tu_path(const char *dir, const char *name)
{
    static char buf[8][1200];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

unsigned char *tu_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = n >= 0 ? (size_t)n : 0;
    return buf;
}

const float *tu_st_f32(const adv_st *st, const char *name, size_t *count)
{
    const adv_tensor *t = adv_st_find(st, name);
    if (!t || t->dtype != ADV_DTYPE_F32) return NULL;
    if (count) *count = t->nbytes / sizeof(float);
    return t->data;
}
