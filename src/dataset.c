/* Data set layout: labels.csv reading (strict) and writing, seeded splits, output staging, and the
 * FSDKaggle2019 importer. */
#include "advinst/dataset.h"
#include "advinst/audio.h"
#include "advinst/error.h"
#include "advinst/outfile.h"
#include "advinst/progress.h"
#include "advinst/resample.h"
#include "advinst/rng.h"
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const adv_fsd_class_names[ADV_N_CLASSES] = {
    "Accordion", "Acoustic_guitar", "Bass_drum", "Bass_guitar", "Electric_guitar", "Female_singing",
    "Glockenspiel", "Gong", "Harmonica", "Hi-hat", "Male_singing", "Marimba_and_xylophone"};

int adv_fsd_class_index(const char *label)
{
    for (int c = 0; c < ADV_N_CLASSES; c++)
        if (strcmp(label, adv_fsd_class_names[c]) == 0) return c;
    return -1;
}

void adv_dataset_init(adv_dataset *ds) { memset(ds, 0, sizeof *ds); }

void adv_dataset_free(adv_dataset *ds)
{
    for (long i = 0; i < ds->count; i++) free(ds->entries[i].fname);
    free(ds->entries);
    free(ds->dir);
    memset(ds, 0, sizeof *ds);
}

int adv_dataset_add(adv_dataset *ds, const char *fname, int label, adv_split split)
{
    if (ds->count == ds->capacity) {
        long cap = ds->capacity ? 2 * ds->capacity : 256;
        adv_dataset_entry *e = realloc(ds->entries, (size_t)cap * sizeof *e);
        if (!e) return adv_fail("out of memory");
        ds->entries = e;
        ds->capacity = cap;
    }
    char *copy = strdup(fname);
    if (!copy) return adv_fail("out of memory");
    ds->entries[ds->count++] = (adv_dataset_entry){copy, label, split};
    return 0;
}

char *adv_dataset_audio_path(const adv_dataset *ds, long i)
{
    char *p = NULL;
    if (asprintf(&p, "%s%s/%s", ds->dir ? ds->dir : ".", ds->flat ? "" : "/audio", ds->entries[i].fname) < 0) return NULL;
    return p;
}

long adv_dataset_split_indices(const adv_dataset *ds, adv_split split, long *idx)
{
    long n = 0;
    for (long i = 0; i < ds->count; i++)
        if (ds->entries[i].split == split) {
            if (idx) idx[n] = i;
            n++;
        }
    return n;
}

void adv_dataset_counts(const adv_dataset *ds, long counts[ADV_N_CLASSES][2])
{
    memset(counts, 0, sizeof(long) * ADV_N_CLASSES * 2);
    for (long i = 0; i < ds->count; i++) counts[ds->entries[i].label][ds->entries[i].split]++;
}

/* ---- CSV ---------------------------------------------------------------------------------- */

/* Reads one line (any length) without its "\n" / "\r\n"; returns its length or -1 at EOF. */
static long read_line(FILE *f, char **buf, size_t *cap)
{
    ssize_t n = getline(buf, cap, f);
    if (n < 0) return -1;
    while (n > 0 && ((*buf)[n - 1] == '\n' || (*buf)[n - 1] == '\r')) (*buf)[--n] = 0;
    return n;
}

/* Splits a CSV line in place into at most max fields (RFC 4180 quotes, "" inside quotes is a quote).
 * Returns the number of fields, or -1 for an unterminated quote / text after a closing quote. */
static int split_csv(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        char *out = p, *start = p;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == 0) return -1;
                if (*p == '"') {
                    if (p[1] == '"') { *out++ = '"'; p += 2; continue; }
                    p++;
                    break;
                }
                *out++ = *p++;
            }
            if (*p != ',' && *p != 0) return -1;
        } else {
            while (*p && *p != ',') {
                if (*p == '"') return -1;
                *out++ = *p++;
            }
        }
        char sep = *p;
        *out = 0;
        if (n < max) fields[n] = start;
        n++;
        if (sep == 0) break;
        p++;
    }
    return n;
}

static int valid_fname(const char *s)
{
    if (!*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) return 0;
    for (; *s; s++)
        if (*s == '/' || *s == '\\' || (unsigned char)*s < 32) return 0;
    return 1;
}

/* Open-addressing set of strings, to find duplicate names in O(n). */
typedef struct {
    const char **slot;
    size_t mask;
} strset;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int strset_init(strset *s, size_t n)
{
    size_t cap = 64;
    while (cap < 2 * n + 2) cap *= 2;
    s->slot = calloc(cap, sizeof *s->slot);
    s->mask = cap - 1;
    return s->slot ? 0 : adv_fail("out of memory");
}

/* Returns 1 if present already, else inserts (the pointer must outlive the set) and returns 0. */
static int strset_add(strset *s, const char *key)
{
    for (size_t i = hash_str(key) & s->mask;; i = (i + 1) & s->mask) {
        if (!s->slot[i]) { s->slot[i] = key; return 0; }
        if (strcmp(s->slot[i], key) == 0) return 1;
    }
}

static long count_lines(FILE *f)
{
    long n = 0;
    int c;
    while ((c = getc(f)) != EOF) n += c == '\n';
    rewind(f);
    return n + 1;
}

int adv_dataset_load_csv(const char *csv_path, const char *audio_dir, adv_dataset *ds)
{
    adv_dataset_init(ds);
    FILE *f = fopen(csv_path, "r");
    if (!f) return adv_fail("%s: cannot open: %s", csv_path, strerror(errno));
    int rc = adv_dataset_read_csv(f, csv_path, audio_dir, ds);
    fclose(f);
    return rc;
}

int adv_dataset_read_csv(FILE *f, const char *csv_path, const char *audio_dir, adv_dataset *ds)
{
    adv_dataset_init(ds);
    strset seen = {0};
    char *line = NULL, *path = NULL;
    size_t cap = 0;
    int rc = -1;
    long lineno = 1;
    if (strset_init(&seen, (size_t)count_lines(f)) < 0) goto done;
    if (read_line(f, &line, &cap) < 0) {
        adv_fail("%s: empty file (expected header \"fname,label,split\")", csv_path);
        goto done;
    }
    const char *hdr = strncmp(line, "\xEF\xBB\xBF", 3) == 0 ? line + 3 : line;
    int ncol = strcmp(hdr, "fname,label,split") == 0 ? 3 : strcmp(hdr, "fname,label") == 0 ? 2 : 0;
    if (!ncol) {
        adv_fail("%s:1: bad header \"%.60s\" (expected \"fname,label,split\" or \"fname,label\")", csv_path, line);
        goto done;
    }
    ds->flat = ncol == 2;
    long len;
    int blank_at = 0;
    while ((len = read_line(f, &line, &cap)) >= 0) {
        lineno++;
        if (len == 0) { if (!blank_at) blank_at = (int)lineno; continue; }
        if (blank_at) {
            adv_fail("%s:%d: empty line inside the table", csv_path, blank_at);
            goto done;
        }
        char *fld[3];
        int nf = split_csv(line, fld, 3);
        if (nf < 0) { adv_fail("%s:%ld: malformed quoting", csv_path, lineno); goto done; }
        if (nf != ncol) {
            adv_fail("%s:%ld: %d columns, expected %s", csv_path, lineno, nf, ncol == 3 ? "3 (fname,label,split)" : "2 (fname,label)");
            goto done;
        }
        if (!valid_fname(fld[0])) {
            adv_fail("%s:%ld: invalid fname \"%.60s\" (empty or contains '/')", csv_path, lineno, fld[0]);
            goto done;
        }
        int label = adv_class_index(fld[1]);
        if (label < 0 && ncol == 2) label = adv_fsd_class_index(fld[1]);   /* FSDKaggle2019 spelling */
        if (label < 0) {
            adv_fail("%s:%ld: unknown label \"%.60s\"", csv_path, lineno, fld[1]);
            goto done;
        }
        adv_split split;
        if (ncol == 2) split = ADV_SPLIT_VALID;
        else if (strcmp(fld[2], "train") == 0) split = ADV_SPLIT_TRAIN;
        else if (strcmp(fld[2], "valid") == 0) split = ADV_SPLIT_VALID;
        else {
            adv_fail("%s:%ld: unknown split \"%.60s\" (expected train or valid)", csv_path, lineno, fld[2]);
            goto done;
        }
        if (audio_dir) {
            struct stat st;
            free(path);
            path = NULL;
            if (asprintf(&path, "%s/%s", audio_dir, fld[0]) < 0) { adv_fail("out of memory"); goto done; }
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
                adv_fail("%s:%ld: audio file %s is missing", csv_path, lineno, path);
                goto done;
            }
            if (st.st_size == 0) {
                adv_fail("%s:%ld: audio file %s is empty", csv_path, lineno, path);
                goto done;
            }
        }
        if (adv_dataset_add(ds, fld[0], label, split) < 0) goto done;
        if (strset_add(&seen, ds->entries[ds->count - 1].fname)) {
            adv_fail("%s:%ld: duplicate fname \"%.60s\"", csv_path, lineno, fld[0]);
            goto done;
        }
    }
    if (ferror(f)) { adv_fail("%s: read error", csv_path); goto done; }
    if (ds->count == 0) { adv_fail("%s: no rows after the header", csv_path); goto done; }
    rc = 0;
done:
    free(seen.slot);
    free(line);
    free(path);
    if (rc < 0) adv_dataset_free(ds);
    return rc;
}

/* 1 if the file's first line is the two-column header of a flat folder (audio beside it). */
static int flat_header(const char *csv)
{
    FILE *f = fopen(csv, "r");
    char line[64] = "";
    if (!f) return 0;
    if (!fgets(line, sizeof line, f)) line[0] = 0;
    fclose(f);
    const char *h = strncmp(line, "\xEF\xBB\xBF", 3) == 0 ? line + 3 : line;
    return strcmp(h, "fname,label\n") == 0 || strcmp(h, "fname,label\r\n") == 0 || strcmp(h, "fname,label") == 0;
}

int adv_dataset_load(const char *dir, adv_dataset *ds)
{
    char *csv = NULL, *audio = NULL;
    if (asprintf(&csv, "%s/labels.csv", dir) < 0) return adv_fail("out of memory");
    if ((flat_header(csv) ? asprintf(&audio, "%s", dir) : asprintf(&audio, "%s/audio", dir)) < 0) {
        free(csv);
        return adv_fail("out of memory");
    }
    int rc = adv_dataset_load_csv(csv, audio, ds);
    free(csv);
    free(audio);
    if (rc == 0 && !(ds->dir = strdup(dir))) {
        adv_dataset_free(ds);
        return adv_fail("out of memory");
    }
    return rc;
}

/* One CSV field, quoted (RFC 4180) when it holds a comma or a quote, so split_csv reads it back. */
static void write_csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int adv_dataset_write_labels(const char *csv_path, const adv_dataset *ds)
{
    adv_outfile *out = adv_outfile_open(csv_path, ADV_OUTFILE_REPLACE);
    if (!out) return -1;
    FILE *f = adv_outfile_stream(out);
    if (f) {
        fputs("fname,label,split\n", f);
        for (long i = 0; i < ds->count; i++) {
            write_csv_field(f, ds->entries[i].fname);
            fprintf(f, ",%s,%s\n", adv_class_names[ds->entries[i].label],
                    ds->entries[i].split == ADV_SPLIT_TRAIN ? "train" : "valid");
        }
    }
    return adv_outfile_commit(out);   /* fails after any write error */
}

/* ---- splits ------------------------------------------------------------------------------- */

/* Fisher-Yates shuffle of idx[n] driven by the splitmix64 state. */
static void shuffle(long *idx, long n, uint64_t *state)
{
    for (long i = n - 1; i > 0; i--) {
        long j = (long)(adv_rng_next(state) % (uint64_t)(i + 1));
        long t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

void adv_dataset_assign_split(adv_dataset *ds, uint64_t seed, int stratified)
{
    long *idx = malloc((size_t)(ds->count > 0 ? ds->count : 1) * sizeof *idx);
    if (!idx) return;
    uint64_t state = seed ^ 0x5EED5B117ull;
    if (!stratified) {
        for (long i = 0; i < ds->count; i++) idx[i] = i;
        shuffle(idx, ds->count, &state);
        long n_train = lround(0.75 * (double)ds->count);
        for (long k = 0; k < ds->count; k++)
            ds->entries[idx[k]].split = k < n_train ? ADV_SPLIT_TRAIN : ADV_SPLIT_VALID;
    } else {
        for (int c = 0; c < ADV_N_CLASSES; c++) {
            long n = 0;
            for (long i = 0; i < ds->count; i++)
                if (ds->entries[i].label == c) idx[n++] = i;
            shuffle(idx, n, &state);
            long n_valid = lround(0.25 * (double)n);
            if (n_valid == 0 && n >= 2) n_valid = 1;
            for (long k = 0; k < n; k++)
                ds->entries[idx[k]].split = k < n_valid ? ADV_SPLIT_VALID : ADV_SPLIT_TRAIN;
        }
    }
    free(idx);
}

/* ---- output staging ----------------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

static void remove_tree(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* 1: missing or an empty directory; 0: a non-empty directory or not a directory. */
static int dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return errno == ENOENT;
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) empty = 0;
    closedir(d);
    return empty;
}

int adv_dataset_stage_open(const char *out_dir, int force, char **stage_dir)
{
    *stage_dir = NULL;
    struct stat st;
    if (stat(out_dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return adv_fail("%s exists and is not a directory", out_dir);
        if (!force && !dir_is_empty(out_dir))
            return adv_fail("%s exists and is not empty (use --force to replace it)", out_dir);
    }
    size_t len = strlen(out_dir);
    while (len > 1 && out_dir[len - 1] == '/') len--;
    char *tmp = NULL, *audio = NULL;
    if (asprintf(&tmp, "%.*s.tmp-XXXXXX", (int)len, out_dir) < 0) return adv_fail("out of memory");
    if (!mkdtemp(tmp)) {
        adv_fail("cannot create a directory beside %s: %s", out_dir, strerror(errno));
        free(tmp);
        return -1;
    }
    if (asprintf(&audio, "%s/audio", tmp) < 0 || mkdir(audio, 0755) != 0 || chmod(tmp, 0755) != 0) {
        adv_fail("cannot create %s/audio: %s", tmp, strerror(errno));
        free(audio);
        remove_tree(tmp);
        free(tmp);
        return -1;
    }
    free(audio);
    *stage_dir = tmp;
    return 0;
}

int adv_dataset_stage_commit(const char *stage_dir, const char *out_dir)
{
    struct stat st;
    char *old = NULL;
    if (stat(out_dir, &st) == 0) {
        /* An empty directory can be replaced by rename directly; a full one is moved aside first. */
        if (rmdir(out_dir) != 0) {
            if (asprintf(&old, "%s.old-XXXXXX", stage_dir) < 0 || !mkdtemp(old) || rmdir(old) != 0 ||
                rename(out_dir, old) != 0) {
                adv_fail("cannot move the old %s aside: %s", out_dir, strerror(errno));
                free(old);
                return -1;
            }
        }
    }
    if (rename(stage_dir, out_dir) != 0) {
        adv_fail("cannot rename %s to %s: %s", stage_dir, out_dir, strerror(errno));
        if (old) rename(old, out_dir);
        free(old);
        return -1;
    }
    if (old) remove_tree(old);
    free(old);
    return 0;
}

void adv_dataset_stage_abort(const char *stage_dir)
{
    if (stage_dir) remove_tree(stage_dir);
}

/* ---- FSDKaggle2019 ------------------------------------------------------------------------ */

void adv_fsd_clips_free(adv_fsd_clip *clips, long count)
{
    for (long i = 0; i < count; i++) free(clips[i].fname);
    free(clips);
}

int adv_fsd_parse_csv(const char *csv_path, adv_fsd_clip **clips_out, long *count_out)
{
    *clips_out = NULL;
    *count_out = 0;
    FILE *f = fopen(csv_path, "r");
    if (!f) return adv_fail("%s: cannot open: %s", csv_path, strerror(errno));
    int rc = adv_fsd_read_csv(f, csv_path, clips_out, count_out);
    fclose(f);
    return rc;
}

int adv_fsd_read_csv(FILE *f, const char *csv_path, adv_fsd_clip **clips_out, long *count_out)
{
    *clips_out = NULL;
    *count_out = 0;
    enum { MAXF = 64 };
    char *line = NULL, *fld[MAXF];
    size_t cap = 0;
    long lineno = 1, n = 0, n_cap = 0;
    adv_fsd_clip *clips = NULL;
    char **names = NULL;   /* every fname seen (kept or not), for the duplicate check */
    long n_names = 0;
    strset seen = {0};
    int rc = -1, ncols;
    if (strset_init(&seen, (size_t)count_lines(f)) < 0) goto done;
    names = calloc((size_t)count_lines(f), sizeof *names);
    if (!names) { adv_fail("out of memory"); goto done; }
    if (read_line(f, &line, &cap) < 0) { adv_fail("%s: empty file", csv_path); goto done; }
    char *hdr = line;
    if (strncmp(hdr, "\xEF\xBB\xBF", 3) == 0) hdr += 3;
    ncols = split_csv(hdr, fld, MAXF);
    if (ncols < 2 || ncols > MAXF || strcmp(fld[0], "fname") != 0 || strcmp(fld[1], "labels") != 0) {
        adv_fail("%s:1: bad header (expected it to start with \"fname,labels\")", csv_path);
        goto done;
    }
    long len;
    while ((len = read_line(f, &line, &cap)) >= 0) {
        lineno++;
        if (len == 0) continue;
        int nf = split_csv(line, fld, MAXF);
        if (nf < 0) { adv_fail("%s:%ld: malformed quoting", csv_path, lineno); goto done; }
        if (nf != ncols) {
            adv_fail("%s:%ld: %d columns, the header has %d (quote a label list with commas)", csv_path,
                     lineno, nf, ncols);
            goto done;
        }
        if (!valid_fname(fld[0])) {
            adv_fail("%s:%ld: invalid fname \"%.60s\"", csv_path, lineno, fld[0]);
            goto done;
        }
        if (fld[1][0] == 0) { adv_fail("%s:%ld: empty label list", csv_path, lineno); goto done; }
        if (!(names[n_names] = strdup(fld[0]))) { adv_fail("out of memory"); goto done; }
        if (strset_add(&seen, names[n_names++])) {
            adv_fail("%s:%ld: duplicate fname \"%.60s\"", csv_path, lineno, fld[0]);
            goto done;
        }
        int hits = 0, label = -1;
        for (char *rest = fld[1], *tok; (tok = strsep(&rest, ","));) {
            while (*tok == ' ') tok++;
            if (*tok == 0) { adv_fail("%s:%ld: empty label in the list", csv_path, lineno); goto done; }
            int c = adv_fsd_class_index(tok);
            if (c >= 0 && c != label) { hits++; label = c; }
        }
        if (hits != 1) continue;
        if (n == n_cap) {
            n_cap = n_cap ? 2 * n_cap : 256;
            adv_fsd_clip *c = realloc(clips, (size_t)n_cap * sizeof *c);
            if (!c) { adv_fail("out of memory"); goto done; }
            clips = c;
        }
        if (!(clips[n].fname = strdup(fld[0]))) { adv_fail("out of memory"); goto done; }
        clips[n++].label = label;
    }
    rc = 0;
done:
    for (long i = 0; i < n_names; i++) free(names[i]);
    free(names);
    free(seen.slot);
    free(line);
    if (rc < 0) { adv_fsd_clips_free(clips, n); return -1; }
    *clips_out = clips;
    *count_out = n;
    return 0;
}

/* Reads one file, mixes to mono, resamples to 16 kHz and writes it as 16-bit WAV.
 * Returns 0, ADV_EXIT_INPUT (unreadable source) or ADV_EXIT_OUTPUT. */
static int import_one(const char *src, const char *dst)
{
    adv_audio in = {0}, out = {0};
    if (adv_audio_read(src, &in) < 0) return ADV_EXIT_INPUT;
    float *mono = malloc((size_t)in.frames * sizeof *mono);
    if (!mono) { adv_audio_free(&in); adv_fail("out of memory"); return ADV_EXIT_OUTPUT; }
    adv_audio_mix_mono(&in, mono);
    int rc = ADV_EXIT_OUTPUT;
    adv_resampler *r = adv_resampler_create(in.rate, 16000, in.frames);
    if (r && adv_audio_alloc(&out, adv_resampler_output_length(r), 1, 16000,
                             SF_FORMAT_WAV | SF_FORMAT_PCM_16) == 0) {
        adv_resampler_forward(r, mono, out.samples);
        rc = adv_audio_write(dst, &out) == 0 ? 0 : ADV_EXIT_OUTPUT;
    }
    adv_resampler_free(r);
    adv_audio_free(&out);
    adv_audio_free(&in);
    free(mono);
    return rc;
}

int adv_dataset_import_fsdkaggle(const char *csv_path, const char *audio_dir, const char *out_dir,
                                 uint64_t seed, int force, int progress)
{
    adv_fsd_clip *clips;
    long n;
    if (adv_fsd_parse_csv(csv_path, &clips, &n) < 0) return ADV_EXIT_INPUT;
    if (n == 0) {
        adv_fsd_clips_free(clips, n);
        adv_fail("%s: no clip has exactly one of the 12 labels", csv_path);
        return ADV_EXIT_INPUT;
    }
    char *stage = NULL, *src = NULL, *dst = NULL;
    int rc = ADV_EXIT_OUTPUT;
    adv_dataset ds;
    adv_dataset_init(&ds);
    if (adv_dataset_stage_open(out_dir, force, &stage) < 0) goto done;
    adv_progress bar;
    if (progress) adv_progress_start(&bar, "import", n);
    for (long i = 0; i < n; i++) {
        free(src);
        free(dst);
        src = dst = NULL;
        if (asprintf(&src, "%s/%s", audio_dir, clips[i].fname) < 0 ||
            asprintf(&dst, "%s/audio/%s", stage, clips[i].fname) < 0) {
            adv_fail("out of memory");
            goto done;
        }
        if (access(src, R_OK) != 0) {
            adv_fail("%s: %s (listed in %s)", src, strerror(errno), csv_path);
            rc = ADV_EXIT_INPUT;
            goto done;
        }
        int one = import_one(src, dst);
        if (one) { rc = one; goto done; }
        if (adv_dataset_add(&ds, clips[i].fname, clips[i].label, ADV_SPLIT_TRAIN) < 0) goto done;
        if (progress) adv_progress_update(&bar, i + 1, NULL);
    }
    if (progress) adv_progress_finish(&bar);
    adv_dataset_assign_split(&ds, seed, 0);
    free(dst);
    dst = NULL;
    if (asprintf(&dst, "%s/labels.csv", stage) < 0) { adv_fail("out of memory"); goto done; }
    if (adv_dataset_write_labels(dst, &ds) < 0) goto done;
    if (adv_dataset_stage_commit(stage, out_dir) < 0) goto done;
    free(stage);
    stage = NULL;
    rc = 0;
done:
    if (stage) { adv_dataset_stage_abort(stage); free(stage); }
    free(src);
    free(dst);
    adv_dataset_free(&ds);
    adv_fsd_clips_free(clips, n);
    return rc;
}
