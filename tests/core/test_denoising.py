"""One image through noise and a model (core.denoising): the numbers core measures elsewhere,
a seeded pattern that only grows with the level, and models that cannot denoise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentlab.core import inference
from latentlab.core.data import load_dataset
from latentlab.core.denoising import NOT_TRAINED_NOTE, denoise_image, training_note, unusable_reason
from latentlab.core.errors import LatentLabError
from latentlab.core.metrics import denoising_psnr
from latentlab.core.models import ModelConfig, build_model
from latentlab.core.models.denoise import NoiseSpec


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist", limit=20)


def tiny(family: str = "vae", **options) -> torch.nn.Module:
    classes = 10 if family == "cvae" else 0
    torch.manual_seed(3)
    config = ModelConfig(family=family, latent_dim=3, hidden=(16,), num_classes=classes,
                         label_names=tuple(str(k) for k in range(classes)), options=options)
    return build_model(config).eval()


@pytest.mark.parametrize("spec", ["gaussian:0.4", "saltpepper:0.15", "mask:0.6"])
def test_the_numbers_are_those_of_the_validation_measure_for_one_image(mnist, spec):
    model, image = tiny(), mnist.images[4]
    kind, level = spec.split(":")
    r = denoise_image(model, image, NoiseSpec(kind, float(level)), seed=7)
    expected = denoising_psnr(model, image[None], None, spec, seed=7)
    assert r.psnr_noisy == pytest.approx(expected["psnr_noisy"], abs=1e-4)
    assert r.psnr_denoised == pytest.approx(expected["psnr"], abs=1e-4)
    np.testing.assert_array_equal(r.clean, image.numpy())
    with torch.no_grad():
        np.testing.assert_allclose(r.denoised, model.reconstruct(torch.as_tensor(r.noisy)[None])[0].numpy(),
                                   atol=1e-6)
    np.testing.assert_allclose(np.stack([r.z_clean, r.z_noisy]),
                               inference.encode(model, np.stack([r.clean, r.noisy])), atol=1e-6)


def test_one_seed_is_one_pattern_at_every_level(mnist):
    model, image = tiny(), mnist.images[0]
    weak = denoise_image(model, image, NoiseSpec("saltpepper", 0.1), seed=2)
    strong = denoise_image(model, image, NoiseSpec("saltpepper", 0.4), seed=2)
    hit_weak = np.any(weak.noisy != weak.clean, axis=0)
    hit_strong = np.any(strong.noisy != strong.clean, axis=0)
    # Every pixel the weak noise changed, the strong noise changed the same way.
    assert hit_weak.any() and np.all(hit_strong[hit_weak])
    np.testing.assert_array_equal(strong.noisy[:, hit_weak], weak.noisy[:, hit_weak])
    assert hit_strong.sum() > 2 * hit_weak.sum()
    again = denoise_image(model, image, NoiseSpec("saltpepper", 0.1), seed=2)
    np.testing.assert_array_equal(again.noisy, weak.noisy)
    other = denoise_image(model, image, NoiseSpec("saltpepper", 0.1), seed=3)
    assert not np.array_equal(other.noisy, weak.noisy)


def test_a_conditional_model_uses_the_class_given(mnist):
    model, image, label = tiny("cvae"), mnist.images[5], int(mnist.labels[5])
    r = denoise_image(model, image, NoiseSpec("gaussian", 0.5), label=label)
    expected = denoising_psnr(model, image[None], mnist.labels[5:6], "gaussian:0.5")
    assert r.psnr_denoised == pytest.approx(expected["psnr"], abs=1e-4)
    other = denoise_image(model, image, NoiseSpec("gaussian", 0.5), label=(label + 1) % 10)
    assert not np.allclose(other.denoised, r.denoised)
    with pytest.raises(LatentLabError, match="needs a class"):
        denoise_image(model, image, NoiseSpec("gaussian", 0.5))


def test_models_without_an_encoder_or_images_and_wrong_shapes_are_refused(mnist):
    gan = build_model(ModelConfig(family="gan", latent_dim=2, hidden=(16,)))
    reason = unusable_reason(gan.config)
    assert reason is not None and "encoder" in reason and "GAN" in reason
    with pytest.raises(LatentLabError, match="encoder"):
        denoise_image(gan, mnist.images[0], NoiseSpec("gaussian", 0.5))
    seq = ModelConfig(family="seq-vae", input_shape=(16, 3), feature_names=("x", "y", "pen"), latent_dim=2,
                      hidden=(16,))
    assert "sequence" in unusable_reason(seq)
    assert unusable_reason(tiny().config) is None
    with pytest.raises(LatentLabError, match=r"shape \(1, 28, 28\)"):
        denoise_image(tiny(), torch.zeros(1, 14, 14), NoiseSpec("gaussian", 0.5))


def test_the_training_note_names_the_noise_or_says_there_was_none():
    assert training_note(tiny().config) == NOT_TRAINED_NOTE
    note = training_note(tiny("ae", denoise="mask:0.3").config)
    assert "mask:0.3" in note and "trained to denoise" in note
