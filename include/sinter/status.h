/* Status codes shared by every sinter module. */
#ifndef SINTER_STATUS_H
#define SINTER_STATUS_H

typedef enum snt_status {
  SNT_OK = 0,
  SNT_ERR_INPUT = 1,    /* the user's input is wrong; a diagnostic says how */
  SNT_ERR_IO = 2,       /* a file could not be read or written */
  SNT_ERR_NOMEM = 3,    /* an allocation failed */
  SNT_ERR_INTERNAL = 4  /* a bug in sinter */
} snt_status;

/* A short English name of a status, for messages. */
const char *snt_status_str(snt_status s);

#endif
