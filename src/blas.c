#include "advinst/blas.h"
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void adv_blas_prefer_fast_kernels(char **argv)
{
    const char *want = getenv("ADVINST_BLAS_CORETYPE");
    if (getenv("ADVINST_BLAS_REEXEC") || (want && !strcmp(want, "keep"))) return;
    if (!want || !*want) {
#if defined(__x86_64__)
        __builtin_cpu_init();
        if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
              __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")))
            return;
        want = "SkylakeX";
#else
        return;
#endif
    }
    const char *have = getenv("OPENBLAS_CORETYPE");
    if (have && !strcmp(have, want)) return;
    char *old = have ? strdup(have) : NULL;
    setenv("OPENBLAS_CORETYPE", want, 1);
    setenv("ADVINST_BLAS_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    /* exec failed (e.g. no /proc): carry on with the kernels already loaded */
    if (old) setenv("OPENBLAS_CORETYPE", old, 1);
    else unsetenv("OPENBLAS_CORETYPE");
    unsetenv("ADVINST_BLAS_REEXEC");
    free(old);
}

void adv_blas_set_threads(int threads)
{
    /* parallelism is ours (OpenMP over images or blocks); sgemm runs single-threaded inside */
    openblas_set_num_threads(1);
    if (threads > 0) omp_set_num_threads(threads);
}

const char *adv_blas_core_name(void) { return openblas_get_corename(); }
int adv_blas_threads(void) { return omp_get_max_threads(); }
