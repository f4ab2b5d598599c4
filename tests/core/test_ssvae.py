"""The semi-supervised VAE family and the trainer's partial labels."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from latentlab.core.checkpoint import load_model, save_model
from latentlab.core.data.dataset import Dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.metrics import accuracy, class_probabilities, evaluate
from latentlab.core.models import ModelConfig, build_model, registry
from latentlab.core.models.ssvae_model import jitter
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
    assert set(out) == {"loss", "recon", "kl", "classify", "consistency"}
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


# -- the classifier's network and the consistency term on unlabelled images ------------------
def test_the_classifier_option_picks_the_network() -> None:
    def convs(model) -> int:
        return sum(isinstance(m, torch.nn.Conv2d) for m in model.classifier.modules())

    assert convs(build_model(_config())) == 2                       # the default: a small conv net
    mlp = build_model(_config(classifier="mlp"))
    assert convs(mlp) == 0 and mlp.classifier.input.in_features == 36
    assert convs(build_model(_config(classifier="arch"))) == 0      # follows arch "mlp"
    with pytest.raises(LatentLabError, match="classifier"):
        build_model(_config(classifier="resnet"))


def test_jitter_moves_a_shape_a_little_and_zero_leaves_it() -> None:
    x = torch.zeros(64, 1, 28, 28)
    x[:, :, 11:17, 11:17] = 1.0
    assert jitter(x, 0.0) is x
    torch.manual_seed(0)
    moved = jitter(x, 2.0)
    assert moved.shape == x.shape and not torch.equal(moved, x)
    mass = moved.sum((1, 2, 3))
    assert bool(((mass > 36 * 0.75) & (mass < 36 * 1.3)).all())   # scaled by at most 10 % a side
    rows = torch.arange(28.0).view(1, 1, 28, 1)
    centre = (moved * rows).sum((1, 2, 3)) / mass
    shift = (centre - 13.5).abs()
    assert float(shift.max()) <= 2.0 + 0.5 and float(shift.max()) > 0.5   # up to 2 pixels, and some move


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    x = _data(12).images
    return x, torch.tensor([0, 1, 2] + [UNLABELLED] * 9)


@pytest.mark.parametrize("options", [{"vat": 2.0}, {"vat": 0.0, "jitter": 1.0, "confidence": 0.0}])
def test_the_consistency_term_trains_only_the_classifier_on_unlabelled_images(options) -> None:
    torch.manual_seed(0)
    model = build_model(_config(consistency=10.0, **options)).train()
    x, y = _batch()
    out = model.loss(x, y)
    assert float(out["consistency"].detach()) > 0
    assert model.classifier.training                                  # dropout is back on after the term
    model.zero_grad()
    out["consistency"].backward()
    assert any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in model.classifier.parameters())
    assert all(p.grad is None or not p.grad.any() for p in (*model.encoder.parameters(), *model.decoder.parameters()))
    # Nothing unlabelled, or evaluation: no term.
    assert float(model.loss(x[:3], y[:3])["consistency"].detach()) == 0.0
    with torch.no_grad():
        assert float(model.eval().loss(x, y)["consistency"]) == 0.0


def test_the_consistency_weight_enters_the_loss_and_zero_turns_it_off() -> None:
    x, y = _batch()
    results = {}
    for weight in (0.0, 10.0):
        torch.manual_seed(0)
        model = build_model(_config(consistency=weight, dropout=0.0)).train()
        torch.manual_seed(1)
        results[weight] = model.loss(x, y)
    off, on = results[0.0], results[10.0]
    assert float(off["consistency"].detach()) == 0.0 and float(on["consistency"].detach()) > 0
    torch.testing.assert_close(on["loss"] - off["loss"], 10.0 * on["consistency"], rtol=1e-4, atol=1e-4)


def test_pseudo_labels_below_the_confidence_are_not_trained_on() -> None:
    torch.manual_seed(0)
    model = build_model(_config(consistency=10.0, vat=0.0, jitter=1.0, confidence=1.0)).train()
    x, y = _batch()
    assert float(model.loss(x, y)["consistency"].detach()) == 0.0   # an untrained classifier is never sure


# -- model files saved before an option existed -----------------------------------------------
#: The options the conv classifier and the consistency term brought; files saved before them lack all five.
_ADDED_WITH_THE_CLASSIFIER = ("classifier", "consistency", "vat", "jitter", "confidence")


@pytest.mark.parametrize(("arch", "hidden", "dropout", "removed"), [
    ("mlp", (16,), 0.5, _ADDED_WITH_THE_CLASSIFIER),
    ("conv", (4, 8), 0.5, _ADDED_WITH_THE_CLASSIFIER),
    ("mlp", (16,), 0.0, ("dropout", *_ADDED_WITH_THE_CLASSIFIER)),  # older still: no dropout option either
])
def test_a_file_saved_before_the_classifier_option_loads_and_classifies_the_same(
        tmp_path, arch, hidden, dropout, removed) -> None:
    torch.manual_seed(0)
    old = build_model(ModelConfig(
        family="ssvae", arch=arch, input_shape=(1, 8, 8), latent_dim=2, hidden=hidden, num_classes=3,
        label_names=("a", "b", "c"), options={"classifier": "arch", "dropout": dropout, "consistency": 0.0}))
    old.eval()
    folder = save_model(tmp_path / "old", old)
    meta = json.loads((folder / "config.json").read_text())
    for name in removed:
        del meta["model"]["options"][name]
    (folder / "config.json").write_text(json.dumps(meta))

    loaded = load_model(folder)

    options = loaded.config.options
    assert (options["classifier"], options["dropout"], options["consistency"]) == ("arch", dropout, 0.0)
    x = torch.rand(10, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        assert torch.equal(loaded.model.classify(x), old.classify(x))
        assert torch.equal(loaded.model.encode(x)[0], old.encode(x)[0])
    # Saved again, the file names the classifier it has; a new model still gets the conv net.
    again = save_model(tmp_path / "again", loaded.model)
    assert json.loads((again / "config.json").read_text())["model"]["options"]["classifier"] == "arch"
    assert _config().options["classifier"] == "conv" and _config().options["consistency"] == 20.0


# -- entropy minimisation, the ramp of the unlabelled terms and the learning-rate decay ------
def test_the_entropy_weight_adds_the_entropy_of_the_unlabelled_guesses() -> None:
    x, y = _batch()
    results = {}
    for weight in (0.0, 4.0):
        torch.manual_seed(0)
        model = build_model(_config(entropy=weight, dropout=0.0, consistency=0.0)).train()
        torch.manual_seed(1)
        results[weight] = model.loss(x, y)
    with torch.no_grad():
        q = model.classify(x[3:])
        entropy = float(-(q * q.log()).sum(1).mean())
    assert entropy > 0
    torch.testing.assert_close(float((results[4.0]["loss"] - results[0.0]["loss"]).detach()), 4.0 * entropy,
                               rtol=1e-4, atol=1e-4)
    model.unlabelled_scale = 0.0   # the step's ramp turns the term off at the start
    torch.manual_seed(1)
    torch.testing.assert_close(model.loss(x, y)["loss"], results[0.0]["loss"], rtol=1e-5, atol=1e-5)


def test_the_step_ramps_the_unlabelled_terms_and_decays_the_learning_rate() -> None:
    from latentlab.core.models import ssvae
    from latentlab.core.models.registry import StepContext

    model = build_model(_config(ramp_epochs=4.0, lr_decay=0.5))
    at = lambda epochs_done: StepContext(int(epochs_done) + 1, 10, round(epochs_done % 1 * 10), 10, 0)  # noqa: E731
    assert [ssvae.unlabelled_scale(model, at(e)) for e in (0, 2, 4, 7)] == [0.0, 0.5, 1.0, 1.0]
    assert [ssvae.lr_factor(model, at(e)) for e in (0, 5, 7.5, 9.5)] == pytest.approx([1.0, 1.0, 0.5, 0.1])
    plain = build_model(_config(lr_decay=0.0))
    assert ssvae.unlabelled_scale(plain, at(0)) == 1.0 and ssvae.lr_factor(plain, at(9.5)) == 1.0
    # The family's defaults: VAT of radius 2 and weight 20, no ramp, no entropy term, the rate
    # falls over the last 30 %.
    default = build_model(_config())
    assert (default.vat, default.consistency, default.entropy) == (2.0, 20.0, 0.0)
    assert ssvae.unlabelled_scale(default, at(0)) == 1.0
    assert [ssvae.lr_factor(default, at(e)) for e in (6.5, 8.5)] == pytest.approx([1.0, 0.5])
    # The step sets both on the model and the optimiser, from the base rate each time.
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = _batch()
    ssvae.train_step(model, x, y, {"main": opt}, at(7.5))
    assert model.unlabelled_scale == 1.0 and opt.param_groups[0]["lr"] == pytest.approx(5e-4)
    ssvae.train_step(model, x, y, {"main": opt}, at(2))
    assert model.unlabelled_scale == 0.5 and opt.param_groups[0]["lr"] == pytest.approx(1e-3)


def test_the_virtual_adversarial_direction_is_the_most_sensitive_one() -> None:
    # A classifier that reads two pixels, one twenty times as strongly as the other: the
    # perturbation must go almost all along the strong one, with the option's length.
    torch.manual_seed(0)
    model = build_model(_config(vat=1.5))
    linear = torch.nn.Linear(36, 3)
    with torch.no_grad():
        linear.weight.zero_()
        linear.weight[:, 7] = torch.tensor([2.0, -1.0, 0.5])
        linear.weight[:, 20] = torch.tensor([2.0, -1.0, 0.5]) / 20
    model.classifier = torch.nn.Sequential(torch.nn.Flatten(), linear)
    x = _data(32).images
    r = model.vat_direction(x).flatten(1)
    torch.testing.assert_close(r.norm(dim=1), torch.full((32,), 1.5))
    assert bool((r[:, 7].abs() > 0.99 * 1.5).all())
    others = torch.cat([r[:, :7], r[:, 8:]], 1)
    assert float(others.abs().max()) < 0.15
