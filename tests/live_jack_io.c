/* See live_jack_io.h. */
#include "live_jack_io.h"
#include "sched_probe.h"
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Both clients count their own frames from the first cycle at or after the start frame, rather
 * than indexing by JACK's frame time: when a cycle is lost to an xrun (the server skips the whole
 * graph for a period, its frame time still advances), the player, the client under test and the
 * recorder all miss it, and the recording stays aligned with what was played. */
static int64_t started_at(live_jack_io *io, jack_client_t *c, _Atomic int64_t *pos)
{
    int64_t p = atomic_load(pos);
    if (p >= 0) return p;
    const int64_t f0 = atomic_load(&io->start_frame);
    if (f0 < 0 || (int64_t)jack_last_frame_time(c) < f0) return -1;
    atomic_store(pos, 0);
    return 0;
}

static int play_process(jack_nframes_t n, void *arg)
{
    live_jack_io *io = arg;
    float *out = jack_port_get_buffer(io->play_port, n);
    const int64_t k0 = started_at(io, io->player, &io->play_pos);
    for (jack_nframes_t i = 0; i < n; i++) out[i] = k0 >= 0 ? io->sig[(k0 + i) % io->sig_len] : 0.0f;
    if (k0 >= 0) atomic_store(&io->play_pos, k0 + n);
    return 0;
}

static int rec_process(jack_nframes_t n, void *arg)
{
    live_jack_io *io = arg;
    const float *in = jack_port_get_buffer(io->rec_port, n);
    const int64_t k0 = started_at(io, io->recorder, &io->rec_pos);
    if (k0 < 0) return 0;
    for (jack_nframes_t i = 0; i < n; i++)
        if (k0 + i < io->rec_cap) io->rec[k0 + i] = in[i];
    atomic_store(&io->rec_pos, k0 + n);
    atomic_store(&io->rec_max, (long)(k0 + n));
    return 0;
}

/* When the cycle in which the server noticed the xrun began, on CLOCK_MONOTONIC: the callback
 * itself may come late (a client's notification thread is not real-time). */
static int on_xrun(void *arg)
{
    live_jack_io *io = arg;
    const long i = atomic_fetch_add(&io->xruns, 1);
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    const jack_time_t now = jack_get_time(), cycle = jack_frames_to_time(io->player, jack_last_frame_time(io->player));
    const double ago = now > cycle ? (double)(now - cycle) * 1e-6 : 0;
    if (i >= 0 && i < LIVE_JACK_IO_MAX_XRUNS) io->xrun_at[i] = t.tv_sec + 1e-9 * t.tv_nsec - ago;
    return 0;
}

int live_jack_io_open(live_jack_io *io, const char *server, const float *sig, long sig_len, long rec_cap)
{
    io->sig = sig;
    io->sig_len = sig_len;
    io->rec_cap = rec_cap;
    io->rec = malloc((size_t)rec_cap * sizeof(float));
    if (io->rec) memset(io->rec, 0, (size_t)rec_cap * sizeof(float));   /* touched: no page faults in rec_process */
    atomic_store(&io->start_frame, -1);
    atomic_store(&io->play_pos, -1);
    atomic_store(&io->rec_pos, -1);
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

long live_jack_io_unexplained_xruns(const live_jack_io *io)
{
    long n = atomic_load(&io->xruns), bad = 0;
    if (n > LIVE_JACK_IO_MAX_XRUNS) n = LIVE_JACK_IO_MAX_XRUNS;
    /* the server notices a late graph at the next cycle and tells the clients after that */
    for (long i = 0; i < n; i++) bad += !sched_probe_explains(io->xrun_at[i], 0.1, 0.02);
    return bad;
}

int live_rt_threads(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    int rt = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char stat_path[384], buf[1024];
        snprintf(stat_path, sizeof stat_path, "%s/%s/stat", path, e->d_name);
        FILE *f = fopen(stat_path, "r");
        size_t len = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f) fclose(f);
        buf[len] = 0;
        /* after the ")" that ends the thread's name: field 3 on; the policy is field 41 */
        char *p = strrchr(buf, ')');
        int field = 2;
        for (; p && *p && field < 41; p++)
            if (*p == ' ') field++;
        if (p && field == 41) {
            const int policy = atoi(p);
            rt += policy == SCHED_FIFO || policy == SCHED_RR;
        }
    }
    closedir(d);
    return rt;
}

int live_log_cpu(const char *log, double *mean_us, double *p99_us, double *max_us)
{
    static const char key[] = "audio thread CPU per period: mean ";
    FILE *f = fopen(log, "r");
    char line[1024];
    int found = 0;
    while (f && fgets(line, sizeof line, f)) {
        const char *p = strstr(line, key);
        if (p) found = sscanf(p + strlen(key), "%lf us, 99 %% under %lf us, longest %lf us", mean_us, p99_us, max_us) == 3;
    }
    if (f) fclose(f);
    return found ? 0 : -1;
}
