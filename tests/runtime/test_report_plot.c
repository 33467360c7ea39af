/* The report pictures, decoded back with snt_image_load: text stays in its box, lines have
 * their colour, the training curves show both series (and only those given), heat-map cells
 * darken with their counts, and contact-sheet tiles are the nearest-neighbour samples of
 * their sources. The pictures stay in the scratch folder for a look. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "sinter/report.h"

static const snt_rgb WHITE = {255, 255, 255}, RED = {200, 0, 0};

static void tmp_path(char *buf, size_t size, const char *name) { snprintf(buf, size, "%s/%s", SINTER_TEST_TMP, name); }

static snt_rgb pixel(const snt_image *im, int x, int y) {
  size_t plane = (size_t)im->width * im->height, i = (size_t)y * im->width + x;
  return (snt_rgb){(uint8_t)im->data[i], (uint8_t)im->data[plane + i], (uint8_t)im->data[2 * plane + i]};
}

static int same(snt_rgb a, snt_rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

static double luma(snt_rgb c) { return 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b; }

/* Pixels of exactly `col` in the columns x0..x1-1. */
static long count_colour(const snt_image *im, int x0, int x1, snt_rgb col) {
  long n = 0;
  for (int y = 0; y < im->height; y++)
    for (int x = x0; x < x1; x++) n += same(pixel(im, x, y), col);
  return n;
}

static int load(test_state *ts, const char *path, snt_image *im) {
  snt_err e = {{0}};
  snt_status st = snt_image_load(path, im, &e);
  if (st != SNT_OK) fprintf(stderr, "%s\n", e.msg);
  CHECK_INT(ts, st, SNT_OK);
  return st == SNT_OK;
}

static void text_in_box(test_state *ts) {
  snt_canvas c;
  CHECK_INT(ts, snt_canvas_init(&c, 120, 40, WHITE, NULL), SNT_OK);
  const char *s = "Agy|{_";
  const int x0 = 7, y0 = 5, scale = 2, w = snt_text_width(s, scale), h = snt_text_height(scale);
  CHECK_INT(ts, w, 6 * 6 * 2 - 2);  /* six 6-column cells, no gap after the last */
  CHECK_INT(ts, h, 18);
  snt_canvas_text(&c, x0, y0, scale, RED, s);
  long ink = 0, outside = 0, bottom_rows = 0, last_col = 0;
  for (int y = 0; y < c.height; y++)
    for (int x = 0; x < c.width; x++) {
      const uint8_t *p = c.px + ((size_t)y * c.width + x) * 3;
      int red = p[0] == RED.r && p[1] == RED.g && p[2] == RED.b, white = p[0] == 255 && p[1] == 255 && p[2] == 255;
      CHECK(ts, red || white);  /* no blending in text */
      if (!red) continue;
      ink++;
      outside += x < x0 || x >= x0 + w || y < y0 || y >= y0 + h;
      bottom_rows += y >= y0 + h - scale;  /* the descenders' last row: g, y */
      last_col += x >= x0 + w - scale;      /* '_' reaches its cell's fifth column */
    }
  CHECK(ts, ink > 100);
  CHECK_INT(ts, outside, 0);
  CHECK(ts, bottom_rows > 0 && last_col > 0);

  /* 'T' at scale 1 by its design: a full top bar of 5 and a stem in the middle column. */
  snt_canvas_fill_rect(&c, 0, 0, c.width, c.height, WHITE);
  snt_canvas_text(&c, 50, 20, 1, RED, "T");
  for (int x = 49; x <= 55; x++) CHECK_INT(ts, c.px[((size_t)20 * c.width + x) * 3 + 1] == 0, x >= 50 && x <= 54);
  for (int y = 21; y <= 26; y++) CHECK_INT(ts, c.px[((size_t)y * c.width + 52) * 3 + 1], 0);
  CHECK_INT(ts, c.px[((size_t)21 * c.width + 51) * 3 + 1], 255);

  /* Text hanging off every edge is clipped, not written out of bounds (the sanitizer run). */
  snt_canvas_text(&c, -20, -7, 3, RED, "clipped");
  snt_canvas_text(&c, 110, 30, 3, RED, "clipped");
  snt_canvas_free(&c);
}

static void lines_and_rects(test_state *ts) {
  snt_canvas c;
  CHECK_INT(ts, snt_canvas_init(&c, 60, 40, WHITE, NULL), SNT_OK);
  /* A 5-wide horizontal stroke along y = 20.5 covers rows 18..22 fully, 17 and 23 not at all. */
  snt_canvas_line(&c, 10.5, 20.5, 50.5, 20.5, 5, RED);
  for (int y = 15; y <= 25; y++) {
    const uint8_t *p = c.px + ((size_t)y * c.width + 30) * 3;
    int full = p[0] == 200 && p[1] == 0 && p[2] == 0, blank = p[1] == 255;
    CHECK(ts, (y >= 18 && y <= 22) ? full : blank);
  }
  /* A 45-degree stroke: its centre pixels get the exact colour, far ones stay white. */
  snt_canvas_line(&c, 0.5, 0.5, 12.5, 12.5, 3, RED);
  CHECK_INT(ts, c.px[((size_t)6 * c.width + 6) * 3 + 1], 0);
  CHECK_INT(ts, c.px[((size_t)0 * c.width + 8) * 3 + 1], 255);
  snt_canvas_rect(&c, 40, 2, 10, 8, 2, RED);
  CHECK_INT(ts, c.px[((size_t)2 * c.width + 40) * 3 + 1], 0);   /* corner */
  CHECK_INT(ts, c.px[((size_t)8 * c.width + 48) * 3 + 1], 0);   /* inner edge of the border */
  CHECK_INT(ts, c.px[((size_t)5 * c.width + 45) * 3 + 1], 255); /* inside: not filled */
  snt_canvas_fill_rect(&c, -5, -5, 1000, 3, RED);              /* clipped */
  CHECK_INT(ts, c.px[1], 0);
  snt_canvas_free(&c);
}

static const snt_rgb TRAIN = {31, 119, 180}, VALID = {255, 127, 14};

static void history(test_state *ts) {
  enum { E = 30 };
  double tl[E], vl[E], ta[E], va[E];
  for (int i = 0; i < E; i++) {
    double t = i / (E - 1.0);
    tl[i] = 1.3 * exp(-3 * t) + 0.15;
    vl[i] = 1.2 * exp(-2.5 * t) + 0.3 + 0.04 * sin(7 * t);
    ta[i] = 0.95 - 0.6 * exp(-4 * t);
    va[i] = 0.9 - 0.55 * exp(-3.5 * t) + 0.02 * cos(9 * t);
  }
  vl[12] = va[12] = NAN; /* an epoch without validation */
  char path[512];
  tmp_path(path, sizeof path, "report_history.png");
  snt_err e = {{0}};
  CHECK_INT(ts, snt_plot_history(path, E, tl, vl, ta, va, &e), SNT_OK);
  snt_image im;
  if (load(ts, path, &im)) {
    CHECK_INT(ts, im.width, 1280);
    CHECK_INT(ts, im.height, 480);
    CHECK(ts, same(pixel(&im, 0, 0), WHITE) && same(pixel(&im, 1279, 479), WHITE) && same(pixel(&im, 640, 240), WHITE));
    /* Both colours in both panels, far more than the legend swatches alone would give. */
    CHECK(ts, count_colour(&im, 0, 640, TRAIN) > 400 && count_colour(&im, 0, 640, VALID) > 400);
    CHECK(ts, count_colour(&im, 640, 1280, TRAIN) > 400 && count_colour(&im, 640, 1280, VALID) > 400);
  }
  snt_image_free(&im);

  /* Without validation values there is no orange at all: no line and no legend entry. */
  tmp_path(path, sizeof path, "report_history_train_only.png");
  CHECK_INT(ts, snt_plot_history(path, 1, tl, NULL, ta, NULL, &e), SNT_OK);
  if (load(ts, path, &im)) {
    CHECK(ts, count_colour(&im, 0, im.width, TRAIN) > 40);
    CHECK_INT(ts, count_colour(&im, 0, im.width, VALID), 0);
  }
  snt_image_free(&im);
  CHECK_INT(ts, snt_plot_history(path, 0, tl, NULL, ta, NULL, &e), SNT_ERR_INPUT);
}

static void confusion(test_state *ts) {
  /* Distinct counts in every cell, so their shades can be ordered. */
  const int64_t counts[16] = {350, 4, 0, 8, 12, 930, 2, 75, 1, 3, 128, 2, 20, 60, 1, 521};
  snt_confusion c = {.n = 4, .m = malloc(sizeof counts)};
  memcpy(c.m, counts, sizeof counts);
  const char *labels[] = {"COVID", "Normal", "Viral Pneumonia", "Lung_Opacity"};
  char path[512];
  tmp_path(path, sizeof path, "report_confusion.png");
  snt_err e = {{0}};
  CHECK_INT(ts, snt_plot_confusion(path, &c, labels, &e), SNT_OK);
  snt_image im;
  if (load(ts, path, &im)) {
    CHECK(ts, same(pixel(&im, 0, 0), WHITE) && same(pixel(&im, im.width - 1, im.height - 1), WHITE));
    double shade[16];
    for (int i = 0; i < 16; i++) {
      int x, y, side;
      snt_plot_confusion_cell(&c, labels, i / 4, i % 4, &x, &y, &side);
      CHECK(ts, x > 0 && y > 0 && x + side < im.width && y + side < im.height);
      snt_rgb fill = pixel(&im, x + 3, y + 3); /* a corner: clear of the count */
      shade[i] = luma(fill);
      /* The count is written inside: pixels of another colour near the centre. */
      int text = 0;
      for (int dy = -8; dy <= 8; dy++)
        for (int dx = -20; dx <= 20; dx++) text += !same(pixel(&im, x + side / 2 + dx, y + side / 2 + dy), fill);
      CHECK(ts, text > 10);
      if (counts[i] == 0) CHECK(ts, same(fill, ((snt_rgb){247, 251, 255})));
      if (counts[i] == 930) CHECK(ts, same(fill, ((snt_rgb){8, 48, 107})));
    }
    /* Darker with the count; strictly once the counts differ by 2% of the largest (closer
     * ones may round to the same 8-bit colour). */
    for (int i = 0; i < 16; i++)
      for (int j = 0; j < 16; j++) {
        if (counts[i] <= counts[j]) CHECK(ts, shade[i] >= shade[j]);
        if (counts[j] - counts[i] >= 930 / 50) CHECK(ts, shade[i] > shade[j]);
      }
  }
  snt_image_free(&im);
  snt_confusion_free(&c);
}

/* A w x h picture whose every pixel differs: R = x-ish, G = y-ish, B = a mix. */
static snt_image pattern(int w, int h, int channels, int seed) {
  snt_image im = {.width = w, .height = h, .channels = channels, .data = malloc(sizeof(float) * w * h * channels)};
  for (int c = 0; c < channels; c++)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        im.data[((size_t)c * h + y) * w + x] = (float)((x * 13 + y * 7 * (c + 1) + seed * 31 + c * 50) % 256);
  return im;
}

static void contact_sheet(test_state *ts) {
  enum { TILE = 32, PER_ROW = 3 };
  snt_image sq = pattern(16, 16, 3, 1), wide = pattern(20, 10, 3, 2), gray = pattern(64, 64, 1, 3);
  const snt_image *imgs[2 * PER_ROW] = {&sq, &wide, NULL, &gray, &sq, &sq};
  const char *labels[] = {"COVID", "Viral Pneumonia"};
  char path[512];
  tmp_path(path, sizeof path, "report_contact_sheet_small.png");
  snt_err e = {{0}};
  CHECK_INT(ts, snt_plot_contact_sheet(path, 2, labels, PER_ROW, imgs, TILE, &e), SNT_OK);
  snt_image im;
  if (!load(ts, path, &im)) return;
  CHECK(ts, same(pixel(&im, 0, 0), WHITE) && same(pixel(&im, im.width - 1, im.height - 1), WHITE));
  int x, y, mism = 0;
  /* Square 16x16 into 32x32: every source pixel becomes a 2x2 block. */
  snt_contact_sheet_tile_origin(2, labels, TILE, 0, 0, &x, &y);
  for (int dy = 0; dy < TILE; dy++)
    for (int dx = 0; dx < TILE; dx++) {
      snt_rgb p = pixel(&im, x + dx, y + dy);
      size_t i = (size_t)(dy / 2) * 16 + dx / 2;
      mism += p.r != sq.data[i] || p.g != sq.data[256 + i] || p.b != sq.data[512 + i];
    }
  CHECK_INT(ts, mism, 0);
  /* 20x10 fits as 32x16, centred (rows 8..23); column dx samples floor((dx + .5) * 20 / 32). */
  snt_contact_sheet_tile_origin(2, labels, TILE, 0, 1, &x, &y);
  mism = 0;
  for (int dy = 0; dy < 16; dy++)
    for (int dx = 0; dx < TILE; dx++) {
      snt_rgb p = pixel(&im, x + dx, y + 8 + dy);
      size_t i = (size_t)((dy * 2 + 1) * 10 / 32) * 20 + (size_t)((dx * 2 + 1) * 20 / 64);
      mism += p.r != wide.data[i] || p.g != wide.data[200 + i] || p.b != wide.data[400 + i];
    }
  CHECK_INT(ts, mism, 0);
  CHECK(ts, same(pixel(&im, x + 5, y + 3), WHITE) && same(pixel(&im, x + 5, y + TILE - 3), WHITE));
  /* A missing image is a grey tile; a gray 64x64 one is subsampled by 2 (source 2d + 1),
   * R = G = B. */
  snt_contact_sheet_tile_origin(2, labels, TILE, 0, 2, &x, &y);
  CHECK(ts, same(pixel(&im, x + 10, y + 10), ((snt_rgb){236, 236, 236})));
  snt_contact_sheet_tile_origin(2, labels, TILE, 1, 0, &x, &y);
  snt_rgb g = pixel(&im, x + 5, y + 9);
  CHECK(ts, g.r == gray.data[(9 * 2 + 1) * 64 + 5 * 2 + 1] && g.g == g.r && g.b == g.r);
  /* The class name is written left of each row, and nothing else is there. */
  long ink = 0;
  for (int yy = y; yy < y + TILE; yy++)
    for (int xx = 0; xx < x; xx++) ink += !same(pixel(&im, xx, yy), WHITE);
  CHECK(ts, ink > 100);
  snt_image_free(&im);

  /* Bad input is refused: a 2-channel image. */
  snt_image two = {.width = 4, .height = 4, .channels = 2, .data = sq.data};
  imgs[1] = &two;
  CHECK_INT(ts, snt_plot_contact_sheet(path, 2, labels, PER_ROW, imgs, TILE, &e), SNT_ERR_INPUT);
  snt_image_free(&sq);
  snt_image_free(&wide);
  snt_image_free(&gray);
}

int main(void) {
  test_state ts = {0};
  text_in_box(&ts);
  lines_and_rects(&ts);
  history(&ts);
  confusion(&ts);
  contact_sheet(&ts);
  return test_report("report_plot", &ts);
}
