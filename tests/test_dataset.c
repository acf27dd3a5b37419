/* Data sets: a small render is deterministic (also across thread counts) and labelled right;
 * labels.csv and FSDKaggle2019 CSVs with malformed rows are rejected with file:line; the
 * FSDKaggle2019 importer keeps exactly the single-label clips of the 12 classes at 16 kHz.
 * Needs only timgm6mb-soundfont (the render uses --soundfonts small). */
#include "testutil.h"
#include "advinst/audio.h"
#include "advinst/dataset.h"
#include "advinst/error.h"
#include "advinst/synth.h"
#include <math.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char scratch[1024];

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) { perror(path); exit(1); }
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *path, long *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    rewind(f);
    char *b = malloc((size_t)*size + 1);
    if (fread(b, 1, (size_t)*size, f) != (size_t)*size) { free(b); b = NULL; }
    fclose(f);
    return b;
}

static int same_file(const char *a, const char *b)
{
    long na = 0, nb = 0;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, (size_t)na) == 0;
    free(x);
    free(y);
    return same;
}

static void render(const char *dir, int threads, adv_dataset *ds)
{
    adv_render_options o;
    adv_render_options_default(&o);
    o.seed = 7;
    o.small = 1;
    o.clips_per_class = 4;
    o.max_seconds = 1.5;
    o.threads = threads;
    int rc = adv_render_dataset(dir, &o, 0);
    CHECK(rc == 0, "render into %s: %s", dir, adv_error());
    CHECK(adv_dataset_load(dir, ds) == 0, "load %s: %s", dir, adv_error());
}

static void test_render(void)
{
    char a[1100], b[1100];
    snprintf(a, sizeof a, "%s/render-a", scratch);
    snprintf(b, sizeof b, "%s/render-b", scratch);
    adv_dataset da, db;
    render(a, 2, &da);
    render(b, 1, &db);
    if (da.count == 0 || db.count == 0) return;
    CHECK(da.count == 48 && db.count == 48, "48 clips, got %ld / %ld", da.count, db.count);
    long counts[ADV_N_CLASSES][2];
    adv_dataset_counts(&da, counts);
    for (int c = 0; c < ADV_N_CLASSES; c++)
        CHECK(counts[c][0] == 3 && counts[c][1] == 1, "%s: %ld train / %ld valid, expected 3 / 1",
              adv_class_names[c], counts[c][0], counts[c][1]);
    for (long i = 0; i < da.count && i < db.count; i++) {
        const adv_dataset_entry *e = &da.entries[i];
        CHECK(strcmp(e->fname, db.entries[i].fname) == 0 && e->split == db.entries[i].split, "row %ld differs", i);
        /* the file name says the class */
        CHECK(strncmp(e->fname, adv_class_names[e->label], strlen(adv_class_names[e->label])) == 0 &&
              e->fname[strlen(adv_class_names[e->label])] == '_', "%s labelled %s", e->fname, adv_class_names[e->label]);
        char *pa = adv_dataset_audio_path(&da, i), *pb = adv_dataset_audio_path(&db, i);
        CHECK(same_file(pa, pb), "%s differs between two renders (2 threads vs 1)", e->fname);
        adv_audio au;
        if (adv_audio_read(pa, &au) == 0) {
            CHECK(au.rate == 16000 && au.channels == 1, "%s: %d Hz, %d channels", pa, au.rate, au.channels);
            CHECK(au.frames >= 4800 && au.frames <= 1.5 * 16000 + 1, "%s: %ld frames", pa, au.frames);
            float p = 0;
            for (long k = 0; k < au.frames; k++) p = fmaxf(p, fabsf(au.samples[k]));
            /* -30..-1 dBFS, or clipped at full scale (12 %); a codec may move the peak a little */
            CHECK(p > 0.028f && p <= 1.0f, "%s: peak %g outside -31..0 dBFS", pa, p);
            adv_audio_free(&au);
        } else {
            CHECK(0, "%s", adv_error());
        }
        free(pa);
        free(pb);
    }
    char sa[1200], sb[1200];
    snprintf(sa, sizeof sa, "%s/labels.csv", a);
    snprintf(sb, sizeof sb, "%s/labels.csv", b);
    CHECK(same_file(sa, sb), "labels.csv differs");
    snprintf(sa, sizeof sa, "%s/sources.txt", a);
    struct stat st;
    CHECK(stat(sa, &st) == 0 && st.st_size > 0, "sources.txt missing");
    /* an existing non-empty directory is refused without force, replaced with it */
    adv_render_options o;
    adv_render_options_default(&o);
    o.small = 1;
    o.clips_per_class = 1;
    o.max_seconds = 0.5;
    CHECK(adv_render_dataset(a, &o, 0) == 4, "existing directory: expected exit code 4");
    CHECK(strstr(adv_error(), "--force") != NULL, "message should mention --force: %s", adv_error());
    CHECK(adv_render_dataset(a, &o, 1) == 0, "--force: %s", adv_error());
    adv_dataset dc;
    if (adv_dataset_load(a, &dc) == 0) {
        CHECK(dc.count == 12, "after --force: %ld entries", dc.count);
        adv_dataset_free(&dc);
    }
    adv_dataset_free(&da);
    adv_dataset_free(&db);
}

static void test_bad_labels(void)
{
    char dir[1100], path[1200];
    snprintf(dir, sizeof dir, "%s/bad", scratch);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/audio", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/audio/a.wav", dir);
    write_text(path, "not empty");
    snprintf(path, sizeof path, "%s/audio/b.wav", dir);
    write_text(path, "not empty");
    snprintf(path, sizeof path, "%s/audio/empty.wav", dir);
    write_text(path, "");
    static const struct { const char *csv, *expect; } cases[] = {
        {"", "empty file"},
        {"fname,labels,split\na.wav,gong\n", ":1: bad header"},
        {"fname,label\na.wav,gong,train\n", ":2: 3 columns, expected 2"},
        {"fname,label,split\na.wav,gong\n", ":2: 2 columns"},
        {"fname,label,split\na.wav,gong,train,x\n", ":2: 4 columns"},
        {"fname,label,split\na.wav,gong,train\nb.wav,piano,train\n", ":3: unknown label \"piano\""},
        {"fname,label,split\na.wav,gong,test\n", ":2: unknown split \"test\""},
        {"fname,label,split\na.wav,gong,train\na.wav,gong,valid\n", ":3: duplicate fname"},
        {"fname,label,split\nmissing.wav,gong,train\n", ":2: audio file"},
        {"fname,label,split\nempty.wav,gong,train\n", "is empty"},
        {"fname,label,split\n../a.wav,gong,train\n", ":2: invalid fname"},
        {"fname,label,split\na.wav,gong,train\n\nb.wav,gong,train\n", ":3: empty line"},
        {"fname,label,split\n", "no rows"},
        {"fname,label,split\n\"a.wav,gong,train\n", ":2: malformed quoting"},
        {"fname,label,split\na.wav,Gong,train\n", ":2: unknown label"},
    };
    snprintf(path, sizeof path, "%s/labels.csv", dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_text(path, cases[i].csv);
        adv_dataset ds;
        int rc = adv_dataset_load(dir, &ds);
        CHECK(rc < 0, "case %zu accepted", i);
        CHECK(strstr(adv_error(), cases[i].expect) && strstr(adv_error(), "labels.csv"),
              "case %zu: message \"%s\" lacks \"%s\"", i, adv_error(), cases[i].expect);
        CHECK(ds.count == 0 && ds.entries == NULL, "case %zu: data set not left empty", i);
        if (rc == 0) adv_dataset_free(&ds);
    }
    /* and a good one, with CRLF line ends */
    write_text(path, "fname,label,split\r\na.wav,gong,train\r\nb.wav,hi-hat,valid\r\n");
    adv_dataset ds;
    CHECK(adv_dataset_load(dir, &ds) == 0, "good labels.csv: %s", adv_error());
    if (ds.count == 2) {
        CHECK(ds.entries[0].label == 7 && ds.entries[1].label == 9, "labels %d %d", ds.entries[0].label, ds.entries[1].label);
        long idx[2];
        CHECK(adv_dataset_split_indices(&ds, ADV_SPLIT_VALID, idx) == 1 && idx[0] == 1, "valid split");
        adv_dataset_free(&ds);
    } else {
        CHECK(0, "good labels.csv: %ld rows", ds.count);
    }
}

static void test_bad_fsd_csv(void)
{
    static const struct { const char *csv, *expect; } cases[] = {
        {"", "empty file"},
        {"file,labels\na.wav,Gong\n", ":1: bad header"},
        {"fname,labels\na.wav,Gong,Accordion\n", ":2: 3 columns"},
        {"fname,labels,freesound_id,license\na.wav,\"Gong\",1\n", ":2: 3 columns, the header has 4"},
        {"fname,labels\na.wav,\"Gong,Accordion\n", ":2: malformed quoting"},
        {"fname,labels\na.wav,\n", ":2: empty label list"},
        {"fname,labels\na.wav,Gong\nb.wav,Piano\na.wav,Gong\n", ":4: duplicate fname"},
        {"fname,labels\na.wav,\"Gong,,Piano\"\n", ":2: empty label"},
    };
    char path[1200];
    snprintf(path, sizeof path, "%s/fsd-bad.csv", scratch);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_text(path, cases[i].csv);
        adv_fsd_clip *clips;
        long n;
        int rc = adv_fsd_parse_csv(path, &clips, &n);
        CHECK(rc < 0, "FSD case %zu accepted", i);
        CHECK(strstr(adv_error(), cases[i].expect) && strstr(adv_error(), "fsd-bad.csv"),
              "FSD case %zu: message \"%s\" lacks \"%s\"", i, adv_error(), cases[i].expect);
        if (rc == 0) adv_fsd_clips_free(clips, n);
    }
}

/* Names with a comma or a quote are written quoted and read back the same (found by
 * fuzz_dataset_csv: fuzz/regressions/dataset_csv/labels-comma-roundtrip); the stream readers take
 * any seekable stream. */
static void test_csv_round_trip(void)
{
    static const char *const names[] = {"a,b.wav", "q\"uote.wav", "\"both\",.wav", "plain.wav", " spaced .wav"};
    adv_dataset ds;
    adv_dataset_init(&ds);
    for (int i = 0; i < 5; i++) adv_dataset_add(&ds, names[i], i, i % 2 ? ADV_SPLIT_VALID : ADV_SPLIT_TRAIN);
    char path[1200];
    snprintf(path, sizeof path, "%s/roundtrip.csv", scratch);
    CHECK(adv_dataset_write_labels(path, &ds) == 0, "write: %s", adv_error());
    adv_dataset back;
    CHECK(adv_dataset_load_csv(path, NULL, &back) == 0, "read back: %s", adv_error());
    CHECK(back.count == ds.count, "%ld rows back of %ld", back.count, ds.count);
    for (long i = 0; i < back.count && i < ds.count; i++)
        CHECK(!strcmp(back.entries[i].fname, ds.entries[i].fname) && back.entries[i].label == ds.entries[i].label &&
                  back.entries[i].split == ds.entries[i].split,
              "row %ld: '%s' read back as '%s'", i, ds.entries[i].fname, back.entries[i].fname);
    adv_dataset_free(&back);
    adv_dataset_free(&ds);

    static const char labels[] = "fname,label,split\n\"x,y.wav\",gong,valid\n";
    FILE *f = fmemopen((void *)labels, sizeof labels - 1, "r");
    CHECK(f && adv_dataset_read_csv(f, "mem.csv", NULL, &ds) == 0 && ds.count == 1 && !strcmp(ds.entries[0].fname, "x,y.wav"),
          "labels from a memory stream: %s", adv_error());
    if (f) fclose(f);
    adv_dataset_free(&ds);
    static const char fsd[] = "fname,labels\na.wav,\"Gong,Bark\"\nb.wav,Bark\n";
    adv_fsd_clip *clips = NULL;
    long n = 0;
    f = fmemopen((void *)fsd, sizeof fsd - 1, "r");
    CHECK(f && adv_fsd_read_csv(f, "mem.csv", &clips, &n) == 0 && n == 1 && clips[0].label == 7,
          "FSD CSV from a memory stream: %s", adv_error());
    if (f) fclose(f);
    adv_fsd_clips_free(clips, n);
}

static void write_tone(const char *path, double hz, int channels)
{
    adv_audio a;
    adv_audio_alloc(&a, 44100, channels, 44100, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
    for (long i = 0; i < a.frames; i++)
        for (int c = 0; c < channels; c++) a.samples[i * channels + c] = (float)(0.5 * sin(2 * M_PI * hz * i / 44100.0));
    CHECK(adv_audio_write(path, &a) == 0, "%s", adv_error());
    adv_audio_free(&a);
}

static void test_fsd_import(void)
{
    char audio[1100], csv[1100], out[1100], path[1300];
    snprintf(audio, sizeof audio, "%s/fsd-audio", scratch);
    snprintf(csv, sizeof csv, "%s/train_curated_post_competition.csv", scratch);
    snprintf(out, sizeof out, "%s/fsd-out", scratch);
    mkdir(audio, 0755);
    static const char *names[] = {"a1.wav", "b2.wav", "c3.wav", "d4.wav", "e5.wav", "f6.wav", "g7.wav"};
    for (int i = 0; i < 7; i++) {
        snprintf(path, sizeof path, "%s/%s", audio, names[i]);
        write_tone(path, 220.0 * (i + 1), i % 2 ? 2 : 1);
    }
    write_text(csv,
               "fname,labels,freesound_id,license\n"
               "a1.wav,Accordion,101,CC-BY\n"                       /* kept: accordion */
               "b2.wav,\"Accordion,Bass_drum\",102,CC0\n"           /* two of the 12: dropped */
               "c3.wav,Piano,103,CC0\n"                             /* none of the 12: dropped */
               "d4.wav,\"Gong,Piano\",104,CC-BY\n"                  /* one of the 12 plus another: kept */
               "e5.wav,\"Hi-hat\",105,CC-BY\n"                      /* kept: hi-hat */
               "f6.wav,\"Male_singing,Female_singing\",106,CC0\n"   /* two of the 12: dropped */
               "g7.wav,\"Marimba_and_xylophone,Glockenspiel_x\",107,CC0\n"); /* kept: marimba */
    adv_fsd_clip *clips;
    long n;
    CHECK(adv_fsd_parse_csv(csv, &clips, &n) == 0, "parse: %s", adv_error());
    CHECK(n == 4, "kept %ld clips, expected 4", n);
    if (n == 4) adv_fsd_clips_free(clips, n);
    int rc = adv_dataset_import_fsdkaggle(csv, audio, out, 3, 0, 0);
    CHECK(rc == 0, "import: %d %s", rc, adv_error());
    adv_dataset ds;
    if (adv_dataset_load(out, &ds) < 0) { CHECK(0, "load import: %s", adv_error()); return; }
    static const char *expect_name[] = {"a1.wav", "d4.wav", "e5.wav", "g7.wav"};
    static const int expect_label[] = {0, 7, 9, 11};
    CHECK(ds.count == 4, "imported %ld clips", ds.count);
    for (long i = 0; i < ds.count && i < 4; i++) {
        CHECK(strcmp(ds.entries[i].fname, expect_name[i]) == 0 && ds.entries[i].label == expect_label[i],
              "row %ld: %s %d", i, ds.entries[i].fname, ds.entries[i].label);
        char *p = adv_dataset_audio_path(&ds, i);
        adv_audio a;
        if (adv_audio_read(p, &a) == 0) {
            CHECK(a.rate == 16000 && a.channels == 1 && a.frames == 16000, "%s: %d Hz %d ch %ld frames", p, a.rate,
                  a.channels, a.frames);
            adv_audio_free(&a);
        } else {
            CHECK(0, "%s", adv_error());
        }
        free(p);
    }
    CHECK(adv_dataset_split_indices(&ds, ADV_SPLIT_TRAIN, NULL) == 3, "75 %% of 4 clips train");
    snprintf(path, sizeof path, "%s/audio/b2.wav", out);
    struct stat st;
    CHECK(stat(path, &st) != 0, "dropped clip b2.wav was written");
    adv_dataset_free(&ds);
    /* refused over an existing data set, a missing audio file is an input error */
    CHECK(adv_dataset_import_fsdkaggle(csv, audio, out, 3, 0, 0) == ADV_EXIT_OUTPUT, "existing output not refused");
    snprintf(path, sizeof path, "%s/e5.wav", audio);
    remove(path);
    CHECK(adv_dataset_import_fsdkaggle(csv, audio, out, 3, 1, 0) == ADV_EXIT_INPUT, "missing audio not reported");
    CHECK(strstr(adv_error(), "e5.wav") != NULL, "message names the file: %s", adv_error());
    CHECK(adv_dataset_load(out, &ds) == 0 && ds.count == 4, "failed import damaged the old data set");
    adv_dataset_free(&ds);
}

static void test_split(void)
{
    adv_dataset ds;
    adv_dataset_init(&ds);
    char name[32];
    for (int i = 0; i < 799; i++) {
        snprintf(name, sizeof name, "%d.wav", i);
        adv_dataset_add(&ds, name, i % 12, ADV_SPLIT_TRAIN);
    }
    adv_dataset_assign_split(&ds, 1, 0);
    CHECK(adv_dataset_split_indices(&ds, ADV_SPLIT_TRAIN, NULL) == 599, "paper split: 599 train");
    adv_split first[799];
    for (int i = 0; i < 799; i++) first[i] = ds.entries[i].split;
    adv_dataset_assign_split(&ds, 1, 0);
    int same = 1;
    for (int i = 0; i < 799; i++) same &= first[i] == ds.entries[i].split;
    CHECK(same, "split not deterministic");
    adv_dataset_assign_split(&ds, 1, 1);
    long counts[ADV_N_CLASSES][2];
    adv_dataset_counts(&ds, counts);
    for (int c = 0; c < ADV_N_CLASSES; c++) {
        long n = counts[c][0] + counts[c][1];
        CHECK(counts[c][1] == lround(n * 0.25), "stratified: class %d %ld valid of %ld", c, counts[c][1], n);
    }
    adv_dataset_free(&ds);
}

int main(void)
{
    const char *d = tu_scratch_dir("dataset");
    if (!d) { fprintf(stderr, "no scratch directory\n"); return 1; }
    snprintf(scratch, sizeof scratch, "%s", d);
    test_split();
    test_bad_labels();
    test_bad_fsd_csv();
    test_csv_round_trip();
    test_fsd_import();
    test_render();
    int rc = tu_finish("test_dataset");
    if (rc == 0) {
        char cmd[1100];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", scratch);
    }
    return rc;
}
