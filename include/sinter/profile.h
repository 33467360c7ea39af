/* Measuring speed: the machine's FMA peak (what `EXE bench --profile`, bench/infer and
 * bench/train compare against) and the clock the profiled run reads. */
#ifndef SINTER_PROFILE_H
#define SINTER_PROFILE_H

#include "sinter/kernels.h"
#include "sinter/status.h"

typedef struct snt_peak {
  double gflops;   /* FP32 GFLOP/s of all threads together: the best repetition */
  int threads;     /* threads that ran (fewer than asked when the system would not start more) */
  const char *isa; /* "avx512" (zmm), "avx2" (ymm) or "c" (scalar loops) */
} snt_peak;

/* The FP32 FMA peak: each of `threads` threads runs 16 independent vfmadd231ps chains (zmm
 * with AVX-512F, ymm with AVX2+FMA: what the CPU has, whatever SINTER_ISA says) with no
 * memory traffic, for about `seconds` in all (0: 0.3 s); the best of 5 timed repetitions, so
 * a moment of interference from other processes does not lower it. */
snt_status snt_peak_measure(int threads, double seconds, snt_peak *out);

/* Seconds on a monotonic clock (the profiled run's timestamps). */
double snt_prof_now(void);

/* The kernel a Gemm or dense layer runs with on ctx: "gemm-<isa>". */
const char *snt_k_gemm_kernel(const snt_k_ctx *ctx);

#endif
