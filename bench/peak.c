/* bench_peak: the machine's FP32 FMA peak on 1 and 2 threads (or the thread counts given),
 * measured as `EXE bench --profile` does (include/sinter/profile.h).
 *   bench_peak [THREADS...] */
#include <stdio.h>
#include <stdlib.h>

#include "sinter/profile.h"

int main(int argc, char **argv) {
  int counts[64] = {1, 2}, n = 2;
  if (argc > 1) n = 0;
  for (int i = 1; i < argc && n < 64; i++) {
    char *end;
    long t = strtol(argv[i], &end, 10);
    if (*end || t < 1 || t > 256) {
      fprintf(stderr, "bench_peak: '%s' is not a thread count (1 to 256)\n", argv[i]);
      return 1;
    }
    counts[n++] = (int)t;
  }
  for (int i = 0; i < n; i++) {
    snt_peak p;
    if (snt_peak_measure(counts[i], 0, &p) != SNT_OK) {
      fprintf(stderr, "bench_peak: the FMA loop could not be timed on %d threads\n", counts[i]);
      return 2;
    }
    printf("FMA peak: %.1f GFLOP/s on %d thread%s (%s)\n", p.gflops, p.threads, p.threads == 1 ? "" : "s", p.isa);
  }
  return 0;
}
