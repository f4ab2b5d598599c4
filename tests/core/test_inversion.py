"""Inverting a generator: a GAN's own samples get their codes back, and the work can be stopped."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentlab.core import inference, inversion
from latentlab.core.data.dataset import Dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.models import ModelConfig, build_model


def generator(latent_dim: int, seed: int = 0):
    """A freshly initialised GAN: inverting it needs no training, only a generator."""
    torch.manual_seed(seed)
    return build_model(ModelConfig(family="gan", latent_dim=latent_dim, hidden=(64, 32))).eval()


def own_samples(model, n: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` codes from the prior (inside ±2, where the grid reaches) and their decodings."""
    z = torch.randn(n, model.config.latent_dim, generator=torch.Generator().manual_seed(seed)).clamp(-2, 2)
    with torch.no_grad():
        return z, model.decode_image(z)


def chance_error(z: torch.Tensor) -> float:
    """Mean squared code error of guessing another item's code."""
    return float((z - z.roll(1, 0)).pow(2).sum(1).mean())


def test_the_grid_spreads_points_by_prior_mass() -> None:
    grid = inversion.grid_codes(2)
    assert grid.shape == (64 * 64, 2)
    axis = grid[:64, 1]
    assert torch.allclose(axis, -axis.flip(0), atol=1e-5)  # symmetric about 0
    assert 2.3 < float(axis.max()) < 2.5  # the 1/128 quantile's mirror: ~2.42
    assert inversion.grid_codes(1).shape == (4096, 1) and inversion.grid_codes(3).shape == (16**3, 3)
    with pytest.raises(LatentLabError):
        inversion.grid_codes(4)


@pytest.mark.parametrize("latent_dim", [1, 2])
def test_a_small_latent_is_recovered_by_grid_search_and_refinement(latent_dim: int) -> None:
    model = generator(latent_dim)
    z, x = own_samples(model, 40)
    found = inversion.invert(model, x)
    assert found.codes.shape == (40, latent_dim) and found.codes.dtype == np.float32
    error = float((torch.from_numpy(found.codes) - z).pow(2).sum(1).mean())
    assert error < 0.01 * chance_error(z)
    # The errors are per item and small for the generator's own images.
    assert found.errors.shape == (40,) and float(found.errors.max()) < 0.01


def test_refinement_improves_on_the_grid_alone() -> None:
    model = generator(2)
    _, x = own_samples(model, 30)
    coarse = inversion.invert(model, x, steps=0)
    fine = inversion.invert(model, x)
    assert np.all(fine.errors <= coarse.errors + 1e-7) and fine.errors.mean() < 0.5 * coarse.errors.mean()


def test_a_large_latent_starts_from_the_regressor_trained_on_first_use() -> None:
    model = generator(8)
    before = {k: v.clone() for k, v in model.generator_ema.state_dict().items()}
    assert int(model.regressor_steps) == 0
    z, x = own_samples(model, 40)
    found = inversion.invert(model, x)
    assert int(model.regressor_steps) == inversion.REGRESSOR_MIN_STEPS
    error = float((torch.from_numpy(found.codes) - z).pow(2).sum(1).mean())
    assert error < 0.2 * chance_error(z)
    # Only the regressor learned: what the model decodes is unchanged.
    for name, tensor in model.generator_ema.state_dict().items():
        assert torch.equal(tensor, before[name])
    # A second call finds the regressor trained and does not train it again.
    inversion.invert(model, x[:2])
    assert int(model.regressor_steps) == inversion.REGRESSOR_MIN_STEPS


def test_inversion_reports_each_chunk_and_stops_when_asked() -> None:
    model = generator(2)
    _, x = own_samples(model, 50)
    calls: list[tuple[int, int]] = []
    full = inversion.invert(model, x, chunk=20, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(20, 50), (40, 50), (50, 50)] and full is not None
    asked = []

    def stop_after_first() -> bool:
        asked.append(True)
        return len(asked) > 1

    assert inversion.invert(model, x, chunk=20, should_stop=stop_after_first) is None
    assert len(asked) == 2


def test_stopping_during_the_regressor_top_up_returns_none() -> None:
    model = generator(8)
    _, x = own_samples(model, 4)
    assert inversion.invert(model, x, should_stop=lambda: True) is None
    assert int(model.regressor_steps) < inversion.REGRESSOR_MIN_STEPS


def test_wrong_shaped_items_are_one_clear_error() -> None:
    with pytest.raises(LatentLabError, match="expects items of shape"):
        inversion.invert(generator(2), torch.zeros(3, 1, 14, 14))


# -- through the engine every face uses ---------------------------------------------------------
def _dataset(images: torch.Tensor) -> Dataset:
    labels = torch.arange(len(images)) % 10
    return Dataset(name="own samples", images=images, labels=labels, class_names=tuple(map(str, range(10))))


def test_encode_dataset_inverts_a_model_without_an_encoder() -> None:
    model = generator(2)
    z, x = own_samples(model, 30)
    data = _dataset(x)
    calls: list[tuple[int, int]] = []
    codes = inference.encode_dataset(model, data, chunk=16, progress=lambda d, t: calls.append((d, t)))
    assert codes.shape == (30, 2) and calls == [(16, 30), (30, 30)]
    assert float((torch.from_numpy(codes) - z).pow(2).sum(1).mean()) < 0.01 * chance_error(z)
    assert inference.encode_dataset(model, data, should_stop=lambda: True) is None
    with_errors = inference.encode_dataset_with_errors(model, data)
    assert with_errors is not None
    codes2, errors = with_errors
    assert np.allclose(codes2, codes, atol=1e-4) and errors.shape == (30,) and (errors >= 0).all()
    few = inference.encode(model, x[:3].numpy())
    assert few.shape == (3, 2)


def test_encode_dataset_with_errors_gives_no_errors_for_an_encoder() -> None:
    vae = build_model(ModelConfig(family="vae", latent_dim=2, hidden=(16,))).eval()
    data = _dataset(torch.rand(5, 1, 28, 28))
    codes, errors = inference.encode_dataset_with_errors(vae, data)
    assert codes.shape == (5, 2) and errors is None
    assert np.allclose(codes, inference.encode_dataset(vae, data))


def test_realness_is_the_discriminators_probability_per_code() -> None:
    model = generator(2)
    codes = inversion.grid_codes(2, points=16)
    real = inversion.realness(model, codes)
    assert real.shape == (16,) and ((real > 0) & (real < 1)).all()
    with torch.no_grad():
        expected = torch.sigmoid(model.discriminate(model.decode_image(codes)))
    assert np.allclose(real, expected.numpy(), atol=1e-6)
    with pytest.raises(LatentLabError, match="no discriminator"):
        inversion.realness(build_model(ModelConfig(family="vae")), codes)
