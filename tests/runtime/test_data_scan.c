/* Scanning class folders: the shared cxr-256 set, the Kaggle images/ + masks/ layout, the plain
 * layout, what is ignored, and the errors and warnings. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "sinter/data.h"

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

static void rm_tree(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

/* buf = a/b (empty when it does not fit). */
static void join(char *buf, size_t size, const char *a, const char *b) {
  if (snprintf(buf, size, "%s/%s", a, b) >= (int)size) buf[0] = '\0';
}

/* Creates dir/rel (the folders on the way too) as a file with a few bytes; scanning never
 * decodes, so the content does not matter here. */
static void touch(const char *dir, const char *rel) {
  char path[1024];
  join(path, sizeof path, dir, rel);
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    mkdir(path, 0755);
    *p = '/';
  }
  FILE *f = fopen(path, "wb");
  if (f) {
    fputs("x", f);
    fclose(f);
  }
}

static const char *base(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

static void check_cxr(test_state *ts) {
  const char *labels[4] = {"COVID", "Normal", "Viral Pneumonia", "Lung_Opacity"};
  snt_dataset ds;
  snt_err e = {{0}};
  snt_status st = snt_data_scan(SINTER_SHARED_DIR "/data/cxr-256", 4, labels, &ds, &e);
  if (st != SNT_OK) fprintf(stderr, "cxr-256: %s\n", e.msg);
  CHECK_INT(ts, st, SNT_OK);
  if (st != SNT_OK) return;
  CHECK_INT(ts, ds.n_classes, 4);
  CHECK_INT(ts, ds.n_items, 201);
  const int64_t want[4] = {67, 67, 67, 0};
  for (int c = 0; c < 4; c++) CHECK_INT(ts, ds.counts[c], want[c]);
  CHECK_INT(ts, ds.n_warnings, 1);
  if (ds.n_warnings == 1) CHECK(ts, strstr(ds.warnings[0], "'Lung_Opacity'") != NULL);
  /* Grouped by label, sorted by name (strcmp) within a class, and each file really is there. */
  int ok = 1;
  for (int i = 0; i < ds.n_items; i++) {
    ok &= access(ds.paths[i], R_OK) == 0;
    if (i && ds.label[i - 1] == ds.label[i]) ok &= strcmp(ds.paths[i - 1], ds.paths[i]) < 0;
    if (i) ok &= ds.label[i - 1] <= ds.label[i];
    ok &= strncmp(base(ds.paths[i]), labels[ds.label[i]], strlen(labels[ds.label[i]])) == 0;
  }
  CHECK(ts, ok);
  CHECK_STR(ts, base(ds.paths[0]), "COVID-1.png");
  snt_dataset_free(&ds);
  CHECK(ts, ds.paths == NULL && ds.n_items == 0);
}

/* Kaggle layout for A (images/ beside masks/), plain layout for B, and files to ignore. */
static void check_layouts(test_state *ts, const char *dir) {
  rm_tree(dir);
  mkdir(dir, 0755);
  const char *files[] = {"A/images/b.png", "A/images/a.PNG", "A/images/c.jpeg", "A/images/.hidden.png",
                         "A/images/notes.txt", "A/masks/a.png", "A/masks/m.png", "A/top.png",
                         "B/z.JPG", "B/y.png", "B/readme.md", "B/sub/deep.png", "meta.xlsx",
                         ".git/x.png"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) touch(dir, files[i]);
  const char *labels[3] = {"B", "A", "C"};
  snt_dataset ds;
  snt_err e = {{0}};
  snt_status st = snt_data_scan(dir, 3, labels, &ds, &e);
  if (st != SNT_OK) fprintf(stderr, "layouts: %s\n", e.msg);
  CHECK_INT(ts, st, SNT_OK);
  if (st != SNT_OK) return;
  /* Label order decides the class order: B first. */
  const char *want[5] = {"B/y.png", "B/z.JPG", "A/images/a.PNG", "A/images/b.png", "A/images/c.jpeg"};
  const int want_label[5] = {0, 0, 1, 1, 1};
  CHECK_INT(ts, ds.n_items, 5);
  for (int i = 0; i < 5 && i < ds.n_items; i++) {
    char path[1024];
    join(path, sizeof path, dir, want[i]);
    CHECK_STR(ts, ds.paths[i], path);
    CHECK_INT(ts, ds.label[i], want_label[i]);
  }
  CHECK(ts, ds.counts[0] == 2 && ds.counts[1] == 3 && ds.counts[2] == 0);
  CHECK_INT(ts, ds.n_warnings, 1);
  if (ds.n_warnings == 1) CHECK(ts, strstr(ds.warnings[0], "'C'") != NULL);
  snt_dataset_free(&ds);
}

static void check_errors(test_state *ts, const char *dir) {
  const char *ab[2] = {"A", "B"};
  snt_dataset ds;
  snt_err e = {{0}};
  /* A folder that is not a label: named, with the labels listed. */
  char unknown[1024];
  join(unknown, sizeof unknown, dir, "unknown");
  touch(unknown, "A/a.png");
  touch(unknown, "Unknown Class/images/u.png");
  snt_status st = snt_data_scan(unknown, 2, ab, &ds, &e);
  CHECK_INT(ts, st, SNT_ERR_INPUT);
  CHECK(ts, strstr(e.msg, "'Unknown Class'") != NULL && strstr(e.msg, "'A', 'B'") != NULL);
  CHECK(ts, ds.paths == NULL && ds.n_items == 0);
  const char *twice[3] = {"A", "B", "A"};
  CHECK_INT(ts, snt_data_scan(unknown, 3, twice, &ds, &e), SNT_ERR_INPUT);
  CHECK(ts, strstr(e.msg, "'A' is given twice") != NULL);
  /* A missing folder, and one with class folders but no images. */
  char missing[1024], empty[1024];
  join(missing, sizeof missing, dir, "does-not-exist");
  CHECK_INT(ts, snt_data_scan(missing, 2, ab, &ds, &e), SNT_ERR_IO);
  CHECK(ts, strstr(e.msg, "does-not-exist") != NULL);
  join(empty, sizeof empty, dir, "empty");
  touch(empty, "A/images/readme.txt");
  CHECK_INT(ts, snt_data_scan(empty, 2, ab, &ds, &e), SNT_ERR_INPUT);
  CHECK(ts, strstr(e.msg, empty) != NULL);
}

int main(void) {
  test_state ts = {0};
  char dir[1024];
  join(dir, sizeof dir, SINTER_TEST_TMP, "data_scan");
  check_cxr(&ts);
  check_layouts(&ts, dir);
  check_errors(&ts, dir);
  rm_tree(dir);
  return test_report("test_data_scan", &ts);
}
