/* advinst live: the JACK client that classifies a stream and, on request over OSC, perturbs it
 * toward a target class (see include/advinst/live.h, include/advinst/osc.h, docs/live.md). */
#include "cli.h"
#include "advinst/audio.h"
#include "advinst/error.h"
#include "advinst/live.h"
#include "advinst/osc.h"
#include "advinst/resample.h"
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

static void help(void)
{
    printf("usage: advinst live [OPTIONS]\n\n"
           "A JACK client that classifies the instrument on its input and, when told over OSC\n"
           "which class the classifier should hear instead, adds targeted C&W / Multi-Scale C&W\n"
           "perturbations, computed per clip in the background, to its output. The output is\n"
           "the input delayed by a fixed latency (clip + budget), reported to JACK.\n\n"
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
           "attack (initial settings; OSC changes them):\n"
           "  -p, --preset NAME        a preset (presets/NAME.ini; cw or mscw)\n"
           "  -t, --target CLASS       class name or index, none (default) or random\n"
           "      --method M           cw (default), mscw or off\n"
           "      --step F             Adam step, lr (default 1e-5)\n"
           "      --alpha F            cross-entropy weight (default 0.01)\n"
           "      --eps F              L-inf bound (default 0.01)\n"
           "      --iterations N       at most N iterations per clip (default 1000)\n"
           "      --confidence F       success also needs the target's probability >= F (default 0: off)\n"
           "      --bypass             start bypassed\n"
           "clips and timing:\n"
           "      --clip-seconds S     clip length (default 3.7)\n"
           "      --clips fixed|onset  fixed-length clips (default) or cut at onsets (S/2 to S)\n"
           "      --budget-seconds S   compute time per clip (default 3); latency = clip + budget\n"
           "      --window-seconds S   classifier window (default 3.7 = 116 frames at 16 kHz)\n"
           "      --classify-hz F      classifications per second of input and output (default 10)\n"
           "      --ramp-ms F          perturbation fade at clip boundaries (default 10)\n"
           "      --threads N          attack threads (default: processors - 1)\n"
           "OSC:\n"
           "      --osc-port N         UDP port (default 9000; 0: any free port)\n"
           "      --osc-feedback H:P   send feedback to host H, port P from the start\n"
           "      --list-osc           print the OSC addresses and exit\n"
           "files (both run on JACK's clock):\n"
           "  -i, --input-file FILE    feed this file to the engine instead of the input ports\n"
           "                           (resampled to the server's rate)\n"
           "      --loop               loop the input file\n"
           "  -r, --record FILE        record the output (WAV float)\n"
           "  -d, --duration S         stop after S seconds (default: with a non-looped input\n"
           "                           file, once it has come out completely)\n"
           "  -q, --quiet              no per-second prediction lines\n"
           "  -h, --help               this help\n\n"
           "exit: 0 on SIGINT/SIGTERM or the end, 2 usage, 3 bad model/preset/input, 4 cannot\n"
           "record, 5 JACK server unavailable or lost (without --reconnect).\n");
}

enum {
    OPT_RANDOM_MODEL = 256, OPT_CONNECT_IN, OPT_CONNECT_OUT, OPT_RECONNECT, OPT_METHOD, OPT_STEP, OPT_ALPHA, OPT_EPS,
    OPT_ITER, OPT_BYPASS, OPT_CLIP, OPT_CLIPS, OPT_BUDGET, OPT_WINDOW, OPT_HZ, OPT_RAMP, OPT_THREADS, OPT_OSC_PORT,
    OPT_OSC_FEEDBACK, OPT_LIST_OSC, OPT_LOOP, OPT_CONFIDENCE
};

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

static void print_settings(const adv_model *m, const adv_live_settings *s)
{
    printf("settings %lu: target %s, method %s, step %g, alpha %g, eps %g, iterations %ld, confidence %g, bypass %d%s%s\n",
           (unsigned long)s->version, adv_live_target_name(m, s->target), adv_live_method_name(s->method), s->lr,
           s->alpha, s->eps, s->max_iter, s->confidence, s->bypass, s->preset[0] ? ", preset " : "", s->preset);
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

int cmd_live(int argc, char **argv)
{
    static const struct option options[] = {
        {"model", required_argument, 0, 'm'}, {"random-model", required_argument, 0, OPT_RANDOM_MODEL},
        {"server", required_argument, 0, 's'}, {"name", required_argument, 0, 'n'},
        {"channels", required_argument, 0, 'c'}, {"connect-in", required_argument, 0, OPT_CONNECT_IN},
        {"connect-out", required_argument, 0, OPT_CONNECT_OUT}, {"reconnect", no_argument, 0, OPT_RECONNECT},
        {"preset", required_argument, 0, 'p'}, {"target", required_argument, 0, 't'},
        {"method", required_argument, 0, OPT_METHOD}, {"step", required_argument, 0, OPT_STEP},
        {"alpha", required_argument, 0, OPT_ALPHA}, {"eps", required_argument, 0, OPT_EPS},
        {"iterations", required_argument, 0, OPT_ITER}, {"confidence", required_argument, 0, OPT_CONFIDENCE}, {"bypass", no_argument, 0, OPT_BYPASS},
        {"clip-seconds", required_argument, 0, OPT_CLIP}, {"clips", required_argument, 0, OPT_CLIPS},
        {"budget-seconds", required_argument, 0, OPT_BUDGET}, {"window-seconds", required_argument, 0, OPT_WINDOW},
        {"classify-hz", required_argument, 0, OPT_HZ}, {"ramp-ms", required_argument, 0, OPT_RAMP},
        {"threads", required_argument, 0, OPT_THREADS}, {"osc-port", required_argument, 0, OPT_OSC_PORT},
        {"osc-feedback", required_argument, 0, OPT_OSC_FEEDBACK}, {"list-osc", no_argument, 0, OPT_LIST_OSC},
        {"input-file", required_argument, 0, 'i'}, {"loop", no_argument, 0, OPT_LOOP},
        {"record", required_argument, 0, 'r'}, {"duration", required_argument, 0, 'd'},
        {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *model_path = NULL, *server = NULL, *name = "advinst", *connect_in = NULL, *connect_out = NULL;
    const char *preset = NULL, *target = NULL, *method = NULL, *osc_port = "9000", *feedback = NULL;
    const char *input_path = NULL, *record_path = NULL;
    double step = NAN, alpha = NAN, eps = NAN, confidence = NAN, duration = 0, v;
    long iterations = 0, random_seed = -1, lv;
    int channels = 1, reconnect = 0, bypass = 0, loop = 0, quiet = 0, opt;
    adv_live_config cfg;
    adv_live_config_default(&cfg, 48000, 1);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "m:s:n:c:p:t:i:r:d:qh", options, NULL)) != -1) {
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
        case 'p': preset = optarg; break;
        case 't': target = optarg; break;
        case OPT_METHOD: method = optarg; break;
        case OPT_STEP:
            if (cli_parse_float(optarg, &step) != 0 || !((float)step > 0 && step <= 1))   /* 1e-50 is 0 as float */
                return cli_error("live", ADV_EXIT_USAGE, "--step must be in (0, 1]");
            break;
        case OPT_ALPHA:
            if (cli_parse_float(optarg, &alpha) != 0 || !(alpha >= 0 && alpha <= 1e6))
                return cli_error("live", ADV_EXIT_USAGE, "--alpha must be in [0, 1e6]");
            break;
        case OPT_EPS:
            if (cli_parse_float(optarg, &eps) != 0 || !((float)eps > 0 && eps <= 1))
                return cli_error("live", ADV_EXIT_USAGE, "--eps must be in (0, 1]");
            break;
        case OPT_ITER:
            if (cli_parse_long(optarg, &iterations) != 0 || iterations < 1 || iterations > 1000000)
                return cli_error("live", ADV_EXIT_USAGE, "--iterations must be in 1..1000000");
            break;
        case OPT_CONFIDENCE:
            if (cli_parse_float(optarg, &confidence) != 0 || !(confidence >= 0 && confidence <= 1))
                return cli_error("live", ADV_EXIT_USAGE, "--confidence must be in [0, 1]");
            break;
        case OPT_BYPASS: bypass = 1; break;
        case OPT_CLIP:
        case OPT_BUDGET:
        case OPT_WINDOW:
        case OPT_HZ:
        case OPT_RAMP:
            if (cli_parse_float(optarg, &v) != 0 || v < 0)
                return cli_error("live", ADV_EXIT_USAGE, "'%s' is not a valid number for %s", optarg, argv[optind - 1]);
            if (opt == OPT_CLIP) cfg.clip_seconds = v;
            else if (opt == OPT_BUDGET) cfg.budget_seconds = v;
            else if (opt == OPT_WINDOW) cfg.window_seconds = v;
            else if (opt == OPT_HZ) cfg.classify_hz = v;
            else cfg.ramp_ms = v;
            break;
        case OPT_CLIPS:
            if (!strcmp(optarg, "fixed")) cfg.onset_clips = 0;
            else if (!strcmp(optarg, "onset")) cfg.onset_clips = 1;
            else return cli_error("live", ADV_EXIT_USAGE, "--clips must be fixed or onset");
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
        case OPT_LIST_OSC: adv_osc_print_addresses(stdout); return ADV_EXIT_OK;
        case 'i': input_path = optarg; break;
        case OPT_LOOP: loop = 1; break;
        case 'r': record_path = optarg; break;
        case 'd':
            if (cli_parse_float(optarg, &duration) != 0 || duration <= 0)
                return cli_error("live", ADV_EXIT_USAGE, "--duration must be > 0 seconds");
            break;
        case 'q': quiet = 1; break;
        case 'h': help(); return ADV_EXIT_OK;
        default: return cli_bad_option("live", argv);
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
    if (target) {
        if (!strcasecmp(target, "none")) s.target = ADV_LIVE_TARGET_NONE;
        else if (!strcasecmp(target, "random")) s.target = ADV_LIVE_TARGET_RANDOM;
        else if ((s.target = adv_model_class_index(m, target)) < 0) {
            code = cli_error("live", ADV_EXIT_USAGE, "unknown target class '%s'", target);
            goto out_model;
        }
    }
    if (method) {
        int k = adv_live_method_parse(method);
        if (k < 0) { code = cli_error("live", ADV_EXIT_USAGE, "--method must be cw, mscw or off"); goto out_model; }
        s.method = (adv_live_method)k;
    }
    if (!isnan(step)) s.lr = (float)step;
    if (!isnan(alpha)) s.alpha = (float)alpha;
    if (!isnan(eps)) s.eps = (float)eps;
    if (iterations) s.max_iter = iterations;
    if (!isnan(confidence)) s.confidence = (float)confidence;
    s.bypass = bypass;

    const int locked = lock_memory();
    adv_osc *osc = adv_osc_open(osc_port, m, &s);
    if (!osc) { code = cli_error("live", ADV_EXIT_FAILURE, "%s", adv_error()); goto out_model; }
    if (feedback && adv_osc_subscribe(osc, fb_host, fb_port) != 0) {
        code = cli_error("live", ADV_EXIT_USAGE, "%s", adv_error());
        goto out_osc;
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
            for (int i = 0; i < 100 && !interrupted; i++) {
                if (adv_osc_poll(osc, 10) > 0) print_settings(m, adv_osc_settings(osc));
            }
            if (interrupted) break;
            continue;
        }
        waiting_said = 0;
        const int rate = adv_jack_rate(j);
        if (!engine || adv_live_get_config(engine)->rate != rate) {
            adv_live_free(engine);
            cfg.rate = rate;
            cfg.channels = channels;
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
        printf("advinst live: client %s at %d Hz, period %u, %d channel%s; latency %ld frames (%.2f s), clips %ld frames "
               "(%s); OSC on UDP port %d (receive buffer %d kB)\n",
               name, rate, adv_jack_buffer_size(j), channels, channels > 1 ? "s" : "", L, (double)L / rate,
               adv_live_clip_frames(engine), cfg.onset_clips ? "onset" : "fixed", adv_osc_port(osc),
               adv_osc_receive_buffer(osc) / 1024);
        if (!locked) printf("advinst live: note: memory is not locked (RLIMIT_MEMLOCK limited, no CAP_IPC_LOCK): only the "
                            "real-time buffers are, as far as the limit allows\n");
        print_settings(m, adv_osc_settings(osc));

        /* the control loop: OSC, events, recording, the end */
        uint64_t stop_at = duration > 0 ? (uint64_t)llround(duration * rate) : 0;
        if (!stop_at && input && !loop) stop_at = (uint64_t)input_frames + (uint64_t)L + (uint64_t)(rate / 5);
        float last_probs[2][ADV_N_CLASSES];
        int have_probs[2] = {0, 0};
        double last_print = now_seconds();
        while (!interrupted && !adv_jack_lost(j)) {
            if (adv_osc_poll(osc, 10) > 0) print_settings(m, adv_osc_settings(osc));
            adv_live_event ev;
            while (adv_live_poll_event(engine, &ev)) {
                adv_osc_send_event(osc, &ev);
                if (ev.type == ADV_LIVE_EV_PROBS) {
                    memcpy(last_probs[ev.stream], ev.probs, sizeof ev.probs);
                    have_probs[ev.stream] = 1;
                } else {
                    printf("clip %ld (%.2f s): %s, target %s, %s %.2f -> %s %.2f", ev.clip, (double)ev.frame / rate,
                           adv_live_clip_status_name(ev.status), adv_live_target_name(m, ev.target),
                           m->classes[ev.before_class], ev.before_confidence, m->classes[ev.after_class],
                           ev.after_confidence);
                    if (isfinite(ev.snr_db)) printf(", SNR %.1f dB", ev.snr_db);
                    printf(", %ld iterations, %.2f s%s%s\n", ev.iterations, ev.seconds, ev.message[0] ? ": " : "", ev.message);
                    fflush(stdout);
                }
            }
            double t = now_seconds();
            if (!quiet && t - last_print >= 1.0 && have_probs[0] && have_probs[1]) {
                int a = adv_most_likely(last_probs[0]), b = adv_most_likely(last_probs[1]);
                printf("%.1f s  in: %s %.2f, out: %s %.2f\n", (double)adv_jack_frames(j) / rate, m->classes[a],
                       last_probs[0][a], m->classes[b], last_probs[1][b]);
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
        printf("advinst live: %.1f s processed, clips ok %ld, failed %ld, missed %ld, clean %ld; xruns %ld; ring overflows %ld; "
               "OSC messages %ld (changed %ld, rejected %ld, ignored %ld, malformed %ld)\n",
               cfg.rate ? (double)total.frames / cfg.rate : 0.0, total.clips_ok, total.clips_failed, total.clips_miss,
               total.clips_clean, total.xruns, total.ring_overflows, oc.received, oc.changed, oc.rejected, oc.ignored,
               oc.malformed);
    }
    int rec_code = recorder_close(&rec);
    if (code == ADV_EXIT_OK) code = rec_code;
    adv_live_free(engine);
    free(input);
out_osc:
    adv_osc_close(osc);
out_model:
    adv_model_free(m);
    return code;
}
