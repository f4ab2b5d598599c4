"""Learning from a few labels: which training labels a semi-supervised run keeps.

A run that keeps ``N`` labels (``TrainConfig.labelled``) keeps ``N`` of the training split's
labels, balanced over the classes (``N // K`` each, the remainder to randomly chosen classes)
and chosen with the run's seed; every other training item is handed to the family's step as
unlabelled, with the label :data:`UNLABELLED`. Validation keeps every label, so accuracy is
measured on all of them.

Only a family that classifies (``capabilities.classifies``) can learn from unlabelled items;
the trainer refuses the setting for any other. Because the few labelled items would be rare
in a shuffled batch (100 of 8,000 is one or two a batch), the trainer adds
:func:`labelled_per_batch` items drawn from the labelled pool to every batch.
"""

from __future__ import annotations

from typing import Any

import torch

from latentlab.core.errors import LatentLabError

__all__ = ["UNLABELLED", "check_labelled", "keep_labels", "kept_items", "labelled_per_batch"]

#: The label of an item whose label a semi-supervised run does not use.
UNLABELLED = -1


def check_labelled(n: int, labels: torch.Tensor | None, num_classes: int, *, family_name: str,
                   classifies: bool) -> None:
    """Raise LatentLabError when ``n`` labels cannot be kept of the training ``labels``."""
    if not classifies:
        raise LatentLabError(f"the {family_name} family cannot learn from unlabelled images; keeping only "
                             "some labels needs a family that classifies (e.g. ssvae)")
    if labels is None:
        raise LatentLabError("keeping some labels needs labelled data; this data set has no labels")
    if isinstance(n, bool) or n < 1:
        raise LatentLabError(f"the number of labels to keep must be at least 1, got {n}")
    if n > len(labels):
        raise LatentLabError(f"cannot keep {n:,} labels: the training split has only {len(labels):,} images")
    if n < num_classes:
        raise LatentLabError(f"keep at least one label per class: {num_classes} classes need at least "
                             f"{num_classes} labels, got {n}")
    counts = torch.bincount(labels.to("cpu", torch.int64), minlength=num_classes)
    need = -(-n // num_classes)  # the most any class may have to give
    short = [str(c) for c, count in enumerate(counts.tolist()) if count < need]
    if short:
        raise LatentLabError(f"cannot keep {n} labels balanced over {num_classes} classes: class "
                             f"{', '.join(short)} has fewer than {need} training images; keep fewer labels")


def keep_labels(labels: torch.Tensor, n: int, num_classes: int, seed: int) -> torch.Tensor:
    """A copy of ``labels`` ``[N]`` with all but ``n`` (balanced, seeded) set to :data:`UNLABELLED`."""
    labels = labels.to("cpu", torch.int64)
    gen = torch.Generator().manual_seed(seed)
    per_class = [n // num_classes] * num_classes
    for c in torch.randperm(num_classes, generator=gen)[: n % num_classes].tolist():
        per_class[c] += 1
    out = torch.full_like(labels, UNLABELLED)
    for c, take in enumerate(per_class):
        where = torch.nonzero(labels == c).flatten()
        chosen = where[torch.randperm(len(where), generator=gen)[:take]]
        out[chosen] = c
    return out


def kept_items(data: Any, n: int, val_fraction: float, seed: int) -> torch.Tensor:
    """Indices (into ``data``, ascending) of the items whose labels a run kept.

    The trainer's own choice: ``data.split(val_fraction, seed)``, then :func:`keep_labels` over
    the training split's labels with the run's seed. It is exact for the data the run trained
    on (same items, same order), so a saved model's training settings (``labelled``,
    ``val_fraction``, ``seed``) and its data's fingerprint are enough to find them again.
    """
    if data.labels is None:
        raise LatentLabError("keeping some labels needs labelled data; this data set has no labels")
    train_idx, _ = data.split(val_fraction, seed)
    kept = keep_labels(data.labels[train_idx], n, data.num_classes, seed)
    return torch.sort(train_idx[kept != UNLABELLED]).values


def labelled_per_batch(batch: int, pool: int) -> int:
    """How many labelled items the trainer adds to a batch of ``batch``: a quarter, at most the pool."""
    return max(1, min(pool, -(-batch // 4)))
