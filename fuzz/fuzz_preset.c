/* libFuzzer: attack presets (adv_preset_parse, the INI parser behind adv_preset_load), then what
 * uses a parsed preset: adv_preset_apply onto attack parameters and adv_live_settings_from_preset
 * (the live engine's range and target checks). Both results are checked against the documented
 * ranges. */
#include "advinst/preset.h"
#include "invariants.h"
#include <stdint.h>

static adv_model *model;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    model = adv_model_create(1);
    if (!model) abort();
    return 0;
}

static void check_preset(const adv_preset *p)
{
    FUZZ_REQUIRE(p->has & ADV_PRESET_HAS_METHOD, "a parsed preset has a method");
    FUZZ_REQUIRE(p->method >= ADV_FGSM && p->method < ADV_N_METHODS, "method %d", (int)p->method);
    FUZZ_REQUIRE(memchr(p->name, 0, sizeof p->name) && memchr(p->description, 0, sizeof p->description) &&
                 memchr(p->target, 0, sizeof p->target), "strings terminated");
    if (p->has & ADV_PRESET_HAS_TARGET) FUZZ_REQUIRE(p->target[0], "target given, not empty");
}

/* Attack parameters as adv_preset_apply leaves them: what the attacks are promised. */
static void check_params(const adv_attack_params *a)
{
    FUZZ_REQUIRE(isfinite(a->eps) && a->eps >= 0, "eps %g", (double)a->eps);
    FUZZ_REQUIRE(isfinite(a->alpha) && a->alpha >= 0, "alpha %g", (double)a->alpha);
    FUZZ_REQUIRE(isfinite(a->lr) && (a->lr > 0 || (a->method == ADV_FGSM && a->lr == 0)), "lr %g", (double)a->lr);   /* FGSM has no step */
    FUZZ_REQUIRE(a->max_iter >= 1, "max_iter %ld", a->max_iter);
    FUZZ_REQUIRE(isfinite(a->confidence) && a->confidence >= 0 && a->confidence <= 1, "confidence %g",
                 (double)a->confidence);
    FUZZ_REQUIRE(!isinf(a->min_snr_db) || a->min_snr_db < 0, "min_snr_db %g", (double)a->min_snr_db);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    adv_preset p;
    if (adv_preset_parse((const char *)data, size, "fuzz.ini", &p) != 0) return 0;
    check_preset(&p);

    adv_attack_params params;
    adv_attack_defaults(p.method, &params);
    adv_preset_apply(&p, &params);
    check_params(&params);

    adv_live_settings s;
    adv_live_settings_default(&s);
    if (adv_live_settings_from_preset(&s, model, &p) == 0) fuzz_check_live_settings(&s);
    return 0;
}
