/* What the LV2 and CLAP plugins share (see common.h). */
#include "common.h"
#include "advinst/blas.h"
#include "advinst/error.h"
#include "advinst/rt.h"
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static float control_of(const adv_live_setting *d, int k, const adv_live_settings *s);

/* The controls' defaults, computed once from the settings table (adv_plugin_control may need them
 * in an audio thread: after the first call, pthread_once is one atomic load). */
static float defaults[ADV_LV2_N_CONTROLS];
static pthread_once_t defaults_once = PTHREAD_ONCE_INIT;

static void init_defaults(void)
{
    adv_live_settings s;
    adv_live_settings_default(&s);
    for (int k = 0; k < ADV_LV2_N_CONTROLS; k++) {
        const adv_lv2_control_desc *c = &lv2_controls[k];
        const adv_live_setting *d = c->output ? NULL : adv_live_setting_find(c->setting);
        float v = d ? control_of(d, k, &s) : c->min;
        if (!(v >= c->min)) v = c->min;   /* a table that disagrees: adv_plugin_check_controls says so */
        if (v > c->max) v = c->max;
        defaults[k] = v;
    }
}

float adv_plugin_control_default(int k)
{
    pthread_once(&defaults_once, init_defaults);
    return defaults[k];
}

float adv_plugin_control(int k, float v)
{
    const adv_lv2_control_desc *d = &lv2_controls[k];
    if (!isfinite(v)) v = adv_plugin_control_default(k);
    if (v < d->min) v = d->min;
    if (v > d->max) v = d->max;
    return d->props & (P_INTEGER | P_TOGGLED) ? roundf(v) : v;
}

void adv_plugin_controls_to_settings(const float *v, adv_live_settings *s)
{
    /* real-time safe (run() calls it): the mapping of the settings table's number setter
     * (adv_live_settings_set_number, which formats messages), cross-checked against it by
     * adv_plugin_check_controls */
    const int t = (int)v[C_TARGET];
    s->target = t < ADV_N_CLASSES ? t : t == ADV_LV2_TARGET_NONE ? ADV_LIVE_TARGET_NONE : ADV_LIVE_TARGET_RANDOM;
    s->method = (adv_live_method)(int)v[C_METHOD];   /* 0 off, 1 cw, 2 mscw: the engine's numbering */
    s->lr = v[C_STEP];
    s->alpha = v[C_ALPHA];
    s->eps = v[C_EPS];
    s->bound_db = v[C_BOUND];
    s->confidence = v[C_CONFIDENCE];
    s->max_iter = (long)v[C_ITERATIONS];
    s->bypass = v[C_ENABLED] < 0.5f;
    s->preset[0] = '\0';
}

/* The number the control of setting d shows for settings s (the table's getter). */
static float control_of(const adv_live_setting *d, int k, const adv_live_settings *s)
{
    char text[64];
    double x = 0;
    adv_live_settings_get(s, NULL, d->name, text, sizeof text, &x);
    return k == C_ENABLED ? (x != 0 ? 0.0f : 1.0f) : (float)x;
}

void adv_plugin_settings_to_controls(const adv_live_settings *s, float *v)
{
    for (int k = 0; k < ADV_LV2_N_CONTROLS; k++) {
        if (lv2_controls[k].output) continue;
        const adv_live_setting *d = adv_live_setting_find(lv2_controls[k].setting);
        v[k] = adv_plugin_control(k, d ? control_of(d, k, s) : NAN);
    }
}

const char *adv_plugin_control_comment(int k)
{
    const adv_lv2_control_desc *c = &lv2_controls[k];
    if (c->comment) return c->comment;
    const adv_live_setting *d = c->setting ? adv_live_setting_find(c->setting) : NULL;
    return d ? d->description : "";
}

int adv_plugin_check_controls(void)
{
    adv_live_settings def;
    adv_live_settings_default(&def);
    for (int k = 0; k < ADV_LV2_N_CONTROLS; k++) {
        const adv_lv2_control_desc *c = &lv2_controls[k];
        if (c->output) {
            if (c->setting) return adv_fail("output control %s names a setting", c->symbol);
            continue;
        }
        const adv_live_setting *d = adv_live_setting_find(c->setting);
        if (!d) return adv_fail("control %s: no live setting \"%s\"", c->symbol, c->setting ? c->setting : "");
        if (d->kind == ADV_LIVE_SET_PRESET) return adv_fail("control %s: a preset is not a number", c->symbol);
        if (k == C_ENABLED ? d->kind != ADV_LIVE_SET_BOOL : strcmp(c->symbol, d->name) != 0)
            return adv_fail("control %s sets %s: only enabled may differ from its setting (bypass, inverted)", c->symbol,
                            d->name);
        /* the range: within the table's (the same for enumerations and toggles) */
        const int exact = d->kind == ADV_LIVE_SET_TARGET || d->kind == ADV_LIVE_SET_METHOD || d->kind == ADV_LIVE_SET_BOOL;
        const int whole = d->kind != ADV_LIVE_SET_FLOAT;
        if (exact ? (c->min != d->min || c->max != d->max)
                  : ((double)c->min < d->min || (d->min_open && (double)c->min <= d->min) || (double)c->max > d->max))
            return adv_fail("control %s: range [%g, %g] is not within the setting's [%g, %g]", c->symbol, c->min, c->max,
                            d->min, d->max);
        if (whole != !!(c->props & (P_INTEGER | P_TOGGLED)))
            return adv_fail("control %s: integer property disagrees with the setting", c->symbol);
        if (d->kind == ADV_LIVE_SET_BOOL && !(c->props & P_TOGGLED)) return adv_fail("control %s: not a toggle", c->symbol);
        /* the default is the setting's, and within the port's range */
        const float dv = control_of(d, k, &def);
        if (!(dv >= c->min && dv <= c->max))
            return adv_fail("control %s: the default %g is outside the port's range [%g, %g]", c->symbol, dv, c->min, c->max);
        /* the mapping run() uses agrees with the table's setter at the ends of the range and the default */
        const float probe[3] = {c->min, c->max, dv};
        for (int i = 0; i < 3; i++) {
            float v[ADV_LV2_N_CONTROLS];
            adv_plugin_settings_to_controls(&def, v);
            v[k] = probe[i];
            adv_live_settings want = def, got = def;
            adv_plugin_controls_to_settings(v, &got);
            const double number = k == C_ENABLED ? 1.0 - probe[i] : probe[i];
            if (adv_live_settings_set_number(&want, NULL, d->name, number) != 0)
                return adv_fail("control %s = %g: %s", c->symbol, probe[i], adv_error());
            want.preset[0] = got.preset[0] = '\0';
            want.version = got.version = 0;
            if (memcmp(&want, &got, sizeof want) != 0)
                return adv_fail("control %s = %g sets other settings than the table's setter", c->symbol, probe[i]);
        }
    }
    return 0;
}

int adv_plugin_default_model(const char *dir, const char *dir_to_data, char *out, size_t size)
{
    const char *env = getenv("ADVINST_MODEL");
    if (env && *env) return (size_t)snprintf(out, size, "%s", env) < size ? 0 : -1;
    if ((size_t)snprintf(out, size, "%s/%s/models/default.safetensors", dir, dir_to_data) >= size) return -1;
    if (access(out, R_OK) == 0) return 0;
#ifdef ADVINST_SOURCE_DIR
    char src[] = ADVINST_SOURCE_DIR "/models/default.safetensors";
    if (access(src, R_OK) == 0) return (size_t)snprintf(out, size, "%s", src) < size ? 0 : -1;
#endif
    return 0;   /* the installed path: its absence is what the caller reports */
}

adv_live *adv_plugin_engine(const char *path, int rate, int channels, const adv_live_settings *s,
                            adv_plugin_attack_mode mode, adv_model **model)
{
    adv_model *m = adv_model_load(path);
    if (!m) return NULL;
    adv_live_config cfg;
    adv_live_config_default(&cfg, rate, channels);
    cfg.external_worker = mode == ADV_PLUGIN_HOST_WORKER;
    cfg.synchronous = mode == ADV_PLUGIN_SYNCHRONOUS;
    /* OpenBLAS single-threaded (the numerics parallelise with OpenMP themselves); OpenMP's thread
     * count of a host's worker thread stays OpenMP's default, the processors, as attack_threads */
    adv_blas_set_threads(cfg.attack_threads);
    adv_live *e = adv_live_create(m, &cfg, s);
    if (!e) {
        adv_model_free(m);
        return NULL;
    }
    *model = m;
    return e;
}

int adv_plugin_work(adv_live *e)
{
    /* the attack yields to the audio threads as the engine's own worker does (nice 19): a host's
     * worker thread is not real-time, and without real-time scheduling (containers, JACK's dummy
     * backend) an attack at the same priority delays the host's cycle into xruns. Once per thread,
     * before its first parallel region, so that its OpenMP threads inherit it; a thread's nice
     * value cannot be raised back without privileges, so it stays (the host's worker runs only
     * non-real-time work) */
    static _Thread_local int lowered;
    if (!lowered) {
        adv_rt_lower_priority(ADV_PLUGIN_WORK_NICE);
        lowered = 1;
    }
    const unsigned long mode = adv_rt_fp_mode();
    adv_rt_flush_denormals();
    const int more = adv_live_work(e, ADV_PLUGIN_WORK_SECONDS);
    adv_rt_set_fp_mode(mode);
    return more;
}
