"""sinter import -> compile on the ../shared ONNX cases (issue 11, point 5): every case whose
graph the DSL can express is written as .nn text, compiled with the file's weights (at the
batch the file fixes, as the import's compile line says) and must reproduce the case's
expected outputs within 1e-5, and written back out with `sinter export-onnx` it must give the
same outputs in ONNX Runtime; every other case must be refused with a message naming the file
and the node, input or output. At least MIN_IMPORTED cases must import (a regression floor).
usage: check_import_roundtrip.py SINTER ORT_RUN_JS ORT_NODE_MODULES CASES_DIR... WORK_DIR"""
import concurrent.futures
import glob
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import onnx
from onnx import numpy_helper

MIN_IMPORTED = 52
sinter, ort_run, ort_modules, dirs, work = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:-1], sys.argv[-1]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
load = lambda f: numpy_helper.to_array(onnx.load_tensor(f))


def one(case):
    name = os.path.basename(case.rstrip("/"))
    model, tmp = os.path.join(case, "model.onnx"), os.path.join(work, name)
    os.makedirs(tmp)
    nn = os.path.join(tmp, "m.nn")
    p = subprocess.run([sinter, "import", model, "-o", nn], capture_output=True, text=True)
    if p.returncode:
        first = p.stderr.splitlines()[0] if p.stderr else ""
        ok = first.startswith(f"sinter: error: {model}: ") and any(w in first for w in ("node '", "graph input '", "graph output '"))
        return name, "refused" if ok else f"FAIL refused without naming the node: {first!r}"
    m = re.search(r"--batch (\d+)", open(nn).read())
    cmd = [sinter, "compile", nn, "--weights", model, "-o", os.path.join(tmp, "exe")] + (["--batch", m.group(1)] if m else [])
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        return name, f"FAIL imported text does not compile: {p.stderr.strip()[:300]}"
    data = os.path.join(case, "test_data_set_0")
    ins = sorted(glob.glob(os.path.join(data, "input_*.pb")), key=lambda f: int(re.findall(r"\d+", f)[-1]))
    p = subprocess.run([os.path.join(tmp, "exe"), "run", *ins, "-o", os.path.join(tmp, "out")], capture_output=True, text=True)
    if p.returncode:
        return name, f"FAIL compiled import does not run: {p.stderr.strip()[:300]}"
    bad = compare(data, os.path.join(tmp, "out"), "the compiled import")
    if bad:
        return name, bad
    x = os.path.join(tmp, "x.onnx")
    p = subprocess.run([sinter, "export-onnx", nn, "--weights", model, "-o", x], capture_output=True, text=True)
    if p.returncode:
        return name, f"FAIL the import does not export: {p.stderr.strip()[:300]}"
    p = subprocess.run(["node", ort_run, x, *ins, "-o", os.path.join(tmp, "ort")], capture_output=True, text=True,
                       env=dict(os.environ, ORT_NODE_MODULES=ort_modules))
    bad = f"FAIL ONNX Runtime cannot run the export: {p.stderr.strip()[-300:]}" if p.returncode else \
        compare(data, os.path.join(tmp, "ort"), "the export in ONNX Runtime")
    if bad:
        return name, bad
    shutil.rmtree(tmp)
    return name, "matches"


def compare(data, out, what):
    for f in sorted(glob.glob(os.path.join(data, "output_*.pb"))):
        want, got = load(f), load(os.path.join(out, os.path.basename(f)))
        if want.shape != got.shape or np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want)), initial=0) > 1e-5:
            return f"FAIL {what}, {os.path.basename(f)}: {got.dtype}{got.shape} differs from the expected {want.dtype}{want.shape}"
    return None


cases = sorted(c for d in dirs for c in glob.glob(os.path.join(d, "*", "")) if os.path.exists(os.path.join(c, "model.onnx")))
with concurrent.futures.ThreadPoolExecutor(2) as ex:
    results = list(ex.map(one, cases))
fails = [(n, r) for n, r in results if r.startswith("FAIL")]
imported = sum(r == "matches" for _, r in results)
for n, r in fails:
    print(f"{n}: {r}")
print(f"{imported} of {len(cases)} cases imported, compiled, exported and matched; {len(cases) - imported - len(fails)} refused by name")
if imported < MIN_IMPORTED:
    print(f"FAIL only {imported} cases import (at least {MIN_IMPORTED} did)")
print("PASS" if not fails and imported >= MIN_IMPORTED else "FAIL")
sys.exit(0 if not fails and imported >= MIN_IMPORTED else 1)
