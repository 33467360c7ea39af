/* PNG decoding and writing with libpng. libpng reports errors by longjmp, so every libpng call
 * runs inside a helper that does the setjmp and keeps all its state in a context struct owned by
 * the caller: nothing the helper changes lives in its own frame when a longjmp lands. */
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "image_internal.h"

typedef struct png_reader {
  const char *path;
  FILE *f;
  png_structp png;
  png_infop info;
  const snt_image__want *want;
  uint8_t *pixels;   /* interleaved 8-bit samples (want->channels) after libpng's transforms */
  png_bytep *rows;
  int width, height;
  int truncated;     /* the file ended before libpng was done */
  snt_status st;     /* set when the helper itself refuses the image */
  snt_err *e;
  char libmsg[256];  /* libpng's own words for the error */
  char warning[256]; /* its last warning, which often says more ("Image width is zero") */
} png_reader;

static void reader_error(png_structp png, png_const_charp msg) {
  png_reader *r = png_get_error_ptr(png);
  snprintf(r->libmsg, sizeof r->libmsg, "%s", msg);
  png_longjmp(png, 1);
}

/* Warnings (unknown chunks, bad ancillary CRCs, odd ICC profiles) do not stop decoding: TF
 * decodes such files too. The last one is kept for the message if an error follows. */
static void reader_warning(png_structp png, png_const_charp msg) {
  png_reader *r = png_get_error_ptr(png);
  snprintf(r->warning, sizeof r->warning, "%s", msg);
}

/* libpng would print its warnings; a library must not. */
static void writer_warning(png_structp png, png_const_charp msg) {
  (void)png;
  (void)msg;
}

static void reader_read(png_structp png, png_bytep data, size_t length) {
  png_reader *r = png_get_io_ptr(png);
  if (fread(data, 1, length, r->f) != length) {
    r->truncated = feof(r->f) != 0;
    png_error(png, r->truncated ? "unexpected end of file" : "read error");
  }
}

/* Returns 0 on success, -1 after a libpng error, -2 when r->st says why the image is refused. */
static int read_steps(png_reader *r) {
  if (setjmp(png_jmpbuf(r->png))) return -1;
  png_set_read_fn(r->png, r, reader_read);
  png_read_info(r->png, r->info);
  png_uint_32 w = 0, h = 0;
  int depth = 0, color = 0;
  png_get_IHDR(r->png, r->info, &w, &h, &depth, &color, NULL, NULL, NULL);
  r->st = snt_image__check_header(r->path, w, h, r->want, r->e);
  if (r->st != SNT_OK) return -2;
  r->width = (int)w;
  r->height = (int)h;

  /* The transforms TF's png::CommonInitDecode sets up for channels = 1, 3 or 4, dtype=uint8;
   * libpng applies them in its own fixed order whatever the order of these calls. */
  const int channels = r->want->channels;
  int has_trns = png_get_valid(r->png, r->info, PNG_INFO_tRNS) != 0;
  if (channels == 4) {
    if (color & PNG_COLOR_MASK_ALPHA) {
    } else if (has_trns) {
      png_set_tRNS_to_alpha(r->png);
    } else {
      png_set_add_alpha(r->png, (png_uint_32)((1u << depth) - 1), PNG_FILLER_AFTER);
    }
  } else if ((color & PNG_COLOR_MASK_ALPHA) || has_trns) {
    png_set_strip_alpha(r->png);
  }
  if (depth > 8) png_set_strip_16(r->png);
  png_set_packing(r->png);
  png_set_interlace_handling(r->png);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(r->png);
  int is_gray = !(color & PNG_COLOR_MASK_COLOR);
  if (is_gray && depth < 8) png_set_expand_gray_1_2_4_to_8(r->png);
  if (channels == 1) {
    /* error_action 1: no warning about pixels that were not gray; TF's ITU-R 601 weights. */
    if (!is_gray) png_set_rgb_to_gray(r->png, 1, 0.299, 0.587);
  } else if (is_gray) {
    png_set_gray_to_rgb(r->png);
  }
  png_read_update_info(r->png, r->info);
  if (png_get_channels(r->png, r->info) != channels || png_get_bit_depth(r->png, r->info) != 8 ||
      png_get_rowbytes(r->png, r->info) != (size_t)w * (size_t)channels) {
    r->st = snt_err_set(r->e, SNT_ERR_INTERNAL,
                        "%s: libpng did not convert this PNG (color type %d, %d-bit) to %d 8-bit channels",
                        r->path, color, depth, channels);
    return -2;
  }

  r->pixels = malloc((size_t)w * h * (size_t)channels);
  r->rows = malloc(h * sizeof *r->rows);
  if (!r->pixels || !r->rows) {
    r->st = snt_err_set(r->e, SNT_ERR_NOMEM, "%s: out of memory for a %ux%u image", r->path, w, h);
    return -2;
  }
  for (png_uint_32 y = 0; y < h; y++) r->rows[y] = r->pixels + (size_t)y * w * (size_t)channels;
  png_read_image(r->png, r->rows);  /* runs every Adam7 pass when the file is interlaced */
  png_read_end(r->png, NULL);
  return 0;
}

snt_status snt_image__decode_png(const char *path, FILE *f, const snt_image__want *w, snt_image *out,
                                 snt_err *e) {
  png_reader r = {.path = path, .f = f, .want = w, .e = e};
  r.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r, reader_error, reader_warning);
  if (r.png) r.info = png_create_info_struct(r.png);
  snt_status st;
  if (!r.png || !r.info) {
    st = snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory starting libpng", path);
  } else {
    int rc = read_steps(&r);
    if (rc == -2)
      st = r.st;
    else if (rc == -1 && r.truncated)
      st = snt_err_set(e, SNT_ERR_INPUT, "%s: truncated PNG: the file ends too early", path);
    else if (rc == -1)
      st = snt_err_set(e, SNT_ERR_INPUT, "%s: corrupt PNG: %s%s%s%s", path, r.libmsg, r.warning[0] ? " (" : "",
                       r.warning, r.warning[0] ? ")" : "");
    else
      st = snt_image__from_hwc8(path, r.width, r.height, w->channels, r.pixels, out, e);
  }
  png_destroy_read_struct(&r.png, &r.info, NULL);
  free(r.rows);
  free(r.pixels);
  return st;
}

/* --- writing ------------------------------------------------------------------------------- */

typedef struct png_writer {
  png_structp png;
  png_infop info;
  FILE *f;
  int width, height, channels;
  const uint8_t *hwc;
  char libmsg[256];
} png_writer;

static void writer_error(png_structp png, png_const_charp msg) {
  png_writer *w = png_get_error_ptr(png);
  snprintf(w->libmsg, sizeof w->libmsg, "%s", msg);
  png_longjmp(png, 1);
}

static int write_steps(png_writer *w) {
  if (setjmp(png_jmpbuf(w->png))) return -1;
  static const int color_of[5] = {0, PNG_COLOR_TYPE_GRAY, 0, PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
  png_init_io(w->png, w->f);
  png_set_IHDR(w->png, w->info, (png_uint_32)w->width, (png_uint_32)w->height, 8, color_of[w->channels],
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(w->png, w->info);
  size_t stride = (size_t)w->width * w->channels;
  for (int y = 0; y < w->height; y++) png_write_row(w->png, w->hwc + (size_t)y * stride);
  png_write_end(w->png, NULL);
  return 0;
}

snt_status snt_image_write_png(const char *path, int width, int height, int channels,
                               const uint8_t *hwc, snt_err *e) {
  snt_status st = snt_image__check_write_args(path, width, height, hwc, e);
  if (st != SNT_OK) return st;
  if (channels != 1 && channels != 3 && channels != 4)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: a PNG is written from 1, 3 or 4 channels, not %d", path, channels);
  snt_image__tmpfile t;
  st = snt_image__tmp_open(path, &t, e);
  if (st != SNT_OK) return st;
  png_writer w = {.f = t.f, .width = width, .height = height, .channels = channels, .hwc = hwc};
  w.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &w, writer_error, writer_warning);
  if (w.png) w.info = png_create_info_struct(w.png);
  if (!w.png || !w.info)
    st = snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory starting libpng", path);
  else if (write_steps(&w) != 0)
    st = snt_err_set(e, SNT_ERR_IO, "%s: cannot write PNG: %s", path, w.libmsg);
  png_destroy_write_struct(&w.png, &w.info);
  if (st != SNT_OK) {
    snt_image__tmp_abandon(&t);
    return st;
  }
  return snt_image__tmp_commit(path, &t, e);
}

/* The same encoder into a memory stream (open_memstream), for callers that send the bytes. */
snt_status snt_image_encode_png(int width, int height, int channels, const uint8_t *hwc, uint8_t **out, size_t *len,
                                snt_err *e) {
  *out = NULL, *len = 0;
  if (width < 1 || height < 1 || width > SNT_IMAGE_MAX_SIDE || height > SNT_IMAGE_MAX_SIDE || !hwc ||
      (channels != 1 && channels != 3 && channels != 4))
    return snt_err_set(e, SNT_ERR_INPUT, "a PNG is encoded from 1 to %d pixels a side and 1, 3 or 4 channels",
                       SNT_IMAGE_MAX_SIDE);
  char *buf = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&buf, &size);
  if (!f) return snt_err_set(e, SNT_ERR_NOMEM, "out of memory encoding a PNG");
  png_writer w = {.f = f, .width = width, .height = height, .channels = channels, .hwc = hwc};
  w.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &w, writer_error, writer_warning);
  if (w.png) w.info = png_create_info_struct(w.png);
  snt_status st = SNT_OK;
  if (!w.png || !w.info) st = snt_err_set(e, SNT_ERR_NOMEM, "out of memory starting libpng");
  else if (write_steps(&w) != 0) st = snt_err_set(e, SNT_ERR_IO, "cannot encode PNG: %s", w.libmsg);
  png_destroy_write_struct(&w.png, &w.info);
  if (fclose(f) != 0 && st == SNT_OK) st = snt_err_set(e, SNT_ERR_NOMEM, "out of memory encoding a PNG");
  if (st != SNT_OK) {
    free(buf);
    return st;
  }
  *out = (uint8_t *)buf, *len = size;
  return SNT_OK;
}
