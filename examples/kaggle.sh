#!/usr/bin/env bash
# The chest X-ray notebook on the Kaggle COVID-19 Radiography Database, with the three models
# and their recipes (the train { } section of each models/*.nn): compile, train, evaluate on
# the held-out test split, classify one image per class. See examples/kaggle.md.
#
# usage: DATA=/path/to/COVID-19_Radiography_Dataset examples/kaggle.sh
# Environment (defaults = the notebook): DATA (required), MODELS ("simple_cnn deep_cnn
# resnet50v2"), SIZE (224), EPOCHS (the recipe's, 50), BATCH (the recipe's, 32), OUT (kaggle-out),
# BUILD (build). The tests run it on tiny synthetic data with SIZE=32 EPOCHS=1 BATCH=8.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${DATA:?set DATA to the dataset folder (DATA/<Class>/images/*.png)}"
BUILD=${BUILD:-build} OUT=${OUT:-kaggle-out} SIZE=${SIZE:-224}
MODELS=${MODELS:-simple_cnn deep_cnn resnet50v2}
mkdir -p "$OUT"
for m in $MODELS; do
  exe="$OUT/$m"
  set -x
  "$BUILD/sinter" compile "models/$m.nn" --set size="$SIZE" ${BATCH:+--train-batch "$BATCH"} -o "$exe"
  "$exe" train --data "$DATA" --out "$OUT/run_$m" ${EPOCHS:+--epochs "$EPOCHS"} ${BATCH:+--batch "$BATCH"}
  mkdir -p "$OUT/eval_$m"
  "$exe" evaluate --data "$DATA" --split test --weights "$OUT/run_$m/best.onnx" --out "$OUT/eval_$m"
  "$exe" export-onnx --weights "$OUT/run_$m/best.onnx" -o "$OUT/$m.onnx"
  { set +x; } 2>/dev/null
  mapfile -t imgs < <(for c in "$DATA"/*/; do find "$c" -name '*.png' | sort | head -1; done)
  ( set -x; "$exe" predict --weights "$OUT/run_$m/best.onnx" --top 2 "${imgs[@]}" )
done
