/* The live engine's classifier worker: sliding windows of the input and the output mono mixes,
 * classified several times a second; probability events for the control thread. */
#include "live_internal.h"
#include "advinst/blas.h"
#include "advinst/nn.h"
#include <math.h>
#include <string.h>

/* ---- the classifier worker ---- */

/* The columns of the front end's mel spectrogram (100 x T dB, band-major) that are new since
 * *last (a column's time: the centre of its STFT frame) and whose frame lies wholly inside the
 * window (the last ones are partly reflect padding), as SPECTRUM events of at most
 * ADV_LIVE_SPECTRUM_COLUMNS columns, at most SPECTRUM_EVENTS of them (the newest). */
#define SPECTRUM_EVENTS 3
static void spectrum_events(adv_live *e, int stream, uint64_t frame, int64_t *last)
{
    const adv_frontend *fe = adv_classifier_frontend(e->clf);
    const float *db = adv_frontend_db(fe);
    const int T = adv_frontend_frames(fe);
    const double per_column = (double)ADV_HOP * e->cfg.rate / ADV_SAMPLE_RATE;   /* stream frames */
    const int64_t start = (int64_t)frame - e->W;   /* negative until the first window is full */
    int t_end = (int)((adv_frontend_samples(fe) - ADV_N_FFT / 2) / ADV_HOP);   /* the last column wholly inside */
    if (t_end > T - 1) t_end = T - 1;
    int t0 = t_end + 1;   /* the oldest new column */
    while (t0 > 0 && t_end - t0 + 1 < SPECTRUM_EVENTS * ADV_LIVE_SPECTRUM_COLUMNS) {
        const int64_t when = start + llround((t0 - 1) * per_column);
        if (when < 0 || when <= *last + (int64_t)(per_column / 2)) break;
        t0--;
    }
    adv_live_event ev;
    for (int t = t0; t <= t_end;) {
        memset(&ev, 0, sizeof ev);
        ev.type = ADV_LIVE_EV_SPECTRUM;
        ev.stream = stream;
        ev.frame = frame;
        for (; t <= t_end && ev.n_columns < ADV_LIVE_SPECTRUM_COLUMNS; t++, ev.n_columns++) {
            ev.column_frame[ev.n_columns] = (uint64_t)(start + llround(t * per_column));
            for (int b = 0; b < ADV_LIVE_SPECTRUM_BANDS; b++) {
                const int m0 = b * ADV_N_MELS / ADV_LIVE_SPECTRUM_BANDS, m1 = (b + 1) * ADV_N_MELS / ADV_LIVE_SPECTRUM_BANDS;
                float sum = 0;
                for (int m = m0; m < m1; m++) sum += db[(size_t)m * T + t];
                ev.column_db[ev.n_columns][b] = sum / (float)(m1 - m0);
            }
        }
        *last = (int64_t)ev.column_frame[ev.n_columns - 1];
        if (adv_ring_write(e->ev_clf, &ev, sizeof ev) != 0) live_overflow(e);
    }
}

static void classify_window(adv_live *e, int stream, long pos, uint64_t frame, int64_t *last_column)
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
    ev.silent = adv_is_silent(e->lin, W);
    adv_classifier_forward(e->clf, e->lin, logits);
    adv_classifier_probs(e->clf, logits, ev.probs);
    if (adv_ring_write(e->ev_clf, &ev, sizeof ev) != 0) live_overflow(e);
    if (e->cfg.spectrum) spectrum_events(e, stream, frame, last_column);
}

void *live_classify_main(void *arg)
{
    adv_live *e = arg;
    if (!e->cfg.workers_keep_priority) adv_rt_lower_priority(10);
    adv_rt_flush_denormals();
    adv_blas_set_threads(1);
    long pos = 0, since = 0;
    uint64_t frames = 0;
    int64_t last_column[2] = {-1, -1};
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
            classify_window(e, 0, pos, frames, &last_column[0]);
            classify_window(e, 1, pos, frames, &last_column[1]);
        }
    }
    return NULL;
}
