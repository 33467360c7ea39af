/* The exit codes of both programs, `sinter` and every executable it builds (docs/cli.md). */
#ifndef SINTER_EXIT_H
#define SINTER_EXIT_H

typedef enum snt_exit {
  SNT_EXIT_OK = 0,            /* success */
  SNT_EXIT_USER = 1,          /* a bad argument, file, model or image; the message says which */
  SNT_EXIT_INTERNAL = 2,      /* out of memory, a failed system call or kernel, a bug; the message names it */
  SNT_EXIT_INTERRUPTED = 130  /* Ctrl-C (128 + SIGINT), after saving what can be saved */
} snt_exit;

#endif
