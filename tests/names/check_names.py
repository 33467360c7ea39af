"""Hostile names in models (issue #9, classes 1 and 10): no model string may become code in the
generated C, and `sinter import` writes every name so that the .nn reads it back.

    check_names.py MODE SINTER INCLUDE_DIR GEN_INCLUDE_DIR

MODE onnx:     one ONNX model whose graph, node, tensor, initializer, input and output names are
               every C17 keyword, C library names, every snt_/SNT_/SINTER_ symbol of
               include/sinter, comment and string breakers, invalid UTF-8 and 4 KB names: it
               builds, runs, equals numpy, creates no file, shows its names in `info`/`--help`.
MODE prefixes: model names (keywords, libc, generated locals, runtime symbols, ...) give C that
               compiles (-std=c17, trigraphs on, -Wall -Wextra -pedantic -Werror); safe names
               keep their entry points, others get a sinter_ prefix and a note.
MODE dsl:      a trainable .nn model with hostile layer names and labels: check, summary, compile,
               EXE summary/info/run/predict/export-onnx keep the names and the numbers.
MODE import:   an ONNX model with hostile names -> sinter import -> the .nn checks, its layers
               carry the names byte for byte, and compiled it gives the ONNX model's outputs.
"""
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

MODE, SINTER, INCLUDE, GEN_INCLUDE = sys.argv[1:5]

C17_KEYWORDS = ("auto break case char const continue default do double else enum extern float for goto if "
                "inline int long register restrict return short signed sizeof static struct switch typedef "
                "union unsigned void volatile while _Alignas _Alignof _Atomic _Bool _Complex _Generic "
                "_Imaginary _Noreturn _Static_assert _Thread_local").split()
LIBC = "main abs exp free malloc memcpy printf exit NULL".split()
LOCALS = "m in out n seed A S W d x y i k io w b c p v".split()
INJECT = '*/ system("touch pwned"); /*'
INCLUDE_HOSTNAME = '*/\n#include "/etc/hostname"\n/*'
BREAKERS = [INJECT, INCLUDE_HOSTNAME, "//", "\\", '"', "a\nb", "??/", "??=define X ??/", "x\\\ny", "tab\there",
            "\x01\x1b[31mred", "{braces}", "}{", "caf\u00e9 \u4e2d\u6587"]
LONG = "L" * 4096
# Invalid UTF-8 cannot go through protobuf's Python API: placeholders of the same length are
# replaced in the serialized bytes.
BAD_UTF8 = {k: (v + b"." * len(k))[:len(k)] for k, v in
            {b"BADUTF8PLACEHOLDER1": b"\xff\xfe\x80 bad \xc3( one", b"BADUTF8PLACEHOLDER2": b"\xc0\xaf*/\xed\xa0\x80 two"}.items()}


def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)


def run(cmd, cwd, env=None, want_rc=0, what=None):
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True)
    if want_rc is not None and r.returncode != want_rc:
        fail("%s exited %d (want %d)\nstdout: %s\nstderr: %s" % (what or cmd[:2], r.returncode, want_rc,
                                                                   r.stdout[-3000:], r.stderr[-3000:]))
    return r


def snt_symbols():
    syms = set()
    for f in sorted(os.listdir(os.path.join(INCLUDE, "sinter"))):
        with open(os.path.join(INCLUDE, "sinter", f), errors="replace") as fh:
            syms.update(re.findall(r"\b(?:snt_[a-z0-9_]+|SNT_[A-Z0-9_]+|SINTER_[A-Z0-9_]+)\b", fh.read()))
    if len(syms) < 50:
        fail("found only %d snt_ symbols in %s" % (len(syms), INCLUDE))
    return sorted(syms)


def save(model, path):
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    for k, v in BAD_UTF8.items():
        data = data.replace(k, v)
    with open(path, "wb") as f:
        f.write(data)


def raw(name):
    """The bytes a name has in the saved model."""
    b = name.encode("utf-8")
    return BAD_UTF8.get(b, b)


def write_tensor(path, a, name="x"):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(a, name).SerializeToString())


def read_tensor(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def close(got, want, tol, what):
    if got.shape != want.shape:
        fail("%s: shape %s, want %s" % (what, got.shape, want.shape))
    err = float(np.max(np.abs(got.astype(np.float64) - want)))
    if err > tol:
        fail("%s: max error %g > %g\ngot %s\nwant %s" % (what, err, tol, got.ravel()[:8], want.ravel()[:8]))
    return err


def no_pwned(*dirs):
    for d in dirs:
        for root, _, files in os.walk(d):
            if "pwned" in files:
                fail("a file 'pwned' was created in %s: a name ran as code" % root)


def syntax_check(files, cwd):
    """The generated C compiles in strict C17 (trigraphs on) with every warning an error."""
    run(["cc", "-fsyntax-only", "-std=c17", "-pedantic", "-Wno-overlength-strings", "-Wall", "-Wextra", "-Werror", "-I" + INCLUDE,
         "-I" + GEN_INCLUDE] + files, cwd, what="cc -fsyntax-only -std=c17 on the generated C")


# ---- numpy references (float64) ----

def conv2d(x, w, b, pad):
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1
    y = np.zeros((n, f, oh, ow))
    for i in range(kh):
        for j in range(kw):
            y += np.einsum("nchw,fc->nfhw", xp[:, :, i:i + oh, j:j + ow], w[:, :, i, j])
    return y + b.reshape(1, -1, 1, 1)


def maxpool2(x):
    n, c, h, w = x.shape
    return x[:, :, :h // 2 * 2, :w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ---- modes ----

def mode_onnx(tmp):
    rng = np.random.default_rng(1)
    names = C17_KEYWORDS + LIBC + LOCALS + snt_symbols() + BREAKERS + [LONG, LONG + "2", ""] + [k.decode() for k in BAD_UTF8]
    x_name, y_name = INCLUDE_HOSTNAME + ' "in"', INJECT + " out"
    graph_name = INJECT + "\n" + INCLUDE_HOSTNAME
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    c = rng.standard_normal((4, 1, 1)).astype(np.float32)
    inits = [numpy_helper.from_array(w, "int"), numpy_helper.from_array(b, "??/"), numpy_helper.from_array(c, "BADUTF8PLACEHOLDER1")]
    nodes = [helper.make_node("Conv", [x_name, "int", "??/"], ["conv out \"*/"], name=INJECT, pads=[1, 1, 1, 1])]
    prev, used = "conv out \"*/", {x_name, y_name, "int", "??/", "BADUTF8PLACEHOLDER1", "conv out \"*/", "main out"}
    # Most names sit on Reshapes (a memcpy each: cheap C), compiled with --no-passes to keep them.
    # Each has its own shape (sinter refuses a shape initializer two Reshapes share).
    for i, nm in enumerate(names):
        out = nm if nm and nm not in used else "%s#%d" % (nm, i)
        used.add(out)
        if i % 8 == 0:
            nodes.append(helper.make_node("Neg", [prev], [out], name=nm))
        else:
            inits.append(numpy_helper.from_array(np.array([0, 4, 5, 5], np.int64), "%s shape#%d" % (nm, i)))
            nodes.append(helper.make_node("Reshape", [prev, inits[-1].name], [out], name=nm))
        prev = out
    nodes.append(helper.make_node("Add", [prev, "BADUTF8PLACEHOLDER1"], ["main out"], name="free"))
    nodes.append(helper.make_node("Relu", ["main out"], [y_name], name=LONG))
    g = helper.make_graph(nodes, graph_name, [helper.make_tensor_value_info(x_name, TensorProto.FLOAT, ["N", 3, 5, 5])],
                          [helper.make_tensor_value_info(y_name, TensorProto.FLOAT, ["N", 4, 5, 5])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    save(m, os.path.join(tmp, "hostile.onnx"))
    x = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    write_tensor(os.path.join(tmp, "x.pb"), x)

    r = run([SINTER, "compile", "hostile.onnx", "--batch", "2", "--no-passes", "--emit-c", "gen", "-o", "hostile"], tmp, what="sinter compile hostile.onnx")
    if b"note: model name '" not in r.stderr or b"sinter_" not in r.stderr:
        fail("no note on the renamed model name: %s" % r.stderr[-500:])
    gen = sorted(os.path.join("gen", f) for f in os.listdir(os.path.join(tmp, "gen")) if f.endswith(".c"))
    for f in gen + [f[:-2] + ".h" for f in gen if not f.endswith("main.c")]:
        with open(os.path.join(tmp, f), "rb") as fh:
            text = fh.read()
        if b'\n#include "/etc' in text or b"\nsystem(" in text or b"\xff" in text:
            fail("%s holds a model name unescaped" % f)
    syntax_check(gen, tmp)
    run(["./hostile", "run", "x.pb", "-o", "out"], tmp, what="EXE run")
    sign = -1.0 if len(range(0, len(names), 8)) % 2 else 1.0
    want = np.maximum(conv2d(x.astype(np.float64), w, b, 1) * sign + c.astype(np.float64), 0)
    err = close(read_tensor(os.path.join(tmp, "out", "output_0.pb")), want, 1e-4, "hostile.onnx output")
    info = run(["./hostile", "info"], tmp, what="EXE info").stdout
    for nm in (x_name, y_name):
        if ("%s: " % nm).encode() not in info:
            fail("EXE info does not show the name %r:\n%s" % (nm, info))
    usage = run(["./hostile", "--help"], tmp, what="EXE --help").stdout
    if graph_name.encode() not in usage:
        fail("EXE --help does not show the model name %r" % graph_name)
    summary = run(["./hostile", "summary"], tmp, what="EXE summary").stdout
    for nm in C17_KEYWORDS + LIBC + BREAKERS[:6]:
        if (" %s (" % nm).encode() not in summary:
            fail("EXE summary does not show layer %r" % nm)
    no_pwned(tmp, os.getcwd())
    print("PASS %d hostile node names, hostile graph/input/output/initializer names: builds, runs (max error %.2g "
          "vs numpy), info/--help/summary show the names, no file created" % (len(names) + 3, err))


def relu_model(graph_name):
    n = helper.make_node("Relu", ["x"], ["y"], name="r")
    g = helper.make_graph([n], graph_name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


def mode_prefixes(tmp):
    """Real code generation for a sample of model names (test_names checks the mapping of many
    more): the C compiles, safe names keep their entry points, the others get a note."""
    kept = ["simple_cnn", "m", "in", "out", "n", "seed", "d", "x", "i", "io", "w", "model", "create"]
    renamed = ["int", "_Bool", "_Generic", "main", "free", "NULL", "A", "S", "W", "errno", "linux", "timer",
               "snt_rt_main", "SINTER_MODEL_H", "a__b", "*/", "??/", INJECT, INCLUDE_HOSTNAME, LONG, "BADUTF8PLACEHOLDER2"]
    env = dict(os.environ, CC="true")  # only the C text here; one cc call checks it all below
    prefixes, files = {}, []
    for i, nm in enumerate(kept + renamed):
        save(relu_model(nm), os.path.join(tmp, "m%d.onnx" % i))
        d = "gen%d" % i
        r = run([SINTER, "compile", "m%d.onnx" % i, "--emit-c", d, "-o", "m%d" % i], tmp, env=env,
                what="sinter compile (model name %r)" % nm)
        cs = [f for f in os.listdir(os.path.join(tmp, d)) if f.endswith(".c") and f != "main.c"]
        if len(cs) != 1:
            fail("model name %r: generated %s" % (nm, cs))
        p = cs[0][:-2]
        note = b"note: model name '" in r.stderr
        if nm in kept and (p != nm or note):
            fail("model name %r should keep its entry points, got prefix %r (stderr %s)" % (nm, p, r.stderr))
        if nm not in kept and (not p.startswith("sinter_") or not note or ("%s_create" % p).encode() not in r.stderr):
            fail("model name %r: C prefix %r, note %s" % (nm, p, r.stderr))
        if p in prefixes.values():
            fail("model names %r and %r got the same C prefix %r" % (nm, [k for k, v in prefixes.items() if v == p], p))
        prefixes[nm] = p
        files.append(os.path.join(d, p + ".c"))
    syntax_check(files, tmp)
    # One name whose typedef meets the generated code's locals, built and run for real.
    save(relu_model("m"), os.path.join(tmp, "m.onnx"))
    run([SINTER, "compile", "m.onnx", "-o", "m_exe"], tmp, what="sinter compile (model m)")
    write_tensor(os.path.join(tmp, "x.pb"), np.array([[1, -2, 3, -4]], np.float32))
    run(["./m_exe", "run", "x.pb", "-o", "out"], tmp, what="model m run")
    close(read_tensor(os.path.join(tmp, "out", "output_0.pb")), np.array([[1, 0, 3, 0]], np.float64), 0, "model m")
    no_pwned(tmp)
    print("PASS %d model names: %d keep their entry points, %d get a sinter_ prefix and a note; the generated C "
          "compiles under -std=c17 -pedantic -Werror; model m runs" % (len(prefixes), len(kept), len(renamed)))


def dsl_string(s):
    """A name as a DSL string literal (docs/dsl.md: \\n \\t \\r \\xHH \\" \\\\ \\{ \\})."""
    out = []
    for byte in raw(s):
        ch = chr(byte)
        if ch in '"\\{}':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif byte < 0x20 or byte >= 0x7f:
            out.append("\\x%02x" % byte)
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


DSL_LABELS = [INJECT, "a\nb", "??/", "BADUTF8PLACEHOLDER1"]


def dsl_model(names, labels):
    """conv -> relu chain (one layer per name) -> global pool -> dense softmax."""
    lines = ["model int {", "  input image: [3, 6, 6]", "  labels " + ", ".join(labels),
             "  x = conv2d(image, 4, 3, padding = same, name = %s)" % names[0],
             "  x = batchnorm(x, name = %s)" % names[1]]
    lines += ["  x = relu(x, name = %s)" % nm for nm in names[2:-2]]
    lines += ["  x = global_avg_pool(x, name = %s)" % names[-2],
              "  output probs = dense(x, 4, activation = softmax, name = %s)" % names[-1], "}", ""]
    return "\n".join(lines)


def mode_dsl(tmp):
    # Every keyword and runtime symbol goes through the same escaping in mode onnx; here a sample,
    # since each layer of a trainable model costs C in three models.
    names = [INJECT, INCLUDE_HOSTNAME, "int", "_Bool", "_Generic", "return", "static", "while"] + LIBC + \
            ["m", "in", "out", "A", "S", "W"] + BREAKERS[2:] + ["snt_rt_main", "SNT_F32", "SINTER_MODEL_H", LONG,
                                                              "BADUTF8PLACEHOLDER2", "main2"]
    with open(os.path.join(tmp, "hostile.nn"), "w") as f:
        f.write(dsl_model([dsl_string(n) for n in names], [dsl_string(lb) for lb in DSL_LABELS]))
    with open(os.path.join(tmp, "plain.nn"), "w") as f:
        f.write(dsl_model(['"layer%d"' % i for i in range(len(names))], ['"c%d"' % i for i in range(4)]))
    run([SINTER, "check", "hostile.nn"], tmp, what="sinter check hostile.nn")
    with open(os.path.join(tmp, "nul.nn"), "w") as f:  # a string cannot hold a NUL byte
        f.write(dsl_model(['"a\\x00b"'] + ['"l%d"' % i for i in range(3)], ['"a"', '"b"', '"c"', '"d"']))
    err = run([SINTER, "check", "nul.nn"], tmp, want_rc=1).stderr.decode()
    if not err.startswith("nul.nn:4:") or "'\\x' takes two hexadecimal digits from 01 to ff" not in err:
        fail("\\x00 in a DSL string: %s" % err)
    summary = run([SINTER, "summary", "hostile.nn"], tmp, what="sinter summary hostile.nn").stdout
    short = [n for n in names if len(raw(n)) < 60]
    for nm in short:
        if (" %s (" % nm).encode() not in summary and b" " + raw(nm) + b" (" not in summary:
            fail("sinter summary does not show layer %r" % nm)
    run([SINTER, "export-onnx", "plain.nn", "-o", "plain.onnx"], tmp, what="sinter export-onnx plain.nn")
    r = run([SINTER, "compile", "hostile.nn", "-o", "hostile"], tmp, what="sinter compile hostile.nn")
    if b"note: model name 'int'" not in r.stderr:
        fail("no note for the model name int: %s" % r.stderr)
    exe_summary = run(["./hostile", "summary"], tmp, what="EXE summary").stdout
    for nm in short:
        if b" " + raw(nm) + b" (" not in exe_summary:
            fail("EXE summary does not show layer %r" % nm)
    info = run(["./hostile", "info"], tmp, what="EXE info").stdout
    for i, lb in enumerate(DSL_LABELS):
        if ("label %d: " % i).encode() + raw(lb) + b"\n" not in info:
            fail("EXE info does not show label %d %r:\n%s" % (i, lb, info))
    # Same numbers as the plain-named model: same initial weights, same outputs.
    plain = onnx.load(os.path.join(tmp, "plain.onnx"))
    run(["./hostile", "export-onnx", "-o", "exported.onnx"], tmp, what="EXE export-onnx")
    with open(os.path.join(tmp, "exported.onnx"), "rb") as f:
        data = f.read()
    exported = onnx.ModelProto()
    exported.ParseFromString(data)
    for nm in names[:1] + names[2:]:
        if raw(nm) not in data:
            fail("the exported ONNX lost layer name %r" % nm)
    # Labels: one per line in the metadata, a newline or backslash inside one escaped (\\n, \\\\);
    # compiling the exported file reads them back as they were.
    esc = lambda b: b.replace(b"\\", b"\\\\").replace(b"\n", b"\\n")
    if b"\n".join(esc(raw(lb)) for lb in DSL_LABELS) not in data:
        fail("the exported ONNX does not hold the labels one per line, escaped")
    run([SINTER, "compile", "exported.onnx", "-o", "back"], tmp, what="sinter compile exported.onnx")
    back = run(["./back", "info"], tmp, what="back info").stdout
    for i, lb in enumerate(DSL_LABELS):
        if ("label %d: " % i).encode() + raw(lb) + b"\n" not in back:
            fail("label %d %r did not survive export-onnx -> compile:\n%s" % (i, lb, back))
    pw = [numpy_helper.to_array(t) for t in plain.graph.initializer]
    hw = [numpy_helper.to_array(t) for t in exported.graph.initializer]
    if len(pw) != len(hw) or any(a.shape != b.shape or np.max(np.abs(a - b)) > 0 for a, b in zip(pw, hw)):
        fail("the hostile model's weights differ from the plain one's")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 3, 6, 6)).astype(np.float32)
    write_tensor(os.path.join(tmp, "x.pb"), x, "image")
    run(["./hostile", "run", "x.pb", "-o", "out"], tmp, what="EXE run")
    init = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in plain.graph.initializer}
    k4, bias = init["layer0/kernel"], init["layer0/bias"]
    bn = [init["layer1/" + s] for s in ("gamma", "beta", "moving_mean", "moving_variance")]
    h = conv2d(x.astype(np.float64), k4, bias, 1)
    h = (h - bn[2].reshape(1, -1, 1, 1)) / np.sqrt(bn[3].reshape(1, -1, 1, 1) + 1e-3) * bn[0].reshape(1, -1, 1, 1) + bn[1].reshape(1, -1, 1, 1)
    h = np.maximum(h, 0).mean(axis=(2, 3))
    dl = "layer%d" % (len(names) - 1)
    want = softmax(h @ init[dl + "/kernel"] + init[dl + "/bias"])
    err = close(read_tensor(os.path.join(tmp, "out", "output_0.pb")), want, 1e-5, "hostile.nn output")
    from PIL import Image
    Image.fromarray((rng.random((6, 6, 3)) * 255).astype(np.uint8)).save(os.path.join(tmp, "img.png"))
    pred = run(["./hostile", "predict", "--top", "4", "img.png"], tmp, what="EXE predict").stdout
    for lb in DSL_LABELS:
        if raw(lb) + b" (" not in pred:
            fail("predict does not show label %r: %s" % (lb, pred))
    no_pwned(tmp, os.getcwd())
    print("PASS DSL model 'int' with %d hostile layer names and labels: check, summary, compile, EXE summary/"
          "info/predict/export-onnx keep the names; output equals the plain model's in numpy (max error %.2g)" % (len(names), err))


def mode_import(tmp):
    rng = np.random.default_rng(3)
    names = [INJECT, INCLUDE_HOSTNAME, 'a"b\\c', "??/ ??= {x} }{", "tab\t\r\x01\x7f", "BADUTF8PLACEHOLDER1",
             "caf\u00e9 \u4e2d\u6587", LONG, "int", "model"]
    inits = [numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "input"),
             numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "relu"),
             numpy_helper.from_array(rng.standard_normal((4, 5)).astype(np.float32), "chw"),
             numpy_helper.from_array(rng.standard_normal(5).astype(np.float32), "*/ bias")]
    # Tensor names are DSL keywords, op names and symbols the writer uses.
    nodes = [helper.make_node("Conv", ["model", "input", "relu"], ["for"], name=names[0], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["for"], ["conv2d"], name=names[1]),
             helper.make_node("MaxPool", ["conv2d"], ["hwc"], name=names[2], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Sigmoid", ["hwc"], ["true"], name=names[4]),
             helper.make_node("GlobalAveragePool", ["true"], ["labels"], name=names[3]),
             helper.make_node("Flatten", ["labels"], ["flat"], name="flatten"),
             helper.make_node("Gemm", ["flat", "chw", "*/ bias"], ["g\n1"], name=names[5]),
             helper.make_node("Tanh", ["g\n1"], ["g\n2"], name=names[6]),
             helper.make_node("Relu", ["g\n2"], ["g\n3"], name=names[8]),
             helper.make_node("Softmax", ["g\n3"], ["output"], name=names[7], axis=1),
             helper.make_node("Sigmoid", ["output"], ["y"], name=names[9])]
    g = helper.make_graph(nodes, "model", [helper.make_tensor_value_info("model", TensorProto.FLOAT, ["N", 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    labels = [INJECT, 'q"\\{x}', "?\x3f/", "tab\t", "BADUTF8PLACEHOLDER2"]  # one per line in the metadata
    helper.set_model_props(m, {"labels": "\n".join(labels)})
    save(m, os.path.join(tmp, "m.onnx"))
    run([SINTER, "import", "m.onnx", "-o", "m.nn"], tmp, what="sinter import")
    run([SINTER, "check", "m.nn"], tmp, what="sinter check on the imported .nn")
    run([SINTER, "export-onnx", "m.nn", "--weights", "m.onnx", "-o", "back.onnx"], tmp, what="sinter export-onnx m.nn")
    back = onnx.ModelProto()
    with open(os.path.join(tmp, "back.onnx"), "rb") as f:
        back.ParseFromString(f.read())
    back_names = {n.name for n in back.graph.node}  # protobuf gives invalid UTF-8 back as bytes or str
    back_raw = {nm.encode("utf-8", "surrogateescape") if isinstance(nm, str) else nm for nm in back_names}
    for nm in names:
        if raw(nm) not in back_raw:
            fail("layer name %r did not survive import -> .nn -> export" % nm)
    run([SINTER, "compile", "m.nn", "--weights", "m.onnx", "--no-train", "--batch", "2", "-o", "nn_exe"], tmp,
        what="sinter compile m.nn")
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    write_tensor(os.path.join(tmp, "x.pb"), x, "model")
    run(["./nn_exe", "run", "x.pb", "-o", "out"], tmp, what="EXE run")
    info = run(["./nn_exe", "info"], tmp, what="EXE info").stdout
    for i, lb in enumerate(labels):
        if ("label %d: " % i).encode() + raw(lb) + b"\n" not in info:
            fail("label %d %r did not survive import -> .nn -> compile:\n%s" % (i, lb, info))
    w = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in inits}
    h = 1 / (1 + np.exp(-maxpool2(np.maximum(conv2d(x.astype(np.float64), w["input"], w["relu"], 1), 0))))
    h = h.mean(axis=(2, 3)) @ w["chw"] + w["*/ bias"]
    want = 1 / (1 + np.exp(-softmax(np.maximum(np.tanh(h), 0))))
    err = close(read_tensor(os.path.join(tmp, "out", "output_0.pb")), want, 1e-5, "imported model output")
    no_pwned(tmp, os.getcwd())
    print("PASS import of %d hostile node names, %d labels and keyword tensor names: the .nn checks, every name reads "
          "back byte for byte, and the compiled .nn equals numpy (max error %.2g)" % (len(names), len(labels), err))


with tempfile.TemporaryDirectory(prefix="sinter-names-") as tmp:
    {"onnx": mode_onnx, "prefixes": mode_prefixes, "dsl": mode_dsl, "import": mode_import}[MODE](tmp)
