/* Writes the Turtle description of the advinst LV2 bundle at build time, from the port table
 * (src/plugin/ports.h), the default class names and the presets/ files (*.ini) (the same presets the
 * program uses; those of methods the live engine does not run, FGSM and PGDn, are left out):
 *
 *   advinst_lv2_ttl OUTDIR BINARY PRESET.ini...
 *
 * writes OUTDIR/manifest.ttl, OUTDIR/advinst.ttl and OUTDIR/presets.ttl. A preset whose values do
 * not fit the plugin's ports is an error (one line, exit 1): the build stops rather than ship a
 * preset that would not apply. */
#include "common.h"
#include "advinst/error.h"
#include "advinst/live.h"
#include "advinst/preset.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const prefixes =
    "@prefix doap:  <http://usefulinc.com/ns/doap#> .\n"
    "@prefix lv2:   <http://lv2plug.in/ns/lv2core#> .\n"
    "@prefix pset:  <http://lv2plug.in/ns/ext/presets#> .\n"
    "@prefix rdfs:  <http://www.w3.org/2000/01/rdf-schema#> .\n"
    "@prefix state: <http://lv2plug.in/ns/ext/state#> .\n"
    "@prefix units: <http://lv2plug.in/ns/extensions/units#> .\n"
    "@prefix urid:  <http://lv2plug.in/ns/ext/urid#> .\n"
    "@prefix work:  <http://lv2plug.in/ns/ext/worker#> .\n"
    "@prefix log:   <http://lv2plug.in/ns/ext/log#> .\n\n";

/* A Turtle string literal ("..." with quotes and backslashes escaped). */
static void ttl_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        if (*s == '\n') { fputs("\\n", f); continue; }
        fputc(*s, f);
    }
    fputc('"', f);
}

/* A class name as a port symbol: [A-Za-z0-9_] ("hi-hat" -> "hi_hat"). */
static void symbol_of(const char *name, char *out, size_t size)
{
    size_t i = 0;
    for (; name[i] && i + 1 < size; i++) {
        char c = name[i];
        out[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? c : '_';
    }
    out[i] = '\0';
}

/* A class name for people: "acoustic_guitar" -> "acoustic guitar". */
static void label_of(const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s", name);
    for (char *p = out; *p; p++)
        if (*p == '_') *p = ' ';
}

static void audio_port(FILE *f, unsigned index, const char *symbol, const char *name, int output, int last)
{
    fprintf(f, "\t\ta lv2:AudioPort, lv2:%sPort ;\n\t\tlv2:index %u ;\n\t\tlv2:symbol \"%s\" ;\n\t\tlv2:name \"%s\"\n\t] %c ",
            output ? "Output" : "Input", index, symbol, name, last ? '.' : ',');
}

static void control_port(FILE *f, unsigned index, const adv_lv2_control_desc *d, float def, int last)
{
    fprintf(f, "[\n\t\ta lv2:ControlPort, lv2:%sPort ;\n\t\tlv2:index %u ;\n\t\tlv2:symbol \"%s\" ;\n\t\tlv2:name \"%s\" ;\n",
            d->output ? "Output" : "Input", index, d->symbol, d->name);
    fprintf(f, "\t\trdfs:comment ");
    ttl_string(f, d->comment);
    fprintf(f, " ;\n");
    fprintf(f, "\t\tlv2:default %g ;\n\t\tlv2:minimum %g ;\n\t\tlv2:maximum %g", def, d->min, d->max);
    if (d->props & P_INTEGER) fprintf(f, " ;\n\t\tlv2:portProperty lv2:integer");
    if (d->props & P_ENUMERATION) fprintf(f, " ;\n\t\tlv2:portProperty lv2:enumeration");
    if (d->props & P_TOGGLED) fprintf(f, " ;\n\t\tlv2:portProperty lv2:toggled");
    if (d->props & P_LOGARITHMIC) fprintf(f, " ;\n\t\tlv2:portProperty <http://lv2plug.in/ns/ext/port-props#logarithmic>");
    if (d->props & P_ENABLED) fprintf(f, " ;\n\t\tlv2:designation lv2:enabled");
    if (d->props & P_LATENCY) fprintf(f, " ;\n\t\tlv2:designation lv2:latency ;\n\t\tlv2:portProperty lv2:reportsLatency");
    if (d->output && !(d->props & P_LATENCY))
        fprintf(f, " ;\n\t\tlv2:portProperty <http://lv2plug.in/ns/ext/port-props#expensive>");
    if (d->unit) fprintf(f, " ;\n\t\tunits:unit units:%s", d->unit);
    if (d == &lv2_controls[C_TARGET]) {
        char label[64];
        for (int k = 0; k < ADV_N_CLASSES; k++) {
            label_of(adv_class_names[k], label, sizeof label);
            fprintf(f, " ;\n\t\tlv2:scalePoint [ rdfs:label \"%s\" ; rdf:value %d ]", label, k);
        }
        fprintf(f, " ;\n\t\tlv2:scalePoint [ rdfs:label \"none\" ; rdf:value %d ]", ADV_LV2_TARGET_NONE);
        fprintf(f, " ;\n\t\tlv2:scalePoint [ rdfs:label \"random\" ; rdf:value %d ]", ADV_LV2_TARGET_RANDOM);
    } else if (d == &lv2_controls[C_METHOD]) {
        for (int k = 0; k < 3; k++) fprintf(f, " ;\n\t\tlv2:scalePoint [ rdfs:label \"%s\" ; rdf:value %d ]", lv2_method_labels[k], k);
    } else if (d == &lv2_controls[C_STATUS]) {
        for (int k = 0; k <= ADV_LV2_STATUS_NO_MODEL; k++)
            fprintf(f, " ;\n\t\tlv2:scalePoint [ rdfs:label \"%s\" ; rdf:value %d ]", lv2_status_labels[k], k);
    }
    fprintf(f, "\n\t] %c ", last ? '.' : ',');
}

static void plugin(FILE *f, const char *uri, int channels)
{
    fprintf(f, "<%s>\n\ta lv2:Plugin, lv2:AnalyserPlugin ;\n", uri);
    fprintf(f, "\tdoap:name \"advinst%s\" ;\n\tdoap:license <https://spdx.org/licenses/MIT> ;\n", channels == 2 ? " (stereo)" : "");
    fprintf(f, "\trdfs:comment \"Fools a music instrument classifier: adds a targeted C&W / Multi-Scale C&W "
               "perturbation that every listener window hears as the chosen class, with a fixed latency (the attack's "
               "look-ahead).%s\" ;\n",
            channels == 2 ? " A stereo pair sharing one perturbation; the classifier hears the mono mix." : "");
    fprintf(f, "\tlv2:project <%s#project> ;\n", ADV_LV2_URI);
    fprintf(f, "\tlv2:optionalFeature lv2:hardRTCapable, urid:map, log:log, work:schedule ;\n");
    fprintf(f, "\tlv2:extensionData work:interface, state:interface ;\n");
    fprintf(f, "\tlv2:port ");
    unsigned index = 0;
    for (int output = 0; output < 2; output++)
        for (int c = 0; c < channels; c++) {
            char sym[16], name[32];
            if (channels == 1) snprintf(sym, sizeof sym, "%s", output ? "out" : "in");
            else snprintf(sym, sizeof sym, "%s_%d", output ? "out" : "in", c + 1);
            snprintf(name, sizeof name, "%s%s", output ? "Out" : "In", channels == 1 ? "" : c ? " 2" : " 1");
            fprintf(f, "[\n");
            audio_port(f, index++, sym, name, output, 0);
        }
    for (int k = 0; k < ADV_LV2_N_CONTROLS; k++) {
        adv_lv2_control_desc d = lv2_controls[k];
        d.comment = adv_plugin_control_comment(k);   /* else the setting's description */
        control_port(f, index++, &d, adv_plugin_control_default(k), 0);
    }
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < ADV_N_CLASSES; k++) {
            char sym[64], label[64], symbol[80], name[96], comment[160];
            symbol_of(adv_class_names[k], sym, sizeof sym);
            label_of(adv_class_names[k], label, sizeof label);
            snprintf(symbol, sizeof symbol, "prob_%s_%s", s ? "out" : "in", sym);
            snprintf(name, sizeof name, "%s: %s", s ? "Out" : "In", label);
            snprintf(comment, sizeof comment, "the classifier's probability of %s on the %s (sliding window)", label,
                     s ? "output" : "input");
            adv_lv2_control_desc d = {symbol, name, 1, NULL, 0, 1, 0, NULL, comment};
            control_port(f, index++, &d, 0, s == 1 && k == ADV_N_CLASSES - 1);
        }
    fprintf(f, "\n\n");
}

/* The shortest decimal literal (no exponent, with a point: xsd:decimal, which hosts read as a
 * float) that reads back as the same float: 0.00001, not 9.99999975e-06 or 1e-05 (xsd:double). */
static void shortest_float(double v, char *out, size_t size)
{
    for (int digits = 1; digits <= 12; digits++) {
        snprintf(out, size, "%.*f", digits, v);
        if ((float)strtod(out, NULL) == (float)v) break;
    }
    size_t n = strlen(out);   /* 500.0 stays, 0.50 becomes 0.5 */
    while (n > 2 && out[n - 1] == '0' && out[n - 2] != '.') out[--n] = '\0';
}

/* One pset:Preset from a preset file; 0 written, 1 left out (not a live method), -1 error. */
static int preset(FILE *f, FILE *manifest, const char *path)
{
    adv_preset p;
    if (adv_preset_load(path, &p) != 0) return -1;
    if ((p.has & ADV_PRESET_HAS_METHOD) && p.method != ADV_CW && p.method != ADV_MSCW) return 1;
    adv_live_settings s;
    adv_live_settings_default(&s);
    if (adv_live_settings_from_preset(&s, NULL, &p) != 0) return -1;
    struct { int control, has; double value; } v[] = {
        {C_METHOD, p.has & ADV_PRESET_HAS_METHOD, s.method},
        {C_TARGET, (p.has & ADV_PRESET_HAS_TARGET) && p.target[0],
         s.target == ADV_LIVE_TARGET_NONE ? ADV_LV2_TARGET_NONE : s.target == ADV_LIVE_TARGET_RANDOM ? ADV_LV2_TARGET_RANDOM : s.target},
        {C_STEP, p.has & ADV_PRESET_HAS_LR, s.lr},
        {C_ALPHA, p.has & ADV_PRESET_HAS_ALPHA, s.alpha},
        {C_EPS, p.has & ADV_PRESET_HAS_EPS, s.eps},
        {C_BOUND, p.has & ADV_PRESET_HAS_BOUND, s.bound_db},
        {C_CONFIDENCE, p.has & ADV_PRESET_HAS_CONFIDENCE, s.confidence},
        {C_ITERATIONS, p.has & ADV_PRESET_HAS_MAX_ITER, (double)s.max_iter},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        const adv_lv2_control_desc *d = &lv2_controls[v[i].control];
        if (v[i].has && ((float)v[i].value < d->min || (float)v[i].value > d->max)) {
            fprintf(stderr, "advinst_lv2_ttl: preset %s: %s = %g is outside the plugin port's range [%g, %g]\n", p.name,
                    d->symbol, v[i].value, d->min, d->max);
            return -1;
        }
    }
    fprintf(manifest, "<%s/preset/%s>\n\ta pset:Preset ;\n\tlv2:appliesTo <%s>, <%s> ;\n\trdfs:seeAlso <presets.ttl> .\n\n",
            ADV_LV2_URI, p.name, ADV_LV2_URI, ADV_LV2_URI_STEREO);
    fprintf(f, "<%s/preset/%s>\n\ta pset:Preset ;\n\tlv2:appliesTo <%s>, <%s> ;\n\trdfs:label \"%s\" ;\n", ADV_LV2_URI,
            p.name, ADV_LV2_URI, ADV_LV2_URI_STEREO, p.name);
    if (p.description[0]) {
        fprintf(f, "\trdfs:comment ");
        ttl_string(f, p.description);
        fprintf(f, " ;\n");
    }
    fprintf(f, "\tlv2:port ");
    int first = 1;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        if (!v[i].has) continue;
        char num[32];
        shortest_float(v[i].value, num, sizeof num);
        fprintf(f, "%s[\n\t\tlv2:symbol \"%s\" ;\n\t\tpset:value %s\n\t]", first ? "" : " , ",
                lv2_controls[v[i].control].symbol, num);
        first = 0;
    }
    fprintf(f, " .\n\n");
    return 0;
}

static FILE *open_out(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) fprintf(stderr, "advinst_lv2_ttl: cannot write %s\n", path);
    return f;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: advinst_lv2_ttl OUTDIR BINARY [PRESET.ini...]\n");
        return 2;
    }
    if (adv_plugin_check_controls() != 0) {   /* the ports against the settings table */
        fprintf(stderr, "advinst_lv2_ttl: %s\n", adv_error());
        return 1;
    }
    FILE *manifest = open_out(argv[1], "manifest.ttl"), *desc = open_out(argv[1], "advinst.ttl"),
         *presets = open_out(argv[1], "presets.ttl");
    if (!manifest || !desc || !presets) return 1;
    fputs(prefixes, manifest);
    fputs(prefixes, desc);
    fputs(prefixes, presets);
    fprintf(desc, "@prefix rdf:   <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .\n\n");
    fprintf(desc, "<%s#project>\n\ta doap:Project ;\n\tdoap:name \"advinst\" ;\n\tdoap:shortdesc \"adversarial "
                  "attacks on a music instrument classifier, live\" .\n\n", ADV_LV2_URI);
    const char *uris[2] = {ADV_LV2_URI, ADV_LV2_URI_STEREO};
    for (int c = 0; c < 2; c++) {
        fprintf(manifest, "<%s>\n\ta lv2:Plugin ;\n\tlv2:binary <%s> ;\n\trdfs:seeAlso <advinst.ttl> .\n\n", uris[c], argv[2]);
        plugin(desc, uris[c], c + 1);
    }
    int rc = 0;
    for (int i = 3; i < argc && rc == 0; i++) {
        int r = preset(presets, manifest, argv[i]);
        if (r < 0) {
            if (adv_error()[0]) fprintf(stderr, "advinst_lv2_ttl: %s\n", adv_error());
            rc = 1;
        }
    }
    if (fclose(manifest) != 0 || fclose(desc) != 0 || fclose(presets) != 0) rc = 1;
    return rc;
}
