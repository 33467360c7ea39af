/* The FP32 FMA peak of the machine: 16 independent vfmadd231ps chains per thread, operands in
 * registers, so the only limit is the FMA units. Written in inline assembly so that neither the
 * optimiser nor a -O0 sanitizer build changes the loop. */
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "gemm_core.h"
#include "sinter/profile.h"

enum { CHAINS = 16, REPS = 5, MAX_THREADS = 256 };

double snt_prof_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

const char *snt_k_gemm_kernel(const snt_k_ctx *ctx) {
  switch (snt_k_ctx_isa(ctx)) {
    case SNT_K_ISA_AVX512: return "gemm-avx512";
    case SNT_K_ISA_AVX2: return "gemm-avx2";
    case SNT_K_ISA_C: break;
  }
  return "gemm-c";
}

#define R16(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15)

/* zmm0..15 += zmm17 * zmm17 (1e-4 squared: below half an ulp of 1.0, so the values stay 1.0:
 * no denormals, no infinities, whatever the count). */
#define INIT_Z(i) "vmovaps %%zmm16, %%zmm" #i "\n\t"
#define FMA_Z(i) "vfmadd231ps %%zmm17, %%zmm17, %%zmm" #i "\n\t"
__attribute__((target("avx512f"))) static void chains_zmm(int64_t iters) {
  static const float one = 1.0f, tiny = 1e-4f;
  __asm__ volatile("vbroadcastss %[one], %%zmm16\n\t"
                   "vbroadcastss %[tiny], %%zmm17\n\t" R16(INIT_Z) "1:\n\t" R16(FMA_Z) "dec %[n]\n\t"
                   "jnz 1b\n\t"
                   : [n] "+r"(iters)
                   : [one] "m"(one), [tiny] "m"(tiny)
                   : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
                     "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "cc");
}

/* AVX2 has 16 ymm registers, all taken by the chains: ymm_i = ymm_i * c + ymm_i, with c (1e-9,
 * again below half an ulp) read from L1, which the load ports serve without slowing the FMAs. */
#define INIT_Y(i) "vbroadcastss %[one], %%ymm" #i "\n\t"
#define FMA_Y(i) "vfmadd231ps %[c], %%ymm" #i ", %%ymm" #i "\n\t"
__attribute__((target("avx2,fma"))) static void chains_ymm(int64_t iters) {
  static const float one = 1.0f;
  static const float c[8] __attribute__((aligned(32))) = {1e-9f, 1e-9f, 1e-9f, 1e-9f, 1e-9f, 1e-9f, 1e-9f, 1e-9f};
  __asm__ volatile(R16(INIT_Y) "1:\n\t" R16(FMA_Y) "dec %[n]\n\t"
                   "jnz 1b\n\t"
                   "vzeroupper\n\t"
                   : [n] "+r"(iters)
                   : [one] "m"(one), [c] "m"(c)
                   : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
                     "xmm12", "xmm13", "xmm14", "xmm15", "cc");
}

/* Scalar chains for other CPUs; the result goes to a volatile so they are not removed. */
static void chains_c(int64_t iters) {
  float acc[CHAINS];
  for (int i = 0; i < CHAINS; i++) acc[i] = 1.0f;
  volatile float c = 1e-9f;
  float cv = c;
  for (int64_t n = 0; n < iters; n++)
    for (int i = 0; i < CHAINS; i++) acc[i] = acc[i] * cv + acc[i];
  volatile float sink = 0;
  for (int i = 0; i < CHAINS; i++) sink += acc[i];
  (void)sink;
}

/* A barrier whose count may drop after the threads started (one that could not start). */
typedef struct probe {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int count, arrived;
  uint64_t generation;
  int64_t iters;
  int stop;
  snt_k_isa isa;
} probe;

static void barrier(probe *p) {
  pthread_mutex_lock(&p->mu);
  uint64_t gen = p->generation;
  if (++p->arrived >= p->count) {
    p->arrived = 0;
    p->generation++;
    pthread_cond_broadcast(&p->cv);
  } else {
    while (gen == p->generation) pthread_cond_wait(&p->cv, &p->mu);
  }
  pthread_mutex_unlock(&p->mu);
}

static void run_chains(snt_k_isa isa, int64_t iters) {
  if (isa == SNT_K_ISA_AVX512) chains_zmm(iters);
  else if (isa == SNT_K_ISA_AVX2) chains_ymm(iters);
  else chains_c(iters);
}

static void *member(void *arg) {
  probe *p = arg;
  for (;;) {
    barrier(p);
    pthread_mutex_lock(&p->mu);
    int stop = p->stop;
    int64_t iters = p->iters;
    pthread_mutex_unlock(&p->mu);
    if (stop) break;
    run_chains(p->isa, iters);
    barrier(p);
  }
  return NULL;
}

/* One repetition on every member (the caller is one): its wall time. */
static double repetition(probe *p, int64_t iters) {
  pthread_mutex_lock(&p->mu);
  p->iters = iters;
  pthread_mutex_unlock(&p->mu);
  barrier(p);
  double t0 = snt_prof_now();
  run_chains(p->isa, iters);
  barrier(p);
  return snt_prof_now() - t0;
}

static snt_k_isa machine_isa(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return SNT_K_ISA_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return SNT_K_ISA_AVX2;
  return SNT_K_ISA_C;
}

/* Calibrates the count (doubling until a repetition takes 5 ms), then times REPS repetitions
 * of about seconds / REPS each and keeps the fastest. */
static double measure(probe *p, double seconds) {
  int64_t iters = 1 << 12;
  double dt = repetition(p, iters);
  while (dt < 0.005 && iters < (INT64_C(1) << 40)) dt = repetition(p, iters *= 2);
  double want = seconds / REPS;
  if (dt > 0) iters = (int64_t)((double)iters * (want / dt)) + 1;
  double best = 0;
  for (int r = 0; r < REPS; r++) {
    dt = repetition(p, iters);
    if (dt > 0 && (best == 0 || dt < best)) best = dt;
  }
  double lanes = p->isa == SNT_K_ISA_AVX512 ? 16 : p->isa == SNT_K_ISA_AVX2 ? 8 : 1;
  return best > 0 ? (double)p->count * (double)iters * CHAINS * lanes * 2.0 / best * 1e-9 : 0;
}

snt_status snt_peak_measure(int threads, double seconds, snt_peak *out) {
  if (threads < 1) threads = 1;
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  if (!(seconds > 0)) seconds = 0.3;
  probe p = {.count = threads, .isa = machine_isa()};
  pthread_mutex_init(&p.mu, NULL);
  pthread_cond_init(&p.cv, NULL);
  pthread_t tid[MAX_THREADS];
  int started = 1;
  for (; started < threads; started++)
    if (pthread_create(&tid[started], NULL, member, &p) != 0) break;
  pthread_mutex_lock(&p.mu);
  p.count = started; /* the ones that did not start never arrive */
  pthread_mutex_unlock(&p.mu);
  double gflops = measure(&p, seconds);
  pthread_mutex_lock(&p.mu);
  p.stop = 1;
  pthread_mutex_unlock(&p.mu);
  barrier(&p);
  for (int t = 1; t < started; t++) pthread_join(tid[t], NULL);
  pthread_cond_destroy(&p.cv);
  pthread_mutex_destroy(&p.mu);
  *out = (snt_peak){.gflops = gflops, .threads = started, .isa = snt_k_isa_name(p.isa)};
  return gflops > 0 ? SNT_OK : SNT_ERR_INTERNAL;
}
