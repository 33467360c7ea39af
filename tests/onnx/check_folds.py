"""The inference passes that fold nodes into a Conv: a BatchNormalization and a constant Mul/Div
before it (x / 255 as exporters write it) into its kernel and bias, a Clip after it (ReLU6) into
its kernels' store, so do x * Sigmoid(x) (SiLU), x * HardSigmoid(x), HardSigmoid and HardSwish,
and a BatchNormalization that cannot fold (a residual Add between, or the
Conv's output read elsewhere too) into the Conv's second output (the tap). Each case runs in
sinter and in ONNX Runtime (the reference): the folds must leave the numbers alone, take the
node out of the plan when legal (per tensor and per channel), and leave it in place when the
Conv shares its kernel with another node (ONNX lets nodes read one initializer: folding into
it would change the other node's weights too) or the scaled tensor is also read elsewhere."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

from ortcompare import ort_rel_error, save_and_run_ort

sinter, ort_run, ort_modules = sys.argv[1:4]
rng = np.random.default_rng(7)
init = lambda a, name: numpy_helper.from_array(np.asarray(a, np.float32), name)


def bn(i):
    return [init(rng.random(4) + 0.5, f"g{i}"), init(rng.random(4), f"b{i}"), init(rng.random(4), f"m{i}"),
            init(rng.random(4) + 0.5, f"v{i}")]


def bn3():
    return [init(rng.random(3) + 0.5, "g3"), init(rng.random(3), "b3"), init(rng.random(3), "m3"),
            init(rng.random(3) + 0.5, "v3")]


def bn_node(x, i, y):
    return helper.make_node("BatchNormalization", [x, f"g{i}", f"b{i}", f"m{i}", f"v{i}"], [y], name=f"bn{i}")


W = init(rng.standard_normal((4, 3, 3, 3)), "W")
W2 = init(rng.standard_normal((4, 3, 3, 3)), "W2")
conv = lambda x, w, y, name: helper.make_node("Conv", [x, w], [y], pads=[1, 1, 1, 1], name=name)
# name: (nodes, initializers, outputs, op types that must be gone from the plan, that must stay[, opset])
cases = {
    "mul_scalar": ([helper.make_node("Mul", ["x", "s"], ["xs"], name="scale"), conv("xs", "W", "c", "conv"),
                    bn_node("c", 1, "y")], [W, init(1 / 255, "s")] + bn(1), ["y"], ["mul", "batchnorm"], []),
    "div_scalar_first": ([helper.make_node("Div", ["x", "s"], ["xs"], name="scale"), conv("xs", "W", "y", "conv")],
                         [W, init(255, "s")], ["y"], ["div"], []),
    "mul_per_channel_const_first": ([helper.make_node("Mul", ["s", "x"], ["xs"], name="scale"),
                                     conv("xs", "W", "y", "conv")], [W, init([[[0.5]], [[2]], [[-1]]], "s")], ["y"],
                                    ["mul"], []),
    "shared_kernel": ([helper.make_node("Mul", ["x", "s"], ["xs"], name="scale"), conv("xs", "W", "c1", "conv1"),
                       bn_node("c1", 1, "y1"), conv("x", "W", "c2", "conv2"), bn_node("c2", 2, "y2"),
                       helper.make_node("Add", ["y1", "y2"], ["y"], name="sum")],
                      [W, init(0.5, "s")] + bn(1) + bn(2), ["y"], ["batchnorm"], ["mul"]),  # BNs as taps
    # A pre-activation ResNet's joint: conv + residual, then BN + ReLU for the next block while
    # the sum stays the next shortcut; a tap that is a graph output beside the conv's own.
    "residual_bn_relu_tap": ([conv("x", "W3", "c", "conv"), helper.make_node("Add", ["c", "x"], ["s"], name="add"),
                              bn_node("s", 3, "b"), helper.make_node("Relu", ["b"], ["r"], name="relu"),
                              helper.make_node("Add", ["r", "s"], ["z"], name="next")],
                             [init(rng.standard_normal((3, 3, 3, 3)), "W3")] + bn3(), ["z"], ["batchnorm", "relu"], []),
    # add(main, shortcut) with the shortcut's conv first in node order (Keras's projection): the
    # residual fuses into the conv that runs last (before, into the shortcut's conv, which then
    # read the main branch before it was made).
    "residual_shortcut_first": ([conv("x", "W", "sc", "conv0"), conv("x", "W2", "h", "conv1"),
                                 helper.make_node("Add", ["h", "sc"], ["y"], name="add")], [W, W2], ["y"], ["add"], []),
    "tap_and_conv_outputs": ([conv("x", "W", "y", "conv"), bn_node("y", 1, "t")], [W] + bn(1), ["y", "t"],
                             ["batchnorm"], []),
    "clip_relu6": ([conv("x", "W", "c", "conv"), helper.make_node("Clip", ["c", "lo", "hi"], ["y"], name="relu6")],
                   [W, init(0, "lo"), init(0.5, "hi")], ["y"], ["clip"], []),
    "clip_max_only": ([conv("x", "W", "c", "conv"), helper.make_node("Clip", ["c", "", "hi"], ["y"], name="clip")],
                      [W, init(-0.25, "hi")], ["y"], ["clip"], []),
    # SiLU and hard swish as exporters write them (x * Sigmoid(x), x * HardSigmoid(x), either
    # operand order) and the HardSigmoid/HardSwish ops: the conv's activation, computed in its store.
    "silu": ([conv("x", "W", "c", "conv"), helper.make_node("Sigmoid", ["c"], ["s"], name="sig"),
              helper.make_node("Mul", ["c", "s"], ["y"], name="silu")], [W], ["y"], ["sigmoid", "mul"], []),
    "silu_gate_first": ([conv("x", "W", "c", "conv"), helper.make_node("Sigmoid", ["c"], ["s"], name="sig"),
                         helper.make_node("Mul", ["s", "c"], ["y"], name="silu")], [W], ["y"], ["sigmoid", "mul"], []),
    "hard_swish_as_mul": ([conv("x", "W", "c", "conv"),
                           helper.make_node("HardSigmoid", ["c"], ["s"], alpha=0.25, beta=0.4, name="hsig"),
                           helper.make_node("Mul", ["c", "s"], ["y"], name="hswish")], [W], ["y"],
                          ["hard_sigmoid", "mul"], []),
    "hard_swish": ([conv("x", "W", "c", "conv"), helper.make_node("HardSwish", ["c"], ["y"], name="hswish")], [W],
                   ["y"], ["hard_swish"], []),
    "hard_sigmoid": ([conv("x", "W", "c", "conv"), helper.make_node("HardSigmoid", ["c"], ["y"], name="hsig")], [W],
                     ["y"], ["hard_sigmoid"], []),
    # The conv's output is a graph output too: nothing fuses, and the standalone Sigmoid and
    # HardSwish (snt_k_activation) compute what ONNX Runtime does.
    "silu_conv_output_read": ([conv("x", "W", "t", "conv"), helper.make_node("Sigmoid", ["t"], ["s"], name="sig"),
                               helper.make_node("Mul", ["t", "s"], ["y"], name="silu")], [W], ["y", "t"], [],
                              ["sigmoid", "mul"]),
    "mish": ([conv("x", "W", "c", "conv"), helper.make_node("Mish", ["c"], ["y"], name="mish")], [W], ["y"], ["mish"],
             [], 18),
    "standalone": ([helper.make_node("HardSwish", ["x"], ["h"], name="hswish"),
                    helper.make_node("Tanh", ["h"], ["e"], name="tanh"), helper.make_node("Exp", ["e"], ["r"], name="exp")],
                   [], ["r"], [], ["hard_swish", "tanh", "exp"]),
    "standalone_mish": ([helper.make_node("Mish", ["x"], ["r"], name="mish")], [], ["r"], [], ["mish"], 18),
    # A squeeze-excite gate: x times a per-sample, per-channel tensor, with the block's residual
    # Add and Relu when they alone follow (one channel_scale node, snt_k_channel_scale).
    "se_gate": ([helper.make_node("GlobalAveragePool", ["x"], ["g"], name="squeeze"),
                 helper.make_node("Sigmoid", ["g"], ["s"], name="gate"),
                 helper.make_node("Mul", ["x", "s"], ["r"], name="excite")], [], ["r"], ["mul"], ["channel_scale"]),
    "se_gate_first": ([helper.make_node("ReduceMean", ["x"], ["g"], axes=[2, 3], name="squeeze"),
                       helper.make_node("Mul", ["g", "x"], ["r"], name="excite")], [], ["r"], ["mul"],
                      ["channel_scale"]),
    "se_residual_relu": ([helper.make_node("GlobalAveragePool", ["x"], ["g"], name="squeeze"),
                          helper.make_node("Sigmoid", ["g"], ["s"], name="gate"),
                          helper.make_node("Mul", ["x", "s"], ["m"], name="excite"),
                          helper.make_node("Neg", ["x"], ["n"], name="shortcut"),  # made after the Mul
                          helper.make_node("Add", ["n", "m"], ["a"], name="join"),
                          helper.make_node("Relu", ["a"], ["r"], name="relu")], [], ["r"], ["mul", "add", "relu"],
                         ["channel_scale"]),
    "se_product_read_twice": ([helper.make_node("GlobalAveragePool", ["x"], ["g"], name="squeeze"),
                               helper.make_node("Mul", ["x", "g"], ["z"], name="excite"),
                               helper.make_node("Add", ["z", "x"], ["r"], name="join")], [], ["r", "z"], ["mul"],
                              ["channel_scale", "add"]),
    "scaled_read_twice": ([helper.make_node("Mul", ["x", "s"], ["xs"], name="scale"), conv("xs", "W2", "y", "conv"),
                           helper.make_node("Relu", ["xs"], ["r"], name="relu")],
                          [W2, init(3, "s")], ["y", "r"], [], ["mul"]),
}

failed = 0
x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
for name, (nodes, inits, outs, gone, kept, *opset) in cases.items():
    with tempfile.TemporaryDirectory() as d:
        shapes = {"y": [2, 4, 7, 6], "r": [2, 3, 7, 6], "z": [2, 3, 7, 6], "t": [2, 4, 7, 6]}
        g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 7, 6])],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, shapes[o]) for o in outs], inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset[0] if opset else 14)])
        m.ir_version = 8
        if not opset: onnx.checker.check_model(m)  # the Debian onnx (1.12) knows no opset-18 ops
        model, xpb = save_and_run_ort(d, m, x, ort_run, ort_modules)
        subprocess.run([sinter, "run", model, xpb, "-o", d], check=True)
        exe = os.path.join(d, "exe")
        subprocess.run([sinter, "compile", model, "-o", exe], check=True, capture_output=True)
        prof = subprocess.run([exe, "bench", "--profile", "--iters", "1", "--threads", "1"], check=True,
                              capture_output=True, text=True).stdout
        ops = {ln.split()[2] for ln in prof.splitlines() if ln.strip()[:1].isdigit() and len(ln.split()) > 3}
        for i in range(len(outs)):
            err = ort_rel_error(d, d, i)
            if not err <= 1e-5:
                print(f"FAIL {name}: output {i} differs from ONNX Runtime by {err:.3g} (relative)")
                failed += 1
        bad = sorted(set(gone) & ops) + [f"no {k}" for k in kept if k not in ops]
        if bad:
            print(f"FAIL {name}: plan ops {sorted(ops)}: {bad}")
            failed += 1
        else:
            print(f"ok {name}: plan ops {sorted(ops)}")
sys.exit(1 if failed else 0)
