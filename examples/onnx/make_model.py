#!/usr/bin/python3
"""A third-party ONNX classifier for the example: a small PyTorch CNN (conv-BN-ReLU-pool x2,
global average pooling, linear, softmax) with seeded random weights, exported by
torch.onnx.export. Like most torchvision-style models it expects ImageNet-normalised input,
(pixel / 255 - mean) / std, NCHW, so sinter compile needs --scale/--mean/--std.

usage: make_model.py OUT.onnx [--size S]   (Debian's python3-torch)"""
import argparse

import torch
from torch import nn

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--size", type=int, default=32)
a = ap.parse_args()
torch.manual_seed(0)
net = nn.Sequential(
    nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 3), nn.Softmax(dim=1))
with torch.no_grad():  # non-trivial BN statistics, so folding them is exercised
    for m in net:
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.2, 0.2)
net.eval()
x = torch.randn(1, 3, a.size, a.size)
torch.onnx.export(net, x, a.out, opset_version=13, input_names=["input"], output_names=["probs"],
                  dynamic_axes={"input": {0: "N"}, "probs": {0: "N"}})
print("wrote", a.out)
