/* The web view's server (include/advinst/view.h): civetweb for HTTP and WebSockets, a feed thread
 * that turns the control thread's records into JSON batches, one writer thread per WebSocket
 * client with a bounded queue that drops its oldest batch. */
#include "advinst/view.h"
#include "advinst/error.h"
#include "advinst/ring.h"
#include <civetweb.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define RING_BYTES (1 << 20)   /* control -> feed: about 500 events */
#define CLIENT_QUEUE 16        /* batches waiting for one client (0.8 s): then the oldest goes */
#define TICK_MS 50             /* a batch every 50 ms at most (20 a second) */
#define RESEND_TICKS 40        /* the state again every 2 s (a client that dropped it catches up) */
#define MAX_REQUESTS 32        /* page controls waiting for the control thread */

typedef enum { REC_EVENT = 1, REC_STATE, REC_STATS, REC_ERROR, REC_TIMING } rec_type;
typedef struct {
    uint32_t type, size;
} rec_hdr;
typedef struct {
    int rate;
    long latency, window;
} timing;

/* A batch shared by every client's queue, freed by its last reader. */
typedef struct {
    atomic_int refs;
    size_t len;
    char data[];
} frame;

typedef struct {
    adv_view *view;
    struct mg_connection *conn;
    pthread_t writer;
    int ready, closing, failed;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    frame *queue[CLIENT_QUEUE];
    int head, count;
} client;

typedef struct {
    char name[32], value[128];
} request;

struct adv_view {
    struct mg_context *ctx;
    const adv_model *model;
    int port, osc_port;
    adv_ring *ring;
    pthread_t feed;
    int feed_started;
    atomic_int stop;

    /* what the feed thread last learnt (request threads read it for OSCQuery and hellos) */
    pthread_mutex_t snap_lock;
    adv_live_settings settings;
    timing timing;

    pthread_mutex_t clients_lock;
    client *clients[ADV_VIEW_MAX_CLIENTS];

    pthread_mutex_t req_lock;
    request req[MAX_REQUESTS];
    int req_head, req_count;

    atomic_long clients_now, clients_total, clients_refused, batches, frames_sent, frames_dropped, records_dropped,
        requests, bad_requests, commands;
};

/* ---- thread stacks ----
 * civetweb (Debian's build) starts its threads with a fixed 100 kB stack, and glibc places every
 * library's static thread-local storage inside each thread's stack: OpenBLAS alone has 60 kB of it,
 * so civetweb's threads are left with about 25 kB here and overflow in civetweb's own code (its
 * mg_printf takes 8 kB; the first request crashed). This floor, which the program's
 * pthread_attr_setstacksize resolves to before libc's (civetweb looks the function up through the
 * dynamic linker, and the executable comes first), gives every thread that asks for less at least
 * STACK_FLOOR; threads asking for more (JACK's, OpenMP's) are unchanged. */
#define STACK_FLOOR (512 * 1024)

int pthread_attr_setstacksize(pthread_attr_t *attr, size_t size)
{
    static int (*real)(pthread_attr_t *, size_t);
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, "pthread_attr_setstacksize");
    if (!real) return 0;   /* cannot happen with glibc: keep the default stack */
    return real(attr, size < STACK_FLOOR ? STACK_FLOOR : size);
}

static void frame_release(frame *f)
{
    if (f && atomic_fetch_sub(&f->refs, 1) == 1) free(f);
}

/* ---- the control thread's side: a lock-free ring, never waiting ---- */

static void push_record(adv_view *v, rec_type type, const void *data, size_t size)
{
    rec_hdr h = {type, (uint32_t)size};
    if (adv_ring_write2(v->ring, &h, sizeof h, data, size) != 0) atomic_fetch_add(&v->records_dropped, 1);
}

void adv_view_push_timing(adv_view *v, int rate, long latency_frames, long window_frames)
{
    timing t = {rate, latency_frames, window_frames};
    push_record(v, REC_TIMING, &t, sizeof t);
}
void adv_view_push_event(adv_view *v, const adv_live_event *ev) { push_record(v, REC_EVENT, ev, sizeof *ev); }
void adv_view_push_state(adv_view *v, const adv_live_settings *s) { push_record(v, REC_STATE, s, sizeof *s); }
void adv_view_push_stats(adv_view *v, const adv_live_stats *st) { push_record(v, REC_STATS, st, sizeof *st); }
void adv_view_push_error(adv_view *v, const char *message)
{
    char text[256];
    snprintf(text, sizeof text, "%s", message);
    push_record(v, REC_ERROR, text, strlen(text) + 1);
}

int adv_view_poll_request(adv_view *v, char *name, size_t name_size, char *value, size_t value_size)
{
    pthread_mutex_lock(&v->req_lock);
    int got = v->req_count > 0;
    if (got) {
        const request *r = &v->req[v->req_head];
        snprintf(name, name_size, "%s", r->name);
        snprintf(value, value_size, "%s", r->value);
        v->req_head = (v->req_head + 1) % MAX_REQUESTS;
        v->req_count--;
    }
    pthread_mutex_unlock(&v->req_lock);
    return got;
}

/* ---- the feed thread: records -> one JSON array per tick -> every client's queue ---- */

typedef struct {
    char *data;
    size_t len, cap;
} text_buf;

static void append(text_buf *b, const char *s)
{
    if (!s) return;
    size_t n = strlen(s);
    if (b->len + n + 2 > b->cap) {
        size_t cap = (b->len + n + 2) * 2;
        char *d = realloc(b->data, cap);
        if (!d) return;
        b->data = d;
        b->cap = cap;
    }
    b->data[b->len] = b->len ? ',' : '[';
    b->len++;
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static void append_free(text_buf *b, char *s)
{
    append(b, s);
    free(s);
}

/* Hands f to every ready client; a full queue loses its oldest batch. */
static void broadcast(adv_view *v, frame *f)
{
    pthread_mutex_lock(&v->clients_lock);
    for (int i = 0; i < ADV_VIEW_MAX_CLIENTS; i++) {
        client *c = v->clients[i];
        if (!c || !c->ready) continue;
        pthread_mutex_lock(&c->lock);
        if (c->count == CLIENT_QUEUE) {
            frame_release(c->queue[c->head]);
            c->head = (c->head + 1) % CLIENT_QUEUE;
            c->count--;
            atomic_fetch_add(&v->frames_dropped, 1);
        }
        atomic_fetch_add(&f->refs, 1);
        c->queue[(c->head + c->count++) % CLIENT_QUEUE] = f;
        pthread_cond_signal(&c->cond);
        pthread_mutex_unlock(&c->lock);
    }
    pthread_mutex_unlock(&v->clients_lock);
}

/* A frame of `len` bytes: "[" prefix data "]" if wrap, else data alone. */
static frame *make_frame(const char *data, size_t len, int wrap)
{
    frame *f = malloc(sizeof *f + len + 2);
    if (!f) return NULL;
    atomic_init(&f->refs, 1);
    f->len = len + (wrap ? 2 : 0);
    memcpy(f->data + (wrap ? 1 : 0), data, len);
    if (wrap) f->data[0] = '[', f->data[len + 1] = ']';
    return f;
}

/* Queues a message for one client only (its hello, an answer to its control). */
static void send_to(client *c, char *json)
{
    frame *f = json ? make_frame(json, strlen(json), 1) : NULL;
    free(json);
    if (!f) return;
    pthread_mutex_lock(&c->lock);
    if (c->count < CLIENT_QUEUE) {
        c->queue[(c->head + c->count++) % CLIENT_QUEUE] = f;
        pthread_cond_signal(&c->cond);
    } else {
        frame_release(f);
    }
    pthread_mutex_unlock(&c->lock);
}

/* Turns every queued record into a message of buf (NULL: with no client, only the snapshot is kept). */
static void drain_records(adv_view *v, text_buf *buf, adv_live_event *ev)
{
    rec_hdr h;
    while (adv_ring_peek(v->ring, &h, sizeof h) == 0) {
        union {
            adv_live_settings settings;
            adv_live_stats stats;
            timing timing;
            char text[256];
        } u;
        void *dst = h.type == REC_EVENT ? (void *)ev : (void *)&u;
        if (h.size > (h.type == REC_EVENT ? sizeof *ev : sizeof u)) {   /* cannot happen: resynchronise */
            adv_ring_skip(v->ring, adv_ring_read_space(v->ring));
            return;
        }
        adv_ring_skip(v->ring, sizeof h);
        adv_ring_read(v->ring, dst, h.size);
        pthread_mutex_lock(&v->snap_lock);
        const timing t = v->timing;
        if (h.type == REC_STATE) v->settings = u.settings;
        if (h.type == REC_TIMING) v->timing = u.timing;
        pthread_mutex_unlock(&v->snap_lock);
        if (!buf) continue;
        switch ((rec_type)h.type) {
        case REC_EVENT: append_free(buf, adv_view_event_json(v->model, ev, t.rate)); break;
        case REC_STATE:
            append_free(buf, adv_view_state_json(v->model, &u.settings, t.rate > 0 ? (double)t.latency / t.rate : 0));
            break;
        case REC_STATS: append_free(buf, adv_view_stats_json(&u.stats, t.rate)); break;
        case REC_ERROR:
            u.text[sizeof u.text - 1] = 0;
            append_free(buf, adv_view_error_json(u.text));
            break;
        case REC_TIMING: {
            adv_live_settings s;
            pthread_mutex_lock(&v->snap_lock);
            s = v->settings;
            pthread_mutex_unlock(&v->snap_lock);
            append_free(buf, adv_view_hello_json(v->model, &s, u.timing.rate, u.timing.latency, u.timing.window));
            break;
        }
        }
    }
}

static void *feed_main(void *arg)
{
    adv_view *v = arg;
    pthread_setname_np(pthread_self(), "adv-view-feed");
    text_buf buf = {0};
    adv_live_event *ev = malloc(sizeof *ev);
    long tick = 0;
    while (ev && !atomic_load(&v->stop)) {
        struct timespec ts = {0, TICK_MS * 1000000L};
        nanosleep(&ts, NULL);
        buf.len = 0;
        const int anyone = atomic_load(&v->clients_now) > 0;
        drain_records(v, anyone ? &buf : NULL, ev);
        if (!anyone) continue;
        if (++tick % RESEND_TICKS == 0) {
            pthread_mutex_lock(&v->snap_lock);
            adv_live_settings s = v->settings;
            const timing t = v->timing;
            pthread_mutex_unlock(&v->snap_lock);
            append_free(&buf, adv_view_state_json(v->model, &s, t.rate > 0 ? (double)t.latency / t.rate : 0));
        }
        if (!buf.len) continue;
        buf.data[buf.len++] = ']';
        frame *f = make_frame(buf.data, buf.len, 0);
        if (!f) continue;
        atomic_fetch_add(&v->batches, 1);
        broadcast(v, f);
        frame_release(f);
    }
    free(ev);
    free(buf.data);
    return NULL;
}

/* ---- WebSocket clients ---- */

static void *writer_main(void *arg)
{
    client *c = arg;
    pthread_setname_np(pthread_self(), "adv-view-write");
    for (;;) {
        pthread_mutex_lock(&c->lock);
        while (!c->closing && c->count == 0) pthread_cond_wait(&c->cond, &c->lock);
        if (c->closing) {
            pthread_mutex_unlock(&c->lock);
            return NULL;
        }
        frame *f = c->queue[c->head];
        c->head = (c->head + 1) % CLIENT_QUEUE;
        c->count--;
        const int failed = c->failed;
        pthread_mutex_unlock(&c->lock);
        /* a browser that stopped reading blocks this thread only, up to websocket_timeout_ms */
        if (!failed && mg_websocket_write(c->conn, MG_WEBSOCKET_OPCODE_TEXT, f->data, f->len) > 0)
            atomic_fetch_add(&c->view->frames_sent, 1);
        else
            c->failed = 1;   /* read under the lock above; only this thread writes it */
        frame_release(f);
    }
}

/* 1 if key is what RFC 6455 asks for: the base64 of 16 bytes (24 characters, "==" at the end). */
static int websocket_key_ok(const char *key)
{
    if (!key || strlen(key) != 24 || strcmp(key + 22, "==")) return 0;
    for (int i = 0; i < 22; i++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", key[i])) return 0;
    return 1;
}

/* Refuses a handshake with an answer (civetweb would just close the connection). */
static int refuse(const struct mg_connection *cconn, adv_view *v, int status, const char *why)
{
    struct mg_connection *conn = (struct mg_connection *)cconn;   /* ours to write to until we return */
    mg_printf(conn, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
              status, mg_get_response_code_text(conn, status), strlen(why), why);
    atomic_fetch_add(&v->clients_refused, 1);
    atomic_fetch_add(&v->bad_requests, status < 500);
    return 1;
}

/* The handshake: a well-formed key (civetweb answers a bad one with a 500), at most
 * ADV_VIEW_MAX_CLIENTS, and only pages of this server (a page of another site must not drive the
 * attack through the visitor's browser). */
static int on_ws_connect(const struct mg_connection *conn, void *data)
{
    adv_view *v = data;
    const char *origin = mg_get_header(conn, "Origin"), *host = mg_get_header(conn, "Host");
    if (!websocket_key_ok(mg_get_header(conn, "Sec-WebSocket-Key"))) return refuse(conn, v, 400, "bad Sec-WebSocket-Key\n");
    if (origin) {
        const char *o = !strncasecmp(origin, "http://", 7) ? origin + 7 : NULL;
        if (!o || !host || strcasecmp(o, host)) return refuse(conn, v, 403, "a page of another origin\n");
    }
    client *c = calloc(1, sizeof *c);
    if (!c) return 1;
    c->view = v;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    int placed = 0;
    pthread_mutex_lock(&v->clients_lock);
    for (int i = 0; i < ADV_VIEW_MAX_CLIENTS && !placed; i++)
        if (!v->clients[i]) v->clients[i] = c, placed = 1;
    pthread_mutex_unlock(&v->clients_lock);
    if (!placed) {
        pthread_mutex_destroy(&c->lock);
        pthread_cond_destroy(&c->cond);
        free(c);
        return refuse(conn, v, 503, "too many clients\n");
    }
    mg_set_user_connection_data(conn, c);
    return 0;
}

static void on_ws_ready(struct mg_connection *conn, void *data)
{
    adv_view *v = data;
    client *c = mg_get_user_connection_data(conn);
    if (!c) return;
    c->conn = conn;
    pthread_mutex_lock(&v->snap_lock);
    adv_live_settings s = v->settings;
    const timing t = v->timing;
    pthread_mutex_unlock(&v->snap_lock);
    send_to(c, adv_view_hello_json(v->model, &s, t.rate, t.latency, t.window));
    if (pthread_create(&c->writer, NULL, writer_main, c) != 0) return;
    pthread_mutex_lock(&v->clients_lock);
    c->ready = 1;
    pthread_mutex_unlock(&v->clients_lock);
    atomic_fetch_add(&v->clients_now, 1);
    atomic_fetch_add(&v->clients_total, 1);
}

static int on_ws_data(struct mg_connection *conn, int bits, char *data, size_t len, void *cbdata)
{
    adv_view *v = cbdata;
    const int opcode = bits & 0xf;
    if (opcode == MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE) return 0;
    if (opcode != MG_WEBSOCKET_OPCODE_TEXT) return 1;   /* pings are civetweb's; binary is ignored */
    request r;
    char why[160];
    atomic_fetch_add(&v->commands, 1);
    if (adv_view_parse_command(data, len, r.name, sizeof r.name, r.value, sizeof r.value, why, sizeof why) != 0) {
        client *c = mg_get_user_connection_data(conn);
        if (c) send_to(c, adv_view_error_json(why));
        return 1;
    }
    pthread_mutex_lock(&v->req_lock);
    const int queued = v->req_count < MAX_REQUESTS;
    if (queued) v->req[(v->req_head + v->req_count++) % MAX_REQUESTS] = r;
    pthread_mutex_unlock(&v->req_lock);
    client *c = queued ? NULL : mg_get_user_connection_data(conn);
    if (c) send_to(c, adv_view_error_json("too many controls at once: try again"));
    return 1;
}

static void on_ws_close(const struct mg_connection *conn, void *data)
{
    adv_view *v = data;
    client *c = mg_get_user_connection_data(conn);
    if (!c) return;
    pthread_mutex_lock(&v->clients_lock);
    for (int i = 0; i < ADV_VIEW_MAX_CLIENTS; i++)
        if (v->clients[i] == c) v->clients[i] = NULL;
    const int was_ready = c->ready;
    pthread_mutex_unlock(&v->clients_lock);
    if (was_ready) {
        pthread_mutex_lock(&c->lock);
        c->closing = 1;
        pthread_cond_signal(&c->cond);
        pthread_mutex_unlock(&c->lock);
        pthread_join(c->writer, NULL);
        atomic_fetch_sub(&v->clients_now, 1);
    }
    for (; c->count > 0; c->count--, c->head = (c->head + 1) % CLIENT_QUEUE) frame_release(c->queue[c->head]);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free(c);
}

/* ---- HTTP requests ---- */

static int on_request(struct mg_connection *conn, void *data)
{
    adv_view *v = data;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    pthread_mutex_lock(&v->snap_lock);
    adv_live_settings s = v->settings;
    pthread_mutex_unlock(&v->snap_lock);
    adv_view_context ctx = {v->model, &s, v->osc_port};
    adv_view_response r;
    adv_view_route(&ctx, ri->request_method, ri->local_uri_raw, ri->query_string, mg_get_header(conn, "Accept"), &r);
    atomic_fetch_add(&v->requests, 1);
    if (r.status >= 400 && r.status < 500) atomic_fetch_add(&v->bad_requests, 1);
    /* the whole header at once (civetweb 1.15's mg_response_header_* crash on some requests) */
    const int json = r.content_type && !strcmp(r.content_type, "application/json");
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
              "%s%s%s%s%s%s",
              r.status, mg_get_response_code_text(conn, r.status), r.length, r.content_type ? "Content-Type: " : "",
              r.content_type ? r.content_type : "", r.content_type ? "\r\n" : "",
              json ? "Access-Control-Allow-Origin: *\r\n" : "",   /* OSCQuery clients in other pages */
              r.location ? "Location: /view\r\n" : "", "\r\n");
    const char *body = r.body ? r.body : r.static_body;
    if (body && r.length && strcmp(ri->request_method, "HEAD")) mg_write(conn, body, r.length);
    free(r.body);
    return r.status;
}

/* civetweb's own messages (bad requests, closed sockets) are counted, not printed. */
static int on_log(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    (void)message;
    return 1;
}

adv_view *adv_view_open(const adv_view_options *o, const adv_live_settings *initial)
{
    adv_view *v = calloc(1, sizeof *v);
    if (!v) { adv_fail("out of memory"); return NULL; }
    v->model = o->model;
    v->osc_port = o->osc_port;
    if (initial) v->settings = *initial;
    else adv_live_settings_default(&v->settings);
    pthread_mutex_init(&v->snap_lock, NULL);
    pthread_mutex_init(&v->clients_lock, NULL);
    pthread_mutex_init(&v->req_lock, NULL);
    v->ring = adv_ring_create(RING_BYTES);
    if (!v->ring) { adv_view_close(v); adv_fail("out of memory"); return NULL; }
    mg_init_library(0);
    char ports[80], threads[16];
    snprintf(ports, sizeof ports, "%s:%d", o->bind ? o->bind : "127.0.0.1", o->port);
    snprintf(threads, sizeof threads, "%d", ADV_VIEW_MAX_CLIENTS + 4);   /* each WebSocket holds one */
    const char *options[] = {"listening_ports", ports, "num_threads", threads, "request_timeout_ms", "10000",
                             "websocket_timeout_ms", "5000", "enable_websocket_ping_pong", "yes",
                             "enable_directory_listing", "no", "enable_keep_alive", "yes", NULL};
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.log_message = on_log;
    v->ctx = mg_start(&cb, v, options);
    if (!v->ctx) {
        adv_view_close(v);
        adv_fail("cannot serve HTTP on %s (in use, or not an address of this machine?)", ports);
        return NULL;
    }
    struct mg_server_port sp[4];
    if (mg_get_server_ports(v->ctx, 4, sp) > 0) v->port = sp[0].port;
    mg_set_websocket_handler(v->ctx, "/view/feed", on_ws_connect, on_ws_ready, on_ws_data, on_ws_close, v);
    mg_set_request_handler(v->ctx, "/", on_request, v);
    if (pthread_create(&v->feed, NULL, feed_main, v) != 0) {
        adv_view_close(v);
        adv_fail("cannot start the web view's feed thread");
        return NULL;
    }
    v->feed_started = 1;
    return v;
}

void adv_view_close(adv_view *v)
{
    if (!v) return;
    if (v->ctx) mg_stop(v->ctx);   /* closes every connection: their close handlers join the writers */
    atomic_store(&v->stop, 1);
    if (v->feed_started) pthread_join(v->feed, NULL);
    adv_ring_free(v->ring);
    pthread_mutex_destroy(&v->snap_lock);
    pthread_mutex_destroy(&v->clients_lock);
    pthread_mutex_destroy(&v->req_lock);
    free(v);
}

int adv_view_port(const adv_view *v) { return v->port; }

void adv_view_get_counts(adv_view *v, adv_view_counts *c)
{
    c->clients = atomic_load(&v->clients_now);
    c->clients_total = atomic_load(&v->clients_total);
    c->clients_refused = atomic_load(&v->clients_refused);
    c->batches = atomic_load(&v->batches);
    c->frames_sent = atomic_load(&v->frames_sent);
    c->frames_dropped = atomic_load(&v->frames_dropped);
    c->records_dropped = atomic_load(&v->records_dropped);
    c->requests = atomic_load(&v->requests);
    c->bad_requests = atomic_load(&v->bad_requests);
    c->commands = atomic_load(&v->commands);
}
