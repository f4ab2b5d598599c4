"""Off-manifold score: its cost per probe move, and the autoencoder's holes against the VAE's.

Two measurements (``latentlab.core.offmanifold``):

1. **Cost per probe move** with 70,000 data codes: one :meth:`ManifoldMap.score` call (nearest
   codes through scipy's cKDTree, local spacing, aggregate posterior over the nearest
   components, prior) for random probe positions around the data; p50 / p95 in ms, for a
   2- and a 16-dimensional latent. Floor: 2 ms.
2. **The moons story as a number**: an autoencoder and a VAE, latent 2, trained the same epochs
   on ``moons``; among the full moons (phase ≥ 0.9) and half moons (phase within 0.05 of 0.5),
   the pair whose images differ most is interpolated in each model's latent space, and each
   step's distance ratio (distance to the nearest data code over the local spacing) is
   averaged. The autoencoder's path should cross holes the VAE's noise has filled: a larger
   mean ratio.

    python benchmarks/off_manifold.py [--epochs 15] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from run import emit, machine, percentile, row  # noqa: E402

POINTS = 70_000
STEPS = 32


def query_rows(points: int = POINTS, queries: int = 400) -> list[dict[str, Any]]:
    from latentlab.core.offmanifold import ManifoldMap

    rng = np.random.default_rng(0)
    out = []
    for dim in (2, 16):
        centres = rng.normal(size=(10, dim)) * 2.0
        codes = centres[rng.integers(0, 10, points)] + rng.normal(scale=0.5, size=(points, dim))
        logvar = np.full_like(codes, np.log(0.1 ** 2))
        start = time.perf_counter()
        m = ManifoldMap(codes, logvar)
        build = time.perf_counter() - start
        probes = codes[rng.integers(0, points, queries)] + rng.normal(scale=1.0, size=(queries, dim))
        times = []
        for z in probes:
            t = time.perf_counter()
            m.score(z)
            times.append((time.perf_counter() - t) * 1000.0)
        note = f"{points:,} codes, latent {dim}, {queries} probe positions; index built in {build:.2f} s"
        out.append(row("off-manifold", f"score per probe move, latent {dim}: p50", percentile(times, 50), "ms", note=note))
        out.append(row("off-manifold", f"score per probe move, latent {dim}: p95", percentile(times, 95), "ms",
                       note=note + "; floor 2 ms"))
    return out


def _encode(model: Any, images: Any) -> tuple[np.ndarray, np.ndarray | None]:
    import torch

    model.eval()
    with torch.inference_mode():
        out = model.encode(images)
    if isinstance(out, tuple):
        mu, logvar = out
        return mu.numpy().astype(np.float64), None if logvar is None else logvar.numpy().astype(np.float64)
    return out.numpy().astype(np.float64), None


def moons_rows(epochs: int, seed: int = 0) -> list[dict[str, Any]]:
    import torch

    from latentlab import api
    from latentlab.core.data import load_dataset
    from latentlab.core.offmanifold import ManifoldMap

    data = load_dataset("moons")
    phase = data.factors[:, data.factor_names.index("phase")].numpy()
    images = data.images
    flat = images.reshape(len(images), -1).numpy()
    full = np.flatnonzero(phase >= 0.9)
    half = np.flatnonzero(np.abs(phase - 0.5) <= 0.05)
    # The full and half moon whose images differ most (squared pixel distance).
    d2 = ((flat[full] ** 2).sum(1)[:, None] + (flat[half] ** 2).sum(1)[None, :] - 2.0 * flat[full] @ flat[half].T)
    i, j = np.unravel_index(int(np.argmax(d2)), d2.shape)
    a, b = int(full[i]), int(half[j])
    out = []
    means = {}
    for family in ("ae", "vae"):
        torch.manual_seed(seed)
        start = time.perf_counter()
        trained = api.train(data, family=family, latent_dim=2, epochs=epochs, seed=seed, threads=1)
        seconds = time.perf_counter() - start
        codes, logvar = _encode(trained.model, images)
        m = ManifoldMap(codes, logvar if family == "vae" else None)
        t = np.linspace(0.0, 1.0, STEPS)[:, None]
        path = (1 - t) * codes[a] + t * codes[b]
        ratios = m.ratios(path)
        means[family] = float(ratios.mean())
        note = (f"moons, latent 2, {epochs} epochs ({seconds:.0f} s); items {a} (phase {phase[a]:.2f}) → "
                f"{b} (phase {phase[b]:.2f}), {STEPS} steps; max {ratios.max():.2f}")
        out.append(row("off-manifold", f"moons path, mean distance ratio: {family}", means[family], "", note=note))
    out.append(row("off-manifold", "moons path, AE / VAE mean distance ratio", means["ae"] / means["vae"], "×",
                   note="above 1: the autoencoder's path leaves the data more than the VAE's"))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=15, help="training epochs of each moons model (default 15)")
    p.add_argument("--quick", action="store_true", help="3 epochs and fewer probe positions")
    p.add_argument("--json", action="store_true", help="print the rows as JSON (for run.py)")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    result = query_rows(queries=100 if args.quick else 400)
    result += moons_rows(3 if args.quick else args.epochs)
    if args.json:
        emit(result)
        return 0
    print(f"machine: {machine()}")
    for r in result:
        print(f"{r['measure']:<52} {r['value']:8.3f} {r['unit']:<3} {r['note']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
