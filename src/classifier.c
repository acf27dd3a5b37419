/* End-to-end differentiable classifier for a batch of B clips of the same length and rate:
 * resample -> front end (one per clip, in parallel) -> one network call of batch B. */
#include "advinst/classifier.h"
#include "advinst/calibration.h"
#include "advinst/error.h"
#include <stdlib.h>
#include <string.h>

struct adv_classifier {
    adv_model *model;
    int rate, batch;
    long n;               /* samples at `rate` per clip */
    long n16;             /* samples at 16 kHz per clip */
    int tp;               /* network frames per clip */
    adv_resampler *resampler;   /* NULL at 16 kHz; stateless, shared by the clips */
    adv_frontend **frontend;    /* [batch] */
    adv_net *net;
    float *wave16k, *gwave16k;         /* [batch][n16] */
    float *net_input, *gnet_input;     /* [batch][100][tp] */
};

long adv_classifier_min_samples(int rate)
{
    /* smallest n whose resampled length ceil(n * 16000 / rate) exceeds n_fft / 2 */
    long need16 = ADV_N_FFT / 2 + 1;
    return (long)(((double)need16 * rate + ADV_SAMPLE_RATE - 1) / ADV_SAMPLE_RATE);
}

long adv_classifier_samples(const adv_classifier *c) { return c->n; }
long adv_classifier_samples16k(const adv_classifier *c) { return c->n16; }
int adv_classifier_rate(const adv_classifier *c) { return c->rate; }
int adv_classifier_batch(const adv_classifier *c) { return c->batch; }
adv_frontend *adv_classifier_frontend(adv_classifier *c) { return c->frontend[0]; }
const float *adv_classifier_wave16k(const adv_classifier *c) { return c->wave16k; }
const float *adv_classifier_net_input(const adv_classifier *c) { return c->net_input; }

void adv_classifier_free(adv_classifier *c)
{
    if (!c) return;
    adv_resampler_free(c->resampler);
    if (c->frontend)
        for (int b = 0; b < c->batch; b++) adv_frontend_free(c->frontend[b]);
    free(c->frontend);
    adv_net_free(c->net);
    free(c->wave16k);
    free(c->gwave16k);
    free(c->net_input);
    free(c->gnet_input);
    free(c);
}

adv_classifier *adv_classifier_create_batch(adv_model *m, int rate, long n, int batch)
{
    if (rate <= 0) { adv_fail("invalid sample rate %d", rate); return NULL; }
    if (batch < 1) { adv_fail("invalid classifier batch %d", batch); return NULL; }
    long n16 = n;
    adv_resampler *rs = NULL;
    if (rate != ADV_SAMPLE_RATE) {
        rs = adv_resampler_create(rate, ADV_SAMPLE_RATE, n);
        if (!rs) return NULL;
        n16 = adv_resampler_output_length(rs);
    }
    if (n16 <= ADV_N_FFT / 2) {
        adv_resampler_free(rs);
        adv_fail("audio of %ld samples at %d Hz is too short: at least %ld samples (%.0f ms) are needed",
                 n, rate, adv_classifier_min_samples(rate), 1000.0 * adv_classifier_min_samples(rate) / rate);
        return NULL;
    }
    adv_classifier *c = calloc(1, sizeof *c);
    if (!c) { adv_resampler_free(rs); adv_fail("out of memory"); return NULL; }
    c->model = m;
    c->rate = rate;
    c->batch = batch;
    c->n = n;
    c->n16 = n16;
    c->resampler = rs;
    c->frontend = calloc((size_t)batch, sizeof *c->frontend);
    if (!c->frontend) { adv_classifier_free(c); adv_fail("out of memory"); return NULL; }
    for (int b = 0; b < batch; b++)
        if (!(c->frontend[b] = adv_frontend_create(n16, m->fe_mean, m->fe_std))) { adv_classifier_free(c); return NULL; }
    c->tp = adv_frontend_padded_frames(c->frontend[0]);
    c->net = adv_net_create(m, batch, c->tp, 0, 0);
    if (!c->net) { adv_classifier_free(c); return NULL; }
    const size_t nw = (size_t)batch * n16, ni = (size_t)batch * ADV_N_MELS * c->tp;
    c->wave16k = malloc(sizeof(float) * nw);
    c->gwave16k = malloc(sizeof(float) * nw);
    c->net_input = malloc(sizeof(float) * ni);
    c->gnet_input = malloc(sizeof(float) * ni);
    if (!c->wave16k || !c->gwave16k || !c->net_input || !c->gnet_input) {
        adv_classifier_free(c);
        adv_fail("out of memory for %d clips of %ld samples", batch, n);
        return NULL;
    }
    return c;
}

adv_classifier *adv_classifier_create(adv_model *m, int rate, long n)
{
    return adv_classifier_create_batch(m, rate, n, 1);
}

/* The clips' resampling and front ends are independent: one clip per thread. */
void adv_classifier_forward_batch(adv_classifier *c, const float *const *waves, float *logits)
{
    const size_t in_size = (size_t)ADV_N_MELS * c->tp;
#pragma omp parallel for schedule(static) if (c->batch > 1)
    for (int b = 0; b < c->batch; b++) {
        float *w16 = c->wave16k + (size_t)b * c->n16;
        if (c->resampler) adv_resampler_forward(c->resampler, waves[b], w16);
        else memcpy(w16, waves[b], sizeof(float) * (size_t)c->n);
        adv_frontend_forward(c->frontend[b], w16, c->net_input + b * in_size);
    }
    adv_net_forward(c->net, c->net_input, logits);
}

void adv_classifier_probs(const adv_classifier *c, const float *logits, float *probs)
{
    adv_model_probs(c->model, logits, probs);
}

/* From d loss / d network input (c->gnet_input) back to each clip's samples. */
static void backward_to_waves(adv_classifier *c, float *const *gwaves)
{
    const size_t in_size = (size_t)ADV_N_MELS * c->tp;
#pragma omp parallel for schedule(static) if (c->batch > 1)
    for (int b = 0; b < c->batch; b++) {
        const float *gin = c->gnet_input + b * in_size;
        if (c->resampler) {
            float *g16 = c->gwave16k + (size_t)b * c->n16;
            adv_frontend_backward(c->frontend[b], gin, g16);
            adv_resampler_backward(c->resampler, g16, gwaves[b]);
        } else {
            adv_frontend_backward(c->frontend[b], gin, gwaves[b]);
        }
    }
}

void adv_classifier_backward_batch(adv_classifier *c, const float *glogits, float *const *gwaves)
{
    adv_net_backward(c->net, glogits, c->gnet_input);
    backward_to_waves(c, gwaves);
}

void adv_classifier_forward(adv_classifier *c, const float *wave, float *logits)
{
    adv_classifier_forward_batch(c, &wave, logits);
}

void adv_classifier_backward16k(adv_classifier *c, const float *glogits, float *g16)
{
    adv_net_backward(c->net, glogits, c->gnet_input);
    adv_frontend_backward(c->frontend[0], c->gnet_input, g16);
}

void adv_classifier_resample_adjoint(const adv_classifier *c, const float *g16, float *gwave)
{
    if (c->resampler) adv_resampler_backward(c->resampler, g16, gwave);
    else if (gwave != g16) memcpy(gwave, g16, sizeof(float) * (size_t)c->n);
}

void adv_classifier_backward(adv_classifier *c, const float *glogits, float *gwave)
{
    adv_classifier_backward_batch(c, glogits, &gwave);
}

int adv_classifier_time_steps(const adv_classifier *c) { return adv_net_time_steps(c->net); }
void adv_classifier_step_scores(const adv_classifier *c, float *scores) { adv_net_step_scores(c->net, scores); }

void adv_classifier_backward_steps(adv_classifier *c, const float *gscores, float *gwave)
{
    adv_net_backward_steps(c->net, gscores, c->gnet_input);
    backward_to_waves(c, &gwave);
}

int adv_classify_audio(adv_model *m, const adv_audio *a, float *logits)
{
    if (adv_audio_check_samples(a->samples, a->frames, a->channels, "classify: the audio") != 0) return -1;
    float *mono = malloc(sizeof(float) * (size_t)(a->frames > 0 ? a->frames : 1));
    if (!mono) return adv_fail("out of memory");
    adv_audio_mix_mono(a, mono);
    adv_classifier *c = adv_classifier_create(m, a->rate, a->frames);
    if (!c) { free(mono); return -1; }
    adv_classifier_forward(c, mono, logits);
    adv_classifier_free(c);
    free(mono);
    return 0;
}
