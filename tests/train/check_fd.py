#!/usr/bin/python3
"""Finite-difference gradient check of sinter's generated training step.

usage: check_fd.py --sinter S --harness fd_harness.c --cflags F --libs L --work DIR
                   MODEL.nn [--set N=V]... [--train-batch B] [--expect-params P1,P2,...]
                   [--summary] -- [harness options]

Compiles MODEL.nn with `sinter compile --emit-c`, links fd_harness.c against the generated
<p>_train.c (through <p>_suite.c's tables), runs it (it compares every trainable parameter's
gradient with central differences of the loss, see fd_harness.c) and checks that the
harness covered the expected parameters.
"""
import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trainlib  # noqa: E402


def main():
    argv = sys.argv[1:]
    rest = []
    if "--" in argv:
        i = argv.index("--")
        argv, rest = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser()
    ap.add_argument("--sinter", required=True)
    ap.add_argument("--harness", required=True)
    ap.add_argument("--cflags", default="")
    ap.add_argument("--libs", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--train-batch", type=int)
    ap.add_argument("--no-freeze", action="store_true")
    ap.add_argument("--expect-params", default="")
    ap.add_argument("--summary", action="store_true",
                    help="the harness's trainable scalars and tensors must match `sinter summary`'s Trainable params")
    ap.add_argument("model")
    a = ap.parse_args(argv)
    extra = ["--no-freeze"] if a.no_freeze else []
    exe, gen, prefix = trainlib.compile_model(a.sinter, a.model, a.work, a.set, a.train_batch, extra)
    h = trainlib.build_harness(gen, prefix, a.harness, a.cflags, a.libs, os.path.join(a.work, "fd_harness"))
    r = subprocess.run([h] + rest, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sys.stdout.write(r.stdout)
    rows = trainlib.parse_harness(r.stdout)
    ok = r.returncode == 0
    for p in filter(None, a.expect_params.split(",")):
        if p not in rows:
            print("FAIL: expected trainable parameter %s was not checked" % p)
            ok = False
    if not rows:
        print("FAIL: the harness checked no parameter")
        ok = False
    if a.summary:
        cmd = [a.sinter, "summary", a.model] + sum((["--set", v] for v in a.set), []) + extra
        want = int(re.search(r"Trainable params: ([\d,]+)", trainlib.run(cmd)).group(1).replace(",", ""))
        m = re.search(r"(\d+) trainable scalars", r.stdout)
        have = int(m.group(1)) if m else -1
        numel = sum(v[0] for v in rows.values())
        print("trainable scalars: step tables %d, gradient tensors %d, sinter summary %d" % (have, numel, want))
        if not have == numel == want:
            print("FAIL: trainable counts differ")
            ok = False
    print("check_fd: %s" % ("ok" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
