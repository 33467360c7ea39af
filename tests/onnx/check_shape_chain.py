"""A PyTorch-style dynamic flatten: Shape -> Gather -> Unsqueeze -> Concat -> Reshape, the shape
arithmetic sinter folds while importing (the Reshape's shape becomes a constant). Compiled and run
by `sinter run`; the result must equal numpy's reshape. The input's name holds a quote and a
backslash, which the generated C must escape."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

sinter = sys.argv[1]
X = 'x"\\q'
x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5) / 7
nodes = [
    helper.make_node("Shape", [X], ["s"]),
    helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
    helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
    helper.make_node("Concat", ["n1", "minus1"], ["shape"], axis=0),
    helper.make_node("Reshape", [X, "shape"], ["y"]),
    helper.make_node("Relu", ["y"], ["out"]),
]
inits = [numpy_helper.from_array(np.array(0, np.int64), "zero"), numpy_helper.from_array(np.array([0], np.int64), "axes"),
         numpy_helper.from_array(np.array([-1], np.int64), "minus1")]
g = helper.make_graph(nodes, "flatten_chain", [helper.make_tensor_value_info(X, TensorProto.FLOAT, [2, 3, 4, 5])],
                      [helper.make_tensor_value_info("out", TensorProto.FLOAT, [2, 60])], inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 8
onnx.checker.check_model(m)
with tempfile.TemporaryDirectory() as d:
    onnx.save(m, os.path.join(d, "model.onnx"))
    with open(os.path.join(d, "x.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x).SerializeToString())
    r = subprocess.run([sinter, "run", os.path.join(d, "model.onnx"), os.path.join(d, "x.pb"), "-o", d], capture_output=True, text=True)
    if r.returncode != 0:
        print("FAIL sinter run:", r.stderr)
        sys.exit(1)
    t = onnx.TensorProto()
    t.ParseFromString(open(os.path.join(d, "output_0.pb"), "rb").read())
    y = numpy_helper.to_array(t)
    want = np.maximum(x.reshape(2, -1), 0)
    if y.shape != want.shape or np.max(np.abs(y - want)) > 0:
        print("FAIL output", y.shape, "want", want.shape)
        sys.exit(1)
print("PASS Shape->Gather->Unsqueeze->Concat->Reshape imports with its shape folded; output equals numpy's")
