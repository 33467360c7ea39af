/* Reading and writing ONNX tensors and models (protobuf-c bindings of onnx.proto).
 * Every function returns a status and, on failure, a message in `e` that names the file
 * and the tensor; nothing here exits or keeps global state. */
#ifndef SINTER_ONNX_IO_H
#define SINTER_ONNX_IO_H

#include <stddef.h>
#include <stdint.h>

#include "onnx/onnx.pb-c.h"
#include "sinter/dtype.h"
#include "sinter/error.h"

/* Decodes a TensorProto of a numeric or BOOL type into `out` (zeroed first; on success it
 * owns malloc'ed data, never NULL even for zero elements, and a copy of the name or NULL).
 * Data comes from raw_data (little-endian), the typed field onnx.proto assigns to the type,
 * or an external file named relative to base_dir (NULL refuses external data). */
snt_status snt_onnx_tensor_decode(const Onnx__TensorProto *tp, const char *base_dir, snt_tensor_buf *out,
                                  snt_err *e);

/* Fills `tp` with t's name, dims, data_type and a little-endian copy in raw_data. Encode
 * initialises `tp` itself (whatever it held is overwritten, not freed); release the copies
 * with snt_onnx_tensor_proto_clear, never with onnx__tensor_proto__free_unpacked. */
snt_status snt_onnx_tensor_encode(const snt_tensor_buf *t, Onnx__TensorProto *tp, snt_err *e);
/* Frees what snt_onnx_tensor_encode allocated and leaves `tp` initialised and empty. */
void snt_onnx_tensor_proto_clear(Onnx__TensorProto *tp);

/* Reads a serialized TensorProto (an ONNX test's input_0.pb); external data is looked up
 * next to the file. */
snt_status snt_onnx_read_tensor_file(const char *path, snt_tensor_buf *out, snt_err *e);
/* Writes `t` as a serialized TensorProto, atomically (temporary file, fsync, rename). */
snt_status snt_onnx_write_tensor_file(const char *path, const snt_tensor_buf *t, snt_err *e);

/* Reads and unpacks an ONNX model; a missing, empty or corrupt file or one without a
 * graph is an error. Free the result with snt_onnx_free_model. */
snt_status snt_onnx_load_model(const char *path, Onnx__ModelProto **out, snt_err *e);
/* The same for bytes in memory; name_for_messages stands for the file in messages. */
snt_status snt_onnx_model_from_bytes(const uint8_t *data, size_t len, const char *name_for_messages,
                                     Onnx__ModelProto **out, snt_err *e);
/* Frees a model from snt_onnx_load_model or snt_onnx_model_from_bytes; NULL is fine. */
void snt_onnx_free_model(Onnx__ModelProto *m);
/* Serializes `m` to `path` atomically, so a writer killed halfway leaves the old file intact. */
snt_status snt_onnx_save_model(const char *path, const Onnx__ModelProto *m, snt_err *e);
/* The ai.onnx opset the model imports (domain "" or "ai.onnx"); 0 when it imports none. */
int64_t snt_onnx_opset(const Onnx__ModelProto *m);

/* The folder of `path`'s real path (symbolic links resolved; its textual folder when it does
 * not resolve), malloc'ed: the base_dir that confines external data. */
snt_status snt_onnx_dirname(const char *path, char **out, snt_err *e);

#endif
