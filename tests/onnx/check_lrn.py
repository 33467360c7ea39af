"""PyTorch 1.13 exports nn.LocalResponseNorm as a decomposition (x * x, Unsqueeze/Reshape to
[N, 1, C, ...], a Pad of the channels, AveragePool (size, 1, 1), Squeeze/Reshape back in an If on
the rank, * alpha + k, ** beta, x / that), which compiler/passes/fuse_lrn.c turns into one LRN
for odd sizes. Exported here at opsets 11, 13 and 17 and checked against ONNX Runtime and PyTorch
(<= 1e-5 relative): odd sizes (4-D and 3-D inputs) run as LRN nodes of the plan, even sizes (whose
window is not ONNX LRN's) keep their decomposition, and so does one whose intermediate another
node or the graph's output reads, or another LRN of the same tensor. `sinter import` refuses
those naming their Pad and why, and writes the odd ones as lrn: at opset 13, the .nn compiled with
the file's weights gives PyTorch's numbers.
usage: check_lrn.py SINTER ORT_RUN_JS ORT_NODE_MODULES"""
import concurrent.futures
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper
from torch import nn

sinter, ort_run, ort_modules = sys.argv[1:4]
OPSETS = (11, 13, 17)
warnings.filterwarnings("ignore")  # the exporter's notes on constant folding
torch.manual_seed(0)
X = torch.rand(2, 7, 4, 5, generator=torch.Generator().manual_seed(1)) * 4 - 1


class Sizes(nn.Module):
    """One LocalResponseNorm per size, side by side, each on x times its own factor (the exporter
    merges equal subexpressions: LRNs of one tensor share their x * x); 3-D ones on x with its
    height and width merged."""

    def __init__(self, sizes, flat=(), factors=None):
        super().__init__()
        self.n = nn.ModuleList(nn.LocalResponseNorm(s, 1e-2 * s, 0.6 + 0.05 * s, 1.0 + 0.25 * s) for s in sizes)
        self.f = nn.ModuleList(nn.LocalResponseNorm(s, 2e-2, 0.75, 2.0) for s in flat)
        self.k = factors or [1.0 + 0.25 * i for i in range(len(sizes))]

    def forward(self, x):
        return tuple(m(x * k) for m, k in zip(self.n, self.k)) + tuple(m(x.flatten(2)) for m in self.f)


class ConvLrn(nn.Module):  # weights for the import path: the .nn maps them by structure
    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(nn.Conv2d(7, 8, 3, padding=1), nn.ReLU(), nn.LocalResponseNorm(3), nn.Conv2d(8, 8, 1),
                               nn.LocalResponseNorm(5, 1e-3, 0.75, 2.0))

    def forward(self, x):
        return self.f(x)


def export(d, name, model, opset):
    path = os.path.join(d, f"{name}_{opset}.onnx")
    model.eval()
    torch.onnx.export(model, X, path, opset_version=opset, input_names=["x"])
    with torch.no_grad():
        want = model(X)
    return path, [w.numpy() for w in (want if isinstance(want, tuple) else (want,))]


def outputs(d):
    n = len([f for f in os.listdir(d) if f.startswith("output_")])
    return [numpy_helper.to_array(onnx.load_tensor(os.path.join(d, f"output_{i}.pb"))) for i in range(n)]


def compare(what, got, refs):
    """Each output within 1e-5 relative (to max(1, |reference|)) of each reference, which may hold
    the first outputs only; the failures."""
    errs = []
    for ref_name, ref in refs:
        if len(got) < len(ref) or not ref:
            errs.append(f"{what}: {len(got)} outputs, {ref_name} {len(ref)}")
            continue
        for i, (a, b) in enumerate(zip(got, ref)):
            err = float(np.max(np.abs(a.astype(np.float64) - b) / np.maximum(1.0, np.abs(b)))) if a.shape == b.shape else np.inf
            if not err <= 1e-5:
                errs.append(f"{what}: output {i} {a.shape} differs from {ref_name} {b.shape} by {err:.3g}")
    return errs


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)


def ort(path, xpb, out):
    p = run(["node", ort_run, path, xpb, "-o", out], env=dict(os.environ, ORT_NODE_MODULES=ort_modules))
    return outputs(out) if not p.returncode else None


def plan_ops(path, exe):
    """The op of each node of the compiled plan (EXE bench --profile), as a list."""
    p = run([sinter, "compile", path, "-o", exe])
    if p.returncode:
        return None
    prof = run([exe, "bench", "--profile", "--iters", "1", "--threads", "1"]).stdout
    return [ln.split()[2] for ln in prof.splitlines() if ln.strip()[:1].isdigit() and len(ln.split()) > 3]


def check_model(d, what, path, want, xpb, lrn, pow_):
    """sinter run against ONNX Runtime and PyTorch; the plan holds `lrn` LRN and `pow_` Pow nodes."""
    out, ort_out = os.path.join(d, f"{what}_s"), os.path.join(d, f"{what}_o")
    p = run([sinter, "run", path, xpb, "-o", out])
    if p.returncode:
        return [f"{what}: sinter run exit {p.returncode}: {p.stderr.strip()[-800:]}"]
    ref = ort(path, xpb, ort_out)
    if ref is None:
        return [f"{what}: ONNX Runtime failed"]
    errs = compare(what, outputs(out), [("ONNX Runtime", ref), ("PyTorch", want)])
    ops = plan_ops(path, os.path.join(d, f"{what}_exe"))
    if ops is None or ops.count("lrn") != lrn or ops.count("pow") != pow_:
        errs.append(f"{what}: plan ops {ops}, want {lrn} lrn and {pow_} pow")
    return errs


def check_import(d, what, path, want, xpb, lrn):
    """sinter import writes `lrn` lrn calls; the .nn with the file's weights gives PyTorch's numbers."""
    nn_path, exe, out = os.path.join(d, f"{what}.nn"), os.path.join(d, f"{what}_nn"), os.path.join(d, f"{what}_nn_out")
    p = run([sinter, "import", path, "-o", nn_path])
    if p.returncode:
        return [f"{what}: sinter import exit {p.returncode}: {p.stderr.strip()[-800:]}"]
    found = open(nn_path).read().count("= lrn(")
    if found != lrn:
        return [f"{what}: the .nn has {found} lrn calls, want {lrn}"]
    for cmd in ([sinter, "compile", nn_path, "--weights", path, "--batch", str(X.shape[0]), "-o", exe],
                [exe, "run", xpb, "-o", out]):
        p = run(cmd)
        if p.returncode:
            return [f"{what}: {os.path.basename(cmd[0])} exit {p.returncode}: {p.stderr.strip()[-800:]}"]
    return compare(what + " imported", outputs(out), [("PyTorch", want)])


def check_refused(d, what, path, needles):
    """sinter import fails, and its messages hold each needle (the Pad's name and the reason)."""
    p = run([sinter, "import", path, "-o", os.path.join(d, f"{what}.nn")])
    missing = [s for s in needles if s not in p.stderr]
    if p.returncode == 0 or missing:
        return [f"{what}: sinter import exit {p.returncode}, missing {missing} in: {p.stderr.strip()[-1200:]}"]
    return []


def by_hand(m, name, pads, count_include_pad, alpha):
    """A size-3 decomposition of x written with the pool's own padding (the form the pad folds
    give), opset 13: x * x, Unsqueeze, AveragePool (3, 1, 1), Squeeze, * alpha + 1, ** 0.75."""
    cs = [numpy_helper.from_array(np.asarray(v, dt), f"{name}_c{i}")
          for i, (v, dt) in enumerate([([1], np.int64), (alpha, np.float32), (1.0, np.float32), (0.75, np.float32)])]
    m.graph.initializer.extend(cs)
    t = lambda s: f"{name}_{s}"
    m.graph.node.extend([
        helper.make_node("Mul", ["x", "x"], [t("sq")], name=t("sq")),
        helper.make_node("Unsqueeze", [t("sq"), cs[0].name], [t("v5")], name=t("unsqueeze")),
        helper.make_node("AveragePool", [t("v5")], [t("pool")], name=t("pool"), kernel_shape=[3, 1, 1], pads=pads,
                         count_include_pad=count_include_pad),
        helper.make_node("Squeeze", [t("pool"), cs[0].name], [t("mean")], name=t("squeeze")),
        helper.make_node("Mul", [t("mean"), cs[1].name], [t("scaled")], name=t("scale")),
        helper.make_node("Add", [t("scaled"), cs[2].name], [t("base")], name=t("add")),
        helper.make_node("Pow", [t("base"), cs[3].name], [t("den")], name=t("pow")),
        helper.make_node("Div", ["x", t("den")], [t("y")], name=t("div"))])
    m.graph.output.append(helper.make_empty_tensor_value_info(t("y")))


def shared(path, out_path):
    """The export of sizes 3, 5, 7, then 3 and 5 of one tensor (their x * x shared), with an
    intermediate of the first's decomposition read by one more node (a Neg) and the second's pool
    output a graph output; then three size-3 ones by hand with the pool's own padding: counted
    in the mean, not counted, and a scale per channel. Size 7 and the first by hand may fuse."""
    m = onnx.load(path)
    names = {n.name: n for n in m.graph.node}
    scaled, pooled = names["/n.0/Mul_1"].output[0], names["/n.1/AveragePool"].output[0]
    m.graph.node.append(helper.make_node("Neg", [scaled], ["neg"], name="second_reader"))
    m.graph.output.extend([helper.make_empty_tensor_value_info("neg"), helper.make_empty_tensor_value_info(pooled)])
    by_hand(m, "counted", [1, 0, 0, 1, 0, 0], 1, 0.03)
    by_hand(m, "uncounted", [1, 0, 0, 1, 0, 0], 0, 0.03)
    by_hand(m, "per_channel", [1, 0, 0, 1, 0, 0], 1, np.linspace(0.01, 0.07, 7).reshape(7, 1, 1))
    onnx.save(m, out_path)


def check_sizes(d, xpb, opset, path, want):
    """Sizes 3 and 5 (and 3 over a 3-D input) run as LRN; 2 and 4 stay Pow and Div, and sinter
    import names their Pads."""
    what = f"sizes_{opset}"
    return check_model(d, what, path, want, xpb, lrn=3, pow_=2) + check_refused(
        d, what, path, ["node '/n.2/Pad' (Pad)", "an even size (2)", "node '/n.3/Pad' (Pad)", "an even size (4)"])


def check_shared(d, xpb, path, want):
    """shared()'s model: size 7 and the first by hand run as LRN; sinter import says why the
    exported others do not."""
    return check_model(d, "shared", path, want, xpb, lrn=2, pow_=6) + check_refused(
        d, "shared", path, ["node '/n.0/Pad' (Pad)", "the output of node '/n.0/Mul_1' is read elsewhere too",
                            "node '/n.1/Pad' (Pad)", "the output of node '/n.1/AveragePool' is read elsewhere too"])


def main():
    with tempfile.TemporaryDirectory() as d:
        xpb = os.path.join(d, "x.pb")
        open(xpb, "wb").write(numpy_helper.from_array(X.numpy(), "x").SerializeToString())
        jobs = []  # (check, its arguments): exported here one at a time, checked two at a time
        for opset in OPSETS:
            jobs.append((check_sizes, (d, xpb, opset) + export(d, "sizes", Sizes((3, 5, 2, 4), flat=(3,)), opset)))
        # The import path at opset 13, as models.real_pytorch takes it.
        path, want = export(d, "conv", ConvLrn(), 13)
        jobs.append((check_import, (d, "conv_13", path, want, xpb, 2)))
        path, want = export(d, "odd", Sizes((3, 5, 7, 3, 5), factors=[1, 1.25, 1.5, 2, 2]), 13)
        shared(path, os.path.join(d, "shared.onnx"))
        jobs.append((check_shared, (d, xpb, os.path.join(d, "shared.onnx"), want)))  # PyTorch's outputs: the first five
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            errs = [e for r in pool.map(lambda job: job[0](*job[1]), jobs) for e in r]
    for e in errs:
        print("FAIL " + e)
    print(f"{'FAIL' if errs else 'PASS'} check_lrn: {len(jobs)} exports, odd sizes as LRN, even sizes and shared "
          "intermediates as their decomposition, all within 1e-5 of ONNX Runtime and PyTorch")
    return 1 if errs else 0


sys.exit(main())
