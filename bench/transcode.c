/* Writes IN's samples (any format libsndfile reads) as OUT in the format OUT's extension names,
 * levels untouched (unlike sndfile-convert, which normalises integer input written to float-based
 * codecs): .ogg Vorbis, .opus Opus (OGG), .mp3 MPEG layer III, .flac FLAC 16-bit, .wav 16-bit PCM.
 * For bench/lossy.sh.
 *
 *   transcode IN OUT
 */
#include "advinst/audio.h"
#include "advinst/error.h"
#include <sndfile.h>
#include <stdio.h>
#include <string.h>

static int format_for(const char *path)
{
    static const struct { const char *ext; int format; } table[] = {
        {".ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS}, {".opus", SF_FORMAT_OGG | SF_FORMAT_OPUS},
        {".mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III}, {".flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16},
        {".wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16}};
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(dot, table[i].ext)) return table[i].format;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) { fprintf(stderr, "usage: transcode IN OUT (.ogg .opus .mp3 .flac .wav)\n"); return 2; }
    int format = format_for(argv[2]);
    if (!format) { fprintf(stderr, "transcode: %s: unknown extension\n", argv[2]); return 2; }
    adv_audio a;
    if (adv_audio_read(argv[1], &a) != 0) { fprintf(stderr, "transcode: %s\n", adv_error()); return 3; }
    a.format = format;
    int rc = adv_audio_write(argv[2], &a);
    if (rc != 0) fprintf(stderr, "transcode: %s\n", adv_error());
    adv_audio_free(&a);
    return rc ? 4 : 0;
}
