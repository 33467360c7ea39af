"""ConvInteger, MatMulInteger (opset 10), QLinearConv (10) and QLinearMatMul (10, 21) against
ONNX Runtime, exactly: UINT8 and INT8 operands, zero points per tensor and per output channel /
row / column, groups, strides, dilations, pads and auto_pad, 1-D and 2-D convolutions, batch
broadcasting of the products, per-channel weight scales, INT32 bias, saturation. Malformed nodes
are refused with their exact messages."""
import os
import sys
import tempfile

import numpy as np
from onnx import TensorProto as TP

sys.path.insert(0, os.path.dirname(__file__))
import ortcompare  # noqa: E402
from ortcompare import Model  # noqa: E402

sinter, ort_run, ort_modules = sys.argv[1:4]
rng = np.random.default_rng(10)
u8 = lambda *s: rng.integers(0, 256, s, dtype=np.uint8)
i8 = lambda *s: rng.integers(-128, 128, s).astype(np.int8)
f32 = lambda *v: np.array(v, np.float32)
XU = u8(2, 4, 9, 11)
XS = i8(2, 4, 9, 11)
X1 = u8(2, 3, 17)
AU = u8(2, 5, 7)
AS = i8(3, 1, 5, 7)
INPUTS = [("xu", XU, TP.UINT8), ("xs", XS, TP.INT8), ("x1", X1, TP.UINT8), ("au", AU, TP.UINT8), ("as", AS, TP.INT8)]


def models():
    m = Model(10)
    # ConvInteger: ORT has UINT8 x with UINT8 or INT8 w
    m.add("ConvInteger", ["xu", u8(6, 4, 3, 3)])
    m.add("ConvInteger", ["xu", u8(6, 4, 3, 3), np.array(100, np.uint8), np.array(7, np.uint8)], pads=[1, 1, 1, 1])
    m.add("ConvInteger", ["xu", u8(6, 2, 3, 2), np.array(3, np.uint8)], group=2, strides=[2, 1], dilations=[1, 2],
          pads=[0, 1, 2, 1])
    m.add("ConvInteger", ["xu", u8(4, 4, 3, 3)], auto_pad="SAME_UPPER", strides=[2, 2])
    m.add("ConvInteger", ["x1", u8(5, 3, 4), np.array(9, np.uint8)], pads=[2, 1])
    # QLinearConv: per-tensor and per-channel weight scales and zero points, bias, both types
    m.add("QLinearConv", ["xu", f32(0.05), np.array(128, np.uint8), u8(6, 4, 3, 3), f32(0.02), np.array(120, np.uint8),
                          f32(0.7), np.array(110, np.uint8)], pads=[1, 1, 1, 1])
    m.add("QLinearConv", ["xu", f32(0.05), np.array(128, np.uint8), i8(6, 4, 3, 3),
                          rng.uniform(0.005, 0.05, 6).astype(np.float32), np.zeros(6, np.int8), f32(0.3),
                          np.array(5, np.uint8), rng.integers(-5000, 5000, 6).astype(np.int32)], strides=[2, 2])
    m.add("QLinearConv", ["xs", f32(0.1), np.array(-3, np.int8), i8(4, 2, 1, 1), f32(0.01), np.array(0, np.int8),
                          f32(0.02), np.array(-10, np.int8)], group=2)
    m.add("QLinearConv", ["xu", f32(1.0), np.array(0, np.uint8), u8(2, 4, 3, 3), f32(1.0), np.array(0, np.uint8),
                          f32(0.001), np.array(0, np.uint8)])  # saturates high
    # MatMulInteger: zero points per tensor, per row of A, per column of B; broadcast batches
    m.add("MatMulInteger", ["au", u8(7, 4)])
    m.add("MatMulInteger", ["au", u8(7, 4), np.array(5, np.uint8), u8(4)])  # ORT: no per-row zero points of A
    m.add("MatMulInteger", ["au", i8(2, 7, 4), np.array(10, np.uint8), np.array(-3, np.int8)])
    m.add("MatMulInteger", ["au", u8(3, 1, 7, 2)])  # batch (3, 2)
    # QLinearMatMul: per-column b scale and zero point
    m.add("QLinearMatMul", ["au", f32(0.1), np.array(100, np.uint8), u8(7, 4), f32(0.05), np.array(90, np.uint8),
                            f32(0.8), np.array(120, np.uint8)])
    m.add("QLinearMatMul", ["as", f32(0.2), np.array(1, np.int8), i8(7, 4), rng.uniform(0.01, 0.1, 4).astype(np.float32),
                            np.zeros(4, np.int8), f32(0.5), np.array(-2, np.int8)])
    return [("qlinear10", m)]


def per_row(d):
    """MatMulInteger with a zero point per row of A, judged by numpy (ONNX Runtime refuses it)."""
    m = Model(10)
    zp, b = u8(5), u8(7, 4)
    m.add("MatMulInteger", ["au", b, zp])
    p, ys = ortcompare.run_sinter(d, sinter, "rows", m, INPUTS[3:4])
    want = (AU.astype(np.int64) - zp.astype(np.int64)[:, None]) @ b.astype(np.int64)
    got = ys[0] if ys else None
    if got is None or got.dtype != np.int32 or not np.array_equal(got, want):
        print(f"FAIL per-row zero points of A: {p.stderr.strip()}")
        return 1
    print("ok per-row zero points of A against numpy")
    return 0


def refused(d):
    cases = []
    m = Model(10)
    m.add("ConvInteger", ["xu", u8(6, 3, 3, 3)])
    cases.append(("ci_groups", m, "w's shape does not fit 4 input channels in 1 groups"))
    m = Model(10)
    m.add("MatMulInteger", ["au", u8(6, 4)])
    cases.append(("mi_k", m, "A has 7 columns and B 6 rows"))
    m = Model(10)
    m.add("QLinearConv", ["xu", f32(0.05), np.array(128, np.uint8), u8(6, 4, 3, 3), f32(0.02), np.array(120, np.uint8),
                          f32(0.7), np.array(110, np.uint8), np.zeros(5, np.int32)])
    cases.append(("qc_bias", m, "B must be INT32 with one value per output channel (6)"))
    m = Model(10)
    m.add("QLinearMatMul", ["au", f32(0.1, 0.2), np.array(100, np.uint8), u8(7, 4), f32(0.05), np.array(90, np.uint8),
                            f32(0.8), np.array(120, np.uint8)])
    cases.append(("qm_scale", m, "the scales must be FLOAT: a_scale and y_scale one value, b_scale one or one per column"))
    return ortcompare.refuse_all(d, sinter, cases, INPUTS)


def main():
    failed = 0
    with tempfile.TemporaryDirectory() as d:
        for name, m in models():
            failed += ortcompare.run_model(d, name, m, INPUTS, sinter, ort_run, ort_modules)
        failed += per_row(d) + refused(d)
    return ortcompare.finish("check_ops_qlinear", failed)


sys.exit(main())
