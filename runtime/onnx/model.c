/* Loading and saving ONNX ModelProto files. */
#include <stdlib.h>
#include <string.h>

#include "runtime/onnx/onnx_int.h"
#include "sinter/file.h"

enum { SNT_ONNX_MAX_IR = 10 };

static snt_status nodes_total(Onnx__NodeProto *const *nodes, size_t n, uint64_t *total, uint64_t cap,
                              const char *path, snt_err *e) {
  snt_status s = SNT_OK;
  for (size_t i = 0; s == SNT_OK && i < n; i++)
    for (size_t k = 0; s == SNT_OK && nodes[i] && k < nodes[i]->n_attribute; k++)
      if (nodes[i]->attribute[k]) s = snt_onnx_external_total(nodes[i]->attribute[k]->t, total, cap, path, e);
  return s;
}

/* The external data of all initializers and Constant tensors, checked before any is read:
 * together they must fit in the physical memory. */
static snt_status external_total(const Onnx__ModelProto *m, const char *path, snt_err *e) {
  uint64_t total = 0, cap = snt_file_phys_memory();
  const Onnx__GraphProto *g = m->graph;
  snt_status s = SNT_OK;
  for (size_t i = 0; s == SNT_OK && i < g->n_initializer; i++)
    s = snt_onnx_external_total(g->initializer[i], &total, cap, path, e);
  for (size_t i = 0; s == SNT_OK && i < g->n_node; i++) s = nodes_total(&g->node[i], 1, &total, cap, path, e);
  /* Constants inside local functions load their data too. */
  for (size_t i = 0; s == SNT_OK && i < m->n_functions; i++)
    if (m->functions[i]) s = nodes_total(m->functions[i]->node, m->functions[i]->n_node, &total, cap, path, e);
  return s;
}

snt_status snt_onnx_model_from_bytes(const uint8_t *data, size_t len, const char *name_for_messages,
                                     Onnx__ModelProto **out, snt_err *e) {
  const char *name = name_for_messages ? name_for_messages : "(memory)";
  if (!out) return snt_err_set(e, SNT_ERR_INTERNAL, "%s: snt_onnx_model_from_bytes: no output", name);
  *out = NULL;
  /* Zero bytes would unpack as an empty model; say what really happened. */
  if (len == 0) return snt_err_set(e, SNT_ERR_INPUT, "%s: empty file, expected an ONNX model", name);
  if (!data) return snt_err_set(e, SNT_ERR_INTERNAL, "%s: %zu bytes but no data", name, len);
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, data);
  if (!m)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: not an ONNX model (truncated or corrupt protobuf, %zu bytes)", name,
                       len);
  if (!m->graph) {
    onnx__model_proto__free_unpacked(m, NULL);
    return snt_err_set(e, SNT_ERR_INPUT, "%s: the ONNX model has no graph", name);
  }
  /* Up to IR 10 the fields sinter reads are those of the 1.12 schema it is built with (newer
   * ones are skipped as unknown); a newer IR may change their meaning. */
  if (m->has_ir_version && m->ir_version > SNT_ONNX_MAX_IR) {
    long long v = (long long)m->ir_version;
    onnx__model_proto__free_unpacked(m, NULL);
    return snt_err_set(e, SNT_ERR_INPUT, "%s: ONNX IR version %lld is not supported (sinter reads IR versions up to %d)",
                       name, v, SNT_ONNX_MAX_IR);
  }
  *out = m;
  return SNT_OK;
}

snt_status snt_onnx_load_model(const char *path, Onnx__ModelProto **out, snt_err *e) {
  if (out) *out = NULL;
  if (!path) return snt_err_set(e, SNT_ERR_INTERNAL, "snt_onnx_load_model: no path");
  uint8_t *bytes;
  size_t len;
  snt_status s = snt_onnx_file_read(path, &bytes, &len, e);
  if (s != SNT_OK) return s;
  s = snt_onnx_model_from_bytes(bytes, len, path, out, e);
  free(bytes); /* the unpacked message holds its own copy: drop this one at once */
  if (s == SNT_OK && (s = external_total(*out, path, e)) != SNT_OK) {
    snt_onnx_free_model(*out);
    *out = NULL;
  }
  return s;
}

void snt_onnx_free_model(Onnx__ModelProto *m) {
  if (m) onnx__model_proto__free_unpacked(m, NULL);
}

snt_status snt_onnx_save_model(const char *path, const Onnx__ModelProto *m, snt_err *e) {
  if (!path || !m) return snt_err_set(e, SNT_ERR_INTERNAL, "snt_onnx_save_model: no path or model");
  size_t len = onnx__model_proto__get_packed_size(m);
  uint8_t *buf = malloc(len ? len : 1);
  if (!buf) return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory packing %zu bytes", path, len);
  onnx__model_proto__pack(m, buf);
  snt_status s = snt_onnx_file_write_atomic(path, buf, len, e);
  free(buf);
  return s;
}

int64_t snt_onnx_opset(const Onnx__ModelProto *m) {
  int64_t v = 0;
  for (size_t i = 0; m && i < m->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = m->opset_import[i];
    if (!o || !o->has_version) continue;
    /* A model should import ai.onnx once; if it repeats it, the newest one wins. */
    if ((!o->domain || !o->domain[0] || !strcmp(o->domain, "ai.onnx")) && o->version > v) v = o->version;
  }
  return v;
}
