#!/usr/bin/env python3
"""Element types per op (issue 9): fixtures built here with onnx.helper, run through `sinter run`,
checked against ONNX Runtime (FLOAT16), PyTorch in float64 (DOUBLE: ONNX Runtime's CPU provider
has no DOUBLE Conv or AveragePool) or exact integer references (wrapping, x / 0 = 0).

usage: dtypes.py SINTER WORKDIR CASE
  (CASE: float16 float64 float64_kernels ints bfloat16 refused refused_all alltypes_f alltypes_h alltypes_s alltypes_u)
Prints PASS <case> or FAIL lines; exit status 0 only when everything matched."""
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh

SINTER, WORK, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
ORT_RUN = os.path.join(SRC, "..", "shared", "reference", "ort_run.js")
fails = []


def fail(msg):
    fails.append(msg)
    print("FAIL " + msg)


# Ops that opsets after 13 introduced are built at their first opset (an older one refuses them).
INTRODUCED = {"Mish": 18, "GroupNormalization": 18, "Gelu": 20, "AffineGrid": 20, "BitwiseAnd": 18, "BitwiseOr": 18,
              "BitwiseXor": 18, "BitwiseNot": 18, "BlackmanWindow": 17, "HammingWindow": 17, "HannWindow": 17,
              "GridSample": 16, "LpPool": 2, "HardSwish": 14, "LayerNormalization": 17, "RoiAlign": 16, "Col2Im": 18,
              "CenterCropPad": 18, "DeformConv": 19}


def save(path, nodes, inputs, outputs, inits=(), opset=13):
    g = h.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.save(m, path)


def vi(name, t, shape=None):
    return h.make_tensor_value_info(name, t, shape)


def write_pb(path, arr, name, dtype=None):
    t = nh.from_array(arr, name)
    if dtype is not None:
        t.data_type = dtype
    with open(path, "wb") as f:
        f.write(t.SerializeToString())
    return path


def read_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return t


def run(cmd, env=None, check=True):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode < 0:
        fail(f"{cmd[0]} killed by signal {-p.returncode}: {p.stderr[-2000:]}")
    elif check and p.returncode != 0:
        fail(f"{' '.join(cmd)} exit {p.returncode}: {p.stderr[-2000:]}")
    return p


def sinter_run(model, inputs, out, env=None):
    p = run([SINTER, "run", model] + inputs + ["-o", out], env=env)
    if p.returncode != 0:
        return None
    return [read_pb(os.path.join(out, f"output_{i}.pb")) for i in range(len(onnx.load(model).graph.output))]


def ort_run(model, inputs, out):
    env = dict(os.environ, ORT_NODE_MODULES=os.path.join(SRC, ".deps", "ort", "node_modules"))
    p = run(["node", ORT_RUN, model] + inputs + ["-o", out], env=env)
    if p.returncode != 0:
        return None
    return [nh.to_array(read_pb(os.path.join(out, f"output_{i}.pb"))) for i in range(len(onnx.load(model).graph.output))]


def compare(case, names, got, want, dtype, tol):
    """got: TensorProtos from sinter; want: arrays; tol(name) -> (rtol_floor, atol) scale."""
    for name, g, w in zip(names, got, want):
        if g.data_type != dtype:
            fail(f"{case}: output {name} has type {g.data_type}, want {dtype}")
            continue
        a = nh.to_array(g).astype(np.float64)
        b = np.asarray(w, dtype=np.float64)
        if a.shape != b.shape:
            fail(f"{case}: output {name} has shape {a.shape}, want {b.shape}")
            continue
        t = tol(name)
        with np.errstate(invalid="ignore"):
            err = np.where(a == b, 0.0, np.abs(a - b) / np.maximum(1.0, np.abs(b)))  # inf == inf is exact
        err[np.isnan(a) & np.isnan(b)] = 0.0
        if not np.all(err <= t):
            i = int(np.argmax(err))
            fail(f"{case}: output {name} differs: {a.flat[i]} vs {b.flat[i]} (relative {err.flat[i]:.3g} > {t})")
        elif err.size:
            print(f"{case}: {name} max error {float(err.max()):.3g} (bound {t})")


# ---- a small CNN-shaped graph over every float op, in one model per type ----

def float_graph(t, npt, rng):
    """Nodes, inputs, outputs and initializers of one graph exercising the float ops in type t."""
    def init(name, shape, scale=1.0, positive=False):
        a = rng.standard_normal(shape) * scale
        return nh.from_array((np.abs(a) + 0.5 if positive else a).astype(npt), name)
    inits = [init("W", (4, 3, 3, 3), 0.3), init("B", (4,)), init("g", (4,)), init("b", (4,)), init("mu", (4,)),
             init("var", (4,), positive=True), init("WT", (4, 2, 3, 3), 0.3), init("GB", (16, 5), 0.3),
             init("GC", (5,)), init("MM", (5, 3))]
    n = h.make_node
    nodes = [
        n("Conv", ["X", "W", "B"], ["conv"], pads=[1, 1, 1, 1], name="conv"),
        n("BatchNormalization", ["conv", "g", "b", "mu", "var"], ["bn"], epsilon=1e-3, name="bn"),
        n("Relu", ["bn"], ["relu"], name="relu"),
        n("MaxPool", ["relu"], ["maxpool"], kernel_shape=[2, 2], strides=[2, 2], name="maxpool"),
        n("AveragePool", ["relu"], ["avgpool"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], name="avgpool"),
        n("ConvTranspose", ["maxpool", "WT"], ["convt"], strides=[2, 2], name="convt"),
        n("GlobalAveragePool", ["relu"], ["gap"], name="gap"),
        n("GlobalMaxPool", ["relu"], ["gmp"], name="gmp"),
        n("Flatten", ["maxpool"], ["flat0"], name="flat"),
        n("Gemm", ["flat0", "GB", "GC"], ["gemm"], name="gemm"),
        n("MatMul", ["gemm", "MM"], ["matmul"], name="matmul"),
        n("Softmax", ["gemm"], ["softmax"], axis=1, name="softmax"),
        n("LogSoftmax", ["gemm"], ["logsoftmax"], axis=1, name="logsoftmax"),
        n("Sigmoid", ["gemm"], ["sigmoid"], name="sigmoid"),
        n("Tanh", ["gemm"], ["tanh"], name="tanh"),
        n("Add", ["gemm", "GC"], ["add"], name="add"),
        n("Mul", ["gemm", "GC"], ["mul"], name="mul"),
        n("Sub", ["gemm", "GC"], ["sub"], name="sub"),
        n("Div", ["gemm", "GC"], ["div"], name="div"),
        n("Max", ["gemm", "GC"], ["max"], name="max"),
        n("Abs", ["gemm"], ["abs"], name="abs"),
        n("Neg", ["gemm"], ["neg"], name="neg"),
        n("Exp", ["gemm"], ["exp"], name="exp"),
    ]
    outs = ["conv", "bn", "maxpool", "avgpool", "convt", "gap", "gmp", "gemm", "matmul", "softmax", "logsoftmax",
            "sigmoid", "tanh", "add", "mul", "sub", "div", "max", "abs", "neg", "exp"]
    return nodes, [vi("X", t, [1, 3, 4, 4])], [vi(o, t) for o in outs], inits, outs


def float16_case():
    rng = np.random.default_rng(1)
    nodes, ins, outs, inits, names = float_graph(TP.FLOAT16, np.float16, rng)
    model = os.path.join(WORK, "float16.onnx")
    save(model, nodes, ins, outs, inits)
    x = write_pb(os.path.join(WORK, "float16_x.pb"), rng.standard_normal((1, 3, 4, 4)).astype(np.float16), "X")
    got = sinter_run(model, [x], os.path.join(WORK, "float16_out"))
    want = ort_run(model, [x], os.path.join(WORK, "float16_ort"))
    if got is None or want is None:
        return
    # FLOAT16 has 11 significant bits: a few units of 2^-11 after several rounded ops.
    compare("float16", names, got, want, TP.FLOAT16, lambda name: 4e-3)


def torch_reference(inits, x):
    import torch
    import torch.nn.functional as F
    w = {i.name: torch.from_numpy(nh.to_array(i).astype(np.float64)) for i in inits}
    X = torch.from_numpy(x)
    r = {}
    r["conv"] = F.conv2d(X, w["W"], w["B"], padding=1)
    r["bn"] = (r["conv"] - w["mu"][None, :, None, None]) / torch.sqrt(w["var"][None, :, None, None] + float(np.float32(1e-3))) * \
        w["g"][None, :, None, None] + w["b"][None, :, None, None]
    relu = torch.relu(r["bn"])
    r["maxpool"] = F.max_pool2d(relu, 2, 2)
    r["avgpool"] = F.avg_pool2d(relu, 3, 2, padding=1, count_include_pad=False)
    r["convt"] = F.conv_transpose2d(r["maxpool"], w["WT"], stride=2)
    r["gap"] = relu.mean(dim=(2, 3), keepdim=True)
    r["gmp"] = relu.amax(dim=(2, 3), keepdim=True)
    gemm = r["maxpool"].reshape(1, -1) @ w["GB"] + w["GC"]
    r["gemm"] = gemm
    r["matmul"] = gemm @ w["MM"]
    r["softmax"] = torch.softmax(gemm, 1)
    r["logsoftmax"] = torch.log_softmax(gemm, 1)
    r["sigmoid"], r["tanh"] = torch.sigmoid(gemm), torch.tanh(gemm)
    r["add"], r["mul"], r["sub"], r["div"] = gemm + w["GC"], gemm * w["GC"], gemm - w["GC"], gemm / w["GC"]
    r["max"], r["abs"], r["neg"], r["exp"] = torch.maximum(gemm, w["GC"]), gemm.abs(), -gemm, gemm.exp()
    return {k: v.numpy() for k, v in r.items()}


def float64_case():
    rng = np.random.default_rng(2)
    nodes, ins, outs, inits, names = float_graph(TP.DOUBLE, np.float64, rng)
    model = os.path.join(WORK, "float64.onnx")
    save(model, nodes, ins, outs, inits)
    xa = rng.standard_normal((1, 3, 4, 4))
    x = write_pb(os.path.join(WORK, "float64_x.pb"), xa, "X")
    got = sinter_run(model, [x], os.path.join(WORK, "float64_out"))
    if got is None:
        return
    ref = torch_reference(inits, xa)
    # Every op of the graph computes in double (Conv, pools, ConvTranspose, Gemm and MatMul in
    # runtime/kernels/f64.c or emitted loops): sums of <= 48 terms stay far under 1e-10, where
    # float32 kernels would be off by ~1e-7.
    compare("float64", names, got, [ref[k] for k in names], TP.DOUBLE, lambda name: 1e-10)
    # Elementwise ops alone compute in double: exact to double rounding.
    model2 = os.path.join(WORK, "float64_elementwise.onnx")
    n = h.make_node
    ops = [("Add", 2), ("Sub", 2), ("Mul", 2), ("Div", 2), ("Max", 2), ("Min", 2), ("Abs", 1), ("Neg", 1),
           ("Exp", 1), ("Sigmoid", 1), ("Tanh", 1), ("Relu", 1), ("Sqrt", 1)]
    nodes2 = [n(op, ["a", "b"][:k], [op.lower()], name=op.lower()) for op, k in ops]
    save(model2, nodes2, [vi("a", TP.DOUBLE, [7]), vi("b", TP.DOUBLE, [7])], [vi(op.lower(), TP.DOUBLE) for op, _ in ops])
    a = np.array([1e-300, 1 / 3, 2.5, 1e10 + 1, 0.1, 7.0, 1.0000000000000002])
    b = np.array([3.0, 7.0, -0.3, 1e-10, 0.7, 2.0, 1.0])
    pa, pb = write_pb(os.path.join(WORK, "f64a.pb"), a, "a"), write_pb(os.path.join(WORK, "f64b.pb"), b, "b")
    got = sinter_run(model2, [pa, pb], os.path.join(WORK, "float64_elementwise_out"))
    if got is None:
        return
    with np.errstate(over="ignore"):
        e = np.exp(a)  # exp(1e10) is inf in both
    want = [a + b, a - b, a * b, a / b, np.maximum(a, b), np.minimum(a, b), np.abs(a), -a, e,
            1 / (1 + np.exp(-a)), np.tanh(a), np.maximum(a, 0), np.sqrt(a)]
    compare("float64_elementwise", [op for op, _ in ops], got, want, TP.DOUBLE, lambda name: 4e-16)
    # BatchNormalization, Softmax, LogSoftmax and the global pools loop in double: float32 would
    # be off by ~1e-7; double by ~1e-13 (BatchNormalization folds to x * s + t, which cancels).
    model3 = os.path.join(WORK, "float64_loops.onnx")
    xa = rng.standard_normal((2, 3, 2, 2)) * 3
    bn = [rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3), rng.uniform(0.5, 2, 3)]
    inits = [nh.from_array(v, k) for v, k in zip(bn, ["g", "b", "mu", "var"])]
    nodes3 = [n("BatchNormalization", ["x", "g", "b", "mu", "var"], ["bn"], epsilon=1e-5, name="bn"),
              n("Softmax", ["x"], ["softmax"], axis=1, name="softmax"), n("LogSoftmax", ["x"], ["logsoftmax"], axis=1, name="lsm"),
              n("GlobalAveragePool", ["x"], ["gap"], name="gap"), n("GlobalMaxPool", ["x"], ["gmp"], name="gmp")]
    names = ["bn", "softmax", "logsoftmax", "gap", "gmp"]
    save(model3, nodes3, [vi("x", TP.DOUBLE, [2, 3, 2, 2])], [vi(k, TP.DOUBLE) for k in names], inits)
    got = sinter_run(model3, [write_pb(os.path.join(WORK, "f64x.pb"), xa, "x")], os.path.join(WORK, "float64_loops_out"))
    if got is None:
        return
    c = lambda v: v[None, :, None, None]
    e = np.exp(xa - xa.max(1, keepdims=True))
    want = [(xa - c(bn[2])) / np.sqrt(c(bn[3]) + 1e-5) * c(bn[0]) + c(bn[1]), e / e.sum(1, keepdims=True),
            xa - xa.max(1, keepdims=True) - np.log(e.sum(1, keepdims=True)), xa.mean((2, 3), keepdims=True),
            xa.max((2, 3), keepdims=True)]
    compare("float64_loops", names, got, want, TP.DOUBLE, lambda name: 1e-12)


def float64_kernels_case():
    """Conv, ConvTranspose, MaxPool, AveragePool, Gemm and MatMul in DOUBLE over their attributes,
    against PyTorch in float64 (ONNX Runtime's CPU provider has no DOUBLE Conv or AveragePool)."""
    import torch
    import torch.nn.functional as F
    rng = np.random.default_rng(3)
    n = h.make_node
    arrs = {"W": rng.standard_normal((6, 2, 3, 3)), "B": rng.standard_normal(6),
            "W1": rng.standard_normal((4, 4, 2, 2)), "g": rng.standard_normal(4), "b": rng.standard_normal(4),
            "mu": rng.standard_normal(4), "var": rng.uniform(0.5, 2, 4),
            "WT": rng.standard_normal((4, 3, 3, 3)), "BT": rng.standard_normal(6),
            "GB": rng.standard_normal((5, 12)), "GC": rng.standard_normal((3, 5)), "GR": rng.standard_normal(5),
            "MB": rng.standard_normal((3, 4, 5)), "WC1": rng.standard_normal((4, 2, 3))}
    inits = [nh.from_array(v, k) for k, v in arrs.items()]
    nodes = [
        # groups 2, stride 2, dilation 2, asymmetric pads, bias
        n("Conv", ["X", "W", "B"], ["conv"], group=2, strides=[2, 1], dilations=[2, 2], pads=[1, 2, 2, 1], name="conv"),
        # a fused ReLU, and a BatchNormalization after a conv that is not an output (the fold's path)
        n("Conv", ["X", "W1"], ["c1"], pads=[0, 1, 0, 1], name="c1"),
        n("Relu", ["c1"], ["c1relu"], name="c1relu"),
        n("BatchNormalization", ["c1", "g", "b", "mu", "var"], ["c1bn"], epsilon=1e-5, name="c1bn"),
        n("MaxPool", ["X"], ["maxpool", "maxidx"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
          dilations=[1, 2], name="maxpool"),
        n("MaxPool", ["X"], ["maxceil"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1, name="maxceil"),
        n("AveragePool", ["X"], ["avgceil"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1,
          count_include_pad=1, name="avgceil"),
        n("AveragePool", ["X"], ["avgnopad"], kernel_shape=[3, 2], strides=[2, 1], pads=[1, 1, 1, 1], ceil_mode=1,
          count_include_pad=0, name="avgnopad"),
        # ConvTranspose: groups 2, stride 2, dilation 2, pads, output_padding, bias
        n("ConvTranspose", ["X", "WT", "BT"], ["convt"], group=2, strides=[2, 2], dilations=[1, 2], pads=[1, 0, 0, 1],
          output_padding=[1, 1], name="convt"),
        n("Gemm", ["GA", "GB", "GC"], ["gemm"], transA=1, transB=1, alpha=0.75, beta=-1.5, name="gemm"),
        n("Gemm", ["GA2", "GB", "GR"], ["gemm2"], transB=1, alpha=2.0, name="gemm2"),
        n("MatMul", ["MA", "MB"], ["matmul"], name="matmul"),
        n("MatMul", ["MV", "MB"], ["matvec"], name="matvec"),
        # 1 and 3 spatial axes
        n("Conv", ["X1", "WC1"], ["conv1d"], group=2, strides=[2], dilations=[2], pads=[1, 2], name="conv1d"),
        n("AveragePool", ["X1"], ["avg1d"], kernel_shape=[3], strides=[2], pads=[1, 1], count_include_pad=1, name="avg1d"),
        n("MaxPool", ["X3"], ["max3d"], kernel_shape=[2, 3, 2], strides=[2, 2, 1], pads=[0, 1, 1, 0, 1, 1], name="max3d"),
    ]
    outs = ["conv", "c1relu", "c1bn", "maxpool", "maxidx", "maxceil", "avgceil", "avgnopad", "convt", "gemm",
            "gemm2", "matmul", "matvec", "conv1d", "avg1d", "max3d"]
    xs = {"X": rng.standard_normal((2, 4, 7, 7)), "GA": rng.standard_normal((12, 3)), "GA2": rng.standard_normal((3, 12)),
          "MA": rng.standard_normal((2, 1, 3, 4)), "MV": rng.standard_normal(4), "X1": rng.standard_normal((2, 4, 9)),
          "X3": rng.standard_normal((1, 2, 4, 5, 6))}
    ins = [vi(k, TP.DOUBLE, list(v.shape)) for k, v in xs.items()]
    outvi = [vi(o, TP.INT64 if o == "maxidx" else TP.DOUBLE) for o in outs]
    model = os.path.join(WORK, "float64_kernels.onnx")
    save(model, nodes, ins, outvi, inits)
    pbs = [write_pb(os.path.join(WORK, f"f64k_{k}.pb"), v, k) for k, v in xs.items()]
    got = sinter_run(model, pbs, os.path.join(WORK, "float64_kernels_out"))
    if got is None:
        return
    t = {k: torch.from_numpy(v) for k, v in {**arrs, **xs}.items()}
    X = t["X"]
    r = {}
    r["conv"] = F.conv2d(F.pad(X, (2, 1, 1, 2)), t["W"], t["B"], stride=(2, 1), dilation=2, groups=2)
    c1 = F.conv2d(F.pad(X, (1, 1, 0, 0)), t["W1"])
    r["c1relu"] = torch.relu(c1)
    c = lambda v: v[None, :, None, None]
    r["c1bn"] = (c1 - c(t["mu"])) / torch.sqrt(c(t["var"]) + float(np.float32(1e-5))) * c(t["g"]) + c(t["b"])
    mp, idx = F.max_pool2d(X, 3, 2, padding=1, dilation=(1, 2), return_indices=True)
    r["maxpool"] = mp
    plane = torch.arange(2 * 4).reshape(2, 4, 1, 1) * 49  # ONNX indices count batch and channel
    r["maxidx"] = idx + plane
    r["maxceil"] = F.max_pool2d(X, 2, 2, ceil_mode=True)
    r["avgceil"] = F.avg_pool2d(X, 3, 2, padding=1, ceil_mode=True, count_include_pad=True)
    r["avgnopad"] = F.avg_pool2d(X, (3, 2), (2, 1), padding=1, ceil_mode=True, count_include_pad=False)
    # ONNX pads [top, left, bottom, right] = [1, 0, 0, 1]: PyTorch takes symmetric padding, so
    # crop the unpadded full output: rows [1, end - 0), cols [0, end - 1), output_padding added to the end.
    full = F.conv_transpose2d(X, t["WT"], t["BT"], stride=2, dilation=(1, 2), groups=2, output_padding=1)
    r["convt"] = full[:, :, 1:, :full.shape[3] - 1]
    r["gemm"] = 0.75 * t["GA"].T @ t["GB"].T - 1.5 * t["GC"]
    r["gemm2"] = 2.0 * t["GA2"] @ t["GB"].T + t["GR"]
    r["matmul"] = t["MA"] @ t["MB"]
    r["matvec"] = t["MV"] @ t["MB"]
    r["conv1d"] = F.conv1d(F.pad(t["X1"], (1, 2)), t["WC1"], stride=2, dilation=2, groups=2)
    r["avg1d"] = F.avg_pool1d(t["X1"], 3, 2, padding=1, count_include_pad=True)
    r["max3d"] = F.max_pool3d(t["X3"], (2, 3, 2), (2, 2, 1), padding=(0, 1, 1))
    want = [r[o].numpy() for o in outs]
    # Sums of <= 36 double products: a few units of 2^-52, where float32 would give ~1e-7.
    k = outs.index("maxidx")
    compare("float64_kernels", outs[:k] + outs[k + 1:], got[:k] + got[k + 1:], want[:k] + want[k + 1:], TP.DOUBLE,
            lambda name: 1e-10)
    compare("float64_kernels", ["maxidx"], [got[k]], [want[k]], TP.INT64, lambda name: 0)


# ---- integers: exact references with the documented semantics ----

INT_TYPES = [(TP.INT8, np.int8), (TP.UINT8, np.uint8), (TP.INT32, np.int32), (TP.INT64, np.int64)]


def wrap(v, npt):
    bits = np.iinfo(npt).bits
    v = int(v) & ((1 << bits) - 1)
    if np.iinfo(npt).min < 0 and v >= 1 << (bits - 1):
        v -= 1 << bits
    return v


def int_div(x, y, npt):
    if y == 0:
        return 0
    q = abs(int(x)) // abs(int(y))
    return wrap(q if (x < 0) == (y < 0) else -q, npt)


def int_mod(x, y, fmod):
    """ONNX Mod with sinter's documented corner: x mod 0 = 0 (and MIN mod -1 = 0, as it should be)."""
    x, y = int(x), int(y)
    if y == 0:
        return 0
    if fmod:
        r = abs(x) % abs(y)
        return -r if x < 0 else r
    return x % y  # Python's remainder has the divisor's sign


def ints_case():
    # The generated C of this case is built with UBSan: any overflow or division UB aborts.
    env = dict(os.environ, CFLAGS="-fsanitize=undefined -fno-sanitize-recover=all")
    for t, npt in INT_TYPES:
        info = np.iinfo(npt)
        lo, hi = int(info.min), int(info.max)
        a = np.array([hi, lo, lo, 7, -7 if lo < 0 else 7, 0, hi, lo, 5, 100 % (hi + 1)], dtype=npt)
        b = np.array([1, -1 if lo < 0 else 1, 0, 0, 2, 0, hi, -1 if lo < 0 else 3, -2 if lo < 0 else 2, 3], dtype=npt)
        name = np.dtype(npt).name
        n = h.make_node
        ops = ["Add", "Sub", "Mul", "Div", "Max", "Min"] + (["Abs", "Neg"] if lo < 0 else ["Abs"])
        nodes = [n(op, ["a", "b"] if op not in ("Abs", "Neg") else ["a"], [op.lower()], name=op.lower()) for op in ops]
        nodes.append(n("MatMul", ["m1", "m2"], ["matmul"], name="matmul"))
        outs = [o.lower() for o in ops]
        inputs = [vi("a", t, [10]), vi("b", t, [10])]
        have_mm = t in (TP.INT32, TP.INT64)
        if have_mm:
            inputs += [vi("m1", t, [2, 2, 3]), vi("m2", t, [3, 2])]
            outs.append("matmul")
        else:
            nodes.pop()
        model = os.path.join(WORK, f"ints_{name}.onnx")
        save(model, nodes, inputs, [vi(o, t) for o in outs], opset=14)
        files = [write_pb(os.path.join(WORK, f"{name}_a.pb"), a, "a"), write_pb(os.path.join(WORK, f"{name}_b.pb"), b, "b")]
        want = [[wrap(int(x) + int(y), npt) for x, y in zip(a, b)], [wrap(int(x) - int(y), npt) for x, y in zip(a, b)],
                [wrap(int(x) * int(y), npt) for x, y in zip(a, b)], [int_div(x, y, npt) for x, y in zip(a, b)],
                np.maximum(a, b), np.minimum(a, b), [wrap(abs(int(x)), npt) for x in a]]
        if lo < 0:
            want.append([wrap(-int(x), npt) for x in a])
        if have_mm:
            m1 = np.array([[[hi, 2, 3], [4, lo, 6]], [[-1, 0, 1], [hi, hi, hi]]], dtype=npt)
            m2 = np.array([[1, hi], [2, -3], [lo, 5]], dtype=npt)
            files += [write_pb(os.path.join(WORK, f"{name}_m1.pb"), m1, "m1"), write_pb(os.path.join(WORK, f"{name}_m2.pb"), m2, "m2")]
            mm = [[[wrap(sum(int(m1[b_, i, k]) * int(m2[k, j]) for k in range(3)), npt) for j in range(2)] for i in range(2)]
                  for b_ in range(2)]
            want.append(mm)
        got = sinter_run(model, files, os.path.join(WORK, f"ints_{name}_out"), env=env)
        if got is None:
            continue
        for o, g, w in zip(outs, got, want):
            if g.data_type != t:
                fail(f"ints {name}: {o} has type {g.data_type}, want {t}")
            elif nh.to_array(g).astype(object).tolist() != np.asarray(w, dtype=object).tolist():
                fail(f"ints {name}: {o} = {nh.to_array(g).tolist()}, want {np.asarray(w).tolist()}")
    # test_maxpool_2d_uint8 of the ONNX suite (opset 12), and INT8 with negative values.
    for t, npt in [(TP.UINT8, np.uint8), (TP.INT8, np.int8)]:
        name = np.dtype(npt).name
        model = os.path.join(WORK, f"maxpool_{name}.onnx")
        save(model, [h.make_node("MaxPool", ["x"], ["y"], kernel_shape=[5, 5], pads=[2, 2, 2, 2])],
             [vi("x", t, [1, 1, 5, 5])], [vi("y", t, [1, 1, 5, 5])], opset=12)
        x = (np.arange(1, 26) if npt == np.uint8 else np.arange(-25, 0) * 5 + 3).astype(npt).reshape(1, 1, 5, 5)
        got = sinter_run(model, [write_pb(os.path.join(WORK, f"mp_{name}.pb"), x, "x")], os.path.join(WORK, f"mp_{name}_out"))
        pad = np.pad(x[0, 0].astype(np.int64), 2, constant_values=-10**9)
        want = np.array([[pad[i:i + 5, j:j + 5].max() for j in range(5)] for i in range(5)]).reshape(1, 1, 5, 5)
        if got is not None and (got[0].data_type != t or nh.to_array(got[0]).tolist() != want.tolist()):
            fail(f"maxpool {name}: got {nh.to_array(got[0]).tolist()} type {got[0].data_type}, want {want.tolist()}")


# ---- bfloat16 Cast, with the ONNX 1.12 test data layout (BFLOAT16 values in UINT16 tensors) ----

def bf16_bits(f):
    """float32 -> bfloat16 bits, round to nearest even (NaN stays NaN)."""
    u = np.asarray(f, dtype=np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(f)
    r[nan] = (u[nan] >> 16).astype(np.uint16) | 0x40
    return r


def bfloat16_case():
    f = np.array([0.47892547, 0.48033667, 0.49968487, 0.81910545, 0.47031248, 0.816468, 0.21087195, 0.7229038,
                  np.nan, np.inf, -np.inf, -1.00390625 - 2**-9], dtype=np.float32).reshape(3, 4)
    to = os.path.join(WORK, "cast_to_bf16.onnx")
    save(to, [h.make_node("Cast", ["x"], ["y"], to=TP.BFLOAT16)], [vi("x", TP.FLOAT, [3, 4])], [vi("y", TP.BFLOAT16, [3, 4])])
    got = sinter_run(to, [write_pb(os.path.join(WORK, "bf_x.pb"), f, "x")], os.path.join(WORK, "bf_to_out"))
    if got is not None:
        bits = np.frombuffer(got[0].raw_data, dtype=np.uint16) if got[0].raw_data else np.array(got[0].int32_data, dtype=np.uint16)
        if got[0].data_type != TP.BFLOAT16 or bits.tolist() != bf16_bits(f).ravel().tolist():
            fail(f"Cast FLOAT->BFLOAT16: type {got[0].data_type}, bits {bits.tolist()}, want {bf16_bits(f).ravel().tolist()}")
    bfloat16_backend_case()
    frm = os.path.join(WORK, "cast_from_bf16.onnx")
    save(frm, [h.make_node("Cast", ["x"], ["y"], to=TP.FLOAT)], [vi("x", TP.BFLOAT16, [3, 4])], [vi("y", TP.FLOAT, [3, 4])])
    bits = bf16_bits(f)
    want = (bits.astype(np.uint32) << 16).view(np.float32)
    # As onnx 1.12's backend test writes it: a UINT16 tensor holding the bfloat16 bits.
    x = write_pb(os.path.join(WORK, "bf_bits.pb"), bits, "x")
    got = sinter_run(frm, [x], os.path.join(WORK, "bf_from_out"))
    if got is not None:
        y = nh.to_array(got[0])
        if got[0].data_type != TP.FLOAT or not np.array_equal(y, want, equal_nan=True):
            fail(f"Cast BFLOAT16->FLOAT: {y.tolist()}, want {want.tolist()}")


def bfloat16_backend_case():
    """test_cast_BFLOAT16_to_FLOAT as onnx 1.12's backend test writes it (UINT16 data for a
    BFLOAT16 input), through `sinter onnx-test`."""
    f = np.array([0.47892547, 0.48033667, 0.49968487, 0.81910545, 0.47031248, 0.816468, 0.21087195, 0.7229038,
                  np.nan, np.inf, np.inf, -np.inf], dtype=np.float32)
    bits = f.view(np.uint16)[1::2].reshape(3, 4)  # little-endian: the high halves, as onnx 1.12 does
    case = os.path.join(WORK, "test_cast_BFLOAT16_to_FLOAT")
    os.makedirs(os.path.join(case, "test_data_set_0"), exist_ok=True)
    node = h.make_node("Cast", ["input"], ["output"], to=TP.FLOAT)
    save(os.path.join(case, "model.onnx"), [node], [vi("input", TP.BFLOAT16, [3, 4])], [vi("output", TP.FLOAT, [3, 4])])
    write_pb(os.path.join(case, "test_data_set_0", "input_0.pb"), bits, "input")
    write_pb(os.path.join(case, "test_data_set_0", "output_0.pb"), (bits.astype(np.uint32) << 16).view(np.float32), "output")
    p = run([SINTER, "onnx-test", case], check=False)
    if p.returncode != 0 or "1 passed, 0 failed" not in p.stdout:
        fail(f"onnx-test {case}: exit {p.returncode}: {p.stdout[-1000:]} {p.stderr[-1000:]}")


# ---- refused (op, type) pairs: exit 1, the exact first line, before any C compile ----

REFUSED = [
    # (op, attrs, input types, opset, first line after "sinter: error: ")
    ("MaxPool", {"kernel_shape": [2, 2]}, [TP.INT32], 12, "does not support type INT32 (input 1, 'x0'; supported: FLOAT, UINT8, INT8, FLOAT16, DOUBLE)"),
    ("MaxPool", {"kernel_shape": [2, 2]}, [TP.BFLOAT16], 12, "does not support type BFLOAT16 (input 1, 'x0'; supported: FLOAT, UINT8, INT8, FLOAT16, DOUBLE)"),
    ("AveragePool", {"kernel_shape": [2, 2]}, [TP.UINT8], 11, "does not support type UINT8 (input 1, 'x0'; supported: FLOAT, FLOAT16, DOUBLE)"),
    ("Conv", {}, [TP.INT8, TP.INT8], 11, "does not support type INT8 (input 1, 'x0'; supported: FLOAT, FLOAT16, DOUBLE)"),
    ("ConvTranspose", {}, [TP.INT64, TP.INT64], 11, "does not support type INT64 (input 1, 'x0'; supported: FLOAT, FLOAT16, DOUBLE)"),
    ("BatchNormalization", {}, [TP.INT32] * 5, 14, "does not support type INT32 (input 1, 'x0'; supported: FLOAT, FLOAT16, DOUBLE)"),
    ("Softmax", {}, [TP.INT64], 13, "does not support type INT64 (input 1, 'x0'; supported: FLOAT, FLOAT16, DOUBLE)"),
    ("LogSoftmax", {}, [TP.UINT8], 13, "does not support type UINT8 (input 1, 'x0'; supported: FLOAT, FLOAT16, DOUBLE)"),
    ("Gemm", {}, [TP.INT32, TP.INT32], 13, "does not support type INT32 (input 1, 'x0'; supported: FLOAT, FLOAT16, DOUBLE)"),
    ("MatMul", {}, [TP.INT8, TP.INT8], 13, "does not support type INT8 (input 1, 'x0'; supported: FLOAT, INT32, INT64, FLOAT16, DOUBLE, UINT32, UINT64)"),
    ("GlobalAveragePool", {}, [TP.INT32], 13, "does not support type INT32 (input 1, 'x0'; supported: FLOAT, FLOAT16, DOUBLE)"),
    ("Exp", {}, [TP.INT32], 13, "does not support type INT32 (input 1, 'x0'; supported: FLOAT, FLOAT16, DOUBLE, BFLOAT16)"),
    ("Neg", {}, [TP.UINT8], 13, "does not support type UINT8 (input 1, 'x0'; supported: FLOAT, INT8, INT16, INT32, INT64, FLOAT16, DOUBLE, BFLOAT16)"),
    ("Add", {}, [TP.BOOL, TP.BOOL], 14, "does not support type BOOL (input 1, 'x0'; supported: FLOAT, UINT8, INT8, UINT16, INT16, INT32, INT64, FLOAT16, DOUBLE, UINT32, UINT64, BFLOAT16)"),
    ("Gather", {}, [TP.FLOAT, TP.FLOAT], 13, "does not support type FLOAT (input 2, 'x1'; supported: INT32, INT64)"),
    ("Add", {}, [TP.FLOAT, TP.INT64], 13, "inputs 1 ('x0', FLOAT) and 2 ('x1', INT64) must have one type"),
    ("Mul", {}, [TP.FLOAT16, TP.FLOAT], 13, "inputs 1 ('x0', FLOAT16) and 2 ('x1', FLOAT) must have one type"),
    ("Conv", {}, [TP.FLOAT, TP.DOUBLE], 11, "inputs 1 ('x0', FLOAT) and 2 ('x1', DOUBLE) must have one type"),
]


def refused_case():
    for i, (op, attrs, types, opset, msg) in enumerate(REFUSED):
        model = os.path.join(WORK, f"refused_{i}_{op}.onnx")
        ins = [vi(f"x{k}", t, [1, 1, 4, 4]) for k, t in enumerate(types)]
        save(model, [h.make_node(op, [f"x{k}" for k in range(len(types))], ["y"], name="n", **attrs)], ins,
             [vi("y", types[0])], opset=opset)
        p = run([SINTER, "import", model, "-o", os.path.join(WORK, f"refused_{i}.nn")], check=False)
        first = (p.stderr.splitlines() or [""])[0]
        want = f"sinter: error: {model}: node 'n' ({op}, opset {opset}): " + \
            (msg if msg.startswith("inputs") else f"op {op} (opset {opset}) {msg}")
        if p.returncode != 1 or first != want:
            fail(f"refused {op} {types}: exit {p.returncode}, first line\n  {first}\nwant\n  {want}")


# ---- every element type through the type-generic ops, one model (one C compile) ----

ALL = [("FLOAT", TP.FLOAT, np.float32), ("UINT8", TP.UINT8, np.uint8), ("INT8", TP.INT8, np.int8),
       ("UINT16", TP.UINT16, np.uint16), ("INT16", TP.INT16, np.int16), ("INT32", TP.INT32, np.int32),
       ("INT64", TP.INT64, np.int64), ("BOOL", TP.BOOL, np.bool_), ("FLOAT16", TP.FLOAT16, np.float16),
       ("DOUBLE", TP.DOUBLE, np.float64), ("UINT32", TP.UINT32, np.uint32), ("UINT64", TP.UINT64, np.uint64),
       ("BFLOAT16", TP.BFLOAT16, np.uint16)]
FLOATS = ("FLOAT", "FLOAT16", "DOUBLE", "BFLOAT16")


def bf16_value(bits):
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def values(name, npt, rng, shape):
    """Test values of a type: the full range for integers (so + - * wrap), no zeros in y."""
    if name == "BOOL":
        return rng.integers(0, 2, shape).astype(np.bool_)
    if name == "BFLOAT16":
        return bf16_bits(rng.uniform(-3, 3, shape).astype(np.float32) + 0.25)
    if name in FLOATS:
        return (rng.uniform(-3, 3, shape) + 0.25).astype(npt)
    info = np.iinfo(npt)
    v = rng.integers(int(info.min), int(info.max), shape, dtype=npt, endpoint=True)
    v[v == 0] = 1
    return v


GROUPS = {"alltypes_f": ("FLOAT", "DOUBLE"), "alltypes_h": ("FLOAT16", "BFLOAT16"),
          "alltypes_s": ("INT8", "INT16", "INT32", "INT64", "BOOL"), "alltypes_u": ("UINT8", "UINT16", "UINT32", "UINT64")}


def alltypes_case():
    rng = np.random.default_rng(5)
    n = h.make_node
    nodes, ins, outs, inits, files, want = [], [], [], [], [], []
    shape = [2, 3]
    for name, t, npt in [a for a in ALL if a[0] in GROUPS[CASE]]:
        # One constant per reader: import makes a constant read at a weight slot that node's parameter.
        k = name.lower()
        inits += [nh.from_array(np.array([3, 2], np.int64), f"shape32_{k}"), nh.from_array(np.array([1, 0], np.int64), f"idx_{k}"),
                  nh.from_array(np.array([0], np.int64), f"ax0_{k}"), nh.from_array(np.array([0, 1, 0, 1], np.int64), f"pads_{k}")]
        x, y = values(name, npt, rng, shape), values(name, npt, rng, shape)
        if name not in FLOATS and name != "BOOL":
            # Division corner cases: a zero divisor, MIN / -1 (signed), and plain values.
            info = np.iinfo(npt)
            x[0, 0], y[0, 0], y[0, 1] = info.min, (-1 if info.min < 0 else 3), 0
        k = name.lower()
        xs, ys = f"x_{k}", f"y_{k}"
        ins += [vi(xs, t, shape), vi(ys, t, shape)]
        files += [write_pb(os.path.join(WORK, f"{xs}.pb"), x, xs, t), write_pb(os.path.join(WORK, f"{ys}.pb"), y, ys, t)]
        # Exact references: bits for moves; values computed in float32 (rounded once) or wrapped.
        def out(op, inputs, ref, out_t=t, **attrs):
            o = f"{op.lower()}_{k}_{len(nodes)}"
            nodes.append(n(op, inputs, [o], name=o, **attrs))
            outs.append(vi(o, out_t))
            want.append((o, out_t, ref))
        # The moves in one chain (a model has at most 64 outputs): every step copies bits.
        nodes.append(n("Transpose", [xs], [f"t1_{k}"], perm=[1, 0], name=f"t1_{k}"))
        nodes.append(n("Reshape", [f"t1_{k}", f"shape32_{k}"], [f"t2_{k}"], name=f"t2_{k}"))
        nodes.append(n("Concat", [f"t2_{k}", f"t2_{k}"], [f"t3_{k}"], axis=0, name=f"t3_{k}"))
        nodes.append(n("Gather", [f"t3_{k}", f"idx_{k}"], [f"t4_{k}"], axis=0, name=f"t4_{k}"))
        nodes.append(n("Unsqueeze", [f"t4_{k}", f"ax0_{k}"], [f"t5_{k}"], name=f"t5_{k}"))
        nodes.append(n("Flatten", [f"t5_{k}"], [f"t6_{k}"], axis=1, name=f"t6_{k}"))
        r = np.concatenate([x.T.reshape(3, 2)] * 2, 0)[[1, 0]][None].reshape(1, -1)
        if name != "BOOL":
            nodes.append(n("Pad", [f"t6_{k}", f"pads_{k}"], [f"t7_{k}"], name=f"t7_{k}"))
            r = np.pad(r, ((0, 0), (1, 1)))
        out("Identity", [f"t7_{k}" if name != "BOOL" else f"t6_{k}"], r)
        fx = bf16_value(x) if name == "BFLOAT16" else x.astype(np.float32)
        out("Cast", [xs], fx, out_t=TP.FLOAT, to=TP.FLOAT)
        if name == "BOOL":
            continue
        if name in FLOATS:
            fy = bf16_value(y) if name == "BFLOAT16" else y.astype(np.float64)
            fx = x.astype(np.float64) if name == "DOUBLE" else fx.astype(np.float64)
            rnd = (lambda v: bf16_bits(np.asarray(v, np.float32))) if name == "BFLOAT16" else (lambda v: np.asarray(v).astype(npt))
            for op, f in [("Add", fx + fy), ("Sub", fx - fy), ("Mul", fx * fy), ("Div", fx / fy), ("Max", np.maximum(fx, fy)),
                          ("Min", np.minimum(fx, fy))]:
                out(op, [xs, ys], rnd(f))
            from math import erf
            for op, f in [("Abs", abs(fx)), ("Neg", -fx), ("Relu", np.maximum(fx, 0)), ("Exp", np.exp(fx)),
                          ("Log", np.log(abs(fx))), ("Sqrt", np.sqrt(abs(fx))), ("Sigmoid", 1 / (1 + np.exp(-fx))),
                          ("Tanh", np.tanh(fx)), ("Erf", np.vectorize(erf)(fx))]:
                src = xs
                if op in ("Log", "Sqrt"):
                    src = f"abs_{k}"
                    nodes.append(n("Abs", [xs], [src], name=src))
                out(op, [src], rnd(f))
            out("Mod", [xs, ys], rnd(np.fmod(fx, fy)), fmod=1)
            out("LeakyRelu", [xs], rnd(np.where(fx >= 0, fx, np.float32(0.1) * fx)), alpha=0.1)
            out("Sum", [xs, ys, xs], rnd(rnd_sum(fx, fy, name)))
            continue
        bits = np.iinfo(npt).bits
        W = [lambda v: wrap(v, npt)]
        ints = lambda f: np.array([[W[0](f(int(a), int(b))) for a, b in zip(ra, rb)] for ra, rb in zip(x, y)], dtype=npt)
        out("Add", [xs, ys], ints(lambda a, b: a + b))
        out("Sub", [xs, ys], ints(lambda a, b: a - b))
        out("Mul", [xs, ys], ints(lambda a, b: a * b))
        out("Div", [xs, ys], ints(lambda a, b: int_div(a, b, npt)))
        out("Mod", [xs, ys], ints(lambda a, b: int_mod(a, b, 0)), fmod=0)
        out("Mod", [xs, ys], ints(lambda a, b: int_mod(a, b, 1)), fmod=1)
        out("Max", [xs, ys], np.maximum(x, y))
        out("Min", [xs, ys], np.minimum(x, y))
        out("Abs", [xs], ints(lambda a, b: abs(a)))
        if np.iinfo(npt).min < 0:
            out("Neg", [xs], ints(lambda a, b: -a))
            out("Relu", [xs], np.maximum(x, 0))
        lo, hi = np.array(-5 if np.iinfo(npt).min < 0 else 5, npt), np.array(100, npt)
        inits += [nh.from_array(lo, f"lo_{k}"), nh.from_array(hi, f"hi_{k}")]
        out("Clip", [xs, f"lo_{k}", f"hi_{k}"], np.clip(x, lo, hi))
        del bits
    if "FLOAT" in GROUPS[CASE]:
        # Cast of out-of-range floats to integers: saturated, NaN -> 0 (C leaves it undefined).
        z = np.array([1e10, -1e10, np.nan, 3.7, -3.7, 255.9, 2.0**63, -2.0**63, 2.0**64], np.float32)
        ins.append(vi("z", TP.FLOAT, [9]))
        files.append(write_pb(os.path.join(WORK, "z.pb"), z, "z"))
        for tname in ("INT8", "UINT8", "INT32", "INT64", "UINT64"):
            npt = dict((a[0], a[2]) for a in ALL)[tname]
            info = np.iinfo(npt)
            ref = [0 if v != v else int(info.min) if v <= info.min else int(info.max) if v >= info.max else int(v) for v in z.tolist()]
            o = f"cast_z_{tname.lower()}"
            nodes.append(n("Cast", ["z"], [o], to=getattr(TP, tname), name=o))
            outs.append(vi(o, getattr(TP, tname)))
            want.append((o, getattr(TP, tname), np.array(ref, dtype=npt)))
    model = os.path.join(WORK, f"{CASE}.onnx")
    save(model, nodes, ins, outs, inits, opset=14)
    env = dict(os.environ, CFLAGS="-fsanitize=undefined,float-cast-overflow -fno-sanitize-recover=all")
    got = sinter_run(model, files, os.path.join(WORK, "alltypes_out"), env=env)
    if got is None:
        return
    for (o, t, ref), g in zip(want, got):
        if g.data_type != t:
            fail(f"alltypes {o}: type {g.data_type}, want {t}")
            continue
        if t == TP.BFLOAT16:
            a = np.frombuffer(g.raw_data, dtype=np.uint16) if g.raw_data else np.array(g.int32_data, dtype=np.uint16)
            a = bf16_value(a).astype(np.float64).reshape(np.shape(ref))
            b = bf16_value(ref).astype(np.float64)
            tol = 2 ** -7  # one bfloat16 unit: float32 math rounded once, possibly the other way
        else:
            a, b = nh.to_array(g), np.asarray(ref)
            tol = {TP.FLOAT: 1e-6, TP.FLOAT16: 2 ** -10, TP.DOUBLE: 1e-15}.get(t, 0)
        if a.shape != b.shape:
            fail(f"alltypes {o}: shape {a.shape}, want {b.shape}")
        elif tol == 0:
            if a.tolist() != b.tolist():
                fail(f"alltypes {o}: {a.tolist()}, want {b.tolist()}")
        else:
            a, b = a.astype(np.float64), b.astype(np.float64)
            err = np.where(a == b, 0, np.abs(a - b) / np.maximum(1e-3, np.abs(b)))
            if not np.all(err <= tol * 1.01):
                fail(f"alltypes {o}: {a.tolist()}, want {b.tolist()}")


def rnd_sum(fx, fy, name):
    """Sum(x, y, x) as the generated loop does it: rounded to float32 per step for FLOAT16,
    BFLOAT16 and FLOAT (the compute type), in double for DOUBLE."""
    if name == "DOUBLE":
        return fx + fy + fx
    return (np.float32(fx) + np.float32(fy)) + np.float32(fx)


# ---- every (op, type) pair the table refuses: a clean error at import ----

UNIVERSE = [a[0] for a in ALL]


def types_table():
    text = subprocess.run([SINTER, "ops", "--types", "--markdown"], check=True, capture_output=True, text=True).stdout
    table = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("ONNX op", "---"):
            table[cells[0]] = [x.strip() for x in cells[1].split(",")]
    return table


# Inputs of each op: "T" (the type under test) or a constant of a fixed type.
def op_inputs(op):
    f32 = lambda name, v: nh.from_array(np.array(v, np.float32), name)
    i64 = lambda name, v: nh.from_array(np.array(v, np.int64), name)
    spec = {
        "Conv": ["T", "T"], "ConvTranspose": ["T", "T"], "BatchNormalization": ["T"] * 5, "Gemm": ["T", "T"],
        "MatMul": ["T", "T"], "Add": ["T", "T"], "Sub": ["T", "T"], "Mul": ["T", "T"], "Div": ["T", "T"],
        "Max": ["T", "T"], "Min": ["T", "T"], "Sum": ["T", "T"], "Mod": ["T", "T"], "Pow": ["T", f32("p", 2.0)],
        "Reshape": ["T", i64("s", [16])], "Unsqueeze": ["T", i64("a", [0])], "Squeeze": ["T", i64("a", [0])],
        "Gather": ["T", i64("i", [0])], "Pad": ["T", i64("p", [0, 0, 0, 0, 0, 0, 0, 0])],
        "Resize": ["T", "", f32("sc", [1, 1, 2, 2])], "ReduceSum": ["T", i64("a", [1])],
        **{op: ["T", "T"] for op in ("PRelu", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor")},
        "InstanceNormalization": ["T"] * 3, "GroupNormalization": ["T"] * 3, "LayerNormalization": ["T", "T"], "TopK": ["T", i64("k", [1])],
        "CastLike": ["T", "T"],
        # shape-determining inputs: constants of the type under test ("C", value v), so the type is what is refused
        "ConstantOfShape": [("C", [1])], "Range": [("C", 0), ("C", 1), ("C", 1)],  # 0 and 1: valid BOOLs too
        "MaxUnpool": ["T", i64("i", np.zeros((1, 1, 4, 4)))], "GatherND": ["T", i64("i", [[0]])],
        "ScatterElements": ["T", i64("i", np.zeros((1, 1, 1, 1))), "T"], "ScatterND": ["T", i64("i", [[0]]), "T"],
        "Scatter": ["T", i64("i", np.zeros((1, 1, 1, 1))), "T"], "CumSum": ["T", i64("a", 0)],
        "OneHot": ["T", i64("d", 3), f32("v", [0, 1])],
        **{op: ["T", "T"] for op in ("BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "ConvInteger", "MatMulInteger",
                                     "GridSample")},
        "QuantizeLinear": ["T", f32("s", 1.0)], "DequantizeLinear": ["T", f32("s", 1.0)],
        **{op: ["T", f32("s", 1.0), "T", "T", f32("s", 1.0), "T", f32("s", 1.0), "T"] for op in ("QLinearConv", "QLinearMatMul")},
        "NegativeLogLikelihoodLoss": ["T", i64("t", [0])], "SoftmaxCrossEntropyLoss": ["T", i64("t", [0])],
        "RoiAlign": ["T", "T", i64("b", [0])], "DeformConv": ["T", "T", "T"], "Col2Im": ["T", i64("im", [2, 2]), i64("bl", [1, 1])], "AffineGrid": ["T", i64("sz", [1, 1, 2, 2])],
        **{op: [("C", 1)] for op in ("HannWindow", "HammingWindow", "BlackmanWindow")},
    }
    return spec.get(op, ["T"])


ATTRS = {"MaxPool": {"kernel_shape": [2, 2]}, "AveragePool": {"kernel_shape": [2, 2]}, "Cast": {"to": TP.FLOAT},
         "Concat": {"axis": 0}, "ReduceMean": {"axes": [1]}, "GroupNormalization": {"num_groups": 1},
         "MaxUnpool": {"kernel_shape": [2, 2]}, "LpPool": {"kernel_shape": [2, 2]}}


def refused_all_case():
    table = types_table()
    count = 0
    for op, ok in sorted(table.items()):
        for tname in UNIVERSE:
            if tname in ok:
                continue
            t = getattr(TP, tname)
            ins, inits, names = [], [], []
            for k, s in enumerate(op_inputs(op)):
                if isinstance(s, tuple):
                    v = np.array(s[1])
                    names.append(f"x{k}")
                    inits.append(h.make_tensor(f"x{k}", t, list(v.shape), v.flatten().tolist()))
                elif s == "T":
                    names.append(f"x{k}")
                    ins.append(vi(f"x{k}", t, [1, 1, 4, 4]))
                elif s == "":
                    names.append("")
                else:
                    names.append(s.name)
                    inits.append(s)
            model = os.path.join(WORK, f"{op}_{tname}.onnx")
            outs = [vi("y", t)] + ([vi("i", TP.INT64)] if op == "TopK" else [])
            opset = INTRODUCED.get(op, 13)
            save(model, [h.make_node(op, names, [o.name for o in outs], name="n", **ATTRS.get(op, {}))], ins, outs, inits,
                 opset=opset)
            p = run([SINTER, "import", model, "-o", os.path.join(WORK, "x.nn")], check=False)
            first = (p.stderr.splitlines() or [""])[0]
            want = (f"sinter: error: {model}: node 'n' ({op}, opset {opset}): op {op} (opset {opset}) does not support type "
                    f"{tname} (input 1, 'x0'; supported: {', '.join(ok)})")
            count += 1
            if p.returncode != 1 or first != want:
                fail(f"{op} {tname}: exit {p.returncode}, first line\n  {first}\nwant\n  {want}")
    if count < 100:
        fail(f"only {count} refused pairs: the table was not read")


os.makedirs(WORK, exist_ok=True)
{"float16": float16_case, "float64": float64_case, "float64_kernels": float64_kernels_case, "ints": ints_case, "bfloat16": bfloat16_case,
 "refused": refused_case, "refused_all": refused_all_case, **{g: alltypes_case for g in GROUPS}}[CASE]()
if fails:
    sys.exit(1)
print(f"PASS {CASE}")
