/* EXE bench: median latency and images per second of the compiled batch; with --profile, the
 * time of each node against the machine's FMA peak. */
#include <cblas.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/driver/profile.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int snt_rt_cmd_bench(const snt_model_info *info, snt_rt_common *c, int argc, char **argv) {
  int64_t batch = 0, iters = 0;
  double seconds = 3.0;
  bool profile = false;
  const snt_opt own[] = {
      {.name = "batch", 0, SNT_OPT_INT, &batch, "N", "images per run (at most the compiled batch)", .imin = 1,
       .imax = INT64_C(1) << 40},
      {.name = "iters", 0, SNT_OPT_INT, &iters, "K", "runs to time", .imin = 1, .imax = 10000},
      {.name = "seconds", 0, SNT_OPT_DOUBLE, &seconds, "S", "time to run for", .dmin = 0.01, .dmax = 86400},
      {.name = "profile", 0, SNT_OPT_FLAG, &profile, NULL, "time each node, against the machine's FMA peak"},
      {NULL}};
  int n_pos = 0;
  int rc = snt_rt_parse(info->name, "bench", own, c, argc, argv, NULL, 0, &n_pos);
  if (rc < 0) return snt_rt_usage(stdout, info);
  if (rc) return rc;
  snt_rt_model m;
  rc = snt_rt_open(info, c, &m);
  if (rc) return rc;
  if (!batch) batch = m.batch;
  if (batch > m.batch) {
    fprintf(stderr, "%s bench: --batch: %lld is out of range (1 to %lld, the batch it was compiled for: sinter compile --batch)\n",
            info->name, (long long)batch, (long long)m.batch);
    snt_rt_close(&m);
    return SNT_RT_EXIT_USER;
  }
  const void **ins = snt_rt_alloc(info->name, sizeof(void *) * ((size_t)info->n_inputs + 1), "the inputs");
  void **outs = snt_rt_alloc(info->name, sizeof(void *) * ((size_t)info->n_outputs + 1), "the outputs");
  bool short_of_memory = !ins || !outs;
  for (int i = 0; ins && i < info->n_inputs && !short_of_memory; i++) {
    size_t bytes = snt_rt_io_bytes(&m.in[i]);
    char what[300];
    snprintf(what, sizeof what, "input '%s'", m.in[i].name);
    unsigned char *p = snt_rt_alloc(info->name, bytes + 1, what);
    short_of_memory |= !p;
    /* Pixel-like values: zeros would let denormal-free shortcuts flatter the timing. */
    if (p && info->inputs[i].dtype == SNT_F32)
      for (size_t k = 0; k < bytes / 4; k++) ((float *)p)[k] = (float)((k * 2654435761u) % 256);
    else if (p) memset(p, 1, bytes);
    ins[i] = p;
  }
  for (int i = 0; outs && i < info->n_outputs && !short_of_memory; i++) {
    char what[300];
    snprintf(what, sizeof what, "output '%s'", m.out[i].name);
    short_of_memory |= !(outs[i] = snt_rt_alloc(info->name, snt_rt_io_bytes(&m.out[i]) + 1, what));
  }
  double *t = short_of_memory ? NULL : snt_rt_alloc(info->name, sizeof(double) * 10000, "the timings");
  int n = 0;
  if (!t) rc = SNT_RT_EXIT_INTERNAL;
  int threads = m.n_inst > 1 ? m.workers : c->threads ? c->threads : openblas_get_num_procs();
  snt_rt_prof prof = {0};
  snt_peak peak = {0};
  /* The peak first, in the same run: the machine may be busier or quieter another time. */
  if (!rc && profile && snt_peak_measure(threads, 0, &peak) != SNT_OK)
    fprintf(stderr, "%s bench: warning: the FMA peak could not be measured\n", info->name);
  if (!rc && profile) rc = snt_rt_prof_start(&prof, &m);
  for (int w = 0; w < 2 && !rc; w++) rc = snt_rt_run_n(&m, batch, ins, outs) ? SNT_RT_EXIT_INTERNAL : 0; /* warm-up */
  double start = now();
  while (!rc && n < 10000 && (iters ? n < iters : (n < 5 || now() - start < seconds))) {
    double t0 = now();
    if (snt_rt_run_n(&m, batch, ins, outs) != 0) rc = SNT_RT_EXIT_INTERNAL;
    t[n++] = now() - t0;
    if (!rc && profile) rc = snt_rt_prof_record(&prof, &m);
  }
  if (!rc) {
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    double med = t[n / 2];
    printf("%s: batch %lld (compiled %lld), %d thread%s, %d runs: median %.3f ms, %.1f images/s\n", info->name, (long long)batch,
           (long long)m.batch, threads, (m.n_inst > 1 ? m.workers : 2) == 1 ? "" : "s", n, med * 1e3, (double)batch / med);
    if (profile) rc = snt_rt_prof_print(&prof, &m, batch, med, &peak);
  }
  snt_rt_prof_stop(&prof, &m);
  for (int i = 0; ins && i < info->n_inputs; i++) free((void *)ins[i]);
  for (int i = 0; outs && i < info->n_outputs; i++) free(outs[i]);
  free(ins);
  free(outs);
  free(t);
  snt_rt_close(&m);
  return rc;
}
