"""Bounded readers for files a person hands us: JSON, zip archives, ``.npy`` and ``.npz``.

A file can lie about its size or depth: a JSON document nested a million levels deep, a zip
member that inflates a thousand-fold, an array header that claims gigabytes the file does not
hold. Every reader of user files goes through these primitives, which check what the file
claims *before* anything is inflated, allocated or recursed into, and refuse with one
:class:`~latentlab.core.errors.LatentLabError` naming the file.

- JSON: :func:`load_json` checks the nesting depth with a flat scan (no recursion) before
  parsing, and turns every parse failure into one line.
- Zip: :func:`open_zip` reads the archive's end record first (entry count and directory size
  bounded before :mod:`zipfile` builds its directory), :func:`zip_members` refuses unsafe,
  duplicate, encrypted, oversized or implausibly compressed members and sizes the file cannot
  hold, and :func:`read_member` reads one member with the checked size as its cap.
- Arrays: :func:`read_npy` and :func:`read_npz` read numpy files without unpickling, each
  array's header checked against ``max_bytes`` and the bytes actually stored.
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from latentlab.core.errors import LatentLabError

__all__ = [
    "MAX_ARRAY_BYTES", "MAX_JSON_DEPTH", "MAX_RATIO", "MAX_ZIP_MEMBERS", "NpyHeader", "check_json_depth",
    "check_npy_header", "json_depth", "load_json", "open_zip", "read_capped", "read_member", "read_npy",
    "read_npy_header", "read_npz", "zip_members",
]

#: Deeper JSON than this is refused: our files nest a handful of levels.
MAX_JSON_DEPTH = 64
#: The most bytes :func:`read_npy` / :func:`read_npz` hold by default (all arrays together).
MAX_ARRAY_BYTES = 1 << 32
#: Members inflating more than this many times their stored size are refused once they are
#: larger than :data:`RATIO_FLOOR_BYTES`. Real images, sequences and weights compress a few
#: times at most; a thousand-fold member is a decompression bomb (or degenerate data).
MAX_RATIO = 200
RATIO_FLOOR_BYTES = 16 * 1024**2
MAX_ZIP_MEMBERS = 10_000
MAX_ZIP_DIRECTORY_BYTES = 16 * 1024**2
# numpy refuses .npy headers over 10,000 bytes by default; so do we.
MAX_NPY_HEADER_BYTES = 10_000
MAX_NPY_DIMS = 32
_SCAN_CHUNK = 1 << 20
_READ_CHUNK = 1 << 22


# -- JSON ----------------------------------------------------------------------------------------
def json_depth(data: bytes | str, stop_above: int | None = None) -> int:
    """The deepest nesting of arrays and objects in a JSON text, found without recursion.

    A flat, chunked scan: brackets inside strings (quotes escaped by an odd run of
    backslashes stay inside) do not count. With ``stop_above`` the scan stops as soon as that
    depth is passed. Text that is not valid JSON gives a number that is right up to the first
    mistake, which is as far as a parser would get.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    buf = np.frombuffer(raw, dtype=np.uint8)
    depth = deepest = 0
    last_plain = -1          # index of the last byte that was not a backslash
    quotes = 0               # unescaped quotes seen so far (odd: inside a string)
    for lo in range(0, buf.size, _SCAN_CHUNK):
        chunk = buf[lo:lo + _SCAN_CHUNK]
        idx = np.arange(lo, lo + chunk.size, dtype=np.int64)
        plain = np.maximum.accumulate(np.where(chunk != 0x5C, idx, last_plain))
        before = np.concatenate(([last_plain], plain[:-1]))
        escaped = ((idx - 1 - before) & 1).astype(bool)     # odd run of backslashes before
        quote = (chunk == 0x22) & ~escaped
        inside = ((quotes + np.cumsum(quote)) & 1).astype(bool)
        step = ((chunk == 0x5B) | (chunk == 0x7B)).astype(np.int64) - ((chunk == 0x5D) | (chunk == 0x7D))
        step[inside] = 0
        run = depth + np.cumsum(step)
        deepest = max(deepest, int(run.max()))
        if stop_above is not None and deepest > stop_above:
            return deepest
        depth, last_plain, quotes = int(run[-1]), int(plain[-1]), quotes + int(quote.sum())
    return deepest


def check_json_depth(data: bytes | str, where: str, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Refuse JSON nested deeper than ``max_depth`` (LatentLabError naming ``where``)."""
    depth = json_depth(data, stop_above=max_depth)
    if depth > max_depth:
        raise LatentLabError(
            f"{where}: the JSON is nested more than {max_depth} levels deep; "
            "it is damaged or not a LatentLab file")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def load_json(data: bytes, where: str, *, max_depth: int = MAX_JSON_DEPTH,
              allow_nan: bool = True) -> Any:
    """Parse UTF-8 JSON bytes after the depth check; every failure is one LatentLabError.

    ``allow_nan=False`` refuses ``NaN`` and ``Infinity``, which JSON itself does not allow.
    """
    check_json_depth(data, where, max_depth)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LatentLabError(f"{where}: not text (UTF-8 JSON expected; {exc.reason})") from None
    hook: Callable[[str], Any] | None = None if allow_nan else _reject_constant
    try:
        return json.loads(text, parse_constant=hook) if hook else json.loads(text)
    except json.JSONDecodeError as exc:
        raise LatentLabError(f"{where}: not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})") from None
    except RecursionError:  # a backstop; the depth check comes first
        raise LatentLabError(f"{where}: the JSON is nested too deeply") from None
    except ValueError as exc:  # NaN when refused, integers of more digits than Python converts
        raise LatentLabError(f"{where}: not valid JSON ({exc})") from None


def read_capped(path: str | os.PathLike[str], limit: int, where: str | None = None) -> bytes:
    """The bytes of a file no larger than ``limit``; checked before reading, capped while reading."""
    where = where or str(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > limit:
                raise LatentLabError(f"{where}: the file is too large ({size:,} bytes; the limit is {limit:,})")
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise LatentLabError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise LatentLabError(f"{where}: is a folder, not a file") from None
    except OSError as exc:
        raise LatentLabError(f"{where}: cannot read the file ({exc.strerror or exc})") from None
    if len(data) > limit:  # it grew while being read
        raise LatentLabError(f"{where}: the file is too large (over {limit:,} bytes)")
    return data


# -- zip -----------------------------------------------------------------------------------------
_EOCD = struct.Struct("<4s4H2LH")
_EOCD64_LOCATOR = struct.Struct("<4sLQL")


def _check_zip_directory(f: IO[bytes], where: str, max_members: int) -> None:
    """Read the end record: entry count and directory size, bounded before zipfile parses them."""
    f.seek(0, os.SEEK_END)
    size = f.tell()
    tail_len = min(size, _EOCD.size + 65535 + _EOCD64_LOCATOR.size)
    f.seek(size - tail_len)
    tail = f.read(tail_len)
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or len(tail) - pos < _EOCD.size:
        raise LatentLabError(f"{where}: not a zip archive (or it is truncated)")
    _, _, _, _, entries, dir_size, dir_offset, _ = _EOCD.unpack_from(tail, pos)
    if entries == 0xFFFF or dir_size == 0xFFFFFFFF or dir_offset == 0xFFFFFFFF:
        loc = pos - _EOCD64_LOCATOR.size
        if loc < 0 or tail[loc:loc + 4] != b"PK\x06\x07":
            raise LatentLabError(f"{where}: a damaged zip64 archive (its end record is missing)")
        record_at = _EOCD64_LOCATOR.unpack_from(tail, loc)[2]
        if record_at + 56 > size:
            raise LatentLabError(f"{where}: a damaged zip64 archive (its end record lies past the file's end)")
        f.seek(record_at)
        record = f.read(56)
        if record[:4] != b"PK\x06\x06":
            raise LatentLabError(f"{where}: a damaged zip64 archive")
        entries, dir_size, dir_offset = struct.unpack_from("<QQQ", record, 32)
    if entries > max_members:
        raise LatentLabError(f"{where}: the archive lists {entries:,} members; more than {max_members:,} are refused")
    if dir_size > min(size, MAX_ZIP_DIRECTORY_BYTES):
        raise LatentLabError(
            f"{where}: the archive's directory claims {dir_size:,} bytes"
            + (f", more than the {size:,}-byte file holds" if dir_size > size else ", far more than its members need"))


def open_zip(path: str | os.PathLike[str], where: str | None = None,
             max_members: int = MAX_ZIP_MEMBERS) -> zipfile.ZipFile:
    """Open a zip archive after bounding its directory (entry count, directory size)."""
    where = where or str(path)
    try:
        with open(path, "rb") as f:
            _check_zip_directory(f, where, max_members)
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, struct.error, ValueError) as exc:
        raise LatentLabError(f"{where}: a damaged zip archive ({exc})") from None
    except OSError as exc:
        raise LatentLabError(f"{where}: cannot read the file ({exc.strerror or exc})") from None


def unsafe_member_name(name: str) -> bool:
    """Whether an archive member's path is absolute, climbs out (``..``) or names a drive."""
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0] or "\x00" in name


def zip_members(zf: zipfile.ZipFile, where: str, *, max_member_bytes: int,
                max_total_bytes: int | None = None, max_ratio: float = MAX_RATIO) -> dict[str, zipfile.ZipInfo]:
    """The archive's files by name, each checked before anything is inflated.

    Refused: unsafe paths, duplicate names, encrypted members, compression other than stored or
    deflate, sizes or offsets the file cannot hold, a declared size over ``max_member_bytes``
    (or a total over ``max_total_bytes``), and members over :data:`RATIO_FLOOR_BYTES` that
    would inflate more than ``max_ratio`` times.
    """
    try:
        archive_size: int | None = os.fstat(zf.fp.fileno()).st_size  # type: ignore[union-attr]
    except (AttributeError, OSError):  # an archive in memory: its members are checked as they inflate
        archive_size = None
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in zf.infolist():
        name = info.filename
        if unsafe_member_name(name):
            raise LatentLabError(f"{where}: refusing an archive member with an unsafe path: {name!r}")
        key = name.replace("\\", "/")
        if key in members:
            raise LatentLabError(f"{where}: the archive holds {name!r} twice; refusing an ambiguous archive")
        if info.is_dir():
            members[key] = info
            continue
        if info.flag_bits & 0x1:
            raise LatentLabError(f"{where}: archive member {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise LatentLabError(
                f"{where}: archive member {name!r} uses compression method {info.compress_type}; "
                "only stored and deflate members are read")
        if archive_size is not None and info.header_offset + info.compress_size > archive_size:
            raise LatentLabError(
                f"{where}: archive member {name!r} claims {info.compress_size:,} stored bytes at offset "
                f"{info.header_offset:,}, beyond the {archive_size:,}-byte file: it is truncated or damaged")
        if info.file_size > max_member_bytes:
            raise LatentLabError(
                f"{where}: archive member {name!r} is too large ({info.file_size:,} bytes; "
                f"the limit is {max_member_bytes:,})")
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise LatentLabError(f"{where}: archive member {name!r} declares sizes that disagree; it is damaged")
        if info.file_size > RATIO_FLOOR_BYTES and info.file_size > max_ratio * max(info.compress_size, 1):
            raise LatentLabError(
                f"{where}: archive member {name!r} would inflate from {info.compress_size:,} to "
                f"{info.file_size:,} bytes (over {max_ratio:g} times); refusing a likely decompression bomb "
                "(save it uncompressed if it is real data)")
        total += info.file_size
        if max_total_bytes is not None and total > max_total_bytes:
            raise LatentLabError(
                f"{where}: the archive's members add up to over {max_total_bytes:,} bytes, more than is read")
        members[key] = info
    return members


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, limit: int) -> bytes:
    """One member's bytes: its declared size checked against ``limit``, the read capped by both.

    A member that inflates to more or fewer bytes than it declares fails zipfile's own check
    (CRC, end of data) and is refused as damaged.
    """
    if info.file_size > limit:
        raise LatentLabError(f"{where}: archive member {info.filename} is too large ({info.file_size:,} bytes)")
    try:
        with zf.open(info) as f:
            data = f.read(info.file_size + 1)
    except (zipfile.BadZipFile, EOFError, OSError, RuntimeError, ValueError, NotImplementedError) as exc:
        raise LatentLabError(f"{where}: archive member {info.filename} is damaged ({exc})") from None
    if len(data) != info.file_size:
        raise LatentLabError(f"{where}: archive member {info.filename} does not hold the size it declares")
    return data


# -- .npy / .npz ---------------------------------------------------------------------------------
class NpyHeader:
    """What an ``.npy`` header claims: shape, dtype, order, and where the data starts."""

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype, fortran: bool, offset: int) -> None:
        self.shape, self.dtype, self.fortran, self.offset = shape, dtype, fortran, offset

    @property
    def nbytes(self) -> int:
        count = 1
        for side in self.shape:
            count *= side  # Python integers: a product of huge sides does not overflow
        return count * self.dtype.itemsize


class _Counting:
    """A read-only stream wrapper that counts the bytes read (zip members cannot always tell)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream, self.count = stream, 0

    def read(self, n: int = -1) -> bytes:
        data = self.stream.read(n)
        self.count += len(data)
        return data


def read_npy_header(stream: IO[bytes], where: str) -> NpyHeader:
    """Parse an ``.npy`` header from the stream's current position (left at the data)."""
    counting = _Counting(stream)
    try:
        version = np.lib.format.read_magic(counting)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(counting, MAX_NPY_HEADER_BYTES)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(counting, MAX_NPY_HEADER_BYTES)
        else:
            raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
    except zipfile.BadZipFile as exc:
        raise LatentLabError(f"{where}: the archive member is damaged ({exc})") from None
    except (ValueError, OSError, EOFError, TypeError, SyntaxError, struct.error) as exc:
        raise LatentLabError(f"{where}: not a numpy array file ({exc})") from None
    shape = tuple(int(v) for v in shape)
    if len(shape) > MAX_NPY_DIMS or any(v < 0 for v in shape):
        raise LatentLabError(f"{where}: the header claims an impossible shape {shape}")
    return NpyHeader(shape, dtype, bool(fortran), counting.count)


def check_npy_header(header: NpyHeader, stored: int, max_bytes: int, where: str,
                     budget: int | None = None) -> None:
    """Refuse object arrays, arrays over ``max_bytes`` and arrays larger than the bytes stored.

    ``budget``: the whole allowance ``max_bytes`` is what is left of (several arrays of one file).
    """
    if header.dtype.hasobject:
        raise LatentLabError(
            f"{where}: holds Python objects, which would need unpickling; save a plain numeric array")
    claim = header.nbytes
    if claim > max_bytes:
        raise LatentLabError(
            f"{where}: the header claims an array of shape {header.shape} ({claim:,} bytes), more than "
            + (f"the {max_bytes:,} bytes left of the {budget:,} bytes this tool loads from one file"
               if budget is not None and budget != max_bytes else f"the {max_bytes:,} bytes this tool loads"))
    if claim > stored:
        raise LatentLabError(
            f"{where}: the header claims an array of shape {header.shape} ({claim:,} bytes) but only "
            f"{max(stored, 0):,} bytes are stored: the file is truncated or damaged")


def _read_payload(stream: IO[bytes], header: NpyHeader, where: str) -> np.ndarray:
    """The array's data, read into one buffer of exactly the checked size."""
    shape, dtype = header.shape, header.dtype
    if header.nbytes == 0:
        return np.zeros(shape, dtype=dtype)
    out = np.empty(header.nbytes, dtype=np.uint8)
    view = memoryview(out)
    done = 0
    while done < header.nbytes:
        piece = stream.read(min(_READ_CHUNK, header.nbytes - done))
        if not piece:
            raise LatentLabError(f"{where}: the data ends after {done:,} of {header.nbytes:,} bytes: "
                                 "the file is truncated or damaged")
        view[done:done + len(piece)] = piece
        done += len(piece)
    flat = out.view(dtype)
    if header.fortran:
        return flat.reshape(shape[::-1]).transpose()
    return flat.reshape(shape)


def read_npy(path: str | os.PathLike[str], max_bytes: int = MAX_ARRAY_BYTES) -> np.ndarray:
    """A ``.npy`` file's array, never unpickled; the header is checked before anything is allocated.

    Raises LatentLabError naming the file for anything but a plain array of at most
    ``max_bytes`` bytes that the file holds in full.
    """
    where = str(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            header = read_npy_header(f, where)
            check_npy_header(header, size - header.offset, max_bytes, where)
            return _read_payload(f, header, where)
    except FileNotFoundError:
        raise LatentLabError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise LatentLabError(f"{where}: is a folder, not a file") from None
    except OSError as exc:
        raise LatentLabError(f"{where}: cannot read the file ({exc.strerror or exc})") from None


def read_npz(path: str | os.PathLike[str], max_bytes: int = MAX_ARRAY_BYTES) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file by name, never unpickled, all of them within ``max_bytes``.

    The archive is checked as a whole first (:func:`zip_members`), then each array's header
    against its member's declared size and the remaining budget, before it is read.
    """
    where = str(path)
    if not Path(path).is_file():
        raise LatentLabError(f"{where}: no such file")
    with open_zip(path, where) as zf:
        members = zip_members(zf, where, max_member_bytes=max_bytes + MAX_NPY_HEADER_BYTES + 128)
        arrays: dict[str, np.ndarray] = {}
        left = max_bytes
        for name, info in members.items():
            if info.is_dir() or not name.endswith(".npy"):
                continue  # numpy writes only .npy members; anything else is not an array
            here = f"{where} (array '{name[:-4]}')"
            try:
                with zf.open(info) as stream:
                    header = read_npy_header(stream, here)
                    check_npy_header(header, info.file_size - header.offset, left, here, max_bytes)
                    arrays[name[:-4]] = _read_payload(stream, header, here)
            except (zipfile.BadZipFile, EOFError, OSError, RuntimeError, ValueError, NotImplementedError) as exc:
                raise LatentLabError(f"{here}: the archive member is damaged ({exc})") from None
            left -= header.nbytes
    return arrays
