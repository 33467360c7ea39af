"""DepthToSpace, SpaceToDepth, Celu, Shrink, Hardmax, CastLike, Trilu and EyeLike against ONNX
Runtime, each version's form (DepthToSpace 1/11/13 with mode DCR and CRD, SpaceToDepth 1/13,
Hardmax 1/11 coerced to 2-D at the axis and 13 along one axis, ties to the first index) with
their attributes and the element types ORT has kernels for. Cases are batched: one model per
opset holding many nodes, run once by each side. Floats within 1e-5 relative, the rest exact.
Then one malformed node per op must be refused with its exact message (node, op, opset), and the
DSL forms (sinter import, compile, export-onnx) of the four ops that have one must round-trip."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto as TP

sys.path.insert(0, os.path.dirname(__file__))
import ortcompare  # noqa: E402
from ortcompare import Model  # noqa: E402

sinter, ort_run, ort_modules = sys.argv[1:4]
rng = np.random.default_rng(14)
node = helper.make_node
i64 = lambda *v: np.array(v, np.int64)

# Graph inputs every model may read.
INPUTS = {
    "x8": rng.standard_normal((2, 8, 3, 4)).astype(np.float32),    # 8 channels: blocksize 2
    "x18": rng.standard_normal((1, 18, 2, 3)).astype(np.float32),  # 18 channels: blocksize 3
    "d8": rng.standard_normal((2, 8, 2, 3)),                        # DOUBLE
    "u8": rng.integers(0, 255, (1, 4, 3, 2)).astype(np.uint8),
    "i8": rng.integers(-100, 100, (2, 4, 2, 2)).astype(np.int32),
    "s": rng.standard_normal((2, 3, 4, 6)).astype(np.float32),     # SpaceToDepth by 2
    "s9": rng.standard_normal((1, 2, 6, 9)).astype(np.float32),    # SpaceToDepth by 3
    "t": np.round(rng.standard_normal((2, 3, 4, 5)) * 1.2).astype(np.float32),  # ties for Hardmax
    "xi": rng.integers(-6, 7, (3, 4, 5)).astype(np.int32),
    "xb": rng.integers(-128, 128, (4, 5)).astype(np.int8),
    "xu": rng.integers(0, 12, (4, 5)).astype(np.uint8),
    "xl": rng.integers(-1000, 1000, (2, 4, 3)).astype(np.int64),
    "m": rng.standard_normal((3, 5)).astype(np.float32),
    "md": rng.standard_normal((4, 4)),
    "mi": rng.integers(-9, 9, (5, 3)).astype(np.int32),
    "mb": rng.random((3, 4)) < 0.5,
    "h": rng.standard_normal((2, 5)).astype(np.float16),
}


def models():
    ms = []
    m = Model(9)  # DepthToSpace-1, SpaceToDepth-1, Hardmax-1 (2-D at axis 1 by default), Shrink-9, EyeLike-9
    ms.append(m)
    m.add("DepthToSpace", ["x8"], blocksize=2)
    m.add("DepthToSpace", ["x18"], blocksize=3)
    m.add("SpaceToDepth", ["s"], blocksize=2)
    m.add("SpaceToDepth", ["s9"], blocksize=1)
    m.add("Hardmax", ["t"])
    m.add("Hardmax", ["t"], axis=2)
    m.add("Hardmax", ["t"], axis=0)
    m.add("Hardmax", ["t"], axis=3)
    m.add("Shrink", ["x8"])
    m.add("Shrink", ["x8"], bias=1.5, lambd=1.0)
    m.add("Shrink", ["t"], bias=-0.25, lambd=0.0)
    m.add("Shrink", ["xi"], bias=2.0, lambd=1.0)
    m.add("Shrink", ["xb"], bias=100.0, lambd=3.0)  # x -+ bias within INT8
    m.add("Shrink", ["xu"], bias=1.0, lambd=4.0)
    m.add("Shrink", ["d8"], bias=0.5, lambd=0.25)
    m.add("Shrink", ["h"], bias=-1.0, lambd=0.5)
    m.add("EyeLike", ["m"])
    m.add("EyeLike", ["m"], k=2, dtype=TP.INT32)
    m.add("EyeLike", ["mi"], k=-1)
    m.add("EyeLike", ["md"], k=-2, dtype=TP.DOUBLE)
    m.add("EyeLike", ["m"], k=9)
    m.add("EyeLike", ["m"], k=-3, dtype=TP.INT64)
    m = Model(11)  # DepthToSpace-11 (mode), Hardmax-11 (negative axes)
    ms.append(m)
    m.add("DepthToSpace", ["x8"], blocksize=2, mode="CRD")
    m.add("DepthToSpace", ["x8"], blocksize=2, mode="DCR")
    m.add("DepthToSpace", ["x18"], blocksize=3, mode="CRD")
    m.add("Hardmax", ["t"], axis=-1)
    m.add("Hardmax", ["t"], axis=-3)
    m.add("Hardmax", ["m"])
    m = Model(13)  # DepthToSpace-13, SpaceToDepth-13, Hardmax-13 along one axis
    ms.append(m)
    m.add("DepthToSpace", ["x8"], blocksize=2, mode="CRD")
    m.add("DepthToSpace", ["x8"], blocksize=2)
    m.add("DepthToSpace", ["d8"], blocksize=2, mode="CRD")
    m.add("DepthToSpace", ["d8"], blocksize=2)
    m.add("SpaceToDepth", ["s"], blocksize=2)
    m.add("SpaceToDepth", ["s9"], blocksize=3)
    m.add("SpaceToDepth", ["d8"], blocksize=1)
    m.add("Hardmax", ["t"])
    m.add("Hardmax", ["t"], axis=1)
    m.add("Hardmax", ["t"], axis=0)
    m.add("Hardmax", ["t"], axis=-2)
    m.add("Hardmax", ["m"], axis=0)
    m = Model(13)  # the other element types (ORT's DepthToSpace-13 has a UINT8 kernel)
    ms.append(m)
    m.add("DepthToSpace", ["u8"], blocksize=2, mode="DCR")
    m.add("DepthToSpace", ["u8"], blocksize=2, mode="CRD")
    m = Model(14)  # Trilu-14 (k a constant input), Celu-12
    ms.append(m)
    m.add("Trilu", ["s"])
    m.add("Trilu", ["s"], upper=0)
    m.add("Trilu", ["s", i64(1)])
    m.add("Trilu", ["s", i64(-2)], upper=0)
    m.add("Trilu", ["s", i64(-1)], upper=1)
    m.add("Trilu", ["m", i64(7)])
    m.add("Trilu", ["m", i64(-7)])
    m.add("Trilu", ["m", i64(-7)], upper=0)
    m.add("Trilu", ["xl", i64(1)], upper=0)
    m.add("Trilu", ["md", i64(0)], upper=1)
    m.add("Trilu", [np.arange(-12, 12, dtype=np.int32).reshape(2, 3, 4), i64(1)], upper=0)  # folded at import
    m.add("Trilu", [np.arange(1, 13, dtype=np.float32).reshape(4, 3)])
    m.add("Celu", ["x8"])
    m.add("Celu", ["x8"], alpha=2.0)
    m.add("Celu", ["t"], alpha=0.5)
    m = Model(15)  # CastLike-15: the second input gives only the type
    ms.append(m)
    m.add("CastLike", ["x8", "i8"])
    m.add("CastLike", ["xi", "m"])
    m.add("CastLike", ["m", "md"])
    m.add("CastLike", ["md", "m"])
    m.add("CastLike", ["m", "h"])
    m.add("CastLike", ["h", "m"])
    m.add("CastLike", ["xi", "mb"])
    m.add("CastLike", ["mb", "xl"])
    m.add("CastLike", ["xu", "xi"])
    m.add("CastLike", [np.array([1.5, -2.5, 3e9], np.float32), np.zeros(1, np.int64)])  # both constant: folded at import
    m.add("CastLike", [np.array([7, -1], np.int64), np.zeros((2, 2), np.float32)])
    m.add("CastLike", [np.array([7, -1], np.int64), "m"])  # run time
    return ms


def run_model(d, k, m):
    """m against ONNX Runtime, fed the INPUTS its nodes read."""
    used = sorted({i for n in m.nodes for i in n.input if i in INPUTS})
    ins = [(n, INPUTS[n], onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[INPUTS[n].dtype]) for n in used]
    m.ir_version = 8 if m.opset >= 15 else 7
    return ortcompare.run_model(d, f"misc{k}", m, ins, sinter, ort_run, ort_modules)


def bad_cases():
    """(op, opset, input shape and type, nodes, initializers, the exact error)."""
    one = lambda op, ins, inits, opset, shape, msg, dt=TP.FLOAT, **a: (op, opset, shape, dt, [node(op, ins, ["y"], name="bad", **a)], inits, msg)
    return [
        one("DepthToSpace", ["x"], [], 13, (1, 3, 2, 2),
            "node 'bad' (depth_to_space): DepthToSpace-13: 3 channels are not divisible by blocksize^2 = 4", blocksize=2),
        one("DepthToSpace", ["x"], [], 9, (1, 4, 2, 2),
            "node 'bad' (DepthToSpace, opset 9): attribute 'mode' is not an attribute of DepthToSpace-1 (DepthToSpace has "
            "it from opset 11); expected one of: blocksize", blocksize=2, mode="CRD"),
        one("DepthToSpace", ["x"], [], 11, (1, 4, 2, 2),
            "node 'bad' (depth_to_space): DepthToSpace-11: mode 'RDC' is neither DCR nor CRD", blocksize=2, mode="RDC"),
        one("SpaceToDepth", ["x"], [], 13, (1, 1, 5, 4),
            "node 'bad' (space_to_depth): SpaceToDepth-13: the height 5 is not divisible by blocksize 2", blocksize=2),
        one("SpaceToDepth", ["x"], [], 1, (1, 1, 4),
            "node 'bad' (space_to_depth): SpaceToDepth-1: the input has rank 3, not 4 (N, C, H, W)", blocksize=2),
        one("Celu", ["x"], [], 12, (2, 3), "node 'bad' (Celu, opset 12): op Celu (opset 12) does not support type DOUBLE (input 1, 'x'; supported: FLOAT)", TP.DOUBLE),
        one("Shrink", ["x"], [], 9, (2, 3), "node 'bad' (Shrink, opset 9): op Shrink (opset 9) does not support type BOOL (input 1, 'x'; supported: FLOAT, UINT8, INT8, "
            "UINT16, INT16, INT32, INT64, FLOAT16, DOUBLE, UINT32, UINT64)", TP.BOOL),
        one("Hardmax", ["x"], [], 13, (2, 3), "node 'bad' (hardmax): axis 2 is out of range for rank 2 (opset 13)", axis=2),
        one("Hardmax", ["x"], [], 1, (2, 3), "node 'bad' (hardmax): axis -3 is out of range for rank 2 (opset 1)", axis=-3),
        one("CastLike", ["x"], [], 15, (2, 3), "node 'bad' (CastLike, opset 15): takes 2 inputs, got 1"),
        one("Trilu", ["x", "x"], [], 14, (3, 3),
            "node 'bad' (Trilu, opset 14): input 2 ('x') determines a shape, so its value must be known when compiling"),
        one("Trilu", ["x"], [], 14, (3,), "node 'bad' (trilu): the input has rank 1; it needs at least 2"),
        one("EyeLike", ["x"], [], 9, (2, 2, 2), "node 'bad' (eye_like): the input has rank 3, not 2"),
        one("EyeLike", ["x"], [], 9, (2, 2), "node 'bad' (eye_like): dtype 8 is not an element type it can write", dtype=TP.STRING),
    ]


def check_bad(d):
    failed = 0
    for op, opset, shape, dt, nodes, inits, msg in bad_cases():
        g = helper.make_graph(nodes, "bad", [helper.make_tensor_value_info("x", dt, shape)],
                              [helper.make_empty_tensor_value_info(o) for n in nodes for o in n.output], inits)
        mp = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
        path = os.path.join(d, "bad.onnx")
        onnx.save(mp, path)
        p = subprocess.run([sinter, "compile", path, "-o", os.path.join(d, "bad.exe")], capture_output=True, text=True)
        if p.returncode == 0 or msg not in p.stderr:
            print(f"FAIL bad {op}-{opset}: want '{msg}', got: {p.stderr.strip()}")
            failed += 1
    print(f"ok {len(bad_cases())} malformed nodes refused" if not failed else "")
    return failed


def dsl_round_trip(d):
    """sinter import writes DepthToSpace, SpaceToDepth, Celu and Shrink as DSL; the compiled .nn
    and its export-onnx (run by ORT) must compute what ORT computes for the original model."""
    nodes = [node("DepthToSpace", ["x"], ["a"], blocksize=2, mode="CRD"), node("SpaceToDepth", ["a"], ["b"], blocksize=2),
             node("DepthToSpace", ["b"], ["c"], blocksize=2), node("Celu", ["c"], ["e"], alpha=0.7),
             node("Shrink", ["e"], ["y"], bias=0.2, lambd=0.3)]
    g = helper.make_graph(nodes, "dsl", [helper.make_tensor_value_info("x", TP.FLOAT, ["N", 8, 3, 4])],
                          [helper.make_empty_tensor_value_info("y")])
    mp = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    mp.ir_version = 7
    src, nn, exported, exe = (os.path.join(d, f) for f in ("dsl.onnx", "dsl.nn", "dsl_export.onnx", "dsl.exe"))
    onnx.save(mp, src)
    x = os.path.join(d, "dsl_x.pb")
    open(x, "wb").write(numpy_helper.from_array(INPUTS["x8"]).SerializeToString())
    for cmd in ([sinter, "import", src, "-o", nn], [sinter, "export-onnx", nn, "-o", exported], [sinter, "compile", nn, "--batch", "4", "-o", exe],
                [exe, "run", x, "-o", os.path.join(d, "dsl_s")]):
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode:
            print(f"FAIL dsl round trip: {' '.join(cmd[:2])}: {p.stderr.strip()}")
            return 1
    for model, out in ((src, "dsl_r"), (exported, "dsl_e")):
        subprocess.run(["node", ort_run, model, x, "-o", os.path.join(d, out)], check=True, env=dict(os.environ, ORT_NODE_MODULES=ort_modules))
    load = lambda o: numpy_helper.to_array(onnx.load_tensor(os.path.join(d, o, "output_0.pb")))
    ref, s, e = load("dsl_r"), load("dsl_s"), load("dsl_e")
    text = open(nn).read()
    ok = "depth_to_space(x, 2, mode = CRD" in text and "shrink(e, bias = 0.2" in text
    ok = ok and s.shape == ref.shape and float(np.max(np.abs(s - ref))) <= 1e-5 and np.array_equal(e, ref)
    print("ok dsl round trip (import, compile, export-onnx)" if ok else f"FAIL dsl round trip:\n{text}")
    return 0 if ok else 1


with tempfile.TemporaryDirectory() as d:
    failed = sum(run_model(d, k, m) for k, m in enumerate(models())) + check_bad(d) + dsl_round_trip(d)
print("PASS" if not failed else f"{failed} failures")
sys.exit(1 if failed else 0)
