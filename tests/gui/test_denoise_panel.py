"""The denoise panel in the window: clean / noisy / denoised with PSNR for the selected item or
the probe's decode, the level slider, the arrow on the plane, and models it cannot serve."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentlab.core import inference
from latentlab.core.compress import psnr
from latentlab.core.denoising import NOT_TRAINED_NOTE
from latentlab.core.metrics import denoising_psnr
from latentlab.core.models import ModelConfig, build_model
from latentlab.core.models.denoise import NoiseSpec, corrupt
from tests.gui.controller_support import set_model_and_wait, tiny_model, wait_for_codes
from tests.toy_sequence import toy_families, toy_model

ITEMS = 120


def show_panel(qtbot, window):
    """Raise the Denoise tab, as a person clicking it; the panel works while it shows."""
    window.docks["denoise"].raise_()
    qtbot.waitUntil(lambda: window.denoise.tool.active, timeout=3000)
    return window.denoise


def wait_for(qtbot, panel, check) -> None:
    qtbot.waitUntil(lambda: panel.tool.result is not None and check(panel.tool.result), timeout=3000)


def set_level(qtbot, panel, level: float) -> None:
    panel.level_slider.setValue(level)
    wait_for(qtbot, panel, lambda r: r.spec.level == level)


def test_the_three_images_and_their_psnr_follow_the_level(qtbot, opened):
    window, c = opened(tiny_model(), items=ITEMS)
    panel = show_panel(qtbot, window)
    c.select_point(7)
    wait_for(qtbot, panel, lambda r: True)
    item = c.data.images[7]
    np.testing.assert_array_equal(panel.tool.result.clean, item.numpy())
    np.testing.assert_array_equal(panel.clean_view.current_image(), item[0].numpy())
    assert "Data item 7" in panel.image_label.text()
    assert panel.note_label.text() == NOT_TRAINED_NOTE   # a plain VAE
    shown = {}
    for level in (0.2, 0.9):
        set_level(qtbot, panel, level)
        r = panel.tool.result
        # The noise and the numbers are those core measures for this image with this seed.
        expected = denoising_psnr(c.model, item[None], None, f"gaussian:{level}", seed=panel.tool.seed)
        assert r.psnr_noisy == pytest.approx(expected["psnr_noisy"], abs=1e-4)
        assert r.psnr_denoised == pytest.approx(expected["psnr"], abs=1e-4)
        noisy = corrupt(item[None], NoiseSpec("gaussian", level), fixed=True,
                        generator=torch.Generator().manual_seed(panel.tool.seed))
        np.testing.assert_array_equal(panel.noisy_view.current_image(), noisy[0, 0].numpy())
        with torch.no_grad():
            denoised = c.model.reconstruct(noisy)[0, 0].numpy()
        np.testing.assert_allclose(panel.denoised_view.current_image(), denoised, atol=1e-6)
        noisy_title, denoised_title = panel.psnr_texts()
        assert noisy_title == f"Noisy\nPSNR {r.psnr_noisy:.2f} dB"
        assert denoised_title == f"Denoised\nPSNR {r.psnr_denoised:.2f} dB"
        shown[level] = r
    assert shown[0.9].psnr_noisy < shown[0.2].psnr_noisy
    # The same pattern, stronger: where neither image was clipped, the noise is 4.5 times larger.
    clean = shown[0.2].clean
    low, high = shown[0.2].noisy - clean, shown[0.9].noisy - clean
    free = (shown[0.9].noisy > 0) & (shown[0.9].noisy < 1) & (shown[0.2].noisy > 0) & (shown[0.2].noisy < 1)
    assert free.sum() > 50
    np.testing.assert_allclose(high[free], 4.5 * low[free], atol=1e-5)
    # New noise: another pattern at the same level.
    panel.new_noise_button.click()
    wait_for(qtbot, panel, lambda r: r.seed == 1)
    assert panel.tool.result.spec.level == 0.9
    assert not np.array_equal(panel.tool.result.noisy, shown[0.9].noisy)


def test_the_arrow_joins_the_codes_of_the_clean_and_the_noisy_image(qtbot, opened):
    window, c = opened(tiny_model(), items=ITEMS)
    arrow = window.plane.noise_arrow()
    c.select_point(3)
    assert not arrow.line.isVisible()   # the panel is not on screen
    panel = show_panel(qtbot, window)
    set_level(qtbot, panel, 0.7)
    r = panel.tool.result
    codes = inference.encode(c.model, np.stack([r.clean, r.noisy]))
    expected = c.scene.plane.project(torch.as_tensor(codes)).numpy()
    assert arrow.line.isVisible() and arrow.head.isVisible()
    xs, ys = arrow.line.getData()
    np.testing.assert_allclose(np.stack([xs, ys], axis=1), expected, atol=1e-5)
    # The clean item's code is its dot on the plane.
    np.testing.assert_allclose(expected[0], c.scene.xy[3], atol=1e-5)
    # Another level moves the head, not the tail.
    set_level(qtbot, panel, 0.3)
    xs2, ys2 = arrow.line.getData()
    assert (xs2[0], ys2[0]) == pytest.approx((xs[0], ys[0]))
    assert (xs2[1], ys2[1]) != pytest.approx((xs[1], ys[1]))
    # Hidden with its tab: no arrow.
    window.loss_dock.raise_()
    qtbot.waitUntil(lambda: not panel.tool.active, timeout=3000)
    assert not arrow.line.isVisible()
    show_panel(qtbot, window)
    qtbot.waitUntil(arrow.line.isVisible, timeout=3000)
    # Another model: the old arrow goes at once; the new one comes with the new model's codes.
    c.set_model(tiny_model(seed=5))
    assert not arrow.line.isVisible()
    wait_for_codes(qtbot, c)
    qtbot.waitUntil(arrow.line.isVisible, timeout=3000)
    r = panel.tool.result
    codes = inference.encode(c.model, np.stack([r.clean, r.noisy]))
    xs, ys = arrow.line.getData()
    np.testing.assert_allclose(np.stack([xs, ys], axis=1), c.scene.plane.project(torch.as_tensor(codes)).numpy(),
                               atol=1e-5)


def test_the_probe_decode_as_the_image(qtbot, opened):
    window, c = opened(tiny_model(), items=ITEMS)
    panel = show_panel(qtbot, window)
    assert "Select a data point" in panel.hint.text()
    panel.source_combo.setCurrentIndex(panel.source_combo.findData("probe"))
    c.release_probe(0.4, -0.3)
    wait_for(qtbot, panel, lambda r: True)
    expected = inference.decode(c.model, c.probe.z)[0].numpy()
    qtbot.waitUntil(lambda: np.array_equal(panel.tool.result.clean, expected), timeout=3000)
    c.release_probe(-1.0, 0.5)
    expected2 = inference.decode(c.model, c.probe.z)[0].numpy()
    qtbot.waitUntil(lambda: np.array_equal(panel.tool.result.clean, expected2), timeout=3000)
    r = panel.tool.result
    assert r.psnr_noisy == pytest.approx(float(psnr(r.noisy, r.clean)[0]))


def test_a_denoising_model_starts_from_its_training_noise(qtbot, opened):
    config = ModelConfig(family="ae", latent_dim=2, hidden=(16,), options={"denoise": "saltpepper:0.3"})
    torch.manual_seed(0)
    window, c = opened(build_model(config).eval(), items=ITEMS)
    panel = show_panel(qtbot, window)
    assert panel.kind_combo.currentData() == "saltpepper"
    assert panel.level_slider.value() == pytest.approx(0.3)
    assert "trained to denoise saltpepper:0.3" in panel.note_label.text()
    c.select_point(0)
    wait_for(qtbot, panel, lambda r: r.spec == NoiseSpec("saltpepper", 0.3))
    item = c.data.images[0]
    expected = denoising_psnr(c.model, item[None], None, "saltpepper:0.3", seed=0)
    assert panel.tool.result.psnr_denoised == pytest.approx(expected["psnr"], abs=1e-4)
    # Masking: the level becomes that kind's usual one and the noise only darkens pixels.
    panel.kind_combo.setCurrentIndex(panel.kind_combo.findData("mask"))
    wait_for(qtbot, panel, lambda r: r.spec.kind == "mask")
    r = panel.tool.result
    assert r.spec.level == pytest.approx(panel.level_slider.value())
    assert np.all(r.noisy <= r.clean) and np.any(r.noisy < r.clean)


def test_a_conditional_model_cleans_an_item_under_its_own_class(qtbot, opened):
    window, c = opened(tiny_model(family="cvae"), items=ITEMS)
    panel = show_panel(qtbot, window)
    c.select_point(11)
    wait_for(qtbot, panel, lambda r: True)
    item, label = c.data.images[11], c.data.labels[11]
    expected = denoising_psnr(c.model, item[None], label[None], "gaussian:0.5", seed=0)
    assert panel.tool.result.psnr_denoised == pytest.approx(expected["psnr"], abs=1e-4)
    assert f"class {int(label)}" in panel.image_label.text()


def test_models_it_cannot_serve_disable_it_and_say_why(qtbot, opened):
    gan = build_model(ModelConfig(family="gan", latent_dim=2, hidden=(16,))).eval()
    window, c = opened(items=None)   # no data: nothing to place by inverting the generator
    panel = show_panel(qtbot, window)
    c.set_model(gan)
    qtbot.waitUntil(lambda: "encoder" in panel.hint.text(), timeout=3000)
    assert "GAN" in panel.hint.text()
    assert not panel.level_slider.isEnabled() and not panel.new_noise_button.isEnabled()
    assert panel.tool.result is None and panel.noisy_view.current_image() is None
    assert not window.plane.noise_arrow().line.isVisible()
    with toy_families():
        c.set_model(toy_model("toy-strokes"))
        qtbot.waitUntil(lambda: "sequence" in panel.hint.text(), timeout=3000)
        assert "images" in panel.hint.text()
        assert not panel.source_combo.isEnabled()
        # An image model again: the panel works again.
        c.set_model(tiny_model())
        qtbot.waitUntil(lambda: panel.level_slider.isEnabled(), timeout=3000)
        assert "encoder" not in panel.hint.text()


def test_the_data_browser_and_new_weights_reach_the_panel(qtbot, opened):
    window, c = opened(tiny_model(), items=ITEMS)
    panel = show_panel(qtbot, window)
    window.browser.showRequested.emit(9)   # "Show" in the Data tab selects the item
    wait_for(qtbot, panel, lambda r: np.array_equal(r.clean, c.data.images[9].numpy()))
    before = panel.tool.result.denoised
    # A training snapshot: the same image is cleaned by the new weights.
    other = tiny_model(seed=9)
    c.training.snapshotReady.emit({k: v.detach().clone() for k, v in other.state_dict().items()})
    qtbot.waitUntil(lambda: not np.allclose(panel.tool.result.denoised, before), timeout=3000)
    r = panel.tool.result
    with torch.no_grad():
        expected = other.reconstruct(torch.as_tensor(r.noisy)[None])[0].numpy()
    np.testing.assert_allclose(r.denoised, expected, atol=1e-6)
