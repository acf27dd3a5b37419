/* Training: a tiny data set made here (three clearly different classes) must be learned (loss
 * falls); a run interrupted and resumed from its checkpoint ends bit-identical to a straight run;
 * the window count follows the paper; evaluation tallies and the column-normalised confusion
 * matrix match a hand-made case; the CSV and PNG writers produce files. */
#include "testutil.h"
#include "advinst/audio.h"
#include "advinst/error.h"
#include "advinst/train.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const int classes[3] = {6, 3, 9};   /* glockenspiel, bass_guitar, hi-hat */

static void make_clip(int kind, int index, float *x, long n)
{
    uint64_t rng = 1000u * (uint64_t)kind + (uint64_t)index;
    double f0 = (kind == 0 ? 1800.0 : 70.0) * (1.0 + 0.05 * index);
    for (long i = 0; i < n; i++) {
        double t = (double)i / 16000.0, v;
        if (kind == 2) v = (fmod(t, 0.25) < 0.03 ? 0.5 : 0.01) * adv_rng_normal(&rng);
        else v = 0.4 * exp(-2 * t) * (sin(2 * M_PI * f0 * t) + 0.3 * sin(4 * M_PI * f0 * t));
        x[i] = (float)v;
    }
}

static const char *make_dataset(void)
{
    const char *dir = tu_scratch_dir("train");
    char path[1200];
    snprintf(path, sizeof path, "%s/audio", dir);
    mkdir(path, 0755);
    adv_dataset ds;
    adv_dataset_init(&ds);
    ds.dir = strdup(dir);
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 8; i++) {
            adv_audio a;
            long n = 16000 + 1000 * i;
            adv_audio_alloc(&a, n, 1, 16000, 0);
            make_clip(k, i, a.samples, n);
            char fname[64];
            snprintf(fname, sizeof fname, "c%d_%d.wav", k, i);
            snprintf(path, sizeof path, "%s/audio/%s", dir, fname);
            CHECK(adv_audio_write(path, &a) == 0, "write %s: %s", path, adv_error());
            adv_audio_free(&a);
            adv_dataset_add(&ds, fname, classes[k], i < 6 ? ADV_SPLIT_TRAIN : ADV_SPLIT_VALID);
        }
    snprintf(path, sizeof path, "%s/labels.csv", dir);
    CHECK(adv_dataset_write_labels(path, &ds) == 0, "labels.csv: %s", adv_error());
    adv_dataset_free(&ds);
    return dir;
}

static double last_loss(const char *log_path, int column)
{
    FILE *f = fopen(log_path, "r");
    if (!f) return NAN;
    char line[512];
    double v = NAN;
    while (fgets(line, sizeof line, f)) {
        if (line[0] < '0' || line[0] > '9') continue;
        char *p = line;
        for (int c = 0; c < column && p; c++) { p = strchr(p, ','); if (p) p++; }
        if (p) v = atof(p);
    }
    fclose(f);
    return v;
}

static int files_equal(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) same = 0;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

int main(void)
{
    CHECK(adv_train_windows(10) == 1 && adv_train_windows(116) == 1, "short clips: one window");
    CHECK(adv_train_windows(117) == 2 && adv_train_windows(174) == 2 && adv_train_windows(175) == 3,
          "ceil((T - 116) / 58) + 1 windows");

    const char *dir = make_dataset();
    adv_dataset ds;
    CHECK(adv_dataset_load(dir, &ds) == 0, "load: %s", adv_error());
    adv_spectra sp;
    CHECK(adv_spectra_compute(&ds, &sp, 0) == 0, "spectra: %s", adv_error());
    CHECK(sp.count == 24 && sp.frames[0] == 32, "24 clips, 32 frames for 1 s");
    int flat = 0;
    for (int m = 0; m < ADV_N_MELS; m++) flat += !(sp.std[m] > 0) || !isfinite(sp.mean[m]);
    CHECK(flat == 0, "normalisation statistics finite and positive");

    char out[1200], ckpt[1200], log[1200], out2[1200], log2[1200];
    snprintf(ckpt, sizeof ckpt, "%s/run.ckpt.safetensors", dir);
    snprintf(log, sizeof log, "%s/run.csv", dir);
    snprintf(log2, sizeof log2, "%s/run2.csv", dir);
    snprintf(out, sizeof out, "%s/straight.safetensors", dir);
    snprintf(out2, sizeof out2, "%s/resumed.safetensors", dir);

    adv_train_options o;
    adv_train_options_default(&o);
    o.epochs = 8;
    o.batch = 4;
    o.decay_epoch = 6;
    o.seed = 5;
    o.log_path = log;
    adv_model *m = adv_model_create(o.seed);
    CHECK(adv_train(&m, &sp, &o) == 0, "train: %s", adv_error());
    double first = NAN;
    {
        FILE *f = fopen(log, "r");
        char line[512];
        if (f) {
            if (fgets(line, sizeof line, f) && fgets(line, sizeof line, f)) first = atof(strchr(line, ',') + 1);
            fclose(f);
        }
    }
    double last = last_loss(log, 1), acc = last_loss(log, 2);
    printf("  train loss %.4f -> %.4f, train accuracy %.3f\n", first, last, acc);
    CHECK(last < 0.7 * first, "the loss falls (%.4f -> %.4f)", first, last);
    CHECK(adv_model_save(m, out) == 0, "save");
    adv_eval ev;
    CHECK(adv_evaluate_spectra(m, &sp, ADV_SPLIT_VALID, &ev) == 0 && ev.clips == 6, "evaluate 6 validation clips");
    adv_model_free(m);

    /* interrupted after 3 epochs (checkpoint), resumed to 8: identical to the straight run */
    o.epochs = 3;
    o.checkpoint_path = ckpt;
    o.log_path = log2;
    m = adv_model_create(o.seed);
    CHECK(adv_train(&m, &sp, &o) == 0, "first part: %s", adv_error());
    adv_model_free(m);
    o.epochs = 8;
    o.resume_path = ckpt;
    m = adv_model_create(99);   /* replaced by the checkpoint */
    CHECK(adv_train(&m, &sp, &o) == 0, "resumed part: %s", adv_error());
    CHECK(adv_model_save(m, out2) == 0, "save resumed");
    adv_model_free(m);
    CHECK(files_equal(out, out2), "resumed run is bit-identical to the straight run");

    /* a stop request mid-epoch writes a checkpoint that resumes exactly as well */
    volatile sig_atomic_t stop = 1;
    o.resume_path = NULL;
    o.stop = &stop;
    m = adv_model_create(o.seed);
    CHECK(adv_train(&m, &sp, &o) == 1, "stop request ends early with a checkpoint");
    adv_model_free(m);
    o.stop = NULL;
    o.resume_path = ckpt;
    m = adv_model_create(1);
    CHECK(adv_train(&m, &sp, &o) == 0, "resume after stop: %s", adv_error());
    CHECK(adv_model_save(m, out2) == 0, "save");
    adv_model_free(m);
    CHECK(files_equal(out, out2), "resumed after a mid-epoch stop: bit-identical");

    /* hand-made evaluation: truths 0,0,0,1 predicted 0,0,1,1 */
    adv_eval hand;
    memset(&hand, 0, sizeof hand);
    float logits[ADV_N_CLASSES];
    int truth[4] = {0, 0, 0, 1}, pred[4] = {0, 0, 1, 1};
    for (int i = 0; i < 4; i++) {
        for (int k = 0; k < ADV_N_CLASSES; k++) logits[k] = k == pred[i] ? 3.0f : 0.0f;
        adv_eval_add(&hand, truth[i], logits);
    }
    adv_eval_finish(&hand);
    double cm[ADV_N_CLASSES][ADV_N_CLASSES];
    adv_eval_confusion_normalised(&hand, cm);
    CHECK(fabs(hand.accuracy - 0.75) < 1e-12, "accuracy 3/4");
    CHECK(fabs(cm[0][0] - 2.0 / 3) < 1e-12 && fabs(cm[1][0] - 1.0 / 3) < 1e-12 && cm[1][1] == 1.0 && cm[0][1] == 0.0,
          "columns (true) normalised: [0][0]=%.3f [1][0]=%.3f [1][1]=%.3f", cm[0][0], cm[1][0], cm[1][1]);
    double p3 = exp(3.0) / (exp(3.0) + 11);
    CHECK(fabs(hand.mean_confidence - p3) < 1e-6, "mean confidence");
    adv_model *mm = adv_model_create(1);
    char csv[1200], png[1200];
    snprintf(csv, sizeof csv, "%s/confusion.csv", dir);
    snprintf(png, sizeof png, "%s/confusion.png", dir);
    CHECK(adv_eval_write_confusion_csv(&hand, mm, csv) == 0, "csv");
    CHECK(adv_eval_write_confusion_png(&hand, mm, "test", png) == 0, "png: %s", adv_error());
    struct stat st;
    CHECK(stat(png, &st) == 0 && st.st_size > 1000, "png written");
    adv_model_free(mm);
    adv_spectra_free(&sp);
    adv_dataset_free(&ds);
    return tu_finish("test_train");
}
