#!/usr/bin/env python3
"""The model-randomisation sanity check of Grad-CAM (Adebayo et al., 2018) on a trained model.

A SimpleCNN is trained here on ../shared/data/cxr-256 (size 64, the demo's recipe, a few
epochs); its Grad-CAM maps are compared with those of the same model whose last layers (the
two dense layers and the last convolution) were re-initialised: an explanation that depends on
what the model learned must change, so the mean Spearman rank correlation between the maps
has to stay below 0.5. Also checks that re-running explain with the same weights gives the
same maps (rank correlation 1) and `--layer`/`--class` refusals name what exists.
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper
from scipy import stats

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checklib import run  # noqa: E402

RANDOMISED = ("dense_1/", "dense/", "conv2d_2/")


def spearman(a, b):
    """Spearman's rho with ties at their mean rank (ReLU maps have many zeros)."""
    rho = stats.spearmanr(a, b).correlation
    return 0.0 if np.isnan(rho) else float(rho)


def randomise(src, dst, seed):
    """Glorot-uniform kernels and zero biases for the layers in RANDOMISED."""
    m = onnx.load(src)
    g = np.random.default_rng(seed)
    hit = 0
    for i, t in enumerate(m.graph.initializer):
        if not t.name.startswith(RANDOMISED):
            continue
        a = numpy_helper.to_array(t)
        if t.name.endswith("/kernel"):
            fan_in = a.shape[1] * (a[0, 0].size if a.ndim == 4 else 1) if a.ndim == 4 else a.shape[0]
            fan_out = a.shape[0] * (a[0, 0].size if a.ndim == 4 else 1) if a.ndim == 4 else a.shape[1]
            lim = np.sqrt(6.0 / (fan_in + fan_out))
            new = g.uniform(-lim, lim, a.shape).astype(np.float32)
        elif t.name.endswith("/bias"):
            new = np.zeros_like(a)
        else:
            continue
        m.graph.initializer[i].CopyFrom(numpy_helper.from_array(new, t.name))
        hit += 1
    assert hit >= 5, f"only {hit} tensors re-initialised; names: {[t.name for t in m.graph.initializer][:20]}"
    onnx.save(m, dst)


def maps(exe, images, weights, out, extra=()):
    run([exe, "explain", *images, "--weights", weights, "-o", out, *extra])
    res = []
    for p in images:
        d = json.load(open(os.path.join(out, os.path.splitext(os.path.basename(p))[0] + ".gradcam.json")))
        res.append(np.array(d["map"]["values"]))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sinter", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--epochs", type=int, default=8)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    w = lambda *p: os.path.join(a.work, *p)
    data = os.path.join(a.shared, "data", "cxr-256")
    run([a.sinter, "compile", os.path.join(a.models, "simple_cnn.nn"), "--set", "size=64", "--train-batch", "16",
         "-o", w("exe")])
    run([w("exe"), "train", "--data", data, "--out", w("run"), "--epochs", str(a.epochs), "--batch", "16"])
    trained = w("run", "best.onnx")
    images = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(data) for f in fs if f.endswith(".png"))[::23][:8]
    base = maps(w("exe"), images, trained, w("trained"))
    again = maps(w("exe"), images, trained, w("again"))
    assert all(np.array_equal(x, y) for x, y in zip(base, again)), "explain is not deterministic"
    randomise(trained, w("random.onnx"), 7)
    rand = maps(w("exe"), images, w("random.onnx"), w("random"))
    rhos = [spearman(x, y) for x, y in zip(base, rand)]
    mean = float(np.mean(rhos))
    print("rank correlation trained vs re-initialised last layers:", " ".join(f"{r:.3f}" for r in rhos), f"mean {mean:.3f}")
    bad = run([w("exe"), "explain", images[0], "--weights", trained, "-o", w("x"), "--layer", "nope"], ok_codes=(1,)).stderr
    assert "--layer 'nope' is not a convolution layer of the model; the layers are 'conv2d', 'conv2d_1', 'conv2d_2'" in bad, bad
    bad = run([w("exe"), "explain", images[0], "-o", w("x"), "--class", "Cat"], ok_codes=(1,)).stderr
    assert "--class 'Cat' is not one of the model's labels: 'COVID', 'Normal', 'Viral Pneumonia', 'Lung_Opacity'" in bad, bad
    return 0 if mean < 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
