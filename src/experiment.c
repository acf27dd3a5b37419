/* Experiments reproducing the paper's Table 1 (see experiment.h): the settings (a grid, or the
 * Table 1 presets), the seeds, and the run from the clips to the report. The engine, statistics
 * and files are in experiment_engine.c, experiment_report.c and experiment_files.c. */
#include "advinst/experiment.h"
#include "experiment_internal.h"
#include "advinst/blas.h"
#include "advinst/error.h"
#include "advinst/preset.h"
#include "advinst/progress.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

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
const paper_row adv_exp_paper_rows[ADV_EXP_TABLE1_ROWS] = {
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

int adv_exp_table1_settings(const adv_model *m, adv_exp_setting out[ADV_EXP_TABLE1_ROWS])
{
    for (int i = 0; i < ADV_EXP_TABLE1_ROWS; i++) {
        adv_preset pr;
        if (adv_preset_load(adv_exp_paper_rows[i].preset, &pr) != 0) return -1;
        adv_exp_setting *s = &out[i];
        memset(s, 0, sizeof *s);
        snprintf(s->label, sizeof s->label, "%s", adv_exp_paper_rows[i].preset);
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

static void experiment_free(experiment *x)
{
    adv_exp_clipset_free(&x->cs);
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
        adv_exp_engine_fail(e, ADV_EXIT_FAILURE, "out of memory");
        return adv_fail("out of memory");
    }
    if (adv_exp_engine_go(e, threads, "noise", (long)runs * x->cs.count) != 0) return -1;
    for (int r = 0; r < runs; r++) adv_exp_run_stats(e->noise + (size_t)r * x->cs.count, 1, &x->cs, 1, &x->noise_stats[r]);
    adv_exp_summarise(x->noise_stats, runs, 0, &x->noise_sum);
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
        adv_exp_slugify(x.settings[s].label, x.slug[s], sizeof x.slug[s]);
        for (int t = 0; t < s; t++)
            if (!strcmp(x.slug[t], x.slug[s])) {
                adv_fail("experiment: two settings named '%s'", x.settings[s].label);
                rc = ADV_EXIT_USAGE;
                goto done;
            }
    }

    /* the clips, once */
    if (adv_exp_clipset_load(cfg->data_dir, cfg->split, cfg->max_clips, &x.cs) != 0) { rc = ADV_EXIT_INPUT; goto done; }
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
    if (adv_exp_engine_go(e, threads, x.n_settings ? "attacks" : "clean", x.cs.count + attacks) != 0) {
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
            adv_exp_run_stats(adv_exp_res_at(e, s, r, 0), 1, &x.cs, 0, &x.stats[s * x.max_runs + r]);
        long need = x.require;
        if (cfg->mode == ADV_EXP_TABLE1 && strstr(x.settings[s].label, "-180")) need = x.require180;
        adv_exp_summarise(&x.stats[s * x.max_runs], x.runs[s], (double)need, &x.sum[s]);
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
            int s = adv_exp_find_setting(&x, targeted[i]);
            for (int r = 0; s >= 0 && r < x.runs[s]; r++)
                for (long c = 0; c < x.cs.count; c++) {
                    const clip_result *cr = adv_exp_res_at(e, s, r, c);
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
    if (adv_exp_write_csvs(&x, stage) != 0 || adv_exp_write_figure_files(&x, stage) != 0 ||
        (cfg->mode == ADV_EXP_TABLE1 ? adv_exp_write_report_table1(&x, stage) : adv_exp_write_report_grid(&x, stage)) != 0 ||
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
