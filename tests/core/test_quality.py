"""Sample quality: the bundled classifier, Fréchet distance, class coverage, the reproducible training."""

from __future__ import annotations

import io
import json
import math

import pytest
import safetensors.torch
import torch

from latentlab.core import quality
from latentlab.core.classifier import (
    Classifier,
    ClassifierConfig,
    accuracy,
    bundled_classifier,
    load_classifier,
    save_classifier,
    train_classifier,
)
from latentlab.core.data import load_dataset
from latentlab.core.data.dataset import Dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.models import ModelConfig, build_model
from latentlab.resources_path import resource_path


@pytest.fixture(scope="module")
def split() -> tuple[Dataset, torch.Tensor, torch.Tensor]:
    data = load_dataset("mnist")
    train_idx, val_idx = data.split(0.2, 0)
    return data, train_idx, val_idx


def test_bundled_classifier_is_small_and_classifies_validation_digits(split) -> None:
    data, _, val_idx = split
    folder = resource_path("models", "mnist-classifier")
    assert (folder / "model.safetensors").stat().st_size < 1024**2
    sample = val_idx[:600]
    acc = accuracy(bundled_classifier(), data.images[sample], data.labels[sample])
    assert acc >= 0.95
    meta = json.loads((folder / "config.json").read_text())
    assert meta["validation_accuracy"] >= 0.98


def test_fd_of_real_against_real_is_small_and_against_noise_large(split) -> None:
    data, train_idx, val_idx = split
    real_a, real_b = data.images[val_idx[:500]], data.images[train_idx[:500]]
    noise = torch.rand(500, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    same = quality.sample_fd(real_a, real_b)
    far = quality.sample_fd(noise, real_b)
    assert same < 25 and far > 20 * same
    assert quality.sample_fd(real_a, real_a) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_matches_the_closed_form_for_gaussians() -> None:
    # Diagonal covariances: FD = |mu_a - mu_b|^2 + sum (sqrt(va) - sqrt(vb))^2.
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(20000, 3, generator=gen, dtype=torch.float64) * torch.tensor([1.0, 2.0, 3.0])
    b = torch.randn(20000, 3, generator=gen, dtype=torch.float64) * torch.tensor([2.0, 2.0, 1.0]) + 1.0
    expected = 3 * 1.0 + (1 - 2) ** 2 + 0 + (3 - 1) ** 2
    assert quality.frechet_distance(a, b) == pytest.approx(expected, rel=0.05)
    with pytest.raises(LatentLabError, match="same F"):
        quality.frechet_distance(a, b[:, :2])


def test_coverage_counts_classes_above_a_fifth_of_the_uniform_share() -> None:
    # 1,000 predictions, ten classes: a class needs 20 (a fifth of 100) to count.
    pred = torch.cat([torch.full((300,), 0), torch.full((300,), 1), torch.full((300,), 2),
                      torch.full((80,), 3), torch.full((19,), 4), torch.full((1,), 5)])
    cov = quality.class_coverage(pred, 10)
    assert cov.threshold == 20 and cov.covered == 4
    assert cov.counts[:6] == (300, 300, 300, 80, 19, 1) and sum(cov.counts) == 1000
    even = quality.class_coverage(torch.arange(1000) % 10, 10)
    assert even.covered == 10 and even.entropy == pytest.approx(math.log(10))
    collapsed = quality.class_coverage(torch.full((1000,), 7), 10)
    assert collapsed.covered == 1 and collapsed.entropy == 0.0
    with pytest.raises(LatentLabError, match="0..9"):
        quality.class_coverage(torch.tensor([10]), 10)


def test_sample_quality_of_a_model_is_seeded_and_bounded(split) -> None:
    data, _, val_idx = split
    torch.manual_seed(0)
    model = build_model(ModelConfig(family="vae", latent_dim=4, hidden=(32,))).eval()
    before = torch.get_rng_state()
    first = quality.sample_quality(model, data.images[val_idx], n=200)
    assert torch.equal(before, torch.get_rng_state())  # the caller's stream is untouched
    assert first == quality.sample_quality(model, data.images[val_idx], n=200)
    assert first["samples"] == 200 and 1 <= first["class_coverage"] <= 10 and first["sample_fd"] > 0
    cvae = build_model(ModelConfig(family="cvae", latent_dim=2, hidden=(16,), num_classes=10)).eval()
    assert quality.sample_quality(cvae, data.images[val_idx], n=50)["samples"] == 50
    shapes = build_model(ModelConfig(family="vae", input_shape=(3, 32, 32), hidden=(16,)))
    assert not quality.measurable(shapes.config)
    with pytest.raises(LatentLabError, match="28×28 grey"):
        quality.sample_quality(shapes, torch.zeros(4, 3, 32, 32))
    with pytest.raises(LatentLabError, match="between 1 and"):
        quality.generate(model, 0)


def test_classifier_training_is_bit_identical_twice(split) -> None:
    data, train_idx, _ = split
    x, y = data.images[train_idx[:256]], data.labels[train_idx[:256]]
    config = ClassifierConfig(channels=(4, 8), features=16)
    runs = [train_classifier(x, y, config=config, epochs=2, batch_size=32, seed=3) for _ in range(2)]
    states = [safetensors.torch.save(m.state_dict()) for m in runs]
    assert states[0] == states[1]
    other = train_classifier(x, y, config=config, epochs=2, batch_size=32, seed=4)
    assert safetensors.torch.save(other.state_dict()) != states[0]


def test_classifier_files_round_trip_and_refuse_bad_ones(tmp_path) -> None:
    torch.manual_seed(0)
    model = Classifier(ClassifierConfig(channels=(2, 3), features=5)).eval()
    save_classifier(model, tmp_path / "clf", meta={"note": "tiny"})
    loaded, meta = load_classifier(tmp_path / "clf")
    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(loaded(x), model(x)) and meta["note"] == "tiny"
    # A pickle in place of the weights, and weights of another shape, are refused clearly.
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    (tmp_path / "clf" / "model.safetensors").write_bytes(buffer.getvalue())
    with pytest.raises(LatentLabError, match="safetensors"):
        load_classifier(tmp_path / "clf")
    other = Classifier(ClassifierConfig(channels=(2, 4), features=5))
    (tmp_path / "clf" / "model.safetensors").write_bytes(safetensors.torch.save(other.state_dict()))
    with pytest.raises(LatentLabError, match="wrong shape"):
        load_classifier(tmp_path / "clf")
    (tmp_path / "clf" / "config.json").write_text('{"format": "something else"}')
    with pytest.raises(LatentLabError, match="not a LatentLab classifier"):
        load_classifier(tmp_path / "clf")
