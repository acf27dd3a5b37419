/* What the LV2 and CLAP plugins share (src/plugin/lv2.c, src/plugin/clap.c): control values ->
 * settings and back, the default model beside the installed plugin, and the engine. */
#ifndef ADVINST_PLUGIN_COMMON_H
#define ADVINST_PLUGIN_COMMON_H
#include "ports.h"
#include <stddef.h>

/* Control k's value as the plugin uses it: finite and within the control's range (else its
 * default), integers and toggles rounded. */
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

/* Loads the model at path and creates an engine for it at `rate` with `channels` and settings s:
 * the engine (and *model), or NULL with adv_error set. */
adv_live *adv_plugin_engine(const char *path, int rate, int channels, const adv_live_settings *s, adv_model **model);
#endif
