"""The semi-supervised VAE family and the trainer's partial labels."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from latentlab.core.data.dataset import Dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.metrics import accuracy, class_probabilities, evaluate
from latentlab.core.models import ModelConfig, build_model, registry
from latentlab.core.partial_labels import UNLABELLED, check_labelled, keep_labels, kept_items, labelled_per_batch
from latentlab.core.plan import TrainingSettings, plan_training
from latentlab.core.training import TrainConfig, train


def _data(n: int = 120, classes: int = 3) -> Dataset:
    """Three easy classes: bright top, middle or bottom rows, with noise."""
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % classes
    images = torch.rand(n, 1, 6, 6, generator=gen) * 0.2
    for k in range(classes):
        images[labels == k, :, 2 * k:2 * k + 2, :] += 0.8
    return Dataset(name="bands", images=images.clamp(0, 1), labels=labels,
                   class_names=tuple(str(k) for k in range(classes)))


def _config(classes: int = 3, **options) -> ModelConfig:
    return ModelConfig(family="ssvae", input_shape=(1, 6, 6), latent_dim=2, hidden=(16,), num_classes=classes,
                       label_names=tuple(str(k) for k in range(classes)), options=options)


def test_family_declares_that_it_classifies() -> None:
    family = registry.get("ssvae")
    assert family.capabilities.classifies and family.capabilities.conditional
    assert "classify" in family.terms


def test_keep_labels_is_balanced_seeded_and_keeps_true_labels() -> None:
    labels = torch.arange(300) % 3
    kept = keep_labels(labels, 10, 3, seed=4)
    chosen = kept != UNLABELLED
    assert int(chosen.sum()) == 10
    assert sorted(torch.bincount(kept[chosen], minlength=3).tolist()) == [3, 3, 4]
    assert torch.equal(kept[chosen], labels[chosen])
    assert torch.equal(kept, keep_labels(labels, 10, 3, seed=4))
    assert not torch.equal(kept, keep_labels(labels, 10, 3, seed=5))
    assert labelled_per_batch(128, 100) == 32 and labelled_per_batch(128, 5) == 5


@pytest.mark.parametrize("n, words", [
    (0, "at least 1"), (2, "at least one label per class"), (1000, "training split has only 300"),
])
def test_check_labelled_refusals(n: int, words: str) -> None:
    with pytest.raises(LatentLabError, match=words):
        check_labelled(n, torch.arange(300) % 3, 3, family_name="ssvae", classifies=True)


def test_a_class_too_small_for_a_balanced_share_is_refused() -> None:
    labels = torch.tensor([0] * 50 + [1] * 50 + [2] * 2)
    with pytest.raises(LatentLabError, match="class 2 has fewer than 4"):
        check_labelled(12, labels, 3, family_name="ssvae", classifies=True)


def test_a_family_that_does_not_classify_is_refused() -> None:
    with pytest.raises(LatentLabError, match="classifies"):
        check_labelled(10, torch.arange(30) % 3, 3, family_name="cvae", classifies=False)
    config = ModelConfig(family="cvae", input_shape=(1, 6, 6), latent_dim=2, hidden=(8,), num_classes=3)
    with pytest.raises(LatentLabError, match="classifies"):
        next(train(config, _data(), TrainConfig(epochs=1, labelled=6)))


def test_loss_with_unlabelled_items_sums_over_classes() -> None:
    torch.manual_seed(0)
    model = build_model(_config()).eval()  # no dropout: the classifier gives the same logits twice
    x = _data(6).images
    y = torch.tensor([0, 1, UNLABELLED, UNLABELLED, 2, UNLABELLED])
    out = model.loss(x, y)
    assert set(out) == {"loss", "recon", "kl", "classify"}
    # The classification term is the cross-entropy over the three labelled items only.
    logits = model.class_logits(x)
    expected = torch.nn.functional.cross_entropy(logits[[0, 1, 4]], y[[0, 1, 4]])
    torch.testing.assert_close(out["classify"], expected)
    with torch.no_grad():
        unlabelled = model.loss(x)  # no labels: every item sums over the classes
        labelled = model.loss(x, torch.tensor([0, 1, 2, 0, 1, 2]))
    assert float(unlabelled["classify"]) == 0.0 and math.isfinite(float(unlabelled["loss"]))
    assert float(labelled["classify"]) > 0


def test_the_trainer_hands_the_step_only_the_kept_labels() -> None:
    seen: list[torch.Tensor] = []
    family = registry.get("ssvae")
    original = family.train_step

    def spy(model, x, y, optimizers, ctx):
        seen.append(y.clone())
        return original(model, x, y, optimizers, ctx)

    spied = dataclasses.replace(family, train_step=spy)
    registry.register(spied, replace=True)
    try:
        gen = train(_config(), _data(), TrainConfig(epochs=2, batch_size=16, labelled=6, val_fraction=0.25))
        while True:
            try:
                next(gen)
            except StopIteration as stop:
                result = stop.value
                break
    finally:
        registry.register(family, replace=True)
    assert result.status == "finished"
    labels = torch.cat(seen)
    labelled = labels[labels != UNLABELLED]
    assert (labels == UNLABELLED).any() and len(labelled) > 0
    # 90 training items, batches of 16 plus 4 labelled ones: every batch carries labelled items.
    assert all(int((y != UNLABELLED).sum()) >= 4 for y in seen)
    assert "accuracy" in result.history[-1]["val"]


def test_kept_items_are_exactly_the_images_the_trainer_labels() -> None:
    data = _data()
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    family = registry.get("ssvae")
    original = family.train_step

    def spy(model, x, y, optimizers, ctx):
        seen.append((x.clone(), y.clone()))
        return original(model, x, y, optimizers, ctx)

    registry.register(dataclasses.replace(family, train_step=spy), replace=True)
    try:
        for _ in train(_config(), data, TrainConfig(epochs=1, batch_size=16, labelled=7, val_fraction=0.25, seed=3)):
            pass
    finally:
        registry.register(family, replace=True)
    flat = data.images.flatten(1)
    labelled: dict[int, int] = {}
    for x, y in seen:
        for row, label in zip(x.flatten(1)[y != UNLABELLED], y[y != UNLABELLED].tolist()):
            item = int(torch.nonzero((flat == row).all(1)).flatten()[0])
            labelled[item] = label
    kept = kept_items(data, 7, 0.25, 3)
    assert sorted(labelled) == kept.tolist() and len(kept) == 7
    assert all(labelled[i] == int(data.labels[i]) for i in labelled)
    assert not torch.equal(kept, kept_items(data, 7, 0.25, 4))   # the seed decides


def test_few_labels_learn_easy_classes_and_evaluate_reports_accuracy() -> None:
    data = _data(300)
    plan = plan_training(TrainingSettings(family="ssvae", latent_dim=2, hidden=(16,), epochs=15, batch_size=32,
                                          labelled=6, lr=3e-3, options={"alpha": 10.0}), data=data,
                         progress_interval_s=1e9)
    gen = train(plan.model_config, plan.data, plan.train_config)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            model = stop.value.model
            break
    _, val_idx = data.split(0.2, 0)
    val = data.subset(val_idx)
    assert accuracy(model, val.images, val.labels) > 0.9
    probs = class_probabilities(model, val.images)
    torch.testing.assert_close(probs.sum(1), torch.ones(len(val)))
    metrics = evaluate(model, val)
    assert metrics["accuracy"] == pytest.approx(accuracy(model, val.images, val.labels))


def test_plan_refuses_too_many_labels_before_training() -> None:
    with pytest.raises(LatentLabError, match="training split has only 96"):
        plan_training(TrainingSettings(family="ssvae", labelled=500), data=_data())
