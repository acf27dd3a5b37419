/* The paper's CNN parameters: creation (PyTorch default init), safetensors load/save with the
 * PyTorch state_dict names, metadata, and the default model location. */
#include "advinst/model.h"
#include "advinst/paths.h"
#include "advinst/error.h"
#include "advinst/safetensors.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/*  cin  cout  k  stride pad  bn  pool    dropout */
const adv_layer adv_layers[ADV_N_CONV] = {
    {1, 64, 5, 2, 2, 1, 0, 0, 0.0f},      {64, 64, 3, 1, 1, 1, 2, 2, 0.3f},
    {64, 128, 3, 1, 1, 1, 0, 0, 0.0f},    {128, 128, 3, 1, 1, 1, 2, 3, 0.3f},
    {128, 256, 3, 1, 1, 1, 0, 0, 0.0f},   {256, 256, 3, 1, 1, 1, 2, 3, 0.3f},
    {256, 512, 1, 1, 0, 1, 0, 0, 0.5f},   {512, ADV_N_CLASSES, 1, 1, 0, 0, 0, 0, 0.0f},
};

#define SAMPLE_RATE_STR "16000"

/* ---- class names ---- */

static int class_char(int c)
{
    return (c == '-' || c == '_' || c == ' ') ? '_' : tolower((unsigned char)c);
}

static int class_name_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (class_char(*a) != class_char(*b)) return 0;
    return *a == *b;
}

int adv_model_class_index(const adv_model *m, const char *name)
{
    if (!name || !*name) return -1;
    if (strspn(name, "0123456789") == strlen(name)) {
        if (strlen(name) > 2) return -1;
        int i = atoi(name);
        return i < ADV_N_CLASSES ? i : -1;
    }
    for (int i = 0; i < ADV_N_CLASSES; i++)
        if (class_name_eq(name, m ? m->classes[i] : adv_class_names[i])) return i;
    return -1;
}

/* ---- allocation ---- */

static size_t conv_wcount(const adv_conv *c) { return (size_t)c->cout * c->cin * c->k * c->k; }

/* Sets the layer shapes of a zeroed model and its parameter count (nothing allocated). */
static void model_dims(adv_model *m)
{
    size_t n = 0;
    for (int i = 0; i < ADV_N_CONV; i++) {
        const adv_layer *l = &adv_layers[i];
        adv_conv *c = &m->conv[i];
        c->cin = l->cin;
        c->cout = l->cout;
        c->k = l->k;
        c->stride = l->stride;
        c->pad = l->pad;
        n += conv_wcount(c) + (size_t)c->cout;
        if (l->bn) {
            m->bn[i].c = l->cout;
            n += 2 * (size_t)l->cout;
        }
    }
    m->n_params = n;
}

/* Empty model: shapes set, parameter/gradient blocks and BN buffers allocated (zeroed). */
static adv_model *model_alloc(void)
{
    adv_model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    model_dims(m);
    size_t n = m->n_params;
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    m->param_block = aligned_alloc(64, bytes);
    m->grad_block = aligned_alloc(64, bytes);
    if (!m->param_block || !m->grad_block) goto fail;
    memset(m->param_block, 0, bytes);
    memset(m->grad_block, 0, bytes);

    /* Fixed order: conv1.w, conv1.b, ..., conv8.b, bn1.gamma, bn1.beta, ..., bn7.beta. */
    size_t off = 0;
    for (int i = 0; i < ADV_N_CONV; i++) {
        adv_conv *c = &m->conv[i];
        c->w = m->param_block + off;
        c->gw = m->grad_block + off;
        off += conv_wcount(c);
        c->b = m->param_block + off;
        c->gb = m->grad_block + off;
        off += (size_t)c->cout;
    }
    for (int i = 0; i < ADV_N_BN; i++) {
        adv_bn *b = &m->bn[i];
        b->gamma = m->param_block + off;
        b->ggamma = m->grad_block + off;
        off += (size_t)b->c;
        b->beta = m->param_block + off;
        b->gbeta = m->grad_block + off;
        off += (size_t)b->c;
        b->running_mean = calloc((size_t)b->c, sizeof(float));
        b->running_var = calloc((size_t)b->c, sizeof(float));
        b->save_mean = calloc((size_t)b->c, sizeof(float));
        b->save_invstd = calloc((size_t)b->c, sizeof(float));
        if (!b->running_mean || !b->running_var || !b->save_mean || !b->save_invstd) goto fail;
    }
    for (int i = 0; i < ADV_N_CLASSES; i++)
        snprintf(m->classes[i], ADV_CLASS_NAME_MAX, "%s", adv_class_names[i]);
    for (int j = 0; j < ADV_N_MELS; j++) m->fe_std[j] = 1.0f;
    return m;
fail:
    adv_model_free(m);
    return NULL;
}

void adv_model_free(adv_model *m)
{
    if (!m) return;
    for (int i = 0; i < ADV_N_BN; i++) {
        free(m->bn[i].running_mean);
        free(m->bn[i].running_var);
        free(m->bn[i].save_mean);
        free(m->bn[i].save_invstd);
    }
    for (int i = 0; i < m->meta_count; i++) {
        free(m->meta_keys[i]);
        free(m->meta_values[i]);
    }
    free(m->meta_keys);
    free(m->meta_values);
    free(m->param_block);
    free(m->grad_block);
    free(m);
}

void adv_model_zero_grad(adv_model *m)
{
    memset(m->grad_block, 0, m->n_params * sizeof(float));
}

/* ---- creation ---- */

/* Uniform in [-bound, bound). */
static float uniform_pm(uint64_t *s, float bound) { return (2.0f * adv_rng_uniform(s) - 1.0f) * bound; }

adv_model *adv_model_create(uint64_t seed)
{
    adv_model *m = model_alloc();
    if (!m) {
        adv_fail("out of memory creating the model");
        return NULL;
    }
    uint64_t rng = seed;
    for (int i = 0; i < ADV_N_CONV; i++) {
        /* kaiming_uniform(a=sqrt(5)) and PyTorch's bias init both give U(-1/sqrt(fan_in), ..). */
        adv_conv *c = &m->conv[i];
        float bound = 1.0f / sqrtf((float)(c->cin * c->k * c->k));
        size_t nw = conv_wcount(c);
        for (size_t j = 0; j < nw; j++) c->w[j] = uniform_pm(&rng, bound);
        for (int j = 0; j < c->cout; j++) c->b[j] = uniform_pm(&rng, bound);
    }
    for (int i = 0; i < ADV_N_BN; i++) {
        adv_bn *b = &m->bn[i];
        for (int j = 0; j < b->c; j++) {
            b->gamma[j] = 1.0f;
            b->running_var[j] = 1.0f;
        }
        b->num_batches_tracked = 0;
    }
    return m;
}

/* ---- metadata ---- */

static int is_reserved_key(const char *key)
{
    return strcmp(key, "classes") == 0 || strcmp(key, "sample_rate") == 0;
}

int adv_model_set_meta(adv_model *m, const char *key, const char *value)
{
    if (!key || !*key || !value) return adv_fail("model metadata: empty key or NULL value");
    if (is_reserved_key(key)) return adv_fail("model metadata: '%s' is derived from the model and cannot be set", key);
    char *v = strdup(value);
    if (!v) return adv_fail("out of memory");
    for (int i = 0; i < m->meta_count; i++) {
        if (strcmp(m->meta_keys[i], key) == 0) {
            free(m->meta_values[i]);
            m->meta_values[i] = v;
            return 0;
        }
    }
    char *k = strdup(key);
    char **nk = k ? realloc(m->meta_keys, (size_t)(m->meta_count + 1) * sizeof *nk) : NULL;
    if (nk) m->meta_keys = nk;
    char **nv = nk ? realloc(m->meta_values, (size_t)(m->meta_count + 1) * sizeof *nv) : NULL;
    if (nv) m->meta_values = nv;
    if (!nv) {
        free(k);
        free(v);
        return adv_fail("out of memory");
    }
    m->meta_keys[m->meta_count] = k;
    m->meta_values[m->meta_count] = v;
    m->meta_count++;
    return 0;
}

/* Free-form metadata only ("classes" and "sample_rate" live in the model's fields). */
const char *adv_model_get_meta(const adv_model *m, const char *key)
{
    for (int i = 0; key && i < m->meta_count; i++)
        if (strcmp(m->meta_keys[i], key) == 0) return m->meta_values[i];
    return NULL;
}

/* ---- the tensor table ---- */

typedef struct {
    char name[40];
    adv_dtype dtype;
    int ndim;
    int64_t shape[4];
    void *dst;      /* float[] for F32, int64_t for the I64 scalar */
    int positive;   /* values must be > 0 (frontend.std) or >= 0 (running_var: 2) */
} tensor_slot;

#define N_SLOTS (2 * ADV_N_CONV + 5 * ADV_N_BN + 2)

static void slot_vec(tensor_slot *s, const char *name, int c, void *dst)
{
    snprintf(s->name, sizeof s->name, "%s", name);
    s->dtype = ADV_DTYPE_F32;
    s->ndim = 1;
    s->shape[0] = c;
    s->dst = dst;
    s->positive = 0;
}

/* Every tensor of the file in PyTorch state_dict order (conv i, bn i, ...), then the front end. */
static void tensor_table(adv_model *m, tensor_slot t[N_SLOTS])
{
    int n = 0;
    char name[40];
    for (int i = 0; i < ADV_N_CONV; i++) {
        adv_conv *c = &m->conv[i];
        tensor_slot *s = &t[n++];
        snprintf(s->name, sizeof s->name, "conv%d.weight", i + 1);
        s->dtype = ADV_DTYPE_F32;
        s->ndim = 4;
        s->shape[0] = c->cout;
        s->shape[1] = c->cin;
        s->shape[2] = s->shape[3] = c->k;
        s->dst = c->w;
        s->positive = 0;
        snprintf(name, sizeof name, "conv%d.bias", i + 1);
        slot_vec(&t[n++], name, c->cout, c->b);
        if (!adv_layers[i].bn) continue;
        adv_bn *b = &m->bn[i];
        snprintf(name, sizeof name, "bn%d.weight", i + 1);
        slot_vec(&t[n++], name, b->c, b->gamma);
        snprintf(name, sizeof name, "bn%d.bias", i + 1);
        slot_vec(&t[n++], name, b->c, b->beta);
        snprintf(name, sizeof name, "bn%d.running_mean", i + 1);
        slot_vec(&t[n++], name, b->c, b->running_mean);
        snprintf(name, sizeof name, "bn%d.running_var", i + 1);
        slot_vec(&t[n++], name, b->c, b->running_var);
        t[n - 1].positive = 2;
        s = &t[n++];
        snprintf(s->name, sizeof s->name, "bn%d.num_batches_tracked", i + 1);
        s->dtype = ADV_DTYPE_I64;
        s->ndim = 0;
        s->dst = &b->num_batches_tracked;
        s->positive = 0;
    }
    slot_vec(&t[n++], "frontend.mean", ADV_N_MELS, m->fe_mean);
    slot_vec(&t[n++], "frontend.std", ADV_N_MELS, m->fe_std);
    t[n - 1].positive = 1;
}

static size_t slot_count(const tensor_slot *s)
{
    size_t n = 1;
    for (int d = 0; d < s->ndim; d++) n *= (size_t)s->shape[d];
    return n;
}

static void format_shape(char *buf, size_t size, int ndim, const int64_t *shape)
{
    size_t len = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < ndim && len < size; d++)
        len += (size_t)snprintf(buf + len, size - len, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (len < size) snprintf(buf + len, size - len, "]");
}

static const char *dtype_str(adv_dtype d)
{
    switch (d) {
    case ADV_DTYPE_F32: return "F32";
    case ADV_DTYPE_I64: return "I64";
    case ADV_DTYPE_F64: return "F64";
    case ADV_DTYPE_I32: return "I32";
    }
    return "?";
}

/* A name from the file made safe for a one-line message. */
static const char *printable(const char *s, char buf[64])
{
    size_t n = 0;
    for (; s[n] && n < 63; n++) buf[n] = (s[n] >= 32 && s[n] < 127) ? s[n] : '?';
    buf[n] = '\0';
    return buf;
}

/* Splits "a,b,..." into exactly 12 non-empty, distinct names (surrounding spaces trimmed). */
static int parse_classes(const char *file, const char *list, adv_model *m)
{
    if (!list) return adv_fail("%s: metadata 'classes' is missing", file);
    const char *p = list;
    for (int i = 0; i < ADV_N_CLASSES; i++) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        while (p < end && *p == ' ') p++;
        const char *e = end;
        while (e > p && e[-1] == ' ') e--;
        size_t len = (size_t)(e - p);
        if (len == 0) return adv_fail("%s: metadata 'classes': name %d is empty", file, i);
        if (len >= ADV_CLASS_NAME_MAX)
            return adv_fail("%s: metadata 'classes': name %d is longer than %d characters", file, i, ADV_CLASS_NAME_MAX - 1);
        for (const char *q = p; q < e; q++)
            if ((unsigned char)*q < 32) return adv_fail("%s: metadata 'classes' has a control character", file);
        memset(m->classes[i], 0, ADV_CLASS_NAME_MAX);
        memcpy(m->classes[i], p, len);
        /* a target names a class, an index, "none" or "random": a class must not look like the others */
        if (strspn(m->classes[i], "0123456789") == len || !strcasecmp(m->classes[i], "none") ||
            !strcasecmp(m->classes[i], "random")) {
            char pb[64];
            return adv_fail("%s: metadata 'classes': name %d '%s' is reserved (a class index, none or random)", file, i,
                            printable(m->classes[i], pb));
        }
        if (i < ADV_N_CLASSES - 1 && !comma)
            return adv_fail("%s: metadata 'classes' has %d names, expected %d", file, i + 1, ADV_N_CLASSES);
        if (i == ADV_N_CLASSES - 1 && comma)
            return adv_fail("%s: metadata 'classes' has more than %d names", file, ADV_N_CLASSES);
        p = end + 1;
    }
    for (int i = 0; i < ADV_N_CLASSES; i++)
        for (int j = 0; j < i; j++)
            if (class_name_eq(m->classes[i], m->classes[j])) {
                char pb[64];
                return adv_fail("%s: metadata 'classes' names '%s' twice", file, printable(m->classes[i], pb));
            }
    return 0;
}

/* Checks the names, dtypes and shapes of st against the tensor table. Tensors whose names start
 * with ignore_prefix (if not NULL) belong to someone else (e.g. a checkpoint's optimiser state). */
static int check_structure(const char *file, const adv_st *st, const tensor_slot *table, const char *ignore_prefix)
{
    char pb[64];
    for (int i = 0; i < st->count; i++) {
        if (ignore_prefix && !strncmp(st->tensors[i].name, ignore_prefix, strlen(ignore_prefix))) continue;
        int known = 0;
        for (int j = 0; j < N_SLOTS && !known; j++) known = strcmp(st->tensors[i].name, table[j].name) == 0;
        if (!known) return adv_fail("%s: unexpected tensor '%s'", file, printable(st->tensors[i].name, pb));
    }
    for (int j = 0; j < N_SLOTS; j++) {
        const tensor_slot *s = &table[j];
        const adv_tensor *t = adv_st_find(st, s->name);
        if (!t) return adv_fail("%s: missing tensor '%s'", file, s->name);
        if (t->dtype != s->dtype)
            return adv_fail("%s: tensor '%s' has dtype %s, expected %s", file, s->name, dtype_str(t->dtype),
                            dtype_str(s->dtype));
        int same = t->ndim == s->ndim;
        for (int d = 0; same && d < s->ndim; d++) same = t->shape[d] == s->shape[d];
        if (!same) {
            char got[128], want[64];
            format_shape(got, sizeof got, t->ndim, t->shape);
            format_shape(want, sizeof want, s->ndim, s->shape);
            return adv_fail("%s: tensor '%s' has shape %s, expected %s", file, s->name, got, want);
        }
    }
    return 0;
}

/* Checks st (structure, then values and metadata) and fills m. */
static int model_from_st(const char *file, const adv_st *st, adv_model *m, const char *ignore_prefix)
{
    tensor_slot table[N_SLOTS];
    tensor_table(m, table);
    char pb[64];
    if (check_structure(file, st, table, ignore_prefix) != 0) return -1;
    for (int j = 0; j < N_SLOTS; j++) {
        const tensor_slot *s = &table[j];
        const adv_tensor *t = adv_st_find(st, s->name);
        if (s->dtype == ADV_DTYPE_I64) {
            int64_t v;
            memcpy(&v, t->data, sizeof v);
            if (v < 0) return adv_fail("%s: tensor '%s' is negative (%lld)", file, s->name, (long long)v);
            *(int64_t *)s->dst = v;
            continue;
        }
        const float *src = t->data;
        size_t n = slot_count(s);
        for (size_t k = 0; k < n; k++) {
            if (!isfinite(src[k]))
                return adv_fail("%s: tensor '%s' has a non-finite value at index %zu", file, s->name, k);
            if ((s->positive == 1 && !(src[k] > 0.0f)) || (s->positive == 2 && src[k] < 0.0f))
                return adv_fail("%s: tensor '%s' has a value %s 0 at index %zu (%g)", file, s->name,
                                s->positive == 1 ? "<=" : "<", k, (double)src[k]);
        }
        memcpy(s->dst, src, n * sizeof(float));
    }

    const char *sr = adv_st_meta(st, "sample_rate");
    if (!sr) return adv_fail("%s: metadata 'sample_rate' is missing", file);
    if (strcmp(sr, SAMPLE_RATE_STR) != 0)
        return adv_fail("%s: metadata 'sample_rate' is '%s', expected %s", file, printable(sr, pb), SAMPLE_RATE_STR);
    if (parse_classes(file, adv_st_meta(st, "classes"), m) != 0) return -1;
    for (int i = 0; i < st->meta_count; i++) {
        if (is_reserved_key(st->meta_keys[i])) continue;
        if (adv_model_set_meta(m, st->meta_keys[i], st->meta_values[i]) != 0) return -1;
    }
    return 0;
}

static adv_model *model_from_parsed(const char *file, adv_st *st)
{
    adv_model *m = adv_model_from_st(file, st, NULL);
    adv_st_free(st);
    return m;
}

adv_model *adv_model_load(const char *path)
{
    adv_st st;
    if (adv_st_read(path, &st) != 0) return NULL;
    return model_from_parsed(path, &st);
}

adv_model *adv_model_load_memory(const void *image, size_t size, const char *name)
{
    const char *file = name ? name : "(memory)";
    adv_st st;
    if (adv_st_parse(image, size, file, &st) != 0) return NULL;
    return model_from_parsed(file, &st);
}

adv_model *adv_model_from_st(const char *file, const adv_st *st, const char *ignore_prefix)
{
    /* a file of the wrong structure is refused before the parameters (6 MB) are allocated */
    adv_model shape;
    memset(&shape, 0, sizeof shape);
    model_dims(&shape);
    tensor_slot table[N_SLOTS];
    tensor_table(&shape, table);
    if (check_structure(file, st, table, ignore_prefix) != 0) return NULL;
    adv_model *m = model_alloc();
    if (!m) {
        adv_fail("%s: out of memory", file);
        return NULL;
    }
    if (model_from_st(file, st, m, ignore_prefix) != 0) {
        adv_model_free(m);
        return NULL;
    }
    return m;
}

int adv_model_save(const adv_model *m, const char *path)
{
    adv_st st = {0};
    int rc = adv_model_to_st(m, &st);
    if (rc == 0) rc = adv_st_write(&st, path);
    adv_st_free(&st);
    return rc;
}

int adv_model_to_st(const adv_model *m, adv_st *st_out)
{
    tensor_slot table[N_SLOTS];
    /* The table only reads through the model's pointers; nothing is modified. */
    tensor_table((adv_model *)m, table);
    adv_st st = {0};
    int rc = 0;
    char classes[ADV_N_CLASSES * ADV_CLASS_NAME_MAX];
    size_t len = 0;
    for (int i = 0; i < ADV_N_CLASSES; i++)
        len += (size_t)snprintf(classes + len, sizeof classes - len, "%s%s", i ? "," : "", m->classes[i]);
    rc = adv_st_set_meta(&st, "classes", classes);
    if (rc == 0) rc = adv_st_set_meta(&st, "sample_rate", SAMPLE_RATE_STR);
    for (int i = 0; rc == 0 && i < m->meta_count; i++) rc = adv_st_set_meta(&st, m->meta_keys[i], m->meta_values[i]);
    for (int j = 0; rc == 0 && j < N_SLOTS; j++)
        rc = adv_st_add(&st, table[j].name, table[j].dtype, table[j].ndim, table[j].shape, table[j].dst);
    if (rc == 0) *st_out = st;
    else adv_st_free(&st);
    return rc;
}

/* ---- default model location ---- */

const char *adv_default_model_path(void)
{
    static _Thread_local char path[PATH_MAX];
    const char *env = getenv("ADVINST_MODEL");
    if (env && *env) return env;
    /* an installed program uses its installed model, a build tree the source tree's */
    char candidate[PATH_MAX + 64];
    if (adv_installed_path("models/default.safetensors", candidate, sizeof candidate) == 0 &&
        access(candidate, R_OK) == 0) {
        if (!realpath(candidate, path)) snprintf(path, sizeof path, "%.*s", PATH_MAX - 1, candidate);
        return path;
    }
#ifdef ADVINST_SOURCE_DIR
    snprintf(path, sizeof path, "%s", ADVINST_SOURCE_DIR "/models/default.safetensors");
    if (access(path, R_OK) == 0) return path;
#endif
    return NULL;
}
