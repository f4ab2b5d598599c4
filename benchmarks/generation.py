"""Generating a labelled data set: does the reference classifier agree with the classes asked for?

Trains a conditional VAE (family ``cvae``, MLP) on the reference MNIST split (the 10,000
bundled digits, seed 0: 8,000 train, 2,000 validation) for at most ``--seconds`` of wall time
(the run is cancelled then and keeps what it has), generates ``--n`` images of every class with
:func:`latentlab.core.generate.generate` — exactly what ``latentlab generate --per-class``
writes — and asks the bundled MNIST classifier (``resources/models/mnist-classifier``) which
digit each image shows, as ``latentlab generate --check`` does.

Floor: with at most 2 minutes of training, 1,000 images per class at temperature 1, the
classifier agrees at least 90 % of the time.

    python benchmarks/generation.py             # the floor settings
    python benchmarks/generation.py --quick     # 20 s of training, 200 images per class
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from latentlab.core.data import load_dataset  # noqa: E402
from run import machine  # noqa: E402
from latentlab.core.generate import class_agreement, generate  # noqa: E402
from latentlab.core.models import ModelConfig  # noqa: E402
from latentlab.core.training import TrainConfig, TrainControl, train  # noqa: E402

FLOOR = 0.90


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=120.0, help="training time limit (default 120)")
    p.add_argument("--epochs", type=int, default=40, help="epochs, unless the time limit comes first")
    p.add_argument("--latent-dim", type=int, default=2)
    p.add_argument("--n", type=int, default=1000, help="images per class (default 1000)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="20 s of training, 200 images per class")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    seconds, n = (20.0, 200) if args.quick else (args.seconds, args.n)
    print(f"$ python benchmarks/generation.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    print(f"machine: {machine()}")
    data = load_dataset("mnist")
    config = ModelConfig(family="cvae", input_shape=data.shape, latent_dim=args.latent_dim, hidden=(400,),
                         num_classes=data.num_classes, label_names=data.class_names)
    control = TrainControl()
    timer = threading.Timer(seconds, control.cancel)
    start = time.perf_counter()
    timer.start()
    gen = train(config, data, TrainConfig(epochs=args.epochs, seed=0, device="cpu"), control)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            result = stop.value
            break
    timer.cancel()
    trained_s = time.perf_counter() - start
    epochs = len(result.history)
    print(f"trained cvae latent {args.latent_dim} for {trained_s:.0f} s ({epochs} full epochs, {result.status}); "
          f"validation -ELBO {result.history[-1]['val']['neg_elbo']:.1f}" if epochs else "no full epoch")
    ok = True
    for temperature in (1.0, 0.7):
        start = time.perf_counter()
        made = generate(result.model, n=n, per_class=True, temperature=temperature, seed=0)
        assert made is not None
        check = class_agreement(made)
        per = "  ".join(f"{k}:{v * 100:.0f}" for k, v in check["per_class"].items())
        print(f"temperature {temperature}: {len(made)} images in {time.perf_counter() - start:.1f} s, classifier "
              f"agrees {check['agreement'] * 100:.1f} %  (per class % {per})")
        if temperature == 1.0:
            ok = check["agreement"] >= FLOOR and trained_s <= seconds + 10
    print(f"floor: >= {FLOOR * 100:.0f} % at temperature 1 after <= {seconds:.0f} s of training -> "
          f"{'PASS' if ok else 'FAIL'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
