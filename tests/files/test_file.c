/* The file module (sinter/file.h): reads that refuse FIFOs without blocking, mkdir -p,
 * atomic writes that survive a SIGKILL, temporaries removed on exit and on signals, and
 * leftovers of dead runs swept by name. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sinter/file.h"
#include "tests/unit/check.h"

static char work[4096];

static char *at(const char *name) {
  static char buf[8][4200];
  static int k;
  char *p = buf[k++ % 8];
  snprintf(p, sizeof buf[0], "%s/%s", work, name);
  return p;
}

static void put(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

/* Entries of `dir` whose name starts with the temporary prefix. */
static int temps_in(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  for (struct dirent *de; d && (de = readdir(d));) n += strncmp(de->d_name, SNT_FILE_TMP_PREFIX, 12) == 0;
  if (d) closedir(d);
  return n;
}

static void test_read(test_state *ts) {
  snt_err e;
  uint8_t *data;
  size_t len;
  put(at("a.txt"), "hello");
  CHECK_INT(ts, snt_file_read(at("a.txt"), 0, &data, &len, &e), SNT_OK);
  CHECK(ts, len == 5 && data && memcmp(data, "hello", 6) == 0); /* NUL after the data */
  free(data);
  CHECK_INT(ts, snt_file_read(at("a.txt"), 4, &data, &len, &e), SNT_ERR_INPUT);
  CHECK(ts, data == NULL && strstr(e.msg, "5 bytes, more than the 4-byte limit"));
  put(at("empty"), "");
  CHECK_INT(ts, snt_file_read(at("empty"), 0, &data, &len, &e), SNT_OK);
  CHECK(ts, data != NULL && len == 0);
  free(data);
  /* A FIFO with no writer: refused at once (a blocking open would wait forever). */
  mkfifo(at("fifo"), 0600);
  CHECK_INT(ts, snt_file_read(at("fifo"), 0, &data, &len, &e), SNT_ERR_INPUT);
  char want[4300];
  snprintf(want, sizeof want, "%s: not a regular file (it is a FIFO)", at("fifo"));
  CHECK_STR(ts, e.msg, want);
  CHECK_INT(ts, snt_file_read(work, 0, &data, &len, &e), SNT_ERR_INPUT);
  CHECK(ts, strstr(e.msg, "(it is a folder)") != NULL);
  CHECK_INT(ts, snt_file_read("/dev/null", 0, &data, &len, &e), SNT_ERR_INPUT);
  CHECK(ts, strstr(e.msg, "(it is a device)") != NULL);
  CHECK_INT(ts, snt_file_read(at("missing"), 0, &data, &len, &e), SNT_ERR_IO);
  CHECK(ts, strstr(e.msg, "No such file") != NULL);
}

static void test_mkdir(test_state *ts) {
  snt_err e;
  struct stat st;
  CHECK_INT(ts, snt_file_mkdir_p(at("m/n/o/"), &e), SNT_OK);
  CHECK(ts, stat(at("m/n/o"), &st) == 0 && S_ISDIR(st.st_mode));
  CHECK_INT(ts, snt_file_mkdir_p(at("m/n/o"), &e), SNT_OK); /* exists: fine */
  CHECK_INT(ts, snt_file_mkdir_p(at("a.txt/x"), &e), SNT_ERR_IO);
  CHECK(ts, strstr(e.msg, "Not a directory") != NULL);
}

static void test_atomic(test_state *ts) {
  snt_err e;
  uint8_t *data;
  size_t len;
  put(at("keep.txt"), "old contents");
  chmod(at("keep.txt"), 0640);
  CHECK_INT(ts, snt_file_write_atomic(at("keep.txt"), "new", 3, &e), SNT_OK);
  CHECK_INT(ts, snt_file_read(at("keep.txt"), 0, &data, &len, &e), SNT_OK);
  CHECK(ts, len == 3 && memcmp(data, "new", 3) == 0);
  free(data);
  struct stat st;
  CHECK(ts, stat(at("keep.txt"), &st) == 0 && (st.st_mode & 0777) == 0640);
  CHECK_INT(ts, temps_in(work), 0);
  /* Killed halfway: the old file is intact and the leftover is recognisable by name. */
  pid_t pid = fork();
  if (pid == 0) {
    snt_file_atomic a;
    if (snt_file_atomic_open(at("keep.txt"), &a, NULL) == SNT_OK) (void)!write(a.fd, "partial", 7);
    raise(SIGKILL);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(ts, WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  CHECK_INT(ts, snt_file_read(at("keep.txt"), 0, &data, &len, &e), SNT_OK);
  CHECK(ts, len == 3 && memcmp(data, "new", 3) == 0);
  free(data);
  CHECK_INT(ts, temps_in(work), 1);
  /* The next atomic write in the folder removes it: its writer is dead. */
  CHECK_INT(ts, snt_file_write_atomic(at("other.txt"), "x", 1, &e), SNT_OK);
  CHECK_INT(ts, temps_in(work), 0);
  /* A failed write (into a missing folder) names the file. */
  CHECK_INT(ts, snt_file_write_atomic(at("nope/f.txt"), "x", 1, &e), SNT_ERR_IO);
  CHECK(ts, strstr(e.msg, at("nope/f.txt")) == e.msg);
}

/* A child makes a temporary folder with a file and a temporary file, then gets `sig`: it
 * must die of that signal, and both must be gone. */
static void test_signal_cleanup(test_state *ts, int sig) {
  int fds[2];
  if (pipe(fds) != 0) return;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    char *dir = NULL, *file = NULL;
    if (snt_file_tmpdir_create(work, &dir, NULL) != SNT_OK || snt_file_tmpfile_create(work, ".x", &file, NULL, NULL))
      _exit(9);
    char *inner = malloc(strlen(dir) + 16);
    sprintf(inner, "%s/inner.c", dir);
    put(inner, "int x;");
    (void)!write(fds[1], "r", 1);
    for (;;) pause();
  }
  close(fds[1]);
  char c;
  CHECK_INT(ts, read(fds[0], &c, 1), 1);
  close(fds[0]);
  CHECK_INT(ts, temps_in(work), 2);
  kill(pid, sig);
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(ts, WIFSIGNALED(status) && WTERMSIG(status) == sig);
  CHECK_INT(ts, temps_in(work), 0);
}

/* Normal exit (no remove call) cleans up through atexit. */
static void test_exit_cleanup(test_state *ts) {
  pid_t pid = fork();
  if (pid == 0) {
    char *dir = NULL;
    if (snt_file_tmpdir_create(work, &dir, NULL) != SNT_OK) _exit(9);
    exit(0); /* atexit removes it */
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(ts, WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK_INT(ts, temps_in(work), 0);
}

/* Leftovers of dead runs go, those of live ones and foreign names stay. */
static void test_sweep(test_state *ts) {
  pid_t dead = fork();
  if (dead == 0) _exit(0);
  waitpid(dead, NULL, 0);
  char name[256];
  snprintf(name, sizeof name, "%s%ld-0123456789abcdef", SNT_FILE_TMP_PREFIX, (long)dead);
  mkdir(at(name), 0700);
  char inner[300];
  snprintf(inner, sizeof inner, "%s/sub", name);
  mkdir(at(inner), 0700);
  snprintf(inner, sizeof inner, "%s/sub/f.bin", name);
  put(at(inner), "data");
  char live[256];
  snprintf(live, sizeof live, "%s%ld-0123456789abcdef-keep.onnx", SNT_FILE_TMP_PREFIX, (long)getppid());
  put(at(live), "live");
  put(at(".sinter-tmp-notapid"), "foreign");
  snt_file_sweep_stale(work);
  struct stat st;
  CHECK(ts, lstat(at(name), &st) != 0 && errno == ENOENT);
  CHECK(ts, lstat(at(live), &st) == 0);
  CHECK(ts, lstat(at(".sinter-tmp-notapid"), &st) == 0);
  unlink(at(live));
  unlink(at(".sinter-tmp-notapid"));
  /* A link named like a leftover is removed, never followed. */
  snprintf(name, sizeof name, "%s%ld-00", SNT_FILE_TMP_PREFIX, (long)dead);
  mkdir(at("target"), 0700);
  put(at("target/precious"), "x");
  CHECK_INT(ts, symlink(at("target"), at(name)), 0);
  snt_file_sweep_stale(work);
  CHECK(ts, lstat(at(name), &st) != 0 && lstat(at("target/precious"), &st) == 0);
}

int main(void) {
  test_state ts = {0};
  snprintf(work, sizeof work, "%s/test_file", SINTER_TEST_TMP);
  snt_err e;
  if (snt_file_mkdir_p(work, &e) != SNT_OK) {
    fprintf(stderr, "%s\n", e.msg);
    return 1;
  }
  /* A fresh folder: leftovers of an earlier run of this test would confuse the counts. */
  char *old = NULL;
  if (asprintf(&old, "rm -rf '%s'/* '%s'/.sinter-tmp-*", work, work) > 0 && system(old) != 0) fprintf(stderr, "cannot clean %s\n", work);
  free(old);
  test_read(&ts);
  test_mkdir(&ts);
  test_atomic(&ts);
  test_signal_cleanup(&ts, SIGINT);
  test_signal_cleanup(&ts, SIGTERM);
  test_signal_cleanup(&ts, SIGHUP);
  test_exit_cleanup(&ts);
  test_sweep(&ts);
  return test_report("test_file", &ts);
}
