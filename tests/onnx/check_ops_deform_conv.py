"""DeformConv-19 (2-D) against ONNX Runtime: with and without bias and mask, group 2, offset_group 2
and 4, stride 2, dilation 2, asymmetric pads, a 3x2 kernel (kernel_shape given), a 1x1 kernel,
offsets large enough to push samples past every border, fractional ones and whole ones (points
exactly on -1, 0, H - 1 and H), batch 2, FLOAT and DOUBLE, offsets and mask as graph inputs and as
initializers, a map large enough for several column blocks. FLOAT16 (which ONNX Runtime's CPU
provider lacks) against a numpy reference. Then hostile offsets (NaN, +-1e30, +-inf) never crash:
such a tap samples 0, so a pixel of only such taps is its bias exactly, and a NaN mask gives NaN;
malformed nodes are refused."""
import os
import sys
import tempfile

import numpy as np
from onnx import TensorProto as TP

sys.path.insert(0, os.path.dirname(__file__))
import ortcompare  # noqa: E402
from ortcompare import Model  # noqa: E402

sinter, ort_run, ort_modules = sys.argv[1:4]
rng = np.random.default_rng(19)
N, C, H, W = 2, 4, 7, 8
X = rng.standard_normal((N, C, H, W)).astype(np.float32)


def out_hw(k, strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1)):
    return tuple((s + pads[a] + pads[a + 2] - dilations[a] * (k[a] - 1) - 1) // strides[a] + 1
                 for a, s in enumerate((H, W)))


def case(oc=6, k=(3, 3), group=1, offset_group=1, spread=3.0, whole=False, bias=True, mask=True, **attrs):
    """The weight, offset, bias and mask of one node (bias and mask None when left out)."""
    oh, ow = out_hw(k, attrs.get("strides", (1, 1)), attrs.get("pads", (0, 0, 0, 0)), attrs.get("dilations", (1, 1)))
    taps = offset_group * k[0] * k[1]
    w = rng.standard_normal((oc, C // group, *k)).astype(np.float32)
    if whole:  # sample points on the pixel grid, some exactly on -1 and on H or W
        off = rng.integers(-4, 5, (N, 2 * taps, oh, ow)).astype(np.float32)
    else:
        off = rng.uniform(-spread, spread, (N, 2 * taps, oh, ow)).astype(np.float32)
    b = rng.standard_normal(oc).astype(np.float32) if bias else None
    m = rng.uniform(-0.5, 1.5, (N, taps, oh, ow)).astype(np.float32) if mask else None
    return w, off, b, m


def node_inputs(x, w, off, b, m):
    ins = [x, w, off]
    if b is not None or m is not None:
        ins.append(b if b is not None else "")
    if m is not None:
        ins.append(m)
    return ins


def bilinear(plane, y, x):
    """torchvision's sampling in float64: 0 at or past -1 and the size (NaN too), each corner
    outside the map 0."""
    h, w = plane.shape
    with np.errstate(invalid="ignore"):
        ok = (y > -1) & (y < h) & (x > -1) & (x < w)
    y, x = np.where(ok, y, 0), np.where(ok, x, 0)
    y0, x0 = np.floor(y).astype(np.int64), np.floor(x).astype(np.int64)
    ly, lx = y - y0, x - x0
    v = np.zeros(y.shape)
    for dy, dx, wt in ((0, 0, (1 - ly) * (1 - lx)), (0, 1, (1 - ly) * lx), (1, 0, ly * (1 - lx)), (1, 1, ly * lx)):
        r, c = y0 + dy, x0 + dx
        inside = ok & (r >= 0) & (r < h) & (c >= 0) & (c < w)
        v += np.where(inside, wt * plane[np.clip(r, 0, h - 1), np.clip(c, 0, w - 1)], 0)
    return v


def reference(x, w, off, b=None, m=None, strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1), group=1,
              offset_group=1, **_):
    """DeformConv in float64 by its definition."""
    x, w, off = x.astype(np.float64), w.astype(np.float64), off.astype(np.float64)
    oc, cg, kh, kw = w.shape
    oh, ow = off.shape[2:]
    oy, ox = np.meshgrid(np.arange(oh), np.arange(ow), indexing="ij")
    y = np.zeros((x.shape[0], oc, oh, ow))
    for n in range(x.shape[0]):
        cols = np.zeros((x.shape[1], kh * kw, oh, ow))
        for c in range(x.shape[1]):
            g = c // (x.shape[1] // offset_group)
            for t in range(kh * kw):
                i, j = divmod(t, kw)
                sy = oy * strides[0] - pads[0] + i * dilations[0] + off[n, 2 * (g * kh * kw + t)]
                sx = ox * strides[1] - pads[1] + j * dilations[1] + off[n, 2 * (g * kh * kw + t) + 1]
                cols[c, t] = bilinear(x[n, c], sy, sx)
                if m is not None:
                    cols[c, t] *= m[n, g * kh * kw + t]
        for gi in range(group):
            mg = oc // group
            y[n, gi * mg:(gi + 1) * mg] = np.einsum("mck,ckhw->mhw", w[gi * mg:(gi + 1) * mg].reshape(mg, cg, kh * kw),
                                                    cols[gi * cg:(gi + 1) * cg])
        if b is not None:
            y[n] += b.reshape(-1, 1, 1)
    return y


CASES = [
    dict(pads=[1, 1, 1, 1], bias=True, mask=False),
    dict(pads=[1, 1, 1, 1], bias=False, mask=True),
    dict(pads=[1, 1, 1, 1], bias=False, mask=False),
    dict(pads=[1, 1, 1, 1]),                                                  # bias and mask
    dict(group=2, pads=[1, 1, 1, 1]),
    dict(offset_group=2, pads=[1, 1, 1, 1]),
    dict(group=2, offset_group=4, oc=4, bias=False),
    dict(strides=[2, 2], pads=[1, 1, 1, 1]),
    dict(dilations=[2, 2], pads=[2, 2, 2, 2]),
    dict(strides=[2, 1], dilations=[1, 2], pads=[0, 2, 1, 0]),               # asymmetric everything
    dict(k=(3, 2), kernel_shape=[3, 2], pads=[1, 0, 1, 1]),
    dict(k=(1, 1)),
    dict(k=(1, 1), group=4, offset_group=2, oc=8),
    dict(spread=12.0, pads=[1, 1, 1, 1]),                                     # past every border
    dict(whole=True, pads=[1, 1, 1, 1]),                                      # points on the grid
    dict(whole=True, k=(2, 3), group=2, offset_group=2, strides=[2, 2], dilations=[2, 1], pads=[2, 0, 0, 1]),
]


def add_case(m, x, cs, cast=None):
    attrs = {a: v for a, v in cs.items() if a in ("strides", "pads", "dilations", "group", "offset_group", "kernel_shape")}
    w, off, b, mk = case(**cs)
    arrays = [w, off, b, mk]
    if cast:
        arrays = [None if a is None else a.astype(cast) for a in arrays]
    m.add("DeformConv", node_inputs(x, *arrays), **attrs)
    return arrays, attrs


def models():
    out = []
    # offsets and mask as graph inputs, FLOAT and DOUBLE
    w, off, b, mk = case(pads=[1, 1, 1, 1])
    m = Model(19, ir_version=9)
    m.add("DeformConv", ["x", w, "off", b, "mask"], pads=[1, 1, 1, 1])
    m.add("DeformConv", ["x", w, "off", "", "mask"], pads=[1, 1, 1, 1])
    m.add("DeformConv", ["x", w, "off"], pads=[1, 1, 1, 1])
    out.append(("inputs", m, [("x", X, TP.FLOAT), ("off", off, TP.FLOAT), ("mask", mk, TP.FLOAT)]))
    m = Model(19, ir_version=9)
    m.add("DeformConv", ["x", w.astype(np.float64), "off", b.astype(np.float64), "mask"], pads=[1, 1, 1, 1])
    out.append(("double", m, [("x", X.astype(np.float64), TP.DOUBLE), ("off", off.astype(np.float64), TP.DOUBLE),
                              ("mask", mk.astype(np.float64), TP.DOUBLE)]))
    # 64 channels over 40x40 pixels: the kernel's columns come in two blocks (runtime/kernels/deform_conv.c)
    xl = rng.standard_normal((1, 64, 40, 40)).astype(np.float32)
    wl = rng.standard_normal((8, 32, 3, 3)).astype(np.float32)
    offl = rng.uniform(-4, 4, (1, 36, 40, 40)).astype(np.float32)
    ml = rng.uniform(0, 1, (1, 18, 40, 40)).astype(np.float32)
    m = Model(19, ir_version=9)
    m.add("DeformConv", ["xl", wl, offl, rng.standard_normal(8).astype(np.float32), ml], pads=[1, 1, 1, 1], group=2,
          offset_group=2)
    out.append(("blocks", m, [("xl", xl, TP.FLOAT)]))
    # the attribute cases, offsets and masks as initializers, at opsets 19 and 21
    for opset in (19, 21):
        m = Model(opset, ir_version=10 if opset == 21 else 9)
        for cs in CASES:
            add_case(m, "x", cs)
        out.append((f"cases{opset}", m, [("x", X, TP.FLOAT)]))
    m = Model(19, ir_version=9)
    for cs in CASES[9:]:
        add_case(m, "x", cs, np.float64)
    out.append(("cases_double", m, [("x", X.astype(np.float64), TP.DOUBLE)]))
    return out


def float16(d):
    """FLOAT16, computed in float32 and rounded back, against the float64 definition."""
    m = Model(19, ir_version=9)
    refs = []
    x16 = X.astype(np.float16)
    for cs in (CASES[3], CASES[9], CASES[15]):
        arrays, attrs = add_case(m, "x", cs, np.float16)
        refs.append(reference(x16, *arrays, **attrs))
    p, ys = ortcompare.run_sinter(d, sinter, "float16", m, [("x", x16, TP.FLOAT16)])
    if ys is None:
        print(f"FAIL float16: sinter run failed: {p.stderr.strip()}")
        return 1
    failed = 0
    for i, (y, r) in enumerate(zip(ys, refs)):
        if y.dtype != np.float16 or y.shape != r.shape or not np.allclose(y, r, rtol=1e-2, atol=2e-2):
            print(f"FAIL float16 {m.nodes[i].name}: {y.dtype}{y.shape}, max error {np.max(np.abs(y - r))}")
            failed += 1
    if not failed:
        print(f"ok float16: {len(ys)} nodes against the float64 definition")
    return failed


def hostile(d):
    """Values judged by the definition (a tap at a non-finite or far point samples 0): NaN, +-1e30
    and +-inf offsets, whole pixels of them, and a NaN mask."""
    bad = np.array([np.nan, 1e30, -1e30, np.inf, -np.inf, 3e38, np.nan, -1e30], np.float32)

    def spoil(off):
        pick = rng.random(off.shape) < 0.3
        off[pick] = rng.choice(bad, int(pick.sum()))
        return off

    w, off, b, mk = case(pads=[1, 1, 1, 1])
    off2 = spoil(case(strides=[2, 2], dilations=[2, 2], pads=[3, 3, 1, 1])[1])
    spoil(off)
    off[:, :, 0, 0] = np.nan                                # every tap of pixel (0, 0): y = B exactly
    off[1, 0::2, 2, 3] = 1e30                               # every dy of one pixel of image 1
    off[0, 1::2, 4, 5] = -np.inf                            # every dx of one pixel of image 0
    mk[0, 3, 5, 6] = np.nan
    m = Model(19, ir_version=9)
    m.add("DeformConv", ["x", w, "off", b, "mask"], pads=[1, 1, 1, 1])
    m.add("DeformConv", ["x", w, "off", b], pads=[1, 1, 1, 1])
    m.add("DeformConv", ["x", w, off2], strides=[2, 2], dilations=[2, 2], pads=[3, 3, 1, 1])
    p, ys = ortcompare.run_sinter(d, sinter, "hostile", m, [("x", X, TP.FLOAT), ("off", off, TP.FLOAT), ("mask", mk, TP.FLOAT)])
    if ys is None:
        print(f"FAIL hostile offsets: sinter run failed: {p.stderr.strip()}")
        return 1
    refs = [reference(X, w, off, b, mk, pads=[1, 1, 1, 1]), reference(X, w, off, b, pads=[1, 1, 1, 1]),
            reference(X, w, off2, strides=[2, 2], dilations=[2, 2], pads=[3, 3, 1, 1])]
    failed = 0
    for i, (y, r) in enumerate(zip(ys, refs)):
        nan = np.isnan(r)
        ok = y.shape == r.shape and np.array_equal(np.isnan(y), nan) and not np.any(np.isinf(y))
        ok = ok and np.all(np.abs(y[~nan] - r[~nan]) <= 1e-5 * np.maximum(1.0, np.abs(r[~nan])))
        if i < 2:  # the bias exactly where every tap is hostile
            ok = ok and np.array_equal(y[:, :, 0, 0], np.broadcast_to(b, (N, len(b))))
            ok = ok and np.array_equal(y[1, :, 2, 3], b) and np.array_equal(y[0, :, 4, 5], b)
        if i == 0:
            ok = ok and np.all(np.isnan(y[0, :, 5, 6])) and np.sum(nan) == len(b)
        else:
            ok = ok and not np.any(nan)
        if not ok:
            print(f"FAIL hostile offsets, {m.nodes[i].name}: {y.reshape(-1)[:12]}\n  want {r.reshape(-1)[:12]}")
            failed += 1
    if not failed:
        print(f"ok hostile offsets: {len(ys)} nodes against the definition")
    return failed


def refused(d):
    w, off, b, mk = case(pads=[1, 1, 1, 1])
    cases = []

    def bad(name, ins, msg, opset=19, **attrs):
        m = Model(opset, ir_version=9)
        m.add("DeformConv", ins, **attrs)
        cases.append((name, m, msg))

    p1 = dict(pads=[1, 1, 1, 1])
    bad("offset_channels", ["x", w, off[:, :10]], "offset has shape (2, 10, 7, 8), expected (N, offset_group * 2 * kH * kW, oH, "
        "oW) = (2, 18, 7, 8)", **p1)
    bad("offset_size", ["x", w, off], "offset has shape (2, 18, 7, 8), expected (N, offset_group * 2 * kH * kW, oH, oW) = "
        "(2, 18, 5, 6)")
    bad("offset_group2", ["x", w, off], "offset has shape (2, 18, 7, 8), expected (N, offset_group * 2 * kH * kW, oH, oW) = "
        "(2, 36, 7, 8)", offset_group=2, **p1)
    bad("weight", ["x", w[:, :3], off], "the weight has shape (6, 3, 3, 3): 3 input channels per group, expected C / group = 4",
        **p1)
    bad("weight_group", ["x", w, off], "the weight has shape (6, 4, 3, 3): 4 input channels per group, expected C / group = 2",
        group=2, **p1)
    bad("weight_rank", ["x", w[:, :, 0], off], "the weight has shape (6, 4, 3), expected (oC, C / group, kH, kW)", **p1)
    bad("group", ["x", w[:, :1], off], "group 3 does not divide the input channels (4) and the output channels (6)", group=3, **p1)
    bad("group_oc", ["x", w[:5, :1], off], "group 4 does not divide the input channels (4) and the output channels (5)",
        group=4, **p1)
    bad("offset_group", ["x", w, np.zeros((2, 54, 7, 8), np.float32)], "offset_group 3 does not divide the input channels (4)",
        offset_group=3, **p1)
    bad("bias", ["x", w, off, b[:5]], "B has shape (5,), expected (6,)", **p1)
    bad("mask", ["x", w, off, b, mk[:, :, :6]], "mask has shape (2, 9, 6, 8), expected (N, offset_group * kH * kW, oH, oW) = "
        "(2, 9, 7, 8)", **p1)
    bad("mask_nobias", ["x", w, off, "", mk[:, :4]], "mask has shape (2, 4, 7, 8), expected (N, offset_group * kH * kW, oH, "
        "oW) = (2, 9, 7, 8)", **p1)
    bad("kernel_shape", ["x", w, off], "kernel_shape (3, 2) differs from the weight's kernel (3, 3)", kernel_shape=[3, 2], **p1)
    bad("strides", ["x", w, off], "strides has 1 values, expected 2", strides=[2], **p1)
    bad("pads", ["x", w, off], "pads has 2 values, expected 4", pads=[1, 1])
    bad("fit", ["x", np.zeros((6, 4, 5, 5), np.float32), off], "the 5x5 kernel (dilations 2, 2) does not fit the 7x8 input "
        "padded by [0, 0, 0, 0]", dilations=[2, 2])
    bad("group0", ["x", w, off], "attribute 'group' has 0, expected 1 to 16777216", group=0, **p1)
    bad("offset_group0", ["x", w, off], "attribute 'offset_group' has 0, expected 1 to 16777216", offset_group=0, **p1)
    bad("pads_neg", ["x", w, off], "attribute 'pads' has -1, expected 0 to 16777216", pads=[1, -1, 1, 1])
    bad("opset18", ["x", w, off], "op DeformConv does not exist before opset 19 (the node is read at opset 18)", opset=18, **p1)
    m = Model(19, ir_version=9)
    m.add("DeformConv", ["x3", np.zeros((6, 4, 3, 3, 3), np.float32), np.zeros((2, 54, 1, 1, 1), np.float32)])
    cases.append(("rank5", m, [("x3", np.zeros((2, 4, 3, 3, 3), np.float32), TP.FLOAT)],
                  "the input has rank 5: sinter computes 2-D DeformConv on [N, C, H, W] only"))
    m = Model(19, ir_version=9)
    m.add("DeformConv", ["x", w.astype(np.float64), off])
    cases.append(("types", m, [("x", X, TP.FLOAT)], "inputs 1 ('x', FLOAT) and 2 ('c0', DOUBLE) must have one type"))
    return ortcompare.refuse_all(d, sinter, cases, [("x", X, TP.FLOAT)])


def main():
    failed = 0
    with tempfile.TemporaryDirectory() as d:
        for name, m, ins in models():
            failed += ortcompare.run_model(d, name, m, ins, sinter, ort_run, ort_modules, rtol=1e-5)
        failed += float16(d) + hostile(d) + refused(d)
    return ortcompare.finish("check_ops_deform_conv", failed)


sys.exit(main())
