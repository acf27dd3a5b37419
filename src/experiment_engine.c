/* The experiment's clips and its worker threads: every clip is loaded once, then each worker
 * takes the next clip (longest first) and runs its clean pass and all its attacks, or the
 * white-noise baseline (see experiment_internal.h). */
#include "experiment_internal.h"
#include "advinst/blas.h"
#include "advinst/classifier.h"
#include "advinst/error.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NOISE_SALT 0x6e6f697365212121ULL

/* ------------------------------------------------------------------ clips */

void adv_exp_clipset_free(clipset *cs)
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

int adv_exp_clipset_load(const char *dir, adv_split split, long max_clips, clipset *cs)
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
    if (rc != 0) { adv_exp_clipset_free(cs); return -1; }
    qsort_r(cs->order, (size_t)cs->count, sizeof *cs->order, cmp_length, cs);
    return 0;
}

/* ------------------------------------------------------------------ the runs */

/* Stops all workers; the first failure's message and exit code (ADV_EXIT_*) are kept. */
void adv_exp_engine_fail(engine *e, int code, const char *msg)
{
    pthread_mutex_lock(&e->lock);
    if (!e->failed) {
        e->failed = code;
        snprintf(e->error, sizeof e->error, "%s", msg);
    }
    pthread_mutex_unlock(&e->lock);
    atomic_store(e->cancel, 1);
}

/* Seconds of audio of clip c: the work of one of its jobs (an attack's time grows with it). */
static double clip_seconds(const clipset *cs, long c) { return (double)cs->audio[c].frames / cs->audio[c].rate; }

/* One job of clip c done; `work` is what it weighs in the progress bar's ETA. */
static void engine_tick(engine *e, long c, double work)
{
    pthread_mutex_lock(&e->lock);
    e->done++;
    e->work_done += work;
    adv_progress_update_work(&e->progress, e->done, e->work_done, e->cs->name[c]);
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
            adv_exp_engine_fail(e, ADV_EXIT_FAILURE, "out of memory");
            break;
        }
        adv_audio_mix_mono(a, mono);
        adv_classifier *clf = adv_classifier_create(e->cfg->model, a->rate, a->frames);
        if (!clf) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s: %s", cs->name[c], adv_error());
            adv_exp_engine_fail(e, ADV_EXIT_INPUT, msg);
            break;
        }
        float logits[ADV_N_CLASSES], probs[ADV_N_CLASSES];
        if (e->phase == 0) {
            adv_classifier_forward(clf, mono, logits);
            adv_classifier_probs(clf, logits, probs);
            e->clean_pred[c] = adv_most_likely(probs);
            e->clean_conf[c] = probs[e->clean_pred[c]];
            engine_tick(e, c, e->n_settings > 0 ? 0 : clip_seconds(cs, c));
            if (e->n_settings > 0 && ws && (adv_attack_ws_rate(ws) != a->rate || adv_attack_ws_frames(ws) != a->frames ||
                                            adv_attack_ws_channels(ws) != a->channels)) {
                adv_attack_ws_free(ws);
                ws = NULL;
            }
            if (e->n_settings > 0 && !ws &&
                !(ws = adv_attack_ws_create(e->cfg->model, a->rate, a->frames, a->channels, e->need_ms))) {
                char msg[1024];
                snprintf(msg, sizeof msg, "%s: %s", cs->name[c], adv_error());
                adv_exp_engine_fail(e, ADV_EXIT_INPUT, msg);
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
                        adv_exp_engine_fail(e, ADV_EXIT_INPUT, msg);
                        break;
                    }
                    if (ar.status == ADV_ATTACK_CANCELLED) break;
                    clip_result *cr = adv_exp_res_at(e, s, r, c);
                    *cr = (clip_result){ar.status, ar.success, ar.iterations, ar.snr_db, ar.target, ar.before_class,
                                        ar.after_class, ar.before_confidence, ar.after_confidence, ar.seconds};
                    if (e->audio_root) {
                        char path[4096];
                        snprintf(path, sizeof path, "%s/%s/run%d/%s", e->audio_root, e->slug[s], r + 1, cs->name[c]);
                        adv_audio w = {out, a->frames, a->channels, a->rate, 0};
                        if (adv_audio_write(path, &w) != 0) {
                            adv_exp_engine_fail(e, adv_error_exit(ADV_EXIT_FAILURE), adv_error());
                            break;
                        }
                    }
                    engine_tick(e, c, clip_seconds(cs, c));
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
                engine_tick(e, c, clip_seconds(cs, c));
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
int adv_exp_engine_go(engine *e, int threads, const char *label, long total)
{
    atomic_store(&e->next, 0);
    e->done = 0;
    e->work_done = 0;
    adv_progress_start(&e->progress, label, total);
    /* every clip's jobs weigh its seconds of audio: the longest clips run first, and an ETA
     * counting jobs would overstate the time left early on */
    long jobs = 0;
    for (int s = 0; s < e->n_settings; s++) jobs += e->runs[s];
    if (e->phase == 1) jobs = e->noise_runs;
    else if (e->n_settings == 0) jobs = 1;
    double work = 0;
    for (long c = 0; c < e->cs->count; c++) work += (double)jobs * clip_seconds(e->cs, c);
    adv_progress_set_work(&e->progress, work);
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
