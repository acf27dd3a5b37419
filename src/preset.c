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
    /* an installed program uses its installed presets, a build tree the source tree's */
    char candidate[PATH_MAX + 64];
    if (adv_installed_path("presets", candidate, sizeof candidate) == 0 && is_dir(candidate)) {
        if (!realpath(candidate, dir)) snprintf(dir, sizeof dir, "%.*s", PATH_MAX - 1, candidate);
        return dir;
    }
#ifdef ADVINST_SOURCE_DIR
    if (is_dir(ADVINST_SOURCE_DIR "/presets")) return ADVINST_SOURCE_DIR "/presets";
#endif
    return NULL;
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
    int described;     /* description seen */
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

/* A key given twice (or continued on an indented line, which inih hands over as a second value)
 * is refused rather than silently taking the last value. */
static int duplicate(parse_ctx *c, const char *key)
{
    snprintf(c->error, sizeof c->error, "'%s' is given more than once", key);
    return 0;
}

static int on_entry(void *user, const char *section, const char *key, const char *value)
{
    parse_ctx *c = user;
    adv_preset *p = c->p;
    if (c->error[0]) return 0;
    if (!strcasecmp(section, "preset")) {
        if (!strcasecmp(key, "description")) {
            if (c->described) return duplicate(c, key);
            c->described = 1;
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
        if (p->has & ADV_PRESET_HAS_METHOD) return duplicate(c, key);
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
        if (p->has & ADV_PRESET_HAS_TARGET) return duplicate(c, key);
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
        {"bound_db", ADV_PRESET_HAS_BOUND, 0, 0},
    };
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        if (strcasecmp(key, numbers[i].key)) continue;
        if (p->has & numbers[i].bit) return duplicate(c, key);
        double d;
        if (parse_number(value, &d) != 0) {
            snprintf(c->error, sizeof c->error, "%s = '%s' is not a finite number", key, value);
            return 0;
        }
        /* the attacks take floats: a double beyond float's range would become inf, a tiny step 0 */
        double f = numbers[i].bit == ADV_PRESET_HAS_MAX_ITER ? d : (double)(float)d;
        if (!isfinite(f)) {
            snprintf(c->error, sizeof c->error, "%s = %s is out of range", key, value);
            return 0;
        }
        if (f < numbers[i].lo || (numbers[i].lo_open && f <= numbers[i].lo)) {
            snprintf(c->error, sizeof c->error, "%s = %s must be %s %g", key, value,
                     numbers[i].lo_open ? ">" : ">=", numbers[i].lo);
            return 0;
        }
        switch (numbers[i].bit) {
        case ADV_PRESET_HAS_EPS: p->eps = d; break;
        case ADV_PRESET_HAS_ALPHA: p->alpha = d; break;
        case ADV_PRESET_HAS_LR: p->lr = d; break;
        case ADV_PRESET_HAS_MAX_ITER:
            if (d != floor(d) || d > (double)(LONG_MAX / 2)) {
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
        case ADV_PRESET_HAS_BOUND: p->bound_db = d; break;
        }
        p->has |= numbers[i].bit;
        return 1;
    }
    snprintf(c->error, sizeof c->error,
             "unknown key '%s' in [attack] (valid: method, eps, alpha, lr, max_iter, target, confidence, min_snr_db, bound_db)",
             key);
    return 0;
}

static int looks_like_path(const char *s)
{
    size_t len = strlen(s);
    return strchr(s, '/') || (len > 4 && !strcmp(s + len - 4, ".ini"));
}

int adv_preset_is_name(const char *s)
{
    static const char allowed[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.";
    size_t len = s ? strlen(s) : 0;
    return len > 0 && len < ADV_PRESET_NAME_MAX && strspn(s, allowed) == len && !looks_like_path(s) &&
           strcmp(s, ".") && strcmp(s, "..");
}

/* inih line reader over a memory buffer. inih reads a line in pieces of its buffer size and would
 * take the rest of a longer line for a new line; the reader stops with too_long set instead. */
typedef struct {
    const char *p;
    size_t left;
    int line;          /* lines handed out so far */
    int too_long;      /* the line after `line` does not fit inih's buffer */
} mem_reader;

static char *read_mem_line(char *str, int num, void *stream)
{
    mem_reader *r = stream;
    if (r->left == 0 || r->too_long || num < 2) return NULL;
    const char *nl = memchr(r->p, '\n', r->left);
    size_t len = nl ? (size_t)(nl - r->p) + 1 : r->left;   /* with its newline */
    size_t content = nl ? len - 1 : len;
    if (content > (size_t)num - 1) {
        r->too_long = 1;
        return NULL;
    }
    size_t take = len < (size_t)num - 1 ? len : (size_t)num - 1;
    memcpy(str, r->p, take);
    str[take] = '\0';
    /* a line of exactly num - 1 characters: its newline is dropped, not read as an empty line */
    r->p += len;
    r->left -= len;
    r->line++;
    return str;
}

int adv_preset_parse(const char *text, size_t len, const char *path, adv_preset *p)
{
    memset(p, 0, sizeof *p);
    p->min_snr_db = NAN;
    if (!path || !*path) path = "(memory)";
    snprintf(p->path, sizeof p->path, "%s", path);
    const char *base = adv_path_base(p->path);
    size_t blen = strlen(base);
    if (blen > 4 && !strcmp(base + blen - 4, ".ini")) blen -= 4;
    if (blen >= sizeof p->name) blen = sizeof p->name - 1;
    memcpy(p->name, base, blen);
    p->name[blen] = '\0';

    if (len && !text) return adv_fail("preset %s: no text", p->path);
    if (len && memchr(text, '\0', len)) return adv_fail("preset %s: contains a NUL byte (not a text file)", p->path);
    mem_reader r = {text, len, 0, 0};
    parse_ctx c = {p, {0}, 0};
    int rc = ini_parse_stream(read_mem_line, &r, on_entry, &c);
    /* inih reports the line of the first entry the handler rejected */
    if (c.error[0]) return adv_fail("preset %s: line %d: %s", p->path, rc, c.error);
    if (rc > 0) return adv_fail("preset %s: line %d: syntax error", p->path, rc);
    if (rc < 0) return adv_fail("preset %s: out of memory", p->path);
    if (r.too_long) return adv_fail("preset %s: line %d is too long", p->path, r.line + 1);
    if (!(p->has & ADV_PRESET_HAS_METHOD)) return adv_fail("preset %s: no method (fgsm, pgdn, cw or mscw)", p->path);
    return 0;
}

/* Presets are a few hundred bytes; anything this large is not one. */
#define PRESET_MAX_BYTES (64 << 10)

int adv_preset_load(const char *name_or_path, adv_preset *p)
{
    memset(p, 0, sizeof *p);
    p->min_snr_db = NAN;
    if (!name_or_path || !*name_or_path) return adv_fail("empty preset name");
    char path[sizeof p->path];
    if (looks_like_path(name_or_path)) {
        snprintf(path, sizeof path, "%s", name_or_path);
    } else {
        const char *dir = adv_preset_dir();
        char names[1024];
        int valid = adv_preset_is_name(name_or_path);
        if (valid && dir) snprintf(path, sizeof path, "%s/%s.ini", dir, name_or_path);
        if (!valid || !dir || access(path, R_OK) != 0)
            return adv_fail("unknown preset '%s' (available: %s)", name_or_path, adv_preset_names(names, sizeof names));
    }
    FILE *f = fopen(path, "r");
    if (!f) return adv_fail("preset %s: cannot open: %s", path, strerror(errno));
    char *buf = malloc(PRESET_MAX_BYTES + 1);
    if (!buf) {
        fclose(f);
        return adv_fail("preset %s: out of memory", path);
    }
    size_t n = fread(buf, 1, PRESET_MAX_BYTES + 1, f);
    int bad = ferror(f);
    fclose(f);
    int rc;
    if (bad) rc = adv_fail("preset %s: cannot read", path);
    else if (n > PRESET_MAX_BYTES) rc = adv_fail("preset %s: larger than %d bytes, not a preset", path, PRESET_MAX_BYTES);
    else rc = adv_preset_parse(buf, n, path, p);
    free(buf);
    return rc;
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
