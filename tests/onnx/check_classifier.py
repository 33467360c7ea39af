"""Classifier options of compile and import (issue 11, point 5): --softmax after an output of
logits (numbers against numpy's softmax of the model's own arithmetic; a no-op with a warning
when the output already is a softmax's; refused for two outputs and for DSL models), and class
names checked against the output's classes wherever they come from (--labels, the ONNX file's
labels metadata). Exact messages.
usage: check_classifier.py SINTER MODELS_DIR"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SINTER, MODELS = sys.argv[1:3]
tmp = tempfile.mkdtemp(prefix="sinter-classifier-")
rng = np.random.default_rng(5)
failures = []
W = rng.standard_normal((5, 8)).astype(np.float32)
B = rng.standard_normal(5).astype(np.float32)


def model(name, softmax=False, two_outputs=False, labels=None, batch=1):
    nodes = [helper.make_node("Gemm", ["x", "W", "B"], ["logits" if softmax else "y"], transB=1, name="fc")]
    if softmax:
        nodes.append(helper.make_node("Softmax", ["logits"], ["y"], axis=1, name="prob"))
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 5])]
    if two_outputs:
        nodes.append(helper.make_node("Relu", ["y"], ["z"], name="relu"))
        outs.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 5]))
    g = helper.make_graph(nodes, "clf", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 8])], outs,
                          [numpy_helper.from_array(W, "W"), numpy_helper.from_array(B, "B")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    if labels:
        helper.set_model_props(m, {"labels": "\n".join(labels)})
    path = os.path.join(tmp, name + ".onnx")
    onnx.save(m, path)
    return path


def run(args, code=0):
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if p.returncode != code:
        failures.append("%s: exit %d, want %d\n%s" % (" ".join(args), p.returncode, code, p.stderr[-1500:]))
    return p


def diagnostics(p):
    return [l for l in p.stderr.splitlines() if l.startswith("sinter: error") or l.startswith("sinter: warning")]


def expect_diag(p, want, what):
    if want not in diagnostics(p):
        failures.append("%s: want %r, got %r" % (what, want, diagnostics(p)))


x = rng.standard_normal((1, 8)).astype(np.float32)
xpb = os.path.join(tmp, "x.pb")
with open(xpb, "wb") as f:
    f.write(numpy_helper.from_array(x, "x").SerializeToString())
logits = x.astype(np.float64) @ W.T.astype(np.float64) + B
want = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()


def output(exe):
    d = os.path.join(tmp, os.path.basename(exe) + "-out")
    run([exe, "run", xpb, "-o", d])
    return numpy_helper.to_array(onnx.load_tensor(os.path.join(d, "output_0.pb")))


# --softmax after logits: the probabilities, the output keeping its name.
exe = os.path.join(tmp, "logits")
run([SINTER, "compile", model("logits"), "--softmax", "-o", exe])
got = output(exe)
if got.shape != (1, 5) or not np.abs(got - want).max() <= 1e-6:
    failures.append("--softmax: got %s, want %s" % (got, want))
info = run([exe, "info"]).stdout
if "output y: FLOAT [1, 5]" not in info:
    failures.append("--softmax: the output should keep its name y: %r" % info)

# An output that already is a softmax's: a warning, nothing added.
exe = os.path.join(tmp, "probs")
p = run([SINTER, "compile", model("probs", softmax=True), "--softmax", "-o", exe])
expect_diag(p, "sinter: warning: --softmax: the output already is a softmax's; none added", "softmax twice")
got = output(exe)
if not np.abs(got - want).max() <= 1e-6:
    failures.append("softmax model with --softmax: got %s, want %s" % (got, want))

# Refusals: two outputs, a DSL model.
p = run([SINTER, "compile", model("two", two_outputs=True), "--softmax", "-o", os.path.join(tmp, "two")], code=1)
expect_diag(p, "sinter: error: --softmax: the model has 2 outputs; it applies to one output of logits", "two outputs")
p = run([SINTER, "compile", os.path.join(MODELS, "simple_cnn.nn"), "--softmax", "-o", os.path.join(tmp, "dsl")], code=1)
expect_diag(p, "sinter: error: --softmax is for ONNX models: a DSL model says its own activation", "DSL --softmax")

# Class names: --labels and the file's labels metadata must have one name per class.
p = run([SINTER, "compile", model("logits"), "--labels", "a,b,c", "-o", os.path.join(tmp, "l3")], code=1)
expect_diag(p, "sinter: error: --labels: 3 class names for output 'y' of shape [1, 5] (5 classes)", "--labels count")
run([SINTER, "compile", model("logits"), "--labels", "a,b,c,d,e", "-o", os.path.join(tmp, "l5")])
bad_meta = model("meta", labels=["cat", "dog"])
p = run([SINTER, "compile", bad_meta, "-o", os.path.join(tmp, "meta")], code=1)
expect_diag(p, "sinter: error: the model's labels metadata: 2 class names for output 'y' of shape [1, 5] (5 classes)",
            "metadata count")
run([SINTER, "compile", bad_meta, "--labels", "a,b,c,d,e", "-o", os.path.join(tmp, "meta5")])  # --labels replaces them
p = run([SINTER, "compile", model("two_l", two_outputs=True), "--labels", "a,b,c,d,e", "-o", os.path.join(tmp, "tl")],
        code=1)
expect_diag(p, "sinter: error: --labels: 5 class names, but the model has 2 outputs (class names name the classes of "
               "one output)", "labels, two outputs")
p = run([SINTER, "import", bad_meta, "-o", os.path.join(tmp, "meta.nn")], code=1)
expect_diag(p, "sinter: error: the model's labels metadata: 2 class names for output 'y' of shape [1, 5] (5 classes)",
            "import metadata count")

# import --softmax: the DSL ends in a softmax over the classes.
nn = os.path.join(tmp, "logits.nn")
run([SINTER, "import", model("logits_n", batch="n"), "--softmax", "-o", nn])  # DSL inputs carry a batch
text = open(nn).read() if os.path.exists(nn) else ""
if "softmax(" not in text or "output y" not in text:
    failures.append("import --softmax: no softmax before output y:\n" + text)

# import names every node the DSL cannot express, not just the first.
g = helper.make_graph(
    [helper.make_node("Gemm", ["x", "W", "B"], ["h"], transB=1, alpha=2.0, name="scaled"),
     helper.make_node("Relu", ["h"], ["r"], name="relu"),
     helper.make_node("Gemm", ["r", "W2"], ["y"], alpha=0.5, name="halved")],
    "two_bad", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 8])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])],
    [numpy_helper.from_array(W, "W"), numpy_helper.from_array(B, "B"),
     numpy_helper.from_array(rng.standard_normal((5, 3)).astype(np.float32), "W2")])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 7
two_bad = os.path.join(tmp, "two_bad.onnx")
onnx.save(m, two_bad)
p = run([SINTER, "import", two_bad, "-o", os.path.join(tmp, "two_bad.nn")], code=1)
for name in ("scaled", "halved"):
    expect_diag(p, "sinter: error: %s: node '%s' (Gemm) cannot be written in the DSL: dense layers (constant B and C, "
                   "no transA, alpha = beta = 1) only" % (two_bad, name), "import names every node")
if os.path.exists(os.path.join(tmp, "two_bad.nn")):
    failures.append("import of an inexpressible graph wrote a file")

if failures:
    print("FAIL\n" + "\n".join(failures))
    sys.exit(1)
print("PASS --softmax and class names against the output's classes")
