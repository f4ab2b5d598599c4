"""Generate a new data set from a model: sample the prior, decode, write images and a manifest.

The engine behind ``latentlab generate`` (and, later, the desktop app's File ▸ Generate Data
Set…): :func:`generate` draws codes from the standard normal prior scaled by a temperature
and decodes them through :mod:`latentlab.core.inference` in batches, calling ``progress(done,
total)`` after each and stopping (returning None) when ``should_stop()`` says so;
:func:`write_set` writes the result, all or nothing:

* **a folder**: one PNG per image (``000000.png``, …), in one subfolder per class for a
  conditional model, so the folder loads back as a labelled data set (classes are read back
  in sorted order of the subfolder names, so names that would sort differently get their
  class number as a prefix); a sequence model's outputs are rendered to PNGs and also kept
  as numbers in ``sequences.npy`` ``[N, T, F]``. Beside them ``manifest.json`` and
  ``codes.npy`` (the codes ``[N, D]``, float32).
* **an ``.npz`` file**: ``images`` (uint8 ``[N, C, H, W]``; ``sequences`` float32 ``[N, T, F]``
  for a sequence model), ``labels`` and ``class_names`` for a conditional model, ``codes``,
  and ``manifest`` (the manifest's JSON text) in one file that loads back as data.

The manifest records the model's content hash (``model_sha256``), the family, the seed, the
temperature, the number of items and the count per class. Writing goes to a temporary sibling
that is renamed into place; a non-empty folder or an existing file is only replaced when
``force`` is given.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentlab.core.errors import LatentLabError

__all__ = ["MAX_ITEMS", "GeneratedSet", "class_agreement", "generate", "parse_classes", "write_set"]

#: At most this many items per call (100 classes × 10,000 is already a large data set).
MAX_ITEMS = 1_000_000
_BATCH = 500
MANIFEST_NAME = "manifest.json"
CODES_NAME = "codes.npy"
SEQUENCES_NAME = "sequences.npy"
FORMAT = "latentlab-generated-set"


@dataclass
class GeneratedSet:
    """Decoded outputs of sampled codes, with their classes (conditional models) and manifest."""

    outputs: torch.Tensor                 # images [N, C, H, W] in [0, 1], or sequences [N, T, F]
    codes: np.ndarray                     # float32 [N, D]
    labels: np.ndarray | None             # int64 [N] for a conditional model
    class_names: tuple[str, ...]
    output_kind: str                      # "image" or "sequence"
    feature_names: tuple[str, ...]
    manifest: dict[str, Any]

    def __len__(self) -> int:
        return int(self.outputs.shape[0])


def parse_classes(config: Any, given: Sequence[str | int]) -> tuple[int, ...]:
    """Class numbers from names or indices (``"7"``, ``"cat"``, ``3``); a clear error for any other."""
    if not given:
        return ()
    if not config.is_conditional:
        raise LatentLabError("this model has no classes to choose from; --class needs a conditional model "
                             "(e.g. cvae)")
    from latentlab.core.inference import class_index

    out: list[int] = []
    for item in given:
        k = class_index(config, item)
        if k not in out:
            out.append(k)
    return tuple(out)


def _plan_labels(config: Any, n: int, per_class: bool, classes: tuple[int, ...]) -> np.ndarray | None:
    """The class of every item to generate (None for a model without classes)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise LatentLabError(f"the number of items must be at least 1, got {n}")
    if not config.is_conditional:
        if per_class:
            raise LatentLabError("--per-class needs a model with classes (a conditional model such as cvae); "
                                 "this model has no labels")
        if classes:
            raise LatentLabError("this model has no classes to choose from")
        labels = None
        total = n
    else:
        chosen = np.asarray(classes or range(config.num_classes), dtype=np.int64)
        labels = np.repeat(chosen, n) if per_class else np.resize(chosen, n)
        total = len(labels)
    if total > MAX_ITEMS:
        raise LatentLabError(f"at most {MAX_ITEMS:,} items can be generated at once, asked for {total:,}")
    return labels


def generate(model: Any, *, n: int, per_class: bool = False, classes: Sequence[str | int] = (),
             temperature: float = 1.0, seed: int = 0, model_sha256: str | None = None,
             progress: Callable[[int, int], None] | None = None,
             should_stop: Callable[[], bool] | None = None) -> GeneratedSet | None:
    """Sample ``n`` items (``n`` per class with ``per_class``) from ``model``'s prior.

    Codes are standard normal draws (a private generator seeded with ``seed``) times
    ``temperature``; a conditional model decodes the chosen ``classes`` (default all) in turn,
    or ``n`` of each with ``per_class``. ``progress(done, total)`` follows each batch;
    ``should_stop()`` is asked before each and True returns None. Raises LatentLabError for
    settings a person must fix (unknown class, no classes, ``n`` < 1, temperature ≤ 0).
    """
    from latentlab.core.inference import decode
    from latentlab.core.render import output_spec

    config = model.config
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
            or not (temperature > 0 and np.isfinite(temperature)):
        raise LatentLabError(f"the temperature must be a positive number, got {temperature}")
    if not config.capabilities.encoder and not hasattr(model, "decode"):
        raise LatentLabError("this model cannot decode codes")
    chosen = parse_classes(config, classes)
    labels = _plan_labels(config, n, per_class, chosen)
    total = n if labels is None else len(labels)
    gen = torch.Generator().manual_seed(int(seed))
    codes = torch.randn(total, config.latent_dim, generator=gen) * float(temperature)
    parts: list[torch.Tensor] = []
    for lo in range(0, total, _BATCH):
        if should_stop is not None and should_stop():
            return None
        cond = None if labels is None else labels[lo:lo + _BATCH]
        parts.append(decode(model, codes[lo:lo + _BATCH], cond))
        if progress is not None:
            progress(min(total, lo + _BATCH), total)
    outputs = torch.cat(parts)
    spec = output_spec(config)
    names = tuple(config.label_names) or tuple(str(i) for i in range(config.num_classes))
    counts = ({names[k]: int(c) for k, c in zip(*np.unique(labels, return_counts=True))}
              if labels is not None else {})
    manifest = {
        "format": FORMAT, "format_version": 1, "model_sha256": model_sha256, "family": config.family,
        "latent_dim": config.latent_dim, "seed": int(seed), "temperature": float(temperature),
        "n": total, "per_class": bool(per_class), "counts": counts, "output": spec.kind,
        "codes": CODES_NAME,
    }
    return GeneratedSet(outputs=outputs, codes=codes.numpy(), labels=labels,
                        class_names=names if labels is not None else (), output_kind=spec.kind,
                        feature_names=tuple(config.feature_names), manifest=manifest)


def class_agreement(generated: GeneratedSet, classifier: Any = None) -> dict[str, Any]:
    """How often the reference classifier names the class each image was generated for.

    Returns ``{"agreement": overall share, "per_class": {name: share}, "n": ...,
    "counts": {name: n}}``. Needs a conditional model's 28×28 grey images whose class names
    the classifier knows (by name, else by number).
    """
    from latentlab.core.classifier import bundled_classifier
    from latentlab.core.quality import CLASSIFIER_SHAPE, predict_classes

    if generated.labels is None:
        raise LatentLabError("the class check needs a conditional model (e.g. cvae): this one has no classes")
    if generated.output_kind != "image" or tuple(generated.outputs.shape[1:]) != CLASSIFIER_SHAPE:
        raise LatentLabError("the class check reads 28×28 grey images; this model makes "
                             f"{generated.output_kind}s of shape {tuple(generated.outputs.shape[1:])}")
    clf = classifier or bundled_classifier()
    known = list(clf.config.class_names)
    if all(name in known for name in generated.class_names):
        mapping = np.asarray([known.index(name) for name in generated.class_names], dtype=np.int64)
    elif len(generated.class_names) <= len(known):
        mapping = np.arange(len(generated.class_names), dtype=np.int64)
    else:
        raise LatentLabError("the model has more classes than the reference classifier knows")
    predicted = predict_classes(generated.outputs, clf).numpy()
    target = mapping[generated.labels]
    hits = predicted == target
    per_class = {}
    counts = {}
    for k in np.unique(generated.labels):
        mask = generated.labels == k
        per_class[generated.class_names[k]] = float(hits[mask].mean())
        counts[generated.class_names[k]] = int(mask.sum())
    return {"agreement": float(hits.mean()), "per_class": per_class, "counts": counts, "n": int(len(hits)),
            "temperature": generated.manifest["temperature"], "seed": generated.manifest["seed"]}


# -- writing -------------------------------------------------------------------------------
def _folder_names(class_names: tuple[str, ...]) -> list[str]:
    """Subfolder names that sort in class order (the folder loader numbers classes by name)."""
    safe = [re.sub(r"[^\w.+-]+", "_", name).strip("._") or "class" for name in class_names]
    if safe == sorted(safe) and len(set(safe)) == len(safe):
        return safe
    width = len(str(len(safe) - 1))
    return [f"{k:0{width}d}-{name}" for k, name in enumerate(safe)]


def _check_target(target: Path, force: bool) -> None:
    if target.is_dir() and not target.is_symlink():
        if any(target.iterdir()) and not force:
            raise LatentLabError(f"'{target}' is a folder that is not empty; choose another or pass --force "
                                 "to replace it")
    elif target.exists() and not force:
        raise LatentLabError(f"'{target}' exists; choose another name or pass --force to replace it")
    if not target.parent.is_dir():
        raise LatentLabError(f"cannot write '{target}': the folder '{target.parent}' does not exist")


def write_set(generated: GeneratedSet, out: str | os.PathLike[str], *, force: bool = False,
              progress: Callable[[int, int], None] | None = None) -> Path:
    """Write ``generated`` to a folder or an ``.npz`` file (see the module); returns the path.

    Raises LatentLabError when ``out`` is a non-empty folder or an existing file and ``force``
    is False, or when its parent folder is missing.
    """
    target = Path(out).expanduser().absolute()
    if target.suffix.lower() == ".npz" and not target.is_dir():
        _check_target(target, force)
        _write_npz(generated, target)
        return target
    if target.suffix and target.suffix.lower() != ".npz" and not target.is_dir() \
            and target.suffix.lower() in (".png", ".npy", ".csv", ".json", ".zip"):
        raise LatentLabError(f"'{target.name}': write a data set to a folder or an .npz file")
    _check_target(target, force)
    tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
    tmp.mkdir()
    try:
        _write_folder(generated, tmp, progress)
        _replace_folder(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _replace_folder(tmp: Path, target: Path) -> None:
    """Move the finished ``tmp`` folder to ``target``, replacing what was there only then."""
    old = None
    if target.exists() or target.is_symlink():
        old = target.parent / f".{target.name}.{secrets.token_hex(4)}.old"
        os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink()


def _pixels(generated: GeneratedSet) -> np.ndarray:
    """uint8 pictures ``[N, H, W]`` or ``[N, H, W, 3]`` of every item (sequences rendered)."""
    from latentlab.core.render import OutputSpec, render_batch, to_uint8

    if generated.output_kind == "image":
        return to_uint8(generated.outputs)
    spec = OutputSpec(kind="sequence", shape=tuple(generated.outputs.shape[1:]),
                      features=generated.feature_names)
    return np.stack([render_batch(generated.outputs[i:i + 1], spec)[0] for i in range(len(generated))])


def _manifest_bytes(generated: GeneratedSet, files: dict[str, Any]) -> bytes:
    return (json.dumps({**generated.manifest, **files}, indent=2) + "\n").encode("utf-8")


def _write_folder(generated: GeneratedSet, folder: Path, progress: Callable[[int, int], None] | None) -> None:
    from PIL import Image

    n = len(generated)
    width = max(6, len(str(n - 1)))
    subfolders = _folder_names(generated.class_names) if generated.labels is not None else []
    for name in subfolders:
        (folder / name).mkdir()
    images = _pixels(generated)
    for i in range(n):
        place = folder / subfolders[int(generated.labels[i])] if generated.labels is not None else folder
        Image.fromarray(np.ascontiguousarray(images[i])).save(place / f"{i:0{width}d}.png")
        if progress is not None and (i + 1 == n or (i + 1) % 200 == 0):
            progress(i + 1, n)
    np.save(folder / CODES_NAME, generated.codes.astype(np.float32), allow_pickle=False)
    extra: dict[str, Any] = {"layout": "folder", "class_folders": dict(zip(generated.class_names, subfolders))}
    if generated.output_kind == "sequence":
        np.save(folder / SEQUENCES_NAME, generated.outputs.to(torch.float32).numpy(), allow_pickle=False)
        extra["sequences"] = SEQUENCES_NAME
        extra["features"] = list(generated.feature_names)
    (folder / MANIFEST_NAME).write_bytes(_manifest_bytes(generated, extra))


def _write_npz(generated: GeneratedSet, target: Path) -> None:
    from latentlab.core.atomic_file import atomic_write

    arrays: dict[str, np.ndarray] = {"codes": generated.codes.astype(np.float32)}
    extra: dict[str, Any] = {"layout": "npz", "codes": "codes"}
    if generated.output_kind == "image":
        arrays["images"] = np.round(generated.outputs.clamp(0, 1).numpy() * 255).astype(np.uint8)
    else:
        arrays["images"] = _pixels(generated)
        arrays["sequences"] = generated.outputs.to(torch.float32).numpy()
        extra["features"] = list(generated.feature_names)
    if generated.labels is not None:
        arrays["labels"] = generated.labels.astype(np.int64)
        arrays["class_names"] = np.asarray(generated.class_names, dtype=str)
    arrays["manifest"] = np.asarray(_manifest_bytes(generated, extra).decode("utf-8"))
    atomic_write(target, lambda f: np.savez(f, **arrays))
