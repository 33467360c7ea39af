/* predict's arguments with folders expanded: every file under a folder, recursively, in byte
 * order of the path. Hidden entries (a name starting with '.') and symbolic links to folders
 * (a loop would never end) are skipped; any other file is listed, so one that is not an
 * image gets an error entry like a corrupt image. A folder that cannot be read, or holds no
 * file, becomes an entry with that error. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/driver/predict_int.h"

void snt_rt_inputs_free(snt_rt_inputs *l) {
  for (int i = 0; i < l->n; i++) free(l->v[i].path), free(l->v[i].error);
  free(l->v);
  *l = (snt_rt_inputs){0};
}

/* Appends (path, error), both copied; -1 when out of memory or past INT_MAX entries. */
static int push(snt_rt_inputs *l, const char *path, const char *error) {
  if (l->n == l->cap) {
    if (l->cap > (1 << 29)) return -1;
    int cap = l->cap ? 2 * l->cap : 64;
    snt_rt_input *v = realloc(l->v, sizeof *v * (size_t)cap);
    if (!v) return -1;
    l->v = v, l->cap = cap;
  }
  char *p = strdup(path), *e = error ? strdup(error) : NULL;
  if (!p || (error && !e)) return free(p), free(e), -1;
  l->v[l->n++] = (snt_rt_input){p, e};
  return 0;
}

static int push_errno(snt_rt_inputs *l, const char *path, const char *what) {
  char msg[1200];
  snprintf(msg, sizeof msg, "%s: %s: %s", path, what, strerror(errno));
  return push(l, path, msg);
}

static int by_path(const void *a, const void *b) {
  return strcmp(((const snt_rt_input *)a)->path, ((const snt_rt_input *)b)->path);
}

/* Lists the files under dir into l (unsorted); -1 only when out of memory. */
static int walk(const char *dir, snt_rt_inputs *l) {
  DIR *d = opendir(dir);
  if (!d) return push_errno(l, dir, "cannot open the folder");
  int rc = 0;
  struct dirent *de;
  while (!rc && (errno = 0, de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.') continue;
    size_t len = strlen(dir) + strlen(de->d_name) + 2;
    char *path = malloc(len);
    if (!path) {
      rc = -1;
      break;
    }
    snprintf(path, len, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", de->d_name);
    struct stat st;
    if (lstat(path, &st) != 0) rc = push_errno(l, path, "cannot read");
    else if (S_ISDIR(st.st_mode)) rc = walk(path, l);
    else if (!(S_ISLNK(st.st_mode) && stat(path, &st) == 0 && S_ISDIR(st.st_mode))) rc = push(l, path, NULL);
    free(path);
  }
  if (!rc && errno) rc = push_errno(l, dir, "cannot list the folder");
  closedir(d);
  return rc;
}

/* The files under one folder argument, sorted, appended to out. */
static int expand(const char *dir, snt_rt_inputs *out) {
  snt_rt_inputs found = {0};
  int rc = walk(dir, &found);
  if (!rc && found.n > 1) qsort(found.v, (size_t)found.n, sizeof *found.v, by_path);
  if (!rc && found.n == 0) {
    char msg[1200];
    snprintf(msg, sizeof msg, "%s: the folder holds no file to classify (hidden ones are skipped)", dir);
    rc = push(out, dir, msg);
  }
  for (int i = 0; !rc && i < found.n; i++) rc = push(out, found.v[i].path, found.v[i].error);
  snt_rt_inputs_free(&found);
  return rc;
}

int snt_rt_inputs_expand(char *const *args, int n, snt_rt_inputs *out) {
  *out = (snt_rt_inputs){0};
  int rc = 0;
  for (int i = 0; !rc && i < n; i++) {
    struct stat st;
    rc = stat(args[i], &st) == 0 && S_ISDIR(st.st_mode) ? expand(args[i], out) : push(out, args[i], NULL);
  }
  if (rc) snt_rt_inputs_free(out);
  return rc;
}
