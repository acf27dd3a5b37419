/* Confusion matrices as CSV and as PNG pictures (cairo), like the paper's Figure 2:
 * columns are true classes, rows predictions, each column normalised to sum 1. */
#include "advinst/train.h"
#include "advinst/error.h"
#include "advinst/plot.h"
#include "advinst/outfile.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cairo_t *adv_plot_begin(int width, int height, cairo_surface_t **surface)
{
    *surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    cairo_t *cr = cairo_create(*surface);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    return cr;
}

int adv_eval_write_confusion_csv(const adv_eval *ev, const adv_model *m, const char *path)
{
    double cm[ADV_N_CLASSES][ADV_N_CLASSES];
    adv_eval_confusion_normalised(ev, cm);
    adv_outfile *out = adv_outfile_open(path, ADV_OUTFILE_REPLACE);
    if (!out) return -1;
    FILE *f = adv_outfile_stream(out);
    if (!f) return adv_outfile_commit(out);   /* fails: out of memory */
    fprintf(f, "predicted\\true");
    for (int t = 0; t < ADV_N_CLASSES; t++) fprintf(f, ",%s", m->classes[t]);
    fputc('\n', f);
    for (int p = 0; p < ADV_N_CLASSES; p++) {
        fprintf(f, "%s", m->classes[p]);
        for (int t = 0; t < ADV_N_CLASSES; t++) fprintf(f, ",%.4f", cm[p][t]);
        fputc('\n', f);
    }
    return adv_outfile_commit(out);
}

int adv_eval_write_confusion_png(const adv_eval *ev, const adv_model *m, const char *title, const char *path)
{
    double cm[ADV_N_CLASSES][ADV_N_CLASSES];
    adv_eval_confusion_normalised(ev, cm);
    const int cell = 44, left = 190, top = 60, bottom = 190, right = 20;
    const int W = left + cell * ADV_N_CLASSES + right, H = top + cell * ADV_N_CLASSES + bottom;
    cairo_surface_t *s;
    cairo_t *cr = adv_plot_begin(W, H, &s);

    cairo_set_font_size(cr, 16);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_move_to(cr, 10, 28);
    cairo_show_text(cr, title ? title : "confusion matrix");
    cairo_set_font_size(cr, 12);
    cairo_move_to(cr, 10, 48);
    cairo_show_text(cr, "rows: predicted, columns: true class (each column sums to 1)");

    for (int p = 0; p < ADV_N_CLASSES; p++)
        for (int t = 0; t < ADV_N_CLASSES; t++) {
            double v = cm[p][t];
            /* white -> dark blue */
            cairo_set_source_rgb(cr, 1 - 0.85 * v, 1 - 0.7 * v, 1 - 0.35 * v);
            cairo_rectangle(cr, left + t * cell, top + p * cell, cell, cell);
            cairo_fill(cr);
            if (v >= 0.005) {
                char txt[16];
                snprintf(txt, sizeof txt, "%.2f", v);
                cairo_set_source_rgb(cr, v > 0.55 ? 1 : 0, v > 0.55 ? 1 : 0, v > 0.55 ? 1 : 0);
                cairo_text_extents_t e;
                cairo_set_font_size(cr, 11);
                cairo_text_extents(cr, txt, &e);
                cairo_move_to(cr, left + t * cell + (cell - e.width) / 2, top + p * cell + (cell + e.height) / 2);
                cairo_show_text(cr, txt);
            }
        }
    cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
    cairo_set_line_width(cr, 1);
    for (int i = 0; i <= ADV_N_CLASSES; i++) {
        cairo_move_to(cr, left + i * cell, top);
        cairo_line_to(cr, left + i * cell, top + ADV_N_CLASSES * cell);
        cairo_move_to(cr, left, top + i * cell);
        cairo_line_to(cr, left + ADV_N_CLASSES * cell, top + i * cell);
    }
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_font_size(cr, 12);
    for (int i = 0; i < ADV_N_CLASSES; i++) {
        cairo_text_extents_t e;
        cairo_text_extents(cr, m->classes[i], &e);
        cairo_move_to(cr, left - e.width - 8, top + i * cell + (cell + e.height) / 2);
        cairo_show_text(cr, m->classes[i]);
        cairo_save(cr);
        cairo_move_to(cr, left + i * cell + (cell + e.height) / 2, top + ADV_N_CLASSES * cell + 8);
        cairo_rotate(cr, 3.14159265358979 / 2);
        cairo_show_text(cr, m->classes[i]);
        cairo_restore(cr);
    }
    cairo_destroy(cr);
    return adv_png_write(s, path);
}

int adv_eval_write_reliability_png(const adv_eval *ev, const char *title, const char *path)
{
    const int W = 620, H = 600, left = 70, right = 30, top = 70, bottom = 120;
    const double pw = W - left - right, ph = H - top - bottom;
    cairo_surface_t *s;
    cairo_t *cr = adv_plot_begin(W, H, &s);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_font_size(cr, 14);
    cairo_move_to(cr, 10, 24);
    cairo_show_text(cr, title ? title : "reliability");
    char line[160];
    snprintf(line, sizeof line, "ECE %.3f, accuracy %.3f, mean confidence %.3f, when wrong %.3f (%ld clips)", ev->ece,
             ev->accuracy, ev->mean_confidence, ev->wrong_confidence, ev->clips);
    cairo_set_font_size(cr, 12);
    cairo_move_to(cr, 10, 46);
    cairo_show_text(cr, line);
    /* bars: accuracy per confidence bin; the gap to the diagonal in red */
    const int nb = ADV_CALIBRATION_BINS;
    long maxc = 1;
    for (int b = 0; b < nb; b++) maxc = ev->bin_count[b] > maxc ? ev->bin_count[b] : maxc;
    for (int b = 0; b < nb; b++) {
        if (!ev->bin_count[b]) continue;
        double x0 = left + pw * b / nb, w = pw / nb, acc = ev->bin_correct[b], conf = ev->bin_confidence[b];
        cairo_set_source_rgb(cr, 0.25, 0.45, 0.8);
        cairo_rectangle(cr, x0 + 1, top + ph * (1 - acc), w - 2, ph * acc);
        cairo_fill(cr);
        cairo_set_source_rgba(cr, 0.85, 0.2, 0.2, 0.45);
        double lo = acc < conf ? acc : conf, hi = acc < conf ? conf : acc;
        cairo_rectangle(cr, x0 + 1, top + ph * (1 - hi), w - 2, ph * (hi - lo));
        cairo_fill(cr);
        /* counts below the plot, as a small histogram */
        double hh = 40.0 * ev->bin_count[b] / maxc;
        cairo_set_source_rgb(cr, 0.5, 0.5, 0.5);
        cairo_rectangle(cr, x0 + 1, top + ph + 60 - hh, w - 2, hh);
        cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, left, top, pw, ph);
    cairo_stroke(cr);
    double dash[1] = {4};
    cairo_set_dash(cr, dash, 1, 0);
    cairo_move_to(cr, left, top + ph);
    cairo_line_to(cr, left + pw, top);
    cairo_stroke(cr);
    cairo_set_dash(cr, dash, 0, 0);
    cairo_set_font_size(cr, 11);
    for (int i = 0; i <= 5; i++) {
        snprintf(line, sizeof line, "%.1f", i / 5.0);
        cairo_move_to(cr, left - 28, top + ph - ph * i / 5 + 4);
        cairo_show_text(cr, line);
        cairo_move_to(cr, left + pw * i / 5 - 8, top + ph + 16);
        cairo_show_text(cr, line);
    }
    cairo_move_to(cr, left + pw / 2 - 40, top + ph + 32);
    cairo_show_text(cr, "confidence (15 bins)");
    cairo_move_to(cr, left, top + ph + 76);
    cairo_show_text(cr, "grey: clips per bin.  blue: accuracy in the bin.  red: gap to the diagonal.");
    cairo_save(cr);
    cairo_move_to(cr, 18, top + ph / 2 + 30);
    cairo_rotate(cr, -3.14159265358979 / 2);
    cairo_show_text(cr, "accuracy");
    cairo_restore(cr);
    cairo_destroy(cr);
    return adv_png_write(s, path);
}

/* Reads the per-epoch CSV written by training: columns epoch, train loss, train accuracy,
 * valid loss, valid accuracy, seconds. Returns the number of rows (at most max). */
static int read_training_log(const char *path, double rows[][5], int max)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[512];
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        double e, tl, ta, vl, va;
        if (sscanf(line, "%lf,%lf,%lf,%lf,%lf", &e, &tl, &ta, &vl, &va) == 5) {
            rows[n][0] = e; rows[n][1] = tl; rows[n][2] = ta; rows[n][3] = vl; rows[n][4] = va;
            n++;
        }
    }
    fclose(f);
    return n;
}

/* Draws one series into the plot rectangle (x0, y0, w, h) scaled to [0, xmax] x [0, ymax]. */
static void plot_series(cairo_t *cr, double rows[][5], int n, int col, double xmax, double ymax,
                        double x0, double y0, double w, double h)
{
    for (int i = 0; i < n; i++) {
        double v = rows[i][col];
        if (v > ymax) v = ymax;
        double x = x0 + w * rows[i][0] / xmax, y = y0 + h - h * v / ymax;
        if (i == 0) cairo_move_to(cr, x, y);
        else cairo_line_to(cr, x, y);
    }
    cairo_stroke(cr);
}

int adv_plot_training_log(const char *csv_path, const char *title, const char *png_path)
{
    static double rows[100000][5];
    int n = read_training_log(csv_path, rows, 100000);
    if (n <= 0) return adv_fail("%s: no training log rows to plot", csv_path);
    double xmax = rows[n - 1][0], lmax = 0;
    for (int i = 0; i < n; i++) {
        if (rows[i][1] > lmax) lmax = rows[i][1];
        if (rows[i][3] > lmax) lmax = rows[i][3];
    }
    lmax = lmax > 0 ? lmax * 1.05 : 1;
    const int W = 900, H = 440, left = 60, right = 60, top = 70, bottom = 50;
    const double pw = W - left - right, ph = H - top - bottom;
    cairo_surface_t *s;
    cairo_t *cr = adv_plot_begin(W, H, &s);
    cairo_set_font_size(cr, 15);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_move_to(cr, left, 28);
    cairo_show_text(cr, title ? title : "training");
    cairo_set_line_width(cr, 1);
    cairo_set_source_rgb(cr, 0.85, 0.85, 0.85);
    for (int i = 0; i <= 10; i++) {
        cairo_move_to(cr, left, top + ph * i / 10);
        cairo_line_to(cr, left + pw, top + ph * i / 10);
    }
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_rectangle(cr, left, top, pw, ph);
    cairo_stroke(cr);
    cairo_set_font_size(cr, 11);
    char label[64];
    for (int i = 0; i <= 5; i++) {
        snprintf(label, sizeof label, "%.2f", lmax * i / 5);
        cairo_move_to(cr, 8, top + ph - ph * i / 5 + 4);
        cairo_show_text(cr, label);
        snprintf(label, sizeof label, "%.1f", (double)i / 5);
        cairo_move_to(cr, left + pw + 8, top + ph - ph * i / 5 + 4);
        cairo_show_text(cr, label);
        snprintf(label, sizeof label, "%.0f", xmax * i / 5);
        cairo_move_to(cr, left + pw * i / 5 - 8, top + ph + 18);
        cairo_show_text(cr, label);
    }
    cairo_move_to(cr, left + pw / 2 - 20, H - 10);
    cairo_show_text(cr, "epoch");
    struct { int col; double r, g, b; int dashed; const char *name; int is_acc; } series[] = {
        {1, 0.2, 0.4, 0.8, 0, "train loss (left)", 0}, {3, 0.8, 0.3, 0.2, 0, "valid loss (left)", 0},
        {2, 0.2, 0.4, 0.8, 1, "train accuracy (right)", 1}, {4, 0.8, 0.3, 0.2, 1, "valid accuracy (right)", 1}};
    for (int k = 0; k < 4; k++) {
        double dash[1] = {5};
        cairo_set_source_rgb(cr, series[k].r, series[k].g, series[k].b);
        cairo_set_line_width(cr, 1.6);
        cairo_set_dash(cr, dash, series[k].dashed ? 1 : 0, 0);
        plot_series(cr, rows, n, series[k].col, xmax, series[k].is_acc ? 1.0 : lmax, left, top, pw, ph);
        cairo_move_to(cr, left + 10 + 200 * k, top - 16);
        cairo_line_to(cr, left + 40 + 200 * k, top - 16);
        cairo_stroke(cr);
        cairo_set_dash(cr, dash, 0, 0);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_move_to(cr, left + 45 + 200 * k, top - 12);
        cairo_show_text(cr, series[k].name);
    }
    cairo_destroy(cr);
    return adv_png_write(s, png_path);
}

static cairo_status_t png_out(void *closure, const unsigned char *data, unsigned int length)
{
    return adv_outfile_write(closure, data, length) == 0 ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

int adv_png_write(cairo_surface_t *s, const char *path)
{
    adv_outfile *out = adv_outfile_open(path, ADV_OUTFILE_REPLACE);
    if (!out) {
        cairo_surface_destroy(s);
        return -1;
    }
    cairo_status_t st = cairo_surface_write_to_png_stream(s, png_out, out);
    cairo_surface_destroy(s);
    if (st != CAIRO_STATUS_SUCCESS && !adv_outfile_error(out)) {
        adv_outfile_abort(out);
        return adv_fail_output("%s: cannot write the PNG: %s", path, cairo_status_to_string(st));
    }
    return adv_outfile_commit(out);   /* reports a write error recorded on the way */
}
