/* TensorProto -> snt_tensor_buf: raw_data, the typed fields of onnx.proto, external data.
 * Sizes are checked before anything is allocated or read, so a hostile file can neither
 * make us read out of bounds nor allocate more than it holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/onnx/onnx_int.h"

/* The repeated fields onnx.proto uses for typed (non-raw) storage. */
typedef enum field_kind { F_FLOAT, F_INT32, F_STRING, F_INT64, F_DOUBLE, F_UINT64, F_COUNT } field_kind;

static const char *const field_names[F_COUNT] = {"float_data", "int32_data", "string_data",
                                                 "int64_data", "double_data", "uint64_data"};

static size_t field_count(const Onnx__TensorProto *tp, field_kind f) {
  switch (f) {
    case F_FLOAT: return tp->n_float_data;
    case F_INT32: return tp->n_int32_data;
    case F_STRING: return tp->n_string_data;
    case F_INT64: return tp->n_int64_data;
    case F_DOUBLE: return tp->n_double_data;
    case F_UINT64: return tp->n_uint64_data;
    default: return 0;
  }
}

/* The field onnx.proto assigns to each element type. */
static field_kind field_of(snt_dtype t) {
  switch (t) {
    case SNT_F32: return F_FLOAT;
    case SNT_I64: return F_INT64;
    case SNT_F64: return F_DOUBLE;
    case SNT_U32: case SNT_U64: return F_UINT64;
    default: return F_INT32; /* INT8/16/32, UINT8/16, BOOL, FLOAT16, BFLOAT16 */
  }
}

/* The element types sinter decodes: every fixed-size numeric type and BOOL. */
static int is_supported(int32_t t) {
  return t != SNT_STRING && snt_dtype_name((snt_dtype)t) && snt_dtype_size((snt_dtype)t) > 0;
}

const char *snt_onnx_type_name(int32_t data_type) {
  const ProtobufCEnumValue *v =
      protobuf_c_enum_descriptor_get_value(&onnx__tensor_proto__data_type__descriptor, data_type);
  return v ? v->name : NULL;
}

void snt_onnx_to_from_le(void *buf, size_t nbytes, size_t elsize) {
  const uint16_t one = 1;
  uint8_t first;
  memcpy(&first, &one, 1);
  if (first == 1 || elsize < 2) return; /* little-endian host: nothing to do */
  uint8_t *p = buf;
  for (size_t i = 0; i + elsize <= nbytes; i += elsize)
    for (size_t a = i, b = i + elsize - 1; a < b; a++, b--) {
      uint8_t t = p[a];
      p[a] = p[b];
      p[b] = t;
    }
}

snt_status snt_onnx_shape_size(const int64_t *dims, size_t rank, size_t elsize, const char *what,
                               int64_t *numel, size_t *nbytes, snt_err *e) {
  if (rank > SNT_MAX_RANK)
    return snt_err_set(e, SNT_ERR_INPUT, "%s has rank %zu, more than the %d sinter supports", what, rank,
                       SNT_MAX_RANK);
  int64_t n = 1;
  for (size_t i = 0; i < rank; i++) {
    if (dims[i] < 0)
      return snt_err_set(e, SNT_ERR_INPUT, "%s has a negative dimension %lld at axis %zu", what,
                         (long long)dims[i], i);
    if (dims[i] > 0 && n > INT64_MAX / dims[i])
      return snt_err_set(e, SNT_ERR_INPUT, "%s: the element count of its dims overflows", what);
    n *= dims[i];
  }
  if (elsize && (uint64_t)n > SIZE_MAX / elsize)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: %lld elements do not fit in memory", what, (long long)n);
  *numel = n;
  *nbytes = (size_t)n * elsize;
  return SNT_OK;
}

/* Any typed field other than `keep` that holds values makes the tensor ambiguous. */
static snt_status check_no_other_field(const Onnx__TensorProto *tp, int keep, const char *what, const char *type,
                                       snt_err *e) {
  for (int f = 0; f < F_COUNT; f++)
    if (f != keep && field_count(tp, (field_kind)f) > 0)
      return snt_err_set(e, SNT_ERR_INPUT, "%s of type %s has %zu values in %s, where %s", what, type,
                         field_count(tp, (field_kind)f), field_names[f],
                         keep < 0 ? "raw_data holds the data" : "onnx.proto expects another field");
  return SNT_OK;
}

/* Values of int32_data must fit the element type: out-of-range values mean a corrupt file. */
static snt_status range_of_int32(snt_dtype t, int64_t *lo, int64_t *hi) {
  switch (t) {
    case SNT_I8: *lo = INT8_MIN, *hi = INT8_MAX; break;
    case SNT_U8: *lo = 0, *hi = UINT8_MAX; break;
    case SNT_BOOL: *lo = 0, *hi = 1; break;
    case SNT_I16: *lo = INT16_MIN, *hi = INT16_MAX; break;
    case SNT_U16: case SNT_F16: case SNT_BF16: *lo = 0, *hi = UINT16_MAX; break;
    case SNT_I32: *lo = INT32_MIN, *hi = INT32_MAX; break;
    default: return SNT_ERR_INTERNAL;
  }
  return SNT_OK;
}

static snt_status from_int32(const Onnx__TensorProto *tp, snt_dtype t, void *dst, size_t n, const char *what,
                             snt_err *e) {
  int64_t lo, hi;
  if (range_of_int32(t, &lo, &hi) != SNT_OK)
    return snt_err_set(e, SNT_ERR_INTERNAL, "%s: type %s has no int32_data form", what, snt_dtype_name(t));
  for (size_t i = 0; i < n; i++) {
    int32_t v = tp->int32_data[i];
    if (v < lo || v > hi)
      return snt_err_set(e, SNT_ERR_INPUT, "%s: int32_data[%zu] = %d is out of range for %s", what, i, v,
                         snt_dtype_name(t));
    switch (snt_dtype_size(t)) {
      case 1: ((uint8_t *)dst)[i] = (uint8_t)v; break; /* INT8 wraps to its two's complement byte */
      case 2: ((uint16_t *)dst)[i] = (uint16_t)v; break;
      default: ((int32_t *)dst)[i] = v; break;
    }
  }
  return SNT_OK;
}

static snt_status from_uint64(const Onnx__TensorProto *tp, snt_dtype t, void *dst, size_t n, const char *what,
                              snt_err *e) {
  if (t == SNT_U64) {
    memcpy(dst, tp->uint64_data, n * sizeof(uint64_t));
    return SNT_OK;
  }
  for (size_t i = 0; i < n; i++) {
    if (tp->uint64_data[i] > UINT32_MAX)
      return snt_err_set(e, SNT_ERR_INPUT, "%s: uint64_data[%zu] = %llu is out of range for UINT32", what, i,
                         (unsigned long long)tp->uint64_data[i]);
    ((uint32_t *)dst)[i] = (uint32_t)tp->uint64_data[i];
  }
  return SNT_OK;
}

static snt_status from_typed(const Onnx__TensorProto *tp, snt_dtype t, int64_t numel, size_t nbytes, void **out,
                             const char *what, snt_err *e) {
  field_kind f = field_of(t);
  snt_status s = check_no_other_field(tp, (int)f, what, snt_dtype_name(t), e);
  if (s != SNT_OK) return s;
  size_t have = field_count(tp, f);
  if ((uint64_t)numel != have)
    return snt_err_set(e, SNT_ERR_INPUT, "%s of type %s has %zu values in %s, expected %lld (the product of its dims)",
                       what, snt_dtype_name(t), have, field_names[f], (long long)numel);
  void *dst = malloc(nbytes ? nbytes : 1);
  if (!dst) return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory for %zu bytes", what, nbytes);
  if (have == 0) { /* a zero-size tensor: the field's array may be NULL */
    *out = dst;
    return SNT_OK;
  }
  switch (f) {
    case F_FLOAT: memcpy(dst, tp->float_data, nbytes); break;
    case F_INT64: memcpy(dst, tp->int64_data, nbytes); break;
    case F_DOUBLE: memcpy(dst, tp->double_data, nbytes); break;
    case F_UINT64: s = from_uint64(tp, t, dst, have, what, e); break;
    default: s = from_int32(tp, t, dst, have, what, e); break;
  }
  if (s != SNT_OK) {
    free(dst);
    return s;
  }
  *out = dst;
  return SNT_OK;
}

/* BOOL is one byte per element, 0 or 1 (onnx.proto); anything else is a corrupt file. */
static snt_status check_bools(const uint8_t *p, size_t n, const char *what, snt_err *e) {
  for (size_t i = 0; i < n; i++)
    if (p[i] > 1) return snt_err_set(e, SNT_ERR_INPUT, "%s: BOOL element %zu is %u, expected 0 or 1", what, i, p[i]);
  return SNT_OK;
}

static snt_status from_raw(const Onnx__TensorProto *tp, snt_dtype t, int64_t numel, size_t nbytes, void **out,
                           const char *what, snt_err *e) {
  snt_status s = check_no_other_field(tp, -1, what, snt_dtype_name(t), e);
  if (s != SNT_OK) return s;
  if (tp->raw_data.len != nbytes)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: raw_data has %zu bytes, expected %zu (%lld elements of %s)", what,
                       tp->raw_data.len, nbytes, (long long)numel, snt_dtype_name(t));
  void *dst = malloc(nbytes ? nbytes : 1);
  if (!dst) return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory for %zu bytes", what, nbytes);
  if (nbytes) memcpy(dst, tp->raw_data.data, nbytes);
  *out = dst;
  return SNT_OK;
}

/* "tensor 'w'" or "unnamed tensor", for every message about this tensor. */
static void describe(const Onnx__TensorProto *tp, char *buf, size_t cap) {
  if (tp->name && tp->name[0]) snprintf(buf, cap, "tensor '%.200s'", tp->name);
  else snprintf(buf, cap, "unnamed tensor");
}

static snt_status check_type(const Onnx__TensorProto *tp, const char *what, snt_err *e) {
  if (!tp->has_data_type || tp->data_type == SNT_UNDEFINED)
    return snt_err_set(e, SNT_ERR_INPUT, "%s has no data_type (UNDEFINED)", what);
  if (is_supported(tp->data_type)) return SNT_OK;
  const char *name = snt_onnx_type_name(tp->data_type);
  if (name)
    return snt_err_set(e, SNT_ERR_INPUT, "%s has data type %s (%d), which sinter does not support", what, name,
                       (int)tp->data_type);
  return snt_err_set(e, SNT_ERR_INPUT, "%s has an unknown data type %d", what, (int)tp->data_type);
}

/* Reads the data from wherever the proto keeps it into a malloc'ed buffer in host byte order. */
static snt_status load_data(const Onnx__TensorProto *tp, const char *base_dir, snt_dtype t, int64_t numel,
                            size_t nbytes, void **data, const char *what, snt_err *e) {
  snt_status s;
  if (tp->segment) return snt_err_set(e, SNT_ERR_INPUT, "%s is a segment of a larger tensor; unsupported", what);
  if (tp->has_data_location && tp->data_location != ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT) {
    if (tp->data_location != ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
      return snt_err_set(e, SNT_ERR_INPUT, "%s has an unknown data_location %d", what, (int)tp->data_location);
    s = snt_onnx_external_load(tp, base_dir, nbytes, what, data, e);
  } else if (tp->has_raw_data) {
    s = from_raw(tp, t, numel, nbytes, data, what, e);
  } else {
    return from_typed(tp, t, numel, nbytes, data, what, e); /* host-order values already */
  }
  if (s == SNT_OK) snt_onnx_to_from_le(*data, nbytes, snt_dtype_size(t));
  return s;
}

snt_status snt_onnx_tensor_decode(const Onnx__TensorProto *tp, const char *base_dir, snt_tensor_buf *out,
                                  snt_err *e) {
  if (!out) return snt_err_set(e, SNT_ERR_INTERNAL, "snt_onnx_tensor_decode: no output buffer");
  memset(out, 0, sizeof *out);
  if (!tp) return snt_err_set(e, SNT_ERR_INTERNAL, "snt_onnx_tensor_decode: no tensor");
  char what[256];
  describe(tp, what, sizeof what);
  snt_status s = check_type(tp, what, e);
  if (s != SNT_OK) return s;
  snt_dtype t = (snt_dtype)tp->data_type;
  size_t elsize = snt_dtype_size(t), nbytes;
  int64_t numel;
  s = snt_onnx_shape_size(tp->dims, tp->n_dims, elsize, what, &numel, &nbytes, e);
  if (s != SNT_OK) return s;
  void *data = NULL;
  s = load_data(tp, base_dir, t, numel, nbytes, &data, what, e);
  if (s == SNT_OK && t == SNT_BOOL) s = check_bools(data, nbytes, what, e);
  char *name = NULL;
  if (s == SNT_OK && tp->name && !(name = strdup(tp->name)))
    s = snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory for its name", what);
  if (s != SNT_OK) {
    free(data);
    return s;
  }
  out->dtype = t;
  out->rank = (int)tp->n_dims;
  for (size_t i = 0; i < tp->n_dims; i++) out->dims[i] = tp->dims[i];
  out->data = data;
  out->name = name;
  return SNT_OK;
}
