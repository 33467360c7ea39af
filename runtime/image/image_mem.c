/* snt_image_load_mem: an image held in memory (an HTTP body) decoded as files are. The bytes
 * go to an anonymous memory file (memfd), so every decoder sees a real file descriptor, as
 * for files (a decoder may fstat its stream for the size), and nothing touches the disk. */
#define _GNU_SOURCE /* memfd_create */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "image_internal.h"

/* A stream over a fresh memory file holding the bytes, at offset 0. */
static snt_status mem_stream(const char *name, const void *data, size_t size, FILE **out, snt_err *e) {
  *out = NULL;
  int fd = memfd_create("sinter-image", MFD_CLOEXEC);
  if (fd < 0) return snt_err_set(e, SNT_ERR_NOMEM, "%s: cannot make a memory file: %s", name, strerror(errno));
  for (size_t at = 0; at < size;) {
    ssize_t n = write(fd, (const char *)data + at, size - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      snt_status st = snt_err_set(e, SNT_ERR_NOMEM, "%s: cannot hold %zu bytes in a memory file: %s", name, size,
                                  n < 0 ? strerror(errno) : "no progress");
      close(fd);
      return st;
    }
    at += (size_t)n;
  }
  if (lseek(fd, 0, SEEK_SET) != 0 || !(*out = fdopen(fd, "rb"))) {
    snt_status st = snt_err_set(e, SNT_ERR_NOMEM, "%s: cannot read back a memory file: %s", name, strerror(errno));
    close(fd);
    return st;
  }
  return SNT_OK;
}

snt_status snt_image_load_mem(const char *name, const void *data, size_t size, const snt_image_opts *o,
                              snt_image *out, snt_err *e) {
  if (out) *out = (snt_image){0};
  if (!name || !out || (!data && size))
    return snt_err_set(e, SNT_ERR_INTERNAL, "snt_image_load_mem: %s is NULL", !name ? "name" : !out ? "out" : "data");
  snt_image__want want;
  snt_status st = snt_image__want_of(name, o, &want, e);
  if (st != SNT_OK) return st;
  if (size == 0) return snt_err_set(e, SNT_ERR_INPUT, "%s: empty, not an image", name);
  FILE *f;
  st = mem_stream(name, data, size, &f, e);
  if (st != SNT_OK) return st;
  st = snt_image__sniff_decode(name, f, &want, out, e);
  fclose(f);
  if (st != SNT_OK) snt_image_free(out);
  return st;
}
