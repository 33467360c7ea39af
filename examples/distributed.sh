#!/usr/bin/env bash
# Data-parallel training across machines with MPI: one model trained by N processes (ranks),
# each taking its share of every batch. See examples/distributed.md for the whole recipe.
#
# usage: DATA=/shared/COVID-19_Radiography_Dataset HOSTFILE=hosts examples/distributed.sh
# Environment: DATA (required: the same folder on every machine, shared or copied), HOSTFILE
# (mpirun's hostfile; default: this machine alone, NP slots), NP (ranks; default: the
# hostfile's slots), MODEL (simple_cnn), SIZE (224), EPOCHS, BATCH (the recipe's), OUT
# (distributed-out: rank 0's machine writes it), BUILD (build), SYNC_BN (1: --sync-bn).
# The test runs it on one machine with NP=2 on 8 synthetic images per class at 32x32.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${DATA:?set DATA to the dataset folder (the same on every machine)}"
BUILD=${BUILD:-build} OUT=${OUT:-distributed-out} SIZE=${SIZE:-224} MODEL=${MODEL:-simple_cnn}
mkdir -p "$OUT"
if [[ -z ${HOSTFILE:-} ]]; then # this machine alone: as many slots as asked for
  HOSTFILE=$OUT/hostfile
  echo "localhost slots=${NP:-2}" >"$HOSTFILE"
fi
NP=${NP:-$(awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^slots=/) { sub("slots=", "", $i); n += $i } } END { print n }' "$HOSTFILE")}
OUT=$(cd "$OUT" && pwd)
exe=$OUT/$MODEL # the same path on every machine (copy it there, or share the folder)
MPI=(mpirun --hostfile "$HOSTFILE" -np "$NP" --bind-to core)
[[ $(id -u) == 0 ]] && MPI+=(--allow-run-as-root)
TRAIN=(train --data "$DATA" --out "$OUT/run" ${EPOCHS:+--epochs "$EPOCHS"} ${BATCH:+--batch "$BATCH"})
[[ ${SYNC_BN:-0} == 1 ]] && TRAIN+=(--sync-bn)
set -x
"$BUILD/sinter" compile "models/$MODEL.nn" --set size="$SIZE" ${BATCH:+--train-batch "$BATCH"} -o "$exe"
# Every rank checks that its DATA holds the same files as rank 0's before the first step.
"${MPI[@]}" "$exe" "${TRAIN[@]}"
# A second run continues from the last checkpoint (with any number of ranks): here one more epoch.
done_epochs=$(($(wc -l <"$OUT/run/history.csv") - 1))
"${MPI[@]}" "$exe" train --data "$DATA" --out "$OUT/run" --epochs $((done_epochs + 1)) ${BATCH:+--batch "$BATCH"} --resume
"$exe" evaluate --data "$DATA" --split test --weights "$OUT/run/best.onnx" --out "$OUT/eval"
