/* A small CLAP host for the CLAP plugin's tests (build/clap/advinst.clap):
 *
 *   clap_host check PLUGIN.clap        the factory's two plugins; parameters as the control
 *                                      table; latency (the engine's default) and audio ports; method
 *                                      off and bypass give the input delayed by the reported
 *                                      latency bit for bit; state saved, loaded into another
 *                                      instance, saved again: the same
 *   clap_host nomodel PLUGIN.clap      with $ADVINST_MODEL unusable: activates, latency 0,
 *                                      audio passed through bit for bit
 *   clap_host rt PLUGIN.clap SECONDS CLIP.wav
 *                                      real-time run at 16 kHz in 64-frame periods with
 *                                      parameter automation (target, method, alpha, bypass),
 *                                      process() marked as audio thread for rt_guard
 *                                      (LD_PRELOAD), the host's main thread serving
 *                                      request_callback; perturbations must play; after the
 *                                      host's dlclose the plugin stays mapped (-z nodelete: its
 *                                      OpenMP threads outlive it)
 * Exit code 0 when every check passes. */
#include "testutil.h"
#include "live_check.h"
#include "../src/plugin/common.h"
#include <clap/entry.h>
#include <clap/ext/audio-ports.h>
#include <clap/ext/latency.h>
#include <clap/ext/params.h>
#include <clap/ext/state.h>
#include <clap/plugin-factory.h>
#include <dlfcn.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RATE 48000
#define PERIOD 256
/* the real-time run: 16 kHz (the classifier's rate: cheap attacks) in 64-frame periods (4 ms) */
#define RT_RATE 16000
#define RT_PERIOD 64

/* ---- the host side ---- */

static atomic_int callback_requested;
static const void *host_extension(const clap_host_t *h, const char *id) { (void)h; (void)id; return NULL; }
static void host_restart(const clap_host_t *h) { (void)h; }
static void host_process(const clap_host_t *h) { (void)h; }
static void host_callback(const clap_host_t *h) { (void)h; atomic_store(&callback_requested, 1); }
static const clap_host_t host = {CLAP_VERSION_INIT, NULL, "advinst clap_host", "advinst", "", "1",
                                 host_extension, host_restart, host_process, host_callback};

/* Parameter events of one period (at most 8). */
typedef struct {
    clap_event_param_value_t ev[8];
    uint32_t n;
} events;
static uint32_t ev_size(const clap_input_events_t *l) { return ((const events *)l->ctx)->n; }
static const clap_event_header_t *ev_get(const clap_input_events_t *l, uint32_t i)
{
    return &((const events *)l->ctx)->ev[i].header;
}
static bool ev_push(const clap_output_events_t *l, const clap_event_header_t *e) { (void)l; (void)e; return true; }

static void set_param(events *e, clap_id id, double value)
{
    clap_event_param_value_t *v = &e->ev[e->n++];
    memset(v, 0, sizeof *v);
    v->header = (clap_event_header_t){sizeof *v, 0, CLAP_CORE_EVENT_SPACE_ID, CLAP_EVENT_PARAM_VALUE, 0};
    v->param_id = id;
    v->note_id = -1;
    v->port_index = v->channel = v->key = -1;
    v->value = value;
}

typedef struct {
    void *lib;
    const clap_plugin_entry_t *entry;
    const clap_plugin_factory_t *factory;
    const clap_plugin_t *p;
    const clap_plugin_params_t *params;
    const clap_plugin_latency_t *latency;
    const clap_plugin_audio_ports_t *ports;
    const clap_plugin_state_t *state;
} instance;

static int open_plugin(instance *in, const char *path, const char *id)
{
    memset(in, 0, sizeof *in);
    in->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!in->lib) { fprintf(stderr, "clap_host: %s\n", dlerror()); return -1; }
    in->entry = dlsym(in->lib, "clap_entry");
    if (!in->entry || !in->entry->init(path)) { fprintf(stderr, "clap_host: no clap_entry\n"); return -1; }
    in->factory = in->entry->get_factory(CLAP_PLUGIN_FACTORY_ID);
    in->p = in->factory ? in->factory->create_plugin(in->factory, &host, id) : NULL;
    if (!in->p || !in->p->init(in->p)) { fprintf(stderr, "clap_host: cannot create %s\n", id); return -1; }
    in->params = in->p->get_extension(in->p, CLAP_EXT_PARAMS);
    in->latency = in->p->get_extension(in->p, CLAP_EXT_LATENCY);
    in->ports = in->p->get_extension(in->p, CLAP_EXT_AUDIO_PORTS);
    in->state = in->p->get_extension(in->p, CLAP_EXT_STATE);
    return in->params && in->latency && in->ports && in->state ? 0 : -1;
}

static void close_plugin(instance *in)
{
    if (in->p) in->p->destroy(in->p);
    if (in->entry) in->entry->deinit();
    if (in->lib) dlclose(in->lib);
}

/* One process() call on mono in -> out with the events e; then the main thread's turn. */
static void run_period(instance *in, const float *x, float *y, uint32_t n, events *e, void (*enter)(void), void (*leave)(void))
{
    float *ins[1] = {(float *)x}, *outs[1] = {y};
    clap_audio_buffer_t ai = {ins, NULL, 1, 0, 0}, ao = {outs, NULL, 1, 0, 0};
    clap_input_events_t iev = {e, ev_size, ev_get};
    clap_output_events_t oev = {NULL, ev_push};
    clap_process_t pr = {-1, n, NULL, &ai, &ao, 1, 1, &iev, &oev};
    if (enter) enter();
    in->p->process(in->p, &pr);
    if (leave) leave();
    e->n = 0;
    if (atomic_exchange(&callback_requested, 0)) in->p->on_main_thread(in->p);
}

/* ---- check ---- */

typedef struct { char buf[2048]; size_t len, pos; } blob;
static int64_t blob_write(const clap_ostream_t *s, const void *b, uint64_t n)
{
    blob *o = s->ctx;
    if (o->len + n > sizeof o->buf) return -1;
    memcpy(o->buf + o->len, b, n);
    o->len += n;
    return (int64_t)n;
}
static int64_t blob_read(const clap_istream_t *s, void *b, uint64_t n)
{
    blob *o = s->ctx;
    if (n > o->len - o->pos) n = o->len - o->pos;
    memcpy(b, o->buf + o->pos, n);
    o->pos += n;
    return (int64_t)n;
}

/* Runs `seconds` of x (looped) with the events of the first period; 1 if the output is x delayed by
 * L (from frame L on; before it silence when the instance is fresh, else what it had before). */
static int delayed_exactly(instance *in, const float *x, long xn, long L, double seconds, events *first, int fresh)
{
    const long total = (long)(seconds * RATE);
    float *y = malloc(sizeof(float) * (size_t)total), *inbuf = malloc(sizeof(float) * (size_t)total);
    for (long i = 0; i < total; i++) inbuf[i] = x[i % xn];
    for (long f = 0; f < total; f += PERIOD) {
        events none = {.n = 0};
        run_period(in, inbuf + f, y + f, (uint32_t)(total - f < PERIOD ? total - f : PERIOD), f ? &none : first, NULL, NULL);
    }
    int ok = 1;
    for (long k = 0; k < total && ok; k++) ok = k >= L ? y[k] == inbuf[k - L] : !fresh || y[k] == 0.0f;
    free(y);
    free(inbuf);
    return ok;
}

static int cmd_check(const char *path, const char *clip)
{
    instance a, b;
    CHECK(open_plugin(&a, path, "advinst.mono") == 0, "mono plugin with params, latency, audio-ports and state");
    if (!a.p) return tu_finish("clap_host check");
    CHECK(a.factory->get_plugin_count(a.factory) == 2, "factory: %u plugins", a.factory->get_plugin_count(a.factory));
    CHECK(a.params->count(a.p) == C_LATENCY, "%u parameters, expected the %d input controls", a.params->count(a.p), C_LATENCY);
    for (uint32_t k = 0; k < a.params->count(a.p); k++) {
        clap_param_info_t info;
        CHECK(a.params->get_info(a.p, k, &info) && info.id == k && !strcmp(info.name, lv2_controls[k].name) &&
                  info.min_value == lv2_controls[k].min && info.max_value == lv2_controls[k].max &&
                  info.default_value == adv_plugin_control_default((int)k) && !!(info.flags & CLAP_PARAM_IS_BYPASS) == (k == C_ENABLED),
              "parameter %u differs from the control table", k);
    }
    CHECK(a.p->activate(a.p, RATE, 1, 4096) && a.p->start_processing(a.p), "activate");
    const long L = a.latency->get(a.p);
    adv_live_config dc;
    adv_live_config_default(&dc, RATE, 1);
    CHECK(L == lround(dc.latency_seconds * RATE), "latency %ld at 48 kHz, expected the engine's default %g s", L,
          dc.latency_seconds);
    clap_audio_port_info_t pi;
    CHECK(a.ports->count(a.p, true) == 1 && a.ports->get(a.p, 0, true, &pi) && pi.channel_count == 1, "mono input port");
    long xn;
    float *x = live_load_clip(clip, RATE, &xn);
    events e = {.n = 0};
    set_param(&e, C_METHOD, 0);
    set_param(&e, C_TARGET, 6);
    CHECK(delayed_exactly(&a, x, xn, L, 8.0, &e, 1), "method off: not the input delayed by the latency");
    set_param(&e, C_METHOD, 1);
    set_param(&e, C_ENABLED, 0);
    CHECK(delayed_exactly(&a, x, xn, L, 8.0, &e, 0), "bypass: not the input delayed by the latency");
    set_param(&e, C_ALPHA, 10);
    set_param(&e, C_ITERATIONS, 77);
    float y[PERIOD];
    run_period(&a, x, y, PERIOD, &e, NULL, NULL);
    double v;
    CHECK(a.params->get_value(a.p, C_ITERATIONS, &v) && v == 77, "iterations parameter %g after its event", v);
    blob s1 = {.len = 0}, s2 = {.len = 0};
    clap_ostream_t o1 = {&s1, blob_write}, o2 = {&s2, blob_write};
    clap_istream_t i1 = {&s1, blob_read};
    CHECK(a.state->save(a.p, &o1), "state save");
    CHECK(open_plugin(&b, path, "advinst.stereo") == 0 && b.state->load(b.p, &i1) && b.state->save(b.p, &o2) &&
              s1.len == s2.len && !memcmp(s1.buf, s2.buf, s1.len),
          "state loaded into another instance and saved again differs");
    CHECK(b.params->get_value(b.p, C_ALPHA, &v) && v == 10, "alpha %g after loading the state", v);
    CHECK(b.ports->get(b.p, 0, false, &pi) && pi.channel_count == 2, "stereo output port");
    a.p->stop_processing(a.p);
    a.p->deactivate(a.p);
    close_plugin(&b);
    close_plugin(&a);
    free(x);
    return tu_finish("clap_host check");
}

static int cmd_nomodel(const char *path, const char *clip)
{
    instance a;
    CHECK(open_plugin(&a, path, "advinst.mono") == 0 && a.p->activate(a.p, RATE, 1, 4096), "a plugin without model");
    if (!a.p) return tu_finish("clap_host nomodel");
    CHECK(a.latency->get(a.p) == 0, "latency %u without model", a.latency->get(a.p));
    long xn;
    float *x = live_load_clip(clip, RATE, &xn);
    events e = {.n = 0};
    set_param(&e, C_TARGET, 6);
    CHECK(delayed_exactly(&a, x, xn, 0, 2.0, &e, 1), "without a model the audio is not passed through");
    a.p->deactivate(a.p);
    close_plugin(&a);
    free(x);
    return tu_finish("clap_host nomodel");
}

/* ---- rt ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmd_rt(const char *path, double seconds, const char *clip)
{
    void (*enter)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "rt_guard_enter");
    void (*leave)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "rt_guard_leave");
    if (!enter || !leave) { fprintf(stderr, "clap_host rt: run with LD_PRELOAD=.../librt_guard.so\n"); return 1; }
    instance a;
    if (open_plugin(&a, path, "advinst.mono") != 0 || !a.p->activate(a.p, RT_RATE, 1, 4096) || !a.p->start_processing(a.p))
        return 1;
    long xn;
    float *x = live_load_clip(clip, RT_RATE, &xn);
    const long total = (long)(seconds * RT_RATE), L = a.latency->get(a.p);
    float *in = malloc(sizeof(float) * (size_t)total), *out = malloc(sizeof(float) * (size_t)total);
    for (long i = 0; i < total; i++) in[i] = x[i % xn];
    const double t0 = now_s();
    int step = 0;
    for (long f = 0; f < total; f += RT_PERIOD) {
        const double t = (double)f / RT_RATE;
        events e = {.n = 0};
        /* automation: no cap on the iterations per second, so that segments play perturbed on a busy
         * machine too (a starved worker still commits them on time) */
        if (step == 0) { set_param(&e, C_ITERATIONS, lv2_controls[C_ITERATIONS].max); set_param(&e, C_TARGET, 6); step++; }
        if (step == 1 && t >= seconds / 2) { set_param(&e, C_METHOD, 2); set_param(&e, C_ALPHA, 10); set_param(&e, C_TARGET, 4); step++; }
        if (step == 2 && t >= seconds - 3) { set_param(&e, C_ENABLED, 0); step++; }
        if (step == 3 && t >= seconds - 1.5) { set_param(&e, C_ENABLED, 1); step++; }
        run_period(&a, in + f, out + f, (uint32_t)(total - f < RT_PERIOD ? total - f : RT_PERIOD), &e, enter, leave);
        const double wait = t0 + (double)(f + RT_PERIOD) / RT_RATE - now_s();
        if (wait > 0) {
            struct timespec ts = {(time_t)wait, (long)((wait - (time_t)wait) * 1e9)};
            nanosleep(&ts, NULL);
        }
    }
    long perturbed = 0;
    int bounded = 1;
    for (long i = 0; i < total; i++) {
        bounded &= isfinite(out[i]) && fabsf(out[i]) <= 1;
        perturbed += i >= L && out[i] != in[i - L];
    }
    adv_live_config dc;
    adv_live_config_default(&dc, RT_RATE, 1);
    CHECK(L == lround(dc.latency_seconds * RT_RATE), "latency %ld at 16 kHz, expected the engine's default %g s", L,
          dc.latency_seconds);
    CHECK(bounded, "output not finite or beyond [-1, 1]");
    CHECK(perturbed > RT_RATE, "only %ld perturbed frames", perturbed);
    printf("clap_host rt: %.1f s, latency %ld, %ld perturbed frames\n", seconds, L, perturbed);
    a.p->stop_processing(a.p);
    a.p->deactivate(a.p);
    close_plugin(&a);
    void *still = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    CHECK(still != NULL, "%s was unmapped when the host closed it, under its OpenMP threads", path);
    if (still) dlclose(still);
    free(in);
    free(out);
    free(x);
    return tu_finish("clap_host rt");
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "check")) return cmd_check(argv[2], argv[3]);
    if (argc >= 4 && !strcmp(argv[1], "nomodel")) return cmd_nomodel(argv[2], argv[3]);
    if (argc >= 5 && !strcmp(argv[1], "rt")) return cmd_rt(argv[2], atof(argv[3]), argv[4]);
    fprintf(stderr, "usage: clap_host check|nomodel PLUGIN.clap CLIP | rt PLUGIN.clap SECONDS CLIP\n");
    return 2;
}
