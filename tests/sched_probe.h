/* A scheduling probe for the JACK tests: one real-time thread per CPU (pinned, SCHED_FIFO above
 * JACK's threads) wakes every millisecond and notes each wake-up that came late by more than a
 * threshold: the machine's own stalls (on a virtual machine, the host not running a virtual CPU),
 * which no JACK client can prevent. A test then asks whether each xrun it saw coincides with one. */
#ifndef ADVINST_TEST_SCHED_PROBE_H
#define ADVINST_TEST_SCHED_PROBE_H

/* Starts the probe threads (CLOCK_MONOTONIC seconds are the time base). 0, or -1 if no thread
 * could be made real-time (the test then cannot tell a stall from a slow client). */
int sched_probe_start(double min_stall_s);
void sched_probe_stop(void);
/* The longest wake-up delay seen, in seconds. */
double sched_probe_max(void);
/* Number of stalls (wake-ups later than min_stall_s) seen. */
int sched_probe_stalls(void);
/* 1 if a stall was seen that overlaps [t - before, t + after] (a stall of d noticed at time w
 * covers [w - d, w]). */
int sched_probe_explains(double t, double before, double after);
#endif
