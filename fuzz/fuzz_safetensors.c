/* libFuzzer: safetensors files. adv_st_parse on the bytes; what parses must be self-consistent,
 * and then goes through the model loader's validation (adv_model_from_st), twice:
 *  - as it is (unknown names, missing tensors, ignore_prefix);
 *  - completed with the tensors and metadata it lacks from a template model, so that a small
 *    input that names model tensors (e.g. bn1.running_var, frontend.std, metadata "classes")
 *    reaches the value and metadata checks, which otherwise need a 6 MB file. */
#include "advinst/model.h"
#include "advinst/safetensors.h"
#include "invariants.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static adv_st template_st;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    adv_model *m = adv_model_create(1);
    if (!m || adv_model_to_st(m, &template_st) != 0) abort();
    adv_model_free(m);
    return 0;
}

static size_t dtype_bytes(adv_dtype d) { return d == ADV_DTYPE_F32 || d == ADV_DTYPE_I32 ? 4 : 8; }

/* What adv_st_parse promises of a parsed file. */
static void check_parsed(const adv_st *st, size_t size)
{
    size_t total = 0;
    for (int i = 0; i < st->count; i++) {
        const adv_tensor *t = &st->tensors[i];
        FUZZ_REQUIRE(t->name && t->data, "tensor %d has a name and data", i);
        FUZZ_REQUIRE(t->ndim >= 0 && t->ndim <= 8, "ndim %d", t->ndim);
        FUZZ_REQUIRE(t->dtype == ADV_DTYPE_F32 || t->dtype == ADV_DTYPE_I64 || t->dtype == ADV_DTYPE_F64 ||
                     t->dtype == ADV_DTYPE_I32, "dtype %d", (int)t->dtype);
        size_t n = dtype_bytes(t->dtype);
        for (int d = 0; d < t->ndim; d++) {
            FUZZ_REQUIRE(t->shape[d] >= 0, "shape[%d] = %lld", d, (long long)t->shape[d]);
            n *= (size_t)t->shape[d];
        }
        FUZZ_REQUIRE(n == t->nbytes, "tensor '%s': %zu bytes for its shape, nbytes %zu", t->name, n, t->nbytes);
        FUZZ_REQUIRE(adv_st_find(st, t->name) == t, "tensor name '%s' is unique", t->name);
        total += t->nbytes;
    }
    FUZZ_REQUIRE(total <= size, "tensors hold %zu bytes of a %zu-byte file", total, size);
    for (int i = 0; i < st->meta_count; i++) {
        FUZZ_REQUIRE(st->meta_keys[i] && st->meta_values[i], "metadata %d", i);
        FUZZ_REQUIRE(adv_st_meta(st, st->meta_keys[i]) == st->meta_values[i], "metadata key unique");
    }
}

/* What a loaded model holds: the checked values and 12 distinct class names. */
static void check_model(const adv_model *m)
{
    for (int j = 0; j < ADV_N_MELS; j++)
        FUZZ_REQUIRE(isfinite(m->fe_mean[j]) && isfinite(m->fe_std[j]) && m->fe_std[j] > 0, "front-end statistics %d", j);
    for (int i = 0; i < ADV_N_BN; i++)
        for (int c = 0; c < m->bn[i].c; c++)
            FUZZ_REQUIRE(isfinite(m->bn[i].running_var[c]) && m->bn[i].running_var[c] >= 0, "bn%d.running_var", i + 1);
    for (int i = 0; i < ADV_N_CLASSES; i++) {
        size_t len = strnlen(m->classes[i], ADV_CLASS_NAME_MAX);
        FUZZ_REQUIRE(len > 0 && len < ADV_CLASS_NAME_MAX, "class name %d", i);
        /* every class can be named as a target (OSC, presets, --target), unambiguously */
        FUZZ_REQUIRE(adv_model_class_index(m, m->classes[i]) == i, "class '%s' is found at its index %d", m->classes[i], i);
        FUZZ_REQUIRE(strcasecmp(m->classes[i], "none") && strcasecmp(m->classes[i], "random"),
                     "class '%s' is a reserved target word", m->classes[i]);
    }
}

/* Does the input name anything of the model (worth the cost of a completed load)? */
static int names_model_parts(const adv_st *st)
{
    for (int i = 0; i < st->count; i++)
        if (adv_st_find(&template_st, st->tensors[i].name)) return 1;
    for (int i = 0; i < st->meta_count; i++)
        if (adv_st_meta(&template_st, st->meta_keys[i])) return 1;
    return 0;
}

/* The parsed file plus the template's tensors and metadata it lacks (shallow: nothing copied). */
static void load_completed(const adv_st *st)
{
    adv_st merged = {0};
    merged.tensors = malloc((size_t)(st->count + template_st.count) * sizeof *merged.tensors);
    merged.meta_keys = malloc((size_t)(st->meta_count + template_st.meta_count + 1) * sizeof(char *));
    merged.meta_values = malloc((size_t)(st->meta_count + template_st.meta_count + 1) * sizeof(char *));
    if (!merged.tensors || !merged.meta_keys || !merged.meta_values) abort();
    for (int i = 0; i < st->count; i++) merged.tensors[merged.count++] = st->tensors[i];
    for (int i = 0; i < template_st.count; i++)
        if (!adv_st_find(st, template_st.tensors[i].name)) merged.tensors[merged.count++] = template_st.tensors[i];
    for (int i = 0; i < st->meta_count; i++) {
        merged.meta_keys[merged.meta_count] = st->meta_keys[i];
        merged.meta_values[merged.meta_count++] = st->meta_values[i];
    }
    for (int i = 0; i < template_st.meta_count; i++)
        if (!adv_st_meta(st, template_st.meta_keys[i])) {
            merged.meta_keys[merged.meta_count] = template_st.meta_keys[i];
            merged.meta_values[merged.meta_count++] = template_st.meta_values[i];
        }
    adv_model *m = adv_model_from_st("fuzz.safetensors", &merged, NULL);
    if (m) check_model(m);
    adv_model_free(m);
    free(merged.tensors);
    free(merged.meta_keys);
    free(merged.meta_values);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    adv_st st;
    if (adv_st_parse(data, size, "fuzz.safetensors", &st) != 0) return 0;
    check_parsed(&st, size);
    adv_model *m = adv_model_from_st("fuzz.safetensors", &st, NULL);
    if (m) check_model(m);
    adv_model_free(m);
    m = adv_model_from_st("fuzz.safetensors", &st, "optim.");
    adv_model_free(m);
    if (names_model_parts(&st)) load_completed(&st);
    adv_st_free(&st);
    return 0;
}
