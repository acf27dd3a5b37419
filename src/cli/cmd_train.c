/* advinst train: trains the paper's network on a data set, exactly as the paper. */
#include "cli.h"
#include "advinst/blas.h"
#include "advinst/error.h"
#include "advinst/paths.h"
#include "advinst/train.h"
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static volatile sig_atomic_t stop_requested = 0;
static void on_signal(int sig) { (void)sig; stop_requested = 1; }

static void help(void)
{
    printf("usage: advinst train --data DIR --out MODEL.safetensors [options]\n\n"
           "Trains the paper's CNN on DIR (DIR/labels.csv + DIR/audio): 116-frame windows, one drawn\n"
           "at random per visit, normalisation statistics from the training split, cross-entropy,\n"
           "Adam, learning rate x0.1 from the decay epoch on. Validates on whole clips every epoch.\n\n"
           "  -d, --data DIR          data set directory\n"
           "  -o, --out FILE          the trained model (safetensors); refused if it exists, unless --force\n"
           "  -e, --epochs N          epochs (default 150)\n"
           "  -b, --batch N           batch size (default 16)\n"
           "      --lr F              Adam learning rate (default 1e-3)\n"
           "      --decay-epoch N     learning rate x0.1 after N epochs (default 90)\n"
           "  -s, --seed N            seed for initialisation, shuffling, windows, dropout (default 1)\n"
           "  -t, --threads N         threads for the convolutions (default 2)\n"
           "      --checkpoint FILE   checkpoint written after every epoch and on Ctrl-C\n"
           "                          (default OUT with .ckpt.safetensors)\n"
           "      --resume FILE       continue from a checkpoint (same --seed and --batch)\n"
           "      --log FILE          per-epoch CSV (default OUT with .log.csv); its plot is\n"
           "                          written beside OUT as .curve.png\n"
           "      --label-smoothing S targets (1 - S) one-hot + S / 12 (default 0: the paper)\n"
           "      --mixup A           mix each window with another of the batch, weight ~ Beta(A, A)\n"
           "                          (default 0: off)\n"
           "      --freq-mask N       zero up to N mel bands in half of the windows (default 0: off)\n"
           "      --no-calibrate      do not fit the softmax temperature on the validation split\n"
           "                          (default: fitted and stored as calibration.temperature)\n"
           "  -f, --force             overwrite OUT\n"
           "  -h, --help              this help\n\n"
           "Ctrl-C stops after the current batch and writes a checkpoint; --resume continues exactly.\n"
           "Deterministic for a given seed and thread count.\n");
}

/* OUT with its .safetensors suffix replaced by `suffix` (malloc'd). */
static char *derived_path(const char *out, const char *suffix)
{
    size_t n = strlen(out);
    const char *ext = ".safetensors";
    size_t base = (n > strlen(ext) && !strcmp(out + n - strlen(ext), ext)) ? n - strlen(ext) : n;
    char *p = malloc(base + strlen(suffix) + 1);
    memcpy(p, out, base);
    strcpy(p + base, suffix);
    return p;
}

int cmd_train(int argc, char **argv)
{
    static const struct option options[] = {
        {"data", required_argument, 0, 'd'}, {"out", required_argument, 0, 'o'},
        {"epochs", required_argument, 0, 'e'}, {"batch", required_argument, 0, 'b'},
        {"lr", required_argument, 0, 'l'}, {"decay-epoch", required_argument, 0, 'D'},
        {"seed", required_argument, 0, 's'}, {"threads", required_argument, 0, 't'},
        {"checkpoint", required_argument, 0, 'c'}, {"resume", required_argument, 0, 'r'},
        {"log", required_argument, 0, 'L'}, {"force", no_argument, 0, 'f'},
        {"label-smoothing", required_argument, 0, 'S'}, {"mixup", required_argument, 0, 'M'},
        {"freq-mask", required_argument, 0, 'F'}, {"no-calibrate", no_argument, 0, 'C'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *data = NULL, *out = NULL, *ckpt = NULL, *log = NULL;
    adv_train_options o;
    adv_train_options_default(&o);
    long threads = 2, v;
    double fv;
    int force = 0, opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "d:o:e:b:s:t:fh", options, NULL)) != -1) {
        switch (opt) {
        case 'd': data = optarg; break;
        case 'o': out = optarg; break;
        case 'e': if (cli_parse_long(optarg, &v) || v < 1 || v > 100000) return cli_error("train", ADV_EXIT_USAGE, "--epochs needs a positive integer, got '%s'", optarg); o.epochs = (int)v; break;
        case 'b': if (cli_parse_long(optarg, &v) || v < 1 || v > 4096) return cli_error("train", ADV_EXIT_USAGE, "--batch needs an integer in 1..4096, got '%s'", optarg); o.batch = (int)v; break;
        case 'l': if (cli_parse_float(optarg, &fv) || fv <= 0) return cli_error("train", ADV_EXIT_USAGE, "--lr needs a positive number, got '%s'", optarg); o.lr = (float)fv; break;
        case 'D': if (cli_parse_long(optarg, &v) || v < 0) return cli_error("train", ADV_EXIT_USAGE, "--decay-epoch needs a non-negative integer, got '%s'", optarg); o.decay_epoch = (int)v; break;
        case 's': if (cli_parse_long(optarg, &v) || v < 0) return cli_error("train", ADV_EXIT_USAGE, "--seed needs a non-negative integer, got '%s'", optarg); o.seed = (uint64_t)v; break;
        case 't': if (cli_parse_long(optarg, &threads) || threads < 1 || threads > 256) return cli_error("train", ADV_EXIT_USAGE, "--threads needs an integer in 1..256, got '%s'", optarg); break;
        case 'c': ckpt = optarg; break;
        case 'r': o.resume_path = optarg; break;
        case 'L': log = optarg; break;
        case 'S': if (cli_parse_float(optarg, &fv) || !(fv >= 0 && fv < 1)) return cli_error("train", ADV_EXIT_USAGE, "--label-smoothing needs a number in [0, 1), got '%s'", optarg); o.label_smoothing = (float)fv; break;
        case 'M': if (cli_parse_float(optarg, &fv) || !(fv >= 0 && fv <= 10)) return cli_error("train", ADV_EXIT_USAGE, "--mixup needs a number in [0, 10], got '%s'", optarg); o.mixup_alpha = (float)fv; break;
        case 'F': if (cli_parse_long(optarg, &v) || v < 0 || v > 50) return cli_error("train", ADV_EXIT_USAGE, "--freq-mask needs an integer in 0..50, got '%s'", optarg); o.freq_mask = (int)v; break;
        case 'C': o.calibrate = 0; break;
        case 'f': force = 1; break;
        case 'h': help(); return ADV_EXIT_OK;
        default: return cli_bad_option("train", argv);
        }
    }
    if (optind < argc) return cli_error("train", ADV_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
    if (!data || !out) return cli_error("train", ADV_EXIT_USAGE, "--data and --out are required (see --help)");
    struct stat stt;
    if (!force && stat(out, &stt) == 0) return cli_error("train", ADV_EXIT_OUTPUT, "%s exists (use --force to overwrite)", out);
    adv_blas_set_threads((int)threads);

    char *ckpt_default = derived_path(out, ".ckpt.safetensors"), *log_default = derived_path(out, ".log.csv");
    o.checkpoint_path = ckpt ? ckpt : ckpt_default;
    o.log_path = log ? log : log_default;
    o.data_name = data;
    o.progress = 1;
    o.stop = &stop_requested;

    int code = ADV_EXIT_OK;
    adv_dataset ds;
    adv_spectra sp;
    adv_model *m = NULL;
    if (adv_dataset_load(data, &ds) != 0) {
        code = cli_error("train", ADV_EXIT_INPUT, "%s", adv_error());
        goto out_paths;
    }
    if (adv_spectra_compute(&ds, &sp, 1) != 0) {
        code = cli_error("train", ADV_EXIT_INPUT, "%s", adv_error());
        adv_dataset_free(&ds);
        goto out_paths;
    }
    m = adv_model_create(o.seed);
    if (!m) { code = cli_error("train", ADV_EXIT_FAILURE, "%s", adv_error()); goto out_all; }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = adv_train(&m, &sp, &o);
    if (rc < 0) {
        code = cli_error("train", adv_error_exit(ADV_EXIT_FAILURE), "%s", adv_error());   /* 4: log or checkpoint */
    } else if (rc == 1) {
        fprintf(stderr, "advinst train: interrupted; checkpoint written to %s (continue with --resume %s)\n",
                o.checkpoint_path, o.checkpoint_path);
        code = ADV_EXIT_INTERRUPTED;
    } else if (adv_model_save(m, out) != 0) {
        code = cli_error("train", ADV_EXIT_OUTPUT, "%s", adv_error());
    } else {
        char *curve = derived_path(out, ".curve.png");
        if (adv_plot_training_log(o.log_path, adv_path_base(out), curve) != 0)
            code = cli_error("train", adv_error_exit(ADV_EXIT_FAILURE), "%s", adv_error());
        else
            fprintf(stderr, "advinst train: wrote %s (validation accuracy %s, temperature %.3f, ECE %s)\n", out,
                    adv_model_get_meta(m, "training.valid_accuracy") ? adv_model_get_meta(m, "training.valid_accuracy") : "n/a",
                    adv_model_temperature(m),
                    adv_model_get_meta(m, "calibration.valid_ece") ? adv_model_get_meta(m, "calibration.valid_ece") : "n/a");
        free(curve);
    }
out_all:
    adv_model_free(m);
    adv_spectra_free(&sp);
    adv_dataset_free(&ds);
out_paths:
    free(ckpt_default);
    free(log_default);
    return code;
}
