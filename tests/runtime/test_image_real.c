/* Real chest X-rays from SINTER_SHARED_DIR/data (never copied into the repository): 299x299
 * grayscale and RGB files of cxr-native, 256x256 RGB files of cxr-256. Sizes and channels must
 * agree with the PNG headers, every pixel with libpng's own untransformed decode, and gray files
 * must give three equal channels. Without the shared folder the test fails: a test that
 * checks nothing must not pass. */
#include <stdlib.h>

#include "check.h"
#include "image_fixtures.h"

typedef struct tally {
  int files, gray, rgb;
} tally;

static void check_file(test_state *ts, const char *path, tally *t) {
  fx_ihdr h = {0};
  CHECK_INT(ts, fx_read_ihdr(path, &h), 0);
  fx_ihdr rh = {0};
  int ch = 0;
  unsigned char *raw = fx_read_png_raw(path, &rh, &ch);
  CHECK(ts, raw != NULL);
  snt_image img;
  snt_err e = {{0}};
  snt_status st = snt_image_load(path, &img, &e);
  if (st != SNT_OK) fprintf(stderr, "%s\n", e.msg);
  CHECK_INT(ts, st, SNT_OK);
  CHECK_INT(ts, img.width, h.width);
  CHECK_INT(ts, img.height, h.height);
  CHECK_INT(ts, img.channels, 3);
  t->files++;
  if (st != SNT_OK || !raw || h.depth != 8) {
    CHECK_INT(ts, h.depth, 8);  /* the shared files are all 8-bit; anything else needs a new check */
    free(raw);
    snt_image_free(&img);
    return;
  }
  size_t plane = (size_t)img.width * img.height;
  const float *r = img.data, *g = r + plane, *b = g + plane;
  long bad = 0;
  if (h.color_type == PNG_COLOR_TYPE_GRAY) {
    t->gray++;
    CHECK_INT(ts, ch, 1);
    for (size_t i = 0; i < plane; i++) bad += r[i] != raw[i] || g[i] != raw[i] || b[i] != raw[i];
  } else {
    CHECK_INT(ts, h.color_type, PNG_COLOR_TYPE_RGB);
    t->rgb++;
    CHECK_INT(ts, ch, 3);
    for (size_t i = 0; i < plane; i++)
      bad += r[i] != raw[3 * i] || g[i] != raw[3 * i + 1] || b[i] != raw[3 * i + 2];
  }
  if (bad) fprintf(stderr, "%s: %ld pixels differ from libpng's decode\n", path, bad);
  CHECK_INT(ts, bad, 0);
  float lo = 255, hi = 0;
  for (size_t i = 0; i < 3 * plane; i++) lo = img.data[i] < lo ? img.data[i] : lo, hi = img.data[i] > hi ? img.data[i] : hi;
  CHECK(ts, lo >= 0 && hi <= 255 && hi - lo > 50);  /* an X-ray, not a blank page */
  free(raw);
  snt_image_free(&img);
}

/* Checks the first `take` files of a folder (sorted by name), plus any file named `also`. */
static void check_dir(test_state *ts, const char *dir, int take, const char *also, tally *t) {
  int count = 0;
  char **names = fx_list_dir(dir, ".png", &count);
  CHECK(ts, count > 0);
  for (int i = 0; i < count; i++) {
    if (i >= take && !(also && strcmp(names[i], also) == 0)) continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    check_file(ts, path, t);
  }
  fx_free_list(names, count);
}

int main(void) {
  test_state ts = {0};
  char root[512], dir[1024];
  snprintf(root, sizeof root, "%s/data", SINTER_SHARED_DIR);
  int n = 0;
  char **top = fx_list_dir(root, "", &n);
  CHECK(&ts, top != NULL);
  if (!top) {
    fprintf(stderr, "%s is not there: no real image to check (set SINTER_SHARED_DIR)\n", root);
    return test_report("test_image_real", &ts);
  }
  fx_free_list(top, n);

  tally native = {0}, small = {0};
  const char *classes[] = {"COVID", "Lung_Opacity", "Normal", "Viral Pneumonia"};
  for (int c = 0; c < 4; c++) {
    snprintf(dir, sizeof dir, "%s/cxr-native/%s/images", root, classes[c]);
    /* Viral Pneumonia-399.png is the one RGB file among the native grayscale ones. */
    check_dir(&ts, dir, 3, "Viral Pneumonia-399.png", &native);
    if (c == 1) continue;  /* cxr-256 has no Lung_Opacity */
    snprintf(dir, sizeof dir, "%s/cxr-256/%s", root, classes[c]);
    check_dir(&ts, dir, 3, NULL, &small);
  }
  printf("cxr-native: %d files (%d gray, %d RGB); cxr-256: %d files (%d gray, %d RGB)\n", native.files,
         native.gray, native.rgb, small.files, small.gray, small.rgb);
  CHECK(&ts, native.gray >= 10 && native.rgb >= 1 && small.rgb >= 9);
  CHECK_INT(&ts, native.gray + native.rgb, native.files);
  return test_report("test_image_real", &ts);
}
