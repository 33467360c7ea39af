/* The op registry: every registered op has each rule an op needs -- shape inference, element
 * types, code (emit), ONNX import and export, the DSL form of sinter import -- or a reason on
 * its record saying why not (and never both). A new op without one fails here. */
#include <string.h>

#include "check.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/op.h"

/* A rule present, or else a non-empty reason; a reason beside a present rule is stale. */
static void rule_or_reason(test_state *ts, const snt_op *op, const char *rule, bool has, const char *why) {
  ts->checks++;
  bool ok = has ? why == NULL : why != NULL && why[0] != '\0';
  if (!ok) {
    ts->failures++;
    fprintf(stderr, "op '%s': %s\n", op->name,
            has ? "has the rule and a reason for lacking it" : "lacks the rule and gives no reason");
    fprintf(stderr, "  rule: %s\n", rule);
  }
}

static void check_op(test_state *ts, const snt_op *op) {
  CHECK(ts, op->name && op->type_name && op->default_layer && op->doc);
  CHECK(ts, op->args != NULL);
  if (!op->infer) fprintf(stderr, "op '%s' has no shape inference (infer)\n", op->name);
  CHECK(ts, op->infer != NULL);
  if (!op->emit) fprintf(stderr, "op '%s' has no code (emit)\n", op->name);
  CHECK(ts, op->emit != NULL);
  rule_or_reason(ts, op, "element types (types.t) / no_types", op->types.t != 0, op->no_types);
  rule_or_reason(ts, op, "ONNX import (onnx_type) / no_onnx", op->onnx_type != NULL, op->no_onnx);
  rule_or_reason(ts, op, "ONNX export (onnx_export) / no_export", op->onnx_export != NULL, op->no_export);
  rule_or_reason(ts, op, "DSL form for sinter import (to_dsl) / no_dsl", op->to_dsl != NULL, op->no_dsl);
  /* Every op with an ONNX type states the schema's arity (compiler/onnx/validate.c). */
  if (op->onnx_type) CHECK(ts, op->onnx_arity.min_in >= 0 && op->onnx_arity.min_out >= 1 && op->onnx_arity.max_out >= op->onnx_arity.min_out);
  /* The plain DSL form writes op(x, name = ...): only for ops without attributes. */
  if (op->to_dsl == snt_dsl_plain) CHECK(ts, op->args && !op->args[0].name);
  /* An op that reads only its input's shape is folded by its fold rule. */
  if (op->reads_shape_only) CHECK(ts, op->fold != NULL);
}

int main(void) {
  test_state ts = {0};
  CHECK(&ts, snt_op_count() > 40);
  for (int i = 0; i < snt_op_count(); i++) {
    const snt_op *op = snt_op_at(i);
    check_op(&ts, op);
    /* Registered once: one record, one DSL name, one ONNX op per line of op_table.c. */
    CHECK(&ts, snt_op_find(op->name) == op);
    for (int k = 0; k < i; k++) {
      const snt_op *o = snt_op_at(k);
      if (o == op || strcmp(o->name, op->name) == 0) fprintf(stderr, "op '%s' is registered twice\n", op->name);
      CHECK(&ts, o != op && strcmp(o->name, op->name) != 0);
      if (o->onnx_type && op->onnx_type) CHECK(&ts, strcmp(o->onnx_type, op->onnx_type) != 0);
    }
  }
  /* The records passes match by pointer are registered. */
  const snt_op *const matched[] = {&snt_op_conv2d, &snt_op_dense, &snt_op_batchnorm, &snt_op_relu, &snt_op_softmax,
                                   &snt_op_add, &snt_op_pad, &snt_op_dropout, &snt_op_identity, &snt_op_concat,
                                   &snt_op_cast, &snt_op_flatten, &snt_op_global_avg_pool, &snt_op_global_max_pool};
  for (size_t k = 0; k < sizeof matched / sizeof *matched; k++) CHECK(&ts, snt_op_find(matched[k]->name) == matched[k]);
  return test_report("ops", &ts);
}
