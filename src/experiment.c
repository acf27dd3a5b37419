/* Experiments reproducing the paper's Table 1: runs, statistics, report (see experiment.h). */
#include "advinst/experiment.h"
#include "advinst/audio.h"
#include "advinst/blas.h"
#include "advinst/classifier.h"
#include "advinst/error.h"
#include "advinst/paths.h"
#include "advinst/outfile.h"
#include "advinst/nn.h"
#include "advinst/preset.h"
#include "advinst/progress.h"
#include "advinst/stats.h"
#include "advinst/train.h"
#include "advinst/plot.h"
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOISE_SALT 0x6e6f697365212121ULL
#define MAX_GRID_KEYS 4
#define MAX_GRID_VALUES 64
#define MAX_SETTINGS 10000

/* ------------------------------------------------------------------ settings */

static const char *const grid_keys[MAX_GRID_KEYS] = {"eps", "alpha", "lr", "max_iter"};

static int grid_key(const char *k)
{
    for (int i = 0; i < MAX_GRID_KEYS; i++)
        if (!strcmp(k, grid_keys[i])) return i;
    if (!strcmp(k, "eta")) return 2;
    if (!strcmp(k, "max-iter")) return 3;
    return -1;
}

static void set_param(adv_attack_params *p, int key, double v)
{
    switch (key) {
    case 0: p->eps = (float)v; break;
    case 1: p->alpha = (float)v; break;
    case 2: p->lr = (float)v; break;
    default: p->max_iter = (long)v; break;
    }
}

/* "eps 0.01, alpha 0.1, eta 1e-05" (what the method uses), plus the fixed target and max_iter. */
static void params_text(const adv_attack_params *p, const adv_model *m, char *buf, size_t size)
{
    size_t u = 0;
    u += (size_t)snprintf(buf + u, size - u, "eps %g", p->eps);
    if (adv_attack_method_targeted(p->method)) u += (size_t)snprintf(buf + u, size - u, ", alpha %g", p->alpha);
    if (p->method != ADV_FGSM && u < size) u += (size_t)snprintf(buf + u, size - u, ", eta %g", p->lr);
    if (p->method != ADV_FGSM && p->max_iter != 500 && u < size)
        u += (size_t)snprintf(buf + u, size - u, ", max %ld iterations", p->max_iter);
    if (m && p->target >= 0 && u < size) snprintf(buf + u, size - u, ", target %s", m->classes[p->target]);
}

int adv_exp_parse_grid(const char *spec, const adv_attack_params *base, adv_exp_setting **out, int *n)
{
    *out = NULL;
    *n = 0;
    int keys[MAX_GRID_KEYS], nkeys = 0, nvals[MAX_GRID_KEYS] = {0};
    double vals[MAX_GRID_KEYS][MAX_GRID_VALUES];
    char *copy = strdup(spec ? spec : "");
    if (!copy) return adv_fail("out of memory");
    char *save1 = NULL;
    for (char *part = strtok_r(copy, ";", &save1); part; part = strtok_r(NULL, ";", &save1)) {
        while (*part == ' ') part++;
        if (!*part) continue;
        char *eq = strchr(part, '=');
        if (!eq) { adv_fail("grid: '%s' is not key=value,value,...", part); free(copy); return -1; }
        *eq = '\0';
        char *k = part, *end = eq;
        while (end > k && end[-1] == ' ') *--end = '\0';
        int key = grid_key(k);
        if (key < 0) { adv_fail("grid: unknown key '%s' (valid: eps, alpha, lr, max_iter)", k); free(copy); return -1; }
        for (int i = 0; i < nkeys; i++)
            if (keys[i] == key) { adv_fail("grid: key '%s' given twice", k); free(copy); return -1; }
        if (nkeys == MAX_GRID_KEYS) { adv_fail("grid: too many keys"); free(copy); return -1; }
        int ki = nkeys++;
        keys[ki] = key;
        char *save2 = NULL;
        for (char *v = strtok_r(eq + 1, ",", &save2); v; v = strtok_r(NULL, ",", &save2)) {
            while (*v == ' ') v++;
            char *e;
            errno = 0;
            double x = strtod(v, &e);
            while (*e == ' ') e++;
            int bad = !*v || *e || errno || !isfinite(x) || x < 0 || (key == 2 && x <= 0) ||
                      (key == 3 && (x < 1 || x != floor(x) || x > 1e9));
            if (bad) {
                adv_fail("grid: %s=%s: expected %s", grid_keys[key], v,
                         key == 3 ? "a whole number >= 1" : key == 2 ? "a number > 0" : "a number >= 0");
                free(copy);
                return -1;
            }
            if (nvals[ki] == MAX_GRID_VALUES) { adv_fail("grid: too many values for %s", grid_keys[key]); free(copy); return -1; }
            vals[ki][nvals[ki]++] = x;
        }
        if (!nvals[ki]) { adv_fail("grid: no values for %s", grid_keys[key]); free(copy); return -1; }
    }
    free(copy);
    long total = 1;
    for (int i = 0; i < nkeys; i++) {
        total *= nvals[i];
        if (total > MAX_SETTINGS) return adv_fail("grid: more than %d settings", MAX_SETTINGS);
    }
    adv_exp_setting *s = calloc((size_t)total, sizeof *s);
    if (!s) return adv_fail("out of memory");
    for (long j = 0; j < total; j++) {
        s[j].params = *base;
        long rest = j;
        int pos[MAX_GRID_KEYS];
        for (int i = nkeys - 1; i >= 0; i--) { pos[i] = (int)(rest % nvals[i]); rest /= nvals[i]; }
        size_t u = 0;
        for (int i = 0; i < nkeys; i++) {
            set_param(&s[j].params, keys[i], vals[i][pos[i]]);
            if (u < sizeof s[j].label)
                u += (size_t)snprintf(s[j].label + u, sizeof s[j].label - u, "%s%s=%g", i ? " " : "",
                                      grid_keys[keys[i]], vals[i][pos[i]]);
        }
        if (!nkeys) {
            const adv_attack_params *p = base;
            u = (size_t)snprintf(s[j].label, sizeof s[j].label, "eps=%g", p->eps);
            if (adv_attack_method_targeted(p->method))
                u += (size_t)snprintf(s[j].label + u, sizeof s[j].label - u, " alpha=%g", p->alpha);
            if (p->method != ADV_FGSM && u < sizeof s[j].label)
                u += (size_t)snprintf(s[j].label + u, sizeof s[j].label - u, " lr=%g", p->lr);
            if (p->method != ADV_FGSM && p->max_iter != 500 && u < sizeof s[j].label)
                snprintf(s[j].label + u, sizeof s[j].label - u, " max_iter=%ld", p->max_iter);
        }
    }
    *out = s;
    *n = (int)total;
    return 0;
}

/* The paper's figures (Table 1 and the section on a fixed target), per preset. */
typedef struct {
    const char *preset, *row, *method;
    double adv, acc, snr, iter, conf;
} paper_row;

static const paper_row paper_rows[ADV_EXP_TABLE1_ROWS] = {
    {"fgsm-150", ">=150", "FGSM", 153, 0.250, -7.74, 1, 0.72},
    {"pgdn-150", ">=150", "PGDn", 151.8, 0.171, 40.13, 15.8, 0.55},
    {"cw-150", ">=150", "C&W", 153.2, 0.201, 44.23, 51.4, 0.45},
    {"mscw-150", ">=150", "MS-C&W", 163.6, 0.167, 43.82, 71.6, 0.44},
    {"fgsm-180", ">=180", "FGSM", 179, 0.130, -24.83, 1, 0.86},
    {"pgdn-180", ">=180", "PGDn", 190.8, 0.026, 16.47, 2.0, 0.74},
    {"cw-180", ">=180", "C&W", 180.2, 0.094, 42.98, 66.1, 0.44},
    {"mscw-180", ">=180", "MS-C&W", 196.4, 0.024, 39.49, 22.6, 0.49},
    {"cw-accordion", "accordion", "C&W", 196, NAN, 37.41, 29, NAN},
    {"mscw-accordion", "accordion", "MS-C&W", 193, NAN, 37.57, 33, NAN},
};
#define PAPER_CLEAN_ACC 0.835
#define PAPER_CLEAN_CONF 0.934
#define PAPER_NOISE_SNR 42.16
#define PAPER_NOISE_ACC 0.79

int adv_exp_table1_settings(const adv_model *m, adv_exp_setting out[ADV_EXP_TABLE1_ROWS])
{
    for (int i = 0; i < ADV_EXP_TABLE1_ROWS; i++) {
        adv_preset pr;
        if (adv_preset_load(paper_rows[i].preset, &pr) != 0) return -1;
        adv_exp_setting *s = &out[i];
        memset(s, 0, sizeof *s);
        snprintf(s->label, sizeof s->label, "%s", paper_rows[i].preset);
        adv_attack_defaults(pr.method, &s->params);
        adv_preset_apply(&pr, &s->params);
        if (adv_attack_method_targeted(pr.method)) {
            s->params.target = ADV_TARGET_RANDOM;
            if (pr.has & ADV_PRESET_HAS_TARGET) {
                s->params.target = adv_attack_target_parse(m, pr.target, 0);
                if (s->params.target == ADV_TARGET_INVALID)
                    return adv_fail("%s: unknown target class '%s'", pr.path, pr.target);
            }
        } else {
            s->params.target = ADV_TARGET_NONE;
        }
    }
    return 0;
}

int adv_exp_choose(const double *mean_snr_db, const double *mean_adv, int n, double require)
{
    int best = -1;
    for (int i = 0; i < n; i++)
        if (mean_adv[i] >= require && !isnan(mean_snr_db[i]) && (best < 0 || mean_snr_db[i] > mean_snr_db[best]))
            best = i;
    return best;
}

uint64_t adv_exp_clip_seed(uint64_t seed, int run, const char *fname)
{
    uint64_t h = 1469598103934665603ULL;   /* FNV-1a of the name */
    for (const unsigned char *c = (const unsigned char *)fname; *c; c++) h = (h ^ *c) * 1099511628211ULL;
    uint64_t st = seed ^ h ^ ((uint64_t)(run + 1) * 0xD1B54A32D192ED03ULL);
    adv_rng_next(&st);
    return adv_rng_next(&st);
}

int adv_exp_add_noise(const float *x, long len, double snr_db, uint64_t *rng, float *out)
{
    long lo, hi;
    adv_snr_window(len, &lo, &hi);
    double sx = 0, sn = 0;
    for (long i = 0; i < len; i++) out[i] = adv_rng_normal(rng);
    for (long i = lo; i < hi; i++) {
        sx += (double)x[i] * x[i];
        sn += (double)out[i] * out[i];
    }
    if (!(sx > 0) || !(sn > 0)) {
        memcpy(out, x, sizeof(float) * (size_t)len);
        return -1;
    }
    double g = sqrt(sx / sn) * pow(10.0, -snr_db / 20.0);
    for (long i = 0; i < len; i++) out[i] = (float)(x[i] + g * out[i]);
    return 0;
}

/* Deterministic settings run once: FGSM, and targeted attacks with a fixed target. */
static int setting_runs(const adv_attack_params *p, int runs)
{
    if (p->method == ADV_FGSM) return 1;
    if (adv_attack_method_targeted(p->method) && p->target >= 0) return 1;
    return runs;
}

/* ------------------------------------------------------------------ clips */

typedef struct {
    long count;
    char **name;
    int *label;
    adv_audio *audio;
    long *order;   /* longest first, so the workers finish together */
} clipset;

static void clipset_free(clipset *cs)
{
    for (long i = 0; i < cs->count; i++) {
        free(cs->name[i]);
        adv_audio_free(&cs->audio[i]);
    }
    free(cs->name);
    free(cs->label);
    free(cs->audio);
    free(cs->order);
    memset(cs, 0, sizeof *cs);
}

static int cmp_length(const void *a, const void *b, void *arg)
{
    const clipset *cs = arg;
    long i = *(const long *)a, j = *(const long *)b;
    long fi = cs->audio[i].frames, fj = cs->audio[j].frames;
    if (fi != fj) return fi > fj ? -1 : 1;
    return (i > j) - (i < j);
}

static int clipset_load(const char *dir, adv_split split, long max_clips, clipset *cs)
{
    memset(cs, 0, sizeof *cs);
    adv_dataset ds;
    if (adv_dataset_load(dir, &ds) != 0) return -1;
    long n = adv_dataset_split_indices(&ds, split, NULL);
    long *idx = malloc(sizeof *idx * (size_t)(n ? n : 1));
    if (!idx) { adv_dataset_free(&ds); return adv_fail("out of memory"); }
    adv_dataset_split_indices(&ds, split, idx);
    if (max_clips > 0 && n > max_clips) n = max_clips;
    if (n == 0) {
        free(idx);
        adv_dataset_free(&ds);
        return adv_fail("%s: no clips in the %s split", dir, split == ADV_SPLIT_VALID ? "valid" : "train");
    }
    cs->name = calloc((size_t)n, sizeof *cs->name);
    cs->label = calloc((size_t)n, sizeof *cs->label);
    cs->audio = calloc((size_t)n, sizeof *cs->audio);
    cs->order = calloc((size_t)n, sizeof *cs->order);
    int rc = 0;
    if (!cs->name || !cs->label || !cs->audio || !cs->order) rc = adv_fail("out of memory");
    for (long i = 0; i < n && rc == 0; i++) {
        const adv_dataset_entry *e = &ds.entries[idx[i]];
        char *path = adv_dataset_audio_path(&ds, idx[i]);
        cs->count = i + 1;
        cs->name[i] = strdup(e->fname);
        cs->label[i] = e->label;
        cs->order[i] = i;
        if (!path || !cs->name[i]) rc = adv_fail("out of memory");
        else if (adv_audio_read(path, &cs->audio[i]) != 0) rc = -1;
        else if (cs->audio[i].frames < adv_classifier_min_samples(cs->audio[i].rate))
            rc = adv_fail("%s: too short to classify (%ld samples)", path, cs->audio[i].frames);
        free(path);
    }
    free(idx);
    adv_dataset_free(&ds);
    if (rc != 0) { clipset_free(cs); return -1; }
    qsort_r(cs->order, (size_t)cs->count, sizeof *cs->order, cmp_length, cs);
    return 0;
}

/* ------------------------------------------------------------------ the runs */

typedef struct {   /* one clip in one run of one setting (or of the noise) */
    adv_attack_status status;
    int success;
    long iterations;
    double snr_db;
    int target, before_class, after_class;
    float before_confidence, after_confidence;
    double seconds;
} clip_result;

typedef struct {
    const adv_exp_config *cfg;
    const clipset *cs;
    const adv_exp_setting *settings;
    int n_settings;
    const int *runs;
    int max_runs, need_ms;
    clip_result *res;            /* [(setting * max_runs + run) * clips + clip] */
    int *clean_pred;
    float *clean_conf;
    int phase;                   /* 0: clean pass and attacks; 1: white noise */
    double noise_snr;
    int noise_runs;
    clip_result *noise;          /* [run * clips + clip] */
    const char *audio_root;      /* keep-audio: stage/audio, else NULL */
    char (*slug)[ADV_EXP_LABEL_MAX];
    atomic_long next;
    atomic_int *cancel;
    pthread_mutex_t lock;
    adv_progress progress;
    long done;
    int failed;                  /* 0, or the exit code of the first failure */
    char error[1024];
} engine;

static clip_result *res_at(const engine *e, int s, int r, long c)
{
    return &e->res[((size_t)s * e->max_runs + r) * e->cs->count + c];
}

/* Stops all workers; the first failure's message and exit code (ADV_EXIT_*) are kept. */
static void engine_fail(engine *e, int code, const char *msg)
{
    pthread_mutex_lock(&e->lock);
    if (!e->failed) {
        e->failed = code;
        snprintf(e->error, sizeof e->error, "%s", msg);
    }
    pthread_mutex_unlock(&e->lock);
    atomic_store(e->cancel, 1);
}

static void engine_tick(engine *e, const char *what)
{
    pthread_mutex_lock(&e->lock);
    e->done++;
    adv_progress_update(&e->progress, e->done, what);
    pthread_mutex_unlock(&e->lock);
}

static int grow(float **buf, size_t *cap, size_t n)
{
    if (n <= *cap) return 0;
    float *b = realloc(*buf, sizeof(float) * n);
    if (!b) return -1;
    *buf = b;
    *cap = n;
    return 0;
}

static void *worker(void *arg)
{
    engine *e = arg;
    const clipset *cs = e->cs;
    adv_blas_set_threads(1);   /* each worker's math single-threaded: the workers share the cores */
    adv_attack_ws *ws = NULL;
    float *out = NULL, *mono = NULL, *noisy = NULL;
    size_t out_cap = 0, mono_cap = 0, noisy_cap = 0;
    while (!atomic_load(e->cancel)) {
        long i = atomic_fetch_add(&e->next, 1);
        if (i >= cs->count) break;
        long c = cs->order[i];
        const adv_audio *a = &cs->audio[c];
        if (grow(&out, &out_cap, (size_t)a->frames * a->channels) || grow(&mono, &mono_cap, (size_t)a->frames) ||
            grow(&noisy, &noisy_cap, (size_t)a->frames)) {
            engine_fail(e, ADV_EXIT_FAILURE, "out of memory");
            break;
        }
        adv_audio_mix_mono(a, mono);
        adv_classifier *clf = adv_classifier_create(e->cfg->model, a->rate, a->frames);
        if (!clf) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s: %s", cs->name[c], adv_error());
            engine_fail(e, ADV_EXIT_INPUT, msg);
            break;
        }
        float logits[ADV_N_CLASSES], probs[ADV_N_CLASSES];
        if (e->phase == 0) {
            adv_classifier_forward(clf, mono, logits);
            adv_classifier_probs(clf, logits, probs);
            e->clean_pred[c] = adv_most_likely(probs);
            e->clean_conf[c] = probs[e->clean_pred[c]];
            engine_tick(e, cs->name[c]);
            if (e->n_settings > 0 && ws && (adv_attack_ws_rate(ws) != a->rate || adv_attack_ws_frames(ws) != a->frames ||
                                            adv_attack_ws_channels(ws) != a->channels)) {
                adv_attack_ws_free(ws);
                ws = NULL;
            }
            if (e->n_settings > 0 && !ws &&
                !(ws = adv_attack_ws_create(e->cfg->model, a->rate, a->frames, a->channels, e->need_ms))) {
                char msg[1024];
                snprintf(msg, sizeof msg, "%s: %s", cs->name[c], adv_error());
                engine_fail(e, ADV_EXIT_INPUT, msg);
                adv_classifier_free(clf);
                break;
            }
            for (int s = 0; s < e->n_settings && !atomic_load(e->cancel); s++)
                for (int r = 0; r < e->runs[s] && !atomic_load(e->cancel); r++) {
                    adv_attack_params p = e->settings[s].params;
                    p.seed = adv_exp_clip_seed(e->cfg->seed, r, cs->name[c]);
                    p.cancel = e->cancel;
                    p.callback = NULL;
                    adv_attack_result ar;
                    if (adv_attack_run(ws, &p, a->samples, 0, out, &ar) != 0) {
                        char msg[1024];
                        snprintf(msg, sizeof msg, "%s (%s): %s", cs->name[c], e->settings[s].label, adv_error());
                        engine_fail(e, ADV_EXIT_INPUT, msg);
                        break;
                    }
                    if (ar.status == ADV_ATTACK_CANCELLED) break;
                    clip_result *cr = res_at(e, s, r, c);
                    *cr = (clip_result){ar.status, ar.success, ar.iterations, ar.snr_db, ar.target, ar.before_class,
                                        ar.after_class, ar.before_confidence, ar.after_confidence, ar.seconds};
                    if (e->audio_root) {
                        char path[4096];
                        snprintf(path, sizeof path, "%s/%s/run%d/%s", e->audio_root, e->slug[s], r + 1, cs->name[c]);
                        adv_audio w = {out, a->frames, a->channels, a->rate, 0};
                        if (adv_audio_write(path, &w) != 0) {
                            engine_fail(e, adv_error_exit(ADV_EXIT_FAILURE), adv_error());
                            break;
                        }
                    }
                    engine_tick(e, cs->name[c]);
                }
        } else {
            for (int r = 0; r < e->noise_runs && !atomic_load(e->cancel); r++) {
                uint64_t rng = adv_exp_clip_seed(e->cfg->seed ^ NOISE_SALT, r, cs->name[c]);
                clip_result *cr = &e->noise[(size_t)r * cs->count + c];
                memset(cr, 0, sizeof *cr);
                cr->target = ADV_TARGET_NONE;
                cr->before_class = cr->after_class = e->clean_pred[c];
                cr->before_confidence = cr->after_confidence = e->clean_conf[c];
                if (adv_exp_add_noise(mono, a->frames, e->noise_snr, &rng, noisy) != 0) {
                    cr->status = ADV_ATTACK_SILENT;
                    cr->snr_db = INFINITY;
                } else {
                    adv_classifier_forward(clf, noisy, logits);
                    adv_classifier_probs(clf, logits, probs);
                    cr->status = ADV_ATTACK_OK;
                    cr->after_class = adv_most_likely(probs);
                    cr->after_confidence = probs[cr->after_class];
                    cr->success = cr->after_class != cr->before_class;
                    cr->snr_db = adv_snr_db(mono, noisy, a->frames);
                }
                engine_tick(e, cs->name[c]);
            }
        }
        adv_classifier_free(clf);
    }
    adv_attack_ws_free(ws);
    free(out);
    free(mono);
    free(noisy);
    return NULL;
}

/* Runs the current phase on `threads` workers; 0, or -1 on failure (adv_error) or cancellation. */
static int engine_go(engine *e, int threads, const char *label, long total)
{
    atomic_store(&e->next, 0);
    e->done = 0;
    adv_progress_start(&e->progress, label, total);
    if (!e->cfg->progress) e->progress.enabled = 0;
    pthread_t *th = calloc((size_t)threads, sizeof *th);
    if (!th) return adv_fail("out of memory");
    int started = 0;
    for (; started < threads; started++)
        if (pthread_create(&th[started], NULL, worker, e) != 0) break;
    if (started == 0) worker(e);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    free(th);
    adv_progress_finish(&e->progress);
    if (e->failed) return adv_fail("%s", e->error);
    if (atomic_load(e->cancel)) return adv_fail("interrupted");
    return 0;
}

/* ------------------------------------------------------------------ statistics */

typedef struct {
    long clips, n_adv, n_failed, n_already, n_silent;
    double accuracy, snr_mean, snr_std, iter_median, confidence, seconds;
} run_stats;

typedef struct {   /* mean and std over runs */
    int runs;
    double adv[2], acc[2], snr[2], iter[2], conf[2], seconds;
    int meets;
} summary;

static void compute_run_stats(const clip_result *res, size_t stride, const clipset *cs, int noise, run_stats *st)
{
    memset(st, 0, sizeof *st);
    double *snr = malloc(sizeof *snr * (size_t)cs->count), *it = malloc(sizeof *it * (size_t)cs->count);
    double conf = 0;
    long correct = 0, k = 0;
    st->clips = cs->count;
    for (long c = 0; c < cs->count; c++) {
        const clip_result *r = &res[c * stride];
        st->seconds += r->seconds;
        st->n_silent += r->status == ADV_ATTACK_SILENT;
        st->n_already += r->status == ADV_ATTACK_ALREADY;
        st->n_failed += r->status == ADV_ATTACK_FAILED;
        int used = r->success || noise ? r->after_class : r->before_class;
        correct += used == cs->label[c];
        if (noise ? r->status == ADV_ATTACK_OK : r->success) {
            if (snr) snr[k] = r->snr_db;
            if (it) it[k] = (double)r->iterations;
            conf += r->after_confidence;
            k++;
        }
    }
    st->n_adv = noise ? 0 : k;
    st->accuracy = (double)correct / (double)cs->count;
    st->snr_mean = snr && k ? adv_stat_mean(snr, (size_t)k) : NAN;
    st->snr_std = snr && k ? adv_stat_std(snr, (size_t)k) : NAN;
    st->iter_median = it && k && !noise ? adv_stat_median(it, (size_t)k) : NAN;
    st->confidence = k ? conf / (double)k : NAN;
    free(snr);
    free(it);
}

static void summarise(const run_stats *st, int runs, double require, summary *s)
{
    double a[5][runs > 0 ? runs : 1];
    memset(s, 0, sizeof *s);
    s->runs = runs;
    for (int r = 0; r < runs; r++) {
        a[0][r] = (double)st[r].n_adv;
        a[1][r] = st[r].accuracy;
        a[2][r] = st[r].snr_mean;
        a[3][r] = st[r].iter_median;
        a[4][r] = st[r].confidence;
        s->seconds += st[r].seconds;
    }
    double *dst[5] = {s->adv, s->acc, s->snr, s->iter, s->conf};
    for (int m = 0; m < 5; m++) {
        dst[m][0] = adv_stat_mean(a[m], (size_t)runs);
        dst[m][1] = adv_stat_std(a[m], (size_t)runs);
    }
    s->meets = s->adv[0] >= require;
}

/* Adds a prediction with its confidence to the tallies (logits with exactly that softmax). */
static void eval_add_prediction(adv_eval *ev, int truth, int cls, float conf)
{
    float logits[ADV_N_CLASSES];
    double rest = (1.0 - conf) / (ADV_N_CLASSES - 1);
    for (int k = 0; k < ADV_N_CLASSES; k++) logits[k] = (float)log(rest > 1e-30 ? rest : 1e-30);
    logits[cls] = (float)log(conf > 1e-30 ? conf : 1e-30);
    adv_eval_add(ev, truth, logits);
}

/* ------------------------------------------------------------------ files */

typedef struct {
    adv_outfile *out;
} afile;

/* Starts DIR/NAME (in the staging directory); its stream, or NULL with adv_error. */
static FILE *afile_open(afile *a, const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    a->out = adv_outfile_open(path, 0);
    if (!a->out) return NULL;
    FILE *f = adv_outfile_stream(a->out);
    if (!f) adv_outfile_commit(a->out);   /* fails: out of memory */
    return f;
}

/* Completes the file; -1 with adv_error after any write error. */
static int afile_close(afile *a) { return adv_outfile_commit(a->out); }

/* Histogram of SNRs (dB) as a PNG, written atomically. */
static int write_histogram(const double *v, long n, const char *title, const char *path)
{
    const int W = 640, H = 400, left = 60, right = 20, top = 50, bottom = 50;
    double lo = INFINITY, hi = -INFINITY, mean = 0;
    for (long i = 0; i < n; i++) {
        if (v[i] < lo) lo = v[i];
        if (v[i] > hi) hi = v[i];
        mean += v[i];
    }
    if (n) mean /= (double)n;
    static const double widths[] = {0.5, 1, 2, 5, 10, 20, 50};
    double bw = 50;
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
        double a = floor(lo / widths[i]) * widths[i], b = floor(hi / widths[i]) * widths[i] + widths[i];
        if (n == 0 || (b - a) / widths[i] <= 40) { bw = widths[i]; break; }
    }
    double x0 = n ? floor(lo / bw) * bw : 0, x1 = n ? floor(hi / bw) * bw + bw : 10;
    int bins = (int)lround((x1 - x0) / bw);
    if (bins < 1) bins = 1;
    long counts[64] = {0}, cmax = 1;
    for (long i = 0; i < n; i++) {
        int b = (int)floor((v[i] - x0) / bw);
        if (b < 0) b = 0;
        if (b >= bins) b = bins - 1;
        if (++counts[b] > cmax) cmax = counts[b];
    }

    cairo_surface_t *s;
    cairo_t *cr = adv_plot_begin(W, H, &s);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_font_size(cr, 15);
    cairo_move_to(cr, 10, 24);
    cairo_show_text(cr, title);
    cairo_set_font_size(cr, 11);
    char txt[128];
    if (n) snprintf(txt, sizeof txt, "%ld adversarial examples, mean %.2f dB (red), bins of %g dB", n, mean, bw);
    else snprintf(txt, sizeof txt, "no adversarial examples");
    cairo_move_to(cr, 10, 40);
    cairo_show_text(cr, txt);

    const double pw = W - left - right, ph = H - top - bottom, ymax = 1.1 * (double)cmax;
    cairo_set_source_rgb(cr, 0.25, 0.45, 0.75);
    for (int b = 0; b < bins; b++) {
        double h = ph * (double)counts[b] / ymax;
        cairo_rectangle(cr, left + pw * b / bins + 1, top + ph - h, pw / bins - 2, h);
    }
    cairo_fill(cr);
    if (n) {
        cairo_set_source_rgb(cr, 0.85, 0.1, 0.1);
        cairo_set_line_width(cr, 2);
        double xm = left + pw * (mean - x0) / (x1 - x0);
        cairo_move_to(cr, xm, top);
        cairo_line_to(cr, xm, top + ph);
        cairo_stroke(cr);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_move_to(cr, left, top);
    cairo_line_to(cr, left, top + ph);
    cairo_line_to(cr, left + pw, top + ph);
    cairo_stroke(cr);
    int step = bins > 10 ? (bins + 9) / 10 : 1;
    for (int b = 0; b <= bins; b += step) {
        snprintf(txt, sizeof txt, "%g", x0 + b * bw);
        cairo_text_extents_t ex;
        cairo_text_extents(cr, txt, &ex);
        cairo_move_to(cr, left + pw * b / bins - ex.width / 2, top + ph + 16);
        cairo_show_text(cr, txt);
    }
    cairo_move_to(cr, left + pw / 2 - 20, H - 12);
    cairo_show_text(cr, "SNR (dB)");
    long ystep = cmax > 10 ? (cmax + 4) / 5 : 1;
    for (long y = 0; y <= cmax; y += ystep) {
        snprintf(txt, sizeof txt, "%ld", y);
        cairo_text_extents_t ex;
        cairo_text_extents(cr, txt, &ex);
        cairo_move_to(cr, left - ex.width - 6, top + ph - ph * (double)y / ymax + ex.height / 2);
        cairo_show_text(cr, txt);
    }
    cairo_destroy(cr);
    return adv_png_write(s, path);
}

static void slugify(const char *label, char *out, size_t size)
{
    size_t j = 0;
    for (const char *c = label; *c && j + 1 < size; c++) {
        char ch = *c;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-';
        out[j++] = ok ? ch : '_';
    }
    out[j] = '\0';
}

/* "%.*f" of v, or "-" for NaN; with " ± std" when std is given (not NaN) and runs > 1. */
static const char *fmt_ms(char *buf, size_t size, double mean, double std, int runs, int prec)
{
    if (isnan(mean)) snprintf(buf, size, "-");
    else if (runs > 1 && !isnan(std)) snprintf(buf, size, "%.*f ± %.*f", prec, mean, prec, std);
    else snprintf(buf, size, "%.*f", prec, mean);
    return buf;
}

static const char *fmt_num(char *buf, size_t size, double v, int prec)
{
    if (isnan(v)) snprintf(buf, size, "-");
    else snprintf(buf, size, "%.*f", prec, v);
    return buf;
}

/* A CSV text field, quoted when it holds a comma, quote or newline. */
static void csv_text(FILE *f, const char *t)
{
    if (!strpbrk(t, ",\"\n")) {
        fputs(t, f);
        return;
    }
    fputc('"', f);
    for (; *t; t++) {
        if (*t == '"') fputc('"', f);
        fputc(*t, f);
    }
    fputc('"', f);
}

/* CSV number: %.6g, empty for NaN, "inf" for infinity. */
static void csv_num(FILE *f, double v)
{
    if (isnan(v)) fputc(',', f);
    else if (isinf(v)) fprintf(f, ",%s", v > 0 ? "inf" : "-inf");
    else fprintf(f, ",%.6g", v);
}

static const char *target_name(const adv_model *m, int target)
{
    if (target == ADV_TARGET_RANDOM) return "random";
    if (target >= 0 && target < ADV_N_CLASSES) return m->classes[target];
    return "";
}

static const char *method_title(adv_attack_method m)
{
    static const char *const t[ADV_N_METHODS] = {"FGSM", "PGDn", "C&W", "MS-C&W"};
    return (unsigned)m < ADV_N_METHODS ? t[m] : "?";
}

/* ------------------------------------------------------------------ the experiment */

typedef struct {
    const adv_exp_config *cfg;
    clipset cs;
    adv_exp_setting *settings;
    int n_settings;
    int *runs, max_runs;
    engine e;
    run_stats *stats;            /* [setting * max_runs + run] */
    summary *sum;
    run_stats *noise_stats;      /* [run] */
    summary noise_sum;
    double clean_acc, clean_conf;
    long require, require180;
    int chosen;
    double seconds;
    char (*slug)[ADV_EXP_LABEL_MAX];
} experiment;

static int pairable(const experiment *x, int a, int b)
{
    return a >= 0 && b >= 0 && a != b && x->runs[a] == x->runs[b] && x->runs[a] >= 2;
}

/* One row of the t-test table per metric for settings a and b. */
static void write_ttests(FILE *f, const experiment *x, int a, int b)
{
    static const char *const names[4] = {"SNR (dB)", "# adversarial examples", "accuracy", "iterations (median)"};
    int runs = x->runs[a];
    double va[4][runs], vb[4][runs];
    for (int r = 0; r < runs; r++) {
        const run_stats *sa = &x->stats[a * x->max_runs + r], *sb = &x->stats[b * x->max_runs + r];
        va[0][r] = sa->snr_mean, vb[0][r] = sb->snr_mean;
        va[1][r] = (double)sa->n_adv, vb[1][r] = (double)sb->n_adv;
        va[2][r] = sa->accuracy, vb[2][r] = sb->accuracy;
        va[3][r] = sa->iter_median, vb[3][r] = sb->iter_median;
    }
    for (int m = 0; m < 4; m++) {
        adv_ttest t;
        char b1[32], b2[32], b3[32], b4[32], b5[32];
        int ok = adv_stat_paired_ttest(va[m], vb[m], (size_t)runs, &t) == 0;
        fprintf(f, "| %s vs %s | %s | %s | %s | %s | %s | %d | %s | %s |\n", x->settings[a].label, x->settings[b].label,
                names[m], fmt_num(b1, sizeof b1, adv_stat_mean(va[m], (size_t)runs), 3),
                fmt_num(b2, sizeof b2, adv_stat_mean(vb[m], (size_t)runs), 3), fmt_num(b3, sizeof b3, t.mean_diff, 3),
                isinf(t.t) ? (t.t > 0 ? "+inf" : "-inf") : fmt_num(b4, sizeof b4, t.t, 3), t.df,
                fmt_num(b5, sizeof b5, t.p, 4),
                !ok || isnan(t.p) ? "-" : (t.p < 0.05 ? "yes" : "no"));
    }
}

static void ttest_header(FILE *f, int df)
{
    fprintf(f, "Paired over runs (run r of both settings uses the same seeds); two-sided, judged at 5 %%");
    if (df > 0) fprintf(f, " (df %d: |t| > %.3f)", df, adv_stat_t_critical(df, 0.05));
    fprintf(f, ".\n\n| pair | metric | mean A | mean B | mean A - B | t | df | p | significant |\n"
               "|---|---|---|---|---|---|---|---|---|\n");
}

static void write_header(FILE *f, const experiment *x, const char *title)
{
    const adv_exp_config *c = x->cfg;
    fprintf(f, "# %s\n\n", title);
    fprintf(f, "Command:\n\n```\n%s\n```\n\n", c->command_line ? c->command_line : "(library call)");
    fprintf(f, "- model: `%s`\n", c->model_path ? adv_path_base(c->model_path) : "(in memory)");
    fprintf(f, "- data: `%s`, %s split, %ld clips%s\n", c->data_dir, c->split == ADV_SPLIT_VALID ? "valid" : "train",
            x->cs.count, c->max_clips > 0 ? " (limited by --max-clips)" : "");
    fprintf(f, "- runs: %d (seed %llu; FGSM and fixed targets are deterministic: 1 run)\n", c->runs,
            (unsigned long long)c->seed);
    fprintf(f, "- attacks on float samples; SNR over samples [2048, N - 2049) as the paper\n");
    fprintf(f, "- wall time: %.0f s\n\n", x->seconds);
}

/* One table row: our numbers of a setting. */
static void write_row_numbers(FILE *f, const summary *s)
{
    char b[5][64];
    fprintf(f, " %s | %s | %s | %s | %s |", fmt_ms(b[0], 64, s->adv[0], s->adv[1], s->runs, 1),
            fmt_ms(b[1], 64, s->acc[0], s->acc[1], s->runs, 3), fmt_ms(b[2], 64, s->snr[0], s->snr[1], s->runs, 2),
            fmt_ms(b[3], 64, s->iter[0], s->iter[1], s->runs, 1), fmt_ms(b[4], 64, s->conf[0], s->conf[1], s->runs, 2));
}

static void write_figures(FILE *f, const experiment *x)
{
    fprintf(f, "\n## Figures\n\nConfusion matrices: columns true classes, rows predictions (the adversarial "
               "example where one was found, else the original), each column normalised; pooled over runs. "
               "Histograms: SNR of the adversarial examples, pooled over runs.\n\n");
    fprintf(f, "![clean](confusion-clean.png)\n\n");
    for (int s = 0; s < x->n_settings; s++)
        fprintf(f, "### %s\n\n![confusion %s](confusion-%s.png) ![SNR %s](snr-%s.png)\n\n", x->settings[s].label,
                x->settings[s].label, x->slug[s], x->settings[s].label, x->slug[s]);
    if (x->e.noise_runs > 0) fprintf(f, "### white noise\n\n![confusion noise](confusion-noise.png)\n\n");
}

static void write_noise_line(FILE *f, const experiment *x, const char *why)
{
    char b1[64], b2[64], b3[64];
    if (x->e.noise_runs <= 0) {
        fprintf(f, "Not run: %s.\n\n", why);
        return;
    }
    fprintf(f, "Gaussian white noise scaled per clip to %.2f dB SNR (%s), %d run%s: accuracy %s, "
               "measured SNR %s dB, mean confidence %s.\n\n",
            x->e.noise_snr, why, x->noise_sum.runs, x->noise_sum.runs == 1 ? "" : "s",
            fmt_ms(b1, 64, x->noise_sum.acc[0], x->noise_sum.acc[1], x->noise_sum.runs, 3),
            fmt_num(b2, 64, x->noise_sum.snr[0], 2), fmt_num(b3, 64, x->noise_sum.conf[0], 2));
}

static int write_report_grid(const experiment *x, const char *dir)
{
    const adv_exp_config *c = x->cfg;
    afile af;
    FILE *f = afile_open(&af, dir, "report.md");
    if (!f) return -1;
    char title[256], ptxt[256];
    if (c->mode == ADV_EXP_NOISE)
        snprintf(title, sizeof title, "White-noise baseline at %.2f dB SNR", c->noise_snr_db);
    else
        snprintf(title, sizeof title, "%s: grid of %d setting%s", method_title(x->settings[0].params.method),
                 x->n_settings, x->n_settings == 1 ? "" : "s");
    write_header(f, x, title);
    fprintf(f, "Clean: accuracy %.3f, mean confidence %.2f over %ld clips.\n\n", x->clean_acc, x->clean_conf, x->cs.count);
    if (c->mode == ADV_EXP_GRID) {
        fprintf(f, "## Settings\n\nMeans ± standard deviations over runs. Accuracy: against the true label, on the "
                   "adversarial example where one was found, else the original. SNR, iterations (the median of a "
                   "run) and confidence (of the adversarial example's class): over adversarial examples. A setting "
                   "meets the requirement with a mean of at least %ld adversarial examples%s.\n\n",
                x->require, c->require < 0 ? " (round(150/200 x clips))" : "");
        fprintf(f, "| setting | parameters | runs | # adv | accuracy | SNR dB | iterations (median) | confidence | "
                   ">= %ld |\n|---|---|---|---|---|---|---|---|---|\n", x->require);
        fprintf(f, "| clean | - | 1 | %ld | %.3f | - | - | %.2f | |\n", x->cs.count, x->clean_acc, x->clean_conf);
        for (int s = 0; s < x->n_settings; s++) {
            params_text(&x->settings[s].params, c->model, ptxt, sizeof ptxt);
            if (x->settings[s].params.target == ADV_TARGET_RANDOM) strncat(ptxt, ", random targets", sizeof ptxt - strlen(ptxt) - 1);
            fprintf(f, "| %s%s%s | %s | %d |", s == x->chosen ? "**" : "", x->settings[s].label, s == x->chosen ? "**" : "",
                    ptxt, x->runs[s]);
            write_row_numbers(f, &x->sum[s]);
            fprintf(f, " %s |\n", x->sum[s].meets ? "yes" : "no");
        }
        fprintf(f, "\n## Chosen setting\n\n");
        if (x->chosen >= 0) {
            const summary *s = &x->sum[x->chosen];
            params_text(&x->settings[x->chosen].params, c->model, ptxt, sizeof ptxt);
            fprintf(f, "**%s** (%s): the highest mean SNR, %.2f dB, among the settings finding at least %ld "
                       "adversarial examples (it finds %.1f of %ld; accuracy %.3f).\n\n",
                    x->settings[x->chosen].label, ptxt, s->snr[0], x->require, s->adv[0], x->cs.count, s->acc[0]);
        } else {
            fprintf(f, "None: no setting finds at least %ld adversarial examples on average.\n\n", x->require);
        }
        fprintf(f, "## White-noise baseline\n\n");
        write_noise_line(f, x, x->chosen >= 0 ? "the chosen setting's mean SNR" : "no setting was chosen");
        fprintf(f, "## Paired t-tests: the chosen setting against the others\n\n");
        int any = 0;
        for (int s = 0; s < x->n_settings; s++)
            if (pairable(x, x->chosen, s)) {
                if (!any) ttest_header(f, x->runs[s] - 1);
                write_ttests(f, x, x->chosen, s);
                any = 1;
            }
        if (!any) fprintf(f, "None (needs a chosen setting and others with the same number of runs, at least 2).\n");
        fprintf(f, "\nPer-run numbers: results.csv; per clip: clips.csv; per setting: summary.csv.\n");
    } else {
        fprintf(f, "## White-noise baseline\n\n");
        write_noise_line(f, x, "--snr");
        fprintf(f, "Per run: results.csv; per clip: clips.csv.\n");
    }
    write_figures(f, x);
    return afile_close(&af);
}

static int find_setting(const experiment *x, const char *label)
{
    for (int s = 0; s < x->n_settings; s++)
        if (!strcmp(x->settings[s].label, label)) return s;
    return -1;
}

static int write_report_table1(const experiment *x, const char *dir)
{
    const adv_exp_config *c = x->cfg;
    afile af;
    FILE *f = afile_open(&af, dir, "report.md");
    if (!f) return -1;
    char ptxt[256], b[5][64];
    write_header(f, x, "Table 1: end-to-end adversarial attacks on music instrument classification");
    fprintf(f, "Ours: means ± standard deviations over runs (FGSM and fixed targets: 1 run). Paper: its Table 1 "
               "and section 5.3 (200 validation clips, the paper's model). The \">=150\" and \">=180\" rows are the "
               "paper's chosen settings (presets); scaled to %ld clips they must find at least %ld and %ld "
               "adversarial examples (\"meets\").\n\n", x->cs.count, x->require, x->require180);
    fprintf(f, "| row | method | parameters | # adv | accuracy | SNR dB | iterations (median) | confidence | meets "
               "| paper # adv | paper accuracy | paper SNR dB | paper iterations | paper confidence |\n"
               "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    fprintf(f, "| clean | - | - | %ld | %.3f | - | - | %.2f | | 200 | %.3f | - | - | %.3f |\n", x->cs.count, x->clean_acc,
            x->clean_conf, PAPER_CLEAN_ACC, PAPER_CLEAN_CONF);
    for (int i = 0; i < ADV_EXP_TABLE1_ROWS; i++) {
        int s = find_setting(x, paper_rows[i].preset);
        if (s < 0) continue;
        const paper_row *p = &paper_rows[i];
        params_text(&x->settings[s].params, c->model, ptxt, sizeof ptxt);
        fprintf(f, "| %s | %s | %s |", p->row, p->method, ptxt);
        write_row_numbers(f, &x->sum[s]);
        long need = !strcmp(p->row, ">=150") ? x->require : !strcmp(p->row, ">=180") ? x->require180 : -1;
        fprintf(f, " %s | %s | %s | %s | %s | %s |\n", need < 0 ? "" : (x->sum[s].adv[0] >= need ? "yes" : "no"),
                fmt_num(b[0], 64, p->adv, 1), fmt_num(b[1], 64, p->acc, 3), fmt_num(b[2], 64, p->snr, 2),
                fmt_num(b[3], 64, p->iter, 1), fmt_num(b[4], 64, p->conf, 2));
        if (i == 7 && x->e.noise_runs > 0)
            fprintf(f, "| noise | white noise | SNR %.2f dB | - | %s | %s | - | %s | | - | %.2f | %.2f | - | - |\n",
                    x->e.noise_snr, fmt_ms(b[0], 64, x->noise_sum.acc[0], x->noise_sum.acc[1], x->noise_sum.runs, 3),
                    fmt_num(b[1], 64, x->noise_sum.snr[0], 2), fmt_num(b[2], 64, x->noise_sum.conf[0], 2),
                    PAPER_NOISE_ACC, PAPER_NOISE_SNR);
    }
    fprintf(f, "\nThe noise row adds Gaussian white noise scaled per clip to the pooled mean SNR of the adversarial "
               "examples of the four random-target rows (C&W and MS-C&W at both levels); the paper does not say how "
               "its 42.16 dB was averaged. The paper's accordion rows: C&W \"all but 4\", MS-C&W \"all but 7\" of "
               "200 clips (clips already predicted as accordion are not attacked here: see \"already\" below).\n\n");

    fprintf(f, "## Details\n\n| row | runs | failed | already the target | silent | attack time (s, all runs) |\n"
               "|---|---|---|---|---|---|\n");
    for (int s = 0; s < x->n_settings; s++) {
        long failed = 0, already = 0, silent = 0;
        for (int r = 0; r < x->runs[s]; r++) {
            const run_stats *st = &x->stats[s * x->max_runs + r];
            failed += st->n_failed, already += st->n_already, silent += st->n_silent;
        }
        fprintf(f, "| %s | %d | %.1f | %.1f | %.1f | %.0f |\n", x->settings[s].label, x->runs[s],
                (double)failed / x->runs[s], (double)already / x->runs[s], (double)silent / x->runs[s], x->sum[s].seconds);
    }

    fprintf(f, "\n## Paired t-tests\n\n");
    static const char *const pairs[][2] = {{"cw-150", "mscw-150"}, {"cw-180", "mscw-180"}, {"pgdn-150", "cw-150"},
                                           {"pgdn-150", "mscw-150"}, {"pgdn-180", "cw-180"}, {"pgdn-180", "mscw-180"}};
    int any = 0;
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        int a = find_setting(x, pairs[i][0]), bb = find_setting(x, pairs[i][1]);
        if (!pairable(x, a, bb)) continue;
        if (!any) ttest_header(f, x->runs[a] - 1);
        write_ttests(f, x, a, bb);
        any = 1;
    }
    if (!any) fprintf(f, "None: they need at least 2 runs (--runs).\n");
    fprintf(f, "\nThe paper compares C&W with MS-C&W at both levels (and finds C&W's SNR at >=180 significantly "
               "different from the three other methods).\n");
    write_figures(f, x);
    return afile_close(&af);
}

static int write_csvs(const experiment *x, const char *dir)
{
    const adv_model *m = x->cfg->model;
    afile af;
    FILE *f = afile_open(&af, dir, "results.csv");
    if (!f) return -1;
    fprintf(f, "setting,method,eps,alpha,lr,max_iter,target,run,clips,adversarial,failed,already,silent,accuracy,"
               "snr_mean_db,snr_std_db,iterations_median,confidence_mean\n");
    fprintf(f, "clean,,,,,,,1,%ld,,,,,%.6g,,,,%.6g\n", x->cs.count, x->clean_acc, x->clean_conf);
    for (int s = 0; s < x->n_settings; s++) {
        const adv_attack_params *p = &x->settings[s].params;
        for (int r = 0; r < x->runs[s]; r++) {
            const run_stats *st = &x->stats[s * x->max_runs + r];
            csv_text(f, x->settings[s].label);
            fprintf(f, ",%s,%g,%g,%g,%ld,%s,%d,%ld,%ld,%ld,%ld,%ld", adv_attack_method_name(p->method),
                    p->eps, p->alpha, p->lr, p->max_iter, target_name(m, p->target), r + 1, st->clips, st->n_adv,
                    st->n_failed, st->n_already, st->n_silent);
            csv_num(f, st->accuracy);
            csv_num(f, st->snr_mean);
            csv_num(f, st->snr_std);
            csv_num(f, st->iter_median);
            csv_num(f, st->confidence);
            fputc('\n', f);
        }
    }
    for (int r = 0; r < x->e.noise_runs; r++) {
        const run_stats *st = &x->noise_stats[r];
        fprintf(f, "noise,noise,,,,,,%d,%ld,,,,%ld", r + 1, st->clips, st->n_silent);
        csv_num(f, st->accuracy);
        csv_num(f, st->snr_mean);
        csv_num(f, st->snr_std);
        fputc(',', f);
        csv_num(f, st->confidence);
        fputc('\n', f);
    }
    if (afile_close(&af) != 0) return -1;

    if (!(f = afile_open(&af, dir, "summary.csv"))) return -1;
    fprintf(f, "setting,method,eps,alpha,lr,max_iter,target,runs,adversarial_mean,adversarial_std,accuracy_mean,"
               "accuracy_std,snr_mean_db,snr_mean_db_std,iterations_median_mean,iterations_median_std,confidence_mean,"
               "confidence_std,seconds,meets_requirement,chosen\n");
    for (int s = 0; s < x->n_settings; s++) {
        const adv_attack_params *p = &x->settings[s].params;
        const summary *su = &x->sum[s];
        csv_text(f, x->settings[s].label);
        fprintf(f, ",%s,%g,%g,%g,%ld,%s,%d", adv_attack_method_name(p->method), p->eps, p->alpha,
                p->lr, p->max_iter, target_name(m, p->target), su->runs);
        const double *v[5] = {su->adv, su->acc, su->snr, su->iter, su->conf};
        for (int k = 0; k < 5; k++) { csv_num(f, v[k][0]); csv_num(f, v[k][1]); }
        fprintf(f, ",%.1f,%d,%d\n", su->seconds, su->meets, s == x->chosen);
    }
    if (afile_close(&af) != 0) return -1;

    if (!(f = afile_open(&af, dir, "clips.csv"))) return -1;
    fprintf(f, "setting,run,file,true_label,original_prediction,original_confidence,target,status,iterations,snr_db,"
               "after_prediction,after_confidence,seconds\n");
    for (int s = 0; s < x->n_settings; s++)
        for (int r = 0; r < x->runs[s]; r++)
            for (long c = 0; c < x->cs.count; c++) {
                const clip_result *cr = res_at(&x->e, s, r, c);
                csv_text(f, x->settings[s].label);
                fprintf(f, ",%d,", r + 1);
                csv_text(f, x->cs.name[c]);
                fprintf(f, ",%s,%s,%.6g,%s,%s,%ld",
                        m->classes[x->cs.label[c]], m->classes[cr->before_class], cr->before_confidence,
                        target_name(m, cr->target), adv_attack_status_name(cr->status), cr->iterations);
                csv_num(f, cr->snr_db);
                fprintf(f, ",%s,%.6g,%.3f\n", m->classes[cr->after_class], cr->after_confidence, cr->seconds);
            }
    for (int r = 0; r < x->e.noise_runs; r++)
        for (long c = 0; c < x->cs.count; c++) {
            const clip_result *cr = &x->e.noise[(size_t)r * x->cs.count + c];
            fprintf(f, "noise,%d,", r + 1);
            csv_text(f, x->cs.name[c]);
            fprintf(f, ",%s,%s,%.6g,,%s,0", m->classes[x->cs.label[c]],
                    m->classes[cr->before_class], cr->before_confidence,
                    cr->status == ADV_ATTACK_SILENT ? "silent" : "noise");
            csv_num(f, cr->snr_db);
            fprintf(f, ",%s,%.6g,0\n", m->classes[cr->after_class], cr->after_confidence);
        }
    return afile_close(&af);
}

static int write_figures_files(const experiment *x, const char *dir)
{
    const adv_model *m = x->cfg->model;
    char path[4200], title[256];
    adv_eval ev;
    memset(&ev, 0, sizeof ev);
    for (long c = 0; c < x->cs.count; c++) eval_add_prediction(&ev, x->cs.label[c], x->e.clean_pred[c], x->e.clean_conf[c]);
    adv_eval_finish(&ev);
    snprintf(path, sizeof path, "%s/confusion-clean.png", dir);
    snprintf(title, sizeof title, "clean: accuracy %.3f", ev.accuracy);
    if (adv_eval_write_confusion_png(&ev, m, title, path) != 0) return -1;
    double *snr = malloc(sizeof *snr * (size_t)x->cs.count * (size_t)(x->max_runs > 0 ? x->max_runs : 1));
    if (!snr) return adv_fail("out of memory");
    for (int s = 0; s < x->n_settings; s++) {
        long k = 0;
        memset(&ev, 0, sizeof ev);
        for (int r = 0; r < x->runs[s]; r++)
            for (long c = 0; c < x->cs.count; c++) {
                const clip_result *cr = res_at(&x->e, s, r, c);
                if (cr->success) {
                    snr[k++] = cr->snr_db;
                    eval_add_prediction(&ev, x->cs.label[c], cr->after_class, cr->after_confidence);
                } else {
                    eval_add_prediction(&ev, x->cs.label[c], cr->before_class, cr->before_confidence);
                }
            }
        adv_eval_finish(&ev);
        snprintf(path, sizeof path, "%s/confusion-%s.png", dir, x->slug[s]);
        snprintf(title, sizeof title, "%s: after the attack (%d run%s), accuracy %.3f", x->settings[s].label, x->runs[s],
                 x->runs[s] == 1 ? "" : "s", ev.accuracy);
        if (adv_eval_write_confusion_png(&ev, m, title, path) != 0) { free(snr); return -1; }
        snprintf(path, sizeof path, "%s/snr-%s.png", dir, x->slug[s]);
        snprintf(title, sizeof title, "%s: SNR of the adversarial examples", x->settings[s].label);
        if (write_histogram(snr, k, title, path) != 0) { free(snr); return -1; }
    }
    free(snr);
    if (x->e.noise_runs > 0) {
        memset(&ev, 0, sizeof ev);
        for (int r = 0; r < x->e.noise_runs; r++)
            for (long c = 0; c < x->cs.count; c++) {
                const clip_result *cr = &x->e.noise[(size_t)r * x->cs.count + c];
                eval_add_prediction(&ev, x->cs.label[c], cr->after_class, cr->after_confidence);
            }
        adv_eval_finish(&ev);
        snprintf(path, sizeof path, "%s/confusion-noise.png", dir);
        snprintf(title, sizeof title, "white noise at %.2f dB SNR: accuracy %.3f", x->e.noise_snr, ev.accuracy);
        if (adv_eval_write_confusion_png(&ev, m, title, path) != 0) return -1;
    }
    return 0;
}

static void experiment_free(experiment *x)
{
    clipset_free(&x->cs);
    free(x->settings);
    free(x->runs);
    free(x->e.res);
    free(x->e.clean_pred);
    free(x->e.clean_conf);
    free(x->e.noise);
    free(x->stats);
    free(x->sum);
    free(x->noise_stats);
    free(x->slug);
    pthread_mutex_destroy(&x->e.lock);
}

static int noise_phase(experiment *x, int threads, double snr, int runs)
{
    engine *e = &x->e;
    e->phase = 1;
    e->noise_snr = snr;
    e->noise_runs = runs;
    e->noise = calloc((size_t)runs * (size_t)x->cs.count, sizeof *e->noise);
    x->noise_stats = calloc((size_t)runs, sizeof *x->noise_stats);
    if (!e->noise || !x->noise_stats) {
        engine_fail(e, ADV_EXIT_FAILURE, "out of memory");
        return adv_fail("out of memory");
    }
    if (engine_go(e, threads, "noise", (long)runs * x->cs.count) != 0) return -1;
    for (int r = 0; r < runs; r++) compute_run_stats(e->noise + (size_t)r * x->cs.count, 1, &x->cs, 1, &x->noise_stats[r]);
    summarise(x->noise_stats, runs, 0, &x->noise_sum);
    return 0;
}

int adv_experiment_run(const adv_exp_config *cfg, adv_exp_outcome *outcome)
{
    const double t0 = adv_now();
    if (outcome) {
        memset(outcome, 0, sizeof *outcome);
        outcome->chosen = -1;
        outcome->noise_snr_db = outcome->noise_accuracy = NAN;
    }
    if (!cfg->model || !cfg->data_dir || !cfg->out_dir) return adv_fail("experiment: model, data and output are required"), ADV_EXIT_USAGE;
    if (cfg->runs < 1) return adv_fail("experiment: runs must be >= 1"), ADV_EXIT_USAGE;
    if (cfg->mode == ADV_EXP_GRID && cfg->n_settings < 1) return adv_fail("experiment: no settings"), ADV_EXIT_USAGE;
    if (cfg->mode == ADV_EXP_NOISE && !isfinite(cfg->noise_snr_db)) return adv_fail("experiment: the noise SNR must be finite"), ADV_EXIT_USAGE;

    experiment x;
    memset(&x, 0, sizeof x);
    x.cfg = cfg;
    x.chosen = -1;
    pthread_mutex_init(&x.e.lock, NULL);
    int rc = ADV_EXIT_OK;
    char *stage = NULL;

    /* the settings */
    if (cfg->mode == ADV_EXP_TABLE1) {
        x.n_settings = ADV_EXP_TABLE1_ROWS;
        x.settings = calloc(ADV_EXP_TABLE1_ROWS, sizeof *x.settings);
        if (!x.settings) { adv_fail("out of memory"); rc = ADV_EXIT_FAILURE; goto done; }
        if (adv_exp_table1_settings(cfg->model, x.settings) != 0) { rc = ADV_EXIT_INPUT; goto done; }
    } else if (cfg->mode == ADV_EXP_GRID) {
        x.n_settings = cfg->n_settings;
        x.settings = calloc((size_t)x.n_settings, sizeof *x.settings);
        if (!x.settings) { adv_fail("out of memory"); rc = ADV_EXIT_FAILURE; goto done; }
        memcpy(x.settings, cfg->settings, sizeof *x.settings * (size_t)x.n_settings);
    }
    x.runs = calloc((size_t)(x.n_settings ? x.n_settings : 1), sizeof *x.runs);
    x.slug = calloc((size_t)(x.n_settings ? x.n_settings : 1), sizeof *x.slug);
    if (!x.runs || !x.slug) { adv_fail("out of memory"); rc = ADV_EXIT_FAILURE; goto done; }
    for (int s = 0; s < x.n_settings; s++) {
        x.runs[s] = setting_runs(&x.settings[s].params, cfg->runs);
        if (x.runs[s] > x.max_runs) x.max_runs = x.runs[s];
        if (x.settings[s].params.method == ADV_MSCW) x.e.need_ms = 1;
        slugify(x.settings[s].label, x.slug[s], sizeof x.slug[s]);
        for (int t = 0; t < s; t++)
            if (!strcmp(x.slug[t], x.slug[s])) {
                adv_fail("experiment: two settings named '%s'", x.settings[s].label);
                rc = ADV_EXIT_USAGE;
                goto done;
            }
    }

    /* the clips, once */
    if (clipset_load(cfg->data_dir, cfg->split, cfg->max_clips, &x.cs) != 0) { rc = ADV_EXIT_INPUT; goto done; }
    x.require = cfg->mode == ADV_EXP_GRID && cfg->require >= 0 ? cfg->require : lround(150.0 / 200.0 * (double)x.cs.count);
    x.require180 = lround(180.0 / 200.0 * (double)x.cs.count);

    /* the output, staged: refuses a non-empty out_dir before any work */
    if (adv_dataset_stage_open(cfg->out_dir, cfg->force, &stage) != 0) { rc = ADV_EXIT_OUTPUT; goto done; }
    char audio_root[4200];
    snprintf(audio_root, sizeof audio_root, "%s/audio", stage);
    if (cfg->keep_audio && x.n_settings > 0) {
        for (int s = 0; s < x.n_settings; s++) {
            char d[4400];
            snprintf(d, sizeof d, "%s/%s", audio_root, x.slug[s]);
            int ok = mkdir(d, 0755) == 0;
            for (int r = 0; r < x.runs[s] && ok; r++) {
                snprintf(d, sizeof d, "%s/%s/run%d", audio_root, x.slug[s], r + 1);
                ok = mkdir(d, 0755) == 0;
            }
            if (!ok) { adv_fail("%s: cannot create: %s", d, strerror(errno)); rc = ADV_EXIT_OUTPUT; goto done; }
        }
    } else {
        rmdir(audio_root);
    }

    /* the runs */
    atomic_int local_cancel = 0;
    engine *e = &x.e;
    e->cfg = cfg;
    e->cs = &x.cs;
    e->settings = x.settings;
    e->n_settings = x.n_settings;
    e->runs = x.runs;
    e->max_runs = x.max_runs;
    e->slug = x.slug;
    e->audio_root = cfg->keep_audio && x.n_settings > 0 ? audio_root : NULL;
    e->cancel = cfg->cancel ? cfg->cancel : &local_cancel;
    e->res = calloc((size_t)(x.n_settings ? x.n_settings : 1) * (size_t)(x.max_runs ? x.max_runs : 1) * (size_t)x.cs.count,
                    sizeof *e->res);
    e->clean_pred = calloc((size_t)x.cs.count, sizeof *e->clean_pred);
    e->clean_conf = calloc((size_t)x.cs.count, sizeof *e->clean_conf);
    if (!e->res || !e->clean_pred || !e->clean_conf) { adv_fail("out of memory"); rc = ADV_EXIT_FAILURE; goto done; }
    int threads = cfg->threads > 0 ? cfg->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1) threads = 1;
    if (threads > x.cs.count) threads = (int)x.cs.count;
    adv_blas_set_threads(1);
    long attacks = 0;
    for (int s = 0; s < x.n_settings; s++) attacks += (long)x.runs[s] * x.cs.count;
    if (engine_go(e, threads, x.n_settings ? "attacks" : "clean", x.cs.count + attacks) != 0) {
        rc = e->failed ? e->failed : ADV_EXIT_INTERRUPTED;
        goto done;
    }

    /* statistics */
    long correct = 0;
    double conf = 0;
    for (long c = 0; c < x.cs.count; c++) {
        correct += e->clean_pred[c] == x.cs.label[c];
        conf += e->clean_conf[c];
    }
    x.clean_acc = (double)correct / (double)x.cs.count;
    x.clean_conf = conf / (double)x.cs.count;
    x.stats = calloc((size_t)(x.n_settings ? x.n_settings : 1) * (size_t)(x.max_runs ? x.max_runs : 1), sizeof *x.stats);
    x.sum = calloc((size_t)(x.n_settings ? x.n_settings : 1), sizeof *x.sum);
    if (!x.stats || !x.sum) { adv_fail("out of memory"); rc = ADV_EXIT_FAILURE; goto done; }
    for (int s = 0; s < x.n_settings; s++) {
        for (int r = 0; r < x.runs[s]; r++)
            compute_run_stats(res_at(e, s, r, 0), 1, &x.cs, 0, &x.stats[s * x.max_runs + r]);
        long need = x.require;
        if (cfg->mode == ADV_EXP_TABLE1 && strstr(x.settings[s].label, "-180")) need = x.require180;
        summarise(&x.stats[s * x.max_runs], x.runs[s], (double)need, &x.sum[s]);
    }

    /* the white-noise baseline */
    double noise_snr = NAN;
    if (cfg->mode == ADV_EXP_NOISE) {
        noise_snr = cfg->noise_snr_db;
    } else if (cfg->mode == ADV_EXP_GRID) {
        double snr[x.n_settings], adv[x.n_settings];
        for (int s = 0; s < x.n_settings; s++) snr[s] = x.sum[s].snr[0], adv[s] = x.sum[s].adv[0];
        x.chosen = adv_exp_choose(snr, adv, x.n_settings, (double)x.require);
        if (x.chosen >= 0) noise_snr = x.sum[x.chosen].snr[0];
    } else {
        static const char *const targeted[] = {"cw-150", "mscw-150", "cw-180", "mscw-180"};
        double total = 0;
        long k = 0;
        for (int i = 0; i < 4; i++) {
            int s = find_setting(&x, targeted[i]);
            for (int r = 0; s >= 0 && r < x.runs[s]; r++)
                for (long c = 0; c < x.cs.count; c++) {
                    const clip_result *cr = res_at(e, s, r, c);
                    if (cr->success) total += cr->snr_db, k++;
                }
        }
        if (k) noise_snr = total / (double)k;
    }
    if (isfinite(noise_snr) && noise_phase(&x, threads, noise_snr, cfg->runs) != 0) {
        rc = e->failed ? e->failed : ADV_EXIT_INTERRUPTED;
        goto done;
    }
    x.seconds = adv_now() - t0;

    /* the report */
    if (write_csvs(&x, stage) != 0 || write_figures_files(&x, stage) != 0 ||
        (cfg->mode == ADV_EXP_TABLE1 ? write_report_table1(&x, stage) : write_report_grid(&x, stage)) != 0 ||
        adv_dataset_stage_commit(stage, cfg->out_dir) != 0) {
        rc = ADV_EXIT_OUTPUT;
        goto done;
    }
    free(stage);
    stage = NULL;
    if (outcome) {
        outcome->clips = x.cs.count;
        outcome->require = x.require;
        outcome->chosen = x.chosen;
        outcome->clean_accuracy = x.clean_acc;
        if (e->noise_runs > 0) {
            outcome->noise_snr_db = e->noise_snr;
            outcome->noise_accuracy = x.noise_sum.acc[0];
        }
        outcome->seconds = adv_now() - t0;
    }
done:
    if (stage) {
        adv_dataset_stage_abort(stage);
        free(stage);
    }
    experiment_free(&x);
    return rc;
}
