/* A small LV2 host (lilv) for the plugin's tests: it offers urid:map, log:log and a worker
 * (work:schedule, in its own thread or synchronous), and runs one plugin from $LV2_PATH.
 *
 *   lv2_host info URI RATE              instantiate, run one period, print "latency L status S"
 *   lv2_host nomodel URI                with $ADVINST_MODEL unusable: the host's log gets an error,
 *                                       audio passes through bit for bit, latency 0, status "no
 *                                       model"; also instantiated without any feature
 *   lv2_host state URI                  state save/restore round trip between two instances, and
 *                                       every generated preset applies its values to the ports
 *   lv2_host rt URI SECONDS CLIP.wav    real-time run at 16 kHz, 64-frame periods paced by the
 *                                       clock, the worker in its own thread, control changes as a
 *                                       host's automation would make them (target, method, alpha,
 *                                       bypass); run() is marked as audio thread for rt_guard
 *                                       (tests/rt_guard.c, LD_PRELOAD) around each call. Checks
 *                                       that perturbations played, that the classifier's outputs
 *                                       arrived, and the output is finite and in [-1, 1].
 *   lv2_host unload URI                 an attack run synchronously (no worker, as lv2apply) leaves
 *                                       OpenMP threads behind; after the host frees the instance
 *                                       and its world (dlclose), the plugin's library must still be
 *                                       mapped (linked with -z nodelete), and the process alive
 *                                       while those threads run on
 *   lv2_host pad IN OUT RATE LOOP PAD   IN (mono mix, resampled to RATE), looped to LOOP seconds
 *                                       (0: once), followed by PAD seconds of silence, as float WAV
 *   lv2_host align CLEAN RENDER L N OUT writes RENDER[L, L + N) to OUT (float WAV) and prints
 *                                       "snr S first_diff F": the SNR against CLEAN[0, N), and the
 *                                       first frame where RENDER is not CLEAN delayed by L (-1:
 *                                       none)
 *   lv2_host judge CLEAN RENDER L N CLASS [MIN_HIT MIN_SNR]
 *                                       RENDER aligned by L against CLEAN over the output frames
 *                                       [L, L + N), as a listener hears it (tests/live_check.c: 3.7 s
 *                                       windows every 0.1 s, each classified on its own by the
 *                                       shipped model): prints "hit H windows W snr S first_diff F";
 *                                       with MIN_HIT and MIN_SNR, fails below them, when nothing
 *                                       was added or something came out before frame L
 * Exit code 0 when every check passes; failures are printed one per line. */
#include "testutil.h"
#include "live_check.h"
#include "advinst/attack.h"
#include "advinst/audio.h"
#include "advinst/preset.h"
#include "advinst/error.h"
#include "advinst/resample.h"
#include "advinst/ring.h"
#include "../src/plugin/ports.h"
#include <dirent.h>
#include <dlfcn.h>
#include <lilv/lilv.h>
#include <lv2/atom/atom.h>
#include <lv2/log/log.h>
#include <lv2/presets/presets.h>
#include <lv2/state/state.h>
#include <lv2/urid/urid.h>
#include <lv2/worker/worker.h>
#include <math.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PORTS 64
#define PERIOD 256
/* the real-time run: 16 kHz (the classifier's rate: cheap attacks) in 64-frame periods (4 ms) */
#define RT_RATE 16000
#define RT_PERIOD 64

/* ---- features: URID map, log, worker ---- */

static char *uris[512];
static int n_uris;
static pthread_mutex_t uri_lock = PTHREAD_MUTEX_INITIALIZER;

static LV2_URID map_uri(LV2_URID_Map_Handle h, const char *uri)
{
    (void)h;
    pthread_mutex_lock(&uri_lock);
    int i = 0;
    while (i < n_uris && strcmp(uris[i], uri)) i++;
    if (i == n_uris && n_uris < 512) uris[n_uris++] = strdup(uri);
    pthread_mutex_unlock(&uri_lock);
    return (LV2_URID)(i + 1);
}

static const char *unmap_uri(LV2_URID_Unmap_Handle h, LV2_URID id)
{
    (void)h;
    return id >= 1 && (int)id <= n_uris ? uris[id - 1] : NULL;
}

static LV2_URID_Map map = {NULL, map_uri};
static LV2_URID_Unmap unmap = {NULL, unmap_uri};
static int log_errors;
static char last_log[512];

static int log_vprintf(LV2_Log_Handle h, LV2_URID type, const char *fmt, va_list ap)
{
    (void)h;
    vsnprintf(last_log, sizeof last_log, fmt, ap);
    const char *t = unmap_uri(NULL, type);
    if (t && !strcmp(t, LV2_LOG__Error)) log_errors++;
    fprintf(stderr, "[plugin %s] %s", t && strrchr(t, '#') ? strrchr(t, '#') + 1 : "?", last_log);
    return 0;
}

static int log_printf(LV2_Log_Handle h, LV2_URID type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = log_vprintf(h, type, fmt, ap);
    va_end(ap);
    return r;
}

static LV2_Log_Log logger = {NULL, log_printf, log_vprintf};

/* The worker: requests from run() go through a ring to a thread (or are done at once when
 * synchronous); responses come back through another ring and are delivered before the next run(). */
typedef struct {
    LilvInstance *inst;
    const LV2_Worker_Interface *iface;
    int synchronous;
    adv_ring *requests, *responses;
    sem_t wake;
    atomic_int stop;
    pthread_t thread;
    char buf[8192];
} worker;

static LV2_Worker_Status respond(LV2_Worker_Respond_Handle h, uint32_t size, const void *data)
{
    worker *w = h;
    return adv_ring_write2(w->responses, &size, sizeof size, data, size) == 0 ? LV2_WORKER_SUCCESS : LV2_WORKER_ERR_NO_SPACE;
}

static LV2_Worker_Status schedule(LV2_Worker_Schedule_Handle h, uint32_t size, const void *data)
{
    worker *w = h;
    if (w->synchronous) return w->iface->work(lilv_instance_get_handle(w->inst), respond, w, size, data);
    if (size > sizeof w->buf || adv_ring_write2(w->requests, &size, sizeof size, data, size) != 0) return LV2_WORKER_ERR_NO_SPACE;
    sem_post(&w->wake);
    return LV2_WORKER_SUCCESS;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    while (!atomic_load(&w->stop)) {
        sem_wait(&w->wake);
        uint32_t size;
        while (adv_ring_read(w->requests, &size, sizeof size) == 0) {
            adv_ring_read(w->requests, w->buf, size);
            w->iface->work(lilv_instance_get_handle(w->inst), respond, w, size, w->buf);
        }
    }
    return NULL;
}

/* Delivers the worker's responses (the audio thread, before run()). */
static void deliver_responses(worker *w)
{
    uint32_t size;
    char buf[1024];
    while (adv_ring_read(w->responses, &size, sizeof size) == 0) {
        if (size > sizeof buf) { adv_ring_skip(w->responses, size); continue; }
        adv_ring_read(w->responses, buf, size);
        w->iface->work_response(lilv_instance_get_handle(w->inst), size, buf);
    }
    if (w->iface->end_run) w->iface->end_run(lilv_instance_get_handle(w->inst));
}

/* ---- a plugin instance with its ports ---- */

typedef struct {
    LilvWorld *world;
    const LilvPlugin *plugin;
    LilvInstance *inst;
    int channels;
    float ctl[MAX_PORTS];               /* control port values by port index */
    worker w;
    LV2_Worker_Schedule sched;
    LV2_Feature f_map, f_unmap, f_log, f_sched;
    const LV2_Feature *features[5];
} host;

static const LilvPlugin *find_plugin(LilvWorld *world, const char *uri)
{
    LilvNode *u = lilv_new_uri(world, uri);
    const LilvPlugin *p = lilv_plugins_get_by_uri(lilv_world_get_all_plugins(world), u);
    lilv_node_free(u);
    if (!p) fprintf(stderr, "lv2_host: plugin <%s> not found (LV2_PATH=%s)\n", uri, getenv("LV2_PATH") ? getenv("LV2_PATH") : "");
    return p;
}

/* Instantiates the plugin with every feature (with_features) or none, control ports at their
 * defaults, connected to h->ctl. */
static int host_open(host *h, LilvWorld *world, const char *uri, double rate, int with_features, int sync_worker)
{
    memset(h, 0, sizeof *h);
    h->world = world;
    if (!(h->plugin = find_plugin(world, uri))) return -1;
    h->channels = strstr(uri, "stereo") ? 2 : 1;
    const uint32_t n = lilv_plugin_get_num_ports(h->plugin);
    if (n > MAX_PORTS || n != adv_lv2_n_ports(h->channels)) {
        fprintf(stderr, "lv2_host: %u ports, expected %u\n", n, adv_lv2_n_ports(h->channels));
        return -1;
    }
    float defaults[MAX_PORTS];
    lilv_plugin_get_port_ranges_float(h->plugin, NULL, NULL, defaults);
    for (uint32_t i = 0; i < n; i++) h->ctl[i] = isnan(defaults[i]) ? 0 : defaults[i];
    h->w.synchronous = sync_worker;
    h->sched = (LV2_Worker_Schedule){&h->w, schedule};
    h->f_map = (LV2_Feature){LV2_URID__map, &map};
    h->f_unmap = (LV2_Feature){LV2_URID__unmap, &unmap};
    h->f_log = (LV2_Feature){LV2_LOG__log, &logger};
    h->f_sched = (LV2_Feature){LV2_WORKER__schedule, &h->sched};
    const LV2_Feature *all[5] = {&h->f_map, &h->f_unmap, &h->f_log, &h->f_sched, NULL};
    memcpy(h->features, all, sizeof all);
    h->inst = lilv_plugin_instantiate(h->plugin, rate, with_features ? h->features : NULL);
    if (!h->inst) { fprintf(stderr, "lv2_host: instantiation failed\n"); return -1; }
    h->w.inst = h->inst;
    h->w.iface = lilv_instance_get_extension_data(h->inst, LV2_WORKER__interface);
    h->w.requests = adv_ring_create(1 << 16);
    h->w.responses = adv_ring_create(1 << 16);
    sem_init(&h->w.wake, 0, 0);
    if (!sync_worker && with_features && h->w.iface) pthread_create(&h->w.thread, NULL, worker_main, &h->w);
    for (uint32_t i = adv_lv2_first_control(h->channels); i < n; i++) lilv_instance_connect_port(h->inst, i, &h->ctl[i]);
    return 0;
}

static void host_close(host *h)
{
    if (!h->inst) return;
    if (h->w.thread) {
        atomic_store(&h->w.stop, 1);
        sem_post(&h->w.wake);
        pthread_join(h->w.thread, NULL);
    }
    lilv_instance_free(h->inst);
    adv_ring_free(h->w.requests);
    adv_ring_free(h->w.responses);
    sem_destroy(&h->w.wake);
}

static float *port(host *h, int control) { return &h->ctl[adv_lv2_first_control(h->channels) + (unsigned)control]; }
static float *prob(host *h, int stream, int k) { return &h->ctl[adv_lv2_first_prob(h->channels) + (unsigned)(stream * ADV_N_CLASSES + k)]; }

/* One run() of n frames on in -> out (mono or stereo with the same signal). */
static void host_run(host *h, const float *in, float *out, float *out2, uint32_t n)
{
    lilv_instance_connect_port(h->inst, 0, (void *)in);
    if (h->channels == 2) {
        lilv_instance_connect_port(h->inst, 1, (void *)in);
        lilv_instance_connect_port(h->inst, 2, out);
        lilv_instance_connect_port(h->inst, 3, out2);
    } else {
        lilv_instance_connect_port(h->inst, 1, out);
    }
    lilv_instance_run(h->inst, n);
    if (h->w.iface) deliver_responses(&h->w);
}

static LilvWorld *world_new(void)
{
    LilvWorld *w = lilv_world_new();
    lilv_world_load_all(w);
    return w;
}

/* ---- info ---- */

static int cmd_info(const char *uri, double rate)
{
    LilvWorld *world = world_new();
    host h;
    if (host_open(&h, world, uri, rate, 1, 1) != 0) return 1;
    float in[64] = {0}, out[64], out2[64];
    lilv_instance_activate(h.inst);
    host_run(&h, in, out, out2, 64);
    printf("latency %.0f status %.0f\n", *port(&h, C_LATENCY), *port(&h, C_STATUS));
    lilv_instance_deactivate(h.inst);
    host_close(&h);
    lilv_world_free(world);
    return 0;
}

/* ---- unload: the plugin is never unmapped under its OpenMP threads ---- */

static int count_threads(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static int cmd_unload(const char *uri)
{
    const int before = count_threads();
    LilvWorld *world = world_new();
    host h;
    if (host_open(&h, world, uri, 16000, 0, 0) != 0) return 1;   /* no features: the attack runs in run() */
    char *lib = lilv_file_uri_parse(lilv_node_as_uri(lilv_plugin_get_library_uri(h.plugin)), NULL);
    *port(&h, C_TARGET) = 0;
    *port(&h, C_METHOD) = 1;
    lilv_instance_activate(h.inst);
    enum { N = 256 };
    float in[N], out[N], out2[N];
    long t = 0;
    for (int period = 0; period < 3 * 16000 / N; period++) {   /* 3 s of a tone */
        for (int i = 0; i < N; i++, t++) in[i] = 0.3f * sinf(2 * (float)M_PI * 440 * (float)t / 16000);
        host_run(&h, in, out, out2, N);
    }
    const int during = count_threads();
    lilv_instance_deactivate(h.inst);
    host_close(&h);
    lilv_world_free(world);   /* lilv's dlclose */
    CHECK(during > before, "the plugin left no threads behind (%d before it, %d with it): nothing to check", before, during);
    void *still = lib ? dlopen(lib, RTLD_LAZY | RTLD_NOLOAD) : NULL;
    CHECK(still != NULL, "%s was unmapped when the host closed it, under its OpenMP threads (link with -z nodelete)",
          lib ? lib : "the plugin's library");
    if (still) dlclose(still);
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);   /* the threads run on (spinning, then asleep) in code that must stay mapped */
    printf("threads: %d before the plugin, %d with it; its library %s after the host closed it\n", before, during,
           still ? "still mapped" : "unmapped");
    lilv_free(lib);
    return tu_finish("lv2_host unload");
}

/* ---- nomodel: a bad model gives a logged error and pass-through ---- */

static void pass_through_check(host *h, const char *what)
{
    uint64_t rng = 7;
    float in[1000], out[1000], out2[1000];
    int exact = 1;
    for (int period = 0; period < 20; period++) {
        const uint32_t n = 1 + (uint32_t)(adv_rng_next(&rng) % 1000);
        for (uint32_t i = 0; i < n; i++) in[i] = tu_rand_uniform(&rng, -1, 1);
        host_run(h, in, out, out2, n);
        for (uint32_t i = 0; i < n; i++) exact &= out[i] == in[i] && (h->channels == 1 || out2[i] == in[i]);
    }
    CHECK(exact, "%s: the output is not the input bit for bit", what);
    CHECK(*port(h, C_LATENCY) == 0, "%s: latency %g, expected 0", what, *port(h, C_LATENCY));
    CHECK(*port(h, C_STATUS) == ADV_LV2_STATUS_NO_MODEL, "%s: status %g, expected %d (no model)", what,
          *port(h, C_STATUS), ADV_LV2_STATUS_NO_MODEL);
}

static int cmd_nomodel(const char *uri)
{
    LilvWorld *world = world_new();
    host h;
    int errors0 = log_errors;
    CHECK(host_open(&h, world, uri, 48000, 1, 1) == 0, "instantiation with a bad model must still give an instance");
    if (!h.inst) return tu_finish("lv2_host nomodel");
    CHECK(log_errors == errors0 + 1 && strstr(last_log, "passing audio through"),
          "the host's log got %d errors, last \"%s\"", log_errors - errors0, last_log);
    lilv_instance_activate(h.inst);
    pass_through_check(&h, "with features");
    lilv_instance_deactivate(h.inst);
    host_close(&h);
    /* no features at all (no log: the message goes to stderr) */
    CHECK(host_open(&h, world, uri, 44100, 0, 1) == 0, "instantiation without features");
    if (h.inst) {
        lilv_instance_activate(h.inst);
        pass_through_check(&h, "without features");
        lilv_instance_deactivate(h.inst);
        host_close(&h);
    }
    lilv_world_free(world);
    return tu_finish("lv2_host nomodel");
}

/* ---- state and presets ---- */

static const void *get_port(const char *symbol, void *user, uint32_t *size, uint32_t *type)
{
    host *h = user;
    LilvNode *sym = lilv_new_string(h->world, symbol);
    const LilvPort *p = lilv_plugin_get_port_by_symbol(h->plugin, sym);
    lilv_node_free(sym);
    if (!p) return NULL;
    *size = sizeof(float);
    *type = map_uri(NULL, LV2_ATOM__Float);
    return &h->ctl[lilv_port_get_index(h->plugin, p)];
}

static void set_port(const char *symbol, void *user, const void *value, uint32_t size, uint32_t type)
{
    host *h = user;
    LilvNode *sym = lilv_new_string(h->world, symbol);
    const LilvPort *p = lilv_plugin_get_port_by_symbol(h->plugin, sym);
    lilv_node_free(sym);
    if (!p) return;
    float *dst = &h->ctl[lilv_port_get_index(h->plugin, p)];
    if (type == map_uri(NULL, LV2_ATOM__Float) && size == 4) *dst = *(const float *)value;
    else if (type == map_uri(NULL, LV2_ATOM__Double) && size == 8) *dst = (float)*(const double *)value;
    else if (type == map_uri(NULL, LV2_ATOM__Int) && size == 4) *dst = (float)*(const int32_t *)value;
    else if (type == map_uri(NULL, LV2_ATOM__Long) && size == 8) *dst = (float)*(const int64_t *)value;
    else fprintf(stderr, "lv2_host: port %s: value of an unknown type <%s>\n", symbol, unmap_uri(NULL, type));
}

static LilvState *snapshot(host *h)
{
    return lilv_state_new_from_instance(h->plugin, h->inst, &map, NULL, NULL, NULL, NULL, get_port, h,
                                        LV2_STATE_IS_POD | LV2_STATE_IS_PORTABLE, h->features);
}

/* Every generated preset sets exactly the values of its presets/NAME.ini on the ports. */
static void check_presets(host *h)
{
    LilvNode *pset = lilv_new_uri(h->world, LV2_PRESETS__Preset);
    LilvNodes *presets = lilv_plugin_get_related(h->plugin, pset);
    int n = 0;
    LILV_FOREACH(nodes, i, presets) {
        const LilvNode *uri = lilv_nodes_get(presets, i);
        lilv_world_load_resource(h->world, uri);
        LilvState *s = lilv_state_new_from_world(h->world, &map, uri);
        CHECK(s != NULL, "preset %s does not load", lilv_node_as_uri(uri));
        if (!s) continue;
        const char *name = strrchr(lilv_node_as_uri(uri), '/') + 1;
        adv_preset p;
        char path[1200];
        snprintf(path, sizeof path, "%s/../presets/%s.ini", TEST_SOURCE_DIR, name);
        CHECK(adv_preset_load(path, &p) == 0, "preset %s: %s", name, adv_error());
        for (int k = 0; k < ADV_LV2_N_CONTROLS; k++) *port(h, k) = -12345;
        lilv_state_restore(s, h->inst, set_port, h, 0, h->features);
        CHECK(*port(h, C_METHOD) == (p.method == ADV_MSCW ? 2 : 1), "preset %s: method %g", name, *port(h, C_METHOD));
        CHECK((float)p.alpha == *port(h, C_ALPHA) && (float)p.eps == *port(h, C_EPS) && (float)p.lr == *port(h, C_STEP) &&
                  p.max_iter == (long)*port(h, C_ITERATIONS),
              "preset %s: alpha %g eps %g step %g iterations %g", name, *port(h, C_ALPHA), *port(h, C_EPS),
              *port(h, C_STEP), *port(h, C_ITERATIONS));
        /* the keys a preset may leave out: set when present, else the port is left as it was */
        CHECK(*port(h, C_BOUND) == ((p.has & ADV_PRESET_HAS_BOUND) ? (float)p.bound_db : -12345.0f),
              "preset %s: bound %g", name, *port(h, C_BOUND));
        CHECK(*port(h, C_CONFIDENCE) == ((p.has & ADV_PRESET_HAS_CONFIDENCE) ? (float)p.confidence : -12345.0f),
              "preset %s: confidence %g", name, *port(h, C_CONFIDENCE));
        int want = !strcmp(p.target, "random") ? ADV_LV2_TARGET_RANDOM : adv_model_class_index(NULL, p.target);
        CHECK(*port(h, C_TARGET) == want, "preset %s: target %g, expected %d", name, *port(h, C_TARGET), want);
        lilv_state_free(s);
        n++;
    }
    CHECK(n == 8, "%d presets, expected the 8 C&W and MS-C&W ones of presets/", n);
    lilv_nodes_free(presets);
    lilv_node_free(pset);
}

static int cmd_state(const char *uri)
{
    LilvWorld *world = world_new();
    host a, b, c;
    if (host_open(&a, world, uri, 48000, 1, 1) != 0 || host_open(&b, world, uri, 48000, 1, 1) != 0 ||
        host_open(&c, world, uri, 48000, 1, 1) != 0)
        return 1;
    float in[256] = {0}, out[256], out2[256];
    *port(&a, C_TARGET) = 6;
    *port(&a, C_METHOD) = 2;
    *port(&a, C_ALPHA) = 10;
    *port(&a, C_EPS) = 0.02f;
    *port(&a, C_STEP) = 2e-5f;
    *port(&a, C_CONFIDENCE) = 0.3f;
    *port(&a, C_ITERATIONS) = 77;
    *port(&a, C_ENABLED) = 0;
    host_run(&a, in, out, out2, 256);   /* the ports reach the engine through the (synchronous) worker */
    host_run(&c, in, out, out2, 256);
    LilvState *sa = snapshot(&a), *sc = snapshot(&c);
    CHECK(sa && sc && !lilv_state_equals(sa, sc), "a changed instance's state equals a default one's");
    lilv_state_restore(sa, b.inst, set_port, &b, 0, b.features);
    LilvState *sb = snapshot(&b);
    CHECK(sb && lilv_state_equals(sa, sb), "state restored into a second instance differs when saved again");
    /* the restored settings are the engine's: a run with the restored ports changes nothing */
    host_run(&b, in, out, out2, 256);
    LilvState *sb2 = snapshot(&b);
    CHECK(sb2 && lilv_state_equals(sa, sb2), "state differs after a run of the restored instance");
    char *ttl = lilv_state_to_string(world, &map, &unmap, sa, "urn:advinst:test-state", NULL);
    if (getenv("LV2_HOST_VERBOSE")) printf("%s\n", ttl);
    CHECK(ttl && strstr(ttl, "#iterations") && strstr(ttl, "77"), "saved state lacks iterations 77");
    lilv_free(ttl);
    check_presets(&c);
    lilv_state_free(sa);
    lilv_state_free(sb);
    lilv_state_free(sb2);
    lilv_state_free(sc);
    host_close(&a);
    host_close(&b);
    host_close(&c);
    lilv_world_free(world);
    return tu_finish("lv2_host state");
}

/* ---- rt: a real-time run, run() marked as audio thread ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Control changes as automation makes them, at fractions of the run. No cap on the iterations per
 * second (a starved worker still commits every segment on time; the more iterations it gets, the
 * more segments carry a perturbation): this test is about what run() calls, not about attacks
 * succeeding. */
static void automate(host *h, double t, double total)
{
    *port(h, C_ITERATIONS) = lv2_controls[C_ITERATIONS].max;
    if (t >= 0.5) *port(h, C_TARGET) = 6;
    if (t >= total / 2) { *port(h, C_METHOD) = 2; *port(h, C_ALPHA) = 10; *port(h, C_TARGET) = 4; }
    *port(h, C_ENABLED) = t >= total - 3 && t < total - 1.5 ? 0 : 1;
}

static int cmd_rt(const char *uri, double seconds, const char *clip)
{
    void (*enter)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "rt_guard_enter");
    void (*leave)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "rt_guard_leave");
    if (!enter || !leave) { fprintf(stderr, "lv2_host rt: run with LD_PRELOAD=.../librt_guard.so\n"); return 1; }
    long clip_n;
    float *x = live_load_clip(clip, RT_RATE, &clip_n);
    if (!x) { fprintf(stderr, "lv2_host: %s\n", adv_error()); return 1; }
    LilvWorld *world = world_new();
    host h;
    if (host_open(&h, world, uri, RT_RATE, 1, 0) != 0) return 1;
    const long total = (long)(seconds * RT_RATE);
    float *in = malloc(sizeof(float) * (size_t)total), *out = malloc(sizeof(float) * (size_t)total),
          *out2 = malloc(sizeof(float) * (size_t)total);
    for (long i = 0; i < total; i++) in[i] = x[i % clip_n];
    int played = 0, status_seen[ADV_LV2_STATUS_NO_MODEL + 1] = {0};
    lilv_instance_activate(h.inst);
    const double t0 = now_s();
    for (long f = 0; f < total; f += RT_PERIOD) {
        const uint32_t n = (uint32_t)(total - f < RT_PERIOD ? total - f : RT_PERIOD);
        automate(&h, (double)f / RT_RATE, seconds);
        enter();
        host_run(&h, in + f, out + f, out2 + f, n);
        leave();
        const int st = (int)*port(&h, C_STATUS);
        if (st >= 0 && st <= ADV_LV2_STATUS_NO_MODEL && !status_seen[st])
            printf("lv2_host rt: %.2f s: status %s\n", (double)f / RT_RATE, lv2_status_labels[st]);
        if (st >= 0 && st <= ADV_LV2_STATUS_NO_MODEL) status_seen[st] = 1;
        played |= st == ADV_LV2_STATUS(ADV_LIVE_SEG_OK) || st == ADV_LV2_STATUS(ADV_LIVE_SEG_FAILED);
        /* pace like a sound card: the next period is due at its time */
        const double due = t0 + (double)(f + n) / RT_RATE, wait = due - now_s();
        if (wait > 0) {
            struct timespec ts = {(time_t)wait, (long)((wait - (time_t)wait) * 1e9)};
            nanosleep(&ts, NULL);
        }
    }
    lilv_instance_deactivate(h.inst);
    const long L = lround(*port(&h, C_LATENCY));
    adv_live_config dc;
    adv_live_config_default(&dc, RT_RATE, 1);
    CHECK(L == lround(dc.latency_seconds * RT_RATE), "latency %ld frames at 16 kHz, expected the engine's default %g s", L,
          dc.latency_seconds);
    CHECK(played, "no perturbed segment was played (statuses seen: ok %d, failed %d, missed %d)", status_seen[1],
          status_seen[2], status_seen[3]);
    double sum[2] = {0, 0};
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < ADV_N_CLASSES; k++) sum[s] += *prob(&h, s, k);
    CHECK(fabs(sum[0] - 1) < 1e-3 && fabs(sum[1] - 1) < 1e-3, "probabilities sum to %g (in) and %g (out)", sum[0], sum[1]);
    long perturbed = 0;
    int bounded = 1;
    for (long i = 0; i < total; i++) {
        bounded &= isfinite(out[i]) && fabsf(out[i]) <= 1 && (h.channels == 1 || out2[i] == out[i]);
        perturbed += i >= L && out[i] != in[i - L];
    }
    CHECK(bounded, "output not finite, beyond [-1, 1], or the channels differ");
    CHECK(perturbed > RT_RATE, "only %ld perturbed frames", perturbed);
    printf("lv2_host rt: %.1f s, latency %ld, %ld perturbed frames, statuses ok %d failed %d missed %d\n", seconds, L,
           perturbed, status_seen[1], status_seen[2], status_seen[3]);
    host_close(&h);
    lilv_world_free(world);
    free(in);
    free(out);
    free(out2);
    free(x);
    return tu_finish("lv2_host rt");
}

/* ---- pad and align (the lv2apply render test) ---- */

static int cmd_pad(const char *in_path, const char *out_path, int rate, double loop, double pad)
{
    long n;
    float *x = live_load_clip(in_path, rate, &n);
    const long looped = x && loop > 0 ? lround(loop * rate) : n;
    adv_audio b;
    if (!x || adv_audio_alloc(&b, looped + lround(pad * rate), 1, rate, 0) != 0) {
        fprintf(stderr, "lv2_host pad: %s\n", adv_error());
        free(x);
        return 1;
    }
    for (long i = 0; i < looped; i++) b.samples[i] = x[i % n];
    int rc = adv_audio_write(out_path, &b);
    if (rc != 0) fprintf(stderr, "lv2_host pad: %s\n", adv_error());
    free(x);
    adv_audio_free(&b);
    return rc ? 1 : 0;
}

static int cmd_align(const char *clean_path, const char *render_path, long L, long N, const char *out_path)
{
    adv_audio c, r, seg;
    if (adv_audio_read(clean_path, &c) != 0 || adv_audio_read(render_path, &r) != 0) {
        fprintf(stderr, "lv2_host align: %s\n", adv_error());
        return 1;
    }
    if (c.channels != 1 || r.channels != 1 || r.frames < L + N || c.frames < N) {
        fprintf(stderr, "lv2_host align: need mono files, the render at least %ld frames (has %ld)\n", L + N, r.frames);
        return 1;
    }
    long first = -1;
    for (long k = 0; k < L && first < 0; k++)
        if (r.samples[k] != 0) first = k;
    for (long k = L; k < r.frames && first < 0; k++)
        if (r.samples[k] != c.samples[k - L]) first = k;
    if (adv_audio_alloc(&seg, N, 1, r.rate, 0) != 0) return 1;
    memcpy(seg.samples, r.samples + L, sizeof(float) * (size_t)N);
    int rc = adv_audio_write(out_path, &seg);
    printf("snr %.2f first_diff %ld\n", adv_snr_db(c.samples, seg.samples, N), first);
    adv_audio_free(&c);
    adv_audio_free(&r);
    adv_audio_free(&seg);
    return rc ? 1 : 0;
}

static int cmd_judge(const char *clean_path, const char *render_path, long L, long N, const char *cls, double min_hit,
                     double min_snr, int check)
{
    adv_audio c, r;
    if (adv_audio_read(clean_path, &c) != 0 || adv_audio_read(render_path, &r) != 0) {
        fprintf(stderr, "lv2_host judge: %s\n", adv_error());
        return 1;
    }
    const char *model_path = adv_default_model_path();
    adv_model *m = model_path ? adv_model_load(model_path) : NULL;
    if (!m) {
        fprintf(stderr, "lv2_host judge: the shipped model is needed: %s\n", model_path ? adv_error() : "not found");
        return 1;
    }
    const int target = adv_model_class_index(m, cls);
    CHECK(target >= 0, "no class %s", cls);
    CHECK(c.channels == 1 && r.channels == 1 && r.frames >= L + N && c.frames >= N,
          "need mono files, the render at least %ld frames (has %ld)", L + N, r.frames);
    if (target < 0 || tu_failures > 0) return tu_finish("lv2_host judge");
    live_recording rec = {.rec = r.samples, .sig = c.samples, .n = r.frames, .sig_len = c.frames, .L = L};
    long first = -1;
    for (long k = 0; k < L && first < 0; k++)
        if (r.samples[k] != 0) first = k;
    if (first < 0) first = live_first_perturbed(&rec);
    long windows = 0;
    const double hit = live_hit_rate(&rec, m, r.rate, L, L + N, target, &windows), snr = live_snr_db(&rec, L, L + N);
    printf("hit %.3f windows %ld snr %.2f first_diff %ld\n", hit, windows, snr, first);
    if (check) {
        CHECK(first >= 0, "nothing was added");
        CHECK(first < 0 || first >= L, "output before the latency (first difference at frame %ld, latency %ld)", first, L);
        CHECK(windows >= 40, "only %ld windows judged", windows);
        CHECK(hit >= min_hit, "%.1f %% of the windows heard as %s (at least %.0f %% wanted)", 100 * hit, m->classes[target],
              100 * min_hit);
        CHECK(snr >= min_snr, "SNR %.2f dB (at least %.0f dB wanted)", snr, min_snr);
    }
    adv_model_free(m);
    adv_audio_free(&c);
    adv_audio_free(&r);
    return tu_finish("lv2_host judge");
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "info")) return cmd_info(argv[2], atof(argv[3]));
    if (argc >= 3 && !strcmp(argv[1], "nomodel")) return cmd_nomodel(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "state")) return cmd_state(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "unload")) return cmd_unload(argv[2]);
    if (argc >= 5 && !strcmp(argv[1], "rt")) return cmd_rt(argv[2], atof(argv[3]), argv[4]);
    if (argc >= 7 && !strcmp(argv[1], "pad")) return cmd_pad(argv[2], argv[3], atoi(argv[4]), atof(argv[5]), atof(argv[6]));
    if (argc >= 7 && !strcmp(argv[1], "align")) return cmd_align(argv[2], argv[3], atol(argv[4]), atol(argv[5]), argv[6]);
    if (argc >= 7 && !strcmp(argv[1], "judge"))
        return cmd_judge(argv[2], argv[3], atol(argv[4]), atol(argv[5]), argv[6], argc >= 9 ? atof(argv[7]) : 0,
                         argc >= 9 ? atof(argv[8]) : 0, argc >= 9);
    fprintf(stderr, "usage: lv2_host info|nomodel|state|unload|rt|pad|align|judge ... (see tests/lv2_host.c)\n");
    return 2;
}
