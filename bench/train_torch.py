#!/usr/bin/python3
"""Helper of bench/train.

  train_torch.py images DIR N        N random 224x224 RGB PNGs per class (the model's 4 labels)
  train_torch.py step MODEL FREEZE WARMUP STEPS
      PyTorch 1.13, torch.set_num_threads(2): one training step of ../shared/reference's MODEL
      (train mode; FREEZE=1: the notebook's freeze, base_model.layers[:160], frozen BN in eval
      mode) on a random batch of 32 224x224 images (float 0..255) with random labels:
      zero_grad, forward, sample-weighted cross-entropy (+ the L2 term of ResNet50V2's dense),
      backward, Adam step (lr 1e-3, eps 1e-7 as Keras) -- the same work as one step of
      `EXE train`. Prints 'median_s <median of STEPS timed steps after WARMUP>' and
      'maxrss_kb <ru_maxrss of this process>'.
"""
import os
import resource
import statistics
import sys
import time

import numpy as np

LABELS = ["COVID", "Normal", "Viral Pneumonia", "Lung_Opacity"]


def images(out, n):
    from PIL import Image
    rng = np.random.default_rng(0)
    for c in LABELS:
        os.makedirs(os.path.join(out, c), exist_ok=True)
        for i in range(n):
            a = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
            Image.fromarray(a).save(os.path.join(out, c, "%s-%d.png" % (c, i)))


def step(name, freeze, warmup, steps):
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                    "shared", "reference"))
    import keras_models as km
    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = km.build(name)
    model.train()
    frozen_bn = []
    if freeze:
        _, _, frozen_bn = km.freeze_keras_first_layers(model)
    for m in frozen_bn:
        m.eval()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-3, eps=1e-7)
    x = torch.rand(32, 3, 224, 224) * 255
    y = torch.randint(0, 4, (32,))
    w = torch.rand(32) + 0.5
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        logits = model.logits(x)
        loss = (F.cross_entropy(logits, y, reduction="none") * w).sum() / 32
        if hasattr(model, "regularization"):
            loss = loss + model.regularization()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    print("median_s %.6f" % statistics.median(times[warmup:]))
    print("maxrss_kb %d" % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


if __name__ == "__main__":
    if sys.argv[1] == "images":
        images(sys.argv[2], int(sys.argv[3]))
    else:
        step(sys.argv[2], sys.argv[3] == "1", int(sys.argv[4]), int(sys.argv[5]))
