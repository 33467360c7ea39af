"""QuantizeLinear, DequantizeLinear (opsets 10, 13, 19, 21) and DynamicQuantizeLinear (11)
against ONNX Runtime, exactly: per-tensor, per-axis (axis 0, 1, -1) and blocked (21) scales, with
and without zero points, UINT8/INT8/UINT16/INT16 (16-bit from 21, output_dtype), INT32 inputs,
quotients at .5 (rounded half to even) and far out of range (saturated). Then the QDQ form of a
convolution (DequantizeLinear of INT8 weights feeding a float Conv), and malformed nodes."""
import os
import sys
import tempfile

import numpy as np
from onnx import TensorProto as TP

sys.path.insert(0, os.path.dirname(__file__))
import ortcompare  # noqa: E402
from ortcompare import Model  # noqa: E402

sinter, ort_run, ort_modules = sys.argv[1:4]
rng = np.random.default_rng(21)
X = (rng.standard_normal((2, 3, 4, 5)) * 40).astype(np.float32)
X[0, 0, 0, :5] = [0.5, 1.5, 2.5, -0.5, -1.5]  # ties at scale 1
X[0, 0, 1, :2] = [1e9, -1e9]
XI = rng.integers(-2000, 2000, (2, 3, 4, 5)).astype(np.int32)
Q8 = rng.integers(0, 255, (2, 3, 4, 5), dtype=np.uint8)
S8 = rng.integers(-128, 127, (2, 3, 4, 5)).astype(np.int8)
INPUTS = [("x", X, TP.FLOAT), ("xi", XI, TP.INT32), ("q8", Q8, TP.UINT8), ("s8", S8, TP.INT8)]
f32 = lambda *v: np.array(v, np.float32)
scal = lambda v, t=np.float32: np.array(v, t)


def models():
    out = []
    m = Model(10)
    m.add("QuantizeLinear", ["x", scal(1.0)])
    m.add("QuantizeLinear", ["x", scal(0.37), scal(128, np.uint8)])
    m.add("QuantizeLinear", ["x", scal(0.5), scal(-3, np.int8)])
    m.add("DequantizeLinear", ["q8", scal(0.1), scal(100, np.uint8)])
    m.add("DequantizeLinear", ["s8", scal(0.02)])
    m.add("DequantizeLinear", ["xi", scal(0.001)])
    out.append(("q10", m))
    m = Model(13)
    m.add("QuantizeLinear", ["x", f32(0.5, 1.0, 2.0), np.array([0, 10, 250], np.uint8)])  # axis 1 by default
    m.add("QuantizeLinear", ["x", f32(0.3, 0.7), np.array([-5, 5], np.int8)], axis=0)
    m.add("QuantizeLinear", ["x", f32(1, 2, 3, 4, 5), np.array([1, 2, 3, 4, 5], np.uint8)], axis=-1)
    m.add("DequantizeLinear", ["q8", f32(0.1, 0.2, 0.3), np.array([1, 2, 3], np.uint8)])
    m.add("DequantizeLinear", ["s8", f32(0.5, 0.25, 0.125, 1.0), np.array([0, 1, -1, 2], np.int8)], axis=2)
    out.append(("q13", m))
    m = Model(19, ir_version=9)
    m.add("QuantizeLinear", ["x", scal(0.25), scal(7, np.int8)], saturate=1)
    m.add("DequantizeLinear", ["s8", f32(1.5, 2.5), np.array([3, -3], np.int8)], axis=0)
    out.append(("q19", m))
    m = Model(21, ir_version=10)
    m.add("QuantizeLinear", ["x", scal(0.01), scal(1000, np.int16)])
    m.add("QuantizeLinear", ["x", scal(0.02)], output_dtype=TP.UINT16)
    m.add("QuantizeLinear", ["x", scal(0.5)], output_dtype=TP.INT8)
    blk = rng.uniform(0.1, 2, (2, 3, 2, 5)).astype(np.float32)  # axis 2 (4) in blocks of 3
    m.add("QuantizeLinear", ["x", blk, rng.integers(0, 255, (2, 3, 2, 5), dtype=np.uint8)], axis=2, block_size=3)
    m.add("DequantizeLinear", ["q8", blk, rng.integers(0, 255, (2, 3, 2, 5), dtype=np.uint8)], axis=2, block_size=3)
    m.add("DequantizeLinear", ["s8", rng.uniform(0.1, 2, (1, 3, 4, 5)).astype(np.float32)], axis=0, block_size=2)
    out.append(("q21", m))
    m = Model(11)
    m.add("DynamicQuantizeLinear", ["x"], n_out=3)
    m.add("DynamicQuantizeLinear", [np.abs(X)], n_out=3)   # min 0
    m.add("DynamicQuantizeLinear", [-np.abs(X)], n_out=3)  # max 0
    out.append(("dyn", m))
    m = Model(13)  # QDQ: INT8 weights dequantized per output channel into a float Conv
    w = rng.integers(-127, 127, (4, 3, 3, 3)).astype(np.int8)
    (dq,) = m.add("DequantizeLinear", [w, f32(0.01, 0.02, 0.03, 0.04), np.zeros(4, np.int8)], axis=0)
    m.nodes[-1].output[0] = "wq"
    m.outs.remove(dq)
    m.add("Conv", ["x", "wq"], pads=[1, 1, 1, 1])
    out.append(("qdq_conv", m))
    return out


def refused(d):
    cases = []
    m = Model(10)
    m.add("QuantizeLinear", ["x", f32(0.5, 1.0, 2.0)])
    cases.append(("per_axis10", m, "QuantizeLinear-10 takes a scalar scale (per-axis scales from opset 13)"))
    m = Model(13)
    m.add("QuantizeLinear", ["x", f32(0.5, 1.0)])
    cases.append(("axis_len", m, "the scale has shape (2,), expected a scalar, (3) per axis 1 of the input (2, 3, 4, 5)"))
    m = Model(13)
    m.add("QuantizeLinear", ["x", f32(0.5, 1.0, 2.0), np.zeros(2, np.uint8)])
    cases.append(("zp_shape", m, "the zero point's shape differs from the scale's"))
    m = Model(21, ir_version=10)
    m.add("QuantizeLinear", ["x", scal(0.5), scal(1, np.int8)], output_dtype=TP.UINT8)
    cases.append(("output_dtype", m, "output_dtype 2 differs from the zero point's type INT8"))
    return ortcompare.refuse_all(d, sinter, cases, INPUTS)


def main():
    failed = 0
    with tempfile.TemporaryDirectory() as d:
        for name, m in models():
            failed += ortcompare.run_model(d, name, m, INPUTS, sinter, ort_run, ort_modules, rtol=1e-6)
        failed += refused(d)
    return ortcompare.finish("check_ops_quant", failed)


sys.exit(main())
