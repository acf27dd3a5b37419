/* Shared by the modules that draw figures with cairo (confusion matrices, training curves, SNR
 * histograms). */
#ifndef ADVINST_PLOT_H
#define ADVINST_PLOT_H
#include <cairo.h>

/* Writes the surface as a PNG through a temporary file renamed into place (no partial file on
 * failure) and destroys the surface. Returns 0 or -1 with adv_error. */
int adv_png_write(cairo_surface_t *s, const char *path);
#endif
