"""IDX files (the MNIST format), raw or gzip-compressed, read defensively.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian 32-bit size per dimension, then the values. Only unsigned
bytes are accepted: 2051 (images, 3-D) and 2049 (labels, 1-D). Every size the header
claims is checked against the file *before* memory is allocated, so a damaged header
gives a clear error instead of a giant allocation.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from latentlab.core.data.dataset import Dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.safe_io import MAX_RATIO, RATIO_FLOOR_BYTES
from latentlab.resources_path import resource_path

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
_KIND = {IMAGES_MAGIC: ("images", 3), LABELS_MAGIC: ("labels", 1)}
# 1 GiB of bytes is 4 GiB as float32: more than any data set this tool is meant for.
MAX_PAYLOAD_BYTES = 1 << 30
# Deflate cannot compress better than about 1032:1, so a header claiming more data
# than that from a small .gz file is lying.
_GZIP_MAX_RATIO = 1100
_MAX_SIDE = 4096
_CHUNK = 1 << 20
MNIST_CLASS_NAMES = tuple(str(d) for d in range(10))


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _read_exact(stream: BinaryIO, n: int, path: Path, what: str) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise LatentLabError(f"{path}: the file is truncated (it ends inside the {what})")
    return data


def _read_header(stream: BinaryIO, path: Path, magic_wanted: int) -> tuple[int, ...]:
    """Read and validate the magic number and sizes; return the sizes."""
    magic = int.from_bytes(_read_exact(stream, 4, path, "header"), "big")
    if magic != magic_wanted:
        wanted, ndim = _KIND[magic_wanted]
        if magic in _KIND:
            other = _KIND[magic][0]
            raise LatentLabError(
                f"{path}: this is an IDX {other} file, but an IDX {wanted} file is needed here"
            )
        raise LatentLabError(
            f"{path}: not an IDX {wanted} file (magic number {magic:#010x}, "
            f"expected {magic_wanted:#010x}: "
            f"unsigned bytes, {ndim}-D)"
        )
    ndim = _KIND[magic_wanted][1]
    raw = _read_exact(stream, 4 * ndim, path, "header")
    dims = tuple(int.from_bytes(raw[4 * i : 4 * i + 4], "big") for i in range(ndim))
    if dims[0] == 0:
        raise LatentLabError(f"{path}: the file holds no items (its header says 0)")
    if ndim == 3 and not (1 <= dims[1] <= _MAX_SIDE and 1 <= dims[2] <= _MAX_SIDE):
        raise LatentLabError(
            f"{path}: the header claims {dims[1]}x{dims[2]}-pixel images; sides must be 1 to {_MAX_SIDE}"
        )
    return dims


def _describe(dims: tuple[int, ...]) -> str:
    if len(dims) == 3:
        return f"{dims[0]:,} images of {dims[1]}x{dims[2]} pixels"
    return f"{dims[0]:,} labels"


def _check_payload(path: Path, dims: tuple[int, ...], payload: int, gz: bool) -> None:
    """Refuse header sizes the file cannot hold, before anything is allocated."""
    claim = _describe(dims)
    if payload > MAX_PAYLOAD_BYTES:
        raise LatentLabError(
            f"{path}: the header claims {claim} ({payload:,} bytes), more than the "
            f"{MAX_PAYLOAD_BYTES:,} bytes this tool loads; the header is probably damaged"
        )
    size = os.path.getsize(path)
    if gz:
        if payload > size * _GZIP_MAX_RATIO:
            raise LatentLabError(
                f"{path}: the header claims {claim} ({payload:,} bytes), which a {size:,}-byte "
                "gzip file cannot hold; the file is damaged or truncated"
            )
        if payload > RATIO_FLOOR_BYTES and payload > size * MAX_RATIO:
            # Possible for deflate, but not for real images (MNIST inflates about 5-fold):
            # refused before inflating, as a decompression bomb would be.
            raise LatentLabError(
                f"{path}: the header claims {claim} ({payload:,} bytes) from a {size:,}-byte gzip file, "
                f"over {MAX_RATIO} times its size; refusing a likely decompression bomb"
            )
        return
    have = size - 4 - 4 * len(dims)
    if have != payload:
        problem = "is truncated" if have < payload else "has extra data after the values"
        raise LatentLabError(
            f"{path}: the header claims {claim} ({payload:,} bytes of data) but the file holds "
            f"{have:,} bytes: it {problem}"
        )


def _read_gzip_payload(stream: BinaryIO, path: Path, payload: int, claim: str) -> np.ndarray:
    out = np.empty(payload, dtype=np.uint8)
    view = memoryview(out)
    done = 0
    while done < payload:
        got = stream.readinto(view[done : min(payload, done + _CHUNK)])  # type: ignore[attr-defined]
        if not got:
            raise LatentLabError(
                f"{path}: the header claims {claim} ({payload:,} bytes) but the data ends after "
                f"{done:,} bytes: the file is truncated"
            )
        done += got
    # Reading on to the end also makes gzip verify its checksum.
    if stream.read(1):
        raise LatentLabError(f"{path}: the file has more data than its header claims ({claim})")
    return out


def read_idx(path: str | os.PathLike[str], magic: int) -> np.ndarray:
    """Read an IDX file of unsigned bytes with the given magic number.

    Parameters
    ----------
    path:
        Raw or gzip-compressed IDX file (detected from its first bytes, not its name).
    magic:
        :data:`IMAGES_MAGIC` (returns ``[N, H, W]``) or :data:`LABELS_MAGIC` (``[N]``).

    Raises
    ------
    LatentLabError
        For a missing, damaged, truncated or mislabelled file; the message names it.
    """
    path = Path(path)
    if not path.is_file():
        raise LatentLabError(f"{path}: no such file")
    gz = _is_gzip(path)
    try:
        with open(path, "rb") as raw:
            stream: BinaryIO = raw
            if gz:
                stream = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
            dims = _read_header(stream, path, magic)
            payload = int(np.prod(dims, dtype=object))
            _check_payload(path, dims, payload, gz)
            if gz:
                data = _read_gzip_payload(stream, path, payload, _describe(dims))
            else:
                data = np.fromfile(raw, dtype=np.uint8, count=payload)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise LatentLabError(f"{path}: the gzip data is corrupt or truncated ({exc})") from None
    except OSError as exc:
        raise LatentLabError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    if data.size != payload:
        raise LatentLabError(f"{path}: the file changed or was truncated while being read")
    return data.reshape(dims)


def find_labels_file(images_path: str | os.PathLike[str]) -> Path | None:
    """The labels file that goes with an IDX images file, by the usual naming, or None.

    ``train-images-idx3-ubyte.gz`` pairs with ``train-labels-idx1-ubyte`` (``.gz`` or not).
    """
    images_path = Path(images_path)
    name = images_path.name
    guess = re.sub("idx3", "idx1", re.sub("images", "labels", name, flags=re.I), flags=re.I)
    if guess == name:
        return None
    stem = guess[:-3] if guess.lower().endswith(".gz") else guess
    for candidate in (guess, stem, stem + ".gz"):
        path = images_path.with_name(candidate)
        if path.is_file() and path != images_path:
            return path
    return None


def load_idx(
    images_path: str | os.PathLike[str],
    labels_path: str | os.PathLike[str] | None = None,
    *,
    find_labels: bool = True,
    name: str | None = None,
    class_names: tuple[str, ...] | None = None,
) -> Dataset:
    """An IDX images file (and its labels file, when given or found next to it) as a Dataset.

    Labels are optional; when present their count must equal the image count. With no
    ``labels_path`` and ``find_labels`` the labels file is looked for by name
    (:func:`find_labels_file`). Without ``class_names`` the classes are named ``"0"`` up
    to the largest label.
    """
    images_path = Path(images_path).expanduser()
    if labels_path is None and find_labels:
        labels_path = find_labels_file(images_path)
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = None
    if labels_path is not None:
        labels_path = Path(labels_path).expanduser()
        raw_labels = read_idx(labels_path, LABELS_MAGIC)
        if raw_labels.shape[0] != images.shape[0]:
            raise LatentLabError(
                f"{labels_path}: holds {raw_labels.shape[0]:,} labels but {images_path.name} holds "
                f"{images.shape[0]:,} images; the counts must match"
            )
        labels = torch.from_numpy(raw_labels.astype(np.int64))
        if class_names is None:
            class_names = tuple(str(v) for v in range(int(raw_labels.max()) + 1))
        elif int(raw_labels.max()) >= len(class_names):
            raise LatentLabError(f"{labels_path}: label {int(raw_labels.max())} has no class name")
    tensor = torch.from_numpy(images).unsqueeze(1).to(torch.float32).div_(255.0)
    return Dataset(
        name=name or _dataset_name(images_path),
        images=tensor,
        labels=labels,
        class_names=class_names if labels is not None and class_names else (),
        source={
            "kind": "idx",
            "path": str(images_path.resolve()),
            "labels": None if labels_path is None else str(Path(labels_path).resolve()),
        },
    )


def _dataset_name(path: Path) -> str:
    name = path.name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    return re.sub(r"[-.]images[-.]idx3[-.]ubyte$", "", name, flags=re.I) or name


def load_mnist() -> Dataset:
    """The bundled 10,000 MNIST test digits: ``[10000, 1, 28, 28]``, classes ``"0"``..``"9"``."""
    folder = resource_path("mnist")
    images = folder / "t10k-images-idx3-ubyte.gz"
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    if not images.is_file() or not labels.is_file():
        raise LatentLabError(f"the bundled MNIST files are missing from {folder}; reinstall LatentLab")
    ds = load_idx(images, labels, name="mnist", class_names=MNIST_CLASS_NAMES)
    ds.source = {"kind": "mnist"}
    return ds
