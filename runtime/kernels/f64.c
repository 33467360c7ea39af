/* DOUBLE kernels: Gemm, Conv, ConvTranspose and pooling in real double precision. Plain
 * loops over the same geometry (snt_k_conv3, snt_k_win3) as the float32 kernels: models in
 * double are rare and small, so these favour being obviously right over speed. */
#include <math.h>
#include <string.h>

#include "kernels_util.h"

snt_status snt_k_gemm_f64(const snt_k_gemm_desc *d, const double *a, const double *b, const double *c, double *y) {
  if (d->m < 0 || d->n < 0 || d->k < 0 || d->c_rows < 1 || d->c_cols < 1) return SNT_ERR_INPUT;
  for (int64_t i = 0; i < d->m; i++) {
    for (int64_t j = 0; j < d->n; j++) {
      double acc = 0.0;
      for (int64_t p = 0; p < d->k; p++) {
        double av = d->trans_a ? a[p * d->m + i] : a[i * d->k + p];
        double bv = d->trans_b ? b[j * d->k + p] : b[p * d->n + j];
        acc += av * bv;
      }
      double v = (double)d->alpha * acc;
      /* C broadcasts from (c_rows, c_cols), each 1 or the full size. */
      if (c && d->beta != 0.0f)
        v += (double)d->beta * c[(d->c_rows == 1 ? 0 : i) * d->c_cols + (d->c_cols == 1 ? 0 : j)];
      y[i * d->n + j] = v;
    }
  }
  return SNT_OK;
}

static double act_f64(double v, const snt_k_act *act) {
  switch (act->kind) {
    case SNT_K_ACT_NONE: return v;
    case SNT_K_ACT_RELU: return v < 0.0 ? 0.0 : v; /* NaN passes through */
    case SNT_K_ACT_LEAKY_RELU: return v < 0.0 ? (double)act->alpha * v : v;
    case SNT_K_ACT_SIGMOID: return 1.0 / (1.0 + exp(-v));
    case SNT_K_ACT_TANH: return tanh(v);
    case SNT_K_ACT_CLIP: return v < act->clip_min ? act->clip_min : (v > act->clip_max ? act->clip_max : v);
    case SNT_K_ACT_SILU: return v / (1.0 + exp(-v));
    case SNT_K_ACT_HARD_SIGMOID:
    case SNT_K_ACT_HARD_SWISH: {
      double t = (double)act->alpha * v + (double)act->beta;
      t = t > 1.0 ? 1.0 : (t < 0.0 ? 0.0 : t);
      return act->kind == SNT_K_ACT_HARD_SWISH ? v * t : t;
    }
    case SNT_K_ACT_EXP: return exp(v);
    case SNT_K_ACT_MISH: return v * tanh(v > 0 ? v + log1p(exp(-v)) : log1p(exp(v)));
    case SNT_K_ACT_ERF: return erf(v);
    case SNT_K_ACT_GELU: return 0.5 * v * (1.0 + erf(v * 0.70710678118654752440));
  }
  return v;
}

/* One output value of Conv: the sum over the group's input channels and the window's taps. */
static double conv_point(const snt_k_conv3 *g, const double *xg, const double *wo, const int64_t o[3]) {
  const snt_k_win3 *w = &g->w;
  snt_k_window win[3];
  for (int a = 0; a < 3; a++) win[a] = snt_k_axis_window(w, a, o[a]);
  double acc = 0.0;
  for (int64_t ic = 0; ic < g->cg; ic++) {
    const double *xp = xg + ic * w->in_size, *wp = wo + ic * w->k_size;
    for (int64_t t0 = win[0].lo; t0 < win[0].hi; t0++) {
      int64_t i0 = win[0].start + t0 * w->dl[0];
      for (int64_t t1 = win[1].lo; t1 < win[1].hi; t1++) {
        int64_t i1 = win[1].start + t1 * w->dl[1];
        const double *xr = xp + (i0 * w->in[1] + i1) * w->in[2], *wr = wp + (t0 * w->k[1] + t1) * w->k[2];
        for (int64_t t2 = win[2].lo; t2 < win[2].hi; t2++) acc += xr[win[2].start + t2 * w->dl[2]] * wr[t2];
      }
    }
  }
  return acc;
}

snt_status snt_k_conv_f64(const snt_k_conv_desc *d, const double *x, const double *w, const double *bias,
                          const double *residual, double *y) {
  snt_k_conv3 g;
  snt_status st = snt_k_conv3_init(d, &g);
  if (st != SNT_OK) return st;
  const snt_k_win3 *v = &g.w;
  for (int64_t n = 0; n < g.batch; n++) {
    for (int64_t oc = 0; oc < g.cout; oc++) {
      const double *xg = x + (n * g.cin + oc / g.mg * g.cg) * v->in_size, *wo = w + oc * g.cg * v->k_size;
      int64_t base = (n * g.cout + oc) * v->out_size;
      int64_t o[3];
      for (o[0] = 0; o[0] < v->out[0]; o[0]++)
        for (o[1] = 0; o[1] < v->out[1]; o[1]++)
          for (o[2] = 0; o[2] < v->out[2]; o[2]++) {
            int64_t at = base + (o[0] * v->out[1] + o[1]) * v->out[2] + o[2];
            double s = conv_point(&g, xg, wo, o) + (bias ? bias[oc] : 0.0) + (residual ? residual[at] : 0.0);
            y[at] = act_f64(s, &d->act);
          }
    }
  }
  return SNT_OK;
}

/* Scatters one input value through the kernel of output channel oc (ConvTranspose). */
static void convt_point(const snt_k_conv3 *g, double xv, const double *wk, const int64_t i[3], double *yp) {
  const snt_k_win3 *w = &g->w;
  for (int64_t k0 = 0; k0 < w->k[0]; k0++) {
    int64_t o0 = i[0] * w->s[0] - w->pb[0] + k0 * w->dl[0];
    if (o0 < 0 || o0 >= w->out[0]) continue;
    for (int64_t k1 = 0; k1 < w->k[1]; k1++) {
      int64_t o1 = i[1] * w->s[1] - w->pb[1] + k1 * w->dl[1];
      if (o1 < 0 || o1 >= w->out[1]) continue;
      for (int64_t k2 = 0; k2 < w->k[2]; k2++) {
        int64_t o2 = i[2] * w->s[2] - w->pb[2] + k2 * w->dl[2];
        if (o2 < 0 || o2 >= w->out[2]) continue;
        yp[(o0 * w->out[1] + o1) * w->out[2] + o2] += xv * wk[(k0 * w->k[1] + k1) * w->k[2] + k2];
      }
    }
  }
}

snt_status snt_k_conv_transpose_f64(const snt_k_conv_desc *d, const double *x, const double *w, const double *bias,
                                    double *y) {
  snt_k_conv3 g;
  snt_status st = snt_k_conv3_init(d, &g);
  if (st != SNT_OK) return st;
  const snt_k_win3 *v = &g.w;
  for (int64_t n = 0; n < g.batch; n++) {
    for (int64_t oc = 0; oc < g.cout; oc++) {
      double *yp = y + (n * g.cout + oc) * v->out_size;
      int64_t grp = oc / g.mg, m = oc % g.mg;
      memset(yp, 0, sizeof(double) * (size_t)v->out_size);
      for (int64_t ic = 0; ic < g.cg; ic++) {
        int64_t c = grp * g.cg + ic; /* W is [in_c, out_c / groups, k...] */
        const double *xp = x + (n * g.cin + c) * v->in_size, *wk = w + (c * g.mg + m) * v->k_size;
        int64_t i[3];
        for (i[0] = 0; i[0] < v->in[0]; i[0]++)
          for (i[1] = 0; i[1] < v->in[1]; i[1]++)
            for (i[2] = 0; i[2] < v->in[2]; i[2]++)
              convt_point(&g, xp[(i[0] * v->in[1] + i[1]) * v->in[2] + i[2]], wk, i, yp);
      }
      for (int64_t k = 0; k < v->out_size; k++) yp[k] = act_f64(yp[k] + (bias ? bias[oc] : 0.0), &d->act);
    }
  }
  return SNT_OK;
}

/* The window's mean (AVG) or maximum (MAX, *at its first position in the plane, -1 if none). */
static double pool_window(const snt_k_pool_desc *d, const snt_k_win3 *g, const double *xp, const snt_k_window w[3],
                          int64_t *at) {
  double sum = 0.0, best = -INFINITY;
  int64_t best_at = -1;
  for (int64_t t0 = w[0].lo; t0 < w[0].hi; t0++) {
    int64_t i0 = w[0].start + t0 * g->dl[0];
    for (int64_t t1 = w[1].lo; t1 < w[1].hi; t1++) {
      int64_t row = (i0 * g->in[1] + w[1].start + t1 * g->dl[1]) * g->in[2];
      for (int64_t t2 = w[2].lo; t2 < w[2].hi; t2++) {
        int64_t i = row + w[2].start + t2 * g->dl[2];
        sum += xp[i];
        if (best_at < 0 || xp[i] > best) best = xp[i], best_at = i;
      }
    }
  }
  *at = best_at;
  if (d->kind == SNT_K_POOL_MAX) return best;
  int64_t count = snt_k_window_count(w, d->count_include_pad);
  return count > 0 ? sum / (double)count : 0.0;
}

snt_status snt_k_pool_f64(const snt_k_pool_desc *d, const double *x, double *y, int64_t *indices) {
  snt_k_win3 g;
  if (d->batch < 0 || d->channels < 0 || (d->kind != SNT_K_POOL_MAX && d->kind != SNT_K_POOL_AVG)) return SNT_ERR_INPUT;
  snt_status st = snt_k_win3_init(d->spatial, d->in, d->out, d->kernel, d->stride, d->dilation, d->pad_begin,
                                  d->pad_end, &g);
  if (st != SNT_OK) return st;
  for (int64_t p = 0; p < d->batch * d->channels; p++) {
    const double *xp = x + p * g.in_size;
    snt_k_window w[3];
    int64_t o[3];
    for (o[0] = 0; o[0] < g.out[0]; o[0]++) {
      w[0] = snt_k_axis_window(&g, 0, o[0]);
      for (o[1] = 0; o[1] < g.out[1]; o[1]++) {
        w[1] = snt_k_axis_window(&g, 1, o[1]);
        for (o[2] = 0; o[2] < g.out[2]; o[2]++) {
          w[2] = snt_k_axis_window(&g, 2, o[2]);
          int64_t k = p * g.out_size + (o[0] * g.out[1] + o[1]) * g.out[2] + o[2], at;
          y[k] = pool_window(d, &g, xp, w, &at);
          if (at >= 0 && d->storage_order) { /* column-major over the spatial axes of the plane */
            int64_t idx[3] = {at / g.in[2] / g.in[1], at / g.in[2] % g.in[1], at % g.in[2]}, r = 0;
            for (int a = 2; a >= 3 - d->spatial; a--) r = r * g.in[a] + idx[a];
            at = r;
          }
          if (indices && d->kind == SNT_K_POOL_MAX) indices[k] = at < 0 ? -1 : p * g.in_size + at;
        }
      }
    }
  }
  return SNT_OK;
}
