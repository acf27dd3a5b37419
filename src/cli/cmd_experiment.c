/* advinst experiment: the paper's Table 1 experiments (grid search, runs, noise baseline, t-tests). */
#include "cli.h"
#include "advinst/error.h"
#include "advinst/experiment.h"
#include "advinst/preset.h"
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CMD "experiment"

static void help(void)
{
    printf("usage: advinst experiment --data DIR --out REPORTDIR (--method M | --preset NAME) [options]\n"
           "       advinst experiment --data DIR --out REPORTDIR --table1 [options]\n"
           "       advinst experiment --data DIR --out REPORTDIR --noise [--snr DB] [options]\n\n"
           "Attacks every clip of a data set split, over several seeded runs, and writes a report\n"
           "directory: report.md (tables like the paper's Table 1, the chosen setting, paired t-tests,\n"
           "figures), results.csv (per setting and run), summary.csv (per setting), clips.csv (per clip\n"
           "and run), confusion matrices and SNR histograms (PNG). A grid search picks the setting with\n"
           "the highest mean SNR among those finding at least --require adversarial examples, then\n"
           "compares with white noise at that SNR.\n\n"
           "  -d, --data DIR         data set (DIR/labels.csv + DIR/audio) (required)\n"
           "  -o, --out REPORTDIR    report directory (refused if it exists and is not empty)\n"
           "  -m, --model FILE       model (safetensors); default: the shipped model\n"
           "  -M, --method NAME      fgsm | pgdn | cw | mscw\n"
           "  -p, --preset NAME|FILE base settings from a preset (options override it)\n"
           "  -g, --grid SPEC        e.g. \"alpha=0.01,0.1;lr=1e-5,5e-5\" (keys eps, alpha, lr,\n"
           "                         max_iter): every combination is a setting\n"
           "      --eps F, --alpha F, --lr F, --max-iter N   base settings\n"
           "  -t, --target CLASS     cw, mscw: a class (clips already predicted as it are skipped)\n"
           "                         or random (default: a seeded draw per clip and run)\n"
           "  -r, --runs N           runs with different seeds (default 5; FGSM and fixed\n"
           "                         targets are deterministic: 1 run)\n"
           "      --require N        adversarial examples a setting must find (default\n"
           "                         round(150/200 x clips), the paper's 150 of 200)\n"
           "      --seed N           base seed (default 0)\n"
           "      --split valid|train  which split to attack (default valid)\n"
           "      --max-clips N      only the first N clips of the split (quick runs)\n"
           "  -j, --threads N        worker threads (default: the number of CPUs)\n"
           "      --keep-audio       also write the attacked clips (float WAV) to REPORTDIR/audio\n"
           "      --noise            only the white-noise baseline, at --snr DB\n"
           "      --snr DB           SNR of the noise for --noise (default 42.16, the paper's)\n"
           "      --table1           the paper's whole Table 1 from the shipped presets (fgsm-150 ...\n"
           "                         mscw-accordion), the clean and noise rows, t-tests\n"
           "  -f, --force            replace an existing non-empty REPORTDIR\n"
           "  -h, --help             this help\n\n"
           "A progress bar with ETA is drawn on a terminal. Ctrl-C stops without writing a report.\n");
    char names[1024];
    printf("Presets (%s): %s\n", adv_preset_dir() ? adv_preset_dir() : "no presets directory",
           adv_preset_names(names, sizeof names));
}

static atomic_int cancel_flag;

static void on_sigint(int sig)
{
    (void)sig;
    atomic_store(&cancel_flag, 1);
}

static int parse_float_opt(const char *name, const char *s, double lo, int lo_open, double *out)
{
    if (cli_parse_float(s, out) != 0 || *out < lo || (lo_open && *out <= lo)) {
        cli_error(CMD, ADV_EXIT_USAGE, "--%s %s: expected a number %s %g", name, s, lo_open ? ">" : ">=", lo);
        return -1;
    }
    return 0;
}

static int parse_long_opt(const char *name, const char *s, long lo, long *out)
{
    if (cli_parse_long(s, out) != 0 || *out < lo) {
        cli_error(CMD, ADV_EXIT_USAGE, "--%s %s: expected a whole number >= %ld", name, s, lo);
        return -1;
    }
    return 0;
}

/* The command line as typed (arguments with shell metacharacters single-quoted). */
static char *command_line(int argc, char **argv)
{
    size_t size = 16;
    for (int i = 0; i < argc; i++) size += 4 * strlen(argv[i]) + 3;
    char *s = malloc(size), *p = s;
    if (!s) return NULL;
    p += sprintf(p, "advinst");
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int plain = *a != '\0';
        for (const char *c = a; *c; c++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./,:+@%", *c)) plain = 0;
        *p++ = ' ';
        if (plain) {
            p += sprintf(p, "%s", a);
            continue;
        }
        *p++ = '\'';
        for (const char *c = a; *c; c++) {
            if (*c == '\'') p += sprintf(p, "'\\''");
            else *p++ = *c;
        }
        *p++ = '\'';
    }
    *p = '\0';
    return s;
}

enum { OPT_EPS = 256, OPT_ALPHA, OPT_LR, OPT_MAX_ITER, OPT_SEED, OPT_REQUIRE, OPT_SPLIT, OPT_MAX_CLIPS,
       OPT_KEEP_AUDIO, OPT_NOISE, OPT_SNR, OPT_TABLE1 };

int cmd_experiment(int argc, char **argv)
{
    static const struct option options[] = {
        {"data", required_argument, 0, 'd'}, {"out", required_argument, 0, 'o'},
        {"model", required_argument, 0, 'm'}, {"method", required_argument, 0, 'M'},
        {"preset", required_argument, 0, 'p'}, {"grid", required_argument, 0, 'g'},
        {"target", required_argument, 0, 't'}, {"runs", required_argument, 0, 'r'},
        {"threads", required_argument, 0, 'j'}, {"force", no_argument, 0, 'f'}, {"help", no_argument, 0, 'h'},
        {"eps", required_argument, 0, OPT_EPS}, {"alpha", required_argument, 0, OPT_ALPHA},
        {"lr", required_argument, 0, OPT_LR}, {"max-iter", required_argument, 0, OPT_MAX_ITER},
        {"seed", required_argument, 0, OPT_SEED}, {"require", required_argument, 0, OPT_REQUIRE},
        {"split", required_argument, 0, OPT_SPLIT}, {"max-clips", required_argument, 0, OPT_MAX_CLIPS},
        {"keep-audio", no_argument, 0, OPT_KEEP_AUDIO}, {"noise", no_argument, 0, OPT_NOISE},
        {"snr", required_argument, 0, OPT_SNR}, {"table1", no_argument, 0, OPT_TABLE1}, {0, 0, 0, 0}};
    const char *data = NULL, *out = NULL, *model_path = NULL, *method_name = NULL, *preset_name = NULL,
               *grid = NULL, *target_name = NULL;
    const char *eps_s = NULL, *alpha_s = NULL, *lr_s = NULL, *iter_s = NULL;
    long runs = 5, threads = 0, require = -1, max_clips = 0;
    double snr = 42.16;
    int force = 0, keep_audio = 0, noise = 0, table1 = 0, snr_given = 0;
    uint64_t seed = 0;
    adv_split split = ADV_SPLIT_VALID;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "d:o:m:M:p:g:t:r:j:fh", options, NULL)) != -1) {
        switch (opt) {
        case 'd': data = optarg; break;
        case 'o': out = optarg; break;
        case 'm': model_path = optarg; break;
        case 'M': method_name = optarg; break;
        case 'p': preset_name = optarg; break;
        case 'g': grid = optarg; break;
        case 't': target_name = optarg; break;
        case 'r': if (parse_long_opt("runs", optarg, 1, &runs)) return ADV_EXIT_USAGE; break;
        case 'j': if (parse_long_opt("threads", optarg, 1, &threads)) return ADV_EXIT_USAGE; break;
        case 'f': force = 1; break;
        case 'h': help(); return ADV_EXIT_OK;
        case OPT_EPS: eps_s = optarg; break;
        case OPT_ALPHA: alpha_s = optarg; break;
        case OPT_LR: lr_s = optarg; break;
        case OPT_MAX_ITER: iter_s = optarg; break;
        case OPT_SEED: {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (!*optarg || *end || errno || *optarg == '-')
                return cli_error(CMD, ADV_EXIT_USAGE, "--seed %s: expected a whole number >= 0", optarg);
            seed = (uint64_t)v;
            break;
        }
        case OPT_REQUIRE: if (parse_long_opt("require", optarg, 0, &require)) return ADV_EXIT_USAGE; break;
        case OPT_SPLIT:
            if (!strcmp(optarg, "valid")) split = ADV_SPLIT_VALID;
            else if (!strcmp(optarg, "train")) split = ADV_SPLIT_TRAIN;
            else return cli_error(CMD, ADV_EXIT_USAGE, "--split %s: expected valid or train", optarg);
            break;
        case OPT_MAX_CLIPS: if (parse_long_opt("max-clips", optarg, 1, &max_clips)) return ADV_EXIT_USAGE; break;
        case OPT_KEEP_AUDIO: keep_audio = 1; break;
        case OPT_NOISE: noise = 1; break;
        case OPT_SNR: if (parse_float_opt("snr", optarg, -INFINITY, 0, &snr)) return ADV_EXIT_USAGE; snr_given = 1; break;
        case OPT_TABLE1: table1 = 1; break;
        default: return cli_bad_option(CMD, argv);
        }
    }
    if (optind < argc) return cli_error(CMD, ADV_EXIT_USAGE, "unexpected argument '%s' (see --help)", argv[optind]);
    if (!data) return cli_error(CMD, ADV_EXIT_USAGE, "no data set: pass --data DIR");
    if (!out) return cli_error(CMD, ADV_EXIT_USAGE, "no report directory: pass --out REPORTDIR");
    if (table1 && noise) return cli_error(CMD, ADV_EXIT_USAGE, "--table1 and --noise exclude each other");
    int attack_opts = method_name || preset_name || grid || target_name || eps_s || alpha_s || lr_s || iter_s;
    if ((table1 || noise) && attack_opts)
        return cli_error(CMD, ADV_EXIT_USAGE, "--%s takes no attack settings (--method, --preset, --grid, --target, "
                         "--eps, --alpha, --lr, --max-iter)", table1 ? "table1" : "noise");
    if ((table1 || noise) && require >= 0)
        return cli_error(CMD, ADV_EXIT_USAGE, "--require applies to a grid search, not to --%s", table1 ? "table1" : "noise");
    if (snr_given && !noise) return cli_error(CMD, ADV_EXIT_USAGE, "--snr applies to --noise only");

    /* the base settings: defaults < preset < options */
    adv_exp_setting *settings = NULL;
    int n_settings = 0, method = -1, have_preset = 0;
    adv_preset preset;
    adv_attack_params base;
    if (!table1 && !noise) {
        if (preset_name) {
            if (adv_preset_load(preset_name, &preset) != 0)
                return cli_error(CMD, strncmp(adv_error(), "unknown preset", 14) ? ADV_EXIT_INPUT : ADV_EXIT_USAGE, "%s",
                                 adv_error());
            have_preset = 1;
        }
        if (method_name) {
            if ((method = adv_attack_method_parse(method_name)) < 0)
                return cli_error(CMD, ADV_EXIT_USAGE, "unknown method '%s' (valid: fgsm, pgdn, cw, mscw)", method_name);
        } else if (have_preset) {
            method = (int)preset.method;
        } else {
            return cli_error(CMD, ADV_EXIT_USAGE, "no attack: pass --method fgsm|pgdn|cw|mscw, --preset NAME, --table1 or --noise");
        }
        adv_attack_defaults((adv_attack_method)method, &base);
        if (have_preset) adv_preset_apply(&preset, &base);
        double v;
        long n;
        if (eps_s) { if (parse_float_opt("eps", eps_s, 0, 0, &v)) return ADV_EXIT_USAGE; base.eps = (float)v; }
        if (alpha_s) { if (parse_float_opt("alpha", alpha_s, 0, 0, &v)) return ADV_EXIT_USAGE; base.alpha = (float)v; }
        if (lr_s) { if (parse_float_opt("lr", lr_s, 0, 1, &v)) return ADV_EXIT_USAGE; base.lr = (float)v; }
        if (iter_s) { if (parse_long_opt("max-iter", iter_s, 1, &n)) return ADV_EXIT_USAGE; base.max_iter = n; }
        int targeted = adv_attack_method_targeted((adv_attack_method)method);
        if (!targeted && target_name)
            return cli_error(CMD, ADV_EXIT_USAGE, "%s is untargeted: --target does not apply",
                             adv_attack_method_name((adv_attack_method)method));
        if (targeted && !target_name && have_preset && (preset.has & ADV_PRESET_HAS_TARGET)) target_name = preset.target;
        base.target = targeted ? ADV_TARGET_RANDOM : ADV_TARGET_NONE;
    }

    if (!model_path) model_path = adv_default_model_path();
    if (!model_path)
        return cli_error(CMD, ADV_EXIT_INPUT, "no model: the shipped model models/default.safetensors was not found; pass --model FILE");
    adv_model *model = adv_model_load(model_path);
    if (!model) return cli_error(CMD, ADV_EXIT_INPUT, "%s", adv_error());
    if (!table1 && !noise) {
        if (target_name) {
            base.target = adv_attack_target_parse(model, target_name, 0);
            if (base.target == ADV_TARGET_INVALID) {
                adv_model_free(model);
                return cli_error(CMD, ADV_EXIT_USAGE, "unknown class '%s' (a class name, an index 0..%d, or random)",
                                 target_name, ADV_N_CLASSES - 1);
            }
        }
        if (adv_exp_parse_grid(grid, &base, &settings, &n_settings) != 0) {
            adv_model_free(model);
            return cli_error(CMD, ADV_EXIT_USAGE, "%s", adv_error());
        }
        /* a preset used as it is keeps its name */
        if (have_preset && !grid && !eps_s && !alpha_s && !lr_s && !iter_s && !method_name && n_settings == 1)
            snprintf(settings[0].label, sizeof settings[0].label, "%s", preset.name);
    }

    char *cmdline = command_line(argc, argv);
    adv_exp_config cfg = {0};
    cfg.mode = table1 ? ADV_EXP_TABLE1 : noise ? ADV_EXP_NOISE : ADV_EXP_GRID;
    cfg.model = model;
    cfg.model_path = model_path;
    cfg.data_dir = data;
    cfg.split = split;
    cfg.max_clips = max_clips;
    cfg.settings = settings;
    cfg.n_settings = n_settings;
    cfg.runs = (int)runs;
    cfg.seed = seed;
    cfg.require = require;
    cfg.noise_snr_db = snr;
    cfg.threads = (int)threads;
    cfg.keep_audio = keep_audio;
    cfg.progress = 1;
    cfg.force = force;
    cfg.out_dir = out;
    cfg.command_line = cmdline;
    cfg.cancel = &cancel_flag;

    /* SIGINT/SIGTERM: the workers stop, the staging directory is removed, exit 130 */
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    atomic_store(&cancel_flag, 0);
    adv_exp_outcome res;
    int rc = adv_experiment_run(&cfg, &res);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);

    if (rc == ADV_EXIT_OK) {
        printf("%s/report.md: %ld clips, clean accuracy %.3f", out, res.clips, res.clean_accuracy);
        if (cfg.mode == ADV_EXP_GRID) {
            if (res.chosen >= 0) printf("; chosen %s", settings[res.chosen].label);
            else printf("; no setting found %ld adversarial examples", res.require);
        }
        if (isfinite(res.noise_snr_db)) printf("; white noise at %.2f dB: accuracy %.3f", res.noise_snr_db, res.noise_accuracy);
        printf(" (%.0f s)\n", res.seconds);
    } else if (rc == ADV_EXIT_INTERRUPTED) {
        cli_error(CMD, rc, "interrupted: no report written");
    } else {
        cli_error(CMD, rc, "%s", adv_error());
    }
    free(cmdline);
    free(settings);
    adv_model_free(model);
    return rc;
}
