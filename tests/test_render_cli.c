/* advinst render, end to end through the program (ADVINST_BINARY; the environment variable of
 * the same name overrides it): 44.1 kHz stereo inputs in WAV 16/24-bit/float and FLAC 16/24-bit
 * written with the library, a small random model saved beside them; outputs keep rate, channels
 * and format, differ from the input by at most eps plus one quantisation step, classify as the
 * JSON line says; --force is needed to overwrite, OUT == IN is refused, unknown class, method and
 * preset fail with exit 2 listing the valid names and leave no file; directories in, directories
 * out. */
#include "testutil.h"
#include "advinst/attack.h"
#include "advinst/audio.h"
#include "advinst/classifier.h"
#include "advinst/error.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *dir, *binary;
static char model_path[1200];
static adv_model *model;
static uint64_t rng = 99;

/* A random model whose predictions depend on the input (see adv_model_create_calibrated). */
static adv_model *make_model(uint64_t seed) { return adv_model_create_calibrated(seed); }

/* Runs the program with args (a shell fragment); stdout and stderr land in dir/out.txt, err.txt. */
static int run(const char *args)
{
    char cmd[10000];
    snprintf(cmd, sizeof cmd, "'%s' render %s > '%s/out.txt' 2> '%s/err.txt'", binary, args, dir, dir);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return strdup("");
    char *buf = malloc(65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

static void write_input(const char *name, int format, double f0)
{
    adv_audio a;
    const long frames = 22050;
    adv_audio_alloc(&a, frames, 2, 44100, format);
    for (long f = 0; f < frames; f++)
        for (int c = 0; c < 2; c++) {
            double t = (double)f / 44100;
            a.samples[f * 2 + c] = (float)((0.3 - 0.1 * c) * sin(2 * M_PI * f0 * t) + 0.1 * sin(2 * M_PI * 2.3 * f0 * t + c) +
                                           0.02 * adv_rng_normal(&rng));
        }
    CHECK(adv_audio_write(tu_path(dir, name), &a) == 0, "write %s: %s", name, adv_error());
    adv_audio_free(&a);
}

static void round_trip(const char *name, int format, double step, const char *method_args, double eps)
{
    char out_name[256], args[2048];
    snprintf(out_name, sizeof out_name, "adv-%s", name);
    const char *in = tu_path(dir, name), *out = tu_path(dir, out_name);
    snprintf(args, sizeof args, "'%s' -o '%s' --model '%s' %s --json", in, out, model_path, method_args);
    int rc = run(args);
    char *err = slurp_text(tu_path(dir, "err.txt")), *js = slurp_text(tu_path(dir, "out.txt"));
    CHECK(rc == 0, "%s: exit %d: %s", name, rc, err);
    adv_audio a, b;
    if (rc != 0 || adv_audio_read(in, &a) != 0) { free(err); free(js); return; }
    if (adv_audio_read(out, &b) != 0) { CHECK(0, "%s: output unreadable: %s", name, adv_error()); adv_audio_free(&a); free(err); free(js); return; }
    CHECK(b.rate == 44100 && b.channels == 2 && b.frames == a.frames && b.format == format,
          "%s: output %d Hz x %d, %ld frames, format 0x%x (input format 0x%x)", name, b.rate, b.channels, b.frames, b.format, format);
    double worst = 0;
    for (long i = 0; i < a.frames * 2; i++) worst = fmax(worst, fabs((double)a.samples[i] - b.samples[i]));
    CHECK(worst > 0, "%s: output differs from the input", name);
    CHECK(worst <= eps + step + 1e-7, "%s: max |out - in| %.9g > eps %g + step %g", name, worst, eps, step);

    cJSON *o = cJSON_Parse(js);
    CHECK(o != NULL, "%s: stdout is one JSON object: %s", name, js);
    if (o) {
        static const char *keys[] = {"file", "method", "target", "success", "iterations", "snr_db", "seconds", "before",
                                     "after", "status"};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            CHECK(cJSON_GetObjectItem(o, keys[k]) != NULL, "%s: JSON has \"%s\"", name, keys[k]);
        cJSON *after = cJSON_GetObjectItem(o, "after");
        cJSON *pred = after ? cJSON_GetObjectItem(after, "prediction") : NULL;
        cJSON *written = cJSON_GetObjectItem(o, "written");
        cJSON *wpred = written ? cJSON_GetObjectItem(written, "prediction") : NULL;
        float logits[ADV_N_CLASSES];
        if (pred && cJSON_IsString(pred) && wpred && cJSON_IsString(wpred) && adv_classify_audio(model, &b, logits) == 0) {
            int best = adv_most_likely(logits);
            CHECK(!strcmp(model->classes[best], pred->valuestring) && !strcmp(model->classes[best], wpred->valuestring),
                  "%s: output classifies as %s, JSON says %s, written %s", name, model->classes[best], pred->valuestring,
                  wpred->valuestring);
        } else {
            CHECK(0, "%s: JSON lacks after or written predictions: %s", name, js);
        }
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "codec")), "%s: no codec in the loop for a lossless format", name);
        cJSON *ok = cJSON_GetObjectItem(o, "success");
        CHECK(cJSON_IsTrue(ok), "%s: attack succeeded (%s)", name, js);
        cJSON_Delete(o);
    }
    adv_audio_free(&a);
    adv_audio_free(&b);
    free(err);
    free(js);
}

/* A lossy output (the codec in the attack's loop): the written file, decoded and classified here,
 * is what the JSON reports; success means the written file is the target. */
static void lossy_round_trip(const char *name, int format, const char *codec_name)
{
    char out_name[256], args[2048];
    snprintf(out_name, sizeof out_name, "adv-%s", name);
    const char *in = tu_path(dir, name), *out = tu_path(dir, out_name);
    snprintf(args, sizeof args, "'%s' -o '%s' --model '%s' --method cw --target random --alpha 1 --lr 1e-3 --max-iter 40 "
             "--seed 5 --json", in, out, model_path);
    int rc = run(args);
    char *err = slurp_text(tu_path(dir, "err.txt")), *js = slurp_text(tu_path(dir, "out.txt"));
    CHECK(rc == 0, "%s: exit %d: %s", name, rc, err);
    adv_audio b;
    cJSON *o = cJSON_Parse(js);
    if (rc == 0 && o && adv_audio_read(out, &b) == 0) {
        CHECK(b.format == format, "%s: output format 0x%x, expected 0x%x", name, b.format, format);
        float logits[ADV_N_CLASSES];
        CHECK(adv_classify_audio(model, &b, logits) == 0, "%s: classify the output", name);
        const char *file_class = model->classes[adv_most_likely(logits)];
        cJSON *w = cJSON_GetObjectItem(o, "written"), *after = cJSON_GetObjectItem(o, "after");
        cJSON *codec = cJSON_GetObjectItem(o, "codec"), *target = cJSON_GetObjectItem(o, "target");
        cJSON *wp = w ? cJSON_GetObjectItem(w, "prediction") : NULL, *ap = after ? cJSON_GetObjectItem(after, "prediction") : NULL;
        cJSON *ended = codec ? cJSON_GetObjectItem(codec, "ended_by") : NULL, *cf = codec ? cJSON_GetObjectItem(codec, "format") : NULL;
        CHECK(cJSON_IsString(wp) && !strcmp(wp->valuestring, file_class), "%s: the file classifies as %s, JSON written says %s",
              name, file_class, cJSON_IsString(wp) ? wp->valuestring : "?");
        CHECK(cJSON_IsString(ap) && !strcmp(ap->valuestring, file_class), "%s: the attack's last check heard %s, the file is %s",
              name, cJSON_IsString(ap) ? ap->valuestring : "?", file_class);
        CHECK(cJSON_IsString(cf) && strstr(cf->valuestring, codec_name), "%s: JSON codec format names %s: %s", name, codec_name, js);
        CHECK(cJSON_IsString(ended) && (!strcmp(ended->valuestring, "success") || !strcmp(ended->valuestring, "budget")),
              "%s: JSON codec.ended_by: %s", name, js);
        int success = cJSON_IsTrue(cJSON_GetObjectItem(o, "success"));
        CHECK(cJSON_IsString(target) && success == !strcmp(target->valuestring, file_class) &&
                  success == (cJSON_IsString(ended) && !strcmp(ended->valuestring, "success")),
              "%s: success means the written file is the target: %s", name, js);
        adv_audio_free(&b);
    } else {
        CHECK(0, "%s: no JSON or unreadable output: %s %s", name, js, adv_error());
    }
    cJSON_Delete(o);
    free(err);
    free(js);
}

static void check_error(const char *what, const char *args, int want_rc, const char *want_text, const char *no_file)
{
    int rc = run(args);
    char *err = slurp_text(tu_path(dir, "err.txt"));
    CHECK(rc == want_rc, "%s: exit %d, expected %d (%s)", what, rc, want_rc, err);
    CHECK(strstr(err, want_text) != NULL, "%s: message '%s' lacks '%s'", what, err, want_text);
    CHECK(strchr(err, '\n') == strrchr(err, '\n'), "%s: one-line message: %s", what, err);
    if (no_file) CHECK(!exists(no_file), "%s: no output left behind", what);
    free(err);
}

int main(void)
{
    dir = tu_scratch_dir("render_cli");
    binary = getenv("ADVINST_BINARY") ? getenv("ADVINST_BINARY") : ADVINST_BINARY;
    if (!dir) { fprintf(stderr, "no scratch directory\n"); return 1; }
    if (run("--help") != 0) {
        /* the program under test is broken: a failure, not a skip */
        char *err = slurp_text(tu_path(dir, "err.txt"));
        CHECK(0, "'%s render --help' failed: %s", binary, err ? err : "");
        free(err);
        return tu_finish("test_render_cli");
    }
    model = make_model(7);
    snprintf(model_path, sizeof model_path, "%s/model.safetensors", dir);
    CHECK(adv_model_save(model, model_path) == 0, "save model: %s", adv_error());

    write_input("w16.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 220);
    write_input("w24.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_24, 260);
    write_input("wf.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 300);
    write_input("f16.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 340);
    write_input("f24.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 380);

    const char *fgsm = "--method fgsm --eps 0.05";
    round_trip("w16.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1.0 / 32768, fgsm, 0.05);
    round_trip("w24.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_24, 1.0 / 8388608, fgsm, 0.05);
    round_trip("wf.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 0, fgsm, 0.05);
    round_trip("f16.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 1.0 / 32768,
               "--method cw --target random --alpha 1 --lr 1e-3 --max-iter 30 --seed 3", 0.01);
    round_trip("f24.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 1.0 / 8388608, "--preset fgsm-150 --eps 0.05", 0.05);
    write_input("v.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 420);
    write_input("u.wav", SF_FORMAT_WAV | SF_FORMAT_ULAW, 460);
    lossy_round_trip("v.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, "Vorbis");
    lossy_round_trip("u.wav", SF_FORMAT_WAV | SF_FORMAT_ULAW, "law");

    char args[8192];
    char in[1200], out[1200], nofile[1200], f16[1200];   /* path_in's buffers rotate: keep copies */
    snprintf(in, sizeof in, "%s", tu_path(dir, "w16.wav"));
    snprintf(out, sizeof out, "%s", tu_path(dir, "adv-w16.wav"));
    snprintf(nofile, sizeof nofile, "%s", tu_path(dir, "never.wav"));
    snprintf(f16, sizeof f16, "%s", tu_path(dir, "f16.flac"));
    struct stat before, after;
    stat(out, &before);
    snprintf(args, sizeof args, "'%s' -o '%s' --model '%s' --method fgsm", in, out, model_path);
    check_error("existing output without --force", args, 4, "--force", NULL);
    stat(out, &after);
    CHECK(before.st_mtim.tv_sec == after.st_mtim.tv_sec && before.st_mtim.tv_nsec == after.st_mtim.tv_nsec &&
          before.st_ino == after.st_ino, "existing output left untouched");
    snprintf(args, sizeof args, "'%s' -o '%s' --model '%s' --method fgsm --force", in, out, model_path);
    CHECK(run(args) == 0, "--force overwrites");

    stat(in, &before);
    snprintf(args, sizeof args, "'%s' -o '%s/./w16.wav' --model '%s' --method fgsm --force", in, dir, model_path);
    check_error("output is the input", args, 4, "input", NULL);
    stat(in, &after);
    CHECK(before.st_mtim.tv_sec == after.st_mtim.tv_sec && before.st_mtim.tv_nsec == after.st_mtim.tv_nsec,
          "input untouched");

    snprintf(args, sizeof args, "'%s' -o '%s' --model '%s' --method cw --target banjo", in, nofile, model_path);
    check_error("unknown class", args, 2, "accordion", nofile);
    snprintf(args, sizeof args, "'%s' -o '%s' --model '%s' --method bim", in, nofile, model_path);
    check_error("unknown method", args, 2, "mscw", nofile);
    snprintf(args, sizeof args, "'%s' -o '%s' --model '%s' --preset nosuch", in, nofile, model_path);
    check_error("unknown preset", args, 2, "cw-150", nofile);
    snprintf(args, sizeof args, "'%s' -o '%s' --model '%s' --method cw", in, nofile, model_path);
    check_error("targeted without a target", args, 2, "--target", nofile);
    snprintf(args, sizeof args, "'%s' -o '%s' --model '%s' --method fgsm --target accordion", in, nofile, model_path);
    check_error("untargeted with a target", args, 2, "untargeted", nofile);
    snprintf(args, sizeof args, "'%s' -o '%s' --model '%s' --method pgdn --eps -1", in, nofile, model_path);
    check_error("negative eps", args, 2, "--eps", nofile);
    snprintf(args, sizeof args, "'%s/missing.wav' -o '%s' --model '%s' --method fgsm", dir, nofile, model_path);
    check_error("missing input", args, 3, "missing.wav", nofile);

    /* directory in, directory out: audio files only, sorted, one JSON line each */
    char sub[1200], outdir[1200];
    snprintf(sub, sizeof sub, "%s/in", dir);
    snprintf(outdir, sizeof outdir, "%s/outdir", dir);
    mkdir(sub, 0755);
    snprintf(args, sizeof args, "cp '%s' '%s/b.wav' && cp '%s' '%s/a.flac' && echo text > '%s/notes.txt'", in, sub,
             f16, sub, sub);
    CHECK(system(args) == 0, "copy inputs");
    snprintf(args, sizeof args, "'%s' -o '%s' --model '%s' --method fgsm --eps 0.05 --json", sub, outdir, model_path);
    CHECK(run(args) == 0, "directory render");
    char p1[1300], p2[1300], p3[1300];
    snprintf(p1, sizeof p1, "%s/a.flac", outdir);
    snprintf(p2, sizeof p2, "%s/b.wav", outdir);
    snprintf(p3, sizeof p3, "%s/notes.txt", outdir);
    CHECK(exists(p1) && exists(p2) && !exists(p3), "directory output holds the two audio files only");
    char *js = slurp_text(tu_path(dir, "out.txt"));
    char *second = strchr(js, '\n');
    CHECK(strstr(js, "a.flac") && second && strstr(second, "b.wav") && strstr(js, "a.flac") < second,
          "one JSON line per file, sorted by name: %s", js);
    free(js);
    snprintf(args, sizeof args, "'%s' -o '%s' --model '%s' --method fgsm", sub, sub, model_path);
    check_error("directory output is the input directory", args, 4, "input", NULL);

    adv_model_free(model);
    return tu_finish("test_render_cli");
}
