/* The batch loader on a Kaggle-layout tree of generated PNGs (with masks/ beside images/ and one
 * truncated file) and on the shared cxr-256 images. Every batch row is identified by comparing it
 * bit for bit with the test's own snt_image_load + snt_image_resize_bilinear of each item. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "sinter/data.h"

enum { H = 8, W = 8, PIX = 3 * H * W, MAXN = 64 };

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

static void rm_tree(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static void join(char *buf, size_t size, const char *a, const char *b) {
  if (snprintf(buf, size, "%s/%s", a, b) >= (int)size) buf[0] = '\0';
}

/* Image k: its own size and a red level that no other image has. */
static int write_image(const char *path, int k) {
  int w = 8 + k % 5, h = 6 + k % 4;
  uint8_t *hwc = malloc((size_t)w * h * 3);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      uint8_t *p = hwc + ((size_t)y * w + x) * 3;
      p[0] = (uint8_t)(10 + 20 * k), p[1] = (uint8_t)(x * 17 + y * 5), p[2] = (uint8_t)(x * y * 3 + k);
    }
  snt_err e = {{0}};
  snt_status st = snt_image_write_png(path, w, h, 3, hwc, &e);
  free(hwc);
  return st == SNT_OK ? 0 : -1;
}

static int truncated_copy(const char *src, const char *dst) {
  FILE *f = fopen(src, "rb");
  if (!f) return -1;
  unsigned char buf[65536];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  FILE *g = fopen(dst, "wb");
  if (!g) return -1;
  size_t put = fwrite(buf, 1, n / 2, g);
  return fclose(g) == 0 && put == n / 2 ? 0 : -1;
}

/* dir/{A,B,C}/images/img<k>.png (4, 4 + a truncated one, 3) and masks/ with other PNGs. */
static int build_tree(const char *dir) {
  const char *cls[3] = {"A", "B", "C"};
  const int per[3] = {4, 4, 3};
  int k = 0, bad = 0;
  rm_tree(dir);
  bad |= mkdir(dir, 0755);
  for (int c = 0; c < 3; c++) {
    char d[1024], images[1100], masks[1100], path[1200];
    join(d, sizeof d, dir, cls[c]);
    join(images, sizeof images, d, "images");
    join(masks, sizeof masks, d, "masks");
    bad |= mkdir(d, 0755) | mkdir(images, 0755) | mkdir(masks, 0755);
    for (int i = 0; i < per[c]; i++, k++) {
      char name[32];
      snprintf(name, sizeof name, "img%02d.png", k);
      join(path, sizeof path, images, name);
      bad |= write_image(path, k);
      join(path, sizeof path, masks, name);
      bad |= write_image(path, 40 + k);
    }
  }
  char src[1200], dst[1200];
  join(src, sizeof src, dir, "B/images/img04.png");
  join(dst, sizeof dst, dir, "B/images/img04_corrupt.png");
  bad |= truncated_copy(src, dst);
  return bad ? -1 : 0;
}

/* What the loader should give for each item without augmentation (NULL when it cannot load). */
static float **references(const snt_dataset *ds) {
  float **ref = calloc((size_t)ds->n_items, sizeof *ref);
  for (int i = 0; i < ds->n_items; i++) {
    snt_image img = {0}, small = {0};
    if (snt_image_load(ds->paths[i], &img, NULL) == SNT_OK &&
        snt_image_resize_bilinear(&img, H, W, &small, NULL) == SNT_OK) {
      ref[i] = small.data;
      small.data = NULL;
    }
    snt_image_free(&img);
    snt_image_free(&small);
  }
  return ref;
}

static void free_refs(float **ref, int n) {
  for (int i = 0; i < n; i++) free(ref[i]);
  free(ref);
}

static int identify(float **ref, int n, const float *row) {
  for (int i = 0; i < n; i++)
    if (ref[i] && memcmp(ref[i], row, sizeof *row * PIX) == 0) return i;
  return -1;
}

/* Runs one epoch; seq receives the item of every row (-1 when a row matches no item); returns the
 * number of rows. Checks the batch sizes and the labels on the way. */
static int run_epoch(test_state *ts, snt_loader *l, const snt_dataset *ds, float **ref, int epoch,
                     int batch, int *seq) {
  float x[8 * PIX];
  int64_t labels[8];
  snt_err e = {{0}};
  CHECK_INT(ts, snt_loader_begin_epoch(l, epoch, &e), SNT_OK);
  int total = 0, n = 0, short_batches = 0;
  do {
    CHECK_INT(ts, snt_loader_next(l, x, labels, &n, &e), SNT_OK);
    if (n > 0 && n < batch) short_batches++;
    for (int b = 0; b < n && total < MAXN; b++) {
      int id = identify(ref, ds->n_items, x + (size_t)b * PIX);
      seq[total++] = id;
      CHECK(ts, id >= 0 && labels[b] == ds->label[id]);
    }
  } while (n > 0);
  CHECK(ts, short_batches <= 1);
  return total;
}

static snt_loader *make_loader(test_state *ts, const snt_dataset *ds, const int *items, int n,
                               snt_loader_opts o) {
  snt_loader *l = NULL;
  snt_err e = {{0}};
  snt_status st = snt_loader_create(ds, items, n, &o, &l, &e);
  if (st != SNT_OK) fprintf(stderr, "loader: %s\n", e.msg);
  CHECK_INT(ts, st, SNT_OK);
  return l;
}

/* Shuffled epochs: every readable item once, reproducible per (seed, epoch), served from the
 * cache once decoded (a file deleted after epoch 0 still comes back; without a cache it does not). */
static void check_epochs(test_state *ts, const snt_dataset *ds, float **ref) {
  int all[MAXN], n = ds->n_items;
  for (int i = 0; i < n; i++) all[i] = i;
  snt_loader_opts o = {.height = H, .width = W, .batch = 5, .shuffle = 1, .seed = 9};
  snt_loader *cached = make_loader(ts, ds, all, n, o);
  o.no_cache = 1;
  o.workers = 1;
  snt_loader *plain = make_loader(ts, ds, all, n, o);
  if (!cached || !plain) return;
  CHECK_INT(ts, snt_loader_steps(cached), 3);
  int a[MAXN], b[MAXN], c[MAXN], d[MAXN], seen[MAXN] = {0};
  int na = run_epoch(ts, cached, ds, ref, 0, 5, a);
  CHECK_INT(ts, na, n - 1);
  for (int i = 0; i < na; i++) if (a[i] >= 0) seen[a[i]]++;
  int once = 1;
  for (int i = 0; i < n; i++) once &= seen[i] == (ref[i] ? 1 : 0);
  CHECK(ts, once);
  CHECK_INT(ts, snt_loader_skipped(cached), 1);
  CHECK(ts, strstr(snt_loader_first_error(cached), "img04_corrupt.png") != NULL);
  CHECK_INT(ts, run_epoch(ts, plain, ds, ref, 0, 5, b), na);
  CHECK(ts, memcmp(a, b, sizeof *a * (size_t)na) == 0);
  /* Delete an image that epoch 0 decoded: the cached loader still has it. */
  int gone = ds->n_items - 1;
  CHECK_INT(ts, remove(ds->paths[gone]), 0);
  int nc = run_epoch(ts, cached, ds, ref, 1, 5, c);
  CHECK_INT(ts, nc, na);
  CHECK_INT(ts, snt_loader_skipped(cached), 1);
  CHECK(ts, memcmp(a, c, sizeof *a * (size_t)na) != 0);  /* epoch 1 has its own order */
  int nd = run_epoch(ts, plain, ds, ref, 1, 5, d);
  CHECK_INT(ts, nd, na - 1);
  CHECK_INT(ts, snt_loader_skipped(plain), 2);
  int k = 0, same = 1;  /* the uncached epoch 1 is the cached one without the deleted file */
  for (int i = 0; i < nc; i++) if (c[i] != gone) same &= k < nd && d[k++] == c[i];
  CHECK(ts, same && k == nd);
  snt_loader_destroy(cached);
  snt_loader_destroy(plain);
}

/* Without shuffling the list's own order; with augmentation each row is the reference augmented
 * with the key (seed, epoch, item). */
static void check_order_and_augment(test_state *ts, const snt_dataset *ds, float **ref) {
  int items[6] = {8, 2, 6, 0, 2, 7}, n = 6;  /* a repeat is allowed */
  snt_loader_opts o = {.height = H, .width = W, .batch = 4, .seed = 5};
  snt_loader *l = make_loader(ts, ds, items, n, o);
  o.augment = 1;
  o.aug = (snt_augment){.flip_horizontal = 1, .brightness = 0.05, .contrast = {0.9, 1.1}, .rotation = 0.05};
  snt_loader *aug = make_loader(ts, ds, items, n, o);
  if (!l || !aug) return;
  int seq[MAXN];
  CHECK_INT(ts, run_epoch(ts, l, ds, ref, 0, 4, seq), n);
  CHECK(ts, memcmp(seq, items, sizeof items) == 0);
  float x[8 * PIX];
  int64_t labels[8];
  int got = 0, ok = 1, m = 0;
  snt_err e = {{0}};
  CHECK_INT(ts, snt_loader_begin_epoch(aug, 3, &e), SNT_OK);
  while (snt_loader_next(aug, x, labels, &m, &e) == SNT_OK && m > 0) {
    for (int b = 0; b < m; b++, got++) {
      float want[PIX];
      memcpy(want, ref[items[got]], sizeof want);
      snt_image img = {.width = W, .height = H, .channels = 3, .data = want};
      ok &= snt_augment_image(&o.aug, 5, 3, items[got], &img, &e) == SNT_OK;
      ok &= memcmp(want, x + (size_t)b * PIX, sizeof want) == 0 && labels[b] == ds->label[items[got]];
    }
  }
  CHECK_INT(ts, got, n);
  CHECK(ts, ok);
  snt_loader_destroy(l);
  snt_loader_destroy(aug);
}

/* One shard's epoch against the whole loader's order `seq` (n rows, batches of b): every step
 * of ceil(n / b) yields positions [size * r / ranks, size * (r + 1) / ranks) of its batch (some
 * empty), then the epoch is over. Returns the rows it yielded. */
static int check_shard(test_state *ts, const snt_dataset *ds, float **ref, const int *items, int n, const int *seq,
                       int b, int r, int ranks) {
  snt_loader_opts o = {.height = H, .width = W, .batch = b, .shuffle = 1, .seed = 4, .no_cache = 1,
                       .shard_rank = r, .shard_count = ranks};
  snt_loader *l = make_loader(ts, ds, items, n, o);
  if (!l) return 0;
  float x[8 * PIX];
  int64_t labels[8];
  snt_err e = {{0}};
  int rows = 0, m = 0, same = 1;
  CHECK_INT(ts, snt_loader_steps(l), (n + b - 1) / b);
  CHECK_INT(ts, snt_loader_begin_epoch(l, 2, &e), SNT_OK);
  for (int s = 0; s < (n + b - 1) / b; s++) {
    int first = s * b, size = n - first < b ? n - first : b, lo = first + size * r / ranks, hi = first + size * (r + 1) / ranks;
    CHECK_INT(ts, snt_loader_next(l, x, labels, &m, &e), SNT_OK);
    same &= m == hi - lo;
    for (int k = 0; k < m && k < hi - lo; k++) same &= identify(ref, ds->n_items, x + (size_t)k * PIX) == seq[lo + k];
    rows += m;
  }
  CHECK(ts, same);
  CHECK_INT(ts, snt_loader_next(l, x, labels, &m, &e), SNT_OK);
  CHECK_INT(ts, m, 0);
  snt_loader_destroy(l);
  o.shard_rank = ranks;
  CHECK_INT(ts, snt_loader_create(ds, items, n, &o, &l, &e), SNT_ERR_INPUT);
  CHECK(ts, strstr(e.msg, "shard") != NULL);
  return rows;
}

/* Shards of data-parallel training (2, 3 and 4 ranks; batches of 4 over 11 readable items): the
 * positions of the unsharded order, computed here by hand, and together the whole epoch. */
static void check_shards(test_state *ts, const snt_dataset *ds, float **ref) {
  int items[MAXN], n = 0, seq[MAXN];
  for (int i = 0; i < ds->n_items; i++)
    if (ref[i]) items[n++] = i;
  snt_loader_opts o = {.height = H, .width = W, .batch = 4, .shuffle = 1, .seed = 4, .no_cache = 1};
  snt_loader *whole = make_loader(ts, ds, items, n, o);
  if (!whole) return;
  CHECK_INT(ts, run_epoch(ts, whole, ds, ref, 2, 4, seq), n);
  snt_loader_destroy(whole);
  for (int ranks = 2; ranks <= 4; ranks++) {
    int rows = 0;
    for (int r = 0; r < ranks; r++) rows += check_shard(ts, ds, ref, items, n, seq, 4, r, ranks);
    CHECK_INT(ts, rows, n);
  }
}

/* Stopping anywhere must neither hang nor leak (the sanitizer build checks the leaks). */
static void check_teardown(test_state *ts, const snt_dataset *ds) {
  int all[MAXN];
  for (int i = 0; i < ds->n_items; i++) all[i] = i;
  snt_loader_opts o = {.height = H, .width = W, .batch = 2, .shuffle = 1, .seed = 1};
  float x[2 * PIX];
  int64_t labels[2];
  int n = 0;
  snt_err e = {{0}};
  snt_loader *l = make_loader(ts, ds, all, ds->n_items, o);
  if (!l) return;
  CHECK_INT(ts, snt_loader_next(l, x, labels, &n, &e), SNT_ERR_INPUT);  /* no epoch begun */
  CHECK_INT(ts, snt_loader_begin_epoch(l, 0, &e), SNT_OK);
  CHECK_INT(ts, snt_loader_begin_epoch(l, 1, &e), SNT_OK);  /* abandons epoch 0 */
  CHECK_INT(ts, snt_loader_next(l, x, labels, &n, &e), SNT_OK);
  CHECK_INT(ts, n, 2);
  snt_loader_destroy(l);
  l = make_loader(ts, ds, all, ds->n_items, o);
  if (l) CHECK_INT(ts, snt_loader_begin_epoch(l, 0, &e), SNT_OK);
  snt_loader_destroy(l);
  o.batch = 0;
  CHECK_INT(ts, snt_loader_create(ds, all, ds->n_items, &o, &l, &e), SNT_ERR_INPUT);
  CHECK(ts, l == NULL);
}

static void check_tree(test_state *ts) {
  char dir[1024];
  join(dir, sizeof dir, SINTER_TEST_TMP, "data_loader");
  CHECK_INT(ts, build_tree(dir), 0);
  const char *labels[3] = {"A", "B", "C"};
  snt_dataset ds;
  snt_err e = {{0}};
  snt_status st = snt_data_scan(dir, 3, labels, &ds, &e);
  if (st != SNT_OK) fprintf(stderr, "scan: %s\n", e.msg);
  CHECK_INT(ts, st, SNT_OK);
  if (st != SNT_OK) return;
  /* images/ only: masks/ would double every class. */
  CHECK(ts, ds.n_items == 12 && ds.counts[0] == 4 && ds.counts[1] == 5 && ds.counts[2] == 3);
  CHECK_INT(ts, ds.n_warnings, 0);
  float **ref = references(&ds);
  int readable = 0;
  for (int i = 0; i < ds.n_items; i++) readable += ref[i] != NULL;
  CHECK_INT(ts, readable, 11);
  check_order_and_augment(ts, &ds, ref);
  check_teardown(ts, &ds);
  check_shards(ts, &ds, ref);
  check_epochs(ts, &ds, ref);  /* last: it deletes a file */
  free_refs(ref, ds.n_items);
  snt_dataset_free(&ds);
  rm_tree(dir);
}

/* The shared images: one full epoch at 32x32 gives each class's 67 images, nothing skipped. */
static void check_cxr(test_state *ts) {
  const char *labels[4] = {"COVID", "Normal", "Viral Pneumonia", "Lung_Opacity"};
  snt_dataset ds;
  snt_err e = {{0}};
  snt_status st = snt_data_scan(SINTER_SHARED_DIR "/data/cxr-256", 4, labels, &ds, &e);
  CHECK_INT(ts, st, SNT_OK);
  if (st != SNT_OK) return;
  int *all = malloc(sizeof *all * (size_t)ds.n_items);
  for (int i = 0; i < ds.n_items; i++) all[i] = i;
  snt_loader_opts o = {.height = 32, .width = 32, .batch = 16, .shuffle = 1, .augment = 1,
                       .aug = {.flip_horizontal = 1, .brightness = 0.05, .contrast = {0.9, 1.1}}};
  snt_loader *l = make_loader(ts, &ds, all, ds.n_items, o);
  float *x = malloc(sizeof *x * 16 * 3 * 32 * 32);
  int64_t lab[16], hist[4] = {0};
  int n = 0, batches = 0, in_range = 1;
  if (l) {
    CHECK_INT(ts, snt_loader_begin_epoch(l, 0, &e), SNT_OK);
    while (snt_loader_next(l, x, lab, &n, &e) == SNT_OK && n > 0) {
      batches++;
      for (int b = 0; b < n; b++) hist[lab[b]]++;
      for (int i = 0; i < n * 3 * 32 * 32; i++) in_range &= x[i] >= 0 && x[i] <= 255;
    }
    CHECK_INT(ts, batches, snt_loader_steps(l));
    CHECK_INT(ts, batches, 13);
    CHECK_INT(ts, snt_loader_skipped(l), 0);
  }
  CHECK(ts, hist[0] == 67 && hist[1] == 67 && hist[2] == 67 && hist[3] == 0);
  CHECK(ts, in_range);
  snt_loader_destroy(l);
  free(x);
  free(all);
  snt_dataset_free(&ds);
}

int main(void) {
  test_state ts = {0};
  check_tree(&ts);
  check_cxr(&ts);
  return test_report("test_data_loader", &ts);
}
