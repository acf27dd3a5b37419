/* The experiment's statistics (per run, then mean and std over runs) and report.md: the grid
 * search's table or the paper's Table 1 beside ours, paired t-tests, the details. */
#include "experiment_internal.h"
#include "advinst/error.h"
#include "advinst/paths.h"
#include "advinst/stats.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* "eps 0.01, alpha 0.1, eta 1e-05" (what the method uses), plus the fixed target and max_iter. */
static void params_text(const adv_attack_params *p, const adv_model *m, char *buf, size_t size)
{
    size_t u = 0;
    u += (size_t)snprintf(buf + u, size - u, "eps %g", p->eps);
    if (adv_attack_method_targeted(p->method)) u += (size_t)snprintf(buf + u, size - u, ", alpha %g", p->alpha);
    if (p->method != ADV_FGSM && u < size) u += (size_t)snprintf(buf + u, size - u, ", eta %g", p->lr);
    if (p->method != ADV_FGSM && p->max_iter != 500 && u < size)
        u += (size_t)snprintf(buf + u, size - u, ", max %ld iterations", p->max_iter);
    if (m && p->target >= 0 && u < size) snprintf(buf + u, size - u, ", target %s", m->classes[p->target]);
}

/* ------------------------------------------------------------------ statistics */

void adv_exp_run_stats(const clip_result *res, size_t stride, const clipset *cs, int noise, run_stats *st)
{
    memset(st, 0, sizeof *st);
    double *snr = malloc(sizeof *snr * (size_t)cs->count), *it = malloc(sizeof *it * (size_t)cs->count);
    double conf = 0;
    long correct = 0, k = 0;
    st->clips = cs->count;
    for (long c = 0; c < cs->count; c++) {
        const clip_result *r = &res[c * stride];
        st->seconds += r->seconds;
        st->n_silent += r->status == ADV_ATTACK_SILENT;
        st->n_already += r->status == ADV_ATTACK_ALREADY;
        st->n_failed += r->status == ADV_ATTACK_FAILED;
        int used = r->success || noise ? r->after_class : r->before_class;
        correct += used == cs->label[c];
        if (noise ? r->status == ADV_ATTACK_OK : r->success) {
            if (snr) snr[k] = r->snr_db;
            if (it) it[k] = (double)r->iterations;
            conf += r->after_confidence;
            k++;
        }
    }
    st->n_adv = noise ? 0 : k;
    st->accuracy = (double)correct / (double)cs->count;
    st->snr_mean = snr && k ? adv_stat_mean(snr, (size_t)k) : NAN;
    st->snr_std = snr && k ? adv_stat_std(snr, (size_t)k) : NAN;
    st->iter_median = it && k && !noise ? adv_stat_median(it, (size_t)k) : NAN;
    st->confidence = k ? conf / (double)k : NAN;
    free(snr);
    free(it);
}

void adv_exp_summarise(const run_stats *st, int runs, double require, summary *s)
{
    double a[5][runs > 0 ? runs : 1];
    memset(s, 0, sizeof *s);
    s->runs = runs;
    for (int r = 0; r < runs; r++) {
        a[0][r] = (double)st[r].n_adv;
        a[1][r] = st[r].accuracy;
        a[2][r] = st[r].snr_mean;
        a[3][r] = st[r].iter_median;
        a[4][r] = st[r].confidence;
        s->seconds += st[r].seconds;
    }
    double *dst[5] = {s->adv, s->acc, s->snr, s->iter, s->conf};
    for (int m = 0; m < 5; m++) {
        dst[m][0] = adv_stat_mean(a[m], (size_t)runs);
        dst[m][1] = adv_stat_std(a[m], (size_t)runs);
    }
    s->meets = s->adv[0] >= require;
}

/* ------------------------------------------------------------------ files and formatting */

/* Starts DIR/NAME (in the staging directory); its stream, or NULL with adv_error. */
FILE *adv_exp_afile_open(afile *a, const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    a->out = adv_outfile_open(path, 0);
    if (!a->out) return NULL;
    FILE *f = adv_outfile_stream(a->out);
    if (!f) adv_outfile_commit(a->out);   /* fails: out of memory */
    return f;
}

/* Completes the file; -1 with adv_error after any write error. */
int adv_exp_afile_close(afile *a) { return adv_outfile_commit(a->out); }

void adv_exp_slugify(const char *label, char *out, size_t size)
{
    size_t j = 0;
    for (const char *c = label; *c && j + 1 < size; c++) {
        char ch = *c;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-';
        out[j++] = ok ? ch : '_';
    }
    out[j] = '\0';
}

/* "%.*f" of v, or "-" for NaN; with " ± std" when std is given (not NaN) and runs > 1. */
static const char *fmt_ms(char *buf, size_t size, double mean, double std, int runs, int prec)
{
    if (isnan(mean)) snprintf(buf, size, "-");
    else if (runs > 1 && !isnan(std)) snprintf(buf, size, "%.*f ± %.*f", prec, mean, prec, std);
    else snprintf(buf, size, "%.*f", prec, mean);
    return buf;
}

static const char *fmt_num(char *buf, size_t size, double v, int prec)
{
    if (isnan(v)) snprintf(buf, size, "-");
    else snprintf(buf, size, "%.*f", prec, v);
    return buf;
}

const char *adv_exp_target_name(const adv_model *m, int target)
{
    if (target == ADV_TARGET_RANDOM) return "random";
    if (target >= 0 && target < ADV_N_CLASSES) return m->classes[target];
    return "";
}

const char *adv_exp_method_title(adv_attack_method m)
{
    static const char *const t[ADV_N_METHODS] = {"FGSM", "PGDn", "C&W", "MS-C&W"};
    return (unsigned)m < ADV_N_METHODS ? t[m] : "?";
}

static int pairable(const experiment *x, int a, int b)
{
    return a >= 0 && b >= 0 && a != b && x->runs[a] == x->runs[b] && x->runs[a] >= 2;
}

/* One row of the t-test table per metric for settings a and b. */
static void write_ttests(FILE *f, const experiment *x, int a, int b)
{
    static const char *const names[4] = {"SNR (dB)", "# adversarial examples", "accuracy", "iterations (median)"};
    int runs = x->runs[a];
    double va[4][runs], vb[4][runs];
    for (int r = 0; r < runs; r++) {
        const run_stats *sa = &x->stats[a * x->max_runs + r], *sb = &x->stats[b * x->max_runs + r];
        va[0][r] = sa->snr_mean, vb[0][r] = sb->snr_mean;
        va[1][r] = (double)sa->n_adv, vb[1][r] = (double)sb->n_adv;
        va[2][r] = sa->accuracy, vb[2][r] = sb->accuracy;
        va[3][r] = sa->iter_median, vb[3][r] = sb->iter_median;
    }
    for (int m = 0; m < 4; m++) {
        adv_ttest t;
        char b1[32], b2[32], b3[32], b4[32], b5[32];
        int ok = adv_stat_paired_ttest(va[m], vb[m], (size_t)runs, &t) == 0;
        fprintf(f, "| %s vs %s | %s | %s | %s | %s | %s | %d | %s | %s |\n", x->settings[a].label, x->settings[b].label,
                names[m], fmt_num(b1, sizeof b1, adv_stat_mean(va[m], (size_t)runs), 3),
                fmt_num(b2, sizeof b2, adv_stat_mean(vb[m], (size_t)runs), 3), fmt_num(b3, sizeof b3, t.mean_diff, 3),
                isinf(t.t) ? (t.t > 0 ? "+inf" : "-inf") : fmt_num(b4, sizeof b4, t.t, 3), t.df,
                fmt_num(b5, sizeof b5, t.p, 4),
                !ok || isnan(t.p) ? "-" : (t.p < 0.05 ? "yes" : "no"));
    }
}

static void ttest_header(FILE *f, int df)
{
    fprintf(f, "Paired over runs (run r of both settings uses the same seeds); two-sided, judged at 5 %%");
    if (df > 0) fprintf(f, " (df %d: |t| > %.3f)", df, adv_stat_t_critical(df, 0.05));
    fprintf(f, ".\n\n| pair | metric | mean A | mean B | mean A - B | t | df | p | significant |\n"
               "|---|---|---|---|---|---|---|---|---|\n");
}

static void write_header(FILE *f, const experiment *x, const char *title)
{
    const adv_exp_config *c = x->cfg;
    fprintf(f, "# %s\n\n", title);
    fprintf(f, "Command:\n\n```\n%s\n```\n\n", c->command_line ? c->command_line : "(library call)");
    fprintf(f, "- model: `%s`\n", c->model_path ? adv_path_base(c->model_path) : "(in memory)");
    fprintf(f, "- data: `%s`, %s split, %ld clips%s\n", c->data_dir, c->split == ADV_SPLIT_VALID ? "valid" : "train",
            x->cs.count, c->max_clips > 0 ? " (limited by --max-clips)" : "");
    fprintf(f, "- runs: %d (seed %llu; FGSM and fixed targets are deterministic: 1 run)\n", c->runs,
            (unsigned long long)c->seed);
    fprintf(f, "- attacks on float samples; SNR over samples [2048, N - 2049) as the paper\n");
    fprintf(f, "- wall time: %.0f s\n\n", x->seconds);
}

/* One table row: our numbers of a setting. */
static void write_row_numbers(FILE *f, const summary *s)
{
    char b[5][64];
    fprintf(f, " %s | %s | %s | %s | %s |", fmt_ms(b[0], 64, s->adv[0], s->adv[1], s->runs, 1),
            fmt_ms(b[1], 64, s->acc[0], s->acc[1], s->runs, 3), fmt_ms(b[2], 64, s->snr[0], s->snr[1], s->runs, 2),
            fmt_ms(b[3], 64, s->iter[0], s->iter[1], s->runs, 1), fmt_ms(b[4], 64, s->conf[0], s->conf[1], s->runs, 2));
}

static void write_figures(FILE *f, const experiment *x)
{
    fprintf(f, "\n## Figures\n\nConfusion matrices: columns true classes, rows predictions (the adversarial "
               "example where one was found, else the original), each column normalised; pooled over runs. "
               "Histograms: SNR of the adversarial examples, pooled over runs.\n\n");
    fprintf(f, "![clean](confusion-clean.png)\n\n");
    for (int s = 0; s < x->n_settings; s++)
        fprintf(f, "### %s\n\n![confusion %s](confusion-%s.png) ![SNR %s](snr-%s.png)\n\n", x->settings[s].label,
                x->settings[s].label, x->slug[s], x->settings[s].label, x->slug[s]);
    if (x->e.noise_runs > 0) fprintf(f, "### white noise\n\n![confusion noise](confusion-noise.png)\n\n");
}

static void write_noise_line(FILE *f, const experiment *x, const char *why)
{
    char b1[64], b2[64], b3[64];
    if (x->e.noise_runs <= 0) {
        fprintf(f, "Not run: %s.\n\n", why);
        return;
    }
    fprintf(f, "Gaussian white noise scaled per clip to %.2f dB SNR (%s), %d run%s: accuracy %s, "
               "measured SNR %s dB, mean confidence %s.\n\n",
            x->e.noise_snr, why, x->noise_sum.runs, x->noise_sum.runs == 1 ? "" : "s",
            fmt_ms(b1, 64, x->noise_sum.acc[0], x->noise_sum.acc[1], x->noise_sum.runs, 3),
            fmt_num(b2, 64, x->noise_sum.snr[0], 2), fmt_num(b3, 64, x->noise_sum.conf[0], 2));
}

int adv_exp_write_report_grid(const experiment *x, const char *dir)
{
    const adv_exp_config *c = x->cfg;
    afile af;
    FILE *f = adv_exp_afile_open(&af, dir, "report.md");
    if (!f) return -1;
    char title[256], ptxt[256];
    if (c->mode == ADV_EXP_NOISE)
        snprintf(title, sizeof title, "White-noise baseline at %.2f dB SNR", c->noise_snr_db);
    else
        snprintf(title, sizeof title, "%s: grid of %d setting%s", adv_exp_method_title(x->settings[0].params.method),
                 x->n_settings, x->n_settings == 1 ? "" : "s");
    write_header(f, x, title);
    fprintf(f, "Clean: accuracy %.3f, mean confidence %.2f over %ld clips.\n\n", x->clean_acc, x->clean_conf, x->cs.count);
    if (c->mode == ADV_EXP_GRID) {
        fprintf(f, "## Settings\n\nMeans ± standard deviations over runs. Accuracy: against the true label, on the "
                   "adversarial example where one was found, else the original. SNR, iterations (the median of a "
                   "run) and confidence (of the adversarial example's class): over adversarial examples. A setting "
                   "meets the requirement with a mean of at least %ld adversarial examples%s.\n\n",
                x->require, c->require < 0 ? " (round(150/200 x clips))" : "");
        fprintf(f, "| setting | parameters | runs | # adv | accuracy | SNR dB | iterations (median) | confidence | "
                   ">= %ld |\n|---|---|---|---|---|---|---|---|---|\n", x->require);
        fprintf(f, "| clean | - | 1 | %ld | %.3f | - | - | %.2f | |\n", x->cs.count, x->clean_acc, x->clean_conf);
        for (int s = 0; s < x->n_settings; s++) {
            params_text(&x->settings[s].params, c->model, ptxt, sizeof ptxt);
            if (x->settings[s].params.target == ADV_TARGET_RANDOM) strncat(ptxt, ", random targets", sizeof ptxt - strlen(ptxt) - 1);
            fprintf(f, "| %s%s%s | %s | %d |", s == x->chosen ? "**" : "", x->settings[s].label, s == x->chosen ? "**" : "",
                    ptxt, x->runs[s]);
            write_row_numbers(f, &x->sum[s]);
            fprintf(f, " %s |\n", x->sum[s].meets ? "yes" : "no");
        }
        fprintf(f, "\n## Chosen setting\n\n");
        if (x->chosen >= 0) {
            const summary *s = &x->sum[x->chosen];
            params_text(&x->settings[x->chosen].params, c->model, ptxt, sizeof ptxt);
            fprintf(f, "**%s** (%s): the highest mean SNR, %.2f dB, among the settings finding at least %ld "
                       "adversarial examples (it finds %.1f of %ld; accuracy %.3f).\n\n",
                    x->settings[x->chosen].label, ptxt, s->snr[0], x->require, s->adv[0], x->cs.count, s->acc[0]);
        } else {
            fprintf(f, "None: no setting finds at least %ld adversarial examples on average.\n\n", x->require);
        }
        fprintf(f, "## White-noise baseline\n\n");
        write_noise_line(f, x, x->chosen >= 0 ? "the chosen setting's mean SNR" : "no setting was chosen");
        fprintf(f, "## Paired t-tests: the chosen setting against the others\n\n");
        int any = 0;
        for (int s = 0; s < x->n_settings; s++)
            if (pairable(x, x->chosen, s)) {
                if (!any) ttest_header(f, x->runs[s] - 1);
                write_ttests(f, x, x->chosen, s);
                any = 1;
            }
        if (!any) fprintf(f, "None (needs a chosen setting and others with the same number of runs, at least 2).\n");
        fprintf(f, "\nPer-run numbers: results.csv; per clip: clips.csv; per setting: summary.csv.\n");
    } else {
        fprintf(f, "## White-noise baseline\n\n");
        write_noise_line(f, x, "--snr");
        fprintf(f, "Per run: results.csv; per clip: clips.csv.\n");
    }
    write_figures(f, x);
    return adv_exp_afile_close(&af);
}

int adv_exp_find_setting(const experiment *x, const char *label)
{
    for (int s = 0; s < x->n_settings; s++)
        if (!strcmp(x->settings[s].label, label)) return s;
    return -1;
}

int adv_exp_write_report_table1(const experiment *x, const char *dir)
{
    const adv_exp_config *c = x->cfg;
    afile af;
    FILE *f = adv_exp_afile_open(&af, dir, "report.md");
    if (!f) return -1;
    char ptxt[256], b[5][64];
    write_header(f, x, "Table 1: end-to-end adversarial attacks on music instrument classification");
    fprintf(f, "Ours: means ± standard deviations over runs (FGSM and fixed targets: 1 run). Paper: its Table 1 "
               "and section 5.3 (200 validation clips, the paper's model). The \">=150\" and \">=180\" rows are the "
               "paper's chosen settings (presets); scaled to %ld clips they must find at least %ld and %ld "
               "adversarial examples (\"meets\").\n\n", x->cs.count, x->require, x->require180);
    fprintf(f, "| row | method | parameters | # adv | accuracy | SNR dB | iterations (median) | confidence | meets "
               "| paper # adv | paper accuracy | paper SNR dB | paper iterations | paper confidence |\n"
               "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    fprintf(f, "| clean | - | - | %ld | %.3f | - | - | %.2f | | 200 | %.3f | - | - | %.3f |\n", x->cs.count, x->clean_acc,
            x->clean_conf, PAPER_CLEAN_ACC, PAPER_CLEAN_CONF);
    for (int i = 0; i < ADV_EXP_TABLE1_ROWS; i++) {
        int s = adv_exp_find_setting(x, adv_exp_paper_rows[i].preset);
        if (s < 0) continue;
        const paper_row *p = &adv_exp_paper_rows[i];
        params_text(&x->settings[s].params, c->model, ptxt, sizeof ptxt);
        fprintf(f, "| %s | %s | %s |", p->row, p->method, ptxt);
        write_row_numbers(f, &x->sum[s]);
        long need = !strcmp(p->row, ">=150") ? x->require : !strcmp(p->row, ">=180") ? x->require180 : -1;
        fprintf(f, " %s | %s | %s | %s | %s | %s |\n", need < 0 ? "" : (x->sum[s].adv[0] >= need ? "yes" : "no"),
                fmt_num(b[0], 64, p->adv, 1), fmt_num(b[1], 64, p->acc, 3), fmt_num(b[2], 64, p->snr, 2),
                fmt_num(b[3], 64, p->iter, 1), fmt_num(b[4], 64, p->conf, 2));
        if (i == 7 && x->e.noise_runs > 0)
            fprintf(f, "| noise | white noise | SNR %.2f dB | - | %s | %s | - | %s | | - | %.2f | %.2f | - | - |\n",
                    x->e.noise_snr, fmt_ms(b[0], 64, x->noise_sum.acc[0], x->noise_sum.acc[1], x->noise_sum.runs, 3),
                    fmt_num(b[1], 64, x->noise_sum.snr[0], 2), fmt_num(b[2], 64, x->noise_sum.conf[0], 2),
                    PAPER_NOISE_ACC, PAPER_NOISE_SNR);
    }
    fprintf(f, "\nThe noise row adds Gaussian white noise scaled per clip to the pooled mean SNR of the adversarial "
               "examples of the four random-target rows (C&W and MS-C&W at both levels); the paper does not say how "
               "its 42.16 dB was averaged. The paper's accordion rows: C&W \"all but 4\", MS-C&W \"all but 7\" of "
               "200 clips (clips already predicted as accordion are not attacked here: see \"already\" below).\n\n");

    fprintf(f, "## Details\n\n| row | runs | failed | already the target | silent | attack time (s, all runs) |\n"
               "|---|---|---|---|---|---|\n");
    for (int s = 0; s < x->n_settings; s++) {
        long failed = 0, already = 0, silent = 0;
        for (int r = 0; r < x->runs[s]; r++) {
            const run_stats *st = &x->stats[s * x->max_runs + r];
            failed += st->n_failed, already += st->n_already, silent += st->n_silent;
        }
        fprintf(f, "| %s | %d | %.1f | %.1f | %.1f | %.0f |\n", x->settings[s].label, x->runs[s],
                (double)failed / x->runs[s], (double)already / x->runs[s], (double)silent / x->runs[s], x->sum[s].seconds);
    }

    fprintf(f, "\n## Paired t-tests\n\n");
    static const char *const pairs[][2] = {{"cw-150", "mscw-150"}, {"cw-180", "mscw-180"}, {"pgdn-150", "cw-150"},
                                           {"pgdn-150", "mscw-150"}, {"pgdn-180", "cw-180"}, {"pgdn-180", "mscw-180"}};
    int any = 0;
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        int a = adv_exp_find_setting(x, pairs[i][0]), bb = adv_exp_find_setting(x, pairs[i][1]);
        if (!pairable(x, a, bb)) continue;
        if (!any) ttest_header(f, x->runs[a] - 1);
        write_ttests(f, x, a, bb);
        any = 1;
    }
    if (!any) fprintf(f, "None: they need at least 2 runs (--runs).\n");
    fprintf(f, "\nThe paper compares C&W with MS-C&W at both levels (and finds C&W's SNR at >=180 significantly "
               "different from the three other methods).\n");
    write_figures(f, x);
    return adv_exp_afile_close(&af);
}
