"""Issue 9: an ONNX node carries only its schema's attributes. The importer copies attributes
onto the sinter node under their own names, so a foreign name could set an op's internal
attribute (a Conv "activation" would run SiLU after the convolution). Checks:
1. compiler/onnx/schema_attrs.c is what scripts/gen_onnx_attrs.py makes from the ONNX schema;
2. internal attribute names and other versions' attributes are refused with the exact message
   (node, op, opset, the attribute, the version in force and its attributes);
3. a "__"-prefixed attribute, which the ONNX checker and ONNX Runtime leave unchecked, is
   ignored: the model matches ONNX Runtime."""
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import ortcompare  # noqa: E402
from ortcompare import Model  # noqa: E402

sinter, ort_run, ort_modules, src = sys.argv[1:5]
rng = np.random.default_rng(9)
X = ("x", rng.standard_normal((1, 3, 6, 6)).astype(np.float32), 1)
W = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
CONV = ("auto_pad, dilations, group, kernel_shape, pads, strides")


def table_matches():
    gen = subprocess.run(["/usr/bin/python3", os.path.join(src, "scripts/gen_onnx_attrs.py"), sinter],
                         capture_output=True, text=True, check=True).stdout
    have = open(os.path.join(src, "compiler/onnx/schema_attrs.c")).read()
    if gen != have:
        print("FAIL compiler/onnx/schema_attrs.c differs from what scripts/gen_onnx_attrs.py writes: regenerate it")
        return 1
    rows = gen.count('    {"')
    print(f"ok schema_attrs.c matches the schema ({rows} rows)")
    return 0


def refused(d):
    cases = []
    m = Model(13)
    m.add("Conv", ["x", W], activation="silu")
    cases.append(("conv_activation", m, f"attribute 'activation' is not an attribute of Conv-11; expected one of: {CONV}"))
    m = Model(13)
    m.add("Conv", ["x", W], act_alpha=0.5)
    cases.append(("conv_act_alpha", m, f"attribute 'act_alpha' is not an attribute of Conv-11; expected one of: {CONV}"))
    m = Model(13)
    m.add("Conv", ["x", W], kernel=[1, 1])
    cases.append(("conv_kernel", m, f"attribute 'kernel' is not an attribute of Conv-11; expected one of: {CONV}"))
    m = Model(14)
    m.add("Relu", ["x"], clip_max=1.0)
    cases.append(("relu_clip", m, "attribute 'clip_max' is not an attribute of Relu-14, which has none"))
    m = Model(13)
    m.add("MaxPool", ["x"], kernel_shape=[2, 2], pool=[1, 1])
    cases.append(("maxpool_pool", m, "attribute 'pool' is not an attribute of MaxPool-12; expected one of: auto_pad, "
                  "ceil_mode, dilations, kernel_shape, pads, storage_order, strides"))
    m = Model(13)
    m.add("Clip", ["x"], min=0.0)
    cases.append(("clip_min_13", m, "attribute 'min' is not an attribute of Clip-13, which has none (Clip has it in "
                  "opsets 1 to 10)"))
    m = Model(13)
    m.add("BatchNormalization", ["x", *[np.ones(3, np.float32)] * 4], spatial=1)
    cases.append(("bn_spatial_13", m, "attribute 'spatial' is not an attribute of BatchNormalization-9 "
                  "(BatchNormalization has it in opsets 1 to 8); expected one of: epsilon, momentum"))
    m = Model(6)
    m.add("Acos", ["x"])
    cases.append(("acos_6", m, "op Acos does not exist before opset 7"))
    m = Model(19)
    m.add("Cast", ["x"], to=1, saturate=1, axis=0)
    cases.append(("cast_19", m, "attribute 'axis' is not an attribute of Cast-19; expected one of: saturate, to"))
    m = Model(21)
    m.add("Cast", ["x"], to=1, axis=0)
    cases.append(("cast_21", m, "attribute 'axis' is not an attribute of Cast-21; expected one of: saturate, to"))
    return ortcompare.refuse_all(d, sinter, cases, [X])


def internal_ignored(d):
    m = Model(13)
    m.add("Conv", ["x", W], __sinter_activation="silu", pads=[1, 1, 1, 1])
    return ortcompare.run_model(d, "internal", m, [X], sinter, ort_run, ort_modules)


def main():
    with tempfile.TemporaryDirectory() as d:
        failed = table_matches() + refused(d) + internal_ignored(d)
    return ortcompare.finish("check_attrs", failed)


sys.exit(main())
