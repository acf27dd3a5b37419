/* libFuzzer: HTTP requests to the web view of `advinst live --http` (include/advinst/view.h), an
 * input being the raw bytes of a request, two ways:
 *  - adv_view_route (the router and OSCQuery) on the request line and the Accept header as a
 *    simple split finds them: the status is one the server documents (200, 204, 302, 400, 404,
 *    405), a 200 is the page or JSON that parses, and nothing outside the page and the namespace is
 *    ever served; and adv_view_parse_command on the same bytes as a page's control, whose result
 *    the setter takes or refuses with one line;
 *  - the bytes sent to a real server (civetweb on loopback, the server's own parsing): the answer
 *    is a 2xx, 3xx or 4xx status line (101 for a WebSocket handshake, 505 from civetweb for an
 *    HTTP version other than 1.0 and 1.1), or the connection is closed, never another 5xx, and the server
 *    keeps answering. */
#include "advinst/error.h"
#include "advinst/view.h"
#include "invariants.h"
#include <arpa/inet.h>
#include <errno.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

static adv_model *model;
static adv_view *view;
static adv_live_settings settings;
static int port;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    model = adv_model_create(1);
    adv_live_settings_default(&settings);
    adv_view_options o = {"127.0.0.1", 0, model, 9000};
    view = model ? adv_view_open(&o, &settings) : NULL;
    if (!view) {
        fprintf(stderr, "fuzz_http: %s\n", adv_error());
        abort();
    }
    port = adv_view_port(view);
    return 0;
}

/* The next token of [*p, end) up to any of `stops` (not included), NUL-terminated into out. */
static void token(const char **p, const char *end, const char *stops, char *out, size_t size)
{
    size_t n = 0;
    while (*p < end && !memchr(stops, **p, strlen(stops) + 1) && n + 1 < size) out[n++] = *(*p)++;
    out[n] = 0;
}

static void check_route(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    char method[16], path[512], query[512] = "", accept[256] = "";
    token(&p, end, " \r\n", method, sizeof method);
    if (p < end && *p == ' ') p++;
    token(&p, end, "? \r\n", path, sizeof path);
    int has_query = p < end && *p == '?';
    if (has_query) p++, token(&p, end, " \r\n", query, sizeof query);
    const char *a = memmem(data, size, "\nAccept: ", 9);
    if (a) {
        a += 9;
        token(&a, end, "\r\n", accept, sizeof accept);
    }
    adv_view_context c = {model, &settings, 9000};
    adv_view_response r;
    adv_view_route(&c, method, path, has_query ? query : NULL, a ? accept : NULL, &r);
    static const int documented[] = {200, 204, 302, 400, 404, 405};
    int ok = 0;
    for (size_t i = 0; i < sizeof documented / sizeof documented[0]; i++) ok |= r.status == documented[i];
    FUZZ_REQUIRE(ok, "status %d for '%s' '%s'", r.status, method, path);
    if (r.status == 200) {
        const int page = r.static_body == adv_view_page;
        FUZZ_REQUIRE(page || (r.body && r.content_type && !strcmp(r.content_type, "application/json")), "200 is the page or JSON");
        FUZZ_REQUIRE(page ? !strncmp(path, "/view", 5) : (!strcmp(path, "/") || !strncmp(path, "/advinst", 8)),
                     "200 for '%s'", path);
        if (!page) {
            cJSON *j = cJSON_Parse(r.body);
            FUZZ_REQUIRE(j && r.length == strlen(r.body), "the JSON parses");
            cJSON_Delete(j);
        }
    }
    free(r.body);

    char name[32], value[128], why[160];
    if (adv_view_parse_command((const char *)data, size, name, sizeof name, value, sizeof value, why, sizeof why) == 0) {
        adv_live_settings s = settings;
        if (adv_live_settings_set(&s, model, name, value) == 0) fuzz_check_live_settings(&s);
        else FUZZ_REQUIRE(!strchr(adv_error(), '\n') && !memcmp(&s, &settings, sizeof s), "refused whole, one line");
    } else {
        FUZZ_REQUIRE(why[0] && !strchr(why, '\n'), "a reason");
    }
}

/* 1 if [line, end) ends in " NNN Reason Phrase" (a reason of letters, spaces and hyphens). */
static int status_in_line(const char *line, const char *end)
{
    for (const char *c = end - 1; c >= line + 4; c--) {
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || *c == ' ' || *c == '-')) return 0;
        if (c[0] >= 'A' && c[0] <= 'Z' && c[-1] == ' ' && c[-2] >= '0' && c[-2] <= '9' && c[-3] >= '0' && c[-3] <= '9' &&
            c[-4] >= '1' && c[-4] <= '5' && (c - 5 < line || c[-5] == ' '))
            return (c[-4] - '0') * 100 + (c[-3] - '0') * 10 + (c[-2] - '0');
    }
    return 0;
}

/* The status of an answer: civetweb echoes a bad request's "version", which may span lines and
 * contain anything but a blank line, before its own " NNN Reason": the last line of the header
 * block (up to the first blank line) that ends so (no header civetweb sends ends so). */
static int status_of(const char *head, size_t size)
{
    const char *end = memmem(head, size, "\r\n\r\n", 4);
    if (!end) end = head + size;
    int status = 0;
    for (const char *line = head; line < end;) {
        const char *eol = memmem(line, (size_t)(end - line), "\r\n", 2);
        if (!eol) eol = end;
        int st = status_in_line(line, eol);
        if (st) status = st;
        line = eol + 2;
    }
    return status;
}

/* The raw bytes to the server: the status of its answer, 0 if it closed without one. */
static int send_raw(const uint8_t *data, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    FUZZ_REQUIRE(fd >= 0, "socket");
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int rc;   /* libFuzzer's timer (SIGALRM) may interrupt a call: the connection goes on */
    while ((rc = connect(fd, (struct sockaddr *)&sa, sizeof sa)) != 0 && (errno == EINTR || errno == EALREADY)) {}
    FUZZ_REQUIRE(rc == 0 || errno == EISCONN, "the server accepts connections (%s)", strerror(errno));
    ssize_t w = size ? send(fd, data, size, MSG_NOSIGNAL) : 0;
    (void)w;
    shutdown(fd, SHUT_WR);   /* the end of the request: civetweb answers or closes, never waits */
    static char head[1 << 16];   /* the answer: its first line is the status line */
    size_t got = 0;
    ssize_t n;
    while ((n = recv(fd, head + got, sizeof head - 1 - got, 0)) > 0 || (n < 0 && errno == EINTR)) got += n > 0 ? (size_t)n : 0;
    close(fd);
    head[got] = 0;
    int status = 0;
    if (got) {
        if (!strncmp(head, "Error ", 6)) {   /* civetweb 1.15 answers a WebSocket handshake without
                                                a version so, with no status line: "Error 426: ..." */
            FUZZ_REQUIRE(sscanf(head, "Error %d:", &status) == 1, "'%.20s'", head);
            return status;
        }
        FUZZ_REQUIRE(!strncmp(head, "HTTP/", 5), "an HTTP status line, not '%.20s'", head);
        status = status_of(head, got);
        FUZZ_REQUIRE(status, "a status in '%.60s'", head);
    }
    return status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_route(data, size);
    int status = send_raw(data, size);
    /* 505: civetweb's answer to a request of an HTTP version other than 1.0 and 1.1 */
    FUZZ_REQUIRE(status == 0 || status == 101 || status == 505 || (status >= 200 && status < 500), "status %d from the server",
                 status);
    static const char probe[] = "GET /?HOST_INFO HTTP/1.1\r\nHost: x\r\n\r\n";
    static long inputs;
    if (++inputs % 64 == 0) {
        int st = send_raw((const uint8_t *)probe, sizeof probe - 1);
        adv_view_counts c;
        adv_view_get_counts(view, &c);
        FUZZ_REQUIRE(st == 200, "still serving: %d (clients %ld, requests %ld)", st, c.clients, c.requests);
    }
    return 0;
}
