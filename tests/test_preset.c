/* Presets: every shipped preset loads with the paper's values; bad files (unknown key, section or
 * method, bad numbers, missing method) and unknown names fail with one clear line. */
#include "testutil.h"
#include "advinst/error.h"
#include "advinst/live.h"
#include "advinst/preset.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *dir;

typedef struct {
    const char *name;
    adv_attack_method method;
    double eps, alpha, lr;
    const char *target;
} expected;

static void check_shipped(void)
{
    static const expected table[] = {
        {"fgsm-150", ADV_FGSM, 0.1, -1, -1, ""},           {"fgsm-180", ADV_FGSM, 0.8, -1, -1, ""},
        {"pgdn-150", ADV_PGDN, 0.0005, -1, 1e-5, ""},      {"pgdn-180", ADV_PGDN, 0.01, -1, 1e-3, ""},
        {"cw-150", ADV_CW, 0.01, 0.01, 1e-5, "random"},     {"cw-180", ADV_CW, 0.01, 0.1, 1e-5, "random"},
        {"mscw-150", ADV_MSCW, 0.01, 10, 1e-5, "random"},   {"mscw-180", ADV_MSCW, 0.01, 15, 5e-5, "random"},
        {"cw-accordion", ADV_CW, 0.01, 0.5, 5e-5, "accordion"}, {"mscw-accordion", ADV_MSCW, 0.01, 10, 5e-5, "accordion"},
        {"live-cw", ADV_CW, 0.01, 10, 2e-3, "random"},      {"live-mscw", ADV_MSCW, 0.01, 100, 2e-3, "random"},
    };
    const int n = (int)(sizeof table / sizeof table[0]);
    char names[ADV_PRESET_MAX][ADV_PRESET_NAME_MAX];
    int count = adv_preset_list(names, ADV_PRESET_MAX);
    CHECK(count == n, "%d presets shipped, expected %d (directory %s)", count, n, adv_preset_dir() ? adv_preset_dir() : "none");
    adv_preset live;
    CHECK(adv_preset_load("live-cw", &live) == 0 && (live.has & ADV_PRESET_HAS_BOUND) && live.bound_db == 36 &&
              live.confidence == 0.2,
          "live-cw: bound_db %g, confidence %g", live.bound_db, live.confidence);
    for (int i = 1; i < count; i++) CHECK(strcmp(names[i - 1], names[i]) < 0, "list sorted: %s, %s", names[i - 1], names[i]);
    for (int i = 0; i < n; i++) {
        const expected *e = &table[i];
        adv_preset p;
        if (adv_preset_load(e->name, &p) != 0) { CHECK(0, "%s: %s", e->name, adv_error()); continue; }
        CHECK(!strcmp(p.name, e->name) && p.method == e->method, "%s: name '%s', method %d", e->name, p.name, p.method);
        CHECK(p.eps == e->eps && (p.has & ADV_PRESET_HAS_EPS), "%s: eps %g", e->name, p.eps);
        if (e->alpha >= 0) CHECK(p.alpha == e->alpha, "%s: alpha %g", e->name, p.alpha);
        if (e->lr >= 0) CHECK(p.lr == e->lr, "%s: lr %g", e->name, p.lr);
        CHECK(p.max_iter == 500, "%s: max_iter %ld", e->name, p.max_iter);
        CHECK(!strcmp(p.target, e->target), "%s: target '%s'", e->name, p.target);
        CHECK(p.description[0] != '\0', "%s: has a description", e->name);
        int found = 0;
        for (int k = 0; k < count; k++) found |= !strcmp(names[k], e->name);
        CHECK(found, "%s listed", e->name);

        adv_attack_params params;
        adv_attack_defaults(p.method, &params);
        adv_preset_apply(&p, &params);
        CHECK(params.eps == (float)e->eps && params.max_iter == 500 && isnan(params.min_snr_db),
              "%s: applied to the parameters", e->name);
    }
}

static const char *write_file(const char *name, const char *text)
{
    static char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void check_bad(const char *what, const char *text, const char *want)
{
    adv_preset p;
    const char *path = write_file("bad.ini", text);
    int rc = adv_preset_load(path, &p);
    CHECK(rc != 0 && strstr(adv_error(), want) && !strchr(adv_error(), '\n'), "%s: rc %d, message '%s' (wanted '%s')", what,
          rc, adv_error(), want);
}

/* adv_preset_parse: the parser itself on memory (adv_preset_load reads the file and calls it). */
static void check_parse(void)
{
    adv_preset p;
    static const char text[] = "[attack]\nmethod = cw\neps = 0.5\n";
    CHECK(adv_preset_parse(text, sizeof text - 1, "dir/mem.ini", &p) == 0 && p.method == ADV_CW && p.eps == 0.5 &&
              !strcmp(p.name, "mem") && !strcmp(p.path, "dir/mem.ini"),
          "parse from memory: %s", adv_error());
    /* only len bytes count: the text need not end in NUL, and what follows is not read */
    CHECK(adv_preset_parse(text, sizeof text - 1 - 10, NULL, &p) == 0 && !(p.has & ADV_PRESET_HAS_EPS) &&
              !strcmp(p.name, "(memory)"),
          "parse stops at len: %s", adv_error());
    CHECK(adv_preset_parse("", 0, "empty.ini", &p) != 0 && strstr(adv_error(), "no method"), "empty: %s", adv_error());
    static const char nul[] = "[attack]\nmethod = cw\0eps = 2\n";
    CHECK(adv_preset_parse(nul, sizeof nul - 1, "nul.ini", &p) != 0 && strstr(adv_error(), "NUL"), "NUL byte: %s",
          adv_error());

    /* inih would read the tail of an over-long line as a line of its own */
    char longline[600];
    int n = snprintf(longline, sizeof longline, "[preset]\ndescription = ");
    memset(longline + n, 'x', 300);
    snprintf(longline + n + 300, sizeof longline - n - 300, "method = fgsm\n[attack]\nmethod = cw\n");
    CHECK(adv_preset_parse(longline, strlen(longline), "long.ini", &p) != 0 && strstr(adv_error(), "line 2 is too long"),
          "over-long line: %s", adv_error());

    /* a number beyond float's range would reach the attacks as inf, a tiny step as 0 (found by
     * fuzz_preset: fuzz/regressions/preset/preset-lr-overflow) */
    check_bad("lr beyond float", "[attack]\nmethod = cw\nlr = 1e75\n", "lr = 1e75 is out of range");
    check_bad("eps beyond float", "[attack]\nmethod = fgsm\neps = 1e39\n", "out of range");
    check_bad("min_snr_db beyond float", "[attack]\nmethod = cw\nmin_snr_db = -1e39\n", "out of range");
    check_bad("lr underflows to 0", "[attack]\nmethod = cw\nlr = 1e-50\n", "lr = 1e-50 must be > 0");
    /* a key given twice, or continued on an indented line, is refused instead of the last one winning */
    check_bad("key twice", "[attack]\nmethod = cw\neps = 0.1\neps = 0.2\n", "'eps' is given more than once");
    check_bad("continued key", "[attack]\nmethod = cw\neps = 0.1\n  0.2\n", "line 4: 'eps' is given more than once");
    check_bad("method twice", "[attack]\nmethod = cw\nmethod = fgsm\n", "'method' is given more than once");

    CHECK(adv_preset_is_name("cw-150") && adv_preset_is_name("my_preset.v2"), "plain names");
    CHECK(!adv_preset_is_name("cw-150.ini") && !adv_preset_is_name("a/b") && !adv_preset_is_name("..") &&
              !adv_preset_is_name("") && !adv_preset_is_name(NULL) && !adv_preset_is_name("a b"),
          "paths and odd names are not names");
}

/* A preset applied to the live settings keeps to the live ranges (osc.h), as OSC and the command
 * line do (found by fuzz_preset: fuzz/regressions/preset/preset-live-eps-underflow). */
static void check_live(void)
{
    adv_model *m = adv_model_create(1);
    adv_live_settings s, before;
    adv_live_settings_default(&s);
    before = s;
    static const struct { const char *text, *want; } bad[] = {
        {"[attack]\nmethod = cw\neps = 0\n", "eps = 0 is outside the live range (0, 1]"},
        {"[attack]\nmethod = cw\neps = 1e-50\n", "eps"},
        {"[attack]\nmethod = cw\neps = 2\n", "eps"},
        {"[attack]\nmethod = cw\nlr = 1.5\n", "lr"},
        {"[attack]\nmethod = cw\nalpha = 2e6\n", "alpha"},
        {"[attack]\nmethod = cw\nmax_iter = 2000000\n", "max_iter"},
        {"[attack]\nmethod = cw\ntarget = banjo\n", "target: unknown class \"banjo\""},
        {"[attack]\nmethod = pgdn\n", "not a live method"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        adv_preset p;
        if (adv_preset_parse(bad[i].text, strlen(bad[i].text), "live.ini", &p) != 0) {
            CHECK(0, "%s: %s", bad[i].text, adv_error());
            continue;
        }
        CHECK(adv_live_settings_from_preset(&s, m, &p) != 0 && strstr(adv_error(), bad[i].want) &&
                  !memcmp(&s, &before, sizeof s),
              "live preset %zu refused unchanged: %s", i, adv_error());
    }
    adv_preset p;
    static const char good[] = "[attack]\nmethod = mscw\neps = 1\nlr = 0.5\nmax_iter = 1000000\ntarget = gong\n";
    CHECK(adv_preset_parse(good, sizeof good - 1, "edge.ini", &p) == 0 && adv_live_settings_from_preset(&s, m, &p) == 0 &&
              s.method == ADV_LIVE_MSCW && s.eps == 1 && s.max_iter == 1000000 && s.target == 7 && !strcmp(s.preset, "edge"),
          "range edges accepted: %s", adv_error());
    adv_model_free(m);
}

int main(void)
{
    dir = tu_scratch_dir("preset");
    if (!dir) return 1;
    check_shipped();

    adv_preset p;
    const char *good = write_file("mine.ini",
                                  "[preset]\ndescription = mine\n[attack]\nmethod = PGDN\neps = 2e-3\nlr = 0.5\n"
                                  "max_iter = 7\nconfidence = 0.9\nmin_snr_db = 35 ; comment\n");
    CHECK(adv_preset_load(good, &p) == 0, "path preset: %s", adv_error());
    CHECK(p.method == ADV_PGDN && p.eps == 2e-3 && p.lr == 0.5 && p.max_iter == 7 && p.confidence == 0.9 &&
          p.min_snr_db == 35 && !strcmp(p.name, "mine") && !(p.has & ADV_PRESET_HAS_ALPHA) && !(p.has & ADV_PRESET_HAS_TARGET),
          "path preset values");

    check_bad("unknown key", "[attack]\nmethod = cw\nepsilon = 0.1\n", "unknown key 'epsilon'");
    check_bad("unknown key line", "[attack]\nmethod = cw\nepsilon = 0.1\n", "line 3");
    check_bad("unknown section", "[attak]\nmethod = cw\n", "unknown section");
    check_bad("unknown method", "[attack]\nmethod = bim\n", "unknown method 'bim' (valid: fgsm, pgdn, cw, mscw)");
    check_bad("no method", "[attack]\neps = 0.1\n", "no method");
    check_bad("negative eps", "[attack]\nmethod = fgsm\neps = -0.1\n", "eps");
    check_bad("non-finite eps", "[attack]\nmethod = fgsm\neps = inf\n", "not a finite number");
    check_bad("NaN lr", "[attack]\nmethod = cw\nlr = nan\n", "not a finite number");
    check_bad("zero lr", "[attack]\nmethod = cw\nlr = 0\n", "lr");
    check_bad("text number", "[attack]\nmethod = cw\nalpha = ten\n", "alpha = 'ten'");
    check_bad("fractional max_iter", "[attack]\nmethod = cw\nmax_iter = 2.5\n", "whole number");
    check_bad("confidence > 1", "[attack]\nmethod = cw\nconfidence = 1.5\n", "confidence");
    check_bad("key outside a section", "method = cw\n", "outside a section");
    check_bad("syntax", "[attack]\nmethod = cw\nthis line has no equals sign\n", "line 3");
    check_parse();
    check_live();

    CHECK(adv_preset_load("no-such-preset", &p) != 0 && strstr(adv_error(), "unknown preset 'no-such-preset'") &&
          strstr(adv_error(), "cw-150") && strstr(adv_error(), "mscw-accordion"),
          "unknown name lists the available presets: %s", adv_error());
    CHECK(adv_preset_load("/nonexistent/x.ini", &p) != 0 && strstr(adv_error(), "cannot open"), "missing file: %s", adv_error());

    /* $ADVINST_PRESETS chooses the directory */
    setenv("ADVINST_PRESETS", dir, 1);
    CHECK(adv_preset_load("mine", &p) == 0 && p.method == ADV_PGDN, "preset by name from $ADVINST_PRESETS: %s", adv_error());
    CHECK(adv_preset_load("cw-150", &p) != 0 && strstr(adv_error(), "mine"), "other directory: %s", adv_error());
    unsetenv("ADVINST_PRESETS");
    return tu_finish("test_preset");
}
