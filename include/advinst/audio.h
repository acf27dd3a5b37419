/* Audio files: read anything libsndfile reads, write atomically, mix to mono. */
#ifndef ADVINST_AUDIO_H
#define ADVINST_AUDIO_H
#include "advinst/outfile.h"
#include <stddef.h>

typedef struct {
    float *samples;   /* interleaved, frames * channels, nominally in [-1, 1] */
    long frames;
    int channels;
    int rate;         /* Hz */
    int format;       /* libsndfile SF_FORMAT_* (major | subtype) of the source, or of what to write */
} adv_audio;

/* Largest sample magnitude taken as audio: 1e6, 120 dB above full scale. Float data may exceed
 * [-1, 1] (over-range is legal in float files) and is used as it is up to this; beyond it the data
 * is not audio (a corrupt or mislabelled file) and the front end's power
 * spectrum would overflow to infinity. */
#define ADV_AUDIO_MAX_ABS 1e6f

/* 0 if every sample of x[frames * channels] is finite and within +-ADV_AUDIO_MAX_ABS; else -1 with
 * adv_error "<what>: contains NaN or infinite samples (first at frame F)" or "<what>: sample
 * magnitude M at frame F is not audio (limit 1e+06)". */
int adv_audio_check_samples(const float *x, long frames, int channels, const char *what);

/* Reads a whole file. Fails (adv_error) on a missing, unreadable or empty file, and on one whose
 * samples fail adv_audio_check_samples: NaN/Inf are an error, not silently passed on. A WAV cut
 * short (its data chunk runs past the end of the file) is read as far as it goes, as libsndfile
 * does; adv_audio_truncation says so. */
int adv_audio_read(const char *path, adv_audio *out);

/* For audio `a` just read from `path`: if path is a WAV cut short, "truncated: 2,980 of 128,718
 * frames" (what was read, of what the header declares) into buf, and returns buf; else NULL.
 * Programs print it as a warning. */
const char *adv_audio_truncation(const char *path, const adv_audio *a, char *buf, size_t size);

/* 1 if `path` is a non-empty regular file that looks like audio: libsndfile opens it, or it is a
 * WAV that adv_audio_read will refuse as corrupt (listed so that the read reports why). Never hands
 * libsndfile a WAV whose chunks run past the end (see adv_audio_read). 0 otherwise. */
int adv_audio_probe(const char *path);

/* Same, from a file image in memory (libsndfile virtual I/O); `name` is used in messages. */
int adv_audio_read_memory(const void *data, size_t size, const char *name, adv_audio *out);

/* Writes `a` in a->format (0 means WAV float) to `path`, replacing an existing file,
 * atomically (outfile.h): a failure or a kill never leaves a partial file. Samples are clipped
 * to [-1, 1] for integer formats by libsndfile's normalisation. Write errors fail through
 * adv_fail_output ("PATH: cannot write: REASON"). */
int adv_audio_write(const char *path, const adv_audio *a);

/* The same, a block at a time (recordings): open, write any number of times, then commit
 * (the file appears) or abort (nothing is left). format 0 means WAV float; flags are
 * ADV_OUTFILE_* (outfile.h). After a failed write only abort or commit (which fails) remain.
 * NaN/Inf samples are refused. */
typedef struct adv_audio_writer adv_audio_writer;
adv_audio_writer *adv_audio_writer_open(const char *path, int rate, int channels, int format, int flags);
int adv_audio_writer_write(adv_audio_writer *w, const float *samples, long frames);
int adv_audio_writer_commit(adv_audio_writer *w);
void adv_audio_writer_abort(adv_audio_writer *w);

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
