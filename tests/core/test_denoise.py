"""Denoising training: specs, the noise, clean targets, reproducibility, the plan and the PSNR metric."""

from __future__ import annotations

import json

import pytest
import torch

from latentlab.core.data import load_dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.metrics import denoising_psnr
from latentlab.core.models import ModelConfig, build_model, registry
from latentlab.core.models.denoise import NoiseSpec, corrupt, parse_noise
from latentlab.core.models.registry import StepContext
from latentlab.core.plan import TrainingSettings, plan_training
from latentlab.core.training import TrainConfig, train

CTX = StepContext(epoch=1, epochs=1, step_in_epoch=0, steps_per_epoch=1, global_step=0)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("mnist", limit=1000)


def _train(config: ModelConfig, data, epochs: int = 1, seed: int = 0):
    gen = train(config, data, TrainConfig(epochs=epochs, batch_size=32, lr=3e-3, seed=seed, threads=1, device="cpu"))
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value


def test_specs_parse_to_one_canonical_form() -> None:
    assert parse_noise("gaussian:0.5") == NoiseSpec("gaussian", 0.5)
    assert parse_noise(" Mask:0.25 ") == NoiseSpec("mask", 0.25)
    assert str(parse_noise("saltpepper:.10")) == "saltpepper:0.1"
    assert parse_noise(None) is None and parse_noise("") is None and parse_noise("none") is None


@pytest.mark.parametrize("text, message", [
    ("gaussian:-1", "above 0"), ("foo:2", "unknown noise"), ("mask:1.5", "at most 1"),
    ("gaussian:", "needs a number"), ("gaussian", "unknown noise"), ("saltpepper:nan", "above 0"),
    ("gaussian:11", "at most 10"), ("mask:0", "above 0"),
])
def test_bad_specs_are_refused_with_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(LatentLabError, match=message) as info:
        parse_noise(text)
    assert "gaussian:S" in str(info.value)  # the message shows the valid forms


def test_the_option_is_offered_by_the_reconstruction_families_and_recorded_only_when_on() -> None:
    offering = [f.name for f in registry.families() if any(o.name == "denoise" for o in f.options)]
    assert set(offering) >= {"ae", "vae", "beta-vae", "cvae"} and "pca" not in offering
    on = ModelConfig(family="ae", options={"denoise": "GAUSSIAN:0.50"})
    assert on.options["denoise"] == "gaussian:0.5"
    assert json.loads(json.dumps(on.to_dict()))["options"] == {"denoise": "gaussian:0.5"}
    assert ModelConfig.from_dict(on.to_dict()) == on
    off = ModelConfig(family="vae")
    assert off.options == {"denoise": ""} and "options" not in off.to_dict()
    with pytest.raises(LatentLabError, match="at most 1"):
        ModelConfig(family="vae", options={"denoise": "mask:1.5"})
    with pytest.raises(LatentLabError, match="noise spec"):
        ModelConfig(family="vae", options={"denoise": 0.5})


def test_noise_has_the_asked_level_and_kind() -> None:
    x = torch.full((200, 1, 28, 28), 0.5)
    gen = torch.Generator().manual_seed(0)
    g = corrupt(x, NoiseSpec("gaussian", 0.1), fixed=True, generator=gen)
    assert (g - x).std().item() == pytest.approx(0.1, rel=0.05) and g.min() >= 0 and g.max() <= 1
    m = corrupt(x, NoiseSpec("mask", 0.3), fixed=True, generator=gen)
    assert (m == 0).float().mean().item() == pytest.approx(0.3, abs=0.01) and set(m.unique().tolist()) == {0.0, 0.5}
    s = corrupt(x, NoiseSpec("saltpepper", 0.4), fixed=True, generator=gen)
    assert (s != 0.5).float().mean().item() == pytest.approx(0.4, abs=0.01)
    assert set(s.unique().tolist()) == {0.0, 0.5, 1.0}
    # Drawn levels: uniform up to the maximum, so on average about half of it.
    drawn = corrupt(x, NoiseSpec("mask", 0.8), generator=gen)
    assert (drawn == 0).float().mean().item() == pytest.approx(0.4, abs=0.05)
    # Seeded: the same generator state gives the same noise.
    a = corrupt(x, NoiseSpec("gaussian", 0.3), generator=torch.Generator().manual_seed(5))
    b = corrupt(x, NoiseSpec("gaussian", 0.3), generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


@pytest.mark.parametrize("family", ["ae", "vae", "beta-vae", "cvae"])
def test_the_step_encodes_corrupted_images_and_scores_the_clean_ones(family: str, digits) -> None:
    extra = {"num_classes": 10} if family == "cvae" else {}
    for denoise in ("mask:1.0", ""):
        torch.manual_seed(0)
        model = build_model(ModelConfig(family=family, latent_dim=2, hidden=(16,), options={"denoise": denoise},
                                        **extra))
        seen: dict = {}
        original = model.loss

        def recording(x, y=None, kl_weight=None, target=None, _orig=original, _seen=seen):
            _seen.update(x=x, target=target)
            return _orig(x, y, kl_weight, target=target)

        model.loss = recording
        x = digits.images[:32]
        fam = registry.get(family)
        y = digits.labels[:32] if fam.capabilities.uses_labels else None
        fam.train_step(model, x, y, fam.optimizers(model, TrainConfig()), CTX)
        if denoise:
            assert seen["target"] is x                    # scored on the clean images
            assert not torch.equal(seen["x"], x) and seen["x"].abs().sum() < x.abs().sum()
        else:
            assert seen["x"] is x and seen["target"] is None


def test_denoising_training_is_reproducible_and_cleans_better_than_plain_training(digits) -> None:
    base = dict(family="ae", latent_dim=8, hidden=(128,))
    noisy = ModelConfig(**base, options={"denoise": "gaussian:0.6"})
    first, second = _train(noisy, digits, epochs=6), _train(noisy, digits, epochs=6)
    for k, v in first.model.state_dict().items():
        assert torch.equal(v, second.model.state_dict()[k])
    plain = _train(ModelConfig(**base), digits, epochs=6)
    _, val_idx = digits.split(0.2, 0)
    val = digits.images[val_idx]
    denoised = denoising_psnr(first.model, val, None, "gaussian:0.5")
    ordinary = denoising_psnr(plain.model, val, None, "gaussian:0.5")
    assert denoised["psnr_noisy"] == ordinary["psnr_noisy"]  # the same seeded noise
    assert denoised["psnr"] > ordinary["psnr"] + 0.3 and denoised["psnr"] > denoised["psnr_noisy"] + 2.0


def test_the_plan_carries_the_setting_and_refuses_families_without_it(digits) -> None:
    settings = TrainingSettings(family="vae", latent_dim=2, epochs=1, denoise="saltpepper:0.2")
    plan = plan_training(settings, data=digits)
    assert plan.model_config.options["denoise"] == "saltpepper:0.2"
    assert TrainingSettings.from_dict(settings.to_dict()) == settings
    with pytest.raises(LatentLabError, match="cannot train as a denoiser.*ae, vae, beta-vae, cvae"):
        plan_training(settings.with_changes(family="pca"), data=digits)
    with pytest.raises(LatentLabError, match="unknown noise"):
        plan_training(settings.with_changes(denoise="foo:2"), data=digits)
    # Continuing a model may change (or turn off) its noise; None keeps the model's.
    model = build_model(plan.model_config)
    kept = plan_training(settings.with_changes(denoise=None, continue_training=True), data=digits, model=model)
    assert kept.model_config.options["denoise"] == "saltpepper:0.2"
    off = plan_training(settings.with_changes(denoise="", continue_training=True), data=digits, model=model)
    assert off.model_config.options["denoise"] == ""


def test_psnr_is_seeded_and_needs_a_spec(digits) -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(family="ae", latent_dim=2, hidden=(16,))).eval()
    x = digits.images[:100]
    a, b = denoising_psnr(model, x, None, "mask:0.5"), denoising_psnr(model, x, None, "mask:0.5")
    assert a == b and a["psnr_noisy"] > 0
    with pytest.raises(LatentLabError, match="noise spec"):
        denoising_psnr(model, x, None, "")
