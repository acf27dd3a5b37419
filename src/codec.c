/* In-memory encode / decode round trips through libsndfile (see include/advinst/codec.h). */
#include "advinst/codec.h"
#include "advinst/audio.h"
#include "advinst/error.h"
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>

int adv_codec_is_lossy(int format)
{
    switch (format & SF_FORMAT_SUBMASK) {
    case 0:   /* "float" as the attacks' callers say it (no format) */
    case SF_FORMAT_PCM_S8: case SF_FORMAT_PCM_U8: case SF_FORMAT_PCM_16: case SF_FORMAT_PCM_24:
    case SF_FORMAT_PCM_32: case SF_FORMAT_FLOAT: case SF_FORMAT_DOUBLE:
        return 0;
    default:
        return 1;
    }
}

/* A growable memory file for libsndfile's virtual I/O, read and written. */
typedef struct {
    unsigned char *data;
    sf_count_t size, cap, pos;
    int failed;
} membuf;

static sf_count_t mb_len(void *u) { return ((membuf *)u)->size; }

static sf_count_t mb_seek(sf_count_t off, int whence, void *u)
{
    membuf *m = u;
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->size;
    if (base + off < 0) return -1;
    m->pos = base + off;
    return m->pos;
}

static sf_count_t mb_read(void *ptr, sf_count_t n, void *u)
{
    membuf *m = u;
    if (n <= 0 || m->pos >= m->size) return 0;
    if (n > m->size - m->pos) n = m->size - m->pos;
    memcpy(ptr, m->data + m->pos, (size_t)n);
    m->pos += n;
    return n;
}

static sf_count_t mb_write(const void *ptr, sf_count_t n, void *u)
{
    membuf *m = u;
    if (n <= 0) return 0;
    if (m->pos + n > m->cap) {
        sf_count_t cap = m->cap ? m->cap : 65536;
        while (cap < m->pos + n) cap *= 2;
        unsigned char *d = realloc(m->data, (size_t)cap);
        if (!d) { m->failed = 1; return 0; }
        m->data = d;
        m->cap = cap;
    }
    if (m->pos > m->size) memset(m->data + m->size, 0, (size_t)(m->pos - m->size));
    memcpy(m->data + m->pos, ptr, (size_t)n);
    m->pos += n;
    if (m->pos > m->size) m->size = m->pos;
    return n;
}

static sf_count_t mb_tell(void *u) { return ((membuf *)u)->pos; }

static SF_VIRTUAL_IO membuf_io = {mb_len, mb_seek, mb_read, mb_write, mb_tell};

struct adv_codec {
    int format, rate, channels;
    long frames;
    membuf mem;
};

int adv_codec_format(const adv_codec *c) { return c->format; }
long adv_codec_encoded_bytes(const adv_codec *c) { return (long)c->mem.size; }

void adv_codec_free(adv_codec *c)
{
    if (!c) return;
    free(c->mem.data);
    free(c);
}

adv_codec *adv_codec_create(int format, int rate, int channels, long frames)
{
    SF_INFO info = {0};
    info.samplerate = rate;
    info.channels = channels;
    info.format = format;
    if (rate < 1 || channels < 1 || frames < 1 || !sf_format_check(&info)) {
        char name[64];
        adv_fail("cannot encode %s with %d channels at %d Hz", adv_audio_format_name(format, name, sizeof name), channels,
                 rate);
        return NULL;
    }
    adv_codec *c = calloc(1, sizeof *c);
    if (!c) { adv_fail("out of memory"); return NULL; }
    c->format = format;
    c->rate = rate;
    c->channels = channels;
    c->frames = frames;
    /* some limits only show when the encoder starts (Opus: 8, 12, 16, 24 or 48 kHz) */
    SNDFILE *sf = sf_open_virtual(&membuf_io, SFM_WRITE, &info, &c->mem);
    if (!sf) {
        char name[64];
        adv_fail("cannot encode %s at %d Hz: %s", adv_audio_format_name(format, name, sizeof name), rate, sf_strerror(NULL));
        adv_codec_free(c);
        return NULL;
    }
    sf_close(sf);
    return c;
}

int adv_codec_round_trip(adv_codec *c, const float *in, float *out)
{
    char name[64];
    const size_t total = (size_t)c->frames * c->channels;
    c->mem.size = c->mem.pos = 0;
    c->mem.failed = 0;
    SF_INFO info = {0};
    info.samplerate = c->rate;
    info.channels = c->channels;
    info.format = c->format;
    SNDFILE *sf = sf_open_virtual(&membuf_io, SFM_WRITE, &info, &c->mem);
    if (!sf) return adv_fail("cannot encode %s: %s", adv_audio_format_name(c->format, name, sizeof name), sf_strerror(NULL));
    sf_command(sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
    sf_count_t wrote = sf_writef_float(sf, in, c->frames);
    int err = sf_close(sf);
    if (wrote != c->frames || err || c->mem.failed)
        return adv_fail("cannot encode %s: %s", adv_audio_format_name(c->format, name, sizeof name),
                        c->mem.failed ? "out of memory" : sf_error_number(err));

    /* decoded as a file is read (adv_audio_read_memory: the reader's own path) */
    adv_audio a;
    if (adv_audio_read_memory(c->mem.data, (size_t)c->mem.size, adv_audio_format_name(c->format, name, sizeof name), &a) != 0)
        return -1;
    if (a.channels != c->channels) {
        adv_audio_free(&a);
        return adv_fail("cannot decode %s: %d channels came back, %d went in", name, a.channels, c->channels);
    }
    size_t got = (size_t)(a.frames < c->frames ? a.frames : c->frames) * c->channels;
    memcpy(out, a.samples, sizeof(float) * got);
    memset(out + got, 0, sizeof(float) * (total - got));
    adv_audio_free(&a);
    return 0;
}
