/* The advinst LV2 plugins (mono and stereo): a thin LV2 layer over the live engine
 * (include/advinst/live.h), which does all the work and knows nothing about LV2.
 *
 *   instantiate  loads the model (the installed default, $ADVINST_MODEL, or a path from state) and
 *                creates the engine; without a usable model the instance says so through the
 *                host's log and passes audio through (status port "no model"). With a host's
 *                worker (work:schedule) the attack runs on it (the engine's external worker);
 *                without one (offline hosts such as lv2apply) the engine is synchronous: run()
 *                does a fixed number of attack iterations per second of audio, deterministically.
 *   run()        control ports -> settings (handed to the host's worker, which publishes them;
 *                published directly when the host has no worker), the engine's audio-thread
 *                call, a request for the next slice of attack work when none is pending, then
 *                events -> output ports (probabilities, the last segment's status, SNR and number)
 *                and the latency. Real-time safe when the host offers a worker: no allocation,
 *                locks, waiting or I/O (tests/rt_guard.c checks it).
 *   work()       the host's worker thread: publishes settings; runs the attack for up to
 *                ADV_PLUGIN_WORK_SECONDS (adv_live_work)
 *   save/restore the settings and the model path given by state
 *
 * The streaming classifier keeps the engine's own thread. No OSC server: several instances may
 * run in one host. Port table: src/plugin/ports.h; what the LV2 and CLAP plugins share:
 * src/plugin/common.c. */
#include "common.h"
#include "advinst/error.h"
#include "advinst/live.h"
#include "advinst/model.h"
#include <lv2/atom/atom.h>
#include <lv2/core/lv2.h>
#include <lv2/log/log.h>
#include <lv2/log/logger.h>
#include <lv2/state/state.h>
#include <lv2/urid/urid.h>
#include <lv2/worker/worker.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef ADVINST_LV2_TO_DATA
#define ADVINST_LV2_TO_DATA "../../../share/advinst"   /* set by CMake from the install directories */
#endif

/* Keys of the state: PREFIX + the name of every setting of the live settings table but the preset
 * (atom:Float for number settings, atom:Int for the others: target and method as value indexes, as
 * the ports), and PREFIX + "model" when a model was given by state. */
#define MAX_SETTINGS 32

typedef struct {
    int channels;
    double rate;
    const float *in[ADV_LIVE_MAX_CHANNELS];
    float *out[ADV_LIVE_MAX_CHANNELS];
    float *ctl[ADV_LV2_N_CONTROLS];
    float *prob[2][ADV_N_CLASSES];

    LV2_URID_Map *map;
    LV2_Log_Logger logger;
    LV2_Worker_Schedule *schedule;
    LV2_URID setting_key[MAX_SETTINGS], model_key, atom_int, atom_float, atom_path;

    adv_model *model;
    adv_live *engine;
    pthread_mutex_t engine_lock;      /* work() against an engine replaced by restore() (never in run()) */
    char model_path[PATH_MAX];
    int model_from_state;

    /* the audio thread's view */
    float seen[ADV_LV2_N_CONTROLS];   /* port values last applied (NaN: never) */
    adv_live_settings settings;       /* what the ports ask for */
    int dirty;                        /* settings not yet handed to the engine */
    float probs[2][ADV_N_CLASSES], snr, status, segment;
    atomic_int work_pending;          /* a work request is queued or running (set by run(), cleared by work()) */
} plugin;

/* What run() asks the host's worker to do. */
typedef enum { REQ_SETTINGS = 1, REQ_WORK } request_kind;
typedef struct {
    request_kind kind;
    adv_live_settings settings;       /* REQ_SETTINGS */
} request;

/* ---- control ports -> settings ---- */

/* Reads the input ports; on a change, the new settings become pending. */
static void read_controls(plugin *p)
{
    float v[ADV_LV2_N_CONTROLS];
    int changed = 0;
    for (int k = 0; k < ADV_LV2_N_CONTROLS; k++) {
        if (lv2_controls[k].output) continue;
        v[k] = adv_plugin_control(k, p->ctl[k] ? *p->ctl[k] : NAN);   /* unconnected: the default */
        if (!(v[k] == p->seen[k])) changed = 1;   /* NaN (never seen) counts as a change */
        p->seen[k] = v[k];
    }
    if (!changed) return;
    adv_plugin_controls_to_settings(v, &p->settings);
    p->dirty = 1;
}

static LV2_Worker_Status ask_worker(plugin *p, const request *r)
{
    /* only the kind for a work request: the settings are not copied through the host's queue */
    const uint32_t size = r->kind == REQ_SETTINGS ? sizeof *r : sizeof r->kind;
    return p->schedule->schedule_work(p->schedule->handle, size, r);
}

/* Hands pending settings to the engine: through the host's worker (publishing takes the
 * engine's writer lock), or directly when there is none (offline hosts). */
static void hand_over(plugin *p)
{
    if (!p->dirty) return;
    if (p->schedule) {
        request r = {REQ_SETTINGS, p->settings};
        if (ask_worker(p, &r) == LV2_WORKER_SUCCESS) p->dirty = 0;   /* else: the queue is full; again next period */
        return;
    }
    adv_live_publish(p->engine, &p->settings);
    p->dirty = 0;
}

/* Asks the host's worker for the next slice of attack work unless one is pending: the worker
 * runs the attack back to back, one request at a time, and the host's queue never fills. */
static void request_work(plugin *p)
{
    if (!p->schedule || atomic_load_explicit(&p->work_pending, memory_order_acquire)) return;
    atomic_store_explicit(&p->work_pending, 1, memory_order_relaxed);
    const request r = {.kind = REQ_WORK};
    if (ask_worker(p, &r) != LV2_WORKER_SUCCESS) atomic_store_explicit(&p->work_pending, 0, memory_order_relaxed);
}

/* ---- engine events -> output ports ---- */

static void take_events(plugin *p)
{
    adv_live_event ev;
    for (int i = 0; i < 256 && adv_live_poll_event(p->engine, &ev); i++) {
        if (ev.type == ADV_LIVE_EV_PROBS) {
            memcpy(p->probs[ev.stream ? 1 : 0], ev.probs, sizeof ev.probs);
        } else {
            p->status = (float)ADV_LV2_STATUS(ev.status);
            p->snr = isfinite(ev.snr_db) ? fminf(fmaxf(ev.snr_db, 0.0f), 200.0f) : 0.0f;
            p->segment = (float)(ev.segment % (long)lv2_controls[C_SEGMENT].max);   /* exact in a float */
        }
    }
}

static void write_outputs(plugin *p, float latency)
{
    if (p->ctl[C_LATENCY]) *p->ctl[C_LATENCY] = latency;
    if (p->ctl[C_STATUS]) *p->ctl[C_STATUS] = p->status;
    if (p->ctl[C_SNR]) *p->ctl[C_SNR] = p->snr;
    if (p->ctl[C_SEGMENT]) *p->ctl[C_SEGMENT] = p->segment;
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < ADV_N_CLASSES; k++)
            if (p->prob[s][k]) *p->prob[s][k] = p->probs[s][k];
}

/* ---- LV2 ---- */

/* The data of the feature `uri` in a host's NULL-terminated list, or NULL. */
static void *feature(const LV2_Feature *const *features, const char *uri)
{
    for (int i = 0; features && features[i]; i++)
        if (!strcmp(features[i]->URI, uri)) return features[i]->data;
    return NULL;
}

static void connect_port(LV2_Handle h, uint32_t port, void *data)
{
    plugin *p = h;
    const unsigned C = (unsigned)p->channels, c0 = adv_lv2_first_control(p->channels), p0 = adv_lv2_first_prob(p->channels);
    if (port < C) p->in[port] = data;
    else if (port < 2 * C) p->out[port - C] = data;
    else if (port < p0) p->ctl[port - c0] = data;
    else if (port < adv_lv2_n_ports(p->channels)) p->prob[(port - p0) / ADV_N_CLASSES][(port - p0) % ADV_N_CLASSES] = data;
}

static void run(LV2_Handle h, uint32_t n)
{
    plugin *p = h;
    for (int c = 0; c < p->channels; c++)
        if (!p->in[c] || !p->out[c]) return;
    if (!p->engine) {   /* no model: pass-through, no latency */
        for (int c = 0; c < p->channels; c++)
            if (p->out[c] != p->in[c]) memmove(p->out[c], p->in[c], sizeof(float) * n);
        write_outputs(p, 0);
        return;
    }
    read_controls(p);
    hand_over(p);
    adv_live_process(p->engine, p->in, p->out, n);
    request_work(p);
    take_events(p);
    write_outputs(p, (float)adv_live_latency(p->engine));
}

/* Loads the model at path and creates an engine for it with settings s: 0, or -1 with the
 * reason logged (the instance keeps what it had). */
static int load_engine(plugin *p, const char *path, const adv_live_settings *s)
{
    adv_model *m = NULL;
    const adv_plugin_attack_mode mode = p->schedule ? ADV_PLUGIN_HOST_WORKER : ADV_PLUGIN_SYNCHRONOUS;
    adv_live *e = adv_plugin_engine(path, (int)lround(p->rate), p->channels, s, mode, &m);
    if (!e) {
        lv2_log_error(&p->logger, "advinst: %s; passing audio through\n", adv_error());
        return -1;
    }
    pthread_mutex_lock(&p->engine_lock);
    adv_live_free(p->engine);
    adv_model_free(p->model);
    p->engine = e;
    p->model = m;
    pthread_mutex_unlock(&p->engine_lock);
    snprintf(p->model_path, sizeof p->model_path, "%s", path);
    p->status = ADV_LV2_STATUS_NONE;
    p->segment = 0;
    lv2_log_trace(&p->logger, "advinst: model %s, latency %ld frames, attack %s\n", path, adv_live_latency(e),
                  mode == ADV_PLUGIN_HOST_WORKER ? "on the host's worker" : "synchronous (no worker)");
    return 0;
}

static LV2_Handle instantiate(const LV2_Descriptor *d, double rate, const char *bundle, const LV2_Feature *const *features)
{
    plugin *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->engine_lock, NULL);
    p->channels = strcmp(d->URI, ADV_LV2_URI_STEREO) ? 1 : 2;
    p->rate = rate;
    p->map = feature(features, LV2_URID__map);
    p->schedule = feature(features, LV2_WORKER__schedule);
    LV2_Log_Log *log = feature(features, LV2_LOG__log);
#ifdef ADVINST_LV2_TEST_PUBLISH_IN_RUN
    p->schedule = NULL;   /* a test-only build (tests/CMakeLists.txt): settings published and the attack run in run() */
#endif
    lv2_log_logger_init(&p->logger, p->map, log);   /* without log: stderr */
    if (p->map) {
        char uri[256];
        int n;
        const adv_live_setting *t = adv_live_setting_table(&n);
        if (n > MAX_SETTINGS) lv2_log_error(&p->logger, "advinst: %d settings, state keeps the first %d\n", n, MAX_SETTINGS);
        for (int k = 0; k < n && k < MAX_SETTINGS; k++) {
            snprintf(uri, sizeof uri, "%s%s", ADV_LV2_STATE_PREFIX, t[k].name);
            p->setting_key[k] = p->map->map(p->map->handle, uri);
        }
        p->model_key = p->map->map(p->map->handle, ADV_LV2_STATE_PREFIX "model");
        p->atom_int = p->map->map(p->map->handle, LV2_ATOM__Int);
        p->atom_float = p->map->map(p->map->handle, LV2_ATOM__Float);
        p->atom_path = p->map->map(p->map->handle, LV2_ATOM__Path);
    }
    for (int k = 0; k < ADV_LV2_N_CONTROLS; k++) p->seen[k] = NAN;
    (void)adv_plugin_control_default(0);   /* computes the controls' defaults outside run() */
    adv_live_settings_default(&p->settings);
    p->status = ADV_LV2_STATUS_NO_MODEL;
    char path[PATH_MAX];
    if (adv_plugin_default_model(bundle, ADVINST_LV2_TO_DATA, path, sizeof path) != 0)
        lv2_log_error(&p->logger, "advinst: model path too long; passing audio through\n");
    else
        load_engine(p, path, &p->settings);
    return p;
}

static void cleanup(LV2_Handle h)
{
    plugin *p = h;
    if (p->engine) {   /* what the engine's part of run() cost: the host's log tells real-time trouble apart */
        adv_live_stats st;
        adv_live_get_stats(p->engine, &st);
        lv2_log_note(&p->logger, "advinst: %ld periods; audio thread CPU per period: mean %.1f us, 99 %% under %.0f us, longest %.0f us\n",
                     st.periods, st.process_cpu_mean_us, st.process_cpu_p99_us, st.process_cpu_max_us);
    }
    adv_live_free(p->engine);
    adv_model_free(p->model);
    pthread_mutex_destroy(&p->engine_lock);
    free(p);
}

/* ---- worker: publishes settings (the engine's writers take a lock), runs the attack ---- */

static LV2_Worker_Status work(LV2_Handle h, LV2_Worker_Respond_Function respond, LV2_Worker_Respond_Handle rh,
                              uint32_t size, const void *data)
{
    (void)respond;
    (void)rh;
    plugin *p = h;
    request r;
    if (size < sizeof r.kind || size > sizeof r) return LV2_WORKER_ERR_UNKNOWN;
    memcpy(&r, data, size);
    LV2_Worker_Status st = LV2_WORKER_SUCCESS;
    pthread_mutex_lock(&p->engine_lock);
    if (!p->engine) st = LV2_WORKER_ERR_UNKNOWN;
    else if (r.kind == REQ_SETTINGS && size == sizeof r) adv_live_publish(p->engine, &r.settings);
    else if (r.kind == REQ_WORK) adv_plugin_work(p->engine);   /* more pending or not: run() asks again next period */
    else st = LV2_WORKER_ERR_UNKNOWN;
    pthread_mutex_unlock(&p->engine_lock);
    if (r.kind == REQ_WORK) atomic_store_explicit(&p->work_pending, 0, memory_order_release);
    return st;
}

static LV2_Worker_Status work_response(LV2_Handle h, uint32_t size, const void *data)
{
    (void)h;
    (void)size;
    (void)data;
    return LV2_WORKER_SUCCESS;
}

/* ---- state: the settings, and the model when it came from state ---- */

static LV2_State_Status save(LV2_Handle h, LV2_State_Store_Function store, LV2_State_Handle sh, uint32_t flags,
                             const LV2_Feature *const *features)
{
    (void)flags;
    plugin *p = h;
    if (!p->map) return LV2_STATE_ERR_NO_FEATURE;
    adv_live_settings s = p->settings;
    if (p->engine) adv_live_read_settings(p->engine, ADV_LIVE_READER_USER1, &s);
    const uint32_t pod = LV2_STATE_IS_POD | LV2_STATE_IS_PORTABLE;
    int n;
    const adv_live_setting *t = adv_live_setting_table(&n);
    for (int k = 0; k < n && k < MAX_SETTINGS; k++) {
        char text[64];
        double x = 0;
        if (t[k].kind == ADV_LIVE_SET_PRESET || adv_live_settings_get(&s, NULL, t[k].name, text, sizeof text, &x) != 0)
            continue;
        if (t[k].kind == ADV_LIVE_SET_FLOAT) {
            const float v = (float)x;
            store(sh, p->setting_key[k], &v, sizeof v, p->atom_float, pod);
        } else {
            const int32_t v = (int32_t)lround(x);
            store(sh, p->setting_key[k], &v, sizeof v, p->atom_int, pod);
        }
    }
    if (!p->model_from_state) return LV2_STATE_SUCCESS;
    LV2_State_Map_Path *mp = feature(features, LV2_STATE__mapPath);
    LV2_State_Free_Path *fp = feature(features, LV2_STATE__freePath);
    char *abstract = mp ? mp->abstract_path(mp->handle, p->model_path) : NULL;
    const char *path = abstract ? abstract : p->model_path;
    store(sh, p->model_key, path, strlen(path) + 1, p->atom_path, LV2_STATE_IS_POD);
    if (abstract) {
        if (fp) fp->free_path(fp->handle, abstract);
        else free(abstract);
    }
    return LV2_STATE_SUCCESS;
}

/* A stored value of the expected type and size, else NULL. */
static const void *fetch(LV2_State_Retrieve_Function retrieve, LV2_State_Handle sh, LV2_URID key, LV2_URID type,
                         size_t size)
{
    size_t got = 0;
    uint32_t t = 0, flags = 0;
    const void *v = retrieve(sh, key, &got, &t, &flags);
    return v && t == type && (size == 0 || got == size) ? v : NULL;
}

/* Loads the model named by state (made absolute through mapPath) into a new engine with settings
 * s: 1 done, 0 none stored, -1 it could not be loaded (logged; the instance keeps its engine). */
static int restore_model(plugin *p, LV2_State_Retrieve_Function retrieve, LV2_State_Handle sh,
                         const LV2_Feature *const *features, const adv_live_settings *s)
{
    const char *stored = fetch(retrieve, sh, p->model_key, p->atom_path, 0);
    if (!stored) return 0;
    LV2_State_Map_Path *mp = feature(features, LV2_STATE__mapPath);
    char *absolute = mp ? mp->absolute_path(mp->handle, stored) : NULL;
    int rc = load_engine(p, absolute ? absolute : stored, s);
    if (rc == 0) p->model_from_state = 1;
    free(absolute);
    return rc == 0 ? 1 : -1;
}

static LV2_State_Status restore(LV2_Handle h, LV2_State_Retrieve_Function retrieve, LV2_State_Handle sh, uint32_t flags,
                                const LV2_Feature *const *features)
{
    (void)flags;
    plugin *p = h;
    if (!p->map) return LV2_STATE_ERR_NO_FEATURE;
    adv_live_settings s = p->settings;
    int n;
    const adv_live_setting *t = adv_live_setting_table(&n);
    for (int k = 0; k < n && k < MAX_SETTINGS; k++) {
        if (t[k].kind == ADV_LIVE_SET_PRESET) continue;
        const int is_float = t[k].kind == ADV_LIVE_SET_FLOAT;
        const void *v = fetch(retrieve, sh, p->setting_key[k], is_float ? p->atom_float : p->atom_int, 4);
        /* the table's setter checks the value (out of range: the setting stays as it was) */
        if (v) adv_live_settings_set_number(&s, NULL, t[k].name, is_float ? (double)*(const float *)v : *(const int32_t *)v);
    }
    p->settings = s;
    p->dirty = 0;
    /* restore is not called concurrently with run(): the engine may be replaced or written here */
    if (restore_model(p, retrieve, sh, features, &s) != 1 && p->engine) adv_live_publish(p->engine, &s);
    return LV2_STATE_SUCCESS;
}

static const void *extension_data(const char *uri)
{
    static const LV2_Worker_Interface worker = {work, work_response, NULL};
    static const LV2_State_Interface state = {save, restore};
    if (!strcmp(uri, LV2_WORKER__interface)) return &worker;
    if (!strcmp(uri, LV2_STATE__interface)) return &state;
    return NULL;
}

static const LV2_Descriptor descriptors[] = {
    {ADV_LV2_URI, instantiate, connect_port, NULL, run, NULL, cleanup, extension_data},
    {ADV_LV2_URI_STEREO, instantiate, connect_port, NULL, run, NULL, cleanup, extension_data},
};

LV2_SYMBOL_EXPORT const LV2_Descriptor *lv2_descriptor(uint32_t index)
{
    return index < sizeof descriptors / sizeof descriptors[0] ? &descriptors[index] : NULL;
}
