/* The experiment's data files and figures: results.csv, summary.csv, clips.csv, confusion
 * matrices and SNR histograms (PNG, cairo). */
#include "experiment_internal.h"
#include "advinst/error.h"
#include "advinst/nn.h"
#include "advinst/plot.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Adds a prediction with its confidence to the tallies (logits with exactly that softmax). */
static void eval_add_prediction(adv_eval *ev, int truth, int cls, float conf)
{
    float logits[ADV_N_CLASSES];
    double rest = (1.0 - conf) / (ADV_N_CLASSES - 1);
    for (int k = 0; k < ADV_N_CLASSES; k++) logits[k] = (float)log(rest > 1e-30 ? rest : 1e-30);
    logits[cls] = (float)log(conf > 1e-30 ? conf : 1e-30);
    adv_eval_add(ev, truth, logits);
}

/* Histogram of SNRs (dB) as a PNG, written atomically. */
static int write_histogram(const double *v, long n, const char *title, const char *path)
{
    const int W = 640, H = 400, left = 60, right = 20, top = 50, bottom = 50;
    double lo = INFINITY, hi = -INFINITY, mean = 0;
    for (long i = 0; i < n; i++) {
        if (v[i] < lo) lo = v[i];
        if (v[i] > hi) hi = v[i];
        mean += v[i];
    }
    if (n) mean /= (double)n;
    static const double widths[] = {0.5, 1, 2, 5, 10, 20, 50};
    double bw = 50;
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
        double a = floor(lo / widths[i]) * widths[i], b = floor(hi / widths[i]) * widths[i] + widths[i];
        if (n == 0 || (b - a) / widths[i] <= 40) { bw = widths[i]; break; }
    }
    double x0 = n ? floor(lo / bw) * bw : 0, x1 = n ? floor(hi / bw) * bw + bw : 10;
    int bins = (int)lround((x1 - x0) / bw);
    if (bins < 1) bins = 1;
    long counts[64] = {0}, cmax = 1;
    for (long i = 0; i < n; i++) {
        int b = (int)floor((v[i] - x0) / bw);
        if (b < 0) b = 0;
        if (b >= bins) b = bins - 1;
        if (++counts[b] > cmax) cmax = counts[b];
    }

    cairo_surface_t *s;
    cairo_t *cr = adv_plot_begin(W, H, &s);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_font_size(cr, 15);
    cairo_move_to(cr, 10, 24);
    cairo_show_text(cr, title);
    cairo_set_font_size(cr, 11);
    char txt[128];
    if (n) snprintf(txt, sizeof txt, "%ld adversarial examples, mean %.2f dB (red), bins of %g dB", n, mean, bw);
    else snprintf(txt, sizeof txt, "no adversarial examples");
    cairo_move_to(cr, 10, 40);
    cairo_show_text(cr, txt);

    const double pw = W - left - right, ph = H - top - bottom, ymax = 1.1 * (double)cmax;
    cairo_set_source_rgb(cr, 0.25, 0.45, 0.75);
    for (int b = 0; b < bins; b++) {
        double h = ph * (double)counts[b] / ymax;
        cairo_rectangle(cr, left + pw * b / bins + 1, top + ph - h, pw / bins - 2, h);
    }
    cairo_fill(cr);
    if (n) {
        cairo_set_source_rgb(cr, 0.85, 0.1, 0.1);
        cairo_set_line_width(cr, 2);
        double xm = left + pw * (mean - x0) / (x1 - x0);
        cairo_move_to(cr, xm, top);
        cairo_line_to(cr, xm, top + ph);
        cairo_stroke(cr);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_move_to(cr, left, top);
    cairo_line_to(cr, left, top + ph);
    cairo_line_to(cr, left + pw, top + ph);
    cairo_stroke(cr);
    int step = bins > 10 ? (bins + 9) / 10 : 1;
    for (int b = 0; b <= bins; b += step) {
        snprintf(txt, sizeof txt, "%g", x0 + b * bw);
        cairo_text_extents_t ex;
        cairo_text_extents(cr, txt, &ex);
        cairo_move_to(cr, left + pw * b / bins - ex.width / 2, top + ph + 16);
        cairo_show_text(cr, txt);
    }
    cairo_move_to(cr, left + pw / 2 - 20, H - 12);
    cairo_show_text(cr, "SNR (dB)");
    long ystep = cmax > 10 ? (cmax + 4) / 5 : 1;
    for (long y = 0; y <= cmax; y += ystep) {
        snprintf(txt, sizeof txt, "%ld", y);
        cairo_text_extents_t ex;
        cairo_text_extents(cr, txt, &ex);
        cairo_move_to(cr, left - ex.width - 6, top + ph - ph * (double)y / ymax + ex.height / 2);
        cairo_show_text(cr, txt);
    }
    cairo_destroy(cr);
    return adv_png_write(s, path);
}

/* A CSV text field, quoted when it holds a comma, quote or newline. */
static void csv_text(FILE *f, const char *t)
{
    if (!strpbrk(t, ",\"\n")) {
        fputs(t, f);
        return;
    }
    fputc('"', f);
    for (; *t; t++) {
        if (*t == '"') fputc('"', f);
        fputc(*t, f);
    }
    fputc('"', f);
}

/* CSV number: %.6g, empty for NaN, "inf" for infinity. */
static void csv_num(FILE *f, double v)
{
    if (isnan(v)) fputc(',', f);
    else if (isinf(v)) fprintf(f, ",%s", v > 0 ? "inf" : "-inf");
    else fprintf(f, ",%.6g", v);
}

int adv_exp_write_csvs(const experiment *x, const char *dir)
{
    const adv_model *m = x->cfg->model;
    afile af;
    FILE *f = adv_exp_afile_open(&af, dir, "results.csv");
    if (!f) return -1;
    fprintf(f, "setting,method,eps,alpha,lr,max_iter,target,run,clips,adversarial,failed,already,silent,accuracy,"
               "snr_mean_db,snr_std_db,iterations_median,confidence_mean\n");
    fprintf(f, "clean,,,,,,,1,%ld,,,,,%.6g,,,,%.6g\n", x->cs.count, x->clean_acc, x->clean_conf);
    for (int s = 0; s < x->n_settings; s++) {
        const adv_attack_params *p = &x->settings[s].params;
        for (int r = 0; r < x->runs[s]; r++) {
            const run_stats *st = &x->stats[s * x->max_runs + r];
            csv_text(f, x->settings[s].label);
            fprintf(f, ",%s,%g,%g,%g,%ld,%s,%d,%ld,%ld,%ld,%ld,%ld", adv_attack_method_name(p->method),
                    p->eps, p->alpha, p->lr, p->max_iter, adv_exp_target_name(m, p->target), r + 1, st->clips, st->n_adv,
                    st->n_failed, st->n_already, st->n_silent);
            csv_num(f, st->accuracy);
            csv_num(f, st->snr_mean);
            csv_num(f, st->snr_std);
            csv_num(f, st->iter_median);
            csv_num(f, st->confidence);
            fputc('\n', f);
        }
    }
    for (int r = 0; r < x->e.noise_runs; r++) {
        const run_stats *st = &x->noise_stats[r];
        fprintf(f, "noise,noise,,,,,,%d,%ld,,,,%ld", r + 1, st->clips, st->n_silent);
        csv_num(f, st->accuracy);
        csv_num(f, st->snr_mean);
        csv_num(f, st->snr_std);
        fputc(',', f);
        csv_num(f, st->confidence);
        fputc('\n', f);
    }
    if (adv_exp_afile_close(&af) != 0) return -1;

    if (!(f = adv_exp_afile_open(&af, dir, "summary.csv"))) return -1;
    fprintf(f, "setting,method,eps,alpha,lr,max_iter,target,runs,adversarial_mean,adversarial_std,accuracy_mean,"
               "accuracy_std,snr_mean_db,snr_mean_db_std,iterations_median_mean,iterations_median_std,confidence_mean,"
               "confidence_std,seconds,meets_requirement,chosen\n");
    for (int s = 0; s < x->n_settings; s++) {
        const adv_attack_params *p = &x->settings[s].params;
        const summary *su = &x->sum[s];
        csv_text(f, x->settings[s].label);
        fprintf(f, ",%s,%g,%g,%g,%ld,%s,%d", adv_attack_method_name(p->method), p->eps, p->alpha,
                p->lr, p->max_iter, adv_exp_target_name(m, p->target), su->runs);
        const double *v[5] = {su->adv, su->acc, su->snr, su->iter, su->conf};
        for (int k = 0; k < 5; k++) { csv_num(f, v[k][0]); csv_num(f, v[k][1]); }
        fprintf(f, ",%.1f,%d,%d\n", su->seconds, su->meets, s == x->chosen);
    }
    if (adv_exp_afile_close(&af) != 0) return -1;

    if (!(f = adv_exp_afile_open(&af, dir, "clips.csv"))) return -1;
    fprintf(f, "setting,run,file,true_label,original_prediction,original_confidence,target,status,iterations,snr_db,"
               "after_prediction,after_confidence,seconds\n");
    for (int s = 0; s < x->n_settings; s++)
        for (int r = 0; r < x->runs[s]; r++)
            for (long c = 0; c < x->cs.count; c++) {
                const clip_result *cr = adv_exp_res_at(&x->e, s, r, c);
                csv_text(f, x->settings[s].label);
                fprintf(f, ",%d,", r + 1);
                csv_text(f, x->cs.name[c]);
                fprintf(f, ",%s,%s,%.6g,%s,%s,%ld",
                        m->classes[x->cs.label[c]], m->classes[cr->before_class], cr->before_confidence,
                        adv_exp_target_name(m, cr->target), adv_attack_status_name(cr->status), cr->iterations);
                csv_num(f, cr->snr_db);
                fprintf(f, ",%s,%.6g,%.3f\n", m->classes[cr->after_class], cr->after_confidence, cr->seconds);
            }
    for (int r = 0; r < x->e.noise_runs; r++)
        for (long c = 0; c < x->cs.count; c++) {
            const clip_result *cr = &x->e.noise[(size_t)r * x->cs.count + c];
            fprintf(f, "noise,%d,", r + 1);
            csv_text(f, x->cs.name[c]);
            fprintf(f, ",%s,%s,%.6g,,%s,0", m->classes[x->cs.label[c]],
                    m->classes[cr->before_class], cr->before_confidence,
                    cr->status == ADV_ATTACK_SILENT ? "silent" : "noise");
            csv_num(f, cr->snr_db);
            fprintf(f, ",%s,%.6g,0\n", m->classes[cr->after_class], cr->after_confidence);
        }
    return adv_exp_afile_close(&af);
}

int adv_exp_write_figure_files(const experiment *x, const char *dir)
{
    const adv_model *m = x->cfg->model;
    char path[4200], title[256];
    adv_eval ev;
    memset(&ev, 0, sizeof ev);
    for (long c = 0; c < x->cs.count; c++) eval_add_prediction(&ev, x->cs.label[c], x->e.clean_pred[c], x->e.clean_conf[c]);
    adv_eval_finish(&ev);
    snprintf(path, sizeof path, "%s/confusion-clean.png", dir);
    snprintf(title, sizeof title, "clean: accuracy %.3f", ev.accuracy);
    if (adv_eval_write_confusion_png(&ev, m, title, path) != 0) return -1;
    double *snr = malloc(sizeof *snr * (size_t)x->cs.count * (size_t)(x->max_runs > 0 ? x->max_runs : 1));
    if (!snr) return adv_fail("out of memory");
    for (int s = 0; s < x->n_settings; s++) {
        long k = 0;
        memset(&ev, 0, sizeof ev);
        for (int r = 0; r < x->runs[s]; r++)
            for (long c = 0; c < x->cs.count; c++) {
                const clip_result *cr = adv_exp_res_at(&x->e, s, r, c);
                if (cr->success) {
                    snr[k++] = cr->snr_db;
                    eval_add_prediction(&ev, x->cs.label[c], cr->after_class, cr->after_confidence);
                } else {
                    eval_add_prediction(&ev, x->cs.label[c], cr->before_class, cr->before_confidence);
                }
            }
        adv_eval_finish(&ev);
        snprintf(path, sizeof path, "%s/confusion-%s.png", dir, x->slug[s]);
        snprintf(title, sizeof title, "%s: after the attack (%d run%s), accuracy %.3f", x->settings[s].label, x->runs[s],
                 x->runs[s] == 1 ? "" : "s", ev.accuracy);
        if (adv_eval_write_confusion_png(&ev, m, title, path) != 0) { free(snr); return -1; }
        snprintf(path, sizeof path, "%s/snr-%s.png", dir, x->slug[s]);
        snprintf(title, sizeof title, "%s: SNR of the adversarial examples", x->settings[s].label);
        if (write_histogram(snr, k, title, path) != 0) { free(snr); return -1; }
    }
    free(snr);
    if (x->e.noise_runs > 0) {
        memset(&ev, 0, sizeof ev);
        for (int r = 0; r < x->e.noise_runs; r++)
            for (long c = 0; c < x->cs.count; c++) {
                const clip_result *cr = &x->e.noise[(size_t)r * x->cs.count + c];
                eval_add_prediction(&ev, x->cs.label[c], cr->after_class, cr->after_confidence);
            }
        adv_eval_finish(&ev);
        snprintf(path, sizeof path, "%s/confusion-noise.png", dir);
        snprintf(title, sizeof title, "white noise at %.2f dB SNR: accuracy %.3f", x->e.noise_snr, ev.accuracy);
        if (adv_eval_write_confusion_png(&ev, m, title, path) != 0) return -1;
    }
    return 0;
}
