#!/usr/bin/python3
"""End-to-end checks of a trainable executable (issue "Training", points 5-9).

usage: e2e.py --sinter SINTER --models DIR --shared DIR --ort-modules DIR --work DIR TEST

Each TEST compiles what it needs into --work (or uses the executables the `compile`
fixture left there) and asserts properties against independent references: PIL decodes
the pictures, python-onnx (1.12) loads and checks the ONNX files, ONNX Runtime
(../shared/reference/ort_run.js) runs the exported model, and ../shared/reference's
PyTorch model says which ResNet50V2 weights Keras freezes.
"""
import argparse
import glob
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import onnx
from onnx import numpy_helper

A = None  # the command line
FAILS = []


def check(ok, what):
    print(("PASS " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILS.append(what)
    return ok


def run(cmd, ok_codes=(0,), **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode not in ok_codes:
        sys.exit("command failed (exit %d): %s\nstdout:\n%s\nstderr:\n%s"
                 % (p.returncode, " ".join(cmd), p.stdout[-4000:], p.stderr[-4000:]))
    return p


def data256():
    return os.path.join(A.shared, "data", "cxr-256")


def work(*p):
    return os.path.join(A.work, *p)


def fresh_dir(*p):
    d = work(*p)
    shutil.rmtree(d, ignore_errors=True)
    return d


def compile_model(name, out, size, train_batch):
    """Compiles afresh each time (a cached executable would hide a changed compiler)."""
    run([A.sinter, "compile", os.path.join(A.models, name + ".nn"), "--set", "size=%d" % size,
         "--train-batch", str(train_batch), "-o", out])
    return out


# The small executable most checks share (the `compile` fixture makes it): SimpleCNN at 32x32,
# training batches of up to 16.
def cnn32():
    return work("cnn32")


def initializers(path):
    m = onnx.load(path)
    return {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}


def meta(path):
    return {p.key: p.value for p in onnx.load(path).metadata_props}


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def compare_initializers(pa, pb):
    """Names whose initializers differ in any bit (or exist in only one file)."""
    a, b = initializers(pa), initializers(pb)
    diff = sorted(set(a) ^ set(b))
    diff += [k for k in sorted(set(a) & set(b)) if not same_bits(a[k], b[k])]
    return a, diff


def valid_onnx(path):
    """(True, '') when path holds a complete ONNX model the checker accepts."""
    try:
        m = onnx.load(path)
        onnx.checker.check_model(m)
        if not m.graph.initializer or not m.graph.output:
            return False, "no initializers or outputs"
        return True, ""
    except Exception as ex:  # noqa: BLE001 - any failure to load is the finding
        return False, "%s: %s" % (type(ex).__name__, str(ex)[:200])


def history_rows(path):
    with open(path) as f:
        lines = f.read().splitlines()
    return lines[0], lines[1:]


TRAIN_FLAGS = ["--batch", "16", "--threads", "1", "--seed", "7", "--split", "0.6,0.1,0.3"]


def train(exe, out, epochs, extra=(), ok_codes=(0,)):
    # An option in `extra` replaces the default one: an option given twice is an error.
    flags = [f for i in range(0, len(TRAIN_FLAGS), 2) if TRAIN_FLAGS[i] not in extra for f in TRAIN_FLAGS[i:i + 2]]
    return run([exe, "train", "--data", data256(), "--out", out, "--epochs", str(epochs)] + flags + list(extra),
               ok_codes=ok_codes)


# ---------------------------------------------------------------------------------------------


def t_compile():
    os.makedirs(A.work, exist_ok=True)
    compile_model("simple_cnn", cnn32(), 32, 16)
    check(os.access(cnn32(), os.X_OK), "compiled SimpleCNN at size 32 (training batch 16)")


def t_end_to_end():
    exe = compile_model("simple_cnn", work("cnn64"), 64, 32)
    out = fresh_dir("e2e-run")
    t0 = time.time()
    run([exe, "train", "--data", data256(), "--epochs", "30", "--batch", "16", "--bn-momentum", "0.9", "--patience", "100",
         "--split", "0.6,0.1,0.3", "--out", out])
    print("trained 30 epochs in %.1f s" % (time.time() - t0))
    ev = run([exe, "evaluate", "--data", data256(), "--split", "test", "--weights", os.path.join(out, "best.onnx"),
              "--out", out])
    print(ev.stdout)
    m = re.search(r"^accuracy: ([0-9.]+)$", ev.stdout, re.M)
    check(m is not None and float(m.group(1)) >= 0.70, "test accuracy %s >= 0.70" % (m.group(1) if m else None))
    lines = ev.stdout.splitlines()
    labels = ["COVID", "Normal", "Viral Pneumonia", "Lung_Opacity"]
    check(any(l.startswith("confusion matrix") for l in lines), "evaluate prints the confusion matrix title")
    # One matrix row per class, with one count per class; the rows sum to the test set.
    rows = {}
    for l in lines:
        for c in labels:
            mm = re.match(r"^\s*%s((?:\s+\d+){4})\s*$" % re.escape(c), l)
            if mm:
                rows[c] = [int(v) for v in mm.group(1).split()]
    n = re.search(r"evaluated (\d+) images", ev.stdout)
    check(len(rows) == 4 and n and sum(map(sum, rows.values())) == int(n.group(1)),
          "confusion matrix: 4 rows of 4 counts summing to the %s test images" % (n.group(1) if n else "?"))
    if len(rows) == 4 and m:
        cm = np.array([rows[c] for c in labels])
        acc = np.trace(cm) / cm.sum()
        check(abs(acc - float(m.group(1))) < 5e-5, "accuracy = trace / total of the matrix (%.4f)" % acc)
        for i, c in enumerate(labels[:3]):
            rec = cm[i, i] / cm[i].sum()
            prec = cm[i, i] / cm[:, i].sum() if cm[:, i].sum() else 0.0
            want = r"^\s*%s\s+%.4f\s+%.4f\s" % (re.escape(c), prec, rec)
            check(any(re.match(want, l) for l in lines), "report's %s precision %.4f recall %.4f match the matrix"
                  % (c, prec, rec))
    # sklearn's classification_report layout: header, one line per class, accuracy, averages.
    check(any(re.match(r"^\s+precision\s+recall\s+f1-score\s+support\s*$", l) for l in lines), "report header")
    for c in labels[:3]:
        check(any(re.match(r"^\s*%s(\s+[0-9.]+){3}\s+\d+\s*$" % re.escape(c), l) for l in lines), "report line of " + c)
    for k in ("accuracy", "macro avg", "weighted avg"):
        check(any(re.match(r"^\s*%s\s.*\d+\s*$" % k, l) for l in lines), "report line '%s'" % k)
    for f in ("best.onnx", "last.onnx"):
        ok, why = valid_onnx(os.path.join(out, f))
        check(ok, "%s is a valid ONNX model %s" % (f, why))
    header, hrows = history_rows(os.path.join(out, "history.csv"))
    check(header.split(",")[:5] == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"] and len(hrows) == 30,
          "history.csv: header + %d rows (want 30)" % len(hrows))
    from PIL import Image
    for f in ("curves.png", "confusion_matrix.png"):
        try:
            im = Image.open(os.path.join(out, f))
            im.load()
            check(im.format == "PNG" and im.size[0] > 100 and im.size[1] > 100, "%s decodes (%dx%d)" % (f, *im.size))
        except Exception as ex:  # noqa: BLE001
            check(False, "%s decodes: %s" % (f, ex))


def t_reproducible():
    runs = []
    for k in range(2):
        out = fresh_dir("repro-%d" % k)
        train(cnn32(), out, 3)
        runs.append(out)
    a = open(os.path.join(runs[0], "history.csv"), "rb").read()
    b = open(os.path.join(runs[1], "history.csv"), "rb").read()
    print(a.decode())
    check(a == b, "two runs with seed 7 and --threads 1: history.csv byte-identical")
    # history.csv rounds to 6 digits; the weights show the whole trajectory.
    _, diff = compare_initializers(os.path.join(runs[0], "last.onnx"), os.path.join(runs[1], "last.onnx"))
    check(not diff, "and last.onnx's parameters and optimizer moments bit-identical (differ: %s)" % diff[:5])
    # Another seed takes another path (the check above is not vacuous).
    out = fresh_dir("repro-other")
    train(cnn32(), out, 1, ["--seed", "8"])
    c = open(os.path.join(out, "history.csv"), "rb").read().splitlines()[1]
    check(c != a.splitlines()[1], "seed 8 gives another first epoch: %s vs %s" % (c.decode(), a.splitlines()[1].decode()))


def t_resume():
    full, part = fresh_dir("resume-full"), fresh_dir("resume-part")
    train(cnn32(), full, 4)
    train(cnn32(), part, 2)
    check(meta(os.path.join(part, "last.onnx")).get("sinter.epoch") == "2", "checkpoint after 2 epochs says sinter.epoch 2")
    p = train(cnn32(), part, 4, ["--resume"])
    check("resuming from %s/last.onnx after epoch 2" % part in p.stdout, "--resume says where it continues")
    check("Epoch 1/4" not in p.stdout and "Epoch 3/4" in p.stdout, "--resume runs epochs 3 and 4 only")
    a = open(os.path.join(full, "history.csv"), "rb").read()
    b = open(os.path.join(part, "history.csv"), "rb").read()
    print(a.decode())
    check(a == b, "2 epochs + --resume to 4: history.csv byte-identical to 4 epochs uninterrupted")
    for f in ("last.onnx", "best.onnx"):
        inits, diff = compare_initializers(os.path.join(full, f), os.path.join(part, f))
        n_opt = sum(k.startswith("optimizer/") for k in inits)
        check(not diff and n_opt > 0, "%s: all %d initializers (%d optimizer moments) bit-identical; differ: %s"
              % (f, len(inits), n_opt, diff[:8]))
    ma, mb = meta(os.path.join(full, "last.onnx")), meta(os.path.join(part, "last.onnx"))
    check(ma == mb, "last.onnx training state (metadata_props) identical: %s" % {k: (ma.get(k), mb.get(k))
                                                                              for k in set(ma) | set(mb)
                                                                              if ma.get(k) != mb.get(k)})


def wait_for(pred, timeout):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if pred():
            return True
        time.sleep(0.01)
    return False


def t_sigint():
    """Ctrl-C: exit 130 after the current step, a valid last.onnx, and --resume continues.

    docs/training.md: "Ctrl-C stops after the current step and writes last.onnx" with the steps taken
    in the unfinished epoch (sinter.epoch_step and the epoch's running sums), and --resume finishes
    that epoch from the next step: the resumed run equals an uninterrupted one, bit for bit."""
    out = fresh_dir("sigint")
    hist = os.path.join(out, "history.csv")
    cmd = [cnn32(), "train", "--data", data256(), "--out", out, "--epochs", "6"] + TRAIN_FLAGS
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def epochs_done():
        try:
            return len(history_rows(hist)[1])
        except (OSError, IndexError):
            return 0
    got = wait_for(lambda: epochs_done() >= 2, 60)
    time.sleep(0.1)  # into epoch 3 (~8 steps of ~40 ms)
    t0 = time.time()
    p.send_signal(signal.SIGINT)
    so, se = p.communicate(timeout=60)
    dt = time.time() - t0
    check(got and p.returncode == 130, "SIGINT: exit code %s (want 130)" % p.returncode)
    # Where it stopped (after the current step) is checked below from the checkpoint; the clock
    # only tells a hang apart, so its bound leaves room for a loaded machine.
    check(dt < 20.0, "SIGINT: stopped %.2f s after the signal" % dt)
    k = epochs_done()
    line = [l for l in so.splitlines() if l.startswith("interrupted:")]
    check(len(line) == 1 and out + "/last.onnx" in line[0] and re.search(r"\b%d\b" % k, line[0]) is not None,
          "says last.onnx holds the weights, %d epochs completed: %s" % (k, line))
    ok, why = valid_onnx(os.path.join(out, "last.onnx"))
    mi = meta(os.path.join(out, "last.onnx"))
    check(ok and mi.get("sinter.epoch") == str(k), "after SIGINT last.onnx is a valid ONNX checkpoint, sinter.epoch %s "
          "(history has %d) %s" % (mi.get("sinter.epoch"), k, why))
    full = fresh_dir("sigint-full")
    train(cnn32(), full, 6)
    steps = int(meta(os.path.join(full, "last.onnx"))["sinter.step"]) // 6  # optimizer steps per epoch
    extra = int(mi.get("sinter.step", "-1")) - k * steps                    # steps of the unfinished epoch
    # A signal after an epoch's last step but before its validation leaves all its steps taken
    # (extra == steps); the resume below must still equal the uninterrupted run.
    check(steps == 8 and 0 <= extra <= steps, "the checkpoint counts %d full epochs of %d steps + %d steps"
          % (k, steps, extra))
    if k >= 6:
        check(False, "the interrupt came too late to test resuming (epoch %d)" % k)
        return
    r = train(cnn32(), out, 6, ["--resume"])
    check(re.search(r"resuming from .*last\.onnx after epoch %d\b" % k, r.stdout) is not None,
          "--resume continues after epoch %d" % k)
    a = open(os.path.join(full, "history.csv"), "rb").read().splitlines()
    b = open(hist, "rb").read().splitlines()
    check(len(b) == 7 and a[:k + 1] == b[:k + 1], "resumed history.csv: 6 epochs, the first %d as uninterrupted" % k)
    mr = meta(os.path.join(out, "last.onnx"))
    check(mr.get("sinter.epoch") == "6" and int(mr["sinter.step"]) == 6 * steps,
          "the resumed run ends at epoch 6 after %d optimizer steps (sinter.step %s)" % (6 * steps, mr.get("sinter.step")))
    _, diff = compare_initializers(os.path.join(full, "last.onnx"), os.path.join(out, "last.onnx"))
    check(a == b and not diff, "interrupted %d steps into epoch %d: resumed == uninterrupted (history %s, tensors differ: %s)"
          % (extra, k + 1, "same" if a == b else "differs", diff[:5]))


def is_ckpt_tmp(f):
    """A checkpoint's temporary: .sinter-tmp-<pid>-<random>-last.onnx (or best.onnx)."""
    return f.startswith(".sinter-tmp-") and f.endswith(("-last.onnx", "-best.onnx"))


def t_atomic():
    """SIGKILL at random moments, many of them inside a checkpoint write: RUN/last.onnx is
    absent or a complete model, never partial; --resume goes on from whatever survived."""
    exe = compile_model("deep_cnn", work("deep64"), 64, 8)  # 1.4 M parameters: 17 MB checkpoints
    out = fresh_dir("atomic")
    last = os.path.join(out, "last.onnx")
    rng = random.Random(12345)
    kills, during_write, valid, absent, resumed = 0, 0, 0, 0, 0
    seen_tmp = {}
    t_end = time.time() + A.budget
    while kills < 40 and time.time() < t_end:
        resume = os.path.exists(last) and os.path.exists(os.path.join(out, "history.csv"))
        cmd = [exe, "train", "--data", data256(), "--out", out, "--epochs", "100000", "--patience", "100000",
               "--batch", "8", "--split", "0.05,0.05,0.9", "--threads", "2"] + (["--resume"] if resume else [])
        before = set(os.listdir(out)) if os.path.isdir(out) else set()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if kills % 2 == 0:
            # Aimed: as soon as a new checkpoint temporary file appears, plus 0-30 ms (the
            # 17 MB write and its fsync take ~10-90 ms here).
            def writing():
                return p.poll() is not None or any(
                    is_ckpt_tmp(f) and f not in before
                    for f in (os.listdir(out) if os.path.isdir(out) else ()))
            wait_for(writing, 30)
            time.sleep(rng.uniform(0.0, 0.03))
        else:
            # Anywhere: start-up, a step, validation, a write.
            time.sleep(rng.uniform(0.2, 2.0))
        if p.poll() is not None:
            so, se = p.communicate()
            check(False, "training ended before the kill: exit %d %s" % (p.returncode, se.decode()[-500:]))
            break
        p.send_signal(signal.SIGKILL)
        p.wait()
        kills += 1
        resumed += resume
        # Sizes now: the next run removes a dead run's temporaries (sinter/file.h).
        tmp = {f: os.path.getsize(os.path.join(out, f)) for f in os.listdir(out) if is_ckpt_tmp(f)}
        if set(tmp) - set(seen_tmp):
            during_write += 1  # the kill landed between creating the temporary and the rename
        seen_tmp.update(tmp)
        if os.path.exists(last):
            ok, why = valid_onnx(last)
            if not ok:
                check(False, "kill %d: last.onnx is not a complete ONNX model: %s" % (kills, why))
            valid += ok
            best = os.path.join(out, "best.onnx")
            ok, why = valid_onnx(best) if os.path.exists(best) else (True, "")
            if not ok:
                check(False, "kill %d: best.onnx is not a complete ONNX model: %s" % (kills, why))
        else:
            absent += 1
    print("%d kills (%d of them with --resume), %d during a checkpoint write (temporary file left), "
          "last.onnx: %d valid, %d absent" % (kills, resumed, during_write, valid, absent))
    check(kills >= 10 and valid + absent == kills, "after each of %d SIGKILLs last.onnx is absent or complete" % kills)
    # How many kills land inside a write depends on the machine's timing; a few are enough, and
    # the temporary files cut short (below) prove they happened.
    check(during_write >= 3, "at least 3 of the %d kills landed inside a checkpoint write (%d)" % (kills, during_write))
    # What the kills interrupted: temporary files cut short, which a write in place would have
    # left as RUN/last.onnx itself.
    full = os.path.getsize(last)
    partial = sorted(n for f, n in seen_tmp.items() if f.endswith("-last.onnx") and n < full)
    check(len(partial) >= 3, "%d kills cut a checkpoint write short (temporary files of %s of %d bytes)"
          % (len(partial), partial[:6], full))
    ep = int(meta(last).get("sinter.epoch", "0"))
    check(resumed >= 3 and ep >= 3, "training went on across kills with --resume: last.onnx at epoch %d" % ep)


def t_export():
    """export-onnx: a standard inference model (checker, ir_version <= 8, opset <= 17, labels,
    softmax output) that ONNX Runtime runs to the probabilities `predict` prints."""
    out = fresh_dir("export-run")
    train(cnn32(), out, 2)
    x = work("export.onnx")
    run([cnn32(), "export-onnx", "-o", x, "--weights", os.path.join(out, "best.onnx")])
    m = onnx.load(x)
    try:
        onnx.checker.check_model(m, full_check=True)
        check(True, "onnx.checker (full_check) accepts the export (onnx %s)" % onnx.__version__)
    except Exception as ex:  # noqa: BLE001
        check(False, "onnx.checker: %s" % ex)
    opset = max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
    check(m.ir_version <= 8 and opset <= 17, "ir_version %d <= 8, opset %d <= 17" % (m.ir_version, opset))
    props = {p.key: p.value for p in m.metadata_props}
    labels = ["COVID", "Normal", "Viral Pneumonia", "Lung_Opacity"]
    check(any(labels == re.split(r"[\n,]", v) or all(l in v for l in labels) for v in props.values())
          and "labels" in props, "metadata_props carry the labels: %r" % props.get("labels"))
    check(not any(k.startswith("sinter.") for k in props)
          and not any(i.name.startswith("optimizer/") for i in m.graph.initializer),
          "the export carries no training state (optimizer moments, sinter.* props)")
    producer = {o: n for n in m.graph.node for o in n.output}
    outs = [o.name for o in m.graph.output]
    check(len(outs) == 1 and outs[0] in producer and producer[outs[0]].op_type == "Softmax",
          "the output %s comes from a Softmax node" % outs)
    trained, exported = initializers(os.path.join(out, "best.onnx")), initializers(x)
    check(all(same_bits(v, trained[k]) for k, v in exported.items()) and len(exported) > 10,
          "the export's %d initializers equal best.onnx's" % len(exported))
    # Real X-rays: every RGB one of cxr-native and two gray ones per class.
    from PIL import Image
    images = sorted(glob.glob(os.path.join(A.shared, "data", "cxr-native", "*", "images", "*.png")))
    modes = {p: Image.open(p).mode for p in images}
    pick = [p for p in images if modes[p] != "L"][:4]
    for cls in sorted({p.split(os.sep)[-3] for p in images}):
        pick += [p for p in images if p.split(os.sep)[-3] == cls and modes[p] == "L"][:2]
    check(len(pick) >= 6 and len({modes[p] for p in pick}) >= 2, "%d images, modes %s" % (len(pick), sorted({modes[p] for p in pick})))
    saved = fresh_dir("export-inputs")
    os.makedirs(saved)
    pr = run([cnn32(), "predict", "--weights", os.path.join(out, "best.onnx"), "--json", "--top", "4",
              "--save-input", saved] + pick)
    results = json.loads(pr.stdout)
    env = dict(os.environ, ORT_NODE_MODULES=A.ort_modules)
    worst = 0.0
    for k, (path, r) in enumerate(zip(pick, results)):
        inp = os.path.join(saved, "input_%d.pb" % k)
        o = fresh_dir("export-ort-%d" % k)
        run(["node", os.path.join(A.shared, "reference", "ort_run.js"), x, inp, "-o", o], env=env)
        ort = numpy_helper.to_array(onnx.load_tensor(os.path.join(o, "output_0.pb")))[0]
        mine = {q["label"]: q["confidence"] for q in r["predictions"]}
        got = np.array([mine[c] for c in labels])
        d = float(np.abs(got - ort).max())
        worst = max(worst, d)
        check(r["file"] == path and d <= 1e-4, "%s (%s): predict vs ONNX Runtime on the export: %.2g"
              % (os.path.basename(path), modes[path], d))
    check(len(results) == len(pick), "predict classified all %d images (worst difference %.2g)" % (len(pick), worst))


def t_transfer():
    """--init-from a Keras-named ResNet50V2 backbone: frozen weights (the first 160 Keras
    layers, BN moving statistics included) stay bit-identical, the rest trains."""
    sys.path.insert(0, os.path.join(A.shared, "reference"))
    import keras_models as km  # the independent PyTorch model: which layers Keras freezes
    ref = work("ref")
    model_onnx = os.path.join(ref, "resnet50v2", "model.onnx")
    shutil.rmtree(ref, ignore_errors=True)
    run(["/usr/bin/python3", os.path.join(A.shared, "reference", "export_seed_models.py"), ref, "--models", "resnet50v2"])
    # The backbone: Keras's include_top=False part of the file (the head, which the model file
    # adds on top, is dropped, so --init-from must load part of the model and start the rest fresh).
    net = km.build("resnet50v2")
    names = km.keras_weight_names(net)   # torch name -> Keras name
    mod_names = {id(m): n for n, m in net.named_modules()}
    layers = net.keras_layer_modules()
    def keras_names(mods):
        out = set()
        for mod in mods:
            pre = mod_names[id(mod)] + "."
            out |= {k for t, k in names.items() if t.startswith(pre) and t[len(pre):].count(".") == 0}
        return out
    frozen = keras_names([m for _, m in layers[:160] if m is not None])
    backbone = keras_names([m for _, m in layers if m is not None])
    head = set(names.values()) - backbone
    last_frozen, first_trainable, _ = km.freeze_keras_first_layers(net)
    n_trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    print("Keras freeze: %d frozen tensors through %s, trainable from %s; head %s; %d trainable parameters"
          % (len(frozen), last_frozen, first_trainable, sorted(head), n_trainable))
    full = onnx.load(model_onnx)
    keep = [i for i in full.graph.initializer if i.name in backbone]
    check(len(keep) == len(backbone), "the seed file has all %d backbone tensors" % len(backbone))
    del full.graph.initializer[:]
    full.graph.initializer.extend(keep)
    bb_path = work("backbone.onnx")
    onnx.save(full, bb_path)
    src = {i.name: numpy_helper.to_array(i) for i in keep}
    # The trainable count Keras reports at 224 (the freeze; the GAP makes it size-independent).
    for size in (224, 32):
        s = run([A.sinter, "summary", os.path.join(A.models, "resnet50v2.nn"), "--set", "size=%d" % size]).stdout
        m = re.search(r"^Trainable params: ([0-9,]+)$", s, re.M)
        got = int(m.group(1).replace(",", "")) if m else None
        check(got == 14_973_444 == n_trainable, "sinter summary at size %d: trainable %s (Keras/PyTorch reference %d)"
              % (size, got, n_trainable))
    exe = compile_model("resnet50v2", work("res32"), 32, 8)
    init = work("res32-init.onnx")
    run([exe, "export-onnx", "-o", init])
    out = fresh_dir("transfer-run")
    p = run([exe, "train", "--init-from", bb_path, "--data", data256(), "--out", out, "--epochs", "1", "--batch", "8",
             "--split", "0.1,0.1,0.8", "--threads", "2"])
    loaded = set(re.findall(r"^\s+loaded: (\S+)$", p.stdout, re.M))
    fresh = set(re.findall(r"^\s+fresh:\s+(\S+)$", p.stdout, re.M))
    check(loaded == backbone, "printed 'loaded:' list = the %d backbone tensors (%d printed)" % (len(backbone), len(loaded)))
    check(fresh == head, "printed 'fresh:' list = the head's tensors %s" % sorted(fresh))
    check(re.search(r"%d parameter tensors loaded, %d initialised fresh" % (len(backbone), len(head)), p.stdout) is not None,
          "the count line says %d loaded, %d fresh" % (len(backbone), len(head)))
    after = initializers(os.path.join(out, "last.onnx"))
    start = initializers(init)
    bad_frozen = [k for k in frozen if not same_bits(after[k], src[k])]
    check(not bad_frozen, "all %d frozen tensors (%d of them BN moving statistics) bit-identical to the file; differ: %s"
          % (len(frozen), sum("moving_" in k for k in frozen), bad_frozen[:5]))
    keras = set(names.values())
    check(keras <= set(after), "last.onnx holds all %d Keras-named tensors" % len(keras))
    trainable = keras - frozen  # (the file's other initializers are constants: pad values, offsets)
    unchanged = []
    for k in sorted(trainable):
        before = src[k] if k in src else start[k]
        if same_bits(after[k], before):
            unchanged.append(k)
    n_mov = sum("moving_" in k for k in trainable)
    check(not unchanged, "all %d non-frozen tensors changed (%d weights, %d moving statistics of training-mode BNs); "
          "unchanged: %s" % (len(trainable), len(trainable) - n_mov, n_mov, unchanged[:8]))
    n_params = sum(int(np.prod(after[k].shape)) for k in trainable if "moving_" not in k)
    check(n_params == 14_973_444, "the changed weights hold %d parameters (14,973,444)" % n_params)
    opt = {k[len("optimizer/m/"):] for k in after if k.startswith("optimizer/m/")}
    check(opt == trainable - {k for k in trainable if "moving_" in k},
          "the checkpoint has optimizer moments exactly for the trainable tensors (%d)" % len(opt))


def t_errors():
    bad = fresh_dir("bad-data")
    from PIL import Image
    rng = np.random.default_rng(3)
    for cls in ("COVID", "Normal", "Pneumonia_X"):
        os.makedirs(os.path.join(bad, cls, "images"))
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (40, 40), dtype=np.uint8)).save(
                os.path.join(bad, cls, "images", "%s-%d.png" % (cls, i)))
    out = work("err-run")
    cases = [
        ("no --data", ["--batch", "16"],
         "simple_cnn train: needs --data DIR (a folder of class folders)"),
        ("an unknown class folder (Kaggle layout)", ["--data", bad, "--batch", "16"],
         "%s: folder 'Pneumonia_X' is not one of the model's labels "
         "('COVID', 'Normal', 'Viral Pneumonia', 'Lung_Opacity')" % bad),
        ("--batch 17 > the compiled 16", ["--data", data256(), "--batch", "17"],
         "simple_cnn train: --batch 17: this executable trains batches of 1 to 16 (sinter compile --train-batch N)"),
    ]
    for what, args, want in cases:
        p = subprocess.run([cnn32(), "train", "--out", out, "--epochs", "1"] + args, capture_output=True, text=True)
        first = p.stderr.splitlines()[0] if p.stderr else ""
        check(p.returncode == 1 and first == want, "%s: exit %d, first line %r" % (what, p.returncode, first))
    check(not os.path.exists(os.path.join(out, "last.onnx")), "no checkpoint written by the failed runs")


def t_monitors():
    """The recipe's monitors are honoured: early stopping and the best checkpoint on val_accuracy
    (a maximum), ReduceLROnPlateau on the training loss. Checked against history.csv alone: the
    best epoch is the first with the highest val_accuracy, training stops `patience` epochs after
    it, and the lr column halves exactly after each epoch whose training loss did not improve.
    (In this run val_loss is lowest at another epoch, so watching val_loss would fail it.)"""
    src = open(os.path.join(A.models, "simple_cnn.nn")).read()
    i = src.index("  train {")
    src = src[:i] + """  train {
    optimizer = adam(lr = 1e-3)
    class_weight = balanced
    early_stopping(monitor = val_accuracy, patience = 6, restore_best = true)
    checkpoint(monitor = val_accuracy)
    reduce_lr_on_plateau(monitor = loss, factor = 0.5, patience = 1)
  }
}
"""
    model = work("monitors.nn")
    open(model, "w").write(src)
    exe = work("monitors_exe")
    run([A.sinter, "compile", model, "--set", "size=32", "--train-batch", "16", "-o", exe])
    out = fresh_dir("monitors")
    train(exe, out, 25, ["--bn-momentum", "0.5"])
    head, rows = history_rows(os.path.join(out, "history.csv"))
    cols = head.split(",")
    rows = [dict(zip(cols, r.split(","))) for r in rows]
    vacc = [float(r["val_accuracy"]) for r in rows]
    loss = [float(r["loss"]) for r in rows]
    lr = [float(r["lr"]) for r in rows]
    best = max(range(len(vacc)), key=lambda e: (vacc[e], -e))  # the first maximum
    mi = meta(os.path.join(out, "best.onnx"))
    check(int(mi["sinter.best_epoch"]) == best, "best.onnx is the epoch of the first highest val_accuracy (%d, history %d)"
          % (int(mi["sinter.best_epoch"]), best))
    check(len(rows) == 25 or len(rows) == best + 1 + 6,
          "early stopping on val_accuracy: %d epochs run, best epoch %d, patience 6" % (len(rows), best))
    # ReduceLROnPlateau(monitor = loss, patience 1): history's lr is the one epoch e trained with;
    # the callback after epoch e sets the next one.
    want, cur, best_loss = [], 1e-3, float("inf")
    for e in range(len(rows)):
        want.append(cur)
        if loss[e] < best_loss:
            best_loss = loss[e]
        else:
            cur *= 0.5
    check(all(abs(a - b) <= 1e-9 * b for a, b in zip(lr, want)), "lr follows the training loss's plateaus: %s vs %s"
          % (lr, want))
    # The run must tell the monitors apart, or the checks above prove nothing.
    vloss = [float(r["val_loss"]) for r in rows]
    check(min(range(len(vloss)), key=lambda e: vloss[e]) != best and min(lr) < lr[0],
          "the run tells val_accuracy from val_loss (best epochs %d vs %d) and reduces the lr at least once"
          % (best, min(range(len(vloss)), key=lambda e: vloss[e])))


TESTS = {"monitors": t_monitors, "compile": t_compile, "end_to_end": t_end_to_end, "reproducible": t_reproducible, "resume": t_resume,
         "sigint": t_sigint, "atomic": t_atomic, "export_onnx": t_export, "transfer": t_transfer, "errors": t_errors}


def main():
    global A
    ap = argparse.ArgumentParser()
    for opt in ("--sinter", "--models", "--shared", "--ort-modules", "--work"):
        ap.add_argument(opt, required=True)
    ap.add_argument("--budget", type=float, default=60, help="seconds of the SIGKILL loop")
    ap.add_argument("test", choices=sorted(TESTS))
    A = ap.parse_args()
    os.makedirs(A.work, exist_ok=True)
    TESTS[A.test]()
    if FAILS:
        print("%d check(s) failed" % len(FAILS))
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
