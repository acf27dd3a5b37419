/* advinst render: adversarial versions of audio files (FGSM, PGDn, C&W, Multi-Scale C&W). */
#include "cli.h"
#include "advinst/attack.h"
#include "advinst/audio.h"
#include "advinst/classifier.h"
#include "advinst/error.h"
#include "advinst/paths.h"
#include "advinst/preset.h"
#include "advinst/progress.h"
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define CMD "render"

static void help(void)
{
    printf("usage: advinst render IN -o OUT [--method fgsm|pgdn|cw|mscw] [--preset NAME|FILE]\n"
           "                      [--target CLASS|random] [--model FILE] [options]\n\n"
           "Writes an adversarial version of IN: the perturbation is optimised end to end on the\n"
           "waveform at IN's own sample rate, the classifier hearing the mono mix, the same\n"
           "perturbation added to every channel. OUT keeps IN's sample rate, channels and format\n"
           "(e.g. FLAC 24-bit stays FLAC 24-bit); the attack classifies exactly what is written\n"
           "(rounded to the format's grid; lossy formats such as Vorbis, Opus, MP3, ADPCM and u-law\n"
           "encoded and decoded in every iteration), and the written file is read back and\n"
           "classified: that is the result reported. IN may be a directory: every audio file in\n"
           "it, sorted by name, into the directory OUT (created).\n"
           "Silent clips and clips already predicted as the target are copied, not attacked.\n\n"
           "  -o, --output OUT       output file or directory (required)\n"
           "  -m, --model FILE       model (safetensors); default: the shipped model\n"
           "  -M, --method NAME      fgsm | pgdn | cw | mscw (default: the preset's)\n"
           "  -p, --preset NAME|FILE parameters from a preset (options override it); see below\n"
           "  -t, --target CLASS     cw and mscw: class name or index, or random (a seeded draw\n"
           "                         among the classes other than the original prediction)\n"
           "      --eps F            L-inf bound (FGSM: the step)\n"
           "      --alpha F          weight of the cross-entropy (cw, mscw)\n"
           "      --lr F             Adam's learning rate, the paper's eta (pgdn, cw, mscw)\n"
           "      --max-iter N       at most N iterations (default 500)\n"
           "      --seed N           random start and random targets (default 0; each file's\n"
           "                         seed derives from N and its name)\n"
           "      --confidence P     keep going until the target's (untargeted: the new class's)\n"
           "                         probability is at least P (default 0: off)\n"
           "      --min-snr DB       never output a perturbation below DB dB SNR (default: off)\n"
           "  -j, --json             one JSON object per file and line\n"
           "  -f, --force            overwrite existing output files (never the input)\n"
           "  -h, --help             this help\n\n"
           "Defaults are the paper's \">=150\" settings: fgsm eps 0.1; pgdn eps 0.0005, lr 1e-5;\n"
           "cw eps 0.01, alpha 0.01, lr 1e-5; mscw eps 0.01, alpha 10, lr 1e-5.\n");
    char names[1024];
    printf("Presets (%s): %s\n", adv_preset_dir() ? adv_preset_dir() : "no presets directory",
           adv_preset_names(names, sizeof names));
}

static volatile sig_atomic_t interrupted;
static atomic_int cancel_flag;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
    atomic_store(&cancel_flag, 1);
}

static const char *class_list(const adv_model *m, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < ADV_N_CLASSES && used < size; k++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", k ? ", " : "", m->classes[k]);
    return buf;
}

static int compare_strings(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Audio files libsndfile can open in dir, sorted by name (malloc'd names). */
static int list_audio(const char *dir, char ***out, int *count)
{
    DIR *d = opendir(dir);
    if (!d) return adv_fail("%s: cannot open directory: %s", dir, strerror(errno));
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path) continue;
        if (!adv_audio_probe(path)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(names, sizeof *names * (size_t)cap);
            if (!nn) break;
            names = nn;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, compare_strings);
    *out = names;
    *count = n;
    return 0;
}

static uint64_t name_hash(const char *path)
{
    const char *base = adv_path_base(path);
    uint64_t h = 1469598103934665603ULL;   /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)base; *c; c++) h = (h ^ *c) * 1099511628211ULL;
    return h;
}

typedef struct {
    adv_model *model;
    adv_attack_params params;
    int json, force;
    adv_attack_ws *ws;
    float *out;
    size_t out_size;
    adv_progress *progress;
    int write_failed;
} render_ctx;

/* What the written file is classified as, read back. */
typedef struct {
    int prediction;
    float confidence;
    int success;             /* the file is the target (targeted) or moved off the original class */
} written_check;

static const char *codec_end(const adv_attack_result *r)
{
    return r->status == ADV_ATTACK_OK ? "success" : r->status == ADV_ATTACK_FAILED ? "budget" : "not attacked";
}

static void print_result(const render_ctx *c, const char *in, const char *out, const adv_attack_result *r,
                         int format, const written_check *wc)
{
    const adv_model *m = c->model;
    const char *method = adv_attack_method_name(c->params.method);
    char fmt[64];
    adv_audio_format_name(format, fmt, sizeof fmt);
    if (c->progress && c->progress->enabled) fputs("\r\033[K", stderr);
    if (c->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "file", in);
        cJSON_AddStringToObject(o, "output", out);
        cJSON_AddStringToObject(o, "method", method);
        if (r->target >= 0) cJSON_AddStringToObject(o, "target", m->classes[r->target]);
        else cJSON_AddNullToObject(o, "target");
        cJSON_AddStringToObject(o, "status", adv_attack_status_name(r->status));
        cJSON_AddBoolToObject(o, "success", wc->success);
        cJSON_AddNumberToObject(o, "iterations", (double)r->iterations);
        if (isfinite(r->snr_db)) cJSON_AddNumberToObject(o, "snr_db", r->snr_db);
        else cJSON_AddNullToObject(o, "snr_db");
        cJSON_AddNumberToObject(o, "seconds", r->seconds);
        cJSON *b = cJSON_AddObjectToObject(o, "before");
        cJSON_AddStringToObject(b, "prediction", m->classes[r->before_class]);
        cJSON_AddNumberToObject(b, "confidence", r->before_confidence);
        cJSON *a = cJSON_AddObjectToObject(o, "after");
        cJSON_AddStringToObject(a, "prediction", m->classes[r->after_class]);
        cJSON_AddNumberToObject(a, "confidence", r->after_confidence);
        cJSON *w = cJSON_AddObjectToObject(o, "written");
        cJSON_AddStringToObject(w, "prediction", m->classes[wc->prediction]);
        cJSON_AddNumberToObject(w, "confidence", wc->confidence);
        if (r->codec) {
            cJSON *k = cJSON_AddObjectToObject(o, "codec");
            cJSON_AddStringToObject(k, "format", fmt);
            cJSON_AddStringToObject(k, "ended_by", codec_end(r));
        } else {
            cJSON_AddNullToObject(o, "codec");
        }
        char *s = cJSON_PrintUnformatted(o);
        puts(s);
        cJSON_free(s);
        cJSON_Delete(o);
    } else if (r->status == ADV_ATTACK_SILENT) {
        printf("%s: silent, not attacked (copied); written file: %s %.2f\n", in, m->classes[wc->prediction],
               wc->confidence);
    } else if (r->status == ADV_ATTACK_ALREADY) {
        printf("%s: %s %.2f is already the target, not attacked (copied); written file: %s %.2f\n", in,
               m->classes[r->before_class], r->before_confidence, m->classes[wc->prediction], wc->confidence);
    } else {
        char snr[32];
        if (isfinite(r->snr_db)) snprintf(snr, sizeof snr, "SNR %.1f dB", r->snr_db);
        else snprintf(snr, sizeof snr, "unchanged");
        printf("%s: %s %.2f -> %s %.2f (%s, ", in, m->classes[r->before_class], r->before_confidence,
               m->classes[r->after_class], r->after_confidence, method);
        if (r->success) printf("%ld iteration%s", r->iterations, r->iterations == 1 ? "" : "s");
        else printf("failed after %ld iteration%s", r->iterations, r->iterations == 1 ? "" : "s");
        if (!r->success && r->target >= 0) printf(", target %s", m->classes[r->target]);
        if (r->codec) printf(", %s encoded and decoded in the loop", fmt);
        printf(", %s); written file: %s %.2f%s\n", snr, m->classes[wc->prediction], wc->confidence,
               wc->success == r->success ? "" : wc->success ? ", a success" : ", NOT a success");
    }
    fflush(stdout);
}

/* Reads the written file back and classifies it as any reader would (mono mix of the whole file). */
static int check_written(const render_ctx *c, const char *path, const adv_attack_result *r, written_check *wc)
{
    adv_audio b;
    float logits[ADV_N_CLASSES], probs[ADV_N_CLASSES];
    if (adv_audio_read(path, &b) != 0) return -1;
    int rc = adv_classify_audio(c->model, &b, logits);
    adv_audio_free(&b);
    if (rc != 0) return -1;
    adv_softmax(ADV_N_CLASSES, logits, probs);
    wc->prediction = adv_most_likely(probs);
    wc->confidence = probs[wc->prediction];
    wc->success = r->target >= 0 ? wc->prediction == r->target : wc->prediction != r->before_class;
    if (r->status == ADV_ATTACK_SILENT || r->status == ADV_ATTACK_ALREADY) wc->success = 0;
    return 0;
}

/* Renders one file; returns an exit code (ADV_EXIT_OK when written). */
static int render_file(render_ctx *c, const char *in, const char *out)
{
    struct stat sin, sout;
    if (stat(in, &sin) != 0) return cli_error(CMD, ADV_EXIT_INPUT, "%s: cannot open: %s", in, strerror(errno));
    if (stat(out, &sout) == 0) {
        if (sin.st_dev == sout.st_dev && sin.st_ino == sout.st_ino)
            return cli_error(CMD, ADV_EXIT_OUTPUT, "%s: refusing to overwrite the input %s", out, in);
        if (S_ISDIR(sout.st_mode)) return cli_error(CMD, ADV_EXIT_OUTPUT, "%s: is a directory", out);
        if (!c->force) return cli_error(CMD, ADV_EXIT_OUTPUT, "%s: exists (use --force to overwrite)", out);
    }
    adv_audio a;
    if (adv_audio_read(in, &a) != 0) return cli_error(CMD, ADV_EXIT_INPUT, "%s", adv_error());
    cli_warn_truncated(CMD, in, &a);

    int need_ms = c->params.method == ADV_MSCW;
    if (c->ws && (adv_attack_ws_rate(c->ws) != a.rate || adv_attack_ws_frames(c->ws) != a.frames ||
                  adv_attack_ws_channels(c->ws) != a.channels)) {
        adv_attack_ws_free(c->ws);
        c->ws = NULL;
    }
    if (!c->ws && !(c->ws = adv_attack_ws_create(c->model, a.rate, a.frames, a.channels, need_ms))) {
        int rc = cli_error(CMD, ADV_EXIT_INPUT, "%s: %s", in, adv_error());
        adv_audio_free(&a);
        return rc;
    }
    size_t total = (size_t)a.frames * a.channels;
    if (total > c->out_size) {
        float *o = realloc(c->out, sizeof(float) * total);
        if (!o) { adv_audio_free(&a); return cli_error(CMD, ADV_EXIT_FAILURE, "out of memory"); }
        c->out = o;
        c->out_size = total;
    }
    adv_attack_params p = c->params;
    p.seed = c->params.seed ^ name_hash(in);
    adv_attack_result r;
    if (adv_attack_run(c->ws, &p, a.samples, a.format, c->out, &r) != 0) {
        int rc = cli_error(CMD, ADV_EXIT_INPUT, "%s: %s", in, adv_error());
        adv_audio_free(&a);
        return rc;
    }
    if (r.status == ADV_ATTACK_CANCELLED) {
        adv_audio_free(&a);
        return ADV_EXIT_INTERRUPTED;
    }
    /* atomic: the file appears whole at the end or not at all; without --force an output that
     * appeared meanwhile is not replaced */
    adv_audio_writer *w = adv_audio_writer_open(out, a.rate, a.channels, a.format, c->force ? ADV_OUTFILE_REPLACE : 0);
    int rc = w ? adv_audio_writer_write(w, c->out, a.frames) : -1;
    if (w && rc != 0) adv_audio_writer_abort(w);
    else if (w) rc = adv_audio_writer_commit(w);
    int format = a.format;
    adv_audio_free(&a);
    if (rc != 0) {
        if (adv_error_exit(0) == ADV_EXIT_OUTPUT) c->write_failed = 1;   /* e.g. disk full: the next files would fail alike */
        return cli_error(CMD, ADV_EXIT_OUTPUT, "%s", adv_error());
    }
    written_check wc;
    if (check_written(c, out, &r, &wc) != 0)
        return cli_error(CMD, ADV_EXIT_FAILURE, "%s: written, but cannot be read back: %s", out, adv_error());
    print_result(c, in, out, &r, format, &wc);
    return ADV_EXIT_OK;
}

static int parse_option_float(const char *name, const char *s, double lo, int lo_open, double *out)
{
    if (cli_parse_float(s, out) != 0 || *out < lo || (lo_open && *out <= lo)) {
        cli_error(CMD, ADV_EXIT_USAGE, "--%s %s: expected a number %s %g", name, s, lo_open ? ">" : ">=", lo);
        return -1;
    }
    return 0;
}

enum { OPT_EPS = 256, OPT_ALPHA, OPT_LR, OPT_MAX_ITER, OPT_SEED, OPT_CONFIDENCE, OPT_MIN_SNR };

int cmd_render(int argc, char **argv)
{
    static const struct option options[] = {
        {"output", required_argument, 0, 'o'}, {"model", required_argument, 0, 'm'},
        {"method", required_argument, 0, 'M'}, {"preset", required_argument, 0, 'p'},
        {"target", required_argument, 0, 't'}, {"eps", required_argument, 0, OPT_EPS},
        {"alpha", required_argument, 0, OPT_ALPHA}, {"lr", required_argument, 0, OPT_LR},
        {"max-iter", required_argument, 0, OPT_MAX_ITER}, {"seed", required_argument, 0, OPT_SEED},
        {"confidence", required_argument, 0, OPT_CONFIDENCE}, {"min-snr", required_argument, 0, OPT_MIN_SNR},
        {"json", no_argument, 0, 'j'}, {"force", no_argument, 0, 'f'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *out_path = NULL, *model_path = NULL, *method_name = NULL, *preset_name = NULL, *target_name = NULL;
    const char *eps_s = NULL, *alpha_s = NULL, *lr_s = NULL, *iter_s = NULL, *seed_s = NULL, *conf_s = NULL,
               *snr_s = NULL;
    int json = 0, force = 0, opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:m:M:p:t:jfh", options, NULL)) != -1) {
        switch (opt) {
        case 'o': out_path = optarg; break;
        case 'm': model_path = optarg; break;
        case 'M': method_name = optarg; break;
        case 'p': preset_name = optarg; break;
        case 't': target_name = optarg; break;
        case OPT_EPS: eps_s = optarg; break;
        case OPT_ALPHA: alpha_s = optarg; break;
        case OPT_LR: lr_s = optarg; break;
        case OPT_MAX_ITER: iter_s = optarg; break;
        case OPT_SEED: seed_s = optarg; break;
        case OPT_CONFIDENCE: conf_s = optarg; break;
        case OPT_MIN_SNR: snr_s = optarg; break;
        case 'j': json = 1; break;
        case 'f': force = 1; break;
        case 'h': help(); return ADV_EXIT_OK;
        default: return cli_error(CMD, ADV_EXIT_USAGE, "see 'advinst render --help'");
        }
    }
    if (optind >= argc) return cli_error(CMD, ADV_EXIT_USAGE, "no input given (see --help)");
    if (argc - optind > 1) return cli_error(CMD, ADV_EXIT_USAGE, "one input (file or directory), got %d", argc - optind);
    const char *in_path = argv[optind];
    if (!out_path) return cli_error(CMD, ADV_EXIT_USAGE, "no output: pass -o OUT");

    /* method and parameters: defaults < preset < options */
    adv_preset preset;
    int have_preset = 0;
    if (preset_name) {
        if (adv_preset_load(preset_name, &preset) != 0)
            return cli_error(CMD, strncmp(adv_error(), "unknown preset", 14) ? ADV_EXIT_INPUT : ADV_EXIT_USAGE, "%s",
                             adv_error());
        have_preset = 1;
    }
    int method;
    if (method_name) {
        method = adv_attack_method_parse(method_name);
        if (method < 0)
            return cli_error(CMD, ADV_EXIT_USAGE, "unknown method '%s' (valid: fgsm, pgdn, cw, mscw)", method_name);
    } else if (have_preset) {
        method = (int)preset.method;
    } else {
        return cli_error(CMD, ADV_EXIT_USAGE, "no method: pass --method fgsm|pgdn|cw|mscw or --preset NAME");
    }
    adv_attack_params params;
    adv_attack_defaults((adv_attack_method)method, &params);
    if (have_preset) adv_preset_apply(&preset, &params);
    double v;
    if (eps_s) { if (parse_option_float("eps", eps_s, 0, 0, &v)) return ADV_EXIT_USAGE; params.eps = (float)v; }
    if (alpha_s) { if (parse_option_float("alpha", alpha_s, 0, 0, &v)) return ADV_EXIT_USAGE; params.alpha = (float)v; }
    if (lr_s) { if (parse_option_float("lr", lr_s, 0, 1, &v)) return ADV_EXIT_USAGE; params.lr = (float)v; }
    if (conf_s) {
        if (parse_option_float("confidence", conf_s, 0, 0, &v)) return ADV_EXIT_USAGE;
        if (v > 1) return cli_error(CMD, ADV_EXIT_USAGE, "--confidence %s: expected a probability in [0, 1]", conf_s);
        params.confidence = (float)v;
    }
    if (snr_s) { if (parse_option_float("min-snr", snr_s, -INFINITY, 0, &v)) return ADV_EXIT_USAGE; params.min_snr_db = (float)v; }
    if (iter_s) {
        long n;
        if (cli_parse_long(iter_s, &n) != 0 || n < 1)
            return cli_error(CMD, ADV_EXIT_USAGE, "--max-iter %s: expected a whole number >= 1", iter_s);
        params.max_iter = n;
    }
    if (seed_s) {
        char *end;
        errno = 0;
        unsigned long long s = strtoull(seed_s, &end, 10);
        if (!*seed_s || *end || errno || *seed_s == '-')
            return cli_error(CMD, ADV_EXIT_USAGE, "--seed %s: expected a whole number >= 0", seed_s);
        params.seed = (uint64_t)s;
    }
    int targeted = adv_attack_method_targeted((adv_attack_method)method);
    if (!targeted && target_name)
        return cli_error(CMD, ADV_EXIT_USAGE, "%s is untargeted (it moves away from the original prediction): --target does not apply",
                         adv_attack_method_name((adv_attack_method)method));
    if (targeted && !target_name && have_preset && (preset.has & ADV_PRESET_HAS_TARGET)) target_name = preset.target;
    if (targeted && !target_name)
        return cli_error(CMD, ADV_EXIT_USAGE, "%s is a targeted attack: pass --target CLASS|random",
                         adv_attack_method_name((adv_attack_method)method));

    if (!model_path) model_path = adv_default_model_path();
    if (!model_path)
        return cli_error(CMD, ADV_EXIT_INPUT,
                         "no model: the shipped model models/default.safetensors was not found; pass --model FILE");
    adv_model *model = adv_model_load(model_path);
    if (!model) return cli_error(CMD, ADV_EXIT_INPUT, "%s", adv_error());
    if (targeted) {
        if ((params.target = adv_attack_target_parse(model, target_name, 0)) == ADV_TARGET_INVALID) {
            char classes[1024];
            cli_error(CMD, ADV_EXIT_USAGE, "unknown class '%s' (valid: %s, an index 0..%d, or random)", target_name,
                      class_list(model, classes, sizeof classes), ADV_N_CLASSES - 1);
            adv_model_free(model);
            return ADV_EXIT_USAGE;
        }
    }

    /* inputs and outputs */
    struct stat st;
    if (stat(in_path, &st) != 0) {
        adv_model_free(model);
        return cli_error(CMD, ADV_EXIT_INPUT, "%s: cannot open: %s", in_path, strerror(errno));
    }
    char **names = NULL;
    int count = 0, is_dir = S_ISDIR(st.st_mode), created_dir = 0;
    char single_out[4096];
    if (is_dir) {
        int listed = list_audio(in_path, &names, &count);
        if (listed != 0 || count == 0) {
            int rc = listed != 0 ? cli_error(CMD, ADV_EXIT_INPUT, "%s", adv_error())
                                 : cli_error(CMD, ADV_EXIT_INPUT, "%s: no audio files libsndfile can read", in_path);
            free(names);
            adv_model_free(model);
            return rc;
        }
        struct stat so;
        created_dir = mkdir(out_path, 0777) == 0;
        if (!created_dir && errno != EEXIST) {
            int rc = cli_error(CMD, ADV_EXIT_OUTPUT, "%s: cannot create directory: %s", out_path, strerror(errno));
            for (int i = 0; i < count; i++) free(names[i]);
            free(names);
            adv_model_free(model);
            return rc;
        }
        if (stat(out_path, &so) != 0 || !S_ISDIR(so.st_mode) || (so.st_dev == st.st_dev && so.st_ino == st.st_ino)) {
            int rc = cli_error(CMD, ADV_EXIT_OUTPUT, "%s: %s", out_path,
                               S_ISDIR(so.st_mode) ? "is the input directory: refusing to overwrite the inputs"
                                                   : "is not a directory (IN is a directory)");
            for (int i = 0; i < count; i++) free(names[i]);
            free(names);
            adv_model_free(model);
            return rc;
        }
    } else {
        struct stat so;
        const char *base = adv_path_base(in_path);
        if (stat(out_path, &so) == 0 && S_ISDIR(so.st_mode))
            snprintf(single_out, sizeof single_out, "%s/%s", out_path, base);
        else
            snprintf(single_out, sizeof single_out, "%s", out_path);
        count = 1;
    }

    /* SIGINT/SIGTERM cancel the attack under way (nothing of it is written) and end the run:
     * the outputs already written are complete files */
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    atomic_store(&cancel_flag, 0);
    params.cancel = &cancel_flag;

    adv_progress progress;
    render_ctx c = {model, params, json, force, NULL, NULL, 0, is_dir ? &progress : NULL, 0};
    if (is_dir) adv_progress_start(&progress, "render", count);
    int worst = ADV_EXIT_OK;
    for (int i = 0; i < count && !interrupted; i++) {
        char in_file[4096], out_file[4096];
        if (is_dir) {
            snprintf(in_file, sizeof in_file, "%s/%s", in_path, names[i]);
            snprintf(out_file, sizeof out_file, "%s/%s", out_path, names[i]);
        } else {
            snprintf(in_file, sizeof in_file, "%s", in_path);
            snprintf(out_file, sizeof out_file, "%s", single_out);
        }
        int rc = render_file(&c, in_file, out_file);
        if (rc == ADV_EXIT_INTERRUPTED) break;
        if (rc > worst) worst = rc;   /* I/O problems; a failed attack is written and is not one */
        if (c.write_failed) break;
        if (is_dir) adv_progress_update(&progress, i + 1, names[i]);
    }
    if (is_dir) adv_progress_finish(&progress);
    if (created_dir) rmdir(out_path);   /* only if nothing was written (failure, interruption) */
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);

    adv_attack_ws_free(c.ws);
    free(c.out);
    for (int i = 0; i < count && names; i++) free(names[i]);
    free(names);
    adv_model_free(model);
    if (interrupted) return cli_error(CMD, ADV_EXIT_INTERRUPTED, "interrupted");
    return worst;
}
