/* What the LV2 and CLAP plugins share (src/plugin/lv2.c, src/plugin/clap.c): control values ->
 * settings and back, the default model beside the installed plugin, and the engine. */
#ifndef ADVINST_PLUGIN_COMMON_H
#define ADVINST_PLUGIN_COMMON_H
#include "ports.h"
#include <stddef.h>

/* Control k's default: for an input control its setting's default (adv_live_settings_default), for
 * an output its minimum. Real-time safe once called (the plugins call it when instantiated). */
float adv_plugin_control_default(int k);
/* Control k's value as the plugin uses it: finite and within the control's range (else its
 * default), integers and toggles rounded. Real-time safe. */
float adv_plugin_control(int k, float v);

/* The settings the input controls ask for (values v indexed by control, already through
 * adv_plugin_control) into s; and back. (To be replaced by the settings table's setter once it
 * exists.) */
void adv_plugin_controls_to_settings(const float *v, adv_live_settings *s);
void adv_plugin_settings_to_controls(const adv_live_settings *s, float *v);

/* The default model: $ADVINST_MODEL if set, else the installed one (DIR/DIR_TO_DATA/models/
 * default.safetensors, DIR being where the plugin's binary or bundle is), else the source tree's
 * (a build tree). 0, or -1 if the path does not fit. */
int adv_plugin_default_model(const char *dir, const char *dir_to_data, char *out, size_t size);

/* Where the engine's attack runs (adv_live_config): */
typedef enum {
    ADV_PLUGIN_OWN_THREAD = 0,   /* the engine's attack thread (CLAP) */
    ADV_PLUGIN_HOST_WORKER,      /* the host's worker thread calls adv_plugin_work (LV2 Worker) */
    ADV_PLUGIN_SYNCHRONOUS       /* inside the audio call, a fixed number of iterations per second
                                    of audio (hosts without a worker: offline, deterministic) */
} adv_plugin_attack_mode;

/* Control k's comment: its own, else the description of its live setting. */
const char *adv_plugin_control_comment(int k);
/* Checks the control table against the live settings table (see ports.h): every input control
 * names a setting, its range lies within the setting's, its default (the setting's) within its
 * range, and adv_plugin_controls_to_settings agrees with the table's setter. 0, or -1 with
 * adv_error naming the control. */
int adv_plugin_check_controls(void);

/* Loads the model at path and creates an engine for it at `rate` with `channels`, settings s and
 * the attack run as `mode` asks: the engine (and *model), or NULL with adv_error set. */
adv_live *adv_plugin_engine(const char *path, int rate, int channels, const adv_live_settings *s,
                            adv_plugin_attack_mode mode, adv_model **model);

/* One slice of the attack's work on a host's thread (ADV_PLUGIN_HOST_WORKER): adv_live_work for up
 * to ADV_PLUGIN_WORK_SECONDS with denormals flushed, the thread's floating-point mode restored
 * afterwards (the thread is the host's). The first call on a thread lowers its priority to nice
 * ADV_PLUGIN_WORK_NICE, as the engine's own attack thread. Returns 1 if more work is pending. */
#define ADV_PLUGIN_WORK_SECONDS 0.05
#define ADV_PLUGIN_WORK_NICE 19
int adv_plugin_work(adv_live *e);
#endif
