#!/usr/bin/env bash
# The sinter demo, end to end: data -> compile -> train -> evaluate -> predict -> ONNX -> ONNX Runtime.
#
# Usage: scripts/demo.sh            (make demo: the built-in SYNTHETIC data)
#        DATA=DIR scripts/demo.sh   (make demo DATA=DIR: a real class-folder dataset)
# Environment:
#   BUILD       the build folder holding sinter (default build)
#   DATA        a dataset folder (DIR/<Class>/*.png or DIR/<Class>/images/*.png); default: synthetic
#   OUT         where everything goes (default demo-out; emptied first)
#   SIZE        the model's input size (default 64)
#   EPOCHS      training epochs (default 30)
#   LR          Adam's learning rate (default 3e-4; the recipe's 1e-3 makes the validation loss
#               of this small model jump between epochs, and the best checkpoint less good)
#   MIN_ACC     the demo fails below this test accuracy on the synthetic data (default 0.8)
#   ORT_NODE_MODULES  node_modules holding onnxruntime-node (default .deps/ort/node_modules)
# Exit status: 0 when every step worked (and, on the synthetic data, test accuracy >= MIN_ACC).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD=${BUILD:-build}
OUT=${OUT:-demo-out}
SIZE=${SIZE:-64}
EPOCHS=${EPOCHS:-30}
LR=${LR:-3e-4}
BATCH=${BATCH:-16}
MIN_ACC=${MIN_ACC:-0.8}
ORT_NODE_MODULES=${ORT_NODE_MODULES:-$ROOT/.deps/ort/node_modules}
SINTER="$BUILD/sinter"
PY=/usr/bin/python3

die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }
[[ -x $SINTER ]] || die "$SINTER not found: run 'make' first (or set BUILD)"
[[ -d $ORT_NODE_MODULES/onnxruntime-node ]] || die "onnxruntime-node not in $ORT_NODE_MODULES: run 'make deps'"
command -v node >/dev/null || die "node not found: run 'make deps'"

T_START=$(date +%s.%N)
STEP_NO=0
STEP_T=0
step() { # step "title": prints the previous step's time and the next title
  end_step
  STEP_NO=$((STEP_NO + 1))
  STEP_T=$(date +%s.%N)
  printf '\n==== step %d: %s ====\n' "$STEP_NO" "$1"
}
end_step() {
  if [[ $STEP_NO -gt 0 ]]; then
    printf -- '---- step %d took %.1f s\n' "$STEP_NO" "$(awk -v a="$(date +%s.%N)" -v b="$STEP_T" 'BEGIN{print a-b}')"
  fi
}
run() { printf '$ %s\n' "$*"; "$@"; }

rm -rf "$OUT"
mkdir -p "$OUT"
EXE="$OUT/simple_cnn$SIZE"
RUN="$OUT/run"

if [[ -z ${DATA:-} ]]; then
  SYNTHETIC=1
  DATA="$OUT/data"
  step "generate the built-in data (SYNTHETIC: made by sinter, not real X-rays)"
  echo "NOTE: this data is SYNTHETIC. It shows that the pipeline works; accuracy on it says"
  echo "      nothing about chest X-rays. Use 'make demo DATA=DIR' for a real dataset."
  run "$SINTER" synth-data -o "$DATA" --per-class 150 --size 128 --seed 1
else
  SYNTHETIC=0
  [[ -d $DATA ]] || die "DATA=$DATA is not a folder"
  step "use the dataset in $DATA (real data, no accuracy threshold)"
  echo "data: $DATA"
fi

step "compile models/simple_cnn.nn at ${SIZE}x${SIZE} (inference, eval and training-step C)"
echo "\$ $SINTER summary models/simple_cnn.nn --set size=$SIZE | tail -4"
"$SINTER" summary models/simple_cnn.nn --set size="$SIZE" | tail -4
run "$SINTER" compile models/simple_cnn.nn --set size="$SIZE" --train-batch "$BATCH" -o "$EXE"

step "look at the data: counts per split, class weights, contact sheet"
mkdir -p "$OUT/data-report" # data --out does not create its folder
run "$EXE" data --data "$DATA" --out "$OUT/data-report" --split 0.7,0.1,0.2 --seed 42

step "train ($EPOCHS epochs, batch $BATCH, Adam lr $LR, class weights, augmentation; best.onnx = lowest val_loss)"
run "$EXE" train --data "$DATA" --out "$RUN" --epochs "$EPOCHS" --batch "$BATCH" --lr "$LR" \
  --bn-momentum 0.9 --patience 100 --split 0.7,0.1,0.2 --seed 42

step "evaluate the best checkpoint on the held-out test split"
mkdir -p "$OUT/eval" # evaluate --out does not create its folder
run "$EXE" evaluate --data "$DATA" --split test --weights "$RUN/best.onnx" --out "$OUT/eval" | tee "$OUT/eval.txt"
ACC=$(sed -n 's/^accuracy: \([0-9.]*\).*/\1/p' "$OUT/eval.txt" | head -1)
[[ -n $ACC ]] || die "evaluate printed no accuracy"
if [[ $SYNTHETIC == 1 ]]; then
  if awk -v a="$ACC" -v m="$MIN_ACC" 'BEGIN{exit !(a >= m)}'; then
    echo "test accuracy $ACC >= $MIN_ACC on the SYNTHETIC data: ok"
  else
    die "test accuracy $ACC < $MIN_ACC on the SYNTHETIC data"
  fi
fi

step "BF16 inference (AVX512_BF16 where the CPU has it) against FP32"
mkdir -p "$OUT/eval-bf16"
run "$EXE" evaluate --data "$DATA" --split test --weights "$RUN/best.onnx" --precision bf16 --out "$OUT/eval-bf16" | tee "$OUT/eval-bf16.txt"
ACC16=$(sed -n 's/^accuracy: \([0-9.]*\).*/\1/p' "$OUT/eval-bf16.txt" | head -1)
NTEST=$(sed -n 's/.*evaluated \([0-9]*\) images.*/\1/p' "$OUT/eval.txt" | head -1)
[[ -n $ACC16 && -n $NTEST ]] || die "evaluate --precision bf16 printed no accuracy"
CHANGED=$(awk -v a="$ACC" -v b="$ACC16" -v n="$NTEST" 'BEGIN { d = (a - b) * n; if (d < 0) d = -d; printf "%d", d + 0.5 }')
echo "test accuracy: FP32 $ACC, BF16 $ACC16: $CHANGED of $NTEST test images changed"
[[ $CHANGED -le 1 ]] || die "BF16 changed the test accuracy by $CHANGED images (more than one)"
SHARED_DATA=${SHARED_DATA:-$ROOT/../shared/data}
if [[ -d $SHARED_DATA ]]; then
  # Every image of the shared X-ray folder through both precisions: top-1 agreement and the
  # largest probability difference. Reported, not required: a model trained on the synthetic
  # data sees real X-rays far from anything it learnt, where near-ties flip under BF16
  # (docs/performance.md; the ctest bf16.accuracy requires 99% of a model trained on X-rays).
  mapfile -t XR < <(find "$SHARED_DATA" -type f \( -iname '*.png' -o -iname '*.jpg' -o -iname '*.jpeg' \) | sort)
  "$EXE" predict --weights "$RUN/best.onnx" --json --top 100 --precision fp32 "${XR[@]}" >"$OUT/xr-fp32.json"
  "$EXE" predict --weights "$RUN/best.onnx" --json --top 100 --precision bf16 "${XR[@]}" >"$OUT/xr-bf16.json"
  "$PY" - "$OUT/xr-fp32.json" "$OUT/xr-bf16.json" <<'EOF'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
agree, worst = 0, 0.0
for x, y in zip(a, b):
    px = {e["label"]: e["confidence"] for e in x["predictions"]}
    py = {e["label"]: e["confidence"] for e in y["predictions"]}
    agree += max(px, key=px.get) == max(py, key=py.get)
    worst = max(worst, max(abs(px[k] - py[k]) for k in px))
print("BF16 vs FP32 on %d images of ../shared/data: top-1 agreement %.2f%%, largest probability difference %.4f"
      % (len(a), 100.0 * agree / len(a), worst))
if agree < 0.99 * len(a):
    print("note: below 99%: this model was trained on the synthetic data, not on these images")
EOF
fi

step "classify a few images with the trained weights"
mapfile -t IMAGES < <(for c in "$DATA"/*/; do find "$c" -type f \( -iname '*.png' -o -iname '*.jpg' -o -iname '*.jpeg' \) | sort | head -1; done)
[[ ${#IMAGES[@]} -gt 0 ]] || die "no images in $DATA"
echo "(one image from each class folder; it may belong to the training split)"
run "$EXE" predict --weights "$RUN/best.onnx" --top 2 "${IMAGES[@]}"
mkdir -p "$OUT/ort/in"
"$EXE" predict --weights "$RUN/best.onnx" --json --top 100 --save-input "$OUT/ort/in" "${IMAGES[@]}" >"$OUT/predict.json"

step "explain the sample images: Grad-CAM overlays (where the model looked)"
run "$EXE" explain --weights "$RUN/best.onnx" -o "$OUT/explain" "${IMAGES[@]}"
mapfile -t OVERLAYS < <(find "$OUT/explain" -name '*.gradcam.png' | sort)
[[ ${#OVERLAYS[@]} -eq ${#IMAGES[@]} ]] || die "explain wrote ${#OVERLAYS[@]} overlays for ${#IMAGES[@]} images"
printf 'overlay: %s\n' "${OVERLAYS[@]}"

step "serve the model over HTTP: start, one prediction and one explanation, stop (SIGTERM)"
"$EXE" serve --weights "$RUN/best.onnx" --port 0 >"$OUT/serve.out" 2>"$OUT/serve.err" &
SERVE_PID=$!
for _ in $(seq 100); do grep -q '^serving on ' "$OUT/serve.out" 2>/dev/null && break; sleep 0.1; done
URL=$(sed -n 's/^serving on //p' "$OUT/serve.out")
[[ -n $URL ]] || { kill "$SERVE_PID" 2>/dev/null; die "serve did not start: $(cat "$OUT/serve.err")"; }
echo "serving on $URL (the web page: $URL/)"
"$PY" - "$URL" "${IMAGES[0]}" "$OUT/serve-overlay.png" <<'EOF'
import base64, json, sys, urllib.request
url, image, overlay = sys.argv[1:4]
body = open(image, "rb").read()
for path in ("/v1/predict", "/v1/explain"):
    req = urllib.request.Request(url + path, data=body, headers={"Content-Type": "image/png"})
    r = json.load(urllib.request.urlopen(req, timeout=60))
    if path == "/v1/predict":
        p = r["predictions"][0]
        print("POST /v1/predict: %s -> %s (%.1f ms)" % (image, p["class"], p["timings_ms"]["total"]))
    else:
        open(overlay, "wb").write(base64.b64decode(r["overlay_png_base64"]))
        print("POST /v1/explain: %s, layer %s -> %s" % (r["class"], r["layer"], overlay))
EOF
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || die "serve did not exit 0 after SIGTERM"
echo "serve stopped (exit 0)"

step "export to ONNX and check it with ONNX Runtime"
run "$EXE" export-onnx --weights "$RUN/best.onnx" -o "$OUT/model.onnx"
# The exact tensors predict fed the model (--save-input) go through ONNX Runtime; its
# probabilities must equal predict's within 1e-4.
"$PY" - "$OUT/ort/in" <<'EOF'
import glob, os, sys
import numpy as np
from onnx import TensorProto, numpy_helper
for p in sorted(glob.glob(os.path.join(sys.argv[1], "input_*.pb"))):
    t = TensorProto()
    with open(p, "rb") as f:
        t.ParseFromString(f.read())
    a = numpy_helper.to_array(t).astype(np.float32)
    a.tofile(p[:-3] + ".f32")
    with open(p[:-3] + ".shape", "w") as f:
        f.write(",".join(map(str, a.shape)))
EOF
printf '$ node (onnxruntime-node %s) %s\n' \
  "$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$ORT_NODE_MODULES/onnxruntime-node/package.json" | head -1)" "$OUT/model.onnx"
ORT_NODE_MODULES="$ORT_NODE_MODULES" node - "$OUT/model.onnx" "$OUT/ort/in" <<'EOF'
const fs = require('fs'), path = require('path');
const ort = require(path.join(process.env.ORT_NODE_MODULES, 'onnxruntime-node'));
(async () => {
  const [model, dir] = process.argv.slice(2);
  const s = await ort.InferenceSession.create(model);
  for (const f of fs.readdirSync(dir).filter(f => f.endsWith('.f32')).sort()) {
    const b = fs.readFileSync(path.join(dir, f));
    const x = new Float32Array(b.buffer, b.byteOffset, b.length / 4);
    const dims = fs.readFileSync(path.join(dir, f.replace(/\.f32$/, '.shape')), 'utf8').split(',').map(Number);
    const r = await s.run({[s.inputNames[0]]: new ort.Tensor('float32', x, dims)});
    const y = r[s.outputNames[0]].data;
    fs.writeFileSync(path.join(dir, f.replace(/\.f32$/, '.ort')), Buffer.from(y.buffer, y.byteOffset, y.byteLength));
  }
})().catch(e => { console.error(e); process.exit(1); });
EOF
"$PY" - "$OUT/predict.json" "$OUT/ort/in" "$EXE" <<'EOF'
import json, os, subprocess, sys
import numpy as np
preds = json.load(open(sys.argv[1]))
info = subprocess.run([sys.argv[3], "info"], capture_output=True, text=True, check=True).stdout
labels = [l.split(": ", 1)[1] for l in info.splitlines() if l.startswith("label ")]
worst = 0.0
for k, p in enumerate(preds):
    ort = np.fromfile(os.path.join(sys.argv[2], "input_%d.ort" % k), dtype=np.float32)
    ours = np.zeros(len(labels), np.float32)
    for e in p["predictions"]:
        ours[labels.index(e["label"])] = e["confidence"]
    d = float(np.abs(ort - ours).max())
    worst = max(worst, d)
    print("%-60s sinter %s  onnxruntime %s  max |diff| %.2e" % (
        os.path.basename(p["file"]), np.array2string(ours, precision=4), np.array2string(ort, precision=4), d))
if worst > 1e-4:
    sys.exit("demo: error: ONNX Runtime differs from predict by %.2e > 1e-4" % worst)
print("ONNX Runtime agrees with predict on %d images (max |diff| %.2e <= 1e-4)" % (len(preds), worst))
EOF
end_step
STEP_NO=0

T_END=$(date +%s.%N)
printf '\n==== done in %.0f s (not counting package installation and the build) ====\n' \
  "$(awk -v a="$T_END" -v b="$T_START" 'BEGIN{print a-b}')"
if [[ $SYNTHETIC == 1 ]]; then
  echo "data: SYNTHETIC ($DATA, made by 'sinter synth-data'; not real X-rays)"
else
  echo "data: $DATA"
fi
echo "test accuracy: $ACC"
echo "everything is in $OUT/:"
cat <<EOF
  $EXE                the compiled model (run it with --help)
  $OUT/data-report/           contact sheet of the data
  $RUN/best.onnx, last.onnx  checkpoints (ONNX, optimizer state in last.onnx)
  $RUN/history.csv, curves.png  the training curves
  $OUT/eval/confusion_matrix.png, $OUT/eval.txt   the test-split evaluation
  $OUT/predict.json           predict's output for the sample images
  $OUT/explain/               Grad-CAM overlays (.gradcam.png) and maps (.gradcam.json)
  $OUT/model.onnx             the trained model as a standard ONNX inference graph
EOF
