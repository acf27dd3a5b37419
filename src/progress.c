#include "advinst/progress.h"
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

double adv_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double adv_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void adv_progress_start(adv_progress *p, const char *label, long total)
{
    memset(p, 0, sizeof *p);
    p->label = label;
    p->total = total > 0 ? total : 1;
    p->start = adv_now();
    const char *off = getenv("ADVINST_NO_PROGRESS");
    p->enabled = isatty(STDERR_FILENO) && !(off && *off && strcmp(off, "0") != 0);
}

static void format_seconds(double s, char *buf, size_t size)
{
    if (s < 0 || s > 360000) { snprintf(buf, size, "--:--"); return; }
    int t = (int)(s + 0.5);
    if (t >= 3600) snprintf(buf, size, "%d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60);
    else snprintf(buf, size, "%02d:%02d", t / 60, t % 60);
}

void adv_progress_set_work(adv_progress *p, double total) { p->work_total = total > 0 ? total : 0; }

double adv_progress_fraction(const adv_progress *p)
{
    double frac = p->work_total > 0 ? p->work_done / p->work_total : (double)p->done / (double)p->total;
    return frac < 0 ? 0 : frac > 1 ? 1 : frac;
}

double adv_progress_eta(const adv_progress *p, double now)
{
    double frac = adv_progress_fraction(p);
    if (frac <= 0) return -1;
    return (now - p->start) * (1 - frac) / frac;
}

static void draw(adv_progress *p)
{
    const int width = 30;
    double frac = adv_progress_fraction(p);
    int filled = (int)(frac * width);
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
    bar[width] = 0;
    double now = adv_now(), elapsed = now - p->start, eta = adv_progress_eta(p, now);
    char e[16], r[16];
    format_seconds(elapsed, e, sizeof e);
    format_seconds(eta, r, sizeof r);
    fprintf(stderr, "\r%s [%s] %ld/%ld %3d%% %s ETA %s %s\033[K", p->label, bar, p->done, p->total,
            (int)(frac * 100), e, r, p->status);
    fflush(stderr);
}

void adv_progress_update(adv_progress *p, long done, const char *status)
{
    p->done = done;
    if (status) snprintf(p->status, sizeof p->status, "%s", status);
    if (!p->enabled) return;
    double now = adv_now();
    if (now - p->last_draw < 0.1 && done < p->total) return;
    p->last_draw = now;
    draw(p);
}

void adv_progress_update_work(adv_progress *p, long done, double work_done, const char *status)
{
    p->work_done = work_done;
    adv_progress_update(p, done, status);
}

void adv_progress_finish(adv_progress *p)
{
    if (!p->enabled) return;
    draw(p);
    fputc('\n', stderr);
}
