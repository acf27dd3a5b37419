/* libFuzzer: OSC datagrams for `advinst live`, two ways:
 *  - adv_osc_handle_packet (the pure message -> settings logic) from default settings: the action
 *    and the new settings must be what osc.h documents (ranges, nothing changed unless CHANGED,
 *    one-line errors);
 *  - adv_osc_dispatch on a real server (liblo's dispatcher: messages, bundles, nested bundles,
 *    patterns), after which the server's settings must still be in range and, for a message the
 *    pure function accepted, equal to what it computed.
 * The server's 16 subscriber slots are filled with local ports up front, so a fuzzed
 * /advinst/subscribe never resolves a host name. */
#include "advinst/osc.h"
#include "invariants.h"
#include <stdint.h>

static adv_model *model;
static adv_osc *osc;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    model = adv_model_create(1);
    if (!model) abort();
    osc = adv_osc_open("0", model, NULL);
    if (!osc) {
        fprintf(stderr, "fuzz_osc: %s\n", adv_error());
        abort();
    }
    for (int i = 0; i < 16; i++) {
        char port[8];
        snprintf(port, sizeof port, "%d", 9 + i);
        if (adv_osc_subscribe(osc, "127.0.0.1", port) != 0) abort();
    }
    return 0;
}

static int same_settings(const adv_live_settings *a, const adv_live_settings *b)
{
    return a->method == b->method && a->target == b->target && a->eps == b->eps && a->alpha == b->alpha &&
           a->lr == b->lr && a->max_iter == b->max_iter && a->confidence == b->confidence && a->bypass == b->bypass &&
           !strcmp(a->preset, b->preset);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    adv_live_settings start, next;
    adv_live_settings_default(&start);
    adv_osc_reply reply;
    adv_osc_action act = adv_osc_handle_packet(model, &start, data, size, &next, &reply);
    FUZZ_REQUIRE(act >= ADV_OSC_IGNORED && act <= ADV_OSC_SUBSCRIBE, "action %d", (int)act);
    FUZZ_REQUIRE(memchr(reply.error, 0, sizeof reply.error) && memchr(reply.host, 0, sizeof reply.host), "terminated");
    if (act == ADV_OSC_CHANGED) fuzz_check_live_settings(&next);
    else FUZZ_REQUIRE(same_settings(&next, &start), "action %d changed nothing", (int)act);
    if (act == ADV_OSC_ERROR) FUZZ_REQUIRE(reply.error[0] && !strchr(reply.error, '\n'), "one-line error '%s'", reply.error);
    else FUZZ_REQUIRE(!reply.error[0], "no error for action %d: '%s'", (int)act, reply.error);
    if (act == ADV_OSC_SUBSCRIBE)
        FUZZ_REQUIRE((reply.port == 0 && !reply.host[0]) || (reply.port >= 1 && reply.port <= 65535 && reply.host[0]),
                     "subscribe %s:%d", reply.host, reply.port);

    adv_osc_set_settings(osc, &start);
    int rc = adv_osc_dispatch(osc, data, size);
    const adv_live_settings *now = adv_osc_settings(osc);
    fuzz_check_live_settings(now);
    if (act == ADV_OSC_CHANGED)
        FUZZ_REQUIRE(rc == 0 && same_settings(now, &next), "the server applies a message as adv_osc_handle_packet does");
    return 0;
}
