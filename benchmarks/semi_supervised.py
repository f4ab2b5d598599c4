"""Learning from a few labels: the semi-supervised VAE (M2) against its classifier alone.

On the reference MNIST split (the 10,000 bundled digits, seed 0: 8,000 train, 2,000
validation) it keeps 100 training labels (10 per class, seeded) and

* trains the ``ssvae`` family with the other 7,900 training images unlabelled, exactly as
  ``latentlab train --family ssvae --labels 100`` does, and reports the validation accuracy
  of its classifier ``q(y|x)``;
* trains the same classifier network (a fresh ``ssvae`` model's ``classifier``, same seed) on
  the 100 labelled images alone with Adam and cross-entropy, and reports its final validation
  accuracy and its best over training (the best is what perfect early stopping could reach, a
  generous baseline).

Floor: the ssvae reaches at least 85 % and at least 15 points above the classifier alone.

    python benchmarks/semi_supervised.py            # the floor settings
    python benchmarks/semi_supervised.py --quick    # 3 epochs: a sanity run
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from latentlab.core.metrics import accuracy  # noqa: E402
from latentlab.core.models import build_model  # noqa: E402
from latentlab.core.partial_labels import UNLABELLED, keep_labels  # noqa: E402
from latentlab.core.plan import TrainingSettings, plan_training  # noqa: E402
from latentlab.core.training import Progress, train  # noqa: E402
from run import machine  # noqa: E402

FLOOR_ACCURACY = 0.85
FLOOR_GAIN = 0.15


def classifier_alone(plan, labels: int, steps: int) -> tuple[float, float]:
    """Final and best validation accuracy of the ssvae's classifier trained on the labelled images only."""
    data, tc = plan.data, plan.train_config
    train_idx, val_idx = data.split(tc.val_fraction, tc.seed)
    kept = keep_labels(data.labels[train_idx], labels, data.num_classes, tc.seed)
    mine = train_idx[kept != UNLABELLED]
    x, y = data.images[mine], data.labels[mine]
    x_val, y_val = data.images[val_idx], data.labels[val_idx]
    torch.manual_seed(tc.seed)
    model = build_model(plan.model_config)
    opt = torch.optim.Adam(model.classifier.parameters(), lr=tc.lr)
    best = 0.0
    for step in range(1, steps + 1):
        model.train()
        loss = F.cross_entropy(model.class_logits(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 25 == 0 or step == steps:
            best = max(best, accuracy(model, x_val, y_val))
    return accuracy(model, x_val, y_val), best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--labels", type=int, default=100)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--latent-dim", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="3 epochs")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    epochs = 3 if args.quick else args.epochs
    print(f"$ python benchmarks/semi_supervised.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    print(f"machine: {machine()}")
    settings = TrainingSettings(data="mnist", family="ssvae", latent_dim=args.latent_dim, epochs=epochs,
                                labelled=args.labels, device="cpu")
    plan = plan_training(settings, progress_interval_s=1e9)
    start = time.perf_counter()
    gen = train(plan.model_config, plan.data, plan.train_config)
    print(f"ssvae, latent {args.latent_dim}, {args.labels} labels, {epochs} epochs:")
    while True:
        try:
            item = next(gen)
        except StopIteration as stop:
            result = stop.value
            break
        if isinstance(item, Progress) and item.epoch_done and item.val:
            print(f"  epoch {item.epoch:>3}  val accuracy {item.val['accuracy'] * 100:5.1f} %  "
                  f"-ELBO {item.val['neg_elbo']:.1f}  ({time.perf_counter() - start:.0f} s)", flush=True)
    ss_acc = result.history[-1]["val"]["accuracy"]
    start = time.perf_counter()
    alone, alone_best = classifier_alone(plan, args.labels, steps=500)
    print(f"classifier alone on the {args.labels} labelled images (500 full-batch Adam steps, "
          f"{time.perf_counter() - start:.0f} s): final {alone * 100:.1f} %, best {alone_best * 100:.1f} %")
    gain = ss_acc - max(alone, alone_best)
    ok = ss_acc >= FLOOR_ACCURACY and gain >= FLOOR_GAIN
    print(f"\nvalidation accuracy: ssvae {ss_acc * 100:.1f} %, classifier alone {alone * 100:.1f} % "
          f"(best {alone_best * 100:.1f} %); gain over the best {gain * 100:+.1f} points")
    print(f"floor: >= {FLOOR_ACCURACY * 100:.0f} % and >= {FLOOR_GAIN * 100:.0f} points -> {'PASS' if ok else 'FAIL'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
