#!/usr/bin/env bash
# Build the one-folder bundle dist/latentlab/ with CPU torch, then smoke-check it offscreen.
# Run from anywhere: bash packaging/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-build
.venv-build/bin/pip install -q torch==2.13.0
.venv-build/bin/pip install -q . "pyinstaller>=6"
.venv-build/bin/pyinstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller packaging/latentlab.spec
# Smoke check: the bundle answers --version, trains headless, and opens its window offscreen.
dist/latentlab/latentlab --version
tmp=$(mktemp -d)
dist/latentlab/latentlab train --data moons --limit 200 --epochs 1 --out "$tmp/m" >/dev/null
QT_QPA_PLATFORM=offscreen LATENTLAB_SMOKE_QUIT_MS=3000 dist/latentlab/latentlab
echo "bundle OK: dist/latentlab/"
