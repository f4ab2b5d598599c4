"""Denoising floor: PSNR of a denoising autoencoder on MNIST digits under Gaussian noise σ = 0.5.

Trains a denoising model (``--family ae``, latent 32, MLP 256-256, inputs corrupted with
``gaussian:0.6`` — each image's σ drawn uniformly up to 0.6 — 60 epochs, batch 128, Adam 2e-3,
seed 0) on the 8,000 training digits of the bundled MNIST reference split, about a minute on
one thread of a quiet machine, then measures on the 2,000
validation digits, each corrupted once with σ = 0.5 exactly (seeded, clipped to [0, 1]):

* **noisy input**: the corrupted images themselves;
* **Gaussian blur**: the corrupted images blurred with the kernel width (from a few) that
  scores best on the training digits;
* **PCA 32**: the corrupted images projected onto the 32 leading principal components of the
  clean training digits (the ``pca`` family, clamped to [0, 1]);
* **denoising model**: the trained model's reconstruction of the corrupted images.

PSNR is ``10 log10(1 / MSE)`` over every pixel of the validation set against the clean digits
(:func:`latentlab.core.metrics.denoising_psnr`). The floor is 17.5 dB for the model.

    python benchmarks/denoise.py                 # the full run (about a minute of training)
    python benchmarks/denoise.py --quick         # 3 epochs: a sanity run
    python benchmarks/denoise.py --family vae --json
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from run import emit, machine, row  # noqa: E402

from latentlab.core.data import load_dataset  # noqa: E402
from latentlab.core.metrics import denoising_psnr  # noqa: E402
from latentlab.core.models import ModelConfig  # noqa: E402
from latentlab.core.models.denoise import corrupt, parse_noise  # noqa: E402
from latentlab.core.training import TrainConfig, train  # noqa: E402

FLOOR_DB = 17.5
NOISE = "gaussian:0.5"


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1 / (a.double() - b.double()).pow(2).mean().clamp_min(1e-12)))


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """``x`` ``[N, 1, H, W]`` blurred by a separable Gaussian of ``sigma`` pixels (reflected edges)."""
    radius = max(1, int(3 * sigma + 0.5))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    x = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1))
    return F.conv2d(x, k.view(1, 1, -1, 1))


def noisy(images: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """The corruption :func:`denoising_psnr` applies, for the baselines (same generator, same batches)."""
    spec = parse_noise(NOISE)
    gen = torch.Generator().manual_seed(seed)
    return torch.cat([corrupt(images[i:i + 1000], spec, fixed=True, generator=gen)
                      for i in range(0, len(images), 1000)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="ae", choices=("ae", "vae", "beta-vae"))
    parser.add_argument("--train-noise", default="gaussian:0.6", help="the --denoise spec of the model")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--quick", action="store_true", help="3 epochs: a sanity run")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="also print the rows as JSON for run.py")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    epochs = 3 if args.quick else args.epochs

    data = load_dataset("mnist")
    train_idx, val_idx = data.split(0.2, 0)
    clean_train, clean_val = data.images[train_idx], data.images[val_idx]
    val_noisy = noisy(clean_val)

    # Baselines.
    train_noisy = noisy(clean_train, seed=1)
    sigmas = (0.5, 0.75, 1.0, 1.25, 1.5)
    best_sigma = max(sigmas, key=lambda s: _psnr(gaussian_blur(train_noisy, s).clamp(0, 1), clean_train))
    blur_db = _psnr(gaussian_blur(val_noisy, best_sigma).clamp(0, 1), clean_val)
    pca_config = ModelConfig(family="pca", latent_dim=32)
    pca = train(pca_config, data.subset(train_idx), TrainConfig(epochs=1, val_fraction=0.0, threads=args.threads))
    try:
        while True:
            next(pca)
    except StopIteration as stop:
        pca_model = stop.value.model
    pca_db = denoising_psnr(pca_model, clean_val, None, NOISE)["psnr"]

    # The denoising model.
    config = ModelConfig(family=args.family, arch="mlp", latent_dim=32, hidden=(256, 256),
                         options={"denoise": args.train_noise})
    start = time.perf_counter()
    run = train(config, data, TrainConfig(epochs=epochs, batch_size=128, lr=2e-3, seed=0, device="cpu",
                                          threads=args.threads, val_fraction=0.2))
    try:
        while True:
            next(run)
    except StopIteration as stop:
        result = stop.value
    train_s = time.perf_counter() - start
    measured = denoising_psnr(result.model, clean_val, None, NOISE)

    rows = [
        row("denoise", "noisy input PSNR", measured["psnr_noisy"], "dB"),
        row("denoise", f"Gaussian blur (sigma {best_sigma:g}) PSNR", blur_db, "dB"),
        row("denoise", "PCA 32 PSNR", pca_db, "dB"),
        row("denoise", f"{args.family} latent 32 ({args.train_noise}) PSNR", measured["psnr"], "dB",
            baseline=FLOOR_DB, baseline_name="floor",
            note=f"{epochs} epochs, {train_s:.0f} s training; floor {'met' if measured['psnr'] >= FLOOR_DB else 'MISSED'}"),
    ]
    print(f"{machine()}; CPU capability {torch.backends.cpu.get_cpu_capability()}")
    print(f"validation: {len(clean_val)} MNIST digits, noise {NOISE} (seeded); training: {len(clean_train)} digits")
    print(f"{'measure':<46} {'PSNR dB':>8}  note")
    for r in rows:
        print(f"{r['measure']:<46} {r['value']:>8.2f}  {r['note']}")
    if args.json:
        emit(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
