"""`sinter info MODEL.onnx` and `sinter summary MODEL.onnx` (issue 11, point 4) on models built
here with onnx.helper: the header (IR, producer, opsets), inputs and outputs with types and
symbolic dims, the op histogram, the parameter count against numpy's sum of the initializers,
every node sinter cannot compile named with its op, opset and why (also a custom domain and a
bad attribute), a graph whose nodes pass one by one but whose import fails, names with control
characters escaped, initializer sizes that overflow, and summary's per-layer counts of Gemm and
MatMul weights. Exact lines throughout.
usage: check_info.py SINTER"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SINTER = sys.argv[1]
failures = []
rng = np.random.default_rng(3)
tmp = tempfile.mkdtemp(prefix="sinter-info-")


def init(shape, name):
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def save(graph, name, opset=13, producer="check_info", ir=7):
    m = helper.make_model(graph, producer_name=producer, producer_version="0.1",
                          opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = ir
    path = os.path.join(tmp, name)
    onnx.save(m, path)
    return path


def run(*args, code=0):
    p = subprocess.run([SINTER, *args], capture_output=True, text=True, timeout=60)
    if p.returncode != code:
        failures.append("%s: exit %d, want %d\n%s%s" % (" ".join(args), p.returncode, code, p.stdout, p.stderr))
    return p.stdout.splitlines(), p.stderr


def expect_lines(what, got, want):
    for line in want:
        if line not in got:
            failures.append("%s: missing line\n  %r\nin\n  %s" % (what, line, "\n  ".join(got)))


# An MLP: Flatten, Gemm (B transposed, C), Relu, MatMul with an initializer B, Add, Softmax.
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1, 8, 8])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 5])
mlp_inits = [init((16, 64), "W1"), init((16,), "b1"), init((16, 5), "W2"), init((5,), "b2")]
mlp = helper.make_graph(
    [helper.make_node("Flatten", ["x"], ["f"], name="flat"),
     helper.make_node("Gemm", ["f", "W1", "b1"], ["h"], transB=1, name="fc1"),
     helper.make_node("Relu", ["h"], ["r"], name="relu"),
     helper.make_node("MatMul", ["r", "W2"], ["m"], name="fc2"),
     helper.make_node("Add", ["m", "b2"], ["a"], name="bias2"),
     helper.make_node("Softmax", ["a"], ["y"], axis=1, name="prob")],
    "mlp", [x], [y], mlp_inits)
path = save(mlp, "mlp.onnx")
total = sum(int(np.prod(t.dims)) for t in mlp_inits)
out, _ = run("info", path)
expect_lines("info mlp", out, [
    path + ": ONNX IR version 7, producer check_info 0.1",
    "opsets: ai.onnx 13",
    "graph 'mlp'",
    "  x  FLOAT [batch, 1, 8, 8]",
    "  y  FLOAT [batch, 5]",
    "ops: 6 nodes of 6 kinds",
    "parameters: %s in 4 initializers, %.1f MB" % (format(total, ","), total * 4 / 1e6),
    "sinter: every node compiles (`sinter summary` shows the layers)"])
for op in ["Flatten", "Gemm", "Relu", "MatMul", "Add", "Softmax"]:
    expect_lines("info mlp histogram", out, ["       1  " + op])

# summary: Gemm's B and C and MatMul's B are the layers' weights.
out, _ = run("summary", path)
rows = {l.split()[0]: l for l in out if l.startswith(" ")}
for layer, count in [("fc1", 16 * 64 + 16), ("fc2", 16 * 5)]:
    if layer not in rows or format(count, ",") not in rows[layer].split():
        failures.append("summary: layer %s should count %d weights: %r" % (layer, count, rows.get(layer)))
# The Add's constant is an operand, not a layer's weight: summary counts the Gemm and the MatMul.
expect_lines("summary mlp", out, ["Total params: " + format(16 * 64 + 16 + 16 * 5, ",")])
run("summary", path, "--set", "size=3", code=1)

# The op histogram counts, most frequent first.
hist = helper.make_graph(
    [helper.make_node("Relu", ["x"], ["r0"]), helper.make_node("Relu", ["r0"], ["r1"]),
     helper.make_node("Sigmoid", ["r1"], ["s"]), helper.make_node("Relu", ["s"], ["y"])],
    "hist", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
out, _ = run("info", save(hist, "hist.onnx"))
ops = [l for l in out if l.startswith("       ")]
if ops != ["       3  Relu", "       1  Sigmoid"]:
    failures.append("info histogram: %r" % ops)

# Nodes sinter cannot compile: an unknown op, a custom domain, a bad attribute value; each named.
bad = helper.make_graph(
    [helper.make_node("Relu", ["x"], ["a"], name="ok"),
     helper.make_node("NoSuchOp", ["a"], ["b"], name="mystery"),
     helper.make_node("Relu", ["b"], ["c"], name="custom", domain="com.example"),
     helper.make_node("Gemm", ["c", "W"], ["y"], name="badgemm", transB=7)],
    "bad", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [init((4, 4), "W")])
bad_path = save(bad, "bad.onnx", opset=13)
out, _ = run("info", bad_path)
expect_lines("info bad", out, [
    "sinter cannot compile 3 of 4 nodes:",
    "  %s: node 'mystery': op NoSuchOp (opset 13) is not supported" % bad_path,
    "  %s: node 'custom' (Relu): domain 'com.example' is not supported (only ai.onnx)" % bad_path,
    "       1  com.example:Relu"])
if not any(l.startswith("  %s: node 'badgemm' (Gemm, opset 13): " % bad_path) and "transB" in l for l in out):
    failures.append("info bad: no line for node 'badgemm' naming transB:\n  " + "\n  ".join(out))

# Nodes that pass one by one in a graph that does not import (shapes that do not broadcast).
shapes = helper.make_graph(
    [helper.make_node("Add", ["x", "z"], ["y"], name="mismatch")], "shapes",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
     helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 3])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
out, _ = run("info", save(shapes, "shapes.onnx"))
expect_lines("info shapes", out, ["sinter: the nodes pass one by one, but the graph does not import:"])
i = out.index("sinter: the nodes pass one by one, but the graph does not import:") if out else 0
if len(out) <= i + 1 or "mismatch" not in out[i + 1]:
    failures.append("info shapes: the import's message should name node 'mismatch': %r" % out[i:])

# Hostile names and sizes: control characters escaped; initializer sizes overflowing 64 bits.
evil = helper.make_graph(
    [helper.make_node("Relu", ["x\x1b[31m"], ["y"], name="n\x07")], "g\nx",
    [helper.make_tensor_value_info("x\x1b[31m", TensorProto.FLOAT, [1, 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
huge = evil.initializer.add()
huge.name, huge.data_type, huge.raw_data = "huge", TensorProto.FLOAT, b""
huge.dims.extend([1 << 40, 1 << 40])
out, err = run("info", save(evil, "evil.onnx"))
expect_lines("info evil", out, [
    "graph 'g\\x0ax'", "  x\\x1b[31m  FLOAT [1, 4]",
    "parameters: 1 initializers whose sizes overflow 64 bits (a corrupt or hostile file)"])
if any("\x1b" in l or "\x07" in l for l in out):
    failures.append("info evil: a control character reached the output")

# Files that are not ONNX models: exit 1 with the file's name.
_, err = run("info", os.path.join(tmp, "missing.onnx"), code=1)
if "missing.onnx" not in err:
    failures.append("info missing file: %r" % err)
run("info", code=1)

if failures:
    print("FAIL\n" + "\n".join(failures))
    sys.exit(1)
print("PASS sinter info and summary on ONNX files")
