"""The probe: one point of the latent space that the decoder shows.

The plane position and the full code travel together, so whoever reads the probe sees a
code that belongs to the position on screen (or, with ``exact``, a code a tool chose that
may lie off the plane: it is drawn at its projection).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from latentlab.gui.state.scene import read_only


@dataclass(frozen=True, eq=False)
class Probe:
    """Where the probe is: plane position ``(x, y)``, its code ``z`` ``[D]`` (None without a
    model), whether ``z`` was set exactly by a tool, and the class a conditional decoder uses."""

    x: float = 0.0
    y: float = 0.0
    z: np.ndarray | None = None
    exact: bool = False
    condition: int = 0

    def __post_init__(self) -> None:
        if self.z is not None:
            object.__setattr__(self, "z", read_only(np.array(self.z, dtype=np.float32).reshape(-1)))

    @property
    def position(self) -> tuple[float, float]:
        return float(self.x), float(self.y)

    def with_changes(self, **changes: Any) -> Probe:
        return replace(self, **changes)


class ProbeModel(QObject):
    """Holds the current :class:`Probe`; ``probeChanged(probe)`` carries every new one."""

    probeChanged = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._value = Probe()

    @property
    def value(self) -> Probe:
        return self._value

    def set(self, probe: Probe) -> None:
        """Make ``probe`` current and announce it (called by the probe's one owner)."""
        self._value = probe
        self.probeChanged.emit(probe)
