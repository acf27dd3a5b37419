/* advinst: the program. Dispatches to one subcommand per file. */
#include "cli.h"
#include "advinst/blas.h"
#include "advinst/error.h"
#include "advinst/model.h"
#include "advinst/preset.h"
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"classify", cmd_classify, "print the instrument the classifier hears in audio files"},
    {"dataset", cmd_dataset, "render the 12-class data set, or import FSDKaggle2019"},
    {"train", cmd_train, "train the paper's network on a data set"},
    {"evaluate", cmd_evaluate, "accuracy and confusion matrix of a model on a data set"},
    {"experiment", cmd_experiment, "reproduce the paper's Table 1: attack a data set split, statistics, report"},
    {"live", cmd_live, "classify a JACK stream and perturb it toward a target class (OSC-controlled)"},
    {"listen", cmd_listen, "what a listener hears: a window slid over a recording, each position classified"},
    {"render", cmd_render, "write adversarial versions of audio files (FGSM, PGDn, C&W, MS-C&W)"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: advinst COMMAND [OPTIONS] [ARGS]\n"
            "       advinst --help | --version\n\n"
            "Fools a music instrument classifier with end-to-end adversarial perturbations.\n\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'advinst COMMAND --help' describes a command's options.\n");
}

void cli_warn_truncated(const char *cmd, const char *path, const adv_audio *audio)
{
    char text[96];
    if (adv_audio_truncation(path, audio, text, sizeof text)) fprintf(stderr, "advinst %s: %s: %s\n", cmd, path, text);
}

int cli_error(const char *cmd, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "advinst %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

int cli_bad_option(const char *cmd, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "?";
    if (optopt && optopt != '?' && !(arg[0] == '-' && arg[1] == '-'))
        return cli_error(cmd, ADV_EXIT_USAGE, "unknown option or missing value: '-%c' (see 'advinst %s --help')", optopt, cmd);
    return cli_error(cmd, ADV_EXIT_USAGE, "unknown option or missing value: '%s' (see 'advinst %s --help')", arg, cmd);
}

int cli_parse_float(const char *s, double *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

int cli_parse_long(const char *s, long *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end || errno) return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    adv_blas_prefer_fast_kernels(argv);
    opterr = 0;   /* every command reports a bad option itself, in one line */
    if (argc < 2) { usage(stderr); return ADV_EXIT_USAGE; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return ADV_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        /* the data in use: an installed program's own, else the source tree's */
        const char *model = adv_default_model_path(), *presets = adv_preset_dir();
        printf("advinst %s\nmodel: %s\npresets: %s\n", ADVINST_VERSION, model ? model : "(not found)",
               presets ? presets : "(not found)");
        return ADV_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) {
            int rc = commands[i].run(argc - 1, argv + 1);
            /* results on stdout are outputs too: a full disk or closed descriptor is an error */
            errno = 0;
            if ((fflush(stdout) != 0 || ferror(stdout)) && rc == ADV_EXIT_OK) {
                int err = errno;   /* 0 when an earlier flush failed: the reason is gone */
                rc = cli_error(commands[i].name, ADV_EXIT_OUTPUT, "standard output: cannot write%s%s",
                               err ? ": " : "", err ? strerror(err) : "");
            }
            return rc;
        }
    fprintf(stderr, "advinst: unknown command '%s' (try 'advinst --help')\n", argv[1]);
    return ADV_EXIT_USAGE;
}
