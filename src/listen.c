/* Sliding-window classification of a recording (see include/advinst/listen.h). */
#include "advinst/listen.h"
#include "advinst/attack.h"
#include "advinst/classes.h"
#include "advinst/classifier.h"
#include "advinst/error.h"
#include "advinst/nn.h"
#include <math.h>
#include <string.h>

long adv_listen_count(long n, long window, long hop)
{
    if (window <= 0 || hop <= 0 || n < window) return 0;
    return (n - window) / hop + 1;
}

int adv_listen(adv_model *m, const float *mono, long n, int rate, long window, long hop, adv_listen_window *out)
{
    const long count = adv_listen_count(n, window, hop);
    if (count == 0) return 0;
    adv_classifier *c = adv_classifier_create(m, rate, window);
    if (!c) return -1;
    for (long k = 0; k < count; k++) {
        const float *x = mono + k * hop;
        adv_listen_window *w = &out[k];
        memset(w, 0, sizeof *w);
        w->end = k * hop + window;
        double e = 0;
        for (long i = 0; i < window; i++) e += (double)x[i] * x[i];
        if (sqrt(e / (double)window) < ADV_SILENCE_RMS) {
            w->silent = 1;
            w->cls = -1;
            continue;
        }
        float logits[ADV_N_CLASSES];
        adv_classifier_forward(c, x, logits);
        adv_softmax(ADV_N_CLASSES, logits, w->probs);
        w->cls = adv_most_likely(w->probs);
    }
    adv_classifier_free(c);
    return 0;
}
