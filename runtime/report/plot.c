/* The notebook's pictures: training curves, the confusion matrix as a heat map and a contact
 * sheet of samples, drawn on an snt_canvas and written as PNG. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sinter/report.h"

static const snt_rgb WHITE = {255, 255, 255}, INK = {34, 34, 34}, GRID = {229, 229, 229},
                     FRAME = {110, 110, 110}, EMPTY_TILE = {236, 236, 236};
/* matplotlib's first two default colours (tab:blue, tab:orange). */
static const snt_rgb TRAIN = {31, 119, 180}, VALID = {255, 127, 14};

static void text_centred(snt_canvas *c, int cx, int y, int scale, snt_rgb col, const char *s) {
  snt_canvas_text(c, cx - snt_text_width(s, scale) / 2, y, scale, col, s);
}

static void text_right(snt_canvas *c, int right, int y, int scale, snt_rgb col, const char *s) {
  snt_canvas_text(c, right - snt_text_width(s, scale), y, scale, col, s);
}

/* Caps height of the font: what "vertically centred" centres. */
static int caps_height(int scale) { return 7 * scale; }

/* ---- training curves ----------------------------------------------------------------- */

enum { PANEL_W = 640, PANEL_H = 480, TICK_SCALE = 2, TITLE_SCALE = 3, INSET = 12 };

/* Tick positions lo, lo + step, ... hi, printed with `decimals` digits. */
typedef struct axis {
  double lo, hi, step;
  int decimals;
} axis;

/* A step of 1, 2 or 5 times a power of ten giving about `target` intervals over span. */
static double nice_step(double span, int target) {
  double raw = span / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

static axis value_axis(double lo, double hi) {
  if (!(lo <= hi)) lo = 0, hi = 1; /* no finite value at all */
  if (hi - lo < 1e-12 * fmax(1, fabs(hi))) {
    double pad = lo != 0 ? fabs(lo) * 0.1 : 0.5;
    lo -= pad, hi += pad;
  }
  axis a = {.step = nice_step(hi - lo, 5)};
  a.lo = floor(lo / a.step + 1e-9) * a.step;
  a.hi = ceil(hi / a.step - 1e-9) * a.step;
  a.decimals = a.step >= 1 ? 0 : (int)ceil(-log10(a.step) - 1e-9);
  return a;
}

/* Epochs 1..n with whole-number ticks, about eight of them; one epoch sits in the middle. */
static axis epoch_axis(int n) {
  axis a = {.lo = n > 1 ? 1 : 0.5, .hi = n > 1 ? n : 1.5, .decimals = 0};
  a.step = n > 1 ? fmax(1, round(nice_step(n - 1, 8))) : 1;
  return a;
}

static int tick_count(const axis *a) { return (int)floor((a->hi - a->lo) / a->step + 1e-6) + 1; }

static void tick_label(const axis *a, int k, char buf[32]) {
  double v = a->lo + k * a->step;
  if (fabs(v) < a->step * 1e-6) v = 0; /* no "-0.00" */
  snprintf(buf, 32, "%.*f", a->decimals, v);
}

/* The plot area of a panel and the data ranges mapped onto it (inset a little from the frame
 * so points on the range's ends stay visible). */
typedef struct panel {
  int left, top, right, bottom;
  axis x, y;
} panel;

static double map_x(const panel *p, double v) {
  return p->left + INSET + (v - p->x.lo) / (p->x.hi - p->x.lo) * (p->right - p->left - 2 * INSET);
}

static double map_y(const panel *p, double v) {
  return p->bottom - INSET - (v - p->y.lo) / (p->y.hi - p->y.lo) * (p->bottom - p->top - 2 * INSET);
}

typedef struct series {
  const double *v; /* n values or NULL */
  snt_rgb col;
  const char *name;
} series;

static int present(const series *s, int i) { return s->v && isfinite(s->v[i]); }

static void y_range(const series s[2], int n, double *lo, double *hi) {
  *lo = INFINITY, *hi = -INFINITY;
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < n; i++)
      if (present(&s[k], i)) *lo = fmin(*lo, s[k].v[i]), *hi = fmax(*hi, s[k].v[i]);
}

static void draw_grid(snt_canvas *c, const panel *p) {
  char buf[32];
  const int th = caps_height(TICK_SCALE);
  for (int k = 0; k < tick_count(&p->y); k++) {
    int y = (int)lround(map_y(p, p->y.lo + k * p->y.step));
    snt_canvas_fill_rect(c, p->left, y, p->right - p->left, 1, GRID);
    snt_canvas_fill_rect(c, p->left - 6, y, 6, 1, FRAME);
    tick_label(&p->y, k, buf);
    text_right(c, p->left - 10, y - th / 2, TICK_SCALE, INK, buf);
  }
  /* Epoch ticks at 1, where the run starts, then at multiples of the step. */
  for (double v = 1; v <= p->x.hi + 1e-9; v = v == 1 && p->x.step > 1 ? p->x.step : v + p->x.step) {
    if (v != 1 && v - 1 < p->x.step / 2) continue;
    int x = (int)lround(map_x(p, v));
    snt_canvas_fill_rect(c, x, p->top, 1, p->bottom - p->top, GRID);
    snt_canvas_fill_rect(c, x, p->bottom, 1, 6, FRAME);
    snprintf(buf, sizeof buf, "%.0f", v);
    text_centred(c, x, p->bottom + 12, TICK_SCALE, INK, buf);
  }
  snt_canvas_rect(c, p->left, p->top, p->right - p->left + 1, p->bottom - p->top + 1, 1, FRAME);
}

/* Lines between consecutive present epochs; a dot on every point when they are few enough
 * to tell apart, and always on a point with no neighbour (it would not show otherwise). */
static void draw_series(snt_canvas *c, const panel *p, const series *s, int n) {
  for (int i = 0; i + 1 < n; i++)
    if (present(s, i) && present(s, i + 1))
      snt_canvas_line(c, map_x(p, i + 1), map_y(p, s->v[i]), map_x(p, i + 2), map_y(p, s->v[i + 1]), 2.5, s->col);
  for (int i = 0; i < n; i++) {
    if (!present(s, i)) continue;
    int alone = !(i > 0 && present(s, i - 1)) && !(i + 1 < n && present(s, i + 1));
    if (n <= 40 || alone) {
      double x = map_x(p, i + 1), y = map_y(p, s->v[i]);
      snt_canvas_line(c, x, y, x, y, 7, s->col);
    }
  }
}

enum { LEGEND_ROW = 26, LEGEND_PAD = 10, LEGEND_SWATCH = 28 };

static int legend_w(void) { return 2 * LEGEND_PAD + LEGEND_SWATCH + 8 + snt_text_width("validation", TICK_SCALE); }
static int legend_h(int rows) { return 2 * LEGEND_PAD + rows * LEGEND_ROW - 8; }

/* How many points (and segment midpoints) of the series a legend at (x, y) would cover. */
static int legend_cover(const panel *p, const series s[2], int n, int x, int y, int rows) {
  int hits = 0;
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < n; i++) {
      if (!present(&s[k], i)) continue;
      double px = map_x(p, i + 1), py = map_y(p, s[k].v[i]);
      hits += px >= x - 6 && px <= x + legend_w() + 6 && py >= y - 6 && py <= y + legend_h(rows) + 6;
      if (i + 1 < n && present(&s[k], i + 1)) {
        double mx = map_x(p, i + 1.5), my = (py + map_y(p, s[k].v[i + 1])) / 2;
        hits += mx >= x - 6 && mx <= x + legend_w() + 6 && my >= y - 6 && my <= y + legend_h(rows) + 6;
      }
    }
  return hits;
}

static int any_present(const series *s, int n) {
  for (int i = 0; i < n; i++)
    if (present(s, i)) return 1;
  return 0;
}

/* The legend lists the series that have values, in the corner of the plot area it hides
 * least of, top right first. */
static void draw_legend(snt_canvas *c, const panel *p, const series s[2], int n) {
  int rows = any_present(&s[0], n) + any_present(&s[1], n);
  if (rows == 0) return;
  const int m = 10, xs[2] = {p->right - m - legend_w(), p->left + m},
            ys[2] = {p->top + m, p->bottom - m - legend_h(rows)};
  int best_x = xs[0], best_y = ys[0], best = -1;
  for (int cx = 0; cx < 2; cx++)
    for (int cy = 0; cy < 2; cy++) {
      int hits = legend_cover(p, s, n, xs[cx], ys[cy], rows);
      if (best < 0 || hits < best) best = hits, best_x = xs[cx], best_y = ys[cy];
    }
  snt_canvas_fill_rect(c, best_x, best_y, legend_w(), legend_h(rows), WHITE);
  snt_canvas_rect(c, best_x, best_y, legend_w(), legend_h(rows), 1, (snt_rgb){200, 200, 200});
  int y = best_y + LEGEND_PAD;
  for (int k = 0; k < 2; k++) {
    if (!any_present(&s[k], n)) continue;
    int mid = y + caps_height(TICK_SCALE) / 2;
    snt_canvas_line(c, best_x + LEGEND_PAD, mid, best_x + LEGEND_PAD + LEGEND_SWATCH, mid, 3, s[k].col);
    snt_canvas_text(c, best_x + LEGEND_PAD + LEGEND_SWATCH + 8, y, TICK_SCALE, INK, s[k].name);
    y += LEGEND_ROW;
  }
}

static void draw_panel(snt_canvas *c, int ox, const char *title, int n, const series s[2]) {
  double lo, hi;
  y_range(s, n, &lo, &hi);
  panel p = {.x = epoch_axis(n), .y = value_axis(lo, hi)};
  int label_w = 0;
  char buf[32];
  for (int k = 0; k < tick_count(&p.y); k++) {
    tick_label(&p.y, k, buf);
    if (snt_text_width(buf, TICK_SCALE) > label_w) label_w = snt_text_width(buf, TICK_SCALE);
  }
  p.left = ox + 24 + label_w + 10;
  p.right = ox + PANEL_W - 28;
  p.top = 70;
  p.bottom = PANEL_H - 76;
  text_centred(c, (p.left + p.right) / 2, 24, TITLE_SCALE, INK, title);
  draw_grid(c, &p);
  for (int k = 0; k < 2; k++) draw_series(c, &p, &s[k], n);
  draw_legend(c, &p, s, n);
  text_centred(c, (p.left + p.right) / 2, p.bottom + 44, TICK_SCALE, INK, "epoch");
}

snt_status snt_plot_history(const char *path, int n_epochs, const double *train_loss, const double *val_loss,
                            const double *train_acc, const double *val_acc, snt_err *e) {
  if (n_epochs < 1 || n_epochs > 1000000)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: a history of %d epochs cannot be plotted", path, n_epochs);
  snt_canvas c;
  snt_status st = snt_canvas_init(&c, 2 * PANEL_W, PANEL_H, WHITE, e);
  if (st != SNT_OK) return st;
  const series loss[2] = {{train_loss, TRAIN, "train"}, {val_loss, VALID, "validation"}};
  const series acc[2] = {{train_acc, TRAIN, "train"}, {val_acc, VALID, "validation"}};
  draw_panel(&c, 0, "Loss", n_epochs, loss);
  draw_panel(&c, PANEL_W, "Accuracy", n_epochs, acc);
  st = snt_canvas_write_png(&c, path, e);
  snt_canvas_free(&c);
  return st;
}

/* ---- confusion heat map -------------------------------------------------------------- */

/* ColorBrewer's 9-class "Blues" (matplotlib's Blues map): each stop darker than the last. */
static snt_rgb blues(double t) {
  static const snt_rgb stops[9] = {{247, 251, 255}, {222, 235, 247}, {198, 219, 239}, {158, 202, 225}, {107, 174, 214},
                                   {66, 146, 198},  {33, 113, 181},  {8, 81, 156},    {8, 48, 107}};
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  double f = t * 8;
  int i = f >= 8 ? 7 : (int)f;
  double u = f - i;
  const snt_rgb a = stops[i], b = stops[i + 1];
  return (snt_rgb){(uint8_t)lrint(a.r + (b.r - a.r) * u), (uint8_t)lrint(a.g + (b.g - a.g) * u),
                   (uint8_t)lrint(a.b + (b.b - a.b) * u)};
}

typedef struct heat_layout {
  int cell, left, top, count_scale;
  int named_columns; /* column headers are the class names (else their numbers) */
} heat_layout;

static const char *name_of(const char *const *labels, int k, char buf[24]) {
  if (labels && labels[k]) return labels[k];
  snprintf(buf, 24, "%d", k);
  return buf;
}

/* The row label: the name, and the class number when the columns are numbered. */
static void row_label(const char *const *labels, int k, int numbered, char *buf, size_t size) {
  char nb[24];
  if (numbered) snprintf(buf, size, "%s (%d)", name_of(labels, k, nb), k);
  else snprintf(buf, size, "%s", name_of(labels, k, nb));
}

static heat_layout heat_plan(const snt_confusion *c, const char *const *labels) {
  heat_layout L = {.cell = c->n <= 8 ? 100 : (800 / c->n < 36 ? 36 : 800 / c->n), .named_columns = 1};
  char buf[256], nb[24];
  for (int k = 0; k < c->n; k++)
    if (snt_text_width(name_of(labels, k, nb), TICK_SCALE) > L.cell - 8) L.named_columns = 0;
  int row_w = snt_text_width("true class", TICK_SCALE);
  for (int k = 0; k < c->n; k++) {
    row_label(labels, k, !L.named_columns, buf, sizeof buf);
    if (snt_text_width(buf, TICK_SCALE) > row_w) row_w = snt_text_width(buf, TICK_SCALE);
  }
  int64_t max = 0;
  for (int i = 0; i < c->n * c->n; i++) max = c->m[i] > max ? c->m[i] : max;
  snprintf(buf, sizeof buf, "%lld", (long long)max);
  L.count_scale = snt_text_width(buf, 2) <= L.cell - 8 ? 2 : 1;
  L.left = 24 + row_w + 14;
  L.top = 104;
  return L;
}

static void draw_cells(snt_canvas *c, const snt_confusion *cm, const heat_layout *L) {
  int64_t max = 0;
  for (int i = 0; i < cm->n * cm->n; i++) max = cm->m[i] > max ? cm->m[i] : max;
  char buf[32];
  for (int t = 0; t < cm->n; t++)
    for (int p = 0; p < cm->n; p++) {
      int64_t v = cm->m[(size_t)t * cm->n + p];
      double shade = max > 0 ? (double)v / (double)max : 0;
      int x = L->left + p * L->cell, y = L->top + t * L->cell;
      snt_canvas_fill_rect(c, x, y, L->cell, L->cell, blues(shade));
      snprintf(buf, sizeof buf, "%lld", (long long)v);
      /* White on the dark half of the map, ink on the light half, as matplotlib does. */
      text_centred(c, x + L->cell / 2, y + (L->cell - caps_height(L->count_scale)) / 2, L->count_scale,
                   shade > 0.5 ? WHITE : INK, buf);
    }
  int side = cm->n * L->cell;
  snt_canvas_rect(c, L->left - 1, L->top - 1, side + 2, side + 2, 1, FRAME);
}

static void draw_heat_labels(snt_canvas *c, const snt_confusion *cm, const char *const *labels,
                             const heat_layout *L) {
  char buf[256], nb[24];
  const int side = cm->n * L->cell, th = caps_height(TICK_SCALE);
  for (int k = 0; k < cm->n; k++) {
    row_label(labels, k, !L->named_columns, buf, sizeof buf);
    text_right(c, L->left - 12, L->top + k * L->cell + (L->cell - th) / 2, TICK_SCALE, INK, buf);
    const char *col = L->named_columns ? name_of(labels, k, nb) : (snprintf(nb, sizeof nb, "%d", k), nb);
    text_centred(c, L->left + k * L->cell + L->cell / 2, L->top + side + 10, TICK_SCALE, INK, col);
  }
  text_right(c, L->left - 12, L->top - th - 12, TICK_SCALE, INK, "true class");
  text_centred(c, L->left + side / 2, L->top + side + 40, TICK_SCALE, INK, "predicted class");
}

void snt_plot_confusion_cell(const snt_confusion *c, const char *const *labels, int t, int p, int *x, int *y,
                             int *side) {
  heat_layout L = heat_plan(c, labels);
  *x = L.left + p * L.cell;
  *y = L.top + t * L.cell;
  *side = L.cell;
}

snt_status snt_plot_confusion(const char *path, const snt_confusion *cm, const char *const *labels, snt_err *e) {
  if (!cm || !cm->m || cm->n < 1) return snt_err_set(e, SNT_ERR_INPUT, "%s: no confusion matrix to plot", path);
  heat_layout L = heat_plan(cm, labels);
  const char *title = "Confusion matrix";
  int side = cm->n * L.cell, width = L.left + side + 40;
  int title_w = snt_text_width(title, TITLE_SCALE) + 48;
  if (width < title_w) width = title_w;
  snt_canvas c;
  snt_status st = snt_canvas_init(&c, width, L.top + side + 76, WHITE, e);
  if (st != SNT_OK) return st;
  text_centred(&c, width / 2, 24, TITLE_SCALE, INK, title);
  draw_cells(&c, cm, &L);
  draw_heat_labels(&c, cm, labels, &L);
  st = snt_canvas_write_png(&c, path, e);
  snt_canvas_free(&c);
  return st;
}

/* ---- contact sheet ------------------------------------------------------------------- */

enum { SHEET_MARGIN = 16, SHEET_GAP = 6, SHEET_LABEL_PAD = 16 };

static int sheet_label_w(int n_classes, const char *const *labels) {
  char nb[24];
  int w = 0;
  for (int k = 0; k < n_classes; k++)
    if (snt_text_width(name_of(labels, k, nb), TICK_SCALE) > w) w = snt_text_width(name_of(labels, k, nb), TICK_SCALE);
  return w;
}

void snt_contact_sheet_tile_origin(int n_classes, const char *const *labels, int tile, int row, int col, int *x,
                                   int *y) {
  *x = SHEET_MARGIN + sheet_label_w(n_classes, labels) + SHEET_LABEL_PAD + col * (tile + SHEET_GAP);
  *y = SHEET_MARGIN + row * (tile + SHEET_GAP);
}

static snt_status check_image(const snt_image *im, int k, snt_err *e) {
  if (!im->data || im->width < 1 || im->height < 1 || (im->channels != 1 && im->channels != 3))
    return snt_err_set(e, SNT_ERR_INPUT, "contact sheet: image %d is not a 1- or 3-channel picture (%dx%dx%d)", k,
                       im->width, im->height, im->channels);
  return SNT_OK;
}

static uint8_t to_byte(float v) { return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)lrintf(v); }

/* The image scaled to fit tile x tile with its aspect ratio, centred, nearest neighbour:
 * destination pixel d samples source floor((d + 0.5) * size / fitted size). */
static void draw_tile(snt_canvas *c, int x0, int y0, int tile, const snt_image *im) {
  double s = fmin((double)tile / im->width, (double)tile / im->height);
  int dw = (int)lround(im->width * s), dh = (int)lround(im->height * s);
  dw = dw < 1 ? 1 : dw > tile ? tile : dw;
  dh = dh < 1 ? 1 : dh > tile ? tile : dh;
  int ox = x0 + (tile - dw) / 2, oy = y0 + (tile - dh) / 2;
  size_t plane = (size_t)im->width * im->height;
  for (int dy = 0; dy < dh; dy++) {
    int sy = (int)((dy + 0.5) * im->height / dh);
    for (int dx = 0; dx < dw; dx++) {
      int sx = (int)((dx + 0.5) * im->width / dw);
      size_t i = (size_t)sy * im->width + sx;
      snt_rgb col = {to_byte(im->data[i]), to_byte(im->data[i + (im->channels == 3 ? plane : 0)]),
                     to_byte(im->data[i + (im->channels == 3 ? 2 * plane : 0)])};
      snt_canvas_fill_rect(c, ox + dx, oy + dy, 1, 1, col);
    }
  }
}

snt_status snt_plot_contact_sheet(const char *path, int n_classes, const char *const *labels, int per_row,
                                  const snt_image *const *images, int tile, snt_err *e) {
  if (n_classes < 1 || per_row < 1 || tile < 4 || tile > 4096 || !images)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: a contact sheet of %d classes x %d images of %d pixels", path,
                       n_classes, per_row, tile);
  for (int k = 0; k < n_classes * per_row; k++) {
    snt_status st = images[k] ? check_image(images[k], k, e) : SNT_OK;
    if (st != SNT_OK) return st;
  }
  int x_end, y_end;
  snt_contact_sheet_tile_origin(n_classes, labels, tile, n_classes, per_row, &x_end, &y_end);
  snt_canvas c;
  snt_status st = snt_canvas_init(&c, x_end - SHEET_GAP + SHEET_MARGIN, y_end - SHEET_GAP + SHEET_MARGIN, WHITE, e);
  if (st != SNT_OK) return st;
  char nb[24];
  for (int r = 0; r < n_classes; r++) {
    int x, y;
    snt_contact_sheet_tile_origin(n_classes, labels, tile, r, 0, &x, &y);
    snt_canvas_text(&c, SHEET_MARGIN, y + (tile - caps_height(TICK_SCALE)) / 2, TICK_SCALE, INK,
                    name_of(labels, r, nb));
    for (int j = 0; j < per_row; j++, x += tile + SHEET_GAP) {
      const snt_image *im = images[r * per_row + j];
      if (im) draw_tile(&c, x, y, tile, im);
      else snt_canvas_fill_rect(&c, x, y, tile, tile, EMPTY_TILE);
    }
  }
  st = snt_canvas_write_png(&c, path, e);
  snt_canvas_free(&c);
  return st;
}
