#!/usr/bin/env bash
# Build the one-folder bundle dist/latentlab/ with CPU torch, then smoke-check it offscreen.
# Run from anywhere: bash packaging/build.sh
#
#   LATENTLAB_BUILD_VENV=DIR        the build environment (default .venv-build; reused when present)
#   LATENTLAB_BUILD_SYSTEM_SITE=1   let that environment see the system's packages, e.g. an
#                                   installed torch, instead of downloading them again
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${LATENTLAB_BUILD_VENV:-.venv-build}
if [ ! -x "$venv/bin/python" ]; then
  if [ "${LATENTLAB_BUILD_SYSTEM_SITE:-0}" = 1 ]; then
    python3 -m venv --system-site-packages "$venv"
  else
    python3 -m venv "$venv"
  fi
fi
py="$venv/bin/python"
# The CPU wheel: torch from PyPI on Linux pulls in the CUDA libraries, gigabytes the bundle does not need.
"$py" -c 'import torch' 2>/dev/null ||
  "$py" -m pip install -q torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
# The dependencies come from pyproject.toml; LatentLab itself is bundled from this source tree,
# so the installed copy is removed again (the spec lists the source tree's modules).
"$py" -m pip install -q . "pyinstaller>=6"
"$py" -m pip uninstall -q -y latentlab
"$py" -m PyInstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller packaging/latentlab.spec

# Smoke check: the bundle answers --version, trains headless, and opens its window offscreen.
dist/latentlab/latentlab --version
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dist/latentlab/latentlab train --data moons --limit 200 --epochs 1 --out "$tmp/m" >/dev/null
dist/latentlab/latentlab info "$tmp/m" >/dev/null
# The app quits by itself after LATENTLAB_SMOKE_QUIT_MS; timeout catches a hang (exit code 124).
LATENTLAB_SETTINGS_DIR="$tmp" QT_QPA_PLATFORM=offscreen LATENTLAB_SMOKE_QUIT_MS=3000 timeout 120 dist/latentlab/latentlab
echo "bundle OK: dist/latentlab/ ($(du -sh dist/latentlab | cut -f1))"
