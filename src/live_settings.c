/* The live settings: method, status and target names, defaults, presets, and their publication
 * to the engine's threads (hazard-pointer RCU: a writer fills a slot no reader holds, then swaps
 * the pointer; readers copy; nobody waits). */
#include "live_internal.h"
#include "advinst/error.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

const char *adv_live_segment_status_name(adv_live_segment_status s)
{
    switch (s) {
    case ADV_LIVE_SEG_OK: return "ok";
    case ADV_LIVE_SEG_FAILED: return "failed";
    case ADV_LIVE_SEG_MISS: return "miss";
    case ADV_LIVE_SEG_SILENT: return "silent";
    case ADV_LIVE_SEG_ERROR: return "error";
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
    memset(s, 0, sizeof *s);
    s->method = ADV_LIVE_CW;
    s->target = ADV_LIVE_TARGET_NONE;
    s->eps = 0.01f;
    s->alpha = 10.0f;
    s->lr = 2e-3f;
    s->confidence = 0.2f;
    s->max_iter = 1000;
    s->bound_db = 36.0f;
}

/* ---- the settings table and the setter ---- */

_Static_assert(ADV_LIVE_TARGET_NONE == ADV_TARGET_NONE && ADV_LIVE_TARGET_RANDOM == ADV_TARGET_RANDOM,
               "live and attack targets share their special values");

#define N_TARGET_VALUES (ADV_N_CLASSES + 2)   /* the classes, none, random */

static const adv_live_setting table[] = {
    {"target", ADV_LIVE_SET_TARGET, "s|i", 0, N_TARGET_VALUES - 1, 0, "target", "CLASS",
     "class to make heard: a class name or index 0..11, none (no attack), random (drawn when the attack starts)"},
    {"method", ADV_LIVE_SET_METHOD, "s", 0, ADV_LIVE_N_METHODS - 1, 0, "method", "M", "attack: cw, mscw or off"},
    {"step", ADV_LIVE_SET_FLOAT, "f", 0, 1, 1, "lr", "F", "step: the RMS of an update over the free part (lr)"},
    {"alpha", ADV_LIVE_SET_FLOAT, "f", 0, ADV_LIVE_MAX_ALPHA, 0, "alpha", "F", "cross-entropy weight"},
    {"eps", ADV_LIVE_SET_FLOAT, "f", 0, 1, 1, "eps", "F", "L-inf bound of the perturbation"},
    {"bound", ADV_LIVE_SET_FLOAT, "f", 0, 80, 0, "bound_db", "DB",
     "keep the perturbation this many dB below the input's local envelope (0: eps only)"},
    {"iterations", ADV_LIVE_SET_INT, "i", 1, ADV_LIVE_MAX_ITER, 0, "max_iter", "N",
     "at most this many iterations per second of audio"},
    {"confidence", ADV_LIVE_SET_FLOAT, "f", 0, 1, 0, "confidence", "F",
     "lead wanted: target probability ahead of the runner-up per time step (0: just ahead)"},
    {"preset", ADV_LIVE_SET_PRESET, "s", 0, 0, 0, NULL, "NAME", "load a preset (presets/NAME.ini; cw or mscw)"},
    {"bypass", ADV_LIVE_SET_BOOL, "i", 0, 1, 0, NULL, NULL, "1: output = delayed input (perturbations faded out), 0: attack"},
};
#define N_TABLE ((int)(sizeof table / sizeof table[0]))

const adv_live_setting *adv_live_setting_table(int *count)
{
    *count = N_TABLE;
    return table;
}

const adv_live_setting *adv_live_setting_find(const char *name)
{
    for (int i = 0; name && i < N_TABLE; i++)
        if (!strcmp(name, table[i].name)) return &table[i];
    return NULL;
}

int adv_live_setting_values(const adv_live_setting *d, const adv_model *m, const char **names, int max)
{
    int n = 0;
    if (d->kind == ADV_LIVE_SET_TARGET) {
        for (int k = 0; k < ADV_N_CLASSES && n < max; k++) names[n++] = adv_live_target_name(m, k);
        if (n < max) names[n++] = "none";
        if (n < max) names[n++] = "random";
    } else if (d->kind == ADV_LIVE_SET_METHOD) {
        for (int k = 0; k < ADV_LIVE_N_METHODS && n < max; k++) names[n++] = live_method_names[k];
    }
    return n;
}

const char *adv_live_setting_range_text(const adv_live_setting *d, char *buf, size_t size)
{
    if (d->kind == ADV_LIVE_SET_INT || d->kind == ADV_LIVE_SET_BOOL)
        snprintf(buf, size, "%.0f..%.0f", d->min, d->max);
    else if (d->kind == ADV_LIVE_SET_FLOAT)
        snprintf(buf, size, "%s%g, %g]", d->min_open ? "(" : "[", d->min, d->max);
    else
        snprintf(buf, size, "-");
    return buf;
}

/* The target value index (0..11 classes, 12 none, 13 random) of a target and back. */
static int target_index(int target)
{
    return target == ADV_LIVE_TARGET_NONE ? ADV_N_CLASSES : target == ADV_LIVE_TARGET_RANDOM ? ADV_N_CLASSES + 1 : target;
}
static int target_of_index(int k)
{
    return k == ADV_N_CLASSES ? ADV_LIVE_TARGET_NONE : k == ADV_N_CLASSES + 1 ? ADV_LIVE_TARGET_RANDOM : k;
}

/* Number settings: range check (the settings hold floats: 1e-50 is 0 there) and store. `label`
 * names the setting in the message (the name, or a preset's key). */
static int set_number_as(adv_live_settings *s, const adv_live_setting *d, const char *label, double v)
{
    char range[48];
    adv_live_setting_range_text(d, range, sizeof range);
    const double stored = d->kind == ADV_LIVE_SET_FLOAT ? (double)(float)v : v;
    if (!isfinite(v) || stored > d->max || (d->min_open ? stored <= d->min : stored < d->min))
        return adv_fail("%s = %g is outside the live range %s", label, v, range);
    switch (d->kind) {
    case ADV_LIVE_SET_TARGET:
    case ADV_LIVE_SET_METHOD:
    case ADV_LIVE_SET_INT:
    case ADV_LIVE_SET_BOOL:
        if (v != floor(v)) return adv_fail("%s = %g is not a whole number", label, v);
        break;
    default: break;
    }
    const char *name = d->name;
    if (d->kind == ADV_LIVE_SET_TARGET) s->target = target_of_index((int)v);
    else if (d->kind == ADV_LIVE_SET_METHOD) s->method = (adv_live_method)(int)v;
    else if (!strcmp(name, "step")) s->lr = (float)v;
    else if (!strcmp(name, "alpha")) s->alpha = (float)v;
    else if (!strcmp(name, "eps")) s->eps = (float)v;
    else if (!strcmp(name, "confidence")) s->confidence = (float)v;
    else if (!strcmp(name, "bound")) s->bound_db = (float)v;
    else if (!strcmp(name, "iterations")) s->max_iter = (long)v;
    else if (!strcmp(name, "bypass")) s->bypass = (int)v;
    else return adv_fail("%s cannot be set from a number", label);
    return 0;
}

/* A whole decimal number of text (leading/trailing blanks allowed), or -1. */
static int parse_number(const char *text, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(text, &end);
    while (*end == ' ' || *end == '\t') end++;
    return end != text && !*end && errno != ERANGE ? 0 : -1;
}

/* What was sent, as messages quote it: at most 64 characters, control characters as '?' (a
 * message stays one printable line whatever a controller sends; found by fuzz_http). */
static const char *shown(const char *text, char *buf, size_t size)
{
    size_t n = 0;
    for (; text[n] && n + 1 < size && n < 64; n++) buf[n] = (unsigned char)text[n] < 32 || text[n] == 127 ? '?' : text[n];
    buf[n] = 0;
    return buf;
}

static int set_text_as(adv_live_settings *s, const adv_model *m, const adv_live_setting *d, const char *label,
                       const char *text)
{
    if (!text) return adv_fail("%s: no value", label);
    char quoted[72];
    double v;
    switch (d->kind) {
    case ADV_LIVE_SET_TARGET: {
        int k = adv_attack_target_parse(m, text, 1);
        if (k == ADV_TARGET_INVALID)
            return adv_fail("%s: unknown class \"%s\" (a class name, 0..%d, none or random)", label,
                            shown(text, quoted, sizeof quoted), ADV_N_CLASSES - 1);
        s->target = k;
        return 0;
    }
    case ADV_LIVE_SET_METHOD: {
        int k = adv_live_method_parse(text);
        if (k < 0)
            return adv_fail("%s: \"%s\" is not a live method (cw, mscw or off)", label, shown(text, quoted, sizeof quoted));
        s->method = (adv_live_method)k;
        return 0;
    }
    case ADV_LIVE_SET_BOOL:
        if (!strcasecmp(text, "on") || !strcasecmp(text, "true")) return set_number_as(s, d, label, 1);
        if (!strcasecmp(text, "off") || !strcasecmp(text, "false")) return set_number_as(s, d, label, 0);
        __attribute__((fallthrough));   /* 0 or 1 */
    case ADV_LIVE_SET_FLOAT:
    case ADV_LIVE_SET_INT:
        if (parse_number(text, &v) != 0)
            return adv_fail("%s: \"%s\" is not a number", label, shown(text, quoted, sizeof quoted));
        return set_number_as(s, d, label, v);
    case ADV_LIVE_SET_PRESET:
        /* a name only: a path (or NAME.ini, which adv_preset_load takes for a path) would read any
         * file relative to the working directory */
        if (!adv_preset_is_name(text))
            return adv_fail("%s: \"%s\" is not a preset name", label, shown(text, quoted, sizeof quoted));
        if (adv_live_settings_apply_preset(s, m, text) != 0) return adv_fail("%s: %s", label, adv_error());
        return 0;
    }
    return adv_fail("%s: unknown kind of setting", label);
}

static const adv_live_setting *find_or_fail(const char *name)
{
    const adv_live_setting *d = adv_live_setting_find(name);
    char quoted[72];
    if (!d) adv_fail("unknown live setting \"%s\"", shown(name ? name : "", quoted, sizeof quoted));
    return d;
}

int adv_live_settings_set(adv_live_settings *s, const adv_model *m, const char *name, const char *value)
{
    const adv_live_setting *d = find_or_fail(name);
    if (!d) return -1;
    adv_live_settings n = *s;
    if (set_text_as(&n, m, d, d->name, value) != 0) return -1;
    *s = n;
    return 0;
}

int adv_live_settings_set_number(adv_live_settings *s, const adv_model *m, const char *name, double value)
{
    (void)m;
    const adv_live_setting *d = find_or_fail(name);
    if (!d) return -1;
    if (d->kind == ADV_LIVE_SET_PRESET) return adv_fail("%s is set by name, not by a number", d->name);
    return set_number_as(s, d, d->name, value);   /* stores nothing on failure */
}

int adv_live_settings_get(const adv_live_settings *s, const adv_model *m, const char *name, char *text, size_t size,
                          double *number)
{
    const adv_live_setting *d = adv_live_setting_find(name);
    if (!d) return -1;
    double v = 0;
    switch (d->kind) {
    case ADV_LIVE_SET_TARGET:
        v = target_index(s->target);
        snprintf(text, size, "%s", adv_live_target_name(m, s->target));
        break;
    case ADV_LIVE_SET_METHOD:
        v = s->method;
        snprintf(text, size, "%s", adv_live_method_name(s->method));
        break;
    case ADV_LIVE_SET_PRESET: snprintf(text, size, "%s", s->preset); break;
    default:
        v = !strcmp(name, "step") ? s->lr : !strcmp(name, "alpha") ? s->alpha : !strcmp(name, "eps") ? s->eps
          : !strcmp(name, "confidence") ? s->confidence : !strcmp(name, "bound") ? s->bound_db
          : !strcmp(name, "iterations") ? (double)s->max_iter
          : s->bypass;
        snprintf(text, size, d->kind == ADV_LIVE_SET_FLOAT ? "%.7g" : "%.0f", v);
        break;
    }
    if (number) *number = v;
    return 0;
}

/* ---- presets: every key a preset may set goes through the setter ---- */

/* A preset key's value as text or number; 0 if the preset does not have it. */
static int preset_value(const adv_preset *p, const char *key, const char **text, double *v)
{
    *text = NULL;
    if (!strcmp(key, "method") && (p->has & ADV_PRESET_HAS_METHOD)) *text = adv_attack_method_name(p->method);
    else if (!strcmp(key, "target") && (p->has & ADV_PRESET_HAS_TARGET) && p->target[0]) *text = p->target;
    else if (!strcmp(key, "eps") && (p->has & ADV_PRESET_HAS_EPS)) *v = p->eps;
    else if (!strcmp(key, "alpha") && (p->has & ADV_PRESET_HAS_ALPHA)) *v = p->alpha;
    else if (!strcmp(key, "lr") && (p->has & ADV_PRESET_HAS_LR)) *v = p->lr;
    else if (!strcmp(key, "max_iter") && (p->has & ADV_PRESET_HAS_MAX_ITER)) *v = (double)p->max_iter;
    else if (!strcmp(key, "confidence") && (p->has & ADV_PRESET_HAS_CONFIDENCE)) *v = p->confidence;
    else if (!strcmp(key, "bound_db") && (p->has & ADV_PRESET_HAS_BOUND)) *v = p->bound_db;
    else return 0;
    return 1;
}

int adv_live_settings_from_preset(adv_live_settings *s, const adv_model *m, const adv_preset *p)
{
    adv_live_settings n = *s;
    for (int i = 0; i < N_TABLE; i++) {
        const adv_live_setting *d = &table[i];
        const char *text;
        double v = 0;
        if (!d->preset_key || !preset_value(p, d->preset_key, &text, &v)) continue;
        if ((text ? set_text_as(&n, m, d, d->preset_key, text) : set_number_as(&n, d, d->preset_key, v)) != 0)
            return adv_fail("preset %s: %s", p->name, adv_error());
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
