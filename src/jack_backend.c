/* The JACK client of `advinst live` (see include/advinst/live.h): ports, the process callback
 * (optionally fed from a file and recorded into a ring), latency reporting, xrun counting and
 * server shutdown. The callbacks only copy, count and store atomics. */
#include "advinst/live.h"
#include "advinst/error.h"
#include <jack/jack.h>
#include <jack/ringbuffer.h>
#include <stdatomic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCRATCH 8192   /* frames per engine call when the input comes from a file */
#define STACK_TOUCH (128 * 1024)   /* bytes of stack pre-faulted in each of our JACK threads */

struct adv_jack {
    jack_client_t *client;
    jack_port_t *in[ADV_LIVE_MAX_CHANNELS], *out[ADV_LIVE_MAX_CHANNELS];
    int channels;
    adv_live *engine;
    char *connect_in, *connect_out;
    /* input file */
    const float *file;
    long file_frames, file_pos;
    int loop;
    float *file_scratch[ADV_LIVE_MAX_CHANNELS];
    atomic_int input_done;
    /* recording */
    jack_ringbuffer_t *rec;
    float *rec_scratch;
    atomic_long rec_overflows;
    atomic_int lost;
    atomic_int active;
    _Atomic uint64_t frames;
    atomic_long xruns;
};

int adv_jack_rate(const adv_jack *j) { return (int)jack_get_sample_rate(j->client); }
uint32_t adv_jack_buffer_size(const adv_jack *j) { return jack_get_buffer_size(j->client); }
int adv_jack_lost(const adv_jack *j) { return atomic_load(&((adv_jack *)j)->lost); }
uint64_t adv_jack_frames(const adv_jack *j) { return atomic_load(&((adv_jack *)j)->frames); }
int adv_jack_input_done(const adv_jack *j) { return atomic_load(&((adv_jack *)j)->input_done); }
long adv_jack_xruns(const adv_jack *j) { return atomic_load(&((adv_jack *)j)->xruns); }

/* Fills the file scratch with the next n frames of the input file (then silence, or looped). */
static void read_file(adv_jack *j, uint32_t n)
{
    const int C = j->channels;
    for (uint32_t i = 0; i < n; i++) {
        if (j->file_pos >= j->file_frames) {
            if (j->loop && j->file_frames > 0) {
                j->file_pos = 0;
            } else {
                for (int c = 0; c < C; c++) j->file_scratch[c][i] = 0;
                atomic_store(&j->input_done, 1);
                continue;
            }
        }
        for (int c = 0; c < C; c++) j->file_scratch[c][i] = j->file[(size_t)j->file_pos * C + c];
        j->file_pos++;
    }
}

static int process(jack_nframes_t nframes, void *arg)
{
    adv_jack *j = arg;
    const int C = j->channels;
    const float *in[ADV_LIVE_MAX_CHANNELS];
    float *out[ADV_LIVE_MAX_CHANNELS];
    for (int c = 0; c < C; c++) {
        in[c] = jack_port_get_buffer(j->in[c], nframes);
        out[c] = jack_port_get_buffer(j->out[c], nframes);
    }
    for (jack_nframes_t off = 0; off < nframes;) {
        uint32_t n = nframes - off < SCRATCH ? nframes - off : SCRATCH;
        const float *src[ADV_LIVE_MAX_CHANNELS];
        float *dst[ADV_LIVE_MAX_CHANNELS];
        if (j->file) read_file(j, n);
        for (int c = 0; c < C; c++) {
            src[c] = j->file ? j->file_scratch[c] : in[c] + off;
            dst[c] = out[c] + off;
        }
        adv_live_process(j->engine, src, dst, n);
        if (j->rec) {
            for (uint32_t i = 0; i < n; i++)
                for (int c = 0; c < C; c++) j->rec_scratch[(size_t)i * C + c] = dst[c][i];
            size_t bytes = sizeof(float) * n * C;
            if (jack_ringbuffer_write_space(j->rec) >= bytes)
                jack_ringbuffer_write(j->rec, (const char *)j->rec_scratch, bytes);
            else
                atomic_fetch_add(&j->rec_overflows, 1);
        }
        off += n;
    }
    atomic_fetch_add_explicit(&j->frames, nframes, memory_order_release);
    return 0;
}

/* Runs in each JACK thread of ours before its first callback, the process thread included: touches
 * the stack the callbacks will use, so that their first calls do not page-fault. */
static void thread_init(void *arg)
{
    (void)arg;
    volatile char stack[STACK_TOUCH];
    for (size_t i = 0; i < sizeof stack; i += 256) stack[i] = 0;
}

/* Our outputs are our inputs delayed by the engine's latency, in both directions. */
static void latency(jack_latency_callback_mode_t mode, void *arg)
{
    adv_jack *j = arg;
    const jack_nframes_t L = (jack_nframes_t)adv_live_latency(j->engine);
    for (int c = 0; c < j->channels; c++) {
        jack_latency_range_t r;
        if (mode == JackCaptureLatency) {
            jack_port_get_latency_range(j->in[c], JackCaptureLatency, &r);
            r.min += L;
            r.max += L;
            jack_port_set_latency_range(j->out[c], JackCaptureLatency, &r);
        } else {
            jack_port_get_latency_range(j->out[c], JackPlaybackLatency, &r);
            r.min += L;
            r.max += L;
            jack_port_set_latency_range(j->in[c], JackPlaybackLatency, &r);
        }
    }
}

static int xrun(void *arg)
{
    adv_jack *j = arg;
    atomic_fetch_add(&j->xruns, 1);
    if (j->engine) adv_live_count_xrun(j->engine);
    return 0;
}

static int buffer_size(jack_nframes_t n, void *arg)
{
    (void)n;
    (void)arg;
    return 0;   /* the engine takes any period size */
}

static void shutdown_cb(jack_status_t code, const char *reason, void *arg)
{
    (void)code;
    (void)reason;
    atomic_store(&((adv_jack *)arg)->lost, 1);
}

/* libjack prints its own diagnostics (several lines per failed connection, more when the server
 * dies): they are dropped, so that a failure is the one line advinst prints, and a reconnecting
 * client does not fill the log every second. */
static void jack_message(const char *msg) { (void)msg; }

adv_jack *adv_jack_open(const adv_jack_options *o)
{
    if (o->channels < 1 || o->channels > ADV_LIVE_MAX_CHANNELS) {
        adv_fail("jack: channels must be 1 or 2");
        return NULL;
    }
    adv_jack *j = adv_rt_alloc(sizeof *j);   /* the process callback's state */
    if (!j) { adv_fail("out of memory"); return NULL; }
    j->channels = o->channels;
    jack_set_error_function(jack_message);
    jack_set_info_function(jack_message);
    jack_options_t opts = JackNullOption;
    if (o->no_start_server) opts |= JackNoStartServer;
    if (o->server_name) opts |= JackServerName;
    jack_status_t status = 0;
    const char *name = o->client_name ? o->client_name : "advinst";
    j->client = o->server_name ? jack_client_open(name, opts, &status, o->server_name) : jack_client_open(name, opts, &status);
    if (!j->client) {
        adv_fail("cannot connect to the JACK server%s%s%s (status 0x%x): is jackd running?",
                 o->server_name ? " \"" : "", o->server_name ? o->server_name : "", o->server_name ? "\"" : "",
                 (unsigned)status);
        adv_rt_free(j, sizeof *j);
        return NULL;
    }
    jack_set_thread_init_callback(j->client, thread_init, NULL);
    for (int c = 0; c < j->channels; c++) {
        char in_name[16], out_name[16];
        if (j->channels == 1) {
            snprintf(in_name, sizeof in_name, "in");
            snprintf(out_name, sizeof out_name, "out");
        } else {
            snprintf(in_name, sizeof in_name, "in_%d", c + 1);
            snprintf(out_name, sizeof out_name, "out_%d", c + 1);
        }
        j->in[c] = jack_port_register(j->client, in_name, JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
        j->out[c] = jack_port_register(j->client, out_name, JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
        if (!j->in[c] || !j->out[c]) {
            adv_fail("jack: cannot register ports");
            adv_jack_close(j);
            return NULL;
        }
    }
    if (o->connect_in) j->connect_in = strdup(o->connect_in);
    if (o->connect_out) j->connect_out = strdup(o->connect_out);
    return j;
}

int adv_jack_set_input(adv_jack *j, const float *interleaved, long frames, int loop)
{
    for (int c = 0; c < j->channels; c++) {
        if (!j->file_scratch[c]) j->file_scratch[c] = adv_rt_alloc(sizeof(float) * SCRATCH);
        if (!j->file_scratch[c]) return adv_fail("out of memory");
    }
    j->file = interleaved;
    j->file_frames = frames;
    j->loop = loop;
    return 0;
}

int adv_jack_enable_record(adv_jack *j, double seconds)
{
    size_t frames = (size_t)(seconds * jack_get_sample_rate(j->client)) + SCRATCH;
    j->rec = jack_ringbuffer_create(frames * sizeof(float) * j->channels);
    j->rec_scratch = adv_rt_alloc(sizeof(float) * SCRATCH * j->channels);
    if (!j->rec || !j->rec_scratch) return adv_fail("out of memory for recording");
    memset(j->rec->buf, 0, j->rec->size);
    jack_ringbuffer_mlock(j->rec);
    return 0;
}

long adv_jack_read_record(adv_jack *j, float *buf, long max_frames)
{
    if (!j->rec) return 0;
    size_t frame_bytes = sizeof(float) * j->channels;
    size_t n = jack_ringbuffer_read_space(j->rec) / frame_bytes;
    if (n > (size_t)max_frames) n = (size_t)max_frames;
    jack_ringbuffer_read(j->rec, (char *)buf, n * frame_bytes);
    return (long)n;
}

/* Connects each port named in the comma-separated list to channel i (the last one for extras). */
static void connect_list(adv_jack *j, const char *list, int inputs)
{
    if (!list || !*list) return;
    char *copy = strdup(list), *save = NULL;
    int i = 0;
    for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save), i++) {
        jack_port_t *ours = inputs ? j->in[i < j->channels ? i : j->channels - 1]
                                   : j->out[i < j->channels ? i : j->channels - 1];
        const char *mine = jack_port_name(ours);
        int rc = inputs ? jack_connect(j->client, p, mine) : jack_connect(j->client, mine, p);
        if (rc != 0 && rc != EEXIST)
            fprintf(stderr, "advinst live: warning: cannot connect %s %s %s\n", inputs ? p : mine, "->",
                    inputs ? mine : p);
    }
    free(copy);
}

int adv_jack_activate(adv_jack *j, adv_live *engine)
{
    j->engine = engine;
    jack_set_process_callback(j->client, process, j);
    jack_set_latency_callback(j->client, latency, j);
    jack_set_xrun_callback(j->client, xrun, j);
    jack_set_buffer_size_callback(j->client, buffer_size, j);
    jack_on_info_shutdown(j->client, shutdown_cb, j);
    if (jack_activate(j->client) != 0) return adv_fail("jack: cannot activate the client");
    atomic_store(&j->active, 1);
    jack_recompute_total_latencies(j->client);
    connect_list(j, j->connect_in, 1);
    connect_list(j, j->connect_out, 0);
    return 0;
}

void adv_jack_close(adv_jack *j)
{
    if (!j) return;
    if (j->client) {
        if (atomic_load(&j->active) && !atomic_load(&j->lost)) jack_deactivate(j->client);
        jack_client_close(j->client);
    }
    for (int c = 0; c < ADV_LIVE_MAX_CHANNELS; c++) adv_rt_free(j->file_scratch[c], sizeof(float) * SCRATCH);
    if (j->rec) jack_ringbuffer_free(j->rec);
    adv_rt_free(j->rec_scratch, sizeof(float) * SCRATCH * j->channels);
    free(j->connect_in);
    free(j->connect_out);
    adv_rt_free(j, sizeof *j);
}
