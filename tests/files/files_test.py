#!/usr/bin/python3
"""Model files as untrusted input (issue 9, classes 6 and 7): external data confined to the
model's real folder, exact lengths, FIFOs refused at once, temporary files removed on
signals and after SIGKILLed runs, weights held once. Fixtures are made here with onnx.helper.

usage: files_test.py --sinter SINTER --work DIR TEST"""
import argparse
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import time

import numpy as np
from onnx import TensorProto, helper, numpy_helper

A = None
failures = 0
TMP_PREFIX = ".sinter-tmp-"


def check(cond, what):
    global failures
    print(("PASS " if cond else "FAIL ") + what)
    if not cond:
        failures += 1


def fresh(name):
    d = os.path.join(A.work, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def ext_model(path, n, kv, weights_name="W"):
    """Y = X + W with W (float32[n]) as external data described by the (key, value) pairs kv."""
    t = TensorProto()
    t.name, t.data_type = weights_name, TensorProto.FLOAT
    t.dims.extend([n])
    t.data_location = TensorProto.EXTERNAL
    for k, v in kv:
        e = t.external_data.add()
        e.key, e.value = k, v
    g = helper.make_graph([helper.make_node("Add", ["X", weights_name], ["Y"], name="add")], "ext",
                          [helper.make_tensor_value_info("X", TensorProto.FLOAT, [n])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [n])], [t])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    with open(path, "wb") as f:
        f.write(m.SerializeToString())


def matmul_model(d, k, n):
    """Y[1, n] = X[1, k] @ W[k, n], W external in d/w.bin: k*n*4 bytes of weights, a tiny arena."""
    w = np.memmap(os.path.join(d, "w.bin"), dtype=np.float32, mode="w+", shape=(k, n))
    w[:] = 0.25
    w.flush()
    del w
    t = TensorProto()
    t.name, t.data_type = "W", TensorProto.FLOAT
    t.dims.extend([k, n])
    t.data_location = TensorProto.EXTERNAL
    for key, v in [("location", "w.bin"), ("offset", "0"), ("length", str(k * n * 4))]:
        e = t.external_data.add()
        e.key, e.value = key, v
    g = helper.make_graph([helper.make_node("MatMul", ["X", "W"], ["Y"], name="mm")], "big",
                          [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, k])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, n])], [t])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    path = os.path.join(d, "m.onnx")
    with open(path, "wb") as f:
        f.write(m.SerializeToString())
    return path


def write_input(path, n):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(np.arange(n, dtype=np.float32), "X").SerializeToString())


def run(args, timeout=60, env=None, preexec=None):
    return subprocess.run([A.sinter] + args, capture_output=True, text=True, timeout=timeout, env=env,
                          preexec_fn=preexec)


def first_line(s):
    return s.splitlines()[0] if s.strip() else ""


def temps(d):
    return sorted(f for f in os.listdir(d) if f.startswith(TMP_PREFIX))


# ---- class 6: confinement -------------------------------------------------------------------

def t_confine():
    d = fresh("confine")
    m = os.path.join(d, "model")
    os.makedirs(m)
    real = os.path.realpath(m)
    secret = os.path.join(d, "secret.bin")  # outside the model's folder
    with open(secret, "wb") as f:
        f.write(b"TOPSECRET-" * 2)  # 20 bytes, 5 floats' worth
    x = os.path.join(m, "x.pb")
    write_input(x, 4)
    # 1. A symbolic link inside the folder that points outside: refused, nothing of it printed.
    os.symlink(secret, os.path.join(m, "link.bin"))
    ext_model(os.path.join(m, "escape.onnx"), 4, [("location", "link.bin")])
    for cmd in (["run", os.path.join(m, "escape.onnx"), x, "-o", os.path.join(d, "out")],
                ["compile", os.path.join(m, "escape.onnx"), "-o", os.path.join(d, "exe")]):
        r = run(cmd)
        line = first_line(r.stderr)
        want_end = ("tensor 'W': external data location 'link.bin' leads outside the model's folder %s "
                    "(through a symbolic link); it must stay inside it" % real)
        check(r.returncode == 1 and line.startswith("sinter: error: " + os.path.join(m, "escape.onnx") + ": ")
              and line.endswith(want_end), "%s: symlink to a file outside the folder refused, exit 1 (%d: %s)"
              % (cmd[0], r.returncode, line))
        check("TOPSECRET" not in r.stdout + r.stderr and not os.path.exists(os.path.join(d, "exe")),
              "%s: nothing of the outside file printed or built" % cmd[0])
    # A link to a folder outside, with the file under it: the same.
    os.symlink(d, os.path.join(m, "up"))
    ext_model(os.path.join(m, "escape2.onnx"), 4, [("location", "up/secret.bin"), ("length", "16")])
    r = run(["run", os.path.join(m, "escape2.onnx"), x, "-o", os.path.join(d, "out")])
    check(r.returncode == 1 and "'up/secret.bin' leads outside the model's folder" in first_line(r.stderr)
          and "TOPSECRET" not in r.stderr, "a folder link leading outside refused (%s)" % first_line(r.stderr))
    # The model reached through a link elsewhere is confined to its own real folder.
    other = os.path.join(d, "other")
    os.makedirs(other)
    os.symlink(os.path.join(m, "escape.onnx"), os.path.join(other, "via-link.onnx"))
    with open(os.path.join(other, "link.bin"), "wb") as f:
        f.write(np.ones(4, np.float32).tobytes())
    r = run(["run", os.path.join(other, "via-link.onnx"), x, "-o", os.path.join(d, "out")])
    check(r.returncode == 1 and "leads outside the model's folder %s " % real in first_line(r.stderr),
          "a model reached through a link looks in its real folder (%s)" % first_line(r.stderr))
    # 2. '..' and absolute locations.
    for loc, part in (("../secret.bin", "has a '..' component"), ("sub/../../secret.bin", "has a '..' component"),
                      (secret, "is absolute")):
        ext_model(os.path.join(m, "bad.onnx"), 4, [("location", loc)])
        r = run(["run", os.path.join(m, "bad.onnx"), x, "-o", os.path.join(d, "out")])
        check(r.returncode == 1 and ("external data location '%s' %s" % (loc, part)) in first_line(r.stderr)
              and "TOPSECRET" not in r.stderr, "location %s refused (%s)" % (loc, first_line(r.stderr)))
    # 3. A link to a file inside the folder is fine: its real path is inside.
    os.makedirs(os.path.join(m, "data"))
    np.array([10, 20, 30, 40], np.float32).tofile(os.path.join(m, "data", "w.bin"))
    os.symlink("data/w.bin", os.path.join(m, "inside.bin"))
    ext_model(os.path.join(m, "inside.onnx"), 4, [("location", "inside.bin"), ("offset", "0"), ("length", "16")])
    out = os.path.join(d, "out-inside")
    r = run(["run", os.path.join(m, "inside.onnx"), x, "-o", out])
    got = None
    if r.returncode == 0:
        t = TensorProto()
        with open(os.path.join(out, "output_0.pb"), "rb") as f:
            t.ParseFromString(f.read())
        got = numpy_helper.to_array(t)
    check(got is not None and got.tolist() == [10, 21, 32, 43],
          "a link to a file inside the folder is read: Y = X + W = %s (%s)" % (got, first_line(r.stderr)))
    # 4. A folder or a FIFO as external data: refused, never waited on.
    os.makedirs(os.path.join(m, "adir"))
    os.mkfifo(os.path.join(m, "afifo"))
    for loc in ("adir", "afifo"):
        ext_model(os.path.join(m, "nonreg.onnx"), 4, [("location", loc)])
        try:
            r = run(["run", os.path.join(m, "nonreg.onnx"), x, "-o", os.path.join(d, "out")], timeout=20)
            ok = r.returncode == 1 and ("external data file %s is not a regular file" % os.path.join(real, loc)) \
                in first_line(r.stderr)
            line = first_line(r.stderr)
        except subprocess.TimeoutExpired:
            ok, line = False, "hung"
        check(ok, "external data '%s' (not a regular file) refused (%s)" % (loc, line))


def t_lengths():
    d = fresh("lengths")
    real = os.path.realpath(d)
    x = os.path.join(d, "x.pb")
    write_input(x, 4)
    blob = os.path.join(d, "blob.bin")
    np.arange(8, dtype=np.float32).tofile(blob)  # 32 bytes
    cases = [
        ([("location", "blob.bin"), ("offset", "0"), ("length", "12")],
         "external data length is 12 bytes, expected 16 from its dims and type"),
        ([("location", "blob.bin"), ("offset", "24"), ("length", "16")],
         "external data file %s has 32 bytes, too short for 16 bytes at offset 24" % os.path.join(real, "blob.bin")),
        ([("location", "blob.bin"), ("offset", "99999999999999999999")], "offset '99999999999999999999' is not a byte count"),
        ([("location", "blob.bin"), ("offset", "8")],  # no length: the rest, 24 bytes, is not 16
         "external data without a length takes the rest of %s, 24 bytes from offset 8, but the tensor has 16 bytes"
         % os.path.join(real, "blob.bin")),
        ([("location", "blob.bin"), ("length", "-16")], "length '-16' is not a byte count"),
    ]
    for kv, part in cases:
        ext_model(os.path.join(d, "m.onnx"), 4, kv)
        r = run(["run", os.path.join(d, "m.onnx"), x, "-o", os.path.join(d, "out")])
        check(r.returncode == 1 and part in first_line(r.stderr), "%s refused: %s" % (kv[1:], first_line(r.stderr)))
    # Exactly right, with and without a length: accepted.
    for kv in ([("location", "blob.bin"), ("offset", "16"), ("length", "16")], [("location", "blob.bin"), ("offset", "16")]):
        ext_model(os.path.join(d, "m.onnx"), 4, kv)
        r = run(["run", os.path.join(d, "m.onnx"), x, "-o", os.path.join(d, "out")])
        check(r.returncode == 0, "%s accepted (%s)" % (kv[1:], first_line(r.stderr)))


# ---- FIFOs given as models or inputs --------------------------------------------------------

def t_fifo():
    d = fresh("fifo")
    good = os.path.join(d, "good.onnx")
    ext_model(good, 4, [("location", "w.bin")])
    np.ones(4, np.float32).tofile(os.path.join(d, "w.bin"))
    x = os.path.join(d, "x.pb")
    write_input(x, 4)
    for name in ("x.onnx", "in.pb", "m.nn", "w.onnx"):
        os.mkfifo(os.path.join(d, name))
    cmds = [(["run", os.path.join(d, "x.onnx"), x, "-o", os.path.join(d, "out")], "x.onnx"),
            (["compile", os.path.join(d, "x.onnx"), "-o", os.path.join(d, "exe")], "x.onnx"),
            (["run", good, os.path.join(d, "in.pb"), "-o", os.path.join(d, "out")], "in.pb"),
            (["compile", os.path.join(d, "m.nn"), "-o", os.path.join(d, "exe")], "m.nn"),
            (["check", os.path.join(d, "m.nn")], "m.nn")]
    for cmd, name in cmds:
        t0 = time.time()
        try:
            r = run(cmd, timeout=20)
            line, rc = first_line(r.stderr), r.returncode
        except subprocess.TimeoutExpired:
            line, rc = "hung for 20 s", None
        check(rc == 1 and "not a regular file (it is a FIFO)" in line and name in line and time.time() - t0 < 10,
              "%s with a FIFO %s: refused at once (exit %s: %s)" % (cmd[0], name, rc, line))


# ---- temporary files ------------------------------------------------------------------------

def t_signals():
    """`sinter compile` killed mid-build (in the C compiler) by SIGINT, SIGTERM or SIGHUP leaves
    nothing in its TMPDIR, and dies of that signal."""
    d = fresh("signals")
    model = matmul_model(d, 1024, 8192)  # 32 MiB of weights: assembling them takes a while
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        tmp = fresh("signals-tmp")
        env = dict(os.environ, TMPDIR=tmp)
        p = subprocess.Popen([A.sinter, "compile", model, "-o", os.path.join(d, "exe")], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # Wait until the build folder holds main.c: generation is done and the C compiler starts.
        t_end, seen = time.time() + 60, False
        while time.time() < t_end and p.poll() is None and not seen:
            seen = any(os.path.exists(os.path.join(tmp, f, "main.c")) for f in temps(tmp))
            time.sleep(0.01)
        time.sleep(0.2)
        p.send_signal(sig)
        p.communicate(timeout=60)
        left = os.listdir(tmp)
        check(seen and p.returncode == -sig and left == [],
              "compile killed by %s during the build: died of it (%s), %s left in TMPDIR"
              % (signal.Signals(sig).name, p.returncode, left or "nothing"))
        # The executable is linked beside -o and renamed: nothing half-written there either.
        check(temps(d) == [] and not os.path.exists(os.path.join(d, "exe")),
              "no partial executable or temporary beside -o (%s)" % temps(d))


def t_leftover():
    """A SIGKILLed run's folder, named with its dead pid, is removed by the next run; one of a
    live process stays."""
    d = fresh("leftover")
    tmp = fresh("leftover-tmp")
    q = subprocess.Popen(["true"])
    q.wait()
    dead = os.path.join(tmp, "%s%d-00c0ffee00c0ffee" % (TMP_PREFIX, q.pid))
    os.makedirs(dead)
    with open(os.path.join(dead, "model_weights.bin"), "wb") as f:
        f.write(b"\0" * 1000)
    live = os.path.join(tmp, "%s%d-00c0ffee00c0ffee" % (TMP_PREFIX, os.getpid()))
    os.makedirs(live)
    ext_model(os.path.join(d, "m.onnx"), 4, [("location", "w.bin")])
    np.ones(4, np.float32).tofile(os.path.join(d, "w.bin"))
    r = run(["compile", os.path.join(d, "m.onnx"), "-o", os.path.join(d, "exe")], env=dict(os.environ, TMPDIR=tmp))
    check(r.returncode == 0 and not os.path.exists(dead) and os.path.isdir(live) and temps(tmp) == [os.path.basename(live)],
          "the dead run's leftover is removed, the live one's kept (exit %d, left %s)" % (r.returncode, temps(tmp)))


def t_fsize():
    """Under a file-size limit the weights blob cannot be written: a message, exit 1 or 2, no
    signal, nothing left behind."""
    d = fresh("fsize")
    tmp = fresh("fsize-tmp")
    model = matmul_model(d, 512, 4096)  # 8 MiB of weights

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4 << 20, resource.RLIM_INFINITY))

    r = run(["compile", model, "-o", os.path.join(d, "exe")], env=dict(os.environ, TMPDIR=tmp), preexec=limit)
    check(r.returncode in (1, 2) and "File too large" in r.stderr and os.listdir(tmp) == [],
          "compile under ulimit -f 4 MiB: exit %d, %s, left %s" % (r.returncode, first_line(r.stderr), os.listdir(tmp)))


def t_rss():
    """Weights held once: the peak RSS of compiling a model with 256 MiB of external weights
    (and a 64 KiB arena) stays under weights + 80 MiB. The peak is the largest process of the
    run: sinter holds the weights once plus ~5 MiB; `as` reads the .incbin whole (weights +
    4 MiB) and `ld` maps the weights object plus the runtime library (measured up to weights +
    41 MiB here). Before, the decoded tensors plus the blob built in memory made sinter's
    own peak 2 x weights (529 MB)."""
    d = fresh("rss")
    k, n = 8192, 8192
    model = matmul_model(d, k, n)
    weights = k * n * 4
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    r = run(["compile", model, "-o", os.path.join(d, "exe")], timeout=600, env=dict(os.environ, TMPDIR=fresh("rss-tmp")))
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    check(before * 1024 < weights, "no earlier child of this test was bigger (%d KiB)" % before)
    # ASan maps one shadow byte per 8 bytes of heap, and its own runtime.
    limit = weights + (80 << 20) + (weights // 8 + (64 << 20) if A.sanitized else 0)
    check(r.returncode == 0 and peak < limit,
          "compile peak RSS %.1f MiB for %.0f MiB of weights (limit %.0f MiB; exit %d %s)"
          % (peak / 2**20, weights / 2**20, limit / 2**20, r.returncode, first_line(r.stderr)))
    shutil.rmtree(d, ignore_errors=True)


TESTS = {"confine": t_confine, "lengths": t_lengths, "fifo": t_fifo, "signals": t_signals, "leftover": t_leftover,
         "fsize": t_fsize, "rss": t_rss}


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument("--sinter", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--sanitized", action="store_true", help="an ASan build: its shadow memory counts too")
    ap.add_argument("test", choices=sorted(TESTS))
    A = ap.parse_args()
    os.makedirs(A.work, exist_ok=True)
    TESTS[A.test]()
    print("%s: %d failed" % (A.test, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
