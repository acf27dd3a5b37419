/* Model parameters and files: default init, class names, metadata, bit-identical save/load, and a
 * table of corrupted model files that must each fail with a one-line message naming the problem. */
#include "testutil.h"
#include "advinst/error.h"
#include "advinst/model.h"
#include "advinst/safetensors.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *scratch;

/* A failed call left a one-line message mentioning every given fragment. */
static void check_message(const char *what, const char *frag1, const char *frag2)
{
    const char *msg = adv_error();
    CHECK(msg[0] != '\0', "%s: empty error message", what);
    CHECK(strchr(msg, '\n') == NULL, "%s: multi-line message: %s", what, msg);
    CHECK(!frag1 || strstr(msg, frag1), "%s: message lacks '%s': %s", what, frag1, msg);
    CHECK(!frag2 || strstr(msg, frag2), "%s: message lacks '%s': %s", what, frag2, msg);
}

static void test_create(void)
{
    adv_model *m = adv_model_create(42);
    CHECK(m != NULL, "create: %s", adv_error());
    if (!m) return;
    static const int spec[8][5] = {{1, 64, 5, 2, 2},    {64, 64, 3, 1, 1},   {64, 128, 3, 1, 1},
                                   {128, 128, 3, 1, 1}, {128, 256, 3, 1, 1}, {256, 256, 3, 1, 1},
                                   {256, 512, 1, 1, 0}, {512, 12, 1, 1, 0}};
    size_t expect = 0;
    for (int i = 0; i < ADV_N_CONV; i++) {
        const adv_conv *c = &m->conv[i];
        CHECK(c->cin == spec[i][0] && c->cout == spec[i][1] && c->k == spec[i][2] && c->stride == spec[i][3] &&
                  c->pad == spec[i][4], "conv%d geometry", i + 1);
        size_t nw = (size_t)c->cout * c->cin * c->k * c->k;
        expect += nw + (size_t)c->cout;
        double bound = 1.0 / sqrt((double)c->cin * c->k * c->k), maxabs = 0, sum = 0;
        for (size_t j = 0; j < nw; j++) {
            maxabs = fmax(maxabs, fabs(c->w[j]));
            sum += c->w[j];
        }
        for (int j = 0; j < c->cout; j++) maxabs = fmax(maxabs, fabs(c->b[j]));
        CHECK(maxabs <= bound && maxabs > 0.9 * bound, "conv%d init range %g vs bound %g", i + 1, maxabs, bound);
        CHECK(fabs(sum / nw) < 0.1 * bound, "conv%d init mean %g", i + 1, sum / nw);
        CHECK(c->w >= m->param_block && c->b + c->cout <= m->param_block + m->n_params, "conv%d in block", i + 1);
        CHECK(c->gw - m->grad_block == c->w - m->param_block && c->gb - m->grad_block == c->b - m->param_block,
              "conv%d grads mirror params", i + 1);
    }
    for (int i = 0; i < ADV_N_BN; i++) {
        const adv_bn *b = &m->bn[i];
        CHECK(b->c == spec[i][1], "bn%d channels %d", i + 1, b->c);
        expect += 2 * (size_t)b->c;
        int ok = 1;
        for (int j = 0; j < b->c; j++)
            ok &= b->gamma[j] == 1.0f && b->beta[j] == 0.0f && b->running_mean[j] == 0.0f && b->running_var[j] == 1.0f;
        CHECK(ok, "bn%d init", i + 1);
        CHECK(b->num_batches_tracked == 0, "bn%d num_batches_tracked", i + 1);
        CHECK(b->save_mean && b->save_invstd, "bn%d save buffers", i + 1);
        CHECK(b->ggamma - m->grad_block == b->gamma - m->param_block, "bn%d grads mirror params", i + 1);
        CHECK(b->gamma >= m->param_block && b->beta + b->c <= m->param_block + m->n_params, "bn%d in block", i + 1);
    }
    CHECK(m->n_params == expect && expect == 1285836, "n_params %zu, expected %zu", m->n_params, expect);
    CHECK(((uintptr_t)m->param_block & 63) == 0 && ((uintptr_t)m->grad_block & 63) == 0, "blocks aligned");
    int fe_ok = 1;
    for (int j = 0; j < ADV_N_MELS; j++) fe_ok &= m->fe_mean[j] == 0.0f && m->fe_std[j] == 1.0f;
    CHECK(fe_ok, "frontend mean 0 std 1");
    for (int i = 0; i < ADV_N_CLASSES; i++)
        CHECK(strcmp(m->classes[i], adv_class_names[i]) == 0, "class %d = %s", i, m->classes[i]);
    CHECK(m->meta_count == 0, "no metadata");

    int grads_zero = 1;
    for (size_t j = 0; j < m->n_params; j++) grads_zero &= m->grad_block[j] == 0.0f;
    CHECK(grads_zero, "grads start at zero");
    for (size_t j = 0; j < m->n_params; j++) m->grad_block[j] = 1.0f;
    adv_model_zero_grad(m);
    grads_zero = 1;
    for (size_t j = 0; j < m->n_params; j++) grads_zero &= m->grad_block[j] == 0.0f;
    CHECK(grads_zero, "zero_grad");

    adv_model *same = adv_model_create(42), *other = adv_model_create(43);
    CHECK(same && memcmp(same->param_block, m->param_block, m->n_params * sizeof(float)) == 0, "same seed, same init");
    CHECK(other && memcmp(other->param_block, m->param_block, m->n_params * sizeof(float)) != 0, "other seed differs");
    adv_model_free(same);
    adv_model_free(other);
    adv_model_free(m);
    adv_model_free(NULL);
}

static void test_classes_and_meta(void)
{
    adv_model *m = adv_model_create(1);
    if (!m) return;
    static const struct { const char *name; int index; } cases[] = {
        {"accordion", 0}, {"ACCORDION", 0}, {"acoustic guitar", 1}, {"Acoustic-Guitar", 1}, {"hi-hat", 9},
        {"Hi-hat", 9}, {"hi_hat", 9}, {"HI HAT", 9}, {"marimba and xylophone", 11}, {"Marimba-and_Xylophone", 11},
        {"0", 0}, {"7", 7}, {"11", 11}, {"12", -1}, {"-1", -1}, {"007", -1}, {"", -1}, {"hihat", -1},
        {"accordion ", -1}, {"guitar", -1}, {"1a", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK(adv_model_class_index(m, cases[i].name) == cases[i].index, "class_index('%s') = %d, expected %d",
              cases[i].name, adv_model_class_index(m, cases[i].name), cases[i].index);
        CHECK(adv_model_class_index(NULL, cases[i].name) == cases[i].index, "class_index(NULL, '%s')", cases[i].name);
    }
    CHECK(adv_model_class_index(m, NULL) == -1, "NULL name");

    CHECK(adv_model_get_meta(m, "epochs") == NULL, "no meta yet");
    CHECK(adv_model_set_meta(m, "epochs", "10") == 0, "set meta");
    CHECK(adv_model_set_meta(m, "epochs", "20") == 0, "replace meta");
    CHECK(adv_model_set_meta(m, "data", "openmic") == 0, "set meta 2");
    CHECK(m->meta_count == 2, "meta_count %d", m->meta_count);
    CHECK(adv_model_get_meta(m, "epochs") && strcmp(adv_model_get_meta(m, "epochs"), "20") == 0, "get meta");
    CHECK(adv_model_set_meta(m, "classes", "x") != 0, "setting 'classes' accepted");
    check_message("set classes", "classes", NULL);
    CHECK(adv_model_set_meta(m, "sample_rate", "8000") != 0, "setting 'sample_rate' accepted");
    adv_model_free(m);
}

static void fill_random(float *x, size_t n, uint64_t *rng, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) x[i] = tu_rand_uniform(rng, lo, hi);
}

static adv_model *make_model(void)
{
    adv_model *m = adv_model_create(7);
    if (!m) return NULL;
    uint64_t rng = 5;
    for (int i = 0; i < ADV_N_BN; i++) {
        fill_random(m->bn[i].gamma, (size_t)m->bn[i].c, &rng, 0.5f, 1.5f);
        fill_random(m->bn[i].beta, (size_t)m->bn[i].c, &rng, -0.5f, 0.5f);
        fill_random(m->bn[i].running_mean, (size_t)m->bn[i].c, &rng, -1, 1);
        fill_random(m->bn[i].running_var, (size_t)m->bn[i].c, &rng, 0.1f, 3);
        m->bn[i].num_batches_tracked = 1000 + i;
    }
    fill_random(m->fe_mean, ADV_N_MELS, &rng, -60, -20);
    fill_random(m->fe_std, ADV_N_MELS, &rng, 5, 15);
    snprintf(m->classes[3], ADV_CLASS_NAME_MAX, "electric_bass");
    adv_model_set_meta(m, "trained_on", "OpenMIC-2018 \"subset\", 12 classes");
    adv_model_set_meta(m, "epochs", "150");
    return m;
}

static int models_equal(const adv_model *a, const adv_model *b)
{
    if (a->n_params != b->n_params || memcmp(a->param_block, b->param_block, a->n_params * sizeof(float))) return 0;
    for (int i = 0; i < ADV_N_BN; i++) {
        size_t n = (size_t)a->bn[i].c * sizeof(float);
        if (memcmp(a->bn[i].running_mean, b->bn[i].running_mean, n) || memcmp(a->bn[i].running_var, b->bn[i].running_var, n) ||
            a->bn[i].num_batches_tracked != b->bn[i].num_batches_tracked)
            return 0;
    }
    if (memcmp(a->fe_mean, b->fe_mean, sizeof a->fe_mean) || memcmp(a->fe_std, b->fe_std, sizeof a->fe_std)) return 0;
    for (int i = 0; i < ADV_N_CLASSES; i++)
        if (strcmp(a->classes[i], b->classes[i])) return 0;
    if (a->meta_count != b->meta_count) return 0;
    for (int i = 0; i < a->meta_count; i++) {
        const char *v = adv_model_get_meta(b, a->meta_keys[i]);
        if (!v || strcmp(v, a->meta_values[i])) return 0;
    }
    return 1;
}

static void test_round_trip(const char *path)
{
    adv_model *m = make_model();
    CHECK(m != NULL, "make model");
    if (!m) return;
    CHECK(adv_model_save(m, path) == 0, "save: %s", adv_error());
    adv_model *back = adv_model_load(path);
    CHECK(back != NULL, "load: %s", adv_error());
    if (back) {
        CHECK(models_equal(m, back), "loaded model differs from the saved one");
        CHECK(strcmp(back->classes[3], "electric_bass") == 0, "custom class name kept");
        CHECK(adv_model_class_index(back, "Electric Bass") == 3, "class index uses the model's names");
        CHECK(back->conv[0].stride == 2 && back->conv[7].cout == 12 && back->bn[6].c == 512, "geometry after load");
    }

    adv_st st;
    CHECK(adv_st_read(path, &st) == 0, "read as safetensors: %s", adv_error());
    CHECK(st.count == 2 * 8 + 5 * 7 + 2, "tensor count %d", st.count);
    const adv_tensor *t = adv_st_find(&st, "bn3.num_batches_tracked");
    CHECK(t && t->dtype == ADV_DTYPE_I64 && t->ndim == 0 && *(int64_t *)t->data == 1002, "num_batches_tracked scalar");
    t = adv_st_find(&st, "conv1.weight");
    CHECK(t && t->ndim == 4 && t->shape[0] == 64 && t->shape[1] == 1 && t->shape[2] == 5 && t->shape[3] == 5, "conv1 shape");
    CHECK(adv_st_meta(&st, "sample_rate") && strcmp(adv_st_meta(&st, "sample_rate"), "16000") == 0, "sample_rate meta");
    const char *classes = adv_st_meta(&st, "classes");
    CHECK(classes && strstr(classes, "accordion,acoustic_guitar,bass_drum,electric_bass,") == classes &&
              strstr(classes, ",hi-hat,male_singing,marimba_and_xylophone"), "classes meta: %s", classes ? classes : "-");
    adv_st_free(&st);

    size_t size;
    unsigned char *img = tu_read_file(path, &size);
    adv_model *mem = img ? adv_model_load_memory(img, size, "in-memory") : NULL;
    CHECK(mem && models_equal(m, mem), "load_memory: %s", adv_error());
    adv_model_free(mem);
    free(img);

    /* Saving the loaded model again gives the same bytes. */
    char path2[1300];
    snprintf(path2, sizeof path2, "%s.again", path);
    if (back) CHECK(adv_model_save(back, path2) == 0, "save again: %s", adv_error());
    size_t s1, s2;
    unsigned char *a = tu_read_file(path, &s1), *b = tu_read_file(path2, &s2);
    CHECK(a && b && s1 == s2 && memcmp(a, b, s1) == 0, "re-save is byte-identical");
    free(a);
    free(b);
    unlink(path2);
    adv_model_free(back);
    adv_model_free(m);
}

/* ---- corrupted files built by editing the parsed tensors of a good file ---- */

static int remove_tensor(adv_st *st, const char *name)
{
    for (int i = 0; i < st->count; i++) {
        if (strcmp(st->tensors[i].name, name) == 0) {
            free(st->tensors[i].name);
            free(st->tensors[i].data);
            memmove(&st->tensors[i], &st->tensors[i + 1], (size_t)(st->count - i - 1) * sizeof *st->tensors);
            st->count--;
            return 0;
        }
    }
    return -1;
}

static adv_tensor *find_mut(adv_st *st, const char *name) { return (adv_tensor *)adv_st_find(st, name); }

typedef enum {
    C_WRONG_DTYPE, C_WRONG_SHAPE, C_WRONG_RANK, C_MISSING, C_EXTRA, C_NAN, C_INF, C_STD_ZERO, C_STD_NEG, C_VAR_NEG,
    C_NBT_SHAPE, C_NBT_DTYPE, C_NBT_NEG, C_CLASSES_11, C_CLASSES_13, C_CLASSES_MISSING, C_CLASSES_EMPTY,
    C_CLASSES_DUP, C_CLASSES_LONG, C_CLASSES_NUMBER, C_CLASSES_NONE, C_CLASSES_RANDOM, C_RATE_WRONG, C_RATE_MISSING, C_MEAN_MISSING
} corruption;

static const struct { corruption c; const char *what, *expect; } corruptions[] = {
    {C_WRONG_DTYPE, "wrong dtype", "conv3.bias"},        {C_WRONG_SHAPE, "wrong shape", "conv2.weight"},
    {C_WRONG_RANK, "wrong rank", "bn5.weight"},          {C_MISSING, "missing tensor", "bn4.running_var"},
    {C_EXTRA, "extra tensor", "fc.weight"},              {C_NAN, "NaN weight", "conv5.weight"},
    {C_INF, "Inf running mean", "bn2.running_mean"},     {C_STD_ZERO, "std zero", "frontend.std"},
    {C_STD_NEG, "std negative", "frontend.std"},         {C_VAR_NEG, "negative running var", "bn1.running_var"},
    {C_NBT_SHAPE, "num_batches_tracked [1]", "bn6.num_batches_tracked"},
    {C_NBT_DTYPE, "num_batches_tracked F32", "bn6.num_batches_tracked"},
    {C_NBT_NEG, "num_batches_tracked negative", "bn6.num_batches_tracked"},
    {C_CLASSES_11, "11 classes", "classes"},             {C_CLASSES_13, "13 classes", "classes"},
    {C_CLASSES_MISSING, "no classes", "classes"},        {C_CLASSES_EMPTY, "empty class name", "classes"},
    {C_CLASSES_DUP, "duplicate class", "classes"},       {C_CLASSES_LONG, "class name too long", "classes"},
    /* names a target could not reach: a number means a class index, none/random are target words */
    {C_CLASSES_NUMBER, "class named 7", "reserved"},      {C_CLASSES_NONE, "class named None", "reserved"},
    {C_CLASSES_RANDOM, "class named random", "reserved"},
    {C_RATE_WRONG, "sample rate 22050", "sample_rate"},  {C_RATE_MISSING, "no sample rate", "sample_rate"},
    {C_MEAN_MISSING, "missing frontend.mean", "frontend.mean"},
};

static void set_meta_raw(adv_st *st, const char *key, const char *value)
{
    if (value) {
        adv_st_set_meta(st, key, value);
        return;
    }
    for (int i = 0; i < st->meta_count; i++) {
        if (strcmp(st->meta_keys[i], key) == 0) {
            free(st->meta_keys[i]);
            free(st->meta_values[i]);
            st->meta_keys[i] = st->meta_keys[st->meta_count - 1];
            st->meta_values[i] = st->meta_values[st->meta_count - 1];
            st->meta_count--;
            return;
        }
    }
}

static void corrupt(adv_st *st, corruption c)
{
    float one = 1.0f;
    int64_t s1[1] = {1};
    switch (c) {
    case C_WRONG_DTYPE: {
        adv_tensor *t = find_mut(st, "conv3.bias");
        double d[128] = {0};
        int64_t shape[1] = {128};
        remove_tensor(st, t->name);
        adv_st_add(st, "conv3.bias", ADV_DTYPE_F64, 1, shape, d);
        break;
    }
    case C_WRONG_SHAPE: {
        adv_tensor *t = find_mut(st, "conv2.weight");
        t->shape[2] = 1;
        t->shape[3] = 9;
        break;
    }
    case C_WRONG_RANK: {
        adv_tensor *t = find_mut(st, "bn5.weight");
        t->ndim = 2;
        t->shape[0] = 128;
        t->shape[1] = 2;
        break;
    }
    case C_MISSING: remove_tensor(st, "bn4.running_var"); break;
    case C_EXTRA: adv_st_add(st, "fc.weight", ADV_DTYPE_F32, 1, s1, &one); break;
    case C_NAN: ((float *)find_mut(st, "conv5.weight")->data)[1000] = NAN; break;
    case C_INF: ((float *)find_mut(st, "bn2.running_mean")->data)[3] = -INFINITY; break;
    case C_STD_ZERO: ((float *)find_mut(st, "frontend.std")->data)[99] = 0.0f; break;
    case C_STD_NEG: ((float *)find_mut(st, "frontend.std")->data)[0] = -1.0f; break;
    case C_VAR_NEG: ((float *)find_mut(st, "bn1.running_var")->data)[5] = -0.5f; break;
    case C_NBT_SHAPE: {
        adv_tensor *t = find_mut(st, "bn6.num_batches_tracked");
        t->ndim = 1;
        t->shape[0] = 1;
        break;
    }
    case C_NBT_DTYPE:
        remove_tensor(st, "bn6.num_batches_tracked");
        adv_st_add(st, "bn6.num_batches_tracked", ADV_DTYPE_F32, 1, s1, &one);
        break;
    case C_NBT_NEG: *(int64_t *)find_mut(st, "bn6.num_batches_tracked")->data = -3; break;
    case C_CLASSES_11:
        set_meta_raw(st, "classes", "a,b,c,d,e,f,g,h,i,j,k");
        break;
    case C_CLASSES_13: set_meta_raw(st, "classes", "a,b,c,d,e,f,g,h,i,j,k,l,m"); break;
    case C_CLASSES_MISSING: set_meta_raw(st, "classes", NULL); break;
    case C_CLASSES_EMPTY: set_meta_raw(st, "classes", "a,b,c,d,,f,g,h,i,j,k,l"); break;
    case C_CLASSES_DUP: set_meta_raw(st, "classes", "a,b,c,d,e,f,g,h,i,j,Hi-Hat,hi_hat"); break;
    case C_CLASSES_LONG:
        set_meta_raw(st, "classes", "a,b,c,d,e,f,g,h,i,j,k,a_name_that_is_far_too_long_for_the_table");
        break;
    case C_CLASSES_NUMBER: set_meta_raw(st, "classes", "a,b,c,d,e,f,g,h,i,j,k,7"); break;
    case C_CLASSES_NONE: set_meta_raw(st, "classes", "a,b,c,d,e,f,g,h,i,j,None,l"); break;
    case C_CLASSES_RANDOM: set_meta_raw(st, "classes", "random,b,c,d,e,f,g,h,i,j,k,l"); break;
    case C_RATE_WRONG: set_meta_raw(st, "sample_rate", "22050"); break;
    case C_RATE_MISSING: set_meta_raw(st, "sample_rate", NULL); break;
    case C_MEAN_MISSING: remove_tensor(st, "frontend.mean"); break;
    }
}

static void test_corrupted_tensors(const char *good)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/corrupt.safetensors", scratch);
    for (size_t i = 0; i < sizeof corruptions / sizeof corruptions[0]; i++) {
        adv_st st;
        if (adv_st_read(good, &st) != 0) {
            CHECK(0, "re-read good file: %s", adv_error());
            return;
        }
        corrupt(&st, corruptions[i].c);
        CHECK(adv_st_write(&st, path) == 0, "%s: write: %s", corruptions[i].what, adv_error());
        adv_st_free(&st);
        adv_model *m = adv_model_load(path);
        CHECK(m == NULL, "%s: corrupted model loaded", corruptions[i].what);
        adv_model_free(m);
        check_message(corruptions[i].what, "corrupt.safetensors", corruptions[i].expect);
    }
    unlink(path);
}

/* Replaces the first occurrence of `from` in the header with `to` (same length). */
static int patch(unsigned char *img, size_t size, const char *from, const char *to)
{
    size_t n = strlen(from);
    for (size_t i = 8; i + n <= size && i < 8 + 100000; i++) {
        if (memcmp(img + i, from, n) == 0) {
            memcpy(img + i, to, n);
            return 0;
        }
    }
    return -1;
}

static void test_corrupted_bytes(const char *good)
{
    size_t size;
    unsigned char *img = tu_read_file(good, &size);
    CHECK(img != NULL, "read good file");
    if (!img) return;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | img[i];

    /* Every truncation fails: byte by byte through the header, coarse steps through the data. */
    int all_fail = 1, checked = 0;
    for (size_t len = 0; len < size; len += len < hlen + 64 ? 1 : size / 97 + 1) {
        adv_model *m = adv_model_load_memory(img, len, "truncated");
        if (m || adv_error()[0] == '\0' || strchr(adv_error(), '\n') || !strstr(adv_error(), "truncated")) all_fail = 0;
        adv_model_free(m);
        checked++;
    }
    adv_model *m = adv_model_load_memory(img, size - 1, "truncated");
    CHECK(m == NULL, "one byte short accepted");
    adv_model_free(m);
    CHECK(all_fail && checked > 1000, "a truncated model loaded or gave a bad message (%d lengths)", checked);

    /* Truncated on disk too. */
    char path[1200];
    snprintf(path, sizeof path, "%s/short.safetensors", scratch);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(img, 1, size / 2, f);
        fclose(f);
    }
    m = adv_model_load(path);
    CHECK(m == NULL, "half file loaded");
    check_message("half file", "short.safetensors", NULL);
    adv_model_free(m);
    unlink(path);

    static const struct { const char *what, *from, *to, *expect; } patches[] = {
        {"duplicate name", "\"conv2.bias\"", "\"conv1.bias\"", "duplicate"},
        {"bad JSON", "\"conv1.weight\":{", "\"conv1.weight\"::", "JSON"},
        {"wrong dtype string", "\"dtype\":\"F32\"", "\"dtype\":\"F16\"", "dtype"},
        {"unknown dtype name", "\"dtype\":\"I64\"", "\"dtype\":\"U64\"", "dtype"},
        {"shape mismatch", "[64,1,5,5]", "[64,1,5,6]", "conv1.weight"},
        {"metadata number", "\"sample_rate\":\"16000\"", "\"sample_rate\":16000.0", "sample_rate"},
    };
    for (size_t i = 0; i < sizeof patches / sizeof patches[0]; i++) {
        unsigned char *copy = malloc(size);
        memcpy(copy, img, size);
        int found = patch(copy, size, patches[i].from, patches[i].to) == 0;
        CHECK(found, "%s: pattern %s not in header", patches[i].what, patches[i].from);
        if (found) {
            m = adv_model_load_memory(copy, size, "patched");
            CHECK(m == NULL, "%s: accepted", patches[i].what);
            adv_model_free(m);
            check_message(patches[i].what, "patched", patches[i].expect);
        }
        free(copy);
    }

    /* Overlapping offsets: make conv1.bias start 4 bytes early (inside conv1.weight), end likewise. */
    {
        unsigned char *copy = malloc(size);
        memcpy(copy, img, size);
        int ok = patch(copy, size, "\"data_offsets\":[6400,6656]", "\"data_offsets\":[6396,6652]") == 0;
        CHECK(ok, "conv1.bias offsets not found");
        if (ok) {
            m = adv_model_load_memory(copy, size, "overlap");
            CHECK(m == NULL, "overlapping offsets accepted");
            adv_model_free(m);
            check_message("overlap", "overlap", "overlap");
        }
        free(copy);
    }

    /* Header length huge or beyond the file. */
    unsigned char saved[8];
    memcpy(saved, img, 8);
    memset(img, 0xff, 7);
    img[7] = 0x7f;
    m = adv_model_load_memory(img, size, "huge");
    CHECK(m == NULL, "huge header length accepted");
    check_message("huge header length", "huge", NULL);
    uint64_t beyond = size - 7;
    for (int i = 0; i < 8; i++) img[i] = (unsigned char)(beyond >> (8 * i));
    m = adv_model_load_memory(img, size, "beyond");
    CHECK(m == NULL, "header length beyond the file accepted");
    check_message("header beyond file", "beyond", NULL);
    memcpy(img, saved, 8);

    m = adv_model_load("/nonexistent/dir/model.safetensors");
    CHECK(m == NULL, "missing file loaded");
    check_message("missing file", "/nonexistent/dir/model.safetensors", NULL);
    free(img);
}

static void test_default_path(void)
{
    setenv("ADVINST_MODEL", "/some/where/m.safetensors", 1);
    const char *p = adv_default_model_path();
    CHECK(p && strcmp(p, "/some/where/m.safetensors") == 0, "ADVINST_MODEL honoured: %s", p ? p : "(null)");
    unsetenv("ADVINST_MODEL");
    p = adv_default_model_path();
    CHECK(!p || access(p, R_OK) == 0, "default path %s exists", p ? p : "(null)");
}

int main(void)
{
    scratch = tu_scratch_dir("model_file");
    CHECK(scratch != NULL, "scratch dir");
    if (!scratch) return tu_finish("test_model_file");
    test_create();
    test_classes_and_meta();
    char good[1200];
    snprintf(good, sizeof good, "%s/good.safetensors", scratch);
    test_round_trip(good);
    test_corrupted_tensors(good);
    test_corrupted_bytes(good);
    test_default_path();
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", scratch);
    return tu_finish("test_model_file");
}
