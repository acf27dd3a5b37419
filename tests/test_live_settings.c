/* The live settings table and its setter (live.h): every entry set from text and from a number,
 * read back, its range edges accepted and the values just outside refused with a one-line message
 * naming the setting, nothing changed on a refusal; target and method values in number order;
 * presets through the same setter (names only); the one target parser. */
#include "testutil.h"
#include "advinst/error.h"
#include "advinst/live.h"
#include <math.h>
#include <string.h>

static adv_model *model;

/* Refused, unchanged, and the message is one line starting with the setting's name. */
static void refused(const adv_live_settings *s0, const char *name, const char *text, double number, int use_number)
{
    adv_live_settings s = *s0;
    int rc = use_number ? adv_live_settings_set_number(&s, model, name, number) : adv_live_settings_set(&s, model, name, text);
    const char *e = adv_error();
    CHECK(rc != 0, "%s = %s%g accepted", name, use_number ? "" : text, use_number ? number : 0.0);
    CHECK(!memcmp(&s, s0, sizeof s), "%s: a refusal changed the settings", name);
    CHECK(!strncmp(e, name, strlen(name)) && !strchr(e, '\n'), "%s: message '%s'", name, e);
}

static void test_table(void)
{
    int n;
    const adv_live_setting *t = adv_live_setting_table(&n);
    CHECK(n >= 9, "%d settings", n);
    adv_live_settings d;
    adv_live_settings_default(&d);
    for (int i = 0; i < n; i++) {
        CHECK(adv_live_setting_find(t[i].name) == &t[i], "find %s", t[i].name);
        CHECK(t[i].description && *t[i].description && t[i].osc_types && *t[i].osc_types, "%s documented", t[i].name);
        char text[64];
        double v;
        CHECK(adv_live_settings_get(&d, model, t[i].name, text, sizeof text, &v) == 0, "get %s", t[i].name);
        if (t[i].kind == ADV_LIVE_SET_PRESET) continue;
        /* the text it reads back sets the same value, and so does the number */
        adv_live_settings a = d, b = d;
        CHECK(adv_live_settings_set(&a, model, t[i].name, text) == 0 && !memcmp(&a, &d, sizeof a), "%s = '%s' round trip: %s",
              t[i].name, text, adv_error());
        CHECK(adv_live_settings_set_number(&b, model, t[i].name, v) == 0 && !memcmp(&b, &d, sizeof b),
              "%s = %g round trip: %s", t[i].name, v, adv_error());
        /* range edges */
        if (t[i].kind == ADV_LIVE_SET_TARGET || t[i].kind == ADV_LIVE_SET_METHOD) continue;
        adv_live_settings e = d;
        CHECK(adv_live_settings_set_number(&e, model, t[i].name, t[i].max) == 0, "%s max %g", t[i].name, t[i].max);
        if (!t[i].min_open) CHECK(adv_live_settings_set_number(&e, model, t[i].name, t[i].min) == 0, "%s min", t[i].name);
        refused(&d, t[i].name, NULL, t[i].max * 1.5 + 1, 1);
        refused(&d, t[i].name, NULL, t[i].min_open ? t[i].min : t[i].min - 1, 1);
        refused(&d, t[i].name, NULL, NAN, 1);
        refused(&d, t[i].name, NULL, INFINITY, 1);
        refused(&d, t[i].name, "abc", 0, 0);
        refused(&d, t[i].name, "", 0, 0);
        refused(&d, t[i].name, "1x", 0, 0);
    }
    adv_live_settings s = d;
    CHECK(adv_live_settings_set(&s, model, "nosuch", "1") != 0 && strstr(adv_error(), "unknown live setting"), "nosuch");
    CHECK(adv_live_settings_set(&s, model, NULL, "1") != 0, "a NULL name is refused");
    refused(&d, "eps", NULL, 1e-50, 1);   /* 0 as a float */
    refused(&d, "iterations", NULL, 2.5, 1);
    CHECK(adv_live_settings_set(&s, model, "eps", "0.02") == 0 && s.eps == 0.02f, "eps text");
    CHECK(adv_live_settings_set(&s, model, "step", " 2e-5 ") == 0 && s.lr == 2e-5f, "step text with blanks");
    CHECK(adv_live_settings_set(&s, model, "iterations", "300") == 0 && s.max_iter == 300, "iterations text");
    CHECK(adv_live_settings_set(&s, model, "bypass", "on") == 0 && s.bypass == 1, "bypass on");
    CHECK(adv_live_settings_set(&s, model, "bypass", "false") == 0 && s.bypass == 0, "bypass false");
    refused(&d, "bypass", "2", 0, 0);
    /* what was sent is quoted on one printable line (found by fuzz_http: fuzz/regressions/http) */
    static const char *const names[] = {"target", "method", "eps", "iterations", "bypass", "preset"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        refused(&d, names[i], "a\r\nb\x1b[2J", 0, 0);
        for (const char *c = adv_error(); *c; c++) CHECK((unsigned char)*c >= 32 && *c != 127, "%s: printable message", names[i]);
    }
    refused(&d, "bypass", NULL, 0.5, 1);
}

static void test_enumerations(void)
{
    adv_live_settings s;
    adv_live_settings_default(&s);
    const char *names[32];
    int n = adv_live_setting_values(adv_live_setting_find("target"), model, names, 32);
    CHECK(n == ADV_N_CLASSES + 2 && !strcmp(names[0], model->classes[0]) && !strcmp(names[12], "none") &&
              !strcmp(names[13], "random"),
          "target values: %d", n);
    for (int k = 0; k < n; k++) {
        adv_live_settings a = s, b = s;
        char text[64];
        double v;
        CHECK(adv_live_settings_set(&a, model, "target", names[k]) == 0 && adv_live_settings_set_number(&b, model, "target", k) == 0 &&
                  a.target == b.target,
              "target %s = %d", names[k], k);
        adv_live_settings_get(&a, model, "target", text, sizeof text, &v);
        CHECK(v == k && !strcmp(text, names[k]), "target %d reads back %g '%s'", k, v, text);
    }
    adv_live_settings a = s;
    CHECK(adv_live_settings_set_number(&a, model, "target", 12) == 0 && a.target == ADV_LIVE_TARGET_NONE, "12 = none");
    CHECK(adv_live_settings_set_number(&a, model, "target", 13) == 0 && a.target == ADV_LIVE_TARGET_RANDOM, "13 = random");
    CHECK(adv_live_settings_set(&a, model, "target", "Marimba and xylophone") == 0 && a.target == 11, "class name forms");
    CHECK(adv_live_settings_set(&a, model, "target", "8") == 0 && a.target == 8, "class index as text");
    refused(&s, "target", NULL, 14, 1);
    refused(&s, "target", NULL, -1, 1);
    refused(&s, "target", "banjo", 0, 0);
    refused(&s, "target", "12", 0, 0);

    n = adv_live_setting_values(adv_live_setting_find("method"), model, names, 32);
    CHECK(n == ADV_LIVE_N_METHODS, "method values %d", n);
    for (int k = 0; k < n; k++) {
        a = s;
        CHECK(adv_live_settings_set(&a, model, "method", names[k]) == 0 && (int)a.method == k, "method %s", names[k]);
        CHECK(!strcmp(names[k], adv_live_method_name((adv_live_method)k)), "method %d is %s", k, names[k]);
    }
    refused(&s, "method", "fgsm", 0, 0);
    refused(&s, "method", NULL, 3, 1);
    CHECK(adv_live_setting_values(adv_live_setting_find("eps"), model, names, 32) == 0, "eps has no named values");
}

static void test_presets(void)
{
    adv_live_settings s;
    adv_live_settings_default(&s);
    CHECK(adv_live_settings_set(&s, model, "preset", "mscw-accordion") == 0 && s.method == ADV_LIVE_MSCW && s.target == 0 &&
              !strcmp(s.preset, "mscw-accordion"),
          "preset by name: %s", adv_error());
    adv_live_settings d;
    adv_live_settings_default(&d);
    refused(&d, "preset", "../presets/cw-150", 0, 0);
    refused(&d, "preset", "cw-150.ini", 0, 0);
    refused(&d, "preset", "fgsm-150", 0, 0);
    refused(&d, "preset", "nosuch", 0, 0);
    refused(&d, "preset", NULL, 1, 1);
    /* the command line may name a file */
    char path[4096];
    snprintf(path, sizeof path, "%s/../presets/cw-150.ini", TEST_SOURCE_DIR);
    CHECK(adv_live_settings_apply_preset(&d, model, path) == 0 && !strcmp(d.preset, "cw-150"), "preset by path: %s", adv_error());
}

static void test_target_parser(void)
{
    CHECK(adv_attack_target_parse(model, "random", 0) == ADV_TARGET_RANDOM, "random");
    CHECK(adv_attack_target_parse(model, "RANDOM", 1) == ADV_TARGET_RANDOM, "RANDOM");
    CHECK(adv_attack_target_parse(model, "none", 0) == ADV_TARGET_INVALID, "none is not an attack target");
    CHECK(adv_attack_target_parse(model, "None", 1) == ADV_TARGET_NONE, "None for live");
    CHECK(adv_attack_target_parse(model, "hi-hat", 0) == 9 && adv_attack_target_parse(model, "hi_hat", 0) == 9, "hi-hat");
    CHECK(adv_attack_target_parse(model, "11", 0) == 11 && adv_attack_target_parse(model, "12", 0) == ADV_TARGET_INVALID,
          "indexes");
    CHECK(adv_attack_target_parse(model, "", 1) == ADV_TARGET_INVALID && adv_attack_target_parse(model, NULL, 1) == ADV_TARGET_INVALID,
          "empty");
}

int main(void)
{
    model = adv_model_create(1);
    test_table();
    test_enumerations();
    test_presets();
    test_target_parser();
    adv_model_free(model);
    return tu_finish("test_live_settings");
}
