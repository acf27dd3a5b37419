/* Helpers for real-time and worker threads: memory the audio thread may touch without
 * page-faulting, denormal flushing and worker priorities. */
#ifndef ADVINST_RT_H
#define ADVINST_RT_H
#include <stddef.h>

/* Page-aligned, zeroed (every page resident now) and locked in RAM where RLIMIT_MEMLOCK allows
 * (best effort). Freed with the size it was allocated with. */
void *adv_rt_alloc(size_t bytes);
void adv_rt_free(void *p, size_t bytes);

/* Flush-to-zero and denormals-are-zero for the calling thread (and the OpenMP team it starts
 * later, which inherits the mode). For the live workers only; offline code keeps IEEE gradual
 * underflow (exact gradients). */
void adv_rt_flush_denormals(void);
/* The calling thread's floating-point control state, and setting it back: for a thread lent to the
 * engine by a host (the LV2 worker), flushed only while the engine works on it. */
unsigned long adv_rt_fp_mode(void);
void adv_rt_set_fp_mode(unsigned long mode);

/* Lowers the calling thread's scheduling priority to `nice_value` (workers yield to the audio
 * threads). */
void adv_rt_lower_priority(int nice_value);

/* Sleeps about 2 ms (workers polling their rings). */
void adv_rt_nap(void);
#endif
