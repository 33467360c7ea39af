#!/usr/bin/env python3
"""Hostile and odd ONNX/DSL models for sinter's import validation (issue 9, classes 2, 3, 11).

  cases.py list                      the case names (one ctest each)
  cases.py gen DIR                   writes every case's files into DIR (one process for all)
  cases.py check SINTER DIR NAME     runs the case's command and checks exit 1, no signal, no
                                     sanitizer report, and the exact first line of the error

Each case is (name, command, expected first stderr line); {m} in a command or message is the
case's model path, {d} the case's folder. Odd-but-valid cases expect exit 0 and their own check.
"""
import os
import subprocess
import sys

OPSET = 13
BIG = 2**31 - 8
CASES = []  # (name, build(dir) -> None, argv template, expected first line or a checker)


def case(name, argv, expect):
    def deco(build):
        CASES.append((name, build, argv, expect))
        return build
    return deco


# ---------------------------------------------------------------- model helpers (lazy onnx)
def _h():
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    return onnx, TensorProto, helper, numpy_helper


def save(d, nodes, inputs, outputs, inits=(), opset=OPSET, name="m.onnx"):
    onnx, TP, helper, _ = _h()
    vi = lambda n, shape, t=TP.FLOAT: helper.make_tensor_value_info(n, t, shape)
    g = helper.make_graph(nodes, "g", [vi(*i) for i in inputs], [vi(*o) for o in outputs], list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.save(m, os.path.join(d, name))


def init(name, array):
    return _h()[3].from_array(array, name)


def node(op, ins, outs, name="n", **attrs):
    return _h()[2].make_node(op, ins, outs, name=name, **attrs)


def import_cmd():
    return ["import", "{m}", "-o", "{d}/out.nn"]


SITE = "{m}: error: node 'n' (%s, opset %d): %s"


def site(op, msg, opset=OPSET):
    return SITE % (op, opset, msg)


# ---------------------------------------------------------------- arity: too few inputs, every op family
X4 = ("x", [1, 2, 4, 4])
Y4 = ("y", [1, 2, 4, 4])
ONE_INPUT = ["Relu", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "MaxPool", "AveragePool", "GlobalAveragePool",
             "GlobalMaxPool", "Flatten", "Abs", "Neg", "Exp", "Log", "Sqrt", "Erf", "Identity", "LeakyRelu", "Cast",
             "Clip", "Shape", "Transpose", "Concat", "Sum", "Max", "Min", "Reshape", "Squeeze", "Unsqueeze",
             "ReduceMean", "ReduceSum", "Resize", "Pad", "Dropout"]
# op: (min inputs, max inputs or -1) as sinter's schema declares them (opsets 1 to 21)
ARITY = {op: (1, 1) for op in ONE_INPUT}
ARITY.update({"Clip": (1, 3), "Concat": (1, -1), "Sum": (1, -1), "Max": (1, -1), "Min": (1, -1), "Reshape": (1, 2),
              "Squeeze": (1, 2), "Unsqueeze": (1, 2), "ReduceMean": (1, 2), "ReduceSum": (1, 2), "Resize": (1, 4),
              "Pad": (1, 4), "Dropout": (1, 3), "Conv": (2, 3), "ConvTranspose": (2, 3), "BatchNormalization": (5, 5),
              "Add": (2, 2), "Sub": (2, 2), "Mul": (2, 2), "Div": (2, 2), "Pow": (2, 2), "Gather": (2, 2),
              "Gemm": (2, 3), "MatMul": (2, 2)})


def count_msg(lo, hi, got, what="input"):
    word = lambda n: what if n == 1 else what + "s"
    if hi < 0:
        return "needs at least %d %s, got %d" % (lo, word(lo), got)
    if lo == hi:
        return "takes %d %s, got %d" % (lo, word(lo), got)
    return "takes %d to %d %s, got %d" % (lo, hi, word(hi), got)


def _too_few(op):
    lo, hi = ARITY[op]

    def build(d):
        ins = ["x"] * (lo - 1)
        save(d, [node(op, ins, ["y"])], [X4], [Y4])
    CASES.append(("too_few_" + op, build, import_cmd(), site(op, count_msg(lo, hi, lo - 1))))


for _op in sorted(ARITY):
    _too_few(_op)


@case("relu_100_inputs", import_cmd(), site("Relu", "takes 1 input, got 100"))
def _(d):
    save(d, [node("Relu", ["x"] * 100, ["y"])], [X4], [Y4])


@case("relu_2_outputs", import_cmd(), site("Relu", "takes 1 output, got 2"))
def _(d):
    save(d, [node("Relu", ["x"], ["y", "z"])], [X4], [Y4])


@case("conv_0_outputs", import_cmd(), site("Conv", "takes 1 output, got 0"))
def _(d):
    import numpy as np
    save(d, [node("Conv", ["x", "w"], [])], [X4], [Y4], [init("w", np.ones((2, 2, 1, 1), np.float32))])


@case("batchnorm_3_inputs", import_cmd(), site("BatchNormalization", "takes 5 inputs, got 3"))
def _(d):
    import numpy as np
    c = np.ones(2, np.float32)
    save(d, [node("BatchNormalization", ["x", "s", "b"], ["y"])], [X4], [Y4], [init("s", c), init("b", c)])


@case("batchnorm_mean_omitted", import_cmd(), site("BatchNormalization", 'input 4 is required but omitted (named "")'))
def _(d):
    import numpy as np
    c = np.ones(2, np.float32)
    save(d, [node("BatchNormalization", ["x", "s", "b", "", "v"], ["y"])], [X4], [Y4],
         [init("s", c), init("b", c), init("v", c)])


@case("gather_indices_omitted", import_cmd(), site("Gather", "takes 2 inputs, got 1"))
def _(d):
    save(d, [node("Gather", ["x", ""], ["y"])], [X4], [Y4])


@case("gather_data_omitted", import_cmd(), site("Gather", 'input 1 is required but omitted (named "")'))
def _(d):
    import numpy as np
    save(d, [node("Gather", ["", "i"], ["y"])], [X4], [Y4], [init("i", np.zeros(1, np.int64))])


@case("conv_weight_omitted", import_cmd(), site("Conv", 'input 2 is required but omitted (named "")'))
def _(d):
    import numpy as np
    save(d, [node("Conv", ["x", "", "b"], ["y"])], [X4], [Y4], [init("b", np.ones(2, np.float32))])


@case("sum_omitted_middle", import_cmd(), site("Sum", 'input 2 is required but omitted (named "")'))
def _(d):
    save(d, [node("Sum", ["x", "", "x"], ["y"])], [X4], [Y4])


@case("gemm_output_omitted", import_cmd(), site("Gemm", 'output 1 is required but named ""'))
def _(d):
    import numpy as np
    save(d, [node("Gemm", ["a", "b"], [""]), node("Relu", ["a"], ["y"], name="r")], [("a", [2, 2])], [("y", [2, 2])],
         [init("b", np.ones((2, 2), np.float32))])


# ---------------------------------------------------------------- attribute ranges
def attr_msg(name, v, lo, hi):
    return "attribute '%s' has %d, expected %d to %d" % (name, v, lo, hi)


MAXA = 2**24


@case("maxpool_strides_0", import_cmd(), site("MaxPool", attr_msg("strides", 0, 1, MAXA)))
def _(d):
    save(d, [node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[0, 0])], [X4], [Y4])


@case("avgpool_kernel_0", import_cmd(), site("AveragePool", attr_msg("kernel_shape", 0, 1, MAXA)))
def _(d):
    save(d, [node("AveragePool", ["x"], ["y"], kernel_shape=[0, 2])], [X4], [Y4])


@case("conv_dilations_0", import_cmd(), site("Conv", attr_msg("dilations", 0, 1, MAXA)))
def _(d):
    import numpy as np
    save(d, [node("Conv", ["x", "w"], ["y"], dilations=[0, 1])], [X4], [Y4],
         [init("w", np.ones((2, 2, 1, 1), np.float32))])


@case("conv_pads_negative", import_cmd(), site("Conv", attr_msg("pads", -1, 0, MAXA)))
def _(d):
    import numpy as np
    save(d, [node("Conv", ["x", "w"], ["y"], pads=[0, -1, 0, 0])], [X4], [Y4],
         [init("w", np.ones((2, 2, 1, 1), np.float32))])


@case("conv_pads_2g", ["compile", "{m}", "-o", "{d}/exe"], site("Conv", attr_msg("pads", BIG, 0, MAXA)))
def _(d):
    import numpy as np
    save(d, [node("Conv", ["x", "w"], ["y"], pads=[BIG] * 2)], [("x", [1, 1, 4])], [("y", [1, 1, 4])],
         [init("w", np.ones((1, 1, 1), np.float32))])


@case("conv_pads_over_cap", ["compile", "{m}", "-o", "{d}/exe"],
      site("Conv", "output 'y' would have shape (1, 2, 33554436, 33554436): more than 4294967296 (2^32) elements, "
                   "the cap per tensor"))
def _(d):
    import numpy as np
    save(d, [node("Conv", ["x", "w"], ["y"], pads=[2**24] * 4)], [X4], [Y4],
         [init("w", np.ones((2, 2, 1, 1), np.float32))])


@case("pad_pads_2g", ["run", "{m}", "{d}/x.pb", "-o", "{d}/out"],
      "{m}: error: node 'n' (pad): padding of axis 2 is too large (at most 16777216 per side)")
def _(d):
    import numpy as np
    pads = np.array([0, 0, BIG, 0, 0, BIG], np.int64)
    save(d, [node("Pad", ["x", "p"], ["y"])], [("x", [1, 1, 4])], [("y", [1, 1, 4])], [init("p", pads)])
    write_pb(d, "x.pb", np.zeros((1, 1, 4), np.float32))


@case("pad_pads_2g_attr", import_cmd(), site("Pad", attr_msg("pads", BIG, 0, MAXA), 2))
def _(d):
    save(d, [node("Pad", ["x"], ["y"], pads=[0, 0, BIG, 0, 0, 0, BIG, 0])], [X4], [Y4], opset=2)


@case("pad_pads_over_cap", import_cmd(),
      site("Pad", "output 'y' would have shape (1, 2, 33554436, 33554436): more than 4294967296 (2^32) elements, "
                  "the cap per tensor"))
def _(d):
    import numpy as np
    pads = np.array([0, 0, 2**24, 2**24, 0, 0, 2**24, 2**24], np.int64)
    save(d, [node("Pad", ["x", "p"], ["y"])], [X4], [Y4], [init("p", pads)])


@case("pad_pads_negative_input", import_cmd(), "{m}: error: node 'n' (pad): padding must not be negative, got -1")
def _(d):
    import numpy as np
    save(d, [node("Pad", ["x", "p"], ["y"])], [X4], [Y4], [init("p", np.array([0, 0, -1, 0, 0, 0, 0, 0], np.int64))])


@case("conv_group_not_dividing", import_cmd(),
      "{m}: error: node 'n' (conv2d): groups (2) must divide the input channels (3) and the filters (2)")
def _(d):
    import numpy as np
    save(d, [node("Conv", ["x", "w"], ["y"], group=2)], [("x", [1, 3, 4, 4])], [Y4],
         [init("w", np.ones((2, 1, 1, 1), np.float32))])


@case("conv_group_0", import_cmd(), site("Conv", attr_msg("group", 0, 1, MAXA)))
def _(d):
    import numpy as np
    save(d, [node("Conv", ["x", "w"], ["y"], group=0)], [X4], [Y4], [init("w", np.ones((2, 2, 1, 1), np.float32))])


@case("concat_axis_out_of_range", import_cmd(), "{m}: error: node 'n' (concat): axis 4 is out of range for rank 4")
def _(d):
    save(d, [node("Concat", ["x", "x"], ["y"], axis=4)], [X4], [Y4])


@case("softmax_axis_out_of_range", import_cmd(),
      "{m}: error: node 'n' (softmax): axis -5 is out of range for rank 4 (opset 13)")
def _(d):
    save(d, [node("Softmax", ["x"], ["y"], axis=-5)], [X4], [Y4])


@case("gather_axis_out_of_range", import_cmd(), "{m}: error: node 'n' (gather): axis 7 is out of range for rank 4")
def _(d):
    import numpy as np
    save(d, [node("Gather", ["x", "i"], ["y"], axis=7)], [X4], [Y4], [init("i", np.zeros(1, np.int64))])


@case("reduce_axes_out_of_range", import_cmd(),
      "{m}: error: node 'n' (reduce_sum): axis 9 is out of range for rank 4")
def _(d):
    import numpy as np
    save(d, [node("ReduceSum", ["x", "a"], ["y"])], [X4], [Y4], [init("a", np.array([9], np.int64))])


@case("transpose_perm_huge", import_cmd(), site("Transpose", attr_msg("perm", 2**32, 0, 7)))
def _(d):
    save(d, [node("Transpose", ["x"], ["y"], perm=[2**32, 1, 2, 3])], [X4], [Y4])


# ---------------------------------------------------------------- sizes
@case("input_dims_overflow", import_cmd(),
      "{m}: error: graph input 'x' has shape (1, 1099511627776, 1099511627776): more elements than 64-bit arithmetic can count")
def _(d):
    save(d, [node("Relu", ["x"], ["y"])], [("x", [1, 2**40, 2**40])], [("y", [1, 2**40, 2**40])])


@case("input_dims_over_cap", import_cmd(),
      "{m}: error: graph input 'x' has shape (1, 65536, 65537): more than 4294967296 (2^32) elements, the cap per tensor")
def _(d):
    save(d, [node("Relu", ["x"], ["y"])], [("x", [1, 65536, 65537])], [("y", [1, 65536, 65537])])


@case("batch_over_cap", ["compile", "{m}", "--batch", "65536", "--threads", "1", "-o", "{d}/exe"],
      site("MatMul", "output 'y' would have shape (65536, 65536, 2): more than 4294967296 (2^32) elements, the cap per tensor"))
def _(d):
    import numpy as np
    save(d, [node("MatMul", ["x", "w"], ["y"])], [("x", ["N", 65536, 1])], [("y", ["N", 65536, 2])],
         [init("w", np.ones((1, 2), np.float32))])


@case("max_memory_small", ["compile", "{m}", "--max-memory", "1000", "-o", "{d}/exe"],
      "{m}: error: model 'g': the planned model needs 4160 bytes (arena 64, weights 4096, scratch 0), "
      "more than the memory cap of 1000 bytes (--max-memory)")
def _(d):
    import numpy as np
    save(d, [node("MatMul", ["x", "w"], ["h"]), node("Relu", ["h"], ["y"], name="r")], [("x", [1, 1024])],
         [("y", [1, 1])], [init("w", np.ones((1024, 1), np.float32))])


@case("onnx_test_max_memory_small", ["onnx-test", "{d}", "--max-memory", "1000"],
      "{d}/model.onnx: error: model 'g': the planned model needs 4160 bytes (arena 64, weights 4096, scratch 0), "
      "more than the memory cap of 1000 bytes (--max-memory)")
def _(d):
    import numpy as np
    save(d, [node("MatMul", ["x", "w"], ["h"]), node("Relu", ["h"], ["y"], name="r")], [("x", [1, 1024])],
         [("y", [1, 1])], [init("w", np.ones((1024, 1), np.float32))], name="model.onnx")
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    write_pb(os.path.join(d, "test_data_set_0"), "input_0.pb", np.ones((1, 1024), np.float32))
    write_pb(os.path.join(d, "test_data_set_0"), "output_0.pb", np.full((1, 1), 1024, np.float32))


# ---------------------------------------------------------------- sinter run: input files against the graph
def write_pb(d, name, array):
    _, _, _, nh = _h()
    with open(os.path.join(d, name), "wb") as f:
        f.write(nh.from_array(array).SerializeToString())


@case("run_input_wrong_type", ["run", "{m}", "{d}/x.pb", "-o", "{d}/out"],
      "sinter: error: {d}/x.pb: graph input 'x' of {m} is FLOAT (1, 2, 4, 4); the file holds INT64 (1, 2, 4, 4)")
def _(d):
    import numpy as np
    save(d, [node("Relu", ["x"], ["y"])], [X4], [Y4])
    write_pb(d, "x.pb", np.zeros((1, 2, 4, 4), np.int64))


@case("run_input_wrong_shape", ["run", "{m}", "{d}/x.pb", "-o", "{d}/out"],
      "sinter: error: {d}/x.pb: graph input 'x' of {m} is FLOAT (1, 2, 4, 4); the file holds FLOAT (1, 2, 4, 5)")
def _(d):
    import numpy as np
    save(d, [node("Relu", ["x"], ["y"])], [X4], [Y4])
    write_pb(d, "x.pb", np.zeros((1, 2, 4, 5), np.float32))


@case("exe_run_input_wrong_type", [["compile", "{m}", "-o", "{d}/exe"], ["@{d}/exe", "run", "{d}/x.pb", "-o", "{d}/out"]],
      "{d}/x.pb: input 0 ('x') must be FLOAT (1, 2, 4, 4) (a smaller batch is fine), the file holds INT64 (1, 2, 4, 4); "
      "run 'g info'")
def _(d):
    import numpy as np
    save(d, [node("Relu", ["x"], ["y"])], [X4], [Y4])
    write_pb(d, "x.pb", np.zeros((1, 2, 4, 4), np.int64))


# ---------------------------------------------------------------- DSL
def dsl(d, text):
    with open(os.path.join(d, "m.nn"), "w") as f:
        f.write(text)


DSL_CONV = """model m {
  input image: [3, 8, 8]
  x = conv2d(image, %d, 3)
  x = flatten(x)
  output probs = dense(x, 2, activation = softmax)
}
"""


def dsl_case(name, filters, argv, expect):
    def build(d):
        dsl(d, DSL_CONV % filters)
    CASES.append((name, build, argv, expect))


dsl_case("dsl_filters_2p62_check", 2**62, ["check", "{d}/m.nn"],
         "{d}/m.nn:3:7: error: conv2d 'conv2d': parameter 'conv2d/kernel' would have shape (4611686018427387904, 3, 3, 3): "
         "more elements than 64-bit arithmetic can count")
dsl_case("dsl_filters_2p62_summary", 2**62, ["summary", "{d}/m.nn"],
         "{d}/m.nn:3:7: error: conv2d 'conv2d': parameter 'conv2d/kernel' would have shape (4611686018427387904, 3, 3, 3): "
         "more elements than 64-bit arithmetic can count")
dsl_case("dsl_filters_1e9_compile", 10**9, ["compile", "{d}/m.nn", "-o", "{d}/exe"],
         "{d}/m.nn:3:7: error: conv2d 'conv2d': parameter 'conv2d/kernel' would have shape (1000000000, 3, 3, 3): "
         "more than 4294967296 (2^32) elements, the cap per tensor")


@case("dsl_input_over_cap", ["check", "{d}/m.nn"],
      "{d}/m.nn:2:16: error: input 'image': the shape holds more than 4294967296 (2^32) elements with the batch, "
      "the cap per tensor")
def _(d):
    dsl(d, """model m {
  input image: [16777216, 16777216, 16777216]
  output probs = dense(flatten(image), 2, activation = softmax)
}
""")


# ---------------------------------------------------------------- odd but valid: must run, checked numerically
def ort_outputs(d, model, feeds):
    """ONNX Runtime's outputs through ../shared/reference/ort_run.js (node)."""
    import numpy as np
    _, _, _, nh = _h()
    import onnx
    out = os.path.join(d, "ort")
    os.makedirs(out, exist_ok=True)
    files = []
    for i, a in enumerate(feeds):
        write_pb(d, "in_%d.pb" % i, a)
        files.append(os.path.join(d, "in_%d.pb" % i))
    env = dict(os.environ, ORT_NODE_MODULES=os.environ["SINTER_ORT_MODULES"])
    subprocess.run(["node", os.environ["SINTER_ORT_RUN"], os.path.join(d, model)] + files + ["-o", out], env=env,
                   check=True)
    return [nh.to_array(onnx.load_tensor(os.path.join(out, "output_%d.pb" % i))) for i in range(1)]


def odd_case(name, build_fn, feeds_fn):
    """Runs with `sinter run` and compares output 0 with ONNX Runtime's (saved at generation)."""
    def build(d):
        import numpy as np
        build_fn(d)
        feeds = feeds_fn()
        ref = ort_outputs(d, "m.onnx", feeds)[0]
        np.save(os.path.join(d, "ref.npy"), ref)
    CASES.append((name, build, ["run", "{m}", "{d}/in_0.pb", "-o", "{d}/out"], "numbers"))


def _odd(d):
    """Clip with its min omitted in the middle, Dropout with its ratio omitted, a Sum and a
    Concat of 40 inputs each (past any 32-bit input mask), Resize with roi omitted: one
    compile for all."""
    import numpy as np
    save(d, [node("Clip", ["x", "", "hi"], ["c"]),
             node("Dropout", ["c", "", "t"], ["r"], name="dr"),
             node("Sum", ["r"] * 39 + ["x"], ["s"], name="s"),
             node("Concat", ["s"] * 40, ["k"], name="cat", axis=1),
             node("Resize", ["k", "", "sc"], ["y"], name="rs", mode="nearest")],
         [X4], [("y", [1, 80, 8, 8])], [init("hi", np.array(0.25, np.float32)), init("t", np.array(False)),
                                        init("sc", np.array([1, 1, 2, 2], np.float32))])


def _feeds_x4():
    import numpy as np
    return [np.random.default_rng(9).standard_normal((1, 2, 4, 4)).astype(np.float32)]


odd_case("odd_omitted_inputs_and_40_inputs", _odd, _feeds_x4)


def _shared_shape(d):
    """One shape initializer read by two Reshapes (and a Flatten-like third): each must find
    it known, not made a parameter of the first reader."""
    import numpy as np
    save(d, [node("Reshape", ["x", "shape"], ["a"], name="r1"),
             node("Relu", ["x"], ["xr"], name="relu"),
             node("Reshape", ["xr", "shape"], ["b"], name="r2"),
             node("Add", ["a", "b"], ["y"], name="add")],
         [X4], [("y", [1, 32])], [init("shape", np.array([1, -1], np.int64))])


odd_case("odd_shared_shape_initializer", _shared_shape, _feeds_x4)


# ---------------------------------------------------------------- driver
def case_dir(root, name):
    return os.path.join(root, name)


def gen(root):
    for name, build, _, _ in CASES:
        d = case_dir(root, name)
        os.makedirs(d, exist_ok=True)
        build(d)


def check(sinter, root, name):
    entry = [c for c in CASES if c[0] == name]
    if not entry:
        print("FAIL no case named", name)
        return 1
    _, _, argv, expect = entry[0]
    d = case_dir(root, name)
    m = os.path.join(d, "m.onnx")
    sub = lambda s: s.replace("{m}", m).replace("{d}", d)
    steps = argv if isinstance(argv[0], list) else [argv]
    for step in steps:  # every step but the last must succeed; "@PROG" runs PROG instead of sinter
        args = [sub(step[0][1:])] + [sub(a) for a in step[1:]] if step[0][0] == "@" else [sinter] + [sub(a) for a in step]
        p = subprocess.run(args, capture_output=True, text=True, errors="replace", timeout=120)
        if step is not steps[-1] and p.returncode != 0:
            print("FAIL %s: setup step %s exited %d\n%s" % (name, " ".join(args), p.returncode, p.stderr[-3000:]))
            return 1
    problems = []
    if any(k in p.stderr for k in ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:")):
        problems.append("a sanitizer reported an error")
    if expect == "numbers":
        if p.returncode != 0:
            problems.append("exit %d, expected 0" % p.returncode)
        else:
            import numpy as np
            import onnx
            from onnx import numpy_helper
            got = numpy_helper.to_array(onnx.load_tensor(os.path.join(d, "out", "output_0.pb")))
            ref = np.load(os.path.join(d, "ref.npy"))
            if got.shape != ref.shape or got.dtype != ref.dtype:
                problems.append("output %s %s, ONNX Runtime gives %s %s" % (got.dtype, got.shape, ref.dtype, ref.shape))
            elif not np.allclose(got, ref, rtol=1e-6, atol=1e-6):
                problems.append("output differs from ONNX Runtime by %g" % float(np.max(np.abs(got - ref))))
    else:
        want = sub(expect)
        first = p.stderr.split("\n", 1)[0]
        if p.returncode != 1:
            problems.append("exit %d, expected 1 (negative: a signal; 2: an internal error)" % p.returncode)
        if first != want:
            problems.append("first stderr line differs\n    expected: %s\n    actual:   %s" % (want, first))
    if problems:
        print("FAIL %s: %s\n  %s\n--- stderr ---\n%s" % (name, " ".join(args), "\n  ".join(problems), p.stderr[-3000:]))
        return 1
    print("PASS", name)
    return 0


def main():
    if sys.argv[1:2] == ["list"]:
        print(";".join(c[0] for c in CASES))
        return 0
    if sys.argv[1:2] == ["gen"]:
        gen(sys.argv[2])
        return 0
    if sys.argv[1:2] == ["check"]:
        return check(sys.argv[2], sys.argv[3], sys.argv[4])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
