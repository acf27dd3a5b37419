#include "advinst/paths.h"
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
    return (size_t)snprintf(out, size, "%s/../share/advinst/%s", exe, relative) < size ? 0 : -1;
}
