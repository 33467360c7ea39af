/* The stratified split and the balanced class weights. Expected sizes are worked out by hand in
 * the comments (largest remainder over exact fractions), or are the notebook's published numbers. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "sinter/data.h"

static const double F811[3] = {0.8, 0.1, 0.1};

static void check_counts(test_state *ts, int n, const int64_t *counts, const double f[3],
                         const int64_t *want_train, const int64_t *want_val, const int64_t *want_test) {
  int64_t tr[8], va[8], te[8];
  snt_err e = {{0}};
  snt_status st = snt_data_split_counts(n, counts, f, tr, va, te, &e);
  if (st != SNT_OK) fprintf(stderr, "split_counts: %s\n", e.msg);
  CHECK_INT(ts, st, SNT_OK);
  for (int c = 0; st == SNT_OK && c < n; c++) {
    CHECK_INT(ts, tr[c], want_train[c]);
    CHECK_INT(ts, va[c], want_val[c]);
    CHECK_INT(ts, te[c], want_test[c]);
  }
}

/* The notebook: COVID, Normal, Viral Pneumonia, Lung_Opacity; the numbers exactly.
 * held = ceil(0.2 * 21165) = 4233, train 16932 = 0.8 * count: 2892.8, 8153.6, 1076, 4809.6;
 * floors sum to 16930, the two units go to .8 (COVID) and the tie .6/.6 to Normal (lower label).
 * Held 723, 2038, 269, 1203. test = ceil(4233 / 2) = 2117 sized over the ORIGINAL counts,
 * 2117 / 21165 of each: 361.685, 1019.441, 134.532, 601.342; floors sum to 2115, the two units go
 * to COVID (.685) and Viral Pneumonia (.532); no class is near its held count. val = held - test.
 * (../shared/SEED.md has val 361 / 1019 / 135 / 601, test 362 / 1019 / 134 / 602: sklearn sizes
 * val over the held counts and breaks remainder ties at random; train and the totals agree.) */
static void check_notebook(test_state *ts) {
  const int64_t counts[4] = {3616, 10192, 1345, 6012};
  const int64_t tr[4] = {2893, 8154, 1076, 4809}, va[4] = {361, 1019, 134, 602},
                te[4] = {362, 1019, 135, 601};
  check_counts(ts, 4, counts, F811, tr, va, te);
  /* 60/10/30: held ceil(0.4 N) = 8466, train 12699 = 0.6 count: 2169.6, 6115.2, 807, 3607.2 ->
   * the one unit to COVID; held 1446, 4077, 538, 2405. test ceil(8466 * 3 / 4) = 6350 over the
   * original counts, 6350 / 21165 of each: 1084.885, 3057.841, 403.532, 1803.742; floors sum to
   * 6347, the three units to COVID (.885), Normal (.841), Lung_Opacity (.742); val = held - test. */
  const double f613[3] = {0.6, 0.1, 0.3};
  const int64_t tr2[4] = {2170, 6115, 807, 3607}, va2[4] = {361, 1019, 135, 601},
                te2[4] = {1085, 3058, 403, 1804};
  check_counts(ts, 4, counts, f613, tr2, va2, te2);
}

static void check_small(test_state *ts) {
  /* {10, 7, 3} at 60/10/30: held 8, train 12: 6, 4.2, 1.8 -> 6, 4, 2; held 4, 3, 1;
   * test ceil(8 * 0.75) = 6 over the counts: 3, 2.1, 0.9 -> 3, 2, 1; val 1, 1, 0. */
  const double f613[3] = {0.6, 0.1, 0.3};
  const int64_t c1[3] = {10, 7, 3}, t1[3] = {6, 4, 2}, v1[3] = {1, 1, 0}, s1[3] = {3, 2, 1};
  check_counts(ts, 3, c1, f613, t1, v1, s1);
  /* {0, 1, 5} at 80/10/10: held ceil(1.2) = 2, train 4: 0, 0.67, 3.33 -> 0, 1, 3; held 0, 0, 2;
   * test ceil(2 / 2) = 1 over the counts: 0, 0.17, 0.83 -> the unit to the last class; val 0, 0, 1.
   * The empty class divides nothing by zero. */
  const int64_t c2[3] = {0, 1, 5}, t2[3] = {0, 1, 3}, v2[3] = {0, 0, 1}, s2[3] = {0, 0, 1};
  check_counts(ts, 3, c2, F811, t2, v2, s2);
  /* A test share above the held count. {1, 1, 6} at 60/10/30: held ceil(3.2) = 4, train 4:
   * 0.5, 0.5, 3 -> tie to class 0: 1, 0, 3; held 0, 1, 3. test ceil(4 * 0.75) = 3 over the counts:
   * 0.375, 0.375, 2.25 -> floors 0, 0, 2; the unit's tie goes to class 0, which holds nothing, so
   * it passes to class 1 (next remainder with room): test 0, 1, 2; val 0, 0, 1. */
  const int64_t c3[3] = {1, 1, 6}, t3[3] = {1, 0, 3}, v3[3] = {0, 0, 1}, s3[3] = {0, 1, 2};
  check_counts(ts, 3, c3, f613, t3, v3, s3);
  /* 0- and 1-item classes, {0, 1, 1} at 60/10/30: held ceil(0.8) = 1, train 1: 0, 0.5, 0.5 -> tie
   * to class 1; held 0, 0, 1. test ceil(0.75) = 1: 0, 0.5, 0.5 -> the tie's class 1 is empty of
   * held items, so class 2; val nothing. */
  const int64_t c4[3] = {0, 1, 1}, t4[3] = {0, 1, 0}, v4[3] = {0, 0, 0}, s4[3] = {0, 0, 1};
  check_counts(ts, 3, c4, f613, t4, v4, s4);
  /* {1, 4, 4} at 60/10/30: held ceil(3.6) = 4, train 5: 0.56, 2.22, 2.22 -> 1, 2, 2; held 0, 2, 2.
   * test 3: 0.33, 1.33, 1.33 -> floors 0, 1, 1; the three-way tie's class 0 holds nothing, so
   * class 1: test 0, 2, 1; val 0, 0, 1. */
  const int64_t c5[3] = {1, 4, 4}, t5[3] = {1, 2, 2}, v5[3] = {0, 0, 1}, s5[3] = {0, 2, 1};
  check_counts(ts, 3, c5, f613, t5, v5, s5);
  const int64_t z[3] = {0, 0, 0};
  check_counts(ts, 2, z, F811, z, z, z);
  /* Nothing held: every item trains. */
  const double f100[3] = {1, 0, 0};
  check_counts(ts, 3, c1, f100, c1, z, z);
  /* Everything held, all of it test: {0, 1, 5} at 0/0/1. */
  const double f001[3] = {0, 0, 1};
  check_counts(ts, 3, c2, f001, z, z, c2);
}

static void check_bad_fractions(test_state *ts) {
  const int64_t counts[2] = {5, 5};
  int64_t a[2], b[2], c[2];
  const double bad[3][3] = {{0.5, 0.5, 0.5}, {-0.1, 0.6, 0.5}, {0.8, 0.1, 0.09}};
  for (int i = 0; i < 3; i++) {
    snt_err e = {{0}};
    CHECK_INT(ts, snt_data_split_counts(2, counts, bad[i], a, b, c, &e), SNT_ERR_INPUT);
    CHECK(ts, strstr(e.msg, "fraction") != NULL);
  }
}

/* A data set of classes with the given sizes; only labels matter to the split. */
static snt_dataset fake_dataset(int n_classes, const int64_t *counts, int64_t *counts_store, int *label) {
  snt_dataset ds = {.n_classes = n_classes, .label = label, .counts = counts_store};
  for (int c = 0; c < n_classes; c++) {
    counts_store[c] = counts[c];
    for (int64_t i = 0; i < counts[c]; i++) label[ds.n_items++] = c;
  }
  return ds;
}

static int same_list(const int *a, const int *b, int n) {
  return memcmp(a, b, sizeof *a * (size_t)n) == 0;
}

/* Every item lands in exactly one part, each part has the per-class sizes, lists ascend. */
static void check_partition(test_state *ts, const snt_dataset *ds, const snt_split *s, const double f[3]) {
  int64_t want[3][8];
  snt_err e = {{0}};
  CHECK_INT(ts, snt_data_split_counts(ds->n_classes, ds->counts, f, want[0], want[1], want[2], &e), SNT_OK);
  int *seen = calloc((size_t)ds->n_items, sizeof *seen);
  const int *parts[3] = {s->train, s->val, s->test};
  const int sizes[3] = {s->n_train, s->n_val, s->n_test};
  for (int p = 0; p < 3; p++) {
    int64_t per[8] = {0};
    for (int i = 0; i < sizes[p]; i++) {
      seen[parts[p][i]]++;
      per[ds->label[parts[p][i]]]++;
      if (i) CHECK(ts, parts[p][i - 1] < parts[p][i]);
    }
    for (int c = 0; c < ds->n_classes; c++) CHECK_INT(ts, per[c], want[p][c]);
  }
  int once = 1;
  for (int i = 0; i < ds->n_items; i++) once &= seen[i] == 1;
  CHECK(ts, once);
  free(seen);
}

static void check_items(test_state *ts) {
  const int64_t counts[4] = {500, 300, 0, 50};
  int64_t store[4];
  int label[850];
  snt_dataset ds = fake_dataset(4, counts, store, label);
  snt_split a, b, c;
  snt_err e = {{0}};
  CHECK_INT(ts, snt_data_split(&ds, F811, 42, &a, &e), SNT_OK);
  CHECK_INT(ts, snt_data_split(&ds, F811, 42, &b, &e), SNT_OK);
  CHECK_INT(ts, snt_data_split(&ds, F811, 43, &c, &e), SNT_OK);
  check_partition(ts, &ds, &a, F811);
  check_partition(ts, &ds, &c, F811);
  CHECK(ts, a.n_train == b.n_train && same_list(a.train, b.train, a.n_train) &&
                same_list(a.val, b.val, a.n_val) && same_list(a.test, b.test, a.n_test));
  CHECK(ts, a.n_test == c.n_test && !same_list(a.test, c.test, a.n_test));
  /* The held items are drawn from the whole class, not its first or last names. */
  int below = 0;
  for (int i = 0; i < a.n_test; i++) below += a.test[i] < 250;
  CHECK(ts, below > 0 && below < a.n_test);
  /* Balanced weights over this split's training part, against counting by hand. */
  double w[4];
  snt_data_class_weights(&ds, &a, w);
  int64_t tc[4] = {0};
  for (int i = 0; i < a.n_train; i++) tc[ds.label[a.train[i]]]++;
  for (int k = 0; k < 4; k++)
    CHECK(ts, tc[k] ? fabs(w[k] - a.n_train / (4.0 * tc[k])) < 1e-12 : w[k] == 0.0);
  snt_split_free(&a);
  snt_split_free(&b);
  snt_split_free(&c);
  CHECK(ts, a.train == NULL && a.n_train == 0);
  double bad[3] = {0.7, 0.1, 0.1};
  CHECK_INT(ts, snt_data_split(&ds, bad, 1, &a, &e), SNT_ERR_INPUT);
  CHECK(ts, a.train == NULL);
}

/* The item-level split on the notebook's counts has the per-class sizes, and on a case
 * where a test share exceeds the held count it is still a partition, stratified and seeded. */
static void check_items_notebook(test_state *ts) {
  const int64_t counts[4] = {3616, 10192, 1345, 6012};
  static int label[21165];
  int64_t store[4];
  snt_dataset ds = fake_dataset(4, counts, store, label);
  snt_split a;
  snt_err e = {{0}};
  CHECK_INT(ts, snt_data_split(&ds, F811, 42, &a, &e), SNT_OK);
  check_partition(ts, &ds, &a, F811);
  const int64_t want[3][4] = {{2893, 8154, 1076, 4809}, {361, 1019, 134, 602}, {362, 1019, 135, 601}};
  const int *parts[3] = {a.train, a.val, a.test};
  const int sizes[3] = {a.n_train, a.n_val, a.n_test};
  CHECK(ts, a.n_train == 16932 && a.n_val == 2116 && a.n_test == 2117);
  for (int p = 0; p < 3; p++) {
    int64_t per[4] = {0};
    for (int i = 0; i < sizes[p]; i++) per[ds.label[parts[p][i]]]++;
    for (int c = 0; c < 4; c++) CHECK_INT(ts, per[c], want[p][c]);
  }
  snt_split_free(&a);

  const double f613[3] = {0.6, 0.1, 0.3};
  const int64_t c3[3] = {1, 1, 6};
  int label3[8];
  int64_t store3[3];
  snt_dataset d3 = fake_dataset(3, c3, store3, label3);
  snt_split x, y;
  CHECK_INT(ts, snt_data_split(&d3, f613, 7, &x, &e), SNT_OK);
  CHECK_INT(ts, snt_data_split(&d3, f613, 7, &y, &e), SNT_OK);
  check_partition(ts, &d3, &x, f613);
  CHECK(ts, x.n_train == 4 && x.n_val == 1 && x.n_test == 3);
  CHECK(ts, x.n_test == y.n_test && same_list(x.train, y.train, x.n_train) &&
                same_list(x.val, y.val, x.n_val) && same_list(x.test, y.test, x.n_test));
  snt_split_free(&x);
  snt_split_free(&y);
}

static void check_weights(test_state *ts) {
  const int64_t train[4] = {2893, 8154, 1076, 4809};
  const double want[4] = {1.4632, 0.5191, 3.9340, 0.8802};  /* ../shared/SEED.md */
  double w[4];
  snt_data_class_weights_counts(4, train, w);
  for (int c = 0; c < 4; c++) CHECK(ts, fabs(w[c] - want[c]) < 5e-5);
  const int64_t some[3] = {6, 0, 2};  /* n = 8: 8 / 18, 0, 8 / 6 */
  snt_data_class_weights_counts(3, some, w);
  CHECK(ts, fabs(w[0] - 8.0 / 18) < 1e-12 && w[1] == 0.0 && fabs(w[2] - 8.0 / 6) < 1e-12);
}

int main(void) {
  test_state ts = {0};
  check_notebook(&ts);
  check_small(&ts);
  check_bad_fractions(&ts);
  check_items(&ts);
  check_items_notebook(&ts);
  check_weights(&ts);
  return test_report("test_data_split", &ts);
}
