/* Shared by the modules that draw figures with cairo (confusion matrices, training curves, SNR
 * histograms). */
#ifndef ADVINST_PLOT_H
#define ADVINST_PLOT_H
#include <cairo.h>

/* A white width x height RGB canvas with the sans-serif font selected; the surface goes to
 * adv_png_write after cairo_destroy of the returned context. */
cairo_t *adv_plot_begin(int width, int height, cairo_surface_t **surface);
/* Writes the surface as a PNG atomically (outfile.h: no partial file on failure), replacing an
 * existing file, and destroys the surface. Returns 0 or -1 with adv_error. */
int adv_png_write(cairo_surface_t *s, const char *path);
#endif
