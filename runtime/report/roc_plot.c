/* The ROC picture of evaluate: every class's one-vs-rest curve on one pair of axes. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sinter/report.h"

static const snt_rgb WHITE = {255, 255, 255}, INK = {34, 34, 34}, GRID = {229, 229, 229},
                     FRAME = {110, 110, 110}, CHANCE = {170, 170, 170};

/* The legend lists at most MAX_ROWS classes (then how many more): the picture stays bounded. */
enum { SIDE = 440, LEFT = 90, TOP = 70, SCALE = 2, ROW = 26, SWATCH = 28, MAX_NAME = 40, MAX_ROWS = 40 };

/* matplotlib's tab10, the colours of its successive lines. */
static snt_rgb colour(int k) {
  static const snt_rgb tab10[10] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
                                    {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  return tab10[k % 10];
}

static double px_x(double v) { return LEFT + v * SIDE; }
static double px_y(double v) { return TOP + (1 - v) * SIDE; }

/* "NAME (AUC 0.8125)", the name cut at MAX_NAME bytes (labels are untrusted and unbounded). */
static void legend_text(const char *const *labels, const snt_roc *r, int k, char *buf, size_t size) {
  char name[MAX_NAME + 4];
  if (labels && labels[k]) snprintf(name, sizeof name, "%.*s%s", MAX_NAME, labels[k], strlen(labels[k]) > MAX_NAME ? "..." : "");
  else snprintf(name, sizeof name, "%d", k);
  if (isnan(r->auc)) snprintf(buf, size, "%s (AUC n/a)", name);
  else snprintf(buf, size, "%s (AUC %.4f)", name, r->auc);
}

static void draw_axes(snt_canvas *c) {
  char buf[16];
  for (int i = 0; i <= 5; i++) {
    double v = i / 5.0;
    int x = (int)lround(px_x(v)), y = (int)lround(px_y(v));
    snt_canvas_fill_rect(c, LEFT, y, SIDE, 1, GRID);
    snt_canvas_fill_rect(c, x, TOP, 1, SIDE, GRID);
    snprintf(buf, sizeof buf, "%.1f", v);
    snt_canvas_text(c, LEFT - 10 - snt_text_width(buf, SCALE), y - 7, SCALE, INK, buf);
    snt_canvas_text(c, x - snt_text_width(buf, SCALE) / 2, TOP + SIDE + 12, SCALE, INK, buf);
  }
  /* The chance line, dashed so it does not read as a class. */
  for (int i = 0; i < 40; i += 2)
    snt_canvas_line(c, px_x(i / 40.0), px_y(i / 40.0), px_x((i + 1) / 40.0), px_y((i + 1) / 40.0), 1.5, CHANCE);
  snt_canvas_rect(c, LEFT, TOP, SIDE + 1, SIDE + 1, 1, FRAME);
  const char *xl = "false positive rate (1 - specificity)";
  snt_canvas_text(c, LEFT + SIDE / 2 - snt_text_width(xl, SCALE) / 2, TOP + SIDE + 40, SCALE, INK, xl);
  snt_canvas_text(c, LEFT - 60, TOP - 26, SCALE, INK, "true positive rate (sensitivity)");
}

static void draw_curve(snt_canvas *c, const snt_roc *r, snt_rgb col) {
  for (int i = 0; i + 1 < r->n; i++)
    snt_canvas_line(c, px_x(r->fpr[i]), px_y(r->tpr[i]), px_x(r->fpr[i + 1]), px_y(r->tpr[i + 1]), 2.5, col);
}

static int legend_width(int n, const char *const *labels, const snt_roc *rocs) {
  char buf[128];
  int w = 0;
  for (int k = 0; k < n && k < MAX_ROWS; k++) {
    legend_text(labels, &rocs[k], k, buf, sizeof buf);
    if (snt_text_width(buf, SCALE) > w) w = snt_text_width(buf, SCALE);
  }
  snprintf(buf, sizeof buf, "... and %d more", n - MAX_ROWS);
  if (n > MAX_ROWS && snt_text_width(buf, SCALE) > w) w = snt_text_width(buf, SCALE);
  return SWATCH + 8 + w;
}

snt_status snt_plot_roc(const char *path, int n_classes, const char *const *labels, const snt_roc *rocs, snt_err *e) {
  if (n_classes < 1 || !rocs)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: ROC curves of %d classes cannot be plotted", path, n_classes);
  int lx = LEFT + SIDE + 30, lw = legend_width(n_classes, labels, rocs);
  int rows = n_classes < MAX_ROWS ? n_classes : MAX_ROWS + 1;
  int height = TOP + SIDE + 80, rows_h = TOP + rows * ROW + 20;
  snt_canvas c;
  snt_status st = snt_canvas_init(&c, lx + lw + 24, height > rows_h ? height : rows_h, WHITE, e);
  if (st != SNT_OK) return st;
  const char *title = "ROC curves (one class vs the rest)";
  snt_canvas_text(&c, (c.width - snt_text_width(title, 3)) / 2, 12, 3, INK, title);
  draw_axes(&c);
  char buf[128];
  for (int k = 0; k < n_classes; k++) {
    if (!isnan(rocs[k].auc)) draw_curve(&c, &rocs[k], colour(k));
    int y = TOP + k * ROW;
    if (k >= MAX_ROWS) continue;
    if (!isnan(rocs[k].auc)) snt_canvas_line(&c, lx, y + 7, lx + SWATCH, y + 7, 3, colour(k));
    legend_text(labels, &rocs[k], k, buf, sizeof buf);
    snt_canvas_text(&c, lx + SWATCH + 8, y, SCALE, INK, buf);
  }
  if (n_classes > MAX_ROWS) {
    snprintf(buf, sizeof buf, "... and %d more", n_classes - MAX_ROWS);
    snt_canvas_text(&c, lx + SWATCH + 8, TOP + MAX_ROWS * ROW, SCALE, INK, buf);
  }
  st = snt_canvas_write_png(&c, path, e);
  snt_canvas_free(&c);
  return st;
}
