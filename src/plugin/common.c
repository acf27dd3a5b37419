/* What the LV2 and CLAP plugins share (see common.h). */
#include "common.h"
#include "advinst/blas.h"
#include "advinst/rt.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

float adv_plugin_control_default(int k)
{
    if (lv2_controls[k].output) return lv2_controls[k].min;
    adv_live_settings s;
    float v[ADV_LV2_N_CONTROLS];
    adv_live_settings_default(&s);
    adv_plugin_settings_to_controls(&s, v);
    return v[k];
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
    const int t = (int)v[C_TARGET];
    s->target = t < ADV_N_CLASSES ? t : t == ADV_LV2_TARGET_NONE ? ADV_LIVE_TARGET_NONE : ADV_LIVE_TARGET_RANDOM;
    s->method = (adv_live_method)(int)v[C_METHOD];   /* 0 off, 1 cw, 2 mscw: the engine's numbering */
    s->lr = v[C_STEP];
    s->alpha = v[C_ALPHA];
    s->eps = v[C_EPS];
    s->confidence = v[C_CONFIDENCE];
    s->max_iter = (long)v[C_ITERATIONS];
    s->bypass = v[C_ENABLED] < 0.5f;
    s->preset[0] = '\0';
}

void adv_plugin_settings_to_controls(const adv_live_settings *s, float *v)
{
    v[C_TARGET] = s->target >= 0 ? (float)s->target : s->target == ADV_LIVE_TARGET_NONE ? ADV_LV2_TARGET_NONE : ADV_LV2_TARGET_RANDOM;
    v[C_METHOD] = (float)s->method;
    v[C_STEP] = s->lr;
    v[C_ALPHA] = s->alpha;
    v[C_EPS] = s->eps;
    v[C_CONFIDENCE] = s->confidence;
    v[C_ITERATIONS] = (float)s->max_iter;
    v[C_ENABLED] = s->bypass ? 0.0f : 1.0f;
    for (int k = 0; k < ADV_LV2_N_CONTROLS; k++)
        if (!lv2_controls[k].output) v[k] = adv_plugin_control(k, v[k]);
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
    const unsigned long mode = adv_rt_fp_mode();
    adv_rt_flush_denormals();
    const int more = adv_live_work(e, ADV_PLUGIN_WORK_SECONDS);
    adv_rt_set_fp_mode(mode);
    return more;
}
