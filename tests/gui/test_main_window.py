"""The main window driven like a user would: mouse on the plane, menus, combos, buttons."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtWidgets import QLabel, QMessageBox

from latentlab.core.models import ModelConfig, build_model
from latentlab.gui import settings as prefs
from latentlab.gui.window.main_window import READY_HINT, MainWindow
from tests.gui.controller_support import (
    LEFT, N_ITEMS, NONE, drag, expected_decode, send, set_model_and_wait, show_region, tiny_model,
    to_px,
)


def test_dragging_the_probe_decodes_where_it_is_released(qtbot, opened):
    window, c = opened(tiny_model())
    show_region(window)
    c.release_probe(0.0, 0.0)
    start_image = window.decoded.current_image()
    start = to_px(window, 0.0, 0.0)
    path = [start + QPoint(dx, dy) for dx, dy in ((0, 0), (15, -5), (40, -30), (90, -60), (120, -80))]
    drag(window, path)
    x, y = window.plane.probe_position()
    assert x > 0.5 and y > 0.5   # the probe followed the mouse up and to the right
    assert c.probe.position == pytest.approx((x, y))
    np.testing.assert_allclose(window.decoded.current_image(), expected_decode(c, x, y), atol=1e-6)
    assert not np.allclose(window.decoded.current_image(), start_image)
    np.testing.assert_allclose(window.zbars.z(), [x, y], atol=1e-5)


def frame_open(controller) -> bool:
    """Whether the decoder's frame is still running (superqt's throttler keeps its timer private)."""
    return controller.decoder._throttled._timer.isActive()


def test_drag_decodes_at_once_then_at_most_once_per_frame(qtbot, opened):
    window, c = opened(tiny_model())
    show_region(window)
    c.release_probe(0.0, 0.0)
    qtbot.waitUntil(lambda: not frame_open(c), timeout=2000)   # the next move is a leading edge
    decoded: list[tuple[float, float]] = []
    c.decoder.decoded.connect(lambda d: decoded.append(d.probe.position))
    start = to_px(window, 0.0, 0.0)
    moves = [start + QPoint(3 * k, -2 * k) for k in range(40)]
    send(window, QEvent.Type.MouseMove, moves[0], NONE, NONE)
    send(window, QEvent.Type.MouseButtonPress, moves[0], LEFT, LEFT)
    for pos in moves[1:]:
        send(window, QEvent.Type.MouseMove, pos, NONE, LEFT)
    # Forty moves delivered back to back: the first decoded at once, the rest wait for the frame.
    assert len(decoded) == 1 and decoded[0] != pytest.approx((0.0, 0.0))
    qtbot.waitUntil(lambda: len(decoded) == 2, timeout=2000)
    assert decoded[1] == pytest.approx(window.plane.probe_position())   # the last position won
    qtbot.waitUntil(lambda: not frame_open(c), timeout=2000)
    assert len(decoded) == 2   # nothing more to decode
    send(window, QEvent.Type.MouseButtonRelease, moves[-1], LEFT, NONE)
    # The release decodes at once, where the probe was let go.
    assert len(decoded) >= 3 and decoded[-1] == pytest.approx(window.plane.probe_position())


def test_click_on_an_empty_spot_moves_the_probe_and_decodes(qtbot, opened):
    window, c = opened(tiny_model())
    show_region(window, half=20.0)   # codes of an untrained model sit near 0: the corner is empty
    c.release_probe(0.0, 0.0)
    before = window.decoded.current_image()
    drag(window, [to_px(window, 15.0, -12.0)])
    x, y = window.plane.probe_position()
    assert x == pytest.approx(15.0, abs=0.3) and y == pytest.approx(-12.0, abs=0.3)
    np.testing.assert_allclose(window.decoded.current_image(), expected_decode(c, x, y), atol=1e-6)
    assert not np.allclose(window.decoded.current_image(), before)


def test_clicking_a_point_selects_it_and_decodes_its_code(qtbot, opened):
    window, c = opened(tiny_model())
    xy = c.scene.xy
    show_region(window, half=float(np.abs(xy).max()) * 1.2)
    index = int(np.argmax(np.linalg.norm(xy - xy.mean(axis=0), axis=1)))  # an outlier: alone
    drag(window, [to_px(window, *xy[index])])
    assert c.scene.anchors[-1] == index and window.plane.selected() == index
    np.testing.assert_allclose(window.plane.probe_position(), xy[index], atol=1e-5)
    np.testing.assert_allclose(window.decoded.current_image(), expected_decode(c, *xy[index]), atol=1e-6)


def test_bad_model_file_shows_an_error_and_the_app_keeps_working(qtbot, opened, tmp_path):
    window, c = opened(tiny_model())
    bad = tmp_path / "broken-model"
    bad.mkdir()
    (bad / "config.json").write_text("{}")
    window.openModelRequested.emit(str(bad))
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "errorDialog") is not None, timeout=2000)
    box = window.findChild(QMessageBox, "errorDialog")
    assert "broken-model" in box.text()
    box.accept()
    assert prefs.recent_models() == []   # a failed open is not remembered
    c.release_probe(1.0, 1.0)
    np.testing.assert_allclose(window.decoded.current_image(), expected_decode(c, 1.0, 1.0), atol=1e-6)


def test_condition_selector_switches_the_class_under_the_same_z(qtbot, opened):
    window, c = opened(tiny_model(family="cvae"))
    combo = window.findChild(type(window.side.condition), "conditionSelector")
    assert combo.isVisible() and combo.count() == 10
    c.release_probe(0.5, -0.5)
    combo.setCurrentIndex(0)
    zero = window.decoded.current_image()
    combo.setCurrentIndex(8)
    assert c.probe.condition == 8
    eight = window.decoded.current_image()
    np.testing.assert_allclose(eight, expected_decode(c, 0.5, -0.5), atol=1e-6)
    assert not np.allclose(zero, eight)
    np.testing.assert_allclose(window.zbars.z(), [0.5, -0.5], atol=1e-6)
    assert "class 8" in window.decoded.caption()


def test_plane_chooser_changes_the_projection(qtbot, opened):
    window, c = opened(tiny_model(latent_dim=4))
    side = window.side
    assert side.plane_kind.isVisible() and not window.findChild(type(side.condition), "conditionSelector").isVisible()
    pca_xy = c.scene.xy
    side.plane_kind.setCurrentIndex(side.plane_kind.findData("dims"))
    side.dim_x.setValue(2)
    side.dim_y.setValue(3)
    scene = c.scene
    np.testing.assert_allclose(scene.xy, scene.codes[:, [2, 3]], atol=1e-6)
    shown_x, shown_y = window.plane._points.getData()
    np.testing.assert_allclose(np.c_[shown_x, shown_y], scene.codes[:, [2, 3]], atol=1e-5)
    assert not np.allclose(pca_xy, scene.xy)
    assert window.zbars.highlight() == (2, 3)
    assert window.plane.plotItem.getAxis("bottom").labelText == "z₂"


def test_a_plane_that_cannot_be_made_falls_back_and_the_chooser_says_so(qtbot, opened, monkeypatch):
    window, c = opened(tiny_model(latent_dim=3))
    monkeypatch.setattr(window, "show_error", lambda *_a: None)
    side = window.side
    side.plane_kind.setCurrentIndex(side.plane_kind.findData("points"))   # nothing selected yet
    assert c.scene.plane_kind == "pca" and side.plane_kind.currentData() == "pca"


def test_choosing_two_dimensions_does_not_widen_the_side_panel(qtbot, opened):
    window, c = opened(tiny_model(latent_dim=8), size=(1024, 700))
    qtbot.wait(20)
    before = window.splitter.sizes()
    side = window.side
    side.plane_kind.setCurrentIndex(side.plane_kind.findData("dims"))
    qtbot.wait(20)
    assert side.dim_x.isVisible()
    assert window.splitter.sizes() == before


def test_manifold_draws_decoded_tiles_over_the_visible_region(qtbot, opened):
    window, c = opened(tiny_model())
    show_region(window, half=2.0)
    window.manifold_action.trigger()
    assert window.manifold_action.isChecked()
    qtbot.waitUntil(lambda: window.plane.mosaic_item().isVisible(), timeout=5000)
    x0, y0, w, h = c.manifold.last_rect
    assert (x0, y0, w, h) == pytest.approx(window.plane.visible_rect())
    mosaic = window.plane.mosaic_item().image
    assert mosaic.shape[0] % 28 == 0 and mosaic.shape[1] % 28 == 0
    window.manifold_action.trigger()
    assert not window.plane.mosaic_item().isVisible()


def test_layout_is_remembered(qtbot, opened):
    window, _ = opened()
    window.loss_dock.hide()
    window.close()
    again, _ = opened()
    assert again.loss_dock.isHidden()


def _small_training(window: MainWindow, epochs: int) -> None:
    panel = window.training_panel
    panel.epochs_spin.setValue(epochs)
    panel.batch_spin.setValue(32)
    panel.latent_spin.setValue(2)


def test_training_from_the_panel_updates_scatter_and_loss_curves(qtbot, opened):
    window, c = opened()
    _small_training(window, epochs=2)
    button = window.findChild(type(window.training_panel.start_button), "startTrainingButton")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert window.training_panel.state() == "running"
    qtbot.waitUntil(lambda: window.training_panel.state() == "idle", timeout=60000)
    assert c.run.message.startswith("Training finished")
    assert window.training_panel.status.text().startswith("Finished all 2 epochs.")
    assert "ETA" not in window.training_panel.progress_text()
    assert c.training.worker is None   # the worker finished and was let go
    x_train, y_train = window.loss_plot.series("train/loss")
    x_val, _ = window.loss_plot.series("val/loss")
    assert len(x_train) >= 2 and np.all(np.isfinite(y_train))
    np.testing.assert_allclose(x_val, [1.0, 2.0])
    # The scatter shows the trained model's codes.
    with torch.no_grad():
        mu, _ = c.model.encode(c.data.images)
    qtbot.waitUntil(lambda: c.scene.xy is not None and np.allclose(c.scene.xy, mu.numpy(), atol=1e-4),
                    timeout=10000)
    shown_x, shown_y = window.plane._points.getData()
    np.testing.assert_allclose(np.c_[shown_x, shown_y], mu.numpy(), atol=1e-4)
    # The probe shows the trained decoder.
    x, y = window.plane.probe_position()
    np.testing.assert_allclose(window.decoded.current_image(), expected_decode(c, x, y), atol=1e-6)
    assert "unsaved" in window.windowTitle()


def test_stop_button_ends_training_and_returns_to_idle(qtbot, opened):
    window, c = opened()
    _small_training(window, epochs=200)
    qtbot.mouseClick(window.training_panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: c.run.progress is not None, timeout=30000)
    assert not window.open_action.isEnabled()
    qtbot.mouseClick(window.training_panel.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.training_panel.state() == "idle", timeout=30000)
    assert c.run.message.startswith("Training cancelled")
    # A stop is not a failure: the panel says the model is kept, and gives no time left.
    status = window.training_panel.status.text()
    assert status.startswith("Stopped at epoch ") and "of 200 — the model trained so far is kept" in status
    assert "ETA" not in window.training_panel.progress_text()
    assert window.open_action.isEnabled()


def test_manifold_over_the_prior_tiles_equal_probability_steps(qtbot, opened):
    window, c = opened(tiny_model())
    window.prior_action.trigger()
    assert window.manifold_action.isChecked()
    qtbot.waitUntil(lambda: c.manifold.last_rect is not None and window.plane.mosaic_item().isVisible(),
                    timeout=5000)
    x0, y0, w, h = c.manifold.last_rect
    # n cells centred on the prior's 1/2n ... (2n-1)/2n quantiles: symmetric about 0.
    assert x0 == pytest.approx(-(x0 + w)) and y0 == pytest.approx(-(y0 + h))
    rows, cols = window.plane.mosaic_item().image.shape[:2]
    n = rows // 28
    assert rows == cols == n * 28 and n >= 2
    # The grid is framed and sized so each cell is readable on screen (at least 36 px).
    assert w / n * window.plane.pixels_per_unit() >= 36 - 1e-6


def test_opened_models_are_listed_under_recent_models(qtbot, opened, tmp_path):
    from latentlab.core.checkpoint import save_model

    window, c = opened()
    folder = tmp_path / "recent-one"
    save_model(folder, tiny_model())
    window.openModelRequested.emit(str(folder))
    assert c.model_path == str(folder)
    assert "recent-one" in window.windowTitle()
    titles = [a.text() for a in window.recent_menu.actions()]
    assert titles == ["recent-one"]
    assert prefs.recent_models() == [str(folder)]


def test_status_bar_shows_the_hint_when_ready_and_drops_stale_hover_text(qtbot, opened):
    window, c = opened(tiny_model())
    assert window.hint() == READY_HINT and window.hint_label.isVisible()
    assert "Loading" not in window.statusBar().currentMessage()
    window.plane.pointHovered.emit(3)
    assert window.statusBar().currentMessage().startswith("item 3")
    window.plane.pointHovered.emit(-1)   # the mouse left the point
    assert window.statusBar().currentMessage() == ""
    assert window.findChild(QLabel, "decodedTitle").text() == "Decoded at the probe"


def test_first_run_opens_at_a_sensible_size(qtbot):
    from PySide6.QtGui import QGuiApplication

    window = MainWindow()   # no saved layout: the private settings folder is empty
    qtbot.addWidget(window)
    area = QGuiApplication.primaryScreen().availableGeometry()
    assert window.width() == min(1400, int(area.width() * 0.9))
    assert window.height() == min(900, int(area.height() * 0.9))
    assert "Loading" in window.hint()


def test_requests_before_the_controller_arrives_say_it_is_still_loading(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    asked: list[str] = []
    window.exportRequested.connect(asked.append)
    window.findChild(type(window.open_action), "exportDecodedAction").trigger()
    assert asked == [] and "Still loading" in window.statusBar().currentMessage()


def test_a_loaded_model_can_be_continued_from_the_panel(qtbot, opened):
    model = tiny_model(latent_dim=3)
    window, c = opened(model)
    panel = window.training_panel
    # The panel describes the model on screen and offers to continue it.
    assert "latent 3" in panel.model_description()
    assert panel.resume_check.isEnabled() and not panel.resume_check.isChecked()
    start = {k: v.clone() for k, v in model.state_dict().items()}
    _small_training(window, epochs=1)
    panel.resume_check.setChecked(True)
    assert not panel._model_group.isEnabled()   # the loaded architecture applies
    assert panel.settings().continue_training is True
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=60000)
    assert c.model.config == model.config   # same architecture: continued, not rebuilt
    trained = c.model.state_dict()
    assert any(not torch.equal(trained[k], start[k]) for k in start)


def test_a_continued_model_no_longer_claims_its_file(qtbot, opened, tmp_path):
    window, c = opened(tiny_model(latent_dim=2))
    folder = tmp_path / "digits"
    assert c.save_model(str(folder))
    assert c.model_path == str(folder) and "digits" in window.windowTitle()
    _small_training(window, epochs=1)
    window.training_panel.resume_check.setChecked(True)
    qtbot.mouseClick(window.training_panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=60000)
    # The folder still holds the old weights: a session saved now must not refer to it.
    assert c.model_path is None
    assert "digits" not in window.windowTitle() and "untitled" in window.windowTitle()


def test_continuing_is_not_offered_without_a_model(qtbot, opened):
    window, _ = opened()
    assert not window.training_panel.resume_check.isEnabled()
    assert window.training_panel.settings().continue_training is False


def test_continuing_on_other_data_is_a_clear_error(qtbot, opened):
    window, c = opened(tiny_model(latent_dim=3))
    panel = window.training_panel
    panel.resume_check.setChecked(True)
    # 32 x 32 shapes: images the 28 x 28 model cannot take.
    settings = panel.settings().with_changes(data="shapes", image_size=32, color="auto", limit=50)
    assert settings.continue_training is True
    assert not c.start_training(settings)
    assert "cannot continue" in window.findChild(QMessageBox, "errorDialog").text()
    assert not c.is_training


def test_opening_data_names_it_in_the_panel_and_the_probe_stays_in_sight(qtbot, opened, tmp_path):
    from PIL import Image

    for k in range(12):
        folder = tmp_path / "pics" / ("a" if k % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((10, 10, 3), 20 * k, np.uint8)).save(folder / f"{k}.png")
    window, c = opened()
    assert window.training_panel.settings().data == "mnist"
    window.openDataRequested.emit(str(tmp_path / "pics"))   # File ▸ Open Image Folder…
    assert c.data.name != "mnist"
    assert window.training_panel.settings().data == str(tmp_path / "pics")
    assert c.open_data(str(tmp_path / "pics"), image_size=8, color="rgb")
    # A model whose codes lie far from the origin: the probe moves to where the points are.
    torch.manual_seed(0)
    model = build_model(ModelConfig(family="ae", input_shape=(3, 8, 8), latent_dim=2, hidden=(8,))).eval()
    with torch.no_grad():
        model.encoder.body[1].bias.copy_(torch.tensor([40.0, -25.0]))
    set_model_and_wait(qtbot, c, model)
    xy = c.scene.xy
    assert np.all(np.abs(np.median(xy, axis=0) - [40.0, -25.0]) < 10)   # far from 0
    np.testing.assert_allclose(window.plane.probe_position(), np.median(xy, axis=0), atol=1e-4)
    np.testing.assert_allclose(c.probe.position, np.median(xy, axis=0), atol=1e-4)


def test_the_quality_badge_coming_and_going_leaves_the_plane_its_size(qtbot):
    # The status bar sizes itself to its widgets; a badge whose height followed its text
    # relaid the whole window (the plane included) when the first measurement arrived.
    from latentlab.gui.quality_watch import Measurement, QualityState

    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    qtbot.wait(50)
    plane, bar = window.plane.size(), window.statusBar().height()
    m = Measurement(1, 2063.0, 4, 10, 1.1, 1000)
    for state in (QualityState(active=True, points=(m,), latest=m),
                  QualityState(active=True, points=(m,), latest=m, warnings=("Few classes.",)),
                  None):
        window.quality.show_quality(state)
        qtbot.wait(50)
        assert window.quality.badge.isVisibleTo(window) == (state is not None)
        assert (window.plane.size(), window.statusBar().height()) == (plane, bar)
