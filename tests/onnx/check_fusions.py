"""GELU and LayerNorm written as their formulas (PyTorch 1.13 at opset 13: Div by sqrt 2, Erf, Add 1,
two Muls; ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt, Div, Mul gamma, Add beta), which
compiler/passes/fuse_gelu.c and fuse_layer_norm.c turn into one gelu and one layer_norm node.
Checked against ONNX Runtime and PyTorch (<= 1e-5 relative to max(1, |reference|)), and by the ops
of the compiled plan: the exported forms fuse (LayerNorm over one and two trailing axes, with and
without gamma and beta), so do tf2onnx's orders of GELU's Muls written by hand; a GELU whose Erf
another node reads, one scaled by 1.5 instead of 1 / sqrt 2, the tanh approximation and a
ReduceMean over a leading axis stay as they are. A MatMul by a [K, N] weight and the Add of an
N-vector become one matmul with the bias (and a following GELU or ReLU) in its store
(passes/fuse_matmul.c); a bias broadcast down the rows or a product another node reads stay.
Pow by 2, 3 and 0.5 (emitted without libm) gives pow's bits on special values.
usage: check_fusions.py SINTER ORT_RUN_JS ORT_NODE_MODULES"""
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper
from torch import nn
from torch.nn import functional as F

sinter, ort_run, ort_modules = sys.argv[1:4]
warnings.filterwarnings("ignore")
torch.manual_seed(0)
X = torch.randn(2, 5, 6, 8, generator=torch.Generator().manual_seed(1)) * 3


class Block(nn.Module):
    """ConvNeXt's MLP: LayerNorm over the channels, Linear, GELU, Linear, and LayerNorms over two
    trailing axes and without an affine part; the tanh GELU and a norm over axis 1 by hand."""

    def __init__(self):
        super().__init__()
        self.ln = nn.LayerNorm(8)
        self.l1, self.l2 = nn.Linear(8, 16), nn.Linear(16, 8)
        self.ln2 = nn.LayerNorm([6, 8])
        self.ln3 = nn.LayerNorm(8, elementwise_affine=False)
        with torch.no_grad():
            for p in (self.ln.weight, self.ln.bias, self.ln2.weight, self.ln2.bias):
                p.uniform_(-1.5, 1.5)

    def forward(self, x):
        y = x + self.l2(F.gelu(self.l1(self.ln(x))))
        lead = (x - x.mean(1, keepdim=True)) / torch.sqrt(((x - x.mean(1, keepdim=True)) ** 2).mean(1, keepdim=True) + 1e-5)
        return y, self.ln2(y) * 2, self.ln3(y), F.gelu(x, approximate="tanh"), lead


def hand_gelus(m):
    """tf2onnx's (x * 0.5) * (1 + erf(x * 0.7071)), x * ((erf(x / sqrt 2) + 1) * 0.5); then an Erf
    another node reads too and a scale of 1.5: those two stay."""
    c = {"half": 0.5, "one": 1.0, "isq": 0.70710678118654752, "sq": 1.41421356237309505, "bad": 1.5}
    m.graph.initializer.extend(numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in c.items())
    nodes = [
        ("Mul", ["x", "isq"], "a_u"), ("Erf", ["a_u"], "a_e"), ("Add", ["one", "a_e"], "a_s"),
        ("Mul", ["x", "half"], "a_h"), ("Mul", ["a_h", "a_s"], "gelu_a"),
        ("Div", ["x", "sq"], "b_u"), ("Erf", ["b_u"], "b_e"), ("Add", ["b_e", "one"], "b_s"),
        ("Mul", ["b_s", "half"], "b_h"), ("Mul", ["x", "b_h"], "gelu_b"),
        ("Div", ["x", "sq"], "c_u"), ("Erf", ["c_u"], "c_e"), ("Add", ["c_e", "one"], "c_s"),
        ("Mul", ["x", "c_s"], "c_m"), ("Mul", ["c_m", "half"], "gelu_c"), ("Neg", ["c_e"], "c_neg"),
        ("Mul", ["x", "bad"], "d_u"), ("Erf", ["d_u"], "d_e"), ("Add", ["d_e", "one"], "d_s"),
        ("Mul", ["x", "d_s"], "d_m"), ("Mul", ["d_m", "half"], "gelu_d")]
    m.graph.node.extend(helper.make_node(op, ins, [out], name=out) for op, ins, out in nodes)
    m.graph.output.extend(helper.make_empty_tensor_value_info(t) for t in ("gelu_a", "gelu_b", "gelu_c", "c_neg", "gelu_d"))


W = np.linspace(-1, 1, 32, dtype=np.float32).reshape(8, 4)
B4, ROWB = np.asarray([0.5, -1, 2, 0.25], np.float32), np.linspace(-2, 2, 6, dtype=np.float32).reshape(6, 1)


def hand_matmuls(m):
    """x @ W + a [6, 1] bias (broadcast down the rows: stays an Add), x @ W read by a Neg too (stays),
    Relu(x @ W + B4) (one matmul with its bias and ReLU in the store)."""
    m.graph.initializer.extend([numpy_helper.from_array(W, "w"), numpy_helper.from_array(B4, "b4"),
                                numpy_helper.from_array(ROWB, "rowb")])
    nodes = [("MatMul", ["x", "w"], "m1"), ("Add", ["m1", "rowb"], "mm_rows"),
             ("MatMul", ["x", "w"], "m2"), ("Add", ["b4", "m2"], "mm_shared"), ("Neg", ["m2"], "mm_neg"),
             ("MatMul", ["x", "w"], "m3"), ("Add", ["m3", "b4"], "m3b"), ("Relu", ["m3b"], "mm_relu")]
    m.graph.node.extend(helper.make_node(op, ins, [out], name=out) for op, ins, out in nodes)
    m.graph.output.extend(helper.make_empty_tensor_value_info(t) for t in ("mm_rows", "mm_shared", "mm_neg", "mm_relu"))


POW_X = np.asarray([0.0, -0.0, 1.5, -1.5, 3e-39, -3e-39, 1e-20, 1e20, -1e20, 3.4e38, np.inf, -np.inf, np.nan, 7.0,
                    0.1, 1.0000001, -2.5e-10, 123.456], np.float32)


def pows(d):
    """Pow of a float32 vector by 2, 3 and 0.5 (emitted without libm's pow) and 1.7 (with it): the
    bits of pow in double rounded to float, which numpy computes the same way."""
    ins = [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [POW_X.size])]
    inits, nodes, outs = [], [], []
    for i, e in enumerate((2.0, 3.0, 0.5, 1.7)):
        inits.append(numpy_helper.from_array(np.asarray(e, np.float32), f"e{i}"))
        nodes.append(helper.make_node("Pow", ["x", f"e{i}"], [f"p{i}"], name=f"pow{i}"))
        outs.append(helper.make_empty_tensor_value_info(f"p{i}"))
    g = helper.make_graph(nodes, "pows", ins, outs, inits)
    path = os.path.join(d, "pows.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    xpb = os.path.join(d, "pows_x.pb")
    open(xpb, "wb").write(numpy_helper.from_array(POW_X, "x").SerializeToString())
    p = run([sinter, "run", path, xpb, "-o", os.path.join(d, "pows_out")])
    if p.returncode:
        return [f"pows: sinter run exit {p.returncode}: {p.stderr.strip()[-800:]}"]
    errs = []
    with np.errstate(all="ignore"):
        for i, (got, e) in enumerate(zip(outputs(os.path.join(d, "pows_out")), (2.0, 3.0, 0.5, 1.7))):
            want = np.power(POW_X.astype(np.float64), float(np.float32(e))).astype(np.float32)
            same = (got.view(np.uint32) == want.view(np.uint32)) | (np.isnan(got) & np.isnan(want))
            if not same.all():
                errs.append(f"pows: x ** {e} at {POW_X[~same]}: {got[~same]}, want {want[~same]}")
    return errs


def gelu_ref(x, scale=2 ** -0.5):
    from math import erf
    return np.vectorize(lambda v: 0.5 * v * (1 + erf(v * scale)))(x.astype(np.float64))


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)


def outputs(d):
    n = len([f for f in os.listdir(d) if f.startswith("output_")])
    return [numpy_helper.to_array(onnx.load_tensor(os.path.join(d, f"output_{i}.pb"))) for i in range(n)]


def compare(what, got, ref_name, ref):
    errs = []
    if len(got) != len(ref):
        return [f"{what}: {len(got)} outputs, {ref_name} {len(ref)}"]
    for i, (a, b) in enumerate(zip(got, ref)):
        err = float(np.max(np.abs(a.astype(np.float64) - b) / np.maximum(1.0, np.abs(b)))) if a.shape == b.shape else np.inf
        if not err <= 1e-5:
            errs.append(f"{what}: output {i} {a.shape} differs from {ref_name} {np.shape(b)} by {err:.3g}")
    return errs


def plan_ops(path, exe):
    if run([sinter, "compile", path, "-o", exe]).returncode:
        return None
    prof = run([exe, "bench", "--profile", "--iters", "1", "--threads", "1"]).stdout
    return [ln.split()[2] for ln in prof.splitlines() if ln.strip()[:1].isdigit() and len(ln.split()) > 3]


def main():
    errs = []
    with tempfile.TemporaryDirectory() as d:
        path, xpb = os.path.join(d, "block.onnx"), os.path.join(d, "x.pb")
        model = Block().eval()
        torch.onnx.export(model, X, path, opset_version=13, input_names=["x"])
        with torch.no_grad():
            want = [w.numpy() for w in model(X)]
        m = onnx.load(path)
        m.graph.input[0].name = "x"
        hand_gelus(m)
        hand_matmuls(m)
        onnx.save(m, path)
        x = X.numpy()
        want += [gelu_ref(x), gelu_ref(x), gelu_ref(x), -np.vectorize(__import__("math").erf)(x.astype(np.float64) / 2 ** 0.5),
                 0.5 * x * (1 + np.vectorize(__import__("math").erf)(x.astype(np.float64) * 1.5))]
        xw = x.astype(np.float64) @ W
        want += [xw + ROWB, xw + B4, -xw, np.maximum(xw + B4, 0)]
        open(xpb, "wb").write(numpy_helper.from_array(x, "x").SerializeToString())
        out, ort_out = os.path.join(d, "s"), os.path.join(d, "o")
        p = run([sinter, "run", path, xpb, "-o", out])
        if p.returncode:
            errs.append(f"sinter run exit {p.returncode}: {p.stderr.strip()[-800:]}")
        else:
            errs += compare("block", outputs(out), "PyTorch", want)
            p = run(["node", ort_run, path, xpb, "-o", ort_out], env=dict(os.environ, ORT_NODE_MODULES=ort_modules))
            errs += compare("block", outputs(out), "ONNX Runtime", outputs(ort_out)) if not p.returncode else ["ONNX Runtime failed"]
        errs += pows(d)
        ops = plan_ops(path, os.path.join(d, "exe"))
        # gelus: gelu_a, gelu_b (the exported one is in l1's store); layer norms: ln, ln2, ln3; erf:
        # gelu_c's and gelu_d's; matmuls: l1 and l2 with their biases, m1, m2, m3 (its bias and ReLU
        # in the store); adds: the block's residual, the eps of the norm over axis 1, two of the tanh
        # GELU, one each of gelu_c and gelu_d, mm_rows' and mm_shared's
        want_ops = {"gelu": 2, "layer_norm": 3, "erf": 2, "reduce_mean": 2, "tanh": 1, "matmul": 5, "add": 8, "relu": 0}
        if ops is None or any(ops.count(k) != v for k, v in want_ops.items()):
            errs.append(f"plan ops {ops}: want {want_ops}")
    for e in errs:
        print(e)
    print("FAIL check_fusions" if errs else "PASS check_fusions")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
