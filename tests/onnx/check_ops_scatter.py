"""The scatter and index ops (MaxUnpool, GatherND, ScatterElements, Scatter, ScatterND, CumSum,
OneHot) against ONNX Runtime in each opset's form (exact for integers): every case of one opset
is one node of a single model, so one compile checks them all. MaxUnpool with output_shape is
checked against the ONNX reference's rule computed here (ONNX Runtime reads the indices as
offsets into output_shape instead, which the node suite's expected output contradicts). Then
one malformed node per op must be refused with its exact message, and an index out of range
that only the run can see must fail the run."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto as TP

sys.path.insert(0, os.path.dirname(__file__))
import ortcompare  # noqa: E402

sinter, ort_run, ort_modules = sys.argv[1:4]
rng = np.random.default_rng(14)
X = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
XI = rng.integers(-50, 50, (2, 3, 4, 5)).astype(np.int32)
XL = rng.integers(-6, 6, (3, 4)).astype(np.int64)
XP = rng.standard_normal((1, 2, 4, 6)).astype(np.float32)
GI = np.array([[1, 2, 3, 4], [0, -1, 0, -5], [1, 0, 2, 1]], np.int64)  # GatherND tuples fed at run time
INPUTS = [("x", X, TP.FLOAT), ("xi", XI, TP.INT32), ("xl", XL, TP.INT64), ("xp", XP, TP.FLOAT), ("gi", GI, TP.INT64)]
I = lambda v, name, dt=np.int64: numpy_helper.from_array(np.asarray(v, dt), name)
node = helper.make_node
i64 = lambda *v: np.array(v, np.int64)


class Model(ortcompare.Model):
    """ortcompare's, with reference outputs (ref: output name -> array) for the nodes ONNX
    Runtime does not judge."""
    def __init__(self, opset):
        super().__init__(opset, ir_version=8)
        self.ref = {}


def unique_idx(shape, axis_len, axis):
    """ScatterElements indices without repeats along the axis (the order of writes is then moot)."""
    perm = np.argsort(rng.random(shape[:axis] + (axis_len,) + shape[axis + 1:]), axis=axis)
    return np.take(perm, np.arange(shape[axis]), axis=axis).astype(np.int64)


def unpool_ref(x, idx, kernel, strides, out_shape):
    """The ONNX reference's MaxUnpool with output_shape: pads ignored, the unpooled tensor at the origin."""
    inferred = x.shape[:2] + tuple((x.shape[2 + i] - 1) * strides[i] + kernel[i] for i in range(x.ndim - 2))
    r = np.zeros(int(np.prod(inferred)), x.dtype)
    r[idx.reshape(-1)] = x.reshape(-1)
    y = np.zeros(out_shape, x.dtype)
    y[tuple(slice(d) for d in inferred)] = r.reshape(inferred)
    return y


def add_unpool(m):
    p, pi = m.add("MaxPool", ["xp"], 2, kernel_shape=[2, 2], strides=[2, 2])
    m.outs.remove(p), m.outs.remove(pi)
    m.add("MaxUnpool", [p, pi], kernel_shape=[2, 2], strides=[2, 2])
    # pads and strides, indices chosen within the (2 - 1) * 3 + 3 - 2 = 4 by (3 - 1) * 2 + 2 - 1 = 5 output
    xu = rng.standard_normal((1, 2, 2, 3)).astype(np.float32)
    iu = rng.choice(2 * 4 * 5, xu.size, replace=False).reshape(xu.shape).astype(np.int64)
    m.add("MaxUnpool", [xu, iu], kernel_shape=[3, 2], strides=[3, 2], pads=[1, 0, 1, 1])
    return xu, iu


def models():
    ms = {}
    # Opset 9: Scatter, OneHot-9 (indices in [0, depth) only), MaxUnpool-9.
    m = ms["9"] = Model(9)
    m.add("Scatter", ["x", unique_idx((1, 3, 4, 5), 2, 0), rng.standard_normal((1, 3, 4, 5)).astype(np.float32)])
    m.add("Scatter", ["xi", unique_idx((2, 2, 3, 5), 3, 1).astype(np.int32), rng.integers(-9, 9, (2, 2, 3, 5)).astype(np.int32)], axis=1)
    m.add("OneHot", [i64([0, 2], [1, 3]), np.int64(4), np.array([0, 1], np.float32)])
    m.add("OneHot", [np.array([0.0, 2.0, 5.0], np.float32), np.float32(3.0), np.array([-1, 7], np.float32)], axis=0)
    add_unpool(m)
    # Opset 10: Scatter's last version (deprecated from 11).
    m = ms["10"] = Model(10)
    m.add("Scatter", ["x", unique_idx((2, 3, 4, 5), 4, 2), np.ones((2, 3, 4, 5), np.float32)], axis=2)
    # Opset 11: GatherND without batch_dims, ScatterElements, Scatter-11, ScatterND, CumSum, OneHot-11.
    m = ms["11"] = Model(11)
    m.add("GatherND", ["x", i64([1, -1], [0, 2])])
    m.add("GatherND", ["xi", "gi"])  # whole elements, indices known at run time only
    m.add("GatherND", ["xl", i64([[0, 1]], [[2, -4]])])
    m.add("GatherND", ["x", i64([[1], [0]], [[0], [1]])])
    m.add("ScatterElements", ["x", unique_idx((2, 3, 4, 3), 5, 3) - 5, rng.standard_normal((2, 3, 4, 3)).astype(np.float32)], axis=-1)
    m.add("ScatterElements", ["xi", unique_idx((2, 3, 2, 5), 4, 2).astype(np.int32), rng.integers(-9, 9, (2, 3, 2, 5)).astype(np.int32)], axis=2)
    m.add("ScatterND", ["x", i64([1], [0]), rng.standard_normal((2, 3, 4, 5)).astype(np.float32)])
    m.add("ScatterND", ["xi", i64([0, 1, 2, 3], [1, 2, -1, 0]), np.array([100, -100], np.int32)])
    m.add("ScatterND", ["x", i64([[0, 1], [1, -1]], [[1, 0], [0, 0]]), rng.standard_normal((2, 2, 4, 5)).astype(np.float32)])
    m.add("CumSum", ["x", np.int64(1)])
    m.add("CumSum", ["x", np.int32(-1)], exclusive=1)
    m.add("CumSum", ["x", np.int64(0)], reverse=1)
    m.add("CumSum", ["xi", np.int64(2)], exclusive=1, reverse=1)
    m.add("CumSum", ["xl", np.int32(1)])
    m.add("CumSum", [np.array([2**31 - 5, 7, -(2**31) + 1, -9], np.int32), np.int64(0)])  # wraps around
    m.add("CumSum", [np.array([[2**63 - 2, 5], [3, -(2**63)]], np.int64), np.int64(0)], reverse=1)
    m.add("CumSum", [rng.standard_normal((3, 4)), np.int64(-1)], exclusive=1)  # DOUBLE
    m.add("OneHot", ["xl", np.int64(5), np.array([3, 9], np.int64)], axis=1)
    m.add("OneHot", [np.array([-1.0, 0.0, 2.0, -3.0, 3.0], np.float32), np.float32(3.0), np.array([0.5, -2], np.float32)], axis=-2)
    m.add("OneHot", ["xi", np.int32(30), np.array([0, 1], np.float32)], axis=-1)
    add_unpool(m)
    # MaxUnpool with output_shape: the ONNX reference's rule, computed here.
    xu = rng.standard_normal((1, 2, 2, 3)).astype(np.float32)
    iu = rng.choice(2 * 4 * 6, xu.size, replace=False).reshape(xu.shape).astype(np.int64)
    o = m.add("MaxUnpool", [xu, iu, i64(1, 2, 5, 8)], kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1])[0]
    m.ref[o] = unpool_ref(xu, iu, [2, 2], [2, 2], (1, 2, 5, 8))
    o = m.add("MaxUnpool", [xu, iu, i64(2, 3, 4, 6)], kernel_shape=[2, 2], strides=[2, 2])[0]
    m.ref[o] = unpool_ref(xu, iu, [2, 2], [2, 2], (2, 3, 4, 6))
    # The spec casts non-integer OneHot indices to int64 (ONNX Runtime compares them as floats): 2.7 is 2,
    # -1.5 is -1, which counts from the end from opset 11 only.
    o = m.add("OneHot", [np.array([2.7, -1.5], np.float32), np.int64(3), np.array([0, 1], np.float32)])[0]
    m.ref[o] = np.array([[0, 0, 1], [0, 0, 1]], np.float32)
    # UINT32 and UINT64 CumSum (not in ONNX Runtime's CPU provider), wrapping as numpy's unsigned sums do.
    u32 = np.array([[4294967290, 9], [8, 1]], np.uint32)
    m.ref[m.add("CumSum", [u32, np.int64(0)])[0]] = np.cumsum(u32, axis=0, dtype=np.uint32)
    u64 = np.array([18446744073709551610, 9, 3], np.uint64)
    m.ref[m.add("CumSum", [u64, np.int64(0)], exclusive=1)[0]] = np.array([0, 18446744073709551610, 3], np.uint64)
    m = ms["9"]  # OneHot-9: -1 is out of range
    o = m.add("OneHot", [np.array([2.7, -1.5], np.float32), np.int64(3), np.array([0, 1], np.float32)])[0]
    m.ref[o] = np.array([[0, 0, 1], [0, 0, 0]], np.float32)
    # Opset 12: GatherND's batch_dims.
    m = ms["12"] = Model(12)
    m.add("GatherND", ["x", i64([[0, 1], [2, -1]], [[1, 3], [0, 0]])], batch_dims=1)
    m.add("GatherND", ["x", rng.integers(-4, 4, (2, 3, 2, 1)).astype(np.int64)], batch_dims=2)
    m.add("GatherND", ["xi", rng.integers(0, 4, (2, 3, 4, 1)).astype(np.int64)], batch_dims=3)
    m.add("GatherND", ["xl", i64(1, 2)])
    # Opset 13: other element types.
    m = ms["13"] = Model(13)
    m.add("GatherND", [rng.integers(0, 255, (3, 4)).astype(np.uint8), i64([2], [0], [-1])])
    m.add("GatherND", [rng.random((2, 3)) > 0.5, i64([0, 2], [1, 1])])
    m.add("ScatterElements", [rng.random((3, 4)) > 0.5, i64([0, 1, 2, 0]).reshape(1, 4), np.ones((1, 4), bool)])
    m.add("ScatterElements", [rng.integers(-9, 9, (3, 4)).astype(np.int16), np.array([[3], [-1], [0]], np.int64), np.array([[5], [6], [7]], np.int16)], axis=1)
    m.add("ScatterND", [rng.standard_normal((4, 3)).astype(np.float16), i64([3], [1]), np.ones((2, 3), np.float16)])
    m.add("ScatterND", [rng.integers(-9, 9, (4, 3)).astype(np.int64), i64([0, 0], [3, 2]), i64(77, 88)])
    m.add("CumSum", ["xl", np.int64(0)], exclusive=1)
    # Opset 14: CumSum-14.
    m = ms["14"] = Model(14)
    m.add("CumSum", ["x", np.int64(2)], exclusive=1, reverse=1)
    m.add("CumSum", ["xi", np.int32(-3)])
    # Opset 16: reduction add and mul, with repeated indices.
    m = ms["16"] = Model(16)
    for red in ["none", "add", "mul"]:
        m.add("ScatterElements", ["x", rng.integers(0, 4, (2, 3, 2, 5)).astype(np.int64) if red != "none" else unique_idx((2, 3, 2, 5), 4, 2),
                                  rng.standard_normal((2, 3, 2, 5)).astype(np.float32)], axis=2, reduction=red)
        m.add("ScatterElements", ["xi", rng.integers(-5, 5, (2, 3, 4, 3)).astype(np.int32) if red != "none" else unique_idx((2, 3, 4, 3), 5, 3),
                                  rng.integers(-9, 9, (2, 3, 4, 3)).astype(np.int32)], axis=-1, reduction=red)
        m.add("ScatterND", ["x", i64([1, 0], [1, 0], [0, 2]), rng.standard_normal((3, 4, 5)).astype(np.float32)], reduction=red)
        m.add("ScatterND", ["xl", i64([2], [2], [0]), rng.integers(-9, 9, (3, 4)).astype(np.int64)], reduction=red)
    m.add("ScatterElements", [np.array([2**31 - 1, 3], np.int32), i64(0, 0), np.array([1, 2**30], np.int32)], reduction="add")  # wraps
    m.add("ScatterND", [np.array([2**62, 3], np.int64), i64([0], [0]), i64(4, 2)], reduction="mul")  # wraps
    # Types ONNX Runtime's CPU provider lacks here, against numpy: FLOAT16 CumSum (summed in float32,
    # rounded back), FLOAT16 add, BOOL mul (and) and UINT8 add (wrapping) reductions.
    m = ms["16"]
    h = rng.standard_normal((3, 4)).astype(np.float16)
    m.ref[m.add("CumSum", [h, np.int64(1)])[0]] = np.cumsum(h.astype(np.float32), axis=1).astype(np.float16)
    e = np.array([[0, 0, 2], [1, 1, 1]], np.int64)
    hu = rng.standard_normal((2, 3)).astype(np.float16)
    want = h[:2].astype(np.float32)
    for r in range(2):
        for c in range(3):
            want[r, e[r, c]] = np.float16(want[r, e[r, c]] + np.float32(hu[r, c]))
    m.ref[m.add("ScatterElements", [h[:2], e, hu], axis=1, reduction="add")[0]] = want.astype(np.float16)
    b = np.array([[True, True], [False, True], [True, False]])
    m.ref[m.add("ScatterND", [b, i64([0], [2], [0]), np.array([[True, False], [True, True], [True, True]])], reduction="mul")[0]] = \
        np.array([[True, False], [False, True], [True, False]])
    u8 = np.array([250, 3, 7], np.uint8)
    m.ref[m.add("ScatterND", [u8, i64([0], [0], [2]), np.array([4, 5, 255], np.uint8)], reduction="add")[0]] = \
        np.array([3, 3, 6], np.uint8)
    # Opset 17: one of each again.
    m = ms["17"] = Model(17)
    m.add("GatherND", ["x", i64([[1, 2]], [[0, 0]])], batch_dims=1)
    m.add("ScatterND", ["xl", i64([1, 1]), i64(-5)])
    m.add("ScatterElements", ["xl", np.array([[2, 0, 1, 2]], np.int64), np.array([[1, 2, 3, 4]], np.int64)])
    m.add("CumSum", ["xi", np.int64(3)], reverse=1)
    m.add("OneHot", ["xl", np.float32(6.5), np.array([-3, 4], np.int32)], axis=0)  # depth truncated to 6
    add_unpool(m)
    return ms


def run_model(d, name, m):
    used = {i for n in m.nodes for i in n.input}
    return ortcompare.run_model(d, name, m, [i for i in INPUTS if i[0] in used], sinter, ort_run, ort_modules)


# (op, opset, nodes, initializers, the exact error after "node 'bad' (...): ")
def bad_cases():
    one = lambda op, ins, inits, opset, msg, **a: (op, opset, [node(op, ins, ["y"], name="bad", **a)], inits, msg)
    f32 = lambda v, n: I(v, n, np.float32)
    return [
        one("MaxUnpool", ["x", "i", "s"], [I(np.zeros((2, 3, 4, 5)), "i"), I([2, 3, 8, 9], "s")], 11,
            "output_shape's dim 2 (8) is below the unpooled size 9", kernel_shape=[3, 3], strides=[2, 2]),
        one("GatherND", ["x", "i"], [I([[0, 3]], "i")], 13, "index 3 is out of range for axis 1 of size 3"),
        one("GatherND", ["x", "i"], [I([[0, 1]], "i")], 11, "node 'bad' (GatherND, opset 11): attribute 'batch_dims' is not an attribute of GatherND-11, which has none "
            "(GatherND has it from opset 12)", batch_dims=1),
        one("ScatterElements", ["x", "i", "u"], [I(np.zeros((1, 1, 1, 1)), "i"), f32(np.zeros((1, 1, 1, 1)), "u")], 13,
            "attribute 'reduction' is not an attribute of ScatterElements-13 (ScatterElements has it from opset 16); "
            "expected one of: axis", reduction="add"),
        one("ScatterElements", ["x", "i", "u"], [I(np.zeros((1, 1, 1, 1)), "i"), f32(np.zeros((1, 1, 1, 1)), "u")], 16,
            "reduction 'max' is not supported at opset 16 (none, add or mul; max and min from opset 18)", reduction="max"),
        one("Scatter", ["x", "i", "u"], [I(np.full((1, 1, 1, 1), -6), "i"), f32(np.zeros((1, 1, 1, 1)), "u")], 9,
            "index -6 is out of range for axis 3 of size 5", axis=3),
        one("ScatterND", ["x", "i", "u"], [I([[0, 1]], "i"), f32(np.zeros((1, 4)), "u")], 13,
            "updates must have the indices' dims but the last, then the data's past the first 2"),
        one("Scatter", ["x", "i", "u"], [I(np.zeros((1, 1, 1, 1)), "i"), f32(np.zeros((1, 1, 1, 1)), "u")], 11,
            "Scatter is deprecated from opset 11: ScatterElements replaces it"),
        one("CumSum", ["x", "x"], [], 14, "input 2 ('x') determines a shape, so its value must be known when compiling: "
            "make it an initializer or a constant, or give its value"),
        one("CumSum", ["x", "a"], [I(4, "a")], 14, "axis 4 is out of range for rank 4"),
        one("OneHot", ["x", "d", "v"], [I(3, "d"), f32([0, 1, 2], "v")], 11, "its values must be a list of two, [off, on]"),
    ]


def check_run_time_index(d):
    """GatherND indices fed at run time: one out of range fails the run (as Gather's do)."""
    g = helper.make_graph([node("GatherND", ["x", "gi"], ["y"], name="gnd")], "rt",
                          [helper.make_tensor_value_info("x", TP.FLOAT, X.shape), helper.make_tensor_value_info("gi", TP.INT64, [1, 2])],
                          [helper.make_empty_tensor_value_info("y")])
    path = os.path.join(d, "rt.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    pbs = [os.path.join(d, "rt_x.pb"), os.path.join(d, "rt_i.pb")]
    open(pbs[0], "wb").write(numpy_helper.from_array(X).SerializeToString())
    open(pbs[1], "wb").write(numpy_helper.from_array(i64([1, 3])).SerializeToString())
    p = subprocess.run([sinter, "run", path, *pbs, "-o", os.path.join(d, "rt_out")], capture_output=True, text=True)
    want = "rt: node 'gnd' (gather_nd) failed: its kernel refused the values it was given (an index, a class or a size out of the op's range)"
    if p.returncode == 0 or want not in p.stderr:
        print(f"FAIL run-time index: want '{want}', got exit {p.returncode}: {p.stderr.strip()}")
        return 1
    print("ok an index out of range at run time fails the run")
    return 0


with tempfile.TemporaryDirectory() as d:
    failed = sum(run_model(d, o, m) for o, m in models().items()) + ortcompare.refuse_nodes(d, sinter, bad_cases(), X.shape) + check_run_time_index(d)
print("PASS" if not failed else f"{failed} failures")
sys.exit(1 if failed else 0)
