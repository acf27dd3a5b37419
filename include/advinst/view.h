/* The web view of `advinst live --http PORT` (docs/live.md, "HTTP view" and "OSCQuery"): one HTTP +
 * WebSocket server (civetweb) in the same process that serves
 *   GET /view            the page (ui/view.html, built in: no file is ever read or served)
 *   GET /view/feed       a WebSocket: the engine's events as JSON (probabilities, spectrogram
 *                        columns, clip results, settings, counters), batched about 20 times a
 *                        second; the page's controls come back on it
 *   GET / and /advinst/...   OSCQuery (Vidvox OSCQueryProposal): the OSC namespace as JSON, from
 *                        the live settings table (live.h) and the OSC address list (osc.h);
 *                        GET /?HOST_INFO the server's OSC port and extensions
 * and answers anything else with 4xx.
 *
 * Threads: civetweb's own (requests; one per open WebSocket, reading), one feed thread that turns
 * events into JSON and hands each batch to every client, and one writer thread per client. The
 * control thread (the caller of adv_view_push_*) never waits for any of them: its records go
 * through a lock-free ring (dropped and counted when full); every client has a bounded queue that
 * drops its oldest batch when the browser cannot keep up, so a slow or vanished browser slows
 * nothing else. Nothing here runs on the audio thread.
 *
 * Settings asked for by a page are not applied here: adv_view_poll_request hands them to the
 * control thread, which applies them with the same setter as OSC (adv_live_settings_set). */
#ifndef ADVINST_VIEW_H
#define ADVINST_VIEW_H
#include "advinst/live.h"
#include <stddef.h>

#define ADV_VIEW_MAX_CLIENTS 32   /* WebSocket clients at once; more are refused (503) */

typedef struct adv_view adv_view;

typedef struct {
    const char *bind;        /* IPv4 address to listen on; NULL: "127.0.0.1" */
    int port;                /* TCP port, 0: any free port (adv_view_port tells) */
    const adv_model *model;  /* class names (must outlive the view) */
    int osc_port;            /* the OSC server's UDP port, for OSCQuery's HOST_INFO */
} adv_view_options;

/* Starts the server (NULL + adv_error if the port cannot be bound). */
adv_view *adv_view_open(const adv_view_options *o, const adv_live_settings *initial);
/* Stops the server, closing every connection, and frees everything. */
void adv_view_close(adv_view *v);
int adv_view_port(const adv_view *v);

/* ---- the control thread (one thread): never blocks ---- */
/* The stream's timing, whenever the engine is (re)created: rate, latency L, classifier window. */
void adv_view_push_timing(adv_view *v, int rate, long latency_frames, long window_frames);
void adv_view_push_event(adv_view *v, const adv_live_event *ev);
void adv_view_push_state(adv_view *v, const adv_live_settings *s);
void adv_view_push_stats(adv_view *v, const adv_live_stats *st);
void adv_view_push_error(adv_view *v, const char *message);
/* A setting change a page asked for (name and value as text, for adv_live_settings_set): 1, or 0
 * when there is none. */
int adv_view_poll_request(adv_view *v, char *name, size_t name_size, char *value, size_t value_size);

typedef struct {
    long clients;            /* WebSocket clients connected now */
    long clients_total;      /* ... since the start */
    long clients_refused;    /* over ADV_VIEW_MAX_CLIENTS or from another origin */
    long batches;            /* batches made by the feed thread */
    long frames_sent;        /* WebSocket frames written (all clients) */
    long frames_dropped;     /* batches dropped from a slow client's queue */
    long records_dropped;    /* records the control thread could not queue (ring full) */
    long requests;           /* HTTP requests answered */
    long bad_requests;       /* ... with a 4xx status */
    long commands;           /* controls received from pages */
} adv_view_counts;
void adv_view_get_counts(adv_view *v, adv_view_counts *c);

/* ---- the pure parts (no sockets, no threads): tested and fuzzed directly ---- */

/* What the server knows when it answers a request. */
typedef struct {
    const adv_model *model;
    const adv_live_settings *settings;
    int osc_port;
} adv_view_context;

typedef struct {
    int status;              /* 200, 204, 302, 400, 404, 405 */
    const char *content_type;
    char *body;              /* malloc'd (free it), NULL for none */
    const char *static_body; /* or a static body (the page) */
    size_t length;
    const char *location;    /* 302: where to */
} adv_view_response;

/* The answer to an HTTP request: method ("GET", "HEAD", ...), the path (decoded, no query), the
 * query string (after '?', NULL if none) and the Accept header (NULL if none). */
void adv_view_route(const adv_view_context *c, const char *method, const char *path, const char *query,
                    const char *accept, adv_view_response *r);
/* OSCQuery: the JSON of the node at `path` ("/", "/advinst", "/advinst/eps"), or of one attribute
 * (query "VALUE", "RANGE", ...), or HOST_INFO (query "HOST_INFO"); r->status 200, 204 (the node
 * has no such attribute), 400 (unknown attribute) or 404 (no such node). */
void adv_oscquery_respond(const adv_view_context *c, const char *path, const char *query, adv_view_response *r);

/* A control sent by a page over the WebSocket: {"set": NAME, "value": STRING|NUMBER|BOOL}. Fills
 * name and value (as text for adv_live_settings_set) and returns 0, or -1 with a one-line reason in
 * why (not JSON, not an object, an unknown setting, a value of another type, too long). */
int adv_view_parse_command(const char *data, size_t size, char *name, size_t name_size, char *value, size_t value_size,
                           char *why, size_t why_size);

/* One message of the feed as JSON (malloc'd; NULL if out of memory), for an event at `rate`. */
char *adv_view_event_json(const adv_model *m, const adv_live_event *ev, int rate);
char *adv_view_state_json(const adv_model *m, const adv_live_settings *s, double latency_seconds);
char *adv_view_stats_json(const adv_live_stats *st, int rate);
char *adv_view_error_json(const char *message);
/* The first message to a new client: names, classes, targets, methods, the settings table, the
 * timing and the state. */
char *adv_view_hello_json(const adv_model *m, const adv_live_settings *s, int rate, long latency_frames, long window_frames);

/* The page (ui/view.html, built in). */
extern const char adv_view_page[];
extern const size_t adv_view_page_size;
#endif
