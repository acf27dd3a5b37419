/* The codec round trip the attacks put in their loop (include/advinst/codec.h): which formats
 * need it, and that it gives exactly what a reader of a written file decodes (the file written
 * with adv_audio_write and read back with adv_audio_read), deterministically, for Vorbis, Opus,
 * MP3, u-law and IMA ADPCM. */
#include "testutil.h"
#include "advinst/audio.h"
#include "advinst/codec.h"
#include "advinst/error.h"
#include <math.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 31337;

static void check_format(const char *dir, const char *name, int format, int rate, int channels)
{
    const long frames = rate / 2;
    adv_audio a;
    adv_audio_alloc(&a, frames, channels, rate, format);
    for (long f = 0; f < frames; f++)
        for (int c = 0; c < channels; c++)
            a.samples[f * channels + c] = (float)(0.3 * sin(2 * M_PI * (330 + 110 * c) * f / rate) + 0.02 * adv_rng_normal(&rng));
    adv_codec *codec = adv_codec_create(format, rate, channels, frames);
    CHECK(codec != NULL, "%s: codec: %s", name, adv_error());
    float *d1 = malloc(sizeof(float) * frames * channels), *d2 = malloc(sizeof(float) * frames * channels);
    if (codec && adv_codec_round_trip(codec, a.samples, d1) == 0 && adv_codec_round_trip(codec, a.samples, d2) == 0) {
        CHECK(memcmp(d1, d2, sizeof(float) * frames * channels) == 0, "%s: two round trips decode the same", name);
        CHECK(adv_codec_encoded_bytes(codec) > 0, "%s: encoded bytes", name);
        double s = 0, e = 0;
        for (long i = 0; i < frames * channels; i++) { s += (double)a.samples[i] * a.samples[i]; e += pow(a.samples[i] - d1[i], 2); }
        CHECK(10 * log10(s / e) > 10, "%s: round trip SNR %.1f dB", name, 10 * log10(s / e));
        adv_audio b;
        const char *path = tu_path(dir, name);
        CHECK(adv_audio_write(path, &a) == 0, "%s: write: %s", name, adv_error());
        if (adv_audio_read(path, &b) == 0) {
            /* block codecs pad the last block: the file may be a little longer */
            CHECK(b.frames >= frames && b.frames < frames + 1024 && b.format == format &&
                      memcmp(b.samples, d1, sizeof(float) * frames * channels) == 0,
                  "%s: the written file decodes exactly as the round trip (%ld frames, format 0x%x)", name, b.frames, b.format);
            adv_audio_free(&b);
        } else {
            CHECK(0, "%s: read back: %s", name, adv_error());
        }
    } else {
        CHECK(0, "%s: round trip: %s", name, adv_error());
    }
    adv_codec_free(codec);
    adv_audio_free(&a);
    free(d1);
    free(d2);
}

int main(void)
{
    const char *dir = tu_scratch_dir("codec");
    if (!dir) return 1;
    static const int lossless[] = {0, SF_FORMAT_WAV | SF_FORMAT_PCM_16, SF_FORMAT_WAV | SF_FORMAT_FLOAT,
                                   SF_FORMAT_FLAC | SF_FORMAT_PCM_24, SF_FORMAT_AIFF | SF_FORMAT_PCM_S8};
    static const int lossy[] = {SF_FORMAT_OGG | SF_FORMAT_VORBIS, SF_FORMAT_OGG | SF_FORMAT_OPUS,
                                SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, SF_FORMAT_WAV | SF_FORMAT_ULAW,
                                SF_FORMAT_WAV | SF_FORMAT_ALAW, SF_FORMAT_WAV | SF_FORMAT_IMA_ADPCM};
    for (size_t i = 0; i < sizeof lossless / sizeof lossless[0]; i++)
        CHECK(!adv_codec_is_lossy(lossless[i]), "format 0x%x is modelled by the quantiser", lossless[i]);
    for (size_t i = 0; i < sizeof lossy / sizeof lossy[0]; i++)
        CHECK(adv_codec_is_lossy(lossy[i]), "format 0x%x needs the codec", lossy[i]);
    check_format(dir, "v.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 44100, 2);
    check_format(dir, "o.opus", SF_FORMAT_OGG | SF_FORMAT_OPUS, 48000, 1);
    check_format(dir, "m.mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 16000, 1);
    check_format(dir, "u.wav", SF_FORMAT_WAV | SF_FORMAT_ULAW, 16000, 2);
    check_format(dir, "i.wav", SF_FORMAT_WAV | SF_FORMAT_IMA_ADPCM, 22050, 1);
    CHECK(adv_codec_create(SF_FORMAT_OGG | SF_FORMAT_OPUS, 44100, 1, 1000) == NULL && strstr(adv_error(), "44100"),
          "Opus at 44.1 kHz is refused: %s", adv_error());
    return tu_finish("test_codec");
}
