/* The loader and augmentation with the model's channel count (issue 9, class 9: a 1-channel
 * model made the loader write 3 planes into a 1-plane batch). Batches are allocated at exactly
 * batch x C x H x W floats, so the sanitizer build catches any write past them; every row is
 * compared bit for bit with snt_image_load_opts + snt_image_resize_bilinear of its file. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "sinter/data.h"

enum { H = 6, W = 7, N = 5 };

static const char *tmp_dir;

static void path_of(char *buf, size_t size, const char *rel) { snprintf(buf, size, "%s/%s", tmp_dir, rel); }

/* Image k of class folder A or B: RGB (k even) or RGBA (k odd), its own size and colours. */
static int write_image(const char *path, int k) {
  int w = 9 + k, h = 5 + 2 * k, ch = k % 2 ? 4 : 3;
  uint8_t *hwc = malloc((size_t)w * h * ch);
  if (!hwc) return -1;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < ch; c++) hwc[((size_t)y * w + x) * ch + c] = (uint8_t)(x * 23 + y * 41 + c * 67 + k * 13);
  snt_err e = {{0}};
  snt_status st = snt_image_write_png(path, w, h, ch, hwc, &e);
  free(hwc);
  return st == SNT_OK ? 0 : -1;
}

static int build_tree(void) {
  char p[4096];
  int bad = 0;
  mkdir(tmp_dir, 0755);
  path_of(p, sizeof p, "A"), mkdir(p, 0755);
  path_of(p, sizeof p, "B"), mkdir(p, 0755);
  for (int k = 0; k < N; k++) {
    char rel[64];
    snprintf(rel, sizeof rel, "%s/img%d.png", k < 3 ? "A" : "B", k);
    path_of(p, sizeof p, rel);
    bad |= write_image(p, k);
  }
  return bad;
}

/* The reference for one item: decode with `channels`, resize to H x W. */
static int reference(const char *path, int channels, snt_image *out) {
  snt_image img = {0};
  snt_image_opts o = {.channels = channels};
  snt_err e = {{0}};
  int rc = snt_image_load_opts(path, &o, &img, &e) == SNT_OK && snt_image_resize_bilinear(&img, H, W, out, &e) == SNT_OK;
  snt_image_free(&img);
  return rc ? 0 : -1;
}

static void loader_rows(test_state *ts, const snt_dataset *ds, int channels) {
  int items[N];
  for (int i = 0; i < N; i++) items[i] = i;
  snt_loader_opts o = {.height = H, .width = W, .channels = channels, .batch = N, .workers = 2};
  snt_loader *l = NULL;
  snt_err e = {{0}};
  CHECK_INT(ts, snt_loader_create(ds, items, N, &o, &l, &e), SNT_OK);
  if (!l) return;
  size_t row = (size_t)channels * H * W;
  float *x = malloc(sizeof *x * row * N); /* exactly one batch: an overflow is a sanitizer error */
  int64_t labels[N];
  int n = 0;
  CHECK_INT(ts, snt_loader_begin_epoch(l, 0, &e), SNT_OK);
  CHECK_INT(ts, snt_loader_next(l, x, labels, &n, &e), SNT_OK);
  CHECK_INT(ts, n, N);
  for (int i = 0; i < n; i++) {
    snt_image ref = {0};
    CHECK_INT(ts, reference(ds->paths[i], channels, &ref), 0);
    CHECK(ts, ref.channels == channels && ref.data && memcmp(x + (size_t)i * row, ref.data, sizeof *x * row) == 0);
    snt_image_free(&ref);
  }
  /* 4 channels: the RGB planes are the 3-channel decode's; alpha is opaque for the RGB files. */
  for (int i = 0; channels == 4 && i < n; i++) {
    snt_image rgb = {0};
    CHECK_INT(ts, reference(ds->paths[i], 3, &rgb), 0);
    CHECK(ts, rgb.data && memcmp(x + (size_t)i * row, rgb.data, sizeof *x * 3 * H * W) == 0);
    const float *alpha = x + (size_t)i * row + 3 * H * W;
    int opaque = 1;
    for (int j = 0; j < H * W; j++) opaque &= alpha[j] == 255.0f;
    CHECK(ts, opaque == (strstr(ds->paths[i], "img1.png") == NULL && strstr(ds->paths[i], "img3.png") == NULL));
    snt_image_free(&rgb);
  }
  free(x);
  snt_loader_destroy(l);
}

/* A gray image augmented alone equals each plane of the same image replicated to RGB. */
static void augment_gray(test_state *ts) {
  snt_image g = {.width = 11, .height = 9, .channels = 1}, c = {.width = 11, .height = 9, .channels = 3};
  size_t plane = 11 * 9;
  g.data = malloc(sizeof(float) * plane);
  c.data = malloc(sizeof(float) * plane * 3);
  for (size_t i = 0; i < plane; i++) g.data[i] = (float)((i * 37) % 256);
  for (int k = 0; k < 3; k++) memcpy(c.data + k * plane, g.data, sizeof(float) * plane);
  snt_augment all = {1, 1, 0.2, {0.5, 1.5}, 0.1, {0.2, 0.2}, 0.2};
  snt_err e = {{0}};
  CHECK_INT(ts, snt_augment_image(&all, 3, 1, 4, &g, &e), SNT_OK);
  CHECK_INT(ts, snt_augment_image(&all, 3, 1, 4, &c, &e), SNT_OK);
  for (int k = 0; k < 3; k++) CHECK(ts, memcmp(c.data + k * plane, g.data, sizeof(float) * plane) == 0);
  snt_image_free(&g);
  snt_image_free(&c);
}

static void refusals(test_state *ts, const snt_dataset *ds) {
  int items[1] = {0};
  snt_loader *l = NULL;
  snt_err e = {{0}};
  snt_loader_opts o = {.height = H, .width = W, .channels = 2, .batch = 1};
  CHECK_INT(ts, snt_loader_create(ds, items, 1, &o, &l, &e), SNT_ERR_INPUT);
  CHECK_STR(ts, e.msg, "the model's image input has 2 channels; images are read as 1 (gray), 3 (RGB) or 4 (RGBA) channels");
  CHECK(ts, l == NULL);
  /* The pixel cap: img0.png is 9x5 = 45 pixels; a cap of 44 skips it with the file's name. */
  o = (snt_loader_opts){.height = H, .width = W, .channels = 1, .max_pixels = 44, .batch = 1};
  CHECK_INT(ts, snt_loader_create(ds, items, 1, &o, &l, &e), SNT_OK);
  float x[H * W];
  int64_t label;
  int n = -1;
  CHECK_INT(ts, snt_loader_begin_epoch(l, 0, &e), SNT_OK);
  CHECK_INT(ts, snt_loader_next(l, x, &label, &n, &e), SNT_OK);
  CHECK_INT(ts, n, 0);
  CHECK_INT(ts, snt_loader_skipped(l), 1);
  char want[4200];
  snprintf(want, sizeof want, "%s: image is 9x5 = 45 pixels, more than the cap of 44 (--max-pixels N to change it)",
           ds->paths[0]);
  CHECK_STR(ts, snt_loader_first_error(l), want);
  snt_loader_destroy(l);
  snt_image img = {0};
  snt_image_opts io = {.channels = 5};
  CHECK_INT(ts, snt_image_load_opts(ds->paths[0], &io, &img, &e), SNT_ERR_INPUT);
  io = (snt_image_opts){.channels = 1, .max_pixels = SNT_IMAGE_MAX_PIXELS + 1};
  CHECK_INT(ts, snt_image_load_opts(ds->paths[0], &io, &img, &e), SNT_ERR_INPUT);
  CHECK(ts, img.data == NULL);
}

int main(int argc, char **argv) {
  test_state ts = {0};
  tmp_dir = argc > 1 ? argv[1] : "channels_tmp";
  if (build_tree() != 0) {
    fprintf(stderr, "cannot write the test images under %s\n", tmp_dir);
    return 1;
  }
  const char *labels[2] = {"A", "B"};
  snt_dataset ds = {0};
  snt_err e = {{0}};
  CHECK_INT(&ts, snt_data_scan(tmp_dir, 2, labels, &ds, &e), SNT_OK);
  CHECK_INT(&ts, ds.n_items, N);
  if (ds.n_items == N) {
    loader_rows(&ts, &ds, 1);
    loader_rows(&ts, &ds, 3);
    loader_rows(&ts, &ds, 4);
    refusals(&ts, &ds);
  }
  augment_gray(&ts);
  snt_dataset_free(&ds);
  return test_report("images.channels", &ts);
}
