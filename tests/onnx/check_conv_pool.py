"""A Conv read only by a 2-D MaxPool writes the pool as its second output (passes/fuse_conv_pool.c,
snt_k_conv_maxpool): stems as exporters write them (7x7 stride 2 then a padded 3x3 stride-2 pool;
a zero Pad folded into the pool, Keras's ResNet50V2; 11x11 stride 4, ReLU, 3x3 stride-2 pool),
a ceil-mode pool, a dilated pool with one-sided pads and a conv off the direct path. Each case
runs in sinter on every ISA and in ONNX Runtime (the reference): the numbers must agree, the
plan must have no maxpool node and the conv's kernel must name the pool; a pool with an Indices
output, or a conv whose output is read elsewhere too, keeps its maxpool node."""
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


def conv(cin, cout, k, s, p, y="c", x="x"):
    w = init(rng.standard_normal((cout, cin, k, k)) / np.sqrt(cin * k * k), f"W_{y}")
    b = init(rng.standard_normal(cout), f"B_{y}")
    return helper.make_node("Conv", [x, w.name, b.name], [y], kernel_shape=[k, k], strides=[s, s], pads=[p] * 4,
                            name=f"conv_{y}"), [w, b]


def maxpool(x, y, k, s, pads, **kw):
    ys = y if isinstance(y, list) else [y]
    return helper.make_node("MaxPool", [x], ys, kernel_shape=[k, k], strides=[s, s], pads=pads,
                            name="pool_" + "_".join(ys), **kw)


def case(cin, hw, nodes_inits, outs, fused=True, batch=2):
    nodes = [n for n, _ in nodes_inits]
    inits = [t for _, ts in nodes_inits for t in ts]
    return cin, hw, batch, nodes, inits, outs, fused


c1, i1 = conv(3, 8, 7, 2, 3)
c2, i2 = conv(3, 16, 11, 4, 2)
c3, i3 = conv(3, 8, 3, 1, 1)
c4, i4 = conv(64, 16, 3, 1, 1)
c5, i5 = conv(3, 8, 5, 1, 2)
pad = helper.make_node("Pad", ["c", "pads"], ["p"], mode="constant", name="zero_pad")
cases = {
    "resnet_stem": case(3, 61, [(c1, i1), (maxpool("c", "y", 3, 2, [1, 1, 1, 1]), [])], ["y"]),
    "keras_v2_stem_zero_pad": case(3, 61, [(c1, i1), (pad, [numpy_helper.from_array(
        np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads")]), (maxpool("p", "y", 3, 2, [0, 0, 0, 0]), [])], ["y"]),
    "alexnet_stem_relu": case(3, 99, [(c2, i2), (helper.make_node("Relu", ["c"], ["r"], name="relu"), []),
                                       (maxpool("r", "y", 3, 2, [0, 0, 0, 0]), [])], ["y"], batch=1),
    "ceil_mode": case(3, 34, [(c3, i3), (maxpool("c", "y", 3, 2, [0, 0, 0, 0], ceil_mode=1), [])], ["y"]),
    "dilated_one_sided_pads": case(3, 40, [(c5, i5), (maxpool("c", "y", 3, 2, [2, 0, 0, 1], dilations=[2, 2]), [])],
                                   ["y"]),
    "pool_stride_1": case(3, 30, [(c3, i3), (maxpool("c", "y", 3, 1, [1, 1, 1, 1]), [])], ["y"]),
    "off_direct_path": case(64, 20, [(c4, i4), (maxpool("c", "y", 3, 2, [1, 1, 1, 1]), [])], ["y"]),
    "indices_output": case(3, 30, [(c3, i3), (maxpool("c", ["y", "i"], 3, 2, [1, 1, 1, 1]), [])], ["y", "i"],
                           fused=False),
    "conv_read_twice": case(3, 30, [(c3, i3), (maxpool("c", "y", 3, 2, [1, 1, 1, 1]), [])], ["y", "c"], fused=False),
}

failed = 0
for name, (cin, hw, batch, nodes, inits, outs, fused) in cases.items():
    x = rng.standard_normal((batch, cin, hw, hw)).astype(np.float32)
    with tempfile.TemporaryDirectory() as d:
        g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
                              [helper.make_empty_tensor_value_info(o) for o in outs], inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        m.ir_version = 8
        onnx.checker.check_model(onnx.shape_inference.infer_shapes(m))
        model, xpb = save_and_run_ort(d, m, x, ort_run, ort_modules)
        exe = os.path.join(d, "exe")
        subprocess.run([sinter, "compile", model, "-o", exe], check=True, capture_output=True)
        for isa in ["avx512", "avx2", "c"]:
            env = dict(os.environ, SINTER_ISA=isa)
            subprocess.run([exe, "run", xpb, "-o", d], check=True, env=env, capture_output=True)
            for i in range(len(outs)):
                err = ort_rel_error(d, d, i)
                if not err <= 1e-5:
                    print(f"FAIL {name} ({isa}): output {i} differs from ONNX Runtime by {err:.3g} (relative)")
                    failed += 1
        prof = subprocess.run([exe, "bench", "--profile", "--iters", "1", "--threads", "2"], check=True,
                              capture_output=True, text=True, env=dict(os.environ, SINTER_ISA="avx512")).stdout
        rows = [ln.split() for ln in prof.splitlines() if ln.strip()[:1].isdigit() and len(ln.split()) > 3]
        ops, kernels = {r[2] for r in rows}, [r[-1] for r in rows if r[2] == "conv2d"]
        pooled = "maxpool" not in ops and all("+maxpool" in k for k in kernels)
        if pooled != fused:
            print(f"FAIL {name}: plan ops {sorted(ops)}, conv kernels {kernels}: the pool should "
                  f"{'' if fused else 'not '}be the conv's")
            failed += 1
        else:
            print(f"ok {name}: plan ops {sorted(ops)}, conv kernels {kernels}")
sys.exit(1 if failed else 0)
