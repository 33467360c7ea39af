"""ReverseSequence (10; batch and time axes either way, lengths 0 to full, FLOAT, INT64 and BOOL
data, rank 2 to 4), Det (11; 2-D, batched, singular, 1x1) and Einsum (12; products, transposes,
diagonals, traces, outer products, broadcast ellipses, implicit outputs, 3 inputs, attention's
bhid,bhjd), HannWindow, HammingWindow, BlackmanWindow (17) and a Range whose limit comes from a
graph input through a Cast (the given value is compiled in) and Compress (its condition an
initializer or a given input) against ONNX Runtime. A length past
the time axis fails the run; malformed nodes are refused."""
import os
import sys
import tempfile

import numpy as np
from onnx import TensorProto as TP

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
INPUTS = [("x", X, TP.FLOAT), ("xb", XB, TP.FLOAT), ("xl", XL, TP.INT64), ("xt", XT, TP.BOOL), ("m", M, TP.FLOAT),
          ("sz", np.array(7, np.int64), TP.INT64), ("keep", np.array([1, 0, 0, 1, 1, 0], bool), TP.BOOL)]
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
    e = Model(12)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)
    for eq, ins in [("ij,jk->ik", [f(3, 4), f(4, 5)]), ("bij,bjk->bik", [f(2, 3, 4), f(2, 4, 5)]),
                    ("ij->ji", [f(3, 4)]), ("ii->i", [f(4, 4)]), ("ii", [f(4, 4)]), ("i,i", [f(6), f(6)]),
                    ("i,j->ij", [f(3), f(4)]), ("...ij,...jk->...ik", [f(2, 3, 3, 4), f(1, 3, 4, 2)]),
                    ("ij,jk", [f(3, 4), f(4, 2)]), ("ab,bc,cd->ad", [f(2, 3), f(3, 4), f(4, 5)]),
                    ("bhid,bhjd->bhij", [f(1, 2, 5, 3), f(1, 2, 4, 3)]), ("...i->...", [f(2, 3, 4)]),
                    ("Ab,bA->A", [f(3, 2), f(2, 3)])]:
        e.add("Einsum", ins, equation=eq)
    w = Model(17)
    w.add("HannWindow", [np.array(10, np.int64)])
    w.add("HammingWindow", [np.array(7, np.int32)], periodic=0, output_datatype=TP.DOUBLE)
    w.add("BlackmanWindow", [np.array(12, np.int64)], periodic=0)
    w.add("BlackmanWindow", [np.array(1, np.int64)])
    # A graph input whose value, given when compiling, reaches a shape through a chain: it folds.
    (szf,) = w.add("Cast", ["sz"], to=TP.FLOAT)
    w.outs.remove(szf)
    w.add("Range", [np.array(0, np.float32), szf, np.array(1.5, np.float32)])
    # Compress: the condition known when compiling (an initializer, or the given input "keep")
    cond = np.array([True, False, True, True, False], bool)
    w.add("Compress", ["x", cond], axis=0)
    w.add("Compress", ["x", cond[:3]], axis=-1)
    w.add("Compress", ["xt", np.array([False, True, True, False, True, True, False], bool)])  # flattened, shorter
    w.add("Compress", ["xb", "keep"], axis=1)
    return [("rs", m), ("det", d), ("einsum", e), ("windows", w)]


def too_long(d):
    m = Model(10)
    m.add("ReverseSequence", ["x", "lens"])
    p, _ = ortcompare.run_sinter(d, sinter, "long", m, [("x", X, TP.FLOAT), ("lens", i64(1, 2, 6, 0), TP.INT64)])
    want = "long: node 'n0_ReverseSequence' (reverse_sequence) failed: its kernel refused the values it was given (an index, a class or a size out of the op's range)"
    if p.returncode == 0 or want not in p.stderr:
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
    m = Model(12)
    m.add("Einsum", ["m", "m"], equation="ij->i")
    cases.append(("einsum_terms", m, "equation 'ij->i': a term whose labels do not match its input's rank"))
    m = Model(12)
    m.add("Einsum", [np.zeros((2, 3), np.float32), np.zeros((4, 5), np.float32)], equation="ij,jk->ik")
    cases.append(("einsum_sizes", m, "equation 'ij,jk->ik': label sizes 3 and 4 differ"))
    m = Model(12)
    m.add("Einsum", [np.zeros((2, 3), np.float32)], equation="ij->k")
    cases.append(("einsum_out", m, "equation 'ij->k': an output label repeated or absent from the inputs"))
    m = Model(12)  # 2^11 * 2^11 * 2^10 * 2^10 * 2^10 = 2^52 products from five small inputs
    big = [np.zeros(s, np.float32) for s in (2048, 2048, 1024, 1024, 1024)]
    m.add("Einsum", big, equation="a,b,c,d,e->")
    cases.append(("einsum_work", m, "equation 'a,b,c,d,e->': more than 2^40 products"))
    return ortcompare.refuse_all(d, sinter, cases, INPUTS)


def main():
    failed = 0
    with tempfile.TemporaryDirectory() as d:
        for name, m in models():
            failed += ortcompare.run_model(d, name, m, INPUTS, sinter, ort_run, ort_modules, rtol=1e-5)
        failed += too_long(d) + refused(d)
    return ortcompare.finish("check_ops_linalg", failed)


sys.exit(main())
