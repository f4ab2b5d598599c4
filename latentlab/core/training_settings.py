"""What a person chose to train: :class:`TrainingSettings`, with no torch and no Qt.

The command line builds it from its arguments and the desktop app's training panel from its
form; :func:`latentlab.core.plan.plan_training` turns it into a run. It lives apart from the
planner so the window can build one before torch has loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

__all__ = ["PRECISIONS", "TrainingSettings"]

#: The training precisions a person may ask for (see :mod:`latentlab.core.precision`).
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass(frozen=True)
class TrainingSettings:
    """What a person chose: the data, the model and how to train it.

    ``data`` is a data-set name, a path or a recorded source dict; ``None`` uses the data
    already loaded. ``hidden`` and ``beta`` left ``None`` take the family's defaults (see
    :mod:`latentlab.core.models.registry`). ``options`` are the family's own settings (name →
    value); ``lrs`` learning rates of named optimisers (the others use ``lr``).
    ``continue_training`` continues the current model instead of building a new one.
    ``labelled`` keeps only that many training labels (semi-supervised; see
    :mod:`latentlab.core.partial_labels`).
    ``denoise`` is a noise spec (``gaussian:S``, ``saltpepper:P``, ``mask:P``; see
    :mod:`latentlab.core.models.denoise`) for families that train as denoisers; ``None`` keeps
    the family option (or the continued model's setting), ``""`` turns it off.
    ``precision`` is the training precision (``"auto"``, ``"fp32"``, ``"bf16"``, ``"fp16"``; see
    :mod:`latentlab.core.precision`).
    """

    data: Any = None
    image_size: int | None = None
    color: str = "auto"
    limit: int | None = None
    family: str = "vae"
    arch: str = "mlp"
    latent_dim: int = 2
    hidden: tuple[int, ...] | None = None
    likelihood: str = "bernoulli"
    beta: float | None = None
    kl_warmup_epochs: int = 0
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    val_fraction: float = 0.2
    continue_training: bool = False
    options: Mapping[str, Any] | None = field(default=None, hash=False)
    lrs: Mapping[str, float] | None = field(default=None, hash=False)
    labelled: int | None = None
    denoise: str | None = None
    precision: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["hidden"] is not None:
            d["hidden"] = list(d["hidden"])
        for key in ("options", "lrs"):
            d[key] = None if d[key] is None else dict(d[key])
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainingSettings:
        """Settings from a dict (unknown keys are ignored: a newer version may have written them)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in d.items() if k in known}
        if values.get("hidden") is not None:
            values["hidden"] = tuple(int(v) for v in values["hidden"])
        return cls(**values)

    def with_changes(self, **changes: Any) -> TrainingSettings:
        return replace(self, **changes)
