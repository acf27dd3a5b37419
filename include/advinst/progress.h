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
    double work_total;   /* > 0: the bar and ETA follow work done (adv_progress_update_work) */
    double work_done;
} adv_progress;

void adv_progress_start(adv_progress *p, const char *label, long total);
/* Sets done and optionally status (NULL keeps it); redraws at most 10 times a second. */
void adv_progress_update(adv_progress *p, long done, const char *status);
/* Weighs the items: when they cost unequal time (an attack on a 30 s clip against one on 2 s),
 * the bar and the ETA follow the work done (e.g. seconds of audio), not the items counted. */
void adv_progress_set_work(adv_progress *p, double total);
/* As adv_progress_update, with the work done so far. */
void adv_progress_update_work(adv_progress *p, long done, double work_done, const char *status);
/* The fraction done (0-1) and the estimated seconds left at time `now` (adv_now()), or -1 before
 * anything is done. */
double adv_progress_fraction(const adv_progress *p);
double adv_progress_eta(const adv_progress *p, double now);
/* Final draw and newline. */
void adv_progress_finish(adv_progress *p);

/* Monotonic clock in seconds. */
double adv_now(void);
/* CPU time of the whole process (all threads) in seconds: on a shared machine, the time the
 * process actually ran (benchmarks at one thread report it beside the wall time). */
double adv_cpu_now(void);
#endif
