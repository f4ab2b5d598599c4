"""The standard data sets, downloaded on first use: Fashion-MNIST, KMNIST, MNIST, EMNIST letters, CIFAR-10.

Each file comes from the data set's official location (a well-known mirror as a second choice
where the official server is often unreachable) into the user's cache folder
(``platformdirs.user_cache_dir("latentlab")/datasets/<name>``), and is checked against the
SHA-256 written below before it is used. Nothing is downloaded unless a person asks for one
of these names.

* **Resumable**: bytes arrive in ``<file>.part``; an interrupted download continues where it
  stopped with an HTTP ``Range`` request (a server that ignores it starts again from zero).
* **Verified**: a file whose size or SHA-256 differs from the known one is deleted and
  reported; a server that sends more bytes than the file has is cut off.
* **Offline**: the error names the URL and the cache path where the file can be placed by
  hand; a placed file is checked like a downloaded one.
* **Never a pickle**: CIFAR-10 is read from its binary version, the others are IDX files.

``LATENTLAB_DATA_CACHE`` overrides the cache folder and ``LATENTLAB_DATA_MIRROR`` the
servers (files are then fetched from ``<mirror>/<name>/<file>``), e.g. for a local mirror.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import socket
import tarfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from latentlab.core.data.dataset import Dataset
from latentlab.core.errors import LatentLabError

__all__ = [
    "CACHE_ENV", "MIRROR_ENV", "NAMES", "SETS", "RemoteFile", "StandardSet", "cache_folder", "ensure",
    "is_cached", "load_standard",
]

CACHE_ENV = "LATENTLAB_DATA_CACHE"
MIRROR_ENV = "LATENTLAB_DATA_MIRROR"
CHUNK = 1 << 20
TIMEOUT_S = 30.0
ATTEMPTS = 3          # one download plus two resumptions after a dropped connection
Progress = Callable[[str, int, int], None]   # (file name, bytes so far, total bytes)


@dataclass(frozen=True)
class RemoteFile:
    """One file of a data set: its name on the server, size in bytes and SHA-256 (hex)."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class StandardSet:
    """A downloadable data set: where its files live, what they are, and its licence."""

    name: str
    title: str
    urls: tuple[str, ...]          # base URLs, tried in order; a file's URL is base + file name
    files: tuple[RemoteFile, ...]
    classes: tuple[str, ...]
    licence: str
    shape: tuple[int, int, int]
    count: int                     # items in the training split


_IDX = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def _idx_files(sizes: tuple[int, ...], hashes: tuple[str, ...]) -> tuple[RemoteFile, ...]:
    return tuple(RemoteFile(n, s, h) for n, s, h in zip(_IDX, sizes, hashes))


# The sizes and SHA-256 digests of the official files, as published and widely mirrored.
SETS: dict[str, StandardSet] = {s.name: s for s in (
    StandardSet(
        "fashion-mnist", "Fashion-MNIST (Zalando Research)",
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        _idx_files((26421880, 29515, 4422102, 5148), (
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5")),
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
         "Ankle boot"),
        "MIT", (1, 28, 28), 60000),
    StandardSet(
        "kmnist", "Kuzushiji-MNIST (ROIS-DS Center for Open Data in the Humanities)",
        ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
        _idx_files((18165135, 29497, 3041136, 5120), (
            "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
            "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
            "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
            "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c")),
        ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
        "CC BY-SA 4.0", (1, 28, 28), 60000),
    StandardSet(
        "mnist-full", "MNIST (Yann LeCun, Corinna Cortes, Christopher J. C. Burges)",
        ("https://yann.lecun.com/exdb/mnist/", "https://ossci-datasets.s3.amazonaws.com/mnist/"),
        _idx_files((9912422, 28881, 1648877, 4542), (
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6")),
        tuple(str(d) for d in range(10)),
        "CC BY-SA 3.0", (1, 28, 28), 60000),
    StandardSet(
        "emnist-letters", "EMNIST letters (NIST; Cohen, Afshar, Tapson and van Schaik)",
        ("https://biometrics.nist.gov/cs_links/EMNIST/",),
        (RemoteFile("gzip.zip", 561753746, "fb9bb67e33772a9cc0b895e4ecf36d2cf35be8b709693c3564cea2a019fcda8e"),),
        tuple(chr(c) for c in range(ord("A"), ord("Z") + 1)),
        "public domain (a work of the U.S. government, NIST)", (1, 28, 28), 124800),
    StandardSet(
        "cifar10", "CIFAR-10 (Alex Krizhevsky, Vinod Nair, Geoffrey Hinton)",
        ("https://www.cs.toronto.edu/~kriz/",),
        (RemoteFile("cifar-10-binary.tar.gz", 170052171,
                    "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"),),
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        "no licence stated; the authors ask that the technical report be cited", (3, 32, 32), 50000),
)}
NAMES = tuple(SETS)
SPLITS = ("train", "test")


def describe() -> str:
    """One line of help naming the downloadable sets."""
    return ", ".join(NAMES) + " (downloaded on first use)"


# -- where files live ------------------------------------------------------------------------
def cache_folder(name: str | None = None) -> Path:
    """The cache folder of the standard data sets (of one of them when ``name`` is given)."""
    root = os.environ.get(CACHE_ENV)
    if root:
        base = Path(root).expanduser()
    else:
        import platformdirs

        base = Path(platformdirs.user_cache_dir("latentlab")) / "datasets"
    return base / name if name else base


def _urls(spec: StandardSet, file: RemoteFile) -> list[str]:
    mirror = os.environ.get(MIRROR_ENV)
    if mirror:
        return [f"{mirror.rstrip('/')}/{spec.name}/{file.name}"]
    return [base + file.name for base in spec.urls]


def _get(name: str) -> StandardSet:
    spec = SETS.get(name)
    if spec is None:
        raise LatentLabError(f"unknown standard data set '{name}' (choose from {', '.join(NAMES)})")
    return spec


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _verified(path: Path, file: RemoteFile) -> bool:
    """Whether ``path`` is ``file``: checked once by hash, then remembered by size and time."""
    if not path.is_file():
        return False
    stat = path.stat()
    stamp = f"{file.sha256} {stat.st_size} {stat.st_mtime_ns}"
    marker = _marker(path)
    try:
        if marker.read_text("ascii") == stamp:
            return True
    except (OSError, UnicodeDecodeError):
        pass
    if stat.st_size != file.size or _sha256(path) != file.sha256:
        return False
    try:
        marker.write_text(stamp, "ascii")
    except OSError:
        pass   # a read-only cache still works; the hash is checked again next time
    return True


def is_cached(name: str) -> bool:
    """Whether every file of data set ``name`` is in the cache and verified."""
    spec = _get(name)
    folder = cache_folder(spec.name)
    return all(_verified(folder / f.name, f) for f in spec.files)


# -- downloading ------------------------------------------------------------------------------
class _Dropped(Exception):
    """The connection ended early; the bytes so far are kept for a resumption."""


def _download_once(url: str, part: Path, file: RemoteFile, progress: Progress | None,
                   should_stop: Callable[[], bool] | None) -> None:
    have = part.stat().st_size if part.exists() else 0
    if have > file.size:
        part.unlink()
        have = 0
    if have == file.size:
        return
    request = urllib.request.Request(url, headers={"User-Agent": "LatentLab", "Accept-Encoding": "identity"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)  # noqa: S310 - http(s) URLs of our own table
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:   # nothing left to send: the part is whole (or wrong: the hash says)
            return
        raise
    with response:
        status = response.status
        if have and status == 206:
            content_range = response.headers.get("Content-Range", "")
            if not content_range.startswith(f"bytes {have}-"):
                raise LatentLabError(f"{url}: the server resumed at the wrong place ({content_range or 'no range'})")
            mode = "ab"
        elif status == 200:
            have, mode = 0, "wb"   # a server that ignores Range sends the whole file again
        else:
            raise LatentLabError(f"{url}: unexpected answer {status} {response.reason}")
        with open(part, mode) as out:
            while True:
                if should_stop is not None and should_stop():
                    raise LatentLabError(f"the download of {file.name} was cancelled; it continues from "
                                         f"{have:,} bytes next time")
                try:
                    # read1: what has arrived (up to a block), so progress and Cancel keep up on a slow link
                    block = response.read1(min(CHUNK, file.size - have + 1))
                except (http.client.IncompleteRead, ConnectionError, socket.timeout, OSError) as exc:
                    raise _Dropped(str(exc)) from None
                if not block:
                    break
                have += len(block)
                if have > file.size:
                    out.close()
                    part.unlink()
                    raise LatentLabError(f"{url}: the server sent more than the {file.size:,} bytes this file has; "
                                         "it is not the expected file")
                out.write(block)
                if progress is not None:
                    progress(file.name, have, file.size)
    if have < file.size:
        raise _Dropped(f"the connection closed after {have:,} of {file.size:,} bytes")


def _fetch(spec: StandardSet, file: RemoteFile, progress: Progress | None,
           should_stop: Callable[[], bool] | None) -> Path:
    folder = cache_folder(spec.name)
    target = folder / file.name
    if _verified(target, file):
        return target
    if target.exists():
        raise LatentLabError(f"{target} is not the expected {spec.name} file (its size or SHA-256 differs); "
                             "delete it and try again, or replace it with the official file")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LatentLabError(f"cannot create the data cache folder {folder}: {exc.strerror or exc}") from None
    part = target.with_name(target.name + ".part")
    urls = _urls(spec, file)
    problems: list[str] = []
    for url in urls:
        for _attempt in range(ATTEMPTS):
            try:
                _download_once(url, part, file, progress, should_stop)
            except _Dropped as exc:
                problems.append(f"{url}: {exc}")
                continue
            except urllib.error.HTTPError as exc:
                problems.append(f"{url}: HTTP {exc.code} {exc.reason}")
                break
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
                problems.append(f"{url}: {reason}")
                break
            if part.stat().st_size == file.size and _sha256(part) == file.sha256:
                os.replace(part, target)
                _verified(target, file)
                return target
            got = _sha256(part)
            part.unlink()
            raise LatentLabError(
                f"{url}: the downloaded file's SHA-256 is {got}, not the expected {file.sha256}; it was "
                f"deleted. The server may be sending something else; you can place the official file "
                f"at {target} by hand")
    raise LatentLabError(
        f"could not download {spec.name} ({'; '.join(problems[-2:])}). If this computer is offline, "
        f"download {' or '.join(urls)} elsewhere and place it at {target} "
        f"(it is checked against its SHA-256 {file.sha256})")


def ensure(name: str, progress: Progress | None = None,
           should_stop: Callable[[], bool] | None = None) -> list[Path]:
    """Download (or find in the cache) every file of data set ``name``; returns their paths.

    ``progress(file_name, done_bytes, total_bytes)`` is called as bytes arrive;
    ``should_stop()`` is asked between blocks (True cancels, keeping the part for later).
    """
    spec = _get(name)
    return [_fetch(spec, f, progress, should_stop) for f in spec.files]


# -- reading ---------------------------------------------------------------------------------
def load_standard(name: str, split: str = "train", progress: Progress | None = None,
                  should_stop: Callable[[], bool] | None = None) -> Dataset:
    """Data set ``name`` (``split`` ``"train"`` or ``"test"``), downloading it first if needed."""
    from latentlab.core.data.idx import load_idx

    spec = _get(name)
    if split not in SPLITS:
        raise LatentLabError(f"the split must be one of {', '.join(SPLITS)}, got {split!r}")
    paths = ensure(name, progress, should_stop)
    if name == "cifar10":
        images, labels = _read_cifar(paths[0], split)
    elif name == "emnist-letters":
        images, labels = _read_emnist_letters(paths[0], split)
    else:
        first = 0 if split == "train" else 2
        ds = load_idx(paths[first], paths[first + 1], name=name, class_names=spec.classes)
        ds.source = {"kind": name} if split == "train" else {"kind": name, "split": split}
        return ds
    source = {"kind": name} if split == "train" else {"kind": name, "split": split}
    return Dataset(name=name, images=images, labels=labels, class_names=spec.classes, source=source)


CIFAR_RECORD = 1 + 3 * 32 * 32
CIFAR_BATCH = 10000
CIFAR_MEMBERS = {"train": tuple(f"cifar-10-batches-bin/data_batch_{k}.bin" for k in range(1, 6)),
                 "test": ("cifar-10-batches-bin/test_batch.bin",)}


def _read_cifar(path: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10's binary batches: each record a label byte and 3,072 bytes of R, G and B planes."""
    wanted = CIFAR_MEMBERS[split]
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                if member.name in wanted and member.isfile():
                    if member.size % CIFAR_RECORD or member.size > CIFAR_BATCH * CIFAR_RECORD:
                        raise LatentLabError(f"{path}: {member.name} is not whole CIFAR-10 records")
                    stream = tar.extractfile(member)
                    found[member.name] = stream.read() if stream is not None else b""
    except (tarfile.TarError, OSError, EOFError, gzip.BadGzipFile) as exc:
        raise LatentLabError(f"{path}: not a readable CIFAR-10 archive ({exc})") from None
    missing = [m for m in wanted if m not in found]
    if missing:
        raise LatentLabError(f"{path}: the archive lacks {', '.join(missing)}")
    raw = np.frombuffer(b"".join(found[m] for m in wanted), np.uint8).reshape(-1, CIFAR_RECORD)
    labels = raw[:, 0].astype(np.int64)
    if labels.size and labels.max() > 9:
        raise LatentLabError(f"{path}: a CIFAR-10 label is above 9; the file is damaged")
    images = raw[:, 1:].reshape(-1, 3, 32, 32)
    return torch.from_numpy(images.astype(np.float32) / 255.0), torch.from_numpy(labels)


EMNIST_MEMBERS = {"train": ("gzip/emnist-letters-train-images-idx3-ubyte.gz",
                            "gzip/emnist-letters-train-labels-idx1-ubyte.gz"),
                  "test": ("gzip/emnist-letters-test-images-idx3-ubyte.gz",
                           "gzip/emnist-letters-test-labels-idx1-ubyte.gz")}


def _read_emnist_letters(path: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """EMNIST letters from NIST's zip: IDX files whose images are stored transposed, labels 1..26."""
    import tempfile

    from latentlab.core.data.idx import load_idx

    names = EMNIST_MEMBERS[split]
    try:
        with zipfile.ZipFile(path) as zf, tempfile.TemporaryDirectory() as tmp:
            local = []
            for name in names:
                try:
                    info = zf.getinfo(name)
                except KeyError:
                    raise LatentLabError(f"{path}: the archive lacks {name}") from None
                if info.file_size > 256 * 1024**2:
                    raise LatentLabError(f"{path}: {name} is larger than an EMNIST file can be")
                out = Path(tmp) / Path(name).name
                with zf.open(info) as src, open(out, "wb") as dst:
                    dst.write(src.read())
                local.append(out)
            ds = load_idx(local[0], local[1], name="emnist-letters")
    except (zipfile.BadZipFile, OSError) as exc:
        raise LatentLabError(f"{path}: not a readable EMNIST archive ({exc})") from None
    if ds.labels is None or len(ds.labels) == 0 or int(ds.labels.min()) < 1 or int(ds.labels.max()) > 26:
        raise LatentLabError(f"{path}: EMNIST letters labels must run from 1 to 26")
    return ds.images.transpose(2, 3).contiguous(), ds.labels - 1
