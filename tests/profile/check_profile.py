"""`EXE bench --profile` (issue #10, point 4): one row per node of the generated run, in order,
with the node's name (hostile names escaped onto one line), op and kernel; FLOPs that equal a
hand count (or `summary`'s); per-node times that add up to the run's. No timing assertion
beyond that sanity check.

    check_profile.py MODE SINTER SOURCE_DIR

MODE onnx:      an ONNX model built here whose node names hold quotes, a comment end, a backslash,
                a tab, a newline, printf directives and UTF-8; batch 1, one model copy.
MODE instances: the same model at batch 4 split over two model copies (sinter compile --threads 2),
                profiled on 2 threads and on 1.
MODE dsl:       models/simple_cnn.nn at batch 1: conv rows name a conv kernel, dense rows a GEMM,
                and the profile's FLOPs are the summary's.
"""
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

MODE, SINTER, SRC = sys.argv[1:4]

CONV = 'conv "one" */ \\ tab\there\nline2 caf\u00e9'
POOL = "pool %s%n%d ??/"
FLAT = "flat %s%n%d ??/ %p"
FC = "fc"


def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)


def run(cmd, cwd):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True)
    if r.returncode != 0:
        fail("%s exited %d\nstdout: %s\nstderr: %s" % (cmd[:3], r.returncode, r.stdout[-3000:], r.stderr[-3000:]))
    return r.stdout.decode("utf-8")


def escaped(name):
    """The name as the profile prints it: control bytes as \\xNN, a backslash doubled."""
    out = []
    for b in name.encode("utf-8"):
        if b < 0x20 or b == 0x7F:
            out.append("\\x%02x" % b)
        elif b == 0x5C:
            out.append("\\\\")
        else:
            out.append(chr(b))
    return "".join(out).encode("latin-1").decode("utf-8")


def onnx_model(path):
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array((rng.standard_normal((16, 3, 3, 3)) * 0.1).astype(np.float32), "w"),
             numpy_helper.from_array(rng.standard_normal(16).astype(np.float32), "b"),
             numpy_helper.from_array((rng.standard_normal((16 * 16 * 16, 10)) * 0.01).astype(np.float32), "w2"),
             numpy_helper.from_array(rng.standard_normal(10).astype(np.float32), "b2")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name=CONV, pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("MaxPool", ["r"], ["p"], name=POOL, kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Flatten", ["p"], ["f"], name=FLAT),
             helper.make_node("Gemm", ["f", "w2", "b2"], ["y"], name=FC)]
    g = helper.make_graph(nodes, "prof", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 32, 32])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


# Per sample: the conv's 2 x 3*3*3 x 16 x 32*32 and the Gemm's 2 x 4096 x 10 (the ReLU is fused
# into the conv; pooling and flatten are not counted).
ONNX_FLOPS = 2 * 27 * 16 * 32 * 32 + 2 * 4096 * 10
# The generated run of the ONNX model: name, op, kernel prefix.
# A convolution names its path (runtime/kernels/conv.c snt_k_conv_kernel).
CONV_KERNELS = "conv-"
# The 2x2 max pool is the conv's second output (compiler/passes/fuse_conv_pool.c): its row is
# the conv's, whose kernel says "+maxpool" (in the store) or "+maxpool-pass".
ONNX_ROWS = [(CONV, "conv2d", CONV_KERNELS), (FLAT, "flatten", "flatten"), (FC, "gemm", "gemm-")]


def parse(out):
    lines = out.split("\n")
    head = [i for i, l in enumerate(lines) if re.match(r"^ +# +node +op +ms +GFLOP/s +% peak +kernel$", l)]
    if len(head) != 1:
        fail("no header line in:\n" + out)
    rows, i = [], head[0] + 1
    while i < len(lines) and not lines[i].startswith("total: "):
        l = lines[i]
        idx, rest = l[:4].strip(), l[6:]
        parts = rest.rsplit(None, 5)
        if idx != str(len(rows) + 1) or len(parts) != 6:
            fail("row %d is not '#  name  op  ms  GFLOP/s  %%peak  kernel': %r" % (len(rows) + 1, l))
        rows.append({"name": parts[0].rstrip(" "), "op": parts[1], "ms": float(parts[2]), "gf": parts[3],
                     "pct": parts[4], "kernel": parts[5]})
        i += 1
    if i >= len(lines):
        fail("no total line in:\n" + out)
    m = re.match(r"^total: nodes ([0-9.]+) ms, run ([0-9.]+) ms \(median\), ([0-9.e+-]+) GFLOP per run, "
                 r"([0-9.]+|-) GFLOP/s, ([0-9.]+%|-) of peak$", lines[i])
    if not m:
        fail("bad total line: %r" % lines[i])
    p = re.match(r"^FMA peak: ([0-9.]+) GFLOP/s on (\d+) threads? \((avx512|avx2|c)\)$", lines[i + 1])
    if not p or not float(p.group(1)) > 0:
        fail("bad peak line: %r" % lines[i + 1])
    total = {"nodes": float(m.group(1)), "run": float(m.group(2)), "gflop": float(m.group(3)),
             "peak": float(p.group(1)), "threads": int(p.group(2))}
    return rows, total


def check_rows(rows, want):
    got = [(r["name"], r["op"]) for r in rows]
    exp = [(escaped(n), op) for n, op, _ in want]
    if got != exp:
        fail("rows %r\nwant %r" % (got, exp))
    for r, (_, _, k) in zip(rows, want):
        if not r["kernel"].startswith(k):
            fail("node %r runs kernel %r, want %s..." % (r["name"], r["kernel"], k))
    if want is ONNX_ROWS and not re.search(r"\+maxpool(-pass)?$", rows[0]["kernel"]):
        fail("the conv's kernel %r does not name the max pool it writes" % rows[0]["kernel"])


def check_sums(rows, total, one_copy):
    s = sum(r["ms"] for r in rows)
    # Printed with 3 decimals: the rows' sum and the total agree to rounding.
    if abs(s - total["nodes"]) > 0.0006 * len(rows) + 0.001:
        fail("the rows add up to %.3f ms, the total says %.3f" % (s, total["nodes"]))
    # Each row is a median of its own; with one model copy they cannot be far from the run time.
    if one_copy and not (0.5 * total["run"] - 0.05 <= total["nodes"] <= 2.05 * total["run"] + 0.2):
        fail("the nodes take %.3f ms of a %.3f ms run" % (total["nodes"], total["run"]))
    for r in rows:
        if r["gf"] != "-" and r["ms"] > 0.05:
            pct = 100 * float(r["gf"]) / total["peak"]
            if abs(pct - float(r["pct"].rstrip("%"))) > 0.1 + 0.001 * pct:
                fail("node %r: %s GFLOP/s is not %s of a %.1f peak" % (r["name"], r["gf"], r["pct"], total["peak"]))


def check_flops(total, want):
    if abs(total["gflop"] * 1e9 - want) > 1e-5 * want:
        fail("%.6g GFLOP per run, want %.6g" % (total["gflop"], want / 1e9))


def profile(exe, cwd, *args):
    return parse(run([exe, "bench", "--profile", "--iters", "2"] + list(args), cwd))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        if MODE in ("onnx", "instances"):
            onnx_model(os.path.join(tmp, "m.onnx"))
            if MODE == "onnx":
                run([SINTER, "compile", "m.onnx", "--batch", "1", "-o", "exe"], tmp)
                rows, total = profile("./exe", tmp, "--threads", "1")
                check_rows(rows, ONNX_ROWS)
                check_sums(rows, total, True)
                check_flops(total, ONNX_FLOPS)
                if total["threads"] != 1:
                    fail("the peak was measured on %d threads, the model ran on 1" % total["threads"])
            else:
                run([SINTER, "compile", "m.onnx", "--batch", "4", "--threads", "2", "-o", "exe"], tmp)
                for t in ("2", "1"):
                    rows, total = profile("./exe", tmp, "--threads", t)
                    check_rows(rows, ONNX_ROWS)
                    check_sums(rows, total, False)
                    check_flops(total, 4 * ONNX_FLOPS)
                    if total["threads"] != int(t):
                        fail("the peak was measured on %d threads, the model ran on %s" % (total["threads"], t))
        else:
            run([SINTER, "compile", os.path.join(SRC, "models", "simple_cnn.nn"), "--batch", "1", "-o", "exe"], tmp)
            rows, total = profile("./exe", tmp)
            summary = run(["./exe", "summary"], tmp)
            m = re.search(r"^FLOPs \(one forward pass[^:]*: ([0-9.]+) G$", summary, re.M)
            if not m:
                fail("no FLOPs line in the summary:\n" + summary)
            if abs(total["gflop"] - float(m.group(1))) > 0.006 * float(m.group(1)):
                fail("the profile counts %.6g GFLOP, the summary %s G" % (total["gflop"], m.group(1)))
            layers = re.findall(r"^ (\S+) \((\w+)\) ", summary, re.M)
            names = [n for n, _ in layers]
            for r in rows:
                if r["name"] not in names:
                    fail("node %r is not a layer of the summary" % r["name"])
                want = CONV_KERNELS if r["op"] == "conv2d" else "gemm-" if r["op"] == "dense" else r["op"]
                if not r["kernel"].startswith(want):
                    fail("node %r (%s) runs kernel %r" % (r["name"], r["op"], r["kernel"]))
            if not any(r["op"] == "conv2d" for r in rows) or not any(r["op"] == "dense" for r in rows):
                fail("no conv2d or dense row: %r" % rows)
            # summary names the same kernel for every conv and dense node as the profiled run
            listed = dict(re.findall(r"^ (\S+)\s+\w+\s+(\S+)$", summary.split("Kernels on this CPU", 1)[-1], re.M))
            for r in rows:
                if r["op"] in ("conv2d", "dense") and listed.get(r["name"]) != r["kernel"]:
                    fail("summary lists kernel %r for %r, the profile %r" % (listed.get(r["name"]), r["name"], r["kernel"]))
            check_sums(rows, total, True)
    print("PASS %s" % MODE)


main()
