/* OSCQuery (Vidvox OSCQueryProposal) and the routing of the web view's HTTP requests
 * (include/advinst/view.h). The namespace is generated from the live settings table (live.h) and
 * the OSC address list (osc.h), the same tables OSC dispatch and --list-osc use, so they cannot
 * drift. Pure: no sockets, no threads. */
#include "advinst/view.h"
#include "advinst/error.h"
#include "advinst/osc.h"
#include "advinst/preset.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NS "/advinst"

enum { ACCESS_NONE = 0, ACCESS_READ = 1, ACCESS_WRITE = 2, ACCESS_READ_WRITE = 3 };

/* The live presets (method cw or mscw) of the presets directory. */
static void add_live_presets(cJSON *vals)
{
    char names[ADV_PRESET_MAX][ADV_PRESET_NAME_MAX];
    int n = adv_preset_list(names, ADV_PRESET_MAX);
    for (int i = 0; i < n; i++) {
        adv_preset p;
        if (adv_preset_load(names[i], &p) == 0 && (!(p.has & ADV_PRESET_HAS_METHOD) || adv_attack_method_targeted(p.method)))
            cJSON_AddItemToArray(vals, cJSON_CreateString(names[i]));
    }
}

static cJSON *setting_range(const adv_view_context *c, const adv_live_setting *d)
{
    cJSON *range = cJSON_CreateArray(), *r = cJSON_CreateObject();
    cJSON_AddItemToArray(range, r);
    if (d->kind == ADV_LIVE_SET_TARGET || d->kind == ADV_LIVE_SET_METHOD) {
        const char *names[ADV_N_CLASSES + 4];
        int n = adv_live_setting_values(d, c->model, names, ADV_N_CLASSES + 4);
        cJSON *vals = cJSON_AddArrayToObject(r, "VALS");
        for (int k = 0; k < n; k++) cJSON_AddItemToArray(vals, cJSON_CreateString(names[k]));
    } else if (d->kind == ADV_LIVE_SET_PRESET) {
        add_live_presets(cJSON_AddArrayToObject(r, "VALS"));
    } else {
        cJSON_AddNumberToObject(r, "MIN", d->min);
        cJSON_AddNumberToObject(r, "MAX", d->max);
    }
    return range;
}

static cJSON *setting_value(const adv_view_context *c, const adv_live_setting *d)
{
    char text[128];
    double v;
    adv_live_settings_get(c->settings, c->model, d->name, text, sizeof text, &v);
    cJSON *value = cJSON_CreateArray();
    if (d->kind == ADV_LIVE_SET_TARGET || d->kind == ADV_LIVE_SET_METHOD || d->kind == ADV_LIVE_SET_PRESET)
        cJSON_AddItemToArray(value, cJSON_CreateString(text));
    else   /* as the setter prints it: a float's 7 digits (0.01, not 0.00999999977648258) */
        cJSON_AddItemToArray(value, cJSON_CreateNumber(strtod(text, NULL)));
    return value;
}

/* The node of a setting: a read-write method whose OSC type is the table's first accepted type. */
static cJSON *setting_node(const adv_view_context *c, const adv_live_setting *d)
{
    cJSON *o = cJSON_CreateObject();
    char path[64], type[2] = {d->osc_types[0], 0};
    snprintf(path, sizeof path, NS "/%s", d->name);
    cJSON_AddStringToObject(o, "FULL_PATH", path);
    cJSON_AddStringToObject(o, "TYPE", type);
    cJSON_AddNumberToObject(o, "ACCESS", ACCESS_READ_WRITE);
    cJSON_AddItemToObject(o, "VALUE", setting_value(c, d));
    cJSON_AddItemToObject(o, "RANGE", setting_range(c, d));
    cJSON_AddStringToObject(o, "DESCRIPTION", d->description);
    return o;
}

/* The node of an incoming address that is not a setting (subscribe, ping, query): no value. */
static cJSON *control_node(const adv_osc_address *a)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "FULL_PATH", a->path);
    cJSON_AddNumberToObject(o, "ACCESS", ACCESS_NONE);
    char description[256];
    if (a->types[0]) snprintf(description, sizeof description, "%s; arguments: %s", a->summary, a->types);
    else snprintf(description, sizeof description, "%s; no arguments", a->summary);
    cJSON_AddStringToObject(o, "DESCRIPTION", description);
    return o;
}

/* The node at path (NULL if there is none): "/", "/advinst" or one of its methods. */
static cJSON *node_at(const adv_view_context *c, const char *path)
{
    if (!strcmp(path, "/")) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "FULL_PATH", "/");
        cJSON_AddNumberToObject(o, "ACCESS", ACCESS_NONE);
        cJSON_AddStringToObject(o, "DESCRIPTION", "advinst live: fools a music instrument classifier, live");
        cJSON *contents = cJSON_AddObjectToObject(o, "CONTENTS");
        cJSON_AddItemToObject(contents, &NS[1], node_at(c, NS));   /* "advinst" */
        return o;
    }
    if (!strcmp(path, NS)) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "FULL_PATH", NS);
        cJSON_AddNumberToObject(o, "ACCESS", ACCESS_NONE);
        cJSON_AddStringToObject(o, "DESCRIPTION", "the settings and controls of the attack (OSC over UDP)");
        cJSON *contents = cJSON_AddObjectToObject(o, "CONTENTS");
        int n;
        const adv_osc_address *a = adv_osc_addresses(&n);
        for (int i = 0; i < n; i++)
            if (a[i].incoming) cJSON_AddItemToObject(contents, a[i].path + strlen(NS "/"), node_at(c, a[i].path));
        return o;
    }
    if (strncmp(path, NS "/", strlen(NS "/"))) return NULL;
    const adv_live_setting *d = adv_live_setting_find(path + strlen(NS "/"));
    if (d) return setting_node(c, d);
    int n;
    const adv_osc_address *a = adv_osc_addresses(&n);
    for (int i = 0; i < n; i++)
        if (a[i].incoming && !strcmp(a[i].path, path)) return control_node(&a[i]);
    return NULL;
}

static cJSON *host_info(const adv_view_context *c)
{
    static const char *const supported[] = {"ACCESS", "VALUE", "RANGE", "DESCRIPTION"};
    static const char *const unsupported[] = {"TAGS",    "EXTENDED_TYPE", "UNIT",         "CRITICAL",
                                              "CLIPMODE", "LISTEN",       "PATH_CHANGED", "PATH_REMOVED",
                                              "PATH_ADDED", "PATH_RENAMED", "HTML"};
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "NAME", "advinst live");
    cJSON *ext = cJSON_AddObjectToObject(o, "EXTENSIONS");
    for (size_t i = 0; i < sizeof supported / sizeof supported[0]; i++) cJSON_AddTrueToObject(ext, supported[i]);
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) cJSON_AddFalseToObject(ext, unsupported[i]);
    cJSON_AddNumberToObject(o, "OSC_PORT", c->osc_port);
    cJSON_AddStringToObject(o, "OSC_TRANSPORT", "UDP");
    return o;
}

static void respond_json(adv_view_response *r, int status, cJSON *o)
{
    r->status = status;
    r->content_type = "application/json";
    r->body = cJSON_PrintUnformatted(o);
    r->length = r->body ? strlen(r->body) : 0;
    if (!r->body) r->status = 500;
    cJSON_Delete(o);
}

static void respond_text(adv_view_response *r, int status, const char *text)
{
    r->status = status;
    r->content_type = "text/plain; charset=utf-8";
    r->static_body = text;
    r->length = strlen(text);
}

void adv_oscquery_respond(const adv_view_context *c, const char *path, const char *query, adv_view_response *r)
{
    static const char *const attributes[] = {"FULL_PATH", "CONTENTS", "TYPE", "ACCESS", "VALUE", "RANGE", "DESCRIPTION"};
    memset(r, 0, sizeof *r);
    char clean[128];
    size_t len = strlen(path);
    if (len >= sizeof clean) return respond_text(r, 404, "no such OSC node\n");
    memcpy(clean, path, len + 1);
    if (len > 1 && clean[len - 1] == '/') clean[len - 1] = 0;   /* "/advinst/" is "/advinst" */
    if (query && !strcmp(query, "HOST_INFO")) {
        if (strcmp(clean, "/")) return respond_text(r, 400, "HOST_INFO is asked of /\n");
        return respond_json(r, 200, host_info(c));
    }
    cJSON *node = node_at(c, clean);
    if (!node) return respond_text(r, 404, "no such OSC node\n");
    if (!query || !*query) return respond_json(r, 200, node);
    for (size_t i = 0; i < sizeof attributes / sizeof attributes[0]; i++) {
        if (strcmp(query, attributes[i])) continue;
        cJSON *value = cJSON_DetachItemFromObjectCaseSensitive(node, attributes[i]);
        cJSON_Delete(node);
        if (!value) {
            r->status = 204;   /* the node has no such attribute */
            return;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, attributes[i], value);
        return respond_json(r, 200, o);
    }
    cJSON_Delete(node);
    respond_text(r, 400, "unknown OSCQuery attribute\n");
}

void adv_view_route(const adv_view_context *c, const char *method, const char *path, const char *query,
                    const char *accept, adv_view_response *r)
{
    memset(r, 0, sizeof *r);
    if (!method || (strcmp(method, "GET") && strcmp(method, "HEAD")))
        return respond_text(r, 405, "only GET and HEAD\n");
    if (!path || path[0] != '/') return respond_text(r, 400, "bad path\n");
    if (!strcmp(path, "/view") || !strcmp(path, "/view/")) {
        r->status = 200;
        r->content_type = "text/html; charset=utf-8";
        r->static_body = adv_view_page;
        r->length = adv_view_page_size;
        return;
    }
    /* a browser opening the server's address gets the page; OSCQuery clients ask for JSON */
    if (!strcmp(path, "/") && !query && accept && strstr(accept, "text/html")) {
        r->status = 302;
        r->location = "/view";
        return respond_text(r, 302, "see /view\n");
    }
    if (!strcmp(path, "/") || !strncmp(path, NS, strlen(NS))) return adv_oscquery_respond(c, path, query, r);
    respond_text(r, 404, "not found: this server has /view and the OSCQuery namespace (/ and /advinst/...)\n");
}
