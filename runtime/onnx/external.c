/* External tensor data: external_data {location, offset, length} names a byte range of a
 * file next to the model. The location comes from an untrusted file, so it must stay
 * inside base_dir: absolute paths and ".." components are refused, and the path resolved
 * with realpath must stay inside base_dir's real path (symbolic links cannot escape). */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/onnx/onnx_int.h"

typedef struct ext_ref {
  const char *location, *offset, *length;
} ext_ref;

static snt_status collect_keys(const Onnx__TensorProto *tp, ext_ref *r, const char *what, snt_err *e) {
  memset(r, 0, sizeof *r);
  for (size_t i = 0; i < tp->n_external_data; i++) {
    const Onnx__StringStringEntryProto *kv = tp->external_data[i];
    if (!kv || !kv->key) continue;
    const char **slot = !strcmp(kv->key, "location") ? &r->location
                        : !strcmp(kv->key, "offset") ? &r->offset
                        : !strcmp(kv->key, "length") ? &r->length
                                                     : NULL; /* checksum and others: not needed */
    if (!slot) continue;
    if (*slot) return snt_err_set(e, SNT_ERR_INPUT, "%s: external_data key '%s' appears twice", what, kv->key);
    *slot = kv->value ? kv->value : "";
  }
  if (!r->location || !r->location[0])
    return snt_err_set(e, SNT_ERR_INPUT, "%s: external data without a 'location' key", what);
  return SNT_OK;
}

/* Relative, no ".." component; '\\' counts as a separator too, for files written on Windows. */
static snt_status check_location(const char *loc, const char *what, snt_err *e) {
  if (loc[0] == '/' || loc[0] == '\\')
    return snt_err_set(e, SNT_ERR_INPUT,
                       "%s: external data location '%s' is absolute; it must be relative to the model's directory",
                       what, loc);
  for (const char *p = loc; *p;) {
    size_t n = strcspn(p, "/\\");
    if (n == 2 && p[0] == '.' && p[1] == '.')
      return snt_err_set(e, SNT_ERR_INPUT,
                         "%s: external data location '%s' has a '..' component; it must stay in the model's directory",
                         what, loc);
    p += n;
    if (*p) p++;
  }
  return SNT_OK;
}

/* A decimal byte count: digits only, no sign, no overflow. */
static snt_status parse_count(const char *s, const char *key, uint64_t *v, const char *what, snt_err *e) {
  uint64_t x = 0;
  if (!s[0]) return snt_err_set(e, SNT_ERR_INPUT, "%s: external data %s is empty, expected a byte count", what, key);
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9' || x > (UINT64_MAX - 9) / 10)
      return snt_err_set(e, SNT_ERR_INPUT, "%s: external data %s '%s' is not a byte count", what, key, s);
    x = x * 10 + (uint64_t)(*p - '0');
  }
  *v = x;
  return SNT_OK;
}

static snt_status check_ref(const ext_ref *r, size_t nbytes, uint64_t *offset, uint64_t *length, const char *what,
                            snt_err *e) {
  snt_status s = check_location(r->location, what, e);
  *offset = 0;
  *length = UINT64_MAX; /* none given: the rest of the file */
  if (s == SNT_OK && r->offset) s = parse_count(r->offset, "offset", offset, what, e);
  if (s == SNT_OK && r->length) s = parse_count(r->length, "length", length, what, e);
  if (s == SNT_OK && r->length && *length != nbytes)
    s = snt_err_set(e, SNT_ERR_INPUT, "%s: external data length is %llu bytes, expected %zu from its dims and type",
                    what, (unsigned long long)*length, nbytes);
  return s;
}

static snt_status read_range(int fd, const char *path, uint64_t offset, size_t nbytes, void *dst, const char *what,
                             snt_err *e) {
  uint8_t *p = dst;
  size_t done = 0;
  while (done < nbytes) {
    ssize_t r = pread(fd, p + done, nbytes - done, (off_t)(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0)
      return snt_err_set(e, SNT_ERR_IO, "%s: reading external data from %s failed: %s", what, path,
                         r < 0 ? strerror(errno) : "the file shrank");
    done += (size_t)r;
  }
  return SNT_OK;
}

/* True when `real` is `root` or inside it (a '/' boundary: "/m/dir2" is not inside "/m/dir"). */
static bool inside(const char *real, const char *root) {
  size_t n = strlen(root);
  if (n == 1 && root[0] == '/') return real[0] == '/';
  return strncmp(real, root, n) == 0 && real[n] == '/';
}

/* Resolves base_dir/location with realpath and refuses a result outside base_dir's real
 * path: a symbolic link inside the folder must not reach /etc/passwd. */
static snt_status confine(const char *base_dir, const char *location, char **real_out, const char *what, snt_err *e) {
  *real_out = NULL;
  size_t n = strlen(base_dir) + strlen(location) + 2;
  char *path = malloc(n);
  if (!path) return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory", what);
  snprintf(path, n, "%s/%s", base_dir, location);
  char *root = realpath(base_dir, NULL), *real = root ? realpath(path, NULL) : NULL;
  snt_status s = SNT_OK;
  if (!root || !real)
    s = snt_err_set(e, SNT_ERR_IO, "%s: cannot open external data file %s: %s", what, path, strerror(errno));
  else if (!inside(real, root))
    s = snt_err_set(e, SNT_ERR_INPUT,
                    "%s: external data location '%s' leads outside the model's folder %s (through a symbolic link); "
                    "it must stay inside it",
                    what, location, root);
  free(path);
  free(root);
  if (s != SNT_OK) {
    free(real);
    return s;
  }
  *real_out = real;
  return SNT_OK;
}

/* Opens the resolved file: regular (a FIFO or folder is refused without blocking), the same
 * file realpath saw (a link swapped in meanwhile is caught by st_dev/st_ino), and holding
 * exactly [offset, offset + nbytes) when no length was declared, at least that otherwise. */
static snt_status open_checked(const char *real, uint64_t offset, uint64_t length, size_t nbytes, int *fd_out,
                               const char *what, snt_err *e) {
  struct stat before, st;
  if (stat(real, &before) != 0)
    return snt_err_set(e, SNT_ERR_IO, "%s: cannot open external data file %s: %s", what, real, strerror(errno));
  if (!S_ISREG(before.st_mode))
    return snt_err_set(e, SNT_ERR_INPUT, "%s: external data file %s is not a regular file", what, real);
  int fd = open(real, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return snt_err_set(e, SNT_ERR_IO, "%s: cannot open external data file %s: %s", what, real, strerror(errno));
  snt_status s = SNT_OK;
  int fl = fcntl(fd, F_GETFL);
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_dev != before.st_dev || st.st_ino != before.st_ino ||
      fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)
    s = snt_err_set(e, SNT_ERR_INPUT, "%s: external data file %s is not a regular file (or changed while opened)",
                    what, real);
  else if ((uint64_t)st.st_size < offset || (uint64_t)st.st_size - offset < nbytes)
    s = snt_err_set(e, SNT_ERR_INPUT,
                    "%s: external data file %s has %lld bytes, too short for %zu bytes at offset %llu", what, real,
                    (long long)st.st_size, nbytes, (unsigned long long)offset);
  else if (length == UINT64_MAX && (uint64_t)st.st_size - offset != nbytes)
    s = snt_err_set(e, SNT_ERR_INPUT,
                    "%s: external data without a length takes the rest of %s, %llu bytes from offset %llu, "
                    "but the tensor has %zu bytes",
                    what, real, (unsigned long long)((uint64_t)st.st_size - offset), (unsigned long long)offset,
                    nbytes);
  if (s != SNT_OK) {
    close(fd);
    return s;
  }
  *fd_out = fd;
  return SNT_OK;
}

snt_status snt_onnx_external_load(const Onnx__TensorProto *tp, const char *base_dir, size_t nbytes,
                                  const char *what, void **data, snt_err *e) {
  ext_ref r;
  uint64_t offset, length;
  snt_status s = collect_keys(tp, &r, what, e);
  if (s == SNT_OK) s = check_ref(&r, nbytes, &offset, &length, what, e);
  if (s != SNT_OK) return s;
  if (!base_dir)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: external data '%s' but no base directory to find it in", what,
                       r.location);
  char *real = NULL;
  s = confine(base_dir, r.location, &real, what, e);
  int fd = -1;
  if (s == SNT_OK) s = open_checked(real, offset, length, nbytes, &fd, what, e);
  void *dst = NULL;
  if (s == SNT_OK && !(dst = malloc(nbytes ? nbytes : 1)))
    s = snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory for %zu bytes", what, nbytes);
  if (s == SNT_OK) s = read_range(fd, real, offset, nbytes, dst, what, e);
  if (fd >= 0) close(fd);
  free(real);
  if (s != SNT_OK) {
    free(dst);
    return s;
  }
  *data = dst;
  return SNT_OK;
}

snt_status snt_onnx_external_total(const Onnx__TensorProto *tp, uint64_t *total, uint64_t cap, const char *model,
                                   snt_err *e) {
  if (!tp || !tp->has_data_location || tp->data_location != ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) return SNT_OK;
  size_t elsize = snt_dtype_size((snt_dtype)tp->data_type), nbytes;
  int64_t numel;
  snt_err ignored;
  /* A bad type or shape is decode's to report, with its own message. */
  if (!elsize || snt_onnx_shape_size(tp->dims, tp->n_dims, elsize, "", &numel, &nbytes, &ignored) != SNT_OK)
    return SNT_OK;
  *total = nbytes > UINT64_MAX - *total ? UINT64_MAX : *total + nbytes;
  if (*total > cap)
    return snt_err_set(e, SNT_ERR_INPUT,
                       "%s: the model's external data adds up to more than %llu bytes (the physical memory) at "
                       "tensor '%s'",
                       model, (unsigned long long)cap, tp->name ? tp->name : "");
  return SNT_OK;
}
