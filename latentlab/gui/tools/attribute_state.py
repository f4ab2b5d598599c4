"""The attribute-vector part of the tools' state: the chosen direction, its base and arrow.

:class:`AttributeStateMixin` is part of
:class:`~latentlab.gui.tools.tools_controller.ToolsController`, which holds the host
callables, the ``arrowChanged`` / ``arrowCleared`` signals and the probe. The maths lives
in :mod:`latentlab.core.latent`; :func:`float_tensor` hands it numpy arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from latentlab.core.errors import LatentLabError
from latentlab.core.latent import Plane, apply_attribute, attribute_vector

Array = np.ndarray


@dataclass
class Attribute:
    """The chosen attribute direction: from ``from_class`` (None: all data) to ``to_class``."""

    to_class: int
    from_class: int | None
    vector: Array
    amount: float = 1.0


def float_tensor(a: Array) -> torch.Tensor:
    """``a`` as a contiguous float32 tensor (sharing memory where it can)."""
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


class AttributeStateMixin:
    """Attribute-vector methods of the tools controller (see the module doc)."""

    attribute: Attribute | None
    _base_z: Array | None      # where the probe was when the attribute was applied
    _applied_z: Array | None   # where applying it put the probe
    _codes: Callable[[], Array | None]
    _labels: Callable[[], Array | None]
    _plane: Callable[[], Plane | None]

    def has_labels(self) -> bool:
        """Whether the data set has labels (attribute vectors need them)."""
        return self._labels() is not None

    def _vector(self, to_class: int, from_class: int | None) -> Array:
        codes, labels = self._codes(), self._labels()
        if labels is None:
            raise LatentLabError("Attribute vectors need labelled data; this data set has no labels.")
        if codes is None:
            raise LatentLabError("The data set has not been encoded yet; wait for the plane to fill.")
        vec = attribute_vector(float_tensor(codes), torch.as_tensor(np.asarray(labels)), int(to_class),
                               None if from_class is None else int(from_class))
        return vec.numpy()

    def set_attribute(self, to_class: int, from_class: int | None = None, amount: float = 1.0) -> Array:
        """Choose the direction from ``from_class``'s mean (None: all data) to ``to_class``'s."""
        vec = self._vector(to_class, from_class)
        self.attribute = Attribute(int(to_class), None if from_class is None else int(from_class), vec, float(amount))
        # The base stays: re-applying with other classes starts from the same code.
        self._emit_arrow()
        return vec.copy()

    def _at_applied(self, z: Array | None) -> bool:
        return z is not None and self._applied_z is not None and np.allclose(z, self._applied_z, atol=1e-6)

    def base_code(self) -> Array | None:
        """The code the attribute starts from: the probe, or the last base while the probe
        still sits where applying put it (so changing the amount never compounds)."""
        z = self.probe_or_none()
        return self._base_z.copy() if self._base_z is not None and self._at_applied(z) else z

    def is_applied(self) -> bool:
        """Whether the probe sits where the attribute put it (the amount then moves it)."""
        return self.attribute is not None and self._at_applied(self.probe_or_none())

    def apply(self, amount: float | None = None) -> Array:
        """Move the probe to ``base + amount * vector`` (see :meth:`base_code`); return it."""
        if self.attribute is None:
            raise LatentLabError("Choose the classes of the attribute first.")
        if amount is not None:
            self.attribute.amount = float(amount)
        base = self.base_code()
        if base is None:
            raise LatentLabError("Open or train a model first: there is no probe to use.")
        vector = float_tensor(self.attribute.vector)
        new = apply_attribute(float_tensor(base), vector, self.attribute.amount).numpy()
        self._base_z, self._applied_z = base, new
        self.move_probe(new)
        return new.copy()

    def arrow_xy(self) -> tuple[Array, Array] | None:
        """The arrow from the base code to base + vector, in plane coordinates (or None)."""
        plane, base = self._plane(), self.base_code()
        if self.attribute is None or base is None or plane is None:
            return None
        xy = plane.project(float_tensor(np.stack([base, base + self.attribute.vector]))).numpy()
        return xy[0], xy[1]

    def _emit_arrow(self) -> None:
        ends = self.arrow_xy()
        if ends is not None:
            self.arrowChanged.emit(*ends)

    def clear_attribute(self) -> None:
        """Forget the attribute direction and hide its arrow."""
        self.attribute = None
        self._base_z = self._applied_z = None
        self.arrowCleared.emit()
