/* `advinst live` end to end on a private jackd with the dummy backend (48 kHz, 512 frames), both
 * started by this test and stopped by PID:
 *   a player client plays a clip into advinst:in, a recorder client records advinst:out (two
 *   clients, so the graph has no cycle and all three run in the same cycle); OSC sets a target
 *   (C&W), then switches method and target (MS-C&W), then bypasses; bad messages get
 *   /advinst/error and change nothing. The recording is aligned by the latency advinst reports to
 *   JACK. Checks: clean before any target and bit-exact in bypass; perturbed clips classify as the
 *   target with SNR >= 35 dB; zero xruns; killing the server makes advinst exit with code 5.
 * Uses the shipped model if present (3.7 s clips, about 30 s), else a calibrated random model
 * (1 s clips, about 15 s); ADVINST_TEST_RANDOM_MODEL=1 forces the random one. */
#include "testutil.h"
#include "advinst/attack.h"
#include "advinst/audio.h"
#include "advinst/classifier.h"
#include "advinst/error.h"
#include "advinst/live.h"
#include "advinst/resample.h"
#include <errno.h>
#include <fcntl.h>
#include <jack/jack.h>
#include <lo/lo.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RATE 48000

static pid_t jackd_pid = -1, live_pid = -1;
static char server[64];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static void cleanup(void)
{
    if (live_pid > 0) { kill(live_pid, SIGKILL); waitpid(live_pid, NULL, 0); live_pid = -1; }
    if (jackd_pid > 0) {
        /* SIGTERM lets jackd remove its shared memory; SIGKILL only if it does not stop */
        kill(jackd_pid, SIGTERM);
        int st;
        for (int i = 0; i < 50 && waitpid(jackd_pid, &st, WNOHANG) == 0; i++) sleep_s(0.1);
        if (waitpid(jackd_pid, &st, WNOHANG) == 0) { kill(jackd_pid, SIGKILL); waitpid(jackd_pid, NULL, 0); }
        jackd_pid = -1;
    }
}

static pid_t spawn(char *const argv[], const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); close(fd); }
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* ---- player and recorder (JACK clients of this process) ---- */

static const float *sig;        /* the input clip at 48 kHz, looped */
static long sig_len;
static float *rec;              /* output recorded, index = frames since the player started */
static long rec_cap;
static _Atomic int64_t start_frame = -1;
static atomic_long xruns, rec_max;
static jack_port_t *play_port, *rec_port;
static jack_client_t *player, *recorder;

static int play_process(jack_nframes_t n, void *arg)
{
    (void)arg;
    float *out = jack_port_get_buffer(play_port, n);
    int64_t f0 = atomic_load(&start_frame), f = jack_last_frame_time(player);
    for (jack_nframes_t i = 0; i < n; i++) {
        int64_t k = f + i - f0;
        out[i] = f0 >= 0 && k >= 0 ? sig[k % sig_len] : 0.0f;
    }
    return 0;
}

static int rec_process(jack_nframes_t n, void *arg)
{
    (void)arg;
    const float *in = jack_port_get_buffer(rec_port, n);
    int64_t f0 = atomic_load(&start_frame), f = jack_last_frame_time(recorder);
    if (f0 < 0) return 0;
    for (jack_nframes_t i = 0; i < n; i++) {
        int64_t k = f + i - f0;
        if (k >= 0 && k < rec_cap) rec[k] = in[i];
        if (k + 1 > atomic_load(&rec_max)) atomic_store(&rec_max, (long)(k + 1));
    }
    return 0;
}

static int on_xrun(void *arg)
{
    (void)arg;
    atomic_fetch_add(&xruns, 1);
    return 0;
}

/* ---- OSC feedback ---- */

typedef struct {
    int errors, states, ok[64], failed, miss;
    int last_version;
    char status[64][16];
} feedback;
static feedback fb;

static int on_osc(const char *path, const char *types, lo_arg **argv, int argc, lo_message msg, void *user)
{
    (void)argc;
    (void)msg;
    (void)user;
    if (!strcmp(path, "/advinst/error")) fb.errors++;
    else if (!strcmp(path, "/advinst/state") && !strcmp(types, "ssfffiisiff")) { fb.states++; fb.last_version = argv[8]->i; }
    else if (!strcmp(path, "/advinst/attack") && !strcmp(types, "isfis")) {
        int clip = argv[0]->i;
        if (clip >= 0 && clip < 64) snprintf(fb.status[clip], sizeof fb.status[clip], "%s", &argv[1]->s);
        if (getenv("TEST_LIVE_VERBOSE"))
            fprintf(stderr, "attack clip %d: %s snr %.1f, %d iterations, after %s\n", clip, &argv[1]->s, argv[2]->f,
                    argv[3]->i, &argv[4]->s);
    }
    return 0;
}

static void pump(lo_server s, double seconds)
{
    double end = now() + seconds;
    while (now() < end) lo_server_recv_noblock(s, 10);
}

/* The classifier's prediction for a segment and its SNR against the clean input. */
static int classify(adv_classifier *c, const float *x, float *conf)
{
    float logits[ADV_N_CLASSES], p[ADV_N_CLASSES];
    adv_classifier_forward(c, x, logits);
    adv_softmax(ADV_N_CLASSES, logits, p);
    int b = 0;
    for (int k = 1; k < ADV_N_CLASSES; k++) if (p[k] > p[b]) b = k;
    *conf = p[b];
    return b;
}

int main(void)
{
    const double t_start = now();
    const char *dir = tu_scratch_dir("test_live_jack");
    const char *bin = getenv("ADVINST_LIVE_BINARY") ? getenv("ADVINST_LIVE_BINARY") : ADVINST_BINARY;
    /* one fixed name: JACK reclaims the shared-memory registry slot of a dead server of the same
     * name, while a new name per run would fill the registry (8 servers) after killed servers */
    snprintf(server, sizeof server, "advinst-test");
    setenv("JACK_NO_START_SERVER", "1", 1);
    setenv("JACK_NO_AUDIO_RESERVATION", "1", 1);
    atexit(cleanup);

    /* the model: shipped, else a calibrated random one saved for advinst */
    char model_path[1200];
    const char *shipped = getenv("ADVINST_TEST_RANDOM_MODEL") ? NULL : adv_default_model_path();
    adv_model *m;
    double clip_s, budget_s;
    if (shipped) {
        snprintf(model_path, sizeof model_path, "%s", shipped);
        m = adv_model_load(model_path);
        clip_s = 3.7, budget_s = 3.0;
    } else {
        snprintf(model_path, sizeof model_path, "%s/random.safetensors", dir);
        m = adv_live_random_model(1);
        CHECK(m && adv_model_save(m, model_path) == 0, "random model: %s", adv_error());
        clip_s = 1.0, budget_s = 1.5;
    }
    if (!m) return tu_finish("test_live_jack");
    printf("model: %s\n", shipped ? shipped : "random (seed 1)");

    /* the input: the shipped harmonica clip at 48 kHz, else a synthetic tone */
    adv_audio a;
    char clip_path[1200];
    snprintf(clip_path, sizeof clip_path, "%s/../demo/harmonica.wav", TEST_SOURCE_DIR);
    float *x48;
    if (adv_audio_read(clip_path, &a) == 0) {
        float *mono = malloc(sizeof(float) * a.frames);
        adv_audio_mix_mono(&a, mono);
        adv_resampler *rs = adv_resampler_create(a.rate, RATE, a.frames);
        sig_len = adv_resampler_output_length(rs);
        x48 = malloc(sizeof(float) * sig_len);
        adv_resampler_forward(rs, mono, x48);
        adv_resampler_free(rs);
        free(mono);
        adv_audio_free(&a);
    } else {
        sig_len = 4 * RATE;
        x48 = malloc(sizeof(float) * sig_len);
        for (long i = 0; i < sig_len; i++)
            x48[i] = 0.2f * sinf(2 * (float)M_PI * 523.25f * i / RATE) + 0.1f * sinf(2 * (float)M_PI * 1046.5f * i / RATE);
    }
    sig = x48;
    /* timeline (seconds after play starts): target at 0.5, switch after 3 clips, bypass once at
     * least one switched clip has played out completely, end 1.5 s later */
    const double L_s = clip_s + budget_s, at_switch = 0.5 + 3 * clip_s, at_bypass = at_switch + 2 * clip_s + L_s + 0.5,
                 at_end = at_bypass + 1.5;
    rec_cap = (long)((at_end + 2) * RATE);
    rec = calloc((size_t)rec_cap, sizeof(float));

    /* the server */
    char jlog[1300], llog[1300];
    snprintf(jlog, sizeof jlog, "%s/jackd.log", dir);
    snprintf(llog, sizeof llog, "%s/live.log", dir);
    char *jargv[] = {"jackd", "-n", server, "-d", "dummy", "-r", "48000", "-p", "512", NULL};
    jackd_pid = spawn(jargv, jlog);
    jack_status_t st;
    for (int i = 0; i < 100 && !player; i++) {
        sleep_s(0.1);
        player = jack_client_open("player", JackNoStartServer | JackServerName, &st, server);
    }
    CHECK(player != NULL, "jackd did not start (see %s)", jlog);
    if (!player) return tu_finish("test_live_jack");
    recorder = jack_client_open("recorder", JackNoStartServer | JackServerName, &st, server);
    play_port = jack_port_register(player, "out", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
    rec_port = jack_port_register(recorder, "in", JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
    jack_set_process_callback(player, play_process, NULL);
    jack_set_process_callback(recorder, rec_process, NULL);
    jack_set_xrun_callback(player, on_xrun, NULL);
    jack_activate(player);
    jack_activate(recorder);

    /* advinst live */
    char clip_arg[32], budget_arg[32];
    snprintf(clip_arg, sizeof clip_arg, "%g", clip_s);
    snprintf(budget_arg, sizeof budget_arg, "%g", budget_s);
    char *largv[] = {(char *)bin, "live", "--model", model_path, "--server", server, "--name", "advinst", "--osc-port", "0",
                     "--clip-seconds", clip_arg, "--budget-seconds", budget_arg, "--quiet", "--connect-in", "player:out",
                     "--connect-out", "recorder:in", NULL};
    live_pid = spawn(largv, llog);
    int osc_port = 0;
    for (int i = 0; i < 200 && !osc_port; i++) {
        sleep_s(0.05);
        FILE *f = fopen(llog, "r");
        char line[512];
        while (f && fgets(line, sizeof line, f)) {
            char *p = strstr(line, "OSC on UDP port ");
            if (p) osc_port = atoi(p + 16);
        }
        if (f) fclose(f);
    }
    CHECK(osc_port > 0, "advinst live did not start (see %s)", llog);
    if (!osc_port) return tu_finish("test_live_jack");
    /* both connections made by advinst itself; wait for them */
    for (int i = 0; i < 50 && !(jack_port_connected(play_port) && jack_port_connected(rec_port)); i++) sleep_s(0.05);
    CHECK(jack_port_connected(play_port) && jack_port_connected(rec_port), "advinst did not connect the test ports");
    jack_latency_range_t range;
    jack_port_get_latency_range(rec_port, JackCaptureLatency, &range);
    const long N = lround(clip_s * RATE), L = range.max;
    CHECK(range.min == range.max && L == N + lround(budget_s * RATE), "reported latency [%u, %u], expected %ld", range.min,
          range.max, N + lround(budget_s * RATE));

    lo_server me = lo_server_new(NULL, NULL);
    lo_server_add_method(me, NULL, NULL, on_osc, NULL);
    char port[16];
    snprintf(port, sizeof port, "%d", osc_port);
    lo_address to = lo_address_new("127.0.0.1", port);
    lo_send_from(to, me, LO_TT_IMMEDIATE, "/advinst/subscribe", "");
    pump(me, 0.3);
    CHECK(fb.states == 1, "no /advinst/state after subscribing");
    /* bad messages: an error each, nothing changes */
    int v0 = fb.last_version;
    lo_send_from(to, me, LO_TT_IMMEDIATE, "/advinst/eps", "s", "big");
    lo_send_from(to, me, LO_TT_IMMEDIATE, "/advinst/target", "i", 42);
    lo_send_from(to, me, LO_TT_IMMEDIATE, "/advinst/method", "s", "fgsm");
    pump(me, 0.3);
    CHECK(fb.errors == 3 && fb.states == 1 && fb.last_version == v0, "bad messages: %d errors, %d states", fb.errors, fb.states);

    /* play; timeline in clips of advinst's own grid, which the recording reveals */
    const int T1 = 6, T2 = 4;   /* glockenspiel (C&W), then electric_guitar (MS-C&W) */
    atomic_store(&start_frame, (int64_t)jack_frame_time(player) + 1024);
    const double t_play = now();
    pump(me, 0.5 - (now() - t_play));
    /* a margin, so that the fades at clip ends cannot undo a barely successful attack */
    lo_send_from(to, me, LO_TT_IMMEDIATE, "/advinst/confidence", "f", 0.5f);
    lo_send_from(to, me, LO_TT_IMMEDIATE, "/advinst/target", "i", T1);
    const double t_target1 = now() - t_play;
    pump(me, at_switch - (now() - t_play));
    lo_send_from(to, me, LO_TT_IMMEDIATE, "/advinst/method", "s", "mscw");
    lo_send_from(to, me, LO_TT_IMMEDIATE, "/advinst/alpha", "f", 10.0f);   /* the paper's MS-C&W weight */
    lo_send_from(to, me, LO_TT_IMMEDIATE, "/advinst/target", "s", "electric_guitar");
    const double t_target2 = now() - t_play;
    pump(me, at_bypass - (now() - t_play));
    lo_send_from(to, me, LO_TT_IMMEDIATE, "/advinst/bypass", "i", 1);
    const double t_bypass = now() - t_play;
    pump(me, at_end - (now() - t_play));
    const long n = atomic_load(&rec_max) < rec_cap ? atomic_load(&rec_max) : rec_cap;

    /* the server killed under the client: a clean exit with code 5 */
    kill(jackd_pid, SIGKILL);
    waitpid(jackd_pid, NULL, 0);
    jackd_pid = -1;
    int status = 0, exited = 0;
    for (int i = 0; i < 100 && !exited; i++) {
        sleep_s(0.05);
        exited = waitpid(live_pid, &status, WNOHANG) == live_pid;
    }
    CHECK(exited && WIFEXITED(status) && WEXITSTATUS(status) == 5, "advinst after the server died: %s %d",
          exited ? "exit" : "still running", exited ? WEXITSTATUS(status) : -1);
    if (exited) live_pid = -1;
    CHECK(atomic_load(&xruns) == 0, "%ld xruns", atomic_load(&xruns));

    /* analysis: out[k] = in[k - L] + perturbation */
    int bypass_exact = 1;
    long first_pert = -1;
    for (long k = L; k < n; k++) {
        float d = rec[k] - sig[(k - L) % sig_len];
        if (d != 0 && first_pert < 0) first_pert = k;
    }
    CHECK(first_pert >= 0, "no perturbation in the recording");
    const long t1_frame = (long)(t_target1 * RATE), bypass_frame = (long)((t_bypass + 0.3) * RATE);
    for (long k = L + bypass_frame; k < n; k++) bypass_exact &= rec[k] == sig[(k - L) % sig_len];
    /* clean (bit-exact) up to the clip being collected when the target arrived */
    CHECK(first_pert - L > t1_frame - N - RATE / 20, "a clip before the first target was perturbed (at %.2f s, target at %.2f s)",
          (double)(first_pert - L) / RATE, t_target1);
    CHECK(bypass_exact, "bypassed output is not the delayed input bit for bit");

    /* advinst's clip grid (its clip 0 starts before the player): the fades bring the perturbation
     * to zero at every boundary, so the grid offset minimises the perturbation energy around the
     * boundaries (prefix sums of the energy, windows of +-2.5 ms) */
    double *cum = calloc((size_t)n + 1, sizeof(double));
    for (long k = 0; k < n; k++) {
        double d = k >= L ? (double)rec[k] - sig[(k - L) % sig_len] : 0;
        cum[k + 1] = cum[k] + d * d;
    }
    const long r = RATE / 400;
    long grid = 0;
    double best = INFINITY;
    for (long o = 0; o < N; o++) {
        double cost = 0;
        int count = 0;
        for (long b = L + o; b + r < n; b += N)
            if (b - r >= L) { cost += cum[b + r] - cum[b - r]; count++; }
        if (count && cost / count < best) { best = cost / count; grid = o; }
    }
    free(cum);

    adv_classifier *c = adv_classifier_create(m, RATE, N);
    float *clean = malloc(sizeof(float) * N);
    int hits[2] = {0, 0}, perturbed[2] = {0, 0};
    for (long s = L + grid; s + N <= n; s += N) {
        double e = 0;
        for (long i = 0; i < N; i++) {
            clean[i] = sig[(s + i - L) % sig_len];
            double d = rec[s + i] - clean[i];
            e += d * d;
        }
        if (e == 0) continue;
        const double at = (double)(s - L) / RATE;   /* clip start, input time since play */
        /* a clip is attacked with the settings current when it is complete */
        if (fabs(at + clip_s - t_target2) < 0.05) continue;
        const int phase = at + clip_s > t_target2 ? 1 : 0, want = phase ? T2 : T1;
        float conf, conf0;
        int pred = classify(c, rec + s, &conf), pred0 = classify(c, clean, &conf0);
        double snr = adv_snr_db(clean, rec + s, N);
        printf("clip at %.2f s (%s): %s %.2f -> %s %.2f, SNR %.1f dB\n", at, phase ? "mscw" : "cw", m->classes[pred0], conf0,
               m->classes[pred], conf, snr);
        perturbed[phase]++;
        if (pred == want && snr >= 35) hits[phase]++;
    }
    CHECK(hits[0] >= 1, "C&W: %d of %d perturbed clips classify as %s with SNR >= 35 dB", hits[0], perturbed[0], m->classes[T1]);
    CHECK(hits[1] >= 1, "MS-C&W: %d of %d perturbed clips classify as %s with SNR >= 35 dB", hits[1], perturbed[1],
          m->classes[T2]);
    printf("C&W hits %d/%d, MS-C&W hits %d/%d, xruns %ld, %.1f s in all\n", hits[0], perturbed[0], hits[1], perturbed[1],
           atomic_load(&xruns), now() - t_start);

    jack_client_close(player);
    jack_client_close(recorder);
    lo_address_free(to);
    lo_server_free(me);
    adv_classifier_free(c);
    adv_model_free(m);
    free(clean);
    free(rec);
    free(x48);
    return tu_finish("test_live_jack");
}
