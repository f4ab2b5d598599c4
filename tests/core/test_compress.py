"""A model as an image codec: quantisation, PSNR and SSIM, JPEG/WebP matching, the report."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from latentlab.core.compress import (
    code_bytes,
    codec_bytes,
    codec_match,
    compression_report,
    dequantise,
    parse_bits,
    psnr,
    quantise,
    ssim,
)
from latentlab.core.errors import LatentLabError
from latentlab.core.models import ModelConfig, build_model


def test_quantise_round_trip_error_is_at_most_half_a_step() -> None:
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(50, 4)) * np.array([1.0, 3.0, 0.1, 10.0])
    for bits in (1, 4, 8, 16):
        levels, low, high = quantise(codes, bits)
        assert levels.max() <= 2**bits - 1 and levels.min() == 0
        back = dequantise(levels, bits, low, high)
        step = (high - low) / (2**bits - 1)
        assert np.all(np.abs(back - codes) <= step / 2 + 1e-5 * (1 + np.abs(codes)))
    np.testing.assert_array_equal(low, codes.min(0))


def test_quantise_clips_to_a_given_range_and_keeps_a_constant_dimension() -> None:
    codes = np.array([[0.0, 5.0], [2.0, 5.0], [9.0, 5.0]])
    levels, low, high = quantise(codes, 2, low=np.array([0.0, 5.0]), high=np.array([3.0, 5.0]))
    assert levels[:, 0].tolist() == [0, 2, 3]
    np.testing.assert_allclose(dequantise(levels, 2, low, high)[:, 1], 5.0)


@pytest.mark.parametrize("bad", [0, 17, -1, "x", "0", "17", True])
def test_bits_outside_1_to_16_are_refused(bad) -> None:
    with pytest.raises(LatentLabError, match="1 to 16"):
        parse_bits(bad)


def test_bits_and_bytes() -> None:
    assert parse_bits("float16") == "float16" and parse_bits("8") == 8
    assert code_bytes(32, 8) == 32 and code_bytes(32, "float16") == 64 and code_bytes(3, 3) == 2
    assert code_bytes(32, 8, num_classes=10) == 33  # 256 + 4 label bits


def test_psnr_and_ssim_of_identical_images() -> None:
    x = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    assert np.all(np.isinf(psnr(x, x)))
    np.testing.assert_allclose(ssim(x, x), 1.0, atol=1e-12)


def test_psnr_of_known_noise() -> None:
    x = torch.full((2, 1, 10, 10), 0.5)
    noisy = x + 0.1 * torch.where(torch.arange(100).reshape(1, 1, 10, 10) % 2 == 0, 1.0, -1.0)
    np.testing.assert_allclose(psnr(x, noisy), 20.0, atol=1e-9)  # MSE 0.01 → 20 dB


def test_ssim_matches_the_formula_on_a_constant_shift() -> None:
    # Constant images: variances are 0, so SSIM = (2 m1 m2 + C1) / (m1² + m2² + C1).
    a, b = torch.full((1, 1, 12, 12), 0.2), torch.full((1, 1, 12, 12), 0.6)
    c1 = 0.01**2
    expected = (2 * 0.2 * 0.6 + c1) / (0.2**2 + 0.6**2 + c1)
    np.testing.assert_allclose(ssim(a, b), expected, rtol=1e-6)  # float32 inputs
    noisy = a + 0.3 * torch.rand(1, 1, 12, 12, generator=torch.Generator().manual_seed(1))
    assert 0 < ssim(a + 0.15, noisy)[0] < 1


def test_codec_match_fits_the_target_or_takes_the_smallest() -> None:
    img = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(2)).numpy()
    for codec in ("jpeg", "webp"):
        big = codec_bytes(img, codec, 90)
        _, size, quality = codec_match(img, codec, big)
        assert size <= big and quality >= 85
        _, tiny, q_low = codec_match(img, codec, 10)  # below any file these codecs make
        assert tiny == codec_bytes(img, codec, q_low) and q_low == (1 if codec == "jpeg" else 0)
        assert tiny > 10


def test_report_keys_and_honest_sizes() -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(family="ae", input_shape=(1, 28, 28), latent_dim=4, hidden=(16,))).eval()
    images = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    seen = []
    report = compression_report(model, images, bits=4, curve_bits=(2, "float16"), qualities=(10, 50),
                                progress=lambda d, t: seen.append((d, t)))
    assert report is not None and seen[-1][0] == seen[-1][1]
    assert report["model"]["bytes_per_image"] == 2 and report["model"]["bits"] == 4
    assert len(report["model"]["range_low"]) == 4
    for codec in ("jpeg", "webp"):
        assert report[codec]["target_bytes"] == 2 and report[codec]["bytes_per_image"] > 2
        assert report[codec]["fits_target"] == 0.0
    assert [p["codec"] for p in report["curve"]] == ["model", "model", "jpeg", "jpeg", "webp", "webp"]
    assert report["curve"][1]["bytes_per_image"] == 8
    assert report["model_unquantised"]["bytes_per_image"] == 16  # 4 float32 values
    assert all(math.isfinite(p["psnr"]) and -1 <= p["ssim"] <= 1 for p in report["curve"])
    assert compression_report(model, images, should_stop=lambda: True) is None


def test_a_conditional_model_needs_labels() -> None:
    model = build_model(ModelConfig(family="cvae", input_shape=(1, 8, 8), latent_dim=2, hidden=(8,),
                                    num_classes=2)).eval()
    with pytest.raises(LatentLabError, match="labels"):
        compression_report(model, torch.rand(2, 1, 8, 8))
