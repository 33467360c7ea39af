#!/usr/bin/env python3
"""DICOM input (issue 12 point 1).

usage: dicom.py --sinter SINTER --dump DICOM_DUMP --shared DIR --work DIR TEST

Tests:
  decode    DICOM files made at test time from two ../shared X-ray PNGs with pydicom (8/12/16-bit,
            signed, MONOCHROME1, rescale, windows, VOI LUTs, implicit VR, big endian) and DCMTK's
            tools (dcmcjpeg baseline/extended/lossless, dcmcjpls lossless/near-lossless, dcmcrle):
            sinter's stored values = pydicom's pixel_array (exact), the mapped image = a numpy
            implementation of docs/dicom.md's chain (within float rounding), 8-bit data = the PNG
            of the same pixels (exact, with 1, 3 and 4 channels)
  errors    exact messages: multi-frame, colour, palette, truncated, damaged, no pixel data,
            unsupported transfer syntax and bit depth, a bad window, non-DICOM named .dcm, pixel cap
  commands  a compiled 1-channel CNN: predict on 8-bit DICOM (uncompressed, RLE, JPEG-LS) = the
            PNG path exactly; --window reaches the model's input; data, train and evaluate on a
            folder mixing PNG, JPEG and DICOM; --window and --max-pixels errors
Nothing binary is committed: every file is made under --work.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checklib import check, fresh_dir as _fresh, finish, run  # noqa: E402

A = None
SRC = [("COVID", "COVID-353.png"), ("Normal", None)]


def fresh_dir(*p):
    return _fresh(os.path.join(A.work, *p))


def sources():
    """Two gray X-rays (R = G = B in the shared PNGs), cropped to 96 rows x 128 columns."""
    from PIL import Image
    out = []
    for cls, name in SRC:
        folder = os.path.join(A.shared, "data", "cxr-256", cls)
        name = name or sorted(os.listdir(folder))[0]
        a = np.array(Image.open(os.path.join(folder, name)).convert("RGB"))
        assert (a[..., 0] == a[..., 1]).all() and (a[..., 0] == a[..., 2]).all(), name
        out.append(a[80:176, 64:192, 0].copy())
    return out


def write_dcm(path, arr, bits, signed=False, pi="MONOCHROME2", syntax=ExplicitVRLittleEndian, frames=1, spp=1,
              alloc=None, **attrs):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = arr.shape[-2] if spp == 1 else arr.shape[-3], arr.shape[-1] if spp == 1 else arr.shape[-2]
    ds.SamplesPerPixel = spp
    if spp > 1:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = pi
    alloc = alloc or (8 if bits <= 8 else 16)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = alloc, bits, bits - 1, int(signed)
    if frames > 1:
        ds.NumberOfFrames = frames
    for k, v in attrs.items():
        setattr(ds, k, v)
    big = syntax == ExplicitVRBigEndian
    dt = np.dtype(("i" if signed else "u") + str(alloc // 8)).newbyteorder(">" if big else "<")
    ds.PixelData = np.asarray(arr).astype(dt).tobytes()
    ds.is_little_endian, ds.is_implicit_VR = not big, syntax == ImplicitVRLittleEndian
    ds.save_as(path, write_like_original=False)
    return path


def voi_lut(n, first, bits, signed, curve):
    item = Dataset()
    item.add_new(0x00283002, "US", [n, first & 0xFFFF if signed else first, bits])  # LUT Descriptor
    item.add_new(0x00283006, "US", [int(v) for v in curve])  # LUT Data
    return Sequence([item])


def variants(d):
    """name -> path of every DICOM file this test decodes; compressed name -> its uncompressed source."""
    g0, g1 = sources()
    yy, xx = np.mgrid[0:g0.shape[0], 0:g0.shape[1]]
    u12 = g0.astype(np.int32) * 16 + (xx * 7 + yy * 3) % 16  # the low bits vary too
    u16 = g1.astype(np.int32) * 257
    s16 = g0.astype(np.int32) * 200 - 25500
    s12 = g1.astype(np.int32) * 16 - 2048
    lut12 = np.round(4095 * (np.arange(3000) / 2999.0) ** 0.5)
    lut_s = np.round(65535 * (np.arange(4096) / 4095.0) ** 2)
    f = {}

    def add(name, *a, **k):
        f[name] = write_dcm(os.path.join(d, name + ".dcm"), *a, **k)

    add("u8", g0, 8)
    add("u8b", g1, 8)
    add("u8_m1", g0, 8, pi="MONOCHROME1")
    add("u8_implicit", g1, 8, syntax=ImplicitVRLittleEndian)
    item_like = u16.copy()
    item_like.flat[:2] = (0xFFFE, 0xE000)  # implicit VR pixel data that begins like a sequence's item
    add("u16_implicit_item_like", item_like, 16, syntax=ImplicitVRLittleEndian)
    add("u8_w1", g0, 8, WindowCenter=100, WindowWidth=1)
    add("u12", u12, 12)
    add("u16", u16, 16)
    add("u16_be", u16, 16, syntax=ExplicitVRBigEndian, WindowCenter=30000, WindowWidth=20000)
    add("s16", s16, 16, signed=True)
    add("s12", s12, 12, signed=True)
    add("u12_rescale_win", u12, 12, RescaleSlope=0.5, RescaleIntercept=-1024, WindowCenter=[0, 100],
        WindowWidth=[1500, 200])
    add("s16_win_m1", s16, 16, signed=True, pi="MONOCHROME1", WindowCenter=-100, WindowWidth=20001)
    add("u12_exact", u12, 12, WindowCenter=2000, WindowWidth=1000, VOILUTFunction="LINEAR_EXACT")
    add("u12_sigmoid", u12, 12, WindowCenter=2000, WindowWidth=1000, VOILUTFunction="SIGMOID")
    add("u12_lut", u12, 12, VOILUTSequence=voi_lut(3000, 500, 12, False, lut12))
    add("s16_lut", s16 // 16, 12, signed=True, RescaleIntercept=-100, VOILUTSequence=voi_lut(4096, -2048, 16, True, lut_s))
    # DCMTK's encoders on the uncompressed files.
    tools = [("u8", "jpeg_baseline", ["dcmcjpeg", "+eb"]), ("u8", "jpeg_sv1", ["dcmcjpeg", "+e1"]),
             ("u12", "jpeg_sv1", ["dcmcjpeg", "+e1"]), ("u16", "jpeg_p14", ["dcmcjpeg", "+el"]),
             ("s16", "jpeg_sv1", ["dcmcjpeg", "+e1"]), ("u12", "jpeg_extended", ["dcmcjpeg", "+ee"]),
             ("u8", "jls", ["dcmcjpls"]), ("u12", "jls", ["dcmcjpls"]), ("s16", "jls", ["dcmcjpls"]),
             ("u12_rescale_win", "jls_near", ["dcmcjpls", "+en"]), ("u8", "rle", ["dcmcrle"]),
             ("u8_m1", "rle", ["dcmcrle"]), ("s16_lut", "rle", ["dcmcrle"]), ("u16", "rle", ["dcmcrle"])]
    bases = {}
    for src, kind, cmd in tools:
        name = src + "_" + kind
        f[name], bases[name] = os.path.join(d, name + ".dcm"), src
        run(cmd + [f[src], f[name]])
    return f, bases


class Dumped:
    """Runs dicom_dump once over a list of jobs."""

    def __init__(self, d):
        self.d, self.jobs, self.n = d, [], 0

    def add(self, kind, path, channels=1, maxpix=0, window=None):
        out = os.path.join(self.d, "out%d" % self.n)
        self.n += 1
        if kind == "stored":
            self.jobs.append("stored %s %s" % (path, out))
        else:
            self.jobs.append("image %d %d %s %s %s" % (channels, maxpix, window or "-", path, out))
        return out

    def run(self):
        subprocess.run([A.dump], input="\n".join(self.jobs) + "\n", text=True, check=True, timeout=300)


def load(out, dtype):
    """(array or None, error message or None) from a dicom_dump output."""
    with open(out, "rb") as fh:
        head = fh.readline().decode()
        if head.startswith("error "):
            return None, head[6:].rstrip("\n")
        _, w, h, c = head.split()
        a = np.frombuffer(fh.read(), dtype=dtype)
        return a.reshape(int(c), int(h), int(w)), None


# --- the reference mapping (docs/dicom.md), written from the standard's text ----------------------

def first(v):
    return float(v[0]) if isinstance(v, pydicom.multival.MultiValue) else float(v)


def window(x, c, w, fn="LINEAR"):
    if fn == "SIGMOID":
        return 255.0 / (1.0 + np.exp(-4.0 * (x - c) / w))
    if fn == "LINEAR_EXACT":
        return np.where(x <= c - w / 2, 0.0, np.where(x > c + w / 2, 255.0, ((x - c) / w + 0.5) * 255.0))
    lo, hi = c - 0.5 - (w - 1) / 2, c - 0.5 + (w - 1) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        mid = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255.0 if w > 1 else np.zeros_like(x)
    return np.where(x <= lo, 0.0, np.where(x > hi, 255.0, mid))


def reference(ds, stored, override=None):
    slope, icpt = float(ds.get("RescaleSlope", 1)), float(ds.get("RescaleIntercept", 0))
    v = stored.astype(np.float64) * slope + icpt
    bits, signed = int(ds.BitsStored), int(ds.PixelRepresentation) == 1
    if override:
        y = window(v, *override)
    elif "WindowCenter" in ds:
        y = window(v, first(ds.WindowCenter), first(ds.WindowWidth), ds.get("VOILUTFunction", "LINEAR"))
    elif "VOILUTSequence" in ds:
        item = ds.VOILUTSequence[0]
        n, lo, lbits = [int(x) for x in item.LUTDescriptor]
        n = n or 65536
        if signed and lo >= 32768:
            lo -= 65536
        lut = np.array(item.LUTData, dtype=np.float64)
        y = lut[np.clip(np.rint(v) - lo, 0, n - 1).astype(np.int64)] * 255.0 / (2 ** lbits - 1)
    else:
        smin, smax = (-2 ** (bits - 1), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
        a, b = smin * slope + icpt, smax * slope + icpt
        y = (v - min(a, b)) * 255.0 / abs(b - a)
    return 255.0 - y if ds.PhotometricInterpretation == "MONOCHROME1" else y


def t_decode():
    d = fresh_dir("decode")
    files, bases = variants(d)
    dump = Dumped(d)
    outs = {n: (dump.add("stored", p), dump.add("image", p)) for n, p in files.items()}
    # Channels and the PNG path: the same pixels as a gray PNG.
    from PIL import Image
    g0, _ = sources()
    png = os.path.join(d, "u8.png")
    Image.fromarray(g0).save(png)
    same = {ch: (dump.add("image", files["u8"], ch), dump.add("image", png, ch)) for ch in (1, 3, 4)}
    for n in ("u8_rle", "u8_jls", "u8_jpeg_sv1"):
        same[n] = (dump.add("image", files[n], 1), dump.add("image", png, 1))
    over = {n: dump.add("image", files[n], 1, window="%g,%g" % w)
            for n, w in (("u12", (1800.5, 700)), ("u12_lut", (1000, 3000)), ("s16_win_m1", (0, 1)))}
    dump.run()
    lossy = {"u8_jpeg_baseline", "u12_jpeg_extended", "u12_rescale_win_jls_near"}
    for n, p in sorted(files.items()):
        ds = pydicom.dcmread(p)
        want = ds.pixel_array.astype(np.int64)
        got, err = load(outs[n][0], "<i4")
        if not check(err is None, "%s (%s): decoded (%s)" % (n, ds.file_meta.TransferSyntaxUID.name, err)):
            continue
        got = got[0].astype(np.int64)
        check(got.shape == want.shape and np.array_equal(got, want),
              "%s: stored values = pydicom's pixel_array (%d values, %d differ)"
              % (n, want.size, int((got != want).sum()) if got.shape == want.shape else -1))
        if n in bases and n not in lossy:
            base = pydicom.dcmread(files[bases[n]]).pixel_array
            check(np.array_equal(got, base), "%s: lossless, the values of %s" % (n, bases[n]))
        img, err = load(outs[n][1], "<f4")
        ref = reference(ds, got)
        diff = float(np.abs(img[0] - ref).max()) if err is None else -1
        check(err is None and 0 <= diff <= 1e-4 and img.min() >= 0 and img.max() <= 255,
              "%s: mapped image = the numpy chain (max diff %g)" % (n, diff))
    for n, w in (("u12", (1800.5, 700)), ("u12_lut", (1000, 3000)), ("s16_win_m1", (0, 1))):
        ds = pydicom.dcmread(files[n])
        img, err = load(over[n], "<f4")
        ref = reference(ds, ds.pixel_array, override=w)
        diff = float(np.abs(img[0] - ref).max()) if err is None else -1
        check(err is None and 0 <= diff <= 0.05, "%s --window %g,%g: the override replaces the file's own (max diff %g)"
              % (n, w[0], w[1], diff))
    for k, (a, b) in same.items():
        x, ex = load(a, "<f4")
        y, ey = load(b, "<f4")
        check(ex is None and ey is None and x.shape == y.shape and np.array_equal(x, y),
              "8-bit DICOM %s = the PNG of the same pixels, exactly (%s)" % (k if isinstance(k, str) else
                                                                           "u8 with %d channels" % k, ex or ey))
    x, _ = load(same[4][0], "<f4")
    check(x is not None and np.array_equal(x[0], x[1]) and np.array_equal(x[0], x[2]) and (x[3] == 255).all(),
          "4 channels: gray replicated, alpha 255")


def with_un_sequence(raw):
    """raw (explicit VR little endian) with a private nested sequence inserted before (0028,0002), written
    as VR UN with undefined length: implicit VR little endian inside (CP-246), as anonymisers leave them."""
    import struct

    def el(g, e, v):
        return struct.pack("<HHI", g, e, len(v)) + v

    def undef(g, e):
        return struct.pack("<HHI", g, e, 0xFFFFFFFF)

    inner = undef(0x0009, 0x1020) + undef(0xFFFE, 0xE000) + el(0x0009, 0x1021, b"abcd") + el(0xFFFE, 0xE00D, b"") \
        + el(0xFFFE, 0xE0DD, b"")
    body = undef(0xFFFE, 0xE000) + el(0x0009, 0x1001, b"x" * 10) + inner + el(0xFFFE, 0xE00D, b"") + el(0xFFFE, 0xE0DD, b"")
    private = b"\x09\x00\x10\x00LO\x04\x00SNT " + b"\x09\x00\x10\x10UN\x00\x00" + struct.pack("<I", 0xFFFFFFFF) + body
    at = raw.find(b"\x28\x00\x02\x00US")
    return raw[:at] + private + raw[at:]


def t_errors():
    d = fresh_dir("errors")
    g0, _ = sources()
    p = {}
    p["frames"] = write_dcm(os.path.join(d, "frames.dcm"), np.stack([g0, g0]), 8, frames=2)
    p["rgb"] = write_dcm(os.path.join(d, "rgb.dcm"), np.stack([g0] * 3, axis=-1), 8, pi="RGB", spp=3)
    p["palette"] = write_dcm(os.path.join(d, "palette.dcm"), g0, 8, pi="PALETTE COLOR")
    p["ybr"] = os.path.join(d, "ybr.dcm")
    run(["dcmcjpeg", "+eb", p["rgb"], p["ybr"]])
    p["bits32"] = write_dcm(os.path.join(d, "bits32.dcm"), g0, 32, alloc=32)
    p["width0"] = write_dcm(os.path.join(d, "width0.dcm"), g0, 8, WindowCenter=10, WindowWidth=0)
    p["slope0"] = write_dcm(os.path.join(d, "slope0.dcm"), g0, 8, RescaleSlope=0)
    good = write_dcm(os.path.join(d, "good.dcm"), g0, 8)
    raw = open(good, "rb").read()
    pix = raw.rfind(b"\xe0\x7f\x10\x00")  # (7fe0,0010) OB: 12-byte header, then 96 x 128 bytes
    p["cut_pixels"] = os.path.join(d, "cut_pixels.dcm")
    open(p["cut_pixels"], "wb").write(raw[:len(raw) - 5000])
    p["cut_header"] = os.path.join(d, "cut_header.dcm")
    open(p["cut_header"], "wb").write(raw[:200])
    nopix = pydicom.dcmread(good)
    del nopix.PixelData
    p["nopixels"] = os.path.join(d, "nopixels.dcm")
    nopix.save_as(p["nopixels"])
    j2k = pydicom.dcmread(good)
    j2k.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.90"
    j2k.PixelData = pydicom.encaps.encapsulate([b"\xff\x4f\xff\x51" + b"\0" * 60])
    j2k.is_little_endian, j2k.is_implicit_VR = True, False
    p["j2k"] = os.path.join(d, "j2k.dcm")
    j2k.save_as(p["j2k"])
    jls = os.path.join(d, "good_jls.dcm")
    run(["dcmcjpls", good, jls])
    raw = bytearray(open(jls, "rb").read())
    frag = raw.rfind(b"\xfe\xff\x00\xe0")  # the item holding the JPEG-LS stream
    frag_len = int.from_bytes(raw[frag + 4:frag + 8], "little")
    p["jls_cut"] = os.path.join(d, "jls_cut.dcm")
    open(p["jls_cut"], "wb").write(raw[:len(raw) - 3000])
    graw = open(good, "rb").read()
    rows = graw.find(b"\x28\x00\x10\x00US")
    p["bad_vr"] = os.path.join(d, "bad_vr.dcm")
    open(p["bad_vr"], "wb").write(graw[:rows + 4] + b"ZZ" + graw[rows + 6:])
    huge = bytearray(graw)
    huge[pix + 8:pix + 12] = (0xFFFFFFF0).to_bytes(4, "little")  # a 1 KB file asking for 4 GB
    p["huge_length"] = os.path.join(d, "huge_length.dcm")
    open(p["huge_length"], "wb").write(huge[:pix + 1024])
    # a data set element before the meta group: DCMTK would guess big endian from it and reserve
    # what it declares (fuzz_dicom: a 630-byte file asking for 2.2 GB)
    p["no_meta"] = os.path.join(d, "no_meta.dcm")
    open(p["no_meta"], "wb").write(graw[:132] + b"\x08\x00\x16\x00UI\x04\x001.2\x00" + graw[132:])
    # a group 0002 element after a data set element: DCMTK's meta group ends at the first one
    # and it would read the rest in a guessed encoding (fuzz_dicom: 384 bytes asking for 540 MB)
    meta_end = 144 + int.from_bytes(graw[140:144], "little")
    late = meta_end + 18
    p["meta_ended"] = os.path.join(d, "meta_ended.dcm")
    open(p["meta_ended"], "wb").write(graw[:meta_end] + b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100" +
                                      b"\x02\x00\x10\x00UI\x14\x001.2.840.10008.1.2.1\0" + graw[meta_end:])
    # a group length ending the meta group before its last element, which DCMTK then reads in the
    # data set (fuzz_dicom: 1.4-3.7 GB asked for by the element after it)
    last = graw.rfind(b"\x02\x00\x13\x00SH")
    p["short_group_length"] = os.path.join(d, "short_group_length.dcm")
    open(p["short_group_length"], "wb").write(graw[:140] + (last - 144).to_bytes(4, "little") + graw[144:])
    # a sequence delimiter with a length: the walk skipping its "value" and DCMTK not would read
    # different headers after it (fuzz_dicom: 285 MB asked for)
    p["delimiter_length"] = os.path.join(d, "delimiter_length.dcm")
    open(p["delimiter_length"], "wb").write(graw[:pix] + b"\x28\x00\x10\x30SQ\0\0\xff\xff\xff\xff" +
                                            b"\xfe\xff\xdd\xe0\x08\0\0\0" + b"\0" * 8 + graw[pix:])
    # an item's element running past the item's end: DCMTK would read it whole
    p["past_item"] = os.path.join(d, "past_item.dcm")
    open(p["past_item"], "wb").write(graw[:pix] + b"\x28\x00\x10\x30SQ\0\0\x12\0\0\0" +
                                     b"\xfe\xff\x00\xe0\x0a\0\0\0" + b"\x28\x00\x02\x30US\x06\0" + b"\0" * 4 +
                                     graw[pix:])
    p["deflated"] = os.path.join(d, "deflated.dcm")
    deflated = pydicom.dcmread(good)
    deflated.file_meta.TransferSyntaxUID = pydicom.uid.DeflatedExplicitVRLittleEndian
    deflated.save_as(p["deflated"])
    p["unknown_syntax"] = os.path.join(d, "unknown_syntax.dcm")  # DCMTK would guess the encoding
    open(p["unknown_syntax"], "wb").write(graw.replace(b"1.2.840.10008.1.2.1\0", b"1.2.840.10008.9.9.9\0", 1))
    un = os.path.join(d, "un_sequence.dcm")
    open(un, "wb").write(with_un_sequence(graw))
    sv1 = os.path.join(d, "good_sv1.dcm")
    run(["dcmcjpeg", "+e1", good, sv1])
    jraw = bytearray(open(sv1, "rb").read())
    jraw[jraw.find(b"\xff\xd8\xff") + 3] = 0xFF  # SOI, then FF FF: DCMTK 3.6.7's bit-depth scan hangs on such
    p["jpeg_markers"] = os.path.join(d, "jpeg_markers.dcm")
    open(p["jpeg_markers"], "wb").write(jraw)
    p["text"] = os.path.join(d, "text.dcm")
    open(p["text"], "w").write("PatientName,Rows\nDoe,96\n")
    p["png_named_dcm"] = os.path.join(d, "png_named.dcm")
    from PIL import Image
    Image.fromarray(g0).save(p["png_named_dcm"], format="PNG")
    dump = Dumped(d)
    outs = {k: dump.add("image", v) for k, v in p.items()}
    un_out = dump.add("image", un)
    capped = dump.add("image", good, maxpix=12287)
    fits = dump.add("image", good, maxpix=12288)
    dump.run()
    want = {
        "frames": "multi-frame DICOM (2 frames) is not supported: one frame per file",
        "rgb": "colour DICOM (3 samples per pixel) is not supported: only MONOCHROME1 and MONOCHROME2",
        "palette": "photometric interpretation 'PALETTE COLOR' is not supported: only MONOCHROME1 and MONOCHROME2",
        "ybr": "colour DICOM (3 samples per pixel) is not supported: only MONOCHROME1 and MONOCHROME2",
        "bits32": "32 bits allocated per pixel is not supported: 8 or 16",
        "width0": "Window Center 10 / Width 0: the width must be at least 1",
        "slope0": "Rescale Slope 0 / Intercept 0: the slope must be finite and not 0",
        "cut_pixels": "truncated DICOM file (%d bytes): element (7fe0,0010) at byte %d declares 12288 bytes, %d remain"
                      % (len(open(good, "rb").read()) - 5000, pix, len(open(good, "rb").read()) - 5000 - pix - 12),
        "cut_header": "truncated DICOM file (200 bytes): it ends inside an element",
        "nopixels": "DICOM file without pixel data (7fe0,0010)",
        "j2k": "transfer syntax 'JPEG 2000 (Lossless only)' (1.2.840.10008.1.2.4.90) is not supported: uncompressed, "
               "JPEG baseline/extended, JPEG lossless (process 14, SV1), JPEG-LS (lossless and "
               "near-lossless) and RLE",
        "jls_cut": "truncated DICOM file (%d bytes): element (fffe,e000) at byte %d declares %d bytes, %d remain"
                   % (len(raw) - 3000, frag, frag_len, len(raw) - 3000 - frag - 8),
        "bad_vr": "damaged DICOM file: element (0028,0010) at byte %d has no valid VR" % rows,
        "huge_length": "truncated DICOM file (%d bytes): element (7fe0,0010) at byte %d declares 4294967280 bytes, 1012 "
                       "remain" % (pix + 1024, pix),
        "unknown_syntax": "the transfer syntax UID (0002,0010) is not a valid one DCMTK knows",
        "no_meta": "damaged DICOM file: element (0008,0016) at byte 132, where the file meta information (group 0002) "
                   "should begin",
        "jpeg_markers": "damaged JPEG data in the pixel data: bytes ff ff at 2, where a marker segment or the frame "
                        "header should be",
        "meta_ended": "damaged DICOM file: element (0002,0010) at byte %d follows the end of the file meta "
                      "information (group 0002 belongs only there)" % late,
        "short_group_length": "damaged DICOM file: element (0002,0013) at byte %d follows the end of the file meta "
                              "information (group 0002 belongs only there)" % last,
        "delimiter_length": "damaged DICOM file: a sequence delimiter (fffe,e0dd) at byte %d with a length (it has none)"
                            % (pix + 12),
        "past_item": "damaged DICOM file: element (0028,3002) at byte %d declares 6 bytes, past the end of its sequence or "
                     "item at byte %d" % (pix + 20, pix + 30),
        "deflated": "deflated DICOM (transfer syntax 1.2.840.10008.1.2.1.99) is not supported",
        "text": "not a PNG, JPEG or DICOM image: it begins with the text \"PatientN\"",
    }
    for k, msg in want.items():
        _, err = load(outs[k], "<f4")
        check(err == p[k] + ": " + msg, "%s refused: %r" % (k, err))
    img, err = load(un_out, "<f4")
    check(err is None and np.array_equal(img[0], g0.astype(np.float32)),
          "a private sequence as UN of undefined length (implicit VR inside, CP-246) is walked and skipped (%s)" % err)
    img, err = load(outs["png_named_dcm"], "<f4")
    check(err is None and np.array_equal(img[0], g0.astype(np.float32)),
          "a PNG named .dcm is read as the PNG it is (sniffed by content)")
    _, err = load(capped, "<f4")
    check(err == good + ": image is 128x96 = 12288 pixels, more than the cap of 12287 (--max-pixels N to change it)",
          "pixel cap from Rows x Columns: %r" % err)
    _, err = load(fits, "<f4")
    check(err is None, "a cap of exactly Rows x Columns decodes (%s)" % err)


def t_commands():
    d = fresh_dir("commands")
    from PIL import Image
    exe = os.path.join(d, "cnn")
    run([A.sinter, "compile", os.path.join(A.here, "..", "images", "simple_cnn_gray.nn"), "--set", "size=32",
         "--train-batch", "4", "-o", exe])
    g0, g1 = sources()
    png = os.path.join(d, "x.png")
    Image.fromarray(g0).save(png)
    dcm = write_dcm(os.path.join(d, "x.dcm"), g0, 8)
    rle, jls = os.path.join(d, "x_rle.dcm"), os.path.join(d, "x_jls.dcm")
    run(["dcmcrle", dcm, rle])
    run(["dcmcjpls", dcm, jls])
    saved = fresh_dir("commands", "saved")
    p = run([exe, "predict", "--json", "--top", "3", "--save-input", saved, png, dcm, rle, jls])
    res = json.loads(p.stdout)
    preds = [r["predictions"] for r in res]
    check(len(res) == 4 and all(x == preds[0] for x in preds[1:]),
          "predict: 8-bit DICOM (uncompressed, RLE, JPEG-LS) = the PNG path exactly (%s)" % preds)
    pbs = [open(os.path.join(saved, "input_%d.pb" % k), "rb").read() for k in range(4)]
    check(all(x == pbs[0] for x in pbs[1:]), "predict --save-input: the same input tensor, byte for byte")
    # --window reaches the model's input: a 32x32 12-bit file (no resize) against the numpy chain.
    small = np.array(Image.fromarray(g1).resize((32, 32), Image.NEAREST)).astype(np.int32) * 16
    w12 = write_dcm(os.path.join(d, "w12.dcm"), small, 12, WindowCenter=100, WindowWidth=50)
    saved = fresh_dir("commands", "saved_w")
    run([exe, "predict", "--window", "2000,1500", "--save-input", saved, w12])
    from onnx import numpy_helper, TensorProto
    t = TensorProto()
    t.ParseFromString(open(os.path.join(saved, "input_0.pb"), "rb").read())
    x = numpy_helper.to_array(t).reshape(32, 32)
    ref = reference(pydicom.dcmread(w12), small, override=(2000, 1500))
    check(float(np.abs(x - ref).max()) < 1e-3, "predict --window 2000,1500: the model's input is the windowed image "
          "(max diff %g)" % float(np.abs(x - ref).max()))
    # A folder mixing PNG, JPEG and DICOM (upper-case .DCM too).
    data = fresh_dir("commands", "mixed")
    for cls, g in (("COVID", g0), ("Normal", g1)):
        os.makedirs(os.path.join(data, cls))
        Image.fromarray(g).save(os.path.join(data, cls, "a.png"))
        Image.fromarray(g).save(os.path.join(data, cls, "b.jpg"), quality=95)
        write_dcm(os.path.join(data, cls, "c.dcm"), g.astype(np.int32) * 16, 12)
        write_dcm(os.path.join(data, cls, "d.DCM"), g, 8, pi="MONOCHROME1")
    p = run([exe, "data", "--data", data, "--out", os.path.join(d, "sheet"), "--window", "2000,4000"])
    check("total                    8" in p.stdout and os.path.exists(os.path.join(d, "sheet", "samples.png")),
          "data: 8 images in a folder mixing PNG, JPEG and DICOM, a contact sheet")
    out = os.path.join(d, "run")
    p = run([exe, "train", "--data", data, "--out", out, "--epochs", "1", "--batch", "4", "--split", "0.5,0.25,0.25",
             "--threads", "1"])
    check("Epoch 1/1" in p.stdout and os.path.exists(os.path.join(out, "best.onnx")),
          "train: one epoch on the mixed folder")
    p = run([exe, "evaluate", "--data", data, "--split", "all", "--weights", os.path.join(out, "best.onnx"),
             "--out", out, "--window", "1000,800"])
    check("evaluated 8 images" in p.stdout and "skipped" not in p.stdout, "evaluate --split all --window: 8 images, "
          "none skipped (%s)" % p.stdout.splitlines()[:1])
    bad = {("--window", "40,0"): "predict: --window: the width must be at least 1, not 0 (C,W: center, width)",
           ("--window", "40"): "predict: --window: '40' is not 2 comma-separated numbers",
           ("--window", "a,5"): "predict: --window: 'a' is not a number",
           ("--max-pixels", "1000"): None}
    for args, msg in bad.items():
        p = run([exe, "predict", *args, dcm], ok_codes=(1,))
        first_line = p.stderr.splitlines()[:1]
        if msg is None:
            msg = dcm + ": image is 128x96 = 12288 pixels, more than the cap of 1000 (--max-pixels N to change it)"
            ok = any(l.endswith(msg) for l in p.stderr.splitlines())
        else:
            ok = first_line == ["simple_cnn_gray " + msg]
        check(ok, "predict %s: %r" % (" ".join(args), p.stderr.strip()[:300]))
    multi = write_dcm(os.path.join(d, "multi.dcm"), np.stack([g0, g0]), 8, frames=2)
    p = run([exe, "predict", multi, png], ok_codes=(1,))
    check(multi + ": multi-frame DICOM (2 frames) is not supported: one frame per file" in p.stderr
          and p.stdout.count("x.png:") == 1, "predict: a multi-frame file is refused, the PNG still classified")
    # The decoder is a plugin loaded on the first DICOM file: without it, DICOM files are refused
    # by name and everything else still runs.
    gone = os.path.join(d, "no", "libsinter_dicom.so")
    env = dict(os.environ, SINTER_DICOM_PLUGIN=gone)
    p = run([exe, "predict", dcm, png], ok_codes=(1,), env=env)
    check(dcm + ": cannot load the DICOM decoder libsinter_dicom.so (" + gone + ": cannot open shared object file: "
          "No such file or directory); set SINTER_DICOM_PLUGIN to its path" in p.stderr
          and p.stdout.count("x.png:") == 1, "predict without the DICOM plugin: %r" % p.stderr.strip()[:300])
    zlib = "/lib/x86_64-linux-gnu/libz.so.1"
    p = run([exe, "predict", dcm], ok_codes=(1,), env=dict(os.environ, SINTER_DICOM_PLUGIN=zlib))
    check(dcm + ": " + zlib + " is not sinter's DICOM plugin (no snt_dicom_plugin_v1 entry table)" in p.stderr,
          "predict with another library as the plugin: %r" % p.stderr.strip()[:300])
    p = run(["ldd", exe])
    check("libdcm" not in p.stdout and "libofstd" not in p.stdout, "executables do not load DCMTK at start")
    p = run([exe, "info", "--window", "1,2"], ok_codes=(1,))
    check("window" in p.stderr, "info takes no --window (%s)" % p.stderr.splitlines()[:1])


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument("--sinter", required=True)
    ap.add_argument("--dump", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("test", choices=["decode", "errors", "commands"])
    A = ap.parse_args()
    A.here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(A.work, exist_ok=True)
    {"decode": t_decode, "errors": t_errors, "commands": t_commands}[A.test]()
    finish("all checks passed")


if __name__ == "__main__":
    main()
