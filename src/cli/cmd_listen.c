/* advinst listen: what a listener hears in a recording: a window slid over it, each position
 * classified on its own (include/advinst/listen.h). Judges live output the way an audience hears it. */
#include "cli.h"
#include "advinst/audio.h"
#include "advinst/error.h"
#include "advinst/listen.h"
#include "advinst/resample.h"
#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(void)
{
    printf("usage: advinst listen [OPTIONS] AUDIO\n\n"
           "Slides a window over AUDIO (its mono mix) and classifies every position on its own, as\n"
           "an independent listener would; prints the share of windows heard as each class.\n\n"
           "  -m, --model FILE       model (safetensors); default: the shipped model\n"
           "  -w, --window S         window length in seconds (default 3.7)\n"
           "      --hop S            window step in seconds (default 0.1)\n"
           "      --from S, --to S   judge only windows lying wholly within [from, to] seconds\n"
           "  -t, --target CLASS     also print the share heard as CLASS (the hit rate)\n"
           "      --reference FILE   the clean input that went in; with --latency, also the SNR of\n"
           "                         AUDIO against it over the judged span\n"
           "      --latency S        AUDIO is the reference delayed by S seconds (default 0)\n"
           "      --loop             the reference repeats (as `advinst live --input-file F --loop`\n"
           "                         plays it); a reference at another rate is resampled as live does\n"
           "      --windows          one line per window\n"
           "  -j, --json             one JSON object\n"
           "  -h, --help             this help\n"
           "Silent windows (RMS below 1e-6) are counted apart and not judged.\n");
}

enum { OPT_HOP = 256, OPT_FROM, OPT_TO, OPT_REFERENCE, OPT_LATENCY, OPT_WINDOWS, OPT_LOOP };

/* SNR in dB of y against x delayed by `delay` frames over y's frames [lo, hi); both mono; x
 * repeats if loop. */
static double delayed_snr(const float *x, long nx, int loop, const float *y, long lo, long hi, long delay)
{
    double sx = 0, sd = 0;
    for (long i = lo; i < hi; i++) {
        long j = i - delay;
        if (loop && j >= nx) j %= nx;
        double xv = j >= 0 && j < nx ? x[j] : 0;
        sx += xv * xv;
        sd += (y[i] - xv) * (y[i] - xv);
    }
    return sd > 0 ? 10 * log10(sx / sd) : INFINITY;
}

static float *read_mono(const char *path, int *rate, long *n)
{
    adv_audio a;
    if (adv_audio_read(path, &a) != 0) return NULL;
    float *mono = malloc(sizeof(float) * (size_t)(a.frames ? a.frames : 1));
    if (mono) adv_audio_mix_mono(&a, mono);
    else adv_fail("out of memory");
    *rate = a.rate;
    *n = a.frames;
    adv_audio_free(&a);
    return mono;
}

int cmd_listen(int argc, char **argv)
{
    static const struct option options[] = {
        {"model", required_argument, 0, 'm'}, {"window", required_argument, 0, 'w'}, {"hop", required_argument, 0, OPT_HOP},
        {"from", required_argument, 0, OPT_FROM}, {"to", required_argument, 0, OPT_TO},
        {"target", required_argument, 0, 't'}, {"reference", required_argument, 0, OPT_REFERENCE},
        {"latency", required_argument, 0, OPT_LATENCY}, {"windows", no_argument, 0, OPT_WINDOWS},
        {"loop", no_argument, 0, OPT_LOOP},
        {"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *model_path = NULL, *target_name = NULL, *ref_path = NULL;
    double window = 3.7, hop = 0.1, from = 0, to = INFINITY, latency = 0;
    int json = 0, per_window = 0, loop = 0, opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "m:w:t:jh", options, NULL)) != -1) {
        double *dst = opt == 'w' ? &window : opt == OPT_HOP ? &hop : opt == OPT_FROM ? &from : opt == OPT_TO ? &to
                                                               : opt == OPT_LATENCY ? &latency : NULL;
        if (dst) {
            if (cli_parse_float(optarg, dst) != 0 || *dst < 0)
                return cli_error("listen", ADV_EXIT_USAGE, "'%s' is not a valid number of seconds for %s", optarg,
                                 argv[optind - 1]);
            continue;
        }
        switch (opt) {
        case 'm': model_path = optarg; break;
        case 't': target_name = optarg; break;
        case OPT_REFERENCE: ref_path = optarg; break;
        case OPT_WINDOWS: per_window = 1; break;
        case OPT_LOOP: loop = 1; break;
        case 'j': json = 1; break;
        case 'h': help(); return ADV_EXIT_OK;
        default: return cli_bad_option("listen", argv);
        }
    }
    if (optind + 1 != argc) return cli_error("listen", ADV_EXIT_USAGE, "give one audio file (see --help)");
    if (!(window > 0) || !(hop > 0)) return cli_error("listen", ADV_EXIT_USAGE, "--window and --hop must be > 0");
    if (!model_path) model_path = adv_default_model_path();
    if (!model_path) return cli_error("listen", ADV_EXIT_INPUT, "no model: pass --model FILE");
    adv_model *m = adv_model_load(model_path);
    if (!m) return cli_error("listen", ADV_EXIT_INPUT, "%s", adv_error());
    int target = -1, code = ADV_EXIT_OK, rate = 0, ref_rate = 0;
    if (target_name && (target = adv_model_class_index(m, target_name)) < 0) {
        adv_model_free(m);
        return cli_error("listen", ADV_EXIT_USAGE, "unknown class '%s'", target_name);
    }
    long n = 0, nr = 0;
    float *y = read_mono(argv[optind], &rate, &n), *x = NULL;
    if (!y) { adv_model_free(m); return cli_error("listen", ADV_EXIT_INPUT, "%s", adv_error()); }
    if (ref_path && !(x = read_mono(ref_path, &ref_rate, &nr))) {
        code = cli_error("listen", ADV_EXIT_INPUT, "%s", adv_error());
        goto out;
    }
    if (x && ref_rate != rate) {   /* as advinst live resamples its input file */
        adv_resampler *rs = adv_resampler_create(ref_rate, rate, nr);
        float *xr = rs ? malloc(sizeof(float) * (size_t)adv_resampler_output_length(rs)) : NULL;
        if (!xr) {
            adv_resampler_free(rs);
            code = cli_error("listen", ADV_EXIT_FAILURE, "%s", rs ? "out of memory" : adv_error());
            goto out;
        }
        adv_resampler_forward(rs, x, xr);
        nr = adv_resampler_output_length(rs);
        adv_resampler_free(rs);
        free(x);
        x = xr;
    }
    const long W = lround(window * rate), H = lround(hop * rate), lo = lround(from * rate);
    const long hi = isfinite(to) && lround(to * rate) < n ? lround(to * rate) : n;
    const long count = lo < hi ? adv_listen_count(hi - lo, W, H) : 0;
    if (count == 0) {
        code = cli_error("listen", ADV_EXIT_USAGE, "no whole %.2f s window fits in the judged span", window);
        goto out;
    }
    adv_listen_window *w = malloc(sizeof *w * (size_t)count);
    if (!w || adv_listen(m, y + lo, hi - lo, rate, W, H, w) != 0) {
        free(w);
        code = cli_error("listen", ADV_EXIT_FAILURE, "%s", w ? adv_error() : "out of memory");
        goto out;
    }
    long votes[ADV_N_CLASSES] = {0}, silent = 0, judged = 0;
    for (long k = 0; k < count; k++) {
        if (w[k].silent) silent++;
        else votes[w[k].cls]++, judged++;
        if (per_window && !json)
            printf("%.2f s: %s %.3f%s\n", (double)(lo + w[k].end) / rate, w[k].silent ? "silent" : m->classes[w[k].cls],
                   w[k].silent ? 0.0 : w[k].probs[w[k].cls], target >= 0 && w[k].cls == target ? " *" : "");
    }
    const double snr = x ? delayed_snr(x, nr, loop, y, lo, hi, lround(latency * rate)) : NAN;
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "file", argv[optind]);
        cJSON_AddNumberToObject(o, "windows", (double)count);
        cJSON_AddNumberToObject(o, "silent", (double)silent);
        if (target >= 0) {
            cJSON_AddStringToObject(o, "target", m->classes[target]);
            cJSON_AddNumberToObject(o, "hit_rate", judged ? (double)votes[target] / judged : 0);
        }
        if (x) cJSON_AddNumberToObject(o, "snr_db", isfinite(snr) ? snr : 999);
        cJSON *c = cJSON_AddObjectToObject(o, "classes");
        for (int k = 0; k < ADV_N_CLASSES; k++)
            if (votes[k]) cJSON_AddNumberToObject(c, m->classes[k], (double)votes[k] / judged);
        char *s = cJSON_PrintUnformatted(o);
        puts(s);
        cJSON_free(s);
        cJSON_Delete(o);
    } else {
        printf("%s: %ld windows of %.2f s every %.2f s (%ld silent)", argv[optind], count, window, hop, silent);
        if (target >= 0) printf("; heard as %s: %.1f %%", m->classes[target], judged ? 100.0 * votes[target] / judged : 0.0);
        if (x) printf("; SNR %.1f dB", snr);
        printf("\n");
        for (int k = 0; k < ADV_N_CLASSES; k++)
            if (votes[k]) printf("  %-24s %5.1f %%\n", m->classes[k], 100.0 * votes[k] / judged);
    }
    free(w);
out:
    free(x);
    free(y);
    adv_model_free(m);
    return code;
}
