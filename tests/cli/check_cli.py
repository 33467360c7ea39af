"""Command lines of `sinter` and of a compiled executable (issue 9, points 7 and 8).

Compiles one tiny trainable model (simple_cnn at 32x32) and a small synthetic data set once,
then checks: the exact first line of option errors (ranges, did-you-mean, --name=value),
--set=NAME=V for check and compile alike, an allocation failure that names its size (exit 2),
non-finite weights and inputs reported in predict (text and JSON), run and evaluate, and train
stopping on non-finite weights with the earlier checkpoints untouched and loadable.
usage: check_cli.py SINTER MODELS_DIR WORK_DIR"""
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys

import numpy as np
import onnx
from onnx import numpy_helper

SINTER, MODELS, WORK = sys.argv[1:4]
MODEL = os.path.join(MODELS, "simple_cnn.nn")
failures = []


def run(args, env=None, expect=None, limit_as=None):
    e = dict(os.environ)
    e.update(env or {})
    pre = (lambda: resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))) if limit_as else None
    p = subprocess.run(args, cwd=WORK, capture_output=True, text=True, env=e, timeout=120, preexec_fn=pre)
    if p.returncode < 0:
        failures.append("%s: killed by signal %d" % (" ".join(args), -p.returncode))
    if expect is not None and p.returncode != expect:
        failures.append("%s: exit %d, want %d\nstdout: %s\nstderr: %s" % (" ".join(args), p.returncode, expect,
                                                                           p.stdout[-2000:], p.stderr[-2000:]))
    return p


def first_line(text):
    # AddressSanitizer's own warnings ("==PID==WARNING: ... failed to allocate") are not ours.
    lines = [l for l in text.splitlines() if not l.startswith("==")]
    return lines[0] if lines else ""


def error(args, want, code=1, env=None, limit_as=None):
    """The command exits `code` and the first line of its stderr is exactly `want`."""
    p = run(args, env=env, expect=code, limit_as=limit_as)
    if first_line(p.stderr) != want:
        failures.append("%s:\n  got  '%s'\n  want '%s'" % (" ".join(args), first_line(p.stderr), want))
    return p


def md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
EXE = os.path.join(WORK, "exe")

# --set=NAME=V works for check and compile alike; the executable is the one the rest uses.
p = run([SINTER, "check", MODEL, "--set=size=32"], expect=0)
if "ok: model simple_cnn" not in p.stdout:
    failures.append("check --set=size=32: %s" % p.stdout)
run([SINTER, "compile", MODEL, "--set=size=32", "-o", EXE], expect=0)
run([SINTER, "synth-data", "-o", "data", "--per-class", "6", "--size", "32"], expect=0)
IMG = "data/COVID/images/COVID-1.png"

# sinter's commands: exact first lines.
error([SINTER, "compile", MODEL, "-o", "x", "--batch", "0"], "sinter compile: --batch: 0 is out of range (1 to 65536)")
error([SINTER, "compile", MODEL, "-o", "x", "--bach", "2"], "sinter compile: unknown option '--bach'; did you mean --batch?")
error([SINTER, "compile", MODEL, "-o", "x", "--threads=65"], "sinter compile: --threads: 65 is out of range (1 to 64)")
error([SINTER, "compile", MODEL, "-o", "x", "--std", "1,0,1"],
      "sinter compile: --std: 0 is out of range (more than 0, at most 1e+06)")
error([SINTER, "compile", MODEL, "-o", "x", "--max-memory", "0"],
      "sinter compile: --max-memory: 0 is out of range (1 to 9223372036854775807)")
error([SINTER, "compile", MODEL, "-o", "x", "-o", "y"], "sinter compile: -o is given twice")
error([SINTER, "check", MODEL, "--set", "size"], "sinter check: --set takes NAME=VALUE, got 'size'")
error([SINTER, "summary", MODEL, "--model"], "sinter summary: --model needs a value (NAME)")
error([SINTER, "export-onnx", MODEL, "--weigths", "w.onnx"],
      "sinter export-onnx: unknown option '--weigths'; did you mean --weights?")
error([SINTER, "synth-data", "-o", "d", "--size", "5"], "sinter synth-data: --size: 5 is out of range (32 to 1024)")
error([SINTER, "synth-data", "-o", "d", "--seed", "-1"], "sinter synth-data: --seed: '-1' is not a whole number")
error([SINTER, "ops", "--markdwn"], "sinter ops: unknown option '--markdwn'; did you mean --markdown?")
error([SINTER, "run", "m.onnx", "in.pb", "-o"], "sinter run: -o needs a value (DIR)")
error([SINTER, "import", "m.onnx", "-o", "a.nn", "b.onnx"], "sinter import: takes at most 1 argument, got another: 'b.onnx'")

error([SINTER, "compil", MODEL], "sinter: unknown command 'compil'; did you mean 'compile'?")

# The executable's commands.
error([EXE, "predcit", IMG], "simple_cnn: unknown command 'predcit'; did you mean 'predict'?")
error([EXE, "train", "--data", "data", "--epochs", "4611686018427387904"],
      "simple_cnn train: --epochs: 4611686018427387904 is out of range (1 to 1000000)")
error([EXE, "train", "--data", "data", "--epoch", "3"], "simple_cnn train: unknown option '--epoch'; did you mean --epochs?")
error([EXE, "train", "--data=data", "--data", "data"], "simple_cnn train: --data is given twice")
error([EXE, "train", "--data", "data", "--lr", "inf"], "simple_cnn train: --lr: 'inf' is not a finite number")
error([EXE, "train", "--data", "data", "--split", "0.8,0.1"],
      "simple_cnn train: --split: '0.8,0.1' is not 3 comma-separated numbers")
error([EXE, "predict", "--top=0", IMG], "simple_cnn predict: --top: 0 is out of range (1 to 100000)")
error([EXE, "predict", "--max-pixels", "0", IMG],
      "simple_cnn predict: --max-pixels: 0 is out of range (1 to 268435456)")
error([EXE, "bench", "--seconds", "nan"], "simple_cnn bench: --seconds: 'nan' is not a finite number")
error([EXE, "bench", "--iters", "10001"], "simple_cnn bench: --iters: 10001 is out of range (1 to 10000)")
error([EXE, "bench", "--batch", "2"],
      "simple_cnn bench: --batch: 2 is out of range (1 to 1, the batch it was compiled for: sinter compile --batch)")
error([EXE, "info", "--threads", "999"], "simple_cnn info: --threads: 999 is out of range (1 to 256)")
error([EXE, "evaluate", "--data", "data", "--split", "foo"],
      "simple_cnn evaluate: --split: 'foo' is not one of test, val, train, all")
error([EXE, "data", "--data", "data", "--seed", "x"], "simple_cnn data: --seed: 'x' is not a whole number")
error([EXE, "gradients", "a.pb", "b.pb", "--seed"], "simple_cnn gradients: --seed needs a value (S)")

# gradients: a label the loss kernel would refuse is named before the step runs.
x = np.zeros((2, 3, 32, 32), np.float32)
with open(os.path.join(WORK, "gx.pb"), "wb") as f:
    f.write(numpy_helper.from_array(x, "x").SerializeToString())
with open(os.path.join(WORK, "gl.pb"), "wb") as f:
    f.write(numpy_helper.from_array(np.array([1, 4], np.int64), "labels").SerializeToString())
error([EXE, "gradients", "gx.pb", "gl.pb", "-o", "g"], "gl.pb: label 4 of sample 1 is out of range (0 to 3)")

# An allocation that fails names its size and exits 2.
error([EXE, "bench", "--iters", "1"], "simple_cnn: out of memory: cannot allocate 12289 bytes for input 'image'", code=2,
      env={"SINTER_FAIL_ALLOC_OVER": "1000"})

# The model's own memory (the generated <p>_create) cannot be had: exit 2, naming what. A batch
# of 8192 needs about 1 GB of activations; the address space is capped below that (under
# AddressSanitizer, which needs a large address space, its allocator refuses instead).
BIG = os.path.join(WORK, "big")
run([SINTER, "compile", MODEL, "--set", "size=32", "--no-train", "--batch", "8192", "--threads", "1", "-o", BIG], expect=0)
env = {"OPENBLAS_NUM_THREADS": "1"}
limit = 700 << 20
with open(BIG, "rb") as f:
    if b"__asan_init" in f.read():
        env["ASAN_OPTIONS"] = "allocator_may_return_null=1:max_allocation_size_mb=500:detect_leaks=0"
        limit = None
# The message names the bytes asked for: more than the cap that refused them (700 MiB here, 500 MB under ASan).
p = run([BIG, "info"], env=env, expect=2, limit_as=limit)
m = re.fullmatch(r"simple_cnn: out of memory: cannot allocate (\d+) bytes for model copy 1 of 1 \(its activation arena "
                 r"and scratch for a batch of 8192\)", first_line(p.stderr))
if not m or int(m.group(1)) <= 500 << 20:
    failures.append("big info: got '%s', want the size asked for (more than 500 MiB)" % first_line(p.stderr))

# Non-finite weights: every prediction is invalid, in text and JSON, exit 1.
run([EXE, "export-onnx", "-o", "w.onnx"], expect=0)
m = onnx.load(os.path.join(WORK, "w.onnx"))
init = m.graph.initializer[0]
a = numpy_helper.to_array(init).copy()
a.flat[0] = np.nan
init.CopyFrom(numpy_helper.from_array(a, init.name))
onnx.save(m, os.path.join(WORK, "nan.onnx"))
p = error([EXE, "predict", "--weights", "nan.onnx", IMG],
          "simple_cnn: warning: the weights in nan.onnx hold 1 non-finite value (NaN or Inf), the first in '%s': "
          "every output is invalid" % init.name)
if p.stdout != IMG + ": invalid (non-finite weights)\n":
    failures.append("predict with NaN weights printed %r" % p.stdout)
p = run([EXE, "predict", "--json", "--weights=nan.onnx", IMG], expect=1)
try:
    got = json.loads(p.stdout)
    if got != [{"file": IMG, "valid": False, "reason": "non-finite weights", "predictions": []}]:
        failures.append("predict --json with NaN weights: %r" % got)
except ValueError as ex:
    failures.append("predict --json with NaN weights: not JSON (%s): %r" % (ex, p.stdout))
p = run([EXE, "predict", "--json", IMG], expect=0)
if json.loads(p.stdout)[0].get("valid") is not True:
    failures.append("predict --json: no \"valid\": true: %r" % p.stdout)
p = run([EXE, "evaluate", "--data", "data", "--split", "all", "--weights", "nan.onnx", "--out", "ev"], expect=1)
if "invalid: 24 images whose input or output was not finite (NaN or Inf), not counted above" not in p.stdout:
    failures.append("evaluate with NaN weights does not count them apart: %r" % p.stdout[:500])

# A non-finite input to run: said on stderr, the outputs still written.
x = np.random.RandomState(0).rand(1, 3, 32, 32).astype(np.float32) * 255
x[0, 1, 2, 3] = np.inf
with open(os.path.join(WORK, "inf.pb"), "wb") as f:
    f.write(numpy_helper.from_array(x, "image").SerializeToString())
error([EXE, "run", "inf.pb", "-o", "out"], "inf.pb: warning: input 0 ('image') holds 1 non-finite value (NaN or Inf)",
      code=0)

# train: one good epoch, then a run from NaN weights into the same folder stops at its first
# step, naming it, and leaves the checkpoints as they were, loadable.
run([EXE, "train", "--data", "data", "--epochs", "1", "--batch", "8", "--out", "run", "--threads", "1"], expect=0)
before = {f: md5(os.path.join(WORK, "run", f)) for f in ("last.onnx", "best.onnx")}
error([EXE, "train", "--data", "data", "--epochs", "2", "--batch", "8", "--out", "run", "--threads", "1",
       "--weights", "nan.onnx"],
      "simple_cnn train: the weights are not finite at epoch 1, step 1 of 3: stopping (is the learning rate too "
      "high?); no epoch was completed: no checkpoint was written")
after = {f: md5(os.path.join(WORK, "run", f)) for f in ("last.onnx", "best.onnx")}
if before != after:
    failures.append("train with NaN weights changed the checkpoints")
run([EXE, "predict", "--weights", "run/last.onnx", IMG], expect=0)
run([EXE, "predict", "--weights", "run/best.onnx", IMG], expect=0)

# A learning rate that diverges: a model without batch normalisation overflows float32 after the
# first update of 1e6; training stops at step 2 and the checkpoints of the earlier run stay.
DIV = os.path.join(WORK, "diverge")
run([SINTER, "compile", os.path.join(os.path.dirname(os.path.abspath(__file__)), "diverge.nn"), "-o", DIV], expect=0)
run([DIV, "train", "--data", "data", "--epochs", "1", "--out", "drun", "--threads", "1"], expect=0)
before = {f: md5(os.path.join(WORK, "drun", f)) for f in ("last.onnx", "best.onnx")}
error([DIV, "train", "--data", "data", "--epochs", "3", "--out", "drun", "--threads", "1", "--lr", "1e6",
       "--weights", "drun/last.onnx"],
      "diverge train: the predicted probabilities are not finite at epoch 1, step 2 of 3: stopping (is the learning "
      "rate too high?); no epoch was completed: no checkpoint was written")
after = {f: md5(os.path.join(WORK, "drun", f)) for f in ("last.onnx", "best.onnx")}
if before != after:
    failures.append("train with a diverging lr changed the checkpoints")
run([DIV, "evaluate", "--data", "data", "--weights", "drun/best.onnx"], expect=0)

for f in failures:
    print("FAIL:", f)
print("%d failure(s)" % len(failures) if failures else "cli: all checks passed")
sys.exit(1 if failures else 0)
