#!/usr/bin/python3
"""Independent reference for tests/runtime/test_onnx_io.c: decodes ONNX tensors with
onnx.numpy_helper.to_array and prints one line per tensor:

    KEY <TAB> data_type <TAB> dims <TAB> nbytes <TAB> fnv1a64

KEY is the .pb path, or MODEL#init:NAME / MODEL#const:NODE_INDEX for a model's
initializers and Constant nodes' `value` tensors. dims is comma-separated ("-" for a
scalar); fnv1a64 is the FNV-1a 64-bit hash (16 hex digits) of the elements' little-endian
bytes, BOOL as one byte, FLOAT16/BFLOAT16 as their 16-bit patterns. A tensor numpy_helper
refuses prints "ERROR <message>" after KEY.

Arguments are files (.pb or .onnx) or directories laid out like ONNX's backend tests
(DIR/<case>/model.onnx, DIR/<case>/test_data_set_0/*.pb).
"""
import glob
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def tensor_line(key, tp, base_dir):
    try:
        arr = numpy_helper.to_array(tp, base_dir)
    except Exception as ex:  # the reference's verdict is data too
        return "%s\tERROR %s" % (key, str(ex).replace("\n", " "))
    if tp.data_type == onnx.TensorProto.BFLOAT16:
        # to_array widens bfloat16 to float32; its top 16 bits are the original pattern.
        arr = (np.ascontiguousarray(arr, dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)
    le = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"), copy=False)
    data = le.tobytes()
    dims = ",".join(str(d) for d in arr.shape) or "-"
    return "%s\t%d\t%s\t%d\t%s" % (key, tp.data_type, dims, len(data), fnv1a64(data))


def pb_lines(path):
    tp = onnx.TensorProto()
    with open(path, "rb") as f:
        tp.ParseFromString(f.read())
    return [tensor_line(path, tp, os.path.dirname(path))]


def model_lines(path):
    m = onnx.load(path, load_external_data=False)
    base = os.path.dirname(path)
    out = [tensor_line("%s#init:%s" % (path, t.name), t, base) for t in m.graph.initializer]
    for i, node in enumerate(m.graph.node):
        if node.op_type != "Constant":
            continue
        for a in node.attribute:
            if a.name == "value" and a.type == onnx.AttributeProto.TENSOR:
                out.append(tensor_line("%s#const:%d" % (path, i), a.t, base))
    return out


def expand(arg):
    if not os.path.isdir(arg):
        return [arg]
    pbs = glob.glob(os.path.join(arg, "*", "test_data_set_0", "*.pb"))
    models = glob.glob(os.path.join(arg, "*", "model.onnx"))
    return sorted(pbs + models)


def main(argv):
    if len(argv) < 2:
        print("usage: onnx_io_reference.py FILE_OR_DIR...", file=sys.stderr)
        return 2
    for arg in argv[1:]:
        for path in expand(arg):
            lines = model_lines(path) if path.endswith(".onnx") else pb_lines(path)
            for line in lines:
                print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
