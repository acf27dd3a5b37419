/* The controls of the advinst plugins: one table, read by the LV2 plugin (src/plugin/lv2.c), the
 * generator of its Turtle description (src/plugin/ttl.c) and the CLAP plugin (src/plugin/clap.c,
 * input controls as parameters), so they cannot disagree.
 *
 * Port indices: the audio inputs (1 or 2), the audio outputs, then the controls of
 * lv2_controls[] in order, then ADV_N_CLASSES probabilities of the input and ADV_N_CLASSES of the
 * output (class order of the model). */
#ifndef ADVINST_LV2_PORTS_H
#define ADVINST_LV2_PORTS_H
#include "advinst/live.h"
#include "advinst/model.h"

#define ADV_LV2_URI "https://advinst.invalid/plugins/advinst"
#define ADV_LV2_URI_STEREO ADV_LV2_URI "-stereo"
#define ADV_LV2_STATE_PREFIX ADV_LV2_URI "#"

/* target port: 0 .. ADV_N_CLASSES - 1 a class, then these */
#define ADV_LV2_TARGET_NONE ADV_N_CLASSES
#define ADV_LV2_TARGET_RANDOM (ADV_N_CLASSES + 1)

/* status port: the last segment's adv_live_segment_status + 1, or 0 before any segment report; or
 * ADV_LV2_STATUS_NO_MODEL when no model could be loaded (the plugin passes audio through) */
#define ADV_LV2_STATUS_NONE 0
#define ADV_LV2_STATUS(seg_status) ((int)(seg_status) + 1)
#define ADV_LV2_STATUS_NO_MODEL ADV_LV2_STATUS(ADV_LIVE_SEG_ERROR + 1)

typedef enum {
    C_TARGET = 0, C_METHOD, C_STEP, C_ALPHA, C_EPS, C_BOUND, C_CONFIDENCE, C_ITERATIONS, C_ENABLED,
    C_LATENCY, C_STATUS, C_SNR, C_SEGMENT, ADV_LV2_N_CONTROLS
} adv_lv2_control;

enum {
    P_INTEGER = 1 << 0, P_ENUMERATION = 1 << 1, P_TOGGLED = 1 << 2, P_LOGARITHMIC = 1 << 3,
    P_ENABLED = 1 << 4,   /* lv2:designation lv2:enabled (bypass) */
    P_LATENCY = 1 << 5    /* lv2:designation lv2:latency, lv2:reportsLatency */
};

/* Each input control sets one live setting of the engine's settings table (adv_live_setting_table,
 * src/live_settings.c), named by `setting`: `enabled` sets `bypass` inverted, the others the setting
 * of their own name, target and method by value index. The table is the one source of truth: a
 * control's default is the setting's default (adv_live_settings_default, through
 * adv_plugin_control_default in common.c), its comment the setting's description unless given
 * here, and its range must lie within the setting's range (adv_plugin_check_controls, run when the
 * Turtle is generated: the build stops on a disagreement). Port ranges may be narrower than the
 * table's (logarithmic sliders need a positive minimum). Outputs start at their minimum. */
typedef struct {
    const char *symbol, *name;
    int output;
    const char *setting;     /* input controls: the live setting it sets (NULL for outputs) */
    float min, max;
    unsigned props;
    const char *unit;        /* units: suffix ("db", "frame") or NULL */
    const char *comment;
} adv_lv2_control_desc;

static const adv_lv2_control_desc lv2_controls[ADV_LV2_N_CONTROLS] = {
    [C_TARGET] = {"target", "Target", 0, "target", 0, ADV_LV2_TARGET_RANDOM, P_INTEGER | P_ENUMERATION, NULL,
                  "the class the classifier should hear: a class, none (no attack) or random (drawn when the attack starts)"},
    [C_METHOD] = {"method", "Method", 0, "method", 0, 2, P_INTEGER | P_ENUMERATION, NULL,
                  "the attack: off, C&W or Multi-Scale C&W"},
    [C_STEP] = {"step", "Step", 0, "step", 1e-6f, 1, P_LOGARITHMIC, NULL, NULL},
    [C_ALPHA] = {"alpha", "Alpha", 0, "alpha", 1e-4f, 1000, P_LOGARITHMIC, NULL, NULL},
    [C_EPS] = {"eps", "Epsilon", 0, "eps", 1e-4f, 1, P_LOGARITHMIC, NULL, NULL},
    [C_BOUND] = {"bound", "Bound", 0, "bound", 0, 80, 0, "db", NULL},
    [C_CONFIDENCE] = {"confidence", "Confidence", 0, "confidence", 0, 1, 0, NULL, NULL},
    [C_ITERATIONS] = {"iterations", "Iterations", 0, "iterations", 1, 10000, P_INTEGER | P_LOGARITHMIC, NULL, NULL},
    [C_ENABLED] = {"enabled", "Enabled", 0, "bypass", 0, 1, P_TOGGLED | P_ENABLED, NULL,
                   "0: bypass (the delayed input, the perturbation faded out)"},
    [C_LATENCY] = {"latency", "Latency", 1, NULL, 0, 3000000, P_INTEGER | P_LATENCY, "frame",
                   "the output is the input delayed by this many frames"},
    [C_STATUS] = {"status", "Last segment", 1, NULL, 0, ADV_LV2_STATUS_NO_MODEL, P_INTEGER | P_ENUMERATION, NULL,
                  "result of the last segment (0.2 s) that started to play"},
    [C_SNR] = {"snr", "Last SNR", 1, NULL, 0, 200, 0, "db",
               "SNR of the last perturbed segment played (0 when nothing was added)"},
    [C_SEGMENT] = {"segment", "Segment", 1, NULL, 0, 16777216, P_INTEGER, NULL,
                   "number of the last segment reported (segments of 0.2 s of input since the plugin started)"},
};

/* Scale points of the enumerations (status: value = index). */
static const char *const lv2_method_labels[] = {"off", "C&W", "Multi-Scale C&W"};
static const char *const lv2_status_labels[ADV_LV2_STATUS_NO_MODEL + 1] = {
    [ADV_LV2_STATUS_NONE] = "no segment yet",
    [ADV_LV2_STATUS(ADV_LIVE_SEG_OK)] = "ok",
    [ADV_LV2_STATUS(ADV_LIVE_SEG_FAILED)] = "failed",
    [ADV_LV2_STATUS(ADV_LIVE_SEG_MISS)] = "missed",
    [ADV_LV2_STATUS(ADV_LIVE_SEG_SILENT)] = "silent",
    [ADV_LV2_STATUS(ADV_LIVE_SEG_ERROR)] = "error",
    [ADV_LV2_STATUS_NO_MODEL] = "no model (pass-through)"};

/* Index of the first control port for `channels` audio channels. */
static inline unsigned adv_lv2_first_control(int channels) { return 2u * (unsigned)channels; }
static inline unsigned adv_lv2_first_prob(int channels) { return adv_lv2_first_control(channels) + ADV_LV2_N_CONTROLS; }
static inline unsigned adv_lv2_n_ports(int channels) { return adv_lv2_first_prob(channels) + 2 * ADV_N_CLASSES; }
#endif
