"""What File ▸ Open Model opens: a LatentLab model, or an ONNX encoder and decoder.

A LatentLab model is a folder (``config.json`` + weights) or a ``.latentlab`` file, read by
:func:`latentlab.core.checkpoint.load_model`. ONNX models are read by
:func:`latentlab.core.onnx_io.load_onnx`: a folder holding ``decoder.onnx`` (and optionally
``encoder.onnx`` and ``latentlab-onnx.json``), or one ``.onnx`` file, which is a decoder alone
(e.g. a GAN's generator) unless it sits in such a folder, in which case the folder is the model:
choosing ``encoder.onnx`` or ``decoder.onnx`` opens the pair.

:func:`model_location` is pure path logic (the window calls it before torch has loaded);
:func:`load_model` does the reading.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FILE_FILTER", "OpenedModel", "content_hash", "is_onnx", "load_model", "model_location"]

FILE_FILTER = "Models (config.json *.latentlab *.onnx);;LatentLab models (config.json *.latentlab);;" \
              "ONNX models (*.onnx);;All files (*)"
_ONNX_FOLDER_MARKERS = ("latentlab-onnx.json", "decoder.onnx")   # as core.onnx_io names them


@dataclass
class OpenedModel:
    """A model read from disk, whichever format: the model, its ``config.json`` (empty for
    ONNX) and the path it came from."""

    model: Any
    meta: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    @property
    def config(self) -> Any:
        """The model's :class:`~latentlab.core.models.config.ModelConfig`."""
        return self.model.config


def _onnx_folder(folder: str) -> bool:
    return any(os.path.isfile(os.path.join(folder, name)) for name in _ONNX_FOLDER_MARKERS)


def model_location(path: str) -> str:
    """The model a chosen file stands for: the folder of a ``config.json``, the folder of an
    ``.onnx`` file that is part of an ONNX model folder, else the path itself."""
    name = os.path.basename(path)
    folder = os.path.dirname(path)
    if name == "config.json":
        return folder
    if name.lower().endswith(".onnx") and _onnx_folder(folder):
        return folder
    return path


def is_onnx(path: str) -> bool:
    """Whether ``path`` (as :func:`model_location` gives it) is an ONNX model."""
    if os.path.isdir(path):
        return _onnx_folder(path) and not os.path.isfile(os.path.join(path, "config.json"))
    return path.lower().endswith(".onnx")


def load_model(path: str | os.PathLike[str]) -> OpenedModel:
    """Read the model at ``path``; raises :class:`~latentlab.core.errors.LatentLabError` for a
    file a person can fix (including a missing ``onnx`` extra, with the command that installs it)."""
    where = model_location(os.fspath(path))
    if is_onnx(where):
        from latentlab.core.onnx_io import load_onnx

        return OpenedModel(load_onnx(where), {}, where)
    from latentlab.core.checkpoint import load_model as load_checkpoint

    loaded = load_checkpoint(where)
    return OpenedModel(loaded.model, dict(loaded.meta or {}), str(loaded.path))


def content_hash(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of the model at ``path``, whichever format: a LatentLab model's weights
    (:func:`latentlab.core.checkpoint.model_content_hash`) or an ONNX model's files
    (:func:`latentlab.core.onnx_io.content_hash`). A session and a generated set name the model
    they came from by it. Raises :class:`~latentlab.core.errors.LatentLabError` when it cannot be read."""
    where = model_location(os.fspath(path))
    if is_onnx(where):
        from latentlab.core.onnx_io import content_hash as onnx_hash

        return onnx_hash(where)
    from latentlab.core.checkpoint import model_content_hash

    return model_content_hash(where)
