/* The live engine's classifier worker: sliding windows of the input and the output mono mixes,
 * classified several times a second; probability events for the control thread. */
#include "live_internal.h"
#include "advinst/blas.h"
#include "advinst/nn.h"
#include <string.h>

/* ---- the classifier worker ---- */

static void classify_window(adv_live *e, int stream, long pos, uint64_t frame)
{
    const long W = e->W;
    memcpy(e->lin, e->win[stream] + pos, sizeof(float) * (size_t)(W - pos));
    memcpy(e->lin + (W - pos), e->win[stream], sizeof(float) * (size_t)pos);
    float logits[ADV_N_CLASSES];
    adv_live_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = ADV_LIVE_EV_PROBS;
    ev.stream = stream;
    ev.frame = frame;
    adv_classifier_forward(e->clf, e->lin, logits);
    adv_softmax(ADV_N_CLASSES, logits, ev.probs);
    if (adv_ring_write(e->ev_clf, &ev, sizeof ev) != 0) live_overflow(e);
}

void *live_classify_main(void *arg)
{
    adv_live *e = arg;
    if (!e->cfg.workers_keep_priority) adv_rt_lower_priority(10);
    adv_rt_flush_denormals();
    adv_blas_set_threads(1);
    long pos = 0, since = 0;
    uint64_t frames = 0;
    while (!atomic_load(&e->stop)) {
        size_t avail = adv_ring_read_space(e->mon_ring) / (2 * sizeof(float));
        if (avail == 0) { adv_rt_nap(); continue; }
        if (avail > CHUNK) avail = CHUNK;
        adv_ring_read(e->mon_ring, e->pairs, avail * 2 * sizeof(float));
        for (size_t i = 0; i < avail; i++) {
            e->win[0][pos] = e->pairs[2 * i];
            e->win[1][pos] = e->pairs[2 * i + 1];
            if (++pos == e->W) pos = 0;
        }
        since += (long)avail;
        frames += avail;
        /* classify once caught up: a slow classifier lowers the rate instead of falling behind */
        if (since >= e->hop && adv_ring_read_space(e->mon_ring) < (size_t)e->hop * 2 * sizeof(float)) {
            since = 0;
            classify_window(e, 0, pos, frames);
            classify_window(e, 1, pos, frames);
        }
    }
    return NULL;
}
