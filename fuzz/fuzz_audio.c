/* libFuzzer: audio files from memory (adv_audio_read_memory: libsndfile virtual I/O, every format
 * it reads), then what the data-set importer and the attacks do with them: the mono mix and the
 * resampler to 16 kHz (forward and its adjoint), on at most MAX_FRAMES frames so every run is fast. */
#include "advinst/audio.h"
#include "advinst/resample.h"
#include "invariants.h"
#include <stdint.h>
#include <stdlib.h>

#define MAX_FRAMES 4096
/* The resampler's table for a rate pair can hold millions of taps (e.g. 44101 Hz: 16000 phases);
 * designing it is linear in its size. Rates needing more than this many taps are only decoded. */
#define MAX_TAPS (1L << 16)


static void check_resampler(const float *mono, long n, int rate)
{
    adv_resampler *r = adv_resampler_create(rate, 16000, n);
    FUZZ_REQUIRE(r != NULL, "resampler for %d Hz, %ld frames", rate, n);
    long m = adv_resampler_output_length(r);
    FUZZ_REQUIRE(m == (long)((n * 16000L + rate - 1) / rate), "output length %ld for %ld frames at %d Hz", m, n, rate);
    float *y = malloc((size_t)(m ? m : 1) * sizeof *y);
    float *gx = malloc((size_t)n * sizeof *gx);
    if (!y || !gx) abort();
    adv_resampler_forward(r, mono, y);
    /* the adjoint is exact: <A x, y> = <x, A^T y> */
    adv_resampler_backward(r, y, gx);
    double ay = 0, xg = 0, scale = 0;
    for (long j = 0; j < m; j++) {
        FUZZ_REQUIRE(isfinite(y[j]), "resampled sample %ld is %g", j, (double)y[j]);
        ay += (double)y[j] * y[j];
        scale += fabs((double)y[j] * y[j]);
    }
    for (long i = 0; i < n; i++) {
        xg += (double)mono[i] * gx[i];
        scale += fabs((double)mono[i] * gx[i]);
    }
    if (isfinite(scale))
        FUZZ_REQUIRE(fabs(ay - xg) <= 1e-4 * scale + 1e-30, "<Ax, y> %.9g vs <x, A^T y> %.9g", ay, xg);
    free(y);
    free(gx);
    adv_resampler_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    adv_audio a;
    if (adv_audio_read_memory(data, size, "fuzz.audio", &a) != 0) return 0;
    FUZZ_REQUIRE(a.frames > 0 && a.channels > 0 && a.rate > 0 && a.samples, "%ld frames, %d channels, %d Hz", a.frames,
                 a.channels, a.rate);
    size_t total = (size_t)a.frames * (size_t)a.channels;
    for (size_t i = 0; i < total; i++)
        FUZZ_REQUIRE(isfinite(a.samples[i]) && fabsf(a.samples[i]) <= ADV_AUDIO_MAX_ABS, "sample %zu is %g", i,
                     (double)a.samples[i]);

    adv_audio head = a;   /* the first frames only (interleaved, so a prefix) */
    if (head.frames > MAX_FRAMES) head.frames = MAX_FRAMES;
    float *mono = malloc((size_t)head.frames * sizeof *mono);
    if (!mono) abort();
    adv_audio_mix_mono(&head, mono);
    for (long f = 0; f < head.frames; f++) FUZZ_REQUIRE(isfinite(mono[f]), "mono sample %ld is %g", f, (double)mono[f]);
    if (adv_resampler_table_taps(a.rate, 16000) <= (double)MAX_TAPS) check_resampler(mono, head.frames, a.rate);
    free(mono);
    adv_audio_free(&a);
    return 0;
}
