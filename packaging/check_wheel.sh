#!/usr/bin/env bash
# Build the wheel, install it into a scratch folder, and prove from another working directory
# that the installed copy is complete: every module of the source tree, the bundled MNIST
# digits, the bundled model, the icons and the licence notices, all found inside the install
# (not in this repository), and `python -m latentlab info` on the bundled model.
#
#   bash packaging/check_wheel.sh              # uses .venv/bin/python when present, else python3
#   PYTHON=/path/to/python bash packaging/check_wheel.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
py=${PYTHON:-}
if [ -z "$py" ]; then
  if [ -x .venv/bin/python ]; then py=.venv/bin/python; else py=python3; fi
fi
# An absolute path: the checks below run from another working directory.
case "$py" in
  /*) ;;
  */*) py="$repo/$py" ;;
  *) py=$(command -v "$py") ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Build from a clean copy: setuptools leaves build/ and *.egg-info behind, and a stale
# build/lib from an earlier build can smuggle deleted modules into the wheel.
mkdir "$tmp/src"
cp -R pyproject.toml README.md LICENSE latentlab resources "$tmp/src/"
"$py" -m pip wheel -q --no-deps -w "$tmp/wheel" "$tmp/src"
wheel=$(ls "$tmp"/wheel/latentlab-*.whl)
"$py" -m pip install -q --no-deps --target "$tmp/site" "$wheel"
echo "built and installed $(basename "$wheel")"

mkdir "$tmp/elsewhere"
cd "$tmp/elsewhere"
export PYTHONPATH="$tmp/site" QT_QPA_PLATFORM=offscreen
SITE="$tmp/site" REPO="$repo" "$py" - <<'EOF'
import os
import sys
from pathlib import Path

site = Path(os.environ["SITE"]).resolve()
repo = Path(os.environ["REPO"]).resolve()
problems = []


def inside_site(path, what):
    p = Path(path).resolve()
    if site not in p.parents:
        problems.append(f"{what} is {p}, not inside the installed copy {site}")
    return p


import latentlab
from latentlab.resources_path import resource_path

inside_site(latentlab.__file__, "the imported latentlab package")

# Every module of the source tree must be in the wheel (a package left out of
# pyproject.toml's list is silently missing from an installed copy).
installed = site / "latentlab"
for source in sorted((repo / "latentlab").rglob("*.py")):
    rel = source.relative_to(repo / "latentlab")
    if not (installed / rel).is_file():
        problems.append(f"latentlab/{rel} is missing from the wheel")

for parts in (("LICENSES.md",), ("icons", "latentlab.svg"), ("icons", "latentlab-256.png"),
              ("mnist", "t10k-images-idx3-ubyte.gz"), ("mnist", "t10k-labels-idx1-ubyte.gz"),
              ("models", "mnist-vae-2d", "config.json"), ("models", "mnist-vae-2d", "model.safetensors"),
              ("models", "mnist-classifier", "config.json"), ("models", "mnist-classifier", "model.safetensors")):
    p = inside_site(resource_path(*parts), "/".join(parts))
    if not p.is_file():
        problems.append(f"resource {'/'.join(parts)} not found at {p}")

from latentlab.core.checkpoint import load_model
from latentlab.core.data import load_dataset

data = load_dataset("mnist")
if tuple(data.images.shape) != (10000, 1, 28, 28) or data.labels is None:
    problems.append(f"bundled MNIST loaded as {tuple(data.images.shape)}, expected (10000, 1, 28, 28) with labels")
loaded = load_model(resource_path("models", "mnist-vae-2d"))
if loaded.config.latent_dim != 2:
    problems.append(f"bundled model has latent dim {loaded.config.latent_dim}, expected 2")
from latentlab.core.classifier import bundled_classifier

if bundled_classifier().config.num_classes != 10:
    problems.append("the bundled digit classifier does not have 10 classes")

for p in problems:
    print("PROBLEM:", p, file=sys.stderr)
if problems:
    sys.exit(1)
print(f"resources, modules, MNIST ({len(data)} digits) and the bundled model load from {site}")
EOF

model=$("$py" -c 'from latentlab.resources_path import resource_path; print(resource_path("models", "mnist-vae-2d"))')
case "$model" in
  "$tmp/site"/*) ;;
  *) echo "PROBLEM: the bundled model resolves to $model, outside the installed copy" >&2; exit 1 ;;
esac
"$py" -m latentlab info "$model" >"$tmp/info.txt"
grep -q "latent dim" "$tmp/info.txt" || { cat "$tmp/info.txt" >&2; echo "PROBLEM: latentlab info printed no latent dim" >&2; exit 1; }
echo "python -m latentlab info works on the installed model"
echo "wheel OK"
