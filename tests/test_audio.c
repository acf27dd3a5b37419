/* Audio I/O: round trips through several formats, memory reads, error cases, atomic writes,
 * mono mix and its adjoint. */
#include "testutil.h"
#include "advinst/audio.h"
#include "advinst/error.h"

#include <dirent.h>
#include <math.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *dir;

/* libsndfile 1.2 leaks libvorbis state when opening a corrupt OGG fails (libsndfile issue #922);
 * not ours, so LeakSanitizer builds ignore exactly that. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:vorbis_info_init\n"; }

/* Number of directory entries whose name contains ".tmp.". */
static int count_temp_files(const char *d)
{
    DIR *dp = opendir(d);
    if (!dp) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp)))
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(dp);
    return n;
}

static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return b;
}

static void spit(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    if (size) fwrite(data, 1, size, f);
    fclose(f);
}

/* A stereo test signal at 44.1 kHz: a few sines plus a little noise, peak below 0.9. */
static void make_signal(adv_audio *a, long frames)
{
    uint64_t rng = 42;
    adv_audio_alloc(a, frames, 2, 44100, 0);
    for (long f = 0; f < frames; f++) {
        double t = f / 44100.0;
        a->samples[2 * f] = (float)(0.4 * sin(2 * M_PI * 440 * t) + 0.2 * sin(2 * M_PI * 3100 * t) +
                                    0.05 * tu_rand_uniform(&rng, -1, 1));
        a->samples[2 * f + 1] = (float)(0.5 * sin(2 * M_PI * 660 * t + 0.3) +
                                        0.1 * sin(2 * M_PI * 9000 * t) +
                                        0.05 * tu_rand_uniform(&rng, -1, 1));
    }
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static void test_round_trip(void)
{
    struct {
        int format;
        double tol; /* max abs error; < 0: lossy, check relative L2 error instead */
        const char *file;
    } cases[] = {
        {SF_FORMAT_WAV | SF_FORMAT_PCM_16, 2.0 / 32768, "rt16.wav"},
        {SF_FORMAT_WAV | SF_FORMAT_PCM_24, 2.0 / 8388608, "rt24.wav"},
        {SF_FORMAT_WAV | SF_FORMAT_FLOAT, 0.0, "rtf.wav"},
        {0, 0.0, "rt0.wav"},
        {SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 2.0 / 32768, "rt16.flac"},
        {SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 2.0 / 8388608, "rt24.flac"},
        {SF_FORMAT_AIFF | SF_FORMAT_PCM_16, 2.0 / 32768, "rt16.aiff"},
        {SF_FORMAT_OGG | SF_FORMAT_VORBIS, -0.1, "rt.ogg"},
    };
    adv_audio src;
    make_signal(&src, 44100);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *p = tu_path(dir, cases[i].file);
        src.format = cases[i].format;
        int rc = adv_audio_write(p, &src);
        CHECK(rc == 0, "write %s: %s", cases[i].file, adv_error());
        if (rc) continue;
        adv_audio b;
        rc = adv_audio_read(p, &b);
        CHECK(rc == 0, "read %s: %s", cases[i].file, adv_error());
        if (rc) continue;
        int want_format = cases[i].format ? cases[i].format : SF_FORMAT_WAV | SF_FORMAT_FLOAT;
        CHECK(b.format == want_format, "%s: format 0x%x", cases[i].file, b.format);
        CHECK(b.channels == 2 && b.rate == 44100, "%s: %d ch %d Hz", cases[i].file, b.channels,
              b.rate);
        CHECK(b.frames == src.frames, "%s: %ld frames", cases[i].file, b.frames);
        if (b.frames == src.frames && b.channels == 2) {
            size_t n = (size_t)b.frames * 2;
            if (cases[i].tol >= 0) {
                double d = max_abs_diff(b.samples, src.samples, n);
                CHECK(d <= cases[i].tol, "%s: max error %g > %g", cases[i].file, d, cases[i].tol);
            } else {
                double e = tu_rel_error(b.samples, src.samples, n);
                CHECK(e <= -cases[i].tol, "%s: relative error %g", cases[i].file, e);
            }
        }
        adv_audio_free(&b);
    }
    CHECK(count_temp_files(dir) == 0, "temporary files left after successful writes");

    /* Out-of-range samples clip in integer formats instead of wrapping around. */
    adv_audio c;
    adv_audio_alloc(&c, 4, 1, 8000, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
    c.samples[0] = 1.5f;
    c.samples[1] = -1.5f;
    c.samples[2] = 3.0f;
    c.samples[3] = 0.25f;
    CHECK(adv_audio_write(tu_path(dir, "clip.wav"), &c) == 0, "write clip: %s", adv_error());
    adv_audio d;
    if (adv_audio_read(tu_path(dir, "clip.wav"), &d) == 0) {
        CHECK(d.samples[0] > 0.999f && d.samples[2] > 0.999f, "positive clip %g %g",
              d.samples[0], d.samples[2]);
        CHECK(d.samples[1] <= -0.999f, "negative clip %g", d.samples[1]);
        CHECK_NEAR(d.samples[3], 0.25, 1e-4, "unclipped sample");
        adv_audio_free(&d);
    } else {
        CHECK(0, "read clip: %s", adv_error());
    }
    adv_audio_free(&c);

    /* Overwriting an existing file replaces it. */
    make_signal(&c, 1000);
    c.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    CHECK(adv_audio_write(tu_path(dir, "rt16.wav"), &c) == 0, "overwrite: %s", adv_error());
    if (adv_audio_read(tu_path(dir, "rt16.wav"), &d) == 0) {
        CHECK(d.frames == 1000, "overwritten file has %ld frames", d.frames);
        adv_audio_free(&d);
    }
    adv_audio_free(&c);

    /* The output gets the usual permissions (0666 & ~umask), not mkstemp's 0600. */
    mode_t mask = umask(0);
    umask(mask);
    struct stat st;
    CHECK(stat(tu_path(dir, "rt16.wav"), &st) == 0 && (st.st_mode & 0777) == (0666 & ~mask),
          "mode %o", (unsigned)(st.st_mode & 0777));
    adv_audio_free(&src);
}

static void test_memory(void)
{
    const char *files[] = {"rtf.wav", "rt24.flac", "rt.ogg", "rt16.aiff"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        const char *p = tu_path(dir, files[i]);
        size_t size;
        unsigned char *bytes = slurp(p, &size);
        CHECK(bytes != NULL, "cannot slurp %s", p);
        if (!bytes) continue;
        adv_audio a, b;
        int ra = adv_audio_read(p, &a);
        int rb = adv_audio_read_memory(bytes, size, files[i], &b);
        CHECK(ra == 0 && rb == 0, "%s: %s", files[i], adv_error());
        if (ra == 0 && rb == 0) {
            CHECK(a.frames == b.frames && a.channels == b.channels && a.rate == b.rate &&
                      a.format == b.format,
                  "%s: memory read differs in shape", files[i]);
            if (a.frames == b.frames && a.channels == b.channels)
                CHECK(memcmp(a.samples, b.samples, (size_t)a.frames * a.channels * sizeof(float)) == 0,
                      "%s: memory read differs in samples", files[i]);
        }
        if (ra == 0) adv_audio_free(&a);
        if (rb == 0) adv_audio_free(&b);

        /* Robustness: every truncation of the first 2 kB and some corrupted copies must either
         * decode or fail with a message, never crash. */
        unsigned char *copy = malloc(size);
        for (size_t n = 0; n < size && n < 2048; n += (n < 128 ? 1 : 37)) {
            adv_audio c;
            if (adv_audio_read_memory(bytes, n, "prefix", &c) == 0) adv_audio_free(&c);
            else CHECK(adv_error()[0] != '\0', "no message for prefix %zu", n);
        }
        uint64_t rng = 7 + i;
        for (int trial = 0; trial < 200; trial++) {
            memcpy(copy, bytes, size);
            for (int k = 0; k < 4; k++) {
                size_t at = (size_t)(adv_rng_next(&rng) % (size < 512 ? size : 512));
                copy[at] = (unsigned char)adv_rng_next(&rng);
            }
            adv_audio c;
            if (adv_audio_read_memory(copy, size, "corrupt", &c) == 0) {
                for (size_t k = 0; k < (size_t)c.frames * c.channels; k++)
                    if (!isfinite(c.samples[k])) {
                        CHECK(0, "non-finite sample accepted");
                        break;
                    }
                adv_audio_free(&c);
            } else {
                CHECK(adv_error()[0] != '\0', "no message for corrupt input");
            }
        }
        free(copy);
        free(bytes);
    }
}

/* A float WAV written byte by byte, so it can hold values libsndfile would never write. */
static size_t float_wav(unsigned char *out, const float *x, int n)
{
    unsigned char *p = out;
#define U32(v) do { uint32_t _v = (v); for (int _i = 0; _i < 4; _i++) *p++ = (unsigned char)(_v >> (8 * _i)); } while (0)
#define U16(v) do { uint16_t _v = (v); *p++ = (unsigned char)_v; *p++ = (unsigned char)(_v >> 8); } while (0)
    memcpy(p, "RIFF", 4), p += 4;
    U32(36 + 4 * n);
    memcpy(p, "WAVEfmt ", 8), p += 8;
    U32(16);
    U16(3); /* IEEE float */
    U16(1);
    U32(44100);
    U32(44100 * 4);
    U16(4);
    U16(32);
    memcpy(p, "data", 4), p += 4;
    U32(4 * n);
    memcpy(p, x, 4 * (size_t)n), p += 4 * n;
#undef U32
#undef U16
    return (size_t)(p - out);
}

static void expect_read_error(const char *path, const char *needle, const char *what)
{
    adv_audio a;
    int rc = adv_audio_read(path, &a);
    CHECK(rc == -1, "%s: read succeeded", what);
    if (rc == 0) {
        adv_audio_free(&a);
        return;
    }
    CHECK(strstr(adv_error(), needle) != NULL, "%s: message '%s' lacks '%s'", what, adv_error(),
          needle);
    CHECK(strchr(adv_error(), '\n') == NULL, "%s: message is not one line", what);
    CHECK(a.samples == NULL, "%s: samples left allocated", what);
}

static void test_errors(void)
{
    expect_read_error(tu_path(dir, "does-not-exist.wav"), "cannot open", "missing file");
    expect_read_error(dir, "directory", "directory");

    spit(tu_path(dir, "empty.wav"), "", 0);
    expect_read_error(tu_path(dir, "empty.wav"), "empty", "empty file");

    unsigned char junk[1000];
    uint64_t rng = 3;
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)adv_rng_next(&rng);
    spit(tu_path(dir, "junk.wav"), junk, sizeof junk);
    expect_read_error(tu_path(dir, "junk.wav"), "cannot read audio", "random bytes");
    spit(tu_path(dir, "header-only.wav"), "RIFF\x24\x00\x00\x00WAVEfmt ", 16);
    expect_read_error(tu_path(dir, "header-only.wav"), "cannot read audio", "truncated header");

    /* A valid header with no frames. */
    SF_INFO info = {.samplerate = 44100, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *sf = sf_open(tu_path(dir, "zero.wav"), SFM_WRITE, &info);
    CHECK(sf != NULL, "cannot create zero.wav");
    if (sf) sf_close(sf);
    expect_read_error(tu_path(dir, "zero.wav"), "no audio", "zero frames");

    unsigned char wav[256];
    float x[4] = {0.1f, NAN, 0.2f, 0.3f};
    size_t n = float_wav(wav, x, 4);
    spit(tu_path(dir, "nan.wav"), wav, n);
    expect_read_error(tu_path(dir, "nan.wav"), "NaN or infinite", "NaN sample");
    adv_audio a;
    CHECK(adv_audio_read_memory(wav, n, "nan.wav", &a) == -1 &&
              strstr(adv_error(), "NaN or infinite"),
          "memory NaN: %s", adv_error());
    x[1] = -INFINITY;
    n = float_wav(wav, x, 4);
    spit(tu_path(dir, "inf.wav"), wav, n);
    expect_read_error(tu_path(dir, "inf.wav"), "NaN or infinite", "infinite sample");
    /* a LIST chunk claiming 1.6 GB in a 72-byte file kept libsndfile's sf_open busy for minutes
     * (fuzz_audio timeout, fuzz/regressions/audio/list-chunk-past-end.wav): refused up front,
     * from memory and from a file; a cut "data" chunk still reads */
    {
        unsigned char riff[72] = "RIFF\x2b\x00\x00\x00WAVELIST\x10\x66\x61\x63";
        memset(riff + 20, 0xff, sizeof riff - 20);
        CHECK(adv_audio_read_memory(riff, sizeof riff, "list.wav", &a) == -1 && strstr(adv_error(), "chunk 'LIST'"),
              "LIST past the end (memory): %s", adv_error());
        spit(tu_path(dir, "list.wav"), riff, sizeof riff);
        expect_read_error(tu_path(dir, "list.wav"), "chunk 'LIST' at byte 12", "LIST past the end (file)");
        /* the directory listing of render probes without handing it to libsndfile, and lists it
         * so that reading it reports why */
        CHECK(adv_audio_probe(tu_path(dir, "list.wav")) == 1, "probe lists the corrupt WAV");
        CHECK(adv_audio_probe(tu_path(dir, "junk.wav")) == 0 && adv_audio_probe(tu_path(dir, "empty.wav")) == 0 &&
                  adv_audio_probe(tu_path(dir, "does-not-exist.wav")) == 0,
              "probe skips what is not audio");
        float y[64] = {0};
        y[10] = 0.25f;
        unsigned char cut[512];
        size_t m = float_wav(cut, y, 64);
        CHECK(adv_audio_read_memory(cut, m - 100, "cut.wav", &a) == 0 && a.frames == (long)(64 - 25) && a.samples[10] == 0.25f,
              "a cut data chunk reads what is there: %s (%ld frames)", adv_error(), a.frames);
        adv_audio_free(&a);
    }
    /* finite but absurd: the mono mix and the resampler overflowed to inf on this (fuzz_audio's
     * invariants; fuzz/regressions/audio/huge-*.wav) */
    x[1] = 3e38f;
    n = float_wav(wav, x, 4);
    CHECK(adv_audio_read_memory(wav, n, "huge.wav", &a) == -1 && strstr(adv_error(), "is not audio") &&
              strstr(adv_error(), "frame 1"),
          "huge sample: %s", adv_error());
    x[1] = -1.001e6f;   /* just beyond ADV_AUDIO_MAX_ABS (120 dB over full scale) */
    n = float_wav(wav, x, 4);
    CHECK(adv_audio_read_memory(wav, n, "loud.wav", &a) == -1 && strstr(adv_error(), "is not audio"),
          "sample -1.001e6: %s", adv_error());
    x[1] = 0.999e6f;   /* far over full scale, but within the limit: kept */
    n = float_wav(wav, x, 4);
    CHECK(adv_audio_read_memory(wav, n, "loud.wav", &a) == 0 && a.samples[1] == 0.999e6f, "sample 0.999e6: %s", adv_error());
    adv_audio_free(&a);
    x[1] = 0.5f;
    n = float_wav(wav, x, 4);
    spit(tu_path(dir, "good.wav"), wav, n);
    if (adv_audio_read(tu_path(dir, "good.wav"), &a) == 0) {
        CHECK(a.frames == 4 && a.samples[1] == 0.5f && a.samples[3] == 0.3f,
              "hand-written WAV misread");
        adv_audio_free(&a);
    } else {
        CHECK(0, "hand-written WAV: %s", adv_error());
    }

    CHECK(adv_audio_read_memory(wav, 0, "zero-size", &a) == -1 && strstr(adv_error(), "empty"),
          "zero-size memory: %s", adv_error());
}

static void test_atomic_write(void)
{
    adv_audio a;
    make_signal(&a, 500);

    /* Into a directory that does not exist: fails cleanly. */
    const char *p = tu_path(dir, "no-such-dir/out.wav");
    CHECK(adv_audio_write(p, &a) == -1, "write into missing directory succeeded");
    CHECK(strstr(adv_error(), "no-such-dir") != NULL, "message: %s", adv_error());

    /* Target is a directory: the temporary file is created, rename fails, temp removed. */
    const char *d = tu_path(dir, "a-directory");
    mkdir(d, 0755);
    CHECK(adv_audio_write(d, &a) == -1, "write over a directory succeeded");
    CHECK(count_temp_files(dir) == 0, "temporary file left after failed rename");

    /* Format libsndfile cannot write (OGG with PCM samples): nothing created. */
    a.format = SF_FORMAT_OGG | SF_FORMAT_PCM_16;
    CHECK(adv_audio_write(tu_path(dir, "bad-format.ogg"), &a) == -1, "bad format accepted");
    CHECK(access(tu_path(dir, "bad-format.ogg"), F_OK) != 0, "bad format left a file");

    /* Non-finite samples are refused and leave nothing behind. */
    a.format = 0;
    a.samples[17] = NAN;
    CHECK(adv_audio_write(tu_path(dir, "nan-out.wav"), &a) == -1 && strstr(adv_error(), "NaN"),
          "NaN write: %s", adv_error());
    CHECK(access(tu_path(dir, "nan-out.wav"), F_OK) != 0, "NaN write left a file");
    CHECK(count_temp_files(dir) == 0, "temporary file left after failures");
    adv_audio_free(&a);

    adv_audio e = {0};
    CHECK(adv_audio_write(tu_path(dir, "nothing.wav"), &e) == -1, "empty audio written");
}

static void test_mono_mix(void)
{
    uint64_t rng = 11;
    for (int ch = 1; ch <= 3; ch++) {
        long frames = 1001;
        adv_audio a;
        adv_audio_alloc(&a, frames, ch, 16000, 0);
        for (long i = 0; i < frames * ch; i++) a.samples[i] = adv_rng_normal(&rng);
        float *m = malloc(frames * sizeof *m), *y = malloc(frames * sizeof *y);
        float *g = calloc((size_t)frames * ch, sizeof *g);
        adv_audio_mix_mono(&a, m);
        double err = 0;
        for (long f = 0; f < frames; f++) {
            double s = 0;
            for (int c = 0; c < ch; c++) s += a.samples[f * ch + c];
            err = fmax(err, fabs(s / ch - m[f]));
        }
        CHECK(err < 1e-6, "%d channels: mix error %g", ch, err);

        for (long f = 0; f < frames; f++) y[f] = adv_rng_normal(&rng);
        adv_audio_mix_mono_backward(y, frames, ch, g);
        double lhs = 0, rhs = 0;
        for (long f = 0; f < frames; f++) lhs += (double)m[f] * y[f];
        for (long i = 0; i < frames * ch; i++) rhs += (double)a.samples[i] * g[i];
        CHECK(fabs(lhs - rhs) <= 1e-5 * fabs(lhs), "%d channels: <Mx,y> %.9g vs <x,M^T y> %.9g",
              ch, lhs, rhs);

        /* Backward accumulates. */
        float before = g[0];
        adv_audio_mix_mono_backward(y, frames, ch, g);
        CHECK_NEAR(g[0], 2 * before, 1e-6, "backward adds");
        free(m);
        free(y);
        free(g);
        adv_audio_free(&a);
    }
}

static void test_names_and_alloc(void)
{
    char buf[64];
    struct {
        int f;
        const char *name;
    } names[] = {
        {SF_FORMAT_WAV | SF_FORMAT_PCM_16, "WAV PCM 16"},
        {SF_FORMAT_WAV | SF_FORMAT_FLOAT, "WAV float"},
        {SF_FORMAT_FLAC | SF_FORMAT_PCM_24, "FLAC PCM 24"},
        {SF_FORMAT_OGG | SF_FORMAT_VORBIS, "OGG Vorbis"},
        {SF_FORMAT_AIFF | SF_FORMAT_PCM_16, "AIFF PCM 16"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        CHECK(strcmp(adv_audio_format_name(names[i].f, buf, sizeof buf), names[i].name) == 0,
              "name of 0x%x: '%s'", names[i].f, buf);
    CHECK(adv_audio_format_name(0x7f0000, buf, sizeof buf)[0] != '\0', "unknown format name");
    char tiny[4];
    adv_audio_format_name(SF_FORMAT_WAV | SF_FORMAT_PCM_16, tiny, sizeof tiny);
    CHECK(strcmp(tiny, "WAV") == 0, "truncated name '%s'", tiny);

    adv_audio a;
    CHECK(adv_audio_alloc(&a, 10, 2, 48000, 0) == 0, "alloc");
    int zero = 1;
    for (int i = 0; i < 20; i++) zero &= a.samples[i] == 0.0f;
    CHECK(zero && a.frames == 10 && a.channels == 2 && a.rate == 48000, "alloc contents");
    adv_audio_free(&a);
    CHECK(a.samples == NULL, "free clears");
    adv_audio_free(&a);
    CHECK(adv_audio_alloc(&a, -1, 2, 48000, 0) == -1, "negative frames accepted");
    CHECK(adv_audio_alloc(&a, 10, 0, 48000, 0) == -1, "zero channels accepted");
}

/* A WAV whose data chunk runs past the end of the file: read as far as it goes (what libsndfile
 * reads), and adv_audio_truncation says how far, in frames of the header's count. */
static void test_truncated(void)
{
    static const struct { int format, channels; long keep; } cases[] = {
        {SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 2980}, {SF_FORMAT_WAV | SF_FORMAT_FLOAT, 2, 1001},
        {SF_FORMAT_WAV | SF_FORMAT_PCM_24, 2, 7}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        adv_audio a, b;
        make_signal(&a, 128718);
        if (cases[k].channels == 1) a.channels = 1;   /* the left channel's samples, interleaved as mono */
        a.format = cases[k].format;
        a.rate = 16000;
        const char *path = tu_path(dir, "cut.wav");
        CHECK(adv_audio_write(path, &a) == 0, "write: %s", adv_error());
        char text[96];
        if (adv_audio_read(path, &b) == 0) {
            CHECK(b.frames == 128718 && adv_audio_truncation(path, &b, text, sizeof text) == NULL, "a whole file is not truncated");
            adv_audio_free(&b);
        }
        int bytes = (cases[k].format & SF_FORMAT_SUBMASK) == SF_FORMAT_PCM_16 ? 2 : (cases[k].format & SF_FORMAT_SUBMASK) == SF_FORMAT_PCM_24 ? 3 : 4;
        struct stat st;
        stat(path, &st);
        long header = (long)st.st_size - 128718L * bytes * cases[k].channels;
        CHECK(truncate(path, header + cases[k].keep * bytes * cases[k].channels + 1) == 0, "truncate");   /* + a partial frame */
        if (adv_audio_read(path, &b) == 0) {
            const char *t = adv_audio_truncation(path, &b, text, sizeof text);
            char want[96];
            snprintf(want, sizeof want, "truncated: %s of 128,718 frames",
                     cases[k].keep == 2980 ? "2,980" : cases[k].keep == 1001 ? "1,001" : "7");
            CHECK(b.frames == cases[k].keep && t && !strcmp(t, want), "cut WAV (format 0x%x x %d): %ld frames, '%s'",
                  cases[k].format, cases[k].channels, b.frames, t ? t : "(not truncated)");
            CHECK(memcmp(b.samples, a.samples, sizeof(float) * (size_t)b.frames * b.channels) == 0 ||
                      (cases[k].format & SF_FORMAT_SUBMASK) != SF_FORMAT_FLOAT,
                  "what is there reads as written");
            adv_audio_free(&b);
        } else {
            CHECK(0, "cut WAV reads: %s", adv_error());
        }
        adv_audio_free(&a);
    }
}

int main(void)
{
    dir = tu_scratch_dir("audio");
    if (!dir) {
        fprintf(stderr, "cannot make scratch directory\n");
        return 1;
    }
    test_round_trip();
    test_memory();
    test_errors();
    test_atomic_write();
    test_mono_mix();
    test_names_and_alloc();
    test_truncated();
    int rc = tu_finish("test_audio");
    if (rc == 0) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
    return rc;
}
