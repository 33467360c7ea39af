/* Exact integer sums of ConvInteger, MatMulInteger and the QLinear ops, and the requantization
 * ONNX Runtime applies (float scale, half-to-even rounding, saturation). Straight loops: these
 * ops are rare in float models, and exactness comes first. */
#include <math.h>
#include <stdbool.h>

#include "sinter/kernels.h"

static int32_t int8_at(snt_dtype t, const void *p, int64_t i) {
  return t == SNT_U8 ? ((const uint8_t *)p)[i] : ((const int8_t *)p)[i];
}

static int32_t zp_at(snt_dtype t, snt_k_zp z, int64_t i) {
  if (!z.v) return 0;
  return int8_at(t, z.v, z.n == 1 ? 0 : i);
}

static bool is_int8(snt_dtype t) { return t == SNT_U8 || t == SNT_I8; }

snt_status snt_k_conv_integer(const snt_k_conv_desc *d, snt_dtype xt, const void *x, snt_k_zp x_zp, snt_dtype wt,
                              const void *w, snt_k_zp w_zp, int32_t *y) {
  if (!is_int8(xt) || !is_int8(wt) || d->spatial < 1 || d->spatial > 3 || d->groups < 1) return SNT_ERR_INPUT;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, dl[3] = {1, 1, 1}, pb[3] = {0, 0, 0};
  for (int i = 0, j = 3 - d->spatial; i < d->spatial; i++, j++)
    in[j] = d->in[i], out[j] = d->out[i], k[j] = d->kernel[i], s[j] = d->stride[i], dl[j] = d->dilation[i], pb[j] = d->pad_begin[i];
  int64_t cg = d->in_channels / d->groups, mg = d->out_channels / d->groups, in_size = in[0] * in[1] * in[2];
  int64_t k_size = k[0] * k[1] * k[2], out_size = out[0] * out[1] * out[2];
  int32_t xz = zp_at(xt, x_zp, 0);
  for (int64_t b = 0; b < d->batch; b++)
    for (int64_t oc = 0; oc < d->out_channels; oc++) {
      int32_t wz = zp_at(wt, w_zp, oc);
      int64_t g = oc / mg;
      int32_t *yp = y + (b * d->out_channels + oc) * out_size;
      for (int64_t o = 0; o < out_size; o++) {
        int64_t od = o / (out[1] * out[2]), oh = o / out[2] % out[1], ow = o % out[2];
        int64_t acc = 0; /* int64: no overflow; stored wrapped to int32 as ONNX Runtime's sum wraps */
        for (int64_t c = 0; c < cg; c++) {
          int64_t xc = (b * d->in_channels + g * cg + c) * in_size, wc = (oc * cg + c) * k_size;
          for (int64_t t = 0; t < k_size; t++) {
            int64_t kd = t / (k[1] * k[2]), kh = t / k[2] % k[1], kw = t % k[2];
            int64_t id = od * s[0] - pb[0] + kd * dl[0], ih = oh * s[1] - pb[1] + kh * dl[1], iw = ow * s[2] - pb[2] + kw * dl[2];
            if (id < 0 || id >= in[0] || ih < 0 || ih >= in[1] || iw < 0 || iw >= in[2]) continue;
            int32_t xv = int8_at(xt, x, xc + (id * in[1] + ih) * in[2] + iw) - xz;
            acc += xv * (int8_at(wt, w, wc + t) - wz);
          }
        }
        yp[o] = (int32_t)(uint32_t)acc;
      }
    }
  return SNT_OK;
}

/* Offset of batch index `flat` (of y's batch dims) in an operand with batch dims `dims`. */
static int64_t batch_offset(const snt_k_matmul_int *p, const int64_t *dims, int64_t flat) {
  int64_t off = 0, stride = 1;
  for (int i = p->batch_rank - 1; i >= 0; i--) {
    int64_t idx = flat % p->y_batch[i];
    flat /= p->y_batch[i];
    off += (dims[i] == 1 ? 0 : idx) * stride;
    stride *= dims[i];
  }
  return off;
}

snt_status snt_k_matmul_integer(const snt_k_matmul_int *p, const void *a, snt_k_zp a_zp, const void *b, snt_k_zp b_zp,
                                int32_t *y) {
  if (!is_int8(p->at) || !is_int8(p->bt) || p->batch_rank < 0 || p->batch_rank > SNT_K_MAX_BATCH_RANK) return SNT_ERR_INPUT;
  int64_t batches = 1;
  for (int i = 0; i < p->batch_rank; i++) batches *= p->y_batch[i];
  for (int64_t q = 0; q < batches; q++) {
    int64_t ao = batch_offset(p, p->a_batch, q) * p->m * p->k, bo = batch_offset(p, p->b_batch, q) * p->k * p->n;
    int32_t *yq = y + q * p->m * p->n;
    for (int64_t i = 0; i < p->m; i++) {
      int32_t az = zp_at(p->at, a_zp, i);
      for (int64_t j = 0; j < p->n; j++) {
        int32_t bz = zp_at(p->bt, b_zp, j);
        int64_t acc = 0;
        for (int64_t t = 0; t < p->k; t++)
          acc += (int8_at(p->at, a, ao + i * p->k + t) - az) * (int8_at(p->bt, b, bo + t * p->n + j) - bz);
        yq[i * p->n + j] = (int32_t)(uint32_t)acc;
      }
    }
  }
  return SNT_OK;
}

snt_status snt_k_requantize(const snt_k_requant *p, const int32_t *acc, const int32_t *bias, const void *y_zp, void *y) {
  if (!is_int8(p->yt) || (p->n_b_scale != 1 && p->n_b_scale != p->channels)) return SNT_ERR_INPUT;
  float lo = p->yt == SNT_U8 ? 0.0f : -128.0f, hi = p->yt == SNT_U8 ? 255.0f : 127.0f;
  float zp = y_zp ? (float)int8_at(p->yt, y_zp, 0) : 0.0f;
  int64_t k = 0;
  for (int64_t o = 0; o < p->outer; o++)
    for (int64_t c = 0; c < p->channels; c++) {
      float scale = p->a_scale * p->b_scale[p->n_b_scale == 1 ? 0 : c] / p->y_scale;
      int32_t add = bias ? bias[c] : 0;
      for (int64_t i = 0; i < p->inner; i++, k++) {
        float v = fminf(fmaxf(nearbyintf((float)((int64_t)acc[k] + add) * scale) + zp, lo), hi); /* NaN: low */
        if (p->yt == SNT_U8) ((uint8_t *)y)[k] = (uint8_t)v;
        else ((int8_t *)y)[k] = (int8_t)v;
      }
    }
  return SNT_OK;
}
