/* BatchNormalization, Gemm, MatMul, Softmax/LogSoftmax and reductions against direct
 * double-precision loops written from the ONNX definitions, on random shapes. */
#include "kernels_ref.h"
#include "sinter/kernels.h"

static void test_batchnorm(test_state *ts) {
  rng r = {0x5eed0101};
  for (int i = 0; i < 60; i++) {
    int rank = (int)rng_int(&r, 2, 5);
    int64_t dims[5], n, c, inner = 1;
    for (int a = 0; a < rank; a++) dims[a] = rng_int(&r, 1, 5);
    n = dims[0], c = dims[1];
    for (int a = 2; a < rank; a++) inner *= dims[a];
    int64_t total = n * c * inner;
    float *x = alloc_f(total), *y = alloc_nan(total), *sc = alloc_f(c), *b = alloc_f(c);
    float *mean = alloc_f(c), *var = alloc_f(c), eps = 1e-5f * (float)rng_int(&r, 1, 100);
    double *want = alloc_d(total), *scale = alloc_d(total);
    rng_fill(&r, x, total), rng_fill(&r, sc, c), rng_fill(&r, b, c), rng_fill(&r, mean, c);
    for (int64_t k = 0; k < c; k++) var[k] = 0.6f + 0.5f * rng_float(&r);
    for (int64_t q = 0; q < total; q++) {
      int64_t k = q / inner % c;
      double s = sc[k] / sqrt((double)var[k] + eps);
      want[q] = s * ((double)x[q] - mean[k]) + b[k];
      scale[q] = fabs(s * x[q]) + fabs(s * mean[k]) + fabs(b[k]);
    }
    snt_k_batchnorm(n, c, inner, x, sc, b, mean, var, eps, y);
    check_close_arr(ts, "batchnorm", y, want, scale, total, 1e-5);
    snt_k_batchnorm(n, c, inner, x, sc, b, mean, var, eps, x); /* in place */
    check_close_arr(ts, "batchnorm in place", x, want, scale, total, 1e-5);
    free(x), free(y), free(sc), free(b), free(mean), free(var), free(want), free(scale);
  }
}

/* ---- Gemm ------------------------------------------------------------------------- */

static void test_gemm(test_state *ts) {
  rng r = {0x5eed0102};
  /* C shapes: absent, scalar, [N] (1xN), [1,N], [M,1], [M,N]. */
  for (int i = 0; i < 300; i++) {
    snt_k_gemm_desc d = {.m = rng_int(&r, 1, 17), .n = rng_int(&r, 1, 17), .k = rng_int(&r, 1, 17),
                         .trans_a = (int)rng_int(&r, 0, 1), .trans_b = (int)rng_int(&r, 0, 1),
                         .alpha = 0.5f * (float)rng_int(&r, -2, 3), .beta = 0.5f * (float)rng_int(&r, -2, 3)};
    int c_kind = i % 6;
    d.c_rows = c_kind == 4 || c_kind == 5 ? d.m : 1;
    d.c_cols = c_kind == 2 || c_kind == 3 || c_kind == 5 ? d.n : 1;
    float *a = alloc_f(d.m * d.k), *b = alloc_f(d.k * d.n), *c = alloc_f(d.m * d.n);
    float *y = alloc_nan(d.m * d.n);
    double *want = alloc_d(d.m * d.n), *scale = alloc_d(d.m * d.n);
    rng_fill(&r, a, d.m * d.k), rng_fill(&r, b, d.k * d.n), rng_fill(&r, c, d.m * d.n);
    for (int64_t row = 0; row < d.m; row++)
      for (int64_t col = 0; col < d.n; col++) {
        double s = 0, m = 0;
        for (int64_t p = 0; p < d.k; p++) {
          double av = d.trans_a ? a[p * d.m + row] : a[row * d.k + p];
          double bv = d.trans_b ? b[col * d.k + p] : b[p * d.n + col];
          s += av * bv, m += fabs(av * bv);
        }
        s *= d.alpha, m *= fabs(d.alpha);
        if (c_kind) {
          double cv = c[(d.c_rows == 1 ? 0 : row) * d.c_cols + (d.c_cols == 1 ? 0 : col)];
          s += d.beta * cv, m += fabs(d.beta * cv);
        }
        want[row * d.n + col] = s, scale[row * d.n + col] = m;
      }
    CHECK_INT(ts, snt_k_gemm(NULL, &d, a, b, c_kind ? c : NULL, y), SNT_OK);
    char what[160];
    snprintf(what, sizeof what, "gemm case %d: M=%lld N=%lld K=%lld tA=%d tB=%d C=%d", i,
             (long long)d.m, (long long)d.n, (long long)d.k, d.trans_a, d.trans_b, c_kind);
    check_close_arr(ts, what, y, want, scale, d.m * d.n, 1e-5);
    free(a), free(b), free(c), free(y), free(want), free(scale);
  }
  /* Hand-computed: [[1,2],[3,4]] x [[5,6],[7,8]] = [[19,22],[43,50]], alpha 2, C = [1, 2] * 10. */
  snt_k_gemm_desc d = {.m = 2, .n = 2, .k = 2, .alpha = 2, .beta = 10, .c_rows = 1, .c_cols = 2};
  float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, c[2] = {1, 2}, y[4];
  static const float want[4] = {48, 64, 96, 120};
  CHECK_INT(ts, snt_k_gemm(NULL, &d, a, b, c, y), SNT_OK);
  check_close_list(ts, "gemm hand", y, want, 4, 0);
  d.c_rows = 3;
  CHECK_INT(ts, snt_k_gemm(NULL, &d, a, b, c, y), SNT_ERR_INPUT);
}

/* ---- MatMul ----------------------------------------------------------------------- */

/* numpy matmul: out batch dims broadcast right-aligned; 1-D operands are a row / column. */
static void ref_matmul(int ar, const int64_t *ad, const float *a, int br, const int64_t *bd,
                       const float *b, double *y, double *scale, int64_t *count) {
  int an = ar > 2 ? ar - 2 : 0, bn = br > 2 ? br - 2 : 0, on = an > bn ? an : bn;
  int64_t m = ar >= 2 ? ad[ar - 2] : 1, k = ad[ar - 1], n = br >= 2 ? bd[br - 1] : 1;
  int64_t odims[8], nb = 1;
  for (int i = 0; i < on; i++) {
    int64_t x = i - (on - an) >= 0 ? ad[i - (on - an)] : 1, z = i - (on - bn) >= 0 ? bd[i - (on - bn)] : 1;
    odims[i] = x == 1 ? z : x;
    nb *= odims[i];
  }
  for (int64_t t = 0; t < nb; t++) {
    int64_t idx[8], rem = t, aoff = 0, boff = 0;
    for (int i = on - 1; i >= 0; i--) idx[i] = rem % odims[i], rem /= odims[i];
    for (int i = 0; i < an; i++) {
      int64_t dim = ad[i];
      aoff = aoff * dim + (dim == 1 ? 0 : idx[i + (on - an)]);
    }
    for (int i = 0; i < bn; i++) {
      int64_t dim = bd[i];
      boff = boff * dim + (dim == 1 ? 0 : idx[i + (on - bn)]);
    }
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        double s = 0, mg = 0;
        for (int64_t p = 0; p < k; p++) {
          double v = (double)a[aoff * m * k + i * k + p] * b[boff * k * n + p * n + j];
          s += v, mg += fabs(v);
        }
        y[(t * m + i) * n + j] = s, scale[(t * m + i) * n + j] = mg;
      }
  }
  *count = nb * m * n;
}

static void run_matmul(test_state *ts, const char *what, int ar, const int64_t *ad, int br,
                       const int64_t *bd, rng *r) {
  int64_t na = prod64(ad, ar), nb = prod64(bd, br), ny_max = 4096, ny;
  float *a = alloc_f(na), *b = alloc_f(nb), *y = alloc_nan(ny_max);
  double *want = alloc_d(ny_max), *scale = alloc_d(ny_max);
  rng_fill(r, a, na), rng_fill(r, b, nb);
  ref_matmul(ar, ad, a, br, bd, b, want, scale, &ny);
  CHECK_INT(ts, snt_k_matmul(NULL, ar, ad, a, br, bd, b, y), SNT_OK);
  check_close_arr(ts, what, y, want, scale, ny, 1e-5);
  CHECK(ts, isnan(y[ny])); /* nothing written past the output */
  free(a), free(b), free(y), free(want), free(scale);
}

static void test_matmul(test_state *ts) {
  rng r = {0x5eed0103};
  /* The shapes named in ONNX's docs and tests, then random ones. */
  struct { int ar, br; int64_t ad[4], bd[4]; } fixed[] = {
      {1, 1, {4}, {4}},       {1, 2, {3}, {3, 5}},          {2, 1, {3, 4}, {4}},
      {2, 2, {3, 4}, {4, 5}}, {3, 2, {2, 3, 4}, {4, 5}},    {3, 3, {1, 3, 4}, {2, 4, 5}},
      {2, 3, {3, 4}, {2, 4, 5}}, {1, 3, {4}, {2, 4, 5}},    {3, 1, {2, 3, 4}, {4}},
      {4, 3, {2, 1, 3, 4}, {3, 4, 2}}, {4, 4, {1, 2, 3, 4}, {3, 1, 4, 2}}};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
    char what[64];
    snprintf(what, sizeof what, "matmul fixed %zu", i);
    run_matmul(ts, what, fixed[i].ar, fixed[i].ad, fixed[i].br, fixed[i].bd, &r);
  }
  for (int i = 0; i < 300; i++) {
    int ar = (int)rng_int(&r, 1, 5), br = (int)rng_int(&r, 1, 5);
    int64_t ad[5], bd[5], k = rng_int(&r, 1, 6);
    ad[ar - 1] = k;
    if (br >= 2) bd[br - 2] = k, bd[br - 1] = rng_int(&r, 1, 5);
    else bd[0] = k;
    if (ar >= 2) ad[ar - 2] = rng_int(&r, 1, 5);
    /* Batch dims: shared right-aligned sizes, each side sometimes 1 (broadcast). */
    int64_t shared[3] = {rng_int(&r, 1, 3), rng_int(&r, 1, 3), rng_int(&r, 1, 3)};
    for (int j = 0; j < ar - 2; j++) ad[j] = rng_int(&r, 0, 3) ? shared[3 - (ar - 2) + j] : 1;
    for (int j = 0; j < br - 2; j++) bd[j] = rng_int(&r, 0, 3) ? shared[3 - (br - 2) + j] : 1;
    char what[64];
    snprintf(what, sizeof what, "matmul random %d (ranks %d, %d)", i, ar, br);
    run_matmul(ts, what, ar, ad, br, bd, &r);
  }
  int64_t ad[3] = {2, 3, 4}, bd[3] = {3, 4, 5};
  float buf[128];
  CHECK_INT(ts, snt_k_matmul(NULL, 3, ad, buf, 3, bd, buf, buf), SNT_ERR_INPUT); /* batch 2 vs 3 */
  int64_t bd2[2] = {5, 5};
  CHECK_INT(ts, snt_k_matmul(NULL, 3, ad, buf, 2, bd2, buf, buf), SNT_ERR_INPUT); /* K 4 vs 5 */
}

/* ---- Softmax ------------------------------------------------------------------------ */

static void ref_softmax(int64_t outer, int64_t len, int64_t inner, const float *x, double *y,
                        int log_mode) {
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < inner; j++) {
      double m = -INFINITY, s = 0;
      for (int64_t a = 0; a < len; a++) m = fmax(m, x[(o * len + a) * inner + j]);
      for (int64_t a = 0; a < len; a++) s += exp(x[(o * len + a) * inner + j] - m);
      for (int64_t a = 0; a < len; a++) {
        double v = x[(o * len + a) * inner + j];
        y[(o * len + a) * inner + j] = log_mode ? v - m - log(s) : exp(v - m) / s;
      }
    }
}

static void test_softmax(test_state *ts) {
  rng r = {0x5eed0104};
  for (int i = 0; i < 200; i++) {
    int64_t outer = rng_int(&r, 1, 4), len = rng_int(&r, 1, 40), inner = rng_int(&r, 1, 3);
    if (i % 4 == 0) inner = rng_int(&r, 60, 140); /* more than one block of columns */
    int64_t n = outer * len * inner;
    float *x = alloc_f(n), *y = alloc_nan(n), mult = i % 3 == 0 ? 100.0f : 3.0f;
    double *want = alloc_d(n), *scale = alloc_d(n);
    rng_fill(&r, x, n);
    for (int64_t q = 0; q < n; q++) x[q] *= mult; /* large logits: exp would overflow unshifted */
    int log_mode = i % 2;
    ref_softmax(outer, len, inner, x, want, log_mode);
    /* Softmax outputs are probabilities: judged at 1e-5 of themselves down to 1e-2 (below it,
     * float underflows where double does not; 1e-7 absolute is still tight for a probability).
     * LogSoftmax is x - (max + log(sum)) in float: its rounding is relative to |x| + 1. */
    for (int64_t q = 0; q < n; q++) scale[q] = log_mode ? fabs(want[q]) + 1.0 : 1e-2;
    char what[96];
    snprintf(what, sizeof what, "%s case %d: %lldx%lldx%lld", log_mode ? "log_softmax" : "softmax",
             i, (long long)outer, (long long)len, (long long)inner);
    (log_mode ? snt_k_log_softmax : snt_k_softmax)(outer, len, inner, x, y);
    check_close_arr(ts, what, y, want, scale, n, 1e-5);
    (log_mode ? snt_k_log_softmax : snt_k_softmax)(outer, len, inner, x, x); /* in place */
    check_close_arr(ts, what, x, want, scale, n, 1e-5);
    free(x), free(y), free(want), free(scale);
  }
  /* Hand-computed: softmax([1, 2, 3]) = e^k / (e + e^2 + e^3). */
  float x[3] = {1, 2, 3}, y[3];
  static const float want[3] = {0.090030573f, 0.244728471f, 0.665240956f};
  snt_k_softmax(1, 3, 1, x, y);
  check_close_list(ts, "softmax hand", y, want, 3, 1e-6);
}

/* ---- reductions --------------------------------------------------------------------- */

static void test_reduce(test_state *ts) {
  rng r = {0x5eed0105};
  for (int i = 0; i < 400; i++) {
    int rank = (int)rng_int(&r, 1, 6);
    int64_t dims[6], total = 1;
    for (int a = 0; a < rank; a++) dims[a] = rng_int(&r, 1, 5), total *= dims[a];
    uint32_t mask = (uint32_t)rng_int(&r, 0, (1 << rank) - 1);
    snt_k_reduce_kind kind = (snt_k_reduce_kind)(i % 4);
    int64_t kept = 1;
    for (int a = 0; a < rank; a++)
      if (!((mask >> a) & 1)) kept *= dims[a];
    float *x = alloc_f(total), *y = alloc_nan(kept + 1);
    double *want = alloc_d(kept), *scale = alloc_d(kept), *cnt = alloc_d(kept);
    rng_fill(&r, x, total);
    for (int64_t j = 0; j < kept; j++)
      want[j] = kind == SNT_K_REDUCE_MAX ? -INFINITY : kind == SNT_K_REDUCE_MIN ? INFINITY : 0,
      scale[j] = 0, cnt[j] = 0;
    for (int64_t q = 0; q < total; q++) {
      int64_t rem = q, idx[6], out = 0;
      for (int a = rank - 1; a >= 0; a--) idx[a] = rem % dims[a], rem /= dims[a];
      for (int a = 0; a < rank; a++)
        if (!((mask >> a) & 1)) out = out * dims[a] + idx[a];
      double v = x[q];
      if (kind == SNT_K_REDUCE_MAX) want[out] = fmax(want[out], v);
      else if (kind == SNT_K_REDUCE_MIN) want[out] = fmin(want[out], v);
      else want[out] += v;
      scale[out] += fabs(v), cnt[out] += 1;
    }
    for (int64_t j = 0; j < kept; j++) {
      if (kind == SNT_K_REDUCE_MEAN) want[j] /= cnt[j], scale[j] /= cnt[j];
      if (kind == SNT_K_REDUCE_MAX || kind == SNT_K_REDUCE_MIN) scale[j] = 0;
    }
    CHECK_INT(ts, snt_k_reduce(kind, rank, dims, mask, x, y), SNT_OK);
    char what[96];
    snprintf(what, sizeof what, "reduce case %d: kind %d rank %d mask %#x", i, (int)kind, rank, mask);
    check_close_arr(ts, what, y, want, scale, kept, 1e-5);
    CHECK(ts, isnan(y[kept]));
    free(x), free(y), free(want), free(scale), free(cnt);
  }
  /* Hand-computed: [[1, 2, 3], [4, 5, 6]] over axis 1: sums 6, 15; over axis 0: means 2.5 3.5 4.5. */
  float x[6] = {1, 2, 3, 4, 5, 6}, y[3];
  int64_t dims[2] = {2, 3};
  CHECK_INT(ts, snt_k_reduce(SNT_K_REDUCE_SUM, 2, dims, 2u, x, y), SNT_OK);
  CHECK(ts, y[0] == 6 && y[1] == 15);
  CHECK_INT(ts, snt_k_reduce(SNT_K_REDUCE_MEAN, 2, dims, 1u, x, y), SNT_OK);
  CHECK(ts, y[0] == 2.5f && y[1] == 3.5f && y[2] == 4.5f);
  CHECK_INT(ts, snt_k_reduce(SNT_K_REDUCE_MIN, 2, dims, 3u, x, y), SNT_OK);
  CHECK(ts, y[0] == 1);
  CHECK_INT(ts, snt_k_reduce(SNT_K_REDUCE_MAX, 2, dims, 4u, x, y), SNT_ERR_INPUT);
}

/* snt_k_reduce_ctx on 1 and 2 threads: the team's rows (large maps, every kind) the same bits
 * as snt_k_reduce, and within rounding of a double sum; other masks fall back to it. */
static void test_reduce_team(test_state *ts) {
  static const struct { int rank; int64_t dims[4]; uint32_t mask; } cs[] = {
      {4, {1, 32, 112, 112}, 12u}, {4, {3, 7, 100, 50}, 12u}, {2, {2, 40000}, 2u}, {1, {70001}, 1u},
      {4, {2, 8, 64, 64}, 5u}, {3, {4, 1, 9000}, 6u}};
  snt_k_ctx *ctxs[2] = {snt_k_ctx_create(1), snt_k_ctx_create(2)};
  rng r = {0x7e4d};
  for (int i = 0; i < (int)(sizeof cs / sizeof cs[0]); i++) {
    int64_t total = 1, kept = 1;
    for (int a = 0; a < cs[i].rank; a++) {
      total *= cs[i].dims[a];
      if (!((cs[i].mask >> a) & 1)) kept *= cs[i].dims[a];
    }
    float *x = alloc_f(total), *want = alloc_f(kept), *got = alloc_f(kept);
    rng_fill(&r, x, total);
    for (int k = 0; k < 4; k++) {
      snt_k_reduce_kind kind = (snt_k_reduce_kind)k;
      CHECK_INT(ts, snt_k_reduce(kind, cs[i].rank, cs[i].dims, cs[i].mask, x, want), SNT_OK);
      for (int t = 0; t < 2; t++) {
        CHECK_INT(ts, snt_k_reduce_ctx(ctxs[t], kind, cs[i].rank, cs[i].dims, cs[i].mask, x, got), SNT_OK);
        ts->checks++;
        if (memcmp(want, got, (size_t)kept * sizeof(float))) {
          ts->failures++;
          fprintf(stderr, "reduce team case %d kind %d (%d threads): differs from snt_k_reduce\n", i, k, t + 1);
        }
      }
      if (cs[i].mask == 12u && kind == SNT_K_REDUCE_MEAN) { /* the squeeze-excite mean against double */
        int64_t n = total / kept;
        double *ref = alloc_d(kept), *scale = alloc_d(kept);
        for (int64_t j = 0; j < kept; j++) {
          double sum = 0, abs_sum = 0;
          for (int64_t q = 0; q < n; q++) sum += x[j * n + q], abs_sum += fabs(x[j * n + q]);
          ref[j] = sum / (double)n, scale[j] = abs_sum / (double)n;
        }
        check_close_arr(ts, "reduce team mean", got, ref, scale, kept, 1e-5);
        free(ref), free(scale);
      }
    }
    free(x), free(want), free(got);
  }
  snt_k_ctx_destroy(ctxs[0]), snt_k_ctx_destroy(ctxs[1]);
}

int main(void) {
  test_state ts = {0};
  test_reduce_team(&ts);
  test_batchnorm(&ts);
  test_gemm(&ts);
  test_matmul(&ts);
  test_softmax(&ts);
  test_reduce(&ts);
  return test_report("test_kernels_dense", &ts);
}
