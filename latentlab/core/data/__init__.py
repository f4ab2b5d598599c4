"""Data sets: every source becomes a :class:`Dataset` (see ``dataset.py``).

:func:`load_dataset` is the one entry point. It takes a name (``mnist``, ``moons``,
``shapes``; the sequence sets ``strokes`` and ``waves``), a path (a folder of images, a
``.npz`` / ``.npy`` file of images or sequences, an IDX images file, a ``.csv`` series cut
into windows) or a ``Dataset.source`` dict, which is how a model file records its data so it
can be reloaded exactly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from latentlab.core.data import downloads
from latentlab.core.data.arrays import load_arrays
from latentlab.core.data.dataset import Dataset
from latentlab.core.data.folder import load_folder, load_image_file
from latentlab.core.data.idx import load_idx, load_mnist
from latentlab.core.data.procedural import DEFAULT_COUNT, DEFAULT_SIZE, make_moons, make_shapes
from latentlab.core.data.sequences import (
    DEFAULT_SEQUENCE_COUNT,
    DEFAULT_STROKE_STEPS,
    DEFAULT_WAVE_STEPS,
    make_strokes,
    make_waves,
)
from latentlab.core.data.series import DEFAULT_STRIDE, DEFAULT_WINDOW, load_sequence_arrays, load_series
from latentlab.core.data.transforms import (
    check_color,
    check_image_size,
    check_limit,
    convert_color,
    resize_images,
)
from latentlab.core.errors import LatentLabError

__all__ = [
    "Dataset",
    "describe_sources",
    "load_arrays",
    "load_dataset",
    "load_folder",
    "load_image_file",
    "load_idx",
    "load_mnist",
    "make_moons",
    "make_shapes",
    "make_strokes",
    "make_waves",
    "load_sequence_arrays",
    "load_series",
]

NAMED_SOURCES = ("mnist", "moons", "shapes", "strokes", "waves", "stream", *downloads.NAMES)
SOURCE_KINDS = (*NAMED_SOURCES, "folder", "arrays", "idx", "sequences", "series")
#: Sources whose items are sequences ``[N, T, F]``.
SEQUENCE_KINDS = ("strokes", "waves", "stream", "sequences", "series")
_PROCEDURAL = {"moons": make_moons, "shapes": make_shapes}
MAX_PROCEDURAL_COUNT = 1_000_000


def describe_sources() -> str:
    """One line of help: what ``--data`` (or a data field) accepts."""
    return (
        "mnist (10,000 bundled digits), moons or shapes (generated, with known factors), "
        f"{downloads.describe()}, "
        "strokes (pen-stroke digits), waves (signals) or stream (a long multichannel series in windows), "
        "a folder of PNG/JPEG/BMP/WebP images (class subfolders become labels), "
        "a .npz/.npy array file, an IDX images file such as train-images-idx3-ubyte.gz, "
        "or a .csv series (a header row, one column per channel) cut into windows"
    )


def load_dataset(
    spec: str | os.PathLike[str] | Mapping[str, Any],
    *,
    image_size: int | None = None,
    color: str = "auto",
    limit: int | None = None,
    seed: int = 0,
    window: int | None = None,
    stride: int | None = None,
    sequences: bool = False,
) -> Dataset:
    """Load a data set by name, path or recorded source.

    Parameters
    ----------
    spec:
        ``"mnist"``, ``"moons"``, ``"shapes"``, a path, or a ``Dataset.source`` dict. Names
        win over paths: write ``./moons`` for a folder called ``moons``.
    image_size:
        Square side to resize to (center crop first); None keeps the source's size
        (28 for generated sets; 28 gray / 32 RGB for folders).
    color:
        ``auto`` (as stored), ``gray`` or ``rgb``.
    limit:
        Keep only the first ``limit`` items.
    seed:
        Seed of the generated sets (a source dict's own seed wins).
    window, stride:
        For a ``.csv`` series: steps per window and between window starts (defaults
        :data:`~latentlab.core.data.series.DEFAULT_WINDOW` and ``DEFAULT_STRIDE``); for
        ``strokes`` and ``waves`` ``window`` is the number of steps per item.
    sequences:
        Read a ``.npy`` / ``.npz`` file as sequences ``[N, T, F]`` rather than images (an
        ``.npz`` with an array named ``sequences`` is read as sequences anyway).

    The returned ``Dataset.source`` records every choice, so
    ``load_dataset(ds.source)`` gives the same data back. For a source dict, its recorded
    size, colour and limit apply unless given here.

    Raises
    ------
    LatentLabError
        For an unknown name, a missing path, a bad option or an unusable file.
    """
    source = _source_of(spec)
    if source["kind"] == "arrays" and (sequences or _holds_sequences(source)):
        source["kind"] = "sequences"
    if source["kind"] in SEQUENCE_KINDS:
        if image_size is not None or color != "auto":
            raise LatentLabError("the image size and colour options apply to images; "
                                 f"'{source.get('path', source['kind'])}' holds sequences")
        return _sequences(source, check_limit(limit if limit is not None else source.get("limit")),
                          window, stride, seed)
    if window is not None or stride is not None:
        raise LatentLabError("--window and --stride apply to sequence data (a .csv series, strokes, waves)")
    if image_size is None:
        image_size = source.get("size")
    if color == "auto":
        color = source.get("color", "auto")
    if limit is None:
        limit = source.get("limit")
    image_size, color, limit = check_image_size(image_size), check_color(color), check_limit(limit)
    kind = source["kind"]
    if kind in _PROCEDURAL:
        return _procedural(kind, source, image_size, color, limit, source.get("seed", seed))
    if kind == "folder":
        ds = load_folder(_path(source), image_size=image_size, color=color, limit=limit)
        if limit is not None:
            ds.source["limit"] = limit
        return ds
    if kind == "mnist":
        ds = load_mnist()
    elif kind in downloads.NAMES:
        ds = downloads.load_standard(kind, source.get("split", "train"))
    elif kind == "arrays":
        ds = load_arrays(_path(source), limit=limit)
    else:
        labels = source.get("labels")
        ds = load_idx(_path(source), labels, find_labels="labels" not in source)
    return _finish(ds, image_size, color, limit)


def _source_of(spec: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """Turn a name, a path or a source dict into a source dict with a known kind."""
    if isinstance(spec, Mapping):
        source = dict(spec)
        if source.get("kind") not in SOURCE_KINDS:
            raise LatentLabError(
                f"unknown data source kind {source.get('kind')!r} (known: {', '.join(SOURCE_KINDS)})"
            )
        return source
    if not isinstance(spec, (str, os.PathLike)):
        raise LatentLabError(f"a data set is a name or a path, not {type(spec).__name__}")
    text = os.fspath(spec).strip()
    if text.lower() in NAMED_SOURCES:
        return {"kind": text.lower()}
    if not text:
        raise LatentLabError(f"no data set given; use {describe_sources()}")
    return {"kind": _kind_of_path(Path(text).expanduser(), text), "path": text}


def _holds_sequences(source: Mapping[str, Any]) -> bool:
    """Whether an ``.npz`` names its main array ``sequences`` (so it is read as sequences)."""
    path = Path(str(source.get("path", ""))).expanduser()
    if path.suffix.lower() != ".npz" or not path.is_file():
        return False
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            return "sequences.npy" in zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False  # the array reader reports the damage


def _count(source: Mapping[str, Any], what: str) -> int:
    n = source.get("n", DEFAULT_SEQUENCE_COUNT)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_PROCEDURAL_COUNT:
        raise LatentLabError(f"the number of {what} must be 1 to {MAX_PROCEDURAL_COUNT:,}, got {n!r}")
    return n


def _sequences(source: dict[str, Any], limit: int | None, window: int | None, stride: int | None,
               seed: Any) -> Dataset:
    """A sequence source: the generated strokes or waves, an array file, or a windowed CSV series."""
    kind = source["kind"]
    if kind in ("strokes", "waves"):
        if stride is not None:
            raise LatentLabError(f"--stride applies to a .csv series, not to {kind}")
        seed = source.get("seed", seed)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise LatentLabError(f"the seed must be a whole number, got {seed!r}")
        n = _count(source, kind)
        n = min(n, limit) if limit is not None else n
        default = DEFAULT_STROKE_STEPS if kind == "strokes" else DEFAULT_WAVE_STEPS
        steps = window if window is not None else source.get("steps", default)
        if kind == "strokes":
            return make_strokes(n=n, steps=steps, seed=seed)
        return make_waves(n=n, steps=steps, channels=source.get("channels", 1), seed=seed)
    if kind == "stream":
        from latentlab.core.data.stream import load_stream

        return load_stream(source, window, stride, limit)
    if kind == "sequences":
        if window is not None or stride is not None:
            raise LatentLabError("--window and --stride apply to a .csv series; an array file's sequences "
                                 "are used as stored")
        ds = load_sequence_arrays(_path(source), limit=limit)
        if limit is not None:
            ds.source["limit"] = limit
        return ds
    return load_series(_path(source), window if window is not None else source.get("window", DEFAULT_WINDOW),
                       stride if stride is not None else source.get("stride", DEFAULT_STRIDE),
                       center=source.get("center"), scale=source.get("scale"), limit=limit)


def _kind_of_path(path: Path, text: str) -> str:
    if not path.exists():
        raise LatentLabError(
            f"'{text}' is neither a data set name nor an existing file or folder; use {describe_sources()}"
        )
    if path.is_dir():
        return "folder"
    if path.suffix.lower() in (".npz", ".npy"):
        return "arrays"
    if path.suffix.lower() == ".csv":
        return "series"
    if "idx" in path.name.lower():
        return "idx"
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise LatentLabError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    # Raw IDX: two zero bytes then the type code 0x08 (unsigned bytes).
    if head[:3] == b"\x00\x00\x08":
        return "idx"
    raise LatentLabError(f"{path}: not a data file this tool reads; use {describe_sources()}")


def _path(source: Mapping[str, Any]) -> str:
    path = source.get("path")
    if not isinstance(path, str) or not path:
        raise LatentLabError(f"the data source {dict(source)} names no path")
    return path


def _procedural(
    kind: str, source: Mapping[str, Any], size: int | None, color: str, limit: int | None, seed: Any
) -> Dataset:
    n = source.get("n", DEFAULT_COUNT)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_PROCEDURAL_COUNT:
        raise LatentLabError(f"the number of {kind} images must be 1 to {MAX_PROCEDURAL_COUNT:,}, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise LatentLabError(f"the seed must be a whole number, got {seed!r}")
    if limit is not None:
        n = min(n, limit)
    ds = _PROCEDURAL[kind](n=n, size=size or DEFAULT_SIZE, seed=seed)
    # The size is already native; only the colour may still change.
    return _finish(ds, None, color, None)


def _finish(ds: Dataset, size: int | None, color: str, limit: int | None) -> Dataset:
    """Apply limit, size and colour, and record them in the source."""
    if limit is not None and limit < len(ds):
        ds = ds.subset(torch.arange(limit))
    images = convert_color(resize_images(ds.images, size), color)
    source = dict(ds.source)
    if size is not None and "size" not in source:
        source["size"] = size
    if color != "auto":
        source["color"] = color
    if limit is not None and ds.source["kind"] not in _PROCEDURAL:
        source["limit"] = limit
    return Dataset(
        name=ds.name,
        images=images,
        labels=ds.labels,
        class_names=ds.class_names,
        factors=ds.factors,
        factor_names=ds.factor_names,
        source=source,
        skipped=ds.skipped,
    )
