/* Experiments on a tiny synthetic data set and a random model: the report files, the rows of
 * results.csv, the choice of the setting, determinism across thread counts, the noise baseline's
 * SNR, the grid parser, the Table 1 presets, and the refusal of a non-empty report directory. */
#include "testutil.h"
#include "advinst/attack.h"
#include "advinst/audio.h"
#include "advinst/dataset.h"
#include "advinst/error.h"
#include "advinst/experiment.h"
#include <math.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CLIPS 6
#define FRAMES 8000

static uint64_t rng = 777;

/* cairo's font lookup keeps fontconfig caches for the life of the process (sanitizer builds) */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libfontconfig\n"; }

/* A random model whose predictions depend on the input (see adv_model_create_calibrated). */
static adv_model *make_model(uint64_t seed) { return adv_model_create_calibrated(seed); }

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n) n = 0;
    s[n] = '\0';
    fclose(f);
    return s;
}

static int exists(const char *dir, const char *name)
{
    char p[2048];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0 && st.st_size > 0;
}

/* Splits CSV text into lines (in place); returns the count. */
static int split_lines(char *s, char **lines, int max)
{
    int n = 0;
    for (char *save = NULL, *l = strtok_r(s, "\n", &save); l && n < max; l = strtok_r(NULL, "\n", &save)) lines[n++] = l;
    return n;
}

/* Field k (0-based) of a CSV line (no quoting in our files) into out. */
static void field(const char *line, int k, char *out, size_t size)
{
    const char *p = line;
    for (int i = 0; i < k && p; i++) p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
    size_t n = 0;
    while (p && p[n] && p[n] != ',' && n + 1 < size) { out[n] = p[n]; n++; }
    out[n] = '\0';
}

static double field_num(const char *line, int k)
{
    char b[64];
    field(line, k, b, sizeof b);
    return *b ? atof(b) : NAN;
}

static void make_data(const char *data)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/audio", data);
    mkdir(data, 0755);
    mkdir(path, 0755);
    adv_dataset ds;
    adv_dataset_init(&ds);
    static const int labels[CLIPS + 1] = {0, 3, 5, 7, 9, 11, 2};
    for (int c = 0; c < CLIPS + 1; c++) {
        adv_audio a;
        adv_audio_alloc(&a, FRAMES, 1, 16000, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
        double f0 = 110 * (c + 1), amp = 0.1 + 0.08 * (c % 3);
        for (long i = 0; i < FRAMES; i++) {
            double t = i / 16000.0;
            a.samples[i] = (float)(amp * sin(2 * M_PI * f0 * t) + 0.5 * amp * sin(2 * M_PI * 2.7 * f0 * t) +
                                   0.01 * (c + 1) * adv_rng_normal(&rng));
        }
        char name[64];
        snprintf(name, sizeof name, "clip%d.wav", c);
        snprintf(path, sizeof path, "%s/audio/%s", data, name);
        CHECK(adv_audio_write(path, &a) == 0, "%s", adv_error());
        adv_audio_free(&a);
        adv_dataset_add(&ds, name, labels[c], c < CLIPS ? ADV_SPLIT_VALID : ADV_SPLIT_TRAIN);
    }
    snprintf(path, sizeof path, "%s/labels.csv", data);
    CHECK(adv_dataset_write_labels(path, &ds) == 0, "%s", adv_error());
    adv_dataset_free(&ds);
}

static void test_grid_and_presets(const adv_model *m)
{
    adv_attack_params base;
    adv_attack_defaults(ADV_CW, &base);
    adv_exp_setting *s;
    int n;
    CHECK(adv_exp_parse_grid("alpha=0.01,0.1;lr=1e-5,5e-5", &base, &s, &n) == 0, "%s", adv_error());
    CHECK(n == 4, "grid of 4, got %d", n);
    if (n == 4) {
        CHECK(!strcmp(s[0].label, "alpha=0.01 lr=1e-05") && !strcmp(s[3].label, "alpha=0.1 lr=5e-05"), "labels %s, %s",
              s[0].label, s[3].label);
        CHECK(s[1].params.alpha == 0.01f && s[1].params.lr == 5e-5f && s[2].params.alpha == 0.1f && s[2].params.lr == 1e-5f,
              "first key varies slowest");
        CHECK(s[3].params.eps == base.eps && s[3].params.method == ADV_CW, "the rest from the base");
    }
    free(s);
    CHECK(adv_exp_parse_grid(NULL, &base, &s, &n) == 0 && n == 1, "no grid: the base alone");
    free(s);
    CHECK(adv_exp_parse_grid("beta=1", &base, &s, &n) == -1 && strstr(adv_error(), "unknown key"), "bad key: %s", adv_error());
    CHECK(adv_exp_parse_grid("lr=0", &base, &s, &n) == -1, "lr must be > 0");
    CHECK(adv_exp_parse_grid("eps=0.1;eps=0.2", &base, &s, &n) == -1, "key twice");
    CHECK(adv_exp_parse_grid("max_iter=1.5", &base, &s, &n) == -1, "max_iter whole");

    adv_exp_setting t1[ADV_EXP_TABLE1_ROWS];
    CHECK(adv_exp_table1_settings(m, t1) == 0, "table 1 presets: %s", adv_error());
    CHECK(!strcmp(t1[0].label, "fgsm-150") && t1[0].params.method == ADV_FGSM && t1[0].params.eps == 0.1f, "fgsm-150");
    CHECK(!strcmp(t1[7].label, "mscw-180") && t1[7].params.alpha == 15.0f && t1[7].params.lr == 5e-5f &&
              t1[7].params.target == ADV_TARGET_RANDOM, "mscw-180");
    CHECK(!strcmp(t1[8].label, "cw-accordion") && t1[8].params.target == 0 && t1[8].params.alpha == 0.5f, "cw-accordion");
    CHECK(t1[5].params.method == ADV_PGDN && t1[5].params.eps == 0.01f && t1[5].params.lr == 1e-3f, "pgdn-180");

    const double snr[4] = {40, 45, 50, NAN}, adv[4] = {160, 155, 100, 200};
    CHECK(adv_exp_choose(snr, adv, 4, 150) == 1, "highest SNR among those meeting the requirement");
    CHECK(adv_exp_choose(snr, adv, 4, 201) == -1, "none meets it");
    CHECK(adv_exp_choose(snr, adv, 4, 0) == 2, "no requirement");
}

static void test_noise(void)
{
    float x[FRAMES], y[FRAMES];
    for (int i = 0; i < FRAMES; i++) x[i] = (float)(0.3 * sin(i * 0.05) + 0.01 * adv_rng_normal(&rng));
    for (int k = 0; k < 3; k++) {
        double target = 10 + 20 * k;
        uint64_t r = 5 + k;
        CHECK(adv_exp_add_noise(x, FRAMES, target, &r, y) == 0, "noise added");
        CHECK_NEAR(adv_snr_db(x, y, FRAMES), target, 0.01, "noise SNR");
    }
    memset(x, 0, sizeof x);
    uint64_t r = 1;
    CHECK(adv_exp_add_noise(x, FRAMES, 40, &r, y) == -1, "silence: no SNR to aim at");
}

int main(void)
{
    const char *dir = tu_scratch_dir("experiment");
    CHECK(dir != NULL, "scratch dir");
    if (!dir) return tu_finish("test_experiment");
    char data[1024], model_path[1024], out1[1024], out2[1024], out3[1024], path[2048];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(model_path, sizeof model_path, "%s/model.safetensors", dir);
    snprintf(out1, sizeof out1, "%s/report1", dir);
    snprintf(out2, sizeof out2, "%s/report2", dir);
    snprintf(out3, sizeof out3, "%s/noise", dir);
    make_data(data);
    adv_model *made = make_model(11);
    CHECK(adv_model_save(made, model_path) == 0, "%s", adv_error());
    adv_model_free(made);
    adv_model *m = adv_model_load(model_path);
    CHECK(m != NULL, "%s", adv_error());
    if (!m) return tu_finish("test_experiment");

    test_grid_and_presets(m);
    test_noise();

    /* PGDn (random start: runs differ), 2-point grid, 2 runs */
    adv_attack_params base;
    adv_attack_defaults(ADV_PGDN, &base);
    base.max_iter = 15;
    adv_exp_setting *settings;
    int n;
    CHECK(adv_exp_parse_grid("eps=0.003,0.03;lr=2e-3", &base, &settings, &n) == 0 && n == 2, "grid");
    adv_exp_config cfg = {0};
    cfg.mode = ADV_EXP_GRID;
    cfg.model = m;
    cfg.model_path = model_path;
    cfg.data_dir = data;
    cfg.split = ADV_SPLIT_VALID;
    cfg.settings = settings;
    cfg.n_settings = n;
    cfg.runs = 2;
    cfg.seed = 3;
    cfg.require = 2;
    cfg.threads = 2;
    cfg.keep_audio = 1;
    cfg.out_dir = out1;
    cfg.command_line = "advinst experiment (test)";
    adv_exp_outcome o1, o2;
    int rc = adv_experiment_run(&cfg, &o1);
    CHECK(rc == 0, "experiment: rc %d: %s", rc, adv_error());
    CHECK(o1.clips == CLIPS && o1.require == 2, "clips %ld require %ld", o1.clips, o1.require);

    static const char *const files[] = {"report.md", "results.csv", "summary.csv", "clips.csv", "confusion-clean.png",
                                        "confusion-eps_0.003_lr_0.002.png", "snr-eps_0.03_lr_0.002.png",
                                        "audio/eps_0.03_lr_0.002/run2/clip3.wav"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) CHECK(exists(out1, files[i]), "%s/%s exists", out1, files[i]);

    /* results.csv: header, clean, 2 settings x 2 runs, 2 noise runs (when a setting was chosen) */
    snprintf(path, sizeof path, "%s/results.csv", out1);
    char *results1 = read_file(path);
    CHECK(results1 != NULL, "results.csv readable");
    char *copy = strdup(results1 ? results1 : "");
    char *lines[64];
    int nl = split_lines(copy, lines, 64);
    int expect = 1 + 1 + 4 + (o1.chosen >= 0 ? 2 : 0);
    CHECK(nl == expect, "results.csv has %d lines, expected %d", nl, expect);
    if (nl == expect) {
        CHECK(!strncmp(lines[0], "setting,method,", 15), "header");
        CHECK(!strncmp(lines[1], "clean,", 6), "clean row");
        char lab[64];
        field(lines[2], 0, lab, sizeof lab);
        CHECK(!strcmp(lab, "eps=0.003 lr=0.002") && field_num(lines[2], 7) == 1 && field_num(lines[3], 7) == 2,
              "first setting, runs 1 and 2: %s", lines[2]);
        field(lines[4], 0, lab, sizeof lab);
        CHECK(!strcmp(lab, "eps=0.03 lr=0.002"), "second setting: %s", lab);
        for (int i = 2; i < 6; i++) CHECK(field_num(lines[i], 8) == CLIPS, "clips column");
        if (o1.chosen >= 0) CHECK(!strncmp(lines[6], "noise,", 6) && !strncmp(lines[7], "noise,", 6), "noise rows");

        /* the choice: the highest mean SNR (over runs) among the settings with mean # adv >= require */
        double adv[2], snr[2];
        for (int s = 0; s < 2; s++) {
            adv[s] = 0.5 * (field_num(lines[2 + 2 * s], 9) + field_num(lines[3 + 2 * s], 9));
            double a = field_num(lines[2 + 2 * s], 14), b = field_num(lines[3 + 2 * s], 14);
            snr[s] = isnan(a) ? b : isnan(b) ? a : 0.5 * (a + b);
        }
        int want = -1;
        for (int s = 0; s < 2; s++)
            if (adv[s] >= 2 && !isnan(snr[s]) && (want < 0 || snr[s] > snr[want])) want = s;
        CHECK(o1.chosen == want, "chosen %d, expected %d (adv %g %g, snr %g %g)", o1.chosen, want, adv[0], adv[1], snr[0],
              snr[1]);
        CHECK(adv[0] + adv[1] > 0, "the attacks found adversarial examples (adv %g %g)", adv[0], adv[1]);
        if (adv[0] > 0 && adv[1] > 0) CHECK(snr[0] > snr[1], "the smaller eps has the higher SNR");
    }
    free(copy);

    /* summary.csv marks the same choice */
    snprintf(path, sizeof path, "%s/summary.csv", out1);
    char *summary = read_file(path);
    copy = strdup(summary ? summary : "");
    nl = split_lines(copy, lines, 64);
    CHECK(nl == 3, "summary.csv lines %d", nl);
    for (int s = 0; s < 2 && nl == 3; s++) CHECK(field_num(lines[1 + s], 20) == (s == o1.chosen), "chosen column");
    free(copy);
    free(summary);

    /* the noise baseline hits its SNR on every clip */
    if (o1.chosen >= 0) {
        snprintf(path, sizeof path, "%s/clips.csv", out1);
        char *clips = read_file(path);
        copy = strdup(clips ? clips : "");
        char *cl[128];
        int nc = split_lines(copy, cl, 128), noise_rows = 0;
        for (int i = 1; i < nc; i++)
            if (!strncmp(cl[i], "noise,", 6)) {
                noise_rows++;
                CHECK_NEAR(field_num(cl[i], 9), o1.noise_snr_db, 0.1, "noise SNR of a clip");
            }
        CHECK(noise_rows == 2 * CLIPS, "noise rows %d", noise_rows);
        CHECK(nc == 1 + 4 * CLIPS + 2 * CLIPS, "clips.csv rows %d", nc);
        free(copy);
        free(clips);
    }

    /* determinism: same seed, one thread, no audio -> the same results.csv */
    cfg.threads = 1;
    cfg.keep_audio = 0;
    cfg.out_dir = out2;
    rc = adv_experiment_run(&cfg, &o2);
    CHECK(rc == 0, "second experiment: %s", adv_error());
    snprintf(path, sizeof path, "%s/results.csv", out2);
    char *results2 = read_file(path);
    CHECK(results1 && results2 && !strcmp(results1, results2), "same seed, same results.csv");
    CHECK(!exists(out2, "audio"), "no audio directory without keep_audio");
    free(results2);

    /* a non-empty report directory is refused, replaced with force; the noise-only mode */
    adv_exp_config ncfg = cfg;
    ncfg.mode = ADV_EXP_NOISE;
    ncfg.noise_snr_db = 25;
    ncfg.out_dir = out1;
    rc = adv_experiment_run(&ncfg, NULL);
    CHECK(rc == ADV_EXIT_OUTPUT && strstr(adv_error(), "not empty"), "non-empty dir refused: rc %d %s", rc, adv_error());
    CHECK(exists(out1, "summary.csv"), "the old report is untouched");
    ncfg.force = 1;
    rc = adv_experiment_run(&ncfg, &o2);
    CHECK(rc == 0 && o2.noise_snr_db == 25 && !isnan(o2.noise_accuracy), "noise only with force: %s", adv_error());
    CHECK(exists(out1, "confusion-noise.png") && exists(out1, "report.md"), "noise report written");

    free(results1);
    free(settings);
    adv_model_free(m);
    return tu_finish("test_experiment");
}
