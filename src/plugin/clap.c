/* The advinst CLAP plugins (mono and stereo): the live engine behind a thin CLAP layer, like the
 * LV2 plugin (src/plugin/lv2.c), with the CLAP headers Debian's dpf-source carries.
 *
 *   init         loads the default model (installed beside the .clap in ../../share/advinst, or
 *                $ADVINST_MODEL); a missing or invalid model is reported on stderr (these
 *                headers have no log extension) and the plugin passes audio through
 *   activate     creates the engine at the host's rate (latency extension: the engine's look-ahead);
 *                the attack runs on the engine's own thread (nice 19): the thread-pool extension
 *                is not in these headers, and would not fit anyway (clap_host_thread_pool's
 *                request_exec runs tasks inside process() and returns when they are done, while
 *                the attack works in the background across periods); no render extension either,
 *                so offline bounces faster than real time get the segments the thread finished
 *   process()    parameter events -> controls; on a change the settings go through a ring to
 *                the main thread (host->request_callback), which publishes them (publishing
 *                takes the engine's writer lock); then the engine's audio-thread call. Real-time
 *                safe: no allocation, locks, waiting or I/O (tests/clap_host.c with rt_guard)
 *   params       the input controls of src/plugin/ports.h (enabled is the bypass parameter)
 *   state        the controls as "symbol value" lines
 * No OSC server. */
#include "common.h"
#include "advinst/error.h"
#include "advinst/ring.h"
#include <clap/entry.h>
#include <clap/ext/audio-ports.h>
#include <clap/ext/latency.h>
#include <clap/ext/params.h>
#include <clap/ext/state.h>
#include <clap/plugin-factory.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ADVINST_CLAP_TO_DATA
#define ADVINST_CLAP_TO_DATA "../../share/advinst"   /* set by CMake from the install directories */
#endif
#define ID_MONO "advinst.mono"
#define ID_STEREO "advinst.stereo"

static char plugin_dir[PATH_MAX];   /* where the .clap file is (clap_entry.init) */

typedef struct {
    clap_plugin_t plugin;
    const clap_host_t *host;
    int channels;
    float ctl[ADV_LV2_N_CONTROLS];   /* the input controls' values (main thread, or audio thread when active) */
    adv_model *model;
    adv_live *engine;
    char model_path[PATH_MAX];
    adv_ring *pending;               /* settings from process() to the main thread */
    int dirty, active, processing;
    adv_live_settings settings;
} plugin;

static plugin *self(const clap_plugin_t *p) { return p->plugin_data; }

/* The input controls, in order: the parameters (id = control index). */
static int n_params(void)
{
    int n = 0;
    while (n < ADV_LV2_N_CONTROLS && !lv2_controls[n].output) n++;
    return n;
}

/* ---- settings hand-over ---- */

/* The audio thread: new control values become settings for the main thread. */
static void queue_settings(plugin *p)
{
    adv_plugin_controls_to_settings(p->ctl, &p->settings);
    p->dirty = 1;
    if (!p->pending || adv_ring_write(p->pending, &p->settings, sizeof p->settings) != 0) return;   /* full: next time */
    p->dirty = 0;
    p->host->request_callback(p->host);
}

static void on_main_thread(const clap_plugin_t *cp)
{
    plugin *p = self(cp);
    adv_live_settings s;
    int got = 0;
    while (p->pending && adv_ring_read(p->pending, &s, sizeof s) == 0) got = 1;
    if (got && p->engine) adv_live_publish(p->engine, &s);
}

/* Parameter events into the controls; 1 if any changed. */
static int take_param_events(plugin *p, const clap_input_events_t *in)
{
    int changed = 0;
    const uint32_t n = in ? in->size(in) : 0;
    for (uint32_t i = 0; i < n; i++) {
        const clap_event_header_t *h = in->get(in, i);
        if (h->space_id != CLAP_CORE_EVENT_SPACE_ID || h->type != CLAP_EVENT_PARAM_VALUE) continue;
        const clap_event_param_value_t *ev = (const clap_event_param_value_t *)h;
        if (ev->param_id >= (clap_id)n_params()) continue;
        const float v = adv_plugin_control((int)ev->param_id, (float)ev->value);
        if (v != p->ctl[ev->param_id]) changed = 1;
        p->ctl[ev->param_id] = v;
    }
    return changed;
}

/* ---- the plugin ---- */

static bool init(const clap_plugin_t *cp)
{
    plugin *p = self(cp);
    for (int k = 0; k < n_params(); k++) p->ctl[k] = adv_plugin_control_default(k);
    adv_plugin_controls_to_settings(p->ctl, &p->settings);
    p->pending = adv_ring_create(16 * sizeof(adv_live_settings));
    if (adv_plugin_default_model(plugin_dir, ADVINST_CLAP_TO_DATA, p->model_path, sizeof p->model_path) != 0)
        p->model_path[0] = '\0';
    return p->pending != NULL;
}

static void destroy(const clap_plugin_t *cp)
{
    plugin *p = self(cp);
    adv_live_free(p->engine);
    adv_model_free(p->model);
    adv_ring_free(p->pending);
    free(p);
}

static bool activate(const clap_plugin_t *cp, double rate, uint32_t min_frames, uint32_t max_frames)
{
    (void)min_frames;
    (void)max_frames;
    plugin *p = self(cp);
    adv_plugin_controls_to_settings(p->ctl, &p->settings);
    p->engine = adv_plugin_engine(p->model_path, (int)lround(rate), p->channels, &p->settings, ADV_PLUGIN_OWN_THREAD,
                                  &p->model);
    if (!p->engine) fprintf(stderr, "advinst: %s; passing audio through\n", adv_error());
    p->active = 1;
    return true;   /* without a model: pass-through */
}

static void deactivate(const clap_plugin_t *cp)
{
    plugin *p = self(cp);
    on_main_thread(cp);
    adv_live_free(p->engine);
    adv_model_free(p->model);
    p->engine = NULL;
    p->model = NULL;
    p->active = 0;
}

static bool start_processing(const clap_plugin_t *cp) { self(cp)->processing = 1; return true; }
static void stop_processing(const clap_plugin_t *cp) { self(cp)->processing = 0; }
static void reset(const clap_plugin_t *cp) { (void)cp; }

static clap_process_status process(const clap_plugin_t *cp, const clap_process_t *pr)
{
    plugin *p = self(cp);
    if (take_param_events(p, pr->in_events) || p->dirty) queue_settings(p);
    if (pr->audio_inputs_count < 1 || pr->audio_outputs_count < 1) return CLAP_PROCESS_ERROR;
    const float *in[ADV_LIVE_MAX_CHANNELS];
    float *out[ADV_LIVE_MAX_CHANNELS];
    for (int c = 0; c < p->channels; c++) {
        in[c] = pr->audio_inputs[0].data32[c];
        out[c] = pr->audio_outputs[0].data32[c];
    }
    if (!p->engine) {
        for (int c = 0; c < p->channels; c++)
            if (out[c] != in[c]) memmove(out[c], in[c], sizeof(float) * pr->frames_count);
        return CLAP_PROCESS_CONTINUE;
    }
    adv_live_process(p->engine, in, out, pr->frames_count);
    adv_live_event ev;   /* events are for the LV2 outputs and OSC; here they are dropped */
    for (int i = 0; i < 256 && adv_live_poll_event(p->engine, &ev); i++) {}
    return CLAP_PROCESS_CONTINUE;
}

/* ---- extensions ---- */

static uint32_t params_count(const clap_plugin_t *cp) { (void)cp; return (uint32_t)n_params(); }

static bool params_info(const clap_plugin_t *cp, uint32_t index, clap_param_info_t *info)
{
    (void)cp;
    if (index >= (uint32_t)n_params()) return false;
    const adv_lv2_control_desc *d = &lv2_controls[index];
    memset(info, 0, sizeof *info);
    info->id = index;
    info->flags = CLAP_PARAM_IS_AUTOMATABLE | (d->props & (P_INTEGER | P_TOGGLED) ? CLAP_PARAM_IS_STEPPED : 0) |
                  (d->props & P_ENABLED ? CLAP_PARAM_IS_BYPASS : 0);
    snprintf(info->name, sizeof info->name, "%s", d->name);
    info->min_value = d->min;
    info->max_value = d->max;
    info->default_value = adv_plugin_control_default((int)index);
    return true;
}

static bool params_value(const clap_plugin_t *cp, clap_id id, double *value)
{
    if (id >= (clap_id)n_params()) return false;
    *value = self(cp)->ctl[id];
    return true;
}

static bool params_to_text(const clap_plugin_t *cp, clap_id id, double value, char *text, uint32_t size)
{
    (void)cp;
    if (id >= (clap_id)n_params()) return false;
    const int k = (int)lround(value);
    if (id == C_TARGET) snprintf(text, size, "%s", k < ADV_N_CLASSES ? adv_class_names[k] : k == ADV_LV2_TARGET_NONE ? "none" : "random");
    else if (id == C_METHOD) snprintf(text, size, "%s", lv2_method_labels[k < 0 ? 0 : k > 2 ? 2 : k]);
    else snprintf(text, size, "%g", value);
    return true;
}

static bool params_from_text(const clap_plugin_t *cp, clap_id id, const char *text, double *value)
{
    (void)cp;
    if (id >= (clap_id)n_params()) return false;
    char *end;
    *value = strtod(text, &end);
    return end != text;
}

/* Outside process(): events applied at once (main thread; or the audio thread while active). */
static void params_flush(const clap_plugin_t *cp, const clap_input_events_t *in, const clap_output_events_t *out)
{
    (void)out;
    plugin *p = self(cp);
    if (!take_param_events(p, in)) return;
    if (p->active) queue_settings(p);
    else adv_plugin_controls_to_settings(p->ctl, &p->settings);
}

static uint32_t latency_get(const clap_plugin_t *cp)
{
    plugin *p = self(cp);
    return p->engine ? (uint32_t)adv_live_latency(p->engine) : 0;
}

static uint32_t ports_count(const clap_plugin_t *cp, bool is_input) { (void)cp; (void)is_input; return 1; }

static bool ports_get(const clap_plugin_t *cp, uint32_t index, bool is_input, clap_audio_port_info_t *info)
{
    plugin *p = self(cp);
    if (index != 0) return false;
    memset(info, 0, sizeof *info);
    info->id = 0;
    snprintf(info->name, sizeof info->name, "%s", is_input ? "In" : "Out");
    info->flags = CLAP_AUDIO_PORT_IS_MAIN;
    info->channel_count = (uint32_t)p->channels;
    info->port_type = p->channels == 2 ? CLAP_PORT_STEREO : CLAP_PORT_MONO;
    info->in_place_pair = 0;
    return true;
}

static bool state_save(const clap_plugin_t *cp, const clap_ostream_t *stream)
{
    plugin *p = self(cp);
    char text[1024];
    size_t len = 0;
    for (int k = 0; k < n_params(); k++)
        len += (size_t)snprintf(text + len, sizeof text - len, "%s %.9g\n", lv2_controls[k].symbol, p->ctl[k]);
    for (size_t done = 0; done < len;) {
        int64_t n = stream->write(stream, text + done, len - done);
        if (n <= 0) return false;
        done += (size_t)n;
    }
    return true;
}

static bool state_load(const clap_plugin_t *cp, const clap_istream_t *stream)
{
    plugin *p = self(cp);
    char text[1024];
    size_t len = 0;
    int64_t n;
    while (len < sizeof text - 1 && (n = stream->read(stream, text + len, sizeof text - 1 - len)) > 0) len += (size_t)n;
    text[len] = '\0';
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char symbol[32];
        float v;
        if (sscanf(line, "%31s %f", symbol, &v) != 2) continue;
        for (int k = 0; k < n_params(); k++)
            if (!strcmp(symbol, lv2_controls[k].symbol)) p->ctl[k] = adv_plugin_control(k, v);
    }
    adv_plugin_controls_to_settings(p->ctl, &p->settings);
    if (p->engine) adv_live_publish(p->engine, &p->settings);   /* main thread */
    return true;
}

static const void *get_extension(const clap_plugin_t *cp, const char *id)
{
    (void)cp;
    static const clap_plugin_params_t params = {params_count, params_info, params_value, params_to_text,
                                                params_from_text, params_flush};
    static const clap_plugin_latency_t latency = {latency_get};
    static const clap_plugin_audio_ports_t ports = {ports_count, ports_get};
    static const clap_plugin_state_t state = {state_save, state_load};
    if (!strcmp(id, CLAP_EXT_PARAMS)) return &params;
    if (!strcmp(id, CLAP_EXT_LATENCY)) return &latency;
    if (!strcmp(id, CLAP_EXT_AUDIO_PORTS)) return &ports;
    if (!strcmp(id, CLAP_EXT_STATE)) return &state;
    return NULL;
}

/* ---- factory and entry ---- */

static const char *features_mono[] = {CLAP_PLUGIN_FEATURE_AUDIO_EFFECT, CLAP_PLUGIN_FEATURE_ANALYZER,
                                      CLAP_PLUGIN_FEATURE_MONO, NULL};
static const char *features_stereo[] = {CLAP_PLUGIN_FEATURE_AUDIO_EFFECT, CLAP_PLUGIN_FEATURE_ANALYZER,
                                        CLAP_PLUGIN_FEATURE_STEREO, NULL};
static const clap_plugin_descriptor_t descriptors[2] = {
    {CLAP_VERSION_INIT, ID_MONO, "advinst", "advinst", "", "", "", ADVINST_VERSION,
     "Fools a music instrument classifier: a targeted C&W / Multi-Scale C&W perturbation that every listener window hears as the chosen class, fixed latency",
     features_mono},
    {CLAP_VERSION_INIT, ID_STEREO, "advinst (stereo)", "advinst", "", "", "", ADVINST_VERSION,
     "Fools a music instrument classifier (a stereo pair sharing one perturbation)", features_stereo},
};

static uint32_t factory_count(const clap_plugin_factory_t *f) { (void)f; return 2; }

static const clap_plugin_descriptor_t *factory_descriptor(const clap_plugin_factory_t *f, uint32_t index)
{
    (void)f;
    return index < 2 ? &descriptors[index] : NULL;
}

static const clap_plugin_t *factory_create(const clap_plugin_factory_t *f, const clap_host_t *host, const char *id)
{
    (void)f;
    const int stereo = !strcmp(id, ID_STEREO);
    if (!stereo && strcmp(id, ID_MONO)) return NULL;
    plugin *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->host = host;
    p->channels = stereo ? 2 : 1;
    p->plugin = (clap_plugin_t){&descriptors[stereo], p, init, destroy, activate, deactivate, start_processing,
                                stop_processing, reset, process, get_extension, on_main_thread};
    return &p->plugin;
}

static bool entry_init(const char *path)
{
    snprintf(plugin_dir, sizeof plugin_dir, "%s", path ? path : ".");
    char *slash = strrchr(plugin_dir, '/');
    if (slash) *slash = '\0';
    return true;
}

static void entry_deinit(void) {}

static const void *entry_factory(const char *id)
{
    static const clap_plugin_factory_t factory = {factory_count, factory_descriptor, factory_create};
    return !strcmp(id, CLAP_PLUGIN_FACTORY_ID) ? &factory : NULL;
}

CLAP_EXPORT const clap_plugin_entry_t clap_entry = {CLAP_VERSION_INIT, entry_init, entry_deinit, entry_factory};
