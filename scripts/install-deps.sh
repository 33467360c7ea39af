#!/usr/bin/env bash
# Install the Debian 12 (bookworm) packages needed to build and test sinter.
#
# Idempotent: when every package is already installed it prints one line and
# exits without touching apt. Otherwise it runs `apt-get update` once and
# installs only the missing packages.
#
# Runs as root; when not root it uses sudo (if available).
# Usage: scripts/install-deps.sh
set -euo pipefail

# Debian packages, one per line. Add new dependencies here.
APT_PACKAGES=(
  build-essential
  cmake
  make
  pkg-config
  flex
  bison
  libprotobuf-c-dev
  protobuf-c-compiler
  libonnx-dev
  libopenblas-dev
  libpng-dev
  libjpeg-dev
  clang
  libclang-rt-14-dev   # libFuzzer / sanitizer runtimes for clang 14
  python3
  python3-onnx         # tests: independent checks of ONNX files (onnx.checker, numpy_helper)
  python3-numpy
  python3-torch        # tests: the PyTorch reference models (../shared/reference)
  python3-pil          # tests: an independent PNG decoder for the resize check
  python3-sklearn      # tests: ROC AUC, ROC curves (evaluate's clinical metrics); scipy for rank correlations
  libdcmtk-dev         # DICOM decoding (runtime/image)
  dcmtk                # tests: img2dcm, dcmcjpeg, dcmcjpls, dcmcrle make DICOM files from PNGs
  python3-pydicom      # tests: an independent DICOM reader
  python3-gdcm         # tests: pydicom's decoder for JPEG lossless and JPEG-LS
  libmicrohttpd-dev    # EXE serve
  libopenmpi-dev       # data-parallel training under mpirun (runtime/dist)
  openmpi-bin          # tests: mpirun
  chromium             # tests: serve's web page in a headless browser (serve.page)
  ca-certificates
)

# How long to keep retrying when another apt/dpkg process holds the lock.
LOCK_WAIT_SECONDS=${LOCK_WAIT_SECONDS:-900}

log() { printf 'deps: %s\n' "$*"; }
die() { printf 'deps: error: %s\n' "$*" >&2; exit 1; }

# Prefix for commands that need root.
SUDO=()
setup_privileges() {
  if [[ $(id -u) -eq 0 ]]; then
    return
  fi
  command -v sudo >/dev/null 2>&1 ||
    die "must run as root (sudo is not available)"
  if [[ -t 0 ]]; then
    SUDO=(sudo)
  else
    SUDO=(sudo -n) # no tty: fail instead of hanging on a password prompt
  fi
}

is_installed() {
  local status
  status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
  [[ $status == "install ok installed" ]]
}

# Run an apt-get command as root, retrying while another apt/dpkg process
# holds its lock. Output is streamed and also kept for the lock check.
apt_get() {
  local out rc waited=0
  out=$(mktemp)
  while :; do
    rc=0
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get -o DPkg::Lock::Timeout="$LOCK_WAIT_SECONDS" "$@" 2>&1 |
      tee "$out" || rc=$?
    if [[ $rc -eq 0 ]]; then
      rm -f "$out"
      return 0
    fi
    if grep -qiE 'could not get lock|unable to acquire the dpkg frontend lock|is another process using it' "$out" &&
      ((waited < LOCK_WAIT_SECONDS)); then
      log "apt/dpkg is locked by another process; retrying in 10s"
      sleep 10
      waited=$((waited + 10))
      continue
    fi
    rm -f "$out"
    return "$rc"
  done
}

# Step: Debian packages.
step_apt() {
  local pkg missing=()
  command -v dpkg-query >/dev/null 2>&1 ||
    die "dpkg-query not found: this script supports Debian 12 only"
  for pkg in "${APT_PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "all ${#APT_PACKAGES[@]} packages present"
    return 0
  fi

  setup_privileges
  local start=$SECONDS
  log "installing ${#missing[@]} of ${#APT_PACKAGES[@]} packages: ${missing[*]}"
  apt_get update ||
    die "apt-get update failed"
  apt_get install -y --no-install-recommends "${missing[@]}" ||
    die "apt-get install failed for: ${missing[*]}"

  # Double-check: apt can exit 0 without installing what we asked for.
  local still=()
  for pkg in "${missing[@]}"; do
    is_installed "$pkg" || still+=("$pkg")
  done
  [[ ${#still[@]} -eq 0 ]] ||
    die "still not installed after apt-get: ${still[*]}"
  log "installed ${#missing[@]} packages in $((SECONDS - start))s"
}

# Step: Node.js and npm, when the machine has none (some images ship NodeSource's
# nodejs with npm bundled, which conflicts with Debian's npm package).
step_node() {
  if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    return
  fi
  log "installing nodejs and npm"
  apt_get update
  apt_get install -y --no-install-recommends nodejs npm || die "apt-get install nodejs npm failed"
}

# Step: ONNX Runtime for Node.js (the tests' and benchmarks' reference runtime), in a
# project-local folder. Its install script would download GPU binaries; the CPU ones ship
# inside the package, so the script is skipped.
ORT_VERSION=1.30.0
ORT_PREFIX="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.deps/ort"
step_ort() {
  local pkg="$ORT_PREFIX/node_modules/onnxruntime-node/package.json"
  if [[ -f $pkg ]] && grep -q "\"version\": \"$ORT_VERSION\"" "$pkg"; then
    return
  fi
  log "installing onnxruntime-node@$ORT_VERSION into $ORT_PREFIX"
  mkdir -p "$ORT_PREFIX"
  ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix "$ORT_PREFIX" --no-audit --no-fund --ignore-scripts \
    "onnxruntime-node@$ORT_VERSION" >/dev/null || die "npm install onnxruntime-node@$ORT_VERSION failed"
}

main() {
  if [[ $# -gt 0 ]]; then
    die "unexpected arguments: $* (usage: $0)"
  fi
  step_apt
  step_node
  step_ort
  "$(dirname "${BASH_SOURCE[0]}")/install-puppeteer.sh" || die "installing puppeteer-core failed"
}

main "$@"
