/* What a listener hears: an independent classifier sliding a window (3.7 s) over a recording every
 * hop (0.1 s), each window classified on its own exactly as `advinst classify` would classify it
 * as a file (resampled from its own rate, the paper's front end and network). Used to judge live
 * output the way an audience hears it, not by clip-aligned segments. */
#ifndef ADVINST_LISTEN_H
#define ADVINST_LISTEN_H
#include "advinst/model.h"

typedef struct {
    long end;                       /* frame after the window's last frame */
    int silent;                     /* RMS below the silence threshold: no class */
    int cls;                        /* most likely class (-1 when silent) */
    float probs[ADV_N_CLASSES];
} adv_listen_window;

/* Windows of `window` frames ending at window, window + hop, ... <= n: how many. */
long adv_listen_count(long n, long window, long hop);
/* Classifies them (mono[n] at `rate`) into out[adv_listen_count(...)]. -1 + adv_error on failure. */
int adv_listen(adv_model *m, const float *mono, long n, int rate, long window, long hop, adv_listen_window *out);
#endif
