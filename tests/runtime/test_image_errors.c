/* Bad input: every failure is a status and a message that names the file and says what is wrong;
 * nothing crashes, prints or leaks (the sanitizer build runs this too), and `out` stays empty. */
#include <stdlib.h>

#include "check.h"
#include "image_fixtures.h"

/* Loads `path`, expecting `want` and a message that contains the path and `phrase`. */
static void expect_error(test_state *ts, const char *path, snt_status want, const char *phrase) {
  snt_image img = {.width = 99, .data = (float *)&img};  /* garbage the loader must clear */
  snt_err e = {{0}};
  snt_status st = snt_image_load(path, &img, &e);
  CHECK_INT(ts, st, want);
  CHECK(ts, img.data == NULL && img.width == 0 && img.height == 0 && img.channels == 0);
  int names_file = strstr(e.msg, path) != NULL, says_why = strstr(e.msg, phrase) != NULL;
  if (!names_file || !says_why) fprintf(stderr, "message for %s: \"%s\" (want \"%s\")\n", path, e.msg, phrase);
  CHECK(ts, names_file);
  CHECK(ts, says_why);
  snt_image_free(&img);
}

/* A PNG made of the signature, an IHDR with the given fields and a correct CRC, then `tail`. */
static int craft_png(const char *path, uint32_t w, uint32_t h, int depth, int color,
                     const unsigned char *tail, size_t tail_len) {
  unsigned char buf[33 + 64];
  memcpy(buf, "\x89PNG\r\n\x1a\n", 8);
  fx_put_be32(buf + 8, 13);
  memcpy(buf + 12, "IHDR", 4);
  fx_put_be32(buf + 16, w);
  fx_put_be32(buf + 20, h);
  buf[24] = (unsigned char)depth, buf[25] = (unsigned char)color, buf[26] = buf[27] = buf[28] = 0;
  fx_put_be32(buf + 29, fx_crc32(buf + 12, 17));
  if (tail_len > 64) return -1;
  if (tail_len) memcpy(buf + 33, tail, tail_len);
  return fx_write_file(path, buf, 33 + tail_len);
}

/* Offset of the first chunk of type `type` in a PNG held in memory, or 0. */
static size_t find_chunk(const unsigned char *p, size_t n, const char *type) {
  for (size_t at = 8; at + 12 <= n; at += 12 + fx_get_be32(p + at))
    if (memcmp(p + at + 4, type, 4) == 0) return at;
  return 0;
}

/* A real image to cut up: the first PNG of the shared X-rays when they are there (so the cuts
 * fall inside real compressed data), otherwise a noisy fixture of the same size. */
static void source_png(char *path, size_t size) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s/data/cxr-256/COVID", SINTER_SHARED_DIR);
  int count = 0;
  char **names = fx_list_dir(dir, ".png", &count);
  if (count > 0) {
    snprintf(path, size, "%s/%s", dir, names[0]);
  } else {
    fprintf(stderr, "note: %s is not there; cutting a generated PNG instead\n", dir);
    uint16_t *v = malloc(sizeof *v * 256 * 256 * 3);
    for (int i = 0; i < 256 * 256 * 3; i++) v[i] = (uint16_t)((i * 7919u) % 251);
    fx_tmp(path, size, "err_source.png");
    fx_write_png(path, &(fx_png){.width = 256, .height = 256, .depth = 8, .color_type = PNG_COLOR_TYPE_RGB, .samples = v});
    free(v);
  }
  fx_free_list(names, count);
}

static void check_files(test_state *ts) {
  char path[512];
  expect_error(ts, fx_tmp(path, sizeof path, "does_not_exist.png"), SNT_ERR_IO, "No such file");
  fx_write_file(fx_tmp(path, sizeof path, "err_empty.png"), "", 0);
  expect_error(ts, path, SNT_ERR_INPUT, "empty file");
  expect_error(ts, SINTER_TEST_TMP, SNT_ERR_INPUT, "is a directory");  /* refused before any read */
  const char *text = "label,file\nCOVID,COVID-1.png\n";
  fx_write_file(fx_tmp(path, sizeof path, "err_text.png"), text, strlen(text));
  expect_error(ts, path, SNT_ERR_INPUT, "not a PNG, JPEG or DICOM");
  unsigned char noise[1000];
  for (size_t i = 0; i < sizeof noise; i++) noise[i] = (unsigned char)(i * 2654435761u >> 13);
  noise[0] = 0x42;  /* not a magic byte by chance */
  fx_write_file(fx_tmp(path, sizeof path, "err_noise.jpg"), noise, sizeof noise);
  expect_error(ts, path, SNT_ERR_INPUT, "not a PNG, JPEG or DICOM");
  fx_write_file(fx_tmp(path, sizeof path, "err_gif.png"), "GIF89a\x01\x00\x01\x00", 10);
  expect_error(ts, path, SNT_ERR_INPUT, "not a PNG, JPEG or DICOM");

  snt_err e = {{0}};
  snt_image img;
  CHECK_INT(ts, snt_image_load(NULL, &img, &e), SNT_ERR_INTERNAL);
  CHECK_INT(ts, snt_image_load(path, NULL, &e), SNT_ERR_INTERNAL);
  CHECK_INT(ts, snt_image_load("/nonexistent/x.png", &img, NULL), SNT_ERR_IO);  /* e may be NULL */
  snt_image_free(NULL);
}

static void check_png(test_state *ts) {
  char src[1024], path[512];
  source_png(src, sizeof src);
  size_t n = 0;
  unsigned char *data = fx_read_file(src, &n);
  CHECK(ts, data && n > 1000);
  if (!data || n <= 1000) return;

  fx_write_file(fx_tmp(path, sizeof path, "err_png_sig5.png"), data, 5);
  expect_error(ts, path, SNT_ERR_INPUT, "truncated PNG");
  fx_write_file(fx_tmp(path, sizeof path, "err_png_sig8.png"), data, 8);
  expect_error(ts, path, SNT_ERR_INPUT, "truncated PNG");
  fx_write_file(fx_tmp(path, sizeof path, "err_png_cut100.png"), data, 100);
  expect_error(ts, path, SNT_ERR_INPUT, "truncated PNG");
  fx_write_file(fx_tmp(path, sizeof path, "err_png_cut_half.png"), data, n / 2);
  expect_error(ts, path, SNT_ERR_INPUT, "truncated PNG");
  fx_write_file(fx_tmp(path, sizeof path, "err_png_cut_last_byte.png"), data, n - 1);
  expect_error(ts, path, SNT_ERR_INPUT, "truncated PNG");

  /* A flipped bit inside the image data: the chunk CRC no longer matches. */
  size_t idat = find_chunk(data, n, "IDAT");
  CHECK(ts, idat > 0);
  unsigned char *bad = malloc(n);
  memcpy(bad, data, n);
  bad[idat + 8 + 100] ^= 0x10;
  fx_write_file(fx_tmp(path, sizeof path, "err_png_crc.png"), bad, n);
  expect_error(ts, path, SNT_ERR_INPUT, "corrupt PNG");
  /* The same damage with the CRC made to match: zlib's own checks catch it. Garbage over the
   * whole first IDAT leaves no chance of decoding to something plausible. */
  uint32_t len = fx_get_be32(bad + idat);
  for (uint32_t i = 0; i < len; i++) bad[idat + 8 + i] = (unsigned char)(i * 2654435761u >> 11);
  fx_put_be32(bad + idat + 8 + len, fx_crc32(bad + idat + 4, len + 4));
  fx_write_file(fx_tmp(path, sizeof path, "err_png_zlib.png"), bad, n);
  expect_error(ts, path, SNT_ERR_INPUT, "corrupt PNG");
  /* An IHDR that promises more rows than the image data holds. */
  memcpy(bad, data, n);
  fx_put_be32(bad + 20, fx_get_be32(bad + 20) + 1);
  fx_put_be32(bad + 29, fx_crc32(bad + 12, 17));
  fx_write_file(fx_tmp(path, sizeof path, "err_png_short_data.png"), bad, n);
  expect_error(ts, path, SNT_ERR_INPUT, "corrupt PNG");
  free(bad);
  free(data);

  /* Headers only: the sizes are refused before any image data is read. */
  const unsigned char idat_head[8] = {0, 0, 0, 10, 'I', 'D', 'A', 'T'};
  craft_png(fx_tmp(path, sizeof path, "err_png_wide.png"), 40000, 1, 8, 0, idat_head, 8);
  expect_error(ts, path, SNT_ERR_INPUT, "40000x1 pixels; more than 32768");
  craft_png(fx_tmp(path, sizeof path, "err_png_tall.png"), 1, 32769, 8, 0, idat_head, 8);
  expect_error(ts, path, SNT_ERR_INPUT, "more than 32768");
  craft_png(fx_tmp(path, sizeof path, "err_png_many.png"), 16385, 16384, 1, 0, idat_head, 8);
  expect_error(ts, path, SNT_ERR_INPUT, "more than 2^28");
  craft_png(fx_tmp(path, sizeof path, "err_png_zero.png"), 0, 10, 8, 0, idat_head, 8);
  expect_error(ts, path, SNT_ERR_INPUT, "corrupt PNG");  /* libpng refuses a zero width itself */
  craft_png(fx_tmp(path, sizeof path, "err_png_depth.png"), 4, 4, 3, 0, idat_head, 8);
  expect_error(ts, path, SNT_ERR_INPUT, "corrupt PNG");  /* no 3-bit PNGs */
  craft_png(fx_tmp(path, sizeof path, "err_png_noidat.png"), 4, 4, 8, 0, NULL, 0);
  expect_error(ts, path, SNT_ERR_INPUT, "truncated PNG");
}

/* Offset of the SOFn marker (FFC0..FFC2) in a JPEG held in memory, or 0. */
static size_t find_sof(const unsigned char *p, size_t n) {
  for (size_t i = 2; i + 9 < n; i++)
    if (p[i] == 0xff && p[i + 1] >= 0xc0 && p[i + 1] <= 0xc2) return i;
  return 0;
}

static void check_jpeg(test_state *ts) {
  /* A real X-ray re-encoded as JPEG (in the scratch folder only), so that the cuts fall inside
   * real entropy-coded data. */
  char src[1024], path[512], jpg[512];
  source_png(src, sizeof src);
  fx_ihdr h = {0};
  int ch = 0;
  unsigned char *raw = fx_read_png_raw(src, &h, &ch);
  CHECK(ts, raw && h.depth == 8 && (ch == 1 || ch == 3));
  if (!raw || h.depth != 8 || (ch != 1 && ch != 3)) return;
  fx_jpeg s = {.width = (int)h.width, .height = (int)h.height, .components = ch, .quality = 90,
               .in_space = ch == 1 ? JCS_GRAYSCALE : JCS_RGB, .store_space = ch == 1 ? JCS_GRAYSCALE : JCS_YCbCr,
               .adobe_marker = -1, .pixels = raw};
  CHECK_INT(ts, fx_write_jpeg(fx_tmp(jpg, sizeof jpg, "err_source.jpg"), &s), 0);
  free(raw);
  snt_image ok;
  snt_err e = {{0}};
  CHECK_INT(ts, snt_image_load(jpg, &ok, &e), SNT_OK);  /* the uncut file is fine */
  snt_image_free(&ok);

  size_t n = 0;
  unsigned char *data = fx_read_file(jpg, &n);
  CHECK(ts, data && n > 1000);
  if (!data || n <= 1000) return;
  fx_write_file(fx_tmp(path, sizeof path, "err_jpeg_magic.jpg"), data, 3);
  expect_error(ts, path, SNT_ERR_INPUT, "truncated JPEG");
  fx_write_file(fx_tmp(path, sizeof path, "err_jpeg_cut200.jpg"), data, 200);
  expect_error(ts, path, SNT_ERR_INPUT, "truncated JPEG");
  fx_write_file(fx_tmp(path, sizeof path, "err_jpeg_cut_half.jpg"), data, n / 2);
  expect_error(ts, path, SNT_ERR_INPUT, "truncated JPEG");
  fx_write_file(fx_tmp(path, sizeof path, "err_jpeg_no_eoi.jpg"), data, n - 2);
  expect_error(ts, path, SNT_ERR_INPUT, "truncated JPEG");

  size_t sof = find_sof(data, n);
  CHECK(ts, sof > 0);
  unsigned char *bad = malloc(n);
  memcpy(bad, data, n);
  bad[sof + 4] = 13;  /* sample precision */
  fx_write_file(fx_tmp(path, sizeof path, "err_jpeg_precision.jpg"), bad, n);
  expect_error(ts, path, SNT_ERR_INPUT, "corrupt or unsupported JPEG");
  /* Sizes: SOF holds height then width, big-endian 16-bit. */
  memcpy(bad, data, n);
  bad[sof + 7] = 40000 >> 8, bad[sof + 8] = 40000 & 0xff;
  fx_write_file(fx_tmp(path, sizeof path, "err_jpeg_wide.jpg"), bad, n);
  expect_error(ts, path, SNT_ERR_INPUT, "more than 32768");
  memcpy(bad, data, n);
  bad[sof + 5] = 16385 >> 8, bad[sof + 6] = 16385 & 0xff, bad[sof + 7] = 16384 >> 8, bad[sof + 8] = 0;
  fx_write_file(fx_tmp(path, sizeof path, "err_jpeg_many.jpg"), bad, n);
  expect_error(ts, path, SNT_ERR_INPUT, "more than 2^28");
  /* Garbage over the middle of the entropy-coded data. */
  memcpy(bad, data, n);
  for (size_t i = n / 2; i < n / 2 + 200; i++) bad[i] = (unsigned char)(i * 2654435761u >> 9);
  fx_write_file(fx_tmp(path, sizeof path, "err_jpeg_garbage.jpg"), bad, n);
  expect_error(ts, path, SNT_ERR_INPUT, "corrupt");
  free(bad);
  free(data);
}

int main(void) {
  test_state ts = {0};
  check_files(&ts);
  check_png(&ts);
  check_jpeg(&ts);
  return test_report("test_image_errors", &ts);
}
