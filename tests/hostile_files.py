"""A corpus of files that lie about their size or depth, made on the spot for the tests.

Each maker writes one file (or folder) under a given folder and returns its path. The zip
archives are assembled by hand, byte by byte, so they can say what no honest writer would:
duplicate or escaping member names, sizes larger than the file, sizes that overflow, and
members that inflate a thousand-fold.
"""

from __future__ import annotations

import gzip
import json
import struct
import zlib
from pathlib import Path

import numpy as np

DEEP = 300_000  # nesting levels: far past any recursion limit
_MIB = 1024**2


# -- raw zip -----------------------------------------------------------------------------
def _zip(entries: list[dict]) -> bytes:
    """A zip archive from entries: name, data (stored bytes), method, crc, size, csize, extra."""
    out, central = bytearray(), bytearray()
    for e in entries:
        name = e["name"].encode()
        data = e.get("data", b"")
        method, crc = e.get("method", 0), e.get("crc", zlib.crc32(data))
        size, csize = e.get("size", len(data)), e.get("csize", len(data))
        extra = e.get("extra", b"")
        offset = len(out)
        small = (min(size, 0xFFFFFFFF), min(csize, 0xFFFFFFFF))
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 45, 0, method, 0, 0x21, crc, small[1], small[0],
                           len(name), len(extra)) + name + extra + data
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 45, 45, 0, method, 0, 0x21, crc, small[1],
                               small[0], len(name), len(extra), 0, 0, 0, 0, offset) + name + extra
    cd_offset = len(out)
    out += central
    out += struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), cd_offset, 0)
    return bytes(out)


def _deflate_zeros(prefix: bytes, zeros: int) -> tuple[bytes, int]:
    """Raw deflate of ``prefix`` + ``zeros`` zero bytes, made fast by repeating one flushed block.

    After a full flush the compressor forgets everything, so the same input always
    compresses to the same bytes: one mebibyte's worth is compressed once and repeated.
    Returns (compressed bytes, CRC-32 of the uncompressed data).
    """
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(bytes(_MIB)) + c.flush(zlib.Z_FULL_FLUSH)
    whole, rest = divmod(zeros, _MIB)
    tail = c.compress(bytes(rest)) + c.flush()
    crc = zlib.crc32(prefix)
    chunk = bytes(_MIB)
    for _ in range(whole):
        crc = zlib.crc32(chunk, crc)
    return head + block * whole + tail, zlib.crc32(bytes(rest), crc)


def _npy_header(shape: tuple[int, ...], descr: str = "|u1") -> bytes:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _deep_json(depth: int = DEEP) -> bytes:
    return b'{"format_version": 1, "app": "latentlab", "model": ' + b"[" * depth + b"]" * depth + b"}"


# -- makers ------------------------------------------------------------------------------
def deep_model_folder(folder: Path) -> Path:
    root = folder / "deep-model"
    root.mkdir()
    (root / "config.json").write_bytes(_deep_json())
    (root / "model.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    return root


def deep_model_zip(folder: Path) -> Path:
    path = folder / "deep.latentlab"
    path.write_bytes(_zip([{"name": "config.json", "data": _deep_json()},
                           {"name": "model.safetensors", "data": b"\x02\x00\x00\x00\x00\x00\x00\x00{}"}]))
    return path


def deep_session(folder: Path) -> Path:
    path = folder / "deep-session.json"
    path.write_bytes(b'{"format_version": 1, "extra": {"v": ' + b"[" * DEEP + b"]" * DEEP + b"}}")
    return path


def npz_bomb(folder: Path, inflated: int = 3 * 1024**3) -> Path:
    """A few-MB .npz whose one member honestly declares and inflates to ``inflated`` bytes."""
    header = _npy_header((inflated // (784 * 64), 784, 64))
    data_size = (inflated // (784 * 64)) * 784 * 64
    packed, crc = _deflate_zeros(header, data_size)
    path = folder / "bomb.npz"
    path.write_bytes(_zip([{"name": "x.npy", "data": packed, "method": 8, "crc": crc,
                            "size": len(header) + data_size, "csize": len(packed)}]))
    return path


def npz_lying_member(folder: Path) -> Path:
    """A member declaring 1 kB whose compressed data inflate to 64 MB."""
    header = _npy_header((1000,))
    packed, crc = _deflate_zeros(header, 64 * _MIB)
    path = folder / "liar.npz"
    path.write_bytes(_zip([{"name": "x.npy", "data": packed, "method": 8, "crc": crc,
                            "size": len(header) + 1000, "csize": len(packed)}]))
    return path


def npz_declared_beyond_file(folder: Path) -> Path:
    body = _npy_header((4, 4)) + bytes(16)
    path = folder / "beyond.npz"
    path.write_bytes(_zip([{"name": "x.npy", "data": body, "csize": 2_000_000_000, "size": 2_000_000_000}]))
    return path


def npz_overflowing_size(folder: Path) -> Path:
    """A zip64 size field of 2**64 - 1."""
    body = _npy_header((4, 4)) + bytes(16)
    extra = struct.pack("<HHQQ", 1, 16, 2**64 - 1, len(body))
    path = folder / "overflow.npz"
    path.write_bytes(_zip([{"name": "x.npy", "data": body, "size": 0xFFFFFFFF, "csize": 0xFFFFFFFF,
                            "extra": extra}]))
    return path


def npz_duplicate_members(folder: Path) -> Path:
    body = _npy_header((2, 4, 4)) + bytes(32)
    path = folder / "twice.npz"
    path.write_bytes(_zip([{"name": "x.npy", "data": body}, {"name": "x.npy", "data": body}]))
    return path


def npz_member_path(folder: Path, member: str, stem: str) -> Path:
    body = _npy_header((2, 4, 4)) + bytes(32)
    path = folder / f"{stem}.npz"
    path.write_bytes(_zip([{"name": member, "data": body}]))
    return path


def model_zip_member_path(folder: Path, member: str, stem: str) -> Path:
    path = folder / f"{stem}.latentlab"
    path.write_bytes(_zip([{"name": member, "data": b"{}"}, {"name": "model.safetensors", "data": b""}]))
    return path


def npy_overflowing_shape(folder: Path) -> Path:
    path = folder / "overflow.npy"
    path.write_bytes(_npy_header((2**62, 2**62, 2**62), "<f8") + bytes(64))
    return path


def npy_truncated(folder: Path) -> Path:
    path = folder / "cut.npy"
    path.write_bytes(_npy_header((60_000, 28, 28)) + bytes(1000))
    return path


def npz_truncated(folder: Path) -> Path:
    path = folder / "cut.npz"
    np.savez(path, x=np.zeros((50, 8, 8), np.uint8))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def idx_gzip_bomb(folder: Path) -> Path:
    """A gzip IDX file whose header honestly claims 1 GiB of zero pixels (about 1 MB stored)."""
    dims = (16_384, 256, 256)
    header = struct.pack(">I3I", 2051, *dims)
    packed, crc = _deflate_zeros(header, 16_384 * 256 * 256)
    size = (len(header) + 16_384 * 256 * 256) & 0xFFFFFFFF
    path = folder / "bomb-images-idx3-ubyte.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + packed + struct.pack("<II", crc, size))
    return path


def idx_truncated_gzip(folder: Path) -> Path:
    data = gzip.compress(struct.pack(">I3I", 2051, 100, 28, 28) + bytes(100 * 784))
    path = folder / "cut-images-idx3-ubyte.gz"
    path.write_bytes(data[: len(data) // 2])
    return path


def png_claiming_huge(folder: Path) -> Path:
    """A PNG whose header says 60000 x 60000 pixels, with a few bytes of data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", 60_000, 60_000, 8, 0, 0, 0, 0)
    idat = zlib.compress(bytes(60_001 * 4))
    path = folder / "huge.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def png_truncated(folder: Path) -> Path:
    from PIL import Image

    path = folder / "cut.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def write_json(path: Path, value: object) -> Path:
    path.write_text(json.dumps(value))
    return path


def oversized_weights_model(folder: Path) -> Path:
    """A valid tiny model whose weights file is padded (sparsely) to 3 GiB."""
    from latentlab.core.checkpoint import save_model
    from latentlab.core.models import ModelConfig, build_model

    root = folder / "padded-model"
    save_model(root, build_model(ModelConfig(family="vae", arch="mlp", latent_dim=2, hidden=(8,))))
    with open(root / "model.safetensors", "r+b") as f:
        f.truncate(3 * 1024**3)  # a hole: no disk used, but 3 GiB to whoever reads it
    return root
