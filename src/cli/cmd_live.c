/* advinst live: the JACK client that classifies a stream and, on request over OSC, perturbs it
 * toward a target class (see include/advinst/live.h, include/advinst/osc.h, docs/live.md). */
#include "cli.h"
#include "advinst/audio.h"
#include "advinst/error.h"
#include "advinst/live.h"
#include "advinst/osc.h"
#include "advinst/resample.h"
#include "advinst/view.h"
#include <arpa/inet.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <sndfile.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { (void)sig; interrupted = 1; }

/* The settings part of --help, from the settings table (live.h) with the defaults. */
static void help_settings(void)
{
    int n;
    const adv_live_setting *t = adv_live_setting_table(&n);
    adv_live_settings d;
    adv_live_settings_default(&d);
    for (int i = 0; i < n; i++) {
        char opt[40], value[64], range[48];
        snprintf(opt, sizeof opt, "--%s%s%s", t[i].name, t[i].metavar ? " " : "", t[i].metavar ? t[i].metavar : "");
        const char *shrt = !strcmp(t[i].name, "target") ? "-t, " : !strcmp(t[i].name, "preset") ? "-p, " : "    ";
        printf("  %s%-21s%s", shrt, opt, t[i].description);
        if (t[i].kind == ADV_LIVE_SET_FLOAT || t[i].kind == ADV_LIVE_SET_INT)
            printf(", %s", adv_live_setting_range_text(&t[i], range, sizeof range));
        if (t[i].kind == ADV_LIVE_SET_BOOL) printf(" (this flag: start bypassed)");
        else if (t[i].kind != ADV_LIVE_SET_PRESET && adv_live_settings_get(&d, NULL, t[i].name, value, sizeof value, NULL) == 0)
            printf(" (default %s)", value);
        printf("\n");
    }
}

static void help(void)
{
    printf("usage: advinst live [OPTIONS]\n\n"
           "A JACK client that classifies the instrument on its input and, when told over OSC\n"
           "which class the classifier should hear instead, adds a targeted C&W / Multi-Scale C&W\n"
           "perturbation to its output, optimised so that a listener's classifier hears the\n"
           "target in every window. The output is the input delayed by a fixed latency (the\n"
           "look-ahead the attack optimises in), reported to JACK.\n\n"
           "model:\n"
           "  -m, --model FILE         model (safetensors); default: the shipped model\n"
           "      --random-model SEED  an untrained model (for trying the plumbing)\n"
           "JACK:\n"
           "  -s, --server NAME        JACK server name (default: $JACK_DEFAULT_SERVER or default)\n"
           "  -n, --name NAME          client name (default advinst)\n"
           "  -c, --channels 1|2       mono (in, out) or a stereo pair (in_1, in_2, out_1, out_2)\n"
           "      --connect-in PORTS   comma-separated ports to connect to our inputs\n"
           "      --connect-out PORTS  comma-separated ports to connect our outputs to\n"
           "      --reconnect          when the server goes away, retry every second\n"
           "attack (initial settings, applied after the preset; OSC and the web view change them;\n"
           "--preset also takes a file path here):\n");
    help_settings();
    printf("timing:\n"
           "  -l, --latency S          added latency, the attack's look-ahead (default 2.0; longer\n"
           "                           is stronger, see docs/live.md)\n"
           "      --segment-seconds S  commit and report unit (default 0.2)\n"
           "      --batch N            listener windows per iteration, run in parallel (default 2)\n"
           "      --synchronous N      run the attack inside the audio callback, N iterations per\n"
           "                           second of audio: deterministic, for offline or freewheeling\n"
           "                           use; not real-time safe\n"
           "      --window-seconds S   classifier window (default 3.7 = 116 frames at 16 kHz)\n"
           "      --classify-hz F      classifications per second of input and output (default 10)\n"
           "      --ramp-ms F          fade where the perturbation starts or stops (default 10)\n"
           "      --threads N          attack threads (default: processors)\n"
           "OSC:\n"
           "      --osc-port N         UDP port (default 9000; 0: any free port)\n"
           "      --osc-feedback H:P   send feedback to host H, port P from the start\n"
           "      --list-osc           print the OSC addresses and exit\n"
           "web view and OSCQuery (off by default):\n"
           "      --http PORT          serve the live view (http://ADDR:PORT/view) and OSCQuery on TCP PORT\n"
           "      --http-bind ADDR     the IPv4 address to serve on (default 127.0.0.1: this machine only)\n"
           "files (both run on JACK's clock):\n"
           "  -i, --input-file FILE    feed this file to the engine instead of the input ports\n"
           "                           (resampled to the server's rate)\n"
           "      --loop               loop the input file\n"
           "  -r, --record FILE        record the output (WAV float)\n"
           "  -d, --duration S         stop after S seconds (default: with a non-looped input\n"
           "                           file, once it has come out completely)\n"
           "  -q, --quiet              no per-second prediction lines\n"
           "  -v, --verbose            a line per perturbation segment\n"
           "  -h, --help               this help\n\n"
           "exit: 0 on SIGINT/SIGTERM or the end, 2 usage, 3 bad model/preset/input, 4 cannot\n"
           "record, 5 JACK server unavailable or lost (without --reconnect).\n");
}

enum {
    OPT_RANDOM_MODEL = 256, OPT_CONNECT_IN, OPT_CONNECT_OUT, OPT_RECONNECT, OPT_SEGMENT, OPT_BATCH, OPT_SYNC, OPT_WINDOW,
    OPT_HZ, OPT_RAMP, OPT_THREADS, OPT_OSC_PORT, OPT_OSC_FEEDBACK, OPT_LIST_OSC, OPT_LOOP, OPT_HTTP, OPT_HTTP_BIND,
    OPT_SETTING = 512            /* + index in the settings table */
};
#define MAX_SETTING_OPTS 64

/* The options: the fixed ones, then one per setting of the table (--target, --step, ...). */
static void build_options(struct option *o, int max)
{
    static const struct option fixed[] = {
        {"model", required_argument, 0, 'm'}, {"random-model", required_argument, 0, OPT_RANDOM_MODEL},
        {"server", required_argument, 0, 's'}, {"name", required_argument, 0, 'n'},
        {"channels", required_argument, 0, 'c'}, {"connect-in", required_argument, 0, OPT_CONNECT_IN},
        {"connect-out", required_argument, 0, OPT_CONNECT_OUT}, {"reconnect", no_argument, 0, OPT_RECONNECT},
        {"latency", required_argument, 0, 'l'}, {"segment-seconds", required_argument, 0, OPT_SEGMENT},
        {"batch", required_argument, 0, OPT_BATCH}, {"synchronous", required_argument, 0, OPT_SYNC},
        {"window-seconds", required_argument, 0, OPT_WINDOW},
        {"classify-hz", required_argument, 0, OPT_HZ}, {"ramp-ms", required_argument, 0, OPT_RAMP},
        {"threads", required_argument, 0, OPT_THREADS}, {"osc-port", required_argument, 0, OPT_OSC_PORT},
        {"osc-feedback", required_argument, 0, OPT_OSC_FEEDBACK}, {"list-osc", no_argument, 0, OPT_LIST_OSC},
        {"input-file", required_argument, 0, 'i'}, {"loop", no_argument, 0, OPT_LOOP},
        {"http", required_argument, 0, OPT_HTTP}, {"http-bind", required_argument, 0, OPT_HTTP_BIND},
        {"record", required_argument, 0, 'r'}, {"duration", required_argument, 0, 'd'},
        {"quiet", no_argument, 0, 'q'}, {"verbose", no_argument, 0, 'v'}, {"help", no_argument, 0, 'h'}};
    int n = 0, count;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0] && n < max - 1; i++) o[n++] = fixed[i];
    const adv_live_setting *t = adv_live_setting_table(&count);
    for (int i = 0; i < count && n < max - 1; i++)
        o[n++] = (struct option){t[i].name, t[i].metavar ? required_argument : no_argument, 0, OPT_SETTING + i};
    o[n] = (struct option){0, 0, 0, 0};
}

/* A setting option seen on the command line, applied (in order, after the preset) once the model
 * is loaded. */
typedef struct {
    const char *name, *value;
} setting_opt;

/* The input file at the server's rate with `channels` channels (mono mix or duplicated). */
static float *load_input(const char *path, int rate, int channels, long *frames)
{
    adv_audio a;
    if (adv_audio_read(path, &a) != 0) return NULL;
    cli_warn_truncated("live", path, &a);
    float *mono = malloc(sizeof(float) * (size_t)a.frames);
    if (!mono) { adv_audio_free(&a); adv_fail("out of memory"); return NULL; }
    int C = a.channels;
    /* keep a stereo file's channels for a stereo client, else mix to mono */
    int keep = channels == 2 && C == 2;
    long n = a.frames;
    long out_n = n;
    adv_resampler *rs = NULL;
    if (a.rate != rate) {
        rs = adv_resampler_create(a.rate, rate, n);
        if (!rs) { free(mono); adv_audio_free(&a); return NULL; }
        out_n = adv_resampler_output_length(rs);
    }
    float *out = malloc(sizeof(float) * (size_t)out_n * channels);
    float *tmp = malloc(sizeof(float) * (size_t)out_n);
    if (!out || !tmp) { adv_fail("out of memory"); free(out); free(tmp); free(mono); adv_resampler_free(rs); adv_audio_free(&a); return NULL; }
    for (int c = 0; c < channels; c++) {
        if (keep) for (long i = 0; i < n; i++) mono[i] = a.samples[(size_t)i * C + c];
        else if (c == 0) adv_audio_mix_mono(&a, mono);
        if (rs) adv_resampler_forward(rs, mono, tmp);
        else memcpy(tmp, mono, sizeof(float) * (size_t)n);
        for (long i = 0; i < out_n; i++) out[(size_t)i * channels + c] = tmp[i];
    }
    free(tmp);
    free(mono);
    adv_resampler_free(rs);
    adv_audio_free(&a);
    *frames = out_n;
    return out;
}

/* --record: the output stream written as it comes, atomically (the file appears at the end). A
 * write failure (disk full) is reported at once, drops the recording and keeps the session. */
typedef struct {
    adv_audio_writer *w;
    float *buf;
    long frames;
    int failed;
} recorder;

static int recorder_open(recorder *r, const char *path, int rate, int channels)
{
    r->buf = malloc(sizeof(float) * 8192 * channels);
    if (!r->buf) return adv_fail("out of memory");
    r->w = adv_audio_writer_open(path, rate, channels, SF_FORMAT_WAV | SF_FORMAT_FLOAT, ADV_OUTFILE_REPLACE);
    return r->w ? 0 : -1;
}

static void recorder_drain(recorder *r, adv_jack *j)
{
    if (!r->buf) return;
    long n;
    while ((n = adv_jack_read_record(j, r->buf, 8192)) > 0) {
        if (r->failed) continue;   /* keep the ring buffer flowing */
        if (adv_audio_writer_write(r->w, r->buf, n) != 0) {
            cli_error("live", ADV_EXIT_OUTPUT, "%s (recording dropped)", adv_error());
            adv_audio_writer_abort(r->w);
            r->w = NULL;
            r->failed = 1;
            continue;
        }
        r->frames += n;
    }
}

/* Completes the recording: ADV_EXIT_OK, or ADV_EXIT_OUTPUT (reported) if it failed. */
static int recorder_close(recorder *r)
{
    free(r->buf);
    r->buf = NULL;
    if (r->failed) return ADV_EXIT_OUTPUT;
    if (!r->w) return ADV_EXIT_OK;
    int rc = adv_audio_writer_commit(r->w);
    r->w = NULL;
    return rc == 0 ? ADV_EXIT_OK : cli_error("live", ADV_EXIT_OUTPUT, "%s", adv_error());
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* seconds: the engine's time (input frames processed / rate) when the settings were taken, < 0 if
 * it is not running */
static void print_settings(const adv_model *m, const adv_live_settings *s, double seconds)
{
    printf("settings %lu", (unsigned long)s->version);
    if (seconds >= 0) printf(" at %.3f s", seconds);
    int n;
    const adv_live_setting *t = adv_live_setting_table(&n);
    const char *sep = ": ";
    for (int i = 0; i < n; i++) {   /* every setting of the table but the preset, then the preset if any */
        if (t[i].kind == ADV_LIVE_SET_PRESET) continue;
        char text[128];
        double v;
        adv_live_settings_get(s, m, t[i].name, text, sizeof text, &v);
        printf("%s%s %s", sep, t[i].name, text);
        sep = ", ";
    }
    printf("%s%s\n", s->preset[0] ? ", preset " : "", s->preset);
    fflush(stdout);
}

/* 1 if this process may lock any amount of memory: CAP_IPC_LOCK or an unlimited RLIMIT_MEMLOCK. */
static int may_lock_everything(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur == RLIM_INFINITY) return 1;
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long caps = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "CapEff: %llx", &caps) == 1) break;
    if (f) fclose(f);
    return (caps >> 14) & 1;   /* CAP_IPC_LOCK */
}

/* Keeps every page the process touches in RAM (as JACK applications do), so the audio thread never
 * waits for code or data to come back from disk. MCL_ONFAULT locks pages as they are touched,
 * without populating reserved memory (thread stacks, heap arenas). Only when the lock limit cannot
 * make later allocations fail; otherwise the real-time buffers alone are locked (adv_rt_alloc).
 * Returns 1 if locked. */
static int lock_memory(void)
{
    return may_lock_everything() && mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) == 0;
}

/* The settings changed (OSC or the page): say so, and tell the page. */
static void settings_changed(const adv_model *m, adv_osc *osc, adv_view *view, double seconds)
{
    print_settings(m, adv_osc_settings(osc), seconds);
    if (view) adv_view_push_state(view, adv_osc_settings(osc));
}

/* OSC messages, then the page's controls through the same setter as OSC; at most timeout_ms. */
static void control(const adv_model *m, adv_osc *osc, adv_view *view, int timeout_ms, double seconds)
{
    int changed = adv_osc_poll(osc, timeout_ms) > 0;
    char name[32], value[128];
    while (view && adv_view_poll_request(view, name, sizeof name, value, sizeof value)) {
        adv_live_settings next = *adv_osc_settings(osc);
        if (adv_live_settings_set(&next, m, name, value) == 0) {
            adv_osc_set_settings(osc, &next);
            changed = 1;
        } else {
            adv_view_push_error(view, adv_error());
        }
    }
    if (changed) settings_changed(m, osc, view, seconds);
}

/* What the attack did since the last per-second line. */
typedef struct {
    long segments, ok, miss, windows, hits, iterations;
    double snr_db_sum;       /* segment SNRs averaged in dB */
    int snr_count, target;
} segment_summary;

static void summary_add(segment_summary *s, const adv_live_event *ev)
{
    s->segments++;
    s->ok += ev->status == ADV_LIVE_SEG_OK;
    s->miss += ev->status == ADV_LIVE_SEG_MISS;
    s->windows += ev->windows;
    s->hits += ev->hits;
    s->iterations += ev->iterations;
    s->target = ev->target;
    if (isfinite(ev->snr_db)) {
        s->snr_db_sum += ev->snr_db;
        s->snr_count++;
    }
}

/* Ends the per-second line: " | attack TARGET: ..." if segments were reported. */
static void summary_print(segment_summary *s, const adv_model *m)
{
    if (s->segments) {
        printf("  | attack %s: %ld/%ld segments ok, %ld/%ld windows on target", adv_live_target_name(m, s->target), s->ok,
               s->segments, s->hits, s->windows);
        if (s->miss) printf(", %ld missed", s->miss);
        if (s->snr_count) printf(", SNR %.1f dB", s->snr_db_sum / s->snr_count);
        printf(", %ld iterations", s->iterations / s->segments);
    }
    printf("\n");
    memset(s, 0, sizeof *s);
}

static void print_segment(const adv_model *m, const adv_live_event *ev, int rate)
{
    printf("segment %ld (%.2f s): %s, target %s, %d/%d windows on target", ev->segment, (double)ev->frame / rate,
           adv_live_segment_status_name(ev->status), adv_live_target_name(m, ev->target), ev->hits, ev->windows);
    if (ev->after_class >= 0) printf(", heard %s %.2f", m->classes[ev->after_class], ev->after_confidence);
    if (isfinite(ev->snr_db)) printf(", SNR %.1f dB", ev->snr_db);
    printf(", %ld iterations%s%s\n", ev->iterations, ev->message[0] ? ": " : "", ev->message);
    fflush(stdout);
}

int cmd_live(int argc, char **argv)
{
    struct option options[64];
    build_options(options, 64);
    const char *model_path = NULL, *server = NULL, *name = "advinst", *connect_in = NULL, *connect_out = NULL;
    const char *preset = NULL, *osc_port = "9000", *feedback = NULL;
    const char *input_path = NULL, *record_path = NULL, *http_bind = "127.0.0.1";
    int http_port = -1;
    double duration = 0, v;
    long random_seed = -1, lv;
    int channels = 1, reconnect = 0, loop = 0, quiet = 0, verbose = 0, opt, n_set = 0, n_table;
    setting_opt set[MAX_SETTING_OPTS];
    const adv_live_setting *table = adv_live_setting_table(&n_table);
    adv_live_config cfg;
    adv_live_config_default(&cfg, 48000, 1);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "m:s:n:c:p:t:l:i:r:d:qvh", options, NULL)) != -1) {
        switch (opt) {
        case 'm': model_path = optarg; break;
        case OPT_RANDOM_MODEL:
            if (cli_parse_long(optarg, &random_seed) != 0 || random_seed < 0)
                return cli_error("live", ADV_EXIT_USAGE, "--random-model takes a seed >= 0");
            break;
        case 's': server = optarg; break;
        case 'n': name = optarg; break;
        case 'c':
            if (cli_parse_long(optarg, &lv) != 0 || lv < 1 || lv > 2)
                return cli_error("live", ADV_EXIT_USAGE, "--channels must be 1 or 2");
            channels = (int)lv;
            break;
        case OPT_CONNECT_IN: connect_in = optarg; break;
        case OPT_CONNECT_OUT: connect_out = optarg; break;
        case OPT_RECONNECT: reconnect = 1; break;
        case 'l':
        case OPT_SEGMENT:
        case OPT_WINDOW:
        case OPT_HZ:
        case OPT_RAMP:
            if (cli_parse_float(optarg, &v) != 0 || v < 0)
                return cli_error("live", ADV_EXIT_USAGE, "'%s' is not a valid number for %s", optarg, argv[optind - 1]);
            if (opt == 'l') cfg.latency_seconds = v;
            else if (opt == OPT_SEGMENT) cfg.segment_seconds = v;
            else if (opt == OPT_WINDOW) cfg.window_seconds = v;
            else if (opt == OPT_HZ) cfg.classify_hz = v;
            else cfg.ramp_ms = v;
            break;
        case OPT_BATCH:
            if (cli_parse_long(optarg, &lv) != 0 || lv < 1 || lv > 16)
                return cli_error("live", ADV_EXIT_USAGE, "--batch must be in 1..16");
            cfg.batch = (int)lv;
            break;
        case OPT_SYNC:
            if (cli_parse_float(optarg, &v) != 0 || !(v > 0 && v <= 1e5))
                return cli_error("live", ADV_EXIT_USAGE, "--synchronous takes iterations per second in (0, 100000]");
            cfg.synchronous = 1;
            cfg.sync_iterations = v;
            break;
        case OPT_THREADS:
            if (cli_parse_long(optarg, &lv) != 0 || lv < 1 || lv > 256)
                return cli_error("live", ADV_EXIT_USAGE, "--threads must be in 1..256");
            cfg.attack_threads = (int)lv;
            break;
        case OPT_OSC_PORT:
            if (cli_parse_long(optarg, &lv) != 0 || lv < 0 || lv > 65535)
                return cli_error("live", ADV_EXIT_USAGE, "--osc-port must be in 0..65535");
            osc_port = optarg;
            break;
        case OPT_OSC_FEEDBACK: feedback = optarg; break;
        case OPT_HTTP:
            if (cli_parse_long(optarg, &lv) != 0 || lv < 0 || lv > 65535)
                return cli_error("live", ADV_EXIT_USAGE, "--http must be a TCP port in 0..65535 (0: any free port)");
            http_port = (int)lv;
            break;
        case OPT_HTTP_BIND: {
            struct in_addr a;
            if (inet_pton(AF_INET, optarg, &a) != 1)
                return cli_error("live", ADV_EXIT_USAGE, "--http-bind takes an IPv4 address (e.g. 0.0.0.0 for every interface)");
            http_bind = optarg;
            break;
        }
        case OPT_LIST_OSC: adv_osc_print_addresses(stdout); return ADV_EXIT_OK;
        case 'i': input_path = optarg; break;
        case OPT_LOOP: loop = 1; break;
        case 'r': record_path = optarg; break;
        case 'd':
            if (cli_parse_float(optarg, &duration) != 0 || duration <= 0)
                return cli_error("live", ADV_EXIT_USAGE, "--duration must be > 0 seconds");
            break;
        case 'q': quiet = 1; break;
        case 'v': verbose = 1; break;
        case 'h': help(); return ADV_EXIT_OK;
        case 'p': opt = OPT_SETTING + (int)(adv_live_setting_find("preset") - table); goto setting;
        case 't': opt = OPT_SETTING + (int)(adv_live_setting_find("target") - table); goto setting;
        default:
            if (opt < OPT_SETTING || opt >= OPT_SETTING + n_table) return cli_bad_option("live", argv);
        setting: {
            const adv_live_setting *d = &table[opt - OPT_SETTING];
            const char *value = d->metavar ? optarg : "1";   /* a flag (--bypass) sets 1 */
            if (d->kind == ADV_LIVE_SET_PRESET) { preset = value; break; }   /* first, and it may be a path */
            /* checked now where the model is not needed, so a typo fails before anything loads */
            adv_live_settings scratch;
            adv_live_settings_default(&scratch);
            if (d->kind != ADV_LIVE_SET_TARGET && adv_live_settings_set(&scratch, NULL, d->name, value) != 0)
                return cli_error("live", ADV_EXIT_USAGE, "--%s", adv_error());
            if (n_set == MAX_SETTING_OPTS) return cli_error("live", ADV_EXIT_USAGE, "too many setting options");
            set[n_set++] = (setting_opt){d->name, value};
            break;
        }
        }
    }
    if (optind < argc) return cli_error("live", ADV_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
    char fb_host[256] = "", fb_port[16] = "";
    if (feedback) {
        const char *colon = strrchr(feedback, ':');
        if (!colon || colon == feedback || (size_t)(colon - feedback) >= sizeof fb_host || cli_parse_long(colon + 1, &lv) != 0 ||
            lv < 1 || lv > 65535)
            return cli_error("live", ADV_EXIT_USAGE, "--osc-feedback takes HOST:PORT");
        memcpy(fb_host, feedback, (size_t)(colon - feedback));
        snprintf(fb_port, sizeof fb_port, "%ld", lv);
    }

    /* the model */
    adv_model *m = NULL;
    if (random_seed >= 0) {
        m = adv_live_random_model((uint64_t)random_seed);
        if (!m) return cli_error("live", ADV_EXIT_FAILURE, "%s", adv_error());
    } else {
        if (!model_path) model_path = adv_default_model_path();
        if (!model_path)
            return cli_error("live", ADV_EXIT_INPUT,
                             "no model: the shipped model models/default.safetensors was not found; pass --model FILE "
                             "(or --random-model SEED to try the plumbing with an untrained model)");
        m = adv_model_load(model_path);
        if (!m) return cli_error("live", ADV_EXIT_INPUT, "%s", adv_error());
    }

    /* the initial settings: defaults, then the preset, then the options */
    adv_live_settings s;
    adv_live_settings_default(&s);
    int code = ADV_EXIT_OK;
    if (preset && adv_live_settings_apply_preset(&s, m, preset) != 0) {
        code = cli_error("live", ADV_EXIT_INPUT, "%s", adv_error());
        goto out_model;
    }
    for (int i = 0; i < n_set; i++)
        if (adv_live_settings_set(&s, m, set[i].name, set[i].value) != 0) {
            code = cli_error("live", ADV_EXIT_USAGE, "--%s", adv_error());
            goto out_model;
        }

    const int locked = lock_memory();
    adv_osc *osc = adv_osc_open(osc_port, m, &s);
    if (!osc) { code = cli_error("live", ADV_EXIT_FAILURE, "%s", adv_error()); goto out_model; }
    if (feedback && adv_osc_subscribe(osc, fb_host, fb_port) != 0) {
        code = cli_error("live", ADV_EXIT_USAGE, "%s", adv_error());
        goto out_osc;
    }
    adv_view *view = NULL;
    if (http_port >= 0) {
        adv_view_options vo = {http_bind, http_port, m, adv_osc_port(osc)};
        if (!(view = adv_view_open(&vo, &s))) {
            code = cli_error("live", ADV_EXIT_FAILURE, "%s", adv_error());
            goto out_osc;
        }
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    adv_live *engine = NULL;
    float *input = NULL;
    long input_frames = 0;
    int input_rate = 0, waiting_said = 0;
    recorder rec;
    memset(&rec, 0, sizeof rec);
    adv_live_stats total;
    memset(&total, 0, sizeof total);
    for (;;) {
        adv_jack_options jo = {name, server, channels, connect_in, connect_out, 1};
        adv_jack *j = adv_jack_open(&jo);
        if (!j) {
            if (!reconnect || interrupted) {
                code = interrupted ? ADV_EXIT_OK : cli_error("live", ADV_EXIT_AUDIO_SERVER, "%s", adv_error());
                break;
            }
            if (!waiting_said) fprintf(stderr, "advinst live: %s; retrying every second\n", adv_error());
            waiting_said = 1;
            /* wait a second, answering OSC meanwhile (settings change, queries see the outage) */
            for (int i = 0; i < 100 && !interrupted; i++) control(m, osc, view, 10, -1);
            if (interrupted) break;
            continue;
        }
        waiting_said = 0;
        const int rate = adv_jack_rate(j);
        if (!engine || adv_live_get_config(engine)->rate != rate) {
            adv_live_free(engine);
            cfg.rate = rate;
            cfg.channels = channels;
            cfg.spectrum = view != NULL;   /* spectrogram columns for the web view */
            engine = adv_live_create(m, &cfg, adv_osc_settings(osc));
            if (!engine) { adv_jack_close(j); code = cli_error("live", ADV_EXIT_USAGE, "%s", adv_error()); break; }
            adv_osc_set_engine(osc, engine);
        }
        if (input_path && input_rate != rate) {
            free(input);
            input = load_input(input_path, rate, channels, &input_frames);
            if (!input) { adv_jack_close(j); code = cli_error("live", ADV_EXIT_INPUT, "%s", adv_error()); break; }
            input_rate = rate;
        }
        if (input && adv_jack_set_input(j, input, input_frames, loop) != 0) {
            adv_jack_close(j);
            code = cli_error("live", ADV_EXIT_FAILURE, "%s", adv_error());
            break;
        }
        if (record_path) {
            if (!rec.w && !rec.failed && recorder_open(&rec, record_path, rate, channels) != 0) {
                adv_jack_close(j);
                code = cli_error("live", ADV_EXIT_OUTPUT, "%s", adv_error());
                break;
            }
            if (adv_jack_enable_record(j, 10.0) != 0) {
                adv_jack_close(j);
                code = cli_error("live", ADV_EXIT_FAILURE, "%s", adv_error());
                break;
            }
        }
        if (adv_jack_activate(j, engine) != 0) {
            adv_jack_close(j);
            code = cli_error("live", ADV_EXIT_AUDIO_SERVER, "%s", adv_error());
            break;
        }
        const long L = adv_live_latency(engine);
        printf("advinst live: client %s at %d Hz, period %u, %d channel%s; latency %ld frames (%.2f s), segments %ld "
               "frames; OSC on UDP port %d (receive buffer %d kB)\n",
               name, rate, adv_jack_buffer_size(j), channels, channels > 1 ? "s" : "", L, (double)L / rate,
               adv_live_segment_frames(engine), adv_osc_port(osc), adv_osc_receive_buffer(osc) / 1024);
        if (cfg.synchronous)
            printf("advinst live: synchronous: the attack runs in the audio callback, %g iterations per second of audio "
                   "(not real-time safe)\n", cfg.sync_iterations);
        if (!locked) printf("advinst live: note: memory is not locked (RLIMIT_MEMLOCK limited, no CAP_IPC_LOCK): only the "
                            "real-time buffers are, as far as the limit allows\n");
        if (view) {
            printf("advinst live: web view on http://%s:%d/view, OSCQuery on http://%s:%d/\n", http_bind,
                   adv_view_port(view), http_bind, adv_view_port(view));
            adv_view_push_timing(view, rate, L, adv_live_window_frames(engine));
        }
        settings_changed(m, osc, view, (double)adv_jack_frames(j) / rate);

        /* the control loop: OSC, events, recording, the end */
        uint64_t stop_at = duration > 0 ? (uint64_t)llround(duration * rate) : 0;
        if (!stop_at && input && !loop) stop_at = (uint64_t)input_frames + (uint64_t)L + (uint64_t)(rate / 5);
        float last_probs[2][ADV_N_CLASSES];
        int have_probs[2] = {0, 0}, silent[2] = {0, 0};
        double last_print = now_seconds(), last_stats = last_print;
        segment_summary sum;
        memset(&sum, 0, sizeof sum);
        while (!interrupted && !adv_jack_lost(j)) {
            control(m, osc, view, 10, (double)adv_jack_frames(j) / rate);
            adv_live_event ev;
            while (adv_live_poll_event(engine, &ev)) {
                adv_osc_send_event(osc, &ev);
                if (view) adv_view_push_event(view, &ev);
                if (ev.type == ADV_LIVE_EV_PROBS) {
                    memcpy(last_probs[ev.stream], ev.probs, sizeof ev.probs);
                    have_probs[ev.stream] = 1;
                    silent[ev.stream] = ev.silent;
                } else if (ev.type == ADV_LIVE_EV_SEGMENT) {
                    summary_add(&sum, &ev);
                    if (verbose) print_segment(m, &ev, rate);
                }
            }
            double t = now_seconds();
            if (view && t - last_stats >= 1.0) {
                adv_live_stats st;
                adv_live_get_stats(engine, &st);
                adv_view_push_stats(view, &st);
                last_stats = t;
            }
            if (!quiet && t - last_print >= 1.0 && have_probs[0] && have_probs[1]) {
                char heard[2][64];
                for (int k = 0; k < 2; k++) {
                    int c = adv_most_likely(last_probs[k]);
                    if (silent[k]) snprintf(heard[k], sizeof heard[k], "silent");
                    else snprintf(heard[k], sizeof heard[k], "%s %.2f", m->classes[c], last_probs[k][c]);
                }
                printf("%.1f s  in: %s, out: %s", (double)adv_jack_frames(j) / rate, heard[0], heard[1]);
                summary_print(&sum, m);
                fflush(stdout);
                last_print = t;
            }
            recorder_drain(&rec, j);
            if (stop_at && adv_jack_frames(j) >= stop_at) break;
        }
        const int lost = adv_jack_lost(j);
        recorder_drain(&rec, j);
        adv_jack_close(j);
        if (lost && !interrupted) {
            fprintf(stderr, "advinst live: the JACK server shut down%s\n", reconnect ? "; reconnecting" : "");
            if (reconnect) continue;
            code = ADV_EXIT_AUDIO_SERVER;
        }
        break;
    }
    if (engine) {
        adv_live_get_stats(engine, &total);
        adv_osc_counts oc;
        adv_osc_get_counts(osc, &oc);
        printf("advinst live: %.1f s processed, segments ok %ld, failed %ld, missed %ld, clean %ld; %ld iterations; "
               "xruns %ld; ring overflows %ld; OSC messages %ld (changed %ld, rejected %ld, ignored %ld, malformed %ld); "
               "audio thread CPU per period: mean %.1f us, 99 %% under %.0f us, longest %.0f us\n",
               cfg.rate ? (double)total.frames / cfg.rate : 0.0, total.segments_ok, total.segments_failed,
               total.segments_miss, total.segments_clean, total.iterations, total.xruns, total.ring_overflows, oc.received,
               oc.changed, oc.rejected, oc.ignored, oc.malformed, total.process_cpu_mean_us, total.process_cpu_p99_us,
               total.process_cpu_max_us);
    }
    int rec_code = recorder_close(&rec);
    if (code == ADV_EXIT_OK) code = rec_code;
    adv_live_free(engine);
    free(input);
    adv_view_close(view);
out_osc:
    adv_osc_close(osc);
out_model:
    adv_model_free(m);
    return code;
}
