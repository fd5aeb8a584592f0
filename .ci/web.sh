#!/usr/bin/env bash
# The browser demo's tool chain for tests/test_web*.py: Debian's Chromium and chromedriver, and
# LiteRT.js from npm into web_demo/node_modules (versions pinned by web_demo/package-lock.json).
# Node.js and npm come with this machine kind. Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

missing=()
for pkg in chromium chromium-driver; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v npm >/dev/null || { echo ".ci/web.sh: npm (Node.js) is missing" >&2; exit 1; }
if [ ! -f web_demo/node_modules/@litertjs/core/dist/index.js ]; then
    npm ci --prefix web_demo --no-audit --no-fund --loglevel=error
fi
