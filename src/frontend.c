/* The paper's front end (torchaudio semantics), forward and backward.
 *
 * Forward, for a signal x of n samples at 16 kHz:
 *   X     = STFT(x), n_fft 2048, hop 512 (src/stft.c)                T x 1025 complex
 *   P     = |X|^2                                                   T x 1025
 *   S     = mel(P)                                                  100 x T
 *   D     = 10 log10(max(S, 1e-10))                                 100 x T
 *   Dc    = maximum(D, max(D) - 80)                                 100 x T
 *   out   = circular-pad((Dc - mean) / std)                         100 x T'
 * Backward walks the same chain in reverse; the transposed STFT is done with inverse real FFTs. */
#include "advinst/frontend.h"
#include "advinst/error.h"
#include "advinst/stft.h"
#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* FFTW's planner is not thread-safe; plans are made and destroyed under this lock. Executing
 * plans (fftwf_execute_dft_*) is thread-safe and needs no lock. */
static pthread_mutex_t fftw_planner_lock = PTHREAD_MUTEX_INITIALIZER;

void adv_fftw_planner_lock(void) { pthread_mutex_lock(&fftw_planner_lock); }
void adv_fftw_planner_unlock(void) { pthread_mutex_unlock(&fftw_planner_lock); }

typedef struct {
    int lo, hi;        /* first and last bin with a non-zero weight */
    float *weight;     /* hi - lo + 1 weights */
} mel_filter;

struct adv_frontend {
    long n;                 /* samples */
    int frames;             /* T */
    int padded;             /* T' */
    adv_stft *stft;
    float mean[ADV_N_MELS], inv_std[ADV_N_MELS];
    mel_filter mel[ADV_N_MELS];
    float *mel_weights;     /* storage of every filter's weights */
    int *pad_src;           /* [T'] source column of each padded column */

    float *xpad;            /* n + 2048: the padded signal, then its gradient */
    float *frames_buf;      /* T x 2048, windowed frames; reused as frame gradients */
    fftwf_complex *spec;    /* T x 1025, X of the last forward */
    fftwf_complex *gspec;   /* T x 1025, scratch for the backward (c2r destroys its input) */
    float *power;           /* T x 1025 */
    float *mel_power;       /* 100 x T, S */
    float *db_raw;          /* 100 x T, D */
    float *db;              /* 100 x T, Dc */
    float *gdb;             /* 100 x T */
    float *gpower;          /* T x 1025 */
    float threshold;        /* max(D) - 80 */
};

int adv_frontend_frames_for(long n_samples) { return (int)(1 + n_samples / ADV_HOP); }

int adv_frontend_padded_frames_for(long n_samples)
{
    int t = adv_frontend_frames_for(n_samples);
    return t < ADV_MIN_FRAMES ? ADV_MIN_FRAMES : t;
}

long adv_frontend_samples(const adv_frontend *fe) { return fe->n; }
int adv_frontend_frames(const adv_frontend *fe) { return fe->frames; }
int adv_frontend_padded_frames(const adv_frontend *fe) { return fe->padded; }
const float *adv_frontend_db(const adv_frontend *fe) { return fe->db; }

static double hz_to_mel(double f) { return 2595.0 * log10(1.0 + f / 700.0); }
static double mel_to_hz(double m) { return 700.0 * (pow(10.0, m / 2595.0) - 1.0); }

/* Filter weight of mel band m at bin k: the triangular HTK filters without area normalisation of
 * the paper's code (torchaudio's melscale_fbanks, mel_scale "htk", norm None): bin k at
 * k * 8000 / 1024 Hz, 102 points equally spaced in mel from 40 Hz to 8 kHz. */
static double mel_weight(const double *p, int m, int k)
{
    double f = k * (ADV_SAMPLE_RATE / 2.0) / (ADV_N_BINS - 1);
    double down = (f - p[m]) / (p[m + 1] - p[m]);
    double up = (p[m + 2] - f) / (p[m + 2] - p[m + 1]);
    double w = down < up ? down : up;
    return w > 0 ? w : 0;
}

static void mel_points(double *p)
{
    double lo = hz_to_mel(ADV_F_MIN), hi = hz_to_mel(ADV_F_MAX);
    for (int i = 0; i < ADV_N_MELS + 2; i++) p[i] = mel_to_hz(lo + (hi - lo) * i / (ADV_N_MELS + 1));
}

void adv_mel_filterbank(float *fb)
{
    double p[ADV_N_MELS + 2];
    mel_points(p);
    for (int k = 0; k < ADV_N_BINS; k++)
        for (int m = 0; m < ADV_N_MELS; m++) fb[k * ADV_N_MELS + m] = (float)mel_weight(p, m, k);
}

void adv_circular_pad_index(int frames, int padded, int *src)
{
    for (int i = 0; i < frames; i++) src[i] = i;
    if (padded <= frames) return;
    /* The paper's circular_pad: the split of the padding is fixed once, then each round pads the
     * current array circularly by at most its length on each side, until nothing is left. */
    int pre = (padded - frames) / 2, post = padded - frames - pre, len = frames;
    while (pre + post > 0) {
        int a = pre < len ? pre : len, b = post < len ? post : len;
        memmove(src + a, src, sizeof(int) * (size_t)len);        /* the current array at [a, a + len) */
        memcpy(src, src + len, sizeof(int) * (size_t)a);         /* its last a columns before it */
        memcpy(src + a + len, src + a, sizeof(int) * (size_t)b); /* its first b columns after it */
        len += a + b;
        pre -= a;
        post -= b;
    }
}

adv_frontend *adv_frontend_create(long n, const float *mean, const float *std)
{
    if (n <= ADV_N_FFT / 2) {
        adv_fail("signal of %ld samples is shorter than one STFT frame (needs at least %d at 16 kHz)",
                 n, ADV_N_FFT / 2 + 1);
        return NULL;
    }
    adv_frontend *fe = calloc(1, sizeof *fe);
    if (!fe) { adv_fail("out of memory"); return NULL; }
    fe->n = n;
    fe->frames = adv_frontend_frames_for(n);
    fe->padded = adv_frontend_padded_frames_for(n);
    const int T = fe->frames;
    for (int m = 0; m < ADV_N_MELS; m++) {
        fe->mean[m] = mean ? mean[m] : 0.0f;
        fe->inv_std[m] = std ? 1.0f / std[m] : 1.0f;
    }

    double p[ADV_N_MELS + 2];
    mel_points(p);
    size_t total = 0;
    for (int m = 0; m < ADV_N_MELS; m++) {
        int lo = -1, hi = -1;
        for (int k = 0; k < ADV_N_BINS; k++)
            if (mel_weight(p, m, k) > 0) { if (lo < 0) lo = k; hi = k; }
        if (lo < 0) lo = hi = 0;   /* an empty filter: one zero weight keeps the loops simple */
        fe->mel[m].lo = lo;
        fe->mel[m].hi = hi;
        total += (size_t)(hi - lo + 1);
    }
    fe->mel_weights = malloc(sizeof(float) * total);
    fe->pad_src = malloc(sizeof(int) * (size_t)fe->padded);
    const size_t npad = (size_t)n + ADV_N_FFT;
    fe->xpad = fftwf_malloc(sizeof(float) * npad);
    fe->frames_buf = fftwf_malloc(sizeof(float) * (size_t)T * ADV_N_FFT);
    fe->spec = fftwf_malloc(sizeof(fftwf_complex) * (size_t)T * ADV_N_BINS);
    fe->gspec = fftwf_malloc(sizeof(fftwf_complex) * (size_t)T * ADV_N_BINS);
    fe->power = fftwf_malloc(sizeof(float) * (size_t)T * ADV_N_BINS);
    fe->gpower = fftwf_malloc(sizeof(float) * (size_t)T * ADV_N_BINS);
    fe->mel_power = malloc(sizeof(float) * (size_t)T * ADV_N_MELS);
    fe->db_raw = malloc(sizeof(float) * (size_t)T * ADV_N_MELS);
    fe->db = malloc(sizeof(float) * (size_t)T * ADV_N_MELS);
    fe->gdb = malloc(sizeof(float) * (size_t)T * ADV_N_MELS);
    if (!fe->mel_weights || !fe->pad_src || !fe->xpad || !fe->frames_buf || !fe->spec ||
        !fe->gspec || !fe->power || !fe->gpower || !fe->mel_power || !fe->db_raw || !fe->db || !fe->gdb) {
        adv_frontend_free(fe);
        adv_fail("out of memory planning the front end for %ld samples", n);
        return NULL;
    }
    float *wp = fe->mel_weights;
    for (int m = 0; m < ADV_N_MELS; m++) {
        fe->mel[m].weight = wp;
        for (int k = fe->mel[m].lo; k <= fe->mel[m].hi; k++) *wp++ = (float)mel_weight(p, m, k);
    }
    adv_circular_pad_index(T, fe->padded, fe->pad_src);
    if (!(fe->stft = adv_stft_create(n, ADV_N_FFT, ADV_HOP, fe->frames_buf, fe->spec))) {
        adv_frontend_free(fe);
        return NULL;
    }
    return fe;
}

void adv_frontend_free(adv_frontend *fe)
{
    if (!fe) return;
    adv_stft_free(fe->stft);
    free(fe->mel_weights);
    free(fe->pad_src);
    fftwf_free(fe->xpad);
    fftwf_free(fe->frames_buf);
    fftwf_free(fe->spec);
    fftwf_free(fe->gspec);
    fftwf_free(fe->power);
    fftwf_free(fe->gpower);
    free(fe->mel_power);
    free(fe->db_raw);
    free(fe->db);
    free(fe->gdb);
    free(fe);
}

void adv_frontend_forward(adv_frontend *fe, const float *x, float *out)
{
    const int T = fe->frames, Tp = fe->padded;
    adv_stft_forward(fe->stft, x, fe->xpad, fe->frames_buf, fe->spec);

    float dmax = -INFINITY;
#pragma omp parallel if (T >= 32)
    {
#pragma omp for schedule(static)
        for (int t = 0; t < T; t++)
            for (size_t i = (size_t)t * ADV_N_BINS; i < (size_t)(t + 1) * ADV_N_BINS; i++) {
                float re = fe->spec[i][0], im = fe->spec[i][1];
                fe->power[i] = re * re + im * im;
            }
#pragma omp for schedule(static, 1) reduction(max : dmax)   /* filters widen with m: interleave */
        for (int m = 0; m < ADV_N_MELS; m++) {
            const mel_filter *f = &fe->mel[m];
            const int len = f->hi - f->lo + 1;
            for (int t = 0; t < T; t++) {
                const float *pw = fe->power + (size_t)t * ADV_N_BINS + f->lo;
                float s = 0;
                for (int k = 0; k < len; k++) s += f->weight[k] * pw[k];
                fe->mel_power[m * T + t] = s;
                float d = 10.0f * log10f(s > ADV_AMIN ? s : ADV_AMIN);
                fe->db_raw[m * T + t] = d;
                if (d > dmax) dmax = d;
            }
        }
    }
    fe->threshold = dmax - ADV_TOP_DB;
    for (size_t i = 0; i < (size_t)T * ADV_N_MELS; i++)
        fe->db[i] = fe->db_raw[i] > fe->threshold ? fe->db_raw[i] : fe->threshold;

    for (int m = 0; m < ADV_N_MELS; m++) {
        const float *d = fe->db + (size_t)m * T;
        float *o = out + (size_t)m * Tp;
        for (int j = 0; j < Tp; j++) o[j] = (d[fe->pad_src[j]] - fe->mean[m]) * fe->inv_std[m];
    }
}

/* d loss / d Dc -> d loss / d D, routing the floor's share to the maximum as autograd does for
 * maximum(D, amax(D) - 80): ties split in half, amax splits evenly among its ties. */
static void top_db_backward(adv_frontend *fe)
{
    const size_t count = (size_t)fe->frames * ADV_N_MELS;
    float dmax = fe->threshold + ADV_TOP_DB;
    double gthr = 0;
    int ties = 0;
    for (size_t i = 0; i < count; i++) {
        float d = fe->db_raw[i], g = fe->gdb[i];
        if (d < fe->threshold) { gthr += g; fe->gdb[i] = 0; }
        else if (d == fe->threshold) { gthr += 0.5 * g; fe->gdb[i] = 0.5f * g; }
        if (d == dmax) ties++;
    }
    if (gthr == 0 || ties == 0) return;
    float share = (float)(gthr / ties);
    for (size_t i = 0; i < count; i++)
        if (fe->db_raw[i] == dmax) fe->gdb[i] += share;
}

void adv_frontend_backward(adv_frontend *fe, const float *gout, float *gx)
{
    const int T = fe->frames, Tp = fe->padded;

    /* normalisation and circular padding */
    memset(fe->gdb, 0, sizeof(float) * (size_t)T * ADV_N_MELS);
    for (int m = 0; m < ADV_N_MELS; m++) {
        const float *g = gout + (size_t)m * Tp;
        float *gd = fe->gdb + (size_t)m * T;
        for (int j = 0; j < Tp; j++) gd[fe->pad_src[j]] += g[j] * fe->inv_std[m];
    }
    top_db_backward(fe);

    /* Per frame t, in parallel:
     *   dB and mel: gS = gD * 10 / (ln 10 * S) where S >= 1e-10; gP[t][k] = sum_m fb[m][k] gS[m][t]
     *   power: gX = 2 X gP, in the STFT transpose's convention (bins 1..1023 halved) */
    const float db_scale = (float)(10.0 / M_LN10);
#pragma omp parallel for schedule(static) if (T >= 32)
    for (int t = 0; t < T; t++) {
        float *gp = fe->gpower + (size_t)t * ADV_N_BINS;
        memset(gp, 0, sizeof(float) * ADV_N_BINS);
        for (int m = 0; m < ADV_N_MELS; m++) {
            float s = fe->mel_power[m * T + t];
            if (!(s >= ADV_AMIN)) continue;
            float gs = fe->gdb[m * T + t] * db_scale / s;
            if (gs == 0) continue;
            const mel_filter *f = &fe->mel[m];
            const int len = f->hi - f->lo + 1;
            for (int k = 0; k < len; k++) gp[f->lo + k] += f->weight[k] * gs;
        }
        const fftwf_complex *X = fe->spec + (size_t)t * ADV_N_BINS;
        fftwf_complex *G = fe->gspec + (size_t)t * ADV_N_BINS;
        for (int k = 0; k < ADV_N_BINS; k++) {
            float scale = 2.0f * adv_stft_onesided_weight(k, ADV_N_BINS);
            G[k][0] = scale * X[k][0] * gp[k];
            G[k][1] = scale * X[k][1] * gp[k];
        }
    }
    adv_stft_backward(fe->stft, fe->gspec, fe->frames_buf, fe->xpad, gx, 0);
}
