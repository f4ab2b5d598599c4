"""The latent tools inside the main window: Shift+click paths, scrubbing, drops, menus,
exports and session files, driven as a user would."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from latentlab.core.checkpoint import save_model
from latentlab.gui.tools import export_dialogs
from latentlab.gui.window.main_window import MainWindow
from tests.gui.controller_support import (
    LEFT, click, decode_code, set_model_and_wait, show_region, tiny_model, wait_for_codes,
)

SHIFT = Qt.KeyboardModifier.ShiftModifier
N_ITEMS = 200


@pytest.fixture
def window(qtbot, opened):
    win, _ = opened(tiny_model(), items=N_ITEMS, size=(1100, 760))
    show_region(win, half=20.0)
    return win


def controller_of(win: MainWindow):
    from latentlab.gui.controller import AppController

    return win.findChild(AppController)


def make_path(qtbot, win: MainWindow) -> None:
    click(win, 12.0, 9.0, SHIFT)
    qtbot.waitUntil(lambda: len(win.tools.waypoints) == 1, timeout=2000)
    click(win, -10.0, -6.0, SHIFT)
    qtbot.waitUntil(lambda: len(win.tools.waypoints) == 2, timeout=2000)


def test_shift_clicks_make_a_path_drawn_on_the_plane_with_its_frames(qtbot, window):
    click(window, 5.0, 5.0)   # a plain click only moves the probe
    qtbot.wait(10)
    assert window.tools.waypoints == []
    make_path(qtbot, window)
    tools = window.tools
    np.testing.assert_allclose(tools.waypoints[0].z, [12.0, 9.0], atol=0.3)
    np.testing.assert_allclose(tools.waypoints[1].z, [-10.0, -6.0], atol=0.3)
    steps = window.interpolation.steps_spin.value()
    line_x, line_y = window.plane._path.getData()
    assert len(line_x) == steps + 2
    np.testing.assert_allclose([line_x[0], line_y[0]], tools.waypoints[0].z, atol=1e-5)
    np.testing.assert_allclose([line_x[-1], line_y[-1]], tools.waypoints[1].z, atol=1e-5)
    marks_x, _ = window.plane._waypoints.getData()
    assert len(marks_x) == 2
    assert window.interpolation.strip.count() == steps + 2
    assert "interpolation path" in window.statusBar().currentMessage()


def test_scrubbing_moves_the_probe_and_the_decoded_view(qtbot, window):
    c = controller_of(window)
    make_path(qtbot, window)
    path = window.tools.path()
    window.interpolation.scrubber.setValue(4)
    np.testing.assert_allclose(window.plane.probe_position(), path[4], atol=1e-5)
    np.testing.assert_allclose(window.decoded.current_image(), decode_code(c, path[4]), atol=1e-6)
    assert c.probe.exact
    window.interpolation.scrubber.setValue(7)
    np.testing.assert_allclose(window.decoded.current_image(), decode_code(c, path[7]), atol=1e-6)


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
    c = controller_of(window)
    digit = c.data.images[3, 0].numpy()
    file = tmp_path / "three.png"
    Image.fromarray((digit * 255).round().astype(np.uint8)).save(file)
    _drop(window, [str(file)])
    tools = window.tools
    assert [w.name for w in tools.waypoints] == ["three.png"]
    with torch.no_grad():
        mu, _ = c.model.encode(c.data.images[3:4])
    np.testing.assert_allclose(tools.waypoints[0].z, mu[0].numpy(), atol=2e-2)   # 8-bit rounding of the file


def test_dropping_a_file_that_is_no_image_shows_an_error(qtbot, window, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    _drop(window, [str(notes)])
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "errorDialog") is not None, timeout=2000)
    assert "notes.txt" in window.findChild(QMessageBox, "errorDialog").text()
    assert window.tools.waypoints == []


def test_bookmark_from_the_menu_and_jump_back(qtbot, window):
    c = controller_of(window)
    c.ask_bookmark_name = lambda _default: "corner"
    click(window, 3.0, -2.0)
    window.findChild(QAction, "bookmarkProbeAction").trigger()
    tools = window.tools
    assert [b.name for b in tools.bookmarks] == ["corner"]
    np.testing.assert_allclose(tools.bookmarks[0].z, [3.0, -2.0], atol=0.3)
    marked = window.decoded.current_image()
    click(window, -8.0, 8.0)
    assert not np.allclose(window.decoded.current_image(), marked)
    assert window.bookmarks.jump(0)
    np.testing.assert_allclose(window.plane.probe_position(), tools.bookmarks[0].z, atol=1e-5)
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
    controller_of(window).manifold.set_mode("prior")
    answers["path"] = str(tmp_path / "sheet.png")
    _trigger(window, "exportManifoldAction")
    with Image.open(answers["path"]) as img:   # 15 x 15 tiles of 28 px with 1-px gutters, doubled
        assert img.size == (2 * (15 * 28 + 14), 2 * (15 * 28 + 14))
    make_path(qtbot, window)
    frames = window.tools.frames()
    answers["path"] = str(tmp_path / "strip.png")
    _trigger(window, "exportStripAction")
    with Image.open(answers["path"]) as img:
        assert img.size == (2 * (len(frames) * 28 + len(frames) - 1), 56)


def test_export_menu_writes_animations_with_every_frame(qtbot, window, answers, tmp_path):
    make_path(qtbot, window)
    n = len(window.tools.frames())
    window.interpolation.pingpong_check.setChecked(True)
    answers["path"] = str(tmp_path / "path.gif")
    _trigger(window, "exportGifAction")
    answers["path"] = str(tmp_path / "path.png")
    _trigger(window, "exportApngAction")
    for name in ("path.gif", "path.png"):
        with Image.open(tmp_path / name) as img:
            assert img.n_frames == 2 * n - 2   # there and back, the ends not repeated


def test_export_codes_and_overwrite_is_asked(qtbot, window, answers, tmp_path):
    c = controller_of(window)
    target = tmp_path / "codes.npy"
    target.write_bytes(b"keep me")
    answers["path"] = str(target)
    _trigger(window, "exportCodesAction")
    assert answers["asked"] == [str(target)] and target.read_bytes() == b"keep me"
    answers["replace"] = True
    _trigger(window, "exportCodesAction")
    table = np.load(target, allow_pickle=False)
    assert table.shape == (N_ITEMS, 3)
    np.testing.assert_allclose(table[:, :2], c.scene.codes, atol=1e-6)
    np.testing.assert_array_equal(table[:, 2], c.data.labels.numpy())
    make_path(qtbot, window)
    answers["path"] = str(tmp_path / "path.csv")
    _trigger(window, "exportPathCodesAction")
    lines = (tmp_path / "path.csv").read_text().splitlines()
    assert len(lines) == 1 + len(window.tools.path())


@pytest.fixture
def saved_window(qtbot, window, tmp_path):
    """The window with its model saved to (and opened from) a folder."""
    c = controller_of(window)
    folder = tmp_path / "model"
    save_model(folder, c.model)
    assert c.open_model(str(folder))
    wait_for_codes(qtbot, c)
    show_region(window, half=20.0)
    return window


def _save_session(win: MainWindow, file) -> None:
    controller_of(win).ask_session_path = lambda save: str(file)
    _trigger(win, "saveSessionAction")
    assert file.exists()


def _reopen(qtbot, win: MainWindow, file, edit=None) -> None:
    if edit is not None:
        record = json.loads(file.read_text())
        edit(record)
        file.write_text(json.dumps(record))
    win.tools.reset()
    assert win.tools.bookmarks == [] and win.tools.waypoints == []
    win.ask_session_path = lambda save: str(file)
    _trigger(win, "openSessionAction")


def test_a_saved_session_restores_bookmarks_path_and_attribute(qtbot, saved_window, tmp_path):
    win = saved_window
    c = controller_of(win)
    c.ask_bookmark_name = lambda _default: "here"
    click(win, 4.0, 4.0)
    _trigger(win, "bookmarkProbeAction")
    make_path(qtbot, win)
    win.attributes.set_classes(to_class=7, from_class=1)
    win.attributes.set_amount(0.5)
    assert win.attributes.apply()
    tools = win.tools
    path_before, marks = tools.path(), [b.z.copy() for b in tools.bookmarks]
    _save_session(win, tmp_path / "explore.json")
    win.attributes.set_classes(to_class=2, from_class=None)   # the panel shows something else now
    tools.clear_attribute()
    _reopen(qtbot, win, tmp_path / "explore.json")
    assert [b.name for b in tools.bookmarks] == ["here"]
    np.testing.assert_allclose(tools.bookmarks[0].z, marks[0], atol=1e-6)
    np.testing.assert_allclose(tools.path(), path_before, atol=1e-6)
    assert len(win.plane._path.getData()[0]) == len(path_before)
    assert win.findChild(QMessageBox, "warningDialog") is None
    # The Attributes panel shows the restored vector, and Apply uses it rather than replacing it.
    a = tools.attribute
    assert (a.to_class, a.from_class, a.amount) == (7, 1, 0.5)
    assert (win.attributes.to_combo.currentData(), win.attributes.from_combo.currentData()) == (7, 1)
    assert win.attributes.amount() == 0.5
    vector = a.vector.copy()
    assert win.attributes.apply()
    assert tools.attribute.to_class == 7
    np.testing.assert_allclose(tools.attribute.vector, vector)
    # Opening the session leaves the ready hint, not a passing message.
    assert win.statusBar().currentMessage() == ""


def test_a_session_whose_model_changed_warns(qtbot, saved_window, tmp_path):
    make_path(qtbot, saved_window)
    _save_session(saved_window, tmp_path / "explore.json")
    _reopen(qtbot, saved_window, tmp_path / "explore.json", edit=lambda record: record.update(model_hash="0" * 64))
    qtbot.waitUntil(lambda: saved_window.findChild(QMessageBox, "warningDialog") is not None, timeout=2000)
    assert "changed" in saved_window.findChild(QMessageBox, "warningDialog").text()
    assert len(saved_window.tools.waypoints) == 2   # restored all the same


def test_a_session_opens_its_model_when_the_current_models_folder_is_gone(qtbot, saved_window, tmp_path):
    import shutil

    win = saved_window
    c = controller_of(win)
    make_path(qtbot, win)
    _save_session(win, tmp_path / "explore.json")
    # The current model moves to another folder, which is then deleted.
    other = tmp_path / "elsewhere"
    assert c.save_model(str(other))
    shutil.rmtree(other)
    win.tools.reset()
    win.ask_session_path = lambda save: str(tmp_path / "explore.json")
    _trigger(win, "openSessionAction")
    wait_for_codes(qtbot, c)
    assert c.model_path == str(tmp_path / "model")   # the session's own model
    assert len(win.tools.waypoints) == 2


def test_a_session_whose_model_folder_is_missing_is_not_applied_to_another_model(qtbot, saved_window, tmp_path):
    import shutil

    win = saved_window
    c = controller_of(win)
    make_path(qtbot, win)
    _save_session(win, tmp_path / "explore.json")
    shutil.rmtree(tmp_path / "model")
    # Another model of the same size is on screen: the session is offered, not forced on it.
    set_model_and_wait(qtbot, c, tiny_model(seed=9))
    questions: list[str] = []
    c.ask_yes_no = lambda _title, text: questions.append(text) or False
    _reopen(qtbot, win, tmp_path / "explore.json")
    assert len(questions) == 1 and str(tmp_path / "model") in questions[0] and "missing" in questions[0]
    assert win.tools.waypoints == [] and win.findChild(QMessageBox, "warningDialog") is None
    c.ask_yes_no = lambda _title, _text: True   # the person agrees this time
    _reopen(qtbot, win, tmp_path / "explore.json")
    assert len(win.tools.waypoints) == 2
    assert win.findChild(QMessageBox, "warningDialog") is None   # no claim that "the model has changed"
    # A model of another size cannot take the session's codes: said so, and nothing is asked.
    set_model_and_wait(qtbot, c, tiny_model(latent_dim=3))
    c.ask_yes_no = lambda *_a: pytest.fail("asked although the codes cannot fit")
    _reopen(qtbot, win, tmp_path / "explore.json")
    box = win.findChild(QMessageBox, "errorDialog")
    assert box is not None and "missing" in box.text() and str(tmp_path / "model") in box.text()
    assert win.tools.waypoints == []


def test_saving_a_session_of_an_unsaved_model_asks_to_save_it_first(qtbot, window, tmp_path):
    asked: list[bool] = []
    controller_of(window).ask_session_path = lambda save: asked.append(save) or str(tmp_path / "s.json")
    _trigger(window, "saveSessionAction")
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "errorDialog") is not None, timeout=2000)
    assert "Save Model" in window.findChild(QMessageBox, "errorDialog").text()
    assert asked == [] and not (tmp_path / "s.json").exists()


def test_data_browser_adds_the_shown_item_to_the_path(qtbot, window):
    c = controller_of(window)
    browser = window.browser
    browser.class_combo.setCurrentIndex(browser.class_combo.findData(4))
    first = browser.current_index()
    assert int(c.data.labels[first]) == 4
    browser.step(1)
    second = browser.current_index()
    assert second > first and int(c.data.labels[second]) == 4
    assert browser.add_current()
    tools = window.tools
    assert [w.name for w in tools.waypoints] == [f"item {second}"]
    np.testing.assert_allclose(tools.waypoints[0].z, c.scene.codes[second], atol=1e-5)
