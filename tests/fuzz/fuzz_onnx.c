/* libFuzzer target: any bytes as an ONNX model, then every initializer and every Constant
 * node's `value` tensor through the tensor decoder. Must never crash, hang or leak. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sinter/onnx_io.h"

/* External data must fail cleanly, never touch the fuzzing machine's files. */
#define NO_DIR "/nonexistent-sinter-fuzz-dir"

static void decode_one(const Onnx__TensorProto *tp) {
  snt_tensor_buf t;
  snt_err e;
  if (snt_onnx_tensor_decode(tp, NO_DIR, &t, &e) == SNT_OK) {
    /* Touch every byte so ASan sees any short allocation. */
    volatile uint8_t sink = 0;
    const uint8_t *p = t.data;
    for (size_t i = 0; i < snt_tensor_buf_nbytes(&t); i++) sink ^= p[i];
    (void)sink;
  }
  snt_tensor_buf_free(&t);
}

static void decode_constants(const Onnx__GraphProto *g) {
  for (size_t i = 0; i < g->n_node; i++) {
    const Onnx__NodeProto *n = g->node[i];
    if (!n->op_type || strcmp(n->op_type, "Constant")) continue;
    for (size_t a = 0; a < n->n_attribute; a++)
      if (n->attribute[a]->name && !strcmp(n->attribute[a]->name, "value") && n->attribute[a]->t)
        decode_one(n->attribute[a]->t);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Onnx__ModelProto *m = NULL;
  snt_err e;
  if (snt_onnx_model_from_bytes(data, size, "fuzz.onnx", &m, &e) != SNT_OK) return 0;
  (void)snt_onnx_opset(m);
  for (size_t i = 0; i < m->graph->n_initializer; i++) decode_one(m->graph->initializer[i]);
  decode_constants(m->graph);
  snt_onnx_free_model(m);
  return 0;
}
