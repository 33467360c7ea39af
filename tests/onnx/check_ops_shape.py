"""The shape and index ops (Slice, Split, the Reduce family, ArgMax/ArgMin, TopK, ConstantOfShape,
Expand, Tile, Range, Size, GatherElements) against ONNX Runtime, in each opset's form: every
case of one opset is one node chain of a single model, so one compile checks them all. Then one
malformed node per op must be refused with its exact message."""
import os
import sys
import tempfile

import numpy as np
from onnx import helper, numpy_helper, TensorProto as TP

sys.path.insert(0, os.path.dirname(__file__))
import ortcompare  # noqa: E402
from ortcompare import Model, run_model  # noqa: E402

sinter, ort_run, ort_modules = sys.argv[1:4]
rng = np.random.default_rng(11)
X = rng.standard_normal((2, 3, 4, 6)).astype(np.float32)
XI = rng.integers(-50, 50, (2, 3, 4, 6)).astype(np.int32)
XT = np.round(rng.standard_normal((3, 5)) * 1.5).astype(np.float32)  # ties for ArgMax/TopK
I = lambda v, name, dt=np.int64: numpy_helper.from_array(np.asarray(v, dt), name)
node = helper.make_node


def models():
    ms = {}
    # Opset 13: inputs for Slice/Split/ReduceSum axes; attributes for the other Reduce ops.
    m = ms["13a"] = Model(13)
    i64 = lambda *v: np.array(v, np.int64)
    m.add("Slice", ["x", i64(1, -3), i64(3, 100)])  # default axes: 0 and 1; end clamped
    m.add("Slice", ["x", i64(-1, 10), i64(-100, 0), i64(3, 1), i64(-2, -1)])  # negative steps, clamped
    m.add("Slice", ["x", np.array([0], np.int32), np.array([5], np.int32), np.array([-1], np.int32), np.array([2], np.int32)])
    m.add("Slice", ["xi", i64(1), i64(1), i64(2)])  # empty
    m.add("Slice", ["xi", i64(3, 1), i64(0, 3), i64(2, 1), i64(-1, 2)])
    m.add("Slice", ["x", i64(-9223372036854775807), i64(9223372036854775807), i64(3), i64(5)])
    m.add("Split", ["x", i64(1, 2, 3)], 3, axis=3)
    m.add("Split", ["xi"], 2, axis=-3 + 2)  # equal parts along axis 2 of 4
    m.add("Split", ["x"], 3, axis=1)
    for op in ["ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
               "ReduceSumSquare", "ReduceMean"]:
        src = "xp" if op == "ReduceLogSum" else "x"
        m.add(op, [src], axes=[1, -1])
        m.add(op, [src], keepdims=0)
        m.add(op, [src], axes=[0, 2], keepdims=0)
    m.add("ReduceSum", ["x", i64(-2)], keepdims=0)
    m.add("ReduceSum", ["x", np.zeros(0, np.int64)], noop_with_empty_axes=1)
    m.add("ReduceSum", ["x"], keepdims=1)
    for op in ["ArgMax", "ArgMin"]:
        m.add(op, ["xt"], axis=1)
        m.add(op, ["xt"], axis=-1, keepdims=0, select_last_index=1)
        m.add(op, ["xt"], axis=0, select_last_index=1)
        m.add(op, ["x"], axis=2, keepdims=0)
    m = ms["13b"] = Model(13)  # at most 64 outputs a model
    m.add("TopK", ["xt", i64(3)], 2)
    m.add("TopK", ["xt", i64(2)], 2, axis=0, largest=0)
    m.add("TopK", ["x", i64(4)], 2, axis=-1, largest=1, sorted=1)
    m.add("TopK", ["xt", i64(0)], 2, axis=1)
    sh = m.add("Shape", ["x"])[0]
    m.outs.remove(sh)
    m.add("ConstantOfShape", [sh])
    m.add("ConstantOfShape", [i64(2, 3)], value=helper.make_tensor("value", TP.INT64, [1], [7]))
    m.add("ConstantOfShape", [i64(4)], value=helper.make_tensor("value", TP.INT32, [1], [-3]))
    m.add("ConstantOfShape", [i64(3, 0)], value=helper.make_tensor("value", TP.FLOAT, [1], [2.5]))
    m.add("ConstantOfShape", [i64(2)], value=helper.make_tensor("value", TP.DOUBLE, [1], [0.1]))
    r = m.add("ReduceMean", ["x"], axes=[2, 3])[0]  # [2, 3, 1, 1]
    m.add("Expand", [r, i64(2, 3, 4, 2)])
    m.add("Expand", [r, i64(5, 1, 1, 1, 1)])  # rank grows; 1s keep the input's dims
    m.add("Expand", ["xi", i64(1)])
    m.add("Expand", ["x", i64(3, 1, 1, 1, 1)])
    m.add("Tile", ["x", i64(1, 2, 1, 3)])
    m.add("Tile", ["xi", i64(2, 1, 0, 1)])
    m.add("Range", [np.float32(1.5), np.float32(-2), np.float32(-0.75)])
    m.add("Range", [np.int32(3), np.int32(20), np.int32(4)])
    m.add("Range", [np.int64(10), np.int64(0), np.int64(2)])
    m.add("Size", ["x"])
    m.add("GatherElements", ["x", rng.integers(-4, 4, (2, 3, 5, 6)).astype(np.int64)], axis=2)
    m.add("GatherElements", ["xi", rng.integers(0, 3, (1, 2, 2, 2)).astype(np.int32)], axis=1)
    # Opset 9: Slice's attributes, Split's and TopK's attributes, Tile-6.
    m = ms["9"] = Model(9)
    m.add("Slice", ["x"], starts=[-3, 1], ends=[1000, -1], axes=[2, 3])
    m.add("Slice", ["xi"], starts=[1], ends=[2])
    m.add("Split", ["x"], 2, axis=3, split=[5, 1])
    m.add("Split", ["x"], 2, axis=2)
    m.add("TopK", ["xt"], 2, k=2)
    m.add("Tile", ["x", i64(2, 1, 1, 1)])
    m.add("ReduceMax", ["x"], axes=[3])
    m.add("ArgMax", ["x"], axis=3)
    # Opset 12: select_last_index; opset 11: Split and negative axes; 10: Slice inputs.
    m = ms["12"] = Model(12)
    m.add("ArgMin", ["xt"], axis=1, select_last_index=1)
    m.add("Split", ["x"], 2, axis=-1, split=[2, 4])
    m.add("ReduceSum", ["x"], axes=[-1, 0])
    m.add("ReduceMin", ["x"], axes=[-1], keepdims=0)
    m.add("Slice", ["x", i64(2), i64(-5), i64(3), i64(-2)])
    return ms


INPUTS = [("x", X, TP.FLOAT), ("xi", XI, TP.INT32), ("xt", XT, TP.FLOAT), ("xp", np.abs(X) + 0.1, TP.FLOAT)]


# (name, opset, nodes, initializers, the exact error after "node 'bad' (...): ")
def bad_cases():
    i64 = lambda v, n: I(v, n)
    one = lambda op, ins, inits, opset, msg, **a: (op, opset, [node(op, ins, ["y"] + ["z"] * (op == "TopK"), name="bad", **a)],
                                                   inits, msg)
    return [
        one("Slice", ["x"], [], 13, "attribute 'ends' is not an attribute of Slice-13, which has none "
            "(Slice has it in opsets 1 to 9)", starts=[0], ends=[1]),
        one("Slice", ["x", "s", "e", "a", "st"], [i64([0], "s"), i64([1], "e"), i64([0], "a"), i64([0], "st")], 13, "a step is 0"),
        one("Split", ["x"], [], 13, "attribute 'split' is not an attribute of Split-13 (Split has it in opsets 1 to "
            "12); expected one of: axis", split=[1, 1]),
        one("ReduceMax", ["x", "a"], [i64([1], "a")], 13, "ReduceMax-13 takes its axes as an attribute (an input from opset 18)"),
        one("ReduceSum", ["x"], [], 13, "attribute 'axes' is not an attribute of ReduceSum-13 (ReduceSum has it in "
            "opsets 1 to 12); expected one of: keepdims, noop_with_empty_axes", axes=[1]),
        one("ReduceL2", ["x"], [], 13, "axis 4 is out of range for rank 4", axes=[4]),
        one("ArgMax", ["x"], [], 13, "axis -5 is out of range for rank 4", axis=-5),
        one("TopK", ["x", "k"], [i64([7], "k")], 13, "k = 7 is not within 0..6"),
        one("Expand", ["x", "s"], [i64([3, 6], "s")], 13, "cannot expand (2, 3, 4, 6): dimension 4 does not broadcast to 3"),
        one("Tile", ["x", "r"], [i64([1, 2], "r")], 13, "has 2 repeats for rank 4"),
        one("ConstantOfShape", ["s"], [i64([2, -1], "s")], 13, "the shape has a negative dimension or overflows"),
        one("Range", ["a", "b", "c"], [I(0, "a", np.float32), I(1, "b", np.float32), I(0, "c", np.float32)], 13, "delta is 0"),
        one("GatherElements", ["x", "i"], [i64([[1]], "i")], 13, "indices have rank 2, the data 4"),
        one("GatherElements", ["x", "i"], [i64(np.zeros((2, 4, 1, 1)), "i")], 13, "indices have 4 along axis 1, the data only 3"),
    ]


with tempfile.TemporaryDirectory() as d:
    failed = sum(run_model(d, o, m, INPUTS, sinter, ort_run, ort_modules) for o, m in models().items()) + ortcompare.refuse_nodes(d, sinter, bad_cases(), X.shape)
print("PASS" if not failed else f"{failed} failures")
sys.exit(1 if failed else 0)
