/* OSC control and feedback of `advinst live` (see include/advinst/osc.h). */
#include "advinst/osc.h"
#include "advinst/error.h"
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define NS "/advinst/"
#define MAX_SUBSCRIBERS 16
#define POLL_MAX 256                 /* messages handled per adv_osc_poll call at most */
#define RECEIVE_BUFFER (4 << 20)     /* bytes asked for; the kernel doubles it (bookkeeping) */

/* liblo's arguments point into the datagram, which is only 4-byte aligned, while union lo_arg
 * has 8-byte members: read them through memcpy (no misaligned access). */
static int32_t arg_i(lo_arg *a) { int32_t v; memcpy(&v, (const void *)a, sizeof v); return v; }
static float arg_f(lo_arg *a) { float v; memcpy(&v, (const void *)a, sizeof v); return v; }
static const char *arg_s(lo_arg *a) { return (const char *)(const void *)a; }

/* The addresses that are not settings (the settings come from the settings table, live.h). */
static const adv_osc_address control_addresses[] = {
    {"/advinst/subscribe", "[si]", 1, "send feedback to host:port (no arguments: to the sender)"},
    {"/advinst/ping", "", 1, "answered with /advinst/pong"},
    {"/advinst/query", "[si]", 1, "answered with /advinst/state and /advinst/stats to host:port (no arguments: the sender)"},
    {"/advinst/prediction", "ssf", 0, "stream (in|out), class (\"silent\" while the window is silent), confidence"},
    {"/advinst/probs", "sffffffffffff", 0, "stream, 12 probabilities in class order"},
    {"/advinst/attack", "isfisii", 0, "segment, status (ok|failed|miss|silent|error), snr_db, iterations, "
                                      "class heard, windows checked, windows on target"},
    {"/advinst/state", "ssfffiisifff", 0, "target, method, step, alpha, eps, iterations, bypass, preset, version, latency_seconds, confidence, bound"},
    {"/advinst/stats", "hhhhhhhhhhhhi", 0, "messages received, changed, rejected, ignored, malformed; frames, xruns; "
                                           "segments ok, failed, missed, clean; ring overflows; engine settings version"},
    {"/advinst/pong", "", 0, "answer to /advinst/ping"},
    {"/advinst/error", "s", 0, "why a message was refused"},
};
#define N_CONTROL ((int)(sizeof control_addresses / sizeof control_addresses[0]))
#define MAX_ADDRESSES (N_CONTROL + 16)

static adv_osc_address all_addresses[MAX_ADDRESSES];
static char setting_paths[16][48], setting_summaries[16][192];
static int n_addresses;
static pthread_once_t addresses_once = PTHREAD_ONCE_INIT;

/* Every setting of the table (in), then the control addresses. */
static void build_addresses(void)
{
    int n_settings;
    const adv_live_setting *t = adv_live_setting_table(&n_settings);
    for (int i = 0; i < n_settings && i < 16; i++) {
        char range[48] = "";
        if (t[i].kind == ADV_LIVE_SET_FLOAT || t[i].kind == ADV_LIVE_SET_INT)
            adv_live_setting_range_text(&t[i], range, sizeof range);
        snprintf(setting_paths[i], sizeof setting_paths[i], "%s%s", NS, t[i].name);
        snprintf(setting_summaries[i], sizeof setting_summaries[i], "%s%s%s", t[i].description, range[0] ? ", " : "", range);
        all_addresses[n_addresses++] = (adv_osc_address){setting_paths[i], t[i].osc_types, 1, setting_summaries[i]};
    }
    for (int i = 0; i < N_CONTROL; i++) all_addresses[n_addresses++] = control_addresses[i];
}

const adv_osc_address *adv_osc_addresses(int *count)
{
    pthread_once(&addresses_once, build_addresses);
    *count = n_addresses;
    return all_addresses;
}

void adv_osc_print_addresses(FILE *out)
{
    int n;
    const adv_osc_address *a = adv_osc_addresses(&n);
    for (int i = 0; i < n; i++)
        fprintf(out, "%-3s %-20s %-14s %s\n", a[i].incoming ? "in" : "out", a[i].path, a[i].types[0] ? a[i].types : "-",
                a[i].summary);
}

/* ---- message -> settings (pure) ---- */

static adv_osc_action refuse(adv_osc_reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static adv_osc_action refuse(adv_osc_reply *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
    /* the message quotes what the sender sent: keep it one printable line */
    for (char *c = r->error; *c; c++)
        if ((unsigned char)*c < 32 || *c == 127) *c = '?';
    return ADV_OSC_ERROR;
}

static int types_are(const char *types, const char *want) { return !strcmp(types, want); }

/* "one float", "one string or int" for the accepted types "f", "s|i". */
static const char *types_text(const char *osc_types, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "one");
    for (const char *t = osc_types; *t && len < size; t++) {
        const char *word = *t == 's' ? "string" : *t == 'i' ? "int" : *t == 'f' ? "float" : *t == '|' ? "or" : "?";
        len += (size_t)snprintf(buf + len, size - len, " %s", word);
    }
    return buf;
}

/* A setting (live.h's table) from one argument, through the settings' setter. An int for the
 * target is a class index (0..11); none and random are named. */
static adv_osc_action set_from_osc(const adv_model *m, const adv_live_setting *d, const char *path, const char *types,
                                   lo_arg **argv, adv_live_settings *next, adv_osc_reply *r)
{
    char what[48];
    if (strlen(types) != 1 || !strchr(d->osc_types, types[0]) || types[0] == '|')
        return refuse(r, "%s takes %s (got \"%s\")", path, types_text(d->osc_types, what, sizeof what), types);
    int rc;
    if (types[0] == 's') {
        rc = adv_live_settings_set(next, m, d->name, arg_s(argv[0]));
    } else if (types[0] == 'i') {
        int32_t v = arg_i(argv[0]);
        if (d->kind == ADV_LIVE_SET_TARGET && (v < 0 || v >= ADV_N_CLASSES))
            return refuse(r, "%s: class index %d is not in 0..%d", path, v, ADV_N_CLASSES - 1);
        rc = adv_live_settings_set_number(next, m, d->name, v);
    } else {
        rc = adv_live_settings_set_number(next, m, d->name, arg_f(argv[0]));
    }
    /* the setter's message starts with the setting's name: prefixed, it starts with the address */
    return rc == 0 ? ADV_OSC_CHANGED : refuse(r, "%s%s", NS, adv_error());
}

adv_osc_action adv_osc_handle(const adv_model *m, const adv_live_settings *cur, const char *path, const char *types,
                              lo_arg **argv, adv_live_settings *next, adv_osc_reply *r)
{
    *next = *cur;
    memset(r, 0, sizeof *r);
    if (!path || strncmp(path, NS, strlen(NS))) return ADV_OSC_IGNORED;
    if (!types) types = "";
    const char *a = path + strlen(NS);
    const adv_live_setting *d = adv_live_setting_find(a);
    if (d) {
        adv_osc_action act = set_from_osc(m, d, path, types, argv, next, r);
        if (act != ADV_OSC_CHANGED) *next = *cur;
        return act;
    }
    if (!strcmp(a, "subscribe") || !strcmp(a, "query")) {
        const adv_osc_action act = a[0] == 's' ? ADV_OSC_SUBSCRIBE : ADV_OSC_QUERY;
        if (types_are(types, "")) return act;
        if (!types_are(types, "si")) return refuse(r, "%s takes no arguments or a host and a port (got \"%s\")", path, types);
        const char *host = arg_s(argv[0]);
        int port = arg_i(argv[1]);
        if (!*host || strlen(host) >= sizeof r->host) return refuse(r, "%s: invalid host", path);
        if (port < 1 || port > 65535) return refuse(r, "%s: port %d is not in 1..65535", path, port);
        snprintf(r->host, sizeof r->host, "%s", host);
        r->port = port;
        return act;
    }
    if (!strcmp(a, "ping")) {
        if (!types_are(types, "")) return refuse(r, "%s takes no arguments (got \"%s\")", path, types);
        return ADV_OSC_PING;
    }
    return refuse(r, "unknown address %.128s", path);
}

adv_osc_action adv_osc_handle_packet(const adv_model *m, const adv_live_settings *cur, const void *data, size_t size,
                                     adv_live_settings *next, adv_osc_reply *r)
{
    *next = *cur;
    memset(r, 0, sizeof *r);
    if (!data || size < 4 || size > 65536 || size % 4) return refuse(r, "malformed OSC message");
    void *copy = malloc(size);
    if (!copy) return refuse(r, "out of memory");
    memcpy(copy, data, size);
    int result = 0;
    lo_message msg = lo_message_deserialise(copy, size, &result);
    adv_osc_action act;
    if (!msg) {
        act = refuse(r, "malformed OSC message");
    } else {
        const char *path = lo_get_path(copy, (ssize_t)size);
        act = path ? adv_osc_handle(m, cur, path, lo_message_get_types(msg), lo_message_get_argv(msg), next, r)
                   : refuse(r, "malformed OSC message");
        lo_message_free(msg);
    }
    free(copy);
    return act;
}

/* ---- the server ---- */

struct adv_osc {
    lo_server server;
    const adv_model *model;
    adv_live *engine;
    adv_live_settings settings;
    lo_address subs[MAX_SUBSCRIBERS];
    int n_subs;
    adv_osc_counts counts;
    long next_error_report;  /* liblo errors: report again once their count reaches this */
    int receive_buffer;
};

/* liblo's error handler has no user pointer: it counts (per process) and keeps the last message;
 * adv_osc_poll reports them, sparsely, so that a flood of garbage cannot flood the log. */
static atomic_long lo_errors;
static char lo_last_error[160];

static void lo_error(int num, const char *msg, const char *where)
{
    snprintf(lo_last_error, sizeof lo_last_error, "%d: %s%s%.64s", num, msg ? msg : "", where ? " at " : "", where ? where : "");
    for (char *c = lo_last_error; *c; c++)   /* `where` may be the start of a garbage datagram */
        if ((unsigned char)*c < 32 || (unsigned char)*c > 126) *c = '?';
    atomic_fetch_add(&lo_errors, 1);
}

int adv_osc_port(const adv_osc *o) { return lo_server_get_port(o->server); }
int adv_osc_receive_buffer(const adv_osc *o) { return o->receive_buffer; }

void adv_osc_get_counts(const adv_osc *o, adv_osc_counts *c)
{
    *c = o->counts;
    c->malformed = atomic_load(&lo_errors);
}
const adv_live_settings *adv_osc_settings(const adv_osc *o) { return &o->settings; }

static void publish(adv_osc *o)
{
    if (o->engine) o->settings.version = adv_live_publish(o->engine, &o->settings);
}

void adv_osc_set_engine(adv_osc *o, adv_live *engine)
{
    o->engine = engine;
    publish(o);
}

void adv_osc_set_settings(adv_osc *o, const adv_live_settings *s)
{
    o->settings = *s;
    publish(o);
    adv_osc_send_state(o);
}

/* Sends to every subscriber, and to `also` unless it is one of them. */
static void send_all(adv_osc *o, lo_address also, const char *path, lo_message msg)
{
    int also_done = 0;
    for (int i = 0; i < o->n_subs; i++) {
        lo_send_message_from(o->subs[i], o->server, path, msg);
        if (also && !strcmp(lo_address_get_hostname(also), lo_address_get_hostname(o->subs[i])) &&
            !strcmp(lo_address_get_port(also), lo_address_get_port(o->subs[i])))
            also_done = 1;
    }
    if (also && !also_done) lo_send_message_from(also, o->server, path, msg);
}

static lo_message state_message(const adv_osc *o)
{
    const adv_live_settings *s = &o->settings;
    lo_message m = lo_message_new();
    lo_message_add_string(m, adv_live_target_name(o->model, s->target));
    lo_message_add_string(m, adv_live_method_name(s->method));
    lo_message_add_float(m, s->lr);
    lo_message_add_float(m, s->alpha);
    lo_message_add_float(m, s->eps);
    lo_message_add_int32(m, (int32_t)s->max_iter);
    lo_message_add_int32(m, s->bypass);
    lo_message_add_string(m, s->preset);
    lo_message_add_int32(m, (int32_t)s->version);
    double latency = 0;
    if (o->engine) latency = (double)adv_live_latency(o->engine) / adv_live_get_config(o->engine)->rate;
    lo_message_add_float(m, (float)latency);
    lo_message_add_float(m, s->confidence);
    lo_message_add_float(m, s->bound_db);
    return m;
}

static void send_state_to(adv_osc *o, lo_address also)
{
    lo_message m = state_message(o);
    send_all(o, also, "/advinst/state", m);
    lo_message_free(m);
}

/* /advinst/stats to one address: the message counts and the engine's counters. */
static void send_stats(adv_osc *o, lo_address to)
{
    adv_osc_counts c;
    adv_osc_get_counts(o, &c);
    adv_live_stats st;
    memset(&st, 0, sizeof st);
    adv_live_settings running;
    memset(&running, 0, sizeof running);
    if (o->engine) {
        adv_live_get_stats(o->engine, &st);
        adv_live_read_settings(o->engine, ADV_LIVE_READER_CONTROL, &running);
    }
    const int64_t v[] = {c.received,     c.changed,        c.rejected,   c.ignored,        c.malformed,
                         (int64_t)st.frames, st.xruns,     st.segments_ok,  st.segments_failed,  st.segments_miss,
                         st.segments_clean, st.ring_overflows};
    lo_message m = lo_message_new();
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) lo_message_add_int64(m, v[i]);
    lo_message_add_int32(m, (int32_t)running.version);
    lo_send_message_from(to, o->server, "/advinst/stats", m);
    lo_message_free(m);
}

void adv_osc_send_state(adv_osc *o) { send_state_to(o, NULL); }

static void send_error_to(adv_osc *o, lo_address also, const char *text)
{
    lo_message m = lo_message_new();
    lo_message_add_string(m, text);
    send_all(o, also, "/advinst/error", m);
    lo_message_free(m);
}

void adv_osc_send_error(adv_osc *o, const char *text) { send_error_to(o, NULL, text); }

int adv_osc_subscribe(adv_osc *o, const char *host, const char *port)
{
    for (int i = 0; i < o->n_subs; i++)
        if (!strcmp(lo_address_get_hostname(o->subs[i]), host) && !strcmp(lo_address_get_port(o->subs[i]), port)) {
            send_state_to(o, o->subs[i]);
            return 0;
        }
    if (o->n_subs == MAX_SUBSCRIBERS) return adv_fail("too many OSC subscribers (%d)", MAX_SUBSCRIBERS);
    lo_address a = lo_address_new(host, port);
    if (!a) return adv_fail("invalid OSC address %s:%s", host, port);
    o->subs[o->n_subs++] = a;
    lo_message m = state_message(o);
    lo_send_message_from(a, o->server, "/advinst/state", m);
    lo_message_free(m);
    return 0;
}

/* Every message arrives here: the pure function decides, this applies and answers. */
static int on_message(const char *path, const char *types, lo_arg **argv, int argc, lo_message msg, void *user)
{
    (void)argc;
    adv_osc *o = user;
    lo_address src = lo_message_get_source(msg);
    adv_live_settings next;
    adv_osc_reply r;
    o->counts.received++;
    switch (adv_osc_handle(o->model, &o->settings, path, types, argv, &next, &r)) {
    case ADV_OSC_IGNORED: o->counts.ignored++; return 1;
    case ADV_OSC_CHANGED:
        o->counts.changed++;
        o->settings = next;
        publish(o);
        send_state_to(o, src);
        return 0;
    case ADV_OSC_ERROR:
        o->counts.rejected++;
        send_error_to(o, src, r.error);
        return 0;
    case ADV_OSC_QUERY: {
        char port[16];
        snprintf(port, sizeof port, "%d", r.port);
        lo_address to = r.port ? lo_address_new(r.host, port) : src;
        if (!to) {
            send_error_to(o, src, "/advinst/query: invalid address");
            return 0;
        }
        lo_message m = state_message(o);
        lo_send_message_from(to, o->server, "/advinst/state", m);
        lo_message_free(m);
        send_stats(o, to);
        if (to != src) lo_address_free(to);
        return 0;
    }
    case ADV_OSC_PING: {
        lo_message m = lo_message_new();
        send_all(o, src, "/advinst/pong", m);
        lo_message_free(m);
        return 0;
    }
    case ADV_OSC_SUBSCRIBE: {
        char port[16];
        const char *host = r.port ? r.host : lo_address_get_hostname(src);
        if (r.port) snprintf(port, sizeof port, "%d", r.port);
        else snprintf(port, sizeof port, "%s", lo_address_get_port(src));
        if (adv_osc_subscribe(o, host, port) != 0) send_error_to(o, src, adv_error());
        return 0;
    }
    }
    return 0;
}

adv_osc *adv_osc_open(const char *port, const adv_model *m, const adv_live_settings *initial)
{
    adv_osc *o = calloc(1, sizeof *o);
    if (!o) { adv_fail("out of memory"); return NULL; }
    o->model = m;
    if (initial) o->settings = *initial;
    else adv_live_settings_default(&o->settings);
    const long errors_before = atomic_load(&lo_errors);
    o->server = lo_server_new(port && strcmp(port, "0") ? port : NULL, lo_error);
    if (!o->server) {
        free(o);
        adv_fail("cannot listen for OSC on UDP port %s (in use?)%s%s", port ? port : "(any)",
                 atomic_load(&lo_errors) > errors_before ? ": liblo error " : "",
                 atomic_load(&lo_errors) > errors_before ? lo_last_error : "");
        return NULL;
    }
    /* Bundle elements apply on arrival: a bundle time-tagged in the future would otherwise wait in
     * liblo's queue, which any sender could grow without bound. */
    lo_server_enable_queue(o->server, 0, 1);
    o->next_error_report = atomic_load(&lo_errors) + 1;
    lo_server_add_method(o->server, NULL, NULL, on_message, o);
    /* room for bursts: as root beyond net.core.rmem_max (SO_RCVBUFFORCE), else up to it */
    int fd = lo_server_get_socket_fd(o->server), want = RECEIVE_BUFFER, got = 0;
    socklen_t len = sizeof got;
    if (fd >= 0) {
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
        if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len) == 0) o->receive_buffer = got;
    }
    return o;
}

void adv_osc_close(adv_osc *o)
{
    if (!o) return;
    for (int i = 0; i < o->n_subs; i++) lo_address_free(o->subs[i]);
    lo_server_free(o->server);
    free(o);
}

int adv_osc_dispatch(adv_osc *o, const void *data, size_t size)
{
    if (!data || size == 0 || size > 65536) return adv_fail("malformed OSC packet (%zu bytes)", size);
    void *copy = malloc(size);   /* liblo converts byte order in place */
    if (!copy) return adv_fail("out of memory");
    memcpy(copy, data, size);
    int rc = lo_server_dispatch_data(o->server, copy, size);
    free(copy);
    return rc < 0 ? adv_fail("malformed OSC packet") : 0;
}

int adv_osc_poll(adv_osc *o, int timeout_ms)
{
    const long before = o->counts.changed;
    int n = 0;
    while (n < POLL_MAX && lo_server_recv_noblock(o->server, 0) > 0) n++;
    if (n == 0 && timeout_ms > 0 && lo_server_recv_noblock(o->server, timeout_ms) > 0) {
        n = 1;
        while (n < POLL_MAX && lo_server_recv_noblock(o->server, 0) > 0) n++;
    }
    const long errors = atomic_load(&lo_errors);
    if (errors >= o->next_error_report) {
        fprintf(stderr, "advinst live: OSC: %ld malformed message%s so far (last: %s)\n", errors, errors == 1 ? "" : "s",
                lo_last_error);
        o->next_error_report = 2 * errors;
    }
    return (int)(o->counts.changed - before);
}

void adv_osc_send_event(adv_osc *o, const adv_live_event *ev)
{
    if (o->n_subs == 0 || ev->type == ADV_LIVE_EV_SPECTRUM) return;   /* spectra: the web view only */
    if (ev->type == ADV_LIVE_EV_PROBS) {
        const char *stream = ev->stream ? "out" : "in";
        int best = adv_most_likely(ev->probs);
        lo_message m = lo_message_new();
        lo_message_add_string(m, stream);
        lo_message_add_string(m, ev->silent ? "silent" : o->model->classes[best]);
        lo_message_add_float(m, ev->silent ? 0.0f : ev->probs[best]);
        send_all(o, NULL, "/advinst/prediction", m);
        lo_message_free(m);
        m = lo_message_new();
        lo_message_add_string(m, stream);
        for (int k = 0; k < ADV_N_CLASSES; k++) lo_message_add_float(m, ev->probs[k]);
        send_all(o, NULL, "/advinst/probs", m);
        lo_message_free(m);
        return;
    }
    lo_message m = lo_message_new();
    lo_message_add_int32(m, (int32_t)ev->segment);
    lo_message_add_string(m, adv_live_segment_status_name(ev->status));
    lo_message_add_float(m, ev->snr_db);
    lo_message_add_int32(m, (int32_t)ev->iterations);
    lo_message_add_string(m, ev->after_class >= 0 ? o->model->classes[ev->after_class] : "none");
    lo_message_add_int32(m, ev->windows);
    lo_message_add_int32(m, ev->hits);
    send_all(o, NULL, "/advinst/attack", m);
    lo_message_free(m);
    if (ev->status == ADV_LIVE_SEG_ERROR && ev->message[0]) send_error_to(o, NULL, ev->message);
}
