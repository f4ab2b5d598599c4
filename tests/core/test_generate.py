"""Generating a data set from a model: sampling, the files written, refusals, loading it back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from latentlab.core.data import load_dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.generate import class_agreement, generate, parse_classes, write_set
from latentlab.core.models import ModelConfig, build_model


def _model(family: str = "cvae", classes: int = 3, names: tuple[str, ...] = ()) -> torch.nn.Module:
    torch.manual_seed(0)
    config = ModelConfig(family=family, input_shape=(1, 8, 8), latent_dim=3, hidden=(16,),
                         num_classes=classes if family == "cvae" else 0,
                         label_names=names or (tuple(str(i) for i in range(classes)) if family == "cvae" else ()))
    return build_model(config).eval()


def test_per_class_counts_codes_and_temperature() -> None:
    model = _model()
    cold = generate(model, n=4, per_class=True, temperature=0.5, seed=3)
    warm = generate(model, n=4, per_class=True, temperature=1.0, seed=3)
    assert cold is not None and warm is not None
    assert len(cold) == 12 and cold.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert cold.manifest["counts"] == {"0": 4, "1": 4, "2": 4}
    np.testing.assert_allclose(cold.codes * 2, warm.codes, rtol=1e-6)  # same draws, scaled
    assert tuple(cold.outputs.shape) == (12, 1, 8, 8) and float(cold.outputs.min()) >= 0


def test_one_class_and_cycling_without_per_class() -> None:
    model = _model(names=("cat", "dog", "eel"))
    only = generate(model, n=5, classes=["dog"])
    assert only is not None and only.labels.tolist() == [1] * 5
    cycled = generate(model, n=5)
    assert cycled is not None and cycled.labels.tolist() == [0, 1, 2, 0, 1]
    assert parse_classes(model.config, ["2", "cat"]) == (2, 0)


@pytest.mark.parametrize("kwargs, words", [
    ({"n": 0}, "at least 1"),
    ({"n": 3, "temperature": 0.0}, "temperature"),
    ({"n": 3, "temperature": -1.0}, "temperature"),
    ({"n": 3, "classes": ["7"]}, "unknown class '7'"),
    ({"n": 3, "classes": ["bird"]}, "unknown class 'bird'"),
])
def test_bad_requests_are_one_clear_error(kwargs: dict, words: str) -> None:
    with pytest.raises(LatentLabError, match=words):
        generate(_model(), **kwargs)


def test_per_class_needs_a_model_with_labels() -> None:
    with pytest.raises(LatentLabError, match="no labels"):
        generate(_model("vae"), n=3, per_class=True)
    with pytest.raises(LatentLabError, match="no classes"):
        generate(_model("vae"), n=3, classes=["1"])


def test_cancel_and_progress() -> None:
    seen: list[tuple[int, int]] = []
    out = generate(_model("vae"), n=1200, progress=lambda d, t: seen.append((d, t)))
    assert out is not None and seen[-1] == (1200, 1200) and len(seen) == 3
    assert generate(_model("vae"), n=1200, should_stop=lambda: True) is None


def test_folder_loads_back_with_labels_and_manifest(tmp_path: Path) -> None:
    gen = generate(_model(), n=3, per_class=True, seed=1, model_sha256="ab" * 32)
    assert gen is not None
    out = write_set(gen, tmp_path / "set")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model_sha256"] == "ab" * 32 and manifest["seed"] == 1 and manifest["n"] == 9
    assert manifest["counts"] == {"0": 3, "1": 3, "2": 3}
    np.testing.assert_array_equal(np.load(out / "codes.npy"), gen.codes)
    data = load_dataset(str(out), color="gray", image_size=8)
    assert len(data) == 9 and data.class_names == ("0", "1", "2")
    assert sorted(data.labels.tolist()) == sorted(gen.labels.tolist())
    # PNG rounding only: each loaded image is within half a grey level of one generated image.
    expected = torch.round(gen.outputs * 255) / 255
    for img in data.images:
        assert float((expected - img).abs().flatten(1).max(1).values.min()) < 1e-6


def test_class_folders_keep_class_order_when_names_do_not_sort(tmp_path: Path) -> None:
    gen = generate(_model(names=("zebra", "ant", "moth")), n=2, per_class=True)
    assert gen is not None
    out = write_set(gen, tmp_path / "set")
    data = load_dataset(str(out), color="gray", image_size=8)
    assert data.class_names == ("0-zebra", "1-ant", "2-moth")
    assert data.labels.tolist() == gen.labels.tolist()


def test_npz_loads_back_with_labels_and_codes(tmp_path: Path) -> None:
    gen = generate(_model(), n=2, per_class=True, seed=2)
    assert gen is not None
    path = write_set(gen, tmp_path / "set.npz")
    data = load_dataset(str(path))
    assert data.labels.tolist() == gen.labels.tolist() and data.class_names == ("0", "1", "2")
    torch.testing.assert_close(data.images, torch.round(gen.outputs * 255) / 255)
    with np.load(path, allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["codes"], gen.codes)
        assert json.loads(str(npz["manifest"]))["seed"] == 2


def test_unconditional_folder_is_unlabelled(tmp_path: Path) -> None:
    gen = generate(_model("vae"), n=4)
    assert gen is not None
    out = write_set(gen, tmp_path / "plain")
    assert len(list(out.glob("*.png"))) == 4
    assert load_dataset(str(out), color="gray", image_size=8).labels is None


def test_refuses_to_overwrite_without_force_and_replaces_with_it(tmp_path: Path) -> None:
    gen = generate(_model(), n=1, per_class=True)
    assert gen is not None
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    with pytest.raises(LatentLabError, match="not empty"):
        write_set(gen, full)
    assert (full / "keep.txt").read_text() == "mine"
    npz = tmp_path / "x.npz"
    npz.write_bytes(b"old")
    with pytest.raises(LatentLabError, match="--force"):
        write_set(gen, npz)
    assert npz.read_bytes() == b"old"
    write_set(gen, full, force=True)
    assert not (full / "keep.txt").exists() and (full / "manifest.json").is_file()
    (tmp_path / "empty").mkdir()
    write_set(gen, tmp_path / "empty")  # an empty folder is fine without --force


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gen = generate(_model(), n=2, per_class=True)
    assert gen is not None
    target = tmp_path / "old"
    target.mkdir()
    (target / "a.txt").write_text("before")

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", broken)
    with pytest.raises(OSError):
        write_set(gen, target, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]
    assert (target / "a.txt").read_text() == "before"


def test_class_agreement_counts_what_the_classifier_says() -> None:
    data = load_dataset("mnist", limit=200)
    from latentlab.core.generate import GeneratedSet

    right = GeneratedSet(outputs=data.images, codes=np.zeros((200, 2), np.float32), labels=data.labels.numpy(),
                         class_names=data.class_names, output_kind="image", feature_names=(),
                         manifest={"temperature": 1.0, "seed": 0})
    good = class_agreement(right)
    assert good["agreement"] > 0.9 and set(good["per_class"]) == set(data.class_names)
    wrong = GeneratedSet(outputs=data.images, codes=right.codes, labels=(data.labels.numpy() + 1) % 10,
                         class_names=data.class_names, output_kind="image", feature_names=(),
                         manifest=right.manifest)
    assert class_agreement(wrong)["agreement"] < 0.1
    with pytest.raises(LatentLabError, match="conditional"):
        class_agreement(GeneratedSet(outputs=data.images, codes=right.codes, labels=None, class_names=(),
                                     output_kind="image", feature_names=(), manifest=right.manifest))
