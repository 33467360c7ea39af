/* snt_tensor_buf -> TensorProto (always raw_data), and serialized TensorProto files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/onnx/onnx_int.h"

void snt_onnx_tensor_proto_clear(Onnx__TensorProto *tp) {
  if (!tp) return;
  free(tp->dims);
  free(tp->name);
  free(tp->raw_data.data);
  onnx__tensor_proto__init(tp);
}

static snt_status check_buf(const snt_tensor_buf *t, const char *what, size_t *nbytes, snt_err *e) {
  const char *type = snt_dtype_name(t->dtype);
  if (!type || t->dtype == SNT_STRING || snt_dtype_size(t->dtype) == 0)
    return snt_err_set(e, SNT_ERR_INPUT, "cannot encode %s: type %s (%d) has no raw_data form", what,
                       type ? type : "UNKNOWN", (int)t->dtype);
  if (t->rank < 0) return snt_err_set(e, SNT_ERR_INPUT, "cannot encode %s: negative rank %d", what, t->rank);
  int64_t numel;
  snt_status s = snt_onnx_shape_size(t->dims, (size_t)t->rank, snt_dtype_size(t->dtype), what, &numel, nbytes, e);
  if (s == SNT_OK && *nbytes && !t->data)
    s = snt_err_set(e, SNT_ERR_INPUT, "cannot encode %s: %zu bytes of data expected, data is NULL", what, *nbytes);
  return s;
}

snt_status snt_onnx_tensor_encode(const snt_tensor_buf *t, Onnx__TensorProto *tp, snt_err *e) {
  if (!tp) return snt_err_set(e, SNT_ERR_INTERNAL, "snt_onnx_tensor_encode: no TensorProto");
  onnx__tensor_proto__init(tp);
  if (!t) return snt_err_set(e, SNT_ERR_INTERNAL, "snt_onnx_tensor_encode: no tensor");
  char what[256];
  if (t->name) snprintf(what, sizeof what, "tensor '%.200s'", t->name);
  else snprintf(what, sizeof what, "unnamed tensor");
  size_t nbytes;
  snt_status s = check_buf(t, what, &nbytes, e);
  if (s != SNT_OK) return s;
  tp->dims = t->rank ? malloc((size_t)t->rank * sizeof *tp->dims) : NULL;
  tp->raw_data.data = malloc(nbytes ? nbytes : 1);
  tp->name = t->name ? strdup(t->name) : NULL;
  if ((t->rank && !tp->dims) || !tp->raw_data.data || (t->name && !tp->name)) {
    snt_onnx_tensor_proto_clear(tp);
    return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory encoding %zu bytes", what, nbytes);
  }
  tp->n_dims = (size_t)t->rank;
  if (t->rank) memcpy(tp->dims, t->dims, (size_t)t->rank * sizeof *tp->dims);
  tp->has_data_type = 1;
  tp->data_type = (int32_t)t->dtype;
  tp->has_raw_data = 1;
  tp->raw_data.len = nbytes;
  if (nbytes) memcpy(tp->raw_data.data, t->data, nbytes);
  snt_onnx_to_from_le(tp->raw_data.data, nbytes, snt_dtype_size(t->dtype));
  return SNT_OK;
}

snt_status snt_onnx_read_tensor_file(const char *path, snt_tensor_buf *out, snt_err *e) {
  if (out) memset(out, 0, sizeof *out);
  if (!path || !out) return snt_err_set(e, SNT_ERR_INTERNAL, "snt_onnx_read_tensor_file: no path or output");
  uint8_t *bytes;
  size_t len;
  snt_status s = snt_onnx_file_read(path, &bytes, &len, e);
  if (s != SNT_OK) return s;
  /* An empty file parses as an empty TensorProto; say what really happened. */
  Onnx__TensorProto *tp = len ? onnx__tensor_proto__unpack(NULL, len, bytes) : NULL;
  free(bytes);
  if (!len) return snt_err_set(e, SNT_ERR_INPUT, "%s: empty file, expected a serialized TensorProto", path);
  if (!tp)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: not a TensorProto (truncated or corrupt protobuf, %zu bytes)", path,
                       len);
  char *dir = NULL;
  s = snt_onnx_dirname(path, &dir, e);
  if (s == SNT_OK) s = snt_onnx_tensor_decode(tp, dir, out, e);
  if (s != SNT_OK) s = snt_onnx_err_prefix(e, s, path);
  free(dir);
  onnx__tensor_proto__free_unpacked(tp, NULL);
  return s;
}

snt_status snt_onnx_write_tensor_file(const char *path, const snt_tensor_buf *t, snt_err *e) {
  if (!path) return snt_err_set(e, SNT_ERR_INTERNAL, "snt_onnx_write_tensor_file: no path");
  Onnx__TensorProto tp;
  snt_status s = snt_onnx_tensor_encode(t, &tp, e);
  if (s != SNT_OK) return snt_onnx_err_prefix(e, s, path);
  size_t len = onnx__tensor_proto__get_packed_size(&tp);
  uint8_t *buf = malloc(len ? len : 1);
  if (!buf) {
    s = snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory packing %zu bytes", path, len);
  } else {
    onnx__tensor_proto__pack(&tp, buf);
    s = snt_onnx_file_write_atomic(path, buf, len, e);
  }
  free(buf);
  snt_onnx_tensor_proto_clear(&tp);
  return s;
}
