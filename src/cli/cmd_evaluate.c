/* advinst evaluate: accuracy, per-class accuracy, confidence and confusion matrix of a model on a
 * data set split. */
#include "cli.h"
#include "advinst/error.h"
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
           "per-class accuracy, mean confidence and the confusion matrix (columns true classes,\n"
           "rows predictions, each column normalised to sum 1).\n\n"
           "  -m, --model FILE   model (default: the shipped model)\n"
           "  -d, --data DIR     data set directory (labels.csv + audio/)\n"
           "  -s, --split S      valid (default), train or all\n"
           "  -j, --json         one JSON object on stdout\n"
           "  -o, --out DIR      also write DIR/confusion.csv and DIR/confusion.png\n"
           "  -h, --help         this help\n");
}

int cmd_evaluate(int argc, char **argv)
{
    static const struct option options[] = {
        {"model", required_argument, 0, 'm'}, {"data", required_argument, 0, 'd'},
        {"split", required_argument, 0, 's'}, {"json", no_argument, 0, 'j'},
        {"out", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *model_path = NULL, *data = NULL, *out = NULL, *split_name = "valid";
    int json = 0, opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "m:d:s:jo:h", options, NULL)) != -1) {
        switch (opt) {
        case 'm': model_path = optarg; break;
        case 'd': data = optarg; break;
        case 's': split_name = optarg; break;
        case 'j': json = 1; break;
        case 'o': out = optarg; break;
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
    if (adv_spectra_compute(&ds, &sp, 1) != 0) {
        code = cli_error("evaluate", ADV_EXIT_INPUT, "%s", adv_error());
        goto done_ds;
    }
    if (adv_evaluate_spectra(m, &sp, split, &ev) != 0) {
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
        snprintf(title, sizeof title, "%s, %s split: accuracy %.3f (%ld clips)", adv_path_base(model_path), split_name,
                 ev.accuracy, ev.clips);
        if (adv_eval_write_confusion_csv(&ev, m, path) != 0) { code = cli_error("evaluate", ADV_EXIT_OUTPUT, "%s", adv_error()); goto done; }
        snprintf(path, sizeof path, "%s/confusion.png", out);
        if (adv_eval_write_confusion_png(&ev, m, title, path) != 0) { code = cli_error("evaluate", ADV_EXIT_OUTPUT, "%s", adv_error()); goto done; }
    }
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", model_path);
        cJSON_AddStringToObject(o, "data", data);
        cJSON_AddStringToObject(o, "split", split_name);
        cJSON_AddNumberToObject(o, "clips", (double)ev.clips);
        cJSON_AddNumberToObject(o, "accuracy", ev.accuracy);
        cJSON_AddNumberToObject(o, "mean_confidence", ev.mean_confidence);
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
        printf("%s on %s (%s split, %ld clips)\n", model_path, data, split_name, ev.clips);
        printf("accuracy %.4f  mean confidence %.4f  loss %.4f\n\nper class:\n", ev.accuracy, ev.mean_confidence, ev.loss);
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
    adv_spectra_free(&sp);
done_ds:
    adv_dataset_free(&ds);
    adv_model_free(m);
    return code;
}
