/* An OSC flood for `advinst live` (bench/live_load.sh): sends RATE messages a second for SECONDS
 * seconds to host:port, in bursts every BURST_MS on absolute deadlines (clock_nanosleep), cycling
 * through realistic setting changes (target, method, step, eps, alpha, confidence, iterations,
 * preset, bypass) with some bad messages mixed in (out-of-range values, wrong types, unknown
 * addresses and classes, refused presets, garbage datagrams, addresses outside /advinst). Then it
 * sends one final known set of values and asks /advinst/query, and checks:
 *   - the state advinst reports equals the final values (the last value sent for each setting
 *     won, nothing torn) and the engine runs with that state's version;
 *   - advinst's message counts grew by what was sent (received, changed, rejected, ignored,
 *     malformed): nothing lost, every bad message refused.
 * Replies (a /advinst/state per change, an /advinst/error per bad message) are counted by a
 * receiver thread. Prints one JSON line; exit 0 if the final state is right, 1 if not, 2 usage,
 * 3 no answer.
 *
 *   osc_flood [--host 127.0.0.1] --port P [--rate 10000] [--seconds 30] [--burst-ms 5]
 *             [--bad-every 20]
 */
#include "advinst/model.h"
#include <errno.h>
#include <getopt.h>
#include <lo/lo.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CYCLE 997              /* distinct valid messages before the cycle repeats (prime) */
#define STATS_FIELDS 12

typedef enum { KIND_VALID = 0, KIND_BAD, KIND_GARBAGE, KIND_IGNORED, N_KINDS } kind;

typedef struct {
    void *data;
    size_t size;
    kind kind;
} datagram;

/* ---- what came back ---- */

typedef struct {
    char target[64], method[16], preset[64];
    float step, alpha, eps, confidence;
    int iterations, bypass, version;
} state_msg;

static struct {
    pthread_mutex_t lock;
    long states, errors, stats_replies, other;
    state_msg last_state;
    int64_t stats[STATS_FIELDS];
    int stats_version;
} inbox = {.lock = PTHREAD_MUTEX_INITIALIZER};

static atomic_int stop_receiver;
static int sock = -1;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int32_t get_i(lo_arg *a) { int32_t v; memcpy(&v, (const void *)a, sizeof v); return v; }
static int64_t get_h(lo_arg *a) { int64_t v; memcpy(&v, (const void *)a, sizeof v); return v; }
static float get_f(lo_arg *a) { float v; memcpy(&v, (const void *)a, sizeof v); return v; }

/* Parses one reply datagram into the inbox. */
static void take_reply(void *data, ssize_t size)
{
    int err = 0;
    lo_message m = lo_message_deserialise(data, (size_t)size, &err);
    if (!m) return;
    const char *path = lo_get_path(data, size), *types = lo_message_get_types(m);
    lo_arg **argv = lo_message_get_argv(m);
    pthread_mutex_lock(&inbox.lock);
    if (path && !strcmp(path, "/advinst/state") && !strcmp(types, "ssfffiisifff")) {
        state_msg *s = &inbox.last_state;
        snprintf(s->target, sizeof s->target, "%s", (const char *)argv[0]);
        snprintf(s->method, sizeof s->method, "%s", (const char *)argv[1]);
        s->step = get_f(argv[2]);
        s->alpha = get_f(argv[3]);
        s->eps = get_f(argv[4]);
        s->iterations = get_i(argv[5]);
        s->bypass = get_i(argv[6]);
        snprintf(s->preset, sizeof s->preset, "%s", (const char *)argv[7]);
        s->version = get_i(argv[8]);
        s->confidence = get_f(argv[10]);
        inbox.states++;
    } else if (path && !strcmp(path, "/advinst/stats") && !strcmp(types, "hhhhhhhhhhhhi")) {
        for (int i = 0; i < STATS_FIELDS; i++) inbox.stats[i] = get_h(argv[i]);
        inbox.stats_version = get_i(argv[STATS_FIELDS]);
        inbox.stats_replies++;
    } else if (path && !strcmp(path, "/advinst/error")) {
        inbox.errors++;
    } else {
        inbox.other++;
    }
    pthread_mutex_unlock(&inbox.lock);
    lo_message_free(m);
}

static void *receiver(void *arg)
{
    (void)arg;
    static char buf[65536];
    struct pollfd p = {sock, POLLIN, 0};
    while (!atomic_load(&stop_receiver)) {
        if (poll(&p, 1, 50) <= 0) continue;
        ssize_t n;
        while ((n = recv(sock, buf, sizeof buf, MSG_DONTWAIT)) > 0) take_reply(buf, n);
    }
    return NULL;
}

/* ---- what goes out ---- */

static datagram make(kind k, const char *path, const char *types, ...)
{
    lo_message m = lo_message_new();
    va_list ap;
    va_start(ap, types);
    for (const char *t = types; *t; t++) {
        if (*t == 's') lo_message_add_string(m, va_arg(ap, const char *));
        else if (*t == 'i') lo_message_add_int32(m, va_arg(ap, int));
        else if (*t == 'f') lo_message_add_float(m, (float)va_arg(ap, double));
    }
    va_end(ap);
    datagram d = {NULL, 0, k};
    d.data = lo_message_serialise(m, path, NULL, &d.size);
    lo_message_free(m);
    if (!d.data) { fprintf(stderr, "osc_flood: cannot serialise %s\n", path); exit(1); }
    return d;
}

/* The i-th valid setting change of the cycle: what a person on faders and buttons would send. */
static datagram valid_message(int i)
{
    static const char *const presets[] = {"cw-150", "mscw-150", "cw-180", "mscw-180", "cw-accordion", "mscw-accordion"};
    static const char *const methods[] = {"cw", "mscw", "cw", "mscw", "off"};
    const int k = i / 9;
    switch (i % 9) {
    case 0: return k % 7 == 6 ? make(KIND_VALID, "/advinst/target", "s", k % 2 ? "random" : "none")
                              : k % 2 ? make(KIND_VALID, "/advinst/target", "i", k % ADV_N_CLASSES)
                                      : make(KIND_VALID, "/advinst/target", "s", adv_class_names[k % ADV_N_CLASSES]);
    case 1: return make(KIND_VALID, "/advinst/method", "s", methods[k % 5]);
    case 2: return make(KIND_VALID, "/advinst/step", "f", 1e-5 * (1 + k % 10));
    case 3: return make(KIND_VALID, "/advinst/eps", "f", 0.005 + 0.001 * (k % 16));
    case 4: return make(KIND_VALID, "/advinst/alpha", "f", k % 2 ? 10.0 + k % 6 : 0.01 * (1 + k % 50));
    case 5: return make(KIND_VALID, "/advinst/confidence", "f", 0.1 * (k % 10));
    case 6: return make(KIND_VALID, "/advinst/iterations", "i", 100 + 7 * (k % 128));
    case 7: return make(KIND_VALID, "/advinst/preset", "s", presets[k % 6]);
    default: return make(KIND_VALID, "/advinst/bypass", "i", k % 8 == 7);   /* mostly attacking */
    }
}

/* The i-th bad message: each one must be refused (or ignored, outside /advinst) and change nothing. */
static datagram bad_message(int i)
{
    switch (i % 10) {
    case 0: return make(KIND_BAD, "/advinst/eps", "f", 5.0);
    case 1: return make(KIND_BAD, "/advinst/target", "s", "tuba");
    case 2: return make(KIND_BAD, "/advinst/method", "i", 3);
    case 3: return make(KIND_BAD, "/advinst/nosuch", "f", 1.0);
    case 4: return make(KIND_BAD, "/advinst/preset", "s", "../etc/passwd");
    case 5: return make(KIND_BAD, "/advinst/preset", "s", "fgsm-150");   /* not a live method */
    case 6: return make(KIND_BAD, "/advinst/iterations", "i", 0);
    case 7: return make(KIND_BAD, "/advinst/alpha", "f", (double)NAN);
    case 8: return make(KIND_IGNORED, "/other/app", "i", 1);
    default: {
        static const char junk[] = "\xff\xfe\x01\x02not an OSC message";
        datagram d = {malloc(sizeof junk - 1), sizeof junk - 1, KIND_GARBAGE};
        memcpy(d.data, junk, sizeof junk - 1);
        return d;
    }
    }
}

/* The final values: sent last, after the flood, and expected in the reported state. */
static const char *const FINAL_PRESET = "mscw-150", *const FINAL_TARGET = "glockenspiel", *const FINAL_METHOD = "mscw";
static const float FINAL_STEP = 3e-5f, FINAL_ALPHA = 7.5f, FINAL_EPS = 0.015f, FINAL_CONFIDENCE = 0.25f;
static const int FINAL_ITERATIONS = 777, FINAL_BYPASS = 0;

static int final_messages(datagram *d)
{
    int n = 0;
    d[n++] = make(KIND_VALID, "/advinst/preset", "s", FINAL_PRESET);   /* first: it sets several values */
    d[n++] = make(KIND_VALID, "/advinst/target", "s", FINAL_TARGET);
    d[n++] = make(KIND_VALID, "/advinst/method", "s", FINAL_METHOD);
    d[n++] = make(KIND_VALID, "/advinst/step", "f", (double)FINAL_STEP);
    d[n++] = make(KIND_VALID, "/advinst/alpha", "f", (double)FINAL_ALPHA);
    d[n++] = make(KIND_VALID, "/advinst/eps", "f", (double)FINAL_EPS);
    d[n++] = make(KIND_VALID, "/advinst/confidence", "f", (double)FINAL_CONFIDENCE);
    d[n++] = make(KIND_VALID, "/advinst/iterations", "i", FINAL_ITERATIONS);
    d[n++] = make(KIND_VALID, "/advinst/bypass", "i", FINAL_BYPASS);
    return n;
}

static int final_state_ok(const state_msg *s)
{
    return !strcmp(s->target, FINAL_TARGET) && !strcmp(s->method, FINAL_METHOD) && !strcmp(s->preset, FINAL_PRESET) &&
           s->step == FINAL_STEP && s->alpha == FINAL_ALPHA && s->eps == FINAL_EPS && s->confidence == FINAL_CONFIDENCE &&
           s->iterations == FINAL_ITERATIONS && s->bypass == FINAL_BYPASS;
}

static void send_one(const datagram *d)
{
    while (send(sock, d->data, d->size, 0) < 0 && (errno == EINTR || errno == ENOBUFS || errno == EAGAIN)) {}
}

/* Sends /advinst/query until a stats reply newer than `seen` arrives (or `wait_s` seconds pass);
 * returns the number of queries sent, 0 on no answer. */
static int query(long seen, double wait_s)
{
    datagram q = make(KIND_VALID, "/advinst/query", "");
    int sent = 0;
    const double end = now() + wait_s;
    double next = 0;
    int answered = 0;
    while (!answered && now() < end) {
        if (now() >= next) { send_one(&q); sent++; next = now() + 2.0; }
        usleep(5000);
        pthread_mutex_lock(&inbox.lock);
        answered = inbox.stats_replies > seen;
        pthread_mutex_unlock(&inbox.lock);
    }
    free(q.data);
    return answered ? sent : 0;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"host", required_argument, 0, 'H'},      {"port", required_argument, 0, 'p'},
        {"rate", required_argument, 0, 'r'},      {"seconds", required_argument, 0, 's'},
        {"burst-ms", required_argument, 0, 'b'},  {"bad-every", required_argument, 0, 'e'},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    const char *host = "127.0.0.1", *port = NULL;
    double rate = 10000, seconds = 30, burst_ms = 5;
    long bad_every = 20;
    int opt;
    while ((opt = getopt_long(argc, argv, "H:p:r:s:b:e:h", options, NULL)) != -1) {
        switch (opt) {
        case 'H': host = optarg; break;
        case 'p': port = optarg; break;
        case 'r': rate = atof(optarg); break;
        case 's': seconds = atof(optarg); break;
        case 'b': burst_ms = atof(optarg); break;
        case 'e': bad_every = atol(optarg); break;
        case 'h':
            printf("usage: osc_flood [--host H] --port P [--rate 10000] [--seconds 30] [--burst-ms 5] [--bad-every 20]\n");
            return 0;
        default: return 2;
        }
    }
    if (!port || !(rate > 0 && rate <= 1e6) || !(seconds >= 0) || !(burst_ms >= 0.1 && burst_ms <= 1000) || bad_every < 0) {
        fprintf(stderr, "osc_flood: need --port, rate in (0, 1e6], seconds >= 0, burst-ms in [0.1, 1000], bad-every >= 0\n");
        return 2;
    }

    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai) { fprintf(stderr, "osc_flood: cannot resolve %s:%s\n", host, port); return 2; }
    sock = socket(ai->ai_family, SOCK_DGRAM, 0);
    /* connected: replies come back to this socket, only from advinst */
    if (sock < 0 || connect(sock, ai->ai_addr, ai->ai_addrlen) != 0) { perror("osc_flood: socket"); return 2; }
    freeaddrinfo(ai);
    int big = 8 << 20;
    if (setsockopt(sock, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) != 0)
        setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    pthread_t rx;
    pthread_create(&rx, NULL, receiver, NULL);

    /* before: advinst's counts, to subtract */
    if (!query(0, 6.0)) { fprintf(stderr, "osc_flood: no answer from %s:%s\n", host, port); return 3; }
    pthread_mutex_lock(&inbox.lock);
    int64_t before[STATS_FIELDS];
    memcpy(before, inbox.stats, sizeof before);
    const long states0 = inbox.states, errors0 = inbox.errors, stats_seen = inbox.stats_replies;
    pthread_mutex_unlock(&inbox.lock);

    datagram *valid = malloc(sizeof(datagram) * CYCLE), bad[10];
    for (int i = 0; i < CYCLE; i++) valid[i] = valid_message(i);
    for (int i = 0; i < 10; i++) bad[i] = bad_message(i);

    /* the flood: bursts on absolute deadlines, so a late wake-up is caught up, not accumulated */
    long sent[N_KINDS] = {0}, total = 0, vi = 0, bi = 0, late_bursts = 0;
    const long target_total = lround(rate * seconds);
    const double period = burst_ms / 1000.0;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    const double t0 = now();
    for (long burst = 1; total < target_total; burst++) {
        const long due = lround(rate * period * (double)burst);
        for (; total < due && total < target_total; total++) {
            const datagram *d = bad_every > 0 && (total + 1) % bad_every == 0 ? &bad[bi++ % 10] : &valid[vi++ % CYCLE];
            send_one(d);
            sent[d->kind]++;
        }
        deadline.tv_nsec += (long)(period * 1e9);
        while (deadline.tv_nsec >= 1000000000L) { deadline.tv_nsec -= 1000000000L; deadline.tv_sec++; }
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec > deadline.tv_sec || (t.tv_sec == deadline.tv_sec && t.tv_nsec > deadline.tv_nsec)) late_bursts++;
        else while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == EINTR) {}
    }
    const double flood_s = now() - t0;

    /* the final values, then the question */
    datagram fin[16];
    const int n_fin = final_messages(fin);
    for (int i = 0; i < n_fin; i++) send_one(&fin[i]);
    const double t_fin = now();
    const int queries = query(stats_seen, 30.0);
    const double answer_ms = 1000 * (now() - t_fin);
    atomic_store(&stop_receiver, 1);
    pthread_join(rx, NULL);
    if (!queries) { fprintf(stderr, "osc_flood: no answer to the final query\n"); return 3; }

    int64_t d[STATS_FIELDS];
    for (int i = 0; i < STATS_FIELDS; i++) d[i] = inbox.stats[i] - before[i];
    const state_msg *s = &inbox.last_state;
    const int state_ok = final_state_ok(s), engine_ok = inbox.stats_version == s->version;
    const long expect_changed = sent[KIND_VALID] + n_fin, expect_received = total - sent[KIND_GARBAGE] + n_fin + queries;
    printf("{\"requested_rate\": %.0f, \"seconds\": %.2f, \"sent\": %ld, \"rate\": %.0f, \"late_bursts\": %ld, "
           "\"sent_valid\": %ld, \"sent_bad\": %ld, \"sent_garbage\": %ld, \"sent_ignored\": %ld, "
           "\"received\": %lld, \"changed\": %lld, \"expected_changed\": %ld, \"rejected\": %lld, \"ignored\": %lld, \"malformed\": %lld, "
           "\"lost\": %lld, \"state_replies\": %ld, \"error_replies\": %ld, \"answer_ms\": %.0f, "
           "\"final_state_ok\": %s, \"engine_version_ok\": %s, \"final_state\": \"%s %s step %g alpha %g eps %g conf %g "
           "iter %d bypass %d preset %s v%d\", \"engine_version\": %d, \"frames\": %lld, \"xruns\": %lld, "
           "\"ring_overflows\": %lld}\n",
           rate, flood_s, total, total / (flood_s > 0 ? flood_s : 1), late_bursts, sent[KIND_VALID], sent[KIND_BAD],
           sent[KIND_GARBAGE], sent[KIND_IGNORED], (long long)d[0], (long long)d[1], expect_changed, (long long)d[2], (long long)d[3],
           (long long)d[4], (long long)(expect_received - d[0]) + (long long)(sent[KIND_GARBAGE] - d[4]),
           inbox.states - states0, inbox.errors - errors0, answer_ms, state_ok ? "true" : "false",
           engine_ok ? "true" : "false", s->target, s->method, (double)s->step, (double)s->alpha, (double)s->eps,
           (double)s->confidence, s->iterations, s->bypass, s->preset, s->version, inbox.stats_version,
           (long long)inbox.stats[5], (long long)inbox.stats[6], (long long)inbox.stats[11]);
    fprintf(stderr, "osc_flood: %ld messages in %.2f s = %.0f/s (asked %.0f/s); advinst received %lld, changed %lld of %ld, "
            "rejected %lld of %ld; final state %s\n",
            total, flood_s, total / (flood_s > 0 ? flood_s : 1), rate, (long long)d[0], (long long)d[1], expect_changed,
            (long long)d[2], sent[KIND_BAD], state_ok && engine_ok ? "right" : "WRONG");
    for (int i = 0; i < CYCLE; i++) free(valid[i].data);
    for (int i = 0; i < 10; i++) free(bad[i].data);
    for (int i = 0; i < n_fin; i++) free(fin[i].data);
    free(valid);
    close(sock);
    return state_ok && engine_ok ? 0 : 1;
}
