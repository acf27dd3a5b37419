/* libFuzzer: the data-set CSV readers. The first byte chooses the format (even: labels.csv through
 * adv_dataset_read_csv, odd: an FSDKaggle2019 CSV through adv_fsd_read_csv); the rest is the file.
 * A labels.csv that loads must hold valid, distinct entries and survive a round trip through
 * adv_dataset_write_labels unchanged. */
#include "advinst/dataset.h"
#include "invariants.h"
#include <stdint.h>
#include <unistd.h>

static char scratch[64];   /* for the round trip's file, removed at exit */
static char csv_path[128];

static void remove_scratch(void)
{
    unlink(csv_path);
    rmdir(scratch);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%.40s/advinst-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(scratch)) abort();
    snprintf(csv_path, sizeof csv_path, "%s/labels.csv", scratch);
    atexit(remove_scratch);
    return 0;
}

static void check_fname(const char *s)
{
    FUZZ_REQUIRE(s && *s && strcmp(s, ".") && strcmp(s, ".."), "fname '%s'", s ? s : "(null)");
    FUZZ_REQUIRE(!strchr(s, '/') && !strchr(s, '\\'), "fname '%s' has no directory part", s);
}

static void check_labels(const adv_dataset *ds)
{
    FUZZ_REQUIRE(ds->count >= 1, "%ld rows", ds->count);
    for (long i = 0; i < ds->count; i++) {
        check_fname(ds->entries[i].fname);
        FUZZ_REQUIRE(ds->entries[i].label >= 0 && ds->entries[i].label < ADV_N_CLASSES, "label %d",
                     ds->entries[i].label);
        FUZZ_REQUIRE(ds->entries[i].split == ADV_SPLIT_TRAIN || ds->entries[i].split == ADV_SPLIT_VALID, "split %d",
                     (int)ds->entries[i].split);
        for (long j = 0; j < i && ds->count <= 512; j++)
            FUZZ_REQUIRE(strcmp(ds->entries[i].fname, ds->entries[j].fname), "fname '%s' twice", ds->entries[i].fname);
    }
    long counts[ADV_N_CLASSES][2], sum = 0;
    adv_dataset_counts(ds, counts);
    for (int c = 0; c < ADV_N_CLASSES; c++) sum += counts[c][0] + counts[c][1];
    FUZZ_REQUIRE(sum == ds->count, "counts add up to %ld of %ld", sum, ds->count);
    FUZZ_REQUIRE(adv_dataset_split_indices(ds, ADV_SPLIT_TRAIN, NULL) + adv_dataset_split_indices(ds, ADV_SPLIT_VALID, NULL) ==
                 ds->count, "splits add up");

    /* what we write, we read back the same */
    FUZZ_REQUIRE(adv_dataset_write_labels(csv_path, ds) == 0, "write: %s", adv_error());
    adv_dataset back;
    FUZZ_REQUIRE(adv_dataset_load_csv(csv_path, NULL, &back) == 0, "reading back what was written: %s", adv_error());
    FUZZ_REQUIRE(back.count == ds->count, "%ld rows read back of %ld", back.count, ds->count);
    for (long i = 0; i < ds->count; i++)
        FUZZ_REQUIRE(!strcmp(back.entries[i].fname, ds->entries[i].fname) && back.entries[i].label == ds->entries[i].label &&
                     back.entries[i].split == ds->entries[i].split, "row %ld read back differently", i);
    adv_dataset_free(&back);
}

static void check_fsd(const adv_fsd_clip *clips, long n)
{
    for (long i = 0; i < n; i++) {
        check_fname(clips[i].fname);
        FUZZ_REQUIRE(clips[i].label >= 0 && clips[i].label < ADV_N_CLASSES, "label %d", clips[i].label);
        for (long j = 0; j < i && n <= 512; j++)
            FUZZ_REQUIRE(strcmp(clips[i].fname, clips[j].fname), "fname '%s' twice", clips[i].fname);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int fsd = data[0] & 1;
    /* fmemopen refuses a zero-sized buffer: the empty file is /dev/null */
    FILE *f = size > 1 ? fmemopen((void *)(data + 1), size - 1, "r") : fopen("/dev/null", "r");
    if (!f) abort();
    if (fsd) {
        adv_fsd_clip *clips;
        long n;
        if (adv_fsd_read_csv(f, "fuzz.csv", &clips, &n) == 0) {
            check_fsd(clips, n);
            adv_fsd_clips_free(clips, n);
        }
    } else {
        adv_dataset ds;
        if (adv_dataset_read_csv(f, "labels.csv", NULL, &ds) == 0) {
            check_labels(&ds);
            adv_dataset_free(&ds);
        }
    }
    fclose(f);
    return 0;
}
