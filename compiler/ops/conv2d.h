/* What conv2d shares with the ops made from it (conv_expand_dw.c): its kernel descriptor and
 * activation, read from a node's attributes. */
#ifndef SINTER_COMPILER_OPS_CONV2D_H
#define SINTER_COMPILER_OPS_CONV2D_H

#include "compiler/ir.h"
#include "sinter/kernels.h"

/* The attributes a conv's fused activation lives in (snt_pass_fuse_activation sets them). */
enum { SNT_CONV2D_ACT_ATTRS = 5 };
extern const char *const snt_conv2d_act_attrs[SNT_CONV2D_ACT_ATTRS];

/* The activation of node n, its attributes' names prefixed by `prefix` ("" for conv2d's own). */
snt_k_act snt_conv2d_act(const snt_node *n, const char *prefix);
/* The descriptor of conv2d node n: geometry from its input 0, output 0 and attributes. */
snt_status snt_conv2d_desc(const snt_graph *g, const snt_node *n, snt_k_conv_desc *k);

#endif
