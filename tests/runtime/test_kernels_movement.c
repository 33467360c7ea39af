/* Transpose, Pad, Concat and Gather against element-by-element references, for element sizes
 * 1, 2, 4, 8 and odd ones, plus hand-computed cases. */
#include "kernels_ref.h"
#include "sinter/kernels.h"

static void fill_bytes(rng *r, unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)rng_next(r);
}

static const size_t elem_sizes[] = {1, 2, 4, 8, 3, 12};

/* ---- transpose ---------------------------------------------------------------------- */

static void random_perm(rng *r, int n, int *perm) {
  for (int i = 0; i < n; i++) perm[i] = i;
  for (int i = n - 1; i > 0; i--) {
    int j = (int)rng_int(r, 0, i), t = perm[i];
    perm[i] = perm[j], perm[j] = t;
  }
}

static void run_transpose(test_state *ts, rng *r, const char *what, int rank,
                          const int64_t *dims, const int *perm, size_t es) {
  int64_t od[6], n = prod64(dims, rank);
  for (int a = 0; a < rank; a++) od[a] = dims[perm[a]];
  unsigned char *x = xmalloc((size_t)n * es), *y = xmalloc((size_t)n * es), *want = xmalloc((size_t)n * es);
  fill_bytes(r, x, (size_t)n * es);
  for (int64_t q = 0; q < n; q++) { /* y[o] = x[i] with i[perm[a]] = o[a] */
    int64_t o[6], in_idx[6], rem = q, off = 0;
    for (int a = rank - 1; a >= 0; a--) o[a] = rem % od[a], rem /= od[a];
    for (int a = 0; a < rank; a++) in_idx[perm[a]] = o[a];
    for (int a = 0; a < rank; a++) off = off * dims[a] + in_idx[a];
    memcpy(want + (size_t)q * es, x + (size_t)off * es, es);
  }
  CHECK_INT(ts, snt_k_transpose(es, rank, dims, perm, x, y), SNT_OK);
  ts->checks++;
  if (memcmp(y, want, (size_t)n * es) != 0) {
    ts->failures++;
    fprintf(stderr, "%s: rank %d elem %zu perm", what, rank, es);
    for (int a = 0; a < rank; a++) fprintf(stderr, " %d", perm[a]);
    fprintf(stderr, " differs\n");
  }
  free(x), free(y), free(want);
}

static void test_transpose(test_state *ts) {
  rng r = {0x5eed0301};
  for (int i = 0; i < 500; i++) {
    int rank = (int)rng_int(&r, 1, 6), perm[6];
    int64_t dims[6];
    for (int a = 0; a < rank; a++) dims[a] = rng_int(&r, 1, rank > 4 ? 4 : 6);
    random_perm(&r, rank, perm);
    char what[64];
    snprintf(what, sizeof what, "transpose case %d", i);
    run_transpose(ts, &r, what, rank, dims, perm, elem_sizes[i % 6]);
  }
  /* Planes larger than one tile, with partial tiles at the edges. */
  int64_t d3[3] = {3, 37, 41}, d4[4] = {2, 20, 3, 33};
  int p3[3] = {0, 2, 1}, p4a[4] = {0, 2, 3, 1}, p4b[4] = {3, 1, 0, 2};
  for (size_t e = 0; e < 6; e++) {
    run_transpose(ts, &r, "transpose 3x37x41", 3, d3, p3, elem_sizes[e]);
    run_transpose(ts, &r, "transpose NCHW->NHWC", 4, d4, p4a, elem_sizes[e]);
    run_transpose(ts, &r, "transpose 2x20x3x33", 4, d4, p4b, elem_sizes[e]);
  }
  /* Hand-computed: [[1, 2, 3], [4, 5, 6]] transposed. */
  float x[6] = {1, 2, 3, 4, 5, 6}, y[6];
  int64_t dims[2] = {2, 3};
  int perm[2] = {1, 0}, bad[2] = {0, 0};
  static const float want[6] = {1, 4, 2, 5, 3, 6};
  CHECK_INT(ts, snt_k_transpose(4, 2, dims, perm, x, y), SNT_OK);
  CHECK(ts, memcmp(y, want, sizeof want) == 0);
  CHECK_INT(ts, snt_k_transpose(4, 2, dims, bad, x, y), SNT_ERR_INPUT);
}

/* ---- pad ---------------------------------------------------------------------------- */

/* numpy's mirroring, applied until the index lands inside. */
static int64_t ref_pad_index(int64_t i, int64_t n, snt_k_pad_mode mode) {
  if (i >= 0 && i < n) return i;
  if (mode == SNT_K_PAD_CONSTANT) return -1;
  if (mode == SNT_K_PAD_EDGE || n == 1) return i < 0 ? 0 : n - 1;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

static void test_pad(test_state *ts) {
  rng r = {0x5eed0302};
  for (int i = 0; i < 600; i++) {
    int rank = (int)rng_int(&r, 1, 5);
    snt_k_pad_mode mode = (snt_k_pad_mode)(i % 3);
    int64_t dims[5], od[5], pads[10];
    for (int a = 0; a < rank; a++) {
      dims[a] = rng_int(&r, 1, 5);
      pads[a] = rng_int(&r, 0, i % 5 == 0 ? 7 : 2); /* sometimes longer than the axis */
      pads[a + rank] = rng_int(&r, 0, i % 5 == 0 ? 7 : 2);
      od[a] = dims[a] + pads[a] + pads[a + rank];
    }
    size_t es = elem_sizes[i % 6];
    int64_t n = prod64(dims, rank), m = prod64(od, rank);
    unsigned char *x = xmalloc((size_t)n * es), *y = xmalloc((size_t)m * es), *want = xmalloc((size_t)m * es);
    unsigned char value[12];
    fill_bytes(&r, x, (size_t)n * es);
    fill_bytes(&r, value, sizeof value);
    for (int64_t q = 0; q < m; q++) {
      int64_t rem = q, o[5], off = 0, inside = 1;
      for (int a = rank - 1; a >= 0; a--) o[a] = rem % od[a], rem /= od[a];
      for (int a = 0; a < rank; a++) {
        int64_t s = ref_pad_index(o[a] - pads[a], dims[a], mode);
        inside = inside && s >= 0;
        off = off * dims[a] + (s < 0 ? 0 : s);
      }
      memcpy(want + (size_t)q * es, inside ? x + (size_t)off * es : value, es);
    }
    CHECK_INT(ts, snt_k_pad(es, rank, dims, pads, mode, value, x, y), SNT_OK);
    ts->checks++;
    if (memcmp(y, want, (size_t)m * es) != 0) {
      ts->failures++;
      fprintf(stderr, "pad case %d: rank %d mode %d elem %zu differs\n", i, rank, (int)mode, es);
    }
    free(x), free(y), free(want);
  }
  /* Hand-computed: numpy.pad([1, 2, 3], (5, 4), 'reflect') = 2 1 2 3 2 | 1 2 3 | 2 1 2 3. */
  int32_t x[3] = {1, 2, 3}, y[12], zero = 0;
  int64_t dims[1] = {3}, pads[2] = {5, 4};
  static const int32_t reflect[12] = {2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3};
  CHECK_INT(ts, snt_k_pad(4, 1, dims, pads, SNT_K_PAD_REFLECT, &zero, x, y), SNT_OK);
  CHECK(ts, memcmp(y, reflect, sizeof reflect) == 0);
  static const int32_t edge[12] = {1, 1, 1, 1, 1, 1, 2, 3, 3, 3, 3, 3};
  CHECK_INT(ts, snt_k_pad(4, 1, dims, pads, SNT_K_PAD_EDGE, &zero, x, y), SNT_OK);
  CHECK(ts, memcmp(y, edge, sizeof edge) == 0);
  /* ONNX Pad docs, constant: [[1, 1.2], [2.3, 3.4], [4.5, 5.7]] with pads [0, 2, 0, 0]. */
  float xf[6] = {1, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f}, yf[12], fz = 0;
  int64_t d2[2] = {3, 2}, p2[4] = {0, 2, 0, 0};
  static const float constant[12] = {0, 0, 1, 1.2f, 0, 0, 2.3f, 3.4f, 0, 0, 4.5f, 5.7f};
  CHECK_INT(ts, snt_k_pad(4, 2, d2, p2, SNT_K_PAD_CONSTANT, &fz, xf, yf), SNT_OK);
  CHECK(ts, memcmp(yf, constant, sizeof constant) == 0);
  int64_t neg[4] = {0, -1, 0, 0};
  CHECK_INT(ts, snt_k_pad(4, 2, d2, neg, SNT_K_PAD_CONSTANT, &fz, xf, yf), SNT_ERR_INPUT);
}

/* ---- concat and gather -------------------------------------------------------------- */

static void test_concat(test_state *ts) {
  rng r = {0x5eed0303};
  for (int i = 0; i < 200; i++) {
    int n = (int)rng_int(&r, 1, 4);
    int64_t outer = rng_int(&r, 1, 4), inner = rng_int(&r, 1, 5), sizes[4], total = 0;
    size_t es = elem_sizes[i % 6];
    const void *xs[4];
    unsigned char *bufs[4];
    for (int k = 0; k < n; k++) {
      sizes[k] = rng_int(&r, 0, 4);
      total += sizes[k];
      bufs[k] = xmalloc((size_t)(outer * sizes[k] * inner) * es);
      fill_bytes(&r, bufs[k], (size_t)(outer * sizes[k] * inner) * es);
      xs[k] = bufs[k];
    }
    size_t ny = (size_t)(outer * total * inner) * es;
    unsigned char *y = xmalloc(ny), *want = xmalloc(ny);
    for (int64_t o = 0; o < outer; o++) /* y[o, base_k + j, i] = x_k[o, j, i] */
      for (int k = 0, base = 0; k < n; base += (int)sizes[k], k++)
        for (int64_t j = 0; j < sizes[k]; j++)
          for (int64_t t = 0; t < inner; t++)
            memcpy(want + (size_t)((o * total + base + j) * inner + t) * es,
                   bufs[k] + (size_t)((o * sizes[k] + j) * inner + t) * es, es);
    snt_k_concat(es, n, xs, sizes, outer, inner, y);
    CHECK(ts, memcmp(y, want, ny) == 0);
    for (int k = 0; k < n; k++) free(bufs[k]);
    free(y), free(want);
  }
}

static void test_gather(test_state *ts) {
  rng r = {0x5eed0304};
  for (int i = 0; i < 200; i++) {
    int64_t outer = rng_int(&r, 1, 4), len = rng_int(&r, 1, 6), inner = rng_int(&r, 1, 4);
    int64_t nidx = rng_int(&r, 0, 7);
    size_t es = elem_sizes[i % 6];
    int64_t i64[7];
    int32_t i32[7];
    for (int64_t k = 0; k < nidx; k++) i64[k] = rng_int(&r, -len, len - 1), i32[k] = (int32_t)i64[k];
    unsigned char *x = xmalloc((size_t)(outer * len * inner) * es);
    size_t ny = (size_t)(outer * nidx * inner) * es;
    unsigned char *y = xmalloc(ny), *want = xmalloc(ny);
    fill_bytes(&r, x, (size_t)(outer * len * inner) * es);
    for (int64_t o = 0; o < outer; o++)
      for (int64_t k = 0; k < nidx; k++) {
        int64_t src = i64[k] < 0 ? i64[k] + len : i64[k];
        memcpy(want + (size_t)((o * nidx + k) * inner) * es,
               x + (size_t)((o * len + src) * inner) * es, (size_t)inner * es);
      }
    CHECK_INT(ts, snt_k_gather(es, outer, len, inner, x, SNT_I64, i64, nidx, y), SNT_OK);
    CHECK(ts, memcmp(y, want, ny) == 0);
    CHECK_INT(ts, snt_k_gather(es, outer, len, inner, x, SNT_I32, i32, nidx, y), SNT_OK);
    CHECK(ts, memcmp(y, want, ny) == 0);
    free(x), free(y), free(want);
  }
  /* Hand-computed (ONNX Gather docs, axis 0): data [[1, 1.2], [2.3, 3.4], [4.5, 5.7]],
   * indices [0, 1, 1, 2] and, counting from the end, [-3, -2, -2, -1]. */
  float x[6] = {1, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f}, y[8];
  int64_t idx[4] = {0, 1, 1, 2}, neg[4] = {-3, -2, -2, -1}, out_of_range[2] = {0, 3};
  static const float want[8] = {1, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f};
  CHECK_INT(ts, snt_k_gather(4, 1, 3, 2, x, SNT_I64, idx, 4, y), SNT_OK);
  CHECK(ts, memcmp(y, want, sizeof want) == 0);
  CHECK_INT(ts, snt_k_gather(4, 1, 3, 2, x, SNT_I64, neg, 4, y), SNT_OK);
  CHECK(ts, memcmp(y, want, sizeof want) == 0);
  CHECK_INT(ts, snt_k_gather(4, 1, 3, 2, x, SNT_I64, out_of_range, 2, y), SNT_ERR_INPUT);
  int32_t too_low[1] = {-4};
  CHECK_INT(ts, snt_k_gather(4, 1, 3, 2, x, SNT_I32, too_low, 1, y), SNT_ERR_INPUT);
  CHECK_INT(ts, snt_k_gather(4, 1, 3, 2, x, SNT_F32, idx, 1, y), SNT_ERR_INPUT);
}

/* ---- channel scale ------------------------------------------------------------------- */

/* snt_k_channel_scale against the product written out (then + residual, then ReLU, each
 * rounded as its own op), on 1 and 2 threads (small sizes run on one, large ones on the team),
 * per-sample scales and shared ones, and in place. */
static void test_channel_scale(test_state *ts) {
  static const int64_t shapes[][3] = {{1, 3, 7}, {2, 5, 33}, {3, 32, 4096}, {1, 96, 3136}, {2, 1, 70000}};
  snt_k_ctx *ctxs[2] = {snt_k_ctx_create(1), snt_k_ctx_create(2)};
  rng r = {0xc4a7};
  for (int i = 0; i < 5; i++) {
    int64_t nb = shapes[i][0], c = shapes[i][1], inner = shapes[i][2], total = nb * c * inner;
    float *x = alloc_f(total), *s = alloc_f(nb * c), *res = alloc_f(total), *y = alloc_f(total), *want = alloc_f(total);
    rng_fill(&r, x, total), rng_fill(&r, s, nb * c), rng_fill(&r, res, total);
    for (int mode = 0; mode < 6; mode++) { /* bit 0: shared scales; 1: residual; 2: relu */
      int shared = mode & 1, with_res = (mode >> 1) & 1, relu = mode >= 4;
      for (int64_t k = 0; k < total; k++) {
        volatile float v = x[k] * s[(shared ? 0 : k / (c * inner) * c) + k / inner % c]; /* rounded as Mul */
        float w = with_res ? v + res[k] : v;
        want[k] = relu && w < 0 ? 0.0f : w;
      }
      for (int t = 0; t < 3; t++) {
        if (t < 2) {
          snt_k_channel_scale(ctxs[t], x, s, shared ? 0 : c, with_res ? res : NULL, relu, y, nb, c, inner);
        } else { /* in place */
          memcpy(y, x, (size_t)total * sizeof(float));
          snt_k_channel_scale(ctxs[1], y, s, shared ? 0 : c, with_res ? res : NULL, relu, y, nb, c, inner);
        }
        ts->checks++;
        if (memcmp(y, want, (size_t)total * sizeof(float))) {
          ts->failures++;
          fprintf(stderr, "channel scale %lldx%lldx%lld (mode %d, %s): differs from relu(x * s + r)\n", (long long)nb,
                  (long long)c, (long long)inner, mode, t == 2 ? "in place" : t ? "2 threads" : "1 thread");
        }
      }
    }
    free(x), free(s), free(res), free(y), free(want);
  }
  snt_k_ctx_destroy(ctxs[0]), snt_k_ctx_destroy(ctxs[1]);
}

int main(void) {
  test_state ts = {0};
  test_channel_scale(&ts);
  test_transpose(&ts);
  test_pad(&ts);
  test_concat(&ts);
  test_gather(&ts);
  return test_report("test_kernels_movement", &ts);
}
