#include "advinst/blas.h"
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void adv_blas_prefer_fast_kernels(char **argv)
{
    const char *off = getenv("ADVINST_NO_FAST_BLAS");
    if (getenv("OPENBLAS_CORETYPE") || (off && *off && strcmp(off, "0") != 0)) return;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
          __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")))
        return;
    if (setenv("OPENBLAS_CORETYPE", "SkylakeX", 1) != 0) return;
    execv("/proc/self/exe", argv);
    /* exec failed (e.g. no /proc): carry on with the kernels already loaded */
    unsetenv("OPENBLAS_CORETYPE");
#else
    (void)argv;
#endif
}

void adv_blas_set_threads(int threads)
{
    if (threads > 0) openblas_set_num_threads(threads);
}

const char *adv_blas_core_name(void) { return openblas_get_corename(); }
int adv_blas_threads(void) { return openblas_get_num_threads(); }
