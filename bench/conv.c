/* bench_conv: per-layer speed of snt_k_conv on the seed models' convolution shapes against
 * the old path (a whole im2col + OpenBLAS sgemm + a separate bias/ReLU pass), interleaved run
 * by run in the same process; medians. Built as build/bench_conv (not a test).
 *   build/bench_conv [--batch N] [--threads T] [--reps R] [--model simple_cnn|deep_cnn|resnet50v2|alexnet|squeezenet|inception|densenet|mobilenet|all] [--cpu]
 *                    [--packed] [--no-blas] [--kernel SUBSTRING] [--only KxS] [--cold]
 * --packed: sinter's weights packed once before timing, as executables do (else per call);
 * --no-blas: sinter only (A/B runs of two builds; OpenBLAS held to one thread); --kernel: only layers whose path name
 * contains SUBSTRING (e.g. gemmt); --only 3x1: only layers of that kernel size and stride; --cold: 64 MB written before each sinter call, so weights
 * come from DRAM as in a model at batch 1.
 * SINTER_ISA=avx2|c forces a lower ISA; OpenBLAS keeps its own threads (OPENBLAS_NUM_THREADS). */
#include <cblas.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sinter/kernels.h"

typedef struct layer {
  const char *model;
  int count;
  int64_t cin, h, w, cout, k, s, p;
} layer;

static const layer layers[] = {
    {"simple_cnn", 1, 3, 224, 224, 32, 3, 1, 1},      {"gray1ch", 1, 1, 256, 256, 16, 3, 1, 1}, {"simple_cnn", 1, 32, 112, 112, 64, 3, 1, 1},
    {"simple_cnn", 1, 64, 56, 56, 128, 3, 1, 1},      {"deep_cnn", 1, 128, 28, 28, 256, 3, 1, 1},
    {"resnet50v2", 1, 3, 224, 224, 64, 7, 2, 3},      {"resnet50v2", 3, 64, 56, 56, 256, 1, 1, 0},
    {"resnet50v2", 1, 64, 56, 56, 64, 1, 1, 0},       {"resnet50v2", 2, 64, 56, 56, 64, 3, 1, 1},
    {"resnet50v2", 2, 256, 56, 56, 64, 1, 1, 0},      {"resnet50v2", 1, 64, 56, 56, 64, 3, 2, 1},
    {"resnet50v2", 1, 64, 28, 28, 256, 1, 1, 0},      {"resnet50v2", 1, 256, 28, 28, 512, 1, 1, 0},
    {"resnet50v2", 1, 256, 28, 28, 128, 1, 1, 0},     {"resnet50v2", 3, 128, 28, 28, 128, 3, 1, 1},
    {"resnet50v2", 3, 128, 28, 28, 512, 1, 1, 0},     {"resnet50v2", 3, 512, 28, 28, 128, 1, 1, 0},
    {"resnet50v2", 1, 128, 28, 28, 128, 3, 2, 1},     {"resnet50v2", 1, 128, 14, 14, 512, 1, 1, 0},
    {"resnet50v2", 1, 512, 14, 14, 1024, 1, 1, 0},    {"resnet50v2", 1, 512, 14, 14, 256, 1, 1, 0},
    {"resnet50v2", 5, 256, 14, 14, 256, 3, 1, 1},     {"resnet50v2", 5, 256, 14, 14, 1024, 1, 1, 0},
    {"resnet50v2", 5, 1024, 14, 14, 256, 1, 1, 0},    {"resnet50v2", 1, 256, 14, 14, 256, 3, 2, 1},
    {"resnet50v2", 1, 256, 7, 7, 1024, 1, 1, 0},      {"resnet50v2", 1, 1024, 7, 7, 2048, 1, 1, 0},
    {"resnet50v2", 1, 1024, 7, 7, 512, 1, 1, 0},      {"resnet50v2", 3, 512, 7, 7, 512, 3, 1, 1},
    {"resnet50v2", 3, 512, 7, 7, 2048, 1, 1, 0},      {"resnet50v2", 2, 2048, 7, 7, 512, 1, 1, 0},
    /* bench/zoo's AlexNet stem: the stride-4 first layer and the 13x13 maps */
    {"alexnet", 1, 3, 224, 224, 64, 11, 4, 2},        {"alexnet", 1, 64, 27, 27, 192, 5, 1, 2},
    {"alexnet", 1, 192, 13, 13, 384, 3, 1, 1},        {"alexnet", 1, 384, 13, 13, 256, 3, 1, 1},
    {"squeezenet", 1, 3, 224, 224, 64, 3, 2, 0}, /* bench/zoo's SqueezeNet 1.1 first layer */
    /* bench/zoo's Inception-like model: the 35x35 blocks' 5x5 and 3x3 convs, the stride-2 reduction */
    {"inception", 1, 48, 35, 35, 64, 5, 1, 2},        {"inception", 1, 64, 35, 35, 96, 3, 1, 1},
    {"inception", 1, 96, 35, 35, 96, 3, 1, 1},        {"inception", 1, 288, 35, 35, 384, 3, 2, 0},
    {"inception", 1, 96, 35, 35, 96, 3, 2, 0},        {"inception", 8, 768, 17, 17, 192, 1, 1, 0},
    {"inception", 2, 768, 17, 17, 128, 1, 1, 0},
    /* bench/zoo's DenseNet-like model: the dense layers' 128 -> 32 3x3 on 56x56 and 28x28 */
    {"densenet", 4, 128, 56, 56, 32, 3, 1, 1},        {"densenet", 4, 128, 28, 28, 32, 3, 1, 1},
    /* bench/zoo's MobileNet-V2-like model: expansions on 14x14 and 7x7 maps */
    {"mobilenet", 4, 64, 14, 14, 384, 1, 1, 0},       {"mobilenet", 3, 96, 14, 14, 576, 1, 1, 0},
    {"mobilenet", 2, 160, 7, 7, 960, 1, 1, 0},        {"mobilenet", 1, 160, 7, 7, 640, 1, 1, 0},
};

/* --cpu: process CPU time instead of wall time (steadier on a shared machine; counts every
 * thread's time, so compare like with like). */
static clockid_t clock_used = CLOCK_MONOTONIC;

static double now(void) {
  struct timespec t;
  clock_gettime(clock_used, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The old path: col[(c, kh, kw)][(oh, ow)] of one image, then sgemm, then bias + ReLU. */
static void old_conv(const snt_k_conv_desc *d, const float *x, const float *w, const float *b, float *y, float *col) {
  int64_t C = d->in_channels, H = d->in[0], W = d->in[1], OH = d->out[0], OW = d->out[1], K = d->kernel[0];
  int64_t S = d->stride[0], P = d->pad_begin[0], M = d->out_channels, KD = C * K * K, N = OH * OW;
  int pointwise = K == 1 && S == 1 && P == 0;
  for (int64_t n = 0; n < d->batch; n++) {
    const float *xn = x + n * C * H * W, *B = xn;
    if (!pointwise) {
      for (int64_t r = 0; r < KD; r++) {
        int64_t c = r / (K * K), kh = r / K % K, kw = r % K;
        for (int64_t oh = 0; oh < OH; oh++) {
          int64_t ih = oh * S - P + kh;
          float *dst = col + r * N + oh * OW;
          for (int64_t ow = 0; ow < OW; ow++) {
            int64_t iw = ow * S - P + kw;
            dst[ow] = ih >= 0 && ih < H && iw >= 0 && iw < W ? xn[(c * H + ih) * W + iw] : 0.0f;
          }
        }
      }
      B = col;
    }
    float *yn = y + n * M * N;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)KD, 1.0f, w, (int)KD, B, (int)N, 0.0f,
                yn, (int)N);
    for (int64_t m = 0; m < M; m++)
      for (int64_t j = 0; j < N; j++) {
        float v = yn[m * N + j] + b[m];
        yn[m * N + j] = v < 0.0f ? 0.0f : v;
      }
  }
}

int main(int argc, char **argv) {
  int64_t batch = 1;
  int threads = 2, reps = 5;
  const char *model = "all", *kernel = "", *only = NULL;
  int packed = 0, blas = 1;
  size_t cold = 0;
  for (int i = 1; i < argc; i += 2) {
    if (!strcmp(argv[i], "--cpu") || !strcmp(argv[i], "--packed") || !strcmp(argv[i], "--no-blas") ||
        !strcmp(argv[i], "--cold")) {
      if (!strcmp(argv[i], "--cold")) cold = (size_t)64 << 20;
      else if (!strcmp(argv[i], "--cpu")) clock_used = CLOCK_PROCESS_CPUTIME_ID;
      else if (!strcmp(argv[i], "--packed")) packed = 1;
      else blas = 0;
      i--;
    } else if (i + 1 >= argc) {
      fprintf(stderr, "bench_conv: '%s' needs a value\n", argv[i]);
      return 1;
    } else if (!strcmp(argv[i], "--batch")) batch = atoll(argv[i + 1]);
    else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--model")) model = argv[i + 1];
    else if (!strcmp(argv[i], "--kernel")) kernel = argv[i + 1];
    else if (!strcmp(argv[i], "--only")) only = argv[i + 1];
    else {
      fprintf(stderr, "bench_conv: unknown argument '%s'\n", argv[i]);
      return 1;
    }
  }
  if (batch < 1 || threads < 1 || reps < 1 || reps > 99) {
    fprintf(stderr, "bench_conv: --batch, --threads, --reps must be positive (reps <= 99)\n");
    return 1;
  }
  /* Without the BLAS side its threads only get in the way: idle, they still took the second
   * core from sinter's team in some processes (the stem's 7x7 at batch 1: 0.82 or 1.2 ms by
   * process, openblas_set_num_threads(1) or not). OpenBLAS starts them before main, so the
   * process starts again with one. */
  if (!blas && !getenv("OPENBLAS_NUM_THREADS")) {
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    execv("/proc/self/exe", argv);
    perror("bench_conv: execv /proc/self/exe");
    return 1;
  }
  snt_k_ctx *ctx = snt_k_ctx_create(threads);
  char *flush = cold ? malloc(cold) : NULL;
  if (!ctx || (cold && !flush)) return 1;
  printf("%-11s %5s %4s %4s %5s %2s %1s %-26s %9s %8s %9s %8s %6s\n", "model", "cin", "hw", "k", "cout", "s", "n",
         "kernel", "sinter ms", "GFLOP/s", "blas ms", "GFLOP/s", "ratio");
  double tot_s = 0, tot_b = 0;
  for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
    const layer *L = &layers[li];
    if (strcmp(model, "all") && strcmp(model, L->model)) continue;
    char ks[32];
    snprintf(ks, sizeof ks, "%lldx%lld", (long long)L->k, (long long)L->s);
    if (only && strcmp(only, ks)) continue;
    int64_t oh = (L->h + 2 * L->p - L->k) / L->s + 1, ow = (L->w + 2 * L->p - L->k) / L->s + 1;
    snt_k_conv_desc d = {.spatial = 2, .batch = batch, .in_channels = L->cin, .out_channels = L->cout, .groups = 1,
                         .in = {L->h, L->w}, .out = {oh, ow}, .kernel = {L->k, L->k}, .stride = {L->s, L->s},
                         .dilation = {1, 1}, .pad_begin = {L->p, L->p}, .pad_end = {L->p, L->p},
                         .act = {SNT_K_ACT_RELU, 0, 0, 0, 0}};
    size_t nx = (size_t)(batch * L->cin * L->h * L->w), nw = (size_t)(L->cout * L->cin * L->k * L->k);
    size_t ny = (size_t)(batch * L->cout * oh * ow), ncol = (size_t)(L->cin * L->k * L->k * oh * ow);
    if (!strstr(snt_k_conv_kernel(ctx, &d), kernel)) continue;
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)L->cout * 4), *y = malloc(ny * 4);
    float *col = malloc(ncol * 4), *pw = NULL;
    if (!x || !w || !b || !y || !col) return 1;
    for (size_t i = 0; i < nx; i++) x[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    for (size_t i = 0; i < nw; i++) w[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
    for (int64_t i = 0; i < L->cout; i++) b[i] = 0.01f * (float)i;
    size_t npw = packed ? snt_k_conv_packed_weights_bytes(&d) : 0;
    if (npw && (!(pw = aligned_alloc(64, (npw + 63) / 64 * 64)) || snt_k_conv_pack_weights(ctx, &d, w, pw) != SNT_OK)) return 1;
    double ts[99], tb[99] = {0};
    snt_k_conv_packed(ctx, &d, x, w, pw, b, NULL, y, NULL); /* warm-up: page faults, packing buffers */
    if (blas) old_conv(&d, x, w, b, y, col);
    for (int r = 0; r < reps; r++) {
      if (flush) memset(flush, r, cold);
      double t0 = now();
      snt_k_conv_packed(ctx, &d, x, w, pw, b, NULL, y, NULL);
      double t1 = now();
      if (blas) old_conv(&d, x, w, b, y, col);
      tb[r] = now() - t1;
      ts[r] = t1 - t0;
    }
    qsort(ts, (size_t)reps, sizeof(double), cmp_d);
    qsort(tb, (size_t)reps, sizeof(double), cmp_d);
    double s = ts[reps / 2], bl = tb[reps / 2];
    double flop = 2.0 * (double)batch * (double)L->cout * (double)(oh * ow) * (double)(L->cin * L->k * L->k);
    printf("%-11s %5lld %4lld %4lld %5lld %2lld %1d %-26s %9.3f %8.1f %9.3f %8.1f %6.2f\n", L->model,
           (long long)L->cin, (long long)L->h, (long long)L->k, (long long)L->cout, (long long)L->s, L->count,
           snt_k_conv_kernel(ctx, &d), 1e3 * s, flop / s * 1e-9, 1e3 * bl, flop / bl * 1e-9, bl / s);
    tot_s += L->count * s;
    tot_b += L->count * bl;
    free(x), free(w), free(b), free(y), free(col), free(pw);
  }
  printf("total (layers x count): sinter %.2f ms, blas %.2f ms, ratio %.2f\n", 1e3 * tot_s, 1e3 * tot_b, tot_b / tot_s);
  snt_k_ctx_destroy(ctx);
  free(flush);
  return 0;
}
