"""Writes the official ONNX backend node suite of Debian's onnx (1.12) into OUTDIR/node/, from
the case generators python3-onnx ships (onnx/backend/test/case/node/*.py): model.onnx and
test_data_set_0/{input,output}_*.pb per case, as the ONNX repository's test data. The
generators use NumPy aliases that NumPy 1.24 removed (np.float, np.int, ...); they are put
back first. Run with Debian's Python:
  /usr/bin/python3 scripts/onnx_node_suite.py OUTDIR && build/sinter onnx-test OUTDIR/node"""
import sys

import numpy as np

for name, alias in [("float", float), ("int", int), ("bool", bool), ("object", object), ("complex", complex),
                    ("str", str)]:
    if name not in np.__dict__:
        setattr(np, name, alias)

from onnx.backend.test import cmd_tools  # noqa: E402  (after the aliases)

if len(sys.argv) != 2:
    sys.exit("usage: onnx_node_suite.py OUTDIR")
sys.argv = ["cmd_tools", "generate-data", "-o", sys.argv[1]]
cmd_tools.main()
