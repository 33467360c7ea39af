"""The normalisation ops against ONNX Runtime: InstanceNormalization, LRN, MeanVarianceNormalization,
LayerNormalization (axis, broadcast Scale/B, the Mean and InvStdDev outputs), Upsample (opset 7's
scales attribute, 9's input; nearest and linear), BatchNormalization and Dropout with training_mode
(inference when false; batch statistics and running averages when true; ratio 0 the identity),
MaxPool's Indices (storage_order 0 and 1, FLOAT and DOUBLE). Cases are batched: one model per
opset holding many nodes, run once by each side; floats within 1e-5 relative, ints and BOOL exact.
Then Dropout's random draw by its statistics (it cannot match numpy's), and the exact messages of
refused nodes."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

sinter, ort_run, ort_modules = sys.argv[1:4]
rng = np.random.default_rng(5)
F32, F64 = np.float32, np.float64
NP2ONNX = {F32: TensorProto.FLOAT, F64: TensorProto.DOUBLE, np.bool_: TensorProto.BOOL, np.int64: TensorProto.INT64}
failed = 0


def rnd(shape, t=F32):
    return rng.standard_normal(shape).astype(t)


class Model:
    """Nodes with their own graph inputs (fed), initializers and outputs."""

    def __init__(self, opset):
        self.opset, self.nodes, self.inputs, self.feeds, self.inits, self.outputs = opset, [], [], [], [], []

    def add(self, name, op, ins, outs, inits=(), **attrs):
        names = []
        for i, a in enumerate(ins):
            if a is None:
                names.append("")
                continue
            n = f"{name}_in{i}"
            if i in inits:
                self.inits.append(numpy_helper.from_array(np.asarray(a), n))
            else:
                self.inputs.append(helper.make_tensor_value_info(n, NP2ONNX[np.asarray(a).dtype.type], np.shape(a)))
                self.feeds.append(np.asarray(a))
            names.append(n)
        onames = [f"{name}_out{k}" if o else "" for k, o in enumerate(outs)]
        self.nodes.append(helper.make_node(op, names, onames, name=name, **attrs))
        self.outputs += [(o, name) for o in onames if o]

    def run(self):
        global failed
        g = helper.make_graph(self.nodes, f"norm{self.opset}", self.inputs, [], self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", self.opset)])
        m.ir_version = 8 if self.opset >= 13 else 6
        known = {v.name: v for v in onnx.shape_inference.infer_shapes(m).graph.value_info}
        # typed by onnx's shape inference (FLOAT where it gives up, as for a training BatchNormalization's Y)
        m.graph.output.extend(known.get(o, helper.make_tensor_value_info(o, TensorProto.FLOAT, None)) for o, _ in self.outputs)
        with tempfile.TemporaryDirectory() as d:
            model = os.path.join(d, "model.onnx")
            onnx.save(m, model)
            pbs = []
            for i, a in enumerate(self.feeds):
                pbs.append(os.path.join(d, f"input_{i}.pb"))
                open(pbs[-1], "wb").write(numpy_helper.from_array(a).SerializeToString())
            os.mkdir(os.path.join(d, "ort"))
            subprocess.run(["node", ort_run, model, *pbs, "-o", os.path.join(d, "ort")], check=True,
                           env=dict(os.environ, ORT_NODE_MODULES=ort_modules))
            r = subprocess.run([sinter, "run", model, *pbs, "-o", d], capture_output=True, text=True)
            if r.returncode:
                print(f"FAIL opset {self.opset}: sinter run: {r.stderr.strip()}")
                failed += 1
                return
            for i, (o, case) in enumerate(self.outputs):
                a, b = (numpy_helper.to_array(onnx.load_tensor(os.path.join(p, f"output_{i}.pb")))
                        for p in (d, os.path.join(d, "ort")))
                if a.dtype.kind == "f":
                    err = float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b)))) if b.size else 0.0
                    ok = a.shape == b.shape and a.dtype == b.dtype and err <= 1e-5
                else:
                    err, ok = None, a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)
                print(f"{'ok' if ok else 'FAIL'} opset {self.opset} {case} {o}: {a.dtype}{list(a.shape)}"
                      + (f" err {err:.2g}" if err is not None else " exact"))
                failed += not ok


def bn_params(c, t=F32):
    return [rnd(c, t) + 1, rnd(c, t), rnd(c, t), (rng.random(c) + 0.5).astype(t)]


# ---- opset 17: every op in its newest form ----
m = Model(17)
m.add("inst", "InstanceNormalization", [rnd((2, 3, 4, 5)), rnd(3), rnd(3)], [1], inits=(1, 2))
m.add("inst_eps_3d", "InstanceNormalization", [rnd((2, 3, 7)) * 5 + 2, rnd(3), rnd(3)], [1], inits=(1, 2), epsilon=0.01)
m.add("inst_runtime_scale", "InstanceNormalization", [rnd((1, 2, 3, 3, 2)), rnd(2), rnd(2)], [1])
m.add("lrn3", "LRN", [rnd((2, 5, 4, 4))], [1], size=3)
m.add("lrn5", "LRN", [rnd((2, 6, 3, 3)) * 4], [1], size=5, alpha=0.01, beta=0.5, bias=2.0)
m.add("lrn1", "LRN", [rnd((1, 3, 5, 2))], [1], size=1, alpha=0.5)
m.add("mvn", "MeanVarianceNormalization", [rnd((2, 3, 4, 5)) * 3 + 1], [1])
m.add("mvn_hw", "MeanVarianceNormalization", [rnd((2, 3, 4, 5))], [1], axes=[2, 3])
m.add("mvn_neg", "MeanVarianceNormalization", [rnd((3, 4, 6))], [1], axes=[0, -1])
m.add("ln_last", "LayerNormalization", [rnd((2, 3, 8)), rnd(8), rnd(8)], [1], inits=(1, 2))
m.add("ln_axis1_stats", "LayerNormalization", [rnd((2, 3, 4, 5)), rnd((3, 4, 5)), rnd((3, 4, 5))], [1, 1, 1], axis=1,
      epsilon=1e-3)
m.add("ln_axis0_noB", "LayerNormalization", [rnd((3, 4)), rnd((3, 4))], [1, 0, 1], axis=0)
m.add("ln_bcast", "LayerNormalization", [rnd((2, 3, 4, 5)), rnd((1, 5)), rnd((5,))], [1], inits=(1, 2), axis=-2)
m.add("ln_f64", "LayerNormalization", [rnd((2, 6), F64), rnd(6, F64), rnd(6, F64)], [1], inits=(1, 2))
m.add("bn_train", "BatchNormalization", [rnd((3, 4, 2, 3)) * 2 + 1] + bn_params(4), [1, 1, 1], inits=(1, 2, 3, 4),
      training_mode=1, momentum=0.8)
m.add("bn_train_3d", "BatchNormalization", [rnd((2, 3, 5))] + bn_params(3), [1, 1, 1], inits=(1, 2, 3, 4), training_mode=1)
m.add("bn_train_runtime_stats", "BatchNormalization", [rnd((4, 2))] + bn_params(2), [1, 1, 1], training_mode=1,
      epsilon=0.1)
m.add("bn_infer", "BatchNormalization", [rnd((2, 3, 4))] + bn_params(3), [1], inits=(1, 2, 3, 4), training_mode=0)
m.add("drop_false", "Dropout", [rnd((2, 5)), np.array(0.4, F32), np.array(False)], [1, 1], inits=(1, 2))
m.add("drop_absent", "Dropout", [rnd((2, 5))], [1, 1])
m.add("drop_true_zero", "Dropout", [rnd((3, 4)), np.array(0.0, F32), np.array(True)], [1, 1], inits=(1, 2))
m.add("pool_idx", "MaxPool", [rnd((2, 3, 6, 7))], [1, 1], kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 1, 1])
m.add("pool_idx_col", "MaxPool", [rnd((2, 3, 6, 7))], [1, 1], kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 1, 1],
      storage_order=1)
m.add("pool_idx_col_f64", "MaxPool", [rnd((1, 2, 5, 4), F64)], [1, 1], kernel_shape=[2, 2], storage_order=1)
m.add("pool_idx_1d", "MaxPool", [rnd((2, 2, 9))], [1, 1], kernel_shape=[3], strides=[2])
m.run()

# ---- opset 9: Upsample's scales input, MVN's first version, BatchNormalization before training_mode ----
m = Model(9)
m.add("up_nearest", "Upsample", [rnd((1, 2, 3, 4)), np.array([1, 1, 2, 3], F32)], [1], inits=(1,))
m.add("up_linear", "Upsample", [rnd((2, 1, 3, 3)), np.array([1, 1, 2, 2], F32)], [1], inits=(1,), mode="linear")
m.add("up_frac", "Upsample", [rnd((1, 1, 3, 4)), np.array([1, 1, 1.5, 2.5], F32)], [1], inits=(1,))
m.add("mvn9", "MeanVarianceNormalization", [rnd((2, 3, 4, 4))], [1])
m.add("bn9", "BatchNormalization", [rnd((2, 3, 4))] + bn_params(3), [1], inits=(1, 2, 3, 4))
m.add("bn9_train", "BatchNormalization", [rnd((3, 2, 4)) + 1] + bn_params(2), [1] * 5, inits=(1, 2, 3, 4), momentum=0.7)
m.add("inst9", "InstanceNormalization", [rnd((2, 2, 5)), rnd(2), rnd(2)], [1], inits=(1, 2))
m.run()

# ---- opset 7: Upsample's scales attribute, LRN 1, Dropout 7 (ratio attribute), MaxPool 1 ----
m = Model(7)
m.add("up7_nearest", "Upsample", [rnd((1, 2, 2, 3))], [1], scales=[1.0, 1.0, 3.0, 2.0])
m.add("up7_linear", "Upsample", [rnd((1, 2, 2, 3))], [1], scales=[1.0, 1.0, 2.0, 4.0], mode="linear")
m.add("lrn7", "LRN", [rnd((1, 4, 3, 3))], [1], size=5, alpha=0.002)
m.add("drop7", "Dropout", [rnd((2, 3))], [1], ratio=0.3)
m.run()


# ---- Dropout's draw: its statistics, not numpy's values; one model, one node per (ratio, seed) ----
def dropout_draws(draws, n=200000):
    with tempfile.TemporaryDirectory() as d:
        x = np.full((n,), 2.0, F32)
        nodes, inits, outs = [], [numpy_helper.from_array(np.array(True), "t")], []
        for k, (ratio, seed) in enumerate(draws):
            nodes.append(helper.make_node("Dropout", ["x", f"r{k}", "t"], [f"y{k}", f"mask{k}"], seed=seed))
            inits.append(numpy_helper.from_array(np.array(ratio, F32), f"r{k}"))
            outs += [helper.make_tensor_value_info(f"y{k}", TensorProto.FLOAT, [n]),
                     helper.make_tensor_value_info(f"mask{k}", TensorProto.BOOL, [n])]
        g = helper.make_graph(nodes, "drop", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n])], outs, inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        model, xpb = os.path.join(d, "m.onnx"), os.path.join(d, "x.pb")
        onnx.save(m, model)
        open(xpb, "wb").write(numpy_helper.from_array(x).SerializeToString())
        subprocess.run([sinter, "run", model, xpb, "-o", d], check=True, capture_output=True)
        res = [numpy_helper.to_array(onnx.load_tensor(os.path.join(d, f"output_{i}.pb"))) for i in range(len(outs))]
        return x, [(res[2 * k], res[2 * k + 1]) for k in range(len(draws))]


x, draws = dropout_draws([(0.25, 3), (0.75, 3), (0.5, 1), (0.5, 1), (0.5, 2)])
for ratio, (y, mask) in zip((0.25, 0.75), draws):
    kept = mask.mean()
    sd = np.sqrt(ratio * (1 - ratio) / x.size)
    ok = (mask.dtype == np.bool_ and abs(kept - (1 - ratio)) < 5 * sd
          and np.allclose(y[mask], 2.0 / (1 - ratio), rtol=1e-6) and np.all(y[~mask] == 0))
    # the kept elements are not in runs: the fraction of kept neighbours of a kept element is 1 - ratio
    pairs = (mask[1:] & mask[:-1]).sum() / max(1, mask[:-1].sum())
    ok = ok and abs(pairs - (1 - ratio)) < 0.01
    print(f"{'ok' if ok else 'FAIL'} dropout draw ratio {ratio}: kept {kept:.4f}, neighbours {pairs:.4f}")
    failed += not ok
ok = np.array_equal(draws[2][1], draws[3][1]) and not np.array_equal(draws[2][1], draws[4][1])
print(f"{'ok' if ok else 'FAIL'} dropout draw: the same seed draws the same mask, another seed another")
failed += not ok


# ---- LRN where ONNX Runtime refuses (even sizes, ranks other than 4): the spec's formula in numpy ----
def lrn_ref(x, size, alpha=1e-4, beta=0.75, bias=1.0):
    sq, c = np.zeros(x.shape, F64), x.shape[1]
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    for k in range(c):
        sq[:, k] = (x[:, max(0, k - lo):min(c - 1, k + hi) + 1].astype(F64) ** 2).sum(axis=1)
    return (x / (bias + alpha / size * sq) ** beta).astype(x.dtype)


with tempfile.TemporaryDirectory() as d:
    lrn_cases = [("lrn_even", rnd((2, 6, 3, 3)) * 3, dict(size=4, alpha=0.01, beta=0.5, bias=2.0)),
                 ("lrn_3d", rnd((1, 5, 7)) * 3, dict(size=2, alpha=0.1)),
                 ("lrn_5d", rnd((1, 4, 2, 3, 2)) * 3, dict(size=3, alpha=0.2, beta=1.0))]
    nodes = [helper.make_node("LRN", [f"{n}_x"], [f"{n}_y"], name=n, **a) for n, _, a in lrn_cases]
    g = helper.make_graph(nodes, "lrn", [helper.make_tensor_value_info(f"{n}_x", TensorProto.FLOAT, x.shape) for n, x, _ in lrn_cases],
                          [helper.make_tensor_value_info(f"{n}_y", TensorProto.FLOAT, x.shape) for n, x, _ in lrn_cases])
    model = os.path.join(d, "m.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), model)
    pbs = [os.path.join(d, f"in{i}.pb") for i in range(len(lrn_cases))]
    for pb, (_, x, _) in zip(pbs, lrn_cases):
        open(pb, "wb").write(numpy_helper.from_array(x).SerializeToString())
    subprocess.run([sinter, "run", model, *pbs, "-o", d], check=True, capture_output=True)
    for i, (n, x, a) in enumerate(lrn_cases):
        y, want = numpy_helper.to_array(onnx.load_tensor(os.path.join(d, f"output_{i}.pb"))), lrn_ref(x, **a)
        err = float(np.max(np.abs(y - want) / np.maximum(1.0, np.abs(want))))
        print(f"{'ok' if err <= 1e-5 else 'FAIL'} {n} against numpy: err {err:.2g}")
        failed += not err <= 1e-5


# ---- FLOAT16 through float32 (ONNX Runtime's CPU provider lacks these kernels): numpy's result ----
with tempfile.TemporaryDirectory() as d:
    x, sc = rnd((2, 3, 6)).astype(np.float16), rnd(6).astype(np.float16)
    nodes = [helper.make_node("LayerNormalization", ["x", "s"], ["y", "mean", "inv"], name="ln16"),
             helper.make_node("Dropout", ["x", "r", "t"], ["dy", "dm"], name="drop16", seed=4)]
    g = helper.make_graph(nodes, "f16", [helper.make_tensor_value_info("x", TensorProto.FLOAT16, x.shape)],
                          [helper.make_tensor_value_info(o, t, None) for o, t in
                           (("y", TensorProto.FLOAT16), ("mean", TensorProto.FLOAT), ("inv", TensorProto.FLOAT),
                            ("dy", TensorProto.FLOAT16), ("dm", TensorProto.BOOL))],
                          [numpy_helper.from_array(sc, "s"), numpy_helper.from_array(np.array(0.5, np.float16), "r"),
                           numpy_helper.from_array(np.array(True), "t")])
    model, xpb = os.path.join(d, "m.onnx"), os.path.join(d, "x.pb")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), model)
    open(xpb, "wb").write(numpy_helper.from_array(x).SerializeToString())
    r = subprocess.run([sinter, "run", model, xpb, "-o", d], capture_output=True, text=True)
    if r.returncode:
        print(r.stderr[-2000:])
    r.check_returncode()
    y, mean, inv, dy, dm = (numpy_helper.to_array(onnx.load_tensor(os.path.join(d, f"output_{i}.pb"))) for i in range(5))
    xf = x.astype(F64)
    mu, var = xf.mean(-1, keepdims=True), xf.var(-1, keepdims=True)
    want = (xf - mu) / np.sqrt(var + 1e-5) * sc.astype(F64)
    ok = (y.dtype == np.float16 and mean.dtype == F32 and inv.dtype == F32 and mean.shape == (2, 3, 1)
          and np.allclose(y, want, rtol=1e-3, atol=1e-3) and np.allclose(mean, mu, atol=1e-6)
          and np.allclose(inv, 1 / np.sqrt(var + 1e-5), rtol=1e-5)
          and dy.dtype == np.float16 and np.array_equal(dy[dm], (x[dm].astype(F32) * 2).astype(np.float16))
          and np.all(dy[~dm] == 0) and 0 < dm.mean() < 1)
    print(f"{'ok' if ok else 'FAIL'} FLOAT16 LayerNormalization (FLOAT Mean, InvStdDev) and training Dropout")
    failed += not ok


# ---- refused nodes: exact messages ----
def refused(opset, node, inputs, inits, want):
    global failed
    with tempfile.TemporaryDirectory() as d:
        g = helper.make_graph([node], "bad", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
                              [helper.make_tensor_value_info(node.output[0], TensorProto.FLOAT, None)], inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
        model = os.path.join(d, "m.onnx")
        onnx.save(m, model)
        r = subprocess.run([sinter, "compile", model, "-o", os.path.join(d, "exe")], capture_output=True, text=True)
        ok = r.returncode != 0 and want in r.stderr
        print(f"{'ok' if ok else 'FAIL'} refused {node.name}: {r.stderr.strip()}")
        failed += not ok


X4 = [("x", [2, 3, 4, 4])]
refused(17, helper.make_node("LayerNormalization", ["x", "s"], ["y"], name="ln", stash_type=0), X4,
        [numpy_helper.from_array(np.ones(4, F32), "s")],
        "node 'ln' (layer_norm): stash_type 0 is not supported, only 1 (FLOAT) (opset 17)")
refused(17, helper.make_node("LayerNormalization", ["x", "s"], ["y"], name="ln2", axis=1), X4,
        [numpy_helper.from_array(np.ones(5, F32), "s")], "node 'ln2' (layer_norm): input 1 does not broadcast to the normalised axes")
refused(17, helper.make_node("InstanceNormalization", ["x", "s", "b"], ["y"], name="in"), X4,
        [numpy_helper.from_array(np.ones(4, F32), "s"), numpy_helper.from_array(np.ones(3, F32), "b")],
        "node 'in' (instance_norm): input 1 must have 3 values, one per channel")
refused(13, helper.make_node("MeanVarianceNormalization", ["x"], ["y"], name="mvn", axes=[0, 4]), X4, [],
        "node 'mvn' (mvn): axis 4 is out of range for rank 4")
refused(13, helper.make_node("LRN", ["x"], ["y"], name="lrn", size=3), [("x", [3, 4])], [],
        "node 'lrn' (lrn): expects an input (N, C, D1, ...) of rank 3 or more, got rank 2")
refused(9, helper.make_node("Upsample", ["x", "s"], ["y"], name="up", mode="cubic"), X4,
        [numpy_helper.from_array(np.ones(4, F32), "s")],
        "node 'up' (upsample): mode 'cubic' is not supported, only nearest and linear (opset 9)")
refused(13, helper.make_node("Dropout", ["x", "r", "t"], ["y"], name="drop"), X4 + [("r", [])],
        [numpy_helper.from_array(np.array(True), "t")],
        "node 'drop' (Dropout, opset 13): input 2 ('r') determines a shape, so its value must be known when compiling")
refused(15, helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y", "rm", "rv"], name="bn"), X4,
        [numpy_helper.from_array(np.ones(3, F32), k) for k in "sbmv"],
        "node 'bn' (batchnorm): running_mean and running_var are outputs of training mode only (opset 15)")
refused(15, helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name="bn1", training_mode=1), X4,
        [numpy_helper.from_array(np.ones(3, F32), k) for k in "sbmv"],
        "node 'bn1' (batchnorm): training mode needs 3 outputs (Y, running_mean, running_var), got 1 (opset 15)")
refused(15, helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y", "rm", "rv"], name="bn16",
                              training_mode=1), [], [numpy_helper.from_array(rnd((2, 3, 4)).astype(np.float16), "x")]
        + [numpy_helper.from_array(np.ones(3, np.float16), k) for k in "sbmv"],
        "node 'bn16' (batchnorm): training mode computes FLOAT and DOUBLE only, not FLOAT16 (opset 15)")
print(f"{'PASS' if not failed else 'FAILED'}: {failed} failed")
sys.exit(1 if failed else 0)
