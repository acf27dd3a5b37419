/* OSC control of `advinst live` (liblo, UDP), namespace /advinst; docs/live.md describes it.
 * Every setting is /advinst/NAME for each NAME of the live settings table (live.h: its types,
 * ranges and descriptions), set through adv_live_settings_set / _set_number; the other addresses
 * are listed in src/osc.c. adv_osc_addresses() is the whole list (--list-osc, OSCQuery).
 *
 * In:  /advinst/target s|i   class name or index, "none" (no attack) or "random"
 *      /advinst/method s     cw, mscw, off
 *      /advinst/step f       Adam step (lr), (0, 1]
 *      /advinst/alpha f      cross-entropy weight, [0, 1e6]
 *      /advinst/eps f        L-inf bound, (0, 1]
 *      /advinst/iterations i 1 .. 1000000
 *      /advinst/confidence f target probability needed for success, [0, 1] (0: off)
 *      /advinst/preset s     a preset name (presets/NAME.ini)
 *      /advinst/bypass i     0 or 1
 *      /advinst/subscribe [s host, i port]   no arguments: the sender
 *      /advinst/ping
 *      /advinst/query [s host, i port]   answered with /advinst/state and /advinst/stats, to that
 *                            address only (no arguments: the sender)
 * Out (to subscribers; replies also to the sender):
 *      /advinst/prediction s stream ("in"|"out"), s class ("silent" while the window is silent), f confidence
 *      /advinst/probs s stream, 12 f in class order
 *      /advinst/attack i clip, s status, f snr_db, i iterations, s prediction-after
 *      /advinst/state s target, s method, f step, f alpha, f eps, i iterations, i bypass, s preset,
 *                     i version, f latency_seconds, f confidence
 *      /advinst/stats h received, h changed, h rejected, h ignored, h malformed, h frames, h xruns,
 *                     h clips ok, h clips failed, h clips missed, h clips clean, h ring overflows,
 *                     i settings version the engine runs with (0 without an engine)
 *      /advinst/pong
 *      /advinst/error s message
 * A message of a wrong type or value is answered with /advinst/error and changes nothing. */
#ifndef ADVINST_OSC_H
#define ADVINST_OSC_H
#include "advinst/live.h"
#include <lo/lo.h>
#include <stdio.h>

typedef struct {
    const char *path;
    const char *types;       /* as accepted or sent ("s|i": either; "[si]": optional) */
    int incoming;            /* 1: we receive it, 0: we send it */
    const char *summary;
} adv_osc_address;

/* Every address (incoming first); *count receives how many. */
const adv_osc_address *adv_osc_addresses(int *count);
/* One line per address: "in /advinst/target s|i ..." (for `advinst live --list-osc`). */
void adv_osc_print_addresses(FILE *out);

typedef enum {
    ADV_OSC_IGNORED = 0,     /* not in /advinst: left alone */
    ADV_OSC_CHANGED,         /* *next holds the new settings to publish */
    ADV_OSC_ERROR,           /* reply->error says why; nothing changes */
    ADV_OSC_PING,            /* answer /advinst/pong */
    ADV_OSC_SUBSCRIBE,       /* reply->host / reply->port ("" / 0: the sender) */
    ADV_OSC_QUERY            /* answer /advinst/state and /advinst/stats (reply->host / port as for subscribe) */
} adv_osc_action;

typedef struct {
    char error[256];
    char host[128];
    int port;
} adv_osc_reply;

/* The whole message -> state logic, pure (no sockets; /advinst/preset reads the preset file):
 * *next = *cur, then changed as the message says when the action is ADV_OSC_CHANGED. types has
 * one character per argument in argv (NULL or "" for none). m gives the class names. */
adv_osc_action adv_osc_handle(const adv_model *m, const adv_live_settings *cur, const char *path, const char *types,
                              lo_arg **argv, adv_live_settings *next, adv_osc_reply *reply);
/* Same from a raw OSC message (as received in a UDP datagram); malformed data is an error. */
adv_osc_action adv_osc_handle_packet(const adv_model *m, const adv_live_settings *cur, const void *data, size_t size,
                                     adv_live_settings *next, adv_osc_reply *reply);

/* ---- the server (one thread: the caller of adv_osc_poll) ---- */
typedef struct adv_osc adv_osc;

/* What the server has received since it was opened. */
typedef struct {
    long received;           /* well-formed messages (any address) */
    long changed;            /* accepted setting changes (each one published) */
    long rejected;           /* answered with /advinst/error */
    long ignored;            /* outside /advinst */
    long malformed;          /* datagrams liblo could not parse (counted per process) */
} adv_osc_counts;

/* Listens on UDP `port` (NULL or "0": any free port), with a receive buffer of a few MB so that a
 * burst of messages waits in the kernel instead of being dropped. The engine may be NULL (set
 * later). */
adv_osc *adv_osc_open(const char *port, const adv_model *m, const adv_live_settings *initial);
void adv_osc_close(adv_osc *o);
int adv_osc_port(const adv_osc *o);
/* Publishes the current settings to this engine from now on (also after a reconnect). */
void adv_osc_set_engine(adv_osc *o, adv_live *engine);
/* Adds a feedback target and sends it the state. */
int adv_osc_subscribe(adv_osc *o, const char *host, const char *port);
/* Handles one datagram (a message or a bundle, through liblo's dispatcher as if it had arrived)
 * with no sender address: answers to the sender go nowhere. Bundle time tags are ignored (the
 * server applies every element on arrival). Returns 0, or -1 (adv_error) for malformed data. */
int adv_osc_dispatch(adv_osc *o, const void *data, size_t size);
/* Handles the messages already queued (at most a few hundred, so that a flood cannot starve the
 * caller's other work) or, if none, those arriving within timeout_ms; returns how many changed the
 * settings. In arrival order: the last value sent for a setting is the one that stays. */
int adv_osc_poll(adv_osc *o, int timeout_ms);
void adv_osc_get_counts(const adv_osc *o, adv_osc_counts *c);
/* The receive buffer the kernel granted (bytes), 0 if unknown. */
int adv_osc_receive_buffer(const adv_osc *o);
/* The settings as last published. */
const adv_live_settings *adv_osc_settings(const adv_osc *o);
/* Replaces the settings (e.g. from the command line) and publishes them. */
void adv_osc_set_settings(adv_osc *o, const adv_live_settings *s);
/* Sends an engine event to the subscribers (prediction + probs, or attack). */
void adv_osc_send_event(adv_osc *o, const adv_live_event *ev);
void adv_osc_send_state(adv_osc *o);
void adv_osc_send_error(adv_osc *o, const char *message);
#endif
