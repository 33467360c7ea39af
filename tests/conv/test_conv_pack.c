/* The implicit-im2col packer (runtime/kernels/conv_pack.c) against a plain im2col written from
 * the conv definition followed by a naive packing in gemm_core.h's B layout: every block of
 * random geometries (strides, dilations, one-sided pads, 1-3 spatial axes), several strip
 * widths and block offsets, compared bit for bit (both are copies), for each ISA's packer the
 * CPU can run, reading the image itself, a zero-padded copy of it, and three images side by
 * side (columns past one image's are the next one's, as the BF16 GEMM's batched product reads). */
#include "conv_impl.h"
#include "kernels_ref.h"

/* col[k][j] for k = (c, kd, kh, kw), j = (od, oh, ow), straight from the definition. */
static void ref_im2col(const snt_k_win3 *w, int64_t cg, const float *x, float *col) {
  int64_t P = w->out_size;
  for (int64_t c = 0; c < cg; c++)
    for (int64_t kp = 0; kp < w->k_size; kp++) {
      int64_t kw = kp % w->k[2], kh = kp / w->k[2] % w->k[1], kd = kp / (w->k[2] * w->k[1]);
      for (int64_t j = 0; j < P; j++) {
        int64_t ow = j % w->out[2], oh = j / w->out[2] % w->out[1], od = j / (w->out[2] * w->out[1]);
        int64_t i0 = od * w->s[0] - w->pb[0] + kd * w->dl[0], i1 = oh * w->s[1] - w->pb[1] + kh * w->dl[1];
        int64_t i2 = ow * w->s[2] - w->pb[2] + kw * w->dl[2];
        int inside = i0 >= 0 && i0 < w->in[0] && i1 >= 0 && i1 < w->in[1] && i2 >= 0 && i2 < w->in[2];
        col[(c * w->k_size + kp) * P + j] = inside ? x[c * w->in_size + (i0 * w->in[1] + i1) * w->in[2] + i2] : 0.0f;
      }
    }
}

/* gemm_core.h: dst[(s * kc + kk) * nr + jj] = B[k0 + kk][n0 + s * nr + jj], 0 past nc. */
static void ref_pack(const float *col, int64_t P, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float *dst) {
  int64_t strips = (nc + nr - 1) / nr;
  for (int64_t s = 0; s < strips; s++)
    for (int64_t kk = 0; kk < kc; kk++)
      for (int jj = 0; jj < nr; jj++) {
        int64_t j = s * nr + jj;
        dst[(s * kc + kk) * nr + jj] = j < nc ? col[(k0 + kk) * P + n0 + j] : 0.0f;
      }
}

static int random_geometry(rng *r, snt_k_win3 *w) {
  int spatial = (int)rng_int(r, 1, 3);
  int64_t in[3], out[3], k[3], s[3], dl[3], pb[3], pe[3];
  int64_t max_in = spatial == 3 ? 6 : spatial == 2 ? 12 : 70;
  for (int a = 0; a < spatial; a++) {
    in[a] = rng_int(r, 1, max_in);
    k[a] = rng_int(r, 1, a == spatial - 1 ? 7 : 3);
    s[a] = rng_int(r, 1, 4);
    dl[a] = rng_int(r, 1, 2);
    pb[a] = rng_int(r, 0, 3);
    pe[a] = rng_int(r, 0, 3);
    int64_t span = in[a] + pb[a] + pe[a] - ((k[a] - 1) * dl[a] + 1);
    if (span < 0) return 0;
    out[a] = span / s[a] + 1;
  }
  return snt_k_win3_init(spatial, in, out, k, s, dl, pb, pe, w) == SNT_OK;
}

static void test_blocks(test_state *ts, snt_k_pack_b_fn pack, const char *isa) {
  rng r = {0xc0a7bacc};
  static const int nrs[] = {4, 8, 16, 32, 48, 64, 96};
  for (int i = 0, done = 0; done < 300; i++) {
    snt_k_win3 w;
    if (!random_geometry(&r, &w)) continue;
    done++;
    int64_t cg = rng_int(&r, 1, 5), K = cg * w.k_size, P = w.out_size;
    enum { IMAGES = 3, GAP = 7 }; /* floats between one image's channels and the next image */
    int64_t stride = cg * w.in_size + GAP;
    float *x = alloc_f(IMAGES * stride), *col = alloc_f(K * P), *cols = alloc_f(K * IMAGES * P);
    rng_fill(&r, x, IMAGES * stride);
    for (int im = 0; im < IMAGES; im++) {
      ref_im2col(&w, cg, x + im * stride, col);
      for (int64_t k = 0; k < K; k++) memcpy(cols + (k * IMAGES + im) * P, col + k * P, (size_t)P * sizeof(float));
    }
    ref_im2col(&w, cg, x, col);
    snt_k_win3 wp;
    snt_k_conv_padded_geometry(&w, &wp);
    size_t np = snt_k_conv_padded_floats(&wp, cg);
    float *xp = alloc_f((int64_t)np);
    memset(xp, 0, np * sizeof(float));
    for (int64_t i = 0; i < cg * wp.in_size; i++) xp[i] = NAN; /* pad_image writes every float of the planes */
    snt_k_conv_pad_image(&w, &wp, cg, x, xp);
    snt_k_conv_src srcs[3] = {{&w, x, 0, 0}, {&wp, xp, 1, 0}, {&w, x, 0, stride}};
    for (int b = 0; b < 12; b++) {
      const snt_k_conv_src *src = &srcs[b % 3];
      int64_t cols_n = b % 3 == 2 ? IMAGES * P : P;
      int nr = nrs[rng_int(&r, 0, 6)];
      int64_t k0 = rng_int(&r, 0, K - 1), kc = rng_int(&r, 1, K - k0);
      int64_t n0 = rng_int(&r, 0, cols_n - 1), nc = rng_int(&r, 1, cols_n - n0);
      if (b < 3) k0 = 0, kc = K, n0 = 0, nc = cols_n; /* the whole matrix once per source */
      int64_t n = (nc + nr - 1) / nr * nr * kc;
      float *got = alloc_nan(n), *want = alloc_f(n);
      pack(src, k0, kc, n0, nc, nr, got);
      ref_pack(b % 3 == 2 ? cols : col, cols_n, k0, kc, n0, nc, nr, want);
      ts->checks++;
      if (memcmp(got, want, (size_t)n * sizeof(float)) != 0) {
        ts->failures++;
        fprintf(stderr, "%s%s case %d block %d: in %lld,%lld,%lld k %lld,%lld,%lld s %lld,%lld,%lld nr %d k0 %lld kc %lld "
                "n0 %lld nc %lld: packed block differs\n", isa, src->padded ? " padded" : src->img_stride ? " batched" : "", i, b, (long long)w.in[0], (long long)w.in[1],
                (long long)w.in[2], (long long)w.k[0], (long long)w.k[1], (long long)w.k[2], (long long)w.s[0],
                (long long)w.s[1], (long long)w.s[2], nr, (long long)k0, (long long)kc, (long long)n0, (long long)nc);
      }
      free(got), free(want);
    }
    free(x), free(xp), free(col), free(cols);
  }
}

int main(void) {
  test_state ts = {0};
  __builtin_cpu_init();
  test_blocks(&ts, snt_k_conv_pack_b_c, "c");
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) test_blocks(&ts, snt_k_conv_pack_b_avx2, "avx2");
  if (__builtin_cpu_supports("avx512f")) test_blocks(&ts, snt_k_conv_pack_b_avx512, "avx512");
  return test_report("test_conv_pack", &ts);
}
