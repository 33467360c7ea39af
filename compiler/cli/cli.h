/* The sinter subcommands; each returns the process exit code (0, 1 user error, 2 internal). */
#ifndef SINTER_COMPILER_CLI_H
#define SINTER_COMPILER_CLI_H

#include <stdint.h>

#include "compiler/lower.h"
#include "sinter/exit.h"
#include "sinter/opts.h"

/* The --set NAME=VALUE options as parameter settings (names allocated; free them with
 * snt_cli_sets_free). Returns 0, or an exit code after printing why. */
int snt_cli_sets(const char *prog, const snt_opt_list *l, snt_param_set *out);
void snt_cli_sets_free(snt_param_set *sets, int n);

int snt_cmd_compile(int argc, char **argv);
int snt_cmd_export_onnx(int argc, char **argv);
int snt_cmd_run(int argc, char **argv);
int snt_cmd_ops(int argc, char **argv);
int snt_cmd_import(int argc, char **argv);
int snt_cmd_onnx_test(int argc, char **argv);
int snt_cmd_synth_data(int argc, char **argv);
int snt_cmd_info(int argc, char **argv);

/* Class names (g->labels, from --labels or the model) must name the classes of the one output
 * [batch, classes]: else an error saying so, `from` naming where the names came from. */
snt_status snt_cli_check_labels(const snt_graph *g, snt_diag *d, const char *from);
/* --softmax: a softmax over the classes after the one output of FLOAT logits [batch, classes],
 * the output keeping its name; nothing when the output already is a softmax's (*added false). */
snt_status snt_cli_append_softmax(snt_graph *g, snt_diag *d, bool *added);

/* --max-memory BYTES of compile and run (compile_cmd.c): 1 to 2^62; prints the error and
 * returns nonzero when the value is not accepted. */

#endif
