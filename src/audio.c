/* Audio files through libsndfile: whole-file reads (from disk or memory), atomic writes,
 * mono mix and its adjoint. */
#include "advinst/audio.h"
#include "advinst/error.h"
#include "advinst/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Upper bound on decoded samples (frames * channels): 4 GiB of floats. */
#define MAX_SAMPLES ((sf_count_t)1 << 30)
/* Initial buffer never trusts a header's frame count beyond this (corrupt or fuzzed input). */
#define INITIAL_FRAMES_CAP ((sf_count_t)1 << 20)

int adv_audio_check_samples(const float *x, long frames, int channels, const char *what)
{
    const size_t total = (size_t)frames * (size_t)channels;
    for (size_t i = 0; i < total; i++) {
        if (fabsf(x[i]) <= ADV_AUDIO_MAX_ABS) continue;   /* false for NaN */
        if (!isfinite(x[i]))
            return adv_fail("%s: contains NaN or infinite samples (first at frame %zu)", what, i / (size_t)channels);
        return adv_fail("%s: sample magnitude %g at frame %zu is not audio (limit %g)", what, (double)x[i],
                        i / (size_t)channels, (double)ADV_AUDIO_MAX_ABS);
    }
    return 0;
}

/* What check_wav_chunks learns of a WAV's data chunk. */
typedef struct {
    uint64_t declared_bytes, present_bytes;   /* of the data chunk; present < declared: cut short */
    unsigned block_align;                     /* bytes per frame of PCM, float and G.711 data, else 0 */
} wav_data;

/* Decodes all of `sf` into `out`; closes `sf`. */
static int read_all(SNDFILE *sf, const SF_INFO *info, const char *name, adv_audio *out)
{
    int ch = info->channels;
    if (ch < 1 || info->samplerate < 1) {
        sf_close(sf);
        return adv_fail("%s: invalid audio header (%d channels, %d Hz)", name, ch,
                        info->samplerate);
    }
    sf_command(sf, SFC_SET_NORM_FLOAT, NULL, SF_TRUE);

    sf_count_t max_frames = MAX_SAMPLES / ch;
    sf_count_t cap = info->frames > 0 ? info->frames : 4096;
    if (cap > INITIAL_FRAMES_CAP) cap = INITIAL_FRAMES_CAP;
    if (cap > max_frames) cap = max_frames;
    float *buf = malloc((size_t)cap * ch * sizeof *buf);
    if (!buf) {
        sf_close(sf);
        return adv_fail("%s: out of memory", name);
    }
    sf_count_t n = 0;
    for (;;) {
        if (n == cap) {
            if (cap >= max_frames) {
                free(buf);
                sf_close(sf);
                return adv_fail("%s: too long (more than %lld samples)", name,
                                (long long)MAX_SAMPLES);
            }
            sf_count_t ncap = cap * 2 < max_frames ? cap * 2 : max_frames;
            float *nb = realloc(buf, (size_t)ncap * ch * sizeof *buf);
            if (!nb) {
                free(buf);
                sf_close(sf);
                return adv_fail("%s: out of memory", name);
            }
            buf = nb;
            cap = ncap;
        }
        sf_count_t got = sf_readf_float(sf, buf + (size_t)n * ch, cap - n);
        if (got <= 0) break;
        n += got;
    }
    int err = sf_error(sf);
    if (err != SF_ERR_NO_ERROR) {
        adv_fail("%s: corrupt audio: %s", name, sf_error_number(err));
        free(buf);
        sf_close(sf);
        return -1;
    }
    sf_close(sf);
    if (n == 0) {
        free(buf);
        return adv_fail("%s: no audio (zero frames)", name);
    }
    size_t total = (size_t)n * ch;
    if (adv_audio_check_samples(buf, (long)n, ch, name) != 0) {
        free(buf);
        return -1;
    }
    if (n < cap) {
        float *nb = realloc(buf, total * sizeof *buf);
        if (nb) buf = nb;
    }
    out->samples = buf;
    out->frames = (long)n;
    out->channels = ch;
    out->rate = info->samplerate;
    out->format = info->format;
    return 0;
}

/* Reads n bytes at off of a file (FILE *) or of a memory image (mem_file); returns how many. */
typedef size_t (*read_at_fn)(void *src, uint64_t off, void *buf, size_t n);

static size_t file_read_at(void *src, uint64_t off, void *buf, size_t n)
{
    FILE *f = src;
    if (off > (uint64_t)INT64_MAX || fseeko(f, (off_t)off, SEEK_SET) != 0) return 0;
    return fread(buf, 1, n, f);
}

/* libsndfile 1.2 walks a WAV LIST chunk up to its declared length in steps of a few bytes even
 * past the end of the file (libsndfile issue #1118): a 72-byte file claiming a 1.6 GB LIST chunk
 * keeps sf_open busy for minutes. So a RIFF/RIFX WAVE file whose chunk other than "data" runs
 * past the end of the file is refused as corrupt before libsndfile sees it (a cut "data" chunk
 * is left to libsndfile, which reads what is there). Other files pass unchecked. */
static int check_wav_chunks(read_at_fn read_at, void *src, uint64_t size, const char *name, wav_data *wd)
{
    unsigned char h[12];
    memset(wd, 0, sizeof *wd);
    if (size < 12 || read_at(src, 0, h, 12) != 12) return 0;
    int big = !memcmp(h, "RIFX", 4);
    if ((memcmp(h, "RIFF", 4) && !big) || memcmp(h + 8, "WAVE", 4)) return 0;
    uint64_t off = 12;
    for (int k = 0; k < 100000 && off + 8 <= size; k++) {
        unsigned char c[8];
        if (read_at(src, off, c, 8) != 8) break;
        uint32_t len = big ? (uint32_t)c[4] << 24 | (uint32_t)c[5] << 16 | (uint32_t)c[6] << 8 | c[7]
                           : (uint32_t)c[7] << 24 | (uint32_t)c[6] << 16 | (uint32_t)c[5] << 8 | c[4];
        uint64_t end = off + 8 + len;
        if (!memcmp(c, "data", 4)) {
            wd->declared_bytes = len;
            wd->present_bytes = end > size ? size - (off + 8) : len;
        }
        unsigned char fmt[14];
        if (!memcmp(c, "fmt ", 4) && len >= 14 && read_at(src, off + 8, fmt, 14) == 14) {
            unsigned tag = big ? (unsigned)fmt[0] << 8 | fmt[1] : (unsigned)fmt[1] << 8 | fmt[0];
            unsigned align = big ? (unsigned)fmt[12] << 8 | fmt[13] : (unsigned)fmt[13] << 8 | fmt[12];
            /* PCM, IEEE float, A-law, u-law, extensible: fixed bytes per frame */
            if (tag == 1 || tag == 3 || tag == 6 || tag == 7 || tag == 0xFFFE) wd->block_align = align;
        }
        if (end > size) {
            if (!memcmp(c, "data", 4)) break;
            char id[5];
            for (int i = 0; i < 4; i++) id[i] = c[i] >= 32 && c[i] < 127 ? (char)c[i] : '?';
            id[4] = '\0';
            return adv_fail("%s: corrupt WAV: chunk '%s' at byte %llu claims %u bytes, past the end of the file", name,
                            id, (unsigned long long)off, len);
        }
        off = end + (len & 1);
    }
    return 0;
}

/* n with thousands separators ("128,718"). */
static void group_thousands(long n, char *buf, size_t size)
{
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%ld", n < 0 ? -n : n), j = 0;
    if (n < 0 && size > 1) buf[j++] = '-';
    for (int i = 0; i < len && (size_t)j + 2 < size; i++) {
        if (i > 0 && (len - i) % 3 == 0) buf[j++] = ',';
        buf[j++] = digits[i];
    }
    buf[j] = '\0';
}

const char *adv_audio_truncation(const char *path, const adv_audio *a, char *buf, size_t size)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    wav_data wd;
    int rc = check_wav_chunks(file_read_at, f, (uint64_t)st.st_size, path, &wd);
    fclose(f);
    if (rc != 0 || !(wd.present_bytes < wd.declared_bytes) || wd.present_bytes == 0) return NULL;
    /* the declared frames: exact where frames have a fixed size, else at the rate of what was read */
    long declared = wd.block_align ? (long)(wd.declared_bytes / wd.block_align)
                                   : (long)((double)a->frames * (double)wd.declared_bytes / (double)wd.present_bytes + 0.5);
    char have[32], want[32];
    group_thousands(a->frames, have, sizeof have);
    group_thousands(declared, want, sizeof want);
    snprintf(buf, size, "truncated: %s of %s frames", have, want);
    return buf;
}

int adv_audio_read(const char *path, adv_audio *out)
{
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(path, &st) != 0) return adv_fail("%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return adv_fail("%s: is a directory", path);
    if (S_ISREG(st.st_mode) && st.st_size == 0) return adv_fail("%s: empty file", path);
    wav_data wd;
    if (S_ISREG(st.st_mode)) {
        FILE *f = fopen(path, "rb");
        if (!f) return adv_fail("%s: cannot open: %s", path, strerror(errno));
        int rc = check_wav_chunks(file_read_at, f, (uint64_t)st.st_size, path, &wd);
        fclose(f);
        if (rc != 0) return -1;
    }

    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    if (!sf) return adv_fail("%s: cannot read audio: %s", path, sf_strerror(NULL));
    return read_all(sf, &info, path, out);
}

int adv_audio_probe(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    wav_data wd;
    int rc = check_wav_chunks(file_read_at, f, (uint64_t)st.st_size, path, &wd);
    fclose(f);
    if (rc != 0) return 1;   /* a WAV, but corrupt: listed, so that reading it reports why */
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    if (!sf) return 0;
    sf_close(sf);
    return 1;
}

/* Read-only virtual file over a memory buffer. */
typedef struct {
    const unsigned char *data;
    sf_count_t size, pos;
} mem_file;

static sf_count_t mem_len(void *u) { return ((mem_file *)u)->size; }

static sf_count_t mem_seek(sf_count_t offset, int whence, void *u)
{
    mem_file *m = u;
    if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) return -1;
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->size;
    /* Clamp instead of overflowing; libsndfile notices the position mismatch. */
    sf_count_t target;
    if (offset > 0 && base > INT64_MAX - offset) target = m->size;
    else target = base + offset;
    if (target < 0) return -1;
    if (target > m->size) target = m->size;
    m->pos = target;
    return m->pos;
}

static sf_count_t mem_read(void *ptr, sf_count_t count, void *u)
{
    mem_file *m = u;
    if (count <= 0 || m->pos >= m->size) return 0;
    sf_count_t n = m->size - m->pos < count ? m->size - m->pos : count;
    memcpy(ptr, m->data + m->pos, (size_t)n);
    m->pos += n;
    return n;
}

static sf_count_t mem_write(const void *ptr, sf_count_t count, void *u)
{
    (void)ptr;
    (void)count;
    (void)u;
    return 0;
}

static sf_count_t mem_tell(void *u) { return ((mem_file *)u)->pos; }

static size_t mem_read_at(void *src, uint64_t off, void *buf, size_t n)
{
    const mem_file *m = src;
    if (off >= (uint64_t)m->size) return 0;
    if (n > (uint64_t)m->size - off) n = (size_t)((uint64_t)m->size - off);
    memcpy(buf, m->data + off, n);
    return n;
}

int adv_audio_read_memory(const void *data, size_t size, const char *name, adv_audio *out)
{
    memset(out, 0, sizeof *out);
    if (!name) name = "(memory)";
    if (size == 0) return adv_fail("%s: empty file", name);
    if (!data) return adv_fail("%s: no data", name);
    if (size > (size_t)INT64_MAX) return adv_fail("%s: too large", name);

    mem_file m = {data, (sf_count_t)size, 0};
    wav_data wd;
    if (check_wav_chunks(mem_read_at, &m, (uint64_t)size, name, &wd) != 0) return -1;
    SF_VIRTUAL_IO vio = {mem_len, mem_seek, mem_read, mem_write, mem_tell};
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *sf = sf_open_virtual(&vio, SFM_READ, &info, &m);
    if (!sf) return adv_fail("%s: cannot read audio: %s", name, sf_strerror(NULL));
    return read_all(sf, &info, name, out);
}

static int is_float_subtype(int format)
{
    int sub = format & SF_FORMAT_SUBMASK;
    return sub == SF_FORMAT_FLOAT || sub == SF_FORMAT_DOUBLE;
}

/* libsndfile writes through these (virtual I/O), so that every write error reaches the
 * output file's record with its errno (sf_open_fd would only give libsndfile's text). */
static sf_count_t out_len(void *user)
{
    struct stat st;
    return fstat(adv_outfile_fd(user), &st) == 0 ? (sf_count_t)st.st_size : -1;
}

static sf_count_t out_seek(sf_count_t offset, int whence, void *user)
{
    return (sf_count_t)lseek(adv_outfile_fd(user), (off_t)offset, whence);
}

static sf_count_t out_read(void *ptr, sf_count_t count, void *user)
{
    ssize_t r = read(adv_outfile_fd(user), ptr, (size_t)count);
    return r < 0 ? 0 : (sf_count_t)r;
}

static sf_count_t out_write(const void *ptr, sf_count_t count, void *user)
{
    return adv_outfile_write(user, ptr, (size_t)count) == 0 ? count : 0;
}

static sf_count_t out_tell(void *user) { return (sf_count_t)lseek(adv_outfile_fd(user), 0, SEEK_CUR); }

struct adv_audio_writer {
    adv_outfile *out;
    SNDFILE *sf;
    int channels;
};

adv_audio_writer *adv_audio_writer_open(const char *path, int rate, int channels, int format, int flags)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = channels;
    info.format = format ? format : (SF_FORMAT_WAV | SF_FORMAT_FLOAT);
    if (rate < 1 || channels < 1 || !sf_format_check(&info)) {
        char name[64];
        adv_fail("%s: cannot write %s with %d channels at %d Hz", path,
                 adv_audio_format_name(info.format, name, sizeof name), channels, rate);
        return NULL;
    }
    adv_audio_writer *w = calloc(1, sizeof *w);
    if (!w) {
        adv_fail("%s: out of memory", path);
        return NULL;
    }
    w->channels = channels;
    if (!(w->out = adv_outfile_open(path, flags))) {
        free(w);
        return NULL;
    }
    SF_VIRTUAL_IO vio = {out_len, out_seek, out_read, out_write, out_tell};
    w->sf = sf_open_virtual(&vio, SFM_WRITE, &info, w->out);
    if (!w->sf) {
        if (adv_outfile_error(w->out)) adv_fail_output("%s: cannot write: %s", path, strerror(adv_outfile_error(w->out)));
        else adv_fail("%s: cannot write audio: %s", path, sf_strerror(NULL));
        adv_outfile_abort(w->out);
        free(w);
        return NULL;
    }
    if (!is_float_subtype(info.format)) sf_command(w->sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
    return w;
}

int adv_audio_writer_write(adv_audio_writer *w, const float *samples, long frames)
{
    const char *path = adv_outfile_path(w->out);
    if (frames < 0) return adv_fail("%s: cannot write %ld frames", path, frames);
    for (size_t i = 0; i < (size_t)frames * w->channels; i++)
        if (!isfinite(samples[i])) return adv_fail("%s: refusing to write: contains NaN or infinite samples", path);
    if (sf_writef_float(w->sf, samples, frames) == frames) return 0;
    int err = adv_outfile_error(w->out);
    if (err) return adv_fail_output("%s: cannot write: %s", path, strerror(err));
    adv_outfile_set_error(w->out, EIO);
    return adv_fail_output("%s: cannot write: %s", path, sf_strerror(w->sf));
}

int adv_audio_writer_commit(adv_audio_writer *w)
{
    int err = sf_close(w->sf);   /* completes the header */
    adv_outfile *out = w->out;
    free(w);
    if (err && !adv_outfile_error(out)) {
        adv_fail_output("%s: cannot write: %s", adv_outfile_path(out), sf_error_number(err));
        adv_outfile_abort(out);
        return -1;
    }
    return adv_outfile_commit(out);
}

void adv_audio_writer_abort(adv_audio_writer *w)
{
    if (!w) return;
    adv_outfile_set_error(w->out, ECANCELED);   /* nothing more reaches the file */
    sf_close(w->sf);
    adv_outfile_abort(w->out);
    free(w);
}

int adv_audio_write(const char *path, const adv_audio *a)
{
    if (!a || !a->samples || a->frames < 1 || a->channels < 1 || a->rate < 1)
        return adv_fail("%s: nothing to write (empty or invalid audio)", path);
    adv_audio_writer *w = adv_audio_writer_open(path, a->rate, a->channels, a->format, ADV_OUTFILE_REPLACE);
    if (!w) return -1;
    if (adv_audio_writer_write(w, a->samples, a->frames) != 0) {
        adv_audio_writer_abort(w);
        return -1;
    }
    return adv_audio_writer_commit(w);
}

int adv_audio_alloc(adv_audio *a, long frames, int channels, int rate, int format)
{
    memset(a, 0, sizeof *a);
    if (frames < 0 || channels < 1 || (size_t)frames > SIZE_MAX / sizeof(float) / channels)
        return adv_fail("cannot allocate audio of %ld frames x %d channels", frames, channels);
    size_t n = (size_t)frames * channels;
    a->samples = calloc(n ? n : 1, sizeof *a->samples);
    if (!a->samples) return adv_fail("out of memory allocating %zu samples", n);
    a->frames = frames;
    a->channels = channels;
    a->rate = rate;
    a->format = format;
    return 0;
}

void adv_audio_free(adv_audio *a)
{
    if (!a) return;
    free(a->samples);
    memset(a, 0, sizeof *a);
}

void adv_audio_mix_mono(const adv_audio *a, float *mono)
{
    int ch = a->channels;
    if (ch == 1) {
        memcpy(mono, a->samples, (size_t)a->frames * sizeof *mono);
        return;
    }
    float inv = 1.0f / (float)ch;
    for (long f = 0; f < a->frames; f++) {
        const float *s = a->samples + (size_t)f * ch;
        float sum = 0.0f;
        for (int c = 0; c < ch; c++) sum += s[c];
        mono[f] = sum * inv;
    }
}

void adv_audio_mix_mono_backward(const float *g_mono, long frames, int channels,
                                 float *g_interleaved)
{
    float inv = 1.0f / (float)channels;
    for (long f = 0; f < frames; f++) {
        float g = channels == 1 ? g_mono[f] : g_mono[f] * inv;
        float *d = g_interleaved + (size_t)f * channels;
        for (int c = 0; c < channels; c++) d[c] += g;
    }
}

static const char *major_name(int major)
{
    switch (major) {
    case SF_FORMAT_WAV: return "WAV";
    case SF_FORMAT_AIFF: return "AIFF";
    case SF_FORMAT_AU: return "AU";
    case SF_FORMAT_RAW: return "RAW";
    case SF_FORMAT_PAF: return "PAF";
    case SF_FORMAT_SVX: return "SVX";
    case SF_FORMAT_NIST: return "NIST";
    case SF_FORMAT_VOC: return "VOC";
    case SF_FORMAT_IRCAM: return "IRCAM";
    case SF_FORMAT_W64: return "W64";
    case SF_FORMAT_MAT4: return "MAT4";
    case SF_FORMAT_MAT5: return "MAT5";
    case SF_FORMAT_PVF: return "PVF";
    case SF_FORMAT_XI: return "XI";
    case SF_FORMAT_HTK: return "HTK";
    case SF_FORMAT_SDS: return "SDS";
    case SF_FORMAT_AVR: return "AVR";
    case SF_FORMAT_WAVEX: return "WAVEX";
    case SF_FORMAT_SD2: return "SD2";
    case SF_FORMAT_FLAC: return "FLAC";
    case SF_FORMAT_CAF: return "CAF";
    case SF_FORMAT_WVE: return "WVE";
    case SF_FORMAT_OGG: return "OGG";
    case SF_FORMAT_MPC2K: return "MPC2K";
    case SF_FORMAT_RF64: return "RF64";
    case SF_FORMAT_MPEG: return "MPEG";
    default: return NULL;
    }
}

static const char *subtype_name(int sub)
{
    switch (sub) {
    case SF_FORMAT_PCM_S8: return "PCM 8";
    case SF_FORMAT_PCM_16: return "PCM 16";
    case SF_FORMAT_PCM_24: return "PCM 24";
    case SF_FORMAT_PCM_32: return "PCM 32";
    case SF_FORMAT_PCM_U8: return "PCM U8";
    case SF_FORMAT_FLOAT: return "float";
    case SF_FORMAT_DOUBLE: return "double";
    case SF_FORMAT_ULAW: return "u-law";
    case SF_FORMAT_ALAW: return "A-law";
    case SF_FORMAT_IMA_ADPCM: return "IMA ADPCM";
    case SF_FORMAT_MS_ADPCM: return "MS ADPCM";
    case SF_FORMAT_GSM610: return "GSM 6.10";
    case SF_FORMAT_VOX_ADPCM: return "VOX ADPCM";
    case SF_FORMAT_NMS_ADPCM_16: return "NMS ADPCM 16";
    case SF_FORMAT_NMS_ADPCM_24: return "NMS ADPCM 24";
    case SF_FORMAT_NMS_ADPCM_32: return "NMS ADPCM 32";
    case SF_FORMAT_G721_32: return "G.721 32";
    case SF_FORMAT_G723_24: return "G.723 24";
    case SF_FORMAT_G723_40: return "G.723 40";
    case SF_FORMAT_DWVW_12: return "DWVW 12";
    case SF_FORMAT_DWVW_16: return "DWVW 16";
    case SF_FORMAT_DWVW_24: return "DWVW 24";
    case SF_FORMAT_DWVW_N: return "DWVW N";
    case SF_FORMAT_DPCM_8: return "DPCM 8";
    case SF_FORMAT_DPCM_16: return "DPCM 16";
    case SF_FORMAT_VORBIS: return "Vorbis";
    case SF_FORMAT_OPUS: return "Opus";
    case SF_FORMAT_ALAC_16: return "ALAC 16";
    case SF_FORMAT_ALAC_20: return "ALAC 20";
    case SF_FORMAT_ALAC_24: return "ALAC 24";
    case SF_FORMAT_ALAC_32: return "ALAC 32";
    case SF_FORMAT_MPEG_LAYER_I: return "MPEG Layer I";
    case SF_FORMAT_MPEG_LAYER_II: return "MPEG Layer II";
    case SF_FORMAT_MPEG_LAYER_III: return "MPEG Layer III";
    default: return NULL;
    }
}

const char *adv_audio_format_name(int format, char *buf, size_t size)
{
    if (!buf || size == 0) return buf;
    const char *major = major_name(format & SF_FORMAT_TYPEMASK);
    const char *sub = subtype_name(format & SF_FORMAT_SUBMASK);
    if (major && sub) snprintf(buf, size, "%s %s", major, sub);
    else if (major) snprintf(buf, size, "%s (subtype 0x%04x)", major, format & SF_FORMAT_SUBMASK);
    else snprintf(buf, size, "format 0x%08x", (unsigned)format);
    return buf;
}
