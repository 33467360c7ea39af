"""If with a condition known when compiling (PyTorch's exports test the input's rank or a
dimension this way) against ONNX Runtime: both branches taken, outer names read from a
branch, a branch's own initializers, nested Ifs and two outputs; then the Ifs sinter cannot
compile, refused with their messages."""
import sys
import tempfile

import numpy as np
from onnx import TensorProto as TP, helper, numpy_helper

sys.path.insert(0, __import__("os").path.dirname(__file__))
from ortcompare import Model, run_model, check_refused  # noqa: E402

sinter, ort_run, ort_modules = sys.argv[1:4]
X = np.random.default_rng(5).standard_normal((2, 3, 4, 5)).astype(np.float32)
INPUTS = [("x", X, TP.FLOAT)]
node = helper.make_node
i64 = lambda *v: np.array(v, np.int64)


def branch(name, nodes, outs, inits=()):
    return helper.make_graph(nodes, name, [], [helper.make_tensor_value_info(o, TP.FLOAT, None) for o in outs], list(inits))


def rank_test(m, want):
    """A BOOL that is true when x has rank `want`: Size(Shape(x)) == want, folded at compile time."""
    s = m.add("Shape", ["x"])[0]
    r = m.add("Size", [s])[0]
    e = m.add("Equal", [r, np.array(want, np.int64)])[0]
    m.outs = [o for o in m.outs if o not in (s, r, e)]
    return e


def model_if(opset):
    m = Model(opset)
    k = numpy_helper.from_array(np.array(2.5, np.float32), "k_then")
    for want in (4, 3):  # the then branch, then the else branch
        cond = rank_test(m, want)
        then_g = branch(f"then{want}", [node("Mul", ["x", "k_then"], [f"t{want}"])], [f"t{want}"], [k])
        else_g = branch(f"else{want}", [node("Relu", ["x"], [f"e{want}"])], [f"e{want}"])
        m.add("If", [cond], then_branch=then_g, else_branch=else_g)
    # Nested: the outer then-branch holds an If on the dimension 1 == 3, which holds two outputs.
    d = m.add("Gather", [m.add("Shape", ["x"])[0], np.array(1, np.int64)])[0]
    inner_c = m.add("Equal", [d, np.array(3, np.int64)])[0]
    m.outs = [o for o in m.outs if o not in (d, inner_c, "y%d_0" % (len(m.nodes) - 3))]
    inner = node("If", [inner_c], ["i0", "i1"], then_branch=branch("it", [node("Sigmoid", ["x"], ["s"]),
                                                                              node("Neg", ["x"], ["n"])], ["s", "n"]),
                 else_branch=branch("ie", [node("Tanh", ["x"], ["a"]), node("Abs", ["x"], ["b"])], ["a", "b"]))
    outer_c = rank_test(m, 4)
    m.add("If", [outer_c], 2, then_branch=branch("ot", [inner], ["i0", "i1"]),
          else_branch=branch("oe", [node("Exp", ["x"], ["p"]), node("Log", ["x"], ["q"])], ["p", "q"]))
    return m


def refused(d):
    cases = []
    m = Model(13)
    s = m.add("ReduceSum", ["x"], keepdims=0)[0]
    c = m.add("Greater", [s, np.array(0, np.float32)])[0]
    m.outs = []
    m.add("If", [c], then_branch=branch("t", [node("Relu", ["x"], ["a"])], ["a"]),
          else_branch=branch("e", [node("Neg", ["x"], ["b"])], ["b"]))
    cases.append(("data_condition", m, f"node 'n2_If' (If, opset 13): its condition '{c}' must be one BOOL known when "
                  "compiling (sinter compiles the branch it selects; a condition computed from the data is not supported)"))
    m = Model(13)
    c = rank_test(m, 4)
    m.add("If", [c], then_branch=branch("t", [node("Relu", ["x"], ["a"]), node("Neg", ["x"], ["b"])], ["a", "b"]),
          else_branch=branch("e", [node("Neg", ["x"], ["c"])], ["c"]))
    cases.append(("branch_outputs", m, "node 'n3_If' (If, opset 13): the then branch has 2 outputs for the node's 1"))
    m = Model(13)
    c = rank_test(m, 4)
    m.add("If", [c], then_branch=branch("t", [node("Relu", ["nowhere"], ["a"])], ["a"]),
          else_branch=branch("e", [node("Neg", ["x"], ["c"])], ["c"]))
    cases.append(("unknown_name", m, "node 'Relu_0' (Relu, opset 13) reads 'nowhere', which no input, initializer or "
                  "earlier node provides"))
    return sum(check_refused(d, sinter, n, m, INPUTS, msg) for n, m, msg in cases), len(cases)


with tempfile.TemporaryDirectory() as d:
    failed = sum(run_model(d, f"if{o}", model_if(o), INPUTS, sinter, ort_run, ort_modules) for o in (11, 13, 16))
    bad, n_bad = refused(d)
    if not bad:
        print(f"ok {n_bad} Ifs refused")
    failed += bad
print("PASS" if not failed else f"{failed} failures")
sys.exit(1 if failed else 0)
