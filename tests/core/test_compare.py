"""Families side by side (``latentlab.core.compare``): the pair, the checks, the run and the sheet."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from latentlab.core import compare
from latentlab.core.data import Dataset, load_dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.offmanifold import ManifoldMap


@pytest.fixture(scope="module")
def moons() -> Dataset:
    return load_dataset("moons", limit=200)


@pytest.fixture(scope="module")
def compared(moons: Dataset) -> tuple[list[compare.FamilyResult], tuple[int, int]]:
    torch.manual_seed(0)
    pair = compare.choose_pair(moons)
    return compare.compare(moons, ("pca", "ae"), epochs=1, pair=pair, threads=1, samples=50), pair


def _brute_force_pair(data: Dataset, a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    flat = data.images.reshape(len(data), -1).numpy().astype(np.float64)
    best, where = -1.0, (-1, -1)
    for i in a:
        d = ((flat[b] - flat[i]) ** 2).sum(axis=1)
        k = int(np.argmax(d))
        if d[k] > best:
            best, where = float(d[k]), (int(i), int(b[k]))
    return where


def test_default_pair_is_the_most_different_full_and_half_moon(moons: Dataset) -> None:
    a, b = compare.choose_pair(moons)
    names = moons.class_names
    assert (names[int(moons.labels[a])], names[int(moons.labels[b])]) == ("full", "half")
    labels = moons.labels.numpy()
    full, half = np.flatnonzero(labels == names.index("full")), np.flatnonzero(labels == names.index("half"))
    assert (a, b) == _brute_force_pair(moons, full, half)


def test_pair_from_named_classes_or_items(moons: Dataset) -> None:
    a, b = compare.choose_pair(moons, ["new", "crescent"])
    assert moons.labels[a] == 0 and moons.labels[b] == 1
    assert compare.choose_pair(moons, start=4, end=9) == (4, 9)
    unlabelled = Dataset(name="x", images=moons.images[:30])
    a, b = compare.choose_pair(unlabelled)
    assert a != b and (a, b) in {_brute_force_pair(unlabelled, np.arange(30), np.arange(30)),
                                 _brute_force_pair(unlabelled, np.arange(30), np.arange(30))[::-1]}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"start": 3}, "both ends"),
    ({"start": 3, "end": 3}, "two different items"),
    ({"start": 0, "end": 200}, "not an item"),
    ({"classes": ["full", "nope"]}, "no class 'nope'"),
    ({"classes": ["full"]}, "two classes"),
])
def test_bad_pairs_are_refused(moons: Dataset, kwargs: dict, message: str) -> None:
    with pytest.raises(LatentLabError, match=message):
        compare.choose_pair(moons, **kwargs)


@pytest.mark.parametrize(("names", "message"), [
    ([], "at least one family"),
    (["pca", "ae", "vae", "beta-vae", "ssvae"], "at most 4"),
    (["ae", "nope"], "unknown model family 'nope'"),
    (["ae", "ae"], "named twice"),
    (["cvae"], "class label"),
    (["gan"], "no encoder"),
])
def test_bad_family_lists_are_refused(names: list[str], message: str) -> None:
    with pytest.raises(LatentLabError, match=message):
        compare.check_families(names)


def test_family_of_the_wrong_output_kind_is_refused() -> None:
    strokes = load_dataset("strokes", limit=20)
    with pytest.raises(LatentLabError, match="makes images"):
        compare.check_families(["ae"], strokes)
    assert compare.parse_families(" pca, ae ,vae") == ("pca", "ae", "vae")


def test_compare_trains_each_family_and_scores_the_same_path(moons: Dataset, compared) -> None:
    results, (a, b) = compared
    assert [r.family for r in results] == ["pca", "ae"]
    for r in results:
        assert r.status == "finished"
        assert r.codes.shape == (200, 2) and r.xy.shape == (200, 2)
        assert r.strip.shape == (compare.STRIP_STEPS, 1, 28, 28)
        assert r.strip.min() >= 0.0 and r.strip.max() <= 1.0
        # The path runs from the first item's code to the second's.
        np.testing.assert_allclose(r.path_xy[0], r.xy[a], atol=1e-5)
        np.testing.assert_allclose(r.path_xy[-1], r.xy[b], atol=1e-5)
        t = np.linspace(0, 1, compare.SCORE_STEPS)[:, None]
        expected = ManifoldMap(r.codes).ratios((1 - t) * r.codes[a] + t * r.codes[b]).mean()
        assert r.path_ratio == pytest.approx(expected, rel=1e-4)
        assert r.metrics["interpolation_mean_ratio"] == r.path_ratio
        assert {"recon", "kl_per_dim", "active_units", "n"} <= set(r.metrics)
        assert r.metrics["n"] == 40   # the validation split (20%)
    # Two families, two different models: their codes differ.
    assert not np.allclose(results[0].codes, results[1].codes)


def test_stopping_cancels_the_family_in_training_and_skips_the_rest(moons: Dataset) -> None:
    heard: list[str] = []

    def on_progress(family: str, progress) -> None:
        heard.append(family)

    results = compare.compare(moons, ("ae", "vae"), epochs=3, threads=1, samples=20,
                              on_progress=on_progress, should_stop=lambda: bool(heard))
    assert [r.family for r in results] == ["ae"]
    assert results[0].status == "cancelled"
    assert set(heard) == {"ae"}


def test_sheet_has_a_column_per_family_with_class_colours(moons: Dataset, compared, tmp_path) -> None:
    results, pair = compared
    labels = moons.labels.numpy()
    one = compare.render_sheet(results[:1], labels, panel=200)
    two = compare.render_sheet(results, labels, panel=200)
    assert one.shape[0] == two.shape[0] and two.shape[1] - one.shape[1] == 200 + 10
    colours = {tuple(p) for p in two.reshape(-1, 3)}
    for k in np.unique(labels):
        assert compare.PALETTE[int(k)] in colours
    grey_only = compare.render_sheet(results, None, panel=200)
    assert not {compare.PALETTE[int(k)] for k in np.unique(labels)} & {tuple(p) for p in grey_only.reshape(-1, 3)}
    path = tmp_path / "sheet.png"
    compare.save_sheet(path, results, labels)
    from PIL import Image

    expected = compare.render_sheet(results, labels)
    with Image.open(path) as img:
        assert img.size == (expected.shape[1], expected.shape[0])
        assert np.array_equal(np.asarray(img.convert("RGB")), expected)
    with pytest.raises(LatentLabError, match="nothing to draw"):
        compare.render_sheet([], labels)
    report = compare.metrics_report(results, moons, pair, latent_dim=2, epochs=1)
    compare.save_metrics(tmp_path / "m.json", report)
    back = json.loads((tmp_path / "m.json").read_text())
    assert back["interpolation"]["from"] == {"index": pair[0], "class": "full"}
    assert set(back["families"]) == {"pca", "ae"}


def test_plane_of_a_larger_latent_is_its_main_directions() -> None:
    rng = np.random.default_rng(0)
    codes = np.zeros((100, 3), np.float32)
    codes[:, 2] = rng.normal(size=100) * 5
    codes[:, 0] = rng.normal(size=100)
    xy, plane = compare.plane_xy(codes)
    assert xy.shape == (100, 2)
    # The widest spread (axis 2) becomes the plane's first axis.
    assert np.std(xy[:, 0]) == pytest.approx(np.std(codes[:, 2]), rel=1e-3)
    np.testing.assert_allclose(compare.project(plane, codes[:5]), xy[:5], atol=1e-5)
    # A point of the plane lifted into the latent space projects back onto itself.
    np.testing.assert_allclose(compare.project(plane, compare.lift(plane, xy[:5])), xy[:5], atol=1e-4)
    two, _ = compare.plane_xy(codes[:, :2])
    np.testing.assert_allclose(two, codes[:, :2], atol=1e-6)   # a 2-D latent is its own plane
    one, _ = compare.plane_xy(codes[:, :1])
    assert one.shape == (100, 2) and not one[:, 1].any()


def test_animation_walks_every_family_along_its_path(moons: Dataset, compared, tmp_path) -> None:
    results, _ = compared
    frames = compare.render_frames(results, moons.labels.numpy(), panel=200)
    assert len(frames) == compare.STRIP_STEPS
    assert all(f.shape == frames[0].shape and f.dtype == np.uint8 for f in frames)
    assert frames[0].shape[1] == 2 * 200 + 3 * 10
    # The lower half of each column is that step's decode: the first frame shows the first decode.
    head, gap = 18, 10
    first = frames[0][head + 200 + gap: head + 400 + gap, 10:210]
    step0 = compare._frame_pixels(results[0].strip[0], 200)
    np.testing.assert_array_equal(first, np.asarray(step0))
    # The marker moves: consecutive frames differ on the plane too.
    assert not np.array_equal(frames[0][head:head + 200], frames[-1][head:head + 200])
    path = tmp_path / "walk.gif"
    compare.save_animation(path, results, moons.labels.numpy())
    from PIL import Image

    with Image.open(path) as gif:
        assert gif.n_frames == 2 * compare.STRIP_STEPS - 2   # forwards, then back without the ends twice


def test_inside_polygon_follows_the_even_odd_rule() -> None:
    # A "C": the notch on the right is outside although it lies within the outline's box.
    c_shape = np.array([[0, 0], [3, 0], [3, 1], [1, 1], [1, 2], [3, 2], [3, 3], [0, 3]], float)
    pts = np.array([[0.5, 0.5], [2, 0.5], [2, 1.5], [0.5, 1.5], [2.5, 2.5], [4, 1], [-1, 1], [np.nan, 1]])
    np.testing.assert_array_equal(compare.inside_polygon(pts, c_shape),
                                  [True, True, False, True, True, False, False, False])
    # A bow tie crossing itself: its two lobes are inside, the space round them is not.
    bow = np.array([[0, 0], [2, 2], [2, 0], [0, 2]], float)
    np.testing.assert_array_equal(compare.inside_polygon(np.array([[0.2, 1], [1.8, 1], [1, 0.2]]), bow),
                                  [True, True, False])
    # A line or a point holds nothing; a badly shaped lasso is refused.
    assert not compare.inside_polygon(pts, c_shape[:2]).any()
    with pytest.raises(LatentLabError, match="lasso"):
        compare.inside_polygon(pts, np.zeros((4, 3)))
