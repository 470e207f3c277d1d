/* Standalone SVG charts that any browser shows, with no script and no external file: the
 * loss and accuracy curves of a run (one panel each, an axis with round ticks, a legend)
 * and a confusion matrix as a heat map (cells shaded by the share of their true class,
 * with the counts written in). */
#include "train.h"

#include <math.h>
#include <string.h>

static const char *const colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"};

/* Writes s with XML's special characters escaped. */
static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t') fputc(*s, f);
        }
    }
}

static void svg_begin(FILE *f, int w, int h, const char *title)
{
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n<title>", w, h, w, h);
    xml_text(f, title);
    fprintf(f, "</title>\n<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n"
               "<text x=\"%d\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">", w, h, w / 2);
    xml_text(f, title);
    fputs("</text>\n", f);
}

/* A step of 1, 2 or 5 times a power of ten giving about n ticks over [lo, hi]. */
static double nice_step(double lo, double hi, int n)
{
    double raw = (hi - lo) / n, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

/* One panel at (x0, y0) of size w x h: the series over epochs 1..n. */
static void panel(FILE *f, int x0, int y0, int w, int h, int n, const plot_series *s, int ns, const char *ylabel,
                  int percent)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < n; i++)
            if (isfinite(s[k].y[i])) lo = fmin(lo, s[k].y[i]), hi = fmax(hi, s[k].y[i]);
    if (!isfinite(lo)) lo = 0, hi = 1;
    if (hi - lo < 1e-9) lo -= 0.5, hi += 0.5;
    double step = nice_step(lo, hi, 5);
    lo = floor(lo / step) * step, hi = ceil(hi / step) * step;
    double scale = percent ? 100 : 1;
    fprintf(f, "<g class=\"panel\">\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
               "stroke=\"#888\"/>\n", x0, y0, w, h);
    for (double v = lo; v <= hi + step / 2; v += step) {
        double y = y0 + h - (v - lo) / (hi - lo) * h;
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>"
                   "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>\n",
                x0 + 1, y, x0 + w - 1, y, x0 - 4, y + 4, v * scale);
    }
    int xstep = n <= 10 ? 1 : (int)nice_step(1, n, 8);
    if (xstep < 1) xstep = 1;
    for (int e = 1; e <= n; e += xstep) {
        double x = n > 1 ? x0 + (double)(e - 1) / (n - 1) * w : x0 + w / 2.0;
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>\n", x, y0 + h + 16, e);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">epoch</text>\n", x0 + w / 2, y0 + h + 32);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 %d %d)\">%s</text>\n",
            x0 - 46, y0 + h / 2, x0 - 46, y0 + h / 2, ylabel);
    int legend = 0;
    for (int k = 0; k < ns; k++) {
        int any = 0;
        for (int i = 0; i < n; i++) any |= isfinite(s[k].y[i]);
        if (!any) continue;
        const char *col = colors[s[k].color % 5];
        fprintf(f, "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", col);
        for (int i = 0; i < n; i++) {
            if (!isfinite(s[k].y[i])) continue;
            double x = n > 1 ? x0 + (double)i / (n - 1) * w : x0 + w / 2.0;
            fprintf(f, "%.1f,%.1f ", x, y0 + h - (s[k].y[i] - lo) / (hi - lo) * h);
        }
        fputs("\"/>\n", f);
        for (int i = 0; i < n; i++) {
            if (!isfinite(s[k].y[i])) continue;
            double x = n > 1 ? x0 + (double)i / (n - 1) * w : x0 + w / 2.0;
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n", x,
                    y0 + h - (s[k].y[i] - lo) / (hi - lo) * h, col);
        }
        /* The legend under the panel, one entry per line. */
        int ly = y0 + h + 50 + 16 * legend++;
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>"
                   "<text x=\"%d\" y=\"%d\">%s</text>\n", x0, ly, x0 + 20, ly, col, x0 + 26, ly + 4, s[k].name);
    }
    fputs("</g>\n", f);
}

int plot_curves(const char *path, int n, const plot_series *loss, int n_loss, const plot_series *acc, int n_acc,
                const char *title)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int panels = n_acc > 0 ? 2 : 1, pw = 380, ph = 260, W = 80 + panels * (pw + 80), H = 420;
    if (W < (int)strlen(title) * 7 + 40) W = (int)strlen(title) * 7 + 40;
    svg_begin(f, W, H, title);
    panel(f, 80, 50, pw, ph, n, loss, n_loss, "loss", 0);
    if (n_acc) panel(f, 80 + pw + 80, 50, pw, ph, n, acc, n_acc, "accuracy (%)", 1);
    fputs("</svg>\n", f);
    return fclose(f) == 0 ? 0 : -1;
}

int plot_confusion(const char *path, const data_desc *d, const train_metrics *m, const char *title)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int nc = m->n_classes, cell = nc <= 10 ? 44 : nc <= 30 ? 22 : 10, left = 110, top = 70;
    int W = left + nc * cell + 40, H = top + nc * cell + 60;
    if (W < 420) W = 420;
    if (W < (int)strlen(title) * 7 + 40) W = (int)strlen(title) * 7 + 40;
    svg_begin(f, W, H, title);
    char name[64];
    for (int k = 0; k < nc; k++) {
        int64_t row = 0;
        for (int j = 0; j < nc; j++) row += m->confusion[(int64_t)k * nc + j];
        if (k < d->n_class_names) snprintf(name, sizeof name, "%s", d->class_names[k]);
        else snprintf(name, sizeof name, "%d", k);
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 6, top + k * cell + cell / 2 + 4);
        xml_text(f, name);
        fputs("</text>\n", f);
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"10\">", left + k * cell + cell / 2,
                top - 6);
        xml_text(f, name);
        fputs("</text>\n", f);
        for (int j = 0; j < nc; j++) {
            int64_t v = m->confusion[(int64_t)k * nc + j];
            double share = row ? (double)v / (double)row : 0;
            int shade = (int)(255 - 200 * share);
            fprintf(f, "<rect class=\"cell\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"rgb(%d,%d,255)\" "
                       "stroke=\"#fff\"><title>true %d, predicted %d: %lld</title></rect>\n",
                    left + j * cell, top + k * cell, cell, cell, shade, shade, k, j, (long long)v);
            if (cell >= 22 && v)
                fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"%d\" fill=\"%s\">%lld</text>\n",
                        left + j * cell + cell / 2, top + k * cell + cell / 2 + 4, cell >= 44 ? 11 : 8,
                        share > 0.5 ? "white" : "black", (long long)v);
        }
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">predicted class</text>\n", left + nc * cell / 2,
            top - 24);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 %d %d)\">true class</text>\n",
            20, top + nc * cell / 2, 20, top + nc * cell / 2);
    fprintf(f, "<text x=\"%d\" y=\"%d\">cells shaded by the share of the true class (row)</text>\n", left,
            top + nc * cell + 24);
    fputs("</svg>\n", f);
    return fclose(f) == 0 ? 0 : -1;
}
