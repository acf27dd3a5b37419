/* The live settings: method, status and target names, defaults, presets, and their publication
 * to the engine's threads (hazard-pointer RCU: a writer fills a slot no reader holds, then swaps
 * the pointer; readers copy; nobody waits). */
#include "live_internal.h"
#include "advinst/error.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const live_method_names[ADV_LIVE_N_METHODS] = {"off", "cw", "mscw"};


const char *adv_live_method_name(adv_live_method m)
{
    return (unsigned)m < ADV_LIVE_N_METHODS ? live_method_names[m] : "unknown";
}

int adv_live_method_parse(const char *name)
{
    if (!name) return -1;
    for (int i = 0; i < ADV_LIVE_N_METHODS; i++)
        if (!strcasecmp(name, live_method_names[i])) return i;
    return -1;
}

const char *adv_live_clip_status_name(adv_live_clip_status s)
{
    switch (s) {
    case ADV_LIVE_CLIP_OK: return "ok";
    case ADV_LIVE_CLIP_FAILED: return "failed";
    case ADV_LIVE_CLIP_MISS: return "miss";
    case ADV_LIVE_CLIP_ALREADY: return "already";
    case ADV_LIVE_CLIP_SILENT: return "silent";
    case ADV_LIVE_CLIP_ERROR: return "error";
    }
    return "unknown";
}

const char *adv_live_target_name(const adv_model *m, int target)
{
    if (target == ADV_LIVE_TARGET_NONE) return "none";
    if (target == ADV_LIVE_TARGET_RANDOM) return "random";
    if (target < 0 || target >= ADV_N_CLASSES) return "?";
    return m ? m->classes[target] : adv_class_names[target];
}

void adv_live_settings_default(adv_live_settings *s)
{
    adv_attack_params p;
    adv_attack_defaults(ADV_CW, &p);
    memset(s, 0, sizeof *s);
    s->method = ADV_LIVE_CW;
    s->target = ADV_LIVE_TARGET_NONE;
    s->eps = p.eps;
    s->alpha = p.alpha;
    s->lr = p.lr;
    s->max_iter = 1000;
}

/* A preset value within the range the live engine (and OSC) accepts, else an error. */
static int live_range(const adv_preset *p, const char *key, double v, double lo, int lo_open, double hi)
{
    if (strcmp(key, "max_iter")) v = (float)v;   /* the settings hold floats: 1e-50 is 0 there */
    if (v > hi || (lo_open ? v <= lo : v < lo))
        return adv_fail("preset %s: %s = %g is outside the live range %s%g, %g]", p->name, key, v, lo_open ? "(" : "[",
                        lo, hi);
    return 0;
}

int adv_live_settings_from_preset(adv_live_settings *s, const adv_model *m, const adv_preset *p)
{
    adv_live_settings n = *s;
    if (p->has & ADV_PRESET_HAS_METHOD) {
        if (p->method == ADV_CW) n.method = ADV_LIVE_CW;
        else if (p->method == ADV_MSCW) n.method = ADV_LIVE_MSCW;
        else return adv_fail("preset %s: method %s is not a live method (cw, mscw)", p->name,
                             adv_attack_method_name(p->method));
    }
    if ((p->has & ADV_PRESET_HAS_EPS) && live_range(p, "eps", p->eps, 0, 1, 1) != 0) return -1;
    if ((p->has & ADV_PRESET_HAS_ALPHA) && live_range(p, "alpha", p->alpha, 0, 0, ADV_LIVE_MAX_ALPHA) != 0) return -1;
    if ((p->has & ADV_PRESET_HAS_LR) && live_range(p, "lr", p->lr, 0, 1, 1) != 0) return -1;
    if ((p->has & ADV_PRESET_HAS_MAX_ITER) && live_range(p, "max_iter", (double)p->max_iter, 1, 0, ADV_LIVE_MAX_ITER) != 0)
        return -1;
    if ((p->has & ADV_PRESET_HAS_CONFIDENCE) && live_range(p, "confidence", p->confidence, 0, 0, 1) != 0) return -1;
    if (p->has & ADV_PRESET_HAS_EPS) n.eps = (float)p->eps;
    if (p->has & ADV_PRESET_HAS_ALPHA) n.alpha = (float)p->alpha;
    if (p->has & ADV_PRESET_HAS_LR) n.lr = (float)p->lr;
    if (p->has & ADV_PRESET_HAS_MAX_ITER) n.max_iter = p->max_iter;
    if (p->has & ADV_PRESET_HAS_CONFIDENCE) n.confidence = (float)p->confidence;
    if ((p->has & ADV_PRESET_HAS_TARGET) && p->target[0]) {
        if (!strcasecmp(p->target, "random")) n.target = ADV_LIVE_TARGET_RANDOM;
        else if (!strcasecmp(p->target, "none")) n.target = ADV_LIVE_TARGET_NONE;
        else {
            int k = adv_model_class_index(m, p->target);
            if (k < 0) return adv_fail("preset %s: unknown target class \"%s\"", p->name, p->target);
            n.target = k;
        }
    }
    snprintf(n.preset, sizeof n.preset, "%s", p->name);
    *s = n;
    return 0;
}

int adv_live_settings_apply_preset(adv_live_settings *s, const adv_model *m, const char *name)
{
    adv_preset p;
    if (adv_preset_load(name, &p) != 0) return -1;
    return adv_live_settings_from_preset(s, m, &p);
}

/* ---- settings (hazard-pointer RCU; one writer at a time) ---- */

uint64_t adv_live_publish(adv_live *e, const adv_live_settings *s)
{
    pthread_mutex_lock(&e->writer_lock);
    adv_live_settings *cur = atomic_load(&e->current), *slot = NULL;
    for (int i = 0; i < N_SETTINGS && !slot; i++) {
        adv_live_settings *cand = &e->settings[i];
        if (cand == cur) continue;
        int used = 0;
        for (int r = 0; r < ADV_LIVE_N_READERS; r++)
            if (atomic_load(&e->hazard[r]) == cand) used = 1;
        if (!used) slot = cand;
    }
    /* N_SETTINGS = readers + 2: at most readers slots are held, one is current */
    *slot = *s;
    slot->version = ++e->next_version;
    atomic_store(&e->current, slot);
    uint64_t v = slot->version;
    pthread_mutex_unlock(&e->writer_lock);
    return v;
}

void adv_live_read_settings(adv_live *e, int reader, adv_live_settings *out)
{
    adv_live_settings *p;
    for (;;) {
        p = atomic_load(&e->current);
        atomic_store(&e->hazard[reader], p);
        if (atomic_load(&e->current) == p) break;
    }
    *out = *p;
    atomic_store(&e->hazard[reader], NULL);
}
