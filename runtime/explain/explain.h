/* Internal: the explain command (Grad-CAM), shared by trainable executables (weights in the
 * training step's layout) and inference-only ones (the explain model's own weights). */
#ifndef SINTER_RUNTIME_EXPLAIN_EXPLAIN_H
#define SINTER_RUNTIME_EXPLAIN_EXPLAIN_H

#include "runtime/driver/driver.h"
#include "sinter/explain.h"

typedef snt_rt_explain_weights_fn snt_xp_weights_fn;

/* EXE explain IMAGE... -o DIR [--class NAME] [--layer NAME]: an exit code, or -1 for --help. */
int snt_xp_cmd(const snt_model_info *info, const snt_explain_info *x, snt_xp_weights_fn weights, void *ctx, snt_rt_common *c,
               int argc, char **argv);

#endif
