"""Learning from a few labels: the semi-supervised VAE (M2) against its classifier alone.

On the reference MNIST split (the 10,000 bundled digits, seed 0: 8,000 train, 2,000
validation) it keeps 100 training labels (10 per class, seeded) and

* trains the ``ssvae`` family with the other 7,900 training images unlabelled, exactly as
  ``latentlab train --family ssvae --labels 100`` does, and reports the validation accuracy
  of its classifier ``q(y|x)``;
* trains the same classifier network (a fresh ``ssvae`` model's ``classifier``, same seed) on
  the 100 labelled images alone with Adam and cross-entropy (its own dropout), twice: plain,
  and with the random affine jitter of the ssvae's jitter consistency as augmentation; it
  reports each one's final validation accuracy and its best over training (the best is what
  perfect early stopping could reach, a generous baseline).

The floor's gain is measured against the baseline that sees the images as the ssvae does: the
plain one while its consistency term is virtual adversarial (the default) or off, the jittered
one when the consistency term uses jitter; the other is printed beside it.

Floor: the ssvae reaches at least 85 % and at least 15 points above the classifier alone.

    python benchmarks/semi_supervised.py            # the floor settings (50 epochs)
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
from latentlab.core.models.ssvae_model import jitter  # noqa: E402
from latentlab.core.partial_labels import UNLABELLED, keep_labels  # noqa: E402
from latentlab.core.plan import TrainingSettings, plan_training  # noqa: E402
from latentlab.core.training import Progress, train  # noqa: E402
from run import machine  # noqa: E402

FLOOR_ACCURACY = 0.85
FLOOR_GAIN = 0.15
#: Steps of the classifier-alone baselines (its best over training is reported: generous).
BASELINE_STEPS = 1000


def classifier_alone(plan, labels: int, steps: int, jitter_pixels: float = 0.0) -> tuple[float, float]:
    """Final and best validation accuracy of the ssvae's classifier trained on the labelled images only.

    Full-batch Adam on cross-entropy, with the network's own dropout; with ``jitter_pixels``
    every step sees a fresh random affine jitter of the labelled images (the same jitter the
    ssvae's consistency term uses), i.e. plain data augmentation.
    """
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
        loss = F.cross_entropy(model.class_logits(jitter(x, jitter_pixels)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 25 == 0 or step == steps:
            best = max(best, accuracy(model, x_val, y_val))
    return accuracy(model, x_val, y_val), best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--labels", type=int, default=100)
    p.add_argument("--epochs", type=int, default=50)
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
    options = plan.model_config.options
    # The ssvae sees the digits under a random affine jitter only when its consistency term
    # uses jitter (vat 0); then the fair supervised baseline is trained with the same jitter.
    ss_jitters = options["consistency"] > 0 and options["vat"] == 0 and options["jitter"] > 0
    pixels_jitter = options["jitter"] if options["jitter"] > 0 else 2.0  # the family's default shift
    rows = []
    for name, pixels in (("plain", 0.0), (f"jitter {pixels_jitter:g} px", pixels_jitter)):
        start = time.perf_counter()
        final, best = classifier_alone(plan, args.labels, BASELINE_STEPS, pixels)
        rows.append((name, pixels, final, best))
        print(f"classifier alone on the {args.labels} labelled images, {name} ({BASELINE_STEPS} full-batch Adam "
              f"steps, {time.perf_counter() - start:.0f} s): final {final * 100:.1f} %, best {best * 100:.1f} %")
    matching = [r for r in rows if (r[1] > 0) == ss_jitters]
    baseline = max(max(r[2], r[3]) for r in matching)
    gain = ss_acc - baseline
    ok = ss_acc >= FLOOR_ACCURACY and gain >= FLOOR_GAIN
    print(f"\nssvae options: {options}")
    print(f"validation accuracy: ssvae {ss_acc * 100:.1f} %, classifier alone (trained as the ssvae's classifier "
          f"sees its images: {'with' if ss_jitters else 'without'} jitter) best {baseline * 100:.1f} %; "
          f"gain {gain * 100:+.1f} points")
    other = max(max(r[2], r[3]) for r in rows if r not in matching)
    print(f"for reference, the classifier alone {'without' if ss_jitters else 'with'} jitter: best "
          f"{other * 100:.1f} % (gain {(ss_acc - other) * 100:+.1f} points)")
    print(f"floor: >= {FLOOR_ACCURACY * 100:.0f} % and >= {FLOOR_GAIN * 100:.0f} points -> {'PASS' if ok else 'FAIL'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
