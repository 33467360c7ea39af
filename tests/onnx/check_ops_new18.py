"""Mish (opset 18), Gelu (opset 20) and GroupNormalization (18 and 21) against ONNX Runtime 1.30
(the files are built with onnx.helper, no checker: Debian's onnx 1.12 does not know these ops):
extreme inputs for the activations, both Gelu modes, GroupNormalization on rank 3, 4 and 5
inputs with 1, C and in-between groups in both versions; then malformed nodes sinter refuses."""
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(__file__))
from ortcompare import Model, run_model, check_refused  # noqa: E402

sinter, ort_run, ort_modules = sys.argv[1:4]
rng = np.random.default_rng(1818)
EXT = np.array([-1e4, -1e3, -88, -30, -20, -5, -1, -1e-3, 0, 1e-3, 1, 5, 20, 30, 88, 1e3, 1e4], np.float32)
X = (rng.standard_normal((2, 3, 5, 6)) * 3).astype(np.float32)
X3 = rng.standard_normal((2, 6, 7)).astype(np.float32)
X4 = (rng.standard_normal((2, 6, 3, 4)) * 2 + 1).astype(np.float32)
X5 = rng.standard_normal((1, 4, 2, 3, 3)).astype(np.float32)
INPUTS = [("x", X, TP.FLOAT), ("xe", EXT, TP.FLOAT), ("xd", X.astype(np.float64), TP.DOUBLE),
          ("xed", EXT.astype(np.float64), TP.DOUBLE), ("x3", X3, TP.FLOAT), ("x4", X4, TP.FLOAT), ("x5", X5, TP.FLOAT),
          ("x4d", X4.astype(np.float64), TP.DOUBLE)]
f32 = lambda n: rng.standard_normal(n).astype(np.float32)


def activations(opset):
    """DOUBLE where ONNX Runtime 1.30 runs it: Mish-18 (not the function it expands Mish into at
    20, whose Softplus has no DOUBLE kernel) and Gelu's tanh form (not erf's); see gelu_double."""
    m = Model(opset, ir_version=10 if opset >= 21 else 8)
    for src in ["x", "xe", "xd", "xed"]:
        double = src.endswith("d")
        if opset == 18 or not double:
            m.add("Mish", [src])
        if opset >= 20:
            if not double:
                m.add("Gelu", [src])
                m.add("Gelu", [src], approximate="none")
            m.add("Gelu", [src], approximate="tanh")
    return m


def sinter_outputs(d, name, m, inputs):
    """Runs m in sinter alone; its outputs, or None (reported) when the run fails."""
    path = os.path.join(d, f"{name}.onnx")
    onnx.save(m.proto(name, inputs), path)
    pbs = []
    for n, a, _ in inputs:
        pbs.append(os.path.join(d, f"{name}_{n}.pb"))
        open(pbs[-1], "wb").write(numpy_helper.from_array(a).SerializeToString())
    p = subprocess.run([sinter, "run", path, *pbs, "-o", os.path.join(d, name)], capture_output=True, text=True)
    if p.returncode:
        print(f"FAIL {name}: sinter run failed: {p.stderr.strip()}")
        return None
    return [numpy_helper.to_array(onnx.load_tensor(os.path.join(d, name, f"output_{i}.pb"))) for i in range(len(m.outs))]


def empty_group_norm(d):
    """No spatial values, or no samples: empty outputs of the input's shape (ONNX Runtime 1.30's
    Reshape fails on the first)."""
    m = Model(21, ir_version=10)
    m.add("GroupNormalization", ["z", f32(4), f32(4)], num_groups=2)
    m.add("GroupNormalization", ["z0", f32(4), f32(4)], num_groups=4)
    ins = [("z", np.zeros((2, 4, 0), np.float32), TP.FLOAT), ("z0", np.zeros((0, 4, 3), np.float32), TP.FLOAT)]
    outs = sinter_outputs(d, "gn_empty", m, ins)
    if outs is None:
        return 1
    if [o.shape for o in outs] != [(2, 4, 0), (0, 4, 3)] or any(o.dtype != np.float32 for o in outs):
        print(f"FAIL gn_empty: outputs {[(o.dtype, o.shape) for o in outs]}")
        return 1
    print("ok gn_empty: 2 empty outputs")
    return 0


def float16():
    """FLOAT16, computed in float32 and rounded: within 2e-3 of ONNX Runtime's."""
    m = Model(21, ir_version=10)
    for src in ["h", "he"]:
        m.add("Mish", [src])
        m.add("Gelu", [src])
        m.add("Gelu", [src], approximate="tanh")
    m.add("GroupNormalization", ["h4", f32(6).astype(np.float16), f32(6).astype(np.float16)], num_groups=3)
    return m


def gelu_double(d):
    """Gelu's erf form in DOUBLE against math.erf (ONNX Runtime has no DOUBLE Erf kernel)."""
    m = Model(20, ir_version=9)
    m.add("Gelu", ["xd"])
    m.add("Gelu", ["xed"], approximate="none")
    outs = sinter_outputs(d, "gelu_double", m, INPUTS)
    if outs is None:
        return 1
    failed = 0
    for i, src in enumerate([X, EXT]):
        a = outs[i]
        v = src.astype(np.float64).ravel()
        want = np.array([0.5 * t * (1 + math.erf(t / math.sqrt(2))) for t in v]).reshape(src.shape)
        if a.dtype != np.float64 or a.shape != want.shape or np.max(np.abs(a - want) / np.maximum(1.0, np.abs(want))) > 1e-12:
            print(f"FAIL gelu_double output {i}: {a.dtype}{a.shape} differs from math.erf's")
            failed += 1
    if not failed:
        print("ok gelu_double: 2 outputs checked against math.erf")
    return failed


def group_norm(opset):
    """Each input with 1, C and in-between groups; version 18's scale per group, 21's per channel."""
    m = Model(opset, ir_version=10 if opset >= 21 else 8)
    for src, a in [("x3", X3), ("x4", X4), ("x5", X5), ("x4d", X4)]:
        c = a.shape[1]
        for g in sorted({1, 2, c}):
            k = c if opset >= 21 else g
            sc, bi = f32(k), f32(k)
            if src == "x4d":
                sc, bi = sc.astype(np.float64), bi.astype(np.float64)
            attrs = {"epsilon": 1e-3} if g == 2 else {}
            if opset >= 21 and g == 1:
                attrs["stash_type"] = 1
            m.add("GroupNormalization", [src, sc, bi], num_groups=g, **attrs)
    return m


DSL = """model t {
  input x: [8]
  a = mish(x, name = "m")
  b = gelu(a, approximate = tanh, name = "g")
  y = gelu(b, name = "g2")
  output y
}
"""


def ort(d, path, name, xs):
    pb, out = os.path.join(d, f"{name}.pb"), os.path.join(d, name)
    open(pb, "wb").write(numpy_helper.from_array(xs).SerializeToString())
    subprocess.run(["node", ort_run, path, pb, "-o", out], check=True, env=dict(os.environ, ORT_NODE_MODULES=ort_modules))
    return numpy_helper.to_array(onnx.load_tensor(os.path.join(out, "output_0.pb")))


def export_formulas(d):
    """sinter export-onnx writes opset 13: Mish and both Gelu forms as their formulas in older ops;
    ONNX Runtime runs that file and the same chain at opset 20, and they must agree."""
    nn, exported = os.path.join(d, "t.nn"), os.path.join(d, "t.onnx")
    open(nn, "w").write(DSL)
    p = subprocess.run([sinter, "export-onnx", nn, "-o", exported], capture_output=True, text=True)
    if p.returncode:
        print(f"FAIL export: {p.stderr.strip()}")
        return 1
    m = Model(20, ir_version=9)
    a = m.add("Mish", ["x"])[0]
    b = m.add("Gelu", [a], approximate="tanh")[0]
    m.add("Gelu", [b])
    m.outs = m.outs[-1:]
    ref = os.path.join(d, "ref.onnx")
    xs = np.concatenate([EXT[:16], np.linspace(-6, 6, 16, dtype=np.float32)]).reshape(4, 8)
    onnx.save(m.proto("ref", [("x", xs, TP.FLOAT)]), ref)
    got, want = ort(d, exported, "exp", xs), ort(d, ref, "ref", xs)
    ops = sorted({n.op_type for n in onnx.load(exported).graph.node})
    if got.shape != want.shape or np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))) > 1e-5 or "Gelu" in ops:
        print(f"FAIL export: the opset 13 formulas ({', '.join(ops)}) differ from Mish and Gelu")
        return 1
    print(f"ok export at opset 13 as {', '.join(ops)}")
    return 0


def refused():
    cases = []
    m = Model(18, ir_version=8)
    m.add("GroupNormalization", ["x4", f32(4), f32(4)], num_groups=4)
    cases.append(("gn_divide", m, "num_groups 4 does not divide the 6 channels"))
    m = Model(21, ir_version=10)
    m.add("GroupNormalization", ["x4", f32(6), f32(6)], num_groups=2, stash_type=0)
    cases.append(("gn_stash", m, "stash_type 0 is not supported, only 1 (FLOAT) (opset 21)"))
    m = Model(18, ir_version=8)
    m.add("GroupNormalization", ["x4", f32(6), f32(6)], num_groups=3)
    cases.append(("gn18_per_channel", m, "input 1 (scale) must have 3 values, one per group "
                  "(GroupNormalization-18; version 21 takes one per channel)"))
    m = Model(21, ir_version=10)
    m.add("GroupNormalization", ["x4", f32(6), f32(3)], num_groups=3)
    cases.append(("gn21_per_group", m, "input 2 (bias) must have 6 values, one per channel (GroupNormalization-21)"))
    m = Model(18, ir_version=8)
    m.add("GroupNormalization", ["x4", f32(6), f32(6)])
    cases.append(("gn_no_groups", m, "requires the attribute num_groups (opset 18)"))
    m = Model(20, ir_version=9)
    m.add("Gelu", ["x"], approximate="fast")
    cases.append(("gelu_mode", m, "approximate 'fast' is not one of none, tanh (opset 20)"))
    with tempfile.TemporaryDirectory() as d:
        bad = sum(check_refused(d, sinter, n, m, INPUTS, msg) for n, m, msg in cases)
    return bad, len(cases)


failed = 0
with tempfile.TemporaryDirectory() as d:
    for name, m in [("act18", activations(18)), ("act20", activations(20)), ("act21", activations(21)),
                    ("gn18", group_norm(18)), ("gn21", group_norm(21))]:
        failed += run_model(d, name, m, INPUTS, sinter, ort_run, ort_modules)
    h_inputs = [("h", X.astype(np.float16), TP.FLOAT16), ("he", EXT[3:-3].astype(np.float16), TP.FLOAT16),
                ("h4", X4.astype(np.float16), TP.FLOAT16)]
    failed += run_model(d, "f16", float16(), h_inputs, sinter, ort_run, ort_modules, rtol=2e-3)
    failed += gelu_double(d)
    failed += empty_group_norm(d)
    failed += export_formulas(d)
bad, n_bad = refused()
if not bad:
    print(f"ok {n_bad} malformed nodes refused")
failed += bad
print("PASS" if not failed else f"{failed} failures")
sys.exit(1 if failed else 0)
