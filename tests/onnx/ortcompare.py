"""Shared harness of the ONNX op scripts: a chain of independent nodes in one model (one
compile checks them all), run in sinter and ONNX Runtime and compared output by output, and
malformed nodes that sinter must refuse with an exact message."""
import os
import subprocess

import numpy as np
import onnx
from onnx import helper, numpy_helper


class Model:
    def __init__(self, opset, ir_version=7):
        self.opset, self.ir_version = opset, ir_version
        self.nodes, self.inits, self.outs = [], [], []

    def add(self, op, ins, n_out=1, **attrs):
        """A node reading `ins` (names, or arrays made initializers); its outputs are graph outputs."""
        names = []
        for v in ins:
            if isinstance(v, str):
                names.append(v)
            else:
                nm = f"c{len(self.inits)}"
                self.inits.append(numpy_helper.from_array(np.asarray(v), nm))
                names.append(nm)
        k = len(self.nodes)
        outs = [f"y{k}_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op, names, outs, name=f"n{k}_{op}", **attrs))
        self.outs += outs
        return outs

    def proto(self, name, inputs):
        """The ModelProto; inputs are (name, array, TensorProto type). No checker: onnx 1.12
        does not know opsets above 17, ONNX Runtime judges those files."""
        g = helper.make_graph(self.nodes, name, [helper.make_tensor_value_info(n, t, a.shape) for n, a, t in inputs],
                              [helper.make_empty_tensor_value_info(o) for o in self.outs], self.inits)
        mp = helper.make_model(g, opset_imports=[helper.make_opsetid("", self.opset)])
        mp.ir_version = self.ir_version
        return mp


def _ort_part(m, inputs, ref):
    """The model of m's nodes whose outputs have no reference in ref, and the inputs it reads."""
    sub = Model(m.opset, m.ir_version)
    sub.nodes = [n for n in m.nodes if not set(n.output) & set(ref)]
    read = {i for n in sub.nodes for i in n.input}
    sub.inits = [t for t in m.inits if t.name in read]
    sub.outs = [o for o in m.outs if o not in ref]
    return sub, [i for i in inputs if i[0] in read]


def run_model(d, name, m, inputs, sinter, ort_run, ort_modules, rtol=1e-5):
    """Runs m in both and compares: floats within rtol (relative above 1; FLOAT16 within 1e-3),
    the rest exactly. Outputs named in m.ref (a dict of arrays, when m has one) are compared with
    those instead; ONNX Runtime then runs a model of the other nodes only."""
    path = os.path.join(d, f"m{name}.onnx")
    onnx.save(m.proto(name, inputs), path)

    def save_inputs(prefix, ins):
        pbs = []
        for n, a, _ in ins:
            pbs.append(os.path.join(d, f"{prefix}{name}_{n}.pb"))
            open(pbs[-1], "wb").write(numpy_helper.from_array(a).SerializeToString())
        return pbs

    pbs = save_inputs("", inputs)
    so, ro = os.path.join(d, f"s{name}"), os.path.join(d, f"r{name}")
    os.mkdir(so), os.mkdir(ro)
    ref = getattr(m, "ref", {})
    ort_m, ort_ins = _ort_part(m, inputs, ref) if ref else (m, inputs)
    if ort_m.outs:
        ort_path = path if not ref else os.path.join(d, f"m{name}_ort.onnx")
        if ref:
            onnx.save(ort_m.proto(name, ort_ins), ort_path)
        ort_pbs = pbs if not ref else save_inputs("ort_", ort_ins)
        subprocess.run(["node", ort_run, ort_path, *ort_pbs, "-o", ro], check=True, env=dict(os.environ, ORT_NODE_MODULES=ort_modules))
    p = subprocess.run([sinter, "run", path, *pbs, "-o", so], capture_output=True, text=True)
    if p.returncode:
        print(f"FAIL model {name} (opset {m.opset}): sinter run failed: {p.stderr.strip()}")
        return 1
    failed = 0
    load = lambda f: numpy_helper.to_array(onnx.load_tensor(f))
    for i, o in enumerate(m.outs):
        a = load(os.path.join(so, f"output_{i}.pb"))
        b = ref[o] if o in ref else load(os.path.join(ro, f"output_{ort_m.outs.index(o)}.pb"))
        nd = m.nodes[int(o[1:].split("_")[0])]
        ok = a.shape == b.shape and a.dtype == b.dtype
        if ok and a.dtype.kind == "f":
            tol = max(rtol, 1e-3) if a.dtype == np.float16 else rtol
            a64, b64 = a.astype(np.float64), b.astype(np.float64)
            ok = a.size == 0 or float(np.max(np.abs(a64 - b64) / np.maximum(1.0, np.abs(b64)))) <= tol
        elif ok:
            ok = np.array_equal(a, b)
        if not ok:
            print(f"FAIL model {name} (opset {m.opset}) {nd.name} output {o}: {a.dtype}{a.shape} vs "
                  f"{'reference' if o in ref else 'ONNX Runtime'} {b.dtype}{b.shape}\n"
                  f"  got  {a.reshape(-1)[:12]}\n  want {b.reshape(-1)[:12]}")
            failed += 1
    if not failed:
        print(f"ok model {name} (opset {m.opset}): {len(m.outs)} outputs of {len(m.nodes)} nodes checked")
    return failed


def refuse_nodes(d, sinter, cases, x_shape):
    """Each (op, opset, nodes, initializers, message) case, a model of those nodes over one FLOAT
    input 'x' of x_shape, must fail `sinter compile` with ': message' in its error; prints one
    line when all do; returns the failures."""
    failed = 0
    for op, opset, nodes, inits, msg in cases:
        g = helper.make_graph(nodes, "bad", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, x_shape)],
                              [helper.make_empty_tensor_value_info(o) for n in nodes for o in n.output], inits)
        path = os.path.join(d, "bad.onnx")
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)]), path)
        p = subprocess.run([sinter, "compile", path, "-o", os.path.join(d, "bad.exe")], capture_output=True, text=True)
        if p.returncode == 0 or f": {msg}" not in p.stderr:
            print(f"FAIL bad {op}: want '{msg}', got: {p.stderr.strip()}")
            failed += 1
    if not failed:
        print(f"ok {len(cases)} malformed nodes refused")
    return failed


def check_refused(d, sinter, name, m, inputs, msg):
    """sinter compile must fail with msg, the end of its first line (after the file, the node and the op)."""
    path = os.path.join(d, f"bad_{name}.onnx")
    onnx.save(m.proto(name, inputs), path)
    p = subprocess.run([sinter, "compile", path, "-o", os.path.join(d, "bad.exe")], capture_output=True, text=True)
    want = f"{msg}"
    if p.returncode == 0 or f"{path}" not in p.stderr or not p.stderr.splitlines()[0].endswith(msg):
        print(f"FAIL refused {name}: want '{want}', got: {p.stderr.strip()}")
        return 1
    return 0


def run_sinter(d, sinter, name, m, inputs):
    """Runs m in sinter alone, for values judged by a rule or by numpy: (the finished process,
    the outputs as arrays, or None when the run failed). inputs are (name, array, type)."""
    path = os.path.join(d, f"s_{name}.onnx")
    onnx.save(m.proto(name, inputs), path)
    pbs = []
    for n, a, _ in inputs:
        pbs.append(os.path.join(d, f"s_{name}_{n}.pb"))
        open(pbs[-1], "wb").write(numpy_helper.from_array(a, n).SerializeToString())
    out = os.path.join(d, f"s_{name}_out")
    p = subprocess.run([sinter, "run", path, *pbs, "-o", out], capture_output=True, text=True)
    if p.returncode:
        return p, None
    return p, [numpy_helper.to_array(onnx.load_tensor(os.path.join(out, f"output_{i}.pb"))) for i in range(len(m.outs))]


def refuse_all(d, sinter, cases, inputs=None):
    """check_refused over (name, model, message) cases (with `inputs`) or (name, model, inputs,
    message) ones; prints one line when all are refused; returns the failures."""
    failed = 0
    for c in cases:
        name, m, ins, msg = c if len(c) == 4 else (c[0], c[1], inputs, c[2])
        failed += check_refused(d, sinter, name, m, ins, msg)
    if not failed:
        print(f"ok {len(cases)} malformed nodes refused")
    return failed


def finish(script, failed):
    """The last line ctest matches, and the exit status."""
    print(f"FAIL {script}" if failed else f"PASS {script}")
    return 1 if failed else 0


def save_and_run_ort(d, m, x, ort_run, ort_modules):
    """Saves m as d/model.onnx and x as d/x.pb, runs ONNX Runtime on them into d/ort (the
    reference of the plan-checking scripts) and returns the two paths."""
    model, xpb = os.path.join(d, "model.onnx"), os.path.join(d, "x.pb")
    onnx.save(m, model)
    open(xpb, "wb").write(numpy_helper.from_array(x).SerializeToString())
    os.mkdir(os.path.join(d, "ort"))
    subprocess.run(["node", ort_run, model, xpb, "-o", os.path.join(d, "ort")], check=True,
                   env=dict(os.environ, ORT_NODE_MODULES=ort_modules))
    return model, xpb


def ort_rel_error(got_dir, d, i):
    """Output i in got_dir against ONNX Runtime's in d/ort: the largest difference over
    max(1, the reference's largest magnitude), in double; 1.0 when the shapes differ."""
    a = numpy_helper.to_array(onnx.load_tensor(os.path.join(got_dir, f"output_{i}.pb")))
    b = numpy_helper.to_array(onnx.load_tensor(os.path.join(d, "ort", f"output_{i}.pb")))
    if a.shape != b.shape:
        return 1.0
    return float(np.max(np.abs(a.astype(np.float64) - b)) / max(1.0, float(np.max(np.abs(b)))))
