/* Audio files: read anything libsndfile reads, write atomically, mix to mono. */
#ifndef ADVINST_AUDIO_H
#define ADVINST_AUDIO_H
#include <stddef.h>

typedef struct {
    float *samples;   /* interleaved, frames * channels, nominally in [-1, 1] */
    long frames;
    int channels;
    int rate;         /* Hz */
    int format;       /* libsndfile SF_FORMAT_* (major | subtype) of the source, or of what to write */
} adv_audio;

/* Largest sample magnitude read (60 dB over full scale). Float files can hold any value; beyond
 * this it is not sound, and sums over such samples (mix, resampler, spectra) overflow to inf. */
#define ADV_AUDIO_MAX_ABS 1000.0f

/* Reads a whole file. Fails (adv_error) on a missing, unreadable, empty or non-finite file:
 * NaN/Inf samples and samples beyond +-ADV_AUDIO_MAX_ABS are an error, not silently passed on. */
int adv_audio_read(const char *path, adv_audio *out);

/* Same, from a file image in memory (libsndfile virtual I/O); `name` is used in messages. */
int adv_audio_read_memory(const void *data, size_t size, const char *name, adv_audio *out);

/* Writes `a` in a->format (0 means WAV float) to `path` through a temporary file in the same
 * directory renamed into place, so a failure never leaves a partial file. Samples are clipped
 * to [-1, 1] for integer formats by libsndfile's normalisation. */
int adv_audio_write(const char *path, const adv_audio *a);

/* Allocates frames * channels zeroed samples. */
int adv_audio_alloc(adv_audio *a, long frames, int channels, int rate, int format);
void adv_audio_free(adv_audio *a);

/* Mono mix (mean of channels) into mono[frames]. */
void adv_audio_mix_mono(const adv_audio *a, float *mono);

/* Adjoint of the mono mix: adds g_mono[f] / channels to every channel of g_interleaved. */
void adv_audio_mix_mono_backward(const float *g_mono, long frames, int channels, float *g_interleaved);

/* Human-readable name of a libsndfile format, e.g. "WAV PCM 16". */
const char *adv_audio_format_name(int format, char *buf, size_t size);
#endif
