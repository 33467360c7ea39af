#!/usr/bin/python3
"""Golden check of one training step against PyTorch (../shared/reference/keras_models.py).

usage: check_torch.py --sinter S --work DIR --models MODELS_DIR --shared SHARED NAME [--size 32] [--n 4]

For NAME in simple_cnn, deep_cnn, resnet50v2:
  1. builds the PyTorch model at --size with seeded Keras-style weights (Glorot kernels, small
     random biases and BN gamma/beta, moving statistics calibrated on a random batch), dropout
     p = 0, ResNet50V2 with the notebook's freeze (base_model.layers[:160], the frozen BNs in
     inference mode);
  2. exports those weights with Keras names, exactly as export_seed_models.py does (its
     export() and rename_initializers() are reused), then stores the Gemm dense kernels in
     Keras's [in, out] layout (see to_keras_dense_layout; --as-exported skips that);
  3. compiles models/NAME.nn --set size=SIZE (ResNet50V2: a copy with its two dropout rates
     set to 0) and runs `EXE gradients X.pb LABELS.pb W.pb --weights W.onnx` on n real
     X-rays from SHARED/data/cxr-256 resized to SIZE, labels and class weights as sample
     weights;
  4. compares the loss (Keras reduction: sum w_i l_i / n), EVERY parameter gradient and the
     batch statistics (stat/*.pb: the batch mean and the biased batch variance of each
     BatchNorm in training mode) with PyTorch's, in relative norm per tensor:
        ||g - g_ref|| / ||g_ref|| <= 1e-4
     with g_ref from PyTorch in float64; where float32 itself cannot reach 1e-4 (PyTorch in
     float32 is measured beside it), sinter may be up to 3 times float32 PyTorch's error;
     --known PARAM=TOL holds a reported sinter deviation to TOL instead;
     and checks that the gradient files are exactly the trainable parameters (the frozen
     prefix of ResNet50V2 has none) and that their count matches `sinter summary`.
L2 (the ResNet head's dense l2 = 1e-4) is not part of `EXE gradients`: sinter adds 2 l2 w in
the optimizer, so neither side includes it here.
"""
import argparse
import copy
import glob
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper
from PIL import Image

TOL = 1e-4


def load_reference(shared):
    sys.path.insert(0, os.path.join(shared, "reference"))
    import keras_models as km  # noqa: E402
    import export_seed_models as esm  # noqa: E402
    return km, esm


def init_(km, model, size, seed):
    """keras_models.keras_init_, with the calibration batch at the test size (keras_init_
    calibrates at 224, which the small DeepCNN cannot take)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                w = m.weight
                rf = w[0][0].numel() if w.dim() > 2 else 1
                fan_in, fan_out = w.shape[1] * rf, w.shape[0] * rf
                lim = (6.0 / (fan_in + fan_out)) ** 0.5
                w.copy_(torch.rand(w.shape, generator=g) * 2 * lim - lim)
                if m.bias is not None:
                    m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.1 - 0.05)
        bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        for m in bns:
            m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.4 + 0.8)
            m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.2 - 0.1)
            m.reset_running_stats()
            m.momentum = None
        model.train()
        model(torch.rand((8, 3, size, size), generator=g) * 255.0)
        for m in bns:
            m.momentum = km.KERAS_BN_MOMENTUM
        model.eval()


def xrays(shared, n, size):
    """n real X-rays, classes in turn, resized to size x size (RGB, 0..255, NCHW float)."""
    root = os.path.join(shared, "data", "cxr-256")
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    files = {c: sorted(glob.glob(os.path.join(root, c, "**", "*.png"), recursive=True)) for c in classes}
    xs, labels = [], []
    for i in range(n):
        c = i % len(classes)
        f = files[classes[c]][i // len(classes)]
        im = Image.open(f).convert("RGB").resize((size, size), Image.BILINEAR)
        xs.append(np.asarray(im, dtype=np.float32).transpose(2, 0, 1))
        labels.append(c)
    return np.stack(xs), np.array(labels, dtype=np.int64)


def write_pb(path, a):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(a).SerializeToString())


def read_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def to_keras_dense_layout(path):
    """Rewrites each Gemm(transB=1) dense kernel [out, in] of the export as Keras's [in, out]
    with transB=0 (the layout `EXE export-onnx` writes): `EXE gradients --weights` copies an
    initializer by name and element count only, so an [out, in] kernel would load transposed
    (a sinter bug, reported; --as-exported shows it)."""
    m = onnx.load(path)
    inits = {i.name: i for i in m.graph.initializer}
    for n in m.graph.node:
        if n.op_type != "Gemm" or n.input[1] not in inits or not n.input[1].endswith("/kernel"):
            continue
        for at in n.attribute:
            if at.name == "transB" and at.i == 1:
                i = inits[n.input[1]]
                i.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(numpy_helper.to_array(i).T), i.name))
                at.i = 0
    onnx.checker.check_model(m)
    onnx.save(m, path)


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.stdout.write(r.stdout)
        raise SystemExit("FAIL: %s exited with %d" % (" ".join(cmd), r.returncode))
    return r.stdout


def relerr(a, ref, floor=0.0):
    a = np.asarray(a, np.float64).ravel()
    ref = np.asarray(ref, np.float64).ravel()
    d = np.linalg.norm(ref)
    return np.linalg.norm(a - ref) / max(d, floor, 1e-300), d


def bound(e32):
    """sinter's error against float64 may be 1e-4, or 3 times float32 PyTorch's own error when
    float32 itself cannot reach 1e-4 (ResNet50V2's BatchNorms over a batch of 4 at 1x1 spatial
    size amplify rounding: float32 PyTorch is ~1.5e-3 off there)."""
    return max(TOL, 3.0 * e32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sinter", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--known", action="append", default=[], metavar="PARAM=TOL",
                    help="a known sinter deviation (reported): PARAM's gradient is held to TOL instead of 1e-4")
    ap.add_argument("--as-exported", action="store_true",
                    help="load export_seed_models.py's file unchanged (dense kernels [out, in] under Gemm transB=1)")
    ap.add_argument("name")
    a = ap.parse_args()
    known = {k.split("=")[0]: float(k.split("=")[1]) for k in a.known}
    km, esm = load_reference(a.shared)
    torch.manual_seed(0)
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)

    # --- PyTorch: the model, its weights, one training step
    if a.name == "deep_cnn":
        model = km.DeepCNN(size=a.size)
    else:
        model = km.build(a.name)
    init_(km, model, a.size, a.seed)
    frozen_bn = []
    if a.name == "resnet50v2":
        last, first, frozen_bn = km.freeze_keras_first_layers(model, 160)
        assert (last, first) == ("conv5_block1_2_pad", "conv5_block1_2_conv"), (last, first)
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    onnx_path = os.path.join(a.work, "weights.onnx")
    x_np, y_np = xrays(a.shared, a.n, a.size)
    x = torch.from_numpy(x_np)
    model.eval()
    esm.export(model, x, onnx_path, torch.onnx.TrainingMode.PRESERVE)
    state = dict(model.named_parameters())
    state.update(model.named_buffers())
    names = km.keras_weight_names(model)
    esm.rename_initializers(onnx_path, names, state)
    if not a.as_exported:
        to_keras_dense_layout(onnx_path)

    classes = 4
    counts = np.bincount(y_np, minlength=classes)
    cw = np.array([len(y_np) / (classes * c) if c else 0.0 for c in counts])  # Keras 'balanced'
    sw_np = cw[y_np].astype(np.float32)

    # Two PyTorch steps: in float64 (the reference) and in float32 (what float32 can reach).
    tnames = {n: m for n, m in model.named_modules()}
    bn_keras = {}
    for tname, kname in names.items():
        if kname.endswith("/moving_mean"):
            bn_keras[tname[: -len(".running_mean")]] = kname[: -len("/moving_mean")]
    frozen_ids = {id(m) for m in frozen_bn}
    frozen_names = {n for n, m in tnames.items() if id(m) in frozen_ids}

    ties = []

    def near_ties(t, k, st, pd):
        """Max-pool windows whose two largest values differ by less than float32 resolves: there
        the gradient's place is decided by rounding, and no float32 step can match float64."""
        t = t.detach()
        if k == 1:
            return
        cols = F.unfold(t, k, stride=st, padding=pd)
        cols = cols.view(t.shape[0], t.shape[1], k * k, -1)
        top = cols.topk(2, dim=2).values
        gap = (top[:, :, 0] - top[:, :, 1]) / top[:, :, 0].abs().clamp_min(1e-30)
        n = int(((gap > 0) & (gap < 2e-7)).sum())
        if n:
            ties.append("a %dx%d pooling of %s: %d window(s)" % (k, k, tuple(t.shape), n))

    def traced_max_pool2d(x, kernel_size, stride=None, padding=0, *args, **kw):
        """F.max_pool2d as the reference models call it, checking its windows in float64."""
        if x.dtype == torch.float64:
            near_ties(x, kernel_size, stride or kernel_size, padding)
        return plain_max_pool2d(x, kernel_size, stride, padding, *args, **kw)
    plain_max_pool2d = F.max_pool2d

    def torch_step(net, dtype):
        net = copy.deepcopy(net).to(dtype)
        net.train()
        for n, m in net.named_modules():
            if n in frozen_names:
                m.eval()  # Keras: a frozen BatchNorm runs in inference mode
        stats = {}

        def hook(mod, inp, out, name):
            if mod.training:
                t = inp[0].detach().double()
                dims = [0] + list(range(2, t.dim()))
                stats[bn_keras[name]] = (t.mean(dims).numpy(), t.var(dims, unbiased=False).numpy())
        for n, m in net.named_modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.register_forward_hook(lambda mod, i, o, n=n: hook(mod, i, o, n))

        logits = net.logits(x.to(dtype))
        per = F.cross_entropy(logits, torch.from_numpy(y_np), reduction="none")
        loss = (per * torch.from_numpy(sw_np).to(dtype)).sum() / a.n
        loss.backward()
        grads = {}
        for tname, p in net.named_parameters():
            if p.requires_grad:
                g = p.grad.detach().double().numpy()
                kname = names[tname]
                grads[kname] = g.T if kname.endswith("/kernel") and g.ndim == 2 else g  # Linear [out, in] -> [in, out]
        return loss.item(), F.softmax(logits, 1).detach().double().numpy(), grads, stats

    F.max_pool2d = traced_max_pool2d  # the reference models call torch.nn.functional.max_pool2d
    try:
        loss64, probs64, ref, stats64 = torch_step(model, torch.float64)
    finally:
        F.max_pool2d = plain_max_pool2d
    if ties:
        print("FAIL the inputs put max-pool windows at a near-tie that float32 cannot resolve (%s): "
              "the comparison is ill-posed; choose another --seed" % "; ".join(ties))
        sys.exit(1)
    loss32, probs32, ref32, stats32 = torch_step(model, torch.float32)
    # a tensor's error is taken relative to max(||g_ref||, floor): biases right before a
    # BatchNorm have an exact zero gradient, float32 leaves rounding noise there
    floor = 1e-3 * float(np.median([np.linalg.norm(v) for v in ref.values()]))

    # --- sinter
    model_file = os.path.join(a.models, a.name + ".nn")
    if a.name == "resnet50v2":
        src = open(model_file).read()
        src2, k = re.subn(r"dropout\(x, 0\.(25|4)\)", "dropout(x, 0)", src)
        assert k == 2, "expected the two head dropouts of resnet50v2.nn, found %d" % k
        model_file = os.path.join(a.work, "resnet50v2_nodropout.nn")
        open(model_file, "w").write(src2)
    exe = os.path.join(a.work, "exe")
    run([a.sinter, "compile", model_file, "--set", "size=%d" % a.size, "--train-batch", str(a.n), "-o", exe])
    summary = run([a.sinter, "summary", model_file, "--set", "size=%d" % a.size])
    trainable = int(re.search(r"Trainable params: ([\d,]+)", summary).group(1).replace(",", ""))
    for fn, arr in (("x.pb", x_np), ("y.pb", y_np), ("w.pb", sw_np)):
        write_pb(os.path.join(a.work, fn), arr)
    out = os.path.join(a.work, "out")
    run([exe, "gradients", os.path.join(a.work, "x.pb"), os.path.join(a.work, "y.pb"), os.path.join(a.work, "w.pb"),
         "-o", out, "--weights", onnx_path])

    failures = []
    print("%s size %d, batch %d, labels %s, sample weights %s" % (a.name, a.size, a.n, y_np.tolist(),
                                                                   np.round(sw_np, 3).tolist()))
    print("errors relative to PyTorch float64; sinter must be within max(1e-4, 3 x PyTorch float32's)")

    worst32 = [0.0]

    def check(what, got, ref64, ref32, floor_=0.0, tol=None):
        e, nrm = relerr(got, ref64, floor_)
        e32, _ = relerr(ref32, ref64, floor_)
        vs32, _ = relerr(got, ref32, floor_)  # the comparison: sinter against PyTorch as it runs (float32)
        b = bound(e32) if tol is None else tol
        ok = e <= b
        tag = "ok" if ok else "FAIL"
        if ok and tol is not None:
            tag = "KNOWN (tol %g)" % tol
        worst32[0] = max(worst32[0], vs32)
        print("  %-52s |ref| %-10.4g sinter %-9.3g float32 torch %-9.3g sinter vs float32 %-9.3g %s"
              % (what, nrm, e, e32, vs32, tag))
        if not ok:
            failures.append(what)
        return e

    got_loss = float(read_pb(os.path.join(out, "output_0.pb")).ravel()[0])
    print("loss: sinter %.8g, PyTorch float64 %.8g, float32 %.8g" % (got_loss, loss64, loss32))
    check("loss", [got_loss], [loss64], [loss32])
    check("probabilities", read_pb(os.path.join(out, "output_1.pb")), probs64, probs32)

    files = sorted(os.listdir(os.path.join(out, "grad")))
    have = {f[:-3]: f for f in files}
    want = {k.replace("/", "."): k for k in ref}
    if set(have) != set(want):
        print("FAIL: gradient files differ from PyTorch's trainable parameters: extra %s, missing %s" % (
            sorted(set(have) - set(want))[:8], sorted(set(want) - set(have))[:8]))
        failures.append("grad file list")
    n_scalars = sum(read_pb(os.path.join(out, "grad", f)).size for f in files)
    n_torch = sum(v.size for v in ref.values())
    print("gradient files: %d tensors, %d scalars; PyTorch trainable: %d tensors, %d scalars; sinter summary "
          "Trainable params: %d" % (len(files), n_scalars, len(ref), n_torch, trainable))
    if not n_scalars == n_torch == trainable:
        failures.append("trainable count")
    worst = (0.0, "")
    for fkey, kname in sorted(want.items()):
        if fkey not in have:
            continue
        g = read_pb(os.path.join(out, "grad", have[fkey]))
        if g.shape != ref[kname].shape:
            print("FAIL %s: shape %s, PyTorch %s" % (kname, g.shape, ref[kname].shape))
            failures.append(kname)
            continue
        e = check("grad " + kname, g, ref[kname], ref32[kname], floor, known.get(kname))
        if kname not in known:
            worst = max(worst, (e, kname))
    print("worst gradient error (without --known): %.3g (%s)" % worst)
    print("worst relative error against float32 PyTorch (same weights and batch): %.3g" % worst32[0])

    # batch statistics of the BatchNorms in training mode
    stat_files = sorted(os.listdir(os.path.join(out, "stat")))
    want_stats = set()
    worst_s = (0.0, "")
    for layer, (mean, var) in sorted(stats64.items()):
        for i, kind in enumerate(("moving_mean", "moving_variance")):
            f = "%s.%s.pb" % (layer, kind)
            want_stats.add(f)
            if f not in stat_files:
                continue
            e = check("stat " + f, read_pb(os.path.join(out, "stat", f)), (mean, var)[i], stats32[layer][i])
            worst_s = max(worst_s, (e, f))
    if set(stat_files) != want_stats:
        print("FAIL: batch statistic files differ from the BatchNorms PyTorch runs in training mode: extra %s, "
              "missing %s" % (sorted(set(stat_files) - want_stats)[:6], sorted(want_stats - set(stat_files))[:6]))
        failures.append("stat file list")
    print("batch statistics: %d files (%d BatchNorms in training mode), worst relative error %.3g (%s)" % (
        len(stat_files), len(stats64), worst_s[0], worst_s[1]))
    if failures:
        print("FAILED: %s" % ", ".join(failures[:20]))
        return 1
    print("PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
