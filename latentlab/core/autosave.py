"""Run checkpoints on disk: a training run that survives a crash.

A checkpoint is a folder holding ``run.json`` (settings, counters, history, the optimisers'
non-tensor state, where the data came from) and ``run-<generation>.safetensors`` (weights,
every optimiser's tensors, both random streams). Never pickle. A write is atomic as a pair:
the tensors go to a new file (temporary name, fsync, rename), then ``run.json`` is replaced
(temporary name, fsync, rename) to point at it, then the older tensor files are removed; a
crash at any moment leaves the previous checkpoint or the new one, whole.

The command line keeps a run's checkpoint beside its output folder
(:func:`checkpoint_folder_for`); the desktop app keeps one folder per run under
:func:`autosave_root` and offers :func:`find_interrupted_runs` at its next launch.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch

from latentlab import __version__
from latentlab.core.atomic_file import atomic_write
from latentlab.core.errors import LatentLabError
from latentlab.core.safe_io import load_json, read_capped
from latentlab.core.training_types import RunState

__all__ = [
    "AUTOSAVE_DIR_ENV", "FORMAT_VERSION", "InterruptedRun", "autosave_root", "checkpoint_folder_for",
    "find_interrupted_runs", "new_run_folder", "read_checkpoint", "remove_checkpoint", "write_checkpoint",
]

FORMAT_VERSION = 1
KIND = "latentlab-run-checkpoint"
STATE_NAME = "run.json"
MAX_STATE_BYTES = 64 * 1024**2
MAX_TENSOR_BYTES = 8 * 1024**3
_TENSORS = re.compile(r"^run-(\d{6,})\.safetensors$")


@dataclass(frozen=True)
class InterruptedRun:
    """A checkpoint found on disk, described from its ``run.json`` alone (cheap to list)."""

    folder: Path
    family: str
    epoch: int                      # epochs finished
    epochs: int                     # epochs the run was set to train
    saved: str                      # ISO time of the last write
    data: dict[str, Any]            # where the data came from (``Dataset.source``), name, fingerprint
    extra: dict[str, Any]           # whatever the writer added (e.g. the output path)

    @property
    def finished(self) -> bool:
        return self.epoch >= self.epochs


#: A folder that replaces :func:`autosave_root` (tests and benchmarks never touch a person's own).
AUTOSAVE_DIR_ENV = "LATENTLAB_AUTOSAVE_DIR"
_SETTINGS_DIR_ENV = "LATENTLAB_SETTINGS_DIR"


def autosave_root() -> Path:
    """The desktop app's checkpoint folder: ``<user data folder>/autosave`` (via platformdirs).

    ``LATENTLAB_AUTOSAVE_DIR`` replaces it; without it, ``LATENTLAB_SETTINGS_DIR`` (the private
    settings folder of benchmarks and smoke checks) holds it as ``autosave``.
    """
    if os.environ.get(AUTOSAVE_DIR_ENV):
        return Path(os.environ[AUTOSAVE_DIR_ENV])
    if os.environ.get(_SETTINGS_DIR_ENV):
        return Path(os.environ[_SETTINGS_DIR_ENV]) / "autosave"
    import platformdirs

    return Path(platformdirs.user_data_dir("LatentLab", appauthor=False)) / "autosave"


def checkpoint_folder_for(out: str | os.PathLike[str]) -> Path:
    """Where the command line keeps the checkpoint of a run that writes model folder ``out``.

    Beside it, not inside: a model folder holds only its two files, and saving the model
    replaces the whole folder.
    """
    out = Path(out)
    return out.parent / f"{out.name}.checkpoint"


def new_run_folder(root: str | os.PathLike[str] | None = None) -> Path:
    """A fresh, empty folder for one run's checkpoints under ``root`` (default :func:`autosave_root`)."""
    base = Path(root) if root is not None else autosave_root()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    folder = base / f"run-{stamp}-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    return folder


# -- writing ---------------------------------------------------------------------------------
def write_checkpoint(folder: str | os.PathLike[str], state: RunState, *,
                     data: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> Path:
    """Write ``state`` into ``folder`` atomically (created if missing); returns ``run.json``'s path.

    ``data`` describes the data set (``{"source": ..., "name": ..., "fingerprint": ...}``, enough
    to reload it), ``extra`` is any JSON-able dict the caller wants back. Raises LatentLabError
    when the folder cannot be written; the previous checkpoint there is then untouched.
    """
    from latentlab.core.checkpoint import _jsonable

    folder = Path(folder)
    tensors: dict[str, torch.Tensor] = {f"model/{k}": v for k, v in state.model.items()}
    optimizers: dict[str, Any] = {}
    for name, opt_state in state.optimizers.items():
        per_param: dict[str, dict[str, Any]] = {}
        for pid, values in opt_state.get("state", {}).items():
            plain = {}
            for key, value in values.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"optim/{name}/{pid}/{key}"] = value
                else:
                    plain[key] = value
            per_param[str(pid)] = plain
        optimizers[name] = {"param_groups": opt_state.get("param_groups", []), "state": per_param,
                            "params": [str(pid) for pid in opt_state.get("state", {})]}
    tensors["rng/shuffle"] = state.shuffle
    tensors["rng/cpu"] = state.rng[0]
    if state.rng[1] is not None:
        tensors["rng/cuda"] = state.rng[1]
    blob = safetensors.torch.save({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()},
                                  metadata={"format": "pt"})
    generation = _next_generation(folder)
    tensor_name = f"run-{generation:06d}.safetensors"
    meta = {
        "format_version": FORMAT_VERSION, "kind": KIND, "app_version": __version__,
        "saved": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "tensors": tensor_name, "sha256": hashlib.sha256(blob).hexdigest(),
        "epoch": state.epoch, "step": state.step, "model": state.model_config, "train": state.train_config,
        "data_fingerprint": state.data_fingerprint, "counters": state.counters, "history": state.history,
        "optimizers": optimizers, "data": data or {}, "extra": extra or {},
    }
    text = _to_json(_jsonable(meta))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LatentLabError(f"could not write the training checkpoint to {folder}: {exc.strerror or exc}") from None
    try:
        atomic_write(folder / tensor_name, lambda f: f.write(blob))
        atomic_write(folder / STATE_NAME, lambda f: f.write(text))
    except LatentLabError:  # names the file and the reason; the previous checkpoint stays whole
        (folder / tensor_name).unlink(missing_ok=True)
        raise
    for old in folder.iterdir():
        if _TENSORS.match(old.name) and old.name != tensor_name:
            old.unlink(missing_ok=True)
    return folder / STATE_NAME


def _to_json(meta: dict[str, Any]) -> bytes:
    import json

    return (json.dumps(meta, indent=1, allow_nan=False) + "\n").encode("utf-8")


def _next_generation(folder: Path) -> int:
    if not folder.is_dir():
        return 1
    found = [int(m.group(1)) for p in folder.iterdir() if (m := _TENSORS.match(p.name))]
    return max(found, default=0) + 1


# -- reading ---------------------------------------------------------------------------------
def _read_meta(folder: Path) -> dict[str, Any]:
    path = folder / STATE_NAME
    if not path.is_file():
        raise LatentLabError(f"{folder}: no training checkpoint here (no {STATE_NAME})")
    meta = load_json(read_capped(path, MAX_STATE_BYTES), str(path))
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        raise LatentLabError(f"{path}: not a LatentLab training checkpoint")
    if meta.get("format_version") != FORMAT_VERSION:
        raise LatentLabError(f"{path}: unsupported checkpoint format {meta.get('format_version')!r}; "
                             f"this LatentLab reads format {FORMAT_VERSION}")
    for key, kind in (("epoch", int), ("step", int), ("model", dict), ("train", dict), ("history", list),
                      ("optimizers", dict), ("tensors", str), ("counters", dict)):
        if not isinstance(meta.get(key), kind) or isinstance(meta.get(key), bool):
            raise LatentLabError(f"{path}: the checkpoint's '{key}' is missing or damaged")
    if not _TENSORS.match(meta["tensors"]):
        raise LatentLabError(f"{path}: the checkpoint names an invalid tensor file")
    return meta


def read_checkpoint(folder: str | os.PathLike[str]) -> tuple[RunState, dict[str, Any]]:
    """The :class:`RunState` saved in ``folder`` and the whole ``run.json`` (for ``data``/``extra``).

    Raises LatentLabError naming the file for a missing, damaged or foreign checkpoint.
    """
    folder = Path(folder)
    meta = _read_meta(folder)
    tensor_path = folder / meta["tensors"]
    if not tensor_path.is_file():
        raise LatentLabError(f"{tensor_path}: missing; the checkpoint is incomplete")
    blob = read_capped(tensor_path, MAX_TENSOR_BYTES)
    if hashlib.sha256(blob).hexdigest() != meta.get("sha256"):
        raise LatentLabError(f"{tensor_path}: damaged (its contents do not match {STATE_NAME})")
    try:
        tensors = safetensors.torch.load(blob)
    except (safetensors.SafetensorError, ValueError, RuntimeError) as exc:
        raise LatentLabError(f"{tensor_path}: damaged ({exc})") from None
    try:
        model = {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}
        optimizers = {}
        for name, saved in meta["optimizers"].items():
            state: dict[int, dict[str, Any]] = {}
            for pid in saved["params"]:
                values = dict(saved["state"].get(pid, {}))
                prefix = f"optim/{name}/{pid}/"
                values.update({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
                state[int(pid)] = values
            optimizers[name] = {"state": state, "param_groups": saved["param_groups"]}
        run = RunState(
            epoch=meta["epoch"], step=meta["step"], model=model, optimizers=optimizers,
            shuffle=tensors["rng/shuffle"], rng=(tensors["rng/cpu"], tensors.get("rng/cuda")),
            history=meta["history"], model_config=meta["model"], train_config=meta["train"],
            data_fingerprint=str(meta.get("data_fingerprint", "")), counters=meta["counters"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise LatentLabError(f"{folder / STATE_NAME}: the checkpoint is damaged ({exc})") from None
    return run, meta


def find_interrupted_runs(root: str | os.PathLike[str] | None = None) -> list[InterruptedRun]:
    """Checkpoints in the folders directly under ``root`` (default :func:`autosave_root`), newest first.

    Reads only each ``run.json``; a folder with a damaged or foreign one is left out.
    """
    base = Path(root) if root is not None else autosave_root()
    if not base.is_dir():
        return []
    found = []
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        try:
            meta = _read_meta(folder)
        except LatentLabError:
            continue
        found.append(InterruptedRun(
            folder=folder, family=str(meta["model"].get("family", "?")), epoch=meta["epoch"],
            epochs=int(meta["train"].get("epochs", meta["epoch"])), saved=str(meta.get("saved", "")),
            data=meta.get("data") if isinstance(meta.get("data"), dict) else {},
            extra=meta.get("extra") if isinstance(meta.get("extra"), dict) else {}))
    found.sort(key=lambda run: run.saved, reverse=True)
    return found


def remove_checkpoint(folder: str | os.PathLike[str]) -> None:
    """Delete a checkpoint folder (after its run was saved, or when a person discards it).

    Only a folder that holds a checkpoint and nothing foreign is removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return
    names = {p.name for p in folder.iterdir()}
    ours = {n for n in names if n == STATE_NAME or _TENSORS.match(n) or n.endswith(".tmp")}
    if STATE_NAME not in names or names - ours:
        raise LatentLabError(f"{folder}: not removed; it holds files that are not a training checkpoint")
    shutil.rmtree(folder)
