/* Attack presets (see include/advinst/preset.h). */
#include "advinst/preset.h"
#include "advinst/paths.h"
#include "advinst/error.h"
#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *adv_preset_dir(void)
{
    static _Thread_local char dir[PATH_MAX];
    const char *env = getenv("ADVINST_PRESETS");
    if (env && *env) return env;
#ifdef ADVINST_SOURCE_DIR
    if (is_dir(ADVINST_SOURCE_DIR "/presets")) return ADVINST_SOURCE_DIR "/presets";
#endif
    if (adv_installed_path("presets", dir, sizeof dir) != 0) return NULL;
    return is_dir(dir) ? dir : NULL;
}

static int compare_names(const void *a, const void *b) { return strcmp(a, b); }

int adv_preset_list(char names[][ADV_PRESET_NAME_MAX], int max)
{
    const char *dir = adv_preset_dir();
    if (!dir) return 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) && count < max) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len <= 4 || len - 4 >= ADV_PRESET_NAME_MAX || strcmp(e->d_name + len - 4, ".ini"))
            continue;
        memcpy(names[count], e->d_name, len - 4);
        names[count][len - 4] = '\0';
        count++;
    }
    closedir(d);
    qsort(names, (size_t)count, ADV_PRESET_NAME_MAX, compare_names);
    return count;
}

const char *adv_preset_names(char *buf, size_t size)
{
    char names[ADV_PRESET_MAX][ADV_PRESET_NAME_MAX];
    int n = adv_preset_list(names, ADV_PRESET_MAX);
    if (size == 0) return buf;
    buf[0] = '\0';
    size_t used = 0;
    for (int i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", names[i]);
    if (n == 0) snprintf(buf, size, "(none found)");
    return buf;
}

typedef struct {
    adv_preset *p;
    char error[512];   /* the first problem; inih gives its line */
} parse_ctx;

static int parse_number(const char *v, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    while (*end == ' ' || *end == '\t') end++;
    if (end == v || *end || errno || !isfinite(d)) return -1;
    *out = d;
    return 0;
}

static int on_entry(void *user, const char *section, const char *key, const char *value)
{
    parse_ctx *c = user;
    adv_preset *p = c->p;
    if (c->error[0]) return 0;
    if (!strcasecmp(section, "preset")) {
        if (!strcasecmp(key, "description")) {
            snprintf(p->description, sizeof p->description, "%s", value);
            return 1;
        }
        snprintf(c->error, sizeof c->error, "unknown key '%s' in [preset] (valid: description)", key);
        return 0;
    }
    if (!*section) {
        snprintf(c->error, sizeof c->error, "'%s' is outside a section (valid: [preset], [attack])", key);
        return 0;
    }
    if (strcasecmp(section, "attack")) {
        snprintf(c->error, sizeof c->error, "unknown section [%s] (valid: [preset], [attack])", section);
        return 0;
    }
    if (!strcasecmp(key, "method")) {
        int m = adv_attack_method_parse(value);
        if (m < 0) {
            snprintf(c->error, sizeof c->error, "unknown method '%s' (valid: fgsm, pgdn, cw, mscw)", value);
            return 0;
        }
        p->method = (adv_attack_method)m;
        p->has |= ADV_PRESET_HAS_METHOD;
        return 1;
    }
    if (!strcasecmp(key, "target")) {
        if (!*value || strlen(value) >= sizeof p->target) {
            snprintf(c->error, sizeof c->error, "bad target '%s'", value);
            return 0;
        }
        snprintf(p->target, sizeof p->target, "%s", value);
        p->has |= ADV_PRESET_HAS_TARGET;
        return 1;
    }
    static const struct { const char *key; unsigned bit; double lo; int lo_open; } numbers[] = {
        {"eps", ADV_PRESET_HAS_EPS, 0, 0},
        {"alpha", ADV_PRESET_HAS_ALPHA, 0, 0},
        {"lr", ADV_PRESET_HAS_LR, 0, 1},
        {"max_iter", ADV_PRESET_HAS_MAX_ITER, 1, 0},
        {"confidence", ADV_PRESET_HAS_CONFIDENCE, 0, 0},
        {"min_snr_db", ADV_PRESET_HAS_MIN_SNR, -INFINITY, 0},
    };
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        if (strcasecmp(key, numbers[i].key)) continue;
        double d;
        if (parse_number(value, &d) != 0) {
            snprintf(c->error, sizeof c->error, "%s = '%s' is not a finite number", key, value);
            return 0;
        }
        if (d < numbers[i].lo || (numbers[i].lo_open && d <= numbers[i].lo)) {
            snprintf(c->error, sizeof c->error, "%s = %s must be %s %g", key, value,
                     numbers[i].lo_open ? ">" : ">=", numbers[i].lo);
            return 0;
        }
        switch (numbers[i].bit) {
        case ADV_PRESET_HAS_EPS: p->eps = d; break;
        case ADV_PRESET_HAS_ALPHA: p->alpha = d; break;
        case ADV_PRESET_HAS_LR: p->lr = d; break;
        case ADV_PRESET_HAS_MAX_ITER:
            if (d != floor(d) || d > LONG_MAX / 2) {
                snprintf(c->error, sizeof c->error, "max_iter = %s must be a whole number", value);
                return 0;
            }
            p->max_iter = (long)d;
            break;
        case ADV_PRESET_HAS_CONFIDENCE:
            if (d > 1) {
                snprintf(c->error, sizeof c->error, "confidence = %s must be in [0, 1]", value);
                return 0;
            }
            p->confidence = d;
            break;
        case ADV_PRESET_HAS_MIN_SNR: p->min_snr_db = d; break;
        }
        p->has |= numbers[i].bit;
        return 1;
    }
    snprintf(c->error, sizeof c->error,
             "unknown key '%s' in [attack] (valid: method, eps, alpha, lr, max_iter, target, confidence, min_snr_db)",
             key);
    return 0;
}

static int looks_like_path(const char *s)
{
    size_t len = strlen(s);
    return strchr(s, '/') || (len > 4 && !strcmp(s + len - 4, ".ini"));
}

int adv_preset_load(const char *name_or_path, adv_preset *p)
{
    memset(p, 0, sizeof *p);
    p->min_snr_db = NAN;
    if (!name_or_path || !*name_or_path) return adv_fail("empty preset name");
    if (looks_like_path(name_or_path)) {
        snprintf(p->path, sizeof p->path, "%s", name_or_path);
    } else {
        const char *dir = adv_preset_dir();
        char names[1024];
        int valid = strspn(name_or_path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
                    strlen(name_or_path);
        if (valid && dir) snprintf(p->path, sizeof p->path, "%s/%s.ini", dir, name_or_path);
        if (!valid || !dir || access(p->path, R_OK) != 0)
            return adv_fail("unknown preset '%s' (available: %s)", name_or_path, adv_preset_names(names, sizeof names));
    }
    const char *base = strrchr(p->path, '/');
    base = base ? base + 1 : p->path;
    size_t len = strlen(base);
    if (len > 4 && !strcmp(base + len - 4, ".ini")) len -= 4;
    if (len >= sizeof p->name) len = sizeof p->name - 1;
    memcpy(p->name, base, len);
    p->name[len] = '\0';

    FILE *f = fopen(p->path, "r");
    if (!f) return adv_fail("preset %s: cannot open: %s", p->path, strerror(errno));
    parse_ctx c = {p, {0}};
    int rc = ini_parse_file(f, on_entry, &c);
    fclose(f);
    /* inih reports the line of the first entry the handler rejected */
    if (c.error[0]) return adv_fail("preset %s: line %d: %s", p->path, rc, c.error);
    if (rc > 0) return adv_fail("preset %s: line %d: syntax error", p->path, rc);
    if (rc < 0) return adv_fail("preset %s: cannot read", p->path);
    if (!(p->has & ADV_PRESET_HAS_METHOD)) return adv_fail("preset %s: no method (fgsm, pgdn, cw or mscw)", p->path);
    return 0;
}

void adv_preset_apply(const adv_preset *preset, adv_attack_params *params)
{
    if (preset->has & ADV_PRESET_HAS_EPS) params->eps = (float)preset->eps;
    if (preset->has & ADV_PRESET_HAS_ALPHA) params->alpha = (float)preset->alpha;
    if (preset->has & ADV_PRESET_HAS_LR) params->lr = (float)preset->lr;
    if (preset->has & ADV_PRESET_HAS_MAX_ITER) params->max_iter = preset->max_iter;
    if (preset->has & ADV_PRESET_HAS_CONFIDENCE) params->confidence = (float)preset->confidence;
    if (preset->has & ADV_PRESET_HAS_MIN_SNR) params->min_snr_db = (float)preset->min_snr_db;
}
