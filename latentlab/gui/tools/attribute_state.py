"""What the attribute tool remembers: the chosen direction, and numpy-to-torch for the maths.

:class:`Attribute` is the choice the :class:`~latentlab.gui.tools.tools_controller.ToolsController`
keeps; the maths lives in :mod:`latentlab.core.latent`. :func:`float_tensor` hands it numpy
arrays, including the read-only ones a scene shares.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

Array = np.ndarray


@dataclass
class Attribute:
    """The chosen attribute direction: from ``from_class`` (None: all data) to ``to_class``."""

    to_class: int
    from_class: int | None
    vector: Array
    amount: float = 1.0


def float_tensor(a: Array) -> torch.Tensor:
    """``a`` as a contiguous float32 tensor (sharing memory where it can; read-only arrays,
    which torch cannot share, are copied)."""
    arr = np.ascontiguousarray(a, dtype=np.float32)
    return torch.from_numpy(arr if arr.flags.writeable else arr.copy())
