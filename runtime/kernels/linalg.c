/* ReverseSequence and Det. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sinter/kernels.h"

snt_status snt_k_reverse_sequence(size_t es, int rank, const int64_t *dims, int batch_axis, int time_axis,
                                  const int64_t *lens, const void *x, void *y) {
  if (rank < 2 || rank > SNT_MAX_RANK || batch_axis == time_axis || batch_axis < 0 || batch_axis >= rank || time_axis < 0 ||
      time_axis >= rank)
    return SNT_ERR_INPUT;
  for (int64_t b = 0; b < dims[batch_axis]; b++)
    if (lens[b] < 0 || lens[b] > dims[time_axis]) return SNT_ERR_INPUT;
  int64_t strides[SNT_MAX_RANK], total = 1;
  for (int a = rank - 1; a >= 0; a--) strides[a] = total, total *= dims[a];
  int64_t idx[SNT_MAX_RANK] = {0};
  for (int64_t i = 0; i < total; i++) {
    int64_t t = idx[time_axis], len = lens[idx[batch_axis]];
    int64_t src = i + (t < len ? (len - 1 - 2 * t) * strides[time_axis] : 0);
    memcpy((char *)y + (size_t)i * es, (const char *)x + (size_t)src * es, es);
    for (int a = rank - 1; a >= 0 && ++idx[a] == dims[a]; a--) idx[a] = 0;
  }
  return SNT_OK;
}

snt_status snt_k_det(int64_t batch, int64_t m, const float *x, float *y) {
  double *a = malloc(sizeof(double) * (size_t)(m * m > 0 ? m * m : 1));
  if (!a) return SNT_ERR_NOMEM;
  for (int64_t b = 0; b < batch; b++) {
    for (int64_t i = 0; i < m * m; i++) a[i] = x[b * m * m + i];
    double det = 1.0;
    for (int64_t c = 0; c < m; c++) {
      int64_t p = c;
      for (int64_t r = c + 1; r < m; r++)
        if (fabs(a[r * m + c]) > fabs(a[p * m + c])) p = r;
      if (a[p * m + c] == 0.0) {
        det = 0.0;
        break;
      }
      if (p != c) {
        for (int64_t k = 0; k < m; k++) {
          double t = a[c * m + k];
          a[c * m + k] = a[p * m + k], a[p * m + k] = t;
        }
        det = -det;
      }
      det *= a[c * m + c];
      for (int64_t r = c + 1; r < m; r++) {
        double f = a[r * m + c] / a[c * m + c];
        for (int64_t k = c; k < m; k++) a[r * m + k] -= f * a[c * m + k];
      }
    }
    y[b] = (float)det;
  }
  free(a);
  return SNT_OK;
}

void snt_k_einsum_run(const snt_k_einsum *p, const float *const *x, float *y) {
  int64_t idx[SNT_K_EINSUM_LABELS] = {0}, off[SNT_K_EINSUM_MAX_IN] = {0}, outs = 1, inner = 1;
  for (int l = 0; l < p->n_out; l++) outs *= p->size[l];
  for (int l = p->n_out; l < p->n_labels; l++) inner *= p->size[l];
  for (int64_t o = 0; o < outs; o++) {
    int64_t yo = 0;
    for (int l = 0; l < p->n_out; l++) yo += idx[l] * p->out_stride[l];
    double acc = 0.0;
    for (int64_t r = 0; r < inner; r++) {
      double v = 1.0;
      for (int i = 0; i < p->n_in; i++) {
        off[i] = 0;
        for (int l = 0; l < p->n_labels; l++) off[i] += idx[l] * p->in_stride[i][l];
        v *= (double)x[i][off[i]];
      }
      acc += v;
      for (int l = p->n_labels - 1; l >= p->n_out && ++idx[l] == p->size[l]; l--) idx[l] = 0; /* next reduced index */
    }
    y[yo] = (float)acc;
    for (int l = p->n_out - 1; l >= 0 && ++idx[l] == p->size[l]; l--) idx[l] = 0; /* next output index */
  }
}

void snt_k_col2im_run(const snt_k_col2im *p, const float *x, float *y) {
  int64_t img = 1, blk = 1, cols = 1;
  for (int a = 0; a < p->sp; a++) img *= p->image[a], blk *= p->block[a], cols *= p->out[a];
  memset(y, 0, sizeof(float) * (size_t)(p->n * p->c * img));
  for (int64_t nc = 0; nc < p->n * p->c; nc++)
    for (int64_t k = 0; k < blk; k++)
      for (int64_t l = 0; l < cols; l++) {
        int64_t kr = k, lr = l, at = 0;
        bool inside = true;
        for (int a = p->sp - 1; a >= 0; a--) { /* the last spatial dim varies fastest */
          int64_t ki = kr % p->block[a], li = lr % p->out[a];
          kr /= p->block[a], lr /= p->out[a];
          int64_t v = li * p->stride[a] - p->pad[a] + ki * p->dil[a];
          if (v < 0 || v >= p->image[a]) inside = false;
          int64_t scale = 1;
          for (int b = a + 1; b < p->sp; b++) scale *= p->image[b];
          at += v * scale;
        }
        if (inside) y[nc * img + at] += x[(nc * blk + k) * cols + l];
      }
}

void snt_k_lp_pool_run(const snt_k_lp_pool *p, const float *x, float *y) {
  int64_t in_size = p->in[0] * p->in[1] * p->in[2], out_size = p->out[0] * p->out[1] * p->out[2];
  for (int64_t q = 0; q < p->planes; q++)
    for (int64_t o = 0; o < out_size; o++) {
      int64_t od = o / (p->out[1] * p->out[2]), oh = o / p->out[2] % p->out[1], ow = o % p->out[2];
      double acc = 0.0;
      for (int64_t kd = 0; kd < p->k[0]; kd++)
        for (int64_t kh = 0; kh < p->k[1]; kh++)
          for (int64_t kw = 0; kw < p->k[2]; kw++) {
            int64_t id = od * p->stride[0] - p->pad[0] + kd * p->dil[0], ih = oh * p->stride[1] - p->pad[1] + kh * p->dil[1];
            int64_t iw = ow * p->stride[2] - p->pad[2] + kw * p->dil[2];
            if (id < 0 || id >= p->in[0] || ih < 0 || ih >= p->in[1] || iw < 0 || iw >= p->in[2]) continue;
            acc += pow(fabs((double)x[q * in_size + (id * p->in[1] + ih) * p->in[2] + iw]), p->p);
          }
      y[q * out_size + o] = (float)pow(acc, 1.0 / p->p);
    }
}
