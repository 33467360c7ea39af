/* ai.onnx operator versions introduced in opsets 18 to 21 (ONNX 1.13 to 1.16 changelogs). */
#include "compiler/onnx/versions.h"

#include <string.h>

typedef struct since {
  const char *op;
  int version;
} since;

static const since versions[] = {
    /* 18: axes as an input for the Reduce ops, Split's num_outputs, Pad's axes, Resize's
     * antialias/axes/keep_aspect_ratio_policy, reductions max/min for the scatters, new ops. */
    {"Pad", 18}, {"CenterCropPad", 18}, {"Resize", 18}, {"Mish", 18}, {"OptionalGetElement", 18},
    {"OptionalHasElement", 18}, {"Split", 18}, {"Col2Im", 18}, {"ScatterND", 18}, {"ScatterElements", 18},
    {"ReduceSumSquare", 18}, {"ReduceLogSum", 18}, {"ReduceLogSumExp", 18}, {"ReduceL1", 18}, {"ReduceL2", 18},
    {"ReduceMax", 18}, {"ReduceMin", 18}, {"ReduceMean", 18}, {"ReduceProd", 18}, {"BitwiseAnd", 18},
    {"BitwiseOr", 18}, {"BitwiseXor", 18}, {"BitwiseNot", 18}, {"GroupNormalization", 18}, {"LpPool", 18},
    /* 19: AveragePool's dilations, Pad's wrap mode, Resize's half_pixel_symmetric, float8 types. */
    {"Equal", 19}, {"AveragePool", 19}, {"Cast", 19}, {"CastLike", 19}, {"Constant", 19}, {"DeformConv", 19},
    {"DequantizeLinear", 19}, {"Identity", 19}, {"If", 19}, {"Loop", 19}, {"Pad", 19}, {"QuantizeLinear", 19},
    {"Reshape", 19}, {"Resize", 19}, {"Scan", 19}, {"Shape", 19}, {"Size", 19},
    /* 20: bool for ReduceMax/Min, float8 for IsInf/IsNaN, new ops. */
    {"AffineGrid", 20}, {"ConstantOfShape", 20}, {"DFT", 20}, {"Gelu", 20}, {"GridSample", 20},
    {"ImageDecoder", 20}, {"IsInf", 20}, {"IsNaN", 20}, {"ReduceMax", 20}, {"ReduceMin", 20},
    {"RegexFullMatch", 20}, {"StringConcat", 20}, {"StringSplit", 20},
    /* 21: int4/uint4 (and float8) types; GroupNormalization's per-channel scale and stash_type. */
    {"Cast", 21}, {"CastLike", 21}, {"Constant", 21}, {"ConstantOfShape", 21}, {"Identity", 21}, {"If", 21},
    {"Loop", 21}, {"Reshape", 21}, {"Scan", 21}, {"Shape", 21}, {"Size", 21}, {"Flatten", 21}, {"Pad", 21},
    {"Squeeze", 21}, {"Transpose", 21}, {"Unsqueeze", 21}, {"DequantizeLinear", 21}, {"QuantizeLinear", 21},
    {"QLinearMatMul", 21}, {"GroupNormalization", 21},
};

/* Ops that opsets 18 to 21 introduced: a node of one in an older opset is not ONNX. */
static const since introduced[] = {
    {"CenterCropPad", 18}, {"Col2Im", 18}, {"Mish", 18}, {"GroupNormalization", 18}, {"BitwiseAnd", 18},
    {"BitwiseOr", 18}, {"BitwiseXor", 18}, {"BitwiseNot", 18}, {"DeformConv", 19}, {"AffineGrid", 20},
    {"Gelu", 20}, {"ImageDecoder", 20}, {"RegexFullMatch", 20}, {"StringConcat", 20}, {"StringSplit", 20},
};

int snt_onnx_introduced_18(const char *op_type) {
  for (size_t i = 0; i < sizeof introduced / sizeof introduced[0]; i++)
    if (strcmp(introduced[i].op, op_type) == 0) return introduced[i].version;
  return 0;
}

int snt_onnx_since_18(const char *op_type, int opset) {
  int best = 0;
  for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++)
    if (versions[i].version <= opset && versions[i].version > best && strcmp(versions[i].op, op_type) == 0)
      best = versions[i].version;
  return best;
}
