/* A message buffer for runtime code that reports errors without a diagnostics context. */
#ifndef SINTER_ERROR_H
#define SINTER_ERROR_H

#include "sinter/status.h"

typedef struct snt_err {
  char msg[1024];
} snt_err;

/* Formats the message into e (when e is not NULL) and returns `status`. */
snt_status snt_err_set(snt_err *e, snt_status status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
