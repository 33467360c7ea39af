"""Checks of `sinter synth-data` with an independent PNG decoder (PIL).

layout:      folders, file names and counts per class; every image decodes as 8-bit gray of
             the requested size; the command and README.txt say the images are synthetic.
not_trivial: a nearest-centroid classifier on global features (mean and a 16-bin histogram,
             standardised) fitted on one half scores at most 0.5 on the other: the classes
             differ in spatial structure, not in brightness or histogram.
"""
import argparse
import os
import shutil
import subprocess
import sys

import numpy as np
from PIL import Image

CLASSES = ["COVID", "Normal", "Viral Pneumonia", "Lung_Opacity"]


def generate(sinter, out, *args):
    shutil.rmtree(out, ignore_errors=True)
    r = subprocess.run([sinter, "synth-data", "-o", out, *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"sinter synth-data failed ({r.returncode}): {r.stderr}")
    return r.stdout


def load(path, size):
    img = Image.open(path)
    if img.mode != "L" or img.size != (size, size):
        sys.exit(f"{path}: {img.mode} {img.size}, expected L ({size}, {size})")
    return np.asarray(img)


def check_layout(a):
    per, size = 7, 96
    out = generate(a.sinter, a.work, "--per-class", str(per), "--size", str(size), "--seed", "3")
    if out.count("\n") != 1 or "SYNTHETIC" not in out:
        sys.exit(f"expected one line saying the images are SYNTHETIC, got: {out!r}")
    with open(os.path.join(a.work, "README.txt")) as f:
        if "SYNTHETIC" not in f.read():
            sys.exit("README.txt does not say the images are synthetic")
    entries = sorted(os.listdir(a.work))
    if entries != sorted(CLASSES + ["README.txt"]):
        sys.exit(f"unexpected top level: {entries}")
    for c in CLASSES:
        names = sorted(os.listdir(os.path.join(a.work, c, "images")))
        want = sorted(f"{c}-{k}.png" for k in range(1, per + 1))
        if names != want:
            sys.exit(f"{c}/images holds {names}, expected {want}")
        for n in names:
            load(os.path.join(a.work, c, "images", n), size)
    print(f"layout ok: {len(CLASSES)} classes x {per} images, {size}x{size} gray")


def features(img):
    hist = np.histogram(img, bins=16, range=(0, 256))[0] / img.size
    return np.concatenate([[img.mean()], hist])


def check_not_trivial(a):
    per, size = 150, 128
    generate(a.sinter, a.work, "--per-class", str(per), "--size", str(size))
    X, y, train = [], [], []
    for ci, c in enumerate(CLASSES):
        for k in range(1, per + 1):
            X.append(features(load(os.path.join(a.work, c, "images", f"{c}-{k}.png"), size)))
            y.append(ci)
            train.append(k % 2 == 0)
    X, y, train = np.array(X), np.array(y), np.array(train)
    mu, sd = X[train].mean(0), X[train].std(0)
    Z = (X - mu) / np.where(sd > 0, sd, 1)
    centroids = np.stack([Z[train & (y == c)].mean(0) for c in range(len(CLASSES))])
    d = ((Z[~train, None, :] - centroids[None]) ** 2).sum(-1)
    acc = float((d.argmin(1) == y[~train]).mean())
    print(f"nearest-centroid accuracy on mean + 16-bin histogram: {acc:.3f} (chance 0.25, limit 0.5)")
    if acc > 0.5:
        sys.exit("global statistics tell the classes apart")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("check", choices=["layout", "not_trivial"])
    p.add_argument("--sinter", required=True)
    p.add_argument("--work", required=True)
    a = p.parse_args()
    check_layout(a) if a.check == "layout" else check_not_trivial(a)


if __name__ == "__main__":
    main()
