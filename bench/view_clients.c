/* N WebSocket clients of the web view (bench/live_view.sh): each connects to /view/feed as a page
 * does, reads everything for S seconds and counts batches, messages, bytes and the input stream's
 * probability updates; prints one JSON line with the per-client update rates (the slowest and the
 * fastest client) and totals.
 *
 *   view_clients [--clients 10] [--seconds 30] HOST PORT
 *
 * Exit: 0, 1 (a client could not connect or lost its connection), 2 (usage). */
#include <civetweb.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CLIENTS 64

typedef struct {
    pthread_mutex_t lock;
    long batches, messages, updates, bytes;
    int closed;
} client;

static client clients[MAX_CLIENTS];

static int on_data(struct mg_connection *conn, int bits, char *data, size_t len, void *user)
{
    client *c = user;
    /* answer the server's pings as browsers do (civetweb's client does not; the server closes a
     * connection whose pings go unanswered, after about 30 s) */
    if ((bits & 0xf) == MG_WEBSOCKET_OPCODE_PING) {
        mg_websocket_client_write(conn, MG_WEBSOCKET_OPCODE_PONG, data, len);
        return 1;
    }
    if ((bits & 0xf) != MG_WEBSOCKET_OPCODE_TEXT) return 1;
    long messages = 0, updates = 0;
    /* counted without parsing, as cheaply as a page would: one "type" per message */
    for (const char *p = data, *end = data + len; (p = memmem(p, (size_t)(end - p), "\"type\":\"", 8)); p += 8) {
        messages++;
        static const char in_probs[] = "probs\",\"stream\":\"in\"";
        if (!strncmp(p + 8, in_probs, sizeof in_probs - 1)) updates++;
    }
    pthread_mutex_lock(&c->lock);
    c->batches++;
    c->messages += messages;
    c->updates += updates;
    c->bytes += (long)len;
    pthread_mutex_unlock(&c->lock);
    return 1;
}

static void on_close(const struct mg_connection *conn, void *user)
{
    (void)conn;
    client *c = user;
    pthread_mutex_lock(&c->lock);
    c->closed = 1;
    pthread_mutex_unlock(&c->lock);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {{"clients", required_argument, 0, 'c'}, {"seconds", required_argument, 0, 's'},
                                            {0, 0, 0, 0}};
    int n = 10, opt;
    double seconds = 30;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == 'c') n = atoi(optarg);
        else if (opt == 's') seconds = atof(optarg);
        else return 2;
    }
    if (optind != argc - 2 || n < 1 || n > MAX_CLIENTS || seconds <= 0) {
        fprintf(stderr, "usage: view_clients [--clients N] [--seconds S] HOST PORT\n");
        return 2;
    }
    const char *host = argv[optind];
    const int port = atoi(argv[optind + 1]);
    mg_init_library(0);
    struct mg_connection *conns[MAX_CLIENTS];
    char err[256];
    for (int i = 0; i < n; i++) {
        pthread_mutex_init(&clients[i].lock, NULL);
        conns[i] = mg_connect_websocket_client(host, port, 0, err, sizeof err, "/view/feed", NULL, on_data, on_close, &clients[i]);
        if (!conns[i]) {
            fprintf(stderr, "view_clients: client %d: %s\n", i, err);
            return 1;
        }
    }
    /* the first second is the connection and the hello: counted from then on */
    struct timespec settle = {1, 0};
    nanosleep(&settle, NULL);
    long start[MAX_CLIENTS][4];
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&clients[i].lock);
        start[i][0] = clients[i].batches, start[i][1] = clients[i].messages, start[i][2] = clients[i].updates,
        start[i][3] = clients[i].bytes;
        pthread_mutex_unlock(&clients[i].lock);
    }
    const double t0 = now();
    struct timespec ts = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
    const double dt = now() - t0;
    double min_rate = 1e9, max_rate = 0, batches = 0, messages = 0, bytes = 0;
    int lost = 0;
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&clients[i].lock);
        const double rate = (clients[i].updates - start[i][2]) / dt;
        batches += (double)(clients[i].batches - start[i][0]);
        messages += (double)(clients[i].messages - start[i][1]);
        bytes += (double)(clients[i].bytes - start[i][3]);
        lost += clients[i].closed;
        pthread_mutex_unlock(&clients[i].lock);
        if (rate < min_rate) min_rate = rate;
        if (rate > max_rate) max_rate = rate;
    }
    printf("{\"clients\": %d, \"seconds\": %.1f, \"update_hz_min\": %.2f, \"update_hz_max\": %.2f, \"batches_per_s\": %.1f, "
           "\"messages_per_s\": %.1f, \"kbytes_per_s\": %.1f, \"lost\": %d}\n",
           n, dt, min_rate, max_rate, batches / dt / n, messages / dt / n, bytes / dt / n / 1024, lost);
    fflush(stdout);
    for (int i = 0; i < n; i++) mg_close_connection(conns[i]);
    return lost ? 1 : 0;
}
