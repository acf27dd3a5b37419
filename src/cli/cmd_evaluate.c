/* advinst evaluate: accuracy, per-class accuracy, calibration (ECE, confidence when wrong,
 * reliability diagram) and confusion matrix of a model on a data set split or a folder of labelled
 * recordings. */
#include "cli.h"
#include "advinst/error.h"
#include "advinst/outfile.h"
#include "advinst/paths.h"
#include "advinst/train.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void help(void)
{
    printf("usage: advinst evaluate [--model FILE] --data DIR [--split valid|train|all] [--json] [--out DIR]\n\n"
           "Classifies every clip of a split (whole clips, evaluation mode) and reports accuracy,\n"
           "per-class accuracy, calibration (expected calibration error over 15 confidence bins, mean\n"
           "confidence, mean confidence when wrong) and the confusion matrix (columns true classes,\n"
           "rows predictions, each column normalised to sum 1). Probabilities use the model's\n"
           "temperature (calibration.temperature; 1 when absent).\n\n"
           "DIR is a data set (labels.csv \"fname,label,split\" + audio/) or a folder of recordings with a\n"
           "labels.csv \"fname,label\" beside them (labels as class names or FSDKaggle2019 labels).\n\n"
           "  -m, --model FILE      model (default: the shipped model)\n"
           "  -d, --data DIR        data set directory or folder of labelled recordings\n"
           "  -s, --split S         valid (default), train or all (a folder: all its clips)\n"
           "  -T, --temperature T   use T instead of the model's temperature (1: uncalibrated)\n"
           "  -j, --json            one JSON object on stdout\n"
           "  -o, --out DIR         also write DIR/confusion.csv, confusion.png, reliability.png\n"
           "                        and predictions.csv (fname,label,prediction,confidence)\n"
           "  -h, --help            this help\n");
}

/* One row per evaluated clip: file, true label, prediction, its (calibrated) probability. */
static int write_predictions(const char *path, const adv_model *m, const adv_spectra *sp, const float *logits,
                             const int *index, long n)
{
    adv_outfile *out = adv_outfile_open(path, ADV_OUTFILE_REPLACE);
    if (!out) return -1;
    FILE *f = adv_outfile_stream(out);
    if (f) {
        fputs("fname,label,prediction,confidence\n", f);
        for (long i = 0; i < n; i++) {
            float p[ADV_N_CLASSES];
            adv_model_probs(m, logits + i * ADV_N_CLASSES, p);
            int best = 0;
            for (int k = 1; k < ADV_N_CLASSES; k++) if (p[k] > p[best]) best = k;
            fprintf(f, "%s,%s,%s,%.4f\n", sp->name[index[i]], m->classes[sp->label[index[i]]], m->classes[best], p[best]);
        }
    }
    return adv_outfile_commit(out);
}

int cmd_evaluate(int argc, char **argv)
{
    static const struct option options[] = {
        {"model", required_argument, 0, 'm'}, {"data", required_argument, 0, 'd'},
        {"split", required_argument, 0, 's'}, {"json", no_argument, 0, 'j'},
        {"out", required_argument, 0, 'o'}, {"temperature", required_argument, 0, 'T'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *model_path = NULL, *data = NULL, *out = NULL, *split_name = "valid";
    int json = 0, opt;
    double temperature = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "m:d:s:jo:T:h", options, NULL)) != -1) {
        switch (opt) {
        case 'm': model_path = optarg; break;
        case 'd': data = optarg; break;
        case 's': split_name = optarg; break;
        case 'j': json = 1; break;
        case 'o': out = optarg; break;
        case 'T':
            if (cli_parse_float(optarg, &temperature) || !(temperature >= 0.01 && temperature <= 100))
                return cli_error("evaluate", ADV_EXIT_USAGE, "--temperature needs a number in [0.01, 100], got '%s'", optarg);
            break;
        case 'h': help(); return ADV_EXIT_OK;
        default: return cli_bad_option("evaluate", argv);
        }
    }
    if (optind < argc) return cli_error("evaluate", ADV_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
    if (!data) return cli_error("evaluate", ADV_EXIT_USAGE, "--data is required (see --help)");
    int split;
    if (!strcmp(split_name, "valid")) split = ADV_SPLIT_VALID;
    else if (!strcmp(split_name, "train")) split = ADV_SPLIT_TRAIN;
    else if (!strcmp(split_name, "all")) split = -1;
    else return cli_error("evaluate", ADV_EXIT_USAGE, "unknown split '%s' (valid, train, all)", split_name);
    if (!model_path) model_path = adv_default_model_path();
    if (!model_path)
        return cli_error("evaluate", ADV_EXIT_INPUT, "no model: models/default.safetensors was not found; pass --model FILE");
    adv_model *m = adv_model_load(model_path);
    if (!m) return cli_error("evaluate", ADV_EXIT_INPUT, "%s", adv_error());
    adv_dataset ds;
    if (adv_dataset_load(data, &ds) != 0) {
        adv_model_free(m);
        return cli_error("evaluate", ADV_EXIT_INPUT, "%s", adv_error());
    }
    adv_spectra sp;
    adv_eval ev;
    int code = ADV_EXIT_OK;
    float *logits = NULL;
    int *index = NULL;
    if (adv_spectra_compute(&ds, &sp, 1) != 0) {
        code = cli_error("evaluate", ADV_EXIT_INPUT, "%s", adv_error());
        goto done_ds;
    }
    if (ds.flat) split = -1;
    if (temperature > 0) {
        char t[32];
        snprintf(t, sizeof t, "%.17g", temperature);
        adv_model_set_meta(m, ADV_META_TEMPERATURE, t);
    }
    logits = malloc(sizeof(float) * ADV_N_CLASSES * (size_t)(sp.count > 0 ? sp.count : 1));
    index = malloc(sizeof(int) * (size_t)(sp.count > 0 ? sp.count : 1));
    if (!logits || !index) {
        code = cli_error("evaluate", ADV_EXIT_FAILURE, "out of memory");
        goto done;
    }
    if (adv_evaluate_spectra_logits(m, &sp, split, &ev, logits, index) != 0) {
        code = cli_error("evaluate", ADV_EXIT_FAILURE, "%s", adv_error());
        goto done;
    }
    if (ev.clips == 0) {
        code = cli_error("evaluate", ADV_EXIT_INPUT, "%s: no clips in split '%s'", data, split_name);
        goto done;
    }
    double cm[ADV_N_CLASSES][ADV_N_CLASSES];
    adv_eval_confusion_normalised(&ev, cm);
    if (out) {
        if (mkdir(out, 0755) != 0 && errno != EEXIST) {
            code = cli_error("evaluate", ADV_EXIT_OUTPUT, "%s: cannot create: %s", out, strerror(errno));
            goto done;
        }
        char path[4096], title[256];
        snprintf(path, sizeof path, "%s/confusion.csv", out);
        snprintf(title, sizeof title, "%s, %s: accuracy %.3f (%ld clips)", adv_path_base(model_path),
                 ds.flat ? data : split_name, ev.accuracy, ev.clips);
        if (adv_eval_write_confusion_csv(&ev, m, path) != 0) { code = cli_error("evaluate", ADV_EXIT_OUTPUT, "%s", adv_error()); goto done; }
        snprintf(path, sizeof path, "%s/confusion.png", out);
        if (adv_eval_write_confusion_png(&ev, m, title, path) != 0) { code = cli_error("evaluate", ADV_EXIT_OUTPUT, "%s", adv_error()); goto done; }
        snprintf(path, sizeof path, "%s/reliability.png", out);
        snprintf(title, sizeof title, "%s, %s: temperature %.3g", model_path, ds.flat ? data : split_name, ev.temperature);
        if (adv_eval_write_reliability_png(&ev, title, path) != 0) { code = cli_error("evaluate", ADV_EXIT_OUTPUT, "%s", adv_error()); goto done; }
        snprintf(path, sizeof path, "%s/predictions.csv", out);
        if (write_predictions(path, m, &sp, logits, index, ev.clips) != 0) { code = cli_error("evaluate", ADV_EXIT_OUTPUT, "%s", adv_error()); goto done; }
    }
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", model_path);
        cJSON_AddStringToObject(o, "data", data);
        cJSON_AddStringToObject(o, "split", split_name);
        cJSON_AddNumberToObject(o, "clips", (double)ev.clips);
        cJSON_AddNumberToObject(o, "accuracy", ev.accuracy);
        cJSON_AddNumberToObject(o, "mean_confidence", ev.mean_confidence);
        cJSON_AddNumberToObject(o, "temperature", ev.temperature);
        cJSON_AddNumberToObject(o, "ece", ev.ece);
        cJSON_AddNumberToObject(o, "wrong", (double)ev.wrong);
        cJSON_AddNumberToObject(o, "mean_confidence_wrong", ev.wrong_confidence);
        cJSON_AddNumberToObject(o, "loss", ev.loss);
        cJSON *pc = cJSON_AddObjectToObject(o, "per_class_accuracy");
        for (int k = 0; k < ADV_N_CLASSES; k++)
            if (ev.per_class_total[k]) cJSON_AddNumberToObject(pc, m->classes[k], (double)ev.per_class_correct[k] / ev.per_class_total[k]);
        cJSON *conf = cJSON_AddArrayToObject(o, "confusion");
        for (int p = 0; p < ADV_N_CLASSES; p++) {
            cJSON *row = cJSON_CreateArray();
            for (int t = 0; t < ADV_N_CLASSES; t++) cJSON_AddItemToArray(row, cJSON_CreateNumber(cm[p][t]));
            cJSON_AddItemToArray(conf, row);
        }
        char *s = cJSON_PrintUnformatted(o);
        puts(s);
        cJSON_free(s);
        cJSON_Delete(o);
    } else {
        printf("%s on %s (%s, %ld clips)\n", model_path, data, ds.flat ? "all clips" : split_name, ev.clips);
        printf("accuracy %.4f (%ld of %ld)  mean confidence %.4f  loss %.4f\n", ev.accuracy, ev.correct, ev.clips,
               ev.mean_confidence, ev.loss);
        printf("calibration: temperature %.4g  ECE %.4f  mean confidence when wrong %.4f (%ld wrong)\n\nper class:\n",
               ev.temperature, ev.ece, ev.wrong_confidence, ev.wrong);
        for (int k = 0; k < ADV_N_CLASSES; k++)
            if (ev.per_class_total[k])
                printf("  %-24s %.3f (%ld/%ld)\n", m->classes[k], (double)ev.per_class_correct[k] / ev.per_class_total[k],
                       ev.per_class_correct[k], ev.per_class_total[k]);
        printf("\nconfusion (rows predicted, columns true, columns sum to 1):\n%24s", "");
        for (int t = 0; t < ADV_N_CLASSES; t++) printf(" %5.5s", m->classes[t]);
        putchar('\n');
        for (int p = 0; p < ADV_N_CLASSES; p++) {
            printf("%24s", m->classes[p]);
            for (int t = 0; t < ADV_N_CLASSES; t++) printf(" %5.2f", cm[p][t]);
            putchar('\n');
        }
    }
done:
    free(logits);
    free(index);
    adv_spectra_free(&sp);
done_ds:
    adv_dataset_free(&ds);
    adv_model_free(m);
    return code;
}
