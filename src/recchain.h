/* Internal to the data-set renderer: the recording chain (recchain.c) applied to every rendered
 * clip. Not a public header. */
#ifndef ADVINST_RECCHAIN_H
#define ADVINST_RECCHAIN_H
#include "synth_dsp.h"

enum { REC_N_CODECS = 3 };

/* 1 if libsndfile can write codec k (0 Vorbis, 1 Opus, 2 MP3) at 16 kHz mono. */
int rec_codec_supported(int k);
const char *rec_codec_name(int k);

/* Amplifier (electric guitar / bass), room, microphone, trimming to [min_s, max_s], background,
 * compression, gain and clipping, codec (only those with codec_ok[k] set). The clip stays at
 * 16 kHz; its length changes. Returns 0 or -1 (adv_error). */
int rec_chain(rng *r, buf *b, int cls, double min_s, double max_s, const unsigned char *codec_ok);
#endif
