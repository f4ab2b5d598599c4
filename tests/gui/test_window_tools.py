"""The latent tools inside the main window: Shift+click paths, scrubbing, drops, menus,
exports and session files, driven as a user would."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QMouseEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from latentlab.core.checkpoint import save_model
from latentlab.core.models import ModelConfig, build_model
from latentlab.gui.window import window_exports, window_tools
from latentlab.gui.window.main_window import MainWindow
from latentlab.gui.session import Session
from latentlab.gui.tools import export_dialogs

LEFT = Qt.MouseButton.LeftButton
NONE = Qt.MouseButton.NoButton
SHIFT = Qt.KeyboardModifier.ShiftModifier
N_ITEMS = 200



def tiny_model(latent_dim: int = 2, seed: int = 1):
    torch.manual_seed(seed)
    return build_model(ModelConfig(latent_dim=latent_dim, hidden=(16,))).eval()


@pytest.fixture
def window(qtbot):
    session = Session(training_threads=1)
    assert session.open_data("mnist", limit=N_ITEMS)
    win = MainWindow(session)
    qtbot.addWidget(win)
    win.resize(1100, 760)
    win.show()
    qtbot.waitExposed(win)
    with qtbot.waitSignal(session.codesChanged, timeout=10000, check_params_cb=lambda *a: session.codes is not None):
        session.set_model(tiny_model())
    qtbot.waitUntil(lambda: win.plane.point_count() == N_ITEMS, timeout=5000)
    win.plane.plotItem.vb.setRange(xRange=(-20, 20), yRange=(-20, 20), padding=0)
    QApplication.processEvents()
    yield win
    win.close()


def to_px(win: MainWindow, x: float, y: float) -> QPoint:
    view = win.plane
    return view.mapFromScene(view.plotItem.vb.mapViewToScene(QPointF(x, y)))


def click(win: MainWindow, x: float, y: float, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    viewport = win.plane.viewport()
    pos = to_px(win, x, y)
    for kind, button, buttons in ((QEvent.Type.MouseMove, NONE, NONE), (QEvent.Type.MouseButtonPress, LEFT, LEFT),
                                  (QEvent.Type.MouseButtonRelease, LEFT, NONE)):
        event = QMouseEvent(kind, QPointF(pos), QPointF(viewport.mapToGlobal(pos)), button, buttons, modifiers)
        QApplication.sendEvent(viewport, event)


def decode(win: MainWindow, z: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return win.session.model.decode_image(torch.as_tensor(z, dtype=torch.float32)[None])[0, 0].numpy()


def make_path(qtbot, win: MainWindow) -> None:
    click(win, 12.0, 9.0, SHIFT)
    qtbot.waitUntil(lambda: len(win.tools.controller.waypoints) == 1, timeout=2000)
    click(win, -10.0, -6.0, SHIFT)
    qtbot.waitUntil(lambda: len(win.tools.controller.waypoints) == 2, timeout=2000)


def test_shift_clicks_make_a_path_drawn_on_the_plane_with_its_frames(qtbot, window):
    click(window, 5.0, 5.0)   # a plain click only moves the probe
    qtbot.wait(10)
    assert window.tools.controller.waypoints == []
    make_path(qtbot, window)
    ctrl = window.tools.controller
    np.testing.assert_allclose(ctrl.waypoints[0].z, [12.0, 9.0], atol=0.3)
    np.testing.assert_allclose(ctrl.waypoints[1].z, [-10.0, -6.0], atol=0.3)
    steps = window.tools.interpolation.steps_spin.value()
    line_x, line_y = window.plane._path.getData()
    assert len(line_x) == steps + 2
    np.testing.assert_allclose([line_x[0], line_y[0]], ctrl.waypoints[0].z, atol=1e-5)
    np.testing.assert_allclose([line_x[-1], line_y[-1]], ctrl.waypoints[1].z, atol=1e-5)
    marks_x, _ = window.plane._waypoints.getData()
    assert len(marks_x) == 2
    assert window.tools.interpolation.strip.count() == steps + 2
    assert "interpolation path" in window.statusBar().currentMessage()


def test_scrubbing_moves_the_probe_and_the_decoded_view(qtbot, window):
    make_path(qtbot, window)
    path = window.tools.controller.path()
    window.tools.interpolation.scrubber.setValue(4)
    np.testing.assert_allclose(window.plane.probe_position(), path[4], atol=1e-5)
    np.testing.assert_allclose(window.decoded.current_image(), decode(window, path[4]), atol=1e-6)
    window.tools.interpolation.scrubber.setValue(7)
    np.testing.assert_allclose(window.decoded.current_image(), decode(window, path[7]), atol=1e-6)


def _drop(win: MainWindow, paths: list[str]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(p) for p in paths])
    # As a real drag does: the window accepts the drag on entering, then gets the drop.
    enter = QDragEnterEvent(QPoint(20, 20), Qt.DropAction.CopyAction, mime, LEFT, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(win, enter)
    assert enter.isAccepted()
    event = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, LEFT, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(win, event)


def test_dropping_an_image_file_on_the_window_adds_a_waypoint(qtbot, window, tmp_path):
    digit = window.session.data.images[3, 0].numpy()
    file = tmp_path / "three.png"
    Image.fromarray((digit * 255).round().astype(np.uint8)).save(file)
    _drop(window, [str(file)])
    ctrl = window.tools.controller
    assert [w.name for w in ctrl.waypoints] == ["three.png"]
    with torch.no_grad():
        mu, _ = window.session.model.encode(window.session.data.images[3:4])
    np.testing.assert_allclose(ctrl.waypoints[0].z, mu[0].numpy(), atol=2e-2)   # 8-bit rounding of the file


def test_dropping_a_file_that_is_no_image_shows_an_error(qtbot, window, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    _drop(window, [str(notes)])
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "errorDialog") is not None, timeout=2000)
    assert "notes.txt" in window.findChild(QMessageBox, "errorDialog").text()
    assert window.tools.controller.waypoints == []


def test_bookmark_from_the_menu_and_jump_back(qtbot, window, monkeypatch):
    monkeypatch.setattr(window_tools, "_ask_bookmark_name", lambda _parent, _default: "corner")
    click(window, 3.0, -2.0)
    window.findChild(QAction, "bookmarkProbeAction").trigger()
    ctrl = window.tools.controller
    assert [b.name for b in ctrl.bookmarks] == ["corner"]
    np.testing.assert_allclose(ctrl.bookmarks[0].z, [3.0, -2.0], atol=0.3)
    marked = window.decoded.current_image()
    click(window, -8.0, 8.0)
    assert not np.allclose(window.decoded.current_image(), marked)
    assert window.tools.bookmarks.jump(0)
    np.testing.assert_allclose(window.plane.probe_position(), ctrl.bookmarks[0].z, atol=1e-5)
    np.testing.assert_allclose(window.decoded.current_image(), marked, atol=1e-6)


@pytest.fixture
def answers(monkeypatch, tmp_path):
    """Export dialogs answered: options at their defaults with scale 2, files in tmp_path."""
    chosen = {"path": None, "replace": False, "asked": []}
    monkeypatch.setattr(export_dialogs, "_ask_options", lambda _p, _t, opts: dict(opts, scale=2))
    monkeypatch.setattr(export_dialogs, "_ask_save_path", lambda *_a: chosen["path"])

    def confirm(_parent, path):
        chosen["asked"].append(str(path))
        return chosen["replace"]

    monkeypatch.setattr(export_dialogs.dialogs, "confirm_overwrite", confirm)
    return chosen


def _trigger(win: MainWindow, name: str) -> None:
    win.findChild(QAction, name).trigger()


def test_export_menu_writes_images_of_the_right_size(qtbot, window, answers, tmp_path):
    answers["path"] = str(tmp_path / "decoded.png")
    _trigger(window, "exportDecodedAction")
    with Image.open(answers["path"]) as img:
        assert img.size == (56, 56)
    window.manifold.set_mode("prior")
    answers["path"] = str(tmp_path / "sheet.png")
    _trigger(window, "exportManifoldAction")
    with Image.open(answers["path"]) as img:   # 15 x 15 tiles of 28 px with 1-px gutters, doubled
        assert img.size == (2 * (15 * 28 + 14), 2 * (15 * 28 + 14))
    make_path(qtbot, window)
    frames = window.tools.controller.frames()
    answers["path"] = str(tmp_path / "strip.png")
    _trigger(window, "exportStripAction")
    with Image.open(answers["path"]) as img:
        assert img.size == (2 * (len(frames) * 28 + len(frames) - 1), 56)


def test_export_menu_writes_animations_with_every_frame(qtbot, window, answers, tmp_path):
    make_path(qtbot, window)
    n = len(window.tools.controller.frames())
    window.tools.interpolation.pingpong_check.setChecked(True)
    answers["path"] = str(tmp_path / "path.gif")
    _trigger(window, "exportGifAction")
    answers["path"] = str(tmp_path / "path.png")
    _trigger(window, "exportApngAction")
    for name in ("path.gif", "path.png"):
        with Image.open(tmp_path / name) as img:
            assert img.n_frames == 2 * n - 2   # there and back, the ends not repeated


def test_export_codes_and_overwrite_is_asked(qtbot, window, answers, tmp_path):
    target = tmp_path / "codes.npy"
    target.write_bytes(b"keep me")
    answers["path"] = str(target)
    _trigger(window, "exportCodesAction")
    assert answers["asked"] == [str(target)] and target.read_bytes() == b"keep me"
    answers["replace"] = True
    _trigger(window, "exportCodesAction")
    table = np.load(target, allow_pickle=False)
    assert table.shape == (N_ITEMS, 3)
    np.testing.assert_allclose(table[:, :2], window.session.codes, atol=1e-6)
    np.testing.assert_array_equal(table[:, 2], window.session.data.labels.numpy())
    make_path(qtbot, window)
    answers["path"] = str(tmp_path / "path.csv")
    _trigger(window, "exportPathCodesAction")
    lines = (tmp_path / "path.csv").read_text().splitlines()
    assert len(lines) == 1 + len(window.tools.controller.path())


@pytest.fixture
def saved_window(qtbot, window, tmp_path):
    """The window with its model saved to (and opened from) a folder."""
    folder = tmp_path / "model"
    save_model(folder, window.session.model)
    with qtbot.waitSignal(window.session.codesChanged, timeout=10000,
                          check_params_cb=lambda *a: window.session.codes is not None):
        assert window.open_model(str(folder))
    window.plane.plotItem.vb.setRange(xRange=(-20, 20), yRange=(-20, 20), padding=0)
    QApplication.processEvents()
    return window


def _save_and_reopen(qtbot, win: MainWindow, monkeypatch, tmp_path, edit=None) -> None:
    file = tmp_path / "explore.json"
    monkeypatch.setattr(window_exports, "_ask_session_path", lambda _p, save: str(file))
    _trigger(win, "saveSessionAction")
    assert file.exists()
    if edit is not None:
        record = json.loads(file.read_text())
        edit(record)
        file.write_text(json.dumps(record))
    win.tools.controller.reset()
    assert win.tools.controller.bookmarks == [] and win.tools.controller.waypoints == []
    _trigger(win, "openSessionAction")


def test_a_saved_session_restores_bookmarks_and_path(qtbot, saved_window, monkeypatch, tmp_path):
    win = saved_window
    monkeypatch.setattr(window_tools, "_ask_bookmark_name", lambda _parent, _default: "here")
    click(win, 4.0, 4.0)
    _trigger(win, "bookmarkProbeAction")
    make_path(qtbot, win)
    ctrl = win.tools.controller
    path_before, marks = ctrl.path(), [b.z.copy() for b in ctrl.bookmarks]
    _save_and_reopen(qtbot, win, monkeypatch, tmp_path)
    assert [b.name for b in ctrl.bookmarks] == ["here"]
    np.testing.assert_allclose(ctrl.bookmarks[0].z, marks[0], atol=1e-6)
    np.testing.assert_allclose(ctrl.path(), path_before, atol=1e-6)
    assert len(win.plane._path.getData()[0]) == len(path_before)
    assert win.findChild(QMessageBox, "warningDialog") is None


def test_a_session_whose_model_changed_warns(qtbot, saved_window, monkeypatch, tmp_path):
    make_path(qtbot, saved_window)
    _save_and_reopen(qtbot, saved_window, monkeypatch, tmp_path,
                     edit=lambda record: record.update(model_hash="0" * 64))
    qtbot.waitUntil(lambda: saved_window.findChild(QMessageBox, "warningDialog") is not None, timeout=2000)
    assert "changed" in saved_window.findChild(QMessageBox, "warningDialog").text()
    assert len(saved_window.tools.controller.waypoints) == 2   # restored all the same


def test_a_session_opens_its_model_when_the_current_models_folder_is_gone(qtbot, saved_window, monkeypatch,
                                                                          tmp_path):
    import shutil

    win = saved_window
    make_path(qtbot, win)
    file = tmp_path / "explore.json"
    monkeypatch.setattr(window_exports, "_ask_session_path", lambda _p, save: str(file))
    _trigger(win, "saveSessionAction")
    # The current model moves to another folder, which is then deleted.
    other = tmp_path / "elsewhere"
    assert win.session.save_model(str(other))
    shutil.rmtree(other)
    win.tools.controller.reset()
    with qtbot.waitSignal(win.session.codesChanged, timeout=10000,
                          check_params_cb=lambda *a: win.session.codes is not None):
        _trigger(win, "openSessionAction")
    assert win.session.model_path == str(tmp_path / "model")   # the session's own model
    assert len(win.tools.controller.waypoints) == 2


def test_saving_a_session_of_an_unsaved_model_asks_to_save_it_first(qtbot, window, monkeypatch, tmp_path):
    monkeypatch.setattr(window_exports, "_ask_session_path", lambda _p, save: str(tmp_path / "s.json"))
    _trigger(window, "saveSessionAction")
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "errorDialog") is not None, timeout=2000)
    assert "Save Model" in window.findChild(QMessageBox, "errorDialog").text()
    assert not (tmp_path / "s.json").exists()


def test_a_model_of_another_latent_size_resets_the_tools(qtbot, window):
    make_path(qtbot, window)
    assert len(window.tools.traversal.rows) == 2
    with qtbot.waitSignal(window.session.codesChanged, timeout=10000,
                          check_params_cb=lambda *a: window.session.codes is not None):
        window.session.set_model(tiny_model(latent_dim=3))
    assert window.tools.controller.waypoints == []
    assert window.plane._path.getData()[0] is None or len(window.plane._path.getData()[0]) == 0
    assert window.tools.traversal.shown_dims() == [0, 1, 2]


def test_data_browser_adds_the_shown_item_to_the_path(qtbot, window):
    browser = window.tools.browser
    browser.class_combo.setCurrentIndex(browser.class_combo.findData(4))
    first = browser.current_index()
    assert int(window.session.data.labels[first]) == 4
    browser.step(1)
    second = browser.current_index()
    assert second > first and int(window.session.data.labels[second]) == 4
    assert browser.add_current()
    ctrl = window.tools.controller
    assert [w.name for w in ctrl.waypoints] == [f"item {second}"]
    np.testing.assert_allclose(ctrl.waypoints[0].z, window.session.codes[second], atol=1e-5)
