#!/usr/bin/env bash
# Installs puppeteer-core (pinned) into .deps/puppeteer for the web page test (tests/serve,
# label slow), which drives Debian's chromium headless. puppeteer-core downloads no browser.
# 24.10.0 is the newest line that still runs on Debian 12's Node.js 18/20 (25.x needs 22.12).
set -euo pipefail
PUPPETEER_VERSION=24.10.0
PREFIX="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.deps/puppeteer"
pkg="$PREFIX/node_modules/puppeteer-core/package.json"
if [[ -f $pkg ]] && grep -q "\"version\": \"$PUPPETEER_VERSION\"" "$pkg"; then
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "install-puppeteer: npm not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
echo "installing puppeteer-core@$PUPPETEER_VERSION into $PREFIX"
mkdir -p "$PREFIX"
npm install --prefix "$PREFIX" --no-audit --no-fund --ignore-scripts "puppeteer-core@$PUPPETEER_VERSION" >/dev/null \
  || { echo "install-puppeteer: npm install puppeteer-core@$PUPPETEER_VERSION failed" >&2; exit 1; }
