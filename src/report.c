/* Confusion matrices as CSV and as PNG pictures (cairo), like the paper's Figure 2:
 * columns are true classes, rows predictions, each column normalised to sum 1. */
#include "advinst/train.h"
#include "advinst/error.h"
#include <cairo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int adv_eval_write_confusion_csv(const adv_eval *ev, const adv_model *m, const char *path)
{
    double cm[ADV_N_CLASSES][ADV_N_CLASSES];
    adv_eval_confusion_normalised(ev, cm);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return adv_fail("%s: cannot write: %m", path);
    fprintf(f, "predicted\\true");
    for (int t = 0; t < ADV_N_CLASSES; t++) fprintf(f, ",%s", m->classes[t]);
    fputc('\n', f);
    for (int p = 0; p < ADV_N_CLASSES; p++) {
        fprintf(f, "%s", m->classes[p]);
        for (int t = 0; t < ADV_N_CLASSES; t++) fprintf(f, ",%.4f", cm[p][t]);
        fputc('\n', f);
    }
    int ok = !ferror(f);
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) { remove(tmp); return adv_fail("%s: cannot write", path); }
    return 0;
}

int adv_eval_write_confusion_png(const adv_eval *ev, const adv_model *m, const char *title, const char *path)
{
    double cm[ADV_N_CLASSES][ADV_N_CLASSES];
    adv_eval_confusion_normalised(ev, cm);
    const int cell = 44, left = 190, top = 60, bottom = 190, right = 20;
    const int W = left + cell * ADV_N_CLASSES + right, H = top + cell * ADV_N_CLASSES + bottom;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);

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
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d.png", path, (int)getpid());
    cairo_status_t st = cairo_surface_write_to_png(s, tmp);
    cairo_surface_destroy(s);
    if (st != CAIRO_STATUS_SUCCESS || rename(tmp, path) != 0) {
        remove(tmp);
        return adv_fail("%s: cannot write the PNG: %s", path, cairo_status_to_string(st));
    }
    return 0;
}
