/* EXE bench --profile: per-node times of the bench's runs (the generated run writes a timestamp
 * after each node while profiling is on), printed against the machine's FMA peak. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/driver/profile.h"

int snt_rt_prof_start(snt_rt_prof *p, snt_rt_model *m) {
  const snt_model_info *info = m->info;
  memset(p, 0, sizeof *p);
  if (!info->set_profile || !info->nodes) {
    fprintf(stderr, "%s bench: --profile: this executable has no profiling hooks (compile it again with this sinter)\n",
            info->name);
    return SNT_RT_EXIT_USER;
  }
  p->n_nodes = info->n_nodes;
  p->stamps = snt_rt_alloc(info->name, sizeof(double) * (size_t)m->n_copies * ((size_t)p->n_nodes + 1), "the profile");
  double *sums = p->stamps ? calloc((size_t)m->n_copies * (size_t)p->n_nodes + 1, sizeof(double)) : NULL;
  if (!sums) {
    if (p->stamps) fprintf(stderr, "%s: out of memory for the profile\n", info->name);
    free(p->stamps);
    p->stamps = NULL;
    return SNT_RT_EXIT_INTERNAL;
  }
  for (int k = 0; k < m->n_copies; k++) info->set_profile(m->inst[k], p->stamps + (size_t)k * ((size_t)p->n_nodes + 1));
  m->prof_stamps = p->stamps, m->prof_sums = sums, m->prof_nodes = p->n_nodes;
  return 0;
}

void snt_rt_prof_stop(snt_rt_prof *p, snt_rt_model *m) {
  for (int k = 0; p->stamps && k < m->n_copies; k++) m->info->set_profile(m->inst[k], NULL);
  free(m->prof_sums);
  m->prof_stamps = m->prof_sums = NULL;
  free(p->stamps);
  free(p->times);
  memset(p, 0, sizeof *p);
}

/* Node i's time in the run just done: the slices' times over the threads that ran them side by side. */
int snt_rt_prof_record(snt_rt_prof *p, const snt_rt_model *m) {
  if (p->runs == p->cap) {
    int cap = p->cap ? 2 * p->cap : 64;
    double *t = realloc(p->times, sizeof(double) * (size_t)cap * ((size_t)p->n_nodes + 1));
    if (!t) {
      fprintf(stderr, "%s bench: out of memory for the profile of %d runs\n", m->info->name, cap);
      return SNT_RT_EXIT_INTERNAL;
    }
    p->times = t;
    p->cap = cap;
  }
  double *row = p->times + (size_t)p->runs * ((size_t)p->n_nodes + 1);
  int workers = m->n_inst > 1 && m->workers > 0 ? m->workers : 1;
  for (int i = 0; i < p->n_nodes; i++) {
    double sum = 0;
    for (int k = 0; k < m->n_copies; k++) sum += m->prof_sums[(size_t)k * (size_t)p->n_nodes + (size_t)i];
    row[i] = sum / workers;
  }
  p->runs++;
  return 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The median of node i over the recorded runs (col is scratch of p->runs doubles). */
static double node_median(const snt_rt_prof *p, int i, double *col) {
  for (int r = 0; r < p->runs; r++) col[r] = p->times[(size_t)r * ((size_t)p->n_nodes + 1) + (size_t)i];
  qsort(col, (size_t)p->runs, sizeof *col, cmp_double);
  return p->runs ? col[p->runs / 2] : 0;
}

/* Control bytes escaped: names are untrusted and may hold any byte. */
void snt_rt_fprint_name(FILE *f, const char *s, int width) {
  int w = 0;
  for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
    if (w >= 200) {
      w += fprintf(f, "...");
      break;
    }
    if (*c < 0x20 || *c == 0x7f) w += fprintf(f, "\\x%02x", *c);
    else if (*c == '\\') w += fprintf(f, "\\\\");
    else fputc(*c, f), w++;
  }
  for (; w < width; w++) fputc(' ', f);
}

void snt_rt_print_name(const char *s, int width) { snt_rt_fprint_name(stdout, s, width); }

static void rate(char *gf, char *pct, size_t size, double flops, double seconds, double peak) {
  snprintf(gf, size, "-");
  snprintf(pct, size, "-");
  if (flops <= 0 || seconds <= 0) return;
  double g = flops / seconds * 1e-9;
  snprintf(gf, size, "%.1f", g);
  if (peak > 0) snprintf(pct, size, "%.1f%%", 100.0 * g / peak);
}

int snt_rt_prof_print(const snt_rt_prof *p, const snt_rt_model *m, int64_t batch, double run_median, const snt_peak *peak) {
  const snt_model_info *info = m->info;
  double *col = snt_rt_alloc(info->name, sizeof(double) * ((size_t)p->runs + 1), "the profile");
  if (!col) return SNT_RT_EXIT_INTERNAL;
  int width = 4;
  for (int i = 0; i < p->n_nodes; i++) {
    int len = (int)strlen(info->nodes[i].name ? info->nodes[i].name : "");
    if (len > width) width = len;
  }
  if (width > 40) width = 40;
  printf("\nper node: median of %d runs, batch %lld; GFLOP/s from the FLOPs `summary` counts (conv, dense, Gemm)\n",
         p->runs, (long long)batch);
  printf("%4s  %-*s  %-16s %10s %9s %7s  %s\n", "#", width, "node", "op", "ms", "GFLOP/s", "% peak", "kernel");
  double sum = 0, flops = 0;
  for (int i = 0; i < p->n_nodes; i++) {
    const snt_model_node *n = &info->nodes[i];
    double t = node_median(p, i, col), f = n->flops * (double)batch;
    const char *kernel = info->kernel ? info->kernel(m->inst[0], i) : NULL;
    char gf[32], pct[32];
    rate(gf, pct, sizeof gf, f, t, peak->gflops);
    printf("%4d  ", i + 1);
    snt_rt_print_name(n->name, width);
    printf("  %-16s %10.3f %9s %7s  %s\n", n->op, t * 1e3, gf, pct, kernel ? kernel : n->op);
    sum += t;
    flops += f;
  }
  char gf[32], pct[32];
  rate(gf, pct, sizeof gf, flops, run_median, peak->gflops);
  printf("total: nodes %.3f ms, run %.3f ms (median), %.6g GFLOP per run, %s GFLOP/s, %s of peak\n", sum * 1e3,
         run_median * 1e3, flops * 1e-9, gf, pct);
  printf("FMA peak: %.1f GFLOP/s on %d thread%s (%s)\n", peak->gflops, peak->threads, peak->threads == 1 ? "" : "s",
         peak->isa ? peak->isa : "not measured");
  free(col);
  return 0;
}
