/* Error reporting: library functions return a status (0 ok, -1 failure) or NULL and leave a
 * one-line human-readable message, per thread, that the caller prints. */
#ifndef ADVINST_ERROR_H
#define ADVINST_ERROR_H

/* The last error message set on this thread ("" if none). */
const char *adv_error(void);

/* Sets this thread's error message (printf-style). Always returns -1 for `return adv_fail(...)`. */
int adv_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Same, for a failure to write an output (disk full, permissions, I/O error): until the next
 * adv_fail, adv_error_exit calls for ADV_EXIT_OUTPUT. */
int adv_fail_output(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The exit code this thread's last failure calls for: ADV_EXIT_OUTPUT after adv_fail_output,
 * else `fallback`. */
int adv_error_exit(int fallback);

/* Exit codes of the programs (documented in README). */
enum {
    ADV_EXIT_OK = 0,
    ADV_EXIT_FAILURE = 1,    /* the work failed (e.g. attack failed with --require-success) */
    ADV_EXIT_USAGE = 2,      /* bad options or arguments */
    ADV_EXIT_INPUT = 3,      /* unreadable or invalid input file (audio, model, preset, data set) */
    ADV_EXIT_OUTPUT = 4,     /* could not write output (disk full, permissions, exists) */
    ADV_EXIT_AUDIO_SERVER = 5, /* JACK server unavailable or lost */
    ADV_EXIT_INTERRUPTED = 130
};
#endif
