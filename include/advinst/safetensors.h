/* safetensors files: 8-byte little-endian header length, JSON header, raw little-endian data.
 * A reader that validates everything and a writer that writes atomically. */
#ifndef ADVINST_SAFETENSORS_H
#define ADVINST_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>

typedef enum { ADV_DTYPE_F32, ADV_DTYPE_I64, ADV_DTYPE_F64, ADV_DTYPE_I32 } adv_dtype;

typedef struct {
    char *name;
    adv_dtype dtype;
    int ndim;
    int64_t shape[8];
    size_t nbytes;
    void *data;           /* owned copy, aligned */
} adv_tensor;

typedef struct {
    adv_tensor *tensors;
    int count;
    char **meta_keys;     /* __metadata__ (string -> string) */
    char **meta_values;
    int meta_count;
} adv_st;

/* Parses a file image / a file. Fails with a one-line adv_error on any inconsistency: short file,
 * header length beyond the file, invalid JSON, unknown dtype, shape/offset mismatch, overlapping
 * or out-of-range offsets, duplicate names, non-string metadata. Never crashes on bad input. */
int adv_st_parse(const void *image, size_t size, const char *name, adv_st *out);
int adv_st_read(const char *path, adv_st *out);
void adv_st_free(adv_st *st);

const adv_tensor *adv_st_find(const adv_st *st, const char *name);
const char *adv_st_meta(const adv_st *st, const char *key);

/* Builder for writing. Tensor data is copied. */
int adv_st_add(adv_st *st, const char *name, adv_dtype dtype, int ndim, const int64_t *shape, const void *data);
int adv_st_set_meta(adv_st *st, const char *key, const char *value);

/* Writes through a temporary file + rename (no partial file on failure). */
int adv_st_write(const adv_st *st, const char *path);
#endif
