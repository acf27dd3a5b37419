#include "advinst/error.h"
#include <stdarg.h>
#include <stdio.h>

static _Thread_local char error_message[1024];

const char *adv_error(void) { return error_message; }

int adv_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    return -1;
}
