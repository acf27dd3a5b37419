/* advinst classify: prediction and confidence per audio file. */
#include "cli.h"
#include "advinst/calibration.h"
#include "advinst/classifier.h"
#include "advinst/error.h"
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static void help(void)
{
    printf("usage: advinst classify [--model FILE] [--json] AUDIO...\n\n"
           "Prints the class the model predicts for each file, with its confidence.\n"
           "Any format libsndfile reads, any sample rate and channel count (mono mix).\n\n"
           "  -m, --model FILE   model (safetensors); default: the shipped model\n"
           "  -j, --json         one JSON object per line: file, prediction, confidence,\n"
           "                     probabilities (per class), logits\n"
           "  -h, --help         this help\n");
}

static void print_json(const adv_model *m, const char *file, const float *logits, const float *probs, int best)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", file);
    cJSON_AddStringToObject(o, "prediction", m->classes[best]);
    cJSON_AddNumberToObject(o, "confidence", probs[best]);
    cJSON *p = cJSON_AddObjectToObject(o, "probabilities");
    for (int k = 0; k < ADV_N_CLASSES; k++) cJSON_AddNumberToObject(p, m->classes[k], probs[k]);
    cJSON *l = cJSON_AddArrayToObject(o, "logits");
    for (int k = 0; k < ADV_N_CLASSES; k++) cJSON_AddItemToArray(l, cJSON_CreateNumber(logits[k]));
    char *s = cJSON_PrintUnformatted(o);
    puts(s);
    cJSON_free(s);
    cJSON_Delete(o);
}

int cmd_classify(int argc, char **argv)
{
    static const struct option options[] = {
        {"model", required_argument, 0, 'm'},
        {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *model_path = NULL;
    int json = 0, opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "m:jh", options, NULL)) != -1) {
        switch (opt) {
        case 'm': model_path = optarg; break;
        case 'j': json = 1; break;
        case 'h': help(); return ADV_EXIT_OK;
        default: return cli_bad_option("classify", argv);
        }
    }
    if (optind >= argc) return cli_error("classify", ADV_EXIT_USAGE, "no audio files given (see --help)");
    if (!model_path) model_path = adv_default_model_path();
    if (!model_path)
        return cli_error("classify", ADV_EXIT_INPUT,
                         "no model: the shipped model models/default.safetensors was not found; pass --model FILE");
    adv_model *m = adv_model_load(model_path);
    if (!m) return cli_error("classify", ADV_EXIT_INPUT, "%s", adv_error());

    int status = ADV_EXIT_OK;
    for (int i = optind; i < argc; i++) {
        adv_audio a;
        float logits[ADV_N_CLASSES], probs[ADV_N_CLASSES];
        if (adv_audio_read(argv[i], &a) != 0) {
            cli_error("classify", 0, "%s", adv_error());
            status = ADV_EXIT_INPUT;
            continue;
        }
        cli_warn_truncated("classify", argv[i], &a);
        int rc = adv_classify_audio(m, &a, logits);
        adv_audio_free(&a);
        if (rc != 0) {
            cli_error("classify", 0, "%s: %s", argv[i], adv_error());
            status = ADV_EXIT_INPUT;
            continue;
        }
        adv_model_probs(m, logits, probs);
        int best = adv_most_likely(probs);
        if (json) print_json(m, argv[i], logits, probs, best);
        else printf("%s: %s (confidence %.3f)\n", argv[i], m->classes[best], probs[best]);
        fflush(stdout);
    }
    adv_model_free(m);
    return status;
}
