#!/usr/bin/python3
"""Data-parallel training under mpirun (issue "Scale-out"): N ranks against one process.

usage: dist.py --sinter SINTER --shared DIR --work DIR TEST

The model (models/dist_plain.nn) has no BatchNorm and no dropout, so its gradient is a plain
mean over the batch and N ranks must give one process's weights up to float32 reduction order.
The data: 4 X-rays of each class of ../shared/data/cxr-256, linked into the work folder.
Checkpoints are read with python-onnx.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from checklib import check, finish, run  # noqa: E402

A = None
CLASSES = ("COVID", "Normal", "Viral Pneumonia")


def work(*p):
    return os.path.join(A.work, *p)


def fresh(*p):
    """A work path that does not exist (checklib.fresh_dir would create it: some checks need it absent)."""
    d = work(*p)
    shutil.rmtree(d, ignore_errors=True)
    return d


def mpirun(n):
    return ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(n)]


def data(name="data", per_class=4):
    """per_class X-rays of each class, linked (the images stay in ../shared)."""
    d = fresh(name)
    for c in CLASSES:
        src = os.path.join(A.shared, "data", "cxr-256", c)
        os.makedirs(os.path.join(d, c))
        for f in sorted(os.listdir(src))[:per_class]:
            os.symlink(os.path.join(src, f), os.path.join(d, c, f))
    return d


COMPILED = set()


def exe(model="dist_plain"):
    """Compiled afresh once per run (an executable left by an earlier build would hide a change)."""
    path = work(model)
    if model not in COMPILED:
        os.makedirs(A.work, exist_ok=True)
        run([A.sinter, "compile", os.path.join(HERE, "models", model + ".nn"), "--train-batch", "8", "-o", path])
        COMPILED.add(model)
    return path


def train(n, out, extra=(), env=None, ok_codes=(0,), model="dist_plain"):
    cmd = [exe(model), "train", "--data", work("data"), "--out", out, "--threads", "1"] + list(extra)
    return run((mpirun(n) if n else []) + cmd, env=env, ok_codes=ok_codes)


def tensors(path):
    return {i.name: numpy_helper.to_array(i).astype(np.float64) for i in onnx.load(path).graph.initializer
            if numpy_helper.to_array(i).dtype.kind == "f"}


def worst(pa, pb):
    """The largest relative difference in norm over the tensors of two checkpoints, and its name."""
    a, b = tensors(pa), tensors(pb)
    assert set(a) == set(b), sorted(set(a) ^ set(b))
    rel = {k: np.linalg.norm(a[k] - b[k]) / max(np.linalg.norm(a[k]), 1e-30) for k in a}
    k = max(rel, key=rel.get)
    return rel[k], k, len(a)


def history(out):
    with open(os.path.join(out, "history.csv")) as f:
        rows = f.read().splitlines()[1:]
    return np.array([[float(v) for v in r.split(",")[:5]] for r in rows])


def equivalence(model, flags, drift_rtol):
    data()
    # One step: the whole training part (6 images) as one batch of 6, split 3 + 3 or 1 + 2 + 1 + 2.
    one = {n: fresh("step-n%d" % n) for n in (0, 2, 4)}
    for n, out in one.items():
        train(n, out, ["--epochs", "1", "--batch", "6"] + (flags if n else []), model=model)
    for n in (2, 4):
        w, k, count = worst(os.path.join(one[0], "last.onnx"), os.path.join(one[n], "last.onnx"))
        check(w <= 1e-5, "one step, N = %d against one process: every one of %d tensors (weights, Adam moments) within "
              "1e-5 relative (largest %.2e, %s)" % (n, count, w, k))
        h0, hn = history(one[0]), history(one[n])
        check(np.allclose(h0, hn, rtol=1e-5, atol=0), "one step, N = %d: loss, accuracy, val_loss, val_accuracy as one "
              "process's (%s vs %s)" % (n, hn.tolist(), h0.tolist()))
    # Not vacuous: half the batch (what a rank alone would have learnt from) moves the weights elsewhere.
    half = fresh("step-half")
    train(0, half, ["--epochs", "1", "--batch", "3"], model=model)
    w, k, _ = worst(os.path.join(one[0], "last.onnx"), os.path.join(half, "last.onnx"))
    check(w > 1e-3, "and a batch of 3 instead of 6 differs by %.2e (%s): the comparison can fail" % (w, k))
    # Three epochs of two steps (4 + 2 images: at N = 4 the last batch leaves two ranks empty).
    runs = {n: fresh("epochs-n%d" % n) for n in (0, 2, 4)}
    for n, out in runs.items():
        train(n, out, ["--epochs", "3", "--batch", "4"] + (flags if n else []), model=model)
    for n in (2, 4):
        w, k, _ = worst(os.path.join(runs[0], "last.onnx"), os.path.join(runs[n], "last.onnx"))
        print("drift after 3 epochs (6 steps), N = %d: largest relative difference %.2e (%s)" % (n, w, k))
        check(w <= 1e-4, "3 epochs, N = %d: weights within 1e-4 relative of one process's (%.2e)" % (n, w))
        h0, hn = history(runs[0]), history(runs[n])
        check(np.allclose(h0, hn, rtol=drift_rtol, atol=0), "3 epochs, N = %d: every epoch's loss and metrics as one "
              "process's within %g (largest %.1e)" % (n, drift_rtol, np.max(np.abs(h0 - hn) / np.abs(h0).clip(1e-30))))
    return one[0]


def t_equivalence():
    equivalence("dist_plain", [], 1e-5)


def t_sync_bn():
    """BatchNorm and dropout: with --sync-bn the job's statistics, dropout keyed by the sample."""
    one = equivalence("dist_bn", ["--sync-bn"], 1e-4)
    # Without --sync-bn each rank normalises by its own samples (Keras's MirroredStrategy):
    # another model, which the comparison above would have caught.
    own = fresh("own-bn")
    train(2, own, ["--epochs", "1", "--batch", "6"], model="dist_bn")
    w, k, _ = worst(os.path.join(one, "last.onnx"), os.path.join(own, "last.onnx"))
    check(w > 1e-3, "without --sync-bn, N = 2 takes each rank's statistics: %.2e off one process (%s)" % (w, k))


def same_bits(pa, pb):
    """Names of the initializers whose bits differ between two checkpoints."""
    a = {i.name: numpy_helper.to_array(i) for i in onnx.load(pa).graph.initializer}
    b = {i.name: numpy_helper.to_array(i) for i in onnx.load(pb).graph.initializer}
    return sorted(set(a) ^ set(b)) + [k for k in sorted(set(a) & set(b)) if a[k].tobytes() != b[k].tobytes()], len(a)


def t_deterministic():
    """--deterministic: N = 1 (1 and 2 threads), 2 and 4 ranks give the same bits."""
    data()
    for model in ("dist_plain", "dist_bn"):
        for parts, ranks in ((2, (2,)), (4, (2, 4))):
            flags = ["--epochs", "3", "--batch", "4", "--deterministic", "--parts", str(parts)]
            ref = fresh("det-%s-p%d-n1" % (model, parts))
            train(0, ref, flags, model=model)
            runs = [(fresh("det-%s-p%d-n1t2" % (model, parts)), 0, ["--threads", "2"])]
            runs += [(fresh("det-%s-p%d-n%d" % (model, parts, n)), n, []) for n in ranks]
            for out, n, extra in runs:
                f = [x for x in flags]
                cmd = [exe(model), "train", "--data", work("data"), "--out", out] + f + (extra or ["--threads", "1"])
                run((mpirun(n) if n else []) + cmd)
                diff, count = same_bits(os.path.join(ref, "last.onnx"), os.path.join(out, "last.onnx"))
                who = "N = %d" % n if n else "one process with 2 threads"
                h = open(os.path.join(ref, "history.csv"), "rb").read() == open(os.path.join(out, "history.csv"), "rb").read()
                check(not diff and h, "%s, --deterministic --parts %d, %s: all %d tensors and history.csv bit-identical "
                      "to one process with 1 thread (differ: %s)" % (model, parts, who, count, diff[:4]))
    # Not vacuous: without --deterministic the sums run in another order and some bits differ.
    a, b = fresh("nondet-n1"), fresh("nondet-n2")
    train(0, a, ["--epochs", "3", "--batch", "4"])
    train(2, b, ["--epochs", "3", "--batch", "4"])
    diff, count = same_bits(os.path.join(a, "last.onnx"), os.path.join(b, "last.onnx"))
    check(len(diff) > 0, "without --deterministic, N = 2 differs from one process in the last bits (%d of %d tensors)"
          % (len(diff), count))
    p = train(2, fresh("det-bad"), ["--epochs", "1", "--deterministic", "--parts", "3"], ok_codes=None)
    check(p.returncode == 1 and p.stderr.count("dist_plain train: --deterministic: --parts 3 is not a multiple of the 2 "
                                               "ranks") == 1, "--parts 3 on 2 ranks: refused once, by rank 0")


def t_resume():
    data()
    full, part = fresh("resume-full"), fresh("resume-part")
    train(0, full, ["--epochs", "3", "--batch", "4"])
    train(2, part, ["--epochs", "2", "--batch", "4"])
    p = train(4, part, ["--epochs", "3", "--batch", "4", "--resume"])
    check("resuming from %s/last.onnx after epoch 2" % part in p.stdout, "N = 4 resumes N = 2's checkpoint")
    check(p.stdout.count("Epoch 3/3") == 1 and "Epoch 2/3" not in p.stdout,
          "only rank 0 prints, and only epoch 3 runs")
    w, k, _ = worst(os.path.join(full, "last.onnx"), os.path.join(part, "last.onnx"))
    check(w <= 1e-4, "2 epochs at N = 2 + 1 at N = 4: weights within 1e-4 of 3 epochs in one process (%.2e, %s)" % (w, k))
    check(np.allclose(history(full), history(part), rtol=1e-5, atol=0), "and the same history")


def t_single():
    data()
    plain, one = fresh("single-plain"), fresh("single-np1")
    train(0, plain, ["--epochs", "2", "--batch", "4"])
    train(1, one, ["--epochs", "2", "--batch", "4"])
    for f in ("history.csv", "last.onnx", "best.onnx"):
        a, b = open(os.path.join(plain, f), "rb").read(), open(os.path.join(one, f), "rb").read()
        check(a == b, "mpirun -np 1: %s byte-identical to a plain run" % f)


def t_writers():
    data()
    a, b = fresh("writer-rank0"), fresh("writer-rank1")
    cmd = [exe(), "train", "--data", work("data"), "--threads", "1", "--epochs", "1", "--batch", "6", "--out"]
    run(["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "1"] + cmd + [a, ":", "-np", "1"] + cmd + [b])
    check(sorted(os.listdir(a)) == ["best.onnx", "curves.png", "history.csv", "last.onnx"],
          "rank 0 writes the checkpoints, history and curves: %s" % sorted(os.listdir(a)))
    check(not os.path.exists(b), "rank 1 (told --out %s) writes nothing, not even the folder" % b)


def t_data_mismatch():
    data()
    other = data("data-other")
    victim = os.path.join(other, "Normal", sorted(os.listdir(os.path.join(other, "Normal")))[0])
    src = os.path.join(A.shared, "data", "cxr-256", "Normal")
    os.remove(victim)  # the same name, another image (another size)
    os.symlink(os.path.join(src, sorted(os.listdir(src))[-1]), victim)
    out = fresh("mismatch")
    cmd = [exe(), "train", "--threads", "1", "--epochs", "1", "--out", out, "--data"]
    p = run(["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "1"] + cmd + [work("data"), ":", "-np", "1"]
            + cmd + [other], ok_codes=None)
    check(p.returncode != 0, "ranks with different data folders: the job fails (exit %d)" % p.returncode)
    check("rank 1: the data folder %s differs from rank 0's (12 files; checksum of the sorted file list and sizes"
          % other in p.stderr, "rank 1 says its folder differs from rank 0's")
    check("1 of 2 ranks see other files in %s than rank 0: every rank needs the same data" % work("data") in p.stderr,
          "rank 0 says how many ranks differ")
    check(not os.path.exists(os.path.join(out, "last.onnx")), "and nothing was trained or written")


def t_no_plugin():
    data()
    out = fresh("no-plugin")
    env = dict(os.environ, SINTER_MPI_PLUGIN=work("no-such-plugin.so"))
    p = train(2, out, ["--epochs", "1"], env=env, ok_codes=None)
    check(p.returncode != 0, "the MPI plugin missing: the job fails (exit %d)" % p.returncode)
    check(p.stderr.count("dist_plain train: started by mpirun with 2 ranks, but the MPI plugin libsinter_mpi.so does "
                         "not load (%s" % work("no-such-plugin.so")) == 2, "both ranks say the plugin does not load:\n"
          + p.stderr[:600])
    check(not os.path.exists(out), "and no rank trained alone")


def t_overlap():
    """--overlap: the gradients go in buckets while the backward pass runs, with the same bits as after it."""
    import re
    data()
    env = dict(os.environ, SINTER_DIST_BUCKET_BYTES="256")  # many buckets of these small models
    pat = re.compile(r"allreduce: [0-9.]+ms/step of [0-9.]+ MB \((\d+) of (\d+) buckets sent during the backward pass\)")
    for model, flags in (("dist_plain", []), ("dist_bn", ["--sync-bn"])):
        for n in (2, 4):
            outs = {}
            for mode in ("on", "off"):
                outs[mode] = fresh("overlap-%s-n%d-%s" % (model, n, mode))
                p = train(n, outs[mode], ["--epochs", "3", "--batch", "4", "--overlap", mode] + flags, env=env, model=model)
                seen = [(int(a), int(b)) for a, b in pat.findall(p.stdout)]
                if mode == "on":
                    check(len(seen) == 3 and all(0 < a < b and b >= 4 for a, b in seen),
                          "%s%s, N = %d, --overlap on: every epoch sends buckets during the backward pass (none on a "
                          "step where rank 0 has no sample), several a step (early, all: %s)" % (model, " --sync-bn" if flags else "", n, seen))
                else:
                    check(not seen and "buckets sent" not in p.stdout, "--overlap off: no bucket sent early")
            diff, count = same_bits(os.path.join(outs["on"], "last.onnx"), os.path.join(outs["off"], "last.onnx"))
            h = [open(os.path.join(outs[m], "history.csv"), "rb").read() for m in ("on", "off")]
            check(not diff and h[0] == h[1], "%s, N = %d: --overlap on and off give bit-identical checkpoints (%d tensors; "
                  "differ: %s) and history" % (model, n, count, diff[:4]))
    p = train(2, fresh("overlap-bad"), ["--epochs", "1", "--overlap", "maybe"], ok_codes=None)
    check(p.returncode == 1 and p.stderr.count("dist_plain train: --overlap maybe: expected on, off or auto\n") == 2,
          "--overlap maybe: refused by every rank (exit %d):\n%s" % (p.returncode, p.stderr[:400]))


def rank_pid(out, rank):
    """The PID of the rank of the job training into out (from its environment), or None."""
    for pid in os.listdir("/proc"):
        try:
            cmd = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
            env = open("/proc/%s/environ" % pid, "rb").read().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0] == exe().encode() and out.encode() in cmd and \
                ("OMPI_COMM_WORLD_RANK=%d" % rank).encode() in env:
            return int(pid)
    return None


def epochs_done(out):
    try:
        with open(os.path.join(out, "history.csv")) as f:
            return len(f.read().splitlines()) - 1
    except OSError:
        return 0


def fault(sig, name):
    """Rank 1 gets sig mid-training: the job ends, rank 0 says why, --resume goes on."""
    data("data", per_class=30)
    out = fresh("fault-" + name)
    cmd = mpirun(2) + [exe(), "train", "--data", work("data"), "--out", out, "--threads", "1", "--epochs", "100000",
                       "--batch", "2", "--comm-timeout", "3"]
    job = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while epochs_done(out) < 2 and time.time() < deadline and job.poll() is None:
        time.sleep(0.1)
    pid = rank_pid(out, 1)
    if not check(pid is not None and job.poll() is None, "a 2-rank job is training (rank 1 is PID %s)" % pid):
        job.kill()
        return
    os.kill(pid, sig)
    t0 = time.time()
    try:
        _, err = job.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        job.kill()
        _, err = job.communicate()
        check(False, "the job ended within 60 s of rank 1's %s" % name)
        return
    took = time.time() - t0
    print(err)
    check(job.returncode != 0, "rank 1 %s: the job fails (exit %d)" % (name, job.returncode))
    bound = 3 + 10 if sig == signal.SIGSTOP else 10
    check(took < bound, "and ends %.1f s after the %s (bound %d s: --comm-timeout 3 and mpirun's cleanup)"
          % (took, name, bound))
    done = epochs_done(out)
    want = ("dist_plain train: rank 0: no answer from the other ranks for 3 s in MPI_Allreduce (epoch "
            if sig == signal.SIGSTOP else "dist_plain train: rank 0: the job was ended by mpirun (another rank has died?) "
            "in epoch ")
    check(want in err and "--resume continues from %s/last.onnx (after epoch " % out in err,
          "rank 0 says what happened and where to resume")
    time.sleep(0.5)
    check(rank_pid(out, 0) is None and rank_pid(out, 1) is None, "no rank is left behind (the stopped one included)")
    p = train(2, out, ["--epochs", str(done + 1), "--batch", "2", "--resume"])
    check("resuming from %s/last.onnx after epoch %d" % (out, done) in p.stdout and epochs_done(out) == done + 1,
          "--resume continues after epoch %d and finishes epoch %d" % (done, done + 1))


def t_fault_kill():
    fault(signal.SIGKILL, "SIGKILL")


def t_fault_stop():
    fault(signal.SIGSTOP, "SIGSTOP")


TESTS = {"equivalence": t_equivalence, "sync_bn": t_sync_bn, "deterministic": t_deterministic, "resume": t_resume, "single": t_single, "writers": t_writers,
         "data_mismatch": t_data_mismatch, "no_plugin": t_no_plugin, "fault_kill": t_fault_kill,
         "fault_stop": t_fault_stop, "overlap": t_overlap}


def main():
    global A
    ap = argparse.ArgumentParser()
    for opt in ("--sinter", "--shared", "--work"):
        ap.add_argument(opt, required=True)
    ap.add_argument("test", choices=sorted(TESTS))
    A = ap.parse_args()
    A.work = os.path.join(A.work, A.test)  # each test its own folder: ctest may run them at once
    TESTS[A.test]()
    finish()


if __name__ == "__main__":
    main()
