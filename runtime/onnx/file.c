/* Whole-file reads, atomic writes and path helpers for ONNX files. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/onnx/onnx_int.h"

/* Reads from fd until EOF, growing the buffer; st_size is only a hint (pipes, /proc). */
static snt_status read_all(int fd, const char *path, size_t hint, uint8_t **data, size_t *len, snt_err *e) {
  size_t cap = hint + 1, n = 0;
  uint8_t *buf = malloc(cap);
  if (!buf) return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, cap);
  for (;;) {
    if (n == cap) {
      uint8_t *nb = cap < SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
      if (!nb) {
        free(buf);
        return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory reading the file", path);
      }
      buf = nb;
      cap *= 2;
    }
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int err = errno;
      free(buf);
      return snt_err_set(e, SNT_ERR_IO, "%s: read failed: %s", path, strerror(err));
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  *data = buf;
  *len = n;
  return SNT_OK;
}

snt_status snt_onnx_file_read(const char *path, uint8_t **data, size_t *len, snt_err *e) {
  *data = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return snt_err_set(e, SNT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  int err = fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
  if (err) {
    close(fd);
    return snt_err_set(e, SNT_ERR_IO, "%s: cannot read: %s", path, strerror(err));
  }
  size_t hint = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size : 4096;
  snt_status s = read_all(fd, path, hint, data, len, e);
  close(fd);
  return s;
}

static snt_status write_all(int fd, const char *tmp, const uint8_t *p, size_t len, snt_err *e) {
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return snt_err_set(e, SNT_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
    p += w;
    len -= (size_t)w;
  }
  return SNT_OK;
}

/* Makes the rename itself durable; a failure here loses no data, so it is not reported. */
static void sync_dir_of(const char *path) {
  char *dir = NULL;
  if (snt_onnx_dirname(path, &dir, NULL) != SNT_OK) return;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
  free(dir);
}

snt_status snt_onnx_file_write_atomic(const char *path, const void *data, size_t len, snt_err *e) {
  size_t n = strlen(path);
  char *tmp = malloc(n + sizeof ".tmp-XXXXXX");
  if (!tmp) return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory", path);
  memcpy(tmp, path, n);
  memcpy(tmp + n, ".tmp-XXXXXX", sizeof ".tmp-XXXXXX");
  int fd = mkstemp(tmp);
  if (fd < 0) {
    snt_status s = snt_err_set(e, SNT_ERR_IO, "%s: cannot create a temporary file: %s", path, strerror(errno));
    free(tmp);
    return s;
  }
  /* mkstemp makes the file 0600; keep the mode of the file we replace, else rw-r--r--. */
  struct stat st;
  (void)fchmod(fd, stat(path, &st) == 0 ? (st.st_mode & 07777) : 0644);
  snt_status s = write_all(fd, tmp, data, len, e);
  if (s == SNT_OK && fsync(fd) != 0) s = snt_err_set(e, SNT_ERR_IO, "%s: fsync failed: %s", tmp, strerror(errno));
  if (close(fd) != 0 && s == SNT_OK) s = snt_err_set(e, SNT_ERR_IO, "%s: close failed: %s", tmp, strerror(errno));
  if (s == SNT_OK && rename(tmp, path) != 0)
    s = snt_err_set(e, SNT_ERR_IO, "%s: cannot rename %s over it: %s", path, tmp, strerror(errno));
  if (s != SNT_OK) unlink(tmp);
  else sync_dir_of(path);
  free(tmp);
  return s;
}

snt_status snt_onnx_err_prefix(snt_err *e, snt_status st, const char *path) {
  if (!e) return st;
  char inner[sizeof e->msg];
  memcpy(inner, e->msg, sizeof inner);
  inner[sizeof inner - 1] = '\0';
  return snt_err_set(e, st, "%s: %s", path, inner);
}

snt_status snt_onnx_dirname(const char *path, char **out, snt_err *e) {
  *out = NULL;
  if (!path) return snt_err_set(e, SNT_ERR_INPUT, "snt_onnx_dirname: no path given");
  const char *slash = strrchr(path, '/');
  size_t n;
  if (!slash) {
    path = ".";
    n = 1;
  } else {
    while (slash > path && slash[-1] == '/') slash--; /* "a//b" is in "a" */
    n = slash == path ? 1 : (size_t)(slash - path); /* "/b" is in "/" */
  }
  char *d = malloc(n + 1);
  if (!d) return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory", path);
  memcpy(d, path, n);
  d[n] = '\0';
  *out = d;
  return SNT_OK;
}
