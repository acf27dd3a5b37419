/* `advinst live` end to end on a private jackd with the dummy backend (48 kHz, 256 frames), both
 * started by this test and stopped by PID:
 *   a player client plays the shipped harmonica demo clip (looped) into advinst:in, a recorder
 *   client records advinst:out; OSC subscribes, sends bad messages (an error each, nothing
 *   changes), sets a target with C&W, then switches to Multi-Scale C&W (the preset live-mscw) and
 *   another target, then bypasses. The recording is aligned by the latency advinst reports to JACK.
 * Checks, as a listener hears it: in each attack phase, once the look-ahead has filled, the 3.7 s
 * windows every 0.1 s of the output (each classified on its own) are heard as the phase's target
 * at least MIN_HIT_RATE of the time, at an SNR of at least MIN_SNR_DB; every /advinst/attack
 * report of a phase names its target with status ok or failed (none missed); the output is the
 * delayed input bit for bit before the first target (up to the look-ahead the attack may use) and
 * in bypass; the reported latency is the default 2 s; advinst has a real-time thread, and its
 * audio thread never spends more than a quarter of a period of CPU; the output's latency moves
 * only with an xrun; killing the server makes advinst exit with code 5.
 * Xruns are counted, not failed: on a virtual machine the host sometimes does not run a virtual
 * CPU for 3-7 ms, longer than a period, whatever the graph does; a real-time probe
 * (tests/sched_probe.h) shows those stalls beside them. An xrun can shift the recording by whole
 * periods (JACK skips or repeats a cycle of some clients): live_track_lag follows it and leaves the
 * glitch out of the checks. */
#include "testutil.h"
#include "live_check.h"
#include "live_jack_io.h"
#include "sched_probe.h"
#include "advinst/error.h"
#include "advinst/live.h"
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
#define MIN_HIT_RATE 0.8
#define MIN_SNR_DB 30.0
#define PHASE_SECONDS 10.0
#define STALL_S 0.0025   /* a wake-up this late is a stall of the machine (the period is 5.3 ms) */
#define MAX_CPU_US 1333.0 /* the engine's audio-thread work in 99 % of the periods: at most a quarter of one */

static pid_t jackd_pid = -1, live_pid = -1;

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

/* ---- player and recorder (JACK clients of this process: tests/live_jack_io.c) ---- */

static live_jack_io io;

/* ---- OSC feedback ---- */

typedef struct {
    int errors, states, last_version;
    int reports[2], wrong_target[2], bad_status[2], missed[2];
    double switch_at;            /* input time (s since play) of the phase switch; reports before it: phase 0 */
    char target[2][32];
} feedback;
static feedback fb;

static int on_osc(const char *path, const char *types, lo_arg **argv, int argc, lo_message msg, void *user)
{
    (void)argc;
    (void)msg;
    (void)user;
    if (!strcmp(path, "/advinst/error")) fb.errors++;
    else if (!strcmp(path, "/advinst/state") && !strcmp(types, "ssfffiisifff")) { fb.states++; fb.last_version = argv[8]->i; }
    else if (!strcmp(path, "/advinst/attack") && !strcmp(types, "isfisii")) {
        /* segment number x 0.2 s = its input time since advinst started; the player started at
         * about the same time (both clocks are JACK's): a report within 0.5 s of the switch is
         * not counted (its phase is ambiguous) */
        const double at = argv[0]->i * 0.2 - 0.1;
        if (fb.switch_at > 0 && fabs(at - fb.switch_at) < 0.5) return 0;
        const int phase = fb.switch_at > 0 && at > fb.switch_at;
        const char *status = &argv[1]->s;
        fb.reports[phase]++;
        /* an ok segment is heard as the target; silent input is played clean (the demo clip's gaps) */
        if (!strcmp(status, "ok") && strcmp(&argv[4]->s, fb.target[phase])) fb.wrong_target[phase]++;
        if (!strcmp(status, "miss")) fb.missed[phase]++;
        else if (strcmp(status, "ok") && strcmp(status, "failed") && strcmp(status, "silent")) fb.bad_status[phase]++;
        if (getenv("TEST_LIVE_VERBOSE"))
            fprintf(stderr, "segment %d (%.1f s): %s, SNR %.1f dB, %d iterations, heard %s, %d/%d windows\n", argv[0]->i, at,
                    status, argv[2]->f, argv[3]->i, &argv[4]->s, argv[6]->i, argv[5]->i);
    }
    return 0;
}

static void pump(lo_server s, double seconds)
{
    double end = now() + seconds;
    while (now() < end) lo_server_recv_noblock(s, 10);
}

int main(void)
{
    const double t_start = now();
    const char *dir = tu_scratch_dir("test_live_jack");
    const char *bin = getenv("ADVINST_LIVE_BINARY") ? getenv("ADVINST_LIVE_BINARY") : ADVINST_BINARY;
    /* one fixed name: JACK reclaims the shared-memory registry slot of a dead server of the same
     * name, while a new name per run would fill the registry (8 servers) after killed servers */
    const char *server = "advinst-test";
    setenv("JACK_NO_START_SERVER", "1", 1);
    setenv("JACK_NO_AUDIO_RESERVATION", "1", 1);
    atexit(cleanup);

    const char *model_path = adv_default_model_path();
    CHECK(model_path != NULL, "the shipped model models/default.safetensors is missing");
    adv_model *m = model_path ? adv_model_load(model_path) : NULL;
    CHECK(m != NULL, "model: %s", adv_error());
    char clip_path[1200];
    snprintf(clip_path, sizeof clip_path, "%s/../demo/harmonica.wav", TEST_SOURCE_DIR);
    long sig_len;
    float *x48 = live_load_clip(clip_path, RATE, &sig_len);
    CHECK(x48 != NULL, "%s: %s", clip_path, adv_error());
    if (!m || !x48) return tu_finish("test_live_jack");
    const int T1 = adv_model_class_index(m, "accordion"), T2 = adv_model_class_index(m, "female_singing");
    snprintf(fb.target[0], sizeof fb.target[0], "%s", m->classes[T1]);
    snprintf(fb.target[1], sizeof fb.target[1], "%s", m->classes[T2]);
    const double L_s = 2.0;
    /* timeline (seconds after play starts): target 1 at 1, switch after a phase, bypass after
     * another, end once the bypassed output has come out */
    const double at_target = 1.0, at_switch = at_target + PHASE_SECONDS, at_bypass = at_switch + PHASE_SECONDS,
                 at_end = at_bypass + L_s + 1.5;

    /* the server */
    char jlog[1300], llog[1300];
    snprintf(jlog, sizeof jlog, "%s/jackd.log", dir);
    snprintf(llog, sizeof llog, "%s/live.log", dir);
    char *jargv[] = {"jackd", "-n", (char *)server, "-d", "dummy", "-r", "48000", "-p", "256", NULL};
    const int probe_rt = sched_probe_start(STALL_S) == 0;
    jackd_pid = spawn(jargv, jlog);
    const int opened = live_jack_io_open(&io, server, x48, sig_len, (long)((at_end + 2) * RATE)) == 0;
    CHECK(opened, "jackd did not start (see %s)", jlog);
    if (!opened) return tu_finish("test_live_jack");

    /* advinst live, the shipped defaults */
    char *largv[] = {(char *)bin, "live", "--server", (char *)server, "--name", "advinst", "--osc-port", "0", "--quiet",
                     "--connect-in", "player:out", "--connect-out", "recorder:in", NULL};
    live_pid = spawn(largv, llog);
    int osc_port = 0;
    for (int i = 0; i < 300 && !osc_port; i++) {
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
    for (int i = 0; i < 50 && !(jack_port_connected(io.play_port) && jack_port_connected(io.rec_port)); i++) sleep_s(0.05);
    CHECK(jack_port_connected(io.play_port) && jack_port_connected(io.rec_port), "advinst did not connect the test ports");
    /* JACK recomputes latencies after the connections, asynchronously */
    jack_latency_range_t range = {0, 0};
    for (int i = 0; i < 60 && range.max == 0; i++) {
        jack_port_get_latency_range(io.rec_port, JackCaptureLatency, &range);
        if (range.max == 0) sleep_s(0.05);
    }
    const long L = range.max;
    CHECK(range.min == range.max && L == lround(L_s * RATE), "reported latency [%u, %u], expected %ld", range.min, range.max,
          lround(L_s * RATE));

    lo_server me = lo_server_new(NULL, NULL);
    lo_server_add_method(me, NULL, NULL, on_osc, NULL);
    char port[16];
    snprintf(port, sizeof port, "%d", osc_port);
    lo_address to = lo_address_new("127.0.0.1", port);
    lo_send_from(to, me, LO_TT_IMMEDIATE, "/advinst/subscribe", "");
    pump(me, 0.3);
    CHECK(fb.states == 1, "no /advinst/state after subscribing");
    int v0 = fb.last_version;
    lo_send_from(to, me, LO_TT_IMMEDIATE, "/advinst/eps", "s", "big");
    lo_send_from(to, me, LO_TT_IMMEDIATE, "/advinst/target", "i", 42);
    lo_send_from(to, me, LO_TT_IMMEDIATE, "/advinst/method", "s", "fgsm");
    pump(me, 0.3);
    CHECK(fb.errors == 3 && fb.states == 1 && fb.last_version == v0, "bad messages: %d errors, %d states", fb.errors, fb.states);

    /* play; the engine started before the player: its segment times lead by that much */
    const double engine_lead = (double)live_jack_io_start(&io) / RATE;
    const double t_play = now();
    pump(me, at_target - (now() - t_play));
    lo_send_from(to, me, LO_TT_IMMEDIATE, "/advinst/target", "i", T1);
    const double t1 = now() - t_play;
    pump(me, at_switch - (now() - t_play));
    lo_send_from(to, me, LO_TT_IMMEDIATE, "/advinst/preset", "s", "live-mscw");   /* MS-C&W, its live weight */
    lo_send_from(to, me, LO_TT_IMMEDIATE, "/advinst/target", "s", m->classes[T2]);
    const double t2 = now() - t_play;
    fb.switch_at = t2 + engine_lead;   /* in the engine's time (its segment numbers) */
    (void)engine_lead;
    pump(me, at_bypass - (now() - t_play));
    lo_send_from(to, me, LO_TT_IMMEDIATE, "/advinst/bypass", "i", 1);
    const double t3 = now() - t_play;
    pump(me, at_end - (now() - t_play));
    const long n = live_jack_io_frames(&io);
    const int rt_threads = live_rt_threads(live_pid);
    sched_probe_stop();
    CHECK(rt_threads >= 1, "advinst live has no real-time thread (its JACK process thread): %d", rt_threads);

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
    /* What is advinst's own: its audio thread is real-time (above) and never uses more than a
     * quarter of a period of CPU (its thread's CPU time, which the host not running the virtual
     * CPU does not count); it takes no lock and makes no call that waits (tests/rt_guard_jack.sh).
     * Xruns are the machine's too: counted and set beside the stalls of a real-time probe thread
     * (a virtual CPU not run by the host for milliseconds, longer than a period), not a failure. */
    const long xruns = atomic_load(&io.xruns), unexplained = live_jack_io_unexplained_xruns(&io);
    double cpu_mean = -1, cpu_p99 = -1, cpu_max = -1;
    const int cpu_ok = live_log_cpu(llog, &cpu_mean, &cpu_p99, &cpu_max) == 0;
    CHECK(cpu_ok && cpu_p99 <= MAX_CPU_US, "advinst's audio thread: 99 %% of the periods under %.0f us of CPU (at most %.0f us wanted; see %s)",
          cpu_p99, MAX_CPU_US, llog);

    /* out[k] = in[k - L] + perturbation, k in frames since play */
    live_recording r = {.rec = io.rec, .sig = x48, .n = n, .sig_len = sig_len, .L = L};
    /* an xrun may shift the recording by whole periods: followed, its glitch left out; no shift
     * without an xrun */
    const int shifts = live_track_lag(&r, 256, 16);
    CHECK(shifts >= 0 && shifts <= xruns, "the output's latency moved %d times with %ld xruns", shifts, xruns);
    /* periods no lag fits (a stale or partial period): a few per xrun, none without one */
    CHECK(r.glitches <= GLITCHES_PER_XRUN * xruns, "%d periods of the output fit no latency, with %ld xruns", r.glitches, xruns);
    const long first = live_first_perturbed(&r);
    CHECK(first >= 0, "no perturbation in the recording");
    /* the attack may reach back into the input not yet played when the target came: at most the
     * latency minus its safety margin */
    CHECK(first - L >= (long)((t1 - (L_s - 0.3) - 0.05) * RATE), "output perturbed before the first target could reach it "
          "(input time %.2f s, target at %.2f s)", (double)(first - L) / RATE, t1);
    CHECK(live_exact_from(&r, (long)((t3 + 0.1) * RATE)), "bypassed output is not the delayed input bit for bit");

    /* each phase as a listener hears it: windows wholly inside output made of the phase's input */
    const double phase_from[2] = {t1, t2}, phase_to[2] = {t2, t3};
    const int want[2] = {T1, T2};
    const char *name[2] = {"C&W", "MS-C&W"};
    for (int ph = 0; ph < 2; ph++) {
        const long from = L + (long)(phase_from[ph] * RATE), to_k = L + (long)(phase_to[ph] * RATE);
        long windows;
        double hit = live_hit_rate(&r, m, RATE, from, to_k, want[ph], &windows);
        double snr = live_snr_db(&r, from, to_k);
        printf("%s -> %s: %.1f %% of %ld windows heard as the target, SNR %.1f dB; %d reports (%d missed)\n", name[ph],
               m->classes[want[ph]], 100 * hit, windows, snr, fb.reports[ph], fb.missed[ph]);
        CHECK(windows >= 40, "%s: only %ld windows judged", name[ph], windows);
        CHECK(hit >= MIN_HIT_RATE, "%s: %.1f %% of the windows heard as %s (at least %.0f %% wanted)", name[ph], 100 * hit,
              m->classes[want[ph]], 100 * MIN_HIT_RATE);
        CHECK(snr >= MIN_SNR_DB, "%s: SNR %.1f dB (at least %.0f dB wanted)", name[ph], snr, MIN_SNR_DB);
        CHECK(fb.reports[ph] >= 20, "%s: %d segment reports", name[ph], fb.reports[ph]);
        CHECK(fb.missed[ph] == 0 && fb.bad_status[ph] == 0, "%s: %d missed segments, %d with another status", name[ph],
              fb.missed[ph], fb.bad_status[ph]);
        CHECK(fb.wrong_target[ph] == 0, "%s: %d ok segments heard as another class than %s", name[ph], fb.wrong_target[ph],
              m->classes[want[ph]]);
    }
    printf("advinst's audio thread: CPU per period of %.0f us: mean %.1f us, 99 %% under %.0f us, longest %.0f us\n", 256e6 / RATE,
           cpu_mean, cpu_p99, cpu_max);
    printf("xruns %ld (%d shifts of the recording, %d glitched periods left out), %ld of them with no stall of the machine around them (probe %s: %d wake-ups over %.1f ms late, "
           "the latest %.1f ms), %.1f s in all\n",
           xruns, shifts, r.glitches, unexplained, probe_rt ? "real-time" : "NOT real-time", sched_probe_stalls(), 1e3 * STALL_S,
           1e3 * sched_probe_max(), now() - t_start);

    live_recording_free(&r);
    live_jack_io_close(&io);
    lo_address_free(to);
    lo_server_free(me);
    adv_model_free(m);
    free(x48);
    return tu_finish("test_live_jack");
}
