"""EXE predict DIR (issue 12, point 6).

A folder with nested subfolders, a corrupt PNG, a text file, hidden files and folders, a link
to a file and a link that loops back to a parent. predict DIR --json must print valid JSON with
one entry per non-hidden file in byte order of the path (links to folders skipped), an error
entry (path and message) for the corrupt image and the text file, exit 1, and for every other
file the probabilities of predicting that file alone. The model runs in batches of 3 so that
failures fall inside batches. Also: a folder and a file mixed on one command line, an empty
folder, and a folder of good images (exit 0).
usage: check_predict_dir.py SINTER MODEL.nn WORKDIR"""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import checklib  # noqa: E402
from checklib import finish  # noqa: E402

SINTER, MODEL, WORK = sys.argv[1:4]


def check(ok, what):
    checklib.check(ok, what, quiet=True)


def run(args, expect=0):
    return checklib.run(args, (expect,), cwd=WORK)


def predict_json(args, expect):
    p = run([EXE, "predict", "--json", "--top", "4"] + args, expect)
    try:
        return json.loads(p.stdout), p
    except ValueError as e:
        check(False, "predict %s: not JSON (%s):\n%s" % (" ".join(args), e, p.stdout))
        return [], p


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
EXE = os.path.join(WORK, "exe")
run([SINTER, "compile", MODEL, "--set", "size=32", "--no-train", "--batch", "3", "-o", EXE])
run([SINTER, "synth-data", "-o", "data", "--per-class", "2", "--size", "32"])
src = sorted(os.path.join(WORK, "data", c, "images", f) for c in ("COVID", "Normal", "Viral Pneumonia", "Lung_Opacity")
             for f in os.listdir(os.path.join(WORK, "data", c, "images")))

root = os.path.join(WORK, "xr")
layout = {  # file: the synthetic image it copies (None: made below)
    "a.png": 0, "a/z.png": 1, "B.png": 2, "b/deep/er/x.png": 3, "b/deep/y.PNG": 4, "Viral scan, 2.png": 5,
    "c/corrupt.png": None, "c/notes.txt": None, "d/e.png": 6, ".hidden.png": 7, ".git/h.png": 0, "b/.cache/q.png": 1,
}
for rel, k in layout.items():
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if k is not None:
        shutil.copy(src[k], path)
with open(src[0], "rb") as f:
    open(os.path.join(root, "c", "corrupt.png"), "wb").write(f.read()[:90])
open(os.path.join(root, "c", "notes.txt"), "w").write("not an image\n")
os.symlink("../a.png", os.path.join(root, "d", "link.png"))  # a link to a file: classified
os.symlink("..", os.path.join(root, "d", "loop"))             # a link to a folder: skipped

# What predict must list: non-hidden files, links to folders left out, in byte order.
want = []
for d, dirs, files in os.walk(root):
    dirs[:] = [x for x in dirs if not x.startswith(".")]
    for f in files:
        p = os.path.join(d, f)
        if not f.startswith(".") and not (os.path.islink(p) and os.path.isdir(p)):
            want.append(os.path.relpath(p, WORK))
want.sort(key=os.fsencode)
bad = {"xr/c/corrupt.png", "xr/c/notes.txt"}

entries, p = predict_json(["xr"], 1)
check([e.get("file") for e in entries] == want, "order: got %r\nwant %r" % ([e.get("file") for e in entries], want))
for e in entries:
    f = e.get("file")
    if f in bad:
        check(e.get("valid") is False and e.get("predictions") == [] and e.get("error", "").startswith(f + ": ")
              and e["error"] in p.stderr, "error entry for %s: %r" % (f, e))
        continue
    alone, _ = predict_json([f], 0)
    ok = e.get("valid") is True and len(alone) == 1 and len(e.get("predictions", [])) == 4
    if ok:
        a = {x["label"]: x["confidence"] for x in alone[0]["predictions"]}
        ok = all(abs(x["confidence"] - a[x["label"]]) <= 1e-6 for x in e["predictions"])
    check(ok, "%s: in the folder %r, alone %r" % (f, e, alone))
check("notes.txt: not a PNG, JPEG or DICOM image" in p.stderr, "notes.txt: %r" % p.stderr)

# A folder between two files: each argument in its place, the folder's files in order.
entries, _ = predict_json(["xr/B.png", "xr/d", "xr/a.png"], 0)
check([e.get("file") for e in entries] == ["xr/B.png", "xr/d/e.png", "xr/d/link.png", "xr/a.png"],
      "mixed arguments: %r" % [e.get("file") for e in entries])

# An empty folder (hidden files only): one error entry; the rest still classified.
os.makedirs(os.path.join(WORK, "empty", ".x"))
open(os.path.join(WORK, "empty", ".y.png"), "w").close()
entries, p = predict_json(["empty", "xr/a.png"], 1)
msg = "empty: the folder holds no file to classify (hidden ones are skipped)"
check(len(entries) == 2 and entries[0] == {"file": "empty", "valid": False, "error": msg, "predictions": []}
      and entries[1].get("valid") is True and p.stderr.splitlines()[:1] == [msg], "empty folder: %r %r" % (entries, p.stderr))

# A file name that is not UTF-8 and holds a quote and a control byte: still valid JSON, the byte
# that is not UTF-8 as U+FFFD, the others escaped.
odd = os.path.join(WORK, os.fsdecode(b'q"\xff\x01.png'))
shutil.copy(src[0], odd)
entries, _ = predict_json([os.path.relpath(odd, WORK)], 0)
check(len(entries) == 1 and entries[0].get("file") == 'q"\ufffd\x01.png' and entries[0].get("valid") is True,
      "a name that is not UTF-8: %r" % entries)

# Text output: the good files' lines in order, the failures on stderr.
p = run([EXE, "predict", "xr"], 1)
got = [l.split(":")[0] for l in p.stdout.splitlines()]
check(got == [w for w in want if w not in bad], "text order: %r" % got)
check(sum(b in p.stderr for b in bad) == 2, "text: the failures on stderr: %r" % p.stderr)

finish("ok: predict DIR lists %d files in byte order, valid JSON with %d error entries" % (len(want), len(bad)))
