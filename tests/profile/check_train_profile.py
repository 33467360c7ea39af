"""`EXE train --profile`: one row per node of the training step (forward, loss, gradients, in
the step's order) with its op and kernel, per-node times that add up to the total, the step
counted without its first, and FLOPs that equal a hand count: each gradient of a conv or dense
layer counts as its forward, the first conv has no data gradient. No timing assertion.

    check_train_profile.py SINTER SOURCE_DIR SHARED_DIR
"""
import math
import os
import re
import subprocess
import sys
import tempfile

SINTER, SRC, SHARED = sys.argv[1:4]
BATCH, EPOCHS = 8, 2

# simple_cnn at size 32, per sample: 3x3 convs 3->32 at 32x32, 32->64 at 16x16, 64->128 at 8x8,
# dense 128->128 and 128->4 (2 x multiply-adds).
CONV0 = 2 * 27 * 32 * 32 * 32
FORWARD = CONV0 + 2 * 288 * 64 * 16 * 16 + 2 * 576 * 128 * 8 * 8 + 2 * 128 * 128 + 2 * 128 * 4
STEP = 3 * FORWARD - CONV0


def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        fail("%s exited %d\nstdout: %s\nstderr: %s" % (cmd[:3], r.returncode, r.stdout[-3000:], r.stderr[-3000:]))
    return r.stdout


with tempfile.TemporaryDirectory() as d:
    data = os.path.join(d, "data")
    src = os.path.join(SHARED, "data", "cxr-256")
    for cls in ("COVID", "Normal", "Viral Pneumonia"):
        os.makedirs(os.path.join(data, cls))
        for f in sorted(os.listdir(os.path.join(src, cls)))[:8]:
            os.symlink(os.path.join(src, cls, f), os.path.join(data, cls, f))
    exe = os.path.join(d, "exe")
    run([SINTER, "compile", os.path.join(SRC, "models", "simple_cnn.nn"), "--set", "size=32", "--train-batch",
         str(BATCH), "-o", exe])
    out = run([exe, "train", "--data", data, "--out", os.path.join(d, "run"), "--epochs", str(EPOCHS), "--batch",
               str(BATCH), "--split", "0.8,0.2,0", "--no-augment", "--threads", "2", "--profile"])
    progress = re.findall(r"(\d+)/(\d+) \[=+\]", out)
    if not progress:
        fail("no progress line in:\n" + out)
    steps = EPOCHS * int(progress[-1][1])
    m = re.search(r"^per node of the training step: mean of (\d+) steps \(the first left out\), ([0-9.]+) samples "
                  r"per step;$", out, re.M)
    if not m or int(m.group(1)) != steps - 1:
        fail("want a profile of %d steps (the first left out), got:\n%s" % (steps - 1, out))
    per = float(m.group(2))
    lines = out.split("\n")
    head = [i for i, l in enumerate(lines) if re.match(r"^ +# +node +op +ms +GFLOP/s +% peak +kernel$", l)]
    if len(head) != 1:
        fail("no header line in:\n" + out)
    rows, i = [], head[0] + 1
    while i < len(lines) and not lines[i].startswith("total: "):
        parts = lines[i][6:].rsplit(None, 5)
        if lines[i][:4].strip() != str(len(rows) + 1) or len(parts) != 6:
            fail("row %d is not '#  name  op  ms  GFLOP/s  %%peak  kernel': %r" % (len(rows) + 1, lines[i]))
        rows.append({"name": parts[0], "op": parts[1], "ms": float(parts[2]), "gf": parts[3], "kernel": parts[5]})
        i += 1
    if i >= len(lines):
        fail("no total line in:\n" + out)
    t = re.match(r"^total: nodes ([0-9.]+) ms per step, ([0-9.e+-]+) GFLOP counted, ([0-9.]+) GFLOP/s, "
                 r"([0-9.]+)% of peak$", lines[i])
    p = re.match(r"^FMA peak: ([0-9.]+) GFLOP/s on (\d+) threads? \((avx512|avx2|c)\)$", lines[i + 1])
    if not t or not p or not float(p.group(1)) > 0:
        fail("bad total or peak line: %r %r" % (lines[i], lines[i + 1]))
    ops = [r["op"] for r in rows]
    want_ops = {"conv2d": 3, "conv2d_grad_kernel": 3, "conv2d_grad_input": 2, "dense": 2, "dense_grad_kernel": 2,
                "dense_grad_input": 2, "batchnorm_train": 3, "batchnorm_train_grad": 3}
    for op, count in want_ops.items():
        if ops.count(op) != count:
            fail("%d rows of %s, want %d: %r" % (ops.count(op), op, count, ops))
    if ops.index("conv2d_grad_kernel") < ops.index("dense_1" if "dense_1" in ops else "dense"):
        fail("gradients before the forward: %r" % ops)
    for r in rows:
        counted = r["op"].startswith(("conv2d", "dense"))
        if counted != (r["gf"] != "-") or r["ms"] < 0:
            fail("row %r: GFLOP/s %s" % (r["name"], r["gf"]))
        if r["op"] == "conv2d" and not r["kernel"].startswith("conv-"):
            fail("conv row %r names kernel %r" % (r["name"], r["kernel"]))
    total = sum(r["ms"] for r in rows)
    if abs(total - float(t.group(1))) > 0.001 * len(rows) + 1e-3:
        fail("rows add up to %.3f ms, the total says %s" % (total, t.group(1)))
    want = STEP * per * 1e-9
    if not math.isclose(float(t.group(2)), want, rel_tol=1e-5):
        fail("%s GFLOP counted, want %.6g (3 x forward - the first conv's data gradient, x %.1f samples)"
             % (t.group(2), want, per))
    print("PASS %d rows, %d steps counted, %s GFLOP per step" % (len(rows), steps - 1, t.group(2)))
