/* Values of the DSL evaluator: numbers, strings, lists, symbols and tensors. */
#ifndef SINTER_COMPILER_VALUE_H
#define SINTER_COMPILER_VALUE_H

#include <stdbool.h>
#include <stdint.h>

#include "support/util.h"

typedef enum snt_value_kind {
  SNT_V_NONE, SNT_V_INT, SNT_V_FLOAT, SNT_V_BOOL, SNT_V_STR, SNT_V_LIST, SNT_V_TENSOR, SNT_V_SYMBOL
} snt_value_kind;

typedef struct snt_value {
  snt_value_kind kind;
  union {
    int64_t i;
    double f;
    bool b;
    const char *s; /* STR and SYMBOL (arena-owned) */
    struct { struct snt_value *items; int n; } list;
    int tensor;    /* index into the graph */
  } u;
} snt_value;

static inline snt_value snt_v_int(int64_t i) { return (snt_value){SNT_V_INT, {.i = i}}; }
static inline snt_value snt_v_float(double f) { return (snt_value){SNT_V_FLOAT, {.f = f}}; }
static inline snt_value snt_v_bool(bool b) { return (snt_value){SNT_V_BOOL, {.b = b}}; }
static inline bool snt_v_is_number(const snt_value *v) { return v->kind == SNT_V_INT || v->kind == SNT_V_FLOAT; }
static inline double snt_v_as_double(const snt_value *v) { return v->kind == SNT_V_INT ? (double)v->u.i : v->u.f; }

/* "int", "float", "list", ... for messages. */
const char *snt_value_kind_name(snt_value_kind k);
/* Appends the value as DSL text (strings without quotes), for interpolation. */
void snt_value_format(const snt_value *v, snt_strbuf *out);
/* The kind with its article, "an int", "a list", for messages. */
const char *snt_value_kind_noun(snt_value_kind k);
/* Structural equality of two non-tensor values. */
bool snt_value_equal(const snt_value *a, const snt_value *b);

#endif
