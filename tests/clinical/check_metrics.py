"""EXE evaluate's clinical metrics (issue 12, point 3) against sklearn on the same predictions.

A SimpleCNN at 32x32 is trained for a few epochs on synthetic images and evaluated on 5 real
X-rays per class of ../shared/data/cxr-native (the synthetic ones when that folder is absent);
some images are copied into other classes, so tied scores fall on positives and negatives alike. Then, from the CSV
that --predictions writes (full float precision): sklearn's roc_auc_score per class against
the printed AUC (1e-9; it prints 10 decimals), roc_curve(drop_intermediate=False) against
roc.csv point by point, the confusion matrix of the argmax against the printed TP/FN/FP/TN,
sensitivity and specificity, the macro AUC, and --threshold CLASS=P against numpy. Also: a
weights file of zeros (every score tied: AUC 0.5), a set without one class and one with a
single class ("n/a" with the reason, the macro over the rest), bad --threshold values with
their exact messages, and roc.png decoding at the size its layout gives.
usage: check_metrics.py SINTER MODEL.nn WORKDIR [SHARED_DIR]"""
import csv
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import numpy_helper
from PIL import Image
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import checklib  # noqa: E402
from checklib import finish  # noqa: E402

SINTER, MODEL, WORK = sys.argv[1:4]
NATIVE = os.path.join(sys.argv[4], "data", "cxr-native") if len(sys.argv) > 4 else ""
CLASSES = ["COVID", "Normal", "Viral Pneumonia", "Lung_Opacity"]


def check(ok, what):
    checklib.check(ok, what, quiet=True)


def run(args, expect=0):
    return checklib.run(args, (expect,), cwd=WORK)


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
EXE = os.path.join(WORK, "exe")
run([SINTER, "compile", MODEL, "--set", "size=32", "-o", EXE])
run([SINTER, "synth-data", "-o", "data", "--per-class", "6", "--size", "32"])
run([EXE, "train", "--data", "data", "--epochs", "4", "--out", "run"])
W = os.path.join(WORK, "run", "best.onnx")


def images(cls, root="data"):
    d = os.path.join(WORK, root, cls, "images")
    return sorted(os.path.join(d, f) for f in os.listdir(d))


# Duplicates across classes: the same pixels score the same, so ties mix positives and
# negatives. One file name needs RFC 4180 quoting.
if os.path.isdir(NATIVE):
    for cls in CLASSES:
        os.makedirs(os.path.join(WORK, "dup", cls, "images"))
        for f in sorted(os.listdir(os.path.join(NATIVE, cls, "images")))[:5]:
            shutil.copy(os.path.join(NATIVE, cls, "images", f), os.path.join(WORK, "dup", cls, "images", f))
else:
    print("note: %s is absent, evaluating on synthetic images" % NATIVE)
    shutil.copytree(os.path.join(WORK, "data"), os.path.join(WORK, "dup"))
originals = {cls: images(cls, "dup") for cls in CLASSES}
for i, cls in enumerate(CLASSES):
    for j, src in enumerate(originals[CLASSES[(i + 1) % 4]][:3]):
        shutil.copy(src, os.path.join(WORK, "dup", cls, "images", "dup%d.png" % j))
odd = os.path.join(WORK, "dup", "Normal", "images", 'a,"quoted" name.png')
shutil.copy(originals["Normal"][0], odd)


def table(stdout):
    """The clinical table: {class: (auc or None, sens or None, spec or None, tp, fn, fp, tn)}."""
    lines = stdout.splitlines()
    start = [i for i, l in enumerate(lines) if l.startswith("clinical metrics")]
    if not start:
        check(False, "no clinical metrics table in:\n" + stdout)
        return {}, lines
    rows = {}
    for l in lines[start[0] + 2:]:
        if l.startswith("macro AUC"):
            break
        t = l.split()
        vals = [None if v == "n/a" else float(v) for v in t[-7:-4]] + [int(v) for v in t[-4:]]
        rows[" ".join(t[:-7])] = tuple(vals)
    return rows, lines


def read_predictions(path):
    with open(path, newline="") as f:
        r = list(csv.reader(f))
    check(r[0] == ["path", "true_class"] + CLASSES, "predictions header: %r" % r[0])
    paths = [row[0] for row in r[1:]]
    truth = np.array([CLASSES.index(row[1]) for row in r[1:]])
    probs = np.array([[float(v) for v in row[2:]] for row in r[1:]], dtype=np.float64)
    return paths, truth, probs


def read_roc(path):
    pts = {}
    with open(path, newline="") as f:
        r = list(csv.reader(f))
    check(r[0] == ["class", "threshold", "fpr", "tpr"], "roc.csv header: %r" % r[0])
    for row in r[1:]:
        pts.setdefault(row[0], []).append((float(row[1]), float(row[2]), float(row[3])))
    return pts


def check_against_sklearn(tag, out, csv_path, stdout, thresholds=()):
    paths, truth, probs = read_predictions(csv_path)
    n = int(stdout.split("evaluated ")[1].split()[0])
    check(len(paths) == n, "%s: %d CSV rows for %d evaluated images" % (tag, len(paths), n))
    for p, t in zip(paths, truth):
        check(os.path.isfile(os.path.join(WORK, p)) and os.sep + CLASSES[t] + os.sep in p,
              "%s: CSV row %r with true class %s" % (tag, p, CLASSES[t]))
    check(np.allclose(probs.sum(1), 1, atol=1e-5), "%s: probabilities do not sum to 1" % tag)
    rows, lines = table(stdout)
    pred = probs.argmax(1)
    cm = confusion_matrix(truth, pred, labels=range(4))
    roc_pts = read_roc(os.path.join(WORK, out, "roc.csv"))
    aucs = []
    for k, cls in enumerate(CLASSES):
        row = rows.get(cls)
        if row is None:
            check(False, "%s: no row for %s" % (tag, cls))
            continue
        y = truth == k
        tp, fn = cm[k, k], cm[k].sum() - cm[k, k]
        fp = cm[:, k].sum() - cm[k, k]
        tn = cm.sum() - tp - fn - fp
        check(row[3:] == (tp, fn, fp, tn), "%s %s: TP FN FP TN %r, sklearn %r" % (tag, cls, row[3:], (tp, fn, fp, tn)))
        sens = tp / (tp + fn) if tp + fn else None
        spec = tn / (tn + fp) if tn + fp else None
        for got, want, what in ((row[1], sens, "sensitivity"), (row[2], spec, "specificity")):
            check((got is None) == (want is None) and (want is None or abs(got - want) <= 5e-5),
                  "%s %s: %s %r, want %r" % (tag, cls, what, got, want))
        if y.all() or not y.any():
            check(row[0] is None, "%s %s: AUC %r, want n/a" % (tag, cls, row[0]))
            check(cls not in roc_pts, "%s %s: roc.csv has points for an undefined curve" % (tag, cls))
            continue
        auc = roc_auc_score(y, probs[:, k])
        aucs.append(auc)
        check(row[0] is not None and abs(row[0] - auc) <= 1e-9, "%s %s: AUC %r, sklearn %.12f" % (tag, cls, row[0], auc))
        fpr, tpr, thr = roc_curve(y, probs[:, k], drop_intermediate=False)
        got = roc_pts.get(cls, [])
        check(len(got) == len(fpr), "%s %s: %d ROC points, sklearn %d" % (tag, cls, len(got), len(fpr)))
        if len(got) == len(fpr):
            g = np.array(got)
            check(np.isinf(g[0, 0]) and np.array_equal(g[1:, 0], thr[1:]) and np.allclose(g[:, 1], fpr, rtol=0, atol=1e-15)
                  and np.allclose(g[:, 2], tpr, rtol=0, atol=1e-15), "%s %s: ROC points differ from sklearn's" % (tag, cls))
    macro = [l for l in lines if l.startswith("macro AUC: ")]
    if aucs:
        want = "macro AUC: %.10f (the mean over the %d of 4 classes where AUC is defined)" % (np.mean(aucs), len(aucs))
        check(macro and abs(float(macro[0].split()[2]) - np.mean(aucs)) <= 1e-9 and macro[0].split(" (")[1] == want.split(" (")[1],
              "%s: %r, want %r" % (tag, macro, want))
    else:
        check(macro == ["macro AUC: n/a (AUC is defined for no class)"], "%s: %r" % (tag, macro))
    for cls, p in thresholds:
        k = CLASSES.index(cls)
        called, pos = probs[:, k] >= p, truth == k
        tp, fn, fp, tn = [int(v) for v in ((called & pos).sum(), (~called & pos).sum(), (called & ~pos).sum(),
                                           (~called & ~pos).sum())]
        fmt = lambda a, b: "%.4f" % (a / b) if b else "n/a"
        want = "%s vs rest, called at probability >= %.9g: TP %d FN %d FP %d TN %d, sensitivity %s, specificity %s" % (
            cls, p, tp, fn, fp, tn, fmt(tp, tp + fn), fmt(tn, tn + fp))
        check(want in lines, "%s: no line %r in:\n%s" % (tag, want, stdout))
    return truth, probs


# 1. Trained weights on the set with duplicates.
ths = [("COVID", 0.25), ("Viral Pneumonia", 0.3), ("Lung_Opacity", 0.0), ("Normal", 1.0)]
args = [EXE, "evaluate", "--data", "dup", "--split", "all", "--weights", W, "--out", "ev", "--predictions", "pred.csv"]
for c, p in ths:
    args += ["--threshold", "%s=%g" % (c, p)]
p = run(args)
truth, probs = check_against_sklearn("trained", "ev", os.path.join(WORK, "pred.csv"), p.stdout, ths)
paths = read_predictions(os.path.join(WORK, "pred.csv"))[0]
check(os.path.relpath(odd, WORK) in paths, "the quoted file name does not read back from the CSV: %r" % paths[-3:])
ties = sum(len(np.unique(probs[:, k])) < len(probs) for k in range(4))
check(ties == 4, "the duplicates should tie scores in every class's column (%d of 4 do)" % ties)
mixed = any(len(set(truth[probs[:, k] == v])) > 1 for k in range(4) for v in np.unique(probs[:, k]))
check(mixed, "no tie between a positive and a negative")

# roc.png: RGB, the size of its layout (legend right of a 440 px plot), a blue curve in it.
auc_of = {cls: r[0] for cls, r in table(p.stdout)[0].items()}
legend = max(len("%s (AUC %.4f)" % (c, auc_of[c] or 0)) * 12 - 2 for c in CLASSES)
im = Image.open(os.path.join(WORK, "ev", "roc.png"))
check(im.size == (90 + 440 + 30 + 28 + 8 + legend + 24, 590) and im.mode == "RGB", "roc.png: %r %s" % (im.size, im.mode))
a = np.asarray(im.convert("RGB"))[70:510, 90:531]
check(((a == (31, 119, 180)).all(-1)).sum() > 100, "roc.png: no curve in tab:blue in the plot area")

# 2. Every weight zero: every probability 0.25, one threshold, AUC 0.5 for every class.
m = onnx.load(W)
for t in m.graph.initializer:
    t.CopyFrom(numpy_helper.from_array(np.zeros_like(numpy_helper.to_array(t)), t.name))
onnx.save(m, os.path.join(WORK, "zero.onnx"))
p = run([EXE, "evaluate", "--data", "data", "--split", "all", "--weights", "zero.onnx", "--out", "ev0",
         "--predictions", "pred0.csv"])
check_against_sklearn("zero weights", "ev0", os.path.join(WORK, "pred0.csv"), p.stdout)
check(all(r[0] == 0.5 for r in table(p.stdout)[0].values()), "zero weights: AUCs %r" % table(p.stdout)[0])

# 3. Lung_Opacity absent: n/a with the reason, the macro over the other three.
shutil.copytree(os.path.join(WORK, "data"), os.path.join(WORK, "three"))
shutil.rmtree(os.path.join(WORK, "three", "Lung_Opacity"))
p = run([EXE, "evaluate", "--data", "three", "--split", "all", "--weights", W, "--out", "ev3", "--predictions", "pred3.csv"])
check_against_sklearn("absent class", "ev3", os.path.join(WORK, "pred3.csv"), p.stdout)
check("AUC n/a for Lung_Opacity: no image of this class in the evaluated set" in p.stdout.splitlines(),
      "absent class: no reason line in:\n" + p.stdout)

# 4. One class only: it has no negatives, the others no positives; no macro AUC.
os.makedirs(os.path.join(WORK, "one"))
shutil.copytree(os.path.join(WORK, "data", "COVID"), os.path.join(WORK, "one", "COVID"))
p = run([EXE, "evaluate", "--data", "one", "--split", "all", "--weights", W, "--out", "ev1", "--predictions", "pred1.csv"])
check_against_sklearn("one class", "ev1", os.path.join(WORK, "pred1.csv"), p.stdout)
lines = p.stdout.splitlines()
check("AUC n/a for COVID: every evaluated image is of this class (no negatives)" in lines, "one class:\n" + p.stdout)
check("AUC n/a for Normal: no image of this class in the evaluated set" in lines, "one class:\n" + p.stdout)
check(Image.open(os.path.join(WORK, "ev1", "roc.png")).size[1] == 590, "one class: roc.png")

# 5. Bad flags: the exact first line of stderr, exit 1, nothing evaluated.
bad = [("COVID", "simple_cnn evaluate: --threshold: 'COVID' is not CLASS=P (a class name, '=', a probability)"),
       ("=0.5", "simple_cnn evaluate: --threshold: '=0.5' is not CLASS=P (a class name, '=', a probability)"),
       ("Covid=0.5", "simple_cnn evaluate: --threshold: unknown class 'Covid' (the classes: 'COVID', 'Normal', "
                     "'Viral Pneumonia', 'Lung_Opacity')"),
       ("COVID=1.5", "simple_cnn evaluate: --threshold: 1.5 is out of range (0 to 1)"),
       ("COVID=-0.1", "simple_cnn evaluate: --threshold: -0.1 is out of range (0 to 1)"),
       ("COVID=abc", "simple_cnn evaluate: --threshold: 'abc' is not a finite number"),
       ("COVID=nan", "simple_cnn evaluate: --threshold: 'nan' is not a finite number"),
       ("COVID=", "simple_cnn evaluate: --threshold: '' is not a finite number"),
       ("COVID=0.5x", "simple_cnn evaluate: --threshold: '0.5x' is not a finite number")]
for arg, want in bad:
    p = run([EXE, "evaluate", "--data", "data", "--threshold", arg], expect=1)
    got = p.stderr.splitlines()[0] if p.stderr else ""
    check(got == want and "evaluated" not in p.stdout, "--threshold %s:\n  got  %r\n  want %r" % (arg, got, want))
p = run([EXE, "evaluate", "--data", "data", "--split", "all", "--out", "evx", "--predictions", "no/such/dir/p.csv"], expect=1)
check("no/such/dir/p.csv" in p.stderr, "--predictions into a missing folder: %r" % p.stderr)

finish("ok: evaluate's AUC, ROC points, sensitivity, specificity and thresholds match sklearn and numpy")
