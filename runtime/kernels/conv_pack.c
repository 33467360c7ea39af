/* Implicit im2col (see conv_pack.h): each B strip is gathered straight from the image, one
 * output-row run at a time, so no im2col matrix of the whole image is ever written. */
#include <string.h>

#include "conv_impl.h"

/* Columns of one strip handled per pass: bounds the runs array whatever the strip width. */
enum { PIECE_COLS = 64 };

/* A run of columns along one output row: output position (od, oh, ow), len columns, written
 * at column `at` of the strip. */
typedef struct run {
  int64_t od, oh, ow, len, at;
} run;

/* Splits columns [j, j + len) (len <= PIECE_COLS) into runs along output rows. */
static int split_runs(const snt_k_win3 *w, int64_t j, int64_t len, int64_t at, run *r) {
  int64_t ow = j % w->out[2], rest = j / w->out[2];
  int64_t oh = rest % w->out[1], od = rest / w->out[1];
  int n = 0;
  while (len > 0) {
    int64_t l = w->out[2] - ow < len ? w->out[2] - ow : len;
    r[n++] = (run){od, oh, ow, l, at};
    at += l;
    len -= l;
    ow = 0;
    if (++oh == w->out[1]) oh = 0, od++;
  }
  return n;
}

/* dst[i] = xr[start + i * step] for i < len, 0 where that leaves [0, limit) or xr is NULL
 * (a padding row). Stride 1 is a contiguous copy. */
static inline void gather(float *restrict dst, const float *restrict xr, int64_t start, int64_t step, int64_t len,
                          int64_t limit) {
  int64_t lo = 0, hi = 0;
  if (xr && step == 1) {
    lo = start < 0 ? (-start < len ? -start : len) : 0;
    hi = limit - start < len ? limit - start : len;
    if (hi < lo) hi = lo;
    for (int64_t i = lo; i < hi; i++) dst[i] = xr[start + i];
  } else if (xr) {
    snt_k_valid_range(start, step, len, limit, &lo, &hi);
    for (int64_t i = lo; i < hi; i++) dst[i] = xr[start + i * step];
  }
  for (int64_t i = 0; i < lo; i++) dst[i] = 0.0f;
  for (int64_t i = hi; i < len; i++) dst[i] = 0.0f;
}

/* B row k as (channel, kd, kh, kw), stepped in row order without divisions. */
typedef struct tap {
  int64_t c, kd, kh, kw;
} tap;

static tap tap_of(const snt_k_win3 *w, int64_t k) {
  tap t;
  t.kw = k % w->k[2];
  k /= w->k[2];
  t.kh = k % w->k[1];
  k /= w->k[1];
  t.kd = k % w->k[0];
  t.c = k / w->k[0];
  return t;
}

static void tap_next(const snt_k_win3 *w, tap *t) {
  if (++t->kw < w->k[2]) return;
  t->kw = 0;
  if (++t->kh < w->k[1]) return;
  t->kh = 0;
  if (++t->kd < w->k[0]) return;
  t->kd = 0;
  t->c++;
}

/* Rows k0..k0+kc of the runs r[0..nr_runs) into a strip (rows nr floats apart). */
static void pack_runs(const snt_k_win3 *w, const float *x, int64_t k0, int64_t kc, const run *r, int n_runs, int nr,
                      float *dst) {
  tap t = tap_of(w, k0);
  for (int64_t kk = 0; kk < kc; kk++, tap_next(w, &t)) {
    float *row = dst + kk * nr;
    const float *xc = x + t.c * w->in_size;
    for (int i = 0; i < n_runs; i++) {
      int64_t id = r[i].od * w->s[0] - w->pb[0] + t.kd * w->dl[0];
      int64_t ih = r[i].oh * w->s[1] - w->pb[1] + t.kh * w->dl[1];
      const float *xr = NULL;
      if (id >= 0 && id < w->in[0] && ih >= 0 && ih < w->in[1]) xr = xc + (id * w->in[1] + ih) * w->in[2];
      gather(row + r[i].at, xr, r[i].ow * w->s[2] - w->pb[2] + t.kw * w->dl[2], w->s[2], r[i].len, w->in[2]);
    }
  }
}

void snt_k_conv_pack_b(const void *src, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float *dst) {
  const snt_k_conv_src *cs = src;
  run runs[PIECE_COLS];
  for (int64_t s0 = 0; s0 < nc; s0 += nr) {
    float *strip = dst + s0 * kc; /* strip s0 / nr starts at (s0 / nr) * kc * nr */
    int64_t width = nc - s0 < nr ? nc - s0 : nr;
    for (int64_t c0 = 0; c0 < width; c0 += PIECE_COLS) {
      int64_t len = width - c0 < PIECE_COLS ? width - c0 : PIECE_COLS;
      int n = split_runs(cs->w, n0 + s0 + c0, len, c0, runs);
      pack_runs(cs->w, cs->x, k0, kc, runs, n, nr, strip);
    }
    for (int64_t kk = 0; width < nr && kk < kc; kk++)
      memset(strip + kk * nr + width, 0, (size_t)(nr - width) * sizeof(float));
  }
}
