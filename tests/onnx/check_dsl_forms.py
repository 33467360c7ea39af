"""The DSL forms and ONNX export of the shape ops (Clip with constant bounds, Transpose,
Concat, the Reduce ops, Squeeze, Unsqueeze, Reshape, LogSoftmax, LeakyRelu) and of the CNN
forms (SiLU and squeeze-excite products, ceil_mode pools, LRN, ConvTranspose, Resize by scales and
by sizes, broadcasting Add and Sub): a batched ONNX
chain goes through `sinter import`, compiles, and is written back by `sinter export-onnx`;
the compiled .nn and the export in ONNX Runtime must compute what ONNX Runtime computes for
the original. Then the forms the DSL cannot hold are refused by name."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto as TP, helper, numpy_helper

sinter, ort_run, ort_modules = sys.argv[1:4]
node = helper.make_node
i64 = lambda name, *v: numpy_helper.from_array(np.array(v, np.int64), name)
f32 = lambda name, v: numpy_helper.from_array(np.array(v, np.float32), name)
X = np.random.default_rng(3).standard_normal((3, 4, 6, 5)).astype(np.float32)


def model(nodes, inits, outs, opset=13, shape=(4, 6, 5)):
    g = helper.make_graph(nodes, "forms", [helper.make_tensor_value_info("x", TP.FLOAT, ["N", *shape])],
                          [helper.make_empty_tensor_value_info(o) for o in outs], inits)
    mp = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    mp.ir_version = 8 if opset >= 16 else 7
    return mp


def chain(out):
    nodes = [node("Clip", ["x", "lo", "hi"], ["a"], name="clip"),
             node("Transpose", ["a"], ["b"], perm=[0, 2, 3, 1], name="to_hwc"),
             node("Transpose", ["a"], ["b2"], perm=[0, 3, 1, 2], name="roll"),
             node("Concat", ["b", "b"], ["c"], axis=3, name="cat"),
             node("ReduceMax", ["c"], ["y1"], axes=[1], keepdims=0, name="rmax"),
             node("ReduceMean", ["c"], ["r"], axes=[2], name="rmean"),
             node("ReduceSum", ["b2", "ax1"], ["y3"], keepdims=0, name="rsum"),
             node("Squeeze", ["r", "ax2"], ["s"], name="sq"),
             node("Unsqueeze", ["s", "ax1"], ["u"], name="unsq"),
             node("Reshape", ["u", "shape"], ["h"], name="flat"),
             node("LogSoftmax", ["h"], ["l"], axis=1, name="lsm"),
             node("LeakyRelu", ["l"], ["y2"], alpha=0.2, name="leaky")]
    inits = [f32("lo", -0.5), f32("hi", 0.7), i64("ax1", 1), i64("ax2", 2), i64("shape", 0, -1)]
    return model(nodes, inits, [out])


def cnn_chain(out):
    """The forms of real CNNs: SiLU and a squeeze-excite gate (Mul of two computed tensors,
    broadcasting), a ceil_mode pool, a constant divisor per channel, ConvTranspose with pads and
    output_padding, Resize by scales and by sizes, a broadcasting Add and Sub."""
    rng = np.random.default_rng(5)
    nodes = [node("Conv", ["x", "w1", "b1"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv"),
             node("Sigmoid", ["c"], ["cs"], name="sig"),
             node("Mul", ["c", "cs"], ["silu"], name="silu"),
             node("GlobalAveragePool", ["silu"], ["gap"], name="gap"),
             node("Sigmoid", ["gap"], ["gate"], name="gate"),
             node("Mul", ["silu", "gate"], ["se"], name="se"),
             node("Div", ["se", "dv"], ["dvd"], name="per_channel_div"),
             node("MaxPool", ["dvd"], ["mp"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1, name="pool_ceil"),
             node("LRN", ["mp"], ["lr"], size=3, alpha=2e-4, beta=0.7, bias=1.5, name="lrn"),
             node("ConvTranspose", ["lr", "wt", "bt"], ["up"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                  output_padding=[1, 0], name="deconv"),
             node("Resize", ["up", "", "sc"], ["rs"], mode="linear", name="resize_scales"),
             node("Resize", ["rs", "", "", "sz"], ["rz"], mode="nearest", coordinate_transformation_mode="asymmetric",
                  nearest_mode="floor", axes=[2, 3], name="resize_sizes"),
             node("GlobalAveragePool", ["rz"], ["rg"], name="gap2"),
             node("Add", ["rz", "rg"], ["ad"], name="bcast_add"),
             node("Sub", ["ad", "rg"], ["y"], name="bcast_sub")]
    inits = [f32("w1", rng.standard_normal((6, 4, 3, 3)) * 0.3), f32("b1", rng.standard_normal(6)),
             f32("dv", rng.uniform(0.5, 2.0, (1, 6, 1, 1))), f32("wt", rng.standard_normal((6, 3, 3, 3)) * 0.3),
             f32("bt", rng.standard_normal(3)), f32("sc", [1, 1, 2, 1.5]), i64("sz", 11, 13)]
    return model(nodes, inits, [out], opset=18)  # Resize-18's axes: sizes of the spatial axes only


def shared_chain(out):
    """Initializers several layers read, directly (one conv kernel twice, one gamma for two
    BatchNorms) and through an Identity (PyTorch's exporter merges equal initializers so):
    `--weights` gives each layer its copy."""
    rng = np.random.default_rng(6)
    nodes = [node("Conv", ["x", "w", "b"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv_a"),
             node("BatchNormalization", ["c1", "g", "be", "mu", "var"], ["n1"], name="bn_a"),
             node("Conv", ["n1", "w", "b"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv_b"),
             node("Identity", ["g"], ["g2"], name="dedup"),
             node("BatchNormalization", ["c2", "g2", "be", "mu2", "var"], ["y"], name="bn_b")]
    inits = [f32("w", rng.standard_normal((4, 4, 3, 3)) * 0.3), f32("b", rng.standard_normal(4)),
             f32("g", rng.uniform(0.5, 1.5, 4)), f32("be", rng.standard_normal(4)), f32("mu", rng.standard_normal(4)),
             f32("mu2", rng.standard_normal(4)), f32("var", rng.uniform(0.5, 2, 4))]
    return model(nodes, inits, [out])


CNN_TEXT = ("mul(c, cs", "mul(silu, gate", "rescale(se, [", "ceil_mode = true",
            "lrn(mp, 3, alpha = 0.000199999994947575", "conv_transpose(lr, 3, [3, 3], stride = [2, 2], pads = [1, 1, 1, 1], "
            "output_padding = [1, 0]",
            "resize(up, [1, 1, 2, 1.5], mode = linear", "sizes = [0, 3, 11, 13], mode = nearest, "
            "coordinate_transformation_mode = asymmetric, nearest_mode = floor", "sum(rz, rg", "sub(ad, rg")


def run(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return p.returncode, p.stderr.strip()


def round_trip(d, k, out, build=None, texts=None, count=12):
    """The chain with one graph output (export-onnx writes one); all nodes are imported."""
    src, nn, exported, exe, x = (os.path.join(d, f"{k}{f}") for f in ("src.onnx", "m.nn", "x.onnx", "m.exe", "x.pb"))
    onnx.save((build or chain)(out), src)
    open(x, "wb").write(numpy_helper.from_array(X).SerializeToString())
    ort_env = dict(os.environ, ORT_NODE_MODULES=ort_modules)
    for cmd in ([sinter, "import", src, "-o", nn], [sinter, "compile", nn, "--weights", src, "--batch", "3", "-o", exe],
                [exe, "run", x, "-o", os.path.join(d, f"{k}s")], [sinter, "export-onnx", nn, "--weights", src, "-o", exported]):
        rc, err = run(cmd)
        if rc:
            print(f"FAIL {out}: {' '.join(os.path.basename(c) for c in cmd[:2])}: {err}")
            return 1
    for m, o in ((src, "r"), (exported, "e")):
        rc, err = run(["node", ort_run, m, x, "-o", os.path.join(d, f"{k}{o}")], ort_env)
        if rc:
            print(f"FAIL {out}: ONNX Runtime on {os.path.basename(m)}: {err[-400:]}")
            return 1
    text = open(nn).read()
    failed = 0
    for want in texts or ("clip(x, min = -0.5, max = 0.699999988", "transpose(a, [0, 3, 1, 2]", "concat(b, b, axis = 3",
                          "reduce_max(c, [1], keepdims = false", "reduce_sum(b2, [1], keepdims = false", "squeeze(r, [2]",
                          "unsqueeze(s, [1]", "reshape(u, [0, -1]", "log_softmax(h, axis = 0", "leaky_relu(l, 0.2"):
        if want not in text:
            print(f"FAIL {out}: the imported text lacks '{want}':\n{text}")
            failed += 1
    load = lambda o: numpy_helper.to_array(onnx.load_tensor(os.path.join(d, f"{k}{o}", "output_0.pb")))
    ref, s, e = load("r"), load("s"), load("e")
    for what, got in (("compiled import", s), ("export in ONNX Runtime", e)):
        if got.shape != ref.shape or float(np.max(np.abs(got - ref))) > 1e-5:
            print(f"FAIL {out}: the {what} gives {got.shape}, ONNX Runtime {ref.shape}")
            failed += 1
    if not failed:
        print(f"ok {out}: import -> compile -> export-onnx of {count} nodes matches ONNX Runtime")
    return failed


def refused(d):
    """(nodes, initializers, the message's end): forms the DSL cannot hold."""
    cases = [([node("ReduceMean", ["x"], ["y"], axes=[0], name="rb")], [], "node 'rb' (ReduceMean) cannot be written in the DSL: "
              "it reduces over the batch axis"),
             ([node("Transpose", ["x"], ["y"], perm=[1, 0, 2, 3], name="tb")], [], "node 'tb' (Transpose) cannot be written in "
              "the DSL: it moves the batch axis"),
             ([node("Concat", ["x", "k"], ["y"], axis=1, name="ck")], [f32("k", np.ones((1, 4, 6, 5)))],
              "node 'ck' (Concat) cannot be written in the DSL: an input is a constant, which the DSL cannot hold"),
             ([node("Reshape", ["x", "s"], ["y"], name="rs")], [i64("s", 3, -1)], "node 'rs' (Reshape) cannot be written in "
              "the DSL: its shape does not keep the batch first"),
             ([node("Unsqueeze", ["x", "a"], ["y"], name="ub")], [i64("a", 0)], "node 'ub' (Unsqueeze) cannot be written in the "
              "DSL: an axis is the batch axis"),
             ([node("Mul", ["x", "k"], ["y"], name="mk")], [f32("k", np.ones((6, 5)))], "node 'mk' (Mul) cannot be written in "
              "the DSL: a constant that is not one value per channel, which the DSL cannot hold"),
             # [5] meets the last axis, not the 5 channels: no rescale
             ([node("Add", ["x", "k"], ["y"], name="ak")], [f32("k", np.arange(5))], "node 'ak' (Add) cannot be written in "
              "the DSL: a constant that is not one value per channel, which the DSL cannot hold", (5, 6, 5)),
             ([node("Sub", ["k", "x"], ["y"], name="sk")], [f32("k", np.ones((1, 4, 1, 1)))], "node 'sk' (Sub) cannot be "
              "written in the DSL: a constant that is not one value per channel, which the DSL cannot hold"),
             ([node("Max", ["x", "k"], ["y"], name="xk")], [f32("k", np.ones(5))], "node 'xk' (Max) cannot be written in "
              "the DSL: an input is a constant, which the DSL cannot hold")]
    failed = 0
    for k, (nodes, inits, msg, *shape) in enumerate(cases):
        src = os.path.join(d, f"bad{k}.onnx")
        onnx.save(model(nodes, inits, ["y"], shape=shape[0] if shape else (4, 6, 5)), src)
        rc, err = run([sinter, "import", src, "-o", os.path.join(d, "bad.nn")])
        ok = rc != 0 and err.splitlines()[0] == f"sinter: error: {src}: {msg}"
        if not ok:
            print(f"FAIL refused case {k}: want {msg!r}, got {err!r}")
            failed += 1
    if not failed:
        print(f"ok {len(cases)} forms refused by name")
    return failed


with tempfile.TemporaryDirectory() as d:
    failed = sum(round_trip(d, k, o) for k, o in enumerate(("y1", "y2", "y3"))) + refused(d)
    failed += round_trip(d, "cnn", "y", cnn_chain, CNN_TEXT, 15)
    failed += round_trip(d, "shared", "y", shared_chain, ("conv2d(n1, 4,", "batchnorm(c2,"), 5)
print("PASS" if not failed else f"{failed} failures")
sys.exit(1 if failed else 0)
