/* OpenBLAS set-up: the fast kernels by default, thread count, and what was picked. */
#ifndef ADVINST_BLAS_H
#define ADVINST_BLAS_H

/* Debian's OpenBLAS uses its Haswell kernels on AVX-512 CPUs that it does not recognise (and
 * environments often pin OPENBLAS_CORETYPE=Haswell); its SkylakeX kernels are about twice as fast
 * there, but OPENBLAS_CORETYPE must be set before the library loads. Programs call this first thing
 * in main(): it sets OPENBLAS_CORETYPE to $ADVINST_BLAS_CORETYPE if given, else to SkylakeX when
 * the CPU has AVX-512 (F, BW, DQ, VL), and re-executes the program once (same argv) if that
 * changes the value. ADVINST_BLAS_CORETYPE=keep leaves OpenBLAS's own choice alone. It also sets
 * OMP_WAIT_POLICY=PASSIVE unless the user set a policy: spinning OpenMP threads starve each other
 * and the audio thread on a busy machine (measured: 2-thread attacks 25x slower while another
 * process used the second core). */
void adv_blas_prefer_fast_kernels(char **argv);

/* Threads of the numerics (OpenMP; 0 = OpenMP's default). OpenBLAS itself is set to one thread:
 * the convolutions call sgemm from their own parallel loops. Library users should call this (or
 * openblas_set_num_threads(1)) before running networks, to avoid oversubscription. */
void adv_blas_set_threads(int threads);
/* OpenBLAS's kernel name (e.g. "SkylakeX") and thread count, for reports. */
const char *adv_blas_core_name(void);
int adv_blas_threads(void);
#endif
