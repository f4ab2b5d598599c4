"""Reading model files, and the file layout that saving follows too.

A model is a folder (or a ``.latentlab`` zip of it) holding ``config.json`` and
``model.safetensors``. Nothing here ever unpickles: each file's size is capped before it is
read, a zip archive and its members are checked by :mod:`latentlab.core.safe_io` (paths,
duplicates, declared sizes, inflation) before anything inflates, ``config.json``'s nesting
depth is bounded before it is parsed, the weights are read with ``safetensors.torch.load``
from bytes after a header sanity check, and every tensor is checked against the
architecture that ``config.json`` describes before it goes into a model. The public names
are re-exported by :mod:`latentlab.core.checkpoint`.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch

from latentlab.core.errors import LatentLabError
from latentlab.core.models import LatentModel, ModelConfig, build_model, registry
from latentlab.core.safe_io import load_json, open_zip, read_capped, read_member, zip_members

FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
ZIP_SUFFIX = ".latentlab"
MAX_CONFIG_BYTES = 64 * 1024**2       # history of a very long run still fits easily
MAX_WEIGHTS_BYTES = 4 * 1024**3
MAX_HEADER_BYTES = 16 * 1024**2       # a safetensors JSON header; ours are a few kB


@dataclass
class LoadedModel:
    """A model read from disk: CPU, eval mode, with its config and the whole ``config.json``."""

    model: LatentModel
    config: ModelConfig
    meta: dict[str, Any]
    path: Path


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def load_model(path: str | os.PathLike[str]) -> LoadedModel:
    """Load a model folder or ``.latentlab`` zip (or a ``config.json`` inside a folder).

    Raises LatentLabError naming the file and the problem for anything that is not a
    valid LatentLab model of a known format version.
    """
    root = _model_root(Path(path))
    parsed: dict[str, Any] = {}

    def weights_limit(config_bytes: bytes) -> int:
        # The configuration is parsed before the weights are read: a shape-only ("meta")
        # model says how many bytes its tensors take, so a weights file larger than the
        # architecture needs is refused unread, and settings naming an absurdly large
        # architecture are refused before any memory is allocated for it.
        meta = _parse_config(root, config_bytes)
        config = _model_config(root, meta)
        shapes = _build(root, config, torch.device("meta"))
        parsed.update(meta=meta, config=config, shapes=shapes)
        need = sum(t.numel() * t.element_size() for t in shapes.state_dict().values())
        return min(MAX_WEIGHTS_BYTES, 8 + MAX_HEADER_BYTES + need)

    _, weights = _read_files(root, weights_limit)
    meta, config = parsed["meta"], parsed["config"]
    tensors = _parse_weights(root, weights)
    _check_tensors(root, parsed["shapes"], tensors)
    model = _build(root, config, torch.device("cpu"))
    model.load_state_dict(tensors, strict=True)
    model.eval()
    return LoadedModel(model=model, config=config, meta=meta, path=root)


def model_content_hash(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a model's ``model.safetensors`` bytes: identifies its weights."""
    _, weights = _read_files(_model_root(Path(path)))
    return hashlib.sha256(weights).hexdigest()


def _model_root(path: Path) -> Path:
    if path.is_file() and path.name in (CONFIG_NAME, WEIGHTS_NAME):
        return path.parent
    if not path.exists():
        raise LatentLabError(f"{path}: no such model file or folder")
    return path


def _read_files(root: Path, weights_limit: Callable[[bytes], int] | None = None) -> tuple[bytes, bytes]:
    """``(config.json bytes, model.safetensors bytes)`` from a folder or zip, size-checked.

    ``weights_limit(config_bytes)``, when given, sets the weights' cap from the configuration.
    """
    if root.is_dir():
        config = _read_capped(root / CONFIG_NAME, MAX_CONFIG_BYTES)
        limit = weights_limit(config) if weights_limit is not None else MAX_WEIGHTS_BYTES
        return config, _read_capped(root / WEIGHTS_NAME, limit)
    try:
        is_zip = zipfile.is_zipfile(root)
    except OSError as exc:
        raise LatentLabError(f"{root}: cannot read the file ({exc.strerror or exc})") from exc
    if not is_zip:
        raise LatentLabError(
            f"{root}: not a LatentLab model (expected a model folder or a {ZIP_SUFFIX} file)"
        )
    with open_zip(root, f"{root}") as zf:
        return _read_zip(root, zf, weights_limit)


def _read_capped(path: Path, limit: int) -> bytes:
    if not path.is_file():
        raise LatentLabError(f"{path.parent}: missing {path.name}; this folder is not a LatentLab model")
    return read_capped(path, limit)


def _read_zip(root: Path, zf: zipfile.ZipFile,
              weights_limit: Callable[[bytes], int] | None) -> tuple[bytes, bytes]:
    # Every member is checked (paths, duplicates, sizes the file cannot hold, inflation)
    # before any is read; then each read is capped by its checked size.
    members = {name: info for name, info in zip_members(
        zf, str(root), max_member_bytes=MAX_WEIGHTS_BYTES,
        max_total_bytes=MAX_CONFIG_BYTES + MAX_WEIGHTS_BYTES).items() if not info.is_dir()}
    # Our own zips hold the two files at the top; a hand-zipped model folder has one level.
    for prefix in ("", *sorted({n.split("/")[0] + "/" for n in members if "/" in n})):
        if prefix + CONFIG_NAME in members:
            break
    else:
        raise LatentLabError(f"{root}: the archive holds no {CONFIG_NAME}; it is not a LatentLab model")
    weights_name = prefix + WEIGHTS_NAME
    if weights_name not in members:
        raise LatentLabError(f"{root}: the archive holds no {WEIGHTS_NAME}")
    config = read_member(zf, members[prefix + CONFIG_NAME], str(root), MAX_CONFIG_BYTES)
    limit = weights_limit(config) if weights_limit is not None else MAX_WEIGHTS_BYTES
    return config, read_member(zf, members[weights_name], str(root), limit)


def _parse_config(root: Path, data: bytes) -> dict[str, Any]:
    where = f"{root / CONFIG_NAME}" if root.is_dir() else f"{root} ({CONFIG_NAME})"
    meta = load_json(data, where)
    if not isinstance(meta, dict):
        raise LatentLabError(f"{where}: expected a JSON object at the top level")
    version = meta.get("format_version")
    if meta.get("app") != "latentlab" and version is None:
        raise LatentLabError(f"{where}: not a LatentLab model configuration")
    if not isinstance(version, int) or isinstance(version, bool):
        raise LatentLabError(f"{where}: missing or invalid format_version")
    if version != FORMAT_VERSION:
        newer = " (written by a newer LatentLab; please update)" if version > FORMAT_VERSION else ""
        raise LatentLabError(
            f"{where}: unsupported format_version {version}{newer}; this version reads format {FORMAT_VERSION}"
        )
    if not isinstance(meta.get("model"), dict):
        raise LatentLabError(f"{where}: the \"model\" section is missing")
    return meta


def _model_config(root: Path, meta: dict[str, Any]) -> ModelConfig:
    family = meta["model"].get("family", "vae")
    if isinstance(family, str) and family not in registry.names():
        raise LatentLabError(
            f"{root}: unknown model family '{family}': this LatentLab has {', '.join(registry.names())}; "
            "install or register that family before opening the model")
    try:
        return ModelConfig.from_dict(meta["model"])
    except LatentLabError as exc:
        raise LatentLabError(f"{root}: invalid model settings: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise LatentLabError(f"{root}: invalid model settings in {CONFIG_NAME} ({exc})") from exc


def _build(root: Path, config: ModelConfig, device: torch.device) -> LatentModel:
    try:
        with device:
            return build_model(config)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise LatentLabError(f"{root}: cannot build the model its {CONFIG_NAME} describes ({exc})") from exc


def _parse_weights(root: Path, data: bytes) -> dict[str, torch.Tensor]:
    where = f"{root / WEIGHTS_NAME}" if root.is_dir() else f"{root} ({WEIGHTS_NAME})"
    # Check the frame ourselves first: an 8-byte little-endian header length, then a JSON
    # header starting with "{". A pickle, random bytes or a cut-off file fail here clearly.
    if len(data) < 10:
        raise LatentLabError(f"{where}: not a safetensors file (too short)")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > MAX_HEADER_BYTES or header_len > len(data) - 8 or data[8:9] != b"{":
        raise LatentLabError(f"{where}: not a safetensors file (or it is truncated)")
    try:
        return safetensors.torch.load(data)
    except (safetensors.SafetensorError, ValueError, RuntimeError, TypeError, OverflowError) as exc:
        raise LatentLabError(f"{where}: damaged or truncated safetensors file ({exc})") from exc


def _check_tensors(root: Path, model: LatentModel, tensors: dict[str, torch.Tensor]) -> None:
    """Every expected tensor present, none extra, each with the right shape and dtype."""
    where = f"{root / WEIGHTS_NAME}" if root.is_dir() else f"{root} ({WEIGHTS_NAME})"
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing:
        raise LatentLabError(f"{where}: missing tensors for this architecture: {_names(missing)}")
    if extra:
        raise LatentLabError(f"{where}: unexpected tensors for this architecture: {_names(extra)}")
    for name, ref in expected.items():
        got = tensors[name]
        if got.shape != ref.shape:
            raise LatentLabError(
                f"{where}: tensor {name} has shape {list(got.shape)}, expected {list(ref.shape)}"
            )
        if got.dtype != ref.dtype:
            raise LatentLabError(
                f"{where}: tensor {name} has dtype {_dtype_name(got.dtype)}, expected {_dtype_name(ref.dtype)}"
            )
        if got.is_floating_point() and not bool(torch.isfinite(got).all()):
            raise LatentLabError(f"{where}: tensor {name} holds NaN or infinite values")


def _names(names: list[str], limit: int = 5) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more
