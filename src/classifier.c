/* End-to-end differentiable classifier for one clip: resample -> front end -> network. */
#include "advinst/classifier.h"
#include "advinst/error.h"
#include <stdlib.h>
#include <string.h>

struct adv_classifier {
    adv_model *model;
    int rate;
    long n;               /* samples at `rate` */
    long n16;             /* samples at 16 kHz */
    adv_resampler *resampler;   /* NULL at 16 kHz */
    adv_frontend *frontend;
    adv_net *net;
    float *wave16k, *gwave16k;
    float *net_input, *gnet_input;
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
adv_frontend *adv_classifier_frontend(adv_classifier *c) { return c->frontend; }
const float *adv_classifier_wave16k(const adv_classifier *c) { return c->wave16k; }
const float *adv_classifier_net_input(const adv_classifier *c) { return c->net_input; }

void adv_classifier_free(adv_classifier *c)
{
    if (!c) return;
    adv_resampler_free(c->resampler);
    adv_frontend_free(c->frontend);
    adv_net_free(c->net);
    free(c->wave16k);
    free(c->gwave16k);
    free(c->net_input);
    free(c->gnet_input);
    free(c);
}

adv_classifier *adv_classifier_create(adv_model *m, int rate, long n)
{
    if (rate <= 0) { adv_fail("invalid sample rate %d", rate); return NULL; }
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
    c->n = n;
    c->n16 = n16;
    c->resampler = rs;
    c->frontend = adv_frontend_create(n16, m->fe_mean, m->fe_std);
    if (!c->frontend) { adv_classifier_free(c); return NULL; }
    int tp = adv_frontend_padded_frames(c->frontend);
    c->net = adv_net_create(m, 1, tp, 0, 0);
    if (!c->net) { adv_classifier_free(c); return NULL; }
    c->wave16k = malloc(sizeof(float) * (size_t)n16);
    c->gwave16k = malloc(sizeof(float) * (size_t)n16);
    c->net_input = malloc(sizeof(float) * (size_t)ADV_N_MELS * tp);
    c->gnet_input = malloc(sizeof(float) * (size_t)ADV_N_MELS * tp);
    if (!c->wave16k || !c->gwave16k || !c->net_input || !c->gnet_input) {
        adv_classifier_free(c);
        adv_fail("out of memory for a clip of %ld samples", n);
        return NULL;
    }
    return c;
}

void adv_classifier_forward(adv_classifier *c, const float *wave, float *logits)
{
    if (c->resampler) adv_resampler_forward(c->resampler, wave, c->wave16k);
    else memcpy(c->wave16k, wave, sizeof(float) * (size_t)c->n);
    adv_frontend_forward(c->frontend, c->wave16k, c->net_input);
    adv_net_forward(c->net, c->net_input, logits);
}

void adv_classifier_backward16k(adv_classifier *c, const float *glogits, float *g16)
{
    adv_net_backward(c->net, glogits, c->gnet_input);
    adv_frontend_backward(c->frontend, c->gnet_input, g16);
}

void adv_classifier_resample_adjoint(const adv_classifier *c, const float *g16, float *gwave)
{
    if (c->resampler) adv_resampler_backward(c->resampler, g16, gwave);
    else if (gwave != g16) memcpy(gwave, g16, sizeof(float) * (size_t)c->n);
}

void adv_classifier_backward(adv_classifier *c, const float *glogits, float *gwave)
{
    if (c->resampler) {
        adv_classifier_backward16k(c, glogits, c->gwave16k);
        adv_resampler_backward(c->resampler, c->gwave16k, gwave);
    } else {
        adv_classifier_backward16k(c, glogits, gwave);
    }
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
