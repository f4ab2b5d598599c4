"""The adversarial families: GAN and VAE-GAN train, save, load and decode like the others."""

from __future__ import annotations

import json

import pytest
import safetensors.torch
import torch
from torch import nn

from latentlab.core import inference
from latentlab.core.checkpoint import load_model, save_model
from latentlab.core.data import load_dataset
from latentlab.core.data.dataset import Dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.metrics import evaluate
from latentlab.core.models import ModelConfig, build_model, registry
from latentlab.core.models.adversarial import (
    D_WIN_EPOCHS,
    GAN_BETAS,
    GAN_LR,
    DiscriminatorWatch,
    gan_lr,
)
from latentlab.core.models.gan_model import GAN
from latentlab.core.models.registry import StepContext
from latentlab.core.models.vae_gan_model import VAEGAN, adversarial_weight
from latentlab.core.training import Progress, TrainConfig, train

GAN_TERMS = ("d_loss", "g_loss", "d_real", "d_fake")
VAE_GAN_TERMS = ("loss", "recon", "kl", "d_loss", "g_loss", "d_real", "d_fake")


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("mnist", limit=300)  # 240 train / 60 validation


def run(gen) -> tuple[list, object]:
    items = []
    while True:
        try:
            items.append(next(gen))
        except StopIteration as stop:
            return items, stop.value


def settings(**changes) -> TrainConfig:
    values = dict(epochs=2, batch_size=60, device="cpu", threads=1, progress_interval_s=0.0)
    values.update(changes)
    return TrainConfig(**values)


def gan_config(**changes) -> ModelConfig:
    values = dict(family="gan", arch="mlp", latent_dim=2, hidden=(64, 32))
    values.update(changes)
    return ModelConfig(**values)


# -- the registry ---------------------------------------------------------------------------
def test_the_families_declare_what_they_can_do() -> None:
    gan, vae_gan = registry.get("gan"), registry.get("vae-gan")
    assert not gan.capabilities.encoder and gan.capabilities.adversarial
    assert gan.terms == GAN_TERMS and gan.optimizer_names == ("generator", "discriminator")
    assert vae_gan.capabilities.encoder and vae_gan.capabilities.variational and vae_gan.capabilities.adversarial
    assert vae_gan.terms == VAE_GAN_TERMS and vae_gan.optimizer_names == ("vae", "discriminator")
    assert "`gan`" in registry.family_table() and "`vae-gan`" in registry.family_table()


@pytest.mark.parametrize("family, options, message", [
    ("gan", {"ema_decay": 1.5}, "at most"),
    ("gan", {"spectral_norm": "yes"}, "true or false"),
    ("vae-gan", {"adv_weight": -1.0}, "at least"),
    ("vae-gan", {"adv_warmup_epochs": 1.5}, "whole number"),
    ("vae-gan", {"lambda": 1.0}, "has no option"),
])
def test_bad_options_are_one_clear_error(family: str, options: dict, message: str) -> None:
    with pytest.raises(LatentLabError, match=message):
        ModelConfig(family=family, options=options)


# -- training -------------------------------------------------------------------------------
@pytest.mark.parametrize("arch, hidden", [("mlp", (64, 32)), ("conv", (8, 16))])
def test_gan_trains_with_every_term_in_progress_and_history(digits: Dataset, arch: str, hidden: tuple) -> None:
    items, result = run(train(gan_config(arch=arch, hidden=hidden), digits, settings()))
    assert result.status == "finished" and isinstance(result.model, GAN)
    reports = [i for i in items if isinstance(i, Progress)]
    assert reports and all(tuple(p.terms) == GAN_TERMS for p in reports)
    assert len(result.history) == 2
    for entry in result.history:
        assert tuple(entry["train"]) == GAN_TERMS and tuple(entry["val"]) == GAN_TERMS
        assert 0.0 < entry["train"]["d_real"] < 1.0 and 0.0 < entry["train"]["d_fake"] < 1.0
        assert entry["train"]["d_loss"] > 0.0 and entry["train"]["g_loss"] > 0.0


def test_vae_gan_trains_with_every_term_and_its_adversarial_weight_in_the_history(digits: Dataset) -> None:
    config = ModelConfig(family="vae-gan", latent_dim=2, hidden=(64,),
                         options={"adv_warmup_epochs": 1, "adv_ramp_epochs": 2, "adv_weight": 2.0})
    items, result = run(train(config, digits, settings(epochs=3)))
    assert result.status == "finished" and isinstance(result.model, VAEGAN)
    reports = [i for i in items if isinstance(i, Progress)]
    assert all(tuple(p.terms) == VAE_GAN_TERMS for p in reports)
    # Warm-up for one epoch, then a ramp over two: 0 after epoch 1, half after 2, full after 3.
    assert [h["adv_weight"] for h in result.history] == [0.0, 1.0, 2.0]
    assert all(h["kl_weight"] == 1.0 for h in result.history)
    assert "neg_elbo" in result.history[-1]["val"]
    # While the adversarial term is off, the loss is the VAE's; once on, it adds the weighted term.
    first = result.history[0]["train"]
    assert first["loss"] == pytest.approx(first["recon"] + first["kl"], rel=1e-4)


def test_the_adversarial_weight_ramps_after_the_warm_up() -> None:
    model = build_model(ModelConfig(family="vae-gan", options={
        "adv_warmup_epochs": 2, "adv_ramp_epochs": 4, "adv_weight": 8.0}))
    at = [adversarial_weight(model, StepContext(e, 10, s, 10, 0)) for e, s in [(1, 5), (3, 0), (4, 0), (7, 0), (9, 0)]]
    assert at == [0.0, 0.0, 2.0, 8.0, 8.0]
    instant = build_model(ModelConfig(family="vae-gan", options={"adv_warmup_epochs": 1, "adv_ramp_epochs": 0}))
    assert adversarial_weight(instant, StepContext(2, 3, 1, 10, 0)) == instant.config.options["adv_weight"]


def test_vae_gan_with_margin_gating_and_spectral_norm_trains(digits: Dataset) -> None:
    config = ModelConfig(family="vae-gan", latent_dim=2, hidden=(64,), options={
        "adv_warmup_epochs": 0, "adv_ramp_epochs": 0, "margin_gating": True, "spectral_norm": True})
    _, result = run(train(config, digits, settings(epochs=1)))
    assert result.status == "finished"
    assert result.history[0]["adv_weight"] == config.options["adv_weight"]
    assert result.history[0]["train"]["loss"] > result.history[0]["train"]["recon"]


def test_learning_rates_default_to_2e4_with_beta1_one_half(digits: Dataset) -> None:
    model = build_model(gan_config())
    family = registry.get("gan")
    opts = family.optimizers(model, TrainConfig())
    for opt in opts.values():
        assert opt.param_groups[0]["lr"] == GAN_LR and opt.param_groups[0]["betas"] == GAN_BETAS
    assert gan_lr(TrainConfig(lrs={"discriminator": 1e-4}), "discriminator") == 1e-4
    assert gan_lr(TrainConfig(lrs={"discriminator": 1e-4}), "generator") == GAN_LR
    assert gan_lr(TrainConfig(lr=5e-4), "generator") == 5e-4
    opts = family.optimizers(model, TrainConfig(lrs={"generator": 3e-4}))
    assert opts["generator"].param_groups[0]["lr"] == 3e-4
    # Each optimiser holds its own player's weights and nothing else.
    assert {id(p) for p in opts["generator"].param_groups[0]["params"]} == {id(p) for p in model.generator.parameters()}
    assert ({id(p) for p in opts["discriminator"].param_groups[0]["params"]}
            == {id(p) for p in model.discriminator.parameters()})


# -- the networks ---------------------------------------------------------------------------
@pytest.mark.parametrize("family", ["gan", "vae-gan"])
@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("spectral", [False, True])
def test_no_discriminator_has_batch_norm(family: str, arch: str, spectral: bool) -> None:
    model = build_model(ModelConfig(family=family, arch=arch, options={"spectral_norm": spectral}))
    norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.GroupNorm,
             nn.InstanceNorm2d, nn.LayerNorm)
    assert not [m for m in model.discriminator.modules() if isinstance(m, norms)]
    assert any(isinstance(m, nn.LeakyReLU) for m in model.discriminator.modules())
    for m in model.modules():  # a BatchNorm anywhere keeps its default eps (not 0.8)
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            assert m.eps == 1e-5


@pytest.mark.parametrize("family", ["gan", "vae-gan"])
def test_spectral_norm_option_applies_to_every_discriminator_layer(family: str) -> None:
    from torch.nn.utils import parametrize

    layers = lambda model: [m for m in model.discriminator.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]  # noqa: E731
    plain = build_model(ModelConfig(family=family, arch="conv"))
    normed = build_model(ModelConfig(family=family, arch="conv", options={"spectral_norm": True}))
    assert layers(plain) and not any(parametrize.is_parametrized(m, "weight") for m in layers(plain))
    assert layers(normed) and all(parametrize.is_parametrized(m, "weight") for m in layers(normed))
    # The normalised weight's largest singular value is (close to) 1.
    normed.train()
    for _ in range(30):
        normed.discriminator(torch.zeros(2, *normed.config.input_shape))
    linear = layers(normed)[-1]
    assert torch.linalg.matrix_norm(linear.weight.detach(), ord=2).item() == pytest.approx(1.0, abs=0.05)


def test_decoded_images_lie_in_unit_range_and_sampling_uses_the_moving_average(digits: Dataset) -> None:
    _, result = run(train(gan_config(), digits, settings()))
    model = result.model
    z = torch.randn(16, 2)
    with torch.no_grad():
        images = model.decode_image(z)
        live = (model.generator(z) + 1) / 2
        average = (model.generator_ema(z) + 1) / 2
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert torch.allclose(images, average) and not torch.allclose(images, live, atol=1e-4)
    ema_w = dict(model.generator_ema.named_parameters())
    assert any(not torch.equal(p, ema_w[name]) for name, p in model.generator.named_parameters())
    # Without the option, decoding is the live generator.
    _, plain = run(train(gan_config(options={"ema": False}), digits, settings()))
    assert plain.model.generator_ema is None
    with torch.no_grad():
        assert torch.allclose(plain.model.decode_image(z), (plain.model.generator(z) + 1) / 2)
    assert inference.decode(model, z.numpy()).shape == (16, 1, 28, 28)


def test_a_gan_has_no_encoder_to_call_directly() -> None:
    with pytest.raises(LatentLabError, match="no encoder"):
        build_model(gan_config()).encode(torch.zeros(1, 1, 28, 28))


def test_evaluate_reports_the_adversarial_terms_without_latent_statistics(digits: Dataset) -> None:
    _, result = run(train(gan_config(), digits, settings(epochs=1)))
    report = evaluate(result.model, digits)
    assert set(GAN_TERMS) <= set(report) and "kl_per_dim" not in report and report["n"] == len(digits)


# -- files ----------------------------------------------------------------------------------
def test_save_and_load_keep_the_average_and_the_regressor(tmp_path, digits: Dataset) -> None:
    _, result = run(train(gan_config(latent_dim=6), digits, settings()))
    model = result.model
    assert int(model.regressor_steps) == 4  # the final epoch's steps (240 items / 60)
    save_model(tmp_path / "m", model)
    loaded = load_model(tmp_path / "m").model
    assert isinstance(loaded, GAN) and int(loaded.regressor_steps) == 4
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name
    names = loaded.state_dict().keys()
    assert any(k.startswith("generator_ema.") for k in names) and any(k.startswith("regressor.") for k in names)
    z = torch.randn(4, 6)
    assert torch.equal(inference.decode(model, z), inference.decode(loaded, z))


def test_a_model_folder_missing_discriminator_tensors_is_one_clear_error(tmp_path) -> None:
    model = build_model(gan_config(options={"spectral_norm": True}))
    save_model(tmp_path / "m", model)
    weights = tmp_path / "m" / "model.safetensors"
    tensors = safetensors.torch.load_file(weights)
    safetensors.torch.save_file({k: v for k, v in tensors.items() if not k.startswith("discriminator.")}, weights)
    with pytest.raises(LatentLabError, match="model.safetensors: missing tensors.*discriminator"):
        load_model(tmp_path / "m")


def test_a_saved_gan_records_its_family_and_options(tmp_path) -> None:
    save_model(tmp_path / "m", build_model(gan_config(options={"ema_decay": 0.99})))
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    assert meta["model"]["family"] == "gan" and meta["model"]["options"]["ema_decay"] == 0.99


# -- a discriminator that wins --------------------------------------------------------------
def _epoch(epoch: int, d_loss: float) -> Progress:
    return Progress(epoch=epoch, epochs=10, step=epoch, steps_per_epoch=1, terms={"d_loss": d_loss},
                    images_per_s=1.0, eta_s=0.0, epoch_done=True)


def test_the_watch_warns_once_after_a_sustained_win() -> None:
    watch = DiscriminatorWatch()
    said = [watch.update(_epoch(e, d)) for e, d in enumerate([0.01, 0.01, 0.9, 0.01, 0.02, 0.03, 0.01, 0.01], 1)]
    assert said[:5] == [None] * 5  # a win interrupted by a fair epoch starts counting again
    assert said[5] is not None and "discriminator" in said[5] and "learning rate" in said[5]
    assert "spectral_norm" in said[5]
    assert said[6:] == [None, None]  # said once
    # A mid-epoch report does not count; a VAE-GAN's warm-up epochs do not either.
    mid = Progress(epoch=1, epochs=3, step=1, steps_per_epoch=2, terms={"d_loss": 0.0}, images_per_s=1.0, eta_s=0.0)
    assert DiscriminatorWatch().update(mid) is None
    warm = DiscriminatorWatch.for_config(ModelConfig(family="vae-gan", options={"adv_warmup_epochs": 3}))
    assert [warm.update(_epoch(e, 0.0)) for e in range(1, 3 + D_WIN_EPOCHS)][-1] is None
    assert warm.update(_epoch(3 + D_WIN_EPOCHS, 0.0)) is not None
    assert DiscriminatorWatch.for_config(ModelConfig(family="vae")) is None
