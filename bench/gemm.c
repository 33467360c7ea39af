/* bench_gemm: sinter's GEMM core against OpenBLAS (cblas_sgemm) on square and conv-like shapes,
 * with the FMA peak measured in the same run (16 independent vfmadd231ps chains per thread:
 * zmm with AVX-512, ymm with AVX2). Runs are interleaved (sinter, OpenBLAS, sinter, ...) and
 * the medians printed, since this machine is shared and noisy.
 *   build/bench_gemm [--threads T] [--reps R] [--cpu-time] [--shape M,N,K[,FLAGS]]...
 *   FLAGS: t = B stored [n][k] (a dense layer's weights), p = A packed once beforehand (sinter only)   (default: 1 then 2 threads, 5 reps)
 * Columns: the peak probed just before each run, sinter and OpenBLAS GFLOP/s with their share
 * of that peak, and sinter / OpenBLAS; all medians over the reps. */
#include <cblas.h>
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/kernels/gemm_core.h"

/* --cpu-time: process CPU seconds instead of wall time, to compare kernels on a machine others
 * are using (only meaningful with one thread: OpenBLAS's idle threads spin). */
static clockid_t g_clock = CLOCK_MONOTONIC;

static double now(void) {
  struct timespec ts;
  clock_gettime(g_clock, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- the FMA peak -------------------------------------------------------------------------- */

enum { PEAK_ITERS = 2000000 }; /* 32M FMAs per thread: ~15 ms at 2 per cycle */

typedef struct peak_job {
  int avx512;
} peak_job;

/* Each chain is acc = acc * acc + acc on zeros (no denormals): 16 independent dependency
 * chains, as many in flight as the FMA pipes and their latency need. */
__attribute__((target("avx512f"))) static void chains512(long iters) {
  __asm__ volatile(
      "vpxord %%zmm0, %%zmm0, %%zmm0\n\t"
      "vmovaps %%zmm0, %%zmm1\n\t"
      "vmovaps %%zmm0, %%zmm2\n\t"
      "vmovaps %%zmm0, %%zmm3\n\t"
      "vmovaps %%zmm0, %%zmm4\n\t"
      "vmovaps %%zmm0, %%zmm5\n\t"
      "vmovaps %%zmm0, %%zmm6\n\t"
      "vmovaps %%zmm0, %%zmm7\n\t"
      "vmovaps %%zmm0, %%zmm8\n\t"
      "vmovaps %%zmm0, %%zmm9\n\t"
      "vmovaps %%zmm0, %%zmm10\n\t"
      "vmovaps %%zmm0, %%zmm11\n\t"
      "vmovaps %%zmm0, %%zmm12\n\t"
      "vmovaps %%zmm0, %%zmm13\n\t"
      "vmovaps %%zmm0, %%zmm14\n\t"
      "vmovaps %%zmm0, %%zmm15\n\t"
      "1:\n\t"
      "vfmadd231ps %%zmm0, %%zmm0, %%zmm0\n\t"
      "vfmadd231ps %%zmm1, %%zmm1, %%zmm1\n\t"
      "vfmadd231ps %%zmm2, %%zmm2, %%zmm2\n\t"
      "vfmadd231ps %%zmm3, %%zmm3, %%zmm3\n\t"
      "vfmadd231ps %%zmm4, %%zmm4, %%zmm4\n\t"
      "vfmadd231ps %%zmm5, %%zmm5, %%zmm5\n\t"
      "vfmadd231ps %%zmm6, %%zmm6, %%zmm6\n\t"
      "vfmadd231ps %%zmm7, %%zmm7, %%zmm7\n\t"
      "vfmadd231ps %%zmm8, %%zmm8, %%zmm8\n\t"
      "vfmadd231ps %%zmm9, %%zmm9, %%zmm9\n\t"
      "vfmadd231ps %%zmm10, %%zmm10, %%zmm10\n\t"
      "vfmadd231ps %%zmm11, %%zmm11, %%zmm11\n\t"
      "vfmadd231ps %%zmm12, %%zmm12, %%zmm12\n\t"
      "vfmadd231ps %%zmm13, %%zmm13, %%zmm13\n\t"
      "vfmadd231ps %%zmm14, %%zmm14, %%zmm14\n\t"
      "vfmadd231ps %%zmm15, %%zmm15, %%zmm15\n\t"
      "dec %0\n\t"
      "jnz 1b\n\t"
      : "+r"(iters)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc");
}

__attribute__((target("avx2,fma"))) static void chains256(long iters) {
  __asm__ volatile(
      "vpxor %%ymm0, %%ymm0, %%ymm0\n\t"
      "vmovaps %%ymm0, %%ymm1\n\t"
      "vmovaps %%ymm0, %%ymm2\n\t"
      "vmovaps %%ymm0, %%ymm3\n\t"
      "vmovaps %%ymm0, %%ymm4\n\t"
      "vmovaps %%ymm0, %%ymm5\n\t"
      "vmovaps %%ymm0, %%ymm6\n\t"
      "vmovaps %%ymm0, %%ymm7\n\t"
      "vmovaps %%ymm0, %%ymm8\n\t"
      "vmovaps %%ymm0, %%ymm9\n\t"
      "vmovaps %%ymm0, %%ymm10\n\t"
      "vmovaps %%ymm0, %%ymm11\n\t"
      "vmovaps %%ymm0, %%ymm12\n\t"
      "vmovaps %%ymm0, %%ymm13\n\t"
      "vmovaps %%ymm0, %%ymm14\n\t"
      "vmovaps %%ymm0, %%ymm15\n\t"
      "1:\n\t"
      "vfmadd231ps %%ymm0, %%ymm0, %%ymm0\n\t"
      "vfmadd231ps %%ymm1, %%ymm1, %%ymm1\n\t"
      "vfmadd231ps %%ymm2, %%ymm2, %%ymm2\n\t"
      "vfmadd231ps %%ymm3, %%ymm3, %%ymm3\n\t"
      "vfmadd231ps %%ymm4, %%ymm4, %%ymm4\n\t"
      "vfmadd231ps %%ymm5, %%ymm5, %%ymm5\n\t"
      "vfmadd231ps %%ymm6, %%ymm6, %%ymm6\n\t"
      "vfmadd231ps %%ymm7, %%ymm7, %%ymm7\n\t"
      "vfmadd231ps %%ymm8, %%ymm8, %%ymm8\n\t"
      "vfmadd231ps %%ymm9, %%ymm9, %%ymm9\n\t"
      "vfmadd231ps %%ymm10, %%ymm10, %%ymm10\n\t"
      "vfmadd231ps %%ymm11, %%ymm11, %%ymm11\n\t"
      "vfmadd231ps %%ymm12, %%ymm12, %%ymm12\n\t"
      "vfmadd231ps %%ymm13, %%ymm13, %%ymm13\n\t"
      "vfmadd231ps %%ymm14, %%ymm14, %%ymm14\n\t"
      "vfmadd231ps %%ymm15, %%ymm15, %%ymm15\n\t"
      "dec %0\n\t"
      "jnz 1b\n\t"
      : "+r"(iters)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc");
}

static void peak_thread(void *arg, int t, int threads) {
  (void)threads;
  peak_job *j = arg;
  (void)t;
  if (j->avx512) chains512(PEAK_ITERS);
  else chains256(PEAK_ITERS);
}

/* GFLOP/s of the team running the chains at once (best of 3 back-to-back probes). */
static double fma_peak(snt_k_ctx *ctx, int avx512) {
  peak_job j = {.avx512 = avx512};
  double best = 0;
  for (int r = 0; r < 3; r++) {
    double t0 = now();
    snt_k_ctx_parallel(ctx, peak_thread, &j);
    double dt = now() - t0;
    double flops = (double)snt_k_ctx_threads(ctx) * PEAK_ITERS * 16.0 * (avx512 ? 16 : 8) * 2.0;
    if (flops / dt > best) best = flops / dt;
  }
  return best * 1e-9;
}

/* ---- GEMM timings -------------------------------------------------------------------------- */

typedef struct shape {
  int64_t m, n, k;
  int trans_b;  /* B stored [n][k], as the weights of a dense layer */
  int packed_a; /* A packed once before the runs (weights packed at load) */
} shape;

static float *rand_buf(int64_t n) {
  float *p = aligned_alloc(64, (size_t)((n * 4 + 63) / 64 * 64));
  if (!p) exit(2);
  for (int64_t i = 0; i < n; i++) p[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
  return p;
}

/* Seconds per call: calls repeated until 0.15 s have passed. */
static double time_sinter(snt_k_ctx *ctx, const snt_k_gemm_call *g) {
  int calls = 0;
  double t0 = now(), t;
  do {
    if (snt_k_gemm_run(ctx, g) != SNT_OK) exit(3);
    calls++;
  } while ((t = now() - t0) < 0.15);
  return t / calls;
}

static double time_blas(const shape *s, const float *a, const float *b, float *c) {
  int calls = 0;
  double t0 = now(), t;
  do {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, s->trans_b ? CblasTrans : CblasNoTrans, (int)s->m, (int)s->n, (int)s->k,
                1.0f, a, (int)s->k, b, s->trans_b ? (int)s->k : (int)s->n, 0.0f, c, (int)s->n);
    calls++;
  } while ((t = now() - t0) < 0.15);
  return t / calls;
}

/* Interleaved: peak probe, sinter, OpenBLAS, reps times; the medians of each. */
static void bench_shape(snt_k_ctx *ctx, const shape *s, int reps, int wide, double *peaks, int *n_peaks) {
  float *a = rand_buf(s->m * s->k), *b = rand_buf(s->k * s->n), *c = rand_buf(s->m * s->n);
  snt_k_gemm_call g = {.m = s->m, .n = s->n, .k = s->k, .a = a, .lda = s->k, .b = b, .ldb = s->trans_b ? s->k : s->n,
                       .trans_b = s->trans_b, .c = c, .ldc = s->n, .epi = {.alpha = 1.0f}};
  float *packed = NULL;
  if (s->packed_a) {
    snt_k_isa isa = snt_k_ctx_isa(ctx);
    packed = aligned_alloc(64, (snt_k_gemm_packed_a_bytes(isa, s->m, s->k) + 63) / 64 * 64);
    if (!packed) exit(2);
    snt_k_gemm_pack_a(isa, a, s->k, 0, s->m, s->k, packed);
    g.packed_a = packed;
  }
  double flops = 2.0 * (double)s->m * (double)s->n * (double)s->k, ts[64], tb[64], tp[64];
  time_sinter(ctx, &g); /* warm: buffers grown, pages touched */
  time_blas(s, a, b, c);
  for (int r = 0; r < reps; r++) {
    tp[r] = peaks[(*n_peaks)++] = fma_peak(ctx, wide);
    ts[r] = flops / time_sinter(ctx, &g) * 1e-9;
    tb[r] = flops / time_blas(s, a, b, c) * 1e-9;
  }
  double ms = median(ts, reps), mb = median(tb, reps), mp = median(tp, reps);
  printf("%6lld%s %6lld%s %6lld %3d %7.1f %9.1f %5.0f%% %9.1f %5.0f%% %6.2f\n", (long long)s->m, s->packed_a ? "p" : " ",
         (long long)s->n, s->trans_b ? "t" : " ", (long long)s->k, snt_k_ctx_threads(ctx), mp, ms, 100.0 * ms / mp, mb, 100.0 * mb / mp, ms / mb);
  fflush(stdout);
  free(a), free(b), free(c), free(packed);
}

int main(int argc, char **argv) {
  int reps = 5, thread_list[2] = {1, 2}, n_threads = 2;
  shape shapes[32];
  int n_shapes = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      thread_list[0] = atoi(argv[++i]);
      n_threads = 1;
    } else if (strcmp(argv[i], "--cpu-time") == 0) {
      g_clock = CLOCK_PROCESS_CPUTIME_ID;
    } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
      reps = atoi(argv[++i]);
      if (reps < 1 || reps > 64) reps = 5;
    } else if (strcmp(argv[i], "--shape") == 0 && i + 1 < argc && n_shapes < 32) {
      long long m, n, k;
      char flags[8] = "";
      int got = sscanf(argv[++i], "%lld,%lld,%lld,%7s", &m, &n, &k, flags);
      if (got < 3 || m < 1 || n < 1 || k < 1 || strspn(flags, "tp") != strlen(flags)) {
        fprintf(stderr, "bench_gemm: --shape wants M,N,K[,FLAGS] (t: B transposed, p: A packed), got '%s'\n", argv[i]);
        return 1;
      }
      shapes[n_shapes++] = (shape){m, n, k, strchr(flags, 't') != NULL, strchr(flags, 'p') != NULL};
    } else {
      fprintf(stderr, "bench_gemm: unknown argument '%s'\n", argv[i]);
      return 1;
    }
  }
  if (n_shapes == 0) {
    const shape dflt[] = {{1024, 1024, 1024, 0, 0}, {2048, 2048, 2048, 0, 0}, {64, 12544, 576, 0, 0},
                          {128, 3136, 1152, 0, 0},   {256, 3136, 2304, 0, 0},   {512, 3136, 4608, 0, 0},
                          {2048, 49, 512, 0, 0},     {2048, 49, 512, 0, 1},     {512, 784, 4608, 0, 0},
                          {1, 2048, 2048, 0, 0},     {1, 1000, 2048, 1, 0},     {1, 16, 100352, 1, 0},
                          {32, 1000, 2048, 1, 0}};
    n_shapes = (int)(sizeof dflt / sizeof *dflt);
    memcpy(shapes, dflt, sizeof dflt);
  }
  snt_k_ctx *ctx = snt_k_ctx_create(2);
  if (!ctx) return 2;
  snt_k_isa isa = snt_k_ctx_isa(ctx);
  int wide = isa == SNT_K_ISA_AVX512;
  printf("isa %s, OPENBLAS_CORETYPE=%s\n", snt_k_isa_name(isa), getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "");
  for (int ti = 0; ti < n_threads; ti++) {
    int threads = thread_list[ti];
    snt_k_ctx_set_threads(ctx, threads);
    openblas_set_num_threads(threads);
    double peaks[32 * 64];
    int n_peaks = 0;
    printf("\nthreads %d (GFLOP/s; peak: 16 %s FMA chains per thread, probed before each run)\n", threads,
           wide ? "zmm" : "ymm");
    printf("%6s  %6s  %6s %3s %7s %9s %6s %9s %6s %6s\n", "m", "n", "k", "thr", "peak", "sinter", "%peak", "openblas",
           "%peak", "ratio");
    for (int s = 0; s < n_shapes; s++) bench_shape(ctx, &shapes[s], reps, wide, peaks, &n_peaks);
    printf("FMA peak, %d threads: median %.1f GFLOP/s over %d probes\n", threads, median(peaks, n_peaks), n_peaks);
  }
  snt_k_ctx_destroy(ctx);
  return 0;
}
