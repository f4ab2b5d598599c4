"""The scene: the model, the data and the plane the latent view shows, as one value.

A :class:`Scene` is replaced, never edited: its codes, plane coordinates and axis names
always belong to the same model, data set and plane, so a view that draws a scene cannot
show one model's points under another model's axes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal


def read_only(array: np.ndarray | None) -> np.ndarray | None:
    """``array`` marked read-only (the values a scene or probe hands out are shared)."""
    if array is not None:
        array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Scene:
    """What the latent plane shows.

    ``model_key`` and ``data_key`` change whenever another model or data set becomes current
    (0: none); weights that change while training keep the model's key. ``codes`` ``[N, D]``,
    ``xy`` ``[N, 2]`` and ``labels`` ``[N]`` are read-only arrays, None until encoded.
    ``item_image(i)`` gives data item ``i`` as ``[C, H, W]`` in [0, 1].
    """

    model_key: int = 0
    model_name: str = "no model"
    model_path: str | None = None
    model_config: Any = None
    model_ready: bool = False          # can encode and decode (a PCA model must be fitted first)
    fits_data: bool = False            # the model can take the current data set
    data_key: int = 0
    data_name: str = ""
    trained_on: str = ""               # the name of the data the model was trained on ("" unknown)
    data_source: dict[str, Any] | None = None
    data_size: int = 0
    item_image: Callable[[int], np.ndarray] | None = None
    plane: Any = None                  # a core latent Plane, or None without a model
    plane_kind: str = "pca"
    plane_dims: tuple[int, int] = (0, 1)
    anchors: tuple[int, ...] = ()      # data items the "points" plane passes through
    codes: np.ndarray | None = None
    xy: np.ndarray | None = None
    labels: np.ndarray | None = None
    class_names: tuple[str, ...] = ()
    axis_names: tuple[str, str] = ("z₀", "z₁")
    output: Any = None                 # the model's output spec (core.render.OutputSpec), None without one
    # Each item's RMS pixel error [N] when the codes were found by inverting a generator
    # (a model without an encoder), else None: how well the model reproduces each point.
    errors: np.ndarray | None = None

    def __post_init__(self) -> None:
        for array in (self.codes, self.xy, self.labels, self.errors):
            read_only(array)

    @property
    def has_model(self) -> bool:
        return self.model_config is not None

    @property
    def latent_dim(self) -> int:
        return 0 if self.model_config is None else int(self.model_config.latent_dim)

    @property
    def conditional(self) -> bool:
        return self.model_config is not None and bool(self.model_config.is_conditional)

    @property
    def condition_names(self) -> tuple[str, ...]:
        """Names of the classes a conditional decoder takes (empty otherwise)."""
        cfg = self.model_config
        if cfg is None or not cfg.is_conditional:
            return ()
        return tuple(cfg.label_names) or tuple(str(k) for k in range(cfg.num_classes))

    def layout_key(self) -> tuple[Any, ...]:
        """Equal for two scenes whose points are the same items on the same kind of plane:
        a view may then move its points instead of rebuilding them."""
        anchors = self.anchors if self.plane_kind == "points" else ()
        return self.model_key, self.data_key, self.plane_kind, self.plane_dims, anchors

    def item_text(self, index: int) -> str:
        """"item 12 · 7": a data item and its class, for the status bar and lists; with
        "· generator error 0.231" when the codes come from inverting a generator."""
        text = f"item {index}"
        if self.labels is not None and 0 <= index < len(self.labels):
            k = int(self.labels[index])
            text += f" · {self.class_names[k] if 0 <= k < len(self.class_names) else k}"
        if self.errors is not None and 0 <= index < len(self.errors):
            text += f" · generator error {float(self.errors[index]):.3f}"
        return text


class SceneModel(QObject):
    """Holds the current :class:`Scene`; ``sceneChanged(scene)`` carries every new one."""

    sceneChanged = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._value = Scene()

    @property
    def value(self) -> Scene:
        return self._value

    def set(self, scene: Scene) -> None:
        """Make ``scene`` current and announce it (called by the scene's one owner)."""
        self._value = scene
        self.sceneChanged.emit(scene)
