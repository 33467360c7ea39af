/* Replays saved inputs through a fuzz target's LLVMFuzzerTestOneInput without libFuzzer, so
 * every crash once found stays a ctest case in the normal and the sanitizer builds.
 * Usage: replay_<target> FILE_OR_DIR...; a directory means each regular file in it. Exit 0
 * after at least one input; 1 when there was none or one could not be read; a crash is a
 * crash (ctest sees the signal, ASan prints the stack). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "replay: %s: cannot open\n", path);
    return 1;
  }
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      uint8_t *bigger = realloc(buf, cap *= 2);
      if (!bigger) free(buf);
      buf = bigger;
    }
  }
  int bad = !buf || ferror(f);
  fclose(f);
  if (bad) {
    fprintf(stderr, "replay: %s: cannot read\n", path);
    free(buf);
    return 1;
  }
  /* An exact-size copy, so ASan catches a read one byte past the input as libFuzzer does. */
  uint8_t *exact = malloc(n ? n : 1);
  if (!exact) {
    free(buf);
    return 1;
  }
  memcpy(exact, buf, n);
  free(buf);
  printf("replay: %s (%zu bytes)\n", path, n);
  fflush(stdout);
  LLVMFuzzerTestOneInput(exact, n);
  free(exact);
  return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Replays the regular files of `dir` in name order; adds to *count. */
static int replay_dir(const char *dir, int *count) {
  struct dirent **list = NULL;
  int n = scandir(dir, &list, NULL, NULL);
  if (n < 0) {
    fprintf(stderr, "replay: %s: cannot list\n", dir);
    return 1;
  }
  char **names = calloc((size_t)n + 1, sizeof *names);
  int m = 0, bad = !names;
  for (int i = 0; i < n; i++) {
    if (names && list[i]->d_name[0] != '.') {
      size_t len = strlen(dir) + strlen(list[i]->d_name) + 2;
      names[m] = malloc(len);
      if (names[m]) snprintf(names[m++], len, "%s/%s", dir, list[i]->d_name);
    }
    free(list[i]);
  }
  free(list);
  if (names) qsort(names, (size_t)m, sizeof *names, by_name);
  for (int i = 0; i < m; i++) {
    struct stat sb;
    if (stat(names[i], &sb) == 0 && S_ISREG(sb.st_mode)) {
      bad |= replay_file(names[i]);
      ++*count;
    }
    free(names[i]);
  }
  free(names);
  return bad;
}

int main(int argc, char **argv) {
  int bad = 0, count = 0;
  for (int i = 1; i < argc; i++) {
    struct stat sb;
    if (stat(argv[i], &sb) != 0) {
      fprintf(stderr, "replay: %s: no such file or directory\n", argv[i]);
      bad = 1;
    } else if (S_ISDIR(sb.st_mode)) {
      bad |= replay_dir(argv[i], &count);
    } else {
      bad |= replay_file(argv[i]);
      count++;
    }
  }
  if (!count) fprintf(stderr, "replay: no inputs\n");
  printf("replay: %d input%s, no crash\n", count, count == 1 ? "" : "s");
  return bad || !count;
}
