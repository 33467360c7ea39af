"""Third-party-style CNNs for bench/zoo, exported from PyTorch with seeded random weights: the
shapes people bring besides the seed models (MNIST-size inputs, stride-4 stems, depthwise
blocks, 384x384 inputs, an NHWC graph as tf2onnx writes it: a Transpose first; SqueezeNet, SE,
grouped-conv, DenseNet and MLP shapes; MobileNet-V2 with HardSwish, EfficientNet-like SiLU and
squeeze-excitation, ResNet-18 and a U-Net-like encoder-decoder, as issue 11's realistic models; ConvNeXt's LayerNorm
and GELU as PyTorch exports them; Inception-v3's blocks with their stride-1 average pools).
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


class Fire(nn.Module):
    def __init__(self, cin, squeeze, expand):
        super().__init__()
        self.squeeze = nn.Sequential(nn.Conv2d(cin, squeeze, 1), nn.ReLU())
        self.e1 = nn.Sequential(nn.Conv2d(squeeze, expand, 1), nn.ReLU())
        self.e3 = nn.Sequential(nn.Conv2d(squeeze, expand, 3, padding=1), nn.ReLU())

    def forward(self, x):
        x = self.squeeze(x)
        return torch.cat([self.e1(x), self.e3(x)], 1)


def squeezenet():  # SqueezeNet 1.1: Fire modules (1x1 squeeze, 1x1 and 3x3 expand, Concat), ceil-mode pools
    pool = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)
    return nn.Sequential(nn.Conv2d(3, 64, 3, 2), nn.ReLU(), pool(), Fire(64, 16, 64), Fire(128, 16, 64), pool(),
                         Fire(128, 32, 128), Fire(256, 32, 128), pool(), Fire(256, 48, 192), Fire(384, 64, 256),
                         nn.Dropout(0.5), nn.Conv2d(512, 4, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()), (3, 224, 224)


class SeBlock(nn.Module):  # a residual block whose branch is scaled per channel by a squeeze-excitation gate
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                                  nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c // 4, 1), nn.ReLU(), nn.Conv2d(c // 4, c, 1),
                                  nn.Sigmoid())

    def forward(self, x):
        y = self.body(x)
        return torch.relu(x + y * self.gate(y))


def se_resnet():  # residual blocks with squeeze-excitation gates (a Sigmoid scale broadcast over the map)
    return nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1), SeBlock(64),
                         SeBlock(64), nn.Conv2d(64, 128, 3, 2, 1), SeBlock(128), SeBlock(128), nn.Conv2d(128, 256, 3, 2, 1),
                         SeBlock(256), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, 4)), (3, 224, 224)


class Shuffle(nn.Module):  # ShuffleNet's channel shuffle: Reshape, Transpose, Reshape
    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, x):
        n, c, h, w = x.shape
        return x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def grouped():  # ResNeXt / ShuffleNet-like grouped convs (4 to 32 groups) with a channel shuffle
    return nn.Sequential(nn.Conv2d(3, 64, 3, 2, 1), nn.ReLU(), nn.Conv2d(64, 128, 1, groups=4), nn.BatchNorm2d(128),
                         nn.ReLU(), Shuffle(4), nn.Conv2d(128, 128, 3, 1, 1, groups=32), nn.BatchNorm2d(128),
                         nn.Conv2d(128, 256, 1, groups=4), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(256, 256, 3, 1, 1, groups=32),
                         nn.ReLU(), nn.AvgPool2d(2), nn.Conv2d(256, 512, 3, 2, 1, groups=8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 4)), (3, 224, 224)


class DenseLayer(nn.Module):
    def __init__(self, cin, growth):
        super().__init__()
        self.f = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, 4 * growth, 1, bias=False),
                               nn.BatchNorm2d(4 * growth), nn.ReLU(), nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False))

    def forward(self, x):
        return torch.cat([x, self.f(x)], 1)


def densenet():  # DenseNet blocks: BN-ReLU-conv growing a Concat, transitions with average pooling
    layers, c = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)], 64
    for _ in range(2):
        for _ in range(4):
            layers.append(DenseLayer(c, 32))
            c += 32
        layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c // 2, 1, bias=False), nn.AvgPool2d(2)]
        c //= 2
    layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 4)]
    return nn.Sequential(*layers), (3, 224, 224)


def mlp():  # a multilayer perceptron on MNIST (Gemm layers only)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10),
                         nn.LogSoftmax(1)), (1, 28, 28)


def conv_bn(cin, cout, k=3, s=1, groups=1, act=nn.ReLU):
    return [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)] + ([act()] if act else [])


class InvertedResidual(nn.Module):  # MobileNet-V2's block: 1x1 expand, 3x3 depthwise, 1x1 project
    def __init__(self, cin, cout, s, expand, act=nn.ReLU6):
        super().__init__()
        mid = cin * expand
        self.res = s == 1 and cin == cout
        self.f = nn.Sequential(*conv_bn(cin, mid, 1, act=act), *conv_bn(mid, mid, 3, s, mid, act), *conv_bn(mid, cout, 1, act=None))

    def forward(self, x):
        return x + self.f(x) if self.res else self.f(x)


def mobilenet_v2():  # MobileNet-V2 blocks at 224x224, a HardSwish stem and head as MobileNet-V3 has them
    blocks = [InvertedResidual(16, 16, 1, 1)]
    for cin, cout, s, n in [(16, 24, 2, 2), (24, 32, 2, 3), (32, 64, 2, 4), (64, 96, 1, 3), (96, 160, 2, 3)]:
        blocks += [InvertedResidual(cin if i == 0 else cout, cout, s if i == 0 else 1, 6) for i in range(n)]
    return nn.Sequential(*conv_bn(3, 16, 3, 2, act=nn.Hardswish), *blocks, *conv_bn(160, 640, 1, act=nn.Hardswish),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(640, 4)), (3, 224, 224)


class SqueezeExcite(nn.Module):  # EfficientNet's gate: ReduceMean, SiLU, Sigmoid, Mul
    def __init__(self, c, r=4):
        super().__init__()
        self.a, self.b = nn.Conv2d(c, c // r, 1), nn.Conv2d(c // r, c, 1)

    def forward(self, x):
        return x * torch.sigmoid(self.b(nn.functional.silu(self.a(x.mean((2, 3), keepdim=True)))))


def efficientnet():  # EfficientNet-B0-like MBConv blocks with SiLU and squeeze-excitation at 224x224
    layers = [*conv_bn(3, 32, 3, 2, act=nn.SiLU)]
    for cin, cout, s in [(32, 16, 1), (16, 24, 2), (24, 40, 2), (40, 80, 2), (80, 112, 1), (112, 192, 2)]:
        mid = cin * (1 if cin == 32 else 6)
        layers += [*conv_bn(cin, mid, 1, act=nn.SiLU), *conv_bn(mid, mid, 3, s, mid, nn.SiLU), SqueezeExcite(mid),
                   *conv_bn(mid, cout, 1, act=None)]
    return nn.Sequential(*layers, *conv_bn(192, 640, 1, act=nn.SiLU), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(640, 4)), (3, 224, 224)


class Basic(nn.Module):  # ResNet-18's basic block
    def __init__(self, cin, cout, s):
        super().__init__()
        self.f = nn.Sequential(*conv_bn(cin, cout, 3, s), *conv_bn(cout, cout, 3, act=None))
        self.down = nn.Sequential(*conv_bn(cin, cout, 1, s, act=None)) if s != 1 or cin != cout else nn.Identity()

    def forward(self, x):
        return torch.relu(self.f(x) + self.down(x))


def resnet18():  # ResNet-18 at 224x224
    return nn.Sequential(*conv_bn(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1), Basic(64, 64, 1), Basic(64, 64, 1),
                         Basic(64, 128, 2), Basic(128, 128, 1), Basic(128, 256, 2), Basic(256, 256, 1), Basic(256, 512, 2),
                         Basic(512, 512, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 4)), (3, 224, 224)


class UNet(nn.Module):  # a U-Net-like encoder-decoder on a 1x256x256 X-ray: ConvTranspose, Resize, Concat skips
    def __init__(self):
        super().__init__()
        self.e1, self.e2 = nn.Sequential(*conv_bn(1, 16), *conv_bn(16, 16)), nn.Sequential(nn.MaxPool2d(2), *conv_bn(16, 32))
        self.e3 = nn.Sequential(nn.MaxPool2d(2), *conv_bn(32, 64), *conv_bn(64, 64))
        self.up1, self.d1 = nn.ConvTranspose2d(64, 32, 2, 2), nn.Sequential(*conv_bn(64, 32))
        self.up2 = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.d2, self.head = nn.Sequential(*conv_bn(48, 16)), nn.Conv2d(16, 2, 1)

    def forward(self, x):
        a = self.e1(x)
        b = self.e2(a)
        d = self.d1(torch.cat([self.up1(self.e3(b)), b], 1))
        return self.head(self.d2(torch.cat([self.up2(d), a], 1)))


def unet():
    return UNet(), (1, 256, 256)



class CNBlock(nn.Module):  # ConvNeXt's block: 7x7 depthwise, LayerNorm over channels (NHWC), Linear-GELU-Linear, residual
    def __init__(self, d):
        super().__init__()
        self.dw = nn.Conv2d(d, d, 7, 1, 3, groups=d)
        self.ln = nn.LayerNorm(d)
        self.l1, self.l2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        y = self.dw(x).permute(0, 2, 3, 1)
        return x + self.l2(nn.functional.gelu(self.l1(self.ln(y)))).permute(0, 3, 1, 2)


class LN2d(nn.Module):  # LayerNorm over the channels of an NCHW map
    def __init__(self, d):
        super().__init__()
        self.ln = nn.LayerNorm(d)

    def forward(self, x):
        return self.ln(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def convnext():  # ConvNeXt-T-like: 4x4 stride-4 patchify stem, two stages of 3 blocks at 224x224
    return nn.Sequential(nn.Conv2d(3, 96, 4, 4), LN2d(96), CNBlock(96), CNBlock(96), CNBlock(96), LN2d(96),
                         nn.Conv2d(96, 192, 2, 2), CNBlock(192), CNBlock(192), CNBlock(192), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(192, 10)), (3, 224, 224)

def bconv(cin, cout, k, s=1, p=0):  # Inception's BasicConv2d: conv without bias, BatchNorm, ReLU
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, p, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class IncA(nn.Module):  # Inception-v3's 35x35 block: 1x1, 5x5, double 3x3 and a 3x3 stride-1 average-pool branch
    def __init__(self, cin, pool):
        super().__init__()
        self.b1 = bconv(cin, 64, 1)
        self.b5 = nn.Sequential(bconv(cin, 48, 1), bconv(48, 64, 5, p=2))
        self.b3 = nn.Sequential(bconv(cin, 64, 1), bconv(64, 96, 3, p=1), bconv(96, 96, 3, p=1))
        self.bp = nn.Sequential(nn.AvgPool2d(3, 1, 1), bconv(cin, pool, 1))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b5(x), self.b3(x), self.bp(x)], 1)


class IncB(nn.Module):  # the reduction to 17x17: stride-2 3x3 convs and a 3x3 stride-2 max pool
    def __init__(self, cin):
        super().__init__()
        self.b3 = bconv(cin, 384, 3, 2)
        self.bd = nn.Sequential(bconv(cin, 64, 1), bconv(64, 96, 3, p=1), bconv(96, 96, 3, 2))
        self.pool = nn.MaxPool2d(3, 2)

    def forward(self, x):
        return torch.cat([self.b3(x), self.bd(x), self.pool(x)], 1)


class IncC(nn.Module):  # the 17x17 block: factorised 1x7 / 7x1 convs and an average-pool branch
    def __init__(self, cin, c7):
        super().__init__()
        self.b1 = bconv(cin, 192, 1)
        self.b7 = nn.Sequential(bconv(cin, c7, 1), bconv(c7, c7, (1, 7), p=(0, 3)), bconv(c7, 192, (7, 1), p=(3, 0)))
        self.bd = nn.Sequential(bconv(cin, c7, 1), bconv(c7, c7, (7, 1), p=(3, 0)), bconv(c7, 192, (1, 7), p=(0, 3)))
        self.bp = nn.Sequential(nn.AvgPool2d(3, 1, 1), bconv(cin, 192, 1))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b7(x), self.bd(x), self.bp(x)], 1)


def inception():  # Inception-v3-like at 299x299: its stem, two 35x35 blocks, the reduction, two 17x17 blocks
    return nn.Sequential(bconv(3, 32, 3, 2), bconv(32, 32, 3), bconv(32, 64, 3, p=1), nn.MaxPool2d(3, 2),
                         bconv(64, 80, 1), bconv(80, 192, 3), nn.MaxPool2d(3, 2), IncA(192, 32), IncA(256, 64),
                         IncB(288), IncC(768, 128), IncC(768, 160), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(768, 10)), (3, 299, 299)


MODELS = [lenet, mnist_cnn, alexnet_stem, mobilenet_384, nhwc_stride4, vgg_384, squeezenet, se_resnet, grouped, densenet,
          mlp, mobilenet_v2, efficientnet, resnet18, unet, convnext, inception]

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.exit(__doc__)
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
