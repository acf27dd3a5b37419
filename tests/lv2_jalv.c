/* The LV2 plugin live in jalv (a JACK host offering a worker, state and log) on a private jackd
 * with the dummy backend (48 kHz, 256 frames), both started by this test and stopped by PID: the
 * checks of the JACK client's end-to-end test (tests/test_live_jack.c) on the plugin.
 *   A player client plays the harmonica clip (looped) into the plugin, a recorder records its
 *   output; jalv's console sets a target (C&W, the shipped defaults: accordion), then switches to
 *   Multi-Scale C&W at the values of the preset live-mscw (alpha 100, 500 iterations a second) and
 *   another target (female singing), as tests/test_live_jack.c does, then disables the plugin
 *   (bypass). The preset's values are set port by port: jalv's `preset` command pauses the audio
 *   (a gap in the plugin's timeline). The attack runs on jalv's worker thread (LV2 Worker: the plugin's run() asks it for
 *   slices of attack work). The recording is aligned by the latency the plugin reports (its
 *   latency port, as jalv prints it).
 * Checks: the latency is the engine's default 2 s; the output is the delayed input bit for bit
 * before the target could reach it and in bypass; in each attack phase, once the look-ahead has
 * filled, the 3.7 s windows every 0.1 s of the output (each classified on its own) are heard as the
 * phase's target at least MIN_HIT_RATE of the time, at an SNR of at least MIN_SNR_DB; the attack ran
 * on jalv's worker; jalv has a real-time thread, and the engine's part of run() never spends more
 * than a quarter of a period of CPU (the plugin logs it when jalv closes it); the output's latency
 * moves only with an xrun. Xruns are counted and set beside the machine's stalls, not failed (see
 * tests/test_live_jack.c). */
#include "testutil.h"
#include "live_check.h"
#include "live_jack_io.h"
#include "sched_probe.h"
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
#define MIN_HIT_RATE 0.8
#define MIN_SNR_DB 30.0
#define PHASE_SECONDS 10.0
#define STALL_S 0.0025   /* a wake-up this late is a stall of the machine (the period is 5.3 ms) */
#define MAX_CPU_US 1333.0 /* the engine's audio-thread work in 99 % of the periods: at most a quarter of one */
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

/* ---- player and recorder (tests/live_jack_io.c) ---- */

static live_jack_io io;

/* Connects player -> plugin -> recorder once jalv has activated its client (15 s at most). */
static int connect_jalv(void)
{
    int in = 0, out = 0;
    for (int i = 0; i < 300 && !(in && out); i++) {
        sleep_s(0.05);
        if (!in) in = jack_connect(io.player, "player:out", "advinst-lv2:in") == 0;
        if (!out) out = jack_connect(io.recorder, "advinst-lv2:out", "recorder:in") == 0;
    }
    /* jack_connect returns before the graph has the connection */
    for (int i = 0; i < 100 && in && out && !(jack_port_connected(io.play_port) && jack_port_connected(io.rec_port)); i++)
        sleep_s(0.02);
    return in && out && jack_port_connected(io.play_port) && jack_port_connected(io.rec_port);
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
    long sig_len;
    float *sig = live_load_clip(clip_path, RATE, &sig_len);
    CHECK(sig != NULL, "demo/harmonica.wav: %s", adv_error());
    if (!m || !sig) return tu_finish("lv2_jalv");
    const int T1 = adv_model_class_index(m, "accordion"), T2 = adv_model_class_index(m, "female_singing");
    const long L_expected = live_default_latency(RATE);
    const double L_s = (double)L_expected / RATE;
    /* timeline (seconds after play starts): target 1 at 1, switch after a phase, bypass after
     * another, end once the bypassed output has come out */
    const double at_target = 1.0, at_switch = at_target + PHASE_SECONDS, at_bypass = at_switch + PHASE_SECONDS,
                 at_end = at_bypass + L_s + 1.5;

    char jlog[1300], plog[1300];
    snprintf(jlog, sizeof jlog, "%s/jackd.log", dir);
    snprintf(plog, sizeof plog, "%s/jalv.log", dir);
    char *jargv[] = {"jackd", "-n", "advinst-test", "-d", "dummy", "-r", "48000", "-p", "256", NULL};
    jackd_pid = spawn(jargv, jlog, NULL);
    const int opened = live_jack_io_open(&io, "advinst-test", sig, sig_len, (long)((at_end + 2) * RATE)) == 0;
    CHECK(opened, "jackd did not start (see %s)", jlog);
    if (!opened) return tu_finish("lv2_jalv");

    /* stdbuf: jalv's console output line by line, though it goes to a file */
    char *pargv[] = {"stdbuf", "-oL", "jalv", "-n", "advinst-lv2", "-x", URI, NULL};
    jalv_pid = spawn(pargv, plog, &jalv_in);
    const int connected = connect_jalv();
    CHECK(connected, "jalv did not start the plugin or its ports could not be connected (see %s)", plog);
    if (!connected) return tu_finish("lv2_jalv");
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
    CHECK(L == L_expected, "latency port %ld, expected the engine's default %ld", L, L_expected);
    /* jalv offers a worker: the plugin says (its log) that the attack runs on it */
    int on_worker = 0;
    FILE *lf = fopen(plog, "r");
    char line[512];
    while (lf && fgets(line, sizeof line, lf)) on_worker |= strstr(line, "attack on the host's worker") != NULL;
    if (lf) fclose(lf);
    CHECK(on_worker, "the plugin did not run its attack on jalv's worker (see %s)", plog);
    if (L == 0) return tu_finish("lv2_jalv");

    atomic_store(&io.xruns, 0);   /* from here on: jalv's start-up (libraries, instantiation) is not the plugin's audio thread */
    const int probe_rt = sched_probe_start(STALL_S) == 0;
    live_jack_io_start(&io);
    const double t_play = now();
    sleep_s(at_target - (now() - t_play));
    set("target", T1);
    const double t1 = now() - t_play;
    sleep_s(at_switch - (now() - t_play));
    set("method", 2);   /* the preset live-mscw: MS-C&W at its live weight */
    set("alpha", 100);
    set("iterations", 500);
    set("target", T2);
    const double t2 = now() - t_play;
    sleep_s(at_bypass - (now() - t_play));
    set("enabled", 0);
    const double t3 = now() - t_play;
    sleep_s(at_end - (now() - t_play));
    const long n = live_jack_io_frames(&io);
    const int rt_threads = live_rt_threads(jalv_pid);
    sched_probe_stop();
    CHECK(rt_threads >= 1, "jalv has no real-time thread (its JACK process thread): %d", rt_threads);
    const long xr = atomic_load(&io.xruns), unexplained = live_jack_io_unexplained_xruns(&io);
    jack_deactivate(io.player);
    jack_deactivate(io.recorder);
    /* jalv closed (SIGTERM): the plugin's cleanup logs what its audio-thread work cost */
    if (jalv_in) { fclose(jalv_in); jalv_in = NULL; }
    stop(&jalv_pid, SIGTERM);
    double cpu_mean = -1, cpu_p99 = -1, cpu_max = -1;
    const int cpu_ok = live_log_cpu(plog, &cpu_mean, &cpu_p99, &cpu_max) == 0;
    CHECK(cpu_ok && cpu_p99 <= MAX_CPU_US, "the plugin's audio-thread work: 99 %% of the periods under %.0f us of CPU (at most %.0f us wanted; see %s)",
          cpu_p99, MAX_CPU_US, plog);

    /* out[k] = in[k - L] + perturbation, k in frames since play */
    live_recording r = {.rec = io.rec, .sig = sig, .n = n, .sig_len = sig_len, .L = L};
    /* an xrun may shift the recording by whole periods: followed, its glitch left out; no shift
     * without an xrun */
    const int shifts = live_track_lag(&r, 256, 16);
    CHECK(shifts >= 0 && shifts <= xr, "the output's latency moved %d times with %ld xruns", shifts, xr);
    /* periods no lag fits (a stale or partial period): a few per xrun, none without one */
    CHECK(r.glitches <= GLITCHES_PER_XRUN * xr, "%d periods of the output fit no latency, with %ld xruns", r.glitches, xr);
    const long first = live_first_perturbed(&r);
    CHECK(first >= 0, "no perturbation in the recording (see %s)", plog);
    /* the attack may reach back into the input not yet played when the target came: at most the
     * latency minus its safety margin (0.3 s); jalv applies a console command within a period */
    CHECK(first < 0 || first - L >= (long)((t1 - (L_s - 0.3) - 0.05) * RATE),
          "output perturbed before the target could reach it (input time %.2f s, target at %.2f s)",
          (double)(first - L) / RATE, t1);
    CHECK(live_exact_from(&r, L + (long)((t3 + 0.1) * RATE)), "bypassed output is not the delayed input bit for bit");

    /* each phase as a listener hears it: windows wholly inside output made of the phase's input */
    const double phase_from[2] = {t1, t2}, phase_to[2] = {t2, t3};
    const int want[2] = {T1, T2};
    const char *name[2] = {"C&W", "MS-C&W"};
    for (int ph = 0; ph < 2; ph++) {
        const long from = L + (long)(phase_from[ph] * RATE), to_k = L + (long)(phase_to[ph] * RATE);
        long windows;
        const double hit = live_hit_rate(&r, m, RATE, from, to_k, want[ph], &windows), snr = live_snr_db(&r, from, to_k);
        printf("jalv %s -> %s: %.1f %% of %ld windows heard as the target, SNR %.1f dB\n", name[ph], m->classes[want[ph]],
               100 * hit, windows, snr);
        CHECK(windows >= 40, "%s: only %ld windows judged", name[ph], windows);
        CHECK(hit >= MIN_HIT_RATE, "%s: %.1f %% of the windows heard as %s (at least %.0f %% wanted)", name[ph], 100 * hit,
              m->classes[want[ph]], 100 * MIN_HIT_RATE);
        CHECK(snr >= MIN_SNR_DB, "%s: SNR %.1f dB (at least %.0f dB wanted)", name[ph], snr, MIN_SNR_DB);
    }
    printf("jalv: the plugin's audio-thread work, CPU per period of %.0f us: mean %.1f us, 99 %% under %.0f us, longest %.0f us\n",
           256e6 / RATE, cpu_mean, cpu_p99, cpu_max);
    printf("jalv: xruns %ld (%d shifts of the recording, %d glitched periods left out), %ld of them with no stall of the machine around them (probe %s: %d wake-ups over %.1f ms "
           "late, the latest %.1f ms), latency %ld, %.1f s in all\n",
           xr, shifts, r.glitches, unexplained, probe_rt ? "real-time" : "NOT real-time", sched_probe_stalls(), 1e3 * STALL_S,
           1e3 * sched_probe_max(), L, now() - t_start);

    live_recording_free(&r);
    live_jack_io_close(&io);
    cleanup();
    adv_model_free(m);
    free(sig);
    return tu_finish("lv2_jalv");
}
