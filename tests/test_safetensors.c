/* safetensors reader/writer: round trip of every dtype + metadata, atomic writes, and a table of
 * corrupted images (truncations, bad lengths, bad JSON, bad entries) that must fail cleanly. */
#include "testutil.h"
#include "advinst/error.h"
#include "advinst/safetensors.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A failed call left a usable one-line message that names the file. */
static void check_message(const char *what, const char *file)
{
    const char *msg = adv_error();
    CHECK(msg[0] != '\0', "%s: empty error message", what);
    CHECK(strchr(msg, '\n') == NULL, "%s: multi-line message: %s", what, msg);
    CHECK(!file || strstr(msg, file) != NULL, "%s: message does not name '%s': %s", what, file, msg);
}

/* Image = 8-byte length + header (as given) + data. */
static unsigned char *make_image(const char *header, const void *data, size_t data_len, size_t *size)
{
    size_t h = strlen(header);
    *size = 8 + h + data_len;
    unsigned char *img = malloc(*size);
    for (int i = 0; i < 8; i++) img[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(img + 8, header, h);
    if (data_len) memcpy(img + 8 + h, data, data_len);
    return img;
}

static int count_dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void test_round_trip(const char *dir)
{
    adv_st st = {0};
    float f32[6] = {1.5f, -2.25f, 0.0f, 3.0e-38f, 1e30f, -0.0f};
    int64_t i64 = -1234567890123LL;
    double f64[4] = {M_PI, -1e300, 5e-324, 0.5};
    int32_t i32[3] = {INT32_MIN, 0, INT32_MAX};
    int64_t s23[2] = {2, 3}, s4[1] = {4}, s31[2] = {3, 1}, s0[2] = {5, 0};
    CHECK(adv_st_add(&st, "a.weight", ADV_DTYPE_F32, 2, s23, f32) == 0, "add F32: %s", adv_error());
    CHECK(adv_st_add(&st, "count", ADV_DTYPE_I64, 0, NULL, &i64) == 0, "add I64 scalar: %s", adv_error());
    CHECK(adv_st_add(&st, "d", ADV_DTYPE_F64, 1, s4, f64) == 0, "add F64: %s", adv_error());
    CHECK(adv_st_add(&st, "empty", ADV_DTYPE_F32, 2, s0, NULL) == 0, "add empty: %s", adv_error());
    CHECK(adv_st_add(&st, "ints", ADV_DTYPE_I32, 2, s31, i32) == 0, "add I32: %s", adv_error());
    CHECK(adv_st_add(&st, "d", ADV_DTYPE_F64, 1, s4, f64) != 0, "duplicate add accepted");
    int64_t neg[1] = {-1};
    CHECK(adv_st_add(&st, "neg", ADV_DTYPE_F32, 1, neg, f32) != 0, "negative shape accepted");
    CHECK(adv_st_add(&st, "__metadata__", ADV_DTYPE_F32, 1, s4, f32) != 0, "reserved name accepted");
    CHECK(adv_st_set_meta(&st, "note", "first") == 0, "set meta");
    CHECK(adv_st_set_meta(&st, "note", "quotes \" backslash \\ newline \n tab \t utf8 \xc3\xa9") == 0, "replace meta");
    CHECK(adv_st_set_meta(&st, "empty", "") == 0, "empty meta");
    CHECK(st.meta_count == 2, "meta_count %d", st.meta_count);

    char path[1200];
    snprintf(path, sizeof path, "%s/rt.safetensors", dir);
    CHECK(adv_st_write(&st, path) == 0, "write: %s", adv_error());
    CHECK(count_dir_entries(dir) == 1, "temporary file left behind (%d entries)", count_dir_entries(dir));

    size_t size = 0;
    unsigned char *img = tu_read_file(path, &size);
    CHECK(img != NULL && size > 8, "read back bytes");
    if (img) {
        uint64_t h = 0;
        for (int i = 7; i >= 0; i--) h = (h << 8) | img[i];
        CHECK(h % 8 == 0, "header length %llu not a multiple of 8", (unsigned long long)h);
        CHECK(img[8] == '{', "header starts with '{'");
        size_t data = 6 * 4 + 8 + 4 * 8 + 0 + 3 * 4;
        CHECK(8 + h + data == size, "file size %zu = 8 + %llu + %zu", size, (unsigned long long)h, data);
        CHECK(img[8 + h - 1] == '}' || img[8 + h - 1] == ' ', "padding is spaces");
    }
    free(img);

    adv_st back;
    CHECK(adv_st_read(path, &back) == 0, "read: %s", adv_error());
    CHECK(back.count == 5, "count %d", back.count);
    const adv_tensor *t = adv_st_find(&back, "a.weight");
    CHECK(t && t->dtype == ADV_DTYPE_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 && t->nbytes == 24,
          "a.weight header");
    if (t) {
        CHECK(memcmp(t->data, f32, sizeof f32) == 0, "a.weight data");
        CHECK(((uintptr_t)t->data & 63) == 0, "data 64-byte aligned");
    }
    t = adv_st_find(&back, "count");
    CHECK(t && t->dtype == ADV_DTYPE_I64 && t->ndim == 0 && t->nbytes == 8 && *(int64_t *)t->data == i64, "I64 scalar");
    t = adv_st_find(&back, "d");
    CHECK(t && t->dtype == ADV_DTYPE_F64 && t->ndim == 1 && memcmp(t->data, f64, sizeof f64) == 0, "F64");
    t = adv_st_find(&back, "ints");
    CHECK(t && t->dtype == ADV_DTYPE_I32 && t->ndim == 2 && memcmp(t->data, i32, sizeof i32) == 0, "I32");
    t = adv_st_find(&back, "empty");
    CHECK(t && t->nbytes == 0 && t->ndim == 2 && t->shape[1] == 0 && t->data != NULL, "empty tensor");
    CHECK(adv_st_find(&back, "missing") == NULL, "find missing");
    CHECK(back.meta_count == 2, "meta count %d", back.meta_count);
    const char *note = adv_st_meta(&back, "note");
    CHECK(note && strcmp(note, st.meta_values[0]) == 0, "meta with escapes: %s", note ? note : "(null)");
    CHECK(adv_st_meta(&back, "empty") && adv_st_meta(&back, "empty")[0] == '\0', "empty meta value");
    CHECK(adv_st_meta(&back, "nope") == NULL, "missing meta");
    adv_st_free(&back);

    /* Overwriting keeps a valid file; a file with no tensors and no metadata is valid too. */
    adv_st none = {0};
    CHECK(adv_st_write(&none, path) == 0, "overwrite with empty: %s", adv_error());
    CHECK(adv_st_read(path, &back) == 0 && back.count == 0 && back.meta_count == 0, "empty file: %s", adv_error());
    adv_st_free(&back);

    /* Writing into a missing directory fails and leaves nothing. */
    char bad[1300];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.safetensors", dir);
    CHECK(adv_st_write(&st, bad) != 0, "write into a missing directory succeeded");
    check_message("write missing dir", bad);
    CHECK(adv_st_read(bad, &back) != 0, "read of a missing file succeeded");
    check_message("read missing", bad);
    CHECK(adv_st_read(dir, &back) != 0, "read of a directory succeeded");
    check_message("read directory", dir);
    adv_st_free(&st);
}

/* A handmade valid image, parsed like Python's safetensors would write it. */
static void test_handmade(void)
{
    float data[4] = {1, 2, 3, 4};
    size_t size;
    unsigned char *img = make_image(
        "{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]}}   ",
        data, sizeof data, &size);
    adv_st st;
    CHECK(adv_st_parse(img, size, "hand", &st) == 0, "handmade: %s", adv_error());
    const adv_tensor *a = adv_st_find(&st, "a"), *b = adv_st_find(&st, "b");
    CHECK(a && b && ((float *)a->data)[1] == 2.0f && ((float *)b->data)[0] == 3.0f, "handmade offsets honoured");
    CHECK(adv_st_meta(&st, "format") && strcmp(adv_st_meta(&st, "format"), "pt") == 0, "handmade metadata");
    adv_st_free(&st);
    free(img);
}

typedef struct { const char *what; const char *header; size_t data_len; } bad_case;

static void test_bad_headers(void)
{
    static const bad_case cases[] = {
        {"not json", "{\"a\": {\"dtype\": \"F32\"", 16},
        {"array root", "[1, 2]", 0},
        {"trailing garbage", "{} x", 0},
        {"entry not object", "{\"a\": 3}", 0},
        {"entry is array", "{\"a\": [\"F32\"]}", 0},
        {"no dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4},
        {"dtype not string", "{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4},
        {"unknown dtype", "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4},
        {"lowercase dtype", "{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4},
        {"no shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4},
        {"shape not list", "{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4},
        {"negative dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4},
        {"fractional dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4},
        {"string dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4},
        {"too many dims", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4},
        {"huge shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[9007199254740992,9007199254740992],\"data_offsets\":[0,4]}}", 4},
        {"shape/bytes mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8},
        {"I64 scalar with 4 bytes", "{\"a\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,4]}}", 4},
        {"no offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4},
        {"one offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", 4},
        {"three offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8},
        {"negative offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4},
        {"begin after end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8},
        {"offset beyond data", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 4},
        {"huge offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1e300,1e300]}}", 4},
        {"overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12},
        {"same span", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"b\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4},
        {"duplicate name", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                           "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8},
        {"metadata not object", "{\"__metadata__\":\"x\"}", 0},
        {"metadata number", "{\"__metadata__\":{\"k\":1}}", 0},
        {"metadata null", "{\"__metadata__\":{\"k\":null}}", 0},
        {"metadata nested", "{\"__metadata__\":{\"k\":{\"a\":\"b\"}}}", 0},
        {"duplicate metadata key", "{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0},
        {"two metadata", "{\"__metadata__\":{\"k\":\"a\"},\"__metadata__\":{}}", 0},
    };
    unsigned char zeros[16] = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t size;
        unsigned char *img = make_image(cases[i].header, zeros, cases[i].data_len, &size);
        adv_st st;
        int rc = adv_st_parse(img, size, "bad.safetensors", &st);
        CHECK(rc == -1, "%s: accepted", cases[i].what);
        CHECK(st.count == 0 && st.tensors == NULL && st.meta_count == 0, "%s: output not cleared", cases[i].what);
        if (rc) check_message(cases[i].what, "bad.safetensors");
        adv_st_free(&st);
        free(img);
    }

    /* Names with control characters are reported without breaking the line. */
    size_t size;
    unsigned char *img = make_image("{\"x\\ny\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]}}", zeros, 2, &size);
    adv_st st;
    CHECK(adv_st_parse(img, size, "ctl", &st) == -1, "control-char name with bad dtype accepted");
    check_message("control-char name", "ctl");
    free(img);

    /* An embedded NUL inside the header. */
    img = make_image("{}      ", zeros, 0, &size);
    img[10] = '\0';
    img[11] = '}';
    CHECK(adv_st_parse(img, size, "nul", &st) == -1, "embedded NUL accepted");
    check_message("embedded NUL", "nul");
    free(img);

    /* Length prefix problems. */
    img = make_image("{}", zeros, 0, &size);
    CHECK(adv_st_parse(img, 0, "short", &st) == -1, "empty image accepted");
    check_message("empty image", "short");
    CHECK(adv_st_parse(img, 7, "short", &st) == -1, "7-byte image accepted");
    check_message("7 bytes", "short");
    CHECK(adv_st_parse(NULL, 0, "null", &st) == -1, "NULL image accepted");
    img[0] = 3;
    CHECK(adv_st_parse(img, size, "long", &st) == -1, "header length beyond file accepted");
    check_message("header beyond file", "long");
    memset(img, 0xff, 8);
    CHECK(adv_st_parse(img, size, "huge", &st) == -1, "2^64-1 header length accepted");
    check_message("huge header length", "huge");
    memset(img, 0, 8);
    img[7] = 0x80;
    CHECK(adv_st_parse(img, size, "huge", &st) == -1, "2^63 header length accepted");
    memset(img, 0, 8);
    CHECK(adv_st_parse(img, size, "zero", &st) == -1, "zero header length accepted");
    check_message("zero header length", "zero");
    free(img);
}

/* Every truncation of a valid file fails; random byte flips never crash. */
static void test_truncation_and_flips(const char *dir)
{
    adv_st st = {0};
    float w[64];
    int64_t n = 7;
    for (int i = 0; i < 64; i++) w[i] = (float)i;
    int64_t s[2] = {8, 8}, s1[1] = {64};
    adv_st_add(&st, "w", ADV_DTYPE_F32, 2, s, w);
    adv_st_add(&st, "n", ADV_DTYPE_I64, 0, NULL, &n);
    adv_st_add(&st, "v", ADV_DTYPE_F32, 1, s1, w);
    adv_st_set_meta(&st, "k", "v");
    char path[1200];
    snprintf(path, sizeof path, "%s/trunc.safetensors", dir);
    CHECK(adv_st_write(&st, path) == 0, "write: %s", adv_error());
    adv_st_free(&st);
    size_t size;
    unsigned char *img = tu_read_file(path, &size);
    CHECK(img != NULL, "read file");
    if (!img) return;
    int failures_ok = 1;
    for (size_t len = 0; len < size; len++) {
        /* Exact-size copies so ASan catches any read past the end. */
        unsigned char *part = malloc(len ? len : 1);
        memcpy(part, img, len);
        adv_st t;
        int rc = adv_st_parse(part, len, "trunc", &t);
        if (rc != -1 || adv_error()[0] == '\0' || strchr(adv_error(), '\n')) failures_ok = 0;
        if (rc == 0) adv_st_free(&t);
        free(part);
    }
    CHECK(failures_ok, "some truncation of a %zu-byte file was accepted or gave no message", size);
    adv_st t;
    CHECK(adv_st_parse(img, size, "full", &t) == 0, "full image: %s", adv_error());
    adv_st_free(&t);

    uint64_t rng = 99;
    int parsed = 0;
    for (int iter = 0; iter < 3000; iter++) {
        unsigned char *copy = malloc(size);
        memcpy(copy, img, size);
        int flips = 1 + (int)(adv_rng_next(&rng) % 4);
        for (int f = 0; f < flips; f++) copy[adv_rng_next(&rng) % size] = (unsigned char)adv_rng_next(&rng);
        if (adv_st_parse(copy, size, "flip", &t) == 0) {
            parsed++;
            adv_st_free(&t);
        } else {
            CHECK(adv_error()[0] != '\0' && !strchr(adv_error(), '\n'), "flip %d: bad message", iter);
        }
        free(copy);
    }
    CHECK(parsed > 0, "no byte flip left a valid file (flips in data should)");
    free(img);
}

int main(void)
{
    const char *dir = tu_scratch_dir("safetensors");
    CHECK(dir != NULL, "scratch dir");
    if (!dir) return tu_finish("test_safetensors");
    char rt_dir[1100], tr_dir[1100];
    snprintf(rt_dir, sizeof rt_dir, "%s/rt", dir);
    snprintf(tr_dir, sizeof tr_dir, "%s/tr", dir);
    mkdir(rt_dir, 0755);
    mkdir(tr_dir, 0755);
    test_round_trip(rt_dir);
    test_handmade();
    test_bad_headers();
    test_truncation_and_flips(tr_dir);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return tu_finish("test_safetensors");
}
