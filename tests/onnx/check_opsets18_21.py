"""Opsets 18 to 21 against ONNX Runtime 1.30 (Debian's onnx 1.12 knows up to 17: the files are
built with onnx.helper without its checker). Each changed op in its new form (axes as inputs,
Split's num_outputs, Pad's axes and wrap mode, Resize's axes, aspect-ratio policy and
half_pixel_symmetric, AveragePool's dilations), the ops whose new versions only add types, and a
small CNN at opset 21 and IR 10; then the versions sinter does not follow must be refused."""
import sys
import tempfile

import numpy as np
from onnx import TensorProto as TP

sys.path.insert(0, __import__("os").path.dirname(__file__))
from ortcompare import Model, run_model, check_refused  # noqa: E402

sinter, ort_run, ort_modules = sys.argv[1:4]
rng = np.random.default_rng(18)
X = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
XI = rng.integers(-50, 50, (2, 3, 5, 6)).astype(np.int32)
XN = np.array([[1.0, np.inf, -np.inf], [np.nan, 0.0, -2.5]], np.float32)
INPUTS = [("x", X, TP.FLOAT), ("xi", XI, TP.INT32), ("xp", np.abs(X) + 0.1, TP.FLOAT), ("xn", XN, TP.FLOAT)]
i64 = lambda *v: np.array(v, np.int64)
f32 = lambda *v: np.array(v, np.float32)
EMPTY = ""


def opset18():
    m = Model(18)
    for op in ["ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
               "ReduceSumSquare", "ReduceMean"]:
        src = "xp" if op == "ReduceLogSum" else "x"
        m.add(op, [src, i64(1, -1)])
        m.add(op, [src, i64(0, 2)], keepdims=0)
        m.add(op, [src])  # no axes: all of them
        m.add(op, [src, np.zeros(0, np.int64)], noop_with_empty_axes=1)
    m.add("Split", ["x"], 3, axis=1, num_outputs=3)
    m.add("Split", ["x"], 3, axis=-1, num_outputs=3)
    m.add("Split", ["x"], 2, axis=2, num_outputs=2)  # 5 into 3 and 2
    m.add("Split", ["xi", i64(2, 3)], 2, axis=2)
    m.add("Pad", ["x", i64(1, 2, 0, 3), EMPTY, i64(2, 3)])
    m.add("Pad", ["x", i64(2, 1, 1, 4), f32(1.5), i64(-1, 1)])
    m.add("Pad", ["x", i64(2, 3, 1, 2), EMPTY, i64(-2, -1)], mode="reflect")
    m.add("Pad", ["xi", i64(1, 1), EMPTY, i64(3)], mode="edge")
    m.add("Pad", ["x", i64(0, 1, 0, 0, 2, 0, 1, 0)], mode="edge")  # no axes: all
    m.add("Resize", ["x", EMPTY, f32(2.0, 1.5)], axes=[2, 3], mode="linear")
    m.add("Resize", ["x", EMPTY, f32(0.5)], axes=[-1], mode="nearest")
    m.add("Resize", ["x", EMPTY, EMPTY, i64(7, 9)], axes=[2, 3], mode="linear", keep_aspect_ratio_policy="not_larger")
    m.add("Resize", ["x", EMPTY, EMPTY, i64(7, 9)], axes=[2, 3], mode="cubic", keep_aspect_ratio_policy="not_smaller")
    m.add("Resize", ["x", EMPTY, EMPTY, i64(2, 3, 4, 4)], mode="nearest", keep_aspect_ratio_policy="not_larger")
    m.add("Resize", ["x", EMPTY, EMPTY, i64(10, 11)], axes=[3, 2], mode="linear")
    m.add("Resize", ["x", EMPTY, f32(1, 1, 2, 3)], mode="linear", antialias=1)  # upscaling: antialias changes nothing
    return m


def lp_pool():
    """LpPool at 11 (pads, auto_pad, p 1 to 3, 1-D too) and 18 (ceil_mode, dilations)."""
    m = Model(11)
    m.add("LpPool", ["x"], kernel_shape=[2, 3])
    m.add("LpPool", ["x"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 0], p=1)
    m.add("LpPool", ["x"], kernel_shape=[2, 2], auto_pad="SAME_UPPER", p=3)
    m.add("LpPool", [rng.standard_normal((2, 3, 9)).astype(np.float32)], kernel_shape=[4], strides=[2])
    return m


def lp_pool18():
    m = Model(18)
    m.add("LpPool", ["x"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    m.add("LpPool", ["x"], kernel_shape=[2, 2], dilations=[2, 1], p=3)
    return m


def opset18_scatter():
    """The scatters' max and min, with repeated indices (order-free), on FLOAT and INT32; and
    CenterCropPad: crops and pads, odd differences, axes given or not."""
    m = Model(18)
    m.add("CenterCropPad", ["x", i64(2, 3, 3, 4)])
    m.add("CenterCropPad", ["x", i64(2, 3, 8, 9)])
    m.add("CenterCropPad", ["x", i64(4, 9)], axes=[2, 3])
    m.add("CenterCropPad", ["xi", i64(1, 3)], axes=[-1, 0])
    m.add("CenterCropPad", ["xi", i64(10)], axes=[1])
    # Col2Im: overlapping blocks summed; strides, dilations and pads
    m.add("Col2Im", [rng.standard_normal((2, 12, 16)).astype(np.float32), i64(5, 6), i64(2, 3)])
    span = lambda img, b, s, d, p0, p1: (img + p0 + p1 - d * (b - 1) - 1) // s + 1
    cols = span(7, 3, 2, 1, 1, 1) * span(6, 2, 1, 2, 0, 1)
    m.add("Col2Im", [rng.standard_normal((1, 3 * 6, cols)).astype(np.float32), i64(7, 6), i64(3, 2)],
          strides=[2, 1], dilations=[1, 2], pads=[1, 0, 1, 1])
    ie = rng.integers(0, 3, (2, 2, 5, 6)).astype(np.int64)
    ind = i64(0, 1, 1, 2, 0, 1, 1, 0).reshape(4, 2)
    for red in ("max", "min"):
        m.add("ScatterElements", ["x", ie, rng.standard_normal((2, 2, 5, 6)).astype(np.float32)], axis=1, reduction=red)
        m.add("ScatterElements", ["xi", ie, rng.integers(-60, 60, (2, 2, 5, 6)).astype(np.int32)], axis=1, reduction=red)
        m.add("ScatterND", ["x", ind, rng.standard_normal((4, 5, 6)).astype(np.float32)], reduction=red)
        m.add("ScatterND", ["xi", ind, rng.integers(-60, 60, (4, 5, 6)).astype(np.int32)], reduction=red)
    return m


def opset19():
    m = Model(19)
    m.add("Pad", ["x", i64(0, 0, 2, 4, 0, 0, 3, 7)], mode="wrap")  # pads beyond the axis wrap again
    m.add("Pad", ["xi", i64(1, 2), EMPTY, i64(-1)], mode="wrap")
    m.add("Resize", ["x", EMPTY, f32(1, 1, 1.7, 2.3)], mode="linear", coordinate_transformation_mode="half_pixel_symmetric")
    m.add("Resize", ["x", EMPTY, EMPTY, i64(2, 3, 8, 4)], mode="nearest",
          coordinate_transformation_mode="half_pixel_symmetric")
    m.add("Resize", ["x", EMPTY, f32(1, 1, 0.6, 0.7)], mode="cubic", coordinate_transformation_mode="half_pixel_symmetric")
    m.add("AveragePool", ["x"], kernel_shape=[2, 2], dilations=[2, 2])
    m.add("AveragePool", ["x"], kernel_shape=[3, 2], dilations=[1, 3], pads=[1, 1, 1, 1], strides=[2, 1])
    m.add("AveragePool", ["x"], kernel_shape=[2, 3], dilations=[2, 2], pads=[1, 0, 1, 2], count_include_pad=1)
    m.add("Cast", ["xi"], to=TP.FLOAT)
    m.add("Identity", ["x"])
    m.add("Reshape", ["x", i64(2, -1)])
    m.add("Shape", ["x"], start=1)
    m.add("Size", ["x"])
    m.add("Equal", ["xi", np.array([3], np.int32)])
    return m


def opset20():
    m = Model(20)
    m.add("ConstantOfShape", [i64(2, 3)], value=__import__("onnx").helper.make_tensor("v", TP.FLOAT, [1], [2.5]))
    m.add("IsInf", ["xn"])
    m.add("IsInf", ["xn"], detect_negative=0)
    m.add("IsNaN", ["xn"])
    m.add("ReduceMax", ["x", i64(1)])
    m.add("ReduceMin", ["x", i64(0, 3)], keepdims=0)
    return m


def opset21():
    """A small classifier and the ops whose version 21 only adds types, at IR 10."""
    m = Model(21, ir_version=10)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.3
    c = m.add("Conv", ["x", w, rng.standard_normal(4).astype(np.float32)], pads=[1, 1, 1, 1])[0]
    r = m.add("Relu", [c])[0]
    p = m.add("MaxPool", [r], kernel_shape=[2, 2], strides=[2, 2])[0]
    t = m.add("Transpose", [p], perm=[0, 2, 3, 1])[0]
    f = m.add("Flatten", [t])[0]
    g = m.add("Gemm", [f, rng.standard_normal((4 * 2 * 3, 5)).astype(np.float32)])[0]
    m.add("Softmax", [g])
    u = m.add("Unsqueeze", ["x", i64(0)])[0]
    m.add("Squeeze", [u, i64(0)])
    m.add("Pad", ["x", i64(1, 1), f32(0.5), i64(2)])
    m.add("Reshape", ["xi", i64(0, -1)])
    m.add("Cast", ["x"], to=TP.INT32)
    m.add("ConstantOfShape", [i64(3)])
    m.add("Size", ["xi"])
    m.add("Identity", ["xi"])
    return m


def refused(d):
    """(name, model, message): versions and forms sinter does not follow."""
    cases = []
    m = Model(18)
    m.add("Split", ["x", i64(1, 2)], 2, axis=1, num_outputs=2)
    cases.append(("split_both", m, "takes the split input or num_outputs, not both (opset 18)"))
    m = Model(18)
    m.add("Split", ["x"], 3, axis=1, num_outputs=2)
    cases.append(("split_count", m, "num_outputs is 2 but the node has 3 outputs (opset 18)"))
    m = Model(17)
    m.add("Pad", ["x", i64(1, 1), EMPTY, i64(2)])
    cases.append(("pad_axes_17", m, "Pad-17 takes no axes input (it has one from opset 18)"))
    m = Model(18)
    m.add("Pad", ["x", i64(0, 0, 1, 1, 0, 0, 1, 1)], mode="wrap")
    cases.append(("pad_wrap_18", m, "mode 'wrap' is not supported (constant, reflect, edge are; "
                  "opset 18)"))
    m = Model(18)
    m.add("Pad", ["x", i64(1, 1, 1, 1), EMPTY, i64(1, -3)])
    cases.append(("pad_axes_repeated", m, "axes value -3 is out of range or repeated for rank 4 "
                  "(opset 18)"))
    m = Model(18)
    m.add("Resize", ["x", EMPTY, f32(1, 1, 0.5, 0.5)], mode="linear", antialias=1)
    cases.append(("resize_antialias", m, "antialias when downscaling is not supported yet "
                  "(opset 18)"))
    m = Model(18)
    m.add("Resize", ["x", EMPTY, EMPTY, i64(1, 4611686018427387904)], axes=[2, 3], keep_aspect_ratio_policy="not_smaller")
    cases.append(("resize_huge_size", m, "sizes value 4611686018427387904 is out of range (1 to 16777216)"))
    m = Model(18)
    m.add("Resize", ["x", EMPTY, EMPTY, i64(16000000, 1)], axes=[2, 3], keep_aspect_ratio_policy="not_smaller")
    cases.append(("resize_aspect_overflow", m, "axis 3 would have size 19200000"))
    m = Model(17)
    m.add("Resize", ["x", EMPTY, f32(2.0)], axes=[2])
    cases.append(("resize_axes_17", m, "attribute 'axes' is not an attribute of Resize-13 (Resize has it from "
                  "opset 18); expected one of: coordinate_transformation_mode, cubic_coeff_a, exclude_outside, "
                  "extrapolation_value, mode, nearest_mode"))
    m = Model(18)
    m.add("Col2Im", [np.zeros((1, 12, 15), np.float32), i64(5, 6), i64(2, 3)])
    cases.append(("col2im_cols", m, "the input has shape (1, 12, 15): dim 1 must be a multiple of 6 and dim 2 be 16"))
    m = Model(18)
    m.add("CenterCropPad", ["x", i64(2, 2)], axes=[1, -3])
    cases.append(("crop_axes", m, "an axis is out of range or repeated"))
    m = Model(16)
    m.add("ScatterElements", ["x", np.zeros((1, 1, 1, 1), np.int64), np.ones((1, 1, 1, 1), np.float32)], reduction="max")
    cases.append(("scatter_max_16", m, "reduction 'max' is not supported at opset 16 (none, add or mul; max and min "
                  "from opset 18)"))
    m = Model(17)
    m.add("Mish", ["x"])
    cases.append(("mish_17", m, "node 'n0_Mish': op Mish does not exist before opset 18 (the node is read at opset 17)"))
    m = Model(22, ir_version=10)
    m.add("Relu", ["x"])
    cases.append(("opset_22", m, "ai.onnx opset 22 is not supported (sinter reads opsets 1 to 21)"))
    return sum(check_refused(d, sinter, n, m, INPUTS, msg) for n, m, msg in cases), len(cases)


with tempfile.TemporaryDirectory() as d:
    failed = sum(run_model(d, str(o), f(), INPUTS, sinter, ort_run, ort_modules)
                 for o, f in [(18, opset18), ("18s", opset18_scatter), (19, opset19), (20, opset20), (21, opset21),
                              ("11lp", lp_pool), ("18lp", lp_pool18)])
    bad, n_bad = refused(d)
    if not bad:
        print(f"ok {n_bad} unsupported forms refused")
    failed += bad
print("PASS" if not failed else f"{failed} failures")
sys.exit(1 if failed else 0)
