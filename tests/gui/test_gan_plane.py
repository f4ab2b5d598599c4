"""A GAN on the latent plane: its data placed by inverting the generator in the background (with
progress, cancelled by a newer request), dots shaded by how well the generator reproduces them,
the discriminator's realness under the dots, and the probe decoding G(z)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from PySide6.QtGui import QColor, QImage, QPainter

from latentlab.core import inference, inversion
from latentlab.core.models import ModelConfig, build_model
from latentlab.gui import placement
from latentlab.gui.manifold import view_grid_codes
from latentlab.gui.views.plane_heatmap import MIN_OPACITY, error_opacities
from latentlab.gui.views.plane_items import PointCloud
from tests.gui.controller_support import (drag, expected_decode, set_model_and_wait, show_region,
                                          tiny_model, to_px, training_settings, wait_for_codes)


def tiny_gan(latent_dim: int = 2, seed: int = 3):
    config = ModelConfig(family="gan", latent_dim=latent_dim, hidden=(16,))
    torch.manual_seed(seed)
    return build_model(config).eval()


def record_status(window) -> list[str]:
    """Every passing status message the window is asked to show, in order."""
    said: list[str] = []
    shown = window.show_status

    def show(text: str, *args) -> None:
        said.append(text)
        shown(text, *args)

    window.show_status = show
    return said


def test_a_gan_is_placed_by_inversion_with_progress_and_shaded_dots(qtbot, opened):
    window, c = opened()
    said = record_status(window)
    set_model_and_wait(qtbot, c, tiny_gan())
    scene = c.scene
    # The codes and errors are the inversion's (the same computation, done here in the test).
    codes, errors = inference.encode_dataset_with_errors(c.model, c.data)
    np.testing.assert_allclose(scene.codes, codes, atol=1e-4)
    np.testing.assert_allclose(scene.errors, errors, atol=1e-5)
    assert errors.max() > errors.min()
    # Progress reached the status bar, in order, up to done; then what was placed.
    percents = [int(t.rsplit(" ", 1)[1].rstrip("%")) for t in said if t.startswith(placement.PLACING_TEXT)]
    assert percents and percents == sorted(percents) and percents[-1] == 100
    assert any(t.startswith(f"Placed {len(codes)} items by inverting") for t in said)
    # Each dot's strength follows its error: the best reproduced full, the worst faint.
    alpha = window.plane.point_opacities()
    order = np.argsort(scene.errors, kind="stable")
    assert np.all(np.diff(alpha[order]) <= 1e-12)
    assert alpha[order[0]] == 1.0 and alpha[order[-1]] == pytest.approx(MIN_OPACITY)
    note = window.plane.legend_notes()["errors"].replace("<br>", " ")
    assert note == "faint = the generator cannot reproduce it well"
    # Hiding a class keeps every other dot's shade; hover still finds a shown dot.
    window.plane.set_class_visible(int(scene.labels[0]), False)
    window.plane.set_class_visible(int(scene.labels[0]), True)
    np.testing.assert_array_equal(window.plane.point_opacities(), alpha)
    x, y = scene.xy[0]
    hovered = window.plane.point_at(float(x), float(y))
    assert hovered >= 0
    assert scene.item_text(hovered).endswith(f" · generator error {scene.errors[hovered]:.3f}")
    # A model with an encoder: no errors, full-strength dots, no note.
    set_model_and_wait(qtbot, c, tiny_model())
    assert c.scene.errors is None
    assert np.all(window.plane.point_opacities() == 1.0)
    assert "errors" not in window.plane.legend_notes()


def test_a_gan_with_a_16_dimensional_latent_is_placed_from_its_regressor(qtbot, opened):
    window, c = opened(items=120)
    gan = tiny_gan(16)
    assert int(gan.regressor_steps) == 0
    c.set_model(gan)
    wait_for_codes(qtbot, c, timeout=60000)
    scene = c.scene
    assert scene.codes.shape == (120, 16) and scene.errors.shape == (120,)
    assert scene.plane_kind == "pca" and window.plane.point_count() == 120
    # The regressor the background job topped up is the GUI copy's now (and would be saved).
    assert int(c.model.regressor_steps) >= inversion.REGRESSOR_MIN_STEPS
    expected = inversion.invert(c.model, c.data.images)
    np.testing.assert_allclose(scene.errors, expected.errors, atol=1e-5)
    assert np.all(np.diff(window.plane.point_opacities()[np.argsort(scene.errors)]) <= 1e-12)


def test_a_newer_request_stops_a_running_inversion(qtbot, opened, monkeypatch):
    window, c = opened(items=600)   # several chunks: the stop is seen between them
    results: list[object] = []
    real_invert = inversion.invert
    switched = threading.Event()

    def invert(*args, progress=None, **kwargs):
        def report(done: int, total: int) -> None:
            progress(done, total)
            if done > 0:
                switched.wait(30)   # the first chunk is done: hold on until the test has switched

        found = real_invert(*args, progress=report, **kwargs)
        results.append(found)
        return found

    monkeypatch.setattr(placement.inversion, "invert", invert)
    said = record_status(window)
    c.set_model(tiny_gan())
    qtbot.waitUntil(lambda: any(t.startswith(placement.PLACING_TEXT) and not t.endswith(" 0%") for t in said),
                    timeout=30000)
    c.set_model(tiny_model())
    switched.set()
    wait_for_codes(qtbot, c)
    qtbot.waitUntil(lambda: len(results) == 1, timeout=30000)
    assert results == [None]   # stopped part way, never finished
    assert c.scene.errors is None and c.scene.codes.shape == (600, 2)
    assert not any(t.endswith("100%") for t in said)
    assert not window.statusBar().currentMessage().startswith(placement.PLACING_TEXT)


def test_realness_heatmap_toggles_and_shows_the_discriminator(qtbot, opened):
    window, c = opened()
    action = window.realness_action
    set_model_and_wait(qtbot, c, tiny_model())
    assert not action.isEnabled()   # a VAE has no discriminator
    torch.manual_seed(0)
    c.set_model(build_model(ModelConfig(family="vae-gan", latent_dim=2, hidden=(16,))).eval())
    assert action.isEnabled()       # a VAE-GAN has one
    set_model_and_wait(qtbot, c, tiny_gan())
    assert action.isEnabled() and not action.isChecked()
    layer = window.plane.realness_layer()
    assert layer.values() is None and not layer.item.isVisible()
    action.trigger()
    qtbot.waitUntil(lambda: layer.values() is not None, timeout=10000)
    values, rect = layer.values(), layer.rect()
    rows, cols = values.shape
    expected = inversion.realness(c.model, view_grid_codes(c.scene.plane, rect, cols, rows)).reshape(rows, cols)
    np.testing.assert_allclose(values, expected, atol=1e-5)
    assert values.max() > values.min()
    assert layer.item.isVisible() and "D(G(z))" in window.plane.legend_notes()["realness"]
    # It covers the visible plane; a small pan keeps it, a far one computes another.
    x0, y0, w, h = window.plane.visible_rect()
    assert rect[0] < x0 and rect[1] < y0 and rect[0] + rect[2] > x0 + w and rect[1] + rect[3] > y0 + h
    vb = window.plane.plotItem.vb
    vb.setRange(xRange=(x0 + 0.05 * w, x0 + 1.05 * w), yRange=(y0, y0 + h), padding=0)
    assert not c.realness.update_map()
    vb.setRange(xRange=(x0 + 3 * w, x0 + 4 * w), yRange=(y0, y0 + h), padding=0)
    assert c.realness.update_map()
    qtbot.waitUntil(lambda: layer.rect() != rect, timeout=10000)
    assert layer.rect()[0] > x0 + 2 * w
    # Off: gone, with its legend line.
    action.trigger()
    assert layer.values() is None and not layer.item.isVisible()
    assert "realness" not in window.plane.legend_notes()


def test_dragging_the_probe_decodes_the_generator_live(qtbot, opened):
    window, c = opened(tiny_gan())
    show_region(window)
    c.release_probe(0.0, 0.0)
    drag(window, [to_px(window, 0.0, 0.0), to_px(window, 0.8, 0.4), to_px(window, 1.5, -1.0)])
    qtbot.waitUntil(lambda: np.allclose(window.decoded.current_image(), expected_decode(c, *c.probe.position),
                                        atol=1e-6), timeout=5000)
    x, y = c.probe.position
    assert abs(x - 1.5) < 0.1 and abs(y + 1.0) < 0.1
    with torch.no_grad():
        g = c.model.decode_image(torch.tensor([[x, y]], dtype=torch.float32))[0, 0].numpy()
    np.testing.assert_allclose(window.decoded.current_image(), g, atol=1e-6)


def test_a_gan_trained_in_the_window_ends_placed_with_errors(qtbot, opened):
    window, c = opened()
    assert c.start_training(training_settings(epochs=2, family="gan", hidden=[16]))
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=60000)
    wait_for_codes(qtbot, c, timeout=30000)
    qtbot.waitUntil(lambda: not c.placing(), timeout=30000)
    codes, errors = inference.encode_dataset_with_errors(c.model, c.data)
    np.testing.assert_allclose(c.scene.errors, errors, atol=1e-5)
    assert np.all(np.diff(window.plane.point_opacities()[np.argsort(errors)]) <= 1e-12)


def test_dot_opacity_reaches_the_painted_pixels(qtbot):
    cloud = PointCloud(size_px=8)
    cloud.set_points(np.array([10.0, 30.0]), np.array([10.0, 10.0]), None, [QColor(255, 255, 255)])
    cloud.set_opacities(error_opacities(np.array([0.1, 0.5])))
    image = QImage(40, 20, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(QColor(0, 0, 0))
    painter = QPainter(image)
    cloud.paint(painter)
    painter.end()
    strong, faint = QColor(image.pixel(10, 10)).red(), QColor(image.pixel(30, 10)).red()
    assert strong > 200 and 0 < faint < strong * (MIN_OPACITY + 0.1)
    with pytest.raises(ValueError):
        cloud.set_opacities(np.array([0.5]))


def test_full_strength_again_is_not_drawn_again_when_nothing_is_shaded(qtbot):
    # Every re-encode of a model that is not a GAN says "no errors": that must not render
    # the dots afresh (a long frame) when none of them was shaded.
    cloud = PointCloud(size_px=8)
    cloud.set_points(np.array([10.0, 30.0]), np.array([10.0, 10.0]), None, [QColor(255, 255, 255)])
    image = QImage(40, 20, QImage.Format.Format_ARGB32_Premultiplied)

    def paint() -> int:
        painter = QPainter(image)
        try:
            cloud.paint(painter)
        finally:
            painter.end()
        return cloud._cache.renders

    first = paint()
    cloud.set_opacities(None)
    assert paint() == first                       # the rendering was reused
    cloud.set_opacities(np.array([0.2, 1.0]))
    assert paint() == first + 1                   # shading draws again
    cloud.set_opacities(None)
    assert paint() == first + 2 and np.all(cloud.opacities() == 1.0)   # and so does unshading


def test_training_snapshots_wait_for_the_running_quick_placement(qtbot, opened, monkeypatch):
    window, c = opened(items=600)
    set_model_and_wait(qtbot, c, tiny_gan())
    calls: list[tuple[int, bool]] = []
    real_invert = inversion.invert

    def invert(*args, **kwargs):
        found = real_invert(*args, **kwargs)
        calls.append((kwargs.get("steps"), found is None))
        return found

    monkeypatch.setattr(placement.inversion, "invert", invert)

    def new_weights(seed: int) -> dict[str, torch.Tensor]:
        torch.manual_seed(seed)
        return {k: v + 0.05 * torch.randn_like(v) if v.is_floating_point() else v.clone()
                for k, v in c.latest_state().items()}

    first, second = new_weights(1), new_weights(2)
    c.training.snapshotReady.emit(first)    # as training does: placed at once, quickly
    assert c.placing()
    c.training.snapshotReady.emit(second)   # arrives while that placement runs: it waits
    c._encode_soon.flush()                   # (not for the throttle's interval, but for the placement)
    assert c.placing()
    qtbot.waitUntil(lambda: len(calls) == 2 and not c.placing(), timeout=30000)
    # Neither was stopped; both were quick; the second placed the newest weights.
    assert calls == [(placement.TRAINING_STEPS, False)] * 2
    model = inference.model_from_state(c.model.config, second)
    expected = real_invert(model, c.data.images, steps=placement.TRAINING_STEPS)
    np.testing.assert_allclose(c.scene.errors, expected.errors, atol=1e-5)
