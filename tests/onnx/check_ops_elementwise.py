"""The elementwise ONNX ops of compiler/ops/math.c, activation_ext.c and compare.c against ONNX
Runtime: activations with their attributes, rounding, trigonometry, PRelu's slope broadcast,
Mean, IsNaN/IsInf, comparisons (numbers -> BOOL), And/Or/Xor/Not and Where, at the opsets
where their versions differ, in FLOAT, DOUBLE, FLOAT16 and the integer types the spec allows.
Cases are batched: one model per opset (each op at opsets where its versions differ, or one
that runs the op's only version) holding many nodes, run once by each side.
Where ONNX Runtime has no kernel for a type (its CPU provider lacks several FLOAT16/DOUBLE
ones), the case is checked against numpy instead. Floats within 1e-5 relative (FLOAT16: 1e-3),
integers and BOOL exact. Then constant folding (a Reshape whose shape comes from Equal and
Where) and the exact messages of refused inputs."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

sinter, ort_run, ort_modules = sys.argv[1:4]
rng = np.random.default_rng(11)
F32, F64, F16 = np.float32, np.float64, np.float16
NP2ONNX = {F32: TensorProto.FLOAT, F64: TensorProto.DOUBLE, F16: TensorProto.FLOAT16, np.int32: TensorProto.INT32,
           np.int64: TensorProto.INT64, np.int8: TensorProto.INT8, np.uint8: TensorProto.UINT8,
           np.uint32: TensorProto.UINT32, np.uint64: TensorProto.UINT64, np.int16: TensorProto.INT16,
           np.uint16: TensorProto.UINT16, np.bool_: TensorProto.BOOL}


def rnd(shape, t, lo=-3, hi=3):
    if t == np.bool_:
        return rng.random(shape) < 0.5
    if np.issubdtype(t, np.integer):
        lo = max(lo, np.iinfo(t).min)
        return rng.integers(lo, hi + 1, shape).astype(t)
    return rng.uniform(lo, hi, shape).astype(t)


def f64(x):
    return np.asarray(x, np.float64)


# numpy references (computed in double, then in the output type)
selu = lambda x, a=1.67326319217681884765625, g=1.05070102214813232421875: np.where(x > 0, g * x, g * (a * np.exp(x) - a))
REF = {
    "HardSigmoid": lambda x, alpha=0.2, beta=0.5: np.clip(alpha * x + beta, 0, 1),
    "HardSwish": lambda x: x * np.clip(x / 6 + 0.5, 0, 1),
    "Selu": lambda x, alpha=1.67326319217681884765625, gamma=1.05070102214813232421875: selu(x, alpha, gamma),
    "Elu": lambda x, alpha=1.0: np.where(x >= 0, x, alpha * (np.exp(x) - 1)),
    "ThresholdedRelu": lambda x, alpha=1.0: np.where(x > alpha, x, 0),
    "Softplus": lambda x: np.log1p(np.exp(x)), "Softsign": lambda x: x / (1 + np.abs(x)),
    "Ceil": np.ceil, "Floor": np.floor, "Round": np.round, "Sign": np.sign, "Reciprocal": lambda x: 1 / x,
    "Sin": np.sin, "Cos": np.cos, "Tan": np.tan, "Asin": np.arcsin, "Acos": np.arccos, "Atan": np.arctan,
    "Sinh": np.sinh, "Cosh": np.cosh, "Asinh": np.arcsinh, "Acosh": np.arccosh, "Atanh": np.arctanh,
}

# (opset, op, [input arrays], attrs, name); inputs named per case; BOOL/int results exact
cases = []


def case(opset, op, ins, **attrs):
    cases.append((opset, op, ins, attrs))


X = lambda t, lo=-3, hi=3: rnd((2, 3, 4), t, lo, hi)
for t in (F32, F64, F16):
    for opset in (6, 17):
        case(opset, "HardSigmoid", [X(t)])
        case(opset, "HardSigmoid", [X(t)], alpha=0.35, beta=0.25)
        case(opset, "Selu", [X(t)])
        case(opset, "Selu", [X(t)], alpha=2.0, gamma=0.5)
        case(opset, "Elu", [X(t)])
        case(opset, "Elu", [X(t)], alpha=0.3)
        for op in ("Ceil", "Floor", "Reciprocal", "Softplus", "Softsign"):
            case(opset, op, [X(t)])
    case(17, "HardSwish", [X(t, -8, 8)])
    case(11, "ThresholdedRelu", [X(t)])
    case(11, "ThresholdedRelu", [X(t)], alpha=-0.5)
    case(11, "Round", [np.array([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6, 3.0], t)])
    case(9, "Sign", [np.array([-2, 0, 3.5, -0.0, 1e-3], t)])
    for op in ("Sin", "Cos", "Tan", "Atan"):
        case(7, op, [X(t)])
    for op in ("Asin", "Acos"):
        case(7, op, [X(t, -1, 1)])
    for op in ("Sinh", "Cosh", "Asinh"):
        case(9, op, [X(t)])
    case(9, "Acosh", [X(t, 1, 4)])
    case(9, "Atanh", [X(t, -0.99, 0.99)])
    case(9, "IsNaN", [np.array([1, np.nan, -np.inf, 0, np.nan], t)])
for t in (np.int32, np.int64, np.int8, np.uint8):
    case(13, "Sign", [X(t)])

# PRelu: per-channel slope (unidirectional broadcast), a scalar slope, a full slope; ints from 9
for t in (F32, F64, F16):
    case(7, "PRelu", [X(t), rnd((3, 1), t)])
    case(16, "PRelu", [X(t), rnd((4,), t)])
    case(9, "PRelu", [X(t), rnd((1,), t)])
    case(6, "PRelu", [X(t), rnd((2, 3, 4), t)])
for t in (np.int32, np.int64):
    case(9, "PRelu", [X(t), rnd((4,), t)])
# Mean: one input, same shapes (opset 6), broadcasting (8, 13)
for t in (F32, F64, F16):
    case(6, "Mean", [X(t), X(t), X(t)])
    case(13, "Mean", [X(t)])
    case(13, "Mean", [X(t), rnd((3, 1), t), rnd((4,), t)])
for t in (F32, F64):
    inf = np.array([1, np.inf, -np.inf, np.nan, 0], t)
    case(11, "IsInf", [inf])
    case(11, "IsInf", [inf], detect_positive=0)
    case(11, "IsInf", [inf], detect_negative=0)

# comparisons: numbers -> BOOL, broadcasting; Equal on BOOL too
CMP_TYPES = (F32, F64, F16, np.int32, np.int64, np.int8, np.uint8, np.int16, np.uint16, np.uint32, np.uint64)
for t in CMP_TYPES:
    a, b = rnd((2, 3, 4), t, -2, 2), rnd((3, 1), t, -2, 2)
    for op in ("Equal", "Less", "Greater"):
        case(13, op, [a, b])
    for op in ("LessOrEqual", "GreaterOrEqual"):
        case(16, op, [a, b])
for t in (F32, np.int32, np.int64):
    case(7, "Less", [rnd((3, 4), t, -2, 2), rnd((4,), t, -2, 2)])
    case(7, "Greater", [rnd((3, 4), t, -2, 2), rnd((4,), t, -2, 2)])
    case(11, "Equal", [rnd((3, 4), t, -2, 2), rnd((1, 4), t, -2, 2)])
case(7, "Equal", [rnd((3, 4), np.int64), rnd((3, 4), np.int64)])
case(11, "Equal", [rnd((3, 4), np.bool_), rnd((4,), np.bool_)])
case(16, "LessOrEqual", [np.array([1, np.nan, 2], F32), np.array([1, 1, np.nan], F32)])
for opset in (7, 17):
    for op in ("And", "Or", "Xor"):
        case(opset, op, [rnd((2, 3, 4), np.bool_), rnd((3, 4), np.bool_)])
    case(opset if opset > 7 else 1, "Not", [rnd((2, 3, 4), np.bool_)])
# Where: every type; condition, x and y all broadcasting
for t in (F32, F64, F16, np.int32, np.int64, np.int8, np.uint8, np.bool_):
    case(9, "Where", [rnd((3, 1), np.bool_), rnd((2, 3, 4), t), rnd((4,), t)])
    case(16, "Where", [rnd((1, 4), np.bool_), rnd((3, 1), t), rnd((2, 1, 1), t)])


def ref(op, ins, attrs):
    if op in REF:
        r = REF[op](f64(ins[0]), **attrs)
        return r.astype(ins[0].dtype)
    if op in ("IsNaN",):
        return np.isnan(ins[0])
    if op == "IsInf":
        x = ins[0]
        return (np.isposinf(x) & bool(attrs.get("detect_positive", 1))) | (np.isneginf(x) & bool(attrs.get("detect_negative", 1)))
    if op == "PRelu":
        return np.where(ins[0] < 0, ins[0] * ins[1], ins[0]).astype(ins[0].dtype)
    if op == "Mean":
        return (sum(f64(i) for i in ins) / len(ins)).astype(ins[0].dtype)
    f = {"Equal": np.equal, "Less": np.less, "Greater": np.greater, "LessOrEqual": np.less_equal,
         "GreaterOrEqual": np.greater_equal, "And": np.logical_and, "Or": np.logical_or, "Xor": np.logical_xor,
         "Not": np.logical_not, "Where": np.where}[op]
    return f(*ins)


def vi(name, a):
    return helper.make_tensor_value_info(name, NP2ONNX[a.dtype.type], list(a.shape))


def build(group):
    """One model of the group's cases; returns (model, inputs, expected-by-numpy)."""
    nodes, inputs, feeds, outs, refs = [], [], [], [], []
    for k, (opset, op, ins, attrs) in group:
        names = [f"c{k}_{i}" for i in range(len(ins))]
        y = f"y{k}"
        nodes.append(helper.make_node(op, names, [y], name=f"n{k}_{op}", **attrs))
        for n, a in zip(names, ins):
            inputs.append(vi(n, a))
            feeds.append(a)
        r = np.asarray(ref(op, ins, attrs))
        outs.append(helper.make_tensor_value_info(y, NP2ONNX[r.dtype.type], list(r.shape)))
        refs.append((k, op, r))
    g = helper.make_graph(nodes, "g", inputs, outs)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", group[0][1][0])])
    m.ir_version = 8
    return m, feeds, refs


def run(tool, model, feeds, d, n_out):
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    onnx.save(model, path)
    pbs = []
    for i, a in enumerate(feeds):
        p = os.path.join(d, f"in_{i}.pb")
        open(p, "wb").write(numpy_helper.from_array(a).SerializeToString())
        pbs.append(p)
    if tool == "ort":
        cmd, env = ["node", ort_run, path] + pbs + ["-o", d], dict(os.environ, ORT_NODE_MODULES=ort_modules)
    else:
        cmd, env = [sinter, "run", path] + pbs + ["-o", d], None
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode:
        return None, r.stderr.strip()[-600:]
    res = []
    for i in range(n_out):
        t = onnx.TensorProto()
        t.ParseFromString(open(os.path.join(d, f"output_{i}.pb"), "rb").read())
        res.append(numpy_helper.to_array(t))
    return res, ""


def close(a, b):
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "biu":
        return np.array_equal(a, b)
    a, b = f64(a), f64(b)
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return False
    a, b = np.nan_to_num(a, nan=0), np.nan_to_num(b, nan=0)
    tol = 1e-3 if a.dtype == np.float16 else 1e-5
    fin = np.isfinite(b)
    if not np.array_equal(a[~fin], b[~fin]):
        return False
    return bool(np.all(np.abs(a[fin] - b[fin]) <= tol * np.maximum(1, np.abs(b[fin]))))


# ONNX Runtime 1.30's CPU provider has no kernel for these (op, opset, type): numpy judges them.
NO_ORT = {(op, o, F64) for op, o in [("Acos", 7), ("Asin", 7), ("Atan", 7), ("Tan", 7), ("Cosh", 9), ("Sinh", 9), ("Asinh", 9), ("Acosh", 9), ("Atanh", 9),
                                     ("Elu", 6), ("Elu", 17), ("HardSigmoid", 6), ("HardSigmoid", 17),
                                     ("HardSwish", 17), ("Selu", 6), ("Selu", 17), ("Softplus", 6),
                                     ("Softplus", 17), ("Softsign", 6), ("Softsign", 17), ("ThresholdedRelu", 11),
                                     ("Mean", 6), ("PRelu", 7), ("PRelu", 9)]}
NO_ORT |= {("PRelu", 6, t) for t in (F16, F32, F64)} | {("PRelu", 9, t) for t in (np.int32, np.int64)}
NO_ORT |= {(op, 7, t) for op in ("Less", "Greater") for t in (np.int32, np.int64)} | {("Where", 9, np.bool_)}
NO_ORT |= {("Where", 16, np.bool_), ("Where", 16, np.int8), ("Mean", 13, F64)}

failed = checked = on_numpy = 0
groups = {}
for k, c in enumerate(cases):
    gs = groups.setdefault(c[0], [[]])
    if sum(len(cases[j][2]) for j, _ in gs[-1]) + len(c[2]) > 60:  # sinter run takes at most 64 inputs
        gs.append([])
    gs[-1].append((k, c))
with tempfile.TemporaryDirectory() as tmp:
    for opset, chunks in sorted(groups.items()):
        for ci, group in enumerate(chunks):
            # sinter runs every case of the chunk; ONNX Runtime those it has kernels for.
            m, feeds, refs = build(group)
            got, err = run("sinter", m, feeds, os.path.join(tmp, f"s{opset}_{ci}"), len(refs))
            if got is None:
                print(f"FAIL opset {opset}: sinter: {err}")
                failed += 1
                continue
            sub = [(k, c) for k, c in group if (c[1], c[0], c[2][0].dtype.type) not in NO_ORT]
            want = {}
            if sub:
                m, feeds, orefs = build(sub)
                res, err = run("ort", m, feeds, os.path.join(tmp, f"o{opset}_{ci}"), len(orefs))
                if res is None:
                    print(f"FAIL opset {opset}: ONNX Runtime: {err}")
                    failed += 1
                    continue
                want = {k: r for (k, _, _), r in zip(orefs, res)}
            for i, (k, op, r) in enumerate(refs):
                w = want.get(k, r)
                on_numpy += k not in want
                checked += 1
                f16 = got[i].dtype == np.float16
                a_ok = close(got[i].astype(np.float32) if f16 else got[i], w.astype(np.float32) if f16 else w)
                if f16 and not a_ok:  # FLOAT16: rounded per element, compare at its precision
                    a_ok = got[i].shape == w.shape and np.allclose(f64(got[i]), f64(w), rtol=2e-3, atol=2e-3, equal_nan=True)
                if not a_ok:
                    print(f"FAIL {op} (opset {opset}, case {k}, {cases[k][2][0].dtype}, {cases[k][3]}): "
                          f"got {got[i].ravel()[:8]} want {w.ravel()[:8]}")
                    failed += 1

    # Folding: the shape of a Reshape is Where(Equal(s, 0), t, s), all constants; then Not/Less/And.
    s = numpy_helper.from_array(np.array([0, 3, 4], np.int64), "s")
    t = numpy_helper.from_array(np.array([2, 6, 2], np.int64), "t")
    z = numpy_helper.from_array(np.array(0, np.int64), "z")
    nodes = [helper.make_node("Equal", ["s", "z"], ["e"]), helper.make_node("Where", ["e", "t", "s"], ["shape"]),
             helper.make_node("Reshape", ["x", "shape"], ["y"]), helper.make_node("Less", ["s", "t"], ["l"]),
             helper.make_node("Not", ["e"], ["ne"]), helper.make_node("And", ["l", "ne"], ["b"])]
    g = helper.make_graph(nodes, "fold", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 4]),
                           helper.make_tensor_value_info("b", TensorProto.BOOL, [3])], [s, t, z])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    x = rnd((2, 3, 4), F32)
    got, err = run("sinter", m, [x], os.path.join(tmp, "fold"), 2)
    want = [x, np.array([False, True, False])]
    checked += 1
    if got is None or not all(close(a, b) for a, b in zip(got, want)):
        print(f"FAIL fold: {err or got}")
        failed += 1

    # Refused inputs, exact messages.
    def message(nodes, inputs, outputs, opset, inits=()):
        g = helper.make_graph(nodes, "bad", inputs, outputs, list(inits))
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
        p = os.path.join(tmp, "bad.onnx")
        onnx.save(m, p)
        r = subprocess.run([sinter, "compile", p, "-o", os.path.join(tmp, "bad")], capture_output=True, text=True)
        return r.returncode, r.stderr

    fv = lambda n, s, t=TensorProto.FLOAT: helper.make_tensor_value_info(n, t, s)
    bad = [
        (([helper.make_node("PRelu", ["x", "s"], ["y"], name="pr")], [fv("x", [2, 3, 4]), fv("s", [3])], [fv("y", [2, 3, 4])], 9),
         "slope shape (3,) does not broadcast to the input shape (2, 3, 4)"),
        (([helper.make_node("Equal", ["a", "b"], ["y"], name="eq", broadcast=1, axis=0)],
          [fv("a", [2, 3], TensorProto.INT32), fv("b", [2], TensorProto.INT32)], [fv("y", [2, 3], TensorProto.BOOL)], 1),
         "broadcasting B at axis 0 (not the trailing dims) is not supported"),
        (([helper.make_node("Less", ["a", "b"], ["y"], name="lt")], [fv("a", [2, 3]), fv("b", [3])],
          [fv("y", [2, 3], TensorProto.BOOL)], 1), "input shapes differ and broadcast is not 1 (opset 1)"),
        (([helper.make_node("And", ["a", "b"], ["y"], name="and")], [fv("a", [2]), fv("b", [2])],
          [fv("y", [2], TensorProto.BOOL)], 7), "op And (opset 7) does not support type FLOAT (input 1, 'a'; supported: BOOL)"),
        (([helper.make_node("Where", ["c", "a", "b"], ["y"], name="wh")],
          [fv("c", [2]), fv("a", [2]), fv("b", [2])], [fv("y", [2])], 9),
         "op Where (opset 9) does not support type FLOAT (input 1, 'c'; supported: BOOL)"),
        (([helper.make_node("IsInf", ["a"], ["y"], name="inf", detect_positive=2)], [fv("a", [2])],
          [fv("y", [2], TensorProto.BOOL)], 10), "attribute 'detect_positive' has 2, expected 0 to 1"),
    ]
    for (nodes, ins, outs, opset), msg in bad:
        checked += 1
        rc, err = message(nodes, ins, outs, opset)
        if rc == 0 or msg not in err:
            print(f"FAIL message: want '{msg}', got rc {rc}: {err.strip()}")
            failed += 1

print(f"{'FAIL' if failed else 'PASS'} {checked - failed} of {checked} checks ({on_numpy} against numpy: no ONNX Runtime kernel)")
sys.exit(1 if failed else 0)
