/* JPEG decoding and writing with libjpeg(-turbo). libjpeg's default error manager calls exit();
 * ours formats the message and longjmps back, and the setjmp sits in a helper whose state lives
 * in a context struct owned by the caller (see png.c for why). */
#include <setjmp.h>
#include <stdio.h> /* before jpeglib.h, which uses FILE without including it */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "image_internal.h"

typedef struct jpeg_errors {
  struct jpeg_error_mgr mgr;  /* first, so that cinfo->err can be cast back */
  jmp_buf jump;
  int truncated;
  char msg[JMSG_LENGTH_MAX];
} jpeg_errors;

static void on_error_exit(j_common_ptr cinfo) {
  jpeg_errors *je = (jpeg_errors *)cinfo->err;
  cinfo->err->format_message(cinfo, je->msg);
  longjmp(je->jump, 1);
}

/* libjpeg only warns about damaged entropy-coded data and goes on with grey or garbled blocks;
 * we stop there, since a silently damaged X-ray is worse than an error. Other warnings (such as
 * extraneous bytes before a marker, common in real files) are counted and ignored. */
static void on_message(j_common_ptr cinfo, int level) {
  jpeg_errors *je = (jpeg_errors *)cinfo->err;
  if (level >= 0) return;  /* trace messages */
  int code = cinfo->err->msg_code;
  if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE ||
      code == JWRN_MUST_RESYNC) {
    je->truncated = code == JWRN_JPEG_EOF;
    cinfo->err->format_message(cinfo, je->msg);
    longjmp(je->jump, 1);
  }
  cinfo->err->num_warnings++;
}

static void no_output(j_common_ptr cinfo) { (void)cinfo; }

static void install_errors(jpeg_errors *je) {
  jpeg_std_error(&je->mgr);
  je->mgr.error_exit = on_error_exit;
  je->mgr.emit_message = on_message;
  je->mgr.output_message = no_output;
}

typedef struct jpeg_reader {
  const char *path;
  FILE *f;
  struct jpeg_decompress_struct cinfo;
  jpeg_errors err;
  int created;
  const snt_image__want *want;
  uint8_t *pixels;  /* interleaved 8-bit samples: gray or RGB */
  uint8_t *cmyk;    /* one CMYK scanline */
  int width, height;
  snt_status st;
  snt_err *e;
} jpeg_reader;

/* Returns 0 on success, -1 after a libjpeg error, -2 when r->st says why the image is refused. */
static int read_steps(jpeg_reader *r) {
  r->cinfo.err = &r->err.mgr;
  if (setjmp(r->err.jump)) return -1;
  r->created = 1;  /* jpeg_destroy copes with a half-created struct: it was zeroed */
  jpeg_create_decompress(&r->cinfo);
  jpeg_stdio_src(&r->cinfo, r->f);
  jpeg_read_header(&r->cinfo, TRUE);
  r->st = snt_image__check_header(r->path, r->cinfo.image_width, r->cinfo.image_height, r->want, r->e);
  if (r->st != SNT_OK) return -2;
  r->width = (int)r->cinfo.image_width;
  r->height = (int)r->cinfo.image_height;

  /* TF's settings (jpeg_mem.cc, decode_image_op.cc): for 1 channel libjpeg's own grayscale
   * output; for 3, CMYK/YCCK come out as CMYK and are converted below, everything else as RGB;
   * IFAST IDCT; fancy upsampling. TF has no 4-channel JPEG, nor gray from CMYK. */
  const int channels = r->want->channels;
  int cmyk = r->cinfo.jpeg_color_space == JCS_CMYK || r->cinfo.jpeg_color_space == JCS_YCCK;
  if (channels == 4) {
    r->st = snt_err_set(r->e, SNT_ERR_INPUT, "%s: a JPEG has no alpha: this model takes 4-channel (RGBA) images, "
                        "which only PNG gives (TensorFlow decodes JPEG to 1 or 3 channels)", r->path);
    return -2;
  }
  if (channels == 1 && cmyk) {
    r->st = snt_err_set(r->e, SNT_ERR_INPUT, "%s: a CMYK JPEG cannot be read as 1 channel (libjpeg has no "
                        "CMYK-to-gray conversion, nor has TensorFlow)", r->path);
    return -2;
  }
  r->cinfo.out_color_space = channels == 1 ? JCS_GRAYSCALE : cmyk ? JCS_CMYK : JCS_RGB;
  r->cinfo.dct_method = JDCT_IFAST;
  r->cinfo.do_fancy_upsampling = TRUE;
  jpeg_start_decompress(&r->cinfo);
  if (r->cinfo.output_width != r->cinfo.image_width || r->cinfo.output_height != r->cinfo.image_height ||
      r->cinfo.output_components != (cmyk ? 4 : channels)) {
    r->st = snt_err_set(r->e, SNT_ERR_INTERNAL, "%s: libjpeg did not decode this JPEG to %s", r->path,
                        cmyk ? "CMYK" : channels == 1 ? "gray" : "RGB");
    return -2;
  }
  size_t w = (size_t)r->width, stride = w * (size_t)channels;
  r->pixels = malloc(stride * (size_t)r->height);
  r->cmyk = cmyk ? malloc(w * 4) : NULL;
  if (!r->pixels || (cmyk && !r->cmyk)) {
    r->st = snt_err_set(r->e, SNT_ERR_NOMEM, "%s: out of memory for a %dx%d image", r->path, r->width,
                        r->height);
    return -2;
  }
  int adobe = r->cinfo.saw_Adobe_marker;
  while (r->cinfo.output_scanline < r->cinfo.output_height) {
    uint8_t *row = r->pixels + (size_t)r->cinfo.output_scanline * stride;
    JSAMPROW dst = cmyk ? r->cmyk : row;
    if (jpeg_read_scanlines(&r->cinfo, &dst, 1) != 1) {
      r->err.truncated = 1;  /* only a suspending data source returns no line; ours never suspends */
      return -1;
    }
    if (!cmyk) continue;
    for (size_t x = 0; x < w; x++) {
      const int c = r->cmyk[4 * x], m = r->cmyk[4 * x + 1], y = r->cmyk[4 * x + 2], k = r->cmyk[4 * x + 3];
      if (adobe) {  /* Adobe's inverted CMYK: 255 = no ink */
        row[3 * x] = (uint8_t)(k * c / 255);
        row[3 * x + 1] = (uint8_t)(k * m / 255);
        row[3 * x + 2] = (uint8_t)(k * y / 255);
      } else {
        row[3 * x] = (uint8_t)((255 - k) * (255 - c) / 255);
        row[3 * x + 1] = (uint8_t)((255 - k) * (255 - m) / 255);
        row[3 * x + 2] = (uint8_t)((255 - k) * (255 - y) / 255);
      }
    }
  }
  jpeg_finish_decompress(&r->cinfo);
  return 0;
}

snt_status snt_image__decode_jpeg(const char *path, FILE *f, const snt_image__want *w, snt_image *out,
                                  snt_err *e) {
  jpeg_reader r = {.path = path, .f = f, .want = w, .e = e};
  install_errors(&r.err);
  int rc = read_steps(&r);
  snt_status st;
  if (rc == -2)
    st = r.st;
  else if (rc == -1 && r.err.truncated)
    st = snt_err_set(e, SNT_ERR_INPUT, "%s: truncated JPEG: the file ends too early", path);
  else if (rc == -1)
    st = snt_err_set(e, SNT_ERR_INPUT, "%s: corrupt or unsupported JPEG: %s", path, r.err.msg);
  else
    st = snt_image__from_hwc8(path, r.width, r.height, w->channels, r.pixels, out, e);
  if (r.created) jpeg_destroy_decompress(&r.cinfo);
  free(r.cmyk);
  free(r.pixels);
  return st;
}

/* --- writing ------------------------------------------------------------------------------- */

typedef struct jpeg_writer {
  struct jpeg_compress_struct cinfo;
  jpeg_errors err;
  int created;
  FILE *f;
  int width, height, channels, quality;
  const uint8_t *hwc;
} jpeg_writer;

static int write_steps(jpeg_writer *w) {
  w->cinfo.err = &w->err.mgr;
  if (setjmp(w->err.jump)) return -1;
  w->created = 1;
  jpeg_create_compress(&w->cinfo);
  jpeg_stdio_dest(&w->cinfo, w->f);
  w->cinfo.image_width = (JDIMENSION)w->width;
  w->cinfo.image_height = (JDIMENSION)w->height;
  w->cinfo.input_components = w->channels;
  w->cinfo.in_color_space = w->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&w->cinfo);
  jpeg_set_quality(&w->cinfo, w->quality, TRUE);
  jpeg_start_compress(&w->cinfo, TRUE);
  size_t stride = (size_t)w->width * w->channels;
  while (w->cinfo.next_scanline < w->cinfo.image_height) {
    /* libjpeg's row type is not const, but it only reads the rows it is given. */
    JSAMPROW row = (JSAMPROW)(uintptr_t)(w->hwc + (size_t)w->cinfo.next_scanline * stride);
    jpeg_write_scanlines(&w->cinfo, &row, 1);
  }
  jpeg_finish_compress(&w->cinfo);
  return 0;
}

snt_status snt_image_write_jpeg(const char *path, int width, int height, int channels,
                                const uint8_t *hwc, int quality, snt_err *e) {
  snt_status st = snt_image__check_write_args(path, width, height, hwc, e);
  if (st != SNT_OK) return st;
  if (channels != 1 && channels != 3)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: a JPEG is written from 1 or 3 channels, not %d", path, channels);
  if (quality < 1 || quality > 100)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: JPEG quality must be 1..100, not %d", path, quality);
  snt_image__tmpfile t;
  st = snt_image__tmp_open(path, &t, e);
  if (st != SNT_OK) return st;
  jpeg_writer w = {.f = t.f, .width = width, .height = height, .channels = channels,
                   .quality = quality, .hwc = hwc};
  install_errors(&w.err);
  if (write_steps(&w) != 0) st = snt_err_set(e, SNT_ERR_IO, "%s: cannot write JPEG: %s", path, w.err.msg);
  if (w.created) jpeg_destroy_compress(&w.cinfo);
  if (st != SNT_OK) {
    snt_image__tmp_abandon(&t);
    return st;
  }
  return snt_image__tmp_commit(path, &t, e);
}
