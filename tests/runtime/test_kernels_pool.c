/* MaxPool / AveragePool / global pools against direct double-precision loops written from the
 * ONNX definitions, on random shapes (ceil-mode outputs, dilation, asymmetric pads, both
 * count_include_pad settings, indices in both storage orders), plus hand-computed cases. */
#include "kernels_ref.h"
#include "sinter/kernels.h"

static void unflatten(int64_t p, const int64_t *dims, int n, int64_t *idx) {
  for (int i = n - 1; i >= 0; i--) {
    idx[i] = p % dims[i];
    p /= dims[i];
  }
}

/* Window taps read x at o*stride - pad_begin + k*dilation. Averages divide by the taps on real
 * elements, or with count_include_pad by the taps inside [-pad_begin, in + pad_end). */
static void ref_pool(const snt_k_pool_desc *d, const float *x, double *y, int64_t *ind) {
  int S = d->spatial;
  int64_t in_sz = prod64(d->in, S), out_sz = prod64(d->out, S), k_sz = prod64(d->kernel, S);
  for (int64_t p = 0; p < d->batch * d->channels; p++)
    for (int64_t op = 0; op < out_sz; op++) {
      int64_t o[3], k[3], n_real = 0, n_pad = 0, best_at = -1;
      double sum = 0, best = -INFINITY;
      unflatten(op, d->out, S, o);
      for (int64_t kp = 0; kp < k_sz; kp++) {
        unflatten(kp, d->kernel, S, k);
        int real = 1, in_pad = 1;
        int64_t off = 0;
        for (int a = 0; a < S; a++) {
          int64_t c = o[a] * d->stride[a] - d->pad_begin[a] + k[a] * d->dilation[a];
          real = real && c >= 0 && c < d->in[a];
          in_pad = in_pad && c >= -d->pad_begin[a] && c < d->in[a] + d->pad_end[a];
          off = off * d->in[a] + c;
        }
        n_pad += in_pad;
        if (!real) continue;
        n_real++;
        double v = x[p * in_sz + off];
        sum += v;
        if (best_at < 0 || v > best) best = v, best_at = off;
      }
      int64_t yi = p * out_sz + op;
      if (d->kind == SNT_K_POOL_AVG) {
        int64_t count = d->count_include_pad ? n_pad : n_real;
        y[yi] = count ? sum / (double)count : 0.0;
        continue;
      }
      y[yi] = best;
      if (best_at >= 0 && d->storage_order) { /* column-major over the spatial axes */
        int64_t i[3], col = 0, stride = 1;
        unflatten(best_at, d->in, S, i);
        for (int a = 0; a < S; a++) col += i[a] * stride, stride *= d->in[a];
        best_at = col;
      }
      ind[yi] = best_at < 0 ? -1 : p * in_sz + best_at;
    }
}

/* ONNX's output size; ceil mode drops a last window that would start in the end padding. */
static int64_t pool_out(int64_t in, int64_t k, int64_t s, int64_t dl, int64_t pb, int64_t pe,
                        int ceil_mode) {
  int64_t span = in + pb + pe - ((k - 1) * dl + 1);
  if (span < 0) return 0;
  int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= in + pb) out--;
  return out;
}

static int random_pool(rng *r, snt_k_pool_desc *d, int *ceil_mode) {
  memset(d, 0, sizeof *d);
  d->spatial = (int)rng_int(r, 1, 3);
  d->kind = rng_int(r, 0, 1) ? SNT_K_POOL_AVG : SNT_K_POOL_MAX;
  d->count_include_pad = (int)rng_int(r, 0, 1);
  d->storage_order = (int)rng_int(r, 0, 1);
  d->batch = rng_int(r, 1, 2);
  d->channels = rng_int(r, 1, 3);
  *ceil_mode = (int)rng_int(r, 0, 1);
  int64_t max_in = d->spatial == 3 ? 6 : 10;
  for (int a = 0; a < d->spatial; a++) {
    d->in[a] = rng_int(r, 1, max_in);
    d->kernel[a] = rng_int(r, 1, 4);
    d->stride[a] = rng_int(r, 1, 3);
    d->dilation[a] = rng_int(r, 1, 2);
    int64_t ext = (d->kernel[a] - 1) * d->dilation[a] + 1, max_pad = ext - 1 < 2 ? ext - 1 : 2;
    d->pad_begin[a] = rng_int(r, 0, max_pad);
    d->pad_end[a] = rng_int(r, 0, max_pad);
    d->out[a] = pool_out(d->in[a], d->kernel[a], d->stride[a], d->dilation[a], d->pad_begin[a],
                         d->pad_end[a], *ceil_mode);
    if (d->out[a] < 1) return 0;
  }
  return 1;
}

static void test_random(test_state *ts) {
  rng r = {0x5eed0002};
  int n_ceil_clipped = 0;
  for (int i = 0, done = 0; done < 1500; i++) {
    snt_k_pool_desc d;
    int ceil_mode;
    if (!random_pool(&r, &d, &ceil_mode)) continue;
    done++;
    int S = d.spatial;
    /* Count the cases whose last window runs past pad_end, which only ceil mode makes. */
    for (int a = 0; a < S; a++)
      n_ceil_clipped += (d.out[a] - 1) * d.stride[a] + (d.kernel[a] - 1) * d.dilation[a] + 1 >
                        d.in[a] + d.pad_begin[a] + d.pad_end[a];
    int64_t nx = d.batch * d.channels * prod64(d.in, S), ny = d.batch * d.channels * prod64(d.out, S);
    float *x = alloc_f(nx), *y = alloc_nan(ny);
    int64_t *ind = (int64_t *)xmalloc((size_t)ny * sizeof(int64_t));
    int64_t *want_ind = (int64_t *)xmalloc((size_t)ny * sizeof(int64_t));
    double *want = alloc_d(ny);
    rng_fill(&r, x, nx);
    for (int64_t q = 0; q < ny; q++) ind[q] = -7;
    CHECK_INT(ts, snt_k_pool(&d, x, y, d.kind == SNT_K_POOL_MAX ? ind : NULL), SNT_OK);
    ref_pool(&d, x, want, want_ind);
    char what[200];
    snprintf(what, sizeof what, "pool case %d: kind=%d S=%d in0=%lld k0=%lld s0=%lld d0=%lld p0=%lld/%lld "
             "ceil=%d incl=%d", i, (int)d.kind, S, (long long)d.in[0], (long long)d.kernel[0],
             (long long)d.stride[0], (long long)d.dilation[0], (long long)d.pad_begin[0],
             (long long)d.pad_end[0], ceil_mode, d.count_include_pad);
    /* Averages of at most 64 terms of size <= 1 summed in double: 1e-6 of unit scale. */
    check_close_arr(ts, what, y, want, NULL, ny, 1e-6);
    if (d.kind == SNT_K_POOL_MAX) {
      int64_t bad = -1;
      for (int64_t q = 0; q < ny && bad < 0; q++)
        if (ind[q] != want_ind[q]) bad = q;
      CHECK_INT(ts, bad, -1);
      if (bad >= 0) fprintf(stderr, "%s: index %lld: got %lld want %lld\n", what, (long long)bad,
                            (long long)ind[bad], (long long)want_ind[bad]);
    }
    free(x), free(y), free(ind), free(want_ind), free(want);
  }
  CHECK(ts, n_ceil_clipped > 50); /* the ceil-mode clipping was exercised */
}

static void test_hand(test_state *ts) {
  float x[25], y[25];
  int64_t ind[25];
  for (int i = 0; i < 25; i++) x[i] = (float)(i + 1);
  /* ONNX maxpool_with_argmax_2d_precomputed_pads: 5x5 of 1..25, kernel 5, pads 2. */
  snt_k_pool_desc d = {.spatial = 2, .kind = SNT_K_POOL_MAX, .batch = 1, .channels = 1,
                       .in = {5, 5}, .out = {5, 5}, .kernel = {5, 5}, .stride = {1, 1},
                       .dilation = {1, 1}, .pad_begin = {2, 2}, .pad_end = {2, 2}};
  static const float max_want[25] = {13, 14, 15, 15, 15, 18, 19, 20, 20, 20, 23, 24, 25, 25, 25,
                                     23, 24, 25, 25, 25, 23, 24, 25, 25, 25};
  CHECK_INT(ts, snt_k_pool(&d, x, y, ind), SNT_OK);
  check_close_list(ts, "maxpool pads 2", y, max_want, 25, 0);
  int ind_ok = 1;
  for (int i = 0; i < 25; i++) ind_ok = ind_ok && ind[i] == (int64_t)max_want[i] - 1;
  CHECK(ts, ind_ok);
  /* ONNX maxpool_with_argmax_2d_precomputed_strides: kernel 2, stride 2, storage_order 1. */
  snt_k_pool_desc ds = {.spatial = 2, .kind = SNT_K_POOL_MAX, .storage_order = 1, .batch = 1,
                        .channels = 1, .in = {5, 5}, .out = {2, 2}, .kernel = {2, 2},
                        .stride = {2, 2}, .dilation = {1, 1}};
  CHECK_INT(ts, snt_k_pool(&ds, x, y, ind), SNT_OK);
  static const float strided_want[4] = {7, 9, 17, 19};
  check_close_list(ts, "maxpool strides", y, strided_want, 4, 0);
  CHECK(ts, ind[0] == 6 && ind[1] == 16 && ind[2] == 8 && ind[3] == 18);
  /* ONNX averagepool_2d_ceil / maxpool_2d_ceil: 4x4 of 1..16, kernel 3, stride 2, ceil mode:
   * the right and bottom windows hang one past the input. */
  snt_k_pool_desc dc = {.spatial = 2, .kind = SNT_K_POOL_AVG, .batch = 1, .channels = 1,
                        .in = {4, 4}, .out = {2, 2}, .kernel = {3, 3}, .stride = {2, 2},
                        .dilation = {1, 1}};
  static const float avg_ceil[4] = {6, 7.5f, 12, 13.5f}, max_ceil[4] = {11, 12, 15, 16};
  CHECK_INT(ts, snt_k_pool(&dc, x, y, NULL), SNT_OK);
  check_close_list(ts, "avgpool ceil", y, avg_ceil, 4, 1e-6);
  dc.count_include_pad = 1; /* no pads: the part beyond the input does not count either */
  CHECK_INT(ts, snt_k_pool(&dc, x, y, NULL), SNT_OK);
  check_close_list(ts, "avgpool ceil count_include_pad", y, avg_ceil, 4, 1e-6);
  dc.kind = SNT_K_POOL_MAX;
  CHECK_INT(ts, snt_k_pool(&dc, x, y, NULL), SNT_OK);
  check_close_list(ts, "maxpool ceil", y, max_ceil, 4, 0);
  /* 1-D x = 1..5, kernel 3, stride 2, pads (1, 0), ceil mode: windows [-1..1], [1..3], [3..5].
   * Padding counts: (0+1+2)/3, (2+3+4)/3, (4+5)/2 -- position 5 lies beyond pad_end.
   * Without: (1+2)/2, 3, (4+5)/2. */
  snt_k_pool_desc d1 = {.spatial = 1, .kind = SNT_K_POOL_AVG, .count_include_pad = 1, .batch = 1,
                        .channels = 1, .in = {5}, .out = {3}, .kernel = {3}, .stride = {2},
                        .dilation = {1}, .pad_begin = {1}, .pad_end = {0}};
  static const float incl[3] = {1, 3, 4.5f}, excl[3] = {1.5f, 3, 4.5f};
  CHECK_INT(ts, snt_k_pool(&d1, x, y, NULL), SNT_OK);
  check_close_list(ts, "avgpool 1-D count_include_pad", y, incl, 3, 1e-6);
  d1.count_include_pad = 0;
  CHECK_INT(ts, snt_k_pool(&d1, x, y, NULL), SNT_OK);
  check_close_list(ts, "avgpool 1-D exclude pad", y, excl, 3, 1e-6);
  /* Indices count batch and channel: x [2, 2, 2, 2] with the maximum of plane p at p % 4. */
  float xb[16] = {0};
  for (int p = 0; p < 4; p++) xb[p * 4 + p % 4] = 1.0f;
  snt_k_pool_desc db = {.spatial = 2, .kind = SNT_K_POOL_MAX, .batch = 2, .channels = 2,
                        .in = {2, 2}, .out = {1, 1}, .kernel = {2, 2}, .stride = {1, 1},
                        .dilation = {1, 1}};
  CHECK_INT(ts, snt_k_pool(&db, xb, y, ind), SNT_OK);
  CHECK(ts, ind[0] == 0 && ind[1] == 5 && ind[2] == 10 && ind[3] == 15);
}

static void test_global(test_state *ts) {
  rng r = {0x5eed0003};
  for (int i = 0; i < 50; i++) {
    int64_t outer = rng_int(&r, 1, 6), inner = rng_int(&r, 1, 300);
    float *x = alloc_f(outer * inner), *ya = alloc_nan(outer), *ym = alloc_nan(outer);
    double *wa = alloc_d(outer), *wm = alloc_d(outer), *scale = alloc_d(outer);
    rng_fill(&r, x, outer * inner);
    snt_k_global_pool(SNT_K_POOL_AVG, outer, inner, x, ya);
    snt_k_global_pool(SNT_K_POOL_MAX, outer, inner, x, ym);
    for (int64_t o = 0; o < outer; o++) {
      double s = 0, m = -INFINITY, a = 0;
      for (int64_t j = 0; j < inner; j++) {
        s += x[o * inner + j], a += fabs(x[o * inner + j]);
        m = x[o * inner + j] > m ? x[o * inner + j] : m;
      }
      wa[o] = s / (double)inner, wm[o] = m, scale[o] = a / (double)inner;
    }
    check_close_arr(ts, "global average pool", ya, wa, scale, outer, 1e-5);
    check_close_arr(ts, "global max pool", ym, wm, NULL, outer, 0);
    free(x), free(ya), free(ym), free(wa), free(wm), free(scale);
  }
}

int main(void) {
  test_state ts = {0};
  test_random(&ts);
  test_hand(&ts);
  test_global(&ts);
  return test_report("test_kernels_pool", &ts);
}
