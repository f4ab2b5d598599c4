"""GAN training speed: LatentLab's trainer against a canonical PyTorch GAN loop, same networks.

The canonical loop is the common textbook one (the PyTorch DCGAN example's structure with MLP
networks): a DataLoader over a TensorDataset with shuffling, a discriminator ending in a
sigmoid with ``nn.BCELoss``, real and fake batches through the discriminator separately,
label tensors made each step, the generator's step backpropagating into the discriminator's
weight gradients too, default (unfused) Adam with beta1 = 0.5, and ``loss.item()`` of both
losses every step. LatentLab trains the same networks (family "gan", MLP hidden (512, 256),
latent 16, the generator 16-256-512-784 with tanh, the discriminator 784-512-256-1, LeakyReLU
0.2) with :func:`latentlab.core.training.train`: data on the device, no DataLoader, fused Adam,
logits with the softplus form of BCE, one discriminator pass over real and fake together, a
frozen discriminator in the generator's step, no per-step read-back — and it also keeps the
generator's moving average, and in its final epoch fits the latent regressor that inversion
starts from.

Both use the reference MNIST split (8,000 train, 2,000 validation), the same batch, seed and
thread count. Epochs are interleaved (the one going first alternates) so a machine getting
busier or quieter affects both alike; the median of the paired per-epoch ratios is the number
to quote. Run ``python benchmarks/gan_speed.py --help`` for options.

It then times the matrix products each loop's step is made of, alone and back to back with
warm caches: their sum bounds how fast either loop can go with these networks, however little
else it does. LatentLab trains in the precision the app picks (``auto``: bfloat16 autocast on a
CPU with native bfloat16 arithmetic, where the GAN's products take half the time, float32
elsewhere); ``--precision fp32`` or ``bf16`` sets it. The canonical loop stays in float32.
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
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from latentlab.core import precision as precisions  # noqa: E402
from latentlab.core.data import load_dataset  # noqa: E402
from latentlab.core.models import ModelConfig, registry  # noqa: E402
from latentlab.core.training import Progress, TrainConfig, train, warm_up  # noqa: E402

BATCH = 64
LR = 2e-4
LATENT = 16
HIDDEN = (512, 256)
TARGET_RATIO = 1.5


def canonical_networks() -> tuple[nn.Module, nn.Module]:
    """The same layers as LatentLab's MLP GAN, with the canonical sigmoid on the discriminator."""
    g = nn.Sequential(nn.Linear(LATENT, 256), nn.LeakyReLU(0.2, inplace=True), nn.Linear(256, 512),
                      nn.LeakyReLU(0.2, inplace=True), nn.Linear(512, 784), nn.Tanh())
    d = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.LeakyReLU(0.2, inplace=True), nn.Linear(512, 256),
                      nn.LeakyReLU(0.2, inplace=True), nn.Linear(256, 1), nn.Sigmoid())
    return g, d


class CanonicalRun:
    """The textbook loop, one epoch per call."""

    def __init__(self, train_x: torch.Tensor, seed: int, batch: int) -> None:
        torch.manual_seed(seed)
        self.g, self.d = canonical_networks()
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=LR, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=LR, betas=(0.5, 0.999))
        self.loader = DataLoader(TensorDataset(train_x * 2 - 1), batch_size=batch, shuffle=True,
                                 generator=torch.Generator().manual_seed(seed))
        self.criterion = nn.BCELoss()
        self.n = len(train_x)

    def epoch(self) -> tuple[float, float, float]:
        """(train seconds, mean D loss, mean G loss)."""
        start = time.perf_counter()
        d_total = g_total = 0.0
        steps = 0
        for (x,) in self.loader:
            b = x.size(0)
            real_label = torch.full((b, 1), 1.0)
            fake_label = torch.full((b, 1), 0.0)
            self.d.zero_grad()
            loss_real = self.criterion(self.d(x), real_label)
            loss_real.backward()
            fake = self.g(torch.randn(b, LATENT))
            loss_fake = self.criterion(self.d(fake.detach()), fake_label)
            loss_fake.backward()
            d_loss = loss_real + loss_fake
            self.opt_d.step()
            self.g.zero_grad()
            g_loss = self.criterion(self.d(fake), real_label)
            g_loss.backward()
            self.opt_g.step()
            d_total += d_loss.item()
            g_total += g_loss.item()
            steps += 1
        return time.perf_counter() - start, d_total / steps, g_total / steps


def step_products(canonical: bool, b: int) -> list[tuple[int, int, int]]:
    """The (rows, inner, columns) of every matrix product in one step of a loop, batch ``b``.

    LatentLab: the generator's pass, one discriminator pass over real and fake together and
    its backward (weight gradients, input gradients of the inner layers), a pass over the fakes
    through the frozen discriminator and back to its input, the generator's backward. The
    canonical loop passes real and fakes separately and fills the discriminator's weight
    gradients in the generator's step too.
    """
    gen = [LATENT, *reversed(HIDDEN), 784]
    dis = [784, *HIDDEN, 1]

    def forward(widths, rows):
        return [(rows, a, b) for a, b in zip(widths, widths[1:])]

    def weight_grads(widths, rows):
        return [(b, rows, a) for a, b in zip(widths, widths[1:])]

    def input_grads(widths, rows, first: bool):
        layers = list(zip(widths, widths[1:]))[0 if first else 1:]
        return [(rows, b, a) for a, b in layers]

    products = forward(gen, b) + weight_grads(gen, b) + input_grads(gen, b, first=False)
    if canonical:
        for _ in range(2):   # real, then fakes: a pass and its backward each
            products += forward(dis, b) + weight_grads(dis, b) + input_grads(dis, b, first=False)
        products += forward(dis, b) + weight_grads(dis, b) + input_grads(dis, b, first=True)
    else:
        products += forward(dis, 2 * b) + weight_grads(dis, 2 * b) + input_grads(dis, 2 * b, first=False)
        products += forward(dis, b) + input_grads(dis, b, first=True)
    return products


def products_time(products: list[tuple[int, int, int]], dtype: torch.dtype, repeats: int = 200) -> float:
    """Seconds one step's products take back to back (the median of ``repeats`` rounds)."""
    pairs = [(torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)) for m, k, n in products]
    rounds = []
    for i in range(repeats + 20):
        start = time.perf_counter()
        for a, b in pairs:
            torch.mm(a, b)
        if i >= 20:
            rounds.append(time.perf_counter() - start)
    return statistics.median(rounds)


def latentlab_epochs(data, epochs: int, seed: int, threads: int, batch: int,
                     precision: str = "auto") -> Iterator[tuple[float, dict[str, float]]]:
    """LatentLab's trainer, paused between epochs; yields (img/s, train terms)."""
    config = ModelConfig(family="gan", arch="mlp", input_shape=(1, 28, 28), latent_dim=LATENT, hidden=HIDDEN)
    gen = train(config, data, TrainConfig(epochs=epochs, batch_size=batch, seed=seed, device="cpu",
                                          threads=threads, val_fraction=0.2, precision=precision))
    for item in gen:
        if isinstance(item, Progress) and item.epoch_done:
            yield item.images_per_s, item.terms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8, help="epochs for each loop (default 8)")
    parser.add_argument("--quick", action="store_true", help="3 epochs: a fast sanity run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=BATCH, help=f"both loops' batch (default {BATCH})")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                        help="LatentLab's training precision (default auto, as the app trains)")
    args = parser.parse_args(argv)
    epochs = 3 if args.quick else args.epochs
    batch = args.batch
    used = precisions.resolve(args.precision, torch.device("cpu"), registry.get("gan"))
    torch.set_num_threads(args.threads)
    warm_up()
    data = load_dataset("mnist")
    train_idx, _ = data.split(0.2, args.seed)

    print("command:", " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]))
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {platform.machine()}, "
          f"{platform.processor() or platform.platform()}, "
          f"cpu capability {torch.backends.cpu.get_cpu_capability()}, "
          f"native bfloat16 {'yes' if precisions.native_bfloat16() else 'no'}")
    print(f"data: MNIST reference split ({len(train_idx)} train); batch {batch}, lr {LR}, latent {LATENT}, "
          f"MLP {HIDDEN}, {epochs} epochs; LatentLab in {used}"
          + (" (the app's choice here)" if args.precision == "auto" else ""))
    print()
    header = (f"{'epoch':>5}  {'canonical img/s':>15}  {'LatentLab img/s':>15}  {'ratio':>6}  "
              f"{'canon D/G loss':>15}  {'LatentLab D/G loss':>18}")
    print(header)
    print("-" * len(header))
    canonical = CanonicalRun(data.images[train_idx], args.seed, batch)
    ours = latentlab_epochs(data, epochs, args.seed, args.threads, batch, used)
    ratios = []
    canon_rates = []
    for epoch in range(1, epochs + 1):
        if epoch % 2:
            c_s, c_d, c_g = canonical.epoch()
            o_rate, terms = next(ours)
        else:
            o_rate, terms = next(ours)
            c_s, c_d, c_g = canonical.epoch()
        c_rate = canonical.n / c_s
        canon_rates.append(c_rate)
        ratios.append(o_rate / c_rate)
        note = "  (+ regressor)" if epoch == epochs else ""
        print(f"{epoch:>5}  {c_rate:>15,.0f}  {o_rate:>15,.0f}  {o_rate / c_rate:>6.2f}  "
              f"{c_d:>7.2f}/{c_g:<7.2f}  {terms['d_loss']:>9.2f}/{terms['g_loss']:<8.2f}{note}", flush=True)
    for _ in ours:
        pass
    ratio = statistics.median(ratios)
    print()
    print(f"median per-epoch images/s ratio LatentLab / canonical: {ratio:.2f} "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f}); floor {TARGET_RATIO}: "
          f"{'met' if ratio >= TARGET_RATIO else 'NOT met'}")
    print()
    ours_dtype = torch.bfloat16 if used == "bf16" else torch.float32
    canon_s = products_time(step_products(True, batch), torch.float32)
    ours_s = products_time(step_products(False, batch), ours_dtype)
    print("matrix products of one step alone (warm caches, back to back):")
    print(f"  canonical: {len(step_products(True, batch))} products, {canon_s * 1e3:.2f} ms "
          f"(at most {batch / canon_s:,.0f} img/s)")
    print(f"  LatentLab: {len(step_products(False, batch))} products, {ours_s * 1e3:.2f} ms in {used} "
          f"(at most {batch / ours_s:,.0f} img/s)")
    bound = batch / ours_s / statistics.median(canon_rates)
    print(f"  LatentLab's products alone against the canonical loop's measured speed: {bound:.2f}x, "
          f"the ratio LatentLab would reach if its step did nothing else")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
