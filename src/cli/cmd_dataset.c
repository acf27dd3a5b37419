/* advinst dataset: render the 12-class data set, import FSDKaggle2019, render demo clips, check a
 * data set directory. */
#include "cli.h"
#include "advinst/audio.h"
#include "advinst/dataset.h"
#include "advinst/error.h"
#include "advinst/progress.h"
#include "advinst/synth.h"
#include <getopt.h>
#include <signal.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static atomic_int cancel_flag;
static void on_signal(int sig) { (void)sig; atomic_store(&cancel_flag, 1); }

static void help(void)
{
    printf("usage: advinst dataset render --out DIR [OPTIONS]\n"
           "       advinst dataset fsdkaggle2019 --csv FILE --audio DIR --out DIR [--seed N] [--force]\n"
           "       advinst dataset demo --out DIR [--seed N] [--force]\n"
           "       advinst dataset heldout --out DIR [--samples-dir D] [--force]\n"
           "       advinst dataset check DIR\n\n"
           "Data sets are DIR/labels.csv (fname,label,split) and DIR/audio/*.wav (16 kHz mono).\n\n"
           "render: renders the paper's 12 classes from the installed soundfonts, Hydrogen drum kits,\n"
           "espeak-ng and own synthesis (see docs/dataset.md); seeded, bit-identical per seed.\n"
           "  -o, --out DIR            output directory (refused if not empty, unless --force)\n"
           "  -s, --seed N             seed (default 1)\n"
           "  -n, --clips-per-class N  clips per class (default: 49-75 per class, 799 in all)\n"
           "      --soundfont-dir D    where the .sf2/.sf3 files are (default /usr/share/sounds)\n"
           "      --drumkit-dir D      Hydrogen drum kits (default /usr/share/hydrogen/data/drumkits)\n"
           "      --samples-dir D      recorded instruments from scripts/fetch-samples.sh\n"
           "                           (default: data/samples of the source tree, if present)\n"
           "      --soundfonts SET     all (default) or small: only TimGM6mb and own synthesis\n"
           "      --max-seconds S      longest clip (default 30)\n"
           "  -j, --threads N          worker threads (default 2; output does not depend on it)\n"
           "  -f, --force              replace an existing non-empty DIR\n\n"
           "fsdkaggle2019: keeps the clips of FSDKaggle2019's CSV whose labels hold exactly one of the\n"
           "12 classes, resamples them to 16 kHz and splits them 75/25 by a seeded shuffle.\n"
           "  -c, --csv FILE           train_curated(_post_competition).csv\n"
           "  -a, --audio DIR          directory with the CSV's audio files\n\n"
           "demo: six 3-5 s clips (harmonica, acoustic guitar, accordion, glockenspiel, bass guitar,\n"
           "electric guitar) as DIR/<class>.wav.\n\n"
           "heldout: the real recordings kept out of every render (Sonic Pi's kicks, hi-hats and\n"
           "electric guitar, the nylon guitar from npm), as recorded, for `advinst evaluate`.\n\n"
           "check: validates DIR/labels.csv and the audio files and prints the counts per class.\n");
}

enum { OPT_SF_DIR = 1000, OPT_KIT_DIR, OPT_SOUNDFONTS, OPT_MAX_SECONDS, OPT_SAMPLES_DIR };

static const struct option options[] = {
    {"out", required_argument, 0, 'o'},
    {"seed", required_argument, 0, 's'},
    {"clips-per-class", required_argument, 0, 'n'},
    {"soundfont-dir", required_argument, 0, OPT_SF_DIR},
    {"drumkit-dir", required_argument, 0, OPT_KIT_DIR},
    {"samples-dir", required_argument, 0, OPT_SAMPLES_DIR},
    {"soundfonts", required_argument, 0, OPT_SOUNDFONTS},
    {"max-seconds", required_argument, 0, OPT_MAX_SECONDS},
    {"threads", required_argument, 0, 'j'},
    {"csv", required_argument, 0, 'c'},
    {"audio", required_argument, 0, 'a'},
    {"force", no_argument, 0, 'f'},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0}};

typedef struct {
    adv_render_options render;
    const char *out, *csv, *audio;
    int force;
} args;

/* Parses the options of every subcommand; returns -1 after --help, an exit code > 0 on error. */
static int parse(int argc, char **argv, const char *sub, args *a)
{
    memset(a, 0, sizeof *a);
    adv_render_options_default(&a->render);
    a->render.progress = 1;
    int opt, samples_set = 0;
    long v;
    double d;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:s:n:j:c:a:fh", options, NULL)) != -1) {
        switch (opt) {
        case 'o': a->out = optarg; break;
        case 's':
            if (cli_parse_long(optarg, &v) < 0 || v < 0)
                return cli_error("dataset", ADV_EXIT_USAGE, "--seed: expected a non-negative integer, got '%s'", optarg);
            a->render.seed = (uint64_t)v;
            break;
        case 'n':
            if (cli_parse_long(optarg, &v) < 0 || v < 1 || v > 100000)
                return cli_error("dataset", ADV_EXIT_USAGE, "--clips-per-class: expected 1..100000, got '%s'", optarg);
            a->render.clips_per_class = (int)v;
            break;
        case 'j':
            if (cli_parse_long(optarg, &v) < 0 || v < 1 || v > 64)
                return cli_error("dataset", ADV_EXIT_USAGE, "--threads: expected 1..64, got '%s'", optarg);
            a->render.threads = (int)v;
            break;
        case OPT_SF_DIR: a->render.soundfont_dir = optarg; break;
        case OPT_KIT_DIR: a->render.drumkit_dir = optarg; break;
        case OPT_SAMPLES_DIR: a->render.samples_dir = optarg; samples_set = 1; break;
        case OPT_SOUNDFONTS:
            if (strcmp(optarg, "small") == 0) a->render.small = 1;
            else if (strcmp(optarg, "all") == 0) a->render.small = 0;
            else return cli_error("dataset", ADV_EXIT_USAGE, "--soundfonts: expected all or small, got '%s'", optarg);
            break;
        case OPT_MAX_SECONDS:
            if (cli_parse_float(optarg, &d) < 0 || d < 0.3 || d > 600)
                return cli_error("dataset", ADV_EXIT_USAGE, "--max-seconds: expected 0.3..600, got '%s'", optarg);
            a->render.max_seconds = d;
            break;
        case 'c': a->csv = optarg; break;
        case 'a': a->audio = optarg; break;
        case 'f': a->force = 1; break;
        case 'h': help(); return -1;
        default: return cli_error("dataset", ADV_EXIT_USAGE, "see 'advinst dataset --help'");
        }
    }
    if (!samples_set && !a->render.small) a->render.samples_dir = adv_default_samples_dir();
    if (optind < argc && strcmp(sub, "check") != 0)
        return cli_error("dataset", ADV_EXIT_USAGE, "%s: unexpected argument '%s'", sub, argv[optind]);
    if (strcmp(sub, "check") != 0 && !a->out)
        return cli_error("dataset", ADV_EXIT_USAGE, "%s: --out DIR is required", sub);
    return 0;
}

static int report(const char *dir)
{
    adv_dataset ds;
    if (adv_dataset_load(dir, &ds) < 0) return cli_error("dataset", ADV_EXIT_INPUT, "%s", adv_error());
    long counts[ADV_N_CLASSES][2];
    adv_dataset_counts(&ds, counts);
    printf("%-24s %6s %6s\n", "class", "train", "valid");
    long tt = 0, tv = 0;
    for (int c = 0; c < ADV_N_CLASSES; c++) {
        printf("%-24s %6ld %6ld\n", adv_class_names[c], counts[c][0], counts[c][1]);
        tt += counts[c][0];
        tv += counts[c][1];
    }
    printf("%-24s %6ld %6ld\n", "total", tt, tv);
    adv_dataset_free(&ds);
    return ADV_EXIT_OK;
}

static int demo(const args *a)
{
    static const int classes[] = {8, 1, 0, 6, 3, 4};   /* harmonica, ac. guitar, accordion, glock, bass, el. guitar */
    adv_render_options o = a->render;
    o.min_seconds = 3;
    o.max_seconds = 5;
    o.threads = 1;
    struct stat st;
    if (!a->force && stat(a->out, &st) == 0)
        for (int i = 0; i < 6; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s.wav", a->out, adv_class_names[classes[i]]);
            if (stat(path, &st) == 0)
                return cli_error("dataset", ADV_EXIT_OUTPUT, "%s exists (use --force to replace it)", path);
        }
    mkdir(a->out, 0755);
    adv_synth *s = adv_synth_create(&o);
    if (!s) return cli_error("dataset", ADV_EXIT_INPUT, "%s", adv_error());
    int rc = ADV_EXIT_OK;
    for (int i = 0; i < 6 && rc == ADV_EXIT_OK; i++) {
        float *x;
        long n;
        if (adv_synth_render_clip(s, 0, classes[i], 0, &x, &n) < 0) {
            rc = cli_error("dataset", ADV_EXIT_FAILURE, "%s", adv_error());
            break;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.wav", a->out, adv_class_names[classes[i]]);
        adv_audio au = {x, n, 1, 16000, SF_FORMAT_WAV | SF_FORMAT_PCM_16};
        if (adv_audio_write(path, &au) < 0) rc = cli_error("dataset", ADV_EXIT_OUTPUT, "%s", adv_error());
        else printf("%s (%.2f s)\n", path, n / 16000.0);
        free(x);
    }
    adv_synth_free(s);
    return rc;
}

int cmd_dataset(int argc, char **argv)
{
    if (argc < 2) return cli_error("dataset", ADV_EXIT_USAGE, "missing subcommand (render, fsdkaggle2019, demo, heldout, check; see --help)");
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) { help(); return ADV_EXIT_OK; }
    int known = !strcmp(sub, "render") || !strcmp(sub, "fsdkaggle2019") || !strcmp(sub, "demo") ||
                !strcmp(sub, "check") || !strcmp(sub, "heldout");
    if (!known) return cli_error("dataset", ADV_EXIT_USAGE, "unknown subcommand '%s' (render, fsdkaggle2019, demo, heldout, check)", sub);
    args a;
    int rc = parse(argc - 1, argv + 1, sub, &a);
    if (rc < 0) return ADV_EXIT_OK;
    if (rc > 0) return rc;
    if (!strcmp(sub, "check")) {
        if (optind + 1 != argc - 1) return cli_error("dataset", ADV_EXIT_USAGE, "check: expected one DIR");
        return report(argv[1 + optind]);
    }
    if (!strcmp(sub, "demo")) return demo(&a);
    if (!strcmp(sub, "heldout")) {
        char summary[256];
        rc = adv_heldout_dataset(a.out, a.render.samples_dir, a.force, summary, sizeof summary);
        if (rc) return cli_error("dataset", rc, "%s", adv_error());
        fprintf(stderr, "advinst dataset: %s: %s\n", a.out, summary);
        return report(a.out);
    }
    if (!strcmp(sub, "fsdkaggle2019")) {
        if (!a.csv || !a.audio) return cli_error("dataset", ADV_EXIT_USAGE, "fsdkaggle2019: --csv and --audio are required");
        rc = adv_dataset_import_fsdkaggle(a.csv, a.audio, a.out, a.render.seed, a.force, 1);
        if (rc) return cli_error("dataset", rc, "%s", adv_error());
        return report(a.out);
    }
    double t0 = adv_now();
    /* SIGINT/SIGTERM stop the workers and remove the staging directory (exit 130) */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    a.render.cancel = &cancel_flag;
    rc = adv_render_dataset(a.out, &a.render, a.force);
    if (rc) return cli_error("dataset", rc, "%s", adv_error());
    fprintf(stderr, "advinst dataset: rendered %s in %.1f s\n", a.out, adv_now() - t0);
    return report(a.out);
}
