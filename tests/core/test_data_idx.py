"""IDX reading: the bundled MNIST digits and damaged or mismatched IDX files."""

from __future__ import annotations

import gzip
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch

from latentlab.core.data import load_dataset
from latentlab.core.data.idx import IMAGES_MAGIC, LABELS_MAGIC, find_labels_file, load_mnist, read_idx
from latentlab.core.errors import LatentLabError


def idx_bytes(magic: int, dims: tuple[int, ...], data: bytes) -> bytes:
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + data


def write_idx(path: Path, magic: int, dims: tuple[int, ...], data: bytes, gz: bool = False) -> Path:
    raw = idx_bytes(magic, dims, data)
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


@pytest.fixture(scope="module")
def mnist():
    return load_mnist()


@pytest.fixture
def small_pair(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(12, 5, 7), dtype=np.uint8)
    labels = rng.integers(0, 4, size=12).astype(np.uint8)
    labels[0] = 3  # so the largest label is known
    path = write_idx(tmp_path / "train-images-idx3-ubyte.gz", IMAGES_MAGIC, images.shape, images.tobytes(), gz=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte", LABELS_MAGIC, labels.shape, labels.tobytes())
    return path, images, labels


# --------------------------------------------------------------------------- MNIST


def test_bundled_mnist_has_the_reference_shape_and_values(mnist):
    assert mnist.images.shape == (10_000, 1, 28, 28)
    assert mnist.images.dtype == torch.float32
    assert float(mnist.images.min()) == 0.0 and float(mnist.images.max()) == 1.0
    assert mnist.class_names == tuple(str(d) for d in range(10))
    counts = torch.bincount(mnist.labels, minlength=10)
    assert counts.shape == (10,) and int(counts.min()) > 800 and int(counts.max()) < 1200
    assert mnist.source == {"kind": "mnist"}


def test_bundled_mnist_labels_line_up_with_images(mnist):
    # A "1" has far less ink than a "0": this fails if labels and images are misaligned.
    ink = mnist.images.mean(dim=(1, 2, 3))
    assert float(ink[mnist.labels == 1].mean()) < 0.7 * float(ink[mnist.labels == 0].mean())


def test_bundled_mnist_reference_split(mnist):
    train, val = mnist.split()
    assert (len(train), len(val)) == (8000, 2000)
    expected = torch.randperm(10_000, generator=torch.Generator().manual_seed(0))
    assert torch.equal(torch.cat([train, val]), expected)


def test_bundled_mnist_fingerprint_is_stable_and_content_based(mnist):
    again = load_dataset("mnist")
    assert again.fingerprint == mnist.fingerprint
    changed = again.subset(torch.arange(10_000))
    changed.images[0, 0, 0, 0] = 1.0
    assert changed.fingerprint != mnist.fingerprint


# --------------------------------------------------------------------------- reading


def test_idx_pair_loads_with_labels_found_by_name(small_pair):
    path, images, labels = small_pair
    ds = load_dataset(str(path))
    assert ds.images.shape == (12, 1, 5, 7)
    assert torch.allclose(ds.images[:, 0], torch.from_numpy(images).float() / 255)
    assert torch.equal(ds.labels, torch.from_numpy(labels).long())
    assert ds.class_names == ("0", "1", "2", "3")
    assert ds.source["labels"].endswith("train-labels-idx1-ubyte")
    assert load_dataset(ds.source).fingerprint == ds.fingerprint


def test_idx_without_labels_file_is_unlabelled(tmp_path):
    path = write_idx(tmp_path / "x-images-idx3-ubyte", IMAGES_MAGIC, (2, 3, 3), bytes(range(18)))
    ds = load_dataset(str(path))
    assert ds.labels is None and ds.class_names == ()
    # A labels file added later is not picked up when reloading the recorded source.
    write_idx(tmp_path / "x-labels-idx1-ubyte", LABELS_MAGIC, (2,), bytes(2))
    assert load_dataset(ds.source).labels is None
    assert load_dataset(str(path)).labels is not None
    assert ds.images[1, 0, 2, 2] == pytest.approx(17 / 255)


def test_find_labels_file_follows_usual_names(tmp_path):
    images = tmp_path / "t10k-images.idx3-ubyte"
    images.write_bytes(b"")
    assert find_labels_file(images) is None
    (tmp_path / "t10k-labels.idx1-ubyte.gz").write_bytes(b"")
    assert find_labels_file(images) == tmp_path / "t10k-labels.idx1-ubyte.gz"


# --------------------------------------------------------------------------- damage


def test_wrong_magic_is_a_clear_error(tmp_path):
    path = write_idx(tmp_path / "a-images-idx3-ubyte", 0x00000C03, (1, 2, 2), bytes(4))
    with pytest.raises(LatentLabError, match="not an IDX images file"):
        read_idx(path, IMAGES_MAGIC)


def test_labels_file_given_as_images_says_so(tmp_path):
    path = write_idx(tmp_path / "a-labels-idx1-ubyte", LABELS_MAGIC, (3,), bytes(3))
    with pytest.raises(LatentLabError, match="labels file"):
        load_dataset(str(path))


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_data_is_reported(tmp_path, gz):
    path = write_idx(tmp_path / "t-images-idx3-ubyte", IMAGES_MAGIC, (10, 4, 4), bytes(100), gz=gz)
    with pytest.raises(LatentLabError, match="truncated") as info:
        read_idx(path, IMAGES_MAGIC)
    assert str(path) in str(info.value)


def test_extra_data_is_reported(tmp_path):
    path = write_idx(tmp_path / "t-images-idx3-ubyte", IMAGES_MAGIC, (1, 4, 4), bytes(20))
    with pytest.raises(LatentLabError, match="extra data"):
        read_idx(path, IMAGES_MAGIC)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("count", [1_000_000_000, 100_000])
def test_huge_header_count_fails_before_allocating(tmp_path, gz, count):
    path = write_idx(tmp_path / "h-images-idx3-ubyte", IMAGES_MAGIC, (count, 28, 28), bytes(1000), gz=gz)
    tracemalloc.start()
    try:
        with pytest.raises(LatentLabError, match="header claims"):
            read_idx(path, IMAGES_MAGIC)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20


def test_zero_images_is_an_error(tmp_path):
    path = write_idx(tmp_path / "z-images-idx3-ubyte", IMAGES_MAGIC, (0, 28, 28), b"")
    with pytest.raises(LatentLabError, match="no items"):
        read_idx(path, IMAGES_MAGIC)


def test_label_count_mismatch_is_an_error(tmp_path):
    write_idx(tmp_path / "m-images-idx3-ubyte", IMAGES_MAGIC, (4, 2, 2), bytes(16))
    write_idx(tmp_path / "m-labels-idx1-ubyte", LABELS_MAGIC, (3,), bytes(3))
    with pytest.raises(LatentLabError, match="counts must match"):
        load_dataset(str(tmp_path / "m-images-idx3-ubyte"))


def test_corrupt_gzip_names_the_file(tmp_path):
    data = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    blob = bytearray(gzip.compress(idx_bytes(IMAGES_MAGIC, (50, 10, 10), data)))
    for i in range(40, 60):
        blob[i] ^= 0xFF
    path = tmp_path / "c-images-idx3-ubyte.gz"
    path.write_bytes(bytes(blob))
    with pytest.raises(LatentLabError, match="corrupt or truncated") as info:
        read_idx(path, IMAGES_MAGIC)
    assert str(path) in str(info.value)


def test_cut_gzip_stream_is_reported(tmp_path):
    data = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    blob = gzip.compress(idx_bytes(IMAGES_MAGIC, (50, 10, 10), data))
    path = tmp_path / "c-images-idx3-ubyte.gz"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(LatentLabError, match="truncated"):
        read_idx(path, IMAGES_MAGIC)
