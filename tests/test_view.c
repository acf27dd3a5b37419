/* The web view and OSCQuery (include/advinst/view.h), without JACK:
 *   - routing and OSCQuery as pure functions: every node of the namespace, generated from the
 *     settings table and the OSC address list (the same as --list-osc), attributes, HOST_INFO,
 *     4xx for everything else (other paths, traversal attempts, other methods, unknown attributes)
 *   - the feed's JSON (probabilities with the silent flag, spectra, segments, state) and the page's
 *     controls parsed back
 *   - the server over real sockets: HTTP answers, malformed requests get 4xx and the server goes
 *     on, WebSocket clients get the hello and the events, controls reach adv_view_poll_request, a
 *     page of another origin is refused, and a client that never reads neither blocks the pusher
 *     (the control thread) nor delays another client (its oldest batches are dropped). */
#include "testutil.h"
#include "advinst/error.h"
#include "advinst/osc.h"
#include "advinst/view.h"
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <civetweb.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static adv_model *model;
static adv_live_settings settings;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* GET through the router; returns the status, *json the parsed body (or NULL). */
static int get(const char *path, const char *query, const char *accept, cJSON **json)
{
    adv_view_context c = {model, &settings, 9000};
    adv_view_response r;
    adv_view_route(&c, "GET", path, query, accept, &r);
    if (json) *json = r.body && r.content_type && !strcmp(r.content_type, "application/json") ? cJSON_Parse(r.body) : NULL;
    free(r.body);
    return r.status;
}

static void test_oscquery(void)
{
    cJSON *j;
    CHECK(get("/", NULL, "*/*", &j) == 200 && j, "GET / is JSON");
    const cJSON *ns = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "CONTENTS"), "advinst");
    CHECK(ns && !strcmp(cJSON_GetObjectItem(ns, "FULL_PATH")->valuestring, "/advinst"), "/advinst under /");
    const cJSON *contents = cJSON_GetObjectItem(ns, "CONTENTS");
    /* exactly the incoming OSC addresses, settings with type, range, value and access 3 */
    int n, incoming = 0;
    const adv_osc_address *a = adv_osc_addresses(&n);
    for (int i = 0; i < n; i++) {
        if (!a[i].incoming) {
            CHECK(!cJSON_GetObjectItem(contents, a[i].path + 9), "%s (sent, not received) is not a node", a[i].path);
            continue;
        }
        incoming++;
        const cJSON *node = cJSON_GetObjectItem(contents, a[i].path + 9);
        CHECK(node && !strcmp(cJSON_GetObjectItem(node, "FULL_PATH")->valuestring, a[i].path), "%s is a node", a[i].path);
        const adv_live_setting *d = adv_live_setting_find(a[i].path + 9);
        if (!node) continue;
        CHECK(cJSON_IsString(cJSON_GetObjectItem(node, "DESCRIPTION")), "%s described", a[i].path);
        if (!d) {
            CHECK(cJSON_GetObjectItem(node, "ACCESS")->valueint == 0 && !cJSON_GetObjectItem(node, "VALUE"), "%s: no value",
                  a[i].path);
            continue;
        }
        const cJSON *range = cJSON_GetArrayItem(cJSON_GetObjectItem(node, "RANGE"), 0), *value = cJSON_GetObjectItem(node, "VALUE");
        CHECK(cJSON_GetObjectItem(node, "ACCESS")->valueint == 3 && cJSON_GetArraySize(value) == 1 && range,
              "%s: access, value, range", a[i].path);
        CHECK(cJSON_GetObjectItem(node, "TYPE")->valuestring[0] == d->osc_types[0], "%s: type", a[i].path);
        char text[64];
        double v;
        adv_live_settings_get(&settings, model, d->name, text, sizeof text, &v);
        const cJSON *v0 = cJSON_GetArrayItem(value, 0);
        if (cJSON_IsString(v0)) CHECK(!strcmp(v0->valuestring, text), "%s: value '%s', expected '%s'", a[i].path, v0->valuestring, text);
        else CHECK(fabs(v0->valuedouble - v) <= 1e-6 * fabs(v), "%s: value %g, expected %g", a[i].path, v0->valuedouble, v);
        const char *names[32];
        int nv = adv_live_setting_values(d, model, names, 32);
        const cJSON *vals = cJSON_GetObjectItem(range, "VALS");
        if (nv) {
            CHECK(cJSON_GetArraySize(vals) == nv, "%s: %d VALS", a[i].path, cJSON_GetArraySize(vals));
            for (int k = 0; k < nv && k < cJSON_GetArraySize(vals); k++)
                CHECK(!strcmp(cJSON_GetArrayItem(vals, k)->valuestring, names[k]), "%s: VALS[%d]", a[i].path, k);
        } else if (d->kind == ADV_LIVE_SET_PRESET) {
            CHECK(cJSON_GetArraySize(vals) >= 4, "preset VALS: the live presets");
            for (int k = 0; k < cJSON_GetArraySize(vals); k++)
                CHECK(!strstr(cJSON_GetArrayItem(vals, k)->valuestring, "fgsm") &&
                          !strstr(cJSON_GetArrayItem(vals, k)->valuestring, "pgdn"),
                      "preset VALS: %s is not a live preset", cJSON_GetArrayItem(vals, k)->valuestring);
        } else {
            CHECK(cJSON_GetObjectItem(range, "MIN")->valuedouble == d->min && cJSON_GetObjectItem(range, "MAX")->valuedouble == d->max,
                  "%s: MIN/MAX", a[i].path);
        }
    }
    CHECK(cJSON_GetArraySize(contents) == incoming, "%d nodes for %d incoming addresses", cJSON_GetArraySize(contents), incoming);
    cJSON_Delete(j);

    CHECK(get("/advinst", NULL, NULL, &j) == 200 && cJSON_GetObjectItem(j, "CONTENTS"), "GET /advinst");
    cJSON_Delete(j);
    CHECK(get("/advinst/", NULL, NULL, NULL) == 200, "GET /advinst/");
    CHECK(get("/advinst/eps", "VALUE", NULL, &j) == 200 && cJSON_GetArraySize(cJSON_GetObjectItem(j, "VALUE")) == 1 &&
              cJSON_GetArraySize(j) == 1,
          "?VALUE: that attribute alone");
    cJSON_Delete(j);
    CHECK(get("/advinst/target", "RANGE", NULL, &j) == 200 && cJSON_GetObjectItem(j, "RANGE"), "?RANGE");
    cJSON_Delete(j);
    CHECK(get("/advinst/ping", "VALUE", NULL, NULL) == 204, "no value: 204");
    CHECK(get("/advinst/eps", "NOPE", NULL, NULL) == 400, "unknown attribute: 400");
    CHECK(get("/advinst/eps", "HOST_INFO", NULL, NULL) == 400, "HOST_INFO is asked of /");
    CHECK(get("/", "HOST_INFO", NULL, &j) == 200, "HOST_INFO");
    CHECK(cJSON_GetObjectItem(j, "OSC_PORT")->valueint == 9000 && !strcmp(cJSON_GetObjectItem(j, "OSC_TRANSPORT")->valuestring, "UDP") &&
              cJSON_IsString(cJSON_GetObjectItem(j, "NAME")) &&
              cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "EXTENSIONS"), "RANGE")),
          "HOST_INFO: NAME, OSC_PORT, OSC_TRANSPORT, EXTENSIONS");
    cJSON_Delete(j);
    /* the page, and nothing else */
    CHECK(get("/view", NULL, NULL, NULL) == 200 && get("/view/", NULL, NULL, NULL) == 200, "the page");
    CHECK(get("/", NULL, "text/html,application/xhtml+xml", NULL) == 302, "a browser at / goes to /view");
    static const char *const outside[] = {"/advinst/nosuch", "/advinst/state", "/nosuch", "/view/feed", "/view/x",
                                          "/../etc/passwd", "/view/../../etc/passwd", "/etc/passwd", "/advinstx",
                                          "/favicon.ico", "/advinst/eps/x", "//advinst", ""};
    for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
        int st = get(outside[i], NULL, NULL, NULL);
        CHECK(st >= 400 && st < 500, "'%s': %d", outside[i], st);
    }
    adv_view_context c = {model, &settings, 9000};
    adv_view_response r;
    static const char *const methods[] = {"POST", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", NULL};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        adv_view_route(&c, methods[i], "/", NULL, NULL, &r);
        CHECK(r.status == 405, "%s: %d", methods[i] ? methods[i] : "(none)", r.status);
        free(r.body);
    }
    adv_view_route(&c, "HEAD", "/view", NULL, NULL, &r);
    CHECK(r.status == 200 && r.length == adv_view_page_size, "HEAD");
    CHECK(adv_view_page_size > 1000 && strstr(adv_view_page, "/view/feed") && !strstr(adv_view_page, "http://") &&
              !strstr(adv_view_page, "https://") && !strstr(adv_view_page, "<link") && !strstr(adv_view_page, " src="),
          "the page is self-contained (no external assets)");
}

static void test_json(void)
{
    adv_live_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = ADV_LIVE_EV_PROBS;
    ev.stream = 1;
    ev.frame = 48000;
    for (int k = 0; k < ADV_N_CLASSES; k++) ev.probs[k] = k == 7 ? 0.78f : 0.02f;
    char *s = adv_view_event_json(model, &ev, 48000);
    cJSON *j = cJSON_Parse(s);
    CHECK(j && !strcmp(cJSON_GetObjectItem(j, "type")->valuestring, "probs") &&
              !strcmp(cJSON_GetObjectItem(j, "stream")->valuestring, "out") &&
              !strcmp(cJSON_GetObjectItem(j, "class")->valuestring, model->classes[7]) &&
              fabs(cJSON_GetObjectItem(j, "confidence")->valuedouble - 0.78) < 1e-4 &&
              cJSON_GetObjectItem(j, "t")->valuedouble == 1 && cJSON_GetArraySize(cJSON_GetObjectItem(j, "probs")) == 12,
          "probs: %s", s);
    cJSON_Delete(j);
    free(s);
    ev.silent = 1;
    s = adv_view_event_json(model, &ev, 48000);
    j = cJSON_Parse(s);
    CHECK(j && !strcmp(cJSON_GetObjectItem(j, "class")->valuestring, "silent") && cJSON_IsTrue(cJSON_GetObjectItem(j, "silent")),
          "silent: %s", s);
    cJSON_Delete(j);
    free(s);

    ev.type = ADV_LIVE_EV_SPECTRUM;
    ev.n_columns = 3;
    for (int c = 0; c < 3; c++) {
        ev.column_frame[c] = 24000 + 1536u * c;
        for (int b = 0; b < ADV_LIVE_SPECTRUM_BANDS; b++) ev.column_db[c][b] = -20.4f + b;
    }
    s = adv_view_event_json(model, &ev, 48000);
    j = cJSON_Parse(s);
    const cJSON *db = cJSON_GetObjectItem(j, "db");
    CHECK(j && cJSON_GetArraySize(cJSON_GetObjectItem(j, "t")) == 3 && cJSON_GetArraySize(db) == 3 &&
              cJSON_GetArraySize(cJSON_GetArrayItem(db, 0)) == ADV_LIVE_SPECTRUM_BANDS &&
              cJSON_GetArrayItem(cJSON_GetArrayItem(db, 2), 1)->valuedouble == -19 &&
              fabs(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "t"), 1)->valuedouble - 0.532) < 1e-4,
          "spectrum: %.200s", s);
    cJSON_Delete(j);
    free(s);
    ev.n_columns = 1000;   /* out of range: clamped, never read beyond the arrays */
    s = adv_view_event_json(model, &ev, 48000);
    j = cJSON_Parse(s);
    CHECK(j && cJSON_GetArraySize(cJSON_GetObjectItem(j, "t")) == ADV_LIVE_SPECTRUM_COLUMNS, "columns clamped");
    cJSON_Delete(j);
    free(s);

    memset(&ev, 0, sizeof ev);
    ev.type = ADV_LIVE_EV_SEGMENT;
    ev.segment = 3;
    ev.status = ADV_LIVE_SEG_OK;
    ev.target = 0;
    ev.windows = 4;
    ev.hits = 3;
    ev.after_class = 0;
    ev.snr_db = INFINITY;
    ev.iterations = 57;
    memcpy(ev.message, "quote \" and \n newline", 21);
    s = adv_view_event_json(model, &ev, 48000);
    j = cJSON_Parse(s);
    CHECK(j && cJSON_IsNull(cJSON_GetObjectItem(j, "snr_db")) && !strcmp(cJSON_GetObjectItem(j, "status")->valuestring, "ok") &&
              !strcmp(cJSON_GetObjectItem(j, "heard")->valuestring, model->classes[0]) &&
              cJSON_GetObjectItem(j, "iterations")->valueint == 57 && cJSON_GetObjectItem(j, "segment")->valueint == 3 &&
              cJSON_GetObjectItem(j, "windows")->valueint == 4 && cJSON_GetObjectItem(j, "hits")->valueint == 3 &&
              !strcmp(cJSON_GetObjectItem(j, "type")->valuestring, "segment"),
          "segment: %s", s);
    cJSON_Delete(j);
    free(s);

    s = adv_view_hello_json(model, &settings, 48000, 321600, 177600);
    j = cJSON_Parse(s);
    CHECK(j && cJSON_GetArraySize(cJSON_GetObjectItem(j, "classes")) == 12 && cJSON_GetObjectItem(j, "state") &&
              fabs(cJSON_GetObjectItem(j, "latency")->valuedouble - 6.7) < 1e-9,
          "hello");
    cJSON_Delete(j);
    free(s);

    /* controls */
    char name[32], value[128], why[160];
    static const struct { const char *in, *name, *value; } good[] = {
        {"{\"set\":\"target\",\"value\":\"gong\"}", "target", "gong"},
        {"{\"set\":\"bypass\",\"value\":1}", "bypass", "1"},
        {"{\"set\":\"bypass\",\"value\":false}", "bypass", "0"},
        {"{\"value\":0.02,\"set\":\"eps\"}", "eps", "0.02"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int rc = adv_view_parse_command(good[i].in, strlen(good[i].in), name, sizeof name, value, sizeof value, why, sizeof why);
        CHECK(rc == 0 && !strcmp(name, good[i].name) && !strcmp(value, good[i].value), "%s -> %s = %s (%s)", good[i].in, name,
              value, rc ? why : "");
    }
    static const char *const bad[] = {"", "x", "[]", "{}", "{\"set\":\"nosuch\",\"value\":1}", "{\"set\":1,\"value\":1}",
                                      "{\"set\":\"eps\"}", "{\"set\":\"eps\",\"value\":[1]}", "{\"set\":\"eps\",\"value\":null}",
                                      "{\"set\":\"target\",\"value\":\"" /* unterminated */};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(adv_view_parse_command(bad[i], strlen(bad[i]), name, sizeof name, value, sizeof value, why, sizeof why) != 0 &&
                  why[0] && !strchr(why, '\n'),
              "'%s' refused", bad[i]);
    char longv[400];
    snprintf(longv, sizeof longv, "{\"set\":\"preset\",\"value\":\"%0300d\"}", 0);
    CHECK(adv_view_parse_command(longv, strlen(longv), name, sizeof name, value, sizeof value, why, sizeof why) != 0,
          "a value too long is refused");
}

/* ---- over sockets ---- */

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends raw bytes as a request; returns the status of the answer (0 if none); body into out. */
static int raw_request(int port, const char *request, size_t len, char *out, size_t out_size)
{
    int fd = tcp_connect(port);
    if (fd < 0) return 0;
    if (write(fd, request, len) != (ssize_t)len) { close(fd); return 0; }
    shutdown(fd, SHUT_WR);
    size_t got = 0;
    ssize_t n;
    while (got + 1 < out_size && (n = read(fd, out + got, out_size - 1 - got)) > 0) got += (size_t)n;
    out[got] = 0;
    close(fd);
    int status = 0;
    return sscanf(out, "HTTP/1.%*d %d", &status) == 1 ? status : 0;
}

static int http_get(int port, const char *target, char *out, size_t out_size)
{
    char req[4096];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", target, port);
    return raw_request(port, req, (size_t)n, out, out_size);
}

typedef struct {
    pthread_mutex_t lock;
    int hello, probs, spectra, states, errors, batches;
    double first_probs, last_probs;
    char last_error[256];
} inbox;

static int on_data(struct mg_connection *conn, int bits, char *data, size_t len, void *user)
{
    (void)conn;
    inbox *b = user;
    if ((bits & 0xf) != MG_WEBSOCKET_OPCODE_TEXT) return 1;
    cJSON *batch = cJSON_ParseWithLength(data, len);
    pthread_mutex_lock(&b->lock);
    b->batches++;
    const cJSON *m;
    cJSON_ArrayForEach(m, batch) {
        const char *type = cJSON_GetObjectItem(m, "type") ? cJSON_GetObjectItem(m, "type")->valuestring : "";
        if (!strcmp(type, "hello")) b->hello++;
        else if (!strcmp(type, "probs")) {
            if (!b->probs++) b->first_probs = now();
            b->last_probs = now();
        } else if (!strcmp(type, "spectrum")) b->spectra++;
        else if (!strcmp(type, "state")) b->states++;
        else if (!strcmp(type, "error")) {
            b->errors++;
            snprintf(b->last_error, sizeof b->last_error, "%s", cJSON_GetObjectItem(m, "message")->valuestring);
        }
    }
    pthread_mutex_unlock(&b->lock);
    cJSON_Delete(batch);
    return 1;
}

static struct mg_connection *ws_open(int port, const char *origin, inbox *box)
{
    char err[256];
    return mg_connect_websocket_client("127.0.0.1", port, 0, err, sizeof err, "/view/feed", origin, on_data, NULL, box);
}

static void snapshot(inbox *b, inbox *copy)
{
    pthread_mutex_lock(&b->lock);
    *copy = *b;
    pthread_mutex_unlock(&b->lock);
}

/* A WebSocket client that completes the handshake and then never reads (a frozen tab). */
static int stalled_client(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) { close(fd); return -1; }
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /view/feed HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", port);
    if (write(fd, req, (size_t)n) != n) { close(fd); return -1; }
    char answer[256];
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t got = read(fd, answer, sizeof answer - 1);   /* the 101 (and perhaps the hello's start) */
    if (got <= 0 || strncmp(answer, "HTTP/1.1 101", 12)) { close(fd); return -1; }
    return fd;
}

/* A fake engine's events: probabilities and spectra of both streams, at `hz` windows a second. */
static void push_window(adv_view *v, uint64_t frame, double *max_push)
{
    adv_live_event ev;
    memset(&ev, 0, sizeof ev);
    for (int s = 0; s < 2; s++) {
        ev.type = ADV_LIVE_EV_PROBS;
        ev.stream = s;
        ev.frame = frame;
        for (int k = 0; k < ADV_N_CLASSES; k++) ev.probs[k] = 1.0f / ADV_N_CLASSES;
        double t0 = now();
        adv_view_push_event(v, &ev);
        ev.type = ADV_LIVE_EV_SPECTRUM;
        ev.n_columns = ADV_LIVE_SPECTRUM_COLUMNS;
        for (int c = 0; c < ev.n_columns; c++) {
            ev.column_frame[c] = frame - 1536u * (unsigned)(ev.n_columns - c);
            for (int b = 0; b < ADV_LIVE_SPECTRUM_BANDS; b++) ev.column_db[c][b] = -33.3f - b;
        }
        adv_view_push_event(v, &ev);
        double dt = now() - t0;
        if (dt > *max_push) *max_push = dt;
    }
}

static void test_server(void)
{
    adv_view_options o = {"127.0.0.1", 0, model, 9000};
    adv_view *v = adv_view_open(&o, &settings);
    CHECK(v != NULL, "open: %s", adv_error());
    if (!v) return;
    const int port = adv_view_port(v);
    CHECK(port > 0, "port %d", port);
    static char out[1 << 20];
    CHECK(http_get(port, "/?HOST_INFO", out, sizeof out) == 200 && strstr(out, "\"OSC_PORT\":9000"), "HOST_INFO over HTTP");
    CHECK(http_get(port, "/view", out, sizeof out) == 200 && strstr(out, "Content-Type: text/html") &&
              strstr(out, "<title>advinst live</title>"),
          "the page over HTTP");
    CHECK(http_get(port, "/advinst/target?VALUE", out, sizeof out) == 200 && strstr(out, "{\"VALUE\":[\""), "?VALUE over HTTP");
    static const char *const outside[] = {"/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/view/..%2f..%2fetc%2fpasswd",
                                          "/etc/passwd", "/CMakeLists.txt", "/ui/view.html", "/nosuch", "/advinst/nosuch"};
    for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
        int st = http_get(port, outside[i], out, sizeof out);
        CHECK(st >= 400 && st < 500 && !strstr(out, "root:") && !strstr(out, "cmake_minimum"), "%s: %d", outside[i], st);
    }
    /* malformed requests: 4xx (or the connection closed), and the server goes on */
    char big[20000];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET /", 5);
    memcpy(big + sizeof big - 4, "\r\n\r\n", 4);
    static const char *const junk[] = {"BLAH\r\n\r\n", "GET\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", "\x01\x02\x03\r\n\r\n",
                                       "POST /advinst/eps HTTP/1.1\r\nContent-Length: 3\r\n\r\n0.5", "GET / HTTP/1.1\r\nHost: x\r\n"
                                       "Content-Length: -5\r\n\r\n", "GET /view HTTP/1.1\r\nBad header line\r\n\r\n"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        int st = raw_request(port, junk[i], strlen(junk[i]), out, sizeof out);
        CHECK(st == 0 || (st >= 400 && st < 500), "junk %zu: status %d", i, st);
    }
    /* WebSocket handshakes refused with an answer: a bad key (civetweb alone would answer 500), another origin */
    char hs[512];
    snprintf(hs, sizeof hs, "GET /view/feed HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", port, "dGhlIHNhbXBsZSBub25jZQ==dGhlIHNhbXBsZSBub25jZQ==");
    CHECK(raw_request(port, hs, strlen(hs), out, sizeof out) == 400, "a bad WebSocket key: %.40s", out);
    snprintf(hs, sizeof hs, "GET /view/feed HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://evil.example\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", port);
    CHECK(raw_request(port, hs, strlen(hs), out, sizeof out) == 403, "a WebSocket from another origin: %.40s", out);
    int st = raw_request(port, big, sizeof big, out, sizeof out);
    CHECK(st == 0 || (st >= 400 && st < 500), "a 20 kB request line: %d", st);
    CHECK(http_get(port, "/?HOST_INFO", out, sizeof out) == 200, "still serving after the junk");
    adv_view_counts counts;
    adv_view_get_counts(v, &counts);
    CHECK(counts.bad_requests >= (long)(sizeof outside / sizeof outside[0]), "%ld bad requests counted", counts.bad_requests);

    /* WebSocket: a page of another site is refused; ours get the hello, the events and the state */
    inbox evil = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct mg_connection *e = ws_open(port, "http://evil.example", &evil);
    CHECK(e == NULL, "a WebSocket from another origin is refused");
    if (e) mg_close_connection(e);
    const char *origin = "http://127.0.0.1";   /* civetweb's client sends "Host: 127.0.0.1" */
    inbox a = {.lock = PTHREAD_MUTEX_INITIALIZER}, b = {.lock = PTHREAD_MUTEX_INITIALIZER}, sa, sb;
    struct mg_connection *ca = ws_open(port, origin, &a), *cb = ws_open(port, NULL, &b);
    CHECK(ca && cb, "two WebSocket clients");
    adv_view_push_timing(v, 48000, 321600, 177600);
    adv_view_push_state(v, &settings);
    double max_push = 0;
    for (int i = 0; i < 20; i++) {
        push_window(v, 48000u + 4800u * (unsigned)i, &max_push);
        nap_ms(100);
    }
    nap_ms(300);
    snapshot(&a, &sa);
    CHECK(sa.hello >= 1 && sa.probs == 40 && sa.spectra == 40 && sa.states >= 1, "client a: hello %d probs %d spectra %d states %d",
          sa.hello, sa.probs, sa.spectra, sa.states);
    snapshot(&b, &sb);
    CHECK(sb.probs == 40, "client b: probs %d", sb.probs);
    adv_view_get_counts(v, &counts);
    CHECK(counts.clients == 2, "%ld clients", counts.clients);

    /* controls: good ones reach the control thread, bad ones are answered to their sender */
    const char *cmd = "{\"set\":\"target\",\"value\":\"gong\"}";
    mg_websocket_client_write(ca, MG_WEBSOCKET_OPCODE_TEXT, cmd, strlen(cmd));
    const char *badcmd = "{\"set\":\"nosuch\",\"value\":1}";
    mg_websocket_client_write(ca, MG_WEBSOCKET_OPCODE_TEXT, badcmd, strlen(badcmd));
    char name[32], value[128];
    int got = 0;
    for (int i = 0; i < 200 && !got; i++) {
        got = adv_view_poll_request(v, name, sizeof name, value, sizeof value);
        if (!got) nap_ms(10);
    }
    CHECK(got && !strcmp(name, "target") && !strcmp(value, "gong"), "control: %s = %s", got ? name : "-", got ? value : "-");
    nap_ms(200);
    snapshot(&a, &sa);
    snapshot(&b, &sb);
    CHECK(sa.errors == 1 && strstr(sa.last_error, "live setting") && sb.errors == 0, "a bad control: %d errors (%s), other client %d",
          sa.errors, sa.last_error, sb.errors);
    CHECK(!adv_view_poll_request(v, name, sizeof name, value, sizeof value), "nothing else queued");

    /* a frozen tab: the pusher never waits, the other client keeps its rate, the frozen one loses batches */
    int frozen = stalled_client(port);
    CHECK(frozen >= 0, "stalled client connected");
    /* a burst (10 windows at a time, 600 in all, about 4 MB of JSON) fills the stalled client's
     * socket buffers: after each step the live client must have everything within 3 s (the pace is
     * the feed's, so that a slow build, e.g. with sanitizers, does not overflow the ring) */
    snapshot(&a, &sa);
    const int before = sa.probs;
    max_push = 0;
    unsigned frame = 200000;
    int behind = 0;
    for (int i = 0; i < 60 && !behind; i++) {
        for (int k = 0; k < 10; k++, frame += 480) push_window(v, frame, &max_push);
        int waited = 0;
        for (snapshot(&a, &sa); sa.probs - before < 20 * (i + 1) && waited < 3000; waited += 10, snapshot(&a, &sa)) nap_ms(10);
        behind = sa.probs - before < 20 * (i + 1);
    }
    CHECK(!behind && sa.probs - before == 1200, "the live client kept up with the burst: %d of 1200", sa.probs - before);
    const int before2 = sa.probs;
    const double t0 = now();
    for (int i = 0; i < 30; i++, nap_ms(100), frame += 4800) push_window(v, frame, &max_push);
    const double t1 = now();
    nap_ms(300);
    snapshot(&a, &sa);
    const double rate = (sa.probs - before2) / 2.0 / (t1 - t0);
    CHECK(sa.probs - before2 == 60, "... and every window after it: %d of 60", sa.probs - before2);
    CHECK(rate > 8, "its update rate %.1f Hz", rate);
    CHECK(max_push < 0.005, "the slowest push took %.3f ms (never waits)", 1e3 * max_push);
    adv_view_get_counts(v, &counts);
    CHECK(counts.frames_dropped > 0, "the stalled client's oldest batches were dropped (%ld)", counts.frames_dropped);
    CHECK(counts.records_dropped == 0, "%ld records dropped at the ring", counts.records_dropped);

    if (frozen >= 0) close(frozen);
    mg_close_connection(ca);
    mg_close_connection(cb);
    for (int i = 0; i < 100; i++) {
        adv_view_get_counts(v, &counts);
        if (counts.clients == 0) break;
        nap_ms(50);
    }
    CHECK(counts.clients == 0, "clients gone: %ld", counts.clients);
    double t_close = now();
    adv_view_close(v);
    CHECK(now() - t_close < 10, "close took %.1f s", now() - t_close);

    /* the port is taken: a clear error */
    adv_view *v1 = adv_view_open(&o, &settings);
    if (v1) {
        adv_view_options o2 = {"127.0.0.1", adv_view_port(v1), model, 9000};
        adv_view *v2 = adv_view_open(&o2, &settings);
        CHECK(v2 == NULL && strstr(adv_error(), "cannot serve HTTP"), "port in use: %s", adv_error());
        adv_view_close(v2);
        adv_view_close(v1);
    }
}

int main(void)
{
    model = adv_model_create(1);
    adv_live_settings_default(&settings);
    settings.target = 8;
    settings.eps = 0.02f;
    mg_init_library(0);
    test_oscquery();
    test_json();
    test_server();
    adv_model_free(model);
    return tu_finish("test_view");
}
