#include "advinst/blas.h"
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The OpenBLAS core type to use: $ADVINST_BLAS_CORETYPE, else SkylakeX on AVX-512 CPUs, else
 * NULL (leave OpenBLAS's choice). */
static const char *wanted_core_type(void)
{
    const char *want = getenv("ADVINST_BLAS_CORETYPE");
    if (want && !strcmp(want, "keep")) return NULL;
    if (want && *want) return want;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
#endif
    return NULL;
}

void adv_blas_prefer_fast_kernels(char **argv)
{
    if (getenv("ADVINST_BLAS_REEXEC")) return;
    int changed = 0;
    const char *want = wanted_core_type(), *have = getenv("OPENBLAS_CORETYPE");
    char *old_core = have ? strdup(have) : NULL;
    if (want && !(have && !strcmp(have, want))) {
        setenv("OPENBLAS_CORETYPE", want, 1);
        changed = 1;
    }
    /* OpenMP threads that spin while waiting starve each other (and JACK) on a busy 2-core
     * machine: sleep instead, unless the user chose a policy */
    if (!getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        changed = 1;
    }
    if (changed) {
        setenv("ADVINST_BLAS_REEXEC", "1", 1);
        execv("/proc/self/exe", argv);
        /* exec failed (e.g. no /proc): carry on with what is already loaded */
        if (old_core) setenv("OPENBLAS_CORETYPE", old_core, 1);
        else unsetenv("OPENBLAS_CORETYPE");
        unsetenv("ADVINST_BLAS_REEXEC");
    }
    free(old_core);
}

void adv_blas_set_threads(int threads)
{
    /* parallelism is ours (OpenMP over images or blocks); sgemm runs single-threaded inside */
    openblas_set_num_threads(1);
    if (threads > 0) omp_set_num_threads(threads);
}

const char *adv_blas_core_name(void) { return openblas_get_corename(); }
int adv_blas_threads(void) { return omp_get_max_threads(); }
