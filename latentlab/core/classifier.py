"""The reference digit classifier: a small CNN whose penultimate layer is the feature space of
the sample-quality measures (:mod:`latentlab.core.quality`).

It ships in ``resources/models/mnist-classifier/`` as ``model.safetensors`` plus
``config.json`` and is trained on the 8,000 training digits of the bundled MNIST reference
split (``load_dataset("mnist").split(0.2, 0)``), never on the 2,000 validation digits.
Training is deterministic on a CPU with one thread: :func:`train_classifier` seeds its own
generators, so the same command writes the same bytes::

    python -m latentlab.core.classifier --out resources/models/mnist-classifier

Loading reads no pickle: the files' sizes are capped, the weights are safetensors, and every
tensor is checked against the architecture in ``config.json`` before it is used.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from latentlab.core.errors import LatentLabError

__all__ = ["CLASSIFIER_FORMAT", "Classifier", "ClassifierConfig", "bundled_classifier", "load_classifier",
           "save_classifier", "train_classifier"]

CLASSIFIER_FORMAT = "latentlab-image-classifier"
FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
MAX_CONFIG_BYTES = 1024**2
MAX_WEIGHTS_BYTES = 64 * 1024**2
MAX_CHANNELS = 512


@dataclass(frozen=True)
class ClassifierConfig:
    """The classifier's architecture: two conv blocks, a feature layer, a linear read-out."""

    input_shape: tuple[int, int, int] = (1, 28, 28)
    channels: tuple[int, int] = (16, 32)
    features: int = 64
    num_classes: int = 10
    class_names: tuple[str, ...] = tuple(str(i) for i in range(10))

    def __post_init__(self) -> None:
        c, h, w = self.input_shape
        if c not in (1, 3) or h < 4 or w < 4 or h % 4 or w % 4:
            raise LatentLabError(f"classifier input must be (1 or 3, H, W) with H and W multiples of 4, "
                                 f"got {self.input_shape}")
        if len(self.channels) != 2 or not all(1 <= v <= MAX_CHANNELS for v in self.channels):
            raise LatentLabError(f"classifier channels must be two counts in 1..{MAX_CHANNELS}, got {self.channels}")
        if not 1 <= self.features <= 4096 or not 2 <= self.num_classes <= 1000:
            raise LatentLabError("classifier features must be 1..4096 and classes 2..1000")
        if len(self.class_names) != self.num_classes:
            raise LatentLabError(f"{self.num_classes} classes need {self.num_classes} class names")

    def to_dict(self) -> dict[str, Any]:
        return {"input_shape": list(self.input_shape), "channels": list(self.channels),
                "features": self.features, "num_classes": self.num_classes,
                "class_names": list(self.class_names)}

    @classmethod
    def from_dict(cls, d: Any) -> ClassifierConfig:
        if not isinstance(d, dict):
            raise LatentLabError("the classifier's architecture must be a JSON object")
        try:
            return cls(input_shape=tuple(int(v) for v in d["input_shape"]),  # type: ignore[arg-type]
                       channels=tuple(int(v) for v in d["channels"]),  # type: ignore[arg-type]
                       features=int(d["features"]), num_classes=int(d["num_classes"]),
                       class_names=tuple(str(v) for v in d["class_names"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise LatentLabError(f"the classifier's architecture is incomplete or invalid ({exc})") from None


class Classifier(nn.Module):
    """``conv-relu-pool`` ×2 → ``features`` (ReLU; the feature space) → class logits."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        c, h, w = config.input_shape
        c1, c2 = config.channels
        self.conv1 = nn.Conv2d(c, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.hidden = nn.Linear(c2 * (h // 4) * (w // 4), config.features)
        self.out = nn.Linear(config.features, config.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate layer ``[B, features]`` of images ``[B, C, H, W]`` in [0, 1]."""
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        return F.relu(self.hidden(h.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x))


# -- training -------------------------------------------------------------------------------
def _shifted(x: torch.Tensor, gen: torch.Generator, max_shift: int) -> torch.Tensor:
    """Each image moved by a random whole-pixel offset in ``[-max_shift, max_shift]`` (zero fill)."""
    if max_shift <= 0:
        return x
    b, _, h, w = x.shape
    pad = F.pad(x, (max_shift,) * 4)
    dy = torch.randint(0, 2 * max_shift + 1, (b,), generator=gen)
    dx = torch.randint(0, 2 * max_shift + 1, (b,), generator=gen)
    rows = (dy[:, None] + torch.arange(h)[None, :])[:, None, :, None].expand(b, x.shape[1], h, w + 2 * max_shift)
    picked = pad.gather(2, rows)
    cols = (dx[:, None] + torch.arange(w)[None, :])[:, None, None, :].expand(b, x.shape[1], h, w)
    return picked.gather(3, cols)


def train_classifier(images: torch.Tensor, labels: torch.Tensor, *, config: ClassifierConfig | None = None,
                     epochs: int = 12, batch_size: int = 64, lr: float = 2e-3, seed: int = 0,
                     max_shift: int = 2, threads: int | None = 1) -> Classifier:
    """Train a :class:`Classifier` on ``images`` ``[N, C, H, W]`` and int64 ``labels`` ``[N]``.

    Deterministic on a CPU: the initial weights, the shuffling and the augmentation (random
    shifts of up to ``max_shift`` pixels) come from generators seeded with ``seed``, and the
    run uses ``threads`` torch threads (1 for bit-identical results across runs). The learning
    rate falls along a cosine from ``lr`` to 0. Returns the model in eval mode on the CPU.
    """
    if images.ndim != 4 or labels.shape != (images.shape[0],) or images.shape[0] == 0:
        raise LatentLabError("training a classifier needs images [N, C, H, W] and one label per image")
    if config is None:
        config = ClassifierConfig(input_shape=tuple(images.shape[1:]))  # type: ignore[arg-type]
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # the initial weights
            model = Classifier(config)
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        n = int(images.shape[0])
        steps = epochs * math.ceil(n / batch_size)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
        x_all, y_all = images.to(torch.float32), labels.to(torch.int64)
        model.train()
        for _ in range(epochs):
            order = torch.randperm(n, generator=gen)
            for lo in range(0, n, batch_size):
                idx = order[lo:lo + batch_size]
                x = _shifted(x_all[idx], gen, max_shift)
                loss = F.cross_entropy(model(x), y_all[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
    finally:
        torch.set_num_threads(previous)
    return model.eval()


def accuracy(model: Classifier, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """The fraction of ``images`` whose predicted class is ``labels``."""
    with torch.inference_mode():
        right = sum(int((model(images[i:i + batch_size]).argmax(1) == labels[i:i + batch_size]).sum())
                    for i in range(0, len(images), batch_size))
    return right / max(1, len(images))


# -- files ----------------------------------------------------------------------------------
def save_classifier(model: Classifier, folder: str | os.PathLike[str], *, meta: dict[str, Any] | None = None) -> Path:
    """Write ``config.json`` and ``model.safetensors`` into ``folder`` (created), each atomically."""
    import safetensors.torch

    from latentlab.core.atomic_file import atomic_write

    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    weights = safetensors.torch.save(state)
    config = {"format": CLASSIFIER_FORMAT, "format_version": FORMAT_VERSION,
              "architecture": model.config.to_dict(), **(meta or {})}
    text = (json.dumps(config, indent=2, sort_keys=True) + "\n").encode()
    atomic_write(target / WEIGHTS_NAME, lambda f: f.write(weights))
    atomic_write(target / CONFIG_NAME, lambda f: f.write(text))
    return target


def _read_capped(path: Path, limit: int) -> bytes:
    try:
        if not path.is_file():
            raise LatentLabError(f"{path.parent}: missing {path.name}; this folder is not a LatentLab classifier")
        if path.stat().st_size > limit:
            raise LatentLabError(f"{path}: the file is too large for a classifier ({path.stat().st_size} bytes)")
        return path.read_bytes()
    except OSError as exc:
        raise LatentLabError(f"{path}: cannot read the file ({exc.strerror or exc})") from None


def load_classifier(folder: str | os.PathLike[str]) -> tuple[Classifier, dict[str, Any]]:
    """A classifier folder → ``(model in eval mode on the CPU, its config.json)``.

    Raises :class:`LatentLabError` naming the file for anything that is not a valid classifier.
    """
    from latentlab.core.checkpoint_read import _parse_weights

    root = Path(folder)
    raw = _read_capped(root / CONFIG_NAME, MAX_CONFIG_BYTES)
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LatentLabError(f"{root / CONFIG_NAME}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != CLASSIFIER_FORMAT:
        raise LatentLabError(f"{root / CONFIG_NAME}: not a LatentLab classifier configuration")
    if meta.get("format_version") != FORMAT_VERSION:
        raise LatentLabError(f"{root / CONFIG_NAME}: unsupported format_version {meta.get('format_version')!r}")
    try:
        config = ClassifierConfig.from_dict(meta.get("architecture"))
    except LatentLabError as exc:
        raise LatentLabError(f"{root / CONFIG_NAME}: {exc}") from None
    tensors = _parse_weights(root, _read_capped(root / WEIGHTS_NAME, MAX_WEIGHTS_BYTES))
    model = Classifier(config)
    expected = model.state_dict()
    if set(tensors) != set(expected):
        raise LatentLabError(f"{root / WEIGHTS_NAME}: its tensors do not match the classifier's architecture")
    for name, ref in expected.items():
        got = tensors[name]
        if got.shape != ref.shape or got.dtype != ref.dtype or not bool(torch.isfinite(got).all()):
            raise LatentLabError(f"{root / WEIGHTS_NAME}: tensor {name} has the wrong shape or type, "
                                 "or holds NaN or infinite values")
    model.load_state_dict(tensors, strict=True)
    return model.eval(), meta


_bundled: Classifier | None = None
_bundled_lock = threading.Lock()


def bundled_classifier() -> Classifier:
    """The shipped MNIST classifier (loaded once, on any thread; treat it as read-only)."""
    global _bundled
    with _bundled_lock:
        if _bundled is None:
            from latentlab.resources_path import resource_path

            _bundled, _ = load_classifier(resource_path("models", "mnist-classifier"))
        return _bundled


# -- the command that makes the bundled file -------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Train the reference classifier on the MNIST training split and save it."""
    p = argparse.ArgumentParser(prog="python -m latentlab.core.classifier",
                                description="Train the reference MNIST classifier (deterministic on a CPU).")
    p.add_argument("--out", required=True, help="folder to write config.json and model.safetensors into")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    from latentlab.core.data import load_dataset

    data = load_dataset("mnist")
    train_idx, val_idx = data.split(0.2, 0)
    assert data.labels is not None
    model = train_classifier(data.images[train_idx], data.labels[train_idx], epochs=args.epochs, seed=args.seed,
                             threads=1)
    with torch.inference_mode():
        val_acc = accuracy(model, data.images[val_idx], data.labels[val_idx])
    meta = {"training": {"data": "bundled MNIST, reference split (val_fraction 0.2, seed 0): the 8,000 "
                                 "training digits", "epochs": args.epochs, "seed": args.seed,
                         "batch_size": 64, "lr": 2e-3, "max_shift": 2, "threads": 1,
                         "torch": torch.__version__.split("+")[0]},
            "validation_accuracy": round(val_acc, 4)}
    save_classifier(model, args.out, meta=meta)
    print(f"validation accuracy {val_acc:.4f} on {len(val_idx)} digits; saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
