/* The PNG and JPEG writers: files read back with libpng and libjpeg directly (and with the
 * loader), atomic replacement with no temporary left behind, and refused arguments. */
#include <sys/stat.h>

#include <stdlib.h>

#include "check.h"
#include "image_fixtures.h"

static unsigned char *pattern(int w, int h, int ch) {
  unsigned char *p = malloc((size_t)w * h * ch);
  for (int i = 0; i < w * h * ch; i++) p[i] = (unsigned char)((i * 7919u) >> 3);
  return p;
}

/* No temporary (".sinter-tmp-<pid>-<random>-<name>") of a file named `prefix`... is left. */
static int leftover_temps(const char *prefix) {
  int count = 0, found = 0;
  char **names = fx_list_dir(SINTER_TEST_TMP, "", &count);
  for (int i = 0; i < count; i++)
    found += strncmp(names[i], ".sinter-tmp-", 12) == 0 && strstr(names[i], prefix) != NULL;
  fx_free_list(names, count);
  return found;
}

static void check_png(test_state *ts, int ch) {
  const int w = 23, h = 9;
  unsigned char *px = pattern(w, h, ch);
  char name[64], path[512];
  snprintf(name, sizeof name, "write_png_%d.png", ch);
  fx_tmp(path, sizeof path, name);
  snt_err e = {{0}};
  snt_status st = snt_image_write_png(path, w, h, ch, px, &e);
  if (st != SNT_OK) fprintf(stderr, "%s\n", e.msg);
  CHECK_INT(ts, st, SNT_OK);
  fx_ihdr hd = {0};
  int got_ch = 0;
  unsigned char *raw = fx_read_png_raw(path, &hd, &got_ch);
  CHECK(ts, raw != NULL);
  CHECK_INT(ts, hd.width, w);
  CHECK_INT(ts, hd.height, h);
  CHECK_INT(ts, hd.depth, 8);
  CHECK_INT(ts, got_ch, ch);
  if (raw && got_ch == ch) CHECK(ts, memcmp(raw, px, (size_t)w * h * ch) == 0);
  free(raw);

  /* The loader's view: gray replicated, alpha dropped. */
  snt_image img;
  CHECK_INT(ts, snt_image_load(path, &img, &e), SNT_OK);
  if (img.data) {
    unsigned char *rgb = malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h; i++)
      for (int c = 0; c < 3; c++) rgb[3 * i + c] = px[i * ch + (ch == 1 ? 0 : c)];
    CHECK_INT(ts, fx_first_diff_rgb(&img, rgb), -1);
    free(rgb);
  }
  snt_image_free(&img);
  free(px);
}

static void check_jpeg(test_state *ts, int ch) {
  const int w = 40, h = 24;
  unsigned char *px = malloc((size_t)w * h * ch);
  for (int y = 0; y < h; y++)  /* smooth, so that quality 95 stays close */
    for (int x = 0; x < w; x++)
      for (int c = 0; c < ch; c++) px[(y * w + x) * ch + c] = (unsigned char)(50 + 3 * x + 2 * y + 20 * c);
  char name[64], path[512];
  snprintf(name, sizeof name, "write_jpeg_%d.jpg", ch);
  fx_tmp(path, sizeof path, name);
  snt_err e = {{0}};
  CHECK_INT(ts, snt_image_write_jpeg(path, w, h, ch, px, 95, &e), SNT_OK);
  int rw = 0, rh = 0, rc = 0;
  unsigned char *ref = fx_read_jpeg_ref(path, ch == 1 ? JCS_GRAYSCALE : JCS_RGB, &rw, &rh, &rc, NULL);
  CHECK(ts, ref && rw == w && rh == h && rc == ch);
  if (ref && rc == ch) {
    int worst = 0;
    for (int i = 0; i < w * h * ch; i++) worst = abs(ref[i] - px[i]) > worst ? abs(ref[i] - px[i]) : worst;
    /* Quality 95 on a smooth ramp: a few levels (measured at most 3 with libjpeg-turbo 2.1.5). */
    CHECK(ts, worst <= 8);
  }
  free(ref);
  free(px);
}

static void check_atomic(test_state *ts) {
  char path[512];
  fx_tmp(path, sizeof path, "write_replace.png");
  fx_write_file(path, "old contents", 12);
  unsigned char px[4] = {1, 2, 3, 4};
  snt_err e = {{0}};
  CHECK_INT(ts, snt_image_write_png(path, 2, 2, 1, px, &e), SNT_OK);
  size_t n = 0;
  unsigned char *data = fx_read_file(path, &n);
  CHECK(ts, data && n > 8 && memcmp(data, "\x89PNG", 4) == 0);
  free(data);
  CHECK_INT(ts, leftover_temps("write_"), 0);
  /* The usual permissions (0666 less the umask), not mkstemp's 0600. */
  struct stat sb;
  mode_t mask = umask(022);
  umask(mask);
  CHECK(ts, stat(path, &sb) == 0 && (sb.st_mode & 0777) == (0666 & ~mask));

  /* A folder that does not exist: an error naming the path, and nothing created. */
  char bad[600];
  snprintf(bad, sizeof bad, "%s/no_such_dir/out.png", SINTER_TEST_TMP);
  CHECK_INT(ts, snt_image_write_png(bad, 2, 2, 1, px, &e), SNT_ERR_IO);
  CHECK(ts, strstr(e.msg, bad) != NULL && strstr(e.msg, "No such file") != NULL);
  snprintf(bad, sizeof bad, "%s/no_such_dir/out.jpg", SINTER_TEST_TMP);
  CHECK_INT(ts, snt_image_write_jpeg(bad, 2, 2, 1, px, 90, &e), SNT_ERR_IO);
  CHECK(ts, strstr(e.msg, bad) != NULL);
}

static void check_refused(test_state *ts) {
  char path[512];
  fx_tmp(path, sizeof path, "write_refused.png");
  unsigned char px[16] = {0};
  snt_err e = {{0}};
  CHECK_INT(ts, snt_image_write_png(path, 2, 2, 2, px, &e), SNT_ERR_INPUT);
  CHECK(ts, strstr(e.msg, path) && strstr(e.msg, "1, 3 or 4 channels"));
  CHECK_INT(ts, snt_image_write_jpeg(path, 2, 2, 4, px, 90, &e), SNT_ERR_INPUT);
  CHECK(ts, strstr(e.msg, "1 or 3 channels") != NULL);
  CHECK_INT(ts, snt_image_write_jpeg(path, 2, 2, 3, px, 0, &e), SNT_ERR_INPUT);
  CHECK_INT(ts, snt_image_write_jpeg(path, 2, 2, 3, px, 101, &e), SNT_ERR_INPUT);
  CHECK(ts, strstr(e.msg, "quality") != NULL);
  CHECK_INT(ts, snt_image_write_png(path, 0, 2, 1, px, &e), SNT_ERR_INPUT);
  CHECK_INT(ts, snt_image_write_png(path, 40000, 1, 1, px, &e), SNT_ERR_INPUT);
  CHECK_INT(ts, snt_image_write_png(path, 2, 2, 1, NULL, &e), SNT_ERR_INTERNAL);
  CHECK_INT(ts, snt_image_write_png(NULL, 2, 2, 1, px, NULL), SNT_ERR_INTERNAL);
  FILE *f = fopen(path, "rb");
  CHECK(ts, f == NULL);  /* nothing was written */
  if (f) fclose(f);
  CHECK_INT(ts, leftover_temps("write_"), 0);
}

int main(void) {
  test_state ts = {0};
  check_png(&ts, 1);
  check_png(&ts, 3);
  check_png(&ts, 4);
  check_jpeg(&ts, 1);
  check_jpeg(&ts, 3);
  check_atomic(&ts);
  check_refused(&ts);
  return test_report("test_image_write", &ts);
}
