"""Toy model families whose decoders make sequences, for tests of every face.

``toy-strokes`` decodes a code ``z = (a, b)`` to pen strokes ``[T, 3]`` (x, y, pen): an
ellipse with radii ``1 + 0.5 a`` and ``1 + 0.5 b``, drawn with the pen lifted for a gap in
the middle. ``toy-signals`` decodes ``z`` to two signal channels ``[T, 2]``, a sine scaled
by ``a`` and a cosine scaled by ``b``. Both are linear in ``z`` where it matters, so their
encoders are exact least-squares inverses: encoding a decoded output gives its code back.

They are registered only inside :func:`toy_families` (a context manager; wrap a test in it
with a fixture), so the registry outside a test holds the built-in families alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from latentlab.core.models import Capabilities, Family, ModelConfig, registry
from latentlab.core.models.base import LatentModel

STEPS = 24
STROKE_FEATURES = ("x", "y", "pen")
SIGNAL_FEATURES = ("sine", "cosine")
GAP = (10, 14)  # steps where the pen is up in toy-strokes


def _angles(steps: int) -> torch.Tensor:
    # Not quite a full turn, so the first and last points differ.
    return torch.linspace(0.0, 1.8 * math.pi, steps)


class ToySequenceModel(LatentModel):
    """A code ``[D = 2]`` to a sequence ``[T, F]`` by a fixed linear map plus an offset.

    Nothing is learnt (``trainable`` is False); the map lives in buffers, so the model saves
    and loads like any other.
    """

    trainable = False

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        t = _angles(config.input_shape[0])
        if config.family == "toy-strokes":
            # Column layout: x = cos (1 + 0.5 a), y = sin (1 + 0.5 b), pen fixed.
            offset = torch.stack([t.cos(), t.sin(), torch.ones_like(t)], dim=1)
            offset[GAP[0]:GAP[1], 2] = 0.0
            basis = torch.zeros(2, *offset.shape)
            basis[0, :, 0] = 0.5 * t.cos()
            basis[1, :, 1] = 0.5 * t.sin()
        else:
            offset = torch.zeros(len(t), 2)
            basis = torch.zeros(2, len(t), 2)
            basis[0, :, 0] = torch.sin(2 * t)
            basis[1, :, 1] = torch.cos(2 * t)
        self.register_buffer("offset", offset)
        self.register_buffer("basis", basis)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.offset + torch.einsum("bd,dtf->btf", z, self.basis)

    def decode_image(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        # The decoded output of any kind; sequences are not squashed into [0, 1].
        return self.decode(z, y)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, None]:
        flat = self.basis.reshape(self.basis.shape[0], -1)        # [D, T*F]
        rest = (x - self.offset).reshape(len(x), -1)              # [B, T*F]
        mu = torch.linalg.lstsq(flat.T, rest.T).solution.T       # [B, D]
        return mu, None


def _declare(name: str, what: str) -> Family:
    return Family(name=name, title=f"Toy {what}", description=f"A fixed map from a 2-D code to {what}.",
                  capabilities=Capabilities(output="sequence", trainable=False), build=ToySequenceModel,
                  archs=("mlp",))


STROKES_FAMILY = _declare("toy-strokes", "pen strokes")
SIGNALS_FAMILY = _declare("toy-signals", "two signals")
FAMILIES = (STROKES_FAMILY, SIGNALS_FAMILY)


@contextmanager
def toy_families() -> Iterator[None]:
    """Register ``toy-strokes`` and ``toy-signals`` for the duration of the block.

    The families are removed again afterwards, unless they were registered before.
    """
    added = [f.name for f in FAMILIES if f.name not in registry.names()]
    for family in FAMILIES:
        registry.register(family)  # registering the same family object again is allowed
    try:
        yield
    finally:
        for name in added:
            registry.unregister(name)


def toy_config(family: str = "toy-strokes") -> ModelConfig:
    """The config of a toy model: strokes ``[24, 3]`` or two signals ``[24, 2]`` (families registered)."""
    features = STROKE_FEATURES if family == "toy-strokes" else SIGNAL_FEATURES
    return ModelConfig(family=family, input_shape=(STEPS, len(features)), feature_names=features)


def toy_model(family: str = "toy-strokes") -> ToySequenceModel:
    """A toy sequence model in eval mode (the families must be registered: :func:`toy_families`)."""
    return ToySequenceModel(toy_config(family)).eval()
