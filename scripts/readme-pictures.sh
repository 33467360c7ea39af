#!/usr/bin/env bash
# The README's pictures, made by the project from the SYNTHETIC data of `make demo`:
# docs/images/gradcam-overlay.png (EXE explain) and docs/images/web-page.png (EXE serve's page
# in headless Chromium, after an upload). Run after `make demo` (OUT=demo-out by default).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD=${BUILD:-build}
OUT=${OUT:-demo-out}
die() { printf 'readme-pictures: error: %s\n' "$*" >&2; exit 1; }
[[ -f $OUT/run/best.onnx ]] || die "$OUT/run/best.onnx not found: run 'make demo' first"
IMAGE=$(find "$OUT/data/COVID" -name '*.png' | sort | head -1)
[[ -n $IMAGE ]] || die "no synthetic images in $OUT/data"
mkdir -p docs/images "$OUT/pictures"
# The trained weights embedded, so the page's server needs no flags.
"$BUILD/sinter" compile models/simple_cnn.nn --set size=64 --train-batch 16 --weights "$OUT/run/best.onnx" \
  -o "$OUT/pictures/cnn"
"$OUT/pictures/cnn" explain "$IMAGE" -o "$OUT/pictures"
cp "$(find "$OUT/pictures" -name '*.gradcam.png' | head -1)" docs/images/gradcam-overlay.png
node tests/serve/page.js "$OUT/pictures/cnn" "$IMAGE" "$ROOT/docs/images/web-page.png" "$ROOT/.deps/puppeteer/node_modules" \
  "$(command -v chromium)"
ls -la docs/images/gradcam-overlay.png docs/images/web-page.png
