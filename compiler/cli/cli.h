/* The sinter subcommands; each returns the process exit code (0, 1 user error, 2 internal). */
#ifndef SINTER_COMPILER_CLI_H
#define SINTER_COMPILER_CLI_H

enum { SNT_EXIT_OK = 0, SNT_EXIT_USER = 1, SNT_EXIT_INTERNAL = 2 };

int snt_cmd_compile(int argc, char **argv);
int snt_cmd_export_onnx(int argc, char **argv);
int snt_cmd_run(int argc, char **argv);
int snt_cmd_ops(int argc, char **argv);
int snt_cmd_import(int argc, char **argv);
int snt_cmd_onnx_test(int argc, char **argv);
int snt_cmd_synth_data(int argc, char **argv);

#endif
