#!/usr/bin/env bash
# Runs one libFuzzer target with its seeds (tests/fuzz/README.md).
#   tests/fuzz/run-fuzzer.sh FUZZER SECONDS [LIBFUZZER_FLAG...]
# FUZZER is a built build-fuzz/fuzz/fuzz_<name>. New inputs go to $FUZZ_CORPUS_DIR when set
# (kept), else to a temporary folder removed on exit; the committed seeds
# (tests/fuzz/seeds/<name>) and the shared data (../shared, read-only, never copied into
# the repository) are passed as further, read-only corpus folders. Exit status: libFuzzer's.
set -euo pipefail

fuzzer=$1
seconds=$2
shift 2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
shared=${SINTER_SHARED_DIR:-$here/../../../shared}
name=${fuzzer##*/}
name=${name#fuzz_}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sinter-fuzz-$name.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
corpus=${FUZZ_CORPUS_DIR:-$tmp/corpus}
mkdir -p "$corpus"
dirs=("$corpus")
seeds=${name%_front} # fuzz_onnx_front shares fuzz_onnx's seeds
[[ -d $here/seeds/$seeds ]] && dirs+=("$here/seeds/$seeds")
[[ -d $here/regress/$name ]] && dirs+=("$here/regress/$name")

case $name in
onnx | onnx_front)
  # Only the models: the suite's .pb tensors are large and would raise libFuzzer's max_len.
  if [[ -d $shared/onnx-tests ]]; then
    mkdir -p "$tmp/onnx-tests"
    for m in "$shared"/onnx-tests/*/*/model.onnx; do
      [[ -f $m ]] || continue
      t=${m%/model.onnx}
      cp "$m" "$tmp/onnx-tests/${t##*/}.onnx"
    done
    dirs+=("$tmp/onnx-tests")
  fi
  ;;
png)
  # The X-ray PNGs are read in place (their licence is unstated: never copied).
  [[ -d $shared/data ]] && dirs+=("$shared/data")
  ;;
esac

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
[[ -d $shared ]] || printf 'fuzz: no shared data at %s (set SINTER_SHARED_DIR): committed seeds only\n' "$shared"
printf 'fuzz: %s for %ss, corpus folders: %s\n' "$name" "$seconds" "${dirs[*]}"
rc=0
# The outer timeout only guards against a fuzzer that ignores -max_total_time.
timeout --kill-after=30 $((seconds + 300)) \
  "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "$@" \
  "${dirs[@]}" || rc=$?
exit "$rc"
