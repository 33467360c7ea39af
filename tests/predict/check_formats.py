"""EXE predict on every image format the issue lists, made here: PNG gray, gray+alpha, RGB, RGBA,
palette, each in 8 bit, and gray and RGB in 16 bit (and palette with transparency), plus JPEG gray
and RGB. For each PNG the expected input is known exactly (include/sinter/image.h: gray is
replicated, alpha dropped, palettes expanded, 16-bit samples keep their high byte), so predict
on it must give the same probabilities as on an 8-bit RGB PNG of those pixels. JPEGs are lossy:
they are compared with an RGB PNG of PIL's decode of the same file, within the level or two
that JPEG decoders differ by.
usage: check_formats.py SINTER MODEL.nn WORKDIR"""
import json
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
from PIL import Image

sinter, model, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
exe = os.path.join(work, "cnn")
subprocess.run([sinter, "compile", model, "--set", "size=32", "--no-train", "-o", exe], check=True)

rng = np.random.default_rng(7)
H, W = 41, 53  # not the model's size: predict resizes
# A smooth picture with structure (noise alone exercises little), in 0..65535.
yy, xx = np.mgrid[0:H, 0:W]
base = (np.sin(xx / 5.0) * np.cos(yy / 7.0) + 1) / 2
rgb16 = np.stack([base, base[::-1], base[:, ::-1]], -1)
rgb16 = (rgb16 * 60000 + rng.integers(0, 5000, rgb16.shape)).astype(np.uint16)
rgb8 = (rgb16 >> 8).astype(np.uint8)
gray16 = rgb16[:, :, 0]
gray8 = (gray16 >> 8).astype(np.uint8)
alpha = rng.integers(0, 256, (H, W)).astype(np.uint8)


def png16(path, a, color_type):
    """A 16-bit PNG (PIL writes 16 bits for gray only): IHDR, one IDAT, IEND."""
    h, w = a.shape[:2]
    raw = b"".join(b"\0" + a[r].astype(">u2").tobytes() for r in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    open(path, "wb").write(data)


def save(name, img):
    p = os.path.join(work, name)
    img.save(p)
    return p


cases = []  # (file, the 8-bit RGB pixels sinter must see, or None for lossy)
cases.append((save("gray8.png", Image.fromarray(gray8, "L")), np.repeat(gray8[:, :, None], 3, 2)))
cases.append((save("gray_alpha8.png", Image.fromarray(np.stack([gray8, alpha], -1), "LA")), np.repeat(gray8[:, :, None], 3, 2)))
cases.append((save("rgb8.png", Image.fromarray(rgb8, "RGB")), rgb8))
cases.append((save("rgba8.png", Image.fromarray(np.dstack([rgb8, alpha]), "RGBA")), rgb8))
pal = Image.fromarray(rgb8, "RGB").quantize(64)
cases.append((save("palette8.png", pal), np.asarray(pal.convert("RGB"))))
pal_t = pal.copy()
pal_t.info["transparency"] = 3
cases.append((save("palette_trns8.png", pal_t), np.asarray(pal.convert("RGB"))))
p = os.path.join(work, "gray16.png")
png16(p, gray16, 0)
cases.append((p, np.repeat(gray8[:, :, None], 3, 2)))
p = os.path.join(work, "rgb16.png")
png16(p, rgb16, 2)
cases.append((p, rgb8))
for name, img in (("gray.jpg", Image.fromarray(gray8, "L")), ("rgb.jpg", Image.fromarray(rgb8, "RGB"))):
    q = os.path.join(work, name)
    img.save(q, quality=95)
    cases.append((q, None))

refs = []
for i, (path, pixels) in enumerate(cases):
    ref = os.path.join(work, "ref_%d.png" % i)
    if pixels is None:
        pixels = np.asarray(Image.open(path).convert("RGB"))
    Image.fromarray(np.ascontiguousarray(pixels), "RGB").save(ref)
    refs.append(ref)


def predict(files):
    r = subprocess.run([exe, "predict", "--json", "--top", "4"] + files, capture_output=True, text=True)
    if r.returncode != 0:
        print("FAIL predict exited %d: %s" % (r.returncode, r.stderr))
        sys.exit(1)
    return [{e["label"]: e["confidence"] for e in p["predictions"]} for p in json.loads(r.stdout)]


got, want = predict([c[0] for c in cases]), predict(refs)
fails = 0
for (path, pixels), g, w in zip(cases, got, want):
    d = max(abs(g[k] - w[k]) for k in w)
    limit = 1e-6 if pixels is not None else 5e-3
    ok = d <= limit and abs(sum(g.values()) - 1) < 1e-5
    fails += not ok
    print("%s %-18s max |diff| %.2e against the %s (limit %g)" % ("PASS" if ok else "FAIL", os.path.basename(path), d,
          "8-bit RGB PNG of the expected pixels" if pixels is not None else "PNG of PIL's decode", limit))
sys.exit(1 if fails else 0)
