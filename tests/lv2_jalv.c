/* The LV2 plugin live in jalv (a JACK host offering a worker, state and log) on a private jackd
 * with the dummy backend (48 kHz, 512 frames), both started by this test and stopped by PID: the
 * same checks as the JACK client's end-to-end test (tests/test_live_jack.c).
 *   A player client plays the harmonica clip into the plugin, a recorder records its output;
 *   jalv's console sets the target (C&W), then switches method and target (MS-C&W), then
 *   disables the plugin (bypass). The recording is aligned by the latency the plugin reports
 *   (its latency port, as jalv prints it). Checks: that latency is clip + budget; clean before
 *   any target and
 *   bit-exact in bypass; perturbed clips classify as the target with SNR >= 35 dB; zero xruns
 *   while playing.
 * The plugin's default timing (3.7 s clips, 3 s budget); about 35 s. */
#include "testutil.h"
#include "live_check.h"
#include "advinst/attack.h"
#include "advinst/audio.h"
#include "advinst/error.h"
#include "advinst/model.h"
#include "advinst/resample.h"
#include <fcntl.h>
#include <jack/jack.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RATE 48000
#define URI "https://advinst.invalid/plugins/advinst"

static pid_t jackd_pid = -1, jalv_pid = -1;
static FILE *jalv_in;

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

static void stop(pid_t *pid, int sig)
{
    if (*pid <= 0) return;
    kill(*pid, sig);
    int st;
    for (int i = 0; i < 50 && waitpid(*pid, &st, WNOHANG) == 0; i++) sleep_s(0.1);
    if (waitpid(*pid, &st, WNOHANG) == 0) { kill(*pid, SIGKILL); waitpid(*pid, NULL, 0); }
    *pid = -1;
}

static void cleanup(void)
{
    if (jalv_in) { fclose(jalv_in); jalv_in = NULL; }
    stop(&jalv_pid, SIGTERM);
    stop(&jackd_pid, SIGTERM);
}

/* Starts argv with its output in log; stdin from a pipe (*in) when in is not NULL. */
static pid_t spawn(char *const argv[], const char *log, FILE **in)
{
    int fds[2] = {-1, -1};
    if (in && pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); close(fd); }
        if (in) { dup2(fds[0], 0); close(fds[0]); close(fds[1]); }
        execvp(argv[0], argv);
        _exit(127);
    }
    if (in) {
        close(fds[0]);
        *in = fdopen(fds[1], "w");
    }
    return pid;
}

/* A control change through jalv's console ("set SYMBOL VALUE"). */
static void set(const char *symbol, double value)
{
    fprintf(jalv_in, "set %s %g\n", symbol, value);
    fflush(jalv_in);
}

/* ---- player and recorder ---- */

static float *sig;
static long sig_len;
static float *rec;
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

/* Connects player -> plugin -> recorder once jalv has activated its client (15 s at most). */
static int connect_jalv(void)
{
    int in = 0, out = 0;
    for (int i = 0; i < 300 && !(in && out); i++) {
        sleep_s(0.05);
        if (!in) in = jack_connect(player, "player:out", "advinst-lv2:in") == 0;
        if (!out) out = jack_connect(recorder, "advinst-lv2:out", "recorder:in") == 0;
    }
    return in && out;
}

int main(void)
{
    const double t_start = now();
    const char *dir = tu_scratch_dir("lv2_jalv");
    setenv("JACK_NO_START_SERVER", "1", 1);
    setenv("JACK_NO_AUDIO_RESERVATION", "1", 1);
    setenv("JACK_DEFAULT_SERVER", "advinst-test", 1);   /* the fixed name, as test_live_jack */
    atexit(cleanup);
    const char *model_path = adv_default_model_path();
    adv_model *m = model_path ? adv_model_load(model_path) : NULL;
    CHECK(m != NULL, "the shipped model is needed: %s", model_path ? adv_error() : "not found");
    char clip_path[1200];
    snprintf(clip_path, sizeof clip_path, "%s/../demo/harmonica.wav", TEST_SOURCE_DIR);
    sig = live_load_clip(clip_path, RATE, &sig_len);
    CHECK(sig != NULL, "demo/harmonica.wav: %s", adv_error());
    if (!m || !sig) return tu_finish("lv2_jalv");
    const double clip_s = 3.7, budget_s = 3.0, L_s = clip_s + budget_s;
    const double at_switch = 0.5 + 3 * clip_s, at_bypass = at_switch + 2 * clip_s + L_s + 0.5, at_end = at_bypass + 1.5;
    rec_cap = (long)((at_end + 2) * RATE);
    rec = calloc((size_t)rec_cap, sizeof(float));

    char jlog[1300], plog[1300];
    snprintf(jlog, sizeof jlog, "%s/jackd.log", dir);
    snprintf(plog, sizeof plog, "%s/jalv.log", dir);
    char *jargv[] = {"jackd", "-n", "advinst-test", "-d", "dummy", "-r", "48000", "-p", "512", NULL};
    jackd_pid = spawn(jargv, jlog, NULL);
    jack_status_t st;
    for (int i = 0; i < 100 && !player; i++) {
        sleep_s(0.1);
        player = jack_client_open("player", JackNoStartServer | JackServerName, &st, "advinst-test");
    }
    CHECK(player != NULL, "jackd did not start (see %s)", jlog);
    if (!player) return tu_finish("lv2_jalv");
    recorder = jack_client_open("recorder", JackNoStartServer | JackServerName, &st, "advinst-test");
    play_port = jack_port_register(player, "out", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
    rec_port = jack_port_register(recorder, "in", JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
    jack_set_process_callback(player, play_process, NULL);
    jack_set_process_callback(recorder, rec_process, NULL);
    jack_set_xrun_callback(player, on_xrun, NULL);
    jack_activate(player);
    jack_activate(recorder);

    /* stdbuf: jalv's console output line by line, though it goes to a file */
    char *pargv[] = {"stdbuf", "-oL", "jalv", "-n", "advinst-lv2", "-x", URI, NULL};
    jalv_pid = spawn(pargv, plog, &jalv_in);
    CHECK(connect_jalv(), "jalv did not start the plugin or its ports could not be connected (see %s)", plog);
    if (!jack_port_connected(rec_port)) return tu_finish("lv2_jalv");
    /* The plugin's latency as jalv's "monitors" command shows its latency port. jalv 1.6.6
     * (Debian 12) does not pass it on to JACK's capture latency of its outputs (its latency
     * callback sets the range of the ports it read it from), so JACK's port latency cannot be
     * checked here. */
    long L = 0;
    for (int i = 0; i < 50 && L == 0; i++) {
        fprintf(jalv_in, "monitors\n");
        fflush(jalv_in);
        sleep_s(0.1);
        FILE *f = fopen(plog, "r");
        char line[512];
        while (f && fgets(line, sizeof line, f)) {
            const char *v = !strncmp(line, "> ", 2) ? line + 2 : line;   /* after jalv's prompt */
            if (!strncmp(v, "latency = ", 10)) L = lround(atof(v + 10));
        }
        if (f) fclose(f);
    }
    const long N = lround(clip_s * RATE);
    CHECK(L == N + lround(budget_s * RATE), "latency port %ld, expected %ld", L, N + lround(budget_s * RATE));
    if (L == 0) return tu_finish("lv2_jalv");

    const int T1 = 6, T2 = 4;   /* glockenspiel (C&W), then electric_guitar (MS-C&W) */
    atomic_store(&xruns, 0);   /* from here on: jalv's start-up (libraries, instantiation) is not the plugin's audio thread */
    atomic_store(&start_frame, (int64_t)jack_frame_time(player) + 1024);
    const double t_play = now();
    sleep_s(0.5 - (now() - t_play));
    set("confidence", 0.5);   /* a margin: the fades at clip ends cannot undo a barely successful attack */
    set("target", T1);
    const double t_target1 = now() - t_play;
    sleep_s(at_switch - (now() - t_play));
    set("method", 2);
    set("alpha", 10);
    set("target", T2);
    const double t_target2 = now() - t_play;
    sleep_s(at_bypass - (now() - t_play));
    set("enabled", 0);
    const double t_bypass = now() - t_play;
    sleep_s(at_end - (now() - t_play));
    const long n = atomic_load(&rec_max) < rec_cap ? atomic_load(&rec_max) : rec_cap;
    CHECK(atomic_load(&xruns) == 0, "%ld xruns", atomic_load(&xruns));
    jack_deactivate(player);
    jack_deactivate(recorder);

    live_recording r = {rec, sig, n, sig_len, L};
    const long first = live_first_perturbed(&r);
    CHECK(first >= 0, "no perturbation in the recording (see %s)", plog);
    CHECK(first < 0 || first - L > (long)(t_target1 * RATE) - N - RATE / 20,
          "a clip before the first target was perturbed (at %.2f s, target at %.2f s)", (double)(first - L) / RATE, t_target1);
    CHECK(live_exact_from(&r, L + (long)((t_bypass + 0.3) * RATE)), "bypassed output is not the delayed input bit for bit");

    const long grid = live_clip_grid(&r, N, RATE);
    adv_classifier *c = adv_classifier_create(m, RATE, N);
    float *clean = malloc(sizeof(float) * N);
    int hits[2] = {0, 0}, perturbed[2] = {0, 0};
    for (long s = L + grid; s + N <= n; s += N) {
        double e = 0;
        for (long i = 0; i < N; i++) {
            clean[i] = sig[(s + i - L) % sig_len];
            e += (double)(rec[s + i] - clean[i]) * (rec[s + i] - clean[i]);
        }
        if (e == 0) continue;
        const double at = (double)(s - L) / RATE;
        if (fabs(at + clip_s - t_target2) < 0.05) continue;   /* settings taken at clip completion */
        const int phase = at + clip_s > t_target2 ? 1 : 0, want = phase ? T2 : T1;
        float conf, conf0;
        const int pred = live_classify(c, rec + s, &conf), pred0 = live_classify(c, clean, &conf0);
        const double snr = adv_snr_db(clean, rec + s, N);
        printf("clip at %.2f s (%s): %s %.2f -> %s %.2f, SNR %.1f dB\n", at, phase ? "mscw" : "cw", m->classes[pred0], conf0,
               m->classes[pred], conf, snr);
        perturbed[phase]++;
        if (pred == want && snr >= 35) hits[phase]++;
    }
    CHECK(hits[0] >= 1, "C&W: %d of %d perturbed clips classify as %s with SNR >= 35 dB", hits[0], perturbed[0], m->classes[T1]);
    CHECK(hits[1] >= 1, "MS-C&W: %d of %d perturbed clips classify as %s with SNR >= 35 dB", hits[1], perturbed[1],
          m->classes[T2]);
    printf("jalv: C&W hits %d/%d, MS-C&W hits %d/%d, xruns %ld, latency %ld, %.1f s in all\n", hits[0], perturbed[0],
           hits[1], perturbed[1], atomic_load(&xruns), L, now() - t_start);

    jack_client_close(player);
    jack_client_close(recorder);
    cleanup();
    adv_classifier_free(c);
    adv_model_free(m);
    free(clean);
    free(rec);
    free(sig);
    return tu_finish("lv2_jalv");
}
