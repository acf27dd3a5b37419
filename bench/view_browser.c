/* Drives headless Chromium over the DevTools protocol for the web view's test and benchmark
 * (tests/cli_live_view.sh, bench/live_view.sh): starts the browser (a private profile, no network
 * but the page's), opens URL in N tabs, waits, evaluates a JavaScript expression in each tab and
 * prints each result as one JSON line, optionally saves a screenshot of the first tab, and stops
 * the browser it started.
 *
 *   view_browser [--browser PATH] [--tabs N] [--seconds S] [--until JS] [--eval JS]
 *                [--screenshot FILE.png] [--size 1920x1080] URL
 *
 * --until: instead of waiting S seconds, wait until JS is true in every tab (checked twice a
 * second), at most S seconds (then exit 1 after the evaluation).
 *
 * Exit: 0, 1 (the browser failed or an evaluation threw), 2 (usage). Uses civetweb's WebSocket
 * client and cJSON. */
#include <civetweb.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TABS 32
#define MAX_PENDING 256

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    cJSON *replies[MAX_PENDING];   /* by id % MAX_PENDING */
    int closed;
} devtools;

static devtools dt = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0};
static struct mg_connection *conn;
static int next_id = 1;

static int on_message(struct mg_connection *c, int bits, char *data, size_t len, void *user)
{
    (void)c;
    (void)user;
    if ((bits & 0xf) != MG_WEBSOCKET_OPCODE_TEXT) return 1;
    cJSON *m = cJSON_ParseWithLength(data, len);
    const cJSON *id = cJSON_GetObjectItem(m, "id");
    if (!cJSON_IsNumber(id)) {   /* an event: not needed */
        cJSON_Delete(m);
        return 1;
    }
    pthread_mutex_lock(&dt.lock);
    cJSON_Delete(dt.replies[id->valueint % MAX_PENDING]);
    dt.replies[id->valueint % MAX_PENDING] = m;
    pthread_cond_broadcast(&dt.cond);
    pthread_mutex_unlock(&dt.lock);
    return 1;
}

static void on_close(const struct mg_connection *c, void *user)
{
    (void)c;
    (void)user;
    pthread_mutex_lock(&dt.lock);
    dt.closed = 1;
    pthread_cond_broadcast(&dt.cond);
    pthread_mutex_unlock(&dt.lock);
}

/* Sends a command (params taken), waits up to 30 s for its reply; returns the reply's "result"
 * (detached, the caller frees it) or NULL with the error printed. */
static cJSON *command(const char *session, const char *method, cJSON *params)
{
    const int id = next_id++;
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "id", id);
    cJSON_AddStringToObject(m, "method", method);
    cJSON_AddItemToObject(m, "params", params ? params : cJSON_CreateObject());
    if (session) cJSON_AddStringToObject(m, "sessionId", session);
    char *text = cJSON_PrintUnformatted(m);
    cJSON_Delete(m);
    mg_websocket_client_write(conn, MG_WEBSOCKET_OPCODE_TEXT, text, strlen(text));
    free(text);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 30;
    pthread_mutex_lock(&dt.lock);
    cJSON *reply = NULL;
    for (;;) {
        cJSON *r = dt.replies[id % MAX_PENDING];
        if (r && cJSON_GetObjectItem(r, "id")->valueint == id) {
            reply = r;
            dt.replies[id % MAX_PENDING] = NULL;
            break;
        }
        if (dt.closed || pthread_cond_timedwait(&dt.cond, &dt.lock, &until) == ETIMEDOUT) break;
    }
    pthread_mutex_unlock(&dt.lock);
    if (!reply) {
        fprintf(stderr, "view_browser: no answer to %s\n", method);
        return NULL;
    }
    cJSON *result = cJSON_DetachItemFromObject(reply, "result");
    if (!result) {
        char *e = cJSON_PrintUnformatted(cJSON_GetObjectItem(reply, "error"));
        fprintf(stderr, "view_browser: %s: %s\n", method, e ? e : "error");
        free(e);
    }
    cJSON_Delete(reply);
    return result;
}

static int b64_value(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Decodes base64 text into out (at least 3/4 of its length); returns the bytes written. */
static size_t b64_decode(const char *text, unsigned char *out)
{
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;
    for (; *text; text++) {
        int v = b64_value((unsigned char)*text);
        if (v < 0) continue;   /* padding, line breaks */
        acc = (acc << 6) | (unsigned)v;
        if ((bits += 6) >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    return n;
}

/* Starts the browser with a private profile and a DevTools port of its choosing; returns its pid
 * and fills host/port/path from the "DevTools listening on ws://..." line. */
static pid_t start_browser(const char *browser, const char *profile, const char *size, char *host, int *port, char *path)
{
    int fds[2];
    if (pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, 1);
        char dir[4200], window[64];
        snprintf(dir, sizeof dir, "--user-data-dir=%s", profile);
        snprintf(window, sizeof window, "--window-size=%s", size);
        for (char *x = strchr(window, 'x'); x; x = NULL) *x = ',';
        /* as root in a container: no sandbox; no background networking (the machine has none) */
        execl(browser, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
              "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", dir, window, "about:blank", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[1024];
    int found = 0;
    while (f && fgets(line, sizeof line, f)) {
        const char *at = strstr(line, "DevTools listening on ws://");
        if (at && sscanf(at, "DevTools listening on ws://%63[^:]:%d%1023s", host, port, path) == 3) {
            found = 1;
            break;
        }
    }
    if (!found) {
        fprintf(stderr, "view_browser: %s did not start (no DevTools address)\n", browser);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    /* keep reading its messages so it never blocks on a full pipe */
    if (fork() == 0) {
        while (fgets(line, sizeof line, f)) {}
        _exit(0);
    }
    fclose(f);
    return pid;
}

static void usage(void)
{
    fprintf(stderr, "usage: view_browser [--browser PATH] [--tabs N] [--seconds S] [--until JS] [--eval JS] "
                    "[--screenshot FILE.png] [--size WxH] URL\n");
}

/* The value of JS in a tab (returned by value), NULL if it threw; the caller frees it. */
static cJSON *evaluate(const char *session, const char *js)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "expression", js);
    cJSON_AddTrueToObject(p, "returnByValue");
    cJSON *r = command(session, "Runtime.evaluate", p);
    cJSON *value = r && !cJSON_GetObjectItem(r, "exceptionDetails")
                       ? cJSON_DetachItemFromObject(cJSON_GetObjectItem(r, "result"), "value") : NULL;
    cJSON_Delete(r);
    return value;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {{"browser", required_argument, 0, 'b'}, {"tabs", required_argument, 0, 't'},
                                            {"seconds", required_argument, 0, 's'}, {"eval", required_argument, 0, 'e'},
                                            {"screenshot", required_argument, 0, 'o'}, {"size", required_argument, 0, 'z'},
                                            {"until", required_argument, 0, 'u'}, {0, 0, 0, 0}};
    const char *browser = "/usr/bin/chromium-headless-shell", *expr = NULL, *shot = NULL, *size = "1920x1080", *until = NULL;
    int tabs = 1, opt;
    double seconds = 5;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'b': browser = optarg; break;
        case 't': tabs = atoi(optarg); break;
        case 's': seconds = atof(optarg); break;
        case 'e': expr = optarg; break;
        case 'o': shot = optarg; break;
        case 'z': size = optarg; break;
        case 'u': until = optarg; break;
        default: usage(); return 2;
        }
    }
    if (optind != argc - 1 || tabs < 1 || tabs > MAX_TABS || seconds < 0) { usage(); return 2; }
    const char *url = argv[optind];
    int width = 1920, height = 1080;
    if (sscanf(size, "%dx%d", &width, &height) != 2) { usage(); return 2; }

    char profile[] = "/tmp/view_browser.XXXXXX", host[64], path[1024];
    int port = 0, rc = 0;
    if (!mkdtemp(profile)) { perror("view_browser: mkdtemp"); return 1; }
    signal(SIGPIPE, SIG_IGN);
    mg_init_library(0);
    pid_t pid = start_browser(browser, profile, size, host, &port, path);
    char err[256];
    if (pid > 0) conn = mg_connect_websocket_client(host, port, 0, err, sizeof err, path, NULL, on_message, on_close, NULL);
    if (pid <= 0 || !conn) {
        if (pid > 0) fprintf(stderr, "view_browser: DevTools: %s\n", err);
        rc = 1;
        goto out;
    }
    char sessions[MAX_TABS][128];
    for (int i = 0; i < tabs; i++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "url", "about:blank");
        cJSON *target = command(NULL, "Target.createTarget", p);
        p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "targetId", target ? cJSON_GetObjectItem(target, "targetId")->valuestring : "");
        cJSON_AddTrueToObject(p, "flatten");
        cJSON *attached = command(NULL, "Target.attachToTarget", p);
        cJSON_Delete(target);
        if (!attached) { rc = 1; goto out; }
        snprintf(sessions[i], sizeof sessions[i], "%s", cJSON_GetObjectItem(attached, "sessionId")->valuestring);
        cJSON_Delete(attached);
        p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "width", width);
        cJSON_AddNumberToObject(p, "height", height);
        cJSON_AddNumberToObject(p, "deviceScaleFactor", 1);
        cJSON_AddFalseToObject(p, "mobile");
        cJSON_Delete(command(sessions[i], "Emulation.setDeviceMetricsOverride", p));
        p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "url", url);
        cJSON_Delete(command(sessions[i], "Page.navigate", p));
    }
    struct timespec half = {0, 500000000};
    int met = 0;
    for (double waited = 0; !met && waited < seconds; waited += 0.5) {
        nanosleep(&half, NULL);
        met = until != NULL;
        for (int i = 0; until && met && i < tabs; i++) {
            cJSON *v = evaluate(sessions[i], until);
            met = v && cJSON_IsTrue(v);
            cJSON_Delete(v);
        }
    }
    if (until && !met) {
        fprintf(stderr, "view_browser: not true within %g s: %s\n", seconds, until);
        rc = 1;
    }
    for (int i = 0; expr && i < tabs; i++) {
        cJSON *value = evaluate(sessions[i], expr);
        if (!value) {
            fprintf(stderr, "view_browser: tab %d: the expression failed\n", i);
            rc = 1;
        } else {
            char *text = cJSON_PrintUnformatted(value);
            printf("%s\n", text);
            free(text);
        }
        cJSON_Delete(value);
    }
    if (shot) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "format", "png");
        cJSON *r = command(sessions[0], "Page.captureScreenshot", p);
        const cJSON *data = cJSON_GetObjectItem(r, "data");
        FILE *f = cJSON_IsString(data) ? fopen(shot, "wb") : NULL;
        unsigned char *png = f ? malloc(strlen(data->valuestring)) : NULL;
        if (!png || fwrite(png, 1, b64_decode(data->valuestring, png), f) == 0 || fclose(f) != 0) {
            fprintf(stderr, "view_browser: cannot save the screenshot %s\n", shot);
            rc = 1;
        }
        free(png);
        cJSON_Delete(r);
    }
    cJSON_Delete(command(NULL, "Browser.close", NULL));
out:
    if (conn) mg_close_connection(conn);
    if (pid > 0) {
        for (int i = 0; i < 50 && waitpid(pid, NULL, WNOHANG) == 0; i++) nanosleep(&(struct timespec){0, 100000000}, NULL);
        if (kill(pid, 0) == 0) { kill(pid, SIGKILL); waitpid(pid, NULL, 0); }
    }
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", profile);
    if (system(cmd) != 0) fprintf(stderr, "view_browser: could not remove %s\n", profile);
    fflush(stdout);
    return rc;
}
