/* Files shared by the compiler and the runtime (include/sinter/file.h). */
#define _GNU_SOURCE
#include "sinter/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- the cleanup list ------------------------------------------------------------------
 * A signal handler can reach only static storage, so this list is the module's one piece
 * of process-wide state: fixed slots (no malloc in the handler), claimed with atomics. */

enum { SLOT_FREE = 0, SLOT_FILE = 1, SLOT_DIR = 2, SLOT_BUSY = 3 };
enum { N_SLOTS = 64, SLOT_PATH = 4096, TREE_DEPTH = 8 };

typedef struct cleanup_slot {
  _Atomic int kind;
  pid_t pid; /* the process that made it: a forked child must not remove its parent's files */
  char path[SLOT_PATH];
} cleanup_slot;

static cleanup_slot slots[N_SLOTS];
static _Atomic pid_t child_pid;
static _Atomic int child_group; /* the child leads its own process group: signal all of it */
static _Atomic int installed;
static const int cleanup_signals[] = {SIGINT, SIGTERM, SIGHUP};

/* Removes `name` (relative to dirfd) and, for a folder, what it holds, without following
 * links. Only async-signal-safe calls: it runs in the signal handler too. */
static void remove_tree_at(int dirfd, const char *name, int depth) {
  if (unlinkat(dirfd, name, 0) == 0 || (errno != EISDIR && errno != EPERM)) return;
  int fd = depth < TREE_DEPTH ? openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
  if (fd >= 0) {
    char buf[2048] __attribute__((aligned(8)));
    for (int removed = 1; removed;) { /* deleting while listing can skip entries: list again */
      removed = 0;
      lseek(fd, 0, SEEK_SET);
      ssize_t n;
      while ((n = getdents64(fd, buf, sizeof buf)) > 0) {
        for (ssize_t off = 0; off < n;) {
          struct dirent64 *d = (struct dirent64 *)(buf + off);
          off += d->d_reclen;
          if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..")) continue;
          remove_tree_at(fd, d->d_name, depth + 1);
          removed = 1;
        }
      }
      if (n < 0) break;
    }
    close(fd);
  }
  unlinkat(dirfd, name, AT_REMOVEDIR);
}

static void cleanup_all(void) {
  pid_t self = getpid();
  for (int i = 0; i < N_SLOTS; i++) {
    int k = atomic_load(&slots[i].kind);
    if ((k != SLOT_FILE && k != SLOT_DIR) || slots[i].pid != self) continue;
    if (k == SLOT_FILE) unlink(slots[i].path);
    else remove_tree_at(AT_FDCWD, slots[i].path, 0);
    atomic_store(&slots[i].kind, SLOT_FREE);
  }
}

/* Stops the C compiler (so its own temporaries go too), removes ours, then dies of the
 * same signal with the default action so the exit status says what happened. */
static void on_signal(int sig) {
  pid_t c = atomic_exchange(&child_pid, 0);
  if (c > 0) {
    kill(atomic_load(&child_group) ? -c : c, sig);
    struct timespec tick = {0, 10 * 1000 * 1000};
    int i = 0;
    while (waitpid(c, NULL, WNOHANG) == 0 && i++ < 300) nanosleep(&tick, NULL);
    if (i > 300) {
      kill(c, SIGKILL);
      waitpid(c, NULL, 0);
    }
    /* The driver may die before its assembler, which can still create a file: wait until the
     * whole group is gone (bounded: an unreaped orphan keeps it alive) before removing ours. */
    if (atomic_load(&child_group)) {
      for (i = 0; kill(-c, 0) == 0 && i < 100; i++) nanosleep(&tick, NULL);
      if (i == 100) kill(-c, SIGKILL);
    }
  }
  cleanup_all();
  struct sigaction dfl = {.sa_handler = SIG_DFL};
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, NULL);
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, sig);
  sigprocmask(SIG_UNBLOCK, &s, NULL);
  raise(sig);
}

/* Installed on first use. A signal someone already handles (train's Ctrl-C checkpoint) or
 * ignores keeps its handler: that code exits normally and atexit cleans up. SIGXFSZ is
 * ignored so a write past `ulimit -f` fails with EFBIG and a message instead of killing. */
static void install(void) {
  if (atomic_exchange(&installed, 1)) return;
  atexit(cleanup_all);
  for (size_t i = 0; i < sizeof cleanup_signals / sizeof cleanup_signals[0]; i++) {
    struct sigaction old;
    if (sigaction(cleanup_signals[i], NULL, &old) != 0 || old.sa_handler != SIG_DFL) continue;
    struct sigaction sa = {.sa_handler = on_signal};
    sigfillset(&sa.sa_mask);
    sigaction(cleanup_signals[i], &sa, NULL);
  }
  struct sigaction old;
  if (sigaction(SIGXFSZ, NULL, &old) == 0 && old.sa_handler == SIG_DFL) signal(SIGXFSZ, SIG_IGN);
}

/* Returns the slot, or -1 when the list is full or the path too long (then only the
 * normal paths remove it). */
static int register_path(const char *path, int kind) {
  install();
  size_t n = strlen(path);
  if (n >= SLOT_PATH) return -1;
  for (int i = 0; i < N_SLOTS; i++) {
    int expect = SLOT_FREE;
    if (!atomic_compare_exchange_strong(&slots[i].kind, &expect, SLOT_BUSY)) continue;
    memcpy(slots[i].path, path, n + 1);
    slots[i].pid = getpid();
    atomic_store(&slots[i].kind, kind);
    return i;
  }
  return -1;
}

static void unregister_slot(int i) {
  if (i >= 0 && i < N_SLOTS) atomic_store(&slots[i].kind, SLOT_FREE);
}

static void unregister_path(const char *path) {
  for (int i = 0; i < N_SLOTS; i++) {
    int k = atomic_load(&slots[i].kind);
    if ((k == SLOT_FILE || k == SLOT_DIR) && slots[i].pid == getpid() && !strcmp(slots[i].path, path))
      unregister_slot(i);
  }
}

void snt_file_cleanup_child(pid_t pid, bool own_group) {
  install();
  atomic_store(&child_group, own_group);
  atomic_store(&child_pid, pid);
}

/* ---- reading ---------------------------------------------------------------------------- */

static const char *kind_of(mode_t m) {
  return S_ISDIR(m) ? "a folder" : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket" : S_ISCHR(m) || S_ISBLK(m) ? "a device" : "not a file";
}

snt_status snt_file_open_regular(const char *path, int *fd_out, uint64_t *size, snt_err *e) {
  *fd_out = -1;
  if (!path) return snt_err_set(e, SNT_ERR_INTERNAL, "snt_file_open_regular: no path");
  /* O_NONBLOCK: opening a FIFO with no writer would otherwise wait forever. */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return snt_err_set(e, SNT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return snt_err_set(e, SNT_ERR_IO, "%s: cannot read: %s", path, strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return snt_err_set(e, SNT_ERR_INPUT, "%s: not a regular file (it is %s)", path, kind_of(st.st_mode));
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
    int err = errno;
    close(fd);
    return snt_err_set(e, SNT_ERR_IO, "%s: cannot read: %s", path, strerror(err));
  }
  *fd_out = fd;
  if (size) *size = (uint64_t)st.st_size;
  return SNT_OK;
}

size_t snt_file_phys_memory(void) {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return SIZE_MAX;
  return (uint64_t)pages > SIZE_MAX / (uint64_t)page ? SIZE_MAX : (size_t)pages * (size_t)page;
}

snt_status snt_file_read(const char *path, size_t max_bytes, uint8_t **data, size_t *len, snt_err *e) {
  *data = NULL;
  *len = 0;
  if (!max_bytes) max_bytes = snt_file_phys_memory();
  int fd;
  uint64_t size;
  snt_status s = snt_file_open_regular(path, &fd, &size, e);
  if (s != SNT_OK) return s;
  if (size > max_bytes || size >= SIZE_MAX) {
    close(fd);
    return snt_err_set(e, SNT_ERR_INPUT, "%s: %llu bytes, more than the %zu-byte limit", path,
                       (unsigned long long)size, max_bytes);
  }
  uint8_t *buf = malloc((size_t)size + 1);
  if (!buf) {
    close(fd);
    return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory reading %llu bytes", path, (unsigned long long)size);
  }
  /* Exactly st_size bytes: a file that grows meanwhile is read as it was. */
  size_t n = 0;
  while (n < size) {
    ssize_t r = read(fd, buf + n, (size_t)size - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      int err = errno;
      free(buf);
      close(fd);
      return snt_err_set(e, SNT_ERR_IO, "%s: read failed: %s", path, r < 0 ? strerror(err) : "the file shrank");
    }
    n += (size_t)r;
  }
  close(fd);
  buf[n] = '\0';
  *data = buf;
  *len = n;
  return SNT_OK;
}

/* ---- folders ---------------------------------------------------------------------------- */

snt_status snt_file_mkdir_p(const char *dir, snt_err *e) {
  if (!dir || !dir[0]) return snt_err_set(e, SNT_ERR_INPUT, "mkdir: empty folder name");
  char *p = strdup(dir);
  if (!p) return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory", dir);
  snt_status s = SNT_OK;
  for (char *c = p + 1;; c++) {
    if (*c && *c != '/') continue;
    char saved = *c;
    *c = '\0';
    struct stat st;
    int err = mkdir(p, 0777) != 0 && errno != EEXIST ? errno : stat(p, &st) != 0 ? errno : !S_ISDIR(st.st_mode) ? ENOTDIR : 0;
    if (err) s = snt_err_set(e, SNT_ERR_IO, "%s: cannot create %s: %s", dir, p, strerror(err));
    errno = err; /* for callers that report with strerror(errno) */
    *c = saved;
    if (s != SNT_OK || !saved) break;
  }
  free(p);
  return s;
}

snt_status snt_file_dirname(const char *path, char **out, snt_err *e) {
  *out = NULL;
  if (!path) return snt_err_set(e, SNT_ERR_INPUT, "dirname: no path given");
  const char *slash = strrchr(path, '/');
  size_t n;
  if (!slash) {
    path = ".";
    n = 1;
  } else {
    while (slash > path && slash[-1] == '/') slash--; /* "a//b" is in "a" */
    n = slash == path ? 1 : (size_t)(slash - path);   /* "/b" is in "/" */
  }
  char *d = malloc(n + 1);
  if (!d) return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory", path);
  memcpy(d, path, n);
  d[n] = '\0';
  *out = d;
  return SNT_OK;
}

/* ---- temporaries ------------------------------------------------------------------------ */

static uint64_t random64(void) {
  uint64_t r = 0;
  if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    r ^= (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec ^ (uintptr_t)&r;
  }
  return r;
}

/* "<dir>/.sinter-tmp-<pid>-<random><suffix>", malloc'ed. */
static char *tmp_name(const char *dir, const char *suffix) {
  size_t n = strlen(dir) + strlen(suffix) + sizeof SNT_FILE_TMP_PREFIX + 48;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s%ld-%016llx%s", dir, SNT_FILE_TMP_PREFIX, (long)getpid(), (unsigned long long)random64(), suffix);
  return p;
}

static const char *tmp_root(const char *dir) {
  if (dir) return dir;
  const char *t = getenv("TMPDIR");
  return t && t[0] ? t : "/tmp";
}

/* The pid a temporary name embeds, or 0 when `name` is not one of ours. */
static pid_t pid_in_name(const char *name) {
  size_t n = strlen(SNT_FILE_TMP_PREFIX);
  if (strncmp(name, SNT_FILE_TMP_PREFIX, n) != 0) return 0;
  long pid = 0;
  const char *p = name + n;
  for (; *p >= '0' && *p <= '9' && pid < 1L << 30; p++) pid = pid * 10 + (*p - '0');
  return *p == '-' && pid > 0 ? (pid_t)pid : 0;
}

void snt_file_sweep_stale(const char *dir) {
  dir = tmp_root(dir);
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d))) {
    pid_t pid = pid_in_name(de->d_name);
    if (!pid || pid == getpid()) continue;
    if (kill(pid, 0) == 0 || errno == EPERM) continue; /* still running */
    remove_tree_at(dirfd(d), de->d_name, 0);
  }
  closedir(d);
}

snt_status snt_file_tmpdir_create(const char *parent, char **out, snt_err *e) {
  *out = NULL;
  parent = tmp_root(parent);
  snt_file_sweep_stale(parent);
  for (int attempt = 0; attempt < 100; attempt++) {
    char *p = tmp_name(parent, "");
    if (!p) return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory", parent);
    /* Registered before it exists, so no signal can fall between creating and registering. */
    int slot = register_path(p, SLOT_DIR);
    if (mkdir(p, 0700) == 0) {
      *out = p;
      return SNT_OK;
    }
    int err = errno;
    unregister_slot(slot);
    free(p);
    if (err != EEXIST) return snt_err_set(e, SNT_ERR_IO, "%s: cannot create a temporary folder: %s", parent, strerror(err));
  }
  return snt_err_set(e, SNT_ERR_IO, "%s: cannot find a free temporary name", parent);
}

void snt_file_tmpdir_remove(char *dir) {
  if (!dir) return;
  remove_tree_at(AT_FDCWD, dir, 0);
  unregister_path(dir);
  free(dir);
}

static snt_status tmpfile_in(const char *dir, const char *suffix, mode_t mode, char **out, int *fd_out, int *slot_out,
                             snt_err *e) {
  for (int attempt = 0; attempt < 100; attempt++) {
    char *p = tmp_name(dir, suffix ? suffix : "");
    if (!p) return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory", dir);
    int slot = register_path(p, SLOT_FILE);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd >= 0) {
      *out = p;
      *fd_out = fd;
      if (slot_out) *slot_out = slot;
      return SNT_OK;
    }
    int err = errno;
    unregister_slot(slot);
    free(p);
    if (err != EEXIST) return snt_err_set(e, SNT_ERR_IO, "%s: cannot create a temporary file: %s", dir, strerror(err));
  }
  return snt_err_set(e, SNT_ERR_IO, "%s: cannot find a free temporary name", dir);
}

snt_status snt_file_tmpfile_create(const char *dir, const char *suffix, char **out, int *fd, snt_err *e) {
  *out = NULL;
  if (fd) *fd = -1;
  dir = tmp_root(dir);
  snt_file_sweep_stale(dir);
  int f;
  snt_status s = tmpfile_in(dir, suffix, 0600, out, &f, NULL, e);
  if (s != SNT_OK) return s;
  if (fd) *fd = f;
  else close(f);
  return SNT_OK;
}

void snt_file_tmpfile_remove(char *path) {
  if (!path) return;
  unlink(path);
  unregister_path(path);
  free(path);
}

/* ---- atomic writes ---------------------------------------------------------------------- */

snt_status snt_file_write_all(int fd, const char *name, const void *data, size_t len, snt_err *e) {
  const uint8_t *p = data;
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return snt_err_set(e, SNT_ERR_IO, "%s: write failed: %s", name, w < 0 ? strerror(errno) : "no progress");
    p += w;
    len -= (size_t)w;
  }
  return SNT_OK;
}

snt_status snt_file_pwrite_all(int fd, const char *name, const void *data, size_t len, uint64_t offset, snt_err *e) {
  const uint8_t *p = data;
  while (len > 0) {
    ssize_t w = pwrite(fd, p, len, (off_t)offset);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return snt_err_set(e, SNT_ERR_IO, "%s: write failed: %s", name, w < 0 ? strerror(errno) : "no progress");
    p += w;
    len -= (size_t)w;
    offset += (uint64_t)w;
  }
  return SNT_OK;
}

snt_status snt_file_atomic_open(const char *path, snt_file_atomic *a, snt_err *e) {
  *a = (snt_file_atomic){.fd = -1, .slot = -1};
  if (!path) return snt_err_set(e, SNT_ERR_INTERNAL, "atomic write: no path");
  char *dir = NULL;
  snt_status s = snt_file_dirname(path, &dir, e);
  if (s != SNT_OK) return s;
  snt_file_sweep_stale(dir);
  a->path = strdup(path);
  if (!a->path) s = snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory", path);
  /* "-<name>" at the end says which file a leftover was meant to replace. */
  const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  char suffix[72];
  snprintf(suffix, sizeof suffix, "-%.64s", base);
  snt_err inner;
  if (s == SNT_OK && (s = tmpfile_in(dir, suffix, 0666, &a->tmp, &a->fd, &a->slot, &inner)) != SNT_OK)
    snt_err_set(e, s, "%s: cannot write: %s", path, inner.msg);
  free(dir);
  if (s != SNT_OK) {
    free(a->path);
    *a = (snt_file_atomic){.fd = -1, .slot = -1};
    return s;
  }
  /* Keep the mode of the file we replace; a new one gets 0666 & ~umask. */
  struct stat st;
  if (stat(path, &st) == 0) (void)fchmod(a->fd, st.st_mode & 07777);
  return SNT_OK;
}

void snt_file_atomic_abandon(snt_file_atomic *a) {
  if (a->fd >= 0) close(a->fd);
  if (a->tmp) unlink(a->tmp);
  unregister_slot(a->slot);
  free(a->tmp);
  free(a->path);
  *a = (snt_file_atomic){.fd = -1, .slot = -1};
}

/* Makes the rename itself durable; a failure here loses no data, so it is not reported. */
static void sync_dir_of(const char *path) {
  char *dir = NULL;
  if (snt_file_dirname(path, &dir, NULL) != SNT_OK) return;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
  free(dir);
}

snt_status snt_file_atomic_commit(snt_file_atomic *a, snt_err *e) {
  snt_status s = SNT_OK;
  /* fsync before rename: otherwise a crash can leave the new name pointing at an empty file. */
  if (fsync(a->fd) != 0) s = snt_err_set(e, SNT_ERR_IO, "%s: fsync of %s failed: %s", a->path, a->tmp, strerror(errno));
  int rc = close(a->fd);
  a->fd = -1;
  if (s == SNT_OK && rc != 0) s = snt_err_set(e, SNT_ERR_IO, "%s: close of %s failed: %s", a->path, a->tmp, strerror(errno));
  if (s == SNT_OK && rename(a->tmp, a->path) != 0)
    s = snt_err_set(e, SNT_ERR_IO, "%s: cannot rename %s over it: %s", a->path, a->tmp, strerror(errno));
  if (s != SNT_OK) {
    snt_file_atomic_abandon(a);
    return s;
  }
  unregister_slot(a->slot);
  sync_dir_of(a->path);
  free(a->tmp);
  free(a->path);
  *a = (snt_file_atomic){.fd = -1, .slot = -1};
  return SNT_OK;
}

snt_status snt_file_write_atomic(const char *path, const void *data, size_t len, snt_err *e) {
  snt_file_atomic a;
  snt_status s = snt_file_atomic_open(path, &a, e);
  if (s != SNT_OK) return s;
  s = snt_file_write_all(a.fd, path, data, len, e);
  if (s != SNT_OK) {
    snt_file_atomic_abandon(&a);
    return s;
  }
  return snt_file_atomic_commit(&a, e);
}
