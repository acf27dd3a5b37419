/* OSC control of `advinst live`: the pure message -> settings function for every message type,
 * wrong types and values (answered with an error, nothing changed), raw packets, and a socket
 * round trip through the server (subscribe, state, pong, error). */
#include "testutil.h"
#include "advinst/error.h"
#include "advinst/osc.h"
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static adv_model *model;
static adv_live_settings cur;

/* Builds the message (types: s, i, f), serialises it and hands the bytes to the handler. */
static adv_osc_action send_msgv(adv_live_settings *next, adv_osc_reply *r, const char *path, const char *types, va_list ap)
{
    lo_message m = lo_message_new();
    for (const char *t = types; *t; t++) {
        if (*t == 's') lo_message_add_string(m, va_arg(ap, const char *));
        else if (*t == 'i') lo_message_add_int32(m, va_arg(ap, int));
        else if (*t == 'f') lo_message_add_float(m, (float)va_arg(ap, double));
        else if (*t == 'd') lo_message_add_double(m, va_arg(ap, double));
    }
    size_t size = 0;
    void *data = lo_message_serialise(m, path, NULL, &size);
    adv_osc_action a = adv_osc_handle_packet(model, &cur, data, size, next, r);
    /* the same through the argument-level entry point */
    adv_live_settings next2;
    adv_osc_reply r2;
    adv_osc_action b = adv_osc_handle(model, &cur, path, lo_message_get_types(m), lo_message_get_argv(m), &next2, &r2);
    CHECK(a == b && !memcmp(next, &next2, sizeof next2), "%s: packet and argument entry points disagree", path);
    free(data);
    lo_message_free(m);
    return a;
}

static adv_osc_action send_msg(adv_live_settings *next, adv_osc_reply *r, const char *path, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    adv_osc_action a = send_msgv(next, r, path, types, ap);
    va_end(ap);
    return a;
}

/* Sends a message that must be accepted; returns the new settings. */
static adv_live_settings changed(const char *path, const char *types, ...)
{
    adv_live_settings n;
    adv_osc_reply r;
    va_list ap;
    va_start(ap, types);
    adv_osc_action a = send_msgv(&n, &r, path, types, ap);
    va_end(ap);
    CHECK(a == ADV_OSC_CHANGED, "%s %s: action %d (%s)", path, types, (int)a, r.error);
    return n;
}

#define EXPECT_ERROR(...) do { adv_live_settings n; adv_osc_reply r; \
    adv_osc_action a = send_msg(&n, &r, __VA_ARGS__); \
    CHECK(a == ADV_OSC_ERROR && r.error[0], "%s: expected an error (action %d)", #__VA_ARGS__, (int)a); \
    CHECK(!memcmp(&n, &cur, sizeof n), "%s: an error changed the settings", #__VA_ARGS__); } while (0)

static void test_messages(void)
{
    adv_live_settings n;
    n = changed("/advinst/target", "s", "accordion");
    CHECK(n.target == 0, "target accordion -> %d", n.target);
    n = changed("/advinst/target", "s", "Marimba and xylophone");
    CHECK(n.target == 11, "target marimba -> %d", n.target);
    n = changed("/advinst/target", "s", "8");
    CHECK(n.target == 8, "target \"8\" -> %d", n.target);
    n = changed("/advinst/target", "i", 5);
    CHECK(n.target == 5, "target 5 -> %d", n.target);
    n = changed("/advinst/target", "s", "none");
    CHECK(n.target == ADV_LIVE_TARGET_NONE, "target none -> %d", n.target);
    n = changed("/advinst/target", "s", "random");
    CHECK(n.target == ADV_LIVE_TARGET_RANDOM, "target random -> %d", n.target);
    EXPECT_ERROR("/advinst/target", "i", 12);
    EXPECT_ERROR("/advinst/target", "i", -1);
    EXPECT_ERROR("/advinst/target", "s", "banjo");
    EXPECT_ERROR("/advinst/target", "s", "");
    EXPECT_ERROR("/advinst/target", "f", 1.0);
    EXPECT_ERROR("/advinst/target", "");
    EXPECT_ERROR("/advinst/target", "si", "accordion", 1);

    n = changed("/advinst/method", "s", "mscw");
    CHECK(n.method == ADV_LIVE_MSCW, "method mscw");
    n = changed("/advinst/method", "s", "OFF");
    CHECK(n.method == ADV_LIVE_OFF, "method off");
    n = changed("/advinst/method", "s", "cw");
    CHECK(n.method == ADV_LIVE_CW, "method cw");
    EXPECT_ERROR("/advinst/method", "s", "fgsm");
    EXPECT_ERROR("/advinst/method", "i", 1);
    EXPECT_ERROR("/advinst/method", "");

    n = changed("/advinst/step", "f", 1e-4);
    CHECK(fabsf(n.lr - 1e-4f) < 1e-10f, "step -> %g", n.lr);
    EXPECT_ERROR("/advinst/step", "f", 0.0);
    EXPECT_ERROR("/advinst/step", "f", -1e-5);
    EXPECT_ERROR("/advinst/step", "f", 2.0);
    EXPECT_ERROR("/advinst/step", "f", (double)NAN);
    EXPECT_ERROR("/advinst/step", "f", (double)INFINITY);
    EXPECT_ERROR("/advinst/step", "i", 1);
    EXPECT_ERROR("/advinst/step", "d", 1e-4);
    EXPECT_ERROR("/advinst/step", "ff", 1e-4, 1e-4);

    n = changed("/advinst/alpha", "f", 0.0);
    CHECK(n.alpha == 0, "alpha 0");
    n = changed("/advinst/alpha", "f", 10.0);
    CHECK(n.alpha == 10, "alpha 10");
    EXPECT_ERROR("/advinst/alpha", "f", -0.5);
    EXPECT_ERROR("/advinst/alpha", "f", 1e7);
    EXPECT_ERROR("/advinst/alpha", "s", "1");

    n = changed("/advinst/eps", "f", 0.02);
    CHECK(fabsf(n.eps - 0.02f) < 1e-9f, "eps 0.02");
    EXPECT_ERROR("/advinst/eps", "f", 0.0);
    EXPECT_ERROR("/advinst/eps", "f", 1.5);
    EXPECT_ERROR("/advinst/eps", "i", 1);

    n = changed("/advinst/iterations", "i", 50);
    CHECK(n.max_iter == 50, "iterations 50");
    EXPECT_ERROR("/advinst/iterations", "i", 0);
    EXPECT_ERROR("/advinst/iterations", "i", 2000000);
    EXPECT_ERROR("/advinst/iterations", "f", 50.0);

    n = changed("/advinst/confidence", "f", 0.5);
    CHECK(n.confidence == 0.5f, "confidence 0.5");
    EXPECT_ERROR("/advinst/confidence", "f", 1.5);
    EXPECT_ERROR("/advinst/confidence", "f", -0.1);
    EXPECT_ERROR("/advinst/confidence", "i", 1);

    n = changed("/advinst/bypass", "i", 1);
    CHECK(n.bypass == 1, "bypass 1");
    n = changed("/advinst/bypass", "i", 0);
    CHECK(n.bypass == 0, "bypass 0");
    EXPECT_ERROR("/advinst/bypass", "i", 2);
    EXPECT_ERROR("/advinst/bypass", "f", 1.0);

    n = changed("/advinst/preset", "s", "mscw-accordion");
    CHECK(n.method == ADV_LIVE_MSCW && n.target == 0 && fabsf(n.alpha - 10) < 1e-6f && fabsf(n.lr - 5e-5f) < 1e-10f &&
              !strcmp(n.preset, "mscw-accordion"),
          "preset mscw-accordion: method %d target %d alpha %g lr %g preset %s", n.method, n.target, n.alpha, n.lr, n.preset);
    n = changed("/advinst/preset", "s", "cw-150");
    CHECK(n.method == ADV_LIVE_CW && n.target == ADV_LIVE_TARGET_RANDOM && n.max_iter == 500, "preset cw-150");
    EXPECT_ERROR("/advinst/preset", "s", "fgsm-150");   /* not a live method */
    EXPECT_ERROR("/advinst/preset", "s", "nosuch");
    EXPECT_ERROR("/advinst/preset", "s", "../presets/cw-150");
    EXPECT_ERROR("/advinst/preset", "s", "/etc/passwd");
    EXPECT_ERROR("/advinst/preset", "s", "");
    EXPECT_ERROR("/advinst/preset", "i", 1);
    EXPECT_ERROR("/advinst/preset", "s", "..");

    adv_osc_reply r;
    CHECK(send_msg(&n, &r, "/advinst/subscribe", "") == ADV_OSC_SUBSCRIBE && r.port == 0, "subscribe (sender)");
    CHECK(send_msg(&n, &r, "/advinst/subscribe", "si", "127.0.0.1", 9001) == ADV_OSC_SUBSCRIBE && r.port == 9001 &&
              !strcmp(r.host, "127.0.0.1"),
          "subscribe host port");
    CHECK(!memcmp(&n, &cur, sizeof n), "subscribe changed the settings");
    EXPECT_ERROR("/advinst/subscribe", "si", "127.0.0.1", 0);
    EXPECT_ERROR("/advinst/subscribe", "si", "127.0.0.1", 70000);
    EXPECT_ERROR("/advinst/subscribe", "s", "127.0.0.1");
    EXPECT_ERROR("/advinst/subscribe", "is", 9000, "127.0.0.1");

    CHECK(send_msg(&n, &r, "/advinst/query", "") == ADV_OSC_QUERY && r.port == 0, "query (sender)");
    CHECK(send_msg(&n, &r, "/advinst/query", "si", "127.0.0.1", 9002) == ADV_OSC_QUERY && r.port == 9002 &&
              !strcmp(r.host, "127.0.0.1"),
          "query host port");
    EXPECT_ERROR("/advinst/query", "i", 1);
    EXPECT_ERROR("/advinst/query", "si", "127.0.0.1", 0);
    CHECK(send_msg(&n, &r, "/advinst/ping", "") == ADV_OSC_PING, "ping");
    EXPECT_ERROR("/advinst/ping", "i", 1);
    EXPECT_ERROR("/advinst/nosuch", "");
    EXPECT_ERROR("/advinst/state", "");   /* an output address is not an input */
    CHECK(send_msg(&n, &r, "/other/thing", "i", 1) == ADV_OSC_IGNORED, "other namespaces are ignored");

    /* every incoming address in the exported list is handled */
    int count;
    const adv_osc_address *addr = adv_osc_addresses(&count);
    for (int i = 0; i < count; i++) {
        if (!addr[i].incoming) continue;
        adv_osc_handle(model, &cur, addr[i].path, "", NULL, &n, &r);
        CHECK(!strstr(r.error, "unknown address"), "%s is listed but not handled", addr[i].path);
    }

    /* malformed packets */
    static const unsigned char junk[][12] = {{'/', 'a', 'd', 'v', 0, 0, 0, 0, ',', 's', 0, 0},
                                             {'/', 'a', 0, 0, 'x', 'y', 0, 0, 1, 2, 3, 4},
                                             {0xff, 0xfe, 0, 0, ',', 'i', 0, 0, 0, 0, 0, 1}};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        adv_osc_action a = adv_osc_handle_packet(model, &cur, junk[i], sizeof junk[i], &n, &r);
        CHECK(a == ADV_OSC_ERROR || a == ADV_OSC_IGNORED, "junk %zu: action %d", i, (int)a);
        CHECK(!memcmp(&n, &cur, sizeof n), "junk %zu changed the settings", i);
    }
    CHECK(adv_osc_handle_packet(model, &cur, junk[0], 7, &n, &r) == ADV_OSC_ERROR, "odd size");

    /* errors quote what was sent, but stay one printable line (found by fuzz_osc:
     * fuzz/regressions/osc/error-newline) */
    static const char *const sent[] = {"mscw-15\n\nforged line", "a\rb\x1b[2J"};
    static const char *const where[] = {"/advinst/preset", "/advinst/method", "/advinst/target"};
    for (size_t i = 0; i < sizeof sent / sizeof sent[0]; i++)
        for (size_t k = 0; k < sizeof where / sizeof where[0]; k++) {
            CHECK(send_msg(&n, &r, where[k], "s", sent[i]) == ADV_OSC_ERROR, "%s: control characters refused", where[k]);
            int clean = 1;
            for (const char *c = r.error; *c; c++) clean &= (unsigned char)*c >= 32 && *c != 127;
            CHECK(clean && strstr(r.error, where[k]), "%s: error '%s' is one printable line", where[k], r.error);
        }
    CHECK(send_msg(&n, &r, "/advinst/x\ny", "") == ADV_OSC_ERROR && !strchr(r.error, '\n'), "unknown address: %s", r.error);
}

/* A preset named over OSC comes from the presets directory only: "NAME.ini" would be a path for
 * adv_preset_load, relative to the working directory. */
static void test_preset_names(void)
{
    const char *dir = tu_scratch_dir("osc");
    char here[4096], path[4200];
    if (!dir || !getcwd(here, sizeof here)) { CHECK(0, "scratch directory"); return; }
    snprintf(path, sizeof path, "%s/local.ini", dir);
    FILE *f = fopen(path, "w");
    if (!f) { CHECK(0, "cannot write %s", path); return; }
    fputs("[attack]\nmethod = mscw\neps = 0.5\n", f);
    fclose(f);
    if (chdir(dir) != 0) { CHECK(0, "chdir %s", dir); return; }
    EXPECT_ERROR("/advinst/preset", "s", "local.ini");
    EXPECT_ERROR("/advinst/preset", "s", "local");
    if (chdir(here) != 0) CHECK(0, "chdir back");
}

/* Serialises a bundle of (path, float) messages with the given time tag. */
static void *float_bundle(lo_timetag when, size_t *size, int n, const char *const *paths, const float *values)
{
    lo_bundle b = lo_bundle_new(when);
    for (int i = 0; i < n; i++) {
        lo_message m = lo_message_new();
        lo_message_add_float(m, values[i]);
        lo_bundle_add_message(b, paths[i], m);
    }
    void *data = lo_bundle_serialise(b, NULL, size);
    lo_bundle_free_recursive(b);
    return data;
}

/* adv_osc_dispatch: the server's own dispatcher on datagrams, bundles included; bundle time tags
 * do not queue anything. */
static void test_dispatch(void)
{
    adv_osc *osc = adv_osc_open("0", model, &cur);
    CHECK(osc != NULL, "open: %s", adv_error());
    if (!osc) return;
    static const char *const paths[] = {"/advinst/eps", "/advinst/step", "/advinst/alpha"};
    static const float values[] = {0.05f, 2.0f, 7.0f};   /* step 2 is out of range: refused alone */
    size_t size;
    void *data = float_bundle(LO_TT_IMMEDIATE, &size, 3, paths, values);
    CHECK(adv_osc_dispatch(osc, data, size) == 0, "bundle: %s", adv_error());
    const adv_live_settings *s = adv_osc_settings(osc);
    CHECK(s->eps == 0.05f && s->alpha == 7.0f && s->lr == cur.lr, "bundle applied element by element: eps %g alpha %g lr %g",
          s->eps, s->alpha, s->lr);
    free(data);

    lo_timetag later;
    lo_timetag_now(&later);
    later.sec += 3600;
    float eps2 = 0.2f;
    data = float_bundle(later, &size, 1, paths, &eps2);
    CHECK(adv_osc_dispatch(osc, data, size) == 0 && adv_osc_settings(osc)->eps == 0.2f,
          "a bundle time-tagged an hour ahead applies now: eps %g", adv_osc_settings(osc)->eps);
    free(data);

    lo_message m = lo_message_new();
    lo_message_add_string(m, "gong");
    data = lo_message_serialise(m, "/advinst/target", NULL, &size);
    CHECK(adv_osc_dispatch(osc, data, size) == 0 && adv_osc_settings(osc)->target == 7, "message: target %d",
          adv_osc_settings(osc)->target);
    free(data);
    lo_message_free(m);
    static const unsigned char bad[8] = {'#', 'b', 'u', 'n', 'd', 'l', 'e', 0};
    CHECK(adv_osc_dispatch(osc, bad, sizeof bad) != 0, "a cut bundle is malformed");
    adv_osc_close(osc);
}

/* ---- the server over sockets ---- */

typedef struct {
    int states, pongs, errors, stats;
    char last_target[32], last_error[256];
    int64_t last_stats[12];
} inbox;

static int on_reply(const char *path, const char *types, lo_arg **argv, int argc, lo_message msg, void *user)
{
    (void)argc;
    (void)msg;
    inbox *b = user;
    if (!strcmp(path, "/advinst/state") && !strcmp(types, "ssfffiisifff")) {
        b->states++;
        snprintf(b->last_target, sizeof b->last_target, "%s", &argv[0]->s);
    } else if (!strcmp(path, "/advinst/stats") && !strcmp(types, "hhhhhhhhhhhhi")) {
        b->stats++;
        for (int i = 0; i < 12; i++) memcpy(&b->last_stats[i], argv[i], sizeof(int64_t));
    } else if (!strcmp(path, "/advinst/pong")) {
        b->pongs++;
    } else if (!strcmp(path, "/advinst/error") && !strcmp(types, "s")) {
        b->errors++;
        snprintf(b->last_error, sizeof b->last_error, "%s", &argv[0]->s);
    }
    return 0;
}

static void exchange(adv_osc *osc, lo_server client)
{
    for (int i = 0; i < 5; i++) {
        adv_osc_poll(osc, 20);
        lo_server_recv_noblock(client, 20);
    }
}

static void test_server(void)
{
    adv_osc *osc = adv_osc_open("0", model, &cur);
    CHECK(osc != NULL, "open: %s", adv_error());
    if (!osc) return;
    inbox box = {0};
    lo_server client = lo_server_new(NULL, NULL);
    lo_server_add_method(client, NULL, NULL, on_reply, &box);
    char port[16];
    snprintf(port, sizeof port, "%d", adv_osc_port(osc));
    lo_address to = lo_address_new("127.0.0.1", port);

    lo_send_from(to, client, LO_TT_IMMEDIATE, "/advinst/subscribe", "");
    exchange(osc, client);
    CHECK(box.states == 1, "subscribe: %d state messages", box.states);
    lo_send_from(to, client, LO_TT_IMMEDIATE, "/advinst/ping", "");
    exchange(osc, client);
    CHECK(box.pongs == 1, "ping: %d pongs", box.pongs);
    lo_send_from(to, client, LO_TT_IMMEDIATE, "/advinst/target", "s", "harmonica");
    exchange(osc, client);
    CHECK(box.states == 2 && !strcmp(box.last_target, "harmonica"), "target: %d states, last %s", box.states, box.last_target);
    CHECK(adv_osc_settings(osc)->target == 8, "server settings target %d", adv_osc_settings(osc)->target);
    lo_send_from(to, client, LO_TT_IMMEDIATE, "/advinst/eps", "s", "big");
    exchange(osc, client);
    CHECK(box.errors == 1 && strstr(box.last_error, "eps"), "bad message: %d errors (%s)", box.errors, box.last_error);
    CHECK(box.states == 2 && adv_osc_settings(osc)->target == 8, "a bad message changed the state");
    lo_send_from(to, client, LO_TT_IMMEDIATE, "/other/thing", "i", 1);

    /* garbage datagrams: counted, no reply, nothing changes, the server goes on */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)adv_osc_port(osc));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    static const char garbage[][12] = {"\xff\xfe\x01\x02garbage", "/advinst/eps", "/adv\0\0\0\0,f\0\0"};
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++)
        sendto(fd, garbage[i], sizeof garbage[i], 0, (struct sockaddr *)&sa, sizeof sa);
    close(fd);
    exchange(osc, client);
    adv_osc_counts c;
    adv_osc_get_counts(osc, &c);
    CHECK(c.malformed >= 2, "garbage: %ld malformed counted", c.malformed);
    CHECK(box.states == 2 && box.errors == 1 && adv_osc_settings(osc)->target == 8, "garbage changed something");

    /* the query: state and stats to the sender, counts of what came before */
    lo_send_from(to, client, LO_TT_IMMEDIATE, "/advinst/query", "");
    exchange(osc, client);
    CHECK(box.states == 3 && box.stats == 1, "query: %d states, %d stats", box.states, box.stats);
    CHECK(box.last_stats[0] == 6 && box.last_stats[1] == 1 && box.last_stats[2] == 1 && box.last_stats[3] == 1 &&
              box.last_stats[4] == c.malformed,
          "stats: received %lld, changed %lld, rejected %lld, ignored %lld, malformed %lld", (long long)box.last_stats[0],
          (long long)box.last_stats[1], (long long)box.last_stats[2], (long long)box.last_stats[3], (long long)box.last_stats[4]);
    CHECK(adv_osc_receive_buffer(osc) >= 212992, "receive buffer %d bytes", adv_osc_receive_buffer(osc));
    /* asked from elsewhere, answered to the address given */
    char client_port[16];
    snprintf(client_port, sizeof client_port, "%d", lo_server_get_port(client));
    lo_send(to, "/advinst/query", "si", "127.0.0.1", atoi(client_port));
    exchange(osc, client);
    CHECK(box.states == 4 && box.stats == 2 && box.last_stats[0] == 7, "query with an address: %d states, %d stats",
          box.states, box.stats);

    /* a burst: each poll handles a bounded share (the caller's loop stays responsive), in order,
     * and the last value sent is the one that stays */
    for (int i = 0; i < 600; i++) lo_send_from(to, client, LO_TT_IMMEDIATE, "/advinst/iterations", "i", 1 + i);
    int first = adv_osc_poll(osc, 0), rounds = 1, total = first;
    while (rounds < 20 && total < 600) { total += adv_osc_poll(osc, 50); rounds++; }
    CHECK(first > 0 && first < 600 && total == 600, "burst of 600: first poll %d, %d in %d polls", first, total, rounds);
    CHECK(adv_osc_settings(osc)->max_iter == 600, "after the burst: iterations %ld", adv_osc_settings(osc)->max_iter);

    lo_address_free(to);
    lo_server_free(client);
    adv_osc_close(osc);
}

int main(void)
{
    model = adv_model_create(1);
    adv_live_settings_default(&cur);
    cur.target = 3;
    test_messages();
    test_preset_names();
    test_dispatch();
    test_server();
    adv_model_free(model);
    return tu_finish("test_osc");
}
