"""Shared helpers of the tests/train checks: compiling a model with sinter and building the
finite-difference harness (fd_harness.c) against its generated C."""
import os
import re
import shlex
import shutil
import subprocess
import sys


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if r.returncode != 0:
        sys.stdout.write(r.stdout)
        raise SystemExit("FAIL: %s exited with %d" % (" ".join(map(str, cmd)), r.returncode))
    return r.stdout


def compile_model(sinter, model, out_dir, sets=(), train_batch=None, extra=()):
    """sinter compile MODEL --emit-c OUT/gen -o OUT/exe; returns (exe, gen dir, prefix)."""
    os.makedirs(out_dir, exist_ok=True)
    gen = os.path.join(out_dir, "gen")
    shutil.rmtree(gen, ignore_errors=True)
    exe = os.path.join(out_dir, "exe")
    cmd = [sinter, "compile", model, "-o", exe, "--emit-c", gen]
    for s in sets:
        cmd += ["--set", s]
    if train_batch:
        cmd += ["--train-batch", str(train_batch)]
    cmd += list(extra)
    run(cmd)
    suites = [f for f in os.listdir(gen) if f.endswith("_suite.c")]
    assert len(suites) == 1, suites
    return exe, gen, suites[0][: -len("_suite.c")]


def build_harness(gen, prefix, harness_c, cflags, libs, out):
    """Links fd_harness.c with the generated model (its _suite.c main renamed)."""
    cc = os.environ.get("CC") or "cc"
    # The generated C must not rely on implicit conversions: a pointer of the wrong type
    # passed to a kernel is a bug (it hid a swapped dropout backward), not a warning.
    base = [cc, "-O2", "-std=gnu11", "-Werror=incompatible-pointer-types", "-Werror=int-conversion",
            "-Werror=implicit-function-declaration", "-I" + gen] + shlex.split(cflags)
    objs = []
    for src, extra in ((prefix + ".c", []), (prefix + "_train.c", []), (prefix + "_eval.c", []), (prefix + "_explain.c", []),
                       (prefix + "_suite.c", ["-Dmain=snt_suite_main_unused"]),
                       (prefix + "_weights.S", ["-Wa,-I" + gen])):
        path = os.path.join(gen, src)
        if not os.path.exists(path):
            continue
        obj = os.path.join(gen, src + ".o")
        run(base + extra + ["-c", path, "-o", obj])
        objs.append(obj)
    run(base + ["-DSNT_P=" + prefix, harness_c] + objs + ["-o", out] + shlex.split(libs))
    return out


def parse_harness(text):
    """Rows of the harness table: {name: (numel, sample, skipped, rel, ok)}."""
    rows = {}
    for line in text.splitlines():
        m = re.match(r"^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(ok|FAIL)$", line)
        if m:
            rows[m.group(1)] = (int(m.group(2)), int(m.group(3)), int(m.group(4)),
                                float("nan") if m.group(7) == "-" else float(m.group(7)),
                                m.group(8) == "ok")
    return rows
