#!/usr/bin/env bash
# examples/embed: install this build into a fresh prefix, build examples/embed against it
# (plain CMake, no sinter source tree on the include path), and check that its classify
# program prints the same probabilities as the executable sinter wrote from the same
# generated C (EXE predict) on a few images.
# usage: check_embed.sh BUILD_DIR SOURCE_DIR WORK_DIR
set -euo pipefail
B=$1 SRC=$2 W=$3
rm -rf "$W" && mkdir -p "$W"
cmake --install "$B" --prefix "$W/prefix" >/dev/null
cmake -S "$SRC/examples/embed" -B "$W/build" -DSINTER_PREFIX="$W/prefix" "-DMODEL_ARGS=--set;size=32" >/dev/null
cmake --build "$W/build" >/dev/null
"$W/prefix/bin/sinter" synth-data -o "$W/img" --per-class 1 --size 48 >/dev/null
mapfile -t IMGS < <(find "$W/img" -name '*.png' | sort)
"$W/build/classify" "${IMGS[@]}" >"$W/classify.txt"
"$W/build/gen/simple_cnn" predict --json --top 100 "${IMGS[@]}" >"$W/predict.json"
/usr/bin/python3 - "$W/classify.txt" "$W/predict.json" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
preds = json.load(open(sys.argv[2]))
assert len(lines) == len(preds) == 4, (len(lines), len(preds))
worst = 0.0
for line, p in zip(lines, preds):
    file, rest = line.split(": ", 1)
    assert file == p["file"], (file, p["file"])
    ours = {}
    for kv in rest.replace("Viral Pneumonia", "Viral_Pneumonia").split():
        k, v = kv.split("=")
        ours[k.replace("_", " ") if k == "Viral_Pneumonia" else k] = float(v)
    theirs = {e["label"]: e["confidence"] for e in p["predictions"]}
    assert set(ours) == set(theirs) == {"COVID", "Normal", "Viral Pneumonia", "Lung_Opacity"}, (ours, theirs)
    assert abs(sum(ours.values()) - 1) < 1e-5, ours
    worst = max(worst, max(abs(ours[k] - theirs[k]) for k in ours))
print("classify == predict on %d images, max |diff| %.1e" % (len(lines), worst))
sys.exit(0 if worst <= 2e-6 else "FAIL: classify differs from predict")
PY
