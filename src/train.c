/* Training loop, checkpoints, validation and evaluation tallies. See train.h. */
#include "advinst/train.h"
#include "train_recipe.h"
#include "advinst/audio.h"
#include "advinst/error.h"
#include "advinst/outfile.h"
#include "advinst/optim.h"
#include "advinst/progress.h"
#include "advinst/resample.h"
#include "advinst/safetensors.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- spectrograms of a data set */

void adv_spectra_free(adv_spectra *sp)
{
    for (int i = 0; i < sp->count; i++) {
        if (sp->db) free(sp->db[i]);
        if (sp->name) free(sp->name[i]);
    }
    free(sp->db);
    free(sp->name);
    free(sp->label);
    free(sp->split);
    free(sp->frames);
    memset(sp, 0, sizeof *sp);
}

/* Mono 16 kHz samples of an audio file (malloc'd). */
static float *load_mono_16k(const char *path, long *n_out)
{
    adv_audio a;
    if (adv_audio_read(path, &a) != 0) return NULL;
    float *mono = malloc(sizeof(float) * (size_t)a.frames);
    if (!mono) { adv_audio_free(&a); adv_fail("%s: out of memory", path); return NULL; }
    adv_audio_mix_mono(&a, mono);
    long n = a.frames;
    if (a.rate != ADV_SAMPLE_RATE) {
        adv_resampler *r = adv_resampler_create(a.rate, ADV_SAMPLE_RATE, a.frames);
        if (!r) { free(mono); adv_audio_free(&a); return NULL; }
        n = adv_resampler_output_length(r);
        float *y = malloc(sizeof(float) * (size_t)n);
        if (y) adv_resampler_forward(r, mono, y);
        adv_resampler_free(r);
        free(mono);
        mono = y;
        if (!mono) { adv_audio_free(&a); adv_fail("%s: out of memory", path); return NULL; }
    }
    adv_audio_free(&a);
    *n_out = n;
    return mono;
}

int adv_spectra_compute(const adv_dataset *ds, adv_spectra *sp, int progress)
{
    memset(sp, 0, sizeof *sp);
    int n = (int)ds->count;
    sp->count = n;
    sp->label = calloc((size_t)n, sizeof(int));
    sp->split = calloc((size_t)n, sizeof(int));
    sp->frames = calloc((size_t)n, sizeof(int));
    sp->db = calloc((size_t)n, sizeof(float *));
    sp->name = calloc((size_t)n, sizeof(char *));
    if (!sp->label || !sp->split || !sp->frames || !sp->db || !sp->name) {
        adv_spectra_free(sp);
        return adv_fail("out of memory for %d spectrograms", n);
    }
    adv_progress bar;
    adv_progress_start(&bar, "spectrograms", n);
    if (!progress) bar.enabled = 0;
    for (int i = 0; i < n; i++) {
        sp->label[i] = ds->entries[i].label;
        sp->split[i] = ds->entries[i].split;
        sp->name[i] = strdup(ds->entries[i].fname);
        char *path = adv_dataset_audio_path(ds, i);
        long len = 0;
        float *x = path ? load_mono_16k(path, &len) : NULL;
        if (!x) {
            if (!path) adv_fail("out of memory");
            free(path);
            adv_spectra_free(sp);
            return -1;
        }
        adv_frontend *fe = adv_frontend_create(len, NULL, NULL);
        if (!fe) {
            adv_fail("%s: %s", path, adv_error());
            free(x);
            free(path);
            adv_spectra_free(sp);
            return -1;
        }
        int T = adv_frontend_frames(fe), Tp = adv_frontend_padded_frames(fe);
        float *out = malloc(sizeof(float) * ADV_N_MELS * (size_t)Tp);
        sp->db[i] = malloc(sizeof(float) * ADV_N_MELS * (size_t)T);
        if (!out || !sp->db[i]) {
            free(out);
            adv_frontend_free(fe);
            free(x);
            free(path);
            adv_spectra_free(sp);
            return adv_fail("out of memory");
        }
        adv_frontend_forward(fe, x, out);
        memcpy(sp->db[i], adv_frontend_db(fe), sizeof(float) * ADV_N_MELS * (size_t)T);
        sp->frames[i] = T;
        free(out);
        adv_frontend_free(fe);
        free(x);
        free(path);
        adv_progress_update(&bar, i + 1, NULL);
    }
    adv_progress_finish(&bar);

    /* per-band mean and population std over every frame of every training clip */
    double sum[ADV_N_MELS] = {0}, sum2[ADV_N_MELS] = {0};
    long frames = 0;
    for (int i = 0; i < n; i++) {
        if (sp->split[i] != ADV_SPLIT_TRAIN) continue;
        int T = sp->frames[i];
        for (int m = 0; m < ADV_N_MELS; m++)
            for (int t = 0; t < T; t++) { double v = sp->db[i][m * T + t]; sum[m] += v; }
        frames += T;
    }
    if (frames == 0) {
        /* no training split (evaluation only): neutral statistics */
        for (int m = 0; m < ADV_N_MELS; m++) { sp->mean[m] = 0; sp->std[m] = 1; }
        return 0;
    }
    for (int m = 0; m < ADV_N_MELS; m++) sp->mean[m] = (float)(sum[m] / frames);
    for (int i = 0; i < n; i++) {
        if (sp->split[i] != ADV_SPLIT_TRAIN) continue;
        int T = sp->frames[i];
        for (int m = 0; m < ADV_N_MELS; m++)
            for (int t = 0; t < T; t++) { double d = sp->db[i][m * T + t] - sp->mean[m]; sum2[m] += d * d; }
    }
    for (int m = 0; m < ADV_N_MELS; m++) {
        double s = sqrt(sum2[m] / frames);
        sp->std[m] = (float)(s > 1e-6 ? s : 1e-6);   /* a constant band must not divide by zero */
    }
    return 0;
}

int adv_train_windows(int frames)
{
    if (frames <= ADV_TRAIN_WINDOW) return 1;
    return (frames - ADV_TRAIN_WINDOW + ADV_TRAIN_HOP - 1) / ADV_TRAIN_HOP + 1;
}

/* ---------------------------------------------------------------- evaluation tallies */

void adv_eval_add(adv_eval *ev, int truth, const float *logits)
{
    float probs[ADV_N_CLASSES];
    adv_softmax_temperature(ev->temperature, logits, probs);
    int best = adv_most_likely(probs);
    ev->clips++;
    ev->correct += best == truth;
    ev->mean_confidence += probs[best];
    ev->loss += -log(fmax((double)probs[truth], 1e-30));
    ev->confusion[best][truth]++;
    ev->per_class_total[truth]++;
    ev->per_class_correct[truth] += best == truth;
    int b = (int)(probs[best] * ADV_CALIBRATION_BINS);
    if (b >= ADV_CALIBRATION_BINS) b = ADV_CALIBRATION_BINS - 1;
    ev->bin_count[b]++;
    ev->bin_confidence[b] += probs[best];
    ev->bin_correct[b] += best == truth;
    if (best != truth) { ev->wrong++; ev->wrong_confidence += probs[best]; }
}

void adv_eval_finish(adv_eval *ev)
{
    if (ev->clips == 0) return;
    ev->accuracy = (double)ev->correct / ev->clips;
    ev->mean_confidence /= ev->clips;
    ev->loss /= ev->clips;
    ev->ece = 0;
    for (int b = 0; b < ADV_CALIBRATION_BINS; b++) {
        ev->ece += fabs(ev->bin_correct[b] - ev->bin_confidence[b]) / (double)ev->clips;
        if (ev->bin_count[b]) {
            ev->bin_confidence[b] /= ev->bin_count[b];
            ev->bin_correct[b] /= ev->bin_count[b];
        }
    }
    if (ev->wrong) ev->wrong_confidence /= ev->wrong;
}

void adv_eval_confusion_normalised(const adv_eval *ev, double out[ADV_N_CLASSES][ADV_N_CLASSES])
{
    for (int t = 0; t < ADV_N_CLASSES; t++) {
        long col = 0;
        for (int p = 0; p < ADV_N_CLASSES; p++) col += ev->confusion[p][t];
        for (int p = 0; p < ADV_N_CLASSES; p++) out[p][t] = col ? (double)ev->confusion[p][t] / col : 0.0;
    }
}

/* Normalised network input (100 x Tp, band-major) of a spectrogram. */
static void normalise_padded(const float *db, int T, const float *mean, const float *std, float *out, int Tp, int *src)
{
    adv_circular_pad_index(T, Tp, src);
    for (int m = 0; m < ADV_N_MELS; m++) {
        float inv = 1.0f / std[m];
        for (int j = 0; j < Tp; j++) out[m * Tp + j] = (db[m * T + src[j]] - mean[m]) * inv;
    }
}

int adv_evaluate_spectra(adv_model *m, const adv_spectra *sp, int split, adv_eval *ev)
{
    return adv_evaluate_spectra_logits(m, sp, split, ev, NULL, NULL);
}

int adv_evaluate_spectra_logits(adv_model *m, const adv_spectra *sp, int split, adv_eval *ev, float *logits_out,
                                int *index_out)
{
    memset(ev, 0, sizeof *ev);
    adv_net *net = NULL;   /* one workspace while the clips have the same length */
    ev->temperature = adv_model_temperature(m);
    long done = 0;
    for (int i = 0; i < sp->count; i++) {
        if (split >= 0 && sp->split[i] != split) continue;
        int T = sp->frames[i], Tp = T < ADV_MIN_FRAMES ? ADV_MIN_FRAMES : T;
        float *x = malloc(sizeof(float) * ADV_N_MELS * (size_t)Tp);
        int *src = malloc(sizeof(int) * (size_t)Tp);
        if (net && adv_net_frames(net) != Tp) { adv_net_free(net); net = NULL; }
        if (!net && x && src) net = adv_net_create(m, 1, Tp, 0, 0);
        if (!net || !x || !src) {
            const int oom = !x || !src;
            adv_net_free(net);
            free(x);
            free(src);
            return adv_fail("%s: cannot evaluate: %s", sp->name[i], oom ? "out of memory" : adv_error());
        }
        normalise_padded(sp->db[i], T, m->fe_mean, m->fe_std, x, Tp, src);
        float logits[ADV_N_CLASSES];
        adv_net_forward(net, x, logits);
        adv_eval_add(ev, sp->label[i], logits);
        if (logits_out) memcpy(logits_out + done * ADV_N_CLASSES, logits, sizeof logits);
        if (index_out) index_out[done] = i;
        done++;
        free(x);
        free(src);
    }
    adv_net_free(net);
    adv_eval_finish(ev);
    return 0;
}

/* ---------------------------------------------------------------- training */

void adv_train_options_default(adv_train_options *o)
{
    memset(o, 0, sizeof *o);
    o->epochs = 150;
    o->batch = 16;
    o->lr = 1e-3f;
    o->decay_epoch = 90;
    o->seed = 1;
    o->calibrate = 1;
}

/* A well-mixed 64-bit seed for (seed, a, b): every random choice of training derives from one. */
static uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b)
{
    uint64_t s = seed ^ (a * 0x9e3779b97f4a7c15ULL) ^ (b * 0xc2b2ae3d27d4eb4fULL);
    adv_rng_next(&s);
    return adv_rng_next(&s);
}

/* Clip i's normalised spectrogram, circularly padded to fill its last window. */
typedef struct {
    int length;      /* (windows - 1) * 58 + 116 */
    int windows;
    float *x;        /* 100 x length */
} train_clip;

/* Running tallies of a partly done epoch, so a resumed epoch logs the same figures. */
typedef struct { double loss_sum; long correct, seen; } epoch_tally;

static int checkpoint_write(const adv_model *m, const adv_adam *adam, int epoch, int batch_in_epoch,
                            const epoch_tally *tally, const char *log_text, const adv_train_options *o,
                            const char *path)
{
    adv_st st = {0};
    int rc = adv_model_to_st(m, &st);
    int64_t shape[1] = {(int64_t)adam->n};
    char buf[64];
    if (rc == 0) rc = adv_st_add(&st, "optim.adam.m", ADV_DTYPE_F32, 1, shape, adam->m);
    if (rc == 0) rc = adv_st_add(&st, "optim.adam.v", ADV_DTYPE_F32, 1, shape, adam->v);
    snprintf(buf, sizeof buf, "%ld", adam->step);
    if (rc == 0) rc = adv_st_set_meta(&st, "checkpoint.adam_step", buf);
    snprintf(buf, sizeof buf, "%d", epoch);
    if (rc == 0) rc = adv_st_set_meta(&st, "checkpoint.epoch", buf);
    snprintf(buf, sizeof buf, "%d", batch_in_epoch);
    if (rc == 0) rc = adv_st_set_meta(&st, "checkpoint.batch", buf);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)o->seed);
    if (rc == 0) rc = adv_st_set_meta(&st, "checkpoint.seed", buf);
    snprintf(buf, sizeof buf, "%d", o->batch);
    if (rc == 0) rc = adv_st_set_meta(&st, "checkpoint.batch_size", buf);
    snprintf(buf, sizeof buf, "%.17g,%ld,%ld", tally->loss_sum, tally->correct, tally->seen);
    if (rc == 0) rc = adv_st_set_meta(&st, "checkpoint.tally", buf);
    if (rc == 0) rc = adv_st_set_meta(&st, "checkpoint.log", log_text ? log_text : "");
    if (rc == 0) rc = adv_st_write(&st, path);
    adv_st_free(&st);
    return rc;
}

/* Loads a checkpoint: the model, Adam's moments and step, where to continue, and the log so far. */
static int checkpoint_read(const char *path, const adv_train_options *o, adv_model **model, adv_adam *adam,
                           int *epoch, int *batch_in_epoch, epoch_tally *tally, char **log_text)
{
    adv_st st;
    if (adv_st_read(path, &st) != 0) return -1;
    int rc = -1;
    adv_model *m = adv_model_from_st(path, &st, "optim.");
    const adv_tensor *mt = adv_st_find(&st, "optim.adam.m"), *vt = adv_st_find(&st, "optim.adam.v");
    const char *ep = adv_st_meta(&st, "checkpoint.epoch"), *bt = adv_st_meta(&st, "checkpoint.batch");
    const char *step = adv_st_meta(&st, "checkpoint.adam_step"), *seed = adv_st_meta(&st, "checkpoint.seed");
    const char *bs = adv_st_meta(&st, "checkpoint.batch_size"), *log = adv_st_meta(&st, "checkpoint.log");
    if (!m) goto done;
    if (!mt || !vt || !ep || !bt || !step || !seed || !bs || mt->dtype != ADV_DTYPE_F32 || vt->dtype != ADV_DTYPE_F32 ||
        mt->nbytes != sizeof(float) * m->n_params || vt->nbytes != sizeof(float) * m->n_params) {
        adv_fail("%s: not a training checkpoint (optimiser state missing or malformed)", path);
        goto done;
    }
    if (strtoull(seed, NULL, 10) != o->seed || atoi(bs) != o->batch) {
        adv_fail("%s: checkpoint was made with --seed %s --batch %s; resume with the same values", path, seed, bs);
        goto done;
    }
    memcpy(adam->m, mt->data, mt->nbytes);
    memcpy(adam->v, vt->data, vt->nbytes);
    adam->step = atol(step);
    *epoch = atoi(ep);
    *batch_in_epoch = atoi(bt);
    *log_text = strdup(log ? log : "");
    const char *ts = adv_st_meta(&st, "checkpoint.tally");
    memset(tally, 0, sizeof *tally);
    if (ts && sscanf(ts, "%lg,%ld,%ld", &tally->loss_sum, &tally->correct, &tally->seen) != 3) memset(tally, 0, sizeof *tally);
    /* the checkpoint's own bookkeeping is not the model's metadata */
    int kept = 0;
    for (int i = 0; i < m->meta_count; i++) {
        if (!strncmp(m->meta_keys[i], "checkpoint.", 11)) { free(m->meta_keys[i]); free(m->meta_values[i]); continue; }
        m->meta_keys[kept] = m->meta_keys[i];
        m->meta_values[kept++] = m->meta_values[i];
    }
    m->meta_count = kept;
    adv_model_free(*model);
    *model = m;
    m = NULL;
    rc = 0;
done:
    adv_model_free(m);
    adv_st_free(&st);
    return rc;
}

static int append_text(char **text, size_t *len, const char *line)
{
    size_t add = strlen(line);
    char *t = realloc(*text, *len + add + 1);
    if (!t) return adv_fail("out of memory");
    memcpy(t + *len, line, add + 1);
    *text = t;
    *len += add;
    return 0;
}

/* Writes the CSV log atomically from the accumulated text. */
static int write_log(const char *path, const char *text)
{
    adv_outfile *out = adv_outfile_open(path, ADV_OUTFILE_REPLACE);
    if (!out) return -1;
    FILE *f = adv_outfile_stream(out);
    if (f) {
        fputs("epoch,train_loss,train_accuracy,valid_loss,valid_accuracy,seconds,valid_ece\n", f);
        fputs(text, f);
    }
    return adv_outfile_commit(out);   /* fails after any write error */
}

int adv_train(adv_model **model, const adv_spectra *sp, const adv_train_options *o)
{
    adv_model *m = *model;
    int rc = -1;
    const int B = o->batch;
    if (B < 1 || o->epochs < 1) return adv_fail("batch size and epochs must be at least 1");

    long *train_idx = malloc(sizeof(long) * (size_t)sp->count);
    train_clip *clips = calloc((size_t)sp->count, sizeof(train_clip));
    float *xb = malloc(sizeof(float) * (size_t)B * ADV_N_MELS * ADV_TRAIN_WINDOW);
    float *gl = malloc(sizeof(float) * (size_t)B * ADV_N_CLASSES), *logits = malloc(sizeof(float) * (size_t)B * ADV_N_CLASSES);
    int *labels = malloc(sizeof(int) * (size_t)B);
    float *targets = malloc(sizeof(float) * (size_t)B * ADV_N_CLASSES);
    adv_net *net_full = NULL, *net_last = NULL;
    adv_adam adam = {0};
    char *log_text = NULL;
    size_t log_len = 0;
    if (!train_idx || !clips || !xb || !gl || !logits || !labels || !targets) { adv_fail("out of memory"); goto done; }

    long n_train = 0;
    for (int i = 0; i < sp->count; i++)
        if (sp->split[i] == ADV_SPLIT_TRAIN) train_idx[n_train++] = i;
    if (n_train == 0) { adv_fail("the data set has no training clips"); goto done; }
    const long steps = (n_train + B - 1) / B;
    const int last_batch = (int)(n_train - (steps - 1) * B);

    if (adv_adam_init(&adam, m->n_params, o->lr) != 0) goto done;
    int start_epoch = 0, start_batch = 0;
    epoch_tally resume_tally = {0, 0, 0};
    if (o->resume_path) {
        if (checkpoint_read(o->resume_path, o, model, &adam, &start_epoch, &start_batch, &resume_tally, &log_text) != 0) goto done;
        m = *model;
        log_len = strlen(log_text);
    } else {
        memcpy(m->fe_mean, sp->mean, sizeof m->fe_mean);
        memcpy(m->fe_std, sp->std, sizeof m->fe_std);
    }

    /* normalised, window-padded spectrograms of the training clips (with the model's statistics) */
    for (long j = 0; j < n_train; j++) {
        int i = (int)train_idx[j], T = sp->frames[i];
        train_clip *c = &clips[i];
        c->windows = adv_train_windows(T);
        c->length = (c->windows - 1) * ADV_TRAIN_HOP + ADV_TRAIN_WINDOW;
        c->x = malloc(sizeof(float) * ADV_N_MELS * (size_t)c->length);
        int *src = malloc(sizeof(int) * (size_t)c->length);
        if (!c->x || !src) { free(src); adv_fail("out of memory"); goto done; }
        normalise_padded(sp->db[i], T, m->fe_mean, m->fe_std, c->x, c->length, src);
        free(src);
    }

    net_full = adv_net_create(m, B, ADV_TRAIN_WINDOW, 1, 0);
    net_last = last_batch == B ? net_full : adv_net_create(m, last_batch, ADV_TRAIN_WINDOW, 1, 0);
    if (!net_full || !net_last) goto done;

    adv_progress bar;
    adv_progress_start(&bar, "training", (long)(o->epochs - start_epoch) * steps - start_batch);
    if (!o->progress) bar.enabled = 0;
    long done_steps = 0;
    for (int epoch = start_epoch; epoch < o->epochs; epoch++) {
        double t0 = adv_now();
        adam.lr = epoch >= o->decay_epoch ? o->lr * 0.1f : o->lr;
        /* the epoch's order: a seeded Fisher-Yates shuffle */
        uint64_t rng = derive_seed(o->seed, (uint64_t)epoch, 0xffffffffULL);
        long *order = train_idx;
        {
            /* rebuild the training list in file order, then shuffle, so the order depends only on
             * (seed, epoch) and not on earlier epochs */
            long k = 0;
            for (int i = 0; i < sp->count; i++) if (sp->split[i] == ADV_SPLIT_TRAIN) order[k++] = i;
            for (long j = n_train - 1; j > 0; j--) {
                long r = (long)(adv_rng_next(&rng) % (uint64_t)(j + 1));
                long t = order[j]; order[j] = order[r]; order[r] = t;
            }
        }
        double loss_sum = 0;
        long correct = 0, seen = 0;
        int first_batch = epoch == start_epoch ? start_batch : 0;
        if (epoch == start_epoch && start_batch > 0) {
            loss_sum = resume_tally.loss_sum;
            correct = resume_tally.correct;
            seen = resume_tally.seen;
        }
        for (long s = first_batch; s < steps; s++) {
            int nb = s == steps - 1 ? last_batch : B;
            adv_net *net = nb == B ? net_full : net_last;
            uint64_t brng = derive_seed(o->seed, (uint64_t)epoch, (uint64_t)s);
            for (int b = 0; b < nb; b++) {
                const train_clip *c = &clips[order[s * B + b]];
                int w = (int)(adv_rng_next(&brng) % (uint64_t)c->windows);
                for (int mm = 0; mm < ADV_N_MELS; mm++)
                    memcpy(xb + ((size_t)b * ADV_N_MELS + mm) * ADV_TRAIN_WINDOW,
                           c->x + (size_t)mm * c->length + (size_t)w * ADV_TRAIN_HOP, sizeof(float) * ADV_TRAIN_WINDOW);
                labels[b] = sp->label[order[s * B + b]];
            }
            adv_net_set_rng(net, adv_rng_next(&brng));
            int soft = recipe_active(o);
            if (soft) recipe_batch(xb, nb, labels, targets, derive_seed(o->seed ^ 0xA0617E5ULL, (uint64_t)epoch, (uint64_t)s), o);
            adv_model_zero_grad(m);
            adv_net_forward(net, xb, logits);
            float loss = soft ? recipe_soft_cross_entropy(nb, logits, targets, gl)
                              : adv_cross_entropy(nb, ADV_N_CLASSES, logits, labels, gl);
            adv_net_backward(net, gl, NULL);
            adv_adam_step(&adam, m->param_block, m->grad_block);
            loss_sum += (double)loss * nb;
            for (int b = 0; b < nb; b++) {
                int best = adv_most_likely(logits + b * ADV_N_CLASSES);
                correct += best == labels[b];
            }
            seen += nb;
            done_steps++;
            char status[96];
            snprintf(status, sizeof status, "epoch %d/%d loss %.3f acc %.3f", epoch + 1, o->epochs,
                     loss_sum / seen, (double)correct / seen);
            adv_progress_update(&bar, done_steps, status);
            if (o->stop && *o->stop && !(epoch == o->epochs - 1 && s == steps - 1)) {
                /* a stop in the last batch of an epoch still validates and logs that epoch first */
                if (s + 1 == steps) break;
                adv_progress_finish(&bar);
                epoch_tally t = {loss_sum, correct, seen};
                if (o->checkpoint_path &&
                    checkpoint_write(m, &adam, epoch, (int)s + 1, &t, log_text, o, o->checkpoint_path) != 0)
                    goto done;
                rc = 1;
                goto done;
            }
        }
        adv_eval ev;
        if (adv_evaluate_spectra(m, sp, ADV_SPLIT_VALID, &ev) != 0) goto done;
        char line[256];
        snprintf(line, sizeof line, "%d,%.6f,%.6f,%.6f,%.6f,%.2f,%.4f\n", epoch + 1, seen ? loss_sum / seen : 0,
                 seen ? (double)correct / seen : 0, ev.clips ? ev.loss : NAN, ev.clips ? ev.accuracy : NAN,
                 adv_now() - t0, ev.clips ? ev.ece : NAN);
        if (append_text(&log_text, &log_len, line) != 0) goto done;
        if (o->log_path && write_log(o->log_path, log_text) != 0) goto done;
        epoch_tally none = {0, 0, 0};
        if (o->checkpoint_path && checkpoint_write(m, &adam, epoch + 1, 0, &none, log_text, o, o->checkpoint_path) != 0) goto done;
        if (o->stop && *o->stop && epoch + 1 < o->epochs) {
            adv_progress_finish(&bar);
            rc = 1;
            goto done;
        }
        if (!bar.enabled && o->progress) {
            /* no terminal: one quiet line per 10 epochs for logs */
            if ((epoch + 1) % 10 == 0 || epoch + 1 == o->epochs)
                fprintf(stderr, "epoch %d/%d: train loss %.4f acc %.3f, valid loss %.4f acc %.3f\n", epoch + 1,
                        o->epochs, seen ? loss_sum / seen : 0, seen ? (double)correct / seen : 0, ev.loss, ev.accuracy);
        }
    }
    adv_progress_finish(&bar);

    {
        char buf[64];
        adv_eval ev;
        if (adv_evaluate_spectra(m, sp, ADV_SPLIT_VALID, &ev) != 0) goto done;
        if (o->calibrate && recipe_calibrate(m, sp) != 0) goto done;
        if (recipe_active(o)) recipe_metadata(m, o);
        snprintf(buf, sizeof buf, "%d", o->epochs);
        adv_model_set_meta(m, "training.epochs", buf);
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)o->seed);
        adv_model_set_meta(m, "training.seed", buf);
        snprintf(buf, sizeof buf, "%d", o->batch);
        adv_model_set_meta(m, "training.batch", buf);
        snprintf(buf, sizeof buf, "%g", (double)o->lr);
        adv_model_set_meta(m, "training.lr", buf);
        snprintf(buf, sizeof buf, "%d", o->decay_epoch);
        adv_model_set_meta(m, "training.decay_epoch", buf);
        snprintf(buf, sizeof buf, "%ld", n_train);
        adv_model_set_meta(m, "training.train_clips", buf);
        snprintf(buf, sizeof buf, "%ld", ev.clips);
        adv_model_set_meta(m, "training.valid_clips", buf);
        snprintf(buf, sizeof buf, "%.4f", ev.accuracy);
        adv_model_set_meta(m, "training.valid_accuracy", buf);
        if (o->data_name) adv_model_set_meta(m, "training.data", o->data_name);
    }
    rc = 0;
done:
    if (net_last != net_full) adv_net_free(net_last);
    adv_net_free(net_full);
    adv_adam_free(&adam);
    if (clips)
        for (int i = 0; i < sp->count; i++) free(clips[i].x);
    free(clips);
    free(train_idx);
    free(xb);
    free(gl);
    free(logits);
    free(labels);
    free(targets);
    free(log_text);
    return rc;
}
