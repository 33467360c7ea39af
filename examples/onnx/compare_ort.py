#!/usr/bin/python3
"""Checks `EXE predict` on a third-party ONNX model against ONNX Runtime, preprocessing
computed here independently: the image (already at the model's input size, so no resizing)
is decoded with PIL, normalised as (pixel / 255 - mean) / std, and run by onnxruntime-node
(../shared/reference/ort_run.js or any runner with its command line).

usage: compare_ort.py MODEL.onnx EXE IMAGE LABELS --ort-run ORT_RUN_JS --work DIR"""
import argparse, json, os, subprocess, sys

import numpy as np
from onnx import numpy_helper
from PIL import Image

MEAN, STD = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)
ap = argparse.ArgumentParser()
ap.add_argument("model"); ap.add_argument("exe"); ap.add_argument("image"); ap.add_argument("labels")
ap.add_argument("--ort-run", required=True); ap.add_argument("--work", required=True)
a = ap.parse_args()
os.makedirs(a.work, exist_ok=True)
x = np.asarray(Image.open(a.image).convert("RGB"), np.float32)  # H, W, 3
x = ((x / 255.0 - MEAN) / STD).transpose(2, 0, 1)[None].astype(np.float32)
with open(os.path.join(a.work, "input_0.pb"), "wb") as f:
    f.write(numpy_helper.from_array(x).SerializeToString())
subprocess.run(["node", a.ort_run, a.model, os.path.join(a.work, "input_0.pb"), "-o", a.work], check=True)
from onnx import TensorProto
t = TensorProto()
with open(os.path.join(a.work, "output_0.pb"), "rb") as f:
    t.ParseFromString(f.read())
ort = numpy_helper.to_array(t)[0]
out = subprocess.run([a.exe, "predict", "--json", "--top", "100", a.image], capture_output=True, text=True, check=True).stdout
labels = a.labels.split(",")
ours = np.zeros(len(labels), np.float32)
for e in json.loads(out)[0]["predictions"]:
    ours[labels.index(e["label"])] = e["confidence"]
d = float(np.abs(ours - ort).max())
print("sinter predict", ours, "\nonnxruntime   ", ort, "\nmax |diff| %.2e" % d)
if d > 1e-4 or abs(float(ort.sum()) - 1) > 1e-4:
    sys.exit("FAIL: predict differs from ONNX Runtime by more than 1e-4")
print("ok: predict equals ONNX Runtime within 1e-4")
