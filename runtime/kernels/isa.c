/* The instruction set the kernels use: what the CPU has, capped by SINTER_ISA (so tests can
 * run every path on one machine). */
#include <stdlib.h>
#include <string.h>

#include "gemm_core.h"

static snt_k_isa cpu_isa(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return SNT_K_ISA_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return SNT_K_ISA_AVX2;
  return SNT_K_ISA_C;
}

snt_k_isa snt_k_isa_detect(void) {
  snt_k_isa isa = cpu_isa();
  const char *want = getenv("SINTER_ISA");
  snt_k_isa cap = isa;
  if (want && strcmp(want, "c") == 0) cap = SNT_K_ISA_C;
  else if (want && strcmp(want, "avx2") == 0) cap = SNT_K_ISA_AVX2;
  return cap < isa ? cap : isa;
}

const char *snt_k_isa_name(snt_k_isa isa) {
  switch (isa) {
    case SNT_K_ISA_AVX512: return "avx512";
    case SNT_K_ISA_AVX2: return "avx2";
    case SNT_K_ISA_C: break;
  }
  return "c";
}
