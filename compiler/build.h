/* Building an executable: plan, generate C, run the system C compiler. */
#ifndef SINTER_COMPILER_BUILD_H
#define SINTER_COMPILER_BUILD_H

#include "compiler/ir.h"

#include "sinter/model.h"

typedef struct snt_build_opts {
  const char *output;       /* the executable to write */
  const char *emit_dir;     /* keep the generated C here; NULL: a temporary folder, removed */
  const snt_model_pre *pre; /* image preprocessing of predict; NULL: none */
  const char *summary;      /* the layer table `EXE summary` prints; NULL: none */
  int instances;            /* the graph is one instance's share of the batch; 0 means 1 */
  bool bf16;                /* inference products in bfloat16 (sinter compile --precision bf16) */
  bool name_note;           /* a note when the model's name is not its C prefix (sinter compile) */
  /* A trainable executable: the training step (from snt_autodiff_build), the inference graph at
   * the training batch (for validation), and the ONNX template of checkpoints. NULL: inference only. */
  const snt_graph *train_step;
  const struct snt_ad *ad;
  const snt_graph *eval;
  const unsigned char *onnx_template;
  size_t onnx_template_bytes;
  /* Grad-CAM's graph (compiler/explain.h) at batch 1, or NULL with explain_why saying why not. */
  const snt_graph *explain_graph;
  const struct snt_explain *explain;
  const char *explain_why;
} snt_build_opts;

/* Plans g, writes its C and builds the executable with $CC (default cc) and $CFLAGS. */
snt_status snt_build_executable(const snt_graph *g, const snt_build_opts *o, snt_diag *d);

#endif
