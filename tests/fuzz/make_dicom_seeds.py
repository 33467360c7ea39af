#!/usr/bin/env python3
"""Writes tests/fuzz/seeds/dicom/: tiny synthetic DICOM files (8x6 pixels) for fuzz_dicom, one per
layout the loader handles: 8/12/16-bit, signed, MONOCHROME1, rescale + window, a VOI LUT, and
the compressed transfer syntaxes of DCMTK's tools (dcmcjpeg, dcmcjpls, dcmcrle).

usage: /usr/bin/python3 tests/fuzz/make_dicom_seeds.py   (needs python3-pydicom and dcmtk)
"""
import os
import subprocess
import tempfile

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "dicom")


def write(path, arr, bits, signed=False, pi="MONOCHROME2", syntax=ExplicitVRLittleEndian, **attrs):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = "1.2.3.4"  # fixed: the seeds are reproducible byte for byte
    meta.TransferSyntaxUID = syntax
    meta.ImplementationClassUID = "1.2.3.5"
    ds = Dataset()
    ds.file_meta = meta
    ds.Rows, ds.Columns = arr.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, pi
    alloc = 8 if bits <= 8 else 16
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = alloc, bits, bits - 1, int(signed)
    for k, v in attrs.items():
        setattr(ds, k, v)
    ds.PixelData = arr.astype(("<i" if signed else "<u") + str(alloc // 8)).tobytes()
    ds.is_little_endian, ds.is_implicit_VR = True, syntax == ImplicitVRLittleEndian
    ds.save_as(path, write_like_original=False)


def main():
    os.makedirs(OUT, exist_ok=True)
    y, x = np.mgrid[0:6, 0:8]
    g = (x * 31 + y * 17) % 256
    lut = Dataset()
    lut.add_new(0x00283002, "US", [16, 0, 8])
    lut.add_new(0x00283006, "US", [i * 17 for i in range(16)])
    files = {
        "u8": (g, 8, {}),
        "u8_m1_implicit": (g, 8, {"pi": "MONOCHROME1", "syntax": ImplicitVRLittleEndian}),
        "u12_window": (g * 16, 12, {"RescaleSlope": 2, "RescaleIntercept": -1024, "WindowCenter": 0,
                                    "WindowWidth": 400}),
        "s16_lut": (g - 128, 16, {"signed": True, "VOILUTSequence": Sequence([lut])}),
        "u16_sigmoid": (g * 257, 16, {"WindowCenter": 30000, "WindowWidth": 9000, "VOILUTFunction": "SIGMOID"}),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, (arr, bits, kw) in files.items():
            write(os.path.join(OUT, name + ".dcm"), arr, bits, **kw)
        for src, name, cmd in (("u8", "u8_jpeg_baseline", ["dcmcjpeg", "+eb"]),
                               ("u12_window", "u12_jpeg_sv1", ["dcmcjpeg", "+e1"]),
                               ("s16_lut", "s16_jls", ["dcmcjpls"]),
                               ("u12_window", "u12_jls_near", ["dcmcjpls", "+en"]),
                               ("u16_sigmoid", "u16_rle", ["dcmcrle"])):
            # DCMTK's tools stamp a fresh instance UID and time: not byte-reproducible, still tiny.
            subprocess.run(cmd + [os.path.join(OUT, src + ".dcm"), os.path.join(OUT, name + ".dcm")], check=True)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
