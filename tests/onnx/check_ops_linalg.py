"""ReverseSequence (10; batch and time axes either way, lengths 0 to full, FLOAT, INT64 and BOOL
data, rank 2 to 4) and Det (11; 2-D, batched, singular, 1x1) against ONNX Runtime. A length past
the time axis fails the run; malformed nodes are refused."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper, TensorProto as TP

sys.path.insert(0, os.path.dirname(__file__))
import ortcompare  # noqa: E402
from ortcompare import Model  # noqa: E402

sinter, ort_run, ort_modules = sys.argv[1:4]
rng = np.random.default_rng(11)
X = rng.standard_normal((5, 4, 3)).astype(np.float32)   # time 5, batch 4 (time_axis 0)
XB = rng.standard_normal((4, 6, 2, 3)).astype(np.float32)  # batch 4, time 6 (batch_axis 0)
XL = rng.integers(-99, 99, (5, 4)).astype(np.int64)
XT = rng.integers(0, 2, (4, 6)).astype(bool)
M = rng.standard_normal((3, 2, 4, 4)).astype(np.float32)
INPUTS = [("x", X, TP.FLOAT), ("xb", XB, TP.FLOAT), ("xl", XL, TP.INT64), ("xt", XT, TP.BOOL), ("m", M, TP.FLOAT)]
i64 = lambda *v: np.array(v, np.int64)


def models():
    m = Model(10)
    m.add("ReverseSequence", ["x", i64(5, 0, 3, 1)])
    m.add("ReverseSequence", ["xb", i64(6, 2, 0, 4)], batch_axis=0, time_axis=1)
    m.add("ReverseSequence", ["xl", i64(2, 5, 1, 4)])
    m.add("ReverseSequence", ["xt", i64(1, 6, 3, 0)], batch_axis=0, time_axis=1)
    d = Model(11)
    d.add("Det", ["m"])
    d.add("Det", [rng.standard_normal((3, 3)).astype(np.float32)])
    d.add("Det", [np.array([[1, 2], [2, 4]], np.float32)])  # singular
    d.add("Det", [np.array([[[2.5]]], np.float32)])
    return [("rs", m), ("det", d)]


def too_long(d):
    m = Model(10)
    m.add("ReverseSequence", ["x", "lens"])
    path = os.path.join(d, "long.onnx")
    lens = i64(1, 2, 6, 0)
    onnx.save(m.proto("long", [("x", X, TP.FLOAT), ("lens", lens, TP.INT64)]), path)
    pbs = []
    for name, v in (("x", X), ("lens", lens)):
        pbs.append(os.path.join(d, f"l_{name}.pb"))
        open(pbs[-1], "wb").write(numpy_helper.from_array(v, name).SerializeToString())
    p = subprocess.run([sinter, "run", path, *pbs, "-o", os.path.join(d, "long_out")], capture_output=True, text=True)
    if p.returncode == 0 or "running the model failed" not in p.stderr:
        print(f"FAIL a length of 6 on a time axis of 5: {p.stderr.strip()}")
        return 1
    print("ok a length past the time axis fails the run")
    return 0


def refused(d):
    cases = []
    m = Model(10)
    m.add("ReverseSequence", ["x", i64(1, 2)])
    cases.append(("rs_lens", m, "sequence_lens must be INT64 with one length per batch index (4)"))
    m = Model(10)
    m.add("ReverseSequence", ["xb", i64(1, 2, 3, 4)], batch_axis=0, time_axis=2)
    cases.append(("rs_axes", m, "batch_axis 0 and time_axis 2 must be 0 and 1 in either order"))
    m = Model(11)
    m.add("Det", ["x"])
    cases.append(("det_shape", m, "the input has shape (5, 4, 3), expected [..., M, M]"))
    failed = sum(ortcompare.check_refused(d, sinter, n, m, INPUTS, msg) for n, m, msg in cases)
    if not failed:
        print(f"ok {len(cases)} malformed nodes refused")
    return failed


def main():
    failed = 0
    with tempfile.TemporaryDirectory() as d:
        for name, m in models():
            failed += ortcompare.run_model(d, name, m, INPUTS, sinter, ort_run, ort_modules, rtol=1e-5)
        failed += too_long(d) + refused(d)
    print("FAIL check_ops_linalg" if failed else "PASS check_ops_linalg")
    return 1 if failed else 0


sys.exit(main())
