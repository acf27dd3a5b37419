/* safetensors reader (validating, fuzz-safe) and atomic writer. */
#include "advinst/safetensors.h"
#include "advinst/error.h"
#include "advinst/outfile.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host"
#endif

/* Same limit as the reference implementation: headers above 100 MB are refused. */
#define ST_MAX_HEADER 100000000ULL
#define ST_MAX_NDIM 8
/* Largest integer a JSON number (double) holds exactly. */
#define ST_MAX_JSON_INT 9007199254740992.0

static const struct { const char *name; adv_dtype dtype; size_t size; } dtypes[] = {
    {"F32", ADV_DTYPE_F32, 4}, {"I64", ADV_DTYPE_I64, 8}, {"F64", ADV_DTYPE_F64, 8}, {"I32", ADV_DTYPE_I32, 4},
};

static const char *dtype_name(adv_dtype d)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].dtype == d) return dtypes[i].name;
    return NULL;
}

static size_t dtype_size(adv_dtype d)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].dtype == d) return dtypes[i].size;
    return 0;
}

/* A file-supplied string made safe for a one-line message: printable ASCII, at most 60 chars. */
static const char *printable(const char *s, char buf[64])
{
    size_t n = 0;
    for (; s && s[n] && n < 60; n++) {
        unsigned char c = (unsigned char)s[n];
        buf[n] = (c >= 32 && c < 127) ? (char)c : '?';
    }
    if (s && s[n]) {
        memcpy(buf + 57, "...", 3);
        n = 60;
    }
    buf[n] = '\0';
    return buf;
}

/* 64-byte aligned buffer of at least n bytes (never NULL for n = 0 unless out of memory). */
static void *alloc_aligned(size_t n)
{
    size_t rounded = (n + 63) / 64 * 64;
    if (rounded < n) return NULL;
    return aligned_alloc(64, rounded ? rounded : 64);
}

static int shape_bytes(adv_dtype dtype, int ndim, const int64_t *shape, size_t *out)
{
    size_t n = dtype_size(dtype);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return -1;
        if (shape[i] != 0 && n > SIZE_MAX / (uint64_t)shape[i]) return -1;
        n *= (size_t)shape[i];
    }
    *out = n;
    return 0;
}

void adv_st_free(adv_st *st)
{
    if (!st) return;
    for (int i = 0; i < st->count; i++) {
        free(st->tensors[i].name);
        free(st->tensors[i].data);
    }
    free(st->tensors);
    for (int i = 0; i < st->meta_count; i++) {
        free(st->meta_keys[i]);
        free(st->meta_values[i]);
    }
    free(st->meta_keys);
    free(st->meta_values);
    memset(st, 0, sizeof *st);
}

const adv_tensor *adv_st_find(const adv_st *st, const char *name)
{
    for (int i = 0; i < st->count; i++)
        if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
    return NULL;
}

const char *adv_st_meta(const adv_st *st, const char *key)
{
    for (int i = 0; i < st->meta_count; i++)
        if (strcmp(st->meta_keys[i], key) == 0) return st->meta_values[i];
    return NULL;
}

/* ---- reading ---- */

/* A JSON number that is an integer in [0, 2^53]. */
static int json_uint(const cJSON *item, uint64_t *out)
{
    if (!cJSON_IsNumber(item)) return -1;
    double v = item->valuedouble;
    if (!(v >= 0.0 && v <= ST_MAX_JSON_INT) || v != floor(v)) return -1;
    *out = (uint64_t)v;
    return 0;
}

typedef struct { uint64_t begin, end; int index; } span;

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Fails if a sorted copy of names[n] has two equal neighbours (cJSON keeps duplicate keys). */
static int check_unique(const char *file, const char *what, char **names, int n)
{
    if (n < 2) return 0;
    char **sorted = malloc((size_t)n * sizeof *sorted);
    if (!sorted) return adv_fail("%s: out of memory", file);
    memcpy(sorted, names, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, str_cmp);
    int rc = 0;
    for (int i = 1; i < n; i++) {
        if (strcmp(sorted[i - 1], sorted[i]) == 0) {
            char pb[64];
            rc = adv_fail("%s: duplicate %s '%s' in the safetensors header", file, what, printable(sorted[i], pb));
            break;
        }
    }
    free(sorted);
    return rc;
}

static int parse_metadata(const char *file, const cJSON *meta, adv_st *out)
{
    char pb[64];
    if (!cJSON_IsObject(meta)) return adv_fail("%s: __metadata__ is not a JSON object", file);
    int n = cJSON_GetArraySize(meta);
    if (n == 0) return 0;
    out->meta_keys = calloc((size_t)n, sizeof *out->meta_keys);
    out->meta_values = calloc((size_t)n, sizeof *out->meta_values);
    if (!out->meta_keys || !out->meta_values) return adv_fail("%s: out of memory", file);
    for (const cJSON *kv = meta->child; kv; kv = kv->next) {
        if (!kv->string) return adv_fail("%s: malformed __metadata__", file);
        if (!cJSON_IsString(kv) || !kv->valuestring)
            return adv_fail("%s: metadata value of '%s' is not a string", file, printable(kv->string, pb));
        int i = out->meta_count;
        out->meta_keys[i] = strdup(kv->string);
        out->meta_values[i] = strdup(kv->valuestring);
        if (!out->meta_keys[i] || !out->meta_values[i]) {
            free(out->meta_keys[i]);
            free(out->meta_values[i]);
            return adv_fail("%s: out of memory", file);
        }
        out->meta_count++;
    }
    return check_unique(file, "metadata key", out->meta_keys, out->meta_count);
}

/* Validates one tensor entry and fills t (without data); returns its data span. */
static int parse_entry(const char *file, const cJSON *e, uint64_t data_size, adv_tensor *t, span *sp)
{
    char pb[64];
    const char *name = printable(e->string, pb);
    if (!cJSON_IsObject(e)) return adv_fail("%s: header entry '%s' is not a JSON object", file, name);

    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    if (!cJSON_IsString(jd) || !jd->valuestring) return adv_fail("%s: tensor '%s' has no dtype string", file, name);
    int found = 0;
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++) {
        if (strcmp(jd->valuestring, dtypes[i].name) == 0) {
            t->dtype = dtypes[i].dtype;
            found = 1;
        }
    }
    if (!found) {
        char db[64];
        return adv_fail("%s: tensor '%s' has unsupported dtype '%s' (F32, F64, I32, I64 supported)", file, name,
                        printable(jd->valuestring, db));
    }

    const cJSON *js = cJSON_GetObjectItemCaseSensitive(e, "shape");
    if (!cJSON_IsArray(js)) return adv_fail("%s: tensor '%s' has no shape list", file, name);
    int ndim = cJSON_GetArraySize(js);
    if (ndim > ST_MAX_NDIM) return adv_fail("%s: tensor '%s' has %d dimensions (at most %d)", file, name, ndim, ST_MAX_NDIM);
    t->ndim = 0;
    for (const cJSON *d = js->child; d; d = d->next) {
        uint64_t v;
        if (t->ndim >= ST_MAX_NDIM || json_uint(d, &v) != 0)
            return adv_fail("%s: tensor '%s' has a shape that is not a list of non-negative integers", file, name);
        t->shape[t->ndim++] = (int64_t)v;
    }
    size_t nbytes;
    if (shape_bytes(t->dtype, t->ndim, t->shape, &nbytes) != 0)
        return adv_fail("%s: tensor '%s' has an impossibly large shape", file, name);

    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    uint64_t begin, end;
    if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2 || json_uint(jo->child, &begin) != 0 ||
        json_uint(jo->child->next, &end) != 0)
        return adv_fail("%s: tensor '%s' needs data_offsets [begin, end] of non-negative integers", file, name);
    if (begin > end)
        return adv_fail("%s: tensor '%s' has data_offsets [%llu, %llu] that end before they begin", file, name,
                        (unsigned long long)begin, (unsigned long long)end);
    if (end > data_size)
        return adv_fail("%s: tensor '%s' has data_offsets [%llu, %llu] beyond the %llu-byte data block (truncated file?)",
                        file, name, (unsigned long long)begin, (unsigned long long)end, (unsigned long long)data_size);
    if (end - begin != nbytes)
        return adv_fail("%s: tensor '%s' shape needs %zu bytes but data_offsets span %llu", file, name, nbytes,
                        (unsigned long long)(end - begin));
    t->nbytes = nbytes;
    sp->begin = begin;
    sp->end = end;
    return 0;
}

int adv_st_parse(const void *image, size_t size, const char *name, adv_st *out)
{
    const char *file = name ? name : "(memory)";
    const unsigned char *bytes = image;
    memset(out, 0, sizeof *out);
    if (!image || size < 8) return adv_fail("%s: too short for a safetensors file (%zu bytes)", file, size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | bytes[i];
    if (hlen > ST_MAX_HEADER) return adv_fail("%s: safetensors header length %llu is absurd", file, (unsigned long long)hlen);
    if (hlen > size - 8)
        return adv_fail("%s: safetensors header length %llu exceeds the file (%zu bytes)", file, (unsigned long long)hlen, size);
    if (hlen < 2 || bytes[8] != '{') return adv_fail("%s: safetensors header is not a JSON object", file);

    /* cJSON gets a NUL-terminated copy, so it can never read past the header; an embedded NUL
     * ends the parse and is then caught as a trailing byte. */
    char *header = malloc((size_t)hlen + 1);
    if (!header) return adv_fail("%s: out of memory for a %llu-byte header", file, (unsigned long long)hlen);
    memcpy(header, bytes + 8, (size_t)hlen);
    header[hlen] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(header, &end, 0);
    if (!root) {
        free(header);
        return adv_fail("%s: safetensors header is not valid JSON", file);
    }
    int rc = 0;
    for (const char *p = end; p && p < header + hlen; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            rc = adv_fail("%s: trailing bytes after the safetensors JSON header", file);
            break;
        }
    }
    if (rc == 0 && !cJSON_IsObject(root)) rc = adv_fail("%s: safetensors header is not a JSON object", file);

    const unsigned char *data = bytes + 8 + hlen;
    uint64_t data_size = size - 8 - hlen;
    int n = 0, n_meta = 0;
    span *spans = NULL;
    if (rc == 0) {
        for (const cJSON *e = root->child; e; e = e->next) {
            if (e->string && strcmp(e->string, "__metadata__") == 0) n_meta++;
            else n++;
        }
        if (n_meta > 1) rc = adv_fail("%s: duplicate __metadata__ in the safetensors header", file);
    }
    if (rc == 0 && n > 0) {
        out->tensors = calloc((size_t)n, sizeof *out->tensors);
        spans = calloc((size_t)n, sizeof *spans);
        if (!out->tensors || !spans) rc = adv_fail("%s: out of memory", file);
    }
    for (const cJSON *e = rc == 0 ? root->child : NULL; e && rc == 0; e = e->next) {
        if (!e->string) {
            rc = adv_fail("%s: malformed safetensors header", file);
        } else if (strcmp(e->string, "__metadata__") == 0) {
            rc = parse_metadata(file, e, out);
        } else {
            adv_tensor *t = &out->tensors[out->count];
            rc = parse_entry(file, e, data_size, t, &spans[out->count]);
            if (rc == 0 && !(t->name = strdup(e->string))) rc = adv_fail("%s: out of memory", file);
            if (rc == 0) {
                spans[out->count].index = out->count;
                out->count++;
            }
        }
    }
    if (rc == 0) {
        char **names = out->count ? malloc((size_t)out->count * sizeof *names) : NULL;
        if (out->count && !names) rc = adv_fail("%s: out of memory", file);
        for (int i = 0; rc == 0 && i < out->count; i++) names[i] = out->tensors[i].name;
        if (rc == 0) rc = check_unique(file, "tensor name", names, out->count);
        free(names);
    }
    if (rc == 0 && out->count > 1) {
        qsort(spans, (size_t)out->count, sizeof *spans, span_cmp);
        for (int i = 1; i < out->count; i++) {
            /* Empty tensors occupy no bytes and cannot overlap anything. */
            if (spans[i].begin == spans[i].end) continue;
            if (spans[i].begin < spans[i - 1].end) {
                char pa[64], pb[64];
                rc = adv_fail("%s: data of tensors '%s' and '%s' overlap", file,
                              printable(out->tensors[spans[i - 1].index].name, pa),
                              printable(out->tensors[spans[i].index].name, pb));
                break;
            }
        }
    }
    /* Copy data only after all validation (sorting changed spans[] order, so look up by index). */
    for (int i = 0; rc == 0 && i < out->count; i++) {
        adv_tensor *t = &out->tensors[spans[i].index];
        if (!(t->data = alloc_aligned(t->nbytes))) {
            rc = adv_fail("%s: out of memory for tensor data", file);
            break;
        }
        if (t->nbytes) memcpy(t->data, data + spans[i].begin, t->nbytes);
    }
    free(spans);
    cJSON_Delete(root);
    free(header);
    if (rc != 0) adv_st_free(out);
    return rc;
}

int adv_st_read(const char *path, adv_st *out)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return adv_fail("%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return adv_fail("%s: not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) {
        close(fd);
        return adv_fail("%s: out of memory reading %zu bytes", path, size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    int err = errno;
    close(fd);
    if (got != size) {
        free(buf);
        return adv_fail("%s: read failed: %s", path, got < size && err ? strerror(err) : "file changed while reading");
    }
    int rc = adv_st_parse(buf, size, path, out);
    free(buf);
    return rc;
}

/* ---- building and writing ---- */

/* Makes room for one more element (arrays may come from the parser, so no capacity is assumed). */
static int grow(void **p, int count, size_t elem)
{
    void *q = realloc(*p, ((size_t)count + 1) * elem);
    if (!q) return -1;
    *p = q;
    return 0;
}

int adv_st_add(adv_st *st, const char *name, adv_dtype dtype, int ndim, const int64_t *shape, const void *data)
{
    char pb[64];
    if (!name || !*name || strcmp(name, "__metadata__") == 0) return adv_fail("safetensors: invalid tensor name");
    if (!dtype_name(dtype)) return adv_fail("safetensors: tensor '%s' has an invalid dtype", printable(name, pb));
    if (ndim < 0 || ndim > ST_MAX_NDIM || (ndim > 0 && !shape))
        return adv_fail("safetensors: tensor '%s' has %d dimensions (0..%d)", printable(name, pb), ndim, ST_MAX_NDIM);
    if (adv_st_find(st, name)) return adv_fail("safetensors: duplicate tensor '%s'", printable(name, pb));
    size_t nbytes;
    if (shape_bytes(dtype, ndim, shape, &nbytes) != 0)
        return adv_fail("safetensors: tensor '%s' has an invalid shape", printable(name, pb));
    if (nbytes && !data) return adv_fail("safetensors: tensor '%s' has no data", printable(name, pb));
    if (grow((void **)&st->tensors, st->count, sizeof *st->tensors) != 0) return adv_fail("safetensors: out of memory");
    adv_tensor *t = &st->tensors[st->count];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->data = alloc_aligned(nbytes);
    if (!t->name || !t->data) {
        free(t->name);
        free(t->data);
        return adv_fail("safetensors: out of memory");
    }
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->nbytes = nbytes;
    if (nbytes) memcpy(t->data, data, nbytes);
    st->count++;
    return 0;
}

int adv_st_set_meta(adv_st *st, const char *key, const char *value)
{
    if (!key || !value) return adv_fail("safetensors: metadata key and value must not be NULL");
    char *v = strdup(value);
    if (!v) return adv_fail("safetensors: out of memory");
    for (int i = 0; i < st->meta_count; i++) {
        if (strcmp(st->meta_keys[i], key) == 0) {
            free(st->meta_values[i]);
            st->meta_values[i] = v;
            return 0;
        }
    }
    char *k = strdup(key);
    if (!k || grow((void **)&st->meta_keys, st->meta_count, sizeof *st->meta_keys) != 0 ||
        grow((void **)&st->meta_values, st->meta_count, sizeof *st->meta_values) != 0) {
        free(k);
        free(v);
        return adv_fail("safetensors: out of memory");
    }
    st->meta_keys[st->meta_count] = k;
    st->meta_values[st->meta_count] = v;
    st->meta_count++;
    return 0;
}

/* The JSON header (unpadded), or NULL with an error set. */
static char *build_header(const adv_st *st)
{
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    if (ok && st->meta_count > 0) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        ok = meta != NULL;
        for (int i = 0; ok && i < st->meta_count; i++)
            ok = cJSON_AddStringToObject(meta, st->meta_keys[i], st->meta_values[i]) != NULL;
    }
    uint64_t offset = 0;
    for (int i = 0; ok && i < st->count; i++) {
        const adv_tensor *t = &st->tensors[i];
        cJSON *e = cJSON_AddObjectToObject(root, t->name);
        cJSON *shape = e ? cJSON_AddArrayToObject(e, "shape") : NULL;
        cJSON *offs = e ? cJSON_AddArrayToObject(e, "data_offsets") : NULL;
        ok = e && shape && offs && cJSON_AddStringToObject(e, "dtype", dtype_name(t->dtype));
        for (int d = 0; ok && d < t->ndim; d++) ok = cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
        ok = ok && cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)offset));
        offset += t->nbytes;
        ok = ok && cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)offset));
    }
    if ((double)offset > ST_MAX_JSON_INT) ok = 0;
    char *json = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!json) adv_fail("safetensors: cannot build the header (out of memory or too large)");
    return json;
}

int adv_st_write(const adv_st *st, const char *path)
{
    char *json = build_header(st);
    if (!json) return -1;
    size_t jlen = strlen(json);
    size_t hlen = (jlen + 7) / 8 * 8;
    unsigned char prefix[8];
    for (int i = 0; i < 8; i++) prefix[i] = (unsigned char)((uint64_t)hlen >> (8 * i));

    adv_outfile *out = adv_outfile_open(path, ADV_OUTFILE_REPLACE);
    if (!out) {
        free(json);
        return -1;
    }
    static const char spaces[8] = "        ";
    int ok = adv_outfile_write(out, prefix, 8) == 0 && adv_outfile_write(out, json, jlen) == 0 &&
             adv_outfile_write(out, spaces, hlen - jlen) == 0;
    for (int i = 0; ok && i < st->count; i++) ok = adv_outfile_write(out, st->tensors[i].data, st->tensors[i].nbytes) == 0;
    free(json);
    return adv_outfile_commit(out);   /* fails (nothing written) after any write error */
}
