"""Training speed: LatentLab's trainer against the canonical PyTorch VAE loop.

The canonical loop is the one of the pytorch/examples VAE (re-implemented here): a
DataLoader over a TensorDataset with shuffling, batch 128, a 784-400-20 MLP with sigmoid
outputs and ``binary_cross_entropy(reduction="sum")`` plus the analytic KL, Adam with
lr 1e-3, and ``loss.item()`` summed every step. LatentLab trains the same architecture
(family "vae", hidden (400,), latent 20) with :func:`latentlab.core.training.train`.

Both use the reference MNIST split (the 10,000 bundled digits, seed 0: 8,000 train, 2,000
validation), the same seed and the same number of torch threads. Epochs are interleaved
(canonical, LatentLab, then LatentLab, canonical, ...) so that a machine getting busier or
quieter affects both alike. Run ``python benchmarks/train_speed.py --help`` for options.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from latentlab.core.data import load_dataset  # noqa: E402
from latentlab.core.device import fast_linear_supported, set_fast_linear  # noqa: E402
from latentlab.core.models import ModelConfig  # noqa: E402
from latentlab.core.training import Progress, TrainConfig, train, warm_up  # noqa: E402

BATCH = 128
LR = 1e-3
TARGET_RATIO = 1.3


class CanonicalVAE(nn.Module):
    """The example's model: 784-400-(20, 20) encoder, 20-400-784 decoder, sigmoid output."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = F.relu(self.fc1(x.view(-1, 784)))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar


def canonical_loss(recon: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    bce = F.binary_cross_entropy(recon, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


class CanonicalRun:
    """The reference loop, one epoch per call, timed without its test pass."""

    def __init__(self, train_x: torch.Tensor, val_x: torch.Tensor, seed: int) -> None:
        torch.manual_seed(seed)
        self.seed = seed
        self.model = CanonicalVAE()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LR)
        self.train_loader = DataLoader(TensorDataset(train_x), batch_size=BATCH, shuffle=True,
                                       generator=torch.Generator().manual_seed(seed))
        self.val_loader = DataLoader(TensorDataset(val_x), batch_size=BATCH)
        self.n_val = len(val_x)

    def epoch(self) -> tuple[float, float, float]:
        """Returns (train seconds, validation seconds, validation -ELBO per example)."""
        start = time.perf_counter()
        self.model.train()
        train_loss = 0.0
        for (x,) in self.train_loader:
            self.optimizer.zero_grad()
            recon, mu, logvar = self.model(x)
            loss = canonical_loss(recon, x, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            self.optimizer.step()
        train_s = time.perf_counter() - start
        start = time.perf_counter()
        self.model.eval()
        test_loss = 0.0
        # The example's test pass, with its sampling seeded the way LatentLab seeds its
        # validation, so neither number depends on how the two runs interleave.
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(0)
            for (x,) in self.val_loader:
                recon, mu, logvar = self.model(x)
                test_loss += canonical_loss(recon, x, mu, logvar).item()
        return train_s, time.perf_counter() - start, test_loss / self.n_val


def latentlab_epochs(data, epochs: int, seed: int, threads: int) -> Iterator[tuple[float, float, float]]:
    """LatentLab's trainer, paused between epochs; yields (wall s, img/s, val -ELBO)."""
    config = ModelConfig(family="vae", arch="mlp", input_shape=(1, 28, 28), latent_dim=20, hidden=(400,))
    gen = train(config, data, TrainConfig(epochs=epochs, batch_size=BATCH, lr=LR, seed=seed, device="cpu",
                                          threads=threads, val_fraction=0.2))
    start = time.perf_counter()
    for item in gen:
        if isinstance(item, Progress) and item.epoch_done:
            wall = time.perf_counter() - start
            yield wall, item.images_per_s, item.val["neg_elbo"]
            start = time.perf_counter()


def timed_run(data, epochs: int, seed: int, threads: int) -> list[tuple[float, ...]]:
    """Both loops, epochs interleaved; one row per epoch, printed as it completes."""
    train_idx, val_idx = data.split(0.2, seed)
    canonical = CanonicalRun(data.images[train_idx], data.images[val_idx], seed)
    ours = latentlab_epochs(data, epochs, seed, threads)
    header = (f"{'epoch':>5}  {'canonical img/s':>15}  {'LatentLab img/s':>15}  {'ratio':>6}  "
              f"{'canonical val -ELBO':>19}  {'LatentLab val -ELBO':>19}")
    print(header)
    print("-" * len(header))
    rows = []
    for epoch in range(1, epochs + 1):
        # Alternate who goes first, so a drifting machine load does not favour either.
        if epoch % 2:
            c_train, c_val, c_elbo = canonical.epoch()
            o_wall, o_rate, o_elbo = next(ours)
        else:
            o_wall, o_rate, o_elbo = next(ours)
            c_train, c_val, c_elbo = canonical.epoch()
        c_rate = len(train_idx) / c_train
        rows.append((c_rate, o_rate, c_train + c_val, o_wall, c_elbo, o_elbo))
        print(f"{epoch:>5}  {c_rate:>15,.0f}  {o_rate:>15,.0f}  {o_rate / c_rate:>6.2f}  "
              f"{c_elbo:>19.2f}  {o_elbo:>19.2f}", flush=True)
    for _ in ours:  # let the trainer finish cleanly
        pass
    return rows


def final_losses(data, epochs: int, seed: int, threads: int) -> tuple[float, float]:
    """Final validation -ELBO of both loops for one more seed (untimed)."""
    train_idx, val_idx = data.split(0.2, seed)
    canonical = CanonicalRun(data.images[train_idx], data.images[val_idx], seed)
    for _ in range(epochs):
        c_elbo = canonical.epoch()[2]
    *_, (_, _, o_elbo) = latentlab_epochs(data, epochs, seed, threads)
    return c_elbo, o_elbo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="epochs for each loop (default 10)")
    parser.add_argument("--quick", action="store_true", help="3 epochs and one seed: a fast sanity run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the timed run (default 0)")
    parser.add_argument("--loss-seeds", type=int, default=5,
                        help="seeds whose final -ELBO is compared, the timed one included (default 5)")
    parser.add_argument("--no-fast-linear", action="store_true",
                        help="keep LatentLab's linear layers on the default (MKL) kernel")
    args = parser.parse_args(argv)
    epochs = 3 if args.quick else args.epochs
    loss_seeds = 1 if args.quick else max(1, args.loss_seeds)
    if args.no_fast_linear:
        set_fast_linear(False)
    torch.set_num_threads(args.threads)
    warm_up()  # pays the one-off optimiser import before any timing
    data = load_dataset("mnist")

    print("command:", " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]))
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {platform.machine()}, "
          f"{platform.processor() or platform.platform()}")
    print(f"data: MNIST reference split (8000 train / 2000 validation); batch {BATCH}, lr {LR}, "
          f"{epochs} epochs; LatentLab oneDNN linear: {'on' if fast_linear_supported() else 'off'}")
    print()
    rows = timed_run(data, epochs, args.seed, args.threads)
    ratios = [o / c for c, o, *_ in rows]
    c_total = len(rows) * 8000 / sum(8000 / r[0] for r in rows)
    o_total = len(rows) * 8000 / sum(8000 / r[1] for r in rows)
    wall_ratio = sum(r[2] for r in rows) / sum(r[3] for r in rows)
    ratio = statistics.median(ratios)
    print()
    print(f"training images/s over all epochs: canonical {c_total:,.0f}, LatentLab {o_total:,.0f} "
          f"(ratio {o_total / c_total:.2f}); median per-epoch ratio {ratio:.2f} "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f})")
    print(f"wall time ratio with validation included (canonical / LatentLab): {wall_ratio:.2f}")

    finals = [(args.seed, rows[-1][4], rows[-1][5])]
    for seed in range(args.seed + 1, args.seed + loss_seeds):
        finals.append((seed, *final_losses(data, epochs, seed, args.threads)))
    print()
    print(f"validation -ELBO after {epochs} epochs (nats per image, lower is better):")
    for seed, c, o in finals:
        print(f"  seed {seed}: canonical {c:.2f}, LatentLab {o:.2f}")
    c_mean = statistics.mean(c for _, c, _ in finals)
    o_mean = statistics.mean(o for _, _, o in finals)
    diffs = [o - c for _, c, o in finals]
    diff = statistics.mean(diffs)
    print(f"  mean:   canonical {c_mean:.2f}, LatentLab {o_mean:.2f}")
    # Seeds alone move the final -ELBO by about a nat, so "no worse" is judged against the
    # standard error of the paired differences, not against zero.
    if len(diffs) > 1:
        se = statistics.stdev(diffs) / len(diffs) ** 0.5
        print(f"  LatentLab - canonical: {diff:+.2f} nats, standard error {se:.2f} over {len(diffs)} seeds")
        loss_verdict = "met" if diff <= 2 * se else "NOT met"
    else:
        loss_verdict = "met" if diff <= 0 else "NOT met (one seed only: repeat with --loss-seeds 5)"
    print()
    print(f"speed target (median ratio >= {TARGET_RATIO}): {'met' if ratio >= TARGET_RATIO else 'NOT met'}; "
          f"loss target (LatentLab -ELBO no worse beyond 2 standard errors): {loss_verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
