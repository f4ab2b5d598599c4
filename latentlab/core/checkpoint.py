"""Model files: a folder (or ``.latentlab`` zip of it) with ``model.safetensors`` + ``config.json``.

This module saves them and is the one place to import the model-file API from. Loading
(:func:`load_model`, :func:`model_content_hash`, :class:`LoadedModel`) and the layout
constants live in :mod:`latentlab.core.checkpoint_read` and are re-exported here; nothing
there ever unpickles, and every tensor is checked against the architecture that
``config.json`` describes before it goes into a model.

Writes are atomic. A folder is written next to its destination under a temporary name and
swapped in with renames (old → backup, new → destination, backup removed); a zip is
written to a temporary file and ``os.replace``-d. A failed save leaves the previous model
untouched. A destination that is not a LatentLab model is never overwritten.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import uuid
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from latentlab import __version__
from latentlab.core.checkpoint_read import (  # re-exported: the model-file API is imported from here
    CONFIG_NAME,
    FORMAT_VERSION,
    MAX_CONFIG_BYTES,
    MAX_HEADER_BYTES,
    MAX_WEIGHTS_BYTES,
    WEIGHTS_NAME,
    ZIP_SUFFIX,
    LoadedModel,
    _dtype_name,
    load_model,
    model_content_hash,
)
from latentlab.core.errors import LatentLabError
from latentlab.core.models import LatentModel
from latentlab.core.safe_io import load_json

__all__ = [
    "CONFIG_NAME", "FORMAT_VERSION", "MAX_CONFIG_BYTES", "MAX_HEADER_BYTES", "MAX_WEIGHTS_BYTES",
    "WEIGHTS_NAME", "ZIP_SUFFIX", "LoadedModel", "check_save_target", "describe_data", "load_model",
    "model_content_hash", "model_file_contents", "save_model",
]


# ----------------------------------------------------------------------------- saving
def describe_data(dataset: Any, val_fraction: float | None = None, seed: int | None = None) -> dict[str, Any]:
    """The ``"data"`` block of ``config.json`` for a :class:`~latentlab.core.data.Dataset`."""
    return {
        "name": dataset.name,
        "source": dict(dataset.source),
        "fingerprint": dataset.fingerprint,
        "shape": list(dataset.shape),
        "label_names": list(dataset.class_names),
        "val_fraction": val_fraction,
        "seed": seed,
        "n": len(dataset),
    }


def save_model(
    path: str | os.PathLike[str],
    model: LatentModel,
    *,
    train_config: Any = None,
    history: list[dict[str, Any]] | None = None,
    data_info: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Save ``model`` as a folder, or as a zip when ``path`` ends in ``.latentlab``.

    ``train_config`` is a TrainConfig (or its dict), ``history`` one dict per epoch,
    ``data_info`` as made by :func:`describe_data`, ``extra`` any JSON-able dict. Returns
    the path written. Raises LatentLabError if the destination is not a LatentLab model or
    the write fails (the previous model there is kept).
    """
    target = Path(path)
    files = model_file_contents(model.config, model.state_dict(), train_config=train_config, history=history,
                                data_info=data_info, extra=extra)
    try:
        if target.suffix == ZIP_SUFFIX:
            _save_zip(target, files)
        else:
            _save_folder(target, files)
    except OSError as exc:
        raise LatentLabError(f"could not save the model to {target}: {exc.strerror or exc}") from exc
    return target


def model_file_contents(
    config: Any,
    state: dict[str, torch.Tensor],
    *,
    train_config: Any = None,
    history: list[dict[str, Any]] | None = None,
    data_info: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, bytes]:
    """The bytes of a model file's ``config.json`` and ``model.safetensors``, by file name.

    ``config`` is the model's ModelConfig and ``state`` its ``state_dict()``; the other
    arguments are those of :func:`save_model`. For writers that place the files themselves
    (a live run folder replaces each file atomically, see :mod:`latentlab.core.run_folder`).
    """
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    # One metadata key only: safetensors writes metadata in hash-map order, and a stable
    # byte layout keeps model_content_hash equal for equal weights.
    weights = safetensors.torch.save(tensors, metadata={"format": "pt"})
    meta = _build_meta(config, tensors, train_config, history, data_info, extra)
    config_bytes = (json.dumps(meta, indent=2, allow_nan=False) + "\n").encode("utf-8")
    return {CONFIG_NAME: config_bytes, WEIGHTS_NAME: weights}


def check_save_target(path: str | os.PathLike[str]) -> None:
    """Raise LatentLabError now if :func:`save_model` would refuse ``path``.

    For callers about to spend minutes training: a bad destination is reported before
    the work, not after it.
    """
    target = Path(path)
    if target.suffix == ZIP_SUFFIX:
        _check_zip_target(target)
    else:
        _check_replaceable_folder(target)


def _build_meta(config: Any, tensors: dict[str, torch.Tensor], train_config: Any,
                history: list[dict[str, Any]] | None, data_info: dict[str, Any] | None,
                extra: dict[str, Any] | None) -> dict[str, Any]:
    if train_config is not None and hasattr(train_config, "to_dict"):
        train_config = train_config.to_dict()
    return {
        "format_version": FORMAT_VERSION,
        "app": "latentlab",
        "app_version": __version__,
        "family": config.family,
        "model": config.to_dict(),
        "train": _jsonable(train_config),
        "history": _jsonable(list(history or [])),
        "data": _jsonable(data_info),
        "tensors": {k: {"shape": list(v.shape), "dtype": _dtype_name(v.dtype)} for k, v in tensors.items()},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "extra": _jsonable(extra or {}),
    }


def _jsonable(value: Any) -> Any:
    """Plain JSON types; tensors and numpy scalars become numbers, NaN/inf become null."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist") and callable(value.tolist):  # tensors, numpy arrays and scalars
        return _jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise LatentLabError(f"cannot store a value of type {type(value).__name__} in a model file")



def _write_file(path: Path, data: bytes) -> None:
    """Write and fsync one file (the caller makes the whole thing atomic)."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    # Directory fsync makes renames durable on POSIX; Windows cannot open folders for it.
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_replaceable_folder(target: Path) -> None:
    """Refuse to replace anything that is not a LatentLab model folder (or an empty folder)."""
    if not target.exists():
        return
    if not target.is_dir():
        raise LatentLabError(f"cannot save the model to {target}: a file with that name exists")
    entries = {p.name for p in target.iterdir()}
    if not entries:
        return
    foreign = entries - {CONFIG_NAME, WEIGHTS_NAME}
    if foreign or CONFIG_NAME not in entries or not _is_latentlab_config(target / CONFIG_NAME):
        raise LatentLabError(
            f"cannot save the model to {target}: the folder exists and is not a LatentLab model "
            "(choose an empty or new folder)"
        )


def _is_latentlab_config(path: Path) -> bool:
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            return False
        meta = load_json(path.read_bytes(), str(path))
    except (OSError, LatentLabError):
        return False
    return isinstance(meta, dict) and meta.get("app") == "latentlab"


def _save_folder(target: Path, files: dict[str, bytes]) -> None:
    _check_replaceable_folder(target)
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    staging = parent / f".{target.name}.saving-{tag}"
    backup = parent / f".{target.name}.old-{tag}"
    staging.mkdir()
    try:
        for name, data in files.items():
            _write_file(staging / name, data)
        _fsync_dir(staging)
        had_old = target.exists()
        if had_old:
            os.replace(target, backup)
        try:
            os.replace(staging, target)
        except OSError:
            if had_old:
                os.replace(backup, target)
            raise
        _fsync_dir(parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(backup, ignore_errors=True)


def _check_zip_target(target: Path) -> None:
    if target.is_dir():
        raise LatentLabError(f"cannot save the model to {target}: a folder with that name exists")


def _save_zip(target: Path, files: dict[str, bytes]) -> None:
    _check_zip_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(CONFIG_NAME, files[CONFIG_NAME], compress_type=zipfile.ZIP_DEFLATED)
        # Weights barely compress; storing them keeps saving and loading fast.
        zf.writestr(WEIGHTS_NAME, files[WEIGHTS_NAME], compress_type=zipfile.ZIP_STORED)
    temp = target.parent / f".{target.name}.saving-{uuid.uuid4().hex[:8]}"
    try:
        _write_file(temp, buf.getvalue())
        os.replace(temp, target)
        _fsync_dir(target.parent)
    finally:
        temp.unlink(missing_ok=True)
