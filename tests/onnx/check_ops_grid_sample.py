"""GridSample-16 (bilinear/nearest/bicubic), -20 (linear/nearest/cubic) and AffineGrid-20 (2-D and
3-D, align_corners 0 and 1, feeding a GridSample) and RoiAlign (10, 16; avg and max, both
coordinate modes, adaptive and fixed sampling) against ONNX Runtime. GridSample:
every mode x padding mode (zeros, border, reflection) x align_corners, a grid reaching past the
border by up to 2.5 times the map (several reflections), odd map sizes, batch 2, FLOAT and DOUBLE.
Then hostile grids (NaN, +-1e30, inf) never crash: NaN samples NaN, a point far outside samples 0
with zeros padding and the corner pixel with border padding; malformed nodes are refused."""
import os
import sys
import tempfile

import numpy as np
from onnx import TensorProto as TP

sys.path.insert(0, os.path.dirname(__file__))
import ortcompare  # noqa: E402
from ortcompare import Model  # noqa: E402

sinter, ort_run, ort_modules = sys.argv[1:4]
rng = np.random.default_rng(16)
X = rng.standard_normal((2, 3, 5, 7)).astype(np.float32)
G = rng.uniform(-2.5, 2.5, (2, 4, 6, 2)).astype(np.float32)
G[0, 0, :3] = [[-1, -1], [1, 1], [0, 0]]  # the corners and the centre exactly
INPUTS = [("x", X, TP.FLOAT), ("g", G, TP.FLOAT), ("xd", X.astype(np.float64), TP.DOUBLE),
          ("gd", G.astype(np.float64), TP.DOUBLE)]
MODES = {16: ("bilinear", "nearest", "bicubic"), 20: ("linear", "nearest", "cubic")}


def models():
    out = []
    for opset in (16, 20):
        m = Model(opset, ir_version=9 if opset >= 20 else 8)
        for mode in MODES[opset]:
            for pad in ("zeros", "border", "reflection"):
                for align in (0, 1):
                    m.add("GridSample", ["x", "g"], mode=mode, padding_mode=pad, align_corners=align)
        m.add("GridSample", ["x", "g"])  # defaults: (bi)linear, zeros, 0
        out.append((f"grid{opset}", m, INPUTS[:2]))
    # AffineGrid-20, 2-D and 3-D, and a spatial transformer: AffineGrid feeding GridSample
    m = Model(20, ir_version=9)
    th2 = rng.uniform(-1.2, 1.2, (2, 2, 3)).astype(np.float32)
    th3 = rng.uniform(-1.2, 1.2, (2, 3, 4)).astype(np.float32)
    for align in (0, 1):
        m.add("AffineGrid", [th2, np.array([2, 3, 4, 6], np.int64)], align_corners=align)
        m.add("AffineGrid", [th3, np.array([2, 1, 3, 4, 5], np.int64)], align_corners=align)
        m.add("AffineGrid", [th2, np.array([2, 3, 1, 1], np.int64)], align_corners=align)  # single points
    (grid,) = m.add("AffineGrid", [th2, np.array([2, 3, 6, 8], np.int64)])
    m.outs.remove(grid)
    m.add("GridSample", ["x", grid], mode="linear", padding_mode="border")
    out.append(("affine_grid", m, INPUTS[:1]))
    # RoiAlign-10 (output_half_pixel) and -16 (half_pixel by default), avg and max, rois partly
    # outside the map and smaller than a pixel, fixed and adaptive sampling
    rois = np.array([[0, 0, 6, 4], [1.5, 0.5, 3.2, 4.9], [-2, -1, 3, 2], [5, 3, 9, 7], [2, 2, 2.3, 2.4]], np.float32)
    bidx = np.array([0, 1, 1, 0, 1], np.int64)
    for opset, modes in ((10, [{}]), (16, [{}, {"coordinate_transformation_mode": "output_half_pixel"}])):
        m = Model(opset, ir_version=8)
        for extra in modes:
            for mode in ("avg", "max"):
                m.add("RoiAlign", ["x", rois, bidx], mode=mode, output_height=3, output_width=2, **extra)
                m.add("RoiAlign", ["x", rois, bidx], mode=mode, output_height=2, output_width=4, sampling_ratio=2,
                      spatial_scale=0.5, **extra)
        out.append((f"roi_align{opset}", m, INPUTS[:1]))
    m = Model(20, ir_version=9)
    m.add("GridSample", ["xd", "gd"], mode="cubic", padding_mode="reflection")
    out.append(("grid_double", m, INPUTS[2:]))
    return out


def hostile(d):
    """Values judged by the rules of runtime/kernels/grid_sample.c (ONNX Runtime is no reference
    for NaN or 1e30 coordinates)."""
    g = np.zeros((1, 1, 4, 2), np.float32)
    g[0, 0] = [[np.nan, 0], [1e30, 1e30], [-np.inf, 0.5], [-1e30, 3e29]]
    x = rng.standard_normal((1, 2, 5, 7)).astype(np.float32)
    m = Model(16, ir_version=8)
    for pad in ("zeros", "border", "reflection"):
        for mode in MODES[16]:
            m.add("GridSample", ["x", "g"], mode=mode, padding_mode=pad)
    p, ys = ortcompare.run_sinter(d, sinter, "hostile", m, [("x", x, TP.FLOAT), ("g", g, TP.FLOAT)])
    if ys is None:
        print(f"FAIL hostile grids: sinter run failed: {p.stderr.strip()}")
        return 1
    failed = 0
    for i, y in enumerate(ys):
        y = y[0, :, 0]
        pad = ("zeros", "border", "reflection")[i // 3]
        ok = np.all(np.isnan(y[:, 0]))  # a NaN coordinate samples NaN
        if pad == "zeros":
            ok &= np.all(y[:, 1] == 0) and np.all(y[:, 3] == 0)
        elif pad == "border":
            ok &= np.allclose(y[:, 1], x[0, :, 4, 6])  # clamped to the last row and column
        else:
            ok &= np.all(np.isfinite(y[:, 3]))
        if not ok:
            print(f"FAIL hostile grid, {m.nodes[i].name} ({pad}): {y}")
            failed += 1
    if not failed:
        print(f"ok hostile grids: {len(m.outs)} nodes")
    return failed


def refused(d):
    cases = []
    m = Model(16, ir_version=8)
    m.add("RoiAlign", ["x", np.zeros((2, 3), np.float32), np.zeros(2, np.int64)])
    cases.append(("roi_shape", m, "rois has shape (2, 3), expected (num_rois, 4)"))
    m = Model(20, ir_version=9)
    m.add("AffineGrid", [np.zeros((2, 2, 3), np.float32), np.array([2, 3, 4], np.int64)])
    cases.append(("affine_size", m, "size must be a constant of 4 or 5 integers ([N, C, H, W] or [N, C, D, H, W])"))
    m = Model(20, ir_version=9)
    m.add("AffineGrid", [np.zeros((2, 3, 4), np.float32), np.array([2, 3, 4, 4], np.int64)])
    cases.append(("affine_theta", m, "theta has shape (2, 3, 4), expected (2, 2, 3) for a size of 4 values"))
    m = Model(16, ir_version=8)
    m.add("GridSample", ["x", "g"], mode="linear")
    cases.append(("mode16", m, "GridSample-16: mode 'linear' is none of bilinear, nearest and bicubic"))
    m = Model(16, ir_version=8)
    m.add("GridSample", ["x", "g"], padding_mode="wrap")
    cases.append(("pad", m, "padding_mode 'wrap' is none of zeros, border and reflection"))
    m = Model(16, ir_version=8)
    m.add("GridSample", ["x", "x"])
    cases.append(("grid_shape", m, "the grid has shape (2, 3, 5, 7), expected (2, H_out, W_out, 2)"))
    m = Model(16, ir_version=8)
    m.add("GridSample", ["x", "g"], align_corners=2)
    cases.append(("align", m, "attribute 'align_corners' has 2, expected 0 to 1"))
    return ortcompare.refuse_all(d, sinter, cases, INPUTS)


def main():
    failed = 0
    with tempfile.TemporaryDirectory() as d:
        for name, m, ins in models():
            failed += ortcompare.run_model(d, name, m, ins, sinter, ort_run, ort_modules, rtol=1e-5)
        failed += hostile(d) + refused(d)
    return ortcompare.finish("check_ops_grid_sample", failed)


sys.exit(main())
