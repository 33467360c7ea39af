/* EXE train --profile: where a training step's time goes, node by node (forward, gradients,
 * in the step model's order), from the timestamps the generated step writes after each node.
 * The first step is left out: it packs weights and sizes scratch buffers once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/driver/profile.h"
#include "runtime/train/train_int.h"
#include "sinter/profile.h"

int snt_tr_prof_start(snt_tr_prof *p, const snt_model_info *m, void *inst) {
  memset(p, 0, sizeof *p);
  if (!m->set_profile || !m->nodes || m->n_nodes <= 0) {
    fprintf(stderr, "%s train: --profile: this executable has no profiling hooks (compile it again with this sinter)\n",
            m->name);
    return SNT_EXIT_USER;
  }
  p->n = m->n_nodes;
  p->stamps = calloc((size_t)p->n + 1, sizeof(double));
  p->sums = calloc((size_t)p->n + 1, sizeof(double));
  if (!p->stamps || !p->sums) {
    fprintf(stderr, "%s train: out of memory for the profile\n", m->name);
    snt_tr_prof_stop(p, m, inst);
    return SNT_EXIT_INTERNAL;
  }
  m->set_profile(inst, p->stamps);
  return 0;
}

void snt_tr_prof_step(snt_tr_prof *p, int samples) {
  if (!p || !p->stamps) return;
  if (p->warm++ == 0) return;
  for (int i = 0; i < p->n; i++) p->sums[i] += p->stamps[i + 1] - p->stamps[i];
  p->steps++;
  p->samples += samples;
}

void snt_tr_prof_stop(snt_tr_prof *p, const snt_model_info *m, void *inst) {
  if (p->stamps && inst) m->set_profile(inst, NULL);
  free(p->stamps);
  free(p->sums);
  memset(p, 0, sizeof *p);
}

void snt_tr_prof_print(const snt_tr_prof *p, const snt_model_info *m, void *inst, int threads) {
  if (!p->stamps) return;
  if (p->steps == 0) {
    printf("\nprofile: no step after the first (it is left out: weights are packed, buffers sized)\n");
    return;
  }
  snt_peak peak = {0};
  if (snt_peak_measure(threads, 0, &peak) != SNT_OK) peak.gflops = 0;
  double per = (double)p->samples / (double)p->steps, total = 0, flops = 0;
  int width = 4;
  for (int i = 0; i < p->n; i++) {
    int len = (int)strlen(m->nodes[i].name ? m->nodes[i].name : "");
    width = len > width ? len : width;
  }
  width = width > 40 ? 40 : width;
  printf("\nper node of the training step: mean of %lld steps (the first left out), %.1f samples per step;\n"
         "GFLOP/s from the forward FLOPs `summary` counts (each gradient of a conv or dense layer counts as its forward)\n",
         (long long)p->steps, per);
  printf("%4s  %-*s  %-20s %10s %9s %7s  %s\n", "#", width, "node", "op", "ms", "GFLOP/s", "% peak", "kernel");
  for (int i = 0; i < p->n; i++) {
    const snt_model_node *n = &m->nodes[i];
    double t = p->sums[i] / (double)p->steps, f = n->flops * per;
    const char *kernel = m->kernel ? m->kernel(inst, i) : NULL;
    printf("%4d  ", i + 1);
    snt_rt_print_name(n->name, width);
    if (f > 0 && t > 0) {
      double g = f / t * 1e-9;
      char pct[32] = "-";
      if (peak.gflops > 0) snprintf(pct, sizeof pct, "%.1f%%", 100.0 * g / peak.gflops);
      printf("  %-20s %10.3f %9.1f %7s  %s\n", n->op, t * 1e3, g, pct, kernel ? kernel : n->op);
    } else {
      printf("  %-20s %10.3f %9s %7s  %s\n", n->op, t * 1e3, "-", "-", kernel ? kernel : n->op);
    }
    total += t;
    flops += f;
  }
  printf("total: nodes %.3f ms per step, %.6g GFLOP counted, %.1f GFLOP/s", total * 1e3, flops * 1e-9,
         total > 0 ? flops / total * 1e-9 : 0.0);
  if (peak.gflops > 0) printf(", %.1f%% of peak", 100.0 * flops / total * 1e-9 / peak.gflops);
  printf("\nFMA peak: %.1f GFLOP/s on %d thread%s (%s)\n", peak.gflops, peak.threads, peak.threads == 1 ? "" : "s",
         peak.isa ? peak.isa : "not measured");
}
