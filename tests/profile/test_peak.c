/* The FMA peak probe (runtime/kernels/peak.c): a positive rate below what any CPU can do (64
 * FP32 FLOPs per cycle per core, two 512-bit FMA units, at 8 GHz), on the threads asked for,
 * with the instruction set the CPU has. No timing beyond that sanity bound. */
#include <stdio.h>
#include <string.h>

#include "sinter/profile.h"

static int check(int threads) {
  snt_peak p;
  if (snt_peak_measure(threads, 0.05, &p) != SNT_OK) {
    printf("FAIL snt_peak_measure(%d) failed\n", threads);
    return 1;
  }
  __builtin_cpu_init();
  const char *want = __builtin_cpu_supports("avx512f")                                   ? "avx512"
                     : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? "avx2"
                                                                                         : "c";
  double bound = 64.0 * 8.0 * threads;
  if (!(p.gflops > 0 && p.gflops < bound) || p.threads != threads || strcmp(p.isa, want) != 0) {
    printf("FAIL %d threads: %.1f GFLOP/s (want 0 to %.0f), %d threads, isa %s (want %s)\n", threads, p.gflops, bound,
           p.threads, p.isa, want);
    return 1;
  }
  printf("%d thread%s: %.1f GFLOP/s (%s)\n", threads, threads == 1 ? "" : "s", p.gflops, p.isa);
  return 0;
}

int main(void) {
  int bad = check(1) + check(2);
  /* Out-of-range arguments are clamped, not refused. */
  snt_peak p;
  bad += snt_peak_measure(0, -1, &p) != SNT_OK || p.threads != 1 || !(p.gflops > 0);
  if (!bad) printf("PASS\n");
  return bad != 0;
}
