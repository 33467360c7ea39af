/* EXE bench: median latency and images per second of the compiled batch. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/driver/driver.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int snt_rt_cmd_bench(const snt_model_info *info, const snt_rt_common *c, int argc, char **argv) {
  long batch = 0, iters = 0;
  double seconds = 3.0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) batch = atol(argv[++i]);
    else if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc) iters = atol(argv[++i]);
    else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) seconds = atof(argv[++i]);
    else {
      fprintf(stderr, "%s bench: unknown argument '%s' (--batch N, --iters K, --seconds S)\n", info->name, argv[i]);
      return SNT_RT_EXIT_USER;
    }
  }
  snt_rt_model m;
  int rc = snt_rt_open(info, c, &m);
  if (rc) return rc;
  if (!batch) batch = (long)m.batch;
  if (batch < 1 || batch > m.batch) {
    fprintf(stderr, "%s bench: --batch must be 1 to %lld, the batch it was compiled for (sinter compile --batch)\n",
            info->name, (long long)m.batch);
    snt_rt_close(&m);
    return SNT_RT_EXIT_USER;
  }
  const void **ins = calloc((size_t)info->n_inputs + 1, sizeof(void *));
  void **outs = calloc((size_t)info->n_outputs + 1, sizeof(void *));
  for (int i = 0; ins && i < info->n_inputs; i++) {
    size_t bytes = snt_rt_io_bytes(&m.in[i]);
    unsigned char *p = malloc(bytes + 1);
    /* Pixel-like values: zeros would let denormal-free shortcuts flatter the timing. */
    if (p && info->inputs[i].dtype == SNT_F32)
      for (size_t k = 0; k < bytes / 4; k++) ((float *)p)[k] = (float)((k * 2654435761u) % 256);
    else if (p) memset(p, 1, bytes);
    ins[i] = p;
  }
  for (int i = 0; outs && i < info->n_outputs; i++) outs[i] = malloc(snt_rt_io_bytes(&m.out[i]) + 1);
  double *t = malloc(sizeof(double) * 10000);
  int n = 0;
  if (!ins || !outs || !t) rc = SNT_RT_EXIT_INTERNAL;
  for (int w = 0; w < 2 && !rc; w++) rc = snt_rt_run(&m, ins, outs) ? SNT_RT_EXIT_INTERNAL : 0; /* warm-up */
  double start = now();
  while (!rc && n < 10000 && (iters ? n < iters : (n < 5 || now() - start < seconds))) {
    double t0 = now();
    if (snt_rt_run(&m, ins, outs) != 0) rc = SNT_RT_EXIT_INTERNAL;
    t[n++] = now() - t0;
  }
  if (!rc) {
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    double med = t[n / 2];
    printf("%s: batch %ld (compiled %lld), %d thread%s, %d runs: median %.3f ms, %.1f images/s\n", info->name, batch,
           (long long)m.batch, m.n_inst > 1 ? m.workers : c->threads ? c->threads : openblas_get_num_procs(),
           (m.n_inst > 1 ? m.workers : 2) == 1 ? "" : "s", n, med * 1e3, (double)batch / med);
  }
  for (int i = 0; ins && i < info->n_inputs; i++) free((void *)ins[i]);
  for (int i = 0; outs && i < info->n_outputs; i++) free(outs[i]);
  free(ins);
  free(outs);
  free(t);
  snt_rt_close(&m);
  return rc;
}
