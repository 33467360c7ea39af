"""Realistic small CNN classifiers (issue 11, point 6), built here in PyTorch 1.13 with seeded
weights, exported at opsets 11, 13 and 17, compiled by sinter and compared with ONNX Runtime and
with PyTorch itself (<= 1e-4 relative to the output's scale): MobileNet-V2-like (depthwise,
ReLU6, HardSwish), SqueezeNet-like (Concat, ceil-mode pools), ShuffleNet-like (channel shuffle
by Reshape/Transpose), EfficientNet-like (SiLU, squeeze-excite by ReduceMean, Sigmoid, Mul),
ResNet-18-like, VGG-like with LRN (an If in PyTorch's export), DenseNet-like, a U-Net-like encoder-decoder (ConvTranspose,
Resize, Concat), a Keras-style NHWC export (Transpose first, channels-last flatten), and an
AlexNet-like stem (11x11 stride 4, Dropout). Each opset-13 file also goes through `sinter
import`, and the .nn compiled with the file's weights must give PyTorch's outputs (VGG-like's LRN,
which PyTorch exports as a channel Pad and a 3-D pool, is written as the DSL's lrn).
usage: check_real_models.py SINTER ORT_RUN_JS ORT_NODE_MODULES WORK_DIR [NAME...]"""
import concurrent.futures
import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

SINTER, ORT_RUN, ORT_MODULES, WORK = sys.argv[1:5]
ONLY = set(sys.argv[5:])
OPSETS = (11, 13, 17)
BATCH = 2
torch.manual_seed(0)
warnings.filterwarnings("ignore")  # the exporter's notes on constant folding and shapes


def conv_bn(cin, cout, k=3, s=1, groups=1, act=nn.ReLU):
    return [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)] + ([act()] if act else [])


class InvertedResidual(nn.Module):  # MobileNet-V2: 1x1 expand, 3x3 depthwise, 1x1 project
    def __init__(self, cin, cout, s, expand):
        super().__init__()
        mid = cin * expand
        self.res = s == 1 and cin == cout
        self.f = nn.Sequential(*conv_bn(cin, mid, 1, act=nn.ReLU6), *conv_bn(mid, mid, 3, s, mid, nn.ReLU6),
                               *conv_bn(mid, cout, 1, act=None))

    def forward(self, x):
        return x + self.f(x) if self.res else self.f(x)


def mobilenet_v2():
    return nn.Sequential(*conv_bn(3, 16, 3, 2, act=nn.Hardswish), InvertedResidual(16, 16, 1, 2),
                         InvertedResidual(16, 24, 2, 4), InvertedResidual(24, 24, 1, 4), *conv_bn(24, 64, 1, act=nn.Hardswish),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 4)), (3, 48, 48)


class Fire(nn.Module):
    def __init__(self, cin, squeeze, expand):
        super().__init__()
        self.s = nn.Sequential(nn.Conv2d(cin, squeeze, 1), nn.ReLU())
        self.e1 = nn.Sequential(nn.Conv2d(squeeze, expand, 1), nn.ReLU())
        self.e3 = nn.Sequential(nn.Conv2d(squeeze, expand, 3, padding=1), nn.ReLU())

    def forward(self, x):
        x = self.s(x)
        return torch.cat([self.e1(x), self.e3(x)], 1)


def squeezenet():
    return nn.Sequential(nn.Conv2d(3, 32, 3, 2), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True), Fire(32, 8, 16),
                         Fire(32, 8, 16), nn.MaxPool2d(3, 2, ceil_mode=True), Fire(32, 16, 32), nn.Dropout(0.5),
                         nn.Conv2d(64, 4, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()), (3, 57, 57)


class Shuffle(nn.Module):
    def __init__(self, groups):
        super().__init__()
        self.g = groups

    def forward(self, x):
        n, c, h, w = x.shape
        return x.reshape(n, self.g, c // self.g, h, w).transpose(1, 2).reshape(n, c, h, w)


def shufflenet():
    return nn.Sequential(*conv_bn(3, 24, 3, 2), nn.Conv2d(24, 48, 1, groups=4), Shuffle(4),
                         *conv_bn(48, 48, 3, 1, 48, None), nn.Conv2d(48, 96, 1, groups=4), nn.ReLU(), Shuffle(4),
                         nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(96, 4)), (3, 40, 40)


class SqueezeExcite(nn.Module):
    def __init__(self, c, r):
        super().__init__()
        self.a, self.b = nn.Conv2d(c, c // r, 1), nn.Conv2d(c // r, c, 1)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)  # ReduceMean
        return x * torch.sigmoid(self.b(nn.functional.silu(self.a(s))))


def efficientnet():
    return nn.Sequential(*conv_bn(3, 16, 3, 2, act=nn.SiLU), *conv_bn(16, 16, 3, 1, 16, nn.SiLU), SqueezeExcite(16, 4),
                         *conv_bn(16, 32, 1, act=None), *conv_bn(32, 64, 1, act=nn.SiLU), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Dropout(0.2), nn.Linear(64, 4)), (3, 40, 40)


class Basic(nn.Module):  # ResNet-18's basic block
    def __init__(self, cin, cout, s):
        super().__init__()
        self.f = nn.Sequential(*conv_bn(cin, cout, 3, s), *conv_bn(cout, cout, 3, act=None))
        self.down = nn.Sequential(*conv_bn(cin, cout, 1, s, act=None)) if s != 1 or cin != cout else nn.Identity()

    def forward(self, x):
        return torch.relu(self.f(x) + self.down(x))


def resnet18():
    return nn.Sequential(*conv_bn(3, 16, 7, 2), nn.MaxPool2d(3, 2, 1), Basic(16, 16, 1), Basic(16, 32, 2),
                         Basic(32, 64, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 4)), (3, 64, 64)


# PyTorch 1.13 writes nn.LocalResponseNorm as a decomposition (Pad, AveragePool, Pow) with an If on
# the input's rank, which sinter compiles as the branch its constant condition selects; the
# decomposition becomes one LRN (passes/fuse_lrn.c), for sinter run and in the imported .nn.
def vgg():
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.LocalResponseNorm(5, 1e-3, 0.75, 2.0),
                         nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1),
                         nn.ReLU(), nn.LocalResponseNorm(3), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 8 * 8, 32),
                         nn.ReLU(), nn.Dropout(), nn.Linear(32, 4), nn.Softmax(1)), (3, 32, 32)


class DenseLayer(nn.Module):
    def __init__(self, cin, growth):
        super().__init__()
        self.f = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, growth, 3, padding=1, bias=False))

    def forward(self, x):
        return torch.cat([x, self.f(x)], 1)


def densenet():
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), DenseLayer(16, 8), DenseLayer(24, 8),
                         nn.BatchNorm2d(32), nn.ReLU(), nn.Conv2d(32, 16, 1, bias=False), nn.AvgPool2d(2),
                         DenseLayer(16, 8), nn.BatchNorm2d(24), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(24, 4)), (3, 32, 32)


class UNet(nn.Module):  # two levels down, one transposed conv and one resize up, skip Concats
    def __init__(self):
        super().__init__()
        self.e1 = nn.Sequential(*conv_bn(1, 8, 3))
        self.e2 = nn.Sequential(nn.MaxPool2d(2), *conv_bn(8, 16, 3))
        self.e3 = nn.Sequential(nn.MaxPool2d(2), *conv_bn(16, 32, 3))
        self.up1 = nn.ConvTranspose2d(32, 16, 2, 2)
        self.d1 = nn.Sequential(*conv_bn(32, 16, 3))
        self.up2 = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.d2 = nn.Sequential(*conv_bn(24, 8, 3))
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x):
        a = self.e1(x)
        b = self.e2(a)
        c = self.e3(b)
        d = self.d1(torch.cat([self.up1(c), b], 1))
        return self.head(self.d2(torch.cat([self.up2(d), a], 1)))


def unet():
    return UNet(), (1, 32, 32)


class KerasNhwc(nn.Module):  # tf2onnx's layout: NHWC input, Transpose to NCHW, channels-last Flatten
    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3), nn.ReLU(),
                               nn.MaxPool2d(2))
        self.fc = nn.Linear(16 * 5 * 5, 4)

    def forward(self, x):
        y = self.f(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return torch.softmax(self.fc(y.reshape(y.shape[0], -1)), 1)


def keras_nhwc():
    return KerasNhwc(), (28, 28, 1)


def alexnet():
    return nn.Sequential(nn.Conv2d(3, 16, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2), nn.Conv2d(16, 32, 5, padding=2),
                         nn.ReLU(), nn.MaxPool2d(3, 2), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
                         nn.Flatten(), nn.Dropout(), nn.Linear(32 * 3 * 3, 32), nn.ReLU(), nn.Linear(32, 4)), (3, 127, 127)


MODELS = {f.__name__: f for f in (mobilenet_v2, squeezenet, shufflenet, efficientnet, resnet18, vgg, densenet,
                                  unet, keras_nhwc, alexnet)}


def randomise_bn(model):  # BatchNorm statistics that are not the identity, so folding shows
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(m.num_features, generator=g) - 0.5)


def prepare(name):
    """Exports the model at every opset and writes the input and PyTorch's output."""
    model, shape = MODELS[name]()
    randomise_bn(model)
    model.eval()
    x = torch.rand(BATCH, *shape, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want = model(x).numpy()
    cases = []
    for opset in OPSETS:
        d = os.path.join(WORK, "%s-%d" % (name, opset))
        os.makedirs(d)
        path = os.path.join(d, "model.onnx")
        torch.onnx.export(model, x, path, opset_version=opset, input_names=["input"], output_names=["output"])
        with open(os.path.join(d, "input_0.pb"), "wb") as f:
            f.write(numpy_helper.from_array(x.numpy(), "input").SerializeToString())
        cases.append((name, opset, d, want))
    return cases


def output_of(d):
    return numpy_helper.to_array(onnx.load_tensor(os.path.join(d, "output_0.pb")))


NOT_IMPORTED = {}  # name: what sinter import's refusal must say
WRITTEN = {"vgg": ("= lrn(", 2)}  # name: (a DSL call the imported .nn must hold, how many times)


def compare(what, got, ref, ref_name):
    if got.shape != ref.shape:
        return "%s: shape %s, %s %s" % (what, got.shape, ref_name, ref.shape)
    scale = max(float(np.abs(ref).max()), 1e-3)
    err = float(np.abs(got.astype(np.float64) - ref).max()) / scale
    return None if err <= 1e-4 else "%s: largest difference from %s %.3g of the output's scale" % (what, ref_name, err)


def check_import(name, d, want):
    """sinter import -> compile the .nn with the file's weights -> run: PyTorch's output again."""
    what, nn_path, exe = "%s imported" % name, os.path.join(d, "m.nn"), os.path.join(d, "imported")
    p = subprocess.run([SINTER, "import", os.path.join(d, "model.onnx"), "-o", nn_path], capture_output=True, text=True)
    if name in NOT_IMPORTED:
        ok = p.returncode != 0 and NOT_IMPORTED[name] in p.stderr
        return None if ok else "%s: expected refused with %r, got exit %d: %s" % (what, NOT_IMPORTED[name], p.returncode,
                                                                                   p.stderr[-500:])
    if not p.returncode and name in WRITTEN:
        call, times = WRITTEN[name]
        found = open(nn_path).read().count(call)
        if found != times:
            return "%s: the .nn holds %r %d times, expected %d" % (what, call, found, times)
    for cmd in ([] if p.returncode else [[SINTER, "compile", nn_path, "--weights", os.path.join(d, "model.onnx"), "--batch",
                                          str(BATCH), "-o", exe]]) + [[exe, "run", os.path.join(d, "input_0.pb"), "-o",
                                                                        os.path.join(d, "imported_out")]]:
        if p.returncode:
            return "%s: %s exit %d\n%s" % (what, os.path.basename(p.args[0]), p.returncode, p.stderr[-1500:])
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode:
        return "%s: run exit %d\n%s" % (what, p.returncode, p.stderr[-1500:])
    return compare(what, output_of(os.path.join(d, "imported_out")), want, "PyTorch")


def check(case):
    name, opset, d, want = case
    what = "%s opset %d" % (name, opset)
    p = subprocess.run([SINTER, "run", os.path.join(d, "model.onnx"), os.path.join(d, "input_0.pb"), "-o",
                        os.path.join(d, "sinter")], capture_output=True, text=True, timeout=300)
    if p.returncode:
        return "%s: sinter run exit %d\n%s" % (what, p.returncode, p.stderr[-1500:])
    env = dict(os.environ, ORT_NODE_MODULES=ORT_MODULES)
    p = subprocess.run(["node", ORT_RUN, os.path.join(d, "model.onnx"), os.path.join(d, "input_0.pb"), "-o",
                        os.path.join(d, "ort")], capture_output=True, text=True, env=env, timeout=300)
    if p.returncode:
        return "%s: ONNX Runtime failed\n%s" % (what, p.stderr[-1500:])
    got = output_of(os.path.join(d, "sinter"))
    errors = [compare(what, got, ref, ref_name) for ref, ref_name in ((output_of(os.path.join(d, "ort")), "ONNX Runtime"),
                                                                      (want, "PyTorch"))]
    if opset == 13:
        errors.append(check_import(name, d, want))
    return "\n".join(e for e in errors if e) or None


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    names = [n for n in MODELS if not ONLY or n in ONLY]
    cases = [c for n in names for c in prepare(n)]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(check, cases))
    failures = [r for r in results if r]
    for c, r in zip(cases, results):
        print("%s %s opset %d" % ("FAIL" if r else "ok  ", c[0], c[1]))
    if failures:
        print("FAIL\n" + "\n".join(failures))
        sys.exit(1)
    print("PASS %d models x %d opsets match ONNX Runtime and PyTorch; imported to the DSL (opset 13), %d of them "
          "compile to PyTorch's outputs" % (len(names), len(OPSETS), len([n for n in names if n not in NOT_IMPORTED])))


main()
