"""Model families: shapes for any image size, loss maths, learning on real digits, PCA."""

from __future__ import annotations

import gzip
import math
import os

import numpy as np
import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from latentlab.core.errors import LatentLabError
from latentlab.core.models import ModelConfig, build_model, pca_model
from latentlab.core.models.likelihood import GAUSSIAN_SIGMA

NEURAL = ("ae", "vae", "beta-vae", "cvae")
SHAPES = ((1, 28, 28), (3, 32, 32), (1, 20, 36), (1, 27, 29), (3, 9, 8))


def small_config(family: str, arch: str, shape=(1, 28, 28), **kw) -> ModelConfig:
    hidden = (32,) if arch == "mlp" else (8, 16)
    kw.setdefault("latent_dim", 3)
    kw.setdefault("hidden", hidden)
    return ModelConfig(family=family, arch=arch, input_shape=shape,
                       num_classes=10 if family == "cvae" else 0, **kw)


@pytest.fixture(scope="module")
def digits(mnist_dir) -> tuple[torch.Tensor, torch.Tensor]:
    """The first 512 bundled MNIST test digits, read straight from the IDX files."""
    n = 512
    with gzip.open(os.path.join(mnist_dir, "t10k-images-idx3-ubyte.gz")) as f:
        raw = f.read(16 + n * 784)
    with gzip.open(os.path.join(mnist_dir, "t10k-labels-idx1-ubyte.gz")) as f:
        lab = f.read(8 + n)
    images = np.frombuffer(raw, np.uint8, count=n * 784, offset=16).reshape(n, 1, 28, 28)
    labels = np.frombuffer(lab, np.uint8, count=n, offset=8)
    return torch.from_numpy(images.astype(np.float32) / 255.0), torch.from_numpy(labels.astype(np.int64))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("arch", ("mlp", "conv"))
@pytest.mark.parametrize("family", (*NEURAL, "pca"))
def test_every_family_fits_any_image_shape(family, arch, shape):
    torch.manual_seed(0)
    model = build_model(small_config(family, arch, shape))
    x = torch.rand(12, *shape)
    y = torch.randint(0, 10, (12,))
    if family == "pca":
        model.fit(x)
    mu, logvar = model.encode(x, y)
    assert mu.shape == (12, 3)
    assert (logvar is not None) == model.config.is_variational
    if logvar is not None:
        assert logvar.shape == (12, 3)
    assert model.decode(mu, y).shape == (12, *shape)
    img = model.decode_image(torch.randn(12, 3) * 3, y)
    assert img.shape == (12, *shape) and img.min() >= 0 and img.max() <= 1
    terms = model.loss(x, y)
    assert set(terms) == {"loss", "recon", "kl"}
    assert all(torch.isfinite(v) and v.ndim == 0 for v in terms.values())
    assert model.kl_per_dim(x, y).shape == (3,)
    assert model.sample(4, y[:4]).shape == (4, *shape)


def test_reference_mlp_vae_has_the_canonical_784_400_20_size():
    model = build_model(ModelConfig(family="vae", latent_dim=20, hidden=(400,)))
    canonical = (784 * 400 + 400) + 2 * (400 * 20 + 20) + (20 * 400 + 400) + (400 * 784 + 784)
    assert sum(p.numel() for p in model.parameters()) == canonical


@pytest.mark.parametrize("arch", ("mlp", "conv"))
@pytest.mark.parametrize("family", NEURAL)
def test_a_few_adam_steps_lower_the_loss_on_real_digits(family, arch, digits):
    images, labels = digits
    torch.manual_seed(0)
    model = build_model(small_config(family, arch, latent_dim=4))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)

    def held_out_loss() -> float:
        torch.manual_seed(1)  # the same reparameterisation noise for both measurements
        with torch.no_grad():
            return float(model.loss(images[384:], labels[384:])["loss"])

    before = held_out_loss()
    for step in range(24):
        i = (step * 64) % 384
        opt.zero_grad()
        model.loss(images[i:i + 64], labels[i:i + 64])["loss"].backward()
        opt.step()
    assert held_out_loss() < 0.8 * before


def test_bernoulli_reconstruction_is_the_exact_nll():
    torch.manual_seed(0)
    model = build_model(small_config("ae", "mlp"))
    x = (torch.rand(5, 1, 28, 28) > 0.5).float()
    logits = model.decode(model.encode(x)[0])
    expected = -Bernoulli(logits=logits).log_prob(x).sum() / 5
    assert torch.allclose(model.loss(x)["recon"], expected, rtol=1e-5)


def test_gaussian_reconstruction_is_the_exact_nll_with_fixed_sigma():
    torch.manual_seed(0)
    model = build_model(small_config("ae", "conv", (3, 9, 11), likelihood="gaussian"))
    x = torch.rand(4, 3, 9, 11)
    means = model.decode(model.encode(x)[0])
    expected = -Normal(means, GAUSSIAN_SIGMA).log_prob(x).sum() / 4
    assert torch.allclose(model.loss(x)["recon"], expected, rtol=1e-5)


def test_kl_is_the_analytic_gaussian_kl_and_splits_per_dimension():
    torch.manual_seed(0)
    model = build_model(small_config("vae", "mlp"))
    x = torch.rand(6, 1, 28, 28)
    mu, logvar = model.encode(x)
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(1).mean()
    assert torch.allclose(model.loss(x)["kl"], expected, rtol=1e-5)
    assert torch.allclose(model.kl_per_dim(x).sum(), expected, rtol=1e-5)


def test_kl_weight_beta_and_override():
    torch.manual_seed(0)
    x = torch.rand(6, 1, 28, 28)
    for family, beta, weight in (("beta-vae", 4.0, 4.0), ("vae", 4.0, 1.0)):
        model = build_model(small_config(family, "mlp", beta=beta))
        t = model.loss(x)
        assert torch.allclose(t["loss"], t["recon"] + weight * t["kl"])
        t = model.loss(x, kl_weight=0.25)
        assert torch.allclose(t["loss"], t["recon"] + 0.25 * t["kl"])


def test_autoencoder_has_no_kl():
    model = build_model(small_config("ae", "conv"))
    x = torch.rand(4, 1, 28, 28)
    t = model.loss(x)
    assert float(t["kl"]) == 0.0 and torch.equal(t["loss"], t["recon"])
    assert torch.equal(model.kl_per_dim(x), torch.zeros(3))
    # Deterministic: encoding twice gives the same code.
    assert torch.equal(model.encode(x)[0], model.encode(x)[0])


@pytest.mark.parametrize("arch", ("mlp", "conv"))
def test_cvae_output_depends_on_the_label_and_needs_one(arch):
    torch.manual_seed(0)
    model = build_model(small_config("cvae", arch))
    z = torch.randn(3, 3)
    a = model.decode(z, torch.tensor([0, 0, 0]))
    b = model.decode(z, torch.tensor([7, 7, 7]))
    assert not torch.allclose(a, b)
    assert torch.equal(model.decode(z, 7), b)  # one int labels the whole batch
    x = torch.rand(3, 1, 28, 28)
    assert not torch.allclose(model.encode(x, torch.tensor([1, 1, 1]))[0], model.encode(x, torch.tensor([2, 2, 2]))[0])
    with pytest.raises(LatentLabError, match="class label"):
        model.decode(z)
    with pytest.raises(LatentLabError, match="class label"):
        model.loss(x)
    with pytest.raises(LatentLabError, match="0..9"):
        model.decode(z, torch.tensor([0, 10, 1]))


def test_unconditional_models_ignore_labels():
    torch.manual_seed(0)
    model = build_model(small_config("ae", "mlp"))
    z = torch.randn(2, 3)
    assert torch.equal(model.decode(z, torch.tensor([1, 2])), model.decode(z))


# --------------------------------------------------------------------------------- PCA
def test_pca_reconstructs_better_with_more_components(digits):
    images = digits[0]
    errors = []
    for k in (2, 8, 32):
        model = build_model(ModelConfig(family="pca", latent_dim=k, likelihood="gaussian")).fit(images)
        z, logvar = model.encode(images)
        assert logvar is None
        errors.append(float((model.decode(z) - images).pow(2).mean()))
        ratio = model.explained_variance_ratio
        assert torch.all(ratio[:-1] >= ratio[1:]) and 0 < float(ratio.sum()) < 1
    assert errors[0] > errors[1] > errors[2]


def test_pca_latents_are_whitened_and_decode_inverts_encode(digits):
    images = digits[0]
    model = build_model(ModelConfig(family="pca", latent_dim=5)).fit(images)
    z, _ = model.encode(images)
    assert torch.allclose(z.mean(0), torch.zeros(5), atol=1e-4)
    assert torch.allclose(z.std(0), torch.ones(5), atol=1e-3)
    probe = torch.randn(7, 5) * 2
    assert torch.allclose(model.encode(model.decode(probe))[0], probe, atol=1e-4)
    img = model.decode_image(probe * 10)
    assert img.min() >= 0 and img.max() <= 1
    assert torch.equal(img, model.decode(probe * 10).clamp(0, 1))


def test_pca_solvers_agree(digits, monkeypatch):
    images = digits[0][:300]
    full = build_model(ModelConfig(family="pca", latent_dim=4)).fit(images)
    monkeypatch.setattr(pca_model, "_FULL_SVD_MAX_ENTRIES", 0)
    cov = build_model(ModelConfig(family="pca", latent_dim=4)).fit(images)
    monkeypatch.setattr(pca_model, "_COVARIANCE_MAX_DIM", 0)
    low = build_model(ModelConfig(family="pca", latent_dim=4)).fit(images)
    for other in (cov, low):
        assert torch.allclose(other.scale, full.scale, rtol=1e-3)
        # Same directions, same sign convention.
        assert torch.allclose(other.components, full.components, atol=2e-3)


def test_pca_is_fitted_not_trained():
    model = build_model(ModelConfig(family="pca", latent_dim=3))
    assert not model.trainable and not list(model.parameters())
    with pytest.raises(LatentLabError, match="not been fitted"):
        model.encode(torch.rand(2, 1, 28, 28))
    with pytest.raises(LatentLabError, match="shape"):
        model.fit(torch.rand(10, 1, 20, 20))
    with pytest.raises(LatentLabError, match="3 components"):
        model.fit(torch.rand(3, 1, 28, 28))


def test_pca_loss_follows_the_likelihood(digits):
    images = digits[0][:200]
    gauss = build_model(ModelConfig(family="pca", latent_dim=4, likelihood="gaussian")).fit(images)
    bern = build_model(ModelConfig(family="pca", latent_dim=4, likelihood="bernoulli")).fit(images)
    x_hat = gauss.decode(gauss.encode(images)[0])
    expected = -Normal(x_hat, GAUSSIAN_SIGMA).log_prob(images).sum() / len(images)
    assert torch.allclose(gauss.loss(images)["recon"], expected, rtol=1e-4)
    recon = float(bern.loss(images)["recon"])
    # Bounded by the clip: never more than -log(1e-3) nats per pixel.
    assert 0 < recon < 784 * -math.log(1e-3)
