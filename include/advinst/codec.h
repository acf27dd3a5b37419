/* Output formats whose decoded samples are not a fixed per-sample grid (lossy codecs: Vorbis,
 * Opus, MPEG layers I-III, the ADPCMs, GSM 6.10, and the u-law / A-law companders), as a round
 * trip in memory through libsndfile: encode (virtual I/O into a growing buffer), decode back.
 * The attacks put it in their loop so that what they classify is what a reader of the written
 * file will decode. */
#ifndef ADVINST_CODEC_H
#define ADVINST_CODEC_H

/* 1 if `format` (libsndfile SF_FORMAT_*) needs a codec round trip to know what a file holds: any
 * subtype other than PCM, float and double (whose decoding adv_quantize_sample models exactly). */
int adv_codec_is_lossy(int format);

typedef struct adv_codec adv_codec;

/* Plans round trips of frames x channels at `rate` in `format`. NULL with adv_error if libsndfile
 * cannot write that format with these parameters. */
adv_codec *adv_codec_create(int format, int rate, int channels, long frames);
void adv_codec_free(adv_codec *c);
int adv_codec_format(const adv_codec *c);

/* out[frames * channels] = decode(encode(in)): the first `frames` frames decoded (zeros if the
 * decoder gives fewer; block codecs such as IMA ADPCM pad the last block, so their files hold
 * a few frames more). in is clipped to [-1, 1] as the file writer clips it. out may be in.
 * libsndfile allocates inside; the encoded bytes are kept for the next call. -1 (adv_error) if
 * libsndfile fails. */
int adv_codec_round_trip(adv_codec *c, const float *in, float *out);

/* Bytes of the last encoding (the size the file would have, give or take the container's
 * metadata). */
long adv_codec_encoded_bytes(const adv_codec *c);
#endif
