/* Fixture helpers for the image tests. They call libpng and libjpeg directly, never the runtime's
 * own writers, so that a bug in a writer cannot hide the same bug in a reader. All functions are
 * static inline so that each test can use any subset of them without unused-function warnings. */
#ifndef SINTER_TESTS_IMAGE_FIXTURES_H
#define SINTER_TESTS_IMAGE_FIXTURES_H

#include <dirent.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "sinter/image.h"

/* --- files ------------------------------------------------------------------------------- */

/* A path in the test's scratch folder: SINTER_TEST_TMP/name. */
static inline const char *fx_tmp(char *buf, size_t size, const char *name) {
  snprintf(buf, size, "%s/%s", SINTER_TEST_TMP, name);
  return buf;
}

static inline int fx_write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t put = n ? fwrite(data, 1, n, f) : 0;
  return (fclose(f) == 0 && put == n) ? 0 : -1;
}

/* Reads a whole file into a malloc'd buffer (NULL on failure); *n receives its size. */
static inline unsigned char *fx_read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, len = 0;
  unsigned char *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
    len += got;
    if (len == cap) {
      unsigned char *bigger = realloc(buf, cap *= 2);
      if (!bigger) free(buf);
      buf = bigger;
    }
  }
  fclose(f);
  *n = len;
  return buf;
}

/* Copies the first `keep` bytes of `src` to `dst`: a file cut short. */
static inline int fx_truncated_copy(const char *src, const char *dst, size_t keep) {
  size_t n = 0;
  unsigned char *data = fx_read_file(src, &n);
  if (!data) return -1;
  int rc = fx_write_file(dst, data, keep < n ? keep : n);
  free(data);
  return rc;
}

static inline uint32_t fx_crc32(const unsigned char *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
  }
  return c ^ 0xffffffffu;
}

static inline void fx_put_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8),
  p[3] = (unsigned char)v;
}

static inline uint32_t fx_get_be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The IHDR fields of a PNG file, read from its bytes (what `file` prints). */
typedef struct fx_ihdr {
  uint32_t width, height;
  int depth, color_type, interlace;
} fx_ihdr;

static inline int fx_read_ihdr(const char *path, fx_ihdr *h) {
  unsigned char b[33];
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  size_t n = fread(b, 1, sizeof b, f);
  fclose(f);
  if (n != sizeof b || memcmp(b, "\x89PNG\r\n\x1a\n", 8) != 0 || memcmp(b + 12, "IHDR", 4) != 0) return -1;
  h->width = fx_get_be32(b + 16);
  h->height = fx_get_be32(b + 20);
  h->depth = b[24];
  h->color_type = b[25];
  h->interlace = b[28];
  return 0;
}

/* --- PNG fixtures ------------------------------------------------------------------------ */

/* A PNG to write: unpacked samples (one uint16 per sample, in file order, `channels` per
 * pixel for the colour type; palette images hold indices), packed here to the bit depth. */
typedef struct fx_png {
  int width, height, depth, color_type, interlace;
  const uint16_t *samples;
  const png_color *palette;
  int npalette;
  const png_byte *trans_alpha;    /* palette transparency, ntrans entries */
  int ntrans;
  const png_color_16 *trans_color;  /* gray or RGB transparency */
} fx_png;

static inline int fx_png_channels(int color_type) {
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: case PNG_COLOR_TYPE_PALETTE: return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    default: return 4;
  }
}

/* Packs one row of samples: MSB-first below 8 bits, big-endian at 16. */
static inline void fx_png_pack_row(const fx_png *s, int y, unsigned char *row) {
  int n = s->width * fx_png_channels(s->color_type);
  const uint16_t *v = s->samples + (size_t)y * n;
  if (s->depth == 16) {
    for (int i = 0; i < n; i++) row[2 * i] = (unsigned char)(v[i] >> 8), row[2 * i + 1] = (unsigned char)v[i];
  } else if (s->depth == 8) {
    for (int i = 0; i < n; i++) row[i] = (unsigned char)v[i];
  } else {
    int per = 8 / s->depth;
    memset(row, 0, (size_t)(n + per - 1) / per);
    for (int i = 0; i < n; i++)
      row[i / per] |= (unsigned char)(v[i] << (8 - s->depth * (i % per + 1)));
  }
}

typedef struct fx_png_writer {
  png_structp png;
  png_infop info;
  FILE *f;
  const fx_png *spec;
  unsigned char *rows;
  png_bytep *rowp;
} fx_png_writer;

static inline int fx_png_write_steps(fx_png_writer *w) {
  if (setjmp(png_jmpbuf(w->png))) return -1;
  const fx_png *s = w->spec;
  png_init_io(w->png, w->f);
  png_set_IHDR(w->png, w->info, (png_uint_32)s->width, (png_uint_32)s->height, s->depth, s->color_type,
               s->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (s->palette) png_set_PLTE(w->png, w->info, s->palette, s->npalette);
  if (s->trans_alpha || s->trans_color)
    png_set_tRNS(w->png, w->info, s->trans_alpha, s->ntrans, s->trans_color);
  png_write_info(w->png, w->info);
  png_write_image(w->png, w->rowp);  /* runs the Adam7 passes itself when interlaced */
  png_write_end(w->png, NULL);
  return 0;
}

static inline int fx_write_png(const char *path, const fx_png *s) {
  size_t stride = ((size_t)s->width * fx_png_channels(s->color_type) * s->depth + 7) / 8;
  fx_png_writer w = {.spec = s};
  w.rows = malloc(stride * s->height);
  w.rowp = malloc(sizeof *w.rowp * s->height);
  w.f = fopen(path, "wb");
  int rc = -1;
  if (w.rows && w.rowp && w.f) {
    for (int y = 0; y < s->height; y++) {
      w.rowp[y] = w.rows + stride * y;
      fx_png_pack_row(s, y, w.rowp[y]);
    }
    w.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    if (w.png) w.info = png_create_info_struct(w.png);
    if (w.info) rc = fx_png_write_steps(&w);
    png_destroy_write_struct(&w.png, &w.info);
  }
  if (w.f && fclose(w.f) != 0) rc = -1;
  free(w.rows);
  free(w.rowp);
  return rc;
}

/* Decodes a PNG with libpng and no transforms except expanding sub-byte samples to one byte
 * each: returns malloc'd interleaved samples (16-bit ones big-endian, two bytes), or NULL. */
typedef struct fx_png_reader {
  png_structp png;
  png_infop info;
  FILE *f;
  unsigned char *data;
  png_bytep *rowp;
  fx_ihdr h;
  int channels;
} fx_png_reader;

static inline int fx_png_read_steps(fx_png_reader *r) {
  if (setjmp(png_jmpbuf(r->png))) return -1;
  png_init_io(r->png, r->f);
  png_read_info(r->png, r->info);
  r->h.width = png_get_image_width(r->png, r->info);
  r->h.height = png_get_image_height(r->png, r->info);
  r->h.depth = png_get_bit_depth(r->png, r->info);
  r->h.color_type = png_get_color_type(r->png, r->info);
  r->h.interlace = png_get_interlace_type(r->png, r->info);
  png_set_packing(r->png);
  png_set_interlace_handling(r->png);
  png_read_update_info(r->png, r->info);
  r->channels = png_get_channels(r->png, r->info);
  size_t stride = png_get_rowbytes(r->png, r->info);
  r->data = malloc(stride * r->h.height);
  r->rowp = malloc(sizeof *r->rowp * r->h.height);
  if (!r->data || !r->rowp) return -1;
  for (uint32_t y = 0; y < r->h.height; y++) r->rowp[y] = r->data + stride * y;
  png_read_image(r->png, r->rowp);
  png_read_end(r->png, NULL);
  return 0;
}

static inline unsigned char *fx_read_png_raw(const char *path, fx_ihdr *h, int *channels) {
  fx_png_reader r = {0};
  r.f = fopen(path, "rb");
  if (!r.f) return NULL;
  r.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  if (r.png) r.info = png_create_info_struct(r.png);
  int rc = r.info ? fx_png_read_steps(&r) : -1;
  png_destroy_read_struct(&r.png, &r.info, NULL);
  fclose(r.f);
  free(r.rowp);
  if (rc != 0) {
    free(r.data);
    return NULL;
  }
  *h = r.h;
  *channels = r.channels;
  return r.data;
}

/* --- JPEG fixtures ----------------------------------------------------------------------- */

typedef struct fx_jpeg_err {
  struct jpeg_error_mgr mgr;
  jmp_buf jump;
} fx_jpeg_err;

static inline void fx_jpeg_error_exit(j_common_ptr cinfo) { longjmp(((fx_jpeg_err *)cinfo->err)->jump, 1); }
static inline void fx_jpeg_silent(j_common_ptr cinfo) { (void)cinfo; }

/* A JPEG to write from interleaved samples in `in_space` (JCS_GRAYSCALE, JCS_RGB or JCS_CMYK),
 * stored as `store_space` (JCS_GRAYSCALE, JCS_YCbCr, JCS_RGB, JCS_CMYK or JCS_YCCK). */
typedef struct fx_jpeg {
  int width, height, components, quality, progressive;
  J_COLOR_SPACE in_space, store_space;
  int adobe_marker;  /* -1: libjpeg's default for the colour space; 0 or 1: forced */
  const unsigned char *pixels;
} fx_jpeg;

typedef struct fx_jpeg_writer {
  struct jpeg_compress_struct cinfo;
  fx_jpeg_err err;
  FILE *f;
  const fx_jpeg *spec;
} fx_jpeg_writer;

static inline int fx_jpeg_write_steps(fx_jpeg_writer *w) {
  if (setjmp(w->err.jump)) return -1;
  const fx_jpeg *s = w->spec;
  jpeg_create_compress(&w->cinfo);
  jpeg_stdio_dest(&w->cinfo, w->f);
  w->cinfo.image_width = (JDIMENSION)s->width;
  w->cinfo.image_height = (JDIMENSION)s->height;
  w->cinfo.input_components = s->components;
  w->cinfo.in_color_space = s->in_space;
  jpeg_set_defaults(&w->cinfo);
  jpeg_set_colorspace(&w->cinfo, s->store_space);
  if (s->adobe_marker >= 0) w->cinfo.write_Adobe_marker = (boolean)s->adobe_marker;
  jpeg_set_quality(&w->cinfo, s->quality, TRUE);
  if (s->progressive) jpeg_simple_progression(&w->cinfo);
  jpeg_start_compress(&w->cinfo, TRUE);
  size_t stride = (size_t)s->width * s->components;
  while (w->cinfo.next_scanline < w->cinfo.image_height) {
    JSAMPROW row = (JSAMPROW)(uintptr_t)(s->pixels + stride * w->cinfo.next_scanline);
    jpeg_write_scanlines(&w->cinfo, &row, 1);
  }
  jpeg_finish_compress(&w->cinfo);
  return 0;
}

static inline int fx_write_jpeg(const char *path, const fx_jpeg *s) {
  fx_jpeg_writer w = {.spec = s};
  w.cinfo.err = jpeg_std_error(&w.err.mgr);
  w.err.mgr.error_exit = fx_jpeg_error_exit;
  w.err.mgr.output_message = fx_jpeg_silent;
  w.f = fopen(path, "wb");
  if (!w.f) return -1;
  int rc = fx_jpeg_write_steps(&w);
  jpeg_destroy_compress(&w.cinfo);
  if (fclose(w.f) != 0) rc = -1;
  return rc;
}

/* libjpeg's own decode of a file, with TF's settings (IFAST IDCT, fancy upsampling) and the given
 * output colour space: malloc'd interleaved samples, or NULL. */
typedef struct fx_jpeg_reader {
  struct jpeg_decompress_struct cinfo;
  fx_jpeg_err err;
  FILE *f;
  J_COLOR_SPACE out_space;
  unsigned char *data;
  int width, height, components, saw_adobe;
} fx_jpeg_reader;

static inline int fx_jpeg_read_steps(fx_jpeg_reader *r) {
  if (setjmp(r->err.jump)) return -1;
  jpeg_create_decompress(&r->cinfo);
  jpeg_stdio_src(&r->cinfo, r->f);
  jpeg_read_header(&r->cinfo, TRUE);
  r->cinfo.out_color_space = r->out_space;
  r->cinfo.dct_method = JDCT_IFAST;
  r->cinfo.do_fancy_upsampling = TRUE;
  jpeg_start_decompress(&r->cinfo);
  r->width = (int)r->cinfo.output_width;
  r->height = (int)r->cinfo.output_height;
  r->components = r->cinfo.output_components;
  r->saw_adobe = r->cinfo.saw_Adobe_marker;
  size_t stride = (size_t)r->width * r->components;
  r->data = malloc(stride * r->height);
  if (!r->data) return -1;
  while (r->cinfo.output_scanline < r->cinfo.output_height) {
    JSAMPROW row = r->data + stride * r->cinfo.output_scanline;
    jpeg_read_scanlines(&r->cinfo, &row, 1);
  }
  jpeg_finish_decompress(&r->cinfo);
  return 0;
}

static inline unsigned char *fx_read_jpeg_ref(const char *path, J_COLOR_SPACE out_space, int *width,
                                              int *height, int *components, int *saw_adobe) {
  fx_jpeg_reader r = {.out_space = out_space};
  r.cinfo.err = jpeg_std_error(&r.err.mgr);
  r.err.mgr.error_exit = fx_jpeg_error_exit;
  r.err.mgr.output_message = fx_jpeg_silent;
  r.f = fopen(path, "rb");
  if (!r.f) return NULL;
  int rc = fx_jpeg_read_steps(&r);
  jpeg_destroy_decompress(&r.cinfo);
  fclose(r.f);
  if (rc != 0) {
    free(r.data);
    return NULL;
  }
  *width = r.width, *height = r.height, *components = r.components;
  if (saw_adobe) *saw_adobe = r.saw_adobe;
  return r.data;
}

/* --- comparing --------------------------------------------------------------------------- */

/* Index of the first element where img (planar floats) differs from interleaved 8-bit `rgb`
 * (3 values a pixel), or -1 when every value is equal. */
static inline long fx_first_diff_rgb(const snt_image *img, const unsigned char *rgb) {
  size_t plane = (size_t)img->width * img->height;
  for (size_t i = 0; i < plane; i++)
    for (int c = 0; c < 3; c++)
      if (img->data[c * plane + i] != (float)rgb[3 * i + c]) return (long)(3 * i + c);
  return -1;
}

/* Largest |img - rgb| over all values. */
static inline int fx_max_abs_diff_rgb(const snt_image *img, const unsigned char *rgb) {
  size_t plane = (size_t)img->width * img->height;
  float worst = 0;
  for (size_t i = 0; i < plane; i++)
    for (int c = 0; c < 3; c++) {
      float d = img->data[c * plane + i] - (float)rgb[3 * i + c];
      if (d < 0) d = -d;
      if (d > worst) worst = d;
    }
  return (int)worst;
}

/* Sorted names of the regular entries of a folder that end in `suffix` (malloc'd array of
 * malloc'd strings; *count entries), or NULL when the folder cannot be read. */
static inline int fx_cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static inline char **fx_list_dir(const char *dir, const char *suffix, int *count) {
  DIR *d = opendir(dir);
  *count = 0;
  if (!d) return NULL;
  char **names = NULL;
  int cap = 0;
  struct dirent *ent;
  size_t sl = strlen(suffix);
  while ((ent = readdir(d)) != NULL) {
    size_t l = strlen(ent->d_name);
    if (ent->d_name[0] == '.' || l < sl || strcmp(ent->d_name + l - sl, suffix) != 0) continue;
    if (*count == cap) {
      cap = cap ? 2 * cap : 16;
      char **bigger = realloc(names, sizeof *names * cap);
      if (!bigger) break;
      names = bigger;
    }
    names[(*count)++] = strdup(ent->d_name);
  }
  closedir(d);
  if (names) qsort(names, (size_t)*count, sizeof *names, fx_cmp_str);
  return names;
}

static inline void fx_free_list(char **names, int count) {
  for (int i = 0; i < count; i++) free(names[i]);
  free(names);
}

#endif
