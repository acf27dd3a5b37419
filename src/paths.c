/* The installed program's data directory (see include/advinst/paths.h). */
#include "advinst/paths.h"
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef ADVINST_BIN_TO_DATA
#define ADVINST_BIN_TO_DATA "../share/advinst"   /* set by CMake from the install directories */
#endif

const char *adv_path_base(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int adv_installed_path(const char *relative, char *out, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return -1;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return -1;
    *slash = '\0';
    return (size_t)snprintf(out, size, "%s/%s/%s", exe, ADVINST_BIN_TO_DATA, relative) < size ? 0 : -1;
}
