"""Third-party-style CNNs for bench/zoo, exported from PyTorch with seeded random weights: the
shapes people bring besides the seed models (MNIST-size inputs, stride-4 stems, depthwise
blocks, 384x384 inputs, an NHWC graph as tf2onnx writes it: a Transpose first).
  /usr/bin/python3 bench/zoo_models.py OUTDIR   -> OUTDIR/NAME.onnx (dynamic batch)"""
import os
import sys

import torch
from torch import nn

torch.manual_seed(0)


def lenet():  # LeCun's LeNet-5 on 1x28x28 (max pooling, as most re-implementations)
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10), nn.Softmax(1)), (1, 28, 28)


def mnist_cnn():  # the Keras MNIST example's convnet
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Dropout(0.25), nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Linear(128, 10)), (1, 28, 28)


def alexnet_stem():  # AlexNet's features (11x11 stride-4 stem) with a small head
    return nn.Sequential(nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2), nn.Conv2d(64, 192, 5, padding=2),
                         nn.ReLU(), nn.MaxPool2d(3, 2), nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(3, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, 10)), (3, 224, 224)


def dw_block(cin, cout, stride):
    return [nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin), nn.ReLU6(),
            nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU6()]


def mobilenet_384():  # MobileNet v1 blocks (depthwise + pointwise, ReLU6) on 384x384
    layers = [nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6()]
    for cin, cout, s in [(32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1), (256, 512, 2),
                         (512, 512, 1), (512, 1024, 2)]:
        layers += dw_block(cin, cout, s)
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1024, 4)).eval(), (3, 384, 384)


class Nhwc(nn.Module):  # tf2onnx-style: NHWC input, a Transpose to NCHW, channels-last flatten
    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(nn.Conv2d(3, 32, 8, 4, 2), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
                               nn.MaxPool2d(2), nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                               nn.Conv2d(128, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.fc = nn.Linear(128 * 12 * 12, 4)

    def forward(self, x):
        y = self.f(x.permute(0, 3, 1, 2))
        return torch.softmax(self.fc(y.permute(0, 2, 3, 1).flatten(1)), 1)


def nhwc_stride4():
    return Nhwc(), (384, 384, 3)


def vgg_384():  # VGG-style 3x3 blocks on 384x384
    cfg, layers, cin = [32, "M", 64, "M", 128, 128, "M", 256, 256, "M"], [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU()]
            cin = v
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, 4)).eval(), (3, 384, 384)


MODELS = [lenet, mnist_cnn, alexnet_stem, mobilenet_384, nhwc_stride4, vgg_384]

if __name__ == "__main__":
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for make in MODELS:
        model, shape = make()
        model.eval()
        for m in model.modules():  # statistics that are not the identity
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
        x = torch.rand(2, *shape) * 255
        torch.onnx.export(model, x, os.path.join(out, make.__name__ + ".onnx"), input_names=["input"],
                          output_names=["output"], dynamic_axes={"input": {0: "n"}, "output": {0: "n"}}, opset_version=13)
