#!/usr/bin/python3
"""BF16 taps end to end: a pre-activation ResNet's BN + ReLU written by the conv before it in
bfloat16 and read so by the 1x1 convs after it (snt_pass_bf16_taps, snt_k_conv_bf16_in).

usage: check_bf16_taps.py SINTER ORT_RUN_JS ORT_NODE_MODULES WORK

The model: a stem conv, then blocks whose joint BN + ReLU feeds a 1x1 shortcut and a 1x1 conv
(K = 32 and 64: the FP32 GEMM writes the tap; K = 128: the BF16 GEMM does), one block whose
joint feeds a 3x3 conv (stays float), and a last joint read by a global average pool (stays
float). Compiled with --precision bf16 and run at batch 2 and 1 (images as column blocks of
one product, and one image per product):
  * --precision fp32 at run time takes the float branches: ONNX Runtime's output within 1e-5;
  * --precision bf16: within BF16's error of ONNX Runtime; where the CPU has AVX512_BF16 the
    profile shows every 1x1 reader on the BF16-input path and no other layer on it.
"""
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checklib import check, finish, fresh_dir, run  # noqa: E402

sinter, ort_run, ort_modules, work = sys.argv[1:5]
fresh_dir(work)
rng = np.random.default_rng(16)
inits, nodes = [], []


def param(name, a):
    inits.append(numpy_helper.from_array(np.asarray(a, np.float32), name))
    return name


def conv(x, cin, cout, k, name, pads=None):
    w = param(name + ".w", rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k)))
    b = param(name + ".b", rng.standard_normal(cout) * 0.1)
    p = k // 2 if pads is None else pads
    nodes.append(helper.make_node("Conv", [x, w, b], [name], pads=[p] * 4, name=name))
    return name


def bn_relu(x, c, name):
    g, b = param(name + ".g", rng.random(c) + 0.5), param(name + ".be", rng.standard_normal(c) * 0.1)
    m, v = param(name + ".m", rng.standard_normal(c) * 0.1), param(name + ".v", rng.random(c) + 0.5)
    nodes.append(helper.make_node("BatchNormalization", [x, g, b, m, v], [name + ".bn"], name=name))
    nodes.append(helper.make_node("Relu", [name + ".bn"], [name + ".r"], name=name + ".relu"))
    return name + ".r"


def relu(x, name):
    nodes.append(helper.make_node("Relu", [x], [name], name=name))
    return name


def block(s, cin, mid, cout, name, shortcut_conv):
    """Pre-activation bottleneck: p = relu(bn(s)); shortcut conv0(p) or s; 1x1, 3x3, 1x1 + shortcut."""
    p = bn_relu(s, cin, name + ".pre")
    sc = conv(p, cin, cout, 1, name + ".conv0") if shortcut_conv else s
    h = relu(conv(p, cin, mid, 1, name + ".conv1"), name + ".r1")
    h = relu(conv(h, mid, mid, 3, name + ".conv2"), name + ".r2")
    h = conv(h, mid, cout, 1, name + ".conv3")
    nodes.append(helper.make_node("Add", [h, sc], [name + ".sum"], name=name + ".add"))
    return name + ".sum"


s = conv("x", 8, 32, 3, "stem")
s = block(s, 32, 16, 64, "b1", True)     # the stem's only reader: its BN folds into the stem
s = block(s, 64, 32, 64, "b2", False)    # written by b1.conv3 (K = 16: FP32 GEMM)
s = block(s, 64, 128, 128, "b3", True)   # written by b2.conv3 (K = 32), readers K = 64
s = block(s, 128, 128, 128, "b4", False)  # written by b3.conv3 (K = 128: BF16 GEMM)
p = bn_relu(s, 128, "b5.pre")             # a joint read by a 3x3 conv: stays float
s2 = conv(p, 128, 128, 3, "b5.conv")
nodes.append(helper.make_node("Add", [s2, s], ["b5.sum"], name="b5.add"))
p = bn_relu("b5.sum", 128, "post")        # read by the pool: stays float
nodes.append(helper.make_node("GlobalAveragePool", [p], ["y"], name="gap"))

model = os.path.join(work, "taps.onnx")
for batch in (2, 1):
    g = helper.make_graph(nodes, "taps", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 8, 14, 14])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 128, 1, 1])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, model)
    x = rng.standard_normal((batch, 8, 14, 14)).astype(np.float32)
    xpb = os.path.join(work, "x.pb")
    open(xpb, "wb").write(numpy_helper.from_array(x, "x").SerializeToString())
    ro = fresh_dir(os.path.join(work, "ort"))
    subprocess.run(["node", ort_run, model, xpb, "-o", ro], check=True, env=dict(os.environ, ORT_NODE_MODULES=ort_modules))
    load = lambda d: numpy_helper.to_array(onnx.load_tensor(os.path.join(d, "output_0.pb"))).astype(np.float64)
    want = load(ro)
    exe = os.path.join(work, "exe")
    run([sinter, "compile", model, "--precision", "bf16", "-o", exe])
    outs = {}
    for prec in ("fp32", "bf16"):
        d = fresh_dir(os.path.join(work, prec))
        run([exe, "run", xpb, "-o", d, "--precision", prec, "--threads", "2"])
        outs[prec] = load(d)
    err = lambda a: float(np.max(np.abs(a - want)) / np.max(np.abs(want)))
    check(err(outs["fp32"]) <= 1e-5, "batch %d: --precision fp32 within 1e-5 of ONNX Runtime (%.2g)" % (batch, err(outs["fp32"])))
    check(err(outs["bf16"]) <= 2e-2, "batch %d: --precision bf16 within 2e-2 of ONNX Runtime (%.2g)" % (batch, err(outs["bf16"])))
    prof = run([exe, "bench", "--profile", "--iters", "1", "--threads", "2"]).stdout
    paths = {ln.split()[1]: ln.split()[-1] for ln in prof.splitlines() if ln.strip()[:1].isdigit() and len(ln.split()) > 3}
    bf16in = sorted(n for n, k in paths.items() if k.endswith("-bf16in"))
    readers = ["b2.conv1", "b3.conv0", "b3.conv1", "b4.conv1"]  # b1's joint folds into the stem: no tap
    has_bf16 = "avx512_bf16" in open("/proc/cpuinfo").read()
    want_in = readers if has_bf16 else []
    check(bf16in == want_in, "batch %d: the 1x1 readers of BF16 taps read bfloat16 (%s), no other layer" % (batch, ", ".join(bf16in) or "none: no AVX512_BF16"))
    if bf16in != want_in:
        print(prof)
finish()
