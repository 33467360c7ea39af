"""Model-local functions (FunctionProto) inlined at import and IR versions 9 and 10 (issue 11,
points 2 and 3). Models built here with onnx.helper, compared with ONNX Runtime (<= 1e-5
relative): a function called twice (its inner name colliding with a graph tensor), nested calls
passing an attribute down, attribute references with and without a value (the op's default, the
function's default from FunctionProto.attribute_proto; also against numpy), a function with an
output the call leaves unused, IR 9 and IR 10 files (IR 10 with an overloaded function). Against
sinter's own results or numpy: two calls with the same node name (ONNX Runtime refuses those),
a function importing ai.onnx 11 in an opset 17 model. Fields newer than Debian's onnx 1.12
schema (attribute_proto, overload) are written as raw protobuf bytes. Then exact messages for a
recursive function, a node in an unknown domain, a function's unreadable opset, a call that
inlines too many nodes, an output no node computes, an undeclared attribute reference, external
data leaving the folder and an IR 11 file; and `sinter info` on calls.
usage: check_functions.py SINTER ORT_RUN_JS ORT_NODE_MODULES"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SINTER, ORT_RUN, ORT_MODULES = sys.argv[1:4]
tmp = tempfile.mkdtemp(prefix="sinter-functions-")
rng = np.random.default_rng(11)
X = rng.standard_normal((2, 3, 4)).astype(np.float32)
failures = []
D = "com.test"


def varint(n):
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def raw_field(msg, field, payload):
    """Appends a length-delimited field the 1.12 schema does not know (kept as unknown)."""
    msg.MergeFromString(varint(field << 3 | 2) + varint(len(payload)) + payload)


def fn(name, inputs, outputs, nodes, attributes=(), opset=17, defaults=(), overload=None):
    imports = [helper.make_opsetid("", opset), helper.make_opsetid(D, 1)]
    f = helper.make_function(D, name, inputs, outputs, nodes, imports, list(attributes))
    for a in defaults:  # FunctionProto.attribute_proto (field 11, IR 9)
        raw_field(f, 11, a.SerializeToString())
    if overload is not None:  # FunctionProto.overload (field 13, IR 10)
        raw_field(f, 13, overload.encode())
    return f


def call(name, op, inputs, outputs, overload=None, **attrs):
    n = helper.make_node(op, inputs, outputs, name=name, domain=D, **attrs)
    if overload is not None:  # NodeProto.overload (field 8, IR 10)
        raw_field(n, 8, overload.encode())
    return n


def ref(name, ref_name, typ=onnx.AttributeProto.FLOAT):
    a = onnx.AttributeProto()
    a.name, a.ref_attr_name, a.type = name, ref_name, typ
    return a


def node(op, inputs, outputs, name="", refs=(), **attrs):
    n = helper.make_node(op, inputs, outputs, name=name, **attrs)
    n.attribute.extend(refs)
    return n


def model(name, nodes, outputs, functions, opset=17, ir=8):
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(X.shape))],
                          [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(D, 1)],
                          functions=functions)
    m.ir_version = ir
    path = os.path.join(tmp, name + ".onnx")
    with open(path, "wb") as f:
        f.write(m.SerializeToString())
    return path


def read(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


xpb = os.path.join(tmp, "x.pb")
with open(xpb, "wb") as f:
    f.write(numpy_helper.from_array(X).SerializeToString())


def against_ort(name, path, n_out, expect=None):
    """Sinter against ONNX Runtime, and against numpy where `expect` gives the outputs."""
    d = os.path.join(tmp, name)
    os.makedirs(os.path.join(d, "ort"))
    p = subprocess.run(["node", ORT_RUN, path, xpb, "-o", os.path.join(d, "ort")], capture_output=True, text=True,
                       env=dict(os.environ, ORT_NODE_MODULES=ORT_MODULES))
    if p.returncode:
        failures.append("%s: ONNX Runtime failed: %s" % (name, p.stderr.strip()))
        return
    p = subprocess.run([SINTER, "run", path, xpb, "-o", d], capture_output=True, text=True)
    if p.returncode:
        failures.append("%s: sinter failed: %s" % (name, p.stderr.strip()))
        return
    for i in range(n_out):
        a, b = read(os.path.join(d, "output_%d.pb" % i)), read(os.path.join(d, "ort", "output_%d.pb" % i))
        err = float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b))))) if a.shape == b.shape else np.inf
        if not err <= 1e-5:
            failures.append("%s: output %d differs from ONNX Runtime (%s vs %s, %.3g)" % (name, i, a.shape, b.shape, err))
        if expect is not None and not np.allclose(a, expect[i], rtol=1e-5, atol=1e-6):
            failures.append("%s: output %d differs from numpy" % (name, i))
    print("ok %s" % name)


W = helper.make_tensor("w", TensorProto.FLOAT, [4], [0.5, -1.0, 2.0, 0.25])
add_mul = fn("AddMul", ["a", "b"], ["y"], [node("Add", ["a", "b"], ["t"]), node("Mul", ["t", "a"], ["y"])])
leaky = fn("Leaky", ["x"], ["y"], [node("LeakyRelu", ["x"], ["y"], refs=[ref("alpha", "alpha")])], ["alpha"])
leaky_def = fn("LeakyDef", ["x"], ["y"], [node("LeakyRelu", ["x"], ["y"], refs=[ref("alpha", "alpha")])],
               defaults=[helper.make_attribute("alpha", 0.2)])
# Outer passes its attribute `a` down as Leaky's alpha, and calls AddMul too.
outer = fn("Outer", ["x", "w"], ["y"], [call("in1", "Leaky", ["x"], ["l"], alpha=0.0),
                                        node("Constant", [], ["k"], value_float=1.5),
                                        call("in2", "Leaky", ["l"], ["l2"]),
                                        node("Mul", ["l2", "k"], ["m"], name="scale"),
                                        call("in3", "AddMul", ["m", "w"], ["y0"]),
                                        node("LeakyRelu", ["y0"], ["y"], refs=[ref("alpha", "a")])], ["a"])
two = fn("Two", ["x"], ["p", "q"], [node("Relu", ["x"], ["p"]), node("Neg", ["x"], ["q"])])
# ai.onnx 11 inside the function: ReduceSum's axes is an attribute there, an input from 13 on.
old = fn("OldSum", ["x"], ["y"], [node("ReduceSum", ["x"], ["y"], axes=[1], keepdims=1)], opset=11)
const_w = helper.make_node("Constant", [], ["w"], value=W)

cases = {
    # The graph already has a tensor named "f/t", the name f's inner t would get.
    "twice": ([const_w, call("f", "AddMul", ["x", "w"], ["y1"]), node("Relu", ["x"], ["f/t"], name="r"),
               call("g", "AddMul", ["y1", "f/t"], ["y2"]), node("Add", ["y2", "f/t"], ["y"], name="add")], ["y"],
              [add_mul]),
    "nested": ([const_w, call("o", "Outer", ["x", "w"], ["y"], a=0.5)], ["y"], [outer, leaky, add_mul]),
    "attr_refs": ([call("given", "Leaky", ["x"], ["y1"], alpha=0.3), call("absent", "Leaky", ["x"], ["y2"]),
                   call("dflt", "LeakyDef", ["x"], ["y3"]), call("over", "LeakyDef", ["x"], ["y4"], alpha=0.7)],
                  ["y1", "y2", "y3", "y4"], [leaky, leaky_def]),
    "unused_output": ([call("c1", "Two", ["x"], ["p1", ""]), call("c2", "Two", ["x"], ["", "q2"]),
                       node("Add", ["p1", "q2"], ["y"])], ["y", "p1"], [two]),
}
leaky_np = lambda a: np.where(X >= 0, X, a * X)
expect = {"attr_refs": [leaky_np(0.3), leaky_np(0.01), leaky_np(0.2), leaky_np(0.7)]}
for name, (nodes, outs, fns) in cases.items():
    against_ort(name, model(name, nodes, outs, fns), len(outs), expect.get(name))

# Two calls of the same name (ONNX Runtime refuses the file): sinter keeps their inner names
# apart and computes what the "twice" model does.
nodes = [const_w, call("f", "AddMul", ["x", "w"], ["y1"]), node("Relu", ["x"], ["f/t"], name="r"),
         call("f", "AddMul", ["y1", "f/t"], ["y2"]), node("Add", ["y2", "f/t"], ["y"], name="add")]
p = model("same_names", nodes, ["y"], [add_mul])
d = os.path.join(tmp, "same_names")
r = subprocess.run([SINTER, "run", p, xpb, "-o", d], capture_output=True, text=True)
if r.returncode or not np.array_equal(read(os.path.join(d, "output_0.pb")),
                                      read(os.path.join(tmp, "twice", "output_0.pb"))):
    failures.append("same_names: %s" % (r.stderr or "differs from the twice model"))
else:
    print("ok same_names")

# ONNX Runtime reads a function's nodes at the model's opset; sinter at the function's own
# import, as the spec says: ai.onnx 11's ReduceSum with axes as an attribute, against numpy.
p = model("function_opset", [call("s", "OldSum", ["x"], ["y"])], ["y"], [old])
d = os.path.join(tmp, "function_opset")
r = subprocess.run([SINTER, "run", p, xpb, "-o", d], capture_output=True, text=True)
if r.returncode or not np.allclose(read(os.path.join(d, "output_0.pb")), X.sum(axis=1, keepdims=True), rtol=1e-5,
                                   atol=1e-6):
    failures.append("function_opset: %s" % (r.stderr or "differs from numpy"))
else:
    print("ok function_opset")

# IR 9 and 10: a plain graph, and for IR 10 a function overloaded by two bodies.
plain = [helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Mul", ["x", "s"], ["y"])]
against_ort("ir9", model("ir9", plain, ["y"], [], ir=9), 1)
against_ort("ir10", model("ir10", plain, ["y"], [], ir=10), 1)
ov = [fn("Act", ["x"], ["y"], [node("Relu", ["x"], ["y"])], overload="relu"),
      fn("Act", ["x"], ["y"], [node("Neg", ["x"], ["y"])], overload="neg")]
against_ort("ir10_overload", model("ir10_overload", [call("a", "Act", ["x"], ["r"], overload="relu"),
                                                     call("b", "Act", ["r"], ["y"], overload="neg")], ["y"], ov,
                                   ir=10), 1, [-np.maximum(X, 0)])


def error(name, path, want):
    p = subprocess.run([SINTER, "run", path, xpb, "-o", os.path.join(tmp, name + "-out")], capture_output=True,
                       text=True)
    if p.returncode == 0 or want not in p.stderr:
        failures.append("%s: exit %d, want the message\n  %s\ngot\n  %s" % (name, p.returncode, want, p.stderr))
    else:
        print("ok %s" % name)


f_rec = fn("F", ["x"], ["y"], [call("g", "G", ["x"], ["y"])])
g_rec = fn("G", ["x"], ["y"], [node("Relu", ["x"], ["r"]), call("f", "F", ["r"], ["y"])])
p = model("recursive", [call("top", "F", ["x"], ["y"])], ["y"], [f_rec, g_rec])
error("recursive", p, "%s: error: node 'top/g/f': local function 'F' calls itself (com.test:F -> com.test:G -> com.test:F); "
      "recursive functions cannot be inlined" % p)
p = model("unknown_domain", [helper.make_node("AddMul", ["x", "x"], ["y"], name="am", domain="com.other")], ["y"],
          [add_mul])
error("unknown_domain", p, "%s: error: node 'am' (AddMul): domain 'com.other' is not supported (only ai.onnx and the "
      "model's local functions, none of which is AddMul in it)" % p)
p = model("function_opset_99", [call("s", "OldSum", ["x"], ["y"])], ["y"],
          [fn("OldSum", ["x"], ["y"], [node("Relu", ["x"], ["y"])], opset=99)])
error("function_opset_99", p, "%s: error: node 's': local function 'OldSum' imports ai.onnx opset 99, which sinter does not "
      "read (opsets 1 to 21)" % p)
# Each level calls the one below twice: 2^20 nodes if nothing stopped it.
blow = [fn("B0", ["x"], ["y"], [node("Relu", ["x"], ["y"])])]
for k in range(1, 21):
    blow.append(fn("B%d" % k, ["x"], ["y"], [call("l", "B%d" % (k - 1), ["x"], ["t"]),
                                             call("r", "B%d" % (k - 1), ["t"], ["y"])]))
p = model("blowup", [call("top", "B20", ["x"], ["y"])], ["y"], blow)
error("blowup", p, "%s: error: node 'top/l/l/l/l/r/l/l/l/l/l/r/l/l/l/r/r/l/l/l/l': inlining local functions makes more than "
      "100000 nodes" % p)
p = model("not_computed", [call("c", "Pass", ["x"], ["y"])], ["y"],
          [fn("Pass", ["x"], ["y", "z"], [node("Relu", ["x"], ["z"])])])
error("not_computed", p, "%s: error: node 'c': output 'y' of local function 'Pass' is not computed by any of its "
      "nodes" % p)
p = model("undeclared", [call("c", "Lk", ["x"], ["y"], alpha=0.5)], ["y"],
          [fn("Lk", ["x"], ["y"], [node("LeakyRelu", ["x"], ["y"], refs=[ref("alpha", "beta")])], ["alpha"])])
error("undeclared", p, "%s: error: local function 'Lk': attribute 'alpha' refers to 'beta', which the function does "
      "not declare" % p)
# A Constant inside a function is confined like any other (issue 9): no '..' out of the folder.
ext = onnx.TensorProto(name="k", data_type=TensorProto.FLOAT, dims=[1], data_location=TensorProto.EXTERNAL)
ext.external_data.add(key="location", value="../secret.bin")
with open(os.path.join(tmp, "secret.bin"), "wb") as f:
    f.write(b"abcd")
p = model("ext", [call("c", "K", ["x"], ["y"])], ["y"],
          [fn("K", ["x"], ["y"], [node("Constant", [], ["k"], value=ext), node("Mul", ["x", "k"], ["y"])])])
os.makedirs(os.path.join(tmp, "ext"))
os.rename(p, os.path.join(tmp, "ext", "model.onnx"))
p = os.path.join(tmp, "ext", "model.onnx")
error("external_data", p, "%s: node 'c/Constant_0' (Constant): tensor 'k': external data location '../secret.bin' has "
      "a '..' component; it must stay in the model's directory" % p)
p = model("ir11", plain, ["y"], [], ir=11)
error("ir11", p, "%s: ONNX IR version 11 is not supported (sinter reads IR versions up to 10)" % p)

# sinter info checks a call as the nodes it inlines to.
for name, want in [("nested", "sinter: every node compiles"),
                   ("recursive", "sinter cannot compile 1 of 1 nodes:\n  %s: node 'top/g/f': local function 'F' calls "
                    "itself" % os.path.join(tmp, "recursive.onnx"))]:
    r = subprocess.run([SINTER, "info", os.path.join(tmp, name + ".onnx")], capture_output=True, text=True)
    if want not in r.stdout:
        failures.append("info %s: want\n  %s\ngot\n%s%s" % (name, want, r.stdout, r.stderr))
    else:
        print("ok info %s" % name)

if failures:
    print("\n".join("FAIL " + f for f in failures))
    sys.exit(1)
print("PASS check_functions: %d cases" % (len(cases) + 15))
