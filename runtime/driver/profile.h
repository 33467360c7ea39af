/* Internal: EXE bench --profile (runtime/driver/profile.c). */
#ifndef SINTER_RUNTIME_DRIVER_PROFILE_H
#define SINTER_RUNTIME_DRIVER_PROFILE_H

#include "runtime/driver/driver.h"
#include "sinter/profile.h"

typedef struct snt_rt_prof {
  int n_nodes;
  double *stamps; /* [instance][n_nodes + 1]: what the generated run writes */
  double *times;  /* [run][n_nodes + 1]: each node's seconds in each recorded run */
  int runs, cap;
} snt_rt_prof;

/* Turns profiling on in every instance; 0, or an exit code after saying why. */
int snt_rt_prof_start(snt_rt_prof *p, snt_rt_model *m);
/* Keeps the node times of the run just done; 0, or an exit code. */
int snt_rt_prof_record(snt_rt_prof *p, const snt_rt_model *m);
/* The per-node table, the total (run_median: the bench's median run) and the peak. */
int snt_rt_prof_print(const snt_rt_prof *p, const snt_rt_model *m, int64_t batch, double run_median, const snt_peak *peak);
/* A node name on one line, padded to width: control bytes as \xNN, a backslash doubled (names
 * are untrusted and may hold any byte); at most 200 bytes, then "...". */
void snt_rt_print_name(const char *s, int width);
/* Turns profiling off and frees p. */
void snt_rt_prof_stop(snt_rt_prof *p, snt_rt_model *m);

#endif
