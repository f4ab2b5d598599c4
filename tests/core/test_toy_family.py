"""A family defined only in the tests trains, saves, loads, evaluates and decodes like a built-in one."""

from __future__ import annotations

import json

import pytest
import torch

from latentlab.core import inference
from latentlab.core.checkpoint import load_model, save_model
from latentlab.core.data import load_dataset
from latentlab.core.data.dataset import Dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.metrics import evaluate
from latentlab.core.models import ModelConfig, registry
from latentlab.core.plan import TrainingSettings, plan_training
from latentlab.core.training import Progress, TrainConfig, train
from tests.toy_families import NAME, TERMS, SplitCoder, toy_family_registered


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("mnist", limit=500)  # 400 train / 100 validation


@pytest.fixture
def toy():
    with toy_family_registered() as family:
        yield family


def run(gen) -> tuple[list, object]:
    items = []
    while True:
        try:
            items.append(next(gen))
        except StopIteration as stop:
            return items, stop.value


def settings(**changes) -> TrainConfig:
    values = dict(epochs=3, batch_size=50, lr=3e-3, device="cpu", threads=1, progress_interval_s=0.0)
    values.update(changes)
    return TrainConfig(**values)


def test_no_built_in_family_reports_the_toy_term(toy) -> None:
    builtin = [f for f in registry.families() if f.name != NAME]
    assert builtin and all("code_norm" not in f.terms for f in builtin)
    assert len(toy.optimizer_names) == 2


def test_the_toy_family_trains_with_every_term_reported(toy, digits) -> None:
    config = plan_training(TrainingSettings(family=NAME, latent_dim=2), data=digits).model_config
    assert config.hidden == (24,) and config.options == {"code_weight": 0.1}  # the family's defaults
    items, result = run(train(config, digits, settings()))
    assert result.status == "finished" and isinstance(result.model, SplitCoder)
    reports = [i for i in items if isinstance(i, Progress)]
    assert reports and all(tuple(p.terms) == TERMS for p in reports)
    closing = [p for p in reports if p.epoch_done]
    assert [tuple(p.val) for p in closing] == [TERMS] * 3  # not variational: no neg_elbo
    history = result.history
    assert [tuple(h["train"]) for h in history] == [TERMS] * 3
    assert [h["val"] for h in history] == [p.val for p in closing]
    # The schedule ramps the penalty over two epochs; the history records its value at each end.
    assert [h["code_weight"] for h in history] == pytest.approx([0.05, 0.1, 0.1])
    assert history[-1]["val"]["loss"] < history[0]["val"]["loss"]
    for h in history:
        assert h["train"]["loss"] > h["train"]["recon"] > 0 and h["train"]["code_norm"] > 0


def test_each_optimiser_gets_its_own_learning_rate(toy, digits) -> None:
    config = ModelConfig(family=NAME, latent_dim=2, hidden=(16,))

    def trained(**changes) -> dict[str, torch.Tensor]:
        _, result = run(train(config, digits, settings(epochs=1, **changes)))
        return result.model.state_dict()

    # A vanishing rate leaves the run's seeded initial weights where they were.
    initial = trained(lr=1e-12)
    decoder_frozen = trained(lrs={"decoder": 1e-12})
    encoder_frozen = trained(lrs={"encoder": 1e-12})
    for name, start in initial.items():
        frozen, moved = ((decoder_frozen, encoder_frozen) if name.startswith("decoder.")
                         else (encoder_frozen, decoder_frozen))
        assert torch.allclose(frozen[name], start, rtol=0, atol=1e-8), name
        assert (moved[name] - start).abs().max() > 1e-4, name


def test_learning_rates_for_optimisers_a_family_lacks_are_refused(toy, digits) -> None:
    config = ModelConfig(family=NAME, latent_dim=2, hidden=(16,))
    with pytest.raises(LatentLabError, match="does not have: generator .*its optimisers: encoder, decoder"):
        next(train(config, digits, settings(lrs={"generator": 1e-3})))
    with pytest.raises(LatentLabError, match="optimisers the vae family does not have: encoder"):
        next(train(ModelConfig(latent_dim=2, hidden=(16,)), digits, settings(lrs={"encoder": 1e-3})))


def test_saved_toy_models_load_evaluate_and_decode(toy, digits, tmp_path) -> None:
    config = ModelConfig(family=NAME, latent_dim=2, hidden=(16,), options={"code_weight": 0.5})
    _, result = run(train(config, digits, settings(epochs=1)))
    path = save_model(tmp_path / "toy", result.model, train_config=settings(lrs={"decoder": 1e-2}),
                      history=result.history)
    meta = json.loads((path / "config.json").read_text())
    assert meta["model"]["options"] == {"code_weight": 0.5}
    assert meta["train"]["lrs"] == {"decoder": 0.01}
    loaded = load_model(path)
    assert isinstance(loaded.model, SplitCoder) and loaded.config == config
    assert TrainConfig.from_dict(loaded.meta["train"]).lr_for("decoder") == 0.01
    metrics = evaluate(loaded.model, digits)
    assert set(metrics) == {*TERMS, "kl_per_dim", "active_units", "n"}
    assert metrics["loss"] == pytest.approx(metrics["recon"] + 0.5 * metrics["code_norm"], rel=1e-5)
    codes = inference.encode(loaded.model, digits.images[:5])
    assert codes.shape == (5, 2)
    images = inference.decode(loaded.model, codes)
    assert images.shape == (5, 1, 28, 28) and 0.0 <= float(images.min()) and float(images.max()) <= 1.0
    with torch.inference_mode():
        direct = torch.sigmoid(result.model.decode(torch.from_numpy(codes)))
    assert torch.allclose(images, direct)


def test_a_model_of_an_unregistered_family_is_a_clear_error(digits, tmp_path) -> None:
    with toy_family_registered():
        model = SplitCoder(ModelConfig(family=NAME, latent_dim=2, hidden=(8,)))
        path = save_model(tmp_path / "toy", model)
    with pytest.raises(LatentLabError) as caught:
        load_model(path)
    message = str(caught.value)
    assert str(path) in message and f"unknown model family '{NAME}'" in message
    assert "ae, vae, beta-vae, cvae, pca" in message and "register" in message
