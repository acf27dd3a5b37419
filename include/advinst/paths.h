/* Where an installed advinst keeps its data: PREFIX/share/advinst, found relative to the running
 * executable (PREFIX/bin), so that a prefix can be moved or staged with DESTDIR. */
#ifndef ADVINST_PATHS_H
#define ADVINST_PATHS_H
#include <stddef.h>

/* out = "<directory of the running executable>/<bin to data>/<relative>", where <bin to data> is
 * the installed layout's relative path (../share/advinst by default). Returns 0, or -1 if the
 * executable's path is unknown or the result does not fit. Does not check that it exists. */
int adv_installed_path(const char *relative, char *out, size_t size);

/* The file name part of a path: after its last '/' (the whole path if it has none). Figures and
 * reports name files by it, so that they carry no machine's directories. */
const char *adv_path_base(const char *path);
#endif
