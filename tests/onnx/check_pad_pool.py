"""A constant Pad right before a pool folds into the pool at inference (compiler/passes/fold_pad.c):
a max pool's padding then holds the pad's value (Keras's ZeroPadding2D + MaxPooling2D, where the
zeros beat negative inputs), a zero pad before an average pool becomes padding counted in the
mean. Each chain against ONNX Runtime (inputs mostly negative near the borders, so a wrong pad
value shows), windows lying wholly in the padding, 1-D, 2-D and 3-D pools, dilation; and the
chains that must not fold (the pool's own -inf padding, ceil_mode, a channel pad, edge mode, a
non-zero pad before an average) still run as two nodes: the generated C is counted."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto as TP

sys.path.insert(0, os.path.dirname(__file__))
import ortcompare  # noqa: E402
from ortcompare import Model  # noqa: E402

sinter, ort_run, ort_modules = sys.argv[1:4]
rng = np.random.default_rng(7)
X = (rng.standard_normal((2, 3, 7, 9)) - 0.8).astype(np.float32)
X1 = (rng.standard_normal((2, 3, 9)) - 0.8).astype(np.float32)
X3 = (rng.standard_normal((1, 2, 4, 5, 6)) - 0.8).astype(np.float32)
INPUTS = [("x", X, TP.FLOAT), ("x1", X1, TP.FLOAT), ("x3", X3, TP.FLOAT)]


def chain(m, x, rank, spatial_pads, pool, value=0.0, mode="constant", channel=0, **attrs):
    """Pad (spatial begins then ends, optionally a channel pad) then the pool; only the pool's
    output stays a graph output, so the pad has one reader."""
    sp = rank - 2
    pads = [0, channel] + list(spatial_pads[:sp]) + [0, 0] + list(spatial_pads[sp:])
    ins = [x, np.array(pads, np.int64)] + ([np.array(value, np.float32)] if mode == "constant" else [])
    (p,) = m.add("Pad", ins, mode=mode)
    m.outs.remove(p)
    m.add(pool, [p], **attrs)


def models():
    m = Model(13)
    folded = 0
    # folds
    chain(m, "x", 4, [1, 1, 1, 1], "MaxPool", kernel_shape=[3, 3], strides=[2, 2])  # ResNet's stem
    chain(m, "x", 4, [0, 2, 1, 0], "MaxPool", value=0.3, kernel_shape=[2, 2])
    chain(m, "x", 4, [3, 0, 0, 3], "MaxPool", value=-2.0, kernel_shape=[2, 2])  # windows wholly in the pad
    chain(m, "x", 4, [2, 2, 2, 2], "MaxPool", kernel_shape=[2, 3], dilations=[2, 2], strides=[1, 2])
    chain(m, "x", 4, [1, 1, 1, 1], "AveragePool", kernel_shape=[3, 3])
    chain(m, "x", 4, [1, 0, 0, 1], "AveragePool", kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1)
    chain(m, "x1", 3, [2, 1], "MaxPool", kernel_shape=[3], strides=[2])
    chain(m, "x3", 5, [1, 0, 1, 0, 1, 1], "MaxPool", kernel_shape=[2, 2, 2])
    folded = len(m.nodes) // 2
    # stay two nodes
    chain(m, "x", 4, [1, 1, 1, 1], "MaxPool", kernel_shape=[3, 3], pads=[1, 0, 0, 0])
    chain(m, "x", 4, [1, 1, 1, 1], "MaxPool", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    chain(m, "x", 4, [1, 1, 1, 1], "MaxPool", channel=1, kernel_shape=[2, 2])
    chain(m, "x", 4, [1, 1, 1, 1], "MaxPool", mode="edge", kernel_shape=[2, 2])
    chain(m, "x", 4, [1, 1, 1, 1], "AveragePool", value=1.0, kernel_shape=[2, 2])
    chain(m, "x", 4, [1, 1, 1, 1], "AveragePool", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    return m, len(m.nodes) // 2 - folded


def pads_left(d, m):
    """How many Pad kernels the generated C of m still calls."""
    path = os.path.join(d, "count.onnx")
    onnx.save(m.proto("count", INPUTS), path)
    c = os.path.join(d, "c")
    p = subprocess.run([sinter, "compile", path, "-o", os.path.join(d, "exe"), "--emit-c", c], capture_output=True, text=True)
    if p.returncode:
        print(f"FAIL compile: {p.stderr.strip()}")
        return -1
    src = [f for f in os.listdir(c) if f.endswith(".c") and f != "main.c"]
    return sum(open(os.path.join(c, f)).read().count("snt_k_pad(") for f in src)


def main():
    failed = 0
    m, kept = models()
    with tempfile.TemporaryDirectory() as d:
        failed += ortcompare.run_model(d, "pad_pool", m, INPUTS, sinter, ort_run, ort_modules, rtol=1e-6)
        n = pads_left(d, m)
        if n != kept:
            print(f"FAIL {n} Pad kernels left in the generated C, expected {kept} (the chains that must not fold)")
            failed += 1
        else:
            print(f"ok {len(m.nodes) // 2 - kept} pads folded into their pools, {kept} kept")
    return ortcompare.finish("check_pad_pool", failed)


sys.exit(main())
