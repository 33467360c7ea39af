/* snt_image_load_mem (EXE serve decodes request bodies with it): the same bytes decode to the
 * same pixels as snt_image_load_opts on a file, for PNG and JPEG and every channel count; errors
 * carry the same status and message with the given name in place of the path; the pixel cap
 * applies; nothing leaks or reads past the bytes (the sanitizer build runs this too). */
#include <stdlib.h>

#include "check.h"
#include "image_fixtures.h"

/* The message with the first occurrence of `from` replaced by `to`. */
static void renamed(const char *msg, const char *from, const char *to, char *out, size_t size) {
  const char *at = strstr(msg, from);
  if (!at) {
    snprintf(out, size, "%s", msg);
    return;
  }
  snprintf(out, size, "%.*s%s%s", (int)(at - msg), msg, to, at + strlen(from));
}

/* Loads path as a file and its first n bytes from memory with o; both must agree. */
static void same(test_state *ts, const char *path, size_t n, const snt_image_opts *o) {
  size_t size = 0;
  unsigned char *bytes = fx_read_file(path, &size);
  CHECK(ts, bytes != NULL);
  if (!bytes) return;
  if (n > size) n = size;
  char cut[4200];
  const char *file = path;
  if (n < size) {
    fx_tmp(cut, sizeof cut, "mem_cut.bin");
    CHECK(ts, fx_write_file(cut, bytes, n) == 0);
    file = cut;
  }
  /* An exact-size heap copy: ASan sees any read past the end. */
  unsigned char *exact = malloc(n ? n : 1);
  memcpy(exact, bytes, n);
  snt_image a = {0}, b = {0};
  snt_err ea = {{0}}, eb = {{0}};
  snt_status sa = snt_image_load_opts(file, o, &a, &ea), sb = snt_image_load_mem("the body", exact, n, o, &b, &eb);
  CHECK_INT(ts, sb, sa);
  if (sa == SNT_OK && sb == SNT_OK) {
    CHECK(ts, a.width == b.width && a.height == b.height && a.channels == b.channels);
    size_t count = (size_t)a.width * (size_t)a.height * (size_t)a.channels;
    CHECK(ts, memcmp(a.data, b.data, count * sizeof(float)) == 0);
  } else {
    char named[1200], want[1200];
    renamed(ea.msg, file, "the body", named, sizeof named);
    renamed(named, "empty file", "empty", want, sizeof want); /* bytes in memory are no file */
    CHECK_STR(ts, eb.msg, want);
    CHECK(ts, b.data == NULL && b.width == 0);
  }
  snt_image_free(&a);
  snt_image_free(&b);
  free(exact);
  free(bytes);
}

static void write_fixtures(test_state *ts, char *png, char *jpg, size_t size) {
  enum { W = 23, H = 17 };
  uint16_t samples[W * H * 3];
  unsigned char px[W * H * 3];
  for (int i = 0; i < W * H * 3; i++) px[i] = (unsigned char)((i * 37 + i / 7) & 0xff), samples[i] = px[i];
  fx_png p = {.width = W, .height = H, .depth = 8, .color_type = PNG_COLOR_TYPE_RGB, .samples = samples};
  CHECK(ts, fx_write_png(fx_tmp(png, size, "mem_rgb.png"), &p) == 0);
  fx_jpeg j = {.width = W, .height = H, .components = 3, .quality = 90, .in_space = JCS_RGB,
               .store_space = JCS_YCbCr, .adobe_marker = -1, .pixels = px};
  CHECK(ts, fx_write_jpeg(fx_tmp(jpg, size, "mem_rgb.jpg"), &j) == 0);
}

int main(void) {
  test_state ts = {0};
  char png[4200], jpg[4200], text[4200];
  write_fixtures(&ts, png, jpg, sizeof png);
  for (int ch = 1; ch <= 4; ch++) {
    if (ch == 2) continue;
    snt_image_opts o = {.channels = ch};
    same(&ts, png, (size_t)-1, &o);
    if (ch != 4) same(&ts, jpg, (size_t)-1, &o);
  }
  snt_image_opts d = {0};
  size_t cuts[] = {0, 3, 8, 40, 100, 300};
  for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
    same(&ts, png, cuts[i], &d);
    same(&ts, jpg, cuts[i], &d);
  }
  snt_image_opts cap = {.channels = 3, .max_pixels = 100};  /* 23 x 17 = 391 pixels */
  same(&ts, png, (size_t)-1, &cap);
  same(&ts, jpg, (size_t)-1, &cap);
  CHECK(&ts, fx_write_file(fx_tmp(text, sizeof text, "mem_text.png"), "id,label\n1,a\n", 13) == 0);
  same(&ts, text, (size_t)-1, &d);
  snt_image img = {0};
  snt_err e = {{0}};
  CHECK_INT(&ts, snt_image_load_mem("nothing", NULL, 0, NULL, &img, &e), SNT_ERR_INPUT);
  CHECK_STR(&ts, e.msg, "nothing: empty, not an image");
  return test_report("test_image_mem", &ts);
}
