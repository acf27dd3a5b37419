/* The web view alone (no JACK, no engine), for bench/live_view.sh: opens the view on a free port
 * (printed on the first line), then plays the control thread of `advinst live` for S seconds:
 * every 1/HZ s the events of one classification of both streams (probabilities and the spectrum
 * columns of 0.1 s, as the classifier emits them at 48 kHz), a segment result every 0.2 s and the
 * counters every second. Prints one JSON line at the end: the CPU of the view's threads (feed,
 * writers, civetweb's; /proc ticks) in % of one core, the view's counters, and the longest push.
 *
 *   bench_view [--seconds 30] [--hz 10]
 * Clients (bench/view_clients, browsers) connect to the printed port meanwhile. */
#include "advinst/error.h"
#include "advinst/view.h"
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* CPU ticks so far of this process's threads named adv-view-* or civetweb-*. */
static long view_ticks(void)
{
    DIR *d = opendir("/proc/self/task");
    long sum = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[300], name[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f) {
            if (!fgets(name, sizeof name, f)) name[0] = 0;
            fclose(f);
        }
        if (strncmp(name, "adv-view-", 9) && strncmp(name, "civetweb-", 9)) continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
        f = fopen(path, "r");
        char buf[1024];
        if (f && fgets(buf, sizeof buf, f)) {
            const char *p = strrchr(buf, ')');   /* fields after the command name */
            long utime = 0, stime = 0;
            if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &utime, &stime) == 2)
                sum += utime + stime;
        }
        if (f) fclose(f);
    }
    if (d) closedir(d);
    return sum;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {{"seconds", required_argument, 0, 's'}, {"hz", required_argument, 0, 'z'},
                                            {0, 0, 0, 0}};
    double seconds = 30, hz = 10;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == 's') seconds = atof(optarg);
        else if (opt == 'z') hz = atof(optarg);
        else return 2;
    }
    if (seconds <= 0 || hz <= 0 || hz > 1000) return 2;
    adv_model *m = adv_model_create(1);
    adv_live_settings s;
    adv_live_settings_default(&s);
    s.target = 0;
    adv_view_options o = {"127.0.0.1", 0, m, 9000};
    adv_view *v = m ? adv_view_open(&o, &s) : NULL;
    if (!v) {
        fprintf(stderr, "bench_view: %s\n", adv_error());
        return 1;
    }
    printf("port %d\n", adv_view_port(v));
    fflush(stdout);
    const int rate = 48000;
    adv_view_push_timing(v, rate, 321600, 177600);
    adv_view_push_state(v, &s);
    adv_live_event ev;
    adv_live_stats st;
    memset(&st, 0, sizeof st);
    const long ticks0 = view_ticks();
    const double t0 = now();
    double max_push = 0, next = t0;
    uint64_t frame = (uint64_t)rate * 4;
    long windows = 0;
    const double column = 512.0 * rate / 16000;
    while (now() - t0 < seconds) {
        for (int k = 0; k < 2; k++) {
            memset(&ev, 0, sizeof ev);
            ev.type = ADV_LIVE_EV_PROBS;
            ev.stream = k;
            ev.frame = frame;
            for (int c = 0; c < ADV_N_CLASSES; c++) ev.probs[c] = c == (int)(windows / 20 % 12) ? 0.89f : 0.01f;
            double a = now();
            adv_view_push_event(v, &ev);
            ev.type = ADV_LIVE_EV_SPECTRUM;
            ev.n_columns = (int)(rate / hz / column + 0.5);
            if (ev.n_columns > ADV_LIVE_SPECTRUM_COLUMNS) ev.n_columns = ADV_LIVE_SPECTRUM_COLUMNS;
            for (int c = 0; c < ev.n_columns; c++) {
                ev.column_frame[c] = frame - (uint64_t)((ev.n_columns - c) * column);
                for (int b = 0; b < ADV_LIVE_SPECTRUM_BANDS; b++) ev.column_db[c][b] = -80.0f + (float)((b * 7 + c + windows) % 60);
            }
            adv_view_push_event(v, &ev);
            double dt = now() - a;
            if (dt > max_push) max_push = dt;
        }
        if (windows % (long)(0.2 * hz > 1 ? 0.2 * hz : 1) == 0) {
            memset(&ev, 0, sizeof ev);
            ev.type = ADV_LIVE_EV_SEGMENT;
            ev.segment = windows / (long)(0.2 * hz > 1 ? 0.2 * hz : 1);
            ev.frame = frame;
            ev.frames = (long)(0.2 * rate);
            ev.windows = 2;
            ev.hits = 2;
            ev.snr_db = 41.5f;
            ev.iterations = 42;
            adv_view_push_event(v, &ev);
        }
        if (windows % (long)hz == 0) {
            st.frames = frame;
            adv_view_push_stats(v, &st);
        }
        windows++;
        frame += (uint64_t)(rate / hz);
        next += 1 / hz;
        double wait = next - now();
        if (wait > 0) {
            struct timespec ts = {(time_t)wait, (long)((wait - (time_t)wait) * 1e9)};
            nanosleep(&ts, NULL);
        }
    }
    const double dt = now() - t0;
    const long ticks = view_ticks() - ticks0;
    adv_view_counts c;
    adv_view_get_counts(v, &c);
    printf("{\"seconds\": %.1f, \"hz\": %.1f, \"windows\": %ld, \"view_threads_cpu_percent\": %.2f, \"clients\": %ld, "
           "\"batches\": %ld, \"frames_sent\": %ld, \"frames_dropped\": %ld, \"records_dropped\": %ld, \"max_push_us\": %.1f}\n",
           dt, hz, windows, 100.0 * (double)ticks / (double)sysconf(_SC_CLK_TCK) / dt, c.clients, c.batches, c.frames_sent,
           c.frames_dropped, c.records_dropped, 1e6 * max_push);
    adv_view_close(v);
    adv_model_free(m);
    return 0;
}
