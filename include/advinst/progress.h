/* Progress bar with ETA for long work: drawn on stderr when it is a terminal, silent otherwise
 * (logs stay clean). */
#ifndef ADVINST_PROGRESS_H
#define ADVINST_PROGRESS_H

typedef struct {
    const char *label;
    long total;
    long done;
    double start;        /* monotonic seconds */
    double last_draw;
    int enabled;         /* stderr is a TTY and not disabled */
    char status[96];     /* free text after the bar, e.g. "loss 0.53 acc 0.81" */
} adv_progress;

void adv_progress_start(adv_progress *p, const char *label, long total);
/* Sets done and optionally status (NULL keeps it); redraws at most 10 times a second. */
void adv_progress_update(adv_progress *p, long done, const char *status);
/* Final draw and newline. */
void adv_progress_finish(adv_progress *p);

/* Monotonic clock in seconds. */
double adv_now(void);
/* CPU time of the whole process (all threads) in seconds: on a shared machine, the time the
 * process actually ran (benchmarks at one thread report it beside the wall time). */
double adv_cpu_now(void);
#endif
