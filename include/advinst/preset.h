/* Attack presets: small INI files (read with inih) naming a method and its parameters.
 *
 *   [preset]
 *   description = C&W, the paper's ">=150" setting
 *   [attack]
 *   method = cw            ; fgsm | pgdn | cw | mscw
 *   eps = 0.01
 *   alpha = 0.01
 *   lr = 1e-5              ; the paper's eta
 *   max_iter = 500
 *   target = random        ; optional: a class name or index, or random
 *   confidence = 0         ; optional (beyond the paper)
 *   min_snr_db = 30        ; optional (beyond the paper)
 *   bound_db = 36          ; optional, live only: the perturbation this far below the input's envelope
 *
 * A preset is named by NAME (NAME.ini in the presets directory) or by a path (anything with a '/'
 * or ending in ".ini"). The directory is $ADVINST_PRESETS, else the installed one (share/advinst/
 * presets of the prefix the executable runs from), else the source tree's presets/. */
#ifndef ADVINST_PRESET_H
#define ADVINST_PRESET_H
#include "advinst/attack.h"
#include <stddef.h>

#define ADV_PRESET_NAME_MAX 64
#define ADV_PRESET_MAX 64

enum {
    ADV_PRESET_HAS_METHOD = 1 << 0,
    ADV_PRESET_HAS_EPS = 1 << 1,
    ADV_PRESET_HAS_ALPHA = 1 << 2,
    ADV_PRESET_HAS_LR = 1 << 3,
    ADV_PRESET_HAS_MAX_ITER = 1 << 4,
    ADV_PRESET_HAS_TARGET = 1 << 5,
    ADV_PRESET_HAS_CONFIDENCE = 1 << 6,
    ADV_PRESET_HAS_MIN_SNR = 1 << 7,
    ADV_PRESET_HAS_BOUND = 1 << 8
};

typedef struct {
    char name[ADV_PRESET_NAME_MAX];   /* file name without .ini */
    char path[4096];
    char description[256];
    unsigned has;                     /* ADV_PRESET_HAS_* of the keys present */
    adv_attack_method method;
    double eps, alpha, lr, confidence, min_snr_db, bound_db;
    long max_iter;
    char target[ADV_CLASS_NAME_MAX];  /* as written (class name, index or "random"); "" if absent */
} adv_preset;

/* The presets directory in use, or NULL if none exists. */
const char *adv_preset_dir(void);

/* Loads a preset by name or path. Fails (adv_error, one line) on an unknown name (listing the
 * available ones), a missing file, an unknown section or key, a key given twice, a bad number
 * (non-finite or beyond float's range, negative eps, alpha, lr; lr 0 as a float; max_iter < 1;
 * confidence outside [0, 1]) or an unknown method. The target is checked against the model by
 * the caller. */
int adv_preset_load(const char *name_or_path, adv_preset *p);

/* The parser behind adv_preset_load, on a file image of len bytes (not NUL-terminated; a NUL
 * byte, a line longer than inih's line buffer or a key given twice is an error too). path names
 * the preset in messages and gives p->name (its base name without .ini); NULL: "(memory)". */
int adv_preset_parse(const char *text, size_t len, const char *path, adv_preset *p);

/* 1 if s is a preset name looked up in the presets directory ([A-Za-z0-9._-], not "." or "..",
 * not ending in ".ini", shorter than ADV_PRESET_NAME_MAX), 0 if not (e.g. a path). */
int adv_preset_is_name(const char *s);

/* Names of the available presets, sorted; returns how many (at most max). */
int adv_preset_list(char names[][ADV_PRESET_NAME_MAX], int max);

/* The available names joined with ", " into buf (for messages); returns buf. */
const char *adv_preset_names(char *buf, size_t size);

/* Copies the preset's values present into params (method excluded). */
void adv_preset_apply(const adv_preset *preset, adv_attack_params *params);
#endif
