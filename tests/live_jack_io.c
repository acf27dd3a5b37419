/* See live_jack_io.h. */
#include "live_jack_io.h"
#include <stdlib.h>
#include <time.h>

static int play_process(jack_nframes_t n, void *arg)
{
    live_jack_io *io = arg;
    float *out = jack_port_get_buffer(io->play_port, n);
    int64_t f0 = atomic_load(&io->start_frame), f = jack_last_frame_time(io->player);
    for (jack_nframes_t i = 0; i < n; i++) {
        int64_t k = f + i - f0;
        out[i] = f0 >= 0 && k >= 0 ? io->sig[k % io->sig_len] : 0.0f;
    }
    return 0;
}

static int rec_process(jack_nframes_t n, void *arg)
{
    live_jack_io *io = arg;
    const float *in = jack_port_get_buffer(io->rec_port, n);
    int64_t f0 = atomic_load(&io->start_frame), f = jack_last_frame_time(io->recorder);
    if (f0 < 0) return 0;
    for (jack_nframes_t i = 0; i < n; i++) {
        int64_t k = f + i - f0;
        if (k >= 0 && k < io->rec_cap) io->rec[k] = in[i];
        if (k + 1 > atomic_load(&io->rec_max)) atomic_store(&io->rec_max, (long)(k + 1));
    }
    return 0;
}

static int on_xrun(void *arg)
{
    live_jack_io *io = arg;
    atomic_fetch_add(&io->xruns, 1);
    return 0;
}

int live_jack_io_open(live_jack_io *io, const char *server, const float *sig, long sig_len, long rec_cap)
{
    io->sig = sig;
    io->sig_len = sig_len;
    io->rec_cap = rec_cap;
    io->rec = calloc((size_t)rec_cap, sizeof(float));
    atomic_store(&io->start_frame, -1);
    atomic_store(&io->xruns, 0);
    atomic_store(&io->rec_max, 0);
    jack_status_t st;
    io->player = io->recorder = NULL;
    for (int i = 0; i < 100 && !io->player; i++) {
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
        io->player = jack_client_open("player", JackNoStartServer | JackServerName, &st, server);
    }
    if (!io->player || !io->rec) return -1;
    io->recorder = jack_client_open("recorder", JackNoStartServer | JackServerName, &st, server);
    if (!io->recorder) return -1;
    io->play_port = jack_port_register(io->player, "out", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
    io->rec_port = jack_port_register(io->recorder, "in", JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
    jack_set_process_callback(io->player, play_process, io);
    jack_set_process_callback(io->recorder, rec_process, io);
    jack_set_xrun_callback(io->player, on_xrun, io);
    jack_activate(io->player);
    jack_activate(io->recorder);
    return 0;
}

int64_t live_jack_io_start(live_jack_io *io)
{
    const int64_t f = (int64_t)jack_frame_time(io->player) + 1024;
    atomic_store(&io->start_frame, f);
    return f;
}

long live_jack_io_frames(live_jack_io *io)
{
    const long n = atomic_load(&io->rec_max);
    return n < io->rec_cap ? n : io->rec_cap;
}

void live_jack_io_close(live_jack_io *io)
{
    if (io->player) jack_client_close(io->player);
    if (io->recorder) jack_client_close(io->recorder);
    io->player = io->recorder = NULL;
    free(io->rec);
    io->rec = NULL;
}
