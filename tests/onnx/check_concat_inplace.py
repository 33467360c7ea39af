"""Concat in place (compiler/plan.c): at batch 1 the planner puts a Concat's inputs inside its
output, so their producers write there and the copy is skipped. Each case runs in sinter and in
ONNX Runtime (the reference) and must agree; the generated C must show the inputs that may move
inside the output (at their offset) and those that may not elsewhere: a graph input, an input
read twice by the Concat, an input overwritten in place after the Concat, an input still read
after the output is overwritten in place, an input at an offset not 64-byte aligned. A zero pad
(PyTorch's before AveragePool) must be gone from the plan."""
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

from ortcompare import ort_rel_error, save_and_run_ort

sinter, ort_run, ort_modules = sys.argv[1:4]
rng = np.random.default_rng(11)
C, H, W = 4, 6, 8  # a channel is 48 floats (192 bytes): whole channels keep 64-byte alignment
inits = {}


def conv(x, cin, cout, y, k=1):
    w = f"w{len(inits)}"
    inits[w] = numpy_helper.from_array(rng.standard_normal((cout, cin, k, k)).astype(np.float32) / cin, w)
    return helper.make_node("Conv", [x, w], [y], pads=[k // 2] * 4, name=y)


relu = lambda x, y: helper.make_node("Relu", [x], [y], name=y)
cat = lambda xs, y: helper.make_node("Concat", xs, [y], axis=1, name=y)
mul = lambda a, b, y: helper.make_node("Mul", [a, b], [y], name=y)
add = lambda a, b, y: helper.make_node("Add", [a, b], [y], name=y)
pool = lambda x, y: helper.make_node("MaxPool", [x], [y], kernel_shape=[2, 2], strides=[2, 2], name=y)
full, half = lambda c: [1, c, H, W], lambda c: [1, c, H // 2, W // 2]

# name: (nodes, outputs with channels, {concat: inputs that must sit inside it}, {concat: that must not})
cases = {
    "fire": ([conv("x", C, 2, "s"), relu("s", "sr"), conv("sr", 2, 3, "a"), relu("a", "ar"), conv("sr", 2, 3, "b", 3),
              relu("b", "br"), cat(["ar", "br"], "y")], {"y": full(6)}, {}, {}),
    "fire_then_conv": ([conv("x", C, 2, "s"), conv("s", 2, 3, "a"), relu("a", "ar"), conv("s", 2, 5, "b", 3),
                        cat(["ar", "b"], "c"), conv("c", 8, 2, "y")], {"y": full(2)}, {"c": ["ar", "b"]}, {}),
    "dense_chain": ([conv("x", C, 2, "f1"), cat(["x", "f1"], "c1"), relu("c1", "r1"), conv("r1", 6, 2, "f2"),
                     cat(["c1", "f2"], "c2"), conv("c2", 8, 3, "f3"), cat(["c2", "f3"], "c3"), relu("c3", "y")],
                    {"y": full(11)}, {"c1": ["f1"], "c2": ["c1", "f2"], "c3": ["c2", "f3"]}, {"c1": ["x"]}),
    "same_input_twice": ([conv("x", C, 2, "a"), cat(["a", "a"], "c"), conv("c", 4, 3, "y")], {"y": full(3)}, {},
                         {"c": ["a"]}),
    "input_overwritten_after": ([conv("x", C, 2, "a"), conv("x", C, 3, "b"), cat(["a", "b"], "c"), relu("a", "ar"),
                                 conv("c", 5, 2, "d"), conv("ar", 2, 2, "e"), add("d", "e", "y")], {"y": full(2)},
                                {"c": ["b"]}, {"c": ["a"]}),
    "output_overwritten_input_live": ([conv("x", C, 2, "a"), conv("x", C, 3, "b"), cat(["a", "b"], "c"),
                                       relu("c", "cr"), conv("cr", 5, 2, "d"), mul("a", "d", "y")], {"y": full(2)},
                                      {"c": ["b"]}, {"c": ["a"]}),
    "two_concats": ([conv("x", C, 2, "a"), conv("x", C, 2, "b"), cat(["a", "b"], "c1"), cat(["b", "a"], "c2"),
                     relu("c1", "r1"), relu("c2", "r2"), add("r1", "r2", "y")], {"y": full(4)}, {"c1": ["a", "b"]}, {}),
    "zero_pad_avgpool": ([conv("x", C, 3, "a"), helper.make_node("Pad", ["a", "pads"], ["p"], name="pad"),
                          helper.make_node("AveragePool", ["p"], ["y"], kernel_shape=[2, 2], strides=[2, 2],
                                           name="pool")], {"y": half(3)}, {}, {}),
    # a 3x4 channel is 48 bytes: the second input would start off the 64-byte grid
    "unaligned": ([conv("x", C, 1, "a"), pool("a", "ap"), conv("x", C, 2, "b"), pool("b", "bp"), cat(["ap", "bp"], "c"),
                   conv("c", 3, 2, "y")], {"y": half(2)}, {"c": ["ap"]}, {"c": ["bp"]}),
}


CALL = re.compile(r"const void \*const xs\[\] = \{([^}]*)\};\s*static const int64_t sizes\[\] = \{([^}]*)\};"
                  r"\s*snt_k_concat\(4, \d+, xs, sizes, [^,]+, (\d+)(?:LL)?, \(\(float \*\)([^;]*)\)\);")
arena = lambda ptr: int(re.search(r"A \+ (\d+)", ptr).group(1)) if "A + " in ptr else None


def placements(text):
    """Per snt_k_concat call in the generated C (schedule order): [(input arena offset or None,
    its offset inside the output or None)]: where each input sits and where the output wants it."""
    calls = []
    for m in CALL.finditer(text):
        out, inner, pos, row = arena(m.group(4)), int(m.group(3)), 0, []
        for ptr, size in zip(m.group(1).split(", ("), m.group(2).split(",")):
            row.append((arena(ptr), None if out is None else out + pos))
            pos += int(size) * inner * 4
        calls.append(row)
    return calls


failed = 0
x = rng.standard_normal((1, C, H, W)).astype(np.float32)
for name, (nodes, outs, inside, outside) in cases.items():
    with tempfile.TemporaryDirectory() as d:
        extra = [numpy_helper.from_array(np.zeros(8, np.int64), "pads")] if name == "zero_pad_avgpool" else []
        g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, C, H, W])],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, shape) for o, shape in outs.items()],
                              [inits[i] for n in nodes for i in n.input if i in inits] + extra)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        m.ir_version = 8
        onnx.checker.check_model(m)
        model, xpb = save_and_run_ort(d, m, x, ort_run, ort_modules)
        subprocess.run([sinter, "run", model, xpb, "-o", d], check=True)
        for i in range(len(outs)):
            err = ort_rel_error(d, d, i)
            if not err <= 1e-5:
                print(f"FAIL {name}: output {i} differs from ONNX Runtime by {err:.3g} (relative)")
                failed += 1
        src = os.path.join(d, "c")
        subprocess.run([sinter, "compile", model, "--batch", "1", "--emit-c", src, "-o", os.path.join(d, "exe")],
                       check=True, capture_output=True)
        text = "".join(open(os.path.join(src, f)).read() for f in sorted(os.listdir(src))
                       if f.endswith(".c") and f != "main.c")
        calls, concats, bad = placements(text), [n for n in nodes if n.op_type == "Concat"], []
        if len(calls) != len(concats):
            bad.append(f"{len(calls)} snt_k_concat calls for {len(concats)} Concats")
        for n, row in zip(concats, calls):
            for src_name, (at, want) in zip(n.input, row):
                if src_name in inside.get(n.output[0], []) and (at is None or at != want):
                    bad.append(f"{src_name} not inside {n.output[0]}")
                if src_name in outside.get(n.output[0], []) and at is not None and at == want:
                    bad.append(f"{src_name} inside {n.output[0]}")
        if name == "zero_pad_avgpool" and "snt_k_pad" in text:
            bad.append("the zero pad is still planned")
        if bad:
            print(f"FAIL {name}: {bad}")
            failed += 1
        else:
            print(f"ok {name}")
sys.exit(1 if failed else 0)
