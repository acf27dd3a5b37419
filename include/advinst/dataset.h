/* Data sets on disk: DIR/labels.csv (header "fname,label,split") and DIR/audio/<fname>
 * (16 kHz mono WAV). Class indices follow the paper (sorted names, see adv_class_names).
 *
 * Typical use by training code:
 *     adv_dataset ds;
 *     if (adv_dataset_load("data/rendered", &ds) < 0) { fprintf(stderr, "%s\n", adv_error()); ... }
 *     for (long i = 0; i < ds.count; i++)
 *         if (ds.entries[i].split == ADV_SPLIT_TRAIN) {
 *             char *path = adv_dataset_audio_path(&ds, i);   // malloc'd "DIR/audio/<fname>"
 *             ... adv_audio_read(path, ...), label ds.entries[i].label ...
 *             free(path);
 *         }
 *     adv_dataset_free(&ds);
 */
#ifndef ADVINST_DATASET_H
#define ADVINST_DATASET_H
#include "advinst/classes.h"
#include <stdint.h>
#include <stdio.h>

/* FSDKaggle2019's spelling of the classes of advinst/classes.h: "Accordion", ..., "Marimba_and_xylophone". */
extern const char *const adv_fsd_class_names[ADV_N_CLASSES];

/* Index of an FSDKaggle2019 label (exact match), or -1. */
int adv_fsd_class_index(const char *label);

typedef enum { ADV_SPLIT_TRAIN = 0, ADV_SPLIT_VALID = 1 } adv_split;

typedef struct {
    char *fname;      /* file name inside DIR/audio, no directory part */
    int label;        /* 0 .. ADV_N_CLASSES-1 */
    adv_split split;
} adv_dataset_entry;

typedef struct {
    char *dir;                    /* the data set directory (copy of what was loaded), may be NULL */
    adv_dataset_entry *entries;   /* in labels.csv order */
    int flat;                     /* labels.csv was "fname,label": audio beside it, every clip "valid" */
    long count;
    long capacity;
} adv_dataset;

/* Reads DIR/labels.csv and checks it strictly: header, 3 columns per row, known label and split,
 * no duplicate or unsafe fname (no '/'), every DIR/audio/<fname> exists and is non-empty, at least
 * one row. On failure returns -1 with adv_error() naming the file and line, ds left empty.
 * A folder of recordings to evaluate may instead have a two-column "fname,label" labels.csv with
 * the audio files beside it (labels in this project's or FSDKaggle2019's spelling); its clips are
 * all in the "valid" split and ds->flat is set. */
int adv_dataset_load(const char *dir, adv_dataset *ds);

/* Same checks on a labels.csv at any path, audio looked up in audio_dir (NULL: don't check files). */
int adv_dataset_load_csv(const char *csv_path, const char *audio_dir, adv_dataset *ds);
/* The parser behind it, on an open stream (read from its start; it must be seekable:
 * it is read twice, e.g. a file or fmemopen); csv_path names it in messages. f stays open. */
int adv_dataset_read_csv(FILE *f, const char *csv_path, const char *audio_dir, adv_dataset *ds);

void adv_dataset_init(adv_dataset *ds);
void adv_dataset_free(adv_dataset *ds);
/* Appends a copy of fname; returns 0 or -1 (out of memory). */
int adv_dataset_add(adv_dataset *ds, const char *fname, int label, adv_split split);

/* Writes labels.csv (header + one row per entry) atomically (temporary file renamed into place). */
int adv_dataset_write_labels(const char *csv_path, const adv_dataset *ds);

/* malloc'd path "ds->dir/audio/<fname>" of entry i (NULL if out of memory). */
char *adv_dataset_audio_path(const adv_dataset *ds, long i);

/* Indices of the entries of one split, in file order, into idx (may be NULL to count only);
 * returns their number. */
long adv_dataset_split_indices(const adv_dataset *ds, adv_split split, long *idx);

/* counts[c][s]: entries of class c in split s. */
void adv_dataset_counts(const adv_dataset *ds, long counts[ADV_N_CLASSES][2]);

/* Seeded split, 25 % valid. Stratified: per class, round(n/4) random entries (at least one when the
 * class has two or more) become "valid", the rest "train". Not stratified (the paper's split of
 * FSDKaggle2019): one seeded shuffle of all entries, the first round(0.75 n) are "train".
 * Depends only on seed and the entries' order and labels. */
void adv_dataset_assign_split(adv_dataset *ds, uint64_t seed, int stratified);

/* Output directory staging, so a data set appears whole or not at all:
 * stage_open refuses an existing non-empty out_dir unless force, then creates a temporary sibling
 * directory "<out_dir>.tmp-XXXXXX" with an audio/ subdirectory and returns it (malloc'd).
 * stage_commit replaces out_dir by it (an old out_dir is moved aside and deleted); stage_abort
 * deletes it. Return 0 / -1 with adv_error. */
int adv_dataset_stage_open(const char *out_dir, int force, char **stage_dir);
int adv_dataset_stage_commit(const char *stage_dir, const char *out_dir);
void adv_dataset_stage_abort(const char *stage_dir);

/* One row of an FSDKaggle2019 CSV that is kept for the 12-class task. */
typedef struct {
    char *fname;
    int label;
} adv_fsd_clip;

/* Parses an FSDKaggle2019 CSV (header starting "fname,labels", optional further columns such as
 * freesound_id,license; the labels field is a comma-separated, usually quoted list) and returns the
 * clips whose list holds exactly one of the 12 labels, in file order. Malformed rows (wrong column
 * count, empty fname or labels, unterminated quote, duplicate fname) fail with file:line. */
int adv_fsd_parse_csv(const char *csv_path, adv_fsd_clip **clips, long *count);
/* The parser behind it, on an open seekable stream (as adv_dataset_read_csv); f stays open. */
int adv_fsd_read_csv(FILE *f, const char *csv_path, adv_fsd_clip **clips, long *count);
void adv_fsd_clips_free(adv_fsd_clip *clips, long count);

/* Builds a data set from FSDKaggle2019: reads the kept clips from audio_dir, mixes to mono,
 * resamples to 16 kHz, writes out_dir/audio/<fname> (16-bit WAV) and out_dir/labels.csv with the
 * paper's seeded 75/25 shuffle split. Returns 0, or an exit code (ADV_EXIT_INPUT for a bad CSV or
 * audio file, ADV_EXIT_OUTPUT for an existing out_dir without force or a write failure) with
 * adv_error set. progress != 0 draws a progress bar (on a TTY). */
int adv_dataset_import_fsdkaggle(const char *csv_path, const char *audio_dir, const char *out_dir,
                                 uint64_t seed, int force, int progress);
#endif
