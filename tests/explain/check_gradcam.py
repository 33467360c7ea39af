#!/usr/bin/env python3
"""EXE explain against an independent Grad-CAM in PyTorch on the seed models of
../shared/reference (keras_models.py, the weights export_seed_models.py draws).

Grad-CAM (Selvaraju et al.): the class score is the logit; channel weights are the spatial mean
of its gradient over the layer's output; the map is ReLU of the weighted channel sum divided by
its maximum. The map before upsampling must agree within 1e-4. The image goes into PyTorch as
sinter feeds it: decoded by Pillow, resized bilinearly (half-pixel centres) to the model's size.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

# The module whose output is each model's last convolution as sinter names it: the DSL model's
# raw convolution (Keras's 'conv2d_2'), or in a plain eval-mode ONNX export, where PyTorch folded
# the BatchNorm into the convolution, the BatchNorm's output.
LAST_CONV = {"simple_cnn": ("blocks", 2, "conv", "conv2d_2"), "deep_cnn": ("blocks", 3, "conv", "conv2d_3"),
             "simple_cnn-onnx": ("blocks", 2, "bn", "/blocks/blocks.2/conv/Conv"),
             "resnet50v2": ("backbone", None, "conv5.2.conv3", "conv5_block3_3_conv")}


def torch_gradcam(model, x, module, cls):
    acts = {}
    h1 = module.register_forward_hook(lambda m, i, o: acts.__setitem__("a", o))
    logits = model.logits(x)
    h1.remove()
    a = acts["a"]
    k = int(logits.argmax(1)) if cls is None else cls
    (g,) = torch.autograd.grad(logits[0, k], a)
    alpha = g.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((alpha * a).sum(1))[0].double()
    mx = float(cam.max())
    return k, F.softmax(logits, 1)[0].detach().numpy(), (cam / mx if mx > 0 else cam).detach().numpy(), mx


def load_image(path, size):
    img = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32).transpose(2, 0, 1)[None]
    x = torch.from_numpy(img)
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sinter", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("model")
    a = ap.parse_args()
    sys.path.insert(0, os.path.join(a.shared, "reference"))
    import keras_models as km

    torch.manual_seed(0)
    onnx_graph = a.model.endswith("-onnx")
    name = a.model[: -len("-onnx")] if onnx_graph else a.model
    model = km.build(name)  # keras_init_ calibrates at 224; DeepCNN's dense layer fixes its size
    if name == "deep_cnn":
        a.size = 224
    km.keras_init_(model, seed=1)
    model.eval()
    attr, idx, sub, layer = LAST_CONV[a.model]
    conv = getattr(model, attr)
    conv = conv[idx] if idx is not None else conv
    for part in sub.split("."):
        conv = conv[int(part)] if part.isdigit() else getattr(conv, part)
    images = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(a.shared, "data", "cxr-256")) for f in fs
                    if f.endswith(".png"))[::97][:3]
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, a.model)
        weights = os.path.join(tmp, "w.onnx")  # the same draw, exported at the test's size
        export_at_size(km, model, weights, a.size, onnx_graph)
        if onnx_graph:
            compile_cmd = [a.sinter, "compile", weights, "--explain", "--labels", "COVID,Normal,Viral Pneumonia,Lung_Opacity"]
        else:
            compile_cmd = [a.sinter, "compile", os.path.join(a.models, name + ".nn"), "--set", f"size={a.size}",
                           "--weights", weights]
        subprocess.run(compile_cmd + ["-o", exe], check=True)
        for cls in (None, 0):
            out = os.path.join(tmp, f"out{cls}")
            cmd = [exe, "explain", *images, "-o", out] + ([] if cls is None else ["--class", "COVID"])
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                print(r.stdout, r.stderr)
                return 1
            assert f"layer '{layer}' (the last convolution)" in r.stdout, r.stdout
            for i, path in enumerate(images):
                stem = os.path.splitext(os.path.basename(path))[0]
                got = json.load(open(os.path.join(out, stem + ".gradcam.json")))
                assert os.path.getsize(os.path.join(out, stem + ".gradcam.png")) > 0
                with torch.enable_grad():
                    k, probs, cam, mx = torch_gradcam(model, load_image(path, a.size), conv, cls)
                gmap = np.array(got["map"]["values"]).reshape(got["map"]["height"], got["map"]["width"])
                dmap = np.abs(gmap - cam).max()
                dprob = np.abs(np.array(list(got["probabilities"].values())) - probs).max()
                ok = got["class_index"] == k and dmap <= 1e-4 and dprob <= 1e-4 and got["layer"] == layer
                print(f"{a.model} {stem} class {k}: map max |diff| {dmap:.2e}, probs {dprob:.2e}, raw max "
                      f"{got['map']['max']:.6g} vs {mx:.6g}, nonzero {np.count_nonzero(cam)}/{cam.size}: {'ok' if ok else 'FAIL'}")
                failures += not ok
    return 1 if failures else 0


def export_at_size(km, model, path, size, plain):
    """The seed draw at another input size: with the Keras names --weights matches, or (plain)
    as PyTorch's eval-mode export, BatchNorms folded into the convolutions."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("esm", os.path.join(os.path.dirname(km.__file__), "export_seed_models.py"))
    esm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(esm)
    x = torch.rand((1, 3, size, size)) * 255.0
    if plain:
        return esm.export(model, x, path, torch.onnx.TrainingMode.EVAL)
    esm.export(model, x, path, torch.onnx.TrainingMode.PRESERVE)
    state = dict(model.named_parameters())
    state.update(model.named_buffers())
    esm.rename_initializers(path, km.keras_weight_names(model), state)


if __name__ == "__main__":
    sys.exit(main())
