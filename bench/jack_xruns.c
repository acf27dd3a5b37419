/* An observer JACK client for the load and soak scripts: joins a server, does nothing in its own
 * process callback, and counts the xruns the server reports (to every client, whichever client or
 * driver was late) until SIGINT/SIGTERM or the duration, then prints one JSON line:
 *   {"xruns": N, "max_delay_us": D, "max_dsp_load": P, "seconds": S, "period": F, "rate": R}
 * With no other client than this one it measures the machine's own scheduling (the dummy
 * driver's timer is late: an xrun that no client caused).
 *
 *   jack_xruns --server NAME [--seconds S]
 * Exit: 0, 2 usage, 5 server unavailable or lost. */
#include <getopt.h>
#include <jack/jack.h>
#include <jack/statistics.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static atomic_long xruns;
static _Atomic float max_delay;
static atomic_int lost;
static jack_client_t *client;

static void on_signal(int sig) { (void)sig; stop = 1; }

static int on_process(jack_nframes_t n, void *arg)
{
    (void)n;
    (void)arg;
    return 0;
}

/* Counts the xrun and keeps the largest delay JACK reports for it. */
static int on_xrun(void *arg)
{
    (void)arg;
    atomic_fetch_add(&xruns, 1);
    float d = jack_get_xrun_delayed_usecs(client);
    if (d > atomic_load(&max_delay)) atomic_store(&max_delay, d);
    return 0;
}

static void on_shutdown(void *arg)
{
    (void)arg;
    atomic_store(&lost, 1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"server", required_argument, 0, 's'}, {"seconds", required_argument, 0, 'd'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *server = NULL;
    double seconds = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "s:d:h", options, NULL)) != -1) {
        switch (opt) {
        case 's': server = optarg; break;
        case 'd': seconds = atof(optarg); break;
        case 'h': printf("usage: jack_xruns --server NAME [--seconds S]\n"); return 0;
        default: return 2;
        }
    }
    jack_status_t st;
    client = server ? jack_client_open("xrun_observer", JackNoStartServer | JackServerName, &st, server)
                    : jack_client_open("xrun_observer", JackNoStartServer, &st);
    if (!client) {
        fprintf(stderr, "jack_xruns: cannot connect to the JACK server %s (status 0x%x)\n", server ? server : "(default)",
                (unsigned)st);
        return 5;
    }
    jack_set_process_callback(client, on_process, NULL);
    jack_set_xrun_callback(client, on_xrun, NULL);
    jack_on_shutdown(client, on_shutdown, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (jack_activate(client) != 0) {
        fprintf(stderr, "jack_xruns: cannot activate\n");
        jack_client_close(client);
        return 5;
    }
    const double t0 = now();
    float max_load = 0;
    while (!stop && !atomic_load(&lost) && (seconds <= 0 || now() - t0 < seconds)) {
        usleep(100000);
        float load = jack_cpu_load(client);
        if (load > max_load) max_load = load;
    }
    const int was_lost = atomic_load(&lost);
    printf("{\"xruns\": %ld, \"max_delay_us\": %.0f, \"max_dsp_load\": %.1f, \"seconds\": %.1f, \"period\": %u, \"rate\": %u%s}\n",
           atomic_load(&xruns), (double)atomic_load(&max_delay), (double)max_load, now() - t0,
           was_lost ? 0 : jack_get_buffer_size(client), was_lost ? 0 : jack_get_sample_rate(client),
           was_lost ? ", \"lost\": true" : "");
    fflush(stdout);
    if (!was_lost) jack_client_close(client);
    return was_lost ? 5 : 0;
}
