/* The JACK end-to-end tests' own clients (tests/test_live_jack.c, tests/lv2_jalv.c): a player
 * client `player:out` playing a signal looped from a start frame on, and a recorder client
 * `recorder:in` recording from the same frame on; xruns counted. */
#ifndef ADVINST_TEST_LIVE_JACK_IO_H
#define ADVINST_TEST_LIVE_JACK_IO_H
#include <jack/jack.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#define LIVE_JACK_IO_MAX_XRUNS 256

typedef struct {
    jack_client_t *player, *recorder;
    jack_port_t *play_port, *rec_port;
    const float *sig;            /* played looped */
    long sig_len;
    float *rec;                  /* recorded, index = frames since the start */
    long rec_cap;
    _Atomic int64_t start_frame; /* -1: silence, nothing recorded */
    _Atomic int64_t play_pos, rec_pos; /* frames played / recorded since the start; -1 before it */
    atomic_long xruns, rec_max;  /* xruns: reset by the test to 0 before play if it likes */
    double xrun_at[LIVE_JACK_IO_MAX_XRUNS]; /* CLOCK_MONOTONIC seconds each xrun was reported */
} live_jack_io;

/* Opens and activates both clients on `server` (trying for 10 s while the server starts), playing
 * sig and recording up to rec_cap frames (allocated here). 0, or -1 if the server is not there. */
int live_jack_io_open(live_jack_io *io, const char *server, const float *sig, long sig_len, long rec_cap);
/* Starts playing and recording 1024 frames from now; returns that frame. */
int64_t live_jack_io_start(live_jack_io *io);
/* Frames recorded so far. */
long live_jack_io_frames(live_jack_io *io);
/* Xruns seen that no stall of the machine (tests/sched_probe.h, stopped before) explains. */
long live_jack_io_unexplained_xruns(const live_jack_io *io);
/* Number of real-time (SCHED_FIFO or SCHED_RR) threads of process pid, -1 if it is not there. */
int live_rt_threads(pid_t pid);
/* The CPU time of the engine's audio-thread work per period, in microseconds, as a host's log
 * states it at the end ("audio thread CPU per period: mean M us, 99 % under P us, longest L us"):
 * 0, or -1 if it does not. */
int live_log_cpu(const char *log, double *mean_us, double *p99_us, double *max_us);
/* Closes the clients and frees the recording. */
void live_jack_io_close(live_jack_io *io);
#endif
