"""What the seed checks share: their command line and reading ONNX tensors."""
import argparse

import onnx
from onnx import numpy_helper


def tensor(path):
    return numpy_helper.to_array(onnx.load_tensor(path))


def arguments():
    ap = argparse.ArgumentParser()
    for opt in ("--sinter", "--ref", "--models", "--shared", "--ort-modules"):
        ap.add_argument(opt, required=True)
    ap.add_argument("name")
    return ap.parse_args()
