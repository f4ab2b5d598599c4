"""Model metrics: -ELBO terms, KL per dimension, active units, factor R²."""

from __future__ import annotations

import math

import pytest
import torch

from latentlab.core.data import load_dataset
from latentlab.core.data.dataset import Dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.metrics import ACTIVE_UNIT_THRESHOLD, evaluate, factor_r2, loss_terms
from latentlab.core.models import LatentModel, ModelConfig, build_model


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("mnist", limit=300)


@pytest.fixture(scope="module")
def vae() -> LatentModel:
    torch.manual_seed(0)
    return build_model(ModelConfig(family="vae", latent_dim=4, hidden=(32,)))


class PixelCoder(LatentModel):
    """A fixed 'model' whose latent means are a linear map of the first two pixels."""

    def __init__(self) -> None:
        super().__init__(ModelConfig(family="ae", input_shape=(1, 4, 4), latent_dim=3, hidden=(8,)))
        self.mix = torch.tensor([[2.0, 0.0, 1.0], [0.5, -3.0, 1.0]])

    def encode(self, x, y=None):
        return x.flatten(1)[:, :2] @ self.mix + 0.25, None

    def decode(self, z, y=None):
        return torch.zeros(z.shape[0], 1, 4, 4)

    def loss(self, x, y=None, kl_weight=None):
        recon = (x - 0.5).square().sum() / x.shape[0]
        return {"loss": recon, "recon": recon, "kl": recon.new_zeros(())}


def factor_data(n: int = 200) -> Dataset:
    gen = torch.Generator().manual_seed(1)
    images = torch.rand(n, 1, 4, 4, generator=gen)
    factors = torch.stack([images[:, 0, 0, 0], images[:, 0, 0, 1], torch.rand(n, generator=gen)], dim=1)
    return Dataset(name="synthetic", images=images, factors=factors,
                   factor_names=("first", "second", "noise"))


def test_kl_per_dim_sums_to_kl(digits, vae):
    m = evaluate(vae, digits, batch_size=128)
    assert m["n"] == 300
    assert len(m["kl_per_dim"]) == 4
    assert sum(m["kl_per_dim"]) == pytest.approx(m["kl"], rel=1e-4)
    assert m["neg_elbo"] == pytest.approx(m["recon"] + m["kl"])
    assert m["active_units"] == sum(v > ACTIVE_UNIT_THRESHOLD for v in m["kl_per_dim"])
    assert "factor_r2" not in m  # MNIST has no known factors


def test_evaluate_is_repeatable_and_keeps_the_mode(digits, vae):
    vae.train()
    first = evaluate(vae, digits)
    second = evaluate(vae, digits, batch_size=77)
    assert vae.training
    assert first["kl"] == pytest.approx(second["kl"], rel=1e-5)
    assert first["recon"] == pytest.approx(evaluate(vae, digits)["recon"], rel=0, abs=0)


def test_loss_terms_match_a_direct_computation(digits, vae):
    with torch.inference_mode():
        vae.eval()
        torch.manual_seed(0)
        mu, logvar = vae.encode(digits.images)
        direct_kl = float((-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).sum(1).mean())
    terms = loss_terms(vae, digits.images, kl_weight=2.0, batch_size=64)
    assert terms["kl"] == pytest.approx(direct_kl, rel=1e-4)
    assert terms["loss"] == pytest.approx(terms["recon"] + 2.0 * terms["kl"], rel=1e-5)
    assert all(math.isnan(v) for v in loss_terms(vae, digits.images[:0]).values())


def test_pca_has_no_kl(digits):
    pca = build_model(ModelConfig(family="pca", latent_dim=3, hidden=(8,))).fit(digits.images)
    m = evaluate(pca, digits)
    assert m["kl"] == 0.0 and m["active_units"] == 0
    assert m["loss"] == pytest.approx(m["recon"]) and m["recon"] > 0
    assert "neg_elbo" not in m  # not a variational model: there is no ELBO to report


def test_factor_r2_of_a_linear_code_is_one():
    m = evaluate(PixelCoder(), factor_data())
    r2 = m["factor_r2"]
    assert list(r2) == ["first", "second", "noise"]
    assert r2["first"] == pytest.approx(1.0, abs=1e-9)
    assert r2["second"] == pytest.approx(1.0, abs=1e-9)
    assert 0.0 <= r2["noise"] < 0.1  # independent of the latents: nothing to explain


def test_factor_r2_bounds_and_constant_factors():
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(500, 2, generator=gen)
    noisy = z[:, 0] + 0.5 * torch.randn(500, generator=gen)  # var 1 signal + var 0.25 noise
    factors = torch.stack([noisy, torch.full((500,), 3.0)], dim=1)
    r2 = factor_r2(z, factors)
    assert r2[0] == pytest.approx(0.8, abs=0.05)
    assert r2[1] is None
    with pytest.raises(ValueError):
        factor_r2(z, factors[:10])


def test_conditional_model_needs_labels(digits):
    cvae = build_model(ModelConfig(family="cvae", latent_dim=2, hidden=(16,), num_classes=10))
    assert evaluate(cvae, digits)["n"] == 300
    with pytest.raises(LatentLabError, match="labels"):
        evaluate(cvae, Dataset(name="plain", images=digits.images))


def test_wrong_shape_is_a_user_error(vae):
    small = Dataset(name="tiny", images=torch.rand(5, 1, 8, 8))
    with pytest.raises(LatentLabError, match="shape"):
        evaluate(vae, small)
