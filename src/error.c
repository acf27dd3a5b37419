#include "advinst/error.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char error_message[1024];
static _Thread_local int error_exit;   /* 0, or the exit code the last failure calls for */

const char *adv_error(void) { return error_message; }

/* Formats through a local buffer: callers often pass adv_error() itself as an argument
 * (wrapping the previous message), and vsnprintf into its own source is undefined. */
static void set_message(const char *fmt, va_list ap)
{
    char buf[sizeof error_message];
    vsnprintf(buf, sizeof buf, fmt, ap);
    memcpy(error_message, buf, strlen(buf) + 1);
}

int adv_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_message(fmt, ap);
    va_end(ap);
    error_exit = 0;
    return -1;
}

int adv_fail_output(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_message(fmt, ap);
    va_end(ap);
    error_exit = ADV_EXIT_OUTPUT;
    return -1;
}

int adv_error_exit(int fallback) { return error_exit ? error_exit : fallback; }
