"""GridSample-16 (bilinear/nearest/bicubic), -20 (linear/nearest/cubic) and AffineGrid-20 (2-D and
3-D, align_corners 0 and 1, feeding a GridSample) and RoiAlign (10, 16; avg and max, both
coordinate modes, adaptive and fixed sampling) against ONNX Runtime. GridSample:
every mode x padding mode (zeros, border, reflection) x align_corners, a grid reaching past the
border by up to 2.5 times the map (several reflections), odd map sizes, batch 2, FLOAT and DOUBLE;
the same on [N, C, D, H, W] volumes at opset 20 (trilinear and nearest; an AffineGrid-20 3-D grid
feeding one), and halfway points of nearest outside the border (rounded before the padding rule).
Tricubic on volumes (the spec's N-cubic; ONNX Runtime refuses it) is checked against gs_model,
ONNX Runtime's rules in numpy, which must first agree with ONNX Runtime on every output it computes.
Then hostile grids (NaN, +-1e30, inf) on maps and volumes never crash: NaN samples NaN, a point far
outside samples 0 with zeros padding and the corner pixel with border padding; malformed nodes
(and 5-D at opset 16, whose spec is 4-D only) are refused."""
import itertools
import os
import subprocess
import sys
import tempfile
from types import SimpleNamespace

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import numpy_helper

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
PADS = ("zeros", "border", "reflection")
# Volumes: odd D, H, W; z, y and x reaching 2.5 times past the border
rng5 = np.random.default_rng(20)
X5 = rng5.standard_normal((2, 3, 3, 5, 7)).astype(np.float32)
G5 = rng5.uniform(-2.5, 2.5, (2, 3, 4, 5, 3)).astype(np.float32)
G5[0, 0, 0, :3] = [[-1, -1, -1], [1, 1, 1], [0, 0, 0]]  # the corners and the centre exactly
INPUTS5 = [("x5", X5, TP.FLOAT), ("g5", G5, TP.FLOAT), ("xd5", X5.astype(np.float64), TP.DOUBLE),
           ("gd5", G5.astype(np.float64), TP.DOUBLE)]
# Halfway points of nearest outside the border box, on even sizes (x: W = 4, y: H = 2, z: D = 2):
# ONNX Runtime rounds half to even, then reflects or clamps the index.
TIES = np.array([-2.5, -2, -1.5, 1.5, 2, 2.5], np.float32)
XT2 = rng5.standard_normal((1, 2, 2, 4)).astype(np.float32)
XT3 = rng5.standard_normal((1, 2, 2, 2, 4)).astype(np.float32)
GT2 = np.stack(np.meshgrid(TIES, TIES, indexing="xy"), -1)[None].astype(np.float32)  # (1, 6, 6, 2)
GT3 = np.stack(np.meshgrid(TIES, TIES, TIES[::2], indexing="xy"), -1).transpose(2, 0, 1, 3)[None].astype(np.float32)
INPUTS_T = [("xt2", XT2, TP.FLOAT), ("gt2", GT2, TP.FLOAT), ("xt3", XT3, TP.FLOAT), ("gt3", GT3, TP.FLOAT)]


def gs_model(x, grid, mode, pad, align):
    """GridSample by ONNX Runtime's rules (grid_sample.cc) in any number of spatial dims: float32
    pixel coordinates, nearest rounds half to even, each tap through the padding rule (GsReflect
    truncating to an index); the N-cubic (Keys, A = -0.75) is separable like its N-linear."""
    sp, (n, c), dims = x.ndim - 2, x.shape[:2], x.shape[2:]
    g = grid.astype(np.float32).reshape(n, -1, sp)
    lens = dims[::-1]  # grid component a addresses axis lens[a]: x -> W, y -> H, z -> D
    lo = [0.0 if align else -0.5] * sp
    hi = [L - 1.0 if align else L - 0.5 for L in lens]
    f = [((g[:, :, a] + 1) / np.float32(2) * np.float32(L - 1)) if align else
         (((g[:, :, a] + 1) * np.float32(L) - 1) / np.float32(2)) for a, L in enumerate(lens)]

    def reflect(v, a):
        r, below, above = hi[a] - lo[a], v < lo[a], v > hi[a]
        dx = np.where(below, lo[a] - v, v - hi[a])
        k = np.floor(dx / r)
        rem, even = dx - k * r, k % 2 == 0
        v = np.where(below, np.where(even, lo[a] + rem, hi[a] - rem), v)
        return np.where(above, np.where(even, hi[a] - rem, lo[a] + rem), v)

    def tap(idx):  # idx[a]: (n, points) indices along component a -> (n, c, points)
        ok, ii = np.ones(idx[0].shape, bool), []
        for a, (i, L) in enumerate(zip(idx, lens)):
            if pad == "zeros":
                ok &= (i >= 0) & (i < L)
            elif pad == "reflection":
                i = np.trunc(reflect(i.astype(np.float64), a)).astype(np.int64)
            ii.append(np.clip(i, 0, L - 1))
        v = x.astype(np.float64)[(np.arange(n)[:, None], slice(None)) + tuple(ii[::-1])]  # (n, points, c)
        return np.where(ok[:, :, None], v, 0).transpose(0, 2, 1)

    if mode == "nearest":
        y = tap([np.rint(fa).astype(np.int64) for fa in f])
    else:
        cubic = mode == "cubic"
        base, weights = [], []
        for fa in f:
            f0 = np.floor(fa)
            t = (fa - f0).astype(np.float64)
            base.append(f0.astype(np.int64) - (1 if cubic else 0))
            if cubic:
                a_ = -0.75
                t1, t2, t3 = t + 1, 1 - t, 2 - t
                weights.append([((a_ * t1 - 5 * a_) * t1 + 8 * a_) * t1 - 4 * a_, ((a_ + 2) * t - (a_ + 3)) * t * t + 1,
                                ((a_ + 2) * t2 - (a_ + 3)) * t2 * t2 + 1, ((a_ * t3 - 5 * a_) * t3 + 8 * a_) * t3 - 4 * a_])
            else:
                weights.append([1 - t, t])
        y = 0
        for ks in itertools.product(range(4 if cubic else 2), repeat=sp):
            w = np.prod([weights[a][k] for a, k in enumerate(ks)], axis=0)
            y = y + w[:, None, :] * tap([b + k for b, k in zip(base, ks)])
    return y.reshape((n, c) + grid.shape[1:-1]).astype(x.dtype)


def ort_outputs(d, name, m, inputs):
    """m's outputs as ONNX Runtime computes them."""
    path, out = os.path.join(d, f"o_{name}.onnx"), os.path.join(d, f"o_{name}_out")
    onnx.save(m.proto(name, inputs), path)
    pbs = []
    for n, a, _ in inputs:
        pbs.append(os.path.join(d, f"o_{name}_{n}.pb"))
        open(pbs[-1], "wb").write(numpy_helper.from_array(a).SerializeToString())
    os.mkdir(out)
    subprocess.run(["node", ort_run, path, *pbs, "-o", out], check=True, env=dict(os.environ, ORT_NODE_MODULES=ort_modules))
    return [numpy_helper.to_array(onnx.load_tensor(os.path.join(out, f"output_{i}.pb"))) for i in range(len(m.outs))]


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
    out += volume_models()
    return out


def volume_models():
    """GridSample-20 on volumes against ONNX Runtime: trilinear and nearest, FLOAT and DOUBLE;
    halfway points of nearest on maps and volumes; AffineGrid-20 3-D feeding GridSample."""
    out = []
    for x, g, name in (("x5", "g5", "grid20_3d"), ("xd5", "gd5", "grid20_3d_double")):
        m = Model(20, ir_version=9)
        for mode in ("linear", "nearest"):
            for pad in PADS:
                for align in (0, 1):
                    m.add("GridSample", [x, g], mode=mode, padding_mode=pad, align_corners=align)
        m.add("GridSample", [x, g])  # defaults: linear, zeros, 0
        out.append((name, m, [i for i in INPUTS5 if i[0] in (x, g)]))
    for opset in (16, 20):
        m = Model(opset, ir_version=9 if opset >= 20 else 8)
        for pad in PADS:
            for align in (0, 1):
                m.add("GridSample", ["xt2", "gt2"], mode="nearest", padding_mode=pad, align_corners=align)
                if opset == 20:
                    m.add("GridSample", ["xt3", "gt3"], mode="nearest", padding_mode=pad, align_corners=align)
        out.append((f"grid_ties{opset}", m, INPUTS_T if opset == 20 else INPUTS_T[:2]))
    m = Model(20, ir_version=9)
    th3 = rng5.uniform(-1.2, 1.2, (2, 3, 4)).astype(np.float32)
    for align, mode, pad in ((0, "linear", "border"), (1, "nearest", "reflection"), (0, "linear", "zeros")):
        (grid,) = m.add("AffineGrid", [th3, np.array([2, 3, 4, 6, 5], np.int64)], align_corners=align)
        m.outs.remove(grid)
        m.add("GridSample", ["x5", grid], mode=mode, padding_mode=pad, align_corners=align)
    out.append(("affine_grid_3d", m, INPUTS5[:1]))
    return out


def model_agrees(d):
    """gs_model against ONNX Runtime on every map and volume output ONNX Runtime computes here."""
    cases = []
    for opset, x, g, ins, modes in ((16, "x", "g", INPUTS[:2], MODES[16]), (20, "x", "g", INPUTS[:2], MODES[20]),
                                    (20, "x5", "g5", INPUTS5[:2], ("linear", "nearest")),
                                    (20, "xt3", "gt3", INPUTS_T[2:], ("nearest", "linear"))):
        m = Model(opset, ir_version=9 if opset >= 20 else 8)
        for mode in modes:
            for pad in PADS:
                for align in (0, 1):
                    m.add("GridSample", [x, g], mode=mode, padding_mode=pad, align_corners=align)
                    cases.append((MODES[20][MODES[opset].index(mode)], pad, align))
        ys = ort_outputs(d, f"agree{opset}{x}", m, ins)
        arrays = {n: a for n, a, _ in ins}
        for (mode, pad, align), y, nd in zip(cases[-len(ys):], ys, m.nodes):
            want = gs_model(arrays[x], arrays[g], mode, pad, align)
            err = float(np.max(np.abs(want.astype(np.float64) - y) / np.maximum(1.0, np.abs(y))))
            if y.shape != want.shape or err > 1e-5:
                print(f"FAIL gs_model disagrees with ONNX Runtime: {nd.name} ({mode}, {pad}, {align}) {y.shape}: {err}")
                return 1
    print(f"ok gs_model agrees with ONNX Runtime on {len(cases)} outputs")
    return 0


def tricubic():
    """Tricubic (ONNX Runtime: "Only support GridSample Cubic mode in 4-D cases") against gs_model."""
    out = []
    for x, g, name in (("x5", "g5", "grid20_3d_cubic"), ("xd5", "gd5", "grid20_3d_cubic_double")):
        m, arrays = Model(20, ir_version=9), {n: a for n, a, _ in INPUTS5}
        m.ref = {}
        for pad in PADS:
            for align in (0, 1):
                (y,) = m.add("GridSample", [x, g], mode="cubic", padding_mode=pad, align_corners=align)
                m.ref[y] = gs_model(arrays[x], arrays[g], "cubic", pad, align)
        out.append((name, m, [i for i in INPUTS5 if i[0] in (x, g)]))
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


def hostile3d(d):
    """hostile() on volumes: a NaN in any of x, y, z samples NaN; 1e30 and inf far outside."""
    g = np.zeros((1, 1, 1, 6, 3), np.float32)
    g[0, 0, 0] = [[np.nan, 0, 0], [0, 0, np.nan], [1e30, 1e30, 1e30], [-np.inf, 0.5, 0], [-1e30, 3e29, 1e30],
                  [0, 0, np.inf]]
    x = rng.standard_normal((1, 2, 3, 5, 7)).astype(np.float32)
    m = Model(20, ir_version=9)
    for pad in PADS:
        for mode in MODES[20]:
            m.add("GridSample", ["x", "g"], mode=mode, padding_mode=pad)
    p, ys = ortcompare.run_sinter(d, sinter, "hostile3d", m, [("x", x, TP.FLOAT), ("g", g, TP.FLOAT)])
    if ys is None:
        print(f"FAIL hostile volume grids: sinter run failed: {p.stderr.strip()}")
        return 1
    failed = 0
    for i, y in enumerate(ys):
        y = y[0, :, 0, 0]  # (channels, points)
        pad = PADS[i // 3]
        ok = np.all(np.isnan(y[:, :2]))
        if pad == "zeros":
            ok &= np.all(y[:, 2:] == 0)
        elif pad == "border":
            ok &= np.allclose(y[:, 2], x[0, :, 2, 4, 6]) and np.allclose(y[:, 4], x[0, :, 2, 4, 0])
            ok &= np.allclose(y[:, 5], x[0, :, 2, 2, 3])  # z clamped to the last plane, (x, y) at the centre
        else:
            ok &= np.all(np.isfinite(y[:, [2, 4]])) and np.all(np.isnan(y[:, [3, 5]]))  # reflecting inf gives NaN
        if not ok:
            print(f"FAIL hostile volume grid, {m.nodes[i].name} ({pad}): {y}")
            failed += 1
    if not failed:
        print(f"ok hostile volume grids: {len(m.outs)} nodes")
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
    # volumes: GridSample-16's spec has 4-D inputs only (ONNX Runtime runs them anyway)
    for mode in ("bilinear", "bicubic"):
        m = Model(16, ir_version=8)
        m.add("GridSample", ["x5", "g5"], mode=mode)
        cases.append((f"volume16_{mode}", m, INPUTS5[:2], "GridSample-16 samples 4-D inputs [N, C, H, W] only, "
                      "and the input has rank 5 (volumes need opset 20)"))
    m = Model(20, ir_version=9)
    m.add("GridSample", ["x5", "g"])
    cases.append(("volume_grid_rank", m, [INPUTS5[0], INPUTS[1]],
                  "the grid has shape (2, 4, 6, 2), expected (2, D_out, H_out, W_out, 3)"))
    m = Model(20, ir_version=9)
    m.add("GridSample", ["x5", np.zeros((2, 3, 4, 5, 2), np.float32)])
    cases.append(("volume_grid_last", m, INPUTS5[:1], "the grid has shape (2, 3, 4, 5, 2), expected (2, D_out, H_out, W_out, 3)"))
    m = Model(20, ir_version=9)
    m.add("GridSample", ["x", "g5"])
    cases.append(("map_grid_rank", m, [INPUTS[0], INPUTS5[1]], "the grid has shape (2, 3, 4, 5, 3), expected (2, H_out, W_out, 2)"))
    m = Model(20, ir_version=9)
    m.add("GridSample", ["x1", np.zeros((2, 4, 1), np.float32)])
    cases.append(("rank3", m, [("x1", np.zeros((2, 3, 5), np.float32), TP.FLOAT)],
                  "the input has rank 3: sinter samples [N, C, H, W] maps and [N, C, D, H, W] volumes only"))
    for pad in ("border", "reflection"):
        m = Model(20, ir_version=9)
        m.add("GridSample", ["xe", np.zeros((1, 2, 2, 2, 3), np.float32)], padding_mode=pad)
        cases.append((f"empty_{pad}", m, [("xe", np.zeros((1, 2, 3, 0, 4), np.float32), TP.FLOAT)],
                      f"padding_mode '{pad}' reads the edge of an empty volume"))
    # sizes past int64 beside an empty batch: no tensor holds an element, the kernel still multiplies
    big = SimpleNamespace(shape=(0, 1, 2 ** 31, 2 ** 31, 2 ** 31))
    m = Model(20, ir_version=9)
    m.add("GridSample", ["xb", np.zeros((0, 1, 1, 1, 3), np.float32)])
    cases.append(("overflow", m, [("xb", big, TP.FLOAT)], "the input's or the grid's spatial size overflows"))
    return ortcompare.refuse_all(d, sinter, cases, INPUTS)


def main():
    failed = 0
    with tempfile.TemporaryDirectory() as d:
        for name, m, ins in models():
            failed += ortcompare.run_model(d, name, m, ins, sinter, ort_run, ort_modules, rtol=1e-5)
        failed += model_agrees(d)
        for name, m, ins in tricubic():
            failed += ortcompare.run_model(d, name, m, ins, sinter, ort_run, ort_modules, rtol=1e-5)
        failed += hostile(d) + hostile3d(d) + refused(d)
    return ortcompare.finish("check_ops_grid_sample", failed)


sys.exit(main())
