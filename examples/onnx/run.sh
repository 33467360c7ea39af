#!/usr/bin/env bash
# Bring your own ONNX CNN: export a small PyTorch classifier that expects ImageNet-normalised
# input, compile it with sinter, classify an image, and check against ONNX Runtime.
# usage: examples/onnx/run.sh [WORK_DIR]   (from the repository root, after make; env BUILD, ORT_NODE_MODULES)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BUILD=${BUILD:-build}
W=${1:-/tmp/sinter-onnx-example}
export ORT_NODE_MODULES=${ORT_NODE_MODULES:-$PWD/.deps/ort/node_modules}
ORT_RUN=${ORT_RUN:-$PWD/../shared/reference/ort_run.js}
mkdir -p "$W"
set -x
/usr/bin/python3 examples/onnx/make_model.py "$W/tiny.onnx" --size 32
"$BUILD/sinter" compile "$W/tiny.onnx" -o "$W/tiny" --labels cat,dog,bird \
  --scale 0.00392156862745098 --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225
"$W/tiny" info
"$BUILD/sinter" synth-data -o "$W/img" --per-class 1 --size 32
"$W/tiny" predict --top 3 "$W/img/Normal/images/Normal-1.png"
/usr/bin/python3 examples/onnx/compare_ort.py "$W/tiny.onnx" "$W/tiny" "$W/img/Normal/images/Normal-1.png" \
  cat,dog,bird --ort-run "$ORT_RUN" --work "$W/ort"
