"""numpy array files: layouts, value ranges, labels, and files that must be refused."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch

from latentlab.core.data import load_dataset
from latentlab.core.errors import LatentLabError

RNG = np.random.default_rng(3)
GRAY = RNG.integers(0, 256, (6, 5, 5), dtype=np.uint8)
COLOUR = RNG.integers(0, 256, (6, 5, 5, 3), dtype=np.uint8)


def expected_nchw(hwc: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(hwc.transpose(0, 3, 1, 2).astype(np.float32) / 255)


def test_npy_gray_uint8(tmp_path):
    np.save(tmp_path / "g.npy", GRAY)
    ds = load_dataset(str(tmp_path / "g.npy"))
    assert ds.images.shape == (6, 1, 5, 5) and ds.labels is None
    assert torch.allclose(ds.images[:, 0], torch.from_numpy(GRAY.astype(np.float32) / 255))
    assert ds.name == "g" and ds.source["kind"] == "arrays"


def test_channels_last_float_in_unit_range(tmp_path):
    np.save(tmp_path / "c.npy", COLOUR.astype(np.float32) / 255)
    ds = load_dataset(str(tmp_path / "c.npy"))
    assert torch.allclose(ds.images, expected_nchw(COLOUR), atol=1e-6)


def test_channels_last_alpha_is_dropped(tmp_path):
    rgba = np.concatenate([COLOUR, np.full((6, 5, 5, 1), 7, dtype=np.uint8)], axis=3)
    np.save(tmp_path / "a.npy", rgba)
    assert torch.allclose(load_dataset(str(tmp_path / "a.npy")).images, expected_nchw(COLOUR))


def test_channels_first_float_in_byte_range(tmp_path):
    np.save(tmp_path / "f.npy", COLOUR.transpose(0, 3, 1, 2).astype(np.float64))
    ds = load_dataset(str(tmp_path / "f.npy"))
    assert ds.images.dtype == torch.float32
    assert torch.allclose(ds.images, expected_nchw(COLOUR), atol=1e-6)


def test_npz_with_labels_and_class_names(tmp_path):
    y = np.array([0, 2, 1, 2, 0, 1])
    np.savez(tmp_path / "d.npz", images=GRAY[:, None], labels=y.astype(np.float32), class_names=np.array(["a", "b", "c"]))
    ds = load_dataset(str(tmp_path / "d.npz"))
    assert ds.images.shape == (6, 1, 5, 5)
    assert ds.labels.tolist() == y.tolist() and ds.class_names == ("a", "b", "c")


def test_npz_single_array_under_any_name(tmp_path):
    np.savez(tmp_path / "one.npz", pictures=GRAY)
    assert len(load_dataset(str(tmp_path / "one.npz"))) == 6
    np.savez(tmp_path / "two.npz", pictures=GRAY, other=GRAY)
    with pytest.raises(LatentLabError, match="arrays found: other, pictures"):
        load_dataset(str(tmp_path / "two.npz"))


def test_limit_and_source_round_trip(tmp_path):
    np.savez_compressed(tmp_path / "d.npz", x=COLOUR, y=np.arange(6) % 2)
    ds = load_dataset(str(tmp_path / "d.npz"), limit=4, image_size=8, color="gray")
    assert ds.images.shape == (4, 1, 8, 8) and ds.labels.tolist() == [0, 1, 0, 1]
    again = load_dataset(ds.source)
    assert again.fingerprint == ds.fingerprint and again.images.shape == ds.images.shape


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.array([{"a": 1}, None], dtype=object), "Python objects"),
        (np.full((2, 4, 4), np.nan, dtype=np.float32), "NaN or infinite"),
        (np.full((2, 4, 4), np.inf), "NaN or infinite"),
        (np.full((2, 4, 4), -0.5), r"\[0, 1\] or \[0, 255\]"),
        (np.full((2, 4, 4), 300, dtype=np.int16), "0..255"),
        (np.zeros((0, 4, 4), dtype=np.uint8), "empty"),
        (np.zeros((2, 4), dtype=np.uint8), "must be"),
        (np.zeros((2, 2, 5, 5), dtype=np.uint8), "channels"),
        (np.array(["a", "b"]), "numbers"),
    ],
)
def test_refused_npy_contents(tmp_path, array, message):
    path = tmp_path / "bad.npy"
    np.save(path, array, allow_pickle=True)
    with pytest.raises(LatentLabError, match=message) as info:
        load_dataset(str(path))
    assert str(path) in str(info.value)


def test_object_array_in_npz_is_refused(tmp_path):
    np.savez(tmp_path / "o.npz", x=GRAY, y=np.array([1, "a", None, 2, 3, 4], dtype=object))
    with pytest.raises(LatentLabError, match="Python objects"):
        load_dataset(str(tmp_path / "o.npz"))


@pytest.mark.parametrize(
    ("labels", "message"),
    [(np.arange(5), "one value per image"), (np.array([0, 1, -1, 0, 1, 0]), "class numbers"), (np.full(6, 0.5), "whole")],
)
def test_bad_labels_are_refused(tmp_path, labels, message):
    np.savez(tmp_path / "l.npz", x=GRAY, y=labels)
    with pytest.raises(LatentLabError, match=message):
        load_dataset(str(tmp_path / "l.npz"))


def test_not_an_npz_is_a_clear_error(tmp_path):
    (tmp_path / "fake.npz").write_text("just text")
    with pytest.raises(LatentLabError, match="fake.npz"):
        load_dataset(str(tmp_path / "fake.npz"))


def test_lying_npy_header_fails_before_allocating(tmp_path):
    path = tmp_path / "huge.npy"
    with open(path, "wb") as f:
        header = {"descr": "|u1", "fortran_order": False, "shape": (100_000, 28, 28)}
        np.lib.format.write_array_header_1_0(f, header)
        f.write(bytes(784))
    tracemalloc.start()
    try:
        with pytest.raises(LatentLabError, match="truncated or damaged"):
            load_dataset(str(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20
