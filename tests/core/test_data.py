"""load_dataset: names, paths, options, source round trips, and helpful errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from latentlab.core.data import describe_sources, load_dataset
from latentlab.core.errors import LatentLabError


@pytest.mark.parametrize(
    ("spec", "options"),
    [
        ("mnist", {"limit": 300, "image_size": 16, "color": "rgb"}),
        ("moons", {"limit": 50, "seed": 4}),
        ("shapes", {"limit": 50, "image_size": 32, "color": "rgb"}),
    ],
)
def test_named_sources_round_trip_through_json(spec, options):
    ds = load_dataset(spec, **options)
    source = json.loads(json.dumps(ds.source))
    again = load_dataset(source)
    assert again.fingerprint == ds.fingerprint
    assert again.images.shape == ds.images.shape
    assert again.source == ds.source


def test_mnist_options_change_what_they_say(mnist_dir):
    ds = load_dataset("mnist", limit=200, image_size=14, color="rgb")
    assert ds.images.shape == (200, 3, 14, 14)
    assert torch.equal(ds.images[:, 0], ds.images[:, 1])
    assert ds.source == {"kind": "mnist", "size": 14, "color": "rgb", "limit": 200}
    full = load_dataset(mnist_dir + "/t10k-images-idx3-ubyte.gz", limit=200)
    assert torch.equal(full.labels, ds.labels)  # same data through the IDX path


def test_gray_conversion_uses_luma(tmp_path):
    rgb = np.zeros((1, 4, 4, 3), dtype=np.uint8)
    rgb[..., 1] = 255  # pure green
    np.save(tmp_path / "g.npy", rgb)
    ds = load_dataset(str(tmp_path / "g.npy"), color="gray")
    assert ds.images.shape == (1, 1, 4, 4)
    assert float(ds.images.mean()) == pytest.approx(0.587, abs=1e-3)


def test_source_dict_options_can_be_overridden():
    ds = load_dataset({"kind": "moons", "n": 40, "size": 20, "seed": 1}, image_size=24, limit=10)
    assert ds.images.shape == (10, 1, 24, 24)
    assert ds.source == {"kind": "moons", "n": 10, "size": 24, "seed": 1}


def test_names_win_over_same_named_folders(tmp_path, monkeypatch):
    (tmp_path / "moons").mkdir()
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(tmp_path / "moons" / "x.png")
    monkeypatch.chdir(tmp_path)
    assert load_dataset("moons", limit=3).source["kind"] == "moons"
    assert load_dataset("./moons").source["kind"] == "folder"


@pytest.mark.parametrize("spec", ["imagenet", "no/such/folder", ""])
def test_unknown_names_and_missing_paths_list_what_is_accepted(spec):
    with pytest.raises(LatentLabError, match="mnist.*moons.*shapes.*folder.*npz.*IDX"):
        load_dataset(spec)


def test_unrecognised_file_type_is_refused(tmp_path):
    (tmp_path / "data.txt").write_text("1,2,3\n")
    with pytest.raises(LatentLabError, match="data.txt: not a data file"):
        load_dataset(str(tmp_path / "data.txt"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"image_size": 0}, "image size"),
        ({"image_size": 10_000}, "image size"),
        ({"image_size": "28"}, "image size"),
        ({"color": "blue"}, "colour mode"),
        ({"limit": 0}, "limit"),
        ({"limit": 2.5}, "limit"),
    ],
)
def test_bad_options_are_clear_errors(options, message):
    with pytest.raises(LatentLabError, match=message):
        load_dataset("moons", **options)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"kind": "imagenet"}, "unknown data source kind"),
        ({}, "unknown data source kind"),
        ({"kind": "folder"}, "names no path"),
        ({"kind": "moons", "n": -5}, "number of moons"),
        ({"kind": "shapes", "seed": "x"}, "seed"),
    ],
)
def test_bad_source_dicts_are_clear_errors(source, message):
    with pytest.raises(LatentLabError, match=message):
        load_dataset(source)


def test_recorded_file_that_vanished_is_named(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((2, 4, 4), dtype=np.uint8))
    source = load_dataset(str(tmp_path / "a.npy")).source
    (tmp_path / "a.npy").unlink()
    with pytest.raises(LatentLabError, match="a.npy: no such file"):
        load_dataset(source)


def test_describe_sources_is_one_line():
    text = describe_sources()
    assert "\n" not in text
    for word in ("mnist", "moons", "shapes", "folder", ".npz", "IDX"):
        assert word in text


def test_data_layer_imports_no_qt():
    code = (
        "import sys, latentlab.core.data; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'superqt')]; "
        "sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
