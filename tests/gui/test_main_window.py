"""The main window driven like a user would: mouse on the plane, menus, combos, buttons."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox

from latentlab.core.models import ModelConfig, build_model
from latentlab.gui import settings as prefs
from latentlab.gui.window.main_window import MainWindow
from latentlab.gui.session import Session

LEFT = Qt.MouseButton.LeftButton
NONE = Qt.MouseButton.NoButton
N_ITEMS = 240



def tiny_model(latent_dim: int = 2, family: str = "vae", seed: int = 1):
    classes = 10 if family == "cvae" else 0
    config = ModelConfig(family=family, latent_dim=latent_dim, hidden=(16,), num_classes=classes,
                         label_names=tuple(str(k) for k in range(classes)))
    torch.manual_seed(seed)
    return build_model(config).eval()


@pytest.fixture
def make_window(qtbot):
    """Build windows that stay referenced until the test ends, then close (stopping threads)."""
    windows: list[MainWindow] = []

    def make(model=None) -> MainWindow:
        window = _build_window(qtbot, model)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()
        assert window.session.inference.isFinished() or not window.session.inference.isRunning()


def _build_window(qtbot, model=None) -> MainWindow:
    session = Session(training_threads=1)
    assert session.open_data("mnist", limit=N_ITEMS)
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.resize(1100, 700)
    window.show()
    qtbot.waitExposed(window)
    if model is not None:
        with qtbot.waitSignal(session.codesChanged, timeout=10000,
                              check_params_cb=lambda *a: session.codes is not None):
            session.set_model(model)
        qtbot.waitUntil(lambda: window.plane.point_count() == N_ITEMS, timeout=5000)
    return window


def show_region(window: MainWindow, half: float = 3.0) -> None:
    window.plane.plotItem.vb.setRange(xRange=(-half, half), yRange=(-half, half), padding=0)
    QApplication.processEvents()


def to_px(window: MainWindow, x: float, y: float) -> QPoint:
    view = window.plane
    return view.mapFromScene(view.plotItem.vb.mapViewToScene(QPointF(x, y)))


def send(window: MainWindow, kind: QEvent.Type, pos: QPoint, button, buttons) -> None:
    viewport = window.plane.viewport()
    event = QMouseEvent(kind, QPointF(pos), QPointF(viewport.mapToGlobal(pos)), button, buttons,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, event)


def drag(window: MainWindow, path: list[QPoint]) -> None:
    send(window, QEvent.Type.MouseMove, path[0], NONE, NONE)
    send(window, QEvent.Type.MouseButtonPress, path[0], LEFT, LEFT)
    for pos in path[1:]:
        send(window, QEvent.Type.MouseMove, pos, NONE, LEFT)
    send(window, QEvent.Type.MouseButtonRelease, path[-1], LEFT, NONE)


def expected_decode(window: MainWindow, x: float, y: float) -> np.ndarray:
    session = window.session
    z = torch.from_numpy(session.plane.lift(torch.tensor([[x, y]])).numpy())
    label = None
    if session.config.is_conditional:
        label = torch.tensor([session.condition])
    with torch.no_grad():
        return session.model.decode_image(z, label)[0, 0].numpy()


def test_dragging_the_probe_decodes_where_it_is_released(qtbot, make_window):
    window = make_window(tiny_model())
    show_region(window)
    window.plane.set_probe(0.0, 0.0)
    window.decode_probe()
    start_image = window.decoded.current_image()
    start = to_px(window, 0.0, 0.0)
    path = [start + QPoint(dx, dy) for dx, dy in ((0, 0), (15, -5), (40, -30), (90, -60), (120, -80))]
    drag(window, path)
    x, y = window.plane.probe_position()
    assert x > 0.5 and y > 0.5   # the probe followed the mouse up and to the right
    np.testing.assert_allclose(window.decoded.current_image(), expected_decode(window, x, y), atol=1e-6)
    assert not np.allclose(window.decoded.current_image(), start_image)
    np.testing.assert_allclose(window.zbars.z(), [x, y], atol=1e-5)


def test_drag_decodes_at_most_once_per_frame(qtbot, make_window):
    window = make_window(tiny_model())
    show_region(window)
    window.plane.set_probe(0.0, 0.0)
    calls: list[tuple[float, float]] = []
    original = window.session.decode_at
    window.session.decode_at = lambda x, y: (calls.append((x, y)), original(x, y))[1]
    start = to_px(window, 0.0, 0.0)
    moves = [start + QPoint(3 * k, -2 * k) for k in range(40)]
    send(window, QEvent.Type.MouseMove, moves[0], NONE, NONE)
    send(window, QEvent.Type.MouseButtonPress, moves[0], LEFT, LEFT)
    for pos in moves[1:]:
        send(window, QEvent.Type.MouseMove, pos, NONE, LEFT)
    # Forty moves delivered back to back: the frame timer has not fired yet.
    assert calls == []
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=2000)
    assert calls[0] == pytest.approx(window.plane.probe_position())   # the last position won
    send(window, QEvent.Type.MouseButtonRelease, moves[-1], LEFT, NONE)
    assert len(calls) == 2   # the release decodes at once


def test_click_on_an_empty_spot_moves_the_probe_and_decodes(qtbot, make_window):
    window = make_window(tiny_model())
    show_region(window, half=20.0)   # codes of an untrained model sit near 0: the corner is empty
    window.plane.set_probe(0.0, 0.0)
    window.decode_probe()
    before = window.decoded.current_image()
    drag(window, [to_px(window, 15.0, -12.0)])
    x, y = window.plane.probe_position()
    assert x == pytest.approx(15.0, abs=0.3) and y == pytest.approx(-12.0, abs=0.3)
    np.testing.assert_allclose(window.decoded.current_image(), expected_decode(window, x, y), atol=1e-6)
    assert not np.allclose(window.decoded.current_image(), before)


def test_clicking_a_point_selects_it_and_decodes_its_code(qtbot, make_window):
    window = make_window(tiny_model())
    session = window.session
    show_region(window, half=float(np.abs(session.xy).max()) * 1.2)
    index = int(np.argmax(np.linalg.norm(session.xy - session.xy.mean(axis=0), axis=1)))  # an outlier: alone
    drag(window, [to_px(window, *session.xy[index])])
    assert session.selected[-1] == index
    np.testing.assert_allclose(window.plane.probe_position(), session.xy[index], atol=1e-5)
    np.testing.assert_allclose(window.decoded.current_image(),
                               expected_decode(window, *session.xy[index]), atol=1e-6)


def test_bad_model_file_shows_an_error_and_the_app_keeps_working(qtbot, make_window, tmp_path):
    window = make_window(tiny_model())
    bad = tmp_path / "broken-model"
    bad.mkdir()
    (bad / "config.json").write_text("{}")
    assert not window.open_model(str(bad))
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "errorDialog") is not None, timeout=2000)
    box = window.findChild(QMessageBox, "errorDialog")
    assert "broken-model" in box.text()
    box.accept()
    assert prefs.recent_models() == []   # a failed open is not remembered
    window.decode_probe_at(1.0, 1.0)
    np.testing.assert_allclose(window.decoded.current_image(), expected_decode(window, 1.0, 1.0), atol=1e-6)


def test_condition_selector_switches_the_class_under_the_same_z(qtbot, make_window):
    window = make_window(tiny_model(family="cvae"))
    combo = window.findChild(type(window.side.condition), "conditionSelector")
    assert combo.isVisible() and combo.count() == 10
    window.plane.set_probe(0.5, -0.5)
    combo.setCurrentIndex(0)
    window.decode_probe()
    zero = window.decoded.current_image()
    combo.setCurrentIndex(8)
    assert window.session.condition == 8
    eight = window.decoded.current_image()
    np.testing.assert_allclose(eight, expected_decode(window, 0.5, -0.5), atol=1e-6)
    assert not np.allclose(zero, eight)
    np.testing.assert_allclose(window.zbars.z(), [0.5, -0.5], atol=1e-6)


def test_plane_chooser_changes_the_projection(qtbot, make_window):
    window = make_window(tiny_model(latent_dim=4))
    side = window.side
    assert side.plane_kind.isVisible() and not window.findChild(type(side.condition), "conditionSelector").isVisible()
    pca_xy = window.session.xy.copy()
    side.plane_kind.setCurrentIndex(side.plane_kind.findData("dims"))
    side.dim_x.setValue(2)
    side.dim_y.setValue(3)
    codes = window.session.codes
    np.testing.assert_allclose(window.session.xy, codes[:, [2, 3]], atol=1e-6)
    shown_x, shown_y = window.plane._points.getData()
    np.testing.assert_allclose(np.c_[shown_x, shown_y], codes[:, [2, 3]], atol=1e-5)
    assert not np.allclose(pca_xy, window.session.xy)
    assert window.zbars.highlight() == (2, 3)


def test_manifold_draws_decoded_tiles_over_the_visible_region(qtbot, make_window):
    window = make_window(tiny_model())
    show_region(window, half=2.0)
    window.manifold_action.trigger()
    assert window.manifold_action.isChecked()
    qtbot.waitUntil(lambda: window.plane.mosaic_item().isVisible(), timeout=5000)
    x0, y0, w, h = window.manifold.last_rect
    assert (x0, y0, w, h) == pytest.approx(window.plane.visible_rect())
    mosaic = window.plane.mosaic_item().image
    assert mosaic.shape[0] % 28 == 0 and mosaic.shape[1] % 28 == 0
    window.manifold_action.trigger()
    assert not window.plane.mosaic_item().isVisible()


def test_layout_and_training_settings_are_remembered(qtbot, make_window):
    window = make_window()
    window.training_panel.epochs_spin.setValue(7)
    prefs.save_training_settings(window.training_panel.settings())
    window.loss_dock.hide()
    window.close()
    again = make_window()
    assert again.training_panel.epochs_spin.value() == 7
    assert again.loss_dock.isHidden()


def _small_training(window: MainWindow, epochs: int) -> None:
    panel = window.training_panel
    panel.epochs_spin.setValue(epochs)
    panel.batch_spin.setValue(32)
    panel.latent_spin.setValue(2)


def test_training_from_the_panel_updates_scatter_and_loss_curves(qtbot, make_window):
    window = make_window()
    session = window.session
    _small_training(window, epochs=2)
    button = window.findChild(type(window.training_panel.start_button), "startTrainingButton")
    with qtbot.waitSignal(session.trainingFinished, timeout=60000) as blocker:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert window.training_panel.state() == "running"
    assert blocker.args[0].status == "finished"
    qtbot.waitUntil(lambda: window.training_panel.state() == "idle", timeout=5000)
    assert session._trainer is None   # the worker finished and was let go
    x_train, y_train = window.loss_plot.series("train/loss")
    x_val, _ = window.loss_plot.series("val/loss")
    assert len(x_train) >= 2 and np.all(np.isfinite(y_train))
    np.testing.assert_allclose(x_val, [1.0, 2.0])
    # The scatter shows the trained model's codes.
    with torch.no_grad():
        mu, _ = session.model.encode(session.data.images)
    qtbot.waitUntil(lambda: session.xy is not None and np.allclose(session.xy, mu.numpy(), atol=1e-4),
                    timeout=10000)
    shown_x, shown_y = window.plane._points.getData()
    np.testing.assert_allclose(np.c_[shown_x, shown_y], mu.numpy(), atol=1e-4)
    # The probe shows the trained decoder.
    x, y = window.plane.probe_position()
    np.testing.assert_allclose(window.decoded.current_image(), expected_decode(window, x, y), atol=1e-6)


def test_stop_button_ends_training_and_returns_to_idle(qtbot, make_window):
    window = make_window()
    _small_training(window, epochs=200)
    with qtbot.waitSignal(window.session.trainingProgress, timeout=30000):
        qtbot.mouseClick(window.training_panel.start_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(window.session.trainingFinished, timeout=30000) as blocker:
        qtbot.mouseClick(window.training_panel.stop_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].status == "cancelled"
    qtbot.waitUntil(lambda: window.training_panel.state() == "idle", timeout=5000)
    assert window.open_action.isEnabled()


def test_closing_the_window_mid_run_stops_every_thread(qtbot, make_window):
    window = make_window()
    _small_training(window, epochs=200)
    with qtbot.waitSignal(window.session.trainingProgress, timeout=30000):
        qtbot.mouseClick(window.training_panel.start_button, Qt.MouseButton.LeftButton)
    trainer = window.session._trainer
    window.close()
    assert window.shutdown_clean   # every thread ended within the bounded wait
    assert not trainer.isRunning() and not window.session.inference.isRunning()
    assert not window.session.is_training


def test_manifold_over_the_prior_tiles_equal_probability_steps(qtbot, make_window):
    window = make_window(tiny_model())
    window.prior_action.trigger()
    assert window.manifold_action.isChecked()
    qtbot.waitUntil(lambda: window.manifold.last_rect is not None
                    and window.plane.mosaic_item().isVisible(), timeout=5000)
    x0, y0, w, h = window.manifold.last_rect
    # 15 cells centred on the prior's 1/30 ... 29/30 quantiles: symmetric about 0.
    assert x0 == pytest.approx(-(x0 + w)) and y0 == pytest.approx(-(y0 + h))
    assert window.plane.mosaic_item().image.shape[:2] == (15 * 28, 15 * 28)


def test_opened_models_are_listed_under_recent_models(qtbot, make_window, tmp_path):
    from latentlab.core.checkpoint import save_model

    window = make_window()
    folder = tmp_path / "recent-one"
    save_model(folder, tiny_model())
    assert window.open_model(str(folder))
    assert "recent-one" in window.windowTitle()
    titles = [a.text() for a in window.recent_menu.actions()]
    assert titles == ["recent-one"]
    assert prefs.recent_models() == [str(folder)]


def test_status_bar_shows_the_hint_when_ready_and_drops_stale_hover_text(qtbot, make_window):
    from latentlab.gui.window.main_window import READY_HINT

    window = make_window(tiny_model())
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


def test_a_loaded_model_can_be_continued_from_the_panel(qtbot, make_window):
    model = tiny_model(latent_dim=3)
    window = make_window(model)
    panel, session = window.training_panel, window.session
    # The panel describes the model on screen and offers to continue it.
    assert "latent 3" in panel.model_description()
    assert panel.resume_check.isEnabled() and not panel.resume_check.isChecked()
    start = {k: v.clone() for k, v in model.state_dict().items()}
    _small_training(window, epochs=1)
    panel.resume_check.setChecked(True)
    assert not panel._model_group.isEnabled()   # the loaded architecture applies
    assert panel.settings()["resume"] is True
    with qtbot.waitSignal(session.trainingFinished, timeout=60000) as blocker:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    result = blocker.args[0]
    assert result.status == "finished"
    assert result.model.config == model.config   # same architecture: continued, not rebuilt
    trained = result.model.state_dict()
    assert any(not torch.equal(trained[k], start[k]) for k in start)


def test_a_continued_model_no_longer_claims_its_file(qtbot, make_window, tmp_path):
    window = make_window(tiny_model(latent_dim=2))
    session = window.session
    folder = tmp_path / "digits"
    assert session.save_model(str(folder))
    assert session.model_path == str(folder) and "digits" in window.windowTitle()
    _small_training(window, epochs=1)
    window.training_panel.resume_check.setChecked(True)
    with qtbot.waitSignal(session.trainingFinished, timeout=60000):
        qtbot.mouseClick(window.training_panel.start_button, Qt.MouseButton.LeftButton)
    # The folder still holds the old weights: a session saved now must not refer to it.
    assert session.model_path is None
    assert "digits" not in window.windowTitle() and "untitled" in window.windowTitle()


def test_continuing_is_not_offered_without_a_model(qtbot, make_window):
    window = make_window()
    assert not window.training_panel.resume_check.isEnabled()
    assert "resume" not in window.training_panel.settings()


def test_continuing_on_other_data_is_a_clear_error(qtbot, make_window):
    window = make_window(tiny_model(latent_dim=3))
    panel = window.training_panel
    panel.resume_check.setChecked(True)
    settings = panel.settings()
    # 32 x 32 shapes: images the 28 x 28 model cannot take.
    settings["data"] = {"spec": "shapes", "image_size": 32, "color": "auto", "limit": 50}
    errors: list = []
    window.session.errorOccurred.connect(lambda *a: errors.append(a))
    assert not window.session.start_training(settings)
    assert errors and "cannot continue" in errors[0][1]
    assert not window.session.is_training


def test_the_panel_names_the_data_set_on_screen_and_the_probe_stays_in_sight(qtbot, make_window, tmp_path):
    from PIL import Image

    for k in range(12):
        folder = tmp_path / "pics" / ("a" if k % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((10, 10, 3), 20 * k, np.uint8)).save(folder / f"{k}.png")
    window = make_window()
    session = window.session
    assert window.training_panel.settings()["data"]["spec"] == "mnist"
    assert session.open_data(str(tmp_path / "pics"), image_size=8, color="rgb")
    data = window.training_panel.settings()["data"]
    assert data["spec"] == str(tmp_path / "pics") and data["image_size"] == 8 and data["color"] == "rgb"
    # A model whose codes lie far from the origin: the probe moves to where the points are.
    torch.manual_seed(0)
    model = build_model(ModelConfig(family="ae", input_shape=(3, 8, 8), latent_dim=2, hidden=(8,))).eval()
    with torch.no_grad():
        model.encoder.body[1].bias.copy_(torch.tensor([40.0, -25.0]))
    with qtbot.waitSignal(session.codesChanged, timeout=10000, check_params_cb=lambda *a: session.codes is not None):
        session.set_model(model)
    qtbot.waitUntil(lambda: window.plane.point_count() == 12, timeout=5000)
    assert np.all(np.abs(np.median(session.xy, axis=0) - [40.0, -25.0]) < 10)   # far from 0
    np.testing.assert_allclose(window.plane.probe_position(), np.median(session.xy, axis=0), atol=1e-4)
