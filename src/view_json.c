/* The web view's messages (include/advinst/view.h): engine events, settings and counters as JSON
 * for the page, and the page's controls parsed back (cJSON). Pure: no sockets, no threads. */
#include "advinst/view.h"
#include "advinst/error.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* A number rounded to `digits` decimals (shorter JSON); non-finite numbers become null. */
static cJSON *num(double v, int digits)
{
    if (!isfinite(v)) return cJSON_CreateNull();
    const double scale = pow(10, digits);
    return cJSON_CreateNumber(round(v * scale) / scale);
}

static void add_num(cJSON *o, const char *key, double v, int digits) { cJSON_AddItemToObject(o, key, num(v, digits)); }

/* Takes o, returns its unformatted text (NULL if out of memory). */
static char *print_free(cJSON *o)
{
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}

static int best_class(const float *p)
{
    int b = 0;
    for (int k = 1; k < ADV_N_CLASSES; k++) if (p[k] > p[b]) b = k;
    return b;
}

static cJSON *probs_json(const adv_model *m, const adv_live_event *ev, int rate)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "probs");
    cJSON_AddStringToObject(o, "stream", ev->stream ? "out" : "in");
    add_num(o, "t", (double)ev->frame / rate, 3);
    cJSON *p = cJSON_AddArrayToObject(o, "probs");
    for (int k = 0; k < ADV_N_CLASSES; k++) cJSON_AddItemToArray(p, num(ev->probs[k], 4));
    const int b = best_class(ev->probs);
    cJSON_AddStringToObject(o, "class", ev->silent ? "silent" : m->classes[b]);
    add_num(o, "confidence", ev->silent ? 0 : ev->probs[b], 4);
    cJSON_AddBoolToObject(o, "silent", ev->silent);
    return o;
}

static cJSON *spectrum_json(const adv_live_event *ev, int rate)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "spectrum");
    cJSON_AddStringToObject(o, "stream", ev->stream ? "out" : "in");
    cJSON *t = cJSON_AddArrayToObject(o, "t"), *db = cJSON_AddArrayToObject(o, "db");
    const int n = ev->n_columns < 0 ? 0 : ev->n_columns > ADV_LIVE_SPECTRUM_COLUMNS ? ADV_LIVE_SPECTRUM_COLUMNS : ev->n_columns;
    for (int c = 0; c < n; c++) {
        cJSON_AddItemToArray(t, num((double)ev->column_frame[c] / rate, 4));
        cJSON *col = cJSON_CreateArray();
        for (int b = 0; b < ADV_LIVE_SPECTRUM_BANDS; b++) cJSON_AddItemToArray(col, num(ev->column_db[c][b], 0));
        cJSON_AddItemToArray(db, col);
    }
    return o;
}

static const char *class_name(const adv_model *m, int k)
{
    return k >= 0 && k < ADV_N_CLASSES ? m->classes[k] : "?";
}

static cJSON *segment_json(const adv_model *m, const adv_live_event *ev, int rate)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "segment");
    cJSON_AddNumberToObject(o, "segment", (double)ev->segment);
    add_num(o, "t", (double)ev->frame / rate, 3);
    add_num(o, "duration", (double)ev->frames / rate, 3);
    cJSON_AddStringToObject(o, "status", adv_live_segment_status_name(ev->status));
    cJSON_AddStringToObject(o, "target", adv_live_target_name(m, ev->target));
    cJSON_AddNumberToObject(o, "windows", ev->windows);
    cJSON_AddNumberToObject(o, "hits", ev->hits);
    cJSON_AddStringToObject(o, "heard", class_name(m, ev->after_class));
    add_num(o, "heard_confidence", ev->after_confidence, 3);
    add_num(o, "snr_db", ev->snr_db, 1);   /* null: nothing was added */
    cJSON_AddNumberToObject(o, "iterations", (double)ev->iterations);
    char message[sizeof ev->message + 1];
    snprintf(message, sizeof message, "%.*s", (int)sizeof ev->message, ev->message);
    cJSON_AddStringToObject(o, "message", message);
    return o;
}

char *adv_view_event_json(const adv_model *m, const adv_live_event *ev, int rate)
{
    if (rate <= 0) rate = 1;
    switch (ev->type) {
    case ADV_LIVE_EV_PROBS: return print_free(probs_json(m, ev, rate));
    case ADV_LIVE_EV_SPECTRUM: return print_free(spectrum_json(ev, rate));
    case ADV_LIVE_EV_SEGMENT: return print_free(segment_json(m, ev, rate));
    }
    return NULL;
}

static cJSON *state_object(const adv_model *m, const adv_live_settings *s, double latency_seconds)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "state");
    int n;
    const adv_live_setting *t = adv_live_setting_table(&n);
    for (int i = 0; i < n; i++) {
        char text[128];
        double v;
        adv_live_settings_get(s, m, t[i].name, text, sizeof text, &v);
        if (t[i].kind == ADV_LIVE_SET_FLOAT || t[i].kind == ADV_LIVE_SET_INT) cJSON_AddNumberToObject(o, t[i].name, v);
        else if (t[i].kind == ADV_LIVE_SET_BOOL) cJSON_AddBoolToObject(o, t[i].name, v != 0);
        else cJSON_AddStringToObject(o, t[i].name, text);
    }
    cJSON_AddNumberToObject(o, "version", (double)s->version);
    add_num(o, "latency", latency_seconds, 3);
    return o;
}

char *adv_view_state_json(const adv_model *m, const adv_live_settings *s, double latency_seconds)
{
    return print_free(state_object(m, s, latency_seconds));
}

char *adv_view_stats_json(const adv_live_stats *st, int rate)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "stats");
    add_num(o, "t", rate > 0 ? (double)st->frames / rate : 0, 2);
    cJSON_AddNumberToObject(o, "xruns", (double)st->xruns);
    cJSON_AddNumberToObject(o, "segments_ok", (double)st->segments_ok);
    cJSON_AddNumberToObject(o, "segments_failed", (double)st->segments_failed);
    cJSON_AddNumberToObject(o, "segments_missed", (double)st->segments_miss);
    cJSON_AddNumberToObject(o, "segments_clean", (double)st->segments_clean);
    cJSON_AddNumberToObject(o, "iterations", (double)st->iterations);
    cJSON_AddNumberToObject(o, "ring_overflows", (double)st->ring_overflows);
    return print_free(o);
}

char *adv_view_error_json(const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "error");
    cJSON_AddStringToObject(o, "message", message ? message : "");
    return print_free(o);
}

static const char *kind_name(adv_live_setting_kind k)
{
    static const char *const names[] = {"target", "method", "float", "int", "bool", "preset"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

char *adv_view_hello_json(const adv_model *m, const adv_live_settings *s, int rate, long latency_frames, long window_frames)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "hello");
    cJSON_AddStringToObject(o, "name", "advinst live");
    cJSON *classes = cJSON_AddArrayToObject(o, "classes");
    for (int k = 0; k < ADV_N_CLASSES; k++) cJSON_AddItemToArray(classes, cJSON_CreateString(m->classes[k]));
    int n;
    const adv_live_setting *t = adv_live_setting_table(&n);
    cJSON *settings = cJSON_AddArrayToObject(o, "settings");
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", t[i].name);
        cJSON_AddStringToObject(e, "kind", kind_name(t[i].kind));
        cJSON_AddStringToObject(e, "description", t[i].description);
        const char *values[ADV_N_CLASSES + 4];
        int nv = adv_live_setting_values(&t[i], m, values, ADV_N_CLASSES + 4);
        if (nv) {
            cJSON *vals = cJSON_AddArrayToObject(e, "values");
            for (int k = 0; k < nv; k++) cJSON_AddItemToArray(vals, cJSON_CreateString(values[k]));
        } else if (t[i].kind != ADV_LIVE_SET_PRESET) {
            cJSON_AddNumberToObject(e, "min", t[i].min);
            cJSON_AddNumberToObject(e, "max", t[i].max);
        }
        cJSON_AddItemToArray(settings, e);
    }
    cJSON_AddNumberToObject(o, "rate", rate);
    add_num(o, "latency", rate > 0 ? (double)latency_frames / rate : 0, 4);
    add_num(o, "window", rate > 0 ? (double)window_frames / rate : 0, 4);
    cJSON_AddNumberToObject(o, "bands", ADV_LIVE_SPECTRUM_BANDS);
    cJSON_AddItemToObject(o, "state", state_object(m, s, rate > 0 ? (double)latency_frames / rate : 0));
    return print_free(o);
}

int adv_view_parse_command(const char *data, size_t size, char *name, size_t name_size, char *value, size_t value_size,
                           char *why, size_t why_size)
{
    int rc = -1;
    cJSON *o = data && size <= 4096 ? cJSON_ParseWithLength(data, size) : NULL;
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(o, "set"), *val = cJSON_GetObjectItemCaseSensitive(o, "value");
    if (!o || !cJSON_IsObject(o)) {
        snprintf(why, why_size, "not a JSON object {\"set\": NAME, \"value\": VALUE}");
    } else if (!cJSON_IsString(set) || !adv_live_setting_find(set->valuestring)) {
        snprintf(why, why_size, "\"set\" must name a live setting");
    } else if (strlen(set->valuestring) >= name_size) {
        snprintf(why, why_size, "setting name too long");
    } else if (cJSON_IsString(val)) {
        if (strlen(val->valuestring) >= value_size) snprintf(why, why_size, "%s: value too long", set->valuestring);
        else rc = 0, snprintf(value, value_size, "%s", val->valuestring);
    } else if (cJSON_IsNumber(val)) {
        rc = 0, snprintf(value, value_size, "%.17g", val->valuedouble);
    } else if (cJSON_IsBool(val)) {
        rc = 0, snprintf(value, value_size, "%d", cJSON_IsTrue(val));
    } else {
        snprintf(why, why_size, "%s: \"value\" must be a string, a number or a boolean", set->valuestring);
    }
    if (rc == 0) snprintf(name, name_size, "%s", set->valuestring);
    cJSON_Delete(o);
    return rc;
}
