#!/usr/bin/python3
"""`EXE predict` on real X-rays (gray and RGB PNGs of ../shared/data/cxr-native) against
independent references:

  * the probabilities equal ONNX Runtime's (onnxruntime-node, ../shared/reference/ort_run.js)
    on the same ONNX model and on the inputs `predict --save-input` wrote, within 1e-4;
  * the resized input equals PyTorch's F.interpolate(mode='bilinear', align_corners=False,
    antialias=False) of the image decoded by PIL, within 1e-4 of the pixel range (255).
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seedlib import arguments, tensor  # noqa: E402
from PIL import Image



def main():
    a = arguments()
    images = sorted(glob.glob(os.path.join(a.shared, "data", "cxr-native", "*", "images", "*.png")))
    modes = {p: Image.open(p).mode for p in images}
    # Every RGB file and a few gray ones of each class.
    pick = [p for p in images if modes[p] != "L"]
    for cls in sorted({p.split(os.sep)[-3] for p in images}):
        pick += [p for p in images if p.split(os.sep)[-3] == cls and modes[p] == "L"][:2]
    assert any(modes[p] == "L" for p in pick) and any(modes[p] != "L" for p in pick), modes
    model = os.path.join(a.ref, a.name, "model.onnx")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        exe, saved = tmp + "/exe", tmp + "/inputs"
        os.makedirs(saved)
        subprocess.run([a.sinter, "compile", os.path.join(a.models, a.name + ".nn"), "--weights", model, "-o", exe],
                       check=True, capture_output=True)
        # A missing and a corrupt image get an error line each; the others are still classified.
        bad = os.path.join(tmp, "corrupt.png")
        with open(pick[0], "rb") as f, open(bad, "wb") as g:
            g.write(f.read()[:300])
        p = subprocess.run([exe, "predict", "--json", "--top", "4", "--save-input", saved, os.path.join(tmp, "missing.png")]
                           + pick[:1] + [bad] + pick[1:], capture_output=True, text=True)
        results = json.loads(p.stdout)
        # Each failed image has an error entry in its place (the JSON covers every argument).
        missing = os.path.join(tmp, "missing.png")
        errors_ok = (p.returncode == 1 and "missing.png" in p.stderr and "corrupt.png" in p.stderr
                     and [r["file"] for r in results] == [missing] + pick[:1] + [bad] + pick[1:]
                     and [r["file"] for r in results if "error" in r] == [missing, bad]
                     and all(r["error"] in p.stderr and r["valid"] is False for r in results if "error" in r))
        print(f"{'PASS' if errors_ok else 'FAIL'} bad images: exit {p.returncode}, stderr: {p.stderr.strip()}")
        ok &= errors_ok
        results = [r for r in results if "error" not in r]
        assert len(results) == len(pick), (len(results), len(pick))
        env = dict(os.environ, ORT_NODE_MODULES=a.ort_modules)
        for k, (path, r) in enumerate(zip(pick, results)):
            assert r["file"] == path
            # --save-input numbers inputs by their place in the argument list.
            inp = os.path.join(saved, f"input_{1 + k if k == 0 else 2 + k}.pb")
            out = os.path.join(tmp, f"ort_{k}")
            subprocess.run(["node", os.path.join(a.shared, "reference", "ort_run.js"), model, inp, "-o", out],
                           check=True, env=env, capture_output=True)
            ort = tensor(os.path.join(out, "output_0.pb"))[0]
            mine = {q["label"]: q["confidence"] for q in r["predictions"]}
            order = ["COVID", "Normal", "Viral Pneumonia", "Lung_Opacity"]
            got = np.array([mine[c] for c in order])
            d = float(np.abs(got - ort).max())
            # --json prints 6 decimals; 1e-4 leaves room for that rounding and nothing else.
            good = d <= 1e-4
            ok &= good
            # The resize against PyTorch: predict saved the model's input, raw 0..255 pixels.
            img = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
            x = torch.from_numpy(img).permute(2, 0, 1)[None]
            size = tensor(inp).shape[2:]
            ref = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=False)[0].numpy()
            rd = float(np.abs(ref - tensor(inp)[0]).max())
            good_r = rd <= 1e-4 * 255
            ok &= good_r
            print(f"{'PASS' if good and good_r else 'FAIL'} {os.path.basename(path)} ({modes[path]}): "
                  f"probabilities vs ONNX Runtime {d:.2g}, resize vs PyTorch {rd:.2g}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
