/* Where an installed advinst keeps its data: beside the executable, in ../share/advinst. */
#ifndef ADVINST_PATHS_H
#define ADVINST_PATHS_H
#include <stddef.h>

/* out = "<directory of the running executable>/../share/advinst/<relative>". Returns 0, or -1 if
 * the executable's path is unknown or the result does not fit. Does not check that it exists. */
int adv_installed_path(const char *relative, char *out, size_t size);

/* The file name part of a path: after its last '/' (the whole path if it has none). Figures and
 * reports name files by it, so that they carry no machine's directories. */
const char *adv_path_base(const char *path);
#endif
