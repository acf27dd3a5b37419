/* The recording chain of a rendered clip: what happens to an instrument's sound between the
 * instrument and the file a listener gets. In order: instrument amplifier (electric guitar and
 * bass), the room (a synthesised impulse response of a given size, reverberation time and
 * source distance, convolved), the microphone and preamp (band limits, proximity boost, presence
 * peak, tilt), trimming, background noise at realistic levels, compression, gain with clipping,
 * level, and a lossy codec round trip through libsndfile (Vorbis, Opus, MP3 where the library
 * supports it). Every choice comes from the clip's random stream (see docs/dataset.md). */
#include "recchain.h"
#include "advinst/audio.h"
#include "advinst/frontend.h"
#include <fftw3.h>
#include <sndfile.h>
#include <stdio.h>

/* ---- instrument amplifier ------------------------------------------------------------------ */

/* Guitar/bass amplifier: input EQ, asymmetric soft clipping at drive 1.5-40 (x), speaker cabinet
 * (a 4x12-like band: high-pass, low-mid bump, steep low-pass at 2.8-6 kHz). */
static void amp_sim(rng *r, buf *b, int bass)
{
    double drive = exp(rrange(r, log(1.5), log(bass ? 8 : 40))), bias = rrange(r, 0, 0.3);
    float p = peak_of(b->x, b->n);
    if (!(p > 0)) return;
    biquad pre = bq_design(1, rrange(r, 60, 160), 0.7, 0), mid = bq_design(3, rrange(r, 500, 1200), 0.8, rrange(r, -3, 6));
    double off = tanh(bias);
    for (long i = 0; i < b->n; i++) {
        double x = bq_run(&mid, bq_run(&pre, b->x[i] / p));
        b->x[i] = (float)((tanh(drive * x + bias) - off) / tanh(drive));
    }
    double lp = rrange(r, bass ? 2000 : 2800, bass ? 4500 : 6000);
    bq_apply(bq_design(0, lp, 0.8, 0), b->x, b->n);
    bq_apply(bq_design(0, lp * 1.1, 0.6, 0), b->x, b->n);
    bq_apply(bq_design(3, rrange(r, 100, 250), 1.0, rrange(r, 0, 5)), b->x, b->n);
    bq_apply(bq_design(1, rrange(r, 60, 110), 0.7, 0), b->x, b->n);
}

/* ---- the room ------------------------------------------------------------------------------ */

/* A room impulse response at 16 kHz: the direct sound, early reflections (image-source-like
 * delays within the room's size), and a late tail of decaying noise whose high frequencies die
 * sooner. The direct-to-reverberant energy ratio follows the source distance against the room's
 * critical distance 0.057 sqrt(V / RT60). */
static int room_ir(rng *r, buf *ir, double *info)
{
    static const double size_lo[] = {2.5, 4, 8, 15}, size_hi[] = {4, 8, 15, 35}, rt_lo[] = {0.15, 0.25, 0.5, 1.0},
                        rt_hi[] = {0.4, 0.8, 1.6, 3.0};
    int kind = rpick(r, (double[]){3, 3, 2, 1}, 4);   /* booth/small room, room, hall, large hall */
    double L = rrange(r, size_lo[kind], size_hi[kind]), W = L * rrange(r, 0.5, 1.0), H = rrange(r, 2.4, fmin(12, L * 0.6));
    double rt60 = rrange(r, rt_lo[kind], rt_hi[kind]), V = L * W * H;
    double dist = exp(rrange(r, log(0.2), log(fmin(8, L * 0.7))));
    double dc = 0.057 * sqrt(V / rt60);
    double drr = (dc / dist) * (dc / dist);   /* direct / reverberant energy */
    long n = (long)(fmin(rt60 * 1.1, 3.0) * SR) + 1;
    if (buf_alloc(ir, n) < 0) return -1;
    double direct = 1.0;
    ir->x[0] = (float)direct;
    /* early reflections: 6 first-order walls plus some higher orders */
    int ne = rint_in(r, 8, 24);
    double early = 0;
    for (int k = 0; k < ne; k++) {
        double extra = k < 6 ? rrange(r, 0.3, 1.0) * (k < 2 ? L : k < 4 ? W : H) : rrange(r, 0.5, 2.5) * L;
        double path = dist + extra;
        long at = (long)(extra / 343.0 * SR);
        if (at < 1 || at >= n) continue;
        double a = (rchance(r, 0.5) ? 1 : -1) * rrange(r, 0.5, 0.95) * dist / path;
        ir->x[at] += (float)a;
        early += a * a;
    }
    /* late tail: three bands with their own decay (low x1.3, mid x1, high x0.45 of rt60) */
    long start = (long)(rrange(r, 0.005, 0.02) * (L / 10) * SR) + 1;
    double tail_e = 0;
    float *tail = calloc((size_t)n, sizeof(float));
    if (!tail) { free(ir->x); return adv_fail("out of memory"); }
    biquad lo = bq_design(0, 500, 0.7, 0), hi = bq_design(1, 3000, 0.7, 0);
    double k_lo = -6.9 / (rt60 * 1.3 * SR), k_mid = -6.9 / (rt60 * SR), k_hi = -6.9 / (rt60 * 0.45 * SR);
    for (long i = start; i < n; i++) {
        double w = rnorm(r), l = bq_run(&lo, w), h = bq_run(&hi, w), m = w - l - h;
        double t = (double)(i - start), onset = fmin(1.0, t / (0.01 * SR + 1));
        double y = onset * (l * exp(k_lo * t) + m * exp(k_mid * t) + h * exp(k_hi * t));
        tail[i] = (float)y;
        tail_e += y * y;
    }
    /* scale the reverberant part (early + tail) to the direct-to-reverberant ratio */
    double rev_target = direct * direct / drr, g = tail_e > 0 ? sqrt(fmax(rev_target - early, rev_target * 0.3) / tail_e) : 0;
    for (long i = 0; i < n; i++) ir->x[i] += (float)(g * tail[i]);
    free(tail);
    info[0] = rt60;
    info[1] = dist;
    return 0;
}

/* b = b (*) ir by FFT (the clip grows by the tail, at most 2 s kept). */
static int convolve(buf *b, const buf *ir)
{
    long keep = b->n + (ir->n < 2 * SR ? ir->n : 2 * SR), need = b->n + ir->n;
    long nfft = 1;
    while (nfft < need) nfft <<= 1;
    float *x = fftwf_malloc(sizeof(float) * (size_t)nfft), *h = fftwf_malloc(sizeof(float) * (size_t)nfft);
    fftwf_complex *X = fftwf_malloc(sizeof(fftwf_complex) * (size_t)(nfft / 2 + 1)),
                  *Hf = fftwf_malloc(sizeof(fftwf_complex) * (size_t)(nfft / 2 + 1));
    float *y = NULL;
    int rc = -1;
    if (!x || !h || !X || !Hf) { adv_fail("out of memory"); goto done; }
    memset(x, 0, sizeof(float) * (size_t)nfft);
    memset(h, 0, sizeof(float) * (size_t)nfft);
    memcpy(x, b->x, sizeof(float) * (size_t)b->n);
    memcpy(h, ir->x, sizeof(float) * (size_t)ir->n);
    adv_fftw_planner_lock();
    fftwf_plan px = fftwf_plan_dft_r2c_1d((int)nfft, x, X, FFTW_ESTIMATE);
    fftwf_plan ph = fftwf_plan_dft_r2c_1d((int)nfft, h, Hf, FFTW_ESTIMATE);
    fftwf_plan pb = fftwf_plan_dft_c2r_1d((int)nfft, X, x, FFTW_ESTIMATE);
    adv_fftw_planner_unlock();
    if (px && ph && pb) {
        fftwf_execute(px);
        fftwf_execute(ph);
        for (long k = 0; k <= nfft / 2; k++) {
            float re = X[k][0] * Hf[k][0] - X[k][1] * Hf[k][1], im = X[k][0] * Hf[k][1] + X[k][1] * Hf[k][0];
            X[k][0] = re / (float)nfft;
            X[k][1] = im / (float)nfft;
        }
        fftwf_execute(pb);
        y = realloc(b->x, sizeof(float) * (size_t)keep);
        if (y) {
            memcpy(y, x, sizeof(float) * (size_t)keep);
            b->x = y;
            b->n = keep;
            rc = 0;
        } else adv_fail("out of memory");
    } else adv_fail("FFTW: cannot plan a transform of %ld points", nfft);
    adv_fftw_planner_lock();
    if (px) fftwf_destroy_plan(px);
    if (ph) fftwf_destroy_plan(ph);
    if (pb) fftwf_destroy_plan(pb);
    adv_fftw_planner_unlock();
done:
    fftwf_free(x);
    fftwf_free(h);
    fftwf_free(X);
    fftwf_free(Hf);
    return rc;
}

/* ---- microphone and preamp ----------------------------------------------------------------- */

static void microphone(rng *r, buf *b, double dist)
{
    int kind = rpick(r, (double[]){5, 3, 1, 0.6}, 4);   /* studio, dynamic/SM57-like, laptop, phone */
    if (kind == 3) {   /* phone/voice band */
        bq_apply(bq_design(1, rrange(r, 250, 400), 0.7, 0), b->x, b->n);
        bq_apply(bq_design(0, rrange(r, 3200, 4000), 0.7, 0), b->x, b->n);
        bq_apply(bq_design(0, 3600, 0.7, 0), b->x, b->n);
        return;
    }
    if (kind == 2) {   /* laptop / camera: tinny, a resonance */
        bq_apply(bq_design(1, rrange(r, 150, 400), 0.7, 0), b->x, b->n);
        bq_apply(bq_design(3, rrange(r, 1500, 4500), rrange(r, 1, 4), rrange(r, 3, 9)), b->x, b->n);
    }
    if (kind == 1) bq_apply(bq_design(3, rrange(r, 3000, 6000), 1.2, rrange(r, 2, 7)), b->x, b->n);   /* presence */
    if (dist < 0.5 && kind != 2) bq_apply(bq_design(3, rrange(r, 100, 250), 0.7, rrange(r, 2, 8) * (0.5 - dist) * 2), b->x, b->n);
    bq_apply(bq_design(3, 1000, 0.3, rrange(r, -5, 5)), b->x, b->n);   /* tilt */
    if (rchance(r, 0.45)) bq_apply(bq_design(1, exp(rrange(r, log(30), log(180))), 0.7, 0), b->x, b->n);
    if (rchance(r, 0.3)) bq_apply(bq_design(0, rrange(r, 3500, 7500), 0.7, 0), b->x, b->n);
    if (rchance(r, 0.3)) bq_apply(bq_design(3, rrange(r, 200, 5000), rrange(r, 0.7, 3), rrange(r, -8, 8)), b->x, b->n);
}

/* ---- background ---------------------------------------------------------------------------- */

/* Background at 10-50 dB under the clip: pink, white, brown, room tone (low-passed brown + pink),
 * babble (band-passed noise modulated at syllable rate) or mains hum. */
static void background(rng *r, buf *b)
{
    double sig = rms_of(b->x, b->n);
    if (!(sig > 0)) return;
    int type = rpick(r, (double[]){3, 1.5, 1.5, 2.5, 1.5, 0.6}, 6);
    double lvl = sig * db(-rrange(r, 10, 50)), s0 = 0, s1 = 0, s2 = 0, br = 0, env = 0, ph = 0;
    double rate = rrange(r, 2.5, 6), f = rchance(r, 0.5) ? 50 : 60;
    biquad lp = bq_design(0, rrange(r, 200, 900), 0.7, 0), band = bq_design(2, rrange(r, 400, 1200), 0.6, 0);
    double acc = 0, out[1];
    float *n = malloc(sizeof(float) * (size_t)b->n);
    if (!n) return;
    for (long i = 0; i < b->n; i++) {
        double w = rnorm(r), x;
        s0 = 0.99765 * s0 + w * 0.0990460;   /* pink: Kellet's economy filter */
        s1 = 0.96300 * s1 + w * 0.2965164;
        s2 = 0.57000 * s2 + w * 1.0526913;
        double pink = (s0 + s1 + s2 + w * 0.1848) * 0.25;
        br = 0.995 * br + 0.1 * w;
        switch (type) {
        case 0: x = pink; break;
        case 1: x = w; break;
        case 2: x = br; break;
        case 3: x = bq_run(&lp, br + pink) + 0.2 * pink; break;
        case 4:
            ph += 2 * M_PI * rate / SR;
            env = 0.5 + 0.5 * sin(ph + 0.7 * sin(0.37 * ph));
            x = bq_run(&band, w) * env * env;
            break;
        default: {
            double t = (double)i / SR;
            x = sin(2 * M_PI * f * t) + 0.5 * sin(6 * M_PI * f * t) + 0.3 * sin(10 * M_PI * f * t);
        }
        }
        n[i] = (float)x;
        acc += x * x;
    }
    (void)out;
    double g = acc > 0 ? lvl / sqrt(acc / (double)b->n) : 0;
    for (long i = 0; i < b->n; i++) b->x[i] += (float)(g * n[i]);
    free(n);
}

/* ---- dynamics, gain, clipping -------------------------------------------------------------- */

/* Feed-forward compressor (RMS detector, soft knee-less), threshold relative to the clip's peak
 * envelope, ratio 2-10, attack 2-30 ms, release 40-400 ms, make-up to the old peak. */
static void compress(rng *r, buf *b)
{
    float p0 = peak_of(b->x, b->n);
    if (!(p0 > 0)) return;
    double thr = p0 * db(-rrange(r, 6, 30)), ratio = rrange(r, 2, 10);
    double att = exp(-1.0 / (rrange(r, 0.002, 0.03) * SR)), rel = exp(-1.0 / (rrange(r, 0.04, 0.4) * SR));
    double env = 0;
    for (long i = 0; i < b->n; i++) {
        double x2 = (double)b->x[i] * b->x[i];
        env = x2 > env ? att * env + (1 - att) * x2 : rel * env + (1 - rel) * x2;
        double lvl = sqrt(env);
        if (lvl > thr) b->x[i] *= (float)pow(lvl / thr, 1.0 / ratio - 1.0);
    }
    float p1 = peak_of(b->x, b->n);
    if (p1 > 0) for (long i = 0; i < b->n; i++) b->x[i] *= p0 / p1;
}

/* Peak at `peak_db` dBFS; above 0 dBFS the samples are hard clipped (an overdriven input). */
static void gain_clip(buf *b, double peak_db)
{
    float p = peak_of(b->x, b->n);
    if (!(p > 0)) return;
    float g = (float)(db(peak_db) / p);
    for (long i = 0; i < b->n; i++) {
        float v = b->x[i] * g;
        b->x[i] = v > 1.0f ? 1.0f : v < -1.0f ? -1.0f : v;
    }
}

/* ---- lossy codecs through libsndfile ------------------------------------------------------- */

typedef struct { unsigned char *d; sf_count_t n, cap, pos; } memfile;

static sf_count_t mf_len(void *u) { return ((memfile *)u)->n; }
static sf_count_t mf_tell(void *u) { return ((memfile *)u)->pos; }
static sf_count_t mf_seek(sf_count_t off, int whence, void *u)
{
    memfile *m = u;
    sf_count_t p = whence == SEEK_SET ? off : whence == SEEK_CUR ? m->pos + off : m->n + off;
    if (p < 0) return -1;
    m->pos = p;
    return p;
}
static sf_count_t mf_read(void *ptr, sf_count_t count, void *u)
{
    memfile *m = u;
    if (m->pos >= m->n) return 0;
    sf_count_t k = m->n - m->pos < count ? m->n - m->pos : count;
    memcpy(ptr, m->d + m->pos, (size_t)k);
    m->pos += k;
    return k;
}
static sf_count_t mf_write(const void *ptr, sf_count_t count, void *u)
{
    memfile *m = u;
    if (m->pos + count > m->cap) {
        sf_count_t cap = m->cap ? m->cap : 65536;
        while (cap < m->pos + count) cap *= 2;
        unsigned char *d = realloc(m->d, (size_t)cap);
        if (!d) return 0;
        if (cap > m->cap) memset(d + m->cap, 0, (size_t)(cap - m->cap));
        m->d = d;
        m->cap = cap;
    }
    memcpy(m->d + m->pos, ptr, (size_t)count);
    m->pos += count;
    if (m->pos > m->n) m->n = m->pos;
    return count;
}

static const struct { int format; const char *name; } codecs[] = {
    {SF_FORMAT_OGG | SF_FORMAT_VORBIS, "vorbis"},
    {SF_FORMAT_OGG | SF_FORMAT_OPUS, "opus"},
    {SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, "mp3"},
};
enum { N_CODECS = 3 };

int rec_codec_supported(int k)
{
    SF_INFO info = {.samplerate = SR, .channels = 1, .format = codecs[k].format};
    return sf_format_check(&info);
}

const char *rec_codec_name(int k) { return codecs[k].name; }

/* Encodes b with codec k at VBR quality q (0 best .. 1 worst) and decodes it back in place (same
 * length; codec delay is not compensated, as in a real transcoded file). */
static int codec_roundtrip(buf *b, int k, double q)
{
    memfile m = {0};
    SF_VIRTUAL_IO vio = {mf_len, mf_seek, mf_read, mf_write, mf_tell};
    SF_INFO info = {.samplerate = SR, .channels = 1, .format = codecs[k].format};
    SNDFILE *sf = sf_open_virtual(&vio, SFM_WRITE, &info, &m);
    if (!sf) { free(m.d); return adv_fail("%s encoder: %s", codecs[k].name, sf_strerror(NULL)); }
    sf_command(sf, SFC_SET_VBR_ENCODING_QUALITY, &q, sizeof q);
    sf_count_t w = sf_writef_float(sf, b->x, b->n);
    sf_close(sf);
    if (w != b->n) { free(m.d); return adv_fail("%s encoder: short write", codecs[k].name); }
    adv_audio a;
    int rc = adv_audio_read_memory(m.d, (size_t)m.n, codecs[k].name, &a);
    free(m.d);
    if (rc < 0) return -1;
    float *mono = malloc(sizeof(float) * (size_t)(a.frames > 0 ? a.frames : 1));
    if (!mono) { adv_audio_free(&a); return adv_fail("out of memory"); }
    adv_audio_mix_mono(&a, mono);
    long frames = a.frames;
    int rate = a.rate;
    adv_audio_free(&a);
    if (rate != SR) {   /* a decoder that resamples (Opus at 48 kHz): back to 16 kHz */
        buf t;
        rc = to_16k(mono, frames, rate, &t);
        free(mono);
        if (rc < 0) return -1;
        mono = t.x;
        frames = t.n;
    }
    long n = frames < b->n ? frames : b->n;
    memcpy(b->x, mono, sizeof(float) * (size_t)n);
    memset(b->x + n, 0, sizeof(float) * (size_t)(b->n - n));
    free(mono);
    return 0;
}

/* ---- the chain ----------------------------------------------------------------------------- */

static void trim(buf *b, double min_s, double max_s)
{
    float p = peak_of(b->x, b->n);
    long end = b->n;
    while (end > 0 && fabsf(b->x[end - 1]) < p * 1e-3f) end--;
    end += SR / 20;
    long lo = (long)(min_s * SR), hi = (long)(max_s * SR);
    if (end < lo) end = lo;
    if (end > hi) end = hi;
    if (end > b->n) buf_mix(b, end - 1, &(float){0}, 1, 0);
    b->n = end;
    long fade = SR / 20 < b->n / 4 ? SR / 20 : b->n / 4;
    for (long i = 0; i < fade; i++) b->x[b->n - 1 - i] *= (float)i / fade;
    for (long i = 0; i < 32 && i < b->n; i++) b->x[i] *= (float)i / 32;
}

int rec_chain(rng *r, buf *b, int cls, double min_s, double max_s, const unsigned char *codec_ok)
{
    if (!(peak_of(b->x, b->n) > 0)) return adv_fail("internal: rendered a silent clip");
    if ((cls == C_EL_GUITAR && rchance(r, 0.55)) || (cls == C_BASS_GUITAR && rchance(r, 0.2)))
        amp_sim(r, b, cls == C_BASS_GUITAR);
    double info[2] = {0, 1.0};
    if (rchance(r, 0.8)) {
        buf ir;
        if (room_ir(r, &ir, info) < 0) return -1;
        int rc = convolve(b, &ir);
        free(ir.x);
        if (rc < 0) return -1;
    }
    microphone(r, b, info[1]);
    trim(b, min_s, max_s);
    if (rchance(r, 0.8)) background(r, b);
    if (rchance(r, 0.4)) compress(r, b);
    gain_clip(b, rchance(r, 0.12) ? rrange(r, 1, 10) : rrange(r, -30, -1));
    if (rchance(r, 0.5)) {
        double w[N_CODECS];
        for (int k = 0; k < N_CODECS; k++) w[k] = codec_ok && codec_ok[k] ? 1 : 0;
        if (w[0] + w[1] + w[2] > 0) {
            int k = rpick(r, w, N_CODECS);
            if (codec_roundtrip(b, k, rrange(r, 0.2, 0.9)) < 0) return -1;
        }
    }
    return 0;
}
