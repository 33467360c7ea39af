/* snt_k_layer_norm (runtime/kernels/layer_norm.c) on each ISA path the CPU has (SINTER_ISA=c and
 * the detected one), against a double reference: row lengths around the 8- and 16-lane steps and
 * ConvNeXt's 96, with and without scale and bias, rows offset by a large mean (the two-pass
 * variance), in place, on 1 and 2 threads (the same bits). */
#include <stdlib.h>

#include "kernels_ref.h"

static void reference(const float *x, const float *scale, const float *bias, double *y, int64_t groups, int64_t members,
                      double eps) {
  for (int64_t g = 0; g < groups; g++) {
    const float *r = x + g * members;
    double s = 0, v = 0;
    for (int64_t m = 0; m < members; m++) s += r[m];
    double mean = s / (double)members;
    for (int64_t m = 0; m < members; m++) v += (r[m] - mean) * (r[m] - mean);
    double inv = 1.0 / sqrt(v / (double)members + eps);
    for (int64_t m = 0; m < members; m++)
      y[g * members + m] = (r[m] - mean) * inv * (scale ? scale[m] : 1.0) + (bias ? bias[m] : 0.0);
  }
}

static void check_isa(test_state *ts, const char *isa) {
  setenv("SINTER_ISA", isa, 1);
  snt_k_ctx *c1 = snt_k_ctx_create(1), *c2 = snt_k_ctx_create(2);
  static const int64_t lens[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 96, 100};
  static const int64_t rows[] = {1, 3, 300};
  unsigned seed = 11;
  for (size_t li = 0; li < sizeof lens / sizeof *lens; li++)
    for (size_t ri = 0; ri < sizeof rows / sizeof *rows; ri++)
      for (int affine = 0; affine < 2; affine++) {
        int64_t m = lens[li], gr = rows[ri], n = m * gr;
        float *x = malloc((size_t)n * sizeof(float)), *y1 = malloc((size_t)n * sizeof(float));
        float *y2 = malloc((size_t)n * sizeof(float)), *sc = malloc((size_t)m * sizeof(float)), *b = malloc((size_t)m * sizeof(float));
        double *want = malloc((size_t)n * sizeof(double)), *scale = malloc((size_t)n * sizeof(double));
        if (!x || !y1 || !y2 || !sc || !b || !want || !scale) abort();
        for (int64_t i = 0; i < n; i++) x[i] = 100.0f * (float)(i / m % 3) + (float)(rand_r(&seed) % 2001 - 1000) / 250.0f;
        for (int64_t i = 0; i < m; i++) sc[i] = (float)(rand_r(&seed) % 301 - 150) / 100.0f, b[i] = (float)(i % 5) - 2.0f;
        const float *s = affine ? sc : NULL, *bb = affine ? b : NULL;
        reference(x, s, bb, want, gr, m, 1e-5);
        for (int64_t i = 0; i < n; i++) scale[i] = 1.0 + (affine ? fabs(b[i % m]) : 0.0);
        snt_k_layer_norm(c1, x, s, bb, y1, gr, m, 1e-5);
        char what[96];
        snprintf(what, sizeof what, "%s: %lld rows of %lld, affine %d", isa, (long long)gr, (long long)m, affine);
        check_close_arr(ts, what, y1, want, scale, n, 2e-6 * (m == 1 ? 1 : 4));
        snt_k_layer_norm(c2, x, s, bb, y2, gr, m, 1e-5);
        CHECK(ts, memcmp(y1, y2, (size_t)n * sizeof(float)) == 0);
        snt_k_layer_norm(c2, x, s, bb, x, gr, m, 1e-5); /* in place */
        CHECK(ts, memcmp(y1, x, (size_t)n * sizeof(float)) == 0);
        free(x), free(y1), free(y2), free(sc), free(b), free(want), free(scale);
      }
  snt_k_ctx_destroy(c1);
  snt_k_ctx_destroy(c2);
}

int main(void) {
  test_state ts = {0};
  check_isa(&ts, "c");
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) check_isa(&ts, "avx512");
  else printf("no AVX-512F on this CPU: its path is not run\n");
  return test_report("layer_norm", &ts);
}
