"""The inference pass that runs a 1x1 Conv and the depthwise Conv that alone reads it as one
kernel (conv_expand_dw: MobileNet-V2's and EfficientNet's expansion then depthwise layers, on
maps of at least 1 MB an image). Each case runs in sinter and in ONNX Runtime (the reference):
the fusion must leave the numbers alone (on every ISA path), appear in the plan when legal,
and stay out when the 1x1 output is read elsewhere too, the map is small, the 1x1 conv has
groups or padding, or the second conv is not depthwise."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

from ortcompare import ort_rel_error, save_and_run_ort

sinter, ort_run, ort_modules = sys.argv[1:4]
rng = np.random.default_rng(11)
init = lambda a, name: numpy_helper.from_array(np.asarray(a, np.float32), name)


def w(name, *shape):
    return init(rng.standard_normal(shape) / np.sqrt(np.prod(shape[1:])), name)


def bn(i, c):
    return [init(rng.random(c) + 0.5, f"g{i}"), init(rng.random(c) - 0.5, f"b{i}"), init(rng.random(c) - 0.5, f"m{i}"),
            init(rng.random(c) + 0.5, f"v{i}")]


def bn_node(x, i, y):
    return helper.make_node("BatchNormalization", [x, f"g{i}", f"b{i}", f"m{i}", f"v{i}"], [y], name=f"bn{i}")


def conv(x, k, y, name, **kw):
    return helper.make_node("Conv", [x, k], [y], name=name, **kw)


def relu6(x, y, name):
    return helper.make_node("Clip", [x, "zero", "six"], [y], name=name)


def silu(x, y, name):
    return [helper.make_node("Sigmoid", [x], [name + "_s"], name=name + "_sig"),
            helper.make_node("Mul", [x, name + "_s"], [y], name=name)]


CLIP = [init(0, "zero"), init(6, "six")]


def mobilenet_v2(cin, mid, cout, stride, dw_kw=None):
    """1x1 expansion + BN + ReLU6, 3x3 depthwise + BN + ReLU6, 1x1 projection + BN."""
    dw_kw = dw_kw or dict(pads=[1, 1, 1, 1], strides=[stride, stride])
    nodes = [conv("x", "we", "e", "expand"), bn_node("e", 1, "eb"), relu6("eb", "er", "relu6_1"),
             conv("er", "wd", "d", "depthwise", group=mid, **dw_kw), bn_node("d", 2, "db"), relu6("db", "dr", "relu6_2"),
             conv("dr", "wp", "p", "project"), bn_node("p", 3, "y")]
    k = dw_kw.get("kernel_shape", [3, 3])
    inits = [w("we", mid, cin, 1, 1), w("wd", mid, 1, *k), w("wp", cout, mid, 1, 1)] + bn(1, mid) + bn(2, mid) + \
        bn(3, cout) + CLIP
    return nodes, inits


def efficientnet(cin, mid, stride):
    """1x1 expansion with bias + SiLU, 3x3 depthwise + SiLU (as exporters write SiLU)."""
    nodes = [helper.make_node("Conv", ["x", "we", "be"], ["e"], name="expand")] + silu("e", "es", "silu_1") + \
        [conv("es", "wd", "d", "depthwise", group=mid, pads=[1, 1, 1, 1], strides=[stride, stride])] + \
        silu("d", "y", "silu_2")
    return nodes, [w("we", mid, cin, 1, 1), init(rng.standard_normal(mid) * 0.1, "be"), w("wd", mid, 1, 3, 3)]


def multiplier2(cin, mid):
    """A depthwise conv with two outputs per channel (group = its input channels), 5x5."""
    nodes = [conv("x", "we", "e", "expand"), helper.make_node("Relu", ["e"], ["er"], name="relu"),
             conv("er", "wd", "y", "depthwise", group=mid, pads=[2, 2, 2, 2], kernel_shape=[5, 5])]
    return nodes, [w("we", mid, cin, 1, 1), w("wd", 2 * mid, 1, 5, 5)]


def dilated(cin, mid):
    nodes = [conv("x", "we", "e", "expand"),
             conv("e", "wd", "y", "depthwise", group=mid, pads=[2, 1, 2, 1], dilations=[2, 1])]
    return nodes, [w("we", mid, cin, 1, 1), w("wd", mid, 1, 3, 3)]


def grouped_expansion(cin, mid):
    nodes = [conv("x", "we", "e", "expand", group=2), conv("e", "wd", "y", "depthwise", group=mid, pads=[1, 1, 1, 1])]
    return nodes, [w("we", mid, cin // 2, 1, 1), w("wd", mid, 1, 3, 3)]


def not_depthwise(cin, mid):
    nodes = [conv("x", "we", "e", "expand"), conv("e", "wd", "y", "grouped", group=mid // 2, pads=[1, 1, 1, 1])]
    return nodes, [w("we", mid, cin, 1, 1), w("wd", mid, 2, 3, 3)]


# name: (builder, input shape, extra outputs, fused?, ISAs to run on)
cases = {
    "mobilenet_v2_stride2": (lambda: mobilenet_v2(16, 96, 24, 2), [1, 16, 112, 112], [], True, ["", "avx2", "c"]),
    "mobilenet_v2_stride1_batch2": (lambda: mobilenet_v2(24, 144, 24, 1), [2, 24, 56, 56], [], True, [""]),
    "efficientnet_silu_batch3": (lambda: efficientnet(16, 96, 2), [3, 16, 64, 72], [], True, ["", "avx2"]),
    "multiplier2_5x5": (lambda: multiplier2(8, 64), [1, 8, 70, 66], [], True, ["", "c"]),
    "dilated_generic_loops": (lambda: dilated(8, 64), [1, 8, 65, 70], [], True, ["", "avx2"]),
    # the expansion's output is also a graph output: the pair stays apart
    "expansion_read_twice": (lambda: dilated(8, 64), [1, 8, 65, 70], ["e"], False, [""]),
    "small_map": (lambda: mobilenet_v2(16, 96, 24, 1), [1, 16, 28, 28], [], False, [""]),
    # 128 input channels: the 1x1 conv is compute-bound, fusing it loses (MAX_K)
    "deep_expansion": (lambda: mobilenet_v2(128, 128, 128, 2), [1, 128, 96, 96], [], False, [""]),
    "grouped_expansion": (lambda: grouped_expansion(16, 64), [1, 16, 64, 64], [], False, [""]),
    "not_depthwise": (lambda: not_depthwise(16, 64), [1, 16, 64, 64], [], False, [""]),
}

failed = 0
for name, (build, shape, extra, fused, isas) in cases.items():
    nodes, inits = build()
    failed_before = failed
    x = rng.standard_normal(shape).astype(np.float32)
    with tempfile.TemporaryDirectory() as d:
        outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in ["y"] + extra]
        g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"] + shape[1:])], outs,
                              inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        m.ir_version = 8
        m = onnx.shape_inference.infer_shapes(m)  # the outputs' shapes, with the batch sinter splits on
        onnx.checker.check_model(m)

        model, xpb = save_and_run_ort(d, m, x, ort_run, ort_modules)
        exe = os.path.join(d, "exe")
        p = subprocess.run([sinter, "compile", model, "-o", exe, "--batch", str(shape[0])], capture_output=True, text=True)
        if p.returncode:
            sys.exit(f"FAIL {name}: sinter compile exit {p.returncode}: {p.stderr}")
        prof = subprocess.run([exe, "bench", "--profile", "--iters", "1", "--threads", "1"], check=True,
                              capture_output=True, text=True).stdout
        ops = [ln.split()[2] for ln in prof.splitlines() if ln.strip()[:1].isdigit() and len(ln.split()) > 3]
        want = ["conv_expand_dw"] if fused else []
        if [o for o in ops if o == "conv_expand_dw"] != want:
            print(f"FAIL {name}: plan ops {ops}, want conv_expand_dw {'once' if fused else 'absent'}")
            failed += 1
        for isa in isas:
            out = os.path.join(d, "sinter" + isa)
            env = dict(os.environ, SINTER_ISA=isa) if isa else os.environ
            subprocess.run([exe, "run", xpb, "-o", out], check=True, env=env, capture_output=True)
            for i in range(1 + len(extra)):
                err = ort_rel_error(out, d, i)
                if not err <= 1e-5:
                    print(f"FAIL {name} ({isa or 'native'}): output {i} differs from ONNX Runtime by {err:.3g} (relative)")
                    failed += 1
        print(f"{'FAIL' if failed > failed_before else 'ok  '} {name}: plan ops {ops}")
sys.exit(1 if failed else 0)
