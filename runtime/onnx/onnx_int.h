/* Helpers shared by the files of runtime/onnx/; not part of the public API. */
#ifndef SINTER_RUNTIME_ONNX_INT_H
#define SINTER_RUNTIME_ONNX_INT_H

#include <stddef.h>
#include <stdint.h>

#include "sinter/onnx_io.h"

/* Reads a whole file into a malloc'ed buffer (never NULL on success, even when empty). */
snt_status snt_onnx_file_read(const char *path, uint8_t **data, size_t *len, snt_err *e);
/* Replaces `path` with `len` bytes: temporary file in the same directory, fsync, rename. */
snt_status snt_onnx_file_write_atomic(const char *path, const void *data, size_t len, snt_err *e);
/* Rewrites e's message as "<path>: <message>" and returns st, so inner messages name the file. */
snt_status snt_onnx_err_prefix(snt_err *e, snt_status st, const char *path);

/* Element count and byte size of a shape, refusing negative dims and overflow; `what`
 * names the tensor in messages. */
snt_status snt_onnx_shape_size(const int64_t *dims, size_t rank, size_t elsize, const char *what,
                               int64_t *numel, size_t *nbytes, snt_err *e);
/* ONNX's name of a TensorProto.DataType value ("FLOAT", "COMPLEX64"), or NULL when unknown. */
const char *snt_onnx_type_name(int32_t data_type);
/* Swaps each `elsize`-byte element of buf in place when the host is big-endian: raw_data
 * is little-endian on every machine. */
void snt_onnx_to_from_le(void *buf, size_t nbytes, size_t elsize);

/* Loads the `nbytes` of an external-data tensor into a malloc'ed buffer, checking the
 * location (relative, no "..", its real path inside base_dir's real path), that it is a
 * regular file, and the file's length before allocating anything. */
snt_status snt_onnx_external_load(const Onnx__TensorProto *tp, const char *base_dir, size_t nbytes,
                                  const char *what, void **data, snt_err *e);

/* Adds the bytes of `tp` to *total when its data is external; an error when the sum passes
 * `cap` (the model's external data must fit in memory). */
snt_status snt_onnx_external_total(const Onnx__TensorProto *tp, uint64_t *total, uint64_t cap, const char *model,
                                   snt_err *e);

#endif
