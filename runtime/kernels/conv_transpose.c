/* ConvTranspose: per image and group, sgemm gives col = W^T x (one row per output channel and
 * kernel tap), and col2im scatters col into y. 1x1 stride-1 unpadded kernels skip col. */
#include <cblas.h>
#include <string.h>

#include "conv_impl.h"
#include "kernels_util.h"

static int is_pointwise(const snt_k_conv3 *g) {
  for (int i = 0; i < 3; i++) {
    if (g->w.k[i] != 1 || g->w.s[i] != 1 || g->w.pb[i] || g->w.pe[i] || g->w.out[i] != g->w.in[i]) return 0;
  }
  return 1;
}

size_t snt_k_conv_transpose_scratch_bytes(const snt_k_conv_desc *d) {
  snt_k_conv3 g;
  if (snt_k_conv3_init(d, &g) != SNT_OK || is_pointwise(&g)) return 0;
  /* Checked: SIZE_MAX (refused by the compiler's memory cap) instead of a wrapped size. */
  int64_t n;
  size_t bytes;
  if (__builtin_mul_overflow(g.mg, g.w.k_size, &n) || __builtin_mul_overflow(n, g.w.in_size, &n) ||
      __builtin_mul_overflow((size_t)n, sizeof(float), &bytes))
    return SIZE_MAX;
  return bytes;
}

/* Adds one col row (one output channel, one kernel tap) into the output plane yp. */
static void col2im_row(const snt_k_conv3 *g, const float *row, int64_t kd, int64_t kh, int64_t kw,
                       float *yp) {
  const int64_t *o = g->w.out, *in = g->w.in;
  int64_t start = kw * g->w.dl[2] - g->w.pb[2], step = g->w.s[2], lo, hi;
  snt_k_valid_range(start, step, in[2], o[2], &lo, &hi);
  for (int64_t id = 0; id < in[0]; id++) {
    int64_t od = id * g->w.s[0] - g->w.pb[0] + kd * g->w.dl[0];
    if (od < 0 || od >= o[0]) continue;
    for (int64_t ih = 0; ih < in[1]; ih++) {
      int64_t oh = ih * g->w.s[1] - g->w.pb[1] + kh * g->w.dl[1];
      if (oh < 0 || oh >= o[1]) continue;
      float *restrict yr = yp + (od * o[1] + oh) * o[2];
      const float *restrict cr = row + (id * in[1] + ih) * in[2];
      for (int64_t iw = lo; iw < hi; iw++) yr[iw * step + start] += cr[iw];
    }
  }
}

/* col2im for the mg output channels of one group: y_group += scatter(col). */
static void col2im(const snt_k_conv3 *g, const float *col, float *yg) {
  const int64_t *k = g->w.k;
  for (int64_t oc = 0; oc < g->mg; oc++) {
    float *yp = yg + oc * g->w.out_size;
    for (int64_t kd = 0; kd < k[0]; kd++)
      for (int64_t kh = 0; kh < k[1]; kh++)
        for (int64_t kw = 0; kw < k[2]; kw++) {
          const float *row = col + (((oc * k[0] + kd) * k[1] + kh) * k[2] + kw) * g->w.in_size;
          col2im_row(g, row, kd, kh, kw, yp);
        }
  }
}

snt_status snt_k_conv_transpose(const snt_k_conv_desc *d, const float *x, const float *w,
                                const float *bias, float *y, void *scratch) {
  snt_k_conv3 g;
  snt_status st = snt_k_conv3_init(d, &g);
  if (st != SNT_OK) return st;
  if (g.batch == 0 || g.w.out_size == 0) return SNT_OK;
  int64_t rows = g.mg * g.w.k_size, p = g.w.in_size;
  if (!snt_k_fits_int(rows) || !snt_k_fits_int(p) || !snt_k_fits_int(g.cg)) return SNT_ERR_INPUT;
  int pointwise = is_pointwise(&g);
  if (!pointwise) memset(y, 0, (size_t)(g.batch * g.cout * g.w.out_size) * sizeof(float));
  float *col = scratch;
  for (int64_t n = 0; n < g.batch && p > 0; n++) {
    for (int64_t grp = 0; grp < g.groups; grp++) {
      const float *xg = x + (n * g.cin + grp * g.cg) * p;
      float *yg = y + (n * g.cout + grp * g.mg) * g.w.out_size;
      /* W of the group is [cg, mg * k]; its transpose times x[cg, p] gives [mg * k, p]. */
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)rows, (int)p, (int)g.cg, 1.0f,
                  w + grp * g.cg * rows, (int)rows, xg, (int)p, 0.0f, pointwise ? yg : col,
                  (int)p);
      if (!pointwise) col2im(&g, col, yg);
    }
  }
  snt_k_epilogue(snt_k_isa_detect(), g.batch, g.cout, g.w.out_size, bias, NULL, &d->act, y);
  return SNT_OK;
}
