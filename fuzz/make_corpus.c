/* Writes the seed corpora of the fuzzers (run by fuzz/make-corpus.sh): small valid inputs made by
 * the library's and its dependencies' own writers, and edge cases around each format's checks.
 *   make_corpus OUT_DIR      -> OUT_DIR/{safetensors,audio,preset,dataset_csv,osc,http}/... */
#include "advinst/model.h"
#include "advinst/safetensors.h"
#include <errno.h>
#include <lo/lo.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *out_dir;

static void die(const char *what)
{
    fprintf(stderr, "make_corpus: %s\n", what);
    exit(1);
}

static void put(const char *target, const char *name, const void *data, size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out_dir, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) die(path);
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) die(path);
}

static void put_text(const char *target, const char *name, const char *text) { put(target, name, text, strlen(text)); }

/* A data-set CSV input: the format byte (0 labels.csv, 1 FSDKaggle2019), then the file. */
static void put_csv(const char *name, int fsd, const char *text)
{
    size_t n = strlen(text);
    char *b = malloc(n + 1);
    if (!b) die("memory");
    b[0] = (char)fsd;
    memcpy(b + 1, text, n);
    put("dataset_csv", name, b, n + 1);
    free(b);
}

/* The bytes of a file written by a library writer (which only writes paths). */
static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) die(path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    unsigned char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) die(path);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

/* ---- safetensors ---- */

static void put_st(const char *name, const adv_st *st)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/.tmp.safetensors", out_dir);
    if (adv_st_write(st, tmp) != 0) die("adv_st_write");
    size_t n;
    unsigned char *b = slurp(tmp, &n);
    put("safetensors", name, b, n);
    free(b);
    unlink(tmp);
}

/* A raw file: 8-byte length + header + data bytes. */
static void put_st_raw(const char *name, const char *json, const void *data, size_t dsize)
{
    size_t hlen = strlen(json), n = 8 + hlen + dsize;
    unsigned char *b = malloc(n);
    if (!b) die("memory");
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    memcpy(b + 8, json, hlen);
    if (dsize) memcpy(b + 8 + hlen, data, dsize);
    put("safetensors", name, b, n);
    free(b);
}

static void safetensors_corpus(void)
{
    /* small files of the writer */
    adv_st st = {0};
    float v[6] = {1, 2, 3, 4, 5, 6};
    int64_t s23[2] = {2, 3}, s0[1] = {0};
    int64_t i64 = 7;
    double f64[2] = {0.5, -0.25};
    int32_t i32[3] = {1, -2, 3};
    if (adv_st_add(&st, "a", ADV_DTYPE_F32, 2, s23, v) || adv_st_add(&st, "b", ADV_DTYPE_I64, 0, NULL, &i64) ||
        adv_st_add(&st, "c", ADV_DTYPE_F64, 1, (int64_t[]){2}, f64) ||
        adv_st_add(&st, "d", ADV_DTYPE_I32, 1, (int64_t[]){3}, i32) || adv_st_add(&st, "empty", ADV_DTYPE_F32, 1, s0, NULL) ||
        adv_st_set_meta(&st, "note", "tiny"))
        die("adv_st_add");
    put_st("tiny.safetensors", &st);
    adv_st_free(&st);

    /* the model's small tensors and metadata (the harness completes the rest from a template) */
    adv_model *m = adv_model_create(3);
    adv_st full = {0};
    if (!m || adv_model_to_st(m, &full) != 0) die("model");
    adv_st part = {0};
    for (int i = 0; i < full.count; i++) {
        const adv_tensor *t = &full.tensors[i];
        int small = !strncmp(t->name, "frontend.", 9) || !strcmp(t->name, "conv8.bias") || !strncmp(t->name, "bn1.", 4);
        if (small && adv_st_add(&part, t->name, t->dtype, t->ndim, t->shape, t->data)) die("adv_st_add");
    }
    for (int i = 0; i < full.meta_count; i++)
        if (adv_st_set_meta(&part, full.meta_keys[i], full.meta_values[i])) die("meta");
    put_st("model-part.safetensors", &part);
    adv_st meta = {0};
    for (int i = 0; i < full.meta_count; i++)
        if (adv_st_set_meta(&meta, full.meta_keys[i], full.meta_values[i])) die("meta");
    if (adv_st_set_meta(&meta, "epochs", "60")) die("meta");
    put_st("model-meta.safetensors", &meta);
    adv_st_free(&meta);
    adv_st_free(&part);
    adv_st_free(&full);
    adv_model_free(m);

    /* edge cases of the reader's checks */
    float two[2] = {1, 2};
    put_st_raw("empty-object", "{}", NULL, 0);
    put_st_raw("meta-only", "{\"__metadata__\":{\"k\":\"v\"}}", NULL, 0);
    put_st_raw("meta-not-string", "{\"__metadata__\":{\"k\":1}}", NULL, 0);
    put_st_raw("dup-meta", "{\"__metadata__\":{},\"__metadata__\":{}}", NULL, 0);
    put_st_raw("dup-name", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                           "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", two, 8);
    put_st_raw("overlap", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                          "\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", two, 8);
    put_st_raw("beyond", "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", two, 8);
    put_st_raw("shape-mismatch", "{\"x\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,8]}}", two, 8);
    put_st_raw("bad-dtype", "{\"x\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[0,8]}}", two, 8);
    put_st_raw("huge-shape", "{\"x\":{\"dtype\":\"F32\",\"shape\":[9007199254740992,9007199254740992],"
                             "\"data_offsets\":[0,8]}}", two, 8);
    put_st_raw("neg-offset", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", two, 8);
    put_st_raw("nine-dims", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", two, 8);
    put_st_raw("trailing", "{} x", NULL, 0);
    put_st_raw("not-json", "{\"x\":", NULL, 0);
    put_st_raw("model-name-wrong-shape", "{\"frontend.std\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
               two, 8);
    unsigned char shortfile[6] = {2, 0, 0, 0, 0, 0};
    put("safetensors", "short", shortfile, sizeof shortfile);
    unsigned char longhdr[10] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, '{', '}'};
    put("safetensors", "header-beyond", longhdr, sizeof longhdr);
}

/* ---- audio ---- */

static void put_audio(const char *name, int format, int channels, int rate, long frames, int kind)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/.tmp.audio", out_dir);
    SF_INFO info = {0};
    info.channels = channels;
    info.samplerate = rate;
    info.format = format;
    SNDFILE *sf = sf_open(tmp, SFM_WRITE, &info);
    if (!sf) {
        fprintf(stderr, "make_corpus: skipping %s: %s\n", name, sf_strerror(NULL));
        return;
    }
    sf_command(sf, SFC_SET_ADD_PEAK_CHUNK, NULL, SF_FALSE);   /* no time stamp: reproducible files */
    float *buf = malloc((size_t)(frames ? frames : 1) * channels * sizeof *buf);
    if (!buf) die("memory");
    for (long f = 0; f < frames; f++)
        for (int c = 0; c < channels; c++) {
            float x = 0.5f * sinf(2.0f * 3.14159265f * 440.0f * (c + 1) * (float)f / (float)rate);
            if (kind == 1) x = 3e38f * (c ? -1.0f : 1.0f);      /* finite but absurd (float files) */
            if (kind == 2 && f == frames / 2) x = NAN;
            buf[(size_t)f * channels + c] = x;
        }
    if (kind) sf_command(sf, SFC_SET_NORM_FLOAT, NULL, SF_FALSE);
    if (frames) sf_writef_float(sf, buf, frames);
    sf_close(sf);
    free(buf);
    size_t n;
    unsigned char *b = slurp(tmp, &n);
    put("audio", name, b, n);
    /* the same file cut short: the header promises more than there is */
    if (n > 64) put("audio", strcat(strcpy(tmp, name), "-truncated"), b, n * 2 / 3);
    free(b);
    snprintf(tmp, sizeof tmp, "%s/.tmp.audio", out_dir);
    unlink(tmp);
}

static void audio_corpus(void)
{
    put_audio("pcm16-mono-16k.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 16000, 300, 0);
    put_audio("pcm24-stereo-44k.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_24, 2, 44100, 300, 0);
    put_audio("u8-8k.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 1, 8000, 300, 0);
    put_audio("float-stereo-48k.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 2, 48000, 200, 0);
    put_audio("double-22k.wav", SF_FORMAT_WAV | SF_FORMAT_DOUBLE, 1, 22050, 200, 0);
    put_audio("ima-adpcm.wav", SF_FORMAT_WAV | SF_FORMAT_IMA_ADPCM, 1, 11025, 600, 0);
    put_audio("ms-adpcm-stereo.wav", SF_FORMAT_WAV | SF_FORMAT_MS_ADPCM, 2, 16000, 600, 0);
    put_audio("ulaw.wav", SF_FORMAT_WAV | SF_FORMAT_ULAW, 1, 8000, 300, 0);
    put_audio("gsm610.wav", SF_FORMAT_WAV | SF_FORMAT_GSM610, 1, 8000, 640, 0);
    put_audio("wavex-3ch.wav", SF_FORMAT_WAVEX | SF_FORMAT_PCM_16, 3, 32000, 200, 0);
    put_audio("pcm16.aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_16, 1, 44100, 300, 0);
    put_audio("float-stereo.aiff", SF_FORMAT_AIFF | SF_FORMAT_FLOAT, 2, 96000, 200, 0);
    put_audio("alaw.au", SF_FORMAT_AU | SF_FORMAT_ALAW, 1, 8000, 300, 0);
    put_audio("pcm16.caf", SF_FORMAT_CAF | SF_FORMAT_PCM_16, 2, 48000, 200, 0);
    put_audio("pcm16.w64", SF_FORMAT_W64 | SF_FORMAT_PCM_16, 1, 16000, 200, 0);
    put_audio("pcm16-mono.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 1, 16000, 400, 0);
    put_audio("pcm24-stereo.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 2, 44100, 400, 0);
    put_audio("vorbis.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 1, 16000, 400, 0);
    put_audio("opus.ogg", SF_FORMAT_OGG | SF_FORMAT_OPUS, 1, 48000, 960, 0);
    put_audio("layer3.mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 1, 16000, 1152, 0);
    put_audio("rate-1hz.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 1, 20, 0);
    put_audio("rate-44101.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 44101, 100, 0);
    put_audio("zero-frames.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 16000, 0, 0);
    put_audio("huge-values.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 2, 16000, 64, 1);
    put_audio("nan.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1, 16000, 64, 2);
}

/* ---- OSC ---- */

static void put_msg(const char *name, const char *path, lo_message m)
{
    size_t n = 0;
    void *b = lo_message_serialise(m, path, NULL, &n);
    if (!b) die("lo_message_serialise");
    put("osc", name, b, n);
    free(b);
    lo_message_free(m);
}

static lo_message msg_s(const char *s) { lo_message m = lo_message_new(); lo_message_add_string(m, s); return m; }
static lo_message msg_i(int i) { lo_message m = lo_message_new(); lo_message_add_int32(m, i); return m; }
static lo_message msg_f(float f) { lo_message m = lo_message_new(); lo_message_add_float(m, f); return m; }

static void osc_corpus(void)
{
    put_msg("target-name", "/advinst/target", msg_s("accordion"));
    put_msg("target-index", "/advinst/target", msg_i(3));
    put_msg("target-random", "/advinst/target", msg_s("random"));
    put_msg("target-bad-index", "/advinst/target", msg_i(12));
    put_msg("target-float", "/advinst/target", msg_f(1.0f));
    put_msg("method-mscw", "/advinst/method", msg_s("mscw"));
    put_msg("method-bad", "/advinst/method", msg_s("fgsm"));
    put_msg("step", "/advinst/step", msg_f(1e-4f));
    put_msg("step-zero", "/advinst/step", msg_f(0.0f));
    put_msg("alpha", "/advinst/alpha", msg_f(10.0f));
    put_msg("alpha-int", "/advinst/alpha", msg_i(10));
    put_msg("eps", "/advinst/eps", msg_f(0.02f));
    put_msg("eps-nan", "/advinst/eps", msg_f(NAN));
    put_msg("iterations", "/advinst/iterations", msg_i(200));
    put_msg("iterations-big", "/advinst/iterations", msg_i(2000000));
    put_msg("confidence", "/advinst/confidence", msg_f(0.5f));
    put_msg("preset", "/advinst/preset", msg_s("mscw-150"));
    put_msg("preset-fgsm", "/advinst/preset", msg_s("fgsm-150"));
    put_msg("preset-path", "/advinst/preset", msg_s("../presets/cw-150"));
    put_msg("preset-ini", "/advinst/preset", msg_s("cw-150.ini"));
    put_msg("bypass", "/advinst/bypass", msg_i(1));
    put_msg("bypass-2", "/advinst/bypass", msg_i(2));
    lo_message sub = lo_message_new();
    lo_message_add_string(sub, "127.0.0.1");
    lo_message_add_int32(sub, 9001);
    put_msg("subscribe-host", "/advinst/subscribe", sub);
    put_msg("subscribe", "/advinst/subscribe", lo_message_new());
    put_msg("ping", "/advinst/ping", lo_message_new());
    put_msg("ping-arg", "/advinst/ping", msg_i(1));
    put_msg("unknown", "/advinst/nothing", lo_message_new());
    put_msg("outside", "/other/thing", msg_f(1.0f));
    put_msg("pattern", "/advinst/*", msg_f(0.5f));
    lo_message many = lo_message_new();
    lo_message_add_string(many, "in");
    lo_message_add_double(many, 0.5);
    lo_message_add_int64(many, 5);
    lo_message_add_true(many);
    lo_message_add_nil(many);
    lo_message_add_symbol(many, "sym");
    lo_message_add_char(many, 'x');
    uint8_t midi[4] = {1, 2, 3, 4};
    lo_message_add_midi(many, midi);
    lo_blob blob = lo_blob_new(5, "blob!");
    lo_message_add_blob(many, blob);
    lo_message_add_timetag(many, LO_TT_IMMEDIATE);
    put_msg("every-type", "/advinst/prediction", many);
    lo_blob_free(blob);

    /* bundles: immediate, time-tagged in the future, nested */
    lo_bundle b = lo_bundle_new(LO_TT_IMMEDIATE);
    lo_bundle_add_message(b, "/advinst/eps", msg_f(0.05f));
    lo_bundle_add_message(b, "/advinst/target", msg_s("gong"));
    lo_bundle_add_message(b, "/advinst/step", msg_f(5.0f));
    size_t n = 0;
    void *data = lo_bundle_serialise(b, NULL, &n);
    put("osc", "bundle", data, n);
    free(data);
    lo_timetag later = {0xF0000000u, 0};
    lo_bundle outer = lo_bundle_new(later);
    lo_bundle_add_message(outer, "/advinst/bypass", msg_i(1));
    lo_bundle_add_bundle(outer, b);
    data = lo_bundle_serialise(outer, NULL, &n);
    put("osc", "bundle-nested-future", data, n);
    free(data);
    lo_bundle_free_recursive(outer);   /* and b within it */
    unsigned char junk[8] = {'#', 'b', 'u', 'n', 'd', 'l', 'e', 0};
    put("osc", "bundle-cut", junk, sizeof junk);
}

/* ---- text formats ---- */

/* Raw HTTP requests to the web view (and pages' controls, which the same harness parses). */
static void http_corpus(void)
{
    static const char *const requests[][2] = {
        {"root", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"},
        {"root-browser", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html,*/*\r\n\r\n"},
        {"host-info", "GET /?HOST_INFO HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"},
        {"namespace", "GET /advinst HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"},
        {"node-value", "GET /advinst/eps?VALUE HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"},
        {"node-range", "GET /advinst/target?RANGE HTTP/1.0\r\n\r\n"},
        {"node-bad-attribute", "GET /advinst/eps?NOPE HTTP/1.1\r\nHost: x\r\n\r\n"},
        {"control-node", "HEAD /advinst/subscribe HTTP/1.1\r\nHost: x\r\n\r\n"},
        {"page", "GET /view HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"},
        {"traversal", "GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"},
        {"traversal-encoded", "GET /view/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"},
        {"post", "POST /advinst/eps HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n0.02"},
        {"chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n"},
        {"websocket", "GET /view/feed HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"},
        {"websocket-other-origin", "GET /view/feed HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://evil.example\r\n"
                                   "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                   "Sec-WebSocket-Version: 13\r\n\r\n"},
        {"control-target", "{\"set\":\"target\",\"value\":\"gong\"}"},
        {"control-bypass", "{\"set\":\"bypass\",\"value\":true}"},
        {"control-eps", "{\"set\":\"eps\",\"value\":0.02}"},
        {"control-preset", "{\"set\":\"preset\",\"value\":\"mscw-150\"}"},
    };
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) put_text("http", requests[i][0], requests[i][1]);
}

static void text_corpus(void)
{
    put_csv("labels", 0, "fname,label,split\na.wav,accordion,train\nb.wav,gong,valid\n\"c,d.wav\",hi-hat,train\n");
    put_csv("labels-bom-crlf", 0, "\xEF\xBB\xBF" "fname,label,split\r\nx.flac,marimba_and_xylophone,valid\r\n");
    put_csv("labels-quotes", 0, "fname,label,split\n\"q\"\"uote.wav\",bass_drum,train\n");
    put_csv("labels-dup", 0, "fname,label,split\na.wav,gong,train\na.wav,gong,valid\n");
    put_csv("labels-blank", 0, "fname,label,split\na.wav,gong,train\n\nb.wav,gong,train\n");
    put_csv("labels-bad", 0, "fname,label,split\n../a.wav,gong,train\nb.wav,Gong,test\n\"open,gong\n");
    put_csv("fsd", 1, "fname,labels\n0006ae4e.wav,Bark\n0019ef41.wav,\"Accordion,Bark\"\n"
                                    "001ec0ad.wav,Gong\n0026c7cb.wav,\"Gong,Glockenspiel\"\n");
    put_csv("fsd-columns", 1, "fname,labels,freesound_id,license\n"
                                            "a.wav,\"Male_singing, Hi-hat\",123,CC-BY\nb.wav,Harmonica,9,CC0\n");
    put_csv("fsd-bad", 1, "fname,labels\na.wav,\nb.wav,\"Gong,,Bark\"\nc.wav,\"unterminated\n");
    put_csv("fsd-dup", 1, "fname,labels\na.wav,Gong\na.wav,Bark\n");

    /* presets beyond the shipped ones (fuzz/make-corpus.sh copies the shipped ones) */
    put_text("preset", "edge-numbers.ini", "[attack]\nmethod = mscw\neps = 1e-50\nalpha = 1e39\nlr = 0x1p-3\n"
                                          "max_iter = 1e6\nconfidence = 1\nmin_snr_db = -1e30\ntarget = 11\n");
    put_text("preset", "edge-syntax.ini", "; comment\n[preset]\ndescription = multi\n  line\n[attack]\nmethod=CW ; inline\n"
                                         "target = none\nmethod = cw\n");
    put_text("preset", "edge-sections.ini", "method = cw\n[other]\nkey = value\n[attack\n");
}

int main(int argc, char **argv)
{
    if (argc != 2) die("usage: make_corpus OUT_DIR");
    out_dir = argv[1];
    safetensors_corpus();
    audio_corpus();
    osc_corpus();
    http_corpus();
    text_corpus();
    return 0;
}
