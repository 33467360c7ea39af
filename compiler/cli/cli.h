/* The sinter subcommands; each returns the process exit code (0, 1 user error, 2 internal). */
#ifndef SINTER_COMPILER_CLI_H
#define SINTER_COMPILER_CLI_H

#include <stdint.h>

enum { SNT_EXIT_OK = 0, SNT_EXIT_USER = 1, SNT_EXIT_INTERNAL = 2 };

int snt_cmd_compile(int argc, char **argv);
int snt_cmd_export_onnx(int argc, char **argv);
int snt_cmd_run(int argc, char **argv);
int snt_cmd_ops(int argc, char **argv);
int snt_cmd_import(int argc, char **argv);
int snt_cmd_onnx_test(int argc, char **argv);
int snt_cmd_synth_data(int argc, char **argv);

/* --max-memory BYTES of compile and run (compile_cmd.c): 1 to 2^62; prints the error and
 * returns nonzero when the value is not accepted. */
int snt_parse_max_memory(const char *v, uint64_t *out);

#endif
