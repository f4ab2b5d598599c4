"""Sequence data: the strokes and waves generators, sequence arrays and windowed CSV series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from latentlab.core.data import load_dataset
from latentlab.core.data import series as series_mod
from latentlab.core.data.dataset import Dataset
from latentlab.core.data.sequences import (
    STROKE_FACTORS,
    WAVE_FACTORS,
    make_strokes,
    make_waves,
    wave_shapes,
    procedural_stream,
)
from latentlab.core.data.series import cut_windows, load_series
from latentlab.core.errors import LatentLabError


# -- Dataset -----------------------------------------------------------------------------------
def test_dataset_of_sequences_has_its_own_shape_and_checks() -> None:
    seq = torch.zeros(5, 10, 3)
    ds = Dataset(name="s", images=seq, kind="sequence", feature_names=("x", "y", "pen"))
    assert ds.shape == (10, 3) and ds.items is ds.images and ds.is_sequence and len(ds) == 5
    sub = ds.subset(torch.tensor([1, 3]))
    assert sub.kind == "sequence" and sub.feature_names == ("x", "y", "pen") and sub.shape == (10, 3)
    with pytest.raises(ValueError):
        Dataset(name="s", images=seq, kind="sequence", feature_names=("x", "y"))
    with pytest.raises(ValueError):
        Dataset(name="s", images=seq)  # a 3-D tensor is not an image data set
    with pytest.raises(ValueError):
        Dataset(name="s", images=torch.zeros(2, 1, 4, 4), kind="sequence")


def test_sequence_fingerprint_sees_values_outside_unit_range() -> None:
    a = torch.zeros(4, 8, 1)
    b = a.clone()
    b[0, 0, 0] = 37.5  # quantising like images (x 255, to bytes) would lose this
    c = b.clone()
    c[0, 0, 0] = 38.5
    fps = {Dataset(name="s", images=t, kind="sequence").fingerprint for t in (a, b, c)}
    assert len(fps) == 3


# -- strokes -----------------------------------------------------------------------------------
def test_strokes_shape_labels_factors_and_pen_format() -> None:
    ds = make_strokes(n=300, steps=48, seed=3)
    assert ds.kind == "sequence" and ds.shape == (48, 3) and ds.feature_names == ("x", "y", "pen")
    assert ds.labels is not None and set(ds.labels.tolist()) == set(range(10))
    assert np.bincount(ds.labels.numpy()).min() == 30  # balanced: 300 items, 10 digits
    assert ds.factors.shape == (300, 4) and ds.factor_names == STROKE_FACTORS
    pen = ds.images[..., 2]
    assert set(pen.unique().tolist()) <= {0.0, 1.0}
    # Every digit starts with the pen down and is drawn on a canvas of about unit size.
    assert bool((pen[:, 0] == 1).all()) and bool((pen[:, -1] == 1).all())
    assert float(ds.images[..., :2].abs().max()) < 3.0
    # A 4 (two strokes in every font) has a pen-up point; a 0 drawn in one stroke may not.
    fours = ds.images[ds.labels == 4]
    assert bool(((fours[..., 2] == 0).sum(dim=1) >= 1).all())


def test_strokes_factors_shape_the_items() -> None:
    ds = make_strokes(n=2000, seed=0)
    width = ds.images[..., 0].amax(1) - ds.images[..., 0].amin(1)
    height = ds.images[..., 1].amax(1) - ds.images[..., 1].amin(1)
    scale = ds.factors[:, 1]
    # Scale multiplies the glyph: the items' heights grow with it.
    assert np.corrcoef(scale.numpy(), height.numpy())[0, 1] > 0.6
    assert float(width.min()) > 0


def test_strokes_are_seeded() -> None:
    a, b, c = make_strokes(n=50, seed=1), make_strokes(n=50, seed=1), make_strokes(n=50, seed=2)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, c.images)
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_strokes_through_load_dataset_round_trips_its_source() -> None:
    ds = load_dataset("strokes", limit=40, window=32)
    assert ds.shape == (32, 3) and len(ds) == 40
    again = load_dataset(ds.source)
    assert torch.equal(again.images, ds.images)
    with pytest.raises(LatentLabError, match="image size"):
        load_dataset("strokes", image_size=28)
    with pytest.raises(LatentLabError, match="steps"):
        load_dataset("strokes", window=4)


# -- waves -------------------------------------------------------------------------------------
def test_every_wave_blend_keeps_its_fundamental() -> None:
    # The sawtooth and the square carry the sine's fundamental in phase, so no blend of them
    # cancels it: a wave's labelled frequency is the one it shows. (A sawtooth rising from -1
    # at phase 0 would carry it inverted, and a blend of about 0.61 would have none.)
    cycles = np.arange(4000) / 1000.0   # four whole cycles
    sine, saw, square = wave_shapes(cycles)
    for other in (saw, square):
        for w in np.linspace(0.0, 1.0, 21):
            blend = (1 - w) * sine + w * other
            fundamental = 2 * float(np.mean(blend * np.sin(2 * np.pi * cycles)))
            assert fundamental > 0.6, (w, fundamental)


def test_waves_follow_their_factors() -> None:
    ds = make_waves(n=200, steps=64, channels=2, seed=0)
    assert ds.shape == (64, 2) and ds.factor_names == WAVE_FACTORS and ds.feature_names == ("ch0", "ch1")
    amp = ds.factors[:, 2]
    peak = ds.images[..., 0].abs().amax(dim=1)
    # Every signal swings between 0 and its amplitude (but for noise); a pure sine reaches it.
    assert bool((peak <= amp + 0.1).all()) and float(ds.images.min()) > -0.1
    pure = ds.factors[:, 3] < 0.05
    assert pure.sum() >= 3 and torch.allclose(peak[pure], amp[pure], atol=0.1)
    # Frequency in cycles per window: count upward crossings of the pure sines' middle level.
    x = ds.images[pure, :, 0].numpy() - amp[pure, None].numpy() / 2
    crossings = ((x[:, :-1] < 0) & (x[:, 1:] >= 0)).sum(1)
    assert np.abs(crossings - ds.factors[pure, 0].numpy()).max() <= 1.5
    assert torch.equal(make_waves(n=20, seed=4).images, make_waves(n=20, seed=4).images)
    with pytest.raises(LatentLabError, match="channels"):
        make_waves(n=5, channels=0)


def test_procedural_stream_marks_its_anomalies() -> None:
    clean, none = procedural_stream(5000, channels=3, seed=0)
    dirty, mask = procedural_stream(5000, channels=3, seed=0, anomalies=9)
    assert clean.shape == (5000, 3) and not none.any() and mask.any()
    changed = (np.abs(dirty - clean) > 1e-6).any(axis=1)
    # Every changed sample is marked (frozen stretches may keep a sample unchanged).
    assert not (changed & ~mask).any()


# -- arrays ------------------------------------------------------------------------------------
def test_sequence_arrays_npy_and_npz(tmp_path: Path) -> None:
    x = np.random.default_rng(0).normal(size=(12, 20, 2)).astype(np.float32)
    np.save(tmp_path / "s.npy", x)
    ds = load_dataset(tmp_path / "s.npy", sequences=True)
    assert ds.kind == "sequence" and ds.shape == (20, 2) and np.allclose(ds.images.numpy(), x)
    # The same file without the flag is read as images [N, H, W] (unchanged behaviour) and fails
    # its range check, so the flag is what makes it sequences.
    np.savez(tmp_path / "s.npz", sequences=x, y=np.arange(12) % 3, feature_names=np.array(["a", "b"]))
    ds = load_dataset(tmp_path / "s.npz")
    assert ds.kind == "sequence" and ds.feature_names == ("a", "b") and ds.labels.tolist()[:4] == [0, 1, 2, 0]
    assert load_dataset(ds.source).fingerprint == ds.fingerprint
    assert len(load_dataset(tmp_path / "s.npz", limit=5)) == 5


@pytest.mark.parametrize("array, message", [
    (np.zeros((0, 5, 2), np.float32), "non-empty"),
    (np.zeros((2, 2, 2, 2), np.float32), r"\[N, T, F\]"),
    (np.array([[[1.0], [np.nan]]], np.float32), "sequence 0 contains NaN"),
    (np.array([[["a"]]]), "real numbers"),
])
def test_bad_sequence_arrays(tmp_path: Path, array: np.ndarray, message: str) -> None:
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(LatentLabError, match=message) as err:
        load_dataset(path, sequences=True)
    assert "bad.npy" in str(err.value)


def test_sequence_npy_with_a_lying_header_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.npy"
    np.save(path, np.zeros((4, 8, 2), np.float32))
    raw = path.read_bytes().replace(b"(4, 8, 2)", b"(9999999, 8, 2)")
    path.write_bytes(raw)
    with pytest.raises(LatentLabError, match="truncated or damaged"):
        load_dataset(path, sequences=True)


# -- CSV series --------------------------------------------------------------------------------
def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_csv_series_is_windowed_standardised_and_reloadable(tmp_path: Path) -> None:
    t = np.arange(200)
    rows = "\n".join(f"{k},{np.sin(k / 5):.6f},{10 + 3 * np.cos(k / 7):.6f}" for k in t)
    path = _write(tmp_path / "s.csv", "time,a,b\n" + rows + "\n\n")
    ds = load_dataset(path, window=50, stride=25)
    assert ds.kind == "sequence" and ds.feature_names == ("a", "b") and ds.shape == (50, 2)
    assert len(ds) == 7  # starts 0, 25, ..., 150
    whole = ds.images[0].numpy()
    # Standardised per channel over the whole series.
    assert abs(float(ds.images[..., 1].mean())) < 0.3 and ds.source["scale"][1] == pytest.approx(
        np.std(10 + 3 * np.cos(t / 7)), rel=1e-3)
    # Consecutive windows overlap exactly.
    assert np.allclose(ds.images[1, :25].numpy(), whole[25:])
    again = load_dataset(ds.source)
    assert torch.equal(again.images, ds.images)


def test_cut_windows_is_a_view_with_starts() -> None:
    s = np.arange(30, dtype=np.float32).reshape(15, 2)
    w, starts = cut_windows(s, 4, 5)
    assert w.shape == (3, 4, 2) and starts.tolist() == [0, 5, 10]
    assert np.shares_memory(w, s) and w[2, 3, 1] == s[13, 1]
    with pytest.raises(LatentLabError, match="fewer than one window"):
        cut_windows(s, 16, 1)
    with pytest.raises(LatentLabError, match="stride"):
        cut_windows(s, 4, 0)


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("a,b\n", "no rows"),
    ("1,2\n3,4\n", "header"),
    ("a,b\n1,2\n3\n5,6\n", r"row 3: 1 columns where the header has 2"),
    ("a,b\n1,2\n3,4,5\n", r"row 3: 3 columns"),
    ("a,b\n1,2\n3,x\n", r"row 3: column 2 is not a number \('x'\)"),
    ("a,b\n1,2\n3,\n", r"row 3: column 2 is empty"),
    ("a,b\n1,2\n3,4\nnan,6\n", r"row 4: column 1 is NaN"),
    ("a,a\n1,2\n", "share a name"),
    ("time\n1\n2\n", "only column is the time column"),
])
def test_bad_csv_series(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path / "bad.csv", text)
    with pytest.raises(LatentLabError, match=message) as err:
        load_dataset(path, window=2, stride=1)
    assert "bad.csv" in str(err.value)


def test_too_long_csv_is_refused_before_it_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "long.csv", "a\n" + "1\n" * 500)
    monkeypatch.setattr(series_mod, "MAX_CSV_BYTES", 100)
    read = []
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self) or b"")
    with pytest.raises(LatentLabError, match="bytes a series file may have"):
        load_series(path, 4, 1)
    assert not read


def test_csv_with_too_many_rows_names_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "rows.csv", "a\n" + "1\n" * 50)
    monkeypatch.setattr(series_mod, "MAX_CSV_ROWS", 10)
    with pytest.raises(LatentLabError, match="50 rows, more than the 10"):
        load_series(path, 4, 1)


def test_window_options_are_refused_for_images() -> None:
    with pytest.raises(LatentLabError, match="apply to sequence data"):
        load_dataset("moons", window=8)
