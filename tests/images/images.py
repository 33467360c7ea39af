#!/usr/bin/env python3
"""Images with the model's channel count, and untrusted image files (issue 9, points 6 and 7).

usage: images.py --sinter SINTER --shared DIR --ort-modules DIR --work DIR TEST

Tests:
  tiny        (fixture) a tiny PyTorch classifier of 1-channel 24x24 images, exported with
              torch.onnx.export, compiled by `sinter compile model.onnx --labels ...`, both NCHW
              and channels-last (--nhwc)
  conversion  colour -> gray against numpy (libpng's documented fixed-point formula, exact) and
              PIL's libjpeg gray decode (tolerance stated below); gray images exactly as stored;
              predict on the PyTorch model = ONNX Runtime on the same tensor
  limits      a 16384x16384 header-only PNG / JPEG refused at once, --max-pixels, a FIFO, a
              directory and a device given as images refused without waiting
  gray_cnn    a 1-channel SimpleCNN trained, evaluated, shown (data), exported; ONNX Runtime on the
              export = predict
Fixtures are made under --work at test time; nothing binary is committed.
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checklib import check, fresh_dir as _fresh, finish, run  # noqa: E402

A = None
LABELS = ["COVID", "Normal", "Viral Pneumonia"]


def work(*p):
    return os.path.join(A.work, *p)


def fresh_dir(*p):
    return _fresh(work(*p))


def load_pb(path):
    return numpy_helper.to_array(onnx.load_tensor(path))


def ort(model, inp, out_dir):
    """Runs ONNX Runtime (node) on one input tensor file; returns output 0."""
    shutil.rmtree(out_dir, ignore_errors=True)
    env = dict(os.environ, ORT_NODE_MODULES=A.ort_modules)
    run(["node", os.path.join(A.shared, "reference", "ort_run.js"), model, inp, "-o", out_dir], env=env)
    return load_pb(os.path.join(out_dir, "output_0.pb"))


def ort_batch(model, inputs, tag):
    """ONNX Runtime on the saved [1, ...] tensors stacked into one [n, ...] batch: output 0, [n, ...]."""
    x = np.concatenate([load_pb(p) for p in inputs])
    path = work(tag + "-in.pb")
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(x, "x").SerializeToString())
    return ort(model, path, work(tag))


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)


def write_png(path, w, h, depth, color, raw_rows, idat=None):
    """A PNG from filter-0 rows (bytes per row, without the filter byte), no ancillary chunks."""
    if idat is None:
        idat = zlib.compress(b"".join(b"\0" + r for r in raw_rows))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 0))
                + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


# --- the tiny PyTorch classifier -------------------------------------------------------------

SIZE = 24


def tiny_exe(nhwc=False):
    return work("tiny_nhwc" if nhwc else "tiny")


def tiny_onnx(nhwc=False):
    return work("tiny_nhwc.onnx" if nhwc else "tiny.onnx")


def t_tiny():
    import torch
    os.makedirs(A.work, exist_ok=True)
    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self, nhwc):
            super().__init__()
            self.nhwc = nhwc
            self.c1 = torch.nn.Conv2d(1, 4, 3, padding=1)
            self.bn = torch.nn.BatchNorm2d(4)
            self.c2 = torch.nn.Conv2d(4, 8, 3, stride=2)
            self.fc = torch.nn.Linear(8, 3)

        def forward(self, x):
            if self.nhwc:
                x = x.permute(0, 3, 1, 2)
            x = torch.relu(self.bn(self.c1(x / 255.0)))
            x = torch.relu(self.c2(x))
            x = torch.nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)
            return torch.softmax(self.fc(x) * 4.0, 1)

    for nhwc in (False, True):
        net = Net(nhwc)
        with torch.no_grad():  # non-trivial BN statistics
            net.bn.running_mean.uniform_(-0.2, 0.2)
            net.bn.running_var.uniform_(0.5, 2.0)
        net.eval()
        shape = (1, SIZE, SIZE, 1) if nhwc else (1, 1, SIZE, SIZE)
        # A symbolic batch, so that ONNX Runtime runs all the test's images in one call.
        torch.onnx.export(net, torch.zeros(shape), tiny_onnx(nhwc), input_names=["x"], output_names=["p"],
                          opset_version=13, dynamic_axes={"x": {0: "N"}, "p": {0: "N"}})
        run([A.sinter, "compile", tiny_onnx(nhwc), "--labels", ",".join(LABELS), "-o", tiny_exe(nhwc)]
            + (["--nhwc"] if nhwc else []))
        check(os.access(tiny_exe(nhwc), os.X_OK), "compiled a 1-channel PyTorch ONNX classifier (%s)"
              % ("NHWC, --nhwc" if nhwc else "NCHW"))


def predict_inputs(exe, files, tag, extra=()):
    """predict --save-input on files: (parsed JSON, [the [H, W] gray tensor fed for each], the folder)."""
    saved = fresh_dir("saved-" + tag)
    p = run([exe, "predict", "--json", "--top", "3", "--save-input", saved] + list(extra) + files)
    res = json.loads(p.stdout)
    ins = []
    for k in range(len(files)):
        x = load_pb(os.path.join(saved, "input_%d.pb" % k))
        ins.append(x.reshape(SIZE, SIZE) if x.size == SIZE * SIZE else x)
    return res, ins, saved


# --- colour to gray against independent references --------------------------------------------

def libpng_gray8(rgb):
    """libpng's documented rgb-to-gray for 8-bit samples without gamma, with TF's coefficients:
    png_set_rgb_to_gray(png, 1, 0.299, 0.587) -> 15-bit weights floor(0.299*32768) = 9797,
    floor(0.587*32768) = 19234, blue 32768 - 9797 - 19234 = 3737; (sum) >> 15, truncated;
    R = G = B is kept as is."""
    r, g, b = (rgb[..., i].astype(np.int64) for i in range(3))
    return np.where((r == g) & (g == b), r, (9797 * r + 19234 * g + 3737 * b) >> 15)


def libpng_gray16_to_8(rgb16):
    """16-bit samples: libpng rounds, (sum + 16384) >> 15; then png_set_strip_16 keeps the high byte."""
    r, g, b = (rgb16[..., i].astype(np.int64) for i in range(3))
    return np.where((r == g) & (g == b), r, (9797 * r + 19234 * g + 3737 * b + 16384) >> 15) >> 8


def t_conversion():
    from PIL import Image
    d = fresh_dir("conversion")
    rng = np.random.default_rng(9)
    rgb = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    rgb[0, :6] = [[7, 7, 7], [0, 0, 0], [255, 255, 255], [255, 0, 0], [1, 2, 3], [0, 0, 255]]
    gray = rng.integers(0, 256, (SIZE, SIZE), dtype=np.uint8)
    rgb16 = rng.integers(0, 65536, (SIZE, SIZE, 3), dtype=np.uint16)
    rgb16[0, 0] = [4660, 4660, 4660]
    gray16 = rng.integers(0, 65536, (SIZE, SIZE), dtype=np.uint16)
    alpha = rng.integers(0, 256, (SIZE, SIZE, 1), dtype=np.uint8)
    files = {}

    def f(name):
        files[name] = os.path.join(d, name)
        return files[name]

    write_png(f("rgb8.png"), SIZE, SIZE, 8, 2, [rgb[y].tobytes() for y in range(SIZE)])
    write_png(f("rgba8.png"), SIZE, SIZE, 8, 6, [np.concatenate([rgb, alpha], 2)[y].tobytes() for y in range(SIZE)])
    write_png(f("rgb16.png"), SIZE, SIZE, 16, 2, [rgb16[y].astype(">u2").tobytes() for y in range(SIZE)])
    write_png(f("gray8.png"), SIZE, SIZE, 8, 0, [gray[y].tobytes() for y in range(SIZE)])
    write_png(f("gray16.png"), SIZE, SIZE, 16, 0, [gray16[y].astype(">u2").tobytes() for y in range(SIZE)])
    # Photo-like JPEG content (smooth shapes, mild noise), where decoders differ the way they do
    # on real X-rays; random noise would only measure the two IDCTs' worst case.
    smooth = np.asarray(Image.fromarray(rgb[:6, :6]).resize((SIZE, SIZE), Image.BICUBIC)).astype(np.int64)
    smooth = np.clip(smooth + rng.integers(-6, 7, smooth.shape), 0, 255).astype(np.uint8)
    Image.fromarray(smooth[..., 1], "L").save(f("gray.jpg"), quality=90)
    Image.fromarray(smooth, "RGB").save(f("rgb.jpg"), quality=90)
    # Colour constant over each 8x8 block, quality 100: each luminance block is its DC term alone,
    # which every IDCT reconstructs exactly, so the gray decode has one exact answer, the encoder's
    # Y = (19595 R + 38470 G + 7471 B + 32768) >> 16 (libjpeg's rgb_ycc_convert), whatever the
    # chroma planes hold.
    blocks = rng.integers(0, 256, (SIZE // 8, SIZE // 8, 3), dtype=np.uint8)
    flat = np.kron(blocks, np.ones((8, 8, 1), dtype=np.uint8))
    Image.fromarray(flat, "RGB").save(f("flat.jpg"), quality=100)
    fr, fg, fb = (flat[..., i].astype(np.int64) for i in range(3))
    flat_y = ((19595 * fr + 38470 * fg + 7471 * fb + 32768) >> 16).astype(np.float32)
    names = ["rgb8.png", "rgba8.png", "rgb16.png", "gray8.png", "gray16.png", "gray.jpg", "rgb.jpg"]
    res, ins, saved = predict_inputs(tiny_exe(), [files[n] for n in names], "main")
    got = dict(zip(names, ins))
    check(all(x.shape == (SIZE, SIZE) for x in ins) and len(res) == len(names),
          "predict read %d PNG/JPEG images (gray, RGB, RGBA, 8/16-bit) into the 1-channel model" % len(names))
    ref8 = libpng_gray8(rgb)
    n_bad = int(np.count_nonzero(got["rgb8.png"] != ref8))
    check(n_bad == 0, "RGB PNG -> gray equals libpng's formula (numpy, exact) on all %d pixels (%d differ)"
          % (ref8.size, n_bad))
    check(got["rgb8.png"][0, 4] == 1 and got["rgb8.png"][0, 3] == 76 and got["rgb8.png"][0, 5] == 29,
          "(1,2,3) -> 1, (255,0,0) -> 76, (0,0,255) -> 29: truncated fixed point, as libpng")
    check(np.array_equal(got["rgba8.png"], ref8), "RGBA PNG -> alpha dropped, then the same gray")
    ref16 = libpng_gray16_to_8(rgb16)
    check(np.array_equal(got["rgb16.png"], ref16), "16-bit RGB PNG -> gray (rounded at 16 bits, high byte) exact")
    check(np.array_equal(got["gray8.png"], gray.astype(np.float32)),
          "gray PNG through a 1-channel model = the raw pixels, exactly")
    check(np.array_equal(got["gray16.png"], (gray16 >> 8).astype(np.float32)),
          "16-bit gray PNG = the high byte of each sample, exactly")

    def pil_gray(path):
        im = Image.open(path)
        im.draft("L", im.size)  # PIL asks libjpeg for JCS_GRAYSCALE, with its default (ISLOW) IDCT
        check(im.mode == "L", "PIL decodes %s straight to gray (mode %s)" % (os.path.basename(path), im.mode))
        return np.asarray(im).astype(np.float32)

    # sinter decodes with the fast integer IDCT (JDCT_IFAST, as TensorFlow); PIL with the slow
    # accurate one, so the two Y planes may differ by a few levels where there is detail: the
    # tolerance is at most 4 levels anywhere and 1.5 on average (measured: 3 and about 0.7).
    for name in ("gray.jpg", "rgb.jpg"):
        ref = pil_gray(files[name])
        dmax, dmean = float(np.abs(got[name] - ref).max()), float(np.abs(got[name] - ref).mean())
        check(dmax <= 4 and dmean <= 1.5, "%s -> gray vs PIL's libjpeg gray decode: max %g <= 4, mean %.3f <= 1.5"
              % (name, dmax, dmean))
    # ... and the luminance, not some other gray: far from the channel mean of the same decode.
    rgb_dec = np.asarray(Image.open(files["rgb.jpg"]).convert("RGB")).astype(np.float32)
    check(float(np.abs(got["rgb.jpg"] - rgb_dec.mean(2)).mean()) > 5,
          "the JPEG gray is the luminance, not the mean of R, G, B")
    _, flat_in, _ = predict_inputs(tiny_exe(), [files["flat.jpg"]], "flat")
    check(np.array_equal(flat_in[0], flat_y) and np.array_equal(pil_gray(files["flat.jpg"]), flat_y),
          "flat-block colour JPEG (quality 100) -> gray = libjpeg's Y formula (numpy) = PIL's gray decode, exactly")

    # predict = ONNX Runtime on the tensors fed to the PyTorch model, stacked into one batch.
    want = ort_batch(tiny_onnx(), [os.path.join(saved, "input_%d.pb" % k) for k in range(len(names))], "ort-main")
    worst = 0.0
    for k in range(len(names)):
        mine = {q["label"]: q["confidence"] for q in res[k]["predictions"]}
        worst = max(worst, float(np.abs(np.array([mine[l] for l in LABELS]) - want[k]).max()))
    check(worst <= 1e-5, "1-channel PyTorch ONNX classifier: predict = ONNX Runtime within %.2g (<= 1e-5; "
          "predict prints 6 decimals)" % worst)

    # channels-last: the same pixels, laid out [1, H, W, 1], and the same answer as ORT.
    res_h, ins_h, saved_h = predict_inputs(tiny_exe(True), [files["rgb8.png"], files["gray8.png"]], "nhwc")
    raw = [load_pb(os.path.join(saved_h, "input_%d.pb" % k)) for k in range(2)]
    check(raw[0].shape == (1, SIZE, SIZE, 1) and np.array_equal(raw[0][0, :, :, 0], ref8)
          and np.array_equal(raw[1][0, :, :, 0], gray.astype(np.float32)),
          "--nhwc 1-channel model: input [1, %d, %d, 1] holds the same gray pixels" % (SIZE, SIZE))
    want = ort(tiny_onnx(True), os.path.join(saved_h, "input_0.pb"), work("ort-nhwc"))[0]
    mine = {q["label"]: q["confidence"] for q in res_h[0]["predictions"]}
    d = float(np.abs(np.array([mine[l] for l in LABELS]) - want).max())
    check(d <= 1e-5, "--nhwc 1-channel model: predict = ONNX Runtime within %.2g" % d)


# --- untrusted files ----------------------------------------------------------------------------

def timed(cmd, timeout=10):
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, timeout
    return p, time.monotonic() - t0


def first_line(p):
    return p.stderr.splitlines()[0] if p and p.stderr else ""


def t_limits():
    from PIL import Image
    d = fresh_dir("limits")
    big = os.path.join(d, "big.png")
    # A valid IHDR of 16384x16384 8-bit RGB and a tiny IDAT: 261 KB in the issue, 70 bytes here.
    write_png(big, 16384, 16384, 8, 2, None, idat=zlib.compress(b"\0" * 64))
    size = os.path.getsize(big)
    cap = 1 << 26
    want = "%s: image is 16384x16384 = 268435456 pixels, more than the cap of %d (--max-pixels N to change it)" % (big, cap)
    p, t = timed([tiny_exe(), "predict", big])
    # The cap's message (not a decoder's about the missing data) shows the header alone decided.
    check(p is not None and p.returncode == 1 and first_line(p) == want,
          "a %d-byte PNG declaring 16384x16384 is refused from its header in %.2f s, exit %s: %r"
          % (size, t, p and p.returncode, first_line(p)))
    # The same for a JPEG: a small real one whose SOF0 says 16384x16384.
    jpg = os.path.join(d, "big.jpg")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(jpg, quality=90)
    b = bytearray(open(jpg, "rb").read())
    sof = b.index(b"\xff\xc0")
    b[sof + 5:sof + 9] = struct.pack(">HH", 16384, 16384)
    open(jpg, "wb").write(bytes(b))
    p, t = timed([tiny_exe(), "predict", jpg])
    check(p is not None and p.returncode == 1 and first_line(p) == want.replace(big, jpg),
          "a JPEG declaring 16384x16384 is refused from its header in %.2f s: %r" % (t, first_line(p)))
    # --max-pixels lowers and raises the cap (a 24x24 image has 576 pixels).
    small = os.path.join(d, "small.png")
    write_png(small, SIZE, SIZE, 8, 0, [bytes(range(SIZE))] * SIZE)
    p, _ = timed([tiny_exe(), "predict", "--max-pixels", "575", small])
    check(p.returncode == 1 and first_line(p) == "%s: image is 24x24 = 576 pixels, more than the cap of 575 "
          "(--max-pixels N to change it)" % small, "--max-pixels 575 refuses a 24x24 image: %r" % first_line(p))
    p, _ = timed([tiny_exe(), "predict", "--max-pixels", "576", small])
    check(p.returncode == 0 and p.stdout.startswith(small + ":"), "--max-pixels 576 accepts it")
    p, _ = timed([tiny_exe(), "predict", "--max-pixels", "268435456", big])
    check(p.returncode == 1 and "more than the cap" not in p.stderr and big in first_line(p),
          "--max-pixels 268435456 lets the 16384x16384 header through (then its data is cut short: %r)" % first_line(p))
    for bad, why in (("0", "0 is out of range (1 to 268435456)"), ("268435457", "268435457 is out of range (1 to 268435456)"),
                     ("12x", "'12x' is not a whole number"), ("-5", "-5 is out of range (1 to 268435456)")):
        p, _ = timed([tiny_exe(), "predict", "--max-pixels", bad, small])
        check(p.returncode == 1 and first_line(p).endswith("--max-pixels: " + why),
              "--max-pixels %s: refused with the range: %r" % (bad, first_line(p)))
    # Non-regular files named like images: refused at once, never waited on (a read of the FIFO
    # would block until the 10 s timeout, which timed() reports as no process).
    fifo = os.path.join(d, "x.png")
    os.mkfifo(fifo)
    p, t = timed([tiny_exe(), "predict", fifo], timeout=10)
    check(p is not None and p.returncode == 1 and first_line(p) == "%s: is a FIFO (named pipe), not an image file" % fifo,
          "a FIFO named x.png is refused in %.2f s: %r" % (t, first_line(p)))
    dpng = os.path.join(d, "dir.png")
    os.mkdir(dpng)
    p, t = timed([tiny_exe(), "predict", dpng, small])
    # A folder stands for the files under it (predict DIR); an empty one is an error of its own.
    check(p is not None and p.returncode == 1
          and first_line(p) == "%s: the folder holds no file to classify (hidden ones are skipped)" % dpng
          and p.stdout.startswith(small + ":"), "an empty directory named dir.png is an error, the next image still classified")
    p, t = timed([tiny_exe(), "predict", "/dev/zero"])
    check(p is not None and p.returncode == 1 and first_line(p) == "/dev/zero: is a character device, not an image file",
          "/dev/zero is refused in %.2f s: %r" % (t, first_line(p)))


# --- a 1-channel SimpleCNN through the training commands --------------------------------------

def t_gray_cnn():
    from PIL import Image
    os.makedirs(A.work, exist_ok=True)
    exe = work("cnn_gray")
    run([A.sinter, "compile", os.path.join(A.here, "simple_cnn_gray.nn"), "--set", "size=32", "--train-batch", "16",
         "-o", exe])
    data = os.path.join(A.shared, "data", "cxr-256")
    out = fresh_dir("gray-run")
    p = run([exe, "train", "--data", data, "--out", out, "--epochs", "2", "--batch", "16", "--threads", "1",
             "--seed", "7", "--split", "0.6,0.1,0.3"])
    check(os.path.exists(os.path.join(out, "best.onnx")) and "Epoch 2/2" in p.stdout,
          "train: 2 epochs of a 1-channel SimpleCNN on cxr-256")
    ev = fresh_dir("gray-eval")
    p = run([exe, "evaluate", "--data", data, "--weights", os.path.join(out, "best.onnx"), "--out", ev])
    acc = [l.split() for l in p.stdout.splitlines() if l.split()[:1] == ["accuracy"] and len(l.split()) == 3]
    check(len(acc) == 1 and acc[0][2] == "61" and os.path.exists(os.path.join(ev, "confusion_matrix.png")),
          "evaluate: the report covers the 61 test images (%r), confusion_matrix.png" % acc)
    sheet = fresh_dir("gray-data")
    run([exe, "data", "--data", data, "--out", sheet])
    im = Image.open(os.path.join(sheet, "samples.png"))
    check(im.size[0] > 96 and im.size[1] > 96, "data: a contact sheet %dx%d" % im.size)
    p = run([exe, "data", "--data", data, "--max-pixels", "0"], ok_codes=(1,))
    check(p.stderr.splitlines()[:1][0].endswith("--max-pixels: 0 is out of range (1 to 268435456)"),
          "data --max-pixels 0 is refused with the range: %r" % p.stderr.splitlines()[:1])
    x = work("gray.onnx")
    run([exe, "export-onnx", "-o", x, "--weights", os.path.join(out, "best.onnx")])
    m = onnx.load(x)
    onnx.checker.check_model(m)
    dims = [dd.dim_value for dd in m.graph.input[0].type.tensor_type.shape.dim[1:]]
    check(dims == [1, 32, 32], "export-onnx: the input is [N, 1, 32, 32] (%s)" % dims)
    # Gray and RGB X-rays (cxr-native has one RGB file), and an RGB-coded colour PNG.
    native = os.path.join(A.shared, "data", "cxr-native")
    imgs = sorted(os.path.join(r, f) for r, _, fs in os.walk(native) for f in fs if f.endswith(".png"))
    modes = {q: Image.open(q).mode for q in imgs}
    pick = [q for q in imgs if modes[q] != "L"][:1] + [q for q in imgs if modes[q] == "L"][:3]
    saved = fresh_dir("gray-inputs")
    pr = run([exe, "predict", "--weights", os.path.join(out, "best.onnx"), "--json", "--top", "3",
              "--save-input", saved] + pick)
    res = json.loads(pr.stdout)
    want_all = ort_batch(x, [os.path.join(saved, "input_%d.pb" % k) for k in range(len(res))], "gray-ort")
    worst = 0.0
    for k, r in enumerate(res):
        want = want_all[k]
        mine = {q["label"]: q["confidence"] for q in r["predictions"]}
        worst = max(worst, float(np.abs(np.array([mine[l] for l in LABELS]) - want).max()))
    check(len(res) == len(pick) == 4 and worst <= 1e-5,
          "ONNX Runtime on the export = predict on %d X-rays (modes %s) within %.2g"
          % (len(res), sorted({modes[q] for q in pick}), worst))


TESTS = {"tiny": t_tiny, "conversion": t_conversion, "limits": t_limits, "gray_cnn": t_gray_cnn}


def main():
    global A
    ap = argparse.ArgumentParser()
    for opt in ("--sinter", "--shared", "--ort-modules", "--work"):
        ap.add_argument(opt, required=True)
    ap.add_argument("test", choices=sorted(TESTS))
    A = ap.parse_args()
    A.here = os.path.dirname(os.path.abspath(__file__))
    A.work = os.path.abspath(A.work)
    TESTS[A.test]()
    finish("all checks passed")


if __name__ == "__main__":
    main()
