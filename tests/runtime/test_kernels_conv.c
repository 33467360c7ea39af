/* Conv and ConvTranspose kernels against direct double-precision loops written from the ONNX
 * operator definitions, on random shapes, plus hand-computed cases from ONNX's docs. */
#include "kernels_ref.h"
#include "sinter/kernels.h"

/* ---- references --------------------------------------------------------------------- */

/* Row-major multi-index of flat position p over dims[0..n). */
static void unflatten(int64_t p, const int64_t *dims, int n, int64_t *idx) {
  for (int i = n - 1; i >= 0; i--) {
    idx[i] = p % dims[i];
    p /= dims[i];
  }
}

/* Flat offset of the input position o*stride - pad_begin + k*dilation, or -1 if it is padding. */
static int64_t tap_offset(const snt_k_conv_desc *d, const int64_t *o, const int64_t *k) {
  int64_t off = 0;
  for (int a = 0; a < d->spatial; a++) {
    int64_t c = o[a] * d->stride[a] - d->pad_begin[a] + k[a] * d->dilation[a];
    if (c < 0 || c >= d->in[a]) return -1;
    off = off * d->in[a] + c;
  }
  return off;
}

/* Conv: y[n,oc,o] = act(b[oc] + res + sum_{ic in group, k} x[n,ic,o*s-pb+k*d] * w[oc,ic',k]). */
static void ref_conv(const snt_k_conv_desc *d, const float *x, const float *w, const float *b,
                     const float *res, double *y, double *mag) {
  int S = d->spatial;
  int64_t cg = d->in_channels / d->groups, mg = d->out_channels / d->groups;
  int64_t in_sz = prod64(d->in, S), out_sz = prod64(d->out, S), k_sz = prod64(d->kernel, S);
  for (int64_t n = 0; n < d->batch; n++)
    for (int64_t oc = 0; oc < d->out_channels; oc++)
      for (int64_t p = 0; p < out_sz; p++) {
        int64_t o[3], k[3], yi = (n * d->out_channels + oc) * out_sz + p;
        unflatten(p, d->out, S, o);
        double acc = 0, m = 0;
        for (int64_t icg = 0; icg < cg; icg++) {
          int64_t ic = oc / mg * cg + icg;
          for (int64_t kp = 0; kp < k_sz; kp++) {
            unflatten(kp, d->kernel, S, k);
            int64_t xo = tap_offset(d, o, k);
            if (xo < 0) continue;
            double t = (double)x[(n * d->in_channels + ic) * in_sz + xo] *
                       (double)w[(oc * cg + icg) * k_sz + kp];
            acc += t;
            m += fabs(t);
          }
        }
        if (b) acc += b[oc], m += fabs(b[oc]);
        if (res) acc += res[yi], m += fabs(res[yi]);
        y[yi] = ref_act(&d->act, acc);
        mag[yi] = m;
      }
}

/* ConvTranspose: every x[n,ic,i] * w[ic,oc',k] lands on y[n,oc,i*s+k*d-pb] when inside. */
static void ref_conv_transpose(const snt_k_conv_desc *d, const float *x, const float *w,
                               const float *b, double *y, double *mag) {
  int S = d->spatial;
  int64_t cg = d->in_channels / d->groups, mg = d->out_channels / d->groups;
  int64_t in_sz = prod64(d->in, S), out_sz = prod64(d->out, S), k_sz = prod64(d->kernel, S);
  for (int64_t n = 0; n < d->batch; n++)
    for (int64_t oc = 0; oc < d->out_channels; oc++)
      for (int64_t p = 0; p < out_sz; p++) {
        int64_t yi = (n * d->out_channels + oc) * out_sz + p;
        y[yi] = b ? b[oc] : 0.0;
        mag[yi] = b ? fabs(b[oc]) : 0.0;
      }
  for (int64_t n = 0; n < d->batch; n++)
    for (int64_t ic = 0; ic < d->in_channels; ic++)
      for (int64_t ip = 0; ip < in_sz; ip++) {
        int64_t i[3], k[3];
        unflatten(ip, d->in, S, i);
        for (int64_t ocg = 0; ocg < mg; ocg++) {
          int64_t oc = ic / cg * mg + ocg;
          for (int64_t kp = 0; kp < k_sz; kp++) {
            unflatten(kp, d->kernel, S, k);
            int64_t off = 0, inside = 1;
            for (int a = 0; a < S; a++) {
              int64_t c = i[a] * d->stride[a] + k[a] * d->dilation[a] - d->pad_begin[a];
              inside = inside && c >= 0 && c < d->out[a];
              off = off * d->out[a] + c;
            }
            if (!inside) continue;
            double t = (double)x[(n * d->in_channels + ic) * in_sz + ip] *
                       (double)w[(ic * mg + ocg) * k_sz + kp];
            int64_t yi = (n * d->out_channels + oc) * out_sz + off;
            y[yi] += t;
            mag[yi] += fabs(t);
          }
        }
      }
  int64_t total = d->batch * d->out_channels * out_sz;
  for (int64_t q = 0; q < total; q++) y[q] = ref_act(&d->act, y[q]);
}

/* ---- random cases ------------------------------------------------------------------- */

enum { ANY, POINTWISE, DEPTHWISE };

static void random_act(rng *r, snt_k_act *a) {
  a->kind = (snt_k_act_kind)rng_int(r, SNT_K_ACT_NONE, SNT_K_ACT_CLIP);
  a->alpha = 0.1f + 0.2f * (float)rng_int(r, 0, 3);
  a->clip_min = -0.5f;
  a->clip_max = 0.25f * (float)rng_int(r, 1, 4);
}

/* A random valid descriptor; returns 0 when the drawn geometry has an empty output. */
static int random_desc(rng *r, snt_k_conv_desc *d, int transpose, int kind) {
  memset(d, 0, sizeof *d);
  d->spatial = (int)rng_int(r, 1, 3);
  d->batch = rng_int(r, 1, 3);
  d->groups = kind == DEPTHWISE ? rng_int(r, 1, 5) : rng_int(r, 1, 3);
  int64_t cg = kind == DEPTHWISE ? 1 : rng_int(r, 1, 4), mg = rng_int(r, 1, 4);
  if (transpose && kind == DEPTHWISE) mg = 1, cg = rng_int(r, 1, 2);
  d->in_channels = d->groups * cg;
  d->out_channels = d->groups * mg;
  int64_t max_in = d->spatial == 3 ? 5 : d->spatial == 2 ? 8 : 11;
  for (int a = 0; a < d->spatial; a++) {
    d->in[a] = rng_int(r, 1, max_in);
    if (kind == POINTWISE) {
      d->kernel[a] = d->stride[a] = 1;
      d->dilation[a] = rng_int(r, 1, 2);
      d->out[a] = d->in[a];
      continue;
    }
    d->kernel[a] = rng_int(r, 1, 3);
    d->stride[a] = rng_int(r, 1, 3);
    d->dilation[a] = rng_int(r, 1, 2);
    d->pad_begin[a] = rng_int(r, 0, 2);
    d->pad_end[a] = rng_int(r, 0, 2);
    int64_t ext = (d->kernel[a] - 1) * d->dilation[a] + 1;
    if (transpose) {
      int64_t out_pad = rng_int(r, 0, d->stride[a] - 1);
      d->out[a] = d->stride[a] * (d->in[a] - 1) + out_pad + ext - d->pad_begin[a] - d->pad_end[a];
    } else {
      int64_t span = d->in[a] + d->pad_begin[a] + d->pad_end[a] - ext;
      d->out[a] = span < 0 ? 0 : span / d->stride[a] + 1;
    }
    if (d->out[a] < 1) return 0;
  }
  random_act(r, &d->act);
  return 1;
}

static void describe(char *buf, size_t n, const char *what, int i, const snt_k_conv_desc *d) {
  snprintf(buf, n, "%s case %d: S=%d N=%lld C=%lld M=%lld g=%lld in0=%lld k0=%lld s0=%lld d0=%lld "
           "p0=%lld/%lld act=%d", what, i, d->spatial, (long long)d->batch, (long long)d->in_channels,
           (long long)d->out_channels, (long long)d->groups, (long long)d->in[0], (long long)d->kernel[0],
           (long long)d->stride[0], (long long)d->dilation[0], (long long)d->pad_begin[0],
           (long long)d->pad_end[0], (int)d->act.kind);
}

/* Tolerance: float32 dot products of up to a few hundred terms against the sum of |terms|. */
#define CONV_RTOL 1e-5

static void run_conv_case(test_state *ts, rng *r, int i, const snt_k_conv_desc *d) {
  int S = d->spatial;
  int64_t nx = d->batch * d->in_channels * prod64(d->in, S);
  int64_t ny = d->batch * d->out_channels * prod64(d->out, S);
  int64_t nw = d->out_channels * (d->in_channels / d->groups) * prod64(d->kernel, S);
  float *x = alloc_f(nx), *w = alloc_f(nw), *b = alloc_f(d->out_channels), *res = alloc_f(ny);
  float *y = alloc_nan(ny);
  double *want = alloc_d(ny), *mag = alloc_d(ny);
  rng_fill(r, x, nx);
  rng_fill(r, w, nw);
  rng_fill(r, b, d->out_channels);
  rng_fill(r, res, ny);
  int use_b = (int)rng_int(r, 0, 1), use_res = (int)rng_int(r, 0, 1);
  void *scratch = xmalloc(snt_k_conv_scratch_bytes(d));
  CHECK_INT(ts, snt_k_conv(NULL, d, x, w, use_b ? b : NULL, use_res ? res : NULL, y, scratch), SNT_OK);
  ref_conv(d, x, w, use_b ? b : NULL, use_res ? res : NULL, want, mag);
  char what[256];
  describe(what, sizeof what, "conv", i, d);
  check_close_arr(ts, what, y, want, mag, ny, CONV_RTOL);
  free(x), free(w), free(b), free(res), free(y), free(want), free(mag), free(scratch);
}

static void run_conv_transpose_case(test_state *ts, rng *r, int i, const snt_k_conv_desc *d) {
  int S = d->spatial;
  int64_t nx = d->batch * d->in_channels * prod64(d->in, S);
  int64_t ny = d->batch * d->out_channels * prod64(d->out, S);
  int64_t nw = d->in_channels * (d->out_channels / d->groups) * prod64(d->kernel, S);
  float *x = alloc_f(nx), *w = alloc_f(nw), *b = alloc_f(d->out_channels), *y = alloc_nan(ny);
  double *want = alloc_d(ny), *mag = alloc_d(ny);
  rng_fill(r, x, nx);
  rng_fill(r, w, nw);
  rng_fill(r, b, d->out_channels);
  int use_b = (int)rng_int(r, 0, 1);
  void *scratch = xmalloc(snt_k_conv_transpose_scratch_bytes(d));
  CHECK_INT(ts, snt_k_conv_transpose(d, x, w, use_b ? b : NULL, y, scratch), SNT_OK);
  ref_conv_transpose(d, x, w, use_b ? b : NULL, want, mag);
  char what[256];
  describe(what, sizeof what, "conv_transpose", i, d);
  check_close_arr(ts, what, y, want, mag, ny, CONV_RTOL);
  free(x), free(w), free(b), free(y), free(want), free(mag), free(scratch);
}

static void test_random(test_state *ts) {
  rng r = {0x5eed0001};
  int kinds[] = {ANY, ANY, ANY, POINTWISE, DEPTHWISE};
  for (int i = 0, done = 0; done < 600; i++) {
    snt_k_conv_desc d;
    int kind = kinds[i % 5];
    if (!random_desc(&r, &d, 0, kind)) continue;
    if (kind != ANY) CHECK_INT(ts, snt_k_conv_scratch_bytes(&d), 0); /* the direct paths */
    run_conv_case(ts, &r, i, &d);
    done++;
  }
  for (int i = 0, done = 0; done < 400; i++) {
    snt_k_conv_desc d;
    int kind = kinds[i % 5];
    if (!random_desc(&r, &d, 1, kind)) continue;
    if (kind == POINTWISE) CHECK_INT(ts, snt_k_conv_transpose_scratch_bytes(&d), 0);
    run_conv_transpose_case(ts, &r, i, &d);
    done++;
  }
}

/* ---- hand-computed cases (ONNX Conv / ConvTranspose docs) ---------------------------- */

static snt_k_conv_desc desc_2d(int64_t in, int64_t out, int64_t k, int64_t s, int64_t p) {
  snt_k_conv_desc d = {.spatial = 2, .batch = 1, .in_channels = 1, .out_channels = 1, .groups = 1};
  for (int a = 0; a < 2; a++) {
    d.in[a] = in, d.out[a] = out, d.kernel[a] = k, d.stride[a] = s, d.dilation[a] = 1;
    d.pad_begin[a] = d.pad_end[a] = p;
  }
  return d;
}

static void run_hand_conv(test_state *ts, const char *what, const snt_k_conv_desc *d,
                          const float *x, const float *w, const float *want, int64_t ny) {
  float *y = alloc_nan(ny);
  void *scratch = xmalloc(snt_k_conv_scratch_bytes(d));
  CHECK_INT(ts, snt_k_conv(NULL, d, x, w, NULL, NULL, y, scratch), SNT_OK);
  check_close_list(ts, what, y, want, ny, 1e-6);
  free(y), free(scratch);
}

static void test_hand_conv(test_state *ts) {
  float x[35], w[9];
  for (int i = 0; i < 35; i++) x[i] = (float)i;
  for (int i = 0; i < 9; i++) w[i] = 1.0f;
  /* Input rows r*5 + c, 3x3 ones: each output is the sum of its window. */
  static const float padded[25] = {12, 21, 27, 33, 24, 33, 54, 63, 72, 51, 63, 99, 108, 117, 81,
                                   93, 144, 153, 162, 111, 72, 111, 117, 123, 84};
  static const float valid[9] = {54, 63, 72, 99, 108, 117, 144, 153, 162};
  snt_k_conv_desc d = desc_2d(5, 5, 3, 1, 1);
  run_hand_conv(ts, "conv pads 1", &d, x, w, padded, 25);
  d = desc_2d(5, 3, 3, 1, 0);
  run_hand_conv(ts, "conv no pads", &d, x, w, valid, 9);
  /* 7x5 input, stride 2, pads 1: the last row of windows reads rows 5, 6 and one padding row. */
  static const float strided[12] = {12, 27, 24, 63, 108, 81, 123, 198, 141, 112, 177, 124};
  d = desc_2d(5, 3, 3, 2, 1);
  d.in[0] = 7, d.out[0] = 4;
  run_hand_conv(ts, "conv stride 2", &d, x, w, strided, 12);
  /* The same with weights -1, a fused bias 130 and ReLU: max(130 - sum, 0). */
  d.act.kind = SNT_K_ACT_RELU;
  float wn[9], bias[1] = {130.0f}, y[12];
  for (int i = 0; i < 9; i++) wn[i] = -1.0f;
  void *scratch = xmalloc(snt_k_conv_scratch_bytes(&d));
  CHECK_INT(ts, snt_k_conv(NULL, &d, x, wn, bias, NULL, y, scratch), SNT_OK);
  static const float relu_want[12] = {118, 103, 106, 67, 22, 49, 7, 0, 0, 18, 0, 6};
  check_close_list(ts, "conv bias relu", y, relu_want, 12, 1e-6);
  free(scratch);
  /* Two input channels (x and a channel of ones) go through the implicit GEMM, which needs no
   * scratch (no im2col buffer): the ones add 9 per full window in the valid 5x5 case. */
  snt_k_conv_desc d2 = desc_2d(5, 3, 3, 1, 0);
  d2.in_channels = 2;
  float x2[50], w2[18], y2[9], want2[9];
  for (int i = 0; i < 25; i++) x2[i] = (float)i, x2[25 + i] = 1.0f;
  for (int i = 0; i < 18; i++) w2[i] = 1.0f;
  for (int i = 0; i < 9; i++) want2[i] = valid[i] + 9.0f;
  CHECK_INT(ts, snt_k_conv_scratch_bytes(&d2), 0);
  scratch = xmalloc(snt_k_conv_scratch_bytes(&d2));
  CHECK_INT(ts, snt_k_conv(NULL, &d2, x2, w2, NULL, NULL, y2, scratch), SNT_OK);
  check_close_list(ts, "conv two channels", y2, want2, 9, 1e-6);
  free(scratch);
  /* 1-D, dilation 2, asymmetric pads (2, 0): x = 1..5, w = [1, 10, 100]:
   * y[o] = x[o-2] + 10 x[o] + 100 x[o+2] over positions -2..4. */
  snt_k_conv_desc d1 = {.spatial = 1, .batch = 1, .in_channels = 1, .out_channels = 1, .groups = 1,
                        .in = {5}, .out = {3}, .kernel = {3}, .stride = {1}, .dilation = {2},
                        .pad_begin = {2}, .pad_end = {0}};
  float x1[5] = {1, 2, 3, 4, 5}, w1[3] = {1, 10, 100}, y1[3];
  static const float want1[3] = {310, 420, 531};
  scratch = xmalloc(snt_k_conv_scratch_bytes(&d1));
  CHECK_INT(ts, snt_k_conv(NULL, &d1, x1, w1, NULL, NULL, y1, scratch), SNT_OK);
  check_close_list(ts, "conv 1-D dilated", y1, want1, 3, 1e-6);
  free(scratch);
}

static void test_hand_conv_transpose(test_state *ts) {
  /* ONNX ConvTranspose docs: x = 0..8 (3x3), W = ones [1, 2, 3, 3]; both channels equal. */
  snt_k_conv_desc d = {.spatial = 2, .batch = 1, .in_channels = 1, .out_channels = 2, .groups = 1,
                       .in = {3, 3}, .out = {5, 5}, .kernel = {3, 3}, .stride = {1, 1},
                       .dilation = {1, 1}};
  float x[9], w[18], y[50];
  for (int i = 0; i < 9; i++) x[i] = (float)i;
  for (int i = 0; i < 18; i++) w[i] = 1.0f;
  static const float plane[25] = {0, 1, 3, 3, 2, 3, 8, 15, 12, 7, 9, 21, 36, 27, 15,
                                  9, 20, 33, 24, 13, 6, 13, 21, 15, 8};
  void *scratch = xmalloc(snt_k_conv_transpose_scratch_bytes(&d));
  CHECK_INT(ts, snt_k_conv_transpose(&d, x, w, NULL, y, scratch), SNT_OK);
  check_close_list(ts, "conv_transpose channel 0", y, plane, 25, 1e-6);
  check_close_list(ts, "conv_transpose channel 1", y + 25, plane, 25, 1e-6);
  free(scratch);
  /* 1-D, stride 3, output_padding 1 (out 10 instead of 9), bias 0.5: x = [1, 2, 3], w = [1, 1, 1]. */
  snt_k_conv_desc d1 = {.spatial = 1, .batch = 1, .in_channels = 1, .out_channels = 1, .groups = 1,
                        .in = {3}, .out = {10}, .kernel = {3}, .stride = {3}, .dilation = {1}};
  float x1[3] = {1, 2, 3}, w1[3] = {1, 1, 1}, b1[1] = {0.5f}, y1[10];
  static const float want1[10] = {1.5f, 1.5f, 1.5f, 2.5f, 2.5f, 2.5f, 3.5f, 3.5f, 3.5f, 0.5f};
  scratch = xmalloc(snt_k_conv_transpose_scratch_bytes(&d1));
  CHECK_INT(ts, snt_k_conv_transpose(&d1, x1, w1, b1, y1, scratch), SNT_OK);
  check_close_list(ts, "conv_transpose output_padding", y1, want1, 10, 1e-6);
  free(scratch);
}

static void test_errors(test_state *ts) {
  snt_k_conv_desc d = desc_2d(5, 5, 3, 1, 1);
  float buf[64] = {0};
  d.groups = 2; /* does not divide one channel */
  CHECK_INT(ts, snt_k_conv(NULL, &d, buf, buf, NULL, NULL, buf, NULL), SNT_ERR_INPUT);
  d = desc_2d(5, 5, 3, 1, 1);
  d.spatial = 4;
  CHECK_INT(ts, snt_k_conv(NULL, &d, buf, buf, NULL, NULL, buf, NULL), SNT_ERR_INPUT);
  d = desc_2d(5, 5, 3, 0, 1);
  CHECK_INT(ts, snt_k_conv_transpose(&d, buf, buf, NULL, buf, NULL), SNT_ERR_INPUT);
}

/* The direct 3x3 path (few input channels, output channels in blocks of 8; AVX-512 CPUs):
 * 'same' and one-sided pads, widths with a 16-column tail, 1 to 4 input channels, against the
 * naive reference (the GEMM path gives the same on CPUs without AVX-512). */
static void test_direct_3x3(test_state *ts) {
  rng r = {0x3c3c3c3cull};
  const int64_t shapes[][6] = {/* cin, cout, h, w, pad begin, pad end (both axes) */
                               {3, 16, 20, 37, 1, 1}, {1, 8, 16, 16, 1, 1}, {4, 24, 9, 33, 0, 1},
                               {2, 8, 7, 18, 1, 0},   {3, 32, 5, 16, 0, 0}, {3, 8, 3, 50, 1, 1}};
  for (int i = 0; i < (int)(sizeof shapes / sizeof shapes[0]); i++) {
    const int64_t *v = shapes[i];
    int64_t oh = v[2] + v[4] + v[5] - 2, ow = v[3] + v[4] + v[5] - 2;
    snt_k_conv_desc d = {.spatial = 2, .batch = 2, .in_channels = v[0], .out_channels = v[1], .groups = 1,
                         .in = {v[2], v[3]}, .out = {oh, ow}, .kernel = {3, 3}, .stride = {1, 1}, .dilation = {1, 1},
                         .pad_begin = {v[4], v[4]}, .pad_end = {v[5], v[5]}, .act = {SNT_K_ACT_RELU, 0, 0, 0, 0}};
    run_conv_case(ts, &r, 1000 + i, &d);
  }
}

int main(void) {
  test_state ts = {0};
  test_random(&ts);
  test_direct_3x3(&ts);
  test_hand_conv(&ts);
  test_hand_conv_transpose(&ts);
  test_errors(&ts);
  return test_report("test_kernels_conv", &ts);
}
