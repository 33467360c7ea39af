#!/usr/bin/env python3
"""The generated tables in the docs match their generators:
docs/ops.md is `sinter ops --markdown`; the table between the markers of docs/onnx.md is
`sinter ops --types --markdown`.  usage: docs_check.py SINTER SOURCE_DIR [--write]"""
import subprocess
import sys

SINTER, SRC = sys.argv[1], sys.argv[2]
WRITE = "--write" in sys.argv[3:]
BEGIN, END = "<!-- types table: begin -->\n", "<!-- types table: end -->\n"


def gen(*args):
    return subprocess.run([SINTER, "ops", *args], check=True, capture_output=True, text=True).stdout


bad = []
ops_md = f"{SRC}/docs/ops.md"
want = gen("--markdown")
with open(ops_md) as f:
    have = f.read()
if have != want:
    bad.append("docs/ops.md differs from `sinter ops --markdown` (cmake --build build --target ops-table)")

onnx_md = f"{SRC}/docs/onnx.md"
with open(onnx_md) as f:
    text = f.read()
if BEGIN not in text or END not in text:
    bad.append(f"docs/onnx.md has no '{BEGIN.strip()}' ... '{END.strip()}' section")
else:
    head, rest = text.split(BEGIN, 1)
    table, tail = rest.split(END, 1)
    want = gen("--types", "--markdown")
    if table != want:
        if WRITE:
            with open(onnx_md, "w") as f:
                f.write(head + BEGIN + want + END + tail)
            print("docs/onnx.md: types table rewritten")
        else:
            bad.append("docs/onnx.md's types table differs from `sinter ops --types --markdown` "
                       "(python3 tests/dtypes/docs_check.py build/sinter . --write)")
for b in bad:
    print("FAIL " + b)
if not bad:
    print("PASS docs tables")
sys.exit(1 if bad else 0)
