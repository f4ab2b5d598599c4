"""LatentLab as a library: load, train, save and wrap models from Python, without Qt.

Everything here is re-exported lazily by :mod:`latentlab` (``latentlab.load_model`` and so
on), so ``import latentlab`` stays light. See ``docs/python-api.md`` for examples.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentlab.core.adapters import (
    ExternalModel, grid_search_codes, is_external, save_refusal, save_weights, wrap,
)
from latentlab.core.data import Dataset, load_dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.models.base import LatentModel
from latentlab.core.training_types import Progress, TrainControl

__all__ = [
    "Dataset", "ExternalModel", "LatentLabError", "LatentModel", "Progress", "TrainControl", "Trained",
    "as_dataset", "grid_search_codes", "load_dataset", "load_model", "save_model", "save_weights",
    "train", "wrap",
]


def load_model(path: str | os.PathLike[str]) -> LatentModel:
    """Open a saved model: a LatentLab model folder or ``.latentlab`` file, or ONNX files.

    ONNX: a folder holding ``encoder.onnx`` and/or ``decoder.onnx`` (with an optional
    ``latentlab-onnx.json``), or one ``.onnx`` decoder file; see :mod:`latentlab.core.onnx_io`.
    The model comes back on the CPU in eval mode; a LatentLab model's saved ``config.json`` is
    on ``model.meta``.
    """
    p = Path(path).expanduser()
    if p.suffix.lower() == ".onnx" or (p.is_dir() and any(p.glob("*.onnx"))):
        from latentlab.core.onnx_io import load_onnx

        return load_onnx(p)
    from latentlab.core.checkpoint import load_model as load_checkpoint

    loaded = load_checkpoint(p)
    loaded.model.meta = loaded.meta
    return loaded.model


def save_model(model: LatentModel, path: str | os.PathLike[str], *,
               history: Sequence[Mapping[str, Any]] | None = None, data: Dataset | None = None) -> Path:
    """Save a LatentLab model as a folder (or a ``.latentlab`` zip when ``path`` ends so).

    ``history`` (one dict per epoch, as :func:`train` returns) and ``data`` (the data set it
    was trained on) are recorded in its ``config.json``. A wrapped model of your own code
    cannot be saved this way: its code is yours, so the error says what to do instead.
    """
    from latentlab.core.checkpoint import describe_data
    from latentlab.core.checkpoint import save_model as save_checkpoint

    refusal = save_refusal(model)
    if refusal is not None:
        raise LatentLabError(refusal)
    if not isinstance(model, LatentModel):
        raise LatentLabError(f"save_model takes a LatentLab model, got {type(model).__name__}")
    meta = getattr(model, "meta", None) or {}
    if history is None:
        history = meta.get("history") if isinstance(meta, Mapping) else None
    info = describe_data(data) if data is not None else (meta.get("data") if isinstance(meta, Mapping) else None)
    train_config = meta.get("train") if isinstance(meta, Mapping) else None
    return save_checkpoint(path, model, train_config=train_config, history=list(history or []) or None,
                           data_info=info)


def as_dataset(data: Any, labels: Any = None, *, name: str = "data",
               class_names: Sequence[str] = ()) -> Dataset:
    """``data`` as a :class:`Dataset`: a Dataset, a name or path (:func:`load_dataset`), or an array.

    Arrays (numpy or torch) are images ``[N, C, H, W]`` (C = 1 or 3) or grey ``[N, H, W]``:
    uint8 (0–255) or floats in [0, 1]. ``labels`` are whole numbers ``[N]`` from 0.
    """
    if isinstance(data, Dataset):
        if labels is None:
            return data
        ds = data
        images = ds.images
    elif isinstance(data, (str, os.PathLike)) or isinstance(data, Mapping):
        ds = load_dataset(data)
        images = ds.images
        if labels is None:
            return ds
    else:
        images = _images(data)
        ds = None
    y = _labels(labels, len(images))
    names = tuple(class_names) or (ds.class_names if ds is not None and y is None else ())
    if y is not None and not names:
        names = tuple(str(k) for k in range(int(y.max()) + 1 if len(y) else 0))
    if y is not None and len(y) and int(y.max()) >= len(names):
        raise LatentLabError(f"labels go up to {int(y.max())}, but {len(names)} class names were given")
    return Dataset(name=ds.name if ds is not None else name, images=images,
                   labels=y if y is not None else (ds.labels if ds is not None else None),
                   class_names=names, source={} if ds is None else dict(ds.source))


def _images(data: Any) -> torch.Tensor:
    if isinstance(data, torch.Tensor):
        arr = data.detach().to("cpu")
    elif isinstance(data, np.ndarray):
        arr = torch.from_numpy(np.ascontiguousarray(data))
    else:
        raise LatentLabError(f"data must be a Dataset, a data-set name or path, or an array of images; "
                             f"got {type(data).__name__}")
    if arr.ndim == 3:
        arr = arr.unsqueeze(1)
    if arr.ndim != 4 or arr.shape[1] not in (1, 3) or arr.shape[0] < 1:
        raise LatentLabError(f"image data must have shape [N, C, H, W] with C = 1 or 3 (or grey [N, H, W]); "
                             f"got {tuple(arr.shape)}")
    if arr.dtype == torch.uint8:
        return arr.to(torch.float32) / 255.0
    if not arr.is_floating_point():
        raise LatentLabError(f"image data must be uint8 or floats in [0, 1], got {arr.dtype}")
    arr = arr.to(torch.float32)
    if not bool(torch.isfinite(arr).all()) or float(arr.min()) < 0.0 or float(arr.max()) > 1.0:
        raise LatentLabError("float image data must hold finite values in [0, 1]; scale it first "
                             "(e.g. divide 0-255 pixels by 255)")
    return arr.contiguous()


def _labels(labels: Any, n: int) -> torch.Tensor | None:
    if labels is None:
        return None
    y = labels.detach().to("cpu") if isinstance(labels, torch.Tensor) else torch.as_tensor(np.asarray(labels))
    if y.is_floating_point() and bool((y != y.round()).any()):
        raise LatentLabError("labels must be whole numbers (class indices from 0)")
    y = y.to(torch.int64).reshape(-1)
    if len(y) != n:
        raise LatentLabError(f"there are {len(y)} labels for {n} items; give one label per item")
    if n and int(y.min()) < 0:
        raise LatentLabError("labels must be class indices from 0 (no negative values)")
    return y


@dataclass
class Trained:
    """What :func:`train` returns: unpack it as ``model, history = latentlab.train(...)``.

    ``status`` is ``"finished"``, ``"cancelled"`` (a callback or ``control`` stopped it; the
    model holds the last good weights) or ``"diverged"``; ``data`` is the data it trained on.
    """

    model: LatentModel
    history: list[dict[str, Any]] = field(default_factory=list)
    status: str = "finished"
    message: str = ""
    data: Dataset | None = None

    def __iter__(self) -> Iterator[Any]:
        return iter((self.model, self.history))


def train(data: Any, *, family: str = "vae", latent_dim: int = 2, epochs: int = 10,
          labels: Any = None, progress: Callable[[Progress], bool | None] | None = None,
          control: TrainControl | None = None, model: LatentModel | None = None,
          history: Sequence[Mapping[str, Any]] = (), **settings: Any) -> Trained:
    """Train a model of ``family`` on ``data`` in the calling thread; returns :class:`Trained`.

    ``data`` is anything :func:`as_dataset` takes. ``progress(p)`` gets each
    :class:`~latentlab.core.training_types.Progress` report; returning ``False`` stops the run
    (so does ``control.cancel()`` from another thread), and the model trained so far comes back
    with status ``"cancelled"``. ``model`` (with its ``history``) continues training it instead
    of starting a new one. Other settings are those of
    :class:`~latentlab.core.plan.TrainingSettings`: ``arch``, ``hidden``, ``likelihood``,
    ``beta``, ``batch_size``, ``lr``, ``seed``, ``device``, ``threads``, ``val_fraction``,
    ``options``, ...
    """
    from latentlab.core.plan import TrainingSettings, plan_training
    from latentlab.core.training import train as run_training

    if model is not None and is_external(model):
        raise LatentLabError(f"{model.name} wraps code of your own; train it with your own loop, "
                             "then wrap it again to look at it")
    dataset = as_dataset(data, labels)
    try:
        chosen = TrainingSettings(family=family, latent_dim=latent_dim, epochs=epochs,
                                  continue_training=model is not None, **settings)
    except TypeError as exc:
        raise LatentLabError(f"unknown training setting: {exc}") from None
    if chosen.data is not None:
        raise LatentLabError("give the data as the first argument of train(), not as data=")
    if chosen.hidden is not None:
        chosen = chosen.with_changes(hidden=tuple(chosen.hidden))
    plan = plan_training(chosen, data=dataset, model=model, history=list(history))
    control = control if control is not None else TrainControl()
    gen = run_training(plan.model_config, plan.data, plan.train_config, control=control, initial=plan.initial)
    while True:
        try:
            item = next(gen)
        except StopIteration as stop:
            result = stop.value
            break
        if progress is not None and isinstance(item, Progress) and progress(item) is False:
            control.cancel()
    from latentlab.core.checkpoint import describe_data

    full = plan.full_history(result.history)
    tc = plan.train_config
    result.model.meta = {"history": full, "train": tc.to_dict(),
                         "data": describe_data(plan.data, tc.val_fraction, tc.seed)}
    return Trained(model=result.model, history=full, status=result.status, message=result.message,
                   data=plan.data)
