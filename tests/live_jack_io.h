/* The JACK end-to-end tests' own clients (tests/test_live_jack.c, tests/lv2_jalv.c): a player
 * client `player:out` playing a signal looped from a start frame on, and a recorder client
 * `recorder:in` recording from the same frame on; xruns counted. */
#ifndef ADVINST_TEST_LIVE_JACK_IO_H
#define ADVINST_TEST_LIVE_JACK_IO_H
#include <jack/jack.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct {
    jack_client_t *player, *recorder;
    jack_port_t *play_port, *rec_port;
    const float *sig;            /* played looped */
    long sig_len;
    float *rec;                  /* recorded, index = frames since the start */
    long rec_cap;
    _Atomic int64_t start_frame; /* -1: silence, nothing recorded */
    atomic_long xruns, rec_max;
} live_jack_io;

/* Opens and activates both clients on `server` (trying for 10 s while the server starts), playing
 * sig and recording up to rec_cap frames (allocated here). 0, or -1 if the server is not there. */
int live_jack_io_open(live_jack_io *io, const char *server, const float *sig, long sig_len, long rec_cap);
/* Starts playing and recording 1024 frames from now; returns that frame. */
int64_t live_jack_io_start(live_jack_io *io);
/* Frames recorded so far. */
long live_jack_io_frames(live_jack_io *io);
/* Closes the clients and frees the recording. */
void live_jack_io_close(live_jack_io *io);
#endif
