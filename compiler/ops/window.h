/* Sliding windows of conv and pooling ops, 1 to 3 spatial dims: ONNX attributes to
 * sinter's, and the padding and output size rules of Keras ('same', 'valid') and ONNX
 * (explicit pads, SAME_UPPER, SAME_LOWER, ceil_mode). */
#ifndef SINTER_COMPILER_OPS_WINDOW_H
#define SINTER_COMPILER_OPS_WINDOW_H

#include "compiler/op.h"

enum { SNT_MAX_SPATIAL = 3 };

typedef struct snt_window {
  int spatial;
  int64_t in[SNT_MAX_SPATIAL], k[SNT_MAX_SPATIAL], stride[SNT_MAX_SPATIAL], dil[SNT_MAX_SPATIAL];
  int64_t pad_begin[SNT_MAX_SPATIAL], pad_end[SNT_MAX_SPATIAL], out[SNT_MAX_SPATIAL];
} snt_window;

/* Resolves the node's stride, dilation and padding for kernel k over the spatial dims of
 * input 0 and computes the output sizes; a window that does not fit is an error. */
/* `what` ("kernel", "pool") names the window in messages. */
snt_status snt_window_resolve(snt_graph *g, int node, snt_diag *d, const int64_t *k, const char *what, snt_window *w);

/* Renames ONNX's strides, dilations, pads, auto_pad and kernel_shape (as kernel_attr) to
 * stride, dilation, pads + padding; absent ones get ONNX's defaults. */
snt_status snt_window_import(snt_graph *g, int node, snt_diag *d, const char *kernel_attr);
/* The ONNX rule of the pooling ops (MaxPool, AveragePool, LpPool; compiler/ops/pool2d.c):
 * kernel_shape required, the window attributes as snt_window_import, strides 1 when absent. */
snt_status snt_pool_onnx_import(snt_graph *g, int node, int opset, snt_diag *d);

#endif
