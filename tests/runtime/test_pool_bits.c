/* Pooling on AVX-512 (pool_plane.c: padded planes for 2-D pools of stride and dilation 1, strided
 * copies for 1x1 windows; else pool_rows.c's vector sweep for the windows inside the input along
 * the last axis, the per-window code for the others) gives the C path's bits: random max and
 * average pools (strides 1 and 2, pads up to the kernel's size, both count_include_pad settings,
 * inputs with NaN, infinities and -0), bit for bit. */
#include <math.h>
#include <stdlib.h>

#include "kernels_ref.h"
#include "sinter/kernels.h"

static int64_t pick(unsigned *s, int64_t lo, int64_t hi) { return lo + (int64_t)(rand_r(s) % (unsigned)(hi - lo + 1)); }

/* A random 1-D or 2-D pool; false when it has no output. */
static int random_pool(unsigned *s, snt_k_pool_desc *d) {
  *d = (snt_k_pool_desc){.spatial = (int)pick(s, 1, 2), .kind = pick(s, 0, 1) ? SNT_K_POOL_MAX : SNT_K_POOL_AVG,
                         .batch = pick(s, 1, 2), .channels = pick(s, 1, 3), .count_include_pad = (int)pick(s, 0, 1)};
  for (int a = 0; a < d->spatial; a++) {
    int last = a == d->spatial - 1;
    d->in[a] = pick(s, 1, last ? 40 : 9);
    d->kernel[a] = pick(s, 1, last ? 9 : 4);
    d->stride[a] = pick(s, 1, 2);
    d->dilation[a] = last ? 1 : pick(s, 1, 2);
    d->pad_begin[a] = pick(s, 0, d->kernel[a] - 1);
    d->pad_end[a] = pick(s, 0, d->kernel[a] - 1);
    int64_t span = (d->kernel[a] - 1) * d->dilation[a] + 1, room = d->in[a] + d->pad_begin[a] + d->pad_end[a] - span;
    if (room < 0) return 0;
    d->out[a] = room / d->stride[a] + 1;
  }
  return 1;
}

int main(void) {
  test_state ts = {0};
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f")) {
    printf("no AVX-512F on this CPU: its path is not run\n");
    return test_report("pool_bits", &ts);
  }
  setenv("SINTER_ISA", "c", 1);
  snt_k_ctx *c = snt_k_ctx_create(1);
  setenv("SINTER_ISA", "avx512", 1);
  snt_k_ctx *v = snt_k_ctx_create(2);
  unsigned seed = 5;
  int done = 0, bad = 0;
  for (int i = 0; done < 600; i++) {
    snt_k_pool_desc d;
    if (!random_pool(&seed, &d)) continue;
    done++;
    int64_t nx = d.batch * d.channels * prod64(d.in, d.spatial), ny = d.batch * d.channels * prod64(d.out, d.spatial);
    float *x = malloc((size_t)nx * sizeof(float)), *y1 = malloc((size_t)ny * sizeof(float)), *y2 = malloc((size_t)ny * sizeof(float));
    if (!x || !y1 || !y2) abort();
    static const float special[] = {NAN, INFINITY, -INFINITY, -0.0f, 0.0f};
    for (int64_t q = 0; q < nx; q++)
      x[q] = rand_r(&seed) % 23 == 0 ? special[rand_r(&seed) % 5] : (float)(rand_r(&seed) % 2001 - 1000) / 97.0f;
    CHECK_INT(&ts, snt_k_pool_ctx(c, &d, x, y1, NULL), SNT_OK);
    CHECK_INT(&ts, snt_k_pool_ctx(v, &d, x, y2, NULL), SNT_OK);
    for (int64_t q = 0; q < ny; q++) {
      if (memcmp(&y1[q], &y2[q], sizeof(float)) == 0 || (isnan(y1[q]) && isnan(y2[q]))) continue;
      if (bad++ < 5)
        fprintf(stderr, "case %d: kind %d S=%d in %lld k %lld pads %lld/%lld incl %d: output %lld: avx512 %.9g, c %.9g\n", i,
                (int)d.kind, d.spatial, (long long)d.in[d.spatial - 1], (long long)d.kernel[d.spatial - 1],
                (long long)d.pad_begin[d.spatial - 1], (long long)d.pad_end[d.spatial - 1], d.count_include_pad, (long long)q,
                (double)y2[q], (double)y1[q]);
      break;
    }
    free(x), free(y1), free(y2);
  }
  CHECK_INT(&ts, bad, 0);
  snt_k_ctx_destroy(c);
  snt_k_ctx_destroy(v);
  return test_report("pool_bits", &ts);
}
