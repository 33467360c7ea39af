/* snt_image_load: opens the file, sniffs its format and hands it to the PNG, JPEG or DICOM decoder. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image_internal.h"

snt_status snt_image__from_hwc8(const char *path, int width, int height, int channels,
                                const uint8_t *hwc, snt_image *out, snt_err *e) {
  size_t plane = (size_t)width * (size_t)height;
  float *data = malloc((size_t)channels * plane * sizeof *data);
  if (!data)
    return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory for a %dx%d image (%zu bytes)", path, width, height,
                       (size_t)channels * plane * sizeof *data);
  for (int c = 0; c < channels; c++) {
    float *dst = data + (size_t)c * plane;
    for (size_t i = 0; i < plane; i++) dst[i] = hwc[(size_t)channels * i + (size_t)c];
  }
  out->width = width;
  out->height = height;
  out->channels = channels;
  out->data = data;
  return SNT_OK;
}

snt_status snt_image_check_opts(const char *who, const snt_image_opts *o, snt_err *e) {
  if (!o) return SNT_OK;
  if (o->channels != 0 && o->channels != 1 && o->channels != 3 && o->channels != 4)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: images are read with 1, 3 or 4 channels, not %d", who, o->channels);
  if (o->max_pixels < 0 || o->max_pixels > SNT_IMAGE_MAX_PIXELS)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: the pixel cap must be 1 to %lld, not %lld", who,
                       (long long)SNT_IMAGE_MAX_PIXELS, o->max_pixels);
  if (o->window.set && !(isfinite(o->window.center) && isfinite(o->window.width) && o->window.width >= 1))
    return snt_err_set(e, SNT_ERR_INPUT, "%s: the window needs a finite center and a width of at least 1, not %g,%g", who,
                       o->window.center, o->window.width);
  return SNT_OK;
}

void snt_image_free(snt_image *img) {
  if (!img) return;
  free(img->data);
  *img = (snt_image){0};
}

/* Opens path for reading only if it is a regular file: O_NONBLOCK so that opening a FIFO
 * without a writer does not wait, then fstat on what was opened (no race with a rename). */
static snt_status open_regular(const char *path, FILE **out, snt_err *e) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return snt_err_set(e, SNT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    snt_status st = snt_err_set(e, SNT_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    close(fd);
    return st;
  }
  if (!S_ISREG(sb.st_mode)) {
    const char *kind = S_ISDIR(sb.st_mode)    ? "a directory"
                       : S_ISFIFO(sb.st_mode) ? "a FIFO (named pipe)"
                       : S_ISCHR(sb.st_mode)  ? "a character device"
                       : S_ISBLK(sb.st_mode)  ? "a block device"
                       : S_ISSOCK(sb.st_mode) ? "a socket"
                                              : "not a regular file";
    close(fd);
    return snt_err_set(e, SNT_ERR_INPUT, "%s: is %s, not an image file", path, kind);
  }
  /* Regular files never block; clear the flag anyway so reads behave as usual. */
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  *out = fdopen(fd, "rb");
  if (!*out) {
    snt_status st = snt_err_set(e, SNT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    close(fd);
    return st;
  }
  return SNT_OK;
}

snt_status snt_image_load(const char *path, snt_image *out, snt_err *e) {
  return snt_image_load_opts(path, NULL, out, e);
}

snt_status snt_image__sniff_decode(const char *path, FILE *f, const snt_image__want *want, snt_image *out, snt_err *e) {
  snt_status st;
  unsigned char head[132]; /* a DICOM Part 10 file has "DICM" after its 128-byte preamble */
  size_t n = fread(head, 1, sizeof head, f);
  if (n == 0 && ferror(f)) {
    st = snt_err_set(e, SNT_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
  } else if (n == 0) {
    st = snt_err_set(e, SNT_ERR_INPUT, "%s: empty file, not an image", path);
  } else if (n >= 8 && memcmp(head, "\x89PNG\r\n\x1a\n", 8) == 0) {
    rewind(f);
    st = snt_image__decode_png(path, f, want, out, e);
  } else if (n >= 3 && head[0] == 0xff && head[1] == 0xd8 && head[2] == 0xff) {
    rewind(f);
    st = snt_image__decode_jpeg(path, f, want, out, e);
  } else if (n == 132 && memcmp(head + 128, "DICM", 4) == 0) {
    rewind(f);
    st = snt_image__decode_dicom(path, f, want, out, e);
  } else if (n < 8 && memcmp(head, "\x89PNG\r\n\x1a\n", n) == 0) {
    st = snt_err_set(e, SNT_ERR_INPUT, "%s: truncated PNG: the file is only %zu bytes long", path, n);
  } else {
    /* Show the first bytes, as text when they are text (a CSV or HTML page saved as .png). */
    if (n > 8) n = 8;
    char shown[8 * 3 + 1] = "";
    int text = 1;
    for (size_t i = 0; i < n; i++) text &= (head[i] >= 0x20 && head[i] < 0x7f) || head[i] == '\n' || head[i] == '\t';
    for (size_t i = 0; i < n; i++) {
      if (text)
        shown[i] = head[i] < 0x20 ? ' ' : (char)head[i], shown[i + 1] = 0;
      else
        snprintf(shown + 3 * i, 4, " %02x", head[i]);
    }
    st = snt_err_set(e, SNT_ERR_INPUT,
                     text ? "%s: not a PNG, JPEG or DICOM image: it begins with the text \"%s\""
                          : "%s: not a PNG, JPEG or DICOM image: it begins with the bytes%s",
                     path, shown);
  }
  return st;
}

snt_status snt_image__want_of(const char *who, const snt_image_opts *o, snt_image__want *w, snt_err *e) {
  snt_status st = snt_image_check_opts(who, o, e);
  *w = (snt_image__want){.channels = o && o->channels ? o->channels : 3,
                         .max_pixels = o && o->max_pixels ? o->max_pixels : SNT_IMAGE_DEFAULT_MAX_PIXELS,
                         .window = o ? o->window : (snt_image_window){0}};
  return st;
}

snt_status snt_image_load_opts(const char *path, const snt_image_opts *o, snt_image *out, snt_err *e) {
  if (out) *out = (snt_image){0};
  if (!path || !out)
    return snt_err_set(e, SNT_ERR_INTERNAL, "snt_image_load: %s is NULL", path ? "out" : "path");
  snt_image__want want;
  snt_status st = snt_image__want_of(path, o, &want, e);
  if (st != SNT_OK) return st;
  FILE *f;
  st = open_regular(path, &f, e);
  if (st != SNT_OK) return st;
  st = snt_image__sniff_decode(path, f, &want, out, e);
  fclose(f);
  if (st != SNT_OK) snt_image_free(out);
  return st;
}

/* --- atomic writes ------------------------------------------------------------------------- */

snt_status snt_image__check_write_args(const char *path, int width, int height, const uint8_t *hwc,
                                       snt_err *e) {
  if (!path || !hwc)
    return snt_err_set(e, SNT_ERR_INTERNAL, "image writer: %s is NULL", path ? "the pixel buffer" : "path");
  return snt_image__check_dims(path, width, height, e);
}

snt_status snt_image__tmp_open(const char *path, snt_image__tmpfile *t, snt_err *e) {
  *t = (snt_image__tmpfile){0};
  snt_status st = snt_file_atomic_open(path, &t->a, e);
  if (st != SNT_OK) return st;
  /* The FILE gets its own descriptor, so fclose and the module's commit each close one. */
  int fd = fcntl(t->a.fd, F_DUPFD_CLOEXEC, 0);
  t->f = fd >= 0 ? fdopen(fd, "wb") : NULL;
  if (!t->f) {
    st = snt_err_set(e, SNT_ERR_IO, "%s: cannot open %s: %s", path, t->a.tmp, strerror(errno));
    if (fd >= 0) close(fd);
    snt_file_atomic_abandon(&t->a);
  }
  return st;
}

void snt_image__tmp_abandon(snt_image__tmpfile *t) {
  if (t->f) fclose(t->f);
  if (t->a.path) snt_file_atomic_abandon(&t->a);
  *t = (snt_image__tmpfile){0};
}

snt_status snt_image__tmp_commit(const char *path, snt_image__tmpfile *t, snt_err *e) {
  snt_status st = SNT_OK;
  int bad = fflush(t->f) != 0 || ferror(t->f);
  if (fclose(t->f) != 0) bad = 1;
  t->f = NULL;
  if (bad) {
    st = snt_err_set(e, SNT_ERR_IO, "%s: cannot write %s: %s", path, t->a.tmp, strerror(errno));
    snt_image__tmp_abandon(t);
    return st;
  }
  st = snt_file_atomic_commit(&t->a, e); /* fsync, rename over `path`, fsync the folder */
  *t = (snt_image__tmpfile){0};
  return st;
}
