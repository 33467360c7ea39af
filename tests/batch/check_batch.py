#!/usr/bin/env python3
"""Issue 10, run-time batch: an executable compiled for batch 4 runs n = 1..4 samples and gives,
per sample, what a batch-1 executable gives (within 1e-6), whether the model keeps samples apart
(run_n costs n) or must fall back to its whole batch; ONNX models also match ONNX Runtime.

  check_batch.py CASE SINTER MODELS_DIR WORK_DIR
CASE: seed_simple, seed_deep, seed_resnet, onnx_mix, onnx_fallback, predict."""
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CASE, SINTER, MODELS, WORK = sys.argv[1:5]
TOL = 1e-6


def fail(msg):
    print("FAIL %s: %s" % (CASE, msg))
    sys.exit(1)


def run(cmd, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    if p.returncode != 0:
        fail("%s exited %d:\n%s%s" % (" ".join(cmd), p.returncode, p.stdout.decode(), p.stderr.decode()))
    return p.stdout.decode()


def compile_exe(src, name, batch, threads, extra=()):
    exe = os.path.join(WORK, name)
    run([SINTER, "compile", src, "-o", exe, "--batch", str(batch), "--threads", str(threads)] + list(extra))
    return exe


def write_pb(path, a, name="x"):
    t = numpy_helper.from_array(a, name)
    with open(path, "wb") as f:
        f.write(t.SerializeToString())


def exe_run(exe, x, tag):
    d = os.path.join(WORK, tag)
    os.makedirs(d, exist_ok=True)
    write_pb(os.path.join(d, "in.pb"), x)
    run([exe, "run", os.path.join(d, "in.pb"), "-o", d])
    t = onnx.TensorProto()
    with open(os.path.join(d, "output_0.pb"), "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def info_line(exe):
    for line in run([exe, "info"]).splitlines():
        if line.startswith("batch: "):
            return line
    fail("%s info has no batch line" % exe)


def check_batches(exes, one, x, want_scalable, ref=None, ref_tol=1e-4):
    """Each exe (batch 4) on the first n rows of x equals `one` (batch 1) row by row."""
    per = [exe_run(one, x[i:i + 1], "one_%d" % i)[0] for i in range(x.shape[0])]
    if ref is not None:
        got, want = np.stack(per), ref(x)
        err = np.max(np.abs(got - want) / (np.abs(want) + 1e-3))
        if got.shape != want.shape or err > ref_tol:
            fail("the batch-1 executable differs from the reference by %g" % err)
    for exe in exes:
        line = info_line(exe)
        scalable = line == "batch: a run of n samples computes n"
        if scalable != want_scalable:
            fail("%s: '%s', want the model %s" % (exe, line, "to scale with n" if want_scalable else "to fall back"))
        for n in range(1, 5):
            y = exe_run(exe, x[:n], "%s_%d" % (os.path.basename(exe), n))
            if y.shape[0] != n:
                fail("%s on %d samples returned %d rows" % (exe, n, y.shape[0]))
            for i in range(n):
                d = float(np.max(np.abs(y[i] - per[i])))
                if not d <= TOL:
                    fail("%s, n=%d, sample %d: differs from the batch-1 executable by %g" % (exe, n, i, d))
    print("PASS %s: %d executables x n=1..4 match the batch-1 executable per sample (%s)" %
          (CASE, len(exes), "scalable" if want_scalable else "fallback"))


def seed(model, size):
    src = os.path.join(MODELS, model)
    extra = ["--set", "size=%d" % size, "--no-train"]
    one = compile_exe(src, "one", 1, 1, extra)
    four = compile_exe(src, "four", 4, 1, extra)
    split = compile_exe(src, "split", 4, 2, extra)  # two copies of 2: n=1 runs one copy, n=3 both
    x = np.random.default_rng(7).uniform(0, 1, (4, 3, size, size)).astype(np.float32)
    check_batches([four, split], one, x, True)


def onnx_model(nodes, inits, x_shape, y_shape, name):
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"] + x_shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N"] + y_shape)],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.checker.check_model(m)
    path = os.path.join(WORK, name + ".onnx")
    onnx.save(m, path)
    return path


def ort(path):
    def ref(x):
        d = os.path.join(WORK, "ort")
        os.makedirs(d, exist_ok=True)
        write_pb(os.path.join(d, "x.pb"), x)
        env = dict(os.environ, ORT_NODE_MODULES=os.environ["SINTER_ORT_MODULES"])
        subprocess.run(["node", os.environ["SINTER_ORT_RUN"], path, os.path.join(d, "x.pb"), "-o", d], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        t = onnx.TensorProto()
        with open(os.path.join(d, "output_0.pb"), "rb") as f:
            t.ParseFromString(f.read())
        return numpy_helper.to_array(t)
    return ref


def onnx_mix():
    """Conv, BatchNorm, Relu, MaxPool, Pad, Transpose (batch first), Reshape, MatMul on 3-D, Add with
    broadcasting, Softmax, Concat, ReduceMean, Gather, Clip, LeakyRelu, AveragePool, Resize, Flatten, Gemm,
    MatMul on 2-D."""
    r = np.random.default_rng(3)
    f = lambda *s: r.normal(0, 0.5, s).astype(np.float32)
    inits = {"w": f(6, 3, 3, 3), "b": f(6), "g": f(6) + 1, "be": f(6), "mu": f(6), "var": np.abs(f(6)) + 0.5,
             "pads": np.array([0, 0, 1, 0, 0, 0, 0, 1], np.int64), "shape": np.array([0, 6, 16], np.int64),
             "mm": f(16, 5), "bias3": f(6, 5), "idx": np.array([4, 0, 2], np.int64), "axes": np.array([2], np.int64),
             "gw": f(12, 7), "gb": f(7), "mw": f(18, 7),
             "rsc": np.array([1, 1, 2, 2], np.float32)}
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        n("BatchNormalization", ["c", "g", "be", "mu", "var"], ["bn"]),
        n("Relu", ["bn"], ["r"]),
        n("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),                 # [N, 6, 4, 4]
        n("Pad", ["p", "pads"], ["pd"], mode="edge"),                                    # [N, 6, 5, 5]
        n("AveragePool", ["pd"], ["ap"], kernel_shape=[2, 2], strides=[1, 1]),           # [N, 6, 4, 4]
        n("Resize", ["ap", "", "rsc"], ["rz"], mode="linear"),                          # [N, 6, 8, 8]
        n("AveragePool", ["rz"], ["ap2"], kernel_shape=[2, 2], strides=[2, 2]),          # [N, 6, 4, 4]
        n("Transpose", ["ap2"], ["t"], perm=[0, 1, 3, 2]),
        n("Reshape", ["t", "shape"], ["rs"]),                                            # [N, 6, 16]
        n("MatMul", ["rs", "mm"], ["mmo"]),                                              # [N, 6, 5]
        n("Add", ["mmo", "bias3"], ["ad"]),
        n("Softmax", ["ad"], ["sm"], axis=-1),
        n("LeakyRelu", ["mmo"], ["lr"], alpha=0.2),
        n("Concat", ["sm", "lr"], ["cc"], axis=2),                                       # [N, 6, 10]
        n("ReduceMean", ["cc"], ["rm"], axes=[2], keepdims=0),                           # [N, 6]
        n("Gather", ["cc", "idx"], ["ga"], axis=2),                                      # [N, 6, 3]
        n("Flatten", ["ga"], ["fl"], axis=1),                                            # [N, 18]
        n("Clip", ["fl"], ["cl"]),
        n("Concat", ["rm", "rm"], ["rm2"], axis=1),                                      # [N, 12]
        n("Gemm", ["rm2", "gw", "gb"], ["ge"]),                                          # [N, 7]
        n("MatMul", ["cl", "mw"], ["mo"]),                                               # 2-D: [N, 7]
        n("Add", ["ge", "mo"], ["s"]),
        n("Sigmoid", ["s"], ["y"]),
    ]
    del inits["axes"]
    path = onnx_model(nodes, inits, [3, 8, 8], [7], "mix")
    return path


def onnx_fallback():
    """Per-sample math that moves the batch axis (Transpose perm [1, 0, ...] and back): sinter cannot
    prove samples stay apart, so run_n computes the whole batch and keeps n rows."""
    n = helper.make_node
    nodes = [n("Transpose", ["x"], ["t"], perm=[1, 0, 2]), n("Exp", ["t"], ["e"]),
             n("Transpose", ["e"], ["y"], perm=[1, 0, 2])]
    return onnx_model(nodes, {}, [4, 5], [4, 5], "fallback")  # 4 = the batch: dims alone do not tell


def predict():
    """predict of one image on a batch-4 executable gives the batch-1 executable's probabilities."""
    src = os.path.join(MODELS, "simple_cnn.nn")
    extra = ["--set", "size=32", "--no-train"]
    one = compile_exe(src, "one", 1, 1, extra)
    four = compile_exe(src, "four", 4, 2, extra)
    img = os.path.join(WORK, "img.png")
    from PIL import Image
    Image.fromarray(np.random.default_rng(5).integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(img)
    outs = []
    for exe in (one, four):
        outs.append(run([exe, "predict", img, "--json"]))
    if outs[0] != outs[1]:
        fail("predict differs:\n%s\n%s" % (outs[0], outs[1]))
    print("PASS predict: one image on a batch-4 executable prints what the batch-1 one prints")


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    if CASE.startswith("seed_"):
        model, size = {"seed_simple": ("simple_cnn.nn", 32), "seed_deep": ("deep_cnn.nn", 32),
                       "seed_resnet": ("resnet50v2.nn", 32)}[CASE]
        return seed(model, size)
    if CASE == "predict":
        return predict()
    path = onnx_mix() if CASE == "onnx_mix" else onnx_fallback()
    one = compile_exe(path, "one", 1, 1)
    four = compile_exe(path, "four", 4, 1)
    split = compile_exe(path, "split", 4, 2)
    x = np.random.default_rng(11).normal(0, 1, (4, 3, 8, 8) if CASE == "onnx_mix" else (4, 4, 5)).astype(np.float32)
    check_batches([four, split], one, x, CASE == "onnx_mix", ref=ort(path))


main()
