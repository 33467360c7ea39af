"""BitShift (opset 11, LEFT and RIGHT, the four unsigned types, broadcasting) and BitwiseAnd,
BitwiseOr, BitwiseXor, BitwiseNot (opset 18, every integer type ONNX Runtime has kernels for)
against ONNX Runtime, exactly. Then shifts by the type's width or more give 0 (judged by that
rule: C leaves them undefined), and a bad direction or a float input is refused."""
import os
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper

sys.path.insert(0, os.path.dirname(__file__))
import ortcompare  # noqa: E402
from ortcompare import Model  # noqa: E402

sinter, ort_run, ort_modules = sys.argv[1:4]
rng = np.random.default_rng(18)
UNSIGNED = (np.uint8, np.uint16, np.uint32, np.uint64)
SIGNED = (np.int8, np.int16, np.int32, np.int64)


def tp(t):
    return helper.np_dtype_to_tensor_dtype(np.dtype(t)) if hasattr(helper, "np_dtype_to_tensor_dtype") else \
        onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[np.dtype(t)]


def rand(t, shape):
    info = np.iinfo(t)
    return rng.integers(info.min, info.max, shape, dtype=t, endpoint=True)


def shift_model(types=(np.uint8, np.uint32, np.uint64)):  # ONNX Runtime has no UINT16 kernel
    m, ins = Model(11), []
    for t in types:
        w = 8 * np.dtype(t).itemsize
        a, s, b = f"a{w}", f"s{w}", f"b{w}"
        ins += [(a, rand(t, (3, 4)), tp(t)), (s, rng.integers(0, w, (3, 4)).astype(t), tp(t)),
                (b, rng.integers(0, w, (4,)).astype(t), tp(t))]
        for d in ("LEFT", "RIGHT"):
            m.add("BitShift", [a, s], direction=d)
            m.add("BitShift", [a, b], direction=d)  # broadcasting the shifts
    return m, ins


def bitwise_model():
    m, ins = Model(18), []
    for t in UNSIGNED + SIGNED:
        k = np.dtype(t).name
        ins += [(f"x{k}", rand(t, (2, 3, 4)), tp(t)), (f"y{k}", rand(t, (3, 1)), tp(t))]
        for op in ("BitwiseAnd", "BitwiseOr", "BitwiseXor"):
            m.add(op, [f"x{k}", f"y{k}"])
        m.add("BitwiseNot", [f"x{k}"])
    return m, ins


def shift_uint16(d):
    """UINT16, judged by numpy (ONNX Runtime has no kernel for it)."""
    m, ins = shift_model((np.uint16,))
    p, got = ortcompare.run_sinter(d, sinter, "u16", m, ins)
    if got is None:
        print(f"FAIL UINT16 shifts: {p.stderr.strip()}")
        return 1
    a, s, b = (v for _, v, _ in ins)
    want = [np.left_shift(a, s), np.left_shift(a, b), np.right_shift(a, s), np.right_shift(a, b)]  # as added
    if not all(g.dtype == np.uint16 and np.array_equal(g, w) for g, w in zip(got, want)):
        print("FAIL UINT16 shifts differ from numpy")
        return 1
    print("ok UINT16 shifts against numpy")
    return 0


def wide_shifts(d):
    m = Model(11)
    m.add("BitShift", ["a", "s"], direction="LEFT")
    m.add("BitShift", ["a", "s"], direction="RIGHT")
    a = np.array([1, 255, 7, 128], np.uint8)
    s = np.array([8, 9, 200, 255], np.uint8)
    p, ys = ortcompare.run_sinter(d, sinter, "wide", m, [("a", a, tp(np.uint8)), ("s", s, tp(np.uint8))])
    if ys is None or any(np.any(y != 0) for y in ys):
        print(f"FAIL shifts by 8 or more: {ys} {p.stderr.strip()}")
        return 1
    print("ok shifts by the width or more give 0")
    return 0


def refused(d):
    a = ("a", np.zeros(4, np.uint8), tp(np.uint8))
    f = ("f", np.zeros(4, np.float32), tp(np.float32))
    cases = []
    m = Model(11)
    m.add("BitShift", ["a", "a"], direction="UP")
    cases.append(("direction", m, [a], "direction 'UP' is neither LEFT nor RIGHT"))
    m = Model(18)
    m.add("BitwiseAnd", ["f", "f"])
    cases.append(("float", m, [f], "op BitwiseAnd (opset 18) does not support type FLOAT (input 1, 'f'; supported: UINT8, "
                  "INT8, UINT16, INT16, INT32, INT64, UINT32, UINT64)"))
    m = Model(17)
    m.add("BitwiseNot", ["a"])
    cases.append(("not17", m, [a], "op BitwiseNot does not exist before opset 18 (the node is read at opset 17)"))
    return ortcompare.refuse_all(d, sinter, cases)


def main():
    failed = 0
    with tempfile.TemporaryDirectory() as d:
        for name, (m, ins) in (("shift", shift_model()), ("bitwise", bitwise_model())):
            failed += ortcompare.run_model(d, name, m, ins, sinter, ort_run, ort_modules)
        failed += shift_uint16(d) + wide_shifts(d) + refused(d)
    return ortcompare.finish("check_ops_bitwise", failed)


sys.exit(main())
