"""Generated C names every struct field it initialises (`.field = value`), so reordering a
runtime struct cannot silently shift generated data. Compiles the DSL models and a set of ONNX
models (the shared cases and ones built here, one per kernel descriptor the emitters write)
with --emit-c and scans each .c and .h for `snt_* name = {` and `(const snt_*){`: every element
of a struct's initializer must be designated, nested struct fields too (`.act = {.kind = ...}`);
arrays of scalars are fine. The struct types and their fields come from the runtime headers.

    check_designated.py SINTER SOURCE_DIR SHARED_DIR WORK_DIR"""
import glob
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnx
from onnx import TensorProto as TP

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "onnx"))
from checklib import check, finish, fresh_dir  # noqa: E402
from ortcompare import Model  # noqa: E402

# Positional initializers tolerated nowhere.
ALLOWED = set()

# (type, op) pairs the models must produce: every emitter of a struct initializer is reached,
# so a model that stops reaching one is noticed rather than passing unchecked.
COVER = {
    ("snt_k_pool_desc", "maxpool"), ("snt_k_pool_desc", "avgpool"), ("snt_k_pool_desc", "pool_grad"),
    ("snt_k_gemm_desc", "dense"), ("snt_k_gemm_desc", "dense_grad_input"), ("snt_k_gemm_desc", "dense_grad_kernel"),
    ("snt_k_gemm_desc", "gemm"), ("snt_k_gemm_desc", "gemm_grad_input"),
    ("snt_k_conv_desc", "conv2d"), ("snt_k_conv_desc", "conv2d_grad_input"), ("snt_k_conv_desc", "conv2d_grad_kernel"),
    ("snt_k_conv_tap", "conv2d"), ("snt_k_pool_desc", "conv2d"), ("snt_k_conv_desc", "conv_transpose"), ("snt_k_conv_desc", "conv_expand_dw"),
    ("snt_k_conv_desc", "conv_integer"), ("snt_k_conv_desc", "qlinear_conv"), ("snt_k_zp", "conv_integer"),
    ("snt_k_zp", "qlinear_conv"), ("snt_k_requant", "qlinear_conv"), ("snt_k_matmul_int", "matmul_integer"),
    ("snt_k_matmul_int", "qlinear_matmul"), ("snt_k_zp", "matmul_integer"), ("snt_k_requant", "qlinear_matmul"),
    ("snt_k_resize_desc", "resize"), ("snt_k_act", "sigmoid"), ("snt_k_act", "hard_swish"),
    ("snt_k_col2im", "col2im"), ("snt_k_einsum", "einsum"), ("snt_k_roi_align", "roi_align"),
    ("snt_k_grid_sample", "grid_sample"), ("snt_k_lp_pool", "lp_pool"), ("snt_k_quant", "quantize_linear"),
    ("snt_k_quant", "dequantize_linear"), ("snt_k_deform_conv", "deform_conv"), ("snt_k_nll", "nll_loss"),
    ("snt_k_nll", "softmax_ce_loss"), ("snt_model_info", None), ("snt_model_io", None), ("snt_model_node", None),
    ("snt_model_param", None), ("snt_train_info", None), ("snt_train_param", None), ("snt_train_stat", None),
    ("snt_explain_info", None), ("snt_explain_layer_info", None), ("snt_explain_param", None),
}

# ---- C text -----------------------------------------------------------------------------------


def blank_c(text):
    """text with comments, string and character literals' contents and preprocessor lines blanked
    (newlines kept), so offsets and line numbers stay those of text."""
    out, i, n = [], 0, len(text)
    pat = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|^[ \t]*#(?:\\\n|[^\n])*',
                     re.S | re.M)
    for m in pat.finditer(text):
        out.append(text[i:m.start()])
        s = m.group(0)
        if s[0] in "\"'":
            out.append(s[0] + re.sub(r"[^\n]", " ", s[1:-1]) + s[0])
        else:
            out.append(re.sub(r"[^\n]", " ", s))
        i = m.end()
    out.append(text[i:n])
    return "".join(out)


def match_close(text, i):
    """The index of the bracket closing the one at text[i]."""
    pairs, depth = {"{": "}", "(": ")", "[": "]"}, []
    for j in range(i, len(text)):
        c = text[j]
        if c in pairs:
            depth.append(pairs[c])
        elif c in ")]}":
            if not depth or depth.pop() != c:
                raise ValueError("unbalanced brackets at offset %d" % j)
            if not depth:
                return j
    raise ValueError("unclosed bracket at offset %d" % i)


def split_top(text, a, b, sep):
    """The (start, end) spans of text[a:b] split at sep outside brackets, blank pieces dropped."""
    spans, depth, s = [], 0, a
    for j in range(a, b):
        c = text[j]
        if c in "{([":
            depth += 1
        elif c in "})]":
            depth -= 1
        elif c == sep and depth == 0:
            spans.append((s, j))
            s = j + 1
    spans.append((s, b))
    return [(x, y) for x, y in spans if text[x:y].strip()]


# ---- the runtime's struct types ----------------------------------------------------------------


class Types:
    """Struct typedefs (name -> {field: (base type, pointer, array)}) and the scalar ones (enums,
    function pointers), read from headers."""

    def __init__(self, headers):
        self.structs, self.tags, self.scalars, self.alias = {}, {}, set(), {}
        for h in headers:
            self._read(blank_c(open(h, encoding="utf-8").read()))

    def _read(self, t):
        for m in re.finditer(r"\b(struct|union|enum)\s+(\w+)?\s*\{", t):
            close = match_close(t, m.end() - 1)
            typedef = re.search(r"\btypedef\s+$", t[:m.start()]) is not None
            names = re.match(r"\s*([\w\s,*]*);", t[close + 1:])
            names = [x.strip() for x in names.group(1).split(",")] if names and typedef else []
            if m.group(1) == "enum":
                self.scalars.update(x for x in names if re.fullmatch(r"\w+", x))
                continue
            fields = self._body(t, m.end(), close)
            if m.group(2):
                self.tags[m.group(2)] = fields
            for x in names:
                if re.fullmatch(r"\w+", x):
                    self.structs[x] = fields
        for m in re.finditer(r"\btypedef\s+(struct|union|enum)\s+(\w+)\s+(\w+)\s*;", t):
            if m.group(1) == "enum":
                self.scalars.add(m.group(3))
            else:
                self.alias[m.group(3)] = m.group(2)
        for m in re.finditer(r"\btypedef\b[^;{}]*?\(\s*\*\s*(\w+)\s*\)\s*\(", t):
            self.scalars.add(m.group(1))
        for m in re.finditer(r"\btypedef\s+(\w+)\s+(\w+)\s*;", t):
            if m.group(1) not in ("struct", "union", "enum"):
                self.alias[m.group(2)] = m.group(1)

    def _body(self, t, a, b):
        fields = {}
        for x, y in split_top(t, a, b, ";"):
            d = t[x:y].strip()
            m = re.match(r"(struct|union|enum)\s*(\w+)?\s*\{", d)
            if m:
                close = match_close(d, m.end() - 1)
                inner = {} if m.group(1) == "enum" else self._body(d, m.end(), close)
                rest = d[close + 1:].strip()
                if not rest:
                    fields.update(inner)  # an anonymous member: its fields are the parent's
                for r in filter(None, (s.strip() for s in rest.split(","))):
                    nm = re.search(r"(\**)\s*(\w+)\s*(\[.*)?$", r)
                    base = inner if m.group(1) != "enum" else "int"
                    fields[nm.group(2)] = (base, bool(nm.group(1)), bool(nm.group(3)))
                continue
            fp = re.search(r"\(\s*\*\s*(\w+)\s*\)", d)
            if fp:
                fields[fp.group(1)] = ("void", True, False)
                continue
            d = re.sub(r":\s*\d+", "", d)
            parts = d.split(",")
            first = re.match(r"(.*?)([\s*]+)(\w+)\s*((?:\[[^\]]*\]\s*)*)$", parts[0].strip())
            if not first:
                continue
            base = re.findall(r"\w+", first.group(1))[-1]
            fields[first.group(3)] = (base, "*" in first.group(2), bool(first.group(4)))
            for p in parts[1:]:
                nm = re.match(r"\s*(\**)\s*(\w+)\s*((?:\[[^\]]*\]\s*)*)$", p)
                if nm:
                    fields[nm.group(2)] = (base, bool(nm.group(1)), bool(nm.group(3)))
        return fields

    def fields(self, name):
        """A struct type's fields (a dict), None for an unknown struct, False for a scalar type."""
        seen = set()
        while isinstance(name, str) and name not in seen:
            seen.add(name)
            if name in self.scalars:
                return False
            if name in self.structs:
                return self.structs[name]
            if name in self.tags:
                return self.tags[name]
            if name not in self.alias:
                break
            name = self.alias[name]
        if isinstance(name, dict):
            return name
        return None if isinstance(name, str) and name.startswith("snt_") else False


# ---- the check --------------------------------------------------------------------------------

DECL = re.compile(r"\b(?:struct\s+)?(snt_\w+)\s+(?:const\s+)?(\w+)\s*((?:\[[^\]]*\]\s*)*)=\s*\{")
LITERAL = re.compile(r"\(\s*(?:const\s+)?(?:struct\s+)?(snt_\w+)\s*(?:const\s*)?(\[[^\]]*\])?\s*\)\s*\{")


def check_struct(text, types, fields, tname, o, problems):
    """Checks the struct initializer whose `{` is at text[o]; appends (offset, message)."""
    close = match_close(text, o)
    elems = split_top(text, o + 1, close, ",")
    if len(elems) == 1 and text[elems[0][0]:elems[0][1]].strip() == "0":
        return  # the universal zero initializer names no field
    positional = []
    for a, b in elems:
        s = text[a:b]
        m = re.match(r"\s*\.\s*(\w+)\s*((?:\[[^\]]*\]|\.\s*\w+)*)\s*=\s*", s)
        if not m:
            positional.append((a, s.strip()))
            continue
        v = a + m.end()
        if text[v] != "{":
            continue  # a scalar value, or a compound literal the scan meets on its own
        f = fields.get(m.group(1)) if isinstance(fields, dict) else None
        path = "%s.%s" % (tname, m.group(1))
        if f is None:  # an unknown field: a nested `{` must open designated or empty
            if not re.match(r"\{\s*[.}]", text[v:]):
                problems.append((v, "%s: nested initializer of an unknown field is not designated" % path))
            continue
        base, ptr, arr = f
        sub = base if isinstance(base, dict) else (False if ptr else types.fields(base))
        if sub is False:
            continue  # an array of scalars
        chained = m.group(2).strip()
        if arr and not chained.startswith("["):
            check_array(text, types, sub, path, v, problems)
        else:
            check_struct(text, types, sub, path, v, problems)
    if positional:
        problems.append((positional[0][0], "%s: %d of %d elements positional, the first '%s'"
                         % (tname, len(positional), len(elems), positional[0][1][:40])))


def check_array(text, types, fields, tname, o, problems):
    """An array of structs: each element a braced struct initializer (`[i] = {` too)."""
    close = match_close(text, o)
    for a, b in split_top(text, o + 1, close, ","):
        m = re.match(r"\s*(?:\[[^\]]*\]\s*=\s*)?\{", text[a:b])
        if not m:
            problems.append((a, "%s[]: element '%s' is not a braced struct" % (tname, text[a:b].strip()[:40])))
            continue
        check_struct(text, types, fields, tname + "[]", a + m.end() - 1, problems)


def op_context(raw):
    """Per line (0-based) the op whose code it is: the `/* op 'name' */` above it in a function,
    or in kernel_() the op of the node its `case N:` names; None elsewhere."""
    lines = raw.split("\n")
    table = re.search(r"static const snt_model_node \w+_nodes\[\d+\] = \{\n(.*?)\n\};", raw, re.S)
    node_ops = re.findall(r'\.op = "(\w+)"', table.group(1)) if table else []
    ctx, cur, in_kernel = [], None, False
    for ln in lines:
        m = re.match(r"\s*/\* (\w+) '.*' \*/$", ln)
        if m:
            cur = m.group(1)
        if re.match(r"static const char \*kernel_\(", ln):
            in_kernel = True
        c = re.match(r"\s*case (\d+):", ln) if in_kernel else None
        ctx.append(node_ops[int(c.group(1))] if c and int(c.group(1)) < len(node_ops) else cur)
        if ln.startswith("}"):
            cur, in_kernel = None, False
    return ctx


def scan(raw, types):
    """(problems as (line, type, op, message), the (type, op) pairs seen) of one C file."""
    text = blank_c(raw)
    ctx = op_context(raw)
    line_of = lambda off: text.count("\n", 0, off)
    found, seen = [], set()
    for m in list(DECL.finditer(text)) + list(LITERAL.finditer(text)):
        tname = m.group(1)
        fields = types.fields(tname)
        if fields is False:
            continue  # an enum or function pointer type: a scalar array
        array = bool(m.group(3) if m.re is DECL else m.group(2))
        op = ctx[line_of(m.start())]
        seen.add((tname, op))
        probs = []
        (check_array if array else check_struct)(text, types, fields, tname, m.end() - 1, probs)
        found += [(line_of(off), tname, op, msg) for off, msg in probs]
    return found, seen


def self_test(types):
    """The check on known text: what must be flagged is, what is designated is not."""
    bad = """
static const snt_k_pool_desc d = {2, SNT_K_POOL_MAX, 0};
snt_k_conv_desc c = {.spatial = 2, .act = {SNT_K_ACT_RELU, 0}};
void f(void) { g(&(const snt_k_gemm_desc){1, 2, 3}, (snt_k_zp){p, 1}); }
static const snt_model_io io[2] = {{.name = "a"}, {"b", 1}};
snt_k_conv_desc e = {.spatial = 2, .batch = n, 4};
"""
    good = """
static const snt_k_pool_desc d = {.spatial = 2, .in = {32, 32, 0}, .kind = SNT_K_POOL_MAX};
snt_k_conv_desc c = {.spatial = 2, .act = {.kind = SNT_K_ACT_RELU, .alpha = (float)0x0p+0}};
void f(void) { g(&(const snt_k_gemm_desc){.m = 1, .n = (2), .k = 3}, (snt_k_zp){.p = p, .n = 1}); }
static const snt_model_io io[2] = {{.name = "a, {1, 2}"}, {.name = "b", .dims = {1, 2}}};
static const snt_k_gs_mode modes[] = {SNT_K_GS_LINEAR, SNT_K_GS_CUBIC};
struct m m0_ = {0}; snt_k_act z = {0};
int64_t dims[] = {1, 2}; static const int perm[] = {0, 1};
"""
    b, _ = scan(bad, types)
    g, _ = scan(good, types)
    want = {(1, "snt_k_pool_desc"), (2, "snt_k_conv_desc.act"), (3, "snt_k_gemm_desc"), (3, "snt_k_zp"),
            (4, "snt_model_io[]"), (5, "snt_k_conv_desc")}
    got = {(ln, msg.split(":")[0]) for ln, _, _, msg in b}
    check(got == want and not g, "the check flags positional initializers (%d) and passes designated ones"
          % len(b) + ("" if got == want and not g else ": got %s, flagged in good: %s" % (sorted(got), g)))


# ---- the models -------------------------------------------------------------------------------


def onnx_models(work):
    """ONNX files reaching the emitters the shared cases do not: (name, path, extra options)."""
    rng = np.random.default_rng(7)
    f32 = lambda *s: rng.standard_normal(s).astype(np.float32)
    u8 = lambda *s: rng.integers(0, 256, s, dtype=np.uint8)
    sc = lambda v, t=np.float32: np.array(v, t)
    i64 = lambda *v: np.array(v, np.int64)
    out = []

    def save(name, m, inputs, *opts):
        path = os.path.join(work, name + ".onnx")
        onnx.save(m.proto(name, inputs), path)
        out.append((name, path, list(opts)))

    X = ("x", f32(2, 4, 7, 8), TP.FLOAT)
    m = Model(19, ir_version=9)  # float kernels with descriptors
    m.add("Col2Im", [f32(2, 12, 16), i64(5, 6), i64(2, 3)], strides=[1, 1])
    m.add("Einsum", [f32(3, 4), f32(4, 5)], equation="ij,jk->ik")
    m.add("GridSample", ["x", rng.uniform(-1, 1, (2, 3, 5, 2)).astype(np.float32)], mode="bilinear")
    m.add("Resize", ["x", "", np.array([1, 1, 0.5, 1.5], np.float32)], mode="cubic", exclude_outside=1)
    m.add("Resize", ["x", np.array([0, 0, 0.2, 0.1, 1, 1, 0.8, 0.9], np.float32), "", i64(2, 4, 5, 6)],
          mode="linear", coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=1.5)
    m.add("RoiAlign", ["x", np.array([[0, 0, 6, 4], [1.5, 0.5, 3.2, 4.9]], np.float32), i64(0, 1)],
          output_height=3, output_width=2)
    m.add("LpPool", ["x"], kernel_shape=[2, 3], p=2)
    m.add("DeformConv", ["x", f32(6, 4, 3, 3), rng.uniform(-2, 2, (2, 18, 5, 6)).astype(np.float32), f32(6),
                         rng.uniform(0, 1, (2, 9, 5, 6)).astype(np.float32)])
    m.add("Sigmoid", ["x"])
    m.add("HardSwish", ["x"])
    m.add("QuantizeLinear", ["x", sc(0.37), sc(128, np.uint8)])
    m.add("DequantizeLinear", ["q", sc(0.1), sc(100, np.uint8)])
    m.add("NegativeLogLikelihoodLoss", ["l", "t"], reduction="mean")
    m.add("SoftmaxCrossEntropyLoss", ["l", "t"], reduction="sum")
    save("float_ops", m, [X, ("q", u8(2, 3), TP.UINT8), ("l", f32(3, 5), TP.FLOAT),
                          ("t", rng.integers(0, 5, 3).astype(np.int64), TP.INT64)])
    m = Model(10)  # integer convolutions and products
    m.add("ConvInteger", ["xu", u8(6, 4, 3, 3), sc(100, np.uint8), sc(7, np.uint8)], pads=[1, 1, 1, 1])
    m.add("QLinearConv", ["xu", sc(0.05), sc(128, np.uint8), u8(6, 4, 3, 3), sc(0.02), sc(120, np.uint8),
                          sc(0.7), sc(110, np.uint8)], pads=[1, 1, 1, 1])
    m.add("MatMulInteger", ["au", u8(7, 4), sc(5, np.uint8), u8(4)])
    m.add("QLinearMatMul", ["au", sc(0.1), sc(100, np.uint8), u8(7, 4), sc(0.05), sc(90, np.uint8),
                            sc(0.8), sc(120, np.uint8)])
    save("integer_ops", m, [("xu", u8(2, 4, 9, 11), TP.UINT8), ("au", u8(2, 5, 7), TP.UINT8)])
    m = Model(13)  # a 1x1 conv read only by a depthwise one, on a map large enough to fuse them
    (y,) = m.add("Conv", ["x", f32(16, 4, 1, 1), f32(16)])
    m.outs.remove(y)
    m.add("Conv", [y, f32(16, 1, 3, 3), f32(16)], group=16, pads=[1, 1, 1, 1])
    save("expand_dw", m, [("x", f32(1, 4, 128, 128), TP.FLOAT)])
    for ta in (0, 1):  # classifiers for --explain: the gradient goes through their Gemm, A transposed or not
        m = Model(13)
        y = "x"
        head = [("Gemm", [f32(3, 8), f32(3)], {"transB": 1})] if not ta else \
            [("Transpose", [], {"perm": [1, 0]}), ("Gemm", [f32(8, 3), f32(3)], {"transA": 1})]
        for op, ins, attrs in [("Conv", [f32(8, 4, 3, 3), f32(8)], {}), ("Relu", [], {}), ("GlobalAveragePool", [], {}),
                               ("Flatten", [], {})] + head:
            (y,) = m.add(op, [y, *ins], **attrs)
            m.outs.remove(y)
        m.add("Softmax", [y])
        save("classifier%s" % ("_ta" if ta else ""), m, [("x", f32(1, 4, 12, 12), TP.FLOAT)], "--explain")
    return out


def compile_one(sinter, src, out_dir, opts):
    fresh_dir(out_dir)
    p = subprocess.run([sinter, "compile", src, *opts, "--emit-c", out_dir, "-o", os.path.join(out_dir, "exe")],
                       capture_output=True, text=True)
    return p


def main():
    sinter, source, shared, work = sys.argv[1:5]
    headers = sorted(glob.glob(os.path.join(source, "include", "sinter", "*.h")) +
                     glob.glob(os.path.join(source, "runtime", "**", "*.h"), recursive=True))
    types = Types(headers)
    check(all(isinstance(types.fields(t), dict) for t in ("snt_k_conv_desc", "snt_k_act", "snt_model_io")),
          "the struct types are read from %d headers" % len(headers))
    self_test(types)
    fresh_dir(work)
    models = os.path.join(source, "models")
    jobs = [("simple_cnn", os.path.join(models, "simple_cnn.nn"), ["--set", "size=32"]),
            ("deep_cnn", os.path.join(models, "deep_cnn.nn"), ["--set", "size=32"]),
            ("resnet50v2", os.path.join(models, "resnet50v2.nn"), ["--set", "size=32", "--no-train"])]
    for case in ("averagepool_2d_pads_count_include_pad", "averagepool_3d_default", "maxpool_2d_dilations",
                 "maxpool_with_argmax_2d_precomputed_pads", "gemm_all_attributes", "gemm_default_no_bias",
                 "convtranspose_dilations", "convtranspose_1d"):
        jobs.append((case, os.path.join(shared, "onnx-tests", "node", "test_" + case, "model.onnx"), []))
    jobs += onnx_models(work)
    with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2))) as pool:
        procs = list(pool.map(lambda j: compile_one(sinter, j[1], os.path.join(work, j[0]), j[2]), jobs))
    seen, allowed, bad, bad_pairs = set(), 0, [], {}
    for (name, _, _), p in zip(jobs, procs):
        if not check(p.returncode == 0, "compile %s" % name, quiet=True):
            print("FAIL compile %s:\n%s" % (name, p.stderr[-2000:]))
            continue
        files = sorted(glob.glob(os.path.join(work, name, "*.c")) + glob.glob(os.path.join(work, name, "*.h")))
        for f in files:
            found, s = scan(open(f, encoding="utf-8").read(), types)
            seen |= s
            for ln, tname, op, msg in found:
                if (tname, op) in ALLOWED:
                    allowed += 1
                else:
                    bad.append("%s:%d (%s): %s" % (os.path.relpath(f, work), ln + 1, op or "-", msg))
                    bad_pairs[(tname, op or "-")] = bad_pairs.get((tname, op or "-"), 0) + 1
    for b in bad[:40]:
        print("  " + b)
    for (tname, op), k in sorted(bad_pairs.items()):
        print("  %d positional %s in op %s's code" % (k, tname, op))
    check(not bad, "every struct initializer in the generated C of %d models is designated (%d not%s)"
          % (len(jobs), len(bad), ", first 40 above" if len(bad) > 40 else ""))
    if allowed:
        print("note: %d positional initializers left in conv2d.c's code (converted separately)" % allowed)
    missing = sorted(COVER - seen, key=str)
    check(not missing, "the models reach every emitter of a struct initializer" +
          ("" if not missing else ": not reached %s" % missing))
    finish("PASS check_designated")


if __name__ == "__main__":
    main()
