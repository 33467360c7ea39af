"""NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opsets 12 and 13) against ONNX Runtime:
reductions none, sum and mean, class weights, ignore_index (also negative, and with weights),
rank 2 and rank 4 inputs, INT32 and INT64 targets, FLOAT and DOUBLE, SoftmaxCrossEntropyLoss
with and without its log_prob output. Then a target outside the classes fails the run, and
malformed nodes are refused with their exact messages."""
import os
import sys
import tempfile

import numpy as np
from onnx import TensorProto as TP

sys.path.insert(0, os.path.dirname(__file__))
import ortcompare  # noqa: E402
from ortcompare import Model  # noqa: E402

sinter, ort_run, ort_modules = sys.argv[1:4]
rng = np.random.default_rng(12)

X2 = rng.standard_normal((6, 5)).astype(np.float32)
T2 = np.array([0, 4, 2, 2, 1, 3], np.int64)
X4 = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
T4 = rng.integers(0, 3, (2, 4, 5)).astype(np.int32)
T4[0, 1, :] = -1  # ignored where ignore_index = -1
XD = rng.standard_normal((4, 3, 7))
TD = rng.integers(0, 3, (4, 7)).astype(np.int64)
W5 = rng.uniform(0.1, 2.0, 5).astype(np.float32)
W3 = rng.uniform(0.1, 2.0, 3).astype(np.float32)
INPUTS = [("x2", X2, TP.FLOAT), ("t2", T2, TP.INT64), ("x4", X4, TP.FLOAT), ("t4", T4, TP.INT32),
          ("xd", XD, TP.DOUBLE), ("td", TD, TP.INT64)]


def models():
    out = []
    for opset in (12, 13):
        m = Model(opset)
        for red in ("none", "sum", "mean"):
            m.add("NegativeLogLikelihoodLoss", ["x2", "t2"], reduction=red)
            m.add("NegativeLogLikelihoodLoss", ["x2", "t2", W5], reduction=red)
            m.add("NegativeLogLikelihoodLoss", ["x4", "t4"], reduction=red, ignore_index=-1)
            m.add("NegativeLogLikelihoodLoss", ["x4", "t4", W3], reduction=red, ignore_index=-1)
            m.add("NegativeLogLikelihoodLoss", ["xd", "td"], reduction=red, ignore_index=2)
            m.add("SoftmaxCrossEntropyLoss", ["x2", "t2"], n_out=2, reduction=red)
            m.add("SoftmaxCrossEntropyLoss", ["x2", "t2", W5], reduction=red, ignore_index=4)
            m.add("SoftmaxCrossEntropyLoss", ["x4", "t4", W3], n_out=2, reduction=red, ignore_index=-1)
            m.add("SoftmaxCrossEntropyLoss", ["xd", "td"], reduction=red)
        m.add("NegativeLogLikelihoodLoss", ["x2", "t2"])  # the default reduction: mean
        out.append((f"loss{opset}", m))
    return out


def out_of_range(d):
    m = Model(13)
    m.add("NegativeLogLikelihoodLoss", ["x2", "t2"])
    p, _ = ortcompare.run_sinter(d, sinter, "oor", m, [INPUTS[0], ("t2", np.array([0, 5, 2, 2, 1, 3], np.int64), TP.INT64)])
    if p.returncode == 0:
        print("FAIL a target of 5 among 5 classes ran")
        return 1
    want = ("oor: node 'n0_NegativeLogLikelihoodLoss' (nll_loss) failed: its kernel refused the values it was given "
            "(an index, a class or a size out of the op's range)")
    if want not in p.stderr:
        print(f"FAIL a target outside the classes: no message from the model: {p.stderr.strip()}")
        return 1
    print("ok a target outside the classes fails the run")
    return 0


def refused(d):
    cases = []
    m = Model(13)
    m.add("NegativeLogLikelihoodLoss", ["x4", "t2"])
    cases.append(("nll_shape", m, "targets (6,) do not match the input (2, 3, 4, 5) without its class axis"))
    m = Model(13)
    m.add("SoftmaxCrossEntropyLoss", ["x2", "t2", W3])
    cases.append(("sce_weights", m, "weights must have shape (5), one per class"))
    m = Model(13)
    m.add("NegativeLogLikelihoodLoss", ["x2", "t2"], reduction="max")
    cases.append(("nll_reduction", m, "reduction 'max' is none of none, sum and mean"))
    m = Model(13)
    m.add("NegativeLogLikelihoodLoss", ["x2", "x2"])
    cases.append(("nll_float_targets", m, "op NegativeLogLikelihoodLoss (opset 13) does not support type FLOAT (input 2, 'x2'; "
                  "supported: INT32, INT64)"))
    return ortcompare.refuse_all(d, sinter, cases, INPUTS)


def main():
    failed = 0
    with tempfile.TemporaryDirectory() as d:
        for name, m in models():
            failed += ortcompare.run_model(d, name, m, INPUTS, sinter, ort_run, ort_modules)
        failed += out_of_range(d) + refused(d)
    return ortcompare.finish("check_ops_loss", failed)


sys.exit(main())
